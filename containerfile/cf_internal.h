/* SPDX-License-Identifier: Apache-2.0 */
/* containerfile: internal declarations shared by the module's files. */
#ifndef NIB_CF_INTERNAL_H
#define NIB_CF_INTERNAL_H

#ifndef NIB_CONTAINERFILE_INTERNAL
#error "containerfile/cf_internal.h is internal to containerfile/"
#endif

#include "containerfile/containerfile.h"

#include <string.h>

/* One piece of a logical line: bytes from `off` on came from physical
 * `line`, starting at byte `pcol` (0-based) of that line. */
struct cf_seg {
	size_t off;
	int line;
	size_t pcol;
};

/* The physical lines of the file, for error messages. */
struct cf_src {
	const char *data;
	size_t len;
	size_t *starts; /* start offset of each line (index 0 = line 1) */
	size_t n_lines;
};

struct cf_file_priv {
	struct cf_file pub;
	struct cf_src src;
	char *data;   /* owned copy of the text */
	size_t words; /* arguments, pairs and flags so far (CF_MAX_WORDS) */
};

static inline struct cf_file_priv *cf_priv(const struct cf_file *f)
{
	return (struct cf_file_priv *)f;
}

/* ---- unicode helpers (unicode.c) ---------------------------------------- */

void cf_utf8_put(struct nib_buf *b, uint32_t r);
bool cf_is_space(uint32_t r);  /* Go unicode.IsSpace */
bool cf_is_letter(uint32_t r); /* approximation of unicode.IsLetter */
bool cf_is_digit(uint32_t r);  /* unicode.IsDigit (decimal digits) */
/* Go's byte-as-rune IsSpace (flag lexer and HEALTHCHECK quirk). */
bool cf_is_space_byte(unsigned char c);

/* ---- words.c --------------------------------------------------------------*/

/* A growable vector of offsets. */
struct cf_offs {
	size_t *v;
	size_t len, cap;
};
void cf_offs_push(struct cf_offs *o, size_t off);

/* BuildKit's extractBuilderFlags: leading --flags of `line`; returns the
 * offset where the arguments start. */
size_t cf_split_flags(const char *line, struct nib_strv *flags, struct cf_offs *offs);
/* parseWords: split on white space, quotes and escapes kept in the words. */
void cf_parse_words(const char *s, char escape, struct nib_strv *out, struct cf_offs *offs);
/* Split on [\t\v\f\r ]+ (regexp Split semantics). */
void cf_split_ws(const char *s, struct nib_strv *out, struct cf_offs *offs);
/* parseJSON: 1 = a JSON array of strings (out filled), 0 = not JSON (fall
 * back), -1 = a JSON array with non-strings (an error). */
int cf_parse_json_array(const char *s, struct nib_strv *out);
/* Split a --mount value into its fields as Go's encoding/csv does (','
 * separates, "..." quotes with "" inside), appended to `out`; -1 on an
 * unterminated quote. */
int cf_csv_split(const char *s, struct nib_strv *out);

/* ---- nfa.c: a small Pike VM for shell and ignore patterns --------------- */

enum cf_op {
	CF_OP_CHAR,	/* one rune equal to c */
	CF_OP_ANY,	/* any rune but '\n' (regexp ".") */
	CF_OP_NOTSLASH, /* any rune but '/' (regexp "[^/]") */
	CF_OP_CLASS,	/* one rune in (or, negated, not in) ranges[x..x+y) */
	CF_OP_CLASS_NEG,
	CF_OP_SPLIT, /* try x first, then y */
	CF_OP_JMP,   /* go to x */
	CF_OP_MATCH,
};

struct cf_inst {
	enum cf_op op;
	uint32_t c;
	size_t x, y;
};

struct cf_nfa {
	struct cf_inst *v;
	size_t len, cap;
	uint32_t *ranges; /* lo, hi pairs */
	size_t n_ranges, cap_ranges;
};

size_t cf_nfa_emit(struct cf_nfa *p, enum cf_op op, uint32_t c, size_t x, size_t y);
void cf_nfa_free(struct cf_nfa *p);

/* Runes of a string with their byte offsets (offs[n] == strlen). */
struct cf_runes {
	uint32_t *r;
	size_t *offs;
	size_t n;
};
void cf_runes_init(struct cf_runes *rs, const char *s);
void cf_runes_free(struct cf_runes *rs);

/*
 * Leftmost-first search (Go regexp semantics) from rune `start`: anchored
 * tries only `start`; `full` accepts a match only at the end of the input.
 * Returns true with the match's rune span in *ms, *me.
 */
bool cf_nfa_find(const struct cf_nfa *p, const struct cf_runes *in, size_t start, bool anchored,
		 bool full, size_t *ms, size_t *me);

