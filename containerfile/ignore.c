/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: .containerignore / .dockerignore. The file reader follows
 * moby's ignorefile.ReadAll (comments, blank lines, "!", leading "/",
 * path cleaning); each pattern is checked with Go's filepath.Match rules and
 * matched as moby/patternmatcher does ("*" and "?" stop at "/", "**" crosses
 * folders, a path is excluded when it or one of its parent folders matches,
 * the last matching pattern wins).
 */
#define NIB_CONTAINERFILE_INTERNAL
#include <fcntl.h>
#include <sys/stat.h>

#include "containerfile/cf_internal.h"

enum mtype { M_EXACT, M_PREFIX, M_SUFFIX, M_REGEXP };

struct ipat {
	char *cleaned;
	bool exclusion;
	enum mtype type;
	struct cf_nfa nfa;
	size_t n_dirs;
};

struct cf_ignore {
	struct ipat *p;
	size_t n;
	bool exclusions;
};

/* ---- Go filepath.Match ------------------------------------------------------ */

static int get_esc(const char **chunk, uint32_t *r)
{
	const char *c = *chunk;
	size_t w;

	if (!*c || *c == '-' || *c == ']')
		return -1;
	if (*c == '\\') {
		c++;
		if (!*c)
			return -1;
	}
	*r = nib_utf8_decode(c, strlen(c), &w);
	if (*r == 0xFFFD && w == 1)
		return -1;
	c += w;
	if (!*c)
		return -1;
	*chunk = c;
	return 0;
}

/* matchChunk: -1 bad pattern, 0 no match, 1 match with *rest set */
static int match_chunk(const char *chunk, size_t clen, const char *s, const char **rest)
{
	const char *end = chunk + clen;
	bool failed = false;
	size_t w;

	while (chunk < end) {
		if (!failed && !*s)
			failed = true;
		switch (*chunk) {
		case '[': {
			uint32_t r = 0;
			if (!failed) {
				r = nib_utf8_decode(s, strlen(s), &w);
				s += w;
			}
			chunk++;
			bool negated = false, match = false;
			int nrange = 0;
			if (chunk < end && *chunk == '^') {
				negated = true;
				chunk++;
			}
			for (;;) {
				uint32_t lo, hi;
				if (chunk < end && *chunk == ']' && nrange > 0) {
					chunk++;
					break;
				}
				/* get_esc reads past `end` only into the rest of the
				 * pattern, which is what Go's slicing does too */
				if (chunk >= end || get_esc(&chunk, &lo) < 0)
					return -1;
				hi = lo;
				if (*chunk == '-') {
					chunk++;
					if (get_esc(&chunk, &hi) < 0)
						return -1;
				}
				if (lo <= r && r <= hi)
					match = true;
				nrange++;
			}
			if (match == negated)
				failed = true;
			break;
		}
		case '?':
			if (!failed) {
				if (*s == '/')
					failed = true;
				nib_utf8_decode(s, strlen(s), &w);
				s += w;
			}
			chunk++;
			break;
		case '\\':
			chunk++;
			if (chunk >= end)
				return -1;
			/* fall through */
		default:
			if (!failed) {
				if (*chunk != *s)
					failed = true;
				s++;
			}
			chunk++;
		}
	}
	if (failed)
		return 0;
	*rest = s;
	return 1;
}

static void scan_chunk(const char **pattern, bool *star, const char **chunk, size_t *clen)
{
	const char *p = *pattern;
	bool inrange = false;
	size_t i;

	*star = false;
	while (*p == '*') {
		p++;
		*star = true;
	}
	for (i = 0; p[i]; i++) {
		if (p[i] == '\\') {
			if (p[i + 1])
				i++;
		} else if (p[i] == '[') {
			inrange = true;
		} else if (p[i] == ']') {
			inrange = false;
		} else if (p[i] == '*' && !inrange) {
			break;
		}
	}
	*chunk = p;
	*clen = i;
	*pattern = p + i;
}

int cf_path_match(const char *pattern, const char *name)
{
	while (*pattern) {
		bool star;
		const char *chunk, *t;
		size_t clen;
		int r;

		scan_chunk(&pattern, &star, &chunk, &clen);
		if (star && clen == 0)
			return strchr(name, '/') ? 0 : 1;
		r = match_chunk(chunk, clen, name, &t);
		if (r == 1 && (!*t || *pattern)) {
			name = t;
			continue;
		}
		if (r < 0)
			return -1;
		if (star) {
			bool found = false;
			for (size_t i = 0; name[i] && name[i] != '/'; i++) {
				r = match_chunk(chunk, clen, name + i + 1, &t);
				if (r == 1) {
					if (!*pattern && *t)
						continue;
					name = t;
					found = true;
					break;
				}
				if (r < 0)
					return -1;
			}
			if (found)
				continue;
		}
		/* the rest of the pattern must still be well-formed */
		while (*pattern) {
			scan_chunk(&pattern, &star, &chunk, &clen);
			if (match_chunk(chunk, clen, "", &t) < 0)
				return -1;
		}
		return 0;
	}
	return *name ? 0 : 1;
}

