/* SPDX-License-Identifier: MIT */
/* vq_queue: setup, pop / push / flush, batching, counters, long chains, resume, wrap. */
#include "fixture.h"

static struct fx x;
static struct vq_fake f; /* for tests that need only the driver side */

static void teardown(void)
{
	fx_fini(&x);
	vq_fake_destroy(&f);
}

TestSuite(queue, .fini = teardown);

/* ---- init ---- */

/* Just the driver side, in the file's @f; the test sets up its own queue. */
static void fake_only(uint32_t size, unsigned nregions, struct vq_queue_config *cfg)
{
	cr_assert_eq(vq_fake_init(&f, &(struct vq_fake_config){ .size = size, .nregions = nregions }), 0);
	vq_fake_queue_config(&f, cfg);
}

Test(queue, init_bad_size)
{
	struct vq_queue_config cfg;
	struct vq_queue q;
	fake_only(256, 1, &cfg);
	const uint32_t bad[] = { 0, 3, 6, 100, 32769, 65536, 1u << 20, UINT32_MAX };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.size = bad[i];
		cr_assert_eq(vq_queue_init(&q, &cfg), -EINVAL, "size %u", bad[i]);
	}
	/* Powers of two up to the fake's size fit its rings. */
	for (uint32_t s = 1; s <= 256; s *= 2) {
		cfg.size = s;
		cr_assert_eq(vq_queue_init(&q, &cfg), 0, "size %u", s);
		cr_assert_eq(vq_queue_size(&q), s);
	}
	vq_fake_destroy(&f);
}

Test(queue, init_max_size)
{
	fx_init_cfg(&x, (struct vq_fake_config){ .size = VQ_MAX_QUEUE_SIZE }, 4);
	cr_assert_eq(vq_queue_size(&x.q), 32768);
	cr_assert_eq(x.q.mask, 32767);
	fx_round_trip(&x);
	fx_fini(&x);
}

Test(queue, init_misaligned)
{
	struct vq_queue_config cfg, good;
	struct vq_queue q;
	fake_only(8, 1, &good);
	for (uint64_t off = 1; off < VQ_DESC_ALIGN; off++) {
		cfg = good;
		cfg.desc_gpa += off;
		cr_assert_eq(vq_queue_init(&q, &cfg), -EINVAL, "desc +%llu", (unsigned long long)off);
	}
	cfg = good;
	cfg.avail_gpa += 1;
	cr_assert_eq(vq_queue_init(&q, &cfg), -EINVAL, "avail +1");
	for (uint64_t off = 1; off < VQ_USED_ALIGN; off++) {
		cfg = good;
		cfg.used_gpa += off;
		cr_assert_eq(vq_queue_init(&q, &cfg), -EINVAL, "used +%llu", (unsigned long long)off);
	}
	/* The minimum alignments are enough. */
	cfg = good;
	cfg.desc_gpa += VQ_DESC_ALIGN;
	cfg.avail_gpa += VQ_AVAIL_ALIGN;
	cfg.used_gpa += VQ_USED_ALIGN;
	cr_assert_eq(vq_queue_init(&q, &cfg), 0);
	cr_assert_eq((char *)q.desc, (char *)f.desc + VQ_DESC_ALIGN);
	cr_assert_eq((char *)q.avail, (char *)f.avail + VQ_AVAIL_ALIGN);
	cr_assert_eq((char *)q.used, (char *)f.used + VQ_USED_ALIGN);
	vq_fake_destroy(&f);
}

