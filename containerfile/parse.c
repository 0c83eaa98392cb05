/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: reading the text. Physical lines become logical lines the
 * way BuildKit's parser.Parse does it: a byte-order mark, parser directives
 * only at the top, comments, the escape token as line continuation (comment
 * and empty lines inside a continuation are skipped), then heredoc bodies
 * after the line that names them. Each logical line keeps a map back to the
 * physical lines so that every message names FILE:LINE:COL.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include <fcntl.h>
#include <strings.h>

#include "containerfile/cf_internal.h"

struct parser {
	struct cf_file_priv *fp;
	bool done; /* no more directives */
	bool seen_escape, seen_syntax, seen_check;
	size_t li; /* next physical line (0-based) */
};

static const char *line_ptr(const struct cf_src *src, size_t li, size_t *len)
{
	size_t st = src->starts[li];
	size_t en = li + 1 < src->n_lines ? src->starts[li + 1] : src->len;
	*len = en - st;
	return src->data + st;
}

/* bytes.TrimRight(line, "\r\n") */
static size_t trim_newline(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	return n;
}

/* bytes of leading unicode white space */
static size_t lead_space(const char *s, size_t n)
{
	size_t i = 0, w;
	while (i < n && cf_is_space(nib_utf8_decode(s + i, n - i, &w)))
		i += w;
	return i;
}

