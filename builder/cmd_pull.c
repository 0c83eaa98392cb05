/* SPDX-License-Identifier: Apache-2.0 */
/* nib pull REF: fetch an image from a registry (docker://REF or REF), an OCI
 * layout (oci:DIR[:TAG]), an oci-archive or a docker-archive into the
 * store. */
#include <getopt.h>
#include <string.h>

#include "builder/builder.h"
#include "builder/regflags.h"
#include "registry/registry.h"
#include "storage/storage.h"

static const char pull_help[] =
    "REF is a registry reference (docker://REF or REF), oci:DIR[:TAG],\n"
    "oci-archive:FILE[:TAG] or docker-archive:FILE[:REF|:@N].\n\n"
    "  --platform OS/ARCH[/VARIANT]  image to choose from an index "
    "(default: this host)\n";

/* A local transport: read and checked by storage, named as podman names it. */
static int pull_local(struct bld_globals *g, const char *src, const char *platform, bool quiet,
		      struct nib_error *err)
{
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	_cleanup_(stg_platform_clear) struct stg_platform want = {0};
	_cleanup_free_ char *name = NULL;

	if (bld_platform_want(platform, &want, err) < 0)
		return -1;
	if (stg_store_open(g->root, &st, err) < 0 ||
	    bld_transport_pull(st, src, &want, &img, &name, err) < 0)
		return -1;
	if (!quiet && nib_log_get_format() != NIB_LOG_JSON)
		fprintf(stderr, "Copied %s%s%s\n", src, name ? " as " : "", name ? name : "");
	bld_emit("pull", nib_digest_hex(img->id), "ref", name ? name : src, "manifest",
		 img->desc.digest, "image_id", img->id, NULL);
	return 0;
}

int bld_cmd_pull(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		 struct nib_error *err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"platform", required_argument, NULL, BLD_OPT_PLATFORM},
	    BLD_REG_LONG_OPTIONS,
	    {NULL, 0, NULL, 0}};
	struct bld_reg_flags f = BLD_REG_FLAGS_INIT;
	_cleanup_(reg_client_freep) struct reg_client *rc = NULL;
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_ref_ struct reg_ref ref = {0};
	struct reg_image img = {0};
	int c, r;

	while ((c = getopt_long(argc, argv, "+hq", opts, NULL)) != -1) {
		if (c == 'h') {
			bld_command_help(self);
			printf("\n%s%s", pull_help, bld_reg_flags_help);
			return 0;
		}
		r = bld_reg_flag(self, c, optarg, &f, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return bld_bad_option(self, argv, err);
	}
	if (optind + 1 != argc)
		return bld_usage_error(self, err, "pull: expected one image reference");
	r = bld_transport_kind(argv[optind], err);
	if (r < 0)
		return -1;
	if (r != BLD_TRANSPORT_DOCKER)
		return pull_local(g, argv[optind], f.o.platform, f.quiet, err);
	if (nib_str_has_prefix(argv[optind], "docker://"))
		argv[optind] += 9;
	bld_reg_flags_finish(&f, "Copied");
	if (reg_client_new(&f.o, &rc, err) < 0)
		return -1;
	if (reg_ref_resolve(reg_client_conf(rc), argv[optind], &ref, err) < 0)
		return -1;
	if (stg_store_open(g->root, &st, err) < 0)
		return -1;
	_cleanup_free_ char *refstr = reg_ref_string(&ref);
	bool json = nib_log_get_format() == NIB_LOG_JSON;
	f.ref = refstr;
	bld_reg_progress_begin(&f, refstr);
	r = reg_image_pull(rc, st, &ref, &img, err);
	bld_reg_progress_end(&f);
	if (r < 0)
		return -1;
	if (!f.quiet && !json)
		fprintf(stderr, "Manifest %s\n", img.manifest.digest);
	bld_emit("pull", nib_digest_hex(img.config.digest), "ref", refstr, "manifest",
		 img.manifest.digest, "image_id", img.config.digest, NULL);
	reg_image_clear(&img);
	return 0;
}
