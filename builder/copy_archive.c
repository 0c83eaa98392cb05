/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ADD of a local tar archive: detected by content (a tar header after any
 * compression libarchive knows: gzip, bzip2, xz, zstd, ...), extracted
 * into the destination folder with every entry resolved inside that folder
 * (BuildKit's applyRootArchive): "..", absolute names and symlinks in the
 * archive or the image never lead outside it. Entries keep the archive's
 * owners (--chown overrides them), mode and mtime; --chmod does not apply.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/copy.h"
#include "storage/storage.h"

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static struct archive *open_reader(int fd)
{
	struct archive *a = archive_read_new();

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (lseek(fd, 0, SEEK_SET) < 0 || archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

bool bld_copy_is_archive(int fd)
{
	_cleanup_(archive_freep) struct archive *a = open_reader(fd);
	struct archive_entry *e;
	int r;

	if (!a)
		return false;
	r = archive_read_next_header(a, &e);
	return r == ARCHIVE_OK || r == ARCHIVE_WARN;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static char *dir_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? xstrndup(p, (size_t)(s - p)) : xstrdup("");
}

/* An archive name made relative and clean; NULL for the root itself;
 * error for names that climb out. */
static int clean_name(const char *name, char **out)
{
	_cleanup_free_ char *c = NULL;

	while (*name == '/')
		name++;
	c = nib_path_clean(name);
	if (streq(c, ".")) {
		*out = NULL;
		return 0;
	}
	if (!nib_path_is_below(c))
		return -1;
	*out = steal_pointer(&c);
	return 0;
}

struct dir_time {
	char *path;
	struct timespec mtime;
};

/* Open the folder `path` (resolved inside the extraction root `rootfd`),
 * creating missing folders 0755 owned like created parents. */
static int open_parent(struct bld_copy_writer *w, int rootfd, const char *path,
		       struct nib_error *err)
{
	struct bld_copy_resolved r;
	int fd;

	if (bld_copy_resolve(rootfd, path, true, &r, err) < 0)
		return -1;
	if (!r.exists) {
		int saved = w->dest_root;
		const char *saved_prefix = w->root_prefix;
		int ret;
		w->dest_root = rootfd;
		w->root_prefix = w->extract_prefix;
		ret = bld_copy_mkdir_all(w, r.path, err);
		w->dest_root = saved;
		w->root_prefix = saved_prefix;
		if (ret < 0) {
			bld_copy_resolved_free(&r);
			return -1;
		}
	} else if (!S_ISDIR(r.st.st_mode)) {
		bld_copy_resolved_free(&r);
		return nib_err(err, NIB_ERR_IO, ENOTDIR, "extract into %s", path);
	}
	fd = nib_open_in_root(rootfd, r.path, O_PATH | O_DIRECTORY, 0, err);
	bld_copy_resolved_free(&r);
	return fd;
}

static int write_data(struct archive *a, int out, const char *what, struct nib_error *err)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
		const char *c = buf;
		while (size > 0) {
			ssize_t n = pwrite(out, c, size, (off_t)off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return nib_err(err, NIB_ERR_IO, errno, "write %s", what);
			c += n;
			off += n;
			size -= (size_t)n;
		}
	}
	if (r != ARCHIVE_EOF)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "read %s: %s", what,
			       archive_error_string(a));
	/* a sparse file may end in a hole */
	if (ftruncate(out, (off_t)lseek(out, 0, SEEK_END)) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "write %s", what);
	return 0;
}

/* PAX xattrs of the entry (SCHILY.xattr.*) on the written file. */
static int entry_xattrs(struct bld_copy_writer *w, struct archive_entry *e, int fd,
			const char *what, struct nib_error *err)
{
	const char *name;
	const void *value;
	size_t size;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
		if (bld_copy_xattr_set(w, fd, name, value, size, what, err) < 0)
			return -1;
	return 0;
}

static int extract_entry(struct bld_copy_writer *w, struct archive *a, struct archive_entry *e,
			 int rootfd, const char *name, const char *what, struct dir_time **dirs,
			 size_t *n_dirs, size_t *cap_dirs, struct nib_error *err)
{
	_cleanup_free_ char *parent = dir_name(name);
	_cleanup_close_ int pfd = -1, fd = -1;
	const char *base = base_name(name);
	mode_t type = archive_entry_filetype(e);
	const char *hardlink = archive_entry_hardlink(e);
	struct stat st = {0}, dst;
	struct bld_copy_meta m;
	/* see copy_regular: xattrs before the chmod in record mode */
	bool xfirst = bld_copy_xattrs_first(w);

	pfd = open_parent(w, rootfd, parent, err);
	if (pfd < 0)
		return -1;
	bld_copy_dir_unlock(w, pfd);
	if (fstatat(pfd, base, &dst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !(S_ISDIR(dst.st_mode) && type == AE_IFDIR && !hardlink)) {
		if (nib_rm_rf_at(pfd, base, err) < 0)
			return -1;
	}
	st.st_mode = type | (archive_entry_perm(e) & 07777);
	st.st_uid = (uid_t)archive_entry_uid(e);
	st.st_gid = (gid_t)archive_entry_gid(e);
	st.st_mtim.tv_sec = archive_entry_mtime(e);
	st.st_mtim.tv_nsec = archive_entry_mtime_nsec(e);
	st.st_atim = st.st_mtim;
	st.st_rdev = archive_entry_rdev(e);
	bld_copy_meta_for(w, &st, true, false, &m);

	if (hardlink) {
		_cleanup_free_ char *target = NULL, *tparent = NULL;
		_cleanup_close_ int tfd = -1;
		struct bld_copy_resolved r;

		if (clean_name(hardlink, &target) < 0 || !target)
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "archive hardlink %s points outside the extraction folder",
				       what);
		if (bld_copy_resolve(rootfd, target, false, &r, err) < 0)
			return -1;
		tparent = dir_name(r.path);
		tfd = nib_open_in_root(rootfd, tparent, O_PATH | O_DIRECTORY, 0, err);
		if (tfd < 0 || linkat(tfd, base_name(r.path), pfd, base, 0) < 0) {
			bld_copy_resolved_free(&r);
			return tfd < 0 ? -1 : nib_err(err, NIB_ERR_IO, errno, "hardlink %s", what);
		}
		bld_copy_resolved_free(&r);
		w->stats.hardlinks++;
		return 0;
	}
	switch (type) {
	case AE_IFDIR:
		if (mkdirat(pfd, base, 0700) < 0 && errno != EEXIST)
			return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", what);
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "open %s", what);
		if ((xfirst && entry_xattrs(w, e, fd, what, err) < 0) ||
		    bld_copy_meta_write(w, fd, -1, NULL, S_IFDIR, &m, 0, what, err) < 0 ||
		    (!xfirst && entry_xattrs(w, e, fd, what, err) < 0))
			return -1;
		*dirs = xgrow(*dirs, cap_dirs, *n_dirs + 1, sizeof(**dirs));
		(*dirs)[(*n_dirs)++] = (struct dir_time){xstrdup(name), m.mtime};
		w->stats.dirs++;
		return 0;
	case AE_IFREG:
		fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "create %s", what);
		if (write_data(a, fd, what, err) < 0)
			return -1;
		if ((xfirst && entry_xattrs(w, e, fd, what, err) < 0) ||
		    bld_copy_meta_write(w, fd, -1, NULL, S_IFREG, &m, 0, what, err) < 0 ||
		    (!xfirst && entry_xattrs(w, e, fd, what, err) < 0))
			return -1;
		w->stats.files++;
		w->stats.bytes += (uint64_t)archive_entry_size(e);
		return 0;
	case AE_IFLNK:
		if (symlinkat(archive_entry_symlink(e) ? archive_entry_symlink(e) : "", pfd, base) <
		    0)
			return nib_err(err, NIB_ERR_IO, errno, "symlink %s", what);
		w->stats.symlinks++;
		return bld_copy_meta_write(w, -1, pfd, base, S_IFLNK, &m, 0, what, err);
	case AE_IFIFO:
		if (mkfifoat(pfd, base, 0600) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "mkfifo %s", what);
		fd = openat(pfd, base, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
		break;
	case AE_IFCHR:
	case AE_IFBLK:
		if (w->o->chown_mode != BLD_COPY_CHOWN_XATTR) {
			if (mknodat(pfd, base, type | 0600, st.st_rdev) == 0) {
				w->stats.other++;
				return bld_copy_meta_write(w, -1, pfd, base, type, &m, 0, what,
							   err);
			}
			if (w->o->chown_mode == BLD_COPY_CHOWN_REAL || errno != EPERM)
				return nib_err(err, NIB_ERR_ENV, errno, "mknod %s", what);
		}
		/* emulated: an empty file with the device in its record */
		fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		break;
	default:
		return nib_err(err, NIB_ERR_CORRUPT, 0, "unsupported archive entry type for %s",
			       what);
	}
	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", what);
	w->stats.other++;
	return bld_copy_meta_write(w, fd, -1, NULL, type, &m, st.st_rdev, what, err);
}

