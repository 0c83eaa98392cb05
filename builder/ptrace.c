/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A run under the ptrace executor (ptrace.h), in order:
 *
 *   nib          prepares what the command will see (the rootfs, a private
 *                folder with its /dev and the generated /etc files, the
 *                binds), forks the tracer, then pumps output, enforces the
 *                timeout and passes SIGINT/SIGTERM/SIGHUP on as a kill of
 *                the tracer (PTRACE_O_EXITKILL then kills every traced
 *                process), and reads the command's wait status;
 *   the tracer   forks the command, seizes it and traces the whole tree
 *                (ptrace_loop.c) until the command has ended and every
 *                process left is killed and reaped;
 *   the command  waits until it is traced, loads the seccomp filter that
 *                stops path calls (ptrace_sys.c), takes its user (read from
 *                the rootfs's /etc/passwd through the translation), and
 *                execs its program by guest path, each attempt translated.
 *
 * An error before exec comes back as one line, as in namespace mode.
 */
#define BLD_PTRACE_INTERNAL  1
#define BLD_RUNTIME_INTERNAL 1
#include <fcntl.h>
#include <grp.h>
#include <linux/magic.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "builder/lines.h"
#include "builder/ptrace.h"
#include "builder/runtime_internal.h"

/* The usual device nodes, shown from the host's (the pod's) /dev. */
static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};

enum { MSG_ERROR = 'E', MSG_STATUS = 'S' };

struct created {
	char *path; /* guest path of a folder made for a bind */
	struct timespec times[2];
};

struct prun {
	const struct bld_run_spec *spec;
	struct bld_ptrace_fs fs;
	char *tmp; /* private folder: /dev, /etc files, tmpfs mounts */
	bool emulate_owner;
	uint64_t caps;
	struct bld_seccomp_bpf profile; /* --security-opt seccomp=PROFILE, len 0: none */
	int sync_fd;			/* the tracer's and command's end of the message socket */
	int out_fd, err_fd;
	struct created *created;
	size_t n_created, cap_created;
	/* as root: the folders above the rootfs that not every user may pass */
	struct closed {
		char *path;
		struct stat st;
	} * closed;
	size_t n_closed;
};

/* ---- what the command sees ---------------------------------------------- */

static int write_file(const char *dir, const char *name, const char *data, struct nib_error *err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0 || nib_write_all(fd, data, strlen(data)) < 0 || fchmod(fd, 0644) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s", path);
	return 0;
}

/* /dev: a private folder of placeholders, each usual node bound to the
 * host's; /dev/pts the host's; /dev/shm private. */
static int make_dev(struct prun *p, struct nib_error *err)
{
	_cleanup_free_ char *dev = xasprintf("%s/dev", p->tmp);
	static const char *const links[][2] = {{"fd", "/proc/self/fd"},
					       {"stdin", "/proc/self/fd/0"},
					       {"stdout", "/proc/self/fd/1"},
					       {"stderr", "/proc/self/fd/2"},
					       {"ptmx", "pts/ptmx"}};

	if (mkdir(dev, 0755) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s", dev);
	bld_ptrace_fs_bind(&p->fs, "/dev", dev, false, false);
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		char host[64];
		snprintf(host, sizeof(host), "/dev/%s", dev_nodes[i]);
		if (access(host, F_OK) < 0)
			continue;
		if (write_file(dev, dev_nodes[i], "", err) < 0)
			return -1;
		bld_ptrace_fs_bind(&p->fs, host, host, false, false);
	}
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		_cleanup_free_ char *l = xasprintf("%s/%s", dev, links[i][0]);
		if (symlink(links[i][1], l) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "%s", l);
	}
	{
		_cleanup_free_ char *pts = xasprintf("%s/pts", dev);
		_cleanup_free_ char *shm = xasprintf("%s/shm", dev);
		if (mkdir(pts, 0755) < 0 || mkdir(shm, 01777) < 0 || chmod(shm, 01777) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "%s", shm);
		if (access("/dev/pts/ptmx", F_OK) == 0)
			bld_ptrace_fs_bind(&p->fs, "/dev/pts", "/dev/pts", false, false);
	}
	return 0;
}

/* /etc/resolv.conf, hosts and hostname, as namespace mode writes them
 * (the pod's network: no network namespace here). */
