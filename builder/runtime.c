/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime, parent side: choose the ID map, generate /etc files, clone
 * the container's pid 1 into new namespaces, write its ID maps, then
 * supervise it (output, single-UID ownership emulation, timeout, signals)
 * until it is gone, and remove the mount targets it had to create. The
 * container side, in order, is runtime_setup.c.
 */
#define BLD_RUNTIME_INTERNAL 1
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "builder/runtime_internal.h"
#include "builder/lines.h"

void bld_run_spec_init(struct bld_run_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->stdin_fd = spec->stdout_fd = spec->stderr_fd = -1;
}

void bld_run_result_free(struct bld_run_result *r)
{
	nib_strv_free(&r->created);
}

int bld_rt_send(int sock, char type, const void *data, size_t len, int passfd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov[2] = {{&type, 1}, {(void *)data, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};

	if (type == BLD_MSG_CREATED) {
		/* the struct carries its own type byte */
		iov[0] = (struct iovec){(void *)data, len};
		mh.msg_iovlen = 1;
	}
	if (passfd >= 0) {
		struct cmsghdr *c;
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

/* A fresh /proc was refused in an earlier run of this process (a pod's
 * masked /proc): later runs bind the outer one without trying again. */
static bool proc_refused;
/* slirp4netns failed in an earlier run: later ones use the host's network */
static bool slirp_refused;

/* ---- after the run: remove the mount targets the runtime created -------- */

static void remove_created(const char *rootfs, struct bld_msg_created *c, size_t n,
			   struct nib_strv *out)
{
	_cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);

	for (size_t i = 0; i < n; i++)
		nib_strv_push(out, c[i].path);
	if (rootfd < 0)
		return;
	for (size_t i = n; i-- > 0;) {
		_cleanup_free_ char *dir = NULL;
		_cleanup_close_ int dfd = -1;
		const char *slash = strrchr(c[i].path, '/'), *name;
		struct stat st;

		dir = slash ? xstrndup(c[i].path, (size_t)(slash - c[i].path)) : xstrdup("");
		name = slash ? slash + 1 : c[i].path;
		dfd = nib_open_in_root(rootfd, dir, O_RDONLY | O_DIRECTORY, 0, NULL);
		if (dfd < 0 || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode) && st.st_size == 0) {
			if (unlinkat(dfd, name, 0) < 0)
				continue;
		} else if (S_ISDIR(st.st_mode)) {
			if (unlinkat(dfd, name, AT_REMOVEDIR) < 0)
				continue; /* the run left something in it */
		} else {
			continue;
		}
		futimens(dfd, c[i].times);
	}
}

/* ---- the command's output, timer and result (ptrace.c may share them) ---- */

int bld_run_out_open(struct bld_run_out out[2], int *child_out, int *child_err,
		     struct nib_error *err)
{
	int p[2];

	for (int i = 0; i < 2; i++) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return nib_err(err, NIB_ERR_ENV, errno, "pipe");
		out[i].fd = p[0];
		out[i].stream = i == 0 ? BLD_STREAM_STDOUT : BLD_STREAM_STDERR;
		*(i == 0 ? child_out : child_err) = p[1];
	}
	return 0;
}

void bld_run_out_read(struct bld_run_out *o, const struct bld_run_spec *spec)
{
	char buf[8192];
	ssize_t got = read(o->fd, buf, sizeof(buf));

	if (got > 0) {
		bld_lines_feed(&o->lines, buf, (size_t)got, spec->on_line, spec->line_ctx,
			       o->stream);
	} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
		bld_lines_finish(&o->lines, spec->on_line, spec->line_ctx, o->stream);
		closep(&o->fd);
	}
}

void bld_run_out_close(struct bld_run_out out[2])
{
	for (int i = 0; i < 2; i++) {
		closep(&out[i].fd);
		bld_lines_free(&out[i].lines);
	}
}

int bld_run_timer(unsigned seconds)
{
	struct itimerspec its = {.it_value = {.tv_sec = (time_t)seconds}};
	int fd;

	if (seconds == 0)
		return -1;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd >= 0)
		timerfd_settime(fd, 0, &its, NULL);
	return fd;
}

int bld_run_signals(sigset_t *old, struct nib_error *err)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, old);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		nib_err(err, NIB_ERR_ENV, errno, "signalfd");
	return fd;
}

