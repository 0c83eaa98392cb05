/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pull (distribution-spec "pull"): the manifest with an Accept list of the
 * OCI and Docker schema 2 types, platform selection from an index or
 * manifest list, then config and layers into the store, verified, and the
 * reference tagged in index.json (a Docker manifest as its OCI conversion,
 * stg_image_import). Mirrors from registries.conf are tried first.
 */
#define NIB_REGISTRY_INTERNAL
#include <string.h>

#include "registry/registry_internal.h"

#define ACCEPT_MANIFESTS                                                                           \
	"Accept: " STG_MT_OCI_MANIFEST ", " STG_MT_OCI_INDEX ", " STG_MT_DOCKER_MANIFEST           \
	", " STG_MT_DOCKER_LIST

static char *scope_pull(const struct reg_ref *ref)
{
	return xasprintf("repository:%s:pull", ref->repo);
}

/* The host to talk to, pinged. */
static struct host_state *host_for(struct reg_client *c, const struct reg_ref *ref,
				   struct nib_error *err)
{
	struct host_state *h = reg_client_host(c, ref->registry);
	if (reg_client_base(c, h, err) < 0)
		return NULL;
	return h;
}

static char *manifest_url(struct host_state *h, const struct reg_ref *ref, const char *which)
{
	return xasprintf("%s://%s/v2/%s/manifests/%s", h->scheme, h->registry, ref->repo, which);
}

static int manifest_request(struct reg_client *c, const struct reg_ref *ref, const char *which,
			    const char *method, struct http_resp *rs, struct nib_error *err)
{
	_cleanup_free_ char *what = reg_ref_string(ref), *scope = scope_pull(ref), *url = NULL;
	struct curl_slist *hdrs = curl_slist_append(NULL, ACCEPT_MANIFESTS);
	struct host_state *h = host_for(c, ref, err);
	int r;

	if (!h) {
		curl_slist_free_all(hdrs);
		return nib_err_wrap(err, "%s", what);
	}
	url = manifest_url(h, ref, which);
	struct http_req rq = {
	    .method = method, .url = url, .headers = hdrs, .body_fd = -1, .resp_max = MANIFEST_MAX};
	r = reg_client_do(c, h, scope, &rq, rs, what, err);
	curl_slist_free_all(hdrs);
	return r;
}

int reg_manifest_get(struct reg_client *c, const struct reg_ref *ref, char **data, size_t *len,
		     struct reg_desc *out, struct nib_error *err)
{
	_cleanup_(reg_http_resp_clear) struct http_resp rs = {0};
	_cleanup_free_ char *what = reg_ref_string(ref);
	const char *which = ref->digest ? ref->digest : ref->tag;
	char got[NIB_DIGEST_LEN + 1];

	memset(out, 0, sizeof(*out));
	if (manifest_request(c, ref, which, "GET", &rs, err) < 0)
		return -1;
	if (rs.status != 200)
		return reg_http_error(err, what, &rs, "manifest");
	nib_sha256_digest(rs.body.data ? rs.body.data : "", rs.body.len, got);
	if (ref->digest && !streq(ref->digest, got))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: the registry sent a manifest with digest %s", what, got);
	if (!ref->digest && rs.docker_digest && nib_str_has_prefix(rs.docker_digest, "sha256:") &&
	    !streq(rs.docker_digest, got))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: manifest digest %s does not match Docker-Content-Digest %.80s",
			       what, got, rs.docker_digest);
	snprintf(out->digest, sizeof(out->digest), "%s", got);
	out->size = (int64_t)rs.body.len;
	out->media_type =
	    rs.content_type ? xstrndup(rs.content_type, strcspn(rs.content_type, "; ")) : NULL;
	*len = rs.body.len;
	*data = nib_buf_steal(&rs.body);
	return 0;
}

int reg_manifest_head(struct reg_client *c, const struct reg_ref *ref, struct reg_desc *out,
		      struct nib_error *err)
{
	_cleanup_(reg_http_resp_clear) struct http_resp rs = {0};
	_cleanup_free_ char *what = reg_ref_string(ref);

