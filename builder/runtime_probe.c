/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What this environment allows, probed by trying it (nib info): user
 * namespaces, subuid ranges and a working newuidmap, setgroups, a fresh
 * /proc and sysfs, kernel overlay with userxattr under the storage root,
 * /dev/fuse and fuse-overlayfs, /dev/net/tun, SELinux, seccomp; and the
 * mode nib will choose for each rung of DESIGN.md's environment ladder.
 */
#define BLD_RUNTIME_INTERNAL 1
#include <fcntl.h>
#include <sched.h>
#include <selinux/selinux.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "builder/runtime_internal.h"
#include "storage/storage.h"

#define OVERLAYFS_MAGIC 0x794c7630

static struct bld_probe_item *item(struct bld_probe *p, const char *key, const char *label, bool ok)
{
	struct bld_probe_item *it = &p->items[p->n++];
	it->key = key;
	it->label = label;
	it->ok = ok;
	return it;
}

static long read_long(const char *path)
{
	_cleanup_free_ char *s = NULL;
	if (nib_read_file_at(AT_FDCWD, path, 256, &s, NULL, NULL) < 0)
		return -1;
	return strtol(s, NULL, 10);
}

static char *status_field(const char *name)
{
	_cleanup_free_ char *st = NULL;
	_cleanup_free_ char *key = xasprintf("\n%s:", name);
	const char *p;
	if (nib_read_file_at(AT_FDCWD, "/proc/self/status", 1 << 16, &st, NULL, NULL) < 0)
		return NULL;
	p = strstr(st, key);
	if (!p)
		return NULL;
	p += strlen(key);
	while (*p == ' ' || *p == '\t')
		p++;
	return xstrndup(p, strcspn(p, "\n"));
}

static bool in_path(const char *name)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	char *save = NULL;
	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *f = nib_path_join(d, name);
		if (access(f, X_OK) == 0)
			return true;
	}
	return false;
}

/* Results of the namespace probe (exit status bits of the probe child). */
enum {
	P_USERNS = 1,
	P_PROC = 2,
	P_SYSFS = 4,
	P_OVERLAY = 8,
	P_NETNS = 16,
};

struct ns_probe {
	int bits;
	int proc_errno, overlay_errno, userns_errno;
};

static int write_file(const char *path, const char *s)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	return fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
}

/* In a child: new user (single UID), mount, pid and network namespaces;
 * try a fresh /proc, a fresh sysfs and an overlay with userxattr in
 * `ovl_dir`. Errors travel back through a pipe. */
static void probe_namespaces(const char *ovl_dir, struct ns_probe *r)
{
	int pfd[2];
	pid_t pid;
	int status;

	memset(r, 0, sizeof(*r));
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		uid_t uid = geteuid();
		gid_t gid = getegid();
		char map[64];
		int errs[3] = {0, 0, 0}, bits = 0;
		pid_t inner;

		close(pfd[0]);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) < 0) {
			errs[2] = errno;
			(void)!write(pfd[1], errs, sizeof(errs));
			_exit(0);
		}
		bits |= P_USERNS;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		write_file("/proc/self/setgroups", "deny");
		write_file("/proc/self/uid_map", map);
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		write_file("/proc/self/gid_map", map);
		if (unshare(CLONE_NEWNET) == 0)
			bits |= P_NETNS;
		inner = fork();
		if (inner == 0) {
			/* pid 1 of the new pid namespace */
			mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
			if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
				  NULL) == 0)
				bits |= P_PROC;
			else
				errs[0] = errno;
			if ((bits & P_NETNS) && mount("sysfs", "/sys", "sysfs",
						      MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) == 0)
				bits |= P_SYSFS;
			if (ovl_dir) {
				_cleanup_free_ char *opts =
				    xasprintf("lowerdir=%s/l,upperdir=%s/u,workdir=%s/w,userxattr",
					      ovl_dir, ovl_dir, ovl_dir);
				_cleanup_free_ char *m = xasprintf("%s/m", ovl_dir);
				if (mount("overlay", m, "overlay", 0, opts) == 0)
					bits |= P_OVERLAY;
				else
					errs[1] = errno;
			}
			(void)!write(pfd[1], errs, sizeof(errs));
			_exit(bits);
		}
		if (inner < 0 || waitpid(inner, &status, 0) < 0 || !WIFEXITED(status))
			_exit(bits);
		_exit(WEXITSTATUS(status) | bits);
	}
	close(pfd[1]);
	if (pid < 0) {
		close(pfd[0]);
		return;
	}
	{
		int errs[3] = {0, 0, 0};
		if (read(pfd[0], errs, sizeof(errs)) == (ssize_t)sizeof(errs)) {
			r->proc_errno = errs[0];
			r->overlay_errno = errs[1];
			r->userns_errno = errs[2];
		}
	}
	close(pfd[0]);
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		r->bits = WEXITSTATUS(status);
}

