/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Images out of the store: into another OCI image layout (image-spec
 * image-layout.md) or into a docker-archive tarball (the `docker save`
 * format that `docker load` and skopeo's docker-archive: read). Every blob
 * is hashed again while it is copied.
 */
#define NIB_STORAGE_INTERNAL
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "storage/store_internal.h"

static void archive_writep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}
NIB_DEFINE_CLEANUP(struct archive_entry *, archive_entry_free)
static void archive_readp(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

/* Copy blob `d` from the store into `dstfd` (a folder) as `name`, through a
 * temp file, checking digest and size on the way. */
static int copy_blob(struct stg_store *st, const struct stg_descriptor *d, int dstfd,
		     const char *name, const char *where, struct nib_error *err)
{
	_cleanup_close_ int in = -1, out = -1;
	_cleanup_(nib_sha256_freep) struct nib_sha256 *sha = nib_sha256_new();
	_cleanup_free_ char *tmp = NULL;
	char got[NIB_DIGEST_LEN + 1], buf[1 << 16];
	int64_t total = 0;
	ssize_t n;
	struct stat s;

	if (fstatat(dstfd, name, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(s.st_mode) &&
	    s.st_size == d->size)
		return 0; /* content-addressed: already there */
	in = stg_blob_open(st, d->digest, err);
	if (in < 0)
		return -1;
	out = nib_create_tmp_at(dstfd, ".tmp-", false, 0644, &tmp);
	if (out < 0)
		return nib_err(err, NIB_ERR_IO, errno, "create %s/%s", where, tmp);
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			nib_err(err, NIB_ERR_IO, errno, "read blob %s", d->digest);
			goto fail;
		}
		nib_sha256_update(sha, buf, (size_t)n);
		total += n;
		if (nib_write_all(out, buf, (size_t)n) < 0) {
			nib_err(err, NIB_ERR_IO, errno, "write %s/%s", where, tmp);
			goto fail;
		}
	}
	nib_sha256_final(sha, got);
	if (!streq(got, d->digest) || total != d->size) {
		nib_err(err, NIB_ERR_CORRUPT, 0, "blob %s in %s: content has digest %s, %lld bytes",
			d->digest, st->path, got, (long long)total);
		goto fail;
	}
	if (fsync(out) < 0 || renameat(dstfd, tmp, dstfd, name) < 0) {
		nib_err(err, NIB_ERR_IO, errno, "write %s/%s", where, name);
		goto fail;
	}
	return 0;
fail:
	unlinkat(dstfd, tmp, 0);
	return -1;
}

static int image_for_export(struct stg_store *st, const char *ref, struct stg_image **out,
			    struct nib_error *err)
{
	if (stg_image_lookup(st, ref, out, err) < 0)
		return -1;
	for (size_t i = 0; i < (*out)->manifest->n_layers; i++)
		if (!stg_blob_exists(st, (*out)->manifest->layers[i].digest))
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "%s: layer %s is not in the store (a foreign layer?)", ref,
				       (*out)->manifest->layers[i].digest);
	return 0;
}

int stg_export_oci_layout(struct stg_store *st, const char *ref, const char *dir, const char *tag,
			  struct nib_error *err)
{
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	_cleanup_close_ int dfd = -1, bfd = -1, lfd = -1;
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	_cleanup_free_ char *blobs = nib_path_join(dir, "blobs/sha256");
	_cleanup_free_ char *data = NULL;
	_cleanup_buf_ struct nib_buf b = {0};
	struct stg_descriptor *e;
	size_t len = 0;

