/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: the planned file as JSON (nib parse --json, documented in
 * nib-parse(1)) and as a readable plan (nib parse, nib build --example).
 */
#define NIB_CONTAINERFILE_INTERNAL
#include "containerfile/cf_internal.h"

static void json_strv(struct nib_buf *b, const struct nib_strv *v)
{
	nib_buf_putc(b, '[');
	for (size_t i = 0; i < v->len; i++) {
		if (i)
			nib_buf_putc(b, ',');
		nib_buf_json_string(b, v->v[i]);
	}
	nib_buf_putc(b, ']');
}

/* What to show of an instruction: its planned step when it has one
 * (`st` may be NULL: an ONBUILD trigger, a stage planning stopped in). */
static const struct nib_strv *shown_args(const struct cf_instr *in, const struct cf_step *st)
{
	return st && st->expanded ? &st->words : &in->args;
}

static const char *shown_flag(const struct cf_instr *in, const struct cf_step *st, size_t i)
{
	const char *v = st && st->in == in ? st->flags[i].value : in->flags[i].value;
	return v ? v : "";
}

static const char *shown_heredoc(const struct cf_instr *in, const struct cf_step *st, size_t i)
{
	/* an expansion that failed left no body */
	return st && st->in == in && st->heredocs[i] ? st->heredocs[i] : in->heredocs[i].content;
}

static void json_instr(struct nib_buf *b, const struct cf_instr *in, const struct cf_step *st)
{
	const struct nib_strv *args = shown_args(in, st);

	nib_buf_printf(b, "{\"line\":%d,\"col\":%d,\"end_line\":%d,\"instruction\":", in->line,
		       in->col, in->end_line);
	nib_buf_json_string(b, cf_kind_name(in->kind));
	nib_buf_puts(b, ",\"flags\":{");
	/* each name once, in order of first use; repeated ones as arrays (an
	 * instruction has few distinct flags, however many it repeats) */
	_cleanup_strv_ struct nib_strv names = {0};
	for (size_t i = 0; i < in->n_flags; i++)
		if (nib_strv_find(&names, in->flags[i].name) < 0)
			nib_strv_push(&names, in->flags[i].name);
	for (size_t n = 0; n < names.len; n++) {
		size_t count = 0;
		for (size_t j = 0; j < in->n_flags; j++)
			count += streq(in->flags[j].name, names.v[n]);
		if (n)
			nib_buf_putc(b, ',');
		nib_buf_json_string(b, names.v[n]);
		nib_buf_putc(b, ':');
		if (count > 1)
			nib_buf_putc(b, '[');
		bool first = true;
		for (size_t j = 0; j < in->n_flags; j++) {
			if (!streq(in->flags[j].name, names.v[n]))
				continue;
			if (!first)
				nib_buf_putc(b, ',');
			first = false;
			nib_buf_json_string(b, shown_flag(in, st, j));
		}
		if (count > 1)
			nib_buf_putc(b, ']');
	}
	nib_buf_puts(b, "},\"args\":");
	json_strv(b, args);
	nib_buf_printf(b, ",\"exec_form\":%s,\"heredocs\":[", in->exec_form ? "true" : "false");
	const struct cf_instr *h = in->kind == CF_ONBUILD && in->trigger ? in->trigger : in;
	for (size_t i = 0; i < h->n_heredocs; i++) {
		const struct cf_heredoc *hd = &h->heredocs[i];
		if (i)
			nib_buf_putc(b, ',');
		nib_buf_puts(b, "{\"name\":");
		nib_buf_json_string(b, hd->name);
		nib_buf_puts(b, ",\"content\":");
		nib_buf_json_string(b, shown_heredoc(h, st, i));
		nib_buf_printf(b, ",\"expand\":%s,\"chomp\":%s,\"line\":%d}",
			       hd->expand ? "true" : "false", hd->chomp ? "true" : "false",
			       hd->line);
	}
	nib_buf_putc(b, ']');
	if (in->trigger) {
		nib_buf_puts(b, ",\"trigger\":");
		json_instr(b, in->trigger, NULL);
	}
	nib_buf_putc(b, '}');
}

