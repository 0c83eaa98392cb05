/* SPDX-License-Identifier: Apache-2.0 */
/* Byte buffers, string vectors and small string helpers. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "common/common.h"

void nib_buf_append(struct nib_buf *b, const void *p, size_t n)
{
	b->data = xgrow(b->data, &b->cap, b->len + n + 1, 1);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void nib_buf_puts(struct nib_buf *b, const char *s)
{
	nib_buf_append(b, s, strlen(s));
}

void nib_buf_putc(struct nib_buf *b, char c)
{
	nib_buf_append(b, &c, 1);
}

void nib_buf_printf(struct nib_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	nib_buf_puts(b, s);
	free(s);
}

uint32_t nib_utf8_decode(const char *s, size_t n, size_t *width)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t r;
	size_t need;

	if (n == 0) {
		*width = 0;
		return 0xFFFD;
	}
	if (p[0] < 0x80) {
		*width = 1;
		return p[0];
	}
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		need = 1;
		r = p[0] & 0x1F;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		need = 2;
		r = p[0] & 0x0F;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		need = 3;
		r = p[0] & 0x07;
	} else {
		*width = 1;
		return 0xFFFD;
	}
	if (n < need + 1)
		goto bad;
	for (size_t i = 1; i <= need; i++) {
		if ((p[i] & 0xC0) != 0x80)
			goto bad;
		r = (r << 6) | (p[i] & 0x3F);
	}
	/* overlong forms, surrogates and values past U+10FFFF are invalid */
	if ((need == 2 && r < 0x800) || (need == 3 && (r < 0x10000 || r > 0x10FFFF)) ||
	    (r >= 0xD800 && r <= 0xDFFF))
		goto bad;
	*width = need + 1;
	return r;
bad:
	*width = 1;
	return 0xFFFD;
}

void nib_buf_json_string(struct nib_buf *b, const char *s)
{
	size_t n = strlen(s), i = 0, w;

	nib_buf_putc(b, '"');
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		uint32_t r;

		if (c >= 0x80) {
			/* JSON text is UTF-8: an invalid byte becomes U+FFFD */
			r = nib_utf8_decode(s + i, n - i, &w);
			if (r == 0xFFFD && w == 1)
				nib_buf_puts(b, "\\ufffd");
			else
				nib_buf_append(b, s + i, w);
			i += w;
			continue;
		}
		switch (c) {
		case '"':
			nib_buf_puts(b, "\\\"");
			break;
		case '\\':
			nib_buf_puts(b, "\\\\");
			break;
		case '\n':
			nib_buf_puts(b, "\\n");
			break;
		case '\r':
			nib_buf_puts(b, "\\r");
			break;
		case '\t':
			nib_buf_puts(b, "\\t");
			break;
		default:
			if (c < 0x20 || c == 0x7F)
				nib_buf_printf(b, "\\u%04x", c);
			else
				nib_buf_putc(b, (char)c);
		}
		i++;
	}
	nib_buf_putc(b, '"');
}

void nib_buf_reset(struct nib_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void nib_buf_free(struct nib_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *nib_buf_steal(struct nib_buf *b)
{
	char *p = b->data ? b->data : xstrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void nib_strv_push_take(struct nib_strv *sv, char *s)
{
	sv->v = xgrow(sv->v, &sv->cap, sv->len + 2, sizeof(char *));
	sv->v[sv->len++] = s;
	sv->v[sv->len] = NULL;
}

void nib_strv_push(struct nib_strv *sv, const char *s)
{
	nib_strv_push_take(sv, xstrdup(s));
}

void nib_strv_pushf(struct nib_strv *sv, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	nib_strv_push_take(sv, xvasprintf(fmt, ap));
	va_end(ap);
}

ssize_t nib_strv_find(const struct nib_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->len; i++)
		if (streq(sv->v[i], s))
			return (ssize_t)i;
	return -1;
}

void nib_strv_remove(struct nib_strv *sv, size_t i)
{
	free(sv->v[i]);
	memmove(&sv->v[i], &sv->v[i + 1], (sv->len - i) * sizeof(char *)); /* NULL too */
	sv->len--;
}

const char *nib_env_get(char *const *env, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], key, n) == 0 && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

char *nib_strv_join(const struct nib_strv *sv, const char *sep)
{
	struct nib_buf b = {0};
	for (size_t i = 0; i < sv->len; i++) {
		if (i)
			nib_buf_puts(&b, sep);
		nib_buf_puts(&b, sv->v[i]);
	}
	return nib_buf_steal(&b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void nib_strv_sort(struct nib_strv *sv)
{
	if (sv->len > 1)
		qsort(sv->v, sv->len, sizeof(char *), cmp_str);
}

void nib_strv_free(struct nib_strv *sv)
{
	for (size_t i = 0; i < sv->len; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->len = sv->cap = 0;
}

bool nib_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool nib_str_has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

int nib_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int nib_parse_bool(const char *s)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

int nib_parse_duration(const char *s, int64_t *out)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {
	    {"ns", 1},	 {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
	    {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},	  {"h", 3600e9},
	};
	double total = 0;
	bool neg = false;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (!*s)
		return -1;
	while (*s) {
		double v = 0, frac = 0, scale = 1;
		bool digits = false;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s++ - '0');
			digits = true;
		}
		if (*s == '.') {
			s++;
			while (*s >= '0' && *s <= '9') {
				scale /= 10;
				frac += (*s++ - '0') * scale;
				digits = true;
			}
		}
		if (!digits)
			return -1;
		size_t ul = 0;
		while (s[ul] && !(s[ul] >= '0' && s[ul] <= '9') && s[ul] != '.')
			ul++;
		if (ul == 0)
			return -1;
		size_t k;
		for (k = 0; k < ARRAY_SIZE(units); k++)
			if (strlen(units[k].unit) == ul && memcmp(units[k].unit, s, ul) == 0)
				break;
		if (k == ARRAY_SIZE(units))
			return -1;
		total += (v + frac) * units[k].ns;
		if (total > 9.2e18)
			return -1;
		s += ul;
	}
	*out = (int64_t)(neg ? -total : total);
	return 0;
}
