/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for builder/userdb: runc's lookup rules for USER (a number is a
 * UID, never a name) and bounded regular-file reads of /etc/passwd and
 * /etc/group inside a rootfs.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/userdb.h"
#include "tests/unit/unit.h"

static const char passwd[] = "1000:x:0:0:named 1000:/root:/bin/sh\n"
			     "root:x:0:0:root:/root:/bin/sh\n"
			     "\n"
			     "broken line\n"
			     "user:x:1000:1000:Test User:/home/user:/bin/sh\n"
			     "42:x:7:7:named 42:/n:/bin/sh\n"
			     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false";
static const char group[] = "100:x:0:user\n"
			    "root:x:0:\n"
			    "users:x:100:user,other\n"
			    "wheel:x:10:other,user\n"
			    "user:x:1000:user\n";

static void test_lookup(void)
{
	static const struct {
		const char *spec;
		int ok;
		unsigned uid, gid;
		const char *home, *groups, *msg;
	} rows[] = {
	    {"1000", 1, 1000, 1000, "/home/user", "0,100,10", NULL},
	    {"user", 1, 1000, 1000, "/home/user", "0,100,10", NULL},
	    {"42", 1, 42, 0, NULL, "", NULL},
	    {"4242", 1, 4242, 0, NULL, "", NULL},
	    {"0", 1, 0, 0, "/root", "", NULL},
	    {"", 1, 0, 0, "/root", "", NULL},
	    {"1000:100", 1, 1000, 100, "/home/user", "", NULL},
	    {"user:wheel", 1, 1000, 10, "/home/user", "", NULL},
	    {"user:5", 1, 1000, 5, "/home/user", "", NULL},
	    {"4242:users", 1, 4242, 100, NULL, "", NULL},
	    {"nosuch", 0, 0, 0, NULL, NULL, "user nosuch: no such user"},
	    {"user:nosuch", 0, 0, 0, NULL, NULL, "group nosuch: no such group"},
	    {":5", 0, 0, 0, NULL, NULL, "empty user name"},
	    {"4294967295", 0, 0, 0, NULL, NULL, "no such user"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct nib_error err = {0};
		uid_t u = 99;
		gid_t g = 99, groups[8];
		size_t ng = ARRAY_SIZE(groups);
		char *home = NULL, name[80];
		struct nib_buf gl = {0};
		int r = bld_userdb_lookup(passwd, group, rows[i].spec, &u, &g, groups, &ng, &home,
					  &err);
		bool ok;
		nib_buf_puts(&gl, "");
		for (size_t k = 0; r == 0 && k < ng; k++)
			nib_buf_printf(&gl, "%s%u", k ? "," : "", (unsigned)groups[k]);
		if (rows[i].ok)
			ok = r == 0 && u == rows[i].uid && g == rows[i].gid &&
			     (rows[i].home ? home && streq(home, rows[i].home) : !home) &&
			     streq(gl.data, rows[i].groups);
		else
			ok = r < 0 && err.msg && strstr(err.msg, rows[i].msg);
		snprintf(name, sizeof(name), "USER %s", rows[i].spec);
		unit_row(name, ok, err.msg ? err.msg : gl.data);
		free(home);
		nib_buf_free(&gl);
		nib_err_clear(&err);
	}
	uint32_t id = 0, id2 = 0;
	CHECK(bld_userdb_find_name(passwd, "user", &id, &id2) == 1 && id == 1000 && id2 == 1000);
	CHECK(bld_userdb_find_name(group, "users", &id, NULL) == 1 && id == 100);
	CHECK(bld_userdb_find_name(group, "nosuch", &id, NULL) == 0);
}

static void put(const char *path, const char *data, size_t n)
{
	CHECK(nib_write_file_atomic_at(AT_FDCWD, path, data, n, 0644, NULL) == 0);
}

/* Regular files inside the root only, bounded; never a hang. */
static void test_read(void)
{
	char top[] = "/tmp/nib-userdb.XXXXXX";
	struct nib_error err = {0};
	char *data = NULL;

	CHECK(mkdtemp(top) != NULL);
	_cleanup_free_ char *etc = xasprintf("%s/etc", top), *pw = xasprintf("%s/etc/passwd", top),
			    *gr = xasprintf("%s/etc/group", top);
	CHECK(mkdir(etc, 0755) == 0);
	_cleanup_close_ int root = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	/* missing: empty */
	CHECK(bld_userdb_read(root, "etc/passwd", &data, &err) == 0 && data && !*data);
	free(data);
	put(pw, passwd, strlen(passwd));
	CHECK(bld_userdb_read(root, "etc/passwd", &data, &err) == 0 && data && streq(data, passwd));
	free(data);
	/* a link out of the root resolves inside it */
	CHECK(symlink("/etc/hostname", gr) == 0);
	CHECK(bld_userdb_read(root, "etc/group", &data, &err) == 0 && data && !*data);
	free(data);
	unlink(gr);
	CHECK(symlink("../../../../../etc/hostname", gr) == 0);
	CHECK(bld_userdb_read(root, "etc/group", &data, &err) == 0 && data && !*data);
	free(data);
	unlink(gr);
	/* a FIFO: refused at once */
	CHECK(mkfifo(gr, 0644) == 0);
	data = NULL;
	CHECK(bld_userdb_read(root, "etc/group", &data, &err) < 0 && !data);
	CHECK_STREQ(err.msg, "the image's /etc/group is not a regular file");
	nib_err_clear(&err);
	unlink(gr);
	/* a folder */
	CHECK(mkdir(gr, 0755) == 0);
	CHECK(bld_userdb_read(root, "etc/group", &data, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "not a regular file"));
	nib_err_clear(&err);
	rmdir(gr);
	/* too large */
	size_t n = BLD_USERDB_MAX + 1;
	_cleanup_free_ char *big = xmalloc(n);
	memset(big, '\n', n);
	put(gr, big, n);
	CHECK(bld_userdb_read(root, "etc/group", &data, &err) < 0);
	CHECK_STREQ(err.msg, "the image's /etc/group is larger than 16 MiB");
	nib_err_clear(&err);
	nib_rm_rf_at(AT_FDCWD, top, NULL);
}

int main(void)
{
	RUN(test_lookup);
	RUN(test_read);
	return unit_done();
}
