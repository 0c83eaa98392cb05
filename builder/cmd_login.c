/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib login REGISTRY: check credentials against the registry (GET /v2/ with
 * authentication) and store them in auth.json (mode 0600).
 */
#include <getopt.h>
#include <string.h>
#include <termios.h>

#include "builder/builder.h"
#include "builder/regflags.h"
#include "registry/registry.h"

enum { OPT_PASSWORD_STDIN = BLD_OPT_LOCAL, OPT_GET_LOGIN };

static const char login_help[] =
    "  -u, --username USER    user name (asked on a terminal when missing)\n"
    "  -p, --password PASS    password (visible to other processes: prefer --password-stdin)\n"
    "  --password-stdin       read the password from standard input\n"
    "  --get-login            print the user name stored for REGISTRY\n";

/* "https://host/path/" -> "host/path" */
static char *registry_key(const char *s)
{
	if (nib_str_has_prefix(s, "https://"))
		s += 8;
	else if (nib_str_has_prefix(s, "http://"))
		s += 7;
	char *k = xstrdup(s);
	size_t n = strlen(k);
	while (n && k[n - 1] == '/')
		k[--n] = '\0';
	if (streq(k, "index.docker.io") || streq(k, "registry-1.docker.io")) {
		free(k);
		k = xstrdup(REG_DOCKER_HUB);
	}
	return k;
}

static char *read_line(FILE *in, bool echo)
{
	struct termios old, quiet;
	bool tty = !echo && isatty(fileno(in)) && tcgetattr(fileno(in), &old) == 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(in), TCSAFLUSH, &quiet);
	}
	n = getline(&line, &cap, in);
	if (tty) {
		tcsetattr(fileno(in), TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

int bld_cmd_login(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"username", required_argument, NULL, 'u'},
	    {"password", required_argument, NULL, 'p'},
	    {"password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN},
	    {"get-login", no_argument, NULL, OPT_GET_LOGIN},
	    BLD_REG_LONG_OPTIONS,
	    {NULL, 0, NULL, 0}};
	struct bld_reg_flags f = BLD_REG_FLAGS_INIT;
	_cleanup_(reg_client_freep) struct reg_client *rc = NULL;
	_cleanup_free_ char *key = NULL, *host = NULL, *user = NULL, *authfile = NULL;
	struct reg_creds creds = {0};
	char *pass = NULL;
	bool pw_stdin = false, get_login = false;
	int c, r, ret = -1;

	while ((c = getopt_long(argc, argv, "+hqu:p:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			bld_command_help(self);
			printf("\n%s%s", login_help, bld_reg_flags_help);
			return 0;
		case 'u':
			free(user);
			user = xstrdup(optarg);
			continue;
		case 'p':
			free(pass);
			pass = xstrdup(optarg);
			continue;
		case OPT_PASSWORD_STDIN:
			pw_stdin = true;
			continue;
		case OPT_GET_LOGIN:
			get_login = true;
			continue;
		}
		r = bld_reg_flag(self, c, optarg, &f, err);
		if (r < 0)
			goto out;
		if (r == 0) {
			bld_bad_option(self, argv, err);
			goto out;
		}
	}
	if (argc - optind != 1) {
		bld_usage_error(self, err, "login: expected one registry");
		goto out;
	}
	key = registry_key(argv[optind]);
	host = xstrndup(key, strcspn(key, "/"));
	authfile = reg_authfile_default(f.o.authfile);
	if (get_login) {
		r = reg_creds_lookup(authfile, host, strchr(key, '/') ? strchr(key, '/') + 1 : NULL,
				     &creds, err);
		if (r < 0)
			goto out;
		if (r == 0) {
			nib_err(err, NIB_ERR_NOT_FOUND, 0, "not logged into %s", key);
			goto out;
		}
		bld_emit("login_user", creds.username, "registry", key, "username", creds.username,
			 NULL);
		ret = 0;
		goto out;
	}
	if (f.o.creds && !user && !pass) { /* --creds USER:PASS: -u and -p in one */
		const char *colon = strchr(f.o.creds, ':');
		user =
		    colon ? xstrndup(f.o.creds, (size_t)(colon - f.o.creds)) : xstrdup(f.o.creds);
		pass = colon ? xstrdup(colon + 1) : NULL;
	}
	if (pw_stdin && pass) {
		bld_usage_error(self, err,
				"login: --password and --password-stdin exclude each other");
		goto out;
	}
	if (!user) {
		if (!isatty(STDIN_FILENO) || pw_stdin) {
			bld_usage_error(self, err,
					"login: --username is needed without a terminal");
			goto out;
		}
		fprintf(stderr, "Username: ");
		user = read_line(stdin, true);
	}
	if (!pass) {
		if (!pw_stdin && isatty(STDIN_FILENO))
			fprintf(stderr, "Password: ");
		else if (!pw_stdin) {
			bld_usage_error(
			    self, err,
			    "login: give the password with --password-stdin (no terminal)");
			goto out;
		}
		pass = read_line(stdin, false);
	} else {
		log_warn("a password on the command line is visible to other processes; use "
			 "--password-stdin");
	}
	if (!user || !*user || !pass || !*pass) {
		nib_err(err, NIB_ERR_USAGE, 0, "login: user name and password must not be empty");
		goto out;
	}
	creds.username = steal_pointer(&user);
	creds.password = steal_pointer(&pass);
	f.quiet = true;
	if (reg_client_new(&f.o, &rc, err) < 0)
		goto out;
	if (reg_client_ping(rc, host, &creds, err) < 0) {
		nib_err_wrap(err, "login to %s failed", key);
		goto out;
	}
	if (reg_creds_store(authfile, key, &creds, err) < 0)
		goto out;
	bld_emit("login", "Login Succeeded!", "registry", key, NULL);
	ret = 0;
out:
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
	}
	reg_creds_clear(&creds);
	return ret;
}
