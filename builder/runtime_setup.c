/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime, container side, in the order it happens (bubblewrap-style):
 * pid 1 of the new user, mount, pid, ipc, uts (and network, cgroup)
 * namespaces waits for its ID maps, builds the mount tree over the rootfs
 * (every target resolved inside the rootfs), pivots into it, then forks the
 * command: credentials, capabilities, no_new_privs, seccomp, exec. pid 1
 * stays to reap and forward signals and reports the command's wait status.
 * Any error before exec goes to nib as one line on the sync socket.
 */
#define BLD_RUNTIME_INTERNAL 1
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/securebits.h>
#include <limits.h>
#include <net/if.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <selinux/selinux.h>
#include <signal.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "builder/runtime_internal.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* OCI runtime-spec defaults (config-linux.md: maskedPaths, readonlyPaths),
 * as containers/common uses them. */
static const char *const masked_paths[] = {
    "proc/acpi",	  "proc/asound",     "proc/kcore",	 "proc/keys",
    "proc/latency_stats", "proc/timer_list", "proc/timer_stats", "proc/sched_debug",
    "proc/scsi",	  "proc/interrupts", "sys/firmware",	 "sys/devices/virtual/powercap",
    "sys/fs/selinux",
};
static const char *const readonly_paths[] = {
    "proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger",
};
static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};

struct setup {
	struct bld_rt *rt;
	int rootfd; /* O_PATH of the rootfs bind mount */
	char err[1024];
};

_noreturn_ static void die(struct bld_rt *rt, const char *fmt, ...) _printf_(2, 3);
_noreturn_ static void die(struct bld_rt *rt, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bld_rt_send(rt->sync_fd, BLD_MSG_ERROR, msg, strlen(msg), -1);
	_exit(127);
}

static const char *fdpath(int fd, char buf[static 32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return buf;
}

/* `path` was made; `before`: its folder before that, whose times are put
 * back when it is removed (a RUN leaves its folder as it found it). */
static void created(struct setup *s, const char *path, const struct stat *before)
{
	struct bld_msg_created m = {.type = BLD_MSG_CREATED};

	if (before) {
		m.times[0] = before->st_atim;
		m.times[1] = before->st_mtim;
	} else {
		m.times[0].tv_nsec = m.times[1].tv_nsec = UTIME_OMIT;
	}
	snprintf(m.path, sizeof(m.path), "%s", path);
	bld_rt_send(s->rt->sync_fd, BLD_MSG_CREATED, &m, sizeof(m), -1);
}

static void created_report(void *arg, const char *path, const struct stat *before)
{
	created(arg, path, before);
}

/* mkdir -p `path` inside the rootfs, reporting each folder it creates;
 * returns an O_PATH fd of it, or -1 (errno set). */
static int ensure_dir(struct setup *s, const char *path)
{
	struct nib_error e = {0};
	int fd = nib_mkdir_in_root_report(s->rootfd, path, 0755, created_report, s, &e);

	if (fd < 0) {
		errno = e.errnum ? e.errnum : EIO;
		nib_err_clear(&e);
	}
	return fd;
}

/* An O_PATH fd of the file `path` inside the rootfs, created empty (and
 * reported) when missing; -1 when it cannot be a file mount target. */
static int ensure_file(struct setup *s, const char *path)
{
	_cleanup_free_ char *clean = nib_path_clean(path[0] == '/' ? path + 1 : path);
	_cleanup_close_ int dfd = -1, real = -1;
	char *slash = strrchr(clean, '/'), b[32];
	const char *name = slash ? slash + 1 : clean;
	struct stat st;
	int fd;

	fd = nib_open_in_root(s->rootfd, clean, O_PATH, 0, NULL);
	if (fd >= 0) {
		if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
			close(fd);
			errno = EISDIR;
			return -1;
		}
		return fd;
	}
	if (errno != ENOENT)
		return -1;
	if (slash)
		*slash = '\0';
	dfd = slash ? ensure_dir(s, clean) : nib_open_in_root(s->rootfd, "", O_PATH, 0, NULL);
	if (slash)
		*slash = '/';
	if (dfd < 0)
		return -1;
	/* a dangling symlink (maybe pointing out of the rootfs) is left alone */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = ELOOP;
		return -1;
	}
	real = open(fdpath(dfd, b), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (real < 0 || fstat(real, &st) < 0)
		return -1;
	fd = openat(real, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	created(s, clean, &st);
	return openat(real, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}

static void make_ro(struct setup *s, int fd, bool recursive, const char *what)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	struct statvfs sv;
	unsigned long keep = 0;
	char b[32];

	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0),
		    &attr, sizeof(attr)) == 0)
		return;
	/* kernels before 5.12: the top mount only, keeping locked flags */
	if (fstatvfs(fd, &sv) == 0) {
		if (sv.f_flag & ST_NOSUID)
			keep |= MS_NOSUID;
		if (sv.f_flag & ST_NODEV)
			keep |= MS_NODEV;
		if (sv.f_flag & ST_NOEXEC)
			keep |= MS_NOEXEC;
	}
	if (mount(NULL, fdpath(fd, b), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL) < 0)
		die(s->rt, "remount %s read-only: %s", what, strerror(errno));
}

