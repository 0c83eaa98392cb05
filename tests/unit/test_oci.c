/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for strict JSON, the canonical emitter and the OCI / Docker
 * document types (storage/json.c, storage/oci.c, storage/oci_config.c). */
#include <string.h>

#include "storage/storage.h"
#include "tests/unit/unit.h"

#define D1                                                                                         \
	"sha256:"                                                                                  \
	"1111111111111111111111111111111111111111111111111111111111111111"
#define D2                                                                                         \
	"sha256:"                                                                                  \
	"2222222222222222222222222222222222222222222222222222222222222222"
#define D3                                                                                         \
	"sha256:"                                                                                  \
	"3333333333333333333333333333333333333333333333333333333333333333"

static const char oci_manifest[] =
    "{\"annotations\":{\"a\":\"b\"},\"config\":{\"digest\":\"" D1
    "\",\"mediaType\":\"" STG_MT_OCI_CONFIG "\",\"size\":10},\"layers\":[{\"digest\":\"" D2
    "\",\"mediaType\":\"" STG_MT_OCI_LAYER_GZIP
    "\",\"size\":20},{\"annotations\":{\"x\":\"y\"},\"digest\":\"" D3
    "\",\"mediaType\":\"" STG_MT_OCI_LAYER "\",\"size\":0,\"urls\":[\"https://x/y\"]}],"
    "\"mediaType\":\"" STG_MT_OCI_MANIFEST "\",\"schemaVersion\":2}";

static const char docker_manifest[] =
    "{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"" STG_MT_DOCKER_MANIFEST "\",\n"
    "   \"config\": {\n      \"mediaType\": \"" STG_MT_DOCKER_CONFIG "\",\n      \"size\": 1457,\n"
    "      \"digest\": \"" D1
    "\"\n   },\n   \"layers\": [\n      {\n         \"mediaType\": \"" STG_MT_DOCKER_LAYER_GZIP
    "\",\n         \"size\": 2591575,\n         \"digest\": \"" D2 "\"\n      }\n   ]\n}";

static const char config_full[] =
    "{\"architecture\":\"amd64\",\"author\":\"me\",\"config\":{\"ArgsEscaped\":true,\"Cmd\":["
    "\"sh\"],"
    "\"Entrypoint\":[],\"Env\":[\"PATH=/bin\",\"A=1=2\"],\"ExposedPorts\":{\"443/tcp\":{},\"80/"
    "tcp\":{}},"
    "\"Healthcheck\":{\"Interval\":30000000000,\"Retries\":3,\"StartInterval\":1,\"StartPeriod\":2,"
    "\"Test\":[\"CMD-SHELL\",\"true\"],\"Timeout\":5},"
    "\"Labels\":{\"k\":\"v\",\"z\":\"\"},\"OnBuild\":[\"RUN x\"],\"Shell\":[\"/bin/sh\",\"-c\"],"
    "\"StopSignal\":\"SIGTERM\",\"User\":\"1:2\",\"Volumes\":{\"/data\":{}},\"WorkingDir\":\"/w\"},"
    "\"created\":\"2024-01-01T00:00:00Z\",\"history\":[{\"created\":\"2024-01-01T00:00:00Z\","
    "\"created_by\":\"ADD x\"},{\"comment\":\"c\",\"created_by\":\"ENV "
    "A=1\",\"empty_layer\":true}],"
    "\"os\":\"linux\",\"os.features\":[\"f\"],\"os.version\":\"1\",\"rootfs\":{\"diff_ids\":[\"" D2
    "\"],\"type\":\"layers\"},\"variant\":\"v8\"}";

