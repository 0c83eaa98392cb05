/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builder/copy: the COPY/ADD engine. Internal to builder/ (the build
 * orchestrator is its only caller).
 *
 * Semantics follow Docker with BuildKit (the dockerfile frontend plus its
 * file-op backend); where buildah 1.28 differs, nib follows Docker and the
 * code says so. In short:
 *   - local sources are resolved inside the source root (the context, or a
 *     stage/image rootfs for --from): "..", absolute paths and symlinks
 *     never leave it; the top-level source is followed, symlinks below it
 *     are copied as symlinks; a folder source copies its contents;
 *   - wildcards use Go filepath.Match per path component; a wildcard that
 *     matches nothing copies nothing (BuildKit's AllowEmptyWildcard), but
 *     its literal parent folder must exist;
 *   - the destination is relative to WORKDIR; "dst/" (or ".", or an existing
 *     folder) receives sources by name, "dst" otherwise names the file;
 *     missing parents are created 0755 and owned like the copied files;
 *   - owners: context files become 0:0, --from sources keep theirs, --chown
 *     overrides both (names from the destination's /etc/passwd and
 *     /etc/group); --chmod sets the mode of every copied entry;
 *   - ADD: local tar archives (any compression) are extracted keeping the
 *     archive's owners; http(s) URLs are downloaded (mode 0600, mtime from
 *     Last-Modified, --checksum checked, never extracted);
 *   - every write into the destination goes through fds resolved inside it:
 *     a symlink in the image never makes nib write outside it.
 *
 * Usage: fill a struct bld_copy_opts, bld_copy_plan_new() (resolves the
 * sources, applies ignore rules, downloads URLs), bld_copy_plan_digest()
 * for the cache key, bld_copy_plan_apply() to write into a rootfs.
 */
#ifndef NIB_BUILDER_COPY_H
#define NIB_BUILDER_COPY_H

#include <sys/stat.h>
#include <time.h>

#include "common/common.h"
#include "containerfile/containerfile.h"

struct reg_client;
struct bld_fetch_limits; /* builder/context.h */
#include "storage/storage.h"

/* How owners other than the caller's own are written. */
enum bld_copy_chown_mode {
	/* fchownat() for real (root, or a user namespace with a full map) */
	BLD_COPY_CHOWN_REAL = 0,
	/* single UID: files stay owned by the caller; the intended owner is
	 * recorded in the user.containers.override_stat xattr that layer
	 * creation reads (format: storage/storage.h, "ownership records") */
	BLD_COPY_CHOWN_XATTR,
	/* fchownat(), and a record where the kernel refuses the ID (EPERM,
	 * EINVAL: an ID outside the user namespace's map) */
	BLD_COPY_CHOWN_AUTO,
};

/* What an ignore file says of one context entry. */
enum bld_copy_ignore {
	BLD_COPY_KEEP = 0, /* not excluded */
	BLD_COPY_SKIP,	   /* excluded with everything below it */
	/* a folder excluded by a pattern that "!" patterns may reach into
	 * (cf_ignore_has_exclusions): its entries are looked at one by one
	 * and the folder is copied only when one of them is kept, as
	 * BuildKit's context walker creates such parents lazily */
	BLD_COPY_DESCEND,
};

/* A matcher for ignore rules: `path` is relative to the source root,
 * clean, without a leading slash. */
struct bld_copy_matcher {
	enum bld_copy_ignore (*match)(void *data, const char *path, bool is_dir);
	void *data;
};

/* A heredoc used as a file source: `COPY <<NAME /dst`. */
struct bld_copy_heredoc {
	const char *name; /* the file name it gets ("NAME") */
	const char *data; /* its content, already expanded by the caller */
	size_t len;
};

struct bld_copy_opts {
	bool add;		 /* ADD: URL sources and local archive extraction */
	const char *const *srcs; /* sources as written, after variable expansion */
	size_t n_srcs;
	const struct bld_copy_heredoc *heredocs;
	size_t n_heredocs;
	const char *dest;    /* as written */
	const char *workdir; /* the stage's WORKDIR (absolute); NULL: "/" */

	/* The folder local sources are resolved in: the build context, or
	 * (from_rootfs) a stage's or image's rootfs for --from. */
	int src_fd;
	bool from_rootfs;
	/* .containerignore / .dockerignore of the context (NULL: none;
	 * ignored when from_rootfs). */
	const struct bld_copy_matcher *ignore;

