/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: shell-word processing as BuildKit's frontend/dockerfile/shell
 * lexer does it: quotes, the escape token, $name, ${name} and the ${name...}
 * modifiers, word splitting. The rules (and their quirks) follow that lexer
 * so that a Containerfile expands the same here as under `docker build`.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include "containerfile/cf_internal.h"

#define LEX_EOF ((uint32_t)0xFFFFFFFF)

struct lexer {
	const char *s;
	size_t n, pos;
	uint32_t esc;
	bool raw_quotes, raw_escapes, no_quotes, keep_unset;
	cf_lookup_fn lookup;
	void *ud;
	int depth;
	size_t max; /* longest result (CF_MAX_EXPAND_SIZE beyond the word) */
	struct nib_error *err;
};

struct words {
	struct nib_buf word;
	bool in_word;
	struct nib_strv *out;
};

static uint32_t peek(struct lexer *l)
{
	size_t w;
	if (l->pos >= l->n)
		return LEX_EOF;
	return nib_utf8_decode(l->s + l->pos, l->n - l->pos, &w);
}

static uint32_t next(struct lexer *l)
{
	size_t w;
	uint32_t r;
	if (l->pos >= l->n)
		return LEX_EOF;
	r = nib_utf8_decode(l->s + l->pos, l->n - l->pos, &w);
	l->pos += w;
	return r;
}

static void w_raw_char(struct words *w, uint32_t r)
{
	if (!w)
		return;
	cf_utf8_put(&w->word, r);
	w->in_word = true;
}

static void w_char(struct words *w, uint32_t r)
{
	if (!w)
		return;
	if (cf_is_space(r) && w->in_word) {
		if (w->word.len) {
			nib_strv_push(w->out, w->word.data);
			nib_buf_reset(&w->word);
			w->in_word = false;
		}
	} else if (!cf_is_space(r)) {
		w_raw_char(w, r);
	}
}

static void w_string(struct words *w, const char *s, size_t n)
{
	size_t i = 0, k;
	if (!w)
		return;
	while (i < n) {
		w_char(w, nib_utf8_decode(s + i, n - i, &k));
		i += k;
	}
}

static void w_raw_string(struct words *w, const char *s, size_t n)
{
	if (!w)
		return;
	nib_buf_append(&w->word, s, n);
	w->in_word = true;
}

static int lex_error(struct lexer *l, const char *fmt, ...) _printf_(2, 3);
static int lex_error(struct lexer *l, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	return nib_err(l->err, NIB_ERR_SYNTAX, 0, "%s", msg);
}

static int process_stop_on(struct lexer *l, uint32_t stop, bool raw_escapes, struct nib_buf *res,
			   struct words *w);

/* Every place a variable's value lands checks the result against the cap,
 * so no expansion holds more than about twice the cap at once. */
static int check_size(struct lexer *l, const struct nib_buf *res)
{
	if (res->len <= l->max)
		return 0;
	return lex_error(l,
			 "variable expansion result longer than %zu bytes (the text written plus "
			 "%zu KiB)",
			 l->max, CF_MAX_EXPAND_SIZE >> 10);
}

static bool is_special_param(uint32_t c)
{
	return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' ||
	       c == '0';
}

static void process_name(struct lexer *l, struct nib_buf *name)
{
	while (peek(l) != LEX_EOF) {
		uint32_t ch = peek(l);
		if (name->len == 0 && cf_is_digit(ch)) {
			while (peek(l) != LEX_EOF && cf_is_digit(peek(l)))
				cf_utf8_put(name, next(l));
			return;
		}
		if (name->len == 0 && is_special_param(ch)) {
			cf_utf8_put(name, next(l));
			return;
		}
		if (!cf_is_letter(ch) && !cf_is_digit(ch) && ch != '_')
			break;
		cf_utf8_put(name, next(l));
	}
	if (!name->data)
		nib_buf_puts(name, "");
}

static int single_quote(struct lexer *l, struct nib_buf *res)
{
	uint32_t ch = next(l);

	if (l->raw_quotes)
		cf_utf8_put(res, ch);
	for (;;) {
		ch = next(l);
		if (ch == LEX_EOF)
			return lex_error(
			    l,
			    "unexpected end of statement while looking for matching single-quote");
		if (ch == '\'') {
			if (l->raw_quotes)
				cf_utf8_put(res, ch);
			return 0;
		}
		cf_utf8_put(res, ch);
	}
}

static int process_dollar(struct lexer *l, struct nib_buf *res);

