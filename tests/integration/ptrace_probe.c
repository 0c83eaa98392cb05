/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A static program run inside a rootfs by tests/integration/run_ptrace.sh:
 * each subcommand exercises calls the ptrace executor must translate and
 * prints what it saw, one fact per line. Built by the test (cc -static).
 *
 *   dirfd HOSTFILE   a dirfd of "/" opened before chdir, climbing with ".."
 *   cwd              getcwd, /proc/self/cwd and pwd after chdir
 *   exe              readlink /proc/self/exe
 *   threads N        N threads opening and stating files at once
 *   spawn N          posix_spawn (vfork) of /bin/true N times
 *   spawnio N        the same with a file opened by the child, between two
 *                    opens of one path in the parent
 *   restart          an open() of a fifo interrupted by signals whose
 *                    handler makes path calls, then restarted
 *   unix             bind and connect an AF_UNIX socket by path
 *   rawexec          execve of a script with an argv
 *   names            a symlink replaced (unlink, rename) between two opens
 *                    of the same path in one process
 *   slots            renames of a path nib still holds in a slot, after 0 to
 *                    69 other paths (the second path of a call must not take
 *                    the first one's slot)
 *   compat HOSTFILE  open HOSTFILE with the 32-bit (int 0x80) and x32 system
 *                    call numbers, which name paths by other numbers
 *   caps             setcap's calls: security.capability set by path and by
 *                    fd, read back, refused, removed, dropped by chown; left
 *                    set on /tmp/capf
 *   become UID       setresuid to UID (as apt's methods drop to _apt: no
 *                    exec), then path calls, a fork, a process that asks
 *                    not to be dumpable, and an exec
 *   paths HOST SOCK  the less common path calls on the host path HOST
 *                    (statx, faccessat2, fchmodat2, utimensat, execveat,
 *                    openat2, inotify, the handle and mount calls, and
 *                    fanotify) and datagrams sent by sendto, sendmsg and
 *                    sendmmsg to the host socket SOCK: none may reach
 *                    them; then the same sends to a socket of the rootfs
 *                    and to an abstract one arrive
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int dirfd_test(const char *hostfile)
{
	int root = open("/", O_RDONLY | O_DIRECTORY), fd;
	char up[4096];

	if (root < 0 || chdir("/tmp") < 0)
		return 1;
	fd = openat(root, "etc/os-release", O_RDONLY);
	printf("openat(root, etc/os-release): %s\n", fd >= 0 ? "ok" : strerror(errno));
	snprintf(up, sizeof(up), "../../../../..%s", hostfile);
	fd = openat(root, up, O_RDONLY);
	printf("openat(root, ../..HOST): %s\n", fd >= 0 ? "OPENED" : strerror(errno));
	fd = openat(AT_FDCWD, up, O_RDONLY);
	printf("openat(cwd, ../..HOST): %s\n", fd >= 0 ? "OPENED" : strerror(errno));
	fd = openat(root, "..", O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		struct stat a, b;
		fstat(fd, &a);
		fstat(root, &b);
		printf("root/.. is root: %s\n", a.st_ino == b.st_ino ? "yes" : "no");
	}
	fd = openat(root, hostfile, O_RDONLY);
	printf("openat(root, HOST): %s\n", fd >= 0 ? "OPENED" : strerror(errno));
	return 0;
}

static int cwd_test(void)
{
	char buf[4096], link[4096];
	ssize_t n;

	if (mkdir("/tmp/a", 0755) < 0 && errno != EEXIST)
		return 1;
	if (mkdir("/tmp/a/b", 0755) < 0 && errno != EEXIST)
		return 1;
	if (chdir("/tmp/a/b") < 0 || chdir("..") < 0)
		return 1;
	printf("getcwd: %s\n", getcwd(buf, sizeof(buf)) ? buf : strerror(errno));
	n = readlink("/proc/self/cwd", link, sizeof(link) - 1);
	link[n < 0 ? 0 : n] = '\0';
	printf("/proc/self/cwd: %s\n", link);
	printf("getcwd small: %s\n", getcwd(buf, 3) ? buf : strerror(errno));
	if (chdir("../../..") < 0)
		return 1;
	printf("getcwd after ../../..: %s\n", getcwd(buf, sizeof(buf)) ? buf : strerror(errno));
	n = readlink("/proc/self/root", link, sizeof(link) - 1);
	link[n < 0 ? 0 : n] = '\0';
	printf("/proc/self/root: %s\n", link);
	return 0;
}

static int exe_test(void)
{
	char link[4096];
	ssize_t n = readlink("/proc/self/exe", link, sizeof(link) - 1);

	link[n < 0 ? 0 : n] = '\0';
	printf("exe: %s\n", link);
	return 0;
}

static void *thread_main(void *arg)
{
	long id = (long)arg, bad = 0;
	char path[64];

	for (int i = 0; i < 300; i++) {
		struct stat st;
		int fd = open("/etc/os-release", O_RDONLY);
		if (fd < 0)
			bad++;
		else
			close(fd);
		snprintf(path, sizeof(path), "/tmp/t%ld", id);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || stat(path, &st) < 0)
			bad++;
		if (fd >= 0)
			close(fd);
	}
	return (void *)bad;
}

