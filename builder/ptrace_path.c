/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Paths as a traced process sees them (ptrace.h): the rootfs is "/", binds
 * show host folders and files at guest paths (/proc, /dev nodes, /sys, the
 * generated /etc files, --mount), and /proc/PID links name guest paths.
 *
 * Resolution has two ways. The quick one asks the kernel to resolve the
 * whole path inside the rootfs (openat2 RESOLVE_IN_ROOT) and reads where it
 * landed; it is taken when the path names no bind and does not land in
 * one. The walk resolves component by component in guest terms: each
 * prefix it has resolved is free of symlinks, a symlink's target is read
 * as a guest path, ".." stops at "/", and a prefix that is a bind goes on
 * in the host folder it shows. The two agree as long as the rootfs's own
 * folders under bind points (its empty /proc, /dev, /sys) do not hold
 * symlinks that lead back out of them.
 */
#define BLD_PTRACE_INTERNAL 1
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "builder/ptrace.h"

#define MAX_LINKS 40

bool bld_ptrace_walk_only;
#define DELETED " (deleted)"

/* `path` (of length `len`) is `prefix` or below it. */
static bool under(const char *path, size_t len, const char *prefix, size_t plen)
{
	if (plen == 1 && prefix[0] == '/')
		return path[0] == '/';
	return len >= plen && memcmp(path, prefix, plen) == 0 && (len == plen || path[plen] == '/');
}

/* Lexically clean the absolute path `in` into `out`: 0 or -ENAMETOOLONG. */
static int clean_abs(const char *in, char *out, size_t size)
{
	size_t n = 0;
	const char *p = in;

	if (size < 2)
		return -ENAMETOOLONG;
	out[n++] = '/';
	while (*p) {
		const char *end;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len == 1 && p[0] == '.') {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 1 && out[n - 1] != '/')
				n--;
			if (n > 1)
				n--;
		} else {
			if (n + (n > 1) + len + 1 > size)
				return -ENAMETOOLONG;
			if (n > 1)
				out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p = end;
	}
	out[n] = '\0';
	return 0;
}

