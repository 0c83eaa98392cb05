/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COPY/ADD: copying trees into the destination rootfs. Every write is an
 * *at() call on a folder fd that was resolved inside the destination root,
 * with a single path component and O_NOFOLLOW, so a symlink in the image
 * never leads a write outside it.
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "builder/copy.h"
#include "builder/progress.h"
#include "builder/userdb.h"
#include "storage/storage.h"

struct bld_copy_unlocked {
	dev_t dev;
	ino_t ino;
	int fd;
	mode_t mode; /* to give back */
};

struct bld_copy_hardlink {
	dev_t dev;
	ino_t ino;
	char *rel; /* below w->link_root */
};

void bld_copy_writer_links_reset(struct bld_copy_writer *w)
{
	for (size_t i = 0; i < w->n_links; i++)
		free(w->links[i].rel);
	w->n_links = 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static char *dir_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? xstrndup(p, (size_t)(s - p)) : xstrdup("");
}

/* ---- folders without owner write permission -------------------------------------- */

void bld_copy_dir_unlock(struct bld_copy_writer *w, int dirfd)
{
	struct stat st;
	int fd;

	if (geteuid() == 0 || fstat(dirfd, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 0700) == 0700)
		return;
	for (size_t i = 0; i < w->n_unlocked; i++)
		if (w->unlocked[i].dev == st.st_dev && w->unlocked[i].ino == st.st_ino)
			return;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		/* no read permission either: through the fd's /proc link */
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", dirfd);
		if (chmod(p, (st.st_mode & 07777) | 0700) < 0)
			return;
		fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return;
	} else if (fchmod(fd, (st.st_mode & 07777) | 0700) < 0) {
		close(fd);
		return;
	}
	w->unlocked = xgrow(w->unlocked, &w->cap_unlocked, w->n_unlocked + 1, sizeof(*w->unlocked));
	w->unlocked[w->n_unlocked++] =
	    (struct bld_copy_unlocked){st.st_dev, st.st_ino, fd, st.st_mode & 07777};
}

void bld_copy_dirs_relock(struct bld_copy_writer *w)
{
	for (size_t i = w->n_unlocked; i > 0; i--) {
		(void)fchmod(w->unlocked[i - 1].fd, w->unlocked[i - 1].mode);
		close(w->unlocked[i - 1].fd);
	}
	free(w->unlocked);
	w->unlocked = NULL;
	w->n_unlocked = w->cap_unlocked = 0;
}

/* A folder that gets its mode from the copy needs no giving back. */
static void dir_forget(struct bld_copy_writer *w, int fd)
{
	struct stat st;

	if (w->n_unlocked == 0 || fstat(fd, &st) < 0)
		return;
	for (size_t i = 0; i < w->n_unlocked; i++)
		if (w->unlocked[i].dev == st.st_dev && w->unlocked[i].ino == st.st_ino) {
			close(w->unlocked[i].fd);
			w->unlocked[i] = w->unlocked[--w->n_unlocked];
			return;
		}
}

/* ---- path resolution inside a root ------------------------------------------- */

void bld_copy_resolved_free(struct bld_copy_resolved *r)
{
	free(r->path);
	r->path = NULL;
}

static void push_comps(struct nib_strv *queue, const char *path)
{
	/* prepend path's components to the queue (stored reversed: the
	 * next component is the last element) */
	struct nib_strv tmp = {0};
	const char *p = path;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n > 0)
			nib_strv_push_take(&tmp, xstrndup(p, n));
		p += n;
		while (*p == '/')
			p++;
	}
	for (size_t i = tmp.len; i > 0; i--)
		nib_strv_push(queue, tmp.v[i - 1]);
	nib_strv_free(&tmp);
}

static char *queue_pop(struct nib_strv *q)
{
	char *s = q->v[--q->len];
	q->v[q->len] = NULL;
	return s;
}

int bld_copy_resolve(int rootfd, const char *path, bool follow_last, struct bld_copy_resolved *out,
		     struct nib_error *err)
{
	_cleanup_strv_ struct nib_strv queue = {0}, done = {0};
	int links = 0;

