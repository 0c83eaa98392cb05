/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib-copy-tool: drives the COPY/ADD engine (builder/copy.h) from shell
 * tests and benchmarks. Not installed; not a nib command.
 *
 *   nib-copy-tool [OPTS] --context DIR --root DIR SRC... DEST
 *     --add                 ADD (URLs, archive extraction)
 *     --from                sources come from a rootfs (owners kept)
 *     --chown SPEC --chmod MODE --exclude PAT (repeatable) --parents
 *     --link                DEST root is an empty folder (names from --user-root)
 *     --user-root DIR       where --chown names are looked up
 *     --workdir DIR         WORKDIR for a relative DEST
 *     --ignore-file FILE    a .dockerignore, applied to the context (cf_ignore)
 *     --checksum D --no-unpack --timestamp N
 *     --heredoc NAME=TEXT   a heredoc source (repeatable)
 *     --chown-mode real|xattr|auto
 *     --digest              print the sources' cache-key digest, copy nothing
 *   prints "files dirs symlinks hardlinks other bytes" on success; errors
 *   as "nib-copy-tool: MESSAGE" with exit status 1 (2 for syntax).
 */
#include <fcntl.h>
#include <getopt.h>
#include <string.h>

#include "builder/copy.h"
#include "containerfile/containerfile.h"

static int fail(struct nib_error *err)
{
	int code = nib_err_exit_code(err);

	fprintf(stderr, "nib-copy-tool: %s\n", err->msg ? err->msg : "failed");
	nib_err_clear(err);
	return code;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"add", no_argument, NULL, 'a'},
					     {"from", no_argument, NULL, 'f'},
					     {"chown", required_argument, NULL, 'o'},
					     {"chmod", required_argument, NULL, 'm'},
					     {"exclude", required_argument, NULL, 'x'},
					     {"parents", no_argument, NULL, 'p'},
					     {"link", no_argument, NULL, 'l'},
					     {"user-root", required_argument, NULL, 'u'},
					     {"workdir", required_argument, NULL, 'w'},
					     {"ignore-file", required_argument, NULL, 'i'},
					     {"checksum", required_argument, NULL, 'c'},
					     {"no-unpack", no_argument, NULL, 'n'},
					     {"timestamp", required_argument, NULL, 't'},
					     {"heredoc", required_argument, NULL, 'h'},
					     {"chown-mode", required_argument, NULL, 'M'},
					     {"digest", no_argument, NULL, 'd'},
					     {"context", required_argument, NULL, 'C'},
					     {"root", required_argument, NULL, 'R'},
					     {NULL, 0, NULL, 0}};
	_cleanup_strv_ struct nib_strv excludes = {0};
	struct bld_copy_heredoc hds[16];
	size_t n_hd = 0;
	struct bld_copy_opts o;
	struct bld_copy_matcher matcher;
	_cleanup_(cf_ignore_freep) struct cf_ignore *ig = NULL;
	_cleanup_(bld_copy_plan_freep) struct bld_copy_plan *plan = NULL;
	struct bld_copy_stats stats;
	struct nib_error err = {0};
	_cleanup_(cf_chmod_clear) struct cf_chmod chmod = {0};
	const char *context = NULL, *root = NULL, *ignore_file = NULL, *user_root = NULL;
	bool digest = false;
	int c, rootfd;

	bld_copy_opts_init(&o);
	o.chown_mode = geteuid() == 0 ? BLD_COPY_CHOWN_REAL : BLD_COPY_CHOWN_XATTR;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o.add = true;
			break;
		case 'f':
			o.from_rootfs = true;
			break;
		case 'o':
			o.chown = optarg;
			break;
		case 'm':
			/* as the plan checks it before a COPY runs */
			cf_chmod_clear(&chmod);
			if (cf_chmod_parse(optarg, &chmod, &err) < 0)
				return fail(&err);
			o.chmod = &chmod;
			break;
		case 'x':
			nib_strv_push(&excludes, optarg);
			break;
		case 'p':
			o.parents = true;
			break;
		case 'l':
			o.link = true;
			break;
		case 'u':
			user_root = optarg;
			break;
		case 'w':
			o.workdir = optarg;
			break;
		case 'i':
			ignore_file = optarg;
			break;
		case 'c':
			o.checksum = optarg;
			break;
		case 'n':
			o.no_unpack = true;
			break;
		case 't':
			o.timestamp = strtoll(optarg, NULL, 10);
			break;
		case 'h': {
			char *eq = strchr(optarg, '=');
			if (!eq || n_hd == ARRAY_SIZE(hds))
				return 2;
			*eq = '\0';
			hds[n_hd++] = (struct bld_copy_heredoc){optarg, eq + 1, strlen(eq + 1)};
			break;
		}
		case 'M':
			o.chown_mode = streq(optarg, "real")   ? BLD_COPY_CHOWN_REAL
				       : streq(optarg, "auto") ? BLD_COPY_CHOWN_AUTO
							       : BLD_COPY_CHOWN_XATTR;
			break;
		case 'd':
			digest = true;
			break;
		case 'C':
			context = optarg;
			break;
		case 'R':
			root = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!context || !root || argc - optind < 1) {
		fprintf(stderr,
			"usage: nib-copy-tool [OPTS] --context DIR --root DIR SRC... DEST\n");
		return 2;
	}
	o.srcs = (const char *const *)argv + optind;
	o.n_srcs = (size_t)(argc - optind - 1);
	o.dest = argv[argc - 1];
	o.heredocs = hds;
	o.n_heredocs = n_hd;
	o.excludes = (const char *const *)excludes.v;
	o.n_excludes = excludes.len;
	o.src_fd = open(context, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o.src_fd < 0) {
		nib_err(&err, NIB_ERR_NOT_FOUND, errno, "open %s", context);
		return fail(&err);
	}
	if (user_root) {
		o.user_root_fd = open(user_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (o.user_root_fd < 0) {
			nib_err(&err, NIB_ERR_NOT_FOUND, errno, "open %s", user_root);
			return fail(&err);
		}
	}
	if (ignore_file) {
		ig = cf_ignore_load(ignore_file, &err);
		if (!ig)
			return fail(&err);
		bld_copy_matcher_cf(&matcher, ig);
		o.ignore = &matcher;
	}
	if (bld_copy_plan_new(&o, &plan, &err) < 0)
		return fail(&err);
	if (digest) {
		char d[NIB_DIGEST_LEN + 1];
		if (bld_copy_plan_digest(plan, d, &err) < 0)
			return fail(&err);
		printf("%s\n", d);
		return 0;
	}
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		nib_err(&err, NIB_ERR_NOT_FOUND, errno, "open %s", root);
		return fail(&err);
	}
	if (bld_copy_plan_apply(plan, rootfd, &stats, &err) < 0)
		return fail(&err);
	printf("%llu %llu %llu %llu %llu %llu\n", (unsigned long long)stats.files,
	       (unsigned long long)stats.dirs, (unsigned long long)stats.symlinks,
	       (unsigned long long)stats.hardlinks, (unsigned long long)stats.other,
	       (unsigned long long)stats.bytes);
	return 0;
}
