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
 * A build service passes limits (size, entries, time, https only, a stop
 * check) for what its users send or name.
 */
#ifndef NIB_BUILDER_CONTEXT_H
#define NIB_BUILDER_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

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

/* Limits on taking in a context; a zero field is the default: archives
 * NIB_LAYER_MAX_SIZE bytes unpacked and NIB_LAYER_MAX_ENTRIES entries,
 * downloads NIB_ADD_MAX_SIZE bytes, no time limit. */
struct bld_fetch_limits {
	uint64_t max_size;    /* bytes downloaded, and bytes unpacked */
	uint64_t max_entries; /* archive entries */
	unsigned timeout;     /* seconds for a git fetch or a download */
	/* what a service fetches for its users: git and downloads over https
	 * only (submodules too), no redirect to another host, git without the
	 * host's system and user configuration (credential helpers) */
	bool confined;
	/* polled about twice a second while fetching: true abandons it */
	bool (*stop)(void *arg);
	void *stop_arg;
};

struct bld_context_options {
	const char *tmp_parent;		    /* where work folders are made */
	bool keep_git_dir;		    /* BUILDKIT_CONTEXT_KEEP_GIT_DIR */
	const struct reg_options *ro;	    /* TLS and retries of downloads and git */
	const struct bld_fetch_limits *lim; /* NULL: the defaults */
};

/* What `spec` names, from its spelling (a local path is DIR even when it
 * turns out to be a file: bld_context_open tells them apart). */
enum bld_context_kind bld_context_kind(const char *spec);

/* Split a git context "URL#REF:DIR" (REF and DIR may be empty); DIR must
 * stay inside the repository. */
int bld_context_git_split(const char *spec, char **url, char **ref, char **dir,
			  struct nib_error *err);

/* Make `spec` a local folder; work folders go under o->tmp_parent; an
 * http(s) download uses the registry options o->ro (TLS, retries). */
int bld_context_open(const char *spec, const struct bld_context_options *o, struct bld_context *out,
		     struct nib_error *err);
/* The same for a `spec` whose kind the caller knows (BLD_CONTEXT_GIT:
 * "URL[#REF[:DIR]]" whatever its spelling; BLD_CONTEXT_URL). */
int bld_context_fetch(enum bld_context_kind kind, const char *spec,
		      const struct bld_context_options *o, struct bld_context *out,
		      struct nib_error *err);
void bld_context_close(struct bld_context *c);

/* Extract the tar archive at `fd` (from its start; no bytes at all are an
 * empty context) into the folder `dir` (which exists), refusing entries
 * that leave it or are device nodes, FIFOs or sockets, and archives past
 * `lim` (NULL: the defaults) with NIB_ERR_CORRUPT; `what` names the
 * archive in messages. */
int bld_context_extract(int fd, const char *dir, const char *what,
			const struct bld_fetch_limits *lim, struct nib_error *err);

#endif
