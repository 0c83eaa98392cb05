/* SPDX-License-Identifier: Apache-2.0 */
/* Options shared by the commands that talk to registries (pull, push,
 * login, logout) and their progress output. */
#include <string.h>

#include "builder/builder.h"
#include "builder/progress.h"
#include "builder/regflags.h"

const char bld_reg_flags_help[] =
    "  --authfile FILE        credentials file (default $REGISTRY_AUTH_FILE, else\n"
    "                         $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json)\n"
    "  --creds USER:PASS      credentials for the registry\n"
    "  --cert-dir DIR         CA certificates (*.crt) and client certificate (*.cert, *.key)\n"
    "  --tls-verify=BOOL      verify TLS certificates; false also allows plain HTTP for this\n"
    "                         registry (default true)\n"
    "  --retry N              retries on network errors, 5xx and 429 (default 3)\n"
    "  --retry-delay DURATION delay before the first retry, doubled each time (default 1s)\n"
    "  -q, --quiet            no progress output\n";

/* A Go duration ("2s", "500ms", "1m30s"), or a plain number of seconds;
 * not negative. */
static int parse_delay(const char *s, double *out)
{
	char *end;
	int64_t ns;
	double v = strtod(s, &end);

	if (end != s && !*end) {
		if (v < 0)
			return -1;
		*out = v;
		return 0;
	}
	if (nib_parse_duration(s, &ns) < 0 || ns < 0)
		return -1;
	*out = (double)ns / 1e9;
	return 0;
}

int bld_reg_flag(const struct bld_command *cmd, int c, const char *arg, struct bld_reg_flags *f,
		 struct nib_error *err)
{
	uint64_t n;
	int b;

	switch (c) {
	case BLD_OPT_AUTHFILE:
		f->o.authfile = arg;
		return 1;
	case BLD_OPT_CREDS:
		f->o.creds = arg;
		return 1;
	case BLD_OPT_CERT_DIR:
		f->o.cert_dir = arg;
		return 1;
	case BLD_OPT_TLS_VERIFY:
		b = arg ? nib_parse_bool(arg) : 1;
		if (b < 0)
			return bld_usage_error(cmd, err, "--tls-verify: '%s' is not a boolean",
					       arg);
		f->o.tls_verify = b;
		return 1;
	case BLD_OPT_RETRY:
		if (nib_parse_u64(arg, &n) < 0 || n > 100)
			return bld_usage_error(cmd, err,
					       "--retry: '%s' is not a number from 0 to 100", arg);
		f->o.retries = (int)n;
		return 1;
	case BLD_OPT_RETRY_DELAY:
		if (parse_delay(arg, &f->o.retry_delay) < 0)
			return bld_usage_error(
			    cmd, err, "--retry-delay: '%s' is not a duration (2s, 500ms)", arg);
		if (f->o.retry_delay == 0)
			f->o.retry_delay = 0.001;
		return 1;
	case BLD_OPT_PLATFORM:
		f->o.platform = arg;
		return 1;
	case BLD_OPT_REGISTRIES_CONF:
		f->o.registries_conf = arg;
		return 1;
	case 'q':
		f->quiet = true;
		return 1;
	default:
		return 0;
	}
}

static void progress(void *data, const char *event, const char *digest, int64_t done, int64_t total)
{
	struct bld_reg_flags *f = data;
	const char *hex = nib_digest_hex(digest);
	_cleanup_free_ char *line = NULL, *b = bld_human_size(total);

	/* a terminal: the live display's bar (builder/progress.h) */
	bld_tty_transfer(digest, streq(event, "progress") ? done : total, total);
	if (streq(event, "progress"))
		return;
	if (streq(event, "done"))
		line = xasprintf("%s blob %.12s done (%s)\n", f->verb, hex, b);
	else if (streq(event, "exists"))
		line = xasprintf("Blob %.12s already present (%s)\n", hex, b);
	else if (streq(event, "mounted"))
		line = xasprintf("Blob %.12s mounted from another repository\n", hex);
	else if (streq(event, "skipped"))
		line = xasprintf("Blob %.12s already in the registry (%s)\n", hex, b);
	else
		line = xasprintf("%s %.12s\n", event, hex);
	bld_tty_print(STDERR_FILENO, line, strlen(line));
}

/* --log-format json: one event per blob state change ("push_progress" or
 * "pull_progress", the fields of the build's push events). */
static void progress_json(void *data, const char *event, const char *digest, int64_t done,
			  int64_t total)
{
	struct bld_reg_flags *f = data;
	_cleanup_buf_ struct nib_buf b = {0};

	nib_buf_puts(&b, "\"ref\":");
	nib_buf_json_string(&b, f->ref ? f->ref : "");
	nib_buf_printf(&b, ",\"state\":\"%s\",\"digest\":\"%s\",\"done\":%lld,\"total\":%lld",
		       event, digest, (long long)done, (long long)total);
	nib_log_event(streq(f->verb, "Wrote") ? "push_progress" : "pull_progress", b.data, NULL);
}

void bld_reg_flags_finish(struct bld_reg_flags *f, const char *verb)
{
	f->verb = verb;
	f->tty = bld_progress_resolve(BLD_PROGRESS_AUTO, STDERR_FILENO) == BLD_PROGRESS_TTY;
	if (!f->quiet && nib_log_get_format() == NIB_LOG_JSON) {
		f->o.progress = true;
		f->o.progress_fn = progress_json;
		f->o.progress_data = f;
	} else if (!f->quiet) {
		f->o.progress = true;
		f->o.progress_fn = progress;
		f->o.progress_data = f;
	}
}

void bld_reg_progress_begin(struct bld_reg_flags *f, const char *what)
{
	_cleanup_free_ char *line = NULL;

	if (f->quiet || nib_log_get_format() == NIB_LOG_JSON)
		return;
	free(f->title);
	f->title = xasprintf("%s %s", streq(f->verb, "Wrote") ? "Pushing" : "Pulling", what);
	if (f->tty) {
		bld_tty_start(STDERR_FILENO);
		bld_tty_step(f->title);
		return;
	}
	line = xasprintf("%s\n", f->title);
	(void)nib_write_all(STDERR_FILENO, line, strlen(line));
}

void bld_reg_progress_end(struct bld_reg_flags *f)
{
	if (f->title && bld_tty_on()) {
		bld_tty_step_end(f->title);
		bld_tty_stop();
	}
	free(f->title);
	f->title = NULL;
}
