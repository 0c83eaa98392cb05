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
	const struct cf_instr *in;
	struct cf_step *st;
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

/* Expand every flag called `name`. */
static int flag(struct ctx *c, const char *name)
{
	for (size_t i = 0; i < c->in->n_flags; i++) {
		const struct cf_flag *fg = &c->in->flags[i];
		struct cf_xflag *x = &c->st->flags[i];
		if (!streq(fg->name, name) || !fg->value)
			continue;
		free(x->value);
		x->value = NULL;
		if (word(c, fg->value, fg->off, 0, &x->value) < 0)
			return -1;
	}
	return 0;
}

const struct cf_xflag *cf_step_flag(const struct cf_step *st, const char *name)
{
	const struct cf_xflag *found = NULL;
	for (size_t i = 0; i < st->n_flags; i++)
		if (streq(st->flags[i].name, name))
			found = &st->flags[i];
	return found;
}

/* Bytes of expanded text the step holds. */
static size_t held(const struct cf_step *st)
{
	size_t n = 0;

	for (size_t i = 0; i < st->words.len; i++)
		n += strlen(st->words.v[i]) + 1;
	for (size_t i = 0; i < st->n_kvs; i++)
		n += strlen(st->kvs[i].key) + (st->kvs[i].value ? strlen(st->kvs[i].value) : 0);
	for (size_t i = 0; i < st->n_flags; i++)
		n += st->flags[i].value ? strlen(st->flags[i].value) : 0;
	for (size_t i = 0; st->heredocs && i < st->in->n_heredocs; i++)
		n += strlen(st->heredocs[i]);
	return n;
}

void cf_step_clear(struct cf_step *st)
{
	if (!st->in)
		return;
	st->in->file->xbytes -= st->xbytes;
	nib_strv_free(&st->words);
	for (size_t i = 0; i < st->n_kvs; i++) {
		free(st->kvs[i].key);
		free(st->kvs[i].value);
	}
	free(st->kvs);
	for (size_t i = 0; i < st->n_flags; i++)
		free(st->flags[i].value);
	free(st->flags);
	for (size_t i = 0; st->heredocs && i < st->in->n_heredocs; i++)
		free(st->heredocs[i]);
	free(st->heredocs);
	for (size_t i = 0; i < st->run.n_mounts; i++)
		cf_mount_clear(&st->run.mounts[i]);
	free(st->run.mounts);
	free(st->run.script);
	nib_strv_free(&st->copy.srcs);
	free(st->copy.heredocs);
	cf_chmod_clear(&st->copy.chmod);
	nib_strv_free(&st->copy.excludes);
	nib_strv_free(&st->health.test);
	nib_strv_free(&st->ports);
	*st = (struct cf_step){0};
}

void cf_step_init(struct cf_step *st, const struct cf_instr *in)
{
	cf_step_clear(st);
	st->in = in;
	st->flags = xcalloc(in->n_flags + 1, sizeof(*st->flags));
	st->n_flags = in->n_flags;
	for (size_t i = 0; i < in->n_flags; i++) {
		st->flags[i].name = in->flags[i].name;
		st->flags[i].value = in->flags[i].value ? xstrdup(in->flags[i].value) : NULL;
		st->flags[i].line = in->flags[i].line;
		st->flags[i].col = in->flags[i].col;
	}
	st->heredocs = xcalloc(in->n_heredocs + 1, sizeof(*st->heredocs));
	for (size_t i = 0; i < in->n_heredocs; i++)
		st->heredocs[i] = xstrdup(in->heredocs[i].content);
}

static int kvs(struct ctx *c)
{
	const struct cf_instr *in = c->in;
	struct cf_step *st = c->st;

	st->kvs = xcalloc(in->n_kvs + 1, sizeof(*st->kvs));
	for (size_t i = 0; i < in->n_kvs; i++) {
		struct cf_kv *kv = &st->kvs[st->n_kvs++];
		size_t off = (size_t)in->arg_offs[i];
		if (word(c, in->kvs[i].key, off, 0, &kv->key) < 0)
			return -1;
		if (in->kvs[i].value && word(c, in->kvs[i].value, off, 0, &kv->value) < 0)
			return -1;
		if (kv->value)
			nib_strv_pushf(&st->words, "%s=%s", kv->key, kv->value);
		else
			nib_strv_push(&st->words, kv->key);
	}
	return 0;
}

int cf_instr_expand(const struct cf_instr *in, cf_lookup_fn lookup, void *userdata,
		    struct cf_step *st, struct nib_error *err)
{
	struct ctx c = {.in = in, .st = st, .lookup = lookup, .ud = userdata, .err = err};
	char *x;

	cf_step_init(st, in);
	switch (in->kind) {
	case CF_ADD:
	case CF_COPY:
		for (size_t i = 0; i < in->args.len; i++) {
			_cleanup_free_ char *hn = NULL;
			bool chomp, expand;
			if (i + 1 < in->args.len &&
			    cf_heredoc_marker(in->args.v[i], &hn, &chomp, &expand)) {
				nib_strv_push(&st->words, in->args.v[i]);
				continue;
			}
			if (word(&c, in->args.v[i], (size_t)in->arg_offs[i], 0, &x) < 0)
				return -1;
			nib_strv_push_take(&st->words, x);
		}
		if (flag(&c, "chown") < 0 || flag(&c, "chmod") < 0 || flag(&c, "from") < 0 ||
		    flag(&c, "checksum") < 0 || flag(&c, "exclude") < 0)
			return -1;
		for (size_t i = 0; i < in->n_heredocs; i++) {
			if (!in->heredocs[i].expand)
				continue;
			free(st->heredocs[i]);
			st->heredocs[i] = NULL;
			if (word(&c, in->heredocs[i].content, (size_t)-1, CF_EXPAND_NO_QUOTES,
				 &st->heredocs[i]) < 0)
				return -1;
		}
		break;
	case CF_ARG:
	case CF_ENV:
	case CF_LABEL:
		if (kvs(&c) < 0)
			return -1;
		break;
	case CF_EXPOSE:
		for (size_t i = 0; i < in->args.len; i++) {
			struct nib_error e = {0};
			if (cf_expand_words(in->args.v[i], in->file->escape, 0, lookup, userdata,
					    &st->words, &e) < 0) {
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
				nib_strv_push(&st->words, in->args.v[i]);
				continue;
			}
			if (word(&c, in->args.v[i], (size_t)in->arg_offs[i], 0, &x) < 0)
				return -1;
			nib_strv_push_take(&st->words, x);
		}
		break;
	case CF_RUN:
		if (flag(&c, "mount") < 0)
			return -1;
		/* fall through */
	default:
		for (size_t i = 0; i < in->args.len; i++)
			nib_strv_push(&st->words, in->args.v[i]);
	}
	/* each word is capped; so is the whole file's expanded text, or
	 * thousands of lines each near the cap would hold gigabytes */
	st->xbytes = held(st);
	in->file->xbytes += st->xbytes;
	if (in->file->xbytes > CF_MAX_EXPAND_TOTAL)
		return cf_instr_error(in, err, (size_t)-1,
				      "the expanded instructions of this file exceed %zu MiB",
				      CF_MAX_EXPAND_TOTAL >> 20);
	st->expanded = true;
	return 0;
}
