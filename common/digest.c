/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/common.h"

struct nib_sha256 {
	EVP_MD_CTX *md;
};

struct nib_sha256 *nib_sha256_new(void)
{
	struct nib_sha256 *ctx = xcalloc(1, sizeof(*ctx));
	ctx->md = EVP_MD_CTX_new();
	if (!ctx->md || EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) != 1)
		abort();
	return ctx;
}

void nib_sha256_update(struct nib_sha256 *ctx, const void *p, size_t n)
{
	if (n && EVP_DigestUpdate(ctx->md, p, n) != 1)
		abort();
}

void nib_sha256_final(struct nib_sha256 *ctx, char out[NIB_DIGEST_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(ctx->md, md, &n) != 1 || n != 32)
		abort();
	memcpy(out, "sha256:", 7);
	for (unsigned int i = 0; i < n; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[7 + 2 * i + 1] = hex[md[i] & 15];
	}
	out[NIB_DIGEST_LEN] = '\0';
}

void nib_sha256_free(struct nib_sha256 *ctx)
{
	if (!ctx)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

void nib_sha256_digest(const void *p, size_t n, char out[NIB_DIGEST_LEN + 1])
{
	_cleanup_(nib_sha256_freep) struct nib_sha256 *ctx = nib_sha256_new();
	nib_sha256_update(ctx, p, n);
	nib_sha256_final(ctx, out);
}

int nib_sha256_file_at(int dirfd, const char *path, char out[NIB_DIGEST_LEN + 1],
		       struct nib_error *err)
{
	_cleanup_(nib_sha256_freep) struct nib_sha256 *ctx = NULL;
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	char buf[65536];
	ssize_t n;

	if (fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "open %s", path);
	ctx = nib_sha256_new();
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return nib_err(err, NIB_ERR_IO, errno, "read %s", path);
		}
		nib_sha256_update(ctx, buf, (size_t)n);
	}
	nib_sha256_final(ctx, out);
	return 0;
}

static bool all_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

bool nib_digest_valid(const char *digest)
{
	if (!digest)
		return false;
	if (nib_str_has_prefix(digest, "sha256:"))
		return strlen(digest + 7) == 64 && all_lower_hex(digest + 7, 64);
	if (nib_str_has_prefix(digest, "sha512:"))
		return strlen(digest + 7) == 128 && all_lower_hex(digest + 7, 128);
	return false;
}

const char *nib_digest_hex(const char *digest)
{
	const char *colon = strchr(digest, ':');
	return colon ? colon + 1 : digest;
}
