/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: the small lexers of Docker's parser: builder flags, parse
 * words (ARG, ENV, LABEL), white-space splitting, the JSON array of the exec
 * form (Go encoding/json's grammar, so that invalid JSON falls back to the
 * shell form exactly where Docker falls back) and Go durations.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include "containerfile/cf_internal.h"

void cf_offs_push(struct cf_offs *o, size_t off)
{
	o->v = xgrow(o->v, &o->cap, o->len + 1, sizeof(*o->v));
	o->v[o->len++] = off;
}

/* BuildKit extractBuilderFlags: words starting with "--" before the
 * arguments; quotes group, backslash escapes, "--" alone ends the flags. */
size_t cf_split_flags(const char *line, struct nib_strv *flags, struct cf_offs *offs)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	_cleanup_buf_ struct nib_buf word = {0};
	size_t len = strlen(line), start = 0;
	bool blank_ok = false;
	char quote = 0, ch = 0;

	for (size_t pos = 0; pos <= len; pos++) {
		if (pos != len)
			ch = line[pos];
		if (phase == IN_SPACES) {
			if (pos == len)
				break;
			if (cf_is_space_byte((unsigned char)ch))
				continue;
			if (ch != '-' || pos + 1 == len || line[pos + 1] != '-')
				return pos;
			phase = IN_WORD;
			start = pos;
		}
		if (pos == len) {
			if (!(word.len == 2 && memcmp(word.data, "--", 2) == 0) &&
			    (blank_ok || word.len > 0)) {
				nib_strv_push(flags, word.data ? word.data : "");
				cf_offs_push(offs, start);
			}
			break;
		}
		if (phase == IN_WORD) {
			if (cf_is_space_byte((unsigned char)ch)) {
				phase = IN_SPACES;
				if (word.len == 2 && memcmp(word.data, "--", 2) == 0)
					return pos;
				if (blank_ok || word.len > 0) {
					nib_strv_push(flags, word.data ? word.data : "");
					cf_offs_push(offs, start);
				}
				nib_buf_reset(&word);
				blank_ok = false;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = true;
				phase = IN_QUOTE;
				continue;
			}
			if (ch == '\\') {
				if (pos + 1 == len)
					continue;
				ch = line[++pos];
			}
			nib_buf_putc(&word, ch);
			continue;
		}
		/* IN_QUOTE */
		if (ch == quote) {
			phase = IN_WORD;
			continue;
		}
		if (ch == '\\') {
			if (pos + 1 == len) {
				phase = IN_WORD;
				continue;
			}
			ch = line[++pos];
		}
		nib_buf_putc(&word, ch);
	}
	return len;
}

/* BuildKit parseWords: quotes and escape tokens stay in the words; only
 * white space outside quotes separates them. */
void cf_parse_words(const char *s, char escape, struct nib_strv *out, struct cf_offs *offs)
{
	enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
	_cleanup_buf_ struct nib_buf word = {0};
	size_t len = strlen(s), w = 0, start = 0;
	bool blank_ok = false;
	uint32_t quote = 0, ch = 0;

	for (size_t pos = 0; pos <= len; pos += w) {
		if (pos != len)
			ch = nib_utf8_decode(s + pos, len - pos, &w);
		if (phase == IN_SPACES) {
			if (pos == len)
				break;
			if (cf_is_space(ch))
				continue;
			phase = IN_WORD;
			start = pos;
		}
		if (pos == len) {
			if (blank_ok || word.len > 0) {
				nib_strv_push(out, word.data ? word.data : "");
				if (offs)
					cf_offs_push(offs, start);
			}
			break;
		}
		if (phase == IN_WORD) {
			if (cf_is_space(ch)) {
				phase = IN_SPACES;
				if (blank_ok || word.len > 0) {
					nib_strv_push(out, word.data ? word.data : "");
					if (offs)
						cf_offs_push(offs, start);
				}
				nib_buf_reset(&word);
				blank_ok = false;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = true;
				phase = IN_QUOTE;
			}
			if (ch == (unsigned char)escape) {
				if (pos + w == len)
					continue;
				nib_buf_append(&word, s + pos, w);
				pos += w;
				ch = nib_utf8_decode(s + pos, len - pos, &w);
			}
			nib_buf_append(&word, s + pos, w);
			continue;
		}
		if (ch == quote)
			phase = IN_WORD;
		if (ch == (unsigned char)escape && quote != '\'') {
			if (pos + w == len) {
				phase = IN_WORD;
				continue;
			}
			nib_buf_append(&word, s + pos, w);
			pos += w;
			ch = nib_utf8_decode(s + pos, len - pos, &w);
		}
		nib_buf_append(&word, s + pos, w);
	}
}

