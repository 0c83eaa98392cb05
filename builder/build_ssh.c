/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --ssh: the SSH agents RUN --mount=type=ssh forwards into a step, as
 * buildah and BuildKit take them:
 *   default | ID            $SSH_AUTH_SOCK
 *   ID=SOCKET               that agent's socket
 *   ID=KEY[,KEY...]         key files, loaded into an ssh-agent (Debian's
 *                           openssh-client) that nib starts for the build on
 *                           a socket in a private folder and stops at its
 *                           end: the keys live in the agent's memory, never
 *                           in a layer, a file nib writes or the cache key
 * A missing agent, a path that is neither a socket nor a file, a key the
 * agent does not take (one with a passphrase) end the build before its
 * first step.
 */
#define BLD_BUILD_INTERNAL
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "builder/build_internal.h"

struct bld_ssh_agent {
	const char *id;
	char *sock; /* the socket bound into a step */
	char *dir;  /* a started agent's private folder, removed at the end */
	pid_t pid;  /* a started agent, stopped at the end */
};

/* Start `argv` with stdin and stdout on /dev/null, stderr too unless
 * `keep_stderr`, `env` added to nib's environment; with `pdeath` it is
 * killed when nib ends, however it ends. */
static pid_t spawn(char *const *argv, const char *env, bool pdeath, struct nib_error *err)
{
	pid_t parent = getpid(), pid = fork();

	if (pid < 0) {
		nib_err(err, NIB_ERR_ENV, errno, "fork");
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (pdeath && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
			_exit(127);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(127);
		if (env)
			putenv((char *)env);
		/* ssh-add: no passphrase prompt, on a terminal or through askpass */
		unsetenv("DISPLAY");
		setenv("SSH_ASKPASS_REQUIRE", "never", 1);
		setsid();
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static bool listening(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	return fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

/* An ssh-agent of the build holding the keys `keys`. */
static int agent_start(struct bld_ssh_agent *a, const struct nib_strv *keys, struct nib_error *err)
{
	const char *tmp = getenv("TMPDIR");
	_cleanup_free_ char *env = NULL;

	/* a socket's path has at most 107 bytes */
	if (!tmp || !*tmp || strlen(tmp) > 64)
		tmp = "/tmp";
	a->dir = xasprintf("%s/nib-ssh.XXXXXX", tmp);
	if (!mkdtemp(a->dir)) {
		nib_err(err, NIB_ERR_IO, errno, "--ssh %s: mkdir %s", a->id, a->dir);
		free(steal_pointer(&a->dir));
		return -1;
	}
	a->sock = xasprintf("%s/agent", a->dir);
	char *const agent[] = {"ssh-agent", "-D", "-a", a->sock, NULL};
	a->pid = spawn(agent, NULL, true, err);
	if (a->pid < 0)
		return -1;
	/* the agent is ready once its socket takes a connection */
	for (int i = 0; !listening(a->sock); i++) {
		int status;
		if (waitpid(a->pid, &status, WNOHANG) == a->pid || i == 1000) {
			if (i == 1000)
				kill(a->pid, SIGKILL);
			waitpid(a->pid, NULL, 0);
			a->pid = 0;
			return nib_err(err, NIB_ERR_ENV, 0,
				       "--ssh %s: ssh-agent did not start (keys need Debian's "
				       "openssh-client)",
				       a->id);
		}
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	env = xasprintf("SSH_AUTH_SOCK=%s", a->sock);
	for (size_t i = 0; i < keys->len; i++) {
		char *const add[] = {"ssh-add", "-q", keys->v[i], NULL};
		pid_t pid = spawn(add, env, false, err);
		if (pid < 0)
			return -1;
		int rc = wait_status(pid);
		if (rc != 0)
			return nib_err(
			    err, NIB_ERR_USAGE, 0, "--ssh %s: %s: %s", a->id, keys->v[i],
			    rc == 127 ? "ssh-add is not installed (Debian's openssh-client)"
			    : rc == 2 ? "ssh-add cannot reach nib's ssh-agent"
				      : "not a private key ssh-add takes without a passphrase");
	}
	return 0;
}

static int agent_open(struct bld_ssh_agent *a, const struct bld_ssh *o, struct nib_error *err)
{
	struct stat st;

	a->id = o->id;
	if (!o->paths.len) {
		const char *s = getenv("SSH_AUTH_SOCK");
		if (!s || !*s)
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "--ssh %s: SSH_AUTH_SOCK is not set (no agent to forward)",
				       o->id);
		if (stat(s, &st) < 0 || !S_ISSOCK(st.st_mode))
			return nib_err(err, NIB_ERR_NOT_FOUND, errno ? errno : ENOTSOCK,
				       "--ssh %s: SSH_AUTH_SOCK %s is no socket", o->id, s);
		a->sock = xstrdup(s);
		return 0;
	}
	for (size_t i = 0; i < o->paths.len; i++) {
		errno = 0;
		if (stat(o->paths.v[i], &st) < 0)
			return nib_err(err, NIB_ERR_NOT_FOUND, errno, "--ssh %s: %s", o->id,
				       o->paths.v[i]);
		if (S_ISSOCK(st.st_mode) && o->paths.len == 1) {
			a->sock = xstrdup(o->paths.v[0]);
			return 0;
		}
		if (!S_ISREG(st.st_mode))
			return nib_err(err, NIB_ERR_USAGE, 0,
				       "--ssh %s: %s is neither an agent's socket nor a key file%s",
				       o->id, o->paths.v[i],
				       S_ISSOCK(st.st_mode) ? " (a socket must be alone)" : "");
	}
	return agent_start(a, &o->paths, err);
}

int bld_ssh_open(struct bld_build *b, struct nib_error *err)
{
	const struct bld_build_opts *o = b->o;

	b->ssh = xcalloc(o->n_ssh + 1, sizeof(*b->ssh));
	for (size_t i = 0; i < o->n_ssh; i++) {
		b->n_ssh++;
		if (agent_open(&b->ssh[i], &o->ssh[i], err) < 0)
			return -1;
	}
	return 0;
}

const struct bld_ssh *bld_ssh_find(const struct bld_build_opts *o, const char *id)
{
	for (size_t i = 0; i < o->n_ssh; i++)
		if (streq(o->ssh[i].id, id))
			return &o->ssh[i];
	return NULL;
}

const char *bld_ssh_socket(const struct bld_build *b, const char *id)
{
	/* a later --ssh of the same id wins */
	for (size_t i = b->n_ssh; i-- > 0;)
		if (streq(b->ssh[i].id, id))
			return b->ssh[i].sock;
	return NULL;
}

void bld_ssh_close(struct bld_build *b)
{
	for (size_t i = 0; i < b->n_ssh; i++) {
		struct bld_ssh_agent *a = &b->ssh[i];
		if (a->pid > 0) {
			kill(a->pid, SIGTERM);
			wait_status(a->pid);
		}
		if (a->dir)
			nib_rm_rf_at(AT_FDCWD, a->dir, NULL);
		free(a->dir);
		free(a->sock);
	}
	free(b->ssh);
	b->ssh = NULL;
	b->n_ssh = 0;
}
