/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layers: ownership records (user.containers.override_stat), ID maps,
 * ChainIDs, limits and the no-symlink walk used for whiteouts.
 */
#define NIB_STORAGE_INTERNAL
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "storage/layer_internal.h"

/* ---- ownership records -------------------------------------------------- */

static int parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

int stg_override_parse(const char *s, size_t len, struct stg_override *out, struct nib_error *err)
{
	const char *f[5];
	size_t fl[5], nf = 0;
	const char *p = s, *end = s + len;
	uint64_t v, maj, min;

	/* values written by C tools may end in a NUL */
	while (len > 0 && s[len - 1] == '\0')
		end = s + --len;
	memset(out, 0, sizeof(*out));
	while (nf < 5) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		f[nf] = p;
		fl[nf] = c ? (size_t)(c - p) : (size_t)(end - p);
		nf++;
		if (!c)
			break;
		p = c + 1;
	}
	if (nf < 3)
		goto bad;
	if (parse_dec(f[0], fl[0], UINT32_MAX, &v) < 0)
		goto bad;
	out->uid = (uint32_t)v;
	if (parse_dec(f[1], fl[1], UINT32_MAX, &v) < 0)
		goto bad;
	out->gid = (uint32_t)v;
	if (fl[2] == 0 || fl[2] > 7)
		goto bad;
	v = 0;
	for (size_t i = 0; i < fl[2]; i++) {
		if (f[2][i] < '0' || f[2][i] > '7')
			goto bad;
		v = v * 8 + (uint64_t)(f[2][i] - '0');
	}
	out->mode = (mode_t)(v & 07777);
	if (nf < 4)
		return 0;
	out->has_type = true;
#define IS(word) (fl[3] >= strlen(word) && memcmp(f[3], word, strlen(word)) == 0)
	if (IS("file")) {
		out->mode |= S_IFREG;
	} else if (IS("dir")) {
		out->mode |= S_IFDIR;
	} else if (IS("symlink")) {
		out->mode |= S_IFLNK;
	} else if (IS("pipe")) {
		out->mode |= S_IFIFO;
	} else if (IS("socket")) {
		out->mode |= S_IFSOCK;
	} else if (IS("char-") || IS("block-")) {
		const char *d = memchr(f[3], '-', fl[3]) + 1, *d2;
		const char *e3 = f[3] + fl[3];
		out->mode |= f[3][0] == 'c' ? S_IFCHR : S_IFBLK;
		d2 = memchr(d, '-', (size_t)(e3 - d));
		if (!d2 || parse_dec(d, (size_t)(d2 - d), 0xfffff, &maj) < 0)
			goto bad;
		d = d2 + 1;
		d2 = memchr(d, '-', (size_t)(e3 - d)); /* more parts: ignored */
		if (parse_dec(d, d2 ? (size_t)(d2 - d) : (size_t)(e3 - d), 0xfffff, &min) < 0)
			goto bad;
		out->rdev = makedev((unsigned)maj, (unsigned)min);
	} else {
		goto bad;
	}
#undef IS
	return 0;
bad:
	return nib_err(err, NIB_ERR_CORRUPT, 0, "malformed %s \"%.*s\"", STG_XATTR_OVERRIDE_STAT,
		       (int)MIN(len, 64), s);
}

const char *stg_layer_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "symlink";
	case S_IFIFO:
		return "pipe";
	case S_IFSOCK:
		return "socket";
	case S_IFCHR:
		return "char";
	case S_IFBLK:
		return "block";
	default:
		return "file";
	}
}

void stg_override_format(const struct stg_override *o, char *buf, size_t size)
{
	mode_t t = o->mode & S_IFMT;

	if (t == S_IFCHR || t == S_IFBLK)
		snprintf(buf, size, "%" PRIu32 ":%" PRIu32 ":%04o:%s-%u-%u", o->uid, o->gid,
			 (unsigned)(o->mode & 07777), stg_layer_type_name(t), major(o->rdev),
			 minor(o->rdev));
	else
		snprintf(buf, size, "%" PRIu32 ":%" PRIu32 ":%04o:%s", o->uid, o->gid,
			 (unsigned)(o->mode & 07777), stg_layer_type_name(t ? t : S_IFREG));
}

int stg_override_get(int fd, struct stg_override *out, struct nib_error *err)
{
	char buf[STG_OVERRIDE_MAX];
	ssize_t n = fgetxattr(fd, STG_XATTR_OVERRIDE_STAT, buf, sizeof(buf));

	if (n < 0) {
		if (errno == ENODATA || errno == ENOTSUP)
			return 0;
		return nib_err(err, NIB_ERR_IO, errno, "read %s", STG_XATTR_OVERRIDE_STAT);
	}
	if (stg_override_parse(buf, (size_t)n, out, err) < 0)
		return -1;
	return 1;
}

int stg_override_set(int fd, const struct stg_override *o, struct nib_error *err)
{
	char buf[STG_OVERRIDE_MAX];

	stg_override_format(o, buf, sizeof(buf));
	if (fsetxattr(fd, STG_XATTR_OVERRIDE_STAT, buf, strlen(buf), 0) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "set %s", STG_XATTR_OVERRIDE_STAT);
	return 0;
}

/* ---- ID maps ---------------------------------------------------------- */

bool stg_idmap_to_disk(const struct stg_idmap_range *r, size_t n, uint32_t id, uint32_t *out)
{
	for (size_t i = 0; i < n; i++)
		if (id >= r[i].inside && id - r[i].inside < r[i].count) {
			*out = r[i].outside + (id - r[i].inside);
			return true;
		}
	return false;
}

