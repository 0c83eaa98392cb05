/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builder runtime: declarations shared by the runtime's files
 * (builder/runtime*.c, idmap.c, seccomp*.c, ptrace*.c, build_exec.c):
 * ID-map backends, the seccomp filter and supervisor, the sync protocol
 * between nib and the container's pid 1. Everything else goes through
 * builder/runtime.h.
 */
#ifndef NIB_BUILDER_RUNTIME_INTERNAL_H
#define NIB_BUILDER_RUNTIME_INTERNAL_H

#ifndef BLD_RUNTIME_INTERNAL
#error "builder/runtime_internal.h is internal to the runtime (define BLD_RUNTIME_INTERNAL)"
#endif

#include "builder/lines.h"
#include "builder/runtime.h"

#include <signal.h>
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
 * (no_new_privs must be set). Device mknod, chown and chmod go to a
 * user-notification listener returned in *notify_fd (the node recorded, so
 * that the layer has it in every ID map); with `emulate_owner`, stat and
 * the credential calls too, and set*id/setgroups/capset succeed without
 * effect. */
int bld_seccomp_load(bool emulate_owner, int *notify_fd, struct nib_error *err);
/* Write the filter bld_seccomp_load would load (`confine`; without it,
 * bld_seccomp_compile_emulation's), as raw BPF (struct sock_filter[]), to
 * `fd`: the build compiles them once into nib. */
int bld_seccomp_export(bool emulate_owner, bool confine, int fd, struct nib_error *err);
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
/* The start time of the process whose /proc/PID/stat text is `stat`
 * (NUL-terminated), and its parent in *ppid (may be NULL); 0 when the
 * text is not one. */
unsigned long long bld_creds_stat_parse(const char *stat, pid_t *ppid);
/* Whether the kernel and libseccomp support user notification. */
bool bld_seccomp_notify_supported(void);
/* Ask the kernel to run the supervisor of `notify_fd` on the CPU of the
 * calling process and back (Linux 6.6; a no-op before). */
void bld_seccomp_supervise_init(int notify_fd);
/* Receive and answer one notification on `notify_fd` (the supervisor side
 * of device nodes and, with `emulate_owner`, of single-UID ownership
 * emulation). Returns -1 only when the listener is gone. */
int bld_seccomp_supervise_one(int notify_fd, bool emulate_owner, struct nib_error *err);
/* Answer `req` as the supervisor would, with no listener: for the ptrace
 * executor, whose caller is stopped until answered (no liveness check) and
 * not in a user namespace (`map_ids`: stat answers report the caller's
 * own IDs as 0 and others as 65534 even for files without a record). */
void bld_seccomp_answer(const struct seccomp_notif *req, struct seccomp_notif_resp *resp,
			bool map_ids);
/* Whether `pid`'s emulated credentials left root (an effective UID other
 * than 0, capabilities not kept): false where they are the kernel's. */
bool bld_creds_dropped(pid_t pid);
/* What a trapped ownership call asks, decoded from its name (libseccomp's,
 * for req->data.nr) and arguments alone: no memory or file of the caller
 * is looked at. */
enum bld_seccomp_op {
	BLD_SC_ENOSYS = 0, /* not one the supervisor answers */
	BLD_SC_KERNEL,	   /* the kernel answers (32-bit stat layouts) */
	BLD_SC_CHOWN,
	BLD_SC_CHMOD,
	BLD_SC_STAT,
	BLD_SC_MKNOD,
};
struct bld_seccomp_call {
	enum bld_seccomp_op op;
	int dirfd;	      /* AT_FDCWD, or the fd the call names */
	bool has_path;	      /* else the call names `dirfd` alone */
	uint64_t path;	      /* the caller's address of its path */
	bool nofollow;	      /* the last symlink is not followed */
	bool empty_path;      /* an empty path names `dirfd` (AT_EMPTY_PATH) */
	uint32_t uid, gid;    /* chown: UINT32_MAX keeps one */
	uint32_t mode;	      /* chmod, mknod (with the type) */
	uint64_t dev;	      /* mknod */
	uint64_t buf;	      /* stat: the caller's address of its answer */
	long long statx_mask; /* statx's mask, else -1 */
};
/* Decode `req`, whose call is named `name` (NULL: unknown), into *c. */
void bld_seccomp_decode(const char *name, const struct seccomp_notif *req,
			struct bld_seccomp_call *c);
