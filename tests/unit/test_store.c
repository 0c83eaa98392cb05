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
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
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
	/* XDG base directory spec: a relative $XDG_DATA_HOME is ignored */
	setenv("XDG_DATA_HOME", "rel/data", 1);
	d = stg_root_default();
	CHECK_STREQ(d, "/home/u/.local/share/nib");
	unsetenv("XDG_DATA_HOME");
	/* an empty $NIB_ROOT is unset */
	setenv("NIB_ROOT", "", 1);
	e = stg_root_default();
	CHECK_STREQ(e, "/home/u/.local/share/nib");
	unsetenv("NIB_ROOT");
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

/* A small image: a config and one layer blob plus its manifest. `tag`
 * varies the config so images get different IDs. */
static void make_image(struct stg_store *st, const char *tag, const char *ref,
		       char manifest_digest[NIB_DIGEST_LEN + 1], char id[NIB_DIGEST_LEN + 1])
{
	struct nib_error err = {0};
	char layer[NIB_DIGEST_LEN + 1];
	_cleanup_free_ char *cfg = NULL, *man = NULL, *ldata = xasprintf("layer-%s", tag);

	CHECK(stg_blob_put(st, ldata, strlen(ldata), NULL, layer, &err) == 0);
	cfg = xasprintf("{\"architecture\":\"amd64\",\"config\":{\"Env\":[\"T=%s\"]},"
			"\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[\"%s\"],\"type\":\"layers\"}}",
			tag, layer);
	CHECK(stg_blob_put(st, cfg, strlen(cfg), NULL, id, &err) == 0);
	man = xasprintf(
	    "{\"config\":{\"digest\":\"%s\",\"mediaType\":\"" STG_MT_OCI_CONFIG
	    "\",\"size\":%zu},\"layers\":[{\"digest\":\"%s\",\"mediaType\":\"" STG_MT_OCI_LAYER
	    "\",\"size\":%zu}],\"mediaType\":\"" STG_MT_OCI_MANIFEST "\",\"schemaVersion\":2}",
	    id, strlen(cfg), layer, strlen(ldata));
	const char *refs[] = {ref};
	CHECK(stg_image_put(st, man, strlen(man), refs, ref ? 1 : 0, manifest_digest, &err) == 0);
	if (err.msg)
		printf("  make_image: %s\n", err.msg);
	nib_err_clear(&err);
}

