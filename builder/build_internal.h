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
 * namespace with the build's ID map. */
struct bld_ns {
	enum bld_idmap mode; /* resolved: host, subuid, single or none */
	void *idmap_ctx;     /* struct bld_idmap_ctx (runtime internal) */
	char *idmap_tag;     /* layer cache form tag */
	bool real_chown;     /* every owner can be set (real root): no records */
	/* none: how storage, working outside any namespace, maps container
	 * IDs to disk (0 -> the caller); unused (identity) otherwise */
	struct stg_idmap_range disk_uid, disk_gid;
	struct stg_idmap disk_map;
};
int bld_ns_init(struct bld_ns *ns, enum bld_idmap want, struct nib_error *err);
void bld_ns_free(struct bld_ns *ns);
/*
 * Run `work(arg)` where the build's files can be written: here (real root,
 * or no user namespace at all) or in a child in the build's user and mount
 * namespaces. `mount` (may be NULL) is a rootfs to mount in the child
 * before the work (a vfs one needs none); a failure to mount it, or to make
 * the namespaces, is NIB_ERR_ENV. `result_size` bytes at `result` come back
 * from the child, and so does its error.
 */
int bld_ns_exec(struct bld_ns *ns, struct stg_rootfs *mount, stg_work_fn work, void *arg,
		void *result, size_t result_size, struct nib_error *err);
/* stg_exec_fn over a struct bld_ns (storage's extraction and commits): no
 * mount. */
int bld_ns_storage_exec(void *ns, stg_work_fn work, void *arg, void *result, size_t result_size,
			struct nib_error *err);

struct bld_build;
struct reg_client;
struct reg_options;

/* One stage being executed. */
struct bld_stage {
	struct bld_build *b;
	const struct cf_stage *cs;
	struct cf_stage_steps steps; /* while it runs: its steps (cf_stage_bind) */
	struct stg_image_config *cfg;
	struct bld_layer *layers;
	size_t n_layers, cap_layers;
	char key[NIB_DIGEST_LEN + 1]; /* cache chain: identity of the state so far */
	struct nib_strv args;	      /* build args in scope: "K=V" */
	bool cmd_set;		      /* CMD given in this stage (ENTRYPOINT keeps it) */
	bool done;
	char *rootfs_dir; /* for COPY --from / local output: a materialised tree */
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
	int step;		   /* current step number (1-based) */
	int n_steps;		   /* steps in all needed stages */
	char *now;		   /* RFC 3339 creation time of new history entries */
	int64_t ts;		   /* --timestamp / SOURCE_DATE_EPOCH, or -1 */
	struct nib_strv tmp_dirs;  /* removed at the end */
	struct reg_client *rc;	   /* the build's registry client, made when first needed */
	const char *push_ref;	   /* the tag being pushed (its progress events) */
	const char *pull_ref;	   /* the image being pulled (its progress events) */
	bool silent;		   /* a --jobs child: no progress output */
	struct nib_buf quiet_tail; /* -q, tty: the running step's last output lines */
	struct bld_ssh_agent *ssh; /* --ssh's agents (builder/build_ssh.c) */
	size_t n_ssh;
};

/* builder/build_named.c: --build-context */

/* Each folder of a --build-context is one (before the first step). */
int bld_named_open(const struct bld_build_opts *o, struct nib_error *err);
/* The image `name` stands for: a docker-image:// or oci-layout:// build
 * context's, else `name` itself; NULL (a usage error) when `name` is a
 * folder's. */
char *bld_named_image(const struct bld_build_opts *o, const char *name, struct nib_error *err);
/* An fd of the folder of the build context `name`; -2 when `name` is no
 * folder's build context; -1 with `err`. */
int bld_named_dir(const struct bld_build_opts *o, const char *name, struct nib_error *err);

/* builder/build_ssh.c */

