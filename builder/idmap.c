/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ID-map modes as a table of backends (STYLE.md: backends as tables):
 * host (real root, 0 -> 0 over the full range), subuid (newuidmap and
 * newgidmap with the caller's /etc/subuid and /etc/subgid ranges), single
 * (only 0 -> caller, setgroups denied) and none (no user namespace can be
 * made: the caller's own IDs on disk stand for 0, the rest is recorded).
 */
#define BLD_RUNTIME_INTERNAL 1
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <shadow/subid.h>
#include <sys/capability.h>
#include <string.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "builder/runtime_internal.h"

static const char *const idmap_names[] = {
    [BLD_IDMAP_AUTO] = "auto", [BLD_IDMAP_SUBUID] = "subuid", [BLD_IDMAP_SINGLE] = "single",
    [BLD_IDMAP_HOST] = "host", [BLD_IDMAP_NONE] = "none",
};

int bld_idmap_parse(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(idmap_names); i++)
		if (streq(s, idmap_names[i]))
			return (int)i;
	return -1;
}

const char *bld_idmap_name(enum bld_idmap m)
{
	return (size_t)m < ARRAY_SIZE(idmap_names) ? idmap_names[m] : "?";
}

static bool range_has(const struct bld_idmap_range *r, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (id >= r[i].inside && id - r[i].inside < r[i].count)
			return true;
	return false;
}

bool bld_idmap_uid_mapped(const struct bld_idmap_ctx *ctx, uint32_t id)
{
	return range_has(ctx->uids, ctx->n_uids, id);
}

bool bld_idmap_gid_mapped(const struct bld_idmap_ctx *ctx, uint32_t id)
{
	return range_has(ctx->gids, ctx->n_gids, id);
}

/* Write `data` to /proc/PID/NAME. */
static int proc_write(pid_t pid, const char *name, const char *data, struct nib_error *err)
{
	char path[64];
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		return nib_err(err, NIB_ERR_ENV, errno, "write %s", path);
	return 0;
}

static char *map_text(const struct bld_idmap_range *r, size_t n)
{
	struct nib_buf b = {0};
	for (size_t i = 0; i < n; i++)
		nib_buf_printf(&b, "%u %u %u\n", r[i].inside, r[i].outside, r[i].count);
	return nib_buf_steal(&b);
}

/* ---- host: real root ------------------------------------------------------ */

/* The ranges of /proc/self/{uid,gid}_map as this namespace sees them. */
static size_t own_ranges(const char *file, struct bld_idmap_range *r, size_t max)
{
	_cleanup_free_ char *map = NULL;
	size_t n = 0;
	unsigned a, b, c;
	int used;

	if (nib_read_file_at(AT_FDCWD, file, 1 << 16, &map, NULL, NULL) < 0)
		return 0;
	for (const char *p = map; n < max && sscanf(p, "%u %u %u%n", &a, &b, &c, &used) == 3;
	     p += used)
		r[n++] = (struct bld_idmap_range){a, a, c};
	return n;
}

static bool has_caps(const cap_value_t *want, size_t n)
{
	cap_t caps = cap_get_proc();
	bool ok = caps != NULL;
	for (size_t i = 0; ok && i < n; i++) {
		cap_flag_value_t v = CAP_CLEAR;
		ok = cap_get_flag(caps, want[i], CAP_EFFECTIVE, &v) == 0 && v == CAP_SET;
	}
	cap_free(caps);
	return ok;
}

/* Real root (0 -> 0 over the full range), or root of a user namespace
 * that holds the capabilities to set any of its IDs: a user-namespaced
 * pod (Kubernetes hostUsers: false), whose 65,536 IDs are then used as
 * they are, with no emulation. */
static int host_probe(struct bld_idmap_ctx *ctx, struct nib_error *why)
{
	static const cap_value_t need[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_SETUID,
					   CAP_SETGID};
	_cleanup_free_ char *sg = NULL;

	if (geteuid() != 0)
		return nib_err(why, NIB_ERR_ENV, 0, "not running as root");
	ctx->n_uids = own_ranges("/proc/self/uid_map", ctx->uids, BLD_IDMAP_MAX_RANGES);
	ctx->n_gids = own_ranges("/proc/self/gid_map", ctx->gids, BLD_IDMAP_MAX_RANGES);
	if (ctx->n_uids == 0 || ctx->n_gids == 0)
		return nib_err(why, NIB_ERR_ENV, 0, "cannot read this process's ID maps");
	if (!has_caps(need, ARRAY_SIZE(need)))
		return nib_err(why, NIB_ERR_ENV, 0,
			       "root without CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_SETUID "
			       "and CAP_SETGID");
	nib_read_file_at(AT_FDCWD, "/proc/self/setgroups", 64, &sg, NULL, NULL);
	ctx->setgroups = !sg || strncmp(sg, "deny", 4) != 0;
	return 0;
}

int bld_idmap_can_map_root(const struct bld_idmap_ctx *ctx, struct nib_error *err)
{
	static const cap_value_t setfcap[] = {CAP_SETFCAP};
	/* user_namespaces(7), Linux 5.12: mapping ID 0 of the parent
	 * namespace into a child needs CAP_SETFCAP there */
	if (ctx->mode != BLD_IDMAP_HOST || bld_idmap_full(ctx) || has_caps(setfcap, 1))
		return 0;
	return nib_err(err, NIB_ERR_ENV, 0,
		       "a RUN step's user namespace must map the pod's root, which needs "
		       "CAP_SETFCAP: add it to the pod's capabilities");
}

bool bld_idmap_full(const struct bld_idmap_ctx *ctx)
{
	return ctx->n_uids == 1 && ctx->uids[0].inside == 0 && ctx->uids[0].count == 4294967295U;
}

static int host_apply(const struct bld_idmap_ctx *ctx, pid_t pid, struct nib_error *err)
{
	_cleanup_free_ char *u = map_text(ctx->uids, ctx->n_uids);
	_cleanup_free_ char *g = map_text(ctx->gids, ctx->n_gids);
	if (proc_write(pid, "uid_map", u, err) < 0 || proc_write(pid, "gid_map", g, err) < 0)
		return -1;
	return 0;
}

/* ---- subuid: newuidmap/newgidmap ------------------------------------------ */

static bool no_new_privs(void)
{
	_cleanup_free_ char *st = NULL;
	const char *p;
	if (nib_read_file_at(AT_FDCWD, "/proc/self/status", 1 << 16, &st, NULL, NULL) < 0)
		return false;
	p = strstr(st, "\nNoNewPrivs:");
	return p && atoi(p + 12) != 0;
}

/* Read ranges for `user` (or its uid as a string) from an /etc/subuid-style
 * file, when libsubid cannot. */
static size_t subid_file(const char *file, const char *user, uid_t uid, struct bld_idmap_range *r,
			 size_t max)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	char line[512], uidstr[32];
	size_t n = 0;

	if (!f)
		return 0;
	snprintf(uidstr, sizeof(uidstr), "%u", (unsigned)uid);
	while (n < max && fgets(line, sizeof(line), f)) {
		char *name = strtok(line, ":\n"), *start = strtok(NULL, ":\n"),
		     *count = strtok(NULL, ":\n");
		uint64_t s, c;
		if (!name || !start || !count || (!streq(name, user) && !streq(name, uidstr)))
			continue;
		if (nib_parse_u64(start, &s) < 0 || nib_parse_u64(count, &c) < 0 || c == 0 ||
		    s > UINT32_MAX || c > UINT32_MAX)
			continue;
		r[n++] = (struct bld_idmap_range){0, (uint32_t)s, (uint32_t)c};
	}
	return n;
}

