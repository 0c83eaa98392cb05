/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Images into the store from an OCI image layout (image-spec
 * image-layout.md), an oci-archive (a tar of one) or a docker-archive (the
 * `docker save` format), checked as a pull from a registry is: documents
 * against their descriptors (digest, size, media type), the manifest's and
 * the config's fields, every blob's digest and size while it is copied, a
 * docker-archive's layers against the config's diff IDs.
 *
 * Files are read from inside the layout or archive only: a layout's blobs
 * are opened without following any symlink (a symlinked blob is refused),
 * an archive is unpacked into a work folder of the store with every entry
 * confined to it (".." and absolute names, hardlinks and devices refused),
 * and a docker-archive's files are opened resolved inside that folder.
 */
#define NIB_STORAGE_INTERNAL
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/store_internal.h"

#define MAX_ENTRIES	  100000
#define MAX_INDEX_NESTING 4

static void archive_readp(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

void stg_import_result_clear(struct stg_import_result *r)
{
	stg_descriptor_clear(&r->desc);
	nib_strv_free(&r->names);
}

/* ---- reading a layout ------------------------------------------------------------ */

/* Open `path` of the layout `dfd` for reading: no symlink anywhere on the
 * way, a regular file only (a FIFO is not waited for). */
static int layout_open(int dfd, const char *where, const char *path, struct nib_error *err)
{
	_cleanup_close_ int fd = stg_open_nosym(dfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
	struct stat s;

	if (fd < 0) {
		if (errno == ELOOP || errno == EXDEV || errno == ENOTDIR)
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: %s is a symlink or leads outside the layout (refused: "
				       "a layout's files must be inside it)",
				       where, path);
		return nib_err(err, errno == ENOENT ? NIB_ERR_NOT_FOUND : NIB_ERR_IO, errno,
			       "%s: %s", where, path);
	}
	if (fstat(fd, &s) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s: %s", where, path);
	if (!S_ISREG(s.st_mode))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: %s is not a regular file", where,
			       path);
	return take_fd(&fd);
}

static int read_fd_max(int fd, const char *where, const char *path, size_t max, char **out,
		       size_t *len, struct nib_error *err)
{
	_cleanup_buf_ struct nib_buf b = {0};
	char chunk[65536];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return nib_err(err, NIB_ERR_IO, errno, "%s: read %s", where, path);
		}
		if (b.len + (size_t)n > max)
			return nib_err(err, NIB_ERR_CORRUPT, EFBIG,
				       "%s: %s is larger than the %zu bytes allowed", where, path,
				       max);
		nib_buf_append(&b, chunk, (size_t)n);
	}
	*len = b.len;
	nib_buf_putc(&b, '\0');
	*out = nib_buf_steal(&b);
	return 0;
}

static int layout_read(int dfd, const char *where, const char *path, size_t max, char **out,
		       size_t *len, struct nib_error *err)
{
	_cleanup_close_ int fd = layout_open(dfd, where, path, err);

	if (fd < 0)
		return -1;
	return read_fd_max(fd, where, path, max, out, len, err);
}

static char *blob_path(const char *digest)
{
	return xasprintf("blobs/sha256/%s", nib_digest_hex(digest));
}

static int check_sha256(const struct stg_descriptor *d, const char *where, const char *what,
			struct nib_error *err)
{
	if (!nib_str_has_prefix(d->digest, "sha256:"))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: %s %s: only sha256 digests are stored",
			       where, what, d->digest);
	return 0;
}

/* A document (manifest, index, config) of the layout, checked against its
 * descriptor: digest, size, and for manifests and indexes the media type
 * the document itself declares. */