Test(queue, init_rings_outside_memory)
{
	struct vq_queue_config cfg, good;
	struct vq_queue q;
	fake_only(8, 1, &good);
	uint64_t end = f.gpa_base + f.region_size;

	cfg = good;
	cfg.desc_gpa = 0x1000;
	cr_assert_eq(vq_queue_init(&q, &cfg), -EFAULT, "desc below memory");
	cfg = good;
	cfg.desc_gpa = end;
	cr_assert_eq(vq_queue_init(&q, &cfg), -EFAULT, "desc past memory");
	cfg = good;
	cfg.desc_gpa = end - 16 * 4; /* 4 of 8 descriptors inside */
	cr_assert_eq(vq_queue_init(&q, &cfg), -EFAULT, "desc straddles the end");
	cfg = good;
	cfg.avail_gpa = end - 2;
	cr_assert_eq(vq_queue_init(&q, &cfg), -EFAULT, "avail straddles the end");
	cfg = good;
	/* The used area's last field (avail_event) is what sticks out. */
	cfg.used_gpa = end - vq_used_area_size(8) + 2; /* 4-aligned, 2 bytes out */
	cr_assert_eq(vq_queue_init(&q, &cfg), -EFAULT, "used straddles the end");
	cfg = good;
	cfg.used_gpa = end - vq_used_area_size(8) - 2; /* 4-aligned, fits exactly */
	cr_assert_eq(vq_queue_init(&q, &cfg), 0);
	cfg = good;
	cfg.used_gpa = UINT64_MAX - 3;
	cr_assert_eq(vq_queue_init(&q, &cfg), -EFAULT, "used wraps");
	vq_fake_destroy(&f);
}

Test(queue, init_ring_spanning_regions)
{
	/* A ring must be host-contiguous; two regions are not. */
	struct vq_queue_config cfg, good;
	struct vq_queue q;
	fake_only(8, 2, &good);
	uint64_t boundary = f.gpa_base + f.region_size;
	cfg = good;
	cfg.desc_gpa = boundary - 64;
	cr_assert_eq(vq_queue_init(&q, &cfg), -EFAULT);
	cfg = good;
	cfg.used_gpa = boundary - 8;
	cr_assert_eq(vq_queue_init(&q, &cfg), -EFAULT);
	cfg = good;
	cfg.desc_gpa = boundary; /* wholly in the second region: fine */
	cr_assert_eq(vq_queue_init(&q, &cfg), 0);
	vq_fake_destroy(&f);
}

Test(queue, init_packed_eopnotsupp)
{
	struct vq_queue_config cfg;
	struct vq_queue q;
	fake_only(8, 1, &cfg);
	cfg.features |= F(VQ_F_RING_PACKED);
	cr_assert_eq(vq_queue_init(&q, &cfg), -EOPNOTSUPP);
	cfg.features = F(VQ_F_RING_PACKED) | F(VQ_F_VERSION_1) | F_IND | F_EVT;
	cr_assert_eq(vq_queue_init(&q, &cfg), -EOPNOTSUPP);
	cfg.features = F(VQ_F_VERSION_1) | F_IND | F_EVT;
	cr_assert_eq(vq_queue_init(&q, &cfg), 0);
	vq_fake_destroy(&f);
}

Test(queue, init_no_mem)
{
	struct vq_queue_config cfg;
	struct vq_queue q;
	fake_only(8, 1, &cfg);
	cfg.mem = NULL;
	cr_assert_eq(vq_queue_init(&q, &cfg), -EINVAL);
	vq_fake_destroy(&f);
}

Test(queue, init_state)
{
	fx_init(&x, 16, F_IND | F_EVT);
	cr_assert_not(vq_queue_is_broken(&x.q));
	cr_assert_eq(vq_queue_last_avail(&x.q), 0);
	cr_assert_eq(vq_queue_pending(&x.q), 0);
	cr_assert_eq(x.q.stats.chains, 0);
	cr_assert_eq(x.q.stats.bad_chains, 0);
	cr_assert_eq(x.q.stats.notifications, 0);
	cr_assert_eq(x.q.stats.suppressed, 0);
	cr_assert_eq((void *)x.q.desc, (void *)x.f.desc);
	cr_assert_eq((void *)x.q.avail, (void *)x.f.avail);
	cr_assert_eq((void *)x.q.used, (void *)x.f.used);
	cr_assert_eq((void *)x.q.used_event, (void *)x.f.used_event);
	cr_assert_eq((void *)x.q.avail_event, (void *)x.f.avail_event);
	fx_fini(&x);
}

/* ---- pop / push / flush ---- */