/* Whether /etc/nsswitch.conf names a "subid:" service (then only libsubid
 * knows the ranges; without one it reads the same files as subid_file). */
static bool subid_nss(void)
{
	_cleanup_free_ char *conf = NULL;

	if (nib_read_file_at(AT_FDCWD, "/etc/nsswitch.conf", 1 << 20, &conf, NULL, NULL) < 0)
		return false;
	for (const char *p = conf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		p += strspn(p, " \t");
		if (strncmp(p, "subid", 5) == 0 && p[5 + strspn(p + 5, " \t")] == ':')
			return true;
	}
	return false;
}

static size_t subid_ranges(bool gid, const char *user, uid_t uid, struct bld_idmap_range *r,
			   size_t max)
{
	struct subid_range *ranges = NULL;
	int n;
	size_t out = 0;
	static bool inited;

	/* libsubid (loaded on first use) only when a subid service is set */
	if (!subid_nss())
		return subid_file(gid ? "/etc/subgid" : "/etc/subuid", user, uid, r, max);
	if (!inited) {
		subid_init("nib", NULL); /* messages to /dev/null: nib reports itself */
		inited = true;
	}
	n = gid ? subid_get_gid_ranges(user, &ranges) : subid_get_uid_ranges(user, &ranges);
	if (n < 0) {
		free(ranges);
		return subid_file(gid ? "/etc/subgid" : "/etc/subuid", user, uid, r, max);
	}
	for (int i = 0; i < n && out < max; i++) {
		if (ranges[i].count == 0 || ranges[i].start > UINT32_MAX ||
		    ranges[i].count > UINT32_MAX)
			continue;
		r[out++] = (struct bld_idmap_range){0, (uint32_t)ranges[i].start,
						    (uint32_t)ranges[i].count};
	}
	free(ranges);
	return out;
}

