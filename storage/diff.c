/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diff: the changes of a step as a sorted list of tar entries to write
 * (image-spec layer.md: changesets). Two sources: an overlay upper folder,
 * or a comparison of the rootfs after the step with a copy of it before.
 * Within a folder, entries are sorted bytewise by the name they get in the
 * tar (".wh.NAME" for deletions), and a folder comes before its entries.
 */
#define NIB_STORAGE_INTERNAL
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "storage/diff.h"
#include "storage/layer_internal.h"

struct kid {
	char *name;  /* name on disk */
	char *tname; /* name in the tar */
	enum change_kind kind;
	bool in_tree, in_base;
};

static int kid_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kid *)a)->tname, ((const struct kid *)b)->tname);
}

static void push(struct changes *c, char *path, enum change_kind kind)
{
	c->v = xgrow(c->v, &c->cap, c->len + 1, sizeof(*c->v));
	c->v[c->len].path = path;
	c->v[c->len].kind = kind;
	c->len++;
}

void stg_diff_changes_free(struct changes *c)
{
	for (size_t i = 0; i < c->len; i++)
		free(c->v[i].path);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static char *join(const char *rel, const char *name)
{
	return *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
}

static bool excluded(const struct stg_commit_opts *o, const char *p)
{
	if (!o->exclude)
		return false;
	for (const char *const *e = o->exclude; *e; e++) {
		const char *x = *e;
		size_t n;
		while (*x == '/')
			x++;
		n = strlen(x);
		if (n == 0)
			continue;
		if (x[n - 1] == '/') { /* content only */
			if (strncmp(p, x, n) == 0 && p[n] != '\0')
				return true;
			continue;
		}
		if (strncmp(p, x, n) == 0 && (p[n] == '\0' || p[n] == '/'))
			return true;
	}
	return false;
}

/* Names in a folder (not "." and ".."); -1 on error. */
static int list_dir(int dfd, const char *rel, struct nib_strv *out, struct nib_error *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	if (dfd < 0)
		return 0;
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return nib_err(err, NIB_ERR_IO, errno, "read folder /%s", rel);
	}
	while ((errno = 0, de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			nib_strv_push(out, de->d_name);
	if (errno)
		return nib_err(err, NIB_ERR_IO, errno, "read folder /%s", rel);
	nib_strv_sort(out);
	return 0;
}

struct dent {
	char *name;
	unsigned char type; /* DT_*; DT_UNKNOWN when the fs does not say */
};

static int dent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

/* Names and types in a folder, sorted (not "." and ".."); -1 on error. */
static int list_dir_typed(int dfd, const char *rel, struct dent **out, size_t *n,
			  struct nib_error *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t cap = 0;
	int fd;

	*out = NULL;
	*n = 0;
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return nib_err(err, NIB_ERR_IO, errno, "read folder /%s", rel);
	}
	while ((errno = 0, de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		*out = xgrow(*out, &cap, *n + 1, sizeof(**out));
		(*out)[*n].name = xstrdup(de->d_name);
		(*out)[(*n)++].type = de->d_type;
	}
	if (errno)
		return nib_err(err, NIB_ERR_IO, errno, "read folder /%s", rel);
	if (*n)
		qsort(*out, *n, sizeof(**out), dent_cmp);
	return 0;
}

static void dents_free(struct dent *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static int refuse_wh(const char *rel, const char *name, struct nib_error *err)
{
	return nib_err(err, NIB_ERR_CORRUPT, 0,
		       "/%s%s%s: names starting with \".wh.\" are reserved for whiteouts "
		       "(image-spec layer.md); the step may not create one",
		       rel, *rel ? "/" : "", name);
}

static int opendir_at(int dfd, const char *name, struct perm_fixes *fx)
{
	return stg_layer_openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, fx);
}

/* ---- comparing two entries ------------------------------------------------ */

/* Whether an xattr enters the layer (commit.c: the owner records do, as
 * owners; the overlay drivers' own and a folder's symlink records do not:
 * those name inodes, which a copy changes, and each symlink is compared
 * with its own, link_owner_equal). */
static bool xattr_compared(const char *name)
{
	return nib_str_has_prefix(name, STG_XATTR_OVERRIDE_PREFIX) ||
	       !stg_layer_xattr_reserved(name);
}

/* The xattrs of a file that enter a layer as `list` with their count; -1
 * when they cannot be listed. */
static ssize_t xattr_names(int fd, char *list, size_t size, size_t *count)
{
	ssize_t n = flistxattr(fd, list, size);

	*count = 0;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		if (xattr_compared(list + i))
			(*count)++;
	return n;
}

/* The same xattrs with the same values, of those that enter a layer (the
 * buffers hold the kernel's largest list and value). */
static int xattrs_equal(int tfd, int bfd)
{
	static char lt[65536], lb[65536], vt[65536], vb[65536];
	size_t ct, cb;
	ssize_t nt = xattr_names(tfd, lt, sizeof(lt), &ct),
		nb = xattr_names(bfd, lb, sizeof(lb), &cb);

	if (nt < 0 || nb < 0)
		return nt < 0 && nb < 0;
	if (ct != cb)
		return 0;
	for (ssize_t i = 0; i < nt; i += (ssize_t)strlen(lt + i) + 1) {
		ssize_t a, b;

		if (!xattr_compared(lt + i))
			continue;
		a = fgetxattr(tfd, lt + i, vt, sizeof(vt));
		b = fgetxattr(bfd, lt + i, vb, sizeof(vb));
		if (a != b || (a > 0 && memcmp(vt, vb, (size_t)a) != 0))
			return 0;
	}
	return 1;
}

/* A symlink has the same owner record (storage.h: kept on its folder) in
 * both trees, or none in either. */
static bool link_owner_equal(int tdfd, int bdfd, const char *name, const struct stat *ts,
			     const struct stat *bs)
{
	uint32_t tu = 0, tg = 0, bu = 0, bg = 0;
	int t = stg_link_owner_get(tdfd, name, ts->st_ino, &tu, &tg),
	    b = stg_link_owner_get(bdfd, name, bs->st_ino, &bu, &bg);

	return t == b && tu == bu && tg == bg;
}

static bool content_equal(int tfd, int bfd)
{
	static char a[65536], b[65536];

	for (;;) {
		ssize_t x = read(tfd, a, sizeof(a)), y;
		if (x < 0)
			return false;
		for (ssize_t got = 0; got < x; got += y) {
			y = read(bfd, b + got, (size_t)(x - got));
			if (y <= 0)
				return false;
		}
		if (x == 0)
			return read(bfd, b, 1) == 0;
		if (memcmp(a, b, (size_t)x) != 0)
			return false;
	}
}

/* Whether the entry `name` differs between the two folders (same type) in
 * what a layer holds of it: a folder's mode, owner and xattrs; a file's
 * content and mtime too; a symlink's target and owner record. */
static bool entry_changed(int tdfd, int bdfd, const char *name, const struct stat *ts,
			  const struct stat *bs, const struct stg_commit_opts *o,
			  struct perm_fixes *fx)
{
	if (ts->st_mode != bs->st_mode || ts->st_uid != bs->st_uid || ts->st_gid != bs->st_gid)
		return true;
	if (!S_ISDIR(ts->st_mode) &&
	    (ts->st_size != bs->st_size || ts->st_mtim.tv_sec != bs->st_mtim.tv_sec ||
	     ts->st_mtim.tv_nsec != bs->st_mtim.tv_nsec))
		return true;
	if ((S_ISCHR(ts->st_mode) || S_ISBLK(ts->st_mode)) && ts->st_rdev != bs->st_rdev)
		return true;
	if (S_ISLNK(ts->st_mode)) {
		char a[PATH_MAX], b[PATH_MAX];
		ssize_t x = readlinkat(tdfd, name, a, sizeof(a)),
			y = readlinkat(bdfd, name, b, sizeof(b));
		return x != y || x < 0 || memcmp(a, b, (size_t)x) != 0 ||
		       !link_owner_equal(tdfd, bdfd, name, ts, bs);
	}
	if (!S_ISREG(ts->st_mode) && !S_ISDIR(ts->st_mode))
		return false;
	int fl = O_RDONLY | O_NOFOLLOW | (S_ISDIR(ts->st_mode) ? O_DIRECTORY : 0);
	_cleanup_close_ int tf = stg_layer_openat(tdfd, name, fl, fx);
	_cleanup_close_ int bf = stg_layer_openat(bdfd, name, fl, fx);
	if (tf < 0 || bf < 0)
		return true;
	if (!xattrs_equal(tf, bf))
		return true;
	if (!S_ISREG(ts->st_mode))
		return false;
	/* same metadata: the content can only differ if the file was touched
	 * after the copy was made */
	if ((o->copied_at.tv_sec || o->copied_at.tv_nsec) &&
	    (ts->st_ctim.tv_sec < o->copied_at.tv_sec ||
	     (ts->st_ctim.tv_sec == o->copied_at.tv_sec &&
	      ts->st_ctim.tv_nsec <= o->copied_at.tv_nsec)))
		return false;
	return !content_equal(tf, bf);
}

/* ---- overlay upper folder ------------------------------------------------- */

/* Whether a folder `rel` exists in a lower layer (true when unknown): an
 * opaque marker on a folder no lower layer has hides nothing (kernel
 * overlay sets it on a folder made where a whiteout was, fuse-overlayfs on
 * every new folder) and is left out. */
static bool in_lowers(const struct stg_commit_opts *o, const char *rel)
{
	if (!o->lowers)
		return true;
	for (const char *const *l = o->lowers; *l; l++) {
		_cleanup_close_ int lfd = open(*l, O_PATH | O_DIRECTORY | O_CLOEXEC);
		_cleanup_close_ int fd =
		    lfd < 0 ? -1 : stg_open_nosym(lfd, rel, O_PATH | O_DIRECTORY, 0);
		if (lfd < 0 || fd >= 0)
			return true;
	}
	return false;
}

/* The lower layers (stg_commit_opts.lowers) that show at one folder of the
 * upper, top first: overlay shows a name from the top-most lower folder
 * that has it (a whiteout there hides it), and a folder merges the lower
 * folders of its name down to the first opaque one or the first non-folder
 * (overlayfs.rst: whiteouts and opaque directories). */
struct view {
	const int *root; /* every lower's top folder, top first */
	size_t *at;	 /* which of them show here */
	size_t n;
	bool partial; /* more may show (unknown lowers, a folder not read) */
};

/* The index in `v` of the lower entry `p` shows, with its stat; -1 when
 * none does, -2 when that cannot be told. */
static ssize_t lower_find(const struct view *v, const char *p, struct stat *st)
{
	for (size_t k = 0; k < v->n; k++) {
		if (fstatat(v->root[v->at[k]], p, st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return -2;
		}
		return S_ISCHR(st->st_mode) && st->st_rdev == 0 ? -1 : (ssize_t)k;
	}
	return v->partial ? -2 : -1;
}

/* Whether lower folder `p` hides the ones below it: opaque (*partial
 * cleared), or not readable (*partial set). */
static bool lower_opaque(int root, const char *p, bool *partial)
{
	_cleanup_close_ int fd = openat(root, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char v[8];

	if (fd < 0) {
		*partial = true;
		return true;
	}
	if (fgetxattr(fd, OVL_OPAQUE_XATTR, v, sizeof(v)) == 1 && v[0] == 'y') {
		*partial = false;
		return true;
	}
	return false;
}

/* The view of folder `p`, whose top-most lower folder is v's `k`-th. */
static void lower_view(const struct view *v, size_t k, const char *p, struct view *out)
{
	struct stat st;

	*out = (struct view){v->root, xcalloc(v->n - k, sizeof(*out->at)), 0, v->partial};
	for (; k < v->n; k++) {
		int root = v->root[v->at[k]];
		if (fstatat(root, p, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			out->partial = true;
			return;
		}
		if (!S_ISDIR(st.st_mode)) {
			out->partial = false;
			return;
		}
		out->at[out->n++] = v->at[k];
		if (lower_opaque(root, p, &out->partial))
			return;
	}
}

/* Whether upper entry `name` in folder `dfd` (`rel` from the top) is the
 * lower entry the view's `k`-th lower shows, unchanged: what a copy-up
 * leaves when the step opened a file for writing and wrote nothing, set
 * its mode or times to what they were, or made and removed a folder's
 * entries. Such an entry is left out, as a comparison with the tree before
 * leaves it out (walk_compare): both drivers give the same layer. */
static bool same_as_lower(int dfd, const char *name, const char *rel, const struct view *v,
			  size_t k, const struct stat *ls, const struct stg_commit_opts *o,
			  struct perm_fixes *fx)
{
	_cleanup_close_ int lfd = openat(v->root[v->at[k]], *rel ? rel : ".",
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat us;

	if (lfd < 0 || fstatat(dfd, name, &us, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	if (fx)
		stg_perm_fixes_lookup(fx, &us);
	return (us.st_mode & S_IFMT) == (ls->st_mode & S_IFMT) &&
	       !entry_changed(dfd, lfd, name, &us, ls, o, fx);
}

static int walk_upper(int dfd, const char *rel, const struct stg_commit_opts *o,
		      const struct view *lv, struct changes *c, struct nib_error *err)
{
	struct dent *names;
	size_t n_names, n = 0;
	struct kid *kids;
	struct view none = {lv->root, NULL, 0, false};
	int ret = 0;
	char v[8];

	if (list_dir_typed(dfd, rel, &names, &n_names, err) < 0) {
		dents_free(names, n_names);
		return -1;
	}
	kids = xcalloc(n_names + 1, sizeof(*kids));
	if (((fgetxattr(dfd, OVL_OPAQUE_XATTR, v, sizeof(v)) == 1 && v[0] == 'y') ||
	     (o->fuse_upper &&
	      ((fgetxattr(dfd, "user.fuseoverlayfs.opaque", v, sizeof(v)) == 1 && v[0] == 'y') ||
	       (faccessat(dfd, ".wh..wh..opq", F_OK, AT_SYMLINK_NOFOLLOW) == 0)))) &&
	    *rel && in_lowers(o, rel)) {
		kids[n].name = NULL;
		kids[n].tname = xstrdup(".wh..wh..opq");
		kids[n++].kind = CH_OPAQUE;
		lv = &none; /* nothing below shows through */
	}
	for (size_t i = 0; i < n_names; i++) {
		struct stat st;
		const char *name = names[i].name;
		unsigned char type = names[i].type;
		_cleanup_free_ char *p = join(rel, name);

		if (excluded(o, p))
			continue;
		if (o->fuse_upper && nib_str_has_prefix(name, ".wh.")) {
			/* fuse-overlayfs' own markers: ".wh..wh..opq" files (and a
			 * whiteout hiding them), ".wh.NAME" files when mknod 0:0
			 * was refused */
			struct stat ws;
			if (streq(name, ".wh..wh..opq") || !name[4] ||
			    fstatat(dfd, name, &ws, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(ws.st_mode))
				continue;
			kids[n].name = xstrdup(name + 4);
			kids[n].tname = xstrdup(name);
			kids[n++].kind = CH_WHITEOUT;
			continue;
		}
		if (nib_str_has_prefix(name, ".wh.")) {
			ret = refuse_wh(rel, name, err);
			goto out;
		}
		/* the folder listing's type spares a stat, except for
		 * character devices (whiteouts are 0:0 ones) */
		if (type == DT_REG || type == DT_LNK || type == DT_DIR) {
			st.st_mode = type == DT_DIR ? S_IFDIR : S_IFREG;
			st.st_rdev = 0;
		} else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = nib_err(err, NIB_ERR_IO, errno, "stat /%s", p);
			goto out;
		}
		kids[n].name = xstrdup(name);
		if (S_ISCHR(st.st_mode) && st.st_rdev == 0) {
			kids[n].tname = xasprintf(".wh.%s", name);
			kids[n].kind = CH_WHITEOUT;
		} else {
			kids[n].tname = xstrdup(name);
			kids[n].kind = S_ISDIR(st.st_mode) ? CH_DIR : CH_ADD;
		}
		n++;
	}
	qsort(kids, n, sizeof(*kids), kid_cmp);
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct kid *kd = &kids[i];
		_cleanup_free_ char *p = kd->name ? join(rel, kd->name) : NULL;
		struct stat ls;
		ssize_t k = p ? lower_find(lv, p, &ls) : -2;
		size_t at = c->len;
		bool same;

		if (kd->kind == CH_WHITEOUT && k == -1)
			continue; /* hides nothing (fuse-overlayfs: an entry made and removed) */
		/* before the folder is opened: that may widen its mode */
		same = k >= 0 && kd->kind != CH_WHITEOUT &&
		       same_as_lower(dfd, kd->name, rel, lv, (size_t)k, &ls, o, c->fx);
		push(c, join(rel, kd->tname), kd->kind);
		if (kd->kind == CH_DIR) {
			_cleanup_close_ int cfd = opendir_at(dfd, kd->name, c->fx);
			struct view sub = none;
			if (k >= 0 && S_ISDIR(ls.st_mode))
				lower_view(lv, (size_t)k, p, &sub);
			else
				sub.partial = k == -2;
			if (cfd < 0)
				ret = nib_err(err, NIB_ERR_IO, errno, "open /%s", p);
			else
				ret = walk_upper(cfd, p, o, &sub, c, err);
			free(sub.at);
		}
		if (ret == 0 && same && c->len == at + 1) {
			free(c->v[at].path);
			c->len = at;
		}
	}
out:
	dents_free(names, n_names);
	for (size_t i = 0; i < n; i++) {
		free(kids[i].name);
		free(kids[i].tname);
	}
	free(kids);
	return ret;
}

/* ---- comparison with the tree before --------------------------------------- */

/* Returns 1 when something below changed, 0 when not, -1 on error. */
static int walk_compare(int tfd, int bfd, const char *rel, const struct stg_commit_opts *o,
			struct changes *c, struct nib_error *err)
{
	_cleanup_strv_ struct nib_strv tn = {0}, bn = {0};
	struct kid *kids;
	size_t n = 0, i = 0, j = 0;
	int ret = 0, any = 0;

	if (list_dir(tfd, rel, &tn, err) < 0 || list_dir(bfd, rel, &bn, err) < 0)
		return -1;
	kids = xcalloc(tn.len + bn.len + 1, sizeof(*kids));
	while (i < tn.len || j < bn.len) {
		int cmp = i == tn.len ? 1 : j == bn.len ? -1 : strcmp(tn.v[i], bn.v[j]);
		const char *name = cmp <= 0 ? tn.v[i] : bn.v[j];
		_cleanup_free_ char *p = join(rel, name);

		if (!excluded(o, p)) {
			kids[n].name = xstrdup(name);
			kids[n].in_tree = cmp <= 0;
			kids[n].in_base = cmp >= 0;
			if (!kids[n].in_tree)
				kids[n].tname = xasprintf(".wh.%s", name);
			else
				kids[n].tname = xstrdup(name);
			n++;
			if (cmp <= 0 && nib_str_has_prefix(name, ".wh.") && (cmp < 0 || bfd < 0)) {
				ret = refuse_wh(rel, name, err);
				goto out;
			}
		}
		if (cmp <= 0)
			i++;
		if (cmp >= 0)
			j++;
	}
	qsort(kids, n, sizeof(*kids), kid_cmp);
	for (size_t k = 0; k < n && ret >= 0; k++) {
		struct kid *kd = &kids[k];
		struct stat ts, bs;
		_cleanup_free_ char *p = join(rel, kd->name);

		if (!kd->in_tree) {
			push(c, join(rel, kd->tname), CH_WHITEOUT);
			any = 1;
			continue;
		}
		if (fstatat(tfd, kd->name, &ts, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = nib_err(err, NIB_ERR_IO, errno, "stat /%s", p);
			break;
		}
		bool same_type = kd->in_base &&
				 fstatat(bfd, kd->name, &bs, AT_SYMLINK_NOFOLLOW) == 0 &&
				 (bs.st_mode & S_IFMT) == (ts.st_mode & S_IFMT);
		if (!S_ISDIR(ts.st_mode)) {
			if (!same_type || entry_changed(tfd, bfd, kd->name, &ts, &bs, o, c->fx)) {
				push(c, xstrdup(p), CH_ADD);
				any = 1;
			}
			continue;
		}
		/* a folder: its entry is written when it or anything below changed */
		size_t at = c->len;
		bool changed = !same_type || entry_changed(tfd, bfd, kd->name, &ts, &bs, o, c->fx);
		push(c, xstrdup(p), changed ? CH_DIR : CH_SKIP);
		_cleanup_close_ int ct = opendir_at(tfd, kd->name, c->fx);
		_cleanup_close_ int cb = same_type ? opendir_at(bfd, kd->name, c->fx) : -1;
		if (ct < 0) {
			ret = nib_err(err, NIB_ERR_IO, errno, "open /%s", p);
			break;
		}
		int sub = walk_compare(ct, cb, p, o, c, err);
		if (sub < 0) {
			ret = -1;
			break;
		}
		if (sub || changed) {
			c->v[at].kind = CH_DIR;
			any = 1;
		}
	}
out:
	for (size_t k = 0; k < n; k++) {
		free(kids[k].name);
		free(kids[k].tname);
	}
	free(kids);
	return ret < 0 ? -1 : any;
}

int stg_diff_collect(int treefd, const struct stg_commit_opts *o, struct changes *c,
		     struct nib_error *err)
{
	_cleanup_close_ int t = openat(treefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int b = -1;

	if (t < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open the rootfs");
	if (o->kind == STG_DIFF_UPPER) {
		size_t nl = 0;
		while (o->lowers && o->lowers[nl])
			nl++;
		_cleanup_free_ int *roots = xcalloc(nl + 1, sizeof(*roots));
		_cleanup_free_ size_t *at = xcalloc(nl + 1, sizeof(*at));
		struct view all = {roots, at, 0, !o->lowers};
		int ret;
		for (size_t i = nl; i-- > 0;) {
			roots[all.n] = open(o->lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (roots[all.n] < 0) {
				all.partial = true; /* nor the lowers below it */
				break;
			}
			at[all.n] = all.n;
			all.n++;
		}
		ret = walk_upper(t, "", o, &all, c, err);
		for (size_t i = 0; i < all.n; i++)
			close(roots[i]);
		return ret;
	}
	if (o->basefd >= 0) {
		b = openat(o->basefd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (b < 0)
			return nib_err(err, NIB_ERR_IO, errno, "open the base rootfs");
	}
	return walk_compare(t, b, "", o, c, err) < 0 ? -1 : 0;
}
