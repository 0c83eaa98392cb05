/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blob downloads (distribution-spec: GET /v2/<name>/blobs/<digest>), several
 * at once on one curl multi handle. Each blob streams into a store writer
 * (temp file, hashed on the way) and is committed only when its size and
 * digest match the descriptor. A dropped connection resumes with
 * `Range: bytes=N-`; network errors, 5xx and 429 are retried with backoff
 * (Retry-After honoured) without holding up the other transfers; redirects
 * are followed by hand so that the Authorization header stays with the
 * registry's own origin.
 */
#define NIB_REGISTRY_INTERNAL
#include <string.h>
#include <time.h>

#include "registry/registry_internal.h"

struct xfer {
	struct fetch_item *item;
	struct stg_blob_writer *w;
	CURL *e;
	struct curl_slist *hdrs;
	struct http_resp rs;
	char *url;
	int attempt;
	int redirects;
	bool refreshed;
	bool started;	 /* first body byte seen for the current request */
	int64_t offset;	 /* Range start of the current request */
	double ready_at; /* monotonic seconds: not before */
	bool active;
	bool done;
	struct nib_error werr; /* a store write error from the callback */
	bool too_big;
	struct fetch_ctx *ctx;
	int64_t last_report;
};

struct fetch_ctx {
	struct reg_client *c;
	struct host_state *h;
	struct stg_store *st;
	const char *what;
	char *scope;
	char *origin;
	char *auth;
};

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t xfer_header(char *p, size_t sz, size_t n, void *data);

static size_t xfer_write(char *p, size_t sz, size_t n, void *data)
{
	struct xfer *x = data;
	size_t len = sz * n;
	long status = 0;

	curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) {
		/* an error document: keep a little of it for the message */
		if (x->rs.body.len < 16384)
			nib_buf_append(&x->rs.body, p, MIN(len, 16384 - x->rs.body.len));
		return len;
	}
	if (!x->started) {
		x->started = true;
		if (x->offset > 0 && status == 200) {
			/* the server ignored Range: start over */
			struct nib_error e = {0};
			stg_blob_writer_free(x->w);
			x->w = NULL;
			if (stg_blob_writer_new(x->ctx->st, &x->w, &e) < 0) {
				nib_err_move(&x->werr, &e);
				return 0;
			}
			x->offset = 0;
		}
	}
	if (stg_blob_writer_size(x->w) + (int64_t)len > x->item->d.size) {
		x->too_big = true;
		return 0;
	}
	if (stg_blob_writer_write(x->w, p, len, &x->werr) < 0)
		return 0;
	struct reg_client *c = x->ctx->c;
	int64_t done = stg_blob_writer_size(x->w);
	/* each MiB: a terminal's bar moves, an event stream stays short */
	if (c->o.progress_fn && done - x->last_report >= (1 << 20)) {
		x->last_report = done;
		c->o.progress_fn(c->o.progress_data, "progress", x->item->d.digest, done,
				 x->item->d.size);
	}
	return len;
}

static size_t xfer_header(char *p, size_t sz, size_t n, void *data)
{
	struct xfer *x = data;
	size_t len = sz * n;
	const char *colon = memchr(p, ':', len);

	if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
		free(x->rs.location);
		free(x->rs.retry_after);
		x->rs.location = x->rs.retry_after = NULL;
		return len;
	}
	if (!colon)
		return len;
	size_t klen = (size_t)(colon - p);
	char **slot = NULL;
	if (klen == 8 && strncasecmp(p, "location", 8) == 0)
		slot = &x->rs.location;
	else if (klen == 11 && strncasecmp(p, "retry-after", 11) == 0)
		slot = &x->rs.retry_after;
	else if (klen == 12 && strncasecmp(p, "content-type", 12) == 0)
		slot = &x->rs.content_type;
	if (slot) {
		const char *v = colon + 1, *end = p + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		free(*slot);
		*slot = xstrndup(v, (size_t)(end - v));
	}
	return len;
}

static void xfer_release_easy(CURLM *m, struct xfer *x)
{
	if (x->e) {
		curl_multi_remove_handle(m, x->e);
		curl_easy_cleanup(x->e);
		x->e = NULL;
	}
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	x->active = false;
}

