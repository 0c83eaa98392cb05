/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib-reg-tool: the registry module's single operations for tests (what a
 * registry build cache uses), against a plain-HTTP/insecure registry.
 *
 *   nib-reg-tool ROOT blob-head REF DIGEST          "present SIZE" | "absent"
 *   nib-reg-tool ROOT blob-get REF DIGEST SIZE      fetch into the store
 *   nib-reg-tool ROOT blob-put REF DIGEST SIZE [FROM-REPO]
 *   nib-reg-tool ROOT manifest-head REF             "present DIGEST" | "absent"
 *   nib-reg-tool ROOT manifest-get REF              prints the digest
 *   nib-reg-tool ROOT manifest-put REF DIGEST       stored manifest -> REF
 */
#include <string.h>

#include "registry/registry.h"

static int fail(struct nib_error *e)
{
	fprintf(stderr, "nib-reg-tool: %s\n", e->msg ? e->msg : "failed");
	return 1;
}

int main(int argc, char **argv)
{
	struct reg_options o = {.tls_verify = 0, .retries = 1, .retry_delay = 0.01};
	struct reg_client *c = NULL;
	struct stg_store *st = NULL;
	struct reg_ref ref = {0};
	struct nib_error e = {0};
	int r;

	if (argc < 4) {
		fprintf(stderr, "usage: nib-reg-tool ROOT OP REF [ARGS]\n");
		return 2;
	}
	if (stg_store_open(argv[1], &st, &e) < 0 || reg_client_new(&o, &c, &e) < 0 ||
	    reg_ref_parse(argv[3], &ref, &e) < 0)
		return fail(&e);
	const char *op = argv[2];
	if (streq(op, "blob-head") && argc == 5) {
		int64_t size = -1;
		r = reg_blob_head(c, &ref, argv[4], &size, &e);
		if (r < 0)
			return fail(&e);
		if (r)
			printf("present %lld\n", (long long)size);
		else
			printf("absent\n");
	} else if ((streq(op, "blob-get") || streq(op, "blob-put")) && argc >= 6) {
		struct reg_desc d = {.size = strtoll(argv[5], NULL, 10)};
		snprintf(d.digest, sizeof(d.digest), "%s", argv[4]);
		r = streq(op, "blob-get")
			? reg_blob_get(c, st, &ref, &d, &e)
			: reg_blob_put(c, st, &ref, &d, argc > 6 ? argv[6] : NULL, &e);
		if (r < 0)
			return fail(&e);
	} else if (streq(op, "manifest-head")) {
		struct reg_desc d = {0};
		r = reg_manifest_head(c, &ref, &d, &e);
		if (r < 0)
			return fail(&e);
		if (r)
			printf("present %s\n", d.digest);
		else
			printf("absent\n");
		reg_desc_clear(&d);
	} else if (streq(op, "manifest-get")) {
		struct reg_desc d = {0};
		char *data = NULL;
		size_t len = 0;
		if (reg_manifest_get(c, &ref, &data, &len, &d, &e) < 0)
			return fail(&e);
		printf("%s\n", d.digest);
		free(data);
		reg_desc_clear(&d);
	} else if (streq(op, "manifest-put") && argc == 5) {
		char *data = NULL, out[NIB_DIGEST_LEN + 1];
		size_t len = 0;
		if (stg_blob_read(st, argv[4], 4u << 20, &data, &len, &e) < 0)
			return fail(&e);
		const char *mt = stg_doc_media_type(data, len);
		if (reg_manifest_put(c, &ref, mt ? mt : STG_MT_OCI_MANIFEST, data, len, out, &e) <
		    0)
			return fail(&e);
		printf("%s\n", out);
		free(data);
	} else {
		fprintf(stderr, "nib-reg-tool: unknown operation or arguments\n");
		return 2;
	}
	reg_ref_clear(&ref);
	reg_client_free(c);
	stg_store_free(st);
	return 0;
}
