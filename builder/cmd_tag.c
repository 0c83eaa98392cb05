/* SPDX-License-Identifier: Apache-2.0 */
/* nib tag SRC DEST...: give an image in the store more names. */
#include <getopt.h>
#include <string.h>

#include "builder/builder.h"
#include "storage/storage.h"

int bld_cmd_tag(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		struct nib_error *err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	_cleanup_strv_ struct nib_strv dests = {0};
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			bld_command_help(self);
			return 0;
		}
		return bld_bad_option(self, argv, err);
	}
	if (argc - optind < 2)
		return bld_usage_error(self, err, "tag: needs a source image and a new name");
	/* check every name before changing anything */
	for (int i = optind + 1; i < argc; i++) {
		char *d = bld_ref_normalise(argv[i], err);
		if (!d)
			return -1;
		if (strchr(d, '@')) {
			free(d);
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "tag: '%s': a new name cannot contain a digest", argv[i]);
		}
		nib_strv_push_take(&dests, d);
	}
	if (bld_store_open(g, &st, err) < 0 || bld_image_find(st, argv[optind], &img, err) < 0)
		return -1;
	for (size_t i = 0; i < dests.len; i++) {
		_cleanup_buf_ struct nib_buf f = {0};
		if (stg_image_tag(st, dests.v[i], &img->entry, err) < 0)
			return -1;
		/* --log-format json: one event per name (text: nothing, as
		 * buildah) */
		nib_buf_puts(&f, "\"ref\":");
		nib_buf_json_string(&f, dests.v[i]);
		nib_buf_printf(&f, ",\"digest\":\"%s\"", img->entry.digest);
		nib_log_event("tagged", f.data, NULL);
	}
	return 0;
}
