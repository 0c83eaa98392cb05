/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The live display of a build on a terminal (builder/progress.h).
 *
 * Events (a step starts, an output line, a transfer's bytes) only update
 * the state under a lock; a thread redraws the live area at most ten times
 * a second when something changed, and each second for the clock. Lines
 * that stay (a finished step, a log line) are written above the live area
 * at once. The thread allocates nothing and takes no lock but the
 * display's: the runtime clones children with a raw clone(2), which must
 * not find malloc's lock held. A child process of the build (a COPY in a
 * user namespace, say) never touches the display: its bytes go through a
 * shared counter and anything it prints is written plainly.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "builder/progress.h"
#include "common/common.h"

#define TAIL_LINES   5	 /* output lines of the running step shown */
#define LINE_MAX_LEN 400 /* bytes kept of one output line or title */
#define MAX_XFERS    64
#define MAX_COLS     300
#define TICK_NS	     100000000L /* 10 redraws a second at most */
#define BAR_MIN	     (8 << 20)	/* a smaller COPY or download shows no bar */

struct xfer {
	char id[80];
	int64_t done, total;
};

/* The COPY byte counter, in memory shared with the build's children. */
struct shared_bytes {
	_Atomic int64_t done, total;
};

static struct {
	pthread_mutex_t mu;
	pthread_t thread;
	bool on, stop;
	pid_t owner;
	int fd;
	bool color;
	char title[LINE_MAX_LEN];
	char note[64]; /* what the step does now ("writing the layer") */
	double t0;
	char tail[TAIL_LINES][LINE_MAX_LEN];
	size_t n_tail; /* lines in tail, the newest last */
	struct xfer xf[MAX_XFERS];
	size_t n_xf;
	int drawn; /* lines of the live area on the screen */
	bool dirty;
	char out[32768]; /* the thread's render buffer: no malloc there */
	size_t len;
} D = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

static struct shared_bytes *shm;

int bld_progress_parse(const char *s)
{
	static const char *const names[] = {"auto", "plain", "tty", "json"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcasecmp(s, names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "rawjson") == 0) /* docker buildx's name */
		return BLD_PROGRESS_JSON;
	return -1;
}

static bool term_dumb(void)
{
	const char *t = getenv("TERM");
	return !t || !*t || streq(t, "dumb");
}

enum bld_progress_mode bld_progress_resolve(enum bld_progress_mode m, int fd)
{
	if (m == BLD_PROGRESS_AUTO || m == BLD_PROGRESS_TTY)
		return isatty(fd) && !term_dumb() ? BLD_PROGRESS_TTY : BLD_PROGRESS_PLAIN;
	return m;
}

bool bld_progress_color(void)
{
	const char *nc = getenv("NO_COLOR");
	return !(nc && *nc) && !term_dumb();
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool bld_tty_on(void)
{
	return D.on && getpid() == D.owner;
}

/* ---- rendering (under the lock, into D.out) ---------------------------- */

static void put(const char *s, size_t n)
{
	n = MIN(n, sizeof(D.out) - D.len);
	memcpy(D.out + D.len, s, n);
	D.len += n;
}

static void puts_(const char *s)
{
	put(s, strlen(s));
}

static void flush_out(void)
{
	if (D.len)
		(void)nib_write_all(D.fd, D.out, D.len);
	D.len = 0;
}

/* `s` in at most `cols` columns: control characters as '?', a UTF-8
 * sequence as one column. Returns the columns used. */
static int fit(const char *s, size_t n, int cols)
{
	int used = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c & 0xc0) == 0x80) { /* continuation byte: same column */
			if (used)
				put((const char *)&c, 1);
			continue;
		}
		if (used >= cols)
			break;
		if (c == '\t')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		put((const char *)&c, 1);
		used++;
	}
	return used;
}

