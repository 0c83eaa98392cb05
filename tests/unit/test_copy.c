/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the COPY/ADD engine (builder/copy*.c): a table of cases,
 * each a context tree, an image tree and instruction options, checked
 * against the listing of what the copy changed in the image (path, type,
 * uid:gid, mode, size, link target). Every case also checks that nothing
 * was written outside the image's folder.
 *
 * As root the engine chowns for real; as any other user (or with
 * NIB_COPY_TEST_MODE=xattr) it runs in single-UID mode and owners are read
 * back from the user.containers.override_stat xattr.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "builder/copy.h"
#include "containerfile/containerfile.h"
#include "storage/storage.h"
#include "tests/unit/unit.h"

extern char **environ;

static char top[256];
static bool xattr_mode;
static enum bld_copy_chown_mode chown_mode;

enum {
	F_ADD = 1 << 0,
	F_PARENTS = 1 << 1,
	F_FROM = 1 << 2, /* sources from a rootfs (--from) */
	F_LINK = 1 << 3,
	F_TS = 1 << 4,	  /* timestamp 1234 */
	F_MTIME = 1 << 5, /* list mtimes */
	F_HEREDOC = 1 << 6,
	F_EMPTY_BASE = 1 << 7,
	F_ROOT = 1 << 8, /* needs real root (skipped in xattr mode) */
	F_NOUNPACK = 1 << 9,
	F_XATTRS = 1 << 10, /* list xattr names and value sizes */
};

/* A VFS_CAP_REVISION_2 security.capability value: cap_net_bind_service
 * permitted and effective. */
static const unsigned char cap_v2[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04};

struct tcase {
	const char *name;
	const char *ctx;  /* context tree */
	const char *base; /* extra image entries (after the default base) */
	const char *srcs; /* space-separated */
	const char *dest;
	const char *workdir;
	const char *chown, *chmod;
	const char *excludes; /* space-separated --exclude patterns */
	const char *ignore;   /* space-separated .dockerignore patterns */
	unsigned flags;
	const char *want; /* the changed entries, one per line */
	const char *err;  /* expected error (substring), or NULL */
};

/* ---- trees ---------------------------------------------------------------------- */

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void mkparents(const char *root, const char *rel)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
}

static void set_owner(const char *path, unsigned uid, unsigned gid, mode_t mode)
{
	struct stat sb;

	/* no user xattrs on device nodes: root gives them real owners */
	if (!xattr_mode || (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode) &&
			    geteuid() == 0)) {
		if (lchown(path, uid, gid) < 0)
			die(path);
		return;
	}
	struct stg_override rec = {.uid = uid, .gid = gid, .mode = mode};
	char v[STG_OVERRIDE_MAX];
	struct stat st;

	lstat(path, &st);
	rec.mode = (st.st_mode & S_IFMT) | (mode & 07777);
	rec.has_type = true;
	stg_override_format(&rec, v, sizeof(v));
	if (lsetxattr(path, STG_XATTR_OVERRIDE_STAT, v, strlen(v), 0) < 0)
		die(path);
}

static void make_archive(const char *path, const char *kind);

/*
 * Tree spec, one entry per line (or ';'):
 *   f PATH MODE [CONTENT]    d PATH MODE    l PATH TARGET    h PATH TARGET
 *   o PATH UID:GID           a PATH KIND (tar archive: none gz bz2 xz zst evil)
 * "@OUT@" in a target is the absolute path of the folder outside the image.
 */
