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
int bld_cmd_manifest(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
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

/* Image transports (builder/transport.c). */
enum bld_transport {
	BLD_TRANSPORT_DOCKER = 0, /* a registry: docker://REF or a plain reference */
	BLD_TRANSPORT_OCI,	  /* oci:DIR[:TAG] */
	BLD_TRANSPORT_OCI_ARCHIVE,
	BLD_TRANSPORT_DOCKER_ARCHIVE,
};
/* Which transport `s` names; a transport nib does not read (dir:,
 * containers-storage:, ...) or an unknown SCHEME:// is a usage error. */
int bld_transport_kind(const char *s, struct nib_error *err);
struct stg_platform;
/* Store the image a local transport names (checked as storage/import.c
 * says), tag it under the name podman would give it (`name`, may be NULL:
 * that name or NULL when untagged) and load it for `want` (NULL: host). */
int bld_transport_pull(struct stg_store *st, const char *s, const struct stg_platform *want,
		       struct stg_image **out, char **name, struct nib_error *err);

/* Platforms in builds (builder/platform.c). */
/* `platform` parsed ("os/arch[/variant]"; NULL or "": the host). */
int bld_platform_want(const char *platform, struct stg_platform *out, struct nib_error *err);
/* --platform "a,b": each item checked and normalised onto `out`; empty
 * items and repeats are usage errors. */
int bld_platform_list(const char *s, struct nib_strv *out, struct nib_error *err);
/* Whether the image `img` is for `want`: when not, an error when the
 * platform was `asked` for (--platform, FROM --platform), else buildah's
 * warning. `what` names the base in messages. */
int bld_platform_check(const struct stg_image *img, const struct stg_platform *want, bool asked,
		       const char *what, struct nib_error *err);
/* Whether this host's CPU runs `arch` (an OCI architecture) itself. */
bool bld_platform_native(const char *arch);
/* Before RUN for `arch` (`ptrace`: through the ptrace isolation): 0 native
 * (or binfmt_misc not visible: the kernel is asked by the exec itself), 1
 * emulated by a registered and enabled qemu-user-static entry, -1
 * (NIB_ERR_ENV, one line naming the platform and what to install) when
 * binfmt_misc shows no usable entry, or when RUN would go through the
 * ptrace isolation (which does not trace qemu). */
int bld_platform_emulated(const char *arch, bool ptrace, struct nib_error *err);
/* A RUN that failed with "Exec format error" for a foreign `arch`: say
 * what the host lacks in front of the message. */
void bld_platform_explain_exec(const char *arch, struct nib_error *err);

/* Manifest lists in the store (builder/cmd_manifest.c), for nib manifest
 * and nib build --manifest. */
struct stg_index;
struct stg_map;
/* The list `name` (an index entry of the store); with `create` a new empty
 * OCI index when there is none. `ref` (may be NULL) gets the name to save
 * it under (the normalised reference, or the digest of an untagged list).
 * An image that is not a list is a usage error. */
int bld_list_load(struct stg_store *st, const char *name, bool create, struct stg_index **out,
		  char **ref, struct nib_error *err);
/* Add image `img` (its stored manifest) with the platform of its config,
 * each field `platform` gives overriding it (may be NULL), and
 * `annotations` (may be NULL). An entry for the same manifest is replaced;
 * with `replace_platform` also one for the same os/arch/variant. -1 when
 * the list is full. */
int bld_list_add(struct stg_index *ix, const struct stg_image *img,
		 const struct stg_platform *platform, const struct stg_map *annotations,
		 bool replace_platform);
/* Store the list and name it `refs` (none: untagged). */
int bld_list_save(struct stg_store *st, const struct stg_index *ix, const char *const *refs,
		  size_t n_refs, char out[NIB_DIGEST_LEN + 1], struct nib_error *err);

#endif