/* The storage root, or its nearest existing ancestor (same file system). */
static char *existing_ancestor(const char *root)
{
	_cleanup_free_ char *p = nib_path_clean(root);
	struct stat st;
	for (;;) {
		char *slash;
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
			return steal_pointer(&p);
		slash = strrchr(p, '/');
		if (!slash || slash == p)
			return xstrdup("/");
		*slash = '\0';
	}
}

static void probe_userns(struct bld_probe *p, const struct ns_probe *ns)
{
	long max = read_long("/proc/sys/user/max_user_namespaces");
	long clone = read_long("/proc/sys/kernel/unprivileged_userns_clone");
	long apparmor = read_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
	struct bld_probe_item *it =
	    item(p, "user_namespaces", "user namespaces", (ns->bits & P_USERNS) != 0);

	if (it->ok) {
		it->detail = xasprintf("allowed (max_user_namespaces=%ld)", max);
		return;
	}
	{
		struct nib_error why = {0};
		bld_userns_probe(&why);
		it->detail = xasprintf("refused: %s (max_user_namespaces=%ld)",
				       why.msg ? why.msg : strerror(ns->userns_errno), max);
		nib_err_clear(&why);
	}
	if (max == 0)
		it->advice = xstrdup("set sysctl user.max_user_namespaces=15000 (it is 0)");
	else if (clone == 0)
		it->advice = xstrdup("set sysctl kernel.unprivileged_userns_clone=1");
	else if (apparmor == 1)
		it->advice =
		    xstrdup("AppArmor restricts unprivileged user namespaces: set sysctl "
			    "kernel.apparmor_restrict_unprivileged_userns=0 or give nib an "
			    "AppArmor profile with 'userns,'");
	else
		it->advice = xstrdup("builds without RUN work as they are; for RUN give the pod "
				     "nib's Localhost seccomp profile (deploy/seccomp/nib.json), "
				     "hostUsers: false, or Unconfined");
}

/* The RUN path's real sequence (namespaces, ID map, mounts, pivot_root,
 * host name, capabilities, seccomp) over an empty folder in `base`, up to
 * the exec. */
static void probe_run(struct bld_probe *p, const char *base)
{
	_cleanup_free_ char *dir = nib_path_join(base, ".nib-run-probe-XXXXXX");
	struct bld_probe_item *it;
	struct bld_run_spec spec;
	struct bld_run_result res;
	struct nib_error e = {0};
	char *const argv[] = {"/bin/true", NULL};
	int null_fd;

	if (!mkdtemp(dir) &&
	    (free(dir), dir = xstrdup("/tmp/.nib-run-probe-XXXXXX"), !mkdtemp(dir))) {
		it = item(p, "run", "RUN", false);
		it->detail = xasprintf("not tried: no folder for a probe (%s)", strerror(errno));
		return;
	}
	bld_run_spec_init(&spec);
	spec.rootfs = dir;
	spec.argv = argv;
	spec.dry_run = true;
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	spec.stdout_fd = spec.stderr_fd = null_fd;
	if (bld_runtime_run(&spec, &res, &e) == 0 && res.exit_code == 0 && !res.signal) {
		it = item(p, "run", "RUN", true);
		if (bld_userns_probe(NULL) < 0)
			it->detail = xasprintf(
			    "works through the ptrace isolation (no user namespace; ID map %s): "
			    "not a security boundary, a traced step can race its own paths; the "
			    "pod is the boundary",
			    bld_idmap_name(res.idmap));
		else
			it->detail = xasprintf("works (ID map %s)", bld_idmap_name(res.idmap));
	} else {
		struct nib_error why = {0};
		it = item(p, "run", "RUN", false);
		if (res.idmap == BLD_IDMAP_NONE || bld_userns_probe(&why) < 0) {
			/* the cause and the ways out are the user namespace's */
			it->detail = xstrdup("refused: no user namespace (see user namespaces)");
			it->advice =
			    xstrdup("builds without RUN work as they are; for RUN give the "
				    "pod nib's Localhost seccomp profile "
				    "(deploy/seccomp/nib.json), hostUsers: false, or "
				    "Unconfined");
		} else {
			it->detail = xasprintf("refused: %s", e.msg ? e.msg : "the probe failed");
			it->advice = xstrdup("builds without RUN still work; the call named is "
					     "refused by this environment");
		}
		nib_err_clear(&why);
	}
	if (null_fd >= 0)
		close(null_fd);
	bld_run_result_free(&res);
	nib_err_clear(&e);
	nib_rm_rf_at(AT_FDCWD, dir, NULL);
}

