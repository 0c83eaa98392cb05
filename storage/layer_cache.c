/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cache of extracted layers: nib/layers/FORM-TAG/CHAINHEX, each made
 * once in a temp folder and renamed into place (DESIGN.md: storage root).
 */
#define NIB_STORAGE_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/layer_internal.h"

void stg_unpack_opts_init(struct stg_unpack_opts *o)
{
	memset(o, 0, sizeof(*o));
	stg_layer_limits_default(&o->limits);
}

int stg_layer_exec(const struct stg_unpack_opts *o, stg_work_fn work, void *arg, void *result,
		   size_t result_size, struct nib_error *err)
{
	if (o && o->exec)
		return o->exec(o->exec_ctx, work, arg, result, result_size, err);
	return work(arg, err);
}

enum stg_whiteout_mode stg_layer_form(const struct stg_unpack_opts *o)
{
	return o->driver ? o->driver->layer_form : STG_WHITEOUT_APPLY;
}

const char *stg_layer_form_dir(const struct stg_unpack_opts *o, enum stg_whiteout_mode form,
			       char *buf, size_t size)
{
	snprintf(buf, size, "layers/%s-%s", form == STG_WHITEOUT_OVERLAY ? "ovl" : "vfs",
		 o->idmap_tag && *o->idmap_tag ? o->idmap_tag : "id");
	return buf;
}

struct rm_work {
	int dirfd;
	const char *path;
};

static int rm_work(void *arg, struct nib_error *err)
{
	struct rm_work *w = arg;
	return nib_rm_rf_at(w->dirfd, w->path, err);
}

int stg_layer_remove(const struct stg_unpack_opts *o, int dirfd, const char *path)
{
	struct rm_work w = {dirfd, path};
	struct nib_error e = {0};
	int r = stg_layer_exec(o, rm_work, &w, NULL, 0, &e);

	if (r < 0)
		log_warn("%s", e.msg);
	nib_err_clear(&e);
	return r;
}

struct unpack_work {
	struct stg_store *st;
	int nibfd;
	const char *tmp;
	const char *prev; /* vfs: the folder of the layers below, or NULL */
	const struct stg_layer_ref *layers;
	size_t n;
	enum stg_whiteout_mode form;
	const struct stg_unpack_opts *o;
};

