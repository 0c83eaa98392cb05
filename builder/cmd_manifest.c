/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib manifest create|add|annotate|remove|inspect|exists|push|rm: manifest
 * lists (OCI image indexes) in the store, as `buildah manifest` 1.28 has
 * them. A list is an index blob named in index.json like an image; every
 * image it lists is in the store (added from the store, pulled from a
 * registry or read from a local transport first). `nib build --manifest`
 * adds what it builds through the same functions.
 */
#include <getopt.h>
#include <string.h>

#include "builder/builder.h"
#include "builder/regflags.h"
#include "registry/registry.h"
#include "storage/storage.h"

enum {
	OPT_ALL = BLD_OPT_LOCAL,
	OPT_AMEND,
	OPT_ANNOTATION,
	OPT_ARCH,
	OPT_OS,
	OPT_VARIANT,
	OPT_OS_VERSION,
	OPT_OS_FEATURES,
	OPT_FEATURES,
	OPT_DIGESTFILE,
	OPT_FORMAT,
	OPT_RM,
	OPT_IGNORED,
};

/* ---- lists in the store ---------------------------------------------------------- */

/* The index.json entry `name` names: as written, normalised, or a digest. */
static int list_entry(struct stg_store *st, const char *name, struct stg_descriptor *out,
		      struct nib_error *err)
{
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	_cleanup_free_ char *norm = bld_ref_normalise(name, NULL);

	if (stg_store_index_load(st, &ix, err) < 0)
		return -1;
	for (int pass = 0; pass < 3; pass++)
		for (size_t i = ix->n_manifests; i-- > 0;) {
			const struct stg_descriptor *d = &ix->manifests[i];
			const char *r = stg_map_get(&d->annotations, STG_ANNOTATION_REF_NAME);
			bool hit = pass == 0   ? r && streq(r, name)
				   : pass == 1 ? r && norm && streq(r, norm)
					       : streq(d->digest, name);
			if (hit) {
				stg_descriptor_copy(out, d);
				return 0;
			}
		}
	return nib_err(err, NIB_ERR_NOT_FOUND, 0, "manifest list '%s' not found in %s", name,
		       stg_store_path(st));
}

int bld_list_load(struct stg_store *st, const char *name, bool create, struct stg_index **out,
		  char **ref, struct nib_error *err)
{
	_cleanup_(stg_descriptor_clear) struct stg_descriptor d = {0};
	_cleanup_free_ char *data = NULL, *norm = NULL;
	struct nib_error e = {0};
	size_t len = 0;
	const char *r;

	*out = NULL;
	if (list_entry(st, name, &d, &e) < 0) {
		if (e.kind != NIB_ERR_NOT_FOUND || !create) {
			nib_err_move(err, &e);
			return -1;
		}
		nib_err_clear(&e);
		norm = bld_ref_normalise(name, err);
		if (!norm)
			return -1;
		*out = xcalloc(1, sizeof(**out));
		(*out)->schema_version = 2;
		(*out)->media_type = xstrdup(STG_MT_OCI_INDEX);
		if (ref)
			*ref = steal_pointer(&norm);
		return 0;
	}
	if (!stg_media_type_is_index(d.media_type))
		return nib_err(err, NIB_ERR_USAGE, 0, "%s is an image, not a manifest list", name);
	if (stg_blob_read(st, d.digest, STG_MANIFEST_MAX, &data, &len, err) < 0 ||
	    stg_index_parse(data, len, out, err) < 0)
		return nib_err_wrap(err, "%s", name);
	r = stg_map_get(&d.annotations, STG_ANNOTATION_REF_NAME);
	if (ref)
		*ref = xstrdup(r ? r : d.digest);
	return 0;
}

