/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib build --remote URL: the build service's client. The context goes as
 * one tar.gz body (honouring .containerignore / .dockerignore as a local
 * build does), the options as the build spec; then the log is followed to
 * its end and the build's result is nib's exit status.
 */
#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/build.h"
#include "containerfile/containerfile.h"
#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

static void archive_writep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

/* The context as a tar.gz in an unnamed temporary file. */
static int pack_context(const struct bld_build_opts *o, const char *keep, int *out,
			struct nib_error *err)
{
	_cleanup_(archive_writep) struct archive *a = archive_write_new();
	_cleanup_(cf_ignore_freep) struct cf_ignore *ig = NULL;
	const char *tmp = getenv("TMPDIR");
	_cleanup_close_ int fd = -1;

	_cleanup_free_ char *cf = o->file ? xstrdup(o->file) : NULL;
	_cleanup_free_ char *igpath =
	    o->ignorefile ? xstrdup(o->ignorefile) : cf_ignore_file_for(cf, o->context);
	if (igpath && !(ig = cf_ignore_load(igpath, err)))
		return -1;
	fd = open(tmp && *tmp ? tmp : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "a temporary file in %s",
			       tmp && *tmp ? tmp : "/tmp");
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_gzip(a);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK)
		return nib_err(err, NIB_ERR_IO, 0, "%s", archive_error_string(a));
	if (bld_srv_tar_tree(a, o->context, "", ig, keep, err) < 0)
		return nib_err_wrap(err, "context");
	if (archive_write_close(a) != ARCHIVE_OK)
		return nib_err(err, NIB_ERR_IO, 0, "%s", archive_error_string(a));
	lseek(fd, 0, SEEK_SET);
	*out = take_fd(&fd);
	return 0;
}

static void add_kv(json_object *spec, const char *field, const struct nib_strv *kv)
{
	if (!kv->len)
		return;
	json_object *m = json_object_new_object();
	for (size_t i = 0; i < kv->len; i++) {
		const char *eq = strchr(kv->v[i], '=');
		_cleanup_free_ char *k =
		    eq ? xstrndup(kv->v[i], (size_t)(eq - kv->v[i])) : xstrdup(kv->v[i]);
		json_object_object_add(m, k, json_object_new_string(eq ? eq + 1 : ""));
	}
	json_object_object_add(spec, field, m);
}

/* The options a build service cannot take (it decides them, or they need
 * files of this machine). */
static int refuse(const struct bld_build_opts *o, struct nib_error *err)
{
	const char *what = o->n_secrets			       ? "--secret"
			   : o->n_ssh			       ? "--ssh"
			   : o->n_volumes		       ? "--volume"
			   : o->n_outputs		       ? "--output"
			   : o->cache_from.len		       ? "--cache-from"
			   : o->cache_to		       ? "--cache-to"
			   : o->reg.authfile		       ? "--authfile"
			   : o->reg.creds		       ? "--creds"
			   : o->squash			       ? "--squash"
			   : o->run_stdin		       ? "--stdin"
			   : o->env.len			       ? "--env"
			   : o->unsetenv.len		       ? "--unsetenv"
			   : o->annotations.len		       ? "--annotation"
			   : o->cap_add.len || o->cap_drop.len ? "--cap-add/--cap-drop"
			   : o->add_hosts.len || o->no_hosts   ? "--add-host/--no-hosts"
			   : o->dns.len || o->dns_search.len || o->dns_options.len
			       ? "--dns/--dns-search/--dns-option"
			       : NULL;
	if (what)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "build: %s is not sent to a build service (--remote): the service "
			       "keeps credentials, caches and outputs itself",
			       what);
	return 0;
}

/* The spec (docs/serve.md) for these options; `keep` gets the
 * Containerfile's path in the context when it is one. */
