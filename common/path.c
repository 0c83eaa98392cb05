/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Paths: lexical cleaning, and opening paths inside an untrusted tree as if
 * that tree were "/" (symlinks and ".." never leave it).
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "common/common.h"

#define MAX_SYMLINKS 40

char *nib_path_clean(const char *path)
{
	bool rooted = path[0] == '/';
	struct nib_buf out = {0};
	const char *p = path;
	size_t dotdot = 0; /* output length below which ".." cannot backtrack */

	if (rooted) {
		nib_buf_putc(&out, '/');
		dotdot = 1;
	}
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* empty or "." component */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (out.len > dotdot) {
				/* drop the last component */
				while (out.len > dotdot && out.data[out.len - 1] != '/')
					out.len--;
				if (out.len > dotdot)
					out.len--; /* its separator */
				out.data[out.len] = '\0';
			} else if (!rooted) {
				if (out.len > 0)
					nib_buf_putc(&out, '/');
				nib_buf_puts(&out, "..");
				dotdot = out.len;
			}
		} else {
			if ((rooted && out.len != 1) || (!rooted && out.len != 0))
				nib_buf_putc(&out, '/');
			nib_buf_append(&out, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	if (out.len == 0)
		nib_buf_putc(&out, '.');
	return nib_buf_steal(&out);
}

char *nib_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	while (la > 0 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (la == 0)
		return xasprintf("%s%s", a[0] == '/' ? "/" : "", b);
	if (*b == '\0')
		return xstrndup(a, la);
	return xasprintf("%.*s/%s", (int)la, a, b);
}

bool nib_path_is_below(const char *path)
{
	_cleanup_free_ char *c = nib_path_clean(path);
	if (c[0] == '/')
		return false;
	return !(streq(c, "..") || nib_str_has_prefix(c, "../"));
}

/* ---- resolution inside a root ------------------------------------------- */

/* The folders walked so far: fds[0] is the root, ".." pops. */
struct walk {
	int fds[PATH_MAX / 2];
	size_t depth; /* number of fds */
};

static void walk_reset(struct walk *w)
{
	while (w->depth > 1)
		close(w->fds[--w->depth]);
}

static void walk_free(struct walk *w)
{
	while (w->depth > 0)
		close(w->fds[--w->depth]);
}

int nib_open_in_root_walk(int rootfd, const char *path, int flags, mode_t mode,
			  struct nib_error *err)
{
	struct walk *w = xmalloc(sizeof(*w));
	struct nib_buf rest = {0};
	int links = 0, ret = -1;
	size_t pos = 0;

	w->depth = 0;
	w->fds[w->depth] = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (w->fds[w->depth] < 0) {
		nib_err(err, NIB_ERR_IO, errno, "open %s", path);
		goto out;
	}
	w->depth++;
	nib_buf_puts(&rest, path);

	for (;;) {
		const char *p = rest.data + pos, *end;
		char comp[NAME_MAX + 1];
		size_t n;
		bool last;
		int cur = w->fds[w->depth - 1], fd;
		struct stat st;

		while (*p == '/')
			p++;
		if (*p == '\0') {
			/* the path names the current folder itself */
			ret = openat(cur, ".",
				     (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC);
			if (ret < 0)
				nib_err(err, NIB_ERR_IO, errno, "open %s", path);
			goto out;
		}
		end = strchr(p, '/');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n > NAME_MAX) {
			nib_err(err, NIB_ERR_IO, ENAMETOOLONG, "open %s", path);
			goto out;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		pos = (size_t)(p - rest.data) + n;
		last = true;
		for (const char *q = rest.data + pos; *q; q++)
			if (*q != '/') {
				last = false;
				break;
			}

		if (streq(comp, ".")) {
			if (last) {
				pos = rest.len;
			}
			continue;
		}
		if (streq(comp, "..")) {
			if (w->depth > 1)
				close(w->fds[--w->depth]);
			continue;
		}

		fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && !(last && errno == ENOENT && (flags & O_CREAT))) {
			nib_err(err, errno == ENOENT ? NIB_ERR_NOT_FOUND : NIB_ERR_IO, errno,
				"open %s", path);
			goto out;
		}
		if (fd >= 0 && fstat(fd, &st) < 0) {
			close(fd);
			nib_err(err, NIB_ERR_IO, errno, "stat %s", path);
			goto out;
		}
		if (fd >= 0 && S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
			char target[PATH_MAX];
			ssize_t tl = readlinkat(fd, "", target, sizeof(target) - 1);
			close(fd);
			if (tl < 0 || ++links > MAX_SYMLINKS) {
				nib_err(err, NIB_ERR_IO, tl < 0 ? errno : ELOOP, "open %s", path);
				goto out;
			}
			target[tl] = '\0';
			if (target[0] == '/')
				walk_reset(w);
			/* continue with target + the rest of the path */
			struct nib_buf nr = {0};
			nib_buf_puts(&nr, target);
			nib_buf_putc(&nr, '/');
			nib_buf_puts(&nr, rest.data + pos);
			nib_buf_free(&rest);
			rest = nr;
			pos = 0;
			continue;
		}
		if (last) {
			if (fd >= 0)
				close(fd);
			/* O_NOFOLLOW: a symlink swapped in meanwhile fails with ELOOP */
			ret = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
			if (ret < 0 && errno == ELOOP && (flags & O_PATH))
				ret = openat(cur, comp, flags | O_CLOEXEC, mode);
			if (ret < 0)
				nib_err(err, errno == ENOENT ? NIB_ERR_NOT_FOUND : NIB_ERR_IO,
					errno, "open %s", path);
			goto out;
		}
		if (!S_ISDIR(st.st_mode)) {
			close(fd);
			nib_err(err, NIB_ERR_IO, ENOTDIR, "open %s", path);
			goto out;
		}
		if (w->depth >= ARRAY_SIZE(w->fds)) {
			close(fd);
			nib_err(err, NIB_ERR_IO, ENAMETOOLONG, "open %s", path);
			goto out;
		}
		w->fds[w->depth++] = fd;
	}
out:
	walk_free(w);
	free(w);
	nib_buf_free(&rest);
	return ret;
}

static int openat2_supported = -1;

int nib_open_in_root(int rootfd, const char *path, int flags, mode_t mode, struct nib_error *err)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	const char *p = *path ? path : ".";

	if (openat2_supported != 0) {
		for (int tries = 0; tries < 32; tries++) {
			long fd = syscall(SYS_openat2, rootfd, p, &how, sizeof(how));
			if (fd >= 0) {
				openat2_supported = 1;
				return (int)fd;
			}
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno == ENOSYS || errno == EPERM) {
				/* no openat2, or refused by a seccomp filter */
				openat2_supported = 0;
				break;
			}
			return nib_err(err, errno == ENOENT ? NIB_ERR_NOT_FOUND : NIB_ERR_IO, errno,
				       "open %s", path);
		}
	}
	return nib_open_in_root_walk(rootfd, path, flags, mode, err);
}