static void build_tree(const char *root, const char *spec)
{
	char *copy, *save = NULL, *line;
	char out[512];

	if (!spec)
		return;
	snprintf(out, sizeof(out), "%s/outside", top);
	copy = xstrdup(spec);
	for (line = strtok_r(copy, "\n;", &save); line; line = strtok_r(NULL, "\n;", &save)) {
		char kind, a[512] = "", b[512] = "", c[512] = "", p[4096];
		int n;
		struct timespec ts[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};

		while (*line == ' ')
			line++;
		if (!*line)
			continue;
		n = sscanf(line, "%c %511s %511s %511[^\n]", &kind, a, b, c);
		if (n < 2)
			continue;
		snprintf(p, sizeof(p), "%s/%s", root, a);
		mkparents(root, a);
		switch (kind) {
		case 'f': {
			int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
			if (fd < 0)
				die(p);
			if (n >= 4 && write(fd, c, strlen(c)) < 0)
				die(p);
			fchmod(fd, (mode_t)strtoul(b, NULL, 8));
			futimens(fd, ts);
			close(fd);
			break;
		}
		case 'd':
			mkdir(p, 0700);
			chmod(p, (mode_t)strtoul(b, NULL, 8));
			utimensat(AT_FDCWD, p, ts, 0);
			break;
		case 'l': {
			_cleanup_free_ char *t = NULL;
			char *at = strstr(b, "@OUT@");
			t = at ? xasprintf("%.*s%s%s", (int)(at - b), b, out, at + 5) : xstrdup(b);
			if (symlink(t, p) < 0)
				die(p);
			break;
		}
		case 'h': {
			char t[4096];
			snprintf(t, sizeof(t), "%s/%s", root, b);
			if (link(t, p) < 0)
				die(p);
			break;
		}
		case 'o': {
			unsigned u, g;
			struct stat st;
			sscanf(b, "%u:%u", &u, &g);
			lstat(p, &st);
			set_owner(p, u, g, st.st_mode & 07777);
			break;
		}
		case 'a':
			make_archive(p, b);
			break;
		case 'n': { /* n PATH c|b MAJOR:MINOR: a device node (root) */
			unsigned ma, mi;
			sscanf(c, "%u:%u", &ma, &mi);
			if (mknod(p, (b[0] == 'b' ? S_IFBLK : S_IFCHR) | 0620, makedev(ma, mi)) <
				0 ||
			    chmod(p, 0620) < 0)
				die(p);
			break;
		}
		case 'x': { /* x PATH NAME VALUE ("cap": a file capability) */
			struct stat xs;
			/* user xattrs need write permission: lend it for a moment */
			if (lstat(p, &xs) == 0 && !S_ISLNK(xs.st_mode))
				chmod(p, (xs.st_mode & 07777) | 0200);
			if (streq(c, "cap")) {
				if (lsetxattr(p, b, cap_v2, sizeof(cap_v2), 0) < 0)
					die(p);
			} else if (lsetxattr(p, b, c, strlen(c), 0) < 0) {
				die(p);
			}
			if (!S_ISLNK(xs.st_mode))
				chmod(p, xs.st_mode & 07777);
			break;
		}
		}
	}
	free(copy);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One line per entry below `dir`: "/path t uid:gid mode size [-> target]". */
/* " x:NAME=SIZE" for each xattr but the ownership record; a carried
 * "user.containers.override_NAME" is listed as NAME (as layers carry it). */
static void list_xattrs(const char *path, char *line, size_t size)
{
	char names[4096];
	ssize_t n = llistxattr(path, names, sizeof(names));
	_cleanup_strv_ struct nib_strv v = {0};

	for (char *p = names; n > 0 && p < names + n; p += strlen(p) + 1) {
		const char *shown = p;
		if (streq(p, STG_XATTR_OVERRIDE_STAT))
			continue;
		if (nib_str_has_prefix(p, STG_XATTR_OVERRIDE_PREFIX))
			shown = p + strlen(STG_XATTR_OVERRIDE_PREFIX);
		nib_strv_pushf(&v, " x:%s=%zd", shown, lgetxattr(path, p, NULL, 0));
	}
	nib_strv_sort(&v);
	for (size_t i = 0; i < v.len; i++) {
		size_t l = strlen(line);
		snprintf(line + l, size - l, "%s", v.v[i]);
	}
}

static bool list_x;

static void list_tree(const char *root, const char *rel, bool mtimes, struct nib_strv *out)
{
	char p[4096];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	d = opendir(p);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char cp[4096], crel[4096], line[16384], ov[128];
		struct stat st;
		unsigned uid, gid;
		mode_t mode;
		ssize_t n;
		char t;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		snprintf(crel, sizeof(crel), "%s/%s", rel, de->d_name);
		snprintf(cp, sizeof(cp), "%s%s", root, crel);
		if (lstat(cp, &st) < 0)
			continue;
		uid = st.st_uid;
		gid = st.st_gid;
		mode = st.st_mode & 07777;
		if (xattr_mode && st.st_uid == geteuid())
			uid = gid = 0; /* the single mapped ID is root inside */
		/* storage/storage.h: owner from the record, mode from disk
		 * unless the record's type differs */
		n = lgetxattr(cp, STG_XATTR_OVERRIDE_STAT, ov, sizeof(ov) - 1);
		if (n > 0) {
			struct stg_override rec;
			if (stg_override_parse(ov, (size_t)n, &rec, NULL) == 0) {
				uid = rec.uid;
				gid = rec.gid;
				if (rec.has_type && (rec.mode & S_IFMT) != (st.st_mode & S_IFMT)) {
					/* an emulated device node */
					mode = rec.mode & 07777;
					st.st_mode = rec.mode;
					st.st_rdev = rec.rdev;
				}
			}
		}
		t = S_ISDIR(st.st_mode)	  ? 'd'
		    : S_ISLNK(st.st_mode) ? 'l'
		    : S_ISREG(st.st_mode) ? 'f'
					  : 'o';
		if (t == 'l') {
			char target[4096];
			ssize_t tl = readlink(cp, target, sizeof(target) - 1);
			target[tl < 0 ? 0 : tl] = '\0';
			snprintf(line, sizeof(line), "%s l %u:%u -> %s", crel, uid, gid, target);
		} else if (t == 'f') {
			snprintf(line, sizeof(line), "%s f %u:%u %o %lld%s", crel, uid, gid, mode,
				 (long long)st.st_size, st.st_nlink > 1 ? " n2" : "");
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			snprintf(line, sizeof(line), "%s %c %u:%u %o %u:%u", crel,
				 S_ISCHR(st.st_mode) ? 'c' : 'b', uid, gid, mode, major(st.st_rdev),
				 minor(st.st_rdev));
		} else {
			snprintf(line, sizeof(line), "%s %c %u:%u %o", crel, t, uid, gid, mode);
		}
		if (list_x && t != 'l')
			list_xattrs(cp, line, sizeof(line));
		if (mtimes && t != 'l') {
			size_t l = strlen(line);
			snprintf(line + l, sizeof(line) - l, " m%lld", (long long)st.st_mtime);
		}
		nib_strv_push(out, line);
		if (t == 'd')
			list_tree(root, crel, mtimes, out);
	}
	if (out->len > 1)
		qsort(out->v, out->len, sizeof(char *), cmp_str);
}

