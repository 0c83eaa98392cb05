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

/* Folders opened by widening their mode (owner without r or x), with the
 * mode to give back when the work is done. */
struct perm_fixes {
	int *fd;
	mode_t *mode;
	size_t n, cap;
};
/* openat() that, when refused with EACCES on a file or folder the caller
 * owns (a step may chmod 000 its own files), adds the owner's permission
 * for the open; the mode comes back when stg_perm_fixes_restore() runs (user
 * xattrs and lookups below a folder need the permission until then), or at
 * once when `fx` is NULL. */
int stg_layer_openat(int dfd, const char *name, int flags, struct perm_fixes *fx);
void stg_perm_fixes_restore(struct perm_fixes *fx);
/* Give `st` the mode its file had before it was widened. */
void stg_perm_fixes_lookup(const struct perm_fixes *fx, struct stat *st);

/* Map a record's type field for a stat mode; returns "file", "dir"... */
const char *stg_layer_type_name(mode_t mode);

/* True for names the overlay driver reserves (user.overlay.*,
 * trusted.overlay.*) or nib's own records: never taken from a layer. */
bool stg_layer_xattr_reserved(const char *name);

/* Copy the content and metadata of folder `srcfd` into folder `dstfd`
 * (vfs steps: reflinks where possible, hardlinks kept). */
int stg_layer_copy_tree(int srcfd, int dstfd, struct nib_error *err);

/* Run `work` through o->exec (or here). */
int stg_layer_exec(const struct stg_unpack_opts *o, stg_work_fn work, void *arg, void *result,
		   size_t result_size, struct nib_error *err);
/* The layer form the options' driver reads (vfs without one). */
enum stg_whiteout_mode stg_layer_form(const struct stg_unpack_opts *o);
/* "layers/FORM-TAG" of the cache for these options' ID map. */
const char *stg_layer_form_dir(const struct stg_unpack_opts *o, enum stg_whiteout_mode form,
			       char *buf, size_t size);
/* Extract `n` layers in order, in `form`, into the cache folder `rel`
 * ("layers/FORM-TAG/HEX") over a copy of `prev` (NULL: none), through a
 * temp folder renamed into place. */
int stg_layer_extract_to(struct stg_store *st, const struct stg_layer_ref *layers, size_t n,
			 enum stg_whiteout_mode form, const char *prev, const char *rel,
			 const struct stg_unpack_opts *o, struct nib_error *err);
/* Unshare a user namespace (this process's IDs mapped to 0) and a mount
 * namespace with private mounts. */
int stg_layer_enter_userns(struct nib_error *err);
/* rm -rf through o->exec; failures are logged. */
int stg_layer_remove(const struct stg_unpack_opts *o, int dirfd, const char *path);

#endif
