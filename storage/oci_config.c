/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image config (image-spec config.md; Docker's image config has the same
 * fields plus ones nib does not keep): parse with validation, canonical
 * generation, copy.
 */
#define NIB_STORAGE_INTERNAL
#include <string.h>

#include "storage/store_internal.h"

static int parse_healthcheck(json_object *h, struct stg_healthcheck **out, struct nib_error *err)
{
	struct stg_healthcheck *hc = xcalloc(1, sizeof(*hc));
	const char *p = "config.Healthcheck";

	*out = hc;
	if (stg_j_strv(h, "Test", p, &hc->test, NULL, err) < 0 ||
	    stg_j_int64(h, "Interval", p, false, &hc->interval, err) < 0 ||
	    stg_j_int64(h, "Timeout", p, false, &hc->timeout, err) < 0 ||
	    stg_j_int64(h, "StartPeriod", p, false, &hc->start_period, err) < 0 ||
	    stg_j_int64(h, "StartInterval", p, false, &hc->start_interval, err) < 0 ||
	    stg_j_int64(h, "Retries", p, false, &hc->retries, err) < 0)
		return -1;
	if (hc->interval < 0 || hc->timeout < 0 || hc->start_period < 0 || hc->start_interval < 0 ||
	    hc->retries < 0)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: negative duration or count", p);
	return 0;
}

/* A list of at most `max_n` strings of `max_bytes` in all. */
static int strv_bounded(const struct nib_strv *sv, const char *name, size_t max_n, size_t max_bytes,
			struct nib_error *err)
{
	size_t total = 0;

	if (sv->len > max_n)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "config.%s: %zu entries, more than %zu",
			       name, sv->len, max_n);
	for (size_t i = 0; i < sv->len; i++)
		if ((total += strlen(sv->v[i])) > max_bytes)
			return nib_err(err, NIB_ERR_CORRUPT, 0, "config.%s: more than %zu bytes",
				       name, max_bytes);
	return 0;
}

static int parse_container_config(json_object *c, struct stg_container_config *cc,
				  struct nib_error *err)
{
	const char *p = "config";
	json_object *h = NULL;

	if (stg_j_str(c, "User", p, false, &cc->user, err) < 0 ||
	    stg_j_set(c, "ExposedPorts", p, &cc->exposed_ports, err) < 0 ||
	    stg_j_strv(c, "Env", p, &cc->env, NULL, err) < 0 ||
	    stg_j_strv(c, "Entrypoint", p, &cc->entrypoint, &cc->has_entrypoint, err) < 0 ||
	    stg_j_strv(c, "Cmd", p, &cc->cmd, &cc->has_cmd, err) < 0 ||
	    stg_j_set(c, "Volumes", p, &cc->volumes, err) < 0 ||
	    stg_j_str(c, "WorkingDir", p, false, &cc->working_dir, err) < 0 ||
	    stg_j_map(c, "Labels", p, &cc->labels, err) < 0 ||
	    stg_j_str(c, "StopSignal", p, false, &cc->stop_signal, err) < 0 ||
	    stg_j_bool(c, "ArgsEscaped", p, &cc->args_escaped, err) < 0 ||
	    stg_j_obj(c, "Healthcheck", p, &h, err) < 0 ||
	    stg_j_strv(c, "OnBuild", p, &cc->on_build, NULL, err) < 0 ||
	    stg_j_strv(c, "Shell", p, &cc->shell, NULL, err) < 0)
		return -1;
	/* a base image's lists are copied into every step (Env into every RUN's
	 * environment, OnBuild triggers parsed and run): bounded */
	if (strv_bounded(&cc->env, "Env", STG_CONFIG_ENV_MAX, STG_CONFIG_LIST_BYTES, err) < 0 ||
	    strv_bounded(&cc->on_build, "OnBuild", STG_CONFIG_ONBUILD_MAX, STG_CONFIG_LIST_BYTES,
			 err) < 0)
		return -1;
	if (cc->user && strlen(cc->user) > STG_CONFIG_USER_MAX)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "config.User: more than %d bytes",
			       STG_CONFIG_USER_MAX);
	for (size_t i = 0; i < cc->env.len; i++)
		if (!strchr(cc->env.v[i], '=') || cc->env.v[i][0] == '=')
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "config.Env[%zu]: '%s' is not KEY=VALUE", i, cc->env.v[i]);
	if (h && parse_healthcheck(h, &cc->healthcheck, err) < 0)
		return -1;
	return 0;
}

