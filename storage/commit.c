/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Commit: a step's changes become a layer blob in one streaming pass:
 * diff -> PAX tar -> sha256 (DiffID) -> gzip|zstd (compress.c, on worker
 * threads) -> sha256 + blob writer.
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

#include "storage/compress.h"
#include "storage/diff.h"
#include "storage/layer_internal.h"

#define CHUNK (256 * 1024)

NIB_DEFINE_CLEANUP(struct archive_entry *, archive_entry_free)

/* ---- sinks: where compressed bytes go ------------------------------------- */

struct sink {
	struct stg_blob_writer *w; /* the store, or */
	int fd;			   /* a file */
	struct nib_sha256 *h;
	bool hash; /* hash here (no compression: the DiffID is the digest; the
		    * store: its writer hashes) */
	int64_t size;
};

static int sink_write(void *arg, const void *p, size_t n, struct nib_error *err)
{
	struct sink *s = arg;

	if (s->hash)
		nib_sha256_update(s->h, p, n);
	s->size += (int64_t)n;
	if (s->w)
		return stg_blob_writer_write(s->w, p, n, err);
	if (nib_write_all(s->fd, p, n) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "write the layer");
	return 0;
}

void stg_commit_opts_init(struct stg_commit_opts *o)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	uint64_t t;

	memset(o, 0, sizeof(*o));
	o->basefd = -1;
	o->timestamp = -1;
	if (sde && *sde && nib_parse_u64(sde, &t) == 0 && t <= INT64_MAX)
		o->timestamp = (int64_t)t;
}

/* ---- the tar stream ---------------------------------------------------------- */

struct pipe {
	struct compress *z;
	struct sink sink;
	struct nib_sha256 *hu;
	struct nib_error err;
	bool failed;
};

static la_ssize_t tar_out(struct archive *a, void *data, const void *buf, size_t n)
{
	struct pipe *p = data;

	if (p->failed)
		return -1;
	nib_sha256_update(p->hu, buf, n);
	if (stg_compress_write(p->z, buf, n, &p->err) < 0) {
		p->failed = true;
		archive_set_error(a, EIO, "%s", p->err.msg);
		return -1;
	}
	return (la_ssize_t)n;
}

/* hardlinks: inode -> first path written */
struct ino_path {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct writer {
	int treefd;
	const struct stg_commit_opts *o;
	struct archive *a;
	struct ino_path *links;
	size_t n_links, cap_links;
	char *data;
	struct perm_fixes fx;
	char *pdir; /* the folder of the last entry, open at pfd */
	int pfd;
};

static int tar_err(struct writer *w, const char *path, struct nib_error *err)
{
	return nib_err(err, NIB_ERR_IO, archive_errno(w->a), "write layer entry /%s: %s", path,
		       archive_error_string(w->a));
}

static uint32_t to_container(const struct stg_idmap_range *r, size_t n, bool have, uint32_t id)
{
	uint32_t v;

	if (!have)
		return id;
	return stg_idmap_to_container(r, n, id, &v) ? v : 65534;
}

/* The names of a file's xattrs, NUL-separated, in `buf` (or in a heap
 * block at *heap when they do not fit); 0 when none or unreadable. */
static size_t list_xattrs(int fd, char *buf, size_t size, char **heap)
{
	ssize_t n;

	*heap = NULL;
	if (fd < 0)
		return 0;
	n = flistxattr(fd, buf, size);
	while (n < 0 && errno == ERANGE) {
		n = flistxattr(fd, NULL, 0);
		if (n <= 0)
			return 0;
		free(*heap);
		*heap = xmalloc((size_t)n);
		n = flistxattr(fd, *heap, (size_t)n);
	}
	return n > 0 ? (size_t)n : 0;
}

static bool has_name(const char *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i += strlen(list + i) + 1)
		if (streq(list + i, name))
			return true;
	return false;
}

