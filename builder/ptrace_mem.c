/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reaching a traced process (ptrace.h): its memory, by process_vm_readv/
 * writev or /proc/PID/mem, and its /proc entries. Where nib is root without
 * CAP_SYS_PTRACE (root of a user-namespaced pod) and the process became
 * another user (a RUN after USER, apt's methods as _apt), the kernel lets
 * nib in only with that user's IDs: nib takes them as its file system IDs
 * for the moment it looks (bld_ptrace_who.look).
 */
#define BLD_PTRACE_INTERNAL  1
#define BLD_RUNTIME_INTERNAL 1
#include <fcntl.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "builder/ptrace.h"
#include "builder/runtime_internal.h"

void bld_ptrace_look_begin(const struct bld_ptrace_who *who, struct bld_ptrace_look *l)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	l->on = who && who->look;
	if (!l->on)
		return;
	/* setfsgid first: CAP_SETGID is not a file system capability, kept
	 * with any fsuid; setfs*id answer the IDs they replace */
	l->gid = setfsgid(who->gid);
	l->uid = setfsuid(who->uid);
	/* a uid other than 0 takes the file system capabilities out of the
	 * effective set, and the kernel wants that set to hold all the
	 * process has (a setpriv that kept its capabilities): back in */
	if (syscall(SYS_capget, &h, d) == 0) {
		d[0].effective = d[0].permitted;
		d[1].effective = d[1].permitted;
		syscall(SYS_capset, &h, d);
	}
}

void bld_ptrace_look_end(struct bld_ptrace_look *l)
{
	if (!l->on)
		return;
	setfsuid((uid_t)l->uid);
	setfsgid((gid_t)l->gid);
	l->on = false;
}

/*
 * process_vm_readv/writev: one call, no file, but only for a caller whose
 * real IDs are the process's (or with CAP_SYS_PTRACE); else /proc/PID/mem,
 * which wants the file system IDs to match: those nib takes to look at a
 * process of another user (who->look). The count moved, or -errno.
 */
static ssize_t mem_io(const struct bld_ptrace_who *who, bool wr, uint64_t addr, void *p, size_t n)
{
	char path[64];
	struct bld_ptrace_look l;
	_cleanup_close_ int fd = -1;
	ssize_t done;
	int e;

	if (!who->look) {
		struct iovec local = {p, n}, remote = {(void *)(uintptr_t)addr, n};
		done = wr ? process_vm_writev(who->tid, &local, 1, &remote, 1, 0)
			  : process_vm_readv(who->tid, &local, 1, &remote, 1, 0);
		if (done >= 0)
			return done;
		if (errno != ENOSYS && errno != EPERM)
			return -errno;
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)who->tid);
	bld_ptrace_look_begin(who, &l);
	fd = open(path, (wr ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	e = errno;
	bld_ptrace_look_end(&l);
	if (fd < 0)
		return -e;
	done = wr ? pwrite(fd, p, n, (off_t)addr) : pread(fd, p, n, (off_t)addr);
	return done < 0 ? -errno : done;
}

/* 0; -EFAULT where the memory is not (unmapped: EIO from /proc/PID/mem,
 * or a part only), else why it could not be reached */
static int mem_all(ssize_t done, size_t n)
{
	if (done == (ssize_t)n)
		return 0;
	return done >= 0 || done == -EIO ? -EFAULT : (int)done;
}

int bld_ptrace_mem_write(const struct bld_ptrace_who *who, uint64_t addr, const void *p, size_t n)
{
	return mem_all(mem_io(who, true, addr, (void *)p, n), n);
}

int bld_ptrace_mem_read(const struct bld_ptrace_who *who, uint64_t addr, void *p, size_t n)
{
	return mem_all(mem_io(who, false, addr, p, n), n);
}

ssize_t bld_ptrace_who_read(void *ctx, uint64_t addr, void *p, size_t n)
{
	ssize_t done = mem_io(ctx, false, addr, p, n);

	return done < 0 ? -EFAULT : done;
}

int bld_ptrace_read_string(const struct bld_ptrace_who *who, uint64_t addr, char *out, size_t size)
{
	/* first a short piece: most paths are */
	return bld_mem_read_string(bld_ptrace_who_read, (void *)who, addr, out, size, 256);
}
