/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the build's file work runs. Layers are extracted, copied into and
 * committed by a process that sees the files with the build's ID map: nib
 * itself when it is real root, else a short-lived child in a new user
 * namespace with the same map the RUN steps get (a subuid range or the
 * single UID), so files owned by subordinate IDs can be read, written and
 * removed. The child also gets its own mount namespace, where the step's
 * overlay is mounted when the work needs the merged view (COPY).
 */
#define BLD_BUILD_INTERNAL
#define BLD_RUNTIME_INTERNAL
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "builder/build_internal.h"

struct shared {
	int ret;
	enum nib_err_kind kind;
	int errnum;
	int status;
	char msg[4096];
	unsigned char result[];
};

int bld_ns_init(struct bld_ns *ns, enum bld_idmap want, struct nib_error *err)
{
	struct bld_idmap_ctx *ctx = xcalloc(1, sizeof(*ctx));
	_cleanup_free_ char *why = NULL;

	memset(ns, 0, sizeof(*ns));
	if (bld_idmap_choose(want, ctx, &why, err) < 0) {
		free(ctx);
		return -1;
	}
	if (why)
		log_info("ID map: %s (%s)", bld_idmap_name(ctx->mode), why);
	ns->mode = ctx->mode;
	ns->idmap_ctx = ctx;
	/* chown works for every ID the layers name: only with real root's map */
	ns->real_chown = ctx->mode == BLD_IDMAP_HOST && bld_idmap_full(ctx);
	if (ns->real_chown) {
		ns->idmap_tag = NULL;
	} else if (ctx->mode == BLD_IDMAP_SINGLE) {
		ns->idmap_tag = xasprintf("u%u", (unsigned)ctx->uid);
	} else if (ctx->mode == BLD_IDMAP_NONE) {
		/* the same files as single's, made without a namespace: kept
		 * apart all the same, so the two never mix in one folder */
		ns->idmap_tag = xasprintf("n%u", (unsigned)ctx->uid);
		ns->disk_uid = (struct stg_idmap_range){0, ctx->uid, 1};
		ns->disk_gid = (struct stg_idmap_range){0, ctx->gid, 1};
		ns->disk_map = (struct stg_idmap){&ns->disk_uid, 1, &ns->disk_gid, 1};
	} else {
		/* the same layer under another range is another tree */
		struct nib_buf b = {0};
		char d[NIB_DIGEST_LEN + 1];
		for (size_t i = 0; i < ctx->n_uids; i++)
			nib_buf_printf(&b, "u%u:%u:%u,", ctx->uids[i].inside, ctx->uids[i].outside,
				       ctx->uids[i].count);
		for (size_t i = 0; i < ctx->n_gids; i++)
			nib_buf_printf(&b, "g%u:%u:%u,", ctx->gids[i].inside, ctx->gids[i].outside,
				       ctx->gids[i].count);
		nib_sha256_digest(b.data, b.len, d);
		ns->idmap_tag = xasprintf("s%.12s", nib_digest_hex(d));
		nib_buf_free(&b);
	}
	return 0;
}

void bld_ns_free(struct bld_ns *ns)
{
	free(ns->idmap_ctx);
	free(ns->idmap_tag);
	memset(ns, 0, sizeof(*ns));
}

static int write_all_fd(int fd, const void *p, size_t n)
{
	return nib_write_all(fd, p, n);
}

int bld_ns_exec(void *vctx, stg_work_fn work, void *arg, void *result, size_t result_size,
		struct nib_error *err)
{
	struct bld_ns *ns = vctx;
	const struct bld_idmap_ctx *ctx = ns->idmap_ctx;
	struct stg_rootfs *ns_mount = ns->mount;
	size_t size = sizeof(struct shared) + result_size;
	struct shared *sh;
	int ready[2], go[2], status = 0, ret;
	pid_t pid;
	char c = 0;

