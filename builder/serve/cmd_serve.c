/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: the command line, the state folder and the service's life:
 * recovery at start, signals, draining at the end.
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_api.h"

enum {
	OPT_LISTEN = 0x1000,
	OPT_STATE,
	OPT_TENANTS,
	OPT_AUTHFILE,
	OPT_MAX_BUILDS,
	OPT_MAX_QUEUE,
	OPT_MAX_CONTEXT,
	OPT_MAX_LOG,
	OPT_BUILD_TIMEOUT,
	OPT_DRAIN_TIMEOUT,
	OPT_MEMORY_MAX,
	OPT_PIDS_MAX,
	OPT_MIN_FREE_DISK,
	OPT_ALLOW_PTRACE,
	OPT_TLS_VERIFY,
	OPT_BUILD_NETWORK,
	OPT_ALLOW_HOST,
	OPT_EXECUTOR,
	OPT_NIB,
	OPT_K8S_IMAGE,
	OPT_K8S_API,
	OPT_K8S_NAMESPACE,
	OPT_K8S_TOKEN_FILE,
	OPT_K8S_CA,
	OPT_K8S_SECCOMP,
	OPT_SERVICE_URL,
};

static const struct option opts[] = {
    {"help", no_argument, NULL, 'h'},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"state", required_argument, NULL, OPT_STATE},
    {"tenants", required_argument, NULL, OPT_TENANTS},
    {"authfile", required_argument, NULL, OPT_AUTHFILE},
    {"max-builds", required_argument, NULL, OPT_MAX_BUILDS},
    {"max-queue", required_argument, NULL, OPT_MAX_QUEUE},
    {"max-context-size", required_argument, NULL, OPT_MAX_CONTEXT},
    {"max-log-size", required_argument, NULL, OPT_MAX_LOG},
    {"build-timeout", required_argument, NULL, OPT_BUILD_TIMEOUT},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"memory-max", required_argument, NULL, OPT_MEMORY_MAX},
    {"pids-max", required_argument, NULL, OPT_PIDS_MAX},
    {"min-free-disk", required_argument, NULL, OPT_MIN_FREE_DISK},
    {"allow-ptrace", no_argument, NULL, OPT_ALLOW_PTRACE},
    {"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},
    {"build-network", required_argument, NULL, OPT_BUILD_NETWORK},
    {"allow-host", required_argument, NULL, OPT_ALLOW_HOST},
    {"executor", required_argument, NULL, OPT_EXECUTOR},
    {"nib", required_argument, NULL, OPT_NIB},
    {"k8s-image", required_argument, NULL, OPT_K8S_IMAGE},
    {"k8s-api", required_argument, NULL, OPT_K8S_API},
    {"k8s-namespace", required_argument, NULL, OPT_K8S_NAMESPACE},
    {"k8s-token-file", required_argument, NULL, OPT_K8S_TOKEN_FILE},
    {"k8s-ca", required_argument, NULL, OPT_K8S_CA},
    {"k8s-seccomp", required_argument, NULL, OPT_K8S_SECCOMP},
    {"service-url", required_argument, NULL, OPT_SERVICE_URL},
    {NULL, 0, NULL, 0},
};

/* "512", "64k", "16M", "2G" (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	default:
		return -1;
	}
	if (*end && end[1] && !(end[1] == 'i' && end[2] == '\0') && !(end[1] == 'B' && !end[2]))
		return -1;
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_listen(const struct bld_command *self, struct bld_srv_config *c, const char *a,
			struct nib_error *err)
{
	const char *colon = strrchr(a, ':');
	uint64_t port;

	if (!colon || nib_parse_u64(colon + 1, &port) < 0 || port > 65535)
		return bld_usage_error(self, err, "--listen %s: not ADDR:PORT (127.0.0.1:8080)", a);
	free(c->listen_host);
	if (a[0] == '[' && colon > a && colon[-1] == ']')
		c->listen_host = xstrndup(a + 1, (size_t)(colon - a - 2));
	else
		c->listen_host = xstrndup(a, (size_t)(colon - a));
	c->port = (unsigned)port;
	return 0;
}

static bool loopback(const char *host)
{
	return nib_str_has_prefix(host, "127.") || streq(host, "::1") || streq(host, "localhost");
}

static char *default_state(void)
{
	const char *x = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	if (x && *x)
		return xasprintf("%s/nib/serve", x);
	return xasprintf("%s/.local/state/nib/serve", home && *home ? home : ".");
}

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* --executor kubernetes: what is not given comes from the pod the service
 * runs in (its service account, KUBERNETES_SERVICE_HOST). */
