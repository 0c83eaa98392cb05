/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One step of a stage: metadata instructions edit the config and add a
 * history entry (no layer); RUN, COPY and ADD look their cache key up and,
 * on a miss, run over a rootfs assembled by the storage driver and commit
 * the change as a layer.
 */
#define BLD_BUILD_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/build_internal.h"
#include "builder/copy.h"

/* ---- expansion ------------------------------------------------------------- */

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

const char *bld_stage_lookup(void *userdata, const char *name)
{
	struct bld_stage *s = userdata;
	const char *v = nib_env_get(s->cfg->config.env.v, name); /* ENV wins over ARG */
	return v ? v : nib_env_get(s->args.v, name);
}

/* ---- history and layers ------------------------------------------------------ */

void bld_stage_history(struct bld_stage *s, const char *created_by, bool empty, const char *created)
{
	struct stg_image_config *c = s->cfg;
	struct stg_history *h;

	c->history = xrealloc(c->history, (c->n_history + 1) * sizeof(*c->history));
	h = &c->history[c->n_history++];
	memset(h, 0, sizeof(*h));
	h->created = xstrdup(created ? created : s->b->now);
	h->created_by = xstrdup(created_by);
	h->comment = xstrdup("nib");
	h->empty_layer = empty;
	free(s->last_created);
	s->last_created = xstrdup(h->created);
}

static void add_layer(struct bld_stage *s, const struct bld_layer *l)
{
	struct bld_layer *d;

	s->layers = xgrow(s->layers, &s->cap_layers, s->n_layers + 1, sizeof(*s->layers));
	d = &s->layers[s->n_layers++];
	*d = *l;
	/* a materialised rootfs is the state before this layer */
	free(s->rootfs_dir);
	s->rootfs_dir = NULL;
	d->media_type = xstrdup(l->media_type);
	nib_strv_push(&s->cfg->diff_ids, l->diff_id);
}

void bld_stage_add_layer(struct bld_stage *s, const struct stg_layer_out *l)
{
	struct bld_layer bl = {.size = l->size, .media_type = (char *)l->media_type};
	snprintf(bl.digest, sizeof(bl.digest), "%s", l->digest);
	snprintf(bl.diff_id, sizeof(bl.diff_id), "%s", l->diff_id);
	add_layer(s, &bl);
}

static void chain_of(const struct bld_stage *s, char out[NIB_DIGEST_LEN + 1])
{
	out[0] = '\0';
	for (size_t i = 0; i < s->n_layers; i++) {
		char c[NIB_DIGEST_LEN + 1];
		stg_chain_id(i ? out : NULL, s->layers[i].diff_id, c);
		memcpy(out, c, sizeof(c));
	}
}

/* The extracted folders of the stage's layers, bottom first. */
static int unpack(struct bld_stage *s, const struct stg_unpack_opts *uo, struct nib_strv *dirs,
		  struct nib_error *err)
{
	_cleanup_free_ struct stg_layer_ref *refs = xcalloc(s->n_layers + 1, sizeof(*refs));

	for (size_t i = 0; i < s->n_layers; i++) {
		refs[i].digest = s->layers[i].digest;
		refs[i].diff_id = s->layers[i].diff_id;
	}
	return stg_layers_unpack(s->b->st, refs, s->n_layers, uo, dirs, err);
}

int bld_stage_materialise(struct bld_stage *s, char **out, struct nib_error *err)
{
	struct stg_unpack_opts uo = s->b->uo;
	_cleanup_strv_ struct nib_strv dirs = {0};

	if (s->rootfs_dir) {
		*out = xstrdup(s->rootfs_dir);
		return 0;
	}
	if (bld_build_env(s->b, err) < 0)
		return -1;
	uo = s->b->uo;
	uo.driver = &stg_driver_vfs; /* the vfs form: one folder holds the whole tree */
	if (unpack(s, &uo, &dirs, err) < 0)
		return -1;
	if (dirs.len == 0) {
		/* scratch: an empty folder */
		_cleanup_free_ char *tmpl =
		    xasprintf("%s/nib/tmp/empty-XXXXXX", stg_store_path(s->b->st));
		if (!mkdtemp(tmpl))
			return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", tmpl);
		nib_strv_push(&s->b->tmp_dirs, tmpl);
		s->rootfs_dir = xstrdup(tmpl);
	} else {
		s->rootfs_dir = xstrdup(dirs.v[dirs.len - 1]);
	}
	*out = xstrdup(s->rootfs_dir);
	return 0;
}

/* ---- metadata ------------------------------------------------------------------- */

static void shell_wrap(struct bld_stage *s, const struct cf_instr *in, struct nib_strv *out)
{
	if (in->exec_form) {
		for (size_t i = 0; i < in->xargs.len; i++)
			nib_strv_push(out, in->xargs.v[i]);
		return;
	}
	if (s->cfg->config.shell.len) {
		for (size_t i = 0; i < s->cfg->config.shell.len; i++)
			nib_strv_push(out, s->cfg->config.shell.v[i]);
	} else {
		nib_strv_push(out, "/bin/sh");
		nib_strv_push(out, "-c");
	}
	_cleanup_free_ char *j = nib_strv_join(&in->xargs, " ");
	nib_strv_push(out, j);
}

static int parse_duration(const struct cf_instr *in, const char *name, int64_t *out,
			  struct nib_error *err)
{
	const struct cf_flag *f = cf_instr_flag(in, name);
	double v = 0, total = 0;
	const char *p;
	char *end;

	*out = 0;
	if (!f || !*f->xvalue)
		return 0;
	for (p = f->xvalue; *p;) {
		v = strtod(p, &end);
		if (end == p)
			goto bad;
		p = end;
		if (nib_str_has_prefix(p, "ms"))
			total += v * 1e6, p += 2;
		else if (nib_str_has_prefix(p, "us"))
			total += v * 1e3, p += 2;
		else if (nib_str_has_prefix(p, "ns"))
			total += v, p += 2;
		else if (*p == 'h')
			total += v * 3600e9, p++;
		else if (*p == 'm')
			total += v * 60e9, p++;
		else if (*p == 's')
			total += v * 1e9, p++;
		else
			goto bad;
	}
	*out = (int64_t)total;
	return 0;
bad:
	return cf_file_error(in->file, err, f->line, f->col, "invalid duration --%s=%s", name,
			     f->xvalue);
}