void bld_run_result_set(struct bld_run_result *res, bool got_status, int status, bool timed_out,
			bool interrupted)
{
	res->timed_out = timed_out;
	res->interrupted = interrupted;
	if (got_status && WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
	} else if (got_status && WIFSIGNALED(status)) {
		res->signal = WTERMSIG(status);
		res->exit_code = 128 + res->signal;
	} else {
		/* pid 1 was killed (timeout, interrupt) before the command ended */
		res->signal = SIGKILL;
		res->exit_code = 128 + SIGKILL;
	}
}

/* ---- the run -------------------------------------------------------------- */

struct run_state {
	pid_t pid;
	int sync_fd;
	int notify_fd;
	int sig_fd;
	int timer_fd;
	struct bld_run_out out[2];
	bool reaped, sync_eof, got_status;
	int status;
	char *error;
	struct bld_msg_created *created;
	size_t n_created, cap_created;
	bool timed_out, interrupted;
	struct bld_slirp slirp;
	bool emulate_owner; /* single UID: the supervisor records every owner */
};

static void read_sync(struct run_state *st)
{
	struct bld_msg_created msg;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&msg, sizeof(msg)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	ssize_t n = recvmsg(st->sync_fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	char *p = (char *)&msg;
	int passed = -1;

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			st->sync_eof = true;
		return;
	}
	if (n == 0) {
		st->sync_eof = true;
		return;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&passed, CMSG_DATA(c), sizeof(int));
	switch (p[0]) {
	case BLD_MSG_ERROR:
		if (!st->error)
			st->error = xstrndup(p + 1, (size_t)n - 1);
		break;
	case BLD_MSG_CREATED:
		if ((size_t)n == sizeof(msg)) {
			msg.path[sizeof(msg.path) - 1] = '\0';
			st->created = xgrow(st->created, &st->cap_created, st->n_created + 1,
					    sizeof(*st->created));
			st->created[st->n_created++] = msg;
		}
		break;
	case BLD_MSG_NOTIFY:
		if (passed >= 0 && st->notify_fd < 0) {
			st->notify_fd = passed;
			passed = -1;
			bld_seccomp_supervise_init(st->notify_fd);
		}
		break;
	case BLD_MSG_PROC_BOUND:
		proc_refused = true;
		break;
	case BLD_MSG_STATUS:
		if ((size_t)n >= 1 + sizeof(int) && !st->got_status) {
			memcpy(&st->status, p + 1, sizeof(int));
			st->got_status = true;
		}
		break;
	}
	if (passed >= 0)
		close(passed);
}

static void kill_container(struct run_state *st)
{
	/* SIGKILL to pid 1 of the namespace kills every process in it */
	if (!st->reaped)
		kill(st->pid, SIGKILL);
}

static void handle_signal(struct run_state *st)
{
	struct signalfd_siginfo si;
	int status;

	while (read(st->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			if (!st->reaped && waitpid(st->pid, &status, WNOHANG) == st->pid) {
				st->reaped = true;
				if (!st->got_status && WIFSIGNALED(status)) {
					st->status = status;
				}
			}
		} else {
			log_info("got signal %d: stopping the container", (int)si.ssi_signo);
			st->interrupted = true;
			kill_container(st);
		}
	}
}

static void pump(const struct bld_run_spec *spec, struct run_state *st)
{
	for (;;) {
		struct pollfd pfd[6];
		int idx[6], n = 0;
		struct nib_error e = {0};
		bool done = st->reaped && st->sync_eof && st->out[0].fd < 0 && st->out[1].fd < 0;

		if (done)
			break;
		pfd[n] = (struct pollfd){st->sig_fd, POLLIN, 0};
		idx[n++] = 0;
		if (!st->sync_eof) {
			pfd[n] = (struct pollfd){st->sync_fd, POLLIN, 0};
			idx[n++] = 1;
		}
		if (st->notify_fd >= 0) {
			pfd[n] = (struct pollfd){st->notify_fd, POLLIN, 0};
			idx[n++] = 2;
		}
		if (st->timer_fd >= 0) {
			pfd[n] = (struct pollfd){st->timer_fd, POLLIN, 0};
			idx[n++] = 3;
		}
		for (int i = 0; i < 2; i++)
			if (st->out[i].fd >= 0) {
				pfd[n] = (struct pollfd){st->out[i].fd, POLLIN, 0};
				idx[n++] = 4 + i;
			}
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			kill_container(st);
			break;
		}
		for (int i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			switch (idx[i]) {
			case 0:
				handle_signal(st);
				break;
			case 1:
				read_sync(st);
				break;
			case 2:
				if (pfd[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
					close(st->notify_fd);
					st->notify_fd = -1;
				} else if (bld_seccomp_supervise_one(st->notify_fd,
								     st->emulate_owner, &e) < 0) {
					log_warn("%s", e.msg);
					nib_err_clear(&e);
					close(st->notify_fd);
					st->notify_fd = -1;
				}
				break;
			case 3: {
				uint64_t ticks;
				if (read(st->timer_fd, &ticks, sizeof(ticks)) > 0) {
					st->timed_out = true;
					kill_container(st);
				}
				close(st->timer_fd);
				st->timer_fd = -1;
				break;
			}
			default:
				bld_run_out_read(&st->out[idx[i] - 4], spec);
			}
		}
	}
}

