/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The build context a CONTEXT argument names, made a local folder (see
 * context.h). Archives are written with libarchive's disk writer after each
 * entry's name is checked here (relative, no "..", not a device); the
 * writer's SECURE_SYMLINKS and SECURE_NODOTDOT refuse the rest (a path
 * through a symlink an earlier entry made). Git repositories are fetched
 * with the git program, as buildah and BuildKit do.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder/context.h"
#include "builder/copy.h"
#include "containerfile/containerfile.h"
#include "storage/storage.h"

extern char **environ;

static bool url_has_scheme(const char *s, const char *scheme)
{
	size_t n = strlen(scheme);
	return strncasecmp(s, scheme, n) == 0 && strncmp(s + n, "://", 3) == 0;
}

/* An http(s) URL is a git repository when its path ends in ".git"
 * (before any "#fragment"), as Docker decides. */
static bool http_is_git(const char *s)
{
	size_t n = strcspn(s, "#");
	return n >= 4 && strncmp(s + n - 4, ".git", 4) == 0;
}

enum bld_context_kind bld_context_kind(const char *spec)
{
	if (streq(spec, "-"))
		return BLD_CONTEXT_STDIN;
	if (url_has_scheme(spec, "git") || url_has_scheme(spec, "ssh") ||
	    nib_str_has_prefix(spec, "git@") || nib_str_has_prefix(spec, "github.com/"))
		return BLD_CONTEXT_GIT;
	if (url_has_scheme(spec, "http") || url_has_scheme(spec, "https"))
		return http_is_git(spec) ? BLD_CONTEXT_GIT : BLD_CONTEXT_URL;
	return BLD_CONTEXT_DIR;
}

int bld_context_git_split(const char *spec, char **url, char **ref, char **dir,
			  struct nib_error *err)
{
	const char *hash = strchr(spec, '#');
	_cleanup_free_ char *u = hash ? xstrndup(spec, (size_t)(hash - spec)) : xstrdup(spec);
	_cleanup_free_ char *r = NULL, *d = NULL;

	if (!*u)
		return nib_err(err, NIB_ERR_USAGE, 0, "context %s: no repository URL", spec);
	if (hash) {
		const char *colon = strchr(hash + 1, ':');
		r = colon ? xstrndup(hash + 1, (size_t)(colon - hash - 1)) : xstrdup(hash + 1);
		if (colon) {
			const char *sub = colon + 1;
			while (*sub == '/')
				sub++;
			d = nib_path_clean(sub);
			if (!nib_path_is_below(d) && !streq(d, "."))
				return nib_err(err, NIB_ERR_USAGE, 0,
					       "context %s: the folder %s leaves the repository",
					       spec, colon + 1);
		}
	}
	if (r && (r[0] == '-' || strpbrk(r, " \t\n")))
		return nib_err(err, NIB_ERR_USAGE, 0, "context %s: bad git reference '%s'", spec,
			       r);
	if (nib_str_has_prefix(u, "github.com/")) {
		char *full = xasprintf("https://%s", u);
		free(u);
		u = full;
	}
	*url = steal_pointer(&u);
	*ref = r && *r ? steal_pointer(&r) : NULL;
	*dir = d && !streq(d, ".") ? steal_pointer(&d) : NULL;
	return 0;
}

/* ---- archives ---- */

