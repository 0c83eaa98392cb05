/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local build cache: one small file per step key in nib/cache/, named by
 * the key's hex, written atomically. A key chains the parent's identity with
 * everything that decides the step's result (builder/build_key.c), so a
 * lookup is one open and read: a rebuild of twenty cached steps costs a few
 * milliseconds. Layers the cache names are kept alive for the garbage
 * collector by nib/gcroots/build-cache.
 */
#define BLD_BUILD_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/build_internal.h"

/* A cache entry nib cannot read is a miss, with a warning. */
static int malformed(struct bld_build *b, const char *path)
{
	log_warn("build cache: %s/nib/%s: malformed entry, ignored", stg_store_path(b->st), path);
	return 0;
}

int bld_cache_get(struct bld_build *b, const char *key, struct bld_cache_entry *e)
{
	_cleanup_free_ char *path = xasprintf("cache/%s", nib_digest_hex(key)), *data = NULL;
	char digest[NIB_DIGEST_LEN + 8], diff[NIB_DIGEST_LEN + 8], mt[256], created[64];
	long long size = 0;
	struct nib_error rerr = {0};

	memset(e, 0, sizeof(*e));
	if (nib_read_file_at(stg_store_nib_dirfd(b->st), path, 4096, &data, NULL, &rerr) < 0) {
		/* no entry is the usual miss; any other failure is a miss too */
		if (rerr.kind != NIB_ERR_NOT_FOUND)
			log_warn("build cache: %s", rerr.msg);
		nib_err_clear(&rerr);
		return 0;
	}
	if (sscanf(data, "created %63s", created) != 1)
		return malformed(b, path);
	snprintf(e->created, sizeof(e->created), "%s", created);
	const char *l = strstr(data, "\nlayer ");
	if (!l)
		return 1;
	if (sscanf(l + 1, "layer %72s %72s %lld %255s", digest, diff, &size, mt) != 4 ||
	    !nib_digest_valid(digest) || !nib_digest_valid(diff))
		return malformed(b, path);
	if (!stg_blob_exists(b->st, digest))
		return 0;
	e->has_layer = true;
	memcpy(e->layer.digest, digest, NIB_DIGEST_LEN + 1);
	memcpy(e->layer.diff_id, diff, NIB_DIGEST_LEN + 1);
	e->layer.size = size;
	e->layer.media_type = xstrdup(mt);
	return 1;
}

/* Keep `digest` alive for the garbage collector (nib/gcroots/build-cache). */
static int gcroot_add(struct bld_build *b, const char *digest, struct nib_error *err)
{
	int nibfd = stg_store_nib_dirfd(b->st);
	_cleanup_free_ char *line = xasprintf("%s\n", digest);
	_cleanup_close_ int fd = -1;

	if (nib_mkdir_p_at(nibfd, STG_GCROOTS_DIR, 0755, err) < 0)
		return -1;
	fd = openat(nibfd, STG_GCROOTS_DIR "/build-cache",
		    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || nib_write_all(fd, line, strlen(line)) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s/nib/%s/build-cache",
			       stg_store_path(b->st), STG_GCROOTS_DIR);
	return 0;
}

void bld_cache_put(struct bld_build *b, const char *key, const struct bld_cache_entry *e)
{
	int nibfd = stg_store_nib_dirfd(b->st);
	_cleanup_free_ char *path = xasprintf("cache/%s", nib_digest_hex(key));
	_cleanup_buf_ struct nib_buf buf = {0};
	struct nib_error err = {0};

	nib_buf_printf(&buf, "created %s\n", e->created);
	if (e->has_layer) {
		nib_buf_printf(&buf, "layer %s %s %lld %s\n", e->layer.digest, e->layer.diff_id,
			       (long long)e->layer.size, e->layer.media_type);
		/* without its root the collector may take the layer: the entry
		 * then misses (bld_cache_get checks the blob), the build goes on */
		if (gcroot_add(b, e->layer.digest, &err) < 0)
			log_warn("build cache: %s", err.msg);
		nib_err_clear(&err);
	}
	if (nib_mkdir_p_at(nibfd, "cache", 0755, &err) < 0 ||
	    nib_write_file_atomic_at(nibfd, path, buf.data, buf.len, 0644, &err) < 0)
		log_warn("build cache: %s", err.msg);
	nib_err_clear(&err);
}
