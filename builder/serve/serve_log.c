/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: a build's log. The service keeps the JSON event lines nib
 * writes (--log-format json) and its own; GET /v1/builds/ID/log sends them
 * as they are (format=json) or as the text `nib build` prints (the
 * default), chunked, and with follow=true waits for more until the build
 * ends.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <string.h>
#include <time.h>

#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_api.h"

NIB_DEFINE_CLEANUP(json_object *, json_object_put)

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static void line(struct nib_buf *out, const char *a, const char *b)
{
	nib_buf_puts(out, a);
	if (b)
		nib_buf_puts(out, b);
	nib_buf_putc(out, '\n');
}

void bld_srv_log_render(const char *text, size_t len, struct nib_buf *out)
{
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_free_ char *copy = xstrndup(text, len);
	const char *ev, *v;

	len = strlen(copy); /* a NUL in the line ends it */
	if (len && copy[len - 1] == '\n')
		copy[--len] = '\0';
	if (copy[0] == '{')
		o = json_tokener_parse(copy);
	if (!o || !json_object_is_type(o, json_type_object) || !(ev = jstr(o, "event"))) {
		line(out, copy, NULL);
		return;
	}
	if (streq(ev, "step_start")) {
		nib_buf_printf(out, "STEP %s/%s: %s\n", jstr(o, "step") ?: "?",
			       jstr(o, "steps") ?: "?", jstr(o, "instruction") ?: "");
	} else if (streq(ev, "cache_hit")) {
		line(out, "--> Using cache", NULL);
	} else if (streq(ev, "run_output") || streq(ev, "output")) {
		line(out, jstr(o, "line") ?: "", NULL);
	} else if (streq(ev, "log") && (v = jstr(o, "msg"))) {
		const char *lvl = jstr(o, "level") ?: "";
		line(out,
		     streq(lvl, "error")  ? "nib: error: "
		     : streq(lvl, "warn") ? "nib: warning: "
					  : "nib: ",
		     v);
	} else if (streq(ev, "error") && (v = jstr(o, "msg"))) {
		line(out, "nib: error: ", v);
	} else if (streq(ev, "image")) {
		line(out, "Image ID: ", jstr(o, "image_id"));
	} else if (streq(ev, "push")) {
		nib_buf_printf(out, "Pushed %s@%s\n", jstr(o, "ref") ?: "",
			       jstr(o, "digest") ?: "");
	} else if (streq(ev, "serve") && (v = jstr(o, "msg"))) {
		line(out, "nib serve: ", v);
	} else if ((v = jstr(o, "msg"))) {
		line(out, "nib: ", v);
	}
}

struct follower {
	struct bld_srv *s;
	char id[33];
	char *path;
	int fd;
	bool follow, text, final;
	struct nib_buf pending; /* a partial line (text) */
	struct nib_buf out;	/* ready to send */
	size_t out_off;
};

static void follower_free(void *cls)
{
	struct follower *f = cls;
	if (f->fd >= 0)
		close(f->fd);
	nib_buf_free(&f->pending);
	nib_buf_free(&f->out);
	free(f->path);
	free(f);
}

static void take(struct follower *f, const char *data, size_t n, bool flush)
{
	if (!f->text) {
		nib_buf_append(&f->out, data, n);
		return;
	}
	nib_buf_append(&f->pending, data, n);
	size_t off = 0;
	char *nl;
	while ((nl = memchr(f->pending.data + off, '\n', f->pending.len - off))) {
		bld_srv_log_render(f->pending.data + off, (size_t)(nl - f->pending.data) - off,
				   &f->out);
		off = (size_t)(nl - f->pending.data) + 1;
	}
	if (flush && off < f->pending.len) {
		bld_srv_log_render(f->pending.data + off, f->pending.len - off, &f->out);
		off = f->pending.len;
	}
	memmove(f->pending.data, f->pending.data + off, f->pending.len - off);
	f->pending.len -= off;
}

/* Whether the build has ended (its log is complete once read to EOF). */
static bool ended(struct follower *f)
{
	struct bld_srv_build b = {0};
	bool done = true;
	if (bld_srv_db_get(f->s->db, f->id, NULL, &b, NULL) == 1)
		done = bld_srv_state_final(b.state);
	bld_srv_build_clear(&b);
	return done;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct follower *f = cls;
	struct bld_srv *s = f->s;

	for (;;) {
		if (f->out_off < f->out.len) {
			size_t n = MIN(max, f->out.len - f->out_off);
			memcpy(buf, f->out.data + f->out_off, n);
			f->out_off += n;
			if (f->out_off == f->out.len)
				f->out_off = f->out.len = 0;
			return (ssize_t)n;
		}
		if (f->fd < 0)
			f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
		ssize_t n = 0;
		if (f->fd >= 0) {
			char chunk[65536];
			n = read(f->fd, chunk, sizeof(chunk));
			if (n > 0) {
				take(f, chunk, (size_t)n, false);
				continue;
			}
		}
		/* at the end of what is written */
		if (!f->follow || f->final || s->stopping) {
			take(f, "", 0, true);
			if (f->out.len)
				continue;
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (ended(f)) {
			f->final = true; /* read once more: the last lines came before */
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_mutex_lock(&s->lock);
		pthread_cond_timedwait(&s->changed, &s->lock, &ts);
		pthread_mutex_unlock(&s->lock);
	}
}

int bld_srv_api_log(struct bld_srv *s, struct MHD_Connection *c, struct bld_srv_req *r,
		    const struct bld_srv_build *b)
{
	const char *follow = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "follow");
	const char *format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
	int fl = follow ? nib_parse_bool(follow) : 0;

	if (fl < 0)
		return bld_srv_reply_error(c, MHD_HTTP_BAD_REQUEST, "follow=%s: not true or false",
					   follow);
	if (format && !streq(format, "text") && !streq(format, "json"))
		return bld_srv_reply_error(c, MHD_HTTP_BAD_REQUEST, "format=%s: not text or json",
					   format);
	struct follower *f = xcalloc(1, sizeof(*f));
	f->s = s;
	f->fd = -1;
	memcpy(f->id, b->id, sizeof(f->id));
	f->path = xasprintf("%s/builds/%s/log", s->cfg.state_dir, b->id);
	f->follow = fl == 1;
	f->text = !format || streq(format, "text");
	struct MHD_Response *res = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024,
								     reader, f, follower_free);
	MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE,
				f->text ? "text/plain; charset=utf-8" : "application/x-ndjson");
	MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, res);
	MHD_destroy_response(res);
	return ret == MHD_YES ? 0 : -1;
}