static int healthcheck(struct bld_stage *s, const struct cf_instr *in, struct nib_error *err)
{
	struct stg_container_config *c = &s->cfg->config;
	struct stg_healthcheck *h = xcalloc(1, sizeof(*h));

	if (c->healthcheck) {
		nib_strv_free(&c->healthcheck->test);
		free(c->healthcheck);
	}
	c->healthcheck = h;
	if (in->xargs.len && strcasecmp(in->xargs.v[0], "NONE") == 0) {
		nib_strv_push(&h->test, "NONE");
		return 0;
	}
	if (in->exec_form) {
		nib_strv_push(&h->test, "CMD");
		for (size_t i = 1; i < in->xargs.len; i++)
			nib_strv_push(&h->test, in->xargs.v[i]);
	} else {
		nib_strv_push(&h->test, "CMD-SHELL");
		struct nib_strv rest = {0};
		for (size_t i = 1; i < in->xargs.len; i++)
			nib_strv_push(&rest, in->xargs.v[i]);
		_cleanup_free_ char *j = nib_strv_join(&rest, " ");
		nib_strv_free(&rest);
		nib_strv_push(&h->test, j ? j : "");
	}
	if (parse_duration(in, "interval", &h->interval, err) < 0 ||
	    parse_duration(in, "timeout", &h->timeout, err) < 0 ||
	    parse_duration(in, "start-period", &h->start_period, err) < 0 ||
	    parse_duration(in, "start-interval", &h->start_interval, err) < 0)
		return -1;
	const struct cf_flag *r = cf_instr_flag(in, "retries");
	uint64_t n;
	if (r && *r->xvalue) {
		if (nib_parse_u64(r->xvalue, &n) < 0)
			return cf_file_error(in->file, err, r->line, r->col, "invalid --retries=%s",
					     r->xvalue);
		h->retries = (int64_t)n;
	}
	return 0;
}

static void set_add_sorted(struct nib_strv *sv, const char *s)
{
	if (nib_strv_find(sv, s) >= 0)
		return;
	nib_strv_push(sv, s);
	nib_strv_sort(sv);
}

/* The WORKDIR that `w` sets after `cur`: a relative one joined to it, and
 * cleaned. Docker keeps an absolute one as written: its trailing slash
 * stays here too ("/app/" in the config), the rest is cleaned. */
static char *workdir_join(const char *cur, const char *w)
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

static void meta_commit(struct bld_stage *s, const char *by);

static int metadata(struct bld_stage *s, struct cf_instr *in, struct nib_error *err)
{
	struct stg_container_config *c = &s->cfg->config;
	_cleanup_buf_ struct nib_buf by = {0};

	switch (in->kind) {
	case CF_ENV:
		for (size_t i = 0; i < in->n_xkvs; i++)
			strv_setkv(&c->env, in->xkvs[i].key,
				   in->xkvs[i].value ? in->xkvs[i].value : "");
		break;
	case CF_LABEL:
		for (size_t i = 0; i < in->n_xkvs; i++)
			stg_map_set(&c->labels, in->xkvs[i].key,
				    in->xkvs[i].value ? in->xkvs[i].value : "");
		break;
	case CF_EXPOSE:
		for (size_t i = 0; i < in->xargs.len; i++) {
			_cleanup_free_ char *p = strchr(in->xargs.v[i], '/')
						     ? xstrdup(in->xargs.v[i])
						     : xasprintf("%s/tcp", in->xargs.v[i]);
			for (char *q = p; *q; q++)
				if (*q >= 'A' && *q <= 'Z')
					*q = (char)(*q - 'A' + 'a');
			set_add_sorted(&c->exposed_ports, p);
		}
		break;
	case CF_USER:
		free(c->user);
		c->user = xstrdup(in->xargs.len ? in->xargs.v[0] : "");
		break;
	case CF_VOLUME:
		for (size_t i = 0; i < in->xargs.len; i++)
			if (*in->xargs.v[i])
				set_add_sorted(&c->volumes, in->xargs.v[i]);
		break;
	case CF_ENTRYPOINT:
		nib_strv_free(&c->entrypoint);
		shell_wrap(s, in, &c->entrypoint);
		c->has_entrypoint = true;
		/* Docker: a new ENTRYPOINT clears a CMD inherited from the base */
		if (!s->cmd_set) {
			nib_strv_free(&c->cmd);
			c->has_cmd = false;
		}
		break;
	case CF_CMD:
		nib_strv_free(&c->cmd);
		shell_wrap(s, in, &c->cmd);
		c->has_cmd = true;
		s->cmd_set = true;
		break;
	case CF_SHELL:
		nib_strv_free(&c->shell);
		for (size_t i = 0; i < in->xargs.len; i++)
			nib_strv_push(&c->shell, in->xargs.v[i]);
		break;
	case CF_STOPSIGNAL:
		free(c->stop_signal);
		c->stop_signal = xstrdup(in->xargs.len ? in->xargs.v[0] : "");
		break;
	case CF_HEALTHCHECK:
		if (healthcheck(s, in, err) < 0)
			return -1;
		break;
	case CF_MAINTAINER:
		free(s->cfg->author);
		s->cfg->author = nib_strv_join(&in->xargs, " ");
		break;
	case CF_ONBUILD:
		nib_strv_push(&c->on_build, in->args.len ? in->args.v[0] : "");
		break;
	default:
		break;
	}
	/* BuildKit's history text: the instruction after expansion */
	nib_buf_printf(&by, "%s ", cf_kind_name(in->kind));
	if (in->kind == CF_ENV || in->kind == CF_LABEL) {
		for (size_t i = 0; i < in->n_xkvs; i++)
			nib_buf_printf(&by, "%s%s=%s", i ? " " : "", in->xkvs[i].key,
				       in->xkvs[i].value ? in->xkvs[i].value : "");
	} else if (in->kind == CF_CMD || in->kind == CF_ENTRYPOINT) {
		struct nib_strv v = {0};
		shell_wrap(s, in, &v);
		nib_buf_puts(&by, "[");
		for (size_t i = 0; i < v.len; i++) {
			if (i)
				nib_buf_puts(&by, " ");
			nib_buf_json_string(&by, v.v[i]);
		}
		nib_buf_puts(&by, "]");
		nib_strv_free(&v);
	} else if (in->kind == CF_ONBUILD) {
		nib_buf_puts(&by, in->args.len ? in->args.v[0] : "");
	} else {
		_cleanup_free_ char *j = nib_strv_join(&in->xargs, " ");
		nib_buf_puts(&by, j ? j : "");
	}

	meta_commit(s, by.data);
	return 0;
}

