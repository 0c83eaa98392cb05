/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: the local executor. Each build runs as its own `nib build`
 * process (its own process group, working folder and limits), followed
 * until it ends; pushes run afterwards as `nib push` processes, and with
 * registry credentials the images the build needs are pulled first by
 * `nib pull` processes: only these get the credentials (an inherited fd,
 * never argv, environment or a file a RUN step could reach: no
 * Containerfile code runs in them).
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "builder/context.h"
#include "storage/storage.h"
#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- child processes ------------------------------------------------------ */

struct child_setup {
	const char *nib;
	char **argv;
	char **envp;
	const char *cwd;
	int out_fd;		 /* stdout and stderr */
	struct nib_buf *capture; /* stdout goes here, not to the log; stderr is dropped */
	int auth_fd;		 /* becomes fd 3, or -1 */
	int cgroup_fd;		 /* cgroup.procs of the build's cgroup, or -1 */
};

/* After fork: only async-signal-safe calls until exec. */
static _noreturn_ void child_exec(const struct child_setup *c, pid_t parent)
{
	int null;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (c->cgroup_fd >= 0 && write(c->cgroup_fd, "0", 1) != 1)
		_exit(126);
	/* builds yield the CPU to the service's own threads: the API stays
	 * responsive while they run */
	setpriority(PRIO_PROCESS, 0, 10);
	null = open("/dev/null", O_RDONLY);
	if (null < 0 || dup2(null, 0) < 0 || dup2(c->out_fd, 1) < 0 ||
	    dup2(c->capture ? null : c->out_fd, 2) < 0)
		_exit(126);
	if (c->auth_fd >= 0 && (c->auth_fd == 3 ? fcntl(3, F_SETFD, 0) : dup2(c->auth_fd, 3)) < 0)
		_exit(126);
	syscall(SYS_close_range, c->auth_fd >= 0 ? 4U : 3U, ~0U, 0U);
	if (chdir(c->cwd) < 0)
		_exit(126);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	execve(c->nib, c->argv, c->envp);
	_exit(127);
}

static void kill_group(pid_t pid, int sig)
{
	if (pid > 0)
		kill(-pid, sig);
}

/* Run one child to its end, its output into the log; returns its wait
 * status (or -1 when it could not start). Limits and cancellation kill
 * its whole process group: SIGTERM, then SIGKILL after 10 s. */
static int run_child(struct bld_srv_job *j, struct child_setup *c)
{
	struct bld_srv *s = j->s;
	int p[2];
	pid_t pid;
	_cleanup_buf_ struct nib_buf pending = {0};
	double term_sent = 0, last_disk = 0;
	int status = -1;
	bool exited = false;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	c->out_fd = p[1];
	pid_t parent = getpid();
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0)
		child_exec(c, parent);
	close(p[1]);
	setpgid(pid, pid);
	pthread_mutex_lock(&s->lock);
	j->pid = pid;
	pthread_mutex_unlock(&s->lock);

	for (;;) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		int r = poll(&pfd, 1, exited ? 0 : 500);
		if (r > 0) {
			char buf[16384];
			ssize_t n = read(p[0], buf, sizeof(buf));
			if (n > 0 && c->capture) {
				if (c->capture->len < (16 << 20))
					nib_buf_append(c->capture, buf, (size_t)n);
			} else if (n > 0) {
				nib_buf_append(&pending, buf, (size_t)n);
				char *nl;
				size_t off = 0;
				while ((nl = memchr(pending.data + off, '\n', pending.len - off))) {
					bld_srv_job_line(j, pending.data + off,
							 (size_t)(nl - (pending.data + off)));
					off = (size_t)(nl - pending.data) + 1;
				}
				if (pending.len - off > 65536) { /* a very long line: cut */
					bld_srv_job_line(j, pending.data + off, pending.len - off);
					off = pending.len;
				}
				memmove(pending.data, pending.data + off, pending.len - off);
				pending.len -= off;
				pending.data[pending.len] = '\0';
				bld_srv_wake(s);
			} else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				break;
			}
		} else if (r == 0 && exited) {
			break; /* exited; a grandchild keeps the pipe: stop reading */
		}
		if (!exited) {
			int st;
			pid_t w = waitpid(pid, &st, WNOHANG);
			if (w == pid) {
				exited = true;
				status = st;
			}
		}
		double t = mono();
		pthread_mutex_lock(&s->lock);
		bool cancel = j->cancel || s->stopping;
		pthread_mutex_unlock(&s->lock);
		if (s->cfg.build_timeout &&
		    t - ((double)j->start.tv_sec + (double)j->start.tv_nsec / 1e9) >
			(double)s->cfg.build_timeout)
			bld_srv_job_limit(j, "the build ran longer than its limit of %llu s",
					  (unsigned long long)s->cfg.build_timeout);
		if (s->cfg.min_free_disk && t - last_disk > 2) {
			struct statvfs sv;
			last_disk = t;
			if (fstatvfs(s->state_fd, &sv) == 0 &&
			    (uint64_t)sv.f_bavail * sv.f_frsize < s->cfg.min_free_disk)
				bld_srv_job_limit(
				    j, "the service's disk has less than %llu bytes free",
				    (unsigned long long)s->cfg.min_free_disk);
		}
		if ((j->limit || cancel) && !exited) {
			if (!term_sent) {
				term_sent = t;
				kill_group(pid, SIGTERM);
			} else if (t - term_sent > 10) {
				kill_group(pid, SIGKILL);
			}
		}
	}
	if (pending.len)
		bld_srv_job_line(j, pending.data, pending.len);
	close(p[0]);
	kill_group(pid, SIGKILL); /* whatever is left of its group */
	if (!exited)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	pthread_mutex_lock(&s->lock);
	j->pid = 0;
	pthread_mutex_unlock(&s->lock);
	return status;
}

