/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Push (distribution-spec "push"): for every blob HEAD first (present:
 * skip), then a cross-repository mount (POST ?mount=&from=) when a source
 * repository on the same registry is known, else an upload session: POST,
 * then one PUT ?digest= with the whole blob, or PATCH chunks with
 * Content-Range followed by an empty PUT ?digest= for blobs larger than the
 * chunk size. The manifest goes last with its own media type, under the tag
 * or the digest.
 */
#define NIB_REGISTRY_INTERNAL
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "registry/registry_internal.h"

static char *scope_push(const struct reg_ref *ref, const char *from)
{
	if (from && !streq(from, ref->repo))
		return xasprintf("repository:%s:pull,push repository:%s:pull", ref->repo, from);
	return xasprintf("repository:%s:pull,push", ref->repo);
}

static char *with_query(CURL *e, const char *url, const char *key, const char *val)
{
	char *esc = curl_easy_escape(e, val, 0);
	char *r = xasprintf("%s%c%s=%s", url, strchr(url, '?') ? '&' : '?', key, esc);
	curl_free(esc);
	return r;
}

/* PATCH the blob in chunks from `start`; `*loc` follows the Location the
 * registry returns after each. */
static int upload_chunks(struct reg_client *c, struct host_state *h, const char *scope,
			 const char *what, const char *digest, int fd, int64_t size, char **loc,
			 struct nib_error *err)
{
	int64_t off = 0;
	int resumes = 0;

	while (off < size) {
		_cleanup_(reg_http_resp_clear) struct http_resp rs = {0};
		_cleanup_slist_ struct curl_slist *hdrs = NULL;
		int64_t n = MIN((int64_t)c->chunk_size, size - off);
		char range[96];

		snprintf(range, sizeof(range), "Content-Range: %lld-%lld", (long long)off,
			 (long long)(off + n - 1));
		hdrs = curl_slist_append(hdrs, range);
		hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
		struct http_req rq = {.method = "PATCH",
				      .url = *loc,
				      .headers = hdrs,
				      .body_fd = fd,
				      .body_off = off,
				      .body_len_fd = n};
		if (reg_client_do(c, h, scope, &rq, &rs, what, err) < 0)
			return -1;
		if (rs.status == 416 && resumes++ < 3 && rs.range) {
			/* the registry has a different amount: continue from there */
			const char *dash = strchr(rs.range, '-');
			if (dash) {
				off = strtoll(dash + 1, NULL, 10) + 1;
				continue;
			}
		}
		if (rs.status != 202)
			return reg_http_error(err, what, &rs, "blob upload (PATCH)");
		if (rs.location) {
			char *next = reg_url_resolve(*loc, rs.location);
			if (reg_client_check_downgrade(c, *loc, next, what, err) < 0) {
				free(next);
				return -1;
			}
			free(*loc);
			*loc = next;
		}
		off += n;
		if (c->o.progress_fn && off < size)
			c->o.progress_fn(c->o.progress_data, "progress", digest, off, size);
	}
	return 0;
}

