/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: image references and registries.conf. The input is
 * split at the first NUL: before it a reference (parsed, printed, parsed
 * again: the normalised form must be stable), after it a registries.conf
 * document used to resolve the reference as a short name.
 */
#include <string.h>

#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nul = memchr(text, '\0', size);
	size_t rlen = nul ? (size_t)(nul - text) : size;
	char *s = xstrndup(text, rlen);
	struct nib_error err = {0};
	struct reg_ref r = {0}, r2 = {0};

	if (reg_ref_parse(s, &r, &err) == 0) {
		char *out = reg_ref_string(&r);
		if (reg_ref_parse(out, &r2, NULL) != 0)
			__builtin_trap();
		char *out2 = reg_ref_string(&r2);
		if (strcmp(out, out2) != 0)
			__builtin_trap();
		free(out);
		free(out2);
		reg_ref_clear(&r2);
		reg_ref_clear(&r);
	}
	nib_err_clear(&err);
	if (nul) {
		char *conf_text = xstrndup(nul + 1, size - rlen - 1);
		struct reg_conf *conf = reg_conf_new();
		if (reg_conf_parse(conf, "fuzz.conf", conf_text, &err) == 0) {
			if (reg_ref_resolve(conf, s, &r, &err) == 0) {
				struct reg_endpoint *eps = NULL;
				size_t n = 0;
				if (reg_conf_endpoints(conf, &r, &eps, &n, NULL) == 0)
					reg_endpoints_free(eps, n);
				reg_ref_clear(&r);
			}
		}
		nib_err_clear(&err);
		reg_conf_free(conf);
		free(conf_text);
	}
	free(s);
	return 0;
}
