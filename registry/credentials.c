/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credentials: containers-auth.json(5) files and Docker's config.json
 * ("auths" with base64 "user:password", "credHelpers", "credsStore" through
 * docker-credential-NAME programs), the legacy ~/.dockercfg format (the
 * registry keys at the top level, no "auths": what OpenShift puts in its
 * kubernetes.io/dockercfg secrets), `--creds`, and writing auth.json for
 * `nib login` / `nib logout`. Secrets are wiped from memory when freed and
 * never logged.
 */
#define NIB_REGISTRY_INTERNAL
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "registry/registry_internal.h"

#define AUTHFILE_MAX (4u << 20)
#define HELPER_MAX   (1u << 20) /* a credential helper's answer */

extern char **environ;

/* Seconds from NIB_<NAME> (a positive number), else `def`. */
static long env_seconds(const char *name, long def)
{
	const char *v = getenv(name);
	return v && atol(v) > 0 ? atol(v) : def;
}

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Read an auth file of at most AUTHFILE_MAX bytes within
 * NIB_AUTHFILE_READ_TIMEOUT seconds (10): REGISTRY_AUTH_FILE or --authfile
 * may name a FIFO (a FIFO without a writer reads as empty instead of
 * blocking the open) or a pipe (`--authfile <(...)`, read while it comes),
 * and a huge file or an endless pipe must not take nib's memory or time.
 * Errors name the path; ENOENT is kept for callers that skip missing files.
 */
static int read_authfile(const char *path, char **out, size_t *len, struct nib_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	_cleanup_buf_ struct nib_buf b = {0};
	long timeout = env_seconds("NIB_AUTHFILE_READ_TIMEOUT", 10);
	double end = now_mono() + (double)timeout;
	struct stat st;

	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s", path);
	if (fstat(fd, &st) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s", path);
	if (S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ||
	    S_ISSOCK(st.st_mode))
		return nib_err(err, NIB_ERR_IO, EINVAL, "%s is not a regular file or a pipe", path);
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > AUTHFILE_MAX)
		return nib_err(err, NIB_ERR_IO, EFBIG, "%s is larger than %u bytes", path,
			       AUTHFILE_MAX);
	for (;;) {
		char chunk[65536];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n > 0) {
			if (b.len + (size_t)n > AUTHFILE_MAX) {
				explicit_bzero(b.data, b.len);
				return nib_err(err, NIB_ERR_IO, EFBIG, "%s is larger than %u bytes",
					       path, AUTHFILE_MAX);
			}
			nib_buf_append(&b, chunk, (size_t)n);
			continue;
		}
		if (n == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			if (b.data)
				explicit_bzero(b.data, b.len);
			return nib_err(err, NIB_ERR_IO, errno, "read %s", path);
		}
		double left = end - now_mono();
		struct pollfd p = {fd, POLLIN, 0};
		if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) == 0) {
			if (b.data)
				explicit_bzero(b.data, b.len);
			return nib_err(err, NIB_ERR_IO, ETIMEDOUT,
				       "%s: not read to its end within %ld s "
				       "(NIB_AUTHFILE_READ_TIMEOUT)",
				       path, timeout);
		}
	}
	*len = b.len;
	*out = nib_buf_steal(&b);
	return 0;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void reg_creds_clear(struct reg_creds *c)
{
	if (!c)
		return;
	wipe_free(c->username);
	wipe_free(c->password);
	c->username = c->password = NULL;
}

int reg_creds_parse(const char *s, struct reg_creds *out, struct nib_error *err)
{
	const char *colon = strchr(s, ':');

	memset(out, 0, sizeof(*out));
	if (!colon || colon == s)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--creds: expected USERNAME:PASSWORD (the value is not shown)");
	out->username = xstrndup(s, (size_t)(colon - s));
	out->password = xstrdup(colon + 1);
	return 0;
}

