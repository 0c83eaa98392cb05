/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for platforms (storage/platform.c): --platform parsing,
 * matching an image against a wanted platform, picking an index entry. */
#include <string.h>

#include "storage/storage.h"
#include "tests/unit/unit.h"

static void test_parse(void)
{
	struct nib_error err = {0};
	struct stg_platform p = {0};
	static const char *const bad[] = {
	    "",	       "linux",	      "linux/",	      "/amd64",	      "linux//v8",
	    "a/b/c/d", "Linux/amd64", "linux/am d64", "linux/amd64/", "linux/\xc3\xa9",
	    NULL};

	CHECK(stg_platform_parse("linux/arm64/v8", &p, &err) == 0);
	CHECK_STREQ(p.os, "linux");
	CHECK_STREQ(p.architecture, "arm64");
	CHECK_STREQ(p.variant, "v8");
	stg_platform_clear(&p);
	CHECK(stg_platform_parse("linux/amd64", &p, &err) == 0);
	CHECK(p.variant == NULL);
	stg_platform_clear(&p);
	for (size_t i = 0; bad[i]; i++) {
		CHECK(stg_platform_parse(bad[i], &p, &err) < 0);
		CHECK_INTEQ(err.kind, NIB_ERR_USAGE);
		CHECK(p.os == NULL);
		nib_err_clear(&err);
	}
	char *s = stg_platform_string("linux", "arm", "v7");
	CHECK_STREQ(s, "linux/arm/v7");
	free(s);
}

static void test_score(void)
{
	struct stg_platform arm64 = {.os = "linux", .architecture = "arm64"};
	struct stg_platform arm64v8 = {.os = "linux", .architecture = "arm64", .variant = "v8"};
	struct stg_platform armv7 = {.os = "linux", .architecture = "arm", .variant = "v7"};
	struct stg_platform amd64 = {.os = "linux", .architecture = "amd64"};

	CHECK_INTEQ(stg_platform_score(&arm64, "linux", "arm64", "v8"), 2);
	CHECK_INTEQ(stg_platform_score(&arm64, "linux", "arm64", NULL), 2);
	CHECK_INTEQ(stg_platform_score(&arm64v8, "linux", "arm64", NULL), 2);
	CHECK_INTEQ(stg_platform_score(&arm64v8, "linux", "arm64", "v8"), 3);
	CHECK_INTEQ(stg_platform_score(&armv7, "linux", "arm", "v6"), 0);
	CHECK_INTEQ(stg_platform_score(&armv7, "linux", "arm", NULL), 0);
	CHECK_INTEQ(stg_platform_score(&amd64, "linux", "amd64", "v3"), 1);
	CHECK_INTEQ(stg_platform_score(&amd64, "linux", "arm64", NULL), 0);
	CHECK_INTEQ(stg_platform_score(&amd64, "windows", "amd64", NULL), 0);
	CHECK_INTEQ(stg_platform_score(&amd64, NULL, "amd64", NULL), 0);
}

static void test_pick(void)
{
	struct stg_platform p0 = {.os = "linux", .architecture = "amd64", .variant = "v3"};
	struct stg_platform p1 = {.os = "linux", .architecture = "amd64"};
	struct stg_platform p2 = {.os = "linux", .architecture = "arm64", .variant = "v8"};
	struct stg_descriptor d[3] = {
	    {.media_type = STG_MT_OCI_MANIFEST, .digest = "sha256:0", .platform = &p0},
	    {.media_type = STG_MT_OCI_MANIFEST, .digest = "sha256:1", .platform = &p1},
	    {.media_type = STG_MT_OCI_MANIFEST, .digest = "sha256:2", .platform = &p2},
	};
	struct stg_index ix = {.schema_version = 2, .manifests = d, .n_manifests = 3};
	struct stg_platform want = {.os = "linux", .architecture = "amd64"};
	struct stg_platform s390 = {.os = "linux", .architecture = "s390x"};
	struct stg_platform arm = {.os = "linux", .architecture = "arm64"};

	CHECK(stg_index_pick(&ix, &want) == &d[1]); /* the plain one over a variant */
	CHECK(stg_index_pick(&ix, &arm) == &d[2]);
	CHECK(stg_index_pick(&ix, &s390) == NULL);
	char *avail = stg_index_platforms(&ix);
	CHECK_STREQ(avail, "linux/amd64/v3, linux/amd64, linux/arm64/v8");
	free(avail);
	/* an entry without platform: only when alone */
	d[0].platform = NULL;
	ix.n_manifests = 1;
	CHECK(stg_index_pick(&ix, &s390) == &d[0]);
}

int main(void)
{
	RUN(test_parse);
	RUN(test_score);
	RUN(test_pick);
	return unit_done();
}
