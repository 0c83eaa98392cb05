/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: what the single-UID supervisor (seccomp_notify.c,
 * seccomp_creds.c; the ptrace executor answers through it too) decodes
 * from a trapped call, fed bytes instead of a live caller:
 *
 *   - a struct seccomp_notif (architecture, number, six arguments) is
 *     decoded (bld_seccomp_decode) and checked against what the call's
 *     arguments say;
 *   - its path argument is read from a memory image of the caller that
 *     the input gives (mapped at an address the input picks, reads cut
 *     short at the input's chunk size, unmapped memory past its end, or a
 *     page that fails with EIO), through bld_mem_read_string (the
 *     ptrace executor reads its paths with it too), and
 *     compared with the string the image holds there;
 *   - the second argument as an execve's argv, read from the image as
 *     the ptrace executor reads it (bld_ptrace_read_argv);
 *   - a security.capability value the caller sets (bld_seccomp_cap_value_root)
 *     and an override_stat record read back (stg_override_parse, which must
 *     format and parse again to the same record);
 *   - a /proc/PID/stat text (bld_creds_stat_parse);
 *   - a sequence of credential calls (set*id, setgroups, get*id, prctl,
 *     execve) answered by bld_creds_handle for this process itself, with
 *     the address arguments pointing at buffers of this harness: an
 *     unprivileged emulated process never gains an ID it did not hold
 *     (credentials(7)), and never more than 64 groups.
 *
 * Input (little-endian; missing bytes read as 0): FLAGS NR(2) ARGS(6x8)
 * STRSIZE(2) OFFSET(2) CHUNK(2) ARGVMAX(2) CAPLEN CAP RECLEN REC STATLEN(2) STAT
 * [NCREDS CREDS(NCREDS x 13: the call, three 32-bit arguments)] MEMORY.
 * FLAGS: bits 0-1 the architecture (native, i386, x32, native), 4 NR
 * picks a call the supervisor answers by name, 8 unmapped memory fails
 * with EFAULT, 0x10 a page in the image's second half fails with EIO,
 * 0x20 every argument is read as a path too, 0x40 the credential calls
 * are there, 0x80 processes start as root. The image is mapped at 0x10000
 * + OFFSET % 8192; STRSIZE's bit 15 makes the first read 256 bytes at
 * most, as the ptrace executor's.
 */
#define BLD_PTRACE_INTERNAL  1
#define BLD_RUNTIME_INTERNAL 1
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <unistd.h>

#include "builder/ptrace.h"
#include "builder/runtime_internal.h"
#include "storage/storage.h"

#define MEM_BASE 0x10000ULL

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, size_t bytes)
{
	uint64_t v = 0;

	for (size_t i = 0; i < bytes; i++) {
		v |= (uint64_t)(in->n ? *in->p : 0) << (8 * i);
		if (in->n) {
			in->p++;
			in->n--;
		}
	}
	return v;
}

static const uint8_t *take_bytes(struct in *in, size_t want, size_t *got)
{
	const uint8_t *p = in->p;

	*got = MIN(want, in->n);
	in->p += *got;
	in->n -= *got;
	return p;
}

/* The caller's memory: `len` bytes at `addr`; one page of it (eio_page,
 * or none) fails with EIO; past the end reads nothing, or fails with
 * EFAULT as process_vm_readv does. */
struct mem {
	uint64_t addr;
	const uint8_t *bytes;
	size_t len;
	size_t chunk; /* at most this much per read (0: no limit) */
	size_t first; /* at most this much in the first read */
	uint64_t eio_page;
	bool efault;
};

static ssize_t mem_read(void *ctx, uint64_t addr, void *p, size_t n)
{
	const struct mem *m = ctx;
	size_t avail;

	if (m->eio_page && addr / 4096 == m->eio_page)
		return -EIO;
	if (addr < m->addr || addr - m->addr >= m->len)
		return m->efault ? -EFAULT : 0;
	avail = MIN(n, m->len - (size_t)(addr - m->addr));
	if (m->chunk)
		avail = MIN(avail, m->chunk);
	if (m->eio_page && addr / 4096 < m->eio_page)
		avail = MIN(avail, (size_t)(m->eio_page * 4096 - addr)); /* up to that page */
	memcpy(p, m->bytes + (addr - m->addr), avail);
	return (ssize_t)avail;
}

