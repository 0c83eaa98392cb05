/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Single-UID root emulation, supervisor side. The container's seccomp
 * filter sends chown-family, chmod-family and device mknod calls here
 * (SECCOMP_RET_USER_NOTIF). nib resolves the target path inside the
 * container's root (/proc/PID/root, and /proc/PID/cwd or /proc/PID/fd/N for
 * relative paths, with RESOLVE_IN_ROOT), records the intended owner, mode
 * and device in user.containers.override_stat (format and codec:
 * storage/storage.h, stg_override_parse and stg_override_format),
 * checks that the request is still alive (SECCOMP_IOCTL_NOTIF_ID_VALID) and
 * answers:
 *	chown family   success without effect (the record holds the owner);
 *	               in the other ID maps only for a file that has a
 *	               record, the rest continues in the kernel
 *	chmod family   record updated when there is one, then the call
 *	               continues in the kernel (SECCOMP_USER_NOTIF_FLAG_CONTINUE)
 *	mknod device   an empty regular file carrying the record (in every
 *	               ID map: a device node a RUN makes is in its layer
 *	               whoever builds, as a privileged Docker build has it)
 *	stat family    the record's owner, mode and device for a file that
 *	               has one, else the kernel answers
 *	xattr family   (ptrace only: in a user namespace the kernel keeps
 *	               them) security.capability kept as
 *	               user.containers.override_security.capability
 */
#define BLD_RUNTIME_INTERNAL 1
#include <endian.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "builder/runtime_internal.h"
#include "storage/storage.h"

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS	   _IOW('!', 4, __u64)
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

/* The request being answered: checked again once its files are open, so
 * a recycled PID never gets someone else's files recorded. A stat only
 * reads them, and checks before it writes its answer (mem_put). No
 * listener (fd -1): the caller is stopped by ptrace and cannot go away
 * (bld_seccomp_answer). */
static struct {
	int fd;
	uint64_t id;
	bool reads_only;
	bool map_ids; /* no user namespace: stat answers map IDs itself */
	/* single UID: every owner is a record; else only the records of
	 * emulated device nodes are kept, the kernel does the rest */
	bool emulate;
} cur;

static bool cur_valid(void)
{
	return cur.fd < 0 || seccomp_notify_id_valid(cur.fd, cur.id) == 0;
}

static int still_valid(int fd)
{
	if (cur.reads_only || cur_valid())
		return fd;
	close(fd);
	return -ESRCH;
}

static int still_valid_keep(int fd)
{
	return cur_valid() ? fd : -ESRCH;
}

/* /proc/PID/mem of the notifying process, kept open for the next
 * request of the same process. The fd stays bound to that process's
 * memory: once it is gone, access fails, and a new process with the same
 * PID is reached only through a new fd (opened after the request was
 * checked alive). An execve keeps the PID but replaces the memory: the
 * old fd then reads and writes nothing, and is opened anew. */
static struct {
	pid_t pid;
	int fd;
} mem = {0, -1};

static int mem_fd(pid_t pid, bool reopen)
{
	char path[64];

	if (mem.fd >= 0 && mem.pid == pid && !reopen)
		return mem.fd;
	if (mem.fd >= 0)
		close(mem.fd);
	mem.fd = -1;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem.fd = open(path, O_RDWR | O_CLOEXEC);
	if (mem.fd < 0)
		return -errno;
	mem.pid = pid;
	return still_valid_keep(mem.fd);
}

/*
 * A caller stopped by ptrace (no listener) is reached by PID, always in
 * its memory of the moment: no fd is kept, which after an execve (same
 * PID) or in a vfork child (the parent's memory until it execs) would
 * name other memory. -EPERM or -ENOSYS when these calls are refused.
 */
static int vm_io(pid_t pid, bool wr, uint64_t addr, void *p, size_t n, ssize_t *done)
{
	struct iovec local = {p, n}, remote = {(void *)(uintptr_t)addr, n};

	*done = wr ? process_vm_writev(pid, &local, 1, &remote, 1, 0)
		   : process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (*done >= 0 || errno == EFAULT)
		return 0;
	return -errno;
}

/* pread/pwrite of the notifying process's memory. */
static int mem_io(pid_t pid, bool wr, uint64_t addr, void *p, size_t n, ssize_t *done)
{
	if (cur.fd < 0) {
		int r = vm_io(pid, wr, addr, p, n, done);
		if (r != -EPERM && r != -ENOSYS)
			return r;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		/* a caller stopped by ptrace: its memory of now, never a
		 * kept fd's */
		int fd = mem_fd(pid, attempt > 0 || cur.fd < 0);
		if (fd < 0)
			return fd;
		*done = wr ? pwrite(fd, p, n, (off_t)addr) : pread(fd, p, n, (off_t)addr);
		/* nothing done: the memory the fd was opened for is gone */
		if (*done == 0 && n > 0 && attempt == 0)
			continue;
		if (*done >= 0 || errno == EFAULT || errno == EIO)
			return 0;
	}
	return -errno;
}

