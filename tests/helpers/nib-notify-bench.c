/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib-notify-bench: what honouring recorded owners and modes in open(2)
 * would cost a single-UID RUN step (issue: the single-UID limit). Times
 * openat of one file N times plainly, then trapped by a seccomp user
 * notification that a supervisor answers with CONTINUE, then with the
 * least an owner check needs first: the path read from the caller's
 * memory (/proc/PID/mem) and the file's ownership record (getxattr).
 *
 *   nib-notify-bench [N] [FILE]      (default 100000 /etc/hostname)
 *
 * Prints one line per way, in microseconds per open.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The supervisor, in a child: it has the filter too, so it opens with
 * open(2), which the filter does not trap. */
_Noreturn static void supervise(int nfd, int check)
{
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;

	if (seccomp_notify_alloc(&req, &resp) < 0)
		_exit(1);
	for (;;) {
		memset(req, 0, sizeof(*req));
		if (seccomp_notify_receive(nfd, req) < 0) {
			if (errno == EINTR)
				continue;
			_exit(0);
		}
		if (check) {
			char path[4096], mp[64], rec[80];
			snprintf(mp, sizeof(mp), "/proc/%d/mem", (int)req->pid);
			int m = (int)syscall(SYS_open, mp, O_RDONLY | O_CLOEXEC);
			ssize_t n =
			    m < 0 ? -1 : pread(m, path, sizeof(path) - 1, (off_t)req->data.args[1]);
			if (m >= 0)
				close(m);
			path[n > 0 ? n : 0] = '\0';
			(void)getxattr(path, "user.containers.override_stat", rec, sizeof(rec));
		}
		resp->id = req->id;
		resp->val = 0;
		resp->error = 0;
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		(void)seccomp_notify_respond(nfd, resp);
	}
}

static double time_opens(int n, const char *f)
{
	double t0 = now();
	for (int i = 0; i < n; i++)
		close(openat(AT_FDCWD, f, O_RDONLY | O_CLOEXEC));
	return (now() - t0) / n * 1e6;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000, nfd;
	const char *f = argc > 2 ? argv[2] : "/etc/hostname";
	double base = time_opens(n, f);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	printf("openat plain:                          %6.2f us\n", base);
	if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(openat), 0) < 0 ||
	    seccomp_load(ctx) < 0 || (nfd = seccomp_notify_fd(ctx)) < 0) {
		fprintf(stderr, "nib-notify-bench: seccomp user notification is not available\n");
		return 1;
	}
	for (int check = 0; check < 2; check++) {
		pid_t p = fork();
		if (p == 0)
			supervise(nfd, check);
		double t = time_opens(n, f);
		printf("openat trapped%s %6.2f us (%.1fx)\n",
		       check ? ", path and record read:" : ", answered CONTINUE:   ", t, t / base);
		kill(p, SIGKILL);
	}
	return 0;
}
