/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: memory and pids limits of whole builds through cgroup v2,
 * when the service's own cgroup is delegated to it (a systemd unit with
 * Delegate=yes, a pod whose cgroup is writable). The service moves itself
 * to a leaf "service" (cgroup v2 lets only leaves hold processes), enables
 * the memory and pids controllers for its folder's children, and puts each
 * build's processes in a child "nib-build-ID" with memory.max,
 * memory.swap.max and pids.max.
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

static int write_str(const char *path, const char *v)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, v, strlen(v)) < 0)
		return -1;
	return 0;
}

char *bld_srv_cgroup_setup_at(struct bld_srv *s, const char *mount, const char *self)
{
	if (!s->cfg.memory_max && !s->cfg.pids_max)
		return NULL;
	/* cgroup v2's line in /proc/self/cgroup: "0::/PATH" */
	const char *line = strstr(self, "0::/");
	if (!line || (line != self && line[-1] != '\n'))
		return NULL;
	line += 3;
	_cleanup_free_ char *path = xstrndup(line, strcspn(line, "\n"));
	if (streq(path, "/")) {
		log_info("serve: the service runs in the root cgroup: builds get nib build's "
			 "limits only");
		return NULL;
	}
	if (strstr(path, "/../") || nib_str_has_suffix(path, "/.."))
		return NULL;
	_cleanup_free_ char *dir = xasprintf("%s%s", mount, path);
	_cleanup_free_ char *leaf = xasprintf("%s/service", dir);
	_cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", leaf);
	_cleanup_free_ char *ctl = xasprintf("%s/cgroup.subtree_control", dir);
	if ((mkdir(leaf, 0755) < 0 && errno != EEXIST) || write_str(procs, "0") < 0 ||
	    write_str(ctl, "+memory +pids") < 0) {
		log_info("serve: cgroup %s is not delegated to the service (%s): builds get nib "
			 "build's limits only",
			 dir, strerror(errno));
		return NULL;
	}
	return steal_pointer(&dir);
}

char *bld_srv_cgroup_setup(struct bld_srv *s)
{
	_cleanup_free_ char *text = NULL;
	struct statfs fs;
	size_t len;

	if (!s->cfg.memory_max && !s->cfg.pids_max)
		return NULL;
	if (statfs("/sys/fs/cgroup", &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC) {
		log_info("serve: /sys/fs/cgroup is no cgroup v2 hierarchy: builds get nib "
			 "build's limits only");
		return NULL;
	}
	if (nib_read_file_at(AT_FDCWD, "/proc/self/cgroup", 65536, &text, &len, NULL) < 0)
		return NULL;
	return bld_srv_cgroup_setup_at(s, "/sys/fs/cgroup", text);
}

int bld_srv_cgroup_open(struct bld_srv_job *j, char **path)
{
	struct bld_srv *s = j->s;
	struct {
		const char *file;
		uint64_t value;
	} lim[] = {{"memory.max", s->cfg.memory_max}, {"pids.max", s->cfg.pids_max}};
	char v[32];
	int fd = -1;

	*path = NULL;
	if (!s->cgroup)
		return -1;
	*path = xasprintf("%s/nib-build-%s", s->cgroup, j->b.id);
	bool ok = mkdir(*path, 0755) == 0 || errno == EEXIST;
	for (size_t i = 0; ok && i < ARRAY_SIZE(lim); i++) {
		if (!lim[i].value)
			continue;
		_cleanup_free_ char *f = xasprintf("%s/%s", *path, lim[i].file);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)lim[i].value);
		ok = write_str(f, v) == 0;
	}
	if (ok && s->cfg.memory_max) {
		/* no swapping past the limit (the file is absent without swap
		 * accounting) */
		_cleanup_free_ char *f = xasprintf("%s/memory.swap.max", *path);
		ok = write_str(f, "0") == 0 || errno == ENOENT;
	}
	if (ok) {
		_cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", *path);
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	log_warn("serve: build %s: cgroup %s: %s; nib build's limits only", j->b.id, *path,
		 strerror(errno));
	rmdir(*path);
	free(*path);
	*path = NULL;
	return -1;
}

bool bld_srv_cgroup_oom(const char *path)
{
	_cleanup_free_ char *f = xasprintf("%s/memory.events", path);
	_cleanup_free_ char *text = NULL;
	size_t len;

	if (nib_read_file_at(AT_FDCWD, f, 65536, &text, &len, NULL) < 0)
		return false;
	for (const char *p = text; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (nib_str_has_prefix(p, "oom_kill "))
			return atoll(p + 9) > 0;
	return false;
}