static int make_etc(struct prun *p, struct nib_error *err)
{
	static const char *const names[] = BLD_ETC_FILES;
	_cleanup_free_ char *etc = xasprintf("%s/etc", p->tmp);
	char *data[ARRAY_SIZE(names)];
	int ret = 0;

	if (mkdir(etc, 0755) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s", etc);
	bld_etc_files_make(p->spec, BLD_NET_HOST, data);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *guest = xasprintf("/etc/%s", names[i]);
		_cleanup_free_ char *host = xasprintf("%s/%s", etc, names[i]);
		if (!data[i] || ret < 0) /* the image's own */
			continue;
		ret = write_file(etc, names[i], data[i], err);
		if (ret == 0)
			bld_ptrace_fs_bind(&p->fs, guest, host, false, false);
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		free(data[i]);
	return ret;
}

static int make_mounts(struct prun *p, struct nib_error *err)
{
	const struct bld_run_spec *spec = p->spec;

	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct bld_mount *m = &spec->mounts[i];
		_cleanup_free_ char *host = NULL;

		if (m->type == BLD_MOUNT_TMPFS) {
			host = xasprintf("%s/mnt%zu", p->tmp, i);
			if (mkdir(host, 0755) < 0)
				return nib_err(err, NIB_ERR_IO, errno, "mount %s", m->dst);
		} else if (m->type == BLD_MOUNT_DATA) {
			/* the private folder is on a tmpfs then (bld_ptrace_run) */
			host = xasprintf("%s/data%zu", p->tmp, i);
			_cleanup_close_ int fd =
			    open(host, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, m->mode & 07777);
			if (fd < 0 || nib_write_all(fd, m->data, m->len) < 0 ||
			    fchmod(fd, m->mode & 07777) < 0)
				return nib_err(err, NIB_ERR_IO, errno, "mount %s", m->dst);
		} else {
			host = realpath(m->src, NULL);
			if (!host)
				return nib_err(err, NIB_ERR_NOT_FOUND, errno, "mount %s: %s",
					       m->dst, m->src);
		}
		bld_ptrace_fs_bind(&p->fs, m->dst, host, m->ro, false);
	}
	return 0;
}

/* The folders above each bind point exist in the rootfs (made and
 * reported when missing, as namespace mode makes mount targets). */
static int make_parents(struct prun *p, struct nib_error *err)
{
	for (size_t i = 0; i < p->fs.n_binds; i++) {
		_cleanup_free_ char *g = xstrdup(p->fs.binds[i].guest);

		for (char *s = strchr(g + 1, '/'); s; s = strchr(s + 1, '/')) {
			_cleanup_close_ int fd = -1, pfd = -1;
			struct stat st;
			char *slash;
			struct created *c;

			*s = '\0';
			fd = nib_open_in_root(p->fs.rootfd, g, O_PATH, 0, NULL);
			if (fd >= 0 || errno != ENOENT || bld_ptrace_fs_is_bound(&p->fs, g)) {
				*s = '/';
				continue;
			}
			slash = strrchr(g, '/');
			*slash = '\0';
			pfd = nib_open_in_root(p->fs.rootfd, *g ? g : "/", O_RDONLY | O_DIRECTORY,
					       0, NULL);
			*slash = '/';
			if (pfd < 0 || fstat(pfd, &st) < 0 || mkdirat(pfd, slash + 1, 0755) < 0)
				return nib_err(err, NIB_ERR_IO, errno, "mount %s: creating %s",
					       p->fs.binds[i].guest, g);
			p->created = xgrow(p->created, &p->cap_created, p->n_created + 1,
					   sizeof(*p->created));
			c = &p->created[p->n_created++];
			c->path = xstrdup(g + 1);
			c->times[0] = st.st_atim;
			c->times[1] = st.st_mtim;
			*s = '/';
		}
	}
	return 0;
}

/* After the run: the folders made above remain only when not empty. */
static void remove_created(struct prun *p, struct nib_strv *out)
{
	for (size_t i = 0; i < p->n_created; i++)
		nib_strv_push(out, p->created[i].path);
	for (size_t i = p->n_created; i-- > 0;) {
		struct created *c = &p->created[i];
		_cleanup_free_ char *dir = xstrdup(c->path);
		char *slash = strrchr(dir, '/');
		_cleanup_close_ int dfd = -1;

		if (slash)
			*slash = '\0';
		dfd = nib_open_in_root(p->fs.rootfd, slash ? dir : "", O_RDONLY | O_DIRECTORY, 0,
				       NULL);
		if (dfd >= 0 && unlinkat(dfd, slash ? slash + 1 : c->path, AT_REMOVEDIR) == 0)
			futimens(dfd, c->times);
	}
}

/* As root, the folders above the rootfs that other users may not pass:
 * the kernel walks the rootfs's host path for every call of the command,
 * also after it became the image's USER. */
static void find_closed(struct prun *p)
{
	_cleanup_free_ char *path = xstrdup(p->fs.root);

	for (char *s = path; s && *s;) {
		struct stat st;
		char *next = strchr(s + 1, '/');

		if (next)
			*next = '\0';
		if (stat(*path ? path : "/", &st) == 0 && !(st.st_mode & S_IXOTH)) {
			p->closed = xrealloc(p->closed, (p->n_closed + 1) * sizeof(*p->closed));
			p->closed[p->n_closed].path = xstrdup(*path ? path : "/");
			p->closed[p->n_closed++].st = st;
		}
		if (next)
			*next = '/';
		s = next;
	}
}