static void add_xattrs(int fd, const char *list, size_t n, struct archive_entry *e)
{
	_cleanup_strv_ struct nib_strv names = {0};

	for (size_t i = 0; i < n; i += strlen(list + i) + 1)
		nib_strv_push(&names, list + i);
	nib_strv_sort(&names);
	for (size_t i = 0; i < names.len; i++) {
		const char *name = names.v[i], *tname = name;
		char val[65536];
		ssize_t vl;

		if (streq(name, STG_XATTR_OVERRIDE_STAT))
			continue;
		if (nib_str_has_prefix(name, STG_XATTR_OVERRIDE_PREFIX))
			tname = name + strlen(STG_XATTR_OVERRIDE_PREFIX);
		else if (stg_layer_xattr_reserved(name))
			continue;
		vl = fgetxattr(fd, name, val, sizeof(val));
		if (vl < 0)
			continue;
		archive_entry_xattr_add_entry(e, tname, val, (size_t)vl);
	}
}

/* The folder holding `path` ("" for the top), opened without following
 * symlinks; kept open for the next entries, which are mostly its own. */
static int parent_fd(struct writer *w, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (w->pfd >= 0 && w->pdir && strlen(w->pdir) == n && memcmp(w->pdir, path, n) == 0)
		return w->pfd;
	if (w->pfd >= 0)
		close(w->pfd);
	free(w->pdir);
	w->pdir = xstrndup(path, n);
	w->pfd = n ? stg_open_nosym(w->treefd, w->pdir, O_PATH | O_DIRECTORY, 0)
		   : openat(w->treefd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return w->pfd;
}

static int write_entry(struct writer *w, const struct change *ch, struct nib_error *err)
{
	_cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
	const struct stg_idmap *m = w->o->idmap;
	int64_t mt;
	struct stat st;
	struct stg_override rec;
	_cleanup_close_ int fd = -1;
	const char *slash = strrchr(ch->path, '/'), *base = slash ? slash + 1 : ch->path;
	char xbuf[4096];
	_cleanup_free_ char *xheap = NULL;
	const char *xl = xbuf;
	size_t xn = 0;
	bool has_rec = false;
	int pfd;

	if (ch->kind == CH_WHITEOUT || ch->kind == CH_OPAQUE) {
		/* image-spec layer.md: whiteouts are empty regular files; mode 0
		 * as Docker's and buildah's layers have them */
		archive_entry_set_pathname(e, ch->path);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0);
		archive_entry_set_size(e, 0);
		archive_entry_set_mtime(e, w->o->timestamp >= 0 ? w->o->timestamp : 0, 0);
		if (archive_write_header(w->a, e) < ARCHIVE_WARN)
			return tar_err(w, ch->path, err);
		return 0;
	}
	pfd = parent_fd(w, ch->path);
	if (pfd < 0 || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "stat /%s", ch->path);
	stg_perm_fixes_lookup(&w->fx, &st);
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		fd = stg_layer_openat(
		    pfd, base, O_RDONLY | O_NOFOLLOW | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0),
		    &w->fx);
		if (fd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "open /%s", ch->path);
		/* one listing per file: most have no xattr at all */
		xn = list_xattrs(fd, xbuf, sizeof(xbuf), &xheap);
		if (xheap)
			xl = xheap;
		if (has_name(xl, xn, STG_XATTR_OVERRIDE_STAT)) {
			int r = stg_override_get(fd, &rec, err);
			if (r < 0)
				return nib_err_wrap(err, "/%s", ch->path);
			has_rec = r == 1;
		}
	} else if (S_ISLNK(st.st_mode)) {
		/* a symlink's record is on its folder */
		rec = (struct stg_override){0};
		has_rec = stg_link_owner_get(pfd, base, st.st_ino, &rec.uid, &rec.gid) == 1;
	}

	archive_entry_set_pathname(e, ch->path);
	archive_entry_set_uid(e, has_rec ? rec.uid
					 : to_container(m ? m->uids : NULL, m ? m->n_uids : 0, m,
							(uint32_t)st.st_uid));
	archive_entry_set_gid(e, has_rec ? rec.gid
					 : to_container(m ? m->gids : NULL, m ? m->n_gids : 0, m,
							(uint32_t)st.st_gid));
	archive_entry_set_perm(e, st.st_mode & 07777);
	mt = st.st_mtim.tv_sec;
	if (w->o->timestamp >= 0 && mt > w->o->timestamp)
		mt = w->o->timestamp;
	archive_entry_set_mtime(e, mt, 0);

	if (has_rec && rec.has_type && (rec.mode & S_IFMT) != (st.st_mode & S_IFMT) &&
	    S_ISREG(st.st_mode)) {
		/* an emulated device node or fifo */
		archive_entry_set_filetype(e, rec.mode & S_IFMT);
		archive_entry_set_perm(e, rec.mode & 07777);
		archive_entry_set_rdev(e, rec.rdev);
		archive_entry_set_size(e, 0);
		add_xattrs(fd, xl, xn, e);
		if (archive_write_header(w->a, e) < ARCHIVE_WARN)
			return tar_err(w, ch->path, err);
		return 0;
	}

	if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
		for (size_t i = 0; i < w->n_links; i++)
			if (w->links[i].dev == st.st_dev && w->links[i].ino == st.st_ino) {
				archive_entry_set_filetype(e, AE_IFREG);
				archive_entry_set_hardlink(e, w->links[i].path);
				archive_entry_set_size(e, 0);
				if (archive_write_header(w->a, e) < ARCHIVE_WARN)
					return tar_err(w, ch->path, err);
				return 0;
			}
		w->links = xgrow(w->links, &w->cap_links, w->n_links + 1, sizeof(*w->links));
		w->links[w->n_links++] = (struct ino_path){st.st_dev, st.st_ino, xstrdup(ch->path)};
	}

	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_size(e, st.st_size);
		break;
	case S_IFDIR:
		archive_entry_set_filetype(e, AE_IFDIR);
		break;
	case S_IFLNK: {
		char target[PATH_MAX];
		ssize_t n = readlinkat(pfd, base, target, sizeof(target) - 1);
		if (n < 0)
			return nib_err(err, NIB_ERR_IO, errno, "readlink /%s", ch->path);
		target[n] = '\0';
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_set_symlink(e, target);
		break;
	}
	case S_IFCHR:
	case S_IFBLK:
		archive_entry_set_filetype(e, st.st_mode & S_IFMT);
		archive_entry_set_rdev(e, st.st_rdev);
		break;
	case S_IFIFO:
		archive_entry_set_filetype(e, AE_IFIFO);
		break;
	default:
		return 0; /* sockets have no tar form */
	}
	add_xattrs(fd, xl, xn, e);
	if (archive_write_header(w->a, e) < ARCHIVE_WARN)
		return tar_err(w, ch->path, err);
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		int64_t left = st.st_size;
		while (left > 0) {
			ssize_t n = read(fd, w->data, (size_t)MIN(left, CHUNK));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return nib_err(err, NIB_ERR_IO, errno, "read /%s", ch->path);
			if (n == 0)
				return nib_err(err, NIB_ERR_IO, 0, "/%s shrank while committing",
					       ch->path);
			if (archive_write_data(w->a, w->data, (size_t)n) < 0)
				return tar_err(w, ch->path, err);
			left -= n;
		}
	}
	return 0;
}

