/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer streams: read a layer blob (tar, tar+gzip or tar+zstd, sniffed from
 * its first bytes), hash what is read (the blob digest) and what it
 * decompresses to (the DiffID), and enforce the size and ratio limits
 * while decompressing, so a bomb stops early.
 */
#define NIB_STORAGE_INTERNAL
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "storage/layer_stream.h"

#define IN_SIZE	 (128 * 1024)
#define OUT_SIZE (256 * 1024)

struct layer_stream {
	int fd;
	char *name;
	enum layer_comp comp;
	const struct stg_layer_limits *lim;
	struct nib_sha256 *hz, *hu;
	uint64_t nz, nu;
	unsigned char *in, *out;
	size_t in_len, in_pos;
	bool in_eof, z_done, finished;
	z_stream z;
	bool z_init;
	ZSTD_DStream *zs;
};

static int fill(struct layer_stream *s, struct nib_error *err)
{
	ssize_t n;

	if (s->in_pos < s->in_len || s->in_eof)
		return 0;
	do
		n = read(s->fd, s->in, IN_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return nib_err(err, NIB_ERR_IO, errno, "layer %s: read", s->name);
	s->in_pos = 0;
	s->in_len = (size_t)n;
	if (n == 0)
		s->in_eof = true;
	nib_sha256_update(s->hz, s->in, (size_t)n);
	s->nz += (uint64_t)n;
	return 0;
}

int stg_layer_stream_open(int fd, const char *name, const struct stg_layer_limits *lim,
			  struct layer_stream **out, struct nib_error *err)
{
	struct layer_stream *s = xcalloc(1, sizeof(*s));

	s->fd = fd;
	s->name = xstrdup(name ? name : "(stream)");
	s->lim = lim;
	s->hz = nib_sha256_new();
	s->hu = nib_sha256_new();
	s->in = xmalloc(IN_SIZE);
	s->out = xmalloc(OUT_SIZE);
	/* sniff: gather a few bytes (a short first read is possible) */
	while (s->in_len < 4 && !s->in_eof) {
		ssize_t n = read(fd, s->in + s->in_len, IN_SIZE - s->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			nib_err(err, NIB_ERR_IO, errno, "layer %s: read", s->name);
			stg_layer_stream_free(s);
			return -1;
		}
		if (n == 0)
			s->in_eof = true;
		nib_sha256_update(s->hz, s->in + s->in_len, (size_t)n);
		s->in_len += (size_t)n;
		s->nz += (uint64_t)n;
	}
	if (s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
		s->comp = LAYER_COMP_GZIP;
		if (inflateInit2(&s->z, 15 + 16) != Z_OK) {
			stg_layer_stream_free(s);
			return nib_err(err, NIB_ERR_IO, ENOMEM, "layer %s: inflate", name);
		}
		s->z_init = true;
	} else if (s->in_len >= 4 && s->in[0] == 0x28 && s->in[1] == 0xb5 && s->in[2] == 0x2f &&
		   s->in[3] == 0xfd) {
		s->comp = LAYER_COMP_ZSTD;
		s->zs = ZSTD_createDStream();
		ZSTD_initDStream(s->zs);
		/* refuse frames asking for windows past 128 MiB: memory bombs */
		ZSTD_DCtx_setParameter(s->zs, ZSTD_d_windowLogMax, 27);
	} else {
		s->comp = LAYER_COMP_NONE;
	}
	*out = s;
	return 0;
}

enum layer_comp stg_layer_stream_comp(const struct layer_stream *s)
{
	return s->comp;
}

static ssize_t check_limits(struct layer_stream *s, size_t n, struct nib_error *err)
{
	nib_sha256_update(s->hu, s->out, n);
	s->nu += n;
	if (s->lim->max_size && s->nu > s->lim->max_size)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "layer %s: uncompressed size passes the limit of %llu bytes "
			       "(NIB_LAYER_MAX_SIZE)",
			       s->name, (unsigned long long)s->lim->max_size);
	if (s->lim->max_ratio && s->nu > (64u << 20) && s->nu / MAX(s->nz, 1) > s->lim->max_ratio)
		return nib_err(err, NIB_ERR_CORRUPT, 0,
			       "layer %s: compression ratio passes %llu:1, refusing a "
			       "decompression bomb (NIB_LAYER_MAX_RATIO)",
			       s->name, (unsigned long long)s->lim->max_ratio);
	return (ssize_t)n;
}

