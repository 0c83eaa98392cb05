/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP side of the registry client: per-host state (scheme, TLS,
 * challenge, credentials), the /v2/ ping, requests with authentication,
 * manual redirects and retries.
 *
 * Credentials: an Authorization header is only ever attached by
 * reg_client_do() to requests whose origin is the registry's own; a redirect
 * elsewhere (blob storage, CDN) goes without it. Nothing here logs header
 * values.
 */
#define NIB_REGISTRY_INTERNAL
#include <dirent.h>
#include <pthread.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

#include "registry/registry_internal.h"

#define MAX_REDIRECTS 5
#define ERR_BODY_MAX  (64u << 10)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int reg_client_new(const struct reg_options *opts, struct reg_client **out, struct nib_error *err)
{
	_cleanup_(reg_client_freep) struct reg_client *c = xcalloc(1, sizeof(*c));
	const char *env;

	pthread_once(&curl_once, curl_init_once);
	c->o = *opts;
	c->retries = opts->retries >= 0 ? opts->retries : 3;
	c->retry_delay = opts->retry_delay > 0 ? opts->retry_delay : 1.0;
	c->parallel = opts->parallel > 0 ? opts->parallel : 6;
	c->platform = opts->platform ? xstrdup(opts->platform) : reg_platform_host();
	/* a stalled transfer (no byte for this long) counts as a network error */
	c->stall_seconds = 30;
	if ((env = getenv("NIB_REGISTRY_STALL_SECONDS")) && atol(env) > 0)
		c->stall_seconds = atol(env);
	c->timeout = 120;
	if ((env = getenv("NIB_REGISTRY_TIMEOUT")) && atol(env) > 0)
		c->timeout = atol(env);
	c->chunk_size = 64u << 20;
	if ((env = getenv("NIB_REGISTRY_CHUNK_SIZE")) && strtoull(env, NULL, 10) > 0)
		c->chunk_size = strtoull(env, NULL, 10);
	if (opts->creds) {
		if (reg_creds_parse(opts->creds, &c->cli_creds, err) < 0)
			return -1;
		c->have_cli_creds = true;
	}
	if (reg_conf_load(opts->registries_conf, &c->conf, err) < 0)
		return -1;
	*out = steal_pointer(&c);
	return 0;
}

void reg_client_free(struct reg_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_hosts; i++) {
		struct host_state *h = &c->hosts[i];
		free(h->registry);
		free(h->scheme);
		reg_challenge_clear(&h->chal);
		reg_creds_clear(&h->creds);
		free(h->cert_dir);
	}
	free(c->hosts);
	for (size_t i = 0; i < c->n_tokens; i++) {
		free(c->tokens[i].host);
		free(c->tokens[i].scope);
		if (c->tokens[i].token)
			explicit_bzero(c->tokens[i].token, strlen(c->tokens[i].token));
		free(c->tokens[i].token);
	}
	free(c->tokens);
	reg_creds_clear(&c->cli_creds);
	reg_conf_free(c->conf);
	free(c->platform);
	free(c);
}

const struct reg_conf *reg_client_conf(const struct reg_client *c)
{
	return c->conf;
}

/* containers-certs.d(5): DIR/HOST[:PORT]/ *.crt (CAs), *.cert + *.key */
static char *find_cert_dir(struct reg_client *c, const char *registry)
{
	const char *home = getenv("HOME"), *xdg = getenv("XDG_CONFIG_HOME");
	_cleanup_free_ char *user = NULL;
	const char *roots[4];
	size_t n = 0;

	if (c->o.cert_dir)
		return xstrdup(c->o.cert_dir);
	if (xdg && *xdg)
		user = xasprintf("%s/containers/certs.d", xdg);
	else if (home && *home)
		user = xasprintf("%s/.config/containers/certs.d", home);
	if (user)
		roots[n++] = user;
	roots[n++] = "/etc/containers/certs.d";
	roots[n++] = "/etc/docker/certs.d";
	for (size_t i = 0; i < n; i++) {
		char *d = xasprintf("%s/%s", roots[i], registry);
		if (access(d, F_OK) == 0)
			return d;
		free(d);
	}
	return NULL;
}

