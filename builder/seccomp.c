/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container seccomp filter: refuses (EPERM) the system calls the
 * containers default profile (containers/common seccomp.json) does not
 * allow to an unprivileged container; routes device mknod, chown and chmod
 * to nib's supervisor (seccomp user notification; seccomp_notify.c records
 * the node and keeps records in step) in every ID map, and in single-UID
 * mode the credential and stat calls too (seccomp_creds.c), letting capset
 * succeed without effect.
 */
#define BLD_RUNTIME_INTERNAL 1
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <fcntl.h>

#include "builder/runtime_internal.h"

NIB_DEFINE_CLEANUP(scmp_filter_ctx, seccomp_release)

/* Not in the default profile's allow list (kernel module, clock, swap,
 * keyring, accounting, BPF, perf, handle, reboot, mount API and namespace
 * calls: a RUN step has no CAP_SYS_ADMIN in its user namespace). */
static const char *const refused[] = {
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "get_kernel_syms",
    "init_module",
    "ioperm",
    "iopl",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "nfsservctl",
    "open_by_handle_at",
    "perf_event_open",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "settimeofday",
    "stime",
    "swapon",
    "swapoff",
    "sysfs",
    "_sysctl",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "setns",
    "unshare",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "name_to_handle_at",
    "syslog",
    "kcmp",
    "lsm_set_self_attr",
};

/* Succeed without effect in single-UID mode. */
static const char *const faked[] = {"capset"};

/* Sent to the supervisor in every ID map: a file with an ownership
 * record (an emulated device node) keeps it in step; with a single UID
 * every chown is recorded. */
static const char *const owner_calls[] = {
    "chown",	"fchown", "lchown", "fchownat", "chown32",   "fchown32",
    "lchown32", "chmod",  "fchmod", "fchmodat", "fchmodat2",
};

/* Sent to the supervisor in single-UID mode. */
static const char *const notified[] = {
    /* credentials: seccomp_creds.c */
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setfsuid",
    "setfsgid",
    "setuid32",
    "setgid32",
    "setreuid32",
    "setregid32",
    "setresuid32",
    "setresgid32",
    "setfsuid32",
    "setfsgid32",
    "setgroups",
    "setgroups32",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "getuid32",
    "geteuid32",
    "getgid32",
    "getegid32",
    "getresuid32",
    "getresgid32",
    "getgroups32",
    "execve",
    "execveat",
    /* owners, modes and devices from the records: seccomp_notify.c */
    "stat",
    "lstat",
    "fstat",
    "newfstatat",
    "statx",
};

static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
		const struct scmp_arg_cmp *args)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0; /* unknown to this libseccomp */
	int ret = seccomp_rule_add_array(ctx, action, nr, n, args);
	/* EDOM/EEXIST: not on this architecture or already covered */
	return ret == 0 || ret == -EDOM || ret == -EEXIST || ret == -EINVAL ? 0 : ret;
}

bool bld_seccomp_notify_supported(void)
{
	return seccomp_api_get() >= 5;
}

/* The filter as libseccomp builds it (in *out, to release); `confine`:
 * with the refusals. */
static int filter_build(bool emulate_owner, bool confine, scmp_filter_ctx *out,
			struct nib_error *err)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int ret = 0;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return nib_err(err, NIB_ERR_ENV, 0, "seccomp: cannot create a filter");
#if defined(__x86_64__)
	seccomp_arch_add(ctx, SCMP_ARCH_X86);
	seccomp_arch_add(ctx, SCMP_ARCH_X32);
#elif defined(__aarch64__)
	seccomp_arch_add(ctx, SCMP_ARCH_ARM);
#endif
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); /* nib sets it itself */

	for (size_t i = 0; confine && i < ARRAY_SIZE(refused) && ret == 0; i++)
		ret = rule(ctx, SCMP_ACT_ERRNO(EPERM), refused[i], 0, NULL);
	/* clone with a namespace flag, like unshare(2); clone3 cannot be
	 * inspected, so it reports ENOSYS and libc falls back to clone. */
	if (confine && ret == 0) {
		static const unsigned long nsflags[] = {CLONE_NEWNS,	CLONE_NEWUTS, CLONE_NEWIPC,
							CLONE_NEWUSER,	CLONE_NEWPID, CLONE_NEWNET,
							CLONE_NEWCGROUP};
		for (size_t i = 0; i < ARRAY_SIZE(nsflags) && ret == 0; i++) {
			struct scmp_arg_cmp a = SCMP_A0(
			    SCMP_CMP_MASKED_EQ, (scmp_datum_t)nsflags[i], (scmp_datum_t)nsflags[i]);
			ret = rule(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &a);
		}
	}
	if (confine && ret == 0)
		ret = rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);

	if (emulate_owner && ret == 0) {
		for (size_t i = 0; i < ARRAY_SIZE(faked) && ret == 0; i++)
			ret = rule(ctx, SCMP_ACT_ERRNO(0), faked[i], 0, NULL);
		for (size_t i = 0; i < ARRAY_SIZE(notified) && ret == 0; i++)
			ret = rule(ctx, SCMP_ACT_NOTIFY, notified[i], 0, NULL);
		/* prctl(PR_SET_KEEPCAPS) for the credential emulation */
		if (ret == 0) {
			struct scmp_arg_cmp k = SCMP_A0(SCMP_CMP_EQ, PR_SET_KEEPCAPS);
			ret = rule(ctx, SCMP_ACT_NOTIFY, "prctl", 1, &k);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(owner_calls) && ret == 0; i++)
		ret = rule(ctx, SCMP_ACT_NOTIFY, owner_calls[i], 0, NULL);
	/* mknod/mknodat of a character or block device, in every ID map: the
	 * kernel refuses it in any user namespace, and the supervisor records
	 * it instead, so that the layer has the device node whoever builds */
	static const unsigned types[] = {S_IFCHR, S_IFBLK};
	for (size_t i = 0; i < ARRAY_SIZE(types) && ret == 0; i++) {
		struct scmp_arg_cmp a1 = SCMP_A1(SCMP_CMP_MASKED_EQ, S_IFMT, types[i]);
		struct scmp_arg_cmp a2 = SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT, types[i]);
		ret = rule(ctx, SCMP_ACT_NOTIFY, "mknod", 1, &a1);
		if (ret == 0)
			ret = rule(ctx, SCMP_ACT_NOTIFY, "mknodat", 1, &a2);
	}
	if (ret < 0)
		return nib_err(err, NIB_ERR_ENV, -ret, "seccomp: building the filter");
	*out = steal_pointer(&ctx);
	return 0;
}

