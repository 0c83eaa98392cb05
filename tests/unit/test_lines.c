/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for builder/lines: a RUN step's output split into log lines,
 * whatever the read sizes; long lines in bounded pieces cut between UTF-8
 * characters; linear work and bounded memory for a 20 MB line.
 */
#include <time.h>

#include "builder/lines.h"
#include "tests/unit/unit.h"

struct got {
	struct nib_strv lines;
	enum bld_stream stream;
	size_t calls, longest, bytes;
	bool keep;
};

static void on_line(void *ctx, enum bld_stream stream, const char *line, size_t len)
{
	struct got *g = ctx;

	g->stream = stream;
	g->calls++;
	g->bytes += len;
	if (len > g->longest)
		g->longest = len;
	if (g->keep) {
		_cleanup_free_ char *s = xstrndup(line, len);
		nib_strv_push(&g->lines, s);
	}
}

/* Feed `text` in pieces of `chunk` bytes; return the lines joined by '|'. */
static char *split(const char *text, size_t chunk)
{
	struct bld_lines l = {0};
	struct got g = {.keep = true};
	size_t n = strlen(text);
	char *out;

	for (size_t i = 0; i < n; i += chunk)
		bld_lines_feed(&l, text + i, MIN(chunk, n - i), on_line, &g, BLD_STREAM_STDERR);
	bld_lines_finish(&l, on_line, &g, BLD_STREAM_STDERR);
	bld_lines_free(&l);
	out = nib_strv_join(&g.lines, "|");
	nib_strv_free(&g.lines);
	return out ? out : xstrdup("");
}

static void test_split(void)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
	    {"", ""},
	    {"a", "a"},
	    {"a\n", "a"},
	    {"a\nb", "a|b"},
	    {"a\n\nb\n", "a||b"},
	    {"\n", ""},
	    {"one\ntwo\nthree\n", "one|two|three"},
	    {"x\r\ny\n", "x\r|y"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		for (size_t chunk = 1; chunk <= 5; chunk++) {
			_cleanup_free_ char *got = split(rows[i].in, chunk);
			char name[64];
			snprintf(name, sizeof(name), "split row %zu, chunks of %zu", i, chunk);
			unit_row(name, streq(got, rows[i].want), got);
		}
}

/* A line longer than BLD_LINE_MAX comes in pieces that add up to it. */
static void test_long_line(void)
{
	size_t n = 3 * BLD_LINE_MAX + 100;
	_cleanup_free_ char *text = xmalloc(n + 3);
	struct bld_lines l = {0};
	struct got g = {.keep = true};

	for (size_t i = 0; i < n; i++)
		text[i] = (char)('a' + i % 26);
	memcpy(text + n, "\nz", 3);
	for (size_t i = 0; i < n + 2; i += 7000)
		bld_lines_feed(&l, text + i, MIN((size_t)7000, n + 2 - i), on_line, &g,
			       BLD_STREAM_STDOUT);
	bld_lines_finish(&l, on_line, &g, BLD_STREAM_STDOUT);
	CHECK_INTEQ(g.lines.len, 5);
	CHECK(g.stream == BLD_STREAM_STDOUT);
	struct nib_buf all = {0};
	for (size_t i = 0; i + 1 < g.lines.len; i++) {
		CHECK(strlen(g.lines.v[i]) <= BLD_LINE_MAX);
		nib_buf_puts(&all, g.lines.v[i]);
	}
	CHECK(all.len == n && memcmp(all.data, text, n) == 0);
	CHECK_STREQ(g.lines.v[g.lines.len - 1], "z");
	CHECK(l.b.cap <= 2 * BLD_LINE_MAX + 8192);
	nib_buf_free(&all);
	nib_strv_free(&g.lines);
	bld_lines_free(&l);
}

/* Pieces end between UTF-8 characters. */
static void test_utf8_cut(void)
{
	size_t n = 2 * BLD_LINE_MAX + 10;
	_cleanup_free_ char *text = xmalloc(n + 1);
	struct bld_lines l = {0};
	struct got g = {.keep = true};

	/* "é" (2 bytes) after an odd number of 'a's: a cut at BLD_LINE_MAX
	 * would fall inside one */
	text[0] = 'a';
	for (size_t i = 1; i + 1 < n; i += 2)
		memcpy(text + i, "\xc3\xa9", 2);
	text[n - 1] = 'a';
	text[n] = '\0';
	bld_lines_feed(&l, text, n, on_line, &g, BLD_STREAM_STDOUT);
	bld_lines_finish(&l, on_line, &g, BLD_STREAM_STDOUT);
	CHECK(g.lines.len >= 3);
	for (size_t i = 0; i < g.lines.len; i++) {
		const unsigned char *s = (const unsigned char *)g.lines.v[i];
		size_t k = strlen(g.lines.v[i]);
		CHECK(k > 0 && k <= BLD_LINE_MAX);
		CHECK((s[0] & 0xC0) != 0x80);
		CHECK(k < 2 || s[k - 1] != 0xc3);
	}
	nib_strv_free(&g.lines);
	bld_lines_free(&l);
}

/* 20 MB without a newline, then 20 MB of short lines, read 8 KiB at a
 * time as the runtime reads a pipe: every byte arrives, no piece passes
 * the cap, little memory is held. (Before, a held line was searched again
 * on every read: 25 s for this.) */
static void test_20mb_line(void)
{
	size_t n = 20u << 20;
	_cleanup_free_ char *big = xmalloc(n);
	struct bld_lines l = {0};
	struct got g = {0};
	struct timespec t0, t1;

	memset(big, 'x', n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < n; i += 8192)
		bld_lines_feed(&l, big + i, MIN((size_t)8192, n - i), on_line, &g,
			       BLD_STREAM_STDOUT);
	bld_lines_feed(&l, "\n", 1, on_line, &g, BLD_STREAM_STDOUT);
	CHECK_INTEQ(g.bytes, n);
	CHECK_INTEQ(g.calls, (n + BLD_LINE_MAX - 1) / BLD_LINE_MAX);
	CHECK_INTEQ(g.longest, BLD_LINE_MAX);
	CHECK(l.b.cap <= 2 * BLD_LINE_MAX + 8192);
	for (size_t i = 0; i + 99 < n; i += 100)
		big[i + 99] = '\n';
	g = (struct got){0};
	for (size_t i = 0; i < n; i += 8192)
		bld_lines_feed(&l, big + i, MIN((size_t)8192, n - i), on_line, &g,
			       BLD_STREAM_STDOUT);
	bld_lines_finish(&l, on_line, &g, BLD_STREAM_STDOUT);
	/* 209715 lines of 99 bytes, and 20 bytes without a newline */
	CHECK_INTEQ(g.calls, n / 100 + 1);
	CHECK_INTEQ(g.bytes, n - n / 100);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("  40 MB split in %.3f s\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	bld_lines_free(&l);
}

int main(void)
{
	test_split();
	RUN(test_long_line);
	RUN(test_utf8_cut);
	RUN(test_20mb_line);
	return unit_done();
}
