/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Images in the store: index.json entries named by the
 * org.opencontainers.image.ref.name annotation (image-spec
 * image-layout.md), tagging, untagging, lookup by reference, manifest
 * digest or image ID, platform selection for multi-platform entries.
 */
#define NIB_STORAGE_INTERNAL
#include <string.h>
#include <sys/utsname.h>

#include "storage/store_internal.h"

#define MAX_INDEX_NESTING 4

int stg_store_index_load(struct stg_store *st, struct stg_index **out, struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_(json_object_putp) json_object *o = NULL;
	size_t len = 0;

	if (nib_read_file_at(st->dirfd, "index.json", STG_INDEX_JSON_MAX, &data, &len, err) < 0)
		return nib_err_wrap(err, "%s", st->path);
	if (stg_json_parse(data, len, STG_INDEX_JSON_MAX, STG_JSON_MAX_DEPTH, &o, err) < 0 ||
	    stg_index_from_json(o, STG_MAX_MANIFESTS, out, err) < 0)
		return nib_err_wrap(err, "%s/index.json", st->path);
	return 0;
}

static int index_save(struct stg_store *st, const struct stg_index *ix, struct nib_error *err)
{
	_cleanup_buf_ struct nib_buf b = {0};
	stg_index_generate(ix, &b);
	if (nib_write_file_atomic_at(st->dirfd, "index.json", b.data, b.len, 0644, err) < 0)
		return nib_err_wrap(err, "%s", st->path);
	return 0;
}

static void index_remove_at(struct stg_index *ix, size_t i)
{
	stg_descriptor_clear(&ix->manifests[i]);
	memmove(&ix->manifests[i], &ix->manifests[i + 1],
		(ix->n_manifests - i - 1) * sizeof(*ix->manifests));
	ix->n_manifests--;
}

static const char *entry_ref(const struct stg_descriptor *d)
{
	return stg_map_get(&d->annotations, STG_ANNOTATION_REF_NAME);
}

int stg_image_tag(struct stg_store *st, const char *ref, const struct stg_descriptor *desc,
		  struct nib_error *err)
{
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	struct stg_descriptor *e;
	int ret = -1;

	if (ref && !*ref)
		return nib_err(err, NIB_ERR_USAGE, 0, "empty image reference");
	if (!stg_media_type_is_manifest(desc->media_type) &&
	    !stg_media_type_is_index(desc->media_type))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: '%s' is not a manifest or an index",
			       ref ? ref : desc->digest, desc->media_type);
	if (stg_blob_size(st, desc->digest) != desc->size)
		return nib_err(
		    err, NIB_ERR_NOT_FOUND, 0, "%s: manifest %s (%lld bytes) is not in %s",
		    ref ? ref : desc->digest, desc->digest, (long long)desc->size, st->path);
	if (stg_store_lock(st, true, err) < 0)
		return -1;
	if (stg_store_index_load(st, &ix, err) < 0)
		goto out;
	for (size_t i = 0; i < ix->n_manifests;) {
		const char *r = entry_ref(&ix->manifests[i]);
		bool same = ref ? (r && streq(r, ref))
				: (!r && streq(ix->manifests[i].digest, desc->digest));
		if (same)
			index_remove_at(ix, i);
		else
			i++;
	}
	if (ix->n_manifests >= STG_MAX_MANIFESTS) {
		nib_err(err, NIB_ERR_IO, 0, "%s/index.json: too many images", st->path);
		goto out;
	}
	ix->manifests = xrealloc(ix->manifests, (ix->n_manifests + 1) * sizeof(*ix->manifests));
	e = &ix->manifests[ix->n_manifests++];
	stg_descriptor_copy(e, desc);
	stg_map_del(&e->annotations, STG_ANNOTATION_REF_NAME);
	if (ref)
		stg_map_set(&e->annotations, STG_ANNOTATION_REF_NAME, ref);
	ret = index_save(st, ix, err);