	memset(out, 0, sizeof(*out));
	push_comps(&queue, path);
	out->exists = true;
	if (fstatat(rootfd, ".", &out->st, 0) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "stat /");
	while (queue.len > 0) {
		_cleanup_free_ char *c = queue_pop(&queue);
		_cleanup_free_ char *cand = NULL;
		struct stat st;

		if (streq(c, "."))
			continue;
		if (streq(c, "..")) {
			if (done.len > 0)
				free(queue_pop(&done));
			continue;
		}
		nib_strv_push(&done, c);
		cand = nib_strv_join(&done, "/");
		if (queue.len == 0 && !follow_last) {
			if (fstatat(rootfd, cand, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno != ENOENT)
					return nib_err(err, NIB_ERR_IO, errno, "stat /%s", cand);
				out->exists = false;
			} else {
				out->st = st;
			}
			break;
		}
		if (fstatat(rootfd, cand, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				return nib_err(err, NIB_ERR_IO, errno, "stat /%s", cand);
			/* missing: the rest is lexical */
			out->exists = false;
			while (queue.len > 0) {
				_cleanup_free_ char *r = queue_pop(&queue);
				if (streq(r, "."))
					continue;
				if (streq(r, "..")) {
					if (done.len > 0)
						free(queue_pop(&done));
					continue;
				}
				nib_strv_push(&done, r);
			}
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n;

			if (++links > 40)
				return nib_err(err, NIB_ERR_IO, ELOOP, "resolve /%s", path);
			n = readlinkat(rootfd, cand, target, sizeof(target) - 1);
			if (n < 0)
				return nib_err(err, NIB_ERR_IO, errno, "readlink /%s", cand);
			target[n] = '\0';
			free(queue_pop(&done));
			if (target[0] == '/')
				while (done.len > 0)
					free(queue_pop(&done));
			push_comps(&queue, target);
			continue;
		}
		if (queue.len > 0 && !S_ISDIR(st.st_mode))
			return nib_err(err, NIB_ERR_IO, ENOTDIR, "resolve /%s", path);
		out->st = st;
	}
	out->path = done.len ? nib_strv_join(&done, "/") : xstrdup("");
	return 0;
}

/* ---- metadata ------------------------------------------------------------------ */

void bld_copy_src_owner(const struct bld_copy_opts *o, int fd, struct stat *st)
{
	struct stg_override rec;
	uint32_t u, g;

	if (fd >= 0 && stg_override_get(fd, &rec, NULL) == 1) {
		st->st_uid = rec.uid;
		st->st_gid = rec.gid;
		if (rec.has_type && (rec.mode & S_IFMT) != (st->st_mode & S_IFMT)) {
			st->st_mode = rec.mode;
			st->st_rdev = rec.rdev;
		}
		return;
	}
	if (o->src_idmap) {
		const struct stg_idmap *m = o->src_idmap;
		st->st_uid = stg_idmap_to_container(m->uids, m->n_uids, st->st_uid, &u) ? u : 65534;
		st->st_gid = stg_idmap_to_container(m->gids, m->n_gids, st->st_gid, &g) ? g : 65534;
	} else if (o->chown_mode == BLD_COPY_CHOWN_XATTR) {
		if (st->st_uid == geteuid())
			st->st_uid = 0;
		if (st->st_gid == getegid())
			st->st_gid = 0;
	}
}

void bld_copy_meta_for(const struct bld_copy_writer *w, const struct stat *st, bool keep_owner,
		       bool apply_chmod, struct bld_copy_meta *m)
{
	if (w->have_chown) {
		m->uid = w->chown_uid;
		m->gid = w->chown_gid;
	} else if (keep_owner) {
		m->uid = st->st_uid;
		m->gid = st->st_gid;
	} else {
		/* BuildKit resets the owners of context files to 0:0 when the
		 * context is transferred (filesync resetUIDAndGID). */
		m->uid = 0;
		m->gid = 0;
	}
	m->mode = st->st_mode & 07777;
	if (apply_chmod && !S_ISLNK(st->st_mode))
		m->mode = cf_chmod_apply(w->chmod, m->mode, S_ISDIR(st->st_mode));
	if (w->o->timestamp >= 0) {
		m->mtime.tv_sec = (time_t)w->o->timestamp;
		m->mtime.tv_nsec = 0;
		m->atime = m->mtime;
	} else {
		m->atime = st->st_atim;
		m->mtime = st->st_mtim;
	}
}

int bld_copy_meta_write(struct bld_copy_writer *w, int fd, int dirfd, const char *name, mode_t type,
			const struct bld_copy_meta *m, dev_t rdev, const char *what,
			struct nib_error *err)
{
	struct timespec ts[2] = {m->atime, m->mtime};
	bool is_link = S_ISLNK(type);

