/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer extraction: a layer tar applied to a folder, every path resolved as
 * if that folder were "/" (image-spec layer.md: changesets, whiteouts).
 *
 * Order of work for one file: create it owner-only (0600/0700), write its
 * data, chown, set xattrs (chown clears security.capability), write the
 * ownership record, chmod (chown also clears setuid bits), set times.
 * Folders keep u+rwx until the end so later entries can be written into
 * them; their final mode and mtime are set last, deepest first.
 */
#define NIB_STORAGE_INTERNAL
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "storage/layer_internal.h"
#include "storage/layer_stream.h"

NIB_DEFINE_CLEANUP(struct archive *, archive_read_free)

/* ---- a set of paths (the entries a layer made, for vfs whiteouts) ------ */

struct pathset {
	char **slots;
	size_t cap, len;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool pathset_has(const struct pathset *ps, const char *s)
{
	if (!ps->cap)
		return false;
	for (size_t i = hash_str(s) & (ps->cap - 1);; i = (i + 1) & (ps->cap - 1)) {
		if (!ps->slots[i])
			return false;
		if (streq(ps->slots[i], s))
			return true;
	}
}

static void pathset_add1(struct pathset *ps, const char *s);

static void pathset_grow(struct pathset *ps)
{
	struct pathset n = {xcalloc(ps->cap ? ps->cap * 2 : 1024, sizeof(char *)),
			    ps->cap ? ps->cap * 2 : 1024, 0};
	for (size_t i = 0; i < ps->cap; i++)
		if (ps->slots[i]) {
			pathset_add1(&n, ps->slots[i]);
			free(ps->slots[i]);
		}
	free(ps->slots);
	*ps = n;
}

static void pathset_add1(struct pathset *ps, const char *s)
{
	size_t i;

	if ((ps->len + 1) * 2 > ps->cap)
		pathset_grow(ps);
	for (i = hash_str(s) & (ps->cap - 1); ps->slots[i]; i = (i + 1) & (ps->cap - 1))
		if (streq(ps->slots[i], s))
			return;
	ps->slots[i] = xstrdup(s);
	ps->len++;
}

/* Add the path and all its parents. */
static void pathset_add(struct pathset *ps, const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);
	char *slash;

	pathset_add1(ps, p);
	while ((slash = strrchr(p, '/'))) {
		*slash = '\0';
		if (pathset_has(ps, p))
			break;
		pathset_add1(ps, p);
	}
}

static void pathset_free(struct pathset *ps)
{
	for (size_t i = 0; i < ps->cap; i++)
		free(ps->slots[i]);
	free(ps->slots);
}

/* ---- a set of inodes (the non-folders a layer made, for vfs) ------------ */

struct inoset {
	uint64_t *slots; /* 0: empty (no file system hands out inode 0) */
	size_t cap, len;
};

static bool inoset_has(const struct inoset *is, uint64_t ino)
{
	if (!is->cap || !ino)
		return false;
	for (size_t i = (ino * 11400714819323198485ULL) & (is->cap - 1);;
	     i = (i + 1) & (is->cap - 1)) {
		if (!is->slots[i])
			return false;
		if (is->slots[i] == ino)
			return true;
	}
}

static void inoset_add(struct inoset *is, uint64_t ino)
{
	if (!ino || inoset_has(is, ino))
		return;
	if ((is->len + 1) * 2 > is->cap) {
		struct inoset n = {xcalloc(is->cap ? is->cap * 2 : 256, sizeof(uint64_t)),
				   is->cap ? is->cap * 2 : 256, 0};
		for (size_t i = 0; i < is->cap; i++)
			if (is->slots[i])
				inoset_add(&n, is->slots[i]);
		free(is->slots);
		*is = n;
	}
	size_t i = (ino * 11400714819323198485ULL) & (is->cap - 1);
	while (is->slots[i])
		i = (i + 1) & (is->cap - 1);
	is->slots[i] = ino;
	is->len++;
}

/* ---- extraction state ---------------------------------------------------- */

struct dirfix {
	char *path;
	mode_t mode;
	struct timespec mtime;
};

struct ex {
	int rootfd;
	const struct stg_extract_opts *o;
	const char *name;
	struct stg_extract_result *res;
	uid_t euid;
	gid_t egid;
	/* the last parent folder opened */
	char *pcache;
	int pcache_fd;
	struct pathset made;
	struct inoset own; /* vfs: the non-folders this layer made */
	struct dirfix *dirs;
	size_t n_dirs, cap_dirs;
	struct perm_fixes fx; /* lower folders widened to write into */
	uint64_t file_bytes;
	const char *path; /* the entry being applied, for messages */
};

static void pcache_drop(struct ex *x)
{
	free(x->pcache);
	x->pcache = NULL;
	if (x->pcache_fd >= 0)
		close(x->pcache_fd);
	x->pcache_fd = -1;
}

