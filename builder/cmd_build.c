/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib build: the command line of the build (flags as `buildah bud` /
 * `podman build`), and `--example`, which builds the embedded example
 * image from a static busybox of the host.
 */
#include <ctype.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/stat.h>

#include "builder/build.h"
#include "builder/builder.h"
#include "builder/context.h"
#include "builder/progress.h"
#include "builder/regflags.h"

static const char build_help[] =
    "  -f, --file FILE            the Containerfile (default CONTEXT/Containerfile, else\n"
    "                             CONTEXT/Dockerfile); - reads it from standard input, an\n"
    "                             http(s) URL is downloaded\n"
    "  -t, --tag REF              name the image (repeatable)\n"
    "  --build-arg K=V | K        a build argument (K alone: from the environment)\n"
    "  --build-arg-file FILE      build arguments, one K=V a line\n"
    "  --target NAME              build up to this stage\n"
    "  --no-cache                 run every step\n"
    "  --layers[=BOOL]            use and fill the build cache (default true)\n"
    "  --pull[=always|missing|never]  when to pull base images (default missing)\n"
    "  --pull-always, --pull-never  --pull=always, --pull=never\n"
    "  --format oci|docker        manifest and config format (default oci)\n"
    "  --storage-driver NAME      overlay, fuse-overlayfs or vfs (default: the best that\n"
    "                             works here)\n"
    "  --idmap auto|subuid|single|none  how IDs map (none: no user namespace)\n"
    "  --isolation MODE           RUN steps: chroot or rootless (buildah's names: nib's\n"
    "                             embedded runtime, ptrace where no user namespace can be\n"
    "                             made), namespaces (never ptrace), ptrace (not a\n"
    "                             security boundary); oci is refused\n"
    "  --network private|host|none  RUN steps' network (default private where slirp4netns\n"
    "                             and /dev/net/tun can run: the outside, not the host's\n"
    "                             loopback; else host; nib info says which)\n"
    "  --add-host HOST:IP         an /etc/hosts entry for RUN steps (repeatable; IPv6 too)\n"
    "  --no-hosts                 RUN steps see the image's /etc/hosts, not nib's\n"
    "  --dns IP|none              RUN steps' nameservers (repeatable; none: the image's\n"
    "                             /etc/resolv.conf)\n"
    "  --dns-search DOMAIN, --dns-option OPT  RUN's resolv.conf search and options lines\n"
    "  --cap-add CAP, --cap-drop CAP  RUN steps' capabilities (repeatable, CAP,CAP or ALL)\n"
    "  --security-opt OPT         RUN steps: seccomp=PROFILE.json|unconfined,\n"
    "                             no-new-privileges, label=disable|user:|role:|type:|\n"
    "                             level:|filetype:, apparmor=unconfined, mask=P:P,\n"
    "                             unmask=P:P|ALL (repeatable)\n"
    "  --allow security.insecure  allow RUN --security=insecure (every capability, no\n"
    "                             seccomp refusal)\n"
    "  --ulimit NAME=SOFT[:HARD]  a RUN step's rlimit (nofile, nproc, core, stack...)\n"
    "  --shm-size SIZE            RUN's /dev/shm tmpfs (default 64m)\n"
    "  --device HOST[:CTR][:PERMS]  bind a host device node into RUN steps\n"
    "  --stdin                    RUN steps read nib's standard input\n"
    "  --pids-limit N             processes of a RUN step (default 4096; 0: none)\n"
    "  -m, --memory SIZE          memory of a RUN step (512m, 4g; default three quarters\n"
    "                             of the machine's; 0: none); see nib info for how\n"
    "  --step-timeout DURATION    kill a RUN step after this long (90s, 10m, 1h)\n"
    "  --timeout DURATION         stop the whole build after this long\n"
    "  --http-proxy[=BOOL]        pass the host's *_proxy variables to RUN (default true)\n"
    "  --secret id=ID,src=FILE|env=VAR  a secret for RUN --mount=type=secret\n"
    "  --ssh default|ID[=SOCKET|KEY[,KEY...]]  an SSH agent for RUN --mount=type=ssh:\n"
    "                             $SSH_AUTH_SOCK, a socket, or key files nib loads into\n"
    "                             an ssh-agent of the build (repeatable)\n"
    "  --build-context NAME=DIR|URL|docker-image://REF|oci-layout://DIR[:TAG]\n"
    "                             what FROM, COPY --from and RUN --mount from= mean by\n"
    "                             NAME (a folder, git or http(s) tarball; repeatable)\n"
    "  -v, --volume SRC:DST[:OPTS]  bind the host's SRC at DST in every RUN step, not in\n"
    "                             the image (OPTS: ro, rw, U: chown SRC to the step's\n"
    "                             user, O: a throwaway copy, z, Z: SELinux relabel)\n"
    "  --ignorefile FILE          the ignore file instead of the context's .containerignore\n"
    "                             or .dockerignore\n"
    "  --label K=V                add a label to the image (repeatable)\n"
    "  --annotation K=V           add a manifest annotation (repeatable)\n"
    "  --env K=V | K              set a variable in the image's config (K alone: from\n"
    "                             the environment); RUN steps do not see it\n"
    "  --unsetenv K               remove a variable from the image's config\n"
    "  --omit-history             no history in the image's config\n"
    "  --timestamp EPOCH          created times and file times set to EPOCH\n"
    "                             (default $SOURCE_DATE_EPOCH when set)\n"
    "  --platform OS/ARCH[/VARIANT][,...]  the target platform; several: one image each,\n"
    "                             in a manifest list named by --manifest and -t\n"
    "  --all-platforms            every platform the base images offer\n"
    "  --manifest LIST            add the image(s) to manifest list LIST (made when missing)\n"
    "  --os OS, --arch ARCH, --variant V  parts of --platform\n"
    "  --os-version V             the image's os.version (instead of the base's)\n"
    "  --os-feature F             add F to the image's os.features (F-: remove it)\n"
    "  --from IMAGE               the first FROM's image instead of the one it names\n"
    "  --skip-unused-stages=false  build every stage up to the target, needed or not\n"
    "  --iidfile FILE             write the image ID to FILE\n"
    "  --digestfile FILE          write the manifest digest to FILE\n"
    "  -o, --output type=oci,dest=DIR | type=docker-archive,dest=FILE | type=local,dest=DIR\n"
    "               | type=tar,dest=FILE | -   (-: a tar of the rootfs on standard output)\n"
    "  --compression-format gzip|zstd  layer compression (default gzip)\n"
    "  --compression-level N      compression level (gzip 1-9, zstd 1-22)\n"
    "  --squash, --squash-all     the image has one layer: the base's and the build's\n"
    "  --jobs N                   stages built at once (default 1)\n"
    "  --push                     push every tag after the build\n"
    "  --cache-from REPO          look steps up in a registry cache (repeatable)\n"
    "  --cache-to REPO            push each step's layer to a registry cache\n"
    "  --cache-ttl DURATION       ignore --cache-from entries older than this (168h, 30m)\n"
    "  --authfile FILE, --creds USER:PASS, --cert-dir DIR, --tls-verify[=BOOL],\n"
    "  --registries-conf FILE     as for nib pull and push\n"
    "  --retry N, --retry-delay DURATION  registry retries (default 3, from 1s doubling)\n"
    "  --logfile FILE             write the build's output and errors to FILE\n"
    "  --logsplit                 with --logfile: each platform's build to FILE_OS_ARCH\n"
    "  --progress auto|plain|tty|json  tty: a live display of the running step; plain:\n"
    "                             lines; json: one JSON object per event (default auto: tty\n"
    "                             on a terminal, json with --log-format json, else plain)\n"
    "  -q, --quiet                no progress output; the image ID is printed last (a failing\n"
    "                             RUN step's output is still shown)\n"
    "  --example                  build the embedded example as localhost/nib-example\n"
    "  --remote URL               build on a build service (nib serve, docs/serve.md): the\n"
    "                             context goes without what .containerignore excludes, the\n"
    "                             log follows, the exit status and digest are the build's\n"
    "  --token-file FILE          the service's bearer token (default $NIB_SERVE_TOKEN)\n"
    "\n"
    "buildah's --rm, --force-rm, --compress, -D/--disable-compression,\n"
    "--disable-content-trust and --identity-label are accepted and change nothing; the\n"
    "options nib cannot honour are refused with the reason (see docs/buildah-options.md).\n";

