/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A very small unit-test harness. Each test binary ends with the line
 * "N passed, N failed, N skipped" that tests/run.sh adds up.
 *
 *	static void test_x(void) { CHECK(1 + 1 == 2); CHECK_STREQ(a, b); }
 *	int main(void) { RUN(test_x); return unit_done(); }
 */
#ifndef NIB_TESTS_UNIT_H
#define NIB_TESTS_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed, unit_skipped;
static int unit_cur_failed;
static const char *unit_cur_name;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("  %s:%d: %s: check failed: %s\n", __FILE__, __LINE__,              \
			       unit_cur_name, #cond);                                              \
			unit_cur_failed++;                                                         \
		}                                                                                  \
	} while (0)

#define CHECK_STREQ(a, b)                                                                          \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
			printf("  %s:%d: %s: \"%s\" != \"%s\"\n", __FILE__, __LINE__,              \
			       unit_cur_name, _a ? _a : "(null)", _b ? _b : "(null)");             \
			unit_cur_failed++;                                                         \
		}                                                                                  \
	} while (0)

#define CHECK_INTEQ(a, b)                                                                          \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b) {                                                                    \
			printf("  %s:%d: %s: %s == %lld, expected %lld\n", __FILE__, __LINE__,     \
			       unit_cur_name, #a, _a, _b);                                         \
			unit_cur_failed++;                                                         \
		}                                                                                  \
	} while (0)

/* Mark the running test skipped, with a reason, and return from it. */
#define SKIP(reason)                                                                               \
	do {                                                                                       \
		printf("SKIP %s: %s\n", unit_cur_name, reason);                                    \
		unit_cur_failed = -1;                                                              \
		return;                                                                            \
	} while (0)

static inline void unit_run(const char *name, void (*fn)(void))
{
	unit_cur_name = name;
	unit_cur_failed = 0;
	fn();
	if (unit_cur_failed < 0) {
		unit_skipped++;
	} else if (unit_cur_failed > 0) {
		printf("FAIL %s\n", name);
		unit_failed++;
	} else {
		printf("PASS %s\n", name);
		unit_passed++;
	}
	fflush(stdout);
}

#define RUN(fn) unit_run(#fn, fn)

/* Count one table row as its own test (for table-driven suites). */
static inline void unit_row(const char *name, int ok, const char *why)
{
	if (ok) {
		printf("PASS %s\n", name);
		unit_passed++;
	} else {
		printf("FAIL %s%s%s\n", name, why ? ": " : "", why ? why : "");
		unit_failed++;
	}
}

static inline int unit_done(void)
{
	printf("%d passed, %d failed, %d skipped\n", unit_passed, unit_failed, unit_skipped);
	return unit_failed ? 1 : 0;
}

#endif
