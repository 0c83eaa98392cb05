/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "common/common.h"

void nib_random_hex(char *buf, size_t n)
{
	static unsigned long counter;
	unsigned char raw[32];
	size_t got = 0;

	while (got < n) {
		size_t want = MIN(sizeof(raw), (n - got + 1) / 2);
		ssize_t r = getrandom(raw, want, 0);

		if (r <= 0) {
			/* no getrandom (an old kernel, a seccomp profile that
			 * refuses it): time, pid and a counter, still unique
			 * within this pid namespace */
			struct timespec ts;
			unsigned long mix;

			clock_gettime(CLOCK_REALTIME, &ts);
			mix = (unsigned long)ts.tv_nsec * 2654435761u ^ (unsigned long)ts.tv_sec ^
			      (unsigned long)getpid() << 20 ^
			      __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) << 40;
			memcpy(raw, &mix, sizeof(mix));
			r = (ssize_t)MIN(want, sizeof(mix));
		}
		for (ssize_t i = 0; i < r && got < n; i++) {
			buf[got++] = "0123456789abcdef"[raw[i] >> 4];
			if (got < n)
				buf[got++] = "0123456789abcdef"[raw[i] & 15];
		}
	}
	buf[n] = '\0';
}

int nib_create_tmp_at(int dirfd, const char *prefix, bool dir, mode_t mode, char **name)
{
	int r = -1;

	*name = NULL;
	for (int tries = 0; tries < 100; tries++) {
		char rnd[17];

		nib_random_hex(rnd, 16);
		free(*name);
		*name = xasprintf("%s%s", prefix, rnd);
		r = dir ? mkdirat(dirfd, *name, mode)
			: openat(dirfd, *name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
				 mode);
		if (r >= 0 || errno != EEXIST)
			break;
	}
	return r;
}

int nib_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_fd(int fd, const char *name, size_t max, char **out, size_t *len,
		   struct nib_error *err)
{
	_cleanup_buf_ struct nib_buf b = {0};
	char chunk[65536];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return nib_err(err, NIB_ERR_IO, errno, "read %s", name);
		}
		if (b.len + (size_t)n > max)
			return nib_err(err, NIB_ERR_IO, EFBIG, "read %s (larger than %zu bytes)",
				       name, max);
		nib_buf_append(&b, chunk, (size_t)n);
	}
	if (len)
		*len = b.len;
	*out = nib_buf_steal(&b);
	return 0;
}

int nib_read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
		     struct nib_error *err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return nib_err(err, errno == ENOENT ? NIB_ERR_NOT_FOUND : NIB_ERR_IO, errno,
			       "open %s", path);
	return read_fd(fd, path, max, out, len, err);
}

int nib_read_regular_in_root(int rootfd, const char *path, const char *name, size_t max, char **out,
			     size_t *len, struct nib_error *err)
{
	struct nib_error e = {0};
	struct stat st;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOCTTY: a
	 * terminal never becomes ours */
	_cleanup_close_ int fd =
	    nib_open_in_root(rootfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, &e);

	if (!name)
		name = path;
	if (fd < 0) {
		int en = e.errnum;
		nib_err_clear(&e);
		return nib_err(err, en == ENOENT ? NIB_ERR_NOT_FOUND : NIB_ERR_IO, en, "open %s",
			       name);
	}
	if (fstat(fd, &st) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "stat %s", name);
	if (!S_ISREG(st.st_mode))
		return nib_err(err, NIB_ERR_IO, 0, "%s is not a regular file", name);
	if ((uint64_t)st.st_size > max)
		return nib_err(err, NIB_ERR_IO, EFBIG, "read %s (larger than %zu bytes)", name,
			       max);
	return read_fd(fd, name, max, out, len, err);
}

int nib_write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
			     struct nib_error *err)
{
	_cleanup_free_ char *prefix = xasprintf("%s.tmp-", path);
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = nib_create_tmp_at(dirfd, prefix, false, mode, &tmp);

	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "create %s", tmp);
	if (fchmod(fd, mode) < 0 || nib_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return nib_err(err, NIB_ERR_IO, e, "write %s", path);
	}
	if (renameat(dirfd, tmp, dirfd, path) < 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return nib_err(err, NIB_ERR_IO, e, "rename %s", path);
	}
	return 0;
}