static int double_quote(struct lexer *l, struct nib_buf *res)
{
	uint32_t ch = next(l);

	if (l->raw_quotes)
		cf_utf8_put(res, ch);
	for (;;) {
		switch (peek(l)) {
		case LEX_EOF:
			return lex_error(
			    l,
			    "unexpected end of statement while looking for matching double-quote");
		case '"':
			ch = next(l);
			if (l->raw_quotes)
				cf_utf8_put(res, ch);
			return 0;
		case '$':
			if (process_dollar(l, res) < 0)
				return -1;
			break;
		default:
			ch = next(l);
			if (ch == l->esc) {
				if (l->raw_escapes)
					cf_utf8_put(res, ch);
				uint32_t p = peek(l);
				if (p == LEX_EOF)
					continue; /* a lone escape at the end of the word */
				if (p == '"' || p == '$' || p == l->esc)
					ch = next(l);
			}
			cf_utf8_put(res, ch);
		}
	}
}

static int replace_pattern(struct lexer *l, const char *value, const char *pattern,
			   const char *repl, bool all, struct nib_buf *res);

static int process_modifier(struct lexer *l, const char *name, uint32_t ch, bool null_is_unset,
			    const char *chs, struct nib_buf *res)
{
	_cleanup_buf_ struct nib_buf word = {0};
	bool raw = ch == '#' || ch == '%';
	const char *value;

	nib_buf_puts(&word, "");
	if (process_stop_on(l, '}', raw, &word, NULL) < 0) {
		if (peek(l) == LEX_EOF)
			return lex_error(l, "syntax error: missing '}'");
		return -1;
	}
	value = l->lookup ? l->lookup(l->ud, name) : NULL;
	if (l->keep_unset && !value) {
		nib_buf_printf(res, "${%s%s%s}", name, chs, word.data);
		return 0;
	}
	switch (ch) {
	case '-':
		nib_buf_puts(res, (!value || (null_is_unset && !*value)) ? word.data : value);
		return 0;
	case '+':
		if (!value || (null_is_unset && !*value))
			return 0;
		nib_buf_puts(res, word.data);
		return 0;
	case '?':
		if (!value)
			return lex_error(l, "%s: %s", name,
					 *word.data ? word.data : "is not allowed to be unset");
		if (null_is_unset && !*value)
			return lex_error(l, "%s: %s", name,
					 *word.data ? word.data : "is not allowed to be empty");
		nib_buf_puts(res, value);
		return 0;
	case '#':
	case '%': {
		const char *pat = word.data;
		bool greedy = false;
		size_t m;
		if (!value)
			value = "";
		if (*pat && (unsigned char)*pat == ch) {
			greedy = true;
			pat++;
		}
		if (ch == '#') {
			int r = cf_pattern_prefix(pat, value, greedy, &m, l->err);
			if (r == -2)
				return -1;
			nib_buf_puts(res, r >= 0 ? value + m : value);
			return 0;
		}
		/* suffix: reverse pattern and value, match a prefix */
		struct cf_runes vr, pr;
		_cleanup_buf_ struct nib_buf rv = {0}, rp = {0};
		cf_runes_init(&vr, value);
		cf_runes_init(&pr, pat);
		nib_buf_puts(&rv, "");
		nib_buf_puts(&rp, "");
		for (size_t i = vr.n; i > 0; i--)
			cf_utf8_put(&rv, vr.r[i - 1]);
		{
			/* reverse the pattern, keeping each escape before its
			 * character */
			uint32_t *out = xcalloc(pr.n + 1, sizeof(uint32_t));
			size_t last = pr.n ? pr.n - 1 : 0;
			for (size_t i = 0; i < pr.n;) {
				size_t oi = last - i;
				if (pr.r[i] == '\\' && i != last) {
					out[oi - 1] = pr.r[i];
					out[oi] = pr.r[i + 1];
					i += 2;
				} else {
					out[oi] = pr.r[i];
					i++;
				}
			}
			for (size_t i = 0; i < pr.n; i++)
				cf_utf8_put(&rp, out[i]);
			free(out);
		}
		int r = cf_pattern_prefix(rp.data, rv.data, greedy, &m, l->err);
		if (r == -2) {
			cf_runes_free(&vr);
			cf_runes_free(&pr);
			return -1;
		}
		/* the kept part, reversed back */
		struct cf_runes kept;
		cf_runes_init(&kept, r >= 0 ? rv.data + m : rv.data);
		for (size_t i = kept.n; i > 0; i--)
			cf_utf8_put(res, kept.r[i - 1]);
		cf_runes_free(&kept);
		cf_runes_free(&vr);
		cf_runes_free(&pr);
		return 0;
	}
	default:
		return lex_error(l, "unsupported modifier (%s) in substitution", chs);
	}
}

