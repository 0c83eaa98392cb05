/* SPDX-License-Identifier: Apache-2.0 */
/* storage internals shared by the store's own files (not by other modules). */
#ifndef NIB_STORAGE_STORE_INTERNAL_H
#define NIB_STORAGE_STORE_INTERNAL_H

#include "storage/storage.h"

struct stg_store {
	char *path;
	int dirfd;    /* the root folder */
	int blobs_fd; /* blobs/sha256 */
	int nib_fd;   /* nib/ */
	int lock_fd;  /* nib/lock: index.json writers (exclusive) */
	int gc_fd;    /* nib/gc.lock: shared by every open store, exclusive for prune */
};

#endif