Test(queue, pop_empty)
{
	fx_init(&x, 8, 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 0);
	cr_assert_eq(vq_queue_last_avail(&x.q), 0);
	/* Added but not published: still empty. */
	struct vq_fake_buf b = { vq_fake_alloc(&x.f, 8), 8, true };
	cr_assert_geq(vq_fake_add(&x.f, &b, 1, 0), 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 0);
	vq_fake_publish(&x.f);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 0);
	cr_assert_eq(x.q.stats.chains, 1);
	fx_fini(&x);
}

Test(queue, pop_fills_chain)
{
	fx_init(&x, 8, F_IND);
	for (unsigned flags = 0; flags <= VQ_FAKE_INDIRECT; flags += VQ_FAKE_INDIRECT) {
		struct vq_fake_buf b[3] = {
			{ vq_fake_alloc(&x.f, 10), 10, false },
			{ vq_fake_alloc(&x.f, 20), 20, true },
			{ vq_fake_alloc(&x.f, 30), 30, true },
		};
		int head = fx_add(&x, b, 3, flags);
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
		cr_assert_eq(x.c.id, head);
		cr_assert_eq(x.c.ndesc, flags ? 1 : 3);
		cr_assert_eq(x.c.nreadable, 1);
		cr_assert_eq(x.c.nwritable, 2);
		cr_assert_eq(x.c.readable_len, 10);
		cr_assert_eq(x.c.writable_len, 50);
		for (unsigned i = 0; i < 3; i++) {
			cr_assert_eq(x.c.iov[i].iov_base, vq_fake_host(&x.f, b[i].gpa, b[i].len));
			cr_assert_eq(x.c.iov[i].iov_len, b[i].len);
		}
		cr_assert_eq(vq_queue_push(&x.q, &x.c, 50), 0);
		cr_assert_eq(vq_queue_flush(&x.q), 1);
		fx_expect_used(&x, (uint32_t)head, 50);
	}
	cr_assert_eq(vq_fake_num_free(&x.f), 8);
	fx_fini(&x);
}

Test(queue, push_visible_only_after_flush)
{
	fx_init(&x, 8, 0);
	int head = fx_add_simple(&x, 4, 4, 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_queue_push(&x.q, &x.c, 3), 0);
	cr_assert_eq(vq_fake_used_pending(&x.f), 0);
	fx_expect_no_used(&x);
	cr_assert_eq(x.f.interrupts, 0);
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	cr_assert_eq(vq_fake_used_pending(&x.f), 1);
	cr_assert_eq(x.f.interrupts, 1);
	fx_expect_used(&x, (uint32_t)head, 3);
	fx_fini(&x);
}

