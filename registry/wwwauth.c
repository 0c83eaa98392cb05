/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WWW-Authenticate (RFC 7235 section 4.1) as registries send it
 * (distribution-spec / docker token-auth): one or more challenges
 * `scheme param=value, param="quoted"`; Bearer carries realm, service and
 * scope, Basic a realm.
 */
#define NIB_REGISTRY_INTERNAL
#include <ctype.h>
#include <string.h>

#include "registry/registry_internal.h"

void reg_challenge_clear(struct reg_challenge *c)
{
	if (!c)
		return;
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	memset(c, 0, sizeof(*c));
}

/* RFC 7230 tchar */
static bool tchar(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void sp(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

static size_t token_len(const char *p)
{
	size_t n = 0;
	while (tchar(p[n]))
		n++;
	return n;
}

static int parse_quoted(const char **p, char **out)
{
	struct nib_buf b = {0};

	(*p)++;
	nib_buf_puts(&b, "");
	while (**p != '"') {
		if (!**p || (unsigned char)**p < 0x20) {
			nib_buf_free(&b);
			return -1;
		}
		if (**p == '\\') {
			(*p)++;
			if (!**p) {
				nib_buf_free(&b);
				return -1;
			}
		}
		nib_buf_putc(&b, **p);
		(*p)++;
	}
	(*p)++;
	*out = nib_buf_steal(&b);
	return 0;
}

int reg_www_authenticate_parse(const char *value, struct reg_challenge *out, struct nib_error *err)
{
	struct reg_challenge cur = {0}, best = {0};
	const char *p = value;
	size_t vlen = strnlen(value, REG_WWW_AUTH_MAX + 1);

	memset(out, 0, sizeof(*out));
	if (vlen > REG_WWW_AUTH_MAX)
		return nib_err(err, NIB_ERR_AUTH, 0,
			       "WWW-Authenticate header longer than %d bytes refused",
			       REG_WWW_AUTH_MAX);
	sp(&p);
	while (*p) {
		size_t n = token_len(p);
		if (n == 0)
			goto bad;
		reg_challenge_clear(&cur);
		cur.scheme = xstrndup(p, n);
		for (char *q = cur.scheme; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		p += n;
		sp(&p);
		/* params until the next challenge */
		while (*p) {
			const char *save = p;
			char *val = NULL;
			n = token_len(p);
			if (n == 0) {
				if (*p == ',') {
					p++;
					sp(&p);
					continue;
				}
				goto bad;
			}
			const char *name = p;
			p += n;
			sp(&p);
			if (*p != '=') {
				/* token68 ("Basic abc==") or the next challenge's scheme */
				if (*p == ',' || !*p) {
					p = *p ? p + 1 : p;
					sp(&p);
					continue;
				}
				p = save;
				break;
			}
			p++;
			sp(&p);
			if (*p == '"') {
				if (parse_quoted(&p, &val) < 0)
					goto bad;
			} else {
				size_t vl = token_len(p);
				/* token68-style values may end in '=' */
				while (p[vl] == '=' || p[vl] == '/')
					vl++;
				if (vl == 0) {
					if (*p == ',' || !*p) {
						val = xstrdup("");
					} else {
						goto bad;
					}
				} else {
					val = xstrndup(p, vl);
					p += vl;
				}
			}
			char **slot = NULL;
			if (n == 5 && strncasecmp(name, "realm", 5) == 0)
				slot = &cur.realm;
			else if (n == 7 && strncasecmp(name, "service", 7) == 0)
				slot = &cur.service;
			else if (n == 5 && strncasecmp(name, "scope", 5) == 0)
				slot = &cur.scope;
			if (slot) {
				free(*slot);
				*slot = val;
			} else {
				free(val);
			}
			sp(&p);
			if (*p == ',') {
				p++;
				sp(&p);
			} else if (*p) {
				goto bad;
			}
		}
		if (streq(cur.scheme, "bearer") &&
		    (!best.scheme || !streq(best.scheme, "bearer"))) {
			reg_challenge_clear(&best);
			best = cur;
			memset(&cur, 0, sizeof(cur));
		} else if (streq(cur.scheme, "basic") && !best.scheme) {
			best = cur;
			memset(&cur, 0, sizeof(cur));
		}
	}
	reg_challenge_clear(&cur);
	if (!best.scheme)
		return nib_err(err, NIB_ERR_AUTH, 0,
			       "no supported authentication scheme (Bearer or Basic) offered");
	if (streq(best.scheme, "bearer") && (!best.realm || !*best.realm)) {
		reg_challenge_clear(&best);
		return nib_err(err, NIB_ERR_AUTH, 0, "Bearer challenge without a realm");
	}
	*out = best;
	return 0;
bad:
	reg_challenge_clear(&cur);
	reg_challenge_clear(&best);
	return nib_err(err, NIB_ERR_AUTH, 0, "malformed WWW-Authenticate header");
}
