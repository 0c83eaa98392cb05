/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: ignore files and patterns. The input is split at the
 * first NUL: before it an ignore file, after it paths (one per line) to
 * match; each line of the file is also tried as a filepath.Match pattern.
 */
#include <string.h>

#include "containerfile/containerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nul = memchr(text, '\0', size);
	size_t flen = nul ? (size_t)(nul - text) : size;
	struct nib_error err = {0};
	struct cf_ignore *ig = cf_ignore_parse(text, flen, &err);
	char *paths = nul ? xstrndup(nul + 1, size - flen - 1) : xstrdup("a/b/c");
	char *pats = xstrndup(text, flen);

	nib_err_clear(&err);
	for (char *save = NULL, *p = strtok_r(paths, "\n", &save); p;
	     p = strtok_r(NULL, "\n", &save)) {
		if (ig) {
			cf_ignore_match(ig, p);
			cf_ignore_match_legacy(ig, p);
		}
		for (char *s2 = NULL, *q = strtok_r(pats, "\n", &s2); q;
		     q = strtok_r(NULL, "\n", &s2))
			cf_path_match(q, p);
		free(pats);
		pats = xstrndup(text, flen);
	}
	cf_ignore_free(ig);
	free(paths);
	free(pats);
	return 0;
}
