/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the .containerignore/.dockerignore matcher: Go's
 * filepath.Match rows and moby/patternmatcher rows (copied here as data),
 * the file reader's normalisation, and picking the ignore file of a build.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "containerfile/containerfile.h"
#include "tests/unit/unit.h"

/* patternmatcher's port of Go's filepath.Match table, checked through
 * Matches() (so a parent folder may match): 1 match, 0 no match,
 * -1 ErrBadPattern */
static const struct {
	const char *pattern, *name;
	int want;
} match_rows[] = {
    {"abc", "abc", 1},
    {"*", "abc", 1},
    {"*c", "abc", 1},
    {"a*", "a", 1},
    {"a*", "abc", 1},
    {"a*", "ab/c", 1},
    {"a*/b", "abc/b", 1},
    {"a*/b", "a/c/b", 0},
    {"a*b*c*d*e*/f", "axbxcxdxe/f", 1},
    {"a*b*c*d*e*/f", "axbxcxdxexxx/f", 1},
    {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", 0},
    {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", 0},
    {"a*b?c*x", "abxbbxdbxebxczzx", 1},
    {"a*b?c*x", "abxbbxdbxebxczzy", 0},
    {"ab[c]", "abc", 1},
    {"ab[b-d]", "abc", 1},
    {"ab[e-g]", "abc", 0},
    {"ab[^c]", "abc", 0},
    {"ab[^b-d]", "abc", 0},
    {"ab[^e-g]", "abc", 1},
    {"a\\*b", "a*b", 1},
    {"a\\*b", "ab", 0},
    {"a?b", "a\342\230\272b", 1},
    {"a[^a]b", "a\342\230\272b", 1},
    {"a???b", "a\342\230\272b", 0},
    {"a[^a][^a][^a]b", "a\342\230\272b", 0},
    {"[a-\316\266]*", "\316\261", 1},
    {"*[a-\316\266]", "A", 0},
    {"a?b", "a/b", 0},
    {"a*b", "a/b", 0},
    {"[\\]a]", "]", 1},
    {"[\\-]", "-", 1},
    {"[x\\-]", "x", 1},
    {"[x\\-]", "-", 1},
    {"[x\\-]", "z", 0},
    {"[\\-x]", "x", 1},
    {"[\\-x]", "-", 1},
    {"[\\-x]", "a", 0},
    {"[]a]", "]", -1},
    {"[-]", "-", -1},
    {"[x-]", "x", -1},
    {"[x-]", "-", -1},
    {"[x-]", "z", -1},
    {"[-x]", "x", -1},
    {"[-x]", "-", -1},
    {"[-x]", "a", -1},
    {"\\", "a", -1},
    {"[a-b-c]", "a", -1},
    {"[", "a", -1},
    {"[^", "a", -1},
    {"[^bc", "a", -1},
    {"a[", "a", -1},
    {"a[", "ab", -1},
    {"*x", "xxx", 1},
};

static void test_match_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(match_rows); i++) {
		struct nib_error err = {0};
		char name[160], why[160];
		const char *pats[] = {match_rows[i].pattern};
		struct cf_ignore *ig = cf_ignore_new(pats, 1, &err);
		int got = !ig ? -1 : cf_ignore_match_legacy(ig, match_rows[i].name) ? 1 : 0;
		int got2 = !ig ? -1 : cf_ignore_match(ig, match_rows[i].name) ? 1 : 0;
		snprintf(name, sizeof(name), "Matches(%s, %s)", match_rows[i].name,
			 match_rows[i].pattern);
		snprintf(why, sizeof(why), "got %d/%d, want %d", got, got2, match_rows[i].want);
		bool ok = got == match_rows[i].want && got2 == match_rows[i].want;
		unit_row(name, ok, ok ? NULL : why);
		cf_ignore_free(ig);
		nib_err_clear(&err);
	}
}

/* Go's filepath.Match itself (its own table, where "a*" does not match
 * "ab/c") */