/* Whether a subuid range works for this user (the build's ID map is then
 * not a single UID). */
static bool probe_subuid(struct bld_probe *p)
{
	struct bld_idmap_ctx ctx = {.uid = geteuid(), .gid = getegid()};
	struct nib_error e = {0};
	_cleanup_free_ char *ranges = bld_idmap_subuid_describe();
	const struct bld_idmap_backend *b = bld_idmap_backend_get(BLD_IDMAP_SUBUID);
	struct bld_probe_item *it;
	bool ok = b->probe(&ctx, &e) == 0;

	if (ok) {
		/* try it for real on a child in a new user namespace */
		int sv[2];
		pid_t pid;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
			pid = fork();
			if (pid == 0) {
				char c = unshare(CLONE_NEWUSER) == 0 ? 'u' : 'x';
				close(sv[0]);
				(void)!write(sv[1], &c, 1);
				(void)!read(sv[1], &c, 1);
				_exit(0);
			}
			close(sv[1]);
			if (pid > 0) {
				char c = 0;
				(void)!read(sv[0], &c, 1);
				ok = c == 'u' && b->apply(&ctx, pid, &e) == 0;
				(void)!write(sv[0], "x", 1);
				waitpid(pid, NULL, 0);
			}
			close(sv[0]);
		}
	}
	it = item(p, "subuid", "subuid ranges", ok);
	if (ok) {
		it->detail = xasprintf("%s; newuidmap works", ranges ? ranges : "?");
	} else {
		it->detail = xasprintf("%s%s%s", ranges ? ranges : "none", e.msg ? ": " : "",
				       e.msg ? e.msg : "");
		_cleanup_free_ char *nnp = status_field("NoNewPrivs");
		if (geteuid() == 0)
			it->advice = xstrdup("nothing to do as root (the host map is used)");
		else if (nnp && streq(nnp, "1"))
			it->advice = xstrdup("nothing to do in a restricted pod: nib keeps owners "
					     "with a single UID and ownership records");
		else
			it->advice =
			    xasprintf("for a full ID range, add '%s:100000:65536' to "
				      "/etc/subuid and /etc/subgid (usermod --add-subuids "
				      "100000-165535 --add-subgids 100000-165535 USER) and "
				      "install newuidmap (Debian package uidmap)",
				      "USER");
	}
	nib_err_clear(&e);
	return ok;
}

