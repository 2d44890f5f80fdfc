/* SPDX-License-Identifier: MIT */
/* Warm-up, calibration, repeated timing and RESULT lines for bench/. */
#define _GNU_SOURCE
#include "harness.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WARMUP_NS 20000000ull /* one warm-up call at least this long */
#define MAX_FILTERS 16

static struct {
	unsigned runs;
	double run_ns;
	uint64_t max_iters;
	const char *filters[MAX_FILTERS];
	unsigned nfilters;
	bool failed;
	const char *prog;
} opt = { .runs = 5, .run_ns = 100e6, .max_iters = 1000000 };

static void usage(void)
{
	fprintf(stderr, "usage: %s [-r RUNS] [-t MS_PER_RUN] [-n MAX_ITERS] [NAME-SUBSTRING...]\n",
		opt.prog);
	exit(2);
}

void bench_init(int argc, char **argv, const char *prog)
{
	opt.prog = prog;
	int c;
	while ((c = getopt(argc, argv, "r:t:n:h")) != -1) {
		switch (c) {
		case 'r':
			opt.runs = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 't':
			opt.run_ns = strtod(optarg, NULL) * 1e6;
			break;
		case 'n':
			opt.max_iters = strtoull(optarg, NULL, 0);
			break;
		default:
			usage();
		}
	}
	if (opt.runs == 0 || opt.run_ns <= 0 || opt.max_iters == 0)
		usage();
	for (; optind < argc && opt.nfilters < MAX_FILTERS; optind++)
		opt.filters[opt.nfilters++] = argv[optind];
	/* Line-buffered even into a pipe (meson's log), so a crash still leaves
	 * every finished figure; nothing prints inside a timed region. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_note("%s: median of %u runs, each ~%.0f ms or at most %llu iterations, "
		   "after a >= %llu ms warm-up; CLOCK_MONOTONIC",
		   prog, opt.runs, opt.run_ns / 1e6, (unsigned long long)opt.max_iters,
		   WARMUP_NS / 1000000ull);
	/* Figures from a busy machine are not comparable: say how busy it was. */
	char load[128] = "";
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fgets(load, sizeof(load), f))
			load[strcspn(load, "\n")] = 0;
		fclose(f);
	}
	bench_note("%ld CPUs online, /proc/loadavg: %s", sysconf(_SC_NPROCESSORS_ONLN), load);
}

bool bench_selected(const char *name)
{
	if (opt.nfilters == 0)
		return true;
	for (unsigned i = 0; i < opt.nfilters; i++)
		if (strstr(name, opt.filters[i]))
			return true;
	return false;
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t deadline;

uint64_t bench_deadline(void)
{
	return deadline;
}

/* One timed call: 0 with *@iters = iterations run and *@ns, or -1. */
static int timed(bench_fn fn, void *ctx, uint64_t *iters, uint64_t *ns)
{
	uint64_t t0 = bench_now_ns();
	/* Ten times the planned run, and never under a second. */
	deadline = t0 + (opt.run_ns * 10 > 1e9 ? (uint64_t)(opt.run_ns * 10) : 1000000000ull);
	int64_t r = fn(ctx, *iters);
	uint64_t t1 = bench_now_ns();
	*ns = t1 - t0;
	if (r <= 0)
		return -1;
	*iters = (uint64_t)r;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int bench_measure(const char *name, bench_fn fn, void *ctx, struct bench_stats *st)
{
	uint64_t iters = 1, ns = 0;
	double est = 0, last = 0;
	/* Warm-up doubles as calibration: it ends with a call >= WARMUP_NS.
	 * The estimate is the fastest rate seen in calls of >= 1 ms, so one
	 * preemption (another process on a 2-core machine) cannot shrink the
	 * runs to a handful of iterations. */
	for (;;) {
		uint64_t done = iters;
		if (timed(fn, ctx, &done, &ns)) {
			bench_fail("%s: failed during warm-up", name);
			return -1;
		}
		last = (double)ns / (double)done;
		if (ns >= 1000000 && (est == 0 || last < est))
			est = last;
		if (ns >= WARMUP_NS || done < iters)
			break;
		iters *= ns < WARMUP_NS / 16 ? 8 : 2;
	}
	if (est == 0)
		est = last;
	double want = opt.run_ns / est;
	uint64_t n = want < 1 ? 1 : (uint64_t)want;
	if (n > opt.max_iters)
		n = opt.max_iters;

	double per[64];
	unsigned runs = opt.runs < 64 ? opt.runs : 64;
	uint64_t short_runs = 0;
	for (unsigned i = 0; i < runs; i++) {
		uint64_t done = n;
		if (timed(fn, ctx, &done, &ns)) {
			bench_fail("%s: failed in run %u", name, i);
			return -1;
		}
		short_runs += done < n;
		per[i] = (double)ns / (double)done;
	}
	if (short_runs)
		bench_note("  %s: %llu of %u runs cut short at the deadline: machine busy?", name,
			   (unsigned long long)short_runs, runs);
	qsort(per, runs, sizeof(per[0]), cmp_double);
	*st = (struct bench_stats){
		.median_ns = runs % 2 ? per[runs / 2] : (per[runs / 2 - 1] + per[runs / 2]) / 2,
		.min_ns = per[0],
		.max_ns = per[runs - 1],
		.iters = n,
		.runs = runs,
	};
	return 0;
}

void bench_result(const char *name, double value, const char *unit)
{
	printf("RESULT %s %.4g %s\n", name, value, unit);
}

void bench_report_time(const char *name, const struct bench_stats *st, double scale,
		       const char *unit)
{
	bench_result(name, st->median_ns * scale, unit);
	bench_note("  %s: min %.4g max %.4g %s (%u runs x %llu iterations)", name,
		   st->min_ns * scale, st->max_ns * scale, unit, st->runs,
		   (unsigned long long)st->iters);
}

void bench_report_rate(const char *name, const struct bench_stats *st, double amount,
		       const char *unit)
{
	bench_result(name, amount / st->median_ns, unit);
	bench_note("  %s: best %.4g worst %.4g %s (%u runs x %llu iterations)", name,
		   amount / st->min_ns, amount / st->max_ns, unit, st->runs,
		   (unsigned long long)st->iters);
}

void bench_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

void bench_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("# FAILED: ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	opt.failed = true;
}

int bench_finish(void)
{
	return opt.failed ? 1 : 0;
}

void bench_pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}
