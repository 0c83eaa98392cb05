/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN --mount: what BuildKit's dockerfile frontend offers, over the
 * runtime's bind, tmpfs and data mounts.
 *   type=bind    a path of the context (or of a stage or image with from=),
 *                read-only unless rw; rw binds a throwaway copy, so changes
 *                are discarded; from the context, what the ignore file
 *                excludes is not there (a copy without it, as COPY takes
 *                the context); its content is part of the step's cache key
 *   type=cache   a folder kept in the storage root (nib/cache-mounts/) by id
 *                (default: the target), created with uid/gid/mode;
 *                sharing=locked holds a lock for the step, sharing=private
 *                gets a fresh folder (BuildKit would hand out a second
 *                cache folder; nib does not keep it)
 *   type=tmpfs   an empty tmpfs of size= (default 1 GiB, or the step's
 *                memory limit when lower)
 *   type=secret  the --secret of that id, read into memory and handed to
 *                the runtime, which writes it into a private tmpfs of the
 *                step's mount namespace (a tmpfs under ptrace) and binds it
 *                read-only: it never reaches a disk, and a killed nib leaves
 *                nothing; env=NAME puts it in the step's environment
 *                instead (or too, with a target); never in a layer, the
 *                history, the log, the config or the cache key
 * Targets the runtime creates for these mounts never enter the layer.
 */
#define BLD_BUILD_INTERNAL
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "builder/build_internal.h"
#include "builder/copy.h"

/* A mount being realised: its host side and what to undo after the step. */
struct bld_run_mounts {
	struct bld_mount *bm;
	char **targets; /* per mount: the target inside the rootfs */
	char **hosts;	/* per mount: the host path bound */
	size_t n;
	struct nib_strv tmp; /* folders removed after the step */
	int *locks;
	size_t n_locks;
	struct secret_data {
		char *v;
		size_t len;
	} * data; /* secrets' values, wiped after the step */
	size_t n_data;
	struct nib_strv env; /* what the mounts set: secrets' env=, SSH_AUTH_SOCK */
};

void bld_mounts_free(struct bld_run_mounts *rm)
{
	if (!rm)
		return;
	for (size_t i = 0; i < rm->n; i++) {
		free(rm->targets[i]);
		free(rm->hosts[i]);
	}
	for (size_t i = 0; i < rm->tmp.len; i++)
		nib_rm_rf_at(AT_FDCWD, rm->tmp.v[i], NULL);
	for (size_t i = 0; i < rm->n_locks; i++)
		close(rm->locks[i]);
	nib_strv_free(&rm->tmp);
	for (size_t i = 0; i < rm->n_data; i++) {
		explicit_bzero(rm->data[i].v, rm->data[i].len);
		free(rm->data[i].v);
	}
	free(rm->data);
	for (size_t i = 0; i < rm->env.len; i++)
		explicit_bzero(rm->env.v[i], strlen(rm->env.v[i]));
	nib_strv_free(&rm->env);
	free(rm->locks);
	free(rm->targets);
	free(rm->hosts);
	free(rm->bm);
	free(rm);
}

/* The target in the rootfs of the step's mount `i`: relative to WORKDIR; a
 * secret's default is /run/secrets/ID, the Nth SSH agent's
 * /run/buildkit/ssh_agent.N (BuildKit's). */
static char *target_of(struct bld_stage *s, const struct cf_step *step, size_t i)
{
	const struct cf_mount *m = &step->run.mounts[i];

	if (!m->target && m->type == CF_MOUNT_SECRET)
		return xasprintf("/run/secrets/%s", m->id ? m->id : "");
	if (!m->target && m->type == CF_MOUNT_SSH) {
		size_t n = 0;
		for (size_t k = 0; k < i; k++)
			n += step->run.mounts[k].type == CF_MOUNT_SSH;
		return xasprintf("/run/buildkit/ssh_agent.%zu", n);
	}
	const char *t = m->target ? m->target : "/";
	if (t[0] == '/')
		return nib_path_clean(t);
	const char *wd = s->cfg->config.working_dir && *s->cfg->config.working_dir
			     ? s->cfg->config.working_dir
			     : "/";
	_cleanup_free_ char *j = nib_path_join(wd, t);
	return nib_path_clean(j);
}

static const char *source_of(const struct cf_mount *m)
{
	return m->source ? m->source : "/";
}

