/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: a folder as entries of a tar archive, for the client (the
 * context it sends) and the Kubernetes executor (the context a Job
 * fetches). Files, folders and symbolic links; owners are left out.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "containerfile/containerfile.h"
#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

static void archive_entryp(struct archive_entry **e)
{
	if (*e)
		archive_entry_free(*e);
}

struct walk {
	struct archive *a;
	const struct cf_ignore *ig;
	const char *keep; /* the Containerfile: sent even when ignored */
	const char *top;  /* the tree's folder in the archive, or "" */
};

static int add_entry(struct walk *w, int dirfd, const char *name, const char *rel,
		     const struct stat *st, struct nib_error *err)
{
	_cleanup_(archive_entryp) struct archive_entry *e = archive_entry_new();
	char target[4096];

	_cleanup_free_ char *name_in_tar = *w->top ? xasprintf("%s/%s", w->top, rel) : NULL;
	archive_entry_set_pathname(e, name_in_tar ? name_in_tar : rel);
	archive_entry_set_mode(e, st->st_mode);
	archive_entry_set_mtime(e, st->st_mtime, 0);
	if (S_ISREG(st->st_mode))
		archive_entry_set_size(e, st->st_size);
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
		if (n < 0)
			return nib_err(err, NIB_ERR_IO, errno, "%s", rel);
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
	}
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		return nib_err(err, NIB_ERR_IO, 0, "%s: %s", rel, archive_error_string(w->a));
	if (!S_ISREG(st->st_mode))
		return 0;
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s", rel);
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (archive_write_data(w->a, buf, (size_t)n) < 0)
			return nib_err(err, NIB_ERR_IO, 0, "%s: %s", rel,
				       archive_error_string(w->a));
	if (n < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s", rel);
	return 0;
}

/* Add the folder `dirfd` (the context's `prefix`) to the archive. */
static int walk_dir(struct walk *w, int fd, const char *prefix, struct nib_error *err)
{
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	struct dirent *de;

	if (!d) {
		close(fd);
		return nib_err(err, NIB_ERR_IO, errno, "%s", prefix);
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *rel =
		    *prefix ? xasprintf("%s/%s", prefix, de->d_name) : xstrdup(de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "%s", rel);
		bool ignored = w->ig && cf_ignore_match(w->ig, rel) && !streq(rel, w->keep);
		if (ignored && !(S_ISDIR(st.st_mode) && cf_ignore_has_exclusions(w->ig)))
			continue;
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
			log_warn("%s: not a file, folder or link: not sent", rel);
			continue;
		}
		if (!ignored && add_entry(w, dirfd(d), de->d_name, rel, &st, err) < 0)
			return -1;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || walk_dir(w, sub, rel, err) < 0)
				return sub < 0 ? nib_err(err, NIB_ERR_IO, errno, "%s", rel) : -1;
		}
	}
	return 0;
}

int bld_srv_tar_tree(struct archive *a, const char *dir, const char *top,
		     const struct cf_ignore *ig, const char *keep, struct nib_error *err)
{
	struct walk w = {.a = a, .ig = ig, .keep = keep ? keep : "", .top = top ? top : ""};
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return nib_err(err, NIB_ERR_NOT_FOUND, errno, "%s", dir);
	return walk_dir(&w, fd, "", err);
}
