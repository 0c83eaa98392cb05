/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `nib build`: parse and plan the Containerfile, execute the stages the
 * target needs (each after the stages it names), write the image (config,
 * manifest, tags) and the requested outputs.
 */
#define BLD_BUILD_INTERNAL
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "builder/build_internal.h"
#include "builder/builder.h"
#include "builder/progress.h"
#include "registry/registry.h"

void bld_build_opts_init(struct bld_build_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->layers = true;
	o->timestamp = -1;
	o->jobs = 1;
	o->reg = (struct reg_options){.tls_verify = -1, .retries = -1};
	o->idmap = BLD_IDMAP_AUTO;
	o->network = BLD_NET_HOST;
	o->compression = STG_COMPRESS_GZIP;
	o->http_proxy = true;
}

struct bld_etc_opts bld_build_etc(const struct bld_build_opts *o)
{
	return (struct bld_etc_opts){.add_hosts = o->add_hosts.v,
				     .dns = o->dns.v,
				     .dns_search = o->dns_search.v,
				     .dns_options = o->dns_options.v,
				     .no_hosts = o->no_hosts};
}

void bld_build_opts_free(struct bld_build_opts *o)
{
	nib_strv_free(&o->tags);
	nib_strv_free(&o->build_args);
	nib_strv_free(&o->labels);
	nib_strv_free(&o->annotations);
	nib_strv_free(&o->cache_from);
	nib_strv_free(&o->env);
	nib_strv_free(&o->unsetenv);
	nib_strv_free(&o->os_features);
	nib_strv_free(&o->cap_add);
	nib_strv_free(&o->cap_drop);
	nib_strv_free(&o->add_hosts);
	nib_strv_free(&o->dns);
	nib_strv_free(&o->dns_search);
	nib_strv_free(&o->dns_options);
	bld_security_free(&o->security);
	for (size_t i = 0; i < o->n_outputs; i++)
		free(o->outputs[i].dest);
	free(o->outputs);
	for (size_t i = 0; i < o->n_secrets; i++) {
		free(o->secrets[i].id);
		free(o->secrets[i].src);
		free(o->secrets[i].env);
	}
	free(o->secrets);
	for (size_t i = 0; i < o->n_ssh; i++) {
		free(o->ssh[i].id);
		nib_strv_free(&o->ssh[i].paths);
	}
	free(o->ssh);
	for (size_t i = 0; i < o->n_volumes; i++) {
		free(o->volumes[i].src);
		free(o->volumes[i].dst);
	}
	free(o->volumes);
	nib_strv_free(&o->build_contexts);
	memset(o, 0, sizeof(*o));
}

/* ---- bases ------------------------------------------------------------------ */

static void platform_split(const char *platform, char **os, char **arch, char **variant)
{
	const char *hos, *harch, *hvar;

	stg_platform_host(&hos, &harch, &hvar);
	*os = xstrdup(hos);
	*arch = xstrdup(harch);
	*variant = hvar ? xstrdup(hvar) : NULL;
	if (!platform || !*platform)
		return;
	_cleanup_free_ char *p = xstrdup(platform);
	char *save = NULL, *a = strtok_r(p, "/", &save), *b = strtok_r(NULL, "/", &save),
	     *c = strtok_r(NULL, "/", &save);
	if (a) {
		free(*os);
		*os = xstrdup(a);
	}
	if (b) {
		free(*arch);
		*arch = xstrdup(b);
		free(*variant);
		*variant = c ? xstrdup(c) : NULL;
	}
}

/* Blob progress of a push or a pull: the live display's bar, or with
 * --progress json events naming the tag being pushed (b->push_ref) or the
 * image being pulled (b->pull_ref). */
static void transfer_progress(void *data, const char *event, const char *digest, int64_t done,
			      int64_t total)
{
	const struct bld_build *b = data;
	const char *ref = b->push_ref ? b->push_ref : b->pull_ref;
	_cleanup_buf_ struct nib_buf f = {0};

	if (b->silent || !ref)
		return;
	bld_tty_transfer(digest, streq(event, "progress") ? done : total, total);
	if (nib_log_get_event_format() != NIB_LOG_JSON)
		return;
	nib_buf_puts(&f, "\"ref\":");
	nib_buf_json_string(&f, ref);
	nib_buf_printf(&f, ",\"state\":\"%s\",\"digest\":\"%s\",\"done\":%lld,\"total\":%lld",
		       event, digest, (long long)done, (long long)total);
	nib_log_event(b->push_ref ? "push_progress" : "pull_progress", f.data, NULL);
}

/* A client for `platform` (NULL: the build's --platform). */
static int client_new(struct bld_build *b, const char *platform, struct reg_client **out,
		      struct nib_error *err)
{
	struct reg_options ro = b->o->reg;

	ro.platform = platform ? platform : b->o->platform;
	ro.progress_fn = transfer_progress;
	ro.progress_data = b;
	return reg_client_new(&ro, out, err);
}

int bld_build_client(struct bld_build *b, struct reg_client **out, struct nib_error *err)
{
	if (!b->rc && client_new(b, NULL, &b->rc, err) < 0)
		return -1;
	*out = b->rc;
	return 0;
}

static int pull_image(struct bld_build *b, const char *name, const char *platform,
		      struct nib_error *err)
{
	_cleanup_(reg_client_freep) struct reg_client *own = NULL;
	struct reg_client *rc;
	_cleanup_ref_ struct reg_ref ref = {0};
	struct reg_image img = {0};

