/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Platforms (image-spec image-index.md: platform; config.md: architecture,
 * os, variant): parsing "os/arch[/variant]" as --platform takes it,
 * matching an image or an index entry against a wanted platform, and
 * picking the entry of an index.
 */
#define NIB_STORAGE_INTERNAL
#include <string.h>

#include "storage/store_internal.h"

#define PLATFORM_PART_MAX 64

/* [a-z0-9] plus "_.-" as GOOS/GOARCH values and variants are spelled. */
static bool part_valid(const char *s, size_t n)
{
	if (n == 0 || n > PLATFORM_PART_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return false;
	}
	return true;
}

int stg_platform_parse(const char *s, struct stg_platform *out, struct nib_error *err)
{
	const char *parts[4] = {0};
	size_t lens[4] = {0}, n = 0;
	const char *p = s;

	memset(out, 0, sizeof(*out));
	while (n < 4) {
		const char *slash = strchr(p, '/');
		parts[n] = p;
		lens[n] = slash ? (size_t)(slash - p) : strlen(p);
		n++;
		if (!slash)
			break;
		p = slash + 1;
	}
	if (n < 2 || n > 3 || strchr(p, '/'))
		return nib_err(err, NIB_ERR_USAGE, 0, "bad platform \"%s\" (OS/ARCH[/VARIANT])", s);
	for (size_t i = 0; i < n; i++)
		if (!part_valid(parts[i], lens[i]))
			return nib_err(
			    err, NIB_ERR_USAGE, 0,
			    "bad platform \"%s\" (OS/ARCH[/VARIANT]: lower-case letters, "
			    "digits, '_', '-' and '.')",
			    s);
	out->os = xstrndup(parts[0], lens[0]);
	out->architecture = xstrndup(parts[1], lens[1]);
	out->variant = n == 3 ? xstrndup(parts[2], lens[2]) : NULL;
	return 0;
}

void stg_platform_clear(struct stg_platform *p)
{
	if (!p)
		return;
	free(p->architecture);
	free(p->os);
	free(p->os_version);
	free(p->variant);
	nib_strv_free(&p->os_features);
	memset(p, 0, sizeof(*p));
}

char *stg_platform_string(const char *os, const char *arch, const char *variant)
{
	return variant && *variant
		   ? xasprintf("%s/%s/%s", os ? os : "?", arch ? arch : "?", variant)
		   : xasprintf("%s/%s", os ? os : "?", arch ? arch : "?");
}

char *stg_platform_want_string(const struct stg_platform *want)
{
	const char *os, *arch, *variant;

	if (want)
		return stg_platform_string(want->os, want->architecture, want->variant);
	stg_platform_host(&os, &arch, &variant);
	return stg_platform_string(os, arch, variant);
}

/* The variant an architecture has when none is named (containerd's
 * platforms.Normalize: arm64 is v8). */
static const char *default_variant(const char *arch)
{
	return arch && streq(arch, "arm64") ? "v8" : NULL;
}

int stg_platform_score(const struct stg_platform *want, const char *os, const char *arch,
		       const char *variant)
{
	const char *wv, *hv;

	if (!os || !arch || !streq(want->os, os) || !streq(want->architecture, arch))
		return 0;
	wv = want->variant && *want->variant ? want->variant : NULL;
	hv = variant && *variant ? variant : NULL;
	if (!wv)
		return hv && !streq(hv, default_variant(arch) ?: "") ? 1 : 2;
	if (hv)
		return streq(wv, hv) ? 3 : 0;
	return streq(wv, default_variant(arch) ?: "") ? 2 : 0;
}

void stg_platform_host_get(struct stg_platform *out)
{
	const char *os, *arch, *variant;

	stg_platform_host(&os, &arch, &variant);
	memset(out, 0, sizeof(*out));
	out->os = xstrdup(os);
	out->architecture = xstrdup(arch);
	out->variant = variant ? xstrdup(variant) : NULL;
}

const struct stg_descriptor *stg_index_pick(const struct stg_index *ix,
					    const struct stg_platform *want)
{
	const struct stg_descriptor *best = NULL;
	struct stg_platform host = {0};
	int best_score = 0;

	if (!want) {
		stg_platform_host_get(&host);
		want = &host;
	}
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const struct stg_descriptor *d = &ix->manifests[i];
		const struct stg_platform *p = d->platform;
		int score;
		if (!stg_media_type_is_manifest(d->media_type) &&
		    !stg_media_type_is_index(d->media_type))
			continue;
		if (!p) {
			/* an entry without platform: only when it is the sole one */
			if (ix->n_manifests == 1 && !best)
				best = d;
			continue;
		}
		score = stg_platform_score(want, p->os, p->architecture, p->variant);
		if (score > best_score) {
			best = d;
			best_score = score;
		}
	}
	stg_platform_clear(&host);
	return best;
}

char *stg_index_platforms(const struct stg_index *ix)
{
	_cleanup_buf_ struct nib_buf b = {0};

	for (size_t i = 0; i < ix->n_manifests; i++) {
		const struct stg_platform *p = ix->manifests[i].platform;
		_cleanup_free_ char *s =
		    p ? stg_platform_string(p->os, p->architecture, p->variant) : NULL;
		if (!s)
			continue;
		if (b.len > 400) {
			nib_buf_puts(&b, ", ...");
			break;
		}
		nib_buf_printf(&b, "%s%s", b.len ? ", " : "", s);
	}
	return b.len ? nib_buf_steal(&b) : xstrdup("none");
}
