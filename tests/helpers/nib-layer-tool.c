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
 *
 *   nib-layer-tool probe --root ROOT [--driver NAME]
 *   prints the driver chosen, then one line per refused driver
 *
 *   nib-layer-tool step --root ROOT [--driver NAME] [--layer FILE:DIFFID]...
 *       [--exclude P]... [--timestamp N] [--compression C] [--adopt] -- CMD
 *   the layers (bottom first) are stored and unpacked, a step prepared, CMD
 *   run by sh in a user and mount namespace with the rootfs mounted and as
 *   its working folder, the changes committed; prints "driver diff_id
 *   digest size entries" and, with --adopt, the adopted folder
 */
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
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

static int fail(struct nib_error *err)
{
	fprintf(stderr, "nib-layer-tool: %s\n", err->msg);
	nib_err_clear(err);
	return 1;
}

static int cmd_probe(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"driver", required_argument, NULL, 'd'},
	    {0},
	};
	const char *root = NULL, *driver = NULL;
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_strv_ struct nib_strv why = {0};
	const struct stg_rootfs_driver *d;
	struct nib_error err = {0};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'r')
			root = optarg;
		else if (c == 'd')
			driver = optarg;
		else
			return usage();
	}
	if (stg_store_open(root, &st, &err) < 0)
		return fail(&err);
	if (stg_rootfs_driver_pick(st, driver, &d, &why, &err) < 0)
		return fail(&err);
	printf("%s\n", d->name);
	for (size_t i = 0; i < why.len; i++)
		printf("%s\n", why.v[i]);
	return 0;
}

static int write_map(const char *file, const char *map)
{
	_cleanup_close_ int fd = open(file, O_WRONLY | O_CLOEXEC);
	return fd >= 0 && nib_write_all(fd, map, strlen(map)) == 0 ? 0 : -1;
}

