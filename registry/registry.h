/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry: an OCI distribution client (distribution-spec v1.1) on libcurl,
 * OpenSSL and json-c: image references, registries.conf, credentials,
 * authentication (anonymous, Basic, bearer tokens), pull into the store and
 * push from it, and single blob/manifest operations for the build cache.
 *
 * Credentials only ever go to the host they belong to and never appear in
 * error messages or logs.
 */
#ifndef NIB_REGISTRY_H
#define NIB_REGISTRY_H

#include "common/common.h"
#include "storage/storage.h"

/* ==== references ========================================================= */

#define REG_DOCKER_HUB "docker.io"

/* A parsed, normalised image reference: registry/repo[:tag][@digest]. */
struct reg_ref {
	char *registry; /* "docker.io", "localhost:5000", "[::1]:5000" */
	char *repo;	/* "library/busybox" */
	char *tag;	/* NULL when the reference names only a digest */
	char *digest;	/* NULL or "sha256:<hex>" */
};

/*
 * Parse `s` (`name[:tag][@digest]`) with Docker's normalisation: a first
 * component without '.' or ':' that is not "localhost" is not a registry, so
 * "busybox" becomes docker.io/library/busybox:latest. A reference without a
 * tag and digest gets "latest". NIB_ERR_USAGE on malformed input, naming it.
 */
int reg_ref_parse(const char *s, struct reg_ref *out, struct nib_error *err);
/* Whether `s` names its registry ("quay.io/x", "localhost/x", "h:5000/x"). */
bool reg_ref_is_qualified(const char *s);
/* "registry/repo:tag@digest" (tag and digest when present). */
char *reg_ref_string(const struct reg_ref *r);
/* "registry/repo" */
char *reg_ref_name(const struct reg_ref *r);
void reg_ref_clear(struct reg_ref *r);
void reg_ref_copy(struct reg_ref *dst, const struct reg_ref *src);
static inline void reg_ref_clearp(struct reg_ref *r)
{
	reg_ref_clear(r);
}
#define _cleanup_ref_ _cleanup_(reg_ref_clearp)

/* ==== registries.conf ==================================================== */

struct reg_conf; /* parsed registries.conf (+ registries.conf.d) */

/*
 * Load the configuration: `path` when non-NULL, else $CONTAINERS_REGISTRIES_CONF,
 * else $XDG_CONFIG_HOME/containers/registries.conf (~/.config/...) when it
 * exists, else /etc/containers/registries.conf; then every *.conf in the
 * matching registries.conf.d folder, in name order. Missing files are an
 * empty configuration; syntax errors are NIB_ERR_SYNTAX naming file:line.
 */
int reg_conf_load(const char *path, struct reg_conf **out, struct nib_error *err);
/* Parse one document (for tests and fuzzing); `name` is used in errors. */
int reg_conf_parse(struct reg_conf *conf, const char *name, const char *text,
		   struct nib_error *err);
struct reg_conf *reg_conf_new(void);
void reg_conf_free(struct reg_conf *conf);
NIB_DEFINE_CLEANUP(struct reg_conf *, reg_conf_free)

/*
 * Resolve what the user typed into a reference: a qualified name is parsed
 * as is; a short name goes through [aliases], then
 * unqualified-search-registries (one entry: used; none: docker.io; several:
 * refused as ambiguous, naming the candidates).
 */
int reg_ref_resolve(const struct reg_conf *conf, const char *s, struct reg_ref *out,
		    struct nib_error *err);

/* One place an image can be fetched from, in the order to try. */
struct reg_endpoint {
	char *registry; /* host[:port] to contact */
	char *repo;	/* repository on that host */
	bool insecure;	/* plain HTTP / unverified TLS allowed */
	bool mirror;
};
/*
 * The endpoints for `ref`: mirrors first, then the (possibly rewritten)
 * location. NIB_ERR_ENV when the registry is blocked. Frees with
 * reg_endpoints_free().
 */
int reg_conf_endpoints(const struct reg_conf *conf, const struct reg_ref *ref,
		       struct reg_endpoint **out, size_t *n, struct nib_error *err);
void reg_endpoints_free(struct reg_endpoint *e, size_t n);
/* Whether registries.conf marks this host insecure. */
bool reg_conf_insecure(const struct reg_conf *conf, const char *registry);

