/* SPDX-License-Identifier: MIT */
/*
 * loop/: what the io_uring reactor costs on a wake-up, against its baseline
 * measured in the same run.
 *
 * Both figures are one round trip between two threads over two eventfds,
 * queue depth 1: the timed thread write(2)s "ping" and blocks in read(2) on
 * "pong".
 *  - eventfd_pingpong_raw: the other thread blocks in read(2) on ping and
 *    write(2)s pong — the cheapest cross-thread wake-up the kernel offers.
 *  - loop_eventfd_qd1: the other thread is a vql_loop in vql_loop_run() with
 *    ping watched by vql_watch_eventfd(); the callback write(2)s pong.  The
 *    difference is the reactor: poll wake-up, CQE, the drain read, dispatch.
 * The ratio of the two is printed as its own RESULT line.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "harness.h"
#include "vql_loop.h"

struct pp {
	int ping, pong;
	int stop;
	pthread_t th;
	struct vql_loop loop;
	struct vql_watch w;
};

static int64_t ping_run(void *p, uint64_t iters)
{
	struct pp *pp = p;
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

static void *raw_pong_main(void *p)
{
	struct pp *pp = p;
	uint64_t v;
	bench_pin(1);
	while (read(pp->ping, &v, sizeof(v)) == sizeof(v) &&
	       !__atomic_load_n(&pp->stop, __ATOMIC_ACQUIRE)) {
		if (write(pp->pong, &v, sizeof(v)) != sizeof(v))
			break;
	}
	return NULL;
}

static void on_ping(struct vql_watch *w, uint64_t count, void *opaque)
{
	struct pp *pp = opaque;
	(void)w;
	ssize_t r = write(pp->pong, &count, sizeof(count));
	(void)r;
}

static void *loop_pong_main(void *p)
{
	struct pp *pp = p;
	bench_pin(1);
	vql_loop_run(&pp->loop);
	return NULL;
}

static int pp_open(struct pp *pp)
{
	memset(pp, 0, sizeof(*pp));
	pp->ping = eventfd(0, EFD_CLOEXEC);
	pp->pong = eventfd(0, EFD_CLOEXEC);
	return pp->ping >= 0 && pp->pong >= 0 ? 0 : -1;
}

static void pp_close(struct pp *pp)
{
	close(pp->ping);
	close(pp->pong);
}

static int raw(struct bench_stats *st)
{
	const char *name = "eventfd_pingpong_raw";
	struct pp pp;
	if (pp_open(&pp) || pthread_create(&pp.th, NULL, raw_pong_main, &pp)) {
		bench_fail("%s: setup", name);
		return -1;
	}
	bench_pin(0);
	int r = bench_measure(name, ping_run, &pp, st);
	__atomic_store_n(&pp.stop, 1, __ATOMIC_RELEASE);
	uint64_t one = 1;
	if (write(pp.ping, &one, sizeof(one)) != sizeof(one))
		bench_fail("%s: stop", name);
	pthread_join(pp.th, NULL);
	pp_close(&pp);
	if (r == 0)
		bench_report_time(name, st, 1e-3, "us");
	return r;
}

static int with_loop(struct bench_stats *st)
{
	const char *name = "loop_eventfd_qd1";
	struct pp *pp = malloc(sizeof(*pp));
	if (!pp || pp_open(pp)) {
		bench_fail("%s: setup", name);
		free(pp);
		return -1;
	}
	int r = vql_loop_init(&pp->loop, 64);
	if (r == 0)
		r = vql_watch_eventfd(&pp->loop, &pp->w, pp->ping, on_ping, pp);
	if (r) {
		bench_fail("%s: loop: %s", name, strerror(-r));
		pp_close(pp);
		free(pp);
		return -1;
	}
	bench_note("  loop features: multishot poll %d, multishot timeout %d, ext_arg %d, "
		   "registered ring fd %d",
		   !!(pp->loop.features & VQL_FEAT_POLL_MULTISHOT),
		   !!(pp->loop.features & VQL_FEAT_TIMEOUT_MULTISHOT),
		   !!(pp->loop.features & VQL_FEAT_EXT_ARG),
		   !!(pp->loop.features & VQL_FEAT_REG_RING_FD));
	if (pthread_create(&pp->th, NULL, loop_pong_main, pp)) {
		bench_fail("%s: pthread_create", name);
		vql_loop_destroy(&pp->loop);
		pp_close(pp);
		free(pp);
		return -1;
	}
	bench_pin(0);
	r = bench_measure(name, ping_run, pp, st);
	vql_loop_stop(&pp->loop);
	pthread_join(pp->th, NULL);
	vql_loop_destroy(&pp->loop);
	pp_close(pp);
	free(pp);
	if (r == 0)
		bench_report_time(name, st, 1e-3, "us");
	return r;
}

int main(int argc, char **argv)
{
	bench_init(argc, argv, "bench_loop");
	struct bench_stats base, loop;
	bool have_base = bench_selected("eventfd_pingpong_raw") && raw(&base) == 0;
	bool have_loop = bench_selected("loop_eventfd_qd1") && with_loop(&loop) == 0;
	if (have_base && have_loop)
		bench_result("loop_eventfd_qd1_vs_raw", loop.median_ns / base.median_ns, "x");
	return bench_finish();
}
