/* SPDX-License-Identifier: Apache-2.0 */
/*
 * System calls under the ptrace executor: which ones take a path (and
 * where: the argument, its dirfd, whether the last symlink is followed,
 * whether the call writes), the seccomp filter that stops only those
 * (SECCOMP_RET_TRACE; every other call runs at full speed), and what nib
 * does at each stop:
 *
 *   path calls    each path resolved in the rootfs (ptrace_path.c); the
 *                 host path written to a slot of the tracee's scratch
 *                 memory and the argument pointed at it (a relative path
 *                 that resolves the same is left alone)
 *   getcwd        answered from /proc/PID/cwd, as a guest path
 *   readlink      answered by nib (/proc/PID/{cwd,root,exe,fd/N} as guest
 *                 paths)
 *   execve        rewritten to run the rootfs's interpreters (ptrace_exec.c)
 *   bind/connect  an AF_UNIX path rewritten in a copy of the address;
 *   sendto/msg    sendmsg and sendmmsg in a copy of their headers too
 *
 * With a single UID (nib not root) the credential, ownership, stat and
 * xattr calls are then answered by the same code as the seccomp-notify
 * supervisor of user-namespace mode (seccomp_notify.c, seccomp_creds.c):
 * the process is root to itself, chown and device mknod are recorded in
 * user.containers.override_stat, stat shows the records, file
 * capabilities are kept as user.containers.override_security.capability.
 *
 * Calls that would take a process out of the translation are refused:
 * mount and namespace calls, chroot and pivot_root (EPERM), clone with
 * CLONE_UNTRACED or a namespace flag (EPERM), clone3 and openat2 (ENOSYS:
 * libc falls back to clone, and every caller of openat2 to openat, since
 * kernels before 5.6 lack it; its RESOLVE_IN_ROOT and RESOLVE_BENEATH
 * would need a second resolver rooted at the dirfd), the *xattrat and
 * file_*attr calls (ENOSYS), io_uring (EPERM: its requests open files
 * without system calls), name_to_handle_at and open_by_handle_at (EPERM:
 * a handle opens a file of the whole file system). 32-bit and x32 calls
 * name paths by other numbers: ENOSYS (the filter's bad-architecture
 * answer), so none passes untranslated.
 */
#define BLD_PTRACE_INTERNAL  1
#define BLD_RUNTIME_INTERNAL 1
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>

#include "builder/ptrace.h"
#include "builder/runtime_internal.h"

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif
/* the same number on every architecture from 424 on */
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#define SYS_FIRST_XATTRAT 463 /* setxattrat .. file_setattr: 463-469 */
#define SYS_LAST_XATTRAT  469

NIB_DEFINE_CLEANUP(scmp_filter_ctx, seccomp_release)

enum kind {
	K_PATH = 1, /* path arguments translated */
	K_GETCWD,
	K_READLINK,
	K_EXEC,
	K_SOCK,	   /* bind, connect, sendto: an AF_UNIX path address */
	K_SENDMSG, /* sendmsg, sendmmsg: the same in message headers */
	K_OWNER,   /* no path: only the single-UID emulation */
	K_SETID,   /* set*id: the single-UID emulation, else IDs that change */
	K_UNAME,   /* the run's host name */
};

enum follow {
	FO_YES = 0,
	FO_NO,
	FO_AT,	     /* AT_SYMLINK_NOFOLLOW in the flags argument */
	FO_ATFOLLOW, /* AT_SYMLINK_FOLLOW in the flags argument */
	FO_OPEN,     /* O_NOFOLLOW, or O_CREAT|O_EXCL */
	FO_INOTIFY,  /* IN_DONT_FOLLOW */
	FO_FANOTIFY, /* FAN_MARK_DONT_FOLLOW */
};

enum write { WR_NO = 0, WR_YES, WR_OPEN, WR_NAMES /* removes or replaces names */ };

struct pathspec {
	int8_t dirfd, path; /* argument indexes; dirfd -1: the cwd */
	uint8_t follow, write;
};

struct sysent {
	long nr;
	const char *name;
	uint8_t kind;
	int8_t flags; /* index of the flags argument, -1 */
	bool owner;   /* single UID: answered by the ownership emulation */
	struct pathspec p[2];
};

#define NOP                                                                                        \
	{                                                                                          \
		-1, -1, 0, 0                                                                       \
	}
#define P(d, a, f, w)                                                                              \
	{                                                                                          \
		d, a, f, w                                                                         \
	}
#define E(n, k, fl, own, p0, p1)                                                                   \
	{                                                                                          \
		SYS_##n, #n, k, fl, own,                                                           \
		{                                                                                  \
			p0, p1                                                                     \
		}                                                                                  \
	}