int bld_mem_read_string(bld_mem_read_fn rd, void *ctx, uint64_t addr, char *out, size_t size,
			size_t first)
{
	size_t got = 0;

	if (addr == 0)
		return -EFAULT;
	while (got < size) {
		/* read up to the end of the page so an unmapped next page does
		 * not fail a short string */
		size_t page = 4096 - ((addr + got) & 4095);
		size_t want = MIN(MIN(page, size - got), got ? SIZE_MAX : first);
		ssize_t n = rd(ctx, addr + got, out + got, want);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EFAULT;
		if (memchr(out + got, '\0', (size_t)n))
			return 0;
		got += (size_t)n;
	}
	return -ENAMETOOLONG;
}

/* bld_mem_read_fn of the notifying process (`ctx`: its pid_t). */
static ssize_t pid_read(void *ctx, uint64_t addr, void *p, size_t n)
{
	ssize_t done = 0;
	int r = mem_io(*(pid_t *)ctx, false, addr, p, n, &done);

	return r < 0 ? r : done < 0 ? -EFAULT : done;
}

/* Read a NUL-terminated string of the notifying process at `addr`. */
static int read_string(pid_t pid, uint64_t addr, char *out, size_t size)
{
	return bld_mem_read_string(pid_read, &pid, addr, out, size, SIZE_MAX);
}

/* The path of the notifying process's folder `link` ("cwd" or "fd/N"),
 * as seen inside its root. */
static char *proc_link(pid_t pid, const char *link)
{
	char path[64], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, link);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0 || target[0] != '/')
		return NULL;
	target[n] = '\0';
	return xstrdup(target);
}

/*
 * A relative path (`find`, `ls -l`, `tar`: the name of an entry in an open
 * folder) that goes down through plain folders resolves the same from the
 * folder itself as from the root: open it there, without re-walking the
 * folder's whole path from the root. -EAGAIN when the path has a symlink
 * or `..` above the folder: the caller resolves it in the root instead.
 */
static int open_relative(pid_t pid, int dirfd, const char *path, bool nofollow)
{
	char buf[64];
	_cleanup_close_ int base = -1, fd = -1;
	struct stat st;

	if (dirfd == AT_FDCWD)
		snprintf(buf, sizeof(buf), "/proc/%d/cwd", (int)pid);
	else
		snprintf(buf, sizeof(buf), "/proc/%d/fd/%d", (int)pid, dirfd);
	base = open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (base < 0)
		return errno == ENOENT ? -EBADF : -errno;
	fd = stg_open_nosym(base, path, O_PATH, 0);
	if (fd < 0)
		return errno == ELOOP || errno == ENOTDIR || errno == EXDEV ? -EAGAIN : -errno;
	/* it opens a last symlink itself: one the call follows is the
	 * root's to resolve */
	if (!nofollow && (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)))
		return -EAGAIN;
	return take_fd(&fd);
}

/*
 * Open (O_PATH) what the call names: `fd` alone (fd-based calls), or `path`
 * relative to `dirfd` (AT_FDCWD: the cwd) inside the process's root.
 * Returns an fd or -errno.
 */
static int open_target(pid_t pid, int dirfd, const char *path, bool nofollow, bool empty_path)
{
	char buf[64];
	_cleanup_close_ int rootfd = -1;
	_cleanup_free_ char *base = NULL, *full = NULL;
	struct nib_error e = {0};
	int fd;

	if (!path || (empty_path && *path == '\0')) {
		if (dirfd < 0)
			return -EBADF;
		snprintf(buf, sizeof(buf), "/proc/%d/fd/%d", (int)pid, dirfd);
		fd = open(buf, O_PATH | O_CLOEXEC);
		return fd < 0 ? (errno == ENOENT ? -EBADF : -errno) : still_valid(fd);
	}
	if (*path == '\0')
		return -ENOENT;
	if (path[0] != '/') {
		fd = open_relative(pid, dirfd, path, nofollow);
		if (fd != -EAGAIN)
			return fd < 0 ? fd : still_valid(fd);
	}
	snprintf(buf, sizeof(buf), "/proc/%d/root", (int)pid);
	rootfd = open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	if (path[0] != '/') {
		if (dirfd == AT_FDCWD) {
			base = proc_link(pid, "cwd");
		} else {
			snprintf(buf, sizeof(buf), "fd/%d", dirfd);
			base = proc_link(pid, buf);
		}
		if (!base)
			return -EBADF;
		full = nib_path_join(base, path);
		path = full;
	}
	fd = nib_open_in_root(rootfd, path, O_PATH | (nofollow ? O_NOFOLLOW : 0), 0, &e);
	if (fd < 0) {
		int r = e.errnum ? -e.errnum : -EIO;
		nib_err_clear(&e);
		return r;
	}
	return still_valid(fd);
}

