/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict JSON for OCI documents: a parser that refuses what json-c lets
 * through (duplicate object keys, invalid UTF-8, NUL in strings, trailing
 * garbage, nesting deeper than a limit) and builds json-c objects, and the
 * canonical emitter (sorted keys, no whitespace) that makes the digests of
 * generated documents reproducible.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "storage/storage.h"

struct jp {
	const unsigned char *p, *end, *start;
	int depth, max_depth;
	struct nib_error *err;
};

static int jp_fail(struct jp *j, const char *what)
{
	return nib_err(j->err, NIB_ERR_CORRUPT, 0, "invalid JSON at byte %td: %s", j->p - j->start,
		       what);
}

static void skip_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int hex4(struct jp *j, unsigned *out)
{
	unsigned v = 0;
	if (j->end - j->p < 4)
		return jp_fail(j, "short \\u escape");
	for (int i = 0; i < 4; i++) {
		unsigned char c = j->p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return jp_fail(j, "bad \\u escape");
	}
	j->p += 4;
	*out = v;
	return 0;
}

static void put_utf8(struct nib_buf *b, unsigned cp)
{
	char o[4];
	size_t n;
	if (cp < 0x80) {
		o[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		o[0] = (char)(0xf0 | (cp >> 18));
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	nib_buf_append(b, o, n);
}

/* Length of the valid UTF-8 sequence at p (RFC 3629), 0 when invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned cp;
	size_t n;
	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int parse_string(struct jp *j, struct nib_buf *b)
{
	j->p++; /* opening quote */
	while (j->p < j->end) {
		unsigned char c = *j->p;
		if (c == '"') {
			j->p++;
			if (!b->data)
				nib_buf_puts(b, "");
			return 0;
		}
		if (c < 0x20)
			return jp_fail(j, "control character in string");
		if (c != '\\') {
			size_t n = utf8_len(j->p, j->end);
			if (!n)
				return jp_fail(j, "invalid UTF-8 in string");
			nib_buf_append(b, j->p, n);
			j->p += n;
			continue;
		}
		j->p++;
		if (j->p >= j->end)
			break;
		c = *j->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			nib_buf_putc(b, (char)c);
			break;
		case 'b':
			nib_buf_putc(b, '\b');
			break;
		case 'f':
			nib_buf_putc(b, '\f');
			break;
		case 'n':
			nib_buf_putc(b, '\n');
			break;
		case 'r':
			nib_buf_putc(b, '\r');
			break;
		case 't':
			nib_buf_putc(b, '\t');
			break;
		case 'u': {
			unsigned cp, lo;
			if (hex4(j, &cp) < 0)
				return -1;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
					return jp_fail(j, "unpaired surrogate");
				j->p += 2;
				if (hex4(j, &lo) < 0)
					return -1;
				if (lo < 0xdc00 || lo > 0xdfff)
					return jp_fail(j, "unpaired surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				return jp_fail(j, "unpaired surrogate");
			} else if (cp == 0) {
				return jp_fail(j, "NUL character in string");
			}
			put_utf8(b, cp);
			break;
		}
		default:
			j->p--;
			return jp_fail(j, "bad escape");
		}
	}
	return jp_fail(j, "unterminated string");
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int parse_number(struct jp *j, json_object **out)
{
	const unsigned char *s = j->p;
	bool integer = true;
	char buf[64];

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || !is_digit(*j->p))
		return jp_fail(j, "bad number");
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && is_digit(*j->p))
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		integer = false;
		j->p++;
		if (j->p >= j->end || !is_digit(*j->p))
			return jp_fail(j, "bad number");
		while (j->p < j->end && is_digit(*j->p))
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		integer = false;
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || !is_digit(*j->p))
			return jp_fail(j, "bad number");
		while (j->p < j->end && is_digit(*j->p))
			j->p++;
	}
	if ((size_t)(j->p - s) >= sizeof(buf))
		return jp_fail(j, "number too long");
	memcpy(buf, s, (size_t)(j->p - s));
	buf[j->p - s] = '\0';
	if (integer) {
		char *e;
		errno = 0;
		long long v = strtoll(buf, &e, 10);
		if (errno == 0 && *e == '\0') {
			*out = json_object_new_int64(v);
			return 0;
		}
	}
	double d = strtod(buf, NULL);
	if (!isfinite(d))
		return jp_fail(j, "number out of range");
	*out = json_object_new_double(d);
	return 0;
}

static int parse_value(struct jp *j, json_object **out);

static int parse_object(struct jp *j, json_object **out)
{
	_cleanup_(json_object_putp) json_object *obj = json_object_new_object();

	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		*out = steal_pointer(&obj);
		return 0;
	}
	for (;;) {
		_cleanup_buf_ struct nib_buf key = {0};
		json_object *val = NULL;
		skip_ws(j);
		if (j->p >= j->end || *j->p != '"')
			return jp_fail(j, "expected a string key");
		if (parse_string(j, &key) < 0)
			return -1;
		if (strlen(key.data) != key.len)
			return jp_fail(j, "NUL character in key");
		if (json_object_object_get_ex(obj, key.data, NULL)) {
			j->p--;
			return nib_err(j->err, NIB_ERR_CORRUPT, 0,
				       "invalid JSON at byte %td: duplicate key \"%s\"",
				       j->p - j->start, key.data);
		}
		skip_ws(j);
		if (j->p >= j->end || *j->p != ':')
			return jp_fail(j, "expected ':'");
		j->p++;
		if (parse_value(j, &val) < 0)
			return -1;
		json_object_object_add(obj, key.data, val);
		skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			*out = steal_pointer(&obj);
			return 0;
		}
		return jp_fail(j, "expected ',' or '}'");
	}
}

