/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI descriptors, manifests and indexes, and their Docker schema2
 * counterparts: strict parsing with validation, canonical generation and
 * conversion between the two formats.
 */
#define NIB_STORAGE_INTERNAL
#include <string.h>

#include "storage/store_internal.h"

/* ---- string maps ------------------------------------------------------------ */

static ssize_t map_find(const struct stg_map *m, const char *key, bool *found)
{
	size_t lo = 0, hi = m->keys.len;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(m->keys.v[mid], key);
		if (c == 0) {
			*found = true;
			return (ssize_t)mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return (ssize_t)lo;
}

static void strv_insert(struct nib_strv *sv, size_t at, const char *s)
{
	nib_strv_push(sv, s);
	char *last = sv->v[sv->len - 1];
	memmove(&sv->v[at + 1], &sv->v[at], (sv->len - 1 - at) * sizeof(char *));
	sv->v[at] = last;
}

static void strv_remove(struct nib_strv *sv, size_t at)
{
	free(sv->v[at]);
	memmove(&sv->v[at], &sv->v[at + 1], (sv->len - at) * sizeof(char *));
	sv->len--;
}

void stg_map_set(struct stg_map *m, const char *key, const char *value)
{
	bool found;
	ssize_t i = map_find(m, key, &found);
	if (found) {
		free(m->values.v[i]);
		m->values.v[i] = xstrdup(value);
		return;
	}
	strv_insert(&m->keys, (size_t)i, key);
	strv_insert(&m->values, (size_t)i, value);
}

const char *stg_map_get(const struct stg_map *m, const char *key)
{
	bool found;
	ssize_t i = map_find(m, key, &found);
	return found ? m->values.v[i] : NULL;
}

bool stg_map_del(struct stg_map *m, const char *key)
{
	bool found;
	ssize_t i = map_find(m, key, &found);
	if (!found)
		return false;
	strv_remove(&m->keys, (size_t)i);
	strv_remove(&m->values, (size_t)i);
	return true;
}

void stg_map_free(struct stg_map *m)
{
	nib_strv_free(&m->keys);
	nib_strv_free(&m->values);
}

void stg_map_copy(struct stg_map *dst, const struct stg_map *src)
{
	for (size_t i = 0; i < src->keys.len; i++)
		stg_map_set(dst, src->keys.v[i], src->values.v[i]);
}

int stg_format_parse(const char *s)
{
	if (streq(s, "oci"))
		return STG_FORMAT_OCI;
	if (streq(s, "docker"))
		return STG_FORMAT_DOCKER;
	return -1;
}

/* ---- JSON field helpers ---------------------------------------------------- */

static int type_err(struct nib_error *err, const char *path, const char *key, const char *what)
{
	return nib_err(err, NIB_ERR_CORRUPT, 0, "%s%s%s: must be %s", path, *path ? "." : "", key,
		       what);
}

static int missing(struct nib_error *err, const char *path, const char *key)
{
	return nib_err(err, NIB_ERR_CORRUPT, 0, "%s%s%s: required field missing", path,
		       *path ? "." : "", key);
}

int stg_j_str(json_object *o, const char *key, const char *path, bool required, char **out,
	      struct nib_error *err)
{
	json_object *v = NULL;
	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return required ? missing(err, path, key) : 0;
	if (!json_object_is_type(v, json_type_string))
		return type_err(err, path, key, "a string");
	*out = xstrdup(json_object_get_string(v));
	return 0;
}

int stg_j_int64(json_object *o, const char *key, const char *path, bool required, int64_t *out,
		struct nib_error *err)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return required ? missing(err, path, key) : 0;
	if (!json_object_is_type(v, json_type_int))
		return type_err(err, path, key, "an integer");
	*out = json_object_get_int64(v);
	return 0;
}

int stg_j_bool(json_object *o, const char *key, const char *path, bool *out, struct nib_error *err)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return type_err(err, path, key, "a boolean");
	*out = json_object_get_boolean(v);
	return 0;
}