static int commit(int treefd, const struct stg_commit_opts *o, struct sink *sink,
		  struct stg_layer_out *out, struct nib_error *err)
{
	struct changes ch = {0};
	struct pipe *p = xcalloc(1, sizeof(*p));
	struct writer w = {.treefd = treefd, .o = o, .pfd = -1};
	int ret = -1;

	memset(out, 0, sizeof(*out));
	p->sink = *sink;
	p->sink.hash = !p->sink.w && o->compression != STG_COMPRESS_NONE;
	p->hu = nib_sha256_new();
	w.data = xmalloc(CHUNK);
	if (stg_compress_new(o->compression, o->level, 0, sink_write, &p->sink, &p->z, err) < 0)
		goto out;
	ch.fx = &w.fx;
	if (stg_diff_collect(treefd, o, &ch, err) < 0)
		goto out;

	w.a = archive_write_new();
	archive_write_set_format_pax_restricted(w.a);
	archive_write_set_format_option(w.a, "pax", "xattrheader", "SCHILY");
	archive_write_set_bytes_per_block(w.a, 0);
	if (archive_write_open(w.a, p, NULL, tar_out, NULL) != ARCHIVE_OK) {
		nib_err(err, NIB_ERR_IO, 0, "tar: %s", archive_error_string(w.a));
		goto out;
	}
	for (size_t i = 0; i < ch.len; i++) {
		if (ch.v[i].kind == CH_SKIP)
			continue;
		if (write_entry(&w, &ch.v[i], err) < 0) {
			if (p->failed)
				nib_err_move(err, &p->err);
			goto out;
		}
		out->entries++;
	}
	if (archive_write_close(w.a) != ARCHIVE_OK) {
		if (p->failed)
			nib_err_move(err, &p->err);
		else
			nib_err(err, NIB_ERR_IO, 0, "tar: %s", archive_error_string(w.a));
		goto out;
	}
	if (stg_compress_finish(p->z, err) < 0)
		goto out;
	nib_sha256_final(p->hu, out->diff_id);
	if (o->compression == STG_COMPRESS_NONE)
		memcpy(out->digest, out->diff_id, sizeof(out->digest));
	else if (p->sink.hash)
		nib_sha256_final(p->sink.h, out->digest);
	out->size = p->sink.size;
	out->media_type = stg_compression_media_type(o->compression);
	*sink = p->sink;
	ret = 0;
out:
	if (w.a)
		archive_write_free(w.a);
	for (size_t i = 0; i < w.n_links; i++)
		free(w.links[i].path);
	free(w.links);
	free(w.data);
	free(w.pdir);
	if (w.pfd >= 0)
		close(w.pfd);
	stg_perm_fixes_restore(&w.fx);
	stg_diff_changes_free(&ch);
	stg_compress_free(p->z);
	nib_sha256_free(p->hu);
	nib_err_clear(&p->err);
	free(p);
	return ret;
}