out:
	stg_store_unlock(st);
	return ret;
}

int stg_image_untag(struct stg_store *st, const char *ref, struct nib_error *err)
{
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	size_t removed = 0;
	int ret = -1;

	if (stg_store_lock(st, true, err) < 0)
		return -1;
	if (stg_store_index_load(st, &ix, err) < 0)
		goto out;
	for (size_t i = 0; i < ix->n_manifests;) {
		const char *r = entry_ref(&ix->manifests[i]);
		if (r && streq(r, ref)) {
			index_remove_at(ix, i);
			removed++;
		} else {
			i++;
		}
	}
	if (!removed)
		nib_err(err, NIB_ERR_NOT_FOUND, 0, "image '%s' not found in %s", ref, st->path);
	else
		ret = index_save(st, ix, err);
out:
	stg_store_unlock(st);
	return ret;
}

/* Image ID of an index.json entry, or NULL (for the digest removal). */
static char *entry_image_id(struct stg_store *st, const struct stg_descriptor *d)
{
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	if (stg_image_load(st, d, &img, NULL) < 0)
		return NULL;
	return steal_pointer(&img->id);
}

int stg_image_remove_digest(struct stg_store *st, const char *digest, struct nib_error *err)
{
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	int removed = 0, ret = -1;

	if (stg_store_lock(st, true, err) < 0)
		return -1;
	if (stg_store_index_load(st, &ix, err) < 0)
		goto out;
	for (size_t i = 0; i < ix->n_manifests;) {
		_cleanup_free_ char *id = NULL;
		bool match = streq(ix->manifests[i].digest, digest);
		if (!match) {
			id = entry_image_id(st, &ix->manifests[i]);
			match = id && streq(id, digest);
		}
		if (match) {
			index_remove_at(ix, i);
			removed++;
		} else {
			i++;
		}
	}
	ret = removed ? index_save(st, ix, err) : 0;
out:
	stg_store_unlock(st);
	return ret < 0 ? -1 : removed;
}

/* ---- loading an image ------------------------------------------------------------- */

void stg_platform_host(const char **os, const char **arch, const char **variant)
{
	static const struct {
		const char *machine, *arch, *variant;
	} map[] = {
	    {"x86_64", "amd64", NULL},	  {"aarch64", "arm64", "v8"}, {"armv7l", "arm", "v7"},
	    {"armv6l", "arm", "v6"},	  {"i686", "386", NULL},      {"i386", "386", NULL},
	    {"ppc64le", "ppc64le", NULL}, {"s390x", "s390x", NULL},   {"riscv64", "riscv64", NULL},
	};
	static struct utsname u;
	*os = "linux";
	*arch = "amd64";
	*variant = NULL;
	if (!u.machine[0] && uname(&u) < 0)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (streq(u.machine, map[i].machine)) {
			*arch = map[i].arch;
			*variant = map[i].variant;
			return;
		}
	*arch = u.machine;
}

void stg_image_free(struct stg_image *img)
{
	if (!img)
		return;
	free(img->ref);
	stg_descriptor_clear(&img->entry);
	stg_descriptor_clear(&img->desc);
	stg_manifest_free(img->manifest);
	stg_config_free(img->config);
	free(img->id);
	stg_descriptor_clear(&img->source);
	free(img);
}

/* The source manifest an entry names (STG_ANNOTATION_SOURCE_DIGEST): a
 * missing or unreadable blob only loses the record (the stored OCI form is
 * the image). */
static void load_source(struct stg_store *st, struct stg_image *img)
{
	const char *d = stg_map_get(&img->entry.annotations, STG_ANNOTATION_SOURCE_DIGEST);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	const char *mt;

	if (!d || !nib_digest_valid(d) || streq(d, img->desc.digest))
		return;
	if (stg_blob_read(st, d, STG_MANIFEST_MAX, &data, &len, NULL) < 0) {
		log_debug("%s: source manifest %s is not in the store", img->ref ? img->ref : "",
			  d);
		return;
	}
	mt = stg_doc_media_type(data, len);
	if (!stg_media_type_is_manifest(mt))
		return;
	img->source.media_type = xstrdup(mt);
	img->source.digest = xstrdup(d);
	img->source.size = (int64_t)len;
}

