/* SPDX-License-Identifier: Apache-2.0 */
/* storage internals shared by the store's own files (not by other modules). */
#ifndef NIB_STORAGE_STORE_INTERNAL_H
#define NIB_STORAGE_STORE_INTERNAL_H

#ifndef NIB_STORAGE_INTERNAL
#error "storage/store_internal.h is internal to storage/"
#endif

#include "storage/storage.h"

struct stg_store {
	char *path;
	int dirfd;    /* the root folder */
	int blobs_fd; /* blobs/sha256 */
	int nib_fd;   /* nib/ */
	int lock_fd;  /* nib/lock: index.json writers (exclusive) */
	int gc_fd;    /* nib/gc.lock: shared by every open store, exclusive for prune */
};

/* ---- JSON field helpers for the document parsers (storage/oci*.c) -------
 * `path` names the object for error messages ("layers[2]"); absent and null
 * members leave the output empty unless `required`. */
int stg_j_str(json_object *o, const char *key, const char *path, bool required, char **out,
	      struct nib_error *err);
int stg_j_int64(json_object *o, const char *key, const char *path, bool required, int64_t *out,
		struct nib_error *err);
int stg_j_bool(json_object *o, const char *key, const char *path, bool *out, struct nib_error *err);
/* An array of strings; *present says whether the member was there (not null). */
int stg_j_strv(json_object *o, const char *key, const char *path, struct nib_strv *out,
	       bool *present, struct nib_error *err);
/* An object of string values. */
int stg_j_map(json_object *o, const char *key, const char *path, struct stg_map *out,
	      struct nib_error *err);
/* An object used as a set ({"80/tcp":{}}): its keys, sorted. */
int stg_j_set(json_object *o, const char *key, const char *path, struct nib_strv *out,
	      struct nib_error *err);
/* The member `key` when it is an object, NULL when absent/null; error when
 * it has another type. */
int stg_j_obj(json_object *o, const char *key, const char *path, json_object **out,
	      struct nib_error *err);

void stg_j_add_str(json_object *o, const char *key, const char *val);
void stg_j_add_strv(json_object *o, const char *key, const struct nib_strv *sv);
void stg_j_add_map(json_object *o, const char *key, const struct stg_map *m);
void stg_j_add_set(json_object *o, const char *key, const struct nib_strv *sv);
json_object *stg_descriptor_to_json(const struct stg_descriptor *d);
int stg_descriptor_from_json(json_object *o, const char *path, struct stg_descriptor *d,
			     struct nib_error *err);

#endif
