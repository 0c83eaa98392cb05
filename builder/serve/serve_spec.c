/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: the build spec a submitter sends (JSON), checked field by
 * field before anything is written. docs/serve.md lists the fields.
 */
#include <json-c/json.h>
#include <string.h>
#include <strings.h>

#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"
#include "registry/registry.h"

#define MAX_ITEMS  256
#define MAX_STRING 4096

static int bad(struct nib_error *err, const char *field, const char *what)
{
	return nib_err(err, NIB_ERR_USAGE, 0, "spec: %s: %s", field, what);
}

static int get_string(json_object *v, const char *field, size_t max, char **out,
		      struct nib_error *err)
{
	if (!json_object_is_type(v, json_type_string))
		return bad(err, field, "not a string");
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	if (strlen(s) != n)
		return bad(err, field, "contains a NUL character");
	if (n > max)
		return nib_err(err, NIB_ERR_USAGE, 0, "spec: %s: longer than %zu bytes", field,
			       max);
	free(*out);
	*out = xstrdup(s);
	return 0;
}

static bool charset(const char *s, const char *extra, bool first_digit_ok)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++) {
		bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9');
		if (p == s && !first_digit_ok && *p >= '0' && *p <= '9')
			return false;
		if (!alnum && !strchr(extra, *p))
			return false;
	}
	return true;
}

static int get_map(json_object *v, const char *field, bool arg_keys, struct bld_srv_kv **out,
		   size_t *n, struct nib_error *err)
{
	if (!json_object_is_type(v, json_type_object))
		return bad(err, field, "not an object of strings");
	if (json_object_object_length(v) > MAX_ITEMS)
		return nib_err(err, NIB_ERR_USAGE, 0, "spec: %s: more than %d entries", field,
			       MAX_ITEMS);
	*out = xcalloc((size_t)json_object_object_length(v) + 1, sizeof(**out));
	json_object_object_foreach(v, key, val)
	{
		_cleanup_free_ char *name = xasprintf("%s.%s", field, key);
		struct bld_srv_kv *kv = &(*out)[*n];
		if (arg_keys ? !charset(key, "_", false)
			     : (!*key || strchr(key, '=') || strlen(key) > 256))
			return bad(err, name,
				   arg_keys ? "not a build argument name" : "not a label name");
		if (get_string(val, name, MAX_STRING, &kv->value, err) < 0)
			return -1;
		kv->key = xstrdup(key);
		(*n)++;
	}
	return 0;
}

static int get_tags(json_object *v, struct nib_strv *tags, struct nib_error *err)
{
	if (!json_object_is_type(v, json_type_array))
		return bad(err, "tags", "not an array of image references");
	if (json_object_array_length(v) > 32)
		return bad(err, "tags", "more than 32 references");
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		_cleanup_free_ char *name = xasprintf("tags[%zu]", i);
		_cleanup_free_ char *s = NULL;
		struct nib_error e = {0};
		if (get_string(json_object_array_get_idx(v, i), name, 512, &s, err) < 0)
			return -1;
		_cleanup_ref_ struct reg_ref r = {0};
		if (reg_ref_parse(s, &r, &e) < 0) {
			nib_err(err, NIB_ERR_USAGE, 0, "spec: %s: %s", name, e.msg);
			nib_err_clear(&e);
			return -1;
		}
		char *ref = reg_ref_string(&r);
		if (strchr(ref, '@')) {
			free(ref);
			return bad(err, name, "a digest reference cannot be pushed to");
		}
		nib_strv_push_take(tags, ref);
	}
	return 0;
}

static int get_git(json_object *v, struct bld_srv_spec *s, struct nib_error *err)
{
	if (!json_object_is_type(v, json_type_object))
		return bad(err, "git", "not an object {\"url\", \"ref\"}");
	json_object_object_foreach(v, key, val)
	{
		if (streq(key, "url")) {
			if (get_string(val, "git.url", 2048, &s->git_url, err) < 0)
				return -1;
			if (strchr(s->git_url, '#'))
				return bad(err, "git.url",
					   "a #fragment (give the reference as git.ref)");
		} else if (streq(key, "ref")) {
			if (get_string(val, "git.ref", 256, &s->git_ref, err) < 0)
				return -1;
			if (s->git_ref[0] == '-' || !charset(s->git_ref, "-_./", true))
				return bad(err, "git.ref", "not a branch, tag or commit name");
		} else {
			_cleanup_free_ char *name = xasprintf("git.%s", key);
			return bad(err, name, "unknown field");
		}
	}
	if (!s->git_url)
		return bad(err, "git.url", "missing");
	return 0;
}