static int eerr(struct ex *x, struct nib_error *err, enum nib_err_kind kind, int errnum,
		const char *fmt, ...) _printf_(5, 6);
static int eerr(struct ex *x, struct nib_error *err, enum nib_err_kind kind, int errnum,
		const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *m = NULL;

	va_start(ap, fmt);
	m = xvasprintf(fmt, ap);
	va_end(ap);
	return nib_err(err, kind, errnum, "layer %s: /%s: %s", x->name, x->path, m);
}

static int widen(struct perm_fixes *fx, int pathfd);
/* A single UID (not root) cannot write into its own folders that lack
 * u+wx (a lower layer's 0555 /proc, a 0000 folder): add the permission for
 * the extraction and give the mode back at the end. */
static int widen(struct perm_fixes *fx, int pathfd)
{
	struct stat st;
	char p[64];
	int fd;

	if (geteuid() == 0 || fstat(pathfd, &st) < 0 || st.st_uid != geteuid() ||
	    !S_ISDIR(st.st_mode) || (st.st_mode & 0700) == 0700) {
		errno = EACCES;
		return -1;
	}
	snprintf(p, sizeof(p), "/proc/self/fd/%d", pathfd);
	if (chmod(p, (st.st_mode & 07777) | 0700) < 0)
		return -1;
	fd = openat(pathfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	fx->fd = xgrow(fx->fd, &fx->cap, fx->n + 1, sizeof(*fx->fd));
	fx->mode = xrealloc(fx->mode, fx->cap * sizeof(*fx->mode));
	fx->fd[fx->n] = fd;
	fx->mode[fx->n++] = st.st_mode & 07777;
	return 0;
}

/* An O_RDONLY fd of the folder at `pathfd` that entries can be made in. */
static int writable_dir(struct perm_fixes *fx, int pathfd)
{
	struct stat st;
	int fd;

	if (fstat(pathfd, &st) == 0 && (st.st_mode & 0300) != 0300)
		(void)widen(fx, pathfd);
	fd = openat(pathfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && widen(fx, pathfd) == 0)
		fd = openat(pathfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd;
}

/* Whether a non-folder on disk is this layer's: always when the layer is
 * extracted alone (overlay form); else when this layer made it. */
static bool own_entry(const struct ex *x, const struct stat *st)
{
	return x->o->whiteouts == STG_WHITEOUT_OVERLAY || inoset_has(&x->own, (uint64_t)st->st_ino);
}

/* Note a non-folder this layer just made as `base` in `pfd` (vfs). */
static void note_own(struct ex *x, int pfd, const char *base)
{
	struct stat st;

	if (x->o->whiteouts == STG_WHITEOUT_APPLY &&
	    fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
		inoset_add(&x->own, (uint64_t)st.st_ino);
}

/*
 * The folder `path` inside the root, made when missing, with overlay's
 * semantics whatever the form (an upper folder hides a lower non-folder of
 * the same name: the two only merge when both are folders), so that overlay
 * and vfs give one tree:
 *   - a name that a lower layer made a symlink or a file is replaced by an
 *     empty folder (vfs; the overlay form never sees lower layers);
 *   - a symlink this layer made is followed inside the root when `follow`
 *     (a dangling one has its target made, as docker and containerd do)
 *     and refused otherwise (whiteouts never act through one);
 *   - a file this layer made is an error.
 * Every component is opened without following symlinks. An O_PATH fd.
 */
static int walk_dir(struct ex *x, const char *path, bool follow, int depth, struct nib_error *err)
{
	_cleanup_free_ char *rooted = xasprintf("/%s", path);
	_cleanup_free_ char *clean = nib_path_clean(rooted);
	_cleanup_close_ int cur = openat(x->rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	char *p = clean + 1, *s = p;

	if (depth > 40)
		return nib_err(err, NIB_ERR_CORRUPT, ELOOP, "/%s", path);
	if (cur < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open the root");
	while (*s) {
		char *slash = strchr(s, '/');
		_cleanup_close_ int next = -1;
		struct stat st;
		int r;

		if (slash)
			*slash = '\0';
		r = fstatat(cur, s, &st, AT_SYMLINK_NOFOLLOW);
		if (r < 0 && errno == EACCES && widen(&x->fx, cur) == 0)
			r = fstatat(cur, s, &st, AT_SYMLINK_NOFOLLOW);
		if (r < 0 && errno != ENOENT)
			return nib_err(err, NIB_ERR_IO, errno, "/%s", p);
		if (r == 0 && !S_ISDIR(st.st_mode) && own_entry(x, &st)) {
			char target[PATH_MAX];
			ssize_t n;

			if (!follow)
				return eerr(x, err, NIB_ERR_CORRUPT, 0,
					    "whiteout below a symlink or a non-folder is refused");
			if (!S_ISLNK(st.st_mode))
				return nib_err(err, NIB_ERR_CORRUPT, ENOTDIR, "/%s", p);
			n = readlinkat(cur, s, target, sizeof(target) - 1);
			if (n < 0)
				return nib_err(err, NIB_ERR_IO, errno, "readlink /%s", p);
			target[n] = '\0';
			/* the rest of the path, from the link's target on */
			_cleanup_free_ char *dir = xstrndup(p, s > p ? (size_t)(s - p - 1) : 0);
			_cleanup_free_ char *t =
			    target[0] == '/' ? xstrdup(target) : nib_path_join(dir, target);
			_cleanup_free_ char *rest =
			    slash ? nib_path_join(t, slash + 1) : xstrdup(t);
			return walk_dir(x, rest, follow, depth + 1, err);
		}
		if (r == 0 && !S_ISDIR(st.st_mode)) {
			/* a lower layer's symlink or file: this layer's folder
			 * hides it */
			int u = unlinkat(cur, s, 0);
			if (u < 0 && errno == EACCES && widen(&x->fx, cur) == 0)
				u = unlinkat(cur, s, 0);
			if (u < 0)
				return nib_err(err, NIB_ERR_IO, errno, "replace /%s", p);
			pcache_drop(x);
			r = -1;
		}
		if (r < 0) {
			int m = mkdirat(cur, s, 0755);
			if (m < 0 && errno == EACCES && widen(&x->fx, cur) == 0)
				m = mkdirat(cur, s, 0755);
			if (m < 0 && errno != EEXIST)
				return nib_err(err, NIB_ERR_IO, errno, "mkdir /%s", p);
		}
		next = openat(cur, s, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return nib_err(err, NIB_ERR_IO, errno, "open /%s", p);
		closep(&cur);
		cur = take_fd(&next);
		if (!slash)
			break;
		*slash = '/';
		s = slash + 1;
	}
	return take_fd(&cur);
}

/* The folder that holds an entry, created when missing, resolved inside
 * the root. Borrowed fd: valid until the cache is dropped. */
static int parent_fd(struct ex *x, const char *parent, struct nib_error *err)
{
	if (x->pcache && streq(x->pcache, parent))
		return x->pcache_fd;
	_cleanup_close_ int pathfd = -1;

	pcache_drop(x);
	pathfd = walk_dir(x, parent, true, 0, err);
	if (pathfd < 0)
		return nib_err_wrap(err, "layer %s: /%s", x->name, x->path);
	x->pcache_fd = writable_dir(&x->fx, pathfd);
	if (x->pcache_fd < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "open its folder");
	x->pcache = xstrdup(parent);
	return x->pcache_fd;
}

/* The folder of a whiteout, made when missing (walk_dir without following
 * symlinks: whiteouts must not act through one), open for writing. */
static int whiteout_dir(struct ex *x, const char *path, struct nib_error *err)
{
	_cleanup_close_ int pathfd = walk_dir(x, path, false, 0, err);
	int fd;

	if (pathfd < 0)
		return -1;
	fd = writable_dir(&x->fx, pathfd);
	if (fd < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "open /%s", path);
	return fd;
}

/* ---- ownership, xattrs, times ------------------------------------------- */

static bool owner_maps(struct ex *x, uint32_t uid, uint32_t gid, uint32_t *du, uint32_t *dg)
{
	const struct stg_idmap *m = x->o->idmap;

	if (!m) {
		*du = uid;
		*dg = gid;
		return true;
	}
	return stg_idmap_to_disk(m->uids, m->n_uids, uid, du) &&
	       stg_idmap_to_disk(m->gids, m->n_gids, gid, dg);
}

/*
 * Give `fd` (or parentfd/name when fd < 0: symlinks, devices) its owner.
 * Returns 1 when a record is needed (owner not mapped, or chown refused
 * with one mapped UID), 0 when done, -1 on error.
 */
static int set_owner(struct ex *x, int fd, int pfd, const char *base, uint32_t uid, uint32_t gid,
		     struct nib_error *err)
{
	uint32_t du, dg;
	struct stat st;
	int r;

	if (!owner_maps(x, uid, gid, &du, &dg))
		return 1;
	r = fd >= 0 ? fstat(fd, &st) : fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "stat");
	if (st.st_uid == du && st.st_gid == dg)
		return 0;
	r = fd >= 0 ? fchown(fd, du, dg) : fchownat(pfd, base, du, dg, AT_SYMLINK_NOFOLLOW);
	if (r == 0)
		return 0;
	if (errno == EPERM || errno == EINVAL)
		return 1;
	return eerr(x, err, NIB_ERR_IO, errno, "chown %u:%u", du, dg);
}

static int set_xattrs(struct ex *x, int fd, struct archive_entry *e, struct nib_error *err)
{
	const char *name;
	const void *value;
	size_t size, total = 0;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		total += size + strlen(name);
		if (x->o->limits.max_header && total > x->o->limits.max_header)
			return eerr(x, err, NIB_ERR_CORRUPT, 0,
				    "extended attributes pass %llu bytes (NIB_LAYER_MAX_HEADER)",
				    (unsigned long long)x->o->limits.max_header);
		if (stg_layer_xattr_reserved(name)) {
			log_debug("layer %s: /%s: xattr %s ignored (reserved)", x->name, x->path,
				  name);
			continue;
		}
		if (fd < 0)
			continue; /* symlinks and devices: user xattrs are impossible */
		if (fsetxattr(fd, name, value, size, 0) == 0)
			continue;
		if (nib_str_has_prefix(name, "user."))
			return eerr(x, err, NIB_ERR_IO, errno, "set xattr %s", name);
		/* security.capability and friends: kept for the commit */
		_cleanup_free_ char *alt = xasprintf("%s%s", STG_XATTR_OVERRIDE_PREFIX, name);
		if (fsetxattr(fd, alt, value, size, 0) < 0)
			return eerr(x, err, NIB_ERR_IO, errno, "set xattr %s", alt);
		x->res->records++;
	}
	return 0;
}

static int set_record(struct ex *x, int fd, uint32_t uid, uint32_t gid, mode_t mode, dev_t rdev,
		      struct nib_error *err)
{
	struct stg_override o = {.uid = uid, .gid = gid, .mode = mode, .rdev = rdev};

	if (stg_override_set(fd, &o, err) < 0)
		return nib_err_wrap(err, "layer %s: /%s", x->name, x->path);
	x->res->records++;
	return 0;
}

static struct timespec entry_mtime(struct archive_entry *e)
{
	struct timespec t = {0, 0};

	if (archive_entry_mtime_is_set(e)) {
		t.tv_sec = archive_entry_mtime(e);
		t.tv_nsec = archive_entry_mtime_nsec(e);
	}
	return t;
}

/* ---- entry kinds ---------------------------------------------------------- */

/* Finish a regular file or folder opened as `fd`. */
static int finish_fd(struct ex *x, int fd, struct archive_entry *e, mode_t type, dev_t rdev,
		     bool is_dir, const char *path, struct nib_error *err)
{
	uint32_t uid = (uint32_t)archive_entry_uid(e), gid = (uint32_t)archive_entry_gid(e);
	mode_t perm = archive_entry_perm(e) & 07777;
	int r;

	r = set_owner(x, fd, -1, NULL, uid, gid, err);
	if (r < 0)
		return -1;
	if (set_xattrs(x, fd, e, err) < 0)
		return -1;
	if ((r == 1 || type != (is_dir ? S_IFDIR : S_IFREG)) &&
	    set_record(x, fd, uid, gid, type | perm, rdev, err) < 0)
		return -1;
	if (is_dir) {
		if (fchmod(fd, perm | 0700) < 0)
			return eerr(x, err, NIB_ERR_IO, errno, "chmod");
		struct dirfix d = {xstrdup(path), perm, entry_mtime(e)};
		x->dirs = xgrow(x->dirs, &x->cap_dirs, x->n_dirs + 1, sizeof(*x->dirs));
		x->dirs[x->n_dirs++] = d;
		return 0;
	}
	if (fchmod(fd, perm) < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "chmod %04o", perm);
	struct timespec ts[2] = {entry_mtime(e), entry_mtime(e)};
	if (futimens(fd, ts) < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "set times");
	return 0;
}

static int write_data(struct ex *x, struct archive *a, int fd, int64_t size, struct nib_error *err)
{
	for (;;) {
		const void *buf;
		size_t n;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &n, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return eerr(x, err, NIB_ERR_CORRUPT, 0, "%s", archive_error_string(a));
		if (off < 0 || off > size || (int64_t)n > size - off)
			return eerr(x, err, NIB_ERR_CORRUPT, 0, "data past the entry's size");
		for (size_t done = 0; done < n;) {
			ssize_t w =
			    pwrite(fd, (const char *)buf + done, n - done, off + (off_t)done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return eerr(x, err, NIB_ERR_IO, errno, "write");
			done += (size_t)w;
		}
	}
	/* sparse files: the holes at the end */
	if (ftruncate(fd, size) < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "truncate to %lld", (long long)size);
	return 0;
}

static int make_file(struct ex *x, struct archive *a, struct archive_entry *e, int pfd,
		     const char *base, const char *path, mode_t type, dev_t rdev,
		     struct nib_error *err)
{
	_cleanup_close_ int fd = -1;
	int64_t size = type == S_IFREG ? archive_entry_size(e) : 0;

	if (size < 0)
		return eerr(x, err, NIB_ERR_CORRUPT, 0, "negative size");
	x->file_bytes += (uint64_t)size;
	if (x->o->limits.max_size && x->file_bytes > x->o->limits.max_size)
		return eerr(x, err, NIB_ERR_CORRUPT, 0,
			    "file sizes pass the limit of %llu bytes (NIB_LAYER_MAX_SIZE)",
			    (unsigned long long)x->o->limits.max_size);
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "create");
	note_own(x, pfd, base);
	if (type == S_IFREG && write_data(x, a, fd, size, err) < 0)
		return -1;
	return finish_fd(x, fd, e, type, rdev, false, path, err);
}

static int make_special(struct ex *x, struct archive_entry *e, int pfd, const char *base,
			const char *path, mode_t type, struct nib_error *err)
{
	dev_t rdev = type == S_IFIFO ? 0 : archive_entry_rdev(e);
	uint32_t uid = (uint32_t)archive_entry_uid(e), gid = (uint32_t)archive_entry_gid(e), du, dg;
	mode_t perm = archive_entry_perm(e) & 07777;
	int r;

	/* Device nodes are never made from a layer: an empty file with an
	 * ownership record stands for them (the commit writes them back), so
	 * a layer cannot hand a RUN step the host's disks, and a 0:0
	 * character device cannot pose as an overlay whiteout. */
	if (type != S_IFIFO || !owner_maps(x, uid, gid, &du, &dg))
		return make_file(x, NULL, e, pfd, base, path, type, rdev, err);
	if (mknodat(pfd, base, S_IFIFO | 0600, 0) < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "mkfifo");
	note_own(x, pfd, base);
	r = set_owner(x, -1, pfd, base, uid, gid, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		/* chown refused: the record needs a regular file */
		unlinkat(pfd, base, 0);
		return make_file(x, NULL, e, pfd, base, path, type, rdev, err);
	}
	if (fchmodat(pfd, base, perm, 0) < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "chmod");
	struct timespec ts[2] = {entry_mtime(e), entry_mtime(e)};
	utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int make_symlink(struct ex *x, struct archive_entry *e, int pfd, const char *base,
			struct nib_error *err)
{
	const char *target = archive_entry_symlink(e);
	int r;

	if (!target || !*target)
		return eerr(x, err, NIB_ERR_CORRUPT, 0, "symlink without a target");
	if (strlen(target) >= PATH_MAX ||
	    (x->o->limits.max_header && strlen(target) > x->o->limits.max_header))
		return eerr(x, err, NIB_ERR_CORRUPT, 0, "symlink target too long");
	/* stored verbatim: it is only ever resolved inside the root */
	if (symlinkat(target, pfd, base) < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "symlink");
	note_own(x, pfd, base);
	r = set_owner(x, -1, pfd, base, (uint32_t)archive_entry_uid(e),
		      (uint32_t)archive_entry_gid(e), err);
	if (r < 0)
		return -1;
	if (r == 1) {
		/* recorded on the folder (storage.h) */
		if (stg_link_owner_set(pfd, base, (uint32_t)archive_entry_uid(e),
				       (uint32_t)archive_entry_gid(e), err) < 0)
			return nib_err_wrap(err, "layer %s: /%s", x->name, x->path);
		x->res->records++;
	}
	struct timespec ts[2] = {entry_mtime(e), entry_mtime(e)};
	utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int make_hardlink(struct ex *x, struct archive_entry *e, int pfd, const char *base,
			 struct nib_error *err)
{
	const char *raw = archive_entry_hardlink(e);
	_cleanup_free_ char *rooted = xasprintf("/%s", raw);
	_cleanup_free_ char *clean = nib_path_clean(rooted);
	const char *rel = clean + 1, *tbase;
	_cleanup_free_ char *tparent = NULL;
	_cleanup_close_ int tpfd = -1;
	struct stat st;

	if (!*rel)
		return eerr(x, err, NIB_ERR_CORRUPT, 0, "hardlink to the root");
	tbase = strrchr(rel, '/');
	tparent = tbase ? xstrndup(rel, (size_t)(tbase - rel)) : xstrdup("");
	tbase = tbase ? tbase + 1 : rel;
	tpfd = nib_open_in_root(x->rootfd, tparent, O_PATH | O_DIRECTORY, 0, NULL);
	if (tpfd < 0 || fstatat(tpfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return eerr(x, err, NIB_ERR_CORRUPT, 0, "hardlink target /%s not found", rel);
	if (S_ISDIR(st.st_mode) || (S_ISCHR(st.st_mode) && st.st_rdev == 0))
		return eerr(x, err, NIB_ERR_CORRUPT, 0,
			    "hardlink to /%s: a folder or whiteout is refused", rel);
	if (linkat(tpfd, tbase, pfd, base, 0) < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "hardlink to /%s", rel);
	note_own(x, pfd, base);
	return 0;
}

static int make_dir(struct ex *x, struct archive_entry *e, int pfd, const char *base,
		    const char *path, bool exists, bool opaque, struct nib_error *err)
{
	_cleanup_close_ int fd = -1;

	if (!exists && mkdirat(pfd, base, 0700) < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "mkdir");
	if (exists) {
		/* a lower layer's folder: it may lack u+rwx for a single UID */
		_cleanup_close_ int pathfd =
		    openat(pfd, base, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		fd = pathfd < 0 ? -1 : writable_dir(&x->fx, pathfd);
	} else {
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "open");
	/* a folder made where this layer (overlay) just whited out the lower
	 * one replaces it, lower content included */
	if (opaque && fsetxattr(fd, OVL_OPAQUE_XATTR, "y", 1, 0) < 0)
		return eerr(x, err, NIB_ERR_IO, errno, "set %s", OVL_OPAQUE_XATTR);
	return finish_fd(x, fd, e, S_IFDIR, 0, true, path, err);
}

/* ---- whiteouts (image-spec layer.md: whiteouts) ------------------------- */

/* vfs: remove what lower layers put below `dfd` and this layer did not. */
static int opaque_apply(struct ex *x, int dfd, const char *dpath, struct nib_error *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = dup(dfd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return eerr(x, err, NIB_ERR_IO, errno, "opendir /%s", dpath);
	}
	while ((errno = 0, de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *p =
		    *dpath ? xasprintf("%s/%s", dpath, de->d_name) : xstrdup(de->d_name);
		if (!pathset_has(&x->made, p)) {
			if (nib_rm_rf_at(dfd, de->d_name, err) < 0)
				return -1;
			continue;
		}
		_cleanup_close_ int cpath =
		    openat(dfd, de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int cfd = cpath < 0 ? -1 : writable_dir(&x->fx, cpath);
		if (cfd >= 0 && opaque_apply(x, cfd, p, err) < 0)
			return -1;
	}
	return 0;
}

static int whiteout(struct ex *x, const char *parent, const char *base, struct nib_error *err)
{
	const char *target = base + 4;
	bool overlay = x->o->whiteouts == STG_WHITEOUT_OVERLAY;
	bool opaque = streq(base, ".wh..wh..opq");
	_cleanup_close_ int pfd = -1;
	struct stat st;

	if (!opaque && nib_str_has_prefix(base, ".wh..wh.")) {
		/* aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content */
		log_debug("layer %s: /%s ignored", x->name, x->path);
		return 0;
	}
	if (!opaque && (!*target || streq(target, ".") || streq(target, "..")))
		return eerr(x, err, NIB_ERR_CORRUPT, 0, "malformed whiteout name");
	/* the folder is made in both forms: overlay shows this layer's folder,
	 * over whatever a lower layer had there */
	pcache_drop(x);
	pfd = whiteout_dir(x, parent, err);
	if (pfd < 0)
		return -1;
	if (!overlay)
		pathset_add(&x->made, *parent ? parent : ".");
	if (opaque) {
		if (overlay && fsetxattr(pfd, OVL_OPAQUE_XATTR, "y", 1, 0) < 0)
			return eerr(x, err, NIB_ERR_IO, errno, "set %s", OVL_OPAQUE_XATTR);
		return overlay ? 0 : opaque_apply(x, pfd, parent, err);
	}
	if (overlay) {
		/* made by this layer already: it hides the lower one itself */
		if (fstatat(pfd, target, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		if (mknodat(pfd, target, S_IFCHR | 0600, makedev(0, 0)) < 0)
			return eerr(x, err, NIB_ERR_ENV, errno,
				    "cannot create the overlay whiteout (a 0:0 character device)");
		return 0;
	}
	_cleanup_free_ char *tp = *parent ? xasprintf("%s/%s", parent, target) : xstrdup(target);
	if (pathset_has(&x->made, tp))
		return 0; /* whiteouts only apply to lower layers */
	return nib_rm_rf_at(pfd, target, err) < 0 ? nib_err_wrap(err, "layer %s", x->name) : 0;
}

/* ---- one entry -------------------------------------------------------------- */

/* ".wh..wh.*" names other than the opaque marker: aufs bookkeeping. */
static bool aufs_meta(const char *base)
{
	return nib_str_has_prefix(base, ".wh..wh.") && !streq(base, ".wh..wh..opq");
}

/* Whether a folder component of `parent` is a whiteout name (aufs
 * bookkeeping folders excepted): a ".wh.NAME/child" entry would make a
 * folder that every other reader takes for a whiteout. */
static bool reserved_parent(const char *parent)
{
	for (const char *c = parent; *c;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);

		if (n >= 4 && !strncmp(c, ".wh.", 4) && !(n >= 8 && !strncmp(c, ".wh..wh.", 8)))
			return true;
		if (!slash)
			break;
		c = slash + 1;
	}
	return false;
}

static const char *entry_kind(mode_t type)
{
	switch (type) {
	case AE_IFDIR:
		return "folder";
	case AE_IFLNK:
		return "symlink";
	case AE_IFCHR:
		return "character device";
	case AE_IFBLK:
		return "block device";
	case AE_IFIFO:
		return "FIFO";
	default:
		return "special entry";
	}
}

static int apply_entry(struct ex *x, struct archive *a, struct archive_entry *e,
		       struct nib_error *err)
{
	const char *raw = archive_entry_pathname(e);
	_cleanup_free_ char *rooted = NULL, *clean = NULL, *parent = NULL;
	const char *rel, *base, *slash;
	mode_t type = archive_entry_filetype(e);
	const char *hl = archive_entry_hardlink(e);
	bool exists = false, was_whiteout = false;
	struct stat st;
	int pfd;

	if (!raw || !*raw)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "layer %s: entry %llu has no name", x->name,
			       (unsigned long long)x->res->entries);
	if (strlen(raw) >= PATH_MAX ||
	    (x->o->limits.max_header && strlen(raw) > x->o->limits.max_header))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "layer %s: entry %llu: name of %zu bytes is too long", x->name,
			       (unsigned long long)x->res->entries, strlen(raw));
	/* as if the rootfs were "/": "../x" and "/x" both mean /x */
	rooted = xasprintf("/%s", raw);
	clean = nib_path_clean(rooted);
	rel = clean + 1;
	x->path = rel;
	slash = strrchr(rel, '/');
	parent = slash ? xstrndup(rel, (size_t)(slash - rel)) : xstrdup("");
	base = slash ? slash + 1 : rel;

	if (reserved_parent(parent))
		return eerr(x, err, NIB_ERR_CORRUPT, 0,
			    "an entry below a \".wh.\" name is refused: such names are whiteouts, "
			    "not folders (image-spec layer.md)");
	if (nib_str_has_prefix(base, ".wh.")) {
		/* image-spec layer.md: a whiteout is an empty file; a folder,
		 * link or device named ".wh.NAME" is neither a whiteout nor
		 * content another tool would read the same way. aufs
		 * bookkeeping (".wh..wh.plnk/") stays ignored whatever its type. */
		if ((type != AE_IFREG || hl) && !aufs_meta(base))
			return eerr(x, err, NIB_ERR_CORRUPT, 0,
				    "a whiteout must be a regular file, not a %s (image-spec "
				    "layer.md)",
				    hl ? "hardlink" : entry_kind(type));
		return whiteout(x, parent, base, err);
	}
	if (x->o->whiteouts == STG_WHITEOUT_APPLY)
		pathset_add(&x->made, *rel ? rel : ".");

	if (!*rel) {
		_cleanup_close_ int rfd = -1;
		if (type != AE_IFDIR || hl)
			return eerr(x, err, NIB_ERR_CORRUPT, 0, "the root must be a folder");
		rfd = openat(x->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rfd < 0)
			return eerr(x, err, NIB_ERR_IO, errno, "open");
		return finish_fd(x, rfd, e, S_IFDIR, 0, true, "", err);
	}

	pfd = parent_fd(x, parent, err);
	if (pfd < 0)
		return -1;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode) && type == AE_IFDIR && !hl) {
			exists = true;
		} else {
			was_whiteout = S_ISCHR(st.st_mode) && st.st_rdev == 0;
			if (nib_rm_rf_at(pfd, base, err) < 0)
				return nib_err_wrap(err, "layer %s", x->name);
			if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) {
				/* paths below may now resolve elsewhere */
				pcache_drop(x);
				pfd = parent_fd(x, parent, err);
				if (pfd < 0)
					return -1;
			}
		}
	}
	if (hl)
		return make_hardlink(x, e, pfd, base, err);
	switch (type) {
	case AE_IFREG:
		return make_file(x, a, e, pfd, base, rel, S_IFREG, 0, err);
	case AE_IFDIR:
		return make_dir(x, e, pfd, base, rel, exists,
				was_whiteout && x->o->whiteouts == STG_WHITEOUT_OVERLAY, err);
	case AE_IFLNK: {
		int r = make_symlink(x, e, pfd, base, err);
		pcache_drop(x); /* paths below may now resolve elsewhere */
		return r;
	}
	case AE_IFCHR:
		return make_special(x, e, pfd, base, rel, S_IFCHR, err);
	case AE_IFBLK:
		return make_special(x, e, pfd, base, rel, S_IFBLK, err);
	case AE_IFIFO:
		return make_special(x, e, pfd, base, rel, S_IFIFO, err);
	default:
		return eerr(x, err, NIB_ERR_CORRUPT, 0, "unsupported entry type 0%o",
			    (unsigned)type);
	}
}

/* Final folder modes and times, deepest first. */
static void fix_dirs(struct ex *x)
{
	for (size_t i = x->n_dirs; i-- > 0;) {
		struct dirfix *d = &x->dirs[i];
		_cleanup_close_ int fd = nib_open_in_root(
		    x->rootfd, d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, NULL);
		if (fd >= 0) {
			struct timespec ts[2] = {d->mtime, d->mtime};
			if ((d->mode & 0700) != 0700)
				(void)fchmod(fd, d->mode);
			(void)futimens(fd, ts);
		}
	}
}

/* ---- the archive -------------------------------------------------------------- */

struct feed {
	struct layer_stream *s;
	struct nib_error err;
	bool failed;
};

static la_ssize_t feed_read(struct archive *a, void *data, const void **buf)
{
	struct feed *f = data;
	ssize_t n = stg_layer_stream_read(f->s, buf, &f->err);

	if (n < 0) {
		f->failed = true;
		archive_set_error(a, EIO, "%s", f->err.msg ? f->err.msg : "read error");
		return -1;
	}
	return n;
}

int stg_layer_extract_fd(int rootfd, int fd, const struct stg_extract_opts *o,
			 struct stg_extract_result *res, struct nib_error *err)
{
	_cleanup_(stg_layer_stream_freep) struct layer_stream *s = NULL;
	_cleanup_(archive_read_freep) struct archive *a = NULL;
	struct stg_extract_result local;
	struct feed f = {0};
	struct ex x = {0};
	int ret = -1;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	x.rootfd = rootfd;
	x.o = o;
	x.name = o->name ? o->name : "(stream)";
	x.res = res;
	x.euid = geteuid();
	x.egid = getegid();
	x.pcache_fd = -1;
	x.path = "";

	if (stg_layer_stream_open(fd, x.name, &o->limits, &s, err) < 0)
		return -1;
	f.s = s;
	a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_none(a);
	if (archive_read_open(a, &f, NULL, feed_read, NULL) != ARCHIVE_OK) {
		if (f.failed) {
			nib_err_move(err, &f.err);
		} else if (stg_layer_stream_comp(s) == LAYER_COMP_NONE && res->entries == 0) {
			nib_err(err, NIB_ERR_CORRUPT, 0,
				"layer %s: not a tar, tar+gzip or tar+zstd stream: %s", x.name,
				archive_error_string(a));
		} else {
			nib_err(err, NIB_ERR_CORRUPT, 0, "layer %s: %s", x.name,
				archive_error_string(a));
		}
		goto out;
	}
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN || f.failed) {
			if (f.failed)
				nib_err_move(err, &f.err);
			else
				nib_err(err, NIB_ERR_CORRUPT, 0, "layer %s: after entry %llu: %s",
					x.name, (unsigned long long)res->entries,
					archive_error_string(a));
			goto out;
		}
		res->entries++;
		if (o->limits.max_entries && res->entries > o->limits.max_entries) {
			nib_err(err, NIB_ERR_CORRUPT, 0,
				"layer %s: more than %llu entries (NIB_LAYER_MAX_ENTRIES)", x.name,
				(unsigned long long)o->limits.max_entries);
			goto out;
		}
		if (apply_entry(&x, a, e, err) < 0) {
			if (f.failed)
				nib_err_move(err, &f.err);
			goto out;
		}
		x.path = "";
	}
	if (stg_layer_stream_drain(s, err) < 0)
		goto out;
	stg_perm_fixes_restore(&x.fx);
	fix_dirs(&x);
	stg_layer_stream_digests(s, res->digest, res->diff_id, &res->compressed,
				 &res->uncompressed);
	if (o->digest && !streq(o->digest, res->digest)) {
		nib_err(err, NIB_ERR_CORRUPT, 0, "layer %s: digest %s, expected %s", x.name,
			res->digest, o->digest);
		goto out;
	}
	if (o->diff_id && !streq(o->diff_id, res->diff_id)) {
		nib_err(err, NIB_ERR_CORRUPT, 0,
			"layer %s: uncompressed digest (DiffID) %s, expected %s", x.name,
			res->diff_id, o->diff_id);
		goto out;
	}
	ret = 0;
out:
	pcache_drop(&x);
	stg_perm_fixes_restore(&x.fx);
	pathset_free(&x.made);
	free(x.own.slots);
	for (size_t i = 0; i < x.n_dirs; i++)
		free(x.dirs[i].path);
	free(x.dirs);
	nib_err_clear(&f.err);
	return ret;
}
