/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib push SRC [DEST]: send an image from the store to a registry
 * (docker://REF or a bare reference), an OCI layout (oci:DIR[:TAG]), an
 * oci-archive (oci-archive:FILE[:TAG]) or a docker-archive
 * (docker-archive:FILE[:REF]). --format oci|docker picks the
 * manifest format sent to a registry, as skopeo's and podman's --format do
 * (config and layer blobs unchanged, media types mapped); without it the
 * image keeps its own format: for an image converted to OCI on pull, the
 * registry's manifest itself (so the digest is the same).
 */
#include <fcntl.h>
#include <getopt.h>
#include <string.h>

#include "builder/builder.h"
#include "builder/regflags.h"
#include "registry/registry.h"
#include "storage/storage.h"

enum { OPT_DIGESTFILE = BLD_OPT_LOCAL, OPT_FORMAT, OPT_ALL };

static const char push_help[] =
    "DEST is docker://REF or REF (a registry), oci:DIR[:TAG], oci-archive:FILE[:TAG] or\n"
    "docker-archive:FILE[:REF];\n"
    "without DEST the image goes to the registry its name says.\n\n"
    "  --digestfile FILE      write the pushed manifest digest to FILE\n"
    "  -f, --format oci|docker  manifest format in the registry (default: the image's\n"
    "                         own; an image pulled in Docker format keeps it);\n"
    "                         oci: and oci-archive: take only oci, docker-archive: only\n"
    "                         docker\n"
    "  --all                  a multi-platform image: the whole index and every image\n"
    "                         it lists (default: the image for this platform)\n";

/* The repository to mount blobs from: the source's own repository when it
 * lives on the destination registry. */
static char *mount_source(const struct stg_image *img, const struct reg_ref *dest)
{
	_cleanup_ref_ struct reg_ref src = {0};

	if (!img->ref || reg_ref_parse(img->ref, &src, NULL) < 0)
		return NULL;
	if (!streq(src.registry, dest->registry) || streq(src.repo, dest->repo))
		return NULL;
	return xstrdup(src.repo);
}

/* oci:DIR[:TAG], oci-archive:FILE[:TAG] and docker-archive:FILE[:REF]
 * through storage's exporters. */
static int push_local(struct bld_globals *g, const char *src, const char *dst, int format,
		      const char *digestfile, struct nib_error *err)
{
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	_cleanup_free_ char *path = NULL, *name = NULL;
	bool oci = nib_str_has_prefix(dst, "oci:") || nib_str_has_prefix(dst, "oci-archive:");
	const char *rest = strchr(dst, ':') + 1, *colon = strchr(rest, ':');
	const char *key;

	path = colon ? xstrndup(rest, (size_t)(colon - rest)) : xstrdup(rest);
	if (!*path)
		return nib_err(err, NIB_ERR_USAGE, 0, "push: '%s': no path", dst);
	/* an OCI layout holds OCI manifests; a docker-archive has its own
	 * manifest.json (Docker's) */
	if (format >= 0 && format != (oci ? STG_FORMAT_OCI : STG_FORMAT_DOCKER))
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "push: '%s': --format %s is not possible there", dst,
			       format == STG_FORMAT_OCI ? "oci" : "docker");
	if (bld_store_open(g, &st, err) < 0 || bld_image_find(st, src, &img, err) < 0)
		return -1;
	key = img->ref ? img->ref : img->id;
	if (nib_str_has_prefix(dst, "oci-archive:")) {
		if (stg_export_oci_archive(st, key, path, colon ? colon + 1 : NULL, err) < 0)
			return -1;
	} else if (oci) {
		if (stg_export_oci_layout(st, key, path, colon ? colon + 1 : NULL, err) < 0)
			return -1;
	} else {
		if (colon) {
			_cleanup_ref_ struct reg_ref r = {0};
			if (reg_ref_parse(colon + 1, &r, err) < 0)
				return -1;
			name = reg_ref_string(&r);
		} else if (img->ref && !strchr(img->ref, '@')) {
			name = xstrdup(img->ref);
		}
		if (stg_export_docker_archive(st, key, path, name, err) < 0)
			return -1;
	}
	if (digestfile &&
	    nib_write_output_file(digestfile, img->desc.digest, strlen(img->desc.digest), err) < 0)
		return nib_err_wrap(err, "--digestfile");
	bld_emit("push", img->desc.digest, "ref", dst, "digest", img->desc.digest, NULL);
	return 0;
}

