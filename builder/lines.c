/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A RUN step's output split into log lines (builder/lines.h). The held
 * part of a line never passes BLD_LINE_MAX, so the work per byte is
 * constant whatever the output: a 20 MB line with no newline costs what
 * 20 MB of short lines cost.
 */
#include <string.h>

#include "builder/lines.h"

/* Length of a piece of at most `max` bytes of `p` (which holds more) that
 * does not end inside a UTF-8 character. */
static size_t utf8_cut(const char *p, size_t max)
{
	size_t k = max;

	while (k > 0 && max - k < 3 && ((unsigned char)p[k] & 0xC0) == 0x80)
		k--;
	return k > 0 && ((unsigned char)p[k] & 0xC0) != 0x80 ? k : max;
}

void bld_lines_feed(struct bld_lines *l, const char *data, size_t n, bld_line_fn fn, void *ctx,
		    enum bld_stream stream)
{
	size_t start = 0, pos, len;
	const char *p;

	if (!n)
		return;
	/* what is held has no newline: only the new bytes are searched */
	pos = l->b.len;
	nib_buf_append(&l->b, data, n);
	p = l->b.data;
	len = l->b.len;
	for (;;) {
		const char *nl = memchr(p + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - p) : len;
		while (end - start > BLD_LINE_MAX) {
			size_t cut = utf8_cut(p + start, BLD_LINE_MAX);
			fn(ctx, stream, p + start, cut);
			start += cut;
		}
		if (!nl)
			break;
		fn(ctx, stream, p + start, end - start);
		start = pos = end + 1;
	}
	/* at most BLD_LINE_MAX bytes stay */
	if (start) {
		memmove(l->b.data, p + start, len - start);
		l->b.len = len - start;
		l->b.data[l->b.len] = '\0';
	}
}

void bld_lines_finish(struct bld_lines *l, bld_line_fn fn, void *ctx, enum bld_stream stream)
{
	if (l->b.len)
		fn(ctx, stream, l->b.data, l->b.len);
	nib_buf_reset(&l->b);
}

void bld_lines_free(struct bld_lines *l)
{
	nib_buf_free(&l->b);
}
