/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builder runtime: the embedded container runtime every RUN step goes
 * through (user, mount, pid, ipc, uts and optionally network and cgroup
 * namespaces, ID maps, mounts, pivot_root, capabilities, seccomp, SELinux
 * labels, reaping, signals), and the environment probe `nib info` prints.
 *
 * Ownership records in single-UID mode
 * ------------------------------------
 * With one mapped UID the kernel refuses chown to any other ID and mknod of
 * devices. Under --idmap single the runtime makes those calls succeed
 * without effect and a supervisor in nib records what was asked in the
 * ownership record user.containers.override_stat (its format and its one
 * codec: storage/storage.h, stg_override_parse and stg_override_format). A
 * record of type char-* or block-* sits on an empty regular file standing in
 * for the device node (mknod of a device in single-UID mode creates that
 * placeholder). The record's MODE is kept in step with later chmod calls, so
 * a reader takes owner, mode and type from the record when there is one and
 * from the inode otherwise. Symlinks cannot carry user.* xattrs: the owner of
 * a symlink is recorded on its folder (storage.h, user.nib.link.NAME).
 * The set*id/get*id families are emulated per process (seccomp_creds.c),
 * so APT, su and setpriv see the IDs they switched to; files created
 * meanwhile still belong to 0.
 */
#ifndef NIB_BUILDER_RUNTIME_H
#define NIB_BUILDER_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/common.h"

/* How container IDs map to host IDs. */
enum bld_idmap {
	BLD_IDMAP_AUTO = 0, /* subuid when it works, else single (host when root) */
	BLD_IDMAP_SUBUID,   /* 0 -> caller, 1..N -> the caller's /etc/subuid ranges */
	BLD_IDMAP_SINGLE,   /* only 0 -> caller; setgroups denied; ownership emulated */
	BLD_IDMAP_HOST,	    /* root: every ID this namespace has, as it is (real root:
			     * the full range; a user-namespaced pod: its 65,536) */
	/* no user namespace can be made here (containerd's and current
	 * CRI-O's RuntimeDefault seccomp profiles): files belong to the
	 * caller, container 0 is the caller on disk, every other owner is
	 * kept in ownership records; steps that need no namespace work, RUN
	 * does not */
	BLD_IDMAP_NONE,
};
/* "auto", "subuid", "single", "host", "none" -> enum; -1 when unknown. */
int bld_idmap_parse(const char *s);
const char *bld_idmap_name(enum bld_idmap m);

enum bld_network {
	BLD_NET_HOST = 0, /* the caller's network namespace */
	BLD_NET_NONE,	  /* a new network namespace with only lo, up */
	/* a new network namespace with a user-space network (slirp4netns):
	 * the outside, not the host's loopback or abstract sockets */
	BLD_NET_PRIVATE,
	BLD_NET_AUTO, /* private where a user-space network can run, else host */
};
/* Whether a private network can be made here (slirp4netns, /dev/net/tun);
 * false with the reason. */
bool bld_slirp_usable(char **why);

/* How a run is kept apart from the host. */
enum bld_isolation {
	BLD_ISOLATION_AUTO = 0,	  /* namespaces (the environment ladder's choice) */
	BLD_ISOLATION_NAMESPACES, /* user, mount, pid... namespaces over the rootfs */
	BLD_ISOLATION_PTRACE,	  /* no namespace: nib traces the process tree and
				   * translates its paths (builder/ptrace.h); not a
				   * security boundary */
};
/* "auto", "namespaces", "ptrace" -> enum; -1 when unknown. */
int bld_isolation_parse(const char *s);
const char *bld_isolation_name(enum bld_isolation i);

enum bld_mount_type { BLD_MOUNT_BIND = 0, BLD_MOUNT_TMPFS };

/* One extra mount requested by the caller (nib run --mount, RUN --mount). */
struct bld_mount {
	enum bld_mount_type type;
	const char *src; /* host path (bind only) */
	const char *dst; /* path inside the container, resolved inside the rootfs */
	bool ro;
};
/* Parse "type=bind,src=S,dst=D[,ro]" or "type=tmpfs,dst=D" (also source=,
 * target=, destination=, readonly). The strings point into `spec`, which
 * is modified. */
