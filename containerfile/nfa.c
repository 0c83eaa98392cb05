/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerfile: a Pike VM (Thompson NFA with thread priorities) for the two
 * pattern languages the module needs: ${v#p}/${v/p/r} shell patterns, which
 * Docker turns into Go regular expressions, and ignore-file patterns, which
 * moby/patternmatcher turns into Go regular expressions too. Leftmost-first
 * priorities give the same match Go's regexp package picks, in time
 * proportional to input length times program size (no backtracking blowup).
 */
#define NIB_CONTAINERFILE_INTERNAL
#include "containerfile/cf_internal.h"

size_t cf_nfa_emit(struct cf_nfa *p, enum cf_op op, uint32_t c, size_t x, size_t y)
{
	p->v = xgrow(p->v, &p->cap, p->len + 1, sizeof(*p->v));
	p->v[p->len] = (struct cf_inst){.op = op, .c = c, .x = x, .y = y};
	return p->len++;
}

void cf_nfa_free(struct cf_nfa *p)
{
	free(p->v);
	free(p->ranges);
	*p = (struct cf_nfa){0};
}

void cf_runes_init(struct cf_runes *rs, const char *s)
{
	size_t len = strlen(s), i = 0, w;

	rs->r = xmalloc((len + 1) * sizeof(*rs->r));
	rs->offs = xmalloc((len + 1) * sizeof(*rs->offs));
	rs->n = 0;
	while (i < len) {
		rs->offs[rs->n] = i;
		rs->r[rs->n++] = nib_utf8_decode(s + i, len - i, &w);
		i += w;
	}
	rs->offs[rs->n] = len;
}

void cf_runes_free(struct cf_runes *rs)
{
	free(rs->r);
	free(rs->offs);
	*rs = (struct cf_runes){0};
}

struct thread {
	size_t pc;
	size_t start;
};

struct tlist {
	struct thread *t;
	size_t n;
};

/* Add pc and everything reachable through SPLIT/JMP, in priority order. */
static void addthread(const struct cf_nfa *p, struct tlist *l, size_t *mark, size_t gen,
		      size_t *stack, size_t pc0, size_t start)
{
	size_t sp = 0;

	stack[sp++] = pc0;
	while (sp > 0) {
		size_t pc = stack[--sp];
		if (mark[pc] == gen)
			continue;
		mark[pc] = gen;
		switch (p->v[pc].op) {
		case CF_OP_JMP:
			stack[sp++] = p->v[pc].x;
			break;
		case CF_OP_SPLIT:
			stack[sp++] = p->v[pc].y;
			stack[sp++] = p->v[pc].x;
			break;
		default:
			l->t[l->n++] = (struct thread){pc, start};
		}
	}
}

static bool class_has(const struct cf_nfa *p, const struct cf_inst *in, uint32_t r)
{
	for (size_t i = 0; i < in->y; i++) {
		uint32_t lo = p->ranges[2 * (in->x + i)], hi = p->ranges[2 * (in->x + i) + 1];
		if (lo <= r && r <= hi)
			return true;
	}
	return false;
}

static bool step_ok(const struct cf_nfa *p, const struct cf_inst *in, uint32_t r)
{
	switch (in->op) {
	case CF_OP_CHAR:
		return r == in->c;
	case CF_OP_ANY:
		return r != '\n';
	case CF_OP_NOTSLASH:
		return r != '/';
	case CF_OP_CLASS:
		return class_has(p, in, r);
	case CF_OP_CLASS_NEG:
		return !class_has(p, in, r);
	default:
		return false;
	}
}

bool cf_nfa_find(const struct cf_nfa *p, const struct cf_runes *in, size_t start, bool anchored,
		 bool full, size_t *ms, size_t *me)
{
	size_t n = p->len, gen = 1;
	size_t *mark = xcalloc(n ? n : 1, sizeof(size_t));
	/* every pc can sit on the stack once per SPLIT arm */
	size_t *stack = xmalloc((2 * n + 2) * sizeof(size_t));
	struct tlist cl = {xmalloc((n + 1) * sizeof(struct thread)), 0};
	struct tlist nl = {xmalloc((n + 1) * sizeof(struct thread)), 0};
	bool matched = false;

	if (n == 0)
		goto out;
	for (size_t i = start; i <= in->n; i++) {
		/* a new, lowest-priority thread starting here; `gen` is the
		 * generation the current list was built with */
		if (!matched && (!anchored || i == start))
			addthread(p, &cl, mark, gen, stack, 0, i);
		if (cl.n == 0)
			break;
		nl.n = 0;
		gen++;
		for (size_t k = 0; k < cl.n; k++) {
			const struct cf_inst *ins = &p->v[cl.t[k].pc];
			if (ins->op == CF_OP_MATCH) {
				if (full && i != in->n)
					continue;
				matched = true;
				*ms = cl.t[k].start;
				*me = i;
				break; /* lower-priority threads are cut */
			}
			if (i < in->n && step_ok(p, ins, in->r[i]))
				addthread(p, &nl, mark, gen, stack, cl.t[k].pc + 1, cl.t[k].start);
		}
		struct tlist tmp = cl;
		cl = nl;
		nl = tmp;
	}
out:
	free(mark);
	free(stack);
	free(cl.t);
	free(nl.t);
	return matched;
}
