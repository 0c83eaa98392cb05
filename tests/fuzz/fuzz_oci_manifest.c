/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the strict JSON parser and the OCI / Docker document
 * parsers (manifest, index, image config). Whatever parses must generate
 * canonical JSON that parses again to the same canonical bytes.
 */
#include <string.h>

#include "storage/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ROUND_TRIP(type, parse, generate, freefn)                                                  \
	do {                                                                                       \
		struct type *a = NULL, *b = NULL;                                                  \
		if (parse((const char *)data, size, &a, NULL) == 0) {                              \
			struct nib_buf g1 = {0}, g2 = {0};                                         \
			generate(a, &g1);                                                          \
			if (parse(g1.data, g1.len, &b, NULL) != 0)                                 \
				abort();                                                           \
			generate(b, &g2);                                                          \
			if (g1.len != g2.len || memcmp(g1.data, g2.data, g1.len) != 0)             \
				abort();                                                           \
			nib_buf_free(&g1);                                                         \
			nib_buf_free(&g2);                                                         \
		}                                                                                  \
		freefn(a);                                                                         \
		freefn(b);                                                                         \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *o = NULL;

	if (stg_json_parse((const char *)data, size, 1u << 20, STG_JSON_MAX_DEPTH, &o, NULL) == 0) {
		struct nib_buf c1 = {0}, c2 = {0};
		json_object *o2 = NULL;
		stg_json_canonical(o, &c1);
		if (stg_json_parse(c1.data, c1.len, 1u << 21, STG_JSON_MAX_DEPTH, &o2, NULL) != 0)
			abort();
		stg_json_canonical(o2, &c2);
		if (c1.len != c2.len || memcmp(c1.data, c2.data, c1.len) != 0)
			abort();
		json_object_put(o2);
		nib_buf_free(&c1);
		nib_buf_free(&c2);
	}
	json_object_put(o);
	(void)stg_doc_media_type((const char *)data, size);
	ROUND_TRIP(stg_manifest, stg_manifest_parse, stg_manifest_generate, stg_manifest_free);
	ROUND_TRIP(stg_index, stg_index_parse, stg_index_generate, stg_index_free);
	ROUND_TRIP(stg_image_config, stg_config_parse, stg_config_generate, stg_config_free);

	/* conversion must leave a valid document */
	struct stg_manifest *m = NULL;
	if (stg_manifest_parse((const char *)data, size, &m, NULL) == 0) {
		for (int f = 0; f < 2; f++) {
			struct stg_manifest *c = stg_manifest_dup(m), *back = NULL;
			if (stg_manifest_convert(c, (enum stg_format)f, NULL) == 0) {
				struct nib_buf g = {0};
				stg_manifest_generate(c, &g);
				if (stg_manifest_parse(g.data, g.len, &back, NULL) != 0)
					abort();
				nib_buf_free(&g);
			}
			stg_manifest_free(back);
			stg_manifest_free(c);
		}
	}
	stg_manifest_free(m);
	return 0;
}