int stg_j_strv(json_object *o, const char *key, const char *path, struct nib_strv *out,
	       bool *present, struct nib_error *err)
{
	json_object *v = NULL;
	if (present)
		*present = false;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return type_err(err, path, key, "an array of strings");
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		json_object *e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_string))
			return type_err(err, path, key, "an array of strings");
		nib_strv_push(out, json_object_get_string(e));
	}
	if (present)
		*present = true;
	return 0;
}

int stg_j_obj(json_object *o, const char *key, const char *path, json_object **out,
	      struct nib_error *err)
{
	json_object *v = NULL;
	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return type_err(err, path, key, "an object");
	*out = v;
	return 0;
}

int stg_j_map(json_object *o, const char *key, const char *path, struct stg_map *out,
	      struct nib_error *err)
{
	json_object *m;
	if (stg_j_obj(o, key, path, &m, err) < 0)
		return -1;
	if (!m)
		return 0;
	json_object_object_foreach(m, k, v)
	{
		if (!json_object_is_type(v, json_type_string))
			return nib_err(err, NIB_ERR_CORRUPT, 0, "%s%s%s[\"%s\"]: must be a string",
				       path, *path ? "." : "", key, k);
		stg_map_set(out, k, json_object_get_string(v));
	}
	return 0;
}

int stg_j_set(json_object *o, const char *key, const char *path, struct nib_strv *out,
	      struct nib_error *err)
{
	json_object *m;
	if (stg_j_obj(o, key, path, &m, err) < 0)
		return -1;
	if (!m)
		return 0;
	json_object_object_foreach(m, k, v)
	{
		(void)v;
		nib_strv_push(out, k);
	}
	nib_strv_sort(out);
	return 0;
}

void stg_j_add_str(json_object *o, const char *key, const char *val)
{
	if (val)
		json_object_object_add(o, key, json_object_new_string(val));
}

static json_object *strv_json(const struct nib_strv *sv)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < sv->len; i++)
		json_object_array_add(a, json_object_new_string(sv->v[i]));
	return a;
}

void stg_j_add_strv(json_object *o, const char *key, const struct nib_strv *sv)
{
	if (sv->len)
		json_object_object_add(o, key, strv_json(sv));
}

void stg_j_add_map(json_object *o, const char *key, const struct stg_map *m)
{
	if (!m->keys.len)
		return;
	json_object *j = json_object_new_object();
	for (size_t i = 0; i < m->keys.len; i++)
		json_object_object_add(j, m->keys.v[i], json_object_new_string(m->values.v[i]));
	json_object_object_add(o, key, j);
}

void stg_j_add_set(json_object *o, const char *key, const struct nib_strv *sv)
{
	if (!sv->len)
		return;
	json_object *j = json_object_new_object();
	for (size_t i = 0; i < sv->len; i++)
		json_object_object_add(j, sv->v[i], json_object_new_object());
	json_object_object_add(o, key, j);
}

/* ---- media types ------------------------------------------------------------ */

/* RFC 6838 section 4.2 restricted-name characters. */
static bool restricted_name(const char *s, size_t n)
{
	if (n == 0 || n > 127)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (alnum)
			continue;
		if (i == 0 || !strchr("!#$&-^_.+", c))
			return false;
	}
	return true;
}

bool stg_media_type_valid(const char *mt)
{
	const char *slash = mt ? strchr(mt, '/') : NULL;
	if (!slash)
		return false;
	return restricted_name(mt, (size_t)(slash - mt)) &&
	       restricted_name(slash + 1, strlen(slash + 1));
}

bool stg_media_type_is_manifest(const char *mt)
{
	return mt && (streq(mt, STG_MT_OCI_MANIFEST) || streq(mt, STG_MT_DOCKER_MANIFEST));
}

bool stg_media_type_is_index(const char *mt)
{
	return mt && (streq(mt, STG_MT_OCI_INDEX) || streq(mt, STG_MT_DOCKER_LIST));
}