bool stg_idmap_to_container(const struct stg_idmap_range *r, size_t n, uint32_t id, uint32_t *out)
{
	for (size_t i = 0; i < n; i++)
		if (id >= r[i].outside && id - r[i].outside < r[i].count) {
			*out = r[i].inside + (id - r[i].outside);
			return true;
		}
	return false;
}

/* ---- chain IDs and limits --------------------------------------------- */

void stg_chain_id(const char *parent_chain, const char *diff_id, char out[NIB_DIGEST_LEN + 1])
{
	if (!parent_chain || !*parent_chain) {
		snprintf(out, NIB_DIGEST_LEN + 1, "%s", diff_id);
		return;
	}
	_cleanup_free_ char *s = xasprintf("%s %s", parent_chain, diff_id);
	nib_sha256_digest(s, strlen(s), out);
}

static void limit_env(const char *name, uint64_t *v)
{
	const char *s = getenv(name);
	uint64_t x;

	if (s && *s && nib_parse_u64(s, &x) == 0)
		*v = x;
}

void stg_layer_limits_default(struct stg_layer_limits *l)
{
	l->max_size = 64ULL << 30;
	l->max_entries = 4u << 20;
	l->max_header = 64u << 10;
	l->max_ratio = 2000;
	limit_env("NIB_LAYER_MAX_SIZE", &l->max_size);
	limit_env("NIB_LAYER_MAX_ENTRIES", &l->max_entries);
	limit_env("NIB_LAYER_MAX_HEADER", &l->max_header);
	limit_env("NIB_LAYER_MAX_RATIO", &l->max_ratio);
}

bool stg_layer_xattr_reserved(const char *name)
{
	return nib_str_has_prefix(name, "user.overlay.") ||
	       nib_str_has_prefix(name, "trusted.overlay.") ||
	       nib_str_has_prefix(name, "user.fuseoverlayfs.") ||
	       nib_str_has_prefix(name, "security.fuseoverlayfs.") ||
	       nib_str_has_prefix(name, STG_XATTR_OVERRIDE_PREFIX) ||
	       nib_str_has_prefix(name, STG_XATTR_LINK_PREFIX);
}

/* ---- no-symlink walk --------------------------------------------------- */

static int nosym_supported = -1;

int stg_open_nosym(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	const char *p = *path ? path : ".";
	_cleanup_free_ char *copy = NULL;
	_cleanup_close_ int cur = -1;
	char *s, *slash;

	if (nosym_supported != 0) {
		for (int tries = 0; tries < 32; tries++) {
			long fd = syscall(SYS_openat2, rootfd, p, &how, sizeof(how));
			if (fd >= 0) {
				nosym_supported = 1;
				return (int)fd;
			}
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno == ENOSYS || errno == EPERM) {
				nosym_supported = 0;
				break;
			}
			/* RESOLVE_BENEATH refuses ".." climbing out: EXDEV */
			return -1;
		}
	}
	/* the walk: every component opened with O_NOFOLLOW */
	copy = xstrdup(p);
	cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return -1;
	s = copy;
	for (;;) {
		int fd;
		while (*s == '/')
			s++;
		slash = strchr(s, '/');
		if (slash)
			*slash = '\0';
		if (streq(s, "..")) {
			errno = EXDEV;
			return -1;
		}
		if (!slash || slash[1] == '\0') {
			return openat(cur, *s ? s : ".", flags | O_NOFOLLOW | O_CLOEXEC, mode);
		}
		fd = openat(cur, *s ? s : ".", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -1;
		close(cur);
		cur = fd;
		s = slash + 1;
	}
}

/* ---- opening one's own unreadable files ----------------------------------- */

int stg_layer_openat(int dfd, const char *name, int flags, struct perm_fixes *fx)
{
	struct stat st;
	int fd = openat(dfd, name, flags | O_CLOEXEC);
	mode_t want;

	if (fd >= 0 || errno != EACCES)
		return fd;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_uid != geteuid() ||
	    !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
		errno = EACCES;
		return -1;
	}
	want = (st.st_mode & 07777) | (S_ISDIR(st.st_mode) ? 0700 : 0600);
	if (fchmodat(dfd, name, want, 0) < 0) {
		errno = EACCES;
		return -1;
	}
	fd = openat(dfd, name, flags | O_CLOEXEC);
	if (fd < 0 || !fx) {
		int e = errno;
		if (fd >= 0)
			(void)fchmod(fd, st.st_mode & 07777);
		else
			(void)fchmodat(dfd, name, st.st_mode & 07777, 0);
		errno = e;
		return fd;
	}
	fx->fd = xgrow(fx->fd, &fx->cap, fx->n + 1, sizeof(*fx->fd));
	fx->mode = xrealloc(fx->mode, fx->cap * sizeof(*fx->mode));
	fx->fd[fx->n] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	fx->mode[fx->n++] = st.st_mode & 07777;
	return fd;
}

void stg_perm_fixes_restore(struct perm_fixes *fx)
{
	for (size_t i = fx->n; i-- > 0;) {
		if (fx->fd[i] >= 0) {
			(void)fchmod(fx->fd[i], fx->mode[i]);
			close(fx->fd[i]);
		}
	}
	free(fx->fd);
	free(fx->mode);
	memset(fx, 0, sizeof(*fx));
}

void stg_perm_fixes_lookup(const struct perm_fixes *fx, struct stat *st)
{
	for (size_t i = 0; i < fx->n; i++) {
		struct stat fs;
		if (fx->fd[i] >= 0 && fstat(fx->fd[i], &fs) == 0 && fs.st_dev == st->st_dev &&
		    fs.st_ino == st->st_ino) {
			st->st_mode = (st->st_mode & S_IFMT) | fx->mode[i];
			return;
		}
	}
}