int bld_list_add(struct stg_index *ix, const struct stg_image *img,
		 const struct stg_platform *platform, const struct stg_map *annotations,
		 bool replace_platform)
{
	const struct stg_image_config *c = img->config;
	struct stg_descriptor *d;
	struct stg_platform p = {0};

	if (platform) {
		p.os = xstrdup(platform->os ? platform->os : c->os);
		p.architecture =
		    xstrdup(platform->architecture ? platform->architecture : c->architecture);
		p.variant = platform->variant ? xstrdup(platform->variant)
			    : c->variant      ? xstrdup(c->variant)
					      : NULL;
		p.os_version = platform->os_version ? xstrdup(platform->os_version)
			       : c->os_version	    ? xstrdup(c->os_version)
						    : NULL;
		nib_strv_free(&p.os_features);
		for (size_t i = 0; i < (platform->os_features.len ? platform->os_features.len
								  : c->os_features.len);
		     i++)
			nib_strv_push(&p.os_features, platform->os_features.len
							  ? platform->os_features.v[i]
							  : c->os_features.v[i]);
	} else {
		p.os = xstrdup(c->os);
		p.architecture = xstrdup(c->architecture);
		p.variant = c->variant ? xstrdup(c->variant) : NULL;
		p.os_version = c->os_version ? xstrdup(c->os_version) : NULL;
		for (size_t i = 0; i < c->os_features.len; i++)
			nib_strv_push(&p.os_features, c->os_features.v[i]);
	}
	/* the same image again (buildah), or with replace_platform another
	 * image for the same platform (a rebuild): the new entry replaces it */
	for (size_t i = 0; i < ix->n_manifests;) {
		const struct stg_descriptor *o = &ix->manifests[i];
		const struct stg_platform *op = o->platform;
		bool same = streq(o->digest, img->desc.digest) ||
			    (replace_platform && op && streq(op->os ?: "", p.os) &&
			     streq(op->architecture ?: "", p.architecture) &&
			     streq(op->variant ?: "", p.variant ?: ""));
		if (same) {
			stg_descriptor_clear(&ix->manifests[i]);
			memmove(&ix->manifests[i], &ix->manifests[i + 1],
				(ix->n_manifests - i - 1) * sizeof(*ix->manifests));
			ix->n_manifests--;
		} else {
			i++;
		}
	}
	if (ix->n_manifests >= STG_MAX_MANIFESTS) {
		stg_platform_clear(&p);
		return -1;
	}
	ix->manifests = xrealloc(ix->manifests, (ix->n_manifests + 1) * sizeof(*ix->manifests));
	d = &ix->manifests[ix->n_manifests++];
	memset(d, 0, sizeof(*d));
	d->media_type = xstrdup(img->desc.media_type);
	d->digest = xstrdup(img->desc.digest);
	d->size = img->desc.size;
	if (annotations)
		stg_map_copy(&d->annotations, annotations);
	d->platform = xcalloc(1, sizeof(*d->platform));
	*d->platform = p;
	return 0;
}

int bld_list_save(struct stg_store *st, const struct stg_index *ix, const char *const *refs,
		  size_t n_refs, char out[NIB_DIGEST_LEN + 1], struct nib_error *err)
{
	_cleanup_buf_ struct nib_buf b = {0};

	stg_index_generate(ix, &b);
	return stg_image_put(st, b.data, b.len, refs, n_refs, out, err);
}

/* ---- the commands --------------------------------------------------------------------- */

/* --annotation K=V */
static int add_annotation(struct stg_map *m, const char *a, struct nib_error *err)
{
	const char *eq = strchr(a, '=');
	_cleanup_free_ char *k = NULL;

	if (!eq || eq == a)
		return nib_err(err, NIB_ERR_USAGE, 0, "manifest: bad --annotation \"%s\" (K=V)", a);
	k = xstrndup(a, (size_t)(eq - a));
	stg_map_set(m, k, eq + 1);
	return 0;
}

static void add_features(struct nib_strv *sv, const char *a)
{
	_cleanup_free_ char *copy = xstrdup(a);
	char *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		nib_strv_push(sv, t);
}