static int threads_test(int n)
{
	pthread_t t[64];
	long bad = 0;

	if (n > 64)
		n = 64;
	for (long i = 0; i < n; i++)
		pthread_create(&t[i], NULL, thread_main, (void *)i);
	for (int i = 0; i < n; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	printf("thread failures: %ld\n", bad);
	return 0;
}

static int spawn_test(int n)
{
	int ok = 0;

	for (int i = 0; i < n; i++) {
		char *argv[] = {"true", NULL};
		pid_t pid;
		int st;
		if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ) == 0 &&
		    waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
	}
	printf("spawned: %d\n", ok);
	return 0;
}

/* A vfork child (posix_spawn) opening a file of its own between two opens
 * of the same path in the parent. */
static int spawnio_test(int n)
{
	int ok = 0;

	for (int i = 0; i < n; i++) {
		char *argv[] = {"true", NULL};
		posix_spawn_file_actions_t fa;
		char buf[64] = "";
		pid_t pid;
		FILE *f;

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, "/tmp/spawn-out", O_WRONLY | O_CREAT,
						 0644);
		f = fopen("/etc/os-release", "r");
		if (f)
			fclose(f);
		if (posix_spawn(&pid, "/bin/true", &fa, NULL, argv, environ) == 0)
			waitpid(pid, NULL, 0);
		posix_spawn_file_actions_destroy(&fa);
		f = fopen("/etc/os-release", "r");
		if (f && fgets(buf, sizeof(buf), f) && strncmp(buf, "NAME=", 5) == 0)
			ok++;
		if (f)
			fclose(f);
	}
	printf("parent reads after a vfork child: %d/%d\n", ok, n);
	return 0;
}

static volatile int alarms;

static void on_alarm(int sig)
{
	struct stat st;
	char path[64];

	(void)sig;
	alarms++;
	/* path calls in the handler, between the interruption and the
	 * restart of the open below */
	for (int i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), "/etc/../tmp/../etc/os-release");
		stat(path, &st);
	}
}

static int restart_test(void)
{
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
	struct stat a, b;
	pid_t child;
	int fd;

	unlink("/tmp/fifo");
	if (mkfifo("/tmp/fifo", 0600) < 0)
		return 1;
	sigaction(SIGALRM, &sa, NULL);
	child = fork();
	if (child == 0) {
		/* after the parent's open was interrupted twice */
		usleep(700000);
		int w = open("/tmp/fifo", O_WRONLY);
		_exit(w < 0);
	}
	ualarm(200000, 200000);
	fd = open("/tmp/fifo", O_RDONLY);
	ualarm(0, 0);
	waitpid(child, NULL, 0);
	printf("interrupted: %s\n", alarms >= 2 ? "yes" : "no");
	printf("restarted open: %s\n", fd >= 0 ? "ok" : strerror(errno));
	if (fd >= 0 && fstat(fd, &a) == 0 && stat("/tmp/fifo", &b) == 0)
		printf("same fifo: %s\n", a.st_ino == b.st_ino ? "yes" : "no");
	return 0;
}

static int unix_test(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
	struct stat st;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/sock");
	unlink(sa.sun_path);
	printf("bind: %s\n", bind(s, (void *)&sa, sizeof(sa)) == 0 ? "ok" : strerror(errno));
	listen(s, 1);
	printf("socket file: %s\n",
	       stat("/tmp/sock", &st) == 0 && S_ISSOCK(st.st_mode) ? "yes" : "no");
	printf("connect: %s\n", connect(c, (void *)&sa, sizeof(sa)) == 0 ? "ok" : strerror(errno));
	if (chdir("/tmp") == 0) {
		struct sockaddr_un rel = {.sun_family = AF_UNIX};
		int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(rel.sun_path, sizeof(rel.sun_path), "sock");
		printf("connect relative: %s\n",
		       connect(c2, (void *)&rel, sizeof(rel)) == 0 ? "ok" : strerror(errno));
	}
	return 0;
}