	/* an fd with a device type is an emulated device: always recorded */
	bool record = w->o->chown_mode == BLD_COPY_CHOWN_XATTR ||
		      ((S_ISCHR(type) || S_ISBLK(type)) && fd >= 0);

	if (!record) {
		int r = fd >= 0 ? fchown(fd, m->uid, m->gid)
				: fchownat(dirfd, name, m->uid, m->gid, AT_SYMLINK_NOFOLLOW);
		if (r < 0 && w->o->chown_mode == BLD_COPY_CHOWN_AUTO &&
		    (errno == EPERM || errno == EINVAL))
			record = true;
		else if (r < 0)
			return nib_err(err, NIB_ERR_ENV, errno,
				       "chown %s to %u:%u (single-UID environments need the "
				       "ownership-record mode)",
				       what, (unsigned)m->uid, (unsigned)m->gid);
	}
	if (record && !is_link) {
		/* Single UID: the file stays ours; the intended owner (and an
		 * emulated device's type) goes into the ownership record, set
		 * before the chmod (user xattrs need write permission). */
		struct stg_override rec = {.uid = m->uid,
					   .gid = m->gid,
					   .mode = (type & S_IFMT) | (m->mode & 07777),
					   .rdev = rdev,
					   .has_type = true};
		if (fd < 0)
			return nib_err(err, NIB_ERR_IO, EBADF, "record the owner of %s", what);
		if (stg_override_set(fd, &rec, err) < 0)
			return nib_err_wrap(err, "%s", what);
	}
	if (S_ISDIR(type) && fd >= 0)
		dir_forget(w, fd);
	if (!is_link) {
		/* chmod after chown (chown clears set-id bits); the disk keeps
		 * the true mode, which layer creation reads */
		int r = fd >= 0 ? fchmod(fd, m->mode) : fchmodat(dirfd, name, m->mode, 0);
		if (r < 0)
			return nib_err(err, NIB_ERR_IO, errno, "chmod %s", what);
	}
	if (record && is_link && (m->uid || m->gid) && dirfd >= 0 &&
	    stg_link_owner_set(dirfd, name, m->uid, m->gid, err) < 0)
		return nib_err_wrap(err, "%s", what); /* recorded on the folder */
	if ((fd >= 0 ? futimens(fd, ts) : utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW)) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "set times of %s", what);
	return 0;
}

