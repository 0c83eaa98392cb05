/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib command line: global options, the command table, and the only place
 * that prints errors and chooses the exit status.
 */
#include <getopt.h>
#include <string.h>

#include "builder/builder.h"

static const struct bld_command commands[] = {
    {"build", bld_cmd_build, "Build an image from a Containerfile", "nib build [OPTIONS] [CONTEXT]",
     NULL},
    {"pull", bld_cmd_pull, "Pull an image from a registry into the store", "nib pull [OPTIONS] REF",
     NULL},
    {"push", bld_cmd_push, "Push an image to a registry or another destination",
     "nib push [OPTIONS] SRC [DEST]", NULL},
    {"tag", bld_cmd_tag, "Give an image in the store another name", "nib tag SRC DEST...",
     "SRC is a name, image ID (or unique prefix) or manifest digest in the store;\n"
     "each DEST is normalised like a pull reference (busybox -> "
     "docker.io/library/busybox:latest).\n"},
    {"rmi", bld_cmd_rmi, "Remove images from the store", "nib rmi [OPTIONS] REF...",
     "Options:\n"
     "  -f, --force   remove an image ID even when it has several names\n"
     "  -a, --all     remove every image in the store\n"
     "Blobs no other image uses are collected right away unless another nib has the root open.\n"},
    {"images", bld_cmd_images, "List the images in the store", "nib images [OPTIONS]",
     "Options:\n"
     "  --json        one JSON array of images\n"
     "  -q, --quiet   image IDs only\n"
     "  --no-trunc    full image IDs\n"},
    {"inspect", bld_cmd_inspect, "Show an image's manifest and config", "nib inspect [--json] REF",
     "REF is a name, image ID (or unique prefix) or manifest digest in the store.\n"
     "Options:\n"
     "  --json        the manifest and config as one JSON object\n"},
    {"login", bld_cmd_login, "Store credentials for a registry", "nib login [OPTIONS] REGISTRY",
     NULL},
    {"logout", bld_cmd_logout, "Remove stored credentials for a registry",
     "nib logout [OPTIONS] REGISTRY", NULL},
    {"parse", bld_cmd_parse, "Print the parsed instructions of a Containerfile",
     "nib parse [--json] [--build-arg K=V]... [--target NAME] [--platform OS/ARCH] FILE",
     "Options:\n"
     "  --json               one JSON object: stages, instructions, args (see nib-parse(1))\n"
     "  --build-arg K=V      set a build argument (repeatable)\n"
     "  --target NAME        keep only the stages NAME needs\n"
     "  --platform OS/ARCH   the TARGET* build arguments (default: this host)\n"
     "Errors are FILE:LINE:COL: message, with exit status 2.\n"},
    {"info", bld_cmd_info, "Show what this environment allows and what nib will use",
     "nib info [--json]",
     "Probes user namespaces, subuid ranges and newuidmap, /proc, overlay, FUSE, the network,\n"
     "SELinux and seccomp, and says which mode nib will use for each.\n"
     "Options:\n"
     "  --json        one JSON object\n"},
    {"run", bld_cmd_run, "Run one command through the embedded runtime",
     "nib run [OPTIONS] --rootfs DIR -- CMD [ARG...]", NULL},
    {"manifest", bld_cmd_manifest, "Create, change, inspect and push manifest lists",
     "nib manifest COMMAND [OPTIONS] LIST ...", NULL},
    {"serve", bld_cmd_serve, "Run the build service (HTTP API, web page)",
     "nib serve [--listen ADDR:PORT] [--state DIR] [--tenants FILE] [OPTIONS]",
     "Options (docs/serve.md):\n"
     "  --listen ADDR:PORT      where to listen (default 127.0.0.1:8080; port 0: any free one)\n"
     "  --state DIR             builds, logs, tenants' stores and the database (default\n"
     "                          $XDG_STATE_HOME/nib/serve, else ~/.local/state/nib/serve)\n"
     "  --tenants FILE          tenants: tokens, repository prefixes (JSON; a mounted\n"
     "                          Secret works; read again on SIGHUP and when it changes);\n"
     "                          without it no token is asked (loopback only)\n"
     "  --authfile FILE         registry credentials for pushes (tenants may have their own)\n"
     "  --max-builds N          builds at once (default 2; one at a time per tenant)\n"
     "  --max-queue N           builds waiting (default 100; more: 429)\n"
     "  --max-context-size SIZE a context's body and unpacked size (default 256M; more: 413)\n"
     "  --max-log-size SIZE     a build's log (default 16M; more fails the build)\n"
     "  --build-timeout SECONDS a build's time (default 3600)\n"
     "  --drain-timeout SECONDS on SIGTERM, how long running builds may finish (default 300)\n"
     "  --memory-max SIZE, --pids-max N  per build: a cgroup v2 subtree when the service's\n"
     "                          own is delegated to it; RUN steps: nib build "
     "--memory/--pids-limit\n"
     "  --min-free-disk SIZE    a build fails when the state folder's disk has less (256M)\n"
     "  --build-network none|host  RUN steps' network (default none: no service, loopback\n"
     "                          or metadata address is reachable)\n"
     "  --allow-host HOST       git and contextUrl contexts may come from HOST (https)\n"
     "  --allow-ptrace          let builds use the ptrace isolation (not a security boundary)\n"
     "  --tls-verify=BOOL       verify registries' TLS for pulls and pushes (default true)\n"
     "  --executor local        run each build as a nib process here (the default)\n"},
    {"prune", bld_cmd_prune, "Remove unused blobs, layers and cache entries", "nib prune [OPTIONS]",
     "Options:\n"
     "  --no-wait     fail instead of waiting while another nib has the root open\n"},
};

