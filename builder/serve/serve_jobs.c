/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: the scheduler and the builds' logs. The scheduler starts
 * queued builds (at most --max-builds, one per tenant) each in a job
 * thread that hands it to an executor (serve_exec.c, serve_k8s.c), keeps
 * its log and progress from the JSON event lines, and records its end.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <time.h>

#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

NIB_DEFINE_CLEANUP(json_object *, json_object_put)

char *bld_srv_build_dir(const char *id)
{
	return xasprintf("builds/%s", id);
}

/* One line in the build's log (the JSON event lines nib writes); the
 * service's own lines are events too. */
static void log_write(struct bld_srv_job *j, const char *line, size_t len)
{
	if (nib_write_all(j->log_fd, line, len) == 0)
		j->b.log_bytes += (int64_t)len;
}

void bld_srv_job_event(struct bld_srv_job *j, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	_cleanup_buf_ struct nib_buf b = {0};
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	nib_buf_printf(&b, "{\"time\":\"%s.%03ldZ\",\"event\":\"serve\",\"msg\":", when,
		       ts.tv_nsec / 1000000);
	nib_buf_json_string(&b, msg);
	nib_buf_puts(&b, "}\n");
	log_write(j, b.data, b.len);
}

void bld_srv_job_limit(struct bld_srv_job *j, const char *fmt, ...)
{
	va_list ap;
	if (j->limit)
		return;
	va_start(ap, fmt);
	j->limit = xvasprintf(fmt, ap);
	va_end(ap);
}