int bld_mount_parse(char *spec, struct bld_mount *m, struct nib_error *err);

enum bld_stream { BLD_STREAM_STDOUT = 1, BLD_STREAM_STDERR = 2 };
/* Called with each complete output line (without its newline; a last
 * unterminated line is passed too). */
typedef void (*bld_line_fn)(void *ctx, enum bld_stream stream, const char *line, size_t len);

/* A RUN step's resource limits (0: none): processes of the step, and
 * memory in bytes. Through a delegated cgroup v2 subtree when nib may
 * write one (pids.max, memory.max of a cgroup per step), else rlimits in
 * the step (RLIMIT_NPROC of its user, RLIMIT_DATA of each process). */
struct bld_limits {
	uint64_t pids;
	uint64_t memory;
};
/* The defaults: 4096 processes, three quarters of the machine's memory. */
void bld_limits_default(struct bld_limits *l);
/* Parse `--memory` (a size: 512m, 4g, bytes; 0: none) or `--pids-limit`
 * (a number; 0 or -1: none) into `l`; a usage error otherwise. */
int bld_limits_parse(const char *opt, const char *val, struct bld_limits *l, struct nib_error *err);
/* Lower the rlimit `resource` to `v` (0: leave it; a lower limit stays);
 * -1 with errno. */
int bld_rlimit_lower(int resource, uint64_t v);
/* How limits apply here, for nib info: "cgroup v2 under DIR (...)" or
 * "rlimits (...): why not cgroups". */
char *bld_limits_how(const struct bld_limits *l);

/* One container run. Fill with bld_run_spec_init() then set fields. */
struct bld_run_spec {
	const char *rootfs;   /* the root folder; writes land in it */
	char *const *argv;    /* command and arguments (argv[0] searched in PATH) */
	char *const *env;     /* NULL-terminated "K=V" list, or NULL */
	const char *user;     /* "name", "uid", "name:group", "uid:gid"; NULL = root */
	const char *workdir;  /* created when missing; NULL = "/" */
	const char *hostname; /* NULL = "nib" */
	const struct bld_mount *mounts;
	size_t n_mounts;
	enum bld_network network;
	enum bld_idmap idmap;
	enum bld_isolation isolation;
	char *const *cap_add;  /* NULL-terminated names ("NET_ADMIN", "CAP_NET_RAW", "ALL") */
	char *const *cap_drop; /* NULL-terminated names */
	unsigned timeout;      /* seconds; 0 = none */
	struct bld_limits limits;
	int stdin_fd;	     /* -1: /dev/null */
	int stdout_fd;	     /* -1: nib's stdout; ignored when on_line is set */
	int stderr_fd;	     /* -1: nib's stderr; ignored when on_line is set */
	bld_line_fn on_line; /* stream output line by line instead of through fds */
	void *line_ctx;
	/* Called in the container's user and mount namespaces before the
	 * rootfs is bound and pivoted into (the builder mounts an overlay on
	 * `rootfs` here); NULL: nothing. An error ends the run like any other
	 * setup error. */
	int (*rootfs_setup)(void *ctx, struct nib_error *err);
	void *rootfs_setup_ctx;
	/* set everything up as for argv, seccomp filter included, then end
	 * with status 0 instead of the exec (nib info's RUN probe) */
	bool dry_run;
};
void bld_run_spec_init(struct bld_run_spec *spec);

struct bld_run_result {
	int exit_code;	/* the command's exit status (0..255) when it exited */
	int signal;	/* the signal that ended it, else 0 */
	bool timed_out; /* killed because spec->timeout passed */
	/* a limit was reached (known where they are cgroup limits) */
	bool pids_limit_hit, memory_limit_hit;
	bool interrupted;     /* killed because nib got SIGINT/SIGTERM/SIGHUP */
	enum bld_idmap idmap; /* the ID map actually used */
	/* Paths (relative to the rootfs, cleaned, no leading "/") the runtime
	 * created as mount targets because the image lacked them. They are
	 * removed again after the run when still empty (and their folder's
	 * times restored); the layer diff must ignore them either way. */
	struct nib_strv created;
};
void bld_run_result_free(struct bld_run_result *r);
/* Why a run ended as it did, for its error (", killed after
 * its timeout of 10s", ", it reached its memory limit of 64 MiB"), or "". */
