/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image transports as sources (FROM, nib pull), spelled as containers/image
 * spells them: oci:DIR[:TAG], oci-archive:FILE[:TAG] and
 * docker-archive:FILE[:REF|:@N]; the path ends at the first ':' after the
 * transport name. storage/import.c reads and checks them. The image is
 * named in the store as podman names it: oci: as localhost/DIR, the others
 * by the name the source gives (ref.name annotation, RepoTags), else
 * untagged.
 */
#include <string.h>

#include "builder/builder.h"
#include "registry/registry.h"
#include "storage/storage.h"

/* Transports containers/image has that nib does not read. */
static const char *const unsupported[] = {
    "containers-storage", "dir", "docker-daemon", "ostree", "sif", "tarball"};

int bld_transport_kind(const char *s, struct nib_error *err)
{
	if (nib_str_has_prefix(s, "oci:"))
		return BLD_TRANSPORT_OCI;
	if (nib_str_has_prefix(s, "oci-archive:"))
		return BLD_TRANSPORT_OCI_ARCHIVE;
	if (nib_str_has_prefix(s, "docker-archive:"))
		return BLD_TRANSPORT_DOCKER_ARCHIVE;
	if (nib_str_has_prefix(s, "docker://"))
		return BLD_TRANSPORT_DOCKER;
	for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
		size_t n = strlen(unsupported[i]);
		if (strncmp(s, unsupported[i], n) == 0 && s[n] == ':')
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "%s: the %s transport is not supported (docker://, oci:, "
				       "oci-archive:, docker-archive:)",
				       s, unsupported[i]);
	}
	/* "NAME://..." with another scheme */
	const char *p = strstr(s, "://");
	if (p && p > s && (size_t)(p - s) == strcspn(s, "/:"))
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "%s: unknown transport (docker://, oci:, oci-archive:, "
			       "docker-archive:)",
			       s);
	return BLD_TRANSPORT_DOCKER;
}

struct archive_match {
	const char *want; /* normalised */
};

static bool match_repo_tag(void *data, const char *tag)
{
	const struct archive_match *m = data;
	_cleanup_free_ char *n = bld_ref_normalise(tag, NULL);
	return n && streq(n, m->want);
}

/* The store name podman gives an image from a transport; NULL: untagged. */
static char *store_name(int kind, const char *path, const struct stg_import_result *res)
{
	_cleanup_free_ char *n = NULL;

	if (kind == BLD_TRANSPORT_OCI) {
		const char *p = path;
		while (*p == '/')
			p++;
		n = xasprintf("localhost/%s", p);
	} else if (res->names.len) {
		const char *r = res->names.v[0];
		n = reg_ref_is_qualified(r) || kind == BLD_TRANSPORT_DOCKER_ARCHIVE
			? xstrdup(r)
			: xasprintf("localhost/%s", r);
	} else {
		return NULL;
	}
	return bld_ref_normalise(n, NULL);
}

int bld_transport_pull(struct stg_store *st, const char *s, const struct stg_platform *want,
		       struct stg_image **out, char **name, struct nib_error *err)
{
	int kind = bld_transport_kind(s, err);
	const char *rest, *colon;
	_cleanup_free_ char *path = NULL, *norm = NULL, *tagged = NULL;
	struct stg_import_result res = {0};
	struct archive_match am = {0};
	struct stg_import_select sel = {.index = -1};
	struct stg_descriptor d = {0};
	int r;

	if (kind < 0)
		return -1;
	if (kind == BLD_TRANSPORT_DOCKER)
		return nib_err(err, NIB_ERR_USAGE, 0, "%s: not a local transport", s);
	rest = strchr(s, ':') + 1;
	colon = strchr(rest, ':');
	path = colon ? xstrndup(rest, (size_t)(colon - rest)) : xstrdup(rest);
	if (!*path)
		return nib_err(err, NIB_ERR_USAGE, 0, "%s: no path", s);
	if (colon && !colon[1])
		return nib_err(err, NIB_ERR_USAGE, 0, "%s: empty name after the path", s);
	switch (kind) {
	case BLD_TRANSPORT_OCI:
		r = stg_import_oci_layout(st, path, colon ? colon + 1 : NULL, want, &res, err);
		break;
	case BLD_TRANSPORT_OCI_ARCHIVE:
		r = stg_import_oci_archive(st, path, colon ? colon + 1 : NULL, want, &res, err);
		break;
	default:
		if (colon && colon[1] == '@') {
			uint64_t i;
			if (nib_parse_u64(colon + 2, &i) < 0 || i > 100000)
				return nib_err(err, NIB_ERR_USAGE, 0, "%s: bad image index \"%s\"",
					       s, colon + 1);
			sel.index = (int)i;
		} else if (colon) {
			norm = bld_ref_normalise(colon + 1, err);
			if (!norm)
				return nib_err_wrap(err, "%s", s);
			am.want = norm;
			sel.match = match_repo_tag;
			sel.data = &am;
			sel.name = colon + 1;
		}
		r = stg_import_docker_archive(st, path, &sel, &res, err);
		break;
	}
	if (r < 0)
		return -1;
	tagged = store_name(kind, path, &res);
	/* a Docker manifest is kept in its OCI form (as a pull keeps it) */
	r = stg_image_import(st, tagged, &res.desc, &d, err);
	stg_import_result_clear(&res);
	if (r == 0)
		r = stg_image_lookup_platform(st, d.digest, want, out, err);
	stg_descriptor_clear(&d);
	if (r < 0)
		return nib_err_wrap(err, "%s", s);
	if (name)
		*name = steal_pointer(&tagged);
	return 0;
}
