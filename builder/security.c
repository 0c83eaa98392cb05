/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How a RUN is confined beyond nib's defaults, as buildah's options spell
 * it: --security-opt (seccomp=, no-new-privileges, label=, apparmor=,
 * mask=, unmask=), --ulimit, --shm-size and --device, parsed here into a
 * struct bld_security the runtime applies; and the SELinux labels of a RUN
 * (the computation, pure, and the relabel of -v volumes).
 */
#define BLD_RUNTIME_INTERNAL 1
#include <ctype.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/filter.h>
#include <selinux/selinux.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "builder/runtime_internal.h"

void bld_security_free(struct bld_security *s)
{
	if (!s)
		return;
	free(s->seccomp_profile);
	free(s->label_user);
	free(s->label_role);
	free(s->label_type);
	free(s->label_level);
	free(s->label_filetype);
	nib_strv_free(&s->mask);
	nib_strv_free(&s->unmask);
	for (size_t i = 0; i < s->n_devices; i++) {
		free(s->devices[i].host);
		free(s->devices[i].container);
	}
	free(s->devices);
	memset(s, 0, sizeof(*s));
}

/* "/a:/b" into `v`: absolute paths only. */
static int paths_opt(struct nib_strv *v, const char *opt, const char *list, bool all_ok,
		     struct nib_error *err)
{
	_cleanup_free_ char *copy = xstrdup(list);
	char *save = NULL;

	if (!*list)
		return nib_err(err, NIB_ERR_USAGE, 0, "--security-opt %s: no path given", opt);
	for (char *t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
		if (!(all_ok && streq(t, "ALL")) && t[0] != '/')
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "--security-opt %s: '%s' is not an absolute path", opt, t);
		nib_strv_push(v, t);
	}
	return 0;
}

static int label_opt(struct bld_security *s, const char *opt, const char *v, struct nib_error *err)
{
	static const char *const keys[] = {"user:", "role:", "type:", "level:", "filetype:"};
	char **fields[] = {&s->label_user, &s->label_role, &s->label_type, &s->label_level,
			   &s->label_filetype};

	if (streq(v, "disable")) {
		s->label_disable = true;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (!nib_str_has_prefix(v, keys[i]))
			continue;
		const char *val = v + strlen(keys[i]);
		/* a level holds ':' and ','; the other parts are one word */
		if (!*val ||
		    strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"0123456789_.-:,") != strlen(val) ||
		    (i != 3 && strchr(val, ':')))
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "--security-opt %s: '%s' is not an SELinux %.*s", opt, val,
				       (int)strlen(keys[i]) - 1, keys[i]);
		free(*fields[i]);
		*fields[i] = xstrdup(val);
		return 0;
	}
	return nib_err(err, NIB_ERR_USAGE, 0,
		       "--security-opt %s: expected label=disable, user:, role:, type:, level: or "
		       "filetype:",
		       opt);
}

int bld_security_opt(struct bld_security *s, const char *opt, struct nib_error *err)
{
	const char *eq = strchr(opt, '=');
	_cleanup_free_ char *key = eq ? xstrndup(opt, (size_t)(eq - opt)) : xstrdup(opt);
	const char *v = eq ? eq + 1 : NULL;

	if (streq(key, "no-new-privileges")) {
		int b = v ? nib_parse_bool(v) : 1;
		if (b < 0)
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "--security-opt %s: '%s' is not a boolean", opt, v);
		s->no_new_privs = b;
		return 0;
	}
	if (!v) /* Docker's old "seccomp:PATH" spelling is not buildah's */
		return nib_err(
		    err, NIB_ERR_USAGE, 0,
		    "--security-opt %s: expected KEY=VALUE (seccomp=, label=, apparmor=, "
		    "mask=, unmask=) or no-new-privileges",
		    opt);
	if (streq(key, "seccomp")) {
		free(steal_pointer(&s->seccomp_profile));
		if (streq(v, "unconfined")) {
			s->seccomp = BLD_SECCOMP_UNCONFINED;
			return 0;
		}
		if (!*v)
			return nib_err(err, NIB_ERR_USAGE, 0, "--security-opt %s: no profile", opt);
		/* read and compiled now: a bad profile is a usage error */
		struct bld_seccomp_bpf bpf = {0};
		if (bld_seccomp_profile_compile(v, 0, &bpf, err) < 0) {
			err->kind = NIB_ERR_USAGE; /* a missing file too: exit 2 */
			return nib_err_wrap(err, "--security-opt");
		}
		free((void *)bpf.insns);
		s->seccomp = BLD_SECCOMP_PROFILE;
		s->seccomp_profile = xstrdup(v);
		return 0;
	}
	if (streq(key, "label"))
		return label_opt(s, opt, v, err);
	if (streq(key, "apparmor")) {
		if (streq(v, "unconfined"))
			return 0; /* what nib does: it loads no AppArmor profile */
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--security-opt %s: refused: nib loads no AppArmor profile (RUN "
			       "steps run under the caller's own; apparmor=unconfined is accepted)",
			       opt);
	}
	if (streq(key, "mask"))
		return paths_opt(&s->mask, opt, v, false, err);
	if (streq(key, "unmask"))
		return paths_opt(&s->unmask, opt, v, true, err);
	return nib_err(err, NIB_ERR_USAGE, 0,
		       "--security-opt %s: unknown option (nib knows seccomp=, label=, apparmor=, "
		       "mask=, unmask= and no-new-privileges)",
		       opt);
}