char *bld_run_result_why(const struct bld_run_spec *spec, const struct bld_run_result *res);

/*
 * Run spec->argv in a new container over spec->rootfs and wait for it.
 * Returns 0 when the command ran (whatever its status: see `res`), -1 with
 * `err` set when the container could not be set up; an error in the
 * container before exec arrives as one line naming the step
 * ("mount /proc: Operation not permitted", "exec foo: No such file or
 * directory"). When it returns, nothing of the run is left running or
 * mounted.
 */
int bld_runtime_run(const struct bld_run_spec *spec, struct bld_run_result *res,
		    struct nib_error *err);

/* 0 when RUN can work here with `idmap` (auto: whatever auto picks) and
 * `isolation` (auto: namespaces, else ptrace where no user namespace can be
 * made); else -1 with one line naming the refused call, its cause and the
 * ways out.
 * Cheap (one throw-away child per process): builds ask it before their
 * first step. */
int bld_runtime_usable(enum bld_idmap idmap, enum bld_isolation isolation, struct nib_error *err);

/*
 * The same run without any namespace (--isolation ptrace): for pods whose
 * seccomp profile refuses user namespaces. nib traces the command's
 * process tree and translates every path it names into the rootfs;
 * /proc, /sys and the usual /dev nodes are the pod's own. Refuses
 * --network none (no network namespace can be made) and --idmap subuid.
 * As root the command is root; otherwise ownership and credentials are
 * emulated as with --idmap single. Not a security boundary: a traced
 * process can change a path between nib's check and the kernel's use.
 */
int bld_ptrace_run(const struct bld_run_spec *spec, struct bld_run_result *res,
		   struct nib_error *err);
/* Whether the ptrace isolation works here: a child is traced through one
 * seccomp stop, as a run would be. 0, or -1 with the call that was refused
 * in `why` ("ptrace: Operation not permitted"). For nib info and the
 * environment ladder. */
int bld_ptrace_probe(struct nib_error *why);

/* ---- environment probe (nib info) --------------------------------------- */

/* One probed capability: a key, whether it is available, what was seen,
 * and an actionable sentence when it is missing. */
struct bld_probe_item {
	const char *key;   /* JSON key: "user_namespaces" */
	const char *label; /* text label: "user namespaces" */
	bool ok;
	char *detail;
	char *advice; /* NULL when ok or nothing to do */
};

struct bld_probe {
	struct bld_probe_item items[24];
	size_t n;
	/* What nib will use here. */
	enum bld_idmap idmap;
	char *idmap_why;     /* why auto picks that map */
	const char *proc;    /* "fresh" or "bind" */
	const char *sys;     /* "fresh" (with --network none) / "bind" */
	const char *storage; /* "overlay", "fuse-overlayfs" or "vfs" */
	const char *network; /* default network mode */
	char *storage_root;  /* where the overlay probe ran */
};

/* Probe this environment. `root` is the storage root (NULL: $NIB_ROOT,
 * $XDG_DATA_HOME/nib, ~/.local/share/nib). Never fails: what cannot be
 * probed is reported as missing with the reason. */
void bld_runtime_probe(const char *root, struct bld_probe *p);
void bld_probe_free(struct bld_probe *p);

/* The rootfs's mount points that must not be symlinks, and the refusal:
 * runc's fix for CVE-2023-28642 (a mount on a symlink follows it, so that
 * /proc could land where no security label or mask expects it). */
#define BLD_NO_SYMLINK_MOUNTS                                                                      \
	{                                                                                          \
		"proc", "dev", "sys"                                                               \
	}
#define BLD_SYMLINK_MOUNT_FMT                                                                      \
	"the image's /%s is a symlink: refused, as runc refuses it (a mount there would "          \
	"follow it: CVE-2023-28642)"
/* The first of them that is a symlink in the folder `rootfd`, or NULL. */
const char *bld_rootfs_symlinked_mount(int rootfd);

/* ---- internal: shared by builder/runtime*.c, idmap*.c, seccomp*.c ------- */
#ifdef BLD_RUNTIME_INTERNAL

#include <stdint.h>
#include <time.h>