/* ---- moby/patternmatcher ------------------------------------------------------ */

static void add_range(struct cf_nfa *p, uint32_t lo, uint32_t hi)
{
	p->ranges = xgrow(p->ranges, &p->cap_ranges, 2 * (p->n_ranges + 1), sizeof(uint32_t));
	p->ranges[2 * p->n_ranges] = lo;
	p->ranges[2 * p->n_ranges + 1] = hi;
	p->n_ranges++;
}

static void emit_star(struct cf_nfa *p, enum cf_op any)
{
	size_t split = cf_nfa_emit(p, CF_OP_SPLIT, 0, 0, 0);
	cf_nfa_emit(p, any, 0, 0, 0);
	cf_nfa_emit(p, CF_OP_JMP, 0, split, 0);
	p->v[split].x = split + 1;
	p->v[split].y = p->len;
}

/* Pattern.compile: the pattern as a program (the regexp patternmatcher
 * builds), and whether a plain comparison does. */
static int compile(struct ipat *ip)
{
	struct cf_nfa *p = &ip->nfa;
	struct cf_runes pr;

	ip->type = M_EXACT;
	cf_runes_init(&pr, ip->cleaned);
	for (size_t i = 0; i < pr.n; i++) {
		uint32_t ch = pr.r[i];
		if (ch == '*') {
			if (i + 1 < pr.n && pr.r[i + 1] == '*') {
				bool first = i == 0;
				i++;
				if (i + 1 < pr.n && pr.r[i + 1] == '/')
					i++;
				if (i + 1 >= pr.n) {
					/* "**" at the end: everything below */
					if (ip->type == M_EXACT) {
						ip->type = M_PREFIX;
					} else {
						emit_star(p, CF_OP_ANY);
						ip->type = M_REGEXP;
					}
				} else {
					/* the regexp (.*SLASH)? */
					size_t split = cf_nfa_emit(p, CF_OP_SPLIT, 0, 0, 0);
					emit_star(p, CF_OP_ANY);
					cf_nfa_emit(p, CF_OP_CHAR, '/', 0, 0);
					p->v[split].x = split + 1;
					p->v[split].y = p->len;
					ip->type = M_REGEXP;
				}
				if (first)
					ip->type = M_SUFFIX;
			} else {
				emit_star(p, CF_OP_NOTSLASH);
				ip->type = M_REGEXP;
			}
		} else if (ch == '?') {
			cf_nfa_emit(p, CF_OP_NOTSLASH, 0, 0, 0);
			ip->type = M_REGEXP;
		} else if (ch == '\\') {
			if (i + 1 < pr.n) {
				cf_nfa_emit(p, CF_OP_CHAR, pr.r[++i], 0, 0);
				ip->type = M_REGEXP;
			} else {
				cf_nfa_emit(p, CF_OP_CHAR, '\\', 0, 0);
			}
		} else if (ch == '[') {
			/* a character class, as filepath.Match reads it */
			size_t j = i + 1, start = p->n_ranges;
			bool neg = false;
			if (j < pr.n && pr.r[j] == '^')
				neg = true, j++;
			bool ok = false;
			while (j < pr.n) {
				if (pr.r[j] == ']' && p->n_ranges > start) {
					ok = true;
					break;
				}
				uint32_t lo = pr.r[j] == '\\' && j + 1 < pr.n ? pr.r[++j] : pr.r[j];
				uint32_t hi = lo;
				j++;
				if (j + 1 < pr.n && pr.r[j] == '-' && pr.r[j + 1] != ']') {
					j++;
					hi = pr.r[j] == '\\' && j + 1 < pr.n ? pr.r[++j] : pr.r[j];
					j++;
				}
				add_range(p, lo, hi);
			}
			if (!ok) {
				cf_runes_free(&pr);
				return -1;
			}
			cf_nfa_emit(p, neg ? CF_OP_CLASS_NEG : CF_OP_CLASS, 0, start,
				    p->n_ranges - start);
			i = j;
			ip->type = M_REGEXP;
		} else {
			cf_nfa_emit(p, CF_OP_CHAR, ch, 0, 0);
		}
	}
	cf_nfa_emit(p, CF_OP_MATCH, 0, 0, 0);
	cf_runes_free(&pr);
	return 0;
}

