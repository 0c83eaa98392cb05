/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: layer extraction of arbitrary bytes (tar, gzip or zstd)
 * into a temp folder, both whiteout forms. Anything may be refused; nothing
 * may crash, leak, or land outside the folder (checked: the folder's
 * parent holds nothing but the folder).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "storage/storage.h"

static char parent[64];
static char root[96];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stg_extract_opts o = {0};
	struct nib_error err = {0};
	int fd, rootfd;

	if (!parent[0]) {
		snprintf(parent, sizeof(parent), "/tmp/nib-fuzz-layer.%d", (int)getpid());
		mkdir(parent, 0700);
		snprintf(root, sizeof(root), "%s/rootfs", parent);
	}
	nib_log_setup(NIB_LOG_ERROR, NIB_LOG_TEXT);
	mkdir(root, 0755);
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = memfd_create("layer", MFD_CLOEXEC);
	if (rootfd < 0 || fd < 0 || (size && nib_write_all(fd, data, size) < 0))
		abort();
	lseek(fd, 0, SEEK_SET);
	stg_layer_limits_default(&o.limits);
	o.limits.max_size = 8u << 20;
	o.limits.max_entries = 2000;
	o.whiteouts = size && (data[size - 1] & 1) ? STG_WHITEOUT_APPLY : STG_WHITEOUT_OVERLAY;
	o.name = "fuzz";
	(void)stg_layer_extract_fd(rootfd, fd, &o, NULL, &err);
	nib_err_clear(&err);
	close(fd);
	close(rootfd);
	/* nothing beside the rootfs */
	DIR *d = opendir(parent);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
		    !streq(de->d_name, "rootfs"))
			abort();
	if (d)
		closedir(d);
	if (nib_rm_rf_at(AT_FDCWD, root, NULL) < 0)
		abort();
	return 0;
}
