/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve --executor kubernetes: each build is a Kubernetes Job running
 * nib's own image, followed through the API with the service account's
 * token (libcurl + json-c). The Job's pod fetches the context from the
 * service by a one-time URL (init container "context"; a git or contextUrl
 * context the service fetched first, as the local executor does), builds without
 * credentials or network (init container "build"), and pushes in its one
 * container ("push"), the only one that mounts the per-build Secret with
 * the registry credentials. The API subset used: create and delete Jobs
 * and Secrets, list a Job's pods, read a Job, follow a container's log.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "storage/storage.h"
#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

/* ---- the API ------------------------------------------------------------------ */

struct k8s_call {
	struct bld_srv_job *j;
	struct nib_buf *out; /* the body, or NULL to stream it as log lines */
	struct nib_buf line; /* a partial log line */
	bool stop;	     /* aborted: cancelled, a limit, the service stopping */
};

static size_t k8s_write(char *p, size_t size, size_t n, void *arg)
{
	struct k8s_call *k = arg;
	if (k->out) {
		if (k->out->len < (16 << 20))
			nib_buf_append(k->out, p, size * n);
		return size * n;
	}
	nib_buf_append(&k->line, p, size * n);
	char *nl;
	size_t off = 0;
	while ((nl = memchr(k->line.data + off, '\n', k->line.len - off))) {
		bld_srv_job_line(k->j, k->line.data + off, (size_t)(nl - k->line.data) - off);
		off = (size_t)(nl - k->line.data) + 1;
	}
	memmove(k->line.data, k->line.data + off, k->line.len - off);
	k->line.len -= off;
	bld_srv_wake(k->j->s);
	return size * n;
}

static bool must_stop(struct bld_srv_job *j)
{
	struct bld_srv *s = j->s;
	pthread_mutex_lock(&s->lock);
	bool stop = j->cancel || j->limit || s->stopping;
	pthread_mutex_unlock(&s->lock);
	if (!stop && s->cfg.build_timeout) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((uint64_t)(now.tv_sec - j->start.tv_sec) > s->cfg.build_timeout) {
			bld_srv_job_limit(j, "the build ran longer than its limit of %llu s",
					  (unsigned long long)s->cfg.build_timeout);
			stop = true;
		}
	}
	return stop;
}

static int k8s_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct k8s_call *k = arg;
	k->stop = must_stop(k->j);
	return k->stop ? 1 : 0;
}

/* One API call; the HTTP status, or -1 (err set) when there was no answer. */
static long k8s(struct bld_srv_job *j, const char *method, const char *path, const char *body,
		struct nib_buf *out, struct nib_error *err)
{
	struct bld_srv_config *cfg = &j->s->cfg;
	_cleanup_free_ char *token = NULL, *url = xasprintf("%s%s", cfg->k8s_api, path);
	_cleanup_free_ char *auth = NULL;
	struct k8s_call k = {.j = j, .out = out};
	struct curl_slist *hdr = NULL;
	size_t len;
	long code = -1;

	/* projected service account tokens rotate: read it for each call */
	if (nib_read_file_at(AT_FDCWD, cfg->k8s_token_file, 65536, &token, &len, err) < 0)
		return nib_err_wrap(err, "the service account's token");
	token[strcspn(token, "\r\n")] = '\0';
	auth = xasprintf("Authorization: Bearer %s", token);
	hdr = curl_slist_append(hdr, auth);
	hdr = curl_slist_append(hdr, "Accept: application/json");
	if (body)
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, k8s_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	if (!out) { /* a log stream ends when the build must stop */
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, k8s_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &k);
	}
	if (cfg->k8s_ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->k8s_ca);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK || (rc == CURLE_ABORTED_BY_CALLBACK && !out))
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	else
		nib_err(err, NIB_ERR_NETWORK, 0, "Kubernetes API %s %s: %s", method, path,
			curl_easy_strerror(rc));
	if (!out && k.line.len)
		bld_srv_job_line(j, k.line.data, k.line.len);
	nib_buf_free(&k.line);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return code;
}

