/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Single-UID root emulation of process credentials. With one mapped UID a
 * setuid(100) cannot really happen; making it "succeed without effect" is
 * not enough for programs that check what they became (APT drops to _apt
 * and then verifies getuid(), getgroups() and that setuid(0) now fails). So
 * the supervisor keeps, per process, the credentials it would have:
 * set*id and setgroups change them following credentials(7) (an effective
 * UID of 0 may set anything; others only their real, effective or saved
 * IDs), get*id report them. A process inherits its parent's record (or its
 * thread group's) the first time it asks; a process nobody changed keeps
 * its real credentials (the kernel answers).
 */
#define BLD_RUNTIME_INTERNAL 1
#include <fcntl.h>
#include <seccomp.h>
#include <string.h>

#include "builder/runtime_internal.h"

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif

#define MAX_PROCS  4096
#define MAX_GROUPS 64
#define KEEP	   UINT32_MAX

struct cred {
	pid_t pid;
	unsigned long long start; /* /proc/PID/stat starttime: PID reuse check */
	bool fake;		  /* false: the kernel's own answer */
	bool keepcaps;		  /* PR_SET_KEEPCAPS */
	bool caps_kept;		  /* left UID 0 with keepcaps: still may set IDs */
	uint32_t uid[4], gid[4];  /* real, effective, saved, fs */
	uint32_t ngroups;
	uint32_t groups[MAX_GROUPS];
};

static struct cred table[MAX_PROCS];
static size_t n_table, next_evict;
static bool start_as_root;

void bld_creds_reset(void)
{
	n_table = 0;
	next_evict = 0;
}

void bld_creds_start_as_root(bool yes)
{
	start_as_root = yes;
}

unsigned long long bld_creds_stat_parse(const char *stat, pid_t *ppid)
{
	unsigned long long start = 0;
	const char *p = strrchr(stat, ')'); /* the command name may hold anything */
	int pp = 0;

	if (!p || p[1] != ' ')
		return 0;
	/* fields after ")": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime cutime cstime priority nice
	 * num_threads itrealvalue starttime */
	if (sscanf(p + 2,
		   "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
		   "%*d %llu",
		   &pp, &start) != 2)
		return 0;
	if (ppid)
		*ppid = pp;
	return start;
}

/* starttime and parent of a process; 0 start when it is gone. */
static unsigned long long proc_stat(pid_t pid, pid_t *ppid)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		return 0;
	buf[n] = '\0';
	return bld_creds_stat_parse(buf, ppid);
}

static pid_t proc_tgid(pid_t pid)
{
	char path[64];
	_cleanup_free_ char *st = NULL;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (nib_read_file_at(AT_FDCWD, path, 1 << 16, &st, NULL, NULL) < 0)
		return pid;
	p = strstr(st, "\nTgid:");
	return p ? (pid_t)atoi(p + 6) : pid;
}

static struct cred *slot(void)
{
	if (n_table < MAX_PROCS)
		return &table[n_table++];
	/* full: reuse the entry of a process that is gone, else round robin */
	for (size_t i = 0; i < MAX_PROCS; i++)
		if (proc_stat(table[i].pid, NULL) != table[i].start)
			return &table[i];
	return &table[next_evict++ % MAX_PROCS];
}

static void make_fake(struct cred *c);

static struct cred *lookup(pid_t pid, int depth)
{
	unsigned long long start;
	pid_t ppid = 0, tgid;
	struct cred *src = NULL, *c;

	start = proc_stat(pid, &ppid);
	if (!start)
		return NULL;
	for (size_t i = 0; i < n_table; i++)
		if (table[i].pid == pid) {
			if (table[i].start == start)
				return &table[i];
			table[i].pid = 0; /* a reused PID */
		}
	if (depth < 64) {
		tgid = proc_tgid(pid);
		if (tgid != pid)
			src = lookup(tgid, depth + 1);
		else if (ppid > 1 && ppid != getpid())
			src = lookup(ppid, depth + 1);
	}
	c = slot();
	if (src && src != c)
		*c = *src;
	else
		memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->start = start;
	if (start_as_root)
		make_fake(c);
	return c;
}

static void make_fake(struct cred *c)
{
	if (c->fake)
		return;
	/* what the kernel reports in single-UID mode: all 0 */
	memset(c->uid, 0, sizeof(c->uid));
	memset(c->gid, 0, sizeof(c->gid));
	c->ngroups = 0;
	c->fake = true;
}

bool bld_creds_dropped(pid_t pid)
{
	const struct cred *c = lookup(pid, 0);

	return c && c->fake && c->uid[1] != 0 && !c->caps_kept;
}

static bool is_one_of(uint32_t id, const uint32_t ids[4])
{
	return id == ids[0] || id == ids[1] || id == ids[2];
}

/* setresuid/setresgid rules (credentials(7)); `priv` = effective UID 0. */
static int set_res(uint32_t ids[4], bool priv, uint32_t r, uint32_t e, uint32_t s)
{
	if (!priv && ((r != KEEP && !is_one_of(r, ids)) || (e != KEEP && !is_one_of(e, ids)) ||
		      (s != KEEP && !is_one_of(s, ids))))
		return -EPERM;
	if (r != KEEP)
		ids[0] = r;
	if (e != KEEP)
		ids[1] = e;
	if (s != KEEP)
		ids[2] = s;
	ids[3] = ids[1];
	return 0;
}

static int set_one(uint32_t ids[4], bool priv, uint32_t id)
{
	if (priv) {
		ids[0] = ids[1] = ids[2] = ids[3] = id;
		return 0;
	}
	if (id != ids[0] && id != ids[2])
		return -EPERM;
	ids[1] = ids[3] = id;
	return 0;
}