static int parse_array(struct jp *j, json_object **out)
{
	_cleanup_(json_object_putp) json_object *arr = json_object_new_array();

	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		*out = steal_pointer(&arr);
		return 0;
	}
	for (;;) {
		json_object *val = NULL;
		if (parse_value(j, &val) < 0)
			return -1;
		json_object_array_add(arr, val);
		skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			*out = steal_pointer(&arr);
			return 0;
		}
		return jp_fail(j, "expected ',' or ']'");
	}
}

static int literal(struct jp *j, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return jp_fail(j, "unexpected character");
	j->p += n;
	return 0;
}

static int parse_value(struct jp *j, json_object **out)
{
	int ret;

	*out = NULL;
	skip_ws(j);
	if (j->p >= j->end)
		return jp_fail(j, "unexpected end of document");
	switch (*j->p) {
	case '{':
	case '[':
		if (++j->depth > j->max_depth)
			return jp_fail(j, "nested too deeply");
		ret = *j->p == '{' ? parse_object(j, out) : parse_array(j, out);
		j->depth--;
		return ret;
	case '"': {
		_cleanup_buf_ struct nib_buf s = {0};
		if (parse_string(j, &s) < 0)
			return -1;
		*out = json_object_new_string_len(s.data, (int)s.len);
		return 0;
	}
	case 't':
		if (literal(j, "true") < 0)
			return -1;
		*out = json_object_new_boolean(1);
		return 0;
	case 'f':
		if (literal(j, "false") < 0)
			return -1;
		*out = json_object_new_boolean(0);
		return 0;
	case 'n':
		return literal(j, "null");
	default:
		if (*j->p == '-' || is_digit(*j->p))
			return parse_number(j, out);
		return jp_fail(j, "unexpected character");
	}
}

int stg_json_parse(const char *data, size_t len, size_t max_len, int max_depth, json_object **out,
		   struct nib_error *err)
{
	struct jp j = {(const unsigned char *)data,
		       (const unsigned char *)data + len,
		       (const unsigned char *)data,
		       0,
		       max_depth,
		       err};
	json_object *val = NULL;

	if (len > max_len)
		return nib_err(err, NIB_ERR_CORRUPT, EFBIG,
			       "document of %zu bytes is larger than the limit of %zu", len,
			       max_len);
	if (len > INT32_MAX)
		return nib_err(err, NIB_ERR_CORRUPT, EFBIG, "document too large");
	if (parse_value(&j, &val) < 0) {
		json_object_put(val);
		return -1;
	}
	skip_ws(&j);
	if (j.p != j.end) {
		json_object_put(val);
		return jp_fail(&j, "trailing characters after the document");
	}
	*out = val;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void stg_json_canonical(json_object *o, struct nib_buf *out)
{
	switch (json_object_get_type(o)) {
	case json_type_null:
		nib_buf_puts(out, "null");
		return;
	case json_type_boolean:
		nib_buf_puts(out, json_object_get_boolean(o) ? "true" : "false");
		return;
	case json_type_int:
		nib_buf_printf(out, "%" PRId64, json_object_get_int64(o));
		return;
	case json_type_double: {
		double d = json_object_get_double(o);
		if (d == 0)
			nib_buf_puts(out, "0"); /* -0.0 too: "-0" would parse back as 0 */
		else if (d == floor(d) && fabs(d) < 1e15)
			nib_buf_printf(out, "%.0f", d);
		else
			nib_buf_printf(out, "%.17g", d);
		return;
	}
	case json_type_string:
		nib_buf_json_string(out, json_object_get_string(o));
		return;
	case json_type_array: {
		size_t n = json_object_array_length(o);
		nib_buf_putc(out, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				nib_buf_putc(out, ',');
			stg_json_canonical(json_object_array_get_idx(o, i), out);
		}
		nib_buf_putc(out, ']');
		return;
	}
	case json_type_object: {
		size_t n = (size_t)json_object_object_length(o), i = 0;
		_cleanup_free_ const char **keys = xcalloc(n + 1, sizeof(*keys));
		json_object_object_foreach(o, k, v)
		{
			(void)v;
			keys[i++] = k;
		}
		qsort(keys, i, sizeof(*keys), key_cmp);
		nib_buf_putc(out, '{');
		for (size_t x = 0; x < i; x++) {
			if (x)
				nib_buf_putc(out, ',');
			nib_buf_json_string(out, keys[x]);
			nib_buf_putc(out, ':');
			stg_json_canonical(json_object_object_get(o, keys[x]), out);
		}
		nib_buf_putc(out, '}');
		return;
	}
	}
}
