/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COPY/ADD: resolving the sources (plan) and placing them in the
 * destination (apply). See builder/copy.h for the rules.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "builder/copy.h"
#include "containerfile/containerfile.h"

void bld_copy_opts_init(struct bld_copy_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->src_fd = -1;
	o->user_root_fd = -1;
	o->timestamp = -1;
}

static const char *cmd_name(const struct bld_copy_opts *o)
{
	return o->add ? "ADD" : "COPY";
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static char *dir_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? xstrndup(p, (size_t)(s - p)) : xstrdup("");
}

/* A source path as BuildKit normalises it: relative to the root, so ".."
 * and absolute paths never leave it. "" is the root itself. */
static char *root_rel(const char *p)
{
	_cleanup_free_ char *rooted = xasprintf("/%s", p);
	char *c = nib_path_clean(rooted);
	memmove(c, c + 1, strlen(c));
	return c;
}

static bool is_url(const char *s)
{
	return nib_str_has_prefix(s, "http://") || nib_str_has_prefix(s, "https://");
}

static struct bld_copy_item *add_item(struct bld_copy_plan *p, enum bld_copy_item_kind kind,
				      const char *src)
{
	struct bld_copy_item *it;
	p->items = xgrow(p->items, &p->cap, p->n + 1, sizeof(*p->items));
	it = &p->items[p->n++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->src = src;
	it->fd = -1;
	return it;
}

/* Whether the ignore rules hide the entry `path` of the source root. */
static bool ctx_ignored(const struct bld_copy_opts *o, const char *path, bool is_dir)
{
	_cleanup_close_ int fd = -1;

	if (!o->ignore || o->from_rootfs || !*path)
		return false;
	if (is_dir)
		fd =
		    nib_open_in_root(o->src_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, NULL);
	return bld_copy_ignore_check(o, fd, path, is_dir) == BLD_COPY_SKIP;
}

/* ---- wildcard expansion -------------------------------------------------------- */

struct expand {
	struct bld_copy_plan *p;
	const char *src;
	const char *pivot; /* --parents: the matched path is kept below it */
	struct nib_strv comps;
};

static int add_path_item(struct expand *x, const char *rel)
{
	struct bld_copy_item *it = add_item(x->p, BLD_COPY_ITEM_PATH, x->src);
	it->rel = xstrdup(rel);
	it->name = xstrdup(base_name(rel));
	if (x->pivot) {
		size_t pl = strlen(x->pivot);
		const char *k = rel;
		if (pl && nib_str_has_prefix(rel, x->pivot) && (rel[pl] == '/' || !rel[pl]))
			k = rel + pl + (rel[pl] == '/');
		it->keep = xstrdup(k);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Match component `i` of the pattern inside the folder `dir` (resolved,
 * relative to the source root; `shown` is the same folder as written). */
static int expand_at(struct expand *x, const char *dir, const char *shown, const char *mrel,
		     size_t i, struct nib_error *err)
{
	const struct bld_copy_opts *o = x->p->o;
	_cleanup_strv_ struct nib_strv names = {0};
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = nib_open_in_root(o->src_fd, dir, O_RDONLY | O_DIRECTORY, 0, NULL);
	bool last = i + 1 == x->comps.len;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 0; /* not a folder: nothing below it matches */
	}
	while ((errno = 0, de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			nib_strv_push(&names, de->d_name);
	if (names.len > 1)
		qsort(names.v, names.len, sizeof(char *), cmp_str);
	for (size_t k = 0; k < names.len; k++) {
		const char *n = names.v[k];
		_cleanup_free_ char *path = *dir ? nib_path_join(dir, n) : xstrdup(n);
		_cleanup_free_ char *spath = *shown ? nib_path_join(shown, n) : xstrdup(n);
		_cleanup_free_ char *crel = *mrel ? nib_path_join(mrel, n) : xstrdup(n);
		struct stat st;
		int m = cf_path_match(x->comps.v[i], n);

		if (m < 0)
			return nib_err(err, NIB_ERR_SYNTAX, 0, "%s source %s: bad pattern",
				       cmd_name(o), x->src);
		if (m == 0)
			continue;
		if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (ctx_ignored(o, path, S_ISDIR(st.st_mode)))
			continue;
		/* --exclude sees a match by its path below the literal part
		 * of the pattern ("a*" matching "a.txt": "a.txt") */
		if (bld_copy_excludes_match(x->p->excludes, crel, S_ISDIR(st.st_mode)))
			continue;
		if (last) {
			add_path_item(x, spath);
		} else if (S_ISDIR(st.st_mode)) {
			/* as filepath.Walk: real folders only */
			if (expand_at(x, path, spath, crel, i + 1, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int resolve_local(struct bld_copy_plan *p, const char *src, struct nib_error *err)
{
	const struct bld_copy_opts *o = p->o;
	_cleanup_free_ char *pivot = NULL, *rel = NULL;
	struct expand x = {.p = p, .src = src};
	struct bld_copy_resolved r;
	size_t before = p->n;

	if (o->parents) {
		const char *cut = strstr(src, "/./");
		if (cut) {
			_cleanup_free_ char *pv = xstrndup(src, (size_t)(cut - src));
			_cleanup_free_ char *joined = NULL;
			pivot = root_rel(pv);
			joined = xasprintf("%s/%s", pivot, cut + 3);
			rel = root_rel(joined);
		} else {
			pivot = xstrdup("");
			rel = root_rel(src);
		}
		x.pivot = pivot;
	} else {
		rel = root_rel(src);
	}

	if (bld_copy_has_wildcards(rel)) {
		/* literal prefix, then the components with wildcards */
		struct nib_buf lit = {0};
		const char *q = rel;
		bool found = false;
		int ret;

		while (*q) {
			const char *e = strchr(q, '/');
			size_t n = e ? (size_t)(e - q) : strlen(q);
			_cleanup_free_ char *c = xstrndup(q, n);
			if (!found && bld_copy_has_wildcards(c))
				found = true;
			if (found) {
				nib_strv_push(&x.comps, c);
			} else {
				if (lit.len)
					nib_buf_putc(&lit, '/');
				nib_buf_puts(&lit, c);
			}
			q += n;
			while (*q == '/')
				q++;
		}
		if (bld_copy_resolve(o->src_fd, lit.data ? lit.data : "", true, &r, err) < 0) {
			nib_buf_free(&lit);
			nib_strv_free(&x.comps);
			return nib_err_wrap(err, "%s source %s", cmd_name(o), src);
		}
		if (!r.exists || !S_ISDIR(r.st.st_mode) ||
		    ctx_ignored(o, r.path, S_ISDIR(r.st.st_mode))) {
			/* BuildKit: lstat of the literal parent fails */
			nib_err(err, NIB_ERR_NOT_FOUND, 0, "%s source not found: %s (no folder %s)",
				cmd_name(o), src, lit.data ? lit.data : "/");
			bld_copy_resolved_free(&r);
			nib_buf_free(&lit);
			nib_strv_free(&x.comps);
			return -1;
		}
		ret = expand_at(&x, r.path, lit.data ? lit.data : "", "", 0, err);
		bld_copy_resolved_free(&r);
		nib_buf_free(&lit);
		nib_strv_free(&x.comps);
		if (ret < 0)
			return -1;
		if (p->n == before)
			/* BuildKit's AllowEmptyWildcard: nothing to copy */
			log_info("%s %s: no file matches", cmd_name(o), src);
		return 0;
	}

	if (bld_copy_resolve(o->src_fd, rel, true, &r, err) < 0)
		return nib_err_wrap(err, "%s source %s", cmd_name(o), src);
	if (!r.exists || ctx_ignored(o, r.path, S_ISDIR(r.st.st_mode))) {
		bool out = !nib_path_is_below(src) || src[0] == '/';
		bool ign = r.exists;
		bld_copy_resolved_free(&r);
		if (ign)
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "%s source not found: %s (excluded by the ignore file)",
				       cmd_name(o), src);
		if (out && !o->from_rootfs && src[0] != '/')
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "%s source not found: %s (outside the build context: "
				       "paths are resolved inside it, as /%s)",
				       cmd_name(o), src, rel);
		return nib_err(err, NIB_ERR_NOT_FOUND, 0, "%s source not found: %s", cmd_name(o),
			       src);
	}
	bld_copy_resolved_free(&r);
	return add_path_item(&x, rel);
}

int bld_copy_plan_new(const struct bld_copy_opts *o, struct bld_copy_plan **out,
		      struct nib_error *err)
{
	_cleanup_(bld_copy_plan_freep) struct bld_copy_plan *p = xcalloc(1, sizeof(*p));
	size_t n_urls = 0;

	p->o = o;
	if (!o->dest || !*o->dest)
		return nib_err(err, NIB_ERR_SYNTAX, 0, "%s needs a destination", cmd_name(o));
	if (o->n_srcs + o->n_heredocs == 0)
		return nib_err(err, NIB_ERR_SYNTAX, 0, "%s needs a source", cmd_name(o));
	if (o->src_fd < 0 && o->n_srcs > 0)
		return nib_err(err, NIB_ERR_USAGE, 0, "%s: no source folder", cmd_name(o));
	if (bld_copy_excludes_new(o->excludes, o->n_excludes, &p->excludes, err) < 0)
		return -1;
	for (size_t i = 0; i < o->n_srcs; i++)
		if (is_url(o->srcs[i]))
			n_urls++;
	if (o->checksum) {
		/* BuildKit's checks, in its words */
		if (!o->add)
			return nib_err(err, NIB_ERR_SYNTAX, 0,
				       "checksum can't be specified for COPY");
		if (o->n_srcs != 1)
			return nib_err(err, NIB_ERR_SYNTAX, 0,
				       "checksum can't be specified for multiple sources");
		if (n_urls != 1)
			return nib_err(err, NIB_ERR_SYNTAX, 0,
				       "checksum requires HTTP(S) sources: %s", o->srcs[0]);
	}
	for (size_t i = 0; i < o->n_srcs; i++) {
		const char *s = o->srcs[i];

		if (is_url(s)) {
			struct bld_copy_item *it;
			int64_t mtime = 0;
			char *name = NULL;
			int fd;

			if (!o->add) {
				_cleanup_free_ char *r = bld_url_redact(s);
				return nib_err(err, NIB_ERR_SYNTAX, 0,
					       "source can't be a URL for COPY: %s", r);
			}
			fd = bld_copy_download(s, o->checksum, o->client, NULL, &mtime, &name, err);
			if (fd < 0)
				return -1;
			it = add_item(p, BLD_COPY_ITEM_URL, NULL);
			/* the URL's credentials are not part of its identity */
			it->rel = bld_url_redact(s);
			it->src = it->rel;
			it->fd = fd;
			it->mtime = mtime;
			it->name = name;
			continue;
		}
		if (resolve_local(p, s, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < o->n_heredocs; i++) {
		struct bld_copy_item *it = add_item(p, BLD_COPY_ITEM_HEREDOC, o->heredocs[i].name);
		it->hd = &o->heredocs[i];
		it->name = xstrdup(base_name(o->heredocs[i].name));
	}
	*out = steal_pointer(&p);
	return 0;
}

void bld_copy_plan_free(struct bld_copy_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->items[i].rel);
		free(p->items[i].name);
		free(p->items[i].keep);
		if (p->items[i].fd >= 0)
			close(p->items[i].fd);
	}
	free(p->items);
	bld_copy_excludes_free(p->excludes);
	free(p);
}

/* ---- apply ------------------------------------------------------------------------ */

/* Where a file named `name` goes for destination `dest`: inside it when it
 * is a folder, else `dest` itself. Returns the folder fd. */
static int dest_target(struct bld_copy_writer *w, const char *dest, const char *name, char **tname,
		       char **what, struct nib_error *err)
{
	struct bld_copy_resolved r;
	int fd;

	if (bld_copy_resolve(w->dest_root, dest, true, &r, err) < 0)
		return -1;
	if (r.exists && S_ISDIR(r.st.st_mode)) {
		fd = nib_open_in_root(w->dest_root, r.path, O_PATH | O_DIRECTORY, 0, err);
		*tname = xstrdup(name);
		*what = xasprintf("/%s%s%s", r.path, *r.path ? "/" : "", name);
	} else {
		_cleanup_free_ char *parent = dir_name(r.path);
		if (bld_copy_mkdir_all(w, parent, err) < 0) {
			bld_copy_resolved_free(&r);
			return -1;
		}
		fd = nib_open_in_root(w->dest_root, parent, O_PATH | O_DIRECTORY, 0, err);
		*tname = xstrdup(base_name(r.path));
		*what = xasprintf("/%s", r.path);
	}
	bld_copy_resolved_free(&r);
	return fd;
}

/* --parents: create the kept folders below `dfd` with the metadata of the
 * source folders (BuildKit's createParentDirs), then copy the item. */
static int apply_parents(struct bld_copy_writer *w, struct bld_copy_item *it, int sparent,
			 const char *sname, const char *src_path, const char *dest,
			 struct nib_error *err)
{
	const struct bld_copy_opts *o = w->o;
	_cleanup_free_ char *kdir = dir_name(it->keep);
	_cleanup_close_ int cur = -1;
	_cleanup_free_ char *what = NULL;
	size_t depth = 0;
	const char *q = kdir;
	/* the source folder matching each kept component */
	_cleanup_free_ char *srcdir = NULL;
	size_t keep_len = strlen(it->keep), src_len = strlen(src_path);

	if (bld_copy_mkdir_all(w, dest, err) < 0)
		return -1;
	cur = nib_open_in_root(w->dest_root, dest, O_PATH | O_DIRECTORY, 0, err);
	if (cur < 0)
		return -1;
	what = nib_path_clean(dest);
	/* src_path ends with keep (resolved paths may differ only when the
	 * item itself is a symlink, which changes the last component only) */
	srcdir = src_len >= keep_len ? xstrndup(src_path, src_len - keep_len) : xstrdup("");
	while (*q) {
		const char *e = strchr(q, '/');
		size_t n = e ? (size_t)(e - q) : strlen(q);
		_cleanup_free_ char *c = xstrndup(q, n);
		_cleanup_free_ char *nsrc = *srcdir ? nib_path_join(srcdir, c) : xstrdup(c);
		_cleanup_free_ char *nwhat = nib_path_join(what, c);
		struct stat st, dst;
		int nfd;

		if (fstatat(o->src_fd, *nsrc ? nsrc : ".", &st, AT_SYMLINK_NOFOLLOW) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "stat %s", nsrc);
		if (fstatat(cur, c, &dst, AT_SYMLINK_NOFOLLOW) == 0) {
			if (!S_ISDIR(dst.st_mode))
				return nib_err(err, NIB_ERR_IO, 0, "cannot copy to non-folder %s",
					       nwhat);
			nfd = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		} else {
			struct bld_copy_meta m;
			_cleanup_close_ int sfd = -1;

			bld_copy_dir_unlock(w, cur);
			if (mkdirat(cur, c, 0700) < 0)
				return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", nwhat);
			nfd = openat(cur, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0)
				return nib_err(err, NIB_ERR_IO, errno, "open %s", nwhat);
			sfd = nib_open_in_root(o->src_fd, nsrc, O_RDONLY | O_DIRECTORY, 0, NULL);
			if (sfd >= 0 && o->from_rootfs)
				bld_copy_src_owner(o, sfd, &st);
			bld_copy_meta_for(w, &st, o->from_rootfs, true, &m);
			if (bld_copy_meta_write(w, nfd, -1, NULL, S_IFDIR, &m, 0, nwhat, err) < 0) {
				close(nfd);
				return -1;
			}
			w->stats.dirs++;
		}
		if (nfd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "open %s", nwhat);
		close(cur);
		cur = nfd;
		free(srcdir);
		srcdir = steal_pointer(&nsrc);
		free(what);
		what = steal_pointer(&nwhat);
		depth++;
		q += n;
		while (*q == '/')
			q++;
	}
	{
		_cleanup_free_ char *iwhat = nib_path_join(what, base_name(it->keep));
		const char *dn = *it->keep ? base_name(it->keep) : NULL;
		if (!dn) {
			/* the pivot itself: its contents */
			_cleanup_close_ int sfd =
			    openat(sparent, sname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sfd < 0)
				return nib_err(err, NIB_ERR_IO, errno, "open %s", it->src);
			return bld_copy_tree_contents(w, sfd, cur, "", src_path, what, err);
		}
		return bld_copy_tree_node(w, sparent, sname, cur, dn, "", src_path, iwhat, true,
					  err);
	}
}

static int apply_path(struct bld_copy_writer *w, struct bld_copy_item *it, const char *dest,
		      struct nib_error *err)
{
	const struct bld_copy_opts *o = w->o;
	struct bld_copy_resolved r;
	_cleanup_close_ int sparent = -1;
	_cleanup_free_ char *sdir = NULL, *rpath = NULL;
	const char *sname;
	struct stat st;

	if (bld_copy_resolve(o->src_fd, it->rel, true, &r, err) < 0)
		return -1;
	if (!r.exists) {
		bld_copy_resolved_free(&r);
		return nib_err(err, NIB_ERR_NOT_FOUND, 0, "%s source not found: %s", cmd_name(o),
			       it->src);
	}
	st = r.st;
	rpath = steal_pointer(&r.path);
	if (*rpath) {
		sdir = dir_name(rpath);
		sname = base_name(rpath);
		sparent = nib_open_in_root(o->src_fd, sdir, O_PATH | O_DIRECTORY, 0, err);
	} else {
		sname = ".";
		sparent = fcntl(o->src_fd, F_DUPFD_CLOEXEC, 3);
	}
	if (sparent < 0)
		return err && err->msg ? -1 : nib_err(err, NIB_ERR_IO, errno, "open %s", it->src);

	if (o->add && !o->no_unpack && S_ISREG(st.st_mode)) {
		_cleanup_close_ int afd = openat(sparent, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (afd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "open %s", it->src);
		if (bld_copy_is_archive(afd)) {
			if (lseek(afd, 0, SEEK_SET) < 0)
				return nib_err(err, NIB_ERR_IO, errno, "seek %s", it->src);
			return bld_copy_extract(w, afd, it->src, dest, err);
		}
	}
	if (it->keep)
		return apply_parents(w, it, sparent, sname, rpath, dest, err);
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int sfd = -1, dfd = -1;
		_cleanup_free_ char *what = NULL;
		int ret;

		if (bld_copy_resolve(w->dest_root, dest, true, &r, err) < 0)
			return -1;
		what = xasprintf("/%s", r.path);
		if (r.exists && !S_ISDIR(r.st.st_mode)) {
			bld_copy_resolved_free(&r);
			return nib_err(err, NIB_ERR_IO, 0, "cannot copy folder %s to non-folder %s",
				       it->src, what);
		}
		bld_copy_resolved_free(&r);
		if (bld_copy_mkdir_all(w, dest, err) < 0)
			return -1;
		dfd = nib_open_in_root(w->dest_root, dest, O_RDONLY | O_DIRECTORY, 0, err);
		if (dfd < 0)
			return -1;
		sfd = openat(sparent, sname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "open %s", it->src);
		bld_copy_writer_links_reset(w);
		w->link_root = dfd;
		ret = bld_copy_tree_contents(w, sfd, dfd, "", rpath, what, err);
		w->link_root = -1;
		return ret;
	}
	{
		_cleanup_free_ char *tname = NULL, *what = NULL;
		_cleanup_close_ int tfd = dest_target(w, dest, it->name, &tname, &what, err);
		if (tfd < 0)
			return -1;
		return bld_copy_tree_node(w, sparent, sname, tfd, tname, "", rpath, what, true,
					  err);
	}
}

static int apply_file(struct bld_copy_writer *w, struct bld_copy_item *it, const char *dest,
		      struct nib_error *err)
{
	_cleanup_free_ char *tname = NULL, *what = NULL;
	_cleanup_close_ int tfd = -1, mfd = -1;
	struct stat st = {0};
	int in;

	if (it->kind == BLD_COPY_ITEM_HEREDOC) {
		/* BuildKit: a file made 0644 in scratch, then copied */
		mfd = memfd_create("nib-heredoc", MFD_CLOEXEC);
		if (mfd < 0 || nib_write_all(mfd, it->hd->data, it->hd->len) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "heredoc %s", it->hd->name);
		st.st_mode = S_IFREG | 0644;
		st.st_size = (off_t)it->hd->len;
		st.st_atim = st.st_mtim = w->now;
		in = mfd;
	} else {
		/* Docker: downloads are 0600, mtime from Last-Modified */
		if (fstat(it->fd, &st) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "stat download of %s", it->src);
		st.st_mode = S_IFREG | 0600;
		st.st_mtim.tv_sec = it->mtime ? (time_t)it->mtime : w->now.tv_sec;
		st.st_mtim.tv_nsec = it->mtime ? 0 : w->now.tv_nsec;
		st.st_atim = st.st_mtim;
		in = it->fd;
	}
	tfd = dest_target(w, dest, it->name, &tname, &what, err);
	if (tfd < 0)
		return -1;
	return bld_copy_tree_file_fd(w, in, &st, tfd, tname, what, err);
}

static bool dest_is_dir_syntax(const char *d)
{
	size_t n = strlen(d);
	return n == 0 || d[n - 1] == '/' || streq(d, ".") || nib_str_has_suffix(d, "/.");
}

static int check_link_dest(int fd, struct nib_error *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return nib_err(err, NIB_ERR_IO, errno, "open the --link destination");
	}
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "--link needs an empty destination folder (found %s)",
				       de->d_name);
	return 0;
}

/* --timestamp for the folders the writer made, deepest first. */
static void clamp_created(const struct bld_copy_writer *w)
{
	struct timespec ts[2] = {{.tv_sec = (time_t)w->o->timestamp},
				 {.tv_sec = (time_t)w->o->timestamp}};

	if (w->o->timestamp < 0)
		return;
	for (size_t i = w->created.len; i > 0; i--) {
		_cleanup_close_ int fd = nib_open_in_root(w->dest_root, w->created.v[i - 1],
							  O_RDONLY | O_DIRECTORY, 0, NULL);
		if (fd >= 0)
			(void)futimens(fd, ts);
	}
}

int bld_copy_plan_apply(struct bld_copy_plan *p, int dest_root_fd, struct bld_copy_stats *stats,
			struct nib_error *err)
{
	const struct bld_copy_opts *o = p->o;
	struct bld_copy_writer w = {.o = o, .dest_root = dest_root_fd, .link_root = -1};
	_cleanup_free_ char *dest = NULL, *joined = NULL;
	bool dir_syntax = dest_is_dir_syntax(o->dest);
	int ret = -1;

	w.chmod = o->chmod;
	w.excludes = p->excludes;
	clock_gettime(CLOCK_REALTIME, &w.now);
	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (p->n == 0)
		return 0; /* only wildcards that matched nothing */
	if (o->link && check_link_dest(dest_root_fd, err) < 0)
		return -1;
	if (o->chown) {
		int ufd = o->user_root_fd >= 0 ? o->user_root_fd : dest_root_fd;
		if (bld_copy_chown_resolve(ufd, o->chown, &w.chown_uid, &w.chown_gid, err) < 0)
			return -1;
		w.have_chown = true;
	}
	joined = o->dest[0] == '/' ? xstrdup(o->dest)
				   : nib_path_join(o->workdir ? o->workdir : "/", o->dest);
	{
		_cleanup_free_ char *rooted = xasprintf("/%s", joined);
		dest = nib_path_clean(rooted);
	}

	if (p->n > 1 && !dir_syntax && !o->parents) {
		/* The Dockerfile reference: several sources need a folder
		 * destination ending with "/". BuildKit lets each source
		 * overwrite the last (moby/buildkit#1853); nib accepts an
		 * existing folder and refuses the rest. */
		struct bld_copy_resolved r;
		bool ok;
		if (bld_copy_resolve(dest_root_fd, dest, true, &r, err) < 0)
			return -1;
		ok = r.exists && S_ISDIR(r.st.st_mode);
		bld_copy_resolved_free(&r);
		if (!ok)
			return nib_err(
			    err, NIB_ERR_SYNTAX, 0,
			    "%s %s ...: with more than one source (%zu), the destination "
			    "%s must be a folder and end with /",
			    cmd_name(o), p->items[0].src, p->n, o->dest);
	}
	if (dir_syntax || o->parents) {
		if (bld_copy_mkdir_all(&w, dest, err) < 0)
			goto out;
	}
	for (size_t i = 0; i < p->n; i++) {
		struct bld_copy_item *it = &p->items[i];
		int r = it->kind == BLD_COPY_ITEM_PATH ? apply_path(&w, it, dest, err)
						       : apply_file(&w, it, dest, err);
		if (r < 0)
			goto out;
	}
	/* folders made for the destination get the clamp too, after their
	 * contents were written */
	clamp_created(&w);
	ret = 0;
out:
	bld_copy_dirs_relock(&w);
	if (stats)
		*stats = w.stats;
	bld_copy_writer_links_reset(&w);
	free(w.links);
	nib_strv_free(&w.created);
	return ret;
}

int bld_copy_mkdir(const struct bld_copy_opts *o, int dest_root_fd, const char *path,
		   struct nib_error *err)
{
	struct bld_copy_writer w = {.o = o, .dest_root = dest_root_fd, .link_root = -1};
	int ret = -1;

	clock_gettime(CLOCK_REALTIME, &w.now);
	if (o->chown) {
		struct nib_error e = {0};
		if (bld_copy_chown_resolve(dest_root_fd, o->chown, &w.chown_uid, &w.chown_gid, &e) <
		    0) {
			if (e.kind != NIB_ERR_NOT_FOUND) {
				nib_err_move(err, &e);
				return -1;
			}
			/* BuildKit: a USER name the image does not know owns
			 * nothing: the folders are 0:0 */
			nib_err_clear(&e);
			w.chown_uid = 0;
			w.chown_gid = 0;
		}
		w.have_chown = true;
	}
	if (bld_copy_mkdir_all(&w, path, err) < 0)
		goto out;
	clamp_created(&w);
	ret = 0;
out:
	bld_copy_dirs_relock(&w);
	nib_strv_free(&w.created);
	return ret;
}

int bld_copy_run(const struct bld_copy_opts *o, int dest_root_fd, struct bld_copy_stats *stats,
		 struct nib_error *err)
{
	_cleanup_(bld_copy_plan_freep) struct bld_copy_plan *p = NULL;

	if (bld_copy_plan_new(o, &p, err) < 0)
		return -1;
	return bld_copy_plan_apply(p, dest_root_fd, stats, err);
}
