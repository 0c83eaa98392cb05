/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One step of a stage, from its typed plan (containerfile's struct
 * cf_step): RUN, COPY, ADD and WORKDIR go to their families; the metadata
 * instructions edit the image config here and add a history entry without
 * a layer (BuildKit's history text: the instruction after expansion).
 */
#define BLD_BUILD_INTERNAL
#include <string.h>

#include "builder/build_internal.h"

/* Set "key=value" in a "K=V" list, in place when the key is there. */
static void strv_setkv(struct nib_strv *sv, const char *key, const char *value)
{
	size_t n = strlen(key);
	for (size_t i = 0; i < sv->len; i++)
		if (strncmp(sv->v[i], key, n) == 0 && sv->v[i][n] == '=') {
			free(sv->v[i]);
			sv->v[i] = xasprintf("%s=%s", key, value);
			return;
		}
	nib_strv_pushf(sv, "%s=%s", key, value);
}

/* CMD and ENTRYPOINT: exec form as written, shell form through SHELL. */
static void shell_wrap(struct bld_stage *s, const struct cf_step *step, struct nib_strv *out)
{
	if (step->in->exec_form) {
		for (size_t i = 0; i < step->words.len; i++)
			nib_strv_push(out, step->words.v[i]);
		return;
	}
	if (s->cfg->config.shell.len) {
		for (size_t i = 0; i < s->cfg->config.shell.len; i++)
			nib_strv_push(out, s->cfg->config.shell.v[i]);
	} else {
		nib_strv_push(out, "/bin/sh");
		nib_strv_push(out, "-c");
	}
	_cleanup_free_ char *j = nib_strv_join(&step->words, " ");
	nib_strv_push(out, j);
}

static void healthcheck(struct bld_stage *s, const struct cf_healthcheck *hc)
{
	struct stg_container_config *c = &s->cfg->config;
	struct stg_healthcheck *h = xcalloc(1, sizeof(*h));

	if (c->healthcheck) {
		nib_strv_free(&c->healthcheck->test);
		free(c->healthcheck);
	}
	c->healthcheck = h;
	for (size_t i = 0; i < hc->test.len; i++)
		nib_strv_push(&h->test, hc->test.v[i]);
	if (hc->none)
		return;
	h->interval = hc->interval;
	h->timeout = hc->timeout;
	h->start_period = hc->start_period;
	h->start_interval = hc->start_interval;
	h->retries = hc->retries;
}

static void set_add_sorted(struct nib_strv *sv, const char *s)
{
	if (nib_strv_find(sv, s) >= 0)
		return;
	nib_strv_push(sv, s);
	nib_strv_sort(sv);
}

/* Docker keeps an absolute WORKDIR as written: its trailing slash stays
 * here too ("/app/" in the config), the rest is cleaned; a relative one is
 * joined to the current one and cleaned. */
char *bld_workdir_join(const char *cur, const char *w)
{
	if (w[0] == '/') {
		char *c = nib_path_clean(w);
		size_t n = strlen(w);
		if (n > 1 && w[n - 1] == '/' && !streq(c, "/")) {
			char *t = xasprintf("%s/", c);
			free(c);
			return t;
		}
		return c;
	}
	_cleanup_free_ char *j = nib_path_join(cur && *cur ? cur : "/", w);
	return nib_path_clean(j);
}

/* BuildKit's history text: the instruction after expansion. */
static char *history_text(struct bld_stage *s, const struct cf_step *step)
{
	const struct cf_instr *in = step->in;
	struct nib_buf by = {0};

	nib_buf_printf(&by, "%s ", cf_kind_name(in->kind));
	if (in->kind == CF_ENV || in->kind == CF_LABEL) {
		for (size_t i = 0; i < step->n_kvs; i++)
			nib_buf_printf(&by, "%s%s=%s", i ? " " : "", step->kvs[i].key,
				       step->kvs[i].value ? step->kvs[i].value : "");
	} else if (in->kind == CF_CMD || in->kind == CF_ENTRYPOINT) {
		_cleanup_strv_ struct nib_strv v = {0};
		shell_wrap(s, step, &v);
		nib_buf_puts(&by, "[");
		for (size_t i = 0; i < v.len; i++) {
			if (i)
				nib_buf_puts(&by, " ");
			nib_buf_json_string(&by, v.v[i]);
		}
		nib_buf_puts(&by, "]");
	} else if (in->kind == CF_ONBUILD) {
		nib_buf_puts(&by, in->args.len ? in->args.v[0] : "");
	} else {
		_cleanup_free_ char *j = nib_strv_join(&step->words, " ");
		nib_buf_puts(&by, j ? j : "");
	}
	return nib_buf_steal(&by);
}

static void metadata(struct bld_stage *s, const struct cf_step *step)
{
	struct stg_container_config *c = &s->cfg->config;
	const struct nib_strv *w = &step->words;
	_cleanup_free_ char *by = history_text(s, step);

	switch (step->in->kind) {
	case CF_ENV:
		for (size_t i = 0; i < step->n_kvs; i++)
			strv_setkv(&c->env, step->kvs[i].key,
				   step->kvs[i].value ? step->kvs[i].value : "");
		break;
	case CF_LABEL:
		for (size_t i = 0; i < step->n_kvs; i++)
			stg_map_set(&c->labels, step->kvs[i].key,
				    step->kvs[i].value ? step->kvs[i].value : "");
		break;
	case CF_EXPOSE:
		for (size_t i = 0; i < step->ports.len; i++)
			set_add_sorted(&c->exposed_ports, step->ports.v[i]);
		break;
	case CF_USER:
		free(c->user);
		c->user = xstrdup(w->len ? w->v[0] : "");
		break;
	case CF_VOLUME:
		for (size_t i = 0; i < w->len; i++)
			if (*w->v[i])
				set_add_sorted(&c->volumes, w->v[i]);
		break;
	case CF_ENTRYPOINT:
		nib_strv_free(&c->entrypoint);
		shell_wrap(s, step, &c->entrypoint);
		c->has_entrypoint = true;
		/* Docker: a new ENTRYPOINT clears a CMD inherited from the base */
		if (!s->cmd_set) {
			nib_strv_free(&c->cmd);
			c->has_cmd = false;
		}
		break;
	case CF_CMD:
		nib_strv_free(&c->cmd);
		shell_wrap(s, step, &c->cmd);
		c->has_cmd = true;
		s->cmd_set = true;
		break;
	case CF_SHELL:
		nib_strv_free(&c->shell);
		for (size_t i = 0; i < w->len; i++)
			nib_strv_push(&c->shell, w->v[i]);
		break;
	case CF_STOPSIGNAL:
		free(c->stop_signal);
		c->stop_signal = xstrdup(w->len ? w->v[0] : "");
		break;
	case CF_HEALTHCHECK:
		healthcheck(s, &step->health);
		break;
	case CF_MAINTAINER:
		free(s->cfg->author);
		s->cfg->author = nib_strv_join(w, " ");
		break;
	case CF_ONBUILD:
		nib_strv_push(&c->on_build, step->in->args.len ? step->in->args.v[0] : "");
		break;
	default:
		break;
	}
	bld_meta_commit(s, by);
}

int bld_step_exec(struct bld_stage *s, const struct cf_step *step, struct nib_error *err)
{
	switch (step->in->kind) {
	case CF_ARG:
		/* planned already: build args and global defaults applied */
		for (size_t i = 0; i < step->n_kvs; i++)
			if (step->kvs[i].value)
				strv_setkv(&s->args, step->kvs[i].key, step->kvs[i].value);
		return 0;
	case CF_RUN:
		return bld_step_run(s, step, err);
	case CF_COPY:
	case CF_ADD:
		return bld_step_copy(s, step, err);
	case CF_WORKDIR:
		return bld_step_workdir(s, step, err);
	default:
		metadata(s, step);
		return 0;
	}
}