/* ==== WWW-Authenticate =================================================== */

#define REG_WWW_AUTH_MAX 8192 /* longer headers are refused */

struct reg_challenge {
	char *scheme; /* lower case: "bearer", "basic" */
	char *realm;
	char *service;
	char *scope;
};
/* Parse the first usable challenge (Bearer preferred, then Basic) of a
 * WWW-Authenticate value (RFC 7235). NIB_ERR_AUTH when malformed. */
int reg_www_authenticate_parse(const char *value, struct reg_challenge *out, struct nib_error *err);
void reg_challenge_clear(struct reg_challenge *c);

/* ==== credentials ======================================================== */

struct reg_creds {
	char *username;
	char *password; /* or an identity token when username is "<token>" */
};
void reg_creds_clear(struct reg_creds *c);

/*
 * Find credentials for `registry` (and optionally `repo`, for keys like
 * "host/ns/repo"): --authfile / $REGISTRY_AUTH_FILE, else
 * $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json,
 * then ~/.docker/config.json (or $DOCKER_CONFIG/config.json), then the legacy
 * ~/.dockercfg; per file "credHelpers", then "auths" (most specific key
 * first; "auth", else "username" and "password"), or the top-level keys of a
 * legacy .dockercfg, then "credsStore" via docker-credential-NAME. Returns 1
 * when found, 0 when none, -1 on errors (a broken file names its path).
 */
int reg_creds_lookup(const char *authfile, const char *registry, const char *repo,
		     struct reg_creds *out, struct nib_error *err);
/* The auth.json `nib login` writes: authfile, else $REGISTRY_AUTH_FILE, else
 * $XDG_RUNTIME_DIR/containers/auth.json, else ~/.config/containers/auth.json. */
char *reg_authfile_default(const char *authfile);
/* Store credentials for `key` (a registry, optionally with a repository
 * path) in the auth.json file: mode 0600, parents created 0700. A legacy
 * .dockercfg (no "auths") keeps its format, here and in reg_creds_remove. */
int reg_creds_store(const char *authfile, const char *key, const struct reg_creds *c,
		    struct nib_error *err);
/* Remove `key` (NULL: every entry); 1 removed, 0 when absent. */
int reg_creds_remove(const char *authfile, const char *key, struct nib_error *err);
/* Parse "user:password" (--creds). */
int reg_creds_parse(const char *s, struct reg_creds *out, struct nib_error *err);

/* ==== client ============================================================= */

struct reg_options {
	const char *authfile;	     /* --authfile */
	const char *creds;	     /* --creds USER[:PASS] */
	const char *cert_dir;	     /* --cert-dir */
	int tls_verify;		     /* -1 default, 0 --tls-verify=false, 1 true */
	int retries;		     /* --retry N (default 3) */
	double retry_delay;	     /* seconds before the first retry (default 1) */
	const char *registries_conf; /* NULL: default locations */
	const char *platform;	     /* "os/arch[/variant]", NULL: the host */
	int parallel;		     /* simultaneous blob transfers (default 6) */
	bool progress;		     /* report progress through `progress_fn` */
	/* Called for each blob: "skipped", "exists", "mounted", "done" lines. */
	void (*progress_fn)(void *data, const char *event, const char *digest, int64_t done,
			    int64_t total);
	void *progress_data;
};

struct reg_client; /* connection settings, credentials and token cache */

int reg_client_new(const struct reg_options *opts, struct reg_client **out, struct nib_error *err);
void reg_client_free(struct reg_client *c);
NIB_DEFINE_CLEANUP(struct reg_client *, reg_client_free)
const struct reg_conf *reg_client_conf(const struct reg_client *c);

/*
 * For plain downloads with a build's registry settings (ADD <url>): set up
 * the libcurl easy handle `easy` (a CURL *) for `url` as the client's own
 * requests to that host are: TLS verification (off with --tls-verify=false
 * or registries.conf's `insecure`), the CA and client certificates of
 * --cert-dir (else the host's certs.d folder), timeouts, user agent.
 */
void reg_client_setup_download(struct reg_client *c, const char *url, void *easy);
/* Whether attempt `attempt` (0-based) of such a download, which failed
 * with libcurl result `curl_code` or HTTP `status`, is tried again by the
 * client's policy (--retry, network errors, 5xx and 429); when it is, the
 * backoff (--retry-delay, doubling) has been slept. */