static void test_images(void)
{
	_cleanup_free_ char *path = root_path("images");
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	char m1[NIB_DIGEST_LEN + 1], id1[NIB_DIGEST_LEN + 1], m2[NIB_DIGEST_LEN + 1],
	    id2[NIB_DIGEST_LEN + 1];
	struct stg_image *img = NULL;

	CHECK(stg_store_open(path, &st, &err) == 0);
	if (!st)
		return;
	make_image(st, "one", "docker.io/library/one:latest", m1, id1);
	make_image(st, "two", "localhost:5000/two:1", m2, id2);

	CHECK(stg_image_lookup(st, "docker.io/library/one:latest", &img, &err) == 0);
	if (img) {
		CHECK_STREQ(img->ref, "docker.io/library/one:latest");
		CHECK_STREQ(img->id, id1);
		CHECK_STREQ(img->desc.digest, m1);
		CHECK_STREQ(img->config->config.env.v[0], "T=one");
		CHECK(img->size > 0);
	}
	stg_image_free(img);
	img = NULL;
	/* by manifest digest, image ID, prefixes */
	CHECK(stg_image_lookup(st, m2, &img, &err) == 0 && img && streq(img->id, id2));
	stg_image_free(img);
	img = NULL;
	CHECK(stg_image_lookup(st, id2, &img, &err) == 0 && img && streq(img->desc.digest, m2));
	stg_image_free(img);
	img = NULL;
	char prefix[16];
	snprintf(prefix, sizeof(prefix), "%.12s", nib_digest_hex(id1));
	CHECK(stg_image_lookup(st, prefix, &img, &err) == 0 && img && streq(img->id, id1));
	stg_image_free(img);
	img = NULL;
	snprintf(prefix, sizeof(prefix), "%.2s", nib_digest_hex(id1));
	CHECK(stg_image_lookup(st, prefix, &img, &err) < 0 && err.kind == NIB_ERR_NOT_FOUND);
	CHECK(stg_image_lookup(st, "nothere:1", &img, &err) < 0 && err.kind == NIB_ERR_NOT_FOUND);
	CHECK(err.msg && strstr(err.msg, "nothere:1") && strstr(err.msg, path));

	/* a second tag, then untag */
	CHECK(stg_image_lookup(st, "localhost:5000/two:1", &img, &err) == 0);
	if (img)
		CHECK(stg_image_tag(st, "localhost:5000/two:2", &img->entry, &err) == 0);
	stg_image_free(img);
	img = NULL;
	{
		struct stg_image **list = NULL;
		size_t n = 0;
		CHECK(stg_image_list(st, &list, &n, &err) == 0);
		CHECK_INTEQ(n, 3);
		stg_image_list_free(list, n);
	}
	/* retagging a name moves it */
	{
		_cleanup_(stg_image_freep) struct stg_image *one = NULL;
		CHECK(stg_image_lookup(st, "docker.io/library/one:latest", &one, &err) == 0);
		if (one)
			CHECK(stg_image_tag(st, "localhost:5000/two:2", &one->entry, &err) == 0);
		CHECK(stg_image_lookup(st, "localhost:5000/two:2", &img, &err) == 0 && img &&
		      streq(img->id, id1));
		stg_image_free(img);
		img = NULL;
	}
	CHECK(stg_image_untag(st, "localhost:5000/two:2", &err) == 0);
	CHECK(stg_image_untag(st, "localhost:5000/two:2", &err) < 0 &&
	      err.kind == NIB_ERR_NOT_FOUND);
	CHECK(stg_image_lookup(st, "localhost:5000/two:1", &img, &err) == 0);
	stg_image_free(img);
	img = NULL;

	/* gc keeps what is named, then removes two's blobs after its removal */
	struct stg_gc_stats gs;
	bool busy = true;
	CHECK(stg_store_gc(st, false, &gs, &busy, &err) == 0);
	CHECK(!busy);
	CHECK_INTEQ(gs.blobs_removed, 0);
	CHECK_INTEQ(gs.blobs_kept, 6);
	CHECK_INTEQ(stg_image_remove_digest(st, id2, &err), 1);
	CHECK(stg_store_gc(st, false, &gs, &busy, &err) == 0);
	CHECK(!busy);
	CHECK_INTEQ(gs.blobs_removed, 3);
	CHECK_INTEQ(gs.blobs_kept, 3);
	CHECK(!stg_blob_exists(st, m2));
	CHECK(stg_blob_exists(st, m1));

	/* extracted layers: kept when a live image has the chain ID */
	{
		char live[NIB_DIGEST_LEN + 1], dead[NIB_DIGEST_LEN + 1];
		int nfd = stg_store_nib_dirfd(st);
		_cleanup_free_ char *lp = NULL, *dp = NULL;
		struct stat sb;
		nib_sha256_digest("layer-one", 9, live); /* its only diff ID */
		nib_sha256_digest("layer-two", 9, dead);
		lp = xasprintf("layers/%s/etc", nib_digest_hex(live));
		dp = xasprintf("layers/%s/etc", nib_digest_hex(dead));
		CHECK(nib_mkdir_p_at(nfd, lp, 0755, &err) == 0);
		CHECK(nib_mkdir_p_at(nfd, dp, 0755, &err) == 0);
		CHECK(nib_mkdir_p_at(nfd, "layers/not-a-chain", 0755, &err) == 0);
		/* the cache's own layout: layers/FORM-TAG/CHAIN, and the
		 * extraction a killed process left there */
		_cleanup_free_ char *flp = xasprintf("layers/ovl-id/%s/etc", nib_digest_hex(live));
		_cleanup_free_ char *fdp = xasprintf("layers/vfs-id/%s/etc", nib_digest_hex(dead));
		CHECK(nib_mkdir_p_at(nfd, flp, 0755, &err) == 0);
		CHECK(nib_mkdir_p_at(nfd, fdp, 0755, &err) == 0);
		CHECK(nib_mkdir_p_at(nfd, "layers/ovl-id/.tmp-0123456789abcdef-x/etc", 0755,
				     &err) == 0);
		CHECK(nib_mkdir_p_at(nfd, "layers/ovl-id/not-a-chain", 0755, &err) == 0);
		CHECK(stg_store_gc(st, false, &gs, &busy, &err) == 0);
		CHECK_INTEQ(gs.layers_removed, 2);
		CHECK(fstatat(nfd, lp, &sb, 0) == 0);
		CHECK(fstatat(nfd, dp, &sb, 0) < 0);
		CHECK(fstatat(nfd, "layers/not-a-chain", &sb, 0) == 0);
		CHECK(fstatat(nfd, flp, &sb, 0) == 0);
		CHECK(fstatat(nfd, fdp, &sb, 0) < 0);
		CHECK(fstatat(nfd, "layers/ovl-id/.tmp-0123456789abcdef-x", &sb, 0) < 0);
		CHECK(fstatat(nfd, "layers/ovl-id/not-a-chain", &sb, 0) == 0);
	}
	nib_err_clear(&err);
}