int nib_mkdir_p_at(int dirfd, const char *path, mode_t mode, struct nib_error *err)
{
	_cleanup_free_ char *p = xstrdup(path);
	size_t n = strlen(p);

	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char saved = p[i];
		p[i] = '\0';
		if (mkdirat(dirfd, p, mode) < 0 && errno != EEXIST)
			return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", p);
		p[i] = saved;
	}
	return 0;
}

static int rm_rf_children(int dfd, const char *path, struct nib_error *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = dup(dfd);

	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "dup %s", path);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return nib_err(err, NIB_ERR_IO, errno, "opendir %s", path);
	}
	while ((errno = 0, de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM)
			return nib_err(err, NIB_ERR_IO, errno, "remove %s/%s", path, de->d_name);
		if (nib_rm_rf_at(dfd, de->d_name, err) < 0)
			return -1;
	}
	return 0;
}

int nib_rm_rf_at(int dirfd, const char *path, struct nib_error *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return nib_err(err, NIB_ERR_IO, errno, "stat %s", path);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, path, 0) < 0 && errno != ENOENT)
			return nib_err(err, NIB_ERR_IO, errno, "remove %s", path);
		return 0;
	}
	/* Folders from image layers may be read-only (0555): make them
	 * writable so their entries can go. */
	if ((st.st_mode & 0700) != 0700)
		(void)fchmodat(dirfd, path, (st.st_mode & 07777) | 0700, 0);
	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", path);
	if (rm_rf_children(fd, path, err) < 0)
		return -1;
	if (unlinkat(dirfd, path, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return nib_err(err, NIB_ERR_IO, errno, "remove %s", path);
	return 0;
}

/* Our stdout or stderr when `st` is the same file, else -1. */
static int our_output(const struct stat *st)
{
	struct stat o;

	for (int fd = 1; fd <= 2; fd++)
		if (fstat(fd, &o) == 0 && o.st_dev == st->st_dev && o.st_ino == st->st_ino)
			return fd;
	return -1;
}

int nib_write_output_file(const char *path, const void *data, size_t len, struct nib_error *err)
{
	struct stat st;
	_cleanup_close_ int fd = -1;
	int ours;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return nib_err(err, NIB_ERR_IO, errno, "stat %s", path);
		return nib_write_file_atomic_at(AT_FDCWD, path, data, len, 0644, err);
	}
	if (S_ISDIR(st.st_mode))
		return nib_err(err, NIB_ERR_IO, EISDIR, "%s is a folder", path);
	if (S_ISREG(st.st_mode))
		return nib_write_file_atomic_at(AT_FDCWD, path, data, len, 0644, err);
	/* A symlink, FIFO, terminal or other device: written in place, as
	 * buildah writes --iidfile (Docker instead removes the path first,
	 * which as root replaced the host's /dev/stdout link); a rename would
	 * replace the link or device itself. The link's target must exist:
	 * nothing is created where a dangling link points. /dev/stdout (or
	 * stderr) goes through our own descriptor, so that it lands where our
	 * output goes, after what is there. */
	if (stat(path, &st) == 0 && (ours = our_output(&st)) >= 0) {
		fflush(NULL);
		if (nib_write_all(ours, data, len) < 0)
			return nib_err(err, NIB_ERR_IO, errno, "write %s", path);
		return 0;
	}
	fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return nib_err(err, errno == ENOENT ? NIB_ERR_NOT_FOUND : NIB_ERR_IO, errno,
			       "open %s", path);
	if (fstat(fd, &st) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "stat %s", path);
	/* a regular file a link names: its content replaced in place */
	if (S_ISREG(st.st_mode) && ftruncate(fd, 0) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "write %s", path);
	if (nib_write_all(fd, data, len) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "write %s", path);
	return 0;
}

void nib_child_killp(pid_t *pid)
{
	int saved = errno;

	if (*pid <= 0)
		return;
	kill(*pid, SIGKILL);
	while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
		;
	*pid = -1;
	errno = saved;
}

void nib_map_freep(struct nib_map *m)
{
	if (m->p && m->p != MAP_FAILED)
		munmap(m->p, m->len);
	m->p = NULL;
}
