/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests: layer compressors on worker threads give the same bytes as
 * on one thread (gzip: one member per 1 MiB of input; zstd: its
 * multi-threaded engine), the bytes decompress to the input, errors from
 * the sink stop the stream, and memory stays bounded.
 */
#define NIB_STORAGE_INTERNAL
#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>

#include "storage/compress.h"
#include "tests/unit/unit.h"

#define MIB (1u << 20)

/* text-like bytes that compress about 3:1, the same for every call */
static unsigned char *make_input(size_t n)
{
	unsigned char *b = xmalloc(n ? n : 1);
	uint32_t x = 12345;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (x >> 16) % 7 == 0 ? (unsigned char)(x >> 8)
					  : (unsigned char)('a' + (x >> 16) % 8);
	}
	return b;
}

struct out {
	struct nib_buf b;
	size_t fail_after; /* 0: never */
};

static int to_buf(void *arg, const void *p, size_t n, struct nib_error *err)
{
	struct out *o = arg;

	if (o->fail_after && o->b.len + n > o->fail_after)
		return nib_err(err, NIB_ERR_IO, ENOSPC, "write the layer");
	nib_buf_append(&o->b, p, n);
	return 0;
}

/* Compress `in` fed in pieces of `piece` bytes (0: one call). */
static int run(enum stg_compression c, int level, unsigned threads, const unsigned char *in,
	       size_t n, size_t piece, struct out *o, struct nib_error *err)
{
	_cleanup_(stg_compress_freep) struct compress *z = NULL;

	if (stg_compress_new(c, level, threads, to_buf, o, &z, err) < 0)
		return -1;
	for (size_t at = 0; at < n;) {
		size_t k = piece ? MIN(piece, n - at) : n;
		if (stg_compress_write(z, in + at, k, err) < 0)
			return -1;
		at += k;
	}
	return stg_compress_finish(z, err);
}

/* gunzip a series of members; NULL when corrupt */
static unsigned char *gunzip(const unsigned char *p, size_t n, size_t *out_n, int *members)
{
	z_stream z = {0};
	struct nib_buf b = {0};
	unsigned char tmp[65536];
	int r = Z_OK;

	*members = 0;
	inflateInit2(&z, 15 + 16);
	z.next_in = (unsigned char *)p;
	z.avail_in = (uInt)n;
	while (z.avail_in > 0) {
		z.next_out = tmp;
		z.avail_out = sizeof(tmp);
		r = inflate(&z, Z_NO_FLUSH);
		nib_buf_append(&b, tmp, sizeof(tmp) - z.avail_out);
		if (r == Z_STREAM_END) {
			(*members)++;
			inflateReset(&z);
		} else if (r != Z_OK) {
			break;
		}
	}
	inflateEnd(&z);
	*out_n = b.len;
	if (r != Z_STREAM_END) {
		nib_buf_free(&b);
		return NULL;
	}
	return (unsigned char *)nib_buf_steal(&b);
}

static void test_gzip_threads_same_bytes(void)
{
	static const size_t sizes[] = {0, 1, 512, MIB - 1, MIB, MIB + 1, 3 * MIB + 7};
	static const unsigned threads[] = {1, 2, 3, 8};
	struct libdeflate_compressor *ref = libdeflate_alloc_compressor(6);

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t n = sizes[i];
		_cleanup_free_ unsigned char *in = make_input(n);
		struct nib_buf want = {0};
		size_t cap = libdeflate_gzip_compress_bound(ref, MIB);
		_cleanup_free_ unsigned char *tmp = xmalloc(cap);

		/* the format's contract: one member per MiB, an empty stream
		 * one empty member */
		for (size_t at = 0; at < n || (n == 0 && at == 0); at += MIB) {
			size_t k =
			    libdeflate_gzip_compress(ref, in + at, MIN(MIB, n - at), tmp, cap);
			nib_buf_append(&want, tmp, k);
			if (n == 0)
				break;
		}
		for (size_t t = 0; t < ARRAY_SIZE(threads); t++) {
			struct out o = {0};
			struct nib_error err = {0};
			size_t un = 0;
			int members;
			/* 1 byte pieces for the small sizes, odd pieces for the large */
			CHECK(run(STG_COMPRESS_GZIP, 0, threads[t], in, n, n < 4096 ? 1 : 65537, &o,
				  &err) == 0);
			CHECK_INTEQ(o.b.len, want.len);
			CHECK(o.b.len == want.len && memcmp(o.b.data, want.data, want.len) == 0);
			_cleanup_free_ unsigned char *back =
			    gunzip((unsigned char *)o.b.data, o.b.len, &un, &members);
			CHECK(back != NULL);
			CHECK_INTEQ(un, n);
			CHECK(back && un == n && memcmp(back, in, n) == 0);
			CHECK_INTEQ(members, n == 0 ? 1 : (int)((n + MIB - 1) / MIB));
			nib_buf_free(&o.b);
		}
		nib_buf_free(&want);
	}
	libdeflate_free_compressor(ref);
}

static void test_gzip_levels(void)
{
	_cleanup_free_ unsigned char *in = make_input(2 * MIB + 3);

	/* every level: the same bytes on 1 and 4 threads */
	for (int level = 1; level <= 12; level += 3) {
		struct out a = {0}, b = {0};
		CHECK(run(STG_COMPRESS_GZIP, level, 1, in, 2 * MIB + 3, 0, &a, NULL) == 0);
		CHECK(run(STG_COMPRESS_GZIP, level, 4, in, 2 * MIB + 3, 0, &b, NULL) == 0);
		CHECK(a.b.len == b.b.len && memcmp(a.b.data, b.b.data, a.b.len) == 0);
		nib_buf_free(&a.b);
		nib_buf_free(&b.b);
	}
}

