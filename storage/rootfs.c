/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rootfs assembly: the driver table, the probe ladder, a step's folder,
 * commit and adoption of its result into the layer cache; the vfs driver.
 */
#define NIB_STORAGE_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "storage/layer_internal.h"

static const struct stg_rootfs_driver *const drivers[] = {
    &stg_driver_overlay,
    &stg_driver_fuse_overlayfs,
    &stg_driver_vfs,
};

const struct stg_rootfs_driver *stg_rootfs_driver_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++)
		if (streq(drivers[i]->name, name))
			return drivers[i];
	return NULL;
}

int stg_rootfs_driver_pick(struct stg_store *st, const char *name,
			   const struct stg_rootfs_driver **out, struct nib_strv *why,
			   struct nib_error *err)
{
	if (name && *name && !streq(name, "auto")) {
		const struct stg_rootfs_driver *d = stg_rootfs_driver_find(name);
		if (!d)
			return nib_err(
			    err, NIB_ERR_USAGE, 0,
			    "unknown storage driver \"%s\" (overlay, fuse-overlayfs, vfs)", name);
		if (d->probe(st, err) < 0)
			return nib_err_wrap(err, "storage driver %s", name);
		*out = d;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
		struct nib_error e = {0};
		if (drivers[i]->probe(st, &e) == 0) {
			*out = drivers[i];
			return 0;
		}
		log_debug("storage driver %s: %s", drivers[i]->name, e.msg);
		if (why)
			nib_strv_pushf(why, "%s: %s", drivers[i]->name, e.msg);
		nib_err_clear(&e);
	}
	return nib_err(err, NIB_ERR_ENV, 0, "no storage driver works here");
}

void stg_rootfs_free(struct stg_rootfs *r)
{
	if (!r)
		return;
	free(r->dir);
	free(r->target);
	free(r->upper);
	free(r->work);
	free(r->base);
	free(r->mount_label);
	nib_strv_free(&r->lowers);
	free(r);
}

/* ---- a step's folder ---------------------------------------------------- */

struct copy_work {
	const char *from, *to;
};

