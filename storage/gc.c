/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Garbage collection of the blob store: mark what index.json and
 * nib/gcroots reach (manifests, indexes, configs, layers, subjects, source
 * manifests of images converted on pull), sweep the rest. Runs only when
 * no other process has the root open: every open store holds nib/gc.lock
 * shared, the collector takes it exclusively, so a blob written but not
 * yet named by index.json is never collected.
 */
#define NIB_STORAGE_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "storage/store_internal.h"

struct mark {
	struct nib_strv live;	/* sorted after marking */
	struct nib_strv chains; /* chain IDs (hex) of every reachable config */
};

/* Chain IDs of a config blob's layers (image-spec config.md: ChainID). */
static void mark_chains(struct stg_store *st, struct mark *m, const char *config_digest)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_(stg_config_freep) struct stg_image_config *c = NULL;
	char chain[NIB_DIGEST_LEN + 1] = "";
	size_t len = 0;

	if (stg_blob_read(st, config_digest, STG_CONFIG_MAX, &data, &len, NULL) < 0 ||
	    stg_config_parse(data, len, &c, NULL) < 0)
		return;
	for (size_t i = 0; i < c->diff_ids.len; i++) {
		char next[NIB_DIGEST_LEN + 1];
		stg_chain_id(i ? chain : NULL, c->diff_ids.v[i], next);
		memcpy(chain, next, sizeof(chain));
		if (nib_strv_find(&m->chains, nib_digest_hex(chain)) < 0)
			nib_strv_push(&m->chains, nib_digest_hex(chain));
	}
}

static void mark_digest(struct stg_store *st, struct mark *m, const char *digest,
			const char *media_type, int depth);

static void mark_descriptor(struct stg_store *st, struct mark *m, const struct stg_descriptor *d,
			    int depth)
{
	mark_digest(st, m, d->digest, d->media_type, depth);
}

/* Mark a blob and, for documents, what they reference. Unreadable documents
 * keep what was marked so far: gc never fails because of a corrupt image. */
static void mark_digest(struct stg_store *st, struct mark *m, const char *digest,
			const char *media_type, int depth)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;

	if (!digest || nib_strv_find(&m->live, digest) >= 0)
		return;
	nib_strv_push(&m->live, digest);
	if (depth > 8)
		return;
	if (media_type && !stg_media_type_is_manifest(media_type) &&
	    !stg_media_type_is_index(media_type))
		return;
	if (!stg_blob_exists(st, digest) || stg_blob_size(st, digest) > STG_MANIFEST_MAX)
		return;
	if (stg_blob_read(st, digest, STG_MANIFEST_MAX, &data, &len, NULL) < 0)
		return;
	const char *mt = stg_doc_media_type(data, len);
	if (stg_media_type_is_manifest(mt)) {
		_cleanup_(stg_manifest_freep) struct stg_manifest *man = NULL;
		if (stg_manifest_parse(data, len, &man, NULL) < 0)
			return;
		mark_descriptor(st, m, &man->config, depth + 1);
		mark_chains(st, m, man->config.digest);
		for (size_t i = 0; i < man->n_layers; i++)
			mark_descriptor(st, m, &man->layers[i], depth + 1);
		if (man->subject)
			mark_descriptor(st, m, man->subject, depth + 1);
	} else if (stg_media_type_is_index(mt)) {
		_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
		if (stg_index_parse(data, len, &ix, NULL) < 0)
			return;
		for (size_t i = 0; i < ix->n_manifests; i++)
			mark_descriptor(st, m, &ix->manifests[i], depth + 1);
		if (ix->subject)
			mark_descriptor(st, m, ix->subject, depth + 1);
	}
}

