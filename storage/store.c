/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The storage root and its blob store.
 *
 * The root is an OCI image layout (image-spec image-layout.md: oci-layout,
 * index.json, blobs/<alg>/<hex>) plus nib's own folder `nib/` (extracted
 * layers, build cache, work folders, the lock files). A blob only ever
 * appears under its digest after it was hashed and verified: writers stream
 * into a temp file `blobs/sha256/.tmp-*`, fsync it and rename it into place.
 */
#define NIB_STORAGE_INTERNAL
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "storage/store_internal.h"

#define OCI_LAYOUT_CONTENT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define EMPTY_INDEX	   "{\"schemaVersion\":2,\"manifests\":[]}"

char *stg_root_default(void)
{
	const char *env = getenv("NIB_ROOT");
	if (env && *env)
		return xstrdup(env);
	env = getenv("XDG_DATA_HOME");
	if (env && *env == '/')
		return nib_path_join(env, "nib");
	env = getenv("HOME");
	if (!env || !*env) {
		struct passwd *pw = getpwuid(getuid());
		env = pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : "/";
	}
	return xasprintf("%s%s.local/share/nib", env, env[strlen(env) - 1] == '/' ? "" : "/");
}

/* Create `name` in dirfd with `content` unless it exists. */
static int ensure_file(int dirfd, const char *root, const char *name, const char *content,
		       struct nib_error *err)
{
	if (faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return nib_err(err, NIB_ERR_IO, errno, "%s/%s", root, name);
	if (nib_write_file_atomic_at(dirfd, name, content, strlen(content), 0644, err) < 0)
		return nib_err_wrap(err, "storage root %s", root);
	return 0;
}

static int check_layout(struct stg_store *st, struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;

	if (nib_read_file_at(st->dirfd, "oci-layout", 4096, &data, NULL, err) < 0)
		return nib_err_wrap(err, "storage root %s", st->path);
	/* image-layout.md: imageLayoutVersion "1.0.0"; any 1.x is readable. */
	if (!strstr(data, "\"imageLayoutVersion\"") || !strstr(data, "\"1."))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s/oci-layout: not an OCI image layout version 1", st->path);
	return 0;
}

/* A lock file; read-only when the root is not ours to write (root lists and
 * inspects a user's root; flock needs no write access). */
static int open_lock(int nibfd, const char *name)
{
	int fd = openat(nibfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM))
		fd = openat(nibfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd;
}

/* Folder `name` of `dirfd` (`root`/`shown` in messages), when it is ours:
 * no one else may list or read it (0700); with `pass`, others may pass
 * through it (0711) to a folder whose name they cannot guess. */
static int fix_private(int dirfd, const char *name, bool pass, const char *root, const char *shown,
		       struct nib_error *err)
{
	struct stat sb;
	mode_t want;

	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s%s", root, shown);
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() || (sb.st_mode & S_ISVTX))
		return 0;
	want = (sb.st_mode & 07700) | (pass ? 0011 : 0);
	if ((sb.st_mode & 07777) == want)
		return 0;
	if (fchmodat(dirfd, name, want, 0) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "make %s%s private", root, shown);
	log_debug("%s%s: made private to its owner (mode %04o, was %04o)", root, shown,
		  (unsigned)want, (unsigned)(sb.st_mode & 07777));
	return 0;
}

/* The folders others may pass through: the ptrace isolation names a RUN's
 * rootfs (nib/tmp/step-RANDOM) by its path, also after the RUN became the
 * image's USER. */
static bool passable(const char *shown)
{
	return streq(shown, "") || streq(shown, "/nib") || streq(shown, "/nib/tmp");
}

/* fix_private on every folder in `sub` of `rootfd`. */
static int fix_private_children(int rootfd, const char *sub, const char *root,
				struct nib_error *err)
{
	int fd = openat(rootfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return nib_err(err, NIB_ERR_IO, errno, "%s/%s", root, sub);
	}
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *shown = xasprintf("/%s/%s", sub, de->d_name);
		if (fix_private(dirfd(d), de->d_name, passable(shown), root, shown, err) < 0)
			return -1;
	}
	return 0;
}

