/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "common/common.h"

int nib_err(struct nib_error *err, enum nib_err_kind kind, int errnum, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (!err)
		return -1;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (errnum) {
		char *full = xasprintf("%s: %s", msg, strerror(errnum));
		free(msg);
		msg = full;
	}
	free(err->msg);
	err->msg = msg;
	err->kind = kind;
	err->errnum = errnum;
	err->status = 0;
	return -1;
}

int nib_err_wrap(struct nib_error *err, const char *fmt, ...)
{
	va_list ap;
	char *ctx, *full;

	if (!err)
		return -1;
	va_start(ap, fmt);
	ctx = xvasprintf(fmt, ap);
	va_end(ap);
	full = err->msg ? xasprintf("%s: %s", ctx, err->msg) : xstrdup(ctx);
	free(ctx);
	free(err->msg);
	err->msg = full;
	if (err->kind == NIB_ERR_NONE)
		err->kind = NIB_ERR_IO;
	return -1;
}

void nib_err_clear(struct nib_error *err)
{
	if (!err)
		return;
	free(err->msg);
	memset(err, 0, sizeof(*err));
}

void nib_err_move(struct nib_error *dst, struct nib_error *src)
{
	if (!dst) {
		nib_err_clear(src);
		return;
	}
	free(dst->msg);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

int nib_err_exit_code(const struct nib_error *err)
{
	if (!err || err->kind == NIB_ERR_NONE)
		return 0;
	if (err->kind == NIB_ERR_USAGE || err->kind == NIB_ERR_SYNTAX)
		return 2;
	return 1;
}

const char *nib_err_kind_name(enum nib_err_kind kind)
{
	static const char *const names[] = {
	    [NIB_ERR_NONE] = "none",	   [NIB_ERR_USAGE] = "usage",
	    [NIB_ERR_SYNTAX] = "syntax",   [NIB_ERR_NETWORK] = "network",
	    [NIB_ERR_AUTH] = "auth",	   [NIB_ERR_NOT_FOUND] = "not-found",
	    [NIB_ERR_CORRUPT] = "corrupt", [NIB_ERR_ENV] = "environment",
	    [NIB_ERR_IO] = "io",	   [NIB_ERR_RUN] = "run",
	};
	if ((size_t)kind >= ARRAY_SIZE(names))
		return "unknown";
	return names[kind];
}