/* ---- --ulimit, --shm-size, --device ----------------------------------- */

static const struct {
	const char *name;
	int resource;
} ulimit_names[] = {
    {"core", RLIMIT_CORE},	   {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},	   {"fsize", RLIMIT_FSIZE},
    {"locks", RLIMIT_LOCKS},	   {"memlock", RLIMIT_MEMLOCK},
    {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},	   {"nproc", RLIMIT_NPROC},
    {"rss", RLIMIT_RSS},	   {"rtprio", RLIMIT_RTPRIO},
    {"rttime", RLIMIT_RTTIME},	   {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

static int ulimit_value(const char *s, uint64_t *v)
{
	if (streq(s, "-1") || streq(s, "unlimited")) {
		*v = RLIM_INFINITY;
		return 0;
	}
	return *s == '-' || nib_parse_u64(s, v) < 0 ? -1 : 0;
}

int bld_ulimit_opt(struct bld_security *s, const char *opt, struct nib_error *err)
{
	const char *eq = strchr(opt, '=');
	_cleanup_free_ char *name = eq ? xstrndup(opt, (size_t)(eq - opt)) : NULL;
	_cleanup_free_ char *soft = NULL;
	const char *colon;
	struct bld_ulimit u = {.resource = -1};

	for (size_t i = 0; name && i < ARRAY_SIZE(ulimit_names); i++)
		if (streq(name, ulimit_names[i].name))
			u.resource = ulimit_names[i].resource;
	if (!eq || u.resource < 0)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--ulimit %s: expected NAME=SOFT[:HARD] with NAME one of core, cpu, "
			       "data, fsize, locks, memlock, msgqueue, nice, nofile, nproc, rss, "
			       "rtprio, rttime, sigpending, stack",
			       opt);
	colon = strchr(eq + 1, ':');
	soft = colon ? xstrndup(eq + 1, (size_t)(colon - eq - 1)) : xstrdup(eq + 1);
	if (ulimit_value(soft, &u.soft) < 0 || (colon && ulimit_value(colon + 1, &u.hard) < 0))
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--ulimit %s: a limit is a number, -1 or unlimited", opt);
	if (!colon)
		u.hard = u.soft;
	if (u.soft > u.hard)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--ulimit %s: the soft limit is above the hard limit", opt);
	for (size_t i = 0; i < s->n_ulimits; i++)
		if (s->ulimits[i].resource == u.resource) {
			s->ulimits[i] = u; /* the last one given holds */
			return 0;
		}
	if (s->n_ulimits == BLD_ULIMITS_MAX)
		return nib_err(err, NIB_ERR_USAGE, 0, "--ulimit %s: too many limits", opt);
	s->ulimits[s->n_ulimits++] = u;
	return 0;
}

int bld_shm_size_opt(struct bld_security *s, const char *opt, struct nib_error *err)
{
	struct bld_limits l = {0};

	/* the same sizes as --memory: 64m, 1g, bytes */
	if (bld_limits_parse("--memory", opt, &l, err) < 0 || l.memory == 0) {
		nib_err_clear(err);
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--shm-size %s: expected a size above 0 such as 64m or 1g", opt);
	}
	if (l.memory < 4096)
		return nib_err(err, NIB_ERR_USAGE, 0, "--shm-size %s: below one page (4k)", opt);
	s->shm_size = l.memory;
	return 0;
}

int bld_device_opt(struct bld_security *s, const char *opt, struct nib_error *err)
{
	_cleanup_free_ char *copy = xstrdup(opt);
	char *parts[3] = {NULL, NULL, NULL}, *save = NULL;
	size_t n = 0;
	const char *perms = "rwm";
	struct stat st;

	for (char *t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
		if (n == 3)
			goto bad;
		parts[n++] = t;
	}
	if (n == 0 || parts[0][0] != '/')
		goto bad;
	/* HOST:PERMS or HOST:CONTAINER[:PERMS] */
	if (n == 2 && parts[1][0] != '/') {
		perms = parts[1];
		parts[1] = NULL;
	} else if (n == 3) {
		perms = parts[2];
	}
	if (!*perms || strspn(perms, "rwm") != strlen(perms) || strlen(perms) > 3 ||
	    (parts[1] && parts[1][0] != '/'))
		goto bad;
	if (stat(parts[0], &st) < 0)
		return nib_err(err, NIB_ERR_USAGE, errno, "--device %s: %s", opt, parts[0]);
	if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "--device %s: %s is not a device node (folders of devices are not "
			       "supported)",
			       opt, parts[0]);
	/* the bind gives what this user may open, nothing more */
	if (access(parts[0], strchr(perms, 'w') ? R_OK | W_OK : R_OK) < 0)
		return nib_err(err, NIB_ERR_USAGE, errno,
			       "--device %s: %s: this user cannot open it%s", opt, parts[0],
			       strchr(perms, 'w') ? " for reading and writing" : "");
	s->devices = xrealloc(s->devices, (s->n_devices + 1) * sizeof(*s->devices));
	struct bld_device *d = &s->devices[s->n_devices++];
	*d = (struct bld_device){.host = xstrdup(parts[0]),
				 .container = xstrdup(parts[1] ? parts[1] : parts[0])};
	snprintf(d->perms, sizeof(d->perms), "%s", perms);
	return 0;
bad:
	return nib_err(err, NIB_ERR_USAGE, 0,
		       "--device %s: expected HOST[:CONTAINER][:PERMS] (absolute paths, PERMS of "
		       "r, w, m)",
		       opt);
}