/* ---- a build --------------------------------------------------------------- */

/* A child's whole environment: nothing of the service's but PATH. */
static void child_env(const char *home, struct nib_strv *env)
{
	const char *path = getenv("PATH");
	nib_strv_pushf(env, "PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
	nib_strv_pushf(env, "HOME=%s", home);
	nib_strv_pushf(env, "TMPDIR=%s", home);
	nib_strv_push(env, "LANG=C.UTF-8");
}

static void reg_flags(struct bld_srv *s, struct nib_strv *a, bool auth)
{
	if (!s->cfg.tls_verify)
		nib_strv_push(a, "--tls-verify=false");
	if (auth)
		nib_strv_push(a, "--authfile=/dev/fd/3");
}

static void globals(struct bld_srv *s, const char *root, struct nib_strv *a)
{
	nib_strv_push(a, "nib");
	nib_strv_pushf(a, "--root=%s", root);
	nib_strv_push(a, "--log-format=json");
	if (s->cfg.registries_conf)
		nib_strv_pushf(a, "--registries-conf=%s", s->cfg.registries_conf);
}

void bld_srv_build_argv(struct bld_srv_job *j, const char *root, const char *dir,
			struct nib_strv *a)
{
	const struct bld_srv_config *cfg = &j->s->cfg;
	const struct bld_srv_spec *sp = &j->spec;

	globals(j->s, root, a);
	nib_strv_push(a, "build");
	/* the ptrace isolation is no security boundary: only when the
	 * operator allows it (nib serve --allow-ptrace) */
	nib_strv_push(a, cfg->allow_ptrace ? "--isolation=chroot" : "--isolation=namespaces");
	nib_strv_pushf(a, "--network=%s", cfg->build_network);
	nib_strv_push(a, "--http-proxy=false");
	/* RUN steps, where the Containerfile's code runs, get the limits from
	 * nib build itself: a cgroup per step where nib may make one, else
	 * RLIMIT_DATA and RLIMIT_NPROC (the service's cgroup, when it has one,
	 * holds the whole build besides) */
	if (cfg->memory_max)
		nib_strv_pushf(a, "--memory=%llu", (unsigned long long)cfg->memory_max);
	if (cfg->pids_max)
		nib_strv_pushf(a, "--pids-limit=%llu", (unsigned long long)cfg->pids_max);
	reg_flags(j->s, a, false);
	if (sp->containerfile || j->url_file)
		nib_strv_pushf(a, "--file=%s/Containerfile", dir);
	else if (sp->file)
		nib_strv_pushf(a, "--file=%s/context/%s", dir, sp->file);
	for (size_t i = 0; i < sp->n_build_args; i++)
		nib_strv_pushf(a, "--build-arg=%s=%s", sp->build_args[i].key,
			       sp->build_args[i].value);
	for (size_t i = 0; i < sp->n_labels; i++)
		nib_strv_pushf(a, "--label=%s=%s", sp->labels[i].key, sp->labels[i].value);
	if (sp->target)
		nib_strv_pushf(a, "--target=%s", sp->target);
	if (sp->platform)
		nib_strv_pushf(a, "--platform=%s", sp->platform);
	if (sp->timestamp >= 0)
		nib_strv_pushf(a, "--timestamp=%lld", (long long)sp->timestamp);
	if (sp->no_cache)
		nib_strv_push(a, "--no-cache");
	for (size_t i = 0; i < sp->tags.len; i++)
		nib_strv_pushf(a, "--tag=%s", sp->tags.v[i]);
	nib_strv_push(a, "--");
	nib_strv_pushf(a, "%s/context", dir);
}

static const char *exit_reason(int status, char *buf, size_t n)
{
	if (status < 0)
		snprintf(buf, n, "could not start nib");
	else if (WIFSIGNALED(status))
		snprintf(buf, n, "nib was killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, n, "nib exited with status %d", WEXITSTATUS(status));
	return buf;
}

static bool job_stopped(void *arg)
{
	struct bld_srv_job *j = arg;
	pthread_mutex_lock(&j->s->lock);
	bool stop = j->cancel || j->s->stopping;
	pthread_mutex_unlock(&j->s->lock);
	return stop;
}

void bld_srv_context_limits(struct bld_srv *s, struct bld_srv_job *j, struct bld_fetch_limits *lim)
{
	*lim = (struct bld_fetch_limits){.max_size = s->cfg.max_context,
					 .max_entries = BLD_SRV_CONTEXT_MAX_ENTRIES,
					 .confined = true};
	if (j) {
		lim->timeout = (unsigned)MIN(s->cfg.build_timeout, UINT_MAX);
		lim->stop = job_stopped;
		lim->stop_arg = j;
	}
}

int bld_srv_context_fetch(struct bld_srv_job *j, struct nib_error *err)
{
	struct bld_srv *s = j->s;
	_cleanup_free_ char *ctx = xasprintf("%s/context", j->dir);
	_cleanup_free_ char *work = xasprintf("%s/work", j->dir);
	_cleanup_free_ char *file = xasprintf("%s/Containerfile", j->dir);
	_cleanup_free_ char *spec = NULL;
	struct bld_fetch_limits lim;
	struct reg_options ro = {.tls_verify = s->cfg.tls_verify ? -1 : 0,
				 .registries_conf = s->cfg.registries_conf};
	struct bld_context_options o = {.tmp_parent = work, .ro = &ro, .lim = &lim};
	struct bld_context c = {0};
	int r;

	if (!j->spec.git_url && !j->spec.context_url)
		return 0;
	bld_srv_context_limits(s, j, &lim);
	if (j->spec.git_url)
		spec = j->spec.git_ref ? xasprintf("%s#%s", j->spec.git_url, j->spec.git_ref)
				       : xstrdup(j->spec.git_url);
	bld_srv_job_event(j, "fetching the context from %s",
			  j->spec.git_url ? j->spec.git_url : j->spec.context_url);
	if (mkdir(work, 0700) < 0 && errno != EEXIST)
		return nib_err(err, NIB_ERR_IO, errno, "%s", work);
	r = bld_context_fetch(j->spec.git_url ? BLD_CONTEXT_GIT : BLD_CONTEXT_URL,
			      spec ? spec : j->spec.context_url, &o, &c, err);
	/* the fetched folder (or file) takes the place of the empty one */
	if (r == 0 && (rmdir(ctx) < 0 || rename(c.dir, ctx) < 0))
		r = nib_err(err, NIB_ERR_IO, errno, "%s", ctx);
	if (r == 0 && c.file) {
		if (rename(c.file, file) < 0)
			r = nib_err(err, NIB_ERR_IO, errno, "%s", file);
		j->url_file = r == 0;
	}
	bld_context_close(&c);
	return r;
}

char *bld_srv_tenant_authfile(struct bld_srv_job *j)
{
	struct bld_srv *s = j->s;
	struct bld_srv_tenants *t = bld_srv_tenants_get(s);
	const char *found = s->cfg.authfile;
	for (size_t i = 0; i < t->len; i++)
		if (streq(t->v[i].name, j->b.tenant) && t->v[i].authfile)
			found = t->v[i].authfile;
	char *copy = found ? xstrdup(found) : NULL;
	bld_srv_tenants_put(t);
	return copy;
}

/* The images a build needs from registries: the bases of the stages it
 * builds and COPY --from images (from `nib parse --json`). */
static void needed_images(const char *parse_json, struct nib_strv *out)
{
	_cleanup_(json_object_putp) json_object *o = json_tokener_parse(parse_json);
	json_object *stages, *v;

	if (!o || !json_object_object_get_ex(o, "stages", &stages))
		return;
	for (size_t i = 0; i < json_object_array_length(stages); i++) {
		json_object *st = json_object_array_get_idx(stages, i);
		json_object *ins;
		const char *base = bld_srv_jstr(st, "base");
		if (!json_object_object_get_ex(st, "needed", &v) || !json_object_get_boolean(v))
			continue;
		bool own = json_object_object_get_ex(st, "base_stage", &v) && v;
		if (base && !own && !streq(base, "scratch") && nib_strv_find(out, base) < 0)
			nib_strv_push(out, base);
		if (!json_object_object_get_ex(st, "instructions", &ins))
			continue;
		for (size_t k = 0; k < json_object_array_length(ins); k++) {
			json_object *flags;
			const char *from;
			if (!json_object_object_get_ex(json_object_array_get_idx(ins, k), "flags",
						       &flags) ||
			    !(from = bld_srv_jstr(flags, "from")))
				continue;
			bool stage = false;
			for (size_t m = 0; m < json_object_array_length(stages); m++) {
				const char *name =
				    bld_srv_jstr(json_object_array_get_idx(stages, m), "name");
				char idx[24];
				snprintf(idx, sizeof(idx), "%zu", m);
				stage = stage || (name && streq(name, from)) || streq(idx, from);
			}
			if (!stage && nib_strv_find(out, from) < 0)
				nib_strv_push(out, from);
		}
	}
}

/*
 * With registry credentials, the images the build needs are pulled first
 * by `nib pull` processes that get them (fd 3); the build itself then
 * finds them in its store and gets no credentials at all.
 */
static int prepull(struct bld_srv_job *j, const char *root, char **env, int cgroup_fd)
{
	struct bld_srv *s = j->s;
	_cleanup_free_ char *authfile = bld_srv_tenant_authfile(j);
	_cleanup_strv_ struct nib_strv a = {0};
	_cleanup_strv_ struct nib_strv refs = {0};
	_cleanup_buf_ struct nib_buf out = {0};
	_cleanup_free_ char *home = xasprintf("%s/work", j->dir);

	if (!authfile)
		return 0;
	globals(s, root, &a);
	nib_strv_push(&a, "parse");
	nib_strv_push(&a, "--json");
	for (size_t i = 0; i < j->spec.n_build_args; i++)
		nib_strv_pushf(&a, "--build-arg=%s=%s", j->spec.build_args[i].key,
			       j->spec.build_args[i].value);
	if (j->spec.target)
		nib_strv_pushf(&a, "--target=%s", j->spec.target);
	if (j->spec.platform)
		nib_strv_pushf(&a, "--platform=%s", j->spec.platform);
	nib_strv_push(&a, "--");
	if (j->spec.containerfile || j->url_file)
		nib_strv_pushf(&a, "%s/Containerfile", j->dir);
	else if (j->spec.file)
		nib_strv_pushf(&a, "%s/context/%s", j->dir, j->spec.file);
	else {
		_cleanup_free_ char *cf = xasprintf("%s/context/Containerfile", j->dir);
		nib_strv_push_take(&a, access(cf, F_OK) == 0
					   ? steal_pointer(&cf)
					   : xasprintf("%s/context/Dockerfile", j->dir));
	}
	struct child_setup c = {.nib = s->cfg.nib,
				.argv = a.v,
				.envp = env,
				.cwd = home,
				.capture = &out,
				.auth_fd = -1,
				.cgroup_fd = -1};
	if (run_child(j, &c) != 0 || !out.data)
		return 0; /* the build says what is wrong with the Containerfile */
	needed_images(out.data, &refs);
	for (size_t i = 0; i < refs.len; i++) {
		_cleanup_strv_ struct nib_strv p = {0};
		_cleanup_close_ int auth = open(authfile, O_RDONLY | O_CLOEXEC);
		if (auth < 0) {
			bld_srv_job_limit(j, "the service's registry credentials cannot be read");
			return -1;
		}
		globals(s, root, &p);
		nib_strv_push(&p, "pull");
		reg_flags(s, &p, true);
		nib_strv_push(&p, "--");
		nib_strv_push(&p, refs.v[i]);
		bld_srv_job_event(j, "pulling %s with the service's credentials", refs.v[i]);
		struct child_setup pc = {.nib = s->cfg.nib,
					 .argv = p.v,
					 .envp = env,
					 .cwd = home,
					 .auth_fd = auth,
					 .cgroup_fd = cgroup_fd};
		if (run_child(j, &pc) != 0)
			return -1;
	}
	return 0;
}

static int push_tags(struct bld_srv_job *j, const char *root, char **env, int cgroup_fd)
{
	struct bld_srv *s = j->s;
	_cleanup_free_ char *authfile = bld_srv_tenant_authfile(j);
	_cleanup_free_ char *home = xasprintf("%s/work", j->dir);

	for (size_t i = 0; i < j->spec.tags.len; i++) {
		_cleanup_strv_ struct nib_strv a = {0};
		_cleanup_close_ int auth = -1;
		if (authfile) {
			auth = open(authfile, O_RDONLY | O_CLOEXEC);
			if (auth < 0) {
				bld_srv_job_limit(
				    j, "the service's registry credentials cannot be read");
				log_warn("serve: %s: %s", authfile, strerror(errno));
				return -1;
			}
		}
		globals(s, root, &a);
		nib_strv_push(&a, "push");
		reg_flags(s, &a, auth >= 0);
		nib_strv_push(&a, "--");
		nib_strv_push(&a, j->spec.tags.v[i]);
		bld_srv_job_event(j, "pushing %s", j->spec.tags.v[i]);
		struct child_setup c = {.nib = s->cfg.nib,
					.argv = a.v,
					.envp = env,
					.cwd = home,
					.auth_fd = auth,
					.cgroup_fd = cgroup_fd};
		if (run_child(j, &c) != 0)
			return -1;
	}
	return 0;
}

int bld_srv_local_run(struct bld_srv_job *j, char **failure)
{
	struct bld_srv *s = j->s;
	struct nib_error e = {0};
	_cleanup_free_ char *work = xasprintf("%s/work", j->dir);
	_cleanup_free_ char *tdir = xasprintf("%s/tenants/%s", s->cfg.state_dir, j->b.tenant);
	_cleanup_free_ char *root = xasprintf("%s/root", tdir);
	_cleanup_free_ char *cgroup = NULL;
	_cleanup_strv_ struct nib_strv argv = {0};
	_cleanup_strv_ struct nib_strv env = {0};
	_cleanup_close_ int cgroup_fd = -1;
	char reason[128];
	int status;

	if ((mkdir(work, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(tdir, 0700) < 0 && errno != EEXIST)) {
		*failure = xasprintf("cannot make the build's folders: %s", strerror(errno));
		return -1;
	}
	if (bld_srv_context_fetch(j, &e) < 0) {
		*failure = steal_pointer(&e.msg);
		return -1;
	}
	bld_srv_build_argv(j, root, j->dir, &argv);
	child_env(work, &env);
	cgroup_fd = bld_srv_cgroup_open(j, &cgroup);
	if (prepull(j, root, env.v, cgroup_fd) < 0) {
		*failure =
		    xstrdup(j->last_error ? j->last_error : "a base image could not be pulled");
		status = -1;
	} else {
		struct child_setup c = {.nib = s->cfg.nib,
					.argv = argv.v,
					.envp = env.v,
					.cwd = work,
					.auth_fd = -1,
					.cgroup_fd = cgroup_fd};
		status = run_child(j, &c);
	}
	if (cgroup && bld_srv_cgroup_oom(cgroup))
		bld_srv_job_limit(j, "the build passed its memory limit of %llu bytes",
				  (unsigned long long)s->cfg.memory_max);
	if (status == 0 && !j->limit && !j->cancel && !s->stopping && j->spec.tags.len)
		status = push_tags(j, root, env.v, cgroup_fd) < 0 ? 1 : 0;
	if (status != 0 && !*failure)
		*failure = xstrdup(j->last_error ? j->last_error
						 : exit_reason(status, reason, sizeof(reason)));
	if (cgroup)
		rmdir(cgroup);
	return status;
}
