/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib build: the command line of the build (flags as `buildah bud` /
 * `podman build`), and `--example`, which builds the embedded example
 * image from a static busybox of the host.
 */
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/build.h"
#include "builder/builder.h"

static const char build_help[] =
    "  -f, --file FILE            the Containerfile (default CONTEXT/Containerfile, else\n"
    "                             CONTEXT/Dockerfile)\n"
    "  -t, --tag REF              name the image (repeatable)\n"
    "  --build-arg K=V | K        a build argument (K alone: from the environment)\n"
    "  --build-arg-file FILE      build arguments, one K=V a line\n"
    "  --target NAME              build up to this stage\n"
    "  --no-cache                 run every step\n"
    "  --layers[=BOOL]            use and fill the build cache (default true)\n"
    "  --pull[=always|missing|never]  when to pull base images (default missing)\n"
    "  --format oci|docker        manifest and config format (default oci)\n"
    "  --storage-driver NAME      overlay, fuse-overlayfs or vfs (default: the best that\n"
    "                             works here)\n"
    "  --idmap auto|subuid|single|none  how IDs map (none: no user namespace, no RUN)\n"
    "  --network host|none        RUN steps' network (default host)\n"
    "  --secret id=ID,src=FILE|env=VAR  a secret for RUN --mount=type=secret\n"
    "  --label K=V                add a label to the image (repeatable)\n"
    "  --annotation K=V           add a manifest annotation (repeatable)\n"
    "  --timestamp EPOCH          created times and file times set to EPOCH\n"
    "                             (default $SOURCE_DATE_EPOCH when set)\n"
    "  --platform OS/ARCH         the target platform\n"
    "  --iidfile FILE             write the image ID to FILE\n"
    "  --digestfile FILE          write the manifest digest to FILE\n"
    "  -o, --output type=oci,dest=DIR | type=docker-archive,dest=FILE | type=local,dest=DIR\n"
    "  --compression-format gzip|zstd  layer compression (default gzip)\n"
    "  --compression-level N      compression level (gzip 1-9, zstd 1-22)\n"
    "  --squash                   one layer for the image's own steps\n"
    "  --jobs N                   stages built at once (default 1)\n"
    "  --push                     push every tag after the build\n"
    "  --cache-from REPO          look steps up in a registry cache (repeatable)\n"
    "  --cache-to REPO            push each step's layer to a registry cache\n"
    "  --authfile FILE, --creds USER:PASS, --cert-dir DIR, --tls-verify[=BOOL]\n"
    "  -q, --quiet                no progress output; the image ID is printed last\n"
    "  --example                  build the embedded example as localhost/nib-example\n";

enum {
	OPT_BUILD_ARG = 0x1000,
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
	OPT_LABEL,
	OPT_ANNOTATION,
	OPT_TIMESTAMP,
	OPT_PLATFORM,
	OPT_IIDFILE,
	OPT_DIGESTFILE,
	OPT_SQUASH,
	OPT_JOBS,
	OPT_PUSH,
	OPT_CACHE_FROM,
	OPT_CACHE_TO,
	OPT_CACHE_TTL,
	OPT_AUTHFILE,
	OPT_CREDS,
	OPT_CERT_DIR,
	OPT_TLS_VERIFY,
	OPT_EXAMPLE,
	OPT_COMPRESSION,
	OPT_COMPRESSION_LEVEL,
	OPT_ISOLATION,
};

static int add_build_arg(const struct bld_command *self, struct bld_build_opts *o, const char *a,
			 struct nib_error *err)
{
	const char *eq = strchr(a, '=');

	if (!*a || eq == a)
		return bld_usage_error(self, err, "build: bad --build-arg \"%s\" (K=V or K)", a);
	if (!eq) {
		const char *v = getenv(a);
		if (v)
			nib_strv_pushf(&o->build_args, "%s=%s", a, v);
		return 0; /* Docker: an unset variable is ignored */
	}
	nib_strv_push(&o->build_args, a);
	return 0;
}

static int build_arg_file(const struct bld_command *self, struct bld_build_opts *o,
			  const char *path, struct nib_error *err)
{
	_cleanup_free_ char *data = NULL;
	char *save = NULL;

	if (nib_read_file_at(AT_FDCWD, path, 1 << 20, &data, NULL, err) < 0)
		return nib_err_wrap(err, "--build-arg-file %s", path);
	for (char *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		while (*l == ' ' || *l == '\t')
			l++;
		size_t n = strlen(l);
		while (n && (l[n - 1] == '\r' || l[n - 1] == ' '))
			l[--n] = '\0';
		if (!*l || *l == '#')
			continue;
		if (add_build_arg(self, o, l, err) < 0)
			return -1;
	}
	return 0;
}

