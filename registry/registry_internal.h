/* SPDX-License-Identifier: Apache-2.0 */
/* registry: internal declarations shared by the files of this module. */
#ifndef NIB_REGISTRY_INTERNAL_H
#define NIB_REGISTRY_INTERNAL_H

#ifndef NIB_REGISTRY_INTERNAL
#error "registry/registry_internal.h is internal to registry/"
#endif

#include "registry/registry.h"

#include <curl/curl.h>
#include <json-c/json.h>

/* ---- registries.conf ---- */
struct conf_mirror {
	char *location;
	bool insecure;
};
struct conf_registry {
	char *prefix;
	char *location;
	bool insecure;
	bool blocked;
	struct conf_mirror *mirrors;
	size_t n_mirrors;
};
struct reg_conf_alias {
	char *name;
	char *value;
};
struct reg_conf {
	char **search;
	size_t n_search, cap_search;
	bool search_set;
	struct conf_registry *regs;
	size_t n_regs, cap_regs;
	struct reg_conf_alias *aliases;
	size_t n_aliases, cap_aliases;
};
const char *reg_conf_alias(const struct reg_conf *conf, const char *name);
int reg_ref_parse_with(const char *s, const char *default_registry, struct reg_ref *out,
		       struct nib_error *err);

/* ---- json helpers ---- */
#define _cleanup_json_ _cleanup_(json_object_putp)
const char *reg_json_get_string(json_object *o, const char *key);

static inline void curl_easy_cleanupp(CURL **h)
{
	if (*h)
		curl_easy_cleanup(*h);
}
static inline void curl_slist_free_allp(struct curl_slist **l)
{
	if (*l)
		curl_slist_free_all(*l);
}
#define _cleanup_curl_	_cleanup_(curl_easy_cleanupp)
#define _cleanup_slist_ _cleanup_(curl_slist_free_allp)

/* ---- base64 ---- */
char *reg_b64_encode(const void *p, size_t n);
/* Returns NULL when malformed. */
char *reg_b64_decode(const char *s, size_t *outlen);

/* ---- client ---- */
struct token_entry {
	char *host;
	char *scope;
	char *token;
	time_t expires;
};

struct host_state {
	char *registry; /* host[:port] as in references */
	char *scheme;	/* "https" or "http" once pinged */
	bool insecure;	/* TLS verification off */
	bool pinged;
	struct reg_challenge chal; /* from GET /v2/ */
	bool have_creds;
	bool creds_looked_up;
	struct reg_creds creds;
	char *cert_dir; /* certs.d folder for this host, or NULL */
};

struct reg_client {
	struct reg_options o;
	struct reg_conf *conf;
	struct host_state *hosts;
	size_t n_hosts, cap_hosts;
	struct token_entry *tokens;
	size_t n_tokens, cap_tokens;
	struct reg_creds cli_creds;
	bool have_cli_creds;
	char *platform;
	CURLSH *share;
	int retries;
	double retry_delay;
	int parallel;
	long stall_seconds;
	long timeout; /* a request's deadline: this plus 1 s per REG_DEADLINE_RATE bytes */
	uint64_t chunk_size;
};

/* One HTTP request/response. */
struct http_req {
	const char *method;
	const char *url; /* absolute URL */
	struct curl_slist *headers;
	/* body: memory or a file range */
	const void *body;
	size_t body_len;
	int body_fd;
	int64_t body_off;
	int64_t body_len_fd;
	/* response sinks: NULL write_fn collects into `resp` up to resp_max */
	size_t (*write_fn)(char *p, size_t sz, size_t n, void *data);
	void *write_data;
	size_t resp_max;
	bool no_body; /* HEAD */
};

struct http_resp {
	long status;
	struct nib_buf body;
	char *content_type;
	char *location;
	char *www_auth;
	char *docker_digest;
	char *retry_after;
	char *range;
	int64_t content_length;
	bool www_auth_too_long;
	bool body_too_long;
};
void reg_http_resp_clear(struct http_resp *r);

