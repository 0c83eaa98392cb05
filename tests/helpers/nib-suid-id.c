/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib-suid-id: what a setuid program gets, run inside a RUN step (linked
 * statically: test images have no libc). Installed setuid root in a test
 * image, it shows whether exec elevated it, as sudo or su would need:
 *
 *   nib-suid-id     prints "ruid=R euid=E nnp=0|1"
 */
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(void)
{
	printf("ruid=%u euid=%u nnp=%d\n", (unsigned)getuid(), (unsigned)geteuid(),
	       prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	return 0;
}