char *reg_authfile_default(const char *authfile)
{
	const char *env = getenv("REGISTRY_AUTH_FILE"), *run = getenv("XDG_RUNTIME_DIR");
	const char *home = getenv("HOME");

	if (authfile && *authfile)
		return xstrdup(authfile);
	if (env && *env)
		return xstrdup(env);
	if (run && *run)
		return xasprintf("%s/containers/auth.json", run);
	return xasprintf("%s/.config/containers/auth.json", home && *home ? home : ".");
}

/* Normalise an "auths" key: no scheme, no trailing slash, Docker Hub's
 * legacy names become docker.io. */
static char *norm_key(const char *k)
{
	const char *p = k;
	char *s;
	size_t n;

	if (nib_str_has_prefix(p, "https://"))
		p += 8;
	else if (nib_str_has_prefix(p, "http://"))
		p += 7;
	s = xstrdup(p);
	n = strlen(s);
	while (n && s[n - 1] == '/')
		s[--n] = '\0';
	if (nib_str_has_prefix(s, "index.docker.io") ||
	    nib_str_has_prefix(s, "registry-1.docker.io")) {
		/* "index.docker.io/v1" and friends: the whole of Docker Hub */
		free(s);
		s = xstrdup(REG_DOCKER_HUB);
	}
	return s;
}

static int decode_auth(const char *path, const char *key, const char *auth, struct reg_creds *out,
		       struct nib_error *err)
{
	size_t n;
	char *dec = reg_b64_decode(auth, &n), *colon;

	if (!dec || strlen(dec) != n || !(colon = strchr(dec, ':')) || colon == dec) {
		wipe_free(dec);
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: the \"auth\" value for '%s' is not base64 of user:password",
			       path, key);
	}
	out->username = xstrndup(dec, (size_t)(colon - dec));
	out->password = xstrdup(colon + 1);
	wipe_free(dec);
	return 1;
}

/* One entry of "auths" (or of a legacy .dockercfg): "auth", else
 * "username" and "password" (Kubernetes and OpenShift write both).
 * 1 when it holds credentials, 0 when empty. */
static int entry_creds(const char *path, const char *key, json_object *val, struct reg_creds *out,
		       struct nib_error *err)
{
	const char *a = reg_json_get_string(val, "auth");
	const char *u = reg_json_get_string(val, "username"),
		   *p = reg_json_get_string(val, "password");

	if (a && *a)
		return decode_auth(path, key, a, out, err);
	if (u && *u && p) {
		out->username = xstrdup(u);
		out->password = xstrdup(p);
		return 1;
	}
	return 0;
}

/* Wait for `pid` until `end` (CLOCK_MONOTONIC seconds); kill it then.
 * Returns its wait status, or -1 when it had to be killed. */
static int wait_until(pid_t pid, double end)
{
	int status = 0;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_mono() >= end) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/*
 * docker-credential-HELPER get: server URL on stdin, JSON on stdout. The
 * helper must answer (at most HELPER_MAX bytes) and exit within
 * NIB_CREDENTIAL_HELPER_TIMEOUT seconds (30): one that never exits or
 * writes without end is killed and named in the error.
 */
static int run_helper(const char *helper, const char *registry, struct reg_creds *out,
		      struct nib_error *err)
{
	_cleanup_free_ char *prog = xasprintf("docker-credential-%s", helper);
	_cleanup_buf_ struct nib_buf outb = {0};
	_cleanup_json_ json_object *o = NULL;
	posix_spawn_file_actions_t fa;
	int in[2], outp[2], status;
	long timeout = env_seconds("NIB_CREDENTIAL_HELPER_TIMEOUT", 30);
	double end = now_mono() + (double)timeout;
	bool timed_out = false, too_big = false;
	pid_t pid;
	char *argv[] = {prog, "get", NULL};
	const char *server =
	    streq(registry, REG_DOCKER_HUB) ? "https://index.docker.io/v1/" : registry;