static int columns(void)
{
	struct winsize ws;

	if (ioctl(D.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return MIN((int)ws.ws_col, MAX_COLS);
	return 80;
}

/* bld_human_size's units without its allocation (the thread draws) */
static void human(char *buf, size_t n, int64_t v)
{
	if (v >= 1000000)
		snprintf(buf, n, "%.1f MB", (double)v / 1e6);
	else if (v >= 1000)
		snprintf(buf, n, "%.1f kB", (double)v / 1e3);
	else
		snprintf(buf, n, "%lld B", (long long)v);
}

static void erase(void)
{
	char seq[32];

	if (D.drawn > 0) {
		snprintf(seq, sizeof(seq), "\r\033[%dA\033[J", D.drawn);
		puts_(seq);
	}
	D.drawn = 0;
}

static void draw(void)
{
	int cols = columns() - 1; /* never the last column: no wrap */
	char clock[96], a[32], b[32], bar[64];
	int64_t done = 0, total = 0;

	if (!D.title[0])
		return;
	snprintf(clock, sizeof(clock), "%s%s %.0fs", D.note[0] ? ", " : "", D.note, now_s() - D.t0);
	if (D.color)
		puts_("\033[1m");
	int used = fit(D.title, strlen(D.title), MAX(cols - (int)strlen(clock), 10));
	if (D.color)
		puts_("\033[0m");
	if (used + (int)strlen(clock) <= cols)
		puts_(clock);
	puts_("\n");
	D.drawn = 1;
	for (size_t i = 0; i < D.n_tail; i++) {
		puts_(D.color ? "\033[2m  " : "  ");
		fit(D.tail[i], strlen(D.tail[i]), cols - 2);
		puts_(D.color ? "\033[0m\n" : "\n");
		D.drawn++;
	}
	for (size_t i = 0; i < D.n_xf; i++) {
		done += D.xf[i].done;
		total += D.xf[i].total;
	}
	if (shm && atomic_load(&shm->total) > 0) {
		done += atomic_load(&shm->done);
		total += atomic_load(&shm->total);
	}
	if (total <= 0)
		return;
	done = MIN(done, total);
	int width = MIN(30, MAX(cols - 40, 5));
	int fill = (int)((double)done / (double)total * width);
	memset(bar, '=', (size_t)fill);
	memset(bar + fill, ' ', (size_t)(width - fill));
	if (fill < width && fill > 0)
		bar[fill - 1] = '>';
	bar[width] = '\0';
	human(a, sizeof(a), done);
	human(b, sizeof(b), total);
	char line[200];
	snprintf(line, sizeof(line), "  [%s] %3d%% %s / %s", bar, (int)(100.0 * done / total), a,
		 b);
	fit(line, strlen(line), cols);
	puts_("\n");
	D.drawn++;
}

static void redraw_locked(void)
{
	erase();
	draw();
	flush_out();
	D.dirty = false;
}

/* ---- the thread ---------------------------------------------------------- */

static void *ticker(void *arg)
{
	int64_t last_bytes = -1;
	double last = 0;

	(void)arg;
	for (;;) {
		struct timespec ts = {0, TICK_NS};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&D.mu);
		if (D.stop) {
			pthread_mutex_unlock(&D.mu);
			return NULL;
		}
		int64_t bytes = shm ? atomic_load(&shm->done) : 0;
		double t = now_s();
		if (bytes != last_bytes || (D.title[0] && t - last >= 1.0))
			D.dirty = true;
		if (D.dirty) {
			redraw_locked();
			last = t;
			last_bytes = bytes;
		}
		pthread_mutex_unlock(&D.mu);
	}
}

static void log_writer(int fd, const char *data, size_t len)
{
	bld_tty_print(fd, data, len);
}

void bld_tty_start(int fd)
{
	sigset_t all, old;

	if (D.on)
		return;
	if (!shm) {
		void *p = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		shm = p == MAP_FAILED ? NULL : p;
	}
	D.fd = fd;
	D.color = bld_progress_color();
	D.owner = getpid();
	D.stop = false;
	D.drawn = 0;
	/* signals stay the main thread's (Ctrl-C, --timeout's alarm) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&D.thread, NULL, ticker, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		return;
	D.on = true;
	nib_log_set_writer(log_writer);
}

void bld_tty_stop(void)
{
	if (!bld_tty_on())
		return;
	nib_log_set_writer(NULL);
	pthread_mutex_lock(&D.mu);
	D.stop = true;
	erase();
	flush_out();
	pthread_mutex_unlock(&D.mu);
	pthread_join(D.thread, NULL);
	D.on = false;
	D.title[0] = '\0';
	D.n_tail = D.n_xf = 0;
	if (shm)
		atomic_store(&shm->total, 0);
}

void bld_tty_step(const char *title)
{
	if (!bld_tty_on())
		return;
	pthread_mutex_lock(&D.mu);
	snprintf(D.title, sizeof(D.title), "%s", title);
	D.note[0] = '\0';
	D.t0 = now_s();
	D.n_tail = D.n_xf = 0;
	if (shm)
		atomic_store(&shm->total, 0);
	D.dirty = true; /* a step that ends within a tick is never drawn */
	pthread_mutex_unlock(&D.mu);
}

void bld_tty_step_end(const char *line)
{
	if (!bld_tty_on())
		return;
	pthread_mutex_lock(&D.mu);
	erase();
	D.title[0] = D.note[0] = '\0';
	D.n_tail = D.n_xf = 0;
	if (shm)
		atomic_store(&shm->total, 0);
	fit(line, strlen(line), MAX_COLS * 2);
	puts_("\n");
	flush_out();
	pthread_mutex_unlock(&D.mu);
}

void bld_tty_note(const char *note)
{
	if (!bld_tty_on())
		return;
	pthread_mutex_lock(&D.mu);
	snprintf(D.note, sizeof(D.note), "%s", note);
	D.dirty = true;
	pthread_mutex_unlock(&D.mu);
}

void bld_tty_output(const char *line, size_t len)
{
	if (!bld_tty_on())
		return;
	pthread_mutex_lock(&D.mu);
	if (D.n_tail == TAIL_LINES) {
		memmove(D.tail[0], D.tail[1], sizeof(D.tail[0]) * (TAIL_LINES - 1));
		D.n_tail--;
	}
	len = MIN(len, LINE_MAX_LEN - 1);
	memcpy(D.tail[D.n_tail], line, len);
	D.tail[D.n_tail++][len] = '\0';
	D.dirty = true;
	pthread_mutex_unlock(&D.mu);
}

void bld_tty_transfer(const char *id, int64_t done, int64_t total)
{
	size_t i;

	if (!bld_tty_on())
		return;
	pthread_mutex_lock(&D.mu);
	for (i = 0; i < D.n_xf && strcmp(D.xf[i].id, id) != 0; i++)
		;
	if (i == D.n_xf && D.n_xf < MAX_XFERS) {
		snprintf(D.xf[i].id, sizeof(D.xf[i].id), "%s", id);
		D.n_xf++;
	}
	if (i < D.n_xf) {
		D.xf[i].done = done;
		D.xf[i].total = total;
	}
	D.dirty = true;
	pthread_mutex_unlock(&D.mu);
}

void bld_tty_bytes_expect(int64_t total)
{
	if (!shm || !D.on)
		return;
	atomic_store(&shm->done, 0);
	atomic_store(&shm->total, total >= BAR_MIN ? total : 0);
}

void bld_tty_bytes_add(int64_t n)
{
	/* from this process or a child: no lock, the thread looks */
	if (shm && D.on)
		atomic_fetch_add(&shm->done, n);
}

void bld_tty_print(int fd, const char *text, size_t len)
{
	if (!bld_tty_on()) {
		(void)nib_write_all(fd, text, len);
		return;
	}
	pthread_mutex_lock(&D.mu);
	erase();
	flush_out();
	fflush(stdout);
	(void)nib_write_all(fd, text, len);
	redraw_locked();
	pthread_mutex_unlock(&D.mu);
}