static void test_zstd_threads_same_bytes(void)
{
	static const size_t sizes[] = {0, 1, MIB, MIB + 1, 5 * MIB + 3};
	static const unsigned threads[] = {1, 2, 3, 8};

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t n = sizes[i];
		_cleanup_free_ unsigned char *in = make_input(n);
		struct out first = {0};

		for (size_t t = 0; t < ARRAY_SIZE(threads); t++) {
			struct out o = {0};
			struct nib_error err = {0};
			CHECK(run(STG_COMPRESS_ZSTD, 0, threads[t], in, n, n < 4096 ? 1 : 65537, &o,
				  &err) == 0);
			if (t == 0) {
				first = o;
				continue;
			}
			CHECK(o.b.len == first.b.len &&
			      memcmp(o.b.data, first.b.data, o.b.len) == 0);
			nib_buf_free(&o.b);
		}
		/* decompresses to the input, content checksum on */
		ZSTD_DCtx *d = ZSTD_createDCtx();
		_cleanup_free_ unsigned char *back = xmalloc(n + 1);
		ZSTD_inBuffer ib = {first.b.data, first.b.len, 0};
		ZSTD_outBuffer ob = {back, n + 1, 0};
		size_t r = ZSTD_decompressStream(d, &ob, &ib);
		CHECK(!ZSTD_isError(r) && r == 0);
		CHECK_INTEQ(ob.pos, n);
		CHECK(memcmp(back, in, n) == 0);
		/* RFC 8878 3.1.1.1.1: Content_Checksum_flag, bit 2 of the
		 * frame header descriptor after the magic */
		CHECK(first.b.len > 4 && (first.b.data[4] & 0x04));
		ZSTD_freeDCtx(d);
		nib_buf_free(&first.b);
	}
}

static void test_none(void)
{
	_cleanup_free_ unsigned char *in = make_input(MIB + 17);
	struct out o = {0};

	CHECK(run(STG_COMPRESS_NONE, 0, 4, in, MIB + 17, 1000, &o, NULL) == 0);
	CHECK(o.b.len == MIB + 17 && memcmp(o.b.data, in, o.b.len) == 0);
	nib_buf_free(&o.b);
	CHECK(run(STG_COMPRESS_NONE, 0, 1, in, 0, 0, &o, NULL) == 0);
	CHECK_INTEQ(o.b.len, 0);
	nib_buf_free(&o.b);
}

static void test_errors(void)
{
	_cleanup_free_ unsigned char *in = make_input(6 * MIB);
	struct nib_error err = {0};
	struct compress *z = NULL;

	CHECK(stg_compress_new(STG_COMPRESS_GZIP, 13, 2, to_buf, NULL, &z, &err) < 0);
	CHECK(err.kind == NIB_ERR_USAGE && strstr(err.msg, "gzip: bad compression level 13"));
	nib_err_clear(&err);
	CHECK(stg_compress_new(STG_COMPRESS_ZSTD, 99, 2, to_buf, NULL, &z, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "zstd: bad compression level 99"));
	nib_err_clear(&err);
	CHECK(stg_compress_new((enum stg_compression)7, 0, 2, to_buf, NULL, &z, &err) < 0);
	nib_err_clear(&err);
	CHECK(z == NULL);
	/* the sink fails half way: the error comes back, the workers stop */
	for (unsigned t = 1; t <= 4; t++) {
		struct out o = {.fail_after = MIB / 2};
		CHECK(run(STG_COMPRESS_GZIP, 1, t, in, 6 * MIB, 100000, &o, &err) < 0);
		CHECK(err.msg && strstr(err.msg, "write the layer"));
		nib_err_clear(&err);
		nib_buf_free(&o.b);
		o = (struct out){.fail_after = 1000};
		CHECK(run(STG_COMPRESS_ZSTD, 1, t, in, 6 * MIB, 100000, &o, &err) < 0);
		CHECK(err.msg && strstr(err.msg, "write the layer"));
		nib_err_clear(&err);
		nib_buf_free(&o.b);
	}
	/* freed before the end: no hang, no leak */
	CHECK(stg_compress_new(STG_COMPRESS_GZIP, 6, 3, to_buf, &(struct out){0}, &z, &err) == 0);
	stg_compress_free(z);
}

static void test_threads_auto(void)
{
	setenv("NIB_COMPRESS_THREADS", "3", 1);
	CHECK_INTEQ(stg_compress_threads_auto(), 3);
	setenv("NIB_COMPRESS_THREADS", "0", 1);
	CHECK(stg_compress_threads_auto() >= 1 && stg_compress_threads_auto() <= 4);
	unsetenv("NIB_COMPRESS_THREADS");
	CHECK(stg_compress_threads_auto() >= 1 && stg_compress_threads_auto() <= 4);
}

int main(void)
{
	RUN(test_gzip_threads_same_bytes);
	RUN(test_gzip_levels);
	RUN(test_zstd_threads_same_bytes);
	RUN(test_none);
	RUN(test_errors);
	RUN(test_threads_auto);
	return unit_done();
}