	memset(out, 0, sizeof(*out));
	if (manifest_request(c, ref, ref->digest ? ref->digest : ref->tag, "HEAD", &rs, err) < 0)
		return -1;
	if (rs.status == 404)
		return 0;
	if (rs.status != 200)
		return reg_http_error(err, what, &rs, "manifest");
	if (rs.docker_digest && nib_digest_valid(rs.docker_digest))
		snprintf(out->digest, sizeof(out->digest), "%s", rs.docker_digest);
	else if (ref->digest)
		snprintf(out->digest, sizeof(out->digest), "%s", ref->digest);
	out->size = rs.content_length;
	out->media_type =
	    rs.content_type ? xstrndup(rs.content_type, strcspn(rs.content_type, "; ")) : NULL;
	return 1;
}

int reg_blob_head(struct reg_client *c, const struct reg_ref *ref, const char *digest,
		  int64_t *size, struct nib_error *err)
{
	_cleanup_(reg_http_resp_clear) struct http_resp rs = {0};
	_cleanup_free_ char *what = reg_ref_string(ref), *scope = scope_pull(ref), *url = NULL;
	struct host_state *h = host_for(c, ref, err);

	if (!h)
		return nib_err_wrap(err, "%s", what);
	url = xasprintf("%s://%s/v2/%s/blobs/%s", h->scheme, h->registry, ref->repo, digest);
	struct http_req rq = {.method = "HEAD", .url = url, .body_fd = -1};
	if (reg_client_do(c, h, scope, &rq, &rs, what, err) < 0)
		return -1;
	if (rs.status == 404)
		return 0;
	if (rs.status != 200) {
		_cleanup_free_ char *doing = xasprintf("blob %s", digest);
		return reg_http_error(err, what, &rs, doing);
	}
	if (size)
		*size = rs.content_length;
	return 1;
}

int reg_blob_get(struct reg_client *c, struct stg_store *st, const struct reg_ref *ref,
		 const struct reg_desc *d, struct nib_error *err)
{
	_cleanup_free_ char *what = reg_ref_string(ref), *base = NULL;
	struct host_state *h = host_for(c, ref, err);
	struct fetch_item it = {.d = *d};

	if (!h)
		return nib_err_wrap(err, "%s", what);
	base = xasprintf("%s://%s/v2/", h->scheme, h->registry);
	it.d.media_type = NULL;
	return reg_fetch_blobs(c, h, st, ref, base, &it, 1, err);
}

/* ---- platform selection ---- */

struct platform {
	char os[100], arch[100], variant[100];
};

static int platform_parse(const char *s, struct platform *p, struct nib_error *err)
{
	char buf[100];
	char *a, *v;

	memset(p, 0, sizeof(*p));
	snprintf(buf, sizeof(buf), "%s", s);
	a = strchr(buf, '/');
	if (!a || !a[1] || a == buf || strlen(s) >= sizeof(buf))
		return nib_err(err, NIB_ERR_USAGE, 0, "--platform '%s': expected OS/ARCH[/VARIANT]",
			       s);
	*a++ = '\0';
	v = strchr(a, '/');
	if (v)
		*v++ = '\0';
	if (strlen(buf) >= sizeof(p->os) || strlen(a) >= sizeof(p->arch) ||
	    (v && strlen(v) >= sizeof(p->variant)))
		return nib_err(err, NIB_ERR_USAGE, 0, "--platform '%s': too long", s);
	snprintf(p->os, sizeof(p->os), "%s", buf);
	snprintf(p->arch, sizeof(p->arch), "%s", a);
	snprintf(p->variant, sizeof(p->variant), "%s", v ? v : "");
	return 0;
}

/* image-spec image-index.md platform matching: os and architecture equal;
 * the variant equal when both give one (arm64 "v8" is the default). */