	/* a FROM --platform of its own needs a client of its own (the
	 * client resolves indexes for one platform) */
	if (platform && !(b->o->platform && streq(platform, b->o->platform))) {
		if (client_new(b, platform, &own, err) < 0)
			return -1;
		rc = own;
	} else if (bld_build_client(b, &rc, err) < 0) {
		return -1;
	}
	if (reg_ref_resolve(reg_client_conf(rc), name, &ref, err) < 0)
		return -1;
	/* the live display shows the pull's bar under the FROM step */
	if (!b->o->quiet && nib_log_get_event_format() != NIB_LOG_JSON && !bld_tty_on()) {
		_cleanup_free_ char *s = reg_ref_string(&ref);
		printf("Pulling %s\n", s);
		fflush(stdout);
	}
	b->pull_ref = name;
	int r = reg_image_pull(rc, b->st, &ref, &img, err);
	b->pull_ref = NULL;
	if (r < 0)
		return -1;
	reg_image_clear(&img);
	return 0;
}

/* The image `name` for `platform` (NULL: the host's, only a default unless
 * `asked`): read from its transport, or from the store, pulled per --pull
 * (also when the stored image is for another platform). */
static int base_image(struct bld_build *b, const char *name, const char *platform, bool asked,
		      struct stg_image **out, struct nib_error *err)
{
	_cleanup_(stg_platform_clear) struct stg_platform want = {0};
	struct nib_error e = {0};
	/* a --build-context of that name stands for its image */
	_cleanup_free_ char *named = bld_named_image(b->o, name, err);
	if (!named)
		return -1;
	name = named;
	int kind = bld_transport_kind(name, err);

	if (kind < 0 || bld_platform_want(platform, &want, err) < 0)
		return -1;
	if (kind != BLD_TRANSPORT_DOCKER) {
		if (bld_transport_pull(b->st, name, &want, out, NULL, err) < 0)
			return -1;
		return bld_platform_check(*out, &want, asked, name, err);
	}
	if (nib_str_has_prefix(name, "docker://"))
		name += 9;
	if (b->o->pull != BLD_PULL_ALWAYS && bld_image_find(b->st, name, out, &e) == 0) {
		/* a multi-platform entry: its image for the platform */
		if (stg_media_type_is_index((*out)->entry.media_type)) {
			_cleanup_free_ char *d = xstrdup((*out)->entry.digest);
			stg_image_free(*out);
			*out = NULL;
			/* a list in the store is not pulled again: no image for
			 * the platform in it is the answer */
			if (stg_image_lookup_platform(b->st, d, &want, out, err) < 0)
				return nib_err_wrap(err, "%s", name);
			return 0;
		} else if (!asked || bld_platform_check(*out, &want, true, name, NULL) == 0) {
			return 0;
		} else {
			stg_image_free(*out);
			*out = NULL;
			nib_err(&e, NIB_ERR_NOT_FOUND, 0, "another platform");
		}
	}
	if (e.kind != NIB_ERR_NONE && e.kind != NIB_ERR_NOT_FOUND) {
		nib_err_move(err, &e);
		return -1;
	}
	nib_err_clear(&e);
	if (b->o->pull == BLD_PULL_NEVER)
		return nib_err(err, NIB_ERR_NOT_FOUND, 0,
			       "image %s is not in the store%s and --pull=never", name,
			       asked ? " for that platform" : "");
	if (pull_image(b, name, platform, err) < 0 || bld_image_find(b->st, name, out, err) < 0)
		return -1;
	return bld_platform_check(*out, &want, asked, name, err);
}

static int stage_from_image(struct bld_stage *s, struct stg_image *img, struct nib_error *err)
{
	const struct stg_manifest *m = img->manifest;

	if (m->n_layers != img->config->diff_ids.len)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "image %s: %zu layers but %zu diff IDs in its config", img->id,
			       m->n_layers, img->config->diff_ids.len);
	s->cfg = stg_config_dup(img->config);
	nib_strv_free(&s->cfg->diff_ids);
	for (size_t i = 0; i < m->n_layers; i++) {
		struct bld_layer l = {.size = m->layers[i].size};
		snprintf(l.digest, sizeof(l.digest), "%s", m->layers[i].digest);
		snprintf(l.diff_id, sizeof(l.diff_id), "%s", img->config->diff_ids.v[i]);
		/* stored as OCI media types (Docker ones are converted on output) */
		struct stg_layer_out lo = {.size = l.size};
		memcpy(lo.digest, l.digest, sizeof(lo.digest));
		memcpy(lo.diff_id, l.diff_id, sizeof(lo.diff_id));
		lo.media_type = m->layers[i].media_type;
		bld_stage_add_layer(s, &lo);
	}
	snprintf(s->key, sizeof(s->key), "%s", img->id);
	free(s->last_created);
	s->last_created = img->config->created ? xstrdup(img->config->created) : NULL;
	return 0;
}