static int make_spec(const struct bld_build_opts *o, char **keep, char **out, struct nib_error *err)
{
	_cleanup_(json_object_putp) json_object *spec = json_object_new_object();

	*keep = NULL;
	if (o->file) {
		_cleanup_free_ char *ctx = realpath(o->context, NULL);
		_cleanup_free_ char *f = realpath(o->file, NULL);
		size_t n = ctx ? strlen(ctx) : 0;
		if (!f)
			return nib_err(err, NIB_ERR_NOT_FOUND, errno, "-f %s", o->file);
		if (ctx && strncmp(f, ctx, n) == 0 && f[n] == '/') {
			*keep = xstrdup(f + n + 1);
			json_object_object_add(spec, "file", json_object_new_string(*keep));
		} else {
			_cleanup_free_ char *text = NULL;
			size_t len;
			if (nib_read_file_at(AT_FDCWD, o->file, 1 << 20, &text, &len, err) < 0)
				return nib_err_wrap(err, "-f");
			json_object_object_add(spec, "containerfile",
					       json_object_new_string_len(text, (int)len));
		}
	} else {
		_cleanup_free_ char *cf = nib_path_join(o->context, "Containerfile");
		*keep = xstrdup(access(cf, F_OK) == 0 ? "Containerfile" : "Dockerfile");
	}
	add_kv(spec, "buildArgs", &o->build_args);
	add_kv(spec, "labels", &o->labels);
	if (o->target)
		json_object_object_add(spec, "target", json_object_new_string(o->target));
	if (o->platform)
		json_object_object_add(spec, "platform", json_object_new_string(o->platform));
	if (o->timestamp >= 0)
		json_object_object_add(spec, "timestamp", json_object_new_int64(o->timestamp));
	if (o->no_cache)
		json_object_object_add(spec, "noCache", json_object_new_boolean(true));
	if (o->tags.len) {
		json_object *t = json_object_new_array();
		for (size_t i = 0; i < o->tags.len; i++)
			json_object_array_add(t, json_object_new_string(o->tags.v[i]));
		json_object_object_add(spec, "tags", t);
	}
	*out = xstrdup(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}

/* ---- HTTP ------------------------------------------------------------------ */

struct http {
	const char *base;
	const char *auth; /* "Authorization: Bearer ..." or NULL */
};

static size_t to_buf(char *p, size_t size, size_t n, void *arg)
{
	nib_buf_append(arg, p, size * n);
	return size * n;
}

static size_t to_stdout(char *p, size_t size, size_t n, void *arg)
{
	if (!*(bool *)arg)
		fwrite(p, size, n, stdout);
	fflush(stdout);
	return size * n;
}

/* One request; returns the HTTP status (the body in `body`), or -1. */
static long request(struct http *h, const char *method, const char *path, struct curl_slist *extra,
		    int body_fd, struct nib_buf *body, curl_write_callback write_fn,
		    void *write_arg, struct nib_error *err)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = NULL;
	_cleanup_free_ char *url = xasprintf("%s%s", h->base, path);
	_cleanup_fclose_ FILE *in = NULL;
	long code = -1;

	for (struct curl_slist *s = extra; s; s = s->next)
		hdr = curl_slist_append(hdr, s->data);
	if (h->auth)
		hdr = curl_slist_append(hdr, h->auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_fn ? write_fn : to_buf);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, write_fn ? write_arg : (void *)body);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	if (body_fd >= 0) {
		struct stat st;
		fstat(body_fd, &st);
		in = fdopen(dup(body_fd), "rb");
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c, CURLOPT_READDATA, in);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
	} else if (streq(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		nib_err(err, NIB_ERR_NETWORK, 0, "%s: %s", url, curl_easy_strerror(rc));
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return code;
}

/* The service's {"error"} answer as an error of the right kind. */
static int http_error(long code, const struct nib_buf *body, const char *what,
		      struct nib_error *err)
{
	_cleanup_(json_object_putp) json_object *o =
	    body->data ? json_tokener_parse(body->data) : NULL;
	json_object *m;
	const char *msg = o && json_object_object_get_ex(o, "error", &m)
			      ? json_object_get_string(m)
			      : "no answer the build service gives";
	enum nib_err_kind kind = code == 401 || code == 403   ? NIB_ERR_AUTH
				 : code == 404		      ? NIB_ERR_NOT_FOUND
				 : code == 400 || code == 413 ? NIB_ERR_USAGE
							      : NIB_ERR_NETWORK;
	return nib_err(err, kind, 0, "%s: %s (HTTP %ld)", what, msg, code);
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && !json_object_is_type(v, json_type_null)
		   ? json_object_get_string(v)
		   : NULL;
}

/* Send the build; its ID in `id`. */
static int submit(struct http *h, const struct bld_build_opts *o, char **id, struct nib_error *err)
{
	_cleanup_free_ char *spec = NULL, *keep = NULL, *spec_hdr = NULL;
	_cleanup_close_ int body = -1;
	_cleanup_buf_ struct nib_buf res = {0};
	_cleanup_(json_object_putp) json_object *build = NULL;

	if (make_spec(o, &keep, &spec, err) < 0 || pack_context(o, keep, &body, err) < 0)
		return -1;
	spec_hdr = xasprintf("Nib-Build-Spec: %s", spec);
	struct curl_slist hs[3] = {{.data = (char *)"Content-Type: application/gzip"},
				   {.data = spec_hdr},
				   {.data = (char *)"Expect:"}};
	hs[0].next = &hs[1];
	hs[1].next = &hs[2];
	long code = request(h, "POST", "/v1/builds", hs, body, &res, NULL, NULL, err);
	if (code < 0)
		return -1;
	if (code != 201)
		return http_error(code, &res, "build service", err);
	build = json_tokener_parse(res.data);
	const char *v = build ? jstr(build, "id") : NULL;
	if (!v)
		return nib_err(err, NIB_ERR_NETWORK, 0, "%s: the build service gave no build ID",
			       h->base);
	*id = xstrdup(v);
	return 0;
}

int bld_remote_build(const struct bld_build_opts *o, const char *url, const char *token_file,
		     struct nib_error *err)
{
	_cleanup_free_ char *token = NULL, *auth = NULL, *id = NULL;
	_cleanup_free_ char *logpath = NULL, *getpath = NULL;
	_cleanup_buf_ struct nib_buf res = {0}, none = {0};
	_cleanup_(json_object_putp) json_object *build = NULL;
	bool quiet = o->quiet;
	long code;

	if (!nib_str_has_prefix(url, "http://") && !nib_str_has_prefix(url, "https://"))
		return nib_err(err, NIB_ERR_USAGE, 0, "build: --remote %s: not an http(s) URL",
			       url);
	if (refuse(o, err) < 0)
		return -1;
	if (token_file) {
		size_t len;
		if (nib_read_file_at(AT_FDCWD, token_file, 65536, &token, &len, err) < 0)
			return nib_err_wrap(err, "--token-file");
		token[strcspn(token, "\r\n")] = '\0';
	} else if (getenv("NIB_SERVE_TOKEN")) {
		token = xstrdup(getenv("NIB_SERVE_TOKEN"));
	}
	if (token && *token)
		auth = xasprintf("Authorization: Bearer %s", token);
	struct http h = {.base = url, .auth = auth};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (submit(&h, o, &id, err) < 0)
		return -1;
	if (!quiet)
		printf("Build %s queued at %s\n", id, url);
	fflush(stdout);
	logpath = xasprintf("/v1/builds/%s/log?follow=true", id);
	getpath = xasprintf("/v1/builds/%s", id);
	if (request(&h, "GET", logpath, NULL, -1, &none, to_stdout, &quiet, err) < 0)
		return -1;
	code = request(&h, "GET", getpath, NULL, -1, &res, NULL, NULL, err);
	if (code < 0)
		return -1;
	if (code != 200)
		return http_error(code, &res, id, err);
	build = json_tokener_parse(res.data);
	const char *state = build ? jstr(build, "state") : NULL;
	const char *digest = build ? jstr(build, "digest") : NULL;
	const char *image_id = build ? jstr(build, "imageId") : NULL;
	if (!state || !streq(state, "succeeded")) {
		const char *why = build ? jstr(build, "error") : NULL;
		return nib_err(err, NIB_ERR_RUN, 0, "build %s %s%s%s", id, state ? state : "ended",
			       why ? ": " : "", why ? why : "");
	}
	if (o->iidfile && image_id &&
	    nib_write_output_file(o->iidfile, image_id, strlen(image_id), err) < 0)
		return -1;
	if (o->digestfile && digest &&
	    nib_write_output_file(o->digestfile, digest, strlen(digest), err) < 0)
		return -1;
	if (digest)
		printf("%s\n", digest);
	fflush(stdout);
	return 0;
}