static uid_t euid = (uid_t)-1;
static gid_t egid = (gid_t)-1;

/* The record of the file behind `fd` (an O_PATH fd: read through its
 * /proc/self/fd path), or one made from its inode. A record without TYPE
 * takes the inode's type and device (storage.h). */
static bool rec_get(int fd, const struct stat *st, struct stg_override *r)
{
	char path[64], val[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = fd < 0 ? -1 : getxattr(path, STG_XATTR_OVERRIDE_STAT, val, sizeof(val));
	if (n < 0 && fd >= 0 && errno == EACCES && !(st->st_mode & S_IRUSR) &&
	    chmod(path, (st->st_mode & 07777) | S_IRUSR) == 0) {
		/* user.* xattrs need read permission: lend it for a moment */
		n = getxattr(path, STG_XATTR_OVERRIDE_STAT, val, sizeof(val));
		chmod(path, st->st_mode & 07777);
	}
	if (n > 0 && stg_override_parse(val, (size_t)n, r, NULL) == 0) {
		if (!r->has_type) {
			r->mode |= st->st_mode & S_IFMT;
			r->rdev = st->st_rdev;
			r->has_type = true;
		}
		return true;
	}
	/* single-UID: the one mapped host ID is 0 inside, anything else is
	 * the overflow ID */
	if (euid == (uid_t)-1) {
		euid = geteuid();
		egid = getegid();
	}
	*r = (struct stg_override){.uid = st->st_uid == euid ? 0 : 65534,
				   .gid = st->st_gid == egid ? 0 : 65534,
				   .mode = st->st_mode,
				   .rdev = st->st_rdev,
				   .has_type = true};
	return false;
}

static int rec_set(int fd, const struct stg_override *r)
{
	char path[64], val[STG_OVERRIDE_MAX];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	stg_override_format(r, val, sizeof(val));
	return stg_setxattr_owned(path, STG_XATTR_OVERRIDE_STAT, val, strlen(val)) < 0 ? -errno : 0;
}

/* Split `path` into its folder (returned, allocated) and last name. */
static char *split_path(const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		*name = path;
		return xstrdup(".");
	}
	*name = slash + 1;
	return slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
}

/* The record of the symlink `path` (stat `st`), kept on its folder. */
static bool link_rec_get(pid_t pid, int dirfd, const char *path, const struct stat *st,
			 struct stg_override *r)
{
	const char *name;
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dfd = -1;

	if (!path || !*path)
		return false;
	dir = split_path(path, &name);
	dfd = open_target(pid, dirfd, dir, false, false);
	if (dfd < 0 || stg_link_owner_get(dfd, name, st->st_ino, &r->uid, &r->gid) != 1)
		return false;
	r->mode = S_IFLNK | (st->st_mode & 07777);
	r->rdev = 0;
	r->has_type = true;
	return true;
}

/* The number after `key` ("\nUmask:") in /proc/PID/status, in `base`;
 * `dflt` when it cannot be read. */
static unsigned long long proc_status(pid_t pid, const char *key, int base, unsigned long long dflt)
{
	char path[64];
	_cleanup_free_ char *st = NULL;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (nib_read_file_at(AT_FDCWD, path, 1 << 16, &st, NULL, NULL) < 0)
		return dflt;
	p = strstr(st, key);
	return p ? strtoull(p + strlen(key), NULL, base) : dflt;
}

/* Whether `pid` holds `cap` in its effective set (in its own user
 * namespace): what the kernel asks of a device mknod (CAP_MKNOD) or a
 * chown to another owner (CAP_CHOWN) there. */
static bool has_cap(pid_t pid, int cap)
{
	return (proc_status(pid, "\nCapEff:", 16, 0) >> cap) & 1;
}

/*
 * lchown of a symlink: its record goes on its folder (storage.h). The
 * symlink is made anew first, so that it is the step's own (with overlay:
 * in the upper folder, where the commit finds it with its record).
 */