/* The step's child: a user and mount namespace, the rootfs mounted, CMD. */
static int run_step(struct stg_rootfs *r, const char *cmd, struct nib_error *err)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		char map[64];
		uid_t uid = geteuid();
		gid_t gid = getegid();
		struct nib_error e = {0};

		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
			perror("unshare");
			_exit(125);
		}
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		write_map("/proc/self/uid_map", map);
		write_map("/proc/self/setgroups", "deny");
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		write_map("/proc/self/gid_map", map);
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
		if (r->driver->mount(r, &e) < 0) {
			fprintf(stderr, "nib-layer-tool: %s\n", e.msg);
			_exit(125);
		}
		pid_t p2 = fork();
		if (p2 == 0) {
			if (chdir(r->target) < 0)
				_exit(125);
			setenv("ROOTFS", r->target, 1);
			execl("/bin/sh", "sh", "-ec", cmd, (char *)NULL);
			_exit(127);
		}
		int st2 = 0;
		waitpid(p2, &st2, 0);
		r->driver->umount(r, NULL);
		_exit(WIFEXITED(st2) ? WEXITSTATUS(st2) : 126);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "fork");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return nib_err(err, NIB_ERR_RUN, 0, "step command failed with status %d",
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

static int put_file(struct stg_store *st, const char *file, char digest[NIB_DIGEST_LEN + 1],
		    struct nib_error *err)
{
	_cleanup_(stg_blob_writer_freep) struct stg_blob_writer *w = NULL;
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	char buf[65536];
	ssize_t n;

	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s", file);
	if (stg_blob_writer_new(st, &w, err) < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (stg_blob_writer_write(w, buf, (size_t)n, err) < 0)
			return -1;
	return stg_blob_writer_commit(w, NULL, -1, digest, err);
}

static int cmd_step(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"driver", required_argument, NULL, 'd'},
	    {"layer", required_argument, NULL, 'L'},
	    {"exclude", required_argument, NULL, 'x'},
	    {"timestamp", required_argument, NULL, 't'},
	    {"compression", required_argument, NULL, 'z'},
	    {"adopt", no_argument, NULL, 'a'},
	    {0},
	};
	const char *root = NULL, *driver = NULL;
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_strv_ struct nib_strv files = {0}, diffs = {0}, excl = {0}, dirs = {0};
	_cleanup_free_ struct stg_layer_ref *refs = NULL;
	_cleanup_free_ char *digests = NULL;
	const struct stg_rootfs_driver *d;
	struct stg_rootfs *r = NULL;
	struct stg_unpack_opts uo;
	struct stg_commit_opts co;
	struct stg_layer_out out;
	struct nib_error err = {0};
	struct stg_idmap_range ur, gr;
	struct stg_idmap map = {&ur, 1, &gr, 1};
	bool adopt = false;
	uint64_t v;
	int c;

	stg_commit_opts_init(&co);
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			root = optarg;
			break;
		case 'd':
			driver = optarg;
			break;
		case 'L': {
			char *colon = strrchr(optarg, ':');
			if (!colon || colon - optarg < 8)
				return usage();
			nib_strv_push_take(&files, xstrndup(optarg, (size_t)(colon - optarg - 7)));
			nib_strv_push(&diffs, colon - 6);
			break;
		}
		case 'x':
			nib_strv_push(&excl, optarg);
			break;
		case 't':
			if (u64_opt(optarg, &v) < 0)
				return 2;
			co.timestamp = (int64_t)v;
			break;
		case 'z':
			if (stg_compression_parse(optarg) < 0)
				return usage();
			co.compression = (enum stg_compression)stg_compression_parse(optarg);
			break;
		case 'a':
			adopt = true;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind != 1)
		return usage();
	if (stg_store_open(root, &st, &err) < 0)
		return fail(&err);
	if (stg_rootfs_driver_pick(st, driver, &d, NULL, &err) < 0)
		return fail(&err);
	stg_unpack_opts_init(&uo);
	uo.driver = d;
	if (geteuid() != 0) {
		ur = (struct stg_idmap_range){0, (uint32_t)geteuid(), 1};
		gr = (struct stg_idmap_range){0, (uint32_t)getegid(), 1};
		uo.idmap = &map;
		uo.idmap_tag = "self";
	}
	refs = xcalloc(files.len + 1, sizeof(*refs));
	digests = xcalloc(files.len + 1, NIB_DIGEST_LEN + 1);
	for (size_t i = 0; i < files.len; i++) {
		if (put_file(st, files.v[i], digests + i * (NIB_DIGEST_LEN + 1), &err) < 0)
			return fail(&err);
		refs[i].digest = digests + i * (NIB_DIGEST_LEN + 1);
		refs[i].diff_id = diffs.v[i];
	}
	if (stg_layers_unpack(st, refs, files.len, &uo, &dirs, &err) < 0)
		return fail(&err);
	if (stg_rootfs_prepare(st, d, &dirs, &uo, &r, &err) < 0)
		return fail(&err);
	if (run_step(r, argv[optind], &err) < 0) {
		stg_rootfs_remove(r, &uo, NULL);
		return fail(&err);
	}
	if (excl.len)
		co.exclude = (const char *const *)excl.v;
	if (stg_rootfs_commit(st, r, &co, &uo, &out, &err) < 0) {
		stg_rootfs_remove(r, &uo, NULL);
		return fail(&err);
	}
	printf("%s %s %s %lld %llu\n", d->name, out.diff_id, out.digest, (long long)out.size,
	       (unsigned long long)out.entries);
	if (adopt) {
		char chain[NIB_DIGEST_LEN + 1] = "";
		for (size_t i = 0; i < files.len; i++)
			stg_chain_id(i ? chain : NULL, refs[i].diff_id, chain);
		if (stg_rootfs_adopt(st, r, files.len ? chain : NULL, &out, co.exclude, &uo, &dirs,
				     &err) < 0) {
			stg_rootfs_remove(r, &uo, NULL);
			return fail(&err);
		}
		printf("%s\n", dirs.v[dirs.len - 1]);
	}
	if (stg_rootfs_remove(r, &uo, &err) < 0)
		return fail(&err);
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
	if (streq(argv[1], "probe"))
		return cmd_probe(argc, argv);
	if (streq(argv[1], "step"))
		return cmd_step(argc, argv);
	return usage();
}