/* What reading the string at `addr` must give, from the image alone. */
static int expected_string(const struct mem *m, uint64_t addr, size_t size)
{
	if (addr == 0)
		return -EFAULT;
	for (size_t i = 0; i < size; i++) {
		uint64_t at = addr + i;
		if (at < addr) /* wrapped around */
			return -EFAULT;
		if (m->eio_page && at / 4096 == m->eio_page)
			return -EIO;
		if (at < m->addr || at - m->addr >= m->len)
			return -EFAULT;
		if (m->bytes[at - m->addr] == '\0')
			return 0;
	}
	return -ENAMETOOLONG;
}

static void check_path(const struct mem *m, uint64_t addr, size_t size)
{
	char *out = xmalloc(size);
	int want = expected_string(m, addr, size);
	int r = bld_mem_read_string(mem_read, (void *)m, addr, out, size, m->first);

	if (r != want)
		__builtin_trap();
	if (r == 0 &&
	    (strlen(out) >= size || memcmp(out, m->bytes + (addr - m->addr), strlen(out) + 1) != 0))
		__builtin_trap();
	free(out);
}

/* The same memory as the kernel maps it, in whole pages: the bytes of the
 * pages around the image that it does not cover read as 0. -1: not
 * mapped (or the EIO page). */
static int byte_at(const struct mem *m, uint64_t a)
{
	uint64_t lo = m->addr & ~4095ULL, hi = (m->addr + m->len + 4095) & ~4095ULL;

	if (!m->len || a < lo || a >= hi || (m->eio_page && a / 4096 == m->eio_page))
		return -1;
	return a >= m->addr && a - m->addr < m->len ? m->bytes[a - m->addr] : 0;
}

static ssize_t page_read(void *ctx, uint64_t addr, void *p, size_t n)
{
	const struct mem *m = ctx;
	size_t i;

	for (i = 0; i < n; i++) {
		int b = byte_at(m, addr + i);
		if (b < 0)
			break;
		((uint8_t *)p)[i] = (uint8_t)b;
	}
	return i == 0 && m->efault ? -EFAULT : (ssize_t)i;
}

/* An execve's argv from index 1 (the ptrace executor's): the pointers up
 * to the NULL, word by word as the image holds them. */
static void check_argv(const struct mem *m, uint64_t argv, size_t max)
{
	uint64_t *out = xcalloc(max + 1, sizeof(*out));
	ssize_t want = 0, r = bld_ptrace_read_argv(page_read, (void *)m, argv, out, max);

	for (size_t i = 0; argv; i++) {
		uint64_t w = 0;
		int b = 0;
		if (i == max) {
			want = -E2BIG;
			break;
		}
		for (int k = 0; k < 8 && b >= 0; k++) {
			b = byte_at(m, argv + 8 * (i + 1) + (uint64_t)k);
			w |= (uint64_t)(uint8_t)b << (8 * k);
		}
		if (b < 0) {
			want = -EFAULT;
			break;
		}
		if (w == 0) {
			want = (ssize_t)i;
			break;
		}
		if (r >= 0 && out[i] != w)
			__builtin_trap();
	}
	if (r != want)
		__builtin_trap();
	free(out);
}

static const char *const file_calls[] = {
    "fchown",	  "chown", "lchown",   "fchownat",  "fchown32", "chown32", "lchown32",
    "fchmod",	  "chmod", "fchmodat", "fchmodat2", "stat",	"lstat",   "fstat",
    "newfstatat", "statx", "mknod",    "mknodat",   "setxattr", "getuid",  "execve",
};

static bool is_at(const char *name)
{
	static const char *const at[] = {"fchownat",   "fchmodat", "fchmodat2",
					 "newfstatat", "statx",	   "mknodat"};

	for (size_t i = 0; i < ARRAY_SIZE(at); i++)
		if (streq(name, at[i]))
			return true;
	return false;
}

static void check_decode(uint32_t arch, const char *name, const struct seccomp_notif *req)
{
	struct bld_seccomp_call c;
	const __u64 *a = req->data.args;

	bld_seccomp_decode(name, req, &c);
	switch (c.op) {
	case BLD_SC_ENOSYS:
	case BLD_SC_KERNEL:
		if (c.has_path || c.statx_mask != -1)
			__builtin_trap();
		if (c.op == BLD_SC_KERNEL && arch == seccomp_arch_native())
			__builtin_trap();
		return;
	case BLD_SC_CHOWN:
		if (!strstr(name, "chown"))
			__builtin_trap();
		break;
	case BLD_SC_CHMOD:
		if (!strstr(name, "chmod"))
			__builtin_trap();
		break;
	case BLD_SC_STAT:
		/* 32-bit layouts are the kernel's (x32 has none but
		 * x86-64's newfstatat, whose layout it shares) */
		if (!strstr(name, "stat") ||
		    (arch != seccomp_arch_native() && !streq(name, "newfstatat")))
			__builtin_trap();
		break;
	case BLD_SC_MKNOD:
		if (!strstr(name, "mknod"))
			__builtin_trap();
		break;
	default:
		__builtin_trap();
	}
	/* a call by fd names its fd with an empty path; an *at call its
	 * first argument's folder and its second's path; any other its
	 * first's path from the cwd */
	if (!c.has_path && (!c.empty_path || name[0] != 'f' || c.dirfd != (int)a[0]))
		__builtin_trap();
	if (c.has_path && is_at(name) &&
	    (c.path != a[1] || c.dirfd != (int)(int32_t)(uint32_t)a[0]))
		__builtin_trap();
	if (c.has_path && !is_at(name) && (c.path != a[0] || c.dirfd != AT_FDCWD || c.empty_path))
		__builtin_trap();
	if ((c.statx_mask != -1) != streq(name, "statx") || c.statx_mask > (long long)UINT32_MAX)
		__builtin_trap();
}

