/* SPDX-License-Identifier: Apache-2.0 */
#ifndef BLD_SERVE_INTERNAL
#error "builder/serve/serve_internal.h is internal to nib serve (builder/serve/)"
#endif

/*
 * nib serve: the build service. One process: libmicrohttpd threads answer
 * the API (serve_http.c, serve_api.c), SQLite keeps the builds
 * (serve_db.c), a job thread per running build runs it as its own nib
 * process and follows it (serve_jobs.c). docs/serve.md is the user's side.
 */
#ifndef NIB_SERVE_INTERNAL_H
#define NIB_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#include "builder/builder.h"

/* ---- tenants (serve_tenants.c) ------------------------------------------ */

struct bld_srv_tenant {
	char *name;
	char token_sha256[NIB_SHA256_HEX_LEN + 1]; /* hex of the bearer token's sha256 */
	struct nib_strv prefixes;		   /* repositories it may push under */
	char *authfile; /* registry credentials for its pushes, or NULL */
};

struct bld_srv_tenants {
	struct bld_srv_tenant *v;
	size_t len;
	bool open;	  /* no tenants file: one tenant "default", no token, any prefix */
	atomic_uint refs; /* holders: the service, requests, builds */
};

/* Parse a tenants file (docs/serve.md: {"tenants":[{"name","token" or
 * "tokenSha256","prefixes","authfile"}]}); `name` names it in messages. */
int bld_srv_tenants_parse(const char *text, size_t len, const char *name,
			  struct bld_srv_tenants *out, struct nib_error *err);
int bld_srv_tenants_load(const char *path, struct bld_srv_tenants *out, struct nib_error *err);
void bld_srv_tenants_free(struct bld_srv_tenants *t);
struct bld_srv;
/* The tenants in force now, held until bld_srv_tenants_put: a reload
 * replaces them for later callers, never under a request or a build. */
struct bld_srv_tenants *bld_srv_tenants_get(struct bld_srv *s);
void bld_srv_tenants_put(struct bld_srv_tenants *t);
/* Read --tenants again (on SIGHUP, or `changed_only`: when the file is
 * another one than the last read, by device, inode, size and mtime, as a
 * Kubernetes Secret's update makes it). On success later requests see the
 * new tenants and 1 is returned; a file that cannot be read or parsed
 * keeps the tenants in force, logs one error and returns -1; 0 when
 * nothing changed. */
int bld_srv_tenants_reload(struct bld_srv *s, bool changed_only);
/* The tenant an "Authorization: Bearer TOKEN" header value names, or NULL
 * (compared in constant time over every tenant). */
const struct bld_srv_tenant *bld_srv_tenant_auth(const struct bld_srv_tenants *t,
						 const char *authorization);
/* Whether the tenant may push the normalised reference `ref`. */
bool bld_srv_tenant_may_push(const struct bld_srv_tenants *t, const struct bld_srv_tenant *tn,
			     const char *ref);

/* ---- build specs (serve_spec.c) ------------------------------------------ */

struct bld_srv_kv {
	char *key;
	char *value;
};

/* What a submitter asks for (docs/serve.md "The build spec"). */
struct bld_srv_spec {
	char *containerfile; /* inline text, or NULL */
	char *file;	     /* path in the context, or NULL (Containerfile, else Dockerfile) */
	struct bld_srv_kv *build_args;
	size_t n_build_args;
	struct bld_srv_kv *labels;
	size_t n_labels;
	char *target;
	char *platform;
	int64_t timestamp; /* -1: none */
	bool no_cache;
	struct nib_strv tags; /* normalised; pushed after the build */
	char *git_url;	      /* context from git, or NULL */
	char *git_ref;
	char *context_url; /* context from a tarball URL, or NULL */
};

#define BLD_SRV_SPEC_MAX (2 * 1024 * 1024)

/* Parse and check a spec: unknown fields, wrong types, relative paths that
 * climb out, malformed references are usage errors naming the field. */
