/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for builder/build_key.c, the build cache's keys: the same
 * inputs give the same key; each input that changes a step's result
 * changes its key; what must not (a URL's credentials, the state under a
 * --link step) does not; and the keys are the ones nib has always written
 * (values computed apart from nib, with Python's hashlib, from the texts
 * the format defines), so an existing cache stays valid.
 */
#define BLD_BUILD_INTERNAL
#include <string.h>

#include "builder/build_internal.h"
#include "tests/unit/unit.h"

/* The planned steps of stage 0 of `text`. */
static struct cf_file *plan(const char *text)
{
	struct nib_error err = {0};
	struct cf_file *f = cf_parse_buffer("Containerfile", text, strlen(text), &err);

	if (!f || cf_file_plan(f, NULL, &err) < 0) {
		fprintf(stderr, "plan: %s\n", err.msg);
		exit(1);
	}
	return f;
}

static void test_chain(void)
{
	char a[NIB_DIGEST_LEN + 1], b[NIB_DIGEST_LEN + 1];

	bld_key_scratch("amd64", a);
	/* sha256("scratch\namd64") */
	CHECK_STREQ(a, "sha256:add3bcd6fb32fdc4f44598ef2452c330ae4686acbe0646d5f0b7912716ff97f5");
	bld_key_scratch("amd64", b);
	CHECK_STREQ(a, b);
	bld_key_scratch("arm64", b);
	CHECK(strcmp(a, b) != 0);

	/* a layer changes the state; its DiffID is what counts */
	memcpy(b, a, sizeof(a));
	bld_key_layer(b, "sha256:1111111111111111111111111111111111111111111111111111111111111111");
	CHECK(strcmp(a, b) != 0);
	char c[NIB_DIGEST_LEN + 1];
	memcpy(c, a, sizeof(a));
	bld_key_layer(c, "sha256:2222222222222222222222222222222222222222222222222222222222222222");
	CHECK(strcmp(b, c) != 0);
}

static void test_step(void)
{
	char s1[NIB_DIGEST_LEN + 1], s2[NIB_DIGEST_LEN + 1];
	char k[NIB_DIGEST_LEN + 1], x[NIB_DIGEST_LEN + 1];

	bld_key_scratch("amd64", s1);
	bld_key_scratch("arm64", s2);
	bld_key_step(s1, false, "text", -1, k);
	/* sha256(s1 "\ntext") */
	CHECK_STREQ(k, "sha256:c4fada29aabfb2caea22952cfb9a3ec4eab06f11c54ae542d09c37b687495159");
	bld_key_step(s1, false, "text", -1, x);
	CHECK_STREQ(k, x);
	bld_key_step(s2, false, "text", -1, x); /* the state */
	CHECK(strcmp(k, x) != 0);
	bld_key_step(s1, false, "other", -1, x); /* the step */
	CHECK(strcmp(k, x) != 0);
	bld_key_step(s1, false, "text", 1700000000, x); /* --timestamp */
	CHECK(strcmp(k, x) != 0);
	char y[NIB_DIGEST_LEN + 1];
	bld_key_step(s1, false, "text", 0, y);
	CHECK(strcmp(x, y) != 0);
	/* a --link step does not depend on the state it goes on */
	bld_key_step(s1, true, "text", -1, x);
	bld_key_step(s2, true, "text", -1, y);
	CHECK_STREQ(x, y);
	CHECK(strcmp(k, x) != 0);
}

