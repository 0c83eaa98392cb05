/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/: errors, allocation, buffers, string vectors, paths,
 * resolution inside a root, files and digests. */
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "common/common.h"
#include "tests/unit/unit.h"

static char tmpdir[256];

static void test_error(void)
{
	struct nib_error err = {0};

	CHECK(nib_err(&err, NIB_ERR_IO, ENOENT, "open %s", "/x") == -1);
	CHECK_STREQ(err.msg, "open /x: No such file or directory");
	CHECK(err.errnum == ENOENT);
	CHECK(nib_err_wrap(&err, "layer %d", 3) == -1);
	CHECK_STREQ(err.msg, "layer 3: open /x: No such file or directory");
	CHECK_INTEQ(nib_err_exit_code(&err), 1);
	nib_err(&err, NIB_ERR_SYNTAX, 0, "Containerfile:1:1: bad");
	CHECK_INTEQ(nib_err_exit_code(&err), 2);
	nib_err(&err, NIB_ERR_USAGE, 0, "x");
	CHECK_INTEQ(nib_err_exit_code(&err), 2);
	struct nib_error other = {0};
	nib_err_move(&other, &err);
	CHECK(err.msg == NULL && err.kind == NIB_ERR_NONE);
	CHECK_STREQ(other.msg, "x");
	nib_err_clear(&other);
	CHECK(other.msg == NULL);
	CHECK_INTEQ(nib_err_exit_code(&other), 0);
	/* a NULL error is allowed */
	CHECK(nib_err(NULL, NIB_ERR_IO, 0, "ignored") == -1);
	CHECK_STREQ(nib_err_kind_name(NIB_ERR_CORRUPT), "corrupt");
}

static void test_xalloc(void)
{
	_cleanup_free_ char *s = xasprintf("%s-%d", "a", 7);
	_cleanup_free_ char *d = xstrndup("abcdef", 3);
	_cleanup_free_ int *arr = NULL;
	size_t cap = 0;

	CHECK_STREQ(s, "a-7");
	CHECK_STREQ(d, "abc");
	arr = xgrow(arr, &cap, 100, sizeof(int));
	CHECK(cap >= 100);
	for (int i = 0; i < 100; i++)
		arr[i] = i;
	CHECK(arr[99] == 99);
}