static int parse_history(json_object *o, struct stg_image_config *c, struct nib_error *err)
{
	json_object *a = NULL;
	size_t n;

	if (!json_object_object_get_ex(o, "history", &a) || !a)
		return 0;
	if (!json_object_is_type(a, json_type_array))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "history: must be an array");
	n = json_object_array_length(a);
	if (n > STG_MAX_LAYERS * 4)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "history: %zu entries, more than the limit",
			       n);
	c->history = xcalloc(n + 1, sizeof(*c->history));
	c->n_history = n;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		struct stg_history *h = &c->history[i];
		char p[32];
		snprintf(p, sizeof(p), "history[%zu]", i);
		if (!json_object_is_type(e, json_type_object))
			return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: must be an object", p);
		if (stg_j_str(e, "created", p, false, &h->created, err) < 0 ||
		    stg_j_str(e, "created_by", p, false, &h->created_by, err) < 0 ||
		    stg_j_str(e, "author", p, false, &h->author, err) < 0 ||
		    stg_j_str(e, "comment", p, false, &h->comment, err) < 0 ||
		    stg_j_bool(e, "empty_layer", p, &h->empty_layer, err) < 0)
			return -1;
	}
	return 0;
}

int stg_config_parse(const char *data, size_t len, struct stg_image_config **out,
		     struct nib_error *err)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_(stg_config_freep) struct stg_image_config *c = xcalloc(1, sizeof(*c));
	json_object *cc = NULL, *rootfs = NULL;
	_cleanup_free_ char *type = NULL;

	if (stg_json_parse(data, len, STG_CONFIG_MAX, STG_JSON_MAX_DEPTH, &o, err) < 0)
		return -1;
	if (!o || !json_object_is_type(o, json_type_object))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "image config is not a JSON object");
	if (stg_j_str(o, "created", "", false, &c->created, err) < 0 ||
	    stg_j_str(o, "author", "", false, &c->author, err) < 0 ||
	    stg_j_str(o, "architecture", "", true, &c->architecture, err) < 0 ||
	    stg_j_str(o, "os", "", true, &c->os, err) < 0 ||
	    stg_j_str(o, "os.version", "", false, &c->os_version, err) < 0 ||
	    stg_j_strv(o, "os.features", "", &c->os_features, NULL, err) < 0 ||
	    stg_j_str(o, "variant", "", false, &c->variant, err) < 0 ||
	    stg_j_obj(o, "config", "", &cc, err) < 0 ||
	    stg_j_obj(o, "rootfs", "", &rootfs, err) < 0)
		return -1;
	if (cc && parse_container_config(cc, &c->config, err) < 0)
		return -1;
	if (!rootfs)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "rootfs: required field missing");
	if (stg_j_str(rootfs, "type", "rootfs", true, &type, err) < 0)
		return -1;
	if (!streq(type, "layers"))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "rootfs.type: '%s' is not \"layers\"",
			       type);
	if (!json_object_object_get_ex(rootfs, "diff_ids", NULL))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "rootfs.diff_ids: required field missing");
	if (stg_j_strv(rootfs, "diff_ids", "rootfs", &c->diff_ids, NULL, err) < 0)
		return -1;
	if (c->diff_ids.len > STG_MAX_LAYERS)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "rootfs.diff_ids: %zu layers, more than the limit of %d",
			       c->diff_ids.len, STG_MAX_LAYERS);
	for (size_t i = 0; i < c->diff_ids.len; i++)
		if (!nib_digest_valid(c->diff_ids.v[i]))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "rootfs.diff_ids[%zu]: invalid digest '%s'", i,
				       c->diff_ids.v[i]);
	if (parse_history(o, c, err) < 0)
		return -1;
	*out = steal_pointer(&c);
	return 0;
}