Test(queue, push_written_bounds)
{
	fx_init(&x, 8, 0);
	int head = fx_add_simple(&x, 4, 6, 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_queue_push(&x.q, &x.c, 7), -EINVAL);
	cr_assert_eq(vq_queue_push(&x.q, &x.c, UINT32_MAX), -EINVAL);
	cr_assert_eq(vq_queue_flush(&x.q), 0, "rejected pushes publish nothing");
	cr_assert_eq(vq_queue_push(&x.q, &x.c, 6), 0);
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	fx_expect_used(&x, (uint32_t)head, 6);
	fx_expect_no_used(&x);
	/* A chain with no writable part can only be pushed with 0. */
	struct vq_fake_buf b = { vq_fake_alloc(&x.f, 4), 4, false };
	head = fx_add(&x, &b, 1, 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(x.c.writable_len, 0);
	cr_assert_eq(vq_queue_push(&x.q, &x.c, 1), -EINVAL);
	cr_assert_eq(vq_queue_push(&x.q, &x.c, 0), 0);
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	fx_expect_used(&x, (uint32_t)head, 0);
	fx_fini(&x);
}

Test(queue, flush_with_nothing_pushed)
{
	fx_init(&x, 8, 0);
	cr_assert_eq(vq_queue_flush(&x.q), 0);
	cr_assert_eq(x.q.stats.notifications, 0);
	cr_assert_eq(x.q.stats.suppressed, 0);
	cr_assert_eq(x.f.interrupts, 0);
	fx_add_simple(&x, 1, 1, 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_queue_flush(&x.q), 0, "popped, not pushed");
	cr_assert_eq(vq_queue_push(&x.q, &x.c, 1), 0);
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	cr_assert_eq(vq_queue_flush(&x.q), 0, "already published");
	cr_assert_eq(x.q.stats.notifications, 1);
	cr_assert_eq(x.q.stats.suppressed, 0);
	cr_assert_eq(x.f.interrupts, 1);
	fx_fini(&x);
}

Test(queue, notify_callback_optional)
{
	struct vq_queue_config cfg;
	struct vq_queue q;
	fake_only(8, 1, &cfg); /* notify left NULL: the caller polls */
	cr_assert_eq(vq_queue_init(&q, &cfg), 0);
	struct vq_fake_buf b = { vq_fake_alloc(&f, 4), 4, true };
	int head = vq_fake_add(&f, &b, 1, 0);
	vq_fake_publish(&f);
	struct iovec iov[2];
	struct vq_chain c;
	vq_chain_init(&c, iov, 2);
	cr_assert_eq(vq_queue_pop(&q, &c), 1);
	cr_assert_eq(vq_queue_push(&q, &c, 4), 0);
	cr_assert_eq(vq_queue_flush(&q), 1, "the driver wants it, even with no callback");
	cr_assert_eq(q.stats.notifications, 1);
	cr_assert_eq(f.interrupts, 0);
	uint32_t id, len;
	cr_assert_eq(vq_fake_get_used(&f, &id, &len), 1);
	cr_assert_eq(id, (uint32_t)head);
	cr_assert_eq(len, 4);
	vq_fake_destroy(&f);
}

/* ---- batching ---- */

Test(queue, batch_one_flush_one_notification)
{
	fx_init(&x, 16, 0);
	struct vq_chain cs[16];
	struct iovec iov[16][2];
	int heads[16];
	for (unsigned i = 0; i < 16; i++) {
		vq_chain_init(&cs[i], iov[i], 2);
		heads[i] = vq_fake_add(&x.f, &(struct vq_fake_buf){ vq_fake_alloc(&x.f, 8), 8, true }, 1, 0);
		cr_assert_eq(heads[i], (int)i);
	}
	cr_assert_eq(vq_fake_publish(&x.f), 1, "one kick for the whole batch");
	cr_assert_eq(x.f.kicks, 1);
	for (unsigned i = 0; i < 16; i++)
		cr_assert_eq(vq_queue_pop(&x.q, &cs[i]), 1);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 0);
	/* Complete out of order: used entries follow push order. */
	for (unsigned i = 0; i < 16; i++)
		cr_assert_eq(vq_queue_push(&x.q, &cs[15 - i], i % 9), 0);
	cr_assert_eq(vq_fake_used_pending(&x.f), 0);
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	cr_assert_eq(x.q.stats.notifications, 1);
	cr_assert_eq(x.q.stats.suppressed, 0);
	cr_assert_eq(x.f.interrupts, 1);
	cr_assert_eq(vq_fake_used_pending(&x.f), 16);
	for (unsigned i = 0; i < 16; i++)
		fx_expect_used(&x, (uint32_t)heads[15 - i], i % 9);
	fx_expect_no_used(&x);
	cr_assert_eq(vq_fake_num_free(&x.f), 16);
	fx_fini(&x);
}

/* ---- counters ---- */