static const char entry_help[] =
    "  --arch A, --os O, --variant V, --os-version V, --os-features F (--features F)\n"
    "                         the entry's platform fields (default: the image config's)\n"
    "  --annotation K=V       an annotation of the entry (repeatable)\n"
    "  --all                  (add) an image that is a list adds every image it lists\n";

/* Options of add and annotate. */
struct entry_opts {
	struct stg_platform platform; /* only what was given */
	struct stg_map annotations;
	bool any_platform;
	bool all;
};

static void entry_opts_free(struct entry_opts *e)
{
	stg_platform_clear(&e->platform);
	stg_map_free(&e->annotations);
}

/* 1 when `c` was one of the entry options, 0 when not, -1 on bad values. */
static int entry_opt(struct entry_opts *e, int c, const char *arg, struct nib_error *err)
{
	char **slot = NULL;

	switch (c) {
	case OPT_ANNOTATION:
		return add_annotation(&e->annotations, arg, err) < 0 ? -1 : 1;
	case OPT_ARCH:
		slot = &e->platform.architecture;
		break;
	case OPT_OS:
		slot = &e->platform.os;
		break;
	case OPT_VARIANT:
		slot = &e->platform.variant;
		break;
	case OPT_OS_VERSION:
		slot = &e->platform.os_version;
		break;
	case OPT_OS_FEATURES:
	case OPT_FEATURES:
		add_features(&e->platform.os_features, arg);
		e->any_platform = true;
		return 1;
	default:
		return 0;
	}
	if (!*arg || strchr(arg, '/') || strchr(arg, ','))
		return nib_err(err, NIB_ERR_USAGE, 0, "manifest: bad value \"%s\"", arg);
	free(*slot);
	*slot = xstrdup(arg);
	e->any_platform = true;
	return 1;
}

#define ENTRY_LONG_OPTIONS                                                                         \
	{"annotation", required_argument, NULL, OPT_ANNOTATION},                                   \
	    {"arch", required_argument, NULL, OPT_ARCH}, {"os", required_argument, NULL, OPT_OS},  \
	    {"variant", required_argument, NULL, OPT_VARIANT},                                     \
	    {"os-version", required_argument, NULL, OPT_OS_VERSION},                               \
	    {"os-features", required_argument, NULL, OPT_OS_FEATURES},                             \
	{                                                                                          \
		"features", required_argument, NULL, OPT_FEATURES                                  \
	}

/* The image `name` into the store: found there, read from a local
 * transport, else pulled from its registry; from an index, the image for
 * the platform the entry options name (the host's parts where they name
 * none). */
static int image_get(struct stg_store *st, struct bld_reg_flags *f, const char *name,
		     const struct stg_platform *opts, struct stg_image **out, struct nib_error *err)
{
	_cleanup_(reg_client_freep) struct reg_client *rc = NULL;
	_cleanup_ref_ struct reg_ref ref = {0};
	_cleanup_free_ char *plat = NULL, *refstr = NULL;
	_cleanup_(stg_platform_clear) struct stg_platform want = {0};
	struct reg_image ri = {0};
	struct nib_error e = {0};
	int kind = bld_transport_kind(name, err);

	if (kind < 0)
		return -1;
	stg_platform_host_get(&want);
	if (opts && (opts->os || opts->architecture || opts->variant)) {
		if (opts->architecture && !streq(opts->architecture, want.architecture)) {
			free(want.variant);
			want.variant = NULL;
		}
		for (size_t i = 0; i < 3; i++) {
			char **dst = i == 0   ? &want.os
				     : i == 1 ? &want.architecture
					      : &want.variant;
			const char *v = i == 0	 ? opts->os
					: i == 1 ? opts->architecture
						 : opts->variant;
			if (v) {
				free(*dst);
				*dst = xstrdup(v);
			}
		}
		plat = stg_platform_string(want.os, want.architecture, want.variant);
	}
	if (kind != BLD_TRANSPORT_DOCKER)
		return bld_transport_pull(st, name, &want, out, NULL, err);
	if (nib_str_has_prefix(name, "docker://"))
		name += 9;
	else if (bld_image_find(st, name, out, &e) == 0)
		return 0;
	if (e.kind != NIB_ERR_NONE && e.kind != NIB_ERR_NOT_FOUND) {
		nib_err_move(err, &e);
		return -1;
	}
	nib_err_clear(&e);
	f->o.platform = plat;
	if (reg_client_new(&f->o, &rc, err) < 0 ||
	    reg_ref_resolve(reg_client_conf(rc), name, &ref, err) < 0 ||
	    reg_image_pull(rc, st, &ref, &ri, err) < 0)
		return -1;
	reg_image_clear(&ri);
	refstr = reg_ref_string(&ref);
	return bld_image_find(st, refstr, out, err);
}

