/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builder/build*.c: the state of a build and the functions its files share
 * (stages, the layer stack, the build cache, the log). Internal to those
 * files; `nib build` itself goes through builder/build.h.
 */
#ifndef NIB_BUILDER_BUILD_INTERNAL_H
#define NIB_BUILDER_BUILD_INTERNAL_H

#ifndef BLD_BUILD_INTERNAL
#error "builder/build_internal.h is internal to builder/build*.c"
#endif

#include "builder/build.h"

/* A layer of the image being built. */
struct bld_layer {
	char digest[NIB_DIGEST_LEN + 1];
	char diff_id[NIB_DIGEST_LEN + 1];
	int64_t size;
	char *media_type;
};

/* Where storage work runs: in this process (root), or in a child in a user
 * namespace with the build's ID map (stg_exec_fn). */
struct bld_ns {
	enum bld_idmap mode; /* resolved: host, subuid, single or none */
	void *idmap_ctx;     /* struct bld_idmap_ctx (runtime internal) */
	char *idmap_tag;     /* layer cache form tag */
	bool real_chown;     /* every owner can be set (real root): no records */
	/* none: how storage, working outside any namespace, maps container
	 * IDs to disk (0 -> the caller); unused (identity) otherwise */
	struct stg_idmap_range disk_uid, disk_gid;
	struct stg_idmap disk_map;
	/* mount this rootfs (its driver) in the child before the work */
	struct stg_rootfs *mount;
};
int bld_ns_init(struct bld_ns *ns, enum bld_idmap want, struct nib_error *err);
void bld_ns_free(struct bld_ns *ns);
/* stg_exec_fn over a struct bld_ns. */
int bld_ns_exec(void *ctx, stg_work_fn work, void *arg, void *result, size_t result_size,
		struct nib_error *err);

struct bld_build;
struct reg_client;
struct reg_options;

/* One stage being executed. */
struct bld_stage {
	struct bld_build *b;
	const struct cf_stage *cs;
	struct stg_image_config *cfg;
	struct bld_layer *layers;
	size_t n_layers, cap_layers;
	size_t n_base_layers;	      /* layers FROM gave (--squash keeps them) */
	char key[NIB_DIGEST_LEN + 1]; /* cache chain: identity of the state so far */
	struct nib_strv args;	      /* build args in scope: "K=V" */
	struct nib_strv used_args;    /* "K=V" of args a RUN could see */
	bool cmd_set;		      /* CMD given in this stage (ENTRYPOINT keeps it) */
	bool done;
	char *image_id;	  /* when complete: the config digest of the stage's image */
	char *rootfs_dir; /* for COPY --from / local output: a materialised tree */
	int step_base;	  /* numbering of this stage's first step */
	char *last_created;
};

struct bld_build {
	struct stg_store *st;
	const struct bld_build_opts *o;
	struct cf_file *f;
	const struct stg_rootfs_driver *driver;
	struct bld_ns ns;
	struct stg_unpack_opts uo;
	int ctx_fd; /* the context folder */
	struct cf_ignore *ignore;
	struct bld_stage *stages;
	size_t n_stages;
	int step;		  /* current step number (1-based) */
	int n_steps;		  /* steps in all needed stages */
	char *now;		  /* RFC 3339 creation time of new history entries */
	int64_t ts;		  /* --timestamp / SOURCE_DATE_EPOCH, or -1 */
	struct nib_strv tmp_dirs; /* removed at the end */
	const char *cur_line_file;
	struct reg_client *rc;	   /* the registry cache's client, made when first needed */
	bool silent;		   /* a --jobs child: no progress output */
	struct nib_buf quiet_tail; /* -q: the running step's last output lines */
};

/* builder/build.c: the rootfs of a stage (built first when needed) or of
 * an image (pulled when missing) for COPY --from and RUN --mount from=. */
int bld_build_from_rootfs(struct bld_build *b, const char *name, char **dir, struct nib_error *err);

/* Build stage `index` and append its identity (cache key) to `key`. */
int bld_build_from_stage_key(struct bld_build *b, int index, struct nib_buf *key,
			     struct nib_error *err);