/* ---- SELinux ------------------------------------------------------------ */

/* The context after "key =" in lxc_contexts, quotes removed. */
static char *lxc_context(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, key, kl) == 0 && (p[kl] == ' ' || p[kl] == '\t' || p[kl] == '=')) {
			const char *q = p + kl;
			while (*q == ' ' || *q == '\t' || *q == '=' || *q == '"')
				q++;
			return xstrndup(q, strcspn(q, "\"\n"));
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static const char *either(const char *a, const char *b)
{
	return a ? a : b ? b : "";
}

/* "user:role:type[:level]" with the label= parts of `s` put in and the
 * level replaced by `level`. */
static char *context_with(const char *base, const char *user, const char *role, const char *type,
			  const char *level)
{
	_cleanup_free_ char *c = xstrdup(base);
	char *parts[3] = {c, NULL, NULL};

	for (int i = 1; i < 3; i++) {
		char *colon = parts[i - 1] ? strchr(parts[i - 1], ':') : NULL;
		if (colon) {
			*colon = '\0';
			parts[i] = colon + 1;
		}
	}
	if (parts[2]) {
		char *colon = strchr(parts[2], ':');
		if (colon)
			*colon = '\0'; /* the policy's level: replaced */
	}
	return xasprintf("%s:%s:%s:%s", either(user, parts[0]), either(role, parts[1]),
			 either(type, parts[2]), level);
}

void bld_selinux_compute(const struct bld_security *s, const char *lxc_contexts, unsigned c1,
			 unsigned c2, char **exec_label, char **file_label)
{
	_cleanup_free_ char *proc = lxc_contexts ? lxc_context(lxc_contexts, "process") : NULL;
	_cleanup_free_ char *file = lxc_contexts ? lxc_context(lxc_contexts, "file") : NULL;
	_cleanup_free_ char *mcs = xasprintf("s0:c%u,c%u", c1, c2);
	const char *level = s && s->label_level ? s->label_level : mcs;

	*exec_label = *file_label = NULL;
	if (s && s->label_disable)
		return;
	*exec_label =
	    context_with(proc ? proc : "system_u:system_r:container_t", s ? s->label_user : NULL,
			 s ? s->label_role : NULL, s ? s->label_type : NULL, level);
	/* the file label takes the user and the level; its type is filetype: */
	*file_label =
	    context_with(file ? file : "system_u:object_r:container_file_t",
			 s ? s->label_user : NULL, NULL, s ? s->label_filetype : NULL, level);
}

void bld_selinux_mcs(unsigned *c1, unsigned *c2)
{
	static unsigned pair[2];

	while (pair[0] == pair[1]) {
		unsigned r[2] = {0, 0};
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r[0] = (unsigned)getpid(), r[1] = (unsigned)time(NULL);
		pair[0] = MIN(r[0] % 1024, r[1] % 1024);
		pair[1] = MAX(r[0] % 1024, r[1] % 1024);
	}
	*c1 = pair[0];
	*c2 = pair[1];
}

/* A copy of the label= options of this process's build, for the relabel
 * of volumes (kept by bld_selinux_labels; the caller's may be gone). */
static struct bld_security proc_labels;

void bld_selinux_use(const struct bld_security *s)
{
	char **mine[] = {&proc_labels.label_user, &proc_labels.label_role, &proc_labels.label_type,
			 &proc_labels.label_level, &proc_labels.label_filetype};
	char *const theirs[] = {s->label_user, s->label_role, s->label_type, s->label_level,
				s->label_filetype};

	for (size_t i = 0; i < ARRAY_SIZE(mine); i++) {
		free(*mine[i]);
		*mine[i] = theirs[i] ? xstrdup(theirs[i]) : NULL;
	}
	proc_labels.label_disable = s->label_disable;
}

void bld_selinux_labels(const struct bld_security *s, char **exec_label, char **mount_label)
{
	_cleanup_free_ char *text = NULL;
	unsigned c1, c2;

	if (s)
		bld_selinux_use(s);
	*exec_label = *mount_label = NULL;
	if (is_selinux_enabled() <= 0)
		return;
	nib_read_file_at(AT_FDCWD, selinux_lxc_contexts_path(), 1 << 16, &text, NULL, NULL);
	bld_selinux_mcs(&c1, &c2);
	bld_selinux_compute(s, text, c1, c2, exec_label, mount_label);
}

char *bld_selinux_file_label(const struct bld_security *s)
{
	char *exec = NULL, *file = NULL;

	bld_selinux_labels(s, &exec, &file);
	free(exec);
	return file;
}

/* nftw's callback has no context: the label, and the path that failed */
static const char *relabel_label;
static char *relabel_failed;

static int relabel_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	if (lsetfilecon(path, relabel_label) < 0 && errno != ENOTSUP) {
		int e = errno ? errno : EIO;
		free(relabel_failed);
		relabel_failed = xstrdup(path);
		return e;
	}
	return 0;
}

