/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resource limits of a RUN step: a number of processes and an amount of
 * memory. Through a cgroup v2 subtree nib may write to (a delegated one: a
 * systemd scope with Delegate=yes, a user-namespaced pod's own cgroup), a
 * child cgroup per step with pids.max and memory.max, which also tells
 * when a step reached them; else rlimits in the step (RLIMIT_NPROC for the
 * step's user, RLIMIT_DATA for each process).
 */
#define BLD_RUNTIME_INTERNAL 1
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "builder/runtime_internal.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

void bld_limits_default(struct bld_limits *l)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	l->pids = 4096;
	/* three quarters of the machine: a step cannot take it all */
	l->memory = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 4 * 3 : 0;
}

int bld_limits_parse(const char *opt, const char *val, struct bld_limits *l, struct nib_error *err)
{
	char *end;
	unsigned long long v;

	if (streq(opt, "--pids-limit") && streq(val, "-1")) {
		l->pids = 0;
		return 0;
	}
	errno = 0;
	v = strtoull(val, &end, 10);
	if (end == val || errno || *val == '-')
		goto bad;
	if (streq(opt, "--memory")) {
		static const char units[] = "bkmgt";
		const char *u = *end ? strchr(units, (char)tolower((unsigned char)*end)) : units;
		if (!u || (*end && end[1] && !(tolower((unsigned char)end[1]) == 'b' && !end[2])))
			goto bad;
		for (const char *k = units; k < u; k++) {
			if (v > (~0ULL >> 10))
				goto bad;
			v <<= 10;
		}
		l->memory = v;
		return 0;
	}
	if (*end)
		goto bad;
	l->pids = v;
	return 0;
bad:
	return nib_err(err, NIB_ERR_USAGE, 0, "%s %s: expected %s", opt, val,
		       streq(opt, "--memory") ? "a size such as 512m or 4g" : "a number");
}

int bld_rlimit_lower(int resource, uint64_t v)
{
	struct rlimit rl;

	if (!v || getrlimit(resource, &rl) < 0)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= v)
		return 0;
	rl.rlim_cur = rl.rlim_max = (rlim_t)v;
	return setrlimit(resource, &rl);
}

static int write_str(const char *dir, const char *file, const char *s)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC);

	return fd >= 0 && nib_write_all(fd, s, strlen(s)) == 0 ? 0 : -1;
}