static int rawexec_test(void)
{
	char *argv[] = {"my-argv0", "one", "two words", NULL};
	int fd = open("/tmp/script", O_WRONLY | O_CREAT | O_TRUNC, 0755);

	if (fd < 0)
		return 1;
	dprintf(fd, "#!/bin/sh -e\necho \"script: $0 [$1] [$2]\"\n");
	close(fd);
	execve("/tmp/script", argv, environ);
	printf("execve: %s\n", strerror(errno));
	return 1;
}

static void first_line(const char *path)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");

	if (!f || !fgets(buf, sizeof(buf), f))
		snprintf(buf, sizeof(buf), "%s\n", strerror(errno));
	if (f)
		fclose(f);
	printf("%s: %s", path, buf);
}

static int names_test(void)
{
	unlink("/tmp/n");
	unlink("/tmp/n2");
	if (symlink("/etc/os-release", "/tmp/n") < 0)
		return 1;
	first_line("/tmp/n");
	unlink("/tmp/n");
	if (symlink("/rootfs-marker", "/tmp/n") < 0)
		return 1;
	first_line("/tmp/n");
	if (symlink("/etc/passwd", "/tmp/n2") < 0 || rename("/tmp/n2", "/tmp/n") < 0)
		return 1;
	first_line("/tmp/n");
	unlink("/tmp/n");
	first_line("/tmp/n");
	return 0;
}

static int slots_test(void)
{
	int bad = 0, fd = open("/tmp/sA", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char b[64], f[64];
	struct stat st;

	if (fd < 0)
		return 1;
	close(fd);
	for (int i = 0; i < 70; i++) {
		stat("/tmp/sA", &st);
		for (int j = 0; j < i; j++) {
			snprintf(f, sizeof(f), "/tmp/filler-%d", j);
			stat(f, &st);
		}
		snprintf(b, sizeof(b), "/tmp/sB-%d", i);
		if (rename("/tmp/sA", b) < 0 || rename(b, "/tmp/sA") < 0)
			bad++;
	}
	printf("rename failures: %d\n", bad);
	return 0;
}

static int compat_test(const char *hostfile)
{
#if defined(__x86_64__)
	static char path[4096];
	long r;

	/* a static program's data is below 4 GiB: a 32-bit pointer reaches it */
	snprintf(path, sizeof(path), "%s", hostfile);
	if ((unsigned long)path > 0xffffffffUL) {
		printf("int 0x80: not reachable\n");
	} else {
		__asm__ volatile("int $0x80"
				 : "=a"(r)
				 : "a"(5L), "b"((long)path), "c"(0L), "d"(0L)
				 : "memory");
		printf("int 0x80 open: %s\n", r >= 0 ? "OPENED" : strerror((int)-r));
	}
	r = syscall(0x40000000L | 257, AT_FDCWD, path, O_RDONLY);
	printf("x32 openat: %s\n", r >= 0 ? "OPENED" : strerror(errno));
#else
	(void)hostfile;
	printf("int 0x80 open: Function not implemented\nx32 openat: Function not implemented\n");
#endif
	return 0;
}

/* cap_net_raw+ep: VFS_CAP_REVISION_2 with the effective flag, then
 * VFS_CAP_REVISION_3 with root ID 0 (which reads back as the first) */
static const unsigned char cap_v2[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00};
static const unsigned char cap_v3[24] = {0x01, 0x00, 0x00, 0x03, 0x00, 0x20, 0x00};

static const char *said(long r)
{
	return r >= 0 ? "ok" : strerror(errno);
}

static int caps_test(void)
{
	const char *f = "/tmp/capf", *cap = "security.capability";
	unsigned char v[64];
	int fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0755);
	ssize_t n;

	if (fd < 0)
		return 1;
	n = getxattr(f, cap, v, sizeof(v));
	printf("none: %s\n", n >= 0 ? "a value" : strerror(errno));
	printf("set: %s\n", said(setxattr(f, cap, cap_v2, sizeof(cap_v2), 0)));
	n = getxattr(f, cap, NULL, 0);
	printf("size: %zd\n", n);
	n = getxattr(f, cap, v, sizeof(v));
	printf("get: %s\n", n == 20 && memcmp(v, cap_v2, 20) == 0 ? "same" : "different");
	n = getxattr(f, cap, v, 4);
	printf("small: %s\n", n >= 0 ? "a value" : strerror(errno));
	printf("create: %s\n", said(setxattr(f, cap, cap_v2, sizeof(cap_v2), XATTR_CREATE)));
	printf("bad: %s\n", said(setxattr(f, cap, cap_v2, 12, 0)));
	printf("remove: %s\n", said(removexattr(f, cap)));
	n = getxattr(f, cap, v, sizeof(v));
	printf("removed: %s\n", n >= 0 ? "a value" : strerror(errno));
	printf("fset v3: %s\n", said(fsetxattr(fd, cap, cap_v3, sizeof(cap_v3), 0)));
	n = fgetxattr(fd, cap, v, sizeof(v));
	printf("fget: %s\n", n == 20 && memcmp(v, cap_v2, 20) == 0 ? "v2" : "different");
	printf("chown: %s\n", said(chown(f, 0, 0)));
	n = getxattr(f, cap, v, sizeof(v));
	printf("after chown: %s\n", n >= 0 ? "a value" : strerror(errno));
	printf("set again: %s\n", said(setxattr(f, cap, cap_v2, sizeof(cap_v2), 0)));
	close(fd);
	return 0;
}

