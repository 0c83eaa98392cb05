/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN: the command (exec form as written, shell form through SHELL), its
 * environment (the image's ENV, then the build args in scope ENV does not
 * set, then the host's proxy settings), its mounts and network, through
 * the embedded runtime over the step's rootfs; a non-zero status fails the
 * build with that status.
 */
#define BLD_BUILD_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/build_internal.h"
#include "builder/builder.h"

struct run_step {
	struct bld_layer_step ls;
	struct nib_strv argv, env;
	struct bld_run_mounts *mounts;
};

/* Runs in the RUN container's namespaces: the overlay gets one more lower
 * folder on top holding the runtime's mount targets (etc/resolv.conf,
 * etc/hosts, etc/hostname, proc, sys, dev), so binding them never copies a
 * folder of the image up into the step's layer. This is the child's copy of
 * `r`: the parent's list of lowers is unchanged. */
static int rootfs_setup(void *ctx, struct nib_error *err)
{
	static const char *const mounts[] = BLD_NO_SYMLINK_MOUNTS;
	struct stg_rootfs *r = ctx;

	/* the targets folder would hide them */
	for (size_t i = 0; i < ARRAY_SIZE(mounts); i++)
		if (stg_rootfs_entry_type(r, mounts[i]) == S_IFLNK)
			return nib_err(err, NIB_ERR_ENV, 0, BLD_SYMLINK_MOUNT_FMT, mounts[i]);
	nib_strv_push_take(&r->lowers, xasprintf("%s/targets", r->dir));
	return r->driver->mount(r, err);
}

/* The overlay shows a folder with the times and mode of the topmost layer
 * that has it: each target folder takes those of the image's (its upper
 * folder's, else its top layer's), so a RUN that copies it up leaves them
 * as they were, as under vfs and ptrace. */
static void target_like_image(const struct stg_rootfs *r, int dfd, const char *name)
{
	for (size_t i = r->lowers.len + 1; i-- > 0;) {
		const char *layer = i == r->lowers.len ? r->upper : r->lowers.v[i];
		_cleanup_free_ char *p = layer ? xasprintf("%s/%s", layer, name + 8) : NULL;
		struct stat st;

		if (!p || lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			const struct timespec t[2] = {st.st_atim, st.st_mtim};
			fchmodat(dfd, name, st.st_mode & 07777, 0);
			utimensat(dfd, name, t, AT_SYMLINK_NOFOLLOW);
		}
		return;
	}
}

static int make_targets(const struct stg_rootfs *r, const struct bld_etc_opts *etc,
			struct nib_error *err)
{
	static const char *const dirs[] = {"targets", "targets/etc", "targets/proc", "targets/sys",
					   "targets/dev"};
	static const char *const files[] = {"targets/etc/resolv.conf", "targets/etc/hosts",
					    "targets/etc/hostname"};
	_cleanup_close_ int dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", r->dir);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdirat(dfd, dirs[i], 0755) < 0 && errno != EEXIST)
			return nib_err(err, NIB_ERR_IO, errno, "mkdir %s/%s", r->dir, dirs[i]);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		if (bld_etc_keeps_image(etc, files[i] + strlen("targets/etc/")))
			continue;
		int fd = openat(dfd, files[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "create %s/%s", r->dir, files[i]);
		close(fd);
	}
	for (size_t i = 1; i < ARRAY_SIZE(dirs); i++)
		target_like_image(r, dfd, dirs[i]);
	return 0;
}

/* The variables the mounts set (secrets' env=, SSH_AUTH_SOCK), in place
 * of those of the same name (BuildKit): in the step's environment only,
 * never in its config, history or key. */
static void env_add_mounts(struct nib_strv *env, const struct nib_strv *secrets)
{
	for (size_t i = 0; i < secrets->len; i++) {
		size_t k = (size_t)(strchr(secrets->v[i], '=') - secrets->v[i]) + 1, j = 0;
		for (size_t n = 0; n < env->len; n++)
			if (strncmp(env->v[n], secrets->v[i], k) == 0)
				free(env->v[n]);
			else
				env->v[j++] = env->v[n];
		env->len = j;
		env->v[j] = NULL;
		nib_strv_push(env, secrets->v[i]);
	}
}

static int run_run(struct bld_layer_step *ls, struct nib_error *err)
{
	struct run_step *rs = (struct run_step *)ls;
	struct bld_stage *s = ls->s;
	struct bld_build *b = s->b;
	const struct cf_step *step = ls->step;
	const struct stg_container_config *c = &s->cfg->config;
	struct bld_run_spec spec;
	struct bld_run_result res;

	bld_run_spec_init(&spec);
	spec.rootfs = ls->r->target;
	spec.argv = rs->argv.v;
	spec.user = c->user && *c->user ? c->user : NULL;
	spec.workdir = c->working_dir && *c->working_dir ? c->working_dir : NULL;
	if (bld_mounts_realise(s, step, &rs->mounts, &spec.mounts, &spec.n_mounts, err) < 0)
		return -1;
	env_add_mounts(&rs->env, bld_mounts_env(rs->mounts));
	spec.env = rs->env.v;
	spec.network = b->o->network;
	if (step->run.network == CF_NETWORK_NONE)
		spec.network = BLD_NET_NONE;
	else if (step->run.network == CF_NETWORK_HOST)
		spec.network = BLD_NET_HOST;
	spec.etc = bld_build_etc(b->o);
	spec.idmap = b->ns.mode;
	spec.isolation = b->o->isolation;
	spec.limits = b->o->limits;
	spec.timeout = b->o->step_timeout;
	spec.cap_add = b->o->cap_add.len ? b->o->cap_add.v : NULL;
	spec.cap_drop = b->o->cap_drop.len ? b->o->cap_drop.v : NULL;
	/* RUN --security=insecure (check_plan refused it unless allowed) */
	struct bld_security sec = b->o->security;
	sec.insecure = step->run.security == CF_SECURITY_INSECURE;
	spec.security = &sec;
	if (b->o->run_stdin)
		spec.stdin_fd = STDIN_FILENO;
	spec.on_line = bld_log_line;
	spec.line_ctx = b;
	if (bld_merged(b, ls->r)) {
		if (make_targets(ls->r, &spec.etc, err) < 0)
			return -1;
		spec.rootfs_setup = rootfs_setup;
		spec.rootfs_setup_ctx = ls->r;
		free(ls->r->mount_label);
		ls->r->mount_label = bld_selinux_file_label(&sec);
	}
	/* another architecture: qemu-user-static through binfmt_misc (not
	 * under ptrace, which RUN takes where no user namespace is made) */
	if (bld_platform_emulated(
		s->cfg->architecture,
		b->o->isolation == BLD_ISOLATION_PTRACE || b->ns.mode == BLD_IDMAP_NONE, err) < 0)
		return -1;
	if (bld_runtime_run(&spec, &res, err) < 0) {
		bld_platform_explain_exec(s->cfg->architecture, err);
		return nib_err_wrap(err, "%s", step->in->original);
	}
	for (size_t i = 0; i < res.created.len; i++)
		nib_strv_push(&ls->exclude, res.created.v[i]);
	bld_run_result_free(&res);
	if (!res.interrupted && !res.signal && res.exit_code == 0 &&
	    bld_owner_fix(b, ls->r, spec.user, (const char *const *)ls->exclude.v, err) < 0)
		return -1;
	if (res.interrupted)
		return nib_err(err, NIB_ERR_RUN, EINTR, "interrupted");
	if (res.signal || res.exit_code != 0) {
		_cleanup_free_ char *why = bld_run_result_why(&spec, &res);
		nib_err(err, NIB_ERR_RUN, 0, "%s: %s %d%s", step->in->original,
			res.signal ? "killed by signal" : "exit status",
			res.signal ? res.signal : res.exit_code, why);
		err->status = res.exit_code;
		return -1;
	}
	return 0;
}

/* The command: exec form as written, shell form through SHELL. */
static void run_argv(const struct bld_stage *s, const struct cf_step *step, struct nib_strv *argv)
{
	const struct nib_strv *shell = &s->cfg->config.shell;

	if (step->in->exec_form) {
		for (size_t i = 0; i < step->words.len; i++)
			nib_strv_push(argv, step->words.v[i]);
		return;
	}
	if (shell->len) {
		for (size_t i = 0; i < shell->len; i++)
			nib_strv_push(argv, shell->v[i]);
	} else {
		nib_strv_push(argv, "/bin/sh");
		nib_strv_push(argv, "-c");
	}
	nib_strv_push(argv, step->run.script);
}

/* The environment: the image's ENV, then build args in scope that ENV does
 * not set (Docker: visible to RUN, never in the config). */
static void run_env(const struct bld_stage *s, struct nib_strv *out)
{
	/* buildah --http-proxy: the host's proxy settings, unless ENV or a
	 * build argument sets them; like Docker's predefined proxy ARGs they
	 * stay out of the cache key and the history */
	static const char *const proxy_vars[] = {"http_proxy",	"HTTP_PROXY", "https_proxy",
						 "HTTPS_PROXY", "ftp_proxy",  "FTP_PROXY",
						 "no_proxy",	"NO_PROXY"};
	const struct nib_strv *env = &s->cfg->config.env;

	for (size_t i = 0; i < env->len; i++)
		nib_strv_push(out, env->v[i]);
	if (!nib_env_get(env->v, "PATH"))
		nib_strv_push(out, "PATH=" NIB_DEFAULT_PATH);
	for (size_t i = 0; i < s->args.len; i++) {
		const char *eq = strchr(s->args.v[i], '=');
		_cleanup_free_ char *k = xstrndup(s->args.v[i], (size_t)(eq - s->args.v[i]));
		if (!nib_env_get(env->v, k))
			nib_strv_push(out, s->args.v[i]);
	}
	for (size_t i = 0; s->b->o->http_proxy && i < ARRAY_SIZE(proxy_vars); i++) {
		const char *v = getenv(proxy_vars[i]);
		if (v && !nib_env_get(out->v, proxy_vars[i]))
			nib_strv_pushf(out, "%s=%s", proxy_vars[i], v);
	}
}

static char *history_text(const struct cf_step *step, const struct nib_strv *argv)
{
	struct nib_buf by = {0};

	nib_buf_puts(&by, "RUN ");
	if (step->in->exec_form) {
		_cleanup_free_ char *j = nib_strv_join(argv, " ");
		nib_buf_puts(&by, j ? j : "");
	} else {
		nib_buf_printf(&by, "%s %s", argv->v[0], argv->len > 2 ? argv->v[1] : "");
		nib_buf_printf(&by, " %s", step->words.len ? step->words.v[0] : "");
	}
	nib_buf_puts(&by, " # buildkit");
	return nib_buf_steal(&by);
}

int bld_step_run(struct bld_stage *s, const struct cf_step *step, struct nib_error *err)
{
	const struct bld_build_opts *o = s->b->o;
	struct run_step rs = {.ls = {.s = s, .step = step, .run = run_run}};
	_cleanup_buf_ struct nib_buf mounts = {0};
	_cleanup_free_ char *key = NULL, *by = NULL;
	int ret = -1;

	run_argv(s, step, &rs.argv);
	run_env(s, &rs.env);
	if (bld_mounts_key(s, step, &mounts, err) < 0)
		goto out;
	struct bld_key_run k = {
	    .argv = rs.argv.v,
	    .network = (int)o->network,
	    .cap_add = o->cap_add.len ? o->cap_add.v : NULL,
	    .cap_drop = o->cap_drop.len ? o->cap_drop.v : NULL,
	    .args = s->args.v,
	    .step = step,
	    .mounts = mounts.data,
	};
	key = bld_key_run_text(&k);
	by = history_text(step, &rs.argv);
	ret = bld_layer_step_exec(&rs.ls, key, by, err);
out:
	bld_layer_step_free(&rs.ls);
	nib_strv_free(&rs.argv);
	for (size_t i = 0; i < rs.env.len; i++) /* a secret's env= among them */
		explicit_bzero(rs.env.v[i], strlen(rs.env.v[i]));
	nib_strv_free(&rs.env);
	bld_mounts_free(rs.mounts);
	return ret;
}