	if (tag && !*tag)
		tag = NULL;
	if (image_for_export(st, ref, &img, err) < 0)
		return -1;
	if (nib_mkdir_p_at(AT_FDCWD, dir, 0755, err) < 0)
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s", dir);
	if (nib_mkdir_p_at(dfd, "blobs/sha256", 0755, err) < 0)
		return nib_err_wrap(err, "%s", dir);
	bfd = openat(dfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (bfd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s", blobs);
	/* blobs first, index.json last: a reader never sees a name whose
	 * blobs are missing */
	if (copy_blob(st, &img->manifest->config, bfd, nib_digest_hex(img->id), blobs, err) < 0)
		return nib_err_wrap(err, "%s", ref);
	for (size_t i = 0; i < img->manifest->n_layers; i++)
		if (copy_blob(st, &img->manifest->layers[i], bfd,
			      nib_digest_hex(img->manifest->layers[i].digest), blobs, err) < 0)
			return nib_err_wrap(err, "%s", ref);
	if (streq(img->desc.media_type, STG_MT_DOCKER_MANIFEST)) {
		/* other tools only look at OCI manifests in an OCI layout
		 * (image-layout.md lists manifests and indexes of image-spec) */
		_cleanup_(stg_manifest_freep) struct stg_manifest *m =
		    stg_manifest_dup(img->manifest);
		_cleanup_buf_ struct nib_buf mb = {0};
		char d[NIB_DIGEST_LEN + 1];
		if (stg_manifest_convert(m, STG_FORMAT_OCI, err) < 0)
			return nib_err_wrap(err, "%s", ref);
		stg_manifest_generate(m, &mb);
		nib_sha256_digest(mb.data, mb.len, d);
		if (nib_write_file_atomic_at(bfd, nib_digest_hex(d), mb.data, mb.len, 0644, err) <
		    0)
			return nib_err_wrap(err, "%s", blobs);
		stg_descriptor_clear(&img->desc);
		img->desc.media_type = xstrdup(STG_MT_OCI_MANIFEST);
		img->desc.digest = xstrdup(d);
		img->desc.size = (int64_t)mb.len;
	} else if (copy_blob(st, &img->desc, bfd, nib_digest_hex(img->desc.digest), blobs, err) <
		   0) {
		return nib_err_wrap(err, "%s", ref);
	}

	/* another nib exporting into the same folder: serialise on the
	 * layout's index.json through a lock file of its own */
	lfd = openat(dfd, ".nib-lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (lfd < 0 || flock(lfd, LOCK_EX) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "lock %s/.nib-lock", dir);
	if (faccessat(dfd, "oci-layout", F_OK, 0) < 0 &&
	    nib_write_file_atomic_at(dfd, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}\n", 31,
				     0644, err) < 0)
		return nib_err_wrap(err, "%s", dir);
	if (nib_read_file_at(dfd, "index.json", STG_INDEX_JSON_MAX, &data, &len, NULL) == 0) {
		_cleanup_(json_object_putp) json_object *o = NULL;
		if (stg_json_parse(data, len, STG_INDEX_JSON_MAX, STG_JSON_MAX_DEPTH, &o, err) <
			0 ||
		    stg_index_from_json(o, STG_MAX_MANIFESTS, &ix, err) < 0)
			return nib_err_wrap(err, "%s/index.json", dir);
	} else {
		ix = xcalloc(1, sizeof(*ix));
		ix->schema_version = 2;
	}
	for (size_t i = 0; i < ix->n_manifests;) {
		const char *r = stg_map_get(&ix->manifests[i].annotations, STG_ANNOTATION_REF_NAME);
		bool same = tag ? (r && streq(r, tag))
				: (!r && streq(ix->manifests[i].digest, img->desc.digest));
		if (same) {
			stg_descriptor_clear(&ix->manifests[i]);
			memmove(&ix->manifests[i], &ix->manifests[i + 1],
				(ix->n_manifests - i - 1) * sizeof(*ix->manifests));
			ix->n_manifests--;
		} else {
			i++;
		}
	}
	ix->manifests = xrealloc(ix->manifests, (ix->n_manifests + 1) * sizeof(*ix->manifests));
	e = &ix->manifests[ix->n_manifests++];
	memset(e, 0, sizeof(*e));
	e->media_type = xstrdup(img->desc.media_type);
	e->digest = xstrdup(img->desc.digest);
	e->size = img->desc.size;
	if (tag)
		stg_map_set(&e->annotations, STG_ANNOTATION_REF_NAME, tag);
	if (!ix->media_type)
		ix->media_type = xstrdup(STG_MT_OCI_INDEX);
	stg_index_generate(ix, &b);
	if (nib_write_file_atomic_at(dfd, "index.json", b.data, b.len, 0644, err) < 0)
		return nib_err_wrap(err, "%s", dir);
	return 0;
}

/* ---- docker-archive -------------------------------------------------------- */

static int ar_fail(struct archive *a, const char *file, struct nib_error *err)
{
	return nib_err(err, NIB_ERR_IO, archive_errno(a) > 0 ? archive_errno(a) : 0, "write %s: %s",
		       file, archive_error_string(a) ? archive_error_string(a) : "archive error");
}

static int ar_add_data(struct archive *a, const char *file, const char *name, const void *data,
		       size_t len, struct nib_error *err)
{
	_cleanup_(archive_entry_freep) struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    archive_write_data(a, data, len) != (la_ssize_t)len)
		return ar_fail(a, file, err);
	return 0;
}

/* Uncompress layer blob `d` into the open temp file `tfd`, checking the
 * blob's digest and the uncompressed tar's digest against `diff_id`. */
static int layer_uncompress(struct stg_store *st, const struct stg_descriptor *d,
			    const char *diff_id, int tfd, int64_t *size, struct nib_error *err)
{
	_cleanup_close_ int in = stg_blob_open(st, d->digest, err);
	_cleanup_(archive_readp) struct archive *r = NULL;
	_cleanup_(nib_sha256_freep) struct nib_sha256 *sha = nib_sha256_new();
	struct archive_entry *e;
	char got[NIB_DIGEST_LEN + 1], buf[1 << 16];
	la_ssize_t n;

	if (in < 0)
		return -1;
	/* the compressed blob was verified on the way in; the diff ID check
	 * below covers the content we write */
	r = archive_read_new();
	archive_read_support_filter_all(r);
	archive_read_support_format_raw(r);
	if (archive_read_open_fd(r, in, 1 << 16) != ARCHIVE_OK ||
	    archive_read_next_header(r, &e) != ARCHIVE_OK)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "layer %s: %s", d->digest,
			       archive_error_string(r) ? archive_error_string(r) : "unreadable");
	*size = 0;
	while ((n = archive_read_data(r, buf, sizeof(buf))) != 0) {
		if (n < 0)
			return nib_err(err, NIB_ERR_CORRUPT, 0, "layer %s: %s", d->digest,
				       archive_error_string(r) ? archive_error_string(r)
							       : "unreadable");
		nib_sha256_update(sha, buf, (size_t)n);
		if (nib_write_all(tfd, buf, (size_t)n) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "write temp file in %s/nib/tmp",
				       st->path);
		*size += n;
	}
	nib_sha256_final(sha, got);
	if (diff_id && !streq(got, diff_id))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "layer %s: uncompressed digest %s does not match diff ID %s",
			       d->digest, got, diff_id);
	return 0;
}