static int set_re(uint32_t ids[4], bool priv, uint32_t r, uint32_t e)
{
	uint32_t old_r = ids[0];
	if (!priv &&
	    ((r != KEEP && r != ids[0] && r != ids[1]) || (e != KEEP && !is_one_of(e, ids))))
		return -EPERM;
	if (r != KEEP)
		ids[0] = r;
	if (e != KEEP)
		ids[1] = e;
	if (r != KEEP || (e != KEEP && e != old_r))
		ids[2] = ids[1];
	ids[3] = ids[1];
	return 0;
}

static int mem_write(pid_t pid, uint64_t addr, const void *p, size_t n)
{
	char path[64];
	_cleanup_close_ int fd = -1;

	if (!addr)
		return -EFAULT;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return pwrite(fd, p, n, (off_t)addr) == (ssize_t)n ? 0 : -EFAULT;
}

static int mem_read(pid_t pid, uint64_t addr, void *p, size_t n)
{
	char path[64];
	_cleanup_close_ int fd = -1;

	if (!addr)
		return -EFAULT;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return pread(fd, p, n, (off_t)addr) == (ssize_t)n ? 0 : -EFAULT;
}

static uint32_t arg32(uint64_t v)
{
	return (uint32_t)v;
}

int bld_creds_handle(const char *name, const struct seccomp_notif *req,
		     struct seccomp_notif_resp *resp)
{
	pid_t pid = (pid_t)req->pid;
	const __u64 *a = req->data.args;
	bool is_get = strncmp(name, "get", 3) == 0;
	struct cred *c;
	bool priv;
	uint32_t old_euid;
	int r = 0;

	/* set*id, get*id, setgroups, getgroups (and their 32-bit names),
	 * execve, execveat, prctl */
	if (strncmp(name, "set", 3) != 0 && !is_get && strncmp(name, "exec", 4) != 0 &&
	    !streq(name, "prctl"))
		return 0;
	if (req->data.arch != seccomp_arch_native()) {
		/* 32-bit processes: set* succeed without effect, get* are the
		 * kernel's */
		if (is_get)
			resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		return 1;
	}
	c = lookup(pid, 0);
	if (!c) {
		resp->error = -ESRCH;
		return 1;
	}
	if (is_get && !c->fake) {
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		return 1;
	}
	if (streq(name, "execve") || streq(name, "execveat")) {
		/* exec drops capabilities kept over a UID change, and keepcaps */
		c->keepcaps = false;
		c->caps_kept = false;
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		return 1;
	}
	if (streq(name, "prctl")) {
		/* PR_SET_KEEPCAPS: remembered, and done by the kernel too */
		c->keepcaps = a[1] != 0;
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		return 1;
	}
	if (!is_get)
		make_fake(c);
	priv = c->uid[1] == 0 || c->caps_kept;
	old_euid = c->uid[1];

	if (streq(name, "getuid")) {
		resp->val = c->uid[0];
	} else if (streq(name, "geteuid")) {
		resp->val = c->uid[1];
	} else if (streq(name, "getgid")) {
		resp->val = c->gid[0];
	} else if (streq(name, "getegid")) {
		resp->val = c->gid[1];
	} else if (streq(name, "getresuid") || streq(name, "getresgid")) {
		const uint32_t *ids = name[6] == 'u' ? c->uid : c->gid;
		for (int i = 0; i < 3 && r == 0; i++)
			r = mem_write(pid, a[i], &ids[i], sizeof(uint32_t));
	} else if (streq(name, "getgroups")) {
		int size = (int)a[0];
		if (size < 0)
			r = -EINVAL;
		else if (size == 0)
			resp->val = c->ngroups;
		else if ((uint32_t)size < c->ngroups)
			r = -EINVAL;
		else {
			if (c->ngroups)
				r = mem_write(pid, a[1], c->groups, c->ngroups * sizeof(uint32_t));
			resp->val = c->ngroups;
		}
	} else if (streq(name, "setgroups")) {
		size_t n = (size_t)a[0];
		if (!priv)
			r = -EPERM;
		else if (n > MAX_GROUPS)
			r = -EINVAL;
		else if (n == 0 || (r = mem_read(pid, a[1], c->groups, n * sizeof(uint32_t))) == 0)
			c->ngroups = (uint32_t)n;
	} else if (streq(name, "setuid")) {
		r = set_one(c->uid, priv, arg32(a[0]));
	} else if (streq(name, "setgid")) {
		r = set_one(c->gid, priv, arg32(a[0]));
	} else if (streq(name, "setreuid")) {
		r = set_re(c->uid, priv, arg32(a[0]), arg32(a[1]));
	} else if (streq(name, "setregid")) {
		r = set_re(c->gid, priv, arg32(a[0]), arg32(a[1]));
	} else if (streq(name, "setresuid")) {
		r = set_res(c->uid, priv, arg32(a[0]), arg32(a[1]), arg32(a[2]));
	} else if (streq(name, "setresgid")) {
		r = set_res(c->gid, priv, arg32(a[0]), arg32(a[1]), arg32(a[2]));
	} else if (streq(name, "setfsuid") || streq(name, "setfsgid")) {
		uint32_t *ids = name[5] == 'u' ? c->uid : c->gid, id = arg32(a[0]);
		resp->val = ids[3];
		if (id != KEEP && (priv || is_one_of(id, ids) || id == ids[3]))
			ids[3] = id;
	} else {
		return 0;
	}
	/* credentials(7): leaving UID 0 drops the capabilities unless
	 * keepcaps is set */
	if (r == 0 && old_euid == 0 && c->uid[1] != 0)
		c->caps_kept = c->keepcaps;
	else if (r == 0 && c->uid[1] == 0)
		c->caps_kept = false;
	resp->error = r;
	return 1;
}