static int layout_doc(int dfd, const char *where, const struct stg_descriptor *d, size_t max,
		      char **out, size_t *len, struct nib_error *err)
{
	_cleanup_free_ char *path = NULL, *data = NULL;
	char got[NIB_DIGEST_LEN + 1];
	size_t n = 0;

	if (check_sha256(d, where, "document", err) < 0)
		return -1;
	path = blob_path(d->digest);
	if (d->size < 0 || (uint64_t)d->size > max)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: %s has size %lld (at most %zu allowed)", where, d->digest,
			       (long long)d->size, max);
	if (layout_read(dfd, where, path, max, &data, &n, err) < 0)
		return -1;
	nib_sha256_digest(data, n, got);
	if (!streq(got, d->digest))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: %s has digest %s, not the %s its name says", where, path, got,
			       d->digest);
	if ((int64_t)n != d->size)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: %s is %zu bytes, its descriptor says %lld", where, d->digest, n,
			       (long long)d->size);
	*out = steal_pointer(&data);
	*len = n;
	return 0;
}

/* Copy blob `d` of the layout into the store unless it is there, verified
 * (digest and size) before it appears under its name. */
static int layout_blob(struct stg_store *st, int dfd, const char *where,
		       const struct stg_descriptor *d, struct nib_error *err)
{
	_cleanup_(stg_blob_writer_freep) struct stg_blob_writer *w = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	char buf[1 << 16];
	ssize_t n;

	if (check_sha256(d, where, "blob", err) < 0)
		return -1;
	if (stg_blob_size(st, d->digest) == d->size)
		return 0;
	path = blob_path(d->digest);
	fd = layout_open(dfd, where, path, err);
	if (fd < 0 || stg_blob_writer_new(st, &w, err) < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return nib_err(err, NIB_ERR_IO, errno, "%s: read %s", where, path);
		}
		if (stg_blob_writer_size(w) + n > d->size)
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: %s is larger than the %lld bytes its descriptor says",
				       where, path, (long long)d->size);
		if (stg_blob_writer_write(w, buf, (size_t)n, err) < 0)
			return -1;
	}
	if (stg_blob_writer_commit(w, d->digest, d->size, NULL, err) < 0)
		return nib_err_wrap(err, "%s: %s", where, path);
	return 0;
}

/* The index.json entry named `tag`, or the sole entry when `tag` is NULL. */
static const struct stg_descriptor *pick_entry(const struct stg_index *ix, const char *where,
					       const char *tag, struct nib_error *err)
{
	const struct stg_descriptor *found = NULL;
	_cleanup_buf_ struct nib_buf names = {0};

	for (size_t i = 0; i < ix->n_manifests; i++) {
		const char *r = stg_map_get(&ix->manifests[i].annotations, STG_ANNOTATION_REF_NAME);
		if (r && names.len < 400)
			nib_buf_printf(&names, "%s%s", names.len ? ", " : "", r);
		if (tag && r && streq(r, tag) && !found)
			found = &ix->manifests[i];
	}
	if (found)
		return found;
	if (tag) {
		nib_err(err, NIB_ERR_NOT_FOUND, 0, "%s: no image named \"%s\" in index.json (%s%s)",
			where, tag, names.len ? "it has " : "it names none",
			names.len ? names.data : "");
		return NULL;
	}
	if (ix->n_manifests == 1)
		return &ix->manifests[0];
	nib_err(err, NIB_ERR_USAGE, 0, "%s holds %zu images: name one as %s:TAG (%s%s)", where,
		ix->n_manifests, where, names.len ? "it has " : "it names none",
		names.len ? names.data : "");
	return NULL;
}