#define BLD_IDMAP_MAX_RANGES 16

struct bld_idmap_range {
	uint32_t inside, outside, count;
};

/* An ID map chosen for one run. */
struct bld_idmap_ctx {
	enum bld_idmap mode;
	uid_t uid; /* the caller's effective IDs */
	gid_t gid;
	struct bld_idmap_range uids[BLD_IDMAP_MAX_RANGES], gids[BLD_IDMAP_MAX_RANGES];
	size_t n_uids, n_gids;
	bool setgroups; /* setgroups(2) allowed inside */
};

/* An ID-map mode: probe says whether this environment allows it (and fills
 * the ranges), apply writes the maps of the child `pid` from the parent. */
struct bld_idmap_backend {
	enum bld_idmap mode;
	const char *name;
	int (*probe)(struct bld_idmap_ctx *ctx, struct nib_error *why);
	int (*apply)(const struct bld_idmap_ctx *ctx, pid_t pid, struct nib_error *err);
};

const struct bld_idmap_backend *bld_idmap_backend_get(enum bld_idmap mode);
/* Resolve `want` (auto included) to a working backend; for auto, `why`
 * (may be NULL) gets the reason a better mode was not taken. */
int bld_idmap_choose(enum bld_idmap want, struct bld_idmap_ctx *ctx, char **why,
		     struct nib_error *err);
/* 0 when an unprivileged user namespace can be made here (tried once per
 * process in a throw-away child); else -1 with the refused call and its
 * cause (seccomp profile, sysctl, kernel) in `why`. */
int bld_userns_probe(struct nib_error *why);
/* 0 when a child user namespace can map the caller's root with `ctx`;
 * root of a user-namespaced pod needs CAP_SETFCAP for it. */
int bld_idmap_can_map_root(const struct bld_idmap_ctx *ctx, struct nib_error *err);
/* Whether the map is real root's: 0 -> 0 over every ID. */
bool bld_idmap_full(const struct bld_idmap_ctx *ctx);
bool bld_idmap_uid_mapped(const struct bld_idmap_ctx *ctx, uint32_t id);
bool bld_idmap_gid_mapped(const struct bld_idmap_ctx *ctx, uint32_t id);
/* "400000:65536,500000:10" of the caller's subordinate UIDs, or NULL. */
char *bld_idmap_subuid_describe(void);

/* Build and load the container seccomp filter into the calling process
 * (no_new_privs must be set). With `emulate_owner`, chown/mknod-of-device
 * /chmod go to a user-notification listener returned in *notify_fd, and
 * set*id/setgroups/capset succeed without effect. */
int bld_seccomp_load(bool emulate_owner, int *notify_fd, struct nib_error *err);
/* Write the filter bld_seccomp_load would load, as raw BPF (struct
 * sock_filter[]), to `fd`: the build compiles it once into nib. */
int bld_seccomp_export(bool emulate_owner, int fd, struct nib_error *err);
/* A BPF program: `len` struct sock_filter at `insns`. */
struct bld_seccomp_bpf {
	const void *insns;
	size_t len;
};
/* Forget the emulated process credentials (one table per run). */
void bld_creds_reset(void);
struct seccomp_notif;
struct seccomp_notif_resp;
/* Answer a credential call (set*id, get*id, setgroups, getgroups) from
 * the emulated credentials in `resp`; 0 when `name` is not one. */
int bld_creds_handle(const char *name, const struct seccomp_notif *req,
		     struct seccomp_notif_resp *resp);
/* Whether the kernel and libseccomp support user notification. */
bool bld_seccomp_notify_supported(void);
/* Ask the kernel to run the supervisor of `notify_fd` on the CPU of the
 * calling process and back (Linux 6.6; a no-op before). */
void bld_seccomp_supervise_init(int notify_fd);
/* Receive and answer one notification on `notify_fd` (the supervisor side
 * of single-UID ownership emulation). Returns -1 only when the listener is
 * gone. */
int bld_seccomp_supervise_one(int notify_fd, struct nib_error *err);
/* Answer `req` as the supervisor would, with no listener: for the ptrace
 * executor, whose caller is stopped until answered (no liveness check) and
 * not in a user namespace (`map_ids`: stat answers report the caller's
 * own IDs as 0 and others as 65534 even for files without a record). */
