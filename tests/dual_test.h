/* SPDX-License-Identifier: MIT */
/*
 * Tests that build twice: as a criterion suite, and with PLAIN_TEST as a
 * plain program running the same bodies in sequence.  criterion's runner is
 * not ThreadSanitizer-clean, so TSan builds run the plain one.  Write tests
 * with DUAL_TEST(suite, name) and DUAL_ASSERT(cond); include this header once
 * per program (in plain mode it defines main, which takes name filters).
 */
#ifndef DUAL_TEST_H
#define DUAL_TEST_H

#ifdef PLAIN_TEST
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dual_case {
	const char *name;
	void (*fn)(void);
};
static struct dual_case dual_cases[64];
static unsigned dual_ncases;

#define DUAL_TEST(s, n)                                                                    \
	static void s##_##n(void);                                                         \
	__attribute__((constructor)) static void dual_reg_##s##_##n(void)                  \
	{                                                                                  \
		dual_cases[dual_ncases++] = (struct dual_case){ #s "::" #n, s##_##n };     \
	}                                                                                  \
	static void s##_##n(void)
#define DUAL_ASSERT(c)                                                                     \
	do {                                                                               \
		if (!(c)) {                                                                \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__,         \
				__LINE__, #c);                                             \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

int main(int argc, char **argv)
{
	unsigned run = 0;
	for (unsigned i = 0; i < dual_ncases; i++) {
		bool sel = argc < 2;
		for (int a = 1; a < argc; a++)
			sel |= strstr(dual_cases[i].name, argv[a]) != NULL;
		if (!sel)
			continue;
		printf("%s\n", dual_cases[i].name);
		fflush(stdout);
		dual_cases[i].fn();
		run++;
	}
	printf("ok: %u tests\n", run);
	return 0;
}
#else
#include <criterion/criterion.h>
#define DUAL_TEST(s, n) Test(s, n, .timeout = 60)
#define DUAL_ASSERT(c) cr_assert(c, "%s", #c)
#endif

#endif /* DUAL_TEST_H */