int bld_selinux_relabel(const char *path, bool shared, struct nib_error *err)
{
	/* podman's list of folders never to relabel (a whole system's labels) */
	static const char *const refused[] = {
	    "/",     "/bin", "/boot",  "/dev",	 "/etc", "/etc/passwd", "/etc/pki", "/etc/shadow",
	    "/home", "/lib", "/lib64", "/media", "/opt", "/proc",	"/root",    "/run",
	    "/sbin", "/srv", "/sys",   "/tmp",	 "/usr", "/var",	"/var/lib", "/var/log",
	};
	_cleanup_free_ char *real = realpath(path, NULL), *exec = NULL, *file = NULL;
	const char *home = getenv("HOME");
	unsigned c1, c2;
	int r;

	if (!real)
		return nib_err(err, NIB_ERR_NOT_FOUND, errno, "%s", path);
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
		if (streq(real, refused[i]))
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "%s: refused to relabel a system folder for SELinux (:z/:Z)",
				       path);
	if (home && streq(real, home))
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "%s: refused to relabel the home folder for SELinux (:z/:Z)", path);
	if (is_selinux_enabled() <= 0 || proc_labels.label_disable)
		return 0;
	_cleanup_free_ char *text = NULL;
	nib_read_file_at(AT_FDCWD, selinux_lxc_contexts_path(), 1 << 16, &text, NULL, NULL);
	bld_selinux_mcs(&c1, &c2);
	bld_selinux_compute(&proc_labels, text, c1, c2, &exec, &file);
	if (shared) { /* :z: every container may use it */
		char *level = strstr(file, ":s0");
		if (level)
			level[3] = '\0';
	}
	relabel_label = file;
	r = nftw(real, relabel_one, 64, FTW_PHYS | FTW_MOUNT);
	if (r != 0) {
		r = nib_err(err, NIB_ERR_IO, r > 0 ? r : errno, "relabel %s for SELinux: %s: %s",
			    path, relabel_failed ? relabel_failed : real, file);
		free(steal_pointer(&relabel_failed));
		return r;
	}
	return 0;
}

