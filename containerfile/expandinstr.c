/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: which parts of which instruction Docker expands, and how
 * (BuildKit's SupportsSingleWordExpansion implementations): ADD/COPY sources,
 * destination and --chown/--chmod/--from/--checksum/--exclude, COPY/ADD heredoc
 * bodies with unquoted delimiters (quotes kept), ENV and LABEL keys and
 * values, ARG, EXPOSE (split into words), FROM, VOLUME, USER, WORKDIR,
 * STOPSIGNAL, and RUN --mount. RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK,
 * MAINTAINER and ONBUILD are left to the shell or to a later build.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include "containerfile/cf_internal.h"

static size_t key_hash(const char *s)
{
	size_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static size_t *scope_slot(const struct cf_scope *s, const char *key)
{
	size_t h = key_hash(key) & (s->cap - 1);
	while (s->tab[h] && !streq(s->keys.v[s->tab[h] - 1], key))
		h = (h + 1) & (s->cap - 1);
	return &s->tab[h];
}

/* Set (or replace in place, keeping its position) a variable. */
void cf_scope_set(struct cf_scope *s, const char *key, const char *val)
{
	size_t *slot;

	if (2 * (s->keys.len + 1) > s->cap) {
		size_t ncap = s->cap ? 2 * s->cap : 16;
		free(s->tab);
		s->tab = xcalloc(ncap, sizeof(size_t));
		s->cap = ncap;
		for (size_t i = 0; i < s->keys.len; i++)
			*scope_slot(s, s->keys.v[i]) = i + 1;
	}
	slot = scope_slot(s, key);
	if (*slot) {
		free(s->vals.v[*slot - 1]);
		s->vals.v[*slot - 1] = xstrdup(val);
		return;
	}
	nib_strv_push(&s->keys, key);
	nib_strv_push(&s->vals, val);
	*slot = s->keys.len;
}

const char *cf_scope_get(const struct cf_scope *s, const char *key)
{
	size_t *slot;

	if (!s->cap)
		return NULL;
	slot = scope_slot(s, key);
	return *slot ? s->vals.v[*slot - 1] : NULL;
}

void cf_scope_free(struct cf_scope *s)
{
	nib_strv_free(&s->keys);
	nib_strv_free(&s->vals);
	free(s->tab);
	*s = (struct cf_scope){0};
}

const char *cf_scope_lookup(void *ud, const char *name)
{
	return cf_scope_get(ud, name);
}

struct ctx {
	struct cf_instr *in;
	cf_lookup_fn lookup;
	void *ud;
	struct nib_error *err;
};

static int word(struct ctx *c, const char *w, size_t off, unsigned flags, char **out)
{
	struct nib_error e = {0};

	if (cf_expand_word(w, c->in->file->escape, flags, c->lookup, c->ud, out, &e) < 0) {
		cf_instr_error(c->in, c->err, off, "%s", e.msg ? e.msg : "expansion failed");
		nib_err_clear(&e);
		return -1;
	}
	return 0;
}

static int flag(struct ctx *c, const char *name)
{
	for (size_t i = 0; i < c->in->n_flags; i++) {
		struct cf_flag *fg = &c->in->flags[i];
		if (!streq(fg->name, name) || !fg->value)
			continue;
		struct nib_error e = {0};
		free(fg->xvalue);
		fg->xvalue = NULL;
		if (cf_expand_word(fg->value, c->in->file->escape, 0, c->lookup, c->ud, &fg->xvalue,
				   &e) < 0) {
			cf_instr_error(c->in, c->err, fg->off, "%s", e.msg);
			nib_err_clear(&e);
			return -1;
		}
	}
	return 0;
}

/* Bytes of expanded text the instruction holds. */
static size_t held(const struct cf_instr *in)
{
	size_t n = 0;

	for (size_t i = 0; i < in->xargs.len; i++)
		n += strlen(in->xargs.v[i]) + 1;
	for (size_t i = 0; i < in->n_xkvs; i++)
		n += strlen(in->xkvs[i].key) + (in->xkvs[i].value ? strlen(in->xkvs[i].value) : 0);
	for (size_t i = 0; i < in->n_flags; i++)
		n += in->flags[i].xvalue ? strlen(in->flags[i].xvalue) : 0;
	for (size_t i = 0; i < in->n_heredocs; i++)
		n += in->heredocs[i].xcontent ? strlen(in->heredocs[i].xcontent) : 0;
	return n;
}

static void reset(struct cf_instr *in)
{
	in->file->xbytes -= in->xbytes;
	in->xbytes = 0;
	nib_strv_free(&in->xargs);
	for (size_t i = 0; i < in->n_xkvs; i++) {
		free(in->xkvs[i].key);
		free(in->xkvs[i].value);
	}
	free(in->xkvs);
	in->xkvs = NULL;
	in->n_xkvs = 0;
	for (size_t i = 0; i < in->n_flags; i++) {
		free(in->flags[i].xvalue);
		in->flags[i].xvalue = in->flags[i].value ? xstrdup(in->flags[i].value) : NULL;
	}
	for (size_t i = 0; i < in->n_heredocs; i++) {
		free(in->heredocs[i].xcontent);
		in->heredocs[i].xcontent = xstrdup(in->heredocs[i].content);
	}
	in->expanded = false;
}

static int kvs(struct ctx *c, bool arg)
{
	struct cf_instr *in = c->in;

	in->xkvs = xcalloc(in->n_kvs + 1, sizeof(*in->xkvs));
	for (size_t i = 0; i < in->n_kvs; i++) {
		struct cf_kv *kv = &in->xkvs[in->n_xkvs++];
		size_t off = (size_t)in->arg_offs[i];
		if (word(c, in->kvs[i].key, off, 0, &kv->key) < 0)
			return -1;
		if (in->kvs[i].value && word(c, in->kvs[i].value, off, 0, &kv->value) < 0)
			return -1;
		if (kv->value)
			nib_strv_pushf(&in->xargs, "%s=%s", kv->key, kv->value);
		else
			nib_strv_push(&in->xargs, kv->key);
	}
	(void)arg;
	return 0;
}

int cf_instr_expand(struct cf_instr *in, cf_lookup_fn lookup, void *userdata, struct nib_error *err)
{
	struct ctx c = {.in = in, .lookup = lookup, .ud = userdata, .err = err};
	char *x;

	reset(in);
	switch (in->kind) {
	case CF_ADD:
	case CF_COPY:
		for (size_t i = 0; i < in->args.len; i++) {
			_cleanup_free_ char *hn = NULL;
			bool chomp, expand;
			if (i + 1 < in->args.len &&
			    cf_heredoc_marker(in->args.v[i], &hn, &chomp, &expand)) {
				nib_strv_push(&in->xargs, in->args.v[i]);
				continue;
			}
			if (word(&c, in->args.v[i], (size_t)in->arg_offs[i], 0, &x) < 0)
				return -1;
			nib_strv_push_take(&in->xargs, x);
		}
		if (flag(&c, "chown") < 0 || flag(&c, "chmod") < 0 || flag(&c, "from") < 0 ||
		    flag(&c, "checksum") < 0 || flag(&c, "exclude") < 0)
			return -1;
		for (size_t i = 0; i < in->n_heredocs; i++) {
			struct cf_heredoc *h = &in->heredocs[i];
			if (!h->expand)
				continue;
			free(h->xcontent);
			h->xcontent = NULL;
			if (word(&c, h->content, (size_t)-1, CF_EXPAND_NO_QUOTES, &h->xcontent) < 0)
				return -1;
		}
		break;
	case CF_ARG:
	case CF_ENV:
	case CF_LABEL:
		if (kvs(&c, in->kind == CF_ARG) < 0)
			return -1;
		break;
	case CF_EXPOSE:
		for (size_t i = 0; i < in->args.len; i++) {
			struct nib_error e = {0};
			if (cf_expand_words(in->args.v[i], in->file->escape, 0, lookup, userdata,
					    &in->xargs, &e) < 0) {
				cf_instr_error(in, err, (size_t)in->arg_offs[i], "%s", e.msg);
				nib_err_clear(&e);
				return -1;
			}
		}
		break;
	case CF_FROM:
		if (flag(&c, "platform") < 0)
			return -1;
		/* fall through */
	case CF_VOLUME:
	case CF_USER:
	case CF_WORKDIR:
	case CF_STOPSIGNAL:
		for (size_t i = 0; i < in->args.len; i++) {
			if (in->kind == CF_FROM && i > 0) {
				nib_strv_push(&in->xargs, in->args.v[i]);
				continue;
			}
			if (word(&c, in->args.v[i], (size_t)in->arg_offs[i], 0, &x) < 0)
				return -1;
			nib_strv_push_take(&in->xargs, x);
		}
		break;
	case CF_RUN:
		if (flag(&c, "mount") < 0)
			return -1;
		/* fall through */
	default:
		for (size_t i = 0; i < in->args.len; i++)
			nib_strv_push(&in->xargs, in->args.v[i]);
		if (in->kind == CF_ENV || in->kind == CF_LABEL)
			break;
	}
	/* each word is capped; so is the whole file's expanded text, or
	 * thousands of lines each near the cap would hold gigabytes */
	in->xbytes = held(in);
	in->file->xbytes += in->xbytes;
	if (in->file->xbytes > CF_MAX_EXPAND_TOTAL)
		return cf_instr_error(in, err, (size_t)-1,
				      "the expanded instructions of this file exceed %zu MiB",
				      CF_MAX_EXPAND_TOTAL >> 20);
	in->expanded = true;
	return 0;
}