static void test_image_put_refused(void)
{
	_cleanup_free_ char *path = root_path("put");
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	static const char D[] =
	    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	_cleanup_free_ char *man = xasprintf(
	    "{\"config\":{\"digest\":\"%s\",\"mediaType\":\"" STG_MT_OCI_CONFIG "\",\"size\":3},"
	    "\"layers\":[],\"schemaVersion\":2}",
	    D);
	const char *ref = "x/y:z";

	CHECK(stg_store_open(path, &st, &err) == 0);
	if (!st)
		return;
	CHECK(stg_image_put(st, man, strlen(man), &ref, 1, NULL, &err) < 0);
	CHECK(err.kind == NIB_ERR_NOT_FOUND && strstr(err.msg, D));
	CHECK(stg_image_put(st, "{\"schemaVersion\":2,\"mediaType\":\"text/plain\"}", 44, &ref, 1,
			    NULL, &err) < 0);
	CHECK(err.kind == NIB_ERR_CORRUPT);
	CHECK_INTEQ(count_blobs(st), 0);
	nib_err_clear(&err);
}

/* An index.json entry that is an index pointing at itself (through a
 * second index). */
static void test_index_cycle(void)
{
	_cleanup_free_ char *path = root_path("cycle");
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	char d[NIB_DIGEST_LEN + 1];
	_cleanup_free_ char *ix = NULL;
	struct stg_image *img = NULL;
	struct stg_descriptor desc = {0};

	CHECK(stg_store_open(path, &st, &err) == 0);
	if (!st)
		return;
	/* an index whose only entry is an index with no platform that names
	 * a missing blob: loading it must stop, not loop or crash */
	static const char inner[] = "{\"manifests\":[],\"schemaVersion\":2}";
	CHECK(stg_blob_put(st, inner, strlen(inner), NULL, d, &err) == 0);
	ix = xasprintf("{\"manifests\":[{\"digest\":\"%s\",\"mediaType\":\"" STG_MT_OCI_INDEX
		       "\",\"size\":%zu}],\"schemaVersion\":2}",
		       d, strlen(inner));
	CHECK(stg_blob_put(st, ix, strlen(ix), NULL, d, &err) == 0);
	desc.media_type = xstrdup(STG_MT_OCI_INDEX);
	desc.digest = xstrdup(d);
	desc.size = (int64_t)strlen(ix);
	CHECK(stg_image_tag(st, "x/cycle:1", &desc, &err) == 0);
	CHECK(stg_image_lookup(st, "x/cycle:1", &img, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "x/cycle:1"));
	/* a hand-written index.json entry that names the index itself */
	stg_descriptor_clear(&desc);
	_cleanup_free_ char *self =
	    xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" STG_MT_OCI_INDEX "\","
		      "\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"" STG_ANNOTATION_REF_NAME
		      "\":\"self\"}}]}",
		      d, strlen(ix));
	CHECK(nib_write_file_atomic_at(stg_store_dirfd(st), "index.json", self, strlen(self), 0644,
				       &err) == 0);
	CHECK(stg_image_lookup(st, "self", &img, &err) < 0);
	CHECK(err.kind == NIB_ERR_NOT_FOUND || err.kind == NIB_ERR_CORRUPT);
	nib_err_clear(&err);
}

