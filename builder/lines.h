/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builder/lines: a RUN step's output split into log lines. Linear in the
 * bytes fed (each byte is looked at once and copied at most twice), and
 * bounded: at most BLD_LINE_MAX bytes are held per stream, a longer line is
 * passed on in pieces of at most that size (cut between UTF-8 characters).
 */
#ifndef NIB_BUILDER_LINES_H
#define NIB_BUILDER_LINES_H

#include "builder/runtime.h"

/* The longest line passed on in one piece. */
#define BLD_LINE_MAX ((size_t)64 << 10)

struct bld_lines {
	struct nib_buf b; /* the start of a line whose end has not come yet */
};

/* Pass every complete line of `data` (after what earlier calls held) to
 * `fn`, without its newline; keep the unfinished rest. */
void bld_lines_feed(struct bld_lines *l, const char *data, size_t n, bld_line_fn fn, void *ctx,
		    enum bld_stream stream);
/* End of the stream: pass the unfinished rest, if any, as a last line. */
void bld_lines_finish(struct bld_lines *l, bld_line_fn fn, void *ctx, enum bld_stream stream);
void bld_lines_free(struct bld_lines *l);

#endif