static int do_chown_link(pid_t pid, int dirfd, const char *path, uint32_t uid, uint32_t gid)
{
	const char *name;
	_cleanup_free_ char *dir = split_path(path, &name);
	_cleanup_close_ int dfd = -1;
	char target[PATH_MAX], tmp[64];
	uint32_t cu = 0, cg = 0;
	struct stat st;
	ssize_t n;

	if (!*name || streq(name, ".") || streq(name, ".."))
		return 0;
	dfd = open_target(pid, dirfd, dir, false, false);
	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISLNK(st.st_mode))
		return 0; /* replaced meanwhile */
	stg_link_owner_get(dfd, name, st.st_ino, &cu, &cg);
	if ((uid == UINT32_MAX || uid == cu) && (gid == UINT32_MAX || gid == cg))
		return 0;
	n = readlinkat(dfd, name, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	snprintf(tmp, sizeof(tmp), ".nib-link-%d-%llu", (int)pid, (unsigned long long)cur.id);
	if (symlinkat(target, dfd, tmp) < 0)
		return -errno;
	if (renameat(dfd, tmp, dfd, name) < 0) {
		int r = -errno;
		unlinkat(dfd, tmp, 0);
		return r;
	}
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
	if (stg_link_owner_set(dfd, name, uid == UINT32_MAX ? cu : uid,
			       gid == UINT32_MAX ? cg : gid, NULL) < 0)
		return -EIO;
	return 0;
}

static int cap_remove(int fd);

static int do_chown(pid_t pid, int dirfd, const char *path, uint32_t uid, uint32_t gid,
		    bool nofollow, bool empty_path)
{
	_cleanup_close_ int fd = open_target(pid, dirfd, path, nofollow, empty_path);
	struct stg_override r;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return !cur.emulate ? 1 : fd < 0 ? fd : -errno;
	if (!cur.emulate &&
	    (S_ISLNK(st.st_mode) || !rec_get(fd, &st, &r) || !has_cap(pid, CAP_CHOWN)))
		return 1; /* the kernel's: no record to keep in step */
	if (S_ISLNK(st.st_mode))
		return path && *path ? do_chown_link(pid, dirfd, path, uid, gid) : 0;
	rec_get(fd, &st, &r);
	if (uid != UINT32_MAX)
		r.uid = uid;
	if (gid != UINT32_MAX)
		r.gid = gid;
	/* chown(2): a changed owner clears set-user-ID, and set-group-ID when
	 * group-executable, on everything but folders */
	if ((uid != UINT32_MAX || gid != UINT32_MAX) && !S_ISDIR(st.st_mode)) {
		r.mode &= ~(mode_t)S_ISUID;
		if (r.mode & S_IXGRP)
			r.mode &= ~(mode_t)S_ISGID;
		/* and file capabilities, kept ones too */
		cap_remove(fd);
	}
	/* the disk keeps the permission bits in step (storage.h: the commit
	 * takes them from the inode unless the record's type differs) */
	if (S_ISREG(st.st_mode) && (st.st_mode & 07777) != (r.mode & 07777) &&
	    (st.st_mode & (S_ISUID | S_ISGID))) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		if (chmod(p, r.mode & st.st_mode & 07777) == 0)
			st.st_mode = (st.st_mode & ~(mode_t)07777) | (r.mode & st.st_mode & 07777);
	}
	return rec_set(fd, &r);
}

/* Returns 1 when the kernel should go on with the call itself. */
static int do_chmod(pid_t pid, int dirfd, const char *path, uint32_t mode, bool nofollow,
		    bool empty_path)
{
	_cleanup_close_ int fd = open_target(pid, dirfd, path, nofollow, empty_path);
	struct stg_override r;
	struct stat st;

	if (fd < 0)
		return 1; /* let the kernel report its own error */
	if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode) || !rec_get(fd, &st, &r))
		return 1;
	r.mode = (r.mode & S_IFMT) | (mode & 07777);
	rec_set(fd, &r);
	return 1;
}

static mode_t proc_umask(pid_t pid)
{
	return (mode_t)proc_status(pid, "\nUmask:", 8, 022) & 0777;
}