static const struct sysent table[] = {
#ifdef SYS_open
    E(open, K_PATH, 1, false, P(-1, 0, FO_OPEN, WR_OPEN), NOP),
    E(creat, K_PATH, -1, false, P(-1, 0, FO_YES, WR_YES), NOP),
    E(stat, K_PATH, -1, true, P(-1, 0, FO_YES, WR_NO), NOP),
    E(lstat, K_PATH, -1, true, P(-1, 0, FO_NO, WR_NO), NOP),
    E(access, K_PATH, -1, false, P(-1, 0, FO_YES, WR_NO), NOP),
    E(readlink, K_READLINK, -1, false, P(-1, 0, FO_NO, WR_NO), NOP),
    E(mkdir, K_PATH, -1, false, P(-1, 0, FO_NO, WR_YES), NOP),
    E(rmdir, K_PATH, -1, false, P(-1, 0, FO_NO, WR_NAMES), NOP),
    E(unlink, K_PATH, -1, false, P(-1, 0, FO_NO, WR_NAMES), NOP),
    E(mknod, K_PATH, -1, true, P(-1, 0, FO_NO, WR_YES), NOP),
    E(symlink, K_PATH, -1, false, P(-1, 1, FO_NO, WR_NAMES), NOP),
    E(link, K_PATH, -1, false, P(-1, 0, FO_NO, WR_NO), P(-1, 1, FO_NO, WR_NAMES)),
    E(rename, K_PATH, -1, false, P(-1, 0, FO_NO, WR_NAMES), P(-1, 1, FO_NO, WR_NAMES)),
    E(chmod, K_PATH, -1, true, P(-1, 0, FO_YES, WR_YES), NOP),
    E(chown, K_PATH, -1, true, P(-1, 0, FO_YES, WR_YES), NOP),
    E(lchown, K_PATH, -1, true, P(-1, 0, FO_NO, WR_YES), NOP),
    E(utime, K_PATH, -1, false, P(-1, 0, FO_YES, WR_YES), NOP),
    E(utimes, K_PATH, -1, false, P(-1, 0, FO_YES, WR_YES), NOP),
    E(futimesat, K_PATH, -1, false, P(0, 1, FO_YES, WR_YES), NOP),
#endif
    E(openat, K_PATH, 2, false, P(0, 1, FO_OPEN, WR_OPEN), NOP),
#ifdef SYS_newfstatat
    E(newfstatat, K_PATH, 3, true, P(0, 1, FO_AT, WR_NO), NOP),
#endif
#ifdef SYS_fstatat
    E(fstatat, K_PATH, 3, true, P(0, 1, FO_AT, WR_NO), NOP),
#endif
    E(statx, K_PATH, 2, true, P(0, 1, FO_AT, WR_NO), NOP), E(fstat, K_OWNER, -1, true, NOP, NOP),
    E(faccessat, K_PATH, -1, false, P(0, 1, FO_YES, WR_NO), NOP),
    E(faccessat2, K_PATH, 3, false, P(0, 1, FO_AT, WR_NO), NOP),
    E(execve, K_EXEC, -1, true, P(-1, 0, FO_YES, WR_NO), NOP),
    E(execveat, K_EXEC, 4, true, P(0, 1, FO_AT, WR_NO), NOP),
    E(chdir, K_PATH, -1, false, P(-1, 0, FO_YES, WR_NO), NOP),
    E(getcwd, K_GETCWD, -1, false, NOP, NOP),
    E(readlinkat, K_READLINK, -1, false, P(0, 1, FO_NO, WR_NO), NOP),
    E(mkdirat, K_PATH, -1, false, P(0, 1, FO_NO, WR_YES), NOP),
    E(unlinkat, K_PATH, -1, false, P(0, 1, FO_NO, WR_NAMES), NOP),
    E(mknodat, K_PATH, -1, true, P(0, 1, FO_NO, WR_YES), NOP),
    E(symlinkat, K_PATH, -1, false, P(1, 2, FO_NO, WR_NAMES), NOP),
    E(linkat, K_PATH, 4, false, P(0, 1, FO_ATFOLLOW, WR_NO), P(2, 3, FO_NO, WR_NAMES)),
#ifdef SYS_renameat
    E(renameat, K_PATH, -1, false, P(0, 1, FO_NO, WR_NAMES), P(2, 3, FO_NO, WR_NAMES)),
#endif
    E(renameat2, K_PATH, -1, false, P(0, 1, FO_NO, WR_NAMES), P(2, 3, FO_NO, WR_NAMES)),
    E(fchmodat, K_PATH, -1, true, P(0, 1, FO_YES, WR_YES), NOP),
    E(fchmodat2, K_PATH, 3, true, P(0, 1, FO_AT, WR_YES), NOP),
    E(fchmod, K_OWNER, -1, true, NOP, NOP),
    E(fchownat, K_PATH, 4, true, P(0, 1, FO_AT, WR_YES), NOP),
    E(fchown, K_OWNER, -1, true, NOP, NOP),
    E(truncate, K_PATH, -1, false, P(-1, 0, FO_YES, WR_YES), NOP),
    E(utimensat, K_PATH, 3, false, P(0, 1, FO_AT, WR_YES), NOP),
    E(statfs, K_PATH, -1, false, P(-1, 0, FO_YES, WR_NO), NOP),
    E(setxattr, K_PATH, -1, true, P(-1, 0, FO_YES, WR_YES), NOP),
    E(lsetxattr, K_PATH, -1, true, P(-1, 0, FO_NO, WR_YES), NOP),
    E(getxattr, K_PATH, -1, true, P(-1, 0, FO_YES, WR_NO), NOP),
    E(lgetxattr, K_PATH, -1, true, P(-1, 0, FO_NO, WR_NO), NOP),
    E(listxattr, K_PATH, -1, false, P(-1, 0, FO_YES, WR_NO), NOP),
    E(llistxattr, K_PATH, -1, false, P(-1, 0, FO_NO, WR_NO), NOP),
    E(removexattr, K_PATH, -1, true, P(-1, 0, FO_YES, WR_YES), NOP),
    E(lremovexattr, K_PATH, -1, true, P(-1, 0, FO_NO, WR_YES), NOP),
    /* file capabilities (single UID): seccomp_notify.c */
    E(fsetxattr, K_OWNER, -1, true, NOP, NOP), E(fgetxattr, K_OWNER, -1, true, NOP, NOP),
    E(fremovexattr, K_OWNER, -1, true, NOP, NOP),
    E(inotify_add_watch, K_PATH, 2, false, P(-1, 1, FO_INOTIFY, WR_NO), NOP),
    E(fanotify_mark, K_PATH, 1, false, P(3, 4, FO_FANOTIFY, WR_NO), NOP),
    E(uname, K_UNAME, -1, false, NOP, NOP), E(bind, K_SOCK, -1, false, NOP, NOP),
    E(connect, K_SOCK, -1, false, NOP, NOP), E(sendto, K_SOCK, -1, false, NOP, NOP),
    E(sendmsg, K_SENDMSG, -1, false, NOP, NOP), E(sendmmsg, K_SENDMSG, -1, false, NOP, NOP),
    /* credentials (single UID): seccomp_creds.c */
    E(setuid, K_SETID, -1, true, NOP, NOP), E(setgid, K_SETID, -1, true, NOP, NOP),
    E(setreuid, K_SETID, -1, true, NOP, NOP), E(setregid, K_SETID, -1, true, NOP, NOP),
    E(setresuid, K_SETID, -1, true, NOP, NOP), E(setresgid, K_SETID, -1, true, NOP, NOP),
    E(setfsuid, K_SETID, -1, true, NOP, NOP), E(setfsgid, K_SETID, -1, true, NOP, NOP),
    E(setgroups, K_OWNER, -1, true, NOP, NOP), E(getuid, K_OWNER, -1, true, NOP, NOP),
    E(geteuid, K_OWNER, -1, true, NOP, NOP), E(getgid, K_OWNER, -1, true, NOP, NOP),
    E(getegid, K_OWNER, -1, true, NOP, NOP), E(getresuid, K_OWNER, -1, true, NOP, NOP),
    E(getresgid, K_OWNER, -1, true, NOP, NOP), E(getgroups, K_OWNER, -1, true, NOP, NOP),
    E(prctl, K_OWNER, -1, true, NOP, NOP), /* PR_SET_KEEPCAPS only */
};

/* Refused with EPERM: they would take a process out of the translation
 * (a new root, mounts, namespaces, files opened by the kernel on its
 * behalf) or reach the host as a whole when nib runs as root. */
static const long refused[] = {
    SYS_mount,
    SYS_umount2,
    SYS_pivot_root,
    SYS_chroot,
    SYS_unshare,
    SYS_setns,
    SYS_fsopen,
    SYS_fsconfig,
    SYS_fsmount,
    SYS_fspick,
    SYS_move_mount,
    SYS_open_tree,
    SYS_mount_setattr,
    SYS_name_to_handle_at,
    SYS_open_by_handle_at,
    SYS_acct,
    SYS_swapon,
    SYS_swapoff,
    SYS_quotactl,
    SYS_io_uring_setup,
    SYS_io_uring_enter,
    SYS_io_uring_register,
    SYS_reboot,
    SYS_kexec_load,
    SYS_kexec_file_load,
    SYS_init_module,
    SYS_finit_module,
    SYS_delete_module,
    SYS_settimeofday,
    SYS_clock_settime,
    SYS_clock_adjtime,
    SYS_syslog,
    SYS_bpf,
    SYS_perf_event_open,
#ifdef SYS_uselib
    SYS_uselib,
#endif
};