static void archive_readp(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static void archive_writep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

/* An entry name made relative and clean; NULL for the root itself. */
static int entry_name(const char *name, char **out)
{
	_cleanup_free_ char *c = NULL;

	if (*name == '/')
		return -1;
	c = nib_path_clean(name);
	if (streq(c, ".")) {
		*out = NULL;
		return 0;
	}
	if (!nib_path_is_below(c))
		return -1;
	*out = steal_pointer(&c);
	return 0;
}

int bld_context_extract(int fd, const char *dir, const char *what,
			const struct bld_fetch_limits *lim, struct nib_error *err)
{
	_cleanup_(archive_readp) struct archive *r = archive_read_new();
	_cleanup_(archive_writep) struct archive *w = archive_write_disk_new();
	struct stg_layer_limits def;
	struct archive_entry *e;
	uint64_t entries = 0, bytes = 0, max_size, max_entries;
	int rc;

	stg_layer_limits_default(&def);
	max_size = lim && lim->max_size ? lim->max_size : def.max_size;
	max_entries = lim && lim->max_entries ? lim->max_entries : def.max_entries;
	archive_read_support_filter_all(r);
	archive_read_support_format_tar(r);
	archive_read_support_format_empty(r);
	archive_write_disk_set_options(w, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
					      ARCHIVE_EXTRACT_SECURE_SYMLINKS |
					      ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	if (lseek(fd, 0, SEEK_SET) < 0 || archive_read_open_fd(r, fd, 1 << 16) != ARCHIVE_OK)
		return nib_err(err, NIB_ERR_CORRUPT, errno,
			       "context %s: not a readable archive: %s", what,
			       archive_error_string(r));
	while ((rc = archive_read_next_header(r, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
		_cleanup_free_ char *name = NULL, *path = NULL, *link = NULL;
		const char *hardlink = archive_entry_hardlink(e);
		mode_t type = archive_entry_filetype(e);
		const void *buf;
		size_t size;
		la_int64_t off;

		if (++entries > max_entries)
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "context %s: more than %llu entries%s", what,
				       (unsigned long long)max_entries,
				       lim && lim->max_entries ? "" : " (NIB_LAYER_MAX_ENTRIES)");
		if (entry_name(archive_entry_pathname(e), &name) < 0)
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "context %s: entry %s is outside the context", what,
				       archive_entry_pathname(e));
		if (!name && type != AE_IFDIR)
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "context %s: entry %s replaces the context folder", what,
				       archive_entry_pathname(e));
		if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "context %s: entry %s is a device node, FIFO or socket, "
				       "which a context may not hold",
				       what, name);
		if (hardlink) {
			_cleanup_free_ char *target = NULL;
			if (entry_name(hardlink, &target) < 0 || !target)
				return nib_err(err, NIB_ERR_CORRUPT, 0,
					       "context %s: entry %s is a hard link to %s, outside "
					       "the context",
					       what, name, hardlink);
			link = nib_path_join(dir, target);
			archive_entry_set_hardlink(e, link);
		}
		if (archive_entry_size(e) > 0 &&
		    (uint64_t)archive_entry_size(e) > max_size - MIN(bytes, max_size))
			goto too_big;
		/* the root entry ("./") gives the context folder its mode and time */
		path = name ? nib_path_join(dir, name) : xstrdup(dir);
		archive_entry_set_pathname(e, path);
		archive_entry_set_uid(e, getuid());
		archive_entry_set_gid(e, getgid());
		if (archive_write_header(w, e) != ARCHIVE_OK)
			return nib_err(err, NIB_ERR_CORRUPT, archive_errno(w), "context %s: %s: %s",
				       what, name, archive_error_string(w));
		while ((rc = archive_read_data_block(r, &buf, &size, &off)) == ARCHIVE_OK) {
			if ((bytes += size) > max_size)
				goto too_big;
			if (archive_write_data_block(w, buf, size, off) != ARCHIVE_OK)
				return nib_err(err, NIB_ERR_IO, archive_errno(w),
					       "context %s: write %s: %s", what, name,
					       archive_error_string(w));
		}
		if (rc != ARCHIVE_EOF)
			return nib_err(err, NIB_ERR_CORRUPT, 0, "context %s: read %s: %s", what,
				       name, archive_error_string(r));
		if (archive_write_finish_entry(w) != ARCHIVE_OK)
			return nib_err(err, NIB_ERR_IO, archive_errno(w), "context %s: %s: %s",
				       what, name, archive_error_string(w));
	}
	if (rc != ARCHIVE_EOF)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "context %s: not a readable archive: %s",
			       what, archive_error_string(r));
	/* folder modes and times, deferred until their entries were written */
	if (archive_write_close(w) != ARCHIVE_OK)
		return nib_err(err, NIB_ERR_IO, archive_errno(w), "context %s: %s", what,
			       archive_error_string(w));
	return 0;
too_big:
	return nib_err(err, NIB_ERR_CORRUPT, EFBIG, "context %s: more than %llu bytes unpacked%s",
		       what, (unsigned long long)max_size,
		       lim && lim->max_size ? "" : " (NIB_LAYER_MAX_SIZE)");
}

/* ---- the work folder ---- */