static int do_mknod(pid_t pid, int dirfd, const char *path, uint32_t mode, uint64_t dev)
{
	const char *name;
	_cleanup_free_ char *dir = split_path(path, &name);
	_cleanup_close_ int dfd = -1, fd = -1;
	struct stg_override r = {0};
	struct stat st;
	int ret;

	if (!*name || streq(name, ".") || streq(name, ".."))
		return -EEXIST;
	/* a user without CAP_MKNOD (USER 1000, --cap-drop MKNOD) is refused,
	 * as Docker refuses it: the capability in a user namespace (under
	 * ptrace, whose processes are not root, the tracer asks the run's
	 * capability set), or emulated credentials that left root */
	if ((cur.fd >= 0 && !has_cap(pid, CAP_MKNOD)) || bld_creds_dropped(pid))
		return -EPERM;
	dfd = open_target(pid, dirfd, dir, false, false);
	if (dfd < 0)
		return dfd;
	{
		/* reopen the folder for real (O_PATH cannot create) */
		char p[64];
		int d;
		snprintf(p, sizeof(p), "/proc/self/fd/%d", dfd);
		d = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d < 0 && errno == EACCES && cur.fd >= 0) {
			/* fuse-overlayfs (allow_other) lets in only the
			 * container's user namespace, and keeps the record's
			 * name to itself */
			log_warn("mknod %s: a device node cannot be recorded under "
				 "fuse-overlayfs (--storage-driver overlay or vfs can)",
				 path);
			return -EPERM;
		}
		if (d < 0)
			return -errno;
		close(dfd);
		dfd = d;
	}
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r.uid = 0;
	r.gid = 0;
	r.mode = (S_ISBLK(mode) ? S_IFBLK : S_IFCHR) | (mode & 07777 & ~(mode_t)proc_umask(pid));
	r.rdev = (dev_t)dev;
	r.has_type = true;
	if (fstat(fd, &st) < 0)
		return -errno;
	ret = rec_set(fd, &r);
	if (ret < 0) {
		unlinkat(dfd, name, 0);
		return ret;
	}
	if (fchmod(fd, r.mode & 07777) < 0)
		return -errno;
	return 0;
}

/* Write `n` bytes to the notifying process at `addr`, once it is known
 * that the request is still alive. */
static int mem_put(pid_t pid, uint64_t addr, const void *data, size_t n)
{
	ssize_t done = 0;
	int r;

	if (addr == 0)
		return -EFAULT;
	if (!cur_valid())
		return -ESRCH;
	r = mem_io(pid, true, addr, (void *)data, n, &done);
	return r < 0 ? r : done == (ssize_t)n ? 0 : -EFAULT;
}

/* ---- file capabilities ------------------------------------------------ */

#define CAP_XATTR    "security.capability"
#define CAP_OVERRIDE STG_XATTR_OVERRIDE_PREFIX CAP_XATTR

int bld_seccomp_cap_value_root(uint8_t *v, size_t *n)
{
	uint32_t magic, rootid, sans;

	if (*n < XATTR_CAPS_SZ_2)
		return -EINVAL;
	memcpy(&magic, v, sizeof(magic));
	magic = le32toh(magic);
	sans = magic & ~(uint32_t)VFS_CAP_FLAGS_EFFECTIVE;
	if (*n == XATTR_CAPS_SZ_2 && sans == VFS_CAP_REVISION_2)
		return 0;
	if (*n != XATTR_CAPS_SZ_3 || sans != VFS_CAP_REVISION_3)
		return -EINVAL;
	memcpy(&rootid, v + XATTR_CAPS_SZ_2, sizeof(rootid));
	if (rootid == 0) {
		magic = htole32(VFS_CAP_REVISION_2 | (magic & VFS_CAP_FLAGS_EFFECTIVE));
		memcpy(v, &magic, sizeof(magic));
		*n = XATTR_CAPS_SZ_2;
	}
	return 0;
}

/* setxattr of security.capability: the value kept under its record's
 * name, honouring XATTR_CREATE and XATTR_REPLACE. */
static int cap_set(pid_t pid, int fd, uint64_t addr, size_t size, int flags)
{
	uint8_t v[XATTR_CAPS_SZ_3];
	char path[64];
	size_t n = size;
	ssize_t done = 0, have;
	struct stat st;
	int r;

	if (size > sizeof(v) || size < XATTR_CAPS_SZ_2)
		return -EINVAL;
	r = mem_io(pid, false, addr, v, size, &done);
	if (r < 0)
		return r;
	if (done != (ssize_t)size)
		return -EFAULT;
	r = bld_seccomp_cap_value_root(v, &n);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -EPERM; /* no record can be kept on a symlink */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	have = getxattr(path, CAP_OVERRIDE, NULL, 0);
	if ((flags & XATTR_CREATE) && have >= 0)
		return -EEXIST;
	if ((flags & XATTR_REPLACE) && have < 0)
		return -ENODATA;
	if (!cur_valid())
		return -ESRCH;
	return stg_setxattr_owned(path, CAP_OVERRIDE, v, n) < 0 ? -errno : 0;
}

/* getxattr of security.capability: the kept value (its length in *val),
 * or 1: the kernel answers (none kept). */
static int cap_get(pid_t pid, int fd, uint64_t addr, size_t size, __s64 *val)
{
	uint8_t v[XATTR_CAPS_SZ_3 + 1];
	char path[64];
	ssize_t n;
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = getxattr(path, CAP_OVERRIDE, v, sizeof(v));
	if (n < 0 && errno == EACCES && fstat(fd, &st) == 0 && !(st.st_mode & S_IRUSR) &&
	    chmod(path, (st.st_mode & 07777) | S_IRUSR) == 0) {
		/* user.* xattrs need read permission: lend it for a moment */
		n = getxattr(path, CAP_OVERRIDE, v, sizeof(v));
		chmod(path, st.st_mode & 07777);
	}
	if (n < 0 || (size_t)n > XATTR_CAPS_SZ_3)
		return 1;
	if (size > 0) {
		int r;
		if (size < (size_t)n)
			return -ERANGE;
		r = mem_put(pid, addr, v, (size_t)n);
		if (r < 0)
			return r;
	}
	*val = n;
	return 2;
}

