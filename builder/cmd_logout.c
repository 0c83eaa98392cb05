/* SPDX-License-Identifier: Apache-2.0 */
/* nib logout REGISTRY | --all: remove stored credentials from auth.json. */
#include <getopt.h>
#include <string.h>

#include "builder/builder.h"
#include "builder/regflags.h"
#include "registry/registry.h"

enum { OPT_ALL = BLD_OPT_LOCAL };

int bld_cmd_logout(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		   struct nib_error *err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"all", no_argument, NULL, 'a'},
	    {"authfile", required_argument, NULL, BLD_OPT_AUTHFILE},
	    {NULL, 0, NULL, 0}};
	_cleanup_free_ char *key = NULL, *path = NULL;
	const char *authfile = NULL;
	bool all = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "+ha", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			bld_command_help(self);
			printf("\n  -a, --all              remove every stored credential\n"
			       "  --authfile FILE        the credentials file\n");
			return 0;
		case 'a':
			all = true;
			break;
		case BLD_OPT_AUTHFILE:
			authfile = optarg;
			break;
		default:
			return bld_bad_option(self, argv, err);
		}
	}
	if (all ? argc != optind : argc - optind != 1)
		return bld_usage_error(self, err, "logout: expected one registry or --all");
	path = reg_authfile_default(authfile);
	if (!all) {
		const char *s = argv[optind];
		if (nib_str_has_prefix(s, "https://"))
			s += 8;
		else if (nib_str_has_prefix(s, "http://"))
			s += 7;
		key = xstrdup(s);
		size_t n = strlen(key);
		while (n && key[n - 1] == '/')
			key[--n] = '\0';
		if (streq(key, "index.docker.io") || streq(key, "registry-1.docker.io")) {
			free(key);
			key = xstrdup(REG_DOCKER_HUB);
		}
	}
	r = reg_creds_remove(path, key, err);
	if (r < 0)
		return -1;
	if (all) {
		bld_emit("logout", "Removed login credentials for all registries", "registry", "",
			 NULL);
		return 0;
	}
	if (r == 0)
		return nib_err(err, NIB_ERR_NOT_FOUND, 0, "not logged into %s (in %s)", key, path);
	_cleanup_free_ char *line = xasprintf("Removed login credentials for %s", key);
	bld_emit("logout", line, "registry", key, NULL);
	return 0;
}
