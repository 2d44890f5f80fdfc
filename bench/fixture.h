/* SPDX-License-Identifier: MIT */
/*
 * A fake driver and a device queue attached to it, as every bench uses them:
 * one guest-memory region, the device's notify callback counting the fake's
 * interrupts, and a chain object with room for a whole queue.
 */
#ifndef VQ_BENCH_FIXTURE_H
#define VQ_BENCH_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "vq_chain.h"
#include "vq_fake.h"

#define FIXTURE_MAX_IOV 256

#define EVIDX (1ull << VQ_F_EVENT_IDX)
#define INDIRECT (1ull << VQ_F_INDIRECT_DESC)

/* Fail the current figure unless @cond holds (the branch is predictable). */
#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (__builtin_expect(!(cond), 0)) {                                        \
			bench_fail(__VA_ARGS__);                                           \
			return -1;                                                         \
		}                                                                          \
	} while (0)

struct fixture {
	struct vq_fake f;
	/* The device's state on its own cache lines: the threaded bench runs
	 * the queue and the fake on two cores. */
	struct vq_queue q __attribute__((aligned(64)));
	struct vq_chain c;
	struct iovec iov[FIXTURE_MAX_IOV];
};

/* Zeroed memory for a struct holding a fixture (which is over-aligned). */
static inline void *fixture_zalloc(size_t size)
{
	size = (size + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, size);
	if (p)
		memset(p, 0, size);
	return p;
}

/* Returns 0 or -1 (reported).  @region_size 0 means the fake's 1 MiB. */
static inline int fixture_init(struct fixture *x, uint32_t size, uint64_t features,
			       size_t region_size)
{
	memset(x, 0, sizeof(*x));
	int r = vq_fake_init(&x->f, &(struct vq_fake_config){
		.size = size, .features = features, .region_size = region_size });
	if (r) {
		bench_fail("vq_fake_init: %d", r);
		return -1;
	}
	struct vq_queue_config cfg;
	vq_fake_queue_config(&x->f, &cfg);
	cfg.notify = vq_fake_interrupt;
	cfg.notify_opaque = &x->f;
	r = vq_queue_init(&x->q, &cfg);
	if (r) {
		bench_fail("vq_queue_init: %d", r);
		vq_fake_destroy(&x->f);
		return -1;
	}
	vq_chain_init(&x->c, x->iov, FIXTURE_MAX_IOV);
	return 0;
}

static inline void fixture_destroy(struct fixture *x)
{
	vq_queue_destroy(&x->q);
	vq_fake_destroy(&x->f);
}

/* Guest buffer of @len bytes filled with a pattern; 0 (reported) if none. */
static inline uint64_t fixture_buf(struct fixture *x, size_t len)
{
	uint64_t gpa = vq_fake_alloc(&x->f, len);
	if (!gpa) {
		bench_fail("vq_fake_alloc(%zu) failed", len);
		return 0;
	}
	uint8_t *p = vq_fake_host(&x->f, gpa, len);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + 1);
	return gpa;
}

#endif