static int k8s_defaults(const struct bld_command *self, struct bld_srv_config *c,
			struct nib_error *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");

	if (!c->k8s_image)
		return bld_usage_error(
		    self, err,
		    "--executor kubernetes needs --k8s-image (nib's image the Jobs "
		    "run)");
	if (!c->service_url)
		return bld_usage_error(
		    self, err,
		    "--executor kubernetes needs --service-url (how the Jobs reach "
		    "this service, e.g. http://nib-serve.builds.svc:8080)");
	if (!c->k8s_api) {
		if (!host)
			return bld_usage_error(self, err,
					       "--executor kubernetes: no --k8s-api and no "
					       "KUBERNETES_SERVICE_HOST");
		c->k8s_api = xasprintf(strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
				       host, port ? port : "443");
	}
	if (!c->k8s_token_file)
		c->k8s_token_file = xstrdup(SA_DIR "/token");
	if (!c->k8s_ca && access(SA_DIR "/ca.crt", R_OK) == 0)
		c->k8s_ca = xstrdup(SA_DIR "/ca.crt");
	if (!c->k8s_namespace) {
		size_t len;
		if (nib_read_file_at(AT_FDCWD, SA_DIR "/namespace", 256, &c->k8s_namespace, &len,
				     NULL) < 0)
			return bld_usage_error(
			    self, err, "--executor kubernetes needs --k8s-namespace (no %s)",
			    SA_DIR "/namespace");
		c->k8s_namespace[strcspn(c->k8s_namespace, "\r\n")] = '\0';
	}
	if (!c->k8s_seccomp)
		c->k8s_seccomp = xstrdup("RuntimeDefault");
	if (!streq(c->k8s_seccomp, "RuntimeDefault") &&
	    !nib_str_has_prefix(c->k8s_seccomp, "Localhost/"))
		return bld_usage_error(self, err,
				       "--k8s-seccomp %s: not RuntimeDefault or Localhost/PROFILE",
				       c->k8s_seccomp);
	return 0;
}

static int parse_opts(const struct bld_command *self, int argc, char **argv,
		      struct bld_srv_config *c, struct nib_error *err)
{
	bool kubernetes = false;
	int o;
	uint64_t v;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'h':
			bld_command_help(self);
			return 1;
		case OPT_LISTEN:
			if (parse_listen(self, c, optarg, err) < 0)
				return -1;
			break;
		case OPT_STATE:
			free(c->state_dir);
			c->state_dir = xstrdup(optarg);
			break;
		case OPT_TENANTS:
			c->tenants_file = optarg;
			break;
		case OPT_AUTHFILE:
			c->authfile = optarg;
			break;
		case OPT_MAX_BUILDS:
		case OPT_MAX_QUEUE:
		case OPT_BUILD_TIMEOUT:
		case OPT_DRAIN_TIMEOUT:
		case OPT_PIDS_MAX:
			if (nib_parse_u64(optarg, &v) < 0 || v > 1000000000)
				return bld_usage_error(self, err, "--%s %s: not a number",
						       opts[o - OPT_LISTEN + 1].name, optarg);
			if (o == OPT_MAX_BUILDS)
				c->max_builds = (unsigned)v;
			else if (o == OPT_MAX_QUEUE)
				c->max_queue = (unsigned)v;
			else if (o == OPT_BUILD_TIMEOUT)
				c->build_timeout = v;
			else if (o == OPT_DRAIN_TIMEOUT)
				c->drain_timeout = v;
			else
				c->pids_max = v;
			break;
		case OPT_MAX_CONTEXT:
		case OPT_MAX_LOG:
		case OPT_MEMORY_MAX:
		case OPT_MIN_FREE_DISK:
			if (parse_size(optarg, &v) < 0)
				return bld_usage_error(
				    self, err, "--%s %s: not a size (bytes, or with k, M, G)",
				    opts[o - OPT_LISTEN + 1].name, optarg);
			if (o == OPT_MAX_CONTEXT)
				c->max_context = v;
			else if (o == OPT_MAX_LOG)
				c->max_log = v;
			else if (o == OPT_MEMORY_MAX)
				c->memory_max = v;
			else
				c->min_free_disk = v;
			break;
		case OPT_ALLOW_PTRACE:
			c->allow_ptrace = true;
			break;
		case OPT_TLS_VERIFY: {
			int b = optarg ? nib_parse_bool(optarg) : 1;
			if (b < 0)
				return bld_usage_error(self, err, "--tls-verify=%s: not a boolean",
						       optarg);
			c->tls_verify = b;
			break;
		}
		case OPT_BUILD_NETWORK:
			if (!streq(optarg, "none") && !streq(optarg, "host"))
				return bld_usage_error(
				    self, err, "--build-network %s: not none or host", optarg);
			c->build_network = optarg;
			break;
		case OPT_ALLOW_HOST:
			nib_strv_push(&c->git_hosts, optarg);
			break;
		case OPT_EXECUTOR:
			if (!streq(optarg, "local") && !streq(optarg, "kubernetes"))
				return bld_usage_error(
				    self, err, "--executor %s: not local or kubernetes", optarg);
			kubernetes = streq(optarg, "kubernetes");
			break;
		case OPT_K8S_IMAGE:
		case OPT_K8S_API:
		case OPT_K8S_NAMESPACE:
		case OPT_K8S_TOKEN_FILE:
		case OPT_K8S_CA:
		case OPT_K8S_SECCOMP:
		case OPT_SERVICE_URL: {
			char **f[] = {&c->k8s_image,	  &c->k8s_api, &c->k8s_namespace,
				      &c->k8s_token_file, &c->k8s_ca,  &c->k8s_seccomp,
				      &c->service_url};
			free(*f[o - OPT_K8S_IMAGE]);
			*f[o - OPT_K8S_IMAGE] = xstrdup(optarg);
			break;
		}
		case OPT_NIB:
			free(c->nib);
			c->nib = xstrdup(optarg);
			break;
		default:
			return bld_bad_option(self, argv, err);
		}
	}
	if (optind != argc)
		return bld_usage_error(self, err, "unexpected argument '%s'", argv[optind]);
	if (kubernetes && k8s_defaults(self, c, err) < 0)
		return -1;
	if (!kubernetes && c->k8s_image)
		return bld_usage_error(self, err, "--k8s-image goes with --executor kubernetes");
	if (!c->tenants_file && !loopback(c->listen_host))
		return bld_usage_error(
		    self, err,
		    "--listen %s: without --tenants the service asks for no token "
		    "and listens only on loopback",
		    c->listen_host);
	if (c->max_builds == 0 || c->max_queue == 0)
		return bld_usage_error(self, err,
				       "--max-builds and --max-queue must be at least 1");
	return 0;
}