/* How one attempt ended. */
enum attempt {
	ATTEMPT_RAN = 0,       /* the command ran (whatever its status) */
	ATTEMPT_FAILED,	       /* the container could not be set up (err set) */
	ATTEMPT_IDMAP_REFUSED, /* writing the ID map failed (err set): auto may try
				* the next mode */
	ATTEMPT_SLIRP_REFUSED, /* slirp4netns could not start (err set): auto may
				* take the host's network */
};

/* Clone pid 1 of the container's namespaces (without a cgroup namespace
 * where one is refused); the child never returns. */
static pid_t clone_container(struct bld_rt *rt, unsigned long flags, struct nib_error *err)
{
	pid_t pid;

	rt->cgroup = bld_cgroup_step_new(&rt->spec->limits); /* NULL: the child sets rlimits */
	for (;;) {
		pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
		if (pid == 0)
			bld_runtime_child(rt);
		if (pid > 0 || !(flags & CLONE_NEWCGROUP) || (errno != EINVAL && errno != EPERM))
			break;
		flags &= ~(unsigned long)CLONE_NEWCGROUP; /* not allowed here: go without */
	}
	if (pid < 0)
		nib_err(err, NIB_ERR_ENV, errno,
			"cannot create the container's namespaces (clone)%s",
			errno == EPERM || errno == ENOSPC || errno == EUSERS
			    ? "; user namespaces may be disabled: see 'nib info'"
			    : "");
	return pid;
}

static void run_state_free(struct run_state *st)
{
	bld_run_out_close(st->out);
	closep(&st->sync_fd);
	closep(&st->notify_fd);
	closep(&st->timer_fd);
	closep(&st->sig_fd);
	free(st->error);
	free(st->created);
	bld_slirp_stop(&st->slirp);
}

/* Run the container with signals blocked (they arrive on st->sig_fd):
 * clone, write the ID maps, let it go, supervise it until it is gone. */
static enum attempt run_blocked(struct bld_rt *rt, struct run_state *st, int (*sv)[2],
				struct bld_run_result *res, struct nib_error *err)
{
	const struct bld_run_spec *spec = rt->spec;
	const struct bld_idmap_backend *backend = bld_idmap_backend_get(rt->idmap.mode);
	unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
			      CLONE_NEWUTS | CLONE_NEWCGROUP | (rt->netns ? CLONE_NEWNET : 0);
	_cleanup_child_ pid_t pid = clone_container(rt, flags, err);

	if (pid < 0)
		return ATTEMPT_FAILED;
	st->pid = pid;
	st->emulate_owner = rt->idmap.mode == BLD_IDMAP_SINGLE;
	closep(&(*sv)[1]);
	rt->sync_fd = -1;
	if (spec->on_line) {
		closep(&rt->out_fd);
		closep(&rt->err_fd);
	}
	if (rt->cgroup && bld_cgroup_step_enter(rt->cgroup, pid) < 0) {
		nib_err(err, NIB_ERR_ENV, errno, "move the step into %s", rt->cgroup);
		return ATTEMPT_FAILED;
	}
	if (backend->apply(&rt->idmap, pid, err) < 0)
		return ATTEMPT_IDMAP_REFUSED; /* the child is killed and reaped */
	if (rt->network == BLD_NET_PRIVATE && bld_slirp_start(pid, &st->slirp, err) < 0)
		return ATTEMPT_SLIRP_REFUSED;
	if (bld_rt_send(st->sync_fd, BLD_MSG_GO, NULL, 0, -1) < 0) {
		nib_err(err, NIB_ERR_ENV, errno, "container setup");
		kill_container(st);
	}
	st->timer_fd = bld_run_timer(spec->timeout);
	pump(spec, st);
	if (!st->reaped)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	st->reaped = true;
	pid = -1; /* reaped */
	res->idmap = rt->idmap.mode;
	remove_created(spec->rootfs, st->created, st->n_created, &res->created);
	if (st->error && !st->timed_out && !st->interrupted) {
		nib_err(err, NIB_ERR_RUN, 0, "%s", st->error);
		return ATTEMPT_FAILED;
	}
	bld_run_result_set(res, st->got_status, st->status, st->timed_out, st->interrupted);
	bld_cgroup_step_end(steal_pointer(&rt->cgroup), res);
	return ATTEMPT_RAN;
}

