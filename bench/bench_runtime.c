/* SPDX-License-Identifier: MIT */
/*
 * runtime/: a virtio-media device on a vmedia_runtime thread, driven from
 * this thread over real eventfds, against its baseline measured in the same
 * run.
 *  - eventfd_pingpong_raw: two threads, two eventfds, write(2) then blocking
 *    read(2) on each side — the cheapest cross-thread round trip.
 *  - runtime_qd1: one G_FMT at a time: publish, kick (write(2) to the kick
 *    eventfd), the loop thread's watch fires, the runner decodes it and calls
 *    the echo device, pushes and flushes, the notify write(2)s the call
 *    eventfd, and this thread's blocking read(2) returns.  Per command.
 *    runtime_qd1_vs_raw is the ratio (target <= 1.3).
 *  - runtime_qd64: 64 commands in flight on one session; the driver refills
 *    as used entries come back.  Commands per second (target >= 1 M/s).
 * The loop thread is pinned to CPU 1 by a function posted to it, this one to
 * CPU 0, as in bench_loop.
 */
#include <stdio.h>

#include "harness.h"
#include "runtime_echo.h"

struct ctx {
	struct echo_pair p;
};

static void pin_loop_thread(void *opaque)
{
	(void)opaque;
	bench_pin(1);
}

static struct ctx *ctx_new(uint32_t flush_every)
{
	struct ctx *c = malloc(sizeof(*c));
	if (!c)
		return NULL;
	int r = echo_pair_init_ex(&c->p, 0, flush_every);
	if (r == 0)
		r = vmedia_runtime_post(&c->p.rt, pin_loop_thread, NULL);
	if (r == 0)
		r = vmedia_runtime_start(&c->p.rt);
	if (r == 0)
		r = echo_open_sessions(&c->p, 1, 5000);
	if (r) {
		bench_fail("runtime setup: %s", strerror(-r));
		free(c);
		return NULL;
	}
	bench_pin(0);
	return c;
}

static void ctx_free(struct ctx *c)
{
	vmedia_runtime_destroy(&c->p.rt);
	echo_pair_destroy(&c->p);
	free(c);
}

/* ---- baseline ---- */

struct pp {
	int ping, pong, stop;
};

static int64_t ping_run(void *arg, uint64_t iters)
{
	struct pp *pp = arg;
	uint64_t one = 1, v;
	for (uint64_t i = 0; i < iters; i++) {
		if (write(pp->ping, &one, sizeof(one)) != sizeof(one) ||
		    read(pp->pong, &v, sizeof(v)) != sizeof(v)) {
			bench_fail("ping: %s", strerror(errno));
			return -1;
		}
		if ((i & 1023) == 1023 && bench_now_ns() > bench_deadline())
			return (int64_t)i + 1;
	}
	return (int64_t)iters;
}

static void *pong_main(void *arg)
{
	struct pp *pp = arg;
	uint64_t v;
	bench_pin(1);
	while (read(pp->ping, &v, sizeof(v)) == sizeof(v) &&
	       !__atomic_load_n(&pp->stop, __ATOMIC_ACQUIRE))
		if (write(pp->pong, &v, sizeof(v)) != sizeof(v))
			break;
	return NULL;
}

static int raw(struct bench_stats *st)
{
	const char *name = "eventfd_pingpong_raw";
	struct pp pp = { .ping = eventfd(0, EFD_CLOEXEC), .pong = eventfd(0, EFD_CLOEXEC) };
	pthread_t th;
	if (pp.ping < 0 || pp.pong < 0 || pthread_create(&th, NULL, pong_main, &pp)) {
		bench_fail("%s: setup", name);
		return -1;
	}
	bench_pin(0);
	int r = bench_measure(name, ping_run, &pp, st);
	__atomic_store_n(&pp.stop, 1, __ATOMIC_RELEASE);
	uint64_t one = 1;
	if (write(pp.ping, &one, sizeof(one)) != sizeof(one))
		bench_fail("%s: stop", name);
	pthread_join(th, NULL);
	close(pp.ping);
	close(pp.pong);
	if (r == 0)
		bench_report_time(name, st, 1e-3, "us");
	return r;
}

