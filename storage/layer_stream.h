/* SPDX-License-Identifier: Apache-2.0 */
/* Layer streams: decompression with digests and limits (internal). */
#ifndef NIB_STORAGE_LAYER_STREAM_H
#define NIB_STORAGE_LAYER_STREAM_H

#ifndef NIB_STORAGE_INTERNAL
#error "storage/layer_stream.h is internal to storage/"
#endif

#include "storage/storage.h"

enum layer_comp { LAYER_COMP_NONE = 0, LAYER_COMP_GZIP, LAYER_COMP_ZSTD };

struct layer_stream;

/* Start reading `fd` (not owned); `lim` must outlive the stream. */
int stg_layer_stream_open(int fd, const char *name, const struct stg_layer_limits *lim,
			  struct layer_stream **out, struct nib_error *err);
enum layer_comp stg_layer_stream_comp(const struct layer_stream *s);
/* The next decompressed chunk: > 0 bytes at *buf, 0 at the end, -1 on
 * error (corrupt or truncated data, a limit passed). */
ssize_t stg_layer_stream_read(struct layer_stream *s, const void **buf, struct nib_error *err);
/* Read to the end (what follows the tar's end still counts in digests). */
int stg_layer_stream_drain(struct layer_stream *s, struct nib_error *err);
/* Finish the digests; call once, at the end. */
void stg_layer_stream_digests(struct layer_stream *s, char digest[NIB_DIGEST_LEN + 1],
			      char diff_id[NIB_DIGEST_LEN + 1], uint64_t *nz, uint64_t *nu);
void stg_layer_stream_free(struct layer_stream *s);
NIB_DEFINE_CLEANUP(struct layer_stream *, stg_layer_stream_free)

#endif
