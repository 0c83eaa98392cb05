/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ADD of an http(s) URL: downloaded with libcurl into an unlinked temp
 * file, hashed while it streams (--checksum), mtime from Last-Modified.
 * Remote archives are never extracted (Dockerfile reference: ADD).
 * Redirects are followed by hand: HTTPS never leads to plain HTTP. The
 * build's registry client sets each request up (--tls-verify, --cert-dir
 * or the host's certs.d, timeouts) and decides the retries (--retry,
 * --retry-delay); SSL_CERT_FILE / SSL_CERT_DIR name more trusted CAs, as
 * for Go programs.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>

#include "builder/context.h"
#include "builder/copy.h"
#include "builder/progress.h"
#include "registry/registry.h"

static void curl_easy_cleanupp(CURL **c)
{
	if (*c)
		curl_easy_cleanup(*c);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* BuildKit: path.Base of the URL's (decoded) path, "__unnamed__" when it
 * has none. */
static char *url_file_name(const char *url)
{
	const char *p = strstr(url, "://");
	const char *end;
	struct nib_buf b = {0};
	_cleanup_free_ char *clean = NULL;
	const char *base;

	p = p ? p + 3 : url;
	p = strchr(p, '/');
	if (!p)
		return xstrdup("__unnamed__");
	end = p + strcspn(p, "?#");
	for (const char *q = p; q < end; q++) {
		if (*q == '%' && q + 2 < end && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
			nib_buf_putc(&b, (char)(hexval(q[1]) * 16 + hexval(q[2])));
			q += 2;
		} else {
			nib_buf_putc(&b, *q);
		}
	}
	clean = nib_path_clean(b.data ? b.data : "/");
	nib_buf_free(&b);
	base = strrchr(clean, '/');
	base = base ? base + 1 : clean;
	if (!*base || streq(base, "."))
		return xstrdup("__unnamed__");
	return xstrdup(base);
}

char *bld_url_redact(const char *text)
{
	return nib_url_redact(text);
}

static int tmp_file(struct nib_error *err)
{
	const char *dir = getenv("TMPDIR");
	_cleanup_free_ char *tmpl = NULL;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	tmpl = xasprintf("%s/nib-download-XXXXXX", dir);
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "create a temp file in %s", dir);
	unlink(tmpl);
	return fd;
}

struct sink {
	const struct bld_fetch_limits *lim;
	CURL *c;
	int fd;
	struct nib_sha256 *sha;
	int errnum;
	uint64_t size, max; /* bytes so far; the cap (NIB_ADD_MAX_SIZE) */
};

/* The largest download ADD keeps: NIB_ADD_MAX_SIZE bytes, 8 GiB by
 * default (an endless body must not fill the disk). */
static uint64_t add_max_size(void)
{
	const char *v = getenv("NIB_ADD_MAX_SIZE");
	uint64_t n;

	return v && nib_parse_u64(v, &n) == 0 && n > 0 ? n : (8ull << 30);
}

/* Only a 2xx body is the download; a redirect's body is dropped. */
static size_t on_data(char *p, size_t size, size_t n, void *data)
{
	struct sink *s = data;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300)
		return len;
	if (!s->size) { /* the live display's bar, for a large download */
		curl_off_t cl = -1;
		curl_easy_getinfo(s->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		bld_tty_bytes_expect(cl > 0 ? (int64_t)cl : 0);
	}
	bld_tty_bytes_add((int64_t)len);
	s->size += len;
	if (s->size > s->max) {
		s->errnum = EFBIG;
		return 0;
	}
	if (nib_write_all(s->fd, p, len) < 0) {
		s->errnum = errno;
		return 0;
	}
	nib_sha256_update(s->sha, p, len);
	return len;
}

/* libcurl's progress callback: non-zero stops the transfer. */
static int on_progress(void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct sink *s = data;
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (s->lim && s->lim->stop && s->lim->stop(s->lim->stop_arg)) {
		s->errnum = ECANCELED;
		return 1;
	}
	return 0;
}

static void curl_urlp(CURLU **u)
{
	if (*u)
		curl_url_cleanup(*u);
}

/* host[:port] of `u` for messages. */
static char *url_hostport(CURLU *u)
{
	char *host = NULL, *port = NULL;
	char *out;

	curl_url_get(u, CURLUPART_HOST, &host, 0);
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	out = port ? xasprintf("%s:%s", host ? host : "", port) : xstrdup(host ? host : "");
	curl_free(host);
	curl_free(port);
	return out;
}

