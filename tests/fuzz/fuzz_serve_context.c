/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: nib serve's intake of a submitted context archive
 * (tar, tar.gz, tar.zst...), checked entry by entry with small limits, and
 * unpacked into a scratch folder when it passes: nothing may land outside
 * that folder.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[] = "/tmp/nib-fuzz-serve-XXXXXX";
	static int made;
	struct nib_error err = {0};

	if (!made && !mkdtemp(dir))
		return 0;
	made = 1;
	if (bld_srv_context_check(data, size, 1 << 20, 1000, &err) == 0) {
		int fd = memfd_create("ctx", MFD_CLOEXEC);
		char *into = xasprintf("%s/ctx", dir);
		if (fd >= 0 && nib_write_all(fd, data, size) == 0 && lseek(fd, 0, SEEK_SET) == 0 &&
		    mkdir(into, 0700) == 0)
			(void)bld_srv_context_unpack(fd, into, 1 << 20, 1000, NULL);
		(void)nib_rm_rf_at(AT_FDCWD, into, NULL);
		if (fd >= 0)
			close(fd);
		free(into);
	}
	nib_err_clear(&err);
	return 0;
}