static void split_words(const char *s, struct nib_strv *out)
{
	_cleanup_free_ char *c = s ? xstrdup(s) : NULL;
	char *save = NULL;
	if (!c)
		return;
	for (char *w = strtok_r(c, " ", &save); w; w = strtok_r(NULL, " ", &save))
		nib_strv_push(out, w);
}

static bool dir_empty(const char *p)
{
	_cleanup_closedir_ DIR *d = opendir(p);
	struct dirent *de;
	if (!d)
		return true;
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			return false;
	return true;
}

/* The image every case starts from (unless F_EMPTY_BASE). */
static void write_base(const char *root)
{
	char p[4096];
	FILE *f;
	struct timespec ts[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};

	snprintf(p, sizeof(p), "%s/etc", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/etc/passwd", root);
	f = fopen(p, "w");
	fputs("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/etc/group", root);
	f = fopen(p, "w");
	fputs("root:x:0:\nstaff:x:50:\napp:x:1001:\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/etc", root);
	utimensat(AT_FDCWD, p, ts, 0);
}

/* With a single UID a symlink's owner cannot be recorded (Linux allows no
 * user.* xattrs on symlinks): it is the mapped ID, 0:0 inside. */
static char *symlinks_as_mapped(const char *want)
{
	_cleanup_free_ char *c = xstrdup(want);
	struct nib_buf b = {0};
	char *save = NULL;

	for (char *line = strtok_r(c, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *l = strstr(line, " l ");
		char *sp = l ? strchr(l + 3, ' ') : NULL;
		if (b.len)
			nib_buf_putc(&b, '\n');
		if (l && sp) {
			nib_buf_append(&b, line, (size_t)(l - line) + 3);
			nib_buf_puts(&b, "0:0");
			nib_buf_puts(&b, sp);
		} else {
			nib_buf_puts(&b, line);
		}
	}
	return nib_buf_steal(&b);
}

static void run_case(const struct tcase *tc)
{
	char ctx[300], root[300], outside[300], cmd[1200];
	_cleanup_strv_ struct nib_strv srcs = {0}, excl = {0}, ign = {0}, before = {0}, after = {0},
				       changed = {0};
	struct cf_ignore *ig = NULL;
	struct bld_copy_matcher matcher;
	struct bld_copy_heredoc hd = {.name = "EOF", .data = "hello\n", .len = 6};
	struct bld_copy_opts o;
	struct nib_error err = {0};
	_cleanup_free_ char *got = NULL, *want = NULL;
	_cleanup_(cf_chmod_clear) struct cf_chmod chmod = {0};
	int ctxfd, rootfd, r;
	char why[16384];
	bool ok;

	if ((tc->flags & F_ROOT) && geteuid() != 0) {
		printf("SKIP %s: needs root (mknod)\n", tc->name);
		unit_skipped++;
		return;
	}
	snprintf(ctx, sizeof(ctx), "%s/ctx", top);
	snprintf(root, sizeof(root), "%s/root", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s' '%s' '%s'", top,
		 ctx, root, outside);
	if (system(cmd) != 0)
		die("rm");
	mkdir(ctx, 0755);
	mkdir(root, 0755);
	mkdir(outside, 0755);
	build_tree(ctx, tc->ctx);
	if (!(tc->flags & F_EMPTY_BASE))
		write_base(root);
	build_tree(root, tc->base);
	list_x = tc->flags & F_XATTRS;
	list_tree(root, "", tc->flags & F_MTIME, &before);

	split_words(tc->srcs, &srcs);
	split_words(tc->excludes, &excl);
	split_words(tc->ignore, &ign);
	ctxfd = open(ctx, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bld_copy_opts_init(&o);
	o.add = tc->flags & F_ADD;
	o.srcs = (const char *const *)srcs.v;
	o.n_srcs = srcs.len;
	if (tc->flags & F_HEREDOC) {
		o.heredocs = &hd;
		o.n_heredocs = 1;
	}
	o.dest = tc->dest;
	o.workdir = tc->workdir;
	o.src_fd = ctxfd;
	o.from_rootfs = tc->flags & F_FROM;
	if (ign.len) {
		ig = cf_ignore_new((const char *const *)ign.v, ign.len, NULL);
		if (!ig)
			die("ignore");
		bld_copy_matcher_cf(&matcher, ig);
		o.ignore = &matcher;
	}
	o.excludes = (const char *const *)excl.v;
	o.n_excludes = excl.len;
	o.chown = tc->chown;
	/* --chmod is checked by the plan (containerfile), before the copy */
	bool chmod_ok = !tc->chmod || cf_chmod_parse(tc->chmod, &chmod, &err) == 0;
	o.chmod = chmod.set ? &chmod : NULL;
	o.parents = tc->flags & F_PARENTS;
	o.link = tc->flags & F_LINK;
	o.no_unpack = tc->flags & F_NOUNPACK;
	o.chown_mode = chown_mode;
	o.timestamp = (tc->flags & F_TS) ? 1234 : -1;
	if (tc->flags & F_LINK) {
		/* the caller resolves --chown names in the stage's rootfs */
		o.user_root_fd = rootfd;
		snprintf(cmd, sizeof(cmd), "%s/link", top);
		mkdir(cmd, 0755);
	}
	{
		int dfd = rootfd;
		if (tc->flags & F_LINK)
			dfd = open(cmd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = chmod_ok ? bld_copy_run(&o, dfd, NULL, &err) : -1;
		if (tc->flags & F_LINK) {
			nib_strv_free(&before);
			list_tree(cmd, "", false, &after);
			close(dfd);
			snprintf(cmd, sizeof(cmd), "rm -rf '%s/link'", top);
			if (system(cmd) != 0)
				die("rm");
		}
	}
	if (!(tc->flags & F_LINK))
		list_tree(root, "", tc->flags & F_MTIME, &after);
	close(ctxfd);
	close(rootfd);
	cf_ignore_free(ig);

	for (size_t i = 0; i < after.len; i++)
		if (nib_strv_find(&before, after.v[i]) < 0)
			nib_strv_push(&changed, after.v[i]);
	got = nib_strv_join(&changed, "\n");
	if (xattr_mode && tc->want)
		want = symlinks_as_mapped(tc->want);
	if (tc->err) {
		ok = r < 0 && err.msg && strstr(err.msg, tc->err);
		snprintf(why, sizeof(why), "expected error \"%s\", got %s%s", tc->err,
			 r < 0 ? "error: " : "success", r < 0 ? err.msg : "");
	} else {
		ok = r == 0 && fnmatch(want ? want : tc->want, got, 0) == 0;
		snprintf(why, sizeof(why), "%s%s\n--- got:\n%s\n--- want:\n%s",
			 r < 0 ? "error: " : "", r < 0 ? err.msg : "", got, want ? want : tc->want);
	}
	if (!dir_empty(outside)) {
		ok = false;
		snprintf(why, sizeof(why), "wrote outside the image (%s)", outside);
	}
	unit_row(tc->name, ok, ok ? NULL : why);
	nib_err_clear(&err);
}

#include "tests/unit/test_copy_cases.h"

/* ---- archives ------------------------------------------------------------------ */

static void add_entry(struct archive *a, const char *name, mode_t type, mode_t perm, int uid,
		      int gid, const char *data, const char *link)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	archive_entry_set_mtime(e, 1500000000, 0);
	if (link && type == AE_IFLNK)
		archive_entry_set_symlink(e, link);
	else if (link)
		archive_entry_set_hardlink(e, link);
	archive_entry_set_size(e, data && !link ? (la_int64_t)strlen(data) : 0);
	archive_write_header(a, e);
	if (data && !link)
		archive_write_data(a, data, strlen(data));
	archive_entry_free(e);
}

static void make_archive(const char *path, const char *kind)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	if (streq(kind, "gz"))
		archive_write_add_filter_gzip(a);
	else if (streq(kind, "bz2"))
		archive_write_add_filter_bzip2(a);
	else if (streq(kind, "xz"))
		archive_write_add_filter_xz(a);
	else if (streq(kind, "zst"))
		archive_write_add_filter_zstd(a);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK)
		die(path);
	if (streq(kind, "xattr")) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, "ping");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0755);
		archive_entry_set_size(e, 1);
		archive_entry_xattr_add_entry(e, "security.capability", cap_v2, sizeof(cap_v2));
		archive_entry_xattr_add_entry(e, "user.a", "1", 1);
		archive_write_header(a, e);
		archive_write_data(a, "x", 1);
		archive_entry_free(e);
	} else if (streq(kind, "evil")) {
		add_entry(a, "../../escape", AE_IFREG, 0644, 0, 0, "x", NULL);
	} else if (streq(kind, "evillink")) {
		add_entry(a, "l", AE_IFLNK, 0777, 0, 0, NULL, "/");
		add_entry(a, "up", AE_IFLNK, 0777, 0, 0, NULL, "../../../../..");
		add_entry(a, "l/inroot", AE_IFREG, 0644, 0, 0, "x", NULL);
		add_entry(a, "up/inroot2", AE_IFREG, 0644, 0, 0, "y", NULL);
	} else {
		add_entry(a, "pkg/", AE_IFDIR, 0750, 1000, 1000, NULL, NULL);
		add_entry(a, "pkg/bin", AE_IFREG, 04755, 1000, 1000, "binary", NULL);
		add_entry(a, "pkg/bin2", AE_IFREG, 04755, 1000, 1000, NULL, "pkg/bin");
		add_entry(a, "pkg/link", AE_IFLNK, 0777, 0, 0, NULL, "bin");
		add_entry(a, "etc/conf", AE_IFREG, 0640, 33, 33, "conf", NULL);
	}
	archive_write_close(a);
	archive_write_free(a);
}