/* The API's own message ({"kind":"Status","message":...}) as an error. */
static int api_error(long code, const char *what, const struct nib_buf *body, struct nib_error *err)
{
	_cleanup_(json_object_putp) json_object *o =
	    body->data ? json_tokener_parse(body->data) : NULL;
	const char *msg = o ? bld_srv_jstr(o, "message") : NULL;
	return nib_err(err, NIB_ERR_ENV, 0, "Kubernetes API: %s: HTTP %ld%s%s", what, code,
		       msg ? ": " : "", msg ? msg : "");
}

/* ---- the Job ------------------------------------------------------------------ */

static json_object *str(const char *s)
{
	return json_object_new_string(s);
}

static json_object *obj(const char *k, json_object *v, ...)
{
	json_object *o = json_object_new_object();
	va_list ap;
	va_start(ap, v);
	while (k) {
		if (v)
			json_object_object_add(o, k, v);
		k = va_arg(ap, const char *);
		if (k)
			v = va_arg(ap, json_object *);
	}
	va_end(ap);
	return o;
}

static json_object *arr(struct nib_strv *v)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < v->len; i++)
		json_object_array_add(a, str(v->v[i]));
	return a;
}

/* What every container gets: Pod Security "restricted". */
static json_object *restricted(void)
{
	json_object *drop = json_object_new_array();
	json_object_array_add(drop, str("ALL"));
	return obj("allowPrivilegeEscalation", json_object_new_boolean(false), "runAsNonRoot",
		   json_object_new_boolean(true), "capabilities", obj("drop", drop, NULL), NULL);
}

static json_object *mount(const char *name, const char *path, bool ro)
{
	return obj("name", str(name), "mountPath", str(path), "readOnly",
		   ro ? json_object_new_boolean(true) : NULL, NULL);
}

static json_object *container(const char *name, const char *image, struct nib_strv *command,
			      struct nib_strv *args, json_object *env, json_object *mounts,
			      json_object *resources)
{
	return obj("name", str(name), "image", str(image), "command",
		   command && command->len ? arr(command) : NULL, "args", arr(args), "env", env,
		   "volumeMounts", mounts, "securityContext", restricted(), "resources", resources,
		   NULL);
}

/* The Job for a build, as JSON (batch/v1). `secret` names the Secret with
 * the registry credentials, or is NULL. */