static void check_cap(const uint8_t *v, size_t len)
{
	uint8_t buf[XATTR_CAPS_SZ_3];
	size_t n = len;

	memcpy(buf, v, len);
	if (bld_seccomp_cap_value_root(buf, &n) < 0)
		return;
	/* what a kernel would store: revision 2 (20 bytes), or 3 (24) with
	 * a root ID other than 0 */
	if (n == XATTR_CAPS_SZ_3) {
		uint32_t rootid;
		memcpy(&rootid, buf + XATTR_CAPS_SZ_2, sizeof(rootid));
		if (rootid == 0 || len != n)
			__builtin_trap();
	} else if (n != XATTR_CAPS_SZ_2 || len < n) {
		__builtin_trap();
	}
}

static void check_record(const uint8_t *v, size_t len)
{
	struct stg_override o, o2;
	char buf[STG_OVERRIDE_MAX];

	if (stg_override_parse((const char *)v, len, &o, NULL) < 0)
		return;
	stg_override_format(&o, buf, sizeof(buf));
	if (stg_override_parse(buf, strlen(buf), &o2, NULL) < 0 || o.uid != o2.uid ||
	    o.gid != o2.gid || (o.mode & 07777) != (o2.mode & 07777))
		__builtin_trap();
}

static void check_stat(const uint8_t *v, size_t len)
{
	char *s = xmalloc(len + 1);
	pid_t ppid = -1;

	memcpy(s, v, len);
	s[len] = '\0';
	if (bld_creds_stat_parse(s, &ppid) != 0 && ppid == -1)
		__builtin_trap(); /* a start time comes with a parent */
	free(s);
}

/* ---- credentials ----------------------------------------------------------- */

static const char *const cred_calls[] = {
    "setuid",	"setgid",    "setreuid",  "setregid",  "setresuid", "setresgid",
    "setfsuid", "setfsgid",  "setgroups", "getuid",    "geteuid",   "getgid",
    "getegid",	"getresuid", "getresgid", "getgroups", "prctl",	    "execve",
};

static uint32_t res[3];	    /* getresuid/getresgid answers */
static uint32_t groups[96]; /* getgroups answers, setgroups requests */

static uint64_t addr_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static int cred_call(const char *name, uint64_t a0, uint64_t a1, uint64_t a2,
		     struct seccomp_notif_resp *resp)
{
	struct seccomp_notif req;

	memset(&req, 0, sizeof(req));
	memset(resp, 0, sizeof(*resp));
	req.pid = (__u32)getpid();
	req.data.arch = seccomp_arch_native();
	req.data.nr = seccomp_syscall_resolve_name(name);
	req.data.args[0] = a0;
	req.data.args[1] = a1;
	req.data.args[2] = a2;
	return bld_creds_handle(name, &req, resp);
}

/* The emulated real, effective and saved UIDs (or GIDs): false when the
 * kernel answers (nothing emulated yet). */
static bool read_ids(bool uid, uint32_t out[3])
{
	struct seccomp_notif_resp resp;

	if (!cred_call(uid ? "getresuid" : "getresgid", addr_of(&res[0]), addr_of(&res[1]),
		       addr_of(&res[2]), &resp))
		__builtin_trap();
	if (resp.flags & SECCOMP_USER_NOTIF_FLAG_CONTINUE)
		return false;
	if (resp.error)
		__builtin_trap();
	memcpy(out, res, sizeof(res));
	return true;
}

static bool held(uint32_t id, const uint32_t set[3])
{
	return id == set[0] || id == set[1] || id == set[2];
}

