/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COPY/ADD helpers without I/O on the trees: Go filepath.Match for source
 * wildcards, the --exclude matcher and --chmod parsing.
 */
#include <string.h>
#include <sys/stat.h>

#include "builder/copy.h"

/* ---- Go filepath.Match --------------------------------------------------- */

/* Length of the UTF-8 character at s (1 for bytes that do not start one). */
static size_t utf8_len(const char *s)
{
	unsigned char c = (unsigned char)*s;
	size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	for (size_t i = 1; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

static unsigned decode(const char *s, size_t n)
{
	unsigned c = (unsigned char)s[0];
	if (n == 1)
		return c;
	c &= 0xff >> (n + 1);
	for (size_t i = 1; i < n; i++)
		c = (c << 6) | ((unsigned char)s[i] & 0x3f);
	return c;
}

/* One character of a class: an escaped or plain character. */
static int class_char(const char **p, unsigned *out)
{
	const char *q = *p;
	size_t n;

	if (*q == '\\')
		q++;
	if (*q == '\0')
		return -1;
	n = utf8_len(q);
	*out = decode(q, n);
	*p = q + n;
	return 0;
}

/* Match a [...] class at *p (just after '[') against character c;
 * advances *p past ']'. Returns 1/0, -1 on a bad pattern. */
static int match_class(const char **p, unsigned c)
{
	bool negate = false, matched = false;
	const char *q = *p;
	int n = 0;

	if (*q == '^') {
		negate = true;
		q++;
	}
	for (;; n++) {
		unsigned lo, hi;

		if (*q == ']' && n > 0) {
			q++;
			break;
		}
		if (*q == '\0' || *q == '-' || (*q == ']' && n == 0))
			return -1;
		if (class_char(&q, &lo) < 0)
			return -1;
		hi = lo;
		if (*q == '-') {
			q++;
			if (*q == ']' || class_char(&q, &hi) < 0)
				return -1;
		}
		if (lo <= c && c <= hi)
			matched = true;
	}
	*p = q;
	return matched != negate;
}

/* Validate the rest of a pattern (Go reports ErrBadPattern even after a
 * mismatch is known). */
static bool pattern_valid(const char *p)
{
	while (*p) {
		if (*p == '\\') {
			if (p[1] == '\0')
				return false;
			p += 2;
		} else if (*p == '[') {
			p++;
			if (match_class(&p, 0) < 0)
				return false;
		} else {
			p++;
		}
	}
	return true;
}

static int match_here(const char *p, const char *s)
{
	while (*p) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (*p == '\0')
				return strchr(s, '/') == NULL;
			for (const char *t = s;; t += utf8_len(t)) {
				int r = match_here(p, t);
				if (r != 0)
					return r;
				if (*t == '\0' || *t == '/')
					break;
			}
			return pattern_valid(p) ? 0 : -1;
		}
		if (*s == '\0')
			return pattern_valid(p) ? 0 : -1;
		if (*p == '?') {
			if (*s == '/')
				return pattern_valid(p + 1) ? 0 : -1;
			p++;
			s += utf8_len(s);
		} else if (*p == '[') {
			size_t n = utf8_len(s);
			int r;
			p++;
			r = *s == '/' ? (match_class(&p, 0) < 0 ? -1 : 0)
				      : match_class(&p, decode(s, n));
			if (r <= 0)
				return r < 0 || !pattern_valid(p) ? -1 : 0;
			s += n;
		} else {
			if (*p == '\\') {
				p++;
				if (*p == '\0')
					return -1;
			}
			if (*p != *s)
				return pattern_valid(p) ? 0 : -1;
			p++;
			s++;
		}
	}
	return *s == '\0';
}

int bld_copy_match(const char *pattern, const char *name)
{
	return match_here(pattern, name);
}

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

/* ---- --exclude (ignore-file syntax) -------------------------------------- */

struct exclude_pattern {
	bool negate;
	struct nib_strv comps; /* cleaned pattern split on '/' */
	char *text;
};

struct bld_copy_excludes {
	struct exclude_pattern *v;
	size_t n;
};