int reg_blob_put(struct reg_client *c, struct stg_store *st, const struct reg_ref *ref,
		 const struct reg_desc *d, const char *mount_from, struct nib_error *err)
{
	_cleanup_free_ char *what = reg_ref_string(ref), *scope = scope_push(ref, mount_from);
	_cleanup_free_ char *url = NULL, *loc = NULL, *final = NULL;
	_cleanup_(reg_http_resp_clear) struct http_resp rs = {0};
	_cleanup_curl_ CURL *esc = curl_easy_init();
	_cleanup_close_ int fd = -1;
	struct host_state *h = reg_client_host(c, ref->registry);
	struct stat sb;
	int64_t size;

	if (reg_client_base(c, h, err) < 0)
		return nib_err_wrap(err, "%s", what);
	url = xasprintf("%s://%s/v2/%s/blobs/%s", h->scheme, h->registry, ref->repo, d->digest);
	{
		struct http_req rq = {.method = "HEAD", .url = url, .body_fd = -1};
		if (reg_client_do(c, h, scope, &rq, &rs, what, err) < 0)
			return -1;
		if (rs.status == 200) {
			if (c->o.progress_fn)
				c->o.progress_fn(c->o.progress_data, "skipped", d->digest, d->size,
						 d->size);
			return 0;
		}
		if (rs.status != 404) {
			_cleanup_free_ char *doing = xasprintf("blob %s", d->digest);
			return reg_http_error(err, what, &rs, doing);
		}
	}
	fd = stg_blob_open(st, d->digest, err);
	if (fd < 0)
		return nib_err_wrap(err, "%s", what);
	if (fstat(fd, &sb) < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s: blob %s", what, d->digest);
	size = sb.st_size;
	if (d->size >= 0 && size != d->size)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: blob %s in the store has %lld bytes, its descriptor %lld", what,
			       d->digest, (long long)size, (long long)d->size);

	/* start an upload, mounting when the registry has the blob elsewhere */
	free(url);
	url = xasprintf("%s://%s/v2/%s/blobs/uploads/", h->scheme, h->registry, ref->repo);
	if (mount_from && !streq(mount_from, ref->repo)) {
		_cleanup_free_ char *u1 = with_query(esc, url, "mount", d->digest);
		_cleanup_free_ char *u2 = with_query(esc, u1, "from", mount_from);
		struct http_req rq = {.method = "POST", .url = u2, .body_fd = -1};
		if (reg_client_do(c, h, scope, &rq, &rs, what, err) < 0)
			return -1;
		if (rs.status == 201) {
			if (c->o.progress_fn)
				c->o.progress_fn(c->o.progress_data, "mounted", d->digest, size,
						 size);
			return 0;
		}
	} else {
		struct http_req rq = {.method = "POST", .url = url, .body_fd = -1};
		if (reg_client_do(c, h, scope, &rq, &rs, what, err) < 0)
			return -1;
	}
	if (rs.status != 202 || !rs.location) {
		_cleanup_free_ char *doing = xasprintf("blob upload %s", d->digest);
		return reg_http_error(err, what, &rs, doing);
	}
	loc = reg_url_resolve(url, rs.location);
	if (reg_client_check_downgrade(c, url, loc, what, err) < 0)
		return -1;

	_cleanup_slist_ struct curl_slist *hdrs =
	    curl_slist_append(NULL, "Content-Type: application/octet-stream");
	if ((uint64_t)size > c->chunk_size) {
		if (upload_chunks(c, h, scope, what, d->digest, fd, size, &loc, err) < 0)
			return -1;
		final = with_query(esc, loc, "digest", d->digest);
		struct http_req rq = {
		    .method = "PUT", .url = final, .headers = hdrs, .body_fd = -1};
		if (reg_client_do(c, h, scope, &rq, &rs, what, err) < 0)
			return -1;
	} else {
		final = with_query(esc, loc, "digest", d->digest);
		struct http_req rq = {.method = "PUT",
				      .url = final,
				      .headers = hdrs,
				      .body_fd = fd,
				      .body_off = 0,
				      .body_len_fd = size};
		if (size == 0) {
			rq.body_fd = -1;
			rq.body = "";
			rq.body_len = 0;
		}
		if (reg_client_do(c, h, scope, &rq, &rs, what, err) < 0)
			return -1;
	}
	if (rs.status != 201) {
		_cleanup_free_ char *doing = xasprintf("blob upload %s", d->digest);
		return reg_http_error(err, what, &rs, doing);
	}
	if (c->o.progress_fn)
		c->o.progress_fn(c->o.progress_data, "done", d->digest, size, size);
	return 0;
}

int reg_manifest_put(struct reg_client *c, const struct reg_ref *ref, const char *media_type,
		     const void *data, size_t len, char out_digest[NIB_DIGEST_LEN + 1],
		     struct nib_error *err)
{
	_cleanup_free_ char *what = reg_ref_string(ref), *scope = scope_push(ref, NULL);
	_cleanup_free_ char *url = NULL, *ct = NULL;
	_cleanup_(reg_http_resp_clear) struct http_resp rs = {0};
	_cleanup_slist_ struct curl_slist *hdrs = NULL;
	struct host_state *h = reg_client_host(c, ref->registry);
	char dg[NIB_DIGEST_LEN + 1];

