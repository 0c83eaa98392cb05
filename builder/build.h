/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builder/build: `nib build` orchestration. Internal to builder/.
 *
 * Parse, then plan, then execute: the Containerfile is parsed and planned by
 * containerfile/ (stages, build args, the target's closure); each needed
 * stage is then executed step by step over a state (the image config being
 * edited, the layer stack, the cache key chain). A step that changes files
 * (RUN, COPY, ADD, WORKDIR's folder) first looks its cache key up; only a
 * miss assembles a rootfs through the storage driver, runs the step and
 * commits the change as a layer blob.
 */
#ifndef NIB_BUILDER_BUILD_H
#define NIB_BUILDER_BUILD_H

#include "builder/runtime.h"
#include "common/common.h"
#include "containerfile/containerfile.h"
#include "registry/registry.h"
#include "storage/storage.h"

enum bld_pull_policy { BLD_PULL_MISSING = 0, BLD_PULL_ALWAYS, BLD_PULL_NEVER };

enum bld_output_type { BLD_OUT_OCI = 0, BLD_OUT_DOCKER_ARCHIVE, BLD_OUT_LOCAL, BLD_OUT_TAR };

struct bld_output {
	enum bld_output_type type;
	char *dest; /* "-" with type tar: `fd` */
	int fd;	    /* type=tar,dest=-: where the tar goes (nib's stdout) */
};

struct bld_secret {
	char *id;
	char *src; /* a file */
	char *env; /* or an environment variable */
};

/* A -v/--volume SRC:DST[:OPTIONS], bound into every RUN step. */
struct bld_volume {
	char *src, *dst; /* absolute host and container paths */
	bool ro;
	bool overlay; /* O: a throwaway copy, discarded after the step */
	bool chown;   /* U: the source chowned to the step's user */
	char relabel; /* 'z' (shared), 'Z' (private) or 0 */
};

/* Whether a --build-context NAME=VALUE is well formed (a usage error
 * otherwise). */
int bld_named_check(const char *kv, struct nib_error *err);
/* Fetch the git and http(s) --build-context values into folders under
 * `tmp_parent` (as builder/context.c fetches a build context) and make
 * them NAME=FOLDER; `f` keeps the folders until bld_named_fetched_free. */
struct bld_context;
struct bld_build_opts;
struct bld_named_fetched {
	struct bld_context *ctx;
	size_t n;
};
int bld_named_fetch(struct bld_build_opts *o, const char *tmp_parent, const struct reg_options *ro,
		    struct bld_named_fetched *f, struct nib_error *err);
void bld_named_fetched_free(struct bld_named_fetched *f);

/* An --ssh: the agent RUN --mount=type=ssh,id=ID forwards. */
struct bld_ssh {
	char *id;
	struct nib_strv paths; /* an agent's socket, or key files; none: $SSH_AUTH_SOCK */
};

/* What `nib build` was asked to do. */
struct bld_build_opts {
	const char *context;	    /* the context folder */
	const char *file;	    /* the Containerfile (NULL: CONTEXT/Containerfile|Dockerfile) */
	struct nib_strv tags;	    /* -t, as given */
	struct nib_strv build_args; /* "K=V" (K alone already resolved from the environment) */
	struct nib_strv labels;	    /* --label K=V */
	struct nib_strv annotations; /* --annotation K=V */
	const char *target;
	const char *platform; /* --platform */
	bool no_cache;
	bool layers; /* --layers (default true) */
	enum bld_pull_policy pull;
	enum stg_format format;
	const char *storage_driver; /* NULL: auto */
	enum bld_idmap idmap;
	/* RUN steps: auto (namespaces, else ptrace where no user namespace can
	 * be made), namespaces only, or ptrace */
	enum bld_isolation isolation;
	enum bld_network network;
	const char *iidfile, *digestfile;
	int64_t timestamp; /* -1: none */
	bool squash;	   /* --squash, --squash-all: one layer, the base's included */
	bool quiet;
	int jobs;
	bool push;
	struct bld_output *outputs;
	size_t n_outputs;
	struct bld_secret *secrets;
	size_t n_secrets;
	struct bld_ssh *ssh;
	size_t n_ssh;
	struct bld_volume *volumes;
	size_t n_volumes;
	struct nib_strv build_contexts; /* --build-context NAME=VALUE */
	struct nib_strv cache_from;
	const char *cache_to;
	int64_t cache_ttl; /* seconds; 0: no limit */
	/* --authfile, --creds, --cert-dir, --tls-verify, --retry, --retry-delay,
	 * --registries-conf (builder/regflags.c): the one registry client of the
	 * build (pull, --cache-from / --cache-to, --push) */
	struct reg_options reg;
	enum stg_compression compression;
	int compression_level; /* 0: the default */
	/* buildah bud's options */
	struct nib_strv env;		   /* --env "K=V": set in the image's config */
	struct nib_strv unsetenv;	   /* --unsetenv K: removed from the image's config */
	struct nib_strv cap_add, cap_drop; /* RUN's capabilities (runtime names) */
	/* --security-opt, --ulimit, --shm-size, --device: every RUN's */
	struct bld_security security;
	bool allow_insecure;	  /* --allow security.insecure: RUN --security=insecure */
	const char *ignorefile;	  /* --ignorefile: instead of the context's */
	bool run_stdin;		  /* --stdin: RUN reads nib's stdin */
	struct bld_limits limits; /* --pids-limit, --memory: each RUN step's */
	unsigned step_timeout;	  /* --step-timeout seconds (0: none) */
	unsigned timeout;	  /* --timeout seconds for the build (0: none) */
	bool omit_history;	  /* --omit-history */
	const char *from;	  /* --from: the first FROM's image instead */
	bool all_stages; /* --skip-unused-stages=false: the stages the target does not need too */
	const char *os_version;	     /* --os-version: the image's os.version */
	struct nib_strv os_features; /* --os-feature F (F-: removed) on the base's os.features */
	const char *logsplit;	     /* --logsplit: each platform's output to LOGSPLIT_OS_ARCH */
	bool http_proxy;	     /* pass the *_proxy variables to RUN (default true) */
	/* RUN's /etc/hosts and resolv.conf: --add-host, --dns, --dns-search,
	 * --dns-option, --no-hosts (struct bld_etc_opts) */
	struct nib_strv add_hosts, dns, dns_search, dns_options;
	bool no_hosts;
};
void bld_build_opts_init(struct bld_build_opts *o);
/* The RUN steps' /etc options of `o` (pointing into it). */
struct bld_etc_opts bld_build_etc(const struct bld_build_opts *o);
void bld_build_opts_free(struct bld_build_opts *o);

/* The build's result. */
struct bld_build_result {
	char image_id[NIB_DIGEST_LEN + 1];	  /* config digest */
	char manifest_digest[NIB_DIGEST_LEN + 1]; /* as stored */
};

/* Run the whole build into `st`. Errors name the Containerfile line, the
 * reference or the path; a failed RUN is NIB_ERR_RUN with its status. */
int bld_build_run(struct stg_store *st, const struct bld_build_opts *o,
		  struct bld_build_result *res, struct nib_error *err);

/* --logsplit (builder/build_multi.c): standard output and error of the
 * build for `platform` (NULL: the host's) go to BASE_OS_ARCH, as buildah
 * names it, until bld_logsplit_end puts back the `saved` ones and adds the
 * error line, if any, to the file. */
int bld_logsplit_begin(const char *base, const char *platform, int saved[2], struct nib_error *err);
void bld_logsplit_end(int saved[2], const struct nib_error *err);

/* builder/build_multi.c: the build once for each of `platforms` (or, with
 * `all`, each platform every base image offers), the images added to the
 * manifest list `manifest` (made when missing; may be NULL) and named by
 * every -t; pushed with --push. `res` gets the list's digest as both
 * manifest digest and image ID. */
int bld_build_platforms(struct stg_store *st, const struct bld_build_opts *o,
			const struct nib_strv *platforms, bool all, const char *manifest,
			struct bld_build_result *res, struct nib_error *err);

/* ---- nib build's option values (builder/cmd_build_opts.c) ---- */
struct bld_command;
int bld_opt_build_arg(const struct bld_command *self, struct bld_build_opts *o, const char *a,
		      struct nib_error *err);
int bld_opt_build_arg_file(const struct bld_command *self, struct bld_build_opts *o,
			   const char *path, struct nib_error *err);
int bld_opt_output(const struct bld_command *self, struct bld_build_opts *o, const char *s,
		   struct nib_error *err);
int bld_opt_env(struct bld_build_opts *o, const char *a, struct nib_error *err);
void bld_opt_list(struct nib_strv *sv, const char *a);
bool bld_opt_cap_known(const char *name);
char *bld_opt_platform(const char *platform, const char *os, const char *arch, const char *variant);
int bld_opt_file_stdin(char **dir, char **file, struct nib_error *err);
int bld_opt_secret(const struct bld_command *self, struct bld_build_opts *o, const char *s,
		   struct nib_error *err);
int bld_opt_volume(const struct bld_command *self, struct bld_build_opts *o, const char *s,
		   struct nib_error *err);
int bld_opt_ssh(const struct bld_command *self, struct bld_build_opts *o, const char *s,
		struct nib_error *err);
int bld_opt_ttl(const char *s, int64_t *out);

#endif
