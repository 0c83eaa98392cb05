/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command's identity: user and groups from the rootfs's own
 * /etc/passwd and /etc/group (never the host's NSS), and the capability
 * set (the containers default, plus --cap-add, minus --cap-drop).
 */
#define BLD_RUNTIME_INTERNAL 1
#include <ctype.h>
#include <fcntl.h>
#include <selinux/selinux.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "builder/runtime_internal.h"
#include "builder/userdb.h"

const char *bld_rootfs_symlinked_mount(int rootfd)
{
	static const char *const mounts[] = BLD_NO_SYMLINK_MOUNTS;

	for (size_t i = 0; i < ARRAY_SIZE(mounts); i++) {
		struct stat st;
		if (fstatat(rootfd, mounts[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			return mounts[i];
	}
	return NULL;
}

/* containers.conf default_capabilities, plus CAP_MKNOD as Docker's
 * default set has it: RUN mknod of a device works, and its layer has the
 * node, in every ID map (seccomp_notify.c records it) */
static const cap_value_t default_caps[] = {
    CAP_CHOWN,	 CAP_DAC_OVERRIDE, CAP_FOWNER,	CAP_FSETID, CAP_KILL,	    CAP_NET_BIND_SERVICE,
    CAP_SETFCAP, CAP_SETGID,	   CAP_SETPCAP, CAP_SETUID, CAP_SYS_CHROOT, CAP_MKNOD,
};

static int cap_parse(const char *name, uint64_t *bits, struct nib_error *err)
{
	char low[64];
	cap_value_t v;
	size_t i = 0;

	if (strcasecmp(name, "ALL") == 0) {
		int last = (int)cap_max_bits();
		*bits = last >= 64 ? ~0ULL : (1ULL << last) - 1;
		return 0;
	}
	if (strncasecmp(name, "CAP_", 4) != 0)
		i = (size_t)snprintf(low, sizeof(low), "cap_");
	for (const char *p = name; *p && i < sizeof(low) - 1; p++)
		low[i++] = (char)tolower((unsigned char)*p);
	low[i] = '\0';
	if (cap_from_name(low, &v) < 0 || v < 0 || v >= 64)
		return nib_err(err, NIB_ERR_USAGE, 0, "unknown capability '%s'", name);
	*bits = 1ULL << v;
	return 0;
}

int bld_caps_mask(char *const *add, char *const *drop, uint64_t *mask, struct nib_error *err)
{
	uint64_t m = 0, b;

	for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
		m |= 1ULL << default_caps[i];
	for (size_t i = 0; drop && drop[i]; i++) {
		if (cap_parse(drop[i], &b, err) < 0)
			return -1;
		m &= ~b;
	}
	for (size_t i = 0; add && add[i]; i++) {
		if (cap_parse(add[i], &b, err) < 0)
			return -1;
		m |= b;
	}
	*mask = m;
	return 0;
}

int bld_caps_apply(uint64_t mask, bool set, char *why, size_t n)
{
	int last = (int)cap_max_bits();
	cap_t caps;

	for (int c = 0; c < last; c++)
		if (!(mask & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
		    errno != EINVAL) {
			snprintf(why, n, "drop capability %d from the bounding set: %s", c,
				 strerror(errno));
			return -1;
		}
	if (!set)
		return 0;
	caps = cap_init(); /* nothing inheritable */
	for (int c = 0; c < last; c++) {
		cap_value_t v = c;
		if (!(mask & (1ULL << c)))
			continue;
		cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET);
		cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET);
	}
	int r = cap_set_proc(caps);
	if (r < 0)
		snprintf(why, n, "set capabilities: %s", strerror(errno));
	cap_free(caps);
	return r < 0 ? -1 : 0;
}

/* ---- /etc/passwd and /etc/group of the rootfs ----------------------------- */

int bld_user_resolve(const char *spec, uid_t *uid, gid_t *gid, gid_t *groups, size_t *n_groups,
		     char **home, struct nib_error *err)
{
	_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *passwd = NULL, *group = NULL;

	if (root < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open /");
	if (bld_userdb_read(root, "etc/passwd", &passwd, err) < 0 ||
	    bld_userdb_read(root, "etc/group", &group, err) < 0)
		return -1;
	return bld_userdb_lookup(passwd, group, spec, uid, gid, groups, n_groups, home, err);
}
