/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for registry/: references, registries.conf, WWW-Authenticate,
 * credentials, URL helpers. */
#define NIB_REGISTRY_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "registry/registry_internal.h"
#include "tests/unit/unit.h"

static const struct {
	const char *in, *out; /* out NULL: refused */
} refs[] = {
    {"busybox", "docker.io/library/busybox:latest"},
    {"busybox:1.36", "docker.io/library/busybox:1.36"},
    {"library/busybox", "docker.io/library/busybox:latest"},
    {"docker.io/busybox", "docker.io/library/busybox:latest"},
    {"index.docker.io/library/busybox:1", "docker.io/library/busybox:1"},
    {"user/app", "docker.io/user/app:latest"},
    {"quay.io/a/b/c:v1.2_3-x", "quay.io/a/b/c:v1.2_3-x"},
    {"localhost/app", "localhost/app:latest"},
    {"localhost:5000/app:tag", "localhost:5000/app:tag"},
    {"127.0.0.1:5000/ns/app", "127.0.0.1:5000/ns/app:latest"},
    {"[::1]:5000/app:1", "[::1]:5000/app:1"},
    {"[fe80::1]/app", "[fe80::1]/app:latest"},
    {"my-registry.example.com:443/a__b/c.d/e-f---g",
     "my-registry.example.com:443/a__b/c.d/e-f---g:latest"},
    {"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "docker.io/library/"
     "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
    {"h.io/x:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "h.io/x:t@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
    {"", NULL},
    {"Busybox", NULL},
    {"docker.io/Library/busybox", NULL},
    {"busybox:", NULL},
    {"busybox:-tag", NULL},
    {"busybox:.tag", NULL},
    {"busy box", NULL},
    {"a//b", NULL},
    {"/a", NULL},
    {"a/", NULL},
    {"a_-b", NULL},
    {"a..b", NULL},
    {"-a", NULL},
    {"busybox@sha256:abc", NULL},
    {"busybox@md5:0123456789abcdef0123456789abcdef", NULL},
    {"h.io:/x", NULL},
    {"h.io:99999999/x", NULL},
    {"-h.io/x", NULL},
    {"[::1/x", NULL},
    {"[zz]:5/x", NULL},
    {"x:tag:tag", NULL},
    {"bus\xc3\xa9", NULL},
};

static void test_references(void)
{
	char name[160];
	for (size_t i = 0; i < ARRAY_SIZE(refs); i++) {
		struct reg_ref r;
		struct nib_error e = {0};
		int ret = reg_ref_parse(refs[i].in, &r, &e);
		_cleanup_free_ char *s = ret == 0 ? reg_ref_string(&r) : NULL;
		snprintf(name, sizeof(name), "reference '%.100s'", refs[i].in);
		if (refs[i].out)
			unit_row(name, ret == 0 && streq(s, refs[i].out), s ? s : e.msg);
		else
			unit_row(name,
				 ret < 0 && e.msg && strstr(e.msg, "invalid reference") &&
				     e.kind == NIB_ERR_CORRUPT,
				 s ? s : e.msg);
		reg_ref_clear(&r);
		nib_err_clear(&e);
	}
	/* a name longer than 255 characters */
	_cleanup_free_ char *lng = xmalloc(300);
	memset(lng, 'a', 299);
	lng[299] = '\0';
	struct reg_ref r;
	unit_row("reference longer than 255", reg_ref_parse(lng, &r, NULL) < 0, NULL);
	CHECK(reg_ref_is_qualified("localhost/x"));
	CHECK(reg_ref_is_qualified("a.b/x"));
	CHECK(!reg_ref_is_qualified("a/x"));
	CHECK(!reg_ref_is_qualified("busybox"));
}

static void test_resolve(void)
{
	_cleanup_(reg_conf_freep) struct reg_conf *c = reg_conf_new();
	struct nib_error e = {0};
	struct reg_ref r = {0};
	_cleanup_free_ char *s = NULL;

	CHECK(reg_conf_parse(c, "t.conf",
			     "# comment\n"
			     "unqualified-search-registries = [\"quay.io\", 'docker.io']\n"
			     "short-name-mode = \"enforcing\"\n"
			     "[aliases]\n"
			     "  \"fedora\" = \"registry.fedoraproject.org/fedora\"\n"
			     "\"busybox\"=\"docker.io/library/busybox\" # trailing\n",
			     &e) == 0);
	CHECK(reg_ref_resolve(c, "fedora:39", &r, &e) == 0);
	CHECK_STREQ(s = reg_ref_string(&r), "registry.fedoraproject.org/fedora:39");
	free(s);
	reg_ref_clear(&r);
	CHECK(reg_ref_resolve(c, "busybox", &r, &e) == 0);
	CHECK_STREQ(s = reg_ref_string(&r), "docker.io/library/busybox:latest");
	free(s);
	s = NULL;
	reg_ref_clear(&r);
	CHECK(reg_ref_resolve(c, "alpine", &r, &e) < 0);
	CHECK(e.msg && strstr(e.msg, "ambiguous") && strstr(e.msg, "quay.io/alpine") &&
	      strstr(e.msg, "docker.io/alpine"));
	nib_err_clear(&e);
	CHECK(reg_ref_resolve(c, "example.com/alpine", &r, &e) == 0);
	reg_ref_clear(&r);

	_cleanup_(reg_conf_freep) struct reg_conf *one = reg_conf_new();
	CHECK(reg_conf_parse(one, "one.conf",
			     "unqualified-search-registries = [\n  \"localhost:5000\", # x\n]\n",
			     &e) == 0);
	CHECK(reg_ref_resolve(one, "app:1", &r, &e) == 0);
	CHECK_STREQ(s = reg_ref_string(&r), "localhost:5000/app:1");
	free(s);
	s = NULL;
	reg_ref_clear(&r);

	_cleanup_(reg_conf_freep) struct reg_conf *none = reg_conf_new();
	CHECK(reg_ref_resolve(none, "busybox", &r, &e) == 0);
	CHECK_STREQ(s = reg_ref_string(&r), "docker.io/library/busybox:latest");
	reg_ref_clear(&r);
}

static void test_conf_registries(void)
{
	_cleanup_(reg_conf_freep) struct reg_conf *c = reg_conf_new();
	struct nib_error e = {0};
	struct reg_endpoint *eps = NULL;
	size_t n = 0;
	struct reg_ref r = {0};

	CHECK(reg_conf_parse(c, "r.conf",
			     "[[registry]]\n"
			     "prefix = \"docker.io\"\n"
			     "location = \"docker.io\"\n"
			     "[[registry.mirror]]\n"
			     "location = \"mirror.local:5000/hub\"\n"
			     "insecure = true\n"
			     "[[registry.mirror]]\n"
			     "location = \"mirror2.local\"\n"
			     "[[registry]]\n"
			     "location = \"blocked.io\"\n"
			     "blocked = true\n"
			     "[[registry]]\n"
			     "prefix = \"example.com/foo\"\n"
			     "location = \"internal.example.com/bar\"\n"
			     "insecure = true\n",
			     &e) == 0);
	CHECK(reg_ref_parse("busybox", &r, NULL) == 0);
	CHECK(reg_conf_endpoints(c, &r, &eps, &n, &e) == 0);
	CHECK_INTEQ(n, 3);
	if (n == 3) {
		CHECK_STREQ(eps[0].registry, "mirror.local:5000");
		CHECK_STREQ(eps[0].repo, "hub/library/busybox");
		CHECK(eps[0].insecure && eps[0].mirror);
		CHECK_STREQ(eps[1].registry, "mirror2.local");
		CHECK_STREQ(eps[1].repo, "library/busybox");
		CHECK(!eps[1].insecure);
		CHECK_STREQ(eps[2].registry, "docker.io");
		CHECK(!eps[2].mirror);
	}
	reg_endpoints_free(eps, n);
	reg_ref_clear(&r);

	CHECK(reg_ref_parse("blocked.io/x/y", &r, NULL) == 0);
	CHECK(reg_conf_endpoints(c, &r, &eps, &n, &e) < 0);
	CHECK(e.msg && strstr(e.msg, "blocked"));
	nib_err_clear(&e);
	reg_ref_clear(&r);

	CHECK(reg_ref_parse("example.com/foo/app:1", &r, NULL) == 0);
	CHECK(reg_conf_endpoints(c, &r, &eps, &n, &e) == 0);
	CHECK_INTEQ(n, 1);
	if (n == 1) {
		CHECK_STREQ(eps[0].registry, "internal.example.com");
		CHECK_STREQ(eps[0].repo, "bar/app");
		CHECK(eps[0].insecure);
	}
	reg_endpoints_free(eps, n);
	reg_ref_clear(&r);
	/* example.com/foobar does not match the prefix example.com/foo */
	CHECK(reg_ref_parse("example.com/foobar", &r, NULL) == 0);
	CHECK(reg_conf_endpoints(c, &r, &eps, &n, &e) == 0);
	CHECK(n == 1 && streq(eps[0].registry, "example.com") && !eps[0].insecure);
	reg_endpoints_free(eps, n);
	reg_ref_clear(&r);
	CHECK(!reg_conf_insecure(c, "docker.io"));
	CHECK(reg_conf_insecure(c, "mirror.local:5000"));
}

static void test_conf_errors(void)
{
	static const char *bad[] = {
	    "unqualified-search-registries = [\"a\"\n",
	    "x = \"unterminated\n",
	    "[[registry]]\ninsecure = \"yes\"\n",
	    "[[registry.mirror]]\nlocation=\"x\"\n",
	    "[[registry]]\nblocked = true\n",
	    "key value\n",
	    "[aliases]\n\"a\" = 1\n",
	    "a = \"b\" c\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_(reg_conf_freep) struct reg_conf *c = reg_conf_new();
		struct nib_error e = {0};
		int r = reg_conf_parse(c, "bad.conf", bad[i], &e);
		char name[64];
		snprintf(name, sizeof(name), "registries.conf error %zu", i);
		unit_row(name,
			 r < 0 && e.kind == NIB_ERR_SYNTAX && e.msg &&
			     nib_str_has_prefix(e.msg, "bad.conf:"),
			 e.msg);
		nib_err_clear(&e);
	}
}

static void test_conf_dropins(void)
{
	char dir[] = "/tmp/nib-unit-conf.XXXXXX";
	_cleanup_free_ char *main_path = NULL, *d = NULL, *p1 = NULL, *p2 = NULL;
	struct reg_conf *c = NULL;
	struct nib_error e = {0};
	struct reg_ref r = {0};
	_cleanup_free_ char *s = NULL;

	CHECK(mkdtemp(dir) != NULL);
	main_path = xasprintf("%s/registries.conf", dir);
	d = xasprintf("%s/registries.conf.d", dir);
	p1 = xasprintf("%s/10-a.conf", d);
	p2 = xasprintf("%s/20-b.conf", d);
	mkdir(d, 0755);
	CHECK(nib_write_file_atomic_at(AT_FDCWD, main_path,
				       "unqualified-search-registries=['a.io','b.io']\n", 46, 0644,
				       NULL) == 0);
	CHECK(nib_write_file_atomic_at(AT_FDCWD, p1, "[aliases]\n'x'='a.io/lib/x'\n", 26, 0644,
				       NULL) == 0);
	CHECK(nib_write_file_atomic_at(AT_FDCWD, p2, "unqualified-search-registries=['c.io']\n", 39,
				       0644, NULL) == 0);
	CHECK(reg_conf_load(main_path, &c, &e) == 0);
	if (c) {
		CHECK(reg_ref_resolve(c, "x", &r, &e) == 0);
		CHECK_STREQ(s = reg_ref_string(&r), "a.io/lib/x:latest");
		reg_ref_clear(&r);
		free(s);
		CHECK(reg_ref_resolve(c, "y", &r, &e) == 0);
		CHECK_STREQ(s = reg_ref_string(&r), "c.io/y:latest");
		reg_ref_clear(&r);
		reg_conf_free(c);
	}
	/* a missing file is an empty configuration */
	_cleanup_free_ char *missing = xasprintf("%s/none.conf", dir);
	c = NULL;
	CHECK(reg_conf_load(missing, &c, &e) == 0 && c && c->n_search == 0);
	reg_conf_free(c);
	nib_rm_rf_at(AT_FDCWD, dir, NULL);
}

static void test_www_authenticate(void)
{
	struct reg_challenge ch;
	struct nib_error e = {0};

	CHECK(reg_www_authenticate_parse(
		  "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		  "scope=\"repository:library/busybox:pull\"",
		  &ch, &e) == 0);
	CHECK_STREQ(ch.scheme, "bearer");
	CHECK_STREQ(ch.realm, "https://auth.docker.io/token");
	CHECK_STREQ(ch.service, "registry.docker.io");
	CHECK_STREQ(ch.scope, "repository:library/busybox:pull");
	reg_challenge_clear(&ch);

	CHECK(reg_www_authenticate_parse("Basic realm=\"Registry Realm\"", &ch, &e) == 0);
	CHECK_STREQ(ch.scheme, "basic");
	CHECK_STREQ(ch.realm, "Registry Realm");
	reg_challenge_clear(&ch);

	/* several challenges, Bearer preferred, quoted escapes, token values */
	CHECK(reg_www_authenticate_parse("Basic realm=\"x\", bearer realm=\"https://h/t\" , "
					 "service=reg,scope=\"a \\\"b\\\"\"",
					 &ch, &e) == 0);
	CHECK_STREQ(ch.scheme, "bearer");
	CHECK_STREQ(ch.realm, "https://h/t");
	CHECK_STREQ(ch.service, "reg");
	CHECK_STREQ(ch.scope, "a \"b\"");
	reg_challenge_clear(&ch);
	CHECK(reg_www_authenticate_parse("Negotiate abc==, Basic realm=r", &ch, &e) == 0);
	CHECK_STREQ(ch.scheme, "basic");
	reg_challenge_clear(&ch);

	static const char *bad[] = {"",
				    "Bearer",
				    "Bearer realm=\"unterminated",
				    "Negotiate",
				    "Bearer service=\"x\"",
				    "=x",
				    "Bearer realm=\"a\"\x01"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = reg_www_authenticate_parse(bad[i], &ch, &e);
		char name[80];
		snprintf(name, sizeof(name), "WWW-Authenticate refused %zu", i);
		unit_row(name, r < 0 && e.kind == NIB_ERR_AUTH, e.msg);
		nib_err_clear(&e);
	}
	_cleanup_free_ char *big = xmalloc(REG_WWW_AUTH_MAX + 100);
	strcpy(big, "Bearer realm=\"");
	memset(big + 14, 'a', REG_WWW_AUTH_MAX + 50);
	strcpy(big + 14 + REG_WWW_AUTH_MAX + 50, "\"");
	CHECK(reg_www_authenticate_parse(big, &ch, &e) < 0);
	CHECK(e.msg && strstr(e.msg, "longer than"));
	nib_err_clear(&e);
}

static void test_base64_urls(void)
{
	_cleanup_free_ char *a = reg_b64_encode("user:pässword", strlen("user:pässword"));
	size_t n;
	_cleanup_free_ char *b = reg_b64_decode(a, &n);
	CHECK_STREQ(b, "user:pässword");
	_cleanup_free_ char *c = reg_b64_encode("ab", 2);
	CHECK_STREQ(c, "YWI=");
	CHECK(reg_b64_decode("YW*=", NULL) == NULL);
	CHECK(reg_b64_decode("YQ==YQ", NULL) == NULL);

	CHECK(reg_url_same_origin("https://h:443/v2/", "https://H/x"));
	CHECK(!reg_url_same_origin("https://h/v2/", "http://h/v2/"));
	CHECK(!reg_url_same_origin("https://h/v2/", "https://h:5000/v2/"));
	CHECK(!reg_url_same_origin("https://h/v2/", "https://evil.com/h/v2/"));
	CHECK(!reg_url_same_origin("https://h/v2/", "https://h@evil.com/v2/"));
	CHECK(reg_url_same_origin("http://[::1]:5000/a", "http://[::1]:5000/b"));
	_cleanup_free_ char *h = reg_url_host("https://user@Example.COM:5000/x");
	CHECK_STREQ(h, "example.com");
	_cleanup_free_ char *r1 = reg_url_resolve("http://h:1/v2/a/blobs/x", "/v2/b?x=1");
	CHECK_STREQ(r1, "http://h:1/v2/b?x=1");
	_cleanup_free_ char *r2 = reg_url_resolve("http://h:1/v2/a/blobs/x", "https://s3/y");
	CHECK_STREQ(r2, "https://s3/y");
	_cleanup_free_ char *r3 = reg_url_resolve("http://h:1/v2/a/blobs/x?q=/z", "y");
	CHECK_STREQ(r3, "http://h:1/v2/a/blobs/y");
}

static void test_credentials(void)
{
	char dir[] = "/tmp/nib-unit-creds.XXXXXX";
	struct reg_creds cr = {0};
	struct nib_error e = {0};
	struct stat sb;

	CHECK(mkdtemp(dir) != NULL);
	_cleanup_free_ char *af = xasprintf("%s/sub/dir/auth.json", dir);
	struct reg_creds in = {.username = "bob", .password = "p:w\"d"};
	CHECK(reg_creds_store(af, "h.io:5000", &in, &e) == 0);
	CHECK(stat(af, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	_cleanup_free_ char *sub = xasprintf("%s/sub/dir", dir);
	CHECK(stat(sub, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	CHECK(reg_creds_lookup(af, "h.io:5000", NULL, &cr, &e) == 1);
	CHECK_STREQ(cr.username, "bob");
	CHECK_STREQ(cr.password, "p:w\"d");
	reg_creds_clear(&cr);
	CHECK(reg_creds_lookup(af, "other.io", NULL, &cr, &e) == 0);
	CHECK(reg_creds_remove(af, "h.io:5000", &e) == 1);
	CHECK(reg_creds_lookup(af, "h.io:5000", NULL, &cr, &e) == 0);
	CHECK(reg_creds_remove(af, "h.io:5000", &e) == 0);

	/* docker config.json: legacy Hub key, repository-specific keys */
	_cleanup_free_ char *dc = xasprintf("%s/config.json", dir);
	const char *doc = "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\"},"
			  "\"r.io/team\":{\"auth\":\"dGVhbTp0cHc=\"},"
			  "\"r.io\":{\"auth\":\"YWxsOmFwdw==\"},"
			  "\"bad.io\":{\"auth\":\"!!!\"}}}";
	CHECK(nib_write_file_atomic_at(AT_FDCWD, dc, doc, strlen(doc), 0600, NULL) == 0);
	CHECK(reg_creds_lookup(dc, "docker.io", NULL, &cr, &e) == 1);
	CHECK_STREQ(cr.username, "hub");
	reg_creds_clear(&cr);
	CHECK(reg_creds_lookup(dc, "r.io", "team/app", &cr, &e) == 1);
	CHECK_STREQ(cr.username, "team");
	reg_creds_clear(&cr);
	CHECK(reg_creds_lookup(dc, "r.io", "other/app", &cr, &e) == 1);
	CHECK_STREQ(cr.username, "all");
	reg_creds_clear(&cr);
	CHECK(reg_creds_lookup(dc, "bad.io", NULL, &cr, &e) < 0);
	CHECK(e.msg && strstr(e.msg, "config.json") && !strstr(e.msg, "!!!"));
	nib_err_clear(&e);

	/* the legacy .dockercfg of OpenShift's builder-dockercfg-* secrets: the
	 * registries at the top level, "auth" and/or "username"/"password" */
	_cleanup_free_ char *lc = xasprintf("%s/.dockercfg", dir);
	const char *ldoc =
	    "{\"image-registry.openshift-image-registry.svc:5000\":{\"username\":"
	    "\"serviceaccount\",\"password\":\"tok.en\",\"email\":\"serviceaccount@example.org\","
	    "\"auth\":\"c2VydmljZWFjY291bnQ6dG9rLmVu\"},"
	    "\"https://172.30.1.1:5000/\":{\"username\":\"sa\",\"password\":\"pw\","
	    "\"email\":\"x@example.org\"},"
	    "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\",\"email\":\"\"}}";
	CHECK(nib_write_file_atomic_at(AT_FDCWD, lc, ldoc, strlen(ldoc), 0600, NULL) == 0);
	CHECK(reg_creds_lookup(lc, "image-registry.openshift-image-registry.svc:5000", "ns/app",
			       &cr, &e) == 1);
	CHECK_STREQ(cr.username, "serviceaccount");
	CHECK_STREQ(cr.password, "tok.en");
	reg_creds_clear(&cr);
	CHECK(reg_creds_lookup(lc, "172.30.1.1:5000", NULL, &cr, &e) == 1);
	CHECK_STREQ(cr.username, "sa");
	CHECK_STREQ(cr.password, "pw");
	reg_creds_clear(&cr);
	CHECK(reg_creds_lookup(lc, "docker.io", NULL, &cr, &e) == 1);
	CHECK_STREQ(cr.username, "hub");
	reg_creds_clear(&cr);
	CHECK(reg_creds_lookup(lc, "other.io", NULL, &cr, &e) == 0);
	/* a broken legacy entry names the file, never the secret */
	const char *lbad = "{\"r.io\":{\"auth\":\"!!!\",\"email\":\"\"}}";
	CHECK(nib_write_file_atomic_at(AT_FDCWD, lc, lbad, strlen(lbad), 0600, NULL) == 0);
	CHECK(reg_creds_lookup(lc, "r.io", NULL, &cr, &e) < 0);
	CHECK(e.msg && strstr(e.msg, ".dockercfg") && !strstr(e.msg, "!!!"));
	nib_err_clear(&e);
	/* a config.json without "auths" is not a legacy file */
	const char *lcfg = "{\"r.io\":{\"auth\":\"YWxsOmFwdw==\"},\"psFormat\":\"table\"}";
	CHECK(nib_write_file_atomic_at(AT_FDCWD, lc, lcfg, strlen(lcfg), 0600, NULL) == 0);
	CHECK(reg_creds_lookup(lc, "r.io", NULL, &cr, &e) == 0);
	/* login and logout keep a legacy file legacy */
	const char *lkeep = "{\"keep.io\":{\"auth\":\"a2VlcDprcHc=\",\"email\":\"\"}}";
	CHECK(nib_write_file_atomic_at(AT_FDCWD, lc, lkeep, strlen(lkeep), 0600, NULL) == 0);
	struct reg_creds r3 = {.username = "new", .password = "npw"};
	CHECK(reg_creds_store(lc, "new.io", &r3, &e) == 0);
	_cleanup_free_ char *ltext = NULL;
	CHECK(nib_read_file_at(AT_FDCWD, lc, 1 << 16, &ltext, NULL, NULL) == 0);
	CHECK(ltext && !strstr(ltext, "auths") && strstr(ltext, "new.io") &&
	      strstr(ltext, "keep.io"));
	CHECK(reg_creds_lookup(lc, "new.io", NULL, &cr, &e) == 1);
	CHECK_STREQ(cr.username, "new");
	reg_creds_clear(&cr);
	CHECK(reg_creds_lookup(lc, "keep.io", NULL, &cr, &e) == 1);
	reg_creds_clear(&cr);
	CHECK(reg_creds_remove(lc, "keep.io", &e) == 1);
	CHECK(reg_creds_lookup(lc, "keep.io", NULL, &cr, &e) == 0);
	CHECK(reg_creds_lookup(lc, "new.io", NULL, &cr, &e) == 1);
	reg_creds_clear(&cr);
	CHECK(reg_creds_remove(lc, NULL, &e) == 1);
	CHECK(reg_creds_lookup(lc, "new.io", NULL, &cr, &e) == 0);

	/* ~/.dockercfg is the last file looked at without --authfile */
	const char *lgood = "{\"legacy.io\":{\"auth\":\"bGVnOmxwdw==\",\"email\":\"\"}}";
	CHECK(nib_write_file_atomic_at(AT_FDCWD, lc, lgood, strlen(lgood), 0600, NULL) == 0);
	_cleanup_free_ char *oldhome = xstrdup(getenv("HOME") ? getenv("HOME") : "/");
	setenv("HOME", dir, 1);
	unsetenv("REGISTRY_AUTH_FILE");
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("DOCKER_CONFIG");
	CHECK(reg_creds_lookup(NULL, "legacy.io", NULL, &cr, &e) == 1);
	CHECK_STREQ(cr.username, "leg");
	CHECK_STREQ(cr.password, "lpw");
	reg_creds_clear(&cr);
	setenv("HOME", oldhome, 1);

	/* a credential helper from credHelpers */
	_cleanup_free_ char *helper = xasprintf("%s/docker-credential-nibtest", dir);
	const char *script =
	    "#!/bin/sh\nread host\n[ \"$host\" = helped.io ] || exit 1\n"
	    "echo '{\"ServerURL\":\"helped.io\",\"Username\":\"hu\",\"Secret\":\"hs\"}'\n";
	CHECK(nib_write_file_atomic_at(AT_FDCWD, helper, script, strlen(script), 0755, NULL) == 0);
	const char *hdoc =
	    "{\"credHelpers\":{\"helped.io\":\"nibtest\"},\"credsStore\":\"nibtest\"}";
	CHECK(nib_write_file_atomic_at(AT_FDCWD, dc, hdoc, strlen(hdoc), 0600, NULL) == 0);
	_cleanup_free_ char *oldpath = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	_cleanup_free_ char *newpath = xasprintf("%s:%s", dir, oldpath);
	setenv("PATH", newpath, 1);
	CHECK(reg_creds_lookup(dc, "helped.io", NULL, &cr, &e) == 1);
	CHECK_STREQ(cr.username, "hu");
	CHECK_STREQ(cr.password, "hs");
	reg_creds_clear(&cr);
	/* credsStore: the helper answers nothing for this host */
	CHECK(reg_creds_lookup(dc, "unknown.io", NULL, &cr, &e) == 0);
	setenv("PATH", oldpath, 1);

	/* the lookup order without --authfile */
	_cleanup_free_ char *run = xasprintf("%s/run", dir);
	_cleanup_free_ char *runauth = xasprintf("%s/run/containers/auth.json", dir);
	struct reg_creds r2 = {.username = "xdg", .password = "x"};
	CHECK(reg_creds_store(runauth, "order.io", &r2, &e) == 0);
	setenv("XDG_RUNTIME_DIR", run, 1);
	unsetenv("REGISTRY_AUTH_FILE");
	setenv("HOME", dir, 1);
	CHECK(reg_creds_lookup(NULL, "order.io", NULL, &cr, &e) == 1);
	CHECK_STREQ(cr.username, "xdg");
	reg_creds_clear(&cr);
	_cleanup_free_ char *def = reg_authfile_default(NULL);
	CHECK_STREQ(def, runauth);
	setenv("REGISTRY_AUTH_FILE", af, 1);
	CHECK(reg_creds_lookup(NULL, "order.io", NULL, &cr, &e) == 0);
	unsetenv("REGISTRY_AUTH_FILE");

	CHECK(reg_creds_parse("u:p:q", &cr, &e) == 0);
	CHECK_STREQ(cr.username, "u");
	CHECK_STREQ(cr.password, "p:q");
	reg_creds_clear(&cr);
	CHECK(reg_creds_parse("nopass", &cr, &e) < 0);
	CHECK(e.msg && !strstr(e.msg, "nopass"));
	nib_err_clear(&e);
	nib_rm_rf_at(AT_FDCWD, dir, NULL);
}

/* One backoff for the request loop and the parallel blob fetcher. */
static void test_backoff_delay(void)
{
	struct reg_client c = {.retry_delay = 0.5};

	CHECK(reg_client_backoff_delay(&c, 0, NULL) == 0.5);
	CHECK(reg_client_backoff_delay(&c, 1, NULL) == 1.0);
	CHECK(reg_client_backoff_delay(&c, 3, NULL) == 4.0);
	CHECK(reg_client_backoff_delay(&c, 7, NULL) == 60.0);  /* capped */
	CHECK(reg_client_backoff_delay(&c, 99, NULL) == 60.0); /* no overflow */
	CHECK(reg_client_backoff_delay(&c, 0, "7") == 7.0);    /* Retry-After wins */
	CHECK(reg_client_backoff_delay(&c, 5, "0") == 0.0);
	CHECK(reg_client_backoff_delay(&c, 0, "3600") == 60.0);
	/* an HTTP date or junk: the computed delay */
	CHECK(reg_client_backoff_delay(&c, 2, "Wed, 21 Oct 2015 07:28:00 GMT") == 2.0);
	CHECK(reg_client_backoff_delay(&c, 2, "-5") == 2.0);
}

static void test_manifest_parse(void)
{
	struct reg_image img;
	json_object *doc = NULL;
	struct nib_error e = {0};
	const char *good =
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":"
	    "\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"size\":"
	    "12},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
	    "\"digest\":\"sha256:1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\""
	    ",\"size\":34}]}";
	CHECK(reg_manifest_parse(good, strlen(good), "\nref", &img, &doc, &e) == 0);
	CHECK_INTEQ(img.n_layers, 1);
	CHECK_INTEQ(img.config.size, 12);
	reg_image_clear(&img);

	static const struct {
		const char *doc, *ct, *msg;
	} bad[] = {
	    {"{", "", "JSON"},
	    {"{\"schemaVersion\":1,\"fsLayers\":[]}", "", "schema 1"},
	    {"{}", "application/vnd.docker.distribution.manifest.v1+prettyjws", "schema 1"},
	    {"{\"schemaVersion\":2,\"mediaType\":\"text/plain\"}", "", "unsupported"},
	    {"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
	     "\"manifests\":[]}",
	     "application/vnd.oci.image.manifest.v1+json", "does not match"},
	    {"{\"schemaVersion\":2,\"schemaVersion\":2,\"config\":{},\"layers\":[]}", "",
	     "uplicate"},
	    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:12\","
	     "\"size\":1},\"layers\":[]}",
	     "", "digest"},
	    {"[1]", "", "not a JSON object"},
	    /* fields that do not match the media type (CVE-2021-41190) */
	    {"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
	     "\"manifests\":[],\"config\":{},\"layers\":[]}",
	     "", "index (application/vnd.oci.image.index.v1+json) with a \"config\""},
	    {"{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}",
	     "application/vnd.docker.distribution.manifest.list.v2+json", "ambiguous"},
	    {"{\"schemaVersion\":2,\"manifests\":[],\"config\":{}}", "", "ambiguous"},
	    {"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	     "\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:"
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"size\":1},"
	     "\"layers\":[],\"manifests\":[]}",
	     "", "manifest (application/vnd.oci.image.manifest.v1+json) with a \"manifests\""},
	    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:"
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"size\":1},"
	     "\"layers\":[],\"manifests\":[]}",
	     "application/vnd.docker.distribution.manifest.v2+json", "ambiguous"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *ctw = xasprintf("%s\nmyref", bad[i].ct);
		int r = reg_manifest_parse(bad[i].doc, strlen(bad[i].doc), ctw, &img, &doc, &e);
		char name[64];
		snprintf(name, sizeof(name), "bad manifest %zu", i);
		unit_row(name,
			 r < 0 && e.msg && strstr(e.msg, "myref") && strstr(e.msg, bad[i].msg),
			 e.msg);
		if (r == 0) {
			reg_image_clear(&img);
			json_object_put(doc);
		}
		nib_err_clear(&e);
	}
	/* thousands of layers */
	struct nib_buf b = {0};
	nib_buf_puts(&b,
		     "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:"
		     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
		     "\"size\":1},\"layers\":[");
	for (int i = 0; i < STG_MAX_LAYERS + 1; i++)
		nib_buf_printf(&b,
			       "%s{\"mediaType\":\"a/b\",\"digest\":\"sha256:0123456789abcdef01"
			       "23456789abcdef0123456789abcdef0123456789abcdef\",\"size\":1}",
			       i ? "," : "");
	nib_buf_puts(&b, "]}");
	CHECK(reg_manifest_parse(b.data, b.len, "\nref", &img, &doc, &e) < 0);
	CHECK(e.msg && strstr(e.msg, "too many layers"));
	nib_err_clear(&e);
	nib_buf_free(&b);
}

int main(void)
{
	RUN(test_references);
	RUN(test_resolve);
	RUN(test_conf_registries);
	RUN(test_conf_errors);
	RUN(test_conf_dropins);
	RUN(test_www_authenticate);
	RUN(test_base64_urls);
	RUN(test_credentials);
	RUN(test_manifest_parse);
	RUN(test_backoff_delay);
	return unit_done();
}