static json_object *healthcheck_json(const struct stg_healthcheck *hc)
{
	json_object *h = json_object_new_object();
	if (hc->test.len)
		stg_j_add_strv(h, "Test", &hc->test);
	if (hc->interval)
		json_object_object_add(h, "Interval", json_object_new_int64(hc->interval));
	if (hc->timeout)
		json_object_object_add(h, "Timeout", json_object_new_int64(hc->timeout));
	if (hc->start_period)
		json_object_object_add(h, "StartPeriod", json_object_new_int64(hc->start_period));
	if (hc->start_interval)
		json_object_object_add(h, "StartInterval",
				       json_object_new_int64(hc->start_interval));
	if (hc->retries)
		json_object_object_add(h, "Retries", json_object_new_int64(hc->retries));
	return h;
}

static json_object *strv_array(const struct nib_strv *sv)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < sv->len; i++)
		json_object_array_add(a, json_object_new_string(sv->v[i]));
	return a;
}

static json_object *container_config_json(const struct stg_container_config *cc)
{
	json_object *c = json_object_new_object();
	stg_j_add_str(c, "User", cc->user);
	stg_j_add_set(c, "ExposedPorts", &cc->exposed_ports);
	stg_j_add_strv(c, "Env", &cc->env);
	/* present-but-empty Entrypoint/Cmd differ from absent ones (an
	 * explicit `ENTRYPOINT []` resets the base image's) */
	if (cc->has_entrypoint || cc->entrypoint.len)
		json_object_object_add(c, "Entrypoint", strv_array(&cc->entrypoint));
	if (cc->has_cmd || cc->cmd.len)
		json_object_object_add(c, "Cmd", strv_array(&cc->cmd));
	stg_j_add_set(c, "Volumes", &cc->volumes);
	if (cc->working_dir && *cc->working_dir)
		stg_j_add_str(c, "WorkingDir", cc->working_dir);
	stg_j_add_map(c, "Labels", &cc->labels);
	if (cc->stop_signal && *cc->stop_signal)
		stg_j_add_str(c, "StopSignal", cc->stop_signal);
	if (cc->args_escaped)
		json_object_object_add(c, "ArgsEscaped", json_object_new_boolean(1));
	if (cc->healthcheck)
		json_object_object_add(c, "Healthcheck", healthcheck_json(cc->healthcheck));
	stg_j_add_strv(c, "OnBuild", &cc->on_build);
	stg_j_add_strv(c, "Shell", &cc->shell);
	return c;
}

void stg_config_generate(const struct stg_image_config *c, struct nib_buf *out)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *rootfs = json_object_new_object();

	stg_j_add_str(o, "created", c->created);
	stg_j_add_str(o, "author", c->author);
	stg_j_add_str(o, "architecture", c->architecture ? c->architecture : "");
	stg_j_add_str(o, "os", c->os ? c->os : "");
	stg_j_add_str(o, "os.version", c->os_version);
	stg_j_add_strv(o, "os.features", &c->os_features);
	stg_j_add_str(o, "variant", c->variant);
	json_object_object_add(o, "config", container_config_json(&c->config));
	json_object_object_add(rootfs, "type", json_object_new_string("layers"));
	json_object_object_add(rootfs, "diff_ids", strv_array(&c->diff_ids));
	json_object_object_add(o, "rootfs", rootfs);
	if (c->n_history) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < c->n_history; i++) {
			const struct stg_history *h = &c->history[i];
			json_object *e = json_object_new_object();
			stg_j_add_str(e, "created", h->created);
			stg_j_add_str(e, "created_by", h->created_by);
			stg_j_add_str(e, "author", h->author);
			stg_j_add_str(e, "comment", h->comment);
			if (h->empty_layer)
				json_object_object_add(e, "empty_layer",
						       json_object_new_boolean(1));
			json_object_array_add(a, e);
		}
		json_object_object_add(o, "history", a);
	}
	stg_json_canonical(o, out);
}

