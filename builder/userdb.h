/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builder/userdb: an image's /etc/passwd and /etc/group. Read inside the
 * rootfs only, only as regular files of bounded size (a FIFO, a device or a
 * symlink out of the rootfs never hangs or feeds a build), and looked up
 * as runc and Docker do (libcontainer/user.GetExecUser): a number is a UID
 * or GID, never a name, even when an entry is named "1000".
 */
#ifndef NIB_BUILDER_USERDB_H
#define NIB_BUILDER_USERDB_H

#include <sys/types.h>

#include "common/common.h"

/* The largest /etc/passwd or /etc/group read. */
#define BLD_USERDB_MAX ((size_t)16 << 20)

/*
 * Read `path` ("etc/passwd") of the tree at `rootfd`, resolved inside it.
 * A missing file gives "" (*data is set); a FIFO, device, folder or a file
 * of more than BLD_USERDB_MAX bytes is an error naming /PATH.
 */
int bld_userdb_read(int rootfd, const char *path, char **data, struct nib_error *err);

/*
 * Resolve `spec` ("name", "uid", "name:group", "uid:gid"; NULL or "" is 0)
 * against the texts of /etc/passwd and /etc/group. A numeric user is a UID:
 * its passwd entry (matched by UID) gives the GID and home, else GID 0 and
 * no home. A name must have an entry. An explicit group (numeric: a GID;
 * else a name with an entry) sets the GID; without one, the groups that
 * list the user by name become the supplementary groups (at most
 * *n_groups of them; *n_groups is set to the count). *home is NULL or an
 * allocated string.
 */
int bld_userdb_lookup(const char *passwd, const char *group, const char *spec, uid_t *uid,
		      gid_t *gid, gid_t *groups, size_t *n_groups, char **home,
		      struct nib_error *err);

/* Look a user (file "etc/passwd") or group ("etc/group") up by name: 1 and
 * its ID (and, for a user, the GID in *id2) when found, 0 when not. */
int bld_userdb_find_name(const char *text, const char *name, uint32_t *id, uint32_t *id2);

#endif