static int list_add_all(struct stg_store *st, struct stg_index *ix, const struct stg_image *img,
			const struct entry_opts *eo, struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_(stg_index_freep) struct stg_index *src = NULL;
	size_t len = 0;

	if (stg_blob_read(st, img->entry.digest, STG_MANIFEST_MAX, &data, &len, err) < 0 ||
	    stg_index_parse(data, len, &src, err) < 0)
		return -1;
	for (size_t i = 0; i < src->n_manifests; i++) {
		const struct stg_descriptor *d = &src->manifests[i];
		_cleanup_(stg_image_freep) struct stg_image *one = NULL;
		if (!stg_media_type_is_manifest(d->media_type))
			continue;
		if (stg_image_load(st, d, &one, err) < 0)
			return nib_err_wrap(err,
					    "--all: the images of a list must be in the store");
		if (bld_list_add(ix, one, eo->any_platform ? &eo->platform : d->platform,
				 eo->annotations.keys.len ? &eo->annotations : &d->annotations,
				 false) < 0)
			return nib_err(err, NIB_ERR_USAGE, 0, "too many entries");
	}
	return 0;
}

static int save_named(struct stg_store *st, const struct stg_index *ix, const char *ref,
		      char out[NIB_DIGEST_LEN + 1], struct nib_error *err)
{
	const char *refs[1] = {ref};
	return bld_list_save(st, ix, refs, nib_digest_valid(ref) ? 0 : 1, out, err);
}

static int cmd_create(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		      struct nib_error *err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
					     {"all", no_argument, NULL, OPT_ALL},
					     {"amend", no_argument, NULL, OPT_AMEND},
					     BLD_REG_LONG_OPTIONS,
					     {NULL, 0, NULL, 0}};
	struct bld_reg_flags f = BLD_REG_FLAGS_INIT;
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	_cleanup_(stg_descriptor_clear) struct stg_descriptor have = {0};
	_cleanup_free_ char *ref = NULL;
	struct entry_opts eo = {0};
	bool amend = false;
	char digest[NIB_DIGEST_LEN + 1];
	int c, r, ret = -1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+hq", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("Usage: nib manifest create [--all] [--amend] LIST [IMAGE...]\n");
			return 0;
		}
		if (c == OPT_ALL || c == OPT_AMEND) {
			*(c == OPT_ALL ? &eo.all : &amend) = true;
			continue;
		}
		r = bld_reg_flag(self, c, optarg, &f, err);
		if (r <= 0)
			return r < 0 ? -1 : bld_bad_option(self, argv, err);
	}
	if (optind >= argc)
		return bld_usage_error(self, err, "manifest create: expected LIST [IMAGE...]");
	bld_reg_flags_finish(&f, "Copied");
	if (bld_store_open(g, &st, err) < 0)
		return -1;
	if (list_entry(st, argv[optind], &have, NULL) == 0 && !amend)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "manifest create: %s exists (--amend adds to it, nib manifest rm "
			       "removes it)",
			       argv[optind]);
	if (bld_list_load(st, argv[optind], true, &ix, &ref, err) < 0)
		return -1;
	for (int i = optind + 1; i < argc; i++) {
		_cleanup_(stg_image_freep) struct stg_image *img = NULL;
		if (image_get(st, &f, argv[i], NULL, &img, err) < 0)
			goto out;
		if (eo.all && stg_media_type_is_index(img->entry.media_type)) {
			if (list_add_all(st, ix, img, &eo, err) < 0)
				goto out;
		} else if (bld_list_add(ix, img, NULL, NULL, false) < 0) {
			nib_err(err, NIB_ERR_USAGE, 0, "manifest create: too many entries");
			goto out;
		}
	}
	if (save_named(st, ix, ref, digest, err) < 0)
		goto out;
	bld_emit("manifest", digest, "list", ref, "digest", digest, NULL);
	ret = 0;