	for (const char *q = helper; *q; q++)
		if (*q == '/' || *q == ' ')
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "credential helper name '%s' is not valid", helper);
	if (pipe2(in, O_CLOEXEC) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "pipe");
	if (pipe2(outp, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return nib_err(err, NIB_ERR_IO, errno, "pipe");
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	int r = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(outp[1]);
	if (r != 0) {
		close(in[1]);
		close(outp[0]);
		return nib_err(err, NIB_ERR_AUTH, r, "credential helper %s for %s", prog, registry);
	}
	signal(SIGPIPE, SIG_IGN);
	/* a helper that does not read its input must not block nib either */
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	(void)nib_write_all(in[1], server, strlen(server));
	close(in[1]);
	fcntl(outp[0], F_SETFL, O_NONBLOCK);
	while (!timed_out && !too_big) {
		char buf[4096];
		ssize_t n = read(outp[0], buf, sizeof(buf));
		if (n > 0 && outb.len + (size_t)n > HELPER_MAX)
			too_big = true;
		else if (n > 0)
			nib_buf_append(&outb, buf, (size_t)n);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = {outp[0], POLLIN, 0};
			double left = end - now_mono();
			if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) == 0)
				timed_out = true;
		}
	}
	close(outp[0]);
	if (timed_out || too_big)
		kill(pid, SIGKILL);
	status = wait_until(pid, end);
	if (status < 0)
		timed_out = true;
	if (outb.data && (timed_out || too_big))
		explicit_bzero(outb.data, outb.len);
	if (too_big)
		return nib_err(err, NIB_ERR_AUTH, EFBIG,
			       "credential helper %s for %s answered more than %u bytes: killed",
			       prog, registry, HELPER_MAX);
	if (timed_out)
		return nib_err(err, NIB_ERR_AUTH, ETIMEDOUT,
			       "credential helper %s for %s did not finish within %ld s "
			       "(NIB_CREDENTIAL_HELPER_TIMEOUT): killed",
			       prog, registry, timeout);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (outb.data)
			explicit_bzero(outb.data, outb.len);
		/* "credentials not found in native keychain" */
		log_debug("%s get %s: no credentials (exit status %d)", prog, registry,
			  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return 0;
	}
	o = outb.len ? json_tokener_parse(outb.data) : NULL;
	explicit_bzero(outb.data, outb.len);
	const char *u = reg_json_get_string(o, "Username"), *s = reg_json_get_string(o, "Secret");
	if (!u || !s)
		return nib_err(err, NIB_ERR_AUTH, 0,
			       "credential helper %s returned a malformed answer for %s", prog,
			       registry);
	out->username = xstrdup(u);
	out->password = xstrdup(s);
	return 1;
}

/* A legacy .dockercfg is the "auths" object itself. It is told apart from a
 * config.json or auth.json that simply has no "auths" by its shape: every
 * value is an object, and none of config.json's own keys is present. */
