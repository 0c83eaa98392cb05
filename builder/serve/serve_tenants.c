/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: tenants. A tenants file (or the same JSON mounted from a
 * Kubernetes Secret) maps bearer tokens to tenants; a tenant pushes only
 * under its repository prefixes and keeps its own build cache.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <strings.h>

#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

NIB_DEFINE_CLEANUP(json_object *, json_object_put)

#define TENANTS_MAX_SIZE (4 * 1024 * 1024)

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      (i > 0 && (s[i] == '-' || s[i] == '_' || s[i] == '.'))))
			return false;
	return true;
}

static bool hex64(const char *s)
{
	if (strlen(s) != NIB_SHA256_HEX_LEN)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static int parse_tenant(json_object *o, size_t i, const char *file, struct bld_srv_tenant *t,
			struct nib_error *err)
{
	json_object *v;

	if (!json_object_is_type(o, json_type_object))
		return nib_err(err, NIB_ERR_SYNTAX, 0, "%s: tenants[%zu]: not an object", file, i);
	json_object_object_foreach(o, key, val)
	{
		if (!streq(key, "name") && !streq(key, "token") && !streq(key, "tokenSha256") &&
		    !streq(key, "prefixes") && !streq(key, "authfile"))
			return nib_err(err, NIB_ERR_SYNTAX, 0, "%s: tenants[%zu]: unknown field %s",
				       file, i, key);
		if (!streq(key, "prefixes") && !json_object_is_type(val, json_type_string))
			return nib_err(err, NIB_ERR_SYNTAX, 0, "%s: tenants[%zu].%s: not a string",
				       file, i, key);
	}
	if (!json_object_object_get_ex(o, "name", &v) || !name_ok(json_object_get_string(v)))
		return nib_err(err, NIB_ERR_SYNTAX, 0,
			       "%s: tenants[%zu].name: missing, or not 1-63 of [a-z0-9-_.]", file,
			       i);
	t->name = xstrdup(json_object_get_string(v));
	if (json_object_object_get_ex(o, "token", &v)) {
		const char *tok = json_object_get_string(v);
		char d[NIB_DIGEST_LEN + 1];
		if (strlen(tok) < 16)
			return nib_err(err, NIB_ERR_SYNTAX, 0,
				       "%s: tenant %s: token shorter than 16 characters", file,
				       t->name);
		nib_sha256_digest(tok, strlen(tok), d);
		memcpy(t->token_sha256, nib_digest_hex(d), NIB_SHA256_HEX_LEN + 1);
	} else if (json_object_object_get_ex(o, "tokenSha256", &v)) {
		if (!hex64(json_object_get_string(v)))
			return nib_err(err, NIB_ERR_SYNTAX, 0,
				       "%s: tenant %s: tokenSha256 is not 64 lowercase hex digits",
				       file, t->name);
		memcpy(t->token_sha256, json_object_get_string(v), NIB_SHA256_HEX_LEN + 1);
	} else {
		return nib_err(err, NIB_ERR_SYNTAX, 0, "%s: tenant %s: no token or tokenSha256",
			       file, t->name);
	}
	if (!json_object_object_get_ex(o, "prefixes", &v) ||
	    !json_object_is_type(v, json_type_array))
		return nib_err(err, NIB_ERR_SYNTAX, 0,
			       "%s: tenant %s: prefixes must be an array of repository prefixes",
			       file, t->name);
	for (size_t j = 0; j < json_object_array_length(v); j++) {
		json_object *p = json_object_array_get_idx(v, j);
		const char *s = json_object_get_string(p);
		if (!json_object_is_type(p, json_type_string) || !*s || strchr(s, '@') ||
		    strchr(s, ' '))
			return nib_err(err, NIB_ERR_SYNTAX, 0,
				       "%s: tenant %s: prefixes[%zu] is not a repository prefix",
				       file, t->name, j);
		nib_strv_push(&t->prefixes, s);
	}
	if (json_object_object_get_ex(o, "authfile", &v))
		t->authfile = xstrdup(json_object_get_string(v));
	return 0;
}

int bld_srv_tenants_parse(const char *text, size_t len, const char *file,
			  struct bld_srv_tenants *out, struct nib_error *err)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	struct json_tokener *tok = json_tokener_new();
	json_object *arr;

	root = json_tokener_parse_ex(tok, text, (int)len);
	bool bad = !root || json_tokener_get_parse_end(tok) != len;
	json_tokener_free(tok);
	if (bad || !json_object_is_type(root, json_type_object))
		return nib_err(err, NIB_ERR_SYNTAX, 0, "%s: not a JSON object", file);
	json_object_object_foreach(root, key, val)
	{
		(void)val;
		if (!streq(key, "tenants"))
			return nib_err(err, NIB_ERR_SYNTAX, 0, "%s: unknown field %s", file, key);
	}
	if (!json_object_object_get_ex(root, "tenants", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return nib_err(err, NIB_ERR_SYNTAX, 0, "%s: no \"tenants\" array", file);
	size_t n = json_object_array_length(arr);
	out->v = xcalloc(n ? n : 1, sizeof(*out->v));
	out->len = 0;
	out->open = false;
	for (size_t i = 0; i < n; i++) {
		out->len = i + 1;
		if (parse_tenant(json_object_array_get_idx(arr, i), i, file, &out->v[i], err) < 0)
			goto fail;
		for (size_t j = 0; j < i; j++) {
			if (streq(out->v[j].name, out->v[i].name)) {
				nib_err(err, NIB_ERR_SYNTAX, 0, "%s: tenant %s given twice", file,
					out->v[i].name);
				goto fail;
			}
			if (streq(out->v[j].token_sha256, out->v[i].token_sha256)) {
				nib_err(err, NIB_ERR_SYNTAX, 0,
					"%s: tenants %s and %s have the same token", file,
					out->v[j].name, out->v[i].name);
				goto fail;
			}
		}
	}
	return 0;
fail:
	bld_srv_tenants_free(out);
	return -1;
}

int bld_srv_tenants_load(const char *path, struct bld_srv_tenants *out, struct nib_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (nib_read_file_at(AT_FDCWD, path, TENANTS_MAX_SIZE, &text, &len, err) < 0)
		return nib_err_wrap(err, "--tenants");
	return bld_srv_tenants_parse(text, len, path, out, err);
}

struct bld_srv_tenants *bld_srv_tenants_get(struct bld_srv *s)
{
	pthread_mutex_lock(&s->lock);
	struct bld_srv_tenants *t = s->tenants;
	atomic_fetch_add(&t->refs, 1);
	pthread_mutex_unlock(&s->lock);
	return t;
}

void bld_srv_tenants_put(struct bld_srv_tenants *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1) {
		bld_srv_tenants_free(t);
		free(t);
	}
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int bld_srv_tenants_reload(struct bld_srv *s, bool changed_only)
{
	const char *path = s->cfg.tenants_file;
	struct nib_error e = {0};
	struct stat st;

	if (!path)
		return 0;
	/* a file that is not there is an error once, not at every look */
	if (stat(path, &st) < 0)
		st = (struct stat){0};
	if (changed_only && same_file(&st, &s->tenants_st))
		return 0;
	s->tenants_st = st;
	struct bld_srv_tenants *t = xcalloc(1, sizeof(*t));
	if (bld_srv_tenants_load(path, t, &e) < 0) {
		log_error("serve: tenants not reloaded, the %zu before stay: %s", s->tenants->len,
			  e.msg);
		nib_err_clear(&e);
		free(t);
		return -1;
	}
	atomic_store(&t->refs, 1);
	pthread_mutex_lock(&s->lock);
	struct bld_srv_tenants *old = s->tenants;
	s->tenants = t;
	pthread_mutex_unlock(&s->lock);
	bld_srv_tenants_put(old);
	log_info("serve: %zu tenants from %s", t->len, path);
	return 1;
}

void bld_srv_tenants_free(struct bld_srv_tenants *t)
{
	for (size_t i = 0; i < t->len; i++) {
		free(t->v[i].name);
		free(t->v[i].authfile);
		nib_strv_free(&t->v[i].prefixes);
	}
	free(t->v);
	t->v = NULL;
	t->len = 0;
}

const struct bld_srv_tenant *bld_srv_tenant_auth(const struct bld_srv_tenants *t,
						 const char *authorization)
{
	static const struct bld_srv_tenant open_tenant = {.name = (char *)"default"};
	const struct bld_srv_tenant *found = NULL;
	char d[NIB_DIGEST_LEN + 1];

	if (t->open)
		return &open_tenant;
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	const char *tok = authorization + 7;
	while (*tok == ' ')
		tok++;
	nib_sha256_digest(tok, strlen(tok), d);
	const char *hex = nib_digest_hex(d);
	for (size_t i = 0; i < t->len; i++) {
		unsigned diff = 0;
		for (size_t j = 0; j < NIB_SHA256_HEX_LEN; j++)
			diff |= (unsigned char)(hex[j] ^ t->v[i].token_sha256[j]);
		if (diff == 0)
			found = &t->v[i];
	}
	return found;
}

bool bld_srv_tenant_may_push(const struct bld_srv_tenants *t, const struct bld_srv_tenant *tn,
			     const char *ref)
{
	if (t->open)
		return true;
	for (size_t i = 0; i < tn->prefixes.len; i++) {
		const char *p = tn->prefixes.v[i];
		size_t n = strlen(p);
		if (strncmp(ref, p, n) != 0)
			continue;
		/* "reg/team" matches "reg/team/app" and "reg/team:tag", never
		 * "reg/teamx" */
		if (p[n - 1] == '/' || ref[n] == '/' || ref[n] == ':' || ref[n] == '@')
			return true;
	}
	return false;
}
