/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage: the storage root (an OCI image layout plus nib's own folders),
 * the blob store, OCI documents, layer extraction and creation, and rootfs
 * assembly.
 */
#ifndef NIB_STORAGE_H
#define NIB_STORAGE_H

#include <json-c/json.h>

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
/* On an index.json entry whose manifest nib converted to OCI when it was
 * pulled (stg_image_import): the digest of the manifest as the registry
 * serves it (a Docker schema2 manifest), kept in the store beside the OCI
 * form. Local bookkeeping only: never part of an image nib sends. */
#define STG_ANNOTATION_SOURCE_DIGEST "io.nib.source.manifest.digest"

struct stg_store; /* an open storage root */

/* The default root, the one place it is decided (nib build, nib info and
 * every other command use it): $NIB_ROOT, else $XDG_DATA_HOME/nib (only an
 * absolute $XDG_DATA_HOME, as the XDG base directory spec says), else
 * ~/.local/share/nib ($HOME, else the passwd entry's home). */
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

/* ==== strict JSON (storage/json.c) ======================================== */

NIB_DEFINE_CLEANUP(json_object *, json_object_put)

/* Parse one JSON document strictly (RFC 8259): duplicate object keys,
 * invalid UTF-8, NUL characters, trailing data, documents over `max_len`
 * bytes and nesting deeper than `max_depth` are NIB_ERR_CORRUPT with the byte
 * offset in the message. A JSON null yields *out == NULL. */
int stg_json_parse(const char *data, size_t len, size_t max_len, int max_depth, json_object **out,
		   struct nib_error *err);
/* Append the canonical form of `o`: object keys sorted bytewise, no
 * whitespace, strings escaped minimally; the same tree always gives the same
 * bytes (and so the same digest). */
void stg_json_canonical(json_object *o, struct nib_buf *out);

/* ==== OCI and Docker documents (storage/oci*.c) =========================== */

/* Limits on documents nib reads (distribution-spec: manifests up to 4 MiB). */
#define STG_MANIFEST_MAX   (4u << 20)
#define STG_CONFIG_MAX	   (8u << 20)
#define STG_INDEX_JSON_MAX (64u << 20) /* the store's own index.json */
#define STG_JSON_MAX_DEPTH 32
#define STG_MAX_LAYERS	   4096 /* 1,000 RUN steps and more: overlay stacks are flattened */
#define STG_MAX_MANIFESTS  100000
/* An image config's lists a build takes over (config.Env, config.OnBuild:
 * entries, and bytes of each list) and config.User. */
#define STG_CONFIG_ENV_MAX     10000
#define STG_CONFIG_ONBUILD_MAX 1000
#define STG_CONFIG_LIST_BYTES  (1u << 20)
#define STG_CONFIG_USER_MAX    4096

#define STG_MT_DOCKER_LAYER	 "application/vnd.docker.image.rootfs.diff.tar"
#define STG_MT_DOCKER_FOREIGN	 "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define STG_MT_OCI_LAYOUT_HEADER "application/vnd.oci.layout.header.v1+json"
#define STG_MT_OCI_ND_LAYER	 "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define STG_MT_OCI_ND_LAYER_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define STG_MT_OCI_ND_LAYER_ZSTD "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#define STG_MT_OCI_EMPTY	 "application/vnd.oci.empty.v1+json"

/* The two manifest formats `--format` chooses between. */
enum stg_format { STG_FORMAT_OCI = 0, STG_FORMAT_DOCKER };
/* "oci" | "docker"; -1 when neither. */
int stg_format_parse(const char *s);

/* An ordered string map (annotations, labels): keys unique, kept sorted. */
struct stg_map {
	struct nib_strv keys;
	struct nib_strv values; /* values.v[i] belongs to keys.v[i] */
};
void stg_map_set(struct stg_map *m, const char *key, const char *value);
const char *stg_map_get(const struct stg_map *m, const char *key);
bool stg_map_del(struct stg_map *m, const char *key);
void stg_map_free(struct stg_map *m);
void stg_map_copy(struct stg_map *dst, const struct stg_map *src);

/* image-spec image-index.md: platform */
struct stg_platform {
	char *architecture; /* required */
	char *os;	    /* required */
	char *os_version;
	char *variant;
	struct nib_strv os_features;
};

/* image-spec descriptor.md */
struct stg_descriptor {
	char *media_type; /* required, RFC 6838 syntax */
	char *digest;	  /* required, valid digest */
	int64_t size;	  /* required, >= 0 */
	struct nib_strv urls;
	struct stg_map annotations;
	char *artifact_type;
	char *data;		       /* base64, kept as is */
	struct stg_platform *platform; /* index entries only; may be NULL */
};
void stg_descriptor_clear(struct stg_descriptor *d);
void stg_descriptor_copy(struct stg_descriptor *dst, const struct stg_descriptor *src);

/* image-spec manifest.md, or a Docker schema2 manifest (media_type tells) */
struct stg_manifest {
	int schema_version;  /* 2 */
	char *media_type;    /* STG_MT_OCI_MANIFEST or STG_MT_DOCKER_MANIFEST */
	char *artifact_type; /* OCI only */
	struct stg_descriptor config;
	struct stg_descriptor *layers;
	size_t n_layers;
	struct stg_descriptor *subject; /* OCI only; may be NULL */
	struct stg_map annotations;
};

/* image-spec image-index.md, or a Docker manifest list */
struct stg_index {
	int schema_version;
	char *media_type; /* STG_MT_OCI_INDEX or STG_MT_DOCKER_LIST; may be NULL in an OCI index */
	char *artifact_type;
	struct stg_descriptor *manifests;
	size_t n_manifests;
	struct stg_descriptor *subject;
	struct stg_map annotations;
};

/* image-spec config.md: config.Healthcheck (Docker's field; durations in ns) */
struct stg_healthcheck {
	struct nib_strv test; /* ["NONE"], ["CMD", ...], ["CMD-SHELL", cmd] */
	int64_t interval, timeout, start_period, start_interval;
	int64_t retries;
};

/* image-spec config.md: config (the runtime defaults) */
struct stg_container_config {
	char *user;
	struct nib_strv exposed_ports; /* "80/tcp": a set, sorted */
	struct nib_strv env;	       /* "K=V" in order */
	struct nib_strv entrypoint;
	bool has_entrypoint; /* present (possibly empty) vs absent/null */
	struct nib_strv cmd;
	bool has_cmd;
	struct nib_strv volumes; /* a set, sorted */
	char *working_dir;
	struct stg_map labels;
	char *stop_signal;
	bool args_escaped;
	struct stg_healthcheck *healthcheck; /* may be NULL */
	struct nib_strv on_build;
	struct nib_strv shell;
};

/* image-spec config.md: history entry */
struct stg_history {
	char *created; /* RFC 3339 */
	char *created_by;
	char *author;
	char *comment;
	bool empty_layer;
};

/* image-spec config.md (the Docker image config shares the same fields) */
struct stg_image_config {
	char *created;
	char *author;
	char *architecture; /* required */
	char *os;	    /* required */
	char *os_version;
	struct nib_strv os_features;
	char *variant;
	struct stg_container_config config;
	struct nib_strv diff_ids; /* rootfs.diff_ids; rootfs.type is "layers" */
	struct stg_history *history;
	size_t n_history;
};

/* Parse and validate (schemaVersion 2, media types, digests, sizes, required
 * fields, limits above). The manifest parser accepts OCI and Docker schema2
 * manifests; the index parser OCI indexes and Docker manifest lists. Errors
 * are NIB_ERR_CORRUPT naming the field ("layers[2].digest: ..."); callers
 * prefix the reference or path. */
int stg_manifest_parse(const char *data, size_t len, struct stg_manifest **out,
		       struct nib_error *err);
int stg_index_parse(const char *data, size_t len, struct stg_index **out, struct nib_error *err);
int stg_config_parse(const char *data, size_t len, struct stg_image_config **out,
		     struct nib_error *err);
/* Same, from an already parsed tree (used by the store for index.json). */
int stg_index_from_json(json_object *o, size_t max_manifests, struct stg_index **out,
			struct nib_error *err);

/* Canonical JSON (sorted keys, no whitespace) appended to `out`. */
void stg_manifest_generate(const struct stg_manifest *m, struct nib_buf *out);
void stg_index_generate(const struct stg_index *ix, struct nib_buf *out);
void stg_config_generate(const struct stg_image_config *c, struct nib_buf *out);

void stg_manifest_free(struct stg_manifest *m);
void stg_index_free(struct stg_index *ix);
void stg_config_free(struct stg_image_config *c);
NIB_DEFINE_CLEANUP(struct stg_manifest *, stg_manifest_free)
NIB_DEFINE_CLEANUP(struct stg_index *, stg_index_free)
NIB_DEFINE_CLEANUP(struct stg_image_config *, stg_config_free)

/* Deep copies. */
struct stg_manifest *stg_manifest_dup(const struct stg_manifest *m);
struct stg_image_config *stg_config_dup(const struct stg_image_config *c);

/* What a document is, from its mediaType field or, when it has none, its
 * shape (an OCI manifest has "config", an index "manifests"): one of the
 * STG_MT_* manifest/index types, or NULL when it is neither. */
const char *stg_doc_media_type(const char *data, size_t len);
bool stg_media_type_is_manifest(const char *mt);
bool stg_media_type_is_index(const char *mt);
/* RFC 6838 type/subtype syntax (image-spec descriptor.md: mediaType). */
bool stg_media_type_valid(const char *mt);

/* Convert a manifest to the other format in place: manifest, config and
 * layer media types (OCI gzip/tar <-> Docker rootfs.diff.tar[.gzip]); the
 * config blob itself is the same in both. zstd layers and OCI-only fields
 * (subject, artifactType) have no Docker form: NIB_ERR_CORRUPT, `m` unchanged.
 * Docker has no manifest annotations: they are dropped. */
int stg_manifest_convert(struct stg_manifest *m, enum stg_format to, struct nib_error *err);
int stg_index_convert(struct stg_index *ix, enum stg_format to, struct nib_error *err);

/* ==== images in the store (storage/image.c) ================================ */

/* The store's index.json (read without a lock: it is only ever replaced by
 * rename). A missing or corrupt file is an error naming the path. */
int stg_store_index_load(struct stg_store *st, struct stg_index **out, struct nib_error *err);

/* An image found in the store. */
struct stg_image {
	char *ref;		     /* the entry's ref.name annotation, or NULL */
	struct stg_descriptor entry; /* the index.json entry (a manifest or an index) */
	struct stg_descriptor desc;  /* the image manifest, after platform selection */
	struct stg_manifest *manifest;
	struct stg_image_config *config;
	char *id;     /* the image ID: the config digest */
	int64_t size; /* manifest + config + layers, as stored */
	/* The manifest as its registry has it when nib converted it on pull
	 * (entry annotation STG_ANNOTATION_SOURCE_DIGEST, blob present): its
	 * digest, media type and size; all zero/NULL otherwise. */
	struct stg_descriptor source;
};
void stg_image_free(struct stg_image *img);
NIB_DEFINE_CLEANUP(struct stg_image *, stg_image_free)

/*
 * Name the manifest (or index) `desc` as `ref` in index.json: the
 * descriptor is stored with annotation org.opencontainers.image.ref.name =
 * `ref`, replacing any entry with the same name. `ref` is a full normalised
 * reference ("docker.io/library/busybox:latest"); the caller normalises
 * (registry's reg_ref_parse), storage does not. `ref` NULL adds an untagged
 * entry (kept until the next rmi/prune of that digest). The blob must be in
 * the store. index.json is rewritten atomically under nib/lock.
 */
int stg_image_tag(struct stg_store *st, const char *ref, const struct stg_descriptor *desc,
		  struct nib_error *err);
/* Store a manifest document and tag it: validates it (an image manifest or
 * an index), checks its config and layers are present, stores the blob and
 * calls stg_image_tag for each of the `n_refs` references (none: untagged).
 * `out` (may be NULL) receives the manifest digest. */
int stg_image_put(struct stg_store *st, const char *manifest, size_t len, const char *const *refs,
		  size_t n_refs, char out[NIB_DIGEST_LEN + 1], struct nib_error *err);
/*
 * Tag `ref` for a manifest fetched from a registry (`desc`, its blob and
 * everything it names in the store). An OCI manifest or index is tagged as
 * it is. A Docker schema2 manifest is converted as `skopeo copy docker://X
 * oci:DIR:T` does, so that OCI tools (skopeo's oci: transport, umoci) read
 * the store: config and layer blobs unchanged, media types mapped (layers
 * rootfs.diff.tar.gzip -> image.layer.v1.tar+gzip, config ->
 * image.config.v1+json, manifest -> image.manifest.v1+json); the new OCI
 * manifest (canonical JSON, so a new digest) is stored and tagged, with
 * STG_ANNOTATION_SOURCE_DIGEST naming the Docker manifest, which stays in
 * the store (gc keeps it) so that a push can send the registry's bytes
 * again. A Docker layer type with no OCI name keeps the Docker manifest as
 * it is (a warning is logged). `out` (may be NULL) receives the descriptor
 * tagged.
 */
int stg_image_import(struct stg_store *st, const char *ref, const struct stg_descriptor *desc,
		     struct stg_descriptor *out, struct nib_error *err);
/* The digest the image is known by outside the store: the source manifest's
 * when there is one, else the stored manifest's. */
const char *stg_image_digest(const struct stg_image *img);
/* Remove the entry named `ref` (exact ref.name match); NIB_ERR_NOT_FOUND
 * when there is none. Blobs stay until stg_store_gc. */
int stg_image_untag(struct stg_store *st, const char *ref, struct nib_error *err);
/* Remove every index.json entry whose manifest digest or image ID is
 * `digest` (a full digest); returns how many were removed. */
int stg_image_remove_digest(struct stg_store *st, const char *digest, struct nib_error *err);

/*
 * Find an image by, in order: an exact ref.name match (nib writes full
 * references; other tools such as `skopeo copy ... oci:ROOT:TAG` write a bare
 * tag, which matches as written); a manifest digest ("sha256:<64 hex>"); an
 * image ID (config digest) or a unique prefix of its hex of at least 3
 * characters, with or without "sha256:". An entry that is an index resolves
 * to the manifest for the host platform (os/arch/variant). Ambiguous prefixes
 * are NIB_ERR_USAGE; nothing found is NIB_ERR_NOT_FOUND naming `name` and
 * the root. The manifest and config are read, digest-checked and parsed.
 */
int stg_image_lookup(struct stg_store *st, const char *name, struct stg_image **out,
		     struct nib_error *err);
/* Load the image an index.json entry names (platform selection as above). */
int stg_image_load(struct stg_store *st, const struct stg_descriptor *entry, struct stg_image **out,
		   struct nib_error *err);
/* Every entry of index.json, in index order; entries whose documents
 * cannot be read are skipped with a warning logged. */
int stg_image_list(struct stg_store *st, struct stg_image ***out, size_t *n, struct nib_error *err);
void stg_image_list_free(struct stg_image **imgs, size_t n);

/* Store the image's manifest converted to `to` (OCI <-> Docker schema2:
 * media types only; config and layer blobs are shared) and fill `out` with
 * its descriptor (not tagged). Already in that format: `out` is the
 * image's own descriptor; when the image's source manifest (img->source)
 * is in that format, `out` is the source (the registry's own bytes). A
 * manifest with no form in `to` (zstd layers, subject, artifactType for
 * Docker) is NIB_ERR_CORRUPT naming the image and the layer. */
int stg_image_convert(struct stg_store *st, const struct stg_image *img, enum stg_format to,
		      struct stg_descriptor *out, struct nib_error *err);

/* The same for a multi-platform entry (img->entry an index): every image
 * it lists converted as above, then the index (OCI image index <-> Docker
 * manifest list), stored untagged; `out` is the index's descriptor (the
 * entry itself, without annotations, when nothing needs converting). An
 * entry that is a single manifest: stg_image_convert. */
int stg_image_convert_index(struct stg_store *st, const struct stg_image *img, enum stg_format to,
			    struct stg_descriptor *out, struct nib_error *err);

/* The host platform in OCI terms ("amd64", "arm64" + variant "v8"...). */
void stg_platform_host(const char **os, const char **arch, const char **variant);

/* ==== platforms (storage/platform.c) ======================================== */

/* Parse "os/arch[/variant]" (--platform): each part lower-case letters,
 * digits, '_', '-' or '.', at most 64 bytes; anything else is NIB_ERR_USAGE
 * naming `s`. `out` is cleared first; free with stg_platform_clear. */
int stg_platform_parse(const char *s, struct stg_platform *out, struct nib_error *err);
void stg_platform_clear(struct stg_platform *p);
/* The host platform as a struct (stg_platform_host, owned copies). */
void stg_platform_host_get(struct stg_platform *out);
/* "os/arch[/variant]" */
char *stg_platform_string(const char *os, const char *arch, const char *variant);
/* The same for `want`, the host's platform when NULL. */
char *stg_platform_want_string(const struct stg_platform *want);
/* How well an image of (os, arch, variant) serves `want`: 0 not at all (os
 * or architecture differ, or both name different variants), 1 a variant
 * `want` did not ask for, 2 the same with the default variant on one side
 * (arm64's is v8), 3 the same variant named on both. */
int stg_platform_score(const struct stg_platform *want, const char *os, const char *arch,
		       const char *variant);
/* The entry of `ix` that serves `want` best (NULL: the host); an entry
 * without platform only when it is the sole one; NULL when none does. */
const struct stg_descriptor *stg_index_pick(const struct stg_index *ix,
					    const struct stg_platform *want);
/* "linux/amd64, linux/arm64/v8": the platforms an index lists (for
 * messages). */
char *stg_index_platforms(const struct stg_index *ix);

/* stg_image_lookup, with an entry that is an index resolved for `want`
 * (NULL: the host) instead of the host. */
int stg_image_lookup_platform(struct stg_store *st, const char *name,
			      const struct stg_platform *want, struct stg_image **out,
			      struct nib_error *err);

/* ==== garbage collection (storage/gc.c) ===================================== */

/* Files in nib/gcroots/ keep blobs alive: each line a digest; a manifest or
 * index named there keeps everything it references (for the build cache). */
#define STG_GCROOTS_DIR "gcroots"

struct stg_gc_stats {
	size_t blobs_removed;
	int64_t bytes_removed;
	size_t temps_removed; /* leftovers of crashed writers */
	size_t blobs_kept;
	size_t layers_removed; /* nib/layers/FORM-TAG/<chain ID hex> no live image uses */
};
/*
 * Remove every blob that index.json and nib/gcroots do not reach, stale
 * temp files, nib/tmp work folders, and extracted layers
 * nib/layers/FORM-TAG/<chain ID hex> (and nib/layers/<hex> of older roots;
 * entries named by exactly 64 hex digits, other names are left alone but
 * the .tmp-* extractions of killed processes) whose chain ID no reachable
 * image config has; a tree a user namespace made that cannot be removed
 * from outside it stays, with a warning. Needs every other process to
 * have closed the store (each open store holds nib/gc.lock shared): with `wait` it waits for them,
 * else it returns 0 having done nothing when the root is busy (*stats zeroed, `busy` set when
 * non-NULL).
 */
int stg_store_gc(struct stg_store *st, bool wait, struct stg_gc_stats *stats, bool *busy,
		 struct nib_error *err);

/* ==== layers: ownership records ========================================== */

/*
 * Ownership records, the containers/storage and fuse-overlayfs convention
 * (containers/storage pkg/idtools: FormatContainersOverrideXattrDevice):
 *
 *   xattr  user.containers.override_stat
 *   value  "UID:GID:MODE[:TYPE]"
 *          UID, GID  decimal container IDs
 *          MODE      octal, at least 4 digits: permission bits plus setuid
 *                    (4000), setgid (2000) and sticky (1000); never the
 *                    file-type bits
 *          TYPE      file | dir | symlink | pipe | socket
 *                    | char-MAJOR-MINOR | block-MAJOR-MINOR (decimal)
 *   e.g.   "0:42:0640:file", "0:0:4755:file", "1000:1000:0755:dir",
 *          "0:0:0666:char-1-3"
 *
 * Readers accept three fields (no TYPE: the type of the file on disk) and
 * ignore anything after a fourth. nib always writes four. A device node or
 * fifo that cannot be created is an empty regular file carrying its record.
 * Extended attributes that cannot be set (security.capability, trusted.*)
 * are kept as "user.containers.override_" + name, e.g.
 * user.containers.override_security.capability.
 *
 * Who reads which field on commit: UID and GID always come from the record;
 * the permission bits come from the file on disk (a chmod in a RUN step
 * changes the disk, not the record) unless the record's TYPE differs from
 * the disk type (an emulated device or fifo), where the record's mode wins.
 */
#define STG_XATTR_OVERRIDE_STAT	  "user.containers.override_stat"
#define STG_XATTR_OVERRIDE_PREFIX "user.containers.override_"
#define STG_OVERRIDE_MAX	  80 /* buffer size for a formatted record */

struct stg_override {
	uint32_t uid, gid;
	mode_t mode; /* S_IFMT type bits | 07777 permission bits */
	dev_t rdev;  /* char and block devices */
	bool has_type;
};

/* Parse a record; -1 (NIB_ERR_CORRUPT) when malformed. */
int stg_override_parse(const char *s, size_t len, struct stg_override *out, struct nib_error *err);
/* Format a record with its TYPE field into buf (STG_OVERRIDE_MAX bytes). */
void stg_override_format(const struct stg_override *o, char *buf, size_t size);
/* Read the record of an open file (regular file or folder): 1 when
 * present, 0 when absent, -1 on error. */
int stg_override_get(int fd, struct stg_override *out, struct nib_error *err);
/* Write the record on an open file (regular file or folder). */
int stg_override_set(int fd, const struct stg_override *o, struct nib_error *err);

/*
 * Symlinks cannot carry user.* xattrs: with a single UID the owner of a
 * symlink is recorded on its folder,
 *
 *   xattr  user.nib.link.NAME   (NAME: the symlink's name; longer names than
 *                                an xattr name allows are not recorded)
 *   value  "UID:GID:INO"        INO: the symlink's inode, so that a symlink
 *                                made later under the same name does not
 *                                inherit the record
 *
 * These attributes never enter a layer, and are dropped from layers read.
 */
#define STG_XATTR_LINK_PREFIX "user.nib.link."
/* Record (0:0: remove the record of) symlink NAME in folder DIRFD (O_PATH
 * allowed). */
int stg_link_owner_set(int dirfd, const char *name, uint32_t uid, uint32_t gid,
		       struct nib_error *err);
/* The record of symlink NAME (inode INO) in DIRFD: 1 when there is one. */
int stg_link_owner_get(int dirfd, const char *name, ino_t ino, uint32_t *uid, uint32_t *gid);
/* setxattr(2) of a user.* record on `path`, a file of the caller's whose
 * mode may lack the owner's write bit: lent for the moment of the call.
 * -1 with errno. */
int stg_setxattr_owned(const char *path, const char *name, const void *val, size_t n);

/* Open `path` below `rootfd` without following any symlink on the way
 * (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or a component walk with
 * O_NOFOLLOW; the last component too, so O_PATH gives a symlink itself).
 * -1 with ELOOP/ENOTDIR when a component is a symlink, EXDEV for a `..`
 * (above `rootfd`; the walk refuses any). */
int stg_open_nosym(int rootfd, const char *path, int flags, mode_t mode);

/* ID maps: container ID `inside` .. inside+count-1 is `outside` .. on
 * disk, as the process doing the work sees it. A NULL map is the identity
 * (real root, or inside a user namespace that maps every ID used). */
struct stg_idmap_range {
	uint32_t inside, outside, count;
};
struct stg_idmap {
	const struct stg_idmap_range *uids;
	size_t n_uids;
	const struct stg_idmap_range *gids;
	size_t n_gids;
};
/* Container ID -> disk ID; false when not mapped. */
bool stg_idmap_to_disk(const struct stg_idmap_range *r, size_t n, uint32_t id, uint32_t *out);
/* Disk ID -> container ID; false when not mapped. */
bool stg_idmap_to_container(const struct stg_idmap_range *r, size_t n, uint32_t id, uint32_t *out);

/* ==== layers: extraction ================================================= */

/* What whiteouts (image-spec layer.md: whiteouts) become on disk. */
enum stg_whiteout_mode {
	/* one folder per layer for overlay and fuse-overlayfs: ".wh.NAME"
	 * becomes a 0:0 character device NAME, ".wh..wh..opq" the
	 * user.overlay.opaque="y" xattr on its folder */
	STG_WHITEOUT_OVERLAY = 0,
	/* the layer is applied over the tree of the layers below it (vfs):
	 * deletions are carried out */
	STG_WHITEOUT_APPLY,
};

/* Limits against decompression and tar bombs; 0 means "no limit". */
struct stg_layer_limits {
	uint64_t max_size;    /* uncompressed bytes, and sum of file sizes */
	uint64_t max_entries; /* tar entries */
	uint64_t max_header;  /* bytes of one name, link target or xattr set */
	uint64_t max_ratio;   /* uncompressed / compressed, checked past 64 MiB */
};
/* Defaults (64 GiB, 4 M entries, 64 KiB, 2000), overridden by
 * NIB_LAYER_MAX_SIZE, NIB_LAYER_MAX_ENTRIES, NIB_LAYER_MAX_HEADER and
 * NIB_LAYER_MAX_RATIO when set. */
void stg_layer_limits_default(struct stg_layer_limits *l);

struct stg_extract_opts {
	enum stg_whiteout_mode whiteouts;
	/* How container IDs land on disk. Entries whose owner is not mapped,
	 * or whose chown fails (EPERM/EINVAL: a single mapped UID), keep the
	 * caller as owner and get an ownership record. */
	const struct stg_idmap *idmap;
	struct stg_layer_limits limits;
	const char *digest;  /* expected digest of the stream as read, or NULL */
	const char *diff_id; /* expected digest of the uncompressed tar, or NULL */
	const char *name;    /* names the layer in messages (digest or file) */
};

struct stg_extract_result {
	char digest[NIB_DIGEST_LEN + 1];  /* of the stream as read */
	char diff_id[NIB_DIGEST_LEN + 1]; /* of the uncompressed tar */
	uint64_t compressed, uncompressed, entries;
	uint64_t records; /* ownership records written */
};

/*
 * Extract the layer read from `fd` (tar, tar+gzip or tar+zstd, sniffed
 * from its first bytes) into the folder `rootfd`. Every path is resolved
 * as if `rootfd` were "/": "..", absolute names, and absolute or relative
 * symlinks (also ones made earlier in the same layer or present from lower
 * layers in STG_WHITEOUT_APPLY mode) never lead outside it; hardlink
 * targets are resolved the same way. Malformed whiteouts (".wh.", ".wh..",
 * a whiteout below a symlink) are refused. On failure the folder is left
 * half-written: callers extract into a fresh folder and remove it (the
 * layer cache does). Runs in the caller's process: the builder calls it
 * inside its user namespace child when a subuid range is mapped.
 */
int stg_layer_extract_fd(int rootfd, int fd, const struct stg_extract_opts *o,
			 struct stg_extract_result *res, struct nib_error *err);

/* ChainID (image-spec config.md: layer ChainID): for the first layer its
 * DiffID, else sha256 of "PARENT_CHAIN DIFF_ID". */
void stg_chain_id(const char *parent_chain, const char *diff_id, char out[NIB_DIGEST_LEN + 1]);

/* ==== export (storage/export.c) ============================================== */

/*
 * Write the image `ref` (anything stg_image_lookup accepts) into the OCI
 * image layout `dir` (created when missing; other images in it are kept),
 * named `tag` (the bare ref.name skopeo's oci:DIR:TAG uses; NULL or "": no
 * name). The platform manifest is exported (not a whole index). Blobs are
 * copied and hashed again; index.json is written last, atomically.
 */
int stg_export_oci_layout(struct stg_store *st, const char *ref, const char *dir, const char *tag,
			  struct nib_error *err);
/*
 * Write the image `ref` as a docker-archive tarball `file` (the `docker
 * save` format: manifest.json, <config hex>.json, <diff ID hex>.tar
 * uncompressed layers, each checked against its diff ID), with RepoTags
 * [`name`] (NULL: none). The file appears only when complete.
 */
int stg_export_docker_archive(struct stg_store *st, const char *ref, const char *file,
			      const char *name, struct nib_error *err);
/* ==== import (storage/import.c) ============================================== */

/* What an import stored: the image manifest (not tagged: the caller names
 * it with stg_image_import or stg_image_tag while the store stays open) and
 * the names the source gives it (an OCI layout entry's ref.name, a
 * docker-archive's RepoTags, as written there). */
struct stg_import_result {
	struct stg_descriptor desc;
	struct nib_strv names;
};
void stg_import_result_clear(struct stg_import_result *r);

/*
 * Store the image of the OCI image layout `dir` named `tag` (its ref.name
 * annotation; NULL: the layout must hold one image), the platform `want`
 * (NULL: the host) chosen from an index. Every document is checked against
 * its descriptor (digest, size, the media type it declares) and parsed
 * strictly, the config's diff IDs counted against the layers, every blob
 * hashed while it is copied (a present blob is not read again). Files are
 * opened without following symlinks: a symlinked blob is refused.
 * Errors name "oci:DIR" and the blob or field.
 */
int stg_import_oci_layout(struct stg_store *st, const char *dir, const char *tag,
			  const struct stg_platform *want, struct stg_import_result *res,
			  struct nib_error *err);
/* The same from an oci-archive (a tar of a layout, possibly compressed),
 * unpacked into nib/tmp first: entries with ".." or absolute names,
 * hardlinks, devices and FIFOs are refused; the work folder is removed. */
int stg_import_oci_archive(struct stg_store *st, const char *file, const char *tag,
			   const struct stg_platform *want, struct stg_import_result *res,
			   struct nib_error *err);

/* Which image of a docker-archive: `index` >= 0 (docker-archive:FILE:@N),
 * else the first whose RepoTags has one `match` accepts (`name` for
 * messages), else (both unset, or `sel` NULL) the sole image. */
struct stg_import_select {
	int index;
	bool (*match)(void *data, const char *repo_tag);
	void *data;
	const char *name;
};
/*
 * Store an image of the docker-archive `file` (unpacked as an oci-archive
 * is; manifest.json's paths resolved inside it): the config (its digest
 * checked against a "HEX.json" name), each layer checked against the
 * config's diff ID (uncompressed tars stored as they are, gzip and zstd
 * ones after their content was checked), and a new OCI manifest for them.
 */
int stg_import_docker_archive(struct stg_store *st, const char *file,
			      const struct stg_import_select *sel, struct stg_import_result *res,
			      struct nib_error *err);

/* The image `ref` as an oci-archive `file`: the OCI layout
 * stg_export_oci_layout writes (named `tag`, may be NULL), packed as a tar
 * whose entries are sorted with owner 0 and mtime 0; the file appears only
 * when complete. */
int stg_export_oci_archive(struct stg_store *st, const char *ref, const char *file, const char *tag,
			   struct nib_error *err);
/* ==== layers: diff and commit ============================================ */

enum stg_compression { STG_COMPRESS_GZIP = 0, STG_COMPRESS_ZSTD, STG_COMPRESS_NONE };
/* "gzip" | "zstd" | "none"; -1 when unknown. */
int stg_compression_parse(const char *s);
/* The OCI layer media type for a compression. */
const char *stg_compression_media_type(enum stg_compression c);

enum stg_diff_kind {
	/* the tree is an overlay upper folder: all of it is the change; 0:0
	 * character devices are deletions (".wh.NAME"), folders with
	 * user.overlay.opaque replace the lower ones (".wh..wh..opq") */
	STG_DIFF_UPPER = 0,
	/* the tree is the whole rootfs after the step, compared with `basefd`,
	 * the rootfs before it (vfs): metadata first, content only when the
	 * metadata is equal but the file was touched after `copied_at` */
	STG_DIFF_COMPARE,
};

struct stg_commit_opts {
	enum stg_diff_kind kind;
	int basefd;		   /* STG_DIFF_COMPARE: tree before the step; -1: empty */
	struct timespec copied_at; /* STG_DIFF_COMPARE: when the tree was copied
				    * from base (files with an older ctime have
				    * unchanged content); {0,0}: always compare */
	/* NULL-terminated paths relative to the rootfs that never enter a
	 * layer (what the runtime mounted: "proc", "etc/resolv.conf", RUN
	 * --mount targets); "dev/" (trailing slash) excludes the folder's
	 * content but not the folder. */
	const char *const *exclude;
	/* disk IDs -> container IDs for files without a record; NULL is the
	 * identity; unmapped IDs become 65534 */
	const struct stg_idmap *idmap;
	int64_t timestamp; /* >= 0: mtimes clamped to it; -1: kept */
	/* STG_DIFF_UPPER from fuse-overlayfs: empty ".wh.NAME" files and
	 * user.fuseoverlayfs.opaque are its whiteouts, not the step's files */
	bool fuse_upper;
	/* with fuse_upper: the lower folders (NULL-terminated); fuse-overlayfs
	 * marks every new folder opaque, which only matters where a lower
	 * folder of that path exists */
	const char *const *lowers;
	enum stg_compression compression;
	int level; /* 0: the default (gzip 6, zstd 3) */
};
/* Defaults: STG_DIFF_UPPER, no base, gzip, timestamp from
 * SOURCE_DATE_EPOCH when set (else -1). */
void stg_commit_opts_init(struct stg_commit_opts *o);

struct stg_layer_out {
	char digest[NIB_DIGEST_LEN + 1];  /* the blob */
	char diff_id[NIB_DIGEST_LEN + 1]; /* the uncompressed tar */
	int64_t size;			  /* bytes of the blob */
	const char *media_type;		  /* OCI layer media type */
	uint64_t entries;		  /* 0: the step changed nothing */
};

/*
 * The changes of `treefd` as an OCI changeset (image-spec layer.md): a PAX
 * tar, entries sorted (folder before its entries, names bytewise), owner and
 * device type from user.containers.override_stat when present, xattrs
 * carried (user.containers.override_NAME as NAME; overlay and record xattrs
 * never), empty uname/gname, hardlinks as hardlinks. A name starting with
 * ".wh." made by the step is refused. In one streaming pass the tar is
 * hashed (DiffID), compressed, hashed again and written as a blob into the
 * store. Gzip output has no name and no timestamp: the same tree gives the
 * same digests.
 */
int stg_layer_commit(struct stg_store *st, int treefd, const struct stg_commit_opts *o,
		     struct stg_layer_out *out, struct nib_error *err);
/* The same, writing the compressed stream to `outfd` instead of the store
 * (out->digest and size still computed). */
int stg_layer_commit_fd(int treefd, const struct stg_commit_opts *o, int outfd,
			struct stg_layer_out *out, struct nib_error *err);

/* ==== layers: cache of extracted layers, rootfs drivers =================== */

/* Work that must run in the process owning the extracted files. */
typedef int (*stg_work_fn)(void *arg, struct nib_error *err);
/* How the builder runs such work: with a subuid range, in a child inside
 * the build's user namespace, copying `result_size` bytes at `result` back
 * from the child and its error too. NULL hook: in this process. */
typedef int (*stg_exec_fn)(void *ctx, stg_work_fn work, void *arg, void *result, size_t result_size,
			   struct nib_error *err);

struct stg_rootfs_driver;

struct stg_unpack_opts {
	const struct stg_rootfs_driver *driver; /* picks the layer form; NULL: vfs */
	const struct stg_idmap *idmap;		/* as in stg_extract_opts */
	/* names the ID map in cache folder names (the same layer extracted
	 * under another map is another folder): "id" when NULL */
	const char *idmap_tag;
	struct stg_layer_limits limits;
	stg_exec_fn exec;
	void *exec_ctx;
};
void stg_unpack_opts_init(struct stg_unpack_opts *o);

/* A layer of an image: its blob and its DiffID (from the config). */
struct stg_layer_ref {
	const char *digest;
	const char *diff_id;
};

/*
 * Make sure every layer of the stack is extracted and push one folder per
 * layer, bottom first, onto `dirs`: nib/layers/FORM-TAG/CHAINHEX where FORM
 * is "ovl" (each layer alone, overlay whiteouts) or "vfs" (the whole tree
 * up to that layer). Each is extracted once (blob digest and DiffID
 * verified), into a temp folder renamed into place: processes sharing the
 * root share the result and a failure leaves nothing behind.
 */
int stg_layers_unpack(struct stg_store *st, const struct stg_layer_ref *layers, size_t n,
		      const struct stg_unpack_opts *o, struct nib_strv *dirs,
		      struct nib_error *err);

/* A step's root filesystem. */
struct stg_rootfs {
	const struct stg_rootfs_driver *driver;
	char *dir;		/* the step's folder under nib/tmp */
	char *target;		/* what the step sees as "/" */
	char *upper, *work;	/* overlay and fuse-overlayfs */
	struct nib_strv lowers; /* layer folders, bottom first */
	char *base;		/* vfs: the folder the copy was made from, or NULL */
	struct timespec copied_at;
	/* SELinux context= of the overlay or fuse-overlayfs mount (the RUN's
	 * file label), or NULL: none */
	char *mount_label;
};

/* Rootfs drivers: a table, each with a probe (DESIGN.md: the environment
 * ladder). */
struct stg_rootfs_driver {
	const char *name;
	enum stg_whiteout_mode layer_form;
	enum stg_diff_kind diff;
	/* 0 when this environment allows the driver; otherwise -1 with the
	 * reason (NIB_ERR_ENV) */
	int (*probe)(struct stg_store *st, struct nib_error *err);
	/* Make r->target show the stack; called in the step's user and mount
	 * namespaces (the runtime's child), before pivot_root. */
	int (*mount)(struct stg_rootfs *r, struct nib_error *err);
	int (*umount)(struct stg_rootfs *r, struct nib_error *err);
};
extern const struct stg_rootfs_driver stg_driver_overlay;
extern const struct stg_rootfs_driver stg_driver_fuse_overlayfs;
extern const struct stg_rootfs_driver stg_driver_vfs;

/* "overlay" | "fuse-overlayfs" | "vfs"; NULL when unknown. */
const struct stg_rootfs_driver *stg_rootfs_driver_find(const char *name);
/* --storage-driver: `name` NULL or "auto" picks the first driver whose
 * probe passes; each refusal ("overlay: ...") is pushed onto `why` (may be
 * NULL) for nib info. A named driver that fails its probe is an error. */
int stg_rootfs_driver_pick(struct stg_store *st, const char *name,
			   const struct stg_rootfs_driver **out, struct nib_strv *why,
			   struct nib_error *err);

/* Prepare a step over `layer_dirs` (from stg_layers_unpack, bottom first):
 * a folder under nib/tmp with upper/work/merged (overlay, fuse-overlayfs)
 * or a copy of the top layer's tree (vfs, reflinks where possible). The
 * copy runs through uo->exec. */
int stg_rootfs_prepare(struct stg_store *st, const struct stg_rootfs_driver *d,
		       const struct nib_strv *layer_dirs, const struct stg_unpack_opts *uo,
		       struct stg_rootfs **out, struct nib_error *err);
/* The type (S_IFMT bits) of the entry `name` (no '/') at the top of the
 * step's tree as its layers give it, before anything is mounted; 0 when
 * there is none. */
mode_t stg_rootfs_entry_type(const struct stg_rootfs *r, const char *name);
/* Commit the step's changes as a layer blob (the driver sets the diff kind,
 * the base and copied_at in a copy of `o`); runs through uo->exec. */
int stg_rootfs_commit(struct stg_store *st, struct stg_rootfs *r, const struct stg_commit_opts *o,
		      const struct stg_unpack_opts *uo, struct stg_layer_out *out,
		      struct nib_error *err);
/* Move the step's result into the layer cache as the extracted form of
 * `layer` (just committed from this rootfs) on top of `parent_chain` (NULL
 * for the first layer), so the next step needs no extraction; `exclude`
 * paths (as in stg_commit_opts) are removed first. fuse-overlayfs upper
 * folders are not adopted: the blob is extracted instead. Pushes the
 * folder onto `dirs`. */
int stg_rootfs_adopt(struct stg_store *st, struct stg_rootfs *r, const char *parent_chain,
		     const struct stg_layer_out *layer, const char *const *exclude,
		     const struct stg_unpack_opts *uo, struct nib_strv *dirs,
		     struct nib_error *err);
/* Remove the step's folder (through uo->exec) and free `r`. */
int stg_rootfs_remove(struct stg_rootfs *r, const struct stg_unpack_opts *uo,
		      struct nib_error *err);
void stg_rootfs_free(struct stg_rootfs *r);
NIB_DEFINE_CLEANUP(struct stg_rootfs *, stg_rootfs_free)

#endif