bool reg_client_download_retry(struct reg_client *c, int attempt, int curl_code, long status);

/* Check that the registry answers and that the credentials (if any) work:
 * GET /v2/ with authentication. Used by `nib login`. */
int reg_client_ping(struct reg_client *c, const char *registry, const struct reg_creds *creds,
		    struct nib_error *err);

/* A content descriptor (image-spec descriptor.md). */
struct reg_desc {
	char *media_type;
	char digest[NIB_DIGEST_LEN + 1];
	int64_t size;
};
void reg_desc_clear(struct reg_desc *d);

/* What a pull or push produced. */
struct reg_image {
	struct reg_desc manifest; /* the image manifest (after platform selection) */
	struct reg_desc config;
	struct reg_desc index; /* the index it was selected from; digest "" if none */
	size_t n_layers;
	struct reg_desc *layers;
};
void reg_image_clear(struct reg_image *img);

/*
 * Pull `ref` into the store: manifest (index resolved for the platform),
 * config and layers, each verified; blobs already present are not fetched;
 * then the reference is tagged in the store's index.json. Errors name the
 * reference and the cause.
 */
int reg_image_pull(struct reg_client *c, struct stg_store *st, const struct reg_ref *ref,
		   struct reg_image *out, struct nib_error *err);

/*
 * Push the image whose manifest is `manifest` (stored in `st` with all its
 * blobs) to `dest`: blobs checked with HEAD, mounted from `mount_from`
 * (a repository on the same registry; may be NULL) or uploaded, then the
 * manifest under dest's tag or digest. `out_digest` gets the manifest digest.
 */
int reg_image_push(struct reg_client *c, struct stg_store *st, const struct reg_desc *manifest,
		   const struct reg_ref *dest, const char *mount_from,
		   char out_digest[NIB_DIGEST_LEN + 1], struct nib_error *err);

/*
 * Push the index (OCI image index or Docker manifest list) `index`, stored
 * in `st`, with every image it lists (skopeo copy --all, podman manifest
 * push --all): each image by digest (blobs as reg_image_push), then the
 * index under dest's tag or digest. An image missing from the store, or a
 * nested index, is an error naming dest and the platform.
 */
int reg_index_push(struct reg_client *c, struct stg_store *st, const struct reg_desc *index,
		   const struct reg_ref *dest, const char *mount_from,
		   char out_digest[NIB_DIGEST_LEN + 1], struct nib_error *err);

/* Single operations (for a registry build cache). `ref` names the
 * repository; digests are passed explicitly. */
/* 1 present (size in *size), 0 absent, -1 error. */
int reg_blob_head(struct reg_client *c, const struct reg_ref *ref, const char *digest,
		  int64_t *size, struct nib_error *err);
/* Fetch a blob into the store (verified). */
int reg_blob_get(struct reg_client *c, struct stg_store *st, const struct reg_ref *ref,
		 const struct reg_desc *d, struct nib_error *err);
/* Upload a stored blob unless the registry has it. */
int reg_blob_put(struct reg_client *c, struct stg_store *st, const struct reg_ref *ref,
		 const struct reg_desc *d, const char *mount_from, struct nib_error *err);
/* HEAD a manifest by tag or digest: 1 present (descriptor filled), 0 absent. */
int reg_manifest_head(struct reg_client *c, const struct reg_ref *ref, struct reg_desc *out,
		      struct nib_error *err);
/* GET a manifest (raw bytes, media type and digest in `out`), verified
 * against ref->digest when present. At most 4 MiB. */
int reg_manifest_get(struct reg_client *c, const struct reg_ref *ref, char **data, size_t *len,
		     struct reg_desc *out, struct nib_error *err);
/* PUT a manifest under ref's tag (or digest when it has no tag). */
int reg_manifest_put(struct reg_client *c, const struct reg_ref *ref, const char *media_type,
		     const void *data, size_t len, char out_digest[NIB_DIGEST_LEN + 1],
		     struct nib_error *err);

/* The host platform as "linux/amd64" or "linux/arm64/v8". */
char *reg_platform_host(void);

#endif
