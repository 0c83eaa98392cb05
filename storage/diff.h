/* SPDX-License-Identifier: Apache-2.0 */
/* Diff: the list of tar entries a step's changes become (internal). */
#ifndef NIB_STORAGE_DIFF_H
#define NIB_STORAGE_DIFF_H

#ifndef NIB_STORAGE_INTERNAL
#error "storage/diff.h is internal to storage/"
#endif

#include "storage/layer_internal.h"

enum change_kind {
	CH_ADD,	     /* write the tree's entry at path */
	CH_DIR,	     /* the same, a folder */
	CH_WHITEOUT, /* path is "PARENT/.wh.NAME": an empty deletion marker */
	CH_OPAQUE,   /* path is "DIR/.wh..wh..opq" */
	CH_SKIP,     /* an unchanged folder with nothing changed below */
};

struct change {
	char *path; /* the name in the tar, relative, no leading slash */
	enum change_kind kind;
};

struct changes {
	struct change *v;
	size_t len, cap;
	struct perm_fixes *fx; /* folders widened to be read (may be NULL) */
};

/* Collect the changes of the tree at `treefd` in tar order. */
int stg_diff_collect(int treefd, const struct stg_commit_opts *o, struct changes *c,
		     struct nib_error *err);
void stg_diff_changes_free(struct changes *c);

#endif
