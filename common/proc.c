/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What /proc/PID/cmdline and /proc/PID/environ show of nib: the memory the
 * kernel placed the arguments and the environment in at exec. nib works on
 * heap copies, so that secrets given on its command line can be blanked
 * there and the environment wiped, and a child can show a title instead.
 */
#include <string.h>

#include "common/common.h"

extern char **environ;

static char *arg_start, *arg_end, *env_start, *env_end;
/* The heap copy of argv: it lives as long as the process, as argv does
 * (volatile: the store must stay for leak checkers to see it reachable) */
static char **volatile argv_copy;

/* [start, end) of the strings v[0..n), when they lie one after the other. */
static void area(char **v, size_t n, char **start, char **end)
{
	*start = *end = NULL;
	if (!n || !v[0])
		return;
	char *p = v[0];
	for (size_t i = 0; i < n; i++) {
		if (v[i] != p)
			return; /* not the kernel's layout: leave it alone */
		p += strlen(p) + 1;
	}
	*start = v[0];
	*end = p;
}

char **nib_proc_init(int argc, char **argv)
{
	char **copy = argv_copy = xcalloc((size_t)argc + 1, sizeof(char *));
	size_t n_env = 0;

	for (int i = 0; i < argc; i++)
		copy[i] = xstrdup(argv[i]);
	area(argv, (size_t)argc, &arg_start, &arg_end);
	while (environ && environ[n_env])
		n_env++;
	area(environ, n_env, &env_start, &env_end);
	if (env_start) {
		char **env = xcalloc(n_env + 1, sizeof(char *));
		for (size_t i = 0; i < n_env; i++)
			env[i] = xstrdup(environ[i]);
		environ = env;
		explicit_bzero(env_start, (size_t)(env_end - env_start));
	}
	return copy;
}

void nib_proc_blank(char *s)
{
	if (!arg_start || s < arg_start || s >= arg_end)
		return;
	for (; *s; s++)
		*s = 'x';
}

void nib_proc_set_title(const char *title)
{
	if (env_start)
		explicit_bzero(env_start, (size_t)(env_end - env_start));
	if (!arg_start)
		return;
	explicit_bzero(arg_start, (size_t)(arg_end - arg_start));
	/* the last byte stays NUL: the kernel reads no further */
	memcpy(arg_start, title, MIN(strlen(title), (size_t)(arg_end - arg_start) - 1));
}