	if (ns_mount && ns_mount->driver == &stg_driver_vfs)
		ns_mount = NULL; /* nothing to mount: the folder is the tree */
	if (ns_mount && bld_userns_probe(NULL) < 0)
		/* no user namespace, so no mount namespace either (root without
		 * CAP_SYS_ADMIN included): callers fall back to plain folders */
		return nib_err(err, NIB_ERR_ENV, EPERM,
			       "mount %s on %s: no mount namespace can be made here",
			       ns_mount->driver->name, ns_mount->target);
	if ((ns->mode == BLD_IDMAP_HOST || ns->mode == BLD_IDMAP_NONE) && !ns_mount)
		return work(arg, err); /* no namespace needed: the work runs here */

	sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return nib_err(err, NIB_ERR_ENV, errno, "mmap");
	sh->ret = -1;
	if (pipe2(ready, O_CLOEXEC) < 0) {
		munmap(sh, size);
		return nib_err(err, NIB_ERR_ENV, errno, "pipe");
	}
	if (pipe2(go, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		munmap(sh, size);
		return nib_err(err, NIB_ERR_ENV, errno, "pipe");
	}
	pid = fork();
	if (pid < 0) {
		ret = nib_err(err, NIB_ERR_ENV, errno, "fork");
		close(ready[0]);
		close(ready[1]);
		close(go[0]);
		close(go[1]);
		munmap(sh, size);
		return ret;
	}
	if (pid == 0) {
		struct nib_error e = {0};
		int flags = CLONE_NEWNS | (ns->real_chown ? 0 : CLONE_NEWUSER);

		close(ready[0]);
		close(go[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(flags) < 0) {
			nib_err(&e, NIB_ERR_ENV, errno, "unshare the build's namespaces");
			goto fail;
		}
		if (write_all_fd(ready[1], "r", 1) < 0 || read(go[0], &c, 1) != 1 || c != 'g') {
			nib_err(&e, NIB_ERR_ENV, 0, "the ID map for the build's namespace failed");
			goto fail;
		}
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
			nib_err(&e, NIB_ERR_ENV, errno, "make / private");
			goto fail;
		}
		if (ns_mount && ns_mount->driver->mount(ns_mount, &e) < 0)
			goto fail;
		sh->ret = work(arg, &e);
		if (sh->ret == 0 && result && result_size)
			memcpy(sh->result, result, result_size);
	fail:
		if (e.kind != NIB_ERR_NONE) {
			sh->kind = e.kind;
			sh->errnum = e.errnum;
			sh->status = e.status;
			snprintf(sh->msg, sizeof(sh->msg), "%s", e.msg ? e.msg : "");
		}
		_exit(sh->ret == 0 ? 0 : 1);
	}
	close(ready[1]);
	close(go[0]);
	ret = 0;
	if (read(ready[0], &c, 1) != 1) {
		ret = -1;
	} else if (!ns->real_chown) {
		/* root of a user-namespaced pod has no CAP_SYS_ADMIN for a
		 * mount namespace of its own: a user namespace with its map */
		const struct bld_idmap_backend *be = bld_idmap_backend_get(ns->mode);
		if (be->apply(ctx, pid, err) < 0)
			ret = -1;
	}
	if (ret == 0)
		write_all_fd(go[1], "g", 1);
	close(go[1]);
	close(ready[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ret < 0) {
		/* the child's own cause (the refused unshare) when it has one */
		if (err && err->kind == NIB_ERR_NONE && sh->kind != NIB_ERR_NONE) {
			nib_err(err, sh->kind, 0, "%s", sh->msg);
			err->errnum = sh->errnum;
		}
		munmap(sh, size);
		if (err && err->kind == NIB_ERR_NONE)
			nib_err(err, NIB_ERR_ENV, 0, "could not enter the build's user namespace");
		return -1;
	}
	if (sh->ret == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (result && result_size)
			memcpy(result, sh->result, result_size);
		munmap(sh, size);
		return 0;
	}
	if (sh->kind != NIB_ERR_NONE) {
		nib_err(err, sh->kind, 0, "%s", sh->msg);
		if (err) {
			err->errnum = sh->errnum;
			err->status = sh->status;
		}
	} else {
		nib_err(err, NIB_ERR_ENV, 0, "the build's helper process ended with status 0x%x",
			status);
	}
	munmap(sh, size);
	return -1;
}