/* The first of those `uid` (with `gid` and `groups`) may not pass. */
static const struct closed *closed_to(const struct prun *p, uid_t uid, gid_t gid,
				      const gid_t *groups, size_t n_groups)
{
	for (size_t i = 0; uid != 0 && i < p->n_closed; i++) {
		const struct stat *st = &p->closed[i].st;
		bool in = st->st_gid == gid;
		mode_t bit = S_IXOTH;

		for (size_t j = 0; j < n_groups && !in; j++)
			in = st->st_gid == groups[j];
		if (st->st_uid == uid)
			bit = S_IXUSR;
		else if (in)
			bit = S_IXGRP;
		if (!(st->st_mode & bit))
			return &p->closed[i];
	}
	return NULL;
}

/* ---- the command ---------------------------------------------------------- */

_noreturn_ static void die(struct prun *p, const char *fmt, ...) _printf_(2, 3);
_noreturn_ static void die(struct prun *p, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bld_rt_send(p->sync_fd, MSG_ERROR, msg, strlen(msg), -1);
	_exit(127);
}

/* Root (nib as root): the capability set of namespace mode, as far as
 * nib holds it (root of a user-namespaced pod has the runtime's default
 * set, with no namespace of its own to gain the rest in). */
static void set_caps(struct prun *p)
{
	int last = (int)cap_max_bits();
	cap_t caps = cap_init(), have = cap_get_proc();

	for (int c = 0; c < last; c++) {
		cap_value_t v = c;
		cap_flag_value_t held = CAP_CLEAR;
		if (have && cap_get_flag(have, v, CAP_PERMITTED, &held) < 0)
			held = CAP_CLEAR;
		if (!(p->caps & (1ULL << c)) || (have && held != CAP_SET)) {
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				die(p, "drop capability %d: %s", c, strerror(errno));
			continue;
		}
		cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET);
		cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET);
	}
	if (cap_set_proc(caps) < 0)
		die(p, "set capabilities: %s", strerror(errno));
	cap_free(caps);
	cap_free(have);
}

static void workdir(struct prun *p)
{
	const char *wd = p->spec->workdir && *p->spec->workdir ? p->spec->workdir : "/";
	struct bld_ptrace_who who = {.tid = getpid(), .tgid = getpid()};
	struct bld_ptrace_path res;
	struct nib_error e = {0};
	_cleanup_close_ int fd = -1;
	int r;

	if (wd[0] != '/')
		die(p, "workdir %s: not an absolute path", wd);
	if (!bld_ptrace_fs_is_bound(&p->fs, wd)) {
		fd = nib_mkdir_in_root(p->fs.rootfd, wd, 0755, &e);
		if (fd < 0)
			die(p, "workdir %s", e.msg);
		if (fchdir(fd) < 0)
			die(p, "workdir %s: %s", wd, strerror(errno));
		return;
	}
	r = bld_ptrace_resolve(&p->fs, &who, "/", wd, BLD_PTRACE_FOLLOW, &res);
	if (r < 0 || chdir(res.host) < 0)
		die(p, "workdir %s: %s", wd, strerror(r < 0 ? -r : errno));
}

/* Capabilities and --security-opt: what the ptrace isolation can apply
 * (a seccomp profile, no_new_privs, ulimits) and a refusal naming what it
 * cannot. */
static int ptrace_security(struct prun *p, struct nib_error *err)
{
	const struct bld_security *s = p->spec->security;
	const char *opt = NULL, *why = NULL;

	if (bld_caps_mask(p->spec->cap_add, p->spec->cap_drop, &p->caps, err) < 0)
		return -1;
	if (!s)
		return 0;
	if (s->n_devices)
		opt = "--device", why = "no mount namespace to bind a device node in";
	else if (s->shm_size)
		opt = "--shm-size", why = "no mount namespace for a tmpfs: /dev/shm is a folder";
	else if (s->mask.len || s->unmask.len)
		opt = "--security-opt mask=/unmask=", why = "no mount namespace to mask a path in";
	else if (s->insecure || s->seccomp == BLD_SECCOMP_UNCONFINED)
		opt = s->insecure ? "RUN --security=insecure" : "--security-opt seccomp=unconfined",
		why = "its own seccomp filter is how it traces every process";
	if (opt)
		return nib_err(err, NIB_ERR_ENV, 0, "%s: refused under the ptrace isolation (%s)",
			       opt, why);
	if (s->seccomp == BLD_SECCOMP_PROFILE &&
	    bld_seccomp_profile_compile(s->seccomp_profile, p->caps, &p->profile, err) < 0)
		return nib_err_wrap(err, "--security-opt seccomp=%s", s->seccomp_profile);
	return 0;
}