static int field(const char *key, json_object *val, struct bld_srv_spec *s, struct nib_error *err)
{
	if (streq(key, "containerfile"))
		return get_string(val, key, 1024 * 1024 - 1, &s->containerfile, err);
	if (streq(key, "file")) {
		if (get_string(val, key, 1024, &s->file, err) < 0)
			return -1;
		if (s->file[0] == '/' || !nib_path_is_below(s->file))
			return bad(err, key, "must be a path inside the context");
		return 0;
	}
	if (streq(key, "buildArgs"))
		return get_map(val, key, true, &s->build_args, &s->n_build_args, err);
	if (streq(key, "labels"))
		return get_map(val, key, false, &s->labels, &s->n_labels, err);
	if (streq(key, "target")) {
		if (get_string(val, key, 128, &s->target, err) < 0)
			return -1;
		return charset(s->target, "-_.", true) ? 0 : bad(err, key, "not a stage name");
	}
	if (streq(key, "platform")) {
		if (get_string(val, key, 128, &s->platform, err) < 0)
			return -1;
		return charset(s->platform, "/_-.", true) ? 0
							  : bad(err, key, "not OS/ARCH[/VARIANT]");
	}
	if (streq(key, "timestamp")) {
		if (!json_object_is_type(val, json_type_int) || json_object_get_int64(val) < 0)
			return bad(err, key, "not a number of seconds since the epoch");
		s->timestamp = json_object_get_int64(val);
		return 0;
	}
	if (streq(key, "noCache")) {
		if (!json_object_is_type(val, json_type_boolean))
			return bad(err, key, "not true or false");
		s->no_cache = json_object_get_boolean(val);
		return 0;
	}
	if (streq(key, "tags"))
		return get_tags(val, &s->tags, err);
	if (streq(key, "git"))
		return get_git(val, s, err);
	if (streq(key, "contextUrl"))
		return get_string(val, key, 2048, &s->context_url, err);
	return bad(err, key, "unknown field");
}

int bld_srv_spec_parse(const char *json, size_t len, struct bld_srv_spec *out,
		       struct nib_error *err)
{
	_cleanup_(json_object_putp) json_object *root = NULL;
	struct json_tokener *tok;

	memset(out, 0, sizeof(*out));
	out->timestamp = -1;
	if (len > BLD_SRV_SPEC_MAX)
		return nib_err(err, NIB_ERR_USAGE, 0, "spec: larger than %d bytes",
			       BLD_SRV_SPEC_MAX);
	tok = json_tokener_new_ex(16);
	root = json_tokener_parse_ex(tok, json, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (root && end < len && strchr(" \t\r\n", json[end]))
		end++;
	if (!root || end != len) {
		return nib_err(err, NIB_ERR_USAGE, 0, "spec: malformed JSON at byte %zu: %s", end,
			       root ? "data after the object" : json_tokener_error_desc(je));
	}
	if (!json_object_is_type(root, json_type_object))
		return nib_err(err, NIB_ERR_USAGE, 0, "spec: not a JSON object");
	json_object_object_foreach(root, key, val)
	{
		if (field(key, val, out, err) < 0) {
			bld_srv_spec_free(out);
			return -1;
		}
	}
	int sources = !!out->git_url + !!out->context_url;
	if (sources > 1) {
		bld_srv_spec_free(out);
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "spec: git and contextUrl exclude each other");
	}
	if (out->containerfile && out->file) {
		bld_srv_spec_free(out);
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "spec: containerfile (inline) and file exclude each other");
	}
	return 0;
}

static void kv_free(struct bld_srv_kv *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

void bld_srv_spec_free(struct bld_srv_spec *s)
{
	free(s->containerfile);
	free(s->file);
	kv_free(s->build_args, s->n_build_args);
	kv_free(s->labels, s->n_labels);
	free(s->target);
	free(s->platform);
	nib_strv_free(&s->tags);
	free(s->git_url);
	free(s->git_ref);
	free(s->context_url);
	memset(s, 0, sizeof(*s));
	s->timestamp = -1;
}

static void put_str(json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

static void put_map(json_object *o, const char *k, const struct bld_srv_kv *v, size_t n)
{
	if (!n)
		return;
	json_object *m = json_object_new_object();
	for (size_t i = 0; i < n; i++)
		json_object_object_add(m, v[i].key, json_object_new_string(v[i].value));
	json_object_object_add(o, k, m);
}

char *bld_srv_spec_json(const struct bld_srv_spec *s)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();

	put_str(o, "containerfile", s->containerfile);
	put_str(o, "file", s->file);
	put_map(o, "buildArgs", s->build_args, s->n_build_args);
	put_map(o, "labels", s->labels, s->n_labels);
	put_str(o, "target", s->target);
	put_str(o, "platform", s->platform);
	if (s->timestamp >= 0)
		json_object_object_add(o, "timestamp", json_object_new_int64(s->timestamp));
	if (s->no_cache)
		json_object_object_add(o, "noCache", json_object_new_boolean(true));
	if (s->tags.len) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < s->tags.len; i++)
			json_object_array_add(a, json_object_new_string(s->tags.v[i]));
		json_object_object_add(o, "tags", a);
	}
	if (s->git_url) {
		json_object *g = json_object_new_object();
		put_str(g, "url", s->git_url);
		put_str(g, "ref", s->git_ref);
		json_object_object_add(o, "git", g);
	}
	put_str(o, "contextUrl", s->context_url);
	return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
}

bool bld_srv_url_allowed(const char *url, const struct nib_strv *hosts, struct nib_error *err)
{
	const char *p;

	if (nib_str_has_prefix(url, "https://"))
		p = url + 8;
	else
		return nib_err(err, NIB_ERR_USAGE, 0, "%s: only https URLs are fetched", url),
		       false;
	size_t n = strcspn(p, "/?#");
	_cleanup_free_ char *hostport = xstrndup(p, n);
	if (strchr(hostport, '@'))
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "a context URL must not carry credentials (user@host)"),
		       false;
	_cleanup_free_ char *host = xstrndup(hostport, strcspn(hostport, ":"));
	for (size_t i = 0; i < hosts->len; i++)
		if (strcasecmp(hosts->v[i], host) == 0)
			return true;
	nib_err(err, NIB_ERR_USAGE, 0,
		"host %s is not one contexts may be fetched from (nib serve --allow-host)", host);
	return false;
}