out:
	entry_opts_free(&eo);
	return ret;
}

static int cmd_add(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		   bool annotate, struct nib_error *err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
					     {"all", no_argument, NULL, OPT_ALL},
					     ENTRY_LONG_OPTIONS,
					     BLD_REG_LONG_OPTIONS,
					     {NULL, 0, NULL, 0}};
	struct bld_reg_flags f = BLD_REG_FLAGS_INIT;
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	_cleanup_free_ char *ref = NULL;
	struct entry_opts eo = {0};
	char digest[NIB_DIGEST_LEN + 1];
	const char *verb = annotate ? "annotate" : "add";
	int c, r, ret = -1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+hq", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("Usage: nib manifest %s [OPTIONS] LIST %s\n\n%s%s", verb,
			       annotate ? "IMAGE|DIGEST" : "IMAGE", entry_help,
			       annotate ? "" : bld_reg_flags_help);
			entry_opts_free(&eo);
			return 0;
		}
		if (c == OPT_ALL && !annotate) {
			eo.all = true;
			continue;
		}
		r = entry_opt(&eo, c, optarg, err);
		if (r == 0 && !annotate)
			r = bld_reg_flag(self, c, optarg, &f, err);
		if (r < 0)
			goto out;
		if (r == 0) {
			bld_bad_option(self, argv, err);
			goto out;
		}
	}
	if (argc - optind != 2) {
		bld_usage_error(self, err, "manifest %s: expected LIST and IMAGE", verb);
		goto out;
	}
	bld_reg_flags_finish(&f, "Copied");
	if (bld_store_open(g, &st, err) < 0 ||
	    bld_list_load(st, argv[optind], false, &ix, &ref, err) < 0)
		goto out;
	if (annotate) {
		/* an entry by digest, or the entry of an image in the store */
		const char *d = argv[optind + 1];
		struct stg_descriptor *e = NULL;
		_cleanup_(stg_image_freep) struct stg_image *one = NULL;
		if (!nib_digest_valid(d) && bld_image_find(st, d, &one, err) == 0)
			d = one->desc.digest;
		for (size_t i = 0; i < ix->n_manifests && !e; i++)
			if (streq(ix->manifests[i].digest, d))
				e = &ix->manifests[i];
		if (!e) {
			nib_err(err, NIB_ERR_NOT_FOUND, 0, "manifest annotate: %s is not in %s",
				argv[optind + 1], argv[optind]);
			goto out;
		}
		for (size_t i = 0; i < eo.annotations.keys.len; i++)
			stg_map_set(&e->annotations, eo.annotations.keys.v[i],
				    eo.annotations.values.v[i]);
		if (!e->platform)
			e->platform = xcalloc(1, sizeof(*e->platform));
		char **fields[] = {&e->platform->os, &e->platform->architecture,
				   &e->platform->variant, &e->platform->os_version};
		char *vals[] = {eo.platform.os, eo.platform.architecture, eo.platform.variant,
				eo.platform.os_version};
		for (size_t i = 0; i < ARRAY_SIZE(vals); i++)
			if (vals[i]) {
				free(*fields[i]);
				*fields[i] = xstrdup(vals[i]);
			}
		if (eo.platform.os_features.len) {
			nib_strv_free(&e->platform->os_features);
			for (size_t i = 0; i < eo.platform.os_features.len; i++)
				nib_strv_push(&e->platform->os_features,
					      eo.platform.os_features.v[i]);
		}
		if (!e->platform->os || !e->platform->architecture) {
			nib_err(err, NIB_ERR_USAGE, 0,
				"manifest annotate: the entry needs --os and --arch");
			goto out;
		}
	} else {
		if (image_get(st, &f, argv[optind + 1], eo.any_platform ? &eo.platform : NULL, &img,
			      err) < 0)
			goto out;
		if (eo.all && stg_media_type_is_index(img->entry.media_type)) {
			if (list_add_all(st, ix, img, &eo, err) < 0)
				goto out;
		} else if (bld_list_add(ix, img, eo.any_platform ? &eo.platform : NULL,
					&eo.annotations, false) < 0) {
			nib_err(err, NIB_ERR_USAGE, 0, "manifest add: too many entries");
			goto out;
		}
	}
	if (save_named(st, ix, ref, digest, err) < 0)
		goto out;
	{
		_cleanup_free_ char *line =
		    xasprintf("%s: %s", digest, img ? img->desc.digest : argv[optind + 1]);
		bld_emit("manifest", line, "list", ref, "digest", digest, NULL);
	}
	ret = 0;