/* bind: read-only unless rw (and not ro) */
static bool writable(const struct cf_mount *m)
{
	return m->rw && !m->readonly;
}

/* A tmpfs without size=: 1 GiB, or the step's memory limit when lower
 * (the kernel's own default, half the RAM per mount, lets a few mounts
 * take all of it). */
#define TMPFS_SIZE_DEFAULT (1ull << 30)
static uint64_t tmpfs_size_default(const struct bld_limits *l)
{
	return l->memory && l->memory < TMPFS_SIZE_DEFAULT ? l->memory : TMPFS_SIZE_DEFAULT;
}

const struct nib_strv *bld_mounts_env(const struct bld_run_mounts *rm)
{
	return &rm->env;
}

const struct bld_secret *bld_secret_find(const struct bld_build_opts *o, const char *id)
{
	for (size_t i = 0; i < o->n_secrets; i++)
		if (streq(o->secrets[i].id, id))
			return &o->secrets[i];
	return NULL;
}

/* The content digest of a path of the context (or of a folder's
 * --build-context: `fd`, without an ignore file) for the cache key. */
static int bind_digest(struct bld_build *b, int fd, const char *src, char out[NIB_DIGEST_LEN + 1],
		       struct nib_error *err)
{
	struct bld_copy_opts co;
	struct bld_copy_matcher mt;
	_cleanup_(bld_copy_plan_freep) struct bld_copy_plan *p = NULL;
	const char *srcs[] = {src};

	bld_copy_opts_init(&co);
	co.srcs = srcs;
	co.n_srcs = 1;
	co.dest = "/x";
	co.src_fd = fd >= 0 ? fd : b->ctx_fd;
	if (fd < 0 && b->ignore) {
		bld_copy_matcher_cf(&mt, b->ignore);
		co.ignore = &mt;
	}
	if (bld_copy_plan_new(&co, &p, err) < 0 || bld_copy_plan_digest(p, out, err) < 0)
		return -1;
	return 0;
}

int bld_mounts_key(struct bld_stage *s, const struct cf_step *step, struct nib_buf *key,
		   struct nib_error *err)
{
	struct bld_build *b = s->b;

	for (size_t i = 0; i < step->run.n_mounts; i++) {
		const struct cf_mount *m = &step->run.mounts[i];
		_cleanup_free_ char *target = target_of(s, step, i);
		/* what changes the step's result (never a secret's value, never
		 * a cache folder's content) */
		nib_buf_printf(key, "\nmount %d %s %s %s", (int)m->type, target, source_of(m),
			       writable(m) ? "rw" : "ro");
		if (m->env)
			nib_buf_printf(key, " env %s", m->env);
		if (m->size)
			nib_buf_printf(key, " size %" PRIu64, m->size);
		if (m->type != CF_MOUNT_BIND)
			continue;
		_cleanup_close_ int named = -2;
		if (m->from && m->from_stage < 0 &&
		    (named = bld_named_dir(b->o, m->from, err)) == -1)
			return -1;
		if (!m->from || named >= 0) {
			char d[NIB_DIGEST_LEN + 1];
			if (bind_digest(b, named, source_of(m), d, err) < 0)
				return nib_err_wrap(err, "RUN --mount source %s", source_of(m));
			nib_buf_printf(key, " %s", d);
		} else if (m->from_stage >= 0) {
			nib_buf_printf(key, " stage %s", b->stages[m->from_stage].key);
		} else {
			_cleanup_free_ char *img = bld_named_image(b->o, m->from, err);
			if (!img)
				return -1;
			nib_buf_printf(key, " image %s", img);
		}
	}
	return 0;
}

struct cache_dir_work {
	const char *path;
	long uid, gid, mode;
};