static char *user_name(uid_t uid)
{
	struct passwd *pw = getpwuid(uid); /* the caller's own name, on the host */
	return pw ? xstrdup(pw->pw_name) : NULL;
}

static bool helper_usable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static const char *find_helper(const char *name)
{
	static const char *const dirs[] = {"/usr/bin", "/bin", "/usr/sbin", "/sbin",
					   "/usr/local/bin"};
	static char buf[256];
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(buf, sizeof(buf), "%s/%s", dirs[i], name);
		if (helper_usable(buf))
			return buf;
	}
	return NULL;
}

char *bld_idmap_subuid_describe(void)
{
	struct bld_idmap_range r[BLD_IDMAP_MAX_RANGES];
	_cleanup_free_ char *name = user_name(geteuid());
	struct nib_buf b = {0};
	size_t n;

	if (!name)
		return NULL;
	n = subid_ranges(false, name, geteuid(), r, ARRAY_SIZE(r));
	for (size_t i = 0; i < n; i++)
		nib_buf_printf(&b, "%s%u:%u", i ? "," : "", r[i].outside, r[i].count);
	if (n == 0)
		return NULL;
	return nib_buf_steal(&b);
}

static int subuid_probe(struct bld_idmap_ctx *ctx, struct nib_error *why)
{
	struct bld_idmap_range r[BLD_IDMAP_MAX_RANGES - 1];
	_cleanup_free_ char *name = user_name(ctx->uid);
	uint32_t next;
	size_t n;

	if (bld_userns_probe(why) < 0)
		return -1;
	if (!name)
		return nib_err(why, NIB_ERR_ENV, 0,
			       "UID %u has no name in the host's user database, so it has no "
			       "/etc/subuid entry",
			       (unsigned)ctx->uid);
	for (int pass = 0; pass < 2; pass++) {
		bool gid = pass == 1;
		struct bld_idmap_range *out = gid ? ctx->gids : ctx->uids;
		n = subid_ranges(gid, name, ctx->uid, r, ARRAY_SIZE(r));
		if (n == 0)
			return nib_err(why, NIB_ERR_ENV, 0, "no range for %s in %s", name,
				       gid ? "/etc/subgid" : "/etc/subuid");
		out[0] = (struct bld_idmap_range){0, gid ? ctx->gid : ctx->uid, 1};
		next = 1;
		for (size_t i = 0; i < n; i++) {
			out[i + 1] = r[i];
			out[i + 1].inside = next;
			next += r[i].count;
		}
		if (gid)
			ctx->n_gids = n + 1;
		else
			ctx->n_uids = n + 1;
	}
	if (!find_helper("newuidmap") || !find_helper("newgidmap"))
		return nib_err(why, NIB_ERR_ENV, 0,
			       "newuidmap/newgidmap not found (Debian package uidmap)");
	if (no_new_privs())
		return nib_err(why, NIB_ERR_ENV, 0,
			       "no_new_privs is set, so the setuid newuidmap cannot work");
	ctx->setgroups = true;
	return 0;
}

struct helper {
	const char *name;
	pid_t pid;
	int errfd;
};

/* Start `name PID INSIDE OUTSIDE COUNT...` (posix_spawn: no copy of nib's
 * memory) with its stderr on a pipe. */
static int helper_start(struct helper *h, pid_t pid, const struct bld_idmap_range *r, size_t n,
			struct nib_error *err)
{
	_cleanup_strv_ struct nib_strv argv = {0};
	const char *path = find_helper(h->name);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int pipefd[2], rc;

