/* SPDX-License-Identifier: Apache-2.0 */
/* nib prune: remove blobs no image needs, and leftovers of crashed
 * processes. Waits until no other nib process has the root open. */
#include <getopt.h>
#include <string.h>

#include "builder/builder.h"
#include "storage/storage.h"

int bld_cmd_prune(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
					     {"no-wait", no_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_free_ char *size = NULL;
	struct stg_gc_stats gs;
	bool wait = true, busy = false;
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			bld_command_help(self);
			return 0;
		case 'n':
			wait = false;
			break;
		default:
			return bld_bad_option(self, argv, err);
		}
	}
	if (optind < argc)
		return bld_usage_error(self, err, "prune: unexpected argument '%s'", argv[optind]);
	if (bld_store_open(g, &st, err) < 0)
		return -1;
	if (stg_store_gc(st, false, &gs, &busy, err) < 0)
		return -1;
	if (busy) {
		if (!wait)
			return nib_err(err, NIB_ERR_ENV, EBUSY,
				       "prune: %s is in use by another nib process",
				       stg_store_path(st));
		log_warn("waiting for other nib processes to close %s", stg_store_path(st));
		if (stg_store_gc(st, true, &gs, NULL, err) < 0)
			return -1;
	}
	size = bld_human_size(gs.bytes_removed);
	_cleanup_free_ char *line =
	    xasprintf("removed %zu blobs (%s), %zu extracted layers, %zu leftover temp files; "
		      "kept %zu blobs",
		      gs.blobs_removed, size, gs.layers_removed, gs.temps_removed, gs.blobs_kept);
	_cleanup_free_ char *fields =
	    xasprintf("\"blobs_removed\":%zu,\"bytes_removed\":%lld,\"layers_removed\":%zu,"
		      "\"temps_removed\":%zu,\"blobs_kept\":%zu",
		      gs.blobs_removed, (long long)gs.bytes_removed, gs.layers_removed,
		      gs.temps_removed, gs.blobs_kept);
	fflush(stdout);
	nib_log_event("prune", fields, line);
	return 0;
}