static int cache_dir_work(void *arg, struct nib_error *err)
{
	struct cache_dir_work *w = arg;
	struct stat sb;

	if (stat(w->path, &sb) == 0)
		return 0;
	if (mkdir(w->path, w->mode >= 0 ? (mode_t)w->mode : 0755) < 0 && errno != EEXIST)
		return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", w->path);
	/* mkdir's mode went through the umask */
	if (w->mode >= 0 && chmod(w->path, (mode_t)w->mode) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "chmod %s", w->path);
	if ((w->uid >= 0 || w->gid >= 0) && chown(w->path, w->uid >= 0 ? (uid_t)w->uid : (uid_t)-1,
						  w->gid >= 0 ? (gid_t)w->gid : (gid_t)-1) < 0) {
		/* single UID: the owner is recorded instead */
		struct stg_override o = {.uid = w->uid >= 0 ? (uint32_t)w->uid : 0,
					 .gid = w->gid >= 0 ? (uint32_t)w->gid : 0,
					 .mode = S_IFDIR | (w->mode >= 0 ? (mode_t)w->mode : 0755),
					 .has_type = true};
		char rec[STG_OVERRIDE_MAX];
		stg_override_format(&o, rec, sizeof(rec));
		/* mode= may leave the owner no permission to open it */
		if (stg_setxattr_owned(w->path, STG_XATTR_OVERRIDE_STAT, rec, strlen(rec)) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "%s: set %s", w->path,
				       STG_XATTR_OVERRIDE_STAT);
	}
	return 0;
}

static char *tmp_dir(struct bld_build *b, struct bld_run_mounts *rm, const char *what,
		     struct nib_error *err)
{
	_cleanup_free_ char *t = xasprintf("%s/nib/tmp/%s-XXXXXX", stg_store_path(b->st), what);
	if (!mkdtemp(t)) {
		nib_err(err, NIB_ERR_IO, errno, "mkdir %s", t);
		return NULL;
	}
	nib_strv_push(&rm->tmp, t);
	return steal_pointer(&t);
}

/* A host path for `src` resolved inside the folder `rootfd`. */
static char *resolve_in(int rootfd, const char *src, struct nib_error *err)
{
	_cleanup_close_ int fd = nib_open_in_root(rootfd, src, O_PATH | O_CLOEXEC, 0, err);
	char link[64], buf[4096];
	ssize_t n;

	if (fd < 0)
		return NULL;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n < 0) {
		nib_err(err, NIB_ERR_IO, errno, "readlink %s", link);
		return NULL;
	}
	buf[n] = '\0';
	return xstrdup(buf);
}

struct rw_copy_work {
	int src_fd;
	const char *src, *dest_dir;
	bool is_dir;
	const struct cf_ignore *ignore; /* the context's: what it holds is left out */
};