/* The history entry of a step without a layer, and its identity for the
 * steps after it; a cached step keeps its first creation time so a rebuild
 * gives the same image ID. */
static void meta_commit(struct bld_stage *s, const char *by)
{
	struct bld_cache_entry e;
	bld_cache_chain(s->key, by);
	bool use = s->b->o->layers && !s->b->o->no_cache;
	bool hit = use && (bld_cache_get(s->b, s->key, &e) == 1 ||
			   bld_regcache_get(s->b, s->key, &e) == 1);
	const char *created = hit && s->b->ts < 0 ? e.created : NULL;
	bld_stage_history(s, by, true, created);
	if (!hit) {
		memset(&e, 0, sizeof(e));
		snprintf(e.created, sizeof(e.created), "%s", s->last_created);
		if (s->b->o->layers)
			bld_cache_put(s->b, s->key, &e);
	}
	bld_regcache_put(s->b, s->key, &e);
	if (hit)
		free(e.layer.media_type);
}

/* ---- steps with a layer -------------------------------------------------------- */

/* What a layer step does over the assembled rootfs. */
struct layer_step {
	struct bld_stage *s;
	struct cf_instr *in;
	struct stg_rootfs *r;
	struct nib_strv exclude; /* paths kept out of the layer */
	/* RUN */
	struct nib_strv argv, env;
	struct bld_run_mounts *mounts;
	/* COPY/ADD */
	struct bld_copy_opts co;
	struct nib_strv srcs;
	struct nib_strv excludes;
	struct bld_copy_heredoc *hds;
	int from_fd;
	char digest[NIB_DIGEST_LEN + 1];
	int (*run)(struct layer_step *ls, struct nib_error *err);
	/* a COPY into an empty rootfs whose result no later step reads, or
	 * one small enough for memory with --link: made and committed in a
	 * private tmpfs (scratch_step) */
	bool scratch;
	/* COPY/ADD --link: made in an empty folder, a layer of its own */
	bool link;
	int user_fd; /* --link --chown by name: the stage's rootfs */
};

/* A layer step of stage S for instruction IN (its fds closed). */
#define LAYER_STEP(S, IN, RUN)                                                                     \
	{                                                                                          \
		.s = (S), .in = (IN), .from_fd = -1, .user_fd = -1, .run = (RUN)                   \
	}

static int scratch_step(struct layer_step *ls, const struct stg_commit_opts *co, bool on_disk,
			struct stg_layer_out *out, struct nib_error *err);

static void layer_step_free(struct layer_step *ls)
{
	if (ls->user_fd >= 0)
		close(ls->user_fd);
	nib_strv_free(&ls->exclude);
	nib_strv_free(&ls->argv);
	nib_strv_free(&ls->env);
	nib_strv_free(&ls->srcs);
	nib_strv_free(&ls->excludes);
	free(ls->hds);
	bld_mounts_free(ls->mounts);
	if (ls->from_fd >= 0)
		close(ls->from_fd);
}

/* The state after a step is its result, not how it was made: s->key is
 * the identity of the state (base, metadata steps, layers), and a step's
 * cache key is that identity plus the step. A step whose instruction
 * changed but whose layer did not (or that changed nothing) leaves the keys
 * of the later steps as they were, so they can still hit (BuildKit's
 * content-based cache; with --timestamp a re-run gives the same layer). */
static void chain_output(struct bld_stage *s, const struct bld_cache_entry *e)
{
	if (!e->has_layer)
		return; /* the same files and config as before the step */
	_cleanup_free_ char *t = xasprintf("layer %s", e->layer.diff_id);
	bld_cache_chain(s->key, t);
}

static int layer_step_exec(struct layer_step *ls, const char *key_text, const char *created_by,
			   struct nib_error *err)
{
	struct bld_stage *s = ls->s;
	struct bld_build *b = s->b;
	struct bld_cache_entry e;
	_cleanup_strv_ struct nib_strv dirs = {0};
	struct stg_rootfs *r = NULL;
	struct stg_layer_out out;
	struct stg_commit_opts co;
	char parent_chain[NIB_DIGEST_LEN + 1];
	bool use_cache = b->o->layers && !b->o->no_cache;
	double t0 = bld_now();
	char key[NIB_DIGEST_LEN + 1];

	/* a --link layer does not depend on the state it goes on (unless
	 * --chown names are looked up in it): the same key on any base */
	if (ls->link && ls->user_fd < 0)
		snprintf(key, sizeof(key), "link");
	else
		memcpy(key, s->key, sizeof(key));
	bld_cache_chain(key, key_text);
	if (b->ts >= 0) {
		/* --timestamp / SOURCE_DATE_EPOCH clamp the layer's file times:
		 * a layer made without it (or with another) is another layer */
		_cleanup_free_ char *t = xasprintf("timestamp %lld", (long long)b->ts);
		bld_cache_chain(key, t);
	}
	if (use_cache && (bld_cache_get(b, key, &e) == 1 || bld_regcache_get(b, key, &e) == 1)) {
		if (e.has_layer)
			add_layer(s, &e.layer);
		bld_stage_history(s, created_by, !e.has_layer, b->ts < 0 ? e.created : NULL);
		bld_regcache_put(b, key, &e);
		bld_log_step_end(b, ls->in, bld_now() - t0, true, key);
		chain_output(s, &e);
		free(e.layer.media_type);
		return 0;
	}

	nib_strv_push(&ls->exclude, "proc/");
	nib_strv_push(&ls->exclude, "sys/");
	nib_strv_push(&ls->exclude, "dev/");
	stg_commit_opts_init(&co);
	co.timestamp = b->ts;
	co.compression = b->o->compression;
	co.level = b->o->compression_level;
	memset(&e, 0, sizeof(e));
	if (bld_build_env(b, err) < 0)
		return -1;
	if (ls->scratch || ls->link) {
		int fr = ls->scratch ? scratch_step(ls, &co, false, &out, err) : 0;
		if (fr == 0 && ls->link)
			fr = scratch_step(ls, &co, true, &out, err);
		if (fr < 0)
			return -1;
		if (fr == 1) {
			/* no extracted form: a later step that needs one
			 * extracts the blob */
			if (out.entries > 0) {
				bld_log_layer(b, &out);
				bld_stage_add_layer(s, &out);
				e.has_layer = true;
				e.layer = s->layers[s->n_layers - 1];
			}
			goto done;
		}
	}
	if (unpack(s, &b->uo, &dirs, err) < 0 ||
	    stg_rootfs_prepare(b->st, b->driver, &dirs, &b->uo, &r, err) < 0)
		return -1;
	ls->r = r;
	if (bld_interrupted()) {
		nib_err(err, NIB_ERR_RUN, EINTR, "%s:%d: interrupted", b->f->path, ls->in->line);
		goto fail;
	}
	if (ls->run(ls, err) < 0)
		goto fail;

