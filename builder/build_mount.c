/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RUN --mount: what BuildKit's dockerfile frontend offers, over the
 * runtime's bind and tmpfs mounts.
 *   type=bind    a path of the context (or of a stage or image with from=),
 *                read-only unless rw; rw binds a throwaway copy, so changes
 *                are discarded; its content is part of the step's cache key
 *   type=cache   a folder kept in the storage root (nib/cache-mounts/) by id
 *                (default: the target), created with uid/gid/mode;
 *                sharing=locked holds a lock for the step, sharing=private
 *                gets a fresh folder (BuildKit would hand out a second
 *                cache folder; nib does not keep it)
 *   type=tmpfs   an empty tmpfs
 *   type=secret  the --secret of that id, bound read-only from a private
 *                folder of the storage root's nib/tmp that is removed after
 *                the step; never in a layer, the history, the log or the
 *                cache key
 * Targets the runtime creates for these mounts never enter the layer.
 */
#define BLD_BUILD_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "builder/build_internal.h"
#include "builder/copy.h"

struct kv_fields {
	struct nib_strv keys, vals;
};

static void fields_free(struct kv_fields *f)
{
	nib_strv_free(&f->keys);
	nib_strv_free(&f->vals);
}

/* the fields of a --mount value (checked by the parser), keys lowercase */
static void fields_parse(const char *spec, struct kv_fields *f)
{
	_cleanup_strv_ struct nib_strv all = {0};

	(void)cf_csv_split(spec, &all);
	for (size_t i = 0; i < all.len; i++) {
		char *eq = strchr(all.v[i], '=');
		if (eq) {
			nib_strv_push_take(&f->keys, xstrndup(all.v[i], (size_t)(eq - all.v[i])));
			nib_strv_push(&f->vals, eq + 1);
		} else {
			nib_strv_push(&f->keys, all.v[i]);
			nib_strv_push(&f->vals, "true");
		}
		for (char *k = f->keys.v[f->keys.len - 1]; *k; k++)
			*k = (char)(*k >= 'A' && *k <= 'Z' ? *k + 32 : *k);
	}
}

static const char *field(const struct kv_fields *f, const char *const *names)
{
	const char *v = NULL;
	for (size_t i = 0; i < f->keys.len; i++)
		for (const char *const *n = names; *n; n++)
			if (streq(f->keys.v[i], *n))
				v = f->vals.v[i];
	return v;
}

static bool field_bool(const struct kv_fields *f, const char *const *names)
{
	const char *v = field(f, names);
	return v && nib_parse_bool(v) == 1;
}

enum mtype { M_BIND, M_CACHE, M_TMPFS, M_SECRET };

struct run_mount {
	enum mtype type;
	char *target;
	char *source; /* bind: path in the source root */
	char *from;   /* bind/cache: stage or image */
	char *id;
	char *sharing;
	bool rw;
	bool required;
	long uid, gid, mode;
	char *host; /* realised: the host path bound */
};

struct bld_run_mounts {
	struct run_mount *m;
	size_t n;
	struct bld_mount *bm;
	struct nib_strv tmp; /* folders removed after the step */
	int *locks;
	size_t n_locks;
};

static void run_mount_clear(struct run_mount *m)
{
	free(m->target);
	free(m->source);
	free(m->from);
	free(m->id);
	free(m->sharing);
	free(m->host);
}

void bld_mounts_free(struct bld_run_mounts *rm)
{
	if (!rm)
		return;
	for (size_t i = 0; i < rm->n; i++)
		run_mount_clear(&rm->m[i]);
	for (size_t i = 0; i < rm->tmp.len; i++)
		nib_rm_rf_at(AT_FDCWD, rm->tmp.v[i], NULL);
	for (size_t i = 0; i < rm->n_locks; i++)
		close(rm->locks[i]);
	nib_strv_free(&rm->tmp);
	free(rm->locks);
	free(rm->m);
	free(rm->bm);
	free(rm);
}

static char *target_of(struct bld_stage *s, const char *t)
{
	if (t[0] == '/')
		return nib_path_clean(t);
	const char *wd = s->cfg->config.working_dir && *s->cfg->config.working_dir
			     ? s->cfg->config.working_dir
			     : "/";
	_cleanup_free_ char *j = nib_path_join(wd, t);
	return nib_path_clean(j);
}

static const struct bld_secret *find_secret(const struct bld_build_opts *o, const char *id)
{
	for (size_t i = 0; i < o->n_secrets; i++)
		if (streq(o->secrets[i].id, id))
			return &o->secrets[i];
	return NULL;
}

/* The content digest of a context path for the cache key. */
static int bind_digest(struct bld_build *b, const char *src, char out[NIB_DIGEST_LEN + 1],
		       struct nib_error *err)
{
	struct bld_copy_opts co;
	_cleanup_(bld_copy_plan_freep) struct bld_copy_plan *p = NULL;
	const char *srcs[] = {src};

	bld_copy_opts_init(&co);
	co.srcs = srcs;
	co.n_srcs = 1;
	co.dest = "/x";
	co.src_fd = b->ctx_fd;
	if (bld_copy_plan_new(&co, &p, err) < 0 || bld_copy_plan_digest(p, out, err) < 0)
		return -1;
	return 0;
}