static int rw_copy_work(void *arg, struct nib_error *err)
{
	struct rw_copy_work *w = arg;
	struct bld_copy_opts co;
	struct bld_copy_matcher mt;
	const char *srcs[] = {w->src};
	_cleanup_close_ int dfd = open(w->dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", w->dest_dir);
	bld_copy_opts_init(&co);
	co.srcs = srcs;
	co.n_srcs = 1;
	co.dest = w->is_dir ? "/" : "/file";
	co.src_fd = w->src_fd;
	co.from_rootfs = true;
	if (w->ignore) {
		/* a context's files, as COPY takes them */
		bld_copy_matcher_cf(&mt, w->ignore);
		co.ignore = &mt;
		co.from_rootfs = false;
	}
	co.chown_mode = BLD_COPY_CHOWN_AUTO;
	if (bld_copy_run(&co, dfd, NULL, err) < 0)
		return -1;
	/* the folder bound takes its source's mode (and owner, but a
	 * context's): a private folder of nib/tmp would shut out a step's
	 * other users */
	struct stat st;
	const char *rel = w->src[0] == '/' ? w->src + 1 : w->src;
	if (w->is_dir && fstatat(w->src_fd, *rel ? rel : ".", &st, 0) == 0) {
		if (fchmod(dfd, st.st_mode & 07777) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "chmod %s", w->dest_dir);
		if (!w->ignore && fchown(dfd, st.st_uid, st.st_gid) < 0 && errno != EINVAL)
			return nib_err(err, NIB_ERR_IO, errno, "chown %s", w->dest_dir);
	}
	return 0;
}

/* Whether the ignore file leaves out anything of the context's folder
 * `rel` ("" the root) or below it: a walk that stops at the first such
 * entry. */
static bool excludes_below(const struct cf_ignore *ig, int dfd, const char *rel, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *e;
	int fd;

	if (*rel && cf_ignore_match(ig, rel))
		return true;
	fd = openat(dfd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return errno != ENOTDIR; /* unreadable: the copy says why */
	}
	if (depth > 256)
		return true;
	while ((e = readdir(d))) {
		if (streq(e->d_name, ".") || streq(e->d_name, ".."))
			continue;
		_cleanup_free_ char *p =
		    *rel ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		if (cf_ignore_match(ig, p) ||
		    (e->d_type == DT_DIR && excludes_below(ig, dfd, p, depth + 1)))
			return true;
	}
	return false;
}

/* Whether the context path `src` (or a folder above it) holds anything
 * the ignore file excludes. */
static bool excludes_in(const struct cf_ignore *ig, int ctx_fd, const char *src)
{
	_cleanup_free_ char *clean = nib_path_clean(src[0] == '/' ? src + 1 : src);
	const char *rel = streq(clean, ".") || streq(clean, "/") ? "" : clean;

	for (char *s = strchr(clean, '/'); *rel && s; s = strchr(s + 1, '/')) {
		*s = '\0';
		bool hit = cf_ignore_match(ig, clean);
		*s = '/';
		if (hit)
			return true;
	}
	return excludes_below(ig, ctx_fd, rel, 0);
}

/* bind: the host path of the source (a throwaway copy with rw). */
static char *bind_host(struct bld_stage *s, struct bld_run_mounts *rm, const struct cf_mount *m,
		       struct nib_error *err)
{
	struct bld_build *b = s->b;
	_cleanup_free_ char *root = NULL, *host = NULL;
	_cleanup_close_ int rfd = -1;
	struct stat sb;

	if (m->from && m->from_stage < 0 && (rfd = bld_named_dir(b->o, m->from, err)) == -1)
		return NULL;
	if (rfd >= 0) {
		/* a folder's --build-context, read as the context is */
	} else if (m->from) {
		int r = m->from_stage >= 0 ? bld_stage_rootfs(b, m->from_stage, &root, err)
					   : bld_image_rootfs(b, m->from, &root, err);
		if (r < 0)
			return NULL;
		rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		rfd = dup(b->ctx_fd);
	}
	if (rfd < 0) {
		nib_err(err, NIB_ERR_IO, errno, "open the mount source root");
		return NULL;
	}
	host = resolve_in(rfd, source_of(m), err);
	if (!host) {
		nib_err_wrap(err, "RUN --mount source %s", source_of(m));
		return NULL;
	}
	/* the context as the build sees it: without what the ignore file
	 * excludes (a copy, as COPY takes it, when there is any below) */
	const struct cf_ignore *ig =
	    !m->from && b->ignore && excludes_in(b->ignore, b->ctx_fd, source_of(m)) ? b->ignore
										     : NULL;
	if (!writable(m) && !ig)
		return steal_pointer(&host);
	/* a throwaway copy: the step's changes are discarded */
	_cleanup_free_ char *d = tmp_dir(b, rm, "bind", err);
	if (!d)
		return NULL;
	bool is_dir = stat(host, &sb) == 0 && S_ISDIR(sb.st_mode);
	struct rw_copy_work w = {rfd, source_of(m), d, is_dir, ig};
	if (bld_ns_exec(&b->ns, NULL, rw_copy_work, &w, NULL, 0, err) < 0) {
		nib_err_wrap(err, "RUN --mount source %s", source_of(m));
		return NULL;
	}
	return is_dir ? steal_pointer(&d) : xasprintf("%s/file", d);
}

/* cache: the folder kept in nib/cache-mounts/ by id (sharing=locked holds
 * its lock for the step), or a fresh one (sharing=private). */
static char *cache_host(struct bld_stage *s, struct bld_run_mounts *rm, const struct cf_mount *m,
			const char *target, struct nib_error *err)
{
	struct bld_build *b = s->b;
	int nibfd = stg_store_nib_dirfd(b->st);
	const char *id = m->id ? m->id : target;
	_cleanup_free_ char *host = NULL;
	char d[NIB_DIGEST_LEN + 1];

	if (m->sharing == CF_SHARING_PRIVATE) {
		host = tmp_dir(b, rm, "cache", err);
		if (!host)
			return NULL;
	} else {
		nib_sha256_digest(id, strlen(id), d);
		if (nib_mkdir_p_at(nibfd, "cache-mounts", 0700, err) < 0)
			return NULL;
		host = xasprintf("%s/nib/cache-mounts/%.32s", stg_store_path(b->st),
				 nib_digest_hex(d));
		if (m->sharing == CF_SHARING_LOCKED) {
			_cleanup_free_ char *lk =
			    xasprintf("cache-mounts/%.32s.lock", nib_digest_hex(d));
			_cleanup_close_ int fd =
			    openat(nibfd, lk, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
			if (fd < 0 || flock(fd, LOCK_EX) < 0) {
				nib_err(err, NIB_ERR_IO, errno, "lock %s", lk);
				return NULL;
			}
			rm->locks = xrealloc(rm->locks, (rm->n_locks + 1) * sizeof(int));
			rm->locks[rm->n_locks++] = take_fd(&fd);
		}
	}
	struct cache_dir_work w = {host, m->uid, m->gid, m->mode};
	if (bld_ns_exec(&b->ns, NULL, cache_dir_work, &w, NULL, 0, err) < 0)
		return NULL;
	return steal_pointer(&host);
}

/* secret: the --secret's value, kept in memory (rm->data) for the step: the
 * runtime writes it into a private tmpfs of the step's mount namespace on
 * the empty folder `*dir` (gone with the namespace, however nib ends), or
 * into a tmpfs under ptrace. */
static int secret_value(struct bld_stage *s, struct bld_run_mounts *rm,
			const struct bld_secret *sec, const struct cf_mount *m, char **dir,
			struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;

	if (sec->src) {
		if (nib_read_file_at(AT_FDCWD, sec->src, 1 << 20, &data, &len, err) < 0)
			return nib_err_wrap(err, "secret %s", m->id);
	} else {
		const char *v = getenv(sec->env);
		if (!v)
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "secret %s: environment variable %s is not set", m->id,
				       sec->env);
		data = xstrdup(v);
		len = strlen(v);
	}
	if (m->env) {
		/* the variable holds text: a secret with a NUL cannot be one */
		if (memchr(data, '\0', len)) {
			explicit_bzero(data, len);
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "secret %s: env=%s: the secret holds a NUL byte", m->id,
				       m->env);
		}
		nib_strv_pushf(&rm->env, "%s=%s", m->env, data);
	}
	if (dir) {
		*dir = tmp_dir(s->b, rm, "secret", err);
		if (!*dir) {
			explicit_bzero(data, len);
			return -1;
		}
	}
	rm->data = xrealloc(rm->data, (rm->n_data + 1) * sizeof(*rm->data));
	rm->data[rm->n_data++] = (struct secret_data){steal_pointer(&data), len};
	return 0;
}