static const struct {
	const char *pattern, *name;
	int want;
} go_rows[] = {
    {"abc", "abc", 1},
    {"*", "abc", 1},
    {"*c", "abc", 1},
    {"a*", "a", 1},
    {"a*", "abc", 1},
    {"a*", "ab/c", 0},
    {"a*/b", "abc/b", 1},
    {"a*/b", "a/c/b", 0},
    {"a*b*c*d*e*/f", "axbxcxdxe/f", 1},
    {"a*b?c*x", "abxbbxdbxebxczzx", 1},
    {"a*b?c*x", "abxbbxdbxebxczzy", 0},
    {"ab[c]", "abc", 1},
    {"ab[b-d]", "abc", 1},
    {"ab[e-g]", "abc", 0},
    {"ab[^c]", "abc", 0},
    {"ab[^b-d]", "abc", 0},
    {"ab[^e-g]", "abc", 1},
    {"a\\*b", "a*b", 1},
    {"a\\*b", "ab", 0},
    {"a?b", "a\342\230\272b", 1},
    {"a[^a]b", "a\342\230\272b", 1},
    {"a???b", "a\342\230\272b", 0},
    {"a[!a]b", "a\342\230\272b", 0},
    {"[a-\316\266]*", "\316\261", 1},
    {"*[a-\316\266]", "A", 0},
    {"a?b", "a/b", 0},
    {"a*b", "a/b", 0},
    {"[\\]a]", "]", 1},
    {"[\\-]", "-", 1},
    {"[x\\-]", "x", 1},
    {"[x\\-]", "-", 1},
    {"[x\\-]", "z", 0},
    {"[\\-x]", "x", 1},
    {"[\\-x]", "-", 1},
    {"[\\-x]", "a", 0},
    {"[]a]", "]", -1},
    {"[-]", "-", -1},
    {"[x-]", "x", -1},
    {"[x-]", "-", -1},
    {"[x-]", "z", -1},
    {"[-x]", "x", -1},
    {"[-x]", "-", -1},
    {"[-x]", "a", -1},
    {"\\", "a", -1},
    {"[a-b-c]", "a", -1},
    {"[", "a", -1},
    {"[^", "a", -1},
    {"[^bc", "a", -1},
    {"a[", "a", -1},
    {"a[", "ab", -1},
    {"a[", "x", -1},
    {"a/b[", "x", -1},
    {"*x", "xxx", 1},
};

static void test_filepath_match(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(go_rows); i++) {
		char name[160], why[160];
		int got = cf_path_match(go_rows[i].pattern, go_rows[i].name);
		snprintf(name, sizeof(name), "filepath.Match(%s, %s)", go_rows[i].pattern,
			 go_rows[i].name);
		snprintf(why, sizeof(why), "got %d, want %d", got, go_rows[i].want);
		unit_row(name, got == go_rows[i].want, got == go_rows[i].want ? NULL : why);
	}
}