static void split_path(const char *path, struct nib_strv *out)
{
	const char *p = path;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n > 0 && !(n == 1 && p[0] == '.'))
			nib_strv_push_take(out, xstrndup(p, n));
		p += n;
		while (*p == '/')
			p++;
	}
}

/* Match pattern components against path components; "**" spans any number
 * of components (moby/patternmatcher). */
static bool match_comps(char **pc, size_t np, char **sc, size_t ns)
{
	if (np == 0)
		return ns == 0;
	if (streq(pc[0], "**")) {
		for (size_t skip = 0; skip <= ns; skip++)
			if (match_comps(pc + 1, np - 1, sc + skip, ns - skip))
				return true;
		return false;
	}
	if (ns == 0)
		return false;
	if (bld_copy_match(pc[0], sc[0]) != 1)
		return false;
	return match_comps(pc + 1, np - 1, sc + 1, ns - 1);
}

int bld_copy_excludes_new(const char *const *patterns, size_t n, struct bld_copy_excludes **out,
			  struct nib_error *err)
{
	struct bld_copy_excludes *ex = xcalloc(1, sizeof(*ex));

	ex->v = xcalloc(n ? n : 1, sizeof(*ex->v));
	for (size_t i = 0; i < n; i++) {
		const char *p = patterns[i];
		struct exclude_pattern *ep = &ex->v[ex->n];
		_cleanup_free_ char *clean = NULL;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '!') {
			ep->negate = true;
			p++;
		}
		clean = nib_path_clean(p);
		split_path(clean, &ep->comps);
		if (ep->comps.len == 0) {
			nib_strv_free(&ep->comps);
			continue;
		}
		for (size_t c = 0; c < ep->comps.len; c++) {
			if (!streq(ep->comps.v[c], "**") &&
			    bld_copy_match(ep->comps.v[c], "") < 0) {
				bld_copy_excludes_free(ex);
				return nib_err(err, NIB_ERR_SYNTAX, 0, "bad --exclude pattern: %s",
					       patterns[i]);
			}
		}
		ep->text = nib_strv_join(&ep->comps, "/");
		ex->n++;
	}
	*out = ex;
	return 0;
}

static bool pattern_matches(const struct exclude_pattern *ep, char **sc, size_t ns)
{
	/* the path itself, or one of its parent folders */
	for (size_t k = ns; k > 0; k--)
		if (match_comps(ep->comps.v, ep->comps.len, sc, k))
			return true;
	return false;
}

bool bld_copy_excludes_match(const struct bld_copy_excludes *ex, const char *path, bool is_dir)
{
	_cleanup_strv_ struct nib_strv sc = {0};
	bool matched = false;

	if (!ex || ex->n == 0)
		return false;
	split_path(path, &sc);
	if (sc.len == 0)
		return false;
	for (size_t i = 0; i < ex->n; i++) {
		const struct exclude_pattern *ep = &ex->v[i];
		if (matched == !ep->negate)
			continue; /* cannot change the outcome */
		if (pattern_matches(ep, sc.v, sc.len))
			matched = !ep->negate;
	}
	if (matched && is_dir) {
		/* keep walking a folder that an exception reaches into */
		_cleanup_free_ char *dir = nib_strv_join(&sc, "/");
		size_t dl = strlen(dir);
		for (size_t i = 0; i < ex->n; i++)
			if (ex->v[i].negate && strncmp(ex->v[i].text, dir, dl) == 0 &&
			    ex->v[i].text[dl] == '/')
				return false;
	}
	return matched;
}

bool bld_copy_excludes_has_exceptions(const struct bld_copy_excludes *ex)
{
	for (size_t i = 0; ex && i < ex->n; i++)
		if (ex->v[i].negate)
			return true;
	return false;
}

void bld_copy_excludes_free(struct bld_copy_excludes *ex)
{
	if (!ex)
		return;
	for (size_t i = 0; i < ex->n; i++) {
		nib_strv_free(&ex->v[i].comps);
		free(ex->v[i].text);
	}
	free(ex->v);
	free(ex);
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
