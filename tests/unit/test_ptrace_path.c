/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Paths as the ptrace executor's tracee sees them (builder/ptrace_path.c):
 * resolution inside a rootfs made here, with symlinks (absolute, relative,
 * climbing, dangling, looping), "..", binds (a proc file system, device
 * nodes, a read-only folder, a file outside), /proc/self links, relative
 * paths and trailing slashes. Every row runs twice, by the openat2
 * shortcut and by the component walk, which must agree.
 */
#define BLD_PTRACE_INTERNAL 1
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/ptrace.h"
#include "tests/unit/unit.h"

static char top[256], root[512], outside[512];
static struct bld_ptrace_fs fs;
static struct bld_ptrace_who who;
static int passwd_fd = -1, pipe_fds[2] = {-1, -1};

static int sh(const char *cmd)
{
	return system(cmd);
}

static const char *fake_exe(void *ctx, pid_t pid)
{
	(void)ctx;
	return pid == getpid() ? "/usr/bin/prog" : NULL;
}

static bool setup(void)
{
	char tmpl[] = "/tmp/nib-unit-ptrace.XXXXXX";
	struct nib_error e = {0};
	char *real;

	if (!mkdtemp(tmpl))
		return false;
	real = realpath(tmpl, NULL);
	snprintf(top, sizeof(top), "%s", real);
	free(real);
	snprintf(root, sizeof(root), "%s/root", top);
	snprintf(outside, sizeof(outside), "%s/hostname", top);
	_cleanup_free_ char *cmd = xasprintf(
	    "set -e; cd %s; mkdir -p root/etc root/usr/bin root/tmp root/proc root/dev root/sys "
	    "root/d/e; echo pw >root/etc/passwd; echo host >hostname; echo secret >secret; "
	    ": >root/usr/bin/sh; cd root; ln -s usr/bin bin; ln -s /etc abs; "
	    "ln -s ../../../../.. up; ln -s loop2 loop1; ln -s loop1 loop2; "
	    "ln -s /nowhere/file dang; ln -s /tmp/made dang2; ln -s /proc/self/mounts etc/mtab; "
	    "ln -s ../.. d/e/upup; ln -s / slash; ln -s %s/secret hostlink",
	    top, top);
	if (sh(cmd) != 0)
		return false;
	if (bld_ptrace_fs_init(&fs, root, &e) < 0)
		return false;
	bld_ptrace_fs_bind(&fs, "/proc", "/proc", false, true);
	bld_ptrace_fs_bind(&fs, "/dev/null", "/dev/null", false, false);
	bld_ptrace_fs_bind(&fs, "/sys", "/sys", true, false);
	bld_ptrace_fs_bind(&fs, "/etc/hostname", outside, false, false);
	who.tid = who.tgid = getpid();
	who.exe = fake_exe;
	if (chdir(root) < 0 || chdir("tmp") < 0)
		return false;
	passwd_fd = open("../etc/passwd", O_RDONLY | O_CLOEXEC);
	return passwd_fd >= 0 && pipe(pipe_fds) == 0;
}

/* "R/x" -> root + "/x", "P/x" -> "/proc/<pid>/x", "O" -> outside file */
static void expand(const char *want, char *out, size_t size)
{
	if (want[0] == 'R')
		snprintf(out, size, "%s%s", root, want + 1);
	else if (want[0] == 'P')
		snprintf(out, size, "/proc/%d%s", (int)getpid(), want + 1);
	else if (want[0] == 'O')
		snprintf(out, size, "%s", outside);
	else
		snprintf(out, size, "%s", want);
}

struct row {
	const char *base, *path;
	unsigned flags;
	const char *want; /* expected host path (see expand), or NULL */
	int err;	  /* expected -errno when want is NULL */
	int unchanged;	  /* -1: not checked */
};

#define F BLD_PTRACE_FOLLOW
#define W BLD_PTRACE_WRITE

