/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Owners of what a RUN step with a non-root USER creates, in single-UID
 * mode. With one mapped UID the step's setuid() is emulated: the process
 * keeps the caller's UID, so every file it creates is owned by container
 * root on disk. Root would have given them the USER's IDs. A file the step
 * created (in the overlay upper folder or the vfs tree, absent from every
 * layer below) that carries no ownership record (the runtime records
 * explicit chown calls) is given the record of the step's user and group,
 * as if the kernel had created it with those IDs.
 */
#define BLD_BUILD_INTERNAL
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "builder/build_internal.h"
#include "builder/copy.h"
#include "builder/userdb.h"

struct owner_work {
	struct stg_rootfs *r;
	const char *user;
	const char *const *exclude;
	bool overlay;
	uid_t uid;
	gid_t gid;
};

static bool excluded(const struct owner_work *w, const char *rel)
{
	for (const char *const *e = w->exclude; e && *e; e++) {
		size_t n = strlen(*e);
		const char *x = **e == '/' ? *e + 1 : *e;
		n = strlen(x);
		if (n && x[n - 1] == '/')
			n--;
		if (strncmp(rel, x, n) == 0 && (rel[n] == '\0' || rel[n] == '/'))
			return true;
	}
	return false;
}

/* Whether `rel` exists in a layer below the step. */
static bool below(const struct owner_work *w, const char *rel)
{
	struct stat sb;

	if (!w->overlay) {
		if (!w->r->base)
			return false;
		_cleanup_free_ char *p = nib_path_join(w->r->base, rel);
		return lstat(p, &sb) == 0;
	}
	for (size_t i = 0; i < w->r->lowers.len; i++) {
		_cleanup_free_ char *p = nib_path_join(w->r->lowers.v[i], rel);
		if (lstat(p, &sb) == 0)
			return !(S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(0, 0));
	}
	return false;
}

static int walk(struct owner_work *w, int dfd, const char *rel, struct nib_error *err)
{
	_cleanup_closedir_ DIR *d = fdopendir(dup(dfd));
	struct dirent *de;

	if (!d)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", rel[0] ? rel : "/");
	while ((de = readdir(d))) {
		struct stat sb;
		char buf[STG_OVERRIDE_MAX];
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *p =
		    rel[0] ? nib_path_join(rel, de->d_name) : xstrdup(de->d_name);
		if (excluded(w, p) || fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(sb.st_mode) || (S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(0, 0)))
			continue; /* symlinks carry no record; whiteouts are deletions */
		_cleanup_close_ int fd =
		    openat(dfd, de->d_name,
			   (S_ISDIR(sb.st_mode) ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_NOFOLLOW |
			       O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)) {
			bool has = fgetxattr(fd, STG_XATTR_OVERRIDE_STAT, buf, sizeof(buf)) >= 0;
			if (!has && !below(w, p)) {
				struct stg_override o = {.uid = w->uid,
							 .gid = w->gid,
							 .mode = sb.st_mode,
							 .has_type = true};
				if (stg_override_set(fd, &o, err) < 0)
					return nib_err_wrap(err, "%s", p);
			}
		}
		if (S_ISDIR(sb.st_mode) && walk(w, fd, p, err) < 0)
			return -1;
	}
	return 0;
}

static int owner_work(void *arg, struct nib_error *err)
{
	struct owner_work *w = arg;
	const char *tree = w->overlay ? w->r->upper : w->r->target;
	_cleanup_close_ int root = open(w->r->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int tfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (root < 0 || tfd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", tree);
	/* USER as the runtime resolves it: a number is a UID, the image's
	 * files are read inside the rootfs as bounded regular files */
	_cleanup_free_ char *pw = NULL, *gr = NULL, *home = NULL;
	gid_t none[1];
	size_t n_groups = 0;
	if (bld_userdb_read(root, "etc/passwd", &pw, err) < 0 ||
	    bld_userdb_read(root, "etc/group", &gr, err) < 0 ||
	    bld_userdb_lookup(pw, gr, w->user, &w->uid, &w->gid, none, &n_groups, &home, err) < 0)
		return nib_err_wrap(err, "USER %s", w->user);
	if (w->uid == 0 && w->gid == 0)
		return 0;
	return walk(w, tfd, "", err);
}

int bld_owner_fix(struct bld_build *b, struct stg_rootfs *r, const char *user,
		  const char *const *exclude, struct nib_error *err)
{
	struct owner_work w = {.r = r, .user = user, .exclude = exclude};

	if ((b->ns.mode != BLD_IDMAP_SINGLE && b->ns.mode != BLD_IDMAP_NONE) || !user || !*user ||
	    streq(user, "0") || streq(user, "root") || streq(user, "0:0") ||
	    streq(user, "root:root"))
		return 0;
	w.overlay = bld_merged(b, r) != NULL;
	/* the merged view for the image's /etc/passwd and /etc/group */
	return bld_ns_exec(&b->ns, bld_merged(b, r), owner_work, &w, NULL, 0, err);
}