enum {
	OPT_BUILD_ARG = BLD_OPT_LOCAL,
	OPT_BUILD_ARG_FILE,
	OPT_TARGET,
	OPT_NO_CACHE,
	OPT_LAYERS,
	OPT_PULL,
	OPT_FORMAT,
	OPT_DRIVER,
	OPT_IDMAP,
	OPT_NETWORK,
	OPT_SECRET,
	OPT_SSH,
	OPT_BUILD_CONTEXT,
	OPT_LABEL,
	OPT_ANNOTATION,
	OPT_TIMESTAMP,
	OPT_PLATFORM,
	OPT_IIDFILE,
	OPT_DIGESTFILE,
	OPT_SQUASH,
	OPT_SQUASH_ALL,
	OPT_JOBS,
	OPT_PUSH,
	OPT_CACHE_FROM,
	OPT_CACHE_TO,
	OPT_CACHE_TTL,
	OPT_PIDS_LIMIT,
	OPT_STEP_TIMEOUT,
	OPT_TIMEOUT,
	OPT_FROM,
	OPT_OS_VERSION,
	OPT_OS_FEATURE,
	OPT_LOGSPLIT,
	OPT_SKIP_UNUSED_STAGES,
	OPT_EXAMPLE,
	OPT_COMPRESSION,
	OPT_COMPRESSION_LEVEL,
	OPT_ISOLATION,
	OPT_PULL_ALWAYS,
	OPT_PULL_NEVER,
	OPT_ENV,
	OPT_UNSETENV,
	OPT_CAP_ADD,
	OPT_CAP_DROP,
	OPT_STDIN,
	OPT_IGNOREFILE,
	OPT_LOGFILE,
	OPT_OMIT_HISTORY,
	OPT_HTTP_PROXY,
	OPT_OS,
	OPT_ARCH,
	OPT_VARIANT,
	OPT_MANIFEST,
	OPT_ALL_PLATFORMS,
	OPT_REMOTE,
	OPT_TOKEN_FILE,
	OPT_PROGRESS,
	OPT_ADD_HOST,
	OPT_DNS,
	OPT_DNS_SEARCH,
	OPT_DNS_OPTION,
	OPT_NO_HOSTS,
	OPT_SECURITY_OPT,
	OPT_ULIMIT,
	OPT_SHM_SIZE,
	OPT_DEVICE,
	OPT_ALLOW,
	OPT_COMPAT = 0x1800, /* + index in compat_opts */
};

/*
 * buildah bud options nib takes without effect, or refuses with a reason.
 * `ok` lists the values ('|'-separated) that are what nib does anyway:
 * given one of them the option is accepted and changes nothing; NULL with
 * `why` NULL: any value. A boolean option (optional_argument) is accepted
 * as "false" when `why` is set, and any value when not.
 */
struct compat_opt {
	const char *name;
	int has_arg;
	char short_name; /* buildah's one-letter form, or 0 */
	const char *ok;
	const char *why;
};

#define SOON "not supported yet: "
#define NO_CGROUP                                                                                  \
	"nib limits only a RUN step's processes and memory (--pids-limit, --memory): other "       \
	"resource limits belong to the pod or job"
#define OWN_NS                                                                                     \
	"nib runs every RUN step in namespaces of its own (where the environment allows, see nib " \
	"info)"
#define ID_MAP "nib picks the ID map itself: use --idmap auto|subuid|single|none"

static const struct compat_opt compat_opts[] = {
    /* accepted: what nib does anyway */
    {"rm", optional_argument, 0, NULL, NULL}, /* nib never leaves build containers */
    {"force-rm", optional_argument, 0, NULL, NULL},
    {"compress", optional_argument, 0, NULL, NULL},		 /* legacy in buildah too */
    {"disable-compression", optional_argument, 'D', NULL, NULL}, /* layers: --compression-format */
    {"disable-content-trust", optional_argument, 0, NULL, NULL}, /* a no-op in buildah too */
    {"identity-label", optional_argument, 0, NULL, NULL},	 /* nib adds no identity label */
    {"ipc", required_argument, 0, "private", OWN_NS},
    {"pid", required_argument, 0, "private", OWN_NS},
    {"uts", required_argument, 0, "private", OWN_NS},
    {"cgroupns", required_argument, 0, "private", OWN_NS},
    {"userns", required_argument, 0, "container", ID_MAP},
    /* refused */
    {"cgroup-parent", required_argument, 0, NULL, NO_CGROUP},
    {"cpu-period", required_argument, 0, NULL, NO_CGROUP},
    {"cpu-quota", required_argument, 0, NULL, NO_CGROUP},
    {"cpu-shares", required_argument, 'c', NULL, NO_CGROUP},
    {"cpuset-cpus", required_argument, 0, NULL, NO_CGROUP},
    {"cpuset-mems", required_argument, 0, NULL, NO_CGROUP},
    {"memory-swap", required_argument, 0, NULL, NO_CGROUP},
    {"userns-uid-map", required_argument, 0, NULL, ID_MAP},
    {"userns-gid-map", required_argument, 0, NULL, ID_MAP},
    {"userns-uid-map-user", required_argument, 0, NULL, ID_MAP},
    {"userns-gid-map-group", required_argument, 0, NULL, ID_MAP},
    {"runtime", required_argument, 0, NULL,
     "nib has no external OCI runtime: RUN steps go through its embedded runtime"},
    {"runtime-flag", required_argument, 0, NULL,
     "nib has no external OCI runtime: RUN steps go through its embedded runtime"},
    {"hooks-dir", required_argument, 0, NULL, "nib runs no OCI hooks"},
    {"cpp-flag", required_argument, 0, NULL, "nib does not run cpp on Containerfile.in"},
    {"decryption-key", required_argument, 0, NULL, "nib does not decrypt image layers"},
    {"sign-by", required_argument, 0, NULL, "nib does not sign images"},
    {"signature-policy", required_argument, 0, NULL, "nib does not check image signatures"},
    {"blob-cache", required_argument, 0, NULL, SOON "a blob cache folder"},
};

