/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: the /v1 API (docs/serve.md): submit, list, get, cancel and
 * delete builds; health, readiness and metrics; the web page.
 */
#include <archive.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "builder/context.h"
#include "containerfile/containerfile.h"
#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_api.h"

static json_object *time_json(double t)
{
	char when[40];
	struct tm tm;
	time_t sec = (time_t)t;

	if (t <= 0)
		return NULL;
	gmtime_r(&sec, &tm);
	size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03dZ", (int)((t - (double)sec) * 1000));
	return json_object_new_string(when);
}

static void put(json_object *o, const char *k, json_object *v)
{
	if (v)
		json_object_object_add(o, k, v);
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* A build as the API shows it. */
static json_object *build_json(const struct bld_srv_build *b)
{
	json_object *o = json_object_new_object();
	json_object *spec = b->spec ? json_tokener_parse(b->spec) : NULL;
	json_object *tags = NULL;

	put(o, "id", json_object_new_string(b->id));
	put(o, "tenant", json_object_new_string(b->tenant));
	put(o, "state", json_object_new_string(bld_srv_state_name(b->state)));
	put(o, "created", time_json(b->created));
	put(o, "started", time_json(b->started));
	put(o, "finished", time_json(b->finished));
	put(o, "step", json_object_new_int(b->step));
	put(o, "steps", json_object_new_int(b->steps));
	put(o, "digest", str_or_null(b->digest));
	put(o, "imageId", str_or_null(b->image_id));
	put(o, "error", str_or_null(b->error));
	put(o, "cacheHits", json_object_new_int(b->cache_hits));
	put(o, "logBytes", json_object_new_int64(b->log_bytes));
	put(o, "pushedBytes", json_object_new_int64(b->pushed_bytes));
	if (spec && json_object_object_get_ex(spec, "tags", &tags) && b->digest &&
	    b->state == BLD_SRV_SUCCEEDED) {
		json_object *pulls = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(tags); i++) {
			const char *t = json_object_get_string(json_object_array_get_idx(tags, i));
			size_t n = strlen(t);
			const char *colon = strrchr(t, ':');
			if (colon && !strchr(colon, '/'))
				n = (size_t)(colon - t);
			_cleanup_free_ char *pull = xasprintf("%.*s@%s", (int)n, t, b->digest);
			json_object_array_add(pulls, json_object_new_string(pull));
		}
		put(o, "pull", pulls);
	}
	put(o, "spec", spec);
	return o;
}

