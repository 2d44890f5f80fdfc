/* SPDX-License-Identifier: MIT */
/*
 * The benchmark harness shared by the programs in bench/.
 *
 * Method: each figure is a function that runs @iters iterations of the thing
 * measured.  It is warmed up (doubling the iteration count until one call
 * takes at least 20 ms, which also calibrates it from the fastest rate seen),
 * then run 5 times, each run long enough to take ~100 ms but capped at 1e6
 * iterations, timed with clock_gettime(CLOCK_MONOTONIC).  The median run is
 * reported; the min and max go on a '#' comment line next to it.  The load
 * average is printed first: figures from a busy machine are not comparable.
 *
 * Output: one line per figure, "RESULT <name> <value> <unit>", so scripts can
 * grep it; everything else printed starts with '#'.
 *
 * Usage of every bench program: PROG [-r RUNS] [-t MS_PER_RUN] [-n MAX_ITERS]
 * [SUBSTRING...]; with substrings, only figures whose name contains one of
 * them run (for profiling one case).
 */
#ifndef VQ_BENCH_HARNESS_H
#define VQ_BENCH_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

/* Keep the compiler from dropping or reordering work across this point. */
#define bench_clobber() __asm__ volatile("" ::: "memory")

/* Make @p's pointee look used and possibly changed. */
static inline void bench_escape(void *p)
{
	__asm__ volatile("" : : "g"(p) : "memory");
}

static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#else
	bench_clobber();
#endif
}

/*
 * Runs @iters iterations.  Returns the number run, which is @iters unless
 * the function watches bench_deadline() and stopped early (the threaded
 * benches do: two spinning threads on a 2-core machine shared with another
 * busy process can slow down 10^5-fold), or -1 after bench_fail().
 */
typedef int64_t (*bench_fn)(void *ctx, uint64_t iters);

/* CLOCK_MONOTONIC ns by which the current call should return. */
uint64_t bench_deadline(void);

struct bench_stats {
	double median_ns; /* per iteration */
	double min_ns;
	double max_ns;
	uint64_t iters; /* per run */
	unsigned runs;
};

/* Parse the command line (see above).  Call first. */
void bench_init(int argc, char **argv, const char *prog);

/* True if the figure @name was selected on the command line (or none was). */
bool bench_selected(const char *name);

/*
 * Warm up, calibrate and time @fn.  Returns 0 with @st filled, or -1 if @fn
 * failed (the failure is remembered for bench_finish()).
 */
int bench_measure(const char *name, bench_fn fn, void *ctx, struct bench_stats *st);

/* Print "RESULT name value unit" with value = median_ns * @scale (e.g.
 * 1/32 for ns per chain of a 32-chain iteration, 1e-3/1 for µs), and the
 * min/max runs on a '#' line. */
void bench_report_time(const char *name, const struct bench_stats *st, double scale,
		       const char *unit);

/* Same for a rate: value = @amount / median_ns (e.g. bytes/ns = GB/s). */
void bench_report_rate(const char *name, const struct bench_stats *st, double amount,
		       const char *unit);

/* A bare "RESULT name value unit" line. */
void bench_result(const char *name, double value, const char *unit);

/* printf to stdout prefixed with "# ". */
void bench_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Record a failure: bench_finish() then returns 1. */
void bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Exit status for main(): 0, or 1 if anything failed. */
int bench_finish(void);

uint64_t bench_now_ns(void);

/* Pin the calling thread to @cpu if possible (ignored on failure). */
void bench_pin(int cpu);

#endif