static bool is_ws_sep(char c)
{
	return c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' ';
}

/* regexp `[\t\v\f\r ]+` Split(s, -1): empty fields at the ends are kept. */
void cf_split_ws(const char *s, struct nib_strv *out, struct cf_offs *offs)
{
	size_t i = 0, start = 0, len = strlen(s);

	if (len == 0)
		return;
	while (i <= len) {
		if (i == len || is_ws_sep(s[i])) {
			nib_strv_push_take(out, xstrndup(s + start, i - start));
			if (offs)
				cf_offs_push(offs, start);
			if (i == len)
				break;
			while (i < len && is_ws_sep(s[i]))
				i++;
			start = i;
			continue;
		}
		i++;
	}
}

/* ---- JSON ----------------------------------------------------------------- */

#define JSON_MAX_DEPTH 512

struct jp {
	const char *s;
	size_t i, n;
};

static void jp_ws(struct jp *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
			       p->s[p->i] == '\r'))
		p->i++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int jp_hex4(struct jp *p, uint32_t *out)
{
	uint32_t v = 0;
	if (p->i + 4 > p->n)
		return -1;
	for (int k = 0; k < 4; k++) {
		int h = hexval(p->s[p->i + k]);
		if (h < 0)
			return -1;
		v = v * 16 + (uint32_t)h;
	}
	p->i += 4;
	*out = v;
	return 0;
}

/* A string at p->i (on the quote); decoded into `b` when non-NULL.
 * -2: a \u0000 escape while decoding. */
static int jp_string(struct jp *p, struct nib_buf *b)
{
	p->i++;
	while (p->i < p->n) {
		unsigned char c = (unsigned char)p->s[p->i];
		if (c == '"') {
			p->i++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			uint32_t r, r2;
			p->i++;
			if (p->i >= p->n)
				return -1;
			char e = p->s[p->i++];
			switch (e) {
			case '"':
			case '\\':
			case '/':
				if (b)
					nib_buf_putc(b, e);
				break;
			case 'b':
				if (b)
					nib_buf_putc(b, '\b');
				break;
			case 'f':
				if (b)
					nib_buf_putc(b, '\f');
				break;
			case 'n':
				if (b)
					nib_buf_putc(b, '\n');
				break;
			case 'r':
				if (b)
					nib_buf_putc(b, '\r');
				break;
			case 't':
				if (b)
					nib_buf_putc(b, '\t');
				break;
			case 'u':
				if (jp_hex4(p, &r) < 0)
					return -1;
				if (r >= 0xD800 && r < 0xDC00) {
					/* a surrogate pair, or U+FFFD as Go decodes it */
					size_t save = p->i;
					if (p->i + 1 < p->n && p->s[p->i] == '\\' &&
					    p->s[p->i + 1] == 'u') {
						p->i += 2;
						if (jp_hex4(p, &r2) == 0 && r2 >= 0xDC00 &&
						    r2 < 0xE000) {
							r = 0x10000 + ((r - 0xD800) << 10) +
							    (r2 - 0xDC00);
						} else {
							p->i = save;
							r = 0xFFFD;
						}
					} else {
						r = 0xFFFD;
					}
				} else if (r >= 0xDC00 && r < 0xE000) {
					r = 0xFFFD;
				}
				if (r == 0 && b)
					return -2; /* C strings cannot hold it */
				if (b)
					cf_utf8_put(b, r);
				break;
			default:
				return -1;
			}
			continue;
		}
		size_t w;
		uint32_t r = nib_utf8_decode(p->s + p->i, p->n - p->i, &w);
		if (b) {
			if (r == 0xFFFD && w == 1)
				cf_utf8_put(b, r);
			else
				nib_buf_append(b, p->s + p->i, w);
		}
		p->i += w;
	}
	return -1;
}