static void test_corrupt_index(void)
{
	_cleanup_free_ char *path = root_path("corruptindex");
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	struct stg_image *img = NULL;
	_cleanup_free_ char *after = NULL;
	char m[NIB_DIGEST_LEN + 1], id[NIB_DIGEST_LEN + 1];

	CHECK(stg_store_open(path, &st, &err) == 0);
	if (!st)
		return;
	make_image(st, "c", "x/c:1", m, id);
	CHECK(nib_write_file_atomic_at(stg_store_dirfd(st), "index.json", "{\"schemaVersion\":2,",
				       19, 0644, &err) == 0);
	CHECK(stg_image_lookup(st, "x/c:1", &img, &err) < 0);
	CHECK(err.kind == NIB_ERR_CORRUPT && strstr(err.msg, "index.json"));
	CHECK(stg_image_untag(st, "x/c:1", &err) < 0);
	struct stg_gc_stats gs;
	CHECK(stg_store_gc(st, false, &gs, NULL, &err) < 0);
	CHECK(stg_blob_exists(st, m)); /* nothing collected from a store it cannot read */
	CHECK(nib_read_file_at(stg_store_dirfd(st), "index.json", 100, &after, NULL, &err) == 0);
	CHECK_STREQ(after, "{\"schemaVersion\":2,");
	nib_err_clear(&err);
}

/* gc does nothing while another process has the root open. */
static void test_gc_busy(void)
{
	_cleanup_free_ char *path = root_path("gcbusy");
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	int p[2], q[2];
	char c;
	bool busy = false;
	struct stg_gc_stats gs;

	CHECK(stg_store_open(path, &st, &err) == 0);
	if (!st)
		return;
	CHECK(stg_blob_put(st, "orphan", 6, NULL, NULL, &err) == 0);
	CHECK(pipe(p) == 0 && pipe(q) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct stg_store *c2 = NULL;
		if (stg_store_open(path, &c2, NULL) < 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1 || read(q[0], &c, 1) != 1)
			_exit(1);
		stg_store_free(c2);
		_exit(0);
	}
	CHECK(read(p[0], &c, 1) == 1);
	CHECK(stg_store_gc(st, false, &gs, &busy, &err) == 0);
	CHECK(busy);
	CHECK_INTEQ(count_blobs(st), 1);
	CHECK(write(q[1], "x", 1) == 1);
	waitpid(pid, NULL, 0);
	CHECK(stg_store_gc(st, false, &gs, &busy, &err) == 0);
	CHECK(!busy);
	CHECK_INTEQ(gs.blobs_removed, 1);
	CHECK_INTEQ(count_blobs(st), 0);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	nib_err_clear(&err);
}

/* Indexes nested in indexes: a few levels resolve, too many are refused. */
static void test_index_nesting(void)
{
	_cleanup_free_ char *path = root_path("nesting");
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	char m[NIB_DIGEST_LEN + 1], id[NIB_DIGEST_LEN + 1], cur[NIB_DIGEST_LEN + 1];
	const char *mt = STG_MT_OCI_MANIFEST;
	size_t size;

	CHECK(stg_store_open(path, &st, &err) == 0);
	if (!st)
		return;
	make_image(st, "n", NULL, m, id);
	memcpy(cur, m, sizeof(cur));
	size = (size_t)stg_blob_size(st, m);
	for (int level = 1; level <= 7; level++) {
		_cleanup_free_ char *ix = xasprintf(
		    "{\"manifests\":[{\"digest\":\"%s\",\"mediaType\":\"%s\",\"size\":%zu}],"
		    "\"mediaType\":\"" STG_MT_OCI_INDEX "\",\"schemaVersion\":2}",
		    cur, mt, size);
		const char *ref = "x/nest:1";
		struct stg_image *img = NULL;
		CHECK(stg_image_put(st, ix, strlen(ix), &ref, 1, cur, &err) == 0);
		mt = STG_MT_OCI_INDEX;
		size = strlen(ix);
		int r = stg_image_lookup(st, ref, &img, &err);
		if (level <= 4) {
			CHECK(r == 0 && img && streq(img->id, id));
		} else {
			CHECK(r < 0 && err.kind == NIB_ERR_CORRUPT &&
			      strstr(err.msg, "too deeply"));
		}
		stg_image_free(img);
	}
	nib_err_clear(&err);
}

