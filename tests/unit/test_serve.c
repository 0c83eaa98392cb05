/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of nib serve's parsers and database: build specs, tenants,
 * context archives, log rendering, URL allow-lists, the SQLite store. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"
#include "builder/context.h"
#include "tests/unit/unit.h"

static int spec_err(const char *json, const char *want)
{
	struct bld_srv_spec s;
	struct nib_error e = {0};
	int r = bld_srv_spec_parse(json, strlen(json), &s, &e);
	int ok = r < 0 && e.kind == NIB_ERR_USAGE && e.msg && strstr(e.msg, want);
	if (!ok)
		fprintf(stderr, "  %s -> %s\n", json, e.msg ? e.msg : "(accepted)");
	if (r == 0)
		bld_srv_spec_free(&s);
	nib_err_clear(&e);
	return ok;
}

static void test_spec(void)
{
	struct bld_srv_spec s;
	const char *j =
	    "{\"containerfile\":\"FROM scratch\\n\",\"buildArgs\":{\"A\":\"1\"},"
	    "\"labels\":{\"k.x\":\"v\"},\"target\":\"t1\",\"platform\":\"linux/arm64/v8\","
	    "\"timestamp\":5,\"noCache\":true,\"tags\":[\"busybox\",\"reg.example:5000/a/b:1\"]}";
	CHECK(bld_srv_spec_parse(j, strlen(j), &s, NULL) == 0);
	CHECK_STREQ(s.containerfile, "FROM scratch\n");
	CHECK_INTEQ(s.n_build_args, 1);
	CHECK_STREQ(s.build_args[0].value, "1");
	CHECK_STREQ(s.labels[0].key, "k.x");
	CHECK_INTEQ(s.timestamp, 5);
	CHECK(s.no_cache);
	CHECK_INTEQ(s.tags.len, 2);
	CHECK_STREQ(s.tags.v[0], "docker.io/library/busybox:latest");
	CHECK_STREQ(s.tags.v[1], "reg.example:5000/a/b:1");
	char *out = bld_srv_spec_json(&s);
	struct bld_srv_spec s2;
	CHECK(bld_srv_spec_parse(out, strlen(out), &s2, NULL) == 0);
	char *out2 = bld_srv_spec_json(&s2);
	CHECK_STREQ(out, out2);
	free(out);
	free(out2);
	bld_srv_spec_free(&s2);
	bld_srv_spec_free(&s);
	CHECK(bld_srv_spec_parse(" {} \n", 5, &s, NULL) == 0);
	CHECK_INTEQ(s.timestamp, -1);
	bld_srv_spec_free(&s);

	CHECK(spec_err("{\"colour\":1}", "spec: colour: unknown field"));
	CHECK(spec_err("{\"containerfile\":", "spec: malformed JSON"));
	CHECK(spec_err("{} {}", "data after the object"));
	CHECK(spec_err("[]", "not a JSON object"));
	CHECK(spec_err("{\"tags\":\"x\"}", "spec: tags: not an array"));
	CHECK(spec_err("{\"tags\":[1]}", "spec: tags[0]: not a string"));
	CHECK(spec_err("{\"tags\":[\"a b\"]}", "spec: tags[0]:"));
	CHECK(spec_err("{\"tags\":[\"busybox@sha256:"
		       "0000000000000000000000000000000000000000000000000000000000000000\"]}",
		       "digest reference"));
	CHECK(spec_err("{\"file\":\"../Containerfile\"}", "spec: file: must be a path inside"));
	CHECK(spec_err("{\"file\":\"/etc/passwd\"}", "spec: file: must be a path inside"));
	CHECK(
	    spec_err("{\"buildArgs\":{\"1A\":\"x\"}}", "buildArgs.1A: not a build argument name"));
	CHECK(spec_err("{\"buildArgs\":{\"A\":1}}", "buildArgs.A: not a string"));
	CHECK(spec_err("{\"labels\":{\"a=b\":\"x\"}}", "not a label name"));
	CHECK(spec_err("{\"timestamp\":-1}", "timestamp"));
	CHECK(spec_err("{\"timestamp\":\"1\"}", "timestamp"));
	CHECK(spec_err("{\"noCache\":1}", "noCache: not true or false"));
	CHECK(spec_err("{\"target\":\"a b\"}", "target: not a stage name"));
	CHECK(spec_err("{\"platform\":\"linux amd64\"}", "platform"));
	CHECK(spec_err("{\"git\":{\"ref\":\"main\"}}", "git.url: missing"));
	CHECK(spec_err("{\"git\":{\"url\":\"https://h/x\",\"ref\":\"-u\"}}", "git.ref"));
	CHECK(spec_err("{\"git\":{\"url\":\"https://h/x\",\"depth\":1}}",
		       "git.depth: unknown field"));
	CHECK(spec_err("{\"git\":{\"url\":\"https://h/x\"},\"contextUrl\":\"https://h/y\"}",
		       "exclude each other"));
	CHECK(spec_err("{\"containerfile\":\"a\\u0000b\"}", "NUL"));
}