out:
	entry_opts_free(&eo);
	return ret;
}

static int cmd_remove(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		      struct nib_error *err)
{
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	_cleanup_free_ char *ref = NULL;
	char digest[NIB_DIGEST_LEN + 1];
	bool found = false;

	if (argc != 3 || argv[1][0] == '-')
		return bld_usage_error(self, err, "manifest remove: expected LIST and DIGEST");
	if (!nib_digest_valid(argv[2]))
		return nib_err(err, NIB_ERR_USAGE, 0, "manifest remove: \"%s\" is not a digest",
			       argv[2]);
	if (bld_store_open(g, &st, err) < 0 ||
	    bld_list_load(st, argv[1], false, &ix, &ref, err) < 0)
		return -1;
	for (size_t i = 0; i < ix->n_manifests;) {
		if (streq(ix->manifests[i].digest, argv[2])) {
			stg_descriptor_clear(&ix->manifests[i]);
			memmove(&ix->manifests[i], &ix->manifests[i + 1],
				(ix->n_manifests - i - 1) * sizeof(*ix->manifests));
			ix->n_manifests--;
			found = true;
		} else {
			i++;
		}
	}
	if (!found)
		return nib_err(err, NIB_ERR_NOT_FOUND, 0, "manifest remove: %s is not in %s",
			       argv[2], argv[1]);
	if (save_named(st, ix, ref, digest, err) < 0)
		return -1;
	_cleanup_free_ char *line = xasprintf("%s: %s", digest, argv[2]);
	bld_emit("manifest", line, "list", ref, "digest", digest, NULL);
	return 0;
}