static bool url_scheme_is(CURLU *u, const char *scheme)
{
	char *s = NULL;
	bool r = curl_url_get(u, CURLUPART_SCHEME, &s, 0) == CURLUE_OK && s && streq(s, scheme);
	curl_free(s);
	return r;
}

#define MAX_REDIRECTS 10

/* scheme://host[:port] of `u`. */
static char *url_origin(CURLU *u)
{
	char *scheme = NULL;
	_cleanup_free_ char *hp = url_hostport(u);
	char *o;

	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	o = xasprintf("%s://%s", scheme ? scheme : "", hp);
	curl_free(scheme);
	return o;
}

static void curl_freep(char **p)
{
	if (*p) {
		explicit_bzero(*p, strlen(*p));
		curl_free(*p);
	}
}

/* One attempt: the request and its redirects, the body into s->fd.
 * Returns the libcurl result (`status` the last HTTP status), or -1 with
 * `err` set for what no retry mends. */
static int fetch(CURL *c, CURLU *u, struct reg_client *client, const char *url, const char *origin,
		 const char *user, const char *pass, struct sink *s, long *status,
		 struct nib_error *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	for (int redirects = 0;; redirects++) {
		_cleanup_free_ char *here = url_origin(u);
		char *cur = NULL, *loc = NULL;
		bool creds = (user || pass) && streq(here, origin);
		if (curl_url_get(u, CURLUPART_URL, &cur, 0) != CURLUE_OK)
			return nib_err(err, NIB_ERR_SYNTAX, 0, "ADD %s: not a valid URL", url);
		if (client)
			reg_client_setup_download(client, cur, c);
		curl_easy_setopt(c, CURLOPT_URL, cur);
		curl_free(cur);
		curl_easy_setopt(c, CURLOPT_USERNAME, creds ? (user ? user : "") : NULL);
		curl_easy_setopt(c, CURLOPT_PASSWORD, creds ? (pass ? pass : "") : NULL);
		errbuf[0] = '\0';
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		if ((rc == CURLE_WRITE_ERROR && s->errnum == EFBIG) ||
		    rc == CURLE_FILESIZE_EXCEEDED)
			return nib_err(err, NIB_ERR_IO, EFBIG,
				       "ADD %s: the download is larger than %llu bytes%s", url,
				       (unsigned long long)s->max,
				       s->lim && s->lim->max_size ? "" : " (NIB_ADD_MAX_SIZE)");
		if (rc == CURLE_ABORTED_BY_CALLBACK && s->errnum == ECANCELED)
			return nib_err(err, NIB_ERR_NETWORK, 0, "ADD %s: stopped", url);
		if (rc == CURLE_OPERATION_TIMEDOUT && s->lim && s->lim->timeout)
			return nib_err(err, NIB_ERR_NETWORK, 0,
				       "ADD %s: took longer than its time limit of %u s", url,
				       s->lim->timeout);
		if (rc == CURLE_WRITE_ERROR && s->errnum)
			return nib_err(err, NIB_ERR_IO, s->errnum, "ADD %s: write the download",
				       url);
		if (rc != CURLE_OK) {
			_cleanup_free_ char *e =
			    bld_url_redact(*errbuf ? errbuf : curl_easy_strerror(rc));
			nib_err(err, NIB_ERR_NETWORK, 0, "ADD %s: %s", url, e);
			return (int)rc;
		}
		if (*status < 300 || *status >= 400 ||
		    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || !loc)
			return CURLE_OK;
		if (redirects >= MAX_REDIRECTS)
			return nib_err(err, NIB_ERR_NETWORK, 0, "ADD %s: more than %d redirects",
				       url, MAX_REDIRECTS);
		bool was_https = url_scheme_is(u, "https");
		if (curl_url_set(u, CURLUPART_URL, loc, 0) != CURLUE_OK ||
		    (!url_scheme_is(u, "https") && !url_scheme_is(u, "http")))
			return nib_err(err, NIB_ERR_NETWORK, 0,
				       "ADD %s: redirect to an unsupported URL", url);
		if (s->lim && s->lim->confined) {
			_cleanup_free_ char *to = url_origin(u);
			if (!streq(to, here))
				return nib_err(err, NIB_ERR_NETWORK, 0,
					       "ADD %s: redirect to another host or scheme (%s) "
					       "refused",
					       url, to);
		}
		/* a Location with credentials of its own gets none */
		curl_url_set(u, CURLUPART_USER, NULL, 0);
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		if (was_https && url_scheme_is(u, "http")) {
			_cleanup_free_ char *hp = url_hostport(u);
			return nib_err(err, NIB_ERR_NETWORK, 0,
				       "ADD %s: redirect from HTTPS to plain HTTP (%s) refused",
				       url, hp);
		}
	}
}