static int reply_obj(struct MHD_Connection *c, unsigned code, json_object *o)
{
	return bld_srv_reply_json(c, code,
				  json_object_to_json_string_ext(
				      o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int reply_build(struct MHD_Connection *c, unsigned code, const struct bld_srv_build *b)
{
	_cleanup_(json_object_putp) json_object *o = build_json(b);
	return reply_obj(c, code, o);
}

static int reply_internal(struct MHD_Connection *c, struct nib_error *e)
{
	log_error("serve: %s", e->msg);
	int r = bld_srv_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", e->msg);
	nib_err_clear(e);
	return r;
}

/* ---- submit ------------------------------------------------------------------ */

static void new_id(char id[33])
{
	unsigned char raw[16];
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(raw, &ts, MIN(sizeof(ts), sizeof(raw)));
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
}

static bool id_ok(const char *id)
{
	if (strlen(id) != 32)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* A refusal's result for the callers below: 1 answered, -1 when the
 * answer could not be queued. */
static int answered(int reply)
{
	return reply < 0 ? -1 : 1;
}

/* Whether the spec's sources and tags are allowed: 0, else answered. */
static int check_source(struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_req *r,
			const struct bld_srv_spec *sp)
{
	struct nib_error e = {0};
	const char *url = sp->git_url ? sp->git_url : sp->context_url;

	if (!r->json && url)
		return answered(
		    bld_srv_reply_error(c, MHD_HTTP_BAD_REQUEST,
					"spec: a context in the body and %s exclude each other",
					sp->git_url ? "git" : "contextUrl"));
	if (r->json && !url && !sp->containerfile)
		return answered(
		    bld_srv_reply_error(c, MHD_HTTP_BAD_REQUEST,
					"spec: a JSON submission needs containerfile, git or "
					"contextUrl (or send the context as a tar body)"));
	if (url && !bld_srv_url_allowed(url, &s->cfg.git_hosts, &e)) {
		int ret = bld_srv_reply_error(c, MHD_HTTP_FORBIDDEN, "spec: %s: %s",
					      sp->git_url ? "git.url" : "contextUrl", e.msg);
		nib_err_clear(&e);
		return answered(ret);
	}
	for (size_t i = 0; i < sp->tags.len; i++)
		if (!bld_srv_tenant_may_push(r->tenants, r->tenant, sp->tags.v[i]))
			return answered(bld_srv_reply_error(
			    c, MHD_HTTP_FORBIDDEN,
			    "spec: tags[%zu]: tenant %s may not push %s (outside its "
			    "repository prefixes)",
			    i, r->tenant->name, sp->tags.v[i]));
	return 0;
}

/* The build's folder, made under a temporary name and renamed into place
 * only when complete. */
static int prepare_dir(struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_req *r,
		       const struct bld_srv_spec *sp, const char *id)
{
	struct nib_error e = {0};
	_cleanup_free_ char *tmp = xasprintf("%s/builds/.%s", s->cfg.state_dir, id);
	_cleanup_free_ char *ctx = xasprintf("%s/context", tmp);
	_cleanup_free_ char *final = xasprintf("%s/builds/%s", s->cfg.state_dir, id);

	if (mkdir(tmp, 0700) < 0 || mkdir(ctx, 0700) < 0) {
		nib_err(&e, NIB_ERR_IO, errno, "%s", tmp);
		goto internal;
	}
	if (r->body_fd >= 0) {
		lseek(r->body_fd, 0, SEEK_SET);
		struct bld_fetch_limits lim;
		bld_srv_context_limits(s, NULL, &lim);
		if (bld_context_extract(r->body_fd, ctx, "upload", &lim, &e) < 0) {
			(void)nib_rm_rf_at(AT_FDCWD, tmp, NULL);
			int ret = bld_srv_reply_error(c,
						      e.kind == NIB_ERR_CORRUPT
							  ? MHD_HTTP_BAD_REQUEST
							  : MHD_HTTP_INTERNAL_SERVER_ERROR,
						      "%s", e.msg);
			nib_err_clear(&e);
			return answered(ret);
		}
	}
	if (sp->containerfile) {
		_cleanup_free_ char *cf = xasprintf("%s/Containerfile", tmp);
		if (nib_write_file_atomic_at(AT_FDCWD, cf, sp->containerfile,
					     strlen(sp->containerfile), 0600, &e) < 0)
			goto internal;
	} else if (!sp->git_url && !sp->context_url) {
		_cleanup_close_ int cfd = open(ctx, O_PATH | O_DIRECTORY | O_CLOEXEC);
		const char *want = sp->file;
		bool found = false;
		struct stat st;
		if (want)
			found = fstatat(cfd, want, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				S_ISREG(st.st_mode);
		else
			found = fstatat(cfd, "Containerfile", &st, 0) == 0 ||
				fstatat(cfd, "Dockerfile", &st, 0) == 0;
		if (!found) {
			(void)nib_rm_rf_at(AT_FDCWD, tmp, NULL);
			return answered(bld_srv_reply_error(
			    c, MHD_HTTP_BAD_REQUEST,
			    want ? "spec: file: %s is not a file in the context"
				 : "the context has no Containerfile or Dockerfile%s",
			    want ? want : ""));
		}
	}
	if (rename(tmp, final) < 0) {
		nib_err(&e, NIB_ERR_IO, errno, "%s", final);
		goto internal;
	}
	return 0;
internal:
	(void)nib_rm_rf_at(AT_FDCWD, tmp, NULL);
	return answered(reply_internal(c, &e));
}

static int submit(struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_req *r)
{
	struct bld_srv_spec sp;
	struct bld_srv_build b = {0};
	struct nib_error e = {0};
	const char *text = r->json
			       ? r->body.data
			       : MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Nib-Build-Spec");
	size_t len = r->json ? r->body.len : (text ? strlen(text) : 0);
	int64_t queued = 0;
	int ret;

	if (!text || !len) {
		text = "{}";
		len = 2;
	}
	if (bld_srv_spec_parse(text, len, &sp, &e) < 0) {
		ret = bld_srv_reply_error(c, MHD_HTTP_BAD_REQUEST, "%s", e.msg);
		nib_err_clear(&e);
		return ret;
	}
	if ((ret = check_source(s, c, r, &sp)) != 0) {
		ret = ret < 0 ? -1 : 0;
		goto out;
	}
	if (bld_srv_db_count(s->db, BLD_SRV_QUEUED, &queued) == 0 &&
	    (uint64_t)queued >= s->cfg.max_queue) {
		ret = bld_srv_reply_error(c, MHD_HTTP_TOO_MANY_REQUESTS,
					  "the queue is full (%lld builds wait; limit %u)",
					  (long long)queued, s->cfg.max_queue);
		goto out;
	}
	new_id(b.id);
	if ((ret = prepare_dir(s, c, r, &sp, b.id)) != 0) {
		ret = ret < 0 ? -1 : 0;
		goto out;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	b.tenant = r->tenant->name;
	b.state = BLD_SRV_QUEUED;
	b.spec = bld_srv_spec_json(&sp);
	b.created = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (bld_srv_db_insert(s->db, &b, &e) < 0) {
		_cleanup_free_ char *dir = xasprintf("%s/builds/%s", s->cfg.state_dir, b.id);
		(void)nib_rm_rf_at(AT_FDCWD, dir, NULL);
		free(b.spec);
		ret = reply_internal(c, &e);
		goto out;
	}
	atomic_fetch_add(&s->m.submitted, 1);
	pthread_mutex_lock(&s->lock);
	bld_srv_jobs_kick(s);
	pthread_mutex_unlock(&s->lock);
	ret = reply_build(c, MHD_HTTP_CREATED, &b);
	free(b.spec);
out:
	bld_srv_spec_free(&sp);
	return ret;
}

/* ---- the others ----------------------------------------------------------------- */

static int list(struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_req *r)
{
	const char *st = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "state");
	const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	struct bld_srv_build *v = NULL;
	struct nib_error e = {0};
	uint64_t limit = 100;
	int state = -1;
	size_t n;

	if (st && (state = bld_srv_state_parse(st)) < 0)
		return bld_srv_reply_error(c, MHD_HTTP_BAD_REQUEST,
					   "state=%s: not queued, running, succeeded, failed, "
					   "cancelled or interrupted",
					   st);
	if (lim && (nib_parse_u64(lim, &limit) < 0 || limit == 0 || limit > 1000))
		return bld_srv_reply_error(c, MHD_HTTP_BAD_REQUEST, "limit=%s: not 1 to 1000", lim);
	if (bld_srv_db_list(s->db, r->tenant->name, state, (int)limit, &v, &n, &e) < 0)
		return reply_internal(c, &e);
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, build_json(&v[i]));
	json_object_object_add(o, "builds", a);
	bld_srv_builds_free(v, n);
	return reply_obj(c, MHD_HTTP_OK, o);
}

/* The build in the path, when the tenant may see it; else the answer is
 * queued (404 for another tenant's build too) and 1 returned. */
static int find(struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_req *r,
		struct bld_srv_build *b)
{
	struct nib_error e = {0};
	int found;

	if (!id_ok(r->arg))
		found = 0;
	else if ((found = bld_srv_db_get(s->db, r->arg, r->tenant->name, b, &e)) < 0)
		return answered(reply_internal(c, &e));
	if (!found)
		return answered(bld_srv_reply_error(c, MHD_HTTP_NOT_FOUND, "no build %s", r->arg));
	return 0;
}

static int cancel(struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_req *r,
		  struct bld_srv_build *b)
{
	struct nib_error e = {0};

	pthread_mutex_lock(&s->lock);
	int running = bld_srv_jobs_cancel(s, b->id);
	int changed = running ? 0
			      : bld_srv_db_transition(s->db, b->id, BLD_SRV_QUEUED,
						      BLD_SRV_CANCELLED, "cancelled", &e);
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	if (changed < 0)
		return reply_internal(c, &e);
	if (!running && !changed)
		return bld_srv_reply_error(c, MHD_HTTP_CONFLICT, "build %s is already %s", b->id,
					   bld_srv_state_name(b->state));
	bld_srv_build_clear(b);
	if (bld_srv_db_get(s->db, r->arg, NULL, b, &e) < 0)
		return reply_internal(c, &e);
	return reply_build(c, MHD_HTTP_ACCEPTED, b);
}

static int delete (struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_build *b)
{
	struct nib_error e = {0};
	_cleanup_free_ char *dir = xasprintf("%s/builds/%s", s->cfg.state_dir, b->id);

	if (!bld_srv_state_final(b->state))
		return bld_srv_reply_error(c, MHD_HTTP_CONFLICT,
					   "build %s is %s: cancel it first (POST "
					   "/v1/builds/%s/cancel)",
					   b->id, bld_srv_state_name(b->state), b->id);
	if (bld_srv_db_delete(s->db, b->id, &e) < 0)
		return reply_internal(c, &e);
	(void)nib_rm_rf_at(AT_FDCWD, dir, NULL);
	return bld_srv_reply(c, MHD_HTTP_NO_CONTENT, "application/json", "", 0);
}

static int metrics(struct bld_srv *s, struct MHD_Connection *c)
{
	_cleanup_buf_ struct nib_buf b = {0};
	int64_t queued = 0;
	uint64_t done = 0;

	(void)bld_srv_db_count(s->db, BLD_SRV_QUEUED, &queued);
	pthread_mutex_lock(&s->lock);
	unsigned running = s->n_running;
	pthread_mutex_unlock(&s->lock);
	nib_buf_printf(&b,
		       "# HELP nib_serve_queue_length Builds waiting to run.\n"
		       "# TYPE nib_serve_queue_length gauge\n"
		       "nib_serve_queue_length %lld\n"
		       "# HELP nib_serve_builds_running Builds running now.\n"
		       "# TYPE nib_serve_builds_running gauge\n"
		       "nib_serve_builds_running %u\n"
		       "# HELP nib_serve_builds_submitted_total Builds accepted since the start.\n"
		       "# TYPE nib_serve_builds_submitted_total counter\n"
		       "nib_serve_builds_submitted_total %llu\n"
		       "# HELP nib_serve_builds_finished_total Builds that ended, by state.\n"
		       "# TYPE nib_serve_builds_finished_total counter\n",
		       (long long)queued, running,
		       (unsigned long long)atomic_load(&s->m.submitted));
	for (int st = BLD_SRV_SUCCEEDED; st <= BLD_SRV_INTERRUPTED; st++) {
		uint64_t n = atomic_load(&s->m.finished[st]);
		done += n;
		nib_buf_printf(&b, "nib_serve_builds_finished_total{state=\"%s\"} %llu\n",
			       bld_srv_state_name((enum bld_srv_state)st), (unsigned long long)n);
	}
	nib_buf_printf(
	    &b,
	    "# HELP nib_serve_build_duration_seconds Time builds ran (start to end).\n"
	    "# TYPE nib_serve_build_duration_seconds summary\n"
	    "nib_serve_build_duration_seconds_sum %.3f\n"
	    "nib_serve_build_duration_seconds_count %llu\n"
	    "# HELP nib_serve_cache_hits_total Build steps taken from the cache.\n"
	    "# TYPE nib_serve_cache_hits_total counter\n"
	    "nib_serve_cache_hits_total %llu\n"
	    "# HELP nib_serve_cache_misses_total Build steps that ran.\n"
	    "# TYPE nib_serve_cache_misses_total counter\n"
	    "nib_serve_cache_misses_total %llu\n"
	    "# HELP nib_serve_pushed_bytes_total Bytes of blobs pushed to registries.\n"
	    "# TYPE nib_serve_pushed_bytes_total counter\n"
	    "nib_serve_pushed_bytes_total %llu\n"
	    "# HELP nib_serve_http_requests_total HTTP requests.\n"
	    "# TYPE nib_serve_http_requests_total counter\n"
	    "nib_serve_http_requests_total %llu\n"
	    "# HELP nib_serve_http_unauthorized_total Requests refused for their token.\n"
	    "# TYPE nib_serve_http_unauthorized_total counter\n"
	    "nib_serve_http_unauthorized_total %llu\n",
	    (double)atomic_load(&s->m.duration_ms_sum) / 1000.0, (unsigned long long)done,
	    (unsigned long long)atomic_load(&s->m.cache_hits),
	    (unsigned long long)atomic_load(&s->m.cache_misses),
	    (unsigned long long)atomic_load(&s->m.bytes_pushed),
	    (unsigned long long)atomic_load(&s->m.requests),
	    (unsigned long long)atomic_load(&s->m.rejected));
	return bld_srv_reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data,
			     b.len);
}

static int whoami(struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_req *r)
{
	_cleanup_(json_object_putp) json_object *o = json_object_new_object();
	json_object *p = json_object_new_array();
	json_object_object_add(o, "tenant", json_object_new_string(r->tenant->name));
	for (size_t i = 0; i < r->tenant->prefixes.len; i++)
		json_object_array_add(p, json_object_new_string(r->tenant->prefixes.v[i]));
	json_object_object_add(o, "prefixes", p);
	json_object_object_add(o, "anyPrefix", json_object_new_boolean(r->tenants->open));
	return reply_obj(c, MHD_HTTP_OK, o);
}

/* GET /v1/contexts/ID?token=T: a running build's context (context/ and an
 * inline Containerfile) as a tar, once; anything else is 404. */
static int context(struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_req *r)
{
	const char *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	_cleanup_free_ char *dir = NULL;
	bool ok = false;

	pthread_mutex_lock(&s->lock);
	for (struct bld_srv_job *j = s->jobs; j && token; j = j->next) {
		if (!streq(j->b.id, r->arg) || !j->ctx_token[0] ||
		    strlen(token) != strlen(j->ctx_token))
			continue;
		unsigned diff = 0;
		for (size_t i = 0; token[i]; i++)
			diff |= (unsigned char)(token[i] ^ j->ctx_token[i]);
		if (diff == 0) {
			ok = true;
			j->ctx_token[0] = '\0'; /* used */
			dir = xstrdup(j->dir);
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!ok)
		return bld_srv_reply_error(c, MHD_HTTP_NOT_FOUND, "no such context");

	static const char *const leave_out[] = {"log", "work"};
	struct nib_error e = {0};
	struct cf_ignore *ig = cf_ignore_new(leave_out, ARRAY_SIZE(leave_out), NULL);
	struct archive *a = archive_write_new();
	int fd = openat(s->state_fd, "tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	struct stat st;
	archive_write_set_format_pax_restricted(a);
	int ret = fd < 0 || archive_write_open_fd(a, fd) != ARCHIVE_OK ||
			  bld_srv_tar_tree(a, dir, "", ig, NULL, &e) < 0 ||
			  archive_write_close(a) != ARCHIVE_OK || fstat(fd, &st) < 0
		      ? -1
		      : 0;
	archive_write_free(a);
	cf_ignore_free(ig);
	if (ret < 0) {
		if (fd >= 0)
			close(fd);
		if (!e.msg)
			nib_err(&e, NIB_ERR_IO, errno, "the context of %s", r->arg);
		return reply_internal(c, &e);
	}
	struct MHD_Response *res = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-tar");
	enum MHD_Result q = MHD_queue_response(c, MHD_HTTP_OK, res);
	MHD_destroy_response(res);
	return q == MHD_YES ? 0 : -1;
}

int bld_srv_api_handle(struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_req *r)
{
	struct bld_srv_build b = {0};
	int ret;

	switch (r->id) {
	case BLD_SRV_R_WEB:
		return bld_srv_reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", bld_srv_web_html,
				     strlen(bld_srv_web_html));
	case BLD_SRV_R_HEALTHZ:
		return bld_srv_reply(c, MHD_HTTP_OK, "text/plain", "ok\n", 3);
	case BLD_SRV_R_READYZ:
		if (s->draining)
			return bld_srv_reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
					     "draining\n", 9);
		return bld_srv_reply(c, MHD_HTTP_OK, "text/plain", "ready\n", 6);
	case BLD_SRV_R_METRICS:
		return metrics(s, c);
	case BLD_SRV_R_WHOAMI:
		return whoami(s, c, r);
	case BLD_SRV_R_CONTEXT:
		return context(s, c, r);
	case BLD_SRV_R_BUILDS:
		return streq(r->method, "POST") ? submit(s, c, r) : list(s, c, r);
	case BLD_SRV_R_BUILD:
	case BLD_SRV_R_LOG:
	case BLD_SRV_R_CANCEL:
		break;
	}
	if ((ret = find(s, c, r, &b)) != 0)
		return ret < 0 ? -1 : 0;
	if (r->id == BLD_SRV_R_LOG)
		ret = bld_srv_api_log(s, c, r, &b);
	else if (r->id == BLD_SRV_R_CANCEL)
		ret = cancel(s, c, r, &b);
	else if (streq(r->method, "DELETE"))
		ret = delete (s, c, &b);
	else
		ret = reply_build(c, MHD_HTTP_OK, &b);
	bld_srv_build_clear(&b);
	return ret;
}