/* 0: accepted (no effect); -1: refused, `err` set (one line, exit 2). */
static int compat_opt_check(const struct compat_opt *c, const char *arg, struct nib_error *err)
{
	if (c->has_arg == optional_argument) {
		int v = arg ? nib_parse_bool(arg) : 1;
		if (v < 0)
			return nib_err(err, NIB_ERR_USAGE, 0, "build: --%s: '%s' is not a boolean",
				       c->name, arg);
		if (!c->why || (c->ok ? (v == nib_parse_bool(c->ok)) : v == 0))
			return 0;
		return nib_err(err, NIB_ERR_USAGE, 0, "build: --%s%s%s: %s", c->name,
			       arg ? "=" : "", arg ? arg : "", c->why);
	}
	if (!c->why)
		return 0;
	if (c->ok) {
		_cleanup_free_ char *ok = xstrdup(c->ok);
		char *save = NULL;
		for (char *t = strtok_r(ok, "|", &save); t; t = strtok_r(NULL, "|", &save))
			if (streq(t, arg))
				return 0;
	}
	return nib_err(err, NIB_ERR_USAGE, 0, "build: --%s %s: %s", c->name, arg, c->why);
}

/* ---- --example -------------------------------------------------------------- */

static const char example_hello[] = "#!/bin/sh\n"
				    "echo \"${GREETING:-hello} from an image built by nib\"\n"
				    "cat /app/stamp\n";

static int copy_file(const char *from, const char *to, mode_t mode, struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;

	if (nib_read_file_at(AT_FDCWD, from, 64 << 20, &data, &len, err) < 0)
		return -1;
	return nib_write_file_atomic_at(AT_FDCWD, to, data, len, mode, err);
}

