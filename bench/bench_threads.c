/* SPDX-License-Identifier: MIT */
/*
 * Two threads, both polling: the fake driver on one core, the device queue on
 * the other, no eventfds.  Both sides switch their notifications off the way
 * a polling pair does (the device with vq_queue_disable_notify(), the driver
 * with vq_fake_disable_interrupts()), so kicks and interrupts are decided but
 * suppressed; progress is seen through avail->idx and used->idx only.
 *
 * Driver: queue size 256, keeps up to DEPTH 1-descriptor chains (8-byte
 * writable buffer, nothing written) in flight; whenever at least BATCH slots
 * are free it adds that many chains and publishes once, and it reaps used
 * entries as they appear.  Device: pops until empty, pushes each chain,
 * flushes after every 32 pushes and whenever the ring is empty.
 * An iteration is one completed chain, timed on the driver thread.
 */
#include <pthread.h>
#include <stdlib.h>

#include "fixture.h"

#define QSIZE 256
#define DEV_FLUSH_EVERY 32

struct threadb {
	struct fixture x;
	struct vq_fake_buf buf;
	unsigned depth, batch;
	unsigned inflight;
	pthread_t dev;
	/* Shared flags on their own line, away from either side's state. */
	int stop __attribute__((aligned(64)));
	int dev_error;
};

static void *device_main(void *p)
{
	struct threadb *b = p;
	struct vq_queue *q = &b->x.q;
	struct vq_chain *c = &b->x.c;

	bench_pin(1);
	vq_queue_disable_notify(q);
	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		unsigned n = 0, any = 0;
		int r;
		while ((r = vq_queue_pop(q, c)) > 0) {
			if (vq_queue_push(q, c, 0)) {
				r = -1;
				break;
			}
			any = 1;
			if (++n == DEV_FLUSH_EVERY) {
				vq_queue_flush(q);
				n = 0;
			}
		}
		if (r < 0) {
			__atomic_store_n(&b->dev_error, r, __ATOMIC_RELAXED);
			break;
		}
		if (n)
			vq_queue_flush(q);
		if (!any)
			bench_cpu_relax();
	}
	return NULL;
}

static int64_t driver_run(void *p, uint64_t iters)
{
	struct threadb *b = p;
	struct vq_fake *f = &b->x.f;
	uint64_t done = 0, idle = 0;

	while (done < iters) {
		uint32_t id, len;
		unsigned got = 0;
		while (vq_fake_get_used(f, &id, &len))
			got++;
		b->inflight -= got;
		/* Every 4096 chains or so, see whether the run is overdue. */
		if ((done & ~4095ull) != ((done + got) & ~4095ull) &&
		    bench_now_ns() > bench_deadline())
			return (int64_t)(done + got);
		done += got;
		if (b->depth - b->inflight >= b->batch) {
			for (unsigned k = 0; k < b->batch; k++)
				CHECK(vq_fake_add(f, &b->buf, 1, 0) >= 0, "vq_fake_add");
			b->inflight += b->batch;
			vq_fake_publish(f);
		} else if (!got) {
			bench_cpu_relax();
			/* A dead device must not hang the bench. */
			if (++idle % (1u << 16) == 0) {
				CHECK(!__atomic_load_n(&b->dev_error, __ATOMIC_RELAXED),
				      "device thread: %d", b->dev_error);
				if (bench_now_ns() > bench_deadline()) {
					CHECK(done, "no chain completed before the deadline");
					return (int64_t)done;
				}
			}
			continue;
		}
		idle = 0;
	}
	return (int64_t)done;
}