int bld_srv_spec_parse(const char *json, size_t len, struct bld_srv_spec *out,
		       struct nib_error *err);
void bld_srv_spec_free(struct bld_srv_spec *s);
/* The spec as JSON (what the database keeps), fields in a fixed order. */
char *bld_srv_spec_json(const struct bld_srv_spec *s);
/* Whether `url` is an https (or, when `allow_http`, http) URL whose host is
 * in `hosts`; false with a message naming the host otherwise. */
bool bld_srv_url_allowed(const char *url, const struct nib_strv *hosts, struct nib_error *err);

/* ---- context intake (builder/context.c does it) ------------------------- */

#define BLD_SRV_CONTEXT_MAX_ENTRIES 1000000

struct bld_fetch_limits;
struct bld_srv;
struct bld_srv_job;
/* The limits a context sent or named to the service is taken in with:
 * --max-context-size bytes, BLD_SRV_CONTEXT_MAX_ENTRIES entries, https
 * only; with a job `j`, fetching stops at its time limit or when it is
 * cancelled. */
void bld_srv_context_limits(struct bld_srv *s, struct bld_srv_job *j, struct bld_fetch_limits *lim);
/* serve_exec.c: a build's git or contextUrl context fetched into its
 * folder (DIR/context; a Containerfile at the URL becomes
 * DIR/Containerfile, the context empty). */
int bld_srv_context_fetch(struct bld_srv_job *j, struct nib_error *err);

/* serve_tar.c: add the tree at `dir` to the tar `a` under `top` ("" or
 * NULL: at the archive's top), without what `ig` (may be NULL) excludes,
 * but always `keep` (a path in the tree, may be NULL). */
struct archive;
struct cf_ignore;
int bld_srv_tar_tree(struct archive *a, const char *dir, const char *top,
		     const struct cf_ignore *ig, const char *keep, struct nib_error *err);

/* ---- the database (serve_db.c) ------------------------------------------ */

enum bld_srv_state {
	BLD_SRV_QUEUED,
	BLD_SRV_RUNNING,
	BLD_SRV_SUCCEEDED,
	BLD_SRV_FAILED,
	BLD_SRV_CANCELLED,
	BLD_SRV_INTERRUPTED,
};
const char *bld_srv_state_name(enum bld_srv_state s);
int bld_srv_state_parse(const char *s);
static inline bool bld_srv_state_final(enum bld_srv_state s)
{
	return s >= BLD_SRV_SUCCEEDED;
}

struct bld_srv_build {
	char id[33];
	char *tenant;
	enum bld_srv_state state;
	char *spec; /* JSON */
	double created, started, finished;
	int step, steps;
	char *digest;	/* manifest digest, or NULL */
	char *image_id; /* config digest, or NULL */
	char *error;	/* why it failed, or NULL */
	int cache_hits;
	int64_t log_bytes;
	int64_t pushed_bytes;
};
void bld_srv_build_clear(struct bld_srv_build *b);

struct bld_srv_db;
int bld_srv_db_open(const char *path, struct bld_srv_db **out, struct nib_error *err);
void bld_srv_db_close(struct bld_srv_db *db);
/* The schema version the database has after opening (migrations applied). */
int bld_srv_db_version(struct bld_srv_db *db);
int bld_srv_db_insert(struct bld_srv_db *db, const struct bld_srv_build *b, struct nib_error *err);
/* 1 and `out` filled when found, 0 when not (or another tenant's, when
 * `tenant` is not NULL). */
int bld_srv_db_get(struct bld_srv_db *db, const char *id, const char *tenant,
		   struct bld_srv_build *out, struct nib_error *err);
/* Builds of `tenant` (every tenant's when NULL), newest first, at most
 * `limit`, optionally only in `state` (-1: any). */
int bld_srv_db_list(struct bld_srv_db *db, const char *tenant, int state, int limit,
		    struct bld_srv_build **out, size_t *n, struct nib_error *err);