/* Builds folders no database row knows (a submission cut short), and the
 * working folders of builds that were interrupted, go. */
static void tidy(struct bld_srv *s)
{
	_cleanup_strv_ struct nib_strv ids = {0};
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int bfd = openat(s->state_fd, "builds", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (bfd < 0 || bld_srv_db_ids(s->db, &ids, NULL) < 0 || !(d = fdopendir(bfd))) {
		if (bfd >= 0)
			close(bfd);
		return;
	}
	nib_strv_sort(&ids);
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (nib_strv_find(&ids, de->d_name) < 0) {
			(void)nib_rm_rf_at(dirfd(d), de->d_name, NULL);
			continue;
		}
		_cleanup_free_ char *work = xasprintf("%s/work", de->d_name);
		(void)nib_rm_rf_at(dirfd(d), work, NULL);
	}
}

static int setup_state(struct bld_srv *s, struct nib_error *err)
{
	if (nib_mkdir_p_at(AT_FDCWD, s->cfg.state_dir, 0700, err) < 0)
		return nib_err_wrap(err, "--state");
	s->state_fd = open(s->cfg.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->state_fd < 0)
		return nib_err(err, NIB_ERR_IO, errno, "%s", s->cfg.state_dir);
	/* an absolute path: children run in their own folders */
	char *abs = realpath(s->cfg.state_dir, NULL);
	if (!abs)
		return nib_err(err, NIB_ERR_IO, errno, "%s", s->cfg.state_dir);
	free(s->cfg.state_dir);
	s->cfg.state_dir = abs;
	int lock = openat(s->state_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0)
		return nib_err(err, NIB_ERR_ENV, errno,
			       "%s/lock: another nib serve uses this state "
			       "folder",
			       s->cfg.state_dir);
	/* the lock fd stays open for the service's life */
	static const char *const dirs[] = {"builds", "tenants", "tmp"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mkdirat(s->state_fd, dirs[i], 0700) < 0 && errno != EEXIST)
			return nib_err(err, NIB_ERR_IO, errno, "%s/%s", s->cfg.state_dir, dirs[i]);
	_cleanup_free_ char *db = xasprintf("%s/nib-serve.db", s->cfg.state_dir);
	if (bld_srv_db_open(db, &s->db, err) < 0)
		return -1;
	int n = bld_srv_db_recover(s->db, err);
	if (n < 0)
		return -1;
	if (n)
		log_warn("serve: %d builds were running when the service stopped: marked "
			 "interrupted",
			 n);
	tidy(s);
	return 0;
}