/* One attempt with the ID map in rt->idmap. */
static enum attempt run_once(struct bld_rt *rt, struct bld_run_result *res, struct nib_error *err)
{
	const struct bld_run_spec *spec = rt->spec;
	struct run_state st = {.pid = -1,
			       .sync_fd = -1,
			       .notify_fd = -1,
			       .sig_fd = -1,
			       .timer_fd = -1,
			       .slirp = {.pid = -1, .exit_fd = -1, .log_fd = -1}};
	_cleanup_pair_ int sv[2] = {-1, -1};
	sigset_t old;
	enum attempt ret;

	st.out[0].fd = st.out[1].fd = -1;
	bld_creds_reset();
	/* the caller's fds, or the pipes nib reads the output lines from */
	rt->out_fd = spec->on_line ? -1 : spec->stdout_fd;
	rt->err_fd = spec->on_line ? -1 : spec->stderr_fd;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		nib_err(err, NIB_ERR_ENV, errno, "socketpair");
		return ATTEMPT_FAILED;
	}
	st.sync_fd = take_fd(&sv[0]);
	rt->sync_fd = sv[1];
	if (spec->on_line && bld_run_out_open(st.out, &rt->out_fd, &rt->err_fd, err) < 0) {
		ret = ATTEMPT_FAILED;
		goto out;
	}
	st.sig_fd = bld_run_signals(&old, err);
	ret = st.sig_fd < 0 ? ATTEMPT_FAILED : run_blocked(rt, &st, &sv, res, err);
	/* the container is gone (run_blocked reaped or killed it): signals
	 * may be handled again */
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (rt->cgroup) { /* not reached: no result to read */
		struct bld_run_result gone = {0};
		bld_cgroup_step_end(steal_pointer(&rt->cgroup), &gone);
	}
out:
	if (spec->on_line) {
		closep(&rt->out_fd);
		closep(&rt->err_fd);
	}
	rt->sync_fd = -1;
	run_state_free(&st);
	return ret;
}

/* The rung a run takes with `isolation` (auto resolved): namespaces where
 * a user namespace can be made, else ptrace when the caller allows it and
 * it works here. */
static enum bld_isolation pick_isolation(enum bld_isolation isolation)
{
	static int ptrace_ok = -1;
	if (isolation != BLD_ISOLATION_AUTO || bld_userns_probe(NULL) == 0)
		return isolation == BLD_ISOLATION_AUTO ? BLD_ISOLATION_NAMESPACES : isolation;
	if (ptrace_ok < 0) {
		ptrace_ok = bld_ptrace_probe(NULL) == 0;
		if (ptrace_ok)
			log_info("RUN steps go through the ptrace isolation (no user namespace can "
				 "be made here): not a security boundary, the pod is");
	}
	return ptrace_ok ? BLD_ISOLATION_PTRACE : BLD_ISOLATION_NAMESPACES;
}

int bld_runtime_usable(enum bld_idmap idmap, enum bld_isolation isolation, struct nib_error *err)
{
	struct nib_error why = {0}, pwhy = {0};

	if (isolation == BLD_ISOLATION_PTRACE)
		return bld_ptrace_probe(err) < 0 ? nib_err_wrap(err, "--isolation ptrace") : 0;
	if (pick_isolation(isolation) == BLD_ISOLATION_PTRACE)
		return 0;

	if (idmap == BLD_IDMAP_NONE)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "RUN needs a user namespace, and --idmap none makes none");
	/* every run makes a user namespace, root's too (with the host map) */
	if (bld_userns_probe(&why) == 0) {
		struct bld_idmap_ctx ctx;
		if (bld_idmap_choose(idmap, &ctx, NULL, NULL) == 0 &&
		    bld_idmap_can_map_root(&ctx, err) < 0)
			return -1;
		return 0;
	}
	if (isolation == BLD_ISOLATION_AUTO)
		bld_ptrace_probe(&pwhy);
	nib_err(err, NIB_ERR_ENV, 0,
		"RUN needs a user namespace, and none can be made here: %s%s%s%s. Steps without "
		"RUN work here; for RUN, give the pod nib's Localhost seccomp profile "
		"(deploy/seccomp/nib.json), hostUsers: false, or Unconfined",
		why.msg, pwhy.msg ? "; the ptrace isolation is refused too (" : "",
		pwhy.msg ? pwhy.msg : "", pwhy.msg ? ")" : "");
	if (err)
		err->errnum = why.errnum;
	nib_err_clear(&why);
	nib_err_clear(&pwhy);
	return -1;
}