const char *stg_doc_media_type(const char *data, size_t len)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	json_object *v = NULL;
	static const char *const known[] = {STG_MT_OCI_MANIFEST, STG_MT_DOCKER_MANIFEST,
					    STG_MT_OCI_INDEX, STG_MT_DOCKER_LIST};

	if (stg_json_parse(data, len, STG_MANIFEST_MAX, STG_JSON_MAX_DEPTH, &o, NULL) < 0 ||
	    !json_object_is_type(o, json_type_object))
		return NULL;
	if (json_object_object_get_ex(o, "mediaType", &v) &&
	    json_object_is_type(v, json_type_string)) {
		for (size_t i = 0; i < ARRAY_SIZE(known); i++)
			if (streq(json_object_get_string(v), known[i]))
				return known[i];
		return NULL;
	}
	if (json_object_object_get_ex(o, "manifests", NULL))
		return STG_MT_OCI_INDEX;
	if (json_object_object_get_ex(o, "config", NULL))
		return STG_MT_OCI_MANIFEST;
	return NULL;
}

/* ---- platform and descriptor ----------------------------------------------- */

static void platform_free(struct stg_platform *p)
{
	if (!p)
		return;
	free(p->architecture);
	free(p->os);
	free(p->os_version);
	free(p->variant);
	nib_strv_free(&p->os_features);
	free(p);
}

static struct stg_platform *platform_dup(const struct stg_platform *p)
{
	if (!p)
		return NULL;
	struct stg_platform *n = xcalloc(1, sizeof(*n));
	n->architecture = p->architecture ? xstrdup(p->architecture) : NULL;
	n->os = p->os ? xstrdup(p->os) : NULL;
	n->os_version = p->os_version ? xstrdup(p->os_version) : NULL;
	n->variant = p->variant ? xstrdup(p->variant) : NULL;
	for (size_t i = 0; i < p->os_features.len; i++)
		nib_strv_push(&n->os_features, p->os_features.v[i]);
	return n;
}

void stg_descriptor_clear(struct stg_descriptor *d)
{
	free(d->media_type);
	free(d->digest);
	nib_strv_free(&d->urls);
	stg_map_free(&d->annotations);
	free(d->artifact_type);
	free(d->data);
	platform_free(d->platform);
	memset(d, 0, sizeof(*d));
}

static char *dupn(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void stg_descriptor_copy(struct stg_descriptor *dst, const struct stg_descriptor *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->media_type = dupn(src->media_type);
	dst->digest = dupn(src->digest);
	dst->size = src->size;
	for (size_t i = 0; i < src->urls.len; i++)
		nib_strv_push(&dst->urls, src->urls.v[i]);
	stg_map_copy(&dst->annotations, &src->annotations);
	dst->artifact_type = dupn(src->artifact_type);
	dst->data = dupn(src->data);
	dst->platform = platform_dup(src->platform);
}

int stg_descriptor_from_json(json_object *o, const char *path, struct stg_descriptor *d,
			     struct nib_error *err)
{
	json_object *p = NULL;

	memset(d, 0, sizeof(*d));
	if (!o || !json_object_is_type(o, json_type_object))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: must be an object", path);
	d->size = -1;
	if (stg_j_str(o, "mediaType", path, true, &d->media_type, err) < 0 ||
	    stg_j_str(o, "digest", path, true, &d->digest, err) < 0 ||
	    stg_j_int64(o, "size", path, true, &d->size, err) < 0 ||
	    stg_j_strv(o, "urls", path, &d->urls, NULL, err) < 0 ||
	    stg_j_map(o, "annotations", path, &d->annotations, err) < 0 ||
	    stg_j_str(o, "artifactType", path, false, &d->artifact_type, err) < 0 ||
	    stg_j_str(o, "data", path, false, &d->data, err) < 0 ||
	    stg_j_obj(o, "platform", path, &p, err) < 0)
		return -1;
	if (!stg_media_type_valid(d->media_type))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s.mediaType: invalid media type '%s'",
			       path, d->media_type);
	if (!nib_digest_valid(d->digest))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s.digest: invalid digest '%s'", path,
			       d->digest);
	if (d->size < 0)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s.size: negative size %lld", path,
			       (long long)d->size);
	if (d->artifact_type && !stg_media_type_valid(d->artifact_type))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s.artifactType: invalid media type '%s'",
			       path, d->artifact_type);
	if (p) {
		_cleanup_free_ char *pp = xasprintf("%s.platform", path);
		d->platform = xcalloc(1, sizeof(*d->platform));
		if (stg_j_str(p, "architecture", pp, true, &d->platform->architecture, err) < 0 ||
		    stg_j_str(p, "os", pp, true, &d->platform->os, err) < 0 ||
		    stg_j_str(p, "os.version", pp, false, &d->platform->os_version, err) < 0 ||
		    stg_j_str(p, "variant", pp, false, &d->platform->variant, err) < 0 ||
		    stg_j_strv(p, "os.features", pp, &d->platform->os_features, NULL, err) < 0)
			return -1;
	}
	return 0;
}

