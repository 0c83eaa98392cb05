/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib build's option values: each parsed into struct bld_build_opts with a
 * one-line usage error naming the option (used by builder/cmd_build.c).
 */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/stat.h>

#include "builder/build.h"
#include "builder/builder.h"

int bld_opt_build_arg(const struct bld_command *self, struct bld_build_opts *o, const char *a,
		      struct nib_error *err)
{
	const char *eq = strchr(a, '=');

	if (!*a || eq == a)
		return bld_usage_error(self, err, "build: bad --build-arg \"%s\" (K=V or K)", a);
	if (!eq) {
		const char *v = getenv(a);
		if (v)
			nib_strv_pushf(&o->build_args, "%s=%s", a, v);
		return 0; /* Docker: an unset variable is ignored */
	}
	nib_strv_push(&o->build_args, a);
	return 0;
}

int bld_opt_build_arg_file(const struct bld_command *self, struct bld_build_opts *o,
			   const char *path, struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;
	char *save = NULL;

	if (nib_read_file_at(AT_FDCWD, path, 1 << 20, &data, NULL, err) < 0)
		return nib_err_wrap(err, "--build-arg-file %s", path);
	for (char *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		while (*l == ' ' || *l == '\t')
			l++;
		size_t n = strlen(l);
		while (n && (l[n - 1] == '\r' || l[n - 1] == ' '))
			l[--n] = '\0';
		if (!*l || *l == '#')
			continue;
		if (bld_opt_build_arg(self, o, l, err) < 0)
			return -1;
	}
	return 0;
}

int bld_opt_output(const struct bld_command *self, struct bld_build_opts *o, const char *s,
		   struct nib_error *err)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;
	struct bld_output out = {.type = BLD_OUT_LOCAL, .fd = -1};
	bool have_type = false;

	if (streq(s, "-")) { /* Docker and buildah: a tar of the rootfs on stdout */
		out.type = BLD_OUT_TAR;
		out.dest = xstrdup("-");
		goto add;
	}
	if (!strchr(s, '=')) { /* buildah: a bare path is a local output */
		out.dest = xstrdup(s);
		goto add;
	}
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (nib_str_has_prefix(t, "type=")) {
			have_type = true;
			if (streq(t + 5, "oci"))
				out.type = BLD_OUT_OCI;
			else if (streq(t + 5, "docker-archive") || streq(t + 5, "docker"))
				out.type = BLD_OUT_DOCKER_ARCHIVE;
			else if (streq(t + 5, "local"))
				out.type = BLD_OUT_LOCAL;
			else if (streq(t + 5, "tar"))
				out.type = BLD_OUT_TAR;
			else
				goto bad;
		} else if (nib_str_has_prefix(t, "dest=")) {
			free(out.dest);
			out.dest = xstrdup(t + 5);
		} else {
			goto bad;
		}
	}
	if (!have_type || !out.dest || !*out.dest)
		goto bad;
	if (streq(out.dest, "-") && out.type != BLD_OUT_TAR) {
		free(out.dest);
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "build: --output %s: only type=tar can go to standard output", s);
	}
add:
	o->outputs = xrealloc(o->outputs, (o->n_outputs + 1) * sizeof(*o->outputs));
	o->outputs[o->n_outputs++] = out;
	return 0;
bad:
	free(out.dest);
	return bld_usage_error(
	    self, err, "build: bad --output \"%s\" (type=oci|docker-archive|local|tar,dest=PATH)",
	    s);
}

/* --env K=V | K (buildah: K alone takes the value from the environment,
 * empty when unset). */
int bld_opt_env(struct bld_build_opts *o, const char *a, struct nib_error *err)
{
	const char *eq = strchr(a, '=');

	if (!*a || eq == a)
		return nib_err(err, NIB_ERR_USAGE, 0, "build: bad --env \"%s\" (K=V or K)", a);
	if (eq) {
		nib_strv_push(&o->env, a);
	} else {
		const char *v = getenv(a);
		nib_strv_pushf(&o->env, "%s=%s", a, v ? v : "");
	}
	return 0;
}