static bool pat_match(const struct ipat *ip, const char *path)
{
	size_t cl = strlen(ip->cleaned);

	switch (ip->type) {
	case M_EXACT:
		return streq(path, ip->cleaned);
	case M_PREFIX:
		return strncmp(path, ip->cleaned, cl - 2) == 0;
	case M_SUFFIX: {
		const char *suffix = ip->cleaned + 2;
		size_t sl = strlen(suffix), pl = strlen(path);
		if (pl >= sl && streq(path + pl - sl, suffix))
			return true;
		return suffix[0] == '/' && streq(path, suffix + 1);
	}
	default: {
		struct cf_runes in;
		size_t ms, me;
		bool m;
		cf_runes_init(&in, path);
		m = cf_nfa_find(&ip->nfa, &in, 0, true, true, &ms, &me);
		cf_runes_free(&in);
		return m;
	}
	}
}

void cf_ignore_free(struct cf_ignore *ig)
{
	if (!ig)
		return;
	for (size_t i = 0; i < ig->n; i++) {
		free(ig->p[i].cleaned);
		cf_nfa_free(&ig->p[i].nfa);
	}
	free(ig->p);
	free(ig);
}

static char *trim_space(const char *s)
{
	size_t n = strlen(s), w;
	while (*s && cf_is_space(nib_utf8_decode(s, n, &w)))
		s += w, n -= w;
	while (n > 0) {
		size_t k = n - 1;
		while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
			k--;
		if (!cf_is_space(nib_utf8_decode(s + k, n - k, &w)))
			break;
		n = k;
	}
	return xstrndup(s, n);
}

/* Patterns from a file carry their line numbers (`lines`); their errors
 * name the file and line but never the pattern, so that an ignore file that
 * is not one (a link to a secret elsewhere) is not printed. */
static struct cf_ignore *ignore_build(const char *const *patterns, const size_t *lines, size_t n,
				      const char *name, struct nib_error *err)
{
	_cleanup_(cf_ignore_freep) struct cf_ignore *ig = xcalloc(1, sizeof(*ig));
	_cleanup_free_ char *where = NULL;

	ig->p = xcalloc(n + 1, sizeof(*ig->p));
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *t = trim_space(patterns[i]);
		if (!*t)
			continue;
		_cleanup_free_ char *c = nib_path_clean(t);
		struct ipat *ip = &ig->p[ig->n];
		const char *pat = c;
		bool bad;
		*ip = (struct ipat){0};
		if (lines) {
			free(where);
			where = name ? xasprintf("%s:%zu: ", name, lines[i])
				     : xasprintf("line %zu: ", lines[i]);
		}
		if (pat[0] == '!') {
			if (!pat[1])
				return nib_err(err, NIB_ERR_SYNTAX, 0,
					       "%sillegal exclusion pattern: \"!\"",
					       where ? where : ""),
				       NULL;
			ip->exclusion = true;
			ig->exclusions = true;
			pat++;
		}
		bad = cf_path_match(pat, ".") < 0;
		if (!bad) {
			ip->cleaned = xstrdup(pat);
			ig->n++;
			bad = compile(ip) < 0;
		}
		if (bad && lines)
			return nib_err(err, NIB_ERR_SYNTAX, 0, "%ssyntax error in pattern", where),
			       NULL;
		if (bad)
			return nib_err(err, NIB_ERR_SYNTAX, 0, "syntax error in pattern \"%s\"",
				       pat),
			       NULL;
	}
	return steal_pointer(&ig);
}

struct cf_ignore *cf_ignore_new(const char *const *patterns, size_t n, struct nib_error *err)
{
	return ignore_build(patterns, NULL, n, NULL, err);
}

struct cf_ignore *cf_ignore_parse_file(const char *name, const char *data, size_t len,
				       struct nib_error *err)
{
	_cleanup_strv_ struct nib_strv pats = {0};
	_cleanup_free_ size_t *lines = NULL;
	size_t i = 0, line = 0, cap = 0;
	bool first = true;