json_object *stg_descriptor_to_json(const struct stg_descriptor *d)
{
	json_object *o = json_object_new_object();
	stg_j_add_str(o, "mediaType", d->media_type);
	stg_j_add_str(o, "digest", d->digest);
	json_object_object_add(o, "size", json_object_new_int64(d->size));
	stg_j_add_strv(o, "urls", &d->urls);
	stg_j_add_map(o, "annotations", &d->annotations);
	stg_j_add_str(o, "artifactType", d->artifact_type);
	stg_j_add_str(o, "data", d->data);
	if (d->platform) {
		json_object *p = json_object_new_object();
		stg_j_add_str(p, "architecture", d->platform->architecture);
		stg_j_add_str(p, "os", d->platform->os);
		stg_j_add_str(p, "os.version", d->platform->os_version);
		stg_j_add_str(p, "variant", d->platform->variant);
		stg_j_add_strv(p, "os.features", &d->platform->os_features);
		json_object_object_add(o, "platform", p);
	}
	return o;
}

/* ---- shared document header ------------------------------------------------- */

static int parse_doc(const char *data, size_t len, json_object **out, struct nib_error *err)
{
	if (stg_json_parse(data, len, STG_MANIFEST_MAX, STG_JSON_MAX_DEPTH, out, err) < 0)
		return -1;
	if (!*out || !json_object_is_type(*out, json_type_object))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "document is not a JSON object");
	return 0;
}

static int parse_schema_version(json_object *o, int *out, struct nib_error *err)
{
	int64_t v = 0;
	if (stg_j_int64(o, "schemaVersion", "", true, &v, err) < 0)
		return -1;
	if (v != 2)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "schemaVersion: %lld is not 2",
			       (long long)v);
	*out = 2;
	return 0;
}

static int parse_descriptor_array(json_object *o, const char *key, size_t max,
				  struct stg_descriptor **out, size_t *n, struct nib_error *err)
{
	json_object *a = NULL;
	size_t len;

	if (!json_object_object_get_ex(o, key, &a) || !a)
		return missing(err, "", key);
	if (!json_object_is_type(a, json_type_array))
		return type_err(err, "", key, "an array");
	len = json_object_array_length(a);
	if (len > max)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: %zu entries, more than the limit of %zu", key, len, max);
	*out = xcalloc(len + 1, sizeof(**out));
	*n = len;
	for (size_t i = 0; i < len; i++) {
		char path[64];
		snprintf(path, sizeof(path), "%s[%zu]", key, i);
		if (stg_descriptor_from_json(json_object_array_get_idx(a, i), path, &(*out)[i],
					     err) < 0)
			return -1;
	}
	return 0;
}

static int parse_subject(json_object *o, struct stg_descriptor **out, struct nib_error *err)
{
	json_object *s;
	if (stg_j_obj(o, "subject", "", &s, err) < 0)
		return -1;
	if (!s)
		return 0;
	*out = xcalloc(1, sizeof(**out));
	return stg_descriptor_from_json(s, "subject", *out, err);
}

/* ---- manifest ------------------------------------------------------------------ */