const char *stg_image_digest(const struct stg_image *img)
{
	return img->source.digest ? img->source.digest : img->desc.digest;
}

/* stg_image_load with an index resolved for `want` (NULL: the host). */
static int image_load(struct stg_store *st, const struct stg_descriptor *entry,
		      const struct stg_platform *want, struct stg_image **out,
		      struct nib_error *err)
{
	_cleanup_(stg_image_freep) struct stg_image *img = xcalloc(1, sizeof(*img));
	struct stg_descriptor cur;
	_cleanup_strv_ struct nib_strv seen = {0};
	const char *name = entry_ref(entry);
	const char *what = name ? name : entry->digest;

	stg_descriptor_copy(&img->entry, entry);
	img->ref = name ? xstrdup(name) : NULL;
	stg_descriptor_copy(&cur, entry);
	for (int depth = 0;; depth++) {
		_cleanup_free_ char *data = NULL;
		size_t len = 0;

		if (nib_strv_find(&seen, cur.digest) >= 0 || depth > MAX_INDEX_NESTING) {
			nib_err(err, NIB_ERR_CORRUPT, 0,
				"%s: index %s refers to itself or nests too deeply", what,
				cur.digest);
			goto fail;
		}
		nib_strv_push(&seen, cur.digest);
		if (stg_blob_read(st, cur.digest, STG_MANIFEST_MAX, &data, &len, err) < 0)
			goto fail_wrap;
		if (cur.size != (int64_t)len) {
			nib_err(err, NIB_ERR_CORRUPT, 0,
				"%s: %s is %zu bytes, its descriptor says %lld", what, cur.digest,
				len, (long long)cur.size);
			goto fail;
		}
		if (stg_media_type_is_manifest(cur.media_type)) {
			if (stg_manifest_parse(data, len, &img->manifest, err) < 0) {
				nib_err_wrap(err, "manifest %s", cur.digest);
				goto fail_wrap;
			}
			break;
		}
		if (!stg_media_type_is_index(cur.media_type)) {
			nib_err(err, NIB_ERR_CORRUPT, 0, "%s: '%s' is not a manifest or an index",
				what, cur.media_type);
			goto fail;
		}
		_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
		if (stg_index_parse(data, len, &ix, err) < 0) {
			nib_err_wrap(err, "index %s", cur.digest);
			goto fail_wrap;
		}
		const struct stg_descriptor *next = stg_index_pick(ix, want);
		if (!next) {
			_cleanup_free_ char *ws = stg_platform_want_string(want),
					    *avail = stg_index_platforms(ix);
			nib_err(err, NIB_ERR_NOT_FOUND, 0,
				"%s: no manifest for %s in index %s (it has %s)", what, ws,
				cur.digest, avail);
			goto fail;
		}
		struct stg_descriptor tmp;
		stg_descriptor_copy(&tmp, next);
		stg_descriptor_clear(&cur);
		cur = tmp;
	}
	img->desc = cur;
	{
		_cleanup_free_ char *cfg = NULL;
		size_t clen = 0;
		const struct stg_descriptor *c = &img->manifest->config;
		if (!streq(c->media_type, STG_MT_OCI_CONFIG) &&
		    !streq(c->media_type, STG_MT_DOCKER_CONFIG))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: config media type '%s' is not an image config", what,
				       c->media_type);
		if (stg_blob_read(st, c->digest, STG_CONFIG_MAX, &cfg, &clen, err) < 0)
			return nib_err_wrap(err, "%s", what);
		if (c->size != (int64_t)clen)
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: config %s is %zu bytes, its descriptor says %lld", what,
				       c->digest, clen, (long long)c->size);
		if (stg_config_parse(cfg, clen, &img->config, err) < 0)
			return nib_err_wrap(err, "%s: config %s", what, c->digest);
		img->id = xstrdup(c->digest);
	}
	img->size = img->desc.size + img->manifest->config.size;
	for (size_t i = 0; i < img->manifest->n_layers; i++)
		img->size += img->manifest->layers[i].size;
	load_source(st, img);
	*out = steal_pointer(&img);
	return 0;
