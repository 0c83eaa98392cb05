/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: what nib serve parses from a request and its
 * configuration. The first byte picks the parser: 0 the build spec (a
 * spec that parses must print as JSON that parses again to the same
 * JSON), 1 a tenants file (then a token is checked against it), 2 a log
 * line rendered as text, 3 a context URL against an allow-list.
 */
#include <string.h>

#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nib_error err = {0};

	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	switch (data[0] % 4) {
	case 0: {
		struct bld_srv_spec s, s2;
		if (bld_srv_spec_parse(text, len, &s, &err) == 0) {
			char *j = bld_srv_spec_json(&s);
			if (bld_srv_spec_parse(j, strlen(j), &s2, NULL) != 0)
				__builtin_trap();
			char *j2 = bld_srv_spec_json(&s2);
			if (strcmp(j, j2) != 0)
				__builtin_trap();
			free(j);
			free(j2);
			bld_srv_spec_free(&s2);
			bld_srv_spec_free(&s);
		}
		break;
	}
	case 1: {
		struct bld_srv_tenants t = {0};
		if (bld_srv_tenants_parse(text, len, "fuzz.json", &t, &err) == 0) {
			const struct bld_srv_tenant *tn =
			    bld_srv_tenant_auth(&t, "Bearer fuzz-token-0123456789");
			if (tn)
				(void)bld_srv_tenant_may_push(&t, tn, "registry.example/a/b:1");
			bld_srv_tenants_free(&t);
		}
		break;
	}
	case 2: {
		struct nib_buf out = {0};
		bld_srv_log_render(text, len, &out);
		nib_buf_free(&out);
		break;
	}
	case 3: {
		char *url = xstrndup(text, len);
		struct nib_strv hosts = {0};
		nib_strv_push(&hosts, "git.example.com");
		(void)bld_srv_url_allowed(url, &hosts, &err);
		nib_strv_free(&hosts);
		free(url);
		break;
	}
	}
	nib_err_clear(&err);
	return 0;
}
