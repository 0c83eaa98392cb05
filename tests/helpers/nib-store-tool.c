/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper: store operations that no nib command exposes on their own.
 *
 *   nib-store-tool export-oci ROOT REF DIR [TAG]
 *   nib-store-tool export-docker ROOT REF FILE [NAME]
 *   nib-store-tool convert ROOT REF oci|docker NEWREF
 *   nib-store-tool canon manifest|index|config FILE   parse + canonical output
 */
#include <fcntl.h>
#include <string.h>

#include "storage/storage.h"

static int fail(struct nib_error *err)
{
	fprintf(stderr, "nib-store-tool: error: %s\n", err->msg ? err->msg : "failed");
	return 1;
}

int main(int argc, char **argv)
{
	struct nib_error err = {0};
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;

	if (argc >= 4 && streq(argv[1], "canon")) {
		_cleanup_free_ char *data = NULL;
		_cleanup_buf_ struct nib_buf b = {0};
		size_t len = 0;
		if (nib_read_file_at(AT_FDCWD, argv[3], 64u << 20, &data, &len, &err) < 0)
			return fail(&err);
		if (streq(argv[2], "manifest")) {
			_cleanup_(stg_manifest_freep) struct stg_manifest *m = NULL;
			if (stg_manifest_parse(data, len, &m, &err) < 0)
				return fail(&err);
			stg_manifest_generate(m, &b);
		} else if (streq(argv[2], "index")) {
			_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
			if (stg_index_parse(data, len, &ix, &err) < 0)
				return fail(&err);
			stg_index_generate(ix, &b);
		} else {
			_cleanup_(stg_config_freep) struct stg_image_config *c = NULL;
			if (stg_config_parse(data, len, &c, &err) < 0)
				return fail(&err);
			stg_config_generate(c, &b);
		}
		printf("%s\n", b.data);
		return 0;
	}
	if (argc < 5)
		return fprintf(stderr, "usage: see the source\n"), 2;
	if (stg_store_open(argv[2], &st, &err) < 0)
		return fail(&err);
	if (streq(argv[1], "export-oci")) {
		if (stg_export_oci_layout(st, argv[3], argv[4], argc > 5 ? argv[5] : NULL, &err) <
		    0)
			return fail(&err);
	} else if (streq(argv[1], "export-docker")) {
		if (stg_export_docker_archive(st, argv[3], argv[4], argc > 5 ? argv[5] : NULL,
					      &err) < 0)
			return fail(&err);
	} else if (streq(argv[1], "convert") && argc >= 6) {
		_cleanup_(stg_image_freep) struct stg_image *img = NULL;
		struct stg_descriptor d;
		int f = stg_format_parse(argv[4]);
		if (f < 0)
			return fprintf(stderr, "bad format\n"), 2;
		if (stg_image_lookup(st, argv[3], &img, &err) < 0 ||
		    stg_image_convert(st, img, (enum stg_format)f, &d, &err) < 0)
			return fail(&err);
		int r = stg_image_tag(st, argv[5], &d, &err);
		stg_descriptor_clear(&d);
		if (r < 0)
			return fail(&err);
	} else {
		return fprintf(stderr, "unknown command %s\n", argv[1]), 2;
	}
	return 0;
}
