/* SPDX-License-Identifier: Apache-2.0 */
#ifndef BLD_SERVE_INTERNAL
#error "builder/serve/serve_api.h is internal to nib serve (builder/serve/)"
#endif

/*
 * nib serve: what the HTTP side (serve_http.c) hands the API handlers
 * (serve_api.c, serve_log.c): one request, routed and authenticated.
 */
#ifndef NIB_SERVE_API_H
#define NIB_SERVE_API_H

#include "builder/serve/serve_internal.h"

struct MHD_Connection;

enum bld_srv_route {
	BLD_SRV_R_WEB,
	BLD_SRV_R_HEALTHZ,
	BLD_SRV_R_READYZ,
	BLD_SRV_R_METRICS,
	BLD_SRV_R_BUILDS,
	BLD_SRV_R_BUILD,
	BLD_SRV_R_LOG,
	BLD_SRV_R_CANCEL,
	BLD_SRV_R_WHOAMI,
	BLD_SRV_R_CONTEXT,
};

struct bld_srv_req {
	enum bld_srv_route id;
	char *route;
	const char *method;
	char arg[64];			     /* the build ID in the path */
	struct bld_srv_tenants *tenants;     /* held while the request lives */
	const struct bld_srv_tenant *tenant; /* one of them */
	bool has_body, json, answered;
	unsigned fail_code; /* the body is refused: answered when it ends */
	char *fail;
	uint64_t limit, received;
	struct nib_buf body; /* a JSON body */
	int body_fd;	     /* a context body (an unnamed file in STATE/tmp) */
};

void bld_srv_req_free(struct bld_srv_req *r);

/* Queue an answer; 0, or -1 when libmicrohttpd refused it. */
int bld_srv_reply(struct MHD_Connection *c, unsigned code, const char *type, const char *body,
		  size_t len);
int bld_srv_reply_json(struct MHD_Connection *c, unsigned code, const char *json);
/* {"status":CODE,"error":"MESSAGE"}; 401 adds WWW-Authenticate, 405 Allow
 * (from "(allowed: A,B)" in the message). */
int bld_srv_reply_error(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
    _printf_(3, 4);

/* serve_api.c: answer a routed request whose body (if any) is complete. */
int bld_srv_api_handle(struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_req *r);
/* serve_log.c: GET /v1/builds/ID/log. */
int bld_srv_api_log(struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_req *r,
		    const struct bld_srv_build *b);
/* The port the service listens on (for --listen ADDR:0). */
unsigned bld_srv_http_port(struct bld_srv *s);

#endif
