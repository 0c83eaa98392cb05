/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: a build context archive of arbitrary bytes (a tar in
 * any compression, or not an archive) extracted as `nib build -` and a tar
 * CONTEXT do it. Anything may be refused; nothing may crash, leak, or land
 * outside the context folder (checked: the parent folder holds only the
 * input and the context).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/context.h"

static char parent[64], ctx[96], in[96];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nib_error err = {0};
	DIR *d;
	struct dirent *de;
	int fd;

	if (!parent[0]) {
		snprintf(parent, sizeof(parent), "/tmp/nib-fuzz-context.%d", (int)getpid());
		mkdir(parent, 0700);
		snprintf(ctx, sizeof(ctx), "%s/context", parent);
		snprintf(in, sizeof(in), "%s/in", parent);
		setenv("NIB_LAYER_MAX_SIZE", "8388608", 1);
		setenv("NIB_LAYER_MAX_ENTRIES", "2000", 1);
		nib_log_setup(NIB_LOG_ERROR, NIB_LOG_TEXT);
	}
	if (mkdir(ctx, 0755) < 0)
		abort();
	fd = open(in, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && nib_write_all(fd, data, size) < 0))
		abort();
	(void)bld_context_extract(fd, ctx, "fuzz", NULL, &err);
	nib_err_clear(&err);
	close(fd);
	d = opendir(parent);
	while (d && (de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
		    !streq(de->d_name, "context") && !streq(de->d_name, "in"))
			abort();
	if (d)
		closedir(d);
	if (nib_rm_rf_at(AT_FDCWD, ctx, NULL) < 0)
		abort();
	return 0;
}