#define NR_MAX 512
static const struct sysent *by_nr[NR_MAX];
static bool by_nr_ready;

static void index_table(void)
{
	if (by_nr_ready)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (table[i].nr >= 0 && table[i].nr < NR_MAX)
			by_nr[table[i].nr] = &table[i];
	by_nr_ready = true;
}

/* ---- the filter ------------------------------------------------------------- */

static int rule(scmp_filter_ctx ctx, uint32_t action, long nr, unsigned n,
		const struct scmp_arg_cmp *a)
{
	int r = seccomp_rule_add_exact_array(ctx, action, (int)nr, n, a);
	return r == -EEXIST ? 0 : r;
}

/* The filter as libseccomp builds it (in *out, to release). */
static int filter_build(bool emulate_owner, scmp_filter_ctx *out, struct nib_error *err)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int r = 0;

	if (!bld_ptrace_audit_arch)
		return nib_err(err, NIB_ERR_ENV, ENOSYS,
			       "the ptrace executor does not know this architecture");
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return nib_err(err, NIB_ERR_ENV, 0, "seccomp: cannot create a filter");
	/* 32-bit and x32 calls would name paths by other numbers */
	seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS));
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); /* set by the caller */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

	for (size_t i = 0; i < ARRAY_SIZE(table) && r == 0; i++) {
		const struct sysent *e = &table[i];
		if (e->kind == K_OWNER && !emulate_owner)
			continue;
		if (e->nr == SYS_prctl) {
			struct scmp_arg_cmp k = SCMP_A0(SCMP_CMP_EQ, PR_SET_KEEPCAPS);
			r = rule(ctx, SCMP_ACT_TRACE(0), e->nr, 1, &k);
		} else if (e->nr == SYS_sendto) {
			/* send() is sendto with no address */
			struct scmp_arg_cmp k = SCMP_A4(SCMP_CMP_NE, 0);
			r = rule(ctx, SCMP_ACT_TRACE(0), e->nr, 1, &k);
		} else if (!emulate_owner && e->owner && e->flags >= 0 && e->kind == K_PATH) {
			/* fstat is fstatat(fd, "", AT_EMPTY_PATH): no path to
			 * translate and, as root, nothing to emulate */
			struct scmp_arg_cmp k = {(unsigned)e->flags, SCMP_CMP_MASKED_EQ,
						 AT_EMPTY_PATH, 0};
			r = rule(ctx, SCMP_ACT_TRACE(0), e->nr, 1, &k);
		} else {
			r = rule(ctx, SCMP_ACT_TRACE(0), e->nr, 0, NULL);
		}
	}
	if (emulate_owner && r == 0)
		r = rule(ctx, SCMP_ACT_ERRNO(0), SYS_capset, 0, NULL);
	if (r == 0) {
		/* nib cannot read the memory of a process that is not
		 * dumpable, and every path call it made would fail: the
		 * request succeeds and changes nothing */
		struct scmp_arg_cmp k[2] = {SCMP_A0(SCMP_CMP_EQ, PR_SET_DUMPABLE),
					    SCMP_A1(SCMP_CMP_EQ, 0)};
		r = rule(ctx, SCMP_ACT_ERRNO(0), SYS_prctl, 2, k);
	}
	for (size_t i = 0; i < ARRAY_SIZE(refused) && r == 0; i++)
		r = rule(ctx, SCMP_ACT_ERRNO(EPERM), refused[i], 0, NULL);
	if (r == 0) {
		static const unsigned long flags[] = {CLONE_UNTRACED, CLONE_NEWNS,    CLONE_NEWUTS,
						      CLONE_NEWIPC,   CLONE_NEWUSER,  CLONE_NEWPID,
						      CLONE_NEWNET,   CLONE_NEWCGROUP};
		for (size_t i = 0; i < ARRAY_SIZE(flags) && r == 0; i++) {
			struct scmp_arg_cmp a =
			    SCMP_A0(SCMP_CMP_MASKED_EQ, (scmp_datum_t)flags[i], flags[i]);
			r = rule(ctx, SCMP_ACT_ERRNO(EPERM), SYS_clone, 1, &a);
		}
	}
	if (r == 0)
		r = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SYS_clone3, 0, NULL);
	if (r == 0)
		r = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SYS_openat2, 0, NULL);
	for (long nr = SYS_FIRST_XATTRAT; nr <= SYS_LAST_XATTRAT && r == 0; nr++)
		r = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0, NULL);
	if (r < 0)
		return nib_err(err, NIB_ERR_ENV, -r, "seccomp: building the ptrace filter");
	*out = steal_pointer(&ctx);
	return 0;
}

int bld_ptrace_filter_export(bool emulate_owner, int fd, struct nib_error *err)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int r;

	if (filter_build(emulate_owner, &ctx, err) < 0)
		return -1;
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return nib_err(err, NIB_ERR_ENV, -r, "seccomp: exporting the ptrace filter");
	return 0;
}

/* The same programs built at build time (builder/gen/seccomp_bpf_gen.c);
 * NULL in binaries linked without them (unit tests). */
extern const struct bld_seccomp_bpf bld_ptrace_prebuilt[2] __attribute__((weak));

int bld_ptrace_filter_load(bool emulate_owner, struct nib_error *err)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int r;

	if (bld_ptrace_prebuilt && bld_ptrace_audit_arch) {
		/* no_new_privs only where seccomp(2) demands it */
		if (bld_seccomp_load_bpf(&bld_ptrace_prebuilt[emulate_owner ? 1 : 0], 0, err) < 0)
			return nib_err_wrap(err, "the ptrace filter");
		return 0;
	}
	if (filter_build(emulate_owner, &ctx, err) < 0)
		return -1;
	if (bld_seccomp_needs_nnp() && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "no_new_privs");
	r = seccomp_load(ctx);
	if (r < 0)
		return nib_err(err, NIB_ERR_ENV, -r, "seccomp: loading the ptrace filter");
	return 0;
}

/* ---- the translation cache ------------------------------------------------ */

#define CACHE_SIZE 4096
#define CACHE_MAX  256 /* longer paths are not kept */

struct bld_ptrace_cache {
	uint64_t gen;
	struct centry {
		uint64_t hash, gen;
		unsigned flags;
		mode_t type;
		bool has_type;
		char *guest, *host;
	} e[CACHE_SIZE];
};

