/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Overlay drivers: the kernel overlay mounted inside the user namespace
 * with userxattr, and the fuse-overlayfs program. Both see the same layer
 * folders (0:0 character devices for deletions, user.overlay.opaque).
 */
#define NIB_STORAGE_INTERNAL
#include <fcntl.h>
#define FUSE_USE_VERSION 31
#include <fuse3/fuse.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "storage/layer_internal.h"

#ifndef OVERLAYFS_SUPER_MAGIC
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#endif

/* ---- lower folder lists ---------------------------------------------------- */

/* "l/N:...:l/0" (top first) after making short symlinks dir/l/N -> lowers
 * in the step's folder: the kernel's mount options fit in one page and
 * paths with ':' or ',' need no escaping. `empty` stands in when there is
 * no layer (FROM scratch). With `absolute`, each is prefixed with the
 * step's folder. */
static char *short_lowers(struct stg_rootfs *r, bool absolute, struct nib_error *err)
{
	const char *pre = absolute ? r->dir : "", *slash = absolute ? "/" : "";
	_cleanup_free_ char *ldir = xasprintf("%s/l", r->dir);
	struct nib_buf b = {0};

	if (mkdir(ldir, 0755) < 0 && errno != EEXIST) {
		nib_err(err, NIB_ERR_IO, errno, "mkdir %s", ldir);
		return NULL;
	}
	if (r->lowers.len == 0) {
		_cleanup_free_ char *e = xasprintf("%s/l/empty", r->dir);
		if (mkdir(e, 0755) < 0 && errno != EEXIST) {
			nib_err(err, NIB_ERR_IO, errno, "mkdir %s", e);
			return NULL;
		}
		nib_buf_printf(&b, "%s%sl/empty", pre, slash);
		return nib_buf_steal(&b);
	}
	for (size_t i = r->lowers.len; i-- > 0;) {
		_cleanup_free_ char *link = xasprintf("%s/l/%zu", r->dir, i);
		if (symlink(r->lowers.v[i], link) < 0 && errno != EEXIST) {
			nib_err(err, NIB_ERR_IO, errno, "symlink %s", link);
			nib_buf_free(&b);
			return NULL;
		}
		nib_buf_printf(&b, "%s%s%sl/%zu", b.len ? ":" : "", pre, slash, i);
	}
	return nib_buf_steal(&b);
}

/* ---- kernel overlay --------------------------------------------------------- */

/* The new mount API: one "lowerdir+" per layer, any number of layers
 * (Linux 6.8+). Returns -2 when the kernel does not know lowerdir+. */
static int ovl_mount_fsconfig(struct stg_rootfs *r, struct nib_error *err)
{
	_cleanup_close_ int fs = -1, mnt = -1;
	_cleanup_free_ char *empty = NULL;

	if (getenv("NIB_OVERLAY_LEGACY"))
		return -2;
	fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return errno == ENODEV ? nib_err(err, NIB_ERR_ENV, errno, "overlay") : -2;
	if (r->lowers.len == 0) {
		_cleanup_free_ char *l = xasprintf("%s/l", r->dir);
		empty = xasprintf("%s/l/empty", r->dir);
		mkdir(l, 0755);
		mkdir(empty, 0755);
	}
	for (size_t i = r->lowers.len; i-- > 0 || empty;) {
		const char *p = empty ? empty : r->lowers.v[i];
		if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", p, 0) < 0)
			return errno == EINVAL ? -2
					       : nib_err(err, NIB_ERR_ENV, errno, "overlay %s", p);
		if (empty)
			break;
	}
	/* SELinux: the RUN's file label on every file (podman's context=) */
	if (r->mount_label && fsconfig(fs, FSCONFIG_SET_STRING, "context", r->mount_label, 0) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "overlay context=%s", r->mount_label);
	if (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", r->upper, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "workdir", r->work, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "mount overlay on %s", r->target);
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0 || move_mount(mnt, "", AT_FDCWD, r->target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "mount overlay on %s", r->target);
	return 0;
}

/* mount(2) with relative short lower paths, from the step's folder. */
static int ovl_mount_legacy(struct stg_rootfs *r, struct nib_error *err)
{
	_cleanup_free_ char *lowers = short_lowers(r, false, err), *data = NULL;
	_cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (!lowers)
		return -1;
	data = xasprintf("lowerdir=%s,upperdir=upper,workdir=work,userxattr%s%s%s", lowers,
			 r->mount_label ? ",context=\"" : "", r->mount_label ? r->mount_label : "",
			 r->mount_label ? "\"" : "");
	if (strlen(data) >= 4096)
		return nib_err(err, NIB_ERR_ENV, E2BIG,
			       "%zu layers are too many for this kernel's overlay (Linux 6.8 has "
			       "no such limit)",
			       r->lowers.len);
	if (chdir(r->dir) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "chdir %s", r->dir);
	if (mount("overlay", r->target, "overlay", 0, data) < 0)
		ret = nib_err(err, NIB_ERR_ENV, errno, "mount overlay on %s", r->target);
	if (cwd >= 0 && fchdir(cwd) < 0)
		log_debug("fchdir back: %m");
	return ret;
}

static int ovl_mount(struct stg_rootfs *r, struct nib_error *err)
{
	int ret = ovl_mount_fsconfig(r, err);

	if (ret == -2)
		ret = ovl_mount_legacy(r, err);
	return ret;
}

static int ovl_umount(struct stg_rootfs *r, struct nib_error *err)
{
	if (umount2(r->target, MNT_DETACH) < 0 && errno != EINVAL)
		return nib_err(err, NIB_ERR_ENV, errno, "umount %s", r->target);
	return 0;
}

/* ---- probes: a try in a throwaway user and mount namespace ------------------ */

static int write_file(const char *path, const char *s)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	return fd >= 0 && nib_write_all(fd, s, strlen(s)) == 0 ? 0 : -1;
}