static int work_folder(const char *tmp_parent, struct bld_context *c, struct nib_error *err)
{
	_cleanup_free_ char *t = xasprintf("%s/context-XXXXXX", tmp_parent);

	if (!mkdtemp(t))
		return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", t);
	c->tmp = steal_pointer(&t);
	c->dir = nib_path_join(c->tmp, "context");
	/* private: the work folder is 0700 */
	if (mkdir(c->dir, 0755) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", c->dir);
	return 0;
}

/* An archive becomes the context; anything else is a Containerfile, and
 * the context stays empty. */
static int from_stream(int fd, const char *what, const struct bld_fetch_limits *lim,
		       struct bld_context *c, struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;
	struct stat st;
	size_t len = 0;

	if (bld_copy_is_archive(fd))
		return bld_context_extract(fd, c->dir, what, lim, err);
	if (fstat(fd, &st) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "context %s", what);
	if ((uint64_t)st.st_size > CF_MAX_FILE_SIZE)
		return nib_err(err, NIB_ERR_USAGE, EFBIG,
			       "context %s: neither a tar archive nor a Containerfile of at most "
			       "%zu MiB",
			       what, CF_MAX_FILE_SIZE >> 20);
	data = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		ssize_t n = pread(fd, data + len, (size_t)st.st_size - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return nib_err(err, NIB_ERR_IO, n < 0 ? errno : EIO, "context %s", what);
		len += (size_t)n;
	}
	c->file = nib_path_join(c->tmp, "Containerfile");
	return nib_write_file_atomic_at(AT_FDCWD, c->file, data, len, 0600, err);
}

static int stdin_file(const char *tmp_parent, struct nib_error *err)
{
	_cleanup_close_ int fd = open(tmp_parent, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	char chunk[1 << 16];
	ssize_t n;

	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "create a temp file in %s", tmp_parent);
	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return nib_err(err, NIB_ERR_IO, errno, "context -: read standard input");
		for (ssize_t off = 0; off < n;) {
			ssize_t m = write(fd, chunk + off, (size_t)(n - off));
			if (m < 0 && errno == EINTR)
				continue;
			if (m < 0)
				return nib_err(err, NIB_ERR_IO, errno,
					       "context -: write a temp file in %s", tmp_parent);
			off += m;
		}
	}
	return take_fd(&fd);
}

/* ---- git ---- */

struct git {
	const char *what; /* the context, for messages */
	const struct bld_fetch_limits *lim;
	double deadline; /* CLOCK_MONOTONIC seconds, or 0 */
	bool no_verify;	 /* --tls-verify=false */
	const char *why; /* set when the fetch was cut short: why */
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether the fetch is to end now: its time is up or its caller stops it;
 * `why` says which. */
static bool git_expired(struct git *g)
{
	if (g->deadline && mono() > g->deadline)
		g->why = "took longer than its time limit";
	else if (g->lim && g->lim->stop && g->lim->stop(g->lim->stop_arg))
		g->why = "was stopped";
	return g->why;
}

/* Run git with `args` (NULL-terminated) in a process group of its own
 * (killed whole at the deadline); its last line on stderr goes into the
 * error. */
static int git_run(struct git *g, struct nib_error *err, const char *const *args)
{
	_cleanup_strv_ struct nib_strv argv = {0}, env = {0};
	const bool confined = g->lim && g->lim->confined;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char msg[4096], last[512] = "";
	const char *what = g->what;
	size_t got = 0;
	int pipefd[2], rc, status;
	pid_t pid;
	ssize_t n;

	nib_strv_push(&argv, "git");
	if (confined) /* submodules too: https and nothing else */
		for (const char *const *c =
			 (const char *const[]){"-c", "protocol.allow=never", "-c",
					       "protocol.https.allow=always", NULL};
		     *c; c++)
			nib_strv_push(&argv, *c);
	if (g->no_verify) {
		nib_strv_push(&argv, "-c");
		nib_strv_push(&argv, "http.sslVerify=false");
	}
	for (size_t i = 0; args[i]; i++)
		nib_strv_push(&argv, args[i]);
	/* confined: none of the host's GIT_* settings either */
	for (char **e = environ; *e; e++)
		if (!nib_str_has_prefix(*e, confined ? "GIT_" : "GIT_TERMINAL_PROMPT="))
			nib_strv_push(&env, *e);
	nib_strv_push(&env, "GIT_TERMINAL_PROMPT=0");
	if (confined) { /* no credential helper or URL rewrite of the host's */
		nib_strv_push(&env, "GIT_CONFIG_NOSYSTEM=1");
		nib_strv_push(&env, "GIT_CONFIG_GLOBAL=/dev/null");
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	rc = posix_spawnp(&pid, "git", &fa, &attr, argv.v, env.v);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		return nib_err(err, NIB_ERR_ENV, rc, "context %s: git%s", what,
			       rc == ENOENT ? " is not installed (a git context needs it)" : "");
	}
	/* keep the last non-empty line of what git says */
	for (;;) {
		struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
		if (!g->why && git_expired(g))
			kill(-pid, SIGKILL);
		int ready = poll(&pfd, 1, 500);
		if (ready == 0 || (ready < 0 && errno == EINTR))
			continue;
		n = read(pipefd[0], msg + got, sizeof(msg) - 1 - got);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		msg[got] = '\0';
		for (char *nl; (nl = strchr(msg, '\n'));) {
			*nl = '\0';
			if (*msg)
				snprintf(last, sizeof(last), "%.511s", msg);
			got -= (size_t)(nl + 1 - msg);
			memmove(msg, nl + 1, got + 1);
		}
		if (got == sizeof(msg) - 1)
			got = 0;
	}
	if (got && *msg)
		snprintf(last, sizeof(last), "%.511s", msg);
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	kill(-pid, SIGKILL); /* whatever git left behind */
	if (g->why)
		return nib_err(err, NIB_ERR_NETWORK, 0, "context %s: git %s %s", what, args[2],
			       g->why);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		_cleanup_free_ char *clean = bld_url_redact(last);
		return nib_err(err, NIB_ERR_IO, 0, "context %s: git %s failed%s%s", what, args[2],
			       *clean ? ": " : "", clean);
	}
	return 0;
}