static ssize_t read_gzip(struct layer_stream *s, struct nib_error *err)
{
	for (;;) {
		int ret;
		size_t have;

		if (s->z_done) {
			/* after a member: another member, zero padding, or the end */
			if (fill(s, err) < 0)
				return -1;
			while (s->in_pos < s->in_len && s->in[s->in_pos] == 0)
				s->in_pos++;
			if (s->in_pos == s->in_len) {
				if (s->in_eof)
					return 0;
				continue;
			}
			if (s->in[s->in_pos] != 0x1f)
				return nib_err(err, NIB_ERR_CORRUPT, 0,
					       "layer %s: garbage after the gzip stream", s->name);
			inflateReset(&s->z);
			s->z_done = false;
		}
		if (fill(s, err) < 0)
			return -1;
		s->z.next_in = s->in + s->in_pos;
		s->z.avail_in = (uInt)(s->in_len - s->in_pos);
		s->z.next_out = s->out;
		s->z.avail_out = OUT_SIZE;
		ret = inflate(&s->z, Z_NO_FLUSH);
		s->in_pos = s->in_len - s->z.avail_in;
		have = OUT_SIZE - s->z.avail_out;
		if (ret == Z_STREAM_END) {
			s->z_done = true;
		} else if (ret == Z_BUF_ERROR && s->in_eof && s->in_pos == s->in_len) {
			return nib_err(err, NIB_ERR_CORRUPT, 0, "layer %s: truncated gzip stream",
				       s->name);
		} else if (ret != Z_OK && ret != Z_BUF_ERROR) {
			return nib_err(err, NIB_ERR_CORRUPT, 0, "layer %s: gzip: %s", s->name,
				       s->z.msg ? s->z.msg : "corrupt data");
		}
		if (have > 0)
			return check_limits(s, have, err);
	}
}

static ssize_t read_zstd(struct layer_stream *s, struct nib_error *err)
{
	size_t last = 1;

	for (;;) {
		ZSTD_inBuffer ib;
		ZSTD_outBuffer ob = {s->out, OUT_SIZE, 0};

		if (fill(s, err) < 0)
			return -1;
		if (s->in_pos == s->in_len && s->in_eof) {
			if (last != 0 && !s->z_done)
				return nib_err(err, NIB_ERR_CORRUPT, 0,
					       "layer %s: truncated zstd stream", s->name);
			return 0;
		}
		ib.src = s->in;
		ib.size = s->in_len;
		ib.pos = s->in_pos;
		last = ZSTD_decompressStream(s->zs, &ob, &ib);
		s->in_pos = ib.pos;
		if (ZSTD_isError(last))
			return nib_err(err, NIB_ERR_CORRUPT, 0, "layer %s: zstd: %s", s->name,
				       ZSTD_getErrorName(last));
		s->z_done = last == 0;
		if (ob.pos > 0)
			return check_limits(s, ob.pos, err);
	}
}

ssize_t stg_layer_stream_read(struct layer_stream *s, const void **buf, struct nib_error *err)
{
	ssize_t n;

	*buf = s->out;
	if (s->finished)
		return 0;
	switch (s->comp) {
	case LAYER_COMP_GZIP:
		n = read_gzip(s, err);
		break;
	case LAYER_COMP_ZSTD:
		n = read_zstd(s, err);
		break;
	default:
		if (s->in_pos < s->in_len) {
			n = (ssize_t)(s->in_len - s->in_pos);
			memcpy(s->out, s->in + s->in_pos, (size_t)n);
			s->in_pos = s->in_len;
		} else {
			if (fill(s, err) < 0)
				return -1;
			n = (ssize_t)s->in_len;
			memcpy(s->out, s->in, (size_t)n);
			s->in_pos = s->in_len;
		}
		if (n > 0)
			n = check_limits(s, (size_t)n, err);
		break;
	}
	if (n == 0)
		s->finished = true;
	return n;
}

int stg_layer_stream_drain(struct layer_stream *s, struct nib_error *err)
{
	const void *b;
	ssize_t n;

	while ((n = stg_layer_stream_read(s, &b, err)) > 0)
		;
	return n < 0 ? -1 : 0;
}

void stg_layer_stream_digests(struct layer_stream *s, char digest[NIB_DIGEST_LEN + 1],
			      char diff_id[NIB_DIGEST_LEN + 1], uint64_t *nz, uint64_t *nu)
{
	nib_sha256_final(s->hz, digest);
	nib_sha256_final(s->hu, diff_id);
	*nz = s->nz;
	*nu = s->nu;
}

void stg_layer_stream_free(struct layer_stream *s)
{
	if (!s)
		return;
	if (s->z_init)
		inflateEnd(&s->z);
	if (s->zs)
		ZSTD_freeDStream(s->zs);
	nib_sha256_free(s->hz);
	nib_sha256_free(s->hu);
	free(s->in);
	free(s->out);
	free(s->name);
	free(s);
}