static void test_buf(void)
{
	_cleanup_buf_ struct nib_buf b = {0};

	nib_buf_puts(&b, "ab");
	nib_buf_putc(&b, 'c');
	nib_buf_printf(&b, "%d", 42);
	CHECK_STREQ(b.data, "abc42");
	CHECK_INTEQ(b.len, 5);
	nib_buf_reset(&b);
	nib_buf_json_string(&b, "a\"b\\c\n\x01");
	CHECK_STREQ(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
	nib_buf_reset(&b);
	/* valid UTF-8 is kept; invalid bytes and DEL are escaped */
	nib_buf_json_string(&b, "\xc3\xa9\xff\x7f\xed\xa0\x80");
	CHECK_STREQ(b.data, "\"\xc3\xa9\\ufffd\\u007f\\ufffd\\ufffd\\ufffd\"");
	size_t w = 0;
	CHECK(nib_utf8_decode("\xe2\x82\xac", 3, &w) == 0x20AC && w == 3);
	CHECK(nib_utf8_decode("\xc0\x80", 2, &w) == 0xFFFD && w == 1);
	CHECK(nib_utf8_decode("\xf4\x90\x80\x80", 4, &w) == 0xFFFD && w == 1);
	CHECK(nib_utf8_decode("", 0, &w) == 0xFFFD && w == 0);
	char *s = nib_buf_steal(&b);
	CHECK(b.data == NULL && b.len == 0);
	free(s);
	s = nib_buf_steal(&b);
	CHECK_STREQ(s, "");
	free(s);
}

static void test_strv(void)
{
	_cleanup_strv_ struct nib_strv sv = {0};

	nib_strv_push(&sv, "b");
	nib_strv_pushf(&sv, "%s", "c");
	nib_strv_push_take(&sv, xstrdup("a"));
	CHECK_INTEQ(sv.len, 3);
	CHECK(sv.v[3] == NULL);
	CHECK_INTEQ(nib_strv_find(&sv, "c"), 1);
	CHECK_INTEQ(nib_strv_find(&sv, "z"), -1);
	nib_strv_sort(&sv);
	_cleanup_free_ char *j = nib_strv_join(&sv, ",");
	CHECK_STREQ(j, "a,b,c");
}

static void test_env_get(void)
{
	char *env[] = {"PATHX=no", "PATH=/bin", "EMPTY=", "NOEQ", "PATH=/second", "A=b=c", NULL};

	CHECK_STREQ(nib_env_get(env, "PATH"), "/bin"); /* the first wins, as getenv(3) */
	CHECK_STREQ(nib_env_get(env, "EMPTY"), "");
	CHECK_STREQ(nib_env_get(env, "A"), "b=c");
	CHECK(nib_env_get(env, "NOEQ") == NULL); /* a name alone sets nothing */
	CHECK(nib_env_get(env, "PAT") == NULL);
	CHECK(nib_env_get(env, "HOME") == NULL);
	CHECK(nib_env_get(NULL, "PATH") == NULL);
	CHECK(strlen(NIB_DEFAULT_PATH) > 0 && strchr(NIB_DEFAULT_PATH, '=') == NULL);
}

static void test_strings(void)
{
	uint64_t v = 0;
	CHECK(nib_str_has_prefix("sha256:x", "sha256:"));
	CHECK(!nib_str_has_prefix("sha", "sha256:"));
	CHECK(nib_str_has_suffix("a.tar.gz", ".gz"));
	CHECK(!nib_str_has_suffix("gz", ".gz"));
	CHECK(nib_parse_u64("18446744073709551615", &v) == 0 && v == UINT64_MAX);
	CHECK(nib_parse_u64("18446744073709551616", &v) < 0);
	CHECK(nib_parse_u64("", &v) < 0);
	CHECK(nib_parse_u64("1x", &v) < 0);
	CHECK(nib_parse_bool("TRUE") == 1);
	CHECK(nib_parse_bool("0") == 0);
	CHECK(nib_parse_bool("maybe") == -1);
}

static void test_path_clean(void)
{
	static const char *const cases[][2] = {
	    {"", "."},
	    {".", "."},
	    {"/", "/"},
	    {"//", "/"},
	    {"a/b/../c", "a/c"},
	    {"/../a", "/a"},
	    {"../a", "../a"},
	    {"a/../..", ".."},
	    {"a/./b/", "a/b"},
	    {"/a//b", "/a/b"},
	    {"../../x/..", "../.."},
	    {"a/..", "."},
	    {"/a/b/c/../../", "/a"},
	    {"abc/def/../../..", ".."},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *c = nib_path_clean(cases[i][0]);
		CHECK_STREQ(c, cases[i][1]);
	}
	_cleanup_free_ char *j1 = nib_path_join("/a/", "/b");
	_cleanup_free_ char *j2 = nib_path_join("", "b");
	_cleanup_free_ char *j3 = nib_path_join("/", "b");
	CHECK_STREQ(j1, "/a/b");
	CHECK_STREQ(j2, "b");
	CHECK_STREQ(j3, "/b");
	CHECK(nib_path_is_below("a/b"));
	CHECK(nib_path_is_below("a/../b"));
	CHECK(!nib_path_is_below("a/../../b"));
	CHECK(!nib_path_is_below("/a"));
	CHECK(!nib_path_is_below(".."));
}

/* A tree with escape attempts: root/{link_abs -> /etc, link_up -> ../../..,
 * dir/, loop -> loop}, and a victim file beside root. */
static int make_tree(char *root, size_t n)
{
	snprintf(root, n, "%s/root", tmpdir);
	if (mkdir(root, 0755) < 0 && errno != EEXIST)
		return -1;
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/dir", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dir/inside", root);
	int fd = open(p, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/victim", tmpdir);
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/link_abs", root);
	(void)symlink("/dir", p);
	snprintf(p, sizeof(p), "%s/link_up", root);
	(void)symlink("../../../..", p);
	snprintf(p, sizeof(p), "%s/loop", root);
	(void)symlink("loop", p);
	snprintf(p, sizeof(p), "%s/etc", root);
	mkdir(p, 0755);
	return 0;
}

typedef int (*open_fn)(int, const char *, int, mode_t, struct nib_error *);

static void check_in_root(open_fn fn)
{
	char root[PATH_MAX];
	struct nib_error err = {0};
	struct stat st, vst;
	char p[PATH_MAX * 2];

	CHECK(make_tree(root, sizeof(root)) == 0);
	_cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY);
	CHECK(rfd >= 0);

	/* absolute symlink resolves inside the root */
	int fd = fn(rfd, "link_abs/inside", O_RDONLY, 0, &err);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	/* ".." beyond the root stays at the root */
	fd = fn(rfd, "../../../victim", O_RDONLY, 0, &err);
	CHECK(fd < 0 && err.errnum == ENOENT);
	fd = fn(rfd, "link_up/victim", O_RDONLY, 0, &err);
	CHECK(fd < 0);
	/* creating through a climbing symlink lands inside the root */
	fd = fn(rfd, "link_up/created", O_WRONLY | O_CREAT, 0644, &err);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/created", root);
	CHECK(stat(p, &st) == 0);
	snprintf(p, sizeof(p), "%s/created", tmpdir);
	CHECK(stat(p, &st) < 0);
	/* loops end with ELOOP */
	fd = fn(rfd, "loop/x", O_RDONLY, 0, &err);
	CHECK(fd < 0 && err.errnum == ELOOP);
	/* O_NOFOLLOW on the last component opens nothing through a symlink */
	fd = fn(rfd, "link_abs", O_RDONLY | O_NOFOLLOW, 0, &err);
	CHECK(fd < 0);
	fd = fn(rfd, "link_abs", O_PATH | O_NOFOLLOW, 0, &err);
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode));
	if (fd >= 0)
		close(fd);
	/* the root itself */
	fd = fn(rfd, "/", O_RDONLY | O_DIRECTORY, 0, &err);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/victim", tmpdir);
	CHECK(stat(p, &vst) == 0 && vst.st_size == 0);
	nib_err_clear(&err);
}

