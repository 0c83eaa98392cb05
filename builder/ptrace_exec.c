/* SPDX-License-Identifier: Apache-2.0 */
/*
 * execve under the ptrace executor. The kernel would read a `#!` line's
 * interpreter and an ELF program's interpreter (PT_INTERP, the dynamic
 * loader) as host paths: a dynamically linked program of the rootfs would
 * be loaded by the host's ld.so with the host's libc. So nib reads them
 * first, as the kernel does (fs/binfmt_script.c, fs/binfmt_elf.c), and
 * runs the rootfs's loader directly:
 *
 *   execve("/bin/ls", ["ls", "-l"])
 *   -> execve(ROOT/lib64/ld-linux-x86-64.so.2,
 *             ["/lib64/ld-linux-x86-64.so.2", "--argv0", "ls", "/usr/bin/ls", "-l"])
 *
 * The loader opens the program and its libraries through the tracee's own
 * (translated) calls. --argv0 (glibc >= 2.33, musl) keeps argv[0]; a loader
 * without it gives the program its path as argv[0]. Static programs are run
 * directly.
 */
#define BLD_PTRACE_INTERNAL 1
#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "builder/ptrace.h"

#define BINPRM_BUF  256 /* what the kernel reads of a script's first line */
#define MAX_NESTING 4	/* interpreters of interpreters (BINPRM_MAX_RECURSION) */
#define MAX_PHDRS   128

#if defined(__x86_64__)
#define NATIVE_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define NATIVE_MACHINE EM_AARCH64
#else
#define NATIVE_MACHINE EM_NONE
#endif

void bld_ptrace_exec_free(struct bld_ptrace_exec *x)
{
	nib_strv_free(&x->strs);
}

/* ---- does a loader take --argv0? ---------------------------------------- */

static struct {
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	bool yes;
} argv0_cache[8];
static unsigned argv0_next;

static bool loader_takes_argv0(int fd, const struct stat *st)
{
	static const char opt[] = "--argv0";
	bool yes = false;
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(argv0_cache); i++)
		if (argv0_cache[i].ino == st->st_ino && argv0_cache[i].dev == st->st_dev &&
		    argv0_cache[i].mtime.tv_sec == st->st_mtim.tv_sec &&
		    argv0_cache[i].mtime.tv_nsec == st->st_mtim.tv_nsec)
			return argv0_cache[i].yes;
	/* the option's name is in the loader's strings; loaders are small */
	if (st->st_size > 0 && st->st_size < 16 * 1024 * 1024) {
		size_t len = (size_t)st->st_size;
		void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map != MAP_FAILED) {
			yes = memmem(map, len, opt, sizeof(opt)) != NULL;
			munmap(map, len);
		}
	}
	i = argv0_next++ % ARRAY_SIZE(argv0_cache);
	argv0_cache[i].dev = st->st_dev;
	argv0_cache[i].ino = st->st_ino;
	argv0_cache[i].mtime = st->st_mtim;
	argv0_cache[i].yes = yes;
	return yes;
}

/* ---- the plan ------------------------------------------------------------- */

static const char *keep(struct bld_ptrace_exec *x, const char *s, size_t n)
{
	nib_strv_push_take(&x->strs, xstrndup(s, n));
	return x->strs.v[x->strs.len - 1];
}

/* Put `n` arguments before head[skip..]. */
static int head_replace(struct bld_ptrace_exec *x, size_t skip, const struct bld_ptrace_arg *a,
			size_t n)
{
	size_t rest = x->n_head > skip ? x->n_head - skip : 0;

	if (n + rest > BLD_PTRACE_EXEC_HEAD)
		return -E2BIG;
	memmove(&x->head[n], &x->head[skip], rest * sizeof(x->head[0]));
	memcpy(x->head, a, n * sizeof(x->head[0]));
	x->n_head = n + rest;
	return 0;
}

/* The file the kernel would execute: a regular file with an execute bit. */
static int open_exec(const char *host, struct stat *st)
{
	int fd;

	if (stat(host, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode) || !(st->st_mode & 0111))
		return -EACCES;
	fd = open(host, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The interpreter and its optional argument of a `#!` line. */
static int parse_shebang(const char *buf, size_t n, const char **interp, size_t *ilen,
			 const char **arg, size_t *alen)
{
	const char *end = memchr(buf, '\n', n), *p = buf + 2;

	if (!end) {
		/* no newline in the first 256 bytes: fine when the
		 * interpreter's name ends before them (fs/binfmt_script.c) */
		end = buf + n;
	}
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*interp = p;
	while (p < end && *p != ' ' && *p != '\t' && *p != '\0')
		p++;
	*ilen = (size_t)(p - *interp);
	if (*ilen == 0 || (p == buf + n && !memchr(buf, '\n', n) && n == BINPRM_BUF))
		return -ENOEXEC;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*arg = p;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\0'))
		end--;
	*alen = (size_t)(end - p);
	if (memchr(*arg, '\0', *alen))
		*alen = strlen(*arg);
	return 0;
}

/* PT_INTERP of the ELF program `fd`: 1 with the path in `out`, 0 when it
 * has none (static) or is not a native program, -errno. */
static int elf_interp(int fd, const Elf64_Ehdr *eh, char *out, size_t size)
{
	Elf64_Phdr ph[MAX_PHDRS];
	size_t n;

	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != NATIVE_MACHINE ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum > MAX_PHDRS)
		return 0;
	n = eh->e_phnum * sizeof(Elf64_Phdr);
	if (pread(fd, ph, n, (off_t)eh->e_phoff) != (ssize_t)n)
		return -ENOEXEC;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_INTERP)
			continue;
		if (ph[i].p_filesz < 2 || ph[i].p_filesz > size)
			return -ENOEXEC;
		if (pread(fd, out, ph[i].p_filesz, (off_t)ph[i].p_offset) !=
		    (ssize_t)ph[i].p_filesz)
			return -ENOEXEC;
		if (out[ph[i].p_filesz - 1] != '\0')
			return -ENOEXEC;
		return 1;
	}
	return 0;
}

