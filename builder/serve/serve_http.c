/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: the HTTP side on libmicrohttpd (a thread per connection, so a
 * log follower may wait for its build). Routing, authentication, request
 * bodies with their limits, and JSON errors; the handlers are in
 * serve_api.c.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <string.h>
#include <strings.h>

#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_api.h"

void bld_srv_req_free(struct bld_srv_req *r)
{
	if (!r)
		return;
	nib_buf_free(&r->body);
	bld_srv_tenants_put(r->tenants);
	if (r->body_fd >= 0)
		close(r->body_fd);
	free(r->route);
	free(r->fail);
	free(r);
}

int bld_srv_reply(struct MHD_Connection *c, unsigned code, const char *type, const char *body,
		  size_t len)
{
	struct MHD_Response *res =
	    MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	enum MHD_Result r = MHD_queue_response(c, code, res);
	MHD_destroy_response(res);
	return r == MHD_YES ? 0 : -1;
}

int bld_srv_reply_json(struct MHD_Connection *c, unsigned code, const char *json)
{
	_cleanup_free_ char *body = xasprintf("%s\n", json);
	return bld_srv_reply(c, code, "application/json", body, strlen(body));
}

int bld_srv_reply_error(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	_cleanup_buf_ struct nib_buf b = {0};
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	nib_buf_printf(&b, "{\"status\":%u,\"error\":", code);
	nib_buf_json_string(&b, msg);
	nib_buf_puts(&b, "}\n");
	struct MHD_Response *res =
	    MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (code == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(res, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"nib serve\"");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED) {
		/* the message is "METHOD not allowed on PATH (allowed: A, B)" */
		const char *allow = strstr(msg, "(allowed: ");
		if (allow) {
			_cleanup_free_ char *a = xstrndup(allow + 10, strcspn(allow + 10, ")"));
			MHD_add_response_header(res, MHD_HTTP_HEADER_ALLOW, a);
		}
	}
	enum MHD_Result r = MHD_queue_response(c, code, res);
	MHD_destroy_response(res);
	return r == MHD_YES ? 0 : -1;
}

/* Routes: the path pattern ("*" one segment), the methods, the handler
 * and whether a tenant's token is needed. */
static const struct route {
	const char *pattern;
	const char *methods; /* "GET,HEAD" */
	enum bld_srv_route id;
	bool auth;
} routes[] = {
    {"/", "GET,HEAD", BLD_SRV_R_WEB, false},
    {"/healthz", "GET,HEAD", BLD_SRV_R_HEALTHZ, false},
    {"/readyz", "GET,HEAD", BLD_SRV_R_READYZ, false},
    {"/metrics", "GET,HEAD", BLD_SRV_R_METRICS, false},
    {"/v1/builds", "GET,HEAD,POST", BLD_SRV_R_BUILDS, true},
    {"/v1/builds/*", "GET,HEAD,DELETE", BLD_SRV_R_BUILD, true},
    {"/v1/builds/*/log", "GET,HEAD", BLD_SRV_R_LOG, true},
    {"/v1/builds/*/cancel", "POST", BLD_SRV_R_CANCEL, true},
    {"/v1/whoami", "GET,HEAD", BLD_SRV_R_WHOAMI, true},
    /* the Kubernetes executor's one-time URL: its token is the credential */
    {"/v1/contexts/*", "GET", BLD_SRV_R_CONTEXT, false},
};

/* Match `path` against `pattern`; the "*" segment goes to `arg`. */
static bool match(const char *pattern, const char *path, char *arg, size_t argsz)
{
	while (*pattern && *path) {
		if (*pattern == '*') {
			size_t n = strcspn(path, "/");
			if (n == 0 || n >= argsz)
				return false;
			memcpy(arg, path, n);
			arg[n] = '\0';
			path += n;
			pattern++;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return !*pattern && !*path;
}

static bool method_in(const char *method, const char *list)
{
	size_t n = strlen(method);
	for (const char *p = list; *p;) {
		size_t m = strcspn(p, ",");
		if (m == n && strncmp(p, method, n) == 0)
			return true;
		p += m;
		if (*p == ',')
			p++;
	}
	return false;
}

static const char *body_kind(struct MHD_Connection *c, bool *is_json)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	static const char *const tars[] = {"application/x-tar", "application/tar",
					   "application/gzip",	"application/x-gzip",
					   "application/zstd",	"application/octet-stream"};
	*is_json = false;
	if (!ct)
		return NULL;
	size_t n = strcspn(ct, "; ");
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0) {
		*is_json = true;
		return ct;
	}
	for (size_t i = 0; i < ARRAY_SIZE(tars); i++)
		if (strlen(tars[i]) == n && strncasecmp(ct, tars[i], n) == 0)
			return ct;
	return NULL;
}

/* The first call of a request: route, method, tenant, body limits. Fills
 * r or queues the error answer (returns 1 then). */