static json_object *legacy_entries(json_object *o)
{
	static const char *const config_keys[] = {"credHelpers", "credsStore", "HttpHeaders",
						  "psFormat",	 "proxies",    "detachKeys"};

	for (size_t i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (json_object_object_get_ex(o, config_keys[i], NULL))
			return NULL;
	json_object_object_foreach(o, key, val)
	{
		(void)key;
		if (!json_object_is_type(val, json_type_object))
			return NULL;
	}
	return o;
}

static int lookup_file(const char *path, bool must_exist, const char *registry, const char *repo,
		       struct reg_creds *out, struct nib_error *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ json_object *o = NULL;
	json_object *auths = NULL, *helpers = NULL, *v;
	const char *store;
	size_t len;

	if (read_authfile(path, &text, &len, err) < 0) {
		if (!must_exist && err && (err->errnum == ENOENT || err->errnum == ENOTDIR)) {
			nib_err_clear(err);
			return 0;
		}
		if (!err && !must_exist)
			return 0;
		return -1;
	}
	o = json_tokener_parse(text);
	explicit_bzero(text, len);
	if (!o || !json_object_is_type(o, json_type_object))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: not a JSON object", path);
	if (json_object_object_get_ex(o, "credHelpers", &helpers) &&
	    json_object_is_type(helpers, json_type_object)) {
		const char *hname = reg_json_get_string(helpers, registry);
		if (hname)
			return run_helper(hname, registry, out, err);
	}
	/* no "auths": the legacy .dockercfg format, whose top-level keys are
	 * the registries (values that are not objects are not entries) */
	if (!json_object_object_get_ex(o, "auths", &auths))
		auths = legacy_entries(o);
	if (auths && json_object_is_type(auths, json_type_object)) {
		/* most specific key first: registry/ns/repo, registry/ns, registry */
		_cleanup_free_ char *want =
		    repo ? xasprintf("%s/%s", registry, repo) : xstrdup(registry);
		for (;;) {
			json_object_object_foreach(auths, key, val)
			{
				_cleanup_free_ char *nk = norm_key(key);
				int r;
				if (!streq(nk, want) || !json_object_is_type(val, json_type_object))
					continue;
				if ((r = entry_creds(path, key, val, out, err)) != 0)
					return r;
			}
			char *slash = strrchr(want, '/');
			if (!slash || strlen(want) <= strlen(registry))
				break;
			*slash = '\0';
		}
	}
	store = reg_json_get_string(o, "credsStore");
	if (store && *store)
		return run_helper(store, registry, out, err);
	(void)v;
	return 0;
}

int reg_creds_lookup(const char *authfile, const char *registry, const char *repo,
		     struct reg_creds *out, struct nib_error *err)
{
	const char *env = getenv("REGISTRY_AUTH_FILE"), *run = getenv("XDG_RUNTIME_DIR");
	const char *home = getenv("HOME"), *dcfg = getenv("DOCKER_CONFIG");
	struct nib_strv files = {0};
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (authfile && *authfile)
		return lookup_file(authfile, true, registry, repo, out, err);
	if (env && *env)
		return lookup_file(env, false, registry, repo, out, err);
	if (run && *run)
		nib_strv_pushf(&files, "%s/containers/auth.json", run);
	if (home && *home)
		nib_strv_pushf(&files, "%s/.config/containers/auth.json", home);
	if (dcfg && *dcfg)
		nib_strv_pushf(&files, "%s/config.json", dcfg);
	else if (home && *home) {
		nib_strv_pushf(&files, "%s/.docker/config.json", home);
		nib_strv_pushf(&files, "%s/.dockercfg", home);
	}
	for (size_t i = 0; i < files.len && r == 0; i++) {
		r = lookup_file(files.v[i], false, registry, repo, out, err);
		if (r > 0)
			log_debug("credentials for %s from %s", registry, files.v[i]);
	}
	nib_strv_free(&files);
	return r;
}

/* auth.json is read, changed and replaced (atomically, by rename) while
 * an exclusive flock of the sibling file "<authfile>.lock" is held, so
 * that concurrent logins and logouts all keep their changes; the lock is
 * on a file of its own because the rename replaces auth.json itself. The
 * wait is bounded (NIB_AUTHFILE_LOCK_TIMEOUT seconds, 30 by default).
 * Returns the locked fd (closing it unlocks). */
static int lock_authfile(const char *path, struct nib_error *err)
{
	_cleanup_free_ char *dir = xstrdup(path), *lp = xasprintf("%s.lock", path);
	long timeout = env_seconds("NIB_AUTHFILE_LOCK_TIMEOUT", 30);
	struct timespec start, now;
	_cleanup_close_ int fd = -1;

	if (nib_mkdir_p_at(AT_FDCWD, dirname(dir), 0700, err) < 0)
		return -1;
	fd = open(lp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", lp);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return take_fd(&fd);
		if (errno != EWOULDBLOCK && errno != EINTR)
			return nib_err(err, NIB_ERR_IO, errno, "lock %s", lp);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= timeout)
			return nib_err(err, NIB_ERR_IO, EWOULDBLOCK,
				       "%s: locked by another process (%s) for %ld s", path, lp,
				       timeout);
		struct timespec ts = {.tv_nsec = 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

static int load_for_update(const char *path, json_object **out, struct nib_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (read_authfile(path, &text, &len, err) < 0) {
		if (err && err->errnum == ENOENT) {
			nib_err_clear(err);
			*out = json_object_new_object();
			return 0;
		}
		return -1;
	}
	*out = json_tokener_parse(text);
	explicit_bzero(text, len);
	if (!*out || !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: not a JSON object", path);
	}
	return 0;
}

static int save(const char *path, json_object *o, struct nib_error *err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE);
	char *d = dirname(dir);

	if (nib_mkdir_p_at(AT_FDCWD, d, 0700, err) < 0)
		return -1;
	_cleanup_free_ char *data = xasprintf("%s\n", s);
	int r = nib_write_file_atomic_at(AT_FDCWD, path, data, strlen(data), 0600, err);
	explicit_bzero(data, strlen(data));
	return r;
}

int reg_creds_store(const char *authfile, const char *key, const struct reg_creds *c,
		    struct nib_error *err)
{
	_cleanup_free_ char *path = reg_authfile_default(authfile);
	_cleanup_json_ json_object *o = NULL;
	_cleanup_close_ int lock = -1;
	json_object *auths, *entry;

	if ((lock = lock_authfile(path, err)) < 0 || load_for_update(path, &o, err) < 0)
		return -1;
	if (!json_object_object_get_ex(o, "auths", &auths) ||
	    !json_object_is_type(auths, json_type_object)) {
		/* a legacy .dockercfg keeps its format */
		auths = json_object_object_length(o) > 0 ? legacy_entries(o) : NULL;
		if (!auths) {
			auths = json_object_new_object();
			json_object_object_add(o, "auths", auths);
		}
	}
	_cleanup_free_ char *up = xasprintf("%s:%s", c->username, c->password);
	_cleanup_free_ char *enc = reg_b64_encode(up, strlen(up));
	explicit_bzero(up, strlen(up));
	entry = json_object_new_object();
	json_object_object_add(entry, "auth", json_object_new_string(enc));
	explicit_bzero(enc, strlen(enc));
	json_object_object_add(auths, key, entry);
	return save(path, o, err);
}

int reg_creds_remove(const char *authfile, const char *key, struct nib_error *err)
{
	_cleanup_free_ char *path = reg_authfile_default(authfile);
	_cleanup_json_ json_object *o = NULL;
	_cleanup_close_ int lock = -1;
	json_object *auths;
	int removed = 0;

	if (access(path, F_OK) != 0)
		return 0;
	if ((lock = lock_authfile(path, err)) < 0 || load_for_update(path, &o, err) < 0)
		return -1;
	if (!json_object_object_get_ex(o, "auths", &auths))
		auths = legacy_entries(o);
	if (!auths || !json_object_is_type(auths, json_type_object))
		return 0;
	if (!key) {
		removed = json_object_object_length(auths) > 0;
		if (auths == o) {
			json_object_put(o);
			o = json_object_new_object();
		} else {
			json_object_object_add(o, "auths", json_object_new_object());
		}
	} else {
		struct nib_strv del = {0};
		json_object_object_foreach(auths, k, val)
		{
			_cleanup_free_ char *nk = norm_key(k);
			(void)val;
			if (streq(nk, key))
				nib_strv_push(&del, k);
		}
		for (size_t i = 0; i < del.len; i++)
			json_object_object_del(auths, del.v[i]);
		removed = del.len > 0;
		nib_strv_free(&del);
	}
	if (!removed)
		return 0;
	if (save(path, o, err) < 0)
		return -1;
	return 1;
}