int stg_layer_commit_fd(int treefd, const struct stg_commit_opts *o, int outfd,
			struct stg_layer_out *out, struct nib_error *err)
{
	struct sink s = {.fd = outfd, .h = nib_sha256_new()};
	int r = commit(treefd, o, &s, out, err);

	nib_sha256_free(s.h);
	return r;
}

int stg_layer_commit(struct stg_store *st, int treefd, const struct stg_commit_opts *o,
		     struct stg_layer_out *out, struct nib_error *err)
{
	_cleanup_(stg_blob_writer_freep) struct stg_blob_writer *w = NULL;
	struct sink s = {.fd = -1, .h = nib_sha256_new()};
	char digest[NIB_DIGEST_LEN + 1];
	int r;

	if (stg_blob_writer_new(st, &w, err) < 0) {
		nib_sha256_free(s.h);
		return -1;
	}
	s.w = w;
	r = commit(treefd, o, &s, out, err);
	nib_sha256_free(s.h);
	if (r < 0)
		return -1;
	/* the writer's own hash is the blob's digest (checked against the
	 * DiffID when there is no compression) */
	if (stg_blob_writer_commit(w, o->compression == STG_COMPRESS_NONE ? out->digest : NULL,
				   out->size, digest, err) < 0)
		return -1;
	memcpy(out->digest, digest, sizeof(out->digest));
	return 0;
}
