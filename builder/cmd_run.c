/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib run: one command through the embedded runtime, over a rootfs folder
 * (writes land in it). The runtime's own entry point for tests,
 * benchmarks and debugging; the build drives the same code.
 */
#include <getopt.h>
#include <string.h>

#include "builder/builder.h"
#include "builder/runtime.h"
#include "containerfile/containerfile.h"

static const char run_help[] =
    "Options:\n"
    "  --rootfs DIR            the container's root folder (required)\n"
    "  --idmap MODE            auto (default), subuid, single\n"
    "  --isolation MODE        auto (default), namespaces, or ptrace: no namespace,\n"
    "                          nib traces the command and translates its paths (for\n"
    "                          pods that refuse user namespaces; not a security\n"
    "                          boundary)\n"
    "  --network MODE          private (default where slirp4netns and /dev/net/tun can\n"
    "                          run, else host), host or none (only loopback)\n"
    "  --user U[:G]            user and group, names from the rootfs's /etc/passwd\n"
    "  --workdir DIR           working folder, created when missing (default /)\n"
    "  --env K=V               set an environment variable (repeatable)\n"
    "  --mount SPEC            type=bind,src=S,dst=D[,ro] or type=tmpfs,dst=D (repeatable)\n"
    "  --cap-add CAP           add a capability (repeatable; ALL for every one)\n"
    "  --cap-drop CAP          drop a capability (repeatable)\n"
    "  --hostname NAME         host name inside (default nib)\n"
    "  --timeout SECONDS       kill everything after this long\n"
    "  --pids-limit N          processes of the command (default 4096; 0: none)\n"
    "  -m, --memory SIZE       its memory (512m, 4g; default three quarters of the\n"
    "                          machine's; 0: none); see nib info for how\n"
    "  --security-opt OPT      seccomp=PROFILE.json|unconfined, no-new-privileges,\n"
    "                          label=..., apparmor=unconfined, mask=, unmask= (as build)\n"
    "  --insecure              as RUN --security=insecure: every capability, no\n"
    "                          seccomp refusal\n"
    "  --ulimit NAME=SOFT[:HARD]  an rlimit of the command (repeatable)\n"
    "  --shm-size SIZE         /dev/shm's size (default 64m)\n"
    "  --device HOST[:CTR][:PERMS]  bind a host device node (repeatable)\n"
    "  -h, --help              show this help\n"
    "\nExit status: the command's; 128+N when signal N ended it; 1 when nib failed\n"
    "or the timeout passed; 2 for usage errors.\n";