int bld_cmd_push(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		 struct nib_error *err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"digestfile", required_argument, NULL, OPT_DIGESTFILE},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"all", no_argument, NULL, OPT_ALL},
	    BLD_REG_LONG_OPTIONS,
	    {NULL, 0, NULL, 0}};
	struct bld_reg_flags f = BLD_REG_FLAGS_INIT;
	_cleanup_(reg_client_freep) struct reg_client *rc = NULL;
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	_cleanup_ref_ struct reg_ref dest = {0};
	_cleanup_free_ char *from = NULL, *deststr = NULL;
	_cleanup_(stg_descriptor_clear) struct stg_descriptor sd = {0};
	const char *digestfile = NULL, *src, *dst;
	char digest[NIB_DIGEST_LEN + 1];
	int c, r, format = -1;
	bool all = false;

	while ((c = getopt_long(argc, argv, "+hqf:", opts, NULL)) != -1) {
		if (c == 'h') {
			bld_command_help(self);
			printf("\n%s%s", push_help, bld_reg_flags_help);
			return 0;
		}
		if (c == OPT_DIGESTFILE) {
			digestfile = optarg;
			continue;
		}
		if (c == OPT_ALL) {
			all = true;
			continue;
		}
		if (c == OPT_FORMAT || c == 'f') {
			/* skopeo's names for the same formats too */
			format =
			    streq(optarg, "v2s2") ? STG_FORMAT_DOCKER : stg_format_parse(optarg);
			if (format < 0)
				return bld_usage_error(
				    self, err, "push: bad --format \"%s\" (oci, docker)", optarg);
			continue;
		}
		r = bld_reg_flag(self, c, optarg, &f, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return bld_bad_option(self, argv, err);
	}
	if (argc - optind < 1 || argc - optind > 2)
		return bld_usage_error(self, err, "push: expected SRC and optionally DEST");
	src = argv[optind];
	dst = argc - optind == 2 ? argv[optind + 1] : src;
	if (nib_str_has_prefix(dst, "oci:") || nib_str_has_prefix(dst, "oci-archive:") ||
	    nib_str_has_prefix(dst, "docker-archive:")) {
		if (all)
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "push: '%s': --all is for registry destinations", dst);
		return push_local(g, src, dst, format, digestfile, err);
	}
	if (nib_str_has_prefix(dst, "docker://"))
		dst += 9;
	else if (strstr(dst, "://") || (strchr(dst, ':') && !strchr(dst, '/') &&
					nib_str_has_prefix(dst, "containers-storage:")))
		return nib_err(err, NIB_ERR_USAGE, 0, "push: unknown destination transport in '%s'",
			       dst);
	bld_reg_flags_finish(&f, "Wrote");
	if (reg_client_new(&f.o, &rc, err) < 0)
		return -1;
	if (reg_ref_resolve(reg_client_conf(rc), dst, &dest, err) < 0)
		return -1;
	if (bld_store_open(g, &st, err) < 0 || bld_image_find(st, src, &img, err) < 0)
		return -1;
	from = mount_source(img, &dest);
	deststr = reg_ref_string(&dest);
	f.ref = deststr;
	/* the manifest to send: converted for --format (stored untagged, gc
	 * takes it later), else the image's own (the registry's for an image
	 * converted on pull) */
	all = all && stg_media_type_is_index(img->entry.media_type);
	if (all && format >= 0) {
		if (stg_image_convert_index(st, img, (enum stg_format)format, &sd, err) < 0)
			return nib_err_wrap(err, "%s", deststr);
	} else if (all) {
		stg_descriptor_copy(&sd, &img->entry);
	} else if (format >= 0) {
		if (stg_image_convert(st, img, (enum stg_format)format, &sd, err) < 0)
			return nib_err_wrap(err, "%s", deststr);
	} else {
		stg_descriptor_copy(&sd, img->source.digest ? &img->source : &img->desc);
	}
	struct reg_desc md = {.media_type = sd.media_type, .size = sd.size};
	snprintf(md.digest, sizeof(md.digest), "%s", sd.digest);
	bld_reg_progress_begin(&f, deststr);
	r = all ? reg_index_push(rc, st, &md, &dest, from, digest, err)
		: reg_image_push(rc, st, &md, &dest, from, digest, err);
	bld_reg_progress_end(&f);
	if (r < 0)
		return -1;
	if (digestfile && nib_write_output_file(digestfile, digest, strlen(digest), err) < 0)
		return nib_err_wrap(err, "--digestfile");
	bld_emit("push", digest, "ref", deststr, "digest", digest, NULL);
	return 0;
}