int bld_mounts_parse(struct bld_stage *s, const struct cf_instr *in, struct bld_run_mounts **out,
		     struct nib_buf *key, struct nib_error *err)
{
	static const char *const
	    k_type[] = {"type", NULL},
	    *const k_target[] = {"target", "dst", "destination", NULL},
	    *const k_src[] = {"source", "src", NULL}, *const k_from[] = {"from", NULL},
	    *const k_id[] = {"id", NULL}, *const k_sharing[] = {"sharing", NULL},
	    *const k_rw[] = {"rw", "readwrite", NULL}, *const k_ro[] = {"ro", "readonly", NULL},
	    *const k_req[] = {"required", NULL}, *const k_uid[] = {"uid", NULL},
	    *const k_gid[] = {"gid", NULL}, *const k_mode[] = {"mode", NULL};
	struct bld_build *b = s->b;
	struct bld_run_mounts *rm = xcalloc(1, sizeof(*rm));

	*out = rm;
	for (size_t i = 0; i < in->n_flags; i++) {
		const struct cf_flag *fg = &in->flags[i];
		struct kv_fields f = {0};
		struct run_mount m = {.uid = -1, .gid = -1, .mode = -1};
		const char *v;
		if (!streq(fg->name, "mount"))
			continue;
		fields_parse(fg->xvalue, &f);
		v = field(&f, k_type);
		m.type = !v || streq(v, "bind") ? M_BIND
			 : streq(v, "cache")	? M_CACHE
			 : streq(v, "tmpfs")	? M_TMPFS
			 : streq(v, "secret")	? M_SECRET
						: (enum mtype) - 1;
		if ((int)m.type < 0) {
			fields_free(&f);
			return cf_file_error(b->f, err, fg->line, fg->col,
					     "RUN --mount type=%s is not supported", v);
		}
		v = field(&f, k_id);
		m.id = v ? xstrdup(v) : NULL;
		v = field(&f, k_target);
		if (!v && m.type == M_SECRET)
			m.target = xasprintf("/run/secrets/%s", m.id ? m.id : "");
		else
			m.target = target_of(s, v ? v : "/");
		v = field(&f, k_src);
		m.source = xstrdup(v ? v : "/");
		v = field(&f, k_from);
		m.from = v && *v ? xstrdup(v) : NULL;
		v = field(&f, k_sharing);
		m.sharing = xstrdup(v ? v : "shared");
		m.rw = field_bool(&f, k_rw) && !field_bool(&f, k_ro);
		m.required = field_bool(&f, k_req);
		if ((v = field(&f, k_uid)))
			m.uid = strtol(v, NULL, 10);
		if ((v = field(&f, k_gid)))
			m.gid = strtol(v, NULL, 10);
		if ((v = field(&f, k_mode)))
			m.mode = strtol(v, NULL, 8);
		fields_free(&f);
		if (m.type == M_CACHE && !m.id)
			m.id = xstrdup(m.target);
		if (m.type == M_SECRET) {
			const struct bld_secret *sec = m.id ? find_secret(b->o, m.id) : NULL;
			if (!m.id || !*m.id) {
				run_mount_clear(&m);
				return cf_file_error(b->f, err, fg->line, fg->col,
						     "RUN --mount=type=secret needs id=ID");
			}
			if (!sec && m.required) {
				nib_err(err, NIB_ERR_NOT_FOUND, 0,
					"%s:%d: secret \"%s\" is required but no --secret id=%s "
					"was given",
					b->f->path, in->line, m.id, m.id);
				run_mount_clear(&m);
				return -1;
			}
		}
		/* the key: what changes the step's result (never a secret's value,
		 * never a cache folder's content) */
		nib_buf_printf(key, "\nmount %d %s %s %s", (int)m.type, m.target, m.source,
			       m.rw ? "rw" : "ro");
		if (m.type == M_BIND && !m.from) {
			char d[NIB_DIGEST_LEN + 1];
			if (bind_digest(b, m.source, d, err) < 0) {
				nib_err_wrap(err, "%s:%d: RUN --mount source %s", b->f->path,
					     in->line, m.source);
				run_mount_clear(&m);
				return -1;
			}
			nib_buf_printf(key, " %s", d);
		} else if (m.type == M_BIND) {
			const struct cf_stage *cs = cf_file_stage(b->f, m.from);
			if (cs) {
				if (bld_build_from_stage_key(b, cs->index, key, err) < 0) {
					run_mount_clear(&m);
					return -1;
				}
			} else {
				nib_buf_printf(key, " image %s", m.from);
			}
		}
		rm->m = xrealloc(rm->m, (rm->n + 1) * sizeof(*rm->m));
		rm->m[rm->n++] = m;
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
};

static int rw_copy_work(void *arg, struct nib_error *err)
{
	struct rw_copy_work *w = arg;
	struct bld_copy_opts co;
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
	co.chown_mode = BLD_COPY_CHOWN_AUTO;
	return bld_copy_run(&co, dfd, NULL, err);
}

int bld_mounts_realise(struct bld_stage *s, struct bld_run_mounts *rm, const struct bld_mount **out,
		       size_t *n, struct nib_error *err)
{
	struct bld_build *b = s->b;

	rm->bm = xcalloc(rm->n + 1, sizeof(*rm->bm));
	for (size_t i = 0; i < rm->n; i++) {
		struct run_mount *m = &rm->m[i];
		struct bld_mount *bm = &rm->bm[*n];
		switch (m->type) {
		case M_TMPFS:
			bm->type = BLD_MOUNT_TMPFS;
			break;
		case M_BIND: {
			_cleanup_free_ char *root = NULL;
			_cleanup_close_ int rfd = -1;
			if (m->from) {
				if (bld_build_from_rootfs(b, m->from, &root, err) < 0)
					return -1;
				rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			} else {
				rfd = dup(b->ctx_fd);
			}
			if (rfd < 0)
				return nib_err(err, NIB_ERR_IO, errno,
					       "open the mount source root");
			m->host = resolve_in(rfd, m->source, err);
			if (!m->host)
				return nib_err_wrap(err, "RUN --mount source %s", m->source);
			if (m->rw) {
				/* a throwaway copy: the step's changes are discarded */
				struct stat sb;
				char *d = tmp_dir(b, rm, "bind", err);
				if (!d)
					return -1;
				bool is_dir = stat(m->host, &sb) == 0 && S_ISDIR(sb.st_mode);
				struct rw_copy_work w = {rfd, m->source, d, is_dir};
				if (bld_ns_exec(&b->ns, rw_copy_work, &w, NULL, 0, err) < 0)
					return nib_err_wrap(err, "RUN --mount source %s",
							    m->source);
				free(m->host);
				m->host = is_dir ? d : xasprintf("%s/file", d);
				if (!is_dir)
					free(d);
			}
			bm->type = BLD_MOUNT_BIND;
			bm->src = m->host;
			bm->ro = !m->rw;
			break;
		}
		case M_CACHE: {
			int nibfd = stg_store_nib_dirfd(b->st);
			char d[NIB_DIGEST_LEN + 1];
			if (streq(m->sharing, "private")) {
				m->host = tmp_dir(b, rm, "cache", err);
				if (!m->host)
					return -1;
			} else {
				nib_sha256_digest(m->id, strlen(m->id), d);
				if (nib_mkdir_p_at(nibfd, "cache-mounts", 0700, err) < 0)
					return -1;
				m->host = xasprintf("%s/nib/cache-mounts/%.32s",
						    stg_store_path(b->st), nib_digest_hex(d));
				if (streq(m->sharing, "locked")) {
					_cleanup_free_ char *lk =
					    xasprintf("cache-mounts/%.32s.lock", nib_digest_hex(d));
					int fd =
					    openat(nibfd, lk, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
					if (fd < 0 || flock(fd, LOCK_EX) < 0) {
						if (fd >= 0)
							close(fd);
						return nib_err(err, NIB_ERR_IO, errno, "lock %s",
							       lk);
					}
					rm->locks =
					    xrealloc(rm->locks, (rm->n_locks + 1) * sizeof(int));
					rm->locks[rm->n_locks++] = fd;
				}
			}
			struct cache_dir_work w = {m->host, m->uid, m->gid, m->mode};
			if (bld_ns_exec(&b->ns, cache_dir_work, &w, NULL, 0, err) < 0)
				return -1;
			bm->type = BLD_MOUNT_BIND;
			bm->src = m->host;
			break;
		}
		case M_SECRET: {
			const struct bld_secret *sec = find_secret(b->o, m->id);
			_cleanup_free_ char *data = NULL;
			size_t len = 0;
			if (!sec)
				continue; /* not required: no mount (BuildKit) */
			if (sec->src) {
				if (nib_read_file_at(AT_FDCWD, sec->src, 1 << 20, &data, &len,
						     err) < 0)
					return nib_err_wrap(err, "secret %s", m->id);
			} else {
				const char *v = getenv(sec->env);
				if (!v)
					return nib_err(
					    err, NIB_ERR_NOT_FOUND, 0,
					    "secret %s: environment variable %s is not set", m->id,
					    sec->env);
				data = xstrdup(v);
				len = strlen(v);
			}
			char *d = tmp_dir(b, rm, "secret", err);
			if (!d)
				return -1;
			chmod(d, 0700);
			m->host = xasprintf("%s/secret", d);
			free(d);
			_cleanup_close_ int fd =
			    open(m->host, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				 m->mode >= 0 ? (mode_t)m->mode : 0400);
			if (fd < 0 || nib_write_all(fd, data, len) < 0)
				return nib_err(err, NIB_ERR_IO, errno, "secret %s", m->id);
			explicit_bzero(data, len);
			bm->type = BLD_MOUNT_BIND;
			bm->src = m->host;
			bm->ro = true;
			break;
		}
		}
		bm->dst = m->target;
		(*n)++;
	}
	*out = rm->bm;
	return 0;
}
