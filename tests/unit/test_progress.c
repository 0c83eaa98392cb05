/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for builder/progress: --progress values, which mode a pipe,
 * a terminal and a dumb terminal get, NO_COLOR, and the live display on a
 * pty: the step's last lines only, control characters made harmless, a
 * bar, at most ten redraws a second, nothing left on the screen after
 * stop.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "builder/progress.h"
#include "common/common.h"
#include "tests/unit/unit.h"

static void test_parse(void)
{
	CHECK_INTEQ(bld_progress_parse("auto"), BLD_PROGRESS_AUTO);
	CHECK_INTEQ(bld_progress_parse("plain"), BLD_PROGRESS_PLAIN);
	CHECK_INTEQ(bld_progress_parse("TTY"), BLD_PROGRESS_TTY);
	CHECK_INTEQ(bld_progress_parse("json"), BLD_PROGRESS_JSON);
	CHECK_INTEQ(bld_progress_parse("rawjson"), BLD_PROGRESS_JSON);
	CHECK_INTEQ(bld_progress_parse("fancy"), -1);
	CHECK_INTEQ(bld_progress_parse(""), -1);
}

/* A pty: its master in *master, its terminal side returned. */
static int open_pty(int *master)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
		if (m >= 0)
			close(m);
		return -1;
	}
	*master = m;
	return open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
}

static void test_resolve(void)
{
	int p[2], m = -1, s;

	CHECK(pipe(p) == 0);
	setenv("TERM", "xterm", 1);
	CHECK_INTEQ(bld_progress_resolve(BLD_PROGRESS_AUTO, p[1]), BLD_PROGRESS_PLAIN);
	CHECK_INTEQ(bld_progress_resolve(BLD_PROGRESS_TTY, p[1]), BLD_PROGRESS_PLAIN);
	CHECK_INTEQ(bld_progress_resolve(BLD_PROGRESS_JSON, p[1]), BLD_PROGRESS_JSON);
	close(p[0]);
	close(p[1]);
	s = open_pty(&m);
	if (s < 0)
		SKIP("no pty here (/dev/ptmx)");
	CHECK_INTEQ(bld_progress_resolve(BLD_PROGRESS_AUTO, s), BLD_PROGRESS_TTY);
	CHECK_INTEQ(bld_progress_resolve(BLD_PROGRESS_PLAIN, s), BLD_PROGRESS_PLAIN);
	setenv("TERM", "dumb", 1);
	CHECK_INTEQ(bld_progress_resolve(BLD_PROGRESS_AUTO, s), BLD_PROGRESS_PLAIN);
	CHECK_INTEQ(bld_progress_resolve(BLD_PROGRESS_TTY, s), BLD_PROGRESS_PLAIN);
	unsetenv("TERM");
	CHECK_INTEQ(bld_progress_resolve(BLD_PROGRESS_AUTO, s), BLD_PROGRESS_PLAIN);
	close(s);
	close(m);
}

static void test_color(void)
{
	setenv("TERM", "xterm", 1);
	unsetenv("NO_COLOR");
	CHECK(bld_progress_color());
	setenv("NO_COLOR", "", 1); /* no-color.org: set and not empty */
	CHECK(bld_progress_color());
	setenv("NO_COLOR", "1", 1);
	CHECK(!bld_progress_color());
	unsetenv("NO_COLOR");
	setenv("TERM", "dumb", 1);
	CHECK(!bld_progress_color());
}

/* Everything the master side has to read now. */
static char *drain(int m)
{
	struct nib_buf b = {0};
	char buf[4096];
	struct pollfd pfd = {.fd = m, .events = POLLIN};

	while (poll(&pfd, 1, 200) > 0) {
		ssize_t n = read(m, buf, sizeof(buf));
		if (n <= 0)
			break;
		nib_buf_append(&b, buf, (size_t)n);
	}
	nib_buf_putc(&b, '\0');
	return nib_buf_steal(&b);
}

static int count(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

static void test_display(void)
{
	struct timespec half = {0, 500000000L};
	int m = -1, s = open_pty(&m);
	char line[64];

	if (s < 0)
		SKIP("no pty here (/dev/ptmx)");
	setenv("TERM", "xterm", 1);
	setenv("NO_COLOR", "1", 1);
	bld_tty_start(s);
	CHECK(bld_tty_on());
	bld_tty_step("STEP 1/1: RUN chatty");
	for (int i = 0; i < 2000; i++) {
		int n = snprintf(line, sizeof(line), "line %d", i);
		bld_tty_output(line, (size_t)n);
	}
	bld_tty_output("a\033[31mb\x07", 8);
	bld_tty_transfer("sha256:x", 5000000, 10000000);
	nanosleep(&half, NULL);
	bld_tty_step_end("STEP 1/1: RUN chatty --> Done (0.500s)");
	bld_tty_stop();
	CHECK(!bld_tty_on());
	_cleanup_free_ char *out = drain(m);

	CHECK(strstr(out, "STEP 1/1: RUN chatty 0s") != NULL);
	CHECK(strstr(out, "  line 1999") != NULL);
	CHECK(strstr(out, "line 1000\r") == NULL); /* only the last lines */
	CHECK(strstr(out, "  a?[31mb?") != NULL);
	CHECK(strstr(out, "\033[31m") == NULL);
	CHECK(strstr(out, "]  50% 5.0 MB / 10.0 MB") != NULL);
	CHECK(strstr(out, "STEP 1/1: RUN chatty --> Done (0.500s)") != NULL);
	CHECK(strstr(out, "\033[1m") == NULL); /* NO_COLOR */
	/* half a second: at most 5 redraws (each moves the cursor up once) */
	int redraws = count(out, "A\033[J");
	CHECK(redraws >= 1 && redraws <= 6);
	/* after stop the live area is gone: the last thing written erased it
	 * and printed the finished step */
	const char *last = strstr(out, "--> Done");
	CHECK(last && !strchr(last, '\033'));
	unsetenv("NO_COLOR");
	close(s);
	close(m);
}

int main(void)
{
	RUN(test_parse);
	RUN(test_resolve);
	RUN(test_color);
	RUN(test_display);
	return unit_done();
}
