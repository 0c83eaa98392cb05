/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/common.h"

static enum nib_log_level log_level = NIB_LOG_WARN;
static enum nib_log_format log_format = NIB_LOG_TEXT;
static enum nib_log_format event_format = NIB_LOG_TEXT;
static nib_log_writer_fn writer;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void nib_log_setup(enum nib_log_level level, enum nib_log_format format)
{
	log_level = level;
	log_format = format;
	event_format = format;
}

void nib_log_set_event_format(enum nib_log_format format)
{
	event_format = format;
}

enum nib_log_format nib_log_get_event_format(void)
{
	return event_format;
}

void nib_log_set_writer(nib_log_writer_fn fn)
{
	writer = fn;
}

/* One write per line so lines of concurrent processes do not mix. */
static void emit(int fd, const struct nib_buf *b)
{
	if (writer)
		writer(fd, b->data, b->len);
	else
		(void)nib_write_all(fd, b->data, b->len);
}

enum nib_log_level nib_log_get_level(void)
{
	return log_level;
}

enum nib_log_format nib_log_get_format(void)
{
	return log_format;
}

int nib_log_level_parse(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warning") == 0)
		return NIB_LOG_WARN;
	return -1;
}

bool nib_log_enabled(enum nib_log_level level)
{
	return level <= log_level;
}

static void json_time(struct nib_buf *b)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	nib_buf_printf(b, "\"time\":\"%s.%03ldZ\"", when, ts.tv_nsec / 1000000);
}

void nib_log(enum nib_log_level level, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	_cleanup_buf_ struct nib_buf b = {0};
	va_list ap;

	if (!nib_log_enabled(level))
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);

	if (log_format == NIB_LOG_JSON) {
		nib_buf_puts(&b, "{");
		json_time(&b);
		nib_buf_printf(&b,
			       ",\"event\":\"log\",\"level\":\"%s\",\"msg\":", level_names[level]);
		nib_buf_json_string(&b, msg);
		nib_buf_puts(&b, "}\n");
	} else if (level == NIB_LOG_ERROR) {
		nib_buf_printf(&b, "nib: error: %s\n", msg);
	} else if (level == NIB_LOG_WARN) {
		nib_buf_printf(&b, "nib: warning: %s\n", msg);
	} else {
		nib_buf_printf(&b, "nib: %s\n", msg);
	}
	emit(STDERR_FILENO, &b);
}

void nib_log_event(const char *event, const char *json_fields, const char *text)
{
	_cleanup_buf_ struct nib_buf b = {0};

	if (event_format == NIB_LOG_JSON) {
		nib_buf_puts(&b, "{");
		json_time(&b);
		nib_buf_puts(&b, ",\"event\":");
		nib_buf_json_string(&b, event);
		if (json_fields && *json_fields)
			nib_buf_printf(&b, ",%s", json_fields);
		nib_buf_puts(&b, "}\n");
	} else if (text) {
		nib_buf_puts(&b, text);
		if (!nib_str_has_suffix(text, "\n"))
			nib_buf_putc(&b, '\n');
	} else {
		return;
	}
	emit(STDOUT_FILENO, &b);
}