static bool has_dotdot(const char *p)
{
	while (*p) {
		const char *end = strchrnul(p, '/');
		if (end - p == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

/* The bind `guest` (a clean absolute path of length `len`) is in. */
static const struct bld_ptrace_bind *bind_of(const struct bld_ptrace_fs *fs, const char *guest,
					     size_t len)
{
	for (size_t i = 0; i < fs->n_binds; i++)
		if (under(guest, len, fs->binds[i].guest, fs->binds[i].guest_len))
			return &fs->binds[i];
	return NULL;
}

/* The host path of clean guest path `guest`: 0 or -ENAMETOOLONG. */
static int host_of(const struct bld_ptrace_fs *fs, const char *guest, char *out, size_t size)
{
	size_t len = strlen(guest);
	const struct bld_ptrace_bind *b = bind_of(fs, guest, len);
	int n;

	if (b)
		n = snprintf(out, size, "%s%s", b->host, guest + b->guest_len);
	else if (len == 1)
		n = snprintf(out, size, "%s", fs->root_len ? fs->root : "/");
	else
		n = snprintf(out, size, "%s%s", fs->root, guest);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int bld_ptrace_guest_path(const struct bld_ptrace_fs *fs, const char *host, char *out, size_t size)
{
	size_t len = strlen(host), best = 0;
	const struct bld_ptrace_bind *b = NULL;
	int n;

	if (host[0] != '/')
		return -1;
	/* the bind with the longest host path that holds it, else the root */
	for (size_t i = 0; i < fs->n_binds; i++)
		if (fs->binds[i].host_len >= best &&
		    under(host, len, fs->binds[i].host, fs->binds[i].host_len)) {
			b = &fs->binds[i];
			best = b->host_len;
		}
	if (b && (fs->root_len == 0 || best > fs->root_len ||
		  !under(host, len, fs->root, fs->root_len))) {
		const char *rest = host + (b->host_len == 1 ? 0 : b->host_len);
		n = snprintf(out, size, "%s%s", b->guest_len == 1 && *rest ? "" : b->guest, rest);
	} else if (fs->root_len == 0) {
		n = snprintf(out, size, "%s", host);
	} else if (under(host, len, fs->root, fs->root_len)) {
		n = snprintf(out, size, "%s", len == fs->root_len ? "/" : host + fs->root_len);
	} else {
		return -1;
	}
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* ---- /proc ------------------------------------------------------------- */

/* readlink(2) of a /proc link of `who`'s, with the IDs it is looked at
 * with: the length, or -errno. */
static ssize_t look_readlink(const struct bld_ptrace_who *who, const char *path, char *buf,
			     size_t size)
{
	struct bld_ptrace_look l;
	ssize_t n;

	bld_ptrace_look_begin(who, &l);
	n = readlink(path, buf, size);
	if (n < 0)
		n = -errno;
	bld_ptrace_look_end(&l);
	return n;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* `guest` (clean) is below a PID folder of proc bind `b`
 * ("/proc/123/..."), where every symlink is one of the kernel's links. */
static bool in_pid_dir(const struct bld_ptrace_bind *b, const char *guest)
{
	const char *rel = guest + (b->guest_len == 1 ? 0 : b->guest_len);
	const char *end;

	if (*rel != '/')
		return false;
	rel++;
	end = strchrnul(rel, '/');
	return all_digits(rel, (size_t)(end - rel)) && *end == '/';
}

/* Name of the last component of `guest`, and the one before it. */
static const char *last_name(const char *guest, const char **parent, size_t *parent_len)
{
	const char *slash = strrchr(guest, '/'), *p;

	*parent = "";
	*parent_len = 0;
	if (!slash)
		return guest;
	for (p = slash; p > guest && p[-1] != '/'; p--)
		;
	*parent = p;
	*parent_len = (size_t)(slash - p);
	return slash + 1;
}

enum { LINK_GUEST = 0, LINK_KERNEL = 1, LINK_OUTSIDE = 2 };

static int copy_out(char *out, size_t size, const char *s)
{
	size_t n = strlen(s);
	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(out, s, n + 1);
	return 0;
}

/*
 * The target of /proc link `guest` (host path `host`) as the tracee sees
 * it, in `out`: LINK_GUEST with a guest path (root is always "/", exe the
 * program the process runs, cwd and fd/N their guest paths), LINK_KERNEL
 * with the link's own text when it names no path of the tracee's (a pipe,
 * a socket, a deleted file: the kernel follows such a link itself), or
 * LINK_OUTSIDE with the link's text when it names a host path the tracee
 * does not see. -errno when the link cannot be read.
 */
static int proc_link(const struct bld_ptrace_fs *fs, const struct bld_ptrace_who *who,
		     const char *guest, const char *host, char *out, size_t size)
{
	char raw[PATH_MAX];
	const char *parent;
	size_t plen, dl = strlen(DELETED);
	const char *name = last_name(guest, &parent, &plen);
	bool task_dir = all_digits(parent, plen), deleted;
	ssize_t n;

	if (task_dir && streq(name, "root"))
		return copy_out(out, size, "/") < 0 ? -ENAMETOOLONG : LINK_GUEST;
	if (task_dir && streq(name, "exe") && who->exe) {
		const char *e = who->exe(who->ctx, (pid_t)atoi(parent));
		if (e)
			return copy_out(out, size, e) < 0 ? -ENAMETOOLONG : LINK_GUEST;
	}
	n = look_readlink(who, host, raw, sizeof(raw) - 1);
	if (n < 0)
		return (int)n;
	raw[n] = '\0';
	if (raw[0] != '/')
		return copy_out(out, size, raw) < 0 ? -ENAMETOOLONG : LINK_KERNEL;
	deleted = (size_t)n > dl && streq(raw + n - dl, DELETED);
	if (deleted)
		raw[n - dl] = '\0';
	if (bld_ptrace_guest_path(fs, raw, out, size) == 0) {
		if (!deleted)
			return LINK_GUEST;
		if (strlen(out) + dl >= size)
			return -ENAMETOOLONG;
		strcat(out, DELETED);
		return LINK_KERNEL;
	}
	if (deleted)
		raw[n - dl] = ' ';
	if (copy_out(out, size, raw) < 0)
		return -ENAMETOOLONG;
	/* memfd:, and files deleted outside: the kernel's to follow */
	return deleted ? LINK_KERNEL : LINK_OUTSIDE;
}

/* ---- the walk ------------------------------------------------------------- */

struct walk {
	char cur[PATH_MAX]; /* guest path resolved so far: clean, no symlink */
	size_t curlen;
	char next[PATH_MAX];
	char host[PATH_MAX];
	char target[PATH_MAX];
	char rest[2][PATH_MAX * 2 + 64]; /* what is left to resolve */
	int which;
};

/* cur = cur + "/" + name (n bytes) into w->next. */
static int join_next(struct walk *w, const char *name, size_t n)
{
	size_t at = w->curlen == 1 ? 0 : w->curlen;

	if (at + 1 + n + 1 > sizeof(w->next))
		return -ENAMETOOLONG;
	memcpy(w->next, w->cur, at);
	w->next[at] = '/';
	memcpy(w->next + at + 1, name, n);
	w->next[at + 1 + n] = '\0';
	return 0;
}

/* Resolve what is left, `head` followed by `tail`, from now on. */
static const char *rest_set(struct walk *w, const char *head, const char *tail)
{
	char *buf = w->rest[w->which ^= 1];
	int n = snprintf(buf, sizeof(w->rest[0]), "%s%s", head, tail);

	return n < 0 || (size_t)n >= sizeof(w->rest[0]) ? NULL : buf;
}

static int walk_result(const struct bld_ptrace_fs *fs, struct walk *w, const char *guest,
		       unsigned flags, bool trailing, struct bld_ptrace_path *out)
{
	const struct bld_ptrace_bind *b = bind_of(fs, guest, strlen(guest));
	size_t n;

	if ((flags & BLD_PTRACE_WRITE) && b && b->ro)
		return -EROFS;
	if (host_of(fs, guest, out->host, sizeof(out->host)) < 0)
		return -ENAMETOOLONG;
	n = strlen(out->host);
	if (trailing && out->host[n - 1] != '/') {
		if (n + 2 > sizeof(out->host))
			return -ENAMETOOLONG;
		out->host[n] = '/';
		out->host[n + 1] = '\0';
	}
	return 0;
}

static int walk(const struct bld_ptrace_fs *fs, const struct bld_ptrace_who *who, const char *start,
		unsigned flags, bool trailing, struct bld_ptrace_path *out)
{
	_cleanup_free_ struct walk *w = xmalloc(sizeof(*w));
	const char *p = start;
	int links = 0, r;

	w->which = 0;
	w->cur[0] = '/';
	w->cur[1] = '\0';
	w->curlen = 1;
	for (;;) {
		const char *end, *q;
		size_t n;
		bool last;
		struct stat st;
		const struct bld_ptrace_bind *b;
		char num[64];

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		n = (size_t)(end - p);
		for (q = end; *q == '/'; q++)
			;
		last = *q == '\0';
		if (n == 1 && p[0] == '.') {
			p = end;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (w->curlen > 1 && w->cur[w->curlen - 1] != '/')
				w->curlen--;
			if (w->curlen > 1)
				w->curlen--;
			w->cur[w->curlen] = '\0';
			p = end;
			continue;
		}
		if (n > NAME_MAX)
			return -ENAMETOOLONG;
		/* /proc/self and /proc/thread-self are the tracee's */
		b = bind_of(fs, w->cur, w->curlen);
		if (b && b->proc && w->curlen == b->guest_len) {
			if (n == 4 && memcmp(p, "self", 4) == 0) {
				snprintf(num, sizeof(num), "%d", (int)who->tgid);
				p = rest_set(w, num, end);
				if (!p)
					return -ENAMETOOLONG;
				continue;
			}
			if (n == 11 && memcmp(p, "thread-self", 11) == 0) {
				snprintf(num, sizeof(num), "%d/task/%d", (int)who->tgid,
					 (int)who->tid);
				p = rest_set(w, num, end);
				if (!p)
					return -ENAMETOOLONG;
				continue;
			}
		}
		if (join_next(w, p, n) < 0 || host_of(fs, w->next, w->host, sizeof(w->host)) < 0)
			return -ENAMETOOLONG;
		if (lstat(w->host, &st) < 0) {
			if (errno == ENOENT && last)
				return walk_result(fs, w, w->next, flags, trailing, out);
			return -errno;
		}
		out->type = st.st_mode & S_IFMT;
		if (S_ISLNK(st.st_mode) && (!last || (flags & BLD_PTRACE_FOLLOW) || trailing)) {
			const struct bld_ptrace_bind *nb = bind_of(fs, w->next, strlen(w->next));

			if (++links > MAX_LINKS)
				return -ELOOP;
			if (nb && nb->proc && in_pid_dir(nb, w->next)) {
				r = proc_link(fs, who, w->next, w->host, w->target,
					      sizeof(w->target));
				if (r < 0)
					return r;
				if (r == LINK_OUTSIDE)
					return -EACCES;
				if (r == LINK_KERNEL) {
					if (!last)
						return -ENOTDIR;
					out->proc_link = true;
					return walk_result(fs, w, w->next, flags, false, out);
				}
			} else {
				ssize_t tl = readlink(w->host, w->target, sizeof(w->target) - 1);
				if (tl < 0)
					return -errno;
				if (tl == 0)
					return -ENOENT;
				w->target[tl] = '\0';
			}
			if (w->target[0] == '/') {
				w->cur[1] = '\0';
				w->curlen = 1;
			}
			p = rest_set(w, w->target, end);
			if (!p)
				return -ENAMETOOLONG;
			continue;
		}
		if (!last && !S_ISDIR(st.st_mode))
			return -ENOTDIR;
		memcpy(w->cur, w->next, strlen(w->next) + 1);
		w->curlen = strlen(w->cur);
		p = end;
	}
	return walk_result(fs, w, w->cur, flags, trailing, out);
}

/* ---- the quick way -------------------------------------------------------- */

static long open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_PATH | O_CLOEXEC),
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	while (fd < 0 && (errno == EAGAIN || errno == EINTR));
	return fd;
}

/* Where `fd`, opened inside the rootfs, landed: its host path in `out`
 * (0), or -EAGAIN when that is not a plain rootfs path (in a bind point,
 * deleted, outside). */
static int landed(const struct bld_ptrace_fs *fs, int fd, char *out, size_t size)
{
	char link[64], guest[PATH_MAX];
	size_t dl = strlen(DELETED);
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, size - 1);
	if (n <= 0 || (size_t)n >= size - 1)
		return -EAGAIN;
	out[n] = '\0';
	if ((size_t)n > dl && streq(out + n - dl, DELETED))
		return -EAGAIN;
	if (fs->root_len && !under(out, (size_t)n, fs->root, fs->root_len))
		return -EAGAIN;
	snprintf(guest, sizeof(guest), "%s", fs->root_len == (size_t)n ? "/" : out + fs->root_len);
	if (bind_of(fs, guest, strlen(guest)))
		return -EAGAIN;
	return 0;
}

static int add_slash(char *s, size_t size)
{
	size_t n = strlen(s);
	if (n && s[n - 1] == '/')
		return 0;
	if (n + 2 > size)
		return -ENAMETOOLONG;
	s[n] = '/';
	s[n + 1] = '\0';
	return 0;
}

/* -EAGAIN: take the walk. */
static int quick(const struct bld_ptrace_fs *fs, const char *g, const char *clean, unsigned flags,
		 bool trailing, struct bld_ptrace_path *out)
{
	bool follow = (flags & BLD_PTRACE_FOLLOW) || trailing;
	_cleanup_close_ int fd = -1, pfd = -1;
	const char *slash, *name;
	char parent[PATH_MAX];
	struct stat st;
	size_t n;

	if (bind_of(fs, clean, strlen(clean)))
		return -EAGAIN;
	fd = (int)open_in_root(fs->rootfd, g, follow ? 0 : O_NOFOLLOW);
	if (fd >= 0) {
		if (landed(fs, fd, out->host, sizeof(out->host)) < 0)
			return -EAGAIN;
		if ((flags & BLD_PTRACE_TYPE) && fstat(fd, &st) == 0)
			out->type = st.st_mode & S_IFMT;
		out->plain = true;
		return trailing ? add_slash(out->host, sizeof(out->host)) : 0;
	}
	if (errno != ENOENT || has_dotdot(g))
		return -EAGAIN;
	/* a last component to create: its folder exists, the name does not
	 * (not even as a dangling symlink to follow) */
	slash = strrchr(clean, '/');
	name = slash + 1;
	if (!*name)
		return -EAGAIN;
	n = (size_t)(slash - clean);
	memcpy(parent, clean, n ? n : 1);
	parent[n ? n : 1] = '\0';
	pfd = (int)open_in_root(fs->rootfd, parent, O_DIRECTORY);
	if (pfd < 0)
		return -EAGAIN;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
		return -EAGAIN;
	if (landed(fs, pfd, out->host, sizeof(out->host)) < 0)
		return -EAGAIN;
	n = strlen(out->host);
	if (n + 1 + strlen(name) + 1 > sizeof(out->host))
		return -ENAMETOOLONG;
	snprintf(out->host + n, sizeof(out->host) - n, "%s%s", n == 1 ? "" : "/", name);
	/* creating a bind point (the rootfs lacks /etc/hosts) */
	if (bind_of(fs, clean, strlen(clean)))
		return -EAGAIN;
	out->plain = true;
	return trailing ? add_slash(out->host, sizeof(out->host)) : 0;
}

int bld_ptrace_resolve(const struct bld_ptrace_fs *fs, const struct bld_ptrace_who *who,
		       const char *base, const char *path, unsigned flags,
		       struct bld_ptrace_path *out)
{
	char g[PATH_MAX * 2 + 2], clean[PATH_MAX * 2 + 2];
	size_t plen = strlen(path);
	bool rel = path[0] != '/', trailing;
	int r;

	out->unchanged = false;
	out->proc_link = false;
	out->plain = false;
	out->type = 0;
	if (plen == 0)
		return -ENOENT;
	if (plen >= PATH_MAX)
		return -ENAMETOOLONG;
	if (!rel)
		memcpy(g, path, plen + 1);
	else if ((size_t)snprintf(g, sizeof(g), "%s/%s", base, path) >= sizeof(g))
		return -ENAMETOOLONG;
	trailing = path[plen - 1] == '/' && strspn(path, "/") != plen;
	if (clean_abs(g, clean, sizeof(clean)) < 0)
		return -ENAMETOOLONG;
	r = bld_ptrace_walk_only ? -EAGAIN : quick(fs, g, clean, flags, trailing, out);
	if (r == 0 && rel && !has_dotdot(path)) {
		/* nothing in the way changed the path: the kernel reaches the
		 * same file from the caller's folder */
		size_t hl = strlen(out->host), cl = strlen(clean);
		if (trailing && hl > 1)
			hl--;
		if (cl == 1)
			out->unchanged = hl == (fs->root_len ? fs->root_len : 1);
		else
			out->unchanged = hl == fs->root_len + cl &&
					 memcmp(out->host, fs->root, fs->root_len) == 0 &&
					 memcmp(out->host + fs->root_len, clean, cl) == 0;
	}
	if (r != -EAGAIN)
		return r;
	return walk(fs, who, g, flags, trailing, out);
}

ssize_t bld_ptrace_readlink(const struct bld_ptrace_fs *fs, const struct bld_ptrace_who *who,
			    const char *base, const char *path, char *buf, size_t size)
{
	struct bld_ptrace_path p;
	char guest[PATH_MAX], target[PATH_MAX];
	const struct bld_ptrace_bind *b;
	ssize_t n;
	int r = bld_ptrace_resolve(fs, who, base, path, 0, &p);

	if (r < 0)
		return r;
	if (bld_ptrace_guest_path(fs, p.host, guest, sizeof(guest)) == 0 &&
	    (b = bind_of(fs, guest, strlen(guest))) && b->proc && in_pid_dir(b, guest)) {
		struct stat st;
		if (lstat(p.host, &st) < 0)
			return -errno;
		if (!S_ISLNK(st.st_mode))
			return -EINVAL;
		r = proc_link(fs, who, guest, p.host, target, sizeof(target));
		if (r < 0)
			return r;
		n = (ssize_t)strlen(target);
	} else {
		n = readlink(p.host, target, sizeof(target));
		if (n < 0)
			return -errno;
	}
	n = MIN(n, (ssize_t)size);
	memcpy(buf, target, (size_t)n);
	return n;
}

int bld_ptrace_proc_dir(const struct bld_ptrace_fs *fs, const struct bld_ptrace_who *who,
			const char *link, char *out, size_t size)
{
	char path[64], raw[PATH_MAX];
	size_t dl = strlen(DELETED);
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)who->tid, link);
	n = look_readlink(who, path, raw, sizeof(raw) - 1);
	if (n < 0)
		return n == -ENOENT && link[0] == 'f' ? -EBADF : (int)n;
	raw[n] = '\0';
	if (raw[0] != '/')
		return -ENOTDIR;
	if ((size_t)n > dl && streq(raw + n - dl, DELETED))
		return -ENOENT;
	return bld_ptrace_guest_path(fs, raw, out, size) < 0 ? -EACCES : 0;
}

/* ---- setup ---------------------------------------------------------------- */

int bld_ptrace_fs_init(struct bld_ptrace_fs *fs, const char *rootfs, struct nib_error *err)
{
	char *real = realpath(rootfs, NULL);

	memset(fs, 0, sizeof(*fs));
	fs->rootfd = -1;
	if (!real)
		return nib_err(err, NIB_ERR_NOT_FOUND, errno, "rootfs %s", rootfs);
	fs->rootfd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->rootfd < 0) {
		int e = errno;
		free(real);
		return nib_err(err, NIB_ERR_NOT_FOUND, e, "rootfs %s", rootfs);
	}
	if (streq(real, "/"))
		real[0] = '\0';
	fs->root = real;
	fs->root_len = strlen(real);
	return 0;
}