_noreturn_ static void command_main(struct prun *p, int release)
{
	const struct bld_run_spec *spec = p->spec;
	_cleanup_strv_ struct nib_strv env = {0};
	_cleanup_free_ char *home = NULL;
	gid_t groups[64];
	size_t n_groups = ARRAY_SIZE(groups);
	uid_t uid = 0;
	gid_t gid = 0;
	struct nib_error e = {0};
	const char *path, *cmd = spec->argv[0];
	int in, saved = ENOENT;
	char go = 0, why[256];
	struct rlimit rl;

	signal(SIGTERM, SIG_DFL); /* the tracer's handler */
	/* a session of its own, without the caller's terminal (TIOCSTI) */
	if (setsid() < 0)
		die(p, "setsid: %s", strerror(errno));
	in = spec->stdin_fd >= 0 ? spec->stdin_fd : open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0 || dup2(in, 0) < 0)
		die(p, "stdin: %s", strerror(errno));
	if (p->out_fd >= 0 && dup2(p->out_fd, 1) < 0)
		die(p, "stdout: %s", strerror(errno));
	if (p->err_fd >= 0 && dup2(p->err_fd, 2) < 0)
		die(p, "stderr: %s", strerror(errno));
	workdir(p);
	/* nothing of nib's but stdio, the message socket (3, closed on
	 * exec) and the release pipe (4) */
	if (dup3(p->sync_fd, 3, O_CLOEXEC) < 0 || dup3(release, 4, O_CLOEXEC) < 0)
		_exit(127);
	p->sync_fd = 3;
	release = 4;
	if (syscall(SYS_close_range, 5U, ~0U, 0U) < 0)
		for (int fd = 5; fd < 1024; fd++)
			close(fd);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = MIN(rl.rlim_max, (rlim_t)1048576);
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);
	/* --ulimit, while the command may still raise a hard limit */
	if (bld_ulimits_apply(spec->security, why, sizeof(why)) < 0)
		die(p, "%s", why);
	umask(022);

	/* traced from here on */
	if (read(release, &go, 1) != 1)
		_exit(127);
	close(release);
	/* without a user namespace a non-root user filters itself only under
	 * no_new_privs (then setuid programs cannot elevate: nib info) */
	if (bld_ptrace_filter_load(p->emulate_owner, &e) < 0 ||
	    bld_seccomp_load_bpf(&p->profile, 0, &e) < 0)
		die(p, "%s", e.msg);
	/* /etc/passwd and /etc/group are read through the translation */
	if (bld_user_resolve(spec->user, &uid, &gid, groups, &n_groups, &home, &e) < 0)
		die(p, "%s", e.msg);
	if (!p->emulate_owner) {
		const struct closed *c = closed_to(p, uid, gid, groups, n_groups);
		if (c)
			die(p,
			    "user %u cannot reach the rootfs: %s is mode %04o, owner %u:%u (the "
			    "ptrace isolation names the rootfs by its path on the host: give nib a "
			    "storage root every user may pass, e.g. --root /var/lib/nib)",
			    (unsigned)uid, c->path, (unsigned)(c->st.st_mode & 07777),
			    (unsigned)c->st.st_uid, (unsigned)c->st.st_gid);
		if (setgroups(n_groups, groups) < 0)
			die(p, "setgroups: %s", strerror(errno));
		if (setresgid(gid, gid, gid) < 0)
			die(p, "setgid %u: %s", (unsigned)gid, strerror(errno));
		if (setresuid(uid, uid, uid) < 0)
			die(p, "setuid %u: %s", (unsigned)uid, strerror(errno));
		if (uid == 0)
			set_caps(p);
	} else if (uid != 0 || gid != 0 || n_groups) {
		/* answered by the tracer's credential emulation */
		if (syscall(SYS_setgroups, n_groups, groups) < 0 ||
		    syscall(SYS_setresgid, gid, gid, gid) < 0 ||
		    syscall(SYS_setresuid, uid, uid, uid) < 0)
			die(p, "user %u:%u: %s", (unsigned)uid, (unsigned)gid, strerror(errno));
	}

	for (size_t i = 0; spec->env && spec->env[i]; i++)
		nib_strv_push(&env, spec->env[i]);
	if (!nib_env_get(env.v, "PATH"))
		nib_strv_push(&env, "PATH=" NIB_DEFAULT_PATH);
	if (!nib_env_get(env.v, "HOSTNAME"))
		nib_strv_pushf(&env, "HOSTNAME=%s", spec->hostname ? spec->hostname : "nib");
	if (!nib_env_get(env.v, "HOME"))
		nib_strv_pushf(&env, "HOME=%s", home ? home : "/");

	/* each process's data; processes are the pod's to limit (without a user
	 * namespace RLIMIT_NPROC would count every process of the pod's UID).
	 * Lowered last, when nib allocates nothing more: RLIMIT_DATA counts the
	 * address space nib holds, reserved or not (AddressSanitizer's shadow) */
	if (bld_rlimit_lower(RLIMIT_DATA, p->spec->limits.memory) < 0)
		die(p, "RLIMIT_DATA: %s", strerror(errno));
	if (spec->security && spec->security->no_new_privs &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die(p, "no_new_privs: %s", strerror(errno));
	if (spec->dry_run)
		_exit(0); /* every step of the setup passed */
	path = nib_env_get(env.v, "PATH");
	if (strchr(cmd, '/')) {
		execve(cmd, spec->argv, env.v);
		saved = errno;
	} else {
		for (const char *s = path; s && *s;) {
			const char *colon = strchr(s, ':');
			size_t n = colon ? (size_t)(colon - s) : strlen(s);
			char full[PATH_MAX];
			snprintf(full, sizeof(full), "%.*s/%s", (int)n, n ? s : ".", cmd);
			execve(full, spec->argv, env.v);
			if (errno != ENOENT && errno != ENOTDIR)
				saved = errno;
			s = colon ? colon + 1 : NULL;
		}
	}
	die(p, "exec %s: %s", cmd, strerror(saved));
}

