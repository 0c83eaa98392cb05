/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: a submitted context archive, checked entry by entry and
 * unpacked into the build's own folder. One bad entry refuses the whole
 * archive before the build exists.
 */
#include <archive.h>
#include <archive_entry.h>
#include <string.h>

#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

static void archive_readp(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}
static void archive_writep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

/* "./a/b" -> "a/b"; NULL when absolute, empty or climbing out. */
static const char *entry_path(const char *p)
{
	if (!p || p[0] == '/')
		return NULL;
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	if (!*p || streq(p, "."))
		return "."; /* the context folder itself */
	/* any ".." component is refused, even "a/../b" */
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return NULL;
		c += n;
		while (*c == '/')
			c++;
	}
	return p;
}

static const char *type_name(mode_t t)
{
	switch (t) {
	case AE_IFCHR:
		return "character device";
	case AE_IFBLK:
		return "block device";
	case AE_IFIFO:
		return "FIFO";
	case AE_IFSOCK:
		return "socket";
	default:
		return "special file";
	}
}

/* The shared walk: with `dir` NULL nothing is written. */
static int walk(struct archive *in, const char *dir, uint64_t max_bytes, uint64_t max_entries,
		struct nib_error *err)
{
	_cleanup_(archive_writep) struct archive *out = NULL;
	struct archive_entry *e;
	uint64_t total = 0, entries = 0;
	int r;

	if (dir) {
		out = archive_write_disk_new();
		archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
							ARCHIVE_EXTRACT_SECURE_SYMLINKS |
							ARCHIVE_EXTRACT_SECURE_NODOTDOT |
							ARCHIVE_EXTRACT_UNLINK);
	}
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		/* copies: setting the entry's names below frees these */
		const char *raw0 = archive_entry_pathname(e);
		const char *link0 = archive_entry_hardlink(e);
		_cleanup_free_ char *raw = raw0 ? xstrdup(raw0) : NULL;
		_cleanup_free_ char *link = link0 ? xstrdup(link0) : NULL;
		const char *p = entry_path(raw);
		mode_t type = archive_entry_filetype(e);

		if (++entries > max_entries)
			return nib_err(err, NIB_ERR_USAGE, 0, "context: more than %llu entries",
				       (unsigned long long)max_entries);
		if (!p)
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "context: entry %s: absolute or climbs out of the context "
				       "(..)",
				       raw ? raw : "(no name)");
		if (link && !entry_path(link))
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "context: entry %s: hard link to %s outside the context", p,
				       link);
		if (!link && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "context: entry %s: a %s (only files, folders and links)", p,
				       type_name(type));
		if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0 &&
		    (uint64_t)archive_entry_size(e) > max_bytes - MIN(total, max_bytes))
			goto too_big;
		if (dir && streq(p, ".")) {
			/* the context folder itself: made already */
		} else if (dir) {
			_cleanup_free_ char *full = xasprintf("%s/%s", dir, p);
			archive_entry_set_pathname(e, full);
			archive_entry_set_uid(e, getuid());
			archive_entry_set_gid(e, getgid());
			if (link) {
				_cleanup_free_ char *lfull =
				    xasprintf("%s/%s", dir, entry_path(link));
				archive_entry_set_hardlink(e, lfull);
			}
			if (archive_write_header(out, e) != ARCHIVE_OK)
				return nib_err(err, NIB_ERR_USAGE, 0, "context: entry %s: %s", p,
					       archive_error_string(out));
		}
		const void *buf;
		size_t n;
		la_int64_t off;
		while ((r = archive_read_data_block(in, &buf, &n, &off)) == ARCHIVE_OK) {
			total += n;
			if (total > max_bytes)
				goto too_big;
			if (dir && !streq(p, ".") &&
			    archive_write_data_block(out, buf, n, off) != ARCHIVE_OK)
				return nib_err(err, NIB_ERR_IO, 0, "context: entry %s: %s", p,
					       archive_error_string(out));
		}
		if (r != ARCHIVE_EOF)
			return nib_err(err, NIB_ERR_USAGE, 0, "context: entry %s: %s", p,
				       archive_error_string(in));
		if (dir && !streq(p, ".") && archive_write_finish_entry(out) != ARCHIVE_OK)
			return nib_err(err, NIB_ERR_IO, 0, "context: entry %s: %s", p,
				       archive_error_string(out));
	}
	if (r != ARCHIVE_EOF)
		return nib_err(err, NIB_ERR_USAGE, 0, "context: not a readable tar archive: %s",
			       archive_error_string(in));
	if (dir && archive_write_close(out) != ARCHIVE_OK)
		return nib_err(err, NIB_ERR_IO, 0, "context: %s", archive_error_string(out));
	return 0;
too_big:
	return nib_err(err, NIB_ERR_USAGE, EFBIG, "context: more than %llu bytes unpacked",
		       (unsigned long long)max_bytes);
}

static struct archive *reader(void)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_empty(a);
	return a;
}

int bld_srv_context_unpack(int fd, const char *dir, uint64_t max_bytes, uint64_t max_entries,
			   struct nib_error *err)
{
	_cleanup_(archive_readp) struct archive *a = reader();

	if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK)
		return nib_err(err, NIB_ERR_USAGE, 0, "context: not a readable tar archive: %s",
			       archive_error_string(a));
	return walk(a, dir, max_bytes, max_entries, err);
}

int bld_srv_context_check(const void *data, size_t len, uint64_t max_bytes, uint64_t max_entries,
			  struct nib_error *err)
{
	_cleanup_(archive_readp) struct archive *a = reader();

	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK)
		return nib_err(err, NIB_ERR_USAGE, 0, "context: not a readable tar archive: %s",
			       archive_error_string(a));
	return walk(a, NULL, max_bytes, max_entries, err);
}