static void check_creds(struct in *in, bool as_root)
{
	bool keepcaps = false;
	unsigned n = (unsigned)take(in, 1) % 24;

	bld_creds_start_as_root(as_root);
	bld_creds_reset();
	for (unsigned i = 0; i < n; i++) {
		const char *name = cred_calls[take(in, 1) % ARRAY_SIZE(cred_calls)];
		uint64_t a[3] = {(uint32_t)take(in, 4), (uint32_t)take(in, 4),
				 (uint32_t)take(in, 4)};
		uint32_t before_u[3], before_g[3], after[3];
		struct seccomp_notif_resp resp;
		bool have_u, have_g, priv;

		if (streq(name, "setgroups") || streq(name, "getgroups")) {
			/* a[0] groups from a[1] on */
			for (size_t k = 0; k < ARRAY_SIZE(groups); k++)
				groups[k] = (uint32_t)a[1] + (uint32_t)k;
			a[1] = addr_of(groups);
		}
		if (streq(name, "prctl")) {
			a[0] = 8; /* PR_SET_KEEPCAPS */
			keepcaps = keepcaps || a[1] != 0;
		}
		have_u = read_ids(true, before_u);
		have_g = read_ids(false, before_g);
		if (!cred_call(name, a[0], a[1], a[2], &resp))
			__builtin_trap(); /* every one of these is answered */
		if (resp.error > 0 || resp.error < -4095)
			__builtin_trap();
		if (streq(name, "getgroups") && !resp.error && !resp.flags && resp.val > 64)
			__builtin_trap();
		priv = !have_u || before_u[1] == 0 || keepcaps;
		if (priv)
			continue;
		/* credentials(7): without privilege, only IDs already held */
		if (read_ids(true, after) &&
		    (!held(after[0], before_u) || !held(after[1], before_u) ||
		     !held(after[2], before_u)))
			__builtin_trap();
		if (have_g && read_ids(false, after) &&
		    (!held(after[0], before_g) || !held(after[1], before_g) ||
		     !held(after[2], before_g)))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t arches[] = {0, SCMP_ARCH_X86, SCMP_ARCH_X32, 0};
	struct in in = {data, size};
	struct seccomp_notif req;
	struct mem m;
	char *name;
	uint32_t flags = (uint32_t)take(&in, 1), arch;
	size_t strsize, argv_max, len;
	const uint8_t *v;

	memset(&req, 0, sizeof(req));
	arch = arches[flags & 3] ? arches[flags & 3] : seccomp_arch_native();
	req.data.arch = arch;
	req.data.nr = (int)take(&in, 2);
	if (flags & 4) {
		/* a call the supervisor answers, by name */
		int nr = seccomp_syscall_resolve_name_arch(
		    arch, file_calls[(unsigned)req.data.nr % ARRAY_SIZE(file_calls)]);
		req.data.nr = nr == __NR_SCMP_ERROR ? 0 : nr;
	} else {
		req.data.nr %= 1024;
	}
	for (int i = 0; i < 6; i++)
		req.data.args[i] = take(&in, 8);
	strsize = (size_t)take(&in, 2);
	m.first = strsize & 0x8000 ? 256 : SIZE_MAX;
	strsize = 1 + strsize % PATH_MAX;
	m.addr = MEM_BASE + take(&in, 2) % 8192;
	m.chunk = (size_t)take(&in, 2) % 5000;
	argv_max = 1 + (size_t)take(&in, 2) % 1024;
	m.efault = (flags & 8) != 0;

	v = take_bytes(&in, (size_t)take(&in, 1) % (XATTR_CAPS_SZ_3 + 1), &len);
	check_cap(v, len);
	v = take_bytes(&in, (size_t)take(&in, 1), &len);
	check_record(v, len);
	v = take_bytes(&in, (size_t)take(&in, 2) % 2048, &len);
	check_stat(v, len);
	if (flags & 0x40) {
		check_creds(&in, (flags & 0x80) != 0);
	}

	m.bytes = in.p;
	m.len = in.n;
	m.eio_page = flags & 0x10 ? (m.addr + m.len / 2) / 4096 : 0;
	if (m.eio_page * 4096 <= m.addr)
		m.eio_page = 0; /* the first page maps: a later one fails */

	name = seccomp_syscall_resolve_num_arch(arch, req.data.nr);
	check_decode(arch, name, &req);
	if (name) {
		struct bld_seccomp_call c;
		bld_seccomp_decode(name, &req, &c);
		if (c.has_path)
			check_path(&m, c.path, strsize);
	}
	check_argv(&m, req.data.args[1], argv_max);
	/* and from every argument, as any call's path */
	if (flags & 0x20)
		for (int i = 0; i < 6; i++)
			check_path(&m, req.data.args[i], strsize);
	free(name);
	return 0;
}