/* Check each --ssh and start an ssh-agent for those given key files. */
int bld_ssh_open(struct bld_build *b, struct nib_error *err);
/* The --ssh `id`, or NULL. */
const struct bld_ssh *bld_ssh_find(const struct bld_build_opts *o, const char *id);
/* The socket of the --ssh `id`, or NULL. */
const char *bld_ssh_socket(const struct bld_build *b, const char *id);
/* Stop the agents nib started; remove their folders. */
void bld_ssh_close(struct bld_build *b);

/* builder/build.c */

/* The rootfs of image `name` (pulled when missing) as one folder tree
 * under nib/tmp, for COPY --from and RUN --mount from= of an image. */
int bld_image_rootfs(struct bld_build *b, const char *name, char **dir, struct nib_error *err);
/* The rootfs of stage `index`, which the stage scheduler built before the
 * stage naming it (the graph's order). */
int bld_stage_rootfs(struct bld_build *b, int index, char **dir, struct nib_error *err);
/* SIGINT, SIGTERM or SIGHUP arrived during the build. */
bool bld_interrupted(void);
/* Pick the storage driver and the ID map (once, when first needed). */
int bld_build_env(struct bld_build *b, struct nib_error *err);
/* The build's registry client (--authfile, --creds, --cert-dir,
 * --tls-verify, --retry...): one for the pull of base images, --cache-from
 * / --cache-to and --push, made when first needed. */
int bld_build_client(struct bld_build *b, struct reg_client **out, struct nib_error *err);

/* builder/build_mount.c: RUN --mount */
struct bld_run_mounts;
/* The mounts of a RUN step: their cache-key material appended to `key`
 * (a bind of the context: its content's digest; of a stage: the stage's
 * key). */
int bld_mounts_key(struct bld_stage *s, const struct cf_step *step, struct nib_buf *key,
		   struct nib_error *err);
/* Make the host side of each mount (folders, secrets, copies, locks);
 * `out` and `n` receive the runtime's mount list. */
int bld_mounts_realise(struct bld_stage *s, const struct cf_step *step, struct bld_run_mounts **rm,
		       const struct bld_mount **out, size_t *n, struct nib_error *err);
/* The variables a realised step's mounts set ("NAME=value"): secrets'
 * env=, SSH_AUTH_SOCK. */
const struct nib_strv *bld_mounts_env(const struct bld_run_mounts *rm);
/* Release locks, remove temporary folders, wipe secrets, free. */
void bld_mounts_free(struct bld_run_mounts *rm);
/* The --secret a mount names, or NULL. */
const struct bld_secret *bld_secret_find(const struct bld_build_opts *o, const char *id);

/* builder/build_meta.c: one step; the metadata instructions */
int bld_step_exec(struct bld_stage *s, const struct cf_step *step, struct nib_error *err);
/* The WORKDIR that `w` sets after `cur` (config form). */
char *bld_workdir_join(const char *cur, const char *w);

/* builder/build_layer.c: the layer stack and the steps that make layers */
void bld_stage_history(struct bld_stage *s, const char *created_by, bool empty,
		       const char *created);
void bld_stage_add_layer(struct bld_stage *s, const struct stg_layer_out *l);
/* Make the stage's rootfs (all its layers) as one folder tree under
 * nib/tmp, for COPY --from and --output type=local. */
int bld_stage_materialise(struct bld_stage *s, char **out, struct nib_error *err);
/* A step without a layer: its history entry, its cache entry (a cached
 * step keeps its first creation time) and the state's key chained. */
void bld_meta_commit(struct bld_stage *s, const char *created_by);

/* What a step that changes files does over the rootfs. */
struct bld_layer_step {
	struct bld_stage *s;
	const struct cf_step *step;
	struct stg_rootfs *r;	 /* the assembled rootfs while run() runs */
	struct nib_strv exclude; /* paths kept out of the layer */
	int (*run)(struct bld_layer_step *ls, struct nib_error *err);
	/* COPY made in an empty tree (scratch, --link): work that fills
	 * r->target, run in the build's namespace */
	stg_work_fn fill;
	void *fill_arg;
	/* a COPY into an empty rootfs whose result no later step reads, or
	 * one small enough for memory with --link: made and committed in a
	 * private tmpfs */
	bool scratch;
	bool link;	  /* COPY/ADD --link: made in an empty folder, a layer of its own */
	bool independent; /* its key does not chain the stage's state (--link) */
};
/* Look the step's key up (key_text chained to the state) and on a miss
 * assemble the rootfs, run ls->run and commit the change as a layer. */
