/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An image out of the store as an oci-archive (skopeo's and buildah's
 * oci-archive: transport): the OCI layout stg_export_oci_layout writes,
 * made in a work folder of the store and packed as a tar (names sorted,
 * owner 0, mtime 0: the same image gives the same bytes), which appears
 * under its name only when complete.
 */
#define NIB_STORAGE_INTERNAL
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/store_internal.h"

static void archive_writep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}
NIB_DEFINE_CLEANUP(struct archive_entry *, archive_entry_free)

static int ar_fail(struct archive *a, const char *file, struct nib_error *err)
{
	return nib_err(err, NIB_ERR_IO, archive_errno(a) > 0 ? archive_errno(a) : 0, "write %s: %s",
		       file, archive_error_string(a) ?: "archive error");
}

static int add_entry(struct archive *a, int dirfd, const char *rel, const char *name, bool dir,
		     const char *file, struct nib_error *err)
{
	_cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
	_cleanup_close_ int fd = -1;
	struct stat s;
	char buf[1 << 16];
	ssize_t n;

	archive_entry_set_pathname(e, rel);
	archive_entry_set_mtime(e, 0, 0);
	if (dir) {
		archive_entry_set_filetype(e, AE_IFDIR);
		archive_entry_set_perm(e, 0755);
		return archive_write_header(a, e) == ARCHIVE_OK ? 0 : ar_fail(a, file, err);
	}
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &s) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "read %s", rel);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, s.st_size);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		return ar_fail(a, file, err);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return nib_err(err, NIB_ERR_IO, errno, "read %s", rel);
		}
		if (archive_write_data(a, buf, (size_t)n) != n)
			return ar_fail(a, file, err);
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Pack the folder `dirfd` (`prefix`: its path in the tar, "" at the top):
 * folders and regular files, names sorted; the lock file is left out. */
static int pack(struct archive *a, int dirfd, const char *prefix, const char *file,
		struct nib_error *err)
{
	_cleanup_strv_ struct nib_strv names = {0};
	DIR *d;
	struct dirent *de;
	int dup = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);

	if (dup < 0 || !(d = fdopendir(dup))) {
		if (dup >= 0)
			close(dup);
		return nib_err(err, NIB_ERR_IO, errno, "read folder %s", prefix);
	}
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
		    !streq(de->d_name, ".nib-lock"))
			nib_strv_push(&names, de->d_name);
	closedir(d);
	if (names.len)
		qsort(names.v, names.len, sizeof(char *), cmp_names);
	for (size_t i = 0; i < names.len; i++) {
		_cleanup_free_ char *rel =
		    *prefix ? xasprintf("%s/%s", prefix, names.v[i]) : xstrdup(names.v[i]);
		struct stat s;
		if (fstatat(dirfd, names.v[i], &s, AT_SYMLINK_NOFOLLOW) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "stat %s", rel);
		if (S_ISDIR(s.st_mode)) {
			_cleanup_close_ int sub = openat(
			    dirfd, names.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				return nib_err(err, NIB_ERR_IO, errno, "open %s", rel);
			if (add_entry(a, dirfd, rel, names.v[i], true, file, err) < 0 ||
			    pack(a, sub, rel, file, err) < 0)
				return -1;
		} else if (S_ISREG(s.st_mode)) {
			if (add_entry(a, dirfd, rel, names.v[i], false, file, err) < 0)
				return -1;
		}
	}
	return 0;
}

int stg_export_oci_archive(struct stg_store *st, const char *ref, const char *file, const char *tag,
			   struct nib_error *err)
{
	static unsigned long counter;
	_cleanup_free_ char *work =
	    xasprintf("%s/nib/tmp/ociarchive-%d-%lu", st->path, (int)getpid(),
		      __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%d", file, (int)getpid());
	_cleanup_(archive_writep) struct archive *a = NULL;
	_cleanup_close_ int fd = -1, wfd = -1;
	int ret = -1;

	if (stg_export_oci_layout(st, ref, work, tag, err) < 0)
		goto out;
	wfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (wfd < 0) {
		nib_err(err, NIB_ERR_IO, errno, "%s", work);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		nib_err(err, NIB_ERR_IO, errno, "create %s", tmp);
		goto out;
	}
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		ar_fail(a, file, err);
		goto out_tmp;
	}
	if (pack(a, wfd, "", file, err) < 0)
		goto out_tmp;
	if (archive_write_close(a) != ARCHIVE_OK) {
		ar_fail(a, file, err);
		goto out_tmp;
	}
	if (fsync(fd) < 0 || rename(tmp, file) < 0) {
		nib_err(err, NIB_ERR_IO, errno, "write %s", file);
		goto out_tmp;
	}
	ret = 0;
	goto out;
out_tmp:
	unlink(tmp);
out:
	nib_rm_rf_at(AT_FDCWD, work, NULL);
	return ret;
}