/* A fetched tree within the limits an archive has: entries and bytes. */
static int tree_walk(int dfd, uint64_t *entries, uint64_t *bytes, unsigned depth)
{
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return -1;
	}
	if (depth > 256)
		return -1;
	while ((de = readdir(d))) {
		struct stat st;
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -1;
		++*entries;
		if (S_ISREG(st.st_mode))
			*bytes += (uint64_t)st.st_size;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || tree_walk(sub, entries, bytes, depth + 1) < 0)
				return -1;
		}
	}
	return 0;
}

static int tree_check(const char *dir, const char *what, const struct bld_fetch_limits *lim,
		      struct nib_error *err)
{
	uint64_t entries = 0, bytes = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || tree_walk(fd, &entries, &bytes, 0) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "context %s: read the checkout", what);
	if (lim->max_entries && entries > lim->max_entries)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "context %s: more than %llu entries", what,
			       (unsigned long long)lim->max_entries);
	if (lim->max_size && bytes > lim->max_size)
		return nib_err(err, NIB_ERR_CORRUPT, EFBIG, "context %s: more than %llu bytes",
			       what, (unsigned long long)lim->max_size);
	return 0;
}

#define GIT(...) git_run(&g, err, (const char *const[]){__VA_ARGS__, NULL})

static int from_git(const char *spec, const struct bld_context_options *o, struct bld_context *c,
		    struct nib_error *err)
{
	_cleanup_free_ char *url = NULL, *ref = NULL, *sub = NULL, *what = bld_url_redact(spec);
	_cleanup_free_ char *gitdir = NULL, *modules = NULL;
	const struct bld_fetch_limits *lim = o->lim;
	struct git g = {.what = what,
			.lim = lim,
			.deadline = lim && lim->timeout ? mono() + lim->timeout : 0,
			.no_verify = o->ro && o->ro->tls_verify == 0};
	const char *dir = c->dir, *rev;
	struct stat st;