/* ---- tests beyond the table ------------------------------------------------------ */

static int plan_digest(const char *ctx, const char *srcs, const char *excludes, char *out)
{
	_cleanup_strv_ struct nib_strv s = {0}, e = {0};
	struct bld_copy_opts o;
	struct bld_copy_plan *p = NULL;
	int fd = open(ctx, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	split_words(srcs, &s);
	split_words(excludes, &e);
	bld_copy_opts_init(&o);
	o.srcs = (const char *const *)s.v;
	o.n_srcs = s.len;
	o.excludes = (const char *const *)e.v;
	o.n_excludes = e.len;
	o.dest = "/x/";
	o.src_fd = fd;
	r = bld_copy_plan_new(&o, &p, NULL);
	if (r == 0)
		r = bld_copy_plan_digest(p, out, NULL);
	bld_copy_plan_free(p);
	close(fd);
	return r;
}

static void test_digest(void)
{
	char ctx[512], cmd[1200], d1[NIB_DIGEST_LEN + 1], d2[NIB_DIGEST_LEN + 1];
	char p[600];
	struct timespec ts[2] = {{.tv_sec = 5}, {.tv_sec = 5}};

	snprintf(ctx, sizeof(ctx), "%s/dctx", top);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ctx);
	CHECK(system(cmd) == 0);
	mkdir(ctx, 0755);
	build_tree(ctx, "f src/a 0644 aaa; f src/b.md 0644 bbb; l src/l a; d src/sub 0755");
	CHECK(plan_digest(ctx, "src", NULL, d1) == 0);
	CHECK(nib_digest_valid(d1));
	/* mtimes do not count */
	snprintf(p, sizeof(p), "%s/src/a", ctx);
	utimensat(AT_FDCWD, p, ts, 0);
	CHECK(plan_digest(ctx, "src", NULL, d2) == 0);
	CHECK_STREQ(d1, d2);
	/* content does */
	snprintf(cmd, sizeof(cmd), "echo x >> '%s'", p);
	CHECK(system(cmd) == 0);
	CHECK(plan_digest(ctx, "src", NULL, d2) == 0);
	CHECK(!streq(d1, d2));
	/* mode does */
	CHECK(plan_digest(ctx, "src", NULL, d1) == 0);
	chmod(p, 0600);
	CHECK(plan_digest(ctx, "src", NULL, d2) == 0);
	CHECK(!streq(d1, d2));
	/* an excluded file does not */
	CHECK(plan_digest(ctx, "src", "*.md", d1) == 0);
	snprintf(cmd, sizeof(cmd), "echo y >> '%s/src/b.md'", ctx);
	CHECK(system(cmd) == 0);
	CHECK(plan_digest(ctx, "src", "*.md", d2) == 0);
	CHECK_STREQ(d1, d2);
	/* a symlink target does */
	snprintf(p, sizeof(p), "%s/src/l", ctx);
	unlink(p);
	CHECK(symlink("b.md", p) == 0);
	CHECK(plan_digest(ctx, "src", "*.md", d1) == 0);
	CHECK(!streq(d1, d2));
	/* a missing source is an error naming it */
	struct nib_error err = {0};
	{
		const char *srcs[] = {"nope"};
		struct bld_copy_opts o;
		struct bld_copy_plan *pl = NULL;
		int fd = open(ctx, O_RDONLY | O_DIRECTORY);
		bld_copy_opts_init(&o);
		o.srcs = srcs;
		o.n_srcs = 1;
		o.dest = "/";
		o.src_fd = fd;
		CHECK(bld_copy_plan_new(&o, &pl, &err) < 0);
		CHECK(err.msg && strstr(err.msg, "COPY source not found: nope"));
		CHECK(err.kind == NIB_ERR_NOT_FOUND);
		close(fd);
	}
	nib_err_clear(&err);
}

