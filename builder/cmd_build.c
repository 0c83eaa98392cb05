/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib build. This version reads the Containerfile and prints its plan for
 * the embedded example (`nib build --example`); building images comes with
 * the build orchestrator.
 */
#include <getopt.h>
#include <string.h>

#include "builder/builder.h"
#include "containerfile/containerfile.h"

int bld_cmd_build(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"example", no_argument, NULL, 'e'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_(cf_file_freep) struct cf_file *f = NULL;
	_cleanup_free_ char *out = NULL;
	bool example = false;
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			bld_command_help(self);
			return 0;
		case 'e':
			example = true;
			break;
		default:
			return bld_bad_option(self, argv, err);
		}
	}
	if (!example)
		return nib_err(err, NIB_ERR_ENV, 0,
			       "building images is not available in this version: only "
			       "'nib build --example' (print the example's plan) works");
	if (optind != argc)
		return bld_usage_error(self, err, "build: --example takes no CONTEXT");
	f = cf_parse_buffer("example/Containerfile", bld_example_containerfile,
			    strlen(bld_example_containerfile), err);
	if (!f)
		return -1;
	if (cf_file_plan(f, NULL, err) < 0)
		return -1;
	out = cf_file_text(f);
	printf("The plan for the example Containerfile (building it comes in a later "
	       "version):\n\n%s",
	       out);
	return fflush(stdout) == 0 ? 0 : nib_err(err, NIB_ERR_IO, errno, "writing the output");
}