int bld_copy_extract(struct bld_copy_writer *w, int fd, const char *src, const char *dest,
		     struct nib_error *err)
{
	_cleanup_(archive_freep) struct archive *a = NULL;
	_cleanup_close_ int rootfd = -1;
	_cleanup_free_ char *prefix = NULL;
	struct archive_entry *e;
	struct dir_time *dirs = NULL;
	size_t n_dirs = 0, cap_dirs = 0;
	struct stg_layer_limits lim;
	uint64_t entries = 0, bytes = 0;
	int ret = -1, r;

	if (bld_copy_mkdir_all(w, dest, err) < 0)
		return -1;
	rootfd = nib_open_in_root(w->dest_root, dest, O_PATH | O_DIRECTORY, 0, err);
	if (rootfd < 0)
		return -1;
	{
		struct bld_copy_resolved rd;
		if (bld_copy_resolve(w->dest_root, dest, true, &rd, err) < 0)
			return -1;
		prefix = steal_pointer(&rd.path);
	}
	w->extract_prefix = prefix;
	/* the layer limits (NIB_LAYER_MAX_SIZE, ...) hold archive bombs too */
	stg_layer_limits_default(&lim);
	a = open_reader(fd);
	if (!a)
		return nib_err(err, NIB_ERR_IO, errno, "open archive %s", src);
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		_cleanup_free_ char *name = NULL, *what = NULL;