Test(queue, counters)
{
	fx_init(&x, 8, 0);
	/* Two good chains, one flush. */
	fx_add_simple(&x, 1, 1, 0);
	fx_add_simple(&x, 1, 1, 0);
	struct vq_chain c2;
	struct iovec iov2[4];
	vq_chain_init(&c2, iov2, 4);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_queue_pop(&x.q, &c2), 1);
	vq_queue_push(&x.q, &x.c, 0);
	vq_queue_push(&x.q, &c2, 0);
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	cr_assert_eq(x.q.stats.chains, 2);
	cr_assert_eq(x.q.stats.bad_chains, 0);
	cr_assert_eq(x.q.stats.notifications, 1);
	cr_assert_eq(x.q.stats.suppressed, 0);

	/* A bad chain (buffer outside memory) counts apart. */
	vq_fake_write_desc(&x.f, 7, 0x1000, 16, 0, 0);
	vq_fake_add_raw_head(&x.f, 7);
	vq_fake_publish(&x.f);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), -EFAULT);
	cr_assert_eq(x.q.stats.chains, 2);
	cr_assert_eq(x.q.stats.bad_chains, 1);

	/* The driver suppresses interrupts: the flush counts as suppressed. */
	vq_fake_disable_interrupts(&x.f);
	cr_assert_eq(vq_queue_flush(&x.q), 0);
	cr_assert_eq(x.q.stats.notifications, 1);
	cr_assert_eq(x.q.stats.suppressed, 1);
	cr_assert_eq(x.f.interrupts, 1);
	fx_expect_used(&x, 0, 0);
	fx_expect_used(&x, 2, 0);
	fx_expect_used(&x, 7, 0);

	vq_fake_enable_interrupts(&x.f);
	fx_add_simple(&x, 1, 1, 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	vq_queue_push(&x.q, &x.c, 1);
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	cr_assert_eq(x.q.stats.chains, 3);
	cr_assert_eq(x.q.stats.bad_chains, 1);
	cr_assert_eq(x.q.stats.notifications, 2);
	cr_assert_eq(x.q.stats.suppressed, 1);
	cr_assert_eq(x.f.interrupts, 2);
	fx_fini(&x);
}

/* ---- long chains ---- */

/* A chain of @n descriptors, @n/2 readable then the rest writable, buffer k
 * of length k % 7 + 1.  Checks the popped chain segment by segment. */
static void long_chain(uint32_t size, uint32_t n, unsigned flags)
{
	fx_init_cfg(&x, (struct vq_fake_config){ .size = size, .features = F_IND,
						  .region_size = 4u << 20 }, n);
	struct vq_fake_buf *b = calloc(n, sizeof(*b));
	cr_assert_not_null(b);
	uint32_t rlen = 0, wlen = 0;
	for (uint32_t k = 0; k < n; k++) {
		b[k].len = k % 7 + 1;
		b[k].gpa = vq_fake_alloc(&x.f, b[k].len);
		b[k].writable = k >= n / 2;
		cr_assert_neq(b[k].gpa, 0);
		*(b[k].writable ? &wlen : &rlen) += b[k].len;
	}
	int head = fx_add(&x, b, n, flags);
	cr_assert_eq(vq_fake_num_free(&x.f), flags ? size - 1 : size - n);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(x.c.id, head);
	cr_assert_eq(x.c.ndesc, flags ? 1 : n);
	cr_assert_eq(x.c.nreadable, n / 2);
	cr_assert_eq(x.c.nwritable, n - n / 2);
	cr_assert_eq(x.c.readable_len, rlen);
	cr_assert_eq(x.c.writable_len, wlen);
	for (uint32_t k = 0; k < n; k++) {
		cr_assert_eq(x.c.iov[k].iov_base, vq_fake_host(&x.f, b[k].gpa, b[k].len), "seg %u", k);
		cr_assert_eq(x.c.iov[k].iov_len, b[k].len, "seg %u", k);
	}
	cr_assert_eq(vq_queue_push(&x.q, &x.c, wlen), 0);
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	fx_expect_used(&x, (uint32_t)head, wlen);
	cr_assert_eq(vq_fake_num_free(&x.f), size);
	free(b);
	fx_fini(&x);
}

Test(queue, chain_queue_size_long_direct) { long_chain(128, 128, 0); }
Test(queue, chain_queue_size_long_indirect) { long_chain(128, 128, VQ_FAKE_INDIRECT); }
Test(queue, chain_max_queue_size_long_direct) { long_chain(32768, 32768, 0); }
Test(queue, chain_max_queue_size_long_indirect) { long_chain(32768, 32768, VQ_FAKE_INDIRECT); }
Test(queue, chain_single_descriptor_queue) { long_chain(1, 1, 0); }