/* Reads `n` bytes of a caller's memory at `addr` into `p`: how many (0:
 * none there), or -errno. */
typedef ssize_t (*bld_mem_read_fn)(void *ctx, uint64_t addr, void *p, size_t n);
/* Read the NUL-terminated string at `addr` through `rd`, page by page (an
 * unmapped page after a short string is no error), at most `first` bytes
 * in the first read: 0, -EFAULT (address 0, nothing readable before the
 * NUL), -ENAMETOOLONG (no NUL in `size` bytes), or `rd`'s error. */
int bld_mem_read_string(bld_mem_read_fn rd, void *ctx, uint64_t addr, char *out, size_t size,
			size_t first);
/* A security.capability value (`*n` bytes at `v`) as root reads it back
 * (capabilities(7), "File capability extended attribute versioning"):
 * version 2, or version 3 with its root ID, which reads as version 2 when
 * that ID is 0 (rewritten in place, *n shortened). -EINVAL for what the
 * kernel refuses to set. */
int bld_seccomp_cap_value_root(uint8_t *v, size_t *n);
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

/* The contents of the BLD_ETC_FILES for `spec` on `network` (host, none
 * or private: what the run got): NULL where the image's own file stays
 * (--dns none, --no-hosts). builder/runtime_etc.c. */
void bld_etc_files_make(const struct bld_run_spec *spec, enum bld_network network, char *files[3]);

/* Everything the container side needs, prepared by the parent. */
struct bld_rt {
	const struct bld_run_spec *spec;
	struct bld_idmap_ctx idmap;
	int sync_fd;	    /* child end of the sync socket */
	int out_fd, err_fd; /* -1: inherited */
	/* contents of /etc/resolv.conf, hosts, hostname (BLD_ETC_FILES order),
	 * written to the container's /dev tmpfs and bound over the image's;
	 * NULL: the image's stays */
	char *etc_files[3];
	bool netns;
	enum bld_network network; /* host, none or private: auto decided */
	bool proc_bind;		  /* a fresh /proc was refused before: bind at once */
	uint64_t caps;		  /* capability mask of the command */
	char *selinux_label;	  /* exec label, or NULL */
	char *selinux_mount;	  /* context= mount option value, or NULL */
	char *cgroup;		  /* the step's cgroup, or NULL: rlimits */
	/* seccomp beyond nib's defaults (--security-opt seccomp=, RUN
	 * --security=insecure): without `confine`, `emulation` stands for
	 * nib's filter (ownership emulation only); `profile` is the user's
	 * profile (len 0: none), stacked on it */
	bool confine;
	struct bld_seccomp_bpf emulation, profile;
	struct bld_seccomp_bpf emulation_ids; /* `emulation` for a subuid or root ID map */
};
/* Fill rt->caps, confine, emulation and profile from the spec (its
 * capabilities and security options); bld_rt_security_free frees them. */
int bld_rt_security(struct bld_rt *rt, struct nib_error *err);
void bld_rt_security_free(struct bld_rt *rt);
/* Set the --ulimit limits of `s` (may be NULL) in the calling process;
 * -1 with the limit and the cause in `why`. */
int bld_ulimits_apply(const struct bld_security *s, char *why, size_t n);

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
/* ---- what both isolations share (runtime.c; ptrace.c may use them) ----- */

/* The command's output, read by nib line by line (spec->on_line). */
struct bld_run_out {
	struct bld_lines lines;
	int fd; /* nib's end, -1 when closed */
	enum bld_stream stream;
};
/* Make the two pipes (stdout, stderr): nib's ends in out[], the
 * command's write ends in *child_out and *child_err (-1 for none). */