static int parse_output(const struct bld_command *self, struct bld_build_opts *o, const char *s,
			struct nib_error *err)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;
	struct bld_output out = {.type = BLD_OUT_LOCAL};
	bool have_type = false;

	if (!strchr(s, '=')) { /* buildah: a bare path is a local output */
		out.dest = xstrdup(s);
		goto add;
	}
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (nib_str_has_prefix(t, "type=")) {
			have_type = true;
			if (streq(t + 5, "oci"))
				out.type = BLD_OUT_OCI;
			else if (streq(t + 5, "docker-archive") || streq(t + 5, "docker"))
				out.type = BLD_OUT_DOCKER_ARCHIVE;
			else if (streq(t + 5, "local"))
				out.type = BLD_OUT_LOCAL;
			else
				goto bad;
		} else if (nib_str_has_prefix(t, "dest=")) {
			free(out.dest);
			out.dest = xstrdup(t + 5);
		} else {
			goto bad;
		}
	}
	if (!have_type || !out.dest || !*out.dest)
		goto bad;
add:
	o->outputs = xrealloc(o->outputs, (o->n_outputs + 1) * sizeof(*o->outputs));
	o->outputs[o->n_outputs++] = out;
	return 0;
bad:
	free(out.dest);
	return bld_usage_error(
	    self, err, "build: bad --output \"%s\" (type=oci|docker-archive|local,dest=PATH)", s);
}

static int parse_secret(const struct bld_command *self, struct bld_build_opts *o, const char *s,
			struct nib_error *err)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;
	struct bld_secret sec = {0};

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char **slot = nib_str_has_prefix(t, "id=")	 ? &sec.id
			      : nib_str_has_prefix(t, "src=")	 ? &sec.src
			      : nib_str_has_prefix(t, "source=") ? &sec.src
			      : nib_str_has_prefix(t, "env=")	 ? &sec.env
								 : NULL;
		if (nib_str_has_prefix(t, "type="))
			continue;
		if (!slot) {
			free(sec.id);
			free(sec.src);
			free(sec.env);
			return bld_usage_error(self, err, "build: bad --secret \"%s\"", s);
		}
		free(*slot);
		*slot = xstrdup(strchr(t, '=') + 1);
	}
	if (!sec.id || !*sec.id) {
		free(sec.src);
		free(sec.env);
		free(sec.id);
		return bld_usage_error(self, err, "build: --secret \"%s\" needs id=ID", s);
	}
	if (!sec.src && !sec.env)
		sec.env = xstrdup(sec.id); /* Docker: src defaults to the env var ID... */
	o->secrets = xrealloc(o->secrets, (o->n_secrets + 1) * sizeof(*o->secrets));
	o->secrets[o->n_secrets++] = sec;
	return 0;
}

