/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tree copies for the vfs driver: every file type, owners, modes, xattrs
 * (records included), times and hardlinks; file data shared with FICLONE
 * where the file system has reflinks, else copy_file_range.
 */
#define NIB_STORAGE_INTERNAL
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "storage/layer_internal.h"

struct copy {
	struct {
		dev_t dev;
		ino_t ino;
		char *path;
	} * links;
	size_t n_links, cap_links;
	int droot;
	struct perm_fixes fx;
	bool reflink_failed;
	uint64_t files, reflinked;
};

/* The record of symlink `name` of folder `sfd` (storage.h: it names the
 * symlink's inode) made for its copy in `dfd`; none when it is stale. */
static int copy_link_owner(int sfd, int dfd, const char *name, const char *path,
			   struct nib_error *err)
{
	struct stat st;
	uint32_t uid, gid;

	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode) ||
	    stg_link_owner_get(sfd, name, st.st_ino, &uid, &gid) != 1)
		return 0;
	if (stg_link_owner_set(dfd, name, uid, gid, err) < 0)
		return nib_err_wrap(err, "/%s", path);
	return 0;
}

/* Once the folder's entries are copied (symlink records name them). */
static int copy_xattrs(int sfd, int dfd, const char *path, struct nib_error *err)
{
	char list[16384], val[65536];
	ssize_t n = flistxattr(sfd, list, sizeof(list));

	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
		ssize_t vl;

		if (nib_str_has_prefix(list + i, STG_XATTR_LINK_PREFIX)) {
			if (copy_link_owner(sfd, dfd, list + i + strlen(STG_XATTR_LINK_PREFIX),
					    path, err) < 0)
				return -1;
			continue;
		}
		vl = fgetxattr(sfd, list + i, val, sizeof(val));
		if (vl < 0)
			continue;
		if (fsetxattr(dfd, list + i, val, (size_t)vl, 0) < 0 &&
		    nib_str_has_prefix(list + i, "user."))
			return nib_err(err, NIB_ERR_IO, errno, "copy xattr %s of /%s", list + i,
				       path);
	}
	return 0;
}

static int copy_data(struct copy *c, int sfd, int dfd, off_t size, const char *path,
		     struct nib_error *err)
{
	if (!c->reflink_failed && ioctl(dfd, FICLONE, sfd) == 0) {
		c->reflinked++;
		return 0;
	}
	c->reflink_failed = true;
	for (off_t left = size; left > 0;) {
		ssize_t n = copy_file_range(sfd, NULL, dfd, NULL, (size_t)MIN(left, 1 << 30), 0);
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP)) {
			char buf[65536];
			n = read(sfd, buf, sizeof(buf));
			if (n > 0 && nib_write_all(dfd, buf, (size_t)n) < 0)
				return nib_err(err, NIB_ERR_IO, errno, "copy /%s", path);
		}
		if (n < 0)
			return nib_err(err, NIB_ERR_IO, errno, "copy /%s", path);
		if (n == 0)
			break;
		left -= n;
	}
	return 0;
}

/* Owner, mode, times of an fd (regular files and folders). */
static int finish(int sfd, int dfd, const struct stat *st, const char *path, struct nib_error *err)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	struct stat dst;

	if (fstat(dfd, &dst) == 0 && (dst.st_uid != st->st_uid || dst.st_gid != st->st_gid) &&
	    fchown(dfd, st->st_uid, st->st_gid) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "chown /%s", path);
	/* after chown (which clears security.capability and setuid bits) */
	if (copy_xattrs(sfd, dfd, path, err) < 0)
		return -1;
	if (fchmod(dfd, st->st_mode & 07777) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "chmod /%s", path);
	(void)futimens(dfd, ts);
	return 0;
}

static int copy_dir(struct copy *c, int sfd, int dfd, const char *rel, struct nib_error *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = dup(sfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return nib_err(err, NIB_ERR_IO, errno, "read /%s", rel);
	}
	while ((errno = 0, de = readdir(d))) {
		const char *name = de->d_name;
		struct stat st;
		_cleanup_free_ char *p = NULL;

		if (streq(name, ".") || streq(name, ".."))
			continue;
		p = *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
		if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "stat /%s", p);
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int s2 = -1, d2 = -1;
			if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
				return nib_err(err, NIB_ERR_IO, errno, "mkdir /%s", p);
			s2 = stg_layer_openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW,
					      &c->fx);
			d2 = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 < 0 || d2 < 0)
				return nib_err(err, NIB_ERR_IO, errno, "open /%s", p);
			if (copy_dir(c, s2, d2, p, err) < 0 || finish(s2, d2, &st, p, err) < 0)
				return -1;
			continue;
		}
		if (st.st_nlink > 1 && !S_ISDIR(st.st_mode)) {
			bool linked = false;
			for (size_t i = 0; i < c->n_links && !linked; i++)
				if (c->links[i].dev == st.st_dev && c->links[i].ino == st.st_ino) {
					/* the first copy, relative to the top */
					if (linkat(c->droot, c->links[i].path, dfd, name, 0) < 0)
						return nib_err(err, NIB_ERR_IO, errno, "link /%s",
							       p);
					linked = true;
				}
			if (linked)
				continue;
		}
		if (S_ISREG(st.st_mode)) {
			_cleanup_close_ int s2 =
			    stg_layer_openat(sfd, name, O_RDONLY | O_NOFOLLOW, &c->fx);
			_cleanup_close_ int d2 = openat(
			    dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (s2 < 0 || d2 < 0)
				return nib_err(err, NIB_ERR_IO, errno, "copy /%s", p);
			c->files++;
			if (copy_data(c, s2, d2, st.st_size, p, err) < 0 ||
			    finish(s2, d2, &st, p, err) < 0)
				return -1;
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);
			struct timespec ts[2] = {st.st_atim, st.st_mtim};
			if (n < 0)
				return nib_err(err, NIB_ERR_IO, errno, "readlink /%s", p);
			target[n] = '\0';
			if (symlinkat(target, dfd, name) < 0)
				return nib_err(err, NIB_ERR_IO, errno, "symlink /%s", p);
			(void)fchownat(dfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
			(void)utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
		} else {
			struct timespec ts[2] = {st.st_atim, st.st_mtim};
			if (mknodat(dfd, name, st.st_mode, st.st_rdev) < 0)
				return nib_err(err, NIB_ERR_IO, errno, "mknod /%s", p);
			(void)fchownat(dfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
			(void)fchmodat(dfd, name, st.st_mode & 07777, 0);
			(void)utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
		}
		if (st.st_nlink > 1) {
			c->links =
			    xgrow(c->links, &c->cap_links, c->n_links + 1, sizeof(*c->links));
			c->links[c->n_links].dev = st.st_dev;
			c->links[c->n_links].ino = st.st_ino;
			c->links[c->n_links].path = xstrdup(p);
			c->n_links++;
		}
	}
	return 0;
}

int stg_layer_copy_tree(int srcfd, int dstfd, struct nib_error *err)
{
	struct copy c = {.droot = dstfd};
	struct stat st;
	int r;

	r = copy_dir(&c, srcfd, dstfd, "", err);
	if (r == 0 && fstat(srcfd, &st) == 0)
		r = finish(srcfd, dstfd, &st, "", err);
	log_debug("copied %llu files, %llu reflinked", (unsigned long long)c.files,
		  (unsigned long long)c.reflinked);
	stg_perm_fixes_restore(&c.fx);
	for (size_t i = 0; i < c.n_links; i++)
		free(c.links[i].path);
	free(c.links);
	return r;
}