int nib_mkdir_in_root(int rootfd, const char *path, mode_t mode, struct nib_error *err)
{
	return nib_mkdir_in_root_report(rootfd, path, mode, NULL, NULL, err);
}

int nib_mkdir_in_root_report(int rootfd, const char *path, mode_t mode, nib_mkdir_fn fn, void *arg,
			     struct nib_error *err)
{
	_cleanup_free_ char *rooted = xasprintf("/%s", path);
	_cleanup_free_ char *cleaned = nib_path_clean(rooted);
	char *clean = cleaned + 1, *p = clean; /* relative, no ".." left */
	_cleanup_close_ int cur = -1;

	cur = nib_open_in_root(rootfd, "", O_PATH | O_DIRECTORY, 0, err);
	if (cur < 0)
		return -1;
	if (*clean == '\0')
		return take_fd(&cur);
	/* Resolve prefix after prefix from the root so a symlinked component
	 * is followed inside the root, never outside it. */
	for (;;) {
		char *slash = strchr(p, '/');
		int fd;

		if (slash)
			*slash = '\0';
		fd = nib_open_in_root(rootfd, clean, O_PATH | O_DIRECTORY, 0, NULL);
		if (fd < 0 && errno == ENOENT) {
			const char *name = strrchr(clean, '/');
			struct stat st, parent;
			bool have_parent;
			name = name ? name + 1 : clean;
			/* the name exists, so it is a symlink that leads nowhere:
			 * never create through it (its target may be anywhere) */
			if (fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				return nib_err(err, NIB_ERR_IO, ENOTDIR, "mkdir %s", clean);
			have_parent = fn && fstat(cur, &parent) == 0;
			if (mkdirat(cur, name, mode) == 0) {
				if (fn)
					fn(arg, clean, have_parent ? &parent : NULL);
			} else if (errno != EEXIST) {
				return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", clean);
			}
			fd = nib_open_in_root(rootfd, clean, O_PATH | O_DIRECTORY, 0, err);
			if (fd < 0)
				return -1;
		} else if (fd < 0) {
			return nib_err(err, NIB_ERR_IO, errno, "open %s", clean);
		}
		close(cur);
		cur = fd;
		if (!slash)
			break;
		*slash = '/';
		p = slash + 1;
	}
	return take_fd(&cur);
}

char *nib_url_redact(const char *text)
{
	struct nib_buf b = {0};
	const char *p = text;

	nib_buf_puts(&b, "");
	for (;;) {
		const char *sep = strstr(p, "://");
		if (!sep) {
			nib_buf_puts(&b, p);
			break;
		}
		const char *auth = sep + 3;
		size_t n = strcspn(auth, "/?# \t\n\"'");
		const char *at = memrchr(auth, '@', n);
		nib_buf_append(&b, p, (size_t)(auth - p));
		p = at ? at + 1 : auth;
	}
	return nib_buf_steal(&b);
}
