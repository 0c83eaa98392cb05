/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tracer: one process (forked by nib for each run, so that waiting
 * for "any child" sees only the run's processes) that seizes the command
 * with every descendant auto-attached, and answers each stop:
 *
 *   seccomp stop     a call of the filter's list: ptrace_sys.c
 *   fork/vfork/clone the new process inherits what its parent had; its
 *                    first stop is held until its parent's event says
 *                    whether it shares its parent's memory
 *   exec             a new program: no scratch memory yet, a new exe
 *   group stop       PTRACE_LISTEN (it stays stopped, SIGCONT resumes it)
 *   signal           delivered as it was
 *
 * Scratch memory: the first call of a thread that needs to write a path
 * into its memory is turned into mmap(1 MiB) and then run again (the
 * instruction pointer back over the system call instruction). A thread
 * that ends gives its memory to the next new thread of its process.
 *
 * When the command ends, every process left is killed (PTRACE_O_EXITKILL
 * does the same if nib itself is killed) and reaped: the tracer is a child
 * subreaper, so orphans come back to it.
 */
#define BLD_PTRACE_INTERNAL 1
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "builder/ptrace.h"

/* ---- the process table -------------------------------------------------- */

static size_t hash(pid_t tid, size_t cap)
{
	return ((uint32_t)tid * 2654435761u) & (cap - 1);
}

static struct bld_ptrace_tracee *find(struct bld_ptrace_tracer *tr, pid_t tid)
{
	if (!tr->cap)
		return NULL;
	for (size_t i = hash(tid, tr->cap);; i = (i + 1) & (tr->cap - 1)) {
		struct bld_ptrace_tracee *t = tr->slots[i];
		if (!t || t->tid == tid)
			return t;
	}
}

static void put(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t)
{
	size_t i = hash(t->tid, tr->cap);
	while (tr->slots[i])
		i = (i + 1) & (tr->cap - 1);
	tr->slots[i] = t;
}

static struct bld_ptrace_tracee *add(struct bld_ptrace_tracer *tr, pid_t tid)
{
	struct bld_ptrace_tracee *t;

	if ((tr->count + 1) * 2 > tr->cap) {
		struct bld_ptrace_tracee **old = tr->slots;
		size_t cap = tr->cap;
		tr->cap = cap ? cap * 2 : 64;
		tr->slots = xcalloc(tr->cap, sizeof(*tr->slots));
		for (size_t i = 0; i < cap; i++)
			if (old[i])
				put(tr, old[i]);
		free(old);
	}
	t = xcalloc(1, sizeof(*t));
	t->tid = t->tgid = tid;
	put(tr, t);
	tr->count++;
	return t;
}

static void del(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t)
{
	size_t i = hash(t->tid, tr->cap);

	while (tr->slots[i] != t)
		i = (i + 1) & (tr->cap - 1);
	tr->slots[i] = NULL;
	tr->count--;
	/* put back the rest of the cluster, so lookups do not stop early */
	for (size_t j = (i + 1) & (tr->cap - 1); tr->slots[j]; j = (j + 1) & (tr->cap - 1)) {
		struct bld_ptrace_tracee *x = tr->slots[j];
		tr->slots[j] = NULL;
		put(tr, x);
	}
	bld_ptrace_slots_forget(t);
	free(t->exe);
	free(t->exe_next);
	free(t);
}

const char *bld_ptrace_exe_of(void *tracer, pid_t pid)
{
	struct bld_ptrace_tracee *t = find(tracer, pid);
	return t ? t->exe : NULL;
}

void bld_ptrace_tracer_free(struct bld_ptrace_tracer *tr)
{
	for (size_t i = 0; i < tr->cap; i++)
		if (tr->slots[i]) {
			bld_ptrace_slots_forget(tr->slots[i]);
			free(tr->slots[i]->exe);
			free(tr->slots[i]->exe_next);
			free(tr->slots[i]);
		}
	free(tr->slots);
	free(tr->spare);
	bld_ptrace_cache_free(tr);
	nib_strv_free(&tr->loaders);
	tr->slots = NULL;
	tr->spare = NULL;
	tr->cap = tr->count = tr->n_spare = tr->cap_spare = 0;
}

/* ---- scratch memory of threads gone --------------------------------------- */

static void spare_put(struct bld_ptrace_tracer *tr, pid_t tgid, uint64_t addr)
{
	tr->spare = xgrow(tr->spare, &tr->cap_spare, tr->n_spare + 1, sizeof(*tr->spare));
	tr->spare[tr->n_spare].tgid = tgid;
	tr->spare[tr->n_spare].addr = addr;
	tr->n_spare++;
}

static uint64_t spare_take(struct bld_ptrace_tracer *tr, pid_t tgid)
{
	for (size_t i = 0; i < tr->n_spare; i++)
		if (tr->spare[i].tgid == tgid) {
			uint64_t a = tr->spare[i].addr;
			tr->spare[i] = tr->spare[--tr->n_spare];
			return a;
		}
	return 0;
}

static void spare_drop(struct bld_ptrace_tracer *tr, pid_t tgid)
{
	for (size_t i = 0; i < tr->n_spare;)
		if (tr->spare[i].tgid == tgid)
			tr->spare[i] = tr->spare[--tr->n_spare];
		else
			i++;
}

/* ---- events ------------------------------------------------------------- */

static void resume(pid_t tid, int sig)
{
	ptrace(PTRACE_CONT, tid, NULL, (void *)(long)sig);
}

static void reset_memory(struct bld_ptrace_tracee *t)
{
	bld_ptrace_slots_forget(t);
	t->scratch = 0;
	t->scratch_own = false;
	t->next_slot = 0;
	memset(t->orig, 0, sizeof(t->orig));
}

/* The parent's fork, vfork or clone event for `child`. */
static void adopt(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *parent,
		  struct bld_ptrace_tracee *child, int event)
{
	unsigned long flags = 0;

	if (event == PTRACE_EVENT_CLONE) {
		struct bld_ptrace_regs r;
		/* clone(flags, ...): clone3 is refused by the filter */
		if (bld_ptrace_regs_get(parent->tid, &r) == 0)
			flags = (unsigned long)bld_ptrace_reg_arg(&r, 0);
	}
	child->tgid =
	    event == PTRACE_EVENT_CLONE && (flags & CLONE_THREAD) ? parent->tgid : child->tid;
	free(child->exe);
	child->exe = parent->exe ? xstrdup(parent->exe) : NULL;
	reset_memory(child);
	if (event == PTRACE_EVENT_VFORK) {
		/* the same memory, and the parent waits meanwhile: its slots
		 * are free to use (what they hold will change) */
		child->scratch = parent->scratch;
		bld_ptrace_slots_forget(parent);
	} else if (event == PTRACE_EVENT_FORK || !(flags & CLONE_VM)) {
		/* a copy of the parent's memory, scratch included */
		child->scratch = parent->scratch;
		child->scratch_own = true;
	}
	/* a copy of its credentials and of its memory's dumpable flag */
	child->ids_known = parent->ids_known;
	child->uid = parent->uid;
	child->gid = parent->gid;
	child->redump = parent->redump;
	child->seen_event = true;
	if (child->state == BLD_PT_HELD) {
		child->state = BLD_PT_RUNNING;
		resume(child->tid, 0);
	} else {
		child->state = BLD_PT_NEW;
	}
}

/* Read Tgid and PPid of `tid`: 0, or -1 when it is gone. */
static int proc_ids(pid_t tid, pid_t *tgid, pid_t *ppid)
{
	char path[64];
	_cleanup_free_ char *st = NULL;
	const char *a, *b;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (nib_read_file_at(AT_FDCWD, path, 1 << 16, &st, NULL, NULL) < 0)
		return -1;
	a = strstr(st, "\nTgid:");
	b = strstr(st, "\nPPid:");
	if (!a || !b)
		return -1;
	*tgid = (pid_t)atoi(a + 6);
	*ppid = (pid_t)atoi(b + 6);
	return 0;
}

/* A held process whose creator died before reporting it: let it go with
 * what it has (nothing inherited). */
static void release_orphans(struct bld_ptrace_tracer *tr)
{
	for (size_t i = 0; i < tr->cap; i++) {
		struct bld_ptrace_tracee *t = tr->slots[i];
		pid_t tgid, ppid;
		bool alive = false;

		if (!t || t->state != BLD_PT_HELD || proc_ids(t->tid, &tgid, &ppid) < 0)
			continue;
		for (size_t j = 0; j < tr->cap && !alive; j++) {
			struct bld_ptrace_tracee *u = tr->slots[j];
			if (!u || u == t || u->state == BLD_PT_HELD)
				continue;
			alive = (tgid != t->tid && u->tgid == tgid) || u->tgid == ppid;
		}
		if (!alive) {
			t->tgid = tgid;
			t->state = BLD_PT_RUNNING;
			resume(t->tid, 0);
		}
	}
}

static void gone(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t)
{
	pid_t tgid = t->tgid;
	bool group_left = false, held = false;

	bld_ptrace_settle(tr, t);
	if (t->scratch && t->scratch_own && t->tgid != t->tid)
		spare_put(tr, tgid, t->scratch);
	del(tr, t);
	for (size_t i = 0; i < tr->cap; i++) {
		struct bld_ptrace_tracee *u = tr->slots[i];
		if (!u)
			continue;
		group_left |= u->tgid == tgid;
		held |= u->state == BLD_PT_HELD;
	}
	if (!group_left)
		spare_drop(tr, tgid);
	if (held)
		release_orphans(tr);
}

static void exec_done(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t)
{
	unsigned long former = (unsigned long)t->tid;
	struct bld_ptrace_tracee *old = NULL;
	char *next;

	/* a thread that execs takes the thread group leader's ID */
	if (ptrace(PTRACE_GETEVENTMSG, t->tid, NULL, &former) == 0 && (pid_t)former != t->tid)
		old = find(tr, (pid_t)former);
	next = old ? steal_pointer(&old->exe_next) : steal_pointer(&t->exe_next);
	if (old)
		del(tr, old);
	if (next) {
		free(t->exe);
		t->exe = next;
	}
	t->tgid = t->tid;
	reset_memory(t);
	spare_drop(tr, t->tid);
}

/* Run call `nr` (arguments `a`) in place of the one `t` stopped in
 * (registers `regs`), then that one again (inject_done). */
static void inject(struct bld_ptrace_tracee *t, struct bld_ptrace_regs *regs,
		   enum bld_ptrace_inject what, long nr, const uint64_t a[6])
{
	struct bld_ptrace_regs m;

	t->saved = *regs;
	m = *regs;
	bld_ptrace_reg_set_nr(&m, nr);
	for (unsigned i = 0; i < 6; i++)
		bld_ptrace_reg_set_arg(&m, i, a[i]);
	if (bld_ptrace_regs_set(t->tid, &m) < 0) {
		resume(t->tid, 0);
		return;
	}
	t->state = BLD_PT_INJECTING;
	t->injecting = what;
	ptrace(PTRACE_SYSCALL, t->tid, NULL, NULL);
}

/* The first call of `t` that needs its scratch memory: the memory of a
 * thread gone, else a new mapping. */
static void scratch_start(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t,
			  struct bld_ptrace_regs *regs)
{
	const uint64_t mm[6] = {0,
				BLD_PTRACE_SCRATCH,
				PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				(uint64_t)-1,
				0};
	uint64_t addr = spare_take(tr, t->tgid);

	if (addr) {
		bld_ptrace_slots_forget(t);
		t->scratch = addr;
		t->scratch_own = true;
		switch (bld_ptrace_syscall(tr, t, regs)) {
		case BLD_PT_NEED_SCRATCH:
			/* cannot happen with scratch memory: fail the call */
			bld_ptrace_reg_set_nr(regs, -1);
			bld_ptrace_reg_set_ret(regs, -ENOMEM);
			bld_ptrace_regs_set(t->tid, regs);
			break;
		case BLD_PT_WANT_EXIT:
			ptrace(PTRACE_SYSCALL, t->tid, NULL, NULL);
			return;
		}
		resume(t->tid, 0);
		return;
	}
	inject(t, regs, BLD_PT_INJECT_SCRATCH, SYS_mmap, mm);
}

static void inject_done(struct bld_ptrace_tracee *t)
{
	struct bld_ptrace_regs now, r = t->saved;
	int64_t ret;

	t->state = BLD_PT_RUNNING;
	if (bld_ptrace_regs_get(t->tid, &now) < 0)
		return;
	ret = bld_ptrace_reg_ret(&now);
	if (t->injecting == BLD_PT_INJECT_DUMPABLE) {
		/* the call runs again whatever the answer: nib's reads of it
		 * fail as they would have */
		bld_ptrace_reg_rewind(&r, r.nr);
	} else if (ret < 0 && ret > -4096) {
		/* the call that needed it fails as if it had no memory */
		bld_ptrace_reg_set_ret(&r, ret);
	} else {
		bld_ptrace_slots_forget(t);
		t->scratch = (uint64_t)ret;
		t->scratch_own = true;
		bld_ptrace_reg_rewind(&r, r.nr);
	}
	r.nr_dirty = false;
	bld_ptrace_regs_set(t->tid, &r);
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static void on_stop(struct bld_ptrace_tracer *tr, struct bld_ptrace_tracee *t, int status)
{
	int sig = WSTOPSIG(status), event = (unsigned)status >> 16;
	struct bld_ptrace_regs regs;
	unsigned long msg = 0;

	bld_ptrace_settle(tr, t);
	switch (event) {
	case PTRACE_EVENT_SECCOMP:
		if (bld_ptrace_regs_get(t->tid, &regs) < 0) {
			resume(t->tid, 0);
			return;
		}
		if (t->redump) {
			/* IDs changed since its last stop: dumpable again */
			const uint64_t a[6] = {PR_SET_DUMPABLE, 1};
			t->redump = false;
			inject(t, &regs, BLD_PT_INJECT_DUMPABLE, SYS_prctl, a);
			return;
		}
		switch (bld_ptrace_syscall(tr, t, &regs)) {
		case BLD_PT_NEED_SCRATCH:
			scratch_start(tr, t, &regs);
			break;
		case BLD_PT_WANT_EXIT:
			ptrace(PTRACE_SYSCALL, t->tid, NULL, NULL);
			break;
		default:
			resume(t->tid, 0);
		}
		return;
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_CLONE:
		if (ptrace(PTRACE_GETEVENTMSG, t->tid, NULL, &msg) == 0 && msg) {
			struct bld_ptrace_tracee *c = find(tr, (pid_t)msg);
			if (!c)
				c = add(tr, (pid_t)msg);
			adopt(tr, t, c, event);
		}
		resume(t->tid, 0);
		return;
	case PTRACE_EVENT_EXEC:
		exec_done(tr, t);
		resume(t->tid, 0);
		return;
	case PTRACE_EVENT_STOP:
		if (t->state == BLD_PT_NEW) {
			t->state = BLD_PT_RUNNING; /* its first stop */
			resume(t->tid, 0);
		} else if (is_stop_signal(sig)) {
			ptrace(PTRACE_LISTEN, t->tid, NULL, NULL);
		} else {
			resume(t->tid, 0);
		}
		return;
	case 0:
		if (sig == (SIGTRAP | 0x80)) {
			if (t->state == BLD_PT_INJECTING)
				inject_done(t);
			else if (t->exit_restore)
				bld_ptrace_syscall_exit(tr, t);
			resume(t->tid, 0);
			return;
		}
		resume(t->tid, sig);
		return;
	default:
		resume(t->tid, 0);
	}
}

static void kill_all(struct bld_ptrace_tracer *tr)
{
	for (size_t i = 0; i < tr->cap; i++)
		if (tr->slots[i])
			kill(tr->slots[i]->tid, SIGKILL);
}

int bld_ptrace_trace(struct bld_ptrace_tracer *tr, pid_t pid, int release_fd, int *status)
{
	const long opts = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
			  PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL |
			  PTRACE_O_TRACESYSGOOD;
	bool ended = false;
	char go = 'G';

	*status = 0;
	if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)opts) < 0) {
		int e = errno;
		close(release_fd);
		return -e;
	}
	add(tr, pid);
	tr->main_pid = pid;
	if (write(release_fd, &go, 1) != 1) {
		close(release_fd);
		kill(pid, SIGKILL);
	}
	close(release_fd);
	for (;;) {
		struct bld_ptrace_tracee *t;
		int st;
		pid_t tid = waitpid(-1, &st, __WALL);

		if (tid < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: nothing left */
		}
		t = find(tr, tid);
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (tid == pid && !ended) {
				*status = st;
				ended = true;
				kill_all(tr);
			}
			if (t)
				gone(tr, t);
			continue;
		}
		if (!WIFSTOPPED(st))
			continue;
		if (ended) {
			/* a process made while the others were being killed */
			kill(tid, SIGKILL);
			if (!t)
				add(tr, tid);
			continue;
		}
		if (!t) {
			/* a new process whose parent's event is still to come */
			t = add(tr, tid);
			t->state = BLD_PT_HELD;
			continue;
		}
		on_stop(tr, t, st);
	}
	return 0;
}