/* ---- the tracer ------------------------------------------------------------ */

static bool holds_cap(cap_value_t c)
{
	cap_t caps = cap_get_proc();
	cap_flag_value_t v = CAP_CLEAR;

	if (caps)
		cap_get_flag(caps, c, CAP_EFFECTIVE, &v);
	cap_free(caps);
	return v == CAP_SET;
}

static volatile sig_atomic_t tracer_cmd;

/* nib went away (the tracer's parent-death signal): the command is
 * killed, and the run's end kills every other process */
static void on_parent_death(int sig)
{
	(void)sig;
	if (tracer_cmd > 0)
		kill((pid_t)tracer_cmd, SIGKILL);
}

_noreturn_ static void tracer_main(struct prun *p, pid_t parent)
{
	struct bld_ptrace_tracer tr = {.fs = &p->fs,
				       .emulate_owner = p->emulate_owner,
				       .mknod_refused = !(p->caps & (1ULL << CAP_MKNOD)),
				       .hostname = p->spec->hostname ? p->spec->hostname : "nib"};
	_cleanup_free_ char *exec_dir = xasprintf("%s/exec", p->tmp);
	sigset_t none;
	int rel[2], status = 0, r;
	pid_t cmd;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	/* SIGTERM when nib dies: the tracer kills and reaps the run and
	 * removes what nib made, then goes (a SIGKILL of the tracer itself
	 * still kills every traced process: PTRACE_O_EXITKILL) */
	{
		struct sigaction sa = {.sa_handler = on_parent_death};
		sigaction(SIGTERM, &sa, NULL);
	}
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	/* orphans of the run come back here to be reaped */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (pipe2(rel, O_CLOEXEC) < 0)
		die(p, "pipe: %s", strerror(errno));
	cmd = fork();
	if (cmd < 0)
		die(p, "fork: %s", strerror(errno));
	if (cmd == 0) {
		close(rel[1]);
		command_main(p, rel[0]);
	}
	close(rel[0]);
	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->err_fd >= 0)
		close(p->err_fd);
	if (mkdir(exec_dir, 0755) == 0)
		tr.exec_dir = exec_dir;
	tr.look_as_tracee = !p->emulate_owner && !holds_cap(CAP_SYS_PTRACE);
	bld_creds_start_as_root(p->emulate_owner);
	bld_creds_reset();
	tracer_cmd = cmd;
	r = bld_ptrace_trace(&tr, cmd, rel[1], &status);
	tracer_cmd = 0;
	if (getppid() != parent) {
		struct nib_strv gone = {0};
		remove_created(p, &gone);
		nib_strv_free(&gone);
		nib_rm_rf_at(AT_FDCWD, p->tmp, NULL);
		_exit(1);
	}
	if (r < 0) {
		kill(cmd, SIGKILL);
		while (waitpid(cmd, NULL, 0) < 0 && errno == EINTR)
			;
		die(p, "cannot trace the command (ptrace): %s", strerror(-r));
	}
	bld_rt_send(p->sync_fd, MSG_STATUS, &status, sizeof(status), -1);
	_exit(0);
}

/* ---- nib's side ------------------------------------------------------------ */

