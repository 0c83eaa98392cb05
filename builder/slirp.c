/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A RUN step's own network: a network namespace of its own with a
 * user-space network stack (slirp4netns, as rootless podman uses) behind a
 * tap device, so that the step reaches the outside but not the host's
 * loopback services (--disable-host-loopback) nor its abstract Unix
 * sockets (they belong to a network namespace). It needs the slirp4netns
 * program and a usable /dev/net/tun; where either is missing RUN shares the
 * host's (or pod's) network, and nib info says so.
 */
#define BLD_RUNTIME_INTERNAL 1
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "builder/runtime_internal.h"

static char *find_slirp(void)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");

	for (char *s = copy, *tok; (tok = strsep(&s, ":"));) {
		char *p = xasprintf("%s/slirp4netns", *tok ? tok : ".");
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

bool bld_slirp_usable(char **why)
{
	_cleanup_free_ char *prog = find_slirp();
	int fd;

	*why = NULL;
	if (!prog) {
		*why = xstrdup("slirp4netns is not installed");
		return false;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		*why = xasprintf("/dev/net/tun: %s", strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

int bld_slirp_start(pid_t child, struct bld_slirp *s, struct nib_error *err)
{
	_cleanup_free_ char *prog = find_slirp();
	char ready_arg[32], exit_arg[32], userns[64], netns[64];
	int ready[2] = {-1, -1}, ex[2] = {-1, -1}, r;
	posix_spawn_file_actions_t fa;
	char c;

	s->pid = -1;
	s->exit_fd = -1;
	s->log_fd = -1;
	if (!prog)
		return nib_err(err, NIB_ERR_ENV, ENOENT, "slirp4netns is not installed");
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0) {
		r = errno;
		closep(&ready[0]), closep(&ready[1]), closep(&ex[0]), closep(&ex[1]);
		return nib_err(err, NIB_ERR_ENV, r, "pipe");
	}
	/* the child's ends as fds 3 and 4 of slirp4netns */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ready[1], 3);
	posix_spawn_file_actions_adddup2(&fa, ex[0], 4);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	/* its chatter (and warnings) kept in memory for the error, if any */
	s->log_fd = memfd_create("slirp4netns", MFD_CLOEXEC);
	if (s->log_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, s->log_fd, 2);
	else
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	snprintf(ready_arg, sizeof(ready_arg), "--ready-fd=3");
	snprintf(exit_arg, sizeof(exit_arg), "--exit-fd=4");
	snprintf(userns, sizeof(userns), "--userns-path=/proc/%d/ns/user", (int)child);
	snprintf(netns, sizeof(netns), "/proc/%d/ns/net", (int)child);
	char *argv[] = {
	    prog,      "--configure", "--mtu=65520", "--disable-host-loopback", "--enable-seccomp",
	    ready_arg, exit_arg,      userns,	     "--netns-type=path",	netns,
	    "tap0",    NULL};
	/* nothing of nib's environment (secrets included): it outlives the
	 * step and anyone with its UID reads /proc/PID/environ */
	char *envp[] = {"PATH=" NIB_DEFAULT_PATH, NULL};
	r = posix_spawn(&s->pid, prog, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(ready[1]);
	close(ex[0]);
	if (r != 0) {
		close(ready[0]);
		close(ex[1]);
		s->pid = -1;
		return nib_err(err, NIB_ERR_ENV, r, "start %s", prog);
	}
	s->exit_fd = ex[1];
	/* "1" on the ready fd once tap0 is configured; EOF when it failed */
	struct pollfd p = {ready[0], POLLIN, 0};
	r = poll(&p, 1, 10000);
	if (r <= 0 || read(ready[0], &c, 1) != 1) {
		char msg[4096] = "";
		ssize_t n = s->log_fd >= 0 ? pread(s->log_fd, msg, sizeof(msg) - 1, 0) : -1;
		char *last;

		close(ready[0]);
		bld_slirp_stop(s);
		msg[n > 0 ? n : 0] = '\0';
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		last = strrchr(msg, '\n');
		last = last ? last + 1 : msg;
		return nib_err(
		    err, NIB_ERR_ENV, r == 0 ? ETIMEDOUT : 0,
		    "slirp4netns did not set up the step's network%s%s%s (--network host "
		    "shares the host's)",
		    r == 0 ? " within 10 s" : "", *last ? ": " : "", last);
	}
	close(ready[0]);
	return 0;
}

void bld_slirp_stop(struct bld_slirp *s)
{
	if (s->exit_fd >= 0)
		close(s->exit_fd); /* slirp4netns exits when this closes */
	s->exit_fd = -1;
	if (s->pid > 0) {
		int status;
		struct timespec ts = {0, 10 * 1000 * 1000};
		for (int i = 0; i < 300 && waitpid(s->pid, &status, WNOHANG) == 0; i++)
			nanosleep(&ts, NULL);
		if (waitpid(s->pid, &status, WNOHANG) == 0) {
			kill(s->pid, SIGKILL);
			while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
				;
		}
	}
	s->pid = -1;
	if (s->log_fd >= 0)
		close(s->log_fd);
	s->log_fd = -1;
}