/* The manifest `entry` names, through indexes, for `want`. */
static int resolve_manifest(int dfd, const char *where, const struct stg_descriptor *entry,
			    const struct stg_platform *want, struct stg_descriptor *out_desc,
			    char **out, size_t *out_len, struct nib_error *err)
{
	struct stg_descriptor cur = {0};

	stg_descriptor_copy(&cur, entry);
	for (int depth = 0;; depth++) {
		_cleanup_free_ char *data = NULL;
		_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
		const struct stg_descriptor *next;
		const char *mt;
		size_t len = 0;

		if (depth > MAX_INDEX_NESTING) {
			nib_err(err, NIB_ERR_CORRUPT, 0, "%s: indexes nest too deeply", where);
			goto fail;
		}
		if (layout_doc(dfd, where, &cur, STG_MANIFEST_MAX, &data, &len, err) < 0)
			goto fail;
		mt = stg_doc_media_type(data, len);
		if (!mt || !streq(mt, cur.media_type)) {
			nib_err(err, NIB_ERR_CORRUPT, 0,
				"%s: %s is a \"%s\" document, its descriptor says \"%s\"", where,
				cur.digest, mt ? mt : "unknown", cur.media_type);
			goto fail;
		}
		if (stg_media_type_is_manifest(mt)) {
			*out = steal_pointer(&data);
			*out_len = len;
			*out_desc = cur;
			return 0;
		}
		if (stg_index_parse(data, len, &ix, err) < 0) {
			nib_err_wrap(err, "%s: index %s", where, cur.digest);
			goto fail;
		}
		next = stg_index_pick(ix, want);
		if (!next) {
			_cleanup_free_ char *ws = stg_platform_want_string(want),
					    *avail = stg_index_platforms(ix);
			nib_err(err, NIB_ERR_NOT_FOUND, 0, "%s: no image for %s (it has %s)", where,
				ws, avail);
			goto fail;
		}
		struct stg_descriptor tmp;
		stg_descriptor_copy(&tmp, next);
		stg_descriptor_clear(&cur);
		cur = tmp;
	}
fail:
	stg_descriptor_clear(&cur);
	return -1;
}

static int import_layout_fd(struct stg_store *st, int dfd, const char *where, const char *tag,
			    const struct stg_platform *want, struct stg_import_result *res,
			    struct nib_error *err)
{
	_cleanup_free_ char *lay = NULL, *idx = NULL, *mdata = NULL, *cdata = NULL;
	_cleanup_(json_object_putp) json_object *o = NULL;
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	_cleanup_(stg_manifest_freep) struct stg_manifest *m = NULL;
	_cleanup_(stg_config_freep) struct stg_image_config *cfg = NULL;
	struct stg_descriptor md = {0};
	const struct stg_descriptor *entry;
	size_t len = 0, mlen = 0, clen = 0;
	const char *r;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	if (layout_read(dfd, where, "oci-layout", 4096, &lay, &len, err) < 0)
		return nib_err_wrap(err, "not an OCI image layout");
	if (!strstr(lay, "\"imageLayoutVersion\""))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: oci-layout has no imageLayoutVersion",
			       where);
	if (layout_read(dfd, where, "index.json", STG_INDEX_JSON_MAX, &idx, &len, err) < 0)
		return -1;
	if (stg_json_parse(idx, len, STG_INDEX_JSON_MAX, STG_JSON_MAX_DEPTH, &o, err) < 0 ||
	    stg_index_from_json(o, STG_MAX_MANIFESTS, &ix, err) < 0)
		return nib_err_wrap(err, "%s: index.json", where);
	entry = pick_entry(ix, where, tag, err);
	if (!entry)
		return -1;
	if (resolve_manifest(dfd, where, entry, want, &md, &mdata, &mlen, err) < 0)
		return -1;
	if (stg_manifest_parse(mdata, mlen, &m, err) < 0) {
		nib_err_wrap(err, "%s: manifest %s", where, md.digest);
		goto out;
	}
	if (!streq(m->config.media_type, STG_MT_OCI_CONFIG) &&
	    !streq(m->config.media_type, STG_MT_DOCKER_CONFIG)) {
		nib_err(err, NIB_ERR_CORRUPT, 0,
			"%s: manifest %s: config media type \"%s\" is not an image config", where,
			md.digest, m->config.media_type);
		goto out;
	}
	if (layout_doc(dfd, where, &m->config, STG_CONFIG_MAX, &cdata, &clen, err) < 0)
		goto out;
	if (stg_config_parse(cdata, clen, &cfg, err) < 0) {
		nib_err_wrap(err, "%s: config %s", where, m->config.digest);
		goto out;
	}
	if (cfg->diff_ids.len != m->n_layers) {
		nib_err(err, NIB_ERR_CORRUPT, 0, "%s: config %s has %zu diff IDs for %zu layers",
			where, m->config.digest, cfg->diff_ids.len, m->n_layers);
		goto out;
	}
	for (size_t i = 0; i < m->n_layers; i++)
		if (layout_blob(st, dfd, where, &m->layers[i], err) < 0)
			goto out;
	/* documents last: once the manifest is stored, all it names is */
	if (stg_blob_put(st, cdata, clen, m->config.digest, NULL, err) < 0 ||
	    stg_blob_put(st, mdata, mlen, md.digest, NULL, err) < 0)
		goto out;
	r = stg_map_get(&entry->annotations, STG_ANNOTATION_REF_NAME);
	if (r)
		nib_strv_push(&res->names, r);
	res->desc.media_type = xstrdup(md.media_type);
	res->desc.digest = xstrdup(md.digest);
	res->desc.size = md.size;
	ret = 0;