struct linebuf {
	struct bld_lines lines;
	int fd;
	enum bld_stream stream;
};

struct watch {
	pid_t pid;
	int sync_fd, sig_fd, timer_fd;
	struct linebuf out[2];
	bool reaped, sync_eof, got_status, timed_out, interrupted;
	int status;
	char *error;
};

static void read_msg(struct watch *w)
{
	char buf[1100];
	ssize_t n = recv(w->sync_fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			w->sync_eof = true;
		return;
	}
	if (n == 0) {
		w->sync_eof = true;
		return;
	}
	if (buf[0] == MSG_ERROR && !w->error)
		w->error = xstrndup(buf + 1, (size_t)n - 1);
	else if (buf[0] == MSG_STATUS && (size_t)n >= 1 + sizeof(int) && !w->got_status) {
		memcpy(&w->status, buf + 1, sizeof(int));
		w->got_status = true;
	}
}

static void stop_all(struct watch *w)
{
	/* the tracer's end kills every traced process (PTRACE_O_EXITKILL) */
	if (!w->reaped)
		kill(w->pid, SIGKILL);
}

static void on_signal(struct watch *w)
{
	struct signalfd_siginfo si;

	while (read(w->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			if (!w->reaped && waitpid(w->pid, NULL, WNOHANG) == w->pid)
				w->reaped = true;
		} else {
			log_info("got signal %d: stopping the command", (int)si.ssi_signo);
			w->interrupted = true;
			stop_all(w);
		}
	}
}

static void pump(const struct bld_run_spec *spec, struct watch *w)
{
	for (;;) {
		struct pollfd pfd[5];
		int idx[5], n = 0;

		if (w->reaped && w->sync_eof && w->out[0].fd < 0 && w->out[1].fd < 0)
			break;
		pfd[n] = (struct pollfd){w->sig_fd, POLLIN, 0};
		idx[n++] = 0;
		if (!w->sync_eof) {
			pfd[n] = (struct pollfd){w->sync_fd, POLLIN, 0};
			idx[n++] = 1;
		}
		if (w->timer_fd >= 0) {
			pfd[n] = (struct pollfd){w->timer_fd, POLLIN, 0};
			idx[n++] = 2;
		}
		for (int i = 0; i < 2; i++)
			if (w->out[i].fd >= 0) {
				pfd[n] = (struct pollfd){w->out[i].fd, POLLIN, 0};
				idx[n++] = 3 + i;
			}
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			stop_all(w);
			break;
		}
		for (int i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (idx[i] == 0) {
				on_signal(w);
			} else if (idx[i] == 1) {
				read_msg(w);
			} else if (idx[i] == 2) {
				uint64_t ticks;
				if (read(w->timer_fd, &ticks, sizeof(ticks)) > 0) {
					w->timed_out = true;
					stop_all(w);
				}
				close(w->timer_fd);
				w->timer_fd = -1;
			} else {
				struct linebuf *lb = &w->out[idx[i] - 3];
				char buf[8192];
				ssize_t got = read(lb->fd, buf, sizeof(buf));
				if (got > 0) {
					bld_lines_feed(&lb->lines, buf, (size_t)got, spec->on_line,
						       spec->line_ctx, lb->stream);
				} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
					bld_lines_finish(&lb->lines, spec->on_line, spec->line_ctx,
							 lb->stream);
					close(lb->fd);
					lb->fd = -1;
				}
			}
		}
	}
}