int bld_runtime_run(const struct bld_run_spec *spec, struct bld_run_result *res,
		    struct nib_error *err)
{
	struct bld_rt rt = {.spec = spec, .sync_fd = -1, .out_fd = -1, .err_fd = -1};
	_cleanup_free_ char *why = NULL;
	struct stat st;

	if (pick_isolation(spec->isolation) == BLD_ISOLATION_PTRACE) {
		struct bld_run_spec ps = *spec;
		if (ps.idmap == BLD_IDMAP_NONE)
			ps.idmap = BLD_IDMAP_AUTO; /* the pod user's own IDs, as none means */
		return bld_ptrace_run(&ps, res, err);
	}
	memset(res, 0, sizeof(*res));
	if (!spec->rootfs || stat(spec->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return nib_err(err, NIB_ERR_NOT_FOUND, spec->rootfs ? errno ? errno : ENOTDIR : 0,
			       "rootfs %s", spec->rootfs ? spec->rootfs : "(none)");
	if (!spec->argv || !spec->argv[0])
		return nib_err(err, NIB_ERR_USAGE, 0, "no command to run");
	if (bld_idmap_choose(spec->idmap, &rt.idmap, &why, err) < 0)
		return -1;
	if (rt.idmap.mode == BLD_IDMAP_NONE)
		return bld_runtime_usable(spec->idmap, spec->isolation, err);
	if (bld_idmap_can_map_root(&rt.idmap, err) < 0)
		return -1;
	if (why)
		log_info("ID map: %s (%s)", bld_idmap_name(rt.idmap.mode), why);
	rt.network = spec->network == BLD_NET_AUTO && slirp_refused ? BLD_NET_HOST : spec->network;
	if (rt.network == BLD_NET_AUTO || rt.network == BLD_NET_PRIVATE) {
		_cleanup_free_ char *nowhy = NULL;
		bool ok = bld_slirp_usable(&nowhy);
		if (!ok && rt.network == BLD_NET_PRIVATE)
			return nib_err(err, NIB_ERR_ENV, 0, "--network private: %s", nowhy);
		if (!ok)
			log_debug("network: the host's (%s)", nowhy);
		rt.network = ok ? BLD_NET_PRIVATE : BLD_NET_HOST;
	}
	rt.netns = rt.network != BLD_NET_HOST;
	rt.proc_bind = proc_refused;
	if (bld_rt_security(&rt, err) < 0)
		return -1;
	bld_selinux_labels(spec->security, &rt.selinux_label, &rt.selinux_mount);
	bld_etc_files_make(spec, rt.network, rt.etc_files);

	enum attempt a = run_once(&rt, res, err);
	if (a == ATTEMPT_SLIRP_REFUSED && spec->network == BLD_NET_AUTO) {
		/* slirp4netns cannot run here after all (a seccomp profile that
		 * refuses it setns): the host's network, for this run and later */
		log_warn("RUN uses the host's network: %s", err->msg);
		nib_err_clear(err);
		slirp_refused = true;
		rt.network = BLD_NET_HOST;
		rt.netns = false;
		for (size_t i = 0; i < ARRAY_SIZE(rt.etc_files); i++)
			free(steal_pointer(&rt.etc_files[i]));
		bld_etc_files_make(spec, rt.network, rt.etc_files);
		a = run_once(&rt, res, err);
	}
	if (a == ATTEMPT_IDMAP_REFUSED && spec->idmap == BLD_IDMAP_AUTO &&
	    rt.idmap.mode == BLD_IDMAP_SUBUID) {
		log_info("ID map: single (subuid: %s)", err->msg);
		nib_err_clear(err);
		a = bld_idmap_choose(BLD_IDMAP_SINGLE, &rt.idmap, NULL, err) == 0
			? run_once(&rt, res, err)
			: ATTEMPT_FAILED;
	}
	for (size_t i = 0; i < ARRAY_SIZE(rt.etc_files); i++)
		free(rt.etc_files[i]);
	free(rt.selinux_label);
	free(rt.selinux_mount);
	bld_rt_security_free(&rt);
	return a == ATTEMPT_RAN ? 0 : -1;
}