static int jp_number(struct jp *p)
{
	size_t st = p->i;
	if (p->i < p->n && p->s[p->i] == '-')
		p->i++;
	if (p->i >= p->n)
		return -1;
	if (p->s[p->i] == '0') {
		p->i++;
	} else if (p->s[p->i] >= '1' && p->s[p->i] <= '9') {
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
	} else {
		return -1;
	}
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (p->i >= p->n || !(p->s[p->i] >= '0' && p->s[p->i] <= '9'))
			return -1;
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (p->i >= p->n || !(p->s[p->i] >= '0' && p->s[p->i] <= '9'))
			return -1;
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
	}
	return p->i > st ? 0 : -1;
}

static int jp_value(struct jp *p, int depth);

static int jp_container(struct jp *p, int depth, char close)
{
	p->i++;
	jp_ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
		return 0;
	}
	for (;;) {
		jp_ws(p);
		if (close == '}') {
			if (p->i >= p->n || p->s[p->i] != '"' || jp_string(p, NULL) == -1)
				return -1;
			jp_ws(p);
			if (p->i >= p->n || p->s[p->i] != ':')
				return -1;
			p->i++;
			jp_ws(p);
		}
		if (jp_value(p, depth + 1) < 0)
			return -1;
		jp_ws(p);
		if (p->i >= p->n)
			return -1;
		if (p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->s[p->i] == close) {
			p->i++;
			return 0;
		}
		return -1;
	}
}

static int jp_value(struct jp *p, int depth)
{
	if (depth > JSON_MAX_DEPTH || p->i >= p->n)
		return -1;
	switch (p->s[p->i]) {
	case '"':
		return jp_string(p, NULL);
	case '[':
		return jp_container(p, depth, ']');
	case '{':
		return jp_container(p, depth, '}');
	case 't':
		if (p->n - p->i >= 4 && memcmp(p->s + p->i, "true", 4) == 0) {
			p->i += 4;
			return 0;
		}
		return -1;
	case 'f':
		if (p->n - p->i >= 5 && memcmp(p->s + p->i, "false", 5) == 0) {
			p->i += 5;
			return 0;
		}
		return -1;
	case 'n':
		if (p->n - p->i >= 4 && memcmp(p->s + p->i, "null", 4) == 0) {
			p->i += 4;
			return 0;
		}
		return -1;
	default:
		return jp_number(p);
	}
}

int cf_parse_json_array(const char *s, struct nib_strv *out)
{
	struct jp p;
	size_t w;

	/* strings.TrimLeftFunc(rest, unicode.IsSpace) */
	while (*s && cf_is_space(nib_utf8_decode(s, strlen(s), &w)))
		s += w;
	if (*s != '[')
		return 0;
	p = (struct jp){.s = s, .i = 0, .n = strlen(s)};
	/* validate the whole text first, as encoding/json does */
	if (jp_value(&p, 0) < 0)
		return 0;
	jp_ws(&p);
	if (p.i != p.n)
		return 0;
	/* decode: every element must be a string */
	p.i = 1;
	jp_ws(&p);
	if (p.s[p.i] == ']')
		return 1;
	for (;;) {
		jp_ws(&p);
		if (p.s[p.i] != '"') {
			nib_strv_free(out);
			return -1;
		}
		_cleanup_buf_ struct nib_buf b = {0};
		nib_buf_puts(&b, "");
		if (jp_string(&p, &b) == -2) {
			nib_strv_free(out);
			return -2;
		}
		nib_strv_push_take(out, nib_buf_steal(&b));
		jp_ws(&p);
		if (p.s[p.i] == ',') {
			p.i++;
			continue;
		}
		return 1;
	}
}