struct host_state *reg_client_host(struct reg_client *c, const char *registry)
{
	struct host_state *h;

	for (size_t i = 0; i < c->n_hosts; i++)
		if (streq(c->hosts[i].registry, registry))
			return &c->hosts[i];
	c->hosts = xgrow(c->hosts, &c->cap_hosts, c->n_hosts + 1, sizeof(*c->hosts));
	h = &c->hosts[c->n_hosts++];
	memset(h, 0, sizeof(*h));
	h->registry = xstrdup(registry);
	/* --tls-verify=false and `insecure = true` concern this registry only */
	h->insecure = c->o.tls_verify == 0 || reg_conf_insecure(c->conf, registry);
	h->cert_dir = find_cert_dir(c, registry);
	return h;
}

bool reg_client_url_insecure(const struct reg_client *c, const char *url)
{
	_cleanup_free_ char *hp = reg_url_hostport(url);
	return c->o.tls_verify == 0 || reg_conf_insecure(c->conf, hp);
}

int reg_client_check_downgrade(const struct reg_client *c, const char *from, const char *to,
			       const char *what, struct nib_error *err)
{
	if (!nib_str_has_prefix(from, "https://") || !nib_str_has_prefix(to, "http://") ||
	    reg_client_url_insecure(c, to))
		return 0;
	_cleanup_free_ char *hp = reg_url_hostport(to);
	return nib_err(err, NIB_ERR_NETWORK, 0,
		       "%s: redirect from HTTPS to plain HTTP (%s) refused", what, hp);
}

static CURLcode ssl_ctx_cb(CURL *e, void *sslctx, void *data)
{
	struct host_state *h = data;
	_cleanup_closedir_ DIR *d = opendir(h->cert_dir);
	X509_STORE *store = SSL_CTX_get_cert_store((SSL_CTX *)sslctx);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		if (!nib_str_has_suffix(de->d_name, ".crt"))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", h->cert_dir, de->d_name);
		if (X509_STORE_load_file(store, p) != 1)
			log_warn("%s: not a usable CA certificate", p);
	}
	return CURLE_OK;
}

void reg_client_setup_easy(struct reg_client *c, struct host_state *h, CURL *e)
{
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "nib/" NIB_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->stall_seconds);
	reg_client_set_deadline(c, e, 0);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L << 10);
	curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L << 10);
	if (!h)
		return;
	if (h->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (h->cert_dir) {
		_cleanup_closedir_ DIR *d = opendir(h->cert_dir);
		struct dirent *de;
		curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
		curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, h);
		while (d && (de = readdir(d))) {
			if (!nib_str_has_suffix(de->d_name, ".cert"))
				continue;
			_cleanup_free_ char *cert = xasprintf("%s/%s", h->cert_dir, de->d_name);
			_cleanup_free_ char *key =
			    xasprintf("%.*s.key", (int)(strlen(cert) - 5), cert);
			if (access(key, R_OK) == 0) {
				curl_easy_setopt(e, CURLOPT_SSLCERT, cert);
				curl_easy_setopt(e, CURLOPT_SSLKEY, key);
			}
		}
	}
}

long reg_client_deadline(const struct reg_client *c, int64_t bytes)
{
	return c->timeout + (long)(MAX(bytes, 0) / REG_DEADLINE_RATE);
}

void reg_client_set_deadline(const struct reg_client *c, CURL *e, int64_t bytes)
{
	curl_easy_setopt(e, CURLOPT_TIMEOUT, reg_client_deadline(c, bytes));
}

int reg_client_deadline_error(const struct reg_client *c, CURL *e, CURLcode rc, int64_t bytes,
			      const char *what, struct nib_error *err)
{
	long deadline = reg_client_deadline(c, bytes);
	curl_off_t us = 0;

	if (rc != CURLE_OPERATION_TIMEDOUT ||
	    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &us) != CURLE_OK ||
	    us < (curl_off_t)(deadline - 1) * 1000000)
		return 0;
	return nib_err(err, NIB_ERR_NETWORK, ETIMEDOUT,
		       "%s: not done within %ld s (NIB_REGISTRY_TIMEOUT=%ld, plus 1 s per %d KiB "
		       "carried)",
		       what, deadline, c->timeout, REG_DEADLINE_RATE >> 10);
}

