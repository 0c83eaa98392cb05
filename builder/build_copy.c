/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file steps: COPY and ADD (from the context, a stage's rootfs or an
 * image's, or URLs) through the copy engine (builder/copy.h), and
 * WORKDIR's folder. The sources' digest is part of the step's key; the
 * copy itself runs where the build's files can be written (the build's
 * namespace), over the merged view of the rootfs.
 */
#define BLD_BUILD_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/build_internal.h"
#include "builder/copy.h"
#include "builder/progress.h"

struct copy_step {
	struct bld_layer_step ls; /* first: the layer step's run gets this */
	struct bld_copy_opts co;
	struct bld_copy_matcher matcher;
	struct bld_copy_heredoc *hds;
	/* the sources resolved for the key (URLs downloaded), applied by the
	 * copy: NULL when they were resolved in another process */
	struct bld_copy_plan *plan;
	int from_fd;	/* --from: the stage's or image's rootfs */
	int user_fd;	/* --link --chown by name: the stage's rootfs */
	uint64_t bytes; /* the sources' data (the live display's bar) */
};

static void copy_step_free(struct copy_step *cs)
{
	bld_layer_step_free(&cs->ls);
	bld_copy_plan_free(cs->plan);
	free(cs->hds);
	if (cs->from_fd >= 0)
		close(cs->from_fd);
	if (cs->user_fd >= 0)
		close(cs->user_fd);
}

struct copy_work {
	struct copy_step *cs;
	char digest[NIB_DIGEST_LEN + 1];
	uint64_t bytes; /* the sources' data */
	struct bld_copy_stats stats;
};

static int copy_digest_work(void *arg, struct nib_error *err)
{
	struct copy_work *w = arg;
	_cleanup_(bld_copy_plan_freep) struct bld_copy_plan *p = NULL;

	if (bld_copy_plan_new(&w->cs->co, &p, err) < 0 ||
	    bld_copy_plan_digest(p, w->digest, err) < 0)
		return -1;
	w->bytes = p->bytes;
	/* kept for the copy (a child of this process inherits it): each URL
	 * is downloaded once */
	w->cs->plan = steal_pointer(&p);
	return 0;
}

static int copy_apply_work(void *arg, struct nib_error *err)
{
	struct copy_work *w = arg;
	struct copy_step *cs = w->cs;
	_cleanup_close_ int fd = open(cs->ls.r->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", cs->ls.r->target);
	/* the live display's bar (shared memory: this may be a child) */
	bld_tty_bytes_expect((int64_t)cs->bytes);
	cs->co.chown_mode = cs->ls.s->b->ns.real_chown ? BLD_COPY_CHOWN_REAL : BLD_COPY_CHOWN_AUTO;
	/* WORKDIR made its folder (BuildKit): it lands in this layer (not in
	 * a --link one, which holds the copied paths only) */
	const char *wd = cs->co.workdir;
	if (wd && *wd && !streq(wd, "/") && !cs->ls.link) {
		int d = nib_mkdir_in_root(fd, wd, 0755, err);
		if (d < 0)
			return nib_err_wrap(err, "WORKDIR %s", wd);
		close(d);
	}
	if (cs->plan)
		return bld_copy_plan_apply(cs->plan, fd, &w->stats, err);
	return bld_copy_run(&cs->co, fd, &w->stats, err);
}

static int run_copy(struct bld_layer_step *ls, struct nib_error *err)
{
	struct copy_work w = {.cs = (struct copy_step *)ls};

	return bld_ns_exec(&ls->s->b->ns, bld_merged(ls->s->b, ls->r), copy_apply_work, &w, &w,
			   sizeof(w), err);
}

/* Whether nothing after `in` in its stage, and no other stage, reads the
 * stage's files (a RUN, COPY, ADD or WORKDIR after it; a stage built FROM
 * it, copying from it or mounting it). */
static bool last_file_step(struct bld_stage *s, const struct cf_instr *in)
{
	const struct cf_stage *cs = s->cs;
	const struct cf_file *f = s->b->f;
	size_t i = 0;

	while (i < cs->n_instrs && cs->instrs[i] != in)
		i++;
	if (i == cs->n_instrs)
		return false; /* an ONBUILD trigger */
	for (i++; i < cs->n_instrs; i++) {
		enum cf_kind k = cs->instrs[i]->kind;
		if (k == CF_RUN || k == CF_COPY || k == CF_ADD || k == CF_WORKDIR)
			return false;
	}
	for (size_t j = 0; j < f->n_stages; j++) {
		const struct cf_stage *o = &f->stages[j];
		if (!o->needed || o == cs)
			continue;
		if (o->base_stage == cs->index)
			return false;
		for (size_t d = 0; d < o->n_deps; d++)
			if (o->deps[d] == cs->index)
				return false;
	}
	return true;
}

static bool read_u64_file(const char *path, uint64_t *v)
{
	char buf[64];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (n <= 0)
		return false;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return nib_parse_u64(buf, v) == 0;
}

/* Memory a tmpfs copy may take: its files live in RAM (charged to the
 * cgroup: a pod's memory limit) until committed. NIB_COPY_TMPFS_MAX
 * (bytes) sets it; 0 makes every such copy on disk. */
static uint64_t scratch_budget(void)
{
	const char *env = getenv("NIB_COPY_TMPFS_MAX");
	long pages, psize;
	uint64_t avail, max, cur;
	_cleanup_fclose_ FILE *mi = NULL;
	char line[256];
	unsigned long long kb;

	if (env && *env && nib_parse_u64(env, &max) == 0)
		return max;
	pages = sysconf(_SC_AVPHYS_PAGES);
	psize = sysconf(_SC_PAGESIZE);
	avail = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : 0;
	mi = fopen("/proc/meminfo", "re");
	/* MemAvailable counts the page cache the kernel can drop; free
	 * pages alone are low on any host that has run for a while */
	while (mi && fgets(line, sizeof(line), mi))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			avail = (uint64_t)kb * 1024;
			break;
		}

	/* cgroup v2, as a pod sees its own cgroup ("max": no limit) */
	if (read_u64_file("/sys/fs/cgroup/memory.max", &max) &&
	    read_u64_file("/sys/fs/cgroup/memory.current", &cur))
		avail = MIN(avail, max > cur ? max - cur : 0);
	return MIN(avail / 4, (uint64_t)512 << 20);
}

