/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builder: how a build shows its progress (nib build --progress), and the
 * live display a terminal gets: the running step with its clock and last
 * output lines, a bar for pulls, pushes and large COPY/ADD, finished steps
 * as lines above it. Redrawn by a thread at most ten times a second; none
 * of it runs when the output is not a terminal (builder/progress.c).
 */
#ifndef NIB_BUILDER_PROGRESS_H
#define NIB_BUILDER_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bld_progress_mode {
	BLD_PROGRESS_AUTO = 0, /* tty on a terminal (TERM not dumb), else plain */
	BLD_PROGRESS_PLAIN,
	BLD_PROGRESS_TTY,
	BLD_PROGRESS_JSON, /* one JSON object per event on standard output */
};

/* "auto|plain|tty|json" (buildx's "rawjson" too); -1 when unknown. */
int bld_progress_parse(const char *s);
/* What `m` means for output going to `fd`: AUTO and TTY become PLAIN when
 * `fd` is not a terminal or $TERM is "dumb" (no cursor movement). */
enum bld_progress_mode bld_progress_resolve(enum bld_progress_mode m, int fd);
/* Colours and bold: not with $NO_COLOR set (no-color.org) or TERM=dumb. */
bool bld_progress_color(void);

/* Start the live display on terminal `fd` (nib_log's lines are drawn
 * above it). Nothing happens when it cannot start (no thread). */
void bld_tty_start(int fd);
/* Erase the live area and stop the thread; no-op when not started. */
void bld_tty_stop(void);
/* The display runs, and this is the process that started it (a child of
 * the build writes plainly). */
bool bld_tty_on(void);
/* A new running step ("STEP 3/7: RUN make"): its clock starts, its
 * output lines and transfers are forgotten. */
void bld_tty_step(const char *title);
/* The running step ended: `line` is printed for good in its place. */
void bld_tty_step_end(const char *line);
/* What the running step does now, after its title ("writing the
 * layer"). */
void bld_tty_note(const char *note);
/* An output line of the running step (control characters shown as '?'). */
void bld_tty_output(const char *line, size_t len);
/* A transfer of the running step (a blob pulled or pushed): `done` of
 * `total` bytes; done == total ends it. */
void bld_tty_transfer(const char *id, int64_t done, int64_t total);
/* Bytes of a COPY/ADD: `total` expected (0 ends it; less than 8 MiB shows
 * no bar); _add from this process or a child of it (shared memory, no
 * lock). */
void bld_tty_bytes_expect(int64_t total);
void bld_tty_bytes_add(int64_t n);
/* Text printed for good above the live area (on `fd`), or plainly when
 * the display is off. */
void bld_tty_print(int fd, const char *text, size_t len);

#endif
