/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COPY/ADD helpers without I/O on the trees: wildcard detection, --exclude
 * and ignore-file matching (containerfile's cf_ignore, moby/patternmatcher
 * semantics).
 */
#include <string.h>
#include <sys/stat.h>

#include "builder/copy.h"
#include "containerfile/containerfile.h"

bool bld_copy_has_wildcards(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			continue;
		}
		if (*s == '*' || *s == '?' || *s == '[')
			return true;
	}
	return false;
}

/* ---- --exclude and the context's ignore file ---------------------------------- */

struct bld_copy_excludes {
	struct cf_ignore *ig;
	struct nib_strv exceptions; /* the "!" patterns, cleaned */
};

int bld_copy_excludes_new(const char *const *patterns, size_t n, struct bld_copy_excludes **out,
			  struct nib_error *err)
{
	struct bld_copy_excludes *ex = xcalloc(1, sizeof(*ex));

	ex->ig = cf_ignore_new(patterns, n, err);
	if (!ex->ig) {
		free(ex);
		return nib_err_wrap(err, "--exclude");
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = patterns[i];
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '!')
			nib_strv_push_take(&ex->exceptions, nib_path_clean(p + 1));
	}
	*out = ex;
	return 0;
}

bool bld_copy_excludes_match(const struct bld_copy_excludes *ex, const char *path, bool is_dir)
{
	size_t pl;

	if (!ex || !*path || !cf_ignore_match(ex->ig, path))
		return false;
	if (!is_dir)
		return true;
	/* fsutil's copier keeps walking a folder an exception reaches into */
	pl = strlen(path);
	for (size_t i = 0; i < ex->exceptions.len; i++)
		if (strncmp(ex->exceptions.v[i], path, pl) == 0 && ex->exceptions.v[i][pl] == '/')
			return false;
	return true;
}

bool bld_copy_excludes_has_exceptions(const struct bld_copy_excludes *ex)
{
	return ex && ex->exceptions.len > 0;
}

void bld_copy_excludes_free(struct bld_copy_excludes *ex)
{
	if (!ex)
		return;
	cf_ignore_free(ex->ig);
	nib_strv_free(&ex->exceptions);
	free(ex);
}

static enum bld_copy_ignore cf_verdict(void *data, const char *path, bool is_dir)
{
	const struct cf_ignore *ig = data;

	if (!cf_ignore_match(ig, path))
		return BLD_COPY_KEEP;
	return is_dir && cf_ignore_has_exclusions(ig) ? BLD_COPY_DESCEND : BLD_COPY_SKIP;
}

void bld_copy_matcher_cf(struct bld_copy_matcher *m, const struct cf_ignore *ig)
{
	m->match = cf_verdict;
	m->data = (void *)ig;
}