static void xfer_start(CURLM *m, struct xfer *x)
{
	struct fetch_ctx *fc = x->ctx;
	char buf[64];

	x->e = curl_easy_init();
	reg_client_setup_easy(fc->c, fc->h, x->e);
	nib_buf_reset(&x->rs.body);
	free(x->rs.content_type);
	x->rs.content_type = NULL;
	x->started = false;
	x->offset = stg_blob_writer_size(x->w);
	reg_client_set_deadline(fc->c, x->e, x->item->d.size - x->offset);
	x->hdrs = curl_slist_append(NULL, "Accept: */*");
	if (x->offset > 0) {
		snprintf(buf, sizeof(buf), "Range: bytes=%lld-", (long long)x->offset);
		x->hdrs = curl_slist_append(x->hdrs, buf);
		log_info("%s: resuming %s at byte %lld", fc->what, x->item->d.digest,
			 (long long)x->offset);
	}
	if (fc->auth && reg_url_same_origin(x->url, fc->origin)) {
		_cleanup_free_ char *a = xasprintf("Authorization: %s", fc->auth);
		x->hdrs = curl_slist_append(x->hdrs, a);
		explicit_bzero(a, strlen(a));
	}
	curl_easy_setopt(x->e, CURLOPT_URL, x->url);
	curl_easy_setopt(x->e, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(x->e, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(x->e, CURLOPT_WRITEFUNCTION, xfer_write);
	curl_easy_setopt(x->e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->e, CURLOPT_HEADERFUNCTION, xfer_header);
	curl_easy_setopt(x->e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->e, CURLOPT_PRIVATE, x);
	log_debug("GET %s", x->url);
	curl_multi_add_handle(m, x->e);
	x->active = true;
}

static void schedule_retry(struct xfer *x, const char *retry_after)
{
	double d = reg_client_backoff_delay(x->ctx->c, x->attempt, retry_after);

	x->attempt++;
	x->ready_at = now_mono() + d;
}

/* Decide what a finished request means. 0: handled (done or rescheduled),
 * -1: the pull fails. */
static int xfer_finish(struct xfer *x, CURLcode rc, struct nib_error *err)
{
	struct fetch_ctx *fc = x->ctx;
	struct reg_client *c = fc->c;
	const char *dg = x->item->d.digest;
	long status = 0;

	curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &status);
	x->rs.status = status;
	if (x->werr.kind != NIB_ERR_NONE) {
		nib_err_move(err, &x->werr);
		return nib_err_wrap(err, "%s: blob %s", fc->what, dg);
	}
	if (x->too_big)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: blob %s is larger than the %lld bytes its descriptor gives",
			       fc->what, dg, (long long)x->item->d.size);
	if (rc != CURLE_OK) {
		if (reg_client_deadline_error(c, x->e, rc, x->item->d.size - x->offset, fc->what,
					      err) < 0)
			return nib_err_wrap(err, "blob %s", dg);
		if (reg_curl_code_retryable(rc) && x->attempt < c->retries) {
			log_info("%s: blob %s: %s after %lld bytes, retrying", fc->what, dg,
				 curl_easy_strerror(rc), (long long)stg_blob_writer_size(x->w));
			schedule_retry(x, NULL);
			return 0;
		}
		return nib_err(err, NIB_ERR_NETWORK, 0, "%s: blob %s: %s", fc->what, dg,
			       curl_easy_strerror(rc));
	}
	if (status >= 300 && status < 400 && x->rs.location) {
		if (++x->redirects > 5)
			return nib_err(err, NIB_ERR_NETWORK, 0, "%s: blob %s: too many redirects",
				       fc->what, dg);
		char *next = reg_url_resolve(x->url, x->rs.location);
		if (!nib_str_has_prefix(next, "http://") && !nib_str_has_prefix(next, "https://")) {
			free(next);
			return nib_err(err, NIB_ERR_NETWORK, 0,
				       "%s: blob %s: redirect to an unsupported URL", fc->what, dg);
		}
		_cleanup_free_ char *bw = xasprintf("%s: blob %s", fc->what, dg);
		if (reg_client_check_downgrade(c, x->url, next, bw, err) < 0) {
			free(next);
			return -1;
		}
		free(x->url);
		x->url = next;
		x->ready_at = 0;
		return 0;
	}
	if (status == 401 && !x->refreshed && reg_url_same_origin(x->url, fc->origin)) {
		x->refreshed = true;
		free(fc->auth);
		fc->auth = NULL;
		if (reg_client_auth_header(c, fc->h, fc->scope, true, &fc->auth, err) < 0)
			return nib_err_wrap(err, "%s", fc->what);
		x->ready_at = 0;
		return 0;
	}
	if (status == 416 && x->offset > 0) {
		/* nothing left to send: what we have is the whole blob, or garbage */
		if (stg_blob_writer_size(x->w) != x->item->d.size) {
			stg_blob_writer_free(x->w);
			x->w = NULL;
			if (stg_blob_writer_new(fc->st, &x->w, err) < 0)
				return -1;
			x->ready_at = 0;
			return 0;
		}
		status = 206;
	}
	if (reg_http_status_retryable(status) && x->attempt < c->retries) {
		log_info("%s: blob %s: HTTP %ld, retrying", fc->what, dg, status);
		schedule_retry(x, x->rs.retry_after);
		return 0;
	}
	if (status != 200 && status != 206) {
		_cleanup_free_ char *what = xasprintf("%s", fc->what);
		_cleanup_free_ char *doing = xasprintf("blob %s", dg);
		return reg_http_error(err, what, &x->rs, doing);
	}
	if (stg_blob_writer_commit(x->w, dg, x->item->d.size, NULL, err) < 0)
		return nib_err_wrap(err, "%s", fc->what);
	if (c->o.progress_fn)
		c->o.progress_fn(c->o.progress_data, "done", dg, x->item->d.size, x->item->d.size);
	x->done = true;
	return 0;
}

