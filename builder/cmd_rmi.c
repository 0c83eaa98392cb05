/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib rmi REF...: remove names from the store. A name given as a reference
 * is untagged; an image ID or manifest digest removes every name of that
 * image (with --force when it has several). Blobs no image needs any more
 * are collected right away when no other nib process has the root open,
 * else by the next `nib prune`.
 */
#include <getopt.h>
#include <string.h>

#include "builder/builder.h"
#include "storage/storage.h"

/* How many index.json entries resolve to image `id`. */
static size_t count_names(struct stg_store *st, const char *id)
{
	struct stg_image **imgs = NULL;
	size_t n = 0, k = 0;
	if (stg_image_list(st, &imgs, &n, NULL) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (streq(imgs[i]->id, id))
			k++;
	stg_image_list_free(imgs, n);
	return k;
}

static int rmi_one(struct stg_store *st, const char *name, bool force, struct nib_error *err)
{
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	_cleanup_free_ char *norm = NULL;
	const char *ref = NULL;

	if (bld_image_find(st, name, &img, err) < 0)
		return -1;
	/* named by one of its references: remove that name only */
	norm = bld_ref_normalise(name, NULL);
	if (img->ref && (streq(img->ref, name) || (norm && streq(img->ref, norm))))
		ref = img->ref;
	if (ref) {
		if (stg_image_untag(st, ref, err) < 0)
			return -1;
		_cleanup_free_ char *line = xasprintf("untagged: %s", ref);
		bld_emit("untagged", line, "ref", ref, NULL);
	} else {
		size_t names = count_names(st, img->id);
		if (names > 1 && !force)
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "rmi: image %.12s has %zu names; remove them by name or use "
				       "--force",
				       nib_digest_hex(img->id), names);
		if (stg_image_remove_digest(st, img->desc.digest, err) < 0 ||
		    stg_image_remove_digest(st, img->id, err) < 0)
			return -1;
	}
	if (count_names(st, img->id) == 0)
		bld_emit("removed", nib_digest_hex(img->id), "id", img->id, NULL);
	return 0;
}

int bld_cmd_rmi(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		struct nib_error *err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
					     {"force", no_argument, NULL, 'f'},
					     {"all", no_argument, NULL, 'a'},
					     {NULL, 0, NULL, 0}};
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error first = {0};
	bool force = false, all = false;
	int c;

	while ((c = getopt_long(argc, argv, "+hfa", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			bld_command_help(self);
			return 0;
		case 'f':
			force = true;
			break;
		case 'a':
			all = true;
			break;
		default:
			return bld_bad_option(self, argv, err);
		}
	}
	if (optind >= argc && !all)
		return bld_usage_error(self, err, "rmi: no image given");
	if (all && optind < argc)
		return bld_usage_error(self, err, "rmi: --all takes no image names");
	if (bld_store_open(g, &st, err) < 0)
		return -1;
	if (all) {
		_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
		if (stg_store_index_load(st, &ix, err) < 0)
			return -1;
		for (size_t i = 0; i < ix->n_manifests; i++) {
			int r = stg_image_remove_digest(st, ix->manifests[i].digest, err);
			if (r < 0)
				return -1;
			if (r > 0)
				bld_emit("removed", nib_digest_hex(ix->manifests[i].digest), "id",
					 ix->manifests[i].digest, NULL);
		}
	}
	for (int i = optind; i < argc; i++) {
		struct nib_error e = {0};
		if (rmi_one(st, argv[i], force, &e) < 0) {
			if (!first.msg)
				nib_err_move(&first, &e);
			else
				nib_err_clear(&e);
		}
	}
	/* collect now unless another process uses the root */
	struct stg_gc_stats gs;
	bool busy = false;
	if (stg_store_gc(st, false, &gs, &busy, first.msg ? NULL : err) < 0 && !first.msg)
		return -1;
	if (busy)
		log_info("%s is in use: unreferenced blobs stay until 'nib prune'",
			 stg_store_path(st));
	if (first.msg) {
		nib_err_move(err, &first);
		return -1;
	}
	return 0;
}