	if (!path)
		return nib_err(err, NIB_ERR_ENV, ENOENT, "%s", h->name);
	nib_strv_push(&argv, path);
	nib_strv_pushf(&argv, "%d", (int)pid);
	for (size_t i = 0; i < n; i++) {
		nib_strv_pushf(&argv, "%u", r[i].inside);
		nib_strv_pushf(&argv, "%u", r[i].outside);
		nib_strv_pushf(&argv, "%u", r[i].count);
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&h->pid, path, &fa, &attr, argv.v, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		return nib_err(err, NIB_ERR_ENV, rc, "start %s", path);
	}
	h->errfd = pipefd[0];
	return 0;
}

/* Wait for a started helper; its first stderr line goes into the error. */
static int helper_wait(struct helper *h, struct nib_error *err)
{
	char msg[512] = "";
	ssize_t got;
	int status;

	got = read(h->errfd, msg, sizeof(msg) - 1);
	msg[got > 0 ? got : 0] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	close(h->errfd);
	while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return nib_err(err, NIB_ERR_ENV, 0, "%s failed%s%s", h->name, *msg ? ": " : "",
			       msg);
	return 0;
}

/* newuidmap and newgidmap run side by side. */
static int subuid_apply(const struct bld_idmap_ctx *ctx, pid_t pid, struct nib_error *err)
{
	struct helper u = {"newuidmap", -1, -1}, g = {"newgidmap", -1, -1};
	struct nib_error gerr = {0};
	int ret;

	if (helper_start(&u, pid, ctx->uids, ctx->n_uids, err) < 0)
		return -1;
	if (helper_start(&g, pid, ctx->gids, ctx->n_gids, &gerr) < 0) {
		helper_wait(&u, err); /* reaped; its error gives way to newgidmap's */
		nib_err_move(err, &gerr);
		return -1;
	}
	ret = helper_wait(&u, err);
	if (helper_wait(&g, &gerr) < 0 && ret == 0) {
		nib_err_move(err, &gerr);
		ret = -1;
	}
	nib_err_clear(&gerr);
	return ret;
}

/* ---- can a user namespace be made? ------------------------------------- */

static long sysctl_value(const char *path)
{
	_cleanup_free_ char *s = NULL;
	if (nib_read_file_at(AT_FDCWD, path, 64, &s, NULL, NULL) < 0)
		return -1;
	return strtol(s, NULL, 10);
}

static bool seccomp_filtered(void)
{
	_cleanup_free_ char *st = NULL;
	const char *p;
	if (nib_read_file_at(AT_FDCWD, "/proc/self/status", 1 << 16, &st, NULL, NULL) < 0)
		return false;
	p = strstr(st, "\nSeccomp:");
	return p && atoi(p + 9) == 2;
}

int bld_userns_probe(struct nib_error *why)
{
	static int tried, saved_errno;
	const char *cause;
	int status;

	if (!tried) {
		/* the real call, in a child that ends at once (never in nib:
		 * unshare would change nib's own namespace) */
		pid_t pid = fork();
		if (pid < 0)
			return nib_err(why, NIB_ERR_ENV, errno, "fork");
		if (pid == 0)
			_exit(unshare(CLONE_NEWUSER) < 0 ? (errno & 0xff ? errno & 0xff : 1) : 0);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		saved_errno = WIFEXITED(status) ? WEXITSTATUS(status) : EPERM;
		tried = 1;
	}
	if (saved_errno == 0)
		return 0;
	if (saved_errno == EINVAL)
		cause = "this kernel has no user namespaces (CONFIG_USER_NS)";
	else if (sysctl_value("/proc/sys/kernel/unprivileged_userns_clone") == 0)
		cause = "sysctl kernel.unprivileged_userns_clone is 0";
	else if (sysctl_value("/proc/sys/user/max_user_namespaces") == 0)
		cause = "sysctl user.max_user_namespaces is 0";
	else if (saved_errno == ENOSPC)
		cause = "user.max_user_namespaces reached, or namespaces nested too deep";
	else if ((saved_errno == EPERM || saved_errno == ENOSYS) && seccomp_filtered())
		cause = "the seccomp profile allows it only with CAP_SYS_ADMIN, as "
			"containerd's and current CRI-O's RuntimeDefault do";
	else
		cause = "refused by the kernel or a security module";
	nib_err(why, NIB_ERR_ENV, 0, "unshare(CLONE_NEWUSER): %s (%s)", strerror(saved_errno),
		cause);
	if (why)
		why->errnum = saved_errno;
	return -1;
}