static int cmd_inspect(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		       struct nib_error *err)
{
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	_cleanup_buf_ struct nib_buf b = {0};
	_cleanup_(json_object_putp) json_object *o = NULL;

	if (argc != 2 || argv[1][0] == '-')
		return bld_usage_error(self, err, "manifest inspect: expected LIST");
	if (bld_store_open(g, &st, err) < 0 ||
	    bld_list_load(st, argv[1], false, &ix, NULL, err) < 0)
		return -1;
	/* buildah prints the index indented; --log-format json: one line */
	stg_index_generate(ix, &b);
	o = json_tokener_parse(b.data);
	printf("%s\n", json_object_to_json_string_ext(
			   o, nib_log_get_format() == NIB_LOG_JSON
				  ? JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE
				  : JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}

static int cmd_exists(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		      struct nib_error *err)
{
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	struct nib_error e = {0};

	if (argc != 2 || argv[1][0] == '-')
		return bld_usage_error(self, err, "manifest exists: expected LIST");
	if (bld_store_open(g, &st, err) < 0)
		return -1;
	if (bld_list_load(st, argv[1], false, &ix, NULL, &e) == 0)
		return 0;
	/* buildah: exit 1 when there is no such list */
	if (e.kind == NIB_ERR_USAGE)
		e.kind = NIB_ERR_NOT_FOUND;
	nib_err_move(err, &e);
	return -1;
}

static int cmd_rm(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err)
{
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;

	if (argc < 2 || argv[1][0] == '-')
		return bld_usage_error(self, err, "manifest rm: expected LIST...");
	if (bld_store_open(g, &st, err) < 0)
		return -1;
	for (int i = 1; i < argc; i++) {
		_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
		_cleanup_free_ char *ref = NULL;
		if (bld_list_load(st, argv[i], false, &ix, &ref, err) < 0)
			return -1;
		if (nib_digest_valid(ref) ? stg_image_remove_digest(st, ref, err) < 0
					  : stg_image_untag(st, ref, err) < 0)
			return -1;
		_cleanup_free_ char *line = xasprintf("untagged: %s", ref);
		bld_emit("untagged", line, "ref", ref, NULL);
	}
	return 0;
}

static int cmd_push(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		    struct nib_error *err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"all", no_argument, NULL, OPT_ALL},
	    {"digestfile", required_argument, NULL, OPT_DIGESTFILE},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"rm", no_argument, NULL, OPT_RM},
	    {"remove-signatures", no_argument, NULL, OPT_IGNORED},
	    BLD_REG_LONG_OPTIONS,
	    {NULL, 0, NULL, 0}};
	struct bld_reg_flags f = BLD_REG_FLAGS_INIT;
	_cleanup_(reg_client_freep) struct reg_client *rc = NULL;
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct stg_image img = {0};
	_cleanup_(stg_descriptor_clear) struct stg_descriptor sd = {0};
	_cleanup_ref_ struct reg_ref dest = {0};
	_cleanup_free_ char *deststr = NULL, *ref_rm = NULL;
	const char *digestfile = NULL, *dst;
	char digest[NIB_DIGEST_LEN + 1];
	bool all = false, rm = false;
	int c, r, format = -1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+hqf:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage: nib manifest push [OPTIONS] LIST [DEST]\n\n%s",
			       bld_reg_flags_help);
			return 0;
		case OPT_ALL:
			all = true;
			continue;
		case OPT_RM:
			rm = true;
			continue;
		case OPT_IGNORED:
			continue;
		case OPT_DIGESTFILE:
			digestfile = optarg;
			continue;
		case 'f':
		case OPT_FORMAT:
			format =
			    streq(optarg, "v2s2") ? STG_FORMAT_DOCKER : stg_format_parse(optarg);
			if (format < 0)
				return bld_usage_error(
				    self, err, "manifest push: bad --format \"%s\" (oci, v2s2)",
				    optarg);
			continue;
		}
		r = bld_reg_flag(self, c, optarg, &f, err);
		if (r <= 0)
			return r < 0 ? -1 : bld_bad_option(self, argv, err);
	}
	if (argc - optind < 1 || argc - optind > 2)
		return bld_usage_error(self, err, "manifest push: expected LIST and DEST");
	dst = argv[argc - optind == 2 ? optind + 1 : optind];
	r = bld_transport_kind(dst, err);
	if (r < 0)
		return -1;
	if (r != BLD_TRANSPORT_DOCKER)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "manifest push: %s: a list goes to a registry (docker://REF)", dst);
	if (nib_str_has_prefix(dst, "docker://"))
		dst += 9;
	bld_reg_flags_finish(&f, "Wrote");
	if (bld_store_open(g, &st, err) < 0 || list_entry(st, argv[optind], &img.entry, err) < 0)
		return -1;
	if (!stg_media_type_is_index(img.entry.media_type)) {
		stg_descriptor_clear(&img.entry);
		return nib_err(err, NIB_ERR_USAGE, 0, "%s is an image, not a manifest list",
			       argv[optind]);
	}
	img.ref = (char *)stg_map_get(&img.entry.annotations, STG_ANNOTATION_REF_NAME);
	if (reg_client_new(&f.o, &rc, err) < 0 ||
	    reg_ref_resolve(reg_client_conf(rc), dst, &dest, err) < 0)
		return -1;
	deststr = reg_ref_string(&dest);
	if (format >= 0) {
		r = stg_image_convert_index(st, &img, (enum stg_format)format, &sd, err);
	} else {
		stg_descriptor_copy(&sd, &img.entry);
		r = 0;
	}
	if (r == 0 && rm)
		ref_rm = img.ref ? xstrdup(img.ref) : NULL;
	stg_descriptor_clear(&img.entry);
	if (r < 0)
		return nib_err_wrap(err, "%s", deststr);
	struct reg_desc md = {.media_type = sd.media_type, .size = sd.size};
	snprintf(md.digest, sizeof(md.digest), "%s", sd.digest);
	if (all) {
		if (reg_index_push(rc, st, &md, &dest, NULL, digest, err) < 0)
			return -1;
	} else {
		/* buildah without --all: the list alone (its images must be
		 * in the destination repository already) */
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		if (stg_blob_read(st, sd.digest, STG_MANIFEST_MAX, &data, &len, err) < 0 ||
		    reg_manifest_put(rc, &dest, sd.media_type, data, len, digest, err) < 0)
			return nib_err_wrap(err, "%s", deststr);
	}
	if (digestfile && nib_write_output_file(digestfile, digest, strlen(digest), err) < 0)
		return nib_err_wrap(err, "--digestfile");
	if (ref_rm && stg_image_untag(st, ref_rm, err) < 0)
		return -1;
	bld_emit("push", digest, "ref", deststr, "digest", digest, NULL);
	return 0;
}

