/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>

#include "builder/builder.h"

int bld_cmd_tag(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		struct nib_error *err)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			bld_command_help(self);
			return 0;
		}
		return bld_bad_option(self, argv, err);
	}
	return nib_err(err, NIB_ERR_ENV, 0, "nib tag is not available in this version");
}