/* moby/patternmatcher MatchesOrParentMatches: patterns one per line */
static const struct {
	const char *patterns, *path;
	bool want;
} matches_rows[] = {
    {"**", "file", true},
    {"**", "file/", true},
    {"**/", "file", true},
    {"**/", "file/", true},
    {"**", "/", true},
    {"**/", "/", true},
    {"**", "dir/file", true},
    {"**/", "dir/file", true},
    {"**", "dir/file/", true},
    {"**/", "dir/file/", true},
    {"**/**", "dir/file", true},
    {"**/**", "dir/file/", true},
    {"dir/**", "dir/file", true},
    {"dir/**", "dir/file/", true},
    {"dir/**", "dir/dir2/file", true},
    {"dir/**", "dir/dir2/file/", true},
    {"**/dir", "dir", true},
    {"**/dir", "dir/file", true},
    {"**/dir2/*", "dir/dir2/file", true},
    {"**/dir2/*", "dir/dir2/file/", true},
    {"**/dir2/**", "dir/dir2/dir3/file", true},
    {"**/dir2/**", "dir/dir2/dir3/file/", true},
    {"**file", "file", true},
    {"**file", "dir/file", true},
    {"**/file", "dir/file", true},
    {"**file", "dir/dir/file", true},
    {"**/file", "dir/dir/file", true},
    {"**/file*", "dir/dir/file", true},
    {"**/file*", "dir/dir/file.txt", true},
    {"**/file*txt", "dir/dir/file.txt", true},
    {"**/file*.txt", "dir/dir/file.txt", true},
    {"**/file*.txt*", "dir/dir/file.txt", true},
    {"**/**/*.txt", "dir/dir/file.txt", true},
    {"**/**/*.txt2", "dir/dir/file.txt", false},
    {"**/*.txt", "file.txt", true},
    {"**/**/*.txt", "file.txt", true},
    {"a**/*.txt", "a/file.txt", true},
    {"a**/*.txt", "a/dir/file.txt", true},
    {"a**/*.txt", "a/dir/dir/file.txt", true},
    {"a/*.txt", "a/dir/file.txt", false},
    {"a/*.txt", "a/file.txt", true},
    {"a/*.txt**", "a/file.txt", true},
    {"a[b-d]e", "ae", false},
    {"a[b-d]e", "ace", true},
    {"a[b-d]e", "aae", false},
    {"a[^b-d]e", "aze", true},
    {".*", ".foo", true},
    {".*", "foo", false},
    {"abc.def", "abcdef", false},
    {"abc.def", "abc.def", true},
    {"abc.def", "abcZdef", false},
    {"abc?def", "abcZdef", true},
    {"abc?def", "abcdef", false},
    {"a\\\\", "a\\", true},
    {"**/foo/bar", "foo/bar", true},
    {"**/foo/bar", "dir/foo/bar", true},
    {"**/foo/bar", "dir/dir2/foo/bar", true},
    {"abc/**", "abc", false},
    {"abc/**", "abc/def", true},
    {"abc/**", "abc/def/ghi", true},
    {"**/.foo", ".foo", true},
    {"**/.foo", "bar.foo", false},
    {"a(b)c/def", "a(b)c/def", true},
    {"a(b)c/def", "a(b)c/xyz", false},
    {"a.|)$(}+{bc", "a.|)$(}+{bc", true},
    {"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
    {"dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
    {"**\n!util/docker/web", "util/docker/web/foo", false},
    {"**\n!util/docker/web\nutil/docker/web/foo", "util/docker/web/foo", true},
    {"**\n!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false},
    {"**\n!dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false},
    {"a\\*b", "a*b", true},
    /* nib's own rows */
    {"*.go", "main.go", true},
    {"*.go", "cmd/main.go", false},
    {"**/*.go", "cmd/main.go", true},
    {"**/*.go", "main.go", true},
    {"node_modules", "node_modules/a/b.js", true},
    {"docs/", "docs/x.md", true},
    {"/build", "build/x", true},
    {"*\n!keep", "keep", false},
    {"*\n!keep", "other", true},
    {"a/*/c", "a/b/c", true},
    {"a/*/c", "a/b/x/c", false},
    {"a/**/c", "a/b/x/c", true},
    {"a?c", "abc", true},
    {"a?c", "a/c", false},
    {"[a-c]x", "bx", true},
    {"[^a-c]x", "dx", true},
    {"[^a-c]x", "bx", false},
    {"\\*x", "*x", true},
    {"\\*x", "ax", false},
    {".git", ".git/HEAD", true},
    {"*.md\n!README.md", "README.md", false},
    {"*.md\n!README.md", "docs/README.md", false},
    {"*.md\n!README.md", "CHANGES.md", true},
    {"dir\n!dir/keep", "dir/keep", false},
    {"dir\n!dir/keep", "dir/other", true},
    {"dir/**\n!dir/keep/**", "dir/keep/a", false},
    {"# comment\nx", "x", true},
    {"x/../y", "y", true},
    {"./z", "z", true},
};

static void test_patternmatcher(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(matches_rows); i++) {
		struct nib_error err = {0};
		char name[200];
		struct cf_ignore *ig = cf_ignore_parse(matches_rows[i].patterns,
						       strlen(matches_rows[i].patterns), &err);
		bool got = ig && cf_ignore_match(ig, matches_rows[i].path);
		snprintf(name, sizeof(name), "ignore [%s] %s -> %s", matches_rows[i].patterns,
			 matches_rows[i].path, matches_rows[i].want ? "excluded" : "kept");
		for (char *c = name; *c; c++)
			if (*c == '\n')
				*c = ',';
		unit_row(name, ig && got == matches_rows[i].want, err.msg);
		cf_ignore_free(ig);
		nib_err_clear(&err);
	}
}

static void test_reader(void)
{
	static const char text[] = "\xEF\xBB\xBF# comment\n"
				   "  \n"
				   "   spaced  \n"
				   "/abs/path\n"
				   "! neg\n"
				   "a//b/../c\n"
				   "#notcomment is a comment too\n";
	struct nib_error err = {0};
	struct cf_ignore *ig = cf_ignore_parse(text, sizeof(text) - 1, &err);

	CHECK(ig != NULL);
	CHECK_INTEQ(cf_ignore_count(ig), 4);
	CHECK(cf_ignore_match(ig, "spaced"));
	CHECK(cf_ignore_match(ig, "abs/path"));
	CHECK(cf_ignore_match(ig, "abs/path/below"));
	CHECK(cf_ignore_match(ig, "a/c"));
	CHECK(!cf_ignore_match(ig, "neg"));
	CHECK(cf_ignore_has_exclusions(ig));
	cf_ignore_free(ig);

	ig = cf_ignore_parse("!\n", 2, &err);
	CHECK(ig == NULL);
	CHECK(err.msg && strstr(err.msg, "illegal exclusion pattern"));
	nib_err_clear(&err);
	ig = cf_ignore_parse("[a-\n", 4, &err);
	CHECK(ig == NULL);
	CHECK(err.msg && strstr(err.msg, "syntax error in pattern"));
	nib_err_clear(&err);
	/* the older Matches(): parents only as deep as the pattern */
	const char *p1[] = {"docs"};
	ig = cf_ignore_new(p1, 1, &err);
	CHECK(cf_ignore_match_legacy(ig, "docs/a/b"));
	CHECK(!cf_ignore_match_legacy(ig, "x/docs/a"));
	cf_ignore_free(ig);
	CHECK(!cf_ignore_match(NULL, "x"));
}

static void test_ignore_file_for(void)
{
	char dir[] = "/tmp/nib-cfignore.XXXXXX";
	char *p, *cf, *got;

	CHECK(mkdtemp(dir) != NULL);
	cf = xasprintf("%s/Containerfile", dir);
	got = cf_ignore_file_for(cf, dir);
	CHECK(got == NULL);
	p = xasprintf("%s/.dockerignore", dir);
	CHECK(nib_write_file_atomic_at(AT_FDCWD, p, "x\n", 2, 0644, NULL) == 0);
	got = cf_ignore_file_for(cf, dir);
	CHECK_STREQ(got, p);
	free(got);
	free(p);
	p = xasprintf("%s/.containerignore", dir);
	CHECK(nib_write_file_atomic_at(AT_FDCWD, p, "x\n", 2, 0644, NULL) == 0);
	got = cf_ignore_file_for(cf, dir);
	CHECK_STREQ(got, p);
	free(got);
	free(p);
	p = xasprintf("%s/Containerfile.dockerignore", dir);
	CHECK(nib_write_file_atomic_at(AT_FDCWD, p, "x\n", 2, 0644, NULL) == 0);
	got = cf_ignore_file_for(cf, dir);
	CHECK_STREQ(got, p);
	free(got);
	free(p);
	p = xasprintf("%s/Containerfile.containerignore", dir);
	CHECK(nib_write_file_atomic_at(AT_FDCWD, p, "y\n", 2, 0644, NULL) == 0);
	got = cf_ignore_file_for(cf, dir);
	CHECK_STREQ(got, p);
	struct nib_error err = {0};
	struct cf_ignore *ig = cf_ignore_load(got, &err);
	CHECK(ig && cf_ignore_match(ig, "y") && !cf_ignore_match(ig, "x"));
	cf_ignore_free(ig);
	free(got);
	free(p);
	/* a missing file is an empty matcher */
	p = xasprintf("%s/nothing", dir);
	ig = cf_ignore_load(p, &err);
	CHECK(ig && cf_ignore_count(ig) == 0);
	cf_ignore_free(ig);
	free(p);
	free(cf);
	nib_rm_rf_at(AT_FDCWD, dir, NULL);
}

static void put(const char *dir, const char *name, const char *content)
{
	_cleanup_free_ char *p = nib_path_join(dir, name);
	CHECK(nib_write_file_atomic_at(AT_FDCWD, p, content, strlen(content), 0644, NULL) == 0);
}

static void link_at(const char *dir, const char *name, const char *target)
{
	_cleanup_free_ char *p = nib_path_join(dir, name);
	unlink(p);
	CHECK(symlink(target, p) == 0);
}

/* Errors of an ignore file name FILE:LINE and never quote the content. */
static void test_ignore_errors(void)
{
	struct nib_error err = {0};
	struct cf_ignore *ig;

	static const char bad[] = "ok\n# c\n\nTOPSECRET-[a-\n";
	ig = cf_ignore_parse_file("ctx/.dockerignore", bad, strlen(bad), &err);
	CHECK(!ig);
	CHECK_STREQ(err.msg, "ctx/.dockerignore:4: syntax error in pattern");
	CHECK(err.kind == NIB_ERR_SYNTAX);
	nib_err_clear(&err);
	ig = cf_ignore_parse_file("x", "a\n  !  \n", 8, &err);
	CHECK(!ig && err.msg && strstr(err.msg, "x:2: illegal exclusion pattern"));
	nib_err_clear(&err);
	ig = cf_ignore_parse("secret[\n", 8, &err);
	CHECK(!ig && err.msg && !strstr(err.msg, "secret") && strstr(err.msg, "line 1:"));
	nib_err_clear(&err);
	/* --exclude patterns (written in the Containerfile) are quoted */
	const char *pat[] = {"bad["};
	ig = cf_ignore_new(pat, 1, &err);
	CHECK(!ig && err.msg && strstr(err.msg, "\"bad[\""));
	nib_err_clear(&err);
}

/* The Containerfile and ignore files of a build come from inside the
 * context only, and only regular files. */
static void test_build_files(void)
{
	char top[] = "/tmp/nib-cffiles.XXXXXX";
	_cleanup_free_ char *ctx = NULL, *out = NULL, *path = NULL, *igp = NULL, *fifo = NULL;
	_cleanup_close_ int cfd = -1;
	struct nib_error err = {0};
	struct cf_file *f = NULL;
	struct cf_ignore *ig = NULL;

	CHECK(mkdtemp(top) != NULL);
	ctx = nib_path_join(top, "ctx");
	out = nib_path_join(top, "outside");
	CHECK(mkdir(ctx, 0755) == 0 && mkdir(out, 0755) == 0);
	cfd = open(ctx, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	put(out, "secret", "TOPSECRET [a-\n");
	put(out, "Containerfile", "FROM outside\n");
	_cleanup_free_ char *secret = nib_path_join(out, "secret");
	_cleanup_free_ char *outcf = nib_path_join(out, "Containerfile");

	/* no Containerfile: one line naming the context */
	CHECK(cf_build_files_load(cfd, ctx, NULL, &path, &f, &ig, &igp, &err) < 0);
	CHECK(err.kind == NIB_ERR_NOT_FOUND && strstr(err.msg, "no Containerfile or Dockerfile"));
	nib_err_clear(&err);

	/* a Containerfile linking out of the context resolves inside it */
	link_at(ctx, "Containerfile", outcf);
	put(ctx, "Dockerfile", "FROM docker\n");
	CHECK(cf_build_files_load(cfd, ctx, NULL, &path, &f, &ig, &igp, &err) == 0);
	CHECK(f && streq(f->stages[0].from->args.v[0], "docker"));
	CHECK(path && nib_str_has_suffix(path, "/ctx/Dockerfile"));
	CHECK(!ig && !igp);
	cf_file_free(f);
	f = NULL;
	free(path);
	path = NULL;
	link_at(ctx, "Containerfile", "../outside/Containerfile");
	CHECK(cf_build_files_load(cfd, ctx, NULL, &path, &f, &ig, &igp, &err) == 0);
	CHECK(f && streq(f->stages[0].from->args.v[0], "docker"));
	cf_file_free(f);
	f = NULL;
	free(path);
	path = NULL;
	/* -f naming the link inside the context: resolved inside too */
	_cleanup_free_ char *incf = nib_path_join(ctx, "Containerfile");
	CHECK(cf_build_files_load(cfd, ctx, incf, &path, &f, &ig, &igp, &err) < 0);
	CHECK(err.kind == NIB_ERR_NOT_FOUND &&
	      strstr(err.msg, "not found inside the build context"));
	nib_err_clear(&err);
	/* an ignore file linking out: the host's file is never read or shown */
	put(ctx, "Containerfile", "FROM inside\n");
	link_at(ctx, ".dockerignore", secret);
	CHECK(cf_build_files_load(cfd, ctx, NULL, &path, &f, &ig, &igp, &err) == 0);
	CHECK(f && streq(f->stages[0].from->args.v[0], "inside"));
	CHECK(!ig);
	cf_file_free(f);
	f = NULL;
	free(path);
	path = NULL;
	link_at(ctx, "Containerfile.containerignore", "../../../outside/secret");
	CHECK(cf_build_files_load(cfd, ctx, NULL, &path, &f, &ig, &igp, &err) == 0);
	CHECK(!ig);
	cf_file_free(f);
	f = NULL;
	free(path);
	path = NULL;
	/* ...but a link to a file inside the context is followed */
	put(ctx, "patterns", "*.tmp\n");
	link_at(ctx, ".dockerignore", "/patterns");
	CHECK(cf_build_files_load(cfd, ctx, NULL, &path, &f, &ig, &igp, &err) == 0);
	CHECK(ig && cf_ignore_match(ig, "a.tmp") && igp &&
	      nib_str_has_suffix(igp, "/.dockerignore"));
	cf_file_free(f);
	cf_ignore_free(ig);
	f = NULL;
	ig = NULL;
	free(path);
	free(igp);
	path = igp = NULL;
	/* a syntax error names FILE:LINE only */
	put(ctx, ".dockerignore", "ok\nTOPSECRET [a-\n");
	CHECK(cf_build_files_load(cfd, ctx, NULL, &path, &f, &ig, &igp, &err) < 0);
	CHECK(err.kind == NIB_ERR_SYNTAX && err.msg && !strstr(err.msg, "TOPSECRET") &&
	      nib_str_has_suffix(err.msg, "/ctx/.dockerignore:2: syntax error in pattern"));
	nib_err_clear(&err);
	/* a FIFO or a folder is refused at once, never waited for */
	_cleanup_free_ char *dign = nib_path_join(ctx, ".dockerignore");
	unlink(dign);
	CHECK(mkfifo(dign, 0644) == 0);
	CHECK(cf_build_files_load(cfd, ctx, NULL, &path, &f, &ig, &igp, &err) < 0);
	CHECK(err.msg && strstr(err.msg, ".dockerignore is not a regular file"));
	nib_err_clear(&err);
	unlink(dign);
	fifo = nib_path_join(ctx, "Containerfile.fifo");
	CHECK(mkfifo(fifo, 0644) == 0);
	CHECK(cf_build_files_load(cfd, ctx, fifo, &path, &f, &ig, &igp, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "Containerfile.fifo is not a regular file"));
	nib_err_clear(&err);
	_cleanup_free_ char *sub = nib_path_join(ctx, "sub");
	CHECK(mkdir(sub, 0755) == 0);
	put(sub, "Containerfile", "FROM sub\n");
	put(sub, "Containerfile.dockerignore", "sub-pattern\n");
	put(ctx, ".dockerignore", "ctx-pattern\n");
	_cleanup_free_ char *subcf = nib_path_join(sub, "Containerfile");
	CHECK(cf_build_files_load(cfd, ctx, subcf, &path, &f, &ig, &igp, &err) == 0);
	CHECK(ig && cf_ignore_match(ig, "sub-pattern") && !cf_ignore_match(ig, "ctx-pattern"));
	CHECK_STREQ(path, subcf);
	cf_file_free(f);
	cf_ignore_free(ig);
	f = NULL;
	ig = NULL;
	free(path);
	free(igp);
	path = igp = NULL;
	/* -f outside the context: the caller's own file, with its own ignore
	 * file beside it, else the context's */
	CHECK(cf_build_files_load(cfd, ctx, outcf, &path, &f, &ig, &igp, &err) == 0);
	CHECK(f && streq(f->stages[0].from->args.v[0], "outside"));
	CHECK(ig && cf_ignore_match(ig, "ctx-pattern"));
	cf_file_free(f);
	cf_ignore_free(ig);
	f = NULL;
	ig = NULL;
	free(path);
	free(igp);
	path = igp = NULL;
	put(out, "Containerfile.containerignore", "out-pattern\n");
	CHECK(cf_build_files_load(cfd, ctx, outcf, &path, &f, &ig, &igp, &err) == 0);
	CHECK(ig && cf_ignore_match(ig, "out-pattern") && !cf_ignore_match(ig, "ctx-pattern"));
	cf_file_free(f);
	cf_ignore_free(ig);
	free(path);
	free(igp);
	path = igp = NULL;
	nib_err_clear(&err);
	nib_rm_rf_at(AT_FDCWD, top, NULL);
}

int main(void)
{
	test_match_table();
	test_filepath_match();
	test_patternmatcher();
	RUN(test_reader);
	RUN(test_ignore_file_for);
	RUN(test_ignore_errors);
	RUN(test_build_files);
	return unit_done();
}