int bld_run_out_open(struct bld_run_out out[2], int *child_out, int *child_err,
		     struct nib_error *err);
/* Read what one pipe has (poll said so): complete lines to spec->on_line;
 * at its end, the last line, and the pipe is closed. */
void bld_run_out_read(struct bld_run_out *o, const struct bld_run_spec *spec);
void bld_run_out_close(struct bld_run_out out[2]);
/* Block SIGCHLD, SIGINT, SIGTERM and SIGHUP (the mask before in *old,
 * for sigprocmask(SIG_SETMASK) once the command is gone) and return a
 * signalfd that reads them, or -1 with `err` set (still blocked). */
int bld_run_signals(sigset_t *old, struct nib_error *err);
/* A timerfd that fires after `seconds` (0: none, -1). */
int bld_run_timer(unsigned seconds);
/* The result of a command whose pid 1 (or tracer) reported `status`
 * (got_status) or was killed (timeout, interrupt) before it ended. */
void bld_run_result_set(struct bld_run_result *res, bool got_status, int status, bool timed_out,
			bool interrupted);
/* In the command's process: drop every capability outside `mask` from the
 * bounding set and, with `set`, make `mask` the effective and permitted
 * set (nothing inheritable: CVE-2022-24769). 0, or -1 with the refused
 * call in `why`. */
int bld_caps_apply(uint64_t mask, bool set, char *why, size_t n);

/* Capability mask from the default set plus adds minus drops. */
int bld_caps_mask(char *const *add, char *const *drop, uint64_t *mask, struct nib_error *err);
/* SELinux exec and file labels (container_t / container_file_t with this
 * process's MCS pair, the label= options of `s` applied) when SELinux is
 * enabled and not label=disable, else both NULL. */
void bld_selinux_labels(const struct bld_security *s, char **exec_label, char **mount_label);
/* Compile the Docker/OCI seccomp profile at `path` (defaultAction,
 * defaultErrnoRet, archMap, syscalls with names, action, errnoRet, args,
 * includes/excludes of caps, arches and minKernel) for a process holding
 * the capabilities in `caps` into `out` (insns malloc'd: free them).
 * A usage error naming the file and the rule otherwise. */
int bld_seccomp_profile_compile(const char *path, uint64_t caps, struct bld_seccomp_bpf *out,
				struct nib_error *err);
/* nib's own filter without the refusals: only what its supervisor answers
 * (device mknod, chown and chmod; with `emulate_owner` what single-UID
 * ownership emulation traps too), for seccomp=unconfined, seccomp=PROFILE
 * and RUN --security=insecure. */
int bld_seccomp_compile_emulation(bool emulate_owner, struct bld_seccomp_bpf *out,
				  struct nib_error *err);
/* Load the BPF program `f` into the calling process (`flags`: seccomp(2)'s,
 * e.g. SECCOMP_FILTER_FLAG_NEW_LISTENER); no_new_privs is set first only
 * when the kernel demands it (no CAP_SYS_ADMIN in this user namespace).
 * The listener fd, 0, or -1 with `err` set. */
int bld_seccomp_load_bpf(const struct bld_seccomp_bpf *f, unsigned flags, struct nib_error *err);
/* The program libseccomp's `ctx` (a scmp_filter_ctx) makes, into `out`. */
int bld_seccomp_ctx_bpf(void *ctx, struct bld_seccomp_bpf *out, struct nib_error *err);
/* Whether loading a seccomp filter here needs no_new_privs: it is not set
 * and this process lacks CAP_SYS_ADMIN in its user namespace. */
bool bld_seccomp_needs_nnp(void);
/* Resolve "user[:group]" from the current root's /etc/passwd and
 * /etc/group (never the host's NSS). */
int bld_user_resolve(const char *spec, uid_t *uid, gid_t *gid, gid_t *groups, size_t *n_groups,
		     char **home, struct nib_error *err);

#endif