static int select_platform(json_object *index, const char *plat, const char *what,
			   const char *index_digest, struct reg_desc *out, struct nib_error *err)
{
	struct platform want;
	json_object *mans;
	int best = -1, best_score = -1;
	_cleanup_buf_ struct nib_buf avail = {0};

	if (platform_parse(plat, &want, err) < 0)
		return -1;
	json_object_object_get_ex(index, "manifests", &mans);
	for (size_t i = 0; i < json_object_array_length(mans); i++) {
		json_object *e = json_object_array_get_idx(mans, i), *p;
		const char *mt = reg_json_get_string(e, "mediaType");
		if (!json_object_object_get_ex(e, "platform", &p))
			continue;
		const char *os = reg_json_get_string(p, "os"),
			   *arch = reg_json_get_string(p, "architecture");
		const char *var = reg_json_get_string(p, "variant");
		if (!os || !arch)
			continue;
		if (avail.len < 400)
			nib_buf_printf(&avail, "%s%s/%s%s%s", avail.len ? ", " : "", os, arch,
				       var ? "/" : "", var ? var : "");
		if (mt && !reg_media_type_is_manifest(mt))
			continue;
		if (!streq(os, want.os) || !streq(arch, want.arch))
			continue;
		int score = 1;
		if (want.variant[0] && var && *var) {
			if (!streq(want.variant, var))
				continue;
			score = 3;
		} else if (want.variant[0] && !(var && *var)) {
			score = streq(want.arch, "arm64") && streq(want.variant, "v8") ? 2 : 0;
			if (score == 0)
				continue;
		} else if (!want.variant[0] && var && *var) {
			score = 1;
		} else {
			score = 2;
		}
		if (score > best_score) {
			best = (int)i;
			best_score = score;
		}
	}
	if (best < 0)
		return nib_err(err, NIB_ERR_NOT_FOUND, 0,
			       "%s: no image for platform %s in the index (available: %s)", what,
			       plat, avail.len ? avail.data : "none");
	json_object *e = json_object_array_get_idx(mans, (size_t)best), *sz;
	const char *dg = reg_json_get_string(e, "digest"),
		   *mt = reg_json_get_string(e, "mediaType");
	if (!dg || !nib_digest_valid(dg) || !json_object_object_get_ex(e, "size", &sz))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: malformed index entry for %s", what,
			       plat);
	if (streq(dg, index_digest))
		return nib_err(err, NIB_ERR_CORRUPT, 0, "%s: the index points at itself", what);
	memset(out, 0, sizeof(*out));
	snprintf(out->digest, sizeof(out->digest), "%s", dg);
	out->size = json_object_get_int64(sz);
	out->media_type = xstrdup(mt ? mt : STG_MT_OCI_MANIFEST);
	return 0;
}