/* The folder `dir` (a stage's or image's rootfs) opened, or -1. */
static int open_dir(const char *dir, struct nib_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", dir);
	return fd;
}

/* Whether a --chown spec names a user or group (not only numbers). */
static bool chown_has_names(const char *spec)
{
	for (const char *p = spec; *p; p++)
		if (*p != ':' && (*p < '0' || *p > '9'))
			return true;
	return false;
}

/* The rootfs COPY --from names: a stage the scheduler built before this
 * one, or an image. */
static int from_rootfs(struct bld_stage *s, const struct cf_copy *c, struct nib_error *err)
{
	_cleanup_free_ char *dir = NULL;
	int r = c->from_stage >= 0 ? bld_stage_rootfs(s->b, c->from_stage, &dir, err)
				   : bld_image_rootfs(s->b, c->from, &dir, err);

	return r < 0 ? -1 : open_dir(dir, err);
}

static void copy_opts(struct bld_stage *s, const struct cf_step *step, struct copy_step *cs)
{
	struct bld_build *b = s->b;
	const struct cf_copy *c = &step->copy;
	struct bld_copy_opts *co = &cs->co;

	bld_copy_opts_init(co);
	co->add = step->in->kind == CF_ADD;
	cs->hds = xcalloc(c->n_heredocs + 1, sizeof(*cs->hds));
	for (size_t i = 0; i < c->n_heredocs; i++)
		cs->hds[i] = (struct bld_copy_heredoc){c->heredocs[i].name, c->heredocs[i].data,
						       strlen(c->heredocs[i].data)};
	co->heredocs = cs->hds;
	co->n_heredocs = c->n_heredocs;
	co->srcs = (const char *const *)c->srcs.v;
	co->n_srcs = c->srcs.len;
	co->dest = c->dest;
	co->workdir = s->cfg->config.working_dir;
	co->src_fd = b->ctx_fd;
	if (b->ignore) {
		bld_copy_matcher_cf(&cs->matcher, b->ignore);
		co->ignore = &cs->matcher;
	}
	co->timestamp = b->ts;
	co->excludes = (const char *const *)c->excludes.v;
	co->n_excludes = c->excludes.len;
	co->chown = c->chown;
	co->chmod = c->chmod.set ? &c->chmod : NULL;
	co->parents = c->parents;
	co->link = cs->ls.link = c->link;
	co->checksum = c->checksum;
	co->no_unpack = !c->unpack;
}

static char *history_text(const struct cf_step *step)
{
	struct nib_buf by = {0};
	_cleanup_free_ char *j = nib_strv_join(&step->words, " ");
	_cleanup_free_ char *jr = nib_url_redact(j ? j : "");

	nib_buf_printf(&by, "%s ", cf_kind_name(step->in->kind));
	for (size_t i = 0; i < step->n_flags; i++)
		if (!streq(step->flags[i].name, "checksum"))
			nib_buf_printf(&by, "--%s=%s ", step->flags[i].name, step->flags[i].value);
	nib_buf_printf(&by, "%s # buildkit", jr);
	return nib_buf_steal(&by);
}