static int stage_from(struct bld_stage *s, struct nib_error *err)
{
	struct bld_build *b = s->b;
	const struct cf_stage *cs = s->cs;
	const char *platform = cs->platform && *cs->platform ? cs->platform : b->o->platform;

	if (cs->base_stage >= 0) {
		/* built before this one: the graph's edge */
		struct bld_stage *p = &b->stages[cs->base_stage];
		s->cfg = stg_config_dup(p->cfg);
		nib_strv_free(&s->cfg->diff_ids);
		for (size_t i = 0; i < p->n_layers; i++) {
			struct stg_layer_out lo = {.size = p->layers[i].size};
			memcpy(lo.digest, p->layers[i].digest, sizeof(lo.digest));
			memcpy(lo.diff_id, p->layers[i].diff_id, sizeof(lo.diff_id));
			lo.media_type = p->layers[i].media_type;
			bld_stage_add_layer(s, &lo);
		}
		memcpy(s->key, p->key, sizeof(s->key));
		s->last_created = p->last_created ? xstrdup(p->last_created) : NULL;
		return 0;
	}
	if (strcasecmp(cs->base, "scratch") == 0) {
		_cleanup_free_ char *os = NULL, *arch = NULL, *variant = NULL;
		platform_split(platform, &os, &arch, &variant);
		s->cfg = xcalloc(1, sizeof(*s->cfg));
		s->cfg->os = steal_pointer(&os);
		s->cfg->architecture = steal_pointer(&arch);
		s->cfg->variant = steal_pointer(&variant);
		bld_key_scratch(s->cfg->architecture, s->key);
		return 0;
	}
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	if (base_image(b, cs->base, platform, platform != NULL, &img, err) < 0)
		return nib_err_wrap(err, "%s:%d: FROM %s", b->f->path, cs->from->line, cs->base);
	return stage_from_image(s, img, err);
}