static void test_url_allowed(void)
{
	struct nib_strv hosts = {0};
	struct nib_error e = {0};
	nib_strv_push(&hosts, "git.example.com");
	CHECK(bld_srv_url_allowed("https://git.example.com/a.git", &hosts, NULL));
	CHECK(bld_srv_url_allowed("https://GIT.example.com:8443/a.git", &hosts, NULL));
	CHECK(!bld_srv_url_allowed("http://git.example.com/a.git", &hosts, NULL));
	CHECK(!bld_srv_url_allowed("https://user:pw@git.example.com/a.git", &hosts, NULL));
	CHECK(!bld_srv_url_allowed("https://git.example.com.evil.org/a", &hosts, &e));
	CHECK(e.msg && strstr(e.msg, "host git.example.com.evil.org is not one"));
	nib_err_clear(&e);
	CHECK(!bld_srv_url_allowed("https://169.254.169.254/latest", &hosts, NULL));
	nib_strv_free(&hosts);
}

static void test_tenants(void)
{
	struct bld_srv_tenants t = {0};
	struct nib_error e = {0};
	const char *j = "{\"tenants\":[{\"name\":\"a\",\"token\":\"token-a-0123456789\","
			"\"prefixes\":[\"reg.example/a\",\"other.example/x/\"]},"
			"{\"name\":\"b\",\"tokenSha256\":"
			"\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\","
			"\"prefixes\":[]}]}";
	CHECK(bld_srv_tenants_parse(j, strlen(j), "t.json", &t, &e) == 0);
	CHECK_INTEQ(t.len, 2);
	CHECK(bld_srv_tenant_auth(&t, "Bearer token-a-0123456789") == &t.v[0]);
	CHECK(bld_srv_tenant_auth(&t, "bearer hello") == &t.v[1]); /* sha256("hello") */
	CHECK(bld_srv_tenant_auth(&t, "Bearer token-a-012345678") == NULL);
	CHECK(bld_srv_tenant_auth(&t, "Basic dG9rZW4=") == NULL);
	CHECK(bld_srv_tenant_auth(&t, NULL) == NULL);
	CHECK(bld_srv_tenant_may_push(&t, &t.v[0], "reg.example/a/app:1"));
	CHECK(bld_srv_tenant_may_push(&t, &t.v[0], "reg.example/a:1"));
	CHECK(!bld_srv_tenant_may_push(&t, &t.v[0], "reg.example/ab/app:1"));
	CHECK(!bld_srv_tenant_may_push(&t, &t.v[0], "reg.example/b/app:1"));
	CHECK(bld_srv_tenant_may_push(&t, &t.v[0], "other.example/x/y:1"));
	CHECK(!bld_srv_tenant_may_push(&t, &t.v[1], "reg.example/a/app:1"));
	bld_srv_tenants_free(&t);

	static const char *const bad[][2] = {
	    {"{\"tenants\":[{\"name\":\"a\",\"token\":\"short\",\"prefixes\":[]}]}",
	     "shorter than 16"},
	    {"{\"tenants\":[{\"name\":\"A!\",\"token\":\"0123456789abcdef\",\"prefixes\":[]}]}",
	     "tenants[0].name"},
	    {"{\"tenants\":[{\"name\":\"a\",\"prefixes\":[]}]}", "no token"},
	    {"{\"tenants\":[{\"name\":\"a\",\"token\":\"0123456789abcdef\"}]}", "prefixes"},
	    {"{\"tenants\":[{\"name\":\"a\",\"token\":\"0123456789abcdef\",\"prefixes\":[],"
	     "\"x\":1}]}",
	     "unknown field x"},
	    {"{\"tenants\":[{\"name\":\"a\",\"token\":\"0123456789abcdef\",\"prefixes\":[]},"
	     "{\"name\":\"a\",\"token\":\"0123456789abcdeg\",\"prefixes\":[]}]}",
	     "given twice"},
	    {"{\"tenants\":[{\"name\":\"a\",\"token\":\"0123456789abcdef\",\"prefixes\":[]},"
	     "{\"name\":\"b\",\"token\":\"0123456789abcdef\",\"prefixes\":[]}]}",
	     "same token"},
	    {"{\"tenants\":[{\"name\":\"a\",\"tokenSha256\":\"ABC\",\"prefixes\":[]}]}",
	     "64 lowercase hex"},
	    {"{\"users\":[]}", "unknown field users"},
	    {"nope", "not a JSON object"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct bld_srv_tenants t2 = {0};
		CHECK(bld_srv_tenants_parse(bad[i][0], strlen(bad[i][0]), "t.json", &t2, &e) < 0);
		CHECK(e.msg && strstr(e.msg, bad[i][1]) && nib_str_has_prefix(e.msg, "t.json: "));
		nib_err_clear(&e);
	}
}

/* A tar in memory: entries "name|type|target" (type f, d, l, h, c, p). */
static size_t make_tar(char *buf, size_t cap, const char *const *entries, size_t n,
		       size_t file_size)
{
	struct archive *a = archive_write_new();
	size_t used = 0;
	archive_write_set_format_pax_restricted(a);
	archive_write_open_memory(a, buf, cap, &used);
	for (size_t i = 0; i < n; i++) {
		char name[256], type = 'f';
		const char *target = "";
		snprintf(name, sizeof(name), "%s", entries[i]);
		char *bar = strchr(name, '|');
		if (bar) {
			*bar = '\0';
			type = bar[1];
			target = entries[i] + (bar - name) + 3;
		}
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, name);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_filetype(e, type == 'd'   ? AE_IFDIR
					      : type == 'l' ? AE_IFLNK
					      : type == 'c' ? AE_IFCHR
					      : type == 'p' ? AE_IFIFO
							    : AE_IFREG);
		if (type == 'l')
			archive_entry_set_symlink(e, target);
		if (type == 'h')
			archive_entry_set_hardlink(e, target);
		if (type == 'f')
			archive_entry_set_size(e, (la_int64_t)file_size);
		archive_write_header(a, e);
		if (type == 'f') {
			char *data = xcalloc(1, file_size + 1);
			archive_write_data(a, data, file_size);
			free(data);
		}
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	return used;
}

/* The service's intake of an uploaded context: builder/context.c with the
 * service's limits, into a scratch folder. */
static int extract(const void *data, size_t len, uint64_t max_bytes, uint64_t max_entries,
		   struct nib_error *e)
{
	char dir[] = "/tmp/nib-test-serve-XXXXXX";
	struct bld_fetch_limits lim = {.max_size = max_bytes, .max_entries = max_entries};
	int fd = memfd_create("ctx", MFD_CLOEXEC), r = -1;

	if (fd >= 0 && mkdtemp(dir) && (len == 0 || nib_write_all(fd, data, len) == 0)) {
		r = bld_context_extract(fd, dir, "upload", &lim, e);
		(void)nib_rm_rf_at(AT_FDCWD, dir, NULL);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

static int check_tar(const char *const *entries, size_t n, size_t file_size, uint64_t max_bytes,
		     uint64_t max_entries, const char *want)
{
	static char buf[1 << 20];
	struct nib_error e = {0};
	size_t len = make_tar(buf, sizeof(buf), entries, n, file_size);
	int r = extract(buf, len, max_bytes, max_entries, &e);
	int ok = want ? r < 0 && e.msg && strstr(e.msg, want) : r == 0;
	if (!ok)
		fprintf(stderr, "  %s: %s\n", entries[n - 1], e.msg ? e.msg : "(accepted)");
	nib_err_clear(&e);
	return ok;
}

static void test_context(void)
{
	static const char *const good[] = {".|d",     "Containerfile",	 "./sub|d",
					   "./sub/f", "l|l|/etc/passwd", "h|h|sub/f"};
	CHECK(check_tar(good, ARRAY_SIZE(good), 10, 1 << 20, 100, NULL));
	static const char *const dotdot[] = {"Containerfile", "a/../../x"};
	CHECK(check_tar(dotdot, 2, 1, 1 << 20, 100, "entry a/../../x is outside the context"));
	static const char *const inner_dotdot[] = {"a/../b"}; /* it is "b" */
	CHECK(check_tar(inner_dotdot, 1, 1, 1 << 20, 100, NULL));
	static const char *const root_file[] = {"."};
	CHECK(check_tar(root_file, 1, 1, 1 << 20, 100, "entry . replaces the context folder"));
	static const char *const abs[] = {"/etc/x"};
	CHECK(check_tar(abs, 1, 1, 1 << 20, 100, "entry /etc/x is outside the context"));
	static const char *const dev[] = {"null|c"};
	CHECK(check_tar(dev, 1, 1, 1 << 20, 100, "entry null is a device node, FIFO or socket"));
	static const char *const fifo[] = {"p|p"};
	CHECK(check_tar(fifo, 1, 1, 1 << 20, 100, "entry p is a device node, FIFO or socket"));
	static const char *const hl[] = {"h|h|../../etc/shadow"};
	CHECK(check_tar(hl, 1, 1, 1 << 20, 100,
			"entry h is a hard link to ../../etc/shadow, outside the context"));
	static const char *const big[] = {"a", "b"};
	CHECK(check_tar(big, 2, 600, 1000, 100, "more than 1000 bytes unpacked"));
	CHECK(check_tar(big, 2, 400, 1000, 100, NULL));
	static const char *const many[] = {"a", "b", "c"};
	CHECK(check_tar(many, 3, 1, 1 << 20, 2, "more than 2 entries"));
	struct nib_error e = {0};
	CHECK(extract("not a tar archive, certainly not", 32, 1000, 10, &e) < 0);
	CHECK(e.msg && strstr(e.msg, "context upload: not a readable archive"));
	nib_err_clear(&e);
	CHECK(extract("", 0, 1000, 10, NULL) == 0); /* an empty context */
}

static void test_log_render(void)
{
	struct nib_buf b = {0};
	static const char *const in[][2] = {
	    {"{\"event\":\"step_start\",\"step\":2,\"steps\":3,\"instruction\":\"RUN x\"}",
	     "STEP 2/3: RUN x\n"},
	    {"{\"event\":\"run_output\",\"line\":\"hi\"}\n", "hi\n"},
	    {"{\"event\":\"log\",\"level\":\"warn\",\"msg\":\"w\"}", "nib: warning: w\n"},
	    {"{\"event\":\"error\",\"msg\":\"bad\"}", "nib: error: bad\n"},
	    {"{\"event\":\"push\",\"ref\":\"r/a:1\",\"digest\":\"sha256:x\"}",
	     "Pushed r/a:1@sha256:x\n"},
	    {"{\"event\":\"serve\",\"msg\":\"started\"}", "nib serve: started\n"},
	    {"{\"event\":\"layer\",\"digest\":\"sha256:x\"}", ""},
	    {"not json", "not json\n"},
	    {"{broken", "{broken\n"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		nib_buf_reset(&b);
		bld_srv_log_render(in[i][0], strlen(in[i][0]), &b);
		CHECK_STREQ(b.data ? b.data : "", in[i][1]);
	}
	nib_buf_free(&b);
}

static void test_db(void)
{
	char dir[] = "/tmp/nib-test-serve-XXXXXX";
	struct bld_srv_db *db = NULL;
	struct nib_error e = {0};
	CHECK(mkdtemp(dir) != NULL);
	char *path = xasprintf("%s/db", dir);
	CHECK(bld_srv_db_open(path, &db, &e) == 0);
	CHECK_INTEQ(bld_srv_db_version(db), 1);
	struct bld_srv_build b = {
	    .tenant = (char *)"a", .state = BLD_SRV_QUEUED, .spec = (char *)"{}", .created = 1.5};
	static const char *const ids[] = {"11111111111111111111111111111111",
					  "22222222222222222222222222222222",
					  "33333333333333333333333333333333"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(b.id, sizeof(b.id), "%s", ids[i]);
		b.tenant = (char *)(i == 1 ? "b" : "a");
		CHECK(bld_srv_db_insert(db, &b, &e) == 0);
	}
	CHECK(bld_srv_db_insert(db, &b, NULL) < 0); /* the same ID twice */
	struct bld_srv_build got = {0};
	CHECK_INTEQ(bld_srv_db_get(db, ids[1], "a", &got, NULL), 0); /* b's build, asked by a */
	CHECK_INTEQ(bld_srv_db_get(db, ids[1], "b", &got, NULL), 1);
	CHECK_STREQ(got.tenant, "b");
	bld_srv_build_clear(&got);
	/* the oldest queued build of a tenant that runs nothing */
	char *busy[] = {(char *)"a", NULL};
	CHECK_INTEQ(bld_srv_db_next(db, busy, &got, NULL), 1);
	CHECK_STREQ(got.id, ids[1]);
	bld_srv_build_clear(&got);
	CHECK_INTEQ(bld_srv_db_next(db, NULL, &got, NULL), 1);
	CHECK_STREQ(got.id, ids[0]);
	bld_srv_build_clear(&got);
	CHECK(bld_srv_db_set_state(db, ids[0], BLD_SRV_RUNNING, NULL, NULL) == 0);
	CHECK_INTEQ(bld_srv_db_transition(db, ids[2], BLD_SRV_QUEUED, BLD_SRV_CANCELLED, "c", NULL),
		    1);
	CHECK_INTEQ(bld_srv_db_transition(db, ids[2], BLD_SRV_QUEUED, BLD_SRV_CANCELLED, "c", NULL),
		    0);
	struct bld_srv_build *v = NULL;
	size_t n = 0;
	CHECK(bld_srv_db_list(db, "a", -1, 10, &v, &n, NULL) == 0);
	CHECK_INTEQ(n, 2);
	CHECK(n == 2 && streq(v[0].id, ids[2]) && v[0].state == BLD_SRV_CANCELLED &&
	      v[0].finished > 0);
	bld_srv_builds_free(v, n);
	CHECK_INTEQ(bld_srv_db_recover(db, NULL), 1);
	CHECK_INTEQ(bld_srv_db_get(db, ids[0], NULL, &got, NULL), 1);
	CHECK(got.state == BLD_SRV_INTERRUPTED && got.error &&
	      strstr(got.error, "service stopped"));
	bld_srv_build_clear(&got);
	int64_t q = -1;
	CHECK(bld_srv_db_count(db, BLD_SRV_QUEUED, &q) == 0);
	CHECK_INTEQ(q, 1);
	bld_srv_db_close(db);
	/* a schema newer than this nib knows is refused */
	char *cmd = xasprintf("sqlite3 %s 'PRAGMA user_version=99' 2>/dev/null", path);
	if (system(cmd) == 0) {
		CHECK(bld_srv_db_open(path, &db, &e) < 0);
		CHECK(e.msg && strstr(e.msg, "schema version 99 is newer"));
		nib_err_clear(&e);
	}
	free(cmd);
	nib_rm_rf_at(AT_FDCWD, dir, NULL);
	free(path);
}

/* ---- cgroup v2 (a folder of the test's own stands in for /sys/fs/cgroup:
 * what the kernel's cgroupfs makes by itself, the test makes) ---- */

static char *slurp(const char *dir, const char *file)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	char *text = NULL;
	size_t len;
	if (nib_read_file_at(AT_FDCWD, p, 4096, &text, &len, NULL) < 0)
		return xstrdup("(absent)");
	return text;
}

static void put(const char *dir, const char *file, const char *text)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	CHECK(nib_write_file_atomic_at(AT_FDCWD, p, text, strlen(text), 0644, NULL) == 0);
}

static void mkdirs(const char *dir)
{
	_cleanup_free_ char *cmd = xasprintf("mkdir -p '%s'", dir);
	CHECK(system(cmd) == 0);
}

static void test_cgroup(void)
{
	char top[] = "/tmp/nib-test-cgroup-XXXXXX";
	CHECK(mkdtemp(top) != NULL);
	_cleanup_free_ char *pod = xasprintf("%s/kubepods/pod1", top);
	_cleanup_free_ char *leaf = xasprintf("%s/service", pod);
	mkdirs(leaf);
	put(pod, "cgroup.subtree_control", "");
	put(leaf, "cgroup.procs", "");
	struct bld_srv s = {.cfg = {.memory_max = 256 << 20, .pids_max = 100}};

	/* the service's own cgroup: it moves to the leaf, children get both
	 * controllers */
	_cleanup_free_ char *dir =
	    bld_srv_cgroup_setup_at(&s, top, "1:name=systemd:/x\n0::/kubepods/pod1\n");
	CHECK(dir && streq(dir, pod));
	_cleanup_free_ char *procs = slurp(leaf, "cgroup.procs");
	_cleanup_free_ char *ctl = slurp(pod, "cgroup.subtree_control");
	CHECK_STREQ(procs, "0");
	CHECK_STREQ(ctl, "+memory +pids");
	/* never the root cgroup, a cgroup v1 line, a path with "..", a folder
	 * not delegated (its files cannot be written), or without limits */
	CHECK(bld_srv_cgroup_setup_at(&s, top, "0::/\n") == NULL);
	CHECK(bld_srv_cgroup_setup_at(&s, top, "4:memory:/kubepods/pod1\n") == NULL);
	CHECK(bld_srv_cgroup_setup_at(&s, top, "0::/kubepods/../../etc\n") == NULL);
	CHECK(bld_srv_cgroup_setup_at(&s, top, "0::/other\n") == NULL);
	struct bld_srv none = {0};
	CHECK(bld_srv_cgroup_setup_at(&none, top, "0::/kubepods/pod1\n") == NULL);

	/* a build's cgroup: its limits written, its cgroup.procs open */
	s.cgroup = pod;
	struct bld_srv_job j = {.s = &s};
	snprintf(j.b.id, sizeof(j.b.id), "0123abcd");
	_cleanup_free_ char *bdir = xasprintf("%s/nib-build-0123abcd", pod);
	mkdirs(bdir);
	put(bdir, "memory.max", "max");
	put(bdir, "pids.max", "max");
	put(bdir, "cgroup.procs", "");
	char *path = NULL;
	int fd = bld_srv_cgroup_open(&j, &path);
	CHECK(fd >= 0 && path && streq(path, bdir));
	if (fd >= 0)
		close(fd);
	free(path);
	_cleanup_free_ char *mem = slurp(bdir, "memory.max");
	_cleanup_free_ char *pids = slurp(bdir, "pids.max");
	_cleanup_free_ char *swap = slurp(bdir, "memory.swap.max");
	CHECK_STREQ(mem, "268435456");
	CHECK_STREQ(pids, "100");
	CHECK_STREQ(swap, "(absent)");	  /* no swap accounting: not an error */
	put(bdir, "memory.swap.max", ""); /* cgroupfs replaces; a file is written over */
	fd = bld_srv_cgroup_open(&j, &path);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	free(path);
	_cleanup_free_ char *swap0 = slurp(bdir, "memory.swap.max");
	CHECK_STREQ(swap0, "0");
	/* pids.max that cannot be written (the controller is not enabled):
	 * no cgroup, nib build's limits only */
	_cleanup_free_ char *pf = xasprintf("%s/pids.max", bdir);
	CHECK(unlink(pf) == 0);
	CHECK(bld_srv_cgroup_open(&j, &path) < 0 && path == NULL);

	/* an OOM kill, as memory.events says it */
	put(bdir, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\noom_group_kill 0\n");
	CHECK(!bld_srv_cgroup_oom(bdir));
	put(bdir, "memory.events", "low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\noom_group_kill 0\n");
	CHECK(bld_srv_cgroup_oom(bdir));

	/* the RUN steps get the limits from nib build in any case */
	struct nib_strv argv = {0};
	bld_srv_build_argv(&j, "/r", "/d", &argv);
	CHECK(nib_strv_find(&argv, "--memory=268435456") >= 0);
	CHECK(nib_strv_find(&argv, "--pids-limit=100") >= 0);
	nib_strv_free(&argv);
	(void)nib_rm_rf_at(AT_FDCWD, top, NULL);
}

int main(void)
{
	RUN(test_spec);
	RUN(test_url_allowed);
	RUN(test_tenants);
	RUN(test_context);
	RUN(test_log_render);
	RUN(test_db);
	RUN(test_cgroup);
	return unit_done();
}
