/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --build-context NAME=VALUE (BuildKit's named contexts, buildah's option):
 * a name that FROM, COPY --from and RUN --mount from= use in place of an
 * image of that name (a stage of that name stays the stage):
 *   docker-image://REF       the image REF
 *   oci-layout://DIR[:TAG]   the image of an OCI layout (nib's oci: transport)
 *   DIR                      a local folder, read like the build context:
 *                            every path resolved inside it, files owned by
 *                            0:0 as COPY takes them; no FROM of a folder
 *   URL                      a git repository (URL[#REF[:DIR]]) or an
 *                            http(s) tarball, fetched into a folder as a
 *                            build context is (builder/context.c)
 */
#define BLD_BUILD_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/build_internal.h"
#include "builder/context.h"

static const char *value_of(const struct bld_build_opts *o, const char *name)
{
	size_t n = strlen(name);

	/* a later --build-context of the same name wins */
	for (size_t i = o->build_contexts.len; i-- > 0;) {
		const char *kv = o->build_contexts.v[i];
		if (strncmp(kv, name, n) == 0 && kv[n] == '=')
			return kv + n + 1;
	}
	return NULL;
}

int bld_named_check(const char *kv, struct nib_error *err)
{
	const char *eq = strchr(kv, '='), *v = eq ? eq + 1 : "";

	if (!eq || eq == kv || !*v || strpbrk(kv, " \t\n") ||
	    (nib_str_has_prefix(v, "docker-image://") && !v[15]) ||
	    (nib_str_has_prefix(v, "oci-layout://") && !v[13]))
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "bad --build-context \"%s\" (NAME=DIR, NAME=URL, "
			       "NAME=docker-image://REF or NAME=oci-layout://DIR[:TAG])",
			       kv);
	if (strstr(v, "://") && !nib_str_has_prefix(v, "docker-image://") &&
	    !nib_str_has_prefix(v, "oci-layout://") && bld_context_kind(v) != BLD_CONTEXT_GIT &&
	    bld_context_kind(v) != BLD_CONTEXT_URL)
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "bad --build-context \"%s\": unknown scheme (a folder, "
			       "docker-image://, oci-layout://, a git or http(s) URL)",
			       kv);
	return 0;
}

int bld_named_fetch(struct bld_build_opts *o, const char *tmp_parent, const struct reg_options *ro,
		    struct bld_named_fetched *f, struct nib_error *err)
{
	for (size_t i = 0; i < o->build_contexts.len; i++) {
		char *kv = o->build_contexts.v[i], *v = strchr(kv, '=') + 1;
		enum bld_context_kind k = bld_context_kind(v);
		struct bld_context c = {0};
		if (nib_str_has_prefix(v, "docker-image://") ||
		    nib_str_has_prefix(v, "oci-layout://") ||
		    (k != BLD_CONTEXT_GIT && k != BLD_CONTEXT_URL))
			continue;
		struct bld_context_options co = {.tmp_parent = tmp_parent, .ro = ro};
		if (bld_context_open(v, &co, &c, err) < 0)
			return nib_err_wrap(err, "--build-context %.*s", (int)(v - 1 - kv), kv);
		f->ctx = xrealloc(f->ctx, (f->n + 1) * sizeof(*f->ctx));
		f->ctx[f->n++] = c;
		if (c.file)
			return nib_err(
			    err, NIB_ERR_USAGE, 0,
			    "--build-context %s: a Containerfile, not a folder or archive", kv);
		/* from now on, the folder it was fetched into */
		o->build_contexts.v[i] = xasprintf("%.*s=%s", (int)(v - 1 - kv), kv, c.dir);
		free(kv);
	}
	return 0;
}

void bld_named_fetched_free(struct bld_named_fetched *f)
{
	for (size_t i = 0; i < f->n; i++)
		bld_context_close(&f->ctx[i]);
	free(f->ctx);
	*f = (struct bld_named_fetched){0};
}

int bld_named_open(const struct bld_build_opts *o, struct nib_error *err)
{
	for (size_t i = 0; i < o->build_contexts.len; i++) {
		const char *v = strchr(o->build_contexts.v[i], '=') + 1;
		struct stat st;
		if (strstr(v, "://"))
			continue;
		if (stat(v, &st) < 0 || !S_ISDIR(st.st_mode))
			return nib_err(err, NIB_ERR_NOT_FOUND, errno ? errno : ENOTDIR,
				       "--build-context %s: not a folder", o->build_contexts.v[i]);
	}
	return 0;
}

char *bld_named_image(const struct bld_build_opts *o, const char *name, struct nib_error *err)
{
	const char *v = value_of(o, name);

	if (!v)
		return xstrdup(name);
	if (nib_str_has_prefix(v, "docker-image://"))
		return xstrdup(v + 15);
	if (nib_str_has_prefix(v, "oci-layout://"))
		return xasprintf("oci:%s", v + 13);
	nib_err(err, NIB_ERR_USAGE, 0,
		"%s is the build context %s, a folder: an image is needed here "
		"(docker-image:// or oci-layout://)",
		name, v);
	return NULL;
}

int bld_named_dir(const struct bld_build_opts *o, const char *name, struct nib_error *err)
{
	const char *v = value_of(o, name);
	int fd;

	if (!v || strstr(v, "://"))
		return -2;
	fd = open(v, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return nib_err(err, NIB_ERR_NOT_FOUND, errno, "--build-context %s=%s", name, v);
	return fd;
}
