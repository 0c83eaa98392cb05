/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COPY/ADD cache-key input: a digest of what the sources are, after ignore
 * rules and --exclude, independent of mtimes (BuildKit's contenthash does
 * not hash them either) and of the order readdir() returns.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/copy.h"

struct hasher {
	struct bld_copy_plan *p;
	struct nib_sha256 *sha;
	struct nib_buf rec;
};

/* One record: fields separated by NUL, ended by a newline. */
static void rec_field(struct hasher *h, const char *s)
{
	nib_buf_puts(&h->rec, s);
	nib_buf_putc(&h->rec, '\0');
}

static void rec_end(struct hasher *h)
{
	nib_buf_putc(&h->rec, '\n');
	nib_sha256_update(h->sha, h->rec.data, h->rec.len);
	nib_buf_reset(&h->rec);
}

static int hash_fd(int fd, char out[NIB_DIGEST_LEN + 1], const char *what, struct nib_error *err)
{
	_cleanup_(nib_sha256_freep) struct nib_sha256 *s = nib_sha256_new();
	static char buf[1 << 17];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "seek %s", what);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return nib_err(err, NIB_ERR_IO, errno, "read %s", what);
		nib_sha256_update(s, buf, (size_t)n);
	}
	nib_sha256_final(s, out);
	return 0;
}

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "symlink";
	case S_IFIFO:
		return "fifo";
	case S_IFCHR:
		return "char";
	case S_IFBLK:
		return "block";
	default:
		return "other";
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int hash_node(struct hasher *h, int sdir, const char *sname, const char *rel,
		     const char *ctx_rel, bool top, struct nib_error *err)
{
	const struct bld_copy_opts *o = h->p->o;
	struct stat st;
	_cleanup_close_ int fd = -1;
	char tmp[64];

	if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "stat %s", ctx_rel);
	if (!top) {
		bool is_dir = S_ISDIR(st.st_mode);
		if (bld_copy_excludes_match(h->p->excludes, rel, is_dir))
			return 0;
		if (o->ignore && !o->from_rootfs) {
			_cleanup_close_ int dfd =
			    is_dir ? openat(sdir, sname,
					    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
				   : -1;
			if (bld_copy_ignore_check(o, dfd, ctx_rel, is_dir) == BLD_COPY_SKIP)
				return 0;
		}
	}
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		fd = openat(sdir, sname,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
				(S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
		if (fd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "open %s", ctx_rel);
		if (o->from_rootfs)
			bld_copy_src_owner(o, fd, &st);
	}
	if (o->from_rootfs && fd < 0)
		bld_copy_src_owner(o, -1, &st);
	rec_field(h, rel);
	rec_field(h, type_name(st.st_mode));
	snprintf(tmp, sizeof(tmp), "%o", (unsigned)(st.st_mode & 07777));
	rec_field(h, tmp);
	if (o->from_rootfs) {
		snprintf(tmp, sizeof(tmp), "%u:%u", (unsigned)st.st_uid, (unsigned)st.st_gid);
		rec_field(h, tmp);
	}
	if (S_ISREG(st.st_mode)) {
		char d[NIB_DIGEST_LEN + 1];
		snprintf(tmp, sizeof(tmp), "%lld", (long long)st.st_size);
		rec_field(h, tmp);
		h->p->bytes += (uint64_t)st.st_size;
		if (hash_fd(fd, d, ctx_rel, err) < 0)
			return -1;
		rec_field(h, d);
	} else if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(sdir, sname, target, sizeof(target) - 1);
		if (n < 0)
			return nib_err(err, NIB_ERR_IO, errno, "readlink %s", ctx_rel);
		target[n] = '\0';
		rec_field(h, target);
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)st.st_rdev);
		rec_field(h, tmp);
	}
	rec_end(h);
	if (S_ISDIR(st.st_mode)) {
		_cleanup_strv_ struct nib_strv names = {0};
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;
		int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);

		if (dfd < 0 || !(d = fdopendir(dfd))) {
			if (dfd >= 0)
				close(dfd);
			return nib_err(err, NIB_ERR_IO, errno, "open %s", ctx_rel);
		}
		while ((errno = 0, de = readdir(d)))
			if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
				nib_strv_push(&names, de->d_name);
		if (names.len > 1)
			qsort(names.v, names.len, sizeof(char *), cmp_str);
		for (size_t i = 0; i < names.len; i++) {
			_cleanup_free_ char *crel =
			    *rel ? nib_path_join(rel, names.v[i]) : xstrdup(names.v[i]);
			_cleanup_free_ char *cctx =
			    *ctx_rel ? nib_path_join(ctx_rel, names.v[i]) : xstrdup(names.v[i]);
			if (hash_node(h, fd, names.v[i], crel, cctx, false, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int hash_path_item(struct hasher *h, const struct bld_copy_item *it, struct nib_error *err)
{
	const struct bld_copy_opts *o = h->p->o;
	struct bld_copy_resolved r;
	_cleanup_close_ int pfd = -1;
	_cleanup_free_ char *parent = NULL;
	const char *slash;
	int ret;

	if (bld_copy_resolve(o->src_fd, it->rel, true, &r, err) < 0)
		return -1;
	if (!r.exists) {
		bld_copy_resolved_free(&r);
		return nib_err(err, NIB_ERR_NOT_FOUND, 0, "%s source not found: %s",
			       o->add ? "ADD" : "COPY", it->src);
	}
	if (!*r.path) {
		pfd = fcntl(o->src_fd, F_DUPFD_CLOEXEC, 3);
		ret = pfd < 0 ? nib_err(err, NIB_ERR_IO, errno, "open %s", it->src)
			      : hash_node(h, pfd, ".", "", "", true, err);
		bld_copy_resolved_free(&r);
		return ret;
	}
	slash = strrchr(r.path, '/');
	parent = slash ? xstrndup(r.path, (size_t)(slash - r.path)) : xstrdup("");
	pfd = nib_open_in_root(o->src_fd, parent, O_PATH | O_DIRECTORY, 0, err);
	ret = pfd < 0 ? -1 : hash_node(h, pfd, slash ? slash + 1 : r.path, "", r.path, true, err);
	bld_copy_resolved_free(&r);
	return ret;
}

int bld_copy_plan_digest(struct bld_copy_plan *p, char out[NIB_DIGEST_LEN + 1],
			 struct nib_error *err)
{
	struct hasher h = {.p = p, .sha = nib_sha256_new()};
	int ret = -1;

	p->bytes = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct bld_copy_item *it = &p->items[i];
		char d[NIB_DIGEST_LEN + 1];

		rec_field(&h, it->kind == BLD_COPY_ITEM_PATH	  ? "path"
			      : it->kind == BLD_COPY_ITEM_HEREDOC ? "heredoc"
								  : "url");
		rec_field(&h, it->name ? it->name : "");
		rec_field(&h, it->keep ? it->keep : "");
		switch (it->kind) {
		case BLD_COPY_ITEM_PATH:
			rec_end(&h);
			if (hash_path_item(&h, it, err) < 0)
				goto out;
			break;
		case BLD_COPY_ITEM_HEREDOC:
			p->bytes += it->hd->len;
			nib_sha256_digest(it->hd->data, it->hd->len, d);
			rec_field(&h, d);
			rec_end(&h);
			break;
		case BLD_COPY_ITEM_URL:
			rec_field(&h, it->src);
			{
				struct stat ust;
				if (fstat(it->fd, &ust) == 0)
					p->bytes += (uint64_t)ust.st_size;
			}
			if (hash_fd(it->fd, d, it->src, err) < 0)
				goto out;
			rec_field(&h, d);
			rec_end(&h);
			break;
		}
	}
	nib_sha256_final(h.sha, out);
	ret = 0;
out:
	nib_sha256_free(h.sha);
	nib_buf_free(&h.rec);
	return ret;
}