static int example_context(char **out, struct nib_error *err)
{
	const char *tmp = getenv("TMPDIR");
	_cleanup_free_ char *dir = xasprintf("%s/nib-example-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	_cleanup_free_ char *bb = NULL, *hello = NULL, *cf = NULL;
	const char *busybox = getenv("NIB_EXAMPLE_BUSYBOX");

	if (!busybox || !*busybox)
		busybox = "/bin/busybox";
	if (access(busybox, R_OK) < 0)
		return nib_err(err, NIB_ERR_NOT_FOUND, errno,
			       "%s (the example needs a static busybox: apt-get install "
			       "busybox-static)",
			       busybox);
	if (!mkdtemp(dir))
		return nib_err(err, NIB_ERR_IO, errno, "mkdir %s", dir);
	bb = nib_path_join(dir, "busybox");
	hello = nib_path_join(dir, "hello.sh");
	cf = nib_path_join(dir, "Containerfile");
	if (copy_file(busybox, bb, 0755, err) < 0 ||
	    nib_write_file_atomic_at(AT_FDCWD, hello, example_hello, strlen(example_hello), 0644,
				     err) < 0 ||
	    nib_write_file_atomic_at(AT_FDCWD, cf, bld_example_containerfile,
				     strlen(bld_example_containerfile), 0644, err) < 0) {
		nib_rm_rf_at(AT_FDCWD, dir, NULL);
		return -1;
	}
	*out = steal_pointer(&dir);
	return 0;
}

/* ---- where the output goes ----------------------------------------------------- */

/* --progress: the events' format, and the live display when the output
 * (standard output, after redirect_output) is a terminal. Without the
 * option --log-format json means json. */
static void start_progress(int progress, bool quiet)
{
	if (progress == BLD_PROGRESS_AUTO && nib_log_get_format() == NIB_LOG_JSON)
		progress = BLD_PROGRESS_JSON;
	nib_log_set_event_format(progress == BLD_PROGRESS_JSON ? NIB_LOG_JSON : NIB_LOG_TEXT);
	if (!quiet && bld_progress_resolve(progress, STDOUT_FILENO) == BLD_PROGRESS_TTY)
		bld_tty_start(STDOUT_FILENO);
}

/*
 * --logfile sends the build's output (stdout and stderr) to a file, as
 * buildah does; -o - needs stdout for the tar, so the build's output goes
 * to stderr. Both are undone before `nib build` returns, so the error line
 * main prints reaches the caller's stderr.
 */
struct out_redirect {
	int saved_out, saved_err; /* -1: not redirected */
	int logfd;
};

static int redirect_output(struct bld_build_opts *o, const char *logfile, struct out_redirect *rd,
			   struct nib_error *err)
{
	bool tar_stdout = false;

	rd->saved_out = rd->saved_err = rd->logfd = -1;
	for (size_t i = 0; i < o->n_outputs; i++)
		if (o->outputs[i].type == BLD_OUT_TAR && streq(o->outputs[i].dest, "-"))
			tar_stdout = true;
	if (tar_stdout && isatty(STDOUT_FILENO))
		return nib_err(err, NIB_ERR_USAGE, 0,
			       "build: --output -: standard output is a terminal (redirect it to "
			       "a file or a pipe)");
	if (!tar_stdout && !logfile)
		return 0;
	if (logfile) {
		rd->logfd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (rd->logfd < 0)
			return nib_err(err, NIB_ERR_IO, errno, "--logfile %s", logfile);
	}
	fflush(stdout);
	fflush(stderr);
	rd->saved_out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	rd->saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (rd->saved_out < 0 || rd->saved_err < 0)
		return nib_err(err, NIB_ERR_IO, errno, "dup");
	for (size_t i = 0; i < o->n_outputs; i++)
		if (o->outputs[i].type == BLD_OUT_TAR && streq(o->outputs[i].dest, "-"))
			o->outputs[i].fd = rd->saved_out;
	if (rd->logfd >= 0) {
		dup2(rd->logfd, STDOUT_FILENO);
		dup2(rd->logfd, STDERR_FILENO);
	} else {
		dup2(STDERR_FILENO, STDOUT_FILENO);
	}
	return 0;
}

static void restore_output(struct out_redirect *rd, const struct nib_error *err)
{
	fflush(stdout);
	fflush(stderr);
	if (rd->logfd >= 0 && err && err->kind != NIB_ERR_NONE && err->msg) {
		/* the log tells the whole story; the caller's stderr gets the
		 * line too (main) */
		_cleanup_free_ char *line = xasprintf("nib: error: %s\n", err->msg);
		(void)nib_write_all(rd->logfd, line, strlen(line));
	}
	if (rd->saved_out >= 0) {
		dup2(rd->saved_out, STDOUT_FILENO);
		close(rd->saved_out);
	}
	if (rd->saved_err >= 0) {
		dup2(rd->saved_err, STDERR_FILENO);
		close(rd->saved_err);
	}
	if (rd->logfd >= 0)
		close(rd->logfd);
	rd->saved_out = rd->saved_err = rd->logfd = -1;
}

/* ---- the command ---------------------------------------------------------------- */

/* -f URL: the Containerfile downloaded (an archive is refused), as buildah
 * takes it; `fc` keeps it until the build is over. */
static int file_from_url(struct bld_build_opts *o, const char *tmp_parent, struct bld_context *fc,
			 struct nib_error *err)
{
	struct bld_context_options co = {.tmp_parent = tmp_parent, .ro = &o->reg};

	if (bld_context_open(o->file, &co, fc, err) < 0)
		return nib_err_wrap(err, "-f %s", o->file);
	if (!fc->file)
		return nib_err(err, NIB_ERR_USAGE, 0, "-f %s: an archive, not a Containerfile",
			       o->file);
	o->file = fc->file;
	return 0;
}

/* --timeout: at the deadline nib stops the build as SIGTERM does (the
 * running step killed, nothing half-stored), and says why. */
static volatile sig_atomic_t build_timed_out;

static void on_build_alarm(int sig)
{
	(void)sig;
	build_timed_out = 1;
	raise(SIGTERM);
}

static void build_deadline(unsigned seconds)
{
	struct sigaction sa = {.sa_handler = on_build_alarm};

	if (!seconds)
		return;
	sigaction(SIGALRM, &sa, NULL);
	alarm(seconds);
}

static int write_small(const char *path, const char *s, struct nib_error *err)
{
	return nib_write_output_file(path, s, strlen(s), err);
}

static const struct option build_opts[] = {
    {"help", no_argument, NULL, 'h'},
    {"file", required_argument, NULL, 'f'},
    {"tag", required_argument, NULL, 't'},
    {"quiet", no_argument, NULL, 'q'},
    {"output", required_argument, NULL, 'o'},
    {"build-arg", required_argument, NULL, OPT_BUILD_ARG},
    {"build-arg-file", required_argument, NULL, OPT_BUILD_ARG_FILE},
    {"target", required_argument, NULL, OPT_TARGET},
    {"no-cache", optional_argument, NULL, OPT_NO_CACHE},
    {"layers", optional_argument, NULL, OPT_LAYERS},
    {"pull", optional_argument, NULL, OPT_PULL},
    {"pull-always", optional_argument, NULL, OPT_PULL_ALWAYS},
    {"pull-never", optional_argument, NULL, OPT_PULL_NEVER},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"storage-driver", required_argument, NULL, OPT_DRIVER},
    {"idmap", required_argument, NULL, OPT_IDMAP},
    {"network", required_argument, NULL, OPT_NETWORK},
    {"secret", required_argument, NULL, OPT_SECRET},
    {"ssh", required_argument, NULL, OPT_SSH},
    {"build-context", required_argument, NULL, OPT_BUILD_CONTEXT},
    {"volume", required_argument, NULL, 'v'},
    {"label", required_argument, NULL, OPT_LABEL},
    {"annotation", required_argument, NULL, OPT_ANNOTATION},
    {"env", required_argument, NULL, OPT_ENV},
    {"unsetenv", required_argument, NULL, OPT_UNSETENV},
    {"cap-add", required_argument, NULL, OPT_CAP_ADD},
    {"cap-drop", required_argument, NULL, OPT_CAP_DROP},
    {"add-host", required_argument, NULL, OPT_ADD_HOST},
    {"dns", required_argument, NULL, OPT_DNS},
    {"dns-search", required_argument, NULL, OPT_DNS_SEARCH},
    {"dns-option", required_argument, NULL, OPT_DNS_OPTION},
    {"no-hosts", optional_argument, NULL, OPT_NO_HOSTS},
    {"security-opt", required_argument, NULL, OPT_SECURITY_OPT},
    {"ulimit", required_argument, NULL, OPT_ULIMIT},
    {"shm-size", required_argument, NULL, OPT_SHM_SIZE},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"allow", required_argument, NULL, OPT_ALLOW},
    {"stdin", optional_argument, NULL, OPT_STDIN},
    {"ignorefile", required_argument, NULL, OPT_IGNOREFILE},
    {"logfile", required_argument, NULL, OPT_LOGFILE},
    {"logsplit", optional_argument, NULL, OPT_LOGSPLIT},
    {"skip-unused-stages", optional_argument, NULL, OPT_SKIP_UNUSED_STAGES},
    {"from", required_argument, NULL, OPT_FROM},
    {"os-version", required_argument, NULL, OPT_OS_VERSION},
    {"os-feature", required_argument, NULL, OPT_OS_FEATURE},
    {"omit-history", optional_argument, NULL, OPT_OMIT_HISTORY},
    {"http-proxy", optional_argument, NULL, OPT_HTTP_PROXY},
    {"timestamp", required_argument, NULL, OPT_TIMESTAMP},
    {"platform", required_argument, NULL, OPT_PLATFORM},
    {"os", required_argument, NULL, OPT_OS},
    {"arch", required_argument, NULL, OPT_ARCH},
    {"variant", required_argument, NULL, OPT_VARIANT},
    {"manifest", required_argument, NULL, OPT_MANIFEST},
    {"all-platforms", optional_argument, NULL, OPT_ALL_PLATFORMS},
    {"iidfile", required_argument, NULL, OPT_IIDFILE},
    {"digestfile", required_argument, NULL, OPT_DIGESTFILE},
    {"squash", optional_argument, NULL, OPT_SQUASH},
    {"squash-all", optional_argument, NULL, OPT_SQUASH_ALL},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"push", no_argument, NULL, OPT_PUSH},
    {"cache-from", required_argument, NULL, OPT_CACHE_FROM},
    {"cache-to", required_argument, NULL, OPT_CACHE_TO},
    {"cache-ttl", required_argument, NULL, OPT_CACHE_TTL},
    {"compression", required_argument, NULL, OPT_COMPRESSION},
    {"compression-format", required_argument, NULL, OPT_COMPRESSION},
    {"compression-level", required_argument, NULL, OPT_COMPRESSION_LEVEL},
    {"isolation", required_argument, NULL, OPT_ISOLATION},
    {"example", no_argument, NULL, OPT_EXAMPLE},
    /* the registry commands' options (builder/regflags.c) */
    BLD_REG_LONG_OPTIONS,
    {"remote", required_argument, NULL, OPT_REMOTE},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"memory", required_argument, NULL, 'm'},
    {"pids-limit", required_argument, NULL, OPT_PIDS_LIMIT},
    {"step-timeout", required_argument, NULL, OPT_STEP_TIMEOUT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"progress", required_argument, NULL, OPT_PROGRESS},
};