static size_t char_col(const char *s, size_t nbytes)
{
	size_t col = 1;
	for (size_t i = 0; i < nbytes; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			col++;
	return col;
}

int cf_file_error(const struct cf_file *f, struct nib_error *err, int line, int col,
		  const char *fmt, ...)
{
	const struct cf_src *src = &cf_priv(f)->src;
	_cleanup_free_ char *msg = NULL;
	_cleanup_buf_ struct nib_buf b = {0};
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (line < 1)
		line = 1;
	if (col < 1)
		col = 1;
	nib_buf_printf(&b, "%s:%d:%d: %s", f->path, line, col, msg);
	if ((size_t)line <= src->n_lines) {
		size_t n;
		const char *p = line_ptr(src, (size_t)line - 1, &n);
		n = trim_newline(p, n);
		if (n > 0) {
			nib_buf_puts(&b, "\n    ");
			if (n > 160) {
				nib_buf_append(&b, p, 157);
				nib_buf_puts(&b, "...");
			} else {
				nib_buf_append(&b, p, n);
			}
		}
	}
	/* an ADD URL's credentials stay out of messages */
	_cleanup_free_ char *r = nib_url_redact(b.data);
	return nib_err(err, NIB_ERR_SYNTAX, 0, "%s", r);
}

void cf_instr_where(const struct cf_instr *in, size_t off, int *line, int *col)
{
	cf_instr_pos(in, off, line, col);
}

void cf_instr_pos(const struct cf_instr *in, size_t off, int *line, int *col)
{
	cf_instr_pos_next(in, off, line, col, NULL);
}

void cf_instr_pos_next(const struct cf_instr *in, size_t off, int *line, int *col,
		       struct cf_poscache *pc)
{
	const struct cf_src *src = &cf_priv(in->file)->src;
	const struct cf_seg *seg = NULL;
	size_t n, pb;
	const char *p;

	off += in->seg_base;
	/* the last segment starting at or before `off` (offsets ascend) */
	size_t lo = 0, hi = in->n_segs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (in->segs[mid].off <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0)
		seg = &in->segs[lo - 1];
	if (!seg) {
		*line = in->line;
		*col = in->col;
		return;
	}
	*line = seg->line;
	p = line_ptr(src, (size_t)seg->line - 1, &n);
	pb = seg->pcol + (off - seg->off);
	if (pb > n)
		pb = n;
	if (pc && pc->line == seg->line && pc->pb <= pb)
		*col = pc->col + (int)char_col(p + pc->pb, pb - pc->pb) - 1;
	else
		*col = (int)char_col(p, pb);
	if (pc)
		*pc = (struct cf_poscache){seg->line, pb, *col};
}

int cf_instr_error(const struct cf_instr *in, struct nib_error *err, size_t off, const char *fmt,
		   ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int line, col;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (off == (size_t)-1) {
		line = in->line;
		col = in->col;
	} else {
		cf_instr_pos(in, off, &line, &col);
	}
	return cf_file_error(in->file, err, line, col, "%s", msg);
}

/* BuildKit's directive regexp: ^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$ */
static bool re_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static int possible_directive(struct parser *ps, const char *s, size_t n, int lineno,
			      struct nib_error *err)
{
	struct cf_file *f = &ps->fp->pub;
	size_t i = 0, ks, ke, vs, ve;
	char key[16];

	if (ps->done)
		return 0;
	if (n == 0 || s[0] != '#')
		goto done;
	i = 1;
	while (i < n && re_space(s[i]))
		i++;
	ks = i;
	if (i >= n || !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
		goto done;
	while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			 (s[i] >= '0' && s[i] <= '9')))
		i++;
	ke = i;
	while (i < n && re_space(s[i]))
		i++;
	if (i >= n || s[i] != '=')
		goto done;
	i++;
	while (i < n && re_space(s[i]))
		i++;
	vs = i;
	ve = n;
	while (ve > vs && re_space(s[ve - 1]))
		ve--;
	if (ve == vs)
		goto done;
	if (ke - ks >= sizeof(key))
		goto done;
	memcpy(key, s + ks, ke - ks);
	key[ke - ks] = '\0';
	bool *seen;
	char **slot = NULL;
	if (strcasecmp(key, "escape") == 0)
		seen = &ps->seen_escape;
	else if (strcasecmp(key, "syntax") == 0)
		seen = &ps->seen_syntax, slot = &f->syntax;
	else if (strcasecmp(key, "check") == 0)
		seen = &ps->seen_check, slot = &f->check;
	else
		goto done;
	for (char *k = key; *k; k++)
		*k = (char)(*k >= 'A' && *k <= 'Z' ? *k + 32 : *k);
	if (*seen)
		return cf_file_error(f, err, lineno, 1, "only one %s parser directive can be used",
				     key);
	*seen = true;
	if (slot) {
		*slot = xstrndup(s + vs, ve - vs);
		return 0;
	}
	if (ve - vs != 1 || (s[vs] != '`' && s[vs] != '\\'))
		return cf_file_error(f, err, lineno, (int)vs + 1,
				     "invalid escape token '%.*s' does not match ` or \\",
				     (int)(ve - vs), s + vs);
	f->escape = s[vs];
	return 0;
done:
	ps->done = true;
	return 0;
}

/* The continuation regexp ([^E])E[ \t]*$|^E[ \t]*$: returns the new length
 * when the line continues, or -1. */
static ssize_t continuation(const char *s, size_t n, char esc)
{
	size_t e = n;
	while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	if (e == 0 || s[e - 1] != esc)
		return -1;
	if (e >= 2 && s[e - 2] == esc)
		return -1;
	return (ssize_t)(e - 1);
}

static void add_instr(struct cf_file *f, struct cf_instr *in)
{
	size_t cap = f->n_instrs;
	f->instrs = xgrow(f->instrs, &cap, f->n_instrs + 1, sizeof(*f->instrs));
	f->instrs[f->n_instrs++] = in;
}

static void seg_push(struct cf_seg **segs, size_t *n, size_t *cap, size_t off, int line,
		     size_t pcol)
{
	*segs = xgrow(*segs, cap, *n + 1, sizeof(**segs));
	(*segs)[(*n)++] = (struct cf_seg){off, line, pcol};
}