Test(queue, zero_length_descriptors_skipped)
{
	fx_init(&x, 16, F_IND);
	for (unsigned flags = 0; flags <= VQ_FAKE_INDIRECT; flags += VQ_FAKE_INDIRECT) {
		uint64_t r = vq_fake_alloc(&x.f, 5), w = vq_fake_alloc(&x.f, 3);
		struct vq_fake_buf b[] = {
			{ r, 0, false }, { r, 5, false }, { 0x1000 /* not memory */, 0, false },
			{ w, 0, true }, { w, 3, true }, { 0, 0, true },
		};
		int head = fx_add(&x, b, 6, flags);
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
		cr_assert_eq(x.c.id, head);
		cr_assert_eq(x.c.ndesc, flags ? 1 : 6);
		cr_assert_eq(x.c.nreadable, 1);
		cr_assert_eq(x.c.nwritable, 1);
		cr_assert_eq(x.c.readable_len, 5);
		cr_assert_eq(x.c.writable_len, 3);
		cr_assert_eq(x.c.iov[0].iov_base, vq_fake_host(&x.f, r, 5));
		cr_assert_eq(x.c.iov[0].iov_len, 5);
		cr_assert_eq(x.c.iov[1].iov_base, vq_fake_host(&x.f, w, 3));
		cr_assert_eq(x.c.iov[1].iov_len, 3);
		cr_assert_eq(vq_queue_push(&x.q, &x.c, 3), 0);
		vq_queue_flush(&x.q);
		fx_expect_used(&x, (uint32_t)head, 3);
	}
	/* All zero-length: a good, empty chain. */
	struct vq_fake_buf z[] = { { 0, 0, false }, { 0, 0, true } };
	int head = fx_add(&x, z, 2, 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(x.c.nreadable + x.c.nwritable, 0);
	cr_assert_eq(x.c.readable_len + x.c.writable_len, 0);
	cr_assert_eq(vq_queue_push(&x.q, &x.c, 0), 0);
	vq_queue_flush(&x.q);
	fx_expect_used(&x, (uint32_t)head, 0);
	cr_assert_eq(x.q.stats.bad_chains, 0);
	fx_fini(&x);
}

/* ---- resume ---- */

Test(queue, resume_with_last_avail_idx)
{
	fx_init(&x, 8, 0);
	for (unsigned i = 0; i < 5; i++)
		cr_assert_eq(fx_add_w(&x, 4), (int)i);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
		cr_assert_eq(x.c.id, i);
		vq_queue_push(&x.q, &x.c, i);
	}
	vq_queue_flush(&x.q);
	uint16_t base = vq_queue_last_avail(&x.q);
	cr_assert_eq(base, 3);
	vq_queue_destroy(&x.q);

	/* A new device instance picks up where the old one stopped. */
	struct vq_queue_config cfg;
	vq_fake_queue_config(&x.f, &cfg);
	cfg.last_avail_idx = base;
	cfg.notify = vq_fake_interrupt;
	cfg.notify_opaque = &x.f;
	cr_assert_eq(vq_queue_init(&x.q, &cfg), 0);
	cr_assert_eq(vq_queue_last_avail(&x.q), 3);
	cr_assert_eq(vq_queue_pending(&x.q), 2);
	for (unsigned i = 3; i < 5; i++) {
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
		cr_assert_eq(x.c.id, i);
		vq_queue_push(&x.q, &x.c, i);
	}
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 0);
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	/* The used index continued from the ring, not from 0. */
	cr_assert_eq(vq_load16(&x.f.used->idx), 5);
	for (unsigned i = 0; i < 5; i++)
		fx_expect_used(&x, i, i);
	fx_expect_no_used(&x);
	fx_fini(&x);
}