out:
	stg_descriptor_clear(&md);
	return ret;
}

int stg_import_oci_layout(struct stg_store *st, const char *dir, const char *tag,
			  const struct stg_platform *want, struct stg_import_result *res,
			  struct nib_error *err)
{
	_cleanup_free_ char *where = xasprintf("oci:%s", dir);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	memset(res, 0, sizeof(*res));
	if (dfd < 0)
		return nib_err(err, errno == ENOENT ? NIB_ERR_NOT_FOUND : NIB_ERR_IO, errno, "%s",
			       where);
	return import_layout_fd(st, dfd, where, tag, want, res, err);
}

/* ---- unpacking an archive ----------------------------------------------------------- */

/* A work folder under nib/tmp for an archive's content. */
struct workdir {
	int nib_fd;
	char name[64];
	int fd;
};

static void workdir_done(struct workdir *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->name[0])
		nib_rm_rf_at(w->nib_fd, w->name, NULL);
}

static int workdir_make(struct stg_store *st, struct workdir *w, struct nib_error *err)
{
	static unsigned long counter;

	w->nib_fd = st->nib_fd;
	w->fd = -1;
	for (int tries = 0; tries < 100; tries++) {
		snprintf(w->name, sizeof(w->name), "tmp/import-%d-%lu", (int)getpid(),
			 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
		if (mkdirat(st->nib_fd, w->name, 0700) == 0)
			break;
		if (errno != EEXIST) {
			w->name[0] = '\0';
			return nib_err(err, NIB_ERR_IO, errno, "mkdir %s/nib/tmp/import-*",
				       st->path);
		}
	}
	w->fd = openat(st->nib_fd, w->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (w->fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s/nib/%s", st->path, w->name);
	return 0;
}

/* An entry name as a clean relative path, or NULL when it leads outside. */
static char *entry_path(const char *name)
{
	_cleanup_free_ char *clean = NULL;

	if (!name || !*name || name[0] == '/')
		return NULL;
	clean = nib_path_clean(name);
	if (streq(clean, ".") || !nib_path_is_below(clean))
		return NULL;
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return NULL; /* any "..", even one that stays inside */
		p += n;
		p += *p == '/';
	}
	return steal_pointer(&clean);
}

static int unpack_file(struct archive *a, int parentfd, const char *base, const char *what,
		       const char *path, uint64_t *total, uint64_t max, struct nib_error *err)
{
	_cleanup_close_ int fd =
	    openat(parentfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	const void *buf;
	size_t n;
	la_int64_t off;
	int r;

	if (fd < 0)
		return nib_err(err, NIB_ERR_CORRUPT, errno, "%s: entry %s%s", what, path,
			       errno == EEXIST ? " appears twice" : "");
	while ((r = archive_read_data_block(a, &buf, &n, &off)) == ARCHIVE_OK) {
		*total += n;
		if (max && *total > max)
			return nib_err(err, NIB_ERR_CORRUPT, EFBIG,
				       "%s: more than %llu bytes (NIB_LAYER_MAX_SIZE)", what,
				       (unsigned long long)max);
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			return nib_err(err, NIB_ERR_IO, errno, "%s: write %s", what, path);
	}
	if (r != ARCHIVE_EOF)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: %s: %s", what, path,
			       archive_error_string(a) ?: "unreadable");
	return 0;
}

/* Unpack the tar `file` into `rootfd`: folders, regular files and symlinks
 * (read later only through paths resolved inside the folder); names with
 * "..", absolute names, hardlinks, devices and FIFOs are refused. */
static int unpack_archive(const char *file, int rootfd, const char *what, struct nib_error *err)
{
	_cleanup_(archive_readp) struct archive *a = archive_read_new();
	struct stg_layer_limits lim;
	struct archive_entry *e;
	uint64_t total = 0, entries = 0;
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat s;
	int r;

	if (fd < 0)
		return nib_err(err, errno == ENOENT ? NIB_ERR_NOT_FOUND : NIB_ERR_IO, errno, "%s",
			       what);
	if (fstat(fd, &s) < 0 || !S_ISREG(s.st_mode))
		return nib_err(err, NIB_ERR_USAGE, 0, "%s: not a regular file", what);
	stg_layer_limits_default(&lim);
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: %s", what,
			       archive_error_string(a) ?: "not a tar archive");
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		_cleanup_free_ char *path = entry_path(archive_entry_pathname(e));
		_cleanup_free_ char *dir = NULL;
		_cleanup_close_ int pfd = -1;
		const char *slash, *base;
		mode_t type = archive_entry_filetype(e);

		if (++entries > MAX_ENTRIES)
			return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: more than %d entries", what,
				       MAX_ENTRIES);
		if (!path) {
			const char *name = archive_entry_pathname(e);
			if (name && (streq(name, ".") || streq(name, "./")))
				continue;
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: entry \"%.200s\" leads outside the archive (refused)",
				       what, name ? name : "");
		}
		if (archive_entry_hardlink(e))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: entry %s is a hardlink (refused)", what, path);
		if (type == AE_IFDIR) {
			_cleanup_close_ int dfd = nib_mkdir_in_root(rootfd, path, 0700, err);
			if (dfd < 0)
				return nib_err_wrap(err, "%s", what);
			continue;
		}
		if (type != AE_IFREG && type != AE_IFLNK)
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: entry %s is not a file, folder or symlink (refused)",
				       what, path);
		slash = strrchr(path, '/');
		base = slash ? slash + 1 : path;
		dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
		pfd = streq(dir, ".") ? fcntl(rootfd, F_DUPFD_CLOEXEC, 3)
				      : nib_mkdir_in_root(rootfd, dir, 0700, err);
		if (pfd < 0)
			return nib_err_wrap(err, "%s", what);
		if (type == AE_IFLNK) {
			const char *target = archive_entry_symlink(e);
			if (!target || symlinkat(target, pfd, base) < 0)
				return nib_err(err, NIB_ERR_CORRUPT, errno, "%s: entry %s", what,
					       path);
			continue;
		}
		if (unpack_file(a, pfd, base, what, path, &total, lim.max_size, err) < 0)
			return -1;
	}
	if (r != ARCHIVE_EOF)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: %s", what,
			       archive_error_string(a) ?: "unreadable tar archive");
	if (entries == 0)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: an empty archive", what);
	return 0;
}