static void test_match(void)
{
	/* the wildcard semantics the engine relies on (Go filepath.Match,
	 * containerfile's cf_path_match) */
	CHECK(cf_path_match("*.txt", "a.txt") == 1);
	CHECK(cf_path_match("*.txt", ".hidden.txt") == 1);
	CHECK(cf_path_match("*", "a/b") == 0);
	CHECK(cf_path_match("a?c", "abc") == 1);
	CHECK(cf_path_match("a?c", "a/c") == 0);
	CHECK(cf_path_match("[a-c]x", "bx") == 1);
	CHECK(cf_path_match("[^a-c]x", "bx") == 0);
	CHECK(cf_path_match("[!a]x", "!x") == 1); /* Go: '!' is not negation */
	CHECK(cf_path_match("\\*", "*") == 1);
	CHECK(cf_path_match("\\*", "a") == 0);
	CHECK(cf_path_match("[", "a") == -1);
	CHECK(cf_path_match("a[", "a") == -1);
	CHECK(cf_path_match("*x", "yyx") == 1);
	CHECK(cf_path_match("a*b*c", "aXbYc") == 1);
	CHECK(cf_path_match("a*b*c", "aXbY") == 0);
	CHECK(cf_path_match("é?", "éa") == 1);
	CHECK(cf_path_match("?", "é") == 1);
	CHECK(bld_copy_has_wildcards("a/b*"));
	CHECK(!bld_copy_has_wildcards("a/b\\*"));

	/* --chmod */
	struct cf_chmod c;
	CHECK(cf_chmod_parse("0755", &c, NULL) == 0 && c.mode == 0755);
	CHECK(cf_chmod_parse("4755", &c, NULL) == 0 && c.mode == 04755);
	CHECK(cf_chmod_parse("8", &c, NULL) < 0);
	CHECK(cf_chmod_parse("17777", &c, NULL) < 0);
	CHECK(cf_chmod_parse("u+x,go-w", &c, NULL) == 0);
	CHECK_INTEQ(cf_chmod_apply(&c, 0666, false), 0744);
	cf_chmod_clear(&c);
	CHECK(cf_chmod_parse("a=rX", &c, NULL) == 0);
	CHECK_INTEQ(cf_chmod_apply(&c, 0700, true), 0555);
	CHECK_INTEQ(cf_chmod_apply(&c, 0600, false), 0444);
	cf_chmod_clear(&c);
	CHECK(cf_chmod_parse("u+q", &c, NULL) < 0);
}

