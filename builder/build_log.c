/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Build progress: "STEP n/m: INSTRUCTION" lines, RUN output, each step's
 * duration and cache result on stdout (--progress plain); on a terminal the
 * live display of builder/progress.h (--progress tty); with --progress json
 * (or --log-format json) one event per line instead (nib_log_event);
 * nothing with --quiet. A failing step's hidden output (-q, the display's
 * tail) is printed when it fails.
 */
#define BLD_BUILD_INTERNAL
#include <string.h>
#include <time.h>

#include "builder/build_internal.h"
#include "builder/progress.h"

double bld_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *bld_rfc3339(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[64];

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

static bool json(void)
{
	return nib_log_get_event_format() == NIB_LOG_JSON;
}

/* "STEP n/m: INSTRUCTION", credentials in a URL (ADD
 * https://user:pass@host/x) not shown. */
static char *step_title(const struct bld_build *b, const struct cf_instr *in)
{
	_cleanup_free_ char *text = nib_url_redact(in->original);
	return xasprintf("STEP %d/%d: %s", b->step, b->n_steps, text);
}

/* -q keeps at most this much of a step's output, its last lines. */
#define QUIET_TAIL_MAX (64 << 10)

void bld_log_step(struct bld_build *b, struct bld_stage *s, const struct cf_instr *in)
{
	nib_buf_reset(&b->quiet_tail);
	if (b->silent || (b->o->quiet && !json()))
		return;
	if (!json()) {
		_cleanup_free_ char *title = step_title(b, in);
		if (bld_tty_on()) {
			bld_tty_step(title);
			return;
		}
		printf("%s\n", title);
		fflush(stdout);
		return;
	}
	/* credentials in a URL (ADD https://user:pass@host/x) are not shown */
	_cleanup_free_ char *text = nib_url_redact(in->original);
	_cleanup_buf_ struct nib_buf f = {0};
	nib_buf_printf(&f, "\"step\":%d,\"steps\":%d,\"stage\":%d,\"line\":%d,", b->step,
		       b->n_steps, s->cs->index, in->line);
	nib_buf_puts(&f, "\"instruction\":");
	nib_buf_json_string(&f, text);
	nib_log_event("step_start", f.data, NULL);
}

void bld_log_step_end(struct bld_build *b, const struct cf_instr *in, double secs, bool cached,
		      const char *key)
{
	if (b->silent)
		return;
	if (json()) {
		_cleanup_buf_ struct nib_buf f = {0};
		nib_buf_printf(&f, "\"step\":%d,\"line\":%d,\"seconds\":%.3f,\"cache\":\"%s\"",
			       b->step, in->line, secs, key ? (cached ? "hit" : "miss") : "none");
		if (key)
			nib_buf_printf(&f, ",\"key\":\"%s\"", key);
		if (key)
			nib_log_event(cached ? "cache_hit" : "cache_miss", f.data, NULL);
		nib_log_event("step_end", f.data, NULL);
		return;
	}
	if (b->o->quiet)
		return;
	if (bld_tty_on()) {
		_cleanup_free_ char *title = step_title(b, in);
		_cleanup_free_ char *line = key ? xasprintf("%s --> %s (%.3fs)", title,
							    cached ? "Using cache" : "Done", secs)
						: NULL;
		bld_tty_step_end(line ? line : title);
		return;
	}
	if (key)
		printf("--> %s (%.3fs)\n", cached ? "Using cache" : "Done", secs);
	fflush(stdout);
}

void bld_log_layer(struct bld_build *b, const struct stg_layer_out *l)
{
	if (json() && !b->silent) {
		_cleanup_buf_ struct nib_buf f = {0};
		nib_buf_printf(&f, "\"step\":%d,\"digest\":\"%s\",\"diff_id\":\"%s\",\"size\":%lld",
			       b->step, l->digest, l->diff_id, (long long)l->size);
		nib_log_event("layer", f.data, NULL);
	}
}

void bld_log_line(void *ctx, enum bld_stream stream, const char *line, size_t len)
{
	struct bld_build *b = ctx;

	if (b->silent)
		return;
	if (json()) {
		_cleanup_buf_ struct nib_buf f = {0};
		_cleanup_free_ char *s = xstrndup(line, len);
		nib_buf_printf(&f, "\"step\":%d,\"stream\":\"%s\",\"line\":", b->step,
			       stream == BLD_STREAM_STDERR ? "stderr" : "stdout");
		nib_buf_json_string(&f, s);
		nib_log_event("run_output", f.data, NULL);
		return;
	}
	if (b->o->quiet || bld_tty_on()) {
		/* shown only when the step fails (the display shows the last
		 * few lines while it runs) */
		struct nib_buf *t = &b->quiet_tail;
		if (!b->o->quiet)
			bld_tty_output(line, len);
		nib_buf_append(t, line, len);
		nib_buf_putc(t, '\n');
		if (t->len > 2 * QUIET_TAIL_MAX) {
			const char *keep = t->data + t->len - QUIET_TAIL_MAX;
			const char *nl = memchr(keep, '\n', QUIET_TAIL_MAX);
			keep = nl ? nl + 1 : keep;
			size_t n = (size_t)(t->data + t->len - keep);
			memmove(t->data, keep, n);
			t->len = n;
			t->data[n] = '\0';
		}
		return;
	}
	FILE *out = stream == BLD_STREAM_STDERR ? stderr : stdout;
	fwrite(line, 1, len, out);
	fputc('\n', out);
	fflush(out);
}

void bld_log_step_failed(struct bld_build *b, const struct cf_instr *in,
			 const struct nib_error *err)
{
	struct nib_buf *t = &b->quiet_tail;
	bool tty = bld_tty_on(); /* never with -q */

	if (b->silent)
		return;
	if (json()) {
		_cleanup_buf_ struct nib_buf f = {0};
		nib_buf_printf(&f, "\"step\":%d,\"line\":%d,\"msg\":", b->step, in->line);
		nib_buf_json_string(&f, err->msg ? err->msg : "");
		nib_log_event("step_failed", f.data, NULL);
		return;
	}
	if (!b->o->quiet && !tty)
		return;
	if (tty) {
		_cleanup_free_ char *title = step_title(b, in);
		_cleanup_free_ char *line = xasprintf("%s --> failed", title);
		bld_tty_step_end(line);
	}
	if (t->len && err->kind == NIB_ERR_RUN) {
		fflush(stdout);
		bld_tty_print(STDERR_FILENO, t->data, t->len);
	}
	nib_buf_reset(t);
}