static int copy_work(void *arg, struct nib_error *err)
{
	struct copy_work *w = arg;
	_cleanup_close_ int s = open(w->from, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int d = open(w->to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (s < 0 || d < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", s < 0 ? w->from : w->to);
	return stg_layer_copy_tree(s, d, err);
}

mode_t stg_rootfs_entry_type(const struct stg_rootfs *r, const char *name)
{
	bool ovl = r->driver->layer_form == STG_WHITEOUT_OVERLAY;
	struct stat st;

	/* vfs: the tree itself; overlay: the top-most folder that has the
	 * name decides (a 0:0 character device there, a whiteout, hides it) */
	for (size_t i = ovl ? r->lowers.len + 1 : 1; i-- > 0;) {
		const char *dir = !ovl ? r->target : i == r->lowers.len ? r->upper : r->lowers.v[i];
		_cleanup_close_ int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0 || fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (ovl && S_ISCHR(st.st_mode) && st.st_rdev == 0)
			return 0;
		return st.st_mode & S_IFMT;
	}
	return 0;
}

int stg_rootfs_prepare(struct stg_store *st, const struct stg_rootfs_driver *d,
		       const struct nib_strv *layer_dirs, const struct stg_unpack_opts *uo,
		       struct stg_rootfs **out, struct nib_error *err)
{
	_cleanup_(stg_rootfs_freep) struct stg_rootfs *r = xcalloc(1, sizeof(*r));
	_cleanup_close_ int tmpfd =
	    openat(stg_store_nib_dirfd(st), "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *name = NULL;

	/* passable by every user, with a name no one can guess: a RUN under
	 * the ptrace isolation names its rootfs by this path, also after it
	 * became the image's USER */
	if (tmpfd < 0 || nib_create_tmp_at(tmpfd, "step-", true, 0711, &name) < 0 ||
	    fchmodat(tmpfd, name, 0711, 0) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "mkdir %s/nib/tmp/%s", stg_store_path(st),
			       name ? name : "step-");
	r->driver = d;
	r->dir = xasprintf("%s/nib/tmp/%s", stg_store_path(st), name);
	for (size_t i = 0; layer_dirs && i < layer_dirs->len; i++)
		nib_strv_push(&r->lowers, layer_dirs->v[i]);
	if (d->layer_form == STG_WHITEOUT_OVERLAY) {
		r->upper = xasprintf("%s/upper", r->dir);
		r->work = xasprintf("%s/work", r->dir);
		r->target = xasprintf("%s/merged", r->dir);
		if (mkdir(r->upper, 0755) < 0 || mkdir(r->work, 0700) < 0 ||
		    mkdir(r->target, 0755) < 0) {
			nib_err(err, NIB_ERR_IO, errno, "mkdir in %s", r->dir);
			nib_rm_rf_at(AT_FDCWD, r->dir, NULL);
			return -1;
		}
	} else {
		r->target = xasprintf("%s/rootfs", r->dir);
		if (mkdir(r->target, 0755) < 0) {
			nib_err(err, NIB_ERR_IO, errno, "mkdir %s", r->target);
			nib_rm_rf_at(AT_FDCWD, r->dir, NULL);
			return -1;
		}
		if (r->lowers.len) {
			struct copy_work w = {r->lowers.v[r->lowers.len - 1], r->target};
			r->base = xstrdup(w.from);
			if (stg_layer_exec(uo, copy_work, &w, NULL, 0, err) < 0) {
				stg_layer_remove(uo, AT_FDCWD, r->dir);
				return -1;
			}
		}
		clock_gettime(CLOCK_REALTIME, &r->copied_at);
	}
	*out = steal_pointer(&r);
	return 0;
}

struct commit_work {
	struct stg_store *st;
	struct stg_rootfs *r;
	struct stg_commit_opts o;
};

struct commit_call {
	struct commit_work w;
	struct stg_layer_out *out;
};

static int commit_work_out(void *arg, struct nib_error *err)
{
	struct commit_call *c = arg;
	struct stg_layer_out out;
	_cleanup_close_ int tfd = -1, bfd = -1;
	const char *tree = c->w.r->driver->diff == STG_DIFF_UPPER ? c->w.r->upper : c->w.r->target;

	tfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", tree);
	if (c->w.o.kind == STG_DIFF_COMPARE && c->w.r->base) {
		bfd = open(c->w.r->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (bfd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "open %s", c->w.r->base);
	}
	c->w.o.basefd = bfd;
	if (stg_layer_commit(c->w.st, tfd, &c->w.o, &out, err) < 0)
		return -1;
	*c->out = out;
	return 0;
}

int stg_rootfs_commit(struct stg_store *st, struct stg_rootfs *r, const struct stg_commit_opts *o,
		      const struct stg_unpack_opts *uo, struct stg_layer_out *out,
		      struct nib_error *err)
{
	struct commit_call c = {{st, r, *o}, out};

	c.w.o.kind = r->driver->diff;
	c.w.o.copied_at = r->copied_at;
	c.w.o.fuse_upper = r->driver == &stg_driver_fuse_overlayfs;
	static const char *const no_lowers[] = {NULL};
	/* no lower folder: an empty list, so that no folder counts as opaque */
	c.w.o.lowers = r->lowers.len ? (const char *const *)r->lowers.v : no_lowers;
	if (!c.w.o.idmap && uo)
		c.w.o.idmap = uo->idmap;
	return stg_layer_exec(uo, commit_work_out, &c, out, sizeof(*out), err);
}

struct prune_work {
	const char *tree;
	const char *const *exclude;
};

static int prune_work(void *arg, struct nib_error *err)
{
	struct prune_work *w = arg;
	_cleanup_close_ int t = open(w->tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (t < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", w->tree);
	for (const char *const *e = w->exclude; e && *e; e++) {
		_cleanup_free_ char *p = nib_path_clean(**e == '/' ? *e + 1 : *e);
		size_t n = strlen(*e);
		if (!nib_path_is_below(p) || streq(p, "."))
			continue;
		if (n && (*e)[n - 1] == '/') { /* content only */
			_cleanup_close_ int d = stg_open_nosym(t, p, O_RDONLY | O_DIRECTORY, 0);
			_cleanup_closedir_ DIR *dir = NULL;
			struct dirent *de;
			if (d < 0)
				continue;
			dir = fdopendir(dup(d));
			while (dir && (de = readdir(dir)))
				if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
				    nib_rm_rf_at(d, de->d_name, err) < 0)
					return -1;
			continue;
		}
		char *slash = strrchr(p, '/');
		_cleanup_close_ int d = -1;
		if (slash) {
			*slash = '\0';
			d = stg_open_nosym(t, p, O_RDONLY | O_DIRECTORY, 0);
			if (d >= 0 && nib_rm_rf_at(d, slash + 1, err) < 0)
				return -1;
		} else if (nib_rm_rf_at(t, p, err) < 0) {
			return -1;
		}
	}
	return 0;
}

int stg_rootfs_adopt(struct stg_store *st, struct stg_rootfs *r, const char *parent_chain,
		     const struct stg_layer_out *layer, const char *const *exclude,
		     const struct stg_unpack_opts *uo, struct nib_strv *dirs, struct nib_error *err)
{
	char chain[NIB_DIGEST_LEN + 1], form[128];
	int nibfd = stg_store_nib_dirfd(st);
	struct stg_unpack_opts o = *uo;
	const char *tree = r->driver->diff == STG_DIFF_UPPER ? r->upper : r->target;
	_cleanup_free_ char *rel = NULL;
	struct stat sb;

	o.driver = r->driver;
	stg_layer_form_dir(&o, stg_layer_form(&o), form, sizeof(form));
	stg_chain_id(parent_chain, layer->diff_id, chain);
	rel = xasprintf("%s/%s", form, nib_digest_hex(chain));
	if (r->driver == &stg_driver_fuse_overlayfs) {
		/* its upper folder has fuse-overlayfs' own whiteouts: extract the
		 * blob instead (overlay form: each layer stands alone) */
		struct stg_layer_ref ref = {layer->digest, layer->diff_id};
		if (fstatat(nibfd, rel, &sb, 0) < 0 &&
		    stg_layer_extract_to(st, &ref, 1, STG_WHITEOUT_OVERLAY, NULL, rel, &o, err) < 0)
			return -1;
		nib_strv_push_take(dirs, xasprintf("%s/nib/%s", stg_store_path(st), rel));
		return 0;
	}
	struct prune_work pw = {tree, exclude};
	if (nib_mkdir_p_at(nibfd, form, 0700, err) < 0 ||
	    stg_layer_exec(uo, prune_work, &pw, NULL, 0, err) < 0)
		return -1;
	_cleanup_free_ char *dst = xasprintf("%s/nib/%s", stg_store_path(st), rel);
	if (rename(tree, dst) < 0 && errno != EEXIST && errno != ENOTEMPTY)
		return nib_err(err, NIB_ERR_IO, errno, "rename %s to %s", tree, dst);
	nib_strv_push_take(dirs, steal_pointer(&dst));
	return 0;
}

int stg_rootfs_remove(struct stg_rootfs *r, const struct stg_unpack_opts *uo, struct nib_error *err)
{
	int ret = 0;

	if (!r)
		return 0;
	if (r->dir && stg_layer_remove(uo, AT_FDCWD, r->dir) < 0)
		ret = nib_err(err, NIB_ERR_IO, 0, "could not remove %s", r->dir);
	stg_rootfs_free(r);
	return ret;
}

/* ---- vfs: a full copy per step ---------------------------------------------- */

static int vfs_probe(struct stg_store *st, struct nib_error *err)
{
	return 0;
}

static int vfs_mount(struct stg_rootfs *r, struct nib_error *err)
{
	return 0;
}

const struct stg_rootfs_driver stg_driver_vfs = {
    .name = "vfs",
    .layer_form = STG_WHITEOUT_APPLY,
    .diff = STG_DIFF_COMPARE,
    .probe = vfs_probe,
    .mount = vfs_mount,
    .umount = vfs_mount,
};