/* Remove leading tabs of every line ((?m)^\t+). */
static char *chomp_tabs(const char *s)
{
	_cleanup_buf_ struct nib_buf b = {0};
	bool bol = true;

	nib_buf_puts(&b, "");
	for (; *s; s++) {
		if (bol && *s == '\t')
			continue;
		bol = *s == '\n';
		nib_buf_putc(&b, *s);
	}
	return nib_buf_steal(&b);
}

static int read_heredocs(struct parser *ps, struct cf_instr *in, int start_line,
			 struct nib_error *err)
{
	struct cf_file *f = &ps->fp->pub;
	struct cf_src *src = &ps->fp->src;
	_cleanup_strv_ struct nib_strv names = {0};
	_cleanup_buf_ struct nib_buf flags = {0};
	struct cf_instr *target = in->kind == CF_ONBUILD && in->trigger ? in->trigger : in;

	cf_heredocs_from_line(in->original, &names, &flags);
	if (!names.len)
		return 0;
	target->heredocs = xcalloc(names.len, sizeof(*target->heredocs));
	for (size_t h = 0; h < names.len; h++) {
		struct cf_heredoc *hd = &target->heredocs[target->n_heredocs++];
		_cleanup_buf_ struct nib_buf content = {0};
		bool chomp = flags.data[3 * h] == 'c';
		bool terminated = false;
		size_t nl = strlen(names.v[h]);

		hd->name = xstrdup(names.v[h]);
		hd->chomp = chomp;
		hd->expand = flags.data[3 * h + 1] == 'e';
		hd->fd = (unsigned char)flags.data[3 * h + 2];
		hd->line = (int)ps->li + 1;
		nib_buf_puts(&content, "");
		while (ps->li < src->n_lines) {
			size_t n, t = 0;
			const char *p = line_ptr(src, ps->li++, &n);
			size_t tn = trim_newline(p, n);
			if (chomp)
				while (t < tn && p[t] == '\t')
					t++;
			if (tn - t == nl && memcmp(p + t, names.v[h], nl) == 0) {
				terminated = true;
				break;
			}
			nib_buf_append(&content, p, n);
		}
		if (!terminated) {
			const char *at = strstr(in->original, "<<");
			return cf_instr_error(in, err,
					      at ? (size_t)(at - in->original) : (size_t)-1,
					      "unterminated heredoc %s (no line \"%s\" before the "
					      "end of the file, which is line %zu)",
					      names.v[h], names.v[h], src->n_lines);
		}
		hd->content = chomp ? chomp_tabs(content.data) : nib_buf_steal(&content);
	}
	(void)f;
	(void)start_line;
	return 0;
}