/* ---- the runtime ---- */

static int64_t qd1_run(void *arg, uint64_t iters)
{
	struct echo_pair *p = &((struct ctx *)arg)->p;
	for (uint64_t i = 0; i < iters; i++) {
		if (echo_add(p, 0, false) || vq_fake_efd_publish(&p->cmd_d) < 0) {
			bench_fail("qd1: add / kick");
			return -1;
		}
		do {
			if (vq_fake_efd_wait(&p->cmd_d, -1) <= 0) {
				bench_fail("qd1: wait");
				return -1;
			}
		} while (!echo_reap(p));
		if ((i & 1023) == 1023 && bench_now_ns() > bench_deadline())
			return (int64_t)i + 1;
	}
	return (int64_t)iters;
}

static int64_t qd64_run(void *arg, uint64_t iters)
{
	struct echo_pair *p = &((struct ctx *)arg)->p;
	uint64_t done = 0;
	while (done < iters) {
		uint64_t n = iters - done < 8192 ? iters - done : 8192;
		int r = echo_run(p, n, 1, 64, 5000, NULL);
		if (r) {
			bench_fail("qd64: %s", strerror(-r));
			return -1;
		}
		done += n;
		if (bench_now_ns() > bench_deadline())
			break;
	}
	return (int64_t)done;
}

static int runtime_fig(const char *name, bench_fn fn, struct bench_stats *st, bool rate,
		       uint32_t flush_every)
{
	struct ctx *c = ctx_new(flush_every);
	if (!c)
		return -1;
	int r = bench_measure(name, fn, c, st);
	uint64_t completed = c->p.completed, errors = c->p.errors;
	vmedia_runtime_stop(&c->p.rt);
	const struct vmedia_runtime_stats *s = &c->p.rt.stats;
	if (errors || c->p.echo.bad_seq || vmedia_runtime_error(&c->p.rt)) {
		bench_fail("%s: %llu bad answers, %llu out of sequence, error %d", name,
			   (unsigned long long)errors, (unsigned long long)c->p.echo.bad_seq,
			   vmedia_runtime_error(&c->p.rt));
		r = -1;
	}
	if (completed)
		bench_note("  %s: %llu commands, per command: %.3f kicks, %.3f drain rounds, "
			   "%.3f calls; driver sleeps %.3f", name,
			   (unsigned long long)completed, (double)s->cmd_kicks / completed,
			   (double)s->rounds / completed, (double)s->calls / completed,
			   (double)c->p.cmd_d.sleeps / completed);
	ctx_free(c);
	if (r == 0) {
		if (rate)
			bench_report_rate(name, st, 1e3, "Mcmd/s");
		else
			bench_report_time(name, st, 1e-3, "us");
	}
	return r;
}

int main(int argc, char **argv)
{
	bench_init(argc, argv, "bench_runtime");
	struct bench_stats base, qd1, qd64;
	bool have_base = bench_selected("eventfd_pingpong_raw") && raw(&base) == 0;
	bool have_qd1 = bench_selected("runtime_qd1") &&
			runtime_fig("runtime_qd1", qd1_run, &qd1, false, 0) == 0;
	if (have_base && have_qd1)
		bench_result("runtime_qd1_vs_raw", qd1.median_ns / base.median_ns, "x");
	if (bench_selected("runtime_qd64"))
		runtime_fig("runtime_qd64", qd64_run, &qd64, true, 0);
	if (bench_selected("runtime_qd64_flush16"))
		runtime_fig("runtime_qd64_flush16", qd64_run, &qd64, true, 16);
	return bench_finish();
}