void bld_srv_builds_free(struct bld_srv_build *v, size_t n);
/* The oldest queued build whose tenant is not in `busy` (NULL-ended), 1
 * when there is one. */
int bld_srv_db_next(struct bld_srv_db *db, char *const *busy, struct bld_srv_build *out,
		    struct nib_error *err);
int bld_srv_db_count(struct bld_srv_db *db, enum bld_srv_state state, int64_t *out);
/* Change state (with the time it happened), and the error when not NULL. */
int bld_srv_db_set_state(struct bld_srv_db *db, const char *id, enum bld_srv_state state,
			 const char *error, struct nib_error *err);
/* Only when the build is still in `from`: 1 when changed, 0 when not. */
int bld_srv_db_transition(struct bld_srv_db *db, const char *id, enum bld_srv_state from,
			  enum bld_srv_state to, const char *error, struct nib_error *err);
int bld_srv_db_progress(struct bld_srv_db *db, const struct bld_srv_build *b,
			struct nib_error *err);
int bld_srv_db_delete(struct bld_srv_db *db, const char *id, struct nib_error *err);
/* At start: builds left running become interrupted; returns how many. */
int bld_srv_db_recover(struct bld_srv_db *db, struct nib_error *err);
/* Every build's ID (for the state folder's cleanup). */
int bld_srv_db_ids(struct bld_srv_db *db, struct nib_strv *out, struct nib_error *err);

/* ---- the service --------------------------------------------------------- */

struct bld_srv_config {
	char *listen_host; /* 127.0.0.1 */
	unsigned port;
	char *state_dir;
	char *tenants_file;
	char *authfile; /* registry credentials for every tenant without its own */
	char *nib;	/* the nib binary builds run */
	unsigned max_builds, max_queue;
	uint64_t max_context, max_log, build_timeout, drain_timeout;
	uint64_t memory_max, pids_max, min_free_disk;
	bool allow_ptrace;
	bool tls_verify;
	char *build_network; /* "none" (default) or "host" */
	struct nib_strv git_hosts;
	char *registries_conf;
	/* --executor kubernetes (k8s_image set) */
	char *k8s_image;      /* nib's image the Jobs run */
	char *k8s_api;	      /* the API server's URL */
	char *k8s_namespace;  /* where Jobs go */
	char *k8s_token_file; /* the service account's token */
	char *k8s_ca;	      /* the API server's CA, or NULL */
	char *k8s_seccomp;    /* "RuntimeDefault" or "Localhost/PROFILE" */
	char *service_url;    /* how Jobs reach this service */
};

struct bld_srv_metrics {
	atomic_uint_fast64_t submitted, finished[BLD_SRV_INTERRUPTED + 1];
	atomic_uint_fast64_t duration_ms_sum, cache_hits, cache_misses, bytes_pushed;
	atomic_uint_fast64_t requests, rejected;
};

struct bld_srv {
	struct bld_srv_config cfg;
	struct bld_srv_tenants *tenants; /* in force: under `lock`, held by get/put */
	struct stat tenants_st;		 /* the tenants file when last read */
	struct bld_srv_db *db;
	int state_fd;
	struct bld_srv_metrics m;

	pthread_mutex_t lock;	  /* the fields below and the database */
	pthread_cond_t changed;	  /* a job changed (log, state), or one should start */
	struct bld_srv_job *jobs; /* running */
	unsigned n_running;
	bool draining;
	bool stopping;
	char *cgroup; /* delegated cgroup v2 folder for builds, or NULL */
	void *http;   /* the libmicrohttpd daemon */
};

/* A running build (serve_jobs.c keeps them in bld_srv.jobs). */
struct bld_srv_job {
	struct bld_srv_job *next;
	struct bld_srv *s;
	struct bld_srv_build b; /* progress, as the database has it */
	struct bld_srv_spec spec;
	pid_t pid;	  /* the process running now, or 0 */
	bool cancel;	  /* asked to cancel */
	char *limit;	  /* the limit that stopped it, or NULL */
	char *last_error; /* the last error the child reported */
	struct timespec start;
	int log_fd;
	char *dir;     /* absolute: STATE/builds/ID */
	bool url_file; /* the contextUrl was a Containerfile: DIR/Containerfile */
	/* the Kubernetes executor: the one-time token of the context URL
	 * (empty once used) */
	char ctx_token[65];
};

