/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib-layer-tool: drives layer extraction, diff and commit from shell
 * tests and benchmarks. Not installed; not a nib command.
 *
 *   nib-layer-tool extract [OPTS] DIR LAYER     apply LAYER ("-": stdin) to DIR
 *     --vfs                 apply whiteouts (default: overlay markers)
 *     --map-self            container 0:0 is the caller (single UID, no userns)
 *     --digest D --diff-id D   expected digests
 *     --max-size N --max-entries N --max-header N --max-ratio N
 *     --remove-on-error     remove DIR when extraction fails (as the cache does)
 *   prints "diff_id digest entries records" on success
 *
 *   nib-layer-tool commit [OPTS] TREE OUT       write TREE's changes as a layer to OUT
 *     --compare BASE        vfs: compare with BASE (default: TREE is an upper dir)
 *     --copied-at SEC       content unchanged for files with an older ctime
 *     --exclude PATH        (repeatable) never in the layer
 *     --map-self            disk owner = caller is container 0:0
 *     --timestamp N         clamp mtimes
 *     --compression gzip|zstd|none  --level N
 *   prints "diff_id digest size entries media_type"
 */
#include <fcntl.h>
#include <getopt.h>
#include <string.h>

#include "storage/storage.h"

static int usage(void)
{
	fprintf(stderr, "usage: nib-layer-tool extract [OPTS] DIR LAYER\n"
			"       nib-layer-tool commit [OPTS] TREE OUT\n");
	return 2;
}

static int u64_opt(const char *s, uint64_t *v)
{
	if (nib_parse_u64(s, v) < 0) {
		fprintf(stderr, "nib-layer-tool: bad number %s\n", s);
		return -1;
	}
	return 0;
}

static int cmd_extract(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"vfs", no_argument, NULL, 'v'},
	    {"map-self", no_argument, NULL, 'm'},
	    {"digest", required_argument, NULL, 'd'},
	    {"diff-id", required_argument, NULL, 'D'},
	    {"max-size", required_argument, NULL, 's'},
	    {"max-entries", required_argument, NULL, 'e'},
	    {"max-header", required_argument, NULL, 'h'},
	    {"max-ratio", required_argument, NULL, 'r'},
	    {"remove-on-error", no_argument, NULL, 'R'},
	    {0},
	};
	struct stg_extract_opts o = {0};
	struct stg_extract_result res;
	struct nib_error err = {0};
	struct stg_idmap_range ur, gr;
	struct stg_idmap map = {&ur, 1, &gr, 1};
	_cleanup_close_ int rootfd = -1, fd = -1;
	bool remove = false;
	int c;

	stg_layer_limits_default(&o.limits);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			o.whiteouts = STG_WHITEOUT_APPLY;
			break;
		case 'm':
			ur = (struct stg_idmap_range){0, (uint32_t)geteuid(), 1};
			gr = (struct stg_idmap_range){0, (uint32_t)getegid(), 1};
			o.idmap = &map;
			break;
		case 'd':
			o.digest = optarg;
			break;
		case 'D':
			o.diff_id = optarg;
			break;
		case 's':
			if (u64_opt(optarg, &o.limits.max_size) < 0)
				return 2;
			break;
		case 'e':
			if (u64_opt(optarg, &o.limits.max_entries) < 0)
				return 2;
			break;
		case 'h':
			if (u64_opt(optarg, &o.limits.max_header) < 0)
				return 2;
			break;
		case 'r':
			if (u64_opt(optarg, &o.limits.max_ratio) < 0)
				return 2;
			break;
		case 'R':
			remove = true;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind != 2)
		return usage();
	rootfd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		fprintf(stderr, "nib-layer-tool: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	fd = streq(argv[optind + 1], "-") ? dup(0) : open(argv[optind + 1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "nib-layer-tool: %s: %s\n", argv[optind + 1], strerror(errno));
		return 1;
	}
	o.name = argv[optind + 1];
	if (stg_layer_extract_fd(rootfd, fd, &o, &res, &err) < 0) {
		fprintf(stderr, "nib-layer-tool: %s\n", err.msg);
		nib_err_clear(&err);
		if (remove && nib_rm_rf_at(AT_FDCWD, argv[optind], &err) < 0) {
			fprintf(stderr, "nib-layer-tool: %s\n", err.msg);
			nib_err_clear(&err);
		}
		return 1;
	}
	printf("%s %s %llu %llu\n", res.diff_id, res.digest, (unsigned long long)res.entries,
	       (unsigned long long)res.records);
	return 0;
}

