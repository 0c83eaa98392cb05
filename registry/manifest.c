/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What pull and push need from manifests and indexes: the media type, the
 * descriptors they reference, and platform selection (image-spec
 * manifest.md, image-index.md; Docker image manifest v2 schema 2).
 */
#define NIB_REGISTRY_INTERNAL
#include <string.h>

#include "registry/registry_internal.h"

#define MAX_LAYERS	  STG_MAX_LAYERS
#define MAX_INDEX_ENTRIES 10000

bool reg_media_type_is_index(const char *mt)
{
	return mt && (streq(mt, STG_MT_OCI_INDEX) || streq(mt, STG_MT_DOCKER_LIST));
}

bool reg_media_type_is_manifest(const char *mt)
{
	return mt && (streq(mt, STG_MT_OCI_MANIFEST) || streq(mt, STG_MT_DOCKER_MANIFEST));
}

static int desc_from_json(json_object *o, const char *what, const char *field, struct reg_desc *d,
			  struct nib_error *err)
{
	json_object *sz;
	const char *dg = reg_json_get_string(o, "digest"),
		   *mt = reg_json_get_string(o, "mediaType");

	memset(d, 0, sizeof(*d));
	if (!o || !json_object_is_type(o, json_type_object))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: malformed manifest: %s is not an object", what, field);
	if (!dg || !nib_digest_valid(dg) || !nib_str_has_prefix(dg, "sha256:"))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: malformed manifest: %s has a missing or unsupported digest",
			       what, field);
	if (!json_object_object_get_ex(o, "size", &sz) || !json_object_is_type(sz, json_type_int) ||
	    json_object_get_int64(sz) < 0)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: malformed manifest: %s has a missing or negative size", what,
			       field);
	if (!mt || !*mt || strlen(mt) > 255)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: malformed manifest: %s has no media type", what, field);
	snprintf(d->digest, sizeof(d->digest), "%s", dg);
	d->size = json_object_get_int64(sz);
	d->media_type = xstrdup(mt);
	return 0;
}

/* The media type of a manifest document: the Content-Type (when usable),
 * checked against the document's own mediaType field. */
static int doc_media_type(json_object *o, const char *content_type, const char *what, char **out,
			  struct nib_error *err)
{
	json_object *sv, *tmp;
	const char *field = reg_json_get_string(o, "mediaType");
	_cleanup_free_ char *ct = NULL;

	if (json_object_object_get_ex(o, "schemaVersion", &sv) &&
	    json_object_is_type(sv, json_type_int) && json_object_get_int(sv) == 1)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: Docker schema 1 manifests are not supported (a deprecated "
			       "format; push the image again with a current client)",
			       what);
	if (content_type) {
		ct = xstrndup(content_type, strcspn(content_type, "; "));
		if (strstr(ct, "prettyjws") ||
		    streq(ct, "application/vnd.docker.distribution.manifest.v1+json"))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: Docker schema 1 manifests are not supported (a "
				       "deprecated format; push the image again with a current "
				       "client)",
				       what);
		if (!reg_media_type_is_index(ct) && !reg_media_type_is_manifest(ct)) {
			free(ct);
			ct = NULL; /* "application/json" and the like: use the document */
		}
	}
	if (field && ct && !streq(field, ct))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: manifest media type '%.100s' does not match the Content-Type "
			       "'%s'",
			       what, field, ct);
	if (field && !reg_media_type_is_index(field) && !reg_media_type_is_manifest(field))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: unsupported manifest media type '%.100s'", what, field);
	if (field)
		*out = xstrdup(field);
	else if (ct)
		*out = steal_pointer(&ct);
	else if (json_object_object_get_ex(o, "manifests", &tmp))
		*out = xstrdup(STG_MT_OCI_INDEX);
	else if (json_object_object_get_ex(o, "config", &tmp) &&
		 json_object_object_get_ex(o, "layers", &tmp))
		*out = xstrdup(STG_MT_OCI_MANIFEST);
	else
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: not an image manifest or index (no media type)", what);
	return 0;
}

/* A document's fields must match its media type (CVE-2021-41190): an
 * index with "config" or "layers", or a manifest with "manifests", is read
 * as one kind by one client and as the other by another, so the same digest
 * could name two different images. image-spec manifest.md, image-index.md. */