		if (clean_name(archive_entry_pathname(e), &name) < 0) {
			nib_err(err, NIB_ERR_CORRUPT, 0,
				"archive %s: entry %s is outside the extraction folder", src,
				archive_entry_pathname(e));
			goto out;
		}
		if (!name)
			continue;
		entries++;
		if (archive_entry_size(e) > 0)
			bytes += (uint64_t)archive_entry_size(e);
		if ((lim.max_entries && entries > lim.max_entries) ||
		    (lim.max_size && bytes > lim.max_size)) {
			nib_err(
			    err, NIB_ERR_CORRUPT, 0,
			    "archive %s: more than %llu entries or %llu bytes (NIB_LAYER_MAX_*)",
			    src, (unsigned long long)lim.max_entries,
			    (unsigned long long)lim.max_size);
			goto out;
		}
		what = xasprintf("/%s%s%s (from %s)", prefix, *prefix ? "/" : "", name, src);
		if (extract_entry(w, a, e, rootfd, name, what, &dirs, &n_dirs, &cap_dirs, err) < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF) {
		nib_err(err, NIB_ERR_CORRUPT, 0, "archive %s: %s", src, archive_error_string(a));
		goto out;
	}
	/* folder times last, deepest first, once their entries are written */
	for (size_t i = n_dirs; i > 0; i--) {
		struct timespec ts[2] = {dirs[i - 1].mtime, dirs[i - 1].mtime};
		_cleanup_close_ int dfd =
		    nib_open_in_root(rootfd, dirs[i - 1].path, O_RDONLY | O_DIRECTORY, 0, NULL);
		if (dfd >= 0)
			(void)futimens(dfd, ts);
	}
	ret = 0;
out:
	w->extract_prefix = NULL;
	for (size_t i = 0; i < n_dirs; i++)
		free(dirs[i].path);
	free(dirs);
	return ret;
}