static void test_open_in_root(void)
{
	check_in_root(nib_open_in_root);
}

static void test_open_in_root_walk(void)
{
	check_in_root(nib_open_in_root_walk);
}

static void test_mkdir_in_root(void)
{
	char root[PATH_MAX], p[PATH_MAX * 2];
	struct nib_error err = {0};
	struct stat st;

	CHECK(make_tree(root, sizeof(root)) == 0);
	_cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY);
	int fd = nib_mkdir_in_root(rfd, "/link_up/../made/deep", 0755, &err);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/made/deep", root);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(p, sizeof(p), "%s/made", tmpdir);
	CHECK(stat(p, &st) < 0);
	fd = nib_mkdir_in_root(rfd, "link_abs/sub", 0755, &err);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/dir/sub", root);
	CHECK(stat(p, &st) == 0);
	nib_err_clear(&err);
}

static void record_made(void *arg, const char *path, const struct stat *before)
{
	nib_strv_pushf(arg, "%s%s", path, before ? "" : " (no parent)");
}

static void test_mkdir_in_root_report(void)
{
	char root[PATH_MAX], p[PATH_MAX * 2];
	_cleanup_strv_ struct nib_strv made = {0};
	struct nib_error err = {0};
	struct stat st;

	CHECK(make_tree(root, sizeof(root)) == 0);
	_cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY);
	/* only the folders it creates are reported, relative to the root */
	int fd = nib_mkdir_in_root_report(rfd, "/dir/rep/a/../b", 0700, record_made, &made, &err);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	_cleanup_free_ char *j = nib_strv_join(&made, ",");
	CHECK_STREQ(j, "dir/rep,dir/rep/b");
	snprintf(p, sizeof(p), "%s/dir/rep/b", root);
	CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0700);
	/* an existing path: nothing to report */
	fd = nib_mkdir_in_root_report(rfd, "dir/rep", 0755, record_made, &made, &err);
	CHECK(fd >= 0 && made.len == 2);
	if (fd >= 0)
		close(fd);
	/* a dangling symlink on the way: ENOTDIR, nothing made through it */
	snprintf(p, sizeof(p), "%s/dangling", root);
	(void)symlink("/nowhere/below", p);
	fd = nib_mkdir_in_root_report(rfd, "dangling/x", 0755, record_made, &made, &err);
	CHECK(fd < 0 && err.errnum == ENOTDIR && made.len == 2);
	snprintf(p, sizeof(p), "%s/nowhere", root);
	CHECK(stat(p, &st) < 0);
	/* a file on the way: ENOTDIR */
	fd = nib_mkdir_in_root(rfd, "dir/inside/x", 0755, &err);
	CHECK(fd < 0 && err.errnum == ENOTDIR);
	/* the root itself */
	fd = nib_mkdir_in_root_report(rfd, "/", 0755, record_made, &made, &err);
	CHECK(fd >= 0 && made.len == 2);
	if (fd >= 0)
		close(fd);
	nib_err_clear(&err);
}