	co.exclude = (const char *const *)ls->exclude.v;
	if (stg_rootfs_commit(b->st, r, &co, &b->uo, &out, err) < 0)
		goto fail;
	if (out.entries > 0) {
		chain_of(s, parent_chain);
		bld_log_layer(b, &out);
		if (stg_rootfs_adopt(b->st, r, s->n_layers ? parent_chain : NULL, &out, co.exclude,
				     &b->uo, &dirs, err) < 0)
			goto fail;
		bld_stage_add_layer(s, &out);
		e.has_layer = true;
		e.layer = s->layers[s->n_layers - 1];
	}
	stg_rootfs_remove(r, &b->uo, NULL);
	ls->r = NULL;
done:
	bld_stage_history(s, created_by, out.entries == 0, NULL);
	snprintf(e.created, sizeof(e.created), "%s", s->last_created);
	if (b->o->layers)
		bld_cache_put(b, key, &e);
	bld_regcache_put(b, key, &e);
	bld_log_step_end(b, ls->in, bld_now() - t0, false, key);
	chain_output(s, &e);
	return 0;
fail:
	stg_rootfs_remove(r, &b->uo, NULL);
	ls->r = NULL;
	return -1;
}

/* ---- RUN ------------------------------------------------------------------------- */

/* Runs in the RUN container's namespaces: the overlay gets one more lower
 * folder on top holding the runtime's mount targets (etc/resolv.conf,
 * etc/hosts, etc/hostname, proc, sys, dev), so binding them never copies a
 * folder of the image up into the step's layer. This is the child's copy of
 * `r`: the parent's list of lowers is unchanged. */
static int rootfs_setup(void *ctx, struct nib_error *err)
{
	static const char *const mounts[] = BLD_NO_SYMLINK_MOUNTS;
	struct stg_rootfs *r = ctx;

	/* the targets folder would hide them */
	for (size_t i = 0; i < ARRAY_SIZE(mounts); i++)
		if (stg_rootfs_entry_type(r, mounts[i]) == S_IFLNK)
			return nib_err(err, NIB_ERR_ENV, 0, BLD_SYMLINK_MOUNT_FMT, mounts[i]);
	nib_strv_push_take(&r->lowers, xasprintf("%s/targets", r->dir));
	return r->driver->mount(r, err);
}

static int make_targets(const char *dir, struct nib_error *err)
{
	static const char *const dirs[] = {"targets", "targets/etc", "targets/proc", "targets/sys",
					   "targets/dev"};
	static const char *const files[] = {"targets/etc/resolv.conf", "targets/etc/hosts",
					    "targets/etc/hostname"};
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", dir);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdirat(dfd, dirs[i], 0755) < 0 && errno != EEXIST)
			return nib_err(err, NIB_ERR_IO, errno, "mkdir %s/%s", dir, dirs[i]);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		int fd = openat(dfd, files[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "create %s/%s", dir, files[i]);
		close(fd);
	}
	return 0;
}

static int run_run(struct layer_step *ls, struct nib_error *err)
{
	struct bld_stage *s = ls->s;
	struct bld_build *b = s->b;
	struct bld_run_spec spec;
	struct bld_run_result res;

	bld_run_spec_init(&spec);
	spec.rootfs = ls->r->target;
	spec.argv = ls->argv.v;
	spec.env = ls->env.v;
	spec.user = s->cfg->config.user && *s->cfg->config.user ? s->cfg->config.user : NULL;
	spec.workdir = s->cfg->config.working_dir && *s->cfg->config.working_dir
			   ? s->cfg->config.working_dir
			   : NULL;
	if (ls->mounts && bld_mounts_realise(s, ls->mounts, &spec.mounts, &spec.n_mounts, err) < 0)
		return nib_err_wrap(err, "%s:%d", b->f->path, ls->in->line);
	spec.network = b->o->network;
	const struct cf_flag *nf = cf_instr_flag(ls->in, "network");
	if (nf && streq(nf->xvalue, "none"))
		spec.network = BLD_NET_NONE;
	else if (nf && streq(nf->xvalue, "host"))
		spec.network = BLD_NET_HOST;
	spec.idmap = b->ns.mode;
	spec.isolation = b->o->isolation;
	spec.limits = b->o->limits;
	spec.timeout = b->o->step_timeout;
	spec.cap_add = b->o->cap_add.len ? b->o->cap_add.v : NULL;
	spec.cap_drop = b->o->cap_drop.len ? b->o->cap_drop.v : NULL;
	if (b->o->run_stdin)
		spec.stdin_fd = STDIN_FILENO;
	spec.on_line = bld_log_line;
	spec.line_ctx = b;
	if (b->driver->layer_form == STG_WHITEOUT_OVERLAY) {
		if (make_targets(ls->r->dir, err) < 0)
			return -1;
		spec.rootfs_setup = rootfs_setup;
		spec.rootfs_setup_ctx = ls->r;
	}
	if (bld_runtime_run(&spec, &res, err) < 0)
		return nib_err_wrap(err, "%s:%d: %s", b->f->path, ls->in->line, ls->in->original);
	for (size_t i = 0; i < res.created.len; i++)
		nib_strv_push(&ls->exclude, res.created.v[i]);
	bld_run_result_free(&res);
	if (!res.interrupted && !res.signal && res.exit_code == 0 &&
	    bld_owner_fix(b, ls->r, spec.user, (const char *const *)ls->exclude.v, err) < 0)
		return nib_err_wrap(err, "%s:%d", b->f->path, ls->in->line);
	if (res.interrupted)
		return nib_err(err, NIB_ERR_RUN, EINTR, "%s:%d: interrupted", b->f->path,
			       ls->in->line);
	if (res.signal || res.exit_code != 0) {
		_cleanup_free_ char *why = bld_run_result_why(&spec, &res);
		nib_err(err, NIB_ERR_RUN, 0, "%s:%d: %s: %s %d%s", b->f->path, ls->in->line,
			ls->in->original, res.signal ? "killed by signal" : "exit status",
			res.signal ? res.signal : res.exit_code, why);
		err->status = res.exit_code;
		return -1;
	}
	return 0;
}