static bool layer_type_ok(const char *docmt, const char *mt)
{
	static const char *const docker[] = {STG_MT_DOCKER_LAYER_GZIP, STG_MT_DOCKER_LAYER,
					     STG_MT_DOCKER_FOREIGN};
	if (streq(docmt, STG_MT_DOCKER_MANIFEST)) {
		for (size_t i = 0; i < ARRAY_SIZE(docker); i++)
			if (streq(mt, docker[i]))
				return true;
		return false;
	}
	return true; /* OCI: any media type (artifacts); image users check */
}

int stg_manifest_parse(const char *data, size_t len, struct stg_manifest **out,
		       struct nib_error *err)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_(stg_manifest_freep) struct stg_manifest *m = xcalloc(1, sizeof(*m));
	json_object *cfg = NULL;

	if (parse_doc(data, len, &o, err) < 0 ||
	    parse_schema_version(o, &m->schema_version, err) < 0 ||
	    stg_j_str(o, "mediaType", "", false, &m->media_type, err) < 0 ||
	    stg_j_str(o, "artifactType", "", false, &m->artifact_type, err) < 0 ||
	    stg_j_map(o, "annotations", "", &m->annotations, err) < 0)
		return -1;
	if (!m->media_type)
		m->media_type = xstrdup(STG_MT_OCI_MANIFEST); /* image-spec: SHOULD be set */
	if (!stg_media_type_is_manifest(m->media_type))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "mediaType: '%s' is not an image manifest",
			       m->media_type);
	if (json_object_object_get_ex(o, "manifests", NULL))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "manifests: an image manifest has no \"manifests\" field");
	if (!json_object_object_get_ex(o, "config", &cfg) || !cfg)
		return missing(err, "", "config");
	if (stg_descriptor_from_json(cfg, "config", &m->config, err) < 0 ||
	    parse_descriptor_array(o, "layers", STG_MAX_LAYERS, &m->layers, &m->n_layers, err) <
		0 ||
	    parse_subject(o, &m->subject, err) < 0)
		return -1;
	if (m->artifact_type && !stg_media_type_valid(m->artifact_type))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "artifactType: invalid media type '%s'",
			       m->artifact_type);
	if (streq(m->media_type, STG_MT_DOCKER_MANIFEST)) {
		if (!streq(m->config.media_type, STG_MT_DOCKER_CONFIG))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "config.mediaType: '%s' in a Docker manifest",
				       m->config.media_type);
	}
	for (size_t i = 0; i < m->n_layers; i++)
		if (!layer_type_ok(m->media_type, m->layers[i].media_type))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "layers[%zu].mediaType: '%s' in a Docker manifest", i,
				       m->layers[i].media_type);
	*out = steal_pointer(&m);
	return 0;
}

/* The rest of a manifest or index after its own fields: the descriptor
 * array NAME, the subject, the annotations; then `o` in canonical form. */
static void add_descriptors(json_object *o, const char *name, const struct stg_descriptor *d,
			    size_t n, const struct stg_descriptor *subject,
			    const struct stg_map *annotations, struct nib_buf *out)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, stg_descriptor_to_json(&d[i]));
	json_object_object_add(o, name, a);
	if (subject)
		json_object_object_add(o, "subject", stg_descriptor_to_json(subject));
	stg_j_add_map(o, "annotations", annotations);
	stg_json_canonical(o, out);
}

/* Free what add_descriptors writes from: the array and the subject. */
static void free_descriptors(struct stg_descriptor *d, size_t n, struct stg_descriptor *subject)
{
	for (size_t i = 0; i < n; i++)
		stg_descriptor_clear(&d[i]);
	free(d);
	if (subject)
		stg_descriptor_clear(subject);
	free(subject);
}

void stg_manifest_generate(const struct stg_manifest *m, struct nib_buf *out)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();

	json_object_object_add(o, "schemaVersion", json_object_new_int(2));
	stg_j_add_str(o, "mediaType", m->media_type ? m->media_type : STG_MT_OCI_MANIFEST);
	stg_j_add_str(o, "artifactType", m->artifact_type);
	json_object_object_add(o, "config", stg_descriptor_to_json(&m->config));
	add_descriptors(o, "layers", m->layers, m->n_layers, m->subject, &m->annotations, out);
}