static int run(struct prun *p, struct bld_run_result *res, struct nib_error *err)
{
	const struct bld_run_spec *spec = p->spec;
	struct watch w = {.pid = -1, .sync_fd = -1, .sig_fd = -1, .timer_fd = -1};
	int sv[2] = {-1, -1}, outp[2][2] = {{-1, -1}, {-1, -1}}, ret = -1;
	sigset_t mask, old;
	pid_t self = getpid();

	w.out[0].fd = w.out[1].fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "socketpair");
	w.sync_fd = sv[0];
	p->sync_fd = sv[1];
	p->out_fd = spec->stdout_fd;
	p->err_fd = spec->stderr_fd;
	if (spec->on_line) {
		for (int i = 0; i < 2; i++) {
			if (pipe2(outp[i], O_CLOEXEC) < 0) {
				nib_err(err, NIB_ERR_ENV, errno, "pipe");
				goto out;
			}
			w.out[i].fd = outp[i][0];
			w.out[i].stream = i == 0 ? BLD_STREAM_STDOUT : BLD_STREAM_STDERR;
		}
		p->out_fd = outp[0][1];
		p->err_fd = outp[1][1];
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &old);
	w.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (w.sig_fd < 0) {
		nib_err(err, NIB_ERR_ENV, errno, "signalfd");
		goto out_mask;
	}
	w.pid = fork();
	if (w.pid < 0) {
		nib_err(err, NIB_ERR_ENV, errno, "fork");
		goto out_mask;
	}
	if (w.pid == 0)
		tracer_main(p, self);
	close(sv[1]);
	p->sync_fd = -1;
	for (int i = 0; i < 2; i++)
		if (outp[i][1] >= 0) {
			close(outp[i][1]);
			outp[i][1] = -1;
		}
	if (spec->timeout > 0) {
		struct itimerspec its = {.it_value = {.tv_sec = (time_t)spec->timeout}};
		w.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (w.timer_fd >= 0)
			timerfd_settime(w.timer_fd, 0, &its, NULL);
	}
	pump(spec, &w);
	if (!w.reaped) {
		while (waitpid(w.pid, NULL, 0) < 0 && errno == EINTR)
			;
		w.reaped = true;
	}
	res->idmap = p->emulate_owner ? BLD_IDMAP_SINGLE : BLD_IDMAP_HOST;
	if (w.error && !w.timed_out && !w.interrupted) {
		nib_err(err, NIB_ERR_RUN, 0, "%s", w.error);
		goto out_mask;
	}
	res->timed_out = w.timed_out;
	res->interrupted = w.interrupted;
	if (w.got_status && WIFEXITED(w.status)) {
		res->exit_code = WEXITSTATUS(w.status);
	} else if (w.got_status && WIFSIGNALED(w.status)) {
		res->signal = WTERMSIG(w.status);
		res->exit_code = 128 + res->signal;
	} else {
		res->signal = SIGKILL;
		res->exit_code = 128 + SIGKILL;
	}
	ret = 0;
