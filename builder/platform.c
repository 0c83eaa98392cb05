/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Platforms in builds: --platform's list, the check that a base image is
 * for the platform being built (buildah refuses nothing and only warns;
 * nib refuses when the platform was asked for, and warns as buildah does
 * when it was only the host's default), and what RUN for another
 * architecture needs (qemu-user-static through binfmt_misc).
 */
#include <fcntl.h>
#include <string.h>

#include "builder/builder.h"
#include "storage/storage.h"

int bld_platform_want(const char *platform, struct stg_platform *out, struct nib_error *err)
{
	if (!platform || !*platform) {
		stg_platform_host_get(out);
		return 0;
	}
	return stg_platform_parse(platform, out, err);
}

int bld_platform_list(const char *s, struct nib_strv *out, struct nib_error *err)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;

	if (!*s)
		return nib_err(err, NIB_ERR_USAGE, 0, "empty --platform");
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct stg_platform p = {0};
		_cleanup_free_ char *norm = NULL;
		if (stg_platform_parse(t, &p, err) < 0)
			return -1;
		norm = stg_platform_string(p.os, p.architecture, p.variant);
		stg_platform_clear(&p);
		if (nib_strv_find(out, norm) >= 0)
			return nib_err(err, NIB_ERR_USAGE, 0, "--platform %s: %s is named twice", s,
				       norm);
		nib_strv_push(out, norm);
	}
	if (s[strlen(s) - 1] == ',' || s[0] == ',' || strstr(s, ",,"))
		return nib_err(err, NIB_ERR_USAGE, 0, "bad --platform \"%s\" (an empty item)", s);
	return 0;
}

int bld_platform_check(const struct stg_image *img, const struct stg_platform *want, bool asked,
		       const char *what, struct nib_error *err)
{
	const struct stg_image_config *c = img->config;
	_cleanup_free_ char *have = NULL, *ws = NULL;

	if (stg_platform_score(want, c->os, c->architecture, c->variant) > 0)
		return 0;
	have = stg_platform_string(c->os, c->architecture, c->variant);
	ws = stg_platform_string(want->os, want->architecture, want->variant);
	if (!asked) {
		/* buildah's warning, and the image as it is */
		log_warn("%s: image platform (%s) does not match the expected platform (%s)", what,
			 have, ws);
		return 0;
	}
	return nib_err(err, NIB_ERR_NOT_FOUND, 0,
		       "%s: the image is for %s, not %s (--platform; a multi-platform image or "
		       "another base is needed)",
		       what, have, ws);
}

/* The name binfmt_misc entries of Debian's qemu-user-static have for an
 * OCI architecture. */
static const char *qemu_name(const char *arch)
{
	static const struct {
		const char *arch, *qemu;
	} map[] = {
	    {"amd64", "x86_64"},    {"arm64", "aarch64"},     {"arm", "arm"},
	    {"386", "i386"},	    {"ppc64le", "ppc64le"},   {"s390x", "s390x"},
	    {"riscv64", "riscv64"}, {"mips64le", "mips64el"}, {"loong64", "loongarch64"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (streq(map[i].arch, arch))
			return map[i].qemu;
	return arch;
}

bool bld_platform_native(const char *arch)
{
	const char *os, *harch, *hvar;

	stg_platform_host(&os, &harch, &hvar);
	if (streq(arch, harch))
		return true;
	/* what the host's CPU runs itself */
	return (streq(harch, "amd64") && streq(arch, "386")) ||
	       (streq(harch, "arm64") && streq(arch, "arm"));
}

int bld_platform_emulated(const char *arch, bool ptrace, struct nib_error *err)
{
	_cleanup_free_ char *entry = NULL, *data = NULL;
	const char *os, *harch, *hvar;
	const char *q = qemu_name(arch);

	if (bld_platform_native(arch))
		return 0;
	stg_platform_host(&os, &harch, &hvar);
	/* qemu's process under the ptrace isolation: its own system calls are
	 * the host's, its paths the guest's; nib does not trace it */
	if (ptrace)
		return nib_err(err, NIB_ERR_ENV, 0,
			       "RUN for linux/%s on this %s host is not supported under the ptrace "
			       "isolation (no user namespace can be made here): build that "
			       "platform where RUN gets namespaces, or leave RUN out of it",
			       arch, harch);
	entry = xasprintf("/proc/sys/fs/binfmt_misc/qemu-%s", q);
	if (nib_read_file_at(AT_FDCWD, entry, 4096, &data, NULL, NULL) == 0) {
		if (nib_str_has_prefix(data, "enabled"))
			return 1;
		return nib_err(err, NIB_ERR_ENV, 0,
			       "RUN for linux/%s on this %s host: %s is disabled (update-binfmts "
			       "--enable qemu-%s)",
			       arch, harch, entry, q);
	}
	if (access("/proc/sys/fs/binfmt_misc/status", F_OK) < 0)
		return 0; /* not visible here (a pod): the kernel may still have it */
	return nib_err(err, NIB_ERR_ENV, 0,
		       "RUN for linux/%s on this %s host needs qemu-user-static registered with "
		       "binfmt_misc (apt-get install qemu-user-static binfmt-support; %s is "
		       "missing)",
		       arch, harch, entry);
}

void bld_platform_explain_exec(const char *arch, struct nib_error *err)
{
	const char *os, *harch, *hvar;

	if (!arch || bld_platform_native(arch) || !err->msg ||
	    !strstr(err->msg, "Exec format error"))
		return;
	stg_platform_host(&os, &harch, &hvar);
	nib_err_wrap(err,
		     "RUN for linux/%s on this %s host needs qemu-user-static registered with "
		     "binfmt_misc on the host (apt-get install qemu-user-static binfmt-support)",
		     arch, harch);
}
