/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: the Containerfile (Dockerfile) reader. It follows BuildKit's
 * `dockerfile:1` frontend: parser directives, escape token, continuations,
 * JSON exec form with Docker's fallback to shell form, heredocs, BuildKit's
 * shell-word expansion and its ARG/ENV scoping, stages and their graph, and
 * the .containerignore/.dockerignore matcher.
 *
 * Everything here is a pure function of its inputs (only cf_parse_file and
 * cf_ignore_load read a file); nothing prints.
 *
 * Life of a Containerfile:
 *   cf_parse_file()  syntax: instructions with positions, raw words, flags,
 *                    heredocs, stages (no expansion yet)
 *   cf_file_plan()   build args, predefined platform args, global ARG scope,
 *                    parse-time expansion of every instruction Docker expands,
 *                    stage references, --target, cycles
 * The builder re-expands each step itself with cf_instr_expand() and the real
 * environment of that step (the base image's ENV is only known at build time).
 */
#ifndef NIB_CONTAINERFILE_H
#define NIB_CONTAINERFILE_H

#include "common/common.h"

/* Files above this size are refused (Docker itself reads lines of at most
 * 64 KiB; nib reads lines of any length up to the file limit). With the two
 * limits below they bound the memory a Containerfile can make nib use to a
 * few hundred MiB. */
#define CF_MAX_FILE_SIZE ((size_t)16 << 20)
/* At most this many bytes in a .containerignore / .dockerignore. */
#define CF_MAX_IGNORE_SIZE ((size_t)16 << 20)
/* At most this many instructions (Docker stops at 127 layers much earlier). */
#define CF_MAX_INSTRUCTIONS 50000
/* At most this many arguments, pairs and flags in the whole file. */
#define CF_MAX_WORDS 500000
/* Deepest ${...} nesting the expander accepts. */
#define CF_MAX_EXPAND_DEPTH 64
/* An expanded word may be at most this much longer than the word as
 * written ("ENV a=$a$a" doubles a value per line). */
#define CF_MAX_EXPAND_SIZE ((size_t)1 << 20)
/* At most this much expanded text held by all instructions of one file. */
#define CF_MAX_EXPAND_TOTAL ((size_t)64 << 20)

enum cf_kind {
	CF_ADD = 0,
	CF_ARG,
	CF_CMD,
	CF_COPY,
	CF_ENTRYPOINT,
	CF_ENV,
	CF_EXPOSE,
	CF_FROM,
	CF_HEALTHCHECK,
	CF_LABEL,
	CF_MAINTAINER,
	CF_ONBUILD,
	CF_RUN,
	CF_SHELL,
	CF_STOPSIGNAL,
	CF_USER,
	CF_VOLUME,
	CF_WORKDIR,
	CF_KIND_COUNT,
};

/* "RUN" for CF_RUN. */
const char *cf_kind_name(enum cf_kind kind);
/* The kind for a keyword (case-insensitive), or -1. */
int cf_kind_from_name(const char *keyword);

struct cf_flag {
	char *name;    /* without the leading "--" */
	char *value;   /* as written (the flag lexer removes quotes); "true" for a bare bool */
	char *xvalue;  /* after expansion for flags Docker expands, else a copy of value */
	int line, col; /* where the flag is written (1-based, columns in characters) */
	size_t off;    /* byte offset in the instruction's `original` (cf_instr_where) */
};

struct cf_heredoc {
	char *name;	/* the delimiter word, quotes removed */
	char *content;	/* body lines, each with its newline; leading tabs removed for <<- */
	char *xcontent; /* COPY/ADD with expand: after expansion; else a copy of content */
	bool expand;	/* unquoted delimiter: Docker expands the body */
	bool chomp;	/* <<- */
	unsigned fd;	/* 3<<EOF */
	int line;	/* line of the first body line */
};

struct cf_kv {
	char *key;
	char *value; /* NULL: ARG without a default */
};

struct cf_instr {
	enum cf_kind kind;
	char *keyword;	/* as written */
	int line, col;	/* the keyword; 1-based, columns in characters */
	int end_line;	/* last line, heredoc bodies included */
	char *original; /* the logical line: continuations joined, comments dropped */

	struct cf_flag *flags;
	size_t n_flags;

	/* Raw words as Docker's parser gives them: JSON elements for exec form,
	 * the single command string for shell form (RUN CMD ENTRYPOINT SHELL),
	 * whitespace-separated words (FROM ADD COPY EXPOSE VOLUME), the
	 * parse-words of ARG, "KEY=VALUE" for ENV and LABEL, the rest of the line
	 * for MAINTAINER USER WORKDIR STOPSIGNAL, [TYPE, cmd...] for HEALTHCHECK,
	 * [trigger text] for ONBUILD. */
	struct nib_strv args;
	int *arg_offs; /* byte offset of each arg in `original`, for error columns */
	bool exec_form;
	bool legacy_kv; /* ENV/LABEL written "KEY value" (no '=') */

	struct cf_kv *kvs; /* ENV, LABEL, ARG: raw keys and values */
	size_t n_kvs;

	struct cf_heredoc *heredocs;
	size_t n_heredocs;

	struct cf_instr *trigger; /* ONBUILD: the instruction it registers */

	/* Filled by cf_instr_expand() (cf_file_plan() calls it with the
	 * parse-time scope): args after expansion where Docker expands, else a
	 * copy of args; ENV/LABEL/ARG as "KEY=VALUE" (ARG without value: "KEY"). */
	struct nib_strv xargs;
	struct cf_kv *xkvs;
	size_t n_xkvs;
	bool expanded;

	/* internal: logical offset -> physical line/column */
	struct cf_seg *segs;
	size_t n_segs;
	size_t seg_base; /* offset of `original` inside the segments' line */
	struct cf_file *file;
	size_t xbytes; /* internal: bytes of expanded text, counted in file->xbytes */
};

struct cf_stage {
	int index;
	char *name; /* lower-cased AS name, or NULL */
	struct cf_instr *from;
	char *base;		  /* FROM's image word after expansion with the global ARGs */
	char *platform;		  /* FROM --platform after expansion, or NULL */
	int base_stage;		  /* index of the earlier stage FROM names, or -1 */
	struct cf_instr **instrs; /* the instructions after FROM */
	size_t n_instrs;
	int *deps; /* stages this one needs: FROM, COPY --from, RUN --mount from= */
	size_t n_deps;
	bool needed; /* in the closure of the target stage */
	/* planned scope at the end of the stage (ENV only, what a child stage
	 * that names this one in FROM inherits) */
	struct nib_strv env;
};

struct cf_file {
	char *path;
	char escape;		  /* '\\' or '`' */
	char *syntax;		  /* # syntax= */
	char *check;		  /* # check= */
	struct cf_instr **instrs; /* every instruction in file order */
	size_t n_instrs;
	struct cf_instr **meta; /* ARG instructions before the first FROM */
	size_t n_meta;
	struct cf_stage *stages;
	size_t n_stages;

	/* cf_file_plan() results */
	bool planned;
	int target;		       /* index of the target stage */
	struct nib_strv meta_args;     /* global ARGs after build args: "K=V" or "K" */
	struct nib_strv build_args;    /* --build-arg K=V as given */
	struct nib_strv unused_args;   /* build args no ARG consumed */
	struct nib_strv platform_args; /* TARGETPLATFORM=... BUILDARCH=... */

	size_t xbytes; /* internal: expanded text all instructions hold (CF_MAX_EXPAND_TOTAL) */
};

/*
 * Parse a Containerfile held in memory. `path` only names it in messages.
 * Syntax errors are NIB_ERR_SYNTAX with "PATH:LINE:COL: what\n    line".
 */
struct cf_file *cf_parse_buffer(const char *path, const char *data, size_t len,
				struct nib_error *err);
/* Read (at most CF_MAX_FILE_SIZE bytes) and parse a Containerfile. */
struct cf_file *cf_parse_file(const char *path, struct nib_error *err);
void cf_file_free(struct cf_file *f);
NIB_DEFINE_CLEANUP(struct cf_file *, cf_file_free)

/*
 * Parse one ONBUILD trigger of a base image's config (the trigger's text as
 * Docker stores it, e.g. "RUN make") as the one instruction after "FROM
 * scratch" of a file named "ONBUILD". Refused as Docker refuses them when
 * they run: anything but exactly one instruction, and ONBUILD, FROM and
 * MAINTAINER triggers (NIB_ERR_SYNTAX, "ONBUILD:2:COL: ..."). On success
 * *in is the trigger, owned by the returned file.
 */
struct cf_file *cf_trigger_parse(const char *trigger, struct cf_instr **in, struct nib_error *err);

struct cf_plan_opts {
	const char *const *build_args; /* "K=V" (NULL-terminated, may be NULL) */
	const char *target;	       /* --target, or NULL for the last stage */
	const char *target_platform;   /* "os/arch[/variant]", NULL: the host */
	const char *build_platform;    /* NULL: the host */
};

/*
 * Resolve what Docker resolves before building: predefined platform ARGs,
 * global ARGs with the build args, each FROM's base and platform, every
 * stage's ARG/ENV scope and the expansion of each instruction Docker expands
 * (variables the base image would define are unknown here and expand as
 * unset), stage references, the target and its closure, and cycles.
 */
int cf_file_plan(struct cf_file *f, const struct cf_plan_opts *opts, struct nib_error *err);

/* Format a syntax error at `line`:`col` of `f` (returns -1). */
int cf_file_error(const struct cf_file *f, struct nib_error *err, int line, int col,
		  const char *fmt, ...) _printf_(5, 6);

/* Split a RUN --mount value into its fields as Go's encoding/csv does
 * (',' separates, "..." quotes with "" inside), appended to `out`; -1 on an
 * unterminated quote. */
int cf_csv_split(const char *s, struct nib_strv *out);

/* ---- expansion (BuildKit's shell lexer) -------------------------------- */

/* Look a variable up: return its value (borrowed until the next call) or
 * NULL when unset. */
typedef const char *(*cf_lookup_fn)(void *userdata, const char *name);

enum cf_expand_flags {
	CF_EXPAND_RAW_QUOTES = 1 << 0,	/* keep quote characters */
	CF_EXPAND_RAW_ESCAPES = 1 << 1, /* keep escape characters */
	CF_EXPAND_NO_QUOTES = 1 << 2,	/* quotes are ordinary characters (heredoc bodies) */
	CF_EXPAND_KEEP_UNSET = 1 << 3,	/* leave unset variables as written */
};

/*
 * Expand one word the way Docker does for ENV, COPY, WORKDIR...: quotes
 * removed, escapes applied, $v ${v} ${v:-w} ${v-w} ${v:+w} ${v+w} ${v:?m}
 * ${v?m} ${v#p} ${v##p} ${v%p} ${v%%p} ${v/p/r} ${v//p/r}. `escape` is the
 * file's escape token. On error returns -1 with a message (no position).
 */
int cf_expand_word(const char *word, char escape, unsigned flags, cf_lookup_fn lookup,
		   void *userdata, char **out, struct nib_error *err);
/* Same, then split into words on unquoted white space (EXPOSE, heredoc
 * detection). */
int cf_expand_words(const char *word, char escape, unsigned flags, cf_lookup_fn lookup,
		    void *userdata, struct nib_strv *out, struct nib_error *err);

/*
 * Expand one instruction with `lookup` as Docker does at that step: fills
 * in->xargs, in->xkvs, flags' xvalue and heredocs' xcontent. Instructions
 * Docker does not expand (RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK,
 * MAINTAINER, ONBUILD) get copies. Errors carry the file position.
 */
int cf_instr_expand(struct cf_instr *in, cf_lookup_fn lookup, void *userdata,
		    struct nib_error *err);

/* Line and column (1-based, in characters) of a byte offset in the
 * instruction's `original`, e.g. a flag's `off`. */
void cf_instr_where(const struct cf_instr *in, size_t off, int *line, int *col);
/* The flag `name` (last one when repeated) of an instruction, or NULL. */
const struct cf_flag *cf_instr_flag(const struct cf_instr *in, const char *name);
/* A heredoc marker word ("<<EOF", "<<-'EOF'", "3<<X") and what it names. */
bool cf_heredoc_marker(const char *word, char **name, bool *chomp, bool *expand);

/* Build args Docker passes to RUN without an ARG (HTTP_PROXY...). */
bool cf_arg_is_proxy(const char *name);
/* The value of a global ARG after planning; NULL when unset or unknown. */
const char *cf_file_meta_arg(const struct cf_file *f, const char *name);
/* The stage with this name (case-insensitive) or numeric index, or NULL. */
const struct cf_stage *cf_file_stage(const struct cf_file *f, const char *name_or_index);

/* The planned file as one JSON object (see nib-parse(1)). Needs cf_file_plan. */
char *cf_file_json(const struct cf_file *f);
/* A human-readable plan: stages, then each instruction with its line. */
char *cf_file_text(const struct cf_file *f);

/* ---- .containerignore / .dockerignore ----------------------------------- */

struct cf_ignore;

/* Go's filepath.Match: 1 match, 0 no match, -1 bad pattern. */
int cf_path_match(const char *pattern, const char *name);

/* Patterns as a .dockerignore lists them (comments, blank lines, "!",
 * leading "/", path cleaning as Docker's reader does). */
struct cf_ignore *cf_ignore_parse(const char *data, size_t len, struct nib_error *err);
/* Patterns given one by one, without the file reader's normalisation. */
struct cf_ignore *cf_ignore_new(const char *const *patterns, size_t n, struct nib_error *err);
/* The same for the file NAME: errors are "NAME:LINE: ..." and never quote
 * the file's content. */
struct cf_ignore *cf_ignore_parse_file(const char *name, const char *data, size_t len,
				       struct nib_error *err);
/* Read an ignore file; a missing file gives an empty matcher. */
struct cf_ignore *cf_ignore_load(const char *path, struct nib_error *err);
void cf_ignore_free(struct cf_ignore *ig);
NIB_DEFINE_CLEANUP(struct cf_ignore *, cf_ignore_free)
/* True when the context-relative path is excluded, itself or through a
 * parent folder (moby/patternmatcher MatchesOrParentMatches). */
bool cf_ignore_match(const struct cf_ignore *ig, const char *path);
/* The older Matches() semantics (parent folders only as deep as the pattern). */
bool cf_ignore_match_legacy(const struct cf_ignore *ig, const char *path);
/* True when some "!" pattern exists (callers cannot skip whole folders). */
bool cf_ignore_has_exclusions(const struct cf_ignore *ig);
size_t cf_ignore_count(const struct cf_ignore *ig);

/*
 * The ignore file for a build: "<containerfile>.containerignore" or
 * "<containerfile>.dockerignore" beside the Containerfile first, then
 * CONTEXT/.containerignore, then CONTEXT/.dockerignore. Returns a new path,
 * or NULL when none exists.
 */
char *cf_ignore_file_for(const char *containerfile, const char *context_dir);

/*
 * Find, read and parse a build's Containerfile and ignore file. `ctxfd` is
 * the build context `context` (a folder); `file` is -f (NULL: Containerfile,
 * else Dockerfile, in the context). A Containerfile in the context (the
 * default, or an -f path lexically below `context`) and every ignore file
 * looked up in it ("<containerfile>.containerignore", ".dockerignore", then
 * the context's) are opened inside the context (symlinks resolve against
 * it) and only as regular files of at most CF_MAX_FILE_SIZE /
 * CF_MAX_IGNORE_SIZE bytes; an -f outside the context is read as named.
 * Sets *cf_path (the Containerfile's name for messages), *f, *ig (NULL when
 * there is no ignore file) and, when ig_path is not NULL, *ig_path.
 */
int cf_build_files_load(int ctxfd, const char *context, const char *file, char **cf_path,
			struct cf_file **f, struct cf_ignore **ig, char **ig_path,
			struct nib_error *err);

#endif