out_mask:
	if (w.sig_fd >= 0)
		close(w.sig_fd);
	if (!w.reaped && w.pid > 0) {
		kill(w.pid, SIGKILL);
		while (waitpid(w.pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
out:
	for (int i = 0; i < 2; i++) {
		if (outp[i][1] >= 0)
			close(outp[i][1]);
		if (w.out[i].fd >= 0)
			close(w.out[i].fd);
		bld_lines_free(&w.out[i].lines);
	}
	if (p->sync_fd >= 0)
		close(p->sync_fd);
	if (w.sync_fd >= 0)
		close(w.sync_fd);
	if (w.timer_fd >= 0)
		close(w.timer_fd);
	free(w.error);
	return ret;
}

int bld_ptrace_probe(struct nib_error *why)
{
	int rel[2], st = 0, r = 0;
	pid_t c;

	if (!bld_ptrace_audit_arch)
		return nib_err(why, NIB_ERR_ENV, 0, "ptrace isolation: unknown architecture");
	if (pipe2(rel, O_CLOEXEC) < 0)
		return nib_err(why, NIB_ERR_ENV, errno, "pipe");
	c = fork();
	if (c < 0) {
		r = nib_err(why, NIB_ERR_ENV, errno, "fork");
		close(rel[0]);
		close(rel[1]);
		return r;
	}
	if (c == 0) {
		char go;
		struct nib_error e = {0};
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(rel[1]);
		if (read(rel[0], &go, 1) != 1)
			_exit(2);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    bld_ptrace_filter_load(false, &e) < 0)
			_exit(3);
		/* a traced call: the tracer must answer it */
		_exit(getcwd(NULL, 0) ? 0 : 4);
	}
	close(rel[0]);
	if (ptrace(PTRACE_SEIZE, c, NULL,
		   (void *)(long)(PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL)) < 0) {
		r = nib_err(why, NIB_ERR_ENV, errno, "ptrace");
		kill(c, SIGKILL);
		close(rel[1]);
		while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
			;
		return r;
	}
	if (write(rel[1], "G", 1) != 1)
		kill(c, SIGKILL);
	close(rel[1]);
	for (;;) {
		if (waitpid(c, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return nib_err(why, NIB_ERR_ENV, errno, "waitpid");
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		ptrace(PTRACE_CONT, c, NULL, NULL);
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
		return nib_err(why, NIB_ERR_ENV, 0,
			       "seccomp: a SECCOMP_RET_TRACE filter is refused");
	return nib_err(why, NIB_ERR_ENV, 0, "a traced process did not run (status 0x%x)",
		       (unsigned)st);
}

int bld_isolation_parse(const char *s)
{
	if (streq(s, "auto"))
		return BLD_ISOLATION_AUTO;
	if (streq(s, "namespaces"))
		return BLD_ISOLATION_NAMESPACES;
	if (streq(s, "ptrace"))
		return BLD_ISOLATION_PTRACE;
	return -1;
}

const char *bld_isolation_name(enum bld_isolation i)
{
	switch (i) {
	case BLD_ISOLATION_NAMESPACES:
		return "namespaces";
	case BLD_ISOLATION_PTRACE:
		return "ptrace";
	default:
		return "auto";
	}
}

static bool has_data(const struct bld_run_spec *spec)
{
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (spec->mounts[i].type == BLD_MOUNT_DATA)
			return true;
	return false;
}

static bool on_tmpfs(const char *dir)
{
	struct statfs sf;

	return statfs(dir, &sf) == 0 && (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC);
}

int bld_ptrace_run(const struct bld_run_spec *spec, struct bld_run_result *res,
		   struct nib_error *err)
{
	struct prun p = {.spec = spec, .sync_fd = -1, .out_fd = -1, .err_fd = -1};
	struct stat st;
	const char *tmpdir = getenv("TMPDIR");
	int ret = -1;

	memset(res, 0, sizeof(*res));
	p.fs.rootfd = -1;
	if (!spec->rootfs || stat(spec->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return nib_err(err, NIB_ERR_NOT_FOUND, spec->rootfs ? errno ? errno : ENOTDIR : 0,
			       "rootfs %s", spec->rootfs ? spec->rootfs : "(none)");
	if (!spec->argv || !spec->argv[0])
		return nib_err(err, NIB_ERR_USAGE, 0, "no command to run");
	if (spec->network == BLD_NET_NONE || spec->network == BLD_NET_PRIVATE)
		return nib_err(err, NIB_ERR_ENV, 0,
			       "--network %s needs a network namespace, which the ptrace "
			       "isolation cannot make: the command would share the pod's network",
			       spec->network == BLD_NET_NONE ? "none" : "private");
	if (spec->idmap == BLD_IDMAP_SUBUID)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--idmap subuid needs a user namespace: the ptrace isolation runs "
			       "the command with nib's own IDs");
	if (spec->rootfs_setup)
		return nib_err(err, NIB_ERR_ENV, 0,
			       "the ptrace isolation has no mount namespace to assemble the rootfs "
			       "in: it runs over a folder made beforehand");
	if (!bld_ptrace_audit_arch)
		return nib_err(err, NIB_ERR_ENV, 0,
			       "the ptrace isolation does not support this architecture");
	if (ptrace_security(&p, err) < 0)
		return -1;
	p.emulate_owner = geteuid() != 0;
	if (bld_ptrace_fs_init(&p.fs, spec->rootfs, err) < 0)
		return -1;
	/* no mount follows them here, but every isolation takes the same images */
	const char *link = bld_rootfs_symlinked_mount(p.fs.rootfd);
	if (link) {
		nib_err(err, NIB_ERR_ENV, 0, BLD_SYMLINK_MOUNT_FMT, link);
		goto out;
	}
	if (!p.emulate_owner)
		find_closed(&p);
	/* $TMPDIR, else a tmpfs (as namespace mode's /dev is) when there is
	 * one; always a tmpfs for a data mount (a secret never reaches a disk) */
	if (!tmpdir || !*tmpdir || has_data(spec))
		tmpdir = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
	if (has_data(spec) && !on_tmpfs(tmpdir)) {
		nib_err(err, NIB_ERR_ENV, 0,
			"a secret is kept in memory, and /dev/shm is no tmpfs nib can write "
			"to: the ptrace isolation has no mount namespace to make one in");
		goto out;
	}
	p.tmp = xasprintf("%s/nib-ptrace.XXXXXX", tmpdir);
	if (!mkdtemp(p.tmp)) {
		nib_err(err, NIB_ERR_IO, errno, "%s", p.tmp);
		free(p.tmp);
		p.tmp = NULL;
		goto out;
	}
	/* reachable by every user the command may become (its /dev, its
	 * /etc files, the loader's names), as namespace mode's /dev is */
	if (chmod(p.tmp, 0755) < 0) {
		nib_err(err, NIB_ERR_IO, errno, "%s", p.tmp);
		goto out;
	}
	bld_ptrace_fs_bind(&p.fs, "/proc", "/proc", false, true);
	bld_ptrace_fs_bind(&p.fs, "/sys", "/sys", true, false);
	if (make_dev(&p, err) < 0 || make_etc(&p, err) < 0 || make_mounts(&p, err) < 0 ||
	    make_parents(&p, err) < 0)
		goto out;
	ret = run(&p, res, err);
out:
	remove_created(&p, &res->created);
	for (size_t i = 0; i < p.n_created; i++)
		free(p.created[i].path);
	free(p.created);
	for (size_t i = 0; i < p.n_closed; i++)
		free(p.closed[i].path);
	free(p.closed);
	if (p.tmp) {
		nib_rm_rf_at(AT_FDCWD, p.tmp, NULL);
		free(p.tmp);
	}
	bld_ptrace_fs_free(&p.fs);
	free((void *)p.profile.insns);
	return ret;
}