int stg_import_oci_archive(struct stg_store *st, const char *file, const char *tag,
			   const struct stg_platform *want, struct stg_import_result *res,
			   struct nib_error *err)
{
	_cleanup_free_ char *where = xasprintf("oci-archive:%s", file);
	struct workdir w = {0};
	int ret;

	memset(res, 0, sizeof(*res));
	if (workdir_make(st, &w, err) < 0)
		return -1;
	ret = unpack_archive(file, w.fd, where, err);
	if (ret == 0)
		ret = import_layout_fd(st, w.fd, where, tag, want, res, err);
	workdir_done(&w);
	return ret;
}

/* ---- docker-archive ----------------------------------------------------------------- */

/* One image of manifest.json. */
struct dar_image {
	const char *config;
	json_object *tags, *layers;
};

static int dar_entry(json_object *e, size_t i, const char *where, struct dar_image *out,
		     struct nib_error *err)
{
	json_object *c = NULL;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(e, json_type_object) ||
	    !json_object_object_get_ex(e, "Config", &c) ||
	    !json_object_is_type(c, json_type_string) ||
	    !json_object_object_get_ex(e, "Layers", &out->layers) ||
	    !json_object_is_type(out->layers, json_type_array))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: manifest.json[%zu] needs Config (a string) and Layers (an "
			       "array)",
			       where, i);
	out->config = json_object_get_string(c);
	if (json_object_object_get_ex(e, "RepoTags", &out->tags) && out->tags &&
	    !json_object_is_type(out->tags, json_type_array))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: manifest.json[%zu].RepoTags", where,
			       i);
	for (size_t k = 0; out->tags && k < json_object_array_length(out->tags); k++)
		if (!json_object_is_type(json_object_array_get_idx(out->tags, k), json_type_string))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: manifest.json[%zu].RepoTags[%zu] is not a string",
				       where, i, k);
	return 0;
}