static int process_dollar(struct lexer *l, struct nib_buf *res)
{
	_cleanup_buf_ struct nib_buf name = {0}, chs = {0};
	const char *value;
	uint32_t ch;
	int ret;

	next(l);
	if (peek(l) != '{') {
		process_name(l, &name);
		if (!*name.data) {
			nib_buf_putc(res, '$');
			return 0;
		}
		value = l->lookup ? l->lookup(l->ud, name.data) : NULL;
		if (!value && l->keep_unset)
			nib_buf_printf(res, "$%s", name.data);
		else if (value)
			nib_buf_puts(res, value);
		return 0;
	}
	next(l);
	ch = peek(l);
	if (ch == LEX_EOF)
		return lex_error(l, "syntax error: missing '}'");
	if (ch == '{' || ch == '}' || ch == ':')
		return lex_error(l, "syntax error: bad substitution");
	if (l->depth >= CF_MAX_EXPAND_DEPTH)
		return lex_error(l, "variable substitution nested more than %d levels deep",
				 CF_MAX_EXPAND_DEPTH);
	l->depth++;
	process_name(l, &name);
	ch = next(l);
	if (ch == LEX_EOF) {
		ret = lex_error(l, "syntax error: missing '}'");
		goto out;
	}
	cf_utf8_put(&chs, ch);
	switch (ch) {
	case '}':
		value = l->lookup ? l->lookup(l->ud, name.data) : NULL;
		if (!value && l->keep_unset)
			nib_buf_printf(res, "${%s}", name.data);
		else if (value)
			nib_buf_puts(res, value);
		ret = 0;
		break;
	case ':':
		ch = next(l);
		if (ch == LEX_EOF) {
			ret = lex_error(l, "syntax error: missing '}'");
			break;
		}
		cf_utf8_put(&chs, ch);
		ret = process_modifier(l, name.data, ch, true, chs.data, res);
		break;
	case '+':
	case '-':
	case '?':
	case '#':
	case '%':
		ret = process_modifier(l, name.data, ch, false, chs.data, res);
		break;
	case '/': {
		_cleanup_buf_ struct nib_buf pat = {0}, repl = {0};
		bool all = false;
		nib_buf_puts(&pat, "");
		nib_buf_puts(&repl, "");
		if (peek(l) == '/') {
			next(l);
			all = true;
		}
		if (process_stop_on(l, '/', true, &pat, NULL) < 0) {
			ret = peek(l) == LEX_EOF ? lex_error(l, "syntax error: missing '/' in ${}")
						 : -1;
			break;
		}
		if (process_stop_on(l, '}', true, &repl, NULL) < 0) {
			ret = peek(l) == LEX_EOF ? lex_error(l, "syntax error: missing '}'") : -1;
			break;
		}
		value = l->lookup ? l->lookup(l->ud, name.data) : NULL;
		if (!value && l->keep_unset) {
			nib_buf_printf(res, "${%s/%s/%s}", name.data, pat.data, repl.data);
			ret = 0;
			break;
		}
		ret = replace_pattern(l, value ? value : "", pat.data, repl.data, all, res);
		break;
	}
	default:
		ret = lex_error(l, "unsupported modifier (%s) in substitution", chs.data);
	}
out:
	l->depth--;
	return ret;
}

static int process_stop_on(struct lexer *l, uint32_t stop, bool raw_escapes, struct nib_buf *res,
			   struct words *w)
{
	bool saved = l->raw_escapes;
	int ret = 0;