void stg_manifest_free(struct stg_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	free(m->artifact_type);
	stg_descriptor_clear(&m->config);
	free_descriptors(m->layers, m->n_layers, m->subject);
	stg_map_free(&m->annotations);
	free(m);
}

struct stg_manifest *stg_manifest_dup(const struct stg_manifest *m)
{
	struct stg_manifest *n = xcalloc(1, sizeof(*n));
	n->schema_version = m->schema_version;
	n->media_type = dupn(m->media_type);
	n->artifact_type = dupn(m->artifact_type);
	stg_descriptor_copy(&n->config, &m->config);
	n->layers = xcalloc(m->n_layers + 1, sizeof(*n->layers));
	n->n_layers = m->n_layers;
	for (size_t i = 0; i < m->n_layers; i++)
		stg_descriptor_copy(&n->layers[i], &m->layers[i]);
	if (m->subject) {
		n->subject = xcalloc(1, sizeof(*n->subject));
		stg_descriptor_copy(n->subject, m->subject);
	}
	stg_map_copy(&n->annotations, &m->annotations);
	return n;
}

/* ---- index ------------------------------------------------------------------------ */

int stg_index_from_json(json_object *o, size_t max_manifests, struct stg_index **out,
			struct nib_error *err)
{
	_cleanup_(stg_index_freep) struct stg_index *ix = xcalloc(1, sizeof(*ix));

	if (!o || !json_object_is_type(o, json_type_object))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "document is not a JSON object");
	if (parse_schema_version(o, &ix->schema_version, err) < 0 ||
	    stg_j_str(o, "mediaType", "", false, &ix->media_type, err) < 0 ||
	    stg_j_str(o, "artifactType", "", false, &ix->artifact_type, err) < 0 ||
	    stg_j_map(o, "annotations", "", &ix->annotations, err) < 0)
		return -1;
	if (ix->media_type && !stg_media_type_is_index(ix->media_type))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "mediaType: '%s' is not an image index",
			       ix->media_type);
	if (json_object_object_get_ex(o, "config", NULL) ||
	    json_object_object_get_ex(o, "layers", NULL))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "an image index has no \"config\" or \"layers\" field");
	if (parse_descriptor_array(o, "manifests", max_manifests, &ix->manifests, &ix->n_manifests,
				   err) < 0 ||
	    parse_subject(o, &ix->subject, err) < 0)
		return -1;
	if (ix->media_type && streq(ix->media_type, STG_MT_DOCKER_LIST))
		for (size_t i = 0; i < ix->n_manifests; i++)
			if (!streq(ix->manifests[i].media_type, STG_MT_DOCKER_MANIFEST) &&
			    !streq(ix->manifests[i].media_type, STG_MT_OCI_MANIFEST))
				return nib_err(err, NIB_ERR_CORRUPT, 0,
					       "manifests[%zu].mediaType: '%s' in a Docker "
					       "manifest list",
					       i, ix->manifests[i].media_type);
	*out = steal_pointer(&ix);
	return 0;
}

int stg_index_parse(const char *data, size_t len, struct stg_index **out, struct nib_error *err)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	if (parse_doc(data, len, &o, err) < 0)
		return -1;
	return stg_index_from_json(o, STG_MAX_LAYERS * 10, out, err);
}

void stg_index_generate(const struct stg_index *ix, struct nib_buf *out)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();

	json_object_object_add(o, "schemaVersion", json_object_new_int(2));
	stg_j_add_str(o, "mediaType", ix->media_type);
	stg_j_add_str(o, "artifactType", ix->artifact_type);
	add_descriptors(o, "manifests", ix->manifests, ix->n_manifests, ix->subject,
			&ix->annotations, out);
}

void stg_index_free(struct stg_index *ix)
{
	if (!ix)
		return;
	free(ix->media_type);
	free(ix->artifact_type);
	free_descriptors(ix->manifests, ix->n_manifests, ix->subject);
	stg_map_free(&ix->annotations);
	free(ix);
}

