/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ptrace executor, internal to builder/ptrace*.c: a RUN step without any
 * namespace, for pods whose seccomp profile refuses user namespaces
 * (containerd's RuntimeDefault, CRI-O >= 1.24). nib traces the command's
 * process tree and shows it the rootfs as "/":
 *
 *   ptrace.c       the run: the parent side (output, timeout, signals, the
 *                  status), the tracer process and the command's process
 *   ptrace_loop.c  the tracer: ptrace events, the process table, scratch
 *                  memory mapped into each tracee
 *   ptrace_sys.c   the system call table, the seccomp filter that stops
 *                  only the calls that need translation, their handlers
 *   ptrace_path.c  paths as the tracee sees them: resolution inside the
 *                  rootfs, binds (/proc, /dev, /sys, generated /etc files,
 *                  --mount), /proc/PID links, host -> guest
 *   ptrace_mem.c   the tracee's memory and /proc entries, with its IDs
 *                  where nib needs them to be let in
 *   ptrace_exec.c  execve: `#!` scripts and ELF interpreters of the rootfs
 *   ptrace_arch.c  register access per architecture
 *
 * "Guest" paths are what the tracee names ("/etc/passwd"), "host" paths
 * what the kernel is given ("/var/lib/nib/.../rootfs/etc/passwd"). This
 * mode is not a security boundary: a tracee can change a path in its own
 * memory between nib's check and the kernel's use, and nothing stops it
 * from signalling nib. The pod is the boundary.
 */
#ifndef NIB_BUILDER_PTRACE_H
#define NIB_BUILDER_PTRACE_H

#ifndef BLD_PTRACE_INTERNAL
#error "builder/ptrace.h is internal to builder/ptrace*.c"
#endif

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "common/common.h"

/* ==== paths (ptrace_path.c) =============================================== */

/* A folder or file of the host shown at a guest path, like a bind mount. */
struct bld_ptrace_bind {
	char *guest; /* clean absolute guest path: "/proc" */
	char *host;  /* host path shown there: "/proc" */
	size_t guest_len, host_len;
	bool ro;   /* writes through it fail with EROFS */
	bool proc; /* a proc file system: self, thread-self and PID links are the tracee's */
};

/* What a tracee sees as its file system. */
struct bld_ptrace_fs {
	int rootfd;	 /* O_PATH of the rootfs */
	char *root;	 /* canonical host path of the rootfs, no trailing '/' ("" for "/") */
	size_t root_len; /* strlen(root) */
	struct bld_ptrace_bind *binds; /* longest guest path first */
	size_t n_binds;
};

/* The process a path is resolved for. */
struct bld_ptrace_who {
	pid_t tid, tgid;
	/* Look at its /proc entries (cwd, fd/N, mem) with these file system
	 * IDs, its own: without CAP_SYS_PTRACE the kernel shows another
	 * process's only to a caller with the same IDs (nib as root, the
	 * process a USER of the image). false: with nib's. */
	bool look;
	uid_t uid;
	gid_t gid;
	/* The guest path /proc/PID/exe should name for a traced PID, or NULL
	 * for the kernel's link (the executor starts dynamically linked
	 * programs through their ELF interpreter). May be NULL. */
	const char *(*exe)(void *ctx, pid_t pid);
	void *ctx;
};

enum {
	BLD_PTRACE_FOLLOW = 1 << 0, /* follow a symlink in the last component */
	BLD_PTRACE_WRITE = 1 << 1,  /* the call changes what it names: EROFS in a read-only bind */
	BLD_PTRACE_TYPE = 1 << 2,   /* fill bld_ptrace_path.type */
};

/* A resolved path. */
struct bld_ptrace_path {
	char host[PATH_MAX]; /* the path to give the kernel */
	/* the relative path the tracee gave reaches the same file from the
	 * same folder: it can be left as it is */
	bool unchanged;
	/* host is a /proc/PID link the kernel follows itself (a pipe, a
	 * socket, a deleted file) */
	bool proc_link;
	/* S_IFMT of what it names (with BLD_PTRACE_TYPE; the walk always
	 * fills it); 0 when missing or not known */
	mode_t type;
	/* resolved inside the rootfs alone (no bind, no /proc link): the
	 * same for every process until names change */
	bool plain;
};

/* Open the rootfs (its canonical path becomes fs->root); no binds yet. */
int bld_ptrace_fs_init(struct bld_ptrace_fs *fs, const char *rootfs, struct nib_error *err);
/* Show host path `host` at guest path `guest` (absolute; cleaned here). */
void bld_ptrace_fs_bind(struct bld_ptrace_fs *fs, const char *guest, const char *host, bool ro,
			bool proc);
void bld_ptrace_fs_free(struct bld_ptrace_fs *fs);
/* Guest path `guest` is a bind point or below one. */
bool bld_ptrace_fs_is_bound(const struct bld_ptrace_fs *fs, const char *guest);
/* A read-only bind exists; clean guest path `guest` is in one. */
bool bld_ptrace_fs_has_ro(const struct bld_ptrace_fs *fs);
bool bld_ptrace_fs_is_ro(const struct bld_ptrace_fs *fs, const char *guest);
/* `name` (one component) is the last component of a bind point: a
 * lookup of it may leave the folder it is in. */
bool bld_ptrace_fs_name_is_bound(const struct bld_ptrace_fs *fs, const char *name);

/*
 * Resolve the guest path `path` as the kernel would with the rootfs as "/"
 * and the binds mounted: symlinks are read as guest paths, ".." stops at
 * "/", a missing last component is fine (a call that creates it), a
 * symlink in the last component is followed with BLD_PTRACE_FOLLOW (a
 * dangling one to where it points, as open(O_CREAT) would), and a
 * trailing slash is kept. A relative `path` starts at `base`, the
 * absolute guest path of the folder the call names (cwd or dirfd).
 * Returns 0, or -errno: the error the call should fail with.
 */
int bld_ptrace_resolve(const struct bld_ptrace_fs *fs, const struct bld_ptrace_who *who,
		       const char *base, const char *path, unsigned flags,
		       struct bld_ptrace_path *out);

/* Tests: take the component walk for every path (no openat2 shortcut). */
extern bool bld_ptrace_walk_only;

/* The guest path of host path `host` (0), or -1 when the tracee cannot
 * see it. */
int bld_ptrace_guest_path(const struct bld_ptrace_fs *fs, const char *host, char *out, size_t size);

/* readlink(2) of guest `path` as the tracee sees it (the /proc/PID links
 * of cwd, root, exe and fd/N give guest paths). Returns the length of the
 * target written to `buf` (not terminated, at most `size`), or -errno. */
ssize_t bld_ptrace_readlink(const struct bld_ptrace_fs *fs, const struct bld_ptrace_who *who,
			    const char *base, const char *path, char *buf, size_t size);

/* The guest path of folder `link` of process `who` ("cwd" or "fd/N"),
 * for the relative paths it starts: 0, or -errno. */
int bld_ptrace_proc_dir(const struct bld_ptrace_fs *fs, const struct bld_ptrace_who *who,
			const char *link, char *out, size_t size);

/* Take the IDs `who` is looked at with (bld_ptrace_who.look) until
 * bld_ptrace_look_end; nothing when it is looked at with nib's. */
struct bld_ptrace_look {
	bool on;
	int uid, gid;
};
void bld_ptrace_look_begin(const struct bld_ptrace_who *who, struct bld_ptrace_look *l);
void bld_ptrace_look_end(struct bld_ptrace_look *l);

/* ==== execve (ptrace_exec.c) ============================================== */

/* One argument of the new argv: a string of nib's, or a pointer into the
 * tracee's memory (one of its own strings). */
struct bld_ptrace_arg {
	const char *str;
	uint64_t ptr;
};

#define BLD_PTRACE_EXEC_HEAD 24

/* What an execve becomes: the kernel runs `host`; the new argv is head[]
 * followed by the caller's argv from index 1. */
struct bld_ptrace_exec {
	char host[PATH_MAX];
	char exe[PATH_MAX]; /* guest path of the program (/proc/PID/exe) */
	struct bld_ptrace_arg head[BLD_PTRACE_EXEC_HEAD];
	size_t n_head;
	struct nib_strv strs; /* storage of head strings */
	bool via_loader;      /* `host` is the program's ELF interpreter */
};

void bld_ptrace_exec_free(struct bld_ptrace_exec *x);

/*
 * Plan the execve of guest `path` (relative paths from `base`) whose
 * caller's argv[0] is at `argv0` in the tracee (0: none): `#!` lines are
 * read as the kernel reads them (interpreter resolved in the rootfs, at
 * most 4 levels), a program with an ELF interpreter (PT_INTERP) is run
 * by the rootfs's interpreter (`ld.so [--argv0 ARGV0] PROGRAM ARGS`),
 * a static one directly. `path_ptr` is the tracee's own pointer to
 * `path` (a script's path argument). Returns 0 or -errno for the execve.
 */
int bld_ptrace_exec_plan(const struct bld_ptrace_fs *fs, const struct bld_ptrace_who *who,
			 const char *base, const char *path, uint64_t path_ptr, uint64_t argv0,
			 struct bld_ptrace_exec *out);

/* ==== registers (ptrace_arch.c) =========================================== */

struct bld_ptrace_regs {
	union {
		struct user_regs_struct u;
		uint64_t raw[64];
	};
	long nr; /* the system call number as read */
	bool nr_dirty;
};

/* The audit architecture of native system calls (AUDIT_ARCH_*); 0 when
 * this architecture is not supported. */
extern const uint32_t bld_ptrace_audit_arch;

int bld_ptrace_regs_get(pid_t tid, struct bld_ptrace_regs *r);
int bld_ptrace_regs_set(pid_t tid, struct bld_ptrace_regs *r);
long bld_ptrace_reg_nr(const struct bld_ptrace_regs *r);
void bld_ptrace_reg_set_nr(struct bld_ptrace_regs *r, long nr);
uint64_t bld_ptrace_reg_arg(const struct bld_ptrace_regs *r, unsigned i);
void bld_ptrace_reg_set_arg(struct bld_ptrace_regs *r, unsigned i, uint64_t v);
int64_t bld_ptrace_reg_ret(const struct bld_ptrace_regs *r);
void bld_ptrace_reg_set_ret(struct bld_ptrace_regs *r, int64_t v);
/* Make the tracee run system call `nr` again when it resumes: the
 * instruction pointer back over the system call instruction, the number
 * where that instruction reads it. */
void bld_ptrace_reg_rewind(struct bld_ptrace_regs *r, long nr);

/* ==== the tracer (ptrace_loop.c, ptrace_sys.c) ============================ */

/* Scratch memory mapped into a tracee: a ring of path slots (a call that
 * a signal interrupts is run again with the slot's address in its
 * registers: the slot's record gives back the caller's own pointer), then
 * the room for the argv of an execve. */
#define BLD_PTRACE_SLOT	     4096
#define BLD_PTRACE_SLOTS     32
#define BLD_PTRACE_SCRATCH   (1024 * 1024)
#define BLD_PTRACE_EXEC_ROOM (BLD_PTRACE_SCRATCH - BLD_PTRACE_SLOT * BLD_PTRACE_SLOTS)
#define BLD_PTRACE_EXEC_OFF  (BLD_PTRACE_SLOT * BLD_PTRACE_SLOTS)

enum bld_ptrace_state {
	BLD_PT_RUNNING = 0,
	BLD_PT_NEW,	  /* created; its first stop not seen yet */
	BLD_PT_HELD,	  /* first stop seen before its parent's clone event */
	BLD_PT_INJECTING, /* running a call nib put before its own (inject) */
};

/* What an injected call is for. */
enum bld_ptrace_inject {
	BLD_PT_INJECT_SCRATCH = 0, /* mmap of its scratch memory */
	BLD_PT_INJECT_DUMPABLE,	   /* prctl(PR_SET_DUMPABLE, 1) after a change of IDs */
};

struct bld_ptrace_tracee {
	pid_t tid, tgid;
	enum bld_ptrace_state state;
	bool seen_event;		 /* the parent's clone event for it arrived */
	uint64_t scratch;		 /* address of its scratch memory, 0: none yet */
	bool scratch_own;		 /* mapped for this thread (not a vfork parent's) */
	unsigned next_slot;		 /* next path slot of the ring */
	uint64_t orig[BLD_PTRACE_SLOTS]; /* the caller's pointer each slot replaced */
	struct bld_ptrace_regs saved;	 /* registers of the call an injection interrupts */
	/* a call that can block and be restarted after a signal: at its
	 * exit, arguments `restore_arg` (-1: none) get the caller's values
	 * back; a sendmmsg's counts are copied from nib's copy of its
	 * vector to the caller's */
	bool exit_restore;
	int restore_arg[2];
	uint64_t restore_val[2];
	uint64_t mmsg_copy, mmsg_orig;
	unsigned mmsg_n;
	/* what each slot holds (a path repeated needs no write) */
	char *slot_str[BLD_PTRACE_SLOTS];
	/* resumed into a call that may change names (rename, unlink...):
	 * translations stay uncached until its next stop */
	bool changes_names;
	char *exe;	/* guest path of its program */
	char *exe_next; /* the program of the execve it is in */
	enum bld_ptrace_inject injecting;
	/* its IDs (bld_ptrace_tracer.look_as_tracee): uid and gid are
	 * read from /proc when !ids_known */
	bool ids_known;
	uid_t uid;
	gid_t gid;
	/* it changed its IDs, which makes the kernel refuse its memory and
	 * /proc links to all but CAP_SYS_PTRACE: made dumpable again before
	 * its next call nib looks at */
	bool redump;
};

/* Everything the tracer knows. */
struct bld_ptrace_tracer {
	struct bld_ptrace_fs *fs;
	bool emulate_owner; /* single UID: credentials and owners are nib's records */
	bool mknod_refused; /* the run's capabilities lack CAP_MKNOD: a device
			     * mknod gets the kernel's EPERM, not a record */
	/* nib is root without CAP_SYS_PTRACE (root of a user-namespaced
	 * pod): a process that became another user is looked at with its
	 * IDs (bld_ptrace_who.look) and kept dumpable */
	bool look_as_tracee;
	const char *hostname; /* what uname(2) answers as the node name */
	/* a private folder where a loader is run under its program's name
	 * (the kernel names a process after the file it execs: pidof,
	 * pgrep and killall look for that name); NULL: the loader's own */
	const char *exec_dir;
	struct nib_strv loaders;	  /* loader host paths: exec_dir/INDEX/NAME */
	pid_t main_pid;			  /* the command */
	struct bld_ptrace_tracee **slots; /* open addressing by tid */
	size_t cap, count;
	/* translations of absolute paths resolved in the rootfs alone,
	 * valid while `gen` is: any call that may change names bumps it */
	struct bld_ptrace_cache *cache;
	unsigned changing; /* tracees in a call that may change names */
	/* scratch memory of threads gone, for the next thread of that
	 * process */
	struct {
		pid_t tgid;
		uint64_t addr;
	} * spare;
	size_t n_spare, cap_spare;
};

/* What a stopped call needs from the tracer. */
enum {
	BLD_PT_CONT = 0,     /* resume */
	BLD_PT_NEED_SCRATCH, /* map the scratch memory, then run the call again */
	BLD_PT_WANT_EXIT,    /* resume to the call's exit (exit_restore) */
};

/* Handle the seccomp stop of `t` (registers in `regs`); the registers are
 * written back when changed. Returns a BLD_PT_* of the above. */
int bld_ptrace_syscall(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t,
		       struct bld_ptrace_regs *regs);
/* Called with every event of `t`: a call of its that changed names has
 * ended. */
void bld_ptrace_settle(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t);
/* Forget what the slots of `t` hold (new memory, a fork's copy). */
void bld_ptrace_slots_forget(struct bld_ptrace_tracee *t);
void bld_ptrace_cache_free(struct bld_ptrace_tracer *tr);
/* The exit stop of a call that asked for it (BLD_PT_WANT_EXIT). */
void bld_ptrace_syscall_exit(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t);
/* The guest exe of traced process `pid` (the callback of bld_ptrace_who). */
const char *bld_ptrace_exe_of(void *tracer, pid_t pid);

/* Load the seccomp filter of the command into the calling process (with
 * no_new_privs). `emulate_owner` also stops credential, ownership and
 * stat calls. */
int bld_ptrace_filter_load(bool emulate_owner, struct nib_error *err);
/* Write that filter as raw BPF (struct sock_filter[]) to `fd`: the build
 * compiles it once into nib (builder/gen/seccomp_bpf_gen.c). */
int bld_ptrace_filter_export(bool emulate_owner, int fd, struct nib_error *err);

/* Seize `pid` (blocked until a byte is written to `release_fd`, which is
 * closed) and trace it and its descendants until it has ended, then kill
 * and reap every process left. Returns 0 with its wait status in
 * *status, or -errno when it could not be traced. */
int bld_ptrace_trace(struct bld_ptrace_tracer *tr, pid_t pid, int release_fd, int *status);
void bld_ptrace_tracer_free(struct bld_ptrace_tracer *tr);

/* The argv pointers of an execve from index 1 (`argv`: the caller's
 * array), read through `rd` (the count it read, or -errno) into `out`
 * (`max` entries at most): how many before the NULL, -E2BIG when `max`
 * come first, -EFAULT when a read falls short. */
ssize_t bld_ptrace_read_argv(ssize_t (*rd)(void *ctx, uint64_t addr, void *p, size_t n), void *ctx,
			     uint64_t argv, uint64_t *out, size_t max);
/* Read `n` bytes of `ctx`, a struct bld_ptrace_who, at `addr`: how many,
 * or -EFAULT whatever the cause (the reader of bld_ptrace_read_argv and
 * bld_mem_read_string). */
ssize_t bld_ptrace_who_read(void *ctx, uint64_t addr, void *p, size_t n);
/* Read a NUL-terminated string of `who` at `addr`: 0 or -errno. */
int bld_ptrace_read_string(const struct bld_ptrace_who *who, uint64_t addr, char *out, size_t size);
int bld_ptrace_mem_write(const struct bld_ptrace_who *who, uint64_t addr, const void *p, size_t n);
int bld_ptrace_mem_read(const struct bld_ptrace_who *who, uint64_t addr, void *p, size_t n);

#endif