static int unpack_work(void *arg, struct nib_error *err)
{
	struct unpack_work *w = arg;
	struct stg_extract_opts eo = {0};
	_cleanup_close_ int tfd = -1;

	tfd = openat(w->nibfd, w->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", w->tmp);
	if (w->prev) {
		_cleanup_close_ int pfd =
		    openat(w->nibfd, w->prev, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "open %s", w->prev);
		if (stg_layer_copy_tree(pfd, tfd, err) < 0)
			return -1;
	}
	eo.whiteouts = w->form;
	eo.idmap = w->o->idmap;
	eo.limits = w->o->limits;
	for (size_t i = 0; i < w->n; i++) {
		_cleanup_close_ int bfd = stg_blob_open(w->st, w->layers[i].digest, err);

		if (bfd < 0)
			return -1;
		eo.digest = w->layers[i].digest;
		eo.diff_id = w->layers[i].diff_id;
		eo.name = w->layers[i].digest;
		if (stg_layer_extract_fd(tfd, bfd, &eo, NULL, err) < 0)
			return -1;
	}
	return 0;
}

int stg_layer_extract_to(struct stg_store *st, const struct stg_layer_ref *layers, size_t n,
			 enum stg_whiteout_mode form, const char *prev, const char *rel,
			 const struct stg_unpack_opts *o, struct nib_error *err)
{
	int nibfd = stg_store_nib_dirfd(st);
	const char *slash = strrchr(rel, '/');
	_cleanup_free_ char *dir = xstrndup(rel, (size_t)(slash - rel));
	_cleanup_free_ char *prefix = xasprintf("%s/.tmp-%.16s-", dir, slash + 1);
	_cleanup_free_ char *tmp = NULL;
	struct unpack_work w = {st, nibfd, NULL, prev, layers, n, form, o};

	if (nib_mkdir_p_at(nibfd, dir, 0700, err) < 0)
		return -1;
	/* a random name: processes in sibling pid namespaces (pods sharing the
	 * root) have the same pids */
	if (nib_create_tmp_at(nibfd, prefix, true, 0755, &tmp) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", tmp);
	w.tmp = tmp;
	log_debug("extracting %zu layer(s) from %s into %s", n, layers[0].digest, rel);
	if (stg_layer_exec(o, unpack_work, &w, NULL, 0, err) < 0) {
		stg_layer_remove(o, nibfd, tmp);
		return -1;
	}
	if (renameat(nibfd, tmp, nibfd, rel) < 0) {
		int e = errno;
		stg_layer_remove(o, nibfd, tmp);
		/* another process won the race: use its folder */
		if (e != EEXIST && e != ENOTEMPTY)
			return nib_err(err, NIB_ERR_IO, e, "rename %s", rel);
	}
	return 0;
}

/*
 * Kernel overlay stacks at most 500 lower folders (OVL_MAX_STACK), and a
 * RUN step adds one; fuse-overlayfs and the mount option page have their
 * own limits. A stack of more than STG_LOWERS_MAX layers has its bottom
 * layers flattened into one folder: their applied tree (the vfs form of
 * their chain, which every driver reads as it would the layers: issue 11's
 * one semantics), kept in the cache like any extracted layer. The flattened
 * part is a multiple of STG_FLATTEN_STEP layers, so that a build adding a
 * layer per step flattens again only every STG_FLATTEN_STEP steps.
 */
#define STG_LOWERS_MAX	 400
#define STG_FLATTEN_STEP 200

static size_t flattened(size_t n)
{
	if (n <= STG_LOWERS_MAX)
		return 0;
	return (n - STG_LOWERS_MAX + 1 + STG_FLATTEN_STEP - 1) / STG_FLATTEN_STEP *
	       STG_FLATTEN_STEP;
}

int stg_layers_unpack(struct stg_store *st, const struct stg_layer_ref *layers, size_t n,
		      const struct stg_unpack_opts *o, struct nib_strv *dirs, struct nib_error *err)
{
	int nibfd = stg_store_nib_dirfd(st);
	char form[128], chain[NIB_DIGEST_LEN + 1] = "";
	_cleanup_free_ char *prev = NULL;
	enum stg_whiteout_mode mode = stg_layer_form(o);
	size_t flat = mode == STG_WHITEOUT_OVERLAY ? flattened(n) : 0;

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *rel = NULL;
		struct stat sb;
		bool vfs = mode == STG_WHITEOUT_APPLY || i < flat;

		if (!layers[i].diff_id || !nib_digest_valid(layers[i].diff_id) ||
		    !layers[i].digest || !nib_digest_valid(layers[i].digest))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "layer %zu: invalid digest or DiffID", i);
		stg_chain_id(i ? chain : NULL, layers[i].diff_id, chain);
		if (i + 1 < flat)
			continue;
		stg_layer_form_dir(o, vfs ? STG_WHITEOUT_APPLY : STG_WHITEOUT_OVERLAY, form,
				   sizeof(form));
		rel = xasprintf("%s/%s", form, nib_digest_hex(chain));
		if (fstatat(nibfd, rel, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode)) {
			/* the flattened part at once; else one layer (over
			 * the tree below it in the vfs form) */
			bool all = i + 1 == flat;
			if (all)
				log_info("%zu layers: the bottom %zu are flattened into one folder "
					 "(overlay stacks at most %d)",
					 n, flat, STG_LOWERS_MAX);
			if (stg_layer_extract_to(st, all ? layers : &layers[i], all ? flat : 1,
						 vfs ? STG_WHITEOUT_APPLY : STG_WHITEOUT_OVERLAY,
						 vfs && i && !all ? prev : NULL, rel, o, err) < 0)
				return -1;
		}
		nib_strv_push_take(dirs, xasprintf("%s/nib/%s", stg_store_path(st), rel));
		free(prev);
		prev = steal_pointer(&rel);
	}
	return 0;
}
