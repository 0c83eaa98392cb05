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

void nib_buf_json_string(struct nib_buf *b, const char *s)
{
	nib_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
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
		case '\b':
			nib_buf_puts(b, "\\b");
			break;
		case '\f':
			nib_buf_puts(b, "\\f");
			break;
		default:
			if (*p < 0x20)
				nib_buf_printf(b, "\\u%04x", *p);
			else
				nib_buf_putc(b, (char)*p);
		}
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
