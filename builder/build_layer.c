/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layer stack of a stage and the one path every step that changes
 * files takes (RUN, COPY, ADD, WORKDIR's folder): look the step's key up
 * in the build cache; on a miss assemble a rootfs through the storage
 * driver (or, for a COPY that needs no base, a private tmpfs), run the
 * step over it, commit the change as a layer and record it in the cache.
 * Steps without a layer (metadata) get their history entry and cache entry
 * here too.
 */
#define BLD_BUILD_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/build_internal.h"
#include "builder/progress.h"

/* ---- history and layers ---------------------------------------------------- */

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
	struct stg_unpack_opts uo;
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

struct stg_rootfs *bld_merged(const struct bld_build *b, struct stg_rootfs *r)
{
	return b->driver->layer_form == STG_WHITEOUT_OVERLAY ? r : NULL;
}

/* ---- steps without a layer ------------------------------------------------------ */

/* A cache hit, from the local cache or a --cache-from repository. */
static bool cache_lookup(struct bld_build *b, const char *key, struct bld_cache_entry *e)
{
	return b->o->layers && !b->o->no_cache &&
	       (bld_cache_get(b, key, e) == 1 || bld_regcache_get(b, key, e) == 1);
}

void bld_meta_commit(struct bld_stage *s, const char *by)
{
	struct bld_cache_entry e;
	bld_key_chain(s->key, by);
	bool hit = cache_lookup(s->b, s->key, &e);
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
	struct bld_layer_step *ls;
	struct stg_store *st;
	struct stg_commit_opts co;
	struct stg_layer_out out;
	bool on_disk;
};

static int scratch_work(void *arg, struct nib_error *err)
{
	struct scratch_work *w = arg;
	const char *dir = w->ls->r->target;
	_cleanup_close_ int fd = -1;
	int ret;

	ret = w->ls->fill(w->ls->fill_arg, err);
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

/* 1: done (`out` filled); 0: not possible here (the namespace or its
 * tmpfs refused: NIB_ERR_ENV), use the storage driver; -1: error.
 * `on_disk`: in a plain folder, no tmpfs. */
static int scratch_step(struct bld_layer_step *ls, const struct stg_commit_opts *co, bool on_disk,
			struct stg_layer_out *out, struct nib_error *err)
{
	static const char *const no_lowers[] = {NULL};
	struct bld_build *b = ls->s->b;
	struct stg_rootfs r = {.driver = &tmpfs_driver};
	_cleanup_free_ char *dir = xasprintf("%s/nib/tmp/scratch-XXXXXX", stg_store_path(b->st));
	_cleanup_free_ struct scratch_work *w = xcalloc(1, sizeof(*w));
	struct nib_error e = {0};
	int ret;

	if (!mkdtemp(dir))
		return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", dir);
	r.dir = r.target = dir;
	ls->r = &r;
	w->ls = ls;
	w->st = b->st;
	w->co = *co;
	w->co.kind = STG_DIFF_UPPER;
	w->co.exclude = (const char *const *)ls->exclude.v;
	w->co.lowers = no_lowers;
	w->on_disk = on_disk;
	ret = bld_ns_exec(&b->ns, on_disk ? NULL : &r, scratch_work, w, w, sizeof(*w), &e);
	ls->r = NULL;
	if (rmdir(dir) < 0 && errno != ENOENT) {
		/* a copy on disk that was interrupted: its files may have
		 * subordinate owners, removed in the namespace */
		struct stg_rootfs *rm = xcalloc(1, sizeof(*rm));
		rm->dir = xstrdup(dir);
		stg_rootfs_remove(rm, &b->uo, NULL);
	}
	if (ret < 0 && e.kind == NIB_ERR_ENV && !on_disk) {
		log_debug("COPY without the storage driver: %s", e.msg);
		nib_err_clear(&e);
		return 0;
	}
	if (ret < 0) {
		nib_err_move(err, &e);
		return -1;
	}
	*out = w->out;
	return 1;
}

/* ---- steps with a layer -------------------------------------------------------- */

void bld_layer_step_free(struct bld_layer_step *ls)
{
	nib_strv_free(&ls->exclude);
}

/* The state after the step: a layer changes it, nothing else does (the
 * same files and config as before the step). */
static void chain_output(struct bld_stage *s, const struct bld_cache_entry *e)
{
	if (e->has_layer)
		bld_key_layer(s->key, e->layer.diff_id);
}

int bld_layer_step_exec(struct bld_layer_step *ls, const char *key_text, const char *created_by,
			struct nib_error *err)
{
	struct bld_stage *s = ls->s;
	struct bld_build *b = s->b;
	const struct cf_instr *in = ls->step->in;
	struct bld_cache_entry e;
	_cleanup_strv_ struct nib_strv dirs = {0};
	struct stg_rootfs *r = NULL;
	struct stg_layer_out out;
	struct stg_commit_opts co;
	char parent_chain[NIB_DIGEST_LEN + 1];
	double t0 = bld_now();
	char key[NIB_DIGEST_LEN + 1];

	bld_key_step(s->key, ls->independent, key_text, b->ts, key);
	if (cache_lookup(b, key, &e)) {
		if (e.has_layer)
			add_layer(s, &e.layer);
		bld_stage_history(s, created_by, !e.has_layer, b->ts < 0 ? e.created : NULL);
		bld_regcache_put(b, key, &e);
		bld_log_step_end(b, in, bld_now() - t0, true, key);
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
		nib_err(err, NIB_ERR_RUN, EINTR, "interrupted");
		goto fail;
	}
	if (ls->run(ls, err) < 0)
		goto fail;

	co.exclude = (const char *const *)ls->exclude.v;
	bld_tty_note("writing the layer");
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
	bld_log_step_end(b, in, bld_now() - t0, false, key);
	chain_output(s, &e);
	return 0;
fail:
	stg_rootfs_remove(r, &b->uo, NULL);
	ls->r = NULL;
	return -1;
}
