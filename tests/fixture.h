/* SPDX-License-Identifier: MIT */
/*
 * Shared fixture for the core test programs: a fake driver, a device queue
 * attached to it, and one chain object with its iovec storage.
 *
 * Every helper asserts, so a test reads as a list of expectations.
 */
#ifndef VQ_TEST_FIXTURE_H
#define VQ_TEST_FIXTURE_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vq_chain.h"
#include "vq_fake.h"

#define F(bit) (1ull << (bit))
#define F_IND F(VQ_F_INDIRECT_DESC)
#define F_EVT F(VQ_F_EVENT_IDX)

struct fx {
	struct vq_fake f;
	struct vq_queue q;
	struct vq_chain c;
	struct iovec *iov;
	uint32_t iov_cap;
	unsigned kicks; /* kick callback calls */
};

static inline void fx_count_kick(void *opaque)
{
	((struct fx *)opaque)->kicks++;
}

/* Fake with @fcfg (size, features, regions...), queue attached with the fake's
 * interrupt counter as notify callback, chain with @iov_cap iovecs. */
static inline void fx_init_cfg(struct fx *x, struct vq_fake_config fcfg, uint32_t iov_cap)
{
	memset(x, 0, sizeof(*x));
	fcfg.kick = fx_count_kick;
	fcfg.kick_opaque = x;
	cr_assert_eq(vq_fake_init(&x->f, &fcfg), 0, "vq_fake_init");
	struct vq_queue_config cfg;
	vq_fake_queue_config(&x->f, &cfg);
	cfg.notify = vq_fake_interrupt;
	cfg.notify_opaque = &x->f;
	cr_assert_eq(vq_queue_init(&x->q, &cfg), 0, "vq_queue_init");
	x->iov_cap = iov_cap;
	x->iov = calloc(iov_cap ? iov_cap : 1, sizeof(*x->iov));
	cr_assert_not_null(x->iov);
	vq_chain_init(&x->c, x->iov, iov_cap);
}

static inline void fx_init(struct fx *x, uint32_t size, uint64_t features)
{
	fx_init_cfg(x, (struct vq_fake_config){ .size = size, .features = features }, 64);
}

/* Safe on a zeroed or already finished fixture, so a suite's .fini can call
 * it whatever the test got to before an assertion failed. */
static inline void fx_fini(struct fx *x)
{
	vq_fake_destroy(&x->f);
	free(x->iov);
	memset(x, 0, sizeof(*x));
}

/* Guest-physical end of the fake's memory. */
static inline uint64_t fx_mem_end(const struct fx *x)
{
	return x->f.gpa_base + (uint64_t)x->f.nregions * x->f.region_size;
}

/* Add and publish a chain; returns its head. */
static inline int fx_add(struct fx *x, const struct vq_fake_buf *bufs, unsigned n, unsigned flags)
{
	int head = vq_fake_add(&x->f, bufs, n, flags);
	cr_assert_geq(head, 0, "vq_fake_add: %d", head);
	vq_fake_publish(&x->f);
	return head;
}

/* A one-readable-one-writable chain with fresh buffers, published. */
static inline int fx_add_simple(struct fx *x, uint32_t rlen, uint32_t wlen, unsigned flags)
{
	struct vq_fake_buf b[2] = {
		{ vq_fake_alloc(&x->f, rlen), rlen, false },
		{ vq_fake_alloc(&x->f, wlen), wlen, true },
	};
	cr_assert(b[0].gpa && b[1].gpa, "guest memory exhausted");
	return fx_add(x, b, 2, flags);
}

/* A one-descriptor chain: a fresh writable buffer of @wlen bytes, published. */
static inline int fx_add_w(struct fx *x, uint32_t wlen)
{
	struct vq_fake_buf b = { vq_fake_alloc(&x->f, wlen), wlen, true };
	cr_assert_neq(b.gpa, 0, "guest memory exhausted");
	return fx_add(x, &b, 1, 0);
}

/* Take the next used entry, asserting it is (@id, @len). */
static inline void fx_expect_used(struct fx *x, uint32_t id, uint32_t len)
{
	uint32_t got_id = ~0u, got_len = ~0u;
	cr_assert_eq(vq_fake_get_used(&x->f, &got_id, &got_len), 1, "no used entry");
	cr_assert_eq(got_id, id, "used id %u, expected %u", got_id, id);
	cr_assert_eq(got_len, len, "used len %u, expected %u", got_len, len);
}

static inline void fx_expect_no_used(struct fx *x)
{
	uint32_t id, len;
	cr_assert_eq(vq_fake_get_used(&x->f, &id, &len), 0, "unexpected used entry");
}

/* Full round trip of a fresh good chain: the queue is still usable. */
static inline void fx_round_trip(struct fx *x)
{
	uint64_t in = vq_fake_alloc_copy(&x->f, "ping", 4);
	uint64_t out = vq_fake_alloc(&x->f, 8);
	struct vq_fake_buf b[2] = { { in, 4, false }, { out, 8, true } };
	int head = fx_add(x, b, 2, 0);
	uint64_t chains = x->q.stats.chains;
	cr_assert_eq(vq_queue_pop(&x->q, &x->c), 1, "good chain after a bad one");
	cr_assert_eq(x->c.id, head);
	cr_assert_eq(x->c.readable_len, 4);
	cr_assert_eq(x->c.writable_len, 8);
	cr_assert_eq(x->q.stats.chains, chains + 1);
	struct vq_reader r;
	struct vq_writer w;
	vq_reader_init(&r, &x->c);
	vq_writer_init(&w, &x->c);
	char buf[4];
	cr_assert_eq(vq_reader_read_all(&r, buf, 4), 0);
	cr_assert_eq(memcmp(buf, "ping", 4), 0);
	cr_assert_eq(vq_writer_write_all(&w, "pong", 4), 0);
	cr_assert_eq(vq_queue_push(&x->q, &x->c, vq_writer_written(&w)), 0);
	cr_assert_geq(vq_queue_flush(&x->q), 0);
	fx_expect_used(x, (uint32_t)head, 4);
	char back[4];
	cr_assert_eq(vq_fake_read_mem(&x->f, out, back, 4), 0);
	cr_assert_eq(memcmp(back, "pong", 4), 0);
}

/* Deterministic test pattern. */
static inline uint8_t fx_pat(size_t i, unsigned seed)
{
	return (uint8_t)(i * 131u + seed * 7u + (i >> 8));
}

static inline void fx_fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = fx_pat(i, seed);
}

#endif /* VQ_TEST_FIXTURE_H */
