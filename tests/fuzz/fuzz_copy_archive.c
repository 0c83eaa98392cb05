/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: ADD of a local file holding arbitrary bytes (a tar in
 * any compression, or not an archive at all) into a temp rootfs, with the
 * single-UID ownership records. Anything may be refused; nothing may crash,
 * leak, or land outside the rootfs (checked: the parent folder holds only
 * the context and the rootfs).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/copy.h"

static char parent[64], ctx[96], root[96];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *srcs[] = {"in"};
	struct bld_copy_opts o;
	struct nib_error err = {0};
	int fd, ctxfd, rootfd;

	if (!parent[0]) {
		snprintf(parent, sizeof(parent), "/tmp/nib-fuzz-copy.%d", (int)getpid());
		mkdir(parent, 0700);
		snprintf(ctx, sizeof(ctx), "%s/ctx", parent);
		snprintf(root, sizeof(root), "%s/rootfs", parent);
		mkdir(ctx, 0755);
		setenv("NIB_LAYER_MAX_SIZE", "8388608", 1);
		setenv("NIB_LAYER_MAX_ENTRIES", "2000", 1);
		nib_log_setup(NIB_LOG_ERROR, NIB_LOG_TEXT);
	}
	mkdir(root, 0755);
	ctxfd = open(ctx, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = openat(ctxfd, "in", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (ctxfd < 0 || rootfd < 0 || fd < 0 || (size && nib_write_all(fd, data, size) < 0))
		abort();
	close(fd);
	bld_copy_opts_init(&o);
	o.add = true;
	o.srcs = srcs;
	o.n_srcs = 1;
	o.dest = size && (data[size - 1] & 1) ? "/opt/" : "/";
	o.src_fd = ctxfd;
	o.chown_mode = BLD_COPY_CHOWN_XATTR;
	(void)bld_copy_run(&o, rootfd, NULL, &err);
	nib_err_clear(&err);
	close(ctxfd);
	close(rootfd);
	DIR *d = opendir(parent);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
		    !streq(de->d_name, "rootfs") && !streq(de->d_name, "ctx"))
			abort();
	if (d)
		closedir(d);
	if (nib_rm_rf_at(AT_FDCWD, root, NULL) < 0)
		abort();
	return 0;
}