	nib_sha256_digest(data, len, dg);
	if (ref->digest && !streq(ref->digest, dg))
		return nib_err(
		    err, NIB_ERR_USAGE, 0,
		    "%s: the image's manifest has digest %s, not the one in the reference", what,
		    dg);
	if (reg_client_base(c, h, err) < 0)
		return nib_err_wrap(err, "%s", what);
	url = xasprintf("%s://%s/v2/%s/manifests/%s", h->scheme, h->registry, ref->repo,
			ref->tag ? ref->tag : dg);
	ct = xasprintf("Content-Type: %s", media_type);
	hdrs = curl_slist_append(hdrs, ct);
	struct http_req rq = {.method = "PUT",
			      .url = url,
			      .headers = hdrs,
			      .body = data,
			      .body_len = len,
			      .body_fd = -1};
	if (reg_client_do(c, h, scope, &rq, &rs, what, err) < 0)
		return -1;
	if (rs.status != 201 && rs.status != 200)
		return reg_http_error(err, what, &rs, "manifest upload");
	if (rs.docker_digest && nib_str_has_prefix(rs.docker_digest, "sha256:") &&
	    !streq(rs.docker_digest, dg))
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "%s: the registry stored the manifest as %.80s, expected %s", what,
			       rs.docker_digest, dg);
	if (out_digest)
		memcpy(out_digest, dg, sizeof(dg));
	return 0;
}

int reg_image_push(struct reg_client *c, struct stg_store *st, const struct reg_desc *manifest,
		   const struct reg_ref *dest, const char *mount_from,
		   char out_digest[NIB_DIGEST_LEN + 1], struct nib_error *err)
{
	_cleanup_free_ char *what = reg_ref_string(dest), *data = NULL, *ctwhat = NULL;
	struct reg_image img = {0};
	json_object *doc = NULL;
	size_t len;
	int ret = -1;

	if (stg_blob_read(st, manifest->digest, MANIFEST_MAX, &data, &len, err) < 0)
		return nib_err_wrap(err, "%s", what);
	ctwhat = xasprintf("%s\n%s", manifest->media_type ? manifest->media_type : "", what);
	if (reg_manifest_parse(data, len, ctwhat, &img, &doc, err) < 0)
		return -1;
	if (img.index.media_type) {
		json_object_put(doc);
		reg_image_clear(&img);
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "%s: pushing an index is not supported; push one platform's image",
			       what);
	}
	if (reg_blob_put(c, st, dest, &img.config, mount_from, err) < 0)
		goto out;
	for (size_t i = 0; i < img.n_layers; i++)
		if (reg_blob_put(c, st, dest, &img.layers[i], mount_from, err) < 0)
			goto out;
	if (reg_manifest_put(c, dest, img.manifest.media_type, data, len, out_digest, err) < 0)
		goto out;
	ret = 0;
out:
	reg_image_clear(&img);
	return ret;
}

int reg_index_push(struct reg_client *c, struct stg_store *st, const struct reg_desc *index,
		   const struct reg_ref *dest, const char *mount_from,
		   char out_digest[NIB_DIGEST_LEN + 1], struct nib_error *err)
{
	_cleanup_free_ char *what = reg_ref_string(dest), *data = NULL;
	_cleanup_(stg_index_freep) struct stg_index *ix = NULL;
	size_t len = 0;

	if (stg_blob_read(st, index->digest, MANIFEST_MAX, &data, &len, err) < 0)
		return nib_err_wrap(err, "%s", what);
	if (stg_index_parse(data, len, &ix, err) < 0)
		return nib_err_wrap(err, "%s: index %s", what, index->digest);
	/* the images first: a registry refuses an index naming manifests it
	 * does not have (distribution-spec: pushing manifests) */
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const struct stg_descriptor *m = &ix->manifests[i];
		const struct stg_platform *p = m->platform;
		struct reg_ref byd = {
		    .registry = dest->registry, .repo = dest->repo, .digest = m->digest};
		struct reg_desc md = {.media_type = m->media_type, .size = m->size};
		_cleanup_free_ char *plat =
		    p ? xasprintf("%s/%s%s%s", p->os, p->architecture, p->variant ? "/" : "",
				  p->variant ? p->variant : "")
		      : xstrdup("no platform");

		if (!stg_media_type_is_manifest(m->media_type))
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "%s: index %s: manifests[%zu] is '%s' (nested indexes are "
				       "not supported)",
				       what, index->digest, i, m->media_type);
		if (stg_blob_size(st, m->digest) != m->size)
			return nib_err(err, NIB_ERR_NOT_FOUND, 0,
				       "%s: the %s image (%s) of index %s is not in the store",
				       what, plat, m->digest, index->digest);
		snprintf(md.digest, sizeof(md.digest), "%s", m->digest);
		if (reg_image_push(c, st, &md, &byd, mount_from, NULL, err) < 0)
			return -1;
	}
	return reg_manifest_put(c, dest, ix->media_type ? ix->media_type : STG_MT_OCI_INDEX, data,
				len, out_digest, err);
}