static void open_said(const char *what, const char *path)
{
	int fd = open(path, O_RDONLY);

	printf("%s: %s\n", what, fd >= 0 ? "ok" : strerror(errno));
	if (fd >= 0)
		close(fd);
}

static int become_test(int uid)
{
	char buf[4096];
	ssize_t n;
	pid_t child;
	int fd, st = -1;

	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
	    setresuid(uid, uid, uid) < 0) {
		printf("setresuid: %s\n", strerror(errno));
		return 1;
	}
	printf("uid: %d\n", (int)getuid());
	open_said("open", "/etc/passwd");
	printf("chdir: %s\n", chdir("/tmp") == 0 ? "ok" : strerror(errno));
	printf("getcwd: %s\n", getcwd(buf, sizeof(buf)) ? buf : strerror(errno));
	n = readlink("/proc/self/cwd", buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = '\0';
	printf("/proc/self/cwd: %s\n", n < 0 ? strerror(errno) : buf);
	fd = open("become-file", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	printf("create: %s\n", fd >= 0 ? "ok" : strerror(errno));
	if (fd >= 0)
		close(fd);
	child = fork();
	if (child == 0)
		_exit(open("/etc/passwd", O_RDONLY) < 0);
	waitpid(child, &st, 0);
	printf("child: %s\n", WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "failed");
	prctl(PR_SET_DUMPABLE, 0);
	open_said("not dumpable", "/etc/passwd");
	execl("/bin/sh", "sh", "-c", "echo \"exec: $(id -u)\"", (char *)NULL);
	printf("exec: %s\n", strerror(errno));
	return 1;
}

static void reached(const char *what, long r)
{
	printf("%s: %s\n", what, r >= 0 ? "REACHED" : strerror(errno));
}

static socklen_t unix_name(struct sockaddr_un *sa, const char *path, bool abstract)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path + abstract, sizeof(sa->sun_path) - 1, "%s", path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + abstract + strlen(path) + 1);
}

/* sendto, sendmsg and sendmmsg (two messages) of "x" on `s` to `to` */
static void sends(int s, const char *what, struct sockaddr_un *to, socklen_t len)
{
	struct iovec iov = {"x", 1};
	struct msghdr m = {.msg_name = to, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1};
	struct mmsghdr mm[2] = {{.msg_hdr = m}, {.msg_hdr = m}};
	char name[64];
	int n;

	snprintf(name, sizeof(name), "sendto %s", what);
	reached(name, sendto(s, "x", 1, 0, (struct sockaddr *)to, len));
	snprintf(name, sizeof(name), "sendmsg %s", what);
	reached(name, sendmsg(s, &m, 0));
	n = sendmmsg(s, mm, 2, 0);
	printf("sendmmsg %s: %s\n", what,
	       n == 2 && mm[0].msg_len == 1 && mm[1].msg_len == 1 ? "2 sent, counts 1 1"
	       : n < 0						  ? strerror(errno)
								  : "counts wrong");
}

