/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: WWW-Authenticate header values (RFC 7235 challenges). */
#include <string.h>

#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct reg_challenge ch;
	struct nib_error err = {0};

	if (reg_www_authenticate_parse(s, &ch, &err) == 0) {
		if (!ch.scheme || (strcmp(ch.scheme, "bearer") == 0 && !ch.realm))
			__builtin_trap();
		reg_challenge_clear(&ch);
	}
	nib_err_clear(&err);
	free(s);
	return 0;
}