void bld_ptrace_fs_bind(struct bld_ptrace_fs *fs, const char *guest, const char *host, bool ro,
			bool proc)
{
	char clean[PATH_MAX];
	struct bld_ptrace_bind b = {0};
	size_t at;

	if (clean_abs(guest, clean, sizeof(clean)) < 0)
		return;
	b.guest = xstrdup(clean);
	b.guest_len = strlen(clean);
	b.host = xstrdup(host);
	b.host_len = strlen(host);
	while (b.host_len > 1 && b.host[b.host_len - 1] == '/')
		b.host[--b.host_len] = '\0';
	b.ro = ro;
	b.proc = proc;
	/* a later bind of the same path replaces the earlier one */
	for (size_t i = 0; i < fs->n_binds; i++)
		if (streq(fs->binds[i].guest, b.guest)) {
			free(fs->binds[i].guest);
			free(fs->binds[i].host);
			fs->binds[i] = b;
			return;
		}
	fs->binds = xrealloc(fs->binds, (fs->n_binds + 1) * sizeof(*fs->binds));
	for (at = 0; at < fs->n_binds && fs->binds[at].guest_len >= b.guest_len; at++)
		;
	memmove(&fs->binds[at + 1], &fs->binds[at], (fs->n_binds - at) * sizeof(*fs->binds));
	fs->binds[at] = b;
	fs->n_binds++;
}