void bld_runtime_probe(const char *root, struct bld_probe *p)
{
	struct ns_probe ns;
	_cleanup_free_ char *base = NULL, *ovl = NULL, *nnp = NULL, *seccomp = NULL;
	_cleanup_free_ char *setgroups = NULL, *why = NULL;
	struct bld_idmap_ctx ctx;
	struct nib_error e = {0};
	struct statfs sfs;
	struct bld_probe_item *it;
	bool root_on_overlay = false, fuse_dev, fuse_bin, single;
	int fd, err_fuse;

	memset(p, 0, sizeof(*p));
	p->storage_root = root && *root ? xstrdup(root) : stg_root_default();
	base = existing_ancestor(p->storage_root);
	if (statfs(base, &sfs) == 0 && sfs.f_type == OVERLAYFS_MAGIC)
		root_on_overlay = true;
	ovl = nib_path_join(base, ".nib-probe-XXXXXX");
	if (!mkdtemp(ovl)) {
		free(ovl);
		ovl = NULL;
	} else {
		static const char *const sub[] = {"l", "u", "w", "m"};
		for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
			_cleanup_free_ char *d = nib_path_join(ovl, sub[i]);
			mkdir(d, 0755);
		}
	}
	probe_namespaces(ovl, &ns);
	if (ovl)
		nib_rm_rf_at(AT_FDCWD, ovl, NULL);

	probe_userns(p, &ns);
	probe_run(p, base);
	single = !probe_subuid(p) && geteuid() != 0;

	nib_read_file_at(AT_FDCWD, "/proc/self/setgroups", 64, &setgroups, NULL, NULL);
	if (setgroups)
		setgroups[strcspn(setgroups, "\n")] = '\0';
	it = item(p, "setgroups", "setgroups", true);
	it->detail = xasprintf("%s here; nib denies it inside with a single UID and never calls it",
			       setgroups ? setgroups : "unknown");

	it = item(p, "fresh_proc", "fresh /proc", (ns.bits & P_PROC) != 0);
	if (it->ok) {
		it->detail = xstrdup("mountable in a new pid namespace");
	} else {
		it->detail =
		    xasprintf("refused (%s)", (ns.bits & P_USERNS)
						  ? strerror(ns.proc_errno ? ns.proc_errno : EPERM)
						  : "no user namespace");
		it->advice = xstrdup("nib binds the outer /proc instead (a pod's masked /proc); "
				     "to get a private one, run the pod with procMount: Unmasked");
	}

	it = item(p, "fresh_sysfs", "fresh /sys", (ns.bits & P_SYSFS) != 0);
	it->detail = xstrdup(it->ok ? "mountable with a network namespace of its own"
				    : "refused: nib binds the outer /sys read-only");
	if (!it->ok)
		it->advice = xstrdup("nothing to do: the outer /sys, read-only, serves RUN");

	it = item(p, "overlay", "kernel overlay", (ns.bits & P_OVERLAY) && !root_on_overlay);
	if (root_on_overlay) {
		it->detail = xasprintf("%s is on overlayfs", base);
		it->advice = xstrdup("kernel overlay upper dirs cannot live on overlayfs: put the "
				     "storage root on a volume (e.g. an emptyDir) with --root");
	} else if (it->ok) {
		it->detail =
		    xasprintf("userxattr overlay mounts in a user namespace under %s", base);
	} else if (!(ns.bits & P_USERNS)) {
		it->detail = xstrdup("not possible without a user namespace");
		it->advice = xstrdup("nothing to do: nib copies layers (vfs) instead");
	} else {
		it->detail = xasprintf("refused under %s (%s)", base,
				       ovl ? strerror(ns.overlay_errno ? ns.overlay_errno : EPERM)
					   : "cannot create a probe folder there");
		it->advice = xstrdup(ns.overlay_errno == EINVAL || ns.overlay_errno == ENODEV
					 ? "needs Linux >= 5.11 for overlay in a user namespace; "
					   "nib falls back to fuse-overlayfs or vfs"
					 : "nib falls back to fuse-overlayfs or vfs");
	}

	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	fuse_dev = fd >= 0;
	err_fuse = errno;
	if (fd >= 0)
		close(fd);
	fuse_bin = in_path("fuse-overlayfs");
	/* fuse-overlayfs keeps user.containers.override_stat for itself: it
	 * cannot hold nib's ownership records with a single UID */
	it = item(p, "fuse", "/dev/fuse", fuse_dev && fuse_bin && !single);
	it->detail = xasprintf("%s; fuse-overlayfs %s%s",
			       fuse_dev		    ? "usable"
			       : err_fuse == ENOENT ? "missing"
						    : strerror(err_fuse),
			       fuse_bin ? "found" : "not found",
			       fuse_dev && fuse_bin && single
				   ? "; not with a single UID (it reserves the ownership records)"
				   : "");
	if (!it->ok)
		it->advice = xstrdup(
		    !fuse_dev	? "expose /dev/fuse (read-write for this user) to use "
				  "fuse-overlayfs, e.g. a device plugin in a pod"
		    : !fuse_bin ? "install fuse-overlayfs"
				: "nothing to do: overlay or vfs keep the owners; fuse-overlayfs "
				  "needs a subuid range");

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	it = item(p, "tun", "/dev/net/tun", fd >= 0);
	if (fd >= 0)
		close(fd);
	it->detail = xstrdup(it->ok ? "usable" : errno == ENOENT ? "missing" : strerror(errno));
	if (!it->ok)
		it->advice = xstrdup("nothing to do: RUN uses the host or pod network (--network "
				     "host) or none; tun is only for slirp-style private networks");

	it = item(p, "selinux", "SELinux", true);
	if (is_selinux_enabled() > 0) {
		char *con = NULL;
		getcon(&con);
		it->detail = xasprintf("enabled (%s): RUN steps get container_t with MCS "
				       "categories",
				       con ? con : "?");
		freecon(con);
	} else {
		it->detail = xstrdup("disabled: no labels");
	}

	seccomp = status_field("Seccomp");
	nnp = status_field("NoNewPrivs");
	it = item(p, "seccomp", "seccomp", bld_seccomp_notify_supported());
	it->detail = xasprintf("%s here; no_new_privs %s; user notification %s",
			       seccomp && streq(seccomp, "2")	? "filtered"
			       : seccomp && streq(seccomp, "1") ? "strict"
								: "not filtered",
			       nnp && streq(nnp, "1") ? "set" : "not set",
			       it->ok ? "supported" : "not supported");
	if (!it->ok)
		it->advice = xstrdup("single-UID ownership emulation needs Linux >= 5.0 and "
				     "libseccomp >= 2.5: chown to other IDs will fail");

	/* the choices */
	if (bld_idmap_choose(BLD_IDMAP_AUTO, &ctx, &why, &e) == 0) {
		p->idmap = ctx.mode;
		if (ctx.mode == BLD_IDMAP_HOST && bld_idmap_full(&ctx)) {
			p->idmap_why = xstrdup("real root: 0 -> 0 over the full range");
		} else if (ctx.mode == BLD_IDMAP_HOST) {
			uint64_t n = 0;
			for (size_t i = 0; i < ctx.n_uids; i++)
				n += ctx.uids[i].count;
			p->idmap_why = xasprintf("root of a user namespace with %llu IDs (a "
						 "user-namespaced pod): used as they are",
						 (unsigned long long)n);
		} else {
			p->idmap_why = steal_pointer(&why);
		}
	} else {
		p->idmap = BLD_IDMAP_NONE;
		p->idmap_why = xstrdup(e.msg);
		nib_err_clear(&e);
	}
	/* no_new_privs: only where the environment forces it */
	it = item(p, "setuid", "setuid programs in RUN", false);
	if (nnp && streq(nnp, "1")) {
		it->detail = xstrdup("cannot elevate: no_new_privs is set on nib itself (a pod's "
				     "allowPrivilegeEscalation: false, or its parent process)");
		it->advice = xstrdup("nothing nib can change: the pod or parent sets it");
	} else if (!(ns.bits & P_USERNS) && geteuid() != 0) {
		it->detail =
		    xstrdup("cannot elevate: without a user namespace the ptrace "
			    "isolation may load its seccomp filter only under no_new_privs");
		it->advice = xstrdup("a seccomp profile that allows user namespaces (nib info's "
				     "user namespaces item)");
	} else if (p->idmap == BLD_IDMAP_SINGLE) {
		it->detail = xstrdup("do not change IDs: with a single UID a RUN's users are "
				     "emulated, and a setuid program keeps the caller's");
		it->advice = xstrdup("a subordinate ID range in /etc/subuid and /etc/subgid");
	} else {
		it->ok = true;
		it->detail =
		    xstrdup("elevate as in Docker: no_new_privs is not set (--security-opt "
			    "no-new-privileges sets it)");
	}
	p->proc = (ns.bits & P_PROC) ? "fresh" : "bind";
	p->sys = (ns.bits & P_SYSFS) ? "bind (fresh with --network none)" : "bind";
	p->storage = (ns.bits & P_OVERLAY) && !root_on_overlay	    ? "overlay"
		     : fuse_dev && fuse_bin && (ns.bits & P_USERNS) ? "fuse-overlayfs"
								    : "vfs";
	p->network = "host";
}

void bld_probe_free(struct bld_probe *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->items[i].detail);
		free(p->items[i].advice);
	}
	free(p->idmap_why);
	free(p->storage_root);
	memset(p, 0, sizeof(*p));
}