static int step_run(struct bld_stage *s, struct cf_instr *in, struct nib_error *err)
{
	struct layer_step ls = LAYER_STEP(s, in, run_run);
	_cleanup_buf_ struct nib_buf key = {0}, by = {0};
	const struct nib_strv *env = &s->cfg->config.env;
	int ret;

	if (in->exec_form) {
		for (size_t i = 0; i < in->xargs.len; i++)
			nib_strv_push(&ls.argv, in->xargs.v[i]);
	} else {
		const char *cmd = in->xargs.len ? in->xargs.v[0] : "";
		_cleanup_free_ char *script = NULL;
		char *name = NULL;
		bool chomp, expand;
		if (in->n_heredocs && cf_heredoc_marker(cmd, &name, &chomp, &expand) &&
		    in->heredocs[0].fd == 0) {
			/* RUN <<EOF: the heredoc is the script */
			script = xstrdup(in->heredocs[0].content);
		} else if (in->n_heredocs) {
			/* the shell reads the heredocs itself */
			struct nib_buf sb = {0};
			nib_buf_puts(&sb, cmd);
			nib_buf_putc(&sb, '\n');
			for (size_t i = 0; i < in->n_heredocs; i++)
				nib_buf_printf(&sb, "%s%s\n", in->heredocs[i].content,
					       in->heredocs[i].name);
			script = nib_buf_steal(&sb);
		}
		free(name);
		if (s->cfg->config.shell.len) {
			for (size_t i = 0; i < s->cfg->config.shell.len; i++)
				nib_strv_push(&ls.argv, s->cfg->config.shell.v[i]);
		} else {
			nib_strv_push(&ls.argv, "/bin/sh");
			nib_strv_push(&ls.argv, "-c");
		}
		nib_strv_push(&ls.argv, script ? script : cmd);
	}
	/* the environment: the image's ENV, then build args in scope that ENV
	 * does not set (Docker: visible to RUN, never in the config) */
	for (size_t i = 0; i < env->len; i++)
		nib_strv_push(&ls.env, env->v[i]);
	if (!nib_env_get(env->v, "PATH"))
		nib_strv_push(&ls.env, "PATH=" NIB_DEFAULT_PATH);
	for (size_t i = 0; i < s->args.len; i++) {
		const char *eq = strchr(s->args.v[i], '=');
		_cleanup_free_ char *k = xstrndup(s->args.v[i], (size_t)(eq - s->args.v[i]));
		if (!nib_env_get(env->v, k))
			nib_strv_push(&ls.env, s->args.v[i]);
	}

	/* buildah --http-proxy: the host's proxy settings, unless ENV or a
	 * build argument sets them; like Docker's predefined proxy ARGs they
	 * stay out of the cache key and the history */
	static const char *const proxy_vars[] = {"http_proxy",	"HTTP_PROXY", "https_proxy",
						 "HTTPS_PROXY", "ftp_proxy",  "FTP_PROXY",
						 "no_proxy",	"NO_PROXY"};
	for (size_t i = 0; s->b->o->http_proxy && i < ARRAY_SIZE(proxy_vars); i++) {
		const char *v = getenv(proxy_vars[i]);
		if (v && !nib_env_get(ls.env.v, proxy_vars[i]))
			nib_strv_pushf(&ls.env, "%s=%s", proxy_vars[i], v);
	}

	nib_buf_puts(&key, "RUN\n");
	for (size_t i = 0; i < ls.argv.len; i++)
		nib_buf_printf(&key, "%s%c", ls.argv.v[i], 0 + '\x1f');
	nib_buf_printf(&key, "\nnetwork %d\nargs\n", (int)s->b->o->network);
	/* the capabilities change what a step can do (only when asked for:
	 * keys of builds without them stay as they were) */
	for (size_t i = 0; i < s->b->o->cap_add.len; i++)
		nib_buf_printf(&key, "cap+%s\x1f", s->b->o->cap_add.v[i]);
	for (size_t i = 0; i < s->b->o->cap_drop.len; i++)
		nib_buf_printf(&key, "cap-%s\x1f", s->b->o->cap_drop.v[i]);
	for (size_t i = 0; i < s->args.len; i++)
		nib_buf_printf(&key, "%s\x1f", s->args.v[i]);
	for (size_t i = 0; i < in->n_flags; i++)
		if (!streq(in->flags[i].name, "mount"))
			nib_buf_printf(&key, "\n--%s=%s", in->flags[i].name, in->flags[i].xvalue);
	if (bld_mounts_parse(s, in, &ls.mounts, &key, err) < 0) {
		layer_step_free(&ls);
		return -1;
	}

	nib_buf_puts(&by, "RUN ");
	if (in->exec_form) {
		_cleanup_free_ char *j = nib_strv_join(&ls.argv, " ");
		nib_buf_puts(&by, j);
	} else {
		nib_buf_printf(&by, "%s %s", ls.argv.v[0], ls.argv.len > 2 ? ls.argv.v[1] : "");
		nib_buf_printf(&by, " %s", in->xargs.len ? in->xargs.v[0] : "");
	}
	nib_buf_puts(&by, " # buildkit");
	ret = layer_step_exec(&ls, key.data, by.data, err);
	layer_step_free(&ls);
	return ret;
}

/* ---- COPY / ADD -------------------------------------------------------------- */

struct copy_work {
	struct layer_step *ls;
	char digest[NIB_DIGEST_LEN + 1];
	uint64_t bytes; /* the sources' data */
	struct bld_copy_stats stats;
};

static int copy_digest_work(void *arg, struct nib_error *err)
{
	struct copy_work *w = arg;
	_cleanup_(bld_copy_plan_freep) struct bld_copy_plan *p = NULL;

	if (bld_copy_plan_new(&w->ls->co, &p, err) < 0 ||
	    bld_copy_plan_digest(p, w->digest, err) < 0)
		return -1;
	w->bytes = p->bytes;
	return 0;
}