static uint64_t fnv(const char *s, unsigned flags)
{
	uint64_t h = 1469598103934665603ULL ^ flags;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool cache_get(struct bld_ptrace_tracer *tr, const char *guest, unsigned flags,
		      struct bld_ptrace_path *out)
{
	struct bld_ptrace_cache *c = tr->cache;
	uint64_t h = fnv(guest, flags & BLD_PTRACE_FOLLOW);
	struct centry *e;

	if (!c || tr->changing)
		return false;
	e = &c->e[h % CACHE_SIZE];
	if (e->gen != c->gen || e->hash != h || (e->flags != (flags & BLD_PTRACE_FOLLOW)) ||
	    !e->guest || strcmp(e->guest, guest) != 0 ||
	    ((flags & BLD_PTRACE_TYPE) && !e->has_type))
		return false;
	memcpy(out->host, e->host, strlen(e->host) + 1);
	out->type = e->type;
	out->unchanged = out->proc_link = false;
	out->plain = true;
	return true;
}

static void cache_put(struct bld_ptrace_tracer *tr, const char *guest, unsigned flags,
		      const struct bld_ptrace_path *res)
{
	struct bld_ptrace_cache *c;
	uint64_t h;
	struct centry *e;

	if (tr->changing || !res->plain || strlen(guest) >= CACHE_MAX ||
	    strlen(res->host) >= PATH_MAX)
		return;
	if (!tr->cache)
		tr->cache = xcalloc(1, sizeof(*tr->cache));
	c = tr->cache;
	h = fnv(guest, flags & BLD_PTRACE_FOLLOW);
	e = &c->e[h % CACHE_SIZE];
	free(e->guest);
	free(e->host);
	e->hash = h;
	e->gen = c->gen;
	e->flags = flags & BLD_PTRACE_FOLLOW;
	e->type = res->type;
	e->has_type = (flags & BLD_PTRACE_TYPE) != 0;
	e->guest = xstrdup(guest);
	e->host = xstrdup(res->host);
}

void bld_ptrace_cache_free(struct bld_ptrace_tracer *tr)
{
	if (!tr->cache)
		return;
	for (size_t i = 0; i < CACHE_SIZE; i++) {
		free(tr->cache->e[i].guest);
		free(tr->cache->e[i].host);
	}
	free(tr->cache);
	tr->cache = NULL;
}

void bld_ptrace_settle(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t)
{
	if (!t->changes_names)
		return;
	t->changes_names = false;
	tr->changing--;
	if (tr->cache)
		tr->cache->gen++;
}

void bld_ptrace_slots_forget(struct bld_ptrace_tracee *t)
{
	for (size_t i = 0; i < BLD_PTRACE_SLOTS; i++) {
		free(t->slot_str[i]);
		t->slot_str[i] = NULL;
	}
}

/* ---- one stop ------------------------------------------------------------- */

/* The effective IDs of `t` (/proc/TID/status): the kernel lets a caller
 * without CAP_SYS_PTRACE at a process's memory and /proc links only with
 * the same real, effective and saved IDs, so these are the ones. */
static void read_ids(struct bld_ptrace_tracee *t)
{
	char path[64];
	_cleanup_free_ char *st = NULL;
	unsigned long ru, eu, rg, eg;
	const char *u, *g;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)t->tid);
	if (nib_read_file_at(AT_FDCWD, path, 1 << 16, &st, NULL, NULL) < 0)
		return;
	u = strstr(st, "\nUid:");
	g = strstr(st, "\nGid:");
	if (!u || !g || sscanf(u + 5, "%lu %lu", &ru, &eu) != 2 ||
	    sscanf(g + 5, "%lu %lu", &rg, &eg) != 2)
		return;
	t->uid = (uid_t)eu;
	t->gid = (gid_t)eg;
	t->ids_known = true;
}

struct stop {
	struct bld_ptrace_tracer *tr;
	struct bld_ptrace_tracee *t;
	struct bld_ptrace_regs *regs;
	const struct sysent *e;
	struct bld_ptrace_who who;
	bool dirty;
};

static int skip(struct stop *s, int64_t ret)
{
	bld_ptrace_reg_set_nr(s->regs, -1);
	bld_ptrace_reg_set_ret(s->regs, ret);
	s->dirty = true;
	return BLD_PT_CONT;
}

static uint64_t arg(const struct stop *s, int i)
{
	return bld_ptrace_reg_arg(s->regs, (unsigned)i);
}

static void set_arg(struct stop *s, int i, uint64_t v)
{
	if (arg(s, i) != v) {
		bld_ptrace_reg_set_arg(s->regs, (unsigned)i, v);
		s->dirty = true;
	}
}

static int as_fd(uint64_t v)
{
	return (int)(int32_t)(uint32_t)v;
}

/* The caller's pointer in argument `i`: a call run again after a signal
 * still holds the slot nib put there; it gets its own pointer back. */
static uint64_t path_ptr(struct stop *s, int i)
{
	struct bld_ptrace_tracee *t = s->t;
	uint64_t v = arg(s, i), off;

	if (!t->scratch || v < t->scratch || v >= t->scratch + BLD_PTRACE_EXEC_OFF)
		return v;
	off = v - t->scratch;
	if (off % BLD_PTRACE_SLOT || !t->orig[off / BLD_PTRACE_SLOT])
		return v;
	v = t->orig[off / BLD_PTRACE_SLOT];
	set_arg(s, i, v);
	return v;
}

#define SCRATCH_LOST 1

/* The next slot of `t` but `avoid` (-1: none); what it held is forgotten. */
static unsigned slot_next(struct bld_ptrace_tracee *t, int avoid)
{
	unsigned k = t->next_slot++ % BLD_PTRACE_SLOTS;

	if ((int)k == avoid)
		k = t->next_slot++ % BLD_PTRACE_SLOTS;
	free(t->slot_str[k]);
	t->slot_str[k] = NULL;
	return k;
}

/* Write `n` bytes to the scratch memory at `addr`: 0, SCRATCH_LOST when
 * the program unmapped it (it is mapped again, and the call run again),
 * or -errno. */
static int scratch_write(struct stop *s, uint64_t addr, const void *data, size_t n)
{
	int r = bld_ptrace_mem_write(&s->who, addr, data, n);

	if (r == -EFAULT) {
		bld_ptrace_slots_forget(s->t);
		s->t->scratch = 0;
		s->t->scratch_own = false;
		return SCRATCH_LOST;
	}
	return r;
}

/* Write `data` (n bytes; `str`: a path) to the next slot and point
 * argument `i` at it; a path a slot still holds is not written again.
 * *used is the slot taken; slot `avoid` (-1: none) holds another argument
 * of the same call. */
static int put_slot(struct stop *s, int i, uint64_t orig, const void *data, size_t n, bool str,
		    int avoid, int *used)
{
	struct bld_ptrace_tracee *t = s->t;
	unsigned k;
	uint64_t addr;
	int r;

	if (n > BLD_PTRACE_SLOT)
		return -ENAMETOOLONG;
	if (str)
		for (k = 0; k < BLD_PTRACE_SLOTS; k++)
			if (t->slot_str[k] && streq(t->slot_str[k], data)) {
				t->orig[k] = orig;
				set_arg(s, i, t->scratch + (uint64_t)k * BLD_PTRACE_SLOT);
				*used = (int)k;
				return 0;
			}
	k = slot_next(t, avoid);
	*used = (int)k;
	addr = t->scratch + (uint64_t)k * BLD_PTRACE_SLOT;
	r = scratch_write(s, addr, data, n);
	if (r != 0)
		return r;
	if (str)
		t->slot_str[k] = xstrdup(data);
	t->orig[k] = orig;
	set_arg(s, i, addr);
	return 0;
}