static void test_json_parse(void)
{
	struct nib_error err = {0};
	json_object *o = NULL;
	_cleanup_buf_ struct nib_buf b = {0};

	static const char good[] =
	    " {\"b\":[1,-2,3.5,true,false,null,\"\\u00e9\\ud83d\\ude00\\n\"],"
	    "\"a\":{},\"c\":\"caf\xc3\xa9\"} ";
	CHECK(stg_json_parse(good, strlen(good), 1000, 10, &o, &err) == 0);
	stg_json_canonical(o, &b);
	CHECK_STREQ(b.data,
		    "{\"a\":{},\"b\":[1,-2,3.5,true,false,null,\"\xc3\xa9\xf0\x9f\x98\x80\\n\"],"
		    "\"c\":\"caf\xc3\xa9\"}");
	json_object_put(o);
	/* negative zero is 0 (found by fuzz_oci_manifest: "-0e0" gave "-0",
	 * which parses back as the integer 0) */
	static const char zeros[] = "[-0e0,-0.0,0e5,-0]";
	nib_buf_free(&b);
	CHECK(stg_json_parse(zeros, strlen(zeros), 1000, 10, &o, &err) == 0);
	stg_json_canonical(o, &b);
	CHECK_STREQ(b.data, "[0,0,0,0]");
	json_object_put(o);

	static const struct {
		const char *doc, *msg;
	} bad[] = {
	    {"{\"a\":1,\"a\":2}", "duplicate key \"a\""},
	    {"{\"a\":1} x", "trailing"},
	    {"{\"a\":1", "expected"},
	    {"[1,]", "unexpected"},
	    {"{\"a\":\"\xff\"}", "UTF-8"},
	    {"{\"a\":\"\xc0\xaf\"}", "UTF-8"},
	    {"{\"a\":\"\\u0000\"}", "NUL"},
	    {"{\"a\":\"\\ud800\"}", "surrogate"},
	    {"{\"a\":\"x\ny\"}", "control"},
	    {"{\"a\":01}", "expected"},
	    {"{\"a\":1e999}", "range"},
	    {"[[[[[[[[[[[[1]]]]]]]]]]]]", "deeply"},
	    {"{'a':1}", "key"},
	    {"", "end"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		o = NULL;
		int r = stg_json_parse(bad[i].doc, strlen(bad[i].doc), 1000, 10, &o, &err);
		bool ok = r < 0 && err.kind == NIB_ERR_CORRUPT && err.msg &&
			  strstr(err.msg, bad[i].msg) && strstr(err.msg, "byte");
		char name[64];
		snprintf(name, sizeof(name), "json_bad[%zu]", i);
		unit_row(name, ok, err.msg);
		json_object_put(o);
	}
	CHECK(stg_json_parse("[1]", 3, 2, 10, &o, &err) < 0 && strstr(err.msg, "limit"));
	nib_err_clear(&err);
}

static void test_manifest_roundtrip(void)
{
	struct nib_error err = {0};
	_cleanup_(stg_manifest_freep) struct stg_manifest *m = NULL, *m2 = NULL;
	_cleanup_buf_ struct nib_buf b = {0}, b2 = {0};

	CHECK(stg_manifest_parse(oci_manifest, strlen(oci_manifest), &m, &err) == 0);
	if (!m)
		return;
	CHECK_STREQ(m->media_type, STG_MT_OCI_MANIFEST);
	CHECK_STREQ(m->config.digest, D1);
	CHECK_INTEQ(m->n_layers, 2);
	CHECK_INTEQ(m->layers[0].size, 20);
	CHECK_STREQ(stg_map_get(&m->layers[1].annotations, "x"), "y");
	CHECK_STREQ(m->layers[1].urls.v[0], "https://x/y");
	stg_manifest_generate(m, &b);
	CHECK_STREQ(b.data, oci_manifest); /* the fixture is canonical */
	/* dup and regenerate: same bytes */
	m2 = stg_manifest_dup(m);
	stg_manifest_generate(m2, &b2);
	CHECK_STREQ(b2.data, b.data);
	CHECK_STREQ(stg_doc_media_type(oci_manifest, strlen(oci_manifest)), STG_MT_OCI_MANIFEST);
	nib_err_clear(&err);
}

static void test_docker_manifest(void)
{
	struct nib_error err = {0};
	_cleanup_(stg_manifest_freep) struct stg_manifest *m = NULL, *back = NULL;
	_cleanup_buf_ struct nib_buf b = {0}, oci = {0}, d = {0};

	CHECK(stg_manifest_parse(docker_manifest, strlen(docker_manifest), &m, &err) == 0);
	if (!m)
		return;
	CHECK_STREQ(m->media_type, STG_MT_DOCKER_MANIFEST);
	CHECK_STREQ(m->config.media_type, STG_MT_DOCKER_CONFIG);
	CHECK_INTEQ(m->layers[0].size, 2591575);
	CHECK_STREQ(stg_doc_media_type(docker_manifest, strlen(docker_manifest)),
		    STG_MT_DOCKER_MANIFEST);
	stg_manifest_generate(m, &d);
	/* Docker -> OCI -> Docker gives the same document */
	CHECK(stg_manifest_convert(m, STG_FORMAT_OCI, &err) == 0);
	CHECK_STREQ(m->media_type, STG_MT_OCI_MANIFEST);
	CHECK_STREQ(m->config.media_type, STG_MT_OCI_CONFIG);
	CHECK_STREQ(m->layers[0].media_type, STG_MT_OCI_LAYER_GZIP);
	stg_manifest_generate(m, &oci);
	CHECK(stg_manifest_parse(oci.data, oci.len, &back, &err) == 0);
	CHECK(stg_manifest_convert(back, STG_FORMAT_DOCKER, &err) == 0);
	stg_manifest_generate(back, &b);
	CHECK_STREQ(b.data, d.data);
	nib_err_clear(&err);
}

static void test_manifest_convert_refused(void)
{
	struct nib_error err = {0};
	_cleanup_(stg_manifest_freep) struct stg_manifest *m = NULL;
	_cleanup_buf_ struct nib_buf before = {0}, after = {0};

	CHECK(stg_manifest_parse(oci_manifest, strlen(oci_manifest), &m, &err) == 0);
	if (!m)
		return;
	free(m->layers[1].media_type);
	m->layers[1].media_type = xstrdup(STG_MT_OCI_LAYER_ZSTD);
	stg_manifest_generate(m, &before);
	CHECK(stg_manifest_convert(m, STG_FORMAT_DOCKER, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "zstd"));
	stg_manifest_generate(m, &after);
	CHECK_STREQ(after.data, before.data);
	nib_err_clear(&err);
}

static void test_manifest_invalid(void)
{
	static const struct {
		const char *doc, *msg;
	} bad[] = {
	    {"{\"schemaVersion\":1,\"config\":{}}", "schemaVersion"},
	    {"{\"config\":{}}", "schemaVersion"},
	    {"[]", "not a JSON object"},
	    {"{\"schemaVersion\":2,\"mediaType\":\"" STG_MT_OCI_INDEX "\",\"config\":{}}",
	     "not an image manifest"},
	    {"{\"schemaVersion\":2,\"layers\":[]}", "config: required"},
	    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
	     "\",\"size\":1}}",
	     "layers: required"},
	    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:12\","
	     "\"size\":1},\"layers\":[]}",
	     "config.digest: invalid digest"},
	    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
	     "\",\"size\":-1},\"layers\":[]}",
	     "config.size: negative"},
	    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"ab\",\"digest\":\"" D1
	     "\",\"size\":1},\"layers\":[]}",
	     "invalid media type"},
	    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
	     "\",\"size\":\"1\"},\"layers\":[]}",
	     "config.size: must be an integer"},
	    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
	     "\",\"size\":1},\"layers\":[{\"mediaType\":\"a/b\",\"size\":1}]}",
	     "layers[0].digest: required"},
	    {"{\"schemaVersion\":2,\"mediaType\":\"" STG_MT_DOCKER_MANIFEST
	     "\",\"config\":{\"mediaType\":\"" STG_MT_OCI_CONFIG "\",\"digest\":\"" D1
	     "\",\"size\":1},\"layers\":[]}",
	     "in a Docker manifest"},
	    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
	     "\",\"size\":1},\"layers\":[],\"layers\":[]}",
	     "duplicate key"},
	    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
	     "\",\"size\":1},\"layers\":[],\"annotations\":{\"a\":1}}",
	     "annotations[\"a\"]: must be a string"},
	    /* fields that do not match the media type (CVE-2021-41190) */
	    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
	     "\",\"size\":1},\"layers\":[],\"manifests\":[]}",
	     "an image manifest has no \"manifests\" field"},
	    {"{\"schemaVersion\":2,\"mediaType\":\"" STG_MT_OCI_INDEX
	     "\",\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
	     "\",\"size\":1},\"layers\":[]}",
	     "is not an image manifest"},
	};
	struct nib_error err = {0};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct stg_manifest *m = NULL;
		int r = stg_manifest_parse(bad[i].doc, strlen(bad[i].doc), &m, &err);
		char name[64];
		snprintf(name, sizeof(name), "manifest_bad[%zu]", i);
		unit_row(name,
			 r < 0 && !m && err.kind == NIB_ERR_CORRUPT && strstr(err.msg, bad[i].msg),
			 err.msg);
		stg_manifest_free(m);
	}
	nib_err_clear(&err);
}