int bld_cmd_run(const struct bld_command *self, int argc, char **argv, struct bld_globals *g,
		struct nib_error *err)
{
	enum {
		O_ROOTFS = 256,
		O_IDMAP,
		O_NET,
		O_USER,
		O_WORKDIR,
		O_ENV,
		O_MOUNT,
		O_CAPADD,
		O_CAPDROP,
		O_HOST,
		O_TIMEOUT,
		O_ISOLATION,
		O_PIDS,
		O_SECOPT,
		O_ULIMIT,
		O_SHM,
		O_DEVICE,
		O_INSECURE,
	};
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"rootfs", required_argument, NULL, O_ROOTFS},
	    {"idmap", required_argument, NULL, O_IDMAP},
	    {"network", required_argument, NULL, O_NET},
	    {"user", required_argument, NULL, O_USER},
	    {"workdir", required_argument, NULL, O_WORKDIR},
	    {"env", required_argument, NULL, O_ENV},
	    {"mount", required_argument, NULL, O_MOUNT},
	    {"cap-add", required_argument, NULL, O_CAPADD},
	    {"cap-drop", required_argument, NULL, O_CAPDROP},
	    {"hostname", required_argument, NULL, O_HOST},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"isolation", required_argument, NULL, O_ISOLATION},
	    {"pids-limit", required_argument, NULL, O_PIDS},
	    {"memory", required_argument, NULL, 'm'},
	    {"security-opt", required_argument, NULL, O_SECOPT},
	    {"ulimit", required_argument, NULL, O_ULIMIT},
	    {"shm-size", required_argument, NULL, O_SHM},
	    {"device", required_argument, NULL, O_DEVICE},
	    {"insecure", no_argument, NULL, O_INSECURE},
	    {NULL, 0, NULL, 0},
	};
	struct bld_run_spec spec;
	_cleanup_strv_ struct nib_strv env = {0}, capadd = {0}, capdrop = {0}, mspecs = {0};
	_cleanup_free_ struct bld_mount *mounts = NULL;
	_cleanup_free_ struct cf_mount *cms = NULL;
	struct bld_run_result res = {0};
	_cleanup_(bld_security_free) struct bld_security sec = {0};
	uint64_t v;
	int c, ret;

	bld_run_spec_init(&spec);
	bld_limits_default(&spec.limits);
	spec.network = BLD_NET_AUTO;
	spec.stdin_fd = 0;
	while ((c = getopt_long(argc, argv, "+hm:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("%s\n\nUsage: %s\n\n%s", self->summary, self->usage, run_help);
			return 0;
		case O_ROOTFS:
			spec.rootfs = optarg;
			break;
		case O_IDMAP:
			ret = bld_idmap_parse(optarg);
			if (ret < 0 || ret == BLD_IDMAP_HOST)
				return bld_usage_error(self, err, "--idmap: unknown mode '%s'",
						       optarg);
			spec.idmap = (enum bld_idmap)ret;
			break;
		case O_ISOLATION:
			ret = bld_isolation_parse(optarg);
			if (ret < 0)
				return bld_usage_error(self, err, "--isolation: unknown mode '%s'",
						       optarg);
			spec.isolation = (enum bld_isolation)ret;
			break;
		case O_NET:
			if (streq(optarg, "host"))
				spec.network = BLD_NET_HOST;
			else if (streq(optarg, "none"))
				spec.network = BLD_NET_NONE;
			else if (streq(optarg, "private"))
				spec.network = BLD_NET_PRIVATE;
			else
				return bld_usage_error(self, err, "--network: unknown mode '%s'",
						       optarg);
			break;
		case O_USER:
			spec.user = optarg;
			break;
		case O_WORKDIR:
			spec.workdir = optarg;
			break;
		case O_ENV:
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return bld_usage_error(self, err, "--env: expected K=V, got '%s'",
						       optarg);
			nib_strv_push(&env, optarg);
			break;
		case O_MOUNT:
			nib_strv_push(&mspecs, optarg);
			break;
		case O_CAPADD:
			nib_strv_push(&capadd, optarg);
			break;
		case O_CAPDROP:
			nib_strv_push(&capdrop, optarg);
			break;
		case O_HOST:
			spec.hostname = optarg;
			break;
		case 'm':
		case O_PIDS:
			if (bld_limits_parse(c == 'm' ? "--memory" : "--pids-limit", optarg,
					     &spec.limits, err) < 0)
				return bld_usage_error(self, err, "%s", err->msg);
			break;
		case O_SECOPT:
		case O_ULIMIT:
		case O_SHM:
		case O_DEVICE:
			if ((c == O_SECOPT   ? bld_security_opt
			     : c == O_ULIMIT ? bld_ulimit_opt
			     : c == O_SHM    ? bld_shm_size_opt
					     : bld_device_opt)(&sec, optarg, err) < 0)
				return bld_usage_error(self, err, "%s", err->msg);
			break;
		case O_INSECURE:
			sec.insecure = true;
			break;
		case O_TIMEOUT:
			if (nib_parse_u64(optarg, &v) < 0 || v > 365 * 24 * 3600)
				return bld_usage_error(self, err,
						       "--timeout: not a number of "
						       "seconds: '%s'",
						       optarg);
			spec.timeout = (unsigned)v;
			break;
		default:
			return bld_bad_option(self, argv, err);
		}
	}
	if (!spec.rootfs)
		return bld_usage_error(self, err, "run: --rootfs DIR is required");
	if (optind >= argc)
		return bld_usage_error(self, err, "run: no command given");
	/* RUN --mount's parser, in the runtime's dialect (bind and tmpfs) */
	mounts = xcalloc(mspecs.len + 1, sizeof(*mounts));
	cms = xcalloc(mspecs.len + 1, sizeof(*cms));
	for (size_t i = 0; i < mspecs.len; i++) {
		if (cf_mount_parse(mspecs.v[i], CF_MOUNT_RUNTIME, &cms[i], err) < 0) {
			for (size_t k = 0; k < i; k++)
				cf_mount_clear(&cms[k]);
			return bld_usage_error(self, err, "--mount: %s", err->msg);
		}
		mounts[i] = (struct bld_mount){
		    .type = cms[i].type == CF_MOUNT_TMPFS ? BLD_MOUNT_TMPFS : BLD_MOUNT_BIND,
		    .src = cms[i].source,
		    .dst = cms[i].target,
		    .ro = cms[i].readonly && !cms[i].rw,
		};
	}
	spec.mounts = mounts;
	spec.n_mounts = mspecs.len;
	spec.env = env.v;
	spec.cap_add = capadd.v;
	spec.cap_drop = capdrop.v;
	spec.security = &sec;
	spec.argv = argv + optind;
	(void)g;

	ret = bld_runtime_run(&spec, &res, err);
	for (size_t i = 0; i < mspecs.len; i++)
		cf_mount_clear(&cms[i]);
	if (ret < 0) {
		bld_run_result_free(&res);
		if (err->kind == NIB_ERR_USAGE)
			return bld_usage_error(self, err, "%s", err->msg);
		return -1;
	}
	ret = res.exit_code;
	if (res.timed_out) {
		nib_err(err, NIB_ERR_RUN, 0, "%s: timed out after %u s: killed", argv[optind],
			spec.timeout);
		ret = -1;
	} else if (res.interrupted) {
		nib_err(err, NIB_ERR_RUN, 0, "%s: interrupted: killed", argv[optind]);
		ret = -1;
	} else if (res.signal) {
		_cleanup_free_ char *why = bld_run_result_why(&spec, &res);
		log_error("%s: killed by signal %d (%s)%s", argv[optind], res.signal,
			  strsignal(res.signal), why);
	}
	bld_run_result_free(&res);
	return ret;
}