/* The guest folder relative paths of argument `dirfd_arg` start from. */
static int base_of(struct stop *s, int dirfd_arg, char *out, size_t size)
{
	int fd = dirfd_arg >= 0 ? as_fd(arg(s, dirfd_arg)) : AT_FDCWD;
	char link[32];

	if (fd == AT_FDCWD)
		return bld_ptrace_proc_dir(s->tr->fs, &s->who, "cwd", out, size);
	if (fd < 0)
		return -EBADF;
	snprintf(link, sizeof(link), "fd/%d", fd);
	return bld_ptrace_proc_dir(s->tr->fs, &s->who, link, out, size);
}

static unsigned resolve_flags(const struct stop *s, const struct pathspec *p)
{
	uint64_t fl = s->e->flags >= 0 ? arg(s, s->e->flags) : 0;
	unsigned f = 0;

	switch (p->follow) {
	case FO_YES:
		f = BLD_PTRACE_FOLLOW;
		break;
	case FO_AT:
		f = fl & AT_SYMLINK_NOFOLLOW ? 0 : BLD_PTRACE_FOLLOW;
		break;
	case FO_ATFOLLOW:
		f = fl & AT_SYMLINK_FOLLOW ? BLD_PTRACE_FOLLOW : 0;
		break;
	case FO_OPEN:
		f = (fl & O_NOFOLLOW) || (fl & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)
			? 0
			: BLD_PTRACE_FOLLOW;
		break;
	case FO_INOTIFY:
		f = fl & IN_DONT_FOLLOW ? 0 : BLD_PTRACE_FOLLOW;
		break;
	case FO_FANOTIFY:
		f = fl & FAN_MARK_DONT_FOLLOW ? 0 : BLD_PTRACE_FOLLOW;
		break;
	}
	if (p->follow == FO_OPEN)
		f |= BLD_PTRACE_TYPE;
	if (p->write == WR_YES || p->write == WR_NAMES ||
	    (p->write == WR_OPEN &&
	     ((fl & O_ACCMODE) != O_RDONLY || (fl & (O_CREAT | O_TRUNC)) ||
	      /* glibc's __O_TMPFILE holds O_DIRECTORY: opendir(3) is no write */
	      (fl & O_TMPFILE) == O_TMPFILE)))
		f |= BLD_PTRACE_WRITE;
	return f;
}

/* The single-UID emulation's answer, after the paths are translated. */
static int owner_answer(struct stop *s)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.pid = (__u32)s->t->tid;
	req.data.nr = (int)s->e->nr;
	req.data.arch = bld_ptrace_audit_arch;
	for (int i = 0; i < 6; i++)
		req.data.args[i] = arg(s, i);
	bld_seccomp_answer(&req, &resp, true);
	if (resp.flags & SECCOMP_USER_NOTIF_FLAG_CONTINUE)
		return BLD_PT_CONT;
	return skip(s, resp.error ? resp.error : resp.val);
}

static bool owner_wanted(const struct stop *s)
{
	if (!s->tr->emulate_owner || !s->e->owner)
		return false;
	if (s->e->nr == SYS_mknodat
#ifdef SYS_mknod
	    || s->e->nr == SYS_mknod
#endif
	) {
		/* devices only: fifos and sockets the kernel makes (and
		 * refuses devices without CAP_MKNOD, as in namespace mode) */
		mode_t m = (mode_t)arg(s, s->e->nr == SYS_mknodat ? 2 : 1) & S_IFMT;
		return (m == S_IFCHR || m == S_IFBLK) && !s->tr->mknod_refused;
	}
	return true;
}

/* want_exit for two arguments (`argj` -1: one) */
static int want_exit2(struct stop *s, int argi, uint64_t orig, int argj, uint64_t origj)
{
	s->t->exit_restore = true;
	s->t->restore_arg[0] = argi;
	s->t->restore_val[0] = orig;
	s->t->restore_arg[1] = argj;
	s->t->restore_val[1] = origj;
	return BLD_PT_WANT_EXIT;
}

/*
 * An open of a fifo or a device, a connect, can wait, and a signal can
 * interrupt it: the kernel then runs it again (SA_RESTART) with the
 * registers as they are, which point at nib's slot, maybe reused by the
 * handler's calls meanwhile. Such calls are resumed to their exit, where
 * an interrupted one gets the caller's pointer back and is translated
 * anew when it runs again.
 */
static int want_exit(struct stop *s, int argi, uint64_t orig)
{
	return want_exit2(s, argi, orig, -1, 0);
}

/*
 * A relative path of one name (what find, ls and tar give: an entry of an
 * open folder) is looked up by the kernel in that folder, as the tracee
 * would see it, unless the name is a bind point's or a symlink to follow:
 * it needs no translation, and without following no look at all.
 */
static bool same_in_folder(struct stop *s, const struct pathspec *p, const char *name,
			   unsigned flags)
{
	char proc[PATH_MAX + 64];
	struct bld_ptrace_look l;
	struct stat st;
	int fd, n, r, e;

	if (strchr(name, '/') || streq(name, ".") || streq(name, "..") ||
	    bld_ptrace_fs_name_is_bound(s->tr->fs, name))
		return false;
	if ((flags & BLD_PTRACE_WRITE) && bld_ptrace_fs_has_ro(s->tr->fs)) {
		/* a write in a read-only bind's folder fails with EROFS */
		char base[PATH_MAX];
		if (base_of(s, p->dirfd, base, sizeof(base)) < 0 ||
		    bld_ptrace_fs_is_ro(s->tr->fs, base))
			return false;
	}
	if (!(flags & BLD_PTRACE_FOLLOW))
		return true;
	fd = p->dirfd >= 0 ? as_fd(arg(s, p->dirfd)) : AT_FDCWD;
	if (fd == AT_FDCWD)
		n = snprintf(proc, sizeof(proc), "/proc/%d/cwd/%s", (int)s->t->tid, name);
	else
		n = snprintf(proc, sizeof(proc), "/proc/%d/fd/%d/%s", (int)s->t->tid, fd, name);
	if (n < 0 || (size_t)n >= sizeof(proc))
		return false;
	bld_ptrace_look_begin(&s->who, &l);
	r = lstat(proc, &st);
	e = errno;
	bld_ptrace_look_end(&l);
	if (r == 0)
		return !S_ISLNK(st.st_mode);
	return e == ENOENT;
}