static void test_manifest_limits(void)
{
	struct nib_error err = {0};
	_cleanup_buf_ struct nib_buf b = {0};
	struct stg_manifest *m = NULL;

	/* thousands of layers */
	nib_buf_puts(&b, "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D1
			 "\",\"size\":1},\"layers\":[");
	for (int i = 0; i < STG_MAX_LAYERS + 1; i++)
		nib_buf_printf(&b, "%s{\"mediaType\":\"a/b\",\"digest\":\"" D2 "\",\"size\":1}",
			       i ? "," : "");
	nib_buf_puts(&b, "]}");
	CHECK(stg_manifest_parse(b.data, b.len, &m, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "4097 entries"));
	/* a huge document */
	nib_buf_reset(&b);
	nib_buf_puts(&b, "{\"schemaVersion\":2,\"annotations\":{\"a\":\"");
	for (int i = 0; i < (5 << 20) / 16; i++)
		nib_buf_puts(&b, "xxxxxxxxxxxxxxxx");
	nib_buf_puts(&b, "\"}}");
	CHECK(stg_manifest_parse(b.data, b.len, &m, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "limit"));
	/* deep nesting */
	nib_buf_reset(&b);
	nib_buf_puts(&b, "{\"schemaVersion\":2,\"x\":");
	for (int i = 0; i < 10000; i++)
		nib_buf_putc(&b, '[');
	CHECK(stg_manifest_parse(b.data, b.len, &m, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "deeply"));
	nib_err_clear(&err);
}