fail_wrap:
	nib_err_wrap(err, "%s", what);
fail:
	stg_descriptor_clear(&cur);
	return -1;
}

int stg_image_load(struct stg_store *st, const struct stg_descriptor *entry, struct stg_image **out,
		   struct nib_error *err)
{
	return image_load(st, entry, NULL, out, err);
}

void stg_image_list_free(struct stg_image **imgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		stg_image_free(imgs[i]);
	free(imgs);
}

/* A multi-platform entry without the host's platform (a list built for
 * others): listed by the image of its first platform. */
static int list_any_platform(struct stg_store *st, const struct stg_descriptor *entry,
			     struct stg_image **out)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	size_t len = 0;

	if (!stg_media_type_is_index(entry->media_type) ||
	    stg_blob_read(st, entry->digest, STG_MANIFEST_MAX, &data, &len, NULL) < 0 ||
	    stg_index_parse(data, len, &ix, NULL) < 0)
		return -1;
	for (size_t i = 0; i < ix->n_manifests; i++)
		if (ix->manifests[i].platform &&
		    image_load(st, entry, ix->manifests[i].platform, out, NULL) == 0)
			return 0;
	return -1;
}

int stg_image_list(struct stg_store *st, struct stg_image ***out, size_t *n, struct nib_error *err)
{
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	struct stg_image **imgs;
	size_t k = 0;

	if (stg_store_index_load(st, &ix, err) < 0)
		return -1;
	imgs = xcalloc(ix->n_manifests + 1, sizeof(*imgs));
	for (size_t i = 0; i < ix->n_manifests; i++) {
		struct nib_error e = {0};
		if (stg_image_load(st, &ix->manifests[i], &imgs[k], &e) < 0 &&
		    list_any_platform(st, &ix->manifests[i], &imgs[k]) < 0) {
			log_warn("skipping %s", e.msg);
			nib_err_clear(&e);
			continue;
		}
		nib_err_clear(&e);
		k++;
	}
	*out = imgs;
	*n = k;
	return 0;
}

static bool all_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int stg_image_lookup(struct stg_store *st, const char *name, struct stg_image **out,
		     struct nib_error *err)
{
	return stg_image_lookup_platform(st, name, NULL, out, err);
}

int stg_image_lookup_platform(struct stg_store *st, const char *name,
			      const struct stg_platform *want, struct stg_image **out,
			      struct nib_error *err)
{
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	const char *hex = nib_str_has_prefix(name, "sha256:") ? name + 7 : name;
	bool by_id = strlen(hex) >= 3 && strlen(hex) <= 64 && all_hex(hex);
	_cleanup_(stg_image_freep) struct stg_image *found = NULL;