const char *bld_srv_jstr(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

/* Learn progress from one line of the child's output; true when the
 * database should hear of it. */
static bool track(struct bld_srv_job *j, const char *line, size_t len)
{
	struct bld_srv *s = j->s;
	_cleanup_(json_object_putp) json_object *o = NULL;
	const char *ev, *v;

	if (len < 2 || line[0] != '{')
		return false;
	o = json_tokener_parse(line);
	if (!o || !json_object_is_type(o, json_type_object) || !(ev = bld_srv_jstr(o, "event")))
		return false;
	if (streq(ev, "step_start")) {
		j->b.step = (int)jint(o, "step");
		j->b.steps = (int)jint(o, "steps");
		return true;
	}
	if (streq(ev, "cache_hit")) {
		j->b.cache_hits++;
		atomic_fetch_add(&s->m.cache_hits, 1);
		return false;
	}
	if (streq(ev, "cache_miss")) {
		atomic_fetch_add(&s->m.cache_misses, 1);
		return false;
	}
	if (streq(ev, "image")) {
		if ((v = bld_srv_jstr(o, "image_id")) && nib_digest_valid(v)) {
			free(j->b.image_id);
			j->b.image_id = xstrdup(v);
		}
		if ((v = bld_srv_jstr(o, "manifest")) && nib_digest_valid(v)) {
			free(j->b.digest);
			j->b.digest = xstrdup(v);
		}
		return true;
	}
	if (streq(ev, "push")) {
		if ((v = bld_srv_jstr(o, "digest")) && nib_digest_valid(v)) {
			free(j->b.digest);
			j->b.digest = xstrdup(v);
		}
		return true;
	}
	if (streq(ev, "push_progress") && (v = bld_srv_jstr(o, "state")) && streq(v, "done")) {
		int64_t n = jint(o, "total");
		j->b.pushed_bytes += n;
		atomic_fetch_add(&s->m.bytes_pushed, (uint64_t)n);
		return false;
	}
	if (streq(ev, "error") && (v = bld_srv_jstr(o, "msg"))) {
		free(j->last_error);
		j->last_error = xstrdup(v);
	}
	return false;
}

static void progress(struct bld_srv_job *j)
{
	struct bld_srv *s = j->s;
	struct nib_error e = {0};

	pthread_mutex_lock(&s->lock);
	if (bld_srv_db_progress(s->db, &j->b, &e) < 0) {
		log_warn("serve: build %s: %s", j->b.id, e.msg);
		nib_err_clear(&e);
	}
	pthread_mutex_unlock(&s->lock);
}

/* The line with the build's folder left out of paths: messages name
 * "Containerfile:3" and "sub/file" as the submitter knows them. */
static char *unfold(struct bld_srv_job *j, const char *line, size_t len)
{
	_cleanup_free_ char *ctx = xasprintf("%s/context/", j->dir);
	_cleanup_buf_ struct nib_buf b = {0};
	size_t dl = strlen(j->dir), cl = strlen(ctx);
	const char *p = line, *end = line + len, *hit;

	while ((hit = memmem(p, (size_t)(end - p), j->dir, dl))) {
		nib_buf_append(&b, p, (size_t)(hit - p));
		if ((size_t)(end - hit) >= cl && memcmp(hit, ctx, cl) == 0)
			p = hit + cl;
		else if (nib_str_has_prefix(hit + dl, "/Containerfile"))
			p = hit + dl + 1;
		else {
			nib_buf_append(&b, hit, dl);
			p = hit + dl;
		}
	}
	nib_buf_append(&b, p, (size_t)(end - p));
	return nib_buf_steal(&b);
}

/* A complete line of the child's output: kept as it is when it is JSON,
 * else wrapped as an "output" event. */
void bld_srv_job_line(struct bld_srv_job *j, const char *raw, size_t rawlen)
{
	uint64_t max = j->s->cfg.max_log;

	/* past its limit the log takes nothing more of the build's output
	 * (the build is being stopped) */
	if (max && (uint64_t)j->b.log_bytes + rawlen > max) {
		bld_srv_job_limit(j, "the log passed its limit of %llu bytes",
				  (unsigned long long)max);
		return;
	}
	_cleanup_free_ char *text = unfold(j, raw, rawlen);
	const char *line = text;
	size_t len = strlen(text);

	if (len && line[0] == '{') {
		_cleanup_free_ char *copy = xstrndup(line, len);
		log_write(j, line, len);
		log_write(j, "\n", 1);
		if (track(j, copy, len))
			progress(j);
		return;
	}
	_cleanup_buf_ struct nib_buf b = {0};
	_cleanup_free_ char *copy = xstrndup(line, len);
	/* with --log-format json nib prints its last error twice: as an
	 * "error" event and as the line on stderr */
	if (j->last_error && nib_str_has_prefix(copy, "nib: error: ") &&
	    streq(copy + 12, j->last_error))
		return;
	nib_buf_puts(&b, "{\"event\":\"output\",\"line\":");
	nib_buf_json_string(&b, copy);
	nib_buf_puts(&b, "}\n");
	log_write(j, b.data, b.len);
}

void bld_srv_wake(struct bld_srv *s)
{
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
}

static void job_free(struct bld_srv_job *j)
{
	bld_srv_build_clear(&j->b);
	bld_srv_spec_free(&j->spec);
	free(j->limit);
	free(j->last_error);
	free(j->dir);
	if (j->log_fd >= 0)
		close(j->log_fd);
	free(j);
}

static void *job_thread(void *arg)
{
	struct bld_srv_job *j = arg;
	struct bld_srv *s = j->s;
	struct nib_error e = {0};
	_cleanup_free_ char *ctx = xasprintf("%s/context", j->dir);
	_cleanup_free_ char *work = xasprintf("%s/work", j->dir);
	_cleanup_free_ char *failure = NULL;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &j->start);
	bld_srv_job_event(j, "build %s started (tenant %s)", j->b.id, j->b.tenant);
	status = s->cfg.k8s_image ? bld_srv_k8s_run(j, &failure) : bld_srv_local_run(j, &failure);
	if (status != 0 && !failure)
		failure = xstrdup(j->last_error ? j->last_error : "the build failed");
	enum bld_srv_state final = BLD_SRV_SUCCEEDED;
	const char *why = NULL;
	pthread_mutex_lock(&s->lock);
	if (j->cancel) {
		final = BLD_SRV_CANCELLED;
		why = "cancelled";
	} else if (s->stopping && status != 0) {
		final = BLD_SRV_INTERRUPTED;
		why = "the service stopped while the build ran";
	} else if (j->limit) {
		final = BLD_SRV_FAILED;
		why = j->limit;
	} else if (failure) {
		final = BLD_SRV_FAILED;
		why = failure;
	}
	pthread_mutex_unlock(&s->lock);
	bld_srv_job_event(j, "build %s %s%s%s", j->b.id, bld_srv_state_name(final), why ? ": " : "",
			  why ? why : "");
	if (bld_srv_db_progress(s->db, &j->b, &e) < 0 ||
	    bld_srv_db_transition(s->db, j->b.id, BLD_SRV_RUNNING, final, why, &e) < 0) {
		log_error("serve: build %s: %s", j->b.id, e.msg);
		nib_err_clear(&e);
	}
	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	atomic_fetch_add(&s->m.finished[final], 1);
	atomic_fetch_add(&s->m.duration_ms_sum,
			 (uint64_t)((end.tv_sec - j->start.tv_sec) * 1000 +
				    (end.tv_nsec - j->start.tv_nsec) / 1000000));
	(void)nib_rm_rf_at(AT_FDCWD, work, NULL);
	(void)nib_rm_rf_at(AT_FDCWD, ctx, NULL);

	pthread_mutex_lock(&s->lock);
	for (struct bld_srv_job **p = &s->jobs; *p; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			break;
		}
	}
	s->n_running--;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	job_free(j);
	return NULL;
}