static void test_index_roundtrip(void)
{
	static const char oci_index[] =
	    "{\"annotations\":{\"k\":\"v\"},\"manifests\":[{\"annotations\":{"
	    "\"" STG_ANNOTATION_REF_NAME "\":\"docker.io/library/busybox:latest\"},\"digest\":\"" D1
	    "\",\"mediaType\":\"" STG_MT_OCI_MANIFEST "\",\"platform\":{\"architecture\":\"arm64\","
	    "\"os\":\"linux\",\"os.features\":[\"x\"],\"os.version\":\"1\",\"variant\":\"v8\"},"
	    "\"size\":3}],\"mediaType\":\"" STG_MT_OCI_INDEX "\",\"schemaVersion\":2}";
	struct nib_error err = {0};
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL, *ix2 = NULL;
	_cleanup_buf_ struct nib_buf b = {0}, d = {0}, b2 = {0};

	CHECK(stg_index_parse(oci_index, strlen(oci_index), &ix, &err) == 0);
	if (!ix)
		return;
	CHECK_INTEQ(ix->n_manifests, 1);
	CHECK_STREQ(ix->manifests[0].platform->architecture, "arm64");
	CHECK_STREQ(ix->manifests[0].platform->variant, "v8");
	stg_index_generate(ix, &b);
	CHECK_STREQ(b.data, oci_index);
	CHECK(stg_index_convert(ix, STG_FORMAT_DOCKER, &err) == 0);
	CHECK_STREQ(ix->media_type, STG_MT_DOCKER_LIST);
	CHECK_STREQ(ix->manifests[0].media_type, STG_MT_DOCKER_MANIFEST);
	stg_index_generate(ix, &d);
	CHECK(stg_index_parse(d.data, d.len, &ix2, &err) == 0);
	CHECK(ix2 && stg_index_convert(ix2, STG_FORMAT_OCI, &err) == 0);
	if (ix2)
		stg_index_generate(ix2, &b2);
	/* index annotations have no Docker form: the rest comes back */
	CHECK(b2.data && strstr(b2.data, "\"platform\":{\"architecture\":\"arm64\""));
	CHECK_STREQ(stg_doc_media_type(d.data, d.len), STG_MT_DOCKER_LIST);
	CHECK_STREQ(stg_doc_media_type("{\"manifests\":[]}", 16), STG_MT_OCI_INDEX);
	CHECK(stg_doc_media_type("{\"x\":1}", 7) == NULL);

	struct stg_index *bad = NULL;
	CHECK(stg_index_parse("{\"schemaVersion\":2}", 19, &bad, &err) < 0);
	CHECK(strstr(err.msg, "manifests: required"));
	CHECK(stg_index_parse("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a/b\","
			      "\"digest\":\"" D1 "\",\"size\":1,\"platform\":{\"os\":\"linux\"}}]}",
			      strlen("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a/b\","
				     "\"digest\":\"" D1
				     "\",\"size\":1,\"platform\":{\"os\":\"linux\"}}]}"),
			      &bad, &err) < 0);
	CHECK(strstr(err.msg, "manifests[0].platform.architecture: required"));
	nib_err_clear(&err);

	/* an index with the fields of a manifest (CVE-2021-41190) */
	static const char *const ambiguous[] = {
	    "{\"schemaVersion\":2,\"mediaType\":\"" STG_MT_OCI_INDEX "\",\"manifests\":[],"
	    "\"layers\":[]}",
	    "{\"schemaVersion\":2,\"manifests\":[],\"config\":{\"mediaType\":\"a/b\","
	    "\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(ambiguous); i++) {
		bad = NULL;
		int r = stg_index_parse(ambiguous[i], strlen(ambiguous[i]), &bad, &err);
		unit_row("index with manifest fields",
			 r < 0 && !bad && err.msg && strstr(err.msg, "no \"config\" or \"layers\""),
			 err.msg);
		stg_index_free(bad);
		nib_err_clear(&err);
	}
}