/* removexattr of security.capability: the kept value, or 1: the kernel
 * answers (none kept). */
static int cap_remove(int fd)
{
	char path[64];
	struct stat st;
	int e;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (removexattr(path, CAP_OVERRIDE) == 0)
		return 0;
	e = errno;
	if (e == ENODATA)
		return 1;
	if (e != EACCES || fstat(fd, &st) < 0 || (st.st_mode & S_IWUSR) ||
	    chmod(path, (st.st_mode & 07777) | S_IWUSR) < 0)
		return -e;
	/* user.* xattrs need write permission: lend it for a moment */
	e = removexattr(path, CAP_OVERRIDE) == 0 ? 0 : errno;
	chmod(path, st.st_mode & 07777);
	return e == ENODATA ? 1 : -e;
}

/*
 * The xattr calls (`call`: [l|f]{set,get,remove}xattr): root's file
 * capabilities (security.capability, which a single UID may not set) are
 * kept as user.containers.override_security.capability, which the commit
 * writes back under their name. Every other name, and a file without a
 * kept value, is the kernel's (1).
 */
static int do_xattr(pid_t pid, const char *call, const __u64 *a, __s64 *val)
{
	bool by_fd = call[0] == 'f', nofollow = call[0] == 'l';
	const char *op = call + (by_fd || nofollow ? 1 : 0);
	char path[PATH_MAX], xname[XATTR_NAME_MAX + 1];
	_cleanup_close_ int fd = -1;

	if (read_string(pid, a[1], xname, sizeof(xname)) < 0 || !streq(xname, CAP_XATTR))
		return 1;
	if (!by_fd && read_string(pid, a[0], path, sizeof(path)) < 0)
		return 1; /* the kernel's EFAULT or ENAMETOOLONG */
	fd = open_target(pid, by_fd ? (int)(int32_t)(uint32_t)a[0] : AT_FDCWD, by_fd ? NULL : path,
			 nofollow, by_fd);
	if (fd < 0)
		return fd;
	if (streq(op, "setxattr"))
		return cap_set(pid, fd, a[2], (size_t)a[3], (int)a[4]);
	if (streq(op, "getxattr"))
		return cap_get(pid, fd, a[2], (size_t)a[3], val);
	return cap_remove(fd);
}

/* The file type and device a record states; false when it keeps the
 * inode's own. */
static bool rec_type(const struct stg_override *r, mode_t *type, dev_t *dev)
{
	if (!S_ISCHR(r->mode) && !S_ISBLK(r->mode))
		return false;
	*type = r->mode & S_IFMT;
	*dev = r->rdev;
	return true;
}

/*
 * The stat family: a file that carries a record is reported with the
 * owner, mode and type the record holds, as root would have seen it; the
 * kernel answers for every other file, for every error and when the
 * process's memory cannot be written (a non-dumpable process).
 * `statx_mask` >= 0 selects statx(2)'s layout, else struct stat.
 */
static int do_stat(pid_t pid, int dirfd, const char *path, bool nofollow, bool empty_path,
		   uint64_t buf, long long statx_mask)
{
	_cleanup_close_ int fd = open_target(pid, dirfd, path, nofollow, empty_path);
	struct stg_override r;
	struct stat st;
	mode_t type;
	dev_t dev = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return 1;
	if (S_ISLNK(st.st_mode)) {
		if (!link_rec_get(pid, dirfd, path, &st, &r)) {
			if (!cur.map_ids)
				return 1;
			rec_get(-1, &st, &r);
		}
	} else if (!rec_get(fd, &st, &r) && !cur.map_ids) {
		return 1;
	}
	if (!rec_type(&r, &type, &dev))
		type = st.st_mode & S_IFMT;
	if (statx_mask >= 0) {
		struct statx sx;
		if (statx(fd, "", AT_EMPTY_PATH, (unsigned)statx_mask, &sx) < 0)
			return 1;
		sx.stx_uid = r.uid;
		sx.stx_gid = r.gid;
		sx.stx_mode = (uint16_t)(type | (r.mode & 07777));
		if (dev) {
			sx.stx_rdev_major = major(dev);
			sx.stx_rdev_minor = minor(dev);
		}
		return mem_put(pid, buf, &sx, sizeof(sx)) == 0 ? 0 : 1;
	}
	st.st_uid = r.uid;
	st.st_gid = r.gid;
	st.st_mode = type | (r.mode & 07777);
	if (dev)
		st.st_rdev = dev;
	return mem_put(pid, buf, &st, sizeof(st)) == 0 ? 0 : 1;
}