static int copy_apply_work(void *arg, struct nib_error *err)
{
	struct copy_work *w = arg;
	_cleanup_close_ int fd = open(w->ls->r->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", w->ls->r->target);
	/* WORKDIR made its folder (BuildKit): it lands in this layer (not in
	 * a --link one, which holds the copied paths only) */
	const char *wd = w->ls->co.workdir;
	if (wd && *wd && !streq(wd, "/") && !w->ls->link) {
		int d = nib_mkdir_in_root(fd, wd, 0755, err);
		if (d < 0)
			return nib_err_wrap(err, "WORKDIR %s", wd);
		close(d);
	}
	return bld_copy_run(&w->ls->co, fd, &w->stats, err);
}

static int run_copy(struct layer_step *ls, struct nib_error *err)
{
	struct bld_build *b = ls->s->b;
	struct copy_work w = {.ls = ls};
	int ret;

	b->ns.mount = b->driver->layer_form == STG_WHITEOUT_OVERLAY ? ls->r : NULL;
	ret = bld_ns_exec(&b->ns, copy_apply_work, &w, &w, sizeof(w), err);
	b->ns.mount = NULL;
	if (ret < 0)
		return nib_err_wrap(err, "%s:%d", b->f->path, ls->in->line);
	return 0;
}

/* ---- COPY into an empty rootfs --------------------------------------------------- */

/*
 * A COPY in a stage without layers (FROM scratch) whose result no later
 * step of the build reads as files: the copy is made in a tmpfs private to
 * a child's mount namespace and committed from there (the whole tree is the
 * change), so its files are never written to disk nor diffed against
 * anything; the layer exists only as its blob (the same tar a copy over
 * the storage driver would give), extracted later only if something needs
 * it (COPY --from, --output type=local). Creating many small files on disk
 * is what such a COPY would spend most of its time on.
 *
 * COPY --link is made the same way, whatever the stage holds (BuildKit:
 * "your source files are copied into an empty destination directory"),
 * in a plain folder under nib/tmp when it is too large for memory.
 */
static int tmpfs_mount(struct stg_rootfs *r, struct nib_error *err)
{
	if (mount("tmpfs", r->target, "tmpfs", MS_NOSUID, "mode=0755") < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "mount tmpfs on %s", r->target);
	return 0;
}

static const struct stg_rootfs_driver tmpfs_driver = {
    .name = "tmpfs",
    .layer_form = STG_WHITEOUT_OVERLAY,
    .diff = STG_DIFF_UPPER,
    .mount = tmpfs_mount,
};

struct scratch_work {
	struct copy_work cw;
	struct stg_store *st;
	struct stg_commit_opts co;
	struct stg_layer_out out;
	bool on_disk;
};

static int scratch_work(void *arg, struct nib_error *err)
{
	struct scratch_work *w = arg;
	const char *dir = w->cw.ls->r->target;
	_cleanup_close_ int fd = -1;
	int ret;

	ret = copy_apply_work(&w->cw, err);
	if (ret == 0) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ret = fd < 0 ? nib_err(err, NIB_ERR_IO, errno, "open %s", dir)
			     : stg_layer_commit(w->st, fd, &w->co, &w->out, err);
	}
	/* on disk, the files may have subordinate owners: removed here, in
	 * the namespace (a tmpfs goes with it) */
	if (w->on_disk) {
		struct nib_error e = {0};
		if (nib_rm_rf_at(AT_FDCWD, dir, &e) < 0) {
			log_warn("%s", e.msg);
			nib_err_clear(&e);
		}
	}
	return ret;
}

/* 1: done (`out` filled); 0: not possible here (tmpfs refused), use the
 * storage driver; -1: error. `on_disk`: in a plain folder, no tmpfs. */
static int scratch_step(struct layer_step *ls, const struct stg_commit_opts *co, bool on_disk,
			struct stg_layer_out *out, struct nib_error *err)
{
	static const char *const no_lowers[] = {NULL};
	struct bld_build *b = ls->s->b;
	struct stg_rootfs r = {.driver = &tmpfs_driver};
	_cleanup_free_ char *dir = xasprintf("%s/nib/tmp/scratch-XXXXXX", stg_store_path(b->st));
	struct scratch_work *w = xcalloc(1, sizeof(*w));
	struct nib_error e = {0};
	int ret;

	if (!mkdtemp(dir)) {
		free(w);
		return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", dir);
	}
	r.dir = r.target = dir;
	ls->r = &r;
	w->cw.ls = ls;
	w->st = b->st;
	w->co = *co;
	w->co.kind = STG_DIFF_UPPER;
	w->co.exclude = (const char *const *)ls->exclude.v;
	w->co.lowers = no_lowers;
	w->on_disk = on_disk;
	ls->co.chown_mode = b->ns.real_chown ? BLD_COPY_CHOWN_REAL : BLD_COPY_CHOWN_AUTO;
	b->ns.mount = on_disk ? NULL : &r;
	ret = bld_ns_exec(&b->ns, scratch_work, w, w, sizeof(*w), &e);
	b->ns.mount = NULL;
	ls->r = NULL;
	if (rmdir(dir) < 0 && errno != ENOENT) {
		/* a copy on disk that was interrupted: its files may have
		 * subordinate owners, removed in the namespace */
		struct stg_rootfs *rm = xcalloc(1, sizeof(*rm));
		rm->dir = xstrdup(dir);
		stg_rootfs_remove(rm, &b->uo, NULL);
	}
	if (ret < 0) {
		free(w);
		if (e.kind == NIB_ERR_ENV && e.msg && nib_str_has_prefix(e.msg, "mount tmpfs")) {
			log_debug("COPY without the storage driver: %s", e.msg);
			nib_err_clear(&e);
			return 0;
		}
		nib_err_move(err, &e);
		return nib_err_wrap(err, "%s:%d", b->f->path, ls->in->line);
	}
	*out = w->out;
	free(w);
	return 1;
}

/* Whether nothing after `in` in its stage, and no other stage, reads the
 * stage's files (a RUN, COPY, ADD or WORKDIR after it; a stage built FROM
 * it, copying from it or mounting it). */
static bool last_file_step(struct bld_stage *s, const struct cf_instr *in)
{
	const struct cf_stage *cs = s->cs;
	const struct cf_file *f = s->b->f;
	size_t i = 0;

	while (i < cs->n_instrs && cs->instrs[i] != in)
		i++;
	if (i == cs->n_instrs)
		return false; /* an ONBUILD trigger */
	for (i++; i < cs->n_instrs; i++) {
		enum cf_kind k = cs->instrs[i]->kind;
		if (k == CF_RUN || k == CF_COPY || k == CF_ADD || k == CF_WORKDIR)
			return false;
	}
	for (size_t j = 0; j < f->n_stages; j++) {
		const struct cf_stage *o = &f->stages[j];
		if (!o->needed || o == cs)
			continue;
		if (o->base_stage == cs->index)
			return false;
		for (size_t d = 0; d < o->n_deps; d++)
			if (o->deps[d] == cs->index)
				return false;
	}
	return true;
}