static const struct row rows[] = {
    {"/", "/etc/passwd", F, "R/etc/passwd", 0, -1},
    {"/", "/bin/sh", F, "R/usr/bin/sh", 0, -1},
    {"/", "/abs/passwd", F, "R/etc/passwd", 0, -1},
    {"/", "/abs", 0, "R/abs", 0, -1},
    {"/", "/abs", F, "R/etc", 0, -1},
    {"/", "/up/etc/passwd", F, "R/etc/passwd", 0, -1},
    {"/", "/../../../etc/passwd", F, "R/etc/passwd", 0, -1},
    {"/", "/d/e/upup/d/e/upup/etc/passwd", F, "R/etc/passwd", 0, -1},
    {"/", "/d/e/upup/upup", F, "R/upup", 0, -1},
    {"/", "/d/e/upup/upup/x", F, NULL, -ENOENT, -1},
    {"/", "/slash/etc/passwd", F, "R/etc/passwd", 0, -1},
    {"/", "/slash", F, "R", 0, -1},
    {"/", "/", F, "R", 0, -1},
    {"/", "/hostlink", F, NULL, -ENOENT, -1},
    {"/", "/hostlink", 0, "R/hostlink", 0, -1},
    {"/", "/dang2", F, "R/tmp/made", 0, -1},
    {"/", "/dang2", 0, "R/dang2", 0, -1},
    {"/", "/dang", F, NULL, -ENOENT, -1},
    {"/", "/loop1", F, NULL, -ELOOP, -1},
    {"/", "/loop1/x", 0, NULL, -ELOOP, -1},
    {"/", "/loop1", 0, "R/loop1", 0, -1},
    {"/", "/etc/passwd/x", F, NULL, -ENOTDIR, -1},
    {"/", "/missing/x", F, NULL, -ENOENT, -1},
    {"/", "/etc/new", F, "R/etc/new", 0, -1},
    {"/", "/tmp/", F, "R/tmp/", 0, -1},
    {"/", "/tmp/newdir/", 0, "R/tmp/newdir/", 0, -1},
    {"/", "/abs/", 0, "R/etc/", 0, -1},
    /* relative paths */
    {"/etc", "passwd", F, "R/etc/passwd", 0, 1},
    {"/etc", "new", 0, "R/etc/new", 0, 1},
    {"/", "etc/passwd", 0, "R/etc/passwd", 0, 1},
    {"/", "bin/sh", F, "R/usr/bin/sh", 0, 0},
    {"/etc", "../etc/passwd", F, "R/etc/passwd", 0, 0},
    {"/", "../../etc/passwd", F, "R/etc/passwd", 0, 0},
    {"/", "proc", F, "/proc", 0, 0},
    {"/", ".", F, "R", 0, 1},
    /* binds */
    {"/", "/proc/self/status", F, "P/status", 0, -1},
    {"/", "/proc/thread-self/status", F, "P/task/%TID/status", 0, -1},
    {"/", "/proc/self/root/etc/passwd", F, "R/etc/passwd", 0, -1},
    {"/", "/proc/1/root/etc/passwd", F, "R/etc/passwd", 0, -1},
    {"/", "/proc/self/root", F, "R", 0, -1},
    {"/", "/proc/self/cwd", F, "R/tmp", 0, -1},
    {"/", "/proc/self/exe", F, "R/usr/bin/prog", 0, -1},
    {"/", "/proc/self/../../etc/passwd", F, "R/etc/passwd", 0, -1},
    {"/", "/etc/mtab", F, "P/mounts", 0, -1},
    {"/", "/etc/mtab", 0, "R/etc/mtab", 0, -1},
    {"/", "/dev/null", F, "/dev/null", 0, -1},
    {"/", "/dev/zero", F, "R/dev/zero", 0, -1},
    {"/dev", "null", F, "/dev/null", 0, 0},
    {"/", "/sys/kernel", F, "/sys/kernel", 0, -1},
    {"/", "/sys/kernel", F | W, NULL, -EROFS, -1},
    {"/", "/sys/../etc/passwd", F | W, "R/etc/passwd", 0, -1},
    {"/", "/etc/hostname", F, "O", 0, -1},
    {"/", "/etc/hostname", F | W, "O", 0, -1},
};

static void check_row(const struct row *r, const char *how)
{
	struct bld_ptrace_path p;
	char want[PATH_MAX * 2], name[512];
	int ret = bld_ptrace_resolve(&fs, &who, r->base, r->path, r->flags, &p);
	bool ok;
	char why[PATH_MAX * 5] = "";

	snprintf(name, sizeof(name), "resolve %s (%s)%s%s [%s]", r->path, r->base,
		 r->flags & F ? " follow" : "", r->flags & W ? " write" : "", how);
	if (r->want) {
		char *tid = strstr(r->want, "%TID");
		if (tid) {
			char tmp[256];
			snprintf(tmp, sizeof(tmp), "%.*s%d%s", (int)(tid - r->want), r->want,
				 (int)getpid(), tid + 4);
			expand(tmp, want, sizeof(want));
		} else {
			expand(r->want, want, sizeof(want));
		}
		ok = ret == 0 && streq(p.host, want);
		if (!ok)
			snprintf(why, sizeof(why), "got %d '%s', expected '%s'", ret,
				 ret == 0 ? p.host : "", want);
		if (ok && r->unchanged >= 0 && p.unchanged != (r->unchanged == 1) &&
		    !bld_ptrace_walk_only) {
			ok = false;
			snprintf(why, sizeof(why), "unchanged is %d", p.unchanged);
		}
	} else {
		ok = ret == r->err;
		if (!ok)
			snprintf(why, sizeof(why), "got %d '%s', expected %d", ret,
				 ret == 0 ? p.host : "", r->err);
	}
	unit_row(name, ok, ok ? NULL : why);
}