static int paths_test(const char *host, const char *hostsock)
{
	char *argv[] = {"x", NULL}, buf[8];
	struct open_how {
		unsigned long long flags, mode, resolve;
	} how = {O_RDONLY, 0, 0};
	struct {
		unsigned int bytes;
		int type;
		unsigned char f[128];
	} fh = {.bytes = 128};
	struct {
		unsigned long long set, clr, prop, userns;
	} attr = {0};
	struct sockaddr_un sa;
	struct statx stx;
	int mnt, ifd, ffd, s = socket(AF_UNIX, SOCK_DGRAM, 0), r = socket(AF_UNIX, SOCK_DGRAM, 0);
	int got = 0;

	reached("statx", syscall(SYS_statx, AT_FDCWD, host, 0, 0x7ff, &stx));
	reached("faccessat2", syscall(SYS_faccessat2, AT_FDCWD, host, R_OK, AT_EACCESS));
	reached("fchmodat2", syscall(452, AT_FDCWD, host, 0600, 0));
	reached("utimensat", syscall(SYS_utimensat, AT_FDCWD, host, NULL, 0));
	reached("execveat", syscall(SYS_execveat, AT_FDCWD, host, argv, environ, 0));
	reached("openat2", syscall(SYS_openat2, AT_FDCWD, host, &how, sizeof(how)));
	ifd = inotify_init1(0);
	reached("inotify_add_watch", ifd < 0 ? ifd : inotify_add_watch(ifd, host, IN_OPEN));
	reached("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, host, &fh, &mnt, 0));
	reached("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY));
	reached("open_tree", syscall(SYS_open_tree, AT_FDCWD, host, 1 /* OPEN_TREE_CLONE */));
	reached("mount_setattr",
		syscall(SYS_mount_setattr, AT_FDCWD, host, 0, &attr, sizeof(attr)));
	reached("fspick", syscall(SYS_fspick, AT_FDCWD, host, 0));
	reached("move_mount", syscall(SYS_move_mount, AT_FDCWD, host, AT_FDCWD, "/tmp", 0));
	sends(s, "host", &sa, unix_name(&sa, hostsock, false));
	unlink("/tmp/dsock");
	if (bind(r, (struct sockaddr *)&sa, unix_name(&sa, "/tmp/dsock", false)) < 0)
		printf("bind /tmp/dsock: %s\n", strerror(errno));
	sends(s, "rootfs", &sa, unix_name(&sa, "/tmp/dsock", false));
	while (recv(r, buf, sizeof(buf), MSG_DONTWAIT) == 1)
		got++;
	printf("received in the rootfs: %d\n", got);
	close(r);
	r = socket(AF_UNIX, SOCK_DGRAM, 0);
	snprintf(buf, sizeof(buf), "%d", (int)getpid() % 100000);
	if (bind(r, (struct sockaddr *)&sa, unix_name(&sa, buf, true)) < 0)
		printf("bind abstract: %s\n", strerror(errno));
	sends(s, "abstract", &sa, unix_name(&sa, buf, true));
	for (got = 0; recv(r, buf, sizeof(buf), MSG_DONTWAIT) == 1;)
		got++;
	printf("received on the abstract socket: %d\n", got);
	/* unprivileged fanotify needs 5.13 and a profile that allows it */
	ffd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID, O_RDONLY);
	if (ffd < 0)
		printf("fanotify_mark: no fanotify (%s)\n", strerror(errno));
	else
		reached("fanotify_mark",
			fanotify_mark(ffd, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, host));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "dirfd") == 0)
		return dirfd_test(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "cwd") == 0)
		return cwd_test();
	if (argc >= 2 && strcmp(argv[1], "exe") == 0)
		return exe_test();
	if (argc >= 3 && strcmp(argv[1], "threads") == 0)
		return threads_test(atoi(argv[2]));
	if (argc >= 3 && strcmp(argv[1], "spawn") == 0)
		return spawn_test(atoi(argv[2]));
	if (argc >= 3 && strcmp(argv[1], "spawnio") == 0)
		return spawnio_test(atoi(argv[2]));
	if (argc >= 2 && strcmp(argv[1], "restart") == 0)
		return restart_test();
	if (argc >= 2 && strcmp(argv[1], "unix") == 0)
		return unix_test();
	if (argc >= 2 && strcmp(argv[1], "rawexec") == 0)
		return rawexec_test();
	if (argc >= 2 && strcmp(argv[1], "names") == 0)
		return names_test();
	if (argc >= 2 && strcmp(argv[1], "slots") == 0)
		return slots_test();
	if (argc >= 3 && strcmp(argv[1], "compat") == 0)
		return compat_test(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "caps") == 0)
		return caps_test();
	if (argc >= 3 && strcmp(argv[1], "become") == 0)
		return become_test(atoi(argv[2]));
	if (argc >= 4 && strcmp(argv[1], "paths") == 0)
		return paths_test(argv[2], argv[3]);
	fprintf(stderr, "usage: %s dirfd|cwd|exe|threads N|spawn N|restart|unix|rawexec\n",
		argv[0]);
	return 2;
}