static void test_run(void)
{
	struct cf_file *f = plan("FROM scratch\nRUN --network=none --mount=type=cache,target=/c "
				 "echo hi\nRUN --security=insecure echo hi\n");
	char *argv[] = {"/bin/sh", "-c", "echo hi", NULL};
	char *argv2[] = {"/bin/sh", "-c", "echo ho", NULL};
	char *args[] = {"A=1", NULL}, *args2[] = {"A=2", NULL};
	char *caps[] = {"NET_ADMIN", NULL};
	struct bld_key_run r = {.argv = argv,
				.network = 0,
				.args = args,
				.step = &f->stages[0].steps[0],
				.mounts = "\nmount 1 /c / ro"};
	_cleanup_free_ char *t = bld_key_run_text(&r), *t2 = bld_key_run_text(&r);

	CHECK_STREQ(t, "RUN\n/bin/sh\x1f-c\x1f"
		       "echo hi\x1f\nnetwork 0\nargs\nA=1\x1f\n--network=none\nmount 1 /c / ro");
	CHECK_STREQ(t, t2);
	char s[NIB_DIGEST_LEN + 1], k[NIB_DIGEST_LEN + 1];
	bld_key_scratch("amd64", s);
	bld_key_step(s, false, t, 1700000000, k);
	CHECK_STREQ(k, "sha256:839657bf120dd28a577c4f3e38e695015f660a687d83d2f30866c9b2841e05e5");
	struct bld_key_run v[] = {r, r, r, r, r, r, r};
	v[0].argv = argv2;
	v[1].network = 1;
	v[2].cap_add = caps;
	v[3].cap_drop = caps;
	v[4].args = args2;
	v[5].step = &f->stages[0].steps[1]; /* its flags */
	v[6].mounts = "\nmount 1 /d / ro";
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		_cleanup_free_ char *o = bld_key_run_text(&v[i]);
		CHECK(!streq(o, t));
		if (streq(o, t))
			printf("  input %zu does not change the RUN key\n", i);
	}
	cf_file_free(f);
}

static void test_copy(void)
{
	struct cf_file *f =
	    plan("FROM scratch\nCOPY --chown=1:2 a b /dst/\n"
		 "COPY --chown=1:3 a b /dst/\nCOPY a b /dst/\n"
		 "ADD https://u:secret@example.org/x /x\nADD https://example.org/x /x\n");
	const struct cf_step *st = f->stages[0].steps;
	_cleanup_free_ char *t = bld_key_copy_text(&st[0], "/w", "sha256:src");
	_cleanup_free_ char *t2 = bld_key_copy_text(&st[0], "/w", "sha256:src");

	CHECK_STREQ(t, "COPY\n--chown=1:2\na\x1f"
		       "b\x1f/dst/\x1f\nworkdir /w\nsources sha256:src");
	CHECK_STREQ(t, t2);
	_cleanup_free_ char *flags = bld_key_copy_text(&st[1], "/w", "sha256:src");
	_cleanup_free_ char *none = bld_key_copy_text(&st[2], "/w", "sha256:src");
	_cleanup_free_ char *wd = bld_key_copy_text(&st[0], "/v", "sha256:src");
	_cleanup_free_ char *src = bld_key_copy_text(&st[0], "/w", "sha256:other");
	_cleanup_free_ char *root = bld_key_copy_text(&st[0], NULL, "sha256:src");
	CHECK(!streq(t, flags) && !streq(t, none) && !streq(t, wd) && !streq(t, src));
	CHECK(strstr(root, "\nworkdir /\n") != NULL);
	/* a URL's credentials are not part of the key */
	_cleanup_free_ char *u1 = bld_key_copy_text(&st[3], "/", "sha256:d");
	_cleanup_free_ char *u2 = bld_key_copy_text(&st[4], "/", "sha256:d");
	CHECK_STREQ(u1, u2);
	CHECK(strstr(u1, "secret") == NULL);
	cf_file_free(f);
}

static void test_workdir(void)
{
	_cleanup_free_ char *t = bld_key_workdir_text("/app", "app");
	_cleanup_free_ char *root = bld_key_workdir_text("/app", NULL);
	_cleanup_free_ char *other = bld_key_workdir_text("/srv", "app");

	CHECK_STREQ(t, "WORKDIR\n/app\nuser app");
	CHECK_STREQ(root, "WORKDIR\n/app\nuser ");
	CHECK(!streq(t, other));
}

int main(void)
{
	RUN(test_chain);
	RUN(test_step);
	RUN(test_run);
	RUN(test_copy);
	RUN(test_workdir);
	return unit_done();
}