/* Start a queued build (caller holds s->lock). */
static void start_job(struct bld_srv *s, struct bld_srv_build *b)
{
	struct bld_srv_job *j = xcalloc(1, sizeof(*j));
	struct nib_error e = {0};
	_cleanup_free_ char *rel = bld_srv_build_dir(b->id);
	_cleanup_free_ char *log = NULL;
	pthread_attr_t attr;
	pthread_t t;

	j->s = s;
	j->b = *b;
	memset(b, 0, sizeof(*b));
	j->log_fd = -1;
	j->dir = xasprintf("%s/%s", s->cfg.state_dir, rel);
	log = xasprintf("%s/log", j->dir);
	j->log_fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (j->log_fd < 0 || bld_srv_spec_parse(j->b.spec, strlen(j->b.spec), &j->spec, &e) < 0 ||
	    bld_srv_db_set_state(s->db, j->b.id, BLD_SRV_RUNNING, NULL, &e) < 0) {
		_cleanup_free_ char *why =
		    xasprintf("cannot start: %s", e.msg ? e.msg : strerror(errno));
		log_error("serve: build %s: %s", j->b.id, why);
		(void)bld_srv_db_set_state(s->db, j->b.id, BLD_SRV_FAILED, why, NULL);
		nib_err_clear(&e);
		job_free(j);
		return;
	}
	j->b.state = BLD_SRV_RUNNING;
	j->next = s->jobs;
	s->jobs = j;
	s->n_running++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, job_thread, j) != 0) {
		s->jobs = j->next;
		s->n_running--;
		(void)bld_srv_db_set_state(s->db, j->b.id, BLD_SRV_FAILED,
					   "cannot start: no thread", NULL);
		job_free(j);
	}
	pthread_attr_destroy(&attr);
}

static pthread_t scheduler_thread;

static void *scheduler(void *arg)
{
	struct bld_srv *s = arg;
	struct nib_error e = {0};

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		while (!s->draining && s->n_running < s->cfg.max_builds) {
			/* one build at a time per tenant: each tenant's store */
			struct nib_strv busy = {0};
			struct bld_srv_build b = {0};
			for (struct bld_srv_job *j = s->jobs; j; j = j->next)
				nib_strv_push(&busy, j->b.tenant);
			int r = bld_srv_db_next(s->db, busy.v, &b, &e);
			nib_strv_free(&busy);
			if (r < 0) {
				log_error("serve: %s", e.msg);
				nib_err_clear(&e);
			}
			if (r <= 0)
				break;
			start_job(s, &b);
			bld_srv_build_clear(&b);
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&s->changed, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int bld_srv_jobs_start(struct bld_srv *s, struct nib_error *err)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (pthread_create(&scheduler_thread, NULL, scheduler, s) != 0)
		return nib_err(err, NIB_ERR_ENV, errno, "cannot start the scheduler thread");
	return 0;
}

void bld_srv_jobs_kick(struct bld_srv *s)
{
	pthread_cond_broadcast(&s->changed);
}

int bld_srv_jobs_cancel(struct bld_srv *s, const char *id)
{
	for (struct bld_srv_job *j = s->jobs; j; j = j->next) {
		if (streq(j->b.id, id)) {
			j->cancel = true;
			return 1;
		}
	}
	return 0;
}

void bld_srv_jobs_stop(struct bld_srv *s)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)s->cfg.drain_timeout;
	pthread_mutex_lock(&s->lock);
	s->draining = true;
	if (s->n_running)
		log_info("serve: draining %u running builds (at most %llu s)", s->n_running,
			 (unsigned long long)s->cfg.drain_timeout);
	while (s->n_running &&
	       pthread_cond_timedwait(&s->changed, &s->lock, &deadline) != ETIMEDOUT)
		;
	/* what still runs is stopped and marked interrupted; queued builds
	 * stay queued for the next start */
	s->stopping = true;
	pthread_cond_broadcast(&s->changed);
	while (s->n_running)
		pthread_cond_wait(&s->changed, &s->lock);
	pthread_mutex_unlock(&s->lock);
	pthread_join(scheduler_thread, NULL);
}