static int parse_lines(struct parser *ps, struct nib_error *err)
{
	struct cf_file *f = &ps->fp->pub;
	struct cf_src *src = &ps->fp->src;

	while (ps->li < src->n_lines) {
		_cleanup_buf_ struct nib_buf line = {0};
		struct cf_seg *segs = NULL;
		size_t n_segs = 0, cap_segs = 0, n, lead;
		const char *p = line_ptr(src, ps->li, &n);
		size_t pcol = 0;
		ssize_t cut;
		bool eol;

		if (ps->li == 0 && n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
			p += 3;
			n -= 3;
			pcol = 3;
		}
		n = trim_newline(p, n);
		lead = lead_space(p, n);
		p += lead;
		n -= lead;
		pcol += lead;
		if (possible_directive(ps, p, n, (int)ps->li + 1, err) < 0)
			return -1;
		if (n > 0 && p[0] == '#')
			n = 0; /* a comment */
		ps->li++;
		int start_line = (int)ps->li;
		nib_buf_puts(&line, "");
		cut = continuation(p, n, f->escape);
		eol = cut < 0;
		nib_buf_append(&line, p, eol ? n : (size_t)cut);
		if (eol && line.len == 0)
			continue;
		seg_push(&segs, &n_segs, &cap_segs, 0, start_line, pcol);
		while (!eol && ps->li < src->n_lines) {
			size_t m, l2;
			const char *q = line_ptr(src, ps->li, &m);
			m = trim_newline(q, m);
			if (possible_directive(ps, q, m, (int)ps->li + 1, err) < 0) {
				free(segs);
				return -1;
			}
			ps->li++;
			l2 = lead_space(q, m);
			if (l2 < m && q[l2] == '#')
				continue; /* comment inside a continuation */
			if (m > 0 && q[0] == '#')
				m = 0;
			if (lead_space(q, m) == m)
				continue; /* empty continuation line */
			cut = continuation(q, m, f->escape);
			eol = cut < 0;
			seg_push(&segs, &n_segs, &cap_segs, line.len, (int)ps->li, 0);
			nib_buf_append(&line, q, eol ? m : (size_t)cut);
		}
		if (f->n_instrs >= CF_MAX_INSTRUCTIONS) {
			free(segs);
			return cf_file_error(
			    f, err, start_line, 1,
			    "more than %d instructions: a Containerfile this long is "
			    "refused",
			    CF_MAX_INSTRUCTIONS);
		}
		struct cf_instr *in = cf_instr_new(f, line.data, segs, n_segs, 0, err);
		free(segs);
		if (!in)
			return -1;
		add_instr(f, in);
		ps->fp->words += in->args.len + in->n_flags;
		if (in->trigger)
			ps->fp->words += in->trigger->args.len + in->trigger->n_flags;
		if (ps->fp->words > CF_MAX_WORDS)
			return cf_file_error(f, err, start_line, 1,
					     "more than %d arguments in the file: a Containerfile "
					     "this large is refused",
					     CF_MAX_WORDS);
		if (cf_instr_can_heredoc(in) && read_heredocs(ps, in, start_line, err) < 0)
			return -1;
		in->end_line = (int)ps->li;
		if (in->trigger)
			in->trigger->end_line = in->end_line;
	}
	return 0;
}

static void cf_src_init(struct cf_src *src, const char *data, size_t len)
{
	size_t cap = 0;

	src->data = data;
	src->len = len;
	src->n_lines = 0;
	for (size_t i = 0; i < len;) {
		src->starts = xgrow(src->starts, &cap, src->n_lines + 1, sizeof(size_t));
		src->starts[src->n_lines++] = i;
		const char *nl = memchr(data + i, '\n', len - i);
		i = nl ? (size_t)(nl - data) + 1 : len;
	}
}