int bld_ptrace_exec_plan(const struct bld_ptrace_fs *fs, const struct bld_ptrace_who *who,
			 const char *base, const char *path, uint64_t path_ptr, uint64_t argv0,
			 struct bld_ptrace_exec *out)
{
	struct bld_ptrace_path p;
	const char *target = path;
	uint64_t target_ptr = path_ptr;
	char interp[PATH_MAX];

	memset(out, 0, sizeof(*out));
	out->head[0] =
	    argv0 ? (struct bld_ptrace_arg){.ptr = argv0} : (struct bld_ptrace_arg){.str = ""};
	out->n_head = 1;
	for (int depth = 0;; depth++) {
		_cleanup_close_ int fd = -1;
		char buf[BINPRM_BUF];
		struct stat st;
		ssize_t n;
		int r;

		if (depth > MAX_NESTING)
			return -ELOOP;
		r = bld_ptrace_resolve(fs, who, base, target, BLD_PTRACE_FOLLOW, &p);
		if (r < 0)
			return r;
		if (bld_ptrace_guest_path(fs, p.host, out->exe, sizeof(out->exe)) < 0)
			snprintf(out->exe, sizeof(out->exe), "%s", target);
		fd = open_exec(p.host, &st);
		if (fd == -EACCES && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
			/* execute-only: the kernel may run it, nib cannot read it */
			snprintf(out->host, sizeof(out->host), "%s", p.host);
			return 0;
		}
		if (fd < 0)
			return fd;
		n = pread(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		if (n >= 2 && buf[0] == '#' && buf[1] == '!') {
			const char *i, *a;
			size_t il, al;
			struct bld_ptrace_arg add[3];
			size_t k = 0;

			r = parse_shebang(buf, (size_t)n, &i, &il, &a, &al);
			if (r < 0)
				return r;
			/* fs/binfmt_script.c: argv[0] gives way to the
			 * interpreter, its argument and the script's path as
			 * execve got it */
			add[k++] = (struct bld_ptrace_arg){.str = keep(out, i, il)};
			if (al)
				add[k++] = (struct bld_ptrace_arg){.str = keep(out, a, al)};
			add[k++] =
			    target_ptr
				? (struct bld_ptrace_arg){.ptr = target_ptr}
				: (struct bld_ptrace_arg){.str = keep(out, target, strlen(target))};
			r = head_replace(out, 1, add, k);
			if (r < 0)
				return r;
			target = add[0].str;
			target_ptr = 0;
			continue;
		}
		if (n >= (ssize_t)sizeof(Elf64_Ehdr) && memcmp(buf, ELFMAG, SELFMAG) == 0) {
			struct bld_ptrace_path lp;
			struct bld_ptrace_arg add[4];
			_cleanup_close_ int lfd = -1;
			struct stat lst;
			size_t k = 0;
			Elf64_Ehdr eh;

			memcpy(&eh, buf, sizeof(eh));
			r = elf_interp(fd, &eh, interp, sizeof(interp));
			if (r < 0)
				return r;
			if (r == 0) {
				snprintf(out->host, sizeof(out->host), "%s", p.host);
				return 0;
			}
			r = bld_ptrace_resolve(fs, who, base, interp, BLD_PTRACE_FOLLOW, &lp);
			if (r < 0)
				return r == -ENOENT ? -ENOENT : r;
			lfd = open_exec(lp.host, &lst);
			if (lfd < 0)
				return lfd == -EACCES ? -ELIBBAD : lfd;
			add[k++] =
			    (struct bld_ptrace_arg){.str = keep(out, interp, strlen(interp))};
			if (loader_takes_argv0(lfd, &lst)) {
				add[k++] = (struct bld_ptrace_arg){.str = "--argv0"};
				add[k++] = out->head[0];
			}
			add[k++] =
			    (struct bld_ptrace_arg){.str = keep(out, out->exe, strlen(out->exe))};
			r = head_replace(out, 1, add, k);
			if (r < 0)
				return r;
			snprintf(out->host, sizeof(out->host), "%s", lp.host);
			out->via_loader = true;
			return 0;
		}
		/* not a format nib knows: the kernel's answer (binfmt_misc) */
		snprintf(out->host, sizeof(out->host), "%s", p.host);
		return 0;
	}
}