static int do_path(struct stop *s)
{
	struct bld_ptrace_path res[2];
	uint64_t orig[2] = {0, 0};
	bool change[2] = {false, false}, names = false;
	int used[2] = {-1, -1};
	char path[PATH_MAX], base[PATH_MAX];
	unsigned flags;
	int r;

	for (int i = 0; i < 2; i++) {
		const struct pathspec *p = &s->e->p[i];
		uint64_t ptr;

		if (p->path < 0)
			continue;
		ptr = orig[i] = path_ptr(s, p->path);
		if (ptr == 0)
			continue; /* NULL: the dirfd itself (utimensat), or EFAULT */
		r = bld_ptrace_read_string(&s->who, ptr, path, sizeof(path));
		if (r < 0)
			return skip(s, r);
		if (!*path)
			continue; /* the dirfd itself (AT_EMPTY_PATH), or ENOENT */
		flags = resolve_flags(s, p);
		if (p->write == WR_NAMES)
			names = true;
		if (path[0] != '/') {
			if (same_in_folder(s, p, path, flags)) {
				if (nib_log_enabled(NIB_LOG_TRACE))
					nib_log(NIB_LOG_TRACE, "ptrace: %d %s %s (in its folder)",
						(int)s->t->tid, s->e->name, path);
				continue;
			}
			r = base_of(s, p->dirfd, base, sizeof(base));
			if (r < 0)
				return skip(s, r);
		} else if (cache_get(s->tr, path, flags, &res[i])) {
			change[i] = true;
			if (nib_log_enabled(NIB_LOG_TRACE))
				nib_log(NIB_LOG_TRACE, "ptrace: %d %s %s -> %s (cached)",
					(int)s->t->tid, s->e->name, path, res[i].host);
			continue;
		}
		r = bld_ptrace_resolve(s->tr->fs, &s->who, base, path, flags, &res[i]);
		if (r < 0)
			return skip(s, r);
		if (path[0] == '/')
			cache_put(s->tr, path, flags, &res[i]);
		change[i] = !res[i].unchanged;
		if (nib_log_enabled(NIB_LOG_TRACE))
			nib_log(NIB_LOG_TRACE, "ptrace: %d %s %s -> %s", (int)s->t->tid, s->e->name,
				path, res[i].unchanged ? "(unchanged)" : res[i].host);
	}
	if (names && !s->t->changes_names) {
		/* translations made while it runs are not kept */
		s->t->changes_names = true;
		s->tr->changing++;
		if (s->tr->cache)
			s->tr->cache->gen++;
	}
	if ((change[0] || change[1]) && !s->t->scratch)
		return BLD_PT_NEED_SCRATCH;
	for (int i = 0; i < 2; i++) {
		if (!change[i])
			continue;
		r = put_slot(s, s->e->p[i].path, orig[i], res[i].host, strlen(res[i].host) + 1,
			     true, used[0], &used[i]);
		if (r == SCRATCH_LOST)
			return BLD_PT_NEED_SCRATCH;
		if (r < 0)
			return skip(s, r);
	}
	if (owner_wanted(s))
		return owner_answer(s);
	if (change[0] && s->e->p[0].follow == FO_OPEN &&
	    (res[0].type == S_IFIFO || res[0].type == S_IFCHR || res[0].type == S_IFBLK ||
	     res[0].type == S_IFSOCK || res[0].proc_link))
		return want_exit(s, s->e->p[0].path, orig[0]);
	return BLD_PT_CONT;
}

static int do_getcwd(struct stop *s)
{
	char cwd[PATH_MAX];
	uint64_t size = arg(s, 1);
	size_t n;
	int r = bld_ptrace_proc_dir(s->tr->fs, &s->who, "cwd", cwd, sizeof(cwd));

	if (r < 0)
		return skip(s, r);
	n = strlen(cwd) + 1;
	if (size < n)
		return skip(s, -ERANGE);
	r = bld_ptrace_mem_write(&s->who, arg(s, 0), cwd, n);
	return skip(s, r < 0 ? r : (int64_t)n);
}

static int do_readlink(struct stop *s)
{
	const struct pathspec *p = &s->e->p[0];
	int bufarg = p->path + 1, sizearg = p->path + 2;
	char path[PATH_MAX], base[PATH_MAX], target[PATH_MAX];
	int64_t size = (int64_t)(int32_t)arg(s, sizearg);
	uint64_t ptr = path_ptr(s, p->path);
	ssize_t n;
	int r;

	r = bld_ptrace_read_string(&s->who, ptr, path, sizeof(path));
	if (r < 0)
		return skip(s, r);
	if (!*path)
		return BLD_PT_CONT; /* readlinkat(fd, ""): the link fd itself */
	if (size <= 0)
		return skip(s, -EINVAL);
	if (path[0] != '/') {
		r = base_of(s, p->dirfd, base, sizeof(base));
		if (r < 0)
			return skip(s, r);
	}
	n = bld_ptrace_readlink(s->tr->fs, &s->who, base, path, target,
				(size_t)MIN(size, (int64_t)sizeof(target)));
	if (n < 0)
		return skip(s, n);
	r = bld_ptrace_mem_write(&s->who, arg(s, bufarg), target, (size_t)n);
	return skip(s, r < 0 ? r : n);
}

ssize_t bld_ptrace_read_argv(ssize_t (*rd)(void *ctx, uint64_t addr, void *p, size_t n), void *ctx,
			     uint64_t argv, uint64_t *out, size_t max)
{
	size_t n = 0;

	if (!argv)
		return 0;
	for (;;) {
		uint64_t at = argv + 8 * (n + 1);
		size_t room = (4096 - (at & 4095)) / 8, got;
		if (room == 0)
			room = 1;
		room = MIN(room, max - n);
		if (room == 0)
			return -E2BIG;
		if (rd(ctx, at, out + n, room * 8) != (ssize_t)(room * 8))
			return -EFAULT;
		for (got = 0; got < room; got++)
			if (out[n + got] == 0)
				return (ssize_t)(n + got);
		n += room;
	}
}

/* The loader `loader` under the name of the program `exe`: a symlink in
 * the tracer's exec folder, or the loader itself. */
static const char *loader_named(struct bld_ptrace_tracer *tr, const char *loader, const char *exe,
				char *buf, size_t size)
{
	const char *name = strrchr(exe, '/');
	ssize_t i = nib_strv_find(&tr->loaders, loader);
	int n;

	name = name ? name + 1 : exe;
	if (!tr->exec_dir || !*name || streq(name, ".") || streq(name, ".."))
		return loader;
	if (i < 0) {
		if (tr->loaders.len >= 64)
			return loader;
		n = snprintf(buf, size, "%s/%zu", tr->exec_dir, tr->loaders.len);
		if (n < 0 || (size_t)n >= size || (mkdir(buf, 0755) < 0 && errno != EEXIST))
			return loader;
		nib_strv_push(&tr->loaders, loader);
		i = (ssize_t)tr->loaders.len - 1;
	}
	n = snprintf(buf, size, "%s/%zd/%s", tr->exec_dir, i, name);
	if (n < 0 || (size_t)n >= size || (symlink(loader, buf) < 0 && errno != EEXIST))
		return loader;
	return buf;
}

