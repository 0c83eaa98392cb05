/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registers of a stopped tracee, per architecture: where the system call
 * number, its arguments and its result are, and how to run a call again.
 * x86_64: number in orig_rax (rax on entry to `syscall`), arguments in
 * rdi rsi rdx r10 r8 r9, result in rax, `syscall` is 2 bytes. aarch64:
 * number in x8 (changed through NT_ARM_SYSTEM_CALL), arguments x0-x5,
 * result x0, `svc #0` is 4 bytes.
 */
#define BLD_PTRACE_INTERNAL 1
#include <elf.h>
#include <linux/audit.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include "builder/ptrace.h"

#if defined(__x86_64__)

const uint32_t bld_ptrace_audit_arch = AUDIT_ARCH_X86_64;

int bld_ptrace_regs_get(pid_t tid, struct bld_ptrace_regs *r)
{
	if (ptrace(PTRACE_GETREGS, tid, NULL, &r->u) < 0)
		return -errno;
	r->nr = (long)r->u.orig_rax;
	r->nr_dirty = false;
	return 0;
}

int bld_ptrace_regs_set(pid_t tid, struct bld_ptrace_regs *r)
{
	if (ptrace(PTRACE_SETREGS, tid, NULL, &r->u) < 0)
		return -errno;
	r->nr_dirty = false;
	return 0;
}

void bld_ptrace_reg_set_nr(struct bld_ptrace_regs *r, long nr)
{
	r->u.orig_rax = (unsigned long long)nr;
	r->nr = nr;
}

uint64_t bld_ptrace_reg_arg(const struct bld_ptrace_regs *r, unsigned i)
{
	switch (i) {
	case 0:
		return r->u.rdi;
	case 1:
		return r->u.rsi;
	case 2:
		return r->u.rdx;
	case 3:
		return r->u.r10;
	case 4:
		return r->u.r8;
	default:
		return r->u.r9;
	}
}

void bld_ptrace_reg_set_arg(struct bld_ptrace_regs *r, unsigned i, uint64_t v)
{
	switch (i) {
	case 0:
		r->u.rdi = v;
		break;
	case 1:
		r->u.rsi = v;
		break;
	case 2:
		r->u.rdx = v;
		break;
	case 3:
		r->u.r10 = v;
		break;
	case 4:
		r->u.r8 = v;
		break;
	default:
		r->u.r9 = v;
	}
}

int64_t bld_ptrace_reg_ret(const struct bld_ptrace_regs *r)
{
	return (int64_t)r->u.rax;
}

void bld_ptrace_reg_set_ret(struct bld_ptrace_regs *r, int64_t v)
{
	r->u.rax = (unsigned long long)v;
}

void bld_ptrace_reg_rewind(struct bld_ptrace_regs *r, long nr)
{
	r->u.rip -= 2;
	r->u.rax = (unsigned long long)nr;
}

#elif defined(__aarch64__)

const uint32_t bld_ptrace_audit_arch = AUDIT_ARCH_AARCH64;

int bld_ptrace_regs_get(pid_t tid, struct bld_ptrace_regs *r)
{
	struct iovec iov = {&r->u, sizeof(r->u)};

	if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
		return -errno;
	r->nr = (long)r->u.regs[8];
	r->nr_dirty = false;
	return 0;
}

int bld_ptrace_regs_set(pid_t tid, struct bld_ptrace_regs *r)
{
	struct iovec iov = {&r->u, sizeof(r->u)};

	if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
		return -errno;
	if (r->nr_dirty) {
		int nr = (int)r->nr;
		struct iovec sc = {&nr, sizeof(nr)};
		if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_ARM_SYSTEM_CALL, &sc) < 0)
			return -errno;
	}
	r->nr_dirty = false;
	return 0;
}

void bld_ptrace_reg_set_nr(struct bld_ptrace_regs *r, long nr)
{
	r->nr = nr;
	r->nr_dirty = true;
}

uint64_t bld_ptrace_reg_arg(const struct bld_ptrace_regs *r, unsigned i)
{
	return r->u.regs[i < 6 ? i : 5];
}

void bld_ptrace_reg_set_arg(struct bld_ptrace_regs *r, unsigned i, uint64_t v)
{
	r->u.regs[i < 6 ? i : 5] = v;
}

int64_t bld_ptrace_reg_ret(const struct bld_ptrace_regs *r)
{
	return (int64_t)r->u.regs[0];
}

void bld_ptrace_reg_set_ret(struct bld_ptrace_regs *r, int64_t v)
{
	r->u.regs[0] = (uint64_t)v;
}

void bld_ptrace_reg_rewind(struct bld_ptrace_regs *r, long nr)
{
	r->u.pc -= 4;
	r->u.regs[8] = (uint64_t)nr;
}

#else

const uint32_t bld_ptrace_audit_arch = 0;

int bld_ptrace_regs_get(pid_t tid, struct bld_ptrace_regs *r)
{
	return -ENOSYS;
}

int bld_ptrace_regs_set(pid_t tid, struct bld_ptrace_regs *r)
{
	return -ENOSYS;
}

void bld_ptrace_reg_set_nr(struct bld_ptrace_regs *r, long nr)
{
	r->nr = nr;
}

uint64_t bld_ptrace_reg_arg(const struct bld_ptrace_regs *r, unsigned i)
{
	return 0;
}

void bld_ptrace_reg_set_arg(struct bld_ptrace_regs *r, unsigned i, uint64_t v)
{
}

int64_t bld_ptrace_reg_ret(const struct bld_ptrace_regs *r)
{
	return 0;
}

void bld_ptrace_reg_set_ret(struct bld_ptrace_regs *r, int64_t v)
{
}

void bld_ptrace_reg_rewind(struct bld_ptrace_regs *r, long nr)
{
}

#endif

long bld_ptrace_reg_nr(const struct bld_ptrace_regs *r)
{
	return r->nr;
}