int bld_step_copy(struct bld_stage *s, const struct cf_step *step, struct nib_error *err)
{
	struct bld_build *b = s->b;
	const struct cf_copy *c = &step->copy;
	struct copy_step cs = {
	    .ls = {.s = s, .step = step, .run = run_copy}, .from_fd = -1, .user_fd = -1};
	struct copy_work w = {.cs = &cs};
	_cleanup_free_ char *key = NULL, *by = NULL;
	int ret = -1;

	copy_opts(s, step, &cs);
	/* ADD <url>: the build's registry client's TLS options and retries */
	for (size_t i = 0; cs.co.add && !cs.co.client && i < c->srcs.len; i++)
		if ((nib_str_has_prefix(c->srcs.v[i], "http://") ||
		     nib_str_has_prefix(c->srcs.v[i], "https://")) &&
		    bld_build_client(b, &cs.co.client, err) < 0)
			goto out;
	if (c->from) {
		/* a folder's --build-context: read as the context is */
		int fd = c->from_stage < 0 ? bld_named_dir(b->o, c->from, err) : -2;
		bool named = fd >= 0;
		if (fd == -1 || (!named && (fd = from_rootfs(s, c, err)) < 0))
			goto out;
		cs.from_fd = fd;
		cs.co.src_fd = fd;
		cs.co.from_rootfs = !named;
		cs.co.ignore = NULL;
	}
	/* the context is the caller's: read in this process; a stage's rootfs
	 * may hold files of subordinate IDs: read in the build's namespace */
	if (cs.co.from_rootfs
		? bld_build_env(b, err) < 0 ||
		      bld_ns_exec(&b->ns, NULL, copy_digest_work, &w, &w, sizeof(w), err) < 0
		: copy_digest_work(&w, err) < 0)
		goto out;
	cs.bytes = w.bytes;
	key = bld_key_copy_text(step, s->cfg->config.working_dir, w.digest);
	by = history_text(step);
	/* a --link layer does not depend on the state it goes on (unless
	 * --chown names are looked up in it): the same key on any base */
	cs.ls.independent = cs.ls.link;
	if (cs.ls.link && c->chown && chown_has_names(c->chown)) {
		/* the names are the image's: looked up in its rootfs */
		_cleanup_free_ char *dir = NULL;
		if (bld_stage_materialise(s, &dir, err) < 0 ||
		    (cs.user_fd = open_dir(dir, err)) < 0)
			goto out;
		cs.co.user_root_fd = cs.user_fd;
		cs.ls.independent = false;
	}
	/* the memory is looked up only for a step that could use it */
	if (cs.ls.link ||
	    (step->in->kind == CF_COPY && s->n_layers == 0 && last_file_step(s, step->in))) {
		uint64_t budget = scratch_budget();
		cs.ls.scratch = budget > 0 && w.bytes <= budget;
	}
	cs.ls.fill = copy_apply_work;
	cs.ls.fill_arg = &w;
	ret = bld_layer_step_exec(&cs.ls, key, by, err);
out:
	copy_step_free(&cs);
	return ret;
}

/* ---- WORKDIR ------------------------------------------------------------------ */

struct workdir_step {
	struct bld_layer_step ls;
	struct bld_copy_opts co;
};

static int workdir_work(void *arg, struct nib_error *err)
{
	struct workdir_step *ws = arg;
	_cleanup_close_ int fd = open(ws->ls.r->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", ws->ls.r->target);
	ws->co.chown_mode = ws->ls.s->b->ns.real_chown ? BLD_COPY_CHOWN_REAL : BLD_COPY_CHOWN_AUTO;
	return bld_copy_mkdir(&ws->co, fd, ws->ls.s->cfg->config.working_dir, err);
}

static int run_workdir(struct bld_layer_step *ls, struct nib_error *err)
{
	struct bld_build *b = ls->s->b;

	if (bld_ns_exec(&b->ns, bld_merged(b, ls->r), workdir_work, ls, NULL, 0, err) < 0)
		return nib_err_wrap(err, "WORKDIR %s", ls->s->cfg->config.working_dir);
	return 0;
}

/*
 * BuildKit (dockerfile frontend, dispatchWorkdir): WORKDIR sets the config
 * and, unless it is "/", runs a mkdir-with-parents file op as the USER: the
 * missing folders are created 0755, owned by the USER (names from the
 * image's own passwd/group), in a layer of their own. An existing folder
 * changes nothing: BuildKit then exports an empty layer, nib none (as for
 * any step that changes nothing).
 */
int bld_step_workdir(struct bld_stage *s, const struct cf_step *step, struct nib_error *err)
{
	struct bld_build *b = s->b;
	struct stg_container_config *c = &s->cfg->config;
	struct workdir_step ws = {.ls = {.s = s, .step = step, .run = run_workdir}};
	_cleanup_free_ char *by = NULL, *key = NULL;
	const char *user = c->user && *c->user ? c->user : NULL;
	char *w = bld_workdir_join(c->working_dir, step->words.len ? step->words.v[0] : "/");
	int ret;

	free(c->working_dir);
	c->working_dir = w;
	by = xasprintf("WORKDIR %s", w);
	if (streq(w, "/")) {
		bld_meta_commit(s, by);
		bld_log_step_end(b, step->in, 0, false, NULL);
		return 0;
	}
	bld_copy_opts_init(&ws.co);
	ws.co.chown = user;
	ws.co.timestamp = b->ts;
	key = bld_key_workdir_text(w, user);
	ret = bld_layer_step_exec(&ws.ls, key, by, err);
	bld_layer_step_free(&ws.ls);
	if (ret < 0)
		return -1;
	/* the config changed: the steps after it see another WORKDIR */
	bld_key_chain(s->key, by);
	return 0;
}