	const char *const *excludes; /* --exclude patterns (ignore-file syntax) */
	size_t n_excludes;
	const char *chown;	      /* --chown=user[:group] or NULL */
	const struct cf_chmod *chmod; /* --chmod (octal or symbolic), or NULL */
	bool parents;		      /* --parents */
	/* --link: the caller passes an empty folder as the destination root;
	 * the result is a layer of its own. Existing paths of the image are
	 * not looked at (Docker: "COPY --link cannot read the previous
	 * state"), so give user_root_fd for --chown names. */
	bool link;
	const char *checksum; /* ADD --checksum=sha256:... (URL sources) */
	/* URL sources: the build's registry client, whose TLS options
	 * (--tls-verify, --cert-dir) and retries the download takes; NULL:
	 * libcurl's defaults, no retry */
	struct reg_client *client;
	bool no_unpack; /* ADD --unpack=false */

	enum bld_copy_chown_mode chown_mode;
	/* >= 0: every entry written gets this mtime (SOURCE_DATE_EPOCH /
	 * --timestamp); -1: files keep their source mtime. */
	int64_t timestamp;
	/* Where --chown names are looked up (/etc/passwd, /etc/group inside
	 * it); -1: the destination root. */
	int user_root_fd;
	/* --from sources: disk IDs -> container IDs for entries without an
	 * ownership record (unmapped IDs become 65534, as layer commit does).
	 * NULL: the identity, except in BLD_COPY_CHOWN_XATTR mode where the
	 * caller's own UID and GID are container 0 (a single-UID tree). */
	const struct stg_idmap *src_idmap;
};

/* Defaults: src_fd/user_root_fd -1, timestamp -1, everything else 0. */
void bld_copy_opts_init(struct bld_copy_opts *o);

struct bld_copy_plan;

/*
 * Resolve every source of `o` (which must outlive the plan): wildcards,
 * ignore rules and excludes; download URL
 * sources into a temp file. Errors name the source as written
 * ("COPY source not found: ../x", NIB_ERR_NOT_FOUND).
 */
int bld_copy_plan_new(const struct bld_copy_opts *o, struct bld_copy_plan **out,
		      struct nib_error *err);
void bld_copy_plan_free(struct bld_copy_plan *p);
NIB_DEFINE_CLEANUP(struct bld_copy_plan *, bld_copy_plan_free)

/*
 * Cache-key input: "sha256:..." over the resolved sources (after ignore
 * rules and excludes): for each entry its path, type, mode, size, content
 * digest and link target (owners too for --from sources; never mtimes, as
 * BuildKit). The instruction's own text (dest, --chown, ...) is not
 * included: the caller hashes that with it.
 */
int bld_copy_plan_digest(struct bld_copy_plan *p, char out[NIB_DIGEST_LEN + 1],
			 struct nib_error *err);

/* What an apply wrote (for logs). */
struct bld_copy_stats {
	uint64_t files, dirs, symlinks, hardlinks, other;
	uint64_t bytes;
};

/*
 * Write the sources into the rootfs at `dest_root_fd` (an O_DIRECTORY or
 * O_PATH fd of its top folder). `stats` may be NULL.
 */
int bld_copy_plan_apply(struct bld_copy_plan *p, int dest_root_fd, struct bld_copy_stats *stats,
			struct nib_error *err);

/* plan_new + plan_apply + plan_free in one call. */
int bld_copy_run(const struct bld_copy_opts *o, int dest_root_fd, struct bld_copy_stats *stats,
		 struct nib_error *err);

/*
 * WORKDIR's folder (BuildKit's mkdir file op with parents): the missing
 * folders of `path` (absolute, resolved inside `dest_root_fd`) are created
 * 0755 and owned by o->chown (the USER, "user[:group]" from the rootfs's
 * own /etc/passwd and /etc/group; NULL, or a name the image does not know:
 * 0:0, as BuildKit), written per o->chown_mode, with o->timestamp as their
 * times when >= 0. Existing folders are left as they are; a non-folder in
 * the way is an error.
 */
int bld_copy_mkdir(const struct bld_copy_opts *o, int dest_root_fd, const char *path,
		   struct nib_error *err);

/* ---- pieces shared by the copy*.c files (internal) ---------------------- */

/* Whether `s` holds wildcard characters (*, ?, [) (BuildKit's
 * containsWildcards); wildcards match with Go filepath.Match semantics,
 * one path component at a time (containerfile's cf_path_match). */
bool bld_copy_has_wildcards(const char *s);

/* An --exclude matcher built from ignore-file patterns (cf_ignore). */
struct bld_copy_excludes;
int bld_copy_excludes_new(const char *const *patterns, size_t n, struct bld_copy_excludes **out,
			  struct nib_error *err);