static void bench_threads(unsigned depth, unsigned batch, bool evidx)
{
	char name[96];
	snprintf(name, sizeof(name), "threads_1desc_inflight%u_batch%u_%s", depth, batch,
		 evidx ? "evidx" : "noevidx");
	if (!bench_selected(name))
		return;
	struct threadb *b = fixture_zalloc(sizeof(*b));
	if (!b || fixture_init(&b->x, QSIZE, evidx ? EVIDX : 0, 0)) {
		bench_fail("%s: setup", name);
		free(b);
		return;
	}
	b->depth = depth;
	b->batch = batch;
	b->inflight = 0;
	b->stop = 0;
	b->dev_error = 0;
	b->buf = (struct vq_fake_buf){ fixture_buf(&b->x, 8), 8, true };
	vq_fake_disable_interrupts(&b->x.f);

	if (pthread_create(&b->dev, NULL, device_main, b)) {
		bench_fail("%s: pthread_create", name);
		goto out;
	}
	bench_pin(0);
	struct bench_stats st;
	int r = bench_measure(name, driver_run, b, &st);
	if (r == 0) {
		/* Drain what is still in flight before stopping the device. */
		uint64_t t0 = bench_now_ns();
		while (b->inflight && bench_now_ns() - t0 < 1000000000ull) {
			uint32_t id, len;
			while (vq_fake_get_used(&b->x.f, &id, &len))
				b->inflight--;
		}
	}
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELAXED);
	pthread_join(b->dev, NULL);
	if (r == 0) {
		char rate[112];
		bench_report_time(name, &st, 1.0, "ns/chain");
		snprintf(rate, sizeof(rate), "%s_rate", name);
		bench_report_rate(rate, &st, 1e3, "Mchains/s");
		bench_note("  %s: %llu chains, %llu kicks, %llu interrupts, %llu flushes "
			   "suppressed%s", name,
			   (unsigned long long)b->x.q.stats.chains,
			   (unsigned long long)b->x.f.kicks,
			   (unsigned long long)b->x.q.stats.notifications,
			   (unsigned long long)b->x.q.stats.suppressed,
			   evidx ? " (a stale event index still fires once per 2^16)" : "");
	}
out:
	fixture_destroy(&b->x);
	free(b);
}

/* ------------------------------------------------------------------------ */
/* Baseline: the round trip of one cache line between the two cores, which
 * bounds how fast any two-thread ring can hand work over.  On these VMs it
 * moves with where the hypervisor places the vCPUs (seen: ~100 to ~500 ns),
 * so read the chain figures against it. */

struct pingpong {
	uint64_t ping __attribute__((aligned(128)));
	uint64_t pong __attribute__((aligned(128)));
	int stop __attribute__((aligned(128)));
	uint64_t seq;
	pthread_t th;
};

static void *pong_main(void *p)
{
	struct pingpong *pp = p;
	uint64_t last = 0;
	bench_pin(1);
	while (!__atomic_load_n(&pp->stop, __ATOMIC_RELAXED)) {
		uint64_t v = __atomic_load_n(&pp->ping, __ATOMIC_ACQUIRE);
		if (v != last) {
			__atomic_store_n(&pp->pong, v, __ATOMIC_RELEASE);
			last = v;
		}
	}
	return NULL;
}

static int64_t ping_run(void *p, uint64_t iters)
{
	struct pingpong *pp = p;
	for (uint64_t i = 0; i < iters; i++) {
		uint64_t v = ++pp->seq;
		__atomic_store_n(&pp->ping, v, __ATOMIC_RELEASE);
		while (__atomic_load_n(&pp->pong, __ATOMIC_ACQUIRE) != v)
			;
		if ((i & 1023) == 1023 && bench_now_ns() > bench_deadline())
			return (int64_t)i + 1;
	}
	return (int64_t)iters;
}

static void bench_pingpong(void)
{
	const char *name = "threads_cacheline_roundtrip";
	if (!bench_selected(name))
		return;
	struct pingpong *pp = aligned_alloc(128, sizeof(*pp));
	if (!pp) {
		bench_fail("%s: setup", name);
		return;
	}
	memset(pp, 0, sizeof(*pp));
	if (pthread_create(&pp->th, NULL, pong_main, pp)) {
		bench_fail("%s: pthread_create", name);
		free(pp);
		return;
	}
	bench_pin(0);
	struct bench_stats st;
	int r = bench_measure(name, ping_run, pp, &st);
	__atomic_store_n(&pp->stop, 1, __ATOMIC_RELAXED);
	pthread_join(pp->th, NULL);
	if (r == 0)
		bench_report_time(name, &st, 1.0, "ns");
	free(pp);
}

int main(int argc, char **argv)
{
	bench_init(argc, argv, "bench_threads");
	bench_pingpong();
	bench_threads(128, 32, true);
	bench_threads(128, 32, false);
	bench_threads(256, 64, true);
	return bench_finish();
}