/* ADD of a URL against python3 -m http.server on loopback. */
static void test_add_url(void)
{
	char dir[512], root[512], p[700], portbuf[16];
	pid_t pid;
	int port = 0, fd;
	struct nib_error err = {0};

	if (access("/usr/bin/python3", X_OK) != 0)
		SKIP("python3 is not installed (make deps installs it)");
	snprintf(dir, sizeof(dir), "%s/www", top);
	snprintf(root, sizeof(root), "%s/uroot", top);
	mkdir(dir, 0755);
	mkdir(root, 0755);
	build_tree(dir, "f files/tool.tar.gz 0644 notreallyatar; f files/data.txt 0644 payload");
	/* a free port */
	{
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(0x7f000001)};
		socklen_t l = sizeof(a);
		bind(s, (struct sockaddr *)&a, sizeof(a));
		getsockname(s, (struct sockaddr *)&a, &l);
		port = ntohs(a.sin_port);
		close(s);
	}
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	char *argv[] = {"python3",     "-m", "http.server", "--bind", "127.0.0.1",
			"--directory", dir,  portbuf,	    NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	CHECK(posix_spawnp(&pid, "python3", &fa, NULL, argv, environ) == 0);
	posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 100; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(0x7f000001)};
		int ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(s);
		if (ok)
			break;
		usleep(50000);
	}
	fd = open(root, O_RDONLY | O_DIRECTORY);
	{
		_cleanup_free_ char *u1 = xasprintf("http://127.0.0.1:%d/files/data.txt", port);
		_cleanup_free_ char *u2 = xasprintf("http://127.0.0.1:%d/files/tool.tar.gz", port);
		_cleanup_free_ char *u3 = xasprintf("http://127.0.0.1:%d/files/missing", port);
		const char *s1[] = {u1, u2};
		struct bld_copy_opts o;
		struct stat st;
		char sha[NIB_DIGEST_LEN + 1];

		bld_copy_opts_init(&o);
		o.add = true;
		o.srcs = s1;
		o.n_srcs = 2;
		o.dest = "/dl/";
		o.src_fd = fd;
		o.chown_mode = chown_mode;
		CHECK(bld_copy_run(&o, fd, NULL, &err) == 0);
		if (err.msg)
			printf("  %s\n", err.msg);
		snprintf(p, sizeof(p), "%s/dl/data.txt", root);
		CHECK(lstat(p, &st) == 0 && st.st_size == 7);
		if (!xattr_mode)
			CHECK_INTEQ(st.st_mode & 07777, 0600);
		snprintf(p, sizeof(p), "%s/www/files/data.txt", top);
		struct stat sst;
		stat(p, &sst);
		snprintf(p, sizeof(p), "%s/dl/data.txt", root);
		stat(p, &st);
		/* mtime from Last-Modified (whole seconds) */
		CHECK_INTEQ(st.st_mtime, sst.st_mtime);
		/* a remote archive is not extracted */
		snprintf(p, sizeof(p), "%s/dl/tool.tar.gz", root);
		CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));

		/* --checksum, file named by the destination */
		nib_sha256_digest("payload", 7, sha);
		const char *s2[] = {u1};
		o.srcs = s2;
		o.n_srcs = 1;
		o.checksum = sha;
		o.dest = "/named";
		CHECK(bld_copy_run(&o, fd, NULL, &err) == 0);
		snprintf(p, sizeof(p), "%s/named", root);
		CHECK(lstat(p, &st) == 0 && st.st_size == 7);
		o.checksum =
		    "sha256:0000000000000000000000000000000000000000000000000000000000000000";
		CHECK(bld_copy_run(&o, fd, NULL, &err) < 0);
		CHECK(err.msg && strstr(err.msg, "checksum mismatch"));
		nib_err_clear(&err);
		o.checksum = NULL;
		const char *s3[] = {u3};
		o.srcs = s3;
		CHECK(bld_copy_run(&o, fd, NULL, &err) < 0);
		CHECK(err.msg && strstr(err.msg, "404") && strstr(err.msg, u3));
		nib_err_clear(&err);
		/* COPY refuses URLs */
		o.add = false;
		CHECK(bld_copy_run(&o, fd, NULL, &err) < 0);
		CHECK(err.msg && strstr(err.msg, "URL"));
		nib_err_clear(&err);
	}
	close(fd);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	const char *mode = getenv("NIB_COPY_TEST_MODE");

	/* as root: real chown (or auto); as anyone else: ownership records,
	 * written directly (xattr) or after a refused chown (auto) */
	xattr_mode = (mode && streq(mode, "xattr")) || geteuid() != 0;
	chown_mode = xattr_mode ? BLD_COPY_CHOWN_XATTR : BLD_COPY_CHOWN_REAL;
	if (mode && streq(mode, "auto"))
		chown_mode = BLD_COPY_CHOWN_AUTO;
	printf("chown mode: %s\n", chown_mode == BLD_COPY_CHOWN_AUTO ? "auto"
				   : xattr_mode			     ? "xattr (single UID)"
								     : "real");
	snprintf(top, sizeof(top), "/tmp/nib-copy-test.XXXXXX");
	if (!mkdtemp(top))
		die("mkdtemp");
	chmod(top, 0755);

	RUN(test_match);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(&cases[i]);
	RUN(test_digest);
	RUN(test_add_url);

	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s'; rm -rf '%s'", top, top);
		if (system(cmd) != 0)
			printf("could not remove %s\n", top);
	}
	return unit_done();
}