/* Enter a new user namespace (the caller's IDs mapped to 0) and mount
 * namespace: what the runtime's child does, in miniature. */
int stg_layer_enter_userns(struct nib_error *err)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "cannot create a user namespace");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if (write_file("/proc/self/uid_map", map) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "write uid_map");
	write_file("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	if (write_file("/proc/self/gid_map", map) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "write gid_map");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "make mounts private");
	return 0;
}

/* Run `fn` on a fresh step folder with one lower layer holding a file, in
 * a child inside its own user and mount namespaces. */
static int probe_in_child(struct stg_store *st, const struct stg_rootfs_driver *d,
			  struct nib_error *err)
{
	_cleanup_free_ char *tmpl = xasprintf("%s/nib/tmp/probe-XXXXXX", stg_store_path(st));
	_cleanup_free_ char *lower = NULL, *f = NULL;
	struct stg_rootfs r = {.driver = d};
	int pfd[2];
	pid_t pid;
	int status = 0;
	char msg[512] = "";
	ssize_t n;

	if (!mkdtemp(tmpl))
		return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", tmpl);
	r.dir = tmpl;
	lower = xasprintf("%s/lower", tmpl);
	r.upper = xasprintf("%s/upper", tmpl);
	r.work = xasprintf("%s/work", tmpl);
	r.target = xasprintf("%s/merged", tmpl);
	f = xasprintf("%s/lower/f", tmpl);
	mkdir(lower, 0755);
	mkdir(r.upper, 0755);
	mkdir(r.work, 0700);
	mkdir(r.target, 0755);
	close(open(f, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	nib_strv_push(&r.lowers, lower);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "pipe");
	pid = fork();
	if (pid == 0) {
		struct nib_error e = {0};
		_cleanup_free_ char *g = xasprintf("%s/g", r.target), *del = NULL;
		close(pfd[0]);
		if (stg_layer_enter_userns(&e) == 0 && d->mount(&r, &e) == 0) {
			/* a write and a deletion: copy-up and a whiteout work */
			del = xasprintf("%s/f", r.target);
			int fd = open(g, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0 || unlink(del) < 0)
				nib_err(&e, NIB_ERR_ENV, errno, "write through the mount");
			if (fd >= 0)
				close(fd);
			d->umount(&r, NULL);
		}
		if (e.msg)
			nib_write_all(pfd[1], e.msg, strlen(e.msg));
		_exit(e.msg ? 1 : 0);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
		;
	msg[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	nib_rm_rf_at(AT_FDCWD, tmpl, NULL);
	free(r.upper);
	free(r.work);
	free(r.target);
	nib_strv_free(&r.lowers);
	if (pid < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "fork");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return nib_err(err, NIB_ERR_ENV, 0, "%s", *msg ? msg : "probe failed");
	return 0;
}

static int on_overlayfs(struct stg_store *st, struct nib_error *err)
{
	struct statfs sf;

	if (fstatfs(stg_store_nib_dirfd(st), &sf) == 0 && sf.f_type == OVERLAYFS_SUPER_MAGIC)
		return nib_err(err, NIB_ERR_ENV, 0,
			       "the storage root %s is on overlayfs, where kernel overlay upper "
			       "folders cannot live; put the storage root (--root or NIB_ROOT) on "
			       "an emptyDir volume",
			       stg_store_path(st));
	return 0;
}

static int ovl_probe(struct stg_store *st, struct nib_error *err)
{
	if (on_overlayfs(st, err) < 0)
		return -1;
	return probe_in_child(st, &stg_driver_overlay, err);
}

const struct stg_rootfs_driver stg_driver_overlay = {
    .name = "overlay",
    .layer_form = STG_WHITEOUT_OVERLAY,
    .diff = STG_DIFF_UPPER,
    .probe = ovl_probe,
    .mount = ovl_mount,
    .umount = ovl_umount,
};

/* ---- fuse-overlayfs --------------------------------------------------------- */

static char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");

	for (char *s = copy, *tok; (tok = strsep(&s, ":"));) {
		char *p = xasprintf("%s/%s", *tok ? tok : ".", name);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/* Run argv with cwd `dir` and, when `rootfd` >= 0, that folder as its
 * root; its stderr becomes the error message. */
static int run_program(char *const argv[], const char *dir, int rootfd, struct nib_error *err)
{
	int pfd[2], status = 0;
	char msg[512] = "";
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "pipe");
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(pfd[1], 2);
		int cwd = dir ? open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
		if (dir && cwd < 0)
			_exit(127);
		/* the working folder stays the one outside the new root */
		if (rootfd >= 0 && (fchdir(rootfd) < 0 || chroot(".") < 0)) {
			dprintf(2, "change the root: %s", strerror(errno));
			_exit(126);
		}
		if (cwd >= 0 && fchdir(cwd) < 0)
			_exit(127);
		/* nothing of nib's environment (secrets included): the daemon
		 * lives in the step's pid namespace, where /proc/PID/environ is
		 * readable with its UID */
		char *envp[] = {"PATH=" NIB_DEFAULT_PATH, NULL};
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(pfd[1]);
	/* fuse-overlayfs daemonizes: the pipe stays open in the daemon, so
	 * read only what the foreground process wrote before it exited */
	if (pid > 0)
		waitpid(pid, &status, 0);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	n = read(pfd[0], msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	if (n > 0 && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	close(pfd[0]);
	if (pid < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "fork");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return nib_err(err, NIB_ERR_ENV, 0, "%s failed%s%s", argv[0], *msg ? ": " : "",
			       msg);
	return 0;
}

static int fovl_mount(struct stg_rootfs *r, struct nib_error *err)
{
	_cleanup_free_ char *prog = find_program("fuse-overlayfs"), *lowers = NULL, *o = NULL;

	if (!prog)
		return nib_err(err, NIB_ERR_ENV, ENOENT, "fuse-overlayfs is not installed");
	/* absolute: the daemon changes its folder to its root */
	lowers = short_lowers(r, true, err);
	if (!lowers)
		return -1;
	o = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s%s%s%s", lowers, r->upper, r->work,
		      r->mount_label ? ",context=\"" : "", r->mount_label ? r->mount_label : "",
		      r->mount_label ? "\"" : "");
	/*
	 * The daemon's root is a detached copy of the mount tree (open_tree),
	 * not "/" itself: the step's pivot_root moves every process of its
	 * mount namespace whose root is the old root, and a daemon whose root
	 * became its own mount deadlocks (a lookup through itself) on the first
	 * absolute symlink of a lower layer that it follows, as with a later
	 * layer writing below it. The copy is attached nowhere: nothing that
	 * walks the step's folder reaches the host through it.
	 */
	_cleanup_close_ int tree = open_tree(AT_FDCWD, "/", OPEN_TREE_CLONE | AT_RECURSIVE);
	if (tree < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "copy the mount tree for fuse-overlayfs");
	/* the mount point relative to the step's folder (the daemon's working
	 * folder): resolved from its root, it would name the copy's */
	size_t dl = strlen(r->dir);
	if (strncmp(r->target, r->dir, dl) != 0 || r->target[dl] != '/')
		return nib_err(err, NIB_ERR_IO, EINVAL, "%s is not in %s", r->target, r->dir);
	char *argv[] = {prog, "-o", o, r->target + dl + 1, NULL};
	return run_program(argv, r->dir, tree, err);
}

static int fovl_umount(struct stg_rootfs *r, struct nib_error *err)
{
	_cleanup_free_ char *prog = find_program("fusermount3");

	if (prog) {
		char *argv[] = {prog, "-u", "-z", r->target, NULL};
		if (run_program(argv, NULL, -1, NULL) == 0)
			return 0;
	}
	if (umount2(r->target, MNT_DETACH) < 0 && errno != EINVAL)
		return nib_err(err, NIB_ERR_ENV, errno, "umount %s", r->target);
	return 0;
}

static int fovl_probe(struct stg_store *st, struct nib_error *err)
{
	_cleanup_free_ char *prog = find_program("fuse-overlayfs");
	_cleanup_free_ char *fm = find_program("fusermount3");
	_cleanup_close_ int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "/dev/fuse is not usable");
	if (!prog)
		return nib_err(err, NIB_ERR_ENV, 0, "the fuse-overlayfs program is not installed");
	if (!fm)
		return nib_err(err, NIB_ERR_ENV, 0, "fusermount3 is not installed");
	if (fuse_version() < 30)
		return nib_err(err, NIB_ERR_ENV, 0, "libfuse %s is older than 3.0",
			       fuse_pkgversion());
	return probe_in_child(st, &stg_driver_fuse_overlayfs, err);
}

const struct stg_rootfs_driver stg_driver_fuse_overlayfs = {
    .name = "fuse-overlayfs",
    .layer_form = STG_WHITEOUT_OVERLAY,
    .diff = STG_DIFF_UPPER,
    .probe = fovl_probe,
    .mount = fovl_mount,
    .umount = fovl_umount,
};