int bld_copy_download(const char *url_in, const char *checksum, struct reg_client *client,
		      const struct bld_fetch_limits *lim, int64_t *mtime, char **name,
		      struct nib_error *err)
{
	/* credentials in the URL (https://user:pass@host/...) are sent to that
	 * origin only, and no message, log or record shows them */
	_cleanup_free_ char *url = bld_url_redact(url_in), *origin = NULL;
	_cleanup_(curl_freep) char *user = NULL, *pass = NULL;
	_cleanup_(curl_easy_cleanupp) CURL *c = NULL;
	_cleanup_(curl_urlp) CURLU *u = NULL;
	_cleanup_(nib_sha256_freep) struct nib_sha256 *sha = NULL;
	_cleanup_close_ int fd = -1;
	char got[NIB_DIGEST_LEN + 1];
	struct sink s;
	curl_off_t ft = -1;
	long status = 0;
	int rc;

	const uint64_t max = lim && lim->max_size ? lim->max_size : add_max_size();

	if (checksum && !(nib_str_has_prefix(checksum, "sha256:") && nib_digest_valid(checksum)))
		return nib_err(err, NIB_ERR_SYNTAX, 0,
			       "invalid --checksum=%s: expected sha256:<64 hex digits>", checksum);
	pthread_once(&curl_once, curl_init);
	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, url_in, 0) != CURLUE_OK)
		return nib_err(err, NIB_ERR_SYNTAX, 0, "ADD %s: not a valid URL", url);
	curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE);
	curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE);
	curl_url_set(u, CURLUPART_USER, NULL, 0);
	curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
	origin = url_origin(u);
	fd = tmp_file(err);
	if (fd < 0)
		return -1;
	c = curl_easy_init();
	if (!c)
		return nib_err(err, NIB_ERR_ENV, 0, "ADD %s: cannot start libcurl", url);
	/* redirects are followed here, not by libcurl, so that each one is
	 * checked: HTTPS never leads to plain HTTP, credentials stay with
	 * their origin */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, lim && lim->confined ? "https" : "http,https");
	curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "nib/" NIB_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	if (lim && lim->timeout)
		curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)lim->timeout);
	/* the CA certificates Go programs (Docker, BuildKit) trust for ADD */
	const char *cafile = getenv("SSL_CERT_FILE"), *cadir = getenv("SSL_CERT_DIR");
	if (cafile && *cafile)
		curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
	if (cadir && *cadir)
		curl_easy_setopt(c, CURLOPT_CAPATH, cadir);
	for (int attempt = 0;; attempt++) {
		/* each attempt from the start: an empty file, a new digest */
		if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "ADD %s: the download's file", url);
		nib_sha256_free(sha);
		sha = nib_sha256_new();
		s = (struct sink){.lim = lim, .c = c, .fd = fd, .sha = sha, .max = max};
		curl_url_set(u, CURLUPART_URL, url_in, 0);
		curl_url_set(u, CURLUPART_USER, NULL, 0);
		curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
		rc = fetch(c, u, client, url, origin, user, pass, &s, &status, err);
		if (rc < 0)
			return -1;
		if (rc == CURLE_OK && status < 300)
			break;
		if (!client || !reg_client_download_retry(client, attempt, rc, status)) {
			if (rc != CURLE_OK)
				return -1;
			return nib_err(err, status == 404 ? NIB_ERR_NOT_FOUND : NIB_ERR_NETWORK, 0,
				       "ADD %s: HTTP status %ld", url, status);
		}
		log_info("ADD %s: %s: trying again", url,
			 rc != CURLE_OK && err && err->msg ? err->msg : "server error");
		nib_err_clear(err);
	}
	nib_sha256_final(sha, got);
	if (checksum && !streq(checksum, got))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "ADD %s: checksum mismatch: expected %s, got %s", url, checksum,
			       got);
	curl_easy_getinfo(c, CURLINFO_FILETIME_T, &ft);
	*mtime = ft > 0 ? (int64_t)ft : 0;
	*name = url_file_name(url);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "ADD %s: seek the download", url);
	return take_fd(&fd);
}