/* ---- single: only 0 -> caller ------------------------------------------ */

static int single_probe(struct bld_idmap_ctx *ctx, struct nib_error *why)
{
	if (bld_userns_probe(why) < 0)
		return -1;
	ctx->uids[0] = (struct bld_idmap_range){0, ctx->uid, 1};
	ctx->gids[0] = (struct bld_idmap_range){0, ctx->gid, 1};
	ctx->n_uids = ctx->n_gids = 1;
	ctx->setgroups = false;
	return 0;
}

static int single_apply(const struct bld_idmap_ctx *ctx, pid_t pid, struct nib_error *err)
{
	_cleanup_free_ char *u = map_text(ctx->uids, ctx->n_uids);
	_cleanup_free_ char *g = map_text(ctx->gids, ctx->n_gids);
	/* user_namespaces(7): an unprivileged gid_map needs setgroups denied;
	 * nib never calls setgroups in this mode. */
	if (proc_write(pid, "setgroups", "deny", err) < 0 ||
	    proc_write(pid, "uid_map", u, err) < 0 || proc_write(pid, "gid_map", g, err) < 0)
		return -1;
	return 0;
}

/* ---- none: no user namespace -------------------------------------------- */

/* The same map as single, seen from outside: container 0 is the caller's
 * own IDs on disk. Taken only where no user namespace can be made. */
static int none_probe(struct bld_idmap_ctx *ctx, struct nib_error *why)
{
	if (geteuid() == 0 && host_probe(ctx, NULL) == 0)
		return nib_err(why, NIB_ERR_ENV, 0, "real root needs no emulation");
	ctx->n_uids = ctx->n_gids = 0;
	ctx->uids[0] = (struct bld_idmap_range){0, ctx->uid, 1};
	ctx->gids[0] = (struct bld_idmap_range){0, ctx->gid, 1};
	ctx->n_uids = ctx->n_gids = 1;
	ctx->setgroups = false;
	return 0;
}

static int none_apply(const struct bld_idmap_ctx *ctx, pid_t pid, struct nib_error *err)
{
	return nib_err(err, NIB_ERR_ENV, 0, "no user namespace to map IDs in");
}

static const struct bld_idmap_backend backends[] = {
    {BLD_IDMAP_HOST, "host", host_probe, host_apply},
    {BLD_IDMAP_SUBUID, "subuid", subuid_probe, subuid_apply},
    {BLD_IDMAP_SINGLE, "single", single_probe, single_apply},
    {BLD_IDMAP_NONE, "none", none_probe, none_apply},
};

const struct bld_idmap_backend *bld_idmap_backend_get(enum bld_idmap mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		if (backends[i].mode == mode)
			return &backends[i];
	return NULL;
}

int bld_idmap_choose(enum bld_idmap want, struct bld_idmap_ctx *ctx, char **why,
		     struct nib_error *err)
{
	struct nib_error e = {0};
	struct nib_buf reasons = {0};

	memset(ctx, 0, sizeof(*ctx));
	ctx->uid = geteuid();
	ctx->gid = getegid();
	if (why)
		*why = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
		const struct bld_idmap_backend *b = &backends[i];
		if (want != BLD_IDMAP_AUTO && want != b->mode)
			continue;
		ctx->n_uids = ctx->n_gids = 0;
		if (b->probe(ctx, &e) == 0) {
			ctx->mode = b->mode;
			if (why && reasons.len)
				*why = nib_buf_steal(&reasons);
			nib_buf_free(&reasons);
			return 0;
		}
		if (want != BLD_IDMAP_AUTO) {
			nib_err_move(err, &e);
			nib_buf_free(&reasons);
			return nib_err_wrap(err, "--idmap %s", b->name);
		}
		/* one cause refuses both namespace modes: said once */
		if (b->mode != BLD_IDMAP_HOST && !(reasons.len && strstr(reasons.data, e.msg)))
			nib_buf_printf(&reasons, "%s%s: %s", reasons.len ? "; " : "", b->name,
				       e.msg);
		nib_err_clear(&e);
	}
	nib_buf_free(&reasons);
	return nib_err(err, NIB_ERR_ENV, 0, "no ID map mode works here");
}
