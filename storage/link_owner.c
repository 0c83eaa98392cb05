/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Owners of symlinks with a single UID. The kernel allows user.* extended
 * attributes only on regular files and folders, so a symlink's record is
 * kept on its folder, one attribute per symlink (format: storage.h).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "storage/storage.h"

/* "/proc/self/fd/N" for a folder fd (O_PATH fds have no f*xattr calls) and
 * the attribute name; false when NAME is too long to be recorded. */
static bool link_attr(int dirfd, const char *name, char *path, size_t psize, char *attr,
		      size_t asize)
{
	snprintf(path, psize, "/proc/self/fd/%d", dirfd);
	return (size_t)snprintf(attr, asize, "%s%s", STG_XATTR_LINK_PREFIX, name) < asize &&
	       strlen(attr) <= XATTR_NAME_MAX;
}

int stg_setxattr_owned(const char *path, const char *name, const void *val, size_t n)
{
	struct stat st;
	int r, e;

	if (setxattr(path, name, val, n, 0) == 0)
		return 0;
	e = errno;
	if (e != EACCES || stat(path, &st) < 0 || (st.st_mode & S_IWUSR) ||
	    chmod(path, (st.st_mode & 07777) | S_IWUSR) < 0) {
		errno = e;
		return -1;
	}
	/* user.* xattrs need write permission: lend it for a moment */
	r = setxattr(path, name, val, n, 0);
	e = errno;
	chmod(path, st.st_mode & 07777);
	errno = e;
	return r;
}

int stg_link_owner_set(int dirfd, const char *name, uint32_t uid, uint32_t gid,
		       struct nib_error *err)
{
	char path[64], attr[XATTR_NAME_MAX + 64], val[64];
	struct stat st;
	int n;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "stat %s", name);
	if (!S_ISLNK(st.st_mode))
		return nib_err(err, NIB_ERR_IO, EINVAL, "%s: not a symlink", name);
	if (!link_attr(dirfd, name, path, sizeof(path), attr, sizeof(attr))) {
		log_debug("symlink %s: name too long for an owner record", name);
		return 0;
	}
	if (uid == 0 && gid == 0) {
		if (removexattr(path, attr) < 0 && errno != ENODATA && errno != ENOTSUP)
			return nib_err(err, NIB_ERR_IO, errno, "remove %s", attr);
		return 0;
	}
	n = snprintf(val, sizeof(val), "%" PRIu32 ":%" PRIu32 ":%llu", uid, gid,
		     (unsigned long long)st.st_ino);
	if (stg_setxattr_owned(path, attr, val, (size_t)n) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "set %s", attr);
	return 0;
}

int stg_link_owner_get(int dirfd, const char *name, ino_t ino, uint32_t *uid, uint32_t *gid)
{
	char path[64], attr[XATTR_NAME_MAX + 64], val[64];
	unsigned long long rino;
	uint32_t u, g;
	ssize_t n;

	if (!link_attr(dirfd, name, path, sizeof(path), attr, sizeof(attr)))
		return 0;
	n = getxattr(path, attr, val, sizeof(val) - 1);
	if (n <= 0)
		return 0;
	val[n] = '\0';
	if (sscanf(val, "%" SCNu32 ":%" SCNu32 ":%llu", &u, &g, &rino) != 3 || rino != ino)
		return 0; /* made for an earlier symlink of that name */
	*uid = u;
	*gid = g;
	return 1;
}