static int cmd_commit(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"compare", required_argument, NULL, 'c'},
	    {"copied-at", required_argument, NULL, 'C'},
	    {"exclude", required_argument, NULL, 'x'},
	    {"map-self", no_argument, NULL, 'm'},
	    {"timestamp", required_argument, NULL, 't'},
	    {"compression", required_argument, NULL, 'z'},
	    {"level", required_argument, NULL, 'l'},
	    {0},
	};
	struct stg_commit_opts o;
	struct stg_layer_out out;
	struct nib_error err = {0};
	struct stg_idmap_range ur, gr;
	struct stg_idmap map = {&ur, 1, &gr, 1};
	_cleanup_strv_ struct nib_strv excl = {0};
	_cleanup_close_ int treefd = -1, basefd = -1, outfd = -1;
	uint64_t v;
	int c;

	stg_commit_opts_init(&o);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.kind = STG_DIFF_COMPARE;
			basefd = open(optarg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (basefd < 0) {
				fprintf(stderr, "nib-layer-tool: %s: %s\n", optarg,
					strerror(errno));
				return 1;
			}
			o.basefd = basefd;
			break;
		case 'C':
			if (u64_opt(optarg, &v) < 0)
				return 2;
			o.copied_at.tv_sec = (time_t)v;
			break;
		case 'x':
			nib_strv_push(&excl, optarg);
			break;
		case 'm':
			ur = (struct stg_idmap_range){0, (uint32_t)geteuid(), 1};
			gr = (struct stg_idmap_range){0, (uint32_t)getegid(), 1};
			o.idmap = &map;
			break;
		case 't':
			if (u64_opt(optarg, &v) < 0)
				return 2;
			o.timestamp = (int64_t)v;
			break;
		case 'z':
			if (stg_compression_parse(optarg) < 0)
				return usage();
			o.compression = (enum stg_compression)stg_compression_parse(optarg);
			break;
		case 'l':
			if (u64_opt(optarg, &v) < 0)
				return 2;
			o.level = (int)v;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind != 2)
		return usage();
	if (excl.len)
		o.exclude = (const char *const *)excl.v;
	treefd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (treefd < 0) {
		fprintf(stderr, "nib-layer-tool: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	outfd = streq(argv[optind + 1], "-")
		    ? dup(1)
		    : open(argv[optind + 1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (outfd < 0) {
		fprintf(stderr, "nib-layer-tool: %s: %s\n", argv[optind + 1], strerror(errno));
		return 1;
	}
	if (stg_layer_commit_fd(treefd, &o, outfd, &out, &err) < 0) {
		fprintf(stderr, "nib-layer-tool: %s\n", err.msg);
		nib_err_clear(&err);
		return 1;
	}
	fprintf(streq(argv[optind + 1], "-") ? stderr : stdout, "%s %s %lld %llu %s\n", out.diff_id,
		out.digest, (long long)out.size, (unsigned long long)out.entries, out.media_type);
	return 0;
}

int main(int argc, char **argv)
{
	const char *lvl = getenv("NIB_LOG_LEVEL");

	nib_log_setup(lvl ? (enum nib_log_level)nib_log_level_parse(lvl) : NIB_LOG_WARN,
		      NIB_LOG_TEXT);
	if (argc < 2)
		return usage();
	optind = 2;
	if (streq(argv[1], "extract"))
		return cmd_extract(argc, argv);
	if (streq(argv[1], "commit"))
		return cmd_commit(argc, argv);
	return usage();
}