struct host_state *reg_client_host(struct reg_client *c, const char *registry);
/* Base URL "scheme://host" for the registry (pinging it the first time). */
int reg_client_base(struct reg_client *c, struct host_state *h, struct nib_error *err);
/* Set TLS, timeouts and common options on an easy handle. */
void reg_client_setup_easy(struct reg_client *c, struct host_state *h, CURL *e);
/* Every request has a deadline besides the stall timeout (a server that
 * trickles a byte a second never stalls): c->timeout seconds
 * (NIB_REGISTRY_TIMEOUT, 120 by default; reg_client_setup_easy sets it)
 * plus one second per REG_DEADLINE_RATE bytes it carries, when known. */
#define REG_DEADLINE_RATE (64 << 10)
long reg_client_deadline(const struct reg_client *c, int64_t bytes);
void reg_client_set_deadline(const struct reg_client *c, CURL *e, int64_t bytes);
/* When a request that ended with `rc` ran past its deadline: the error
 * (NIB_ERR_NETWORK, not retried), naming `what` and the deadline; else 0. */
int reg_client_deadline_error(const struct reg_client *c, CURL *e, CURLcode rc, int64_t bytes,
			      const char *what, struct nib_error *err);
/* An Authorization header value for a request to `h` needing `scope`
 * (NULL when anonymous access is used). */
int reg_client_auth_header(struct reg_client *c, struct host_state *h, const char *scope,
			   bool refresh, char **out, struct nib_error *err);
/*
 * Perform a request to the registry `h` with authentication for `scope`,
 * manual redirects (Authorization dropped on another host), and retries
 * with backoff on network errors, 5xx and 429 (Retry-After). `what` names
 * the reference in errors. Returns 0 with the final response (any status).
 */
int reg_client_do(struct reg_client *c, struct host_state *h, const char *scope,
		  struct http_req *rq, struct http_resp *rs, const char *what,
		  struct nib_error *err);
/* Seconds to wait before retry `attempt` (0-based): Retry-After (delay
 * seconds) when given, else retry_delay * 2^attempt; capped at 60 s. */
double reg_client_backoff_delay(const struct reg_client *c, int attempt, const char *retry_after);
/* Sleep reg_client_backoff_delay() seconds. */
void reg_client_backoff(struct reg_client *c, int attempt, const char *retry_after);
bool reg_http_status_retryable(long status);
bool reg_curl_code_retryable(CURLcode rc);
/* Same host and port (default ports filled in). */
bool reg_url_same_origin(const char *a, const char *b);
/* host part of an URL (no port), lower case. */
char *reg_url_host(const char *url);
/* host[:port] of an URL as written (no default port), lower case. */
char *reg_url_hostport(const char *url);
/* Whether transport security may be given up for the URL's host:
 * --tls-verify=false, or registries.conf marks it insecure. */
bool reg_client_url_insecure(const struct reg_client *c, const char *url);
/* Refuse to follow `from` (HTTPS) to `to` (plain HTTP): the content and
 * whatever the request carries would be readable and changeable on the
 * way. Allowed only when `to`'s host is marked insecure. */
int reg_client_check_downgrade(const struct reg_client *c, const char *from, const char *to,
			       const char *what, struct nib_error *err);
/* Error for an unexpected response: "REF: HTTP 500 (registry message)". */
int reg_http_error(struct nib_error *err, const char *what, const struct http_resp *rs,
		   const char *doing);
/* An absolute URL for a Location header relative to `base`. */
char *reg_url_resolve(const char *base, const char *loc);

/* ---- blob download ---- */
struct fetch_item {
	struct reg_desc d;
	bool skip;
};
int reg_fetch_blobs(struct reg_client *c, struct host_state *h, struct stg_store *st,
		    const struct reg_ref *ref, const char *base, struct fetch_item *items, size_t n,
		    struct nib_error *err);

/* ---- manifests ---- */
#define MANIFEST_MAX (4u << 20)
bool reg_media_type_is_index(const char *mt);
bool reg_media_type_is_manifest(const char *mt);
int reg_manifest_parse(const char *data, size_t len, const char *what, struct reg_image *out,
		       json_object **doc, struct nib_error *err);

#endif