static int ar_add_layer(struct stg_store *st, struct archive *a, const char *file,
			const struct stg_descriptor *d, const char *diff_id, const char *name,
			struct nib_error *err)
{
	_cleanup_close_ int tfd = openat(st->nib_fd, "tmp", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	_cleanup_(archive_entry_freep) struct archive_entry *e = NULL;
	char buf[1 << 16];
	int64_t size = 0;
	ssize_t n;

	if (tfd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "temp file in %s/nib/tmp", st->path);
	if (layer_uncompress(st, d, diff_id, tfd, &size, err) < 0)
		return -1;
	if (lseek(tfd, 0, SEEK_SET) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "seek temp file");
	e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, size);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		return ar_fail(a, file, err);
	while ((n = read(tfd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return nib_err(err, NIB_ERR_IO, errno, "read temp file");
		}
		if (archive_write_data(a, buf, (size_t)n) != n)
			return ar_fail(a, file, err);
	}
	return 0;
}

int stg_export_docker_archive(struct stg_store *st, const char *ref, const char *file,
			      const char *name, struct nib_error *err)
{
	_cleanup_(stg_image_freep) struct stg_image *img = NULL;
	_cleanup_(archive_writep) struct archive *a = NULL;
	_cleanup_(json_object_putp) json_object *man = json_object_new_array();
	_cleanup_free_ char *cfg = NULL, *cfgname = NULL, *tmp = NULL, *prefix = NULL;
	_cleanup_buf_ struct nib_buf mb = {0};
	_cleanup_close_ int fd = -1;
	json_object *entry, *layers, *tags;
	size_t clen = 0;
	const struct stg_manifest *m;

	if (image_for_export(st, ref, &img, err) < 0)
		return -1;
	m = img->manifest;
	if (img->config->diff_ids.len != m->n_layers)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: config has %zu diff IDs for %zu layers", ref,
			       img->config->diff_ids.len, m->n_layers);
	if (stg_blob_read(st, img->id, STG_CONFIG_MAX, &cfg, &clen, err) < 0)
		return nib_err_wrap(err, "%s", ref);
	prefix = xasprintf("%s.tmp-", file);
	fd = nib_create_tmp_at(AT_FDCWD, prefix, false, 0644, &tmp);
	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "create %s", tmp);
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		ar_fail(a, file, err);
		goto fail;
	}
	cfgname = xasprintf("%s.json", nib_digest_hex(img->id));
	if (ar_add_data(a, file, cfgname, cfg, clen, err) < 0)
		goto fail;
	entry = json_object_new_object();
	layers = json_object_new_array();
	tags = json_object_new_array();
	json_object_object_add(entry, "Config", json_object_new_string(cfgname));
	json_object_object_add(entry, "RepoTags", tags);
	json_object_object_add(entry, "Layers", layers);
	json_object_array_add(man, entry);
	if (name && *name)
		json_object_array_add(tags, json_object_new_string(name));
	for (size_t i = 0; i < m->n_layers; i++) {
		const char *diff = img->config->diff_ids.v[i];
		_cleanup_free_ char *lname = xasprintf("%s.tar", nib_digest_hex(diff));
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup = dup || streq(img->config->diff_ids.v[j], diff);
		json_object_array_add(layers, json_object_new_string(lname));
		if (!dup && ar_add_layer(st, a, file, &m->layers[i], diff, lname, err) < 0) {
			nib_err_wrap(err, "%s", ref);
			goto fail;
		}
	}
	stg_json_canonical(man, &mb);
	if (ar_add_data(a, file, "manifest.json", mb.data, mb.len, err) < 0)
		goto fail;
	if (archive_write_close(a) != ARCHIVE_OK) {
		ar_fail(a, file, err);
		goto fail;
	}
	if (fsync(fd) < 0 || rename(tmp, file) < 0) {
		nib_err(err, NIB_ERR_IO, errno, "write %s", file);
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	return -1;
}
