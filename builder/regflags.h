/* SPDX-License-Identifier: Apache-2.0 */
/* builder: options shared by the registry commands (builder/regflags.c). */
#ifndef NIB_BUILDER_REGFLAGS_H
#define NIB_BUILDER_REGFLAGS_H

#include <getopt.h>

#include "builder/builder.h"
#include "registry/registry.h"

enum {
	BLD_OPT_AUTHFILE = 0x1000,
	BLD_OPT_CREDS,
	BLD_OPT_CERT_DIR,
	BLD_OPT_TLS_VERIFY,
	BLD_OPT_RETRY,
	BLD_OPT_RETRY_DELAY,
	BLD_OPT_PLATFORM,
	BLD_OPT_REGISTRIES_CONF,
	BLD_OPT_LOCAL = 0x1100, /* first id free for a command's own options */
};

#define BLD_REG_LONG_OPTIONS                                                                       \
	{"authfile", required_argument, NULL, BLD_OPT_AUTHFILE},                                   \
	    {"creds", required_argument, NULL, BLD_OPT_CREDS},                                     \
	    {"cert-dir", required_argument, NULL, BLD_OPT_CERT_DIR},                               \
	    {"tls-verify", optional_argument, NULL, BLD_OPT_TLS_VERIFY},                           \
	    {"retry", required_argument, NULL, BLD_OPT_RETRY},                                     \
	    {"retry-delay", required_argument, NULL, BLD_OPT_RETRY_DELAY},                         \
	    {"registries-conf", required_argument, NULL, BLD_OPT_REGISTRIES_CONF},                 \
	{                                                                                          \
		"quiet", no_argument, NULL, 'q'                                                    \
	}

struct bld_reg_flags {
	struct reg_options o;
	bool quiet;
	bool tty;
	const char *verb;
	const char *ref; /* --log-format json: the reference progress events name */
	char *title;	 /* "Pulling REF" (bld_reg_progress_begin) */
};

#define BLD_REG_FLAGS_INIT                                                                         \
	{                                                                                          \
		.o = {.tls_verify = -1, .retries = -1 }                                            \
	}

extern const char bld_reg_flags_help[];
/* 1: the option was one of the shared ones; 0: not; -1: bad value. */
int bld_reg_flag(const struct bld_command *cmd, int c, const char *arg, struct bld_reg_flags *f,
		 struct nib_error *err);
/* Set up progress reporting ("Copying"/"Writing" lines on stderr). */
void bld_reg_flags_finish(struct bld_reg_flags *f, const char *verb);
/* A pull or push of `what` begins: "Pulling/Pushing WHAT" on stderr, on a
 * terminal the live display with a bar (builder/progress.h); nothing with
 * -q or --log-format json. _end stops the display (call it on failure
 * too). */
void bld_reg_progress_begin(struct bld_reg_flags *f, const char *what);
void bld_reg_progress_end(struct bld_reg_flags *f);

#endif
