/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Build cache keys: pure functions of what decides a step's result. The
 * state of a stage has a key (its base image's ID, "scratch" and the
 * architecture, or its base stage's key) that each step extends; a layer
 * step's key is the state's key plus the step's text. The state after a
 * step is its result, not how it was made: a step that makes a layer
 * chains the layer's DiffID, one that changes nothing chains nothing, so
 * later steps can still hit (BuildKit's content-based cache; with
 * --timestamp a re-run gives the same layer).
 *
 * The texts are the cache's format: an existing cache stays valid only
 * while they stay byte for byte the same (tests/unit/test_build_key.c).
 */
#define BLD_BUILD_INTERNAL
#include <string.h>

#include "builder/build_internal.h"

void bld_key_chain(char key[NIB_DIGEST_LEN + 1], const char *text)
{
	_cleanup_(nib_sha256_freep) struct nib_sha256 *h = nib_sha256_new();

	nib_sha256_update(h, key, strlen(key));
	nib_sha256_update(h, "\n", 1);
	nib_sha256_update(h, text, strlen(text));
	nib_sha256_final(h, key);
}

void bld_key_scratch(const char *arch, char out[NIB_DIGEST_LEN + 1])
{
	snprintf(out, NIB_DIGEST_LEN + 1, "scratch");
	bld_key_chain(out, arch ? arch : "");
}

void bld_key_step(const char *state, bool independent, const char *text, int64_t timestamp,
		  char out[NIB_DIGEST_LEN + 1])
{
	snprintf(out, NIB_DIGEST_LEN + 1, "%s", independent ? "link" : state);
	bld_key_chain(out, text);
	if (timestamp >= 0) {
		/* --timestamp / SOURCE_DATE_EPOCH clamp the layer's file times:
		 * a layer made without it (or with another) is another layer */
		_cleanup_free_ char *t = xasprintf("timestamp %lld", (long long)timestamp);
		bld_key_chain(out, t);
	}
}

void bld_key_layer(char state[NIB_DIGEST_LEN + 1], const char *diff_id)
{
	_cleanup_free_ char *t = xasprintf("layer %s", diff_id);
	bld_key_chain(state, t);
}

char *bld_key_run_text(const struct bld_key_run *k)
{
	struct nib_buf key = {0};

	nib_buf_puts(&key, "RUN\n");
	for (size_t i = 0; k->argv && k->argv[i]; i++)
		nib_buf_printf(&key, "%s%c", k->argv[i], '\x1f');
	nib_buf_printf(&key, "\nnetwork %d\nargs\n", k->network);
	/* the capabilities change what a step can do (only when asked for:
	 * keys of builds without them stay as they were) */
	for (size_t i = 0; k->cap_add && k->cap_add[i]; i++)
		nib_buf_printf(&key, "cap+%s\x1f", k->cap_add[i]);
	for (size_t i = 0; k->cap_drop && k->cap_drop[i]; i++)
		nib_buf_printf(&key, "cap-%s\x1f", k->cap_drop[i]);
	for (size_t i = 0; k->args && k->args[i]; i++)
		nib_buf_printf(&key, "%s\x1f", k->args[i]);
	for (size_t i = 0; i < k->step->n_flags; i++)
		if (!streq(k->step->flags[i].name, "mount"))
			nib_buf_printf(&key, "\n--%s=%s", k->step->flags[i].name,
				       k->step->flags[i].value);
	nib_buf_puts(&key, k->mounts ? k->mounts : "");
	return nib_buf_steal(&key);
}

char *bld_key_copy_text(const struct cf_step *step, const char *workdir, const char *sources)
{
	struct nib_buf key = {0};

	/* the key never holds a URL's credentials (ADD
	 * https://user:pass@host/x): the content digest stands for the URL */
	nib_buf_printf(&key, "%s\n", cf_kind_name(step->in->kind));
	for (size_t i = 0; i < step->n_flags; i++)
		nib_buf_printf(&key, "--%s=%s\n", step->flags[i].name, step->flags[i].value);
	for (size_t i = 0; i < step->words.len; i++) {
		_cleanup_free_ char *a = nib_url_redact(step->words.v[i]);
		nib_buf_printf(&key, "%s\x1f", a);
	}
	nib_buf_printf(&key, "\nworkdir %s\nsources %s", workdir ? workdir : "/", sources);
	return nib_buf_steal(&key);
}

char *bld_key_workdir_text(const char *dir, const char *user)
{
	return xasprintf("WORKDIR\n%s\nuser %s", dir, user ? user : "");
}
