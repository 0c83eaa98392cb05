/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib inspect [--json] REF: an image's manifest and config, as stored
 * (the documents' own bytes are what the digests cover; this prints them
 * parsed, inside one object). For an image nib converted to OCI on pull,
 * Manifest* describe the registry's manifest (its digest is the one a
 * registry, `skopeo inspect docker://` and podman report) and
 * StoredManifest* the OCI form in index.json.
 */
#include <getopt.h>
#include <string.h>

#include "builder/builder.h"
#include "storage/storage.h"

/* The stored document `digest` as a JSON tree (digest checked on read). */
static int doc_json(struct stg_store *st, const char *digest, size_t max, json_object **out,
		    struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (stg_blob_read(st, digest, max, &data, &len, err) < 0 ||
	    stg_json_parse(data, len, max, STG_JSON_MAX_DEPTH, out, err) < 0)
		return nib_err_wrap(err, "%s", digest);
	return 0;
}

int bld_cmd_inspect(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		    struct nib_error *err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'}, {"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *manifest = NULL, *config = NULL, *index = NULL;
	/* --log-format json: the JSON form */
	bool json = nib_log_get_format() == NIB_LOG_JSON;
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			bld_command_help(self);
			return 0;
		case 'j':
			json = true;
			break;
		default:
			return bld_bad_option(self, argv, err);
		}
	}
	if (argc - optind != 1)
		return bld_usage_error(self, err, "inspect: needs exactly one image");
	if (bld_store_open(g, &st, err) < 0 || bld_image_find(st, argv[optind], &img, err) < 0)
		return -1;
	const struct stg_descriptor *md = img->source.digest ? &img->source : &img->desc;
	if (doc_json(st, md->digest, STG_MANIFEST_MAX, &manifest, err) < 0 ||
	    doc_json(st, img->id, STG_CONFIG_MAX, &config, err) < 0) {
		json_object_put(manifest);
		return nib_err_wrap(err, "%s", argv[optind]);
	}
	if (!streq(img->entry.digest, img->desc.digest) &&
	    doc_json(st, img->entry.digest, STG_MANIFEST_MAX, &index, err) < 0) {
		json_object_put(manifest);
		json_object_put(config);
		return nib_err_wrap(err, "%s", argv[optind]);
	}
	json_object_object_add(o, "Name", img->ref ? json_object_new_string(img->ref) : NULL);
	json_object_object_add(o, "ImageID", json_object_new_string(nib_digest_hex(img->id)));
	json_object_object_add(o, "ManifestDigest", json_object_new_string(md->digest));
	json_object_object_add(o, "ManifestType", json_object_new_string(md->media_type));
	json_object_object_add(o, "StoredManifestDigest", json_object_new_string(img->desc.digest));
	json_object_object_add(o, "StoredManifestType",
			       json_object_new_string(img->desc.media_type));
	json_object_object_add(o, "Size", json_object_new_int64(img->size));
	json_object_object_add(o, "Manifest", manifest);
	json_object_object_add(o, "Config", config);
	if (index) {
		json_object_object_add(o, "IndexDigest", json_object_new_string(img->entry.digest));
		json_object_object_add(o, "Index", index);
	}
	if (json) {
		_cleanup_buf_ struct nib_buf b = {0};
		stg_json_canonical(o, &b);
		printf("%s\n", b.data);
	} else {
		printf("%s\n", json_object_to_json_string_ext(
				   o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					  JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	return 0;
}