static const char manifest_help[] =
    "Commands (as buildah manifest):\n"
    "  create [--all] [--amend] LIST [IMAGE...]   a new list, with these images\n"
    "  add [--all] [--arch A] [--os O] [--variant V] [--os-version V]\n"
    "      [--os-features F] [--annotation K=V] LIST IMAGE\n"
    "                       add an image (from the store, a registry, oci:,\n"
    "                       oci-archive: or docker-archive:)\n"
    "  annotate [same options] LIST IMAGE|DIGEST   change an entry's platform or annotations\n"
    "  remove LIST DIGEST   remove an entry\n"
    "  inspect LIST         print the list (an OCI image index)\n"
    "  exists LIST          exit 0 when LIST is a list in the store, else 1\n"
    "  push [--all] [-f oci|v2s2] [--digestfile F] [--rm] LIST [DEST]\n"
    "                       send the list (with --all its images first) to a registry\n"
    "  rm LIST...           remove lists from the store (their images stay)\n";

int bld_cmd_manifest(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		     struct nib_error *err)
{
	static const struct {
		const char *name;
		int (*fn)(const struct bld_command *, int, char **, struct bld_globals *,
			  struct nib_error *);
	} subs[] = {{"create", cmd_create}, {"remove", cmd_remove}, {"inspect", cmd_inspect},
		    {"exists", cmd_exists}, {"rm", cmd_rm},	    {"push", cmd_push}};
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub)
		return bld_usage_error(self, err, "manifest: expected a command");
	if (streq(sub, "-h") || streq(sub, "--help")) {
		bld_command_help(self);
		printf("\n%s", manifest_help);
		return 0;
	}
	if (streq(sub, "add") || streq(sub, "annotate"))
		return cmd_add(self, argc - 1, argv + 1, g, streq(sub, "annotate"), err);
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
		if (streq(sub, subs[i].name))
			return subs[i].fn(self, argc - 1, argv + 1, g, err);
	return bld_usage_error(self, err, "manifest: unknown command \"%s\"", sub);
}