static char *read_str(const char *dir, const char *file)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	char *data = NULL;

	return nib_read_file_at(AT_FDCWD, p, 1 << 20, &data, NULL, NULL) == 0 ? data : NULL;
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p && (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

/*
 * The cgroup v2 folder this process is in, when nib may make child cgroups
 * with pids and memory limits there: the folder and its cgroup.procs are
 * writable, and both controllers are or can be enabled for its children.
 * Enabling needs the folder to hold no process, so nib moves itself into a
 * child "nib" first; another process in the folder (the shell that started
 * nib) makes that impossible. NULL with the reason in `why`.
 */
static char *delegated_cgroup(char **why, bool act)
{
	static const char mnt[] = "/sys/fs/cgroup";
	_cleanup_free_ char *self = NULL, *procs = NULL, *ctl = NULL, *sub = NULL;
	char *line, *dir;
	struct statfs sf;

	if (statfs(mnt, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC) {
		*why = xstrdup("/sys/fs/cgroup is not cgroup v2");
		return NULL;
	}
	self = read_str("/proc/self", "cgroup");
	line = self ? strstr(self, "0::") : NULL;
	if (!line) {
		*why = xstrdup("no cgroup v2 path in /proc/self/cgroup");
		return NULL;
	}
	line += 3;
	line[strcspn(line, "\n")] = '\0';
	dir = xasprintf("%s%s", mnt, streq(line, "/") ? "" : line);
	if (nib_str_has_suffix(dir, "/nib")) /* moved there by an earlier step */
		dir[strlen(dir) - 4] = '\0';
	ctl = read_str(dir, "cgroup.controllers");
	sub = read_str(dir, "cgroup.subtree_control");
	if (!ctl || !has_word(ctl, "pids") || !has_word(ctl, "memory")) {
		*why = xasprintf("%s: the pids and memory controllers are not delegated", dir);
		free(dir);
		return NULL;
	}
	if (access(dir, W_OK) < 0) {
		*why = xasprintf("%s is not writable", dir);
		free(dir);
		return NULL;
	}
	if (has_word(sub, "pids") && has_word(sub, "memory"))
		return dir;
	/* nib alone in the folder: it moves into "nib", then the controllers
	 * can be enabled for the folder's children */
	procs = read_str(dir, "cgroup.procs");
	char pid[32];
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (!procs || !streq(procs, pid)) {
		*why =
		    xasprintf("%s holds other processes than nib: run nib in a cgroup of its own "
			      "(systemd-run --user --scope -p Delegate=yes)",
			      dir);
		free(dir);
		return NULL;
	}
	if (!act)
		return dir;
	_cleanup_free_ char *own = xasprintf("%s/nib", dir);
	if ((mkdir(own, 0755) < 0 && errno != EEXIST) || write_str(own, "cgroup.procs", pid) < 0 ||
	    write_str(dir, "cgroup.subtree_control", "+pids +memory") < 0) {
		*why = xasprintf("%s: cannot enable pids and memory for child cgroups: %s", dir,
				 strerror(errno));
		write_str(dir, "cgroup.procs", pid);
		rmdir(own);
		free(dir);
		return NULL;
	}
	return dir;
}

char *bld_limits_how(const struct bld_limits *l)
{
	_cleanup_free_ char *why = NULL, *dir = delegated_cgroup(&why, false);
	_cleanup_free_ char *what =
	    xasprintf("pids %llu, memory %llu MiB", (unsigned long long)l->pids,
		      (unsigned long long)(l->memory >> 20));

	if (dir)
		return xasprintf("cgroup v2 under %s (%s)", dir, what);
	return xasprintf("rlimits (%s: RLIMIT_NPROC of the step's user, RLIMIT_DATA of each "
			 "process): %s",
			 what, why);
}

char *bld_cgroup_step_new(const struct bld_limits *l)
{
	_cleanup_free_ char *why = NULL, *dir = NULL;
	char rnd[17], pids[32], mem[32];
	char *step;

	if (!l->pids && !l->memory)
		return NULL;
	dir = delegated_cgroup(&why, true);
	if (!dir) {
		log_debug("RUN limits through rlimits: %s", why);
		return NULL;
	}
	nib_random_hex(rnd, 16);
	step = xasprintf("%s/nib-step-%s", dir, rnd);
	if (mkdir(step, 0755) < 0) {
		log_debug("RUN limits through rlimits: mkdir %s: %m", step);
		free(step);
		return NULL;
	}
	snprintf(pids, sizeof(pids), "%llu", (unsigned long long)l->pids);
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)l->memory);
	if ((l->pids && write_str(step, "pids.max", pids) < 0) ||
	    (l->memory && (write_str(step, "memory.max", mem) < 0 ||
			   (write_str(step, "memory.swap.max", "0") < 0 && errno != ENOENT)))) {
		log_debug("RUN limits through rlimits: %s: %m", step);
		rmdir(step);
		free(step);
		return NULL;
	}
	return step;
}

int bld_cgroup_step_enter(const char *step, pid_t pid)
{
	char s[32];

	snprintf(s, sizeof(s), "%d", (int)pid);
	return write_str(step, "cgroup.procs", s);
}

/* The value of `key` in a flat-keyed cgroup file ("max 3\n"). */
static uint64_t event_count(const char *step, const char *file, const char *key)
{
	_cleanup_free_ char *data = read_str(step, file);
	size_t n = strlen(key);

	for (char *p = data; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, n) && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
	return 0;
}

void bld_cgroup_step_end(char *step, struct bld_run_result *res)
{
	if (!step)
		return;
	res->pids_limit_hit = event_count(step, "pids.events", "max") > 0;
	res->memory_limit_hit = event_count(step, "memory.events", "oom_kill") > 0;
	/* the kernel kills the rest of the pid namespace once pid 1 is gone;
	 * the folder can go when they are */
	for (int i = 0; rmdir(step) < 0 && errno == EBUSY && i < 200; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (access(step, F_OK) == 0)
		log_warn("%s: not removed: %m", step);
	free(step);
}

char *bld_run_result_why(const struct bld_run_spec *spec, const struct bld_run_result *res)
{
	struct nib_buf b = {0};

	if (res->timed_out)
		nib_buf_printf(&b, ": its timeout of %us passed", spec->timeout);
	if (res->memory_limit_hit)
		nib_buf_printf(&b, ", it reached its memory limit of %llu MiB (--memory)",
			       (unsigned long long)(spec->limits.memory >> 20));
	if (res->pids_limit_hit)
		nib_buf_printf(&b, ", it reached its limit of %llu processes (--pids-limit)",
			       (unsigned long long)spec->limits.pids);
	return nib_buf_steal(&b);
}
