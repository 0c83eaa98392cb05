/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: COPY/ADD --chmod, octal or symbolic as chmod(1) and
 * BuildKit (dchapes/mode) read it, checked when the plan is made and
 * applied by the copy engine.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include <string.h>

#include "containerfile/cf_internal.h"

/* Comma-separated clauses of [ugoa]*([-+=]([rwxXst]*|[ugo]))+ */
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

int cf_chmod_parse(const char *s, struct cf_chmod *out, struct nib_error *err)
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

mode_t cf_chmod_apply(const struct cf_chmod *c, mode_t mode, bool is_dir)
{
	mode_t m = mode & 07777;

	if (!c || !c->set)
		return m;
	if (!c->symbolic)
		return c->mode;
	if (symbolic_apply(c->clauses, m, is_dir, &m) < 0)
		return mode & 07777;
	return m;
}

void cf_chmod_clear(struct cf_chmod *c)
{
	free(c->clauses);
	memset(c, 0, sizeof(*c));
}
