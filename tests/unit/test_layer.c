/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: ownership records, ID maps, ChainIDs, layer extraction. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define NIB_STORAGE_INTERNAL 1
#include "storage/layer_internal.h"
#include "storage/storage.h"
#include "tests/unit/unit.h"

static void test_override_parse(void)
{
	struct stg_override o;
	char buf[STG_OVERRIDE_MAX];

	CHECK(stg_override_parse("0:42:0640:file", 14, &o, NULL) == 0);
	CHECK_INTEQ(o.uid, 0);
	CHECK_INTEQ(o.gid, 42);
	CHECK_INTEQ(o.mode, S_IFREG | 0640);
	CHECK(stg_override_parse("1000:1000:755", 13, &o, NULL) == 0);
	CHECK(!o.has_type);
	CHECK_INTEQ(o.mode, 0755);
	CHECK(stg_override_parse("0:0:04755:file", 14, &o, NULL) == 0);
	CHECK_INTEQ(o.mode & 07777, 04755);
	CHECK(stg_override_parse("0:0:0666:char-1-3", 17, &o, NULL) == 0);
	CHECK_INTEQ(o.mode, S_IFCHR | 0666);
	CHECK_INTEQ(major(o.rdev), 1);
	CHECK_INTEQ(minor(o.rdev), 3);
	/* a trailing NUL from C writers is accepted */
	CHECK(stg_override_parse("0:0:0755:dir\0", 13, &o, NULL) == 0);
	CHECK_INTEQ(o.mode, S_IFDIR | 0755);
	/* forward compatible: parts after the device numbers are ignored */
	CHECK(stg_override_parse("0:6:0660:block-8-1-x", 20, &o, NULL) == 0);
	CHECK_INTEQ(o.mode, S_IFBLK | 0660);
	static const char *bad[] = {"",		 "0:0",		  "a:0:0644",
				    "0:0:0648",	 "0:0:0644:what", "0:0:0644:char-1",
				    "-1:0:0644", "0:0:",	  "99999999999:0:0644"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct nib_error err = {0};
		CHECK(stg_override_parse(bad[i], strlen(bad[i]), &o, &err) < 0);
		CHECK(err.kind == NIB_ERR_CORRUPT);
		nib_err_clear(&err);
	}
	o = (struct stg_override){
	    .uid = 0, .gid = 5, .mode = S_IFBLK | 0660, .rdev = makedev(8, 1)};
	stg_override_format(&o, buf, sizeof(buf));
	CHECK_STREQ(buf, "0:5:0660:block-8-1");
	o = (struct stg_override){.uid = 1000, .gid = 1000, .mode = S_IFDIR | 01777};
	stg_override_format(&o, buf, sizeof(buf));
	CHECK_STREQ(buf, "1000:1000:1777:dir");
	o = (struct stg_override){.uid = 0, .gid = 0, .mode = S_IFREG | 04755};
	stg_override_format(&o, buf, sizeof(buf));
	CHECK_STREQ(buf, "0:0:4755:file");
}

static void test_idmap(void)
{
	struct stg_idmap_range r[] = {{0, 1000, 1}, {1, 100000, 65536}};
	uint32_t v;

	CHECK(stg_idmap_to_disk(r, 2, 0, &v) && v == 1000);
	CHECK(stg_idmap_to_disk(r, 2, 1, &v) && v == 100000);
	CHECK(stg_idmap_to_disk(r, 2, 65536, &v) && v == 165535);
	CHECK(!stg_idmap_to_disk(r, 2, 65537, &v));
	CHECK(stg_idmap_to_container(r, 2, 1000, &v) && v == 0);
	CHECK(stg_idmap_to_container(r, 2, 100042, &v) && v == 43);
	CHECK(!stg_idmap_to_container(r, 2, 999, &v));
}

static void test_chain_id(void)
{
	char out[NIB_DIGEST_LEN + 1], expect[NIB_DIGEST_LEN + 1];
	const char *a = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	const char *b = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	_cleanup_free_ char *s = xasprintf("%s %s", a, b);

	stg_chain_id(NULL, a, out);
	CHECK_STREQ(out, a);
	stg_chain_id(a, b, out);
	nib_sha256_digest(s, strlen(s), expect);
	CHECK_STREQ(out, expect);
}

/* ---- extraction of tars built in memory ---------------------------------- */

struct tb {
	struct archive *a;
	struct nib_buf buf;
};

