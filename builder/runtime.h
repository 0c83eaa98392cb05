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

enum bld_mount_type {
	BLD_MOUNT_BIND = 0,
	BLD_MOUNT_TMPFS,
	/* a file whose content (`data`) never reaches a disk: written into a
	 * private tmpfs of the container's mount namespace (mounted on `src`,
	 * an empty folder, and gone with the namespace), or a sealed memfd
	 * under ptrace; read-only */
	BLD_MOUNT_DATA,
};

/* One extra mount requested by the caller (nib run --mount, RUN --mount;
 * both parsed by containerfile's cf_mount_parse). */
struct bld_mount {
	enum bld_mount_type type;
	const char *src; /* host path (bind); the empty folder a data mount's tmpfs goes on */
	const char *dst; /* path inside the container, resolved inside the rootfs */
	bool ro;
	bool chown_user;  /* bind: the source chowned (recursively) to the run's user */
	uint64_t size;	  /* tmpfs: its size in bytes (0: the kernel's default) */
	const char *data; /* data: the content and its length, mode and owner */
	size_t len;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

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

/* What a run's /etc/hosts and /etc/resolv.conf hold beyond nib's own
 * (buildah's --add-host, --dns, --dns-search, --dns-option, --no-hosts;
 * builder/runtime_etc.c says what each file holds). NULL-terminated lists
 * or NULL. */
struct bld_etc_opts {
	char *const *add_hosts;	  /* "HOST:IP" (IPv4 or IPv6), first in /etc/hosts */
	char *const *dns;	  /* nameservers; {"none"}: the image's resolv.conf */
	char *const *dns_search;  /* replace the host's; {"."}: none */
	char *const *dns_options; /* replace the host's */
	bool no_hosts;		  /* the image's /etc/hosts (none when it has none) */
};
/* Check them as buildah does (HOST:IP, addresses, --dns none alone,
 * --no-hosts without --add-host, no --dns with `network` none): a usage
 * error naming the option and the value. */
int bld_etc_opts_check(const struct bld_etc_opts *o, enum bld_network network,
		       struct nib_error *err);

/* Whether a run with `o` leaves the image's /etc/NAME ("hosts",
 * "resolv.conf") as it is rather than binding nib's over it. */
bool bld_etc_keeps_image(const struct bld_etc_opts *o, const char *name);

/* ---- how a RUN is confined beyond nib's defaults ------------------------- */

enum bld_seccomp_mode {
	BLD_SECCOMP_DEFAULT = 0, /* nib's filter: the containers default profile's refusals */
	BLD_SECCOMP_UNCONFINED,	 /* no refusals (ownership emulation still traps its calls) */
	BLD_SECCOMP_PROFILE,	 /* the profile's rules instead of nib's refusals */
};

/* --ulimit NAME=SOFT[:HARD]: RLIM_INFINITY for -1/unlimited. */
struct bld_ulimit {
	int resource;
	uint64_t soft, hard;
};
#define BLD_ULIMITS_MAX 16

/* --device HOST[:CONTAINER][:PERMS] */
struct bld_device {
	char *host, *container;
	char perms[4]; /* "rwm", "r"...: what the bind allows (w: writable) */
};

/* --security-opt, RUN --security=insecure, --ulimit, --shm-size, --device:
 * parsed by bld_security_opt() and friends (builder/security.c). */
struct bld_security {
	enum bld_seccomp_mode seccomp;
	char *seccomp_profile; /* seccomp=PATH: Docker/OCI JSON profile */
	bool no_new_privs;     /* no-new-privileges */
	/* label=disable | user: | role: | type: | level: | filetype: */
	bool label_disable;
	char *label_user, *label_role, *label_type, *label_level, *label_filetype;
	struct nib_strv mask, unmask; /* mask=PATH:PATH, unmask=PATH:PATH|ALL */
	/* RUN --security=insecure (allowed by --allow security.insecure): every
	 * capability in the step's user namespace and no seccomp refusal */
	bool insecure;
	struct bld_ulimit ulimits[BLD_ULIMITS_MAX];
	size_t n_ulimits;
	uint64_t shm_size; /* /dev/shm's size; 0: 64 MiB */
	struct bld_device *devices;
	size_t n_devices;
};
/* One --security-opt value into `s`; a usage error naming it otherwise
 * (apparmor profiles and unknown options are refused with the reason). */
int bld_security_opt(struct bld_security *s, const char *opt, struct nib_error *err);
/* --ulimit NAME=SOFT[:HARD] (buildah's names: core, cpu, data, fsize,
 * locks, memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime,
 * sigpending, stack; -1 or unlimited). */
int bld_ulimit_opt(struct bld_security *s, const char *opt, struct nib_error *err);
/* --shm-size SIZE (bytes, or with b, k, m, g). */
int bld_shm_size_opt(struct bld_security *s, const char *opt, struct nib_error *err);
/* --device HOST[:CONTAINER][:PERMS]: HOST must be a device node. */
int bld_device_opt(struct bld_security *s, const char *opt, struct nib_error *err);
void bld_security_free(struct bld_security *s);

/* SELinux labels of a RUN: the process label and the file label (mount
 * context=), each "user:role:type:level" with the MCS pair `c1`,`c2`
 * (c1 < c2), from the policy's lxc_contexts text (may be NULL: the
 * targeted policy's container_t and container_file_t) and the label=
 * options of `s` (may be NULL). Both NULL with label=disable. Pure: no
 * SELinux call. */
void bld_selinux_compute(const struct bld_security *s, const char *lxc_contexts, unsigned c1,
			 unsigned c2, char **exec_label, char **file_label);
/* The file label RUN steps get here (for a rootfs mount's context=), or
 * NULL when SELinux is disabled or label=disable. */
char *bld_selinux_file_label(const struct bld_security *s);
/* The MCS pair of this nib process (two distinct categories of 0..1023,
 * the smaller first, picked once at random): every RUN of one build shares
 * it, as a buildah build container does. */
void bld_selinux_mcs(unsigned *c1, unsigned *c2);
/* Keep a copy of the label= options of `s` for bld_selinux_relabel (the
 * build calls it once its options are parsed; each run does too). */
void bld_selinux_use(const struct bld_security *s);
/* Relabel `path` and everything below it for RUN steps (-v SRC:DST:z|Z):
 * `shared` (:z) the shared container_file_t label (s0, no categories),
 * else (:Z) this process's private label. 0 when SELinux is disabled
 * (nothing to do); refuses /, /usr, /etc, /home and the like as podman
 * does; -1 with the path and the refused call otherwise. */
int bld_selinux_relabel(const char *path, bool shared, struct nib_error *err);

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
	struct bld_etc_opts etc;
	enum bld_idmap idmap;
	enum bld_isolation isolation;
	char *const *cap_add;  /* NULL-terminated names ("NET_ADMIN", "CAP_NET_RAW", "ALL") */
	char *const *cap_drop; /* NULL-terminated names */
	unsigned timeout;      /* seconds; 0 = none */
	struct bld_limits limits;
	const struct bld_security *security; /* NULL: nib's defaults */
	int stdin_fd;			     /* -1: /dev/null */
	int stdout_fd;			     /* -1: nib's stdout; ignored when on_line is set */
	int stderr_fd;			     /* -1: nib's stderr; ignored when on_line is set */
	bld_line_fn on_line;		     /* stream output line by line instead of through fds */
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

#endif
