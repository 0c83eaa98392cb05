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
#include "builder/runtime_internal.h"

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

/* The child: its namespaces, the parent's go, the mount, the work. */
_noreturn_ static void ns_child(const struct bld_ns *ns, struct stg_rootfs *rootfs,
				stg_work_fn work, void *arg, void *result, size_t result_size,
				struct shared *sh, int ready, int go)
{
	struct nib_error e = {0};
	int flags = CLONE_NEWNS | (ns->real_chown ? 0 : CLONE_NEWUSER);
	char c = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(flags) < 0) {
		nib_err(&e, NIB_ERR_ENV, errno, "unshare the build's namespaces");
	} else if (nib_write_all(ready, "r", 1) < 0 || read(go, &c, 1) != 1 || c != 'g') {
		nib_err(&e, NIB_ERR_ENV, 0, "the ID map for the build's namespace failed");
	} else if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		nib_err(&e, NIB_ERR_ENV, errno, "make / private");
	} else if (!rootfs || rootfs->driver->mount(rootfs, &e) == 0) {
		sh->ret = work(arg, &e);
		if (sh->ret == 0 && result && result_size)
			memcpy(sh->result, result, result_size);
	} else if (e.kind != NIB_ERR_ENV) {
		/* the mount is the environment's to refuse */
		e.kind = NIB_ERR_ENV;
	}
	if (e.kind != NIB_ERR_NONE) {
		sh->kind = e.kind;
		sh->errnum = e.errnum;
		sh->status = e.status;
		snprintf(sh->msg, sizeof(sh->msg), "%s", e.msg ? e.msg : "");
	}
	_exit(sh->ret == 0 ? 0 : 1);
}

/* The child's error in `err`. */
static int child_error(const struct shared *sh, struct nib_error *err)
{
	nib_err(err, sh->kind, 0, "%s", sh->msg);
	if (err) {
		err->errnum = sh->errnum;
		err->status = sh->status;
	}
	return -1;
}

int bld_ns_exec(struct bld_ns *ns, struct stg_rootfs *mount, stg_work_fn work, void *arg,
		void *result, size_t result_size, struct nib_error *err)
{
	const struct bld_idmap_ctx *ctx = ns->idmap_ctx;
	_cleanup_map_ struct nib_map map = {.len = sizeof(struct shared) + result_size};
	_cleanup_pair_ int ready[2] = {-1, -1}, go[2] = {-1, -1};
	_cleanup_child_ pid_t pid = -1;
	struct shared *sh;
	int status = 0;
	char c = 0;

	if (mount && bld_userns_probe(NULL) < 0)
		/* no user namespace, so no mount namespace either (root without
		 * CAP_SYS_ADMIN included): callers fall back to plain folders */
		return nib_err(err, NIB_ERR_ENV, EPERM,
			       "mount %s on %s: no mount namespace can be made here",
			       mount->driver->name, mount->target);
	if ((ns->mode == BLD_IDMAP_HOST || ns->mode == BLD_IDMAP_NONE) && !mount)
		return work(arg, err); /* no namespace needed: the work runs here */

	map.p = mmap(NULL, map.len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (map.p == MAP_FAILED)
		return nib_err(err, NIB_ERR_ENV, errno, "mmap");
	sh = map.p;
	sh->ret = -1;
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "pipe");
	pid = fork();
	if (pid < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "fork");
	if (pid == 0) {
		closep(&ready[0]);
		closep(&go[1]);
		ns_child(ns, mount, work, arg, result, result_size, sh, ready[1], go[0]);
	}
	closep(&ready[1]);
	closep(&go[0]);
	if (read(ready[0], &c, 1) != 1)
		/* the child's own cause (the refused unshare) when it has one */
		return sh->kind != NIB_ERR_NONE
			   ? child_error(sh, err)
			   : nib_err(err, NIB_ERR_ENV, 0,
				     "could not enter the build's user namespace");
	/* root of a user-namespaced pod has no CAP_SYS_ADMIN for a mount
	 * namespace of its own: a user namespace with its map */
	if (!ns->real_chown && bld_idmap_backend_get(ns->mode)->apply(ctx, pid, err) < 0)
		return -1;
	if (nib_write_all(go[1], "g", 1) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "start the build's helper process");
	closep(&go[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (sh->ret == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (result && result_size)
			memcpy(result, sh->result, result_size);
		return 0;
	}
	if (sh->kind != NIB_ERR_NONE)
		return child_error(sh, err);
	return nib_err(err, NIB_ERR_ENV, 0, "the build's helper process ended with status 0x%x",
		       status);
}

int bld_ns_storage_exec(void *ns, stg_work_fn work, void *arg, void *result, size_t result_size,
			struct nib_error *err)
{
	return bld_ns_exec(ns, NULL, work, arg, result, result_size, err);
}