static la_ssize_t tb_write(struct archive *a, void *d, const void *p, size_t n)
{
	nib_buf_append(&((struct tb *)d)->buf, p, n);
	return (la_ssize_t)n;
}

static void tb_open(struct tb *t)
{
	memset(t, 0, sizeof(*t));
	t->a = archive_write_new();
	archive_write_set_format_pax_restricted(t->a);
	archive_write_set_bytes_in_last_block(t->a, 1);
	archive_write_open(t->a, t, NULL, tb_write, NULL);
}

static void tb_add(struct tb *t, const char *name, mode_t type, mode_t perm, const char *data,
		   const char *link, int uid, int gid)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	archive_entry_set_mtime(e, 1700000000, 0);
	if (type == AE_IFLNK)
		archive_entry_set_symlink(e, link);
	else if (link)
		archive_entry_set_hardlink(e, link);
	if (type == AE_IFCHR)
		archive_entry_set_rdev(e, makedev(1, 3));
	archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
	archive_write_header(t->a, e);
	if (data)
		archive_write_data(t->a, data, strlen(data));
	archive_entry_free(e);
}

/* Extract the tar into root (a folder fd); returns the result. */
static int tb_extract(struct tb *t, int rootfd, enum stg_whiteout_mode wh,
		      const struct stg_idmap *map, struct nib_error *err)
{
	struct stg_extract_opts o = {.whiteouts = wh, .idmap = map, .name = "unit"};
	char path[] = "/tmp/nib-unit-layer.XXXXXX";
	int fd, r;

	archive_write_close(t->a);
	archive_write_free(t->a);
	stg_layer_limits_default(&o.limits);
	fd = mkstemp(path);
	unlink(path);
	nib_write_all(fd, t->buf.data, t->buf.len);
	lseek(fd, 0, SEEK_SET);
	r = stg_layer_extract_fd(rootfd, fd, &o, NULL, err);
	close(fd);
	nib_buf_free(&t->buf);
	return r;
}

static int mkroot(char *tmpl)
{
	if (!mkdtemp(tmpl))
		return -1;
	return open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void test_extract_basic(void)
{
	char dir[] = "/tmp/nib-unit-root.XXXXXX";
	_cleanup_close_ int root = mkroot(dir);
	struct nib_error err = {0};
	struct tb t;
	struct stat st;
	char buf[64];

	tb_open(&t);
	tb_add(&t, "./", AE_IFDIR, 0755, NULL, NULL, 0, 0);
	tb_add(&t, "etc/", AE_IFDIR, 0755, NULL, NULL, 0, 0);
	tb_add(&t, "etc/hostname", AE_IFREG, 0644, "box\n", NULL, 0, 0);
	tb_add(&t, "etc/link", AE_IFLNK, 0777, NULL, "../../../../etc/hostname", 0, 0);
	tb_add(&t, "etc/hard", AE_IFREG, 0644, NULL, "etc/hostname", 0, 0);
	tb_add(&t, "ro/", AE_IFDIR, 0555, NULL, NULL, 0, 0);
	tb_add(&t, "ro/x", AE_IFREG, 0600, "x", NULL, 0, 0);
	CHECK(tb_extract(&t, root, STG_WHITEOUT_OVERLAY, NULL, &err) == 0);
	if (err.msg)
		printf("  %s\n", err.msg);
	CHECK(fstatat(root, "etc/hostname", &st, 0) == 0 && st.st_size == 4);
	CHECK(st.st_nlink == 2);
	CHECK(st.st_mtime == 1700000000);
	CHECK(readlinkat(root, "etc/link", buf, sizeof(buf)) == 24);
	CHECK(fstatat(root, "ro", &st, 0) == 0 && (st.st_mode & 07777) == 0555);
	CHECK(fstatat(root, "ro/x", &st, 0) == 0);
	nib_err_clear(&err);
	nib_rm_rf_at(AT_FDCWD, dir, NULL);
}

static void test_extract_records(void)
{
	char dir[] = "/tmp/nib-unit-root.XXXXXX";
	_cleanup_close_ int root = mkroot(dir);
	struct stg_idmap_range ur = {0, (uint32_t)geteuid(), 1}, gr = {0, (uint32_t)getegid(), 1};
	struct stg_idmap map = {&ur, 1, &gr, 1};
	struct nib_error err = {0};
	struct stg_override o;
	struct tb t;
	struct stat st;
	_cleanup_close_ int fd = -1;

	/* with a map of one ID, every other owner becomes a record */
	tb_open(&t);
	tb_add(&t, "shadow", AE_IFREG, 0640, "s", NULL, 0, 42);
	tb_add(&t, "suid", AE_IFREG, 04755, "s", NULL, 0, 0);
	tb_add(&t, "null", AE_IFCHR, 0666, NULL, NULL, 0, 0);
	tb_add(&t, "home/", AE_IFDIR, 0700, NULL, NULL, 1000, 1000);
	CHECK(tb_extract(&t, root, STG_WHITEOUT_OVERLAY, &map, &err) == 0);
	if (err.msg)
		printf("  %s\n", err.msg);
	fd = openat(root, "shadow", O_RDONLY);
	CHECK(stg_override_get(fd, &o, NULL) == 1);
	CHECK(o.uid == 0 && o.gid == 42 && o.mode == (S_IFREG | 0640));
	close(fd);
	fd = openat(root, "suid", O_RDONLY);
	CHECK(stg_override_get(fd, &o, NULL) == 0);
	CHECK(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 04755);
	close(fd);
	fd = openat(root, "null", O_RDONLY);
	CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);
	CHECK(stg_override_get(fd, &o, NULL) == 1);
	CHECK(o.mode == (S_IFCHR | 0666) && o.rdev == makedev(1, 3));
	close(fd);
	fd = openat(root, "home", O_RDONLY | O_DIRECTORY);
	CHECK(stg_override_get(fd, &o, NULL) == 1);
	CHECK(o.uid == 1000 && o.gid == 1000 && o.mode == (S_IFDIR | 0700));
	nib_err_clear(&err);
	nib_rm_rf_at(AT_FDCWD, dir, NULL);
}