static int fields_match_type(json_object *o, const char *mt, const char *what,
			     struct nib_error *err)
{
	if (reg_media_type_is_index(mt) && (json_object_object_get_ex(o, "config", NULL) ||
					    json_object_object_get_ex(o, "layers", NULL)))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: an image index (%s) with a \"config\" or \"layers\" field is "
			       "ambiguous and refused",
			       what, mt);
	if (reg_media_type_is_manifest(mt) && json_object_object_get_ex(o, "manifests", NULL))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: an image manifest (%s) with a \"manifests\" field is ambiguous "
			       "and refused",
			       what, mt);
	return 0;
}

/* Parse a manifest or index. For a manifest, `out` gets config and layers
 * and out->manifest.media_type; for an index only out->index.media_type is
 * set and `*doc` keeps the document for platform selection. */
int reg_manifest_parse(const char *data, size_t len, const char *content_type_what,
		       struct reg_image *out, json_object **doc, struct nib_error *err)
{
	/* content_type_what: "CONTENT-TYPE\nWHAT" packed by the caller */
	const char *nl = strchr(content_type_what, '\n');
	_cleanup_free_ char *ct =
	    nl ? xstrndup(content_type_what, (size_t)(nl - content_type_what)) : NULL;
	const char *what = nl ? nl + 1 : content_type_what;
	_cleanup_json_ json_object *o = NULL;
	_cleanup_free_ char *mt = NULL;
	json_object *cfg, *layers, *sv;

	memset(out, 0, sizeof(*out));
	if (len > MANIFEST_MAX)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: manifest larger than %u bytes", what,
			       MANIFEST_MAX);
	if (stg_json_parse(data, len, MANIFEST_MAX, 64, &o, err) < 0)
		return nib_err_wrap(err, "%s: manifest", what);
	if (!o)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: manifest is JSON null", what);
	if (!json_object_is_type(o, json_type_object))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: manifest is not a JSON object", what);
	if (doc_media_type(o, ct && *ct ? ct : NULL, what, &mt, err) < 0)
		return -1;
	if (!json_object_object_get_ex(o, "schemaVersion", &sv) ||
	    !json_object_is_type(sv, json_type_int) || json_object_get_int(sv) != 2)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: manifest schemaVersion is not 2",
			       what);
	if (fields_match_type(o, mt, what, err) < 0)
		return -1;
	if (reg_media_type_is_index(mt)) {
		json_object *m;
		if (!json_object_object_get_ex(o, "manifests", &m) ||
		    !json_object_is_type(m, json_type_array))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: index without a manifests list", what);
		if (json_object_array_length(m) > MAX_INDEX_ENTRIES)
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: index with too many entries (%zu)", what,
				       json_object_array_length(m));
		out->index.media_type = steal_pointer(&mt);
		*doc = steal_pointer(&o);
		return 0;
	}
	if (!json_object_object_get_ex(o, "config", &cfg))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: manifest without a config", what);
	if (desc_from_json(cfg, what, "config", &out->config, err) < 0)
		goto fail;
	if (!json_object_object_get_ex(o, "layers", &layers) ||
	    !json_object_is_type(layers, json_type_array)) {
		nib_err(err, NIB_ERR_CORRUPT, 0, "%s: manifest without a layers list", what);
		goto fail;
	}
	size_t n = json_object_array_length(layers);
	if (n > MAX_LAYERS) {
		nib_err(err, NIB_ERR_CORRUPT, 0,
			"%s: manifest with too many layers (%zu, at most %d)", what, n, MAX_LAYERS);
		goto fail;
	}
	out->layers = xcalloc(n ? n : 1, sizeof(*out->layers));
	for (size_t i = 0; i < n; i++) {
		char field[32];
		snprintf(field, sizeof(field), "layer %zu", i + 1);
		if (desc_from_json(json_object_array_get_idx(layers, i), what, field,
				   &out->layers[i], err) < 0)
			goto fail;
		out->n_layers++;
	}
	out->manifest.media_type = steal_pointer(&mt);
	if (doc)
		*doc = NULL;
	return 0;
fail:
	reg_image_clear(out);
	return -1;
}