	if (bld_context_git_split(spec, &url, &ref, &sub, err) < 0)
		return -1;
	if (lim && lim->confined && !nib_str_has_prefix(url, "https://"))
		return nib_err(err, NIB_ERR_USAGE, 0, "context %s: only https URLs are fetched",
			       what);
	rev = ref ? ref : "HEAD";
	if (GIT("-C", dir, "init", "-q") < 0 || GIT("-C", dir, "remote", "add", "origin", url) < 0)
		return -1;
	/* the reference at depth 1; else all of its history (servers without
	 * shallow fetches: the dumb HTTP protocol); else every branch and tag
	 * (a commit the server does not let be fetched by its name) */
	if (GIT("-C", dir, "fetch", "-q", "--depth", "1", "--no-tags", "origin", rev) == 0 ||
	    (!g.why && GIT("-C", dir, "fetch", "-q", "--no-tags", "origin", rev) == 0)) {
		if (GIT("-C", dir, "checkout", "-q", "FETCH_HEAD") < 0)
			return -1;
	} else {
		struct nib_error first = {0};
		if (g.why)
			return -1;
		nib_err_move(&first, err);
		if (GIT("-C", dir, "fetch", "-q", "--tags", "origin") < 0 ||
		    GIT("-C", dir, "checkout", "-q", rev) < 0) {
			if (!g.why) {
				nib_err_clear(err);
				nib_err_move(err, &first);
			}
			nib_err_clear(&first);
			return -1;
		}
		nib_err_clear(&first);
	}
	modules = nib_path_join(dir, ".gitmodules");
	if (lstat(modules, &st) == 0 && GIT("-C", dir, "submodule", "update", "-q", "--init",
					    "--recursive", "--depth", "1") < 0)
		return -1;
	gitdir = nib_path_join(dir, ".git");
	if (!o->keep_git_dir && nib_rm_rf_at(AT_FDCWD, gitdir, err) < 0)
		return -1;
	if (lim && (lim->max_size || lim->max_entries) && tree_check(c->dir, what, lim, err) < 0)
		return -1;
	if (sub) {
		/* the sub-folder, every symlink resolved, must stay inside */
		_cleanup_free_ char *joined = nib_path_join(dir, sub);
		_cleanup_free_ char *real = realpath(joined, NULL), *top = realpath(dir, NULL);
		size_t n = top ? strlen(top) : 0;
		if (!real || !top)
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "context %s: no folder %s in the repository", what, sub);
		if (strncmp(real, top, n) != 0 || (real[n] != '/' && real[n] != '\0'))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "context %s: the folder %s leaves the repository", what,
				       sub);
		if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "context %s: %s in the repository is not a folder", what,
				       sub);
		free(c->dir);
		c->dir = steal_pointer(&real);
	}
	return 0;
}

#undef GIT

static int from_url(const char *spec, const struct bld_context_options *o, struct bld_context *c,
		    struct nib_error *err)
{
	_cleanup_free_ char *name = NULL, *what = bld_url_redact(spec);
	_cleanup_(reg_client_freep) struct reg_client *rc = NULL;
	_cleanup_close_ int fd = -1;
	int64_t mtime;

	if (reg_client_new(o->ro, &rc, err) < 0)
		return -1;
	fd = bld_copy_download(spec, NULL, rc, o->lim, &mtime, &name, err);
	if (fd < 0)
		return nib_err_wrap(err, "context %s", what);
	if (work_folder(o->tmp_parent, c, err) < 0)
		return -1;
	return from_stream(fd, what, o->lim, c, err);
}

int bld_context_fetch(enum bld_context_kind kind, const char *spec,
		      const struct bld_context_options *o, struct bld_context *c,
		      struct nib_error *err)
{
	*c = (struct bld_context){.kind = kind};
	if (kind == BLD_CONTEXT_URL)
		return from_url(spec, o, c, err);
	if (kind != BLD_CONTEXT_GIT)
		return nib_err(err, NIB_ERR_USAGE, 0, "context %s: neither git nor a URL", spec);
	if (work_folder(o->tmp_parent, c, err) < 0)
		return -1;
	return from_git(spec, o, c, err);
}

int bld_context_open(const char *spec, const struct bld_context_options *o, struct bld_context *c,
		     struct nib_error *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	*c = (struct bld_context){.kind = bld_context_kind(spec)};
	switch (c->kind) {
	case BLD_CONTEXT_DIR:
		/* a file is an archive; anything else build.c judges */
		if (stat(spec, &st) < 0 || !S_ISREG(st.st_mode)) {
			c->dir = xstrdup(spec);
			return 0;
		}
		c->kind = BLD_CONTEXT_ARCHIVE;
		fd = open(spec, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "context %s", spec);
		if (!bld_copy_is_archive(fd)) {
			/* a Containerfile, its folder the context (as buildah) */
			const char *slash = strrchr(spec, '/');
			c->kind = BLD_CONTEXT_DIR;
			c->dir = slash ? xstrndup(spec, (size_t)(slash - spec) + (slash == spec))
				       : xstrdup(".");
			c->file = xstrdup(spec);
			return 0;
		}
		if (work_folder(o->tmp_parent, c, err) < 0)
			return -1;
		return bld_context_extract(fd, c->dir, spec, o->lim, err);
	case BLD_CONTEXT_STDIN:
		fd = stdin_file(o->tmp_parent, err);
		if (fd < 0 || work_folder(o->tmp_parent, c, err) < 0)
			return -1;
		return from_stream(fd, "-", o->lim, c, err);
	default:
		return bld_context_fetch(c->kind, spec, o, c, err);
	}
}

void bld_context_close(struct bld_context *c)
{
	if (c->tmp)
		nib_rm_rf_at(AT_FDCWD, c->tmp, NULL);
	free(c->tmp);
	free(c->dir);
	free(c->file);
	*c = (struct bld_context){0};
}
