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
 *                    expansion of every instruction Docker expands, then each
 *                    instruction as a typed step (struct cf_step: mounts,
 *                    network, sources, --chmod, --checksum, durations...),
 *                    every check, stage references as a graph, --target,
 *                    cycles. Variables the base image's ENV would set are
 *                    unknown here and expand as unset.
 *   cf_stage_bind()  at build time, once a stage's base image is known: the
 *                    stage's steps again with that image's ENV and ONBUILD
 *                    triggers. The builder executes these steps and never
 *                    reads instruction text or expands a word itself.
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
	int line, col; /* where the flag is written (1-based, columns in characters) */
	size_t off;    /* byte offset in the instruction's `original` (cf_instr_where) */
};

struct cf_heredoc {
	char *name;    /* the delimiter word, quotes removed */
	char *content; /* body lines, each with its newline; leading tabs removed for <<- */
	bool expand;   /* unquoted delimiter: Docker expands the body (COPY/ADD) */
	bool chomp;    /* <<- */
	unsigned fd;   /* 3<<EOF */
	int line;      /* line of the first body line */
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

	/* internal: logical offset -> physical line/column */
	struct cf_seg *segs;
	size_t n_segs;
	size_t seg_base; /* offset of `original` inside the segments' line */
	struct cf_file *file;
};

/* ---- the typed plan: what each instruction does, after expansion --------- */

enum cf_mount_type {
	CF_MOUNT_BIND = 0, /* a path of the context, or of a stage or image (from=) */
	CF_MOUNT_CACHE,	   /* a folder kept between builds, by id */
	CF_MOUNT_TMPFS,	   /* an empty tmpfs */
	CF_MOUNT_SECRET,   /* a --secret of the build, by id */
	CF_MOUNT_SSH,	   /* an SSH agent socket (BuildKit's; nib has no --ssh) */
};
enum cf_mount_sharing { CF_SHARING_SHARED = 0, CF_SHARING_PRIVATE, CF_SHARING_LOCKED };

/* Which keys a --mount value may use: a Containerfile's RUN --mount
 * (BuildKit's keys, then buildah's: SELinux relabeling, propagation, tmpfs
 * options, accepted and ignored), or `nib run --mount` (type bind or tmpfs,
 * source, target, readonly, rw; the target absolute, a bind's source
 * given). */
enum cf_mount_dialect { CF_MOUNT_DOCKERFILE = 0, CF_MOUNT_RUNTIME };

/* One --mount value. */
struct cf_mount {
	enum cf_mount_type type; /* default bind */
	char *target;		 /* as written (relative: to WORKDIR); NULL when not given */
	char *source;		 /* as written; NULL when not given */
	char *from;		 /* a stage or image; NULL: none (from= empty is none) */
	int from_stage;		 /* the stage `from` names, or -1 (an image); set by the plan */
	char *id;		 /* NULL when not given */
	enum cf_mount_sharing sharing;
	bool readonly; /* ro/readonly true */
	bool rw;       /* rw/readwrite true */
	bool required;
	long uid, gid, mode; /* -1 when not given */
	uint64_t size;	     /* tmpfs: size= or tmpfs-size= in bytes; 0 when not given */
	char *env;	     /* secret: env=, the variable the RUN gets it in; NULL: none */
	int line, col;	     /* where the --mount is written (set by the plan) */
};
/*
 * Parse a --mount value: fields split as Go's encoding/csv does (',' between
 * fields, "..." quotes with "" inside), keys case-insensitive (but buildah's
 * z, Z and U), bare boolean keys true. Errors (NIB_ERR_SYNTAX) name the key
 * or value, without a position: the caller adds it ("RUN: ", "--mount: ").
 */
int cf_mount_parse(const char *spec, enum cf_mount_dialect dialect, struct cf_mount *m,
		   struct nib_error *err);
void cf_mount_clear(struct cf_mount *m);

/* COPY/ADD --chmod: octal (at most 07777) or symbolic (chmod(1) and
 * BuildKit: comma-separated [ugoa]*([-+=]([rwxXst]*|[ugo]))+). */
struct cf_chmod {
	bool set;
	bool symbolic;
	mode_t mode;   /* octal form */
	char *clauses; /* symbolic form */
};
int cf_chmod_parse(const char *s, struct cf_chmod *out, struct nib_error *err);
/* The mode an entry of mode `mode` gets (07777 bits). */
mode_t cf_chmod_apply(const struct cf_chmod *c, mode_t mode, bool is_dir);
void cf_chmod_clear(struct cf_chmod *c);

enum cf_network { CF_NETWORK_UNSET = 0, CF_NETWORK_DEFAULT, CF_NETWORK_NONE, CF_NETWORK_HOST };
enum cf_security { CF_SECURITY_UNSET = 0, CF_SECURITY_SANDBOX, CF_SECURITY_INSECURE };

/* RUN */
struct cf_run {
	struct cf_mount *mounts; /* every --mount, in order */
	size_t n_mounts;
	enum cf_network network;
	enum cf_security security;
	/* shell form: the text the shell gets (the command line, or with
	 * heredocs: `RUN <<EOF` the heredoc itself, else the line followed by
	 * each heredoc and its delimiter, as a shell reads them); exec form:
	 * NULL, the command is the step's words */
	char *script;
};

