/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: one logical line into one instruction (BuildKit's
 * splitCommand, the per-keyword line parsers and heredoc detection), then
 * the instruction-level checks of BuildKit's instructions package: allowed
 * flags and their types, argument counts, stage names, HEALTHCHECK, SHELL,
 * ONBUILD triggers.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include <strings.h>

#include "containerfile/cf_internal.h"

static const char *const kind_names[CF_KIND_COUNT] = {
    [CF_ADD] = "ADD",
    [CF_ARG] = "ARG",
    [CF_CMD] = "CMD",
    [CF_COPY] = "COPY",
    [CF_ENTRYPOINT] = "ENTRYPOINT",
    [CF_ENV] = "ENV",
    [CF_EXPOSE] = "EXPOSE",
    [CF_FROM] = "FROM",
    [CF_HEALTHCHECK] = "HEALTHCHECK",
    [CF_LABEL] = "LABEL",
    [CF_MAINTAINER] = "MAINTAINER",
    [CF_ONBUILD] = "ONBUILD",
    [CF_RUN] = "RUN",
    [CF_SHELL] = "SHELL",
    [CF_STOPSIGNAL] = "STOPSIGNAL",
    [CF_USER] = "USER",
    [CF_VOLUME] = "VOLUME",
    [CF_WORKDIR] = "WORKDIR",
};

const char *cf_kind_name(enum cf_kind kind)
{
	return (unsigned)kind < CF_KIND_COUNT ? kind_names[kind] : "UNKNOWN";
}

int cf_kind_from_name(const char *keyword)
{
	for (int k = 0; k < CF_KIND_COUNT; k++)
		if (strcasecmp(keyword, kind_names[k]) == 0)
			return k;
	return -1;
}