static void test_config_roundtrip(void)
{
	struct nib_error err = {0};
	_cleanup_(stg_config_freep) struct stg_image_config *c = NULL, *c2 = NULL;
	_cleanup_buf_ struct nib_buf b = {0}, b2 = {0};

	CHECK(stg_config_parse(config_full, strlen(config_full), &c, &err) == 0);
	if (!c) {
		printf("  %s\n", err.msg);
		return;
	}
	CHECK_STREQ(c->architecture, "amd64");
	CHECK_STREQ(c->config.user, "1:2");
	CHECK(c->config.has_entrypoint && c->config.entrypoint.len == 0);
	CHECK(c->config.has_cmd && c->config.cmd.len == 1);
	CHECK_STREQ(c->config.exposed_ports.v[0], "443/tcp");
	CHECK_STREQ(c->config.env.v[1], "A=1=2");
	CHECK_INTEQ(c->config.healthcheck->interval, 30000000000LL);
	CHECK_INTEQ(c->config.healthcheck->retries, 3);
	CHECK_STREQ(stg_map_get(&c->config.labels, "k"), "v");
	CHECK(c->config.args_escaped);
	CHECK_INTEQ(c->n_history, 2);
	CHECK(c->history[1].empty_layer);
	CHECK_STREQ(c->diff_ids.v[0], D2);
	stg_config_generate(c, &b);
	CHECK_STREQ(b.data, config_full);
	c2 = stg_config_dup(c);
	stg_config_generate(c2, &b2);
	CHECK_STREQ(b2.data, b.data);

	/* a minimal config (a Docker one with fields nib does not keep) */
	static const char docker_cfg[] =
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"container\":\"abc\","
	    "\"docker_version\":\"20\",\"config\":{\"Cmd\":null,\"Env\":null},"
	    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	struct stg_image_config *d = NULL;
	_cleanup_buf_ struct nib_buf db = {0};
	CHECK(stg_config_parse(docker_cfg, strlen(docker_cfg), &d, &err) == 0);
	if (d) {
		CHECK(!d->config.has_cmd);
		stg_config_generate(d, &db);
		CHECK_STREQ(db.data, "{\"architecture\":\"amd64\",\"config\":{},\"os\":\"linux\","
				     "\"rootfs\":{\"diff_ids\":[],\"type\":\"layers\"}}");
	}
	stg_config_free(d);
	nib_err_clear(&err);
}

static void test_config_invalid(void)
{
	static const struct {
		const char *doc, *msg;
	} bad[] = {
	    {"{\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", "architecture"},
	    {"{\"architecture\":\"amd64\",\"os\":\"linux\"}", "rootfs: required"},
	    {"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"x\",\"diff_ids\":"
	     "[]}}",
	     "rootfs.type"},
	    {"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\"}}",
	     "diff_ids: required"},
	    {"{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
	     "\"diff_ids\":[\"sha256:1\"]}}",
	     "diff_ids[0]: invalid digest"},
	    {"{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"NOEQUALS\"]},"
	     "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
	     "config.Env[0]"},
	    {"{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":\"sh\"},"
	     "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
	     "config.Cmd: must be an array"},
	    {"{\"architecture\":\"amd64\",\"os\":\"linux\",\"history\":[1],"
	     "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
	     "history[0]: must be an object"},
	};
	struct nib_error err = {0};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct stg_image_config *c = NULL;
		int r = stg_config_parse(bad[i].doc, strlen(bad[i].doc), &c, &err);
		char name[64];
		snprintf(name, sizeof(name), "config_bad[%zu]", i);
		unit_row(name, r < 0 && !c && err.msg && strstr(err.msg, bad[i].msg), err.msg);
		stg_config_free(c);
	}
	nib_err_clear(&err);
}