/* --cap-add/--cap-drop take CAP[,CAP...] and repeat. */
/* A comma-separated list's items (empty ones dropped). */
void bld_opt_list(struct nib_strv *sv, const char *a)
{
	_cleanup_free_ char *copy = xstrdup(a);
	char *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		nib_strv_push(sv, t);
}

/* "ALL", "NET_ADMIN", "CAP_NET_ADMIN" (any case): what the runtime takes. */
bool bld_opt_cap_known(const char *name)
{
	_cleanup_free_ char *low = NULL;
	cap_value_t v;

	if (strcasecmp(name, "ALL") == 0)
		return true;
	low = strncasecmp(name, "CAP_", 4) == 0 ? xstrdup(name) : xasprintf("cap_%s", name);
	for (char *p = low; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return cap_from_name(low, &v) == 0 && v >= 0 && v < 64;
}

/* --platform with --os/--arch/--variant over it (buildah). */
char *bld_opt_platform(const char *platform, const char *os, const char *arch, const char *variant)
{
	const char *hos, *harch, *hvar;
	_cleanup_free_ char *p = NULL, *po = NULL, *pa = NULL, *pv = NULL;

	if (!os && !arch && !variant)
		return platform ? xstrdup(platform) : NULL;
	stg_platform_host(&hos, &harch, &hvar);
	if (platform) {
		char *save = NULL;
		p = xstrdup(platform);
		char *a = strtok_r(p, "/", &save), *b = strtok_r(NULL, "/", &save),
		     *c = strtok_r(NULL, "/", &save);
		po = a ? xstrdup(a) : NULL;
		pa = b ? xstrdup(b) : NULL;
		pv = c ? xstrdup(c) : NULL;
	}
	os = os ? os : po ? po : hos;
	arch = arch ? arch : pa ? pa : harch;
	if (!variant)
		variant = pv ? pv : (streq(arch, harch) ? hvar : NULL);
	return variant && *variant ? xasprintf("%s/%s/%s", os, arch, variant)
				   : xasprintf("%s/%s", os, arch);
}

/* -f -: the Containerfile from standard input, kept in a temporary folder
 * for the build (buildah does the same). */
int bld_opt_file_stdin(char **dir, char **file, struct nib_error *err)
{
	const char *tmp = getenv("TMPDIR");
	_cleanup_free_ char *d = xasprintf("%s/nib-stdin-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	_cleanup_buf_ struct nib_buf b = {0};
	char chunk[65536];
	ssize_t n;

	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return nib_err(err, NIB_ERR_IO, errno, "-f -: read standard input");
		}
		nib_buf_append(&b, chunk, (size_t)n);
		if (b.len > CF_MAX_FILE_SIZE)
			return nib_err(err, NIB_ERR_USAGE, EFBIG,
				       "-f -: larger than the %zu MiB allowed",
				       CF_MAX_FILE_SIZE >> 20);
	}
	if (!mkdtemp(d))
		return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", d);
	*file = nib_path_join(d, "Containerfile");
	if (nib_write_file_atomic_at(AT_FDCWD, *file, b.data ? b.data : "", b.len, 0600, err) < 0) {
		nib_rm_rf_at(AT_FDCWD, d, NULL);
		free(*file);
		*file = NULL;
		return -1;
	}
	*dir = steal_pointer(&d);
	return 0;
}

int bld_opt_secret(const struct bld_command *self, struct bld_build_opts *o, const char *s,
		   struct nib_error *err)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;
	struct bld_secret sec = {0};

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char **slot = nib_str_has_prefix(t, "id=")	 ? &sec.id
			      : nib_str_has_prefix(t, "src=")	 ? &sec.src
			      : nib_str_has_prefix(t, "source=") ? &sec.src
			      : nib_str_has_prefix(t, "env=")	 ? &sec.env
								 : NULL;
		if (nib_str_has_prefix(t, "type="))
			continue;
		if (!slot) {
			free(sec.id);
			free(sec.src);
			free(sec.env);
			return bld_usage_error(self, err, "build: bad --secret \"%s\"", s);
		}
		free(*slot);
		*slot = xstrdup(strchr(t, '=') + 1);
	}
	if (!sec.id || !*sec.id) {
		free(sec.src);
		free(sec.env);
		free(sec.id);
		return bld_usage_error(self, err, "build: --secret \"%s\" needs id=ID", s);
	}
	if (!sec.src && !sec.env)
		sec.env = xstrdup(sec.id); /* Docker: src defaults to the env var ID... */
	o->secrets = xrealloc(o->secrets, (o->n_secrets + 1) * sizeof(*o->secrets));
	o->secrets[o->n_secrets++] = sec;
	return 0;
}