/* ---- what the runtime applies ------------------------------------------- */

/* The profile compiled for `caps` into `out` (a copy): compiled once per
 * profile and capability set in a process (libseccomp takes tens of
 * milliseconds; a build's RUN steps share them). */
static int profile_for(const char *path, uint64_t caps, struct bld_seccomp_bpf *out,
		       struct nib_error *err)
{
	static char *last_path;
	static uint64_t last_caps;
	static struct bld_seccomp_bpf last;

	if (!last_path || !streq(last_path, path) || last_caps != caps) {
		free((void *)last.insns);
		last = (struct bld_seccomp_bpf){0};
		free(steal_pointer(&last_path));
		if (bld_seccomp_profile_compile(path, caps, &last, err) < 0)
			return nib_err_wrap(err, "--security-opt seccomp=%s", path);
		last_path = xstrdup(path);
		last_caps = caps;
	}
	*out = (struct bld_seccomp_bpf){
	    .insns = xmemdup(last.insns, last.len * sizeof(struct sock_filter)), .len = last.len};
	return 0;
}

int bld_rt_security(struct bld_rt *rt, struct nib_error *err)
{
	const struct bld_run_spec *spec = rt->spec;
	const struct bld_security *s = spec->security;

	rt->confine = true;
	if (bld_caps_mask(spec->cap_add, spec->cap_drop, &rt->caps, err) < 0)
		return -1;
	if (!s)
		return 0;
	if (s->insecure) { /* every capability of the step's user namespace */
		int last = (int)cap_max_bits();
		rt->caps = last >= 64 ? ~0ULL : (1ULL << last) - 1;
	}
	if (s->insecure || s->seccomp != BLD_SECCOMP_DEFAULT) {
		rt->confine = false;
		/* the ID map may still fall back to a single UID: both */
		if (bld_seccomp_compile_emulation(true, &rt->emulation, err) < 0 ||
		    bld_seccomp_compile_emulation(false, &rt->emulation_ids, err) < 0)
			return -1;
	}
	if (!s->insecure && s->seccomp == BLD_SECCOMP_PROFILE)
		return profile_for(s->seccomp_profile, rt->caps, &rt->profile, err);
	return 0;
}

void bld_rt_security_free(struct bld_rt *rt)
{
	free((void *)rt->emulation.insns);
	free((void *)rt->profile.insns);
	free((void *)rt->emulation_ids.insns);
	rt->emulation = rt->profile = rt->emulation_ids = (struct bld_seccomp_bpf){0};
}

int bld_ulimits_apply(const struct bld_security *s, char *why, size_t n)
{
	for (size_t i = 0; s && i < s->n_ulimits; i++) {
		const struct bld_ulimit *u = &s->ulimits[i];
		struct rlimit rl = {.rlim_cur = u->soft, .rlim_max = u->hard};
		const char *name = "?";

		if (setrlimit(u->resource, &rl) == 0)
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(ulimit_names); k++)
			if (ulimit_names[k].resource == u->resource)
				name = ulimit_names[k].name;
		snprintf(why, n, "--ulimit %s: %s%s", name, strerror(errno),
			 errno == EPERM ? " (above the hard limit nib was given: raising it needs "
					  "CAP_SYS_RESOURCE outside any user namespace)"
					: "");
		return -1;
	}
	return 0;
}
