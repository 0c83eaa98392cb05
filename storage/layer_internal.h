/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal helpers shared by the layer, diff, commit and rootfs files of
 * storage/. Not part of the module's interface.
 */
#ifndef NIB_STORAGE_LAYER_INTERNAL_H
#define NIB_STORAGE_LAYER_INTERNAL_H

#ifndef NIB_STORAGE_INTERNAL
#error "storage/layer_internal.h is internal to storage/"
#endif

#include <sys/stat.h>

#include "storage/storage.h"

#define OVL_OPAQUE_XATTR "user.overlay.opaque"

/* Open `path` below `rootfd` without following any symlink on the way
 * (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or a component walk with
 * O_NOFOLLOW). ELOOP/ENOTDIR when a component is a symlink. */
int layer_open_nosym(int rootfd, const char *path, int flags, mode_t mode);

/* Map a record's type field for a stat mode; returns "file", "dir"... */
const char *layer_type_name(mode_t mode);

/* True for names the overlay driver reserves (user.overlay.*,
 * trusted.overlay.*) or nib's own records: never taken from a layer. */
bool layer_xattr_reserved(const char *name);

#endif