int bld_cmd_serve(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err)
{
	struct bld_srv s = {
	    .cfg = {.listen_host = xstrdup("127.0.0.1"),
		    .port = 8080,
		    .max_builds = 2,
		    .max_queue = 100,
		    .max_context = 256 << 20,
		    .max_log = 16 << 20,
		    .build_timeout = 3600,
		    .drain_timeout = 300,
		    .min_free_disk = 256 << 20,
		    .tls_verify = true,
		    .build_network = "none"},
	    .state_fd = -1,
	};
	sigset_t sigs;
	int sig, r;

	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.changed, NULL);
	if ((r = parse_opts(self, argc, argv, &s.cfg, err)) != 0) {
		r = r > 0 ? 0 : -1; /* --help */
		goto out;
	}
	r = -1;
	if (!s.cfg.state_dir)
		s.cfg.state_dir = default_state();
	if (!s.cfg.nib && !(s.cfg.nib = realpath("/proc/self/exe", NULL))) {
		nib_err(err, NIB_ERR_ENV, errno, "/proc/self/exe: cannot find nib's own binary");
		goto out;
	}
	s.tenants = xcalloc(1, sizeof(*s.tenants));
	atomic_store(&s.tenants->refs, 1);
	if (!s.cfg.tenants_file)
		s.tenants->open = true;
	else if (stat(s.cfg.tenants_file, &s.tenants_st) < 0 ||
		 bld_srv_tenants_load(s.cfg.tenants_file, s.tenants, err) < 0) {
		if (!err->msg)
			nib_err(err, NIB_ERR_NOT_FOUND, errno, "--tenants %s", s.cfg.tenants_file);
		goto out;
	}
	if (setup_state(&s, err) < 0)
		goto out;
	s.cgroup = bld_srv_cgroup_setup(&s);

	/* signals go to this thread alone: every thread made from here on
	 * has them blocked */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (bld_srv_jobs_start(&s, err) < 0)
		goto out;
	if (bld_srv_http_start(&s, err) < 0) {
		bld_srv_jobs_stop(&s);
		goto out;
	}
	{
		_cleanup_free_ char *url =
		    xasprintf("http://%s%s%s:%u", strchr(s.cfg.listen_host, ':') ? "[" : "",
			      s.cfg.listen_host, strchr(s.cfg.listen_host, ':') ? "]" : "",
			      bld_srv_http_port(&s));
		const char *tenants =
		    s.tenants->open ? "no tenants: no token asked" : "tenants from --tenants";
		_cleanup_free_ char *line = xasprintf("nib serve: listening on %s (state %s, %s)",
						      url, s.cfg.state_dir, tenants);
		/* --log-format json: an event with the same facts */
		bld_emit("listening", line, "url", url, "state", s.cfg.state_dir, "tenants",
			 s.tenants->open ? "none" : "file", NULL);
	}
	fflush(stdout);
	/* the tenants file is read again on SIGHUP, and when it is replaced
	 * or changes (looked at every 2 s) */
	for (;;) {
		const struct timespec every = {2, 0};
		sig = sigtimedwait(&sigs, NULL, &every);
		if (sig == SIGHUP)
			bld_srv_tenants_reload(&s, false);
		else if (sig < 0 && (errno == EAGAIN || errno == EINTR))
			bld_srv_tenants_reload(&s, true);
		else
			break;
	}
	if (sig < 0)
		sig = SIGTERM;
	log_warn("serve: %s: draining", strsignal(sig));
	pthread_mutex_lock(&s.lock);
	s.draining = true;
	pthread_mutex_unlock(&s.lock);
	bld_srv_jobs_stop(&s);
	bld_srv_http_stop(&s);
	r = 0;
out:
	bld_srv_db_close(s.db);
	bld_srv_tenants_put(s.tenants);
	if (s.state_fd >= 0)
		close(s.state_fd);
	free(s.cfg.listen_host);
	free(s.cfg.state_dir);
	free(s.cfg.nib);
	free(s.cgroup);
	nib_strv_free(&s.cfg.git_hosts);
	free(s.cfg.k8s_image);
	free(s.cfg.k8s_api);
	free(s.cfg.k8s_namespace);
	free(s.cfg.k8s_token_file);
	free(s.cfg.k8s_ca);
	free(s.cfg.k8s_seccomp);
	free(s.cfg.service_url);
	return r;
}