/* The digest a file name promises: "HEX.json", "HEX.tar", "blobs/sha256/HEX". */
static bool named_digest(const char *path, char out[NIB_DIGEST_LEN + 1])
{
	const char *base = strrchr(path, '/');
	char d[NIB_DIGEST_LEN + 1];

	base = base ? base + 1 : path;
	snprintf(d, sizeof(d), "sha256:%.64s", base);
	if (strlen(base) < 64 || !nib_digest_valid(d))
		return false;
	if (base[64] && !streq(base + 64, ".json") && !streq(base + 64, ".tar"))
		return false;
	memcpy(out, d, sizeof(d));
	return true;
}

/* Open a file the archive's manifest.json names, resolved inside it. */
static int dar_open(int rootfd, const char *where, const char *what, const char *name,
		    struct nib_error *err)
{
	_cleanup_free_ char *path = entry_path(name);
	_cleanup_close_ int fd = -1;
	struct stat s;

	if (!path)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: manifest.json: %s \"%.200s\" leads outside the archive", where,
			       what, name);
	fd = nib_open_in_root(rootfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0, err);
	if (fd < 0)
		return nib_err_wrap(err, "%s: %s %s", where, what, path);
	if (fstat(fd, &s) < 0 || !S_ISREG(s.st_mode))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: %s %s is not a regular file", where,
			       what, path);
	return take_fd(&fd);
}

/* Hash `fd` (uncompressed through libarchive's filters) into `out`. */
static int uncompressed_digest(int fd, const char *where, const char *path,
			       char out[NIB_DIGEST_LEN + 1], struct nib_error *err)
{
	_cleanup_(archive_readp) struct archive *a = archive_read_new();
	_cleanup_(nib_sha256_freep) struct nib_sha256 *sha = nib_sha256_new();
	struct archive_entry *e;
	char buf[1 << 16];
	la_ssize_t n;

	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_fd(a, fd, 1 << 16) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: layer %s: %s", where, path,
			       archive_error_string(a) ?: "unreadable");
	while ((n = archive_read_data(a, buf, sizeof(buf))) != 0) {
		if (n < 0)
			return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: layer %s: %s", where, path,
				       archive_error_string(a) ?: "unreadable");
		nib_sha256_update(sha, buf, (size_t)n);
	}
	nib_sha256_final(sha, out);
	return 0;
}

/* Store layer `name` of the archive, checked against its diff ID: an
 * uncompressed tar is stored as it is (its digest is the diff ID), a
 * gzip or zstd one after its uncompressed digest was checked. */