/* serve_jobs.c: the scheduler and the builds' logs and progress. */
/* One "serve" event line in the build's log. */
void bld_srv_job_event(struct bld_srv_job *j, const char *fmt, ...) _printf_(2, 3);
/* The limit that stops the build (the first one given wins). */
void bld_srv_job_limit(struct bld_srv_job *j, const char *fmt, ...) _printf_(2, 3);
/* A line of the build's output: into the log, progress learnt from it. */
void bld_srv_job_line(struct bld_srv_job *j, const char *line, size_t len);
/* Wake whoever waits on s->changed (log followers, the scheduler). */
void bld_srv_wake(struct bld_srv *s);
struct json_object;
/* A string member of a JSON object, or NULL. */
const char *bld_srv_jstr(struct json_object *o, const char *k);

/* serve_exec.c: the local executor: 0 when the build (and its pushes)
 * succeeded; else *failure may say why. */
int bld_srv_local_run(struct bld_srv_job *j, char **failure);
/* The `nib build` command line of a build whose files are under `dir`
 * (DIR/context, DIR/Containerfile) and whose store is `root`. */
void bld_srv_build_argv(struct bld_srv_job *j, const char *root, const char *dir,
			struct nib_strv *a);
/* The registry credentials of the build's tenant (else the service's
 * --authfile), a copy to free, or NULL. */
char *bld_srv_tenant_authfile(struct bld_srv_job *j);
/* serve_k8s.c: the Kubernetes executor, the same contract. */
int bld_srv_k8s_run(struct bld_srv_job *j, char **failure);

int bld_srv_jobs_start(struct bld_srv *s, struct nib_error *err);
/* Ask the scheduler to look at the queue (caller holds s->lock). */
void bld_srv_jobs_kick(struct bld_srv *s);
/* Cancel a running build: 1 when it was running here. (holds s->lock) */
int bld_srv_jobs_cancel(struct bld_srv *s, const char *id);
/* Stop: no new jobs; wait up to the drain timeout, then kill and mark the
 * rest interrupted; joins the scheduler. */
void bld_srv_jobs_stop(struct bld_srv *s);
/* The folder of a build (STATE/builds/ID), relative to the state folder. */
char *bld_srv_build_dir(const char *id);
/* serve_cgroup.c: set up the cgroup v2 subtree for builds if the
 * service's own is delegated to it: the folder, or NULL with the reason
 * logged. */
char *bld_srv_cgroup_setup(struct bld_srv *s);
/* The same with cgroup2 mounted at `mount` and `self` the text of
 * /proc/self/cgroup (tests give a folder of their own). */
char *bld_srv_cgroup_setup_at(struct bld_srv *s, const char *mount, const char *self);
/* The build's cgroup (s->cgroup/nib-build-ID) with its limits: its
 * cgroup.procs open for writing and *path, or -1 (the reason logged). */
int bld_srv_cgroup_open(struct bld_srv_job *j, char **path);
/* Whether the cgroup at `path` saw an OOM kill (memory.events). */
bool bld_srv_cgroup_oom(const char *path);

/* serve_http.c + serve_api.c */
int bld_srv_http_start(struct bld_srv *s, struct nib_error *err);
void bld_srv_http_stop(struct bld_srv *s);

/* serve_log.c: rendering of the JSON event lines as text. */
/* Append the text form of one event line (ending '\n' or not) to `out`;
 * lines that are not JSON are copied as they are. */
void bld_srv_log_render(const char *line, size_t len, struct nib_buf *out);

/* serve_web.c: the embedded page. */
extern const char bld_srv_web_html[];

#endif