	l->raw_escapes = raw_escapes;
	while (peek(l) != LEX_EOF) {
		uint32_t ch = peek(l);
		if (stop != LEX_EOF && ch == stop) {
			next(l);
			goto out;
		}
		if (ch == '$' || (!l->no_quotes && (ch == '\'' || ch == '"'))) {
			_cleanup_buf_ struct nib_buf tmp = {0};
			nib_buf_puts(&tmp, "");
			int r = ch == '$'    ? process_dollar(l, &tmp)
				: ch == '\'' ? single_quote(l, &tmp)
					     : double_quote(l, &tmp);
			if (r < 0) {
				ret = -1;
				goto out;
			}
			nib_buf_append(res, tmp.data, tmp.len);
			if (check_size(l, res) < 0) {
				ret = -1;
				goto out;
			}
			if (ch == '$')
				w_string(w, tmp.data, tmp.len);
			else
				w_raw_string(w, tmp.data, tmp.len);
			continue;
		}
		ch = next(l);
		if (ch == l->esc) {
			if (l->raw_escapes) {
				w_raw_char(w, ch);
				cf_utf8_put(res, ch);
			}
			ch = next(l);
			if (ch == LEX_EOF)
				break;
			w_raw_char(w, ch);
		} else {
			w_char(w, ch);
		}
		cf_utf8_put(res, ch);
	}
	if (stop != LEX_EOF) {
		char s[8] = {0};
		struct nib_buf b = {0};
		cf_utf8_put(&b, stop);
		snprintf(s, sizeof(s), "%s", b.data);
		nib_buf_free(&b);
		ret = lex_error(l, "unexpected end of statement while looking for matching %s", s);
	}
out:
	l->raw_escapes = saved;
	return ret;
}

/* ---- patterns ------------------------------------------------------------ */

/* Docker's convertShellPatternToRegex: '*' any string (shortest or longest),
 * '?' one character, '\' escapes '*', '?' and '\' (and is dropped before '}'
 * and '/'); everything else is literal. Returns -1 on a bad escape. */
static int compile_shell_pattern(const char *pattern, bool greedy, struct cf_nfa *p,
				 struct nib_error *err)
{
	struct cf_runes pr;
	int ret = 0;

	cf_runes_init(&pr, pattern);
	for (size_t i = 0; i < pr.n; i++) {
		uint32_t tok = pr.r[i];
		if (tok == '*') {
			size_t split = cf_nfa_emit(p, CF_OP_SPLIT, 0, 0, 0);
			cf_nfa_emit(p, CF_OP_ANY, 0, 0, 0);
			cf_nfa_emit(p, CF_OP_JMP, 0, split, 0);
			if (greedy) {
				p->v[split].x = split + 1;
				p->v[split].y = p->len;
			} else {
				p->v[split].x = p->len;
				p->v[split].y = split + 1;
			}
			continue;
		}
		if (tok == '?') {
			cf_nfa_emit(p, CF_OP_ANY, 0, 0, 0);
			continue;
		}
		if (tok == '\\') {
			if (i + 1 < pr.n && (pr.r[i + 1] == '}' || pr.r[i + 1] == '/'))
				continue;
			if (i + 1 >= pr.n ||
			    (pr.r[i + 1] != '*' && pr.r[i + 1] != '?' && pr.r[i + 1] != '\\')) {
				struct nib_buf b = {0};
				if (i + 1 < pr.n)
					cf_utf8_put(&b, pr.r[i + 1]);
				ret =
				    nib_err(err, NIB_ERR_SYNTAX, 0,
					    "invalid pattern (%s) in substitution: invalid escape "
					    "'\\%s'",
					    pattern, b.data ? b.data : "");
				nib_buf_free(&b);
				goto out;
			}
			tok = pr.r[++i];
		}
		cf_nfa_emit(p, CF_OP_CHAR, tok, 0, 0);
	}
	cf_nfa_emit(p, CF_OP_MATCH, 0, 0, 0);
out:
	cf_runes_free(&pr);
	return ret;
}

int cf_pattern_prefix(const char *pattern, const char *value, bool greedy, size_t *matched,
		      struct nib_error *err)
{
	struct cf_nfa p = {0};
	struct cf_runes vr;
	size_t ms, me;
	int ret = -1;

	if (compile_shell_pattern(pattern, greedy, &p, err) < 0) {
		cf_nfa_free(&p);
		return -2;
	}
	cf_runes_init(&vr, value);
	if (cf_nfa_find(&p, &vr, 0, true, false, &ms, &me)) {
		*matched = vr.offs[me];
		ret = 0;
	}
	cf_runes_free(&vr);
	cf_nfa_free(&p);
	return ret;
}

/* Go's Regexp.ReplaceAllString template: $0 / ${0} is the match, $$ a
 * dollar, other names refer to groups that do not exist (empty). */
static void expand_template(struct nib_buf *res, const char *repl, const char *m, size_t mlen)
{
	for (const char *p = repl; *p;) {
		if (*p != '$') {
			nib_buf_putc(res, *p++);
			continue;
		}
		p++;
		if (*p == '$') {
			nib_buf_putc(res, '$');
			p++;
			continue;
		}
		const char *name = p, *end;
		bool brace = *p == '{';
		if (brace)
			name = ++p;
		end = name;
		while (*end == '_' || (*end >= '0' && *end <= '9') ||
		       (*end >= 'a' && *end <= 'z') || (*end >= 'A' && *end <= 'Z'))
			end++;
		if (end == name || (brace && *end != '}')) {
			nib_buf_putc(res, '$');
			p = brace ? name - 1 : name;
			continue;
		}
		if (end - name == 1 && *name == '0')
			nib_buf_append(res, m, mlen);
		p = brace ? end + 1 : end;
	}
}