static int dar_layer(struct stg_store *st, int rootfd, const char *where, const char *name,
		     const char *diff_id, struct stg_descriptor *out, struct nib_error *err)
{
	_cleanup_close_ int fd = dar_open(rootfd, where, "layer", name, err);
	_cleanup_(stg_blob_writer_freep) struct stg_blob_writer *w = NULL;
	unsigned char magic[4] = {0};
	char buf[1 << 16], got[NIB_DIGEST_LEN + 1];
	const char *expect = NULL;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, magic, sizeof(magic), 0);
	if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
		out->media_type = xstrdup(STG_MT_OCI_LAYER_GZIP);
	else if (n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f &&
		 magic[3] == 0xfd)
		out->media_type = xstrdup(STG_MT_OCI_LAYER_ZSTD);
	else
		out->media_type = xstrdup(STG_MT_OCI_LAYER);
	if (streq(out->media_type, STG_MT_OCI_LAYER)) {
		expect = diff_id;
		if (stg_blob_exists(st, diff_id)) {
			out->digest = xstrdup(diff_id);
			out->size = stg_blob_size(st, diff_id);
			return 0;
		}
	} else {
		if (uncompressed_digest(fd, where, name, got, err) < 0)
			return -1;
		if (!streq(got, diff_id))
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: layer %s: uncompressed digest %s, the config's diff ID "
				       "is %s",
				       where, name, got, diff_id);
		if (lseek(fd, 0, SEEK_SET) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "%s: layer %s", where, name);
	}
	if (stg_blob_writer_new(st, &w, err) < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return nib_err(err, NIB_ERR_IO, errno, "%s: read layer %s", where, name);
		}
		if (stg_blob_writer_write(w, buf, (size_t)n, err) < 0)
			return -1;
	}
	out->size = stg_blob_writer_size(w);
	if (stg_blob_writer_commit(w, expect, -1, got, err) < 0) {
		if (expect)
			return nib_err(err, NIB_ERR_CORRUPT, 0,
				       "%s: layer %s does not match the config's diff ID %s", where,
				       name, diff_id);
		return -1;
	}
	out->digest = xstrdup(got);
	return 0;
}

static int import_docker_fd(struct stg_store *st, int rootfd, const char *where,
			    const struct stg_import_select *sel, struct stg_import_result *res,
			    struct nib_error *err)
{
	_cleanup_free_ char *mdata = NULL, *cdata = NULL;
	_cleanup_(json_object_putp) json_object *doc = NULL;
	_cleanup_(stg_config_freep) struct stg_image_config *cfg = NULL;
	_cleanup_close_ int cfd = -1;
	_cleanup_buf_ struct nib_buf mj = {0};
	struct stg_manifest m = {0};
	struct dar_image img = {0};
	char cdigest[NIB_DIGEST_LEN + 1], named[NIB_DIGEST_LEN + 1];
	size_t mlen = 0, clen = 0, n, pick = SIZE_MAX;
	int ret = -1;

