/* SPDX-License-Identifier: Apache-2.0 */
/* Layer compressors: gzip, zstd or none over a stream, on worker threads
 * (internal). */
#ifndef NIB_STORAGE_COMPRESS_H
#define NIB_STORAGE_COMPRESS_H

#ifndef NIB_STORAGE_INTERNAL
#error "storage/compress.h is internal to storage/"
#endif

#include "storage/storage.h"

/* Receives the compressed stream, in order, on the thread that calls
 * stg_compress_write() and stg_compress_finish(). */
typedef int (*compress_sink_fn)(void *arg, const void *p, size_t n, struct nib_error *err);

struct compress;

/*
 * Start a compressed stream. `level` 0 is the format's default (gzip 6,
 * zstd 3); `threads` 0 picks stg_compress_threads_auto(). The bytes produced
 * depend only on the input, the format and the level, never on `threads`:
 * gzip is a series of members of 1 MiB of input each, zstd is always made
 * by its multi-threaded engine with a fixed job size. Memory is bounded by
 * a few blocks per thread, whatever the stream's length.
 */
int stg_compress_new(enum stg_compression c, int level, unsigned threads, compress_sink_fn sink,
		     void *arg, struct compress **out, struct nib_error *err);
int stg_compress_write(struct compress *z, const void *p, size_t n, struct nib_error *err);
/* Flush the end of the stream into the sink; call once. */
int stg_compress_finish(struct compress *z, struct nib_error *err);
void stg_compress_free(struct compress *z);
NIB_DEFINE_CLEANUP(struct compress *, stg_compress_free)

/* Worker threads to use: $NIB_COMPRESS_THREADS when set (1-64), else the
 * CPUs this process may run on, bounded by a cgroup v2 CPU quota, at most
 * 4 (peak memory stays under 30 MB). */
unsigned stg_compress_threads_auto(void);

#endif
