/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the whole Containerfile reader. Parse, plan with a
 * target and build args taken from the input, print JSON and text, then
 * plan every stage again with a base image's ENV and ONBUILD triggers as
 * the builder does (cf_stage_bind).
 */
#include "containerfile/containerfile.h"

static const char *lookup(void *ud, const char *name)
{
	(void)ud;
	return name[0] == 'A' ? "a b" : name[0] == 'E' ? "" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nib_error err = {0};
	struct cf_file *f = cf_parse_buffer("fuzz", (const char *)data, size, &err);
	const char *args[] = {"A=1", "TARGETARCH=x", "B", NULL};
	struct cf_plan_opts o = {.build_args = args};

	nib_err_clear(&err);
	if (!f)
		return 0;
	/* the first stage name, when there is one, as --target */
	for (size_t i = 0; i < f->n_stages; i++)
		if (f->stages[i].name && (size % 3) == 0) {
			o.target = f->stages[i].name;
			break;
		}
	if (cf_file_plan(f, &o, &err) == 0) {
		char *j = cf_file_json(f), *t = cf_file_text(f);
		char *env[] = {"A=a b", "E=", "PATH=/bin", NULL};
		char *triggers[] = {"ENV A=x", "ARG B=y", NULL};
		free(j);
		free(t);
		for (size_t i = 0; i < f->n_stages; i++) {
			struct cf_stage_steps ss;
			if (cf_stage_bind(f, (int)i, env, (size & 1) ? triggers : NULL, &ss,
					  &err) == 0)
				cf_stage_steps_free(&ss);
			nib_err_clear(&err);
		}
	}
	nib_err_clear(&err);
	cf_file_free(f);

	/* the expander alone, with every flag combination */
	if (size < 4096) {
		char *word = xstrndup((const char *)data, size);
		char *out = NULL;
		struct nib_strv words = {0};
		unsigned flags = size ? data[0] & 15 : 0;
		if (cf_expand_word(word, (size & 1) ? '`' : '\\', flags, lookup, NULL, &out,
				   &err) == 0)
			free(out);
		nib_err_clear(&err);
		cf_expand_words(word, '\\', flags, lookup, NULL, &words, &err);
		nib_err_clear(&err);
		nib_strv_free(&words);
		free(word);
	}
	return 0;
}
