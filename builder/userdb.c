/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An image's /etc/passwd and /etc/group (builder/userdb.h): bounded
 * regular-file reads inside the rootfs, and runc's lookup rules.
 */
#include <fcntl.h>
#include <string.h>

#include "builder/userdb.h"

int bld_userdb_read(int rootfd, const char *path, char **data, struct nib_error *err)
{
	struct nib_error e = {0};
	_cleanup_free_ char *name = xasprintf("the image's /%s", path);

	*data = NULL;
	if (nib_read_regular_in_root(rootfd, path, name, BLD_USERDB_MAX, data, NULL, &e) == 0)
		return 0;
	if (e.errnum == ENOENT || e.errnum == ENOTDIR) {
		nib_err_clear(&e);
		*data = xstrdup("");
		return 0;
	}
	if (e.errnum == EFBIG) {
		nib_err_clear(&e);
		return nib_err(err, NIB_ERR_IO, 0, "%s is larger than %zu MiB", name,
			       BLD_USERDB_MAX >> 20);
	}
	nib_err_move(err, &e);
	return -1;
}

/* The next line of `*p` split into at most `max` colon fields (in a copy
 * the caller frees); NULL at the end. */
static char *next_entry(const char **p, char **f, size_t max, size_t *n)
{
	const char *s = *p;
	char *line, *c;

	if (!s || !*s)
		return NULL;
	size_t len = strcspn(s, "\n");
	*p = s[len] ? s + len + 1 : s + len;
	line = xstrndup(s, len);
	*n = 0;
	for (c = line; *n < max;) {
		f[(*n)++] = c;
		c = strchr(c, ':');
		if (!c)
			break;
		*c++ = '\0';
	}
	return line;
}

static bool number(const char *s, uint32_t *out)
{
	uint64_t v;

	if (!s || nib_parse_u64(s, &v) < 0 || v > UINT32_MAX - 1)
		return false;
	*out = (uint32_t)v;
	return true;
}

int bld_userdb_find_name(const char *text, const char *name, uint32_t *id, uint32_t *id2)
{
	const char *p = text;
	char *f[7];
	size_t n;

	for (;;) {
		_cleanup_free_ char *line = next_entry(&p, f, 7, &n);
		if (!line)
			return 0;
		if (n < 3 || !streq(f[0], name) || !number(f[2], id))
			continue;
		if (id2 && !(n > 3 && number(f[3], id2)))
			*id2 = *id;
		return 1;
	}
}

int bld_userdb_lookup(const char *passwd, const char *group, const char *spec, uid_t *uid,
		      gid_t *gid, gid_t *groups, size_t *n_groups, char **home,
		      struct nib_error *err)
{
	_cleanup_free_ char *copy = xstrdup(spec && *spec ? spec : "0");
	_cleanup_free_ char *user_name = NULL;
	char *grp = strchr(copy, ':'), *f[7];
	size_t max_groups = *n_groups, ng = 0, n;
	const char *p;
	uint32_t num, u, g;
	bool numeric;

	*n_groups = 0;
	*home = NULL;
	if (grp)
		*grp++ = '\0';
	if (!*copy)
		return nib_err(err, NIB_ERR_USAGE, 0, "user '%s': empty user name", spec);
	/* runc: a number is matched against UIDs only, a name against names */
	numeric = number(copy, &num);
	p = passwd;
	for (;;) {
		_cleanup_free_ char *line = next_entry(&p, f, 7, &n);
		if (!line)
			break;
		if (n < 7 || !number(f[2], &u) || !number(f[3], &g))
			continue;
		if (numeric ? u != num : !streq(f[0], copy))
			continue;
		*uid = u;
		*gid = g;
		user_name = xstrdup(f[0]);
		*home = xstrdup(f[5]);
		break;
	}
	if (!user_name) {
		if (!numeric)
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "user %s: no such user in the image's /etc/passwd", copy);
		*uid = num;
		*gid = 0;
	}
	if (grp && *grp) {
		/* an explicit group: a GID, or a name with an entry; no
		 * supplementary groups then (runc) */
		if (number(grp, &num))
			*gid = num;
		else if (bld_userdb_find_name(group, grp, &num, NULL) == 1)
			*gid = num;
		else
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "group %s: no such group in the image's /etc/group", grp);
		return 0;
	}
	/* supplementary groups: the groups listing the user by name */
	p = user_name ? group : NULL;
	while (ng < max_groups) {
		_cleanup_free_ char *line = next_entry(&p, f, 4, &n);
		if (!line)
			break;
		if (n < 4 || !number(f[2], &num) || num == *gid)
			continue;
		for (char *m = f[3], *c; m; m = c) {
			c = strchr(m, ',');
			if (c)
				*c++ = '\0';
			if (streq(m, user_name)) {
				groups[ng++] = num;
				break;
			}
		}
	}
	*n_groups = ng;
	return 0;
}