/* Instructions into stages, with BuildKit's instruction-level checks. */
static int build_stages(struct cf_file *f, struct nib_error *err)
{
	size_t cap_meta = 0, cap_st = 0;

	for (size_t i = 0; i < f->n_instrs; i++) {
		struct cf_instr *in = f->instrs[i];
		if (cf_instr_check(in, err) < 0)
			return -1;
		if (in->kind == CF_FROM) {
			f->stages = xgrow(f->stages, &cap_st, f->n_stages + 1, sizeof(*f->stages));
			struct cf_stage *st = &f->stages[f->n_stages];
			*st = (struct cf_stage){
			    .index = (int)f->n_stages, .from = in, .base_stage = -1};
			if (in->args.len == 3)
				st->name = xstrdup(in->args.v[2]);
			for (char *c = st->name; c && *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			f->n_stages++;
			continue;
		}
		if (f->n_stages == 0) {
			if (in->kind == CF_ARG) {
				f->meta =
				    xgrow(f->meta, &cap_meta, f->n_meta + 1, sizeof(*f->meta));
				f->meta[f->n_meta++] = in;
				continue;
			}
			return cf_instr_error(in, err, (size_t)-1,
					      "no build stage in current context: %s must come "
					      "after a FROM",
					      cf_kind_name(in->kind));
		}
		struct cf_stage *st = &f->stages[f->n_stages - 1];
		size_t cap = st->n_instrs;
		st->instrs = xgrow(st->instrs, &cap, st->n_instrs + 1, sizeof(*st->instrs));
		st->instrs[st->n_instrs++] = in;
	}
	/* stage names are unique */
	struct cf_names m = {0};
	cf_names_build(&m, f);
	for (size_t i = 0; i < f->n_stages; i++) {
		int j = f->stages[i].name ? cf_names_get(&m, f->stages[i].name) : -1;
		if (j >= 0 && (size_t)j != i) {
			cf_names_free(&m);
			return cf_instr_error(f->stages[i].from, err,
					      (size_t)f->stages[i].from->arg_offs[2],
					      "duplicate stage name \"%s\" (first used on line %d)",
					      f->stages[i].name, f->stages[j].from->line);
		}
	}
	cf_names_free(&m);
	return 0;
}

static size_t name_hash(const char *s)
{
	size_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The first stage of each name wins (later duplicates are reported). */
void cf_names_build(struct cf_names *m, const struct cf_file *f)
{
	m->cap = 16;
	while (m->cap < 2 * f->n_stages + 1)
		m->cap *= 2;
	m->keys = xcalloc(m->cap, sizeof(*m->keys));
	m->vals = xcalloc(m->cap, sizeof(*m->vals));
	for (size_t i = 0; i < f->n_stages; i++) {
		const char *k = f->stages[i].name;
		if (!k)
			continue;
		size_t h = name_hash(k) & (m->cap - 1);
		while (m->keys[h] && !streq(m->keys[h], k))
			h = (h + 1) & (m->cap - 1);
		if (!m->keys[h]) {
			m->keys[h] = k;
			m->vals[h] = (int)i;
		}
	}
}

int cf_names_get(const struct cf_names *m, const char *name)
{
	size_t h = name_hash(name) & (m->cap - 1);
	while (m->keys[h]) {
		if (streq(m->keys[h], name))
			return m->vals[h];
		h = (h + 1) & (m->cap - 1);
	}
	return -1;
}

void cf_names_free(struct cf_names *m)
{
	free(m->keys);
	free(m->vals);
	*m = (struct cf_names){0};
}

struct cf_file *cf_parse_buffer(const char *path, const char *data, size_t len,
				struct nib_error *err)
{
	return cf_parse_buffer_mode(path, data, len, false, err);
}

struct cf_file *cf_parse_buffer_mode(const char *path, const char *data, size_t len, bool ast_only,
				     struct nib_error *err)
{
	struct cf_file_priv *fp = xcalloc(1, sizeof(*fp));
	struct cf_file *f = &fp->pub;
	struct parser ps = {.fp = fp};
	const char *nul;

	f->path = xstrdup(path ? path : "Containerfile");
	f->escape = '\\';
	f->target = -1;
	if (len > CF_MAX_FILE_SIZE) {
		nib_err(
		    err, NIB_ERR_SYNTAX, 0,
		    "%s:1:1: the file is %zu bytes, larger than the %zu MiB a Containerfile may "
		    "have",
		    f->path, len, CF_MAX_FILE_SIZE >> 20);
		goto fail;
	}
	fp->data = xmalloc(len + 1);
	if (len)
		memcpy(fp->data, data, len);
	fp->data[len] = '\0';
	cf_src_init(&fp->src, fp->data, len);
	if ((nul = memchr(fp->data, '\0', len))) {
		int line = 1;
		size_t ls = 0;
		for (const char *c = fp->data; c < nul; c++)
			if (*c == '\n')
				line++, ls = (size_t)(c - fp->data) + 1;
		cf_file_error(f, err, line,
			      (int)char_col(fp->data + ls, (size_t)(nul - fp->data) - ls),
			      "a NUL byte: this is not a text file");
		goto fail;
	}
	if (parse_lines(&ps, err) < 0)
		goto fail;
	if (f->n_instrs == 0) {
		cf_file_error(f, err, (int)MAX(fp->src.n_lines, 1), 1, "file with no instructions");
		goto fail;
	}
	if (ast_only)
		return f;
	if (build_stages(f, err) < 0)
		goto fail;
	if (f->n_stages == 0) {
		cf_file_error(f, err, f->instrs[f->n_instrs - 1]->line, 1,
			      "no FROM instruction: a Containerfile needs at least one stage");
		goto fail;
	}
	return f;
fail:
	cf_file_free(f);
	return NULL;
}

struct cf_file *cf_parse_file(const char *path, struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;

	if (nib_read_file_at(AT_FDCWD, path, CF_MAX_FILE_SIZE, &data, &len, err) < 0) {
		if (err && err->errnum == EFBIG)
			return nib_err(
				   err, NIB_ERR_SYNTAX, 0,
				   "%s:1:1: the file is larger than the %zu MiB a Containerfile "
				   "may have",
				   path, CF_MAX_FILE_SIZE >> 20),
			       NULL;
		return NULL;
	}
	return cf_parse_buffer(path, data, len, err);
}

struct cf_file *cf_trigger_parse(const char *trigger, struct cf_instr **out, struct nib_error *err)
{
	_cleanup_(cf_file_freep) struct cf_file *f = NULL;
	_cleanup_free_ char *text = NULL;
	struct cf_instr *in;
	size_t n = strlen(trigger);

	*out = NULL;
	if (n > CF_MAX_FILE_SIZE)
		return nib_err(err, NIB_ERR_SYNTAX, 0,
			       "ONBUILD:2:1: a trigger of %zu bytes is larger than the %zu MiB a "
			       "Containerfile may have",
			       n, CF_MAX_FILE_SIZE >> 20),
		       NULL;
	text = xasprintf("FROM scratch\n%s\n", trigger);
	f = cf_parse_buffer("ONBUILD", text, strlen(text), err);
	if (!f)
		return NULL;
	if (f->n_instrs != 2)
		return nib_err(err, NIB_ERR_SYNTAX, 0,
			       "ONBUILD:2:1: a trigger must be exactly one instruction, not %zu",
			       f->n_instrs - 1),
		       NULL;
	in = f->instrs[1];
	/* Docker (dispatchers' checkDispatch, BuildKit's parseOnBuild): the
	 * checks ONBUILD makes when it is written, made again when a base
	 * image's triggers run, since an image's config is anyone's to write */
	switch (in->kind) {
	case CF_ONBUILD:
		return cf_instr_error(in, err, (size_t)-1,
				      "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
		       NULL;
	case CF_FROM:
	case CF_MAINTAINER:
		return cf_instr_error(in, err, (size_t)-1, "%s isn't allowed as an ONBUILD trigger",
				      cf_kind_name(in->kind)),
		       NULL;
	default:
		break;
	}
	*out = in;
	return steal_pointer(&f);
}

void cf_file_free(struct cf_file *f)
{
	struct cf_file_priv *fp = cf_priv(f);

	if (!f)
		return;
	for (size_t i = 0; i < f->n_stages; i++) {
		struct cf_stage *st = &f->stages[i];
		for (size_t k = 0; st->steps && k < st->n_instrs; k++)
			cf_step_clear(&st->steps[k]);
		free(st->steps);
	}
	for (size_t i = 0; i < f->n_instrs; i++)
		cf_instr_free(f->instrs[i]);
	free(f->instrs);
	free(f->meta);
	for (size_t i = 0; i < f->n_stages; i++) {
		struct cf_stage *st = &f->stages[i];
		free(st->name);
		free(st->base);
		free(st->platform);
		free(st->instrs);
		free(st->deps);
		nib_strv_free(&st->env);
	}
	free(f->stages);
	free(f->path);
	free(f->syntax);
	free(f->check);
	nib_strv_free(&f->meta_args);
	nib_strv_free(&f->build_args);
	nib_strv_free(&f->unused_args);
	nib_strv_free(&f->platform_args);
	free(fp->src.starts);
	free(fp->data);
	free(fp);
}