int reg_fetch_blobs(struct reg_client *c, struct host_state *h, struct stg_store *st,
		    const struct reg_ref *ref, const char *base, struct fetch_item *items, size_t n,
		    struct nib_error *err)
{
	_cleanup_free_ char *refstr = reg_ref_string(ref);
	struct fetch_ctx fc = {.c = c, .h = h, .st = st, .what = refstr};
	struct xfer *xs = xcalloc(n ? n : 1, sizeof(*xs));
	CURLM *m = curl_multi_init();
	size_t remaining = 0;
	int ret = 0;

	fc.scope = xasprintf("repository:%s:pull", ref->repo);
	fc.origin = xasprintf("%s://%s/", h->scheme, h->registry);
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->parallel);
	for (size_t i = 0; i < n; i++) {
		xs[i].item = &items[i];
		xs[i].ctx = &fc;
		reg_http_resp_clear(&xs[i].rs);
		if (items[i].skip || stg_blob_exists(st, items[i].d.digest)) {
			xs[i].done = true;
			if (c->o.progress_fn)
				c->o.progress_fn(c->o.progress_data, "exists", items[i].d.digest,
						 items[i].d.size, items[i].d.size);
			continue;
		}
		/* the same blob twice in one image: fetch it once */
		for (size_t j = 0; j < i; j++)
			if (!xs[j].done && streq(items[j].d.digest, items[i].d.digest))
				xs[i].done = true;
		if (xs[i].done)
			continue;
		xs[i].url = xasprintf("%s%s/blobs/%s", base, ref->repo, items[i].d.digest);
		if (stg_blob_writer_new(st, &xs[i].w, err) < 0) {
			ret = -1;
			goto out;
		}
		remaining++;
	}
	if (remaining && reg_client_auth_header(c, h, fc.scope, false, &fc.auth, err) < 0) {
		nib_err_wrap(err, "%s", refstr);
		ret = -1;
		goto out;
	}
	while (remaining > 0) {
		double now = now_mono(), next = now + 1.0;
		int active = 0, still = 0;
		for (size_t i = 0; i < n; i++)
			if (xs[i].active)
				active++;
		for (size_t i = 0; i < n && active < c->parallel; i++) {
			struct xfer *x = &xs[i];
			if (x->done || x->active)
				continue;
			if (x->ready_at <= now) {
				xfer_start(m, x);
				active++;
			} else if (x->ready_at < next) {
				next = x->ready_at;
			}
		}
		curl_multi_perform(m, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			struct xfer *x = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			CURLcode rc = msg->data.result;
			int r = xfer_finish(x, rc, err);
			xfer_release_easy(m, x);
			if (r < 0) {
				ret = -1;
				goto out;
			}
			if (x->done)
				remaining--;
		}
		if (remaining == 0)
			break;
		double wait = next - now_mono();
		int ms = wait > 0 ? (int)(wait * 1000) : 0;
		if (still > 0 || ms > 0)
			curl_multi_poll(m, NULL, 0, still > 0 ? MIN(ms ? ms : 1000, 1000) : ms,
					NULL);
	}
out:
	for (size_t i = 0; i < n; i++) {
		xfer_release_easy(m, &xs[i]);
		/* a failed pull leaves no partial blob: the writer removes its temp file */
		stg_blob_writer_free(xs[i].w);
		free(xs[i].url);
		reg_http_resp_clear(&xs[i].rs);
		nib_buf_free(&xs[i].rs.body);
		nib_err_clear(&xs[i].werr);
	}
	free(xs);
	curl_multi_cleanup(m);
	if (fc.auth)
		explicit_bzero(fc.auth, strlen(fc.auth));
	free(fc.auth);
	free(fc.scope);
	free(fc.origin);
	return ret;
}
