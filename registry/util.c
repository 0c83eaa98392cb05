/* SPDX-License-Identifier: Apache-2.0 */
/* registry: base64, JSON helpers, URL helpers, descriptors. */
#define NIB_REGISTRY_INTERNAL
#include <string.h>
#include <sys/utsname.h>

#include "registry/registry_internal.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *reg_b64_encode(const void *p, size_t n)
{
	const unsigned char *s = p;
	char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		*o++ = b64[(v >> 18) & 63];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

char *reg_b64_decode(const char *s, size_t *outlen)
{
	size_t n = strlen(s), j = 0;
	unsigned v = 0;
	int bits = 0;
	char *out = xmalloc(n / 4 * 3 + 4);

	for (size_t i = 0; i < n; i++) {
		const char *q;
		if (s[i] == '=') {
			for (; i < n; i++)
				if (s[i] != '=')
					goto bad;
			break;
		}
		q = strchr(b64, s[i]);
		if (!q || !s[i])
			goto bad;
		v = (v << 6) | (unsigned)(q - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[j++] = (char)((v >> bits) & 0xff);
		}
	}
	out[j] = '\0';
	if (outlen)
		*outlen = j;
	return out;
bad:
	free(out);
	return NULL;
}

const char *reg_json_get_string(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

void reg_desc_clear(struct reg_desc *d)
{
	if (!d)
		return;
	free(d->media_type);
	memset(d, 0, sizeof(*d));
}

void reg_image_clear(struct reg_image *img)
{
	if (!img)
		return;
	reg_desc_clear(&img->manifest);
	reg_desc_clear(&img->config);
	reg_desc_clear(&img->index);
	for (size_t i = 0; i < img->n_layers; i++)
		reg_desc_clear(&img->layers[i]);
	free(img->layers);
	memset(img, 0, sizeof(*img));
}

char *reg_platform_host(void)
{
	struct utsname u;
	const char *arch = "amd64", *variant = NULL;

	if (uname(&u) == 0) {
		if (streq(u.machine, "x86_64"))
			arch = "amd64";
		else if (streq(u.machine, "aarch64")) {
			arch = "arm64";
			variant = "v8";
		} else if (nib_str_has_prefix(u.machine, "armv7")) {
			arch = "arm";
			variant = "v7";
		} else if (nib_str_has_prefix(u.machine, "armv6")) {
			arch = "arm";
			variant = "v6";
		} else if (streq(u.machine, "i686") || streq(u.machine, "i386"))
			arch = "386";
		else if (streq(u.machine, "ppc64le"))
			arch = "ppc64le";
		else if (streq(u.machine, "s390x"))
			arch = "s390x";
		else if (streq(u.machine, "riscv64"))
			arch = "riscv64";
		else
			arch = u.machine;
	}
	return variant ? xasprintf("linux/%s/%s", arch, variant) : xasprintf("linux/%s", arch);
}

/* ---- URLs ---- */

static char *url_authority(const char *url, bool with_default_port)
{
	const char *p = strstr(url, "://");
	const char *scheme_end = p;
	if (!p)
		return xstrdup("");
	p += 3;
	size_t n = strcspn(p, "/?#");
	const char *at = memchr(p, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	char *a = xstrndup(p, n);
	for (char *q = a; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	if (with_default_port) {
		const char *close = a[0] == '[' ? strchr(a, ']') : a;
		if (!close || !strchr(close, ':')) {
			bool https = scheme_end - url == 5 && strncasecmp(url, "https", 5) == 0;
			char *b = xasprintf("%s:%s", a, https ? "443" : "80");
			free(a);
			a = b;
		}
	}
	return a;
}

bool reg_url_same_origin(const char *a, const char *b)
{
	_cleanup_free_ char *x = url_authority(a, true), *y = url_authority(b, true);
	const char *sa = strstr(a, "://"), *sb = strstr(b, "://");
	if (!sa || !sb || sa - a != sb - b || strncasecmp(a, b, (size_t)(sa - a)) != 0)
		return false;
	return streq(x, y);
}

char *reg_url_hostport(const char *url)
{
	return url_authority(url, false);
}

char *reg_url_host(const char *url)
{
	char *a = url_authority(url, false);
	if (a[0] == '[') {
		char *close = strchr(a, ']');
		if (close)
			close[1] = '\0';
		return a;
	}
	char *colon = strchr(a, ':');
	if (colon)
		*colon = '\0';
	return a;
}

char *reg_url_resolve(const char *base, const char *loc)
{
	if (strstr(loc, "://"))
		return xstrdup(loc);
	const char *p = strstr(base, "://");
	if (!p)
		return xstrdup(loc);
	p += 3;
	size_t n = strcspn(p, "/?#");
	if (loc[0] == '/' && loc[1] == '/') /* scheme-relative */
		return xasprintf("%.*s%s", (int)(p - 3 - base), base, loc);
	if (loc[0] == '/')
		return xasprintf("%.*s%s", (int)(p + n - base), base, loc);
	/* relative path: next to the last '/' of the base path */
	const char *q = strchr(p + n, '?');
	size_t blen = q ? (size_t)(q - base) : strlen(base);
	const char *slash = memrchr(base, '/', blen);
	if (!slash || slash < p + n)
		return xasprintf("%.*s/%s", (int)(p + n - base), base, loc);
	return xasprintf("%.*s%s", (int)(slash + 1 - base), base, loc);
}