/* buildah's other names for `build`. */
static const char *const build_aliases[] = {"bud", "build-using-dockerfile"};

static const char global_help[] =
    "Global options (before COMMAND):\n"
    "  --root DIR            storage root (default $NIB_ROOT, else $XDG_DATA_HOME/nib,\n"
    "                        else ~/.local/share/nib)\n"
    "  --storage-driver NAME overlay, fuse-overlayfs or vfs for builds (default: the best\n"
    "                        that works here)\n"
    "  --log-level LEVEL     error, warn, info, debug or trace (default warn)\n"
    "  --log-format FORMAT   text or json (default text)\n"
    "  --registries-conf FILE  registries.conf to use (as $CONTAINERS_REGISTRIES_CONF)\n"
    "  --runroot DIR, --cgroup-manager M, --short-name-alias-conf FILE\n"
    "                        accepted as buildah spells them; no effect in nib\n"
    "  --storage-opt OPT     overlay.mount_program=.../fuse-overlayfs picks fuse-overlayfs;\n"
    "                        *.ignore_chown_errors and overlay.mountopt have no effect\n"
    "  -h, --help            show this help\n"
    "  -v, --version         show the version\n"
    "\n"
    "'nib bud' and 'nib build-using-dockerfile' are 'nib build', as in buildah.\n";

static void main_help(void)
{
	printf("nib - the nested image builder: build OCI images from a Containerfile without "
	       "privileges\n\n"
	       "Usage: nib [GLOBAL OPTIONS] COMMAND [ARGS]...\n\nCommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].summary);
	printf("\n%s\nRun 'nib COMMAND --help' for a command's options.\n", global_help);
}

void bld_command_help(const struct bld_command *cmd)
{
	printf("%s\n\nUsage: %s\n", cmd->summary, cmd->usage);
	if (cmd->help)
		printf("\n%s", cmd->help);
}

int bld_usage_error(const struct bld_command *cmd, struct nib_error *err, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	return nib_err(err, NIB_ERR_USAGE, 0, "%s\nUsage: %s\nTry 'nib %s --help' for more.", msg,
		       cmd->usage, cmd->name);
}

int bld_bad_option(const struct bld_command *cmd, char **argv, struct nib_error *err)
{
	const char *arg = argv[optind - 1];
	if (optopt && !(arg && arg[0] == '-' && arg[1] == '-'))
		return bld_usage_error(cmd, err, "%s: invalid option -- '%c'", cmd->name, optopt);
	return bld_usage_error(cmd, err, "%s: unknown or incomplete option '%s'", cmd->name,
			       arg ? arg : "");
}

void bld_emit(const char *event, const char *text, ...)
{
	_cleanup_buf_ struct nib_buf f = {0};
	const char *k, *v;
	va_list ap;

	va_start(ap, text);
	while ((k = va_arg(ap, const char *))) {
		v = va_arg(ap, const char *);
		nib_buf_printf(&f, "%s\"%s\":", f.len ? "," : "", k);
		nib_buf_json_string(&f, v ? v : "");
	}
	va_end(ap);
	fflush(stdout);
	nib_log_event(event, f.data, text);
}

static int global_usage(const char *fmt, ...) _printf_(1, 2);
static int global_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nib: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nUsage: nib [GLOBAL OPTIONS] COMMAND [ARGS]...\nTry 'nib --help' for "
			"more.\n");
	return 2;
}