void reg_http_resp_clear(struct http_resp *r)
{
	nib_buf_free(&r->body);
	free(r->content_type);
	free(r->location);
	free(r->www_auth);
	free(r->docker_digest);
	free(r->retry_after);
	free(r->range);
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
}

static size_t header_cb(char *p, size_t sz, size_t n, void *data)
{
	struct http_resp *rs = data;
	size_t len = sz * n, klen;
	const char *colon = memchr(p, ':', len);
	char **slot = NULL;

	if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue): forget earlier headers */
		struct nib_buf keep = rs->body;
		rs->body = (struct nib_buf){0};
		reg_http_resp_clear(rs);
		rs->body = keep;
		return len;
	}
	if (!colon)
		return len;
	klen = (size_t)(colon - p);
#define IS(name) (klen == sizeof(name) - 1 && strncasecmp(p, name, klen) == 0)
	if (IS("content-type"))
		slot = &rs->content_type;
	else if (IS("location"))
		slot = &rs->location;
	else if (IS("www-authenticate")) {
		if (len > REG_WWW_AUTH_MAX + 32) {
			rs->www_auth_too_long = true;
			return len;
		}
		slot = &rs->www_auth;
	} else if (IS("docker-content-digest"))
		slot = &rs->docker_digest;
	else if (IS("retry-after"))
		slot = &rs->retry_after;
	else if (IS("range"))
		slot = &rs->range;
	else if (IS("content-length")) {
		char tmp[32];
		size_t vl = len - klen - 1;
		if (vl < sizeof(tmp)) {
			memcpy(tmp, colon + 1, vl);
			tmp[vl] = '\0';
			rs->content_length = strtoll(tmp, NULL, 10);
		}
	}
#undef IS
	if (slot && !*slot) {
		const char *v = colon + 1, *end = p + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		*slot = xstrndup(v, (size_t)(end - v));
	}
	return len;
}

struct body_src {
	const struct http_req *rq;
	int64_t pos;
};

static size_t read_cb(char *buf, size_t sz, size_t n, void *data)
{
	struct body_src *b = data;
	const struct http_req *rq = b->rq;
	size_t want = sz * n;

	if (rq->body_fd >= 0) {
		int64_t left = rq->body_len_fd - b->pos;
		if (left <= 0)
			return 0;
		if ((int64_t)want > left)
			want = (size_t)left;
		ssize_t r = pread(rq->body_fd, buf, want, rq->body_off + b->pos);
		if (r < 0)
			return CURL_READFUNC_ABORT;
		b->pos += r;
		return (size_t)r;
	}
	size_t left = rq->body_len - (size_t)b->pos;
	if (want > left)
		want = left;
	memcpy(buf, (const char *)rq->body + b->pos, want);
	b->pos += (int64_t)want;
	return want;
}

struct sink {
	CURL *e;
	const struct http_req *rq;
	struct http_resp *rs;
};

static size_t write_cb(char *p, size_t sz, size_t n, void *data)
{
	struct sink *s = data;
	size_t len = sz * n;
	long status = 0;

	curl_easy_getinfo(s->e, CURLINFO_RESPONSE_CODE, &status);
	if (s->rq->write_fn && status >= 200 && status < 300)
		return s->rq->write_fn(p, sz, n, s->rq->write_data);
	size_t max =
	    (status >= 200 && status < 300 && s->rq->resp_max) ? s->rq->resp_max : ERR_BODY_MAX;
	if (s->rs->body.len + len > max) {
		s->rs->body_too_long = true;
		return 0;
	}
	nib_buf_append(&s->rs->body, p, len);
	return len;
}

/* The bytes a request sends. */
static int64_t req_bytes(const struct http_req *rq)
{
	return rq->body_fd >= 0 ? rq->body_len_fd : (int64_t)rq->body_len;
}

/* One request, no redirects, no retries. A request past its deadline is
 * CURLE_ABORTED_BY_CALLBACK with the error in `err`. */