static bool read_u64_file(const char *path, uint64_t *v)
{
	char buf[64];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (n <= 0)
		return false;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return nib_parse_u64(buf, v) == 0;
}

/* Memory a tmpfs copy may take: its files live in RAM (charged to the
 * cgroup: a pod's memory limit) until committed. NIB_COPY_TMPFS_MAX
 * (bytes) sets it; 0 makes every such copy on disk. */
static uint64_t scratch_budget(void)
{
	const char *env = getenv("NIB_COPY_TMPFS_MAX");
	long pages, psize;
	uint64_t avail, max, cur;
	_cleanup_fclose_ FILE *mi = NULL;
	char line[256];
	unsigned long long kb;

	if (env && *env && nib_parse_u64(env, &max) == 0)
		return max;
	pages = sysconf(_SC_AVPHYS_PAGES);
	psize = sysconf(_SC_PAGESIZE);
	avail = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : 0;
	mi = fopen("/proc/meminfo", "re");
	/* MemAvailable counts the page cache the kernel can drop; free
	 * pages alone are low on any host that has run for a while */
	while (mi && fgets(line, sizeof(line), mi))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			avail = (uint64_t)kb * 1024;
			break;
		}

	/* cgroup v2, as a pod sees its own cgroup ("max": no limit) */
	if (read_u64_file("/sys/fs/cgroup/memory.max", &max) &&
	    read_u64_file("/sys/fs/cgroup/memory.current", &cur))
		avail = MIN(avail, max > cur ? max - cur : 0);
	return MIN(avail / 4, (uint64_t)512 << 20);
}

/* The folder `dir` that a rootfs getter gave (`r`: its result) opened for
 * the instruction `in`, or -1 with the error. */
static int open_rootfs(struct bld_build *b, const struct cf_instr *in, int r, const char *dir,
		       struct nib_error *err)
{
	int fd;

	if (r < 0)
		return nib_err_wrap(err, "%s:%d", b->f->path, in->line);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", dir);
	return fd;
}

/* Whether a --chown spec names a user or group (not only numbers). */
static bool chown_has_names(const char *spec)
{
	for (const char *p = spec; *p; p++)
		if (*p != ':' && (*p < '0' || *p > '9'))
			return true;
	return false;
}

static int step_copy(struct bld_stage *s, struct cf_instr *in, struct nib_error *err)
{
	struct bld_build *b = s->b;
	struct layer_step ls = LAYER_STEP(s, in, run_copy);
	struct bld_copy_matcher matcher;
	_cleanup_buf_ struct nib_buf key = {0}, by = {0};
	const struct cf_flag *f;
	struct copy_work w = {.ls = &ls};
	_cleanup_free_ char *j = NULL, *jr = NULL;
	int ret = -1;

	bld_copy_opts_init(&ls.co);
	if (b->ignore)
		bld_copy_matcher_cf(&matcher, b->ignore);
	ls.co.add = in->kind == CF_ADD;
	if (in->xargs.len < 2) {
		cf_file_error(b->f, err, in->line, in->col, "%s requires at least two arguments",
			      cf_kind_name(in->kind));
		goto out;
	}
	ls.hds = xcalloc(in->n_heredocs + 1, sizeof(*ls.hds));
	for (size_t i = 0; i + 1 < in->xargs.len; i++) {
		char *name = NULL;
		bool chomp, expand;
		if (in->n_heredocs && cf_heredoc_marker(in->xargs.v[i], &name, &chomp, &expand)) {
			for (size_t h = 0; h < in->n_heredocs; h++)
				if (streq(in->heredocs[h].name, name)) {
					struct bld_copy_heredoc *hd = &ls.hds[ls.co.n_heredocs++];
					hd->name = in->heredocs[h].name;
					hd->data = in->heredocs[h].xcontent;
					hd->len = strlen(hd->data);
				}
			free(name);
			continue;
		}
		free(name);
		nib_strv_push(&ls.srcs, in->xargs.v[i]);
	}
	ls.co.srcs = (const char *const *)ls.srcs.v;
	ls.co.n_srcs = ls.srcs.len;
	ls.co.heredocs = ls.hds;
	ls.co.dest = in->xargs.v[in->xargs.len - 1];
	ls.co.workdir = s->cfg->config.working_dir;
	ls.co.src_fd = b->ctx_fd;
	ls.co.ignore = b->ignore ? &matcher : NULL;
	ls.co.timestamp = b->ts;
	ls.co.chown_mode = b->ns.real_chown ? BLD_COPY_CHOWN_REAL : BLD_COPY_CHOWN_AUTO;
	for (size_t i = 0; i < in->n_flags; i++)
		if (streq(in->flags[i].name, "exclude"))
			nib_strv_push(&ls.excludes, in->flags[i].xvalue);
	ls.co.excludes = (const char *const *)ls.excludes.v;
	ls.co.n_excludes = ls.excludes.len;
	if ((f = cf_instr_flag(in, "chown")) && *f->xvalue)
		ls.co.chown = f->xvalue;
	if ((f = cf_instr_flag(in, "chmod")) && *f->xvalue)
		ls.co.chmod = f->xvalue;
	if ((f = cf_instr_flag(in, "parents")))
		ls.co.parents = nib_parse_bool(f->xvalue) != 0;
	if ((f = cf_instr_flag(in, "link")))
		ls.link = ls.co.link = nib_parse_bool(f->xvalue) == 1;
	if ((f = cf_instr_flag(in, "checksum")))
		ls.co.checksum = f->xvalue;
	if ((f = cf_instr_flag(in, "unpack")))
		ls.co.no_unpack = nib_parse_bool(f->xvalue) == 0;
	if ((f = cf_instr_flag(in, "from")) && *f->xvalue) {
		_cleanup_free_ char *dir = NULL;
		int r = bld_build_from_rootfs(b, f->xvalue, &dir, err);
		if ((ls.from_fd = open_rootfs(b, in, r, dir, err)) < 0)
			goto out;
		ls.co.src_fd = ls.from_fd;
		ls.co.from_rootfs = true;
		ls.co.ignore = NULL;
	}

	/* the context is the caller's: read in this process; a stage's rootfs
	 * may hold files of subordinate IDs: read in the build's namespace */
	if (ls.co.from_rootfs ? bld_build_env(b, err) < 0 || bld_ns_exec(&b->ns, copy_digest_work,
									 &w, &w, sizeof(w), err) < 0
			      : copy_digest_work(&w, err) < 0) {
		nib_err_wrap(err, "%s:%d", b->f->path, in->line);
		goto out;
	}
	/* the key and the history never hold a URL's credentials (ADD
	 * https://user:pass@host/x): the content digest stands for the URL */
	nib_buf_printf(&key, "%s\n", cf_kind_name(in->kind));
	for (size_t i = 0; i < in->n_flags; i++)
		nib_buf_printf(&key, "--%s=%s\n", in->flags[i].name, in->flags[i].xvalue);
	for (size_t i = 0; i < in->xargs.len; i++) {
		_cleanup_free_ char *a = nib_url_redact(in->xargs.v[i]);
		nib_buf_printf(&key, "%s\x1f", a);
	}
	nib_buf_printf(&key, "\nworkdir %s\nsources %s",
		       s->cfg->config.working_dir ? s->cfg->config.working_dir : "/", w.digest);

	nib_buf_printf(&by, "%s ", cf_kind_name(in->kind));
	for (size_t i = 0; i < in->n_flags; i++)
		if (!streq(in->flags[i].name, "checksum"))
			nib_buf_printf(&by, "--%s=%s ", in->flags[i].name, in->flags[i].xvalue);
	j = nib_strv_join(&in->xargs, " ");
	jr = nib_url_redact(j);
	nib_buf_printf(&by, "%s # buildkit", jr);
	if (ls.link && ls.co.chown && chown_has_names(ls.co.chown)) {
		/* the names are the image's: looked up in its rootfs */
		_cleanup_free_ char *dir = NULL;
		int r = bld_stage_materialise(s, &dir, err);
		if ((ls.user_fd = open_rootfs(b, in, r, dir, err)) < 0)
			goto out;
		ls.co.user_root_fd = ls.user_fd;
	}
	/* the memory is looked up only for a step that could use it */
	if (ls.link || (in->kind == CF_COPY && s->n_layers == 0 && last_file_step(s, in))) {
		uint64_t budget = scratch_budget();
		ls.scratch = budget > 0 && w.bytes <= budget;
	}
	ret = layer_step_exec(&ls, key.data, by.data, err);
out:
	layer_step_free(&ls);
	return ret;
}