/* A buildah global option nib does not take: one line, exit status 2. */
static int global_refuse(const char *fmt, ...) _printf_(1, 2);
static int global_refuse(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nib: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

/* buildah's --storage-opt: what nib can honour is the choice of
 * fuse-overlayfs; the rest either cannot apply or is what nib does anyway. */
static int storage_opt(struct bld_globals *g, const char *opt)
{
	const char *eq = strchr(opt, '=');
	const char *val = eq ? eq + 1 : "";
	_cleanup_free_ char *key = eq ? xstrndup(opt, (size_t)(eq - opt)) : xstrdup(opt);

	if (streq(key, "overlay.mount_program") || streq(key, "mount_program")) {
		const char *base = strrchr(val, '/');
		base = base ? base + 1 : val;
		if (!streq(base, "fuse-overlayfs"))
			return global_refuse(
			    "--storage-opt %s: nib mounts only fuse-overlayfs as an "
			    "overlay program",
			    opt);
		g->storage_driver = "fuse-overlayfs";
		return 0;
	}
	/* nib records owners it cannot set instead of failing, and picks its
	 * own overlay mount options */
	if (nib_str_has_suffix(key, ".ignore_chown_errors") || streq(key, "overlay.mountopt"))
		return 0;
	return global_refuse("--storage-opt %s: not supported: nib takes overlay.mount_program, "
			     "*.ignore_chown_errors and overlay.mountopt",
			     opt);
}

/*
 * Values of options that may carry secrets (registry passwords, build
 * arguments such as tokens, secret sources, RUN environments) are blanked
 * in the memory /proc/PID/cmdline shows, where any process of the host or
 * pod, a RUN step included, reads them; nib parses its heap copy. For
 * KEY=VALUE options the key stays readable. nib_proc_init has wiped what
 * /proc/PID/environ shows already.
 */
static void hide_secrets(int argc, char **argv)
{
	static const struct {
		const char *name;
		bool key;
	} opts[] = {
	    {"--creds", false},	 {"--password", false}, {"-p", false},
	    {"--secret", false}, {"--build-arg", true}, {"--env", true},
	};

	for (int i = 1; i < argc && !streq(argv[i], "--"); i++) {
		for (size_t k = 0; k < ARRAY_SIZE(opts); k++) {
			const char *name = opts[k].name;
			size_t n = strlen(name);
			bool lng = name[1] == '-';
			char *v = NULL, *eq;

			if (streq(argv[i], name) && i + 1 < argc)
				v = argv[++i];
			else if (lng && !strncmp(argv[i], name, n) && argv[i][n] == '=')
				v = argv[i] + n + 1; /* --name=V */
			else if (!lng && !strncmp(argv[i], name, n) && argv[i][n])
				v = argv[i] + n; /* -pV */
			if (!v)
				continue;
			if (opts[k].key && !(eq = strchr(v, '=')))
				break; /* --build-arg NAME: the value comes from the environment */
			nib_proc_blank(opts[k].key ? eq + 1 : v);
			break;
		}
	}
}

int main(int argc, char **argv)
{
	enum {
		G_RUNROOT = 0x100,
		G_DRIVER,
		G_STORAGE_OPT,
		G_REGISTRIES_CONF,
		G_REGISTRIES_CONF_DIR,
		G_ALIAS_CONF,
		G_CGROUP_MANAGER,
		G_USERNS_MAP,
	};
	static const struct option opts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"log-format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'v'},
	    /* buildah's global options */
	    {"runroot", required_argument, NULL, G_RUNROOT},
	    {"storage-driver", required_argument, NULL, G_DRIVER},
	    {"storage-opt", required_argument, NULL, G_STORAGE_OPT},
	    {"registries-conf", required_argument, NULL, G_REGISTRIES_CONF},
	    {"registries-conf-dir", required_argument, NULL, G_REGISTRIES_CONF_DIR},
	    {"short-name-alias-conf", required_argument, NULL, G_ALIAS_CONF},
	    {"cgroup-manager", required_argument, NULL, G_CGROUP_MANAGER},
	    {"userns-uid-map", required_argument, NULL, G_USERNS_MAP},
	    {"userns-gid-map", required_argument, NULL, G_USERNS_MAP},
	    {NULL, 0, NULL, 0},
	};
	struct bld_globals g = {.log_level = NIB_LOG_WARN, .log_format = NIB_LOG_TEXT};
	struct nib_error err = {0};
	const struct bld_command *cmd = NULL;
	int c, ret, longindex = 0;

	{
		char **copy = nib_proc_init(argc, argv);
		hide_secrets(argc, argv);
		argv = copy;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+hv", opts, &longindex)) != -1) {
		switch (c) {
		case 'r':
			free(g.root);
			g.root = xstrdup(optarg);
			break;
		case 'l':
			/* buildah's levels above error */
			ret = streq(optarg, "fatal") || streq(optarg, "panic")
				  ? NIB_LOG_ERROR
				  : nib_log_level_parse(optarg);
			if (ret < 0)
				return global_usage("unknown log level '%s'", optarg);
			g.log_level = (enum nib_log_level)ret;
			break;
		case 'f':
			if (streq(optarg, "json"))
				g.log_format = NIB_LOG_JSON;
			else if (streq(optarg, "text"))
				g.log_format = NIB_LOG_TEXT;
			else
				return global_usage("unknown log format '%s'", optarg);
			break;
		case 'h':
			main_help();
			return 0;
		case 'v':
			printf("nib version %s\n", NIB_VERSION);
			return 0;
		case G_RUNROOT:
			/* buildah's state folder: nib keeps its locks in the root */
			if (!*optarg)
				return global_usage("%s", "--runroot needs a folder");
			break;
		case G_DRIVER:
			if (!*optarg)
				return global_usage("%s", "--storage-driver needs a name");
			g.storage_driver = optarg;
			break;
		case G_STORAGE_OPT:
			if (storage_opt(&g, optarg) != 0)
				return 2;
			break;
		case G_REGISTRIES_CONF:
			setenv("CONTAINERS_REGISTRIES_CONF", optarg, 1);
			break;
		case G_REGISTRIES_CONF_DIR:
			return global_refuse("--registries-conf-dir: not supported: nib reads one "
					     "registries.conf (--registries-conf FILE)");
		case G_ALIAS_CONF:
			break; /* nib keeps no short-name alias cache */
		case G_CGROUP_MANAGER:
			if (!streq(optarg, "cgroupfs") && !streq(optarg, "systemd"))
				return global_usage("unknown cgroup manager '%s'", optarg);
			break; /* nib puts RUN steps in no cgroup of their own */
		case G_USERNS_MAP:
			return global_refuse("--%s: not supported: nib picks the ID map itself "
					     "(nib build --idmap auto|subuid|single|none)",
					     opts[longindex].name);
		default:
			return global_usage("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	nib_log_setup(g.log_level, g.log_format);

	if (optind >= argc)
		return global_usage("%s", "no command given");
	if (streq(argv[optind], "help")) {
		if (optind + 1 >= argc) {
			main_help();
			return 0;
		}
		optind++;
		const char *name = argv[optind];
		for (size_t i = 0; i < ARRAY_SIZE(build_aliases); i++)
			if (streq(name, build_aliases[i]))
				name = "build";
		for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
			if (streq(commands[i].name, name)) {
				bld_command_help(&commands[i]);
				return 0;
			}
		return global_usage("unknown command '%s'", argv[optind]);
	}
	const char *name = argv[optind];
	for (size_t i = 0; i < ARRAY_SIZE(build_aliases); i++)
		if (streq(name, build_aliases[i]))
			name = "build";
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (streq(commands[i].name, name))
			cmd = &commands[i];
	if (!cmd)
		return global_usage("unknown command '%s'", argv[optind]);

	argc -= optind;
	argv += optind;
	optind = 0; /* full getopt reinitialisation for the command */
	ret = cmd->fn(cmd, argc, argv, &g, &err);
	free(g.root);
	if (ret < 0) {
		if (err.kind == NIB_ERR_NONE)
			nib_err(&err, NIB_ERR_IO, 0, "%s failed", cmd->name);
		if (nib_log_get_event_format() == NIB_LOG_JSON) {
			_cleanup_buf_ struct nib_buf b = {0};
			nib_buf_printf(&b, "\"kind\":\"%s\",\"msg\":", nib_err_kind_name(err.kind));
			nib_buf_json_string(&b, err.msg);
			nib_log_event("error", b.data, NULL);
		}
		/* --log-format json: the line on stderr is a JSON log line too */
		if (nib_log_get_format() == NIB_LOG_JSON)
			log_error("%s", err.msg);
		else
			fprintf(stderr, "nib: error: %s\n", err.msg);
		ret = nib_err_exit_code(&err);
		nib_err_clear(&err);
		return ret;
	}
	return ret > 0 ? ret : 0;
}