/* z/Z: where SELinux is enabled, the source would take the step's file
 * label (shared, or with the step's own categories); nothing to do where
 * it is not (the label is the SELinux code's: refused until it gives one,
 * rather than bound unlabeled). */
static int volume_relabel(const struct bld_volume *v, struct nib_error *err)
{
	/* z: the shared label, Z: this build's private one (nothing to do
	 * where SELinux is disabled) */
	if (v->relabel && bld_selinux_relabel(v->src, v->relabel == 'z', err) < 0)
		return nib_err_wrap(err, "--volume %s:%s:%c", v->src, v->dst, v->relabel);
	return 0;
}

/* A volume's host side: its source, or with O a throwaway copy of it (the
 * step's changes are discarded, as buildah's overlay does). */
static char *volume_host(struct bld_build *b, struct bld_run_mounts *rm, const struct bld_volume *v,
			 struct nib_error *err)
{
	_cleanup_free_ char *dir = NULL, *d = NULL;
	_cleanup_close_ int fd = -1;
	struct stat sb;

	if (stat(v->src, &sb) < 0) {
		nib_err(err, NIB_ERR_NOT_FOUND, errno, "--volume %s:%s: %s", v->src, v->dst,
			v->src);
		return NULL;
	}
	if (volume_relabel(v, err) < 0)
		return NULL;
	if (!v->overlay)
		return xstrdup(v->src);
	bool is_dir = S_ISDIR(sb.st_mode);
	size_t slash = (size_t)(strrchr(v->src, '/') - v->src);
	dir = is_dir ? xstrdup(v->src) : slash ? xstrndup(v->src, slash) : xstrdup("/");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = tmp_dir(b, rm, "volume", err);
	if (!d)
		return NULL;
	struct rw_copy_work w = {fd, is_dir ? "/" : strrchr(v->src, '/') + 1, d, is_dir, NULL};
	if (fd < 0 || bld_ns_exec(&b->ns, NULL, rw_copy_work, &w, NULL, 0, err) < 0) {
		if (fd < 0)
			nib_err(err, NIB_ERR_IO, errno, "open %s", dir);
		nib_err_wrap(err, "--volume %s:%s:O", v->src, v->dst);
		return NULL;
	}
	return is_dir ? steal_pointer(&d) : xasprintf("%s/file", d);
}

