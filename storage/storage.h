/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage: the storage root (an OCI image layout plus nib's own folders),
 * the blob store, OCI documents, layer extraction and creation, and rootfs
 * assembly.
 */
#ifndef NIB_STORAGE_H
#define NIB_STORAGE_H

#include "common/common.h"

/* ==== storage root and blob store ======================================== */

/* image-spec media types */
#define STG_MT_OCI_MANIFEST	 "application/vnd.oci.image.manifest.v1+json"
#define STG_MT_OCI_INDEX	 "application/vnd.oci.image.index.v1+json"
#define STG_MT_OCI_CONFIG	 "application/vnd.oci.image.config.v1+json"
#define STG_MT_OCI_LAYER	 "application/vnd.oci.image.layer.v1.tar"
#define STG_MT_OCI_LAYER_GZIP	 "application/vnd.oci.image.layer.v1.tar+gzip"
#define STG_MT_OCI_LAYER_ZSTD	 "application/vnd.oci.image.layer.v1.tar+zstd"
#define STG_MT_DOCKER_MANIFEST	 "application/vnd.docker.distribution.manifest.v2+json"
#define STG_MT_DOCKER_LIST	 "application/vnd.docker.distribution.manifest.list.v2+json"
#define STG_MT_DOCKER_CONFIG	 "application/vnd.docker.container.image.v1+json"
#define STG_MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* The annotation that names a tag in index.json (image-spec
 * image-layout.md); nib stores the full normalised reference in it. */
#define STG_ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

struct stg_store; /* an open storage root */

/* The default root: $NIB_ROOT, else $XDG_DATA_HOME/nib, else
 * ~/.local/share/nib. */
char *stg_root_default(void);

/* Open (creating when missing) the storage root at `path` (NULL: the
 * default): oci-layout, index.json, blobs/sha256/ and nib's own folders. */
int stg_store_open(const char *path, struct stg_store **out, struct nib_error *err);
void stg_store_free(struct stg_store *st);
NIB_DEFINE_CLEANUP(struct stg_store *, stg_store_free)
const char *stg_store_path(const struct stg_store *st);
/* O_PATH fd of the root folder. */
int stg_store_dirfd(const struct stg_store *st);

/* Whether the blob is present (and complete: blobs are only ever visible
 * under their digest after verification). */
bool stg_blob_exists(struct stg_store *st, const char *digest);
/* Open a blob read-only; NIB_ERR_NOT_FOUND when absent. */
int stg_blob_open(struct stg_store *st, const char *digest, struct nib_error *err);
/* Size of a present blob, or -1. */
int64_t stg_blob_size(struct stg_store *st, const char *digest);
/* Store a whole buffer; when `expect` is non-NULL the digest must match.
 * `out` (may be NULL) receives the digest. */
int stg_blob_put(struct stg_store *st, const void *data, size_t len, const char *expect,
		 char out[NIB_DIGEST_LEN + 1], struct nib_error *err);

/* A blob being written: a temp file in blobs/sha256/, hashed while
 * streaming; commit fsyncs, verifies and renames; free without commit
 * removes the temp file. */
struct stg_blob_writer;
int stg_blob_writer_new(struct stg_store *st, struct stg_blob_writer **out, struct nib_error *err);
int stg_blob_writer_write(struct stg_blob_writer *w, const void *p, size_t n,
			  struct nib_error *err);
/* Bytes written so far. */
int64_t stg_blob_writer_size(const struct stg_blob_writer *w);
/* `expect` (may be NULL) and `expect_size` (-1: any) are checked; a
 * mismatch is NIB_ERR_CORRUPT and leaves nothing behind. */
int stg_blob_writer_commit(struct stg_blob_writer *w, const char *expect, int64_t expect_size,
			   char out[NIB_DIGEST_LEN + 1], struct nib_error *err);
void stg_blob_writer_free(struct stg_blob_writer *w);
NIB_DEFINE_CLEANUP(struct stg_blob_writer *, stg_blob_writer_free)

/* Read a whole blob of at most `max` bytes (else NIB_ERR_CORRUPT) and check
 * its digest again (for documents: manifests, configs, indexes). */
int stg_blob_read(struct stg_store *st, const char *digest, size_t max, char **out, size_t *len,
		  struct nib_error *err);

/* nib's own folder inside the root (`nib/`: layers/ for extracted layers
 * keyed by chain ID, cache/ for the build cache, tmp/ for work folders);
 * an O_DIRECTORY fd owned by the store. */
int stg_store_nib_dirfd(const struct stg_store *st);

/* nib/lock: writers of index.json (and anything else that must not race
 * between processes sharing the root) hold it exclusively; it is not
 * needed for reading index.json, which is only ever replaced by rename. */
int stg_store_lock(struct stg_store *st, bool exclusive, struct nib_error *err);
void stg_store_unlock(struct stg_store *st);

#endif