/* BuildKit: an image without PATH gets the default one in its config. */
static void default_path(struct stg_image_config *c)
{
	if (!nib_env_get(c->config.env.v, "PATH"))
		nib_strv_push(&c->config.env, "PATH=" NIB_DEFAULT_PATH);
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

bool bld_interrupted(void)
{
	return interrupted != 0;
}

/* The stage's steps with its base's ENV and ONBUILD triggers (which run
 * right after FROM, Docker) and the steps themselves, in order. */
static int run_steps(struct bld_build *b, struct bld_stage *s, struct nib_error *err)
{
	struct nib_strv triggers = s->cfg->config.on_build;
	const struct cf_stage_steps *ss = &s->steps;
	int ret;

	memset(&s->cfg->config.on_build, 0, sizeof(s->cfg->config.on_build));
	ret = cf_stage_bind(b->f, s->cs->index, s->cfg->config.env.v, triggers.v, &s->steps, err);
	nib_strv_free(&triggers);
	if (ret < 0)
		return -1;
	for (size_t i = 0; i < ss->n; i++) {
		const struct cf_step *step = &ss->v[i];
		bool trigger = i < ss->n_triggers;
		if (bld_interrupted())
			return nib_err(err, NIB_ERR_RUN, EINTR, "%s:%d: interrupted", b->f->path,
				       step->in->line);
		if (!trigger) {
			b->step++;
			bld_log_step(b, s, step->in);
		}
		if (bld_step_exec(s, step, err) < 0) {
			if (!trigger)
				bld_log_step_failed(b, step->in, err);
			/* every error names its step (a full disk while the
			 * layer is written, say) */
			return nib_err_wrap(err, "%s:%d", b->f->path, step->in->line);
		}
		if (!trigger && step->in->kind != CF_RUN && step->in->kind != CF_COPY &&
		    step->in->kind != CF_ADD && step->in->kind != CF_WORKDIR)
			bld_log_step_end(b, step->in, 0, false, NULL);
	}
	return 0;
}

/* The stage scheduler: stage `index` after the stages it needs (its FROM
 * stage, COPY --from, RUN --mount from=: the plan's graph), each built
 * once. */
static int build_stage(struct bld_build *b, int index, struct nib_error *err)
{
	struct bld_stage *s = &b->stages[index];
	const struct cf_stage *cs = s->cs;
	int ret;

	if (s->done)
		return 0;
	for (size_t i = 0; i < cs->n_deps; i++)
		if (build_stage(b, cs->deps[i], err) < 0)
			return -1;
	if (bld_interrupted())
		return nib_err(err, NIB_ERR_RUN, EINTR, "interrupted");
	b->step++;
	bld_log_step(b, s, cs->from);
	double t0 = bld_now();
	if (stage_from(s, err) < 0) {
		bld_log_step_failed(b, cs->from, err);
		return -1;
	}
	default_path(s->cfg);
	bld_log_step_end(b, cs->from, bld_now() - t0, false, NULL);
	ret = run_steps(b, s, err);
	cf_stage_steps_free(&s->steps);
	if (ret < 0)
		return -1;
	s->done = true;
	return 0;
}

/*
 * --jobs N: the stages the target needs, but the target itself, are built
 * in waves of independent stages (each stage's dependencies in an earlier
 * wave), up to N at once, each in a child process writing the shared build
 * cache; the build then walks the stages in order and finds every step of
 * them cached. A child that fails is not reported: the sequential walk runs
 * that stage again and reports the error with its step. Needs the cache
 * (not with --no-cache or --layers=false, where stages run one by one).
 */
static void prebuild_parallel(struct bld_build *b)
{
	size_t n = b->f->n_stages;
	_cleanup_free_ char *done = xcalloc(n + 1, 1);
	_cleanup_free_ int *ready = xcalloc(n + 1, sizeof(int));
	_cleanup_free_ pid_t *pids = xcalloc(n + 1, sizeof(pid_t));

	if (b->o->jobs <= 1 || !b->o->layers || b->o->no_cache)
		return;
	for (;;) {
		size_t nr = 0;
		for (size_t i = 0; i < n; i++) {
			const struct cf_stage *cs = &b->f->stages[i];
			bool ok = cs->needed && (int)i != b->f->target && !done[i];
			for (size_t d = 0; ok && d < cs->n_deps; d++)
				ok = done[cs->deps[d]];
			if (ok)
				ready[nr++] = (int)i;
		}
		if (nr < 2) /* nothing to run beside another: the walk does it */
			return;
		for (size_t k = 0; k < nr; k += (size_t)b->o->jobs) {
			size_t m = MIN(nr - k, (size_t)b->o->jobs);
			fflush(stdout);
			fflush(stderr);
			for (size_t j = 0; j < m; j++) {
				pids[j] = fork();
				if (pids[j] == 0) {
					struct nib_error e = {0};
					int r;
					b->silent = true;
					r = build_stage(b, ready[k + j], &e);
					for (size_t t = 0; t < b->tmp_dirs.len; t++)
						nib_rm_rf_at(AT_FDCWD, b->tmp_dirs.v[t], NULL);
					_exit(r < 0 ? 1 : 0);
				}
			}
			for (size_t j = 0; j < m; j++)
				if (pids[j] > 0)
					while (waitpid(pids[j], NULL, 0) < 0 && errno == EINTR)
						;
		}
		for (size_t j = 0; j < nr; j++)
			done[ready[j]] = 1;
		if (bld_interrupted())
			return;
	}
}

int bld_stage_rootfs(struct bld_build *b, int index, char **dir, struct nib_error *err)
{
	if (!b->stages[index].done)
		return nib_err(err, NIB_ERR_USAGE, 0, "stage %d is used before it is built", index);
	return bld_stage_materialise(&b->stages[index], dir, err);
}

int bld_image_rootfs(struct bld_build *b, const char *name, char **dir, struct nib_error *err)
{
	/* a throwaway stage over the image */
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	struct bld_stage tmp = {.b = b};
	int ret;

	if (base_image(b, name, b->o->platform, b->o->platform != NULL, &img, err) < 0)
		return -1;
	ret = stage_from_image(&tmp, img, err);
	if (ret == 0)
		ret = bld_stage_materialise(&tmp, dir, err);
	for (size_t i = 0; i < tmp.n_layers; i++)
		free(tmp.layers[i].media_type);
	free(tmp.layers);
	free(tmp.rootfs_dir);
	free(tmp.last_created);
	stg_config_free(tmp.cfg);
	return ret;
}

/* ---- the image ------------------------------------------------------------------ */

/* Remove every "K=..." from an environment list. */
static void env_remove(struct nib_strv *env, const char *k)
{
	size_t n = strlen(k), j = 0;

	for (size_t i = 0; i < env->len; i++) {
		if (strncmp(env->v[i], k, n) == 0 && env->v[i][n] == '=')
			free(env->v[i]);
		else
			env->v[j++] = env->v[i];
	}
	env->len = j;
	if (env->v)
		env->v[j] = NULL;
}

static int write_image(struct bld_build *b, struct bld_stage *s, struct bld_build_result *res,
		       struct nib_error *err)
{
	struct stg_image_config *c = s->cfg;
	_cleanup_buf_ struct nib_buf cj = {0}, mj = {0};
	struct stg_manifest m = {0};
	char cdigest[NIB_DIGEST_LEN + 1];
	_cleanup_strv_ struct nib_strv refs = {0};
	int ret = -1;

	for (size_t i = 0; i < b->o->labels.len; i++) {
		const char *eq = strchr(b->o->labels.v[i], '=');
		_cleanup_free_ char *k =
		    eq ? xstrndup(b->o->labels.v[i], (size_t)(eq - b->o->labels.v[i]))
		       : xstrdup(b->o->labels.v[i]);
		stg_map_set(&c->config.labels, k, eq ? eq + 1 : "");
	}
	/* buildah: --env replaces the variable (moved last), --unsetenv then
	 * removes it; RUN steps never saw either */
	for (size_t i = 0; i < b->o->env.len; i++) {
		const char *kv = b->o->env.v[i];
		_cleanup_free_ char *k = xstrndup(kv, (size_t)(strchr(kv, '=') - kv));
		env_remove(&c->config.env, k);
		nib_strv_push(&c->config.env, kv);
	}
	for (size_t i = 0; i < b->o->unsetenv.len; i++)
		env_remove(&c->config.env, b->o->unsetenv.v[i]);
	/* buildah: --os-version replaces the base's, --os-feature adds to its
	 * features (a trailing "-" removes one) */
	if (b->o->os_version) {
		free(c->os_version);
		c->os_version = xstrdup(b->o->os_version);
	}
	for (size_t i = 0; i < b->o->os_features.len; i++) {
		const char *f = b->o->os_features.v[i];
		size_t n = strlen(f);
		if (n > 1 && f[n - 1] == '-') {
			_cleanup_free_ char *name = xstrndup(f, n - 1);
			ssize_t j = nib_strv_find(&c->os_features, name);
			if (j >= 0)
				nib_strv_remove(&c->os_features, (size_t)j);
		} else if (nib_strv_find(&c->os_features, f) < 0) {
			nib_strv_push(&c->os_features, f);
		}
	}
	if (b->o->omit_history) {
		for (size_t i = 0; i < c->n_history; i++) {
			free(c->history[i].created);
			free(c->history[i].created_by);
			free(c->history[i].author);
			free(c->history[i].comment);
		}
		free(c->history);
		c->history = NULL;
		c->n_history = 0;
	}
	free(c->created);
	c->created =
	    b->ts >= 0 ? bld_rfc3339(b->ts) : xstrdup(s->last_created ? s->last_created : b->now);
	stg_config_generate(c, &cj);
	if (stg_blob_put(b->st, cj.data, cj.len, NULL, cdigest, err) < 0)
		return -1;

	m.schema_version = 2;
	m.media_type =
	    b->o->format == STG_FORMAT_DOCKER ? STG_MT_DOCKER_MANIFEST : STG_MT_OCI_MANIFEST;
	m.config.media_type =
	    (char *)(b->o->format == STG_FORMAT_DOCKER ? STG_MT_DOCKER_CONFIG : STG_MT_OCI_CONFIG);
	m.config.digest = cdigest;
	m.config.size = (int64_t)cj.len;
	m.layers = xcalloc(s->n_layers + 1, sizeof(*m.layers));
	m.n_layers = s->n_layers;
	for (size_t i = 0; i < s->n_layers; i++) {
		m.layers[i].media_type = s->layers[i].media_type;
		m.layers[i].digest = s->layers[i].digest;
		m.layers[i].size = s->layers[i].size;
	}
	if (b->o->format == STG_FORMAT_DOCKER) {
		/* converting needs owned strings: work on a copy */
		struct stg_manifest *dm = stg_manifest_dup(&m);
		free(m.layers);
		m.layers = NULL;
		free(dm->media_type);
		dm->media_type = xstrdup(STG_MT_OCI_MANIFEST);
		free(dm->config.media_type);
		dm->config.media_type = xstrdup(STG_MT_OCI_CONFIG);
		if (stg_manifest_convert(dm, STG_FORMAT_DOCKER, err) < 0) {
			stg_manifest_free(dm);
			return -1;
		}
		stg_manifest_generate(dm, &mj);
		stg_manifest_free(dm);
	} else {
		for (size_t i = 0; i < b->o->annotations.len; i++) {
			const char *eq = strchr(b->o->annotations.v[i], '=');
			_cleanup_free_ char *k =
			    eq ? xstrndup(b->o->annotations.v[i],
					  (size_t)(eq - b->o->annotations.v[i]))
			       : xstrdup(b->o->annotations.v[i]);
			stg_map_set(&m.annotations, k, eq ? eq + 1 : "");
		}
		stg_manifest_generate(&m, &mj);
		stg_map_free(&m.annotations);
		free(m.layers);
	}

	for (size_t i = 0; i < b->o->tags.len; i++) {
		char *r = bld_ref_normalise(b->o->tags.v[i], err);
		if (!r)
			return -1;
		nib_strv_push_take(&refs, r);
	}
	if (stg_image_put(b->st, mj.data, mj.len, (const char *const *)refs.v, refs.len,
			  res->manifest_digest, err) < 0)
		return -1;
	snprintf(res->image_id, sizeof(res->image_id), "%s", cdigest);
	ret = 0;
	return ret;
}

/* ---- --squash ------------------------------------------------------------------- */

struct squash_work {
	struct stg_store *st;
	const char *top;
	struct stg_commit_opts co;
	struct stg_layer_out out;
};

static int squash_work(void *arg, struct nib_error *err)
{
	struct squash_work *w = arg;
	_cleanup_close_ int tfd = open(w->top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (tfd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", w->top);
	return stg_layer_commit(w->st, tfd, &w->co, &w->out, err);
}

/* Every layer of the stage, the base's too, as one (buildah's --squash,
 * podman's --squash-all): the merged tree, with no whiteouts. History
 * entries stay, all but the last that had a layer marked empty. */
static int squash(struct bld_build *b, struct bld_stage *s, struct nib_error *err)
{
	struct stg_unpack_opts uo;
	_cleanup_strv_ struct nib_strv dirs = {0};
	_cleanup_free_ struct stg_layer_ref *refs = NULL;
	struct squash_work w = {.st = b->st};
	bool last = true;

	if (s->n_layers <= 1)
		return 0;
	if (bld_build_env(b, err) < 0)
		return -1;
	uo = b->uo;
	uo.driver = &stg_driver_vfs;
	refs = xcalloc(s->n_layers + 1, sizeof(*refs));
	for (size_t i = 0; i < s->n_layers; i++) {
		refs[i].digest = s->layers[i].digest;
		refs[i].diff_id = s->layers[i].diff_id;
	}
	if (stg_layers_unpack(b->st, refs, s->n_layers, &uo, &dirs, err) < 0)
		return nib_err_wrap(err, "--squash");
	stg_commit_opts_init(&w.co);
	w.co.kind = STG_DIFF_COMPARE; /* with no base: the whole tree */
	w.co.idmap = b->uo.idmap;     /* no user namespace: the disk's IDs mapped */
	w.co.timestamp = b->ts;
	w.co.compression = b->o->compression;
	w.top = dirs.v[dirs.len - 1];
	if (bld_ns_exec(&b->ns, NULL, squash_work, &w, &w, sizeof(w), err) < 0)
		return nib_err_wrap(err, "--squash");
	for (size_t i = 0; i < s->n_layers; i++)
		free(s->layers[i].media_type);
	s->n_layers = 0;
	nib_strv_free(&s->cfg->diff_ids);
	bld_stage_add_layer(s, &w.out);
	for (size_t i = s->cfg->n_history; i-- > 0;) {
		struct stg_history *h = &s->cfg->history[i];
		if (!h->empty_layer && !last)
			h->empty_layer = true;
		else if (!h->empty_layer)
			last = false;
	}
	return 0;
}

/* ---- outputs --------------------------------------------------------------------- */

/* type=local: the final rootfs, every layer applied in order. */
static int output_local(struct bld_build *b, struct bld_stage *s, const char *dest,
			struct nib_error *err)
{
	_cleanup_close_ int dfd = -1;
	struct stg_extract_opts eo = {0};

	if (nib_mkdir_p_at(AT_FDCWD, dest, 0755, err) < 0)
		return -1;
	dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", dest);
	eo.whiteouts = STG_WHITEOUT_APPLY;
	stg_layer_limits_default(&eo.limits);
	for (size_t i = 0; i < s->n_layers; i++) {
		struct stg_extract_result r;
		_cleanup_close_ int fd = stg_blob_open(b->st, s->layers[i].digest, err);
		if (fd < 0)
			return -1;
		eo.digest = s->layers[i].digest;
		eo.diff_id = s->layers[i].diff_id;
		eo.name = s->layers[i].digest;
		if (stg_layer_extract_fd(dfd, fd, &eo, &r, err) < 0)
			return nib_err_wrap(err, "--output type=local,dest=%s", dest);
	}
	return 0;
}

struct tar_work {
	const char *tree; /* NULL: an empty rootfs */
	int fd;
	int64_t timestamp;
	const struct stg_idmap *idmap; /* disk IDs -> the image's (no user namespace) */
	struct stg_layer_out out;
};

static int tar_work(void *arg, struct nib_error *err)
{
	struct tar_work *w = arg;
	struct stg_commit_opts co;
	_cleanup_close_ int tfd = -1;
	char empty[] = "/tmp/nib-empty-XXXXXX";
	int ret;

	if (!w->tree && !mkdtemp(empty))
		return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", empty);
	tfd = open(w->tree ? w->tree : empty, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		ret = nib_err(err, NIB_ERR_IO, errno, "open %s", w->tree ? w->tree : empty);
	else {
		/* the whole tree against nothing: every file, owners from the
		 * records, uncompressed */
		stg_commit_opts_init(&co);
		co.kind = STG_DIFF_COMPARE;
		co.basefd = -1;
		co.compression = STG_COMPRESS_NONE;
		co.timestamp = w->timestamp;
		co.idmap = w->idmap;
		ret = stg_layer_commit_fd(tfd, &co, w->fd, &w->out, err);
	}
	if (!w->tree)
		rmdir(empty);
	return ret;
}

/* type=tar: the final rootfs, every layer applied, as one tar (to stdout
 * for dest=-). */
static int output_tar(struct bld_build *b, struct bld_stage *s, const struct bld_output *out,
		      struct nib_error *err)
{
	_cleanup_strv_ struct nib_strv dirs = {0};
	_cleanup_free_ struct stg_layer_ref *refs = NULL;
	_cleanup_close_ int own = -1;
	struct tar_work w = {.fd = out->fd, .timestamp = b->ts, .idmap = b->uo.idmap};
	struct stg_unpack_opts uo;

	if (w.fd < 0) {
		own = open(out->dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (own < 0)
			return nib_err(err, NIB_ERR_IO, errno, "--output type=tar,dest=%s",
				       out->dest);
		w.fd = own;
	}
	if (bld_build_env(b, err) < 0)
		return -1;
	if (s->n_layers) {
		uo = b->uo;
		uo.driver = &stg_driver_vfs; /* a full tree per layer: the last is the rootfs */
		refs = xcalloc(s->n_layers + 1, sizeof(*refs));
		for (size_t i = 0; i < s->n_layers; i++) {
			refs[i].digest = s->layers[i].digest;
			refs[i].diff_id = s->layers[i].diff_id;
		}
		if (stg_layers_unpack(b->st, refs, s->n_layers, &uo, &dirs, err) < 0)
			return nib_err_wrap(err, "--output type=tar");
		w.tree = dirs.v[dirs.len - 1];
	}
	if (bld_ns_exec(&b->ns, NULL, tar_work, &w, &w, sizeof(w), err) < 0)
		return nib_err_wrap(err, "--output type=tar,dest=%s", out->dest);
	if (own >= 0 && fsync(own) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "--output type=tar,dest=%s", out->dest);
	return 0;
}

static int outputs(struct bld_build *b, struct bld_stage *s, const struct bld_build_result *res,
		   struct nib_error *err)
{
	const struct bld_build_opts *o = b->o;
	_cleanup_free_ char *name = o->tags.len ? bld_ref_normalise(o->tags.v[0], NULL) : NULL;

	for (size_t i = 0; i < o->n_outputs; i++) {
		const struct bld_output *out = &o->outputs[i];
		int r = 0;
		switch (out->type) {
		case BLD_OUT_OCI:
			r = stg_export_oci_layout(b->st, res->manifest_digest, out->dest, NULL,
						  err);
			break;
		case BLD_OUT_DOCKER_ARCHIVE:
			r = stg_export_docker_archive(b->st, res->manifest_digest, out->dest, name,
						      err);
			break;
		case BLD_OUT_LOCAL:
			r = output_local(b, s, out->dest, err);
			break;
		case BLD_OUT_TAR:
			r = output_tar(b, s, out, err);
			break;
		}
		if (r < 0)
			return -1;
	}
	return 0;
}

static int push(struct bld_build *b, const struct bld_build_result *res, struct nib_error *err)
{
	const struct bld_build_opts *o = b->o;
	struct reg_client *rc;
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;

	if (bld_build_client(b, &rc, err) < 0 ||
	    stg_image_lookup(b->st, res->manifest_digest, &img, err) < 0)
		return -1;
	for (size_t i = 0; i < o->tags.len; i++) {
		_cleanup_ref_ struct reg_ref ref = {0};
		/* a Docker-format build is stored in its OCI form: its source is
		 * the Docker manifest the build made */
		const struct stg_descriptor *sd = img->source.digest ? &img->source : &img->desc;
		struct reg_desc md = {.media_type = sd->media_type, .size = sd->size};
		char out[NIB_DIGEST_LEN + 1];
		int r;
		snprintf(md.digest, sizeof(md.digest), "%s", sd->digest);
		if (reg_ref_resolve(reg_client_conf(rc), o->tags.v[i], &ref, err) < 0)
			return -1;
		_cleanup_free_ char *what = reg_ref_string(&ref);
		_cleanup_free_ char *title = xasprintf("Pushing %s", what);
		if (bld_tty_on()) {
			bld_tty_step(title);
		} else if (!o->quiet && nib_log_get_event_format() != NIB_LOG_JSON) {
			printf("%s\n", title);
			fflush(stdout);
		}
		b->push_ref = o->tags.v[i];
		r = reg_image_push(rc, b->st, &md, &ref, NULL, out, err);
		b->push_ref = NULL;
		bld_tty_step_end(title);
		if (r < 0)
			return nib_err_wrap(err, "push %s", o->tags.v[i]);
		if (nib_log_get_event_format() == NIB_LOG_JSON) {
			_cleanup_buf_ struct nib_buf f = {0};
			_cleanup_free_ char *s = reg_ref_string(&ref);
			nib_buf_puts(&f, "\"ref\":");
			nib_buf_json_string(&f, s);
			nib_buf_printf(&f, ",\"digest\":\"%s\"", out);
			nib_log_event("push", f.data, NULL);
		}
	}
	return 0;
}

/* ---- setup ---------------------------------------------------------------------- */

int bld_build_env(struct bld_build *b, struct nib_error *err)
{
	if (b->driver)
		return 0;
	/* probed only when a step has to run: a fully cached build needs
	 * neither a driver nor an ID map */
	if (stg_rootfs_driver_pick(b->st, b->o->storage_driver, &b->driver, NULL, err) < 0)
		return -1;
	if (bld_ns_init(&b->ns, b->o->idmap, err) < 0) {
		b->driver = NULL;
		return -1;
	}
	if ((b->ns.mode == BLD_IDMAP_SINGLE || b->ns.mode == BLD_IDMAP_NONE) &&
	    b->driver == &stg_driver_fuse_overlayfs) {
		/* fuse-overlayfs keeps user.containers.override_stat for itself
		 * and refuses nib's ownership records */
		if (b->o->storage_driver && !streq(b->o->storage_driver, "auto")) {
			b->driver = NULL;
			return nib_err(
			    err, NIB_ERR_ENV, 0,
			    "storage driver fuse-overlayfs cannot keep ownership records "
			    "with a single UID: use overlay or vfs (or a subuid range)");
		}
		b->driver = &stg_driver_vfs;
	}
	stg_unpack_opts_init(&b->uo);
	b->uo.driver = b->driver;
	b->uo.idmap_tag = b->ns.idmap_tag;
	if (b->ns.mode == BLD_IDMAP_NONE)
		b->uo.idmap = &b->ns.disk_map;
	b->uo.exec = bld_ns_storage_exec;
	b->uo.exec_ctx = &b->ns;
	log_info("storage driver %s, ID map %s", b->driver->name, bld_idmap_name(b->ns.mode));
	return 0;
}

/* What the build cannot do, before its first step, from the plan of the
 * stages the target needs: a required secret or SSH agent no --secret or
 * --ssh gives, and RUN where no user namespace can be made (at its first
 * RUN). */
static int check_plan(struct bld_build *b, struct nib_error *err)
{
	bool run_checked = false;

	for (size_t i = 0; i < b->f->n_stages; i++) {
		const struct cf_stage *cs = &b->f->stages[i];
		for (size_t j = 0; cs->needed && j < cs->n_instrs; j++) {
			const struct cf_step *step = &cs->steps[j];
			if (step->in->kind != CF_RUN)
				continue;
			for (size_t k = 0; k < step->run.n_mounts; k++) {
				const struct cf_mount *m = &step->run.mounts[k];
				if (m->type == CF_MOUNT_SSH && m->required &&
				    !bld_ssh_find(b->o, m->id ? m->id : "default"))
					return nib_err(err, NIB_ERR_NOT_FOUND, 0,
						       "%s:%d: SSH agent \"%s\" is required but no "
						       "--ssh %s was given",
						       b->f->path, step->in->line,
						       m->id ? m->id : "default",
						       m->id ? m->id : "default");
				if (m->type == CF_MOUNT_SECRET && m->required &&
				    !bld_secret_find(b->o, m->id))
					return nib_err(err, NIB_ERR_NOT_FOUND, 0,
						       "%s:%d: secret \"%s\" is required but no "
						       "--secret id=%s was given",
						       b->f->path, step->in->line, m->id, m->id);
			}
			if (step->run.security == CF_SECURITY_INSECURE && !b->o->allow_insecure)
				return nib_err(err, NIB_ERR_USAGE, 0,
					       "%s:%d:%d: RUN --security=insecure is refused "
					       "unless the build allows it (--allow "
					       "security.insecure, as BuildKit's)",
					       b->f->path, step->in->line, step->in->col);
			if (!run_checked &&
			    bld_runtime_usable(b->o->idmap, b->o->isolation, err) < 0)
				return nib_err_wrap(err, "%s:%d", b->f->path, step->in->line);
			run_checked = true;
		}
	}
	return 0;
}

static void count_steps(struct bld_build *b)
{
	b->n_steps = 0;
	for (size_t i = 0; i < b->f->n_stages; i++)
		if (b->f->stages[i].needed)
			b->n_steps += 1 + (int)b->f->stages[i].n_instrs;
}

static int64_t timestamp_of(const struct bld_build_opts *o)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	uint64_t v;

	if (o->timestamp >= 0)
		return o->timestamp;
	if (sde && *sde && nib_parse_u64(sde, &v) == 0)
		return (int64_t)v;
	return -1;
}

static void build_free(struct bld_build *b)
{
	for (size_t i = 0; i < b->n_stages; i++) {
		struct bld_stage *s = &b->stages[i];
		for (size_t k = 0; k < s->n_layers; k++)
			free(s->layers[k].media_type);
		free(s->layers);
		stg_config_free(s->cfg);
		nib_strv_free(&s->args);
		cf_stage_steps_free(&s->steps);
		free(s->rootfs_dir);
		free(s->last_created);
	}
	free(b->stages);
	for (size_t i = 0; i < b->tmp_dirs.len; i++)
		nib_rm_rf_at(AT_FDCWD, b->tmp_dirs.v[i], NULL);
	nib_strv_free(&b->tmp_dirs);
	cf_ignore_free(b->ignore);
	cf_file_free(b->f);
	if (b->ctx_fd >= 0)
		close(b->ctx_fd);
	bld_ns_free(&b->ns);
	bld_ssh_close(b);
	reg_client_free(b->rc);
	free(b->now);
	nib_buf_free(&b->quiet_tail);
}

static int build_run(struct stg_store *st, const struct bld_build_opts *o,
		     struct bld_build_result *res, struct nib_error *err)
{
	struct bld_build b = {.st = st, .o = o, .ctx_fd = -1};
	struct cf_plan_opts po = {.first_from = o->from, .all_stages = o->all_stages};
	_cleanup_free_ char *file = NULL;
	struct stat sb;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	/* Ctrl-C or kill: the step in progress ends (the runtime stops a RUN
	 * container itself), then every work folder is removed */
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	interrupted = 0;
	for (size_t i = 0; i < o->n_secrets; i++)
		if (o->secrets[i].src && access(o->secrets[i].src, R_OK) < 0)
			return nib_err(err, NIB_ERR_NOT_FOUND, errno, "--secret id=%s: %s",
				       o->secrets[i].id, o->secrets[i].src);
	for (size_t i = 0; i < o->n_volumes; i++)
		if (stat(o->volumes[i].src, &sb) < 0)
			return nib_err(err, NIB_ERR_NOT_FOUND, errno, "--volume %s:%s: %s",
				       o->volumes[i].src, o->volumes[i].dst, o->volumes[i].src);
	if (bld_named_open(o, err) < 0)
		return -1;
	if (stat(o->context, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return nib_err(err, NIB_ERR_NOT_FOUND, errno ? errno : ENOTDIR, "build context %s",
			       o->context);
	b.ctx_fd = open(o->context, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.ctx_fd < 0) {
		nib_err(err, NIB_ERR_IO, errno, "build context %s", o->context);
		goto out;
	}
	/* the Containerfile and ignore file, read inside the context */
	if (cf_build_files_load(b.ctx_fd, o->context, o->file, &file, &b.f, &b.ignore, NULL, err) <
	    0)
		goto out;
	if (o->ignorefile) {
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		if (nib_read_file_at(AT_FDCWD, o->ignorefile, CF_MAX_IGNORE_SIZE, &data, &len,
				     err) < 0) {
			nib_err_wrap(err, "--ignorefile");
			goto out;
		}
		cf_ignore_free(b.ignore);
		b.ignore = cf_ignore_parse_file(o->ignorefile, data, len, err);
		if (!b.ignore)
			goto out;
	}
	po.build_args = (const char *const *)o->build_args.v;
	po.target = o->target;
	po.target_platform = o->platform;
	if (cf_file_plan(b.f, &po, err) < 0)
		goto out;
	for (size_t i = 0; i < b.f->unused_args.len; i++)
		log_warn("build argument \"%s\" was not consumed by any ARG (%s)",
			 b.f->unused_args.v[i], file);

	b.ts = timestamp_of(o);
	b.now = bld_rfc3339(b.ts >= 0 ? b.ts : (int64_t)time(NULL));
	b.n_stages = b.f->n_stages;
	b.stages = xcalloc(b.n_stages + 1, sizeof(*b.stages));
	for (size_t i = 0; i < b.n_stages; i++) {
		b.stages[i].b = &b;
		b.stages[i].cs = &b.f->stages[i];
	}
	count_steps(&b);
	if (check_plan(&b, err) < 0 || bld_ssh_open(&b, err) < 0)
		goto out;

	prebuild_parallel(&b);
	/* --skip-unused-stages=false: every stage before the target too, in order */
	for (int i = 0; o->all_stages && i < b.f->target; i++)
		if (build_stage(&b, i, err) < 0)
			goto out;
	if (build_stage(&b, b.f->target, err) < 0)
		goto out;
	if (bld_interrupted()) {
		nib_err(err, NIB_ERR_RUN, EINTR, "interrupted");
		goto out;
	}
	if (o->squash && squash(&b, &b.stages[b.f->target], err) < 0)
		goto out;
	if (write_image(&b, &b.stages[b.f->target], res, err) < 0)
		goto out;
	if (outputs(&b, &b.stages[b.f->target], res, err) < 0)
		goto out;
	if (o->push && push(&b, res, err) < 0)
		goto out;
	ret = 0;
out:
	build_free(&b);
	return ret;
}

int bld_build_run(struct stg_store *st, const struct bld_build_opts *o,
		  struct bld_build_result *res, struct nib_error *err)
{
	int saved[2] = {-1, -1}, ret;

	if (o->logsplit && bld_logsplit_begin(o->logsplit, o->platform, saved, err) < 0)
		return -1;
	ret = build_run(st, o, res, err);
	bld_logsplit_end(saved, ret < 0 ? err : NULL);
	return ret;
}