void cf_instr_free(struct cf_instr *in)
{
	if (!in)
		return;
	free(in->keyword);
	free(in->original);
	for (size_t i = 0; i < in->n_flags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	nib_strv_free(&in->args);
	free(in->arg_offs);
	for (size_t i = 0; i < in->n_kvs; i++) {
		free(in->kvs[i].key);
		free(in->kvs[i].value);
	}
	free(in->kvs);
	for (size_t i = 0; i < in->n_heredocs; i++) {
		free(in->heredocs[i].name);
		free(in->heredocs[i].content);
	}
	free(in->heredocs);
	cf_instr_free(in->trigger);
	free(in->segs);
	free(in);
}

static void push_arg(struct cf_instr *in, size_t *cap, const char *s, size_t off)
{
	nib_strv_push(&in->args, s);
	in->arg_offs = xgrow(in->arg_offs, cap, in->args.len, sizeof(*in->arg_offs));
	in->arg_offs[in->args.len - 1] = (int)off;
}

static void add_kv(struct cf_instr *in, const char *k, size_t kn, const char *v)
{
	size_t cap = in->n_kvs;
	in->kvs = xgrow(in->kvs, &cap, in->n_kvs + 1, sizeof(*in->kvs));
	in->kvs[in->n_kvs].key = xstrndup(k, kn);
	in->kvs[in->n_kvs].value = v ? xstrdup(v) : NULL;
	in->n_kvs++;
}

static bool is_sep(char c)
{
	return c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' ';
}

/* parseMaybeJSON / parseMaybeJSONToList */
static int maybe_json(struct cf_instr *in, const char *rest, size_t base, size_t *cap, bool list,
		      struct nib_error *err)
{
	_cleanup_strv_ struct nib_strv v = {0};
	int r;

	if (!*rest)
		return 0;
	r = cf_parse_json_array(rest, &v);
	if (r == -2)
		return cf_instr_error(in, err, base,
				      "a NUL character (\\u0000) cannot be part of an argument");
	if (r < 0)
		return cf_instr_error(in, err, base,
				      "when using JSON array syntax, arrays must be comprised of "
				      "strings only");
	if (r > 0) {
		in->exec_form = true;
		for (size_t i = 0; i < v.len; i++)
			push_arg(in, cap, v.v[i], base);
		return 0;
	}
	if (list) {
		_cleanup_strv_ struct nib_strv w = {0};
		struct cf_offs o = {0};
		cf_split_ws(rest, &w, &o);
		for (size_t i = 0; i < w.len; i++)
			push_arg(in, cap, w.v[i], base + o.v[i]);
		free(o.v);
	} else {
		push_arg(in, cap, rest, base);
	}
	return 0;
}

/* parseNameVal for ENV and LABEL */
static int name_val(struct cf_instr *in, const char *rest, size_t base, size_t *cap,
		    struct nib_error *err)
{
	_cleanup_strv_ struct nib_strv words = {0};
	struct cf_offs o = {0};
	int ret = 0;

	cf_parse_words(rest, in->file->escape, &words, &o);
	if (words.len == 0)
		goto out;
	if (!strchr(words.v[0], '=')) {
		size_t k = 0;
		while (rest[k] && !is_sep(rest[k]))
			k++;
		size_t v = k;
		while (rest[v] && is_sep(rest[v]))
			v++;
		if (!rest[k]) {
			ret = cf_instr_error(in, err, base, "%s must have two arguments",
					     cf_kind_name(in->kind));
			goto out;
		}
		add_kv(in, rest, k, rest + v);
		in->legacy_kv = true;
		_cleanup_free_ char *s = xasprintf("%.*s=%s", (int)k, rest, rest + v);
		push_arg(in, cap, s, base);
		goto out;
	}
	for (size_t i = 0; i < words.len; i++) {
		char *eq = strchr(words.v[i], '=');
		if (!eq) {
			ret =
			    cf_instr_error(in, err, base + o.v[i],
					   "Syntax error - can't find = in \"%s\". Must be of the "
					   "form: name=value",
					   words.v[i]);
			goto out;
		}
		add_kv(in, words.v[i], (size_t)(eq - words.v[i]), eq + 1);
		push_arg(in, cap, words.v[i], base + o.v[i]);
	}
out:
	free(o.v);
	return ret;
}

bool cf_instr_can_heredoc(const struct cf_instr *in)
{
	if (in->kind == CF_ONBUILD)
		in = in->trigger;
	if (!in || in->exec_form)
		return false;
	return in->kind == CF_RUN || in->kind == CF_COPY || in->kind == CF_ADD;
}

struct cf_instr *cf_instr_new(struct cf_file *f, const char *line, struct cf_seg *segs,
			      size_t n_segs, size_t seg_base, struct nib_error *err)
{
	struct cf_instr *in = xcalloc(1, sizeof(*in));
	size_t len = strlen(line), ts = 0, te = len, w, ke, rs, cap = 0;

	in->file = f;
	in->seg_base = seg_base;
	in->original = xstrdup(line);
	in->segs = xmemdup(segs, n_segs * sizeof(*segs));
	in->n_segs = n_segs;
	/* strings.TrimSpace, then split off the keyword */
	while (ts < len && cf_is_space(nib_utf8_decode(line + ts, len - ts, &w)))
		ts += w;
	while (te > ts) {
		size_t k = te - 1;
		while (k > ts && ((unsigned char)line[k] & 0xC0) == 0x80)
			k--;
		if (!cf_is_space(nib_utf8_decode(line + k, te - k, &w)))
			break;
		te = k;
	}
	ke = ts;
	while (ke < te && !is_sep(line[ke]))
		ke++;
	rs = ke;
	while (rs < te && is_sep(line[rs]))
		rs++;
	in->keyword = xstrndup(line + ts, ke - ts);
	cf_instr_pos(in, ts, &in->line, &in->col);
	in->kind = (enum cf_kind)cf_kind_from_name(in->keyword);

	_cleanup_free_ char *rest_all = xstrndup(line + rs, te - rs);
	_cleanup_strv_ struct nib_strv fl = {0};
	struct cf_offs fo = {0};
	size_t aoff = cf_split_flags(rest_all, &fl, &fo);
	in->flags = xcalloc(fl.len + 1, sizeof(*in->flags));
	struct cf_poscache pc = {0};
	for (size_t i = 0; i < fl.len; i++) {
		struct cf_flag *fg = &in->flags[in->n_flags++];
		const char *s = fl.v[i];
		const char *eq;
		if (s[0] == '-' && s[1] == '-')
			s += 2;
		eq = strchr(s, '=');
		fg->name = eq ? xstrndup(s, (size_t)(eq - s)) : xstrdup(s);
		fg->value = eq ? xstrdup(eq + 1) : NULL;
		/* columns counted from the previous flag: linear on long lines */
		fg->off = rs + fo.v[i];
		cf_instr_pos_next(in, fg->off, &fg->line, &fg->col, &pc);
	}
	free(fo.v);
	/* the arguments, trimmed of white space as splitCommand does */
	size_t a_end = strlen(rest_all);
	while (rest_all[aoff] && cf_is_space(nib_utf8_decode(rest_all + aoff, a_end - aoff, &w)))
		aoff += w;
	const char *rest = rest_all + aoff;
	size_t base = rs + aoff;

	switch ((int)in->kind) {
	case CF_ADD:
	case CF_COPY:
	case CF_VOLUME:
		if (maybe_json(in, rest, base, &cap, true, err) < 0)
			goto fail;
		break;
	case CF_CMD:
	case CF_ENTRYPOINT:
	case CF_RUN:
	case CF_SHELL:
		if (maybe_json(in, rest, base, &cap, false, err) < 0)
			goto fail;
		break;
	case CF_ARG: {
		_cleanup_strv_ struct nib_strv words = {0};
		struct cf_offs o = {0};
		cf_parse_words(rest, f->escape, &words, &o);
		for (size_t i = 0; i < words.len; i++) {
			char *eq = strchr(words.v[i], '=');
			push_arg(in, &cap, words.v[i], base + o.v[i]);
			add_kv(in, words.v[i], eq ? (size_t)(eq - words.v[i]) : strlen(words.v[i]),
			       eq ? eq + 1 : NULL);
		}
		free(o.v);
		break;
	}
	case CF_ENV:
	case CF_LABEL:
		if (name_val(in, rest, base, &cap, err) < 0)
			goto fail;
		break;
	case CF_EXPOSE:
	case CF_FROM: {
		_cleanup_strv_ struct nib_strv words = {0};
		struct cf_offs o = {0};
		cf_split_ws(rest, &words, &o);
		for (size_t i = 0; i < words.len; i++)
			push_arg(in, &cap, words.v[i], base + o.v[i]);
		free(o.v);
		break;
	}
	case CF_HEALTHCHECK: {
		size_t sep = 0, nx;
		while (rest[sep] && !cf_is_space_byte((unsigned char)rest[sep]))
			sep++;
		nx = sep;
		while (rest[nx] && cf_is_space_byte((unsigned char)rest[nx]))
			nx++;
		if (sep == 0)
			break;
		_cleanup_free_ char *typ = xstrndup(rest, sep);
		push_arg(in, &cap, typ, base);
		if (maybe_json(in, rest + nx, base + nx, &cap, false, err) < 0)
			goto fail;
		break;
	}
	case CF_MAINTAINER:
	case CF_STOPSIGNAL:
	case CF_USER:
	case CF_WORKDIR:
		if (*rest)
			push_arg(in, &cap, rest, base);
		break;
	case CF_ONBUILD:
		if (!*rest)
			break;
		push_arg(in, &cap, rest, base);
		/* the trigger's offsets count from `rest` */
		in->trigger = cf_instr_new(f, rest, segs, n_segs, seg_base + base, err);
		if (!in->trigger)
			goto fail;
		break;
	default:
		break; /* unknown: reported by cf_instr_check */
	}
	return in;
fail:
	/* errors from nested parsing already carry the position */
	cf_instr_free(in);
	return NULL;
}
