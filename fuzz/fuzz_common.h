/* SPDX-License-Identifier: MIT */
/* What the fuzz targets share: invariant checks that trap, an optional
 * trace, and reading the input as a little-endian byte stream (past its end
 * every read gives 0, so any input is a complete program). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CHECK(x)                                                                 \
	do {                                                                     \
		if (!(x)) {                                                      \
			fprintf(stderr, "%s: invariant failed at line %d: %s\n", \
				__FILE__, __LINE__, #x);                         \
			__builtin_trap();                                        \
		}                                                                \
	} while (0)

/* Build with -DFUZZ_TRACE to see what an input does. */
#ifdef FUZZ_TRACE
#define TRACE(...) fprintf(stderr, __VA_ARGS__)
#else
#define TRACE(...)                                \
	do {                                      \
		if (0)                            \
			fprintf(stderr, __VA_ARGS__); \
	} while (0)
#endif

struct in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}
static inline uint16_t u16(struct in *in)
{
	uint16_t lo = u8(in);
	uint16_t hi = u8(in);
	return (uint16_t)(lo | hi << 8);
}
static inline uint32_t u32(struct in *in)
{
	uint32_t lo = u16(in);
	uint32_t hi = u16(in);
	return lo | hi << 16;
}
static inline uint64_t u64(struct in *in)
{
	uint64_t lo = u32(in);
	uint64_t hi = u32(in);
	return lo | hi << 32;
}

#endif /* FUZZ_COMMON_H */