/* ---- OCI <-> Docker ------------------------------------------------------------ */

static const struct {
	const char *oci, *docker;
} layer_types[] = {
    {STG_MT_OCI_LAYER_GZIP, STG_MT_DOCKER_LAYER_GZIP},
    {STG_MT_OCI_LAYER, STG_MT_DOCKER_LAYER},
    {STG_MT_OCI_ND_LAYER_GZIP, STG_MT_DOCKER_FOREIGN},
};

static const char *convert_layer(const char *mt, enum stg_format to)
{
	for (size_t i = 0; i < ARRAY_SIZE(layer_types); i++) {
		if (streq(mt, layer_types[i].oci) || streq(mt, layer_types[i].docker))
			return to == STG_FORMAT_OCI ? layer_types[i].oci : layer_types[i].docker;
	}
	return NULL;
}

static void replace(char **p, const char *s)
{
	free(*p);
	*p = xstrdup(s);
}

int stg_manifest_convert(struct stg_manifest *m, enum stg_format to, struct nib_error *err)
{
	const char *cfg;

	if (to == STG_FORMAT_DOCKER) {
		if (m->subject || m->artifact_type)
			return nib_err(
			    err, NIB_ERR_CORRUPT, 0,
			    "a manifest with subject or artifactType has no Docker form");
		if (!streq(m->config.media_type, STG_MT_OCI_CONFIG) &&
		    !streq(m->config.media_type, STG_MT_DOCKER_CONFIG))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "config media type '%s' has no Docker form",
				       m->config.media_type);
		cfg = STG_MT_DOCKER_CONFIG;
	} else {
		if (!streq(m->config.media_type, STG_MT_OCI_CONFIG) &&
		    !streq(m->config.media_type, STG_MT_DOCKER_CONFIG))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "config media type '%s' is not an image config",
				       m->config.media_type);
		cfg = STG_MT_OCI_CONFIG;
	}
	for (size_t i = 0; i < m->n_layers; i++)
		if (!convert_layer(m->layers[i].media_type, to))
			return nib_err(
			    err, NIB_ERR_CORRUPT, 0, "layers[%zu]: media type '%s' has no %s form",
			    i, m->layers[i].media_type, to == STG_FORMAT_OCI ? "OCI" : "Docker");
	for (size_t i = 0; i < m->n_layers; i++) {
		replace(&m->layers[i].media_type, convert_layer(m->layers[i].media_type, to));
		if (to == STG_FORMAT_DOCKER)
			stg_map_free(&m->layers[i].annotations);
	}
	replace(&m->config.media_type, cfg);
	replace(&m->media_type,
		to == STG_FORMAT_OCI ? STG_MT_OCI_MANIFEST : STG_MT_DOCKER_MANIFEST);
	if (to == STG_FORMAT_DOCKER) {
		stg_map_free(&m->annotations);
		stg_map_free(&m->config.annotations);
	}
	return 0;
}

int stg_index_convert(struct stg_index *ix, enum stg_format to, struct nib_error *err)
{
	if (to == STG_FORMAT_DOCKER && (ix->subject || ix->artifact_type))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "an index with subject or artifactType has no Docker form");
	for (size_t i = 0; i < ix->n_manifests; i++)
		if (!stg_media_type_is_manifest(ix->manifests[i].media_type))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "manifests[%zu]: media type '%s' is not an image manifest",
				       i, ix->manifests[i].media_type);
	for (size_t i = 0; i < ix->n_manifests; i++)
		replace(&ix->manifests[i].media_type,
			to == STG_FORMAT_OCI ? STG_MT_OCI_MANIFEST : STG_MT_DOCKER_MANIFEST);
	replace(&ix->media_type, to == STG_FORMAT_OCI ? STG_MT_OCI_INDEX : STG_MT_DOCKER_LIST);
	if (to == STG_FORMAT_DOCKER)
		stg_map_free(&ix->annotations);
	return 0;
}