	if (stg_store_index_load(st, &ix, err) < 0)
		return -1;
	/* 1. exact name */
	for (size_t i = ix->n_manifests; i-- > 0;) {
		const char *r = entry_ref(&ix->manifests[i]);
		if (r && streq(r, name))
			return image_load(st, &ix->manifests[i], want, out, err);
	}
	/* 2. manifest digest: the stored one, or the registry's for a manifest
	 * converted on pull */
	if (nib_digest_valid(name)) {
		for (size_t i = 0; i < ix->n_manifests; i++)
			if (streq(ix->manifests[i].digest, name))
				return image_load(st, &ix->manifests[i], want, out, err);
		for (size_t i = 0; i < ix->n_manifests; i++) {
			const char *src = stg_map_get(&ix->manifests[i].annotations,
						      STG_ANNOTATION_SOURCE_DIGEST);
			if (src && streq(src, name))
				return image_load(st, &ix->manifests[i], want, out, err);
		}
	}
	/* 3. image ID or a unique prefix of it */
	if (by_id) {
		for (size_t i = 0; i < ix->n_manifests; i++) {
			_cleanup_(stg_image_freep) struct stg_image *img = NULL;
			if (image_load(st, &ix->manifests[i], want, &img, NULL) < 0)
				continue;
			if (!nib_str_has_prefix(nib_digest_hex(img->id), hex))
				continue;
			if (found && !streq(found->id, img->id))
				return nib_err(err, NIB_ERR_USAGE, 0,
					       "image ID prefix '%s' is ambiguous in %s (%s, %s)",
					       name, st->path, found->id, img->id);
			/* prefer a tagged entry for the same ID */
			if (!found || (!found->ref && img->ref)) {
				stg_image_free(found);
				found = steal_pointer(&img);
			}
		}
		if (found) {
			*out = steal_pointer(&found);
			return 0;
		}
	}
	return nib_err(err, NIB_ERR_NOT_FOUND, 0, "image '%s' not found in %s", name, st->path);
}

/* ---- storing a manifest -------------------------------------------------------------- */

static int check_present(struct stg_store *st, const struct stg_descriptor *d, const char *what,
			 struct nib_error *err)
{
	int64_t size = stg_blob_size(st, d->digest);
	if (size == d->size)
		return 0;
	if (size < 0 && d->urls.len)
		return 0; /* a foreign layer: fetched from its URLs, never stored */
	if (size < 0)
		return nib_err(err, NIB_ERR_NOT_FOUND, 0, "%s %s is not in the store", what,
			       d->digest);
	return nib_err(err, NIB_ERR_CORRUPT, 0, "%s %s is %lld bytes, its descriptor says %lld",
		       what, d->digest, (long long)size, (long long)d->size);
}

int stg_image_put(struct stg_store *st, const char *manifest, size_t len, const char *const *refs,
		  size_t n_refs, char out[NIB_DIGEST_LEN + 1], struct nib_error *err)
{
	const char *mt = stg_doc_media_type(manifest, len);
	struct stg_descriptor d = {0};
	char digest[NIB_DIGEST_LEN + 1];
	int ret = -1;

	if (stg_media_type_is_manifest(mt)) {
		_cleanup_(stg_manifest_freep) struct stg_manifest *m = NULL;
		if (stg_manifest_parse(manifest, len, &m, err) < 0 ||
		    check_present(st, &m->config, "config", err) < 0)
			return nib_err_wrap(err, "manifest");
		for (size_t i = 0; i < m->n_layers; i++)
			if (check_present(st, &m->layers[i], "layer", err) < 0)
				return nib_err_wrap(err, "manifest");
	} else if (stg_media_type_is_index(mt)) {
		_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
		if (stg_index_parse(manifest, len, &ix, err) < 0)
			return nib_err_wrap(err, "index");
		for (size_t i = 0; i < ix->n_manifests; i++)
			if (check_present(st, &ix->manifests[i], "manifest", err) < 0)
				return nib_err_wrap(err, "index");
	} else {
		/* parse again for the precise error */
		_cleanup_(stg_manifest_freep) struct stg_manifest *m = NULL;
		if (stg_manifest_parse(manifest, len, &m, err) < 0)
			return nib_err_wrap(err, "manifest");
		return nib_err(err, NIB_ERR_CORRUPT, 0, "not an image manifest or index");
	}
	if (stg_blob_put(st, manifest, len, NULL, digest, err) < 0)
		return -1;
	d.media_type = xstrdup(mt);
	d.digest = xstrdup(digest);
	d.size = (int64_t)len;
	/* a Docker manifest is tagged in its OCI form (stg_image_import), so
	 * that OCI tools read every entry of the store */
	if (n_refs == 0) {
		ret = stg_image_import(st, NULL, &d, NULL, err);
	} else {
		for (size_t i = 0; i < n_refs; i++)
			if ((ret = stg_image_import(st, refs[i], &d, NULL, err)) < 0)
				break;
	}
	stg_descriptor_clear(&d);
	if (ret == 0 && out)
		memcpy(out, digest, NIB_DIGEST_LEN + 1);
	return ret;
}