void bld_seccomp_answer(const struct seccomp_notif *req, struct seccomp_notif_resp *resp,
			bool map_ids);
/* Start every process's credentials at root (0) rather than at what the
 * kernel reports: the ptrace executor's processes are not in a user
 * namespace. Takes effect at the next bld_creds_reset(). */
void bld_creds_start_as_root(bool yes);

/* Messages on the sync socket (SOCK_SEQPACKET; first byte is the type). */
enum {
	BLD_MSG_GO = 'G',	  /* parent -> child: ID maps written */
	BLD_MSG_ERROR = 'E',	  /* child -> parent: one-line setup error */
	BLD_MSG_CREATED = 'C',	  /* child -> parent: struct bld_msg_created */
	BLD_MSG_NOTIFY = 'F',	  /* child -> parent: seccomp listener (SCM_RIGHTS) */
	BLD_MSG_STATUS = 'S',	  /* pid 1 -> parent: the command's wait status */
	BLD_MSG_PROC_BOUND = 'P', /* child -> parent: a fresh /proc was refused */
};

/* A mount target the runtime created, and its folder's times before. */
struct bld_msg_created {
	char type;
	struct timespec times[2];
	char path[4096];
};

/* The files nib generates for every run, in bld_rt.etc_files order. */
#define BLD_ETC_FILES                                                                              \
	{                                                                                          \
		"resolv.conf", "hosts", "hostname"                                                 \
	}

/* Everything the container side needs, prepared by the parent. */
struct bld_rt {
	const struct bld_run_spec *spec;
	struct bld_idmap_ctx idmap;
	int sync_fd;	    /* child end of the sync socket */
	int out_fd, err_fd; /* -1: inherited */
	/* contents of /etc/resolv.conf, hosts, hostname (BLD_ETC_FILES order),
	 * written to the container's /dev tmpfs and bound over the image's */
	char *etc_files[3];
	bool netns;
	enum bld_network network; /* host, none or private: auto decided */
	bool proc_bind;		  /* a fresh /proc was refused before: bind at once */
	uint64_t caps;		  /* capability mask of the command */
	char *selinux_label;	  /* exec label, or NULL */
	char *selinux_mount;	  /* context= mount option value, or NULL */
	char *cgroup;		  /* the step's cgroup, or NULL: rlimits */
};

/* A cgroup for one step with its limits (NULL: none can be made here; the
 * step sets rlimits), the step's pid 1 moved into it before it runs, and
 * what it reached read when the step is over (the folder removed). */
char *bld_cgroup_step_new(const struct bld_limits *l);
int bld_cgroup_step_enter(const char *step, pid_t pid);
void bld_cgroup_step_end(char *step, struct bld_run_result *res);

/* slirp4netns serving a step's network namespace (builder/slirp.c):
 * started once pid 1's ID map is written and before it goes on; it ends
 * when stopped (its exit fd closed). */
struct bld_slirp {
	pid_t pid;
	int exit_fd;
	int log_fd; /* its stderr */
};
int bld_slirp_start(pid_t child, struct bld_slirp *s, struct nib_error *err);
void bld_slirp_stop(struct bld_slirp *s);

/* Send one message (with `passfd` as SCM_RIGHTS when >= 0). */
int bld_rt_send(int sock, char type, const void *data, size_t len, int passfd);
/* The container side: pid 1 of the new namespaces. Never returns. */
_noreturn_ void bld_runtime_child(struct bld_rt *rt);
/* Capability mask from the default set plus adds minus drops. */
int bld_caps_mask(char *const *add, char *const *drop, uint64_t *mask, struct nib_error *err);
/* SELinux exec and file labels (container_t / container_file_t with two
 * random MCS categories) when SELinux is enabled, else both NULL. */
void bld_selinux_labels(char **exec_label, char **mount_label);
/* Resolve "user[:group]" from the current root's /etc/passwd and
 * /etc/group (never the host's NSS). */
int bld_user_resolve(const char *spec, uid_t *uid, gid_t *gid, gid_t *groups, size_t *n_groups,
		     char **home, struct nib_error *err);

#endif /* BLD_RUNTIME_INTERNAL */

#endif
