/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib parse: read a Containerfile as `docker build` would and print its
 * plan: stages, instructions with their lines, arguments after the
 * expansion Docker does before building. --json prints one JSON object
 * (see nib-parse(1)).
 */
#include <getopt.h>
#include <string.h>

#include "builder/builder.h"
#include "containerfile/containerfile.h"

int bld_cmd_parse(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, 'j'},
	    {"build-arg", required_argument, NULL, 'a'},
	    {"target", required_argument, NULL, 't'},
	    {"platform", required_argument, NULL, 'p'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_strv_ struct nib_strv build_args = {0};
	_cleanup_(cf_file_freep) struct cf_file *f = NULL;
	_cleanup_free_ char *out = NULL;
	const char *target = NULL, *platform = NULL;
	/* --log-format json: the JSON form */
	bool json = nib_log_get_format() == NIB_LOG_JSON;
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			bld_command_help(self);
			return 0;
		case 'j':
			json = true;
			break;
		case 'a': {
			/* K=V, or K alone: the value from nib's environment */
			const char *eq = strchr(optarg, '=');
			if (eq == optarg)
				return bld_usage_error(self, err, "parse: bad --build-arg '%s'",
						       optarg);
			if (!eq) {
				const char *v = getenv(optarg);
				if (v)
					nib_strv_pushf(&build_args, "%s=%s", optarg, v);
			} else {
				nib_strv_push(&build_args, optarg);
			}
			break;
		}
		case 't':
			target = optarg;
			break;
		case 'p':
			if (!strchr(optarg, '/'))
				return bld_usage_error(
				    self, err, "parse: bad --platform '%s' (OS/ARCH[/VARIANT])",
				    optarg);
			platform = optarg;
			break;
		default:
			return bld_bad_option(self, argv, err);
		}
	}
	if (optind + 1 != argc)
		return bld_usage_error(self, err, "parse: %s",
				       optind >= argc ? "no Containerfile given"
						      : "only one Containerfile may be given");
	f = cf_parse_file(argv[optind], err);
	if (!f)
		return -1;
	struct cf_plan_opts po = {
	    .build_args = (const char *const *)build_args.v,
	    .target = target,
	    .target_platform = platform,
	};
	if (cf_file_plan(f, &po, err) < 0)
		return -1;
	for (size_t i = 0; i < f->unused_args.len; i++)
		log_warn("%s: build argument %s is not used by any ARG", f->path,
			 f->unused_args.v[i]);
	out = json ? cf_file_json(f) : cf_file_text(f);
	fputs(out, stdout);
	if (json)
		fputc('\n', stdout);
	return fflush(stdout) == 0 ? 0 : nib_err(err, NIB_ERR_IO, errno, "writing the output");
}