int stg_image_convert(struct stg_store *st, const struct stg_image *img, enum stg_format to,
		      struct stg_descriptor *out, struct nib_error *err)
{
	_cleanup_(stg_manifest_freep) struct stg_manifest *m = stg_manifest_dup(img->manifest);
	_cleanup_buf_ struct nib_buf b = {0};
	char digest[NIB_DIGEST_LEN + 1];
	const char *what = img->ref ? img->ref : img->desc.digest;

	const char *want = to == STG_FORMAT_OCI ? STG_MT_OCI_MANIFEST : STG_MT_DOCKER_MANIFEST;

	memset(out, 0, sizeof(*out));
	if (streq(m->media_type, want)) {
		stg_descriptor_copy(out, &img->desc);
		return 0;
	}
	if (img->source.digest && streq(img->source.media_type, want)) {
		stg_descriptor_copy(out, &img->source);
		return 0;
	}
	if (stg_manifest_convert(m, to, err) < 0)
		return nib_err_wrap(err, "%s", what);
	stg_manifest_generate(m, &b);
	if (stg_blob_put(st, b.data, b.len, NULL, digest, err) < 0)
		return -1;
	out->media_type = xstrdup(m->media_type);
	out->digest = xstrdup(digest);
	out->size = (int64_t)b.len;
	return 0;
}

int stg_image_import(struct stg_store *st, const char *ref, const struct stg_descriptor *desc,
		     struct stg_descriptor *out, struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_(stg_manifest_freep) struct stg_manifest *m = NULL;
	_cleanup_buf_ struct nib_buf b = {0};
	struct stg_descriptor d = {0};
	char digest[NIB_DIGEST_LEN + 1];
	const char *what = ref ? ref : desc->digest;
	size_t len = 0;
	int ret;

	if (out)
		memset(out, 0, sizeof(*out));
	if (stg_blob_read(st, desc->digest, STG_MANIFEST_MAX, &data, &len, err) < 0)
		return nib_err_wrap(err, "%s", what);
	/* the document's own media type decides (a registry's Content-Type may
	 * differ in parameters or be missing) */
	if (!streq(stg_doc_media_type(data, len) ?: "", STG_MT_DOCKER_MANIFEST)) {
		ret = stg_image_tag(st, ref, desc, err);
		if (ret == 0 && out)
			stg_descriptor_copy(out, desc);
		return ret;
	}
	if (stg_manifest_parse(data, len, &m, err) < 0)
		return nib_err_wrap(err, "%s: manifest %s", what, desc->digest);
	{
		/* a layer type with no OCI name: kept as it came (nib reads it;
		 * OCI-only tools will not) */
		struct nib_error e = {0};
		if (stg_manifest_convert(m, STG_FORMAT_OCI, &e) < 0) {
			log_warn("%s: kept as a Docker manifest: %s", what, e.msg);
			nib_err_clear(&e);
			ret = stg_image_tag(st, ref, desc, err);
			if (ret == 0 && out)
				stg_descriptor_copy(out, desc);
			return ret;
		}
	}
	stg_manifest_generate(m, &b);
	if (stg_blob_put(st, b.data, b.len, NULL, digest, err) < 0)
		return nib_err_wrap(err, "%s", what);
	d.media_type = xstrdup(STG_MT_OCI_MANIFEST);
	d.digest = xstrdup(digest);
	d.size = (int64_t)b.len;
	stg_map_copy(&d.annotations, &desc->annotations);
	stg_map_set(&d.annotations, STG_ANNOTATION_SOURCE_DIGEST, desc->digest);
	ret = stg_image_tag(st, ref, &d, err);
	if (ret == 0 && out)
		*out = d;
	else
		stg_descriptor_clear(&d);
	return ret;
}

