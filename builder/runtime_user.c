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
#include <sys/random.h>
#include <time.h>

#include "builder/runtime.h"

/* containers.conf default_capabilities */
static const cap_value_t default_caps[] = {
    CAP_CHOWN,	 CAP_DAC_OVERRIDE, CAP_FOWNER,	CAP_FSETID, CAP_KILL,	    CAP_NET_BIND_SERVICE,
    CAP_SETFCAP, CAP_SETGID,	   CAP_SETPCAP, CAP_SETUID, CAP_SYS_CHROOT,
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

/* ---- /etc/passwd and /etc/group of the rootfs ----------------------------- */

/* Split a colon line into at most `max` fields in place. */
static size_t fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	line[strcspn(line, "\n")] = '\0';
	while (n < max) {
		f[n++] = line;
		line = strchr(line, ':');
		if (!line)
			break;
		*line++ = '\0';
	}
	return n;
}

static bool is_number(const char *s, uint32_t *out)
{
	uint64_t v;
	if (nib_parse_u64(s, &v) < 0 || v > UINT32_MAX - 1)
		return false;
	*out = (uint32_t)v;
	return true;
}

int bld_user_resolve(const char *spec, uid_t *uid, gid_t *gid, gid_t *groups, size_t *n_groups,
		     char **home, struct nib_error *err)
{
	_cleanup_free_ char *copy = xstrdup(spec && *spec ? spec : "0");
	_cleanup_free_ char *user_name = NULL;
	char *group = strchr(copy, ':'), line[4096], *f[8];
	size_t max_groups = *n_groups, ng = 0;
	bool found = false;
	uint32_t num;
	FILE *fp;

	*n_groups = 0;
	*home = NULL;
	if (group)
		*group++ = '\0';
	if (!*copy)
		return nib_err(err, NIB_ERR_USAGE, 0, "user '%s': empty user name", spec);

	fp = fopen("/etc/passwd", "re");
	while (fp && fgets(line, sizeof(line), fp)) {
		if (fields(line, f, 7) < 7)
			continue;
		if (streq(f[0], copy) || (is_number(copy, &num) && streq(f[2], copy))) {
			uint32_t u, g;
			if (!is_number(f[2], &u) || !is_number(f[3], &g))
				continue;
			*uid = u;
			*gid = g;
			user_name = xstrdup(f[0]);
			*home = xstrdup(f[5]);
			found = true;
			break;
		}
	}
	if (fp)
		fclose(fp);
	if (!found) {
		if (!is_number(copy, &num))
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "user %s: no such user in the image's /etc/passwd", copy);
		*uid = num;
		*gid = 0;
	}
	if (group && *group) {
		bool gfound = is_number(group, &num);
		if (gfound)
			*gid = num;
		fp = fopen("/etc/group", "re");
		while (!gfound && fp && fgets(line, sizeof(line), fp)) {
			if (fields(line, f, 4) < 3 || !streq(f[0], group) || !is_number(f[2], &num))
				continue;
			*gid = num;
			gfound = true;
		}
		if (fp)
			fclose(fp);
		if (!gfound)
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "group %s: no such group in the image's /etc/group", group);
	}
	/* supplementary groups: the groups listing the user by name */
	if (user_name && (fp = fopen("/etc/group", "re"))) {
		while (ng < max_groups && fgets(line, sizeof(line), fp)) {
			char *save = NULL;
			if (fields(line, f, 4) < 4 || !is_number(f[2], &num))
				continue;
			for (char *m = strtok_r(f[3], ",", &save); m;
			     m = strtok_r(NULL, ",", &save))
				if (streq(m, user_name) && num != *gid) {
					groups[ng++] = num;
					break;
				}
		}
		fclose(fp);
	}
	*n_groups = ng;
	return 0;
}

/* ---- SELinux ----------------------------------------------------------- */

/* The context in `line` after "key =", quotes removed, with its level cut
 * off ("system_u:system_r:container_t"). */
static char *lxc_context(const char *text, const char *key)
{
	const char *p = text;
	size_t kl = strlen(key);

	while (p && *p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, key, kl) == 0) {
			const char *q = p + kl;
			while (*q == ' ' || *q == '\t' || *q == '=' || *q == '"')
				q++;
			size_t n = strcspn(q, "\"\n");
			_cleanup_free_ char *ctx = xstrndup(q, n);
			/* user:role:type[:level] */
			char *c = strchr(ctx, ':');
			c = c ? strchr(c + 1, ':') : NULL;
			c = c ? strchr(c + 1, ':') : NULL;
			if (c)
				*c = '\0';
			return steal_pointer(&ctx);
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

void bld_selinux_labels(char **exec_label, char **mount_label)
{
	_cleanup_free_ char *text = NULL, *proc = NULL, *file = NULL;
	unsigned c1, c2;

	*exec_label = *mount_label = NULL;
	if (is_selinux_enabled() <= 0)
		return;
	if (nib_read_file_at(AT_FDCWD, selinux_lxc_contexts_path(), 1 << 16, &text, NULL, NULL) ==
	    0) {
		proc = lxc_context(text, "process");
		file = lxc_context(text, "file");
	}
	/* two distinct MCS categories, as container engines pick them */
	do {
		unsigned r[2] = {0, 0};
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r[0] = (unsigned)getpid(), r[1] = (unsigned)time(NULL);
		c1 = r[0] % 1024;
		c2 = r[1] % 1024;
	} while (c1 == c2);
	if (c1 > c2) {
		unsigned t = c1;
		c1 = c2;
		c2 = t;
	}
	*exec_label =
	    xasprintf("%s:s0:c%u,c%u", proc ? proc : "system_u:system_r:container_t", c1, c2);
	*mount_label =
	    xasprintf("%s:s0:c%u,c%u", file ? file : "system_u:object_r:container_file_t", c1, c2);
}