/* Reopen `path` inside the rootfs (after a mount, to reach the new top). */
static int reopen(struct setup *s, const char *path, int flags)
{
	return nib_open_in_root(s->rootfd, path, flags, 0, NULL);
}

/*
 * A bound outer /proc shows every process of the pod or host: the shell or
 * CI agent that started nib (its command line, world-readable, and its
 * environment, readable with its UID: a single-UID step has it) and nib
 * itself. Each process that exists now is covered by an empty read-only
 * tmpfs; the step's own processes, made later, stay visible. A process the
 * pod starts while the step runs is not covered (docs/security.md).
 */
static void hide_outer_pids(struct setup *s, int procfd)
{
	char self[32], b[32];
	ssize_t n = readlinkat(procfd, "self", self, sizeof(self) - 1);
	int dfd = openat(procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	struct dirent *de;
	size_t hidden = 0;

	self[n > 0 ? n : 0] = '\0';
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		die(s->rt, "read /proc: %s", strerror(errno));
	}
	while ((de = readdir(d))) {
		if (!de->d_name[0] || strspn(de->d_name, "0123456789") != strlen(de->d_name) ||
		    streq(de->d_name, self))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", fdpath(procfd, b), de->d_name);
		if (mount("nib-hidden", p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=4k,mode=0555") < 0) {
			if (errno == ENOENT)
				continue; /* it ended meanwhile */
			die(s->rt, "hide process %s of the outer /proc: %s", de->d_name,
			    strerror(errno));
		}
		hidden++;
	}
	log_debug("the outer /proc: %zu processes hidden", hidden);
}

static void mount_proc(struct setup *s)
{
	_cleanup_close_ int fd = ensure_dir(s, "proc");
	char b[32];

	if (fd < 0)
		die(s->rt, "mount /proc: %s", strerror(errno));
	if (!s->rt->proc_bind) {
		if (mount("proc", fdpath(fd, b), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) ==
		    0)
			return;
		/* a pod's masked /proc makes the kernel refuse a fresh one (and
		 * log "Mount too revealing"): nib's later runs bind at once */
		log_info("a fresh /proc is refused (%s): binding the outer /proc", strerror(errno));
		bld_rt_send(s->rt->sync_fd, BLD_MSG_PROC_BOUND, NULL, 0, -1);
	}
	if (mount("/proc", fdpath(fd, b), NULL, MS_BIND | MS_REC, NULL) < 0)
		die(s->rt, "mount /proc: %s", strerror(errno));
	_cleanup_close_ int pfd = ensure_dir(s, "proc");
	if (pfd < 0)
		die(s->rt, "open /proc: %s", strerror(errno));
	hide_outer_pids(s, pfd);
}

/* /etc/resolv.conf, hosts, hostname: written to a tmpfs (`dir`) that the
 * /dev tmpfs covers afterwards, so that they are neither on the host's disk
 * nor visible anywhere but where they are bound. */
static void mount_etc_files(struct setup *s, int dir)
{
	static const char *const files[] = BLD_ETC_FILES;
	char b[32], src[64];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		const char *data = s->rt->etc_files[i];
		_cleanup_free_ char *dst = xasprintf("etc/%s", files[i]);
		_cleanup_close_ int fd = -1, f = -1;

		if (!data) /* the image's own */
			continue;
		fd = ensure_file(s, dst);
		if (fd < 0) {
			log_info("not mounting /%s: %s", dst, strerror(errno));
			continue;
		}
		f = openat(dir, files[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (f < 0 || nib_write_all(f, data, strlen(data)) < 0 || fchmod(f, 0644) < 0)
			die(s->rt, "write /%s: %s", dst, strerror(errno));
		snprintf(src, sizeof(src), "/proc/self/fd/%d/%s", dir, files[i]);
		if (mount(src, fdpath(fd, b), NULL, MS_BIND, NULL) < 0)
			die(s->rt, "mount /%s: %s", dst, strerror(errno));
	}
}

static void mount_dev(struct setup *s)
{
	_cleanup_close_ int fd = ensure_dir(s, "dev"), dev = -1, files = -1;
	_cleanup_free_ char *opts = NULL;
	char b[32], path[64];
	const struct bld_rt *rt = s->rt;
	const struct bld_security *sec = rt->spec->security;

	if (fd < 0)
		die(s->rt, "mount /dev: %s", strerror(errno));
	opts = rt->selinux_mount
		   ? xasprintf("mode=755,size=65536k,context=\"%s\"", rt->selinux_mount)
		   : xstrdup("mode=755,size=65536k");
	/* the generated /etc files first, on a tmpfs the /dev tmpfs covers */
	if (mount("tmpfs", fdpath(fd, b), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0 &&
	    (!rt->selinux_mount || mount("tmpfs", fdpath(fd, b), "tmpfs",
					 MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0))
		die(s->rt, "mount a tmpfs on /dev: %s", strerror(errno));
	files = reopen(s, "dev", O_RDONLY | O_DIRECTORY);
	if (files < 0)
		die(s->rt, "open /dev: %s", strerror(errno));
	mount_etc_files(s, files);
	if (mount("tmpfs", fdpath(fd, b), "tmpfs", MS_NOSUID | MS_STRICTATIME, opts) < 0 &&
	    (!rt->selinux_mount || mount("tmpfs", fdpath(fd, b), "tmpfs",
					 MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") < 0))
		die(s->rt, "mount /dev: %s", strerror(errno));
	dev = reopen(s, "dev", O_RDONLY | O_DIRECTORY);
	if (dev < 0)
		die(s->rt, "open /dev: %s", strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		char src[64];
		int f;
		snprintf(src, sizeof(src), "/dev/%s", dev_nodes[i]);
		if (access(src, F_OK) < 0)
			continue;
		f = openat(dev, dev_nodes[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (f < 0)
			die(s->rt, "create /dev/%s: %s", dev_nodes[i], strerror(errno));
		close(f);
		snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", dev, dev_nodes[i]);
		if (mount(src, path, NULL, MS_BIND, NULL) < 0)
			die(s->rt, "mount /dev/%s: %s", dev_nodes[i], strerror(errno));
	}
	if (mkdirat(dev, "pts", 0755) == 0) {
		/* gid=5 (tty) only when that group is mapped */
		const char *o = bld_idmap_gid_mapped(&rt->idmap, 5)
				    ? "newinstance,ptmxmode=0666,mode=0620,gid=5"
				    : "newinstance,ptmxmode=0666,mode=0620";
		snprintf(path, sizeof(path), "/proc/self/fd/%d/pts", dev);
		if (mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, o) < 0)
			die(s->rt, "mount /dev/pts: %s", strerror(errno));
		symlinkat("pts/ptmx", dev, "ptmx");
	}
	if (mkdirat(dev, "shm", 01777) == 0) {
		/* --shm-size, else 64 MiB as Docker and buildah */
		unsigned long long size = sec && sec->shm_size ? sec->shm_size : 64ULL << 20;
		_cleanup_free_ char *plain = xasprintf("mode=1777,size=%llu", size);
		_cleanup_free_ char *so =
		    rt->selinux_mount ? xasprintf("%s,context=\"%s\"", plain, rt->selinux_mount)
				      : xstrdup(plain);
		snprintf(path, sizeof(path), "/proc/self/fd/%d/shm", dev);
		if (mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, so) < 0 &&
		    (!rt->selinux_mount ||
		     mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, plain) < 0))
			die(s->rt, "mount /dev/shm: %s", strerror(errno));
	}
	if (mkdirat(dev, "mqueue", 0755) == 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d/mqueue", dev);
		if (mount("mqueue", path, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			log_debug("mount /dev/mqueue: %s", strerror(errno));
	}
	symlinkat("/proc/self/fd", dev, "fd");
	symlinkat("/proc/self/fd/0", dev, "stdin");
	symlinkat("/proc/self/fd/1", dev, "stdout");
	symlinkat("/proc/self/fd/2", dev, "stderr");
}

static void mount_sys(struct setup *s)
{
	_cleanup_close_ int fd = ensure_dir(s, "sys"), top = -1;
	char b[32];

	if (fd < 0)
		die(s->rt, "mount /sys: %s", strerror(errno));
	/* sysfs needs a network namespace of one's own */
	if (s->rt->netns && mount("sysfs", fdpath(fd, b), "sysfs",
				  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0)
		return;
	if (mount("/sys", fdpath(fd, b), NULL, MS_BIND | MS_REC, NULL) < 0)
		die(s->rt, "mount /sys: %s", strerror(errno));
	top = reopen(s, "sys", O_PATH | O_DIRECTORY);
	if (top < 0)
		die(s->rt, "open /sys: %s", strerror(errno));
	make_ro(s, top, true, "/sys");
}

/* --device: the host's node bound over a file of the rootfs (in the /dev
 * tmpfs for /dev paths). Its permissions are the node's own: without a
 * device cgroup (rootless buildah and podman have none either) PERMS is
 * not enforced, and a read-only mount would not stop writes to a device. */
static void mount_devices(struct setup *s)
{
	const struct bld_security *sec = s->rt->spec->security;
	char b[32];

	for (size_t i = 0; sec && i < sec->n_devices; i++) {
		const struct bld_device *d = &sec->devices[i];
		_cleanup_close_ int fd = ensure_file(s, d->container);

		if (fd < 0)
			die(s->rt, "--device %s: %s", d->container, strerror(errno));
		if (mount(d->host, fdpath(fd, b), NULL, MS_BIND, NULL) < 0)
			die(s->rt, "--device %s: bind %s: %s", d->container, d->host,
			    strerror(errno));
	}
}

/* Whether --security-opt unmask= names `path` (or ALL). */
static bool unmasked(const struct bld_security *sec, const char *path)
{
	for (size_t i = 0; sec && i < sec->unmask.len; i++)
		if (streq(sec->unmask.v[i], "ALL") || streq(sec->unmask.v[i] + 1, path))
			return true;
	return false;
}

static void mask_one(struct setup *s, const char *path)
{
	_cleanup_close_ int fd = reopen(s, path, O_PATH | O_NOFOLLOW);
	struct stat st;
	char b[32];
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode))
		r = mount("tmpfs", fdpath(fd, b), "tmpfs",
			  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555");
	else
		r = mount("/dev/null", fdpath(fd, b), NULL, MS_BIND, NULL);
	if (r < 0)
		die(s->rt, "mask /%s: %s", path, strerror(errno));
}

static void mask_paths(struct setup *s)
{
	const struct bld_security *sec = s->rt->spec->security;
	char b[32];

	for (size_t i = 0; i < ARRAY_SIZE(masked_paths); i++)
		if (!unmasked(sec, masked_paths[i]))
			mask_one(s, masked_paths[i]);
	for (size_t i = 0; sec && i < sec->mask.len; i++)
		mask_one(s, sec->mask.v[i] + 1);
	for (size_t i = 0; i < ARRAY_SIZE(readonly_paths); i++) {
		_cleanup_close_ int fd = reopen(s, readonly_paths[i], O_PATH | O_NOFOLLOW),
				    top = -1;
		if (fd < 0 || unmasked(sec, readonly_paths[i]))
			continue;
		if (mount(fdpath(fd, b), fdpath(fd, b), NULL, MS_BIND | MS_REC, NULL) < 0)
			die(s->rt, "mount /%s read-only: %s", readonly_paths[i], strerror(errno));
		top = reopen(s, readonly_paths[i], O_PATH | O_NOFOLLOW);
		if (top < 0)
			die(s->rt, "open /%s: %s", readonly_paths[i], strerror(errno));
		make_ro(s, top, true, readonly_paths[i]);
	}
}

/* A data mount's file: a private tmpfs on the empty folder `m->src` (in
 * this mount namespace only, so it goes with the namespace however nib
 * ends), the content written there; returns the file's path. */
static char *data_file(struct setup *s, const struct bld_mount *m)
{
	_cleanup_free_ char *opts = xasprintf("size=%zu,mode=700", m->len + 65536);
	char *path = xasprintf("%s/data", m->src);
	_cleanup_close_ int fd = -1;

	if (mount("tmpfs", m->src, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		die(s->rt, "mount %s: tmpfs on %s: %s", m->dst, m->src, strerror(errno));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, m->mode & 07777);
	if (fd < 0 || nib_write_all(fd, m->data, m->len) < 0)
		die(s->rt, "mount %s: write %s: %s", m->dst, path, strerror(errno));
	/* a single UID cannot give it away (EINVAL): the step's users are one */
	if (fchmod(fd, m->mode & 07777) < 0 ||
	    (fchown(fd, m->uid, m->gid) < 0 && errno != EINVAL && errno != EPERM))
		die(s->rt, "mount %s: owner of %s: %s", m->dst, path, strerror(errno));
	return path;
}

static void mount_extra(struct setup *s)
{
	const struct bld_run_spec *spec = s->rt->spec;
	char b[32];

	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct bld_mount *m = &spec->mounts[i];
		_cleanup_close_ int fd = -1, top = -1;
		_cleanup_free_ char *data = NULL, *opts = NULL;
		const char *src = m->src;
		struct stat st;

		if (m->type == BLD_MOUNT_TMPFS) {
			fd = ensure_dir(s, m->dst);
			if (fd < 0)
				die(s->rt, "mount %s: %s", m->dst, strerror(errno));
			unsigned long fl = MS_NOSUID | MS_NODEV | (m->ro ? MS_RDONLY : 0);
			opts = m->size ? xasprintf("mode=755,size=%" PRIu64, m->size)
				       : xstrdup("mode=755");
			_cleanup_free_ char *o =
			    s->rt->selinux_mount
				? xasprintf("%s,context=\"%s\"", opts, s->rt->selinux_mount)
				: NULL;
			if ((!o || mount("tmpfs", fdpath(fd, b), "tmpfs", fl, o) < 0) &&
			    mount("tmpfs", fdpath(fd, b), "tmpfs", fl, opts) < 0)
				die(s->rt, "mount tmpfs on %s: %s", m->dst, strerror(errno));
			continue;
		}
		if (m->type == BLD_MOUNT_DATA)
			src = data = data_file(s, m);
		if (stat(src, &st) < 0)
			die(s->rt, "mount %s: %s: %s", m->dst, src, strerror(errno));
		fd = S_ISDIR(st.st_mode) ? ensure_dir(s, m->dst) : ensure_file(s, m->dst);
		if (fd < 0)
			die(s->rt, "mount %s: %s", m->dst, strerror(errno));
		if (mount(src, fdpath(fd, b), NULL, MS_BIND | MS_REC, NULL) < 0)
			die(s->rt, "mount %s on %s: %s", src, m->dst, strerror(errno));
		if (m->ro) {
			top = reopen(s, m->dst, O_PATH);
			if (top < 0)
				die(s->rt, "open %s: %s", m->dst, strerror(errno));
			make_ro(s, top, true, m->dst);
		}
	}
}

/* Everything below the folder `dfd` chowned to uid:gid (symlinks
 * themselves); the caller chowned `dfd`. */
static int chown_below(int dfd, uid_t uid, gid_t gid, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (depth > 256)
		return errno = ELOOP, -1;
	while ((e = readdir(d))) {
		if (streq(e->d_name, ".") || streq(e->d_name, ".."))
			continue;
		if (fchownat(dirfd(d), e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
			return -1;
		if (e->d_type == DT_DIR) {
			_cleanup_close_ int sub = openat(
			    dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || chown_below(sub, uid, gid, depth + 1) < 0)
				return -1;
		}
	}
	return 0;
}

/* buildah's :U: a volume's source becomes the run user's (in the user
 * namespace: the host sees that user's mapped ID, as with buildah).
 * With a single UID the kernel refuses other IDs, and the step's users
 * are one anyway: nothing to do. */
static void chown_volumes(struct bld_rt *rt, uid_t uid, gid_t gid)
{
	for (size_t i = 0; i < rt->spec->n_mounts; i++) {
		const struct bld_mount *m = &rt->spec->mounts[i];
		_cleanup_close_ int fd = -1;
		struct stat st;

		if (!m->chown_user || rt->idmap.mode == BLD_IDMAP_SINGLE)
			continue;
		fd = open(m->dst, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 ||
		    fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			die(rt, "--volume %s:U: chown %u:%u: %s", m->dst, (unsigned)uid,
			    (unsigned)gid, strerror(errno));
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int dfd = open(m->dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd < 0 || chown_below(dfd, uid, gid, 0) < 0)
				die(rt, "--volume %s:U: chown %u:%u: %s", m->dst, (unsigned)uid,
				    (unsigned)gid, strerror(errno));
		}
	}
}

static void loopback_up(struct bld_rt *rt)
{
	struct ifreq ifr = {0};
	_cleanup_close_ int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (sock < 0 || ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		die(rt, "loopback: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		die(rt, "loopback up: %s", strerror(errno));
}

static void setup_root(struct bld_rt *rt)
{
	struct setup s = {.rt = rt, .rootfd = -1};

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die(rt, "make / private: %s", strerror(errno));
	if (rt->spec->rootfs_setup) {
		struct nib_error e = {0};
		if (rt->spec->rootfs_setup(rt->spec->rootfs_setup_ctx, &e) < 0)
			die(rt, "%s", e.msg ? e.msg : "rootfs setup failed");
	}
	if (mount(rt->spec->rootfs, rt->spec->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		die(rt, "bind %s: %s", rt->spec->rootfs, strerror(errno));
	s.rootfd = open(rt->spec->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s.rootfd < 0)
		die(rt, "open %s: %s", rt->spec->rootfs, strerror(errno));

	const char *link = bld_rootfs_symlinked_mount(s.rootfd);
	if (link)
		die(rt, BLD_SYMLINK_MOUNT_FMT, link);
	mount_proc(&s);
	mount_dev(&s);
	mount_sys(&s);
	mount_devices(&s);
	mask_paths(&s);
	mount_extra(&s);

	if (fchdir(s.rootfd) < 0)
		die(rt, "chdir %s: %s", rt->spec->rootfs, strerror(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die(rt, "pivot_root %s: %s", rt->spec->rootfs, strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		die(rt, "detach the old root: %s", strerror(errno));
	if (chdir("/") < 0)
		die(rt, "chdir /: %s", strerror(errno));
	close(s.rootfd);
}

/* ---- the command ------------------------------------------------------------ */

/* Before the command's user is taken: --ulimit may raise a hard limit. */
static void set_ulimits(struct bld_rt *rt)
{
	struct rlimit rl;
	char why[256];

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = MIN(rl.rlim_max, (rlim_t)1048576);
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);
	/* --ulimit; --pids-limit and --memory lower them further in set_rlimits */
	if (bld_ulimits_apply(rt->spec->security, why, sizeof(why)) < 0)
		die(rt, "%s", why);
}

/* Last before execve, when nib allocates nothing more: RLIMIT_DATA counts
 * the address space nib holds, reserved or not (AddressSanitizer's shadow). */
static void set_rlimits(struct bld_rt *rt)
{
	const struct bld_limits *l = &rt->spec->limits;

	if (rt->cgroup)
		return; /* the step's cgroup holds the limits */
	/* processes of the step's user in its user namespace, and each
	 * process's data (heap, private writable mappings) */
	if (bld_rlimit_lower(RLIMIT_NPROC, l->pids) < 0 ||
	    bld_rlimit_lower(RLIMIT_DATA, l->memory) < 0)
		die(rt, "RUN limits (rlimits): %s", strerror(errno));
}

static void set_caps(struct bld_rt *rt, bool root)
{
	char why[256];

	if (bld_caps_apply(rt->caps, root, why, sizeof(why)) < 0)
		die(rt, "%s", why);
}

/* A non-root user of single-UID mode: the command stays UID 0 on the
 * kernel's side, so it keeps no capability, not even across execve (root's
 * exec rule is disabled). */
static void drop_caps(struct bld_rt *rt)
{
	cap_t none = cap_init();

	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED, 0, 0, 0) < 0)
		die(rt, "securebits: %s", strerror(errno));
	if (cap_set_proc(none) < 0)
		die(rt, "drop capabilities: %s", strerror(errno));
	cap_free(none);
}

/* nib's filter (or, without its refusals, only the ownership emulation),
 * its listener sent to nib, then the user's profile stacked on it */
static void load_filters(struct bld_rt *rt, int *notify_fd)
{
	bool emulate = rt->idmap.mode == BLD_IDMAP_SINGLE;
	struct nib_error e = {0};
	cap_t caps = cap_get_proc();

	if (!caps || cap_clear_flag(caps, CAP_INHERITABLE) < 0 || cap_set_proc(caps) < 0 ||
	    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		die(rt, "clear inheritable capabilities: %s", strerror(errno));
	cap_free(caps);
	if (rt->confine) {
		if (bld_seccomp_load(emulate, notify_fd, &e) < 0)
			die(rt, "%s", e.msg);
	} else {
		*notify_fd = bld_seccomp_load_bpf(emulate ? &rt->emulation : &rt->emulation_ids,
						  SECCOMP_FILTER_FLAG_NEW_LISTENER, &e);
		if (*notify_fd < 0)
			die(rt, "%s", e.msg);
	}
	if (*notify_fd >= 0) {
		bld_rt_send(rt->sync_fd, BLD_MSG_NOTIFY, NULL, 0, *notify_fd);
		close(*notify_fd);
	}
	if (bld_seccomp_load_bpf(&rt->profile, 0, &e) < 0)
		die(rt, "--security-opt seccomp=%s: %s", rt->spec->security->seccomp_profile,
		    e.msg);
}

_noreturn_ static void exec_command(struct bld_rt *rt)
{
	const struct bld_run_spec *spec = rt->spec;
	_cleanup_strv_ struct nib_strv env = {0};
	_cleanup_free_ char *home = NULL;
	gid_t groups[64], fake_groups[64];
	size_t n_groups = ARRAY_SIZE(groups), n_fake_groups = 0;
	uid_t uid = 0, fake_uid = 0;
	gid_t gid = 0, fake_gid = 0;
	bool fake = false;
	struct nib_error e = {0};
	const char *path, *cmd = spec->argv[0];
	int notify_fd = -1, in, saved = ENOENT;
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* a session of its own, without the caller's terminal: /dev/tty does
	 * not open and TIOCSTI cannot push keystrokes into the caller's shell
	 * (a stdin that is the caller's tty is no controlling terminal either) */
	if (setsid() < 0)
		die(rt, "setsid: %s", strerror(errno));

	/* stdio, then nothing else of nib: the sync socket moves to fd 3 and
	 * every other fd is closed before anything looks at a path the
	 * image chose (a WORKDIR of /proc/self/fd/N reaches nothing) */
	in = spec->stdin_fd >= 0 ? spec->stdin_fd : open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0 || dup2(in, 0) < 0)
		die(rt, "stdin: %s", strerror(errno));
	if (rt->out_fd >= 0 && dup2(rt->out_fd, 1) < 0)
		die(rt, "stdout: %s", strerror(errno));
	if (rt->err_fd >= 0 && dup2(rt->err_fd, 2) < 0)
		die(rt, "stderr: %s", strerror(errno));
	if (rt->sync_fd != 3) {
		if (dup3(rt->sync_fd, 3, O_CLOEXEC) < 0)
			_exit(127);
		rt->sync_fd = 3;
	}
	if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
		for (int fd = 4; fd < 1024; fd++)
			close(fd);

	if (bld_user_resolve(spec->user, &uid, &gid, groups, &n_groups, &home, &e) < 0)
		die(rt, "%s", e.msg);
	if (!bld_idmap_uid_mapped(&rt->idmap, uid) || !bld_idmap_gid_mapped(&rt->idmap, gid)) {
		if (rt->idmap.mode == BLD_IDMAP_SINGLE) {
			/* the command runs as 0 and the supervisor answers as
			 * if it were the user (seccomp_creds.c) */
			fake = true;
			fake_uid = uid;
			fake_gid = gid;
			memcpy(fake_groups, groups, n_groups * sizeof(gid_t));
			n_fake_groups = n_groups;
		} else {
			log_info("user %u:%u is not mapped with the %s ID map: running as 0:0",
				 (unsigned)uid, (unsigned)gid, bld_idmap_name(rt->idmap.mode));
		}
		uid = 0;
		gid = 0;
	}
	{
		size_t k = 0;
		for (size_t i = 0; i < n_groups; i++)
			if (bld_idmap_gid_mapped(&rt->idmap, groups[i]))
				groups[k++] = groups[i];
		n_groups = k;
	}
	chown_volumes(rt, uid, gid);

	{
		const char *wd = spec->workdir && *spec->workdir ? spec->workdir : "/";
		_cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		_cleanup_close_ int wfd = -1;
		if (wd[0] != '/')
			die(rt, "workdir %s: not an absolute path", wd);
		wfd = nib_mkdir_in_root(rootfd, wd, 0755, &e);
		if (wfd < 0)
			die(rt, "workdir %s", e.msg);
		if (fchdir(wfd) < 0)
			die(rt, "workdir %s: %s", wd, strerror(errno));
	}
	set_ulimits(rt);
	umask(022);

	set_caps(rt, false); /* bounding set while CAP_SETPCAP is there */
	/* the filters first, while this process is root of its user namespace
	 * with CAP_SYS_ADMIN: seccomp(2) then needs no no_new_privs, and a
	 * setuid program elevates as in Docker (runc loads the filter this
	 * early without NoNewPrivileges too). Nothing inheritable or ambient
	 * (CVE-2022-24769): root's exec gives it the bounding set. */
	load_filters(rt, &notify_fd);
	/* in single-UID mode IDs stay 0 (the supervisor emulates the user's) */
	if (rt->idmap.mode != BLD_IDMAP_SINGLE) {
		if (rt->idmap.setgroups && setgroups(n_groups, groups) < 0)
			die(rt, "setgroups: %s", strerror(errno));
		if (setresgid(gid, gid, gid) < 0)
			die(rt, "setgid %u: %s", (unsigned)gid, strerror(errno));
		if (setresuid(uid, uid, uid) < 0)
			die(rt, "setuid %u: %s", (unsigned)uid, strerror(errno));
	}
	/* capset is emulated in single-UID mode: root's exec then narrows
	 * the sets to the bounding set, and SECBIT_NOROOT to file caps */
	if (uid == 0 && !(fake && fake_uid != 0))
		set_caps(rt, true);
	else if (fake)
		drop_caps(rt);
	if (spec->security && spec->security->no_new_privs &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die(rt, "no_new_privs: %s", strerror(errno));
	if (rt->selinux_label && setexeccon(rt->selinux_label) < 0)
		log_warn("SELinux: cannot set the exec label %s: %s", rt->selinux_label,
			 strerror(errno));

	/* the environment: the caller's, plus PATH and HOME when missing */
	for (size_t i = 0; spec->env && spec->env[i]; i++)
		nib_strv_push(&env, spec->env[i]);
	if (!nib_env_get(env.v, "PATH"))
		nib_strv_push(&env, "PATH=" NIB_DEFAULT_PATH);
	if (!nib_env_get(env.v, "HOSTNAME"))
		nib_strv_pushf(&env, "HOSTNAME=%s", spec->hostname ? spec->hostname : "nib");
	if (!nib_env_get(env.v, "HOME"))
		nib_strv_pushf(&env, "HOME=%s", home ? home : "/");

	/* trapped by the filter: the supervisor now answers get*id with
	 * the user's IDs. It reads the group list from this process's
	 * memory, which needs it dumpable (as execve makes it anyway; fd 3
	 * is close-on-exec and nothing of the command runs yet). */
	if (fake && (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0 ||
		     syscall(SYS_setgroups, n_fake_groups, fake_groups) < 0 ||
		     syscall(SYS_setresgid, fake_gid, fake_gid, fake_gid) < 0 ||
		     syscall(SYS_setresuid, fake_uid, fake_uid, fake_uid) < 0))
		die(rt, "user %u:%u: %s", (unsigned)fake_uid, (unsigned)fake_gid, strerror(errno));

	/* last, when nib allocates nothing more: RLIMIT_DATA counts the address
	 * space nib holds, reserved or not (AddressSanitizer's shadow) */
	set_rlimits(rt);
	if (spec->dry_run)
		_exit(0); /* every step of the setup passed */
	path = nib_env_get(env.v, "PATH");
	if (strchr(cmd, '/')) {
		execve(cmd, spec->argv, env.v);
		saved = errno;
	} else {
		const char *p = path;
		while (p && *p) {
			const char *colon = strchr(p, ':');
			size_t n = colon ? (size_t)(colon - p) : strlen(p);
			char full[PATH_MAX];
			snprintf(full, sizeof(full), "%.*s/%s", (int)n, n ? p : ".", cmd);
			execve(full, spec->argv, env.v);
			if (errno != ENOENT && errno != ENOTDIR)
				saved = errno;
			p = colon ? colon + 1 : NULL;
		}
	}
	die(rt, "exec %s: %s", cmd, strerror(saved));
}

/* ---- pid 1 ------------------------------------------------------------------ */

_noreturn_ void bld_runtime_child(struct bld_rt *rt)
{
	char go = 0;
	sigset_t all;
	pid_t cmd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (read(rt->sync_fd, &go, 1) != 1 || go != BLD_MSG_GO)
		_exit(1); /* nib went away or could not map IDs */
	/* the maps are written: this process is root of the new namespaces
	 * from now on, and not dumpable, so the command cannot reach nib's
	 * socket through /proc/1/fd */
	prctl(PR_SET_DUMPABLE, 0);
	/* the step sees this process as its PID 1: it shows a title, not
	 * nib's command line or environment */
	nib_proc_set_title("nib-init");
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		die(rt, "become root in the user namespace: %s", strerror(errno));
	if (rt->idmap.setgroups && setgroups(0, NULL) < 0)
		die(rt, "setgroups: %s", strerror(errno));

	setup_root(rt);
	/* containers-common's seccomp profile (CRI-O's RuntimeDefault up to
	 * 1.23) allows a UTS namespace but sethostname only with
	 * CAP_SYS_ADMIN in the pod: the step keeps the pod's host name then
	 * (/etc/hostname and $HOSTNAME still name the build) */
	const char *hn = rt->spec->hostname ? rt->spec->hostname : "nib";
	if (sethostname(hn, strlen(hn)) < 0 && errno != EPERM)
		die(rt, "sethostname: %s", strerror(errno));
	if (rt->netns)
		loopback_up(rt);

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	cmd = fork();
	if (cmd < 0)
		die(rt, "fork: %s", strerror(errno));
	if (cmd == 0)
		exec_command(rt);
	/* pid 1: reap everything, forward signals, report the command; it
	 * keeps no fd but stdio and the sync socket */
	if (rt->sync_fd > 3)
		syscall(SYS_close_range, 3U, (unsigned)rt->sync_fd - 1, 0U);
	syscall(SYS_close_range, (unsigned)rt->sync_fd + 1, ~0U, 0U);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si), status;
		pid_t p;

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(cmd, sig);
			continue;
		}
		while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
			if (p != cmd)
				continue;
			bld_rt_send(rt->sync_fd, BLD_MSG_STATUS, &status, sizeof(status), -1);
			_exit(0);
		}
	}
}