static int replace_pattern(struct lexer *l, const char *value, const char *pattern,
			   const char *repl, bool all, struct nib_buf *res)
{
	struct cf_nfa p = {0};
	struct cf_runes vr;
	size_t ms, me;

	if (compile_shell_pattern(pattern, true, &p, l->err) < 0) {
		cf_nfa_free(&p);
		return -1;
	}
	cf_runes_init(&vr, value);
	if (!all) {
		if (cf_nfa_find(&p, &vr, 0, false, false, &ms, &me)) {
			nib_buf_append(res, value, vr.offs[ms]);
			nib_buf_puts(res, repl);
			nib_buf_puts(res, value + vr.offs[me]);
		} else {
			nib_buf_puts(res, value);
		}
	} else {
		/* regexp.ReplaceAllString */
		size_t search = 0, last_end = 0;
		bool any = false;
		while (search <= vr.n) {
			if (!cf_nfa_find(&p, &vr, search, false, false, &ms, &me))
				break;
			nib_buf_append(res, value + vr.offs[last_end],
				       vr.offs[ms] - vr.offs[last_end]);
			if (me > last_end || ms == 0 || !any)
				expand_template(res, repl, value + vr.offs[ms],
						vr.offs[me] - vr.offs[ms]);
			any = true;
			last_end = me;
			if (check_size(l, res) < 0) {
				cf_runes_free(&vr);
				cf_nfa_free(&p);
				return -1;
			}
			if (search + 1 > me)
				search++;
			else
				search = me;
		}
		nib_buf_puts(res, value + vr.offs[last_end]);
	}
	cf_runes_free(&vr);
	cf_nfa_free(&p);
	return 0;
}

/* ---- entry points ---------------------------------------------------------- */

static int expand(const char *word, char escape, unsigned flags, cf_lookup_fn lookup,
		  void *userdata, struct nib_buf *res, struct words *w, struct nib_error *err)
{
	struct lexer l = {
	    .s = word,
	    .n = strlen(word),
	    .esc = (unsigned char)escape,
	    .raw_quotes = flags & CF_EXPAND_RAW_QUOTES,
	    .raw_escapes = flags & CF_EXPAND_RAW_ESCAPES,
	    .no_quotes = flags & CF_EXPAND_NO_QUOTES,
	    .keep_unset = flags & CF_EXPAND_KEEP_UNSET,
	    .lookup = lookup,
	    .ud = userdata,
	    .max = strlen(word) + CF_MAX_EXPAND_SIZE,
	    .err = err,
	};
	nib_buf_puts(res, "");
	if (process_stop_on(&l, LEX_EOF, l.raw_escapes, res, w) < 0) {
		if (err && err->msg) {
			_cleanup_free_ char *m = err->msg;
			err->msg = NULL;
			/* keep long words out of the one-line message */
			if (strlen(word) > 80)
				nib_err(err, NIB_ERR_SYNTAX, 0,
					"failed to process \"%.77s...\": %s", word, m);
			else
				nib_err(err, NIB_ERR_SYNTAX, 0, "failed to process \"%s\": %s",
					word, m);
		}
		return -1;
	}
	return 0;
}

int cf_expand_word(const char *word, char escape, unsigned flags, cf_lookup_fn lookup,
		   void *userdata, char **out, struct nib_error *err)
{
	struct nib_buf res = {0};

	if (expand(word, escape, flags, lookup, userdata, &res, NULL, err) < 0) {
		nib_buf_free(&res);
		return -1;
	}
	*out = nib_buf_steal(&res);
	return 0;
}

int cf_expand_words(const char *word, char escape, unsigned flags, cf_lookup_fn lookup,
		    void *userdata, struct nib_strv *out, struct nib_error *err)
{
	_cleanup_buf_ struct nib_buf res = {0};
	struct words w = {.out = out};

	if (expand(word, escape, flags, lookup, userdata, &res, &w, err) < 0) {
		nib_buf_free(&w.word);
		return -1;
	}
	if (w.word.len)
		nib_strv_push(out, w.word.data);
	nib_buf_free(&w.word);
	return 0;
}