static void container_config_clear(struct stg_container_config *cc)
{
	free(cc->user);
	nib_strv_free(&cc->exposed_ports);
	nib_strv_free(&cc->env);
	nib_strv_free(&cc->entrypoint);
	nib_strv_free(&cc->cmd);
	nib_strv_free(&cc->volumes);
	free(cc->working_dir);
	stg_map_free(&cc->labels);
	free(cc->stop_signal);
	if (cc->healthcheck) {
		nib_strv_free(&cc->healthcheck->test);
		free(cc->healthcheck);
	}
	nib_strv_free(&cc->on_build);
	nib_strv_free(&cc->shell);
}

void stg_config_free(struct stg_image_config *c)
{
	if (!c)
		return;
	free(c->created);
	free(c->author);
	free(c->architecture);
	free(c->os);
	free(c->os_version);
	nib_strv_free(&c->os_features);
	free(c->variant);
	container_config_clear(&c->config);
	nib_strv_free(&c->diff_ids);
	for (size_t i = 0; i < c->n_history; i++) {
		free(c->history[i].created);
		free(c->history[i].created_by);
		free(c->history[i].author);
		free(c->history[i].comment);
	}
	free(c->history);
	free(c);
}

static char *dupn(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void strv_copy(struct nib_strv *dst, const struct nib_strv *src)
{
	for (size_t i = 0; i < src->len; i++)
		nib_strv_push(dst, src->v[i]);
}

struct stg_image_config *stg_config_dup(const struct stg_image_config *c)
{
	struct stg_image_config *n = xcalloc(1, sizeof(*n));
	const struct stg_container_config *cc = &c->config;
	struct stg_container_config *nc = &n->config;

	n->created = dupn(c->created);
	n->author = dupn(c->author);
	n->architecture = dupn(c->architecture);
	n->os = dupn(c->os);
	n->os_version = dupn(c->os_version);
	strv_copy(&n->os_features, &c->os_features);
	n->variant = dupn(c->variant);
	nc->user = dupn(cc->user);
	strv_copy(&nc->exposed_ports, &cc->exposed_ports);
	strv_copy(&nc->env, &cc->env);
	strv_copy(&nc->entrypoint, &cc->entrypoint);
	nc->has_entrypoint = cc->has_entrypoint;
	strv_copy(&nc->cmd, &cc->cmd);
	nc->has_cmd = cc->has_cmd;
	strv_copy(&nc->volumes, &cc->volumes);
	nc->working_dir = dupn(cc->working_dir);
	stg_map_copy(&nc->labels, &cc->labels);
	nc->stop_signal = dupn(cc->stop_signal);
	nc->args_escaped = cc->args_escaped;
	if (cc->healthcheck) {
		nc->healthcheck = xmemdup(cc->healthcheck, sizeof(*cc->healthcheck));
		memset(&nc->healthcheck->test, 0, sizeof(nc->healthcheck->test));
		strv_copy(&nc->healthcheck->test, &cc->healthcheck->test);
	}
	strv_copy(&nc->on_build, &cc->on_build);
	strv_copy(&nc->shell, &cc->shell);
	strv_copy(&n->diff_ids, &c->diff_ids);
	n->history = xcalloc(c->n_history + 1, sizeof(*n->history));
	n->n_history = c->n_history;
	for (size_t i = 0; i < c->n_history; i++) {
		n->history[i].created = dupn(c->history[i].created);
		n->history[i].created_by = dupn(c->history[i].created_by);
		n->history[i].author = dupn(c->history[i].author);
		n->history[i].comment = dupn(c->history[i].comment);
		n->history[i].empty_layer = c->history[i].empty_layer;
	}
	return n;
}