int bld_seccomp_export(bool emulate_owner, bool confine, int fd, struct nib_error *err)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int ret;

	if (filter_build(emulate_owner, confine, &ctx, err) < 0)
		return -1;
	ret = seccomp_export_bpf(ctx, fd);
	if (ret < 0)
		return nib_err(err, NIB_ERR_ENV, -ret, "seccomp: exporting the filter");
	return 0;
}

/* The same programs built at build time (builder/gen/seccomp_bpf_gen.c):
 * plain, with ownership emulation, and the emulation without refusals;
 * absent (NULL) from binaries linked without it, such as unit tests. */
extern const struct bld_seccomp_bpf bld_seccomp_prebuilt[3] __attribute__((weak));

int bld_seccomp_load(bool emulate_owner, int *notify_fd, struct nib_error *err)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	int ret;

	*notify_fd = -1;
	if (bld_seccomp_prebuilt) {
		/* what seccomp_load does with this filter: the listener flag
		 * when it notifies, nothing else (no_new_privs is nib's) */
		int r = bld_seccomp_load_bpf(&bld_seccomp_prebuilt[emulate_owner ? 1 : 0],
					     SECCOMP_FILTER_FLAG_NEW_LISTENER, err);
		if (r < 0)
			return -1;
		*notify_fd = r;
		return 0;
	}
	if (filter_build(emulate_owner, true, &ctx, err) < 0)
		return -1;
	if (bld_seccomp_needs_nnp() && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "no_new_privs");
	ret = seccomp_load(ctx);
	if (ret < 0)
		return nib_err(err, NIB_ERR_ENV, -ret, "seccomp: loading the filter");
	*notify_fd = seccomp_notify_fd(ctx);
	if (*notify_fd < 0)
		return nib_err(err, NIB_ERR_ENV, 0, "seccomp: no user-notification listener");
	return 0;
}

bool bld_seccomp_needs_nnp(void)
{
	cap_t caps;
	cap_flag_value_t admin = CAP_CLEAR;

	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		return false; /* set already (by the pod, or by the caller) */
	caps = cap_get_proc();
	if (caps)
		cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &admin);
	cap_free(caps);
	return admin != CAP_SET;
}

int bld_seccomp_load_bpf(const struct bld_seccomp_bpf *f, unsigned flags, struct nib_error *err)
{
	struct sock_fprog prog = {.len = (unsigned short)f->len,
				  .filter = (struct sock_filter *)f->insns};
	long r;

	if (f->len == 0)
		return 0;
	/* seccomp(2): without CAP_SYS_ADMIN in its user namespace a process
	 * may only filter itself under no_new_privs, which also keeps setuid
	 * programs from elevating: only then */
	if (bld_seccomp_needs_nnp() && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "no_new_privs");
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	if (r < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "seccomp: loading the filter");
	return (int)r;
}

int bld_seccomp_ctx_bpf(void *ctx, struct bld_seccomp_bpf *out, struct nib_error *err)
{
	_cleanup_close_ int fd = memfd_create("nib-bpf", MFD_CLOEXEC);
	_cleanup_free_ char *data = NULL;
	char path[64];
	size_t len = 0;
	int ret;

	if (fd < 0)
		return nib_err(err, NIB_ERR_ENV, errno, "seccomp: memfd");
	ret = seccomp_export_bpf((scmp_filter_ctx)ctx, fd);
	if (ret < 0)
		return nib_err(err, NIB_ERR_ENV, -ret, "seccomp: exporting the filter");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (nib_read_file_at(AT_FDCWD, path, 1 << 22, &data, &len, err) < 0)
		return -1;
	if (len % sizeof(struct sock_filter) != 0 ||
	    len / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "seccomp: the filter has more than %d instructions", BPF_MAXINSNS);
	out->len = len / sizeof(struct sock_filter);
	out->insns = steal_pointer(&data);
	return 0;
}

int bld_seccomp_compile_emulation(bool emulate_owner, struct bld_seccomp_bpf *out,
				  struct nib_error *err)
{
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;

	*out = (struct bld_seccomp_bpf){0};
	if (emulate_owner && bld_seccomp_prebuilt) {
		const struct bld_seccomp_bpf *f = &bld_seccomp_prebuilt[2];
		*out = (struct bld_seccomp_bpf){
		    .insns = xmemdup(f->insns, f->len * sizeof(struct sock_filter)), .len = f->len};
		return 0;
	}
	if (filter_build(emulate_owner, false, &ctx, err) < 0)
		return -1;
	return bld_seccomp_ctx_bpf(ctx, out, err);
}