static int pull_from(struct reg_client *c, struct stg_store *st, const struct reg_ref *ref,
		     const char *display, struct reg_image *out, struct nib_error *err)
{
	_cleanup_free_ char *data = NULL, *ctwhat = NULL, *base = NULL;
	_cleanup_json_ json_object *doc = NULL;
	struct reg_desc top = {0};
	struct reg_image img = {0};
	size_t len = 0;
	struct host_state *h;
	int ret = -1;

	if (reg_manifest_get(c, ref, &data, &len, &top, err) < 0)
		goto out;
	ctwhat = xasprintf("%s\n%s", top.media_type ? top.media_type : "", display);
	if (reg_manifest_parse(data, len, ctwhat, &img, &doc, err) < 0)
		goto out;
	if (img.index.media_type) {
		/* an index: store it, choose the platform, fetch that manifest */
		struct reg_desc sel = {0};
		_cleanup_ref_ struct reg_ref byd = {0};
		char *d2 = NULL;
		size_t l2 = 0;
		struct reg_desc md = {0};

		snprintf(img.index.digest, sizeof(img.index.digest), "%s", top.digest);
		img.index.size = top.size;
		if (select_platform(doc, c->platform, display, top.digest, &sel, err) < 0)
			goto out;
		if (stg_blob_put(st, data, len, top.digest, NULL, err) < 0)
			goto out;
		reg_ref_copy(&byd, ref);
		free(byd.digest);
		byd.digest = xstrdup(sel.digest);
		if (reg_manifest_get(c, &byd, &d2, &l2, &md, err) < 0) {
			reg_desc_clear(&sel);
			goto out;
		}
		if ((int64_t)l2 != sel.size) {
			reg_desc_clear(&sel);
			reg_desc_clear(&md);
			free(d2);
			nib_err(err, NIB_ERR_CORRUPT, 0,
				"%s: manifest %s has %zu bytes, the index says %lld", display,
				sel.digest, l2, (long long)sel.size);
			goto out;
		}
		free(ctwhat);
		ctwhat = xasprintf("%s\n%s", sel.media_type, display);
		struct reg_image inner = {0};
		json_object *nested = NULL;
		int r = reg_manifest_parse(d2, l2, ctwhat, &inner, &nested, err);
		if (r == 0 && inner.index.media_type) {
			json_object_put(nested);
			reg_image_clear(&inner);
			r = nib_err(err, NIB_ERR_CORRUPT, 0,
				    "%s: index entry %s is itself an index (nested indexes are not "
				    "supported)",
				    display, sel.digest);
		}
		reg_desc_clear(&md);
		if (r < 0) {
			free(d2);
			reg_desc_clear(&sel);
			goto out;
		}
		inner.index = img.index;
		memset(&img.index, 0, sizeof(img.index));
		reg_image_clear(&img);
		img = inner;
		img.manifest.size = (int64_t)l2;
		snprintf(img.manifest.digest, sizeof(img.manifest.digest), "%s", sel.digest);
		free(data);
		data = d2;
		len = l2;
		reg_desc_clear(&sel);
	} else {
		snprintf(img.manifest.digest, sizeof(img.manifest.digest), "%s", top.digest);
		img.manifest.size = top.size;
	}

	h = host_for(c, ref, err);
	if (!h)
		goto out;
	base = xasprintf("%s://%s/v2/", h->scheme, h->registry);
	{
		size_t n = img.n_layers + 1;
		struct fetch_item *items = xcalloc(n, sizeof(*items));
		items[0].d = img.config;
		for (size_t i = 0; i < img.n_layers; i++)
			items[i + 1].d = img.layers[i];
		int r = reg_fetch_blobs(c, h, st, ref, base, items, n, err);
		free(items);
		if (r < 0)
			goto out;
	}
	/* the manifest last: once it is in the store, everything it names is */
	if (stg_blob_put(st, data, len, img.manifest.digest, NULL, err) < 0)
		goto out;
	*out = img;
	memset(&img, 0, sizeof(img));
	ret = 0;
out:
	reg_desc_clear(&top);
	reg_image_clear(&img);
	return ret;
}

int reg_image_pull(struct reg_client *c, struct stg_store *st, const struct reg_ref *ref,
		   struct reg_image *out, struct nib_error *err)
{
	_cleanup_free_ char *display = reg_ref_string(ref);
	struct reg_endpoint *eps = NULL;
	size_t n = 0;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (reg_conf_endpoints(c->conf, ref, &eps, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct reg_ref r = {.registry = eps[i].registry,
				    .repo = eps[i].repo,
				    .tag = ref->tag,
				    .digest = ref->digest};
		struct host_state *h = reg_client_host(c, r.registry);
		if (eps[i].insecure)
			h->insecure = true;
		if (i + 1 < n) {
			struct nib_error e2 = {0};
			if (pull_from(c, st, &r, display, out, &e2) == 0) {
				ret = 0;
				break;
			}
			log_warn("mirror %s/%s: %s", r.registry, r.repo, e2.msg);
			nib_err_clear(&e2);
			continue;
		}
		ret = pull_from(c, st, &r, display, out, err);
	}
	reg_endpoints_free(eps, n);
	if (ret < 0)
		return -1;
	out->manifest.media_type =
	    out->manifest.media_type ? out->manifest.media_type : xstrdup(STG_MT_OCI_MANIFEST);
	struct stg_descriptor sd = {.media_type = out->manifest.media_type,
				    .digest = out->manifest.digest,
				    .size = out->manifest.size};
	/* a Docker schema2 manifest is kept converted to OCI (storage.h) */
	if (stg_image_import(st, display, &sd, NULL, err) < 0) {
		reg_image_clear(out);
		return nib_err_wrap(err, "%s", display);
	}
	return 0;
}
