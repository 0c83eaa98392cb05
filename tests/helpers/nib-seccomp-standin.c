/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib-seccomp-standin CMD [ARGS...]: run CMD under a seccomp filter that
 * refuses what containerd's RuntimeDefault profile and current CRI-O's
 * refuse to a container without CAP_SYS_ADMIN: unshare, clone with a
 * namespace flag, mount, umount2, chroot, pivot_root, setns (EPERM), and
 * clone3 (ENOSYS, so that libc falls back to clone). ptrace,
 * process_vm_readv/writev, seccomp, pidfd_open and prctl stay allowed, as
 * in those profiles, and so are the 32-bit calls they list (archMap).
 * no_new_privs is set, as in a restricted pod.
 *
 * A stand-in for tests until the real profiles are loaded: it checks
 * itself (unshare must fail with EPERM) before running CMD.
 */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static const char *const eperm[] = {"unshare",	  "mount",  "umount2", "chroot",
					    "pivot_root", "setns",  "fsopen",  "open_tree",
					    "move_mount", "fsmount"};
	static const unsigned long nsflags[] = {CLONE_NEWNS,	CLONE_NEWUTS, CLONE_NEWIPC,
						CLONE_NEWUSER,	CLONE_NEWPID, CLONE_NEWNET,
						CLONE_NEWCGROUP};
	scmp_filter_ctx ctx;
	int r = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CMD [ARGS...]\n", argv[0]);
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return 1;
		/* the profiles' archMap: 32-bit and x32 calls are filtered, not
		 * killed */
#if defined(__x86_64__)
	seccomp_arch_add(ctx, SCMP_ARCH_X86);
	seccomp_arch_add(ctx, SCMP_ARCH_X32);
#elif defined(__aarch64__)
	seccomp_arch_add(ctx, SCMP_ARCH_ARM);
#endif
	for (size_t i = 0; i < sizeof(eperm) / sizeof(eperm[0]) && r == 0; i++) {
		int nr = seccomp_syscall_resolve_name(eperm[i]);
		if (nr != __NR_SCMP_ERROR)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	for (size_t i = 0; i < sizeof(nsflags) / sizeof(nsflags[0]) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, nsflags[i], nsflags[i]));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		r = -errno;
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		fprintf(stderr, "nib-seccomp-standin: %s\n", strerror(-r));
		return 1;
	}
	if (unshare(CLONE_NEWUSER) == 0 || errno != EPERM) {
		fprintf(stderr, "nib-seccomp-standin: unshare was not refused\n");
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "nib-seccomp-standin: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