bool bld_copy_excludes_match(const struct bld_copy_excludes *ex, const char *path, bool is_dir);
void bld_copy_excludes_free(struct bld_copy_excludes *ex);
/* Whether some pattern starts with "!". */
bool bld_copy_excludes_has_exceptions(const struct bld_copy_excludes *ex);

/* The matcher for a context's ignore file parsed by containerfile
 * (cf_ignore_load / cf_ignore_parse); `ig` must outlive the copy. */
struct cf_ignore;
void bld_copy_matcher_cf(struct bld_copy_matcher *m, const struct cf_ignore *ig);

/* Resolve --chown "user[:group]" in the rootfs at `rootfd` (names from its
 * /etc/passwd and /etc/group; a user without group takes the user's
 * primary group for a name, the same number for a number). */
int bld_copy_chown_resolve(int rootfd, const char *spec, uid_t *uid, gid_t *gid,
			   struct nib_error *err);

/* A plan: the resolved sources. */
enum bld_copy_item_kind { BLD_COPY_ITEM_PATH, BLD_COPY_ITEM_HEREDOC, BLD_COPY_ITEM_URL };

struct bld_copy_item {
	enum bld_copy_item_kind kind;
	const char *src; /* as written, for messages */
	char *rel;	 /* BLD_COPY_ITEM_PATH: path in the source root (as matched) */
	char *name;	 /* the name it gets in a folder destination */
	char *keep;	 /* --parents: path kept below the destination */
	const struct bld_copy_heredoc *hd;
	int fd; /* BLD_COPY_ITEM_URL: the downloaded file */
	int64_t mtime;
};

struct bld_copy_plan {
	const struct bld_copy_opts *o;
	struct bld_copy_item *items;
	size_t n, cap;
	struct bld_copy_excludes *excludes;
	uint64_t bytes; /* after bld_copy_plan_digest: the sources' data bytes */
};

/* The state of one apply, shared by copy.c, copy_tree.c, copy_archive.c. */
struct bld_copy_hardlink;
struct bld_copy_writer {
	const struct bld_copy_opts *o;
	int dest_root;
	bool have_chown;
	uid_t chown_uid;
	gid_t chown_gid;
	const struct cf_chmod *chmod;
	struct bld_copy_excludes *excludes;
	struct bld_copy_stats stats;
	struct bld_copy_hardlink *links; /* per source item */
	size_t n_links, cap_links;
	int link_root; /* the folder hardlink paths are relative to, or -1 */
	struct timespec now;
	struct nib_strv created;	    /* folders made by mkdir_all (times fixed last) */
	const char *root_prefix;	    /* dest_root's path in the rootfs (extraction) */
	const char *extract_prefix;	    /* the extraction folder, while extracting */
	bool fresh;			    /* the folder being filled was made by this copy */
	struct bld_copy_unlocked *unlocked; /* folders given u+rwx for a while */
	size_t n_unlocked, cap_unlocked;
	bool no_clone; /* FICLONE failed once: the fs has no reflinks */
	bool no_cfr;   /* copy_file_range refused once (EXDEV: another fs) */
};

/* Where a path leads inside a root, every symlink resolved inside it. */
struct bld_copy_resolved {
	char *path; /* clean, relative to the root ("" is the root itself) */
	bool exists;
	struct stat st; /* when exists (lstat of the final entry) */
};
/* Resolve `path` inside `rootfd` (symlinks in every component, the last
 * one too when follow_last). A missing component ends the walk with
 * exists = false and the rest appended lexically. */
int bld_copy_resolve(int rootfd, const char *path, bool follow_last, struct bld_copy_resolved *out,
		     struct nib_error *err);
void bld_copy_resolved_free(struct bld_copy_resolved *r);

/* What a source entry becomes: owner, mode and times per the options. */
struct bld_copy_meta {
	uid_t uid;
	gid_t gid;
	mode_t mode; /* 07777 bits */
	struct timespec atime, mtime;
};
/* The metadata an entry with source stat `st` gets (after the source's own
 * override xattr, read by the caller into st). */
void bld_copy_meta_for(const struct bld_copy_writer *w, const struct stat *st, bool keep_owner,
		       bool apply_chmod, struct bld_copy_meta *m);
/* Write owner and mode (real chown or override xattr), then times. `fd` is
 * an fd of the entry (-1 for symlinks: then dirfd/name are used). */
int bld_copy_meta_write(struct bld_copy_writer *w, int fd, int dirfd, const char *name, mode_t type,
			const struct bld_copy_meta *m, dev_t rdev, const char *what,
			struct nib_error *err);
