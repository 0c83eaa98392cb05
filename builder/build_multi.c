/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Builds for several platforms (--platform a,b, --all-platforms,
 * --manifest): the whole build once per platform, each image added to a
 * manifest list (an OCI image index): the list --manifest names (made when
 * missing, an entry for the same platform replaced), named by every -t too
 * (as docker buildx names a multi-platform build), and pushed with --push.
 */
#define BLD_BUILD_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <strings.h>

#include "builder/build_internal.h"
#include "builder/builder.h"
#include "registry/registry.h"

/* The registry client of the list's own requests (the bases' indexes, the
 * list's push), made once from the build's registry options (regflags);
 * each platform's build has its own, which resolves indexes for its
 * platform. */
static int list_client(const struct bld_build_opts *o, struct reg_client **rc,
		       struct nib_error *err)
{
	struct reg_options ro = o->reg;

	return *rc ? 0 : reg_client_new(&ro, rc, err);
}

/* The platforms an image offers: its index's entries, or its own config's. */
static int image_platforms(struct stg_store *st, const struct bld_build_opts *o,
			   struct reg_client **rc, const char *name, struct nib_strv *out,
			   struct nib_error *err)
{
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;

	if (bld_transport_kind(name, err) != BLD_TRANSPORT_DOCKER)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--all-platforms: base %s: name the platforms with --platform for "
			       "a base from a local transport",
			       name);
	if (nib_str_has_prefix(name, "docker://"))
		name += 9;
	if (o->pull != BLD_PULL_ALWAYS && bld_image_find(st, name, &img, NULL) == 0 &&
	    stg_media_type_is_index(img->entry.media_type)) {
		if (stg_blob_read(st, img->entry.digest, STG_MANIFEST_MAX, &data, &len, err) < 0)
			return -1;
	} else {
		_cleanup_ref_ struct reg_ref ref = {0};
		struct reg_desc d = {0};
		if (o->pull == BLD_PULL_NEVER)
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "--all-platforms: %s is not a multi-platform image in the "
				       "store and --pull=never",
				       name);
		if (list_client(o, rc, err) < 0 ||
		    reg_ref_resolve(reg_client_conf(*rc), name, &ref, err) < 0 ||
		    reg_manifest_get(*rc, &ref, &data, &len, &d, err) < 0)
			return nib_err_wrap(err, "--all-platforms");
		reg_desc_clear(&d);
	}
	if (!stg_media_type_is_index(stg_doc_media_type(data, len)))
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--all-platforms: %s is not a multi-platform image (name the "
			       "platforms with --platform)",
			       name);
	if (stg_index_parse(data, len, &ix, err) < 0)
		return nib_err_wrap(err, "--all-platforms: %s", name);
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const struct stg_platform *p = ix->manifests[i].platform;
		_cleanup_free_ char *s = NULL;
		if (!p || !stg_media_type_is_manifest(ix->manifests[i].media_type) ||
		    streq(p->architecture, "unknown"))
			continue; /* attestations and the like */
		s = stg_platform_string(p->os, p->architecture, p->variant);
		if (nib_strv_find(out, s) < 0)
			nib_strv_push(out, s);
	}
	return 0;
}

/* --all-platforms (buildah): the platforms every base image of the stages
 * the target needs offers. */
static int all_platforms(struct stg_store *st, const struct bld_build_opts *o,
			 struct reg_client **rc, struct nib_strv *out, struct nib_error *err)
{
	_cleanup_close_ int ctx = open(o->context, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *path = NULL;
	_cleanup_(cf_file_freep) struct cf_file *f = NULL;
	struct cf_ignore *ig = NULL;
	struct cf_plan_opts po = {.first_from = o->from,
				  .all_stages = o->all_stages,
				  .build_args = (const char *const *)o->build_args.v,
				  .target = o->target};
	bool first = true;

	if (ctx < 0)
		return nib_err(err, NIB_ERR_NOT_FOUND, errno, "build context %s", o->context);
	if (cf_build_files_load(ctx, o->context, o->file, &path, &f, &ig, NULL, err) < 0)
		return -1;
	cf_ignore_free(ig);
	if (cf_file_plan(f, &po, err) < 0)
		return -1;
	for (size_t i = 0; i < f->n_stages; i++) {
		const struct cf_stage *cs = &f->stages[i];
		_cleanup_strv_ struct nib_strv have = {0};
		if (!cs->needed || cs->base_stage >= 0 || strcasecmp(cs->base, "scratch") == 0)
			continue;
		if (image_platforms(st, o, rc, cs->base, &have, err) < 0)
			return nib_err_wrap(err, "%s:%d", path, cs->from->line);
		if (first) {
			for (size_t k = 0; k < have.len; k++)
				nib_strv_push(out, have.v[k]);
			first = false;
			continue;
		}
		for (size_t k = 0; k < out->len;) {
			if (nib_strv_find(&have, out->v[k]) >= 0) {
				k++;
				continue;
			}
			free(out->v[k]);
			memmove(&out->v[k], &out->v[k + 1], (out->len - k) * sizeof(char *));
			out->len--;
		}
	}
	if (first)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--all-platforms: every stage is FROM scratch or another stage: "
			       "name the platforms with --platform");
	if (!out->len)
		return nib_err(err, NIB_ERR_NOT_FOUND, 0,
			       "--all-platforms: the base images have no platform in common");
	return 0;
}