/* A Docker schema2 manifest fetched from a registry is tagged as its OCI
 * conversion; the Docker one stays as the source (lookup, convert, gc). */
static void test_image_import(void)
{
	_cleanup_free_ char *path = root_path("import");
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	char layer[NIB_DIGEST_LEN + 1], id[NIB_DIGEST_LEN + 1], dm[NIB_DIGEST_LEN + 1];
	const char *ldata = "docker-layer";
	_cleanup_free_ char *cfg = NULL, *man = NULL;
	struct stg_descriptor got = {0};

	CHECK(stg_store_open(path, &st, &err) == 0);
	if (!st)
		return;
	CHECK(stg_blob_put(st, ldata, strlen(ldata), NULL, layer, &err) == 0);
	cfg = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"diff_ids\":"
			"[\"%s\"],\"type\":\"layers\"}}",
			layer);
	CHECK(stg_blob_put(st, cfg, strlen(cfg), NULL, id, &err) == 0);
	/* as a registry serves it: indented, Docker media types */
	man = xasprintf("{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"" STG_MT_DOCKER_MANIFEST
			"\",\n   \"config\": {\"mediaType\": \"" STG_MT_DOCKER_CONFIG
			"\", \"size\": %zu, \"digest\": \"%s\"},\n   \"layers\": [{\"mediaType\": "
			"\"" STG_MT_DOCKER_LAYER_GZIP "\", \"size\": %zu, \"digest\": \"%s\"}]\n}",
			strlen(cfg), id, strlen(ldata), layer);
	CHECK(stg_blob_put(st, man, strlen(man), NULL, dm, &err) == 0);
	struct stg_descriptor d = {
	    .media_type = STG_MT_DOCKER_MANIFEST, .digest = dm, .size = (int64_t)strlen(man)};
	CHECK(stg_image_import(st, "r.example/d/img:1", &d, &got, &err) == 0);
	if (err.msg)
		printf("  import: %s\n", err.msg);
	CHECK_STREQ(got.media_type, STG_MT_OCI_MANIFEST);
	CHECK(got.digest && !streq(got.digest, dm));
	CHECK_STREQ(stg_map_get(&got.annotations, STG_ANNOTATION_SOURCE_DIGEST), dm);
	{
		_cleanup_(stg_image_freep) struct stg_image *img = NULL;
		CHECK(stg_image_lookup(st, "r.example/d/img:1", &img, &err) == 0);
		if (img) {
			CHECK_STREQ(img->desc.digest, got.digest);
			CHECK_STREQ(img->desc.media_type, STG_MT_OCI_MANIFEST);
			CHECK_STREQ(img->manifest->config.media_type, STG_MT_OCI_CONFIG);
			CHECK_STREQ(img->manifest->config.digest, id);
			CHECK_STREQ(img->manifest->layers[0].media_type, STG_MT_OCI_LAYER_GZIP);
			CHECK_STREQ(img->manifest->layers[0].digest, layer);
			CHECK_STREQ(img->source.digest, dm);
			CHECK_STREQ(img->source.media_type, STG_MT_DOCKER_MANIFEST);
			CHECK_INTEQ(img->source.size, strlen(man));
			CHECK_STREQ(stg_image_digest(img), dm);
			/* Docker form: the registry's own bytes; OCI: the stored one */
			struct stg_descriptor c = {0};
			CHECK(stg_image_convert(st, img, STG_FORMAT_DOCKER, &c, &err) == 0);
			CHECK_STREQ(c.digest, dm);
			stg_descriptor_clear(&c);
			CHECK(stg_image_convert(st, img, STG_FORMAT_OCI, &c, &err) == 0);
			CHECK_STREQ(c.digest, got.digest);
			stg_descriptor_clear(&c);
		}
	}
	{
		/* found by the registry's digest too */
		_cleanup_(stg_image_freep) struct stg_image *img = NULL;
		CHECK(stg_image_lookup(st, dm, &img, &err) == 0 && img &&
		      streq(img->desc.digest, got.digest));
	}
	/* gc keeps both manifests, the config and the layer */
	struct stg_gc_stats gs;
	CHECK(stg_store_gc(st, false, &gs, NULL, &err) == 0);
	CHECK_INTEQ(gs.blobs_removed, 0);
	CHECK_INTEQ(gs.blobs_kept, 4);
	/* an OCI manifest is tagged as it is */
	{
		struct stg_descriptor o = {0};
		CHECK(stg_image_import(st, "r.example/o/img:1", &got, &o, &err) == 0);
		CHECK_STREQ(o.digest, got.digest);
		stg_descriptor_clear(&o);
	}
	/* untagged, the Docker manifest goes with the image */
	CHECK(stg_image_untag(st, "r.example/d/img:1", &err) == 0);
	CHECK(stg_image_untag(st, "r.example/o/img:1", &err) == 0);
	CHECK(stg_store_gc(st, false, &gs, NULL, &err) == 0);
	CHECK_INTEQ(gs.blobs_removed, 4);
	/* a foreign (nondistributable) Docker layer has an OCI name too */
	{
		_cleanup_free_ char *fm =
		    xasprintf("{\"schemaVersion\":2,\"mediaType\":\"" STG_MT_DOCKER_MANIFEST
			      "\",\"config\":{\"mediaType\":\"" STG_MT_DOCKER_CONFIG
			      "\",\"size\":%zu,\"digest\":\"%s\"},\"layers\":[{\"mediaType\":"
			      "\"" STG_MT_DOCKER_FOREIGN "\",\"size\":%zu,\"digest\":\"%s\","
			      "\"urls\":[\"https://r.example/l\"]}]}",
			      strlen(cfg), id, strlen(ldata), layer);
		_cleanup_(stg_image_freep) struct stg_image *img = NULL;
		CHECK(stg_blob_put(st, cfg, strlen(cfg), NULL, id, &err) == 0);
		CHECK(stg_blob_put(st, fm, strlen(fm), NULL, dm, &err) == 0);
		d.size = (int64_t)strlen(fm);
		CHECK(stg_image_import(st, "r.example/foreign:1", &d, NULL, &err) == 0);
		CHECK(stg_image_lookup(st, "r.example/foreign:1", &img, &err) == 0);
		if (img) {
			CHECK_STREQ(img->manifest->layers[0].media_type, STG_MT_OCI_ND_LAYER_GZIP);
			CHECK_STREQ(img->manifest->layers[0].urls.v[0], "https://r.example/l");
			CHECK_STREQ(img->source.digest, dm);
		}
	}
	/* a document that is not a manifest is refused naming the reference */
	CHECK(stg_blob_put(
		  st, "{\"schemaVersion\":2,\"mediaType\":\"" STG_MT_DOCKER_MANIFEST "\"}",
		  strlen("{\"schemaVersion\":2,\"mediaType\":\"" STG_MT_DOCKER_MANIFEST "\"}"),
		  NULL, dm, &err) == 0);
	d.size =
	    (int64_t)strlen("{\"schemaVersion\":2,\"mediaType\":\"" STG_MT_DOCKER_MANIFEST "\"}");
	CHECK(stg_image_import(st, "r.example/bad:1", &d, NULL, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "r.example/bad:1"));
	stg_descriptor_clear(&got);
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
	RUN(test_images);
	RUN(test_image_put_refused);
	RUN(test_index_cycle);
	RUN(test_index_nesting);
	RUN(test_corrupt_index);
	RUN(test_gc_busy);
	RUN(test_image_import);
	nib_rm_rf_at(AT_FDCWD, tmpdir, NULL);
	return unit_done();
}