/* libseccomp reports a failed ioctl as -ECANCELED and leaves the cause
 * in errno. */
static int ioctl_errno(int r)
{
	return r == -ECANCELED && errno ? errno : -r;
}

static int64_t as_int(uint64_t v)
{
	return (int64_t)(int32_t)(uint32_t)v;
}

/*
 * A trapped call waits for the supervisor's answer: with the two woken on
 * different CPUs, every call pays two cross-CPU wake-ups, and in a virtual
 * machine each is a halted vCPU to restart (~100 us: `find / -ls` spent
 * most of its time idle). Synchronous wake-up hands the CPU from the
 * caller to the supervisor and back instead.
 */
void bld_seccomp_supervise_init(int notify_fd)
{
	if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
		  (__u64)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0)
		log_debug("seccomp: no synchronous wake-up: %s", strerror(errno));
}

static void answer(const struct seccomp_notif *req, struct seccomp_notif_resp *resp);

int bld_seccomp_supervise_one(int notify_fd, bool emulate_owner, struct nib_error *err)
{
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	int ret = 0, r;

	if (seccomp_notify_alloc(&req, &resp) < 0)
		return nib_err(err, NIB_ERR_ENV, ENOMEM, "seccomp notification");
	r = seccomp_notify_receive(notify_fd, req);
	if (r < 0) {
		int e = ioctl_errno(r);
		seccomp_notify_free(req, resp);
		/* ENOENT: the caller went away meanwhile */
		if (e == ENOENT || e == EINTR)
			return 0;
		return nib_err(err, NIB_ERR_ENV, e, "seccomp notification");
	}
	cur.fd = notify_fd;
	cur.map_ids = false;
	cur.emulate = emulate_owner;
	answer(req, resp);
	r = seccomp_notify_respond(notify_fd, resp);
	if (r < 0) {
		int e = ioctl_errno(r);
		/* ENOENT: the caller was killed before the answer */
		if (e != ENOENT && e != EINTR)
			ret = nib_err(err, NIB_ERR_ENV, e, "seccomp notification answer");
	}
	seccomp_notify_free(req, resp);
	return ret;
}

void bld_seccomp_answer(const struct seccomp_notif *req, struct seccomp_notif_resp *resp,
			bool map_ids)
{
	cur.fd = -1;
	cur.map_ids = map_ids;
	cur.emulate = true;
	answer(req, resp);
}

/* The call names the file behind fd `fd` alone. */
static void by_fd(struct bld_seccomp_call *c, enum bld_seccomp_op op, uint64_t fd)
{
	c->op = op;
	c->dirfd = (int)fd;
	c->empty_path = true;
}

/* The call names the path at `addr`, from the cwd. */
static void by_path(struct bld_seccomp_call *c, enum bld_seccomp_op op, uint64_t addr,
		    bool nofollow)
{
	c->op = op;
	c->has_path = true;
	c->path = addr;
	c->nofollow = nofollow;
}

/* The call names the path at `addr` from `dirfd`, with AT_* `flags`. */
static void by_at(struct bld_seccomp_call *c, enum bld_seccomp_op op, uint64_t dirfd, uint64_t addr,
		  uint64_t flags)
{
	by_path(c, op, addr, (flags & AT_SYMLINK_NOFOLLOW) != 0);
	c->dirfd = (int)as_int(dirfd);
	c->empty_path = (flags & AT_EMPTY_PATH) != 0;
}

void bld_seccomp_decode(const char *name, const struct seccomp_notif *req,
			struct bld_seccomp_call *c)
{
	const __u64 *a = req->data.args;