/* "168h", "30m", "90s", "1h30m" or plain seconds. */
static int parse_ttl(const char *s, int64_t *out)
{
	int64_t total = 0;
	char *end;

	if (!*s)
		return -1;
	while (*s) {
		long long v = strtoll(s, &end, 10);
		if (end == s || v < 0)
			return -1;
		s = end;
		switch (*s) {
		case 'h':
			total += v * 3600, s++;
			break;
		case 'm':
			total += v * 60, s++;
			break;
		case 's':
			s++;
			/* fallthrough */
		case '\0':
			total += v;
			break;
		default:
			return -1;
		}
	}
	*out = total;
	return 0;
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

/* ---- the command ---------------------------------------------------------------- */

static int write_small(const char *path, const char *s, struct nib_error *err)
{
	return nib_write_output_file(path, s, strlen(s), err);
}

int bld_cmd_build(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		  struct nib_error *err)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"file", required_argument, NULL, 'f'},
	    {"tag", required_argument, NULL, 't'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"output", required_argument, NULL, 'o'},
	    {"build-arg", required_argument, NULL, OPT_BUILD_ARG},
	    {"build-arg-file", required_argument, NULL, OPT_BUILD_ARG_FILE},
	    {"target", required_argument, NULL, OPT_TARGET},
	    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
	    {"layers", optional_argument, NULL, OPT_LAYERS},
	    {"pull", optional_argument, NULL, OPT_PULL},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"storage-driver", required_argument, NULL, OPT_DRIVER},
	    {"idmap", required_argument, NULL, OPT_IDMAP},
	    {"network", required_argument, NULL, OPT_NETWORK},
	    {"secret", required_argument, NULL, OPT_SECRET},
	    {"label", required_argument, NULL, OPT_LABEL},
	    {"annotation", required_argument, NULL, OPT_ANNOTATION},
	    {"timestamp", required_argument, NULL, OPT_TIMESTAMP},
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"iidfile", required_argument, NULL, OPT_IIDFILE},
	    {"digestfile", required_argument, NULL, OPT_DIGESTFILE},
	    {"squash", no_argument, NULL, OPT_SQUASH},
	    {"jobs", required_argument, NULL, OPT_JOBS},
	    {"push", no_argument, NULL, OPT_PUSH},
	    {"cache-from", required_argument, NULL, OPT_CACHE_FROM},
	    {"cache-to", required_argument, NULL, OPT_CACHE_TO},
	    {"cache-ttl", required_argument, NULL, OPT_CACHE_TTL},
	    {"authfile", required_argument, NULL, OPT_AUTHFILE},
	    {"creds", required_argument, NULL, OPT_CREDS},
	    {"cert-dir", required_argument, NULL, OPT_CERT_DIR},
	    {"tls-verify", optional_argument, NULL, OPT_TLS_VERIFY},
	    {"compression", required_argument, NULL, OPT_COMPRESSION},
	    {"compression-format", required_argument, NULL, OPT_COMPRESSION},
	    {"compression-level", required_argument, NULL, OPT_COMPRESSION_LEVEL},
	    {"isolation", required_argument, NULL, OPT_ISOLATION},
	    {"example", no_argument, NULL, OPT_EXAMPLE},
	    {NULL, 0, NULL, 0},
	};
	struct bld_build_opts o;
	struct bld_build_result res;
	_cleanup_(stg_store_freep) struct stg_store *st = NULL;
	_cleanup_free_ char *example_dir = NULL;
	bool example = false;
	uint64_t u;
	int c, r, ret = -1;

	bld_build_opts_init(&o);
	while ((c = getopt_long(argc, argv, "hf:t:qo:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			bld_command_help(self);
			printf("\n%s", build_help);
			bld_build_opts_free(&o);
			return 0;
		case 'f':
			o.file = optarg;
			break;
		case 't':
			nib_strv_push(&o.tags, optarg);
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'o':
			if (parse_output(self, &o, optarg, err) < 0)
				goto out;
			break;
		case OPT_BUILD_ARG:
			if (add_build_arg(self, &o, optarg, err) < 0)
				goto out;
			break;
		case OPT_BUILD_ARG_FILE:
			if (build_arg_file(self, &o, optarg, err) < 0)
				goto out;
			break;
		case OPT_TARGET:
			o.target = optarg;
			break;
		case OPT_NO_CACHE:
			o.no_cache = true;
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
			if (!optarg || streq(optarg, "always") || streq(optarg, "true"))
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
			else if (streq(optarg, "host") || streq(optarg, "default"))
				o.network = BLD_NET_HOST;
			else {
				bld_usage_error(self, err,
						"build: bad --network \"%s\" (host, none)", optarg);
				goto out;
			}
			break;
		case OPT_SECRET:
			if (parse_secret(self, &o, optarg, err) < 0)
				goto out;
			break;
		case OPT_LABEL:
			nib_strv_push(&o.labels, optarg);
			break;
		case OPT_ANNOTATION:
			nib_strv_push(&o.annotations, optarg);
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
			o.platform = optarg;
			break;
		case OPT_IIDFILE:
			o.iidfile = optarg;
			break;
		case OPT_DIGESTFILE:
			o.digestfile = optarg;
			break;
		case OPT_SQUASH:
			o.squash = true;
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
			if (parse_ttl(optarg, &o.cache_ttl) < 0) {
				bld_usage_error(
				    self, err, "build: bad --cache-ttl \"%s\" (e.g. 168h)", optarg);
				goto out;
			}
			break;
		case OPT_AUTHFILE:
			o.authfile = optarg;
			break;
		case OPT_CREDS:
			o.creds = optarg;
			break;
		case OPT_CERT_DIR:
			o.cert_dir = optarg;
			break;
		case OPT_TLS_VERIFY:
			r = optarg ? nib_parse_bool(optarg) : 1;
			if (r < 0) {
				bld_usage_error(self, err, "build: bad --tls-verify \"%s\"",
						optarg);
				goto out;
			}
			o.tls_verify = r;
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
			break; /* buildah compatibility: nib has one runtime */
		case OPT_EXAMPLE:
			example = true;
			break;
		default:
			bld_bad_option(self, argv, err);
			goto out;
		}
	}
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
		o.context = optind < argc ? argv[optind] : ".";
	}
	if (o.push && !o.tags.len) {
		bld_usage_error(self, err, "build: --push needs at least one -t REF");
		goto out;
	}
	if (stg_store_open(g->root, &st, err) < 0)
		goto out;
	if (bld_build_run(st, &o, &res, err) < 0)
		goto out;
	if (o.iidfile && write_small(o.iidfile, res.image_id, err) < 0)
		goto out;
	if (o.digestfile && write_small(o.digestfile, res.manifest_digest, err) < 0)
		goto out;
	if (o.quiet) {
		printf("%s\n", nib_digest_hex(res.image_id));
	} else if (nib_log_get_format() == NIB_LOG_JSON) {
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
	if (example_dir)
		nib_rm_rf_at(AT_FDCWD, example_dir, NULL);
	bld_build_opts_free(&o);
	return ret;
}