static int begin(struct bld_srv *s, struct MHD_Connection *c, const char *url, const char *method,
		 struct bld_srv_req *r)
{
	const struct route *rt = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(routes) && !rt; i++)
		if (match(routes[i].pattern, url, r->arg, sizeof(r->arg)))
			rt = &routes[i];
	if (!rt)
		return bld_srv_reply_error(c, MHD_HTTP_NOT_FOUND, "no such path: %s", url), 1;
	if (!method_in(method, rt->methods))
		return bld_srv_reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
					   "%s not allowed on %s (allowed: %s)", method, url,
					   rt->methods),
		       1;
	r->id = rt->id;
	r->route = xstrdup(url);
	if (rt->auth) {
		const char *authz =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		r->tenants = bld_srv_tenants_get(s);
		r->tenant = bld_srv_tenant_auth(r->tenants, authz);
		if (!r->tenant) {
			atomic_fetch_add(&s->m.rejected, 1);
			return bld_srv_reply_error(c, MHD_HTTP_UNAUTHORIZED,
						   authz ? "unknown token"
							 : "a bearer token is needed "
							   "(Authorization: Bearer TOKEN)"),
			       1;
		}
	}
	if (r->id == BLD_SRV_R_BUILDS && streq(method, "POST")) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		uint64_t len = 0;
		r->has_body = true;
		if (!body_kind(c, &r->json))
			return bld_srv_reply_error(
				   c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
				   "a build is submitted as application/json (a spec) or "
				   "application/x-tar, application/gzip, application/zstd (a "
				   "context, with the spec in the Nib-Build-Spec header)"),
			       1;
		r->limit = r->json ? BLD_SRV_SPEC_MAX : s->cfg.max_context;
		if (cl && nib_parse_u64(cl, &len) == 0 && len > r->limit)
			return bld_srv_reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
						   "the body (%llu bytes) is larger than the limit "
						   "of %llu bytes",
						   (unsigned long long)len,
						   (unsigned long long)r->limit),
			       1;
		if (s->draining)
			return bld_srv_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
						   "the service is shutting down"),
			       1;
	}
	return 0;
}

/* Take a piece of the body: into memory for JSON, else a file in the
 * state folder's tmp/. libmicrohttpd answers only before or after a body:
 * a refusal is kept in r->fail and answered at its end. */
static void body_in(struct bld_srv *s, struct bld_srv_req *r, const char *data, size_t n)
{
	r->received += n;
	if (r->fail_code)
		return;
	if (r->received > r->limit) {
		r->fail_code = MHD_HTTP_CONTENT_TOO_LARGE;
		r->fail = xasprintf("the body is larger than the limit of %llu bytes",
				    (unsigned long long)r->limit);
		return;
	}
	if (r->json) {
		nib_buf_append(&r->body, data, n);
		return;
	}
	if (r->body_fd < 0) {
		r->body_fd = openat(s->state_fd, "tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (r->body_fd < 0) {
			r->fail_code = MHD_HTTP_INTERNAL_SERVER_ERROR;
			r->fail = xasprintf("cannot keep the context: %s", strerror(errno));
			return;
		}
	}
	if (nib_write_all(r->body_fd, data, n) < 0) {
		r->fail_code = MHD_HTTP_INSUFFICIENT_STORAGE;
		r->fail = xasprintf("cannot keep the context: %s", strerror(errno));
	}
}

/* What a refused body may still send before the connection is closed. */
#define DISCARD_MAX (16ULL << 20)

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct bld_srv *s = cls;
	struct bld_srv_req *r = *con_cls;

	if (!r) {
		r = xcalloc(1, sizeof(*r));
		r->body_fd = -1;
		*con_cls = r;
		atomic_fetch_add(&s->m.requests, 1);
		if (begin(s, c, url, method, r) != 0) {
			r->answered = true;
			return MHD_YES;
		}
		if (r->has_body)
			return MHD_YES; /* the body comes in the next calls */
	}
	if (*upload_data_size) {
		body_in(s, r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		/* a body that goes on and on past its limit: cut */
		return r->received > r->limit + DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	if (r->answered)
		return MHD_YES;
	r->answered = true;
	r->method = method;
	if (r->fail_code)
		return bld_srv_reply_error(c, r->fail_code, "%s", r->fail) < 0 ? MHD_NO : MHD_YES;
	return bld_srv_api_handle(s, c, r) < 0 ? MHD_NO : MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	bld_srv_req_free(*con_cls);
	*con_cls = NULL;
}

int bld_srv_http_start(struct bld_srv *s, struct nib_error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
	struct addrinfo *ai = NULL;
	char port[16];

	snprintf(port, sizeof(port), "%u", s->cfg.port);
	if (getaddrinfo(s->cfg.listen_host, port, &hints, &ai) != 0 || !ai)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--listen %s: not a numeric address (127.0.0.1, [::1], 0.0.0.0)",
			       s->cfg.listen_host);
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_Daemon *d = MHD_start_daemon(
	    flags, (uint16_t)s->cfg.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
	    ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT,
	    512U, MHD_OPTION_CONNECTION_TIMEOUT, 120U, MHD_OPTION_THREAD_STACK_SIZE,
	    (size_t)(1024 * 1024), MHD_OPTION_LISTENING_ADDRESS_REUSE, 1U, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!d)
		return nib_err(err, NIB_ERR_ENV, errno, "cannot listen on %s:%u",
			       s->cfg.listen_host, s->cfg.port);
	s->http = d;
	return 0;
}

unsigned bld_srv_http_port(struct bld_srv *s)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->http, MHD_DAEMON_INFO_BIND_PORT);
	return i ? i->port : 0;
}

void bld_srv_http_stop(struct bld_srv *s)
{
	if (s->http)
		MHD_stop_daemon(s->http);
	s->http = NULL;
}
