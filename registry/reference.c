/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image references: name[:tag][@digest] with the grammar and normalisation of
 * the distribution project's reference package (reference/regexp.go) and
 * Docker's defaults (docker.io, library/, latest).
 */
#define NIB_REGISTRY_INTERNAL
#include <ctype.h>
#include <string.h>

#include "registry/registry_internal.h"

#define NAME_MAX_TOTAL 255
#define TAG_MAX	       128

static int bad(struct nib_error *err, const char *s, const char *why)
{
	return nib_err(err, NIB_ERR_CORRUPT, 0, "invalid reference '%s': %s", s, why);
}

static bool alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* distribution reference/regexp.go: path-component =
 * [a-z0-9]+ (separator [a-z0-9]+)*, separator = [_.] | __ | [-]+ */
static bool path_component_valid(const char *p, size_t n)
{
	size_t i = 0;

	if (n == 0 || !alnum_lower(p[0]))
		return false;
	while (i < n) {
		while (i < n && alnum_lower(p[i]))
			i++;
		if (i == n)
			return true;
		/* a separator, then at least one alphanumeric */
		if (p[i] == '.') {
			i++;
		} else if (p[i] == '_') {
			i++;
			if (i < n && p[i] == '_')
				i++;
		} else if (p[i] == '-') {
			while (i < n && p[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n || !alnum_lower(p[i]))
			return false;
	}
	return true;
}

static bool domain_component_valid(const char *p, size_t n)
{
	if (n == 0 || !isalnum((unsigned char)p[0]) || !isalnum((unsigned char)p[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-')
			return false;
	return true;
}

/* host[:port] where host is dotted components or a bracketed IPv6 address */
static bool domain_valid(const char *d, size_t n)
{
	size_t host_end = n, i;

	if (n == 0)
		return false;
	if (d[0] == '[') {
		const char *close = memchr(d, ']', n);
		if (!close || close == d + 1)
			return false;
		for (const char *q = d + 1; q < close; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
				return false;
		i = (size_t)(close - d) + 1;
		if (i == n)
			return true;
		if (d[i] != ':')
			return false;
		host_end = i;
	} else {
		const char *colon = memchr(d, ':', n);
		if (colon)
			host_end = (size_t)(colon - d);
		size_t start = 0;
		for (i = 0; i <= host_end; i++) {
			if (i == host_end || d[i] == '.') {
				if (!domain_component_valid(d + start, i - start))
					return false;
				start = i + 1;
			}
		}
		if (host_end == n)
			return true;
	}
	/* ":port" */
	if (host_end + 1 >= n || n - host_end - 1 > 5)
		return false;
	for (i = host_end + 1; i < n; i++)
		if (!isdigit((unsigned char)d[i]))
			return false;
	return true;
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > TAG_MAX)
		return false;
	if (!isalnum((unsigned char)t[0]) && t[0] != '_')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

/* Docker's rule (reference/normalize.go splitDockerDomain). */
static bool first_is_domain(const char *s, size_t n)
{
	if (n == 9 && strncmp(s, "localhost", 9) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.' || s[i] == ':' || s[i] == '[' || isupper((unsigned char)s[i]))
			return true;
	return false;
}

bool reg_ref_is_qualified(const char *s)
{
	const char *slash = strchr(s, '/');
	return slash && first_is_domain(s, (size_t)(slash - s));
}

void reg_ref_clear(struct reg_ref *r)
{
	if (!r)
		return;
	free(r->registry);
	free(r->repo);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

void reg_ref_copy(struct reg_ref *dst, const struct reg_ref *src)
{
	dst->registry = src->registry ? xstrdup(src->registry) : NULL;
	dst->repo = src->repo ? xstrdup(src->repo) : NULL;
	dst->tag = src->tag ? xstrdup(src->tag) : NULL;
	dst->digest = src->digest ? xstrdup(src->digest) : NULL;
}

/* Parse with an explicit default registry (NULL: Docker's rules). When
 * `default_registry` is given the name is taken as unqualified. */
int reg_ref_parse_with(const char *s, const char *default_registry, struct reg_ref *out,
		       struct nib_error *err)
{
	_cleanup_free_ char *name = NULL;
	_cleanup_ref_ struct reg_ref r = {0};
	const char *at, *slash, *colon, *path;
	size_t len = strlen(s);

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "invalid reference '': empty");
	if (len > 4096)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "invalid reference '%.64s...': too long",
			       s);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return bad(err, s, "contains a space or a control or non-ASCII character");

	at = strchr(s, '@');
	if (at) {
		if (!nib_digest_valid(at + 1))
			return bad(
			    err, s,
			    "malformed digest (expected sha256:<64 hex> or sha512:<128 hex>)");
		r.digest = xstrdup(at + 1);
		name = xstrndup(s, (size_t)(at - s));
	} else {
		name = xstrdup(s);
	}
	slash = strrchr(name, '/');
	colon = strrchr(name, ':');
	if (colon && (!slash || colon > slash)) {
		if (!tag_valid(colon + 1))
			return bad(err, s,
				   "malformed tag (letters, digits, '_', '.', '-', at most 128, "
				   "not starting with '.' or '-')");
		r.tag = xstrdup(colon + 1);
		name[colon - name] = '\0';
	}
	if (!*name)
		return bad(err, s, "no repository name");

	slash = strchr(name, '/');
	if (!default_registry && slash && first_is_domain(name, (size_t)(slash - name))) {
		if (!domain_valid(name, (size_t)(slash - name)))
			return bad(err, s, "malformed registry host");
		r.registry = xstrndup(name, (size_t)(slash - name));
		path = slash + 1;
	} else {
		r.registry = xstrdup(default_registry ? default_registry : REG_DOCKER_HUB);
		path = name;
	}
	if (streq(r.registry, "index.docker.io") || streq(r.registry, "registry-1.docker.io")) {
		free(r.registry);
		r.registry = xstrdup(REG_DOCKER_HUB);
	}
	for (const char *p = path;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		for (size_t i = 0; i < n; i++)
			if (isupper((unsigned char)p[i]))
				return bad(err, s, "repository name must be lowercase");
		if (!path_component_valid(p, n))
			return bad(err, s,
				   "malformed repository name (lowercase letters, digits and "
				   "separators '.', '_', '__', '-' between path components)");
		if (!e)
			break;
		p = e + 1;
	}
	if (streq(r.registry, REG_DOCKER_HUB) && !strchr(path, '/'))
		r.repo = xasprintf("library/%s", path);
	else
		r.repo = xstrdup(path);
	if (strlen(r.registry) + 1 + strlen(r.repo) > NAME_MAX_TOTAL)
		return bad(err, s, "name longer than 255 characters");
	if (!r.tag && !r.digest)
		r.tag = xstrdup("latest");
	*out = r;
	memset(&r, 0, sizeof(r));
	return 0;
}

int reg_ref_parse(const char *s, struct reg_ref *out, struct nib_error *err)
{
	return reg_ref_parse_with(s, NULL, out, err);
}

char *reg_ref_name(const struct reg_ref *r)
{
	return xasprintf("%s/%s", r->registry, r->repo);
}

char *reg_ref_string(const struct reg_ref *r)
{
	return xasprintf("%s/%s%s%s%s%s", r->registry, r->repo, r->tag ? ":" : "",
			 r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

/* Split a short name "name[:tag][@digest]" into the name and the suffix. */
static void split_short(const char *s, char **name, const char **suffix)
{
	const char *at = strchr(s, '@');
	const char *end = at ? at : s + strlen(s);
	const char *colon = memrchr(s, ':', (size_t)(end - s));
	const char *slash = memrchr(s, '/', (size_t)(end - s));

	if (colon && (!slash || colon > slash))
		end = colon;
	*name = xstrndup(s, (size_t)(end - s));
	*suffix = end;
}

int reg_ref_resolve(const struct reg_conf *conf, const char *s, struct reg_ref *out,
		    struct nib_error *err)
{
	_cleanup_free_ char *name = NULL;
	const char *suffix, *alias;

	if (reg_ref_is_qualified(s) || !conf)
		return reg_ref_parse(s, out, err);
	split_short(s, &name, &suffix);
	alias = reg_conf_alias(conf, name);
	if (!alias && strncmp(name, "library/", 8) != 0) {
		_cleanup_free_ char *lib = xasprintf("library/%s", name);
		alias = reg_conf_alias(conf, lib);
	}
	if (alias) {
		_cleanup_free_ char *full = xasprintf("%s%s", alias, suffix);
		if (reg_ref_parse(full, out, err) < 0)
			return nib_err_wrap(err, "short-name alias '%s' for '%s'", alias, s);
		log_debug("short name '%s' resolved by alias to %s", s, alias);
		return 0;
	}
	switch (conf->n_search) {
	case 0:
		return reg_ref_parse(s, out, err);
	case 1:
		return reg_ref_parse_with(s, conf->search[0], out, err);
	default: {
		_cleanup_buf_ struct nib_buf b = {0};
		for (size_t i = 0; i < conf->n_search; i++)
			nib_buf_printf(&b, "%s%s/%s", i ? ", " : "", conf->search[i], name);
		return nib_err(
		    err, NIB_ERR_USAGE, 0,
		    "short name '%s' is ambiguous: it may mean %s; use a fully qualified "
		    "reference or add an alias to registries.conf",
		    s, b.data);
	}
	}
}