static int do_exec(struct stop *s)
{
	_cleanup_free_ char *buf = NULL;
	struct bld_ptrace_exec x;
	bool at = s->e->nr == SYS_execveat;
	int patharg = at ? 1 : 0, argvarg = at ? 2 : 1;
	char path[PATH_MAX], base[PATH_MAX] = "/";
	uint64_t ptr = path_ptr(s, patharg), argv = arg(s, argvarg), argv0 = 0;
	uint64_t addr, *ptrs;
	size_t off = 0, nptr = 0, maxptr;
	char named[PATH_MAX];
	const char *filename;
	ssize_t nargs;
	int r;

	if (!s->t->scratch)
		return BLD_PT_NEED_SCRATCH;
	r = bld_ptrace_read_string(&s->who, ptr, path, sizeof(path));
	if (r < 0)
		return skip(s, r);
	if (at && !*path && (arg(s, 4) & AT_EMPTY_PATH)) {
		/* fexecve: the program is the file behind the fd */
		char link[32];
		snprintf(link, sizeof(link), "fd/%d", as_fd(arg(s, 0)));
		r = bld_ptrace_proc_dir(s->tr->fs, &s->who, link, path, sizeof(path));
		if (r < 0)
			return BLD_PT_CONT; /* a memfd: the kernel's */
		ptr = 0;
	} else if (path[0] != '/') {
		r = base_of(s, at ? 0 : -1, base, sizeof(base));
		if (r < 0)
			return skip(s, r);
	}
	if (argv && bld_ptrace_mem_read(&s->who, argv, &argv0, 8) < 0)
		return skip(s, -EFAULT);
	r = bld_ptrace_exec_plan(s->tr->fs, &s->who, base, path, ptr, argv0, &x);
	if (r < 0) {
		bld_ptrace_exec_free(&x);
		return skip(s, r);
	}
	/* the exec room: the file name and new strings, then the pointers */
	buf = xmalloc(BLD_PTRACE_EXEC_ROOM);
	addr = s->t->scratch + BLD_PTRACE_EXEC_OFF;
	filename = x.via_loader ? loader_named(s->tr, x.host, x.exe, named, sizeof(named)) : x.host;
	off = strlen(filename) + 1;
	memcpy(buf, filename, off);
	for (size_t i = 0; i < x.n_head; i++) {
		if (x.head[i].str) {
			size_t n = strlen(x.head[i].str) + 1;
			if (off + n > BLD_PTRACE_EXEC_ROOM / 2) {
				bld_ptrace_exec_free(&x);
				return skip(s, -E2BIG);
			}
			memcpy(buf + off, x.head[i].str, n);
			x.head[i].ptr = addr + off;
			off += n;
		}
	}
	off = (off + 7) & ~(size_t)7;
	ptrs = (uint64_t *)(void *)(buf + off);
	maxptr = (BLD_PTRACE_EXEC_ROOM - off) / 8 - 1;
	for (size_t i = 0; i < x.n_head; i++)
		ptrs[nptr++] = x.head[i].ptr;
	nargs = argv0 ? bld_ptrace_read_argv(bld_ptrace_who_read, &s->who, argv, ptrs + nptr,
					     maxptr - nptr)
		      : 0;
	if (nargs < 0) {
		bld_ptrace_exec_free(&x);
		return skip(s, nargs);
	}
	nptr += (size_t)nargs;
	ptrs[nptr++] = 0;
	r = scratch_write(s, addr, buf, off + nptr * 8);
	if (r != 0) {
		bld_ptrace_exec_free(&x);
		return r == SCRATCH_LOST ? BLD_PT_NEED_SCRATCH : skip(s, r);
	}
	free(s->t->exe_next);
	s->t->exe_next = xstrdup(x.exe);
	bld_ptrace_exec_free(&x);
	if (at) {
		set_arg(s, 0, (uint64_t)(int64_t)AT_FDCWD);
		set_arg(s, 1, addr);
		set_arg(s, 2, addr + off);
		set_arg(s, 4, 0);
	} else {
		set_arg(s, 0, addr);
		set_arg(s, 1, addr + off);
	}
	if (owner_wanted(s))
		owner_answer(s); /* credential bookkeeping: it continues */
	return BLD_PT_CONT;
}

static int do_uname(struct stop *s)
{
	struct utsname u;

	if (uname(&u) < 0)
		return BLD_PT_CONT;
	snprintf(u.nodename, sizeof(u.nodename), "%s", s->tr->hostname);
	return skip(s, bld_ptrace_mem_write(&s->who, arg(s, 0), &u, sizeof(u)));
}

/*
 * The host address of the AF_UNIX address of `len` bytes at `addr` (the
 * caller's) that names a path: 1 with *out and *outlen; 0 when it names
 * none (abstract, another family, no address) and goes as it is; or
 * -errno. `creates`: bind makes the socket file.
 */
static int unix_addr(struct stop *s, uint64_t addr, uint64_t len, bool creates,
		     struct sockaddr_un *out, uint64_t *outlen)
{
	struct sockaddr_un sa;
	char path[sizeof(sa.sun_path) + 1], base[PATH_MAX];
	struct bld_ptrace_path res;
	size_t plen, hl;
	int r;