/* -v/--volume SRC:DST[:OPTION,...] as buildah takes it: ro, rw, z, Z, U, O
 * and the bind options that change nothing here (propagation, nosuid...) */
int bld_opt_volume(const struct bld_command *self, struct bld_build_opts *o, const char *s,
		   struct nib_error *err)
{
	static const char *const no_effect[] = {"private", "rprivate", "shared", "rshared", "slave",
						"rslave",  "bind",     "rbind",	 "nosuid",  "suid",
						"nodev",   "dev",      "noexec", "exec"};
	_cleanup_free_ char *copy = xstrdup(s);
	char *dst = strchr(copy, ':'), *opts = NULL, *save = NULL;
	struct bld_volume v = {0};

	if (dst) {
		*dst++ = '\0';
		opts = strchr(dst, ':');
		if (opts)
			*opts++ = '\0';
	}
	if (!dst || copy[0] != '/' || dst[0] != '/')
		return bld_usage_error(self, err,
				       "build: bad --volume \"%s\" (SRC:DST[:OPTIONS], both "
				       "absolute paths)",
				       s);
	for (char *t = opts ? strtok_r(opts, ",", &save) : NULL; t;
	     t = strtok_r(NULL, ",", &save)) {
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(no_effect); i++)
			known = known || streq(t, no_effect[i]);
		if (streq(t, "ro") || streq(t, "rw"))
			v.ro = streq(t, "ro");
		else if (streq(t, "z") || streq(t, "Z"))
			v.relabel = t[0];
		else if (streq(t, "U"))
			v.chown = true;
		else if (streq(t, "O"))
			v.overlay = true;
		else if (!known)
			return bld_usage_error(self, err,
					       "build: bad --volume \"%s\": unknown option \"%s\" "
					       "(ro, rw, z, Z, U, O)",
					       s, t);
	}
	v.src = xstrdup(copy);
	v.dst = xstrdup(dst);
	o->volumes = xrealloc(o->volumes, (o->n_volumes + 1) * sizeof(*o->volumes));
	o->volumes[o->n_volumes++] = v;
	return 0;
}

/* --ssh default|ID[=PATH[,PATH...]] (buildah's and docker's form) */
int bld_opt_ssh(const struct bld_command *self, struct bld_build_opts *o, const char *s,
		struct nib_error *err)
{
	const char *eq = strchr(s, '=');
	struct bld_ssh ssh = {.id = eq ? xstrndup(s, (size_t)(eq - s)) : xstrdup(s)};
	bool bad = !*ssh.id || strpbrk(ssh.id, ", \t");

	for (const char *p = eq ? eq + 1 : NULL; p;
	     p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		size_t n = strcspn(p, ",");
		bad = bad || !n;
		nib_strv_push_take(&ssh.paths, xstrndup(p, n));
	}
	if (bad) {
		free(ssh.id);
		nib_strv_free(&ssh.paths);
		return bld_usage_error(self, err,
				       "build: bad --ssh \"%s\" (default, ID, ID=SOCKET or "
				       "ID=KEY[,KEY...])",
				       s);
	}
	o->ssh = xrealloc(o->ssh, (o->n_ssh + 1) * sizeof(*o->ssh));
	o->ssh[o->n_ssh++] = ssh;
	return 0;
}

/* A Go duration ("168h", "30m", "1h30m") or plain seconds. */
int bld_opt_ttl(const char *s, int64_t *out)
{
	uint64_t secs;
	int64_t ns;

	if (nib_parse_u64(s, &secs) == 0 && secs <= INT64_MAX) {
		*out = (int64_t)secs;
		return 0;
	}
	if (nib_parse_duration(s, &ns) < 0 || ns < 0)
		return -1;
	*out = ns / 1000000000;
	return 0;
}
