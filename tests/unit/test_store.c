/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the storage root and blob store (storage/store.c). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "storage/storage.h"
#include "tests/unit/unit.h"

static char tmpdir[256];

static char *root_path(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

/* Number of entries in blobs/sha256 (temp files included). */
static int count_blobs(struct stg_store *st)
{
	int fd = openat(stg_store_dirfd(st), "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || (de->d_name[1] && de->d_name[1] != '.'))
			n++;
	closedir(d);
	return n;
}

static void test_root_default(void)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
	char *saved_root = getenv("NIB_ROOT") ? xstrdup(getenv("NIB_ROOT")) : NULL;

	setenv("NIB_ROOT", "/x/root", 1);
	a = stg_root_default();
	CHECK_STREQ(a, "/x/root");
	unsetenv("NIB_ROOT");
	setenv("XDG_DATA_HOME", "/x/data", 1);
	b = stg_root_default();
	CHECK_STREQ(b, "/x/data/nib");
	unsetenv("XDG_DATA_HOME");
	setenv("HOME", "/home/u", 1);
	c = stg_root_default();
	CHECK_STREQ(c, "/home/u/.local/share/nib");
	if (saved_root)
		setenv("NIB_ROOT", saved_root, 1);
	free(saved_root);
}

static void test_open_layout(void)
{
	_cleanup_free_ char *path = root_path("layout");
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	_cleanup_free_ char *layout = NULL, *index = NULL;
	struct stat s;

	CHECK(stg_store_open(path, &st, &err) == 0);
	if (!st)
		return;
	CHECK_STREQ(stg_store_path(st), path);
	CHECK(nib_read_file_at(stg_store_dirfd(st), "oci-layout", 4096, &layout, NULL, &err) == 0);
	CHECK_STREQ(layout, "{\"imageLayoutVersion\":\"1.0.0\"}\n");
	CHECK(nib_read_file_at(stg_store_dirfd(st), "index.json", 4096, &index, NULL, &err) == 0);
	CHECK_STREQ(index, "{\"schemaVersion\":2,\"manifests\":[]}");
	CHECK(fstatat(stg_store_dirfd(st), "blobs/sha256", &s, 0) == 0 && S_ISDIR(s.st_mode));
	CHECK(fstatat(stg_store_nib_dirfd(st), "layers", &s, 0) == 0 && S_ISDIR(s.st_mode));
	CHECK(fstatat(stg_store_nib_dirfd(st), "cache", &s, 0) == 0 && S_ISDIR(s.st_mode));
	CHECK(fstatat(stg_store_nib_dirfd(st), "tmp", &s, 0) == 0 && S_ISDIR(s.st_mode));
	CHECK(fstatat(stg_store_nib_dirfd(st), "lock", &s, 0) == 0 && S_ISREG(s.st_mode));

	/* reopening keeps an existing index */
	CHECK(nib_write_file_atomic_at(stg_store_dirfd(st), "index.json", "{\"schemaVersion\":2}",
				       19, 0644, &err) == 0);
	stg_store_free(steal_pointer(&st));
	CHECK(stg_store_open(path, &st, &err) == 0);
	free(index);
	index = NULL;
	CHECK(nib_read_file_at(stg_store_dirfd(st), "index.json", 4096, &index, NULL, &err) == 0);
	CHECK_STREQ(index, "{\"schemaVersion\":2}");
	nib_err_clear(&err);
}

static void test_open_bad_layout(void)
{
	_cleanup_free_ char *path = root_path("badlayout");
	_cleanup_free_ char *file = NULL;
	struct stg_store *st = NULL;
	struct nib_error err = {0};

	CHECK(nib_mkdir_p_at(AT_FDCWD, path, 0755, &err) == 0);
	file = xasprintf("%s/oci-layout", path);
	CHECK(nib_write_file_atomic_at(AT_FDCWD, file, "{\"imageLayoutVersion\":\"2.0\"}", 28, 0644,
				       &err) == 0);
	CHECK(stg_store_open(path, &st, &err) < 0);
	CHECK(st == NULL);
	CHECK(err.kind == NIB_ERR_CORRUPT);
	CHECK(err.msg && strstr(err.msg, "oci-layout"));
	nib_err_clear(&err);

	/* a root that is a file */
	CHECK(stg_store_open(file, &st, &err) < 0);
	CHECK(err.msg && strstr(err.msg, file));
	nib_err_clear(&err);
}

static void test_blob_put_get(void)
{
	_cleanup_free_ char *path = root_path("blobs");
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	char d[NIB_DIGEST_LEN + 1], want[NIB_DIGEST_LEN + 1];
	_cleanup_free_ char *data = NULL;
	size_t len = 0;

	CHECK(stg_store_open(path, &st, &err) == 0);
	if (!st)
		return;
	nib_sha256_digest("hello", 5, want);
	CHECK(!stg_blob_exists(st, want));
	CHECK_INTEQ(stg_blob_size(st, want), -1);
	CHECK(stg_blob_open(st, want, &err) < 0 && err.kind == NIB_ERR_NOT_FOUND);
	CHECK(stg_blob_put(st, "hello", 5, NULL, d, &err) == 0);
	CHECK_STREQ(d, want);
	CHECK(stg_blob_exists(st, want));
	CHECK_INTEQ(stg_blob_size(st, want), 5);
	CHECK(stg_blob_read(st, want, 100, &data, &len, &err) == 0);
	CHECK(len == 5 && data && memcmp(data, "hello", 5) == 0);
	/* the second put is a no-op */
	CHECK(stg_blob_put(st, "hello", 5, want, NULL, &err) == 0);
	CHECK_INTEQ(count_blobs(st), 1);

	/* wrong expected digest: refused, nothing stored */
	CHECK(stg_blob_put(st, "world", 5, want, d, &err) < 0);
	CHECK(err.kind == NIB_ERR_CORRUPT);
	CHECK(err.msg && strstr(err.msg, want));
	CHECK(stg_blob_put(st, "world", 5, "sha256:zz", d, &err) < 0);
	CHECK(err.kind == NIB_ERR_CORRUPT);
	CHECK_INTEQ(count_blobs(st), 1);

	/* invalid digests are never looked up as paths */
	CHECK(!stg_blob_exists(st, "sha256:../../oci-layout"));
	CHECK(!stg_blob_exists(st, "md5:abc"));
	CHECK(stg_blob_open(st, "sha256:../x", &err) < 0 && err.kind == NIB_ERR_CORRUPT);

	/* read with a size limit */
	free(data);
	data = NULL;
	CHECK(stg_blob_read(st, want, 3, &data, &len, &err) < 0 && err.kind == NIB_ERR_CORRUPT);
	nib_err_clear(&err);
}

static void test_blob_read_corrupt(void)
{
	_cleanup_free_ char *path = root_path("corrupt");
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	char d[NIB_DIGEST_LEN + 1];
	_cleanup_free_ char *name = NULL, *data = NULL;

	CHECK(stg_store_open(path, &st, &err) == 0);
	if (!st)
		return;
	CHECK(stg_blob_put(st, "payload", 7, NULL, d, &err) == 0);
	name = xasprintf("blobs/sha256/%s", nib_digest_hex(d));
	CHECK(nib_write_file_atomic_at(stg_store_dirfd(st), name, "payloaX", 7, 0644, &err) == 0);
	CHECK(stg_blob_read(st, d, 100, &data, NULL, &err) < 0);
	CHECK(err.kind == NIB_ERR_CORRUPT);
	CHECK(err.msg && strstr(err.msg, d));
	nib_err_clear(&err);
}

static void test_writer(void)
{
	_cleanup_free_ char *path = root_path("writer");
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	char d[NIB_DIGEST_LEN + 1], want[NIB_DIGEST_LEN + 1];
	static char big[300000];

	CHECK(stg_store_open(path, &st, &err) == 0);
	if (!st)
		return;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	nib_sha256_digest(big, sizeof(big), want);

	/* streamed in pieces, verified, renamed */
	{
		_cleanup_(stg_blob_writer_freep) struct stg_blob_writer *w = NULL;
		CHECK(stg_blob_writer_new(st, &w, &err) == 0);
		if (!w)
			return;
		CHECK_INTEQ(count_blobs(st), 1); /* the temp file */
		CHECK(!stg_blob_exists(st, want));
		for (size_t off = 0; off < sizeof(big); off += 4096)
			CHECK(stg_blob_writer_write(w, big + off, MIN(4096, sizeof(big) - off),
						    &err) == 0);
		CHECK_INTEQ(stg_blob_writer_size(w), sizeof(big));
		CHECK(stg_blob_writer_commit(w, want, sizeof(big), d, &err) == 0);
		CHECK_STREQ(d, want);
	}
	CHECK(stg_blob_exists(st, want));
	CHECK_INTEQ(count_blobs(st), 1);

	/* wrong digest: error, nothing left */
	{
		_cleanup_(stg_blob_writer_freep) struct stg_blob_writer *w = NULL;
		char other[NIB_DIGEST_LEN + 1];
		nib_sha256_digest("x", 1, other);
		CHECK(stg_blob_writer_new(st, &w, &err) == 0);
		CHECK(stg_blob_writer_write(w, "y", 1, &err) == 0);
		CHECK(stg_blob_writer_commit(w, other, -1, d, &err) < 0);
		CHECK(err.kind == NIB_ERR_CORRUPT);
		CHECK(err.msg && strstr(err.msg, other));
		CHECK_INTEQ(count_blobs(st), 1);
		CHECK(!stg_blob_exists(st, other));
	}
	/* wrong size: error, nothing left */
	{
		_cleanup_(stg_blob_writer_freep) struct stg_blob_writer *w = NULL;
		char yd[NIB_DIGEST_LEN + 1];
		nib_sha256_digest("y", 1, yd);
		CHECK(stg_blob_writer_new(st, &w, &err) == 0);
		CHECK(stg_blob_writer_write(w, "y", 1, &err) == 0);
		CHECK(stg_blob_writer_commit(w, yd, 2, d, &err) < 0);
		CHECK(err.kind == NIB_ERR_CORRUPT);
		CHECK(!stg_blob_exists(st, yd));
	}
	CHECK_INTEQ(count_blobs(st), 1);
	/* abandoned writer: temp file removed at free */
	{
		struct stg_blob_writer *w = NULL;
		CHECK(stg_blob_writer_new(st, &w, &err) == 0);
		CHECK(stg_blob_writer_write(w, "z", 1, &err) == 0);
		CHECK_INTEQ(count_blobs(st), 2);
		stg_blob_writer_free(w);
	}
	CHECK_INTEQ(count_blobs(st), 1);
	/* no expectation: the digest is what was written */
	{
		_cleanup_(stg_blob_writer_freep) struct stg_blob_writer *w = NULL;
		char zd[NIB_DIGEST_LEN + 1];
		nib_sha256_digest("", 0, zd);
		CHECK(stg_blob_writer_new(st, &w, &err) == 0);
		CHECK(stg_blob_writer_commit(w, NULL, -1, d, &err) == 0);
		CHECK_STREQ(d, zd);
		CHECK_INTEQ(stg_blob_size(st, zd), 0);
	}
	nib_err_clear(&err);
}

/* Several processes writing the same and different blobs at once. */
static void test_concurrent_writers(void)
{
	_cleanup_free_ char *path = root_path("concurrent");
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	pid_t pids[6];

	for (int i = 0; i < 6; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct stg_store *c = NULL;
			char buf[64];
			int bad = 0;
			if (stg_store_open(path, &c, NULL) < 0)
				_exit(1);
			for (int j = 0; j < 50; j++) {
				int n =
				    snprintf(buf, sizeof(buf), "blob-%d", j % 10 + (i % 2) * 10);
				if (stg_blob_put(c, buf, (size_t)n, NULL, NULL, NULL) < 0)
					bad = 1;
			}
			stg_store_free(c);
			_exit(bad);
		}
	}
	for (int i = 0; i < 6; i++) {
		int status = 0;
		waitpid(pids[i], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK(stg_store_open(path, &st, &err) == 0);
	if (st)
		CHECK_INTEQ(count_blobs(st), 20);
	nib_err_clear(&err);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/nib-test-store.XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	RUN(test_root_default);
	RUN(test_open_layout);
	RUN(test_open_bad_layout);
	RUN(test_blob_put_get);
	RUN(test_blob_read_corrupt);
	RUN(test_writer);
	RUN(test_concurrent_writers);
	nib_rm_rf_at(AT_FDCWD, tmpdir, NULL);
	return unit_done();
}