static void check_readlink(const char *path, const char *want)
{
	char buf[PATH_MAX], name[256];
	ssize_t n = bld_ptrace_readlink(&fs, &who, "/", path, buf, sizeof(buf) - 1);

	if (n >= 0)
		buf[n] = '\0';
	snprintf(name, sizeof(name), "readlink %s", path);
	unit_row(name, n >= 0 && streq(buf, want), n < 0 ? strerror((int)-n) : buf);
}

static void test_readlink(void)
{
	char p[64], want[PATH_MAX + 64];
	struct bld_ptrace_path r;

	check_readlink("/abs", "/etc");
	check_readlink("/proc/self/root", "/");
	check_readlink("/proc/1/root", "/");
	check_readlink("/proc/self/cwd", "/tmp");
	check_readlink("/proc/self/exe", "/usr/bin/prog");
	snprintf(p, sizeof(p), "/proc/self/fd/%d", passwd_fd);
	check_readlink(p, "/etc/passwd");
	snprintf(want, sizeof(want), "/proc/%d/fd/%d", (int)getpid(), pipe_fds[0]);
	snprintf(p, sizeof(p), "/proc/self/fd/%d", pipe_fds[0]);
	{
		char raw[256];
		ssize_t n = readlink(p, raw, sizeof(raw) - 1);
		raw[n < 0 ? 0 : n] = '\0';
		check_readlink(p, raw);
	}
	/* a pipe is the kernel's to follow: the link itself is given */
	unit_row("resolve /proc/self/fd/PIPE follow",
		 bld_ptrace_resolve(&fs, &who, "/", p, F, &r) == 0 && streq(r.host, want) &&
		     r.proc_link,
		 r.host);
	snprintf(p, sizeof(p), "/proc/self/fd/%d", passwd_fd);
	snprintf(want, sizeof(want), "%s/etc/passwd", root);
	unit_row("resolve /proc/self/fd/N follow is the rootfs file",
		 bld_ptrace_resolve(&fs, &who, "/", p, F, &r) == 0 && streq(r.host, want), r.host);
	snprintf(p, sizeof(p), "/proc/self/fd/%d/x", pipe_fds[0]);
	unit_row("resolve /proc/self/fd/PIPE/x is not a folder",
		 bld_ptrace_resolve(&fs, &who, "/", p, F, &r) == -ENOTDIR, NULL);
}

static void test_outside(void)
{
	char out[PATH_MAX], host[PATH_MAX * 2];
	_cleanup_close_ int dfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char p[64];
	struct bld_ptrace_path r;

	snprintf(host, sizeof(host), "%s/etc", root);
	CHECK(bld_ptrace_guest_path(&fs, host, out, sizeof(out)) == 0 && streq(out, "/etc"));
	CHECK(bld_ptrace_guest_path(&fs, root, out, sizeof(out)) == 0 && streq(out, "/"));
	CHECK(bld_ptrace_guest_path(&fs, "/proc/1/status", out, sizeof(out)) == 0 &&
	      streq(out, "/proc/1/status"));
	CHECK(bld_ptrace_guest_path(&fs, outside, out, sizeof(out)) == 0 &&
	      streq(out, "/etc/hostname"));
	CHECK(bld_ptrace_guest_path(&fs, top, out, sizeof(out)) < 0);
	CHECK(bld_ptrace_guest_path(&fs, "/usr/bin", out, sizeof(out)) < 0);
	/* a folder of the host is not reached through a process's links */
	CHECK(dfd >= 0);
	snprintf(p, sizeof(p), "/proc/self/fd/%d/secret", dfd);
	CHECK(bld_ptrace_resolve(&fs, &who, "/", p, F, &r) == -EACCES);
	snprintf(p, sizeof(p), "fd/%d", dfd);
	CHECK(bld_ptrace_proc_dir(&fs, &who, p, out, sizeof(out)) == -EACCES);
	CHECK(bld_ptrace_proc_dir(&fs, &who, "cwd", out, sizeof(out)) == 0 && streq(out, "/tmp"));
	CHECK(bld_ptrace_proc_dir(&fs, &who, "fd/999", out, sizeof(out)) == -EBADF);
	{
		char longname[NAME_MAX + 10];
		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		CHECK(bld_ptrace_resolve(&fs, &who, "/", longname, F, &r) == -ENAMETOOLONG);
	}
}

static void cleanup(void)
{
	if (top[0]) {
		_cleanup_free_ char *cmd = xasprintf("rm -rf %s", top);
		sh(cmd);
	}
}

int main(void)
{
	if (!setup()) {
		printf("SKIP ptrace paths: cannot make the test tree\n");
		cleanup();
		return unit_done();
	}
	for (int pass = 0; pass < 2; pass++) {
		bld_ptrace_walk_only = pass == 1;
		for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
			check_row(&rows[i], pass ? "walk" : "quick");
	}
	bld_ptrace_walk_only = false;
	RUN(test_readlink);
	RUN(test_outside);
	bld_ptrace_fs_free(&fs);
	cleanup();
	return unit_done();
}