/*
 * The root and the folders below it are private to their owner (0700, as
 * containers/storage keeps its own): extracted layers, step folders and
 * cache mounts hold what RUN steps made, setuid-root programs and root-only
 * files included, and blobs hold the same as tar. The root, nib/ and
 * nib/tmp/ are 0711 (see passable): others may pass, never list, and the
 * step folders below have random 64-bit names. Made so, and roots made
 * by an older nib (0755) fixed, on every open by the owner: the root,
 * blobs/, nib/ and the folders in nib/ and nib/layers/. Folders of another
 * owner (a volume's mount point) and a sticky root (a shared folder such as
 * /tmp: its entries are private) are left as they are.
 */
static int make_private(int dirfd, const char *root, struct nib_error *err)
{
	static const char *const dirs[] = {"blobs/sha256", "nib/layers", "nib/cache", "nib/tmp",
					   ("nib/" STG_GCROOTS_DIR)};
	static const char *const fixed[] = {"blobs", "blobs/sha256", "nib"};

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (nib_mkdir_p_at(dirfd, dirs[i], 0700, err) < 0)
			return nib_err_wrap(err, "storage root %s", root);
	if (fix_private(dirfd, ".", true, root, "", err) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
		_cleanup_free_ char *shown = xasprintf("/%s", fixed[i]);
		if (fix_private(dirfd, fixed[i], passable(shown), root, shown, err) < 0)
			return -1;
	}
	return fix_private_children(dirfd, "nib", root, err) < 0 ||
		       fix_private_children(dirfd, "nib/layers", root, err) < 0
		   ? -1
		   : 0;
}