int bld_copy_mkdir_all(struct bld_copy_writer *w, const char *path, struct nib_error *err)
{
	_cleanup_free_ char *clean = nib_path_clean(*path ? path : "/");
	const char *p = clean;
	struct nib_buf prefix = {0};
	int ret = -1;

	while (*p == '/')
		p++;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		struct bld_copy_resolved r;

		if (prefix.len)
			nib_buf_putc(&prefix, '/');
		nib_buf_append(&prefix, p, n);
		p += n;
		while (*p == '/')
			p++;
		if (bld_copy_resolve(w->dest_root, prefix.data, true, &r, err) < 0)
			goto out;
		if (r.exists) {
			bool isdir = S_ISDIR(r.st.st_mode);
			bld_copy_resolved_free(&r);
			if (!isdir) {
				nib_err(err, NIB_ERR_IO, ENOTDIR, "mkdir /%s", prefix.data);
				goto out;
			}
			continue;
		}
		/* missing (maybe behind a symlink): create its parents, then it */
		{
			_cleanup_free_ char *parent = dir_name(r.path);
			_cleanup_close_ int pfd = -1, dfd = -1;
			const char *name = base_name(r.path);
			struct stat st = {.st_mode = S_IFDIR | 0755};
			struct bld_copy_meta m;
			_cleanup_free_ char *what = xasprintf("/%s", r.path);

			if (*parent && bld_copy_mkdir_all(w, parent, err) < 0)
				goto fail;
			pfd = nib_open_in_root(w->dest_root, parent, O_PATH | O_DIRECTORY, 0, err);
			if (pfd < 0)
				goto fail;
			bld_copy_dir_unlock(w, pfd);
			if (mkdirat(pfd, name, 0755) < 0 && errno != EEXIST) {
				nib_err(err, NIB_ERR_IO, errno, "mkdir %s", what);
				goto fail;
			}
			dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (dfd < 0) {
				nib_err(err, NIB_ERR_IO, errno, "open %s", what);
				goto fail;
			}
			st.st_atim = st.st_mtim = w->now;
			bld_copy_meta_for(w, &st, false, false, &m);
			if (bld_copy_meta_write(w, dfd, -1, NULL, S_IFDIR, &m, 0, what, err) < 0)
				goto fail;
			w->stats.dirs++;
			if (w->root_prefix && *w->root_prefix)
				nib_strv_push_take(&w->created,
						   nib_path_join(w->root_prefix, r.path));
			else
				nib_strv_push(&w->created, r.path);
			bld_copy_resolved_free(&r);
			continue;
		fail:
			bld_copy_resolved_free(&r);
			goto out;
		}
	}
	ret = 0;
out:
	nib_buf_free(&prefix);
	return ret;
}

/* ---- extended attributes ---------------------------------------------------------- */

/* Never carried: SELinux labels (the target's policy decides), overlay
 * internals, and the ownership record (written from the options). */
static bool xattr_skipped(const char *name)
{
	return streq(name, "security.selinux") || streq(name, STG_XATTR_OVERRIDE_STAT) ||
	       nib_str_has_prefix(name, "user.overlay.") ||
	       nib_str_has_prefix(name, "trusted.overlay.");
}

int bld_copy_xattr_set(struct bld_copy_writer *w, int fd, const char *name, const void *value,
		       size_t len, const char *what, struct nib_error *err)
{
	const char *real = name;
	_cleanup_free_ char *kept = NULL;

	if (xattr_skipped(name))
		return 0;
	/* a carried xattr ("user.containers.override_NAME") is NAME */
	if (nib_str_has_prefix(name, STG_XATTR_OVERRIDE_PREFIX))
		real = name + strlen(STG_XATTR_OVERRIDE_PREFIX);
	if (w->o->chown_mode != BLD_COPY_CHOWN_XATTR || nib_str_has_prefix(real, "user.")) {
		if (fsetxattr(fd, real, value, len, 0) == 0)
			return 0;
		if (nib_str_has_prefix(real, "user."))
			return nib_err(err, NIB_ERR_IO, errno, "set xattr %s on %s", real, what);
	}
	if (w->o->chown_mode == BLD_COPY_CHOWN_REAL) {
		/* BuildKit logs and skips xattrs it cannot set */
		log_warn("%s: xattr %s not set: %s", what, real, strerror(errno));
		return 0;
	}
	/* single UID: kept for layer creation (storage/storage.h) */
	kept = xasprintf("%s%s", STG_XATTR_OVERRIDE_PREFIX, real);
	if (fsetxattr(fd, kept, value, len, 0) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "set xattr %s on %s", kept, what);
	return 0;
}

bool bld_copy_xattrs_first(const struct bld_copy_writer *w)
{
	/* after a real chown by root (which clears security.capability),
	 * else before the chmod (user xattrs need write permission) */
	return w->o->chown_mode == BLD_COPY_CHOWN_XATTR || geteuid() != 0;
}

static bool xattrs_first(const struct bld_copy_writer *w)
{
	return bld_copy_xattrs_first(w);
}

static int copy_xattrs(struct bld_copy_writer *w, int in, int out, const char *what,
		       struct nib_error *err)
{
	_cleanup_free_ char *names = NULL, *value = NULL;
	ssize_t n = flistxattr(in, NULL, 0), vcap = 0;