static void test_files(void)
{
	struct nib_error err = {0};
	_cleanup_close_ int dfd = open(tmpdir, O_PATH | O_DIRECTORY);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;

	CHECK(nib_write_file_atomic_at(dfd, "f.json", "{}\n", 3, 0600, &err) == 0);
	CHECK(nib_read_file_at(dfd, "f.json", 100, &data, &len, &err) == 0);
	CHECK_STREQ(data, "{}\n");
	CHECK_INTEQ(len, 3);
	free(steal_pointer(&data));
	CHECK(nib_read_file_at(dfd, "f.json", 2, &data, &len, &err) < 0);
	CHECK(err.errnum == EFBIG);
	CHECK(nib_read_file_at(dfd, "missing", 2, &data, &len, &err) < 0);
	CHECK(err.kind == NIB_ERR_NOT_FOUND);
	struct stat st;
	CHECK(fstatat(dfd, "f.json", &st, 0) == 0 && (st.st_mode & 0777) == 0600);

	CHECK(nib_mkdir_p_at(dfd, "rm/a/b/c", 0755, &err) == 0);
	CHECK(nib_write_file_atomic_at(dfd, "rm/a/b/c/file", "x", 1, 0644, &err) == 0);
	CHECK(symlinkat("/", dfd, "rm/a/escape") == 0);
	CHECK(fchmodat(dfd, "rm/a/b", 0555, 0) == 0);
	CHECK(nib_rm_rf_at(dfd, "rm", &err) == 0);
	CHECK(fstatat(dfd, "rm", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT);
	CHECK(nib_rm_rf_at(dfd, "rm", &err) == 0);
	nib_err_clear(&err);
}

static void test_tmp_names(void)
{
	_cleanup_close_ int dfd = open(tmpdir, O_PATH | O_DIRECTORY);
	_cleanup_free_ char *a = NULL, *b = NULL, *d = NULL, *e = NULL;
	_cleanup_close_ int fa = -1, fb = -1;
	char h1[33], h2[33], odd[6];
	struct stat st;

	nib_random_hex(h1, 32);
	nib_random_hex(h2, 32);
	CHECK_INTEQ(strlen(h1), 32);
	CHECK(strspn(h1, "0123456789abcdef") == 32);
	CHECK(strcmp(h1, h2) != 0);
	nib_random_hex(odd, 5);
	CHECK_INTEQ(strlen(odd), 5);

	fa = nib_create_tmp_at(dfd, "t.tmp-", false, 0600, &a);
	fb = nib_create_tmp_at(dfd, "t.tmp-", false, 0600, &b);
	CHECK(fa >= 0 && fb >= 0);
	CHECK(a && b && strcmp(a, b) != 0);
	CHECK(a && nib_str_has_prefix(a, "t.tmp-") && strlen(a) == 6 + 16);
	CHECK(nib_create_tmp_at(dfd, "t.dir-", true, 0700, &d) == 0);
	CHECK(d && fstatat(dfd, d, &st, 0) == 0 && S_ISDIR(st.st_mode));
	CHECK(nib_create_tmp_at(dfd, "missing/x-", false, 0600, &e) < 0 && errno == ENOENT);
}

static void test_digest(void)
{
	char d[NIB_DIGEST_LEN + 1];
	struct nib_error err = {0};

	nib_sha256_digest("", 0, d);
	CHECK_STREQ(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	nib_sha256_digest("abc", 3, d);
	CHECK_STREQ(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	struct nib_sha256 *ctx = nib_sha256_new();
	nib_sha256_update(ctx, "a", 1);
	nib_sha256_update(ctx, "bc", 2);
	char d2[NIB_DIGEST_LEN + 1];
	nib_sha256_final(ctx, d2);
	nib_sha256_free(ctx);
	CHECK_STREQ(d, d2);
	CHECK(nib_digest_valid(d));
	CHECK_STREQ(nib_digest_hex(d), d + 7);
	CHECK(!nib_digest_valid("sha256:abc"));
	CHECK(!nib_digest_valid(
	    "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	CHECK(!nib_digest_valid("md5:ba7816bf8f01cfea414140de5dae2223"));
	CHECK(!nib_digest_valid(NULL));

	_cleanup_close_ int dfd = open(tmpdir, O_PATH | O_DIRECTORY);
	CHECK(nib_write_file_atomic_at(dfd, "abc", "abc", 3, 0644, &err) == 0);
	CHECK(nib_sha256_file_at(dfd, "abc", d2, &err) == 0);
	CHECK_STREQ(d, d2);
	CHECK(nib_sha256_file_at(dfd, "nope", d2, &err) < 0);
	nib_err_clear(&err);
}

static void test_log(void)
{
	CHECK(nib_log_level_parse("debug") == NIB_LOG_DEBUG);
	CHECK(nib_log_level_parse("WARNING") == NIB_LOG_WARN);
	CHECK(nib_log_level_parse("loud") == -1);
	nib_log_setup(NIB_LOG_INFO, NIB_LOG_TEXT);
	CHECK(nib_log_enabled(NIB_LOG_INFO));
	CHECK(!nib_log_enabled(NIB_LOG_DEBUG));
	nib_log_setup(NIB_LOG_WARN, NIB_LOG_TEXT);
}

/* URL credentials are removed wherever they appear in a text. */
static void test_url_redact(void)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
	    {"https://user:pass@host/x", "https://host/x"},
	    {"https://tok@host:8443/a?b=c@d", "https://host:8443/a?b=c@d"},
	    {"ADD https://u:p@h/f /dst", "ADD https://h/f /dst"},
	    {"a http://x:y@h1/ b https://h2/c d https://z@h3",
	     "a http://h1/ b https://h2/c d https://h3"},
	    {"https://u:p%40q@host/x", "https://host/x"},
	    {"https://a@b@host/x", "https://host/x"},
	    {"no url here: user@host", "no url here: user@host"},
	    {"https://host/path@x", "https://host/path@x"},
	    {"\"https://u:p@h\"", "\"https://h\""},
	    {"", ""},
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		_cleanup_free_ char *got = nib_url_redact(rows[i].in);
		unit_row(rows[i].in, streq(got, rows[i].want), got);
	}
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/nib-unit-common-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_error);
	RUN(test_xalloc);
	RUN(test_buf);
	RUN(test_strv);
	RUN(test_env_get);
	RUN(test_strings);
	RUN(test_path_clean);
	RUN(test_open_in_root);
	RUN(test_open_in_root_walk);
	RUN(test_mkdir_in_root);
	RUN(test_mkdir_in_root_report);
	RUN(test_files);
	RUN(test_tmp_names);
	RUN(test_digest);
	RUN(test_log);
	RUN(test_url_redact);
	int dfd = open("/tmp", O_PATH | O_DIRECTORY);
	nib_rm_rf_at(dfd, tmpdir + 5, NULL);
	close(dfd);
	return unit_done();
}