/* builder/build_mount.c: RUN --mount */
struct bld_run_mounts;
/* Parse the --mount flags of a RUN; append their cache-key material. */
int bld_mounts_parse(struct bld_stage *s, const struct cf_instr *in, struct bld_run_mounts **out,
		     struct nib_buf *key, struct nib_error *err);
/* Make the host side of each mount (folders, secrets, copies, locks);
 * `out` and `n` receive the runtime's mount list. */
int bld_mounts_realise(struct bld_stage *s, struct bld_run_mounts *rm, const struct bld_mount **out,
		       size_t *n, struct nib_error *err);
/* Release locks, remove temporary folders (secrets included), free. */
void bld_mounts_free(struct bld_run_mounts *rm);

/* SIGINT, SIGTERM or SIGHUP arrived during the build. */
bool bld_interrupted(void);

/* Pick the storage driver and the ID map (once, when first needed). */
int bld_build_env(struct bld_build *b, struct nib_error *err);

/* builder/build_step.c */
int bld_step_exec(struct bld_stage *s, struct cf_instr *in, struct nib_error *err);
/* Expansion lookup over the stage's args and ENV. */
const char *bld_stage_lookup(void *userdata, const char *name);
/* Make the stage's rootfs (all its layers) as one folder tree under
 * nib/tmp, for COPY --from and --output type=local. */
int bld_stage_materialise(struct bld_stage *s, char **out, struct nib_error *err);
void bld_stage_history(struct bld_stage *s, const char *created_by, bool empty,
		       const char *created);
void bld_stage_add_layer(struct bld_stage *s, const struct stg_layer_out *l);

/* builder/build_cache.c: the local build cache, nib/cache/KEYHEX */
struct bld_cache_entry {
	bool has_layer;
	struct bld_layer layer;
	char created[64];
};
/* Extend `key` with the given text: key = sha256(key "\n" text). */
void bld_cache_chain(char key[NIB_DIGEST_LEN + 1], const char *text);
/* 1 hit (`e` filled, the layer's blob present), 0 miss. */
int bld_cache_get(struct bld_build *b, const char *key, struct bld_cache_entry *e);
void bld_cache_put(struct bld_build *b, const char *key, const struct bld_cache_entry *e);

/* builder/build_regcache.c: --cache-from / --cache-to */
/* 1 when a --cache-from repository has the step (its layer fetched into the
 * store, the entry copied into the local cache), else 0. */
int bld_regcache_get(struct bld_build *b, const char *key, struct bld_cache_entry *e);
/* Push the step's entry to --cache-to (failures are warnings). */
void bld_regcache_put(struct bld_build *b, const char *key, const struct bld_cache_entry *e);
void bld_regcache_free(struct bld_build *b);

/* builder/build_owner.c: in single-UID mode, files a RUN step with a
 * non-root USER created get that user's ownership record. */
int bld_owner_fix(struct bld_build *b, struct stg_rootfs *r, const char *user,
		  const char *const *exclude, struct nib_error *err);

/* builder/build_log.c */
void bld_log_step(struct bld_build *b, struct bld_stage *s, const struct cf_instr *in);
void bld_log_step_end(struct bld_build *b, const struct cf_instr *in, double secs, bool cached,
		      const char *key);
void bld_log_layer(struct bld_build *b, const struct stg_layer_out *l);
void bld_log_line(void *ctx, enum bld_stream stream, const char *line, size_t len);
/* The step failed: with -q, print the output it had hidden (stderr). */
void bld_log_step_failed(struct bld_build *b, const struct nib_error *err);
double bld_now(void);
/* An RFC 3339 UTC time for `t` seconds since the epoch. */
char *bld_rfc3339(int64_t t);

/* The registry options of a build (--authfile, --creds, --cert-dir,
 * --tls-verify): one place for the pull of a base image, --cache-from /
 * --cache-to and --push. */
void bld_build_reg_options(const struct bld_build_opts *o, struct reg_options *ro);

#endif
