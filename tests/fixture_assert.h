/* SPDX-License-Identifier: MIT */
/*
 * fixture_assert — the assertions the shared test fixtures (media_fixture,
 * decoder_fixture) make, for fixtures that serve both kinds of test program
 * of dual_test.h.  In a criterion suite they are criterion's own cr_assert*
 * macros.  Built with PLAIN_TEST (a plain program, no criterion linked:
 * criterion's runner is not ThreadSanitizer-clean) the same names print
 * file:line, the condition and the message, and exit(1), as DUAL_ASSERT
 * does.  Only the macros the fixtures use are provided.
 */
#ifndef FIXTURE_ASSERT_H
#define FIXTURE_ASSERT_H

#ifndef PLAIN_TEST
#include <criterion/criterion.h>
#else
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noreturn)) static inline void
fixture_assert_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: assertion failed: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Every macro appends "" as the format: a message-less use then has one,
 * and after a real format it is an unused argument. */
#define FIXTURE_CHECK_(c, s, ...)                                                          \
	do {                                                                               \
		if (!(c))                                                                  \
			fixture_assert_fail(__FILE__, __LINE__, s, __VA_ARGS__);           \
	} while (0)
#define FIXTURE_CMP_(op, a, b, ...) FIXTURE_CHECK_((a)op(b), #a " " #op " " #b, __VA_ARGS__)
#define FIXTURE_1_(c, ...) FIXTURE_CHECK_((c), #c, __VA_ARGS__)
#define FIXTURE_NN_(p, ...) FIXTURE_CHECK_((p) != NULL, #p " != NULL", __VA_ARGS__)
#define FIXTURE_STR_(a, b, ...) FIXTURE_CHECK_(strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)

#define cr_assert(...) FIXTURE_1_(__VA_ARGS__, "")
#define cr_assert_eq(...) FIXTURE_CMP_(==, __VA_ARGS__, "")
#define cr_assert_lt(...) FIXTURE_CMP_(<, __VA_ARGS__, "")
#define cr_assert_leq(...) FIXTURE_CMP_(<=, __VA_ARGS__, "")
#define cr_assert_gt(...) FIXTURE_CMP_(>, __VA_ARGS__, "")
#define cr_assert_geq(...) FIXTURE_CMP_(>=, __VA_ARGS__, "")
#define cr_assert_not_null(...) FIXTURE_NN_(__VA_ARGS__, "")
#define cr_assert_str_eq(...) FIXTURE_STR_(__VA_ARGS__, "")
#endif

#endif /* FIXTURE_ASSERT_H */