/* A heredoc used as a COPY/ADD source (`COPY <<NAME /dst`). */
struct cf_copy_heredoc {
	const char *name; /* the file name it gets */
	const char *data; /* its content, expanded when Docker expands it */
};

/* COPY and ADD */
struct cf_copy {
	struct nib_strv srcs; /* sources after expansion, heredocs left out */
	struct cf_copy_heredoc *heredocs;
	size_t n_heredocs;
	const char *dest;  /* the last word */
	const char *from;  /* --from (not empty), NULL: the context */
	int from_stage;	   /* the stage --from names, or -1 (an image, or none) */
	const char *chown; /* --chown (not empty), or NULL */
	struct cf_chmod chmod;
	const char *checksum;	  /* ADD --checksum: "sha256:" and 64 hex digits, or NULL */
	struct nib_strv excludes; /* --exclude patterns, checked */
	bool link, parents, keep_git_dir;
	bool unpack; /* ADD: extract local archives (--unpack, default true) */
};

/* HEALTHCHECK (durations in nanoseconds, 0 when not given) */
struct cf_healthcheck {
	bool none;	      /* HEALTHCHECK NONE */
	struct nib_strv test; /* ["CMD", argv...] or ["CMD-SHELL", line] or ["NONE"] */
	int64_t interval, timeout, start_period, start_interval;
	int64_t retries; /* 0 when not given */
};

/* A flag after expansion (Docker expands COPY/ADD's and RUN --mount). */
struct cf_xflag {
	const char *name; /* the instruction's flag name */
	char *value;
	int line, col;
};

/*
 * One instruction as the builder executes it. `words`, `kvs`, `flags` and
 * `heredocs` are what was written after Docker's expansion (what the
 * image's history and the build cache key show); the typed fields are what
 * the step does.
 */
struct cf_step {
	const struct cf_instr *in; /* what was written: kind, line, original text */
	bool expanded;
	/* args after expansion where Docker expands, else as written; ENV,
	 * LABEL and ARG as "KEY=VALUE" ("KEY": an ARG without value) */
	struct nib_strv words;
	struct cf_kv *kvs; /* ENV, LABEL, ARG: keys and values after expansion (ARG:
			    * the value the build gives it, NULL for none) */
	size_t n_kvs;
	struct cf_xflag *flags; /* every flag, in written order */
	size_t n_flags;
	char **heredocs; /* per in->heredocs: the body (COPY/ADD: after expansion) */
	size_t xbytes;	 /* internal: expanded text held, counted in the file's */

	struct cf_run run;	      /* RUN */
	struct cf_copy copy;	      /* COPY, ADD */
	struct cf_healthcheck health; /* HEALTHCHECK */
	struct nib_strv ports;	      /* EXPOSE: "PORT[-PORT]/proto", proto lower-case */
};
void cf_step_clear(struct cf_step *st);

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
	/* cf_file_plan(): instrs[i] as a typed step (the base image's ENV
	 * unknown); at build time cf_stage_bind() gives the ones to execute */
	struct cf_step *steps;
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
	const char *first_from;	       /* the first FROM's image instead (--from), or NULL */
	bool all_stages; /* every stage up to the target is needed (--skip-unused-stages=false) */
};

/*
 * Resolve what Docker resolves before building: predefined platform ARGs,
 * global ARGs with the build args, each FROM's base and platform, every
 * stage's ARG/ENV scope (ENV wins over ARG) and the expansion of each
 * instruction Docker expands (variables the base image would define are
 * unknown here and expand as unset), each instruction as a typed step
 * (stage->steps) with every check, stage references, the target and its
 * closure, and cycles. Errors are NIB_ERR_SYNTAX "PATH:LINE:COL: ..." (a
 * --target that names no stage: NIB_ERR_USAGE).
 */
int cf_file_plan(struct cf_file *f, const struct cf_plan_opts *opts, struct nib_error *err);

/* The steps of one stage as the builder executes them. */
struct cf_stage_steps {
	struct cf_step *v;
	size_t n;
	size_t n_triggers; /* the first n_triggers: the base image's ONBUILD triggers */
	struct cf_file **trigger_files; /* internal: what the trigger steps point into */
};
/*
 * The steps of planned stage `stage` once its base is known: `env` is the
 * stage's ENV after FROM (the base image's, or the base stage's), `triggers`
 * the base image's ONBUILD triggers (NULL-terminated, may be NULL), run
 * right after FROM. Every instruction is expanded again with that ENV, ARG
 * values stay what cf_file_plan() gave them, and every check runs again. A
 * bad trigger is "PATH:LINE: ONBUILD trigger of the base image: ...".
 */
int cf_stage_bind(struct cf_file *f, int stage, char *const *env, char *const *triggers,
		  struct cf_stage_steps *out, struct nib_error *err);
void cf_stage_steps_free(struct cf_stage_steps *s);

/* Format a syntax error at `line`:`col` of `f` (returns -1). */
int cf_file_error(const struct cf_file *f, struct nib_error *err, int line, int col,
		  const char *fmt, ...) _printf_(5, 6);

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

/* Line and column (1-based, in characters) of a byte offset in the
 * instruction's `original`, e.g. a flag's `off`. */
void cf_instr_where(const struct cf_instr *in, size_t off, int *line, int *col);

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