Test(queue, resume_near_wrap)
{
	/* A saved base of 65534: indices wrap during the first few pops. */
	fx_init(&x, 4, 0);
	vq_fake_set_avail_idx(&x.f, 65534);
	vq_store16(&x.f.used->idx, 65534);
	x.f.last_used = 65534;
	struct vq_queue_config cfg;
	vq_fake_queue_config(&x.f, &cfg);
	cfg.last_avail_idx = 65534;
	cr_assert_eq(vq_queue_init(&x.q, &cfg), 0);
	cr_assert_eq(vq_queue_pending(&x.q), 0);
	for (unsigned i = 0; i < 4; i++)
		fx_add_w(&x, 1);
	cr_assert_eq(vq_load16(&x.f.avail->idx), 2);
	cr_assert_eq(vq_queue_pending(&x.q), 4);
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
		cr_assert_eq(x.c.id, i);
		vq_queue_push(&x.q, &x.c, 1);
	}
	cr_assert_eq(vq_queue_last_avail(&x.q), 2);
	vq_queue_flush(&x.q);
	cr_assert_eq(vq_load16(&x.f.used->idx), 2);
	for (unsigned i = 0; i < 4; i++)
		fx_expect_used(&x, i, 1);
	fx_fini(&x);
}

/* ---- 16-bit index wrap ---- */

Test(queue, index_wrap_many_chains)
{
	enum { SIZE = 8, MAX_BATCH = 5, TOTAL = 3 * 65536 + 123 };
	fx_init(&x, SIZE, F_IND);
	uint64_t in[SIZE], out[SIZE];
	for (unsigned k = 0; k < SIZE; k++) {
		in[k] = vq_fake_alloc(&x.f, 4);
		out[k] = vq_fake_alloc(&x.f, 4);
	}
	uint32_t done = 0;
	unsigned batch = 1;
	while (done < TOTAL) {
		unsigned n = batch;
		if (n > TOTAL - done)
			n = TOTAL - done;
		/* Driver: n chains, each carrying its sequence number. */
		for (unsigned k = 0; k < n; k++) {
			uint32_t seq = done + k;
			vq_fake_write_mem(&x.f, in[k], &seq, 4);
			struct vq_fake_buf b[2] = { { in[k], 4, false }, { out[k], 4, true } };
			cr_assert_geq(vq_fake_add(&x.f, b, 2, (seq & 1) ? VQ_FAKE_INDIRECT : 0), 0);
		}
		vq_fake_publish(&x.f);
		cr_assert_eq(vq_queue_pending(&x.q), n);
		/* Device: echo seq + 1. */
		for (unsigned k = 0; k < n; k++) {
			cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
			struct vq_reader r;
			struct vq_writer w;
			vq_reader_init(&r, &x.c);
			vq_writer_init(&w, &x.c);
			uint32_t seq;
			cr_assert_eq(vq_reader_read_all(&r, &seq, 4), 0);
			cr_assert_eq(seq, done + k);
			seq++;
			cr_assert_eq(vq_writer_write_all(&w, &seq, 4), 0);
			cr_assert_eq(vq_queue_push(&x.q, &x.c, 4), 0);
		}
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 0);
		vq_queue_flush(&x.q);
		/* Driver: collect. */
		cr_assert_eq(vq_fake_used_pending(&x.f), n);
		for (unsigned k = 0; k < n; k++) {
			uint32_t id, len, seq;
			cr_assert_eq(vq_fake_get_used(&x.f, &id, &len), 1);
			cr_assert_eq(len, 4);
			cr_assert_lt(id, SIZE);
			cr_assert_eq(vq_fake_read_mem(&x.f, out[k], &seq, 4), 0);
			cr_assert_eq(seq, done + k + 1);
		}
		vq_fake_enable_interrupts(&x.f);
		done += n;
		batch = batch % MAX_BATCH + 1;
	}
	cr_assert_eq(x.q.stats.chains, TOTAL);
	cr_assert_eq(x.q.stats.bad_chains, 0);
	cr_assert_eq(vq_queue_last_avail(&x.q), (uint16_t)TOTAL);
	cr_assert_eq(vq_load16(&x.f.used->idx), (uint16_t)TOTAL);
	cr_assert_eq(vq_load16(&x.f.avail->idx), (uint16_t)TOTAL);
	cr_assert_eq(vq_fake_num_free(&x.f), SIZE);
	cr_assert_not(vq_queue_is_broken(&x.q));
	fx_fini(&x);
}

