/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registry build cache, for CI pods that start with an empty store.
 * Each step's result is a small OCI manifest in the cache repository,
 * tagged "nib-" + the hex of the step's key: the empty config, the step's
 * layer (none for a step without one) and two annotations, the step's
 * creation time and the layer's DiffID. --cache-to pushes one per step;
 * --cache-from looks a step up in each repository after a local miss and
 * fetches its layer; since keys chain the inputs, not the hits, a miss
 * does not stop later steps from hitting.
 */
#define BLD_BUILD_INTERNAL
#include <string.h>
#include <time.h>

#include "builder/build_internal.h"
#include "registry/registry.h"

#define ANN_CREATED "org.nib.cache.created"
#define ANN_DIFF_ID "org.nib.cache.diff-id"
#define EMPTY_JSON  "{}"

static int client(struct bld_build *b, struct nib_error *err)
{
	struct reg_client *rc;
	return bld_build_client(b, &rc, err);
}

static int key_ref(struct bld_build *b, const char *repo, const char *key, struct reg_ref *ref,
		   struct nib_error *err)
{
	if (reg_ref_resolve(reg_client_conf(b->rc), repo, ref, err) < 0)
		return -1;
	free(ref->tag);
	free(ref->digest);
	ref->digest = NULL;
	ref->tag = xasprintf("nib-%s", nib_digest_hex(key));
	return 0;
}

/* RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" -> seconds, or -1. */
static int64_t parse_time(const char *s)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	return end ? (int64_t)timegm(&tm) : -1;
}

static int lookup_one(struct bld_build *b, const char *repo, const char *key,
		      struct bld_cache_entry *e, struct nib_error *err)
{
	_cleanup_ref_ struct reg_ref ref = {0};
	_cleanup_free_ char *data = NULL;
	_cleanup_(stg_manifest_freep) struct stg_manifest *m = NULL;
	struct reg_desc d = {0};
	size_t len = 0;
	const char *created, *diff;

	if (key_ref(b, repo, key, &ref, err) < 0)
		return -1;
	if (reg_manifest_get(b->rc, &ref, &data, &len, &d, err) < 0) {
		reg_desc_clear(&d);
		return err->kind == NIB_ERR_NOT_FOUND ? 0 : -1;
	}
	reg_desc_clear(&d);
	if (stg_manifest_parse(data, len, &m, err) < 0)
		return -1;
	created = stg_map_get(&m->annotations, ANN_CREATED);
	diff = stg_map_get(&m->annotations, ANN_DIFF_ID);
	if (!created || m->n_layers > 1 || (m->n_layers == 1 && (!diff || !nib_digest_valid(diff))))
		return 0;
	if (b->o->cache_ttl > 0) {
		int64_t t = parse_time(created);
		if (t < 0 || (int64_t)time(NULL) - t > b->o->cache_ttl)
			return 0;
	}
	memset(e, 0, sizeof(*e));
	snprintf(e->created, sizeof(e->created), "%s", created);
	if (m->n_layers == 1) {
		struct reg_desc ld = {.media_type = m->layers[0].media_type,
				      .size = m->layers[0].size};
		snprintf(ld.digest, sizeof(ld.digest), "%s", m->layers[0].digest);
		if (!stg_blob_exists(b->st, ld.digest) &&
		    reg_blob_get(b->rc, b->st, &ref, &ld, err) < 0)
			return -1;
		e->has_layer = true;
		snprintf(e->layer.digest, sizeof(e->layer.digest), "%s", m->layers[0].digest);
		snprintf(e->layer.diff_id, sizeof(e->layer.diff_id), "%s", diff);
		e->layer.size = m->layers[0].size;
		e->layer.media_type = xstrdup(m->layers[0].media_type);
	}
	return 1;
}

int bld_regcache_get(struct bld_build *b, const char *key, struct bld_cache_entry *e)
{
	struct nib_error err = {0};

	if (!b->o->cache_from.len || client(b, &err) < 0)
		goto out;
	for (size_t i = 0; i < b->o->cache_from.len; i++) {
		int r = lookup_one(b, b->o->cache_from.v[i], key, e, &err);
		if (r == 1) {
			log_info("cache: %s found in %s", key, b->o->cache_from.v[i]);
			bld_cache_put(b, key, e); /* and locally from now on */
			return 1;
		}
		if (r < 0)
			log_warn("cache %s: %s", b->o->cache_from.v[i], err.msg);
		nib_err_clear(&err);
	}
out:
	if (err.kind != NIB_ERR_NONE)
		log_warn("registry cache: %s", err.msg);
	nib_err_clear(&err);
	return 0;
}

void bld_regcache_put(struct bld_build *b, const char *key, const struct bld_cache_entry *e)
{
	struct nib_error err = {0};
	_cleanup_ref_ struct reg_ref ref = {0};
	_cleanup_buf_ struct nib_buf mj = {0};
	struct stg_manifest m = {0};
	struct stg_descriptor layer = {0};
	char cdigest[NIB_DIGEST_LEN + 1], out[NIB_DIGEST_LEN + 1];

	if (!b->o->cache_to || client(b, &err) < 0 ||
	    key_ref(b, b->o->cache_to, key, &ref, &err) < 0)
		goto out;
	if (stg_blob_put(b->st, EMPTY_JSON, strlen(EMPTY_JSON), NULL, cdigest, &err) < 0)
		goto out;
	struct reg_desc cd = {.media_type = (char *)STG_MT_OCI_EMPTY, .size = 2};
	snprintf(cd.digest, sizeof(cd.digest), "%s", cdigest);
	if (reg_blob_put(b->rc, b->st, &ref, &cd, NULL, &err) < 0)
		goto out;
	m.schema_version = 2;
	m.media_type = (char *)STG_MT_OCI_MANIFEST;
	m.config.media_type = (char *)STG_MT_OCI_EMPTY;
	m.config.digest = cdigest;
	m.config.size = 2;
	stg_map_set(&m.annotations, ANN_CREATED, e->created);
	if (e->has_layer) {
		struct reg_desc ld = {.media_type = e->layer.media_type, .size = e->layer.size};
		snprintf(ld.digest, sizeof(ld.digest), "%s", e->layer.digest);
		if (reg_blob_put(b->rc, b->st, &ref, &ld, NULL, &err) < 0)
			goto out;
		layer.media_type = e->layer.media_type;
		layer.digest = (char *)e->layer.digest;
		layer.size = e->layer.size;
		m.layers = &layer;
		m.n_layers = 1;
		stg_map_set(&m.annotations, ANN_DIFF_ID, e->layer.diff_id);
	}
	stg_manifest_generate(&m, &mj);
	if (reg_manifest_put(b->rc, &ref, STG_MT_OCI_MANIFEST, mj.data, mj.len, out, &err) < 0)
		goto out;
	if (nib_log_get_event_format() == NIB_LOG_JSON) {
		_cleanup_buf_ struct nib_buf f = {0};
		nib_buf_printf(&f, "\"key\":\"%s\",\"repo\":", key);
		nib_buf_json_string(&f, b->o->cache_to);
		nib_buf_printf(&f, ",\"digest\":\"%s\"", out);
		nib_log_event("cache_push", f.data, NULL);
	}
out:
	stg_map_free(&m.annotations);
	if (err.kind != NIB_ERR_NONE)
		log_warn("--cache-to %s: %s", b->o->cache_to, err.msg);
	nib_err_clear(&err);
}