/* build_opts, then compat_opts, then the terminator. */
static struct option *all_options(void)
{
	size_t n = ARRAY_SIZE(build_opts), m = ARRAY_SIZE(compat_opts);
	struct option *v = xcalloc(n + m + 1, sizeof(*v));

	memcpy(v, build_opts, sizeof(build_opts));
	for (size_t i = 0; i < m; i++)
		v[n + i] = (struct option){compat_opts[i].name, compat_opts[i].has_arg, NULL,
					   OPT_COMPAT + (int)i};
	return v;
}

/* A boolean option's value: --flag alone is true, --flag=BOOL as given. */
static int flag_value(const struct bld_command *self, const char *name, const char *arg, bool *out,
		      struct nib_error *err)
{
	int v = arg ? nib_parse_bool(arg) : 1;

	(void)self;
	if (v < 0)
		return nib_err(err, NIB_ERR_USAGE, 0, "build: --%s: '%s' is not a boolean", name,
			       arg);
	*out = v;
	return 0;
}

/* The long name of the option getopt just returned (for messages). */
static const char *opt_name(int c, const struct option *opts)
{
	for (size_t i = 0; opts[i].name; i++)
		if (opts[i].val == c)
			return opts[i].name;
	return "?";
}

/* BuildKit keeps a git context's .git only when asked with this build
 * argument. */
static bool keep_git_dir(const struct bld_build_opts *o)
{
	for (size_t i = 0; i < o->build_args.len; i++) {
		const char *a = o->build_args.v[i];
		if (nib_str_has_prefix(a, "BUILDKIT_CONTEXT_KEEP_GIT_DIR="))
			return nib_parse_bool(strchr(a, '=') + 1) == 1;
	}
	return false;
}

