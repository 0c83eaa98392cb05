/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builder: the nib command line, build orchestration and the embedded
 * runtime. Nothing outside builder/ includes this header.
 */
#ifndef NIB_BUILDER_H
#define NIB_BUILDER_H

#include "common/common.h"

/* Options every command shares (given before the command name). */
struct bld_globals {
	char *root; /* --root, else NULL: storage picks its default (stg_root_default) */
	enum nib_log_level log_level;
	enum nib_log_format log_format;
	/* buildah's global --storage-driver (before the command): the build's
	 * driver unless `nib build --storage-driver` names one; NULL: auto */
	const char *storage_driver;
};

struct bld_command;
typedef int (*bld_command_fn)(const struct bld_command *self, int argc, char **argv,
			      struct bld_globals *g, struct nib_error *err);

struct bld_command {
	const char *name;
	bld_command_fn fn;
	const char *summary; /* one line for `nib --help` */
	const char *usage;   /* "nib parse [--json] FILE" */
	const char *help;    /* option list for `nib COMMAND --help` */
};

/* Print `nib COMMAND --help` to stdout. */
void bld_command_help(const struct bld_command *cmd);
/* Fill a usage error (exit status 2) for `cmd`; main prints the usage line. */
int bld_usage_error(const struct bld_command *cmd, struct nib_error *err, const char *fmt, ...)
    _printf_(3, 4);
/* Report an option getopt_long() refused ('?' or ':'); returns -1. */
int bld_bad_option(const struct bld_command *cmd, char **argv, struct nib_error *err);

/* A command's result line: `text` (a line on stdout) with --log-format
 * text, else one JSON event with the string fields given as NULL-ended
 * key, value pairs ({"event":EVENT,"KEY":"VALUE",...}). */
void bld_emit(const char *event, const char *text, ...) __attribute__((sentinel));

/* The command implementations, one file each (builder/cmd_NAME.c). */
int bld_cmd_build(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err);
int bld_cmd_pull(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		 struct nib_error *err);
int bld_cmd_push(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		 struct nib_error *err);
int bld_cmd_tag(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		struct nib_error *err);
int bld_cmd_rmi(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		struct nib_error *err);
int bld_cmd_images(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		   struct nib_error *err);
int bld_cmd_inspect(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		    struct nib_error *err);
int bld_cmd_login(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err);
int bld_cmd_logout(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		   struct nib_error *err);
int bld_cmd_parse(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err);
int bld_cmd_info(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		 struct nib_error *err);
int bld_cmd_run(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		struct nib_error *err);
int bld_cmd_prune(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err);
/* builder/serve/: the build service, and its client (nib build --remote
 * URL): sends the build, follows its log; 0 when it succeeded. */
struct bld_build_opts;
int bld_remote_build(const struct bld_build_opts *o, const char *url, const char *token_file,
		     struct nib_error *err);
int bld_cmd_serve(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err);

/* The example Containerfile `nib build --example` uses. */
extern const char bld_example_containerfile[];

/* Helpers the image commands share (builder/cmd_images.c). */
struct stg_store;
struct stg_image;
/* Open the storage root --root names, else the default (stg_root_default). */
int bld_store_open(const struct bld_globals *g, struct stg_store **out, struct nib_error *err);
/* Normalise a reference the way Docker does ("busybox" ->
 * "docker.io/library/busybox:latest"); NULL and a usage error when it is
 * malformed. */
char *bld_ref_normalise(const char *s, struct nib_error *err);
/* Find an image by what the user typed: as written first (full references,
 * bare names other tools wrote, IDs, digests), then normalised. */
int bld_image_find(struct stg_store *st, const char *name, struct stg_image **out,
		   struct nib_error *err);
/* "host/repo:tag" -> "host/repo" and "tag" ("<none>" for what is missing). */
void bld_ref_split(const char *ref, char **repo, char **tag);
/* "4.86 MB": decimal units, three significant digits, as buildah prints. */
char *bld_human_size(int64_t n);

#endif