int bld_layer_step_exec(struct bld_layer_step *ls, const char *key_text, const char *created_by,
			struct nib_error *err);
void bld_layer_step_free(struct bld_layer_step *ls);
/* The rootfs the namespace mounts for work that needs the merged view: an
 * overlay one (a vfs tree is its own view), else NULL. */
struct stg_rootfs *bld_merged(const struct bld_build *b, struct stg_rootfs *r);

/* builder/build_run.c, build_copy.c: the families of layer steps */
int bld_step_run(struct bld_stage *s, const struct cf_step *step, struct nib_error *err);
int bld_step_copy(struct bld_stage *s, const struct cf_step *step, struct nib_error *err);
int bld_step_workdir(struct bld_stage *s, const struct cf_step *step, struct nib_error *err);

/* builder/build_key.c: cache keys, pure functions of a step's inputs */
/* Extend `key` with the given text: key = sha256(key "\n" text). */
void bld_key_chain(char key[NIB_DIGEST_LEN + 1], const char *text);
/* The identity of an empty stage for `arch` (FROM scratch). */
void bld_key_scratch(const char *arch, char out[NIB_DIGEST_LEN + 1]);
/* A layer step's key: the state's key (or "link" for a step that does not
 * depend on it), the step's text, the --timestamp (-1: none). */
void bld_key_step(const char *state, bool independent, const char *text, int64_t timestamp,
		  char out[NIB_DIGEST_LEN + 1]);
/* The state after a step that made the layer `diff_id`. */
void bld_key_layer(char state[NIB_DIGEST_LEN + 1], const char *diff_id);
/* What decides a RUN step's result. */
struct bld_key_run {
	char *const *argv;
	int network;				/* the build's --network */
	char *const *cap_add, *const *cap_drop; /* NULL-terminated or NULL */
	char *const *args;			/* build args in scope, "K=V" */
	const struct cf_step *step;		/* its flags but --mount */
	const char *mounts;			/* bld_mounts_key's text */
};
char *bld_key_run_text(const struct bld_key_run *k);
/* What decides a COPY/ADD step's result: the instruction after expansion
 * (URL credentials removed), WORKDIR, the sources' digest. */
char *bld_key_copy_text(const struct cf_step *step, const char *workdir, const char *sources);
char *bld_key_workdir_text(const char *dir, const char *user);

/* builder/build_cache.c: the local build cache, nib/cache/KEYHEX */
struct bld_cache_entry {
	bool has_layer;
	struct bld_layer layer;
	char created[64];
};
/* 1 hit (`e` filled, the layer's blob present), 0 miss. */
int bld_cache_get(struct bld_build *b, const char *key, struct bld_cache_entry *e);
void bld_cache_put(struct bld_build *b, const char *key, const struct bld_cache_entry *e);

/* builder/build_regcache.c: --cache-from / --cache-to */
/* 1 when a --cache-from repository has the step (its layer fetched into the
 * store, the entry copied into the local cache), else 0. */
int bld_regcache_get(struct bld_build *b, const char *key, struct bld_cache_entry *e);
/* Push the step's entry to --cache-to (failures are warnings). */
void bld_regcache_put(struct bld_build *b, const char *key, const struct bld_cache_entry *e);

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
/* Step `in` failed: with -q or the live display, print the output it had
 * hidden (stderr). */
void bld_log_step_failed(struct bld_build *b, const struct cf_instr *in,
			 const struct nib_error *err);
double bld_now(void);
/* An RFC 3339 UTC time for `t` seconds since the epoch. */
char *bld_rfc3339(int64_t t);

#endif