	if (!addr || len <= offsetof(struct sockaddr_un, sun_path) || len > sizeof(sa))
		return 0;
	if (bld_ptrace_mem_read(&s->who, addr, &sa, len) < 0)
		return 0; /* the kernel's EFAULT */
	if (sa.sun_family != AF_UNIX || sa.sun_path[0] == '\0')
		return 0;
	plen = strnlen(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
	memcpy(path, sa.sun_path, plen);
	path[plen] = '\0';
	if (path[0] != '/' && (r = base_of(s, -1, base, sizeof(base))) < 0)
		return r;
	r = bld_ptrace_resolve(s->tr->fs, &s->who, base, path,
			       creates ? BLD_PTRACE_WRITE : BLD_PTRACE_FOLLOW, &res);
	if (r < 0)
		return r;
	if (res.unchanged)
		return 0;
	hl = strlen(res.host);
	if (hl >= sizeof(out->sun_path))
		return -ENAMETOOLONG;
	memset(out, 0, sizeof(*out));
	out->sun_family = AF_UNIX;
	memcpy(out->sun_path, res.host, hl + 1);
	*outlen = offsetof(struct sockaddr_un, sun_path) + hl + 1;
	return 1;
}

/* bind, connect, sendto: the address in a slot */
static int do_sock(struct stop *s)
{
	int ai = s->e->nr == SYS_sendto ? 4 : 1, k, r;
	uint64_t addr = arg(s, ai), len = arg(s, ai + 1), ol;
	struct sockaddr_un out;

	r = unix_addr(s, addr, len, s->e->nr == SYS_bind, &out, &ol);
	if (r <= 0)
		return r < 0 ? skip(s, r) : BLD_PT_CONT;
	if (!s->t->scratch)
		return BLD_PT_NEED_SCRATCH;
	r = put_slot(s, ai, addr, &out, sizeof(out), false, -1, &k);
	if (r == SCRATCH_LOST)
		return BLD_PT_NEED_SCRATCH;
	if (r < 0)
		return skip(s, r);
	set_arg(s, ai + 1, ol);
	/* connect and sendto can wait: the caller's address if run again */
	return s->e->nr == SYS_bind ? BLD_PT_CONT : want_exit2(s, ai, addr, ai + 1, len);
}

/* sendmsg: a copy of the message header naming the address, both in a
 * slot */
static int do_sendmsg(struct stop *s)
{
	struct {
		struct sockaddr_un sa;
		struct msghdr m;
	} b;
	uint64_t mp = arg(s, 1), at;
	unsigned k;
	int r;

	if (!mp || bld_ptrace_mem_read(&s->who, mp, &b.m, sizeof(b.m)) < 0)
		return BLD_PT_CONT;
	r = unix_addr(s, (uint64_t)(uintptr_t)b.m.msg_name, b.m.msg_namelen, false, &b.sa, &at);
	if (r <= 0)
		return r < 0 ? skip(s, r) : BLD_PT_CONT;
	if (!s->t->scratch)
		return BLD_PT_NEED_SCRATCH;
	b.m.msg_namelen = (socklen_t)at;
	k = slot_next(s->t, -1);
	at = s->t->scratch + (uint64_t)k * BLD_PTRACE_SLOT;
	b.m.msg_name = (void *)(uintptr_t)at;
	r = scratch_write(s, at, &b, sizeof(b));
	if (r == SCRATCH_LOST)
		return BLD_PT_NEED_SCRATCH;
	if (r < 0)
		return skip(s, r);
	s->t->orig[k] = mp;
	set_arg(s, 1, at + offsetof(__typeof__(b), m));
	return want_exit(s, 1, mp);
}

/* sendmmsg: when a message names an AF_UNIX path, a copy of the vector
 * (and the addresses) in the exec room; the counts the kernel writes
 * into it are copied back at the exit. */
static int do_sendmmsg(struct stop *s)
{
	_cleanup_free_ struct mmsghdr *v = NULL;
	_cleanup_free_ struct sockaddr_un *sa = NULL;
	uint64_t vp = arg(s, 1), room, n = MIN(arg(s, 2), (uint64_t)UIO_MAXIOV), len;
	size_t vsize = n * sizeof(*v);
	bool any = false;
	int r;

	if (!vp || !n)
		return BLD_PT_CONT;
	v = xmalloc(vsize);
	sa = xcalloc(n, sizeof(*sa));
	if (bld_ptrace_mem_read(&s->who, vp, v, vsize) < 0)
		return BLD_PT_CONT;
	for (size_t i = 0; i < n; i++) {
		r = unix_addr(s, (uint64_t)(uintptr_t)v[i].msg_hdr.msg_name,
			      v[i].msg_hdr.msg_namelen, false, &sa[i], &len);
		if (r < 0)
			return skip(s, r);
		if (r == 0) {
			sa[i].sun_family = AF_UNSPEC; /* as it is */
			continue;
		}
		if (!s->t->scratch)
			return BLD_PT_NEED_SCRATCH;
		any = true;
		v[i].msg_hdr.msg_namelen = (socklen_t)len;
	}
	if (!any)
		return BLD_PT_CONT;
	room = s->t->scratch + BLD_PTRACE_EXEC_OFF;
	for (size_t i = 0; i < n; i++)
		if (sa[i].sun_family == AF_UNIX)
			v[i].msg_hdr.msg_name = (void *)(uintptr_t)(room + vsize + i * sizeof(*sa));
	r = scratch_write(s, room, v, vsize);
	if (r == 0)
		r = scratch_write(s, room + vsize, sa, n * sizeof(*sa));
	if (r == SCRATCH_LOST)
		return BLD_PT_NEED_SCRATCH;
	if (r < 0)
		return skip(s, r);
	set_arg(s, 1, room);
	s->t->mmsg_copy = room;
	s->t->mmsg_orig = vp;
	s->t->mmsg_n = (unsigned)n;
	return want_exit(s, 1, vp);
}

static void who_of(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t,
		   struct bld_ptrace_who *who)
{
	*who = (struct bld_ptrace_who){
	    .tid = t->tid, .tgid = t->tgid, .exe = bld_ptrace_exe_of, .ctx = tr};
	if (tr->look_as_tracee) {
		/* nib is root: a process of another user is looked at with
		 * its IDs */
		if (!t->ids_known)
			read_ids(t);
		who->look = t->ids_known && (t->uid != 0 || t->gid != 0);
		who->uid = t->uid;
		who->gid = t->gid;
	}
}

void bld_ptrace_syscall_exit(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t)
{
	struct bld_ptrace_regs regs;
	struct bld_ptrace_who who;
	int64_t ret;

	t->exit_restore = false;
	if (bld_ptrace_regs_get(t->tid, &regs) < 0)
		return;
	ret = bld_ptrace_reg_ret(&regs);
	who_of(tr, t, &who);
	for (int64_t i = 0; t->mmsg_n && i < ret && i < (int64_t)t->mmsg_n; i++) {
		/* sendmmsg: the counts sent, in the caller's vector */
		uint64_t off =
		    (uint64_t)i * sizeof(struct mmsghdr) + offsetof(struct mmsghdr, msg_len);
		unsigned sent;
		if (bld_ptrace_mem_read(&who, t->mmsg_copy + off, &sent, sizeof(sent)) < 0 ||
		    bld_ptrace_mem_write(&who, t->mmsg_orig + off, &sent, sizeof(sent)) < 0)
			break;
	}
	t->mmsg_n = 0;
	/* -ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK */
	if (ret > -512 || ret < -516)
		return;
	for (int i = 0; i < 2; i++)
		if (t->restore_arg[i] >= 0)
			bld_ptrace_reg_set_arg(&regs, (unsigned)t->restore_arg[i],
					       t->restore_val[i]);
	bld_ptrace_regs_set(t->tid, &regs);
}

int bld_ptrace_syscall(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t,
		       struct bld_ptrace_regs *regs)
{
	long nr = bld_ptrace_reg_nr(regs);
	struct stop s = {.tr = tr, .t = t, .regs = regs};
	int r = BLD_PT_CONT;

	index_table();
	who_of(tr, t, &s.who);
	s.e = nr >= 0 && nr < NR_MAX ? by_nr[nr] : NULL;
	if (!s.e)
		return BLD_PT_CONT; /* stopped by a filter of the tracee's own */
	switch (s.e->kind) {
	case K_PATH:
		r = do_path(&s);
		break;
	case K_GETCWD:
		r = do_getcwd(&s);
		break;
	case K_READLINK:
		r = do_readlink(&s);
		break;
	case K_EXEC:
		r = do_exec(&s);
		break;
	case K_SOCK:
		r = do_sock(&s);
		break;
	case K_SENDMSG:
		r = s.e->nr == SYS_sendmsg ? do_sendmsg(&s) : do_sendmmsg(&s);
		break;
	case K_UNAME:
		r = s.tr->hostname ? do_uname(&s) : BLD_PT_CONT;
		break;
	case K_OWNER:
		if (owner_wanted(&s))
			r = owner_answer(&s);
		break;
	case K_SETID:
		if (owner_wanted(&s)) {
			r = owner_answer(&s);
		} else if (tr->look_as_tracee) {
			/* its IDs may change: read anew, dumpable again */
			t->ids_known = false;
			t->redump = true;
		}
		break;
	}
	if (r != BLD_PT_NEED_SCRATCH && (s.dirty || regs->nr_dirty)) {
		int e = bld_ptrace_regs_set(t->tid, regs);
		if (e < 0 && e != -ESRCH)
			log_debug("ptrace: setting the registers of %d: %s", (int)t->tid,
				  strerror(-e));
	}
	if (nib_log_enabled(NIB_LOG_TRACE))
		nib_log(NIB_LOG_TRACE, "ptrace: %d %s%s", (int)t->tid, s.e->name,
			r == BLD_PT_NEED_SCRATCH ? " (scratch first)" : "");
	return r;
}