	if (nib_read_regular_in_root(rootfd, "manifest.json", NULL, STG_MANIFEST_MAX, &mdata, &mlen,
				     err) < 0)
		return nib_err_wrap(err, "%s: not a docker-archive", where);
	if (stg_json_parse(mdata, mlen, STG_MANIFEST_MAX, STG_JSON_MAX_DEPTH, &doc, err) < 0)
		return nib_err_wrap(err, "%s: manifest.json", where);
	if (!json_object_is_type(doc, json_type_array) || json_object_array_length(doc) == 0)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: manifest.json lists no image", where);
	n = json_object_array_length(doc);
	for (size_t i = 0; i < n; i++) {
		struct dar_image cand;
		if (dar_entry(json_object_array_get_idx(doc, i), i, where, &cand, err) < 0)
			return -1;
		if (sel && sel->index >= 0) {
			if ((size_t)sel->index == i)
				pick = i;
			continue;
		}
		for (size_t k = 0; sel && sel->match && cand.tags &&
				   k < json_object_array_length(cand.tags) && pick == SIZE_MAX;
		     k++)
			if (sel->match(sel->data, json_object_get_string(
						      json_object_array_get_idx(cand.tags, k))))
				pick = i;
	}
	if (pick == SIZE_MAX) {
		if (sel && sel->index >= 0)
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "%s: no image @%d (the archive has %zu)", where, sel->index,
				       n);
		if (sel && sel->match)
			return nib_err(err, NIB_ERR_NOT_FOUND, 0, "%s: no image named %s", where,
				       sel->name ? sel->name : "so");
		if (n > 1)
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "%s holds %zu images: name one as %s:REF or %s:@N", where, n,
				       where, where);
		pick = 0;
	}
	dar_entry(json_object_array_get_idx(doc, pick), pick, where, &img, NULL);

	cfd = dar_open(rootfd, where, "config", img.config, err);
	if (cfd < 0 || read_fd_max(cfd, where, img.config, STG_CONFIG_MAX, &cdata, &clen, err) < 0)
		return -1;
	nib_sha256_digest(cdata, clen, cdigest);
	if (named_digest(img.config, named) && !streq(named, cdigest))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: config %s has digest %s", where,
			       img.config, cdigest);
	if (stg_config_parse(cdata, clen, &cfg, err) < 0)
		return nib_err_wrap(err, "%s: config %s", where, img.config);
	m.n_layers = json_object_array_length(img.layers);
	if (cfg->diff_ids.len != m.n_layers)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: config has %zu diff IDs for %zu layers", where,
			       cfg->diff_ids.len, m.n_layers);
	if (m.n_layers > STG_MAX_LAYERS)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: more than %d layers", where,
			       STG_MAX_LAYERS);
	m.layers = xcalloc(m.n_layers + 1, sizeof(*m.layers));
	for (size_t i = 0; i < m.n_layers; i++) {
		json_object *l = json_object_array_get_idx(img.layers, i);
		if (!json_object_is_type(l, json_type_string)) {
			nib_err(err, NIB_ERR_CORRUPT, 0, "%s: manifest.json: Layers[%zu]", where,
				i);
			goto out;
		}
		if (dar_layer(st, rootfd, where, json_object_get_string(l), cfg->diff_ids.v[i],
			      &m.layers[i], err) < 0)
			goto out;
	}
	if (stg_blob_put(st, cdata, clen, cdigest, NULL, err) < 0)
		goto out;
	m.schema_version = 2;
	m.media_type = xstrdup(STG_MT_OCI_MANIFEST);
	m.config.media_type = xstrdup(STG_MT_OCI_CONFIG);
	m.config.digest = xstrdup(cdigest);
	m.config.size = (int64_t)clen;
	stg_manifest_generate(&m, &mj);
	res->desc.media_type = xstrdup(STG_MT_OCI_MANIFEST);
	res->desc.digest = xcalloc(1, NIB_DIGEST_LEN + 1);
	res->desc.size = (int64_t)mj.len;
	if (stg_blob_put(st, mj.data, mj.len, NULL, res->desc.digest, err) < 0)
		goto out;
	for (size_t k = 0; img.tags && k < json_object_array_length(img.tags); k++)
		nib_strv_push(&res->names,
			      json_object_get_string(json_object_array_get_idx(img.tags, k)));
	ret = 0;
out:
	free(m.media_type);
	stg_descriptor_clear(&m.config);
	for (size_t i = 0; i < m.n_layers; i++)
		stg_descriptor_clear(&m.layers[i]);
	free(m.layers);
	if (ret < 0)
		stg_import_result_clear(res);
	return ret;
}

int stg_import_docker_archive(struct stg_store *st, const char *file,
			      const struct stg_import_select *sel, struct stg_import_result *res,
			      struct nib_error *err)
{
	_cleanup_free_ char *where = xasprintf("docker-archive:%s", file);
	struct workdir w = {0};
	int ret;

	memset(res, 0, sizeof(*res));
	if (workdir_make(st, &w, err) < 0)
		return -1;
	ret = unpack_archive(file, w.fd, where, err);
	if (ret == 0)
		ret = import_docker_fd(st, w.fd, where, sel, res, err);
	workdir_done(&w);
	return ret;
}