bool bld_ptrace_fs_is_bound(const struct bld_ptrace_fs *fs, const char *guest)
{
	char clean[PATH_MAX];

	return clean_abs(guest, clean, sizeof(clean)) == 0 && bind_of(fs, clean, strlen(clean));
}

bool bld_ptrace_fs_has_ro(const struct bld_ptrace_fs *fs)
{
	for (size_t i = 0; i < fs->n_binds; i++)
		if (fs->binds[i].ro)
			return true;
	return false;
}

bool bld_ptrace_fs_is_ro(const struct bld_ptrace_fs *fs, const char *guest)
{
	const struct bld_ptrace_bind *b = bind_of(fs, guest, strlen(guest));
	return b && b->ro;
}

bool bld_ptrace_fs_name_is_bound(const struct bld_ptrace_fs *fs, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < fs->n_binds; i++) {
		const char *g = fs->binds[i].guest, *last = strrchr(g, '/') + 1;
		if (strlen(last) == n && memcmp(last, name, n) == 0)
			return true;
	}
	return false;
}

void bld_ptrace_fs_free(struct bld_ptrace_fs *fs)
{
	for (size_t i = 0; i < fs->n_binds; i++) {
		free(fs->binds[i].guest);
		free(fs->binds[i].host);
	}
	free(fs->binds);
	free(fs->root);
	if (fs->rootfd >= 0)
		close(fs->rootfd);
	memset(fs, 0, sizeof(*fs));
	fs->rootfd = -1;
}