	while (i < len) {
		const char *nl = memchr(data + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - data) : len;
		_cleanup_free_ char *raw = xstrndup(data + i, e - i);
		const char *l = raw;
		i = nl ? e + 1 : len;
		line++;
		if (first && strncmp(l, "\xEF\xBB\xBF", 3) == 0)
			l += 3;
		first = false;
		if (l[0] == '#')
			continue;
		_cleanup_free_ char *p = trim_space(l);
		if (!*p)
			continue;
		bool invert = p[0] == '!';
		_cleanup_free_ char *body = invert ? trim_space(p + 1) : xstrdup(p);
		if (*body) {
			char *c = nib_path_clean(body);
			free(body);
			body = c;
			if (strlen(body) > 1 && body[0] == '/')
				memmove(body, body + 1, strlen(body));
		}
		nib_strv_pushf(&pats, "%s%s", invert ? "!" : "", body);
		if (pats.len > cap) {
			cap = cap ? 2 * cap : 64;
			lines = xrealloc(lines, cap * sizeof(*lines));
		}
		lines[pats.len - 1] = line;
	}
	return ignore_build((const char *const *)pats.v, lines ? lines : &line, pats.len, name,
			    err);
}

struct cf_ignore *cf_ignore_parse(const char *data, size_t len, struct nib_error *err)
{
	return cf_ignore_parse_file(NULL, data, len, err);
}

struct cf_ignore *cf_ignore_load(const char *path, struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	struct nib_error e = {0};

	if (nib_read_file_at(AT_FDCWD, path, CF_MAX_IGNORE_SIZE, &data, &len, &e) < 0) {
		if (e.errnum == ENOENT) {
			nib_err_clear(&e);
			return cf_ignore_new(NULL, 0, err);
		}
		nib_err_move(err, &e);
		return NULL;
	}
	return cf_ignore_parse_file(path, data, len, err);
}

bool cf_ignore_match(const struct cf_ignore *ig, const char *file)
{
	_cleanup_free_ char *parent = NULL;
	bool matched = false;
	const char *slash;

	if (!ig)
		return false;
	slash = strrchr(file, '/');
	if (slash) {
		_cleanup_free_ char *dir = xstrndup(file, (size_t)(slash - file));
		parent = nib_path_clean(dir);
	} else {
		parent = xstrdup(".");
	}
	for (size_t i = 0; i < ig->n; i++) {
		const struct ipat *ip = &ig->p[i];
		if (ip->exclusion != matched)
			continue;
		bool m = pat_match(ip, file);
		if (!m && !streq(parent, ".")) {
			/* each parent folder, shortest first */
			for (char *s = parent;; s++) {
				if (*s == '/' || !*s) {
					char save = *s;
					*s = '\0';
					m = pat_match(ip, parent);
					*s = save;
					if (m || !save)
						break;
				}
			}
		}
		if (m)
			matched = !ip->exclusion;
	}
	return matched;
}

bool cf_ignore_match_legacy(const struct cf_ignore *ig, const char *file)
{
	_cleanup_free_ char *parent = NULL;
	bool matched = false;
	const char *slash;

	if (!ig)
		return false;
	slash = strrchr(file, '/');
	parent = slash ? xstrndup(file, (size_t)(slash - file)) : xstrdup(".");
	size_t parent_dirs = 1;
	for (const char *c = parent; *c; c++)
		parent_dirs += *c == '/';
	for (size_t i = 0; i < ig->n; i++) {
		const struct ipat *ip = &ig->p[i];
		size_t pd = 1;
		for (const char *c = ip->cleaned; *c; c++)
			pd += *c == '/';
		bool m = pat_match(ip, file);
		if (!m && !streq(parent, ".") && pd <= parent_dirs) {
			_cleanup_free_ char *pre = xstrdup(parent);
			size_t k = 0;
			for (char *c = pre; *c; c++)
				if (*c == '/' && ++k == pd) {
					*c = '\0';
					break;
				}
			m = pat_match(ip, pre);
		}
		if (m)
			matched = !ip->exclusion;
	}
	return matched;
}

bool cf_ignore_has_exclusions(const struct cf_ignore *ig)
{
	return ig && ig->exclusions;
}

size_t cf_ignore_count(const struct cf_ignore *ig)
{
	return ig ? ig->n : 0;
}

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *cf_ignore_file_for(const char *containerfile, const char *context_dir)
{
	static const char *const names[] = {".containerignore", ".dockerignore"};

	if (containerfile)
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			char *p = xasprintf("%s%s", containerfile, names[i]);
			if (is_file(p))
				return p;
			free(p);
		}
	if (context_dir)
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			char *p = nib_path_join(context_dir, names[i]);
			if (is_file(p))
				return p;
			free(p);
		}
	return NULL;
}