int bld_cmd_build(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err)
{
	_cleanup_free_ struct option *opts = all_options();
	struct bld_build_opts o;
	struct bld_build_result res;
	struct bld_reg_flags rf = BLD_REG_FLAGS_INIT;
	struct out_redirect rd = {-1, -1, -1};
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_free_ char *example_dir = NULL, *stdin_dir = NULL, *stdin_file = NULL;
	_cleanup_free_ char *tmp_parent = NULL, *ctx_file = NULL;
	struct bld_context ctx = {0}, file_ctx = {0};
	struct bld_named_fetched named = {0};
	const char *context_arg = NULL;
	_cleanup_free_ char *platform = NULL;
	_cleanup_strv_ struct nib_strv platforms = {0};
	const char *os = NULL, *arch = NULL, *variant = NULL, *logfile = NULL, *manifest = NULL;
	const char *remote = NULL, *token_file = NULL;
	bool example = false, file_stdin = false, b = false, all_platforms = false,
	     logsplit = false;
	int progress = BLD_PROGRESS_AUTO;
	uint64_t u;
	int c, r, ret = -1;

	bld_build_opts_init(&o);
	bld_limits_default(&o.limits);
	o.network = BLD_NET_AUTO;
	while ((c = getopt_long(argc, argv, "hf:t:qo:v:c:m:D", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			bld_command_help(self);
			printf("\n%s", build_help);
			bld_build_opts_free(&o);
			return 0;
		case 'f':
			if (o.file || file_stdin) {
				nib_err(err, NIB_ERR_USAGE, 0,
					"build: -f %s: " SOON "several Containerfiles", optarg);
				goto out;
			}
			if (streq(optarg, "-"))
				file_stdin = true;
			else
				o.file = optarg;
			break;
		case 't':
			nib_strv_push(&o.tags, optarg);
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'o':
			if (bld_opt_output(self, &o, optarg, err) < 0)
				goto out;
			break;
		case 'm':
		case OPT_PIDS_LIMIT:
			if (bld_limits_parse(c == 'm' ? "--memory" : "--pids-limit", optarg,
					     &o.limits, err) < 0)
				goto out;
			break;
		case OPT_STEP_TIMEOUT:
		case OPT_TIMEOUT: {
			int64_t secs;
			if (bld_opt_ttl(optarg, &secs) < 0 || secs <= 0 || secs > UINT_MAX) {
				bld_usage_error(
				    self, err, "build: bad --%s \"%s\" (e.g. 90s, 10m, 1h)",
				    c == OPT_TIMEOUT ? "timeout" : "step-timeout", optarg);
				goto out;
			}
			*(c == OPT_TIMEOUT ? &o.timeout : &o.step_timeout) = (unsigned)secs;
			break;
		}
		case 'v':
			if (bld_opt_volume(self, &o, optarg, err) < 0)
				goto out;
			break;
		case 'c':
		case 'D':
			for (size_t i = 0; i < ARRAY_SIZE(compat_opts); i++)
				if (compat_opts[i].short_name == c &&
				    compat_opt_check(&compat_opts[i], optarg, err) < 0)
					goto out;
			break;
		case OPT_BUILD_ARG:
			if (bld_opt_build_arg(self, &o, optarg, err) < 0)
				goto out;
			break;
		case OPT_BUILD_ARG_FILE:
			if (bld_opt_build_arg_file(self, &o, optarg, err) < 0)
				goto out;
			break;
		case OPT_TARGET:
			o.target = optarg;
			break;
		case OPT_NO_CACHE:
			if (flag_value(self, "no-cache", optarg, &o.no_cache, err) < 0)
				goto out;
			break;
		case OPT_LAYERS:
			r = optarg ? nib_parse_bool(optarg) : 1;
			if (r < 0) {
				bld_usage_error(self, err, "build: bad --layers value \"%s\"",
						optarg);
				goto out;
			}
			o.layers = r;
			break;
		case OPT_PULL:
			if (!optarg || streq(optarg, "always") || streq(optarg, "true") ||
			    streq(optarg, "ifnewer") || streq(optarg, "newer"))
				o.pull = BLD_PULL_ALWAYS;
			else if (streq(optarg, "missing") || streq(optarg, "ifmissing") ||
				 streq(optarg, "false"))
				o.pull = BLD_PULL_MISSING;
			else if (streq(optarg, "never"))
				o.pull = BLD_PULL_NEVER;
			else {
				bld_usage_error(self, err, "build: bad --pull value \"%s\"",
						optarg);
				goto out;
			}
			break;
		case OPT_PULL_ALWAYS:
		case OPT_PULL_NEVER:
			if (flag_value(self, opt_name(c, opts), optarg, &b, err) < 0)
				goto out;
			if (b)
				o.pull = c == OPT_PULL_ALWAYS ? BLD_PULL_ALWAYS : BLD_PULL_NEVER;
			break;
		case OPT_FORMAT:
			r = stg_format_parse(optarg);
			if (r < 0) {
				bld_usage_error(self, err,
						"build: bad --format \"%s\" (oci, docker)", optarg);
				goto out;
			}
			o.format = (enum stg_format)r;
			break;
		case OPT_DRIVER:
			o.storage_driver = optarg;
			break;
		case OPT_IDMAP:
			r = bld_idmap_parse(optarg);
			if (r < 0) {
				bld_usage_error(
				    self, err,
				    "build: bad --idmap \"%s\" (auto, subuid, single, none)",
				    optarg);
				goto out;
			}
			o.idmap = (enum bld_idmap)r;
			break;
		case OPT_NETWORK:
			if (streq(optarg, "none"))
				o.network = BLD_NET_NONE;
			else if (streq(optarg, "host"))
				o.network = BLD_NET_HOST;
			else if (streq(optarg, "default"))
				o.network = BLD_NET_AUTO;
			else if (streq(optarg, "private") || streq(optarg, "slirp4netns"))
				o.network = BLD_NET_PRIVATE;
			else if (nib_str_has_prefix(optarg, "ns:") ||
				 nib_str_has_prefix(optarg, "slirp4netns:") ||
				 nib_str_has_prefix(optarg, "pasta")) {
				nib_err(err, NIB_ERR_USAGE, 0,
					"build: --network %s: " SOON
					"this kind of network for RUN (private, host or none)",
					optarg);
				goto out;
			} else {
				bld_usage_error(self, err,
						"build: bad --network \"%s\" (private, host, none)",
						optarg);
				goto out;
			}
			break;
		case OPT_BUILD_CONTEXT:
			if (bld_named_check(optarg, err) < 0) {
				nib_err_wrap(err, "build");
				goto out;
			}
			nib_strv_push(&o.build_contexts, optarg);
			break;
		case OPT_SSH:
			if (bld_opt_ssh(self, &o, optarg, err) < 0)
				goto out;
			break;
		case OPT_SECRET:
			if (bld_opt_secret(self, &o, optarg, err) < 0)
				goto out;
			break;
		case OPT_LABEL:
			nib_strv_push(&o.labels, optarg);
			break;
		case OPT_ANNOTATION:
			nib_strv_push(&o.annotations, optarg);
			break;
		case OPT_ENV:
			if (bld_opt_env(&o, optarg, err) < 0)
				goto out;
			break;
		case OPT_UNSETENV:
			if (!*optarg || strchr(optarg, '=')) {
				nib_err(err, NIB_ERR_USAGE, 0,
					"build: bad --unsetenv \"%s\" (a variable name)", optarg);
				goto out;
			}
			nib_strv_push(&o.unsetenv, optarg);
			break;
		case OPT_CAP_ADD:
			bld_opt_list(&o.cap_add, optarg);
			break;
		case OPT_CAP_DROP:
			bld_opt_list(&o.cap_drop, optarg);
			break;
		/* comma-separated lists, as buildah's */
		case OPT_ADD_HOST:
			bld_opt_list(&o.add_hosts, optarg);
			break;
		case OPT_DNS:
			bld_opt_list(&o.dns, optarg);
			break;
		case OPT_DNS_SEARCH:
			bld_opt_list(&o.dns_search, optarg);
			break;
		case OPT_DNS_OPTION:
			bld_opt_list(&o.dns_options, optarg);
			break;
		case OPT_NO_HOSTS:
			if (flag_value(self, "no-hosts", optarg, &o.no_hosts, err) < 0)
				goto out;
			break;
		case OPT_SECURITY_OPT:
		case OPT_ULIMIT:
		case OPT_SHM_SIZE:
		case OPT_DEVICE:
			if ((c == OPT_SECURITY_OPT ? bld_security_opt
			     : c == OPT_ULIMIT	   ? bld_ulimit_opt
			     : c == OPT_SHM_SIZE   ? bld_shm_size_opt
						 : bld_device_opt)(&o.security, optarg, err) < 0) {
				nib_err_wrap(err, "build");
				goto out;
			}
			break;
		case OPT_ALLOW:
			if (!streq(optarg, "security.insecure")) {
				nib_err(err, NIB_ERR_USAGE, 0,
					"build: --allow %s: nib knows only security.insecure (RUN "
					"--network=host needs no allowance)",
					optarg);
				goto out;
			}
			o.allow_insecure = true;
			break;
		case OPT_STDIN:
			if (flag_value(self, "stdin", optarg, &o.run_stdin, err) < 0)
				goto out;
			break;
		case OPT_IGNOREFILE:
			o.ignorefile = optarg;
			break;
		case OPT_LOGFILE:
			if (!*optarg) {
				nib_err(err, NIB_ERR_USAGE, 0, "build: --logfile needs a file");
				goto out;
			}
			logfile = optarg;
			break;
		case OPT_LOGSPLIT:
			if (flag_value(self, "logsplit", optarg, &logsplit, err) < 0)
				goto out;
			break;
		case OPT_SKIP_UNUSED_STAGES:
			if (flag_value(self, "skip-unused-stages", optarg, &b, err) < 0)
				goto out;
			o.all_stages = !b;
			break;
		case OPT_FROM:
			if (!*optarg) {
				nib_err(err, NIB_ERR_USAGE, 0, "build: --from needs an image");
				goto out;
			}
			o.from = optarg;
			break;
		case OPT_OS_VERSION:
			o.os_version = optarg;
			break;
		case OPT_OS_FEATURE:
			if (!*optarg || streq(optarg, "-")) {
				nib_err(err, NIB_ERR_USAGE, 0,
					"build: --os-feature needs a feature");
				goto out;
			}
			nib_strv_push(&o.os_features, optarg);
			break;
		case OPT_OMIT_HISTORY:
			if (flag_value(self, "omit-history", optarg, &o.omit_history, err) < 0)
				goto out;
			break;
		case OPT_HTTP_PROXY:
			if (flag_value(self, "http-proxy", optarg, &o.http_proxy, err) < 0)
				goto out;
			break;
		case OPT_TIMESTAMP:
			if (nib_parse_u64(optarg, &u) < 0) {
				bld_usage_error(self, err,
						"build: bad --timestamp \"%s\" (seconds)", optarg);
				goto out;
			}
			o.timestamp = (int64_t)u;
			break;
		case OPT_PLATFORM:
			/* repeated or a comma list: one build each (buildah) */
			if (bld_platform_list(optarg, &platforms, err) < 0) {
				nib_err_wrap(err, "build");
				goto out;
			}
			o.platform = platforms.v[0];
			break;
		case OPT_MANIFEST:
			if (!*optarg) {
				nib_err(err, NIB_ERR_USAGE, 0, "build: --manifest needs a name");
				goto out;
			}
			manifest = optarg;
			break;
		case OPT_ALL_PLATFORMS:
			if (flag_value(self, "all-platforms", optarg, &all_platforms, err) < 0)
				goto out;
			break;
		case OPT_OS:
		case OPT_ARCH:
		case OPT_VARIANT:
			if (!*optarg || strchr(optarg, '/') || strchr(optarg, ',')) {
				nib_err(err, NIB_ERR_USAGE, 0, "build: bad --%s \"%s\"",
					opt_name(c, opts), optarg);
				goto out;
			}
			*(c == OPT_OS ? &os : c == OPT_ARCH ? &arch : &variant) = optarg;
			break;
		case OPT_IIDFILE:
			o.iidfile = optarg;
			break;
		case OPT_DIGESTFILE:
			o.digestfile = optarg;
			break;
		case OPT_SQUASH:     /* buildah's: everything, the base too */
		case OPT_SQUASH_ALL: /* podman's */
			if (flag_value(self, opt_name(c, opts), optarg, &o.squash, err) < 0)
				goto out;
			break;
		case OPT_JOBS:
			if (nib_parse_u64(optarg, &u) < 0 || u == 0 || u > 64) {
				bld_usage_error(self, err, "build: bad --jobs \"%s\"", optarg);
				goto out;
			}
			o.jobs = (int)u;
			break;
		case OPT_PUSH:
			o.push = true;
			break;
		case OPT_CACHE_FROM:
			nib_strv_push(&o.cache_from, optarg);
			break;
		case OPT_CACHE_TO:
			o.cache_to = optarg;
			break;
		case OPT_CACHE_TTL:
			if (bld_opt_ttl(optarg, &o.cache_ttl) < 0) {
				bld_usage_error(
				    self, err, "build: bad --cache-ttl \"%s\" (e.g. 168h)", optarg);
				goto out;
			}
			break;
		case OPT_COMPRESSION:
			r = stg_compression_parse(optarg);
			if (r < 0) {
				bld_usage_error(self, err, "build: bad --compression \"%s\"",
						optarg);
				goto out;
			}
			o.compression = (enum stg_compression)r;
			break;
		case OPT_COMPRESSION_LEVEL: {
			uint64_t lvl;
			if (nib_parse_u64(optarg, &lvl) < 0 || lvl < 1 || lvl > 22) {
				bld_usage_error(
				    self, err,
				    "build: bad --compression-level \"%s\" (1-9 for gzip, "
				    "1-22 for zstd)",
				    optarg);
				goto out;
			}
			o.compression_level = (int)lvl;
			break;
		}
		case OPT_ISOLATION:
			/* buildah's chroot and rootless both mean: no OCI runtime
			 * process, the builder runs the command itself */
			if (streq(optarg, "chroot") || streq(optarg, "rootless")) {
				o.isolation = BLD_ISOLATION_AUTO;
				break;
			}
			/* namespaces: never the ptrace fallback (a build service
			 * running Containerfiles it does not trust); ptrace:
			 * always, even where namespaces work */
			if (streq(optarg, "namespaces") || streq(optarg, "ptrace")) {
				o.isolation = (enum bld_isolation)bld_isolation_parse(optarg);
				break;
			}
			if (streq(optarg, "oci")) {
				nib_err(err, NIB_ERR_USAGE, 0,
					"build: --isolation oci: nib has no external OCI runtime; "
					"RUN steps go through its embedded runtime (--isolation "
					"chroot)");
				goto out;
			}
			nib_err(
			    err, NIB_ERR_USAGE, 0,
			    "build: bad --isolation \"%s\" (chroot, rootless, namespaces, ptrace)",
			    optarg);
			goto out;
		case OPT_EXAMPLE:
			example = true;
			break;
		case OPT_REMOTE:
			remote = optarg;
			break;
		case OPT_TOKEN_FILE:
			token_file = optarg;
			break;
		case OPT_PROGRESS:
			if ((progress = bld_progress_parse(optarg)) < 0) {
				bld_usage_error(
				    self, err, "build: --progress %s: not auto, plain, tty or json",
				    optarg);
				goto out;
			}
			break;
		default:
			if (c >= OPT_COMPAT && c < OPT_COMPAT + (int)ARRAY_SIZE(compat_opts)) {
				if (compat_opt_check(&compat_opts[c - OPT_COMPAT], optarg, err) < 0)
					goto out;
				break;
			}
			/* --authfile, --creds, --cert-dir, --tls-verify, --retry,
			 * --retry-delay, --registries-conf: the registry commands'
			 * parsing and limits */
			r = bld_reg_flag(self, c, optarg, &rf, err);
			if (r == 1)
				break;
			if (r < 0) {
				/* its first line: a bad value is one line */
				err->msg[strcspn(err->msg, "\n")] = '\0';
				nib_err_wrap(err, "build");
				goto out;
			}
			bld_bad_option(self, argv, err);
			goto out;
		}
	}
	bld_selinux_use(&o.security); /* for -v's :z and :Z */
	for (size_t i = 0; i < o.cap_add.len + o.cap_drop.len; i++) {
		const char *cap =
		    i < o.cap_add.len ? o.cap_add.v[i] : o.cap_drop.v[i - o.cap_add.len];
		if (!bld_opt_cap_known(cap)) {
			nib_err(err, NIB_ERR_USAGE, 0, "build: --%s %s: unknown capability",
				i < o.cap_add.len ? "cap-add" : "cap-drop", cap);
			goto out;
		}
	}
	{
		struct bld_etc_opts etc = bld_build_etc(&o);
		if (bld_etc_opts_check(&etc, o.network, err) < 0) {
			nib_err_wrap(err, "build");
			goto out;
		}
	}
	if (all_platforms && platforms.len) {
		nib_err(err, NIB_ERR_USAGE, 0, "build: --all-platforms and --platform together");
		goto out;
	}
	if ((platforms.len > 1 || all_platforms) && (os || arch || variant)) {
		nib_err(err, NIB_ERR_USAGE, 0,
			"build: --os, --arch and --variant are for one platform");
		goto out;
	}
	if (logsplit && !logfile) {
		nib_err(err, NIB_ERR_USAGE, 0, "build: --logsplit needs --logfile");
		goto out;
	}
	if (logsplit)
		o.logsplit = logfile;
	o.reg = rf.o;
	/* every -t names an image before anything is built */
	for (size_t i = 0; i < o.tags.len; i++) {
		_cleanup_free_ char *n = bld_ref_normalise(o.tags.v[i], err);
		if (!n) {
			nib_err_wrap(err, "build: -t %s", o.tags.v[i]);
			goto out;
		}
	}
	platform = bld_opt_platform(o.platform, os, arch, variant);
	o.platform = platform;
	if (!o.storage_driver)
		o.storage_driver = g->storage_driver;
	if (example) {
		if (optind != argc) {
			bld_usage_error(self, err, "build: --example takes no CONTEXT");
			goto out;
		}
		if (example_context(&example_dir, err) < 0)
			goto out;
		o.context = example_dir;
		if (!o.tags.len)
			nib_strv_push(&o.tags, "localhost/nib-example:latest");
	} else {
		if (optind + 1 < argc) {
			bld_usage_error(self, err, "build: expected one CONTEXT");
			goto out;
		}
		context_arg = optind < argc ? argv[optind] : ".";
	}
	if (o.push && !o.tags.len) {
		bld_usage_error(self, err, "build: --push needs at least one -t REF");
		goto out;
	}
	if (context_arg && bld_context_kind(context_arg) == BLD_CONTEXT_STDIN &&
	    (file_stdin || o.run_stdin)) {
		nib_err(err, NIB_ERR_USAGE, 0,
			"build: the context - and %s both read standard input",
			file_stdin ? "-f -" : "--stdin");
		goto out;
	}
	if (file_stdin) {
		if (o.run_stdin) {
			nib_err(err, NIB_ERR_USAGE, 0,
				"build: -f - and --stdin both read standard input");
			goto out;
		}
		if (bld_opt_file_stdin(&stdin_dir, &stdin_file, err) < 0)
			goto out;
		o.file = stdin_file;
	}
	if (remote) {
		/* the service fetches what is not a folder here itself */
		if (context_arg && bld_context_kind(context_arg) != BLD_CONTEXT_DIR) {
			nib_err(
			    err, NIB_ERR_USAGE, 0,
			    "build: --remote sends a local folder as the context; %s is not one",
			    context_arg);
			goto out;
		}
		if (context_arg)
			o.context = context_arg;
		ret = bld_remote_build(&o, remote, token_file, err);
		goto out;
	}
	if (token_file) {
		bld_usage_error(self, err, "build: --token-file goes with --remote");
		goto out;
	}
	if (redirect_output(&o, logfile, &rd, err) < 0)
		goto out;
	start_progress(progress, o.quiet);
	if (stg_store_open(g->root, &st, err) < 0)
		goto out;
	tmp_parent = xasprintf("%s/nib/tmp", stg_store_path(st));
	if (o.file && bld_context_kind(o.file) == BLD_CONTEXT_URL &&
	    file_from_url(&o, tmp_parent, &file_ctx, err) < 0)
		goto out;
	if (context_arg) {
		struct bld_context_options co = {
		    .tmp_parent = tmp_parent, .keep_git_dir = keep_git_dir(&o), .ro = &o.reg};
		if (bld_context_open(context_arg, &co, &ctx, err) < 0 ||
		    bld_named_fetch(&o, tmp_parent, &o.reg, &named, err) < 0)
			goto out;
		o.context = ctx.dir;
		if (ctx.file && o.file) {
			nib_err(
			    err, NIB_ERR_USAGE, 0,
			    "build: the context %s is a Containerfile itself; -f %s cannot apply",
			    context_arg, o.file);
			goto out;
		}
		if (ctx.file) {
			o.file = ctx.file;
		} else if (ctx.tmp && o.file && o.file[0] != '/') {
			/* -f names a file of the fetched context */
			ctx_file = nib_path_join(ctx.dir, o.file);
			o.file = ctx_file;
		}
	}
	build_deadline(o.timeout);
	r = platforms.len > 1 || all_platforms || manifest
		? bld_build_platforms(st, &o, &platforms, all_platforms, manifest, &res, err)
		: bld_build_run(st, &o, &res, err);
	alarm(0);
	bld_tty_stop();
	if (r < 0 && build_timed_out)
		nib_err(err, NIB_ERR_RUN, 0, "build: not done within --timeout %us", o.timeout);
	if (r < 0)
		goto out;
	if (o.iidfile && write_small(o.iidfile, res.image_id, err) < 0)
		goto out;
	if (o.digestfile && write_small(o.digestfile, res.manifest_digest, err) < 0)
		goto out;
	if (o.quiet) {
		printf("%s\n", nib_digest_hex(res.image_id));
	} else if (nib_log_get_event_format() == NIB_LOG_JSON) {
		_cleanup_free_ char *f = xasprintf("\"image_id\":\"%s\",\"manifest\":\"%s\"",
						   res.image_id, res.manifest_digest);
		nib_log_event("image", f, NULL);
	} else {
		printf("COMMIT");
		for (size_t i = 0; i < o.tags.len; i++)
			printf(" %s", o.tags.v[i]);
		printf("\n--> %.12s\n", nib_digest_hex(res.image_id));
		for (size_t i = 0; i < o.tags.len; i++) {
			_cleanup_free_ char *n = bld_ref_normalise(o.tags.v[i], NULL);
			printf("Successfully tagged %s\n", n ? n : o.tags.v[i]);
		}
		printf("%s\n", nib_digest_hex(res.image_id));
	}
	if (example && !o.quiet)
		printf("\nThe example image is in the store (%s):\n"
		       "  nib images\n"
		       "  nib inspect localhost/nib-example:latest\n"
		       "Push it to a registry with:\n"
		       "  nib push localhost/nib-example:latest REGISTRY/nib-example:latest\n"
		       "(a plain-HTTP registry on this machine, e.g. one started with\n"
		       "'docker-registry' on port 5000, needs --tls-verify=false:\n"
		       "  nib push --tls-verify=false localhost/nib-example:latest "
		       "localhost:5000/nib-example:latest)\n",
		       stg_store_path(st));
	fflush(stdout);
	ret = 0;
out:
	bld_tty_stop();
	restore_output(&rd, ret < 0 ? err : NULL);
	if (example_dir)
		nib_rm_rf_at(AT_FDCWD, example_dir, NULL);
	if (stdin_dir)
		nib_rm_rf_at(AT_FDCWD, stdin_dir, NULL);
	bld_context_close(&ctx);
	bld_context_close(&file_ctx);
	bld_named_fetched_free(&named);
	bld_build_opts_free(&o);
	return ret;
}