	if (n <= 0)
		return 0; /* none, or not supported */
	names = xmalloc((size_t)n + 1);
	n = flistxattr(in, names, (size_t)n);
	if (n < 0)
		return nib_err(err, NIB_ERR_IO, errno, "list xattrs of the source of %s", what);
	for (char *p = names; p < names + n; p += strlen(p) + 1) {
		ssize_t vl;

		if (xattr_skipped(p))
			continue;
		vl = fgetxattr(in, p, NULL, 0);
		if (vl < 0)
			continue;
		if (vl + 1 > vcap) {
			free(value);
			vcap = vl + 1;
			value = xmalloc((size_t)vcap);
		}
		vl = fgetxattr(in, p, value, (size_t)vcap);
		if (vl < 0)
			continue;
		if (bld_copy_xattr_set(w, out, p, value, (size_t)vl, what, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- data ----------------------------------------------------------------------- */

int bld_copy_data(struct bld_copy_writer *w, int in, int out, const char *what,
		  struct nib_error *err)
{
	static char buf[1 << 17];

	/* a reflink where the file system has them (btrfs, xfs), else an
	 * in-kernel copy, else read/write */
	if (!w || !w->no_clone) {
		if (ioctl(out, FICLONE, in) == 0) {
			struct stat st;
			if (fstat(in, &st) == 0)
				bld_tty_bytes_add(st.st_size);
			return 0;
		}
		if (w && (errno == EOPNOTSUPP || errno == EXDEV || errno == EINVAL ||
			  errno == ENOTTY || errno == ENOSYS))
			w->no_clone = true;
	}
	for (bool first = true; !w || !w->no_cfr; first = false) {
		/* 16 MiB at a time: the live display's bar moves */
		ssize_t n = copy_file_range(in, NULL, out, NULL, 16 << 20, 0);
		if (n > 0) {
			bld_tty_bytes_add(n);
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP ||
		    errno == EPERM || errno == EBADF) {
			/* the same pair of file systems refuses it every time */
			if (w && first &&
			    (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP))
				w->no_cfr = true;
			break;
		}
		return nib_err(err, NIB_ERR_IO, errno, "copy %s", what);
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return nib_err(err, NIB_ERR_IO, errno, "read source of %s", what);
		if (n == 0)
			return 0;
		if (nib_write_all(out, buf, (size_t)n) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "write %s", what);
		bld_tty_bytes_add(n);
	}
}

/* ---- trees ------------------------------------------------------------------------ */

/* Whether anything below the folder `fd` (at `path`) is kept. */
static bool any_kept(const struct bld_copy_opts *o, int fd, const char *path, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return false;
	}
	while ((de = readdir(d))) {
		_cleanup_free_ char *cp = NULL;
		struct stat st;
		enum bld_copy_ignore v;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		cp = *path ? nib_path_join(path, de->d_name) : xstrdup(de->d_name);
		v = o->ignore->match(o->ignore->data, cp, S_ISDIR(st.st_mode));
		if (v == BLD_COPY_KEEP)
			return true;
		if (v == BLD_COPY_DESCEND && S_ISDIR(st.st_mode) && depth < 256) {
			_cleanup_close_ int cfd = openat(
			    dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd >= 0 && any_kept(o, cfd, cp, depth + 1))
				return true;
		}
	}
	return false;
}

enum bld_copy_ignore bld_copy_ignore_check(const struct bld_copy_opts *o, int fd, const char *path,
					   bool is_dir)
{
	enum bld_copy_ignore v;

	if (!o->ignore || o->from_rootfs || !*path)
		return BLD_COPY_KEEP;
	v = o->ignore->match(o->ignore->data, path, is_dir);
	if (v != BLD_COPY_DESCEND)
		return v;
	if (!is_dir || fd < 0)
		return BLD_COPY_SKIP;
	return any_kept(o, fd, path, 0) ? BLD_COPY_KEEP : BLD_COPY_SKIP;
}

static bool skipped(struct bld_copy_writer *w, int sdir, const char *sname, const char *rel,
		    const char *ctx_rel, bool is_dir)
{
	if (bld_copy_excludes_match(w->excludes, rel, is_dir))
		return true;
	if (!w->o->ignore || w->o->from_rootfs)
		return false;
	if (is_dir) {
		_cleanup_close_ int fd =
		    openat(sdir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		return bld_copy_ignore_check(w->o, fd, ctx_rel, true) == BLD_COPY_SKIP;
	}
	return bld_copy_ignore_check(w->o, -1, ctx_rel, false) == BLD_COPY_SKIP;
}

static int copy_regular(struct bld_copy_writer *w, int sdir, const char *sname,
			const struct stat *st, int ddir, const char *dname, const char *rel,
			const char *what, struct nib_error *err)
{
	_cleanup_close_ int in = -1, out = -1;
	struct stat sst = *st;
	struct bld_copy_meta m;

	if (st->st_nlink > 1 && w->link_root >= 0) {
		for (size_t i = 0; i < w->n_links; i++) {
			struct bld_copy_hardlink *l = &w->links[i];
			_cleanup_free_ char *ld = NULL;
			_cleanup_close_ int lfd = -1;

			if (l->dev != st->st_dev || l->ino != st->st_ino)
				continue;
			ld = dir_name(l->rel);
			lfd = nib_open_in_root(w->link_root, ld, O_PATH | O_DIRECTORY, 0, err);
			if (lfd < 0)
				return -1;
			if (linkat(lfd, base_name(l->rel), ddir, dname, 0) < 0)
				return nib_err(err, NIB_ERR_IO, errno, "hardlink %s", what);
			w->stats.hardlinks++;
			return 0;
		}
	}
	in = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open source of %s", what);
	if (w->o->from_rootfs)
		bld_copy_src_owner(w->o, in, &sst);
	out = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return nib_err(err, NIB_ERR_IO, errno, "create %s", what);
	if (bld_copy_data(w, in, out, what, err) < 0)
		return -1;
	bld_copy_meta_for(w, &sst, w->o->from_rootfs, true, &m);
	/* xattrs after a real chown (which clears security.capability), else
	 * before the chmod (user xattrs need write permission) */
	if (xattrs_first(w) && copy_xattrs(w, in, out, what, err) < 0)
		return -1;
	if (bld_copy_meta_write(w, out, -1, NULL, S_IFREG, &m, 0, what, err) < 0)
		return -1;
	if (!xattrs_first(w) && copy_xattrs(w, in, out, what, err) < 0)
		return -1;
	w->stats.files++;
	w->stats.bytes += (uint64_t)st->st_size;
	if (st->st_nlink > 1 && w->link_root >= 0 && rel && *rel) {
		w->links = xgrow(w->links, &w->cap_links, w->n_links + 1, sizeof(*w->links));
		w->links[w->n_links++] = (struct bld_copy_hardlink){
		    .dev = st->st_dev, .ino = st->st_ino, .rel = xstrdup(rel)};
	}
	return 0;
}

static int copy_special(struct bld_copy_writer *w, int sdir, const char *sname,
			const struct stat *st, int ddir, const char *dname, const char *what,
			struct nib_error *err)
{
	_cleanup_close_ int fd = -1;
	struct bld_copy_meta m;
	mode_t type = st->st_mode & S_IFMT;
	struct stat sst = *st;

	if (w->o->from_rootfs)
		bld_copy_src_owner(w->o, -1, &sst);

	if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(sdir, sname, target, sizeof(target) - 1);
		if (n < 0)
			return nib_err(err, NIB_ERR_IO, errno, "readlink source of %s", what);
		target[n] = '\0';
		if (symlinkat(target, ddir, dname) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "symlink %s", what);
		bld_copy_meta_for(w, &sst, w->o->from_rootfs, false, &m);
		if (bld_copy_meta_write(w, -1, ddir, dname, S_IFLNK, &m, 0, what, err) < 0)
			return -1;
		w->stats.symlinks++;
		return 0;
	}
	if (S_ISFIFO(st->st_mode)) {
		if (mkfifoat(ddir, dname, 0600) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "mkfifo %s", what);
		fd = openat(ddir, dname, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		if (w->o->chown_mode != BLD_COPY_CHOWN_XATTR) {
			if (mknodat(ddir, dname, type | 0600, st->st_rdev) == 0) {
				bld_copy_meta_for(w, &sst, w->o->from_rootfs, true, &m);
				if (bld_copy_meta_write(w, -1, ddir, dname, type, &m, 0, what,
							err) < 0)
					return -1;
				w->stats.other++;
				return 0;
			}
			if (w->o->chown_mode == BLD_COPY_CHOWN_REAL || errno != EPERM)
				return nib_err(err, NIB_ERR_ENV, errno, "mknod %s", what);
		}
		/* a device node cannot be made: an empty file carries the type
		 * and numbers in its ownership record */
		fd =
		    openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	} else {
		log_debug("skipping socket %s", what);
		return 0;
	}
	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", what);
	bld_copy_meta_for(w, &sst, w->o->from_rootfs, true, &m);
	if (bld_copy_meta_write(w, fd, -1, NULL, type, &m, st->st_rdev, what, err) < 0)
		return -1;
	w->stats.other++;
	return 0;
}

int bld_copy_tree_node(struct bld_copy_writer *w, int sdir, const char *sname, int ddir,
		       const char *dname, const char *rel, const char *ctx_rel, const char *what,
		       bool top, struct nib_error *err)
{
	struct stat st, dst;
	bool dexists;

	if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "stat %s", ctx_rel);
	if (!top && skipped(w, sdir, sname, rel, ctx_rel, S_ISDIR(st.st_mode)))
		return 0;
	/* nothing to look for in a folder this copy just made */
	dexists = !w->fresh && fstatat(ddir, dname, &dst, AT_SYMLINK_NOFOLLOW) == 0;
	if (!w->fresh)
		bld_copy_dir_unlock(w, ddir);
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int sfd = -1, dfd = -1;
		struct stat sst = st;
		struct bld_copy_meta m;

		if (dexists && !S_ISDIR(dst.st_mode))
			return nib_err(err, NIB_ERR_IO, 0, "cannot copy folder %s to non-folder %s",
				       ctx_rel, what);
		if (!dexists && mkdirat(ddir, dname, 0700) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", what);
		sfd = openat(sdir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "open %s", ctx_rel);
		dfd = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "open %s", what);
		{
			bool saved = w->fresh;
			int r;
			w->fresh = !dexists;
			r = bld_copy_tree_contents(w, sfd, dfd, rel, ctx_rel, what, err);
			w->fresh = saved;
			if (r < 0)
				return -1;
		}
		if (w->o->from_rootfs)
			bld_copy_src_owner(w->o, sfd, &sst);
		bld_copy_meta_for(w, &sst, w->o->from_rootfs, true, &m);
		if (xattrs_first(w) && copy_xattrs(w, sfd, dfd, what, err) < 0)
			return -1;
		if (bld_copy_meta_write(w, dfd, -1, NULL, S_IFDIR, &m, 0, what, err) < 0)
			return -1;
		if (!xattrs_first(w) && copy_xattrs(w, sfd, dfd, what, err) < 0)
			return -1;
		w->stats.dirs++;
		return 0;
	}
	if (dexists) {
		if (S_ISDIR(dst.st_mode))
			return nib_err(err, NIB_ERR_IO, 0, "cannot replace folder %s with file %s",
				       what, ctx_rel);
		if (unlinkat(ddir, dname, 0) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "remove %s", what);
	}
	if (S_ISREG(st.st_mode))
		return copy_regular(w, sdir, sname, &st, ddir, dname, rel, what, err);
	return copy_special(w, sdir, sname, &st, ddir, dname, what, err);
}

int bld_copy_tree_file_fd(struct bld_copy_writer *w, int in, const struct stat *st, int ddir,
			  const char *dname, const char *what, struct nib_error *err)
{
	_cleanup_close_ int out = -1;
	struct bld_copy_meta m;
	struct stat dst;

	bld_copy_dir_unlock(w, ddir);
	if (fstatat(ddir, dname, &dst, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(dst.st_mode))
			return nib_err(err, NIB_ERR_IO, 0, "cannot replace folder %s with a file",
				       what);
		if (unlinkat(ddir, dname, 0) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "remove %s", what);
	}
	out = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return nib_err(err, NIB_ERR_IO, errno, "create %s", what);
	if (lseek(in, 0, SEEK_SET) < 0 || bld_copy_data(w, in, out, what, err) < 0)
		return err && err->msg ? -1 : nib_err(err, NIB_ERR_IO, errno, "copy %s", what);
	bld_copy_meta_for(w, st, false, true, &m);
	if (bld_copy_meta_write(w, out, -1, NULL, S_IFREG, &m, 0, what, err) < 0)
		return -1;
	w->stats.files++;
	w->stats.bytes += (uint64_t)st->st_size;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int bld_copy_tree_contents(struct bld_copy_writer *w, int sfd, int dfd, const char *rel,
			   const char *ctx_rel, const char *what, struct nib_error *err)
{
	_cleanup_strv_ struct nib_strv names = {0};
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return nib_err(err, NIB_ERR_IO, errno, "open %s", *ctx_rel ? ctx_rel : ".");
	}
	while ((errno = 0, de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			nib_strv_push(&names, de->d_name);
	if (errno)
		return nib_err(err, NIB_ERR_IO, errno, "read %s", *ctx_rel ? ctx_rel : ".");
	if (names.len > 1)
		qsort(names.v, names.len, sizeof(char *), cmp_str);
	for (size_t i = 0; i < names.len; i++) {
		const char *n = names.v[i];
		_cleanup_free_ char *crel = *rel ? nib_path_join(rel, n) : xstrdup(n);
		_cleanup_free_ char *cctx = *ctx_rel ? nib_path_join(ctx_rel, n) : xstrdup(n);
		_cleanup_free_ char *cwhat = nib_path_join(what, n);

		if (bld_copy_tree_node(w, sfd, n, dfd, n, crel, cctx, cwhat, false, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- --chown ---------------------------------------------------------------------- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Find `name` in the image's passwd or group file ("etc/passwd"): read
 * inside the root as a bounded regular file (builder/userdb.h). */
static int lookup_db(int rootfd, const char *file, const char *name, unsigned long *id,
		     unsigned long *id2, struct nib_error *err)
{
	_cleanup_free_ char *text = NULL;
	uint32_t a = 0, b = 0;
	int r;

	if (bld_userdb_read(rootfd, file, &text, err) < 0)
		return -1;
	r = bld_userdb_find_name(text, name, &a, id2 ? &b : NULL);
	if (r == 1) {
		*id = a;
		if (id2)
			*id2 = b;
	}
	return r;
}

int bld_copy_chown_resolve(int rootfd, const char *spec, uid_t *uid, gid_t *gid,
			   struct nib_error *err)
{
	_cleanup_free_ char *user = xstrdup(spec);
	char *group = strchr(user, ':');
	unsigned long u = 0, g = 0;
	int r;

	if (group)
		*group++ = '\0';
	if (*user == '\0') {
		u = 0;
	} else if (all_digits(user)) {
		/* Docker: a UID without a group uses the same number as GID */
		u = g = strtoul(user, NULL, 10);
	} else {
		/* BuildKit silently uses 0 for an unknown name; the classic
		 * builder and buildah refuse it, and so does nib */
		r = lookup_db(rootfd, "etc/passwd", user, &u, &g, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "--chown=%s: no user \"%s\" in the image's /etc/passwd",
				       spec, user);
	}
	if (group && *group) {
		if (all_digits(group)) {
			g = strtoul(group, NULL, 10);
		} else {
			r = lookup_db(rootfd, "etc/group", group, &g, NULL, err);
			if (r < 0)
				return -1;
			if (r == 0)
				return nib_err(
				    err, NIB_ERR_NOT_FOUND, 0,
				    "--chown=%s: no group \"%s\" in the image's /etc/group", spec,
				    group);
		}
	}
	if (u > UINT32_MAX - 1 || g > UINT32_MAX - 1)
		return nib_err(err, NIB_ERR_SYNTAX, 0, "--chown=%s: ID out of range", spec);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}