/* ---- WORKDIR ------------------------------------------------------------------ */

struct workdir_work {
	struct layer_step *ls;
};

static int workdir_work(void *arg, struct nib_error *err)
{
	struct workdir_work *w = arg;
	struct layer_step *ls = w->ls;
	_cleanup_close_ int fd = open(ls->r->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", ls->r->target);
	return bld_copy_mkdir(&ls->co, fd, ls->s->cfg->config.working_dir, err);
}

static int run_workdir(struct layer_step *ls, struct nib_error *err)
{
	struct bld_build *b = ls->s->b;
	struct workdir_work w = {.ls = ls};
	int ret;

	ls->co.chown_mode = b->ns.real_chown ? BLD_COPY_CHOWN_REAL : BLD_COPY_CHOWN_AUTO;
	b->ns.mount = b->driver->layer_form == STG_WHITEOUT_OVERLAY ? ls->r : NULL;
	ret = bld_ns_exec(&b->ns, workdir_work, &w, &w, sizeof(w), err);
	b->ns.mount = NULL;
	if (ret < 0)
		return nib_err_wrap(err, "%s:%d: WORKDIR %s", b->f->path, ls->in->line,
				    ls->s->cfg->config.working_dir);
	return 0;
}

/*
 * BuildKit (dockerfile frontend, dispatchWorkdir): WORKDIR sets the config
 * and, unless it is "/", runs a mkdir-with-parents file op as the USER: the
 * missing folders are created 0755, owned by the USER (names from the
 * image's own passwd/group), in a layer of their own. An existing folder
 * changes nothing: BuildKit then exports an empty layer, nib none (as for
 * any step that changes nothing).
 */
static int step_workdir(struct bld_stage *s, struct cf_instr *in, struct nib_error *err)
{
	struct bld_build *b = s->b;
	struct stg_container_config *c = &s->cfg->config;
	struct layer_step ls = LAYER_STEP(s, in, run_workdir);
	_cleanup_free_ char *by = NULL, *key = NULL;
	const char *user = c->user && *c->user ? c->user : NULL;
	char *w = workdir_join(c->working_dir, in->xargs.len ? in->xargs.v[0] : "/");
	int ret;

	free(c->working_dir);
	c->working_dir = w;
	by = xasprintf("WORKDIR %s", w);
	if (streq(w, "/")) {
		meta_commit(s, by);
		bld_log_step_end(b, in, 0, false, NULL);
		return 0;
	}
	bld_copy_opts_init(&ls.co);
	ls.co.chown = user;
	ls.co.timestamp = b->ts;
	key = xasprintf("WORKDIR\n%s\nuser %s", w, user ? user : "");
	ret = layer_step_exec(&ls, key, by, err);
	layer_step_free(&ls);
	if (ret < 0)
		return -1;
	/* the config changed: the steps after it see another WORKDIR */
	bld_cache_chain(s->key, by);
	return 0;
}

/* ---- dispatch -------------------------------------------------------------- */

int bld_step_exec(struct bld_stage *s, struct cf_instr *in, struct nib_error *err)
{
	if (in->kind == CF_ARG) {
		/* planned already: build args and global defaults applied */
		for (size_t i = 0; i < in->n_xkvs; i++) {
			if (!in->xkvs[i].value)
				continue;
			strv_setkv(&s->args, in->xkvs[i].key, in->xkvs[i].value);
		}
		return 0;
	}
	if (in->kind != CF_ONBUILD && cf_instr_expand(in, bld_stage_lookup, s, err) < 0)
		return -1;
	switch (in->kind) {
	case CF_RUN:
		return step_run(s, in, err);
	case CF_COPY:
	case CF_ADD:
		return step_copy(s, in, err);
	case CF_WORKDIR:
		return step_workdir(s, in, err);
	default:
		return metadata(s, in, err);
	}
}