int stg_store_open(const char *path, struct stg_store **out, struct nib_error *err)
{
	_cleanup_(stg_store_freep) struct stg_store *st = xcalloc(1, sizeof(*st));
	_cleanup_free_ char *def = NULL;

	st->dirfd = st->blobs_fd = st->nib_fd = st->lock_fd = st->gc_fd = -1;
	if (!path || !*path)
		path = def = stg_root_default();
	st->path = xstrdup(path);
	if (nib_mkdir_p_at(AT_FDCWD, path, 0755, err) < 0)
		return nib_err_wrap(err, "storage root %s", path);
	st->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "storage root %s", path);
	if (make_private(st->dirfd, path, err) < 0)
		return -1;
	st->nib_fd = openat(st->dirfd, "nib", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (st->nib_fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s/nib", path);
	st->lock_fd = open_lock(st->nib_fd, "lock");
	if (st->lock_fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s/nib/lock", path);
	st->gc_fd = open_lock(st->nib_fd, "gc.lock");
	if (st->gc_fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s/nib/gc.lock", path);
	/* Every open store holds gc.lock shared for its whole life: a blob
	 * written but not yet named by index.json is never collected from
	 * under a live process (prune needs it exclusively). */
	while (flock(st->gc_fd, LOCK_SH) < 0)
		if (errno != EINTR)
			return nib_err(err, NIB_ERR_IO, errno, "lock %s/nib/gc.lock", path);
	st->blobs_fd =
	    openat(st->dirfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (st->blobs_fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s/blobs/sha256", path);

	/* First use: create the layout files under the lock so two processes
	 * racing to initialise the root never replace each other's index. */
	if (stg_store_lock(st, true, err) < 0)
		return -1;
	int ret = ensure_file(st->dirfd, path, "oci-layout", OCI_LAYOUT_CONTENT "\n", err);
	if (ret == 0)
		ret = ensure_file(st->dirfd, path, "index.json", EMPTY_INDEX, err);
	stg_store_unlock(st);
	if (ret < 0)
		return -1;
	if (check_layout(st, err) < 0)
		return -1;
	*out = steal_pointer(&st);
	return 0;
}

void stg_store_free(struct stg_store *st)
{
	if (!st)
		return;
	closep(&st->blobs_fd);
	closep(&st->nib_fd);
	closep(&st->lock_fd);
	closep(&st->gc_fd);
	closep(&st->dirfd);
	free(st->path);
	free(st);
}

const char *stg_store_path(const struct stg_store *st)
{
	return st->path;
}

int stg_store_dirfd(const struct stg_store *st)
{
	return st->dirfd;
}

int stg_store_nib_dirfd(const struct stg_store *st)
{
	return st->nib_fd;
}

int stg_store_lock(struct stg_store *st, bool exclusive, struct nib_error *err)
{
	while (flock(st->lock_fd, exclusive ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR)
			return nib_err(err, NIB_ERR_IO, errno, "lock %s/nib/lock", st->path);
	return 0;
}

void stg_store_unlock(struct stg_store *st)
{
	(void)flock(st->lock_fd, LOCK_UN);
}

/* ---- blobs ---------------------------------------------------------------- */

/* The file name of a sha256 blob in blobs/sha256/, or NULL for a digest
 * that is not a valid sha256 digest. */
static const char *blob_name(const char *digest)
{
	if (!digest || !nib_digest_valid(digest) || !nib_str_has_prefix(digest, "sha256:"))
		return NULL;
	return nib_digest_hex(digest);
}

bool stg_blob_exists(struct stg_store *st, const char *digest)
{
	const char *name = blob_name(digest);
	struct stat s;

	return name && fstatat(st->blobs_fd, name, &s, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISREG(s.st_mode);
}

int stg_blob_open(struct stg_store *st, const char *digest, struct nib_error *err)
{
	const char *name = blob_name(digest);
	int fd;

	if (!name)
		return nib_err(err, NIB_ERR_CORRUPT, 0, "invalid digest '%s'",
			       digest ? digest : "");
	fd = openat(st->blobs_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return nib_err(err, errno == ENOENT ? NIB_ERR_NOT_FOUND : NIB_ERR_IO, errno,
			       "blob %s in %s", digest, st->path);
	return fd;
}

int64_t stg_blob_size(struct stg_store *st, const char *digest)
{
	const char *name = blob_name(digest);
	struct stat s;

	if (!name || fstatat(st->blobs_fd, name, &s, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(s.st_mode))
		return -1;
	return (int64_t)s.st_size;
}

int stg_blob_read(struct stg_store *st, const char *digest, size_t max, char **out, size_t *len,
		  struct nib_error *err)
{
	_cleanup_close_ int fd = stg_blob_open(st, digest, err);
	_cleanup_free_ char *data = NULL;
	char got[NIB_DIGEST_LEN + 1];
	size_t n = 0;

	if (fd < 0)
		return -1;
	{
		_cleanup_buf_ struct nib_buf b = {0};
		char chunk[65536];
		ssize_t r;
		while ((r = read(fd, chunk, sizeof(chunk))) != 0) {
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return nib_err(err, NIB_ERR_IO, errno, "read blob %s", digest);
			}
			if (b.len + (size_t)r > max)
				return nib_err(err, NIB_ERR_CORRUPT, EFBIG,
					       "blob %s is larger than %zu bytes", digest, max);
			nib_buf_append(&b, chunk, (size_t)r);
		}
		n = b.len;
		data = nib_buf_steal(&b);
	}
	nib_sha256_digest(data, n, got);
	if (!streq(got, digest))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "blob %s in %s has digest %s", digest,
			       st->path, got);
	if (len)
		*len = n;
	*out = steal_pointer(&data);
	return 0;
}

struct stg_blob_writer {
	struct stg_store *st;
	struct nib_sha256 *sha;
	char *tmp; /* name inside blobs/sha256 */
	int fd;
	int64_t size;
	bool failed;
};

int stg_blob_writer_new(struct stg_store *st, struct stg_blob_writer **out, struct nib_error *err)
{
	_cleanup_(stg_blob_writer_freep) struct stg_blob_writer *w = xcalloc(1, sizeof(*w));

	w->st = st;
	w->fd = -1;
	w->fd = nib_create_tmp_at(st->blobs_fd, ".tmp-", false, 0644, &w->tmp);
	if (w->fd < 0) {
		int e = errno;
		free(w->tmp);
		w->tmp = NULL;
		return nib_err(err, NIB_ERR_IO, e, "create temp blob in %s/blobs/sha256", st->path);
	}
	/* umask must not make blobs unreadable to other users of the root. */
	(void)fchmod(w->fd, 0644);
	w->sha = nib_sha256_new();
	*out = steal_pointer(&w);
	return 0;
}

int stg_blob_writer_write(struct stg_blob_writer *w, const void *p, size_t n, struct nib_error *err)
{
	if (w->failed)
		return nib_err(err, NIB_ERR_IO, 0, "blob writer in %s already failed", w->st->path);
	if (nib_write_all(w->fd, p, n) < 0) {
		w->failed = true;
		return nib_err(err, NIB_ERR_IO, errno, "write %s/blobs/sha256/%s", w->st->path,
			       w->tmp);
	}
	nib_sha256_update(w->sha, p, n);
	w->size += (int64_t)n;
	return 0;
}

int64_t stg_blob_writer_size(const struct stg_blob_writer *w)
{
	return w->size;
}

int stg_blob_writer_commit(struct stg_blob_writer *w, const char *expect, int64_t expect_size,
			   char out[NIB_DIGEST_LEN + 1], struct nib_error *err)
{
	char got[NIB_DIGEST_LEN + 1];
	int ret = -1;

	if (w->failed || !w->tmp)
		return nib_err(err, NIB_ERR_IO, 0, "blob writer in %s already failed", w->st->path);
	nib_sha256_final(w->sha, got);
	if (expect && !blob_name(expect)) {
		nib_err(err, NIB_ERR_CORRUPT, 0, "invalid digest '%s'", expect);
	} else if (expect_size >= 0 && expect_size != w->size) {
		nib_err(err, NIB_ERR_CORRUPT, 0,
			"blob %s: size %lld does not match the expected %lld",
			expect ? expect : got, (long long)w->size, (long long)expect_size);
	} else if (expect && !streq(expect, got)) {
		nib_err(err, NIB_ERR_CORRUPT, 0, "blob %s: content has digest %s", expect, got);
	} else if (fsync(w->fd) < 0) {
		nib_err(err, NIB_ERR_IO, errno, "fsync %s/blobs/sha256/%s", w->st->path, w->tmp);
	} else if (renameat(w->st->blobs_fd, w->tmp, w->st->blobs_fd, nib_digest_hex(got)) < 0) {
		nib_err(err, NIB_ERR_IO, errno, "rename blob %s into %s", got, w->st->path);
	} else {
		free(w->tmp);
		w->tmp = NULL;
		ret = 0;
		if (out)
			memcpy(out, got, NIB_DIGEST_LEN + 1);
	}
	w->failed = ret < 0;
	/* a failure removes the temp file now, not only at free */
	if (ret < 0 && w->tmp) {
		unlinkat(w->st->blobs_fd, w->tmp, 0);
		free(w->tmp);
		w->tmp = NULL;
	}
	return ret;
}

void stg_blob_writer_free(struct stg_blob_writer *w)
{
	if (!w)
		return;
	if (w->tmp)
		unlinkat(w->st->blobs_fd, w->tmp, 0);
	closep(&w->fd);
	nib_sha256_free(w->sha);
	free(w->tmp);
	free(w);
}

int stg_blob_put(struct stg_store *st, const void *data, size_t len, const char *expect,
		 char out[NIB_DIGEST_LEN + 1], struct nib_error *err)
{
	_cleanup_(stg_blob_writer_freep) struct stg_blob_writer *w = NULL;
	char got[NIB_DIGEST_LEN + 1];

	/* Already present (verified when it was stored): nothing to write. */
	nib_sha256_digest(data, len, got);
	if (expect && !streq(expect, got)) {
		if (!blob_name(expect))
			return nib_err(err, NIB_ERR_CORRUPT, 0, "invalid digest '%s'", expect);
		return nib_err(err, NIB_ERR_CORRUPT, 0, "blob %s: content has digest %s", expect,
			       got);
	}
	if (stg_blob_size(st, got) == (int64_t)len) {
		if (out)
			memcpy(out, got, NIB_DIGEST_LEN + 1);
		return 0;
	}
	if (stg_blob_writer_new(st, &w, err) < 0 || stg_blob_writer_write(w, data, len, err) < 0)
		return -1;
	return stg_blob_writer_commit(w, got, (int64_t)len, out, err);
}