/* ---- pending ---- */

Test(queue, pending)
{
	fx_init(&x, 8, 0);
	cr_assert_eq(vq_queue_pending(&x.q), 0);
	for (unsigned i = 0; i < 3; i++)
		fx_add_w(&x, 1);
	cr_assert_eq(vq_queue_pending(&x.q), 3);
	cr_assert_eq(vq_queue_pending(&x.q), 3, "does not consume");
	cr_assert_eq(vq_queue_last_avail(&x.q), 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_queue_pending(&x.q), 2);
	for (unsigned i = 0; i < 5; i++)
		fx_add_w(&x, 1);
	cr_assert_eq(vq_queue_pending(&x.q), 7);
	while (vq_queue_pop(&x.q, &x.c) == 1)
		;
	cr_assert_eq(vq_queue_pending(&x.q), 0);
	cr_assert_eq(x.q.stats.chains, 8);
	fx_fini(&x);
}

Test(queue, pending_full_ring_is_not_corruption)
{
	fx_init(&x, 8, 0);
	for (unsigned i = 0; i < 8; i++)
		fx_add_w(&x, 1);
	cr_assert_eq(vq_queue_pending(&x.q), 8);
	cr_assert_not(vq_queue_is_broken(&x.q));
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_queue_pending(&x.q), 0);
	fx_fini(&x);
}

/* ---- a transport's own translator ---- */

/* Maps the fake's guest memory through its public accessors, one region at
 * a time, as a VMM's memory map would. */
static void *fake_translate(void *opaque, uint64_t gpa, uint64_t len, uint64_t *contig)
{
	struct vq_fake *f = opaque;
	if (gpa < f->gpa_base)
		return NULL;
	uint64_t off = (gpa - f->gpa_base) % f->region_size;
	uint64_t room = f->region_size - off;
	uint64_t n = len < room ? len : room;
	void *p = vq_fake_host(f, gpa, n);
	if (p)
		*contig = n;
	return p;
}

Test(queue, translator_backed_memory)
{
	fx_init_cfg(&x, (struct vq_fake_config){ .size = 8, .nregions = 2 }, 8);
	struct vq_mem m;
	vq_mem_init(&m);
	vq_mem_set_translator(&m, fake_translate, &x.f);
	struct vq_queue_config cfg;
	vq_fake_queue_config(&x.f, &cfg);
	cfg.mem = &m;
	cr_assert_eq(vq_queue_init(&x.q, &cfg), 0);
	uint64_t boundary = x.f.gpa_base + x.f.region_size;
	uint8_t src[64];
	fx_fill(src, sizeof(src), 1);
	cr_assert_eq(vq_fake_write_mem(&x.f, boundary - 24, src, 64), 0);
	struct vq_fake_buf b[] = { { boundary - 24, 64, false }, { 0x1000, 4, true } };
	int head = fx_add(&x, b, 1, 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(x.c.nreadable, 2);
	cr_assert_eq(x.c.iov[0].iov_len, 24);
	cr_assert_eq(x.c.iov[1].iov_len, 40);
	struct vq_reader r;
	vq_reader_init(&r, &x.c);
	uint8_t got[64];
	cr_assert_eq(vq_reader_read(&r, got, 64), 64);
	cr_assert_eq(memcmp(got, src, 64), 0);
	vq_queue_push(&x.q, &x.c, 0);
	vq_queue_flush(&x.q);
	fx_expect_used(&x, (uint32_t)head, 0);
	/* Unmapped through the translator as well. */
	head = fx_add(&x, b + 1, 1, 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), -EFAULT);
	vq_queue_flush(&x.q);
	fx_expect_used(&x, (uint32_t)head, 0);
	fx_fini(&x);
}
