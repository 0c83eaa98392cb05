/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builder/context: the build context that the CONTEXT argument of
 * `nib build` names, made a local folder:
 *   a folder             used as it is;
 *   -                    a tar archive on standard input (any compression
 *                        libarchive reads), or else a Containerfile and an
 *                        empty context (as `docker build - < Dockerfile`);
 *   FILE                 a local tar archive; any other file is the
 *                        Containerfile, its folder the context (buildah);
 *   git URL[#REF[:DIR]]  `git://…`, `git@…`, `ssh://…`, `github.com/…`, or
 *                        an http(s) URL whose path ends in `.git`: REF
 *                        (branch, tag or commit; default HEAD) fetched at
 *                        depth 1 with submodules, DIR its sub-folder; `.git`
 *                        is removed unless kept (BuildKit's
 *                        BUILDKIT_CONTEXT_KEEP_GIT_DIR);
 *   http(s) URL          a tar archive, or else a Containerfile.
 * Fetched contexts land in a work folder that the caller removes with
 * bld_context_close; every archive entry stays inside it (absolute names,
 * "..", links out and device nodes are refused with the entry's name).
 */
#ifndef NIB_BUILDER_CONTEXT_H
#define NIB_BUILDER_CONTEXT_H

#include <stdbool.h>

#include "common/common.h"
#include "registry/registry.h"

enum bld_context_kind {
	BLD_CONTEXT_DIR,
	BLD_CONTEXT_STDIN,
	BLD_CONTEXT_ARCHIVE,
	BLD_CONTEXT_GIT,
	BLD_CONTEXT_URL,
};

struct bld_context {
	enum bld_context_kind kind;
	char *dir;  /* the context folder */
	char *file; /* the Containerfile when the input was one, else NULL */
	char *tmp;  /* the work folder to remove, or NULL */
};

/* What `spec` names, from its spelling (a local path is DIR even when it
 * turns out to be a file: bld_context_open tells them apart). */
enum bld_context_kind bld_context_kind(const char *spec);

/* Split a git context "URL#REF:DIR" (REF and DIR may be empty); DIR must
 * stay inside the repository. */
int bld_context_git_split(const char *spec, char **url, char **ref, char **dir,
			  struct nib_error *err);

/* Make `spec` a local folder; work folders go under `tmp_parent`; an
 * http(s) download uses the registry options `ro` (TLS, retries). */
int bld_context_open(const char *spec, const char *tmp_parent, bool keep_git_dir,
		     const struct reg_options *ro, struct bld_context *out, struct nib_error *err);
void bld_context_close(struct bld_context *c);

/* Extract the tar archive at `fd` (from its start) into the folder `dir`
 * (which exists), refusing entries that leave it or are device nodes,
 * FIFOs or sockets; `what` names the archive in messages. */
int bld_context_extract(int fd, const char *dir, const char *what, struct nib_error *err);

#endif