static int push_list(const struct bld_build_opts *o, struct stg_store *st, struct reg_client **rc,
		     const char *digest, struct nib_error *err)
{
	struct stg_image list = {.entry = {.media_type = STG_MT_OCI_INDEX,
					   .digest = (char *)digest,
					   .size = stg_blob_size(st, digest)}};
	_cleanup_(stg_descriptor_clear) struct stg_descriptor sd = {0};

	/* --format docker: a Docker manifest list of Docker manifests */
	if (stg_image_convert_index(st, &list, o->format, &sd, err) < 0)
		return -1;
	if (list_client(o, rc, err) < 0)
		return -1;
	for (size_t i = 0; i < o->tags.len; i++) {
		_cleanup_ref_ struct reg_ref ref = {0};
		struct reg_desc md = {.media_type = sd.media_type, .size = sd.size};
		char out[NIB_DIGEST_LEN + 1];
		snprintf(md.digest, sizeof(md.digest), "%s", sd.digest);
		if (reg_ref_resolve(reg_client_conf(*rc), o->tags.v[i], &ref, err) < 0)
			return -1;
		if (!o->quiet && nib_log_get_event_format() != NIB_LOG_JSON) {
			_cleanup_free_ char *s = reg_ref_string(&ref);
			printf("Pushing %s\n", s);
			fflush(stdout);
		}
		if (reg_index_push(*rc, st, &md, &ref, NULL, out, err) < 0)
			return nib_err_wrap(err, "push %s", o->tags.v[i]);
	}
	return 0;
}

int bld_build_platforms(struct stg_store *st, const struct bld_build_opts *o,
			const struct nib_strv *platforms, bool all, const char *manifest,
			struct bld_build_result *res, struct nib_error *err)
{
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	_cleanup_free_ char *listref = NULL;
	_cleanup_strv_ struct nib_strv plats = {0}, refs = {0};
	_cleanup_(reg_client_freep) struct reg_client *rc = NULL;

	memset(res, 0, sizeof(*res));
	if (o->n_outputs)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "build: --output with a manifest list: not supported yet (build "
			       "one platform, or nib push the list's images)");
	if (all && all_platforms(st, o, &rc, &plats, err) < 0)
		return -1;
	for (size_t i = 0; !all && i < platforms->len; i++)
		nib_strv_push(&plats, platforms->v[i]);
	if (!all && !plats.len) {
		/* --manifest alone: the one platform being built */
		struct stg_platform p = {0};
		if (bld_platform_want(o->platform, &p, err) < 0)
			return -1;
		nib_strv_push_take(&plats, stg_platform_string(p.os, p.architecture, p.variant));
		stg_platform_clear(&p);
	}
	if (manifest) {
		if (bld_list_load(st, manifest, true, &ix, &listref, err) < 0)
			return nib_err_wrap(err, "--manifest");
		nib_strv_push(&refs, listref);
	} else {
		ix = xcalloc(1, sizeof(*ix));
		ix->schema_version = 2;
		ix->media_type = xstrdup(STG_MT_OCI_INDEX);
	}
	for (size_t i = 0; i < o->tags.len; i++) {
		char *r = bld_ref_normalise(o->tags.v[i], err);
		if (!r)
			return -1;
		if (nib_strv_find(&refs, r) < 0)
			nib_strv_push(&refs, r);
		free(r);
	}
	for (size_t i = 0; i < plats.len; i++) {
		struct bld_build_opts po = *o;
		struct bld_build_result r;
		_cleanup_(stg_image_freep) struct stg_image *img = NULL;

		/* each platform's image is untagged: the list carries the names */
		memset(&po.tags, 0, sizeof(po.tags));
		/* --manifest alone: the platform stays a default (or --arch's) */
		po.platform = !all && !platforms->len ? o->platform : plats.v[i];
		po.push = false;
		po.iidfile = po.digestfile = NULL;
		if (!o->quiet && nib_log_get_event_format() != NIB_LOG_JSON) {
			printf("[%s]\n", plats.v[i]);
			fflush(stdout);
		}
		if (bld_build_run(st, &po, &r, err) < 0)
			return nib_err_wrap(err, "--platform %s", plats.v[i]);
		if (stg_image_lookup(st, r.manifest_digest, &img, err) < 0)
			return -1;
		if (bld_list_add(ix, img, NULL, NULL, true) < 0)
			return nib_err(err, NIB_ERR_USAGE, 0, "--manifest: too many entries");
	}
	if (bld_list_save(st, ix, (const char *const *)refs.v, refs.len, res->manifest_digest,
			  err) < 0)
		return -1;
	/* --iidfile and the ID printed last: the list's digest (docker buildx) */
	memcpy(res->image_id, res->manifest_digest, sizeof(res->image_id));
	if (o->push && push_list(o, st, &rc, res->manifest_digest, err) < 0)
		return -1;
	return 0;
}

int bld_logsplit_begin(const char *base, const char *platform, int saved[2], struct nib_error *err)
{
	_cleanup_(stg_platform_clear) struct stg_platform p = {0};
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;

	if (bld_platform_want(platform, &p, err) < 0)
		return -1;
	path = xasprintf("%s_%s_%s", base, p.os, p.architecture);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "--logsplit %s", path);
	fflush(stdout);
	fflush(stderr);
	saved[0] = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	saved[1] = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (saved[0] < 0 || saved[1] < 0) {
		nib_err(err, NIB_ERR_IO, errno, "dup");
		bld_logsplit_end(saved, NULL);
		return -1;
	}
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	return 0;
}

void bld_logsplit_end(int saved[2], const struct nib_error *err)
{
	fflush(stdout);
	fflush(stderr);
	if (saved[0] >= 0 && err && err->kind != NIB_ERR_NONE && err->msg)
		fprintf(stderr, "nib: error: %s\n", err->msg);
	fflush(stderr);
	for (int i = 0; i < 2; i++)
		if (saved[i] >= 0) {
			dup2(saved[i], i == 0 ? STDOUT_FILENO : STDERR_FILENO);
			close(saved[i]);
			saved[i] = -1;
		}
}