static int mark_gcroots(struct stg_store *st, struct mark *m, struct nib_error *err)
{
	int fd = openat(st->nib_fd, STG_GCROOTS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (fd < 0)
		return errno == ENOENT ? 0
				       : nib_err(err, NIB_ERR_IO, errno, "%s/nib/%s", st->path,
						 STG_GCROOTS_DIR);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return nib_err(err, NIB_ERR_IO, errno, "%s/nib/%s", st->path, STG_GCROOTS_DIR);
	}
	while ((de = readdir(d))) {
		_cleanup_free_ char *data = NULL;
		if (de->d_name[0] == '.')
			continue;
		if (nib_read_file_at(dirfd(d), de->d_name, 16u << 20, &data, NULL, NULL) < 0)
			continue;
		for (char *save = NULL, *line = strtok_r(data, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			if (nib_digest_valid(line))
				mark_digest(st, m, line, NULL, 0);
	}
	return 0;
}

static int sweep(struct stg_store *st, struct mark *m, struct stg_gc_stats *stats,
		 struct nib_error *err)
{
	int fd = dup(st->blobs_fd);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	_cleanup_strv_ struct nib_strv names = {0};

	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s/blobs/sha256", st->path);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return nib_err(err, NIB_ERR_IO, errno, "%s/blobs/sha256", st->path);
	}
	rewinddir(d); /* the dup shares its offset with the store's fd */
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			nib_strv_push(&names, de->d_name);
	for (size_t i = 0; i < names.len; i++) {
		const char *n = names.v[i];
		_cleanup_free_ char *digest = xasprintf("sha256:%s", n);
		struct stat s;
		bool temp = nib_str_has_prefix(n, ".tmp-");

		if (!temp && nib_strv_find(&m->live, digest) >= 0) {
			stats->blobs_kept++;
			continue;
		}
		if (fstatat(st->blobs_fd, n, &s, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (unlinkat(st->blobs_fd, n, 0) < 0 && errno != ENOENT)
			return nib_err(err, NIB_ERR_IO, errno, "remove %s/blobs/sha256/%s",
				       st->path, n);
		if (temp) {
			stats->temps_removed++;
		} else {
			stats->blobs_removed++;
			stats->bytes_removed += s.st_size;
			log_debug("gc: removed blob %s", digest);
		}
	}
	return 0;
}

static bool hex64(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == NIB_SHA256_HEX_LEN;
}

/* Remove `name` from folder `dfd` (`where` in messages). A tree a user
 * namespace made (files of the build's other IDs) may not be removable
 * from outside it: warned about, not an error. */
static bool remove_layer(int dfd, const char *name, const char *where)
{
	struct nib_error e = {0};
	bool ok = nib_rm_rf_at(dfd, name, &e) == 0;

	if (!ok)
		log_warn("gc: %s/%s stays: %s", where, name, e.msg);
	nib_err_clear(&e);
	return ok;
}

/* Extracted layers whose chain ID no reachable image has, in
 * nib/layers/FORM-TAG/ (and the flat nib/layers/ of older roots), and
 * extractions a killed process left (.tmp-*: no other process has the
 * root open now). */
static int sweep_layers_in(struct stg_store *st, int dfd, const char *where, bool top,
			   struct mark *m, struct stg_gc_stats *stats, struct nib_error *err)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_strv_ struct nib_strv dead = {0}, forms = {0};
	struct dirent *de;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return nib_err(err, NIB_ERR_IO, errno, "%s", where);
	}
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (hex64(de->d_name) ? nib_strv_find(&m->chains, de->d_name) < 0
				      : !top && nib_str_has_prefix(de->d_name, ".tmp-"))
			nib_strv_push(&dead, de->d_name);
		else if (top && !hex64(de->d_name) && de->d_type == DT_DIR)
			nib_strv_push(&forms, de->d_name);
	}
	for (size_t i = 0; i < dead.len; i++)
		if (remove_layer(dirfd(d), dead.v[i], where) && hex64(dead.v[i]))
			stats->layers_removed++;
	for (size_t i = 0; i < forms.len; i++) {
		_cleanup_close_ int ffd =
		    openat(dirfd(d), forms.v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_free_ char *w = xasprintf("%s/%s", where, forms.v[i]);
		if (ffd >= 0 && sweep_layers_in(st, ffd, w, false, m, stats, err) < 0)
			return -1;
	}
	return 0;
}

static int sweep_layers(struct stg_store *st, struct mark *m, struct stg_gc_stats *stats,
			struct nib_error *err)
{
	_cleanup_close_ int fd =
	    openat(st->nib_fd, "layers", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	_cleanup_free_ char *where = xasprintf("%s/nib/layers", st->path);

	if (fd < 0)
		return errno == ENOENT ? 0 : nib_err(err, NIB_ERR_IO, errno, "%s", where);
	return sweep_layers_in(st, fd, where, true, m, stats, err);
}

/* Leftovers of writers that died: index.json temp files and work folders. */
static int sweep_tmp(struct stg_store *st, struct stg_gc_stats *stats, struct nib_error *err)
{
	int fd = dup(st->dirfd);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return nib_err(err, NIB_ERR_IO, errno, "%s", st->path);
	}
	rewinddir(d);
	while ((de = readdir(d)))
		if (nib_str_has_prefix(de->d_name, "index.json.tmp-") &&
		    unlinkat(st->dirfd, de->d_name, 0) == 0)
			stats->temps_removed++;
	if (nib_rm_rf_at(st->nib_fd, "tmp", err) < 0 ||
	    nib_mkdir_p_at(st->nib_fd, "tmp", 0700, err) < 0)
		return nib_err_wrap(err, "%s/nib", st->path);
	return 0;
}

int stg_store_gc(struct stg_store *st, bool wait, struct stg_gc_stats *stats, bool *busy,
		 struct nib_error *err)
{
	struct stg_gc_stats local = {0};
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	struct mark m = {0};
	int ret = -1;

	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (busy)
		*busy = false;
	/* shared -> exclusive: every other open store must be gone */
	while (flock(st->gc_fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			if (busy)
				*busy = true;
			log_debug("gc: %s is in use by another process; skipped", st->path);
			/* flock conversion may have dropped the shared lock */
			(void)flock(st->gc_fd, LOCK_SH);
			return 0;
		}
		return nib_err(err, NIB_ERR_IO, errno, "lock %s/nib/gc.lock", st->path);
	}
	if (stg_store_index_load(st, &ix, err) < 0)
		goto out;
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const char *src =
		    stg_map_get(&ix->manifests[i].annotations, STG_ANNOTATION_SOURCE_DIGEST);
		mark_descriptor(st, &m, &ix->manifests[i], 0);
		/* the registry's manifest of an image converted on pull */
		if (src && nib_digest_valid(src))
			mark_digest(st, &m, src, NULL, 0);
	}
	if (mark_gcroots(st, &m, err) < 0)
		goto out;
	nib_strv_sort(&m.live);
	if (sweep(st, &m, stats, err) < 0 || sweep_tmp(st, stats, err) < 0 ||
	    sweep_layers(st, &m, stats, err) < 0)
		goto out;
	ret = 0;
out:
	nib_strv_free(&m.live);
	nib_strv_free(&m.chains);
	(void)flock(st->gc_fd, LOCK_SH);
	return ret;
}