/* ---- expand.c ------------------------------------------------------------ */

/* Match a ${v#p}-style pattern anchored at the start of `value`; returns the
 * byte length matched or -1, or -2 for a bad pattern (message in err). */
int cf_pattern_prefix(const char *pattern, const char *value, bool greedy, size_t *matched,
		      struct nib_error *err);

/* ---- parse.c / instr.c -------------------------------------------------- */

/* ast_only: stop after the line parsers (BuildKit's parser.Parse), before
 * the instruction checks and stages (for tests against BuildKit's ASTs). */
struct cf_file *cf_parse_buffer_mode(const char *path, const char *data, size_t len, bool ast_only,
				     struct nib_error *err);

/* Byte offset in `original` -> physical line and 1-based column. */
void cf_instr_pos(const struct cf_instr *in, size_t off, int *line, int *col);
/* The same for ascending offsets, counting columns from the previous call
 * (linear over a long line instead of quadratic). */
struct cf_poscache {
	int line;
	size_t pb;
	int col;
};
void cf_instr_pos_next(const struct cf_instr *in, size_t off, int *line, int *col,
		       struct cf_poscache *pc);
int cf_instr_error(const struct cf_instr *in, struct nib_error *err, size_t off, const char *fmt,
		   ...) _printf_(4, 5);
/* The flag `name` (last one when repeated) of an instruction, or NULL. */
const struct cf_flag *cf_instr_flag(const struct cf_instr *in, const char *name);
/* A heredoc marker word ("<<EOF", "<<-'EOF'", "3<<X") and what it names. */
bool cf_heredoc_marker(const char *word, char **name, bool *chomp, bool *expand);
/* Check flags and arguments of a parsed instruction (BuildKit's
 * instructions.Parse). */
int cf_instr_check(struct cf_instr *in, struct nib_error *err);
void cf_instr_free(struct cf_instr *in);
/* Build the instruction for one logical line. */
struct cf_instr *cf_instr_new(struct cf_file *f, const char *line, struct cf_seg *segs,
			      size_t n_segs, size_t seg_base, struct nib_error *err);
/* Heredocs named on a line (BuildKit's heredocsFromLine). */
void cf_heredocs_from_line(const char *line, struct nib_strv *names, struct nib_buf *flags);
bool cf_instr_can_heredoc(const struct cf_instr *in);

/* Stage names -> index (open addressing; names are lower-case). */
struct cf_names {
	const char **keys;
	int *vals;
	size_t cap;
};
void cf_names_build(struct cf_names *m, const struct cf_file *f);
/* Index of the stage named `name` (compared as given), or -1. */
int cf_names_get(const struct cf_names *m, const char *name);
void cf_names_free(struct cf_names *m);

/* A stage's ARG/ENV scope while planning. */
struct cf_scope {
	struct nib_strv keys; /* in the order they were first set */
	struct nib_strv vals;
	size_t *tab; /* hash of keys: index + 1, 0 = empty */
	size_t cap;
};
void cf_scope_set(struct cf_scope *s, const char *key, const char *val);
const char *cf_scope_get(const struct cf_scope *s, const char *key);
void cf_scope_free(struct cf_scope *s);
const char *cf_scope_lookup(void *ud, const char *name);

/* ---- expandinstr.c ------------------------------------------------------- */

/*
 * Expand one instruction with `lookup` as Docker does at that step into
 * `st` (cleared first): words, kvs, flags and heredoc bodies. Instructions
 * Docker does not expand (RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK,
 * MAINTAINER, ONBUILD) get copies. Errors carry the file position.
 */
int cf_instr_expand(const struct cf_instr *in, cf_lookup_fn lookup, void *userdata,
		    struct cf_step *st, struct nib_error *err);
/* A new step for `in` (cleared first): flags and heredocs as written,
 * nothing else. */
void cf_step_init(struct cf_step *st, const struct cf_instr *in);
/* The expanded value of flag `name` (last one when repeated), or NULL. */
const struct cf_xflag *cf_step_flag(const struct cf_step *st, const char *name);

/* ---- steps.c: typed steps ------------------------------------------------- */

/* How a step names a stage (COPY --from, RUN --mount from=): resolve `ref`
 * to a stage index (>= 0), -1 for an image, or -2 with `err` set. */
typedef int (*cf_stage_ref_fn)(void *ctx, const struct cf_instr *in, const char *ref, size_t off,
			       struct nib_error *err);
/* Fill the typed part of an expanded step and check it (RUN mounts,
 * network and security; COPY/ADD sources, flags, --chmod, --checksum,
 * --exclude; HEALTHCHECK; EXPOSE). */
int cf_step_type(struct cf_step *st, cf_stage_ref_fn ref, void *ctx, struct nib_error *err);

#endif