static void test_extract_whiteouts(void)
{
	char dir[] = "/tmp/nib-unit-root.XXXXXX";
	_cleanup_close_ int root = mkroot(dir);
	struct nib_error err = {0};
	struct tb t;
	struct stat st;
	char v[4];

	/* overlay form */
	tb_open(&t);
	tb_add(&t, "a/", AE_IFDIR, 0755, NULL, NULL, 0, 0);
	tb_add(&t, "a/.wh..wh..opq", AE_IFREG, 0644, NULL, NULL, 0, 0);
	tb_add(&t, "a/keep", AE_IFREG, 0644, "k", NULL, 0, 0);
	tb_add(&t, ".wh.gone", AE_IFREG, 0644, NULL, NULL, 0, 0);
	tb_add(&t, ".wh.dir", AE_IFREG, 0644, NULL, NULL, 0, 0);
	tb_add(&t, "dir/", AE_IFDIR, 0755, NULL, NULL, 0, 0);
	CHECK(tb_extract(&t, root, STG_WHITEOUT_OVERLAY, NULL, &err) == 0);
	if (err.msg)
		printf("  %s\n", err.msg);
	CHECK(fstatat(root, "gone", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
	      st.st_rdev == 0);
	CHECK(getxattr(dir, "user.overlay.opaque", v, sizeof(v)) < 0);
	_cleanup_free_ char *a = xasprintf("%s/a", dir), *d = xasprintf("%s/dir", dir);
	CHECK(getxattr(a, "user.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y');
	/* a folder replacing the whiteout of a lower one hides its content */
	CHECK(getxattr(d, "user.overlay.opaque", v, sizeof(v)) == 1);
	nib_rm_rf_at(AT_FDCWD, dir, NULL);
	nib_err_clear(&err);
}

static void test_extract_apply(void)
{
	char dir[] = "/tmp/nib-unit-root.XXXXXX";
	_cleanup_close_ int root = mkroot(dir);
	struct nib_error err = {0};
	struct tb t;
	struct stat st;

	tb_open(&t);
	tb_add(&t, "bin/", AE_IFDIR, 0755, NULL, NULL, 0, 0);
	tb_add(&t, "bin/dash", AE_IFREG, 0755, "d", NULL, 0, 0);
	tb_add(&t, "bin/sh", AE_IFLNK, 0777, NULL, "dash", 0, 0);
	tb_add(&t, "a/", AE_IFDIR, 0755, NULL, NULL, 0, 0);
	tb_add(&t, "a/old", AE_IFREG, 0644, "o", NULL, 0, 0);
	tb_add(&t, "a/b/", AE_IFDIR, 0755, NULL, NULL, 0, 0);
	tb_add(&t, "a/b/old", AE_IFREG, 0644, "o", NULL, 0, 0);
	tb_add(&t, "gone", AE_IFREG, 0644, "g", NULL, 0, 0);
	CHECK(tb_extract(&t, root, STG_WHITEOUT_APPLY, NULL, &err) == 0);
	/* the next layer: bin/sh replaced, a/ opaque with new content, gone deleted */
	tb_open(&t);
	tb_add(&t, "bin/sh", AE_IFLNK, 0777, NULL, "bash", 0, 0);
	tb_add(&t, "a/b/new", AE_IFREG, 0644, "n", NULL, 0, 0);
	tb_add(&t, "a/.wh..wh..opq", AE_IFREG, 0644, NULL, NULL, 0, 0);
	tb_add(&t, ".wh.gone", AE_IFREG, 0644, NULL, NULL, 0, 0);
	tb_add(&t, ".wh.never-there", AE_IFREG, 0644, NULL, NULL, 0, 0);
	CHECK(tb_extract(&t, root, STG_WHITEOUT_APPLY, NULL, &err) == 0);
	if (err.msg)
		printf("  %s\n", err.msg);
	char buf[16] = {0};
	CHECK(readlinkat(root, "bin/sh", buf, sizeof(buf)) == 4 && streq(buf, "bash"));
	CHECK(fstatat(root, "bin/dash", &st, 0) == 0);
	CHECK(fstatat(root, "a/old", &st, 0) < 0);
	CHECK(fstatat(root, "a/b/old", &st, 0) < 0);
	CHECK(fstatat(root, "a/b/new", &st, 0) == 0);
	CHECK(fstatat(root, "gone", &st, 0) < 0);
	nib_rm_rf_at(AT_FDCWD, dir, NULL);
	nib_err_clear(&err);
}

static void test_extract_refusals(void)
{
	char dir[] = "/tmp/nib-unit-root.XXXXXX";
	_cleanup_close_ int root = mkroot(dir);
	struct nib_error err = {0};
	struct tb t;

	tb_open(&t);
	tb_add(&t, "x/.wh..", AE_IFREG, 0644, NULL, NULL, 0, 0);
	CHECK(tb_extract(&t, root, STG_WHITEOUT_APPLY, NULL, &err) < 0);
	CHECK(err.kind == NIB_ERR_CORRUPT && strstr(err.msg, "/x/.wh..: malformed whiteout"));
	nib_err_clear(&err);
	tb_open(&t);
	tb_add(&t, "h", AE_IFREG, 0644, NULL, "/etc/passwd", 0, 0);
	CHECK(tb_extract(&t, root, STG_WHITEOUT_APPLY, NULL, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "hardlink target /etc/passwd not found"));
	nib_err_clear(&err);
	nib_rm_rf_at(AT_FDCWD, dir, NULL);
}

static void test_compression(void)
{
	struct stg_commit_opts o;

	CHECK_INTEQ(stg_compression_parse("gzip"), STG_COMPRESS_GZIP);
	CHECK_INTEQ(stg_compression_parse("zstd"), STG_COMPRESS_ZSTD);
	CHECK_INTEQ(stg_compression_parse("none"), STG_COMPRESS_NONE);
	CHECK_INTEQ(stg_compression_parse("xz"), -1);
	CHECK_STREQ(stg_compression_media_type(STG_COMPRESS_ZSTD), STG_MT_OCI_LAYER_ZSTD);
	setenv("SOURCE_DATE_EPOCH", "1234", 1);
	stg_commit_opts_init(&o);
	CHECK_INTEQ(o.timestamp, 1234);
	CHECK_INTEQ(o.basefd, -1);
	unsetenv("SOURCE_DATE_EPOCH");
	stg_commit_opts_init(&o);
	CHECK_INTEQ(o.timestamp, -1);
}

/* Commit `dir` (an upper folder) into memory and list the tar's names. */
static char *commit_names(const char *dir, const struct stg_commit_opts *o,
			  struct stg_layer_out *out, struct nib_error *err)
{
	_cleanup_close_ int tfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char path[] = "/tmp/nib-unit-commit.XXXXXX";
	int fd = mkstemp(path);
	struct nib_buf names = {0};
	struct archive *a;
	struct archive_entry *e;

	unlink(path);
	if (stg_layer_commit_fd(tfd, o, fd, out, err) < 0) {
		close(fd);
		return NULL;
	}
	lseek(fd, 0, SEEK_SET);
	a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	archive_read_open_fd(a, fd, 65536);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK)
		nib_buf_printf(&names, "%s%s", names.len ? " " : "", archive_entry_pathname(e));
	archive_read_free(a);
	close(fd);
	return nib_buf_steal(&names);
}

static void test_commit_upper(void)
{
	char dir[] = "/tmp/nib-unit-upper.XXXXXX";
	_cleanup_close_ int root = mkroot(dir);
	struct stg_commit_opts o;
	struct stg_layer_out out1, out2;
	struct nib_error err = {0};
	static const char *const excl[] = {"proc", "dev/", "etc/resolv.conf", NULL};

	mkdirat(root, "etc", 0755);
	mkdirat(root, "proc", 0555);
	mkdirat(root, "dev", 0755);
	mkdirat(root, "b", 0755);
	close(openat(root, "etc/resolv.conf", O_CREAT | O_WRONLY, 0644));
	close(openat(root, "etc/hosts2", O_CREAT | O_WRONLY, 0644));
	close(openat(root, "dev/null", O_CREAT | O_WRONLY, 0644));
	close(openat(root, "b/a-c", O_CREAT | O_WRONLY, 0644));
	if (mknodat(root, "gone", S_IFCHR | 0600, makedev(0, 0)) < 0)
		SKIP("cannot create a 0:0 character device here");
	fsetxattr(openat(root, "b", O_RDONLY | O_DIRECTORY), "user.overlay.opaque", "y", 1, 0);
	stg_commit_opts_init(&o);
	o.exclude = excl;
	o.timestamp = 0;
	_cleanup_free_ char *n1 = commit_names(dir, &o, &out1, &err);
	CHECK_STREQ(n1, ".wh.gone b/ b/.wh..wh..opq b/a-c dev/ etc/ etc/hosts2");
	CHECK_INTEQ(out1.entries, 7);
	/* the same tree, the same digests; zstd changes only the blob */
	_cleanup_free_ char *n2 = commit_names(dir, &o, &out2, &err);
	CHECK_STREQ(out1.digest, out2.digest);
	CHECK_STREQ(out1.diff_id, out2.diff_id);
	o.compression = STG_COMPRESS_ZSTD;
	_cleanup_free_ char *n3 = commit_names(dir, &o, &out2, &err);
	CHECK_STREQ(out1.diff_id, out2.diff_id);
	CHECK(!streq(out1.digest, out2.digest));
	/* a step may not make a .wh. name */
	close(openat(root, "etc/.wh.x", O_CREAT | O_WRONLY, 0644));
	CHECK(commit_names(dir, &o, &out2, &err) == NULL);
	CHECK(err.msg && strstr(err.msg, "/etc/.wh.x: names starting with"));
	nib_err_clear(&err);
	nib_rm_rf_at(AT_FDCWD, dir, NULL);
}

/* Committing into the store and into a file give the same digests and the
 * store holds the blob under its digest (gzip, zstd, none), with blocks of
 * several MiB so the compressors' workers share the stream. */
static void test_commit_store(void)
{
	char dir[] = "/tmp/nib-unit-upper.XXXXXX", sdir[] = "/tmp/nib-unit-store.XXXXXX";
	_cleanup_close_ int root = mkroot(dir);
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	struct nib_error err = {0};
	static const enum stg_compression cs[] = {STG_COMPRESS_GZIP, STG_COMPRESS_ZSTD,
						  STG_COMPRESS_NONE};
	char *big = xmalloc(3u << 20);

	CHECK(mkdtemp(sdir) != NULL);
	CHECK(stg_store_open(sdir, &st, &err) == 0);
	for (size_t i = 0; i < (3u << 20); i++)
		big[i] = (char)('a' + (i * 7 + i / 4096) % 13);
	for (int f = 0; f < 3; f++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", f);
		int fd = openat(root, name, O_CREAT | O_WRONLY, 0644);
		CHECK(nib_write_all(fd, big, (3u << 20) - (size_t)f) == 0);
		close(fd);
	}
	free(big);
	for (size_t c = 0; c < ARRAY_SIZE(cs) && st; c++) {
		struct stg_commit_opts o;
		struct stg_layer_out a, b;
		char path[] = "/tmp/nib-unit-commit.XXXXXX";
		int fd = mkstemp(path);
		unlink(path);
		stg_commit_opts_init(&o);
		o.compression = cs[c];
		o.timestamp = 0;
		CHECK(stg_layer_commit_fd(root, &o, fd, &a, &err) == 0);
		close(fd);
		CHECK(stg_layer_commit(st, root, &o, &b, &err) == 0);
		CHECK_STREQ(a.digest, b.digest);
		CHECK_STREQ(a.diff_id, b.diff_id);
		CHECK_INTEQ(a.size, b.size);
		CHECK_INTEQ(b.entries, 3);
		if (cs[c] == STG_COMPRESS_NONE)
			CHECK_STREQ(b.digest, b.diff_id);
		else
			CHECK(!streq(b.digest, b.diff_id));
		_cleanup_close_ int bfd = stg_blob_open(st, b.digest, &err);
		CHECK(bfd >= 0);
		/* the blob's content has the digest it is named by */
		struct nib_sha256 *h = nib_sha256_new();
		char buf[65536], got[NIB_DIGEST_LEN + 1];
		ssize_t n;
		while (bfd >= 0 && (n = read(bfd, buf, sizeof(buf))) > 0)
			nib_sha256_update(h, buf, (size_t)n);
		nib_sha256_final(h, got);
		nib_sha256_free(h);
		CHECK_STREQ(got, b.digest);
	}
	nib_err_clear(&err);
	nib_rm_rf_at(AT_FDCWD, dir, NULL);
	nib_rm_rf_at(AT_FDCWD, sdir, NULL);
}

/* vfs steps: a copy of the tree keeps each symlink's owner record (which
 * names the symlink's inode), and the comparison with the tree before
 * sees a symlink whose owner alone changed. */
static void test_commit_compare_links(void)
{
	char bdir[] = "/tmp/nib-unit-base.XXXXXX", tdir[] = "/tmp/nib-unit-tree.XXXXXX";
	_cleanup_close_ int base = mkroot(bdir), tree = mkroot(tdir), bd = -1, td = -1;
	struct stg_commit_opts o;
	struct stg_layer_out out;
	struct nib_error err = {0};
	struct stat st;
	uint32_t uid = 0, gid = 0;

	CHECK(mkdirat(base, "d", 0755) == 0);
	CHECK(symlinkat("x", base, "d/l") == 0);
	CHECK(symlinkat("y", base, "d/m") == 0);
	bd = openat(base, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (stg_link_owner_set(bd, "l", 1, 4, &err) < 0) {
		nib_err_clear(&err);
		nib_rm_rf_at(AT_FDCWD, bdir, NULL);
		nib_rm_rf_at(AT_FDCWD, tdir, NULL);
		SKIP("no user.* xattrs here");
	}
	CHECK(stg_layer_copy_tree(base, tree, &err) == 0);
	td = openat(tree, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fstatat(td, "l", &st, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK_INTEQ(stg_link_owner_get(td, "l", st.st_ino, &uid, &gid), 1);
	CHECK_INTEQ(uid, 1);
	CHECK_INTEQ(gid, 4);
	stg_commit_opts_init(&o);
	o.kind = STG_DIFF_COMPARE;
	o.basefd = base;
	o.timestamp = 0;
	_cleanup_free_ char *n1 = commit_names(tdir, &o, &out, &err);
	CHECK_STREQ(n1, "");
	/* chown -h of m in the step */
	CHECK(stg_link_owner_set(td, "m", 2, 5, &err) == 0);
	_cleanup_free_ char *n2 = commit_names(tdir, &o, &out, &err);
	CHECK_STREQ(n2, "d/ d/m");
	/* and of l back to root: its record goes */
	CHECK(stg_link_owner_set(td, "l", 0, 0, &err) == 0);
	_cleanup_free_ char *n3 = commit_names(tdir, &o, &out, &err);
	CHECK_STREQ(n3, "d/ d/l d/m");
	if (err.msg)
		printf("  %s\n", err.msg);
	nib_err_clear(&err);
	nib_rm_rf_at(AT_FDCWD, bdir, NULL);
	nib_rm_rf_at(AT_FDCWD, tdir, NULL);
}

int main(void)
{
	RUN(test_override_parse);
	RUN(test_idmap);
	RUN(test_chain_id);
	RUN(test_extract_basic);
	RUN(test_extract_records);
	RUN(test_extract_whiteouts);
	RUN(test_extract_apply);
	RUN(test_extract_refusals);
	RUN(test_compression);
	RUN(test_commit_upper);
	RUN(test_commit_store);
	RUN(test_commit_compare_links);
	return unit_done();
}
