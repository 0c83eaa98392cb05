/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary bytes as an oci-archive and as a
 * docker-archive imported into a store (storage/import.c: tar unpacking,
 * index.json, manifest.json, documents and blobs). Anything may be refused;
 * nothing may crash or leak, nothing may land outside the store's work
 * folder (checked: the store's parent holds only the store and the input),
 * and the work folders are gone afterwards.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/storage.h"

static char parent[64], root[96], input[96], tmpdir[128];
static struct stg_store *st;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nib_error err = {0};
	struct stg_import_result res = {0};
	int fd;

	if (!st) {
		snprintf(parent, sizeof(parent), "/tmp/nib-fuzz-import.%d", (int)getpid());
		mkdir(parent, 0700);
		snprintf(root, sizeof(root), "%s/root", parent);
		snprintf(input, sizeof(input), "%s/input.tar", parent);
		snprintf(tmpdir, sizeof(tmpdir), "%s/nib/tmp", root);
		nib_log_setup(NIB_LOG_ERROR, NIB_LOG_TEXT);
		if (stg_store_open(root, &st, &err) < 0)
			abort();
	}
	fd = open(input, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && nib_write_all(fd, data, size) < 0))
		abort();
	close(fd);
	if (stg_import_oci_archive(st, input, NULL, NULL, &res, &err) == 0)
		stg_import_result_clear(&res);
	nib_err_clear(&err);
	if (stg_import_docker_archive(st, input, NULL, &res, &err) == 0)
		stg_import_result_clear(&res);
	nib_err_clear(&err);
	/* nothing beside the store and the input; no work folder left */
	DIR *d = opendir(parent);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
		    !streq(de->d_name, "root") && !streq(de->d_name, "input.tar"))
			abort();
	if (d)
		closedir(d);
	d = opendir(tmpdir);
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, "import-", 7))
			abort();
	if (d)
		closedir(d);
	return 0;
}