/* mkdir -p of `path` in the destination root; created folders are 0755 and
 * owned like copied files (--chown, else 0:0). */
int bld_copy_mkdir_all(struct bld_copy_writer *w, const char *path, struct nib_error *err);
/* The ignore rules' verdict on an entry of the source root (always KEEP for
 * --from sources); DESCEND is turned into KEEP or SKIP by looking below
 * the folder open at `fd` for a kept entry. */
enum bld_copy_ignore bld_copy_ignore_check(const struct bld_copy_opts *o, int fd, const char *path,
					   bool is_dir);

/* Set an xattr carried from a source: "user.containers.override_NAME" is
 * NAME; what cannot be set is kept as user.containers.override_NAME in the
 * record modes, skipped with a warning in real mode (as BuildKit). */
int bld_copy_xattr_set(struct bld_copy_writer *w, int fd, const char *name, const void *value,
		       size_t len, const char *what, struct nib_error *err);
/* Whether xattrs are set before owner and mode (see copy_tree.c). */
bool bld_copy_xattrs_first(const struct bld_copy_writer *w);
/* Copy a regular file's data from `in` (at offset 0) to the new file `out`. */
int bld_copy_data(struct bld_copy_writer *w, int in, int out, const char *what,
		  struct nib_error *err);
/* The container owner of a --from source entry (fd -1 for symlinks): from
 * its ownership record when it has one (mode from disk unless the record's
 * type differs, storage/storage.h), else the disk IDs through src_idmap. */
void bld_copy_src_owner(const struct bld_copy_opts *o, int fd, struct stat *st);

/* Copy the entry `sname` of source folder `sdir` as `dname` in destination
 * folder `ddir`, recursively. `rel` is its path below the source item (for
 * --exclude), `ctx_rel` its path in the source root (for the ignore
 * rules), `what` the destination path for messages. */
int bld_copy_tree_node(struct bld_copy_writer *w, int sdir, const char *sname, int ddir,
		       const char *dname, const char *rel, const char *ctx_rel, const char *what,
		       bool top, struct nib_error *err);
/* Write the content of `in` as the regular file `dname` in `ddir` with the
 * (synthesized) source stat `st` (heredocs, downloads). */
int bld_copy_tree_file_fd(struct bld_copy_writer *w, int in, const struct stat *st, int ddir,
			  const char *dname, const char *what, struct nib_error *err);
/* Copy the contents of source folder `sfd` into destination folder `dfd`. */
int bld_copy_tree_contents(struct bld_copy_writer *w, int sfd, int dfd, const char *rel,
			   const char *ctx_rel, const char *what, struct nib_error *err);
/* Before writing into the existing folder `dirfd`: when the caller is not
 * root and owns it without u+rwx (a 0555 /usr in a single-UID tree), give
 * itself u+rwx until bld_copy_dirs_relock() or a new mode for the folder. */
void bld_copy_dir_unlock(struct bld_copy_writer *w, int dirfd);
void bld_copy_dirs_relock(struct bld_copy_writer *w);
/* Forget the hardlinks seen (between source items). */
void bld_copy_writer_links_reset(struct bld_copy_writer *w);

/* Whether the regular file at fd is a tar archive (any compression). */
bool bld_copy_is_archive(int fd);
/* Extract the archive at fd into the destination folder `dest` (created),
 * every entry resolved inside that folder. */
int bld_copy_extract(struct bld_copy_writer *w, int fd, const char *src, const char *dest,
		     struct nib_error *err);

/* Download `url` into an unlinked temp file; `checksum` ("sha256:...") is
 * verified when non-NULL. Returns the fd (at offset 0), the mtime from
 * Last-Modified (0 when absent) and the file name from the URL path.
 * Credentials in the URL go to its own origin only; redirects from HTTPS
 * to plain HTTP are refused. `client` (may be NULL): the TLS options and
 * retries of the build's registry client. `lim` (may be NULL): a size
 * cap other than NIB_ADD_MAX_SIZE, a time limit, a stop check, confined
 * to https on one host. */
int bld_copy_download(const char *url, const char *checksum, struct reg_client *client,
		      const struct bld_fetch_limits *lim, int64_t *mtime, char **name,
		      struct nib_error *err);
/* `text` with the credentials of every URL in it removed
 * ("https://user:pass@host/x" -> "https://host/x"): what nib writes of an
 * ADD URL, in logs, history, cache keys and messages. */
char *bld_url_redact(const char *text);

#endif