	*c = (struct bld_seccomp_call){.op = BLD_SC_ENOSYS, .dirfd = AT_FDCWD, .statx_mask = -1};
	if (!name)
		return;
	if (streq(name, "fchown") || streq(name, "fchown32")) {
		by_fd(c, BLD_SC_CHOWN, a[0]);
		c->uid = (uint32_t)a[1];
		c->gid = (uint32_t)a[2];
	} else if (streq(name, "chown") || streq(name, "lchown") || streq(name, "chown32") ||
		   streq(name, "lchown32")) {
		by_path(c, BLD_SC_CHOWN, a[0], name[0] == 'l');
		c->uid = (uint32_t)a[1];
		c->gid = (uint32_t)a[2];
	} else if (streq(name, "fchownat")) {
		by_at(c, BLD_SC_CHOWN, a[0], a[1], a[4]);
		c->uid = (uint32_t)a[2];
		c->gid = (uint32_t)a[3];
	} else if (streq(name, "fchmod")) {
		by_fd(c, BLD_SC_CHMOD, a[0]);
		c->mode = (uint32_t)a[1];
	} else if (streq(name, "chmod")) {
		by_path(c, BLD_SC_CHMOD, a[0], false);
		c->mode = (uint32_t)a[1];
	} else if (streq(name, "fchmodat") || streq(name, "fchmodat2")) {
		/* fchmodat has no flags argument */
		by_at(c, BLD_SC_CHMOD, a[0], a[1], streq(name, "fchmodat2") ? a[3] : 0);
		c->mode = (uint32_t)a[2];
	} else if (req->data.arch != seccomp_arch_native() &&
		   (streq(name, "stat") || streq(name, "lstat") || streq(name, "fstat") ||
		    streq(name, "statx"))) {
		c->op = BLD_SC_KERNEL; /* 32-bit layouts: the kernel's answer */
	} else if (streq(name, "fstat")) {
		by_fd(c, BLD_SC_STAT, a[0]);
		c->buf = a[1];
	} else if (streq(name, "stat") || streq(name, "lstat")) {
		by_path(c, BLD_SC_STAT, a[0], name[0] == 'l');
		c->buf = a[1];
	} else if (streq(name, "newfstatat")) {
		by_at(c, BLD_SC_STAT, a[0], a[1], a[3]);
		c->buf = a[2];
	} else if (streq(name, "statx")) {
		by_at(c, BLD_SC_STAT, a[0], a[1], a[2]);
		c->buf = a[4];
		c->statx_mask = (long long)(uint32_t)a[3];
	} else if (streq(name, "mknod")) {
		by_path(c, BLD_SC_MKNOD, a[0], false);
		c->mode = (uint32_t)a[1];
		c->dev = a[2];
	} else if (streq(name, "mknodat")) {
		by_at(c, BLD_SC_MKNOD, a[0], a[1], 0);
		c->mode = (uint32_t)a[2];
		c->dev = a[3];
	}
}

/* Fill `resp` for `req` (cur.fd and cur.map_ids set by the caller). */
static void answer(const struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
	char path[PATH_MAX];
	_cleanup_free_ char *name = NULL;
	pid_t pid = (pid_t)req->pid;
	struct bld_seccomp_call c;
	const char *p = NULL;
	int r;

	cur.id = req->id;
	name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
	cur.reads_only = name && (strstr(name, "stat") != NULL);
	resp->id = req->id;
	resp->val = 0;
	resp->error = 0;
	resp->flags = 0;

	if (name && strstr(name, "xattr")) {
		/* before the credentials: "setxattr" and "getxattr" are no
		 * set*id or get*id */
		r = do_xattr(pid, name, req->data.args, &resp->val);
	} else if (name && bld_creds_handle(name, req, resp)) {
		r = 2; /* answered in resp */
	} else {
		bld_seccomp_decode(name, req, &c);
		r = c.has_path ? read_string(pid, c.path, path, sizeof(path)) : 0;
		p = c.has_path ? path : NULL;
		/* an unreadable path: the kernel reports it for a chmod or a
		 * stat, nib for what it answers itself */
		if (r < 0 && (c.op == BLD_SC_CHMOD || c.op == BLD_SC_STAT))
			r = 1;
		else if (r == 0 && c.op == BLD_SC_CHOWN)
			r = do_chown(pid, c.dirfd, p, c.uid, c.gid, c.nofollow, c.empty_path);
		else if (r == 0 && c.op == BLD_SC_CHMOD)
			r = do_chmod(pid, c.dirfd, p, c.mode, c.nofollow, c.empty_path);
		else if (r == 0 && c.op == BLD_SC_STAT)
			r = do_stat(pid, c.dirfd, p, c.nofollow, c.empty_path, c.buf, c.statx_mask);
		else if (r == 0 && c.op == BLD_SC_MKNOD)
			r = do_mknod(pid, c.dirfd, p, c.mode, c.dev);
		else if (r == 0 && c.op == BLD_SC_KERNEL)
			r = 1;
		else if (r == 0)
			r = -ENOSYS;
	}
	/* with a subuid range, a process nib cannot read (one that left
	 * container root) holds no CAP_MKNOD, and the kernel judges its
	 * chown and chmod itself */
	if (!cur.emulate && r == -EACCES)
		r = strstr(name, "mknod") ? -EPERM : 1;
	if (r == 1)
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	else if (r != 2)
		resp->error = r < 0 ? r : 0;
	log_debug("seccomp: %s by pid %d -> %s", name ? name : "?", (int)pid,
		  resp->flags	? "continue"
		  : resp->error ? strerror(-resp->error)
				: "emulated");
}