char *cf_file_json(const struct cf_file *f)
{
	struct nib_buf b = {0};
	bool first = true;

	nib_buf_puts(&b, "{\"stages\":[");
	for (size_t i = 0; i < f->n_stages; i++) {
		const struct cf_stage *st = &f->stages[i];
		if (f->planned && f->target != (int)f->n_stages - 1 && !st->needed)
			continue;
		if (!first)
			nib_buf_putc(&b, ',');
		first = false;
		nib_buf_printf(&b, "{\"index\":%d,\"name\":", st->index);
		if (st->name)
			nib_buf_json_string(&b, st->name);
		else
			nib_buf_puts(&b, "null");
		nib_buf_puts(&b, ",\"base\":");
		nib_buf_json_string(&b, st->base ? st->base : st->from->args.v[0]);
		nib_buf_puts(&b, ",\"platform\":");
		if (st->platform)
			nib_buf_json_string(&b, st->platform);
		else
			nib_buf_puts(&b, "null");
		nib_buf_printf(&b, ",\"line\":%d,\"base_stage\":", st->from->line);
		if (st->base_stage >= 0)
			nib_buf_printf(&b, "%d", st->base_stage);
		else
			nib_buf_puts(&b, "null");
		nib_buf_puts(&b, ",\"deps\":[");
		for (size_t d = 0; d < st->n_deps; d++)
			nib_buf_printf(&b, "%s%d", d ? "," : "", st->deps[d]);
		nib_buf_printf(&b, "],\"needed\":%s,\"instructions\":[",
			       st->needed ? "true" : "false");
		for (size_t k = 0; k < st->n_instrs; k++) {
			if (k)
				nib_buf_putc(&b, ',');
			json_instr(&b, st->instrs[k], st->steps ? &st->steps[k] : NULL);
		}
		nib_buf_puts(&b, "]}");
	}
	nib_buf_puts(&b, "],\"args\":");
	json_strv(&b, &f->meta_args);
	nib_buf_puts(&b, ",\"target\":");
	if (f->target >= 0 && f->stages[f->target].name)
		nib_buf_json_string(&b, f->stages[f->target].name);
	else if (f->target >= 0)
		nib_buf_printf(&b, "%d", f->target);
	else
		nib_buf_puts(&b, "null");
	nib_buf_puts(&b, ",\"escape\":");
	char esc[2] = {f->escape, 0};
	nib_buf_json_string(&b, esc);
	nib_buf_puts(&b, ",\"syntax\":");
	if (f->syntax)
		nib_buf_json_string(&b, f->syntax);
	else
		nib_buf_puts(&b, "null");
	nib_buf_puts(&b, ",\"unused_build_args\":");
	json_strv(&b, &f->unused_args);
	nib_buf_puts(&b, "}");
	return nib_buf_steal(&b);
}

static void text_args(struct nib_buf *b, const struct cf_instr *in, const struct cf_step *st)
{
	const struct nib_strv *args = shown_args(in, st);

	for (size_t i = 0; i < in->n_flags; i++)
		nib_buf_printf(b, " --%s=%s", in->flags[i].name, shown_flag(in, st, i));
	if (in->exec_form) {
		nib_buf_putc(b, ' ');
		json_strv(b, args);
	} else {
		for (size_t i = 0; i < args->len; i++)
			nib_buf_printf(b, " %s", args->v[i]);
	}
}

char *cf_file_text(const struct cf_file *f)
{
	struct nib_buf b = {0};

	nib_buf_puts(&b, "");
	for (size_t i = 0; i < f->meta_args.len; i++)
		nib_buf_printf(&b, "global ARG %s\n", f->meta_args.v[i]);
	for (size_t i = 0; i < f->n_stages; i++) {
		const struct cf_stage *st = &f->stages[i];
		if (f->planned && f->target != (int)f->n_stages - 1 && !st->needed)
			continue;
		nib_buf_printf(&b, "stage %d", st->index);
		if (st->name)
			nib_buf_printf(&b, " \"%s\"", st->name);
		nib_buf_printf(&b, ": FROM %s", st->base ? st->base : st->from->args.v[0]);
		if (st->platform)
			nib_buf_printf(&b, " (platform %s)", st->platform);
		if (st->base_stage >= 0)
			nib_buf_printf(&b, " (stage %d)", st->base_stage);
		nib_buf_printf(&b, "  [line %d]%s\n", st->from->line,
			       f->planned && !st->needed ? " (not needed by the target)" : "");
		for (size_t k = 0; k < st->n_instrs; k++) {
			const struct cf_instr *in = st->instrs[k];
			nib_buf_printf(&b, "  %4d  %s", in->line, cf_kind_name(in->kind));
			text_args(&b, in, st->steps ? &st->steps[k] : NULL);
			nib_buf_putc(&b, '\n');
			const struct cf_instr *h = in->trigger ? in->trigger : in;
			for (size_t d = 0; d < h->n_heredocs; d++)
				nib_buf_printf(&b, "        <<%s: %zu bytes%s\n",
					       h->heredocs[d].name, strlen(h->heredocs[d].content),
					       h->heredocs[d].expand ? "" : " (not expanded)");
		}
	}
	if (f->unused_args.len) {
		_cleanup_free_ char *u = nib_strv_join(&f->unused_args, ", ");
		nib_buf_printf(&b, "build args no ARG uses: %s\n", u);
	}
	return nib_buf_steal(&b);
}
