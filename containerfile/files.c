/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: finding and reading a build's Containerfile and ignore
 * file. Whatever comes from the build context is opened inside it (a
 * symlink resolves against the context, never the host) and only as a
 * regular file of bounded size: a context is input the caller may not
 * trust (a build service's tenant, a cloned repository). A Containerfile
 * named with -f outside the context is the caller's own and is read as
 * named (a FIFO such as -f <(...) included).
 */
#define NIB_CONTAINERFILE_INTERNAL
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "containerfile/cf_internal.h"

static const char *const ignore_suffixes[] = {".containerignore", ".dockerignore"};

/* `path` as an absolute, lexically clean path. */
static char *absolute(const char *path)
{
	_cleanup_free_ char *cwd = NULL, *joined = NULL;

	if (path[0] == '/')
		return nib_path_clean(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return NULL;
	joined = nib_path_join(cwd, path);
	return nib_path_clean(joined);
}

/* The part of `file` below `context` ("sub/Containerfile"), or NULL when
 * `file` is not lexically inside the context. */
static char *below_context(const char *context, const char *file)
{
	_cleanup_free_ char *c = absolute(context), *f = absolute(file);
	size_t n;

	if (!c || !f)
		return NULL;
	if (streq(c, "/"))
		return f[1] ? xstrdup(f + 1) : NULL;
	n = strlen(c);
	if (strncmp(f, c, n) != 0 || f[n] != '/' || !f[n + 1])
		return NULL;
	return xstrdup(f + n + 1);
}

/* Read `rel` inside the context; 0 when read, 1 when missing. */
static int read_in_context(int ctxfd, const char *rel, const char *name, size_t max, char **data,
			   size_t *len, struct nib_error *err)
{
	struct nib_error e = {0};

	if (nib_read_regular_in_root(ctxfd, rel, name, max, data, len, &e) == 0)
		return 0;
	if (e.errnum == ENOENT || e.errnum == ENOTDIR) {
		nib_err_clear(&e);
		return 1;
	}
	if (e.errnum == EFBIG) {
		nib_err_clear(&e);
		return nib_err(err, NIB_ERR_SYNTAX, EFBIG, "%s: larger than the %zu MiB allowed",
			       name, max >> 20);
	}
	nib_err_move(err, &e);
	return -1;
}

static int load_ignore(const char *name, const char *data, size_t len, struct cf_ignore **ig,
		       char **ig_path, struct nib_error *err)
{
	*ig = cf_ignore_parse_file(name, data, len, err);
	if (!*ig)
		return -1;
	if (ig_path)
		*ig_path = xstrdup(name);
	return 0;
}

int cf_build_files_load(int ctxfd, const char *context, const char *file, char **cf_path,
			struct cf_file **f, struct cf_ignore **ig, char **ig_path,
			struct nib_error *err)
{
	_cleanup_free_ char *rel = NULL, *name = NULL, *data = NULL;
	_cleanup_(cf_file_freep) struct cf_file *cf = NULL;
	size_t len = 0;
	int r;

	*cf_path = NULL;
	*f = NULL;
	*ig = NULL;
	if (ig_path)
		*ig_path = NULL;

	/* the Containerfile */
	if (!file) {
		static const char *const names[] = {"Containerfile", "Dockerfile"};
		for (size_t i = 0; i < ARRAY_SIZE(names) && !data; i++) {
			free(name);
			name = nib_path_join(context, names[i]);
			r = read_in_context(ctxfd, names[i], name, CF_MAX_FILE_SIZE, &data, &len,
					    err);
			if (r < 0)
				return -1;
			if (r == 0)
				rel = xstrdup(names[i]);
		}
		if (!data)
			return nib_err(err, NIB_ERR_NOT_FOUND, ENOENT,
				       "%s: no Containerfile or Dockerfile in the build context",
				       context);
		cf = cf_parse_buffer(name, data, len, err);
	} else if ((rel = below_context(context, file))) {
		name = xstrdup(file);
		r = read_in_context(ctxfd, rel, name, CF_MAX_FILE_SIZE, &data, &len, err);
		if (r < 0)
			return -1;
		if (r > 0)
			return nib_err(err, NIB_ERR_NOT_FOUND, ENOENT,
				       "open %s: not found inside the build context %s", name,
				       context);
		cf = cf_parse_buffer(name, data, len, err);
	} else {
		name = xstrdup(file);
		cf = cf_parse_file(file, err);
	}
	if (!cf)
		return -1;

	/* the ignore file: beside the Containerfile first, then the context's */
	for (size_t i = 0; i < ARRAY_SIZE(ignore_suffixes); i++) {
		_cleanup_free_ char *iname = xasprintf("%s%s", name, ignore_suffixes[i]);
		_cleanup_free_ char *idata = NULL;
		size_t ilen = 0;
		if (rel) {
			_cleanup_free_ char *irel = xasprintf("%s%s", rel, ignore_suffixes[i]);
			r = read_in_context(ctxfd, irel, iname, CF_MAX_IGNORE_SIZE, &idata, &ilen,
					    err);
			if (r < 0)
				return -1;
			if (r > 0)
				continue;
		} else {
			/* beside a Containerfile of the caller's own, outside
			 * the context: a regular file or nothing */
			struct stat st;
			if (stat(iname, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			if (nib_read_file_at(AT_FDCWD, iname, CF_MAX_IGNORE_SIZE, &idata, &ilen,
					     err) < 0)
				return -1;
		}
		if (load_ignore(iname, idata, ilen, ig, ig_path, err) < 0)
			return -1;
		break;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ignore_suffixes) && !*ig; i++) {
		_cleanup_free_ char *iname = nib_path_join(context, ignore_suffixes[i]);
		_cleanup_free_ char *idata = NULL;
		size_t ilen = 0;
		r = read_in_context(ctxfd, ignore_suffixes[i], iname, CF_MAX_IGNORE_SIZE, &idata,
				    &ilen, err);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (load_ignore(iname, idata, ilen, ig, ig_path, err) < 0)
			return -1;
	}
	*cf_path = steal_pointer(&name);
	*f = steal_pointer(&cf);
	return 0;
}