static char *job_manifest(struct bld_srv_job *j, const char *name, const char *context_url,
			  const char *secret)
{
	struct bld_srv_config *cfg = &j->s->cfg;
	_cleanup_strv_ struct nib_strv sh = {0}, fetch = {0}, build = {0}, push = {0};
	_cleanup_(json_object_putp) json_object *job = NULL;

	nib_strv_push(&sh, "/bin/sh");
	nib_strv_push(&sh, "-c");
	/* the one-time URL is in the environment, so it is in no argv */
	nib_strv_push(&fetch,
		      "set -eu; mkdir -p /work/root; curl -fsS --retry 3 \"$CONTEXT_URL\" | "
		      "tar -xf - --no-same-owner -C /work");
	bld_srv_build_argv(j, "/work/root", "/work", &build);
	/* the image's entrypoint is nib: argv[0] is not given */
	memmove(build.v, build.v + 1, build.len * sizeof(*build.v));
	build.len--;
	json_object *tags = json_object_new_array();
	for (size_t i = 0; i < j->spec.tags.len; i++)
		json_object_array_add(tags, str(j->spec.tags.v[i]));
	nib_strv_pushf(
	    &push,
	    "set -eu; for t in $TAGS; do nib --root=/work/root --log-format=json push%s%s "
	    "-- \"$t\"; done",
	    cfg->tls_verify ? "" : " --tls-verify=false",
	    secret ? " --authfile=/auth/auth.json" : "");

	json_object *resources = NULL;
	if (cfg->memory_max) {
		char m[32];
		snprintf(m, sizeof(m), "%llu", (unsigned long long)cfg->memory_max);
		resources = obj("limits", obj("memory", str(m), NULL), NULL);
	}
	json_object *work_mounts = json_object_new_array();
	json_object_array_add(work_mounts, mount("work", "/work", false));
	json_object *push_mounts = json_object_new_array();
	json_object_array_add(push_mounts, mount("work", "/work", false));
	if (secret)
		json_object_array_add(push_mounts, mount("registry-auth", "/auth", true));
	json_object *inits = json_object_new_array();
	json_object *ctx_env = json_object_new_array();
	json_object_array_add(ctx_env,
			      obj("name", str("CONTEXT_URL"), "value", str(context_url), NULL));
	json_object_array_add(inits, container("context", cfg->k8s_image, &sh, &fetch, ctx_env,
					       json_object_get(work_mounts), NULL));
	json_object_array_add(
	    inits, container("build", cfg->k8s_image, NULL, &build, NULL, work_mounts, resources));
	json_object *push_env = json_object_new_array();
	_cleanup_free_ char *tag_list = nib_strv_join(&j->spec.tags, " ");
	json_object_array_add(push_env, obj("name", str("TAGS"), "value", str(tag_list), NULL));
	json_object *containers = json_object_new_array();
	json_object_array_add(
	    containers, container("push", cfg->k8s_image, &sh, &push, push_env, push_mounts, NULL));
	json_object *volumes = json_object_new_array();
	json_object_array_add(volumes,
			      obj("name", str("work"), "emptyDir", json_object_new_object(), NULL));
	if (secret)
		json_object_array_add(volumes, obj("name", str("registry-auth"), "secret",
						   obj("secretName", str(secret), "defaultMode",
						       json_object_new_int(0400), NULL),
						   NULL));
	json_object *seccomp;
	if (nib_str_has_prefix(cfg->k8s_seccomp, "Localhost/"))
		seccomp = obj("type", str("Localhost"), "localhostProfile",
			      str(cfg->k8s_seccomp + 10), NULL);
	else
		seccomp = obj("type", str("RuntimeDefault"), NULL);
	json_object *labels = obj("app.kubernetes.io/name", str("nib-build"),
				  "app.kubernetes.io/managed-by", str("nib-serve"), "nib.dev/build",
				  str(j->b.id), "nib.dev/tenant", str(j->b.tenant), NULL);
	json_object *pod =
	    obj("restartPolicy", str("Never"), "automountServiceAccountToken",
		json_object_new_boolean(false), "enableServiceLinks",
		json_object_new_boolean(false), "securityContext",
		obj("runAsNonRoot", json_object_new_boolean(true), "seccompProfile", seccomp, NULL),
		"initContainers", inits, "containers", containers, "volumes", volumes, NULL);
	job = obj(
	    "apiVersion", str("batch/v1"), "kind", str("Job"), "metadata",
	    obj("name", str(name), "labels", json_object_get(labels), NULL), "spec",
	    obj("backoffLimit", json_object_new_int(0), "activeDeadlineSeconds",
		json_object_new_int64((int64_t)(cfg->build_timeout ? cfg->build_timeout : 3600)),
		"ttlSecondsAfterFinished", json_object_new_int(600), "template",
		obj("metadata", obj("labels", labels, NULL), "spec", pod, NULL), NULL),
	    NULL);
	json_object_put(tags);
	return xstrdup(json_object_to_json_string_ext(job, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The Secret with the tenant's registry credentials for the push. */
static int make_secret(struct bld_srv_job *j, const char *name, const char *authfile,
		       struct nib_error *err)
{
	_cleanup_free_ char *text = NULL, *b64 = NULL, *path = NULL;
	_cleanup_buf_ struct nib_buf out = {0};
	size_t len;

	if (nib_read_file_at(AT_FDCWD, authfile, 1 << 20, &text, &len, err) < 0)
		return nib_err_wrap(err, "registry credentials");
	b64 = xmalloc(4 * ((len + 2) / 3) + 1);
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)text[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)(unsigned char)text[i + 1] << 8;
		if (i + 2 < len)
			v |= (unsigned char)text[i + 2];
		b64[o++] = tbl[(v >> 18) & 63];
		b64[o++] = tbl[(v >> 12) & 63];
		b64[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
		b64[o++] = i + 2 < len ? tbl[v & 63] : '=';
	}
	b64[o] = '\0';
	explicit_bzero(text, len);
	_cleanup_(json_object_putp) json_object *sec =
	    obj("apiVersion", str("v1"), "kind", str("Secret"), "type", str("Opaque"), "metadata",
		obj("name", str(name), "labels",
		    obj("app.kubernetes.io/managed-by", str("nib-serve"), "nib.dev/build",
			str(j->b.id), NULL),
		    NULL),
		"data", obj("auth.json", str(b64), NULL), NULL);
	explicit_bzero(b64, o);
	path = xasprintf("/api/v1/namespaces/%s/secrets", j->s->cfg.k8s_namespace);
	long code = k8s(j, "POST", path, json_object_to_json_string(sec), &out, err);
	if (code < 0)
		return -1;
	if (code != 201 && code != 200)
		return api_error(code, "create Secret", &out, err);
	return 0;
}

static void delete (struct bld_srv_job *j, const char *kind_path, const char *name)
{
	_cleanup_free_ char *path =
	    xasprintf("%s/namespaces/%s/%s/%s?propagationPolicy=Background",
		      streq(kind_path, "jobs") ? "/apis/batch/v1" : "/api/v1",
		      j->s->cfg.k8s_namespace, kind_path, name);
	_cleanup_buf_ struct nib_buf out = {0};
	struct nib_error e = {0};
	if (k8s(j, "DELETE", path, NULL, &out, &e) < 0) {
		log_warn("serve: build %s: %s", j->b.id, e.msg);
		nib_err_clear(&e);
	}
}

/* The Job's pod, once there is one: 1 with its name, 0 not yet. */
static int find_pod(struct bld_srv_job *j, const char *job, char **pod, struct nib_error *err)
{
	_cleanup_free_ char *path =
	    xasprintf("/api/v1/namespaces/%s/pods?labelSelector=job-name%%3D%s",
		      j->s->cfg.k8s_namespace, job);
	_cleanup_buf_ struct nib_buf out = {0};
	long code = k8s(j, "GET", path, NULL, &out, err);
	if (code < 0)
		return -1;
	if (code != 200)
		return api_error(code, "list pods", &out, err);
	_cleanup_(json_object_putp) json_object *o = json_tokener_parse(out.data ? out.data : "");
	json_object *items, *meta;
	if (!o || !json_object_object_get_ex(o, "items", &items) ||
	    json_object_array_length(items) == 0)
		return 0;
	if (!json_object_object_get_ex(json_object_array_get_idx(items, 0), "metadata", &meta) ||
	    !bld_srv_jstr(meta, "name"))
		return 0;
	*pod = xstrdup(bld_srv_jstr(meta, "name"));
	return 1;
}

/* The Job's end: 1 succeeded, 0 failed (why in *reason), 2 still running. */
static int job_state(struct bld_srv_job *j, const char *job, char **reason, struct nib_error *err)
{
	_cleanup_free_ char *path =
	    xasprintf("/apis/batch/v1/namespaces/%s/jobs/%s", j->s->cfg.k8s_namespace, job);
	_cleanup_buf_ struct nib_buf out = {0};
	long code = k8s(j, "GET", path, NULL, &out, err);
	if (code < 0)
		return -1;
	if (code != 200)
		return api_error(code, "read Job", &out, err);
	_cleanup_(json_object_putp) json_object *o = json_tokener_parse(out.data ? out.data : "");
	json_object *st, *v, *conds;
	if (!o || !json_object_object_get_ex(o, "status", &st))
		return 2;
	if (json_object_object_get_ex(st, "succeeded", &v) && json_object_get_int(v) > 0)
		return 1;
	if (json_object_object_get_ex(st, "failed", &v) && json_object_get_int(v) > 0) {
		if (json_object_object_get_ex(st, "conditions", &conds))
			for (size_t i = 0; i < json_object_array_length(conds); i++) {
				const char *m =
				    bld_srv_jstr(json_object_array_get_idx(conds, i), "message");
				if (m && !*reason)
					*reason = xasprintf("the Job failed: %s", m);
			}
		return 0;
	}
	return 2;
}

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Follow one container's log to its end (retrying while it waits to
 * start); false when the build must stop. */
static bool follow(struct bld_srv_job *j, const char *pod, const char *name, const char *job)
{
	_cleanup_free_ char *path =
	    xasprintf("/api/v1/namespaces/%s/pods/%s/log?container=%s&follow=true",
		      j->s->cfg.k8s_namespace, pod, name);
	for (int tries = 0; !must_stop(j); tries++) {
		struct nib_error e = {0};
		long code = k8s(j, "GET", path, NULL, NULL, &e);
		nib_err_clear(&e);
		if (code == 200)
			return !must_stop(j);
		/* 400: the container waits to start (or was skipped: the Job
		 * says which when it ends) */
		char *reason = NULL;
		int st = job_state(j, job, &reason, NULL);
		free(reason);
		if (st == 0 || st == 1)
			return true;
		pause_ms(tries < 20 ? 250 : 1000);
	}
	return false;
}

int bld_srv_k8s_run(struct bld_srv_job *j, char **failure)
{
	struct bld_srv *s = j->s;
	struct bld_srv_config *cfg = &s->cfg;
	struct nib_error e = {0};
	unsigned char raw[24];
	char name[64], secret[80];
	_cleanup_free_ char *authfile = bld_srv_tenant_authfile(j);
	_cleanup_free_ char *url = NULL, *manifest = NULL, *pod = NULL, *path = NULL, *why = NULL;
	_cleanup_buf_ struct nib_buf out = {0};
	int result = -1;

	/* a git or contextUrl context is fetched here, with the service's
	 * limits, and the Job takes it as an uploaded one */
	if (bld_srv_context_fetch(j, &e) < 0) {
		*failure = steal_pointer(&e.msg);
		return -1;
	}
	if (getrandom(raw, sizeof(raw), 0) != sizeof(raw)) {
		*failure = xstrdup("no random bytes for the context URL");
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(j->ctx_token + 2 * i, 3, "%02x", raw[i]);
	pthread_mutex_unlock(&s->lock);
	snprintf(name, sizeof(name), "nib-build-%.16s", j->b.id);
	snprintf(secret, sizeof(secret), "%s-auth", name);
	url = xasprintf("%s/v1/contexts/%s?token=%s", cfg->service_url, j->b.id, j->ctx_token);
	if (j->spec.tags.len && authfile && make_secret(j, secret, authfile, &e) < 0)
		goto fail;
	bool with_secret = j->spec.tags.len && authfile;
	manifest = job_manifest(j, name, url, with_secret ? secret : NULL);
	path = xasprintf("/apis/batch/v1/namespaces/%s/jobs", cfg->k8s_namespace);
	long code = k8s(j, "POST", path, manifest, &out, &e);
	if (code < 0)
		goto fail;
	if (code != 201 && code != 200) {
		api_error(code, "create Job", &out, &e);
		goto fail;
	}
	bld_srv_job_event(j, "Kubernetes Job %s/%s created", cfg->k8s_namespace, name);
	int found = 0;
	for (int tries = 0; !found && !must_stop(j); tries++) {
		found = find_pod(j, name, &pod, &e);
		if (found < 0)
			goto fail;
		if (!found)
			pause_ms(tries < 20 ? 250 : 1000);
	}
	static const char *const steps[] = {"context", "build", "push"};
	for (size_t i = 0; found && i < ARRAY_SIZE(steps); i++)
		if (!follow(j, pod, steps[i], name))
			break;
	int st = 2;
	while (!must_stop(j) && (st = job_state(j, name, &why, &e)) == 2)
		pause_ms(500);
	if (st < 0)
		goto fail;
	if (st == 1)
		result = 0;
	else /* what the build said, else what the Job says */
		*failure = j->last_error ? xstrdup(j->last_error) : steal_pointer(&why);
	if (st == 2) /* stopped: the Job goes */
		delete (j, "jobs", name);
	if (with_secret)
		delete (j, "secrets", secret);
	return result;
fail:
	*failure = steal_pointer(&e.msg);
	delete (j, "jobs", name);
	if (j->spec.tags.len && authfile)
		delete (j, "secrets", secret);
	return -1;
}
