/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COPY/ADD helpers without I/O on the trees: wildcard detection, --exclude
 * and ignore-file matching (containerfile's cf_ignore, moby/patternmatcher
 * semantics), --chmod parsing.
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

/* ---- --chmod ----------------------------------------------------------------- */

/* Symbolic modes as chmod(1) and BuildKit (dchapes/mode): comma-separated
 * clauses of [ugoa]*([-+=]([rwxXst]*|[ugo]))+ */
static int symbolic_apply(const char *s, mode_t mode, bool is_dir, mode_t *out)
{
	const char *p = s;

	for (;;) {
		mode_t who = 0;

		for (; *p && strchr("ugoa", *p); p++)
			who |= *p == 'u' ? 04700 : *p == 'g' ? 02070 : *p == 'o' ? 01007 : 07777;
		if (who == 0)
			who = 07777;
		if (!*p || !strchr("+-=", *p))
			return -1;
		while (*p && strchr("+-=", *p)) {
			char op = *p++;
			mode_t bits = 0;

			if (*p && strchr("ugo", *p)) {
				mode_t src = *p == 'u'	 ? (mode >> 6) & 7
					     : *p == 'g' ? (mode >> 3) & 7
							 : mode & 7;
				bits = (src << 6) | (src << 3) | src;
				p++;
			} else {
				for (; *p && strchr("rwxXst", *p); p++) {
					switch (*p) {
					case 'r':
						bits |= 0444;
						break;
					case 'w':
						bits |= 0222;
						break;
					case 'x':
						bits |= 0111;
						break;
					case 'X':
						if (is_dir || (mode & 0111))
							bits |= 0111;
						break;
					case 's':
						bits |= 06000;
						break;
					case 't':
						bits |= 01000;
						break;
					}
				}
			}
			bits &= who;
			if (op == '+')
				mode |= bits;
			else if (op == '-')
				mode &= ~bits;
			else
				mode = (mode & ~who) | bits;
		}
		if (*p == '\0')
			break;
		if (*p != ',')
			return -1;
		p++;
	}
	*out = mode & 07777;
	return 0;
}

int bld_copy_chmod_parse(const char *s, struct bld_copy_chmod *out, struct nib_error *err)
{
	mode_t m;
	char *end;
	unsigned long v;

	memset(out, 0, sizeof(*out));
	if (!s)
		return 0;
	if (*s >= '0' && *s <= '9') {
		errno = 0;
		v = strtoul(s, &end, 8);
		if (errno || *end || v > 07777)
			return nib_err(
			    err, NIB_ERR_SYNTAX, 0,
			    "invalid --chmod=%s: it should be octal and between 0 and 07777", s);
		out->set = true;
		out->mode = (mode_t)v;
		return 0;
	}
	if (symbolic_apply(s, 0, false, &m) < 0)
		return nib_err(err, NIB_ERR_SYNTAX, 0,
			       "invalid --chmod=%s: not an octal or symbolic mode", s);
	out->set = true;
	out->symbolic = true;
	out->clauses = xstrdup(s);
	return 0;
}

mode_t bld_copy_chmod_apply(const struct bld_copy_chmod *c, mode_t mode, bool is_dir)
{
	mode_t m = mode & 07777;

	if (!c->set)
		return m;
	if (!c->symbolic)
		return c->mode;
	if (symbolic_apply(c->clauses, m, is_dir, &m) < 0)
		return mode & 07777;
	return m;
}