static CURLcode perform_once(struct reg_client *c, struct host_state *h, const char *url,
			     struct http_req *rq, const char *auth, struct http_resp *rs,
			     const char *what, struct nib_error *err)
{
	_cleanup_curl_ CURL *e = curl_easy_init();
	_cleanup_slist_ struct curl_slist *hdrs = NULL;
	_cleanup_free_ char *authhdr = NULL;
	struct body_src src = {.rq = rq};
	struct sink sink = {.e = e, .rq = rq, .rs = rs};
	CURLcode rc;

	reg_http_resp_clear(rs);
	reg_client_setup_easy(c, h, e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	for (struct curl_slist *l = rq->headers; l; l = l->next)
		hdrs = curl_slist_append(hdrs, l->data);
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (auth) {
		authhdr = xasprintf("Authorization: %s", auth);
		hdrs = curl_slist_append(hdrs, authhdr);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, rs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
	if (streq(rq->method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (streq(rq->method, "GET")) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (rq->body || rq->body_fd >= 0) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, &src);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req_bytes(rq));
		reg_client_set_deadline(c, e, req_bytes(rq));
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
	} else {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	log_debug("%s %s", rq->method, url);
	rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &rs->status);
	if (reg_client_deadline_error(c, e, rc, req_bytes(rq), what, err) < 0)
		rc = CURLE_ABORTED_BY_CALLBACK;
	if (rc == CURLE_WRITE_ERROR && rs->body_too_long)
		rc = CURLE_OK; /* reported by the caller from body_too_long */
	log_debug("%s %s -> %ld%s%s", rq->method, url, rs->status, rc ? " " : "",
		  rc ? curl_easy_strerror(rc) : "");
	return rc;
}

bool reg_http_status_retryable(long status)
{
	return status == 429 || status == 408 || (status >= 500 && status != 501 && status != 505);
}

bool reg_curl_code_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

double reg_client_backoff_delay(const struct reg_client *c, int attempt, const char *retry_after)
{
	double d = c->retry_delay * (double)(1u << MIN(attempt, 16));
	if (retry_after) {
		char *end;
		long s = strtol(retry_after, &end, 10);
		if (end != retry_after && s >= 0)
			d = (double)s;
	}
	return d > 60 ? 60 : d;
}

void reg_client_backoff(struct reg_client *c, int attempt, const char *retry_after)
{
	double d = reg_client_backoff_delay(c, attempt, retry_after);

	log_debug("retrying in %.1f s", d);
	struct timespec ts = {.tv_sec = (time_t)d,
			      .tv_nsec = (long)((d - (double)(time_t)d) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *status_text(long s)
{
	switch (s) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 416:
		return "Range Not Satisfiable";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "";
	}
}

int reg_http_error(struct nib_error *err, const char *what, const struct http_resp *rs,
		   const char *doing)
{
	enum nib_err_kind kind = NIB_ERR_NETWORK;
	_cleanup_buf_ struct nib_buf detail = {0};

	if (rs->status == 401 || rs->status == 403)
		kind = NIB_ERR_AUTH;
	else if (rs->status == 404)
		kind = NIB_ERR_NOT_FOUND;
	if (rs->body.len && rs->content_type && strstr(rs->content_type, "json")) {
		_cleanup_json_ json_object *o = json_tokener_parse(rs->body.data);
		json_object *errs, *e0;
		if (o && json_object_object_get_ex(o, "errors", &errs) &&
		    json_object_is_type(errs, json_type_array) &&
		    (e0 = json_object_array_get_idx(errs, 0))) {
			const char *code = reg_json_get_string(e0, "code");
			const char *msg = reg_json_get_string(e0, "message");
			nib_buf_printf(&detail, ": %s%s%.200s", code ? code : "",
				       code && msg ? " " : "", msg ? msg : "");
		}
	}
	return nib_err(err, kind, 0, "%s: %s: HTTP %ld %s%s", what, doing, rs->status,
		       status_text(rs->status), detail.data ? detail.data : "");
}

static int curl_error(struct nib_error *err, const char *what, const char *url, CURLcode rc)
{
	_cleanup_free_ char *host = reg_url_host(url);
	return nib_err(err, NIB_ERR_NETWORK, 0, "%s: %s (%s)", what, curl_easy_strerror(rc), host);
}

int reg_client_do(struct reg_client *c, struct host_state *h, const char *scope,
		  struct http_req *rq, struct http_resp *rs, const char *what,
		  struct nib_error *err)
{
	_cleanup_free_ char *url = xstrdup(rq->url), *auth = NULL;
	_cleanup_free_ char *origin = xasprintf("%s://%s/", h->scheme, h->registry);
	const char *method0 = rq->method;
	bool refreshed = false;
	int attempt = 0, redirects = 0;

	if (reg_client_auth_header(c, h, scope, false, &auth, err) < 0)
		return nib_err_wrap(err, "%s", what);
	/* reg_client_base only falls back to plain HTTP for an insecure host: a
	 * credential never travels in clear otherwise */
	if (auth && streq(h->scheme, "http") && !h->insecure)
		return nib_err(err, NIB_ERR_AUTH, 0,
			       "%s: credentials are not sent to %s over plain HTTP", what,
			       h->registry);
	for (;;) {
		bool same = reg_url_same_origin(url, origin);
		CURLcode rc = perform_once(c, h, url, rq, same ? auth : NULL, rs, what, err);
		if (rc == CURLE_ABORTED_BY_CALLBACK) {
			rq->method = method0;
			return -1;
		}
		if (rc != CURLE_OK) {
			if (reg_curl_code_retryable(rc) && attempt < c->retries) {
				log_info("%s: %s, retrying", what, curl_easy_strerror(rc));
				reg_client_backoff(c, attempt++, NULL);
				continue;
			}
			rq->method = method0;
			return curl_error(err, what, url, rc);
		}
		if (rs->status >= 300 && rs->status < 400 && rs->status != 304 && rs->location) {
			if (++redirects > MAX_REDIRECTS) {
				rq->method = method0;
				return nib_err(err, NIB_ERR_NETWORK, 0, "%s: too many redirects",
					       what);
			}
			char *next = reg_url_resolve(url, rs->location);
			if (!nib_str_has_prefix(next, "http://") &&
			    !nib_str_has_prefix(next, "https://")) {
				free(next);
				rq->method = method0;
				return nib_err(err, NIB_ERR_NETWORK, 0,
					       "%s: redirect to an unsupported URL", what);
			}
			if (reg_client_check_downgrade(c, url, next, what, err) < 0) {
				free(next);
				rq->method = method0;
				return -1;
			}
			free(url);
			url = next;
			if (rs->status == 303 && !streq(rq->method, "HEAD"))
				rq->method = "GET";
			continue;
		}
		if (rs->status == 401 && same && !refreshed && h->chal.scheme &&
		    streq(h->chal.scheme, "bearer")) {
			/* token expired or scope changed: fetch a new one once */
			refreshed = true;
			free(auth);
			auth = NULL;
			if (reg_client_auth_header(c, h, scope, true, &auth, err) < 0) {
				rq->method = method0;
				return nib_err_wrap(err, "%s", what);
			}
			continue;
		}
		if (reg_http_status_retryable(rs->status) && attempt < c->retries) {
			log_info("%s: HTTP %ld, retrying", what, rs->status);
			reg_client_backoff(c, attempt++,
					   rs->status == 429 || rs->status == 503 ? rs->retry_after
										  : NULL);
			continue;
		}
		if (rs->body_too_long) {
			rq->method = method0;
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: response larger than %zu bytes", what,
				       rq->resp_max ? rq->resp_max : (size_t)ERR_BODY_MAX);
		}
		rq->method = method0;
		return 0;
	}
}

/* GET /v2/ (distribution-spec: "determining support"): the scheme and the
 * authentication challenge for this host. */
int reg_client_base(struct reg_client *c, struct host_state *h, struct nib_error *err)
{
	const char *schemes[2] = {"https", "http"};
	struct http_req rq = {.method = "GET", .body_fd = -1};
	_cleanup_(reg_http_resp_clear) struct http_resp rs = {0};
	CURLcode rc = CURLE_OK;
	_cleanup_free_ char *lasturl = NULL;

	if (h->pinged)
		return 0;
	for (int s = 0; s < (h->insecure ? 2 : 1); s++) {
		for (int attempt = 0;; attempt++) {
			free(lasturl);
			lasturl = xasprintf("%s://%s/v2/", schemes[s], h->registry);
			rq.url = lasturl;
			rc = perform_once(c, h, lasturl, &rq, NULL, &rs, h->registry, err);
			if (rc == CURLE_ABORTED_BY_CALLBACK)
				return -1;
			if (rc == CURLE_OK && reg_http_status_retryable(rs.status) &&
			    attempt < c->retries) {
				reg_client_backoff(c, attempt, rs.retry_after);
				continue;
			}
			if (rc != CURLE_OK && reg_curl_code_retryable(rc) &&
			    rc != CURLE_COULDNT_RESOLVE_HOST && attempt < c->retries &&
			    !(h->insecure && s == 0)) {
				reg_client_backoff(c, attempt, NULL);
				continue;
			}
			break;
		}
		if (rc == CURLE_OK)
			break;
		log_debug("%s: %s over %s", h->registry, curl_easy_strerror(rc), schemes[s]);
	}
	if (rc != CURLE_OK) {
		if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION)
			return nib_err(err, NIB_ERR_NETWORK, 0,
				       "%s: TLS connection failed: %s (use --tls-verify=false or "
				       "--cert-dir for a registry without a trusted certificate)",
				       h->registry, curl_easy_strerror(rc));
		return nib_err(err, NIB_ERR_NETWORK, 0, "%s: cannot reach the registry: %s",
			       h->registry, curl_easy_strerror(rc));
	}
	h->scheme = xstrdup(nib_str_has_prefix(lasturl, "https") ? "https" : "http");
	if (rs.status == 401) {
		if (rs.www_auth_too_long)
			return nib_err(err, NIB_ERR_AUTH, 0,
				       "%s: WWW-Authenticate header longer than %d bytes refused",
				       h->registry, REG_WWW_AUTH_MAX);
		if (!rs.www_auth)
			return nib_err(err, NIB_ERR_AUTH, 0,
				       "%s: HTTP 401 without a WWW-Authenticate challenge",
				       h->registry);
		if (reg_www_authenticate_parse(rs.www_auth, &h->chal, err) < 0)
			return nib_err_wrap(err, "%s", h->registry);
	} else if (rs.status != 200) {
		return nib_err(err, NIB_ERR_NETWORK, 0,
			       "%s: not an OCI registry (GET /v2/ answered HTTP %ld)", h->registry,
			       rs.status);
	}
	h->pinged = true;
	log_debug("%s: %s, auth %s", h->registry, h->scheme,
		  h->chal.scheme ? h->chal.scheme : "none");
	return 0;
}

int reg_client_ping(struct reg_client *c, const char *registry, const struct reg_creds *creds,
		    struct nib_error *err)
{
	struct host_state *h = reg_client_host(c, registry);
	struct http_req rq = {.method = "GET", .body_fd = -1};
	_cleanup_(reg_http_resp_clear) struct http_resp rs = {0};
	_cleanup_free_ char *url = NULL;

	if (creds) {
		reg_creds_clear(&h->creds);
		h->creds.username = xstrdup(creds->username);
		h->creds.password = xstrdup(creds->password);
		h->have_creds = h->creds_looked_up = true;
	}
	if (reg_client_base(c, h, err) < 0)
		return -1;
	if (!h->chal.scheme)
		return 0;
	url = xasprintf("%s://%s/v2/", h->scheme, registry);
	rq.url = url;
	if (reg_client_do(c, h, NULL, &rq, &rs, registry, err) < 0)
		return -1;
	if (rs.status != 200)
		return reg_http_error(err, registry, &rs, "login");
	return 0;
}

void reg_client_setup_download(struct reg_client *c, const char *url, void *easy)
{
	_cleanup_free_ char *hp = reg_url_hostport(url);

	reg_client_setup_easy(c, reg_client_host(c, hp), easy);
}

bool reg_client_download_retry(struct reg_client *c, int attempt, int curl_code, long status)
{
	bool again = curl_code != CURLE_OK ? reg_curl_code_retryable((CURLcode)curl_code)
					   : reg_http_status_retryable(status);

	if (!again || attempt >= c->retries)
		return false;
	reg_client_backoff(c, attempt, NULL);
	return true;
}