/* A config whose config.LIST has `n` entries `item` (a JSON string). */
static char *config_with_list(const char *list, size_t n, const char *item)
{
	struct nib_buf b = {0};

	nib_buf_printf(&b, "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"%s\":[",
		       list);
	for (size_t i = 0; i < n; i++)
		nib_buf_printf(&b, "%s%s", i ? "," : "", item);
	nib_buf_puts(&b, "]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
	return nib_buf_steal(&b);
}

static void test_config_limits(void)
{
	static const struct {
		const char *list;
		size_t n;
		const char *item;
		bool ok;
		const char *msg;
	} cases[] = {
	    {"Env", STG_CONFIG_ENV_MAX, "\"A=1\"", true, NULL},
	    {"Env", STG_CONFIG_ENV_MAX + 1, "\"A=1\"", false, "config.Env: 10001 entries"},
	    {"Env", 20,
	     "\"A="
	     "%0100000d\"",
	     false, "config.Env: more than 1048576 bytes"},
	    {"OnBuild", STG_CONFIG_ONBUILD_MAX, "\"RUN x\"", true, NULL},
	    {"OnBuild", STG_CONFIG_ONBUILD_MAX + 1, "\"RUN x\"", false, "config.OnBuild: 1001"},
	};
	struct nib_error err = {0};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *item = NULL, *doc = NULL;
		struct stg_image_config *c = NULL;
		char name[64];
		int r;

		/* "%0100000d": a value of 100,000 characters */
		if (strstr(cases[i].item, "%0"))
			item = xasprintf("\"A=%0100000d\"", 0);
		doc = config_with_list(cases[i].list, cases[i].n, item ? item : cases[i].item);
		r = stg_config_parse(doc, strlen(doc), &c, &err);
		snprintf(name, sizeof(name), "config_limits[%zu]", i);
		unit_row(name,
			 cases[i].ok ? r == 0 && c
				     : r < 0 && !c && err.msg && strstr(err.msg, cases[i].msg),
			 err.msg);
		stg_config_free(c);
		nib_err_clear(&err);
	}
	_cleanup_free_ char *user = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\","
					      "\"config\":{\"User\":\"%05000d\"},\"rootfs\":{"
					      "\"type\":\"layers\",\"diff_ids\":[]}}",
					      0);
	struct stg_image_config *c = NULL;
	CHECK(stg_config_parse(user, strlen(user), &c, &err) < 0 && !c);
	CHECK(err.msg && strstr(err.msg, "config.User: more than 4096 bytes"));
	nib_err_clear(&err);
}

static void test_map(void)
{
	struct stg_map m = {0};
	stg_map_set(&m, "b", "2");
	stg_map_set(&m, "a", "1");
	stg_map_set(&m, "c", "3");
	stg_map_set(&m, "b", "22");
	CHECK_INTEQ(m.keys.len, 3);
	CHECK_STREQ(m.keys.v[0], "a");
	CHECK_STREQ(stg_map_get(&m, "b"), "22");
	CHECK(stg_map_del(&m, "a"));
	CHECK(!stg_map_del(&m, "a"));
	CHECK(stg_map_get(&m, "a") == NULL);
	CHECK_STREQ(m.keys.v[0], "b");
	CHECK(m.keys.v[m.keys.len] == NULL);
	stg_map_free(&m);
	CHECK(stg_media_type_valid("application/vnd.oci.image.manifest.v1+json"));
	CHECK(!stg_media_type_valid("application"));
	CHECK(!stg_media_type_valid("/x"));
	CHECK(!stg_media_type_valid("a/b c"));
	CHECK_INTEQ(stg_format_parse("docker"), STG_FORMAT_DOCKER);
	CHECK_INTEQ(stg_format_parse("oci"), STG_FORMAT_OCI);
	CHECK_INTEQ(stg_format_parse("v2s2"), -1);
}

int main(void)
{
	RUN(test_json_parse);
	RUN(test_map);
	RUN(test_manifest_roundtrip);
	RUN(test_docker_manifest);
	RUN(test_manifest_convert_refused);
	RUN(test_manifest_invalid);
	RUN(test_manifest_limits);
	RUN(test_index_roundtrip);
	RUN(test_config_roundtrip);
	RUN(test_config_invalid);
	RUN(test_config_limits);
	return unit_done();
}