int bld_mounts_realise(struct bld_stage *s, const struct cf_step *step, struct bld_run_mounts **rmp,
		       const struct bld_mount **out, size_t *n, struct nib_error *err)
{
	const struct cf_run *run = &step->run;
	struct bld_run_mounts *rm = xcalloc(1, sizeof(*rm));
	size_t total = run->n_mounts + s->b->o->n_volumes;
	int ssh_env = 0;

	*rmp = rm;
	*n = 0;
	rm->bm = xcalloc(total + 1, sizeof(*rm->bm));
	rm->targets = xcalloc(total + 1, sizeof(char *));
	rm->hosts = xcalloc(total + 1, sizeof(char *));
	rm->n = total;
	for (size_t i = 0; i < run->n_mounts; i++) {
		const struct cf_mount *m = &run->mounts[i];
		struct bld_mount *bm = &rm->bm[*n];
		const struct bld_secret *sec = NULL;
		rm->targets[i] = target_of(s, step, i);
		switch (m->type) {
		case CF_MOUNT_TMPFS:
			bm->type = BLD_MOUNT_TMPFS;
			bm->size = m->size ? m->size : tmpfs_size_default(&s->b->o->limits);
			break;
		case CF_MOUNT_BIND:
			rm->hosts[i] = bind_host(s, rm, m, err);
			if (!rm->hosts[i])
				return -1;
			bm->type = BLD_MOUNT_BIND;
			bm->ro = !writable(m);
			break;
		case CF_MOUNT_CACHE:
			rm->hosts[i] = cache_host(s, rm, m, rm->targets[i], err);
			if (!rm->hosts[i])
				return -1;
			bm->type = BLD_MOUNT_BIND;
			break;
		case CF_MOUNT_SECRET:
			sec = bld_secret_find(s->b->o, m->id);
			if (!sec)
				continue; /* not required: no mount (BuildKit) */
			/* env= alone: no file (BuildKit) */
			if (secret_value(s, rm, sec, m, m->env && !m->target ? NULL : &rm->hosts[i],
					 err) < 0)
				return -1;
			if (!rm->hosts[i])
				continue;
			bm->type = BLD_MOUNT_DATA;
			bm->ro = true;
			bm->data = rm->data[rm->n_data - 1].v;
			bm->len = rm->data[rm->n_data - 1].len;
			bm->mode = m->mode >= 0 ? (mode_t)m->mode : 0400;
			bm->uid = m->uid >= 0 ? (uid_t)m->uid : 0;
			bm->gid = m->gid >= 0 ? (gid_t)m->gid : 0;
			break;
		case CF_MOUNT_SSH: {
			const char *sock = bld_ssh_socket(s->b, m->id ? m->id : "default");
			if (!sock)
				continue; /* not required: no mount (BuildKit) */
			rm->hosts[i] = xstrdup(sock);
			bm->type = BLD_MOUNT_BIND;
			/* the first agent is the step's SSH_AUTH_SOCK (BuildKit) */
			if (!ssh_env++)
				nib_strv_pushf(&rm->env, "SSH_AUTH_SOCK=%s", rm->targets[i]);
			break;
		}
		}
		bm->src = rm->hosts[i];
		bm->dst = rm->targets[i];
		(*n)++;
	}
	/* -v/--volume: after the step's own mounts, in every RUN */
	for (size_t i = run->n_mounts, k = 0; k < s->b->o->n_volumes; i++, k++) {
		const struct bld_volume *v = &s->b->o->volumes[k];
		struct bld_mount *bm = &rm->bm[(*n)++];
		rm->targets[i] = xstrdup(v->dst);
		rm->hosts[i] = volume_host(s->b, rm, v, err);
		if (!rm->hosts[i])
			return -1;
		*bm = (struct bld_mount){.type = BLD_MOUNT_BIND,
					 .src = rm->hosts[i],
					 .dst = rm->targets[i],
					 .ro = v->ro,
					 .chown_user = v->chown};
	}
	*out = rm->bm;
	return 0;
}