int stg_image_convert_index(struct stg_store *st, const struct stg_image *img, enum stg_format to,
			    struct stg_descriptor *out, struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	_cleanup_buf_ struct nib_buf b = {0};
	const char *what = img->ref ? img->ref : img->entry.digest;
	const char *want = to == STG_FORMAT_OCI ? STG_MT_OCI_MANIFEST : STG_MT_DOCKER_MANIFEST;
	char digest[NIB_DIGEST_LEN + 1];
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	if (!stg_media_type_is_index(img->entry.media_type))
		return stg_image_convert(st, img, to, out, err);
	if (stg_blob_read(st, img->entry.digest, STG_MANIFEST_MAX, &data, &len, err) < 0)
		return nib_err_wrap(err, "%s", what);
	if (stg_index_parse(data, len, &ix, err) < 0)
		return nib_err_wrap(err, "%s: index %s", what, img->entry.digest);
	bool same = streq(ix->media_type ? ix->media_type : STG_MT_OCI_INDEX,
			  to == STG_FORMAT_OCI ? STG_MT_OCI_INDEX : STG_MT_DOCKER_LIST);
	for (size_t i = 0; i < ix->n_manifests; i++)
		same = same && streq(ix->manifests[i].media_type, want);
	if (same) {
		stg_descriptor_copy(out, &img->entry);
		stg_map_free(&out->annotations);
		return 0;
	}
	for (size_t i = 0; i < ix->n_manifests; i++) {
		struct stg_descriptor *d = &ix->manifests[i];
		_cleanup_free_ char *mdata = NULL;
		_cleanup_(stg_manifest_freep) struct stg_manifest *m = NULL;
		_cleanup_buf_ struct nib_buf mb = {0};
		size_t mlen = 0;

		if (!stg_media_type_is_manifest(d->media_type))
			return nib_err(
			    err, NIB_ERR_CORRUPT, 0,
			    "%s: index %s: manifests[%zu] is '%s', not an image manifest", what,
			    img->entry.digest, i, d->media_type);
		if (streq(d->media_type, want))
			continue;
		if (stg_blob_read(st, d->digest, STG_MANIFEST_MAX, &mdata, &mlen, err) < 0)
			return nib_err_wrap(err, "%s: index %s", what, img->entry.digest);
		if (stg_manifest_parse(mdata, mlen, &m, err) < 0 ||
		    stg_manifest_convert(m, to, err) < 0)
			return nib_err_wrap(err, "%s: manifests[%zu] %s", what, i, d->digest);
		stg_manifest_generate(m, &mb);
		if (stg_blob_put(st, mb.data, mb.len, NULL, digest, err) < 0)
			return nib_err_wrap(err, "%s", what);
		free(d->digest);
		d->digest = xstrdup(digest);
		d->size = (int64_t)mb.len;
		if (to == STG_FORMAT_DOCKER)
			stg_map_free(&d->annotations); /* a manifest list has none */
	}
	if (stg_index_convert(ix, to, err) < 0)
		return nib_err_wrap(err, "%s: index %s", what, img->entry.digest);
	stg_index_generate(ix, &b);
	if (stg_blob_put(st, b.data, b.len, NULL, digest, err) < 0)
		return nib_err_wrap(err, "%s", what);
	out->media_type = xstrdup(ix->media_type);
	out->digest = xstrdup(digest);
	out->size = (int64_t)b.len;
	return 0;
}
