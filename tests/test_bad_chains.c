/* SPDX-License-Identifier: MIT */
/*
 * Every ring-level and chain-level bad input of DESIGN.md ("The guest is
 * untrusted"), one test each, with its exact outcome:
 *  - chain level: vq_queue_pop() returns the error, the chain goes back to
 *    the driver with length 0 on the next flush, stats.bad_chains counts it,
 *    and a good chain works afterwards;
 *  - ring level: the queue is broken and pop / push / flush / enable_notify
 *    return -EIO from then on.
 */
#include "fixture.h"

#define QSIZE 8u
#define W VQ_DESC_F_WRITE
#define N VQ_DESC_F_NEXT
#define I VQ_DESC_F_INDIRECT

static struct fx x;
static uint64_t buf; /* 64 bytes of guest memory for descriptors to name */

static void setup_with(uint64_t features, unsigned nregions, uint32_t iov_cap)
{
	fx_init_cfg(&x, (struct vq_fake_config){ .size = QSIZE, .features = features,
						  .nregions = nregions }, iov_cap);
	buf = vq_fake_alloc(&x.f, 64);
	cr_assert_neq(buf, 0);
}

static void setup(void) { setup_with(F_IND, 1, 64); }
static void teardown(void) { fx_fini(&x); }

/* For the few tests that need another shape than the suite's. */
static void resetup(uint64_t features, unsigned nregions, uint32_t iov_cap)
{
	fx_fini(&x);
	setup_with(features, nregions, iov_cap);
}

TestSuite(bad, .init = setup, .fini = teardown);

/* Make the chain at @head available (the descriptors are already written). */
static void publish_raw(uint16_t head)
{
	vq_fake_add_raw_head(&x.f, head);
	vq_fake_publish(&x.f);
}

/*
 * Pop with @c and expect the chain-level outcome: @err, @head back with
 * length 0 after a flush (not before), counted, queue still good.
 */
static void expect_bad_with(struct vq_chain *c, uint16_t head, int err)
{
	uint64_t bad = x.q.stats.bad_chains, good = x.q.stats.chains;
	uint16_t last = vq_queue_last_avail(&x.q);
	c->nreadable = c->nwritable = 77;
	c->readable_len = c->writable_len = 77;
	int r = vq_queue_pop(&x.q, c);
	cr_assert_eq(r, err, "pop returned %d, expected %d", r, err);
	cr_assert_eq(c->id, head, "the chain's id is reported even when bad");
	cr_assert_eq(c->nreadable, 0);
	cr_assert_eq(c->nwritable, 0);
	cr_assert_eq(c->readable_len, 0);
	cr_assert_eq(c->writable_len, 0);
	cr_assert_eq(x.q.stats.bad_chains, bad + 1);
	cr_assert_eq(x.q.stats.chains, good);
	cr_assert_eq(vq_queue_last_avail(&x.q), (uint16_t)(last + 1), "the chain was consumed");
	cr_assert_not(vq_queue_is_broken(&x.q));
	cr_assert_eq(vq_fake_used_pending(&x.f), 0, "not visible before the flush");
	cr_assert_geq(vq_queue_flush(&x.q), 0);
	fx_expect_used(&x, head, 0);
	fx_expect_no_used(&x);
	cr_assert_eq(vq_queue_pop(&x.q, c), 0, "nothing else available");
	fx_round_trip(&x);
	cr_assert_eq(x.q.stats.bad_chains, bad + 1);
}

static void expect_bad(uint16_t head, int err)
{
	expect_bad_with(&x.c, head, err);
}

/* The ring-level outcome: broken for good, every call -EIO. */
static void expect_broken(void)
{
	uint64_t bad = x.q.stats.bad_chains;
	uint16_t used_idx = vq_load16(&x.f.used->idx);
	uint16_t used_flags = vq_load16(&x.f.used->flags);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), -EIO);
	cr_assert(vq_queue_is_broken(&x.q));
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), -EIO, "still -EIO");
	cr_assert_eq(vq_queue_push(&x.q, &x.c, 0), -EIO);
	cr_assert_eq(vq_queue_flush(&x.q), -EIO);
	cr_assert_eq(vq_queue_enable_notify(&x.q), -EIO);
	vq_queue_disable_notify(&x.q);
	cr_assert_eq(vq_queue_pending(&x.q), 0);
	cr_assert_eq(x.q.stats.bad_chains, bad, "ring corruption is not a bad chain");
	/* Nothing was written to the driver's used ring. */
	cr_assert_eq(vq_load16(&x.f.used->idx), used_idx);
	cr_assert_eq(vq_load16(&x.f.used->flags), used_flags);
	fx_expect_no_used(&x);
	/* Even a well-formed chain gets nowhere now. */
	vq_fake_set_avail_idx(&x.f, vq_queue_last_avail(&x.q));
	fx_add_w(&x, 8);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), -EIO);
	cr_assert_eq(vq_queue_flush(&x.q), -EIO);
	cr_assert_eq(vq_queue_enable_notify(&x.q), -EIO);
	cr_assert(vq_queue_is_broken(&x.q));
}

/* ======================= ring level ======================= */

Test(bad, avail_idx_more_than_queue_size_ahead)
{
	vq_fake_set_avail_idx(&x.f, QSIZE + 1);
	expect_broken();
}

Test(bad, avail_idx_far_ahead)
{
	vq_fake_set_avail_idx(&x.f, 0x8000);
	expect_broken();
}

Test(bad, avail_idx_moved_backwards)
{
	/* Three chains consumed, then the driver winds avail->idx back by one:
	 * seen as 65535 chains ahead. */
	for (unsigned i = 0; i < 3; i++) {
		fx_add_w(&x, 1);
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
		vq_queue_push(&x.q, &x.c, 0);
	}
	vq_queue_flush(&x.q);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(vq_fake_get_used(&x.f, &(uint32_t){ 0 }, &(uint32_t){ 0 }), 1);
	vq_fake_set_avail_idx(&x.f, 2);
	expect_broken();
}

Test(bad, avail_idx_too_far_ahead_seen_by_pending)
{
	vq_fake_set_avail_idx(&x.f, QSIZE + 1);
	cr_assert_eq(vq_queue_pending(&x.q), 0);
	cr_assert(vq_queue_is_broken(&x.q));
	expect_broken();
}

Test(bad, avail_idx_too_far_ahead_seen_by_enable_notify)
{
	vq_queue_disable_notify(&x.q);
	vq_fake_set_avail_idx(&x.f, QSIZE + 1);
	cr_assert_eq(vq_queue_enable_notify(&x.q), -EIO);
	cr_assert(vq_queue_is_broken(&x.q));
	expect_broken();
}

Test(bad, avail_idx_exactly_queue_size_ahead_is_fine)
{
	/* A full ring is legal.  The zeroed ring names head 0 eight times and
	 * descriptor 0 is all zeroes: an empty, well-formed chain. */
	vq_fake_set_avail_idx(&x.f, QSIZE);
	cr_assert_eq(vq_queue_pending(&x.q), QSIZE);
	for (unsigned i = 0; i < QSIZE; i++) {
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
		cr_assert_eq(x.c.id, 0);
		cr_assert_eq(x.c.readable_len + x.c.writable_len, 0);
		cr_assert_eq(vq_queue_push(&x.q, &x.c, 0), 0);
	}
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 0);
	cr_assert_not(vq_queue_is_broken(&x.q));
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	cr_assert_eq(vq_fake_used_pending(&x.f), QSIZE);
}

Test(bad, head_index_equal_to_queue_size)
{
	publish_raw(QSIZE);
	expect_broken();
}

Test(bad, head_index_max)
{
	publish_raw(0xffff);
	expect_broken();
}

Test(bad, head_index_out_of_range_after_good_chains)
{
	/* Chains popped before the corruption cannot be completed either. */
	fx_add_w(&x, 8);
	struct vq_chain early;
	struct iovec iov[2];
	vq_chain_init(&early, iov, 2);
	cr_assert_eq(vq_queue_pop(&x.q, &early), 1);
	publish_raw(QSIZE + 3);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), -EIO);
	cr_assert_eq(vq_queue_push(&x.q, &early, 8), -EIO);
	expect_broken();
}

/* ======================= chain level: descriptor links ======================= */

Test(bad, next_out_of_range_direct)
{
	vq_fake_write_desc(&x.f, 0, buf, 8, N, QSIZE);
	publish_raw(0);
	expect_bad(0, -EINVAL);
	vq_fake_write_desc(&x.f, 3, buf, 8, N, 0xffff);
	publish_raw(3);
	expect_bad(3, -EINVAL);
}

Test(bad, next_out_of_range_direct_late_in_chain)
{
	vq_fake_write_desc(&x.f, 5, buf, 8, N, 6);
	vq_fake_write_desc(&x.f, 6, buf, 8, W | N, 7);
	vq_fake_write_desc(&x.f, 7, buf, 8, W | N, 200);
	publish_raw(5);
	expect_bad(5, -EINVAL);
}

Test(bad, next_out_of_range_inside_indirect_table)
{
	/* Index 2 is a valid queue slot but past this 2-entry table. */
	uint64_t t = vq_fake_alloc_table(&x.f, 2);
	vq_fake_write_table(&x.f, t, 0, buf, 8, N, 1);
	vq_fake_write_table(&x.f, t, 1, buf, 8, W | N, 2);
	vq_fake_write_desc(&x.f, 1, t, 2 * 16, I, 0);
	publish_raw(1);
	expect_bad(1, -EINVAL);
}

Test(bad, loop_direct)
{
	vq_fake_write_desc(&x.f, 0, buf, 8, N, 1);
	vq_fake_write_desc(&x.f, 1, buf, 8, N, 2);
	vq_fake_write_desc(&x.f, 2, buf, 8, N, 1);
	publish_raw(0);
	expect_bad(0, -ELOOP);
}

Test(bad, self_loop_direct)
{
	vq_fake_write_desc(&x.f, 4, buf, 8, W | N, 4);
	publish_raw(4);
	expect_bad(4, -ELOOP);
}

Test(bad, self_loop_zero_length)
{
	/* Zero-length descriptors add no bytes but still count. */
	vq_fake_write_desc(&x.f, 2, 0, 0, N, 2);
	publish_raw(2);
	expect_bad(2, -ELOOP);
}

Test(bad, loop_inside_indirect_table)
{
	uint64_t t = vq_fake_alloc_table(&x.f, 4);
	vq_fake_write_table(&x.f, t, 0, buf, 4, N, 1);
	vq_fake_write_table(&x.f, t, 1, buf, 4, N, 2);
	vq_fake_write_table(&x.f, t, 2, buf, 4, N, 3);
	vq_fake_write_table(&x.f, t, 3, buf, 4, N, 1);
	vq_fake_write_desc(&x.f, 0, t, 4 * 16, I, 0);
	publish_raw(0);
	expect_bad(0, -ELOOP);
}

Test(bad, self_loop_inside_indirect_table)
{
	uint64_t t = vq_fake_alloc_table(&x.f, 1);
	vq_fake_write_table(&x.f, t, 0, buf, 4, W | N, 0);
	vq_fake_write_desc(&x.f, 6, t, 16, I, 0);
	publish_raw(6);
	expect_bad(6, -ELOOP);
}

Test(bad, more_descriptors_than_queue_size)
{
	/* Visit every descriptor once, then come back to the first. */
	for (uint16_t i = 0; i < QSIZE; i++)
		vq_fake_write_desc(&x.f, i, buf, 1, N, (uint16_t)((i + 1) % QSIZE));
	publish_raw(0);
	expect_bad(0, -ELOOP);
}

Test(bad, exactly_queue_size_descriptors_is_fine)
{
	for (uint16_t i = 0; i < QSIZE; i++)
		vq_fake_write_desc(&x.f, i, buf + i, 1, i + 1u < QSIZE ? N : 0, (uint16_t)(i + 1));
	publish_raw(0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(x.c.ndesc, QSIZE);
	cr_assert_eq(x.c.nreadable, QSIZE);
	cr_assert_eq(x.c.readable_len, QSIZE);
	cr_assert_eq(x.q.stats.bad_chains, 0);
}

Test(bad, more_descriptors_than_indirect_table)
{
	/* A 3-entry table whose last entry goes back to the start. */
	uint64_t t = vq_fake_alloc_table(&x.f, 3);
	vq_fake_write_table(&x.f, t, 0, buf, 1, N, 1);
	vq_fake_write_table(&x.f, t, 1, buf, 1, N, 2);
	vq_fake_write_table(&x.f, t, 2, buf, 1, N, 0);
	vq_fake_write_desc(&x.f, 0, t, 3 * 16, I, 0);
	publish_raw(0);
	expect_bad(0, -ELOOP);
}

/* ======================= chain level: direction ======================= */

Test(bad, readable_after_writable)
{
	vq_fake_write_desc(&x.f, 0, buf, 8, N, 1);
	vq_fake_write_desc(&x.f, 1, buf + 8, 8, W | N, 2);
	vq_fake_write_desc(&x.f, 2, buf + 16, 8, 0, 0);
	publish_raw(0);
	expect_bad(0, -EINVAL);
}

Test(bad, readable_after_zero_length_writable)
{
	vq_fake_write_desc(&x.f, 0, buf, 8, N, 1);
	vq_fake_write_desc(&x.f, 1, buf + 8, 0, W | N, 2);
	vq_fake_write_desc(&x.f, 2, buf + 16, 8, 0, 0);
	publish_raw(0);
	expect_bad(0, -EINVAL);
}

Test(bad, zero_length_readable_after_writable)
{
	vq_fake_write_desc(&x.f, 0, buf, 8, W | N, 1);
	vq_fake_write_desc(&x.f, 1, buf, 0, N, 2);
	vq_fake_write_desc(&x.f, 2, buf, 8, W, 0);
	publish_raw(0);
	expect_bad(0, -EINVAL);
}

Test(bad, readable_after_writable_inside_indirect_table)
{
	uint64_t t = vq_fake_alloc_table(&x.f, 3);
	vq_fake_write_table(&x.f, t, 0, buf, 8, W | N, 1);
	vq_fake_write_table(&x.f, t, 1, buf, 8, W | N, 2);
	vq_fake_write_table(&x.f, t, 2, buf, 8, 0, 0);
	vq_fake_write_desc(&x.f, 0, t, 3 * 16, I, 0);
	publish_raw(0);
	expect_bad(0, -EINVAL);
}

/* ======================= chain level: indirect tables ======================= */

Test(bad, nested_indirect)
{
	uint64_t inner = vq_fake_alloc_table(&x.f, 1);
	vq_fake_write_table(&x.f, inner, 0, buf, 8, 0, 0);
	uint64_t outer = vq_fake_alloc_table(&x.f, 2);
	vq_fake_write_table(&x.f, outer, 0, buf, 8, N, 1);
	vq_fake_write_table(&x.f, outer, 1, inner, 16, I, 0);
	vq_fake_write_desc(&x.f, 0, outer, 2 * 16, I, 0);
	publish_raw(0);
	expect_bad(0, -EINVAL);
}

Test(bad, nested_indirect_first_entry)
{
	uint64_t t = vq_fake_alloc_table(&x.f, 1);
	vq_fake_write_table(&x.f, t, 0, t, 16, I, 0); /* points at itself */
	vq_fake_write_desc(&x.f, 0, t, 16, I, 0);
	publish_raw(0);
	expect_bad(0, -EINVAL);
}

Test(bad, indirect_without_feature)
{
	resetup(0, 1, 64);
	uint64_t t = vq_fake_alloc_table(&x.f, 1);
	vq_fake_write_table(&x.f, t, 0, buf, 8, 0, 0); /* a fine table */
	vq_fake_write_desc(&x.f, 0, t, 16, I, 0);
	publish_raw(0);
	expect_bad(0, -EINVAL);
}

Test(bad, indirect_with_next)
{
	uint64_t t = vq_fake_alloc_table(&x.f, 1);
	vq_fake_write_table(&x.f, t, 0, buf, 8, 0, 0);
	vq_fake_write_desc(&x.f, 0, t, 16, I | N, 1);
	vq_fake_write_desc(&x.f, 1, buf, 8, W, 0);
	publish_raw(0);
	expect_bad(0, -EINVAL);
}

Test(bad, indirect_len_zero)
{
	uint64_t t = vq_fake_alloc_table(&x.f, 1);
	vq_fake_write_desc(&x.f, 0, t, 0, I, 0);
	publish_raw(0);
	expect_bad(0, -EINVAL);
}

Test(bad, indirect_len_not_multiple_of_16)
{
	uint64_t t = vq_fake_alloc_table(&x.f, 4);
	for (uint32_t i = 0; i < 4; i++)
		vq_fake_write_table(&x.f, t, i, buf, 1, i < 3 ? N : 0, (uint16_t)(i + 1));
	const uint32_t lens[] = { 1, 8, 15, 17, 24, 63 };
	for (unsigned k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		vq_fake_write_desc(&x.f, 5, t, lens[k], I, 0);
		publish_raw(5);
		expect_bad(5, -EINVAL);
	}
}

Test(bad, indirect_above_32768_entries)
{
	uint64_t t = vq_fake_alloc_table(&x.f, 32769);
	cr_assert_neq(t, 0);
	vq_fake_write_table(&x.f, t, 0, buf, 8, 0, 0);
	vq_fake_write_desc(&x.f, 0, t, 32769 * 16, I, 0);
	publish_raw(0);
	expect_bad(0, -EINVAL);
}

Test(bad, indirect_32768_entries_is_fine)
{
	uint64_t t = vq_fake_alloc_table(&x.f, 32768);
	cr_assert_neq(t, 0);
	vq_fake_write_table(&x.f, t, 0, buf, 8, W, 0);
	vq_fake_write_desc(&x.f, 0, t, 32768 * 16, I, 0);
	publish_raw(0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(x.c.writable_len, 8);
	cr_assert_eq(x.c.ndesc, 1);
}

Test(bad, indirect_table_outside_memory)
{
	vq_fake_write_desc(&x.f, 0, 0x1000, 16, I, 0);
	publish_raw(0);
	expect_bad(0, -EFAULT);
	vq_fake_write_desc(&x.f, 0, fx_mem_end(&x), 16, I, 0);
	publish_raw(0);
	expect_bad(0, -EFAULT);
}

Test(bad, indirect_table_partly_outside_memory)
{
	uint64_t end = fx_mem_end(&x);
	vq_fake_write_table(&x.f, end - 16, 0, buf, 8, 0, 0);
	vq_fake_write_desc(&x.f, 0, end - 16, 32, I, 0);
	publish_raw(0);
	expect_bad(0, -EFAULT);
	vq_fake_write_desc(&x.f, 0, x.f.gpa_base - 16, 32, I, 0);
	publish_raw(0);
	expect_bad(0, -EFAULT);
}

Test(bad, indirect_table_wraps)
{
	vq_fake_write_desc(&x.f, 0, UINT64_MAX - 15, 32, I, 0);
	publish_raw(0);
	expect_bad(0, -EOVERFLOW);
	vq_fake_write_desc(&x.f, 0, UINT64_MAX - 15, UINT32_MAX - 15, I, 0);
	publish_raw(0);
	expect_bad(0, -EOVERFLOW);
}

Test(bad, indirect_table_misaligned)
{
	/* A table the device cannot read with aligned 64-bit loads. */
	uint64_t t = vq_fake_alloc_table(&x.f, 2);
	vq_fake_write_table(&x.f, t + 4, 0, buf, 8, 0, 0);
	vq_fake_write_desc(&x.f, 0, t + 4, 16, I, 0);
	publish_raw(0);
	expect_bad(0, -EFAULT);
}

Test(bad, indirect_table_spanning_regions)
{
	/* A table must be host-contiguous; across two regions it is refused. */
	resetup(F_IND, 2, 64);
	uint64_t t = x.f.gpa_base + x.f.region_size - 16;
	vq_fake_write_table(&x.f, t, 0, buf, 8, N, 1);
	vq_fake_write_table(&x.f, t, 1, buf, 8, W, 0);
	vq_fake_write_desc(&x.f, 0, t, 32, I, 0);
	publish_raw(0);
	expect_bad(0, -EFAULT);
}

/* ======================= chain level: buffer addresses ======================= */

Test(bad, buffer_address_wraps)
{
	vq_fake_write_desc(&x.f, 0, UINT64_MAX - 7, 16, 0, 0);
	publish_raw(0);
	expect_bad(0, -EOVERFLOW);
	vq_fake_write_desc(&x.f, 0, buf, 8, N, 1);
	vq_fake_write_desc(&x.f, 1, UINT64_MAX, 2, W, 0);
	publish_raw(0);
	expect_bad(0, -EOVERFLOW);
	vq_fake_write_desc(&x.f, 0, 1, UINT32_MAX, W, 0);
	publish_raw(0);
	expect_bad(0, -EFAULT); /* ends at 2^32: no wrap, just not memory */
}

Test(bad, buffer_address_wraps_inside_indirect_table)
{
	uint64_t t = vq_fake_alloc_table(&x.f, 2);
	vq_fake_write_table(&x.f, t, 0, buf, 8, N, 1);
	vq_fake_write_table(&x.f, t, 1, UINT64_MAX - 3, 8, W, 0);
	vq_fake_write_desc(&x.f, 0, t, 32, I, 0);
	publish_raw(0);
	expect_bad(0, -EOVERFLOW);
}

Test(bad, buffer_outside_driver_memory)
{
	const uint64_t addrs[] = { 0, 0x1000, x.f.gpa_base - 16, fx_mem_end(&x),
				   fx_mem_end(&x) + 0x100000, UINT64_MAX - 64 };
	for (unsigned k = 0; k < sizeof(addrs) / sizeof(addrs[0]); k++) {
		vq_fake_write_desc(&x.f, 0, buf, 8, N, 1);
		vq_fake_write_desc(&x.f, 1, addrs[k], 16, W, 0);
		publish_raw(0);
		expect_bad(0, -EFAULT);
	}
}

Test(bad, buffer_outside_driver_memory_inside_indirect_table)
{
	uint64_t t = vq_fake_alloc_table(&x.f, 1);
	vq_fake_write_table(&x.f, t, 0, 0x2000, 8, 0, 0);
	vq_fake_write_desc(&x.f, 3, t, 16, I, 0);
	publish_raw(3);
	expect_bad(3, -EFAULT);
}

Test(bad, buffer_partly_outside_driver_memory)
{
	/* Straddling the end of memory... */
	vq_fake_write_desc(&x.f, 0, fx_mem_end(&x) - 8, 16, W, 0);
	publish_raw(0);
	expect_bad(0, -EFAULT);
	/* ...and the start. */
	vq_fake_write_desc(&x.f, 0, x.f.gpa_base - 8, 16, 0, 0);
	publish_raw(0);
	expect_bad(0, -EFAULT);
	/* The last byte exactly is fine. */
	vq_fake_write_desc(&x.f, 0, fx_mem_end(&x) - 1, 1, W, 0);
	publish_raw(0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(x.c.writable_len, 1);
	cr_assert_eq(x.c.iov[0].iov_base, vq_fake_host(&x.f, fx_mem_end(&x) - 1, 1));
}

Test(bad, buffer_partly_outside_two_region_memory)
{
	resetup(F_IND, 2, 64);
	/* Crosses the region boundary fine, then runs off the end. */
	uint64_t start = x.f.gpa_base + x.f.region_size - 8;
	vq_fake_write_desc(&x.f, 0, start, (uint32_t)x.f.region_size + 16, W, 0);
	publish_raw(0);
	expect_bad(0, -EFAULT);
}

/* ======================= chain level: sizes ======================= */

/* An indirect chain of @n entries of 1 MiB each (the last @last_len bytes),
 * all naming the start of guest memory, in direction @flags. */
static void big_chain(uint32_t n, uint32_t last_len, uint16_t flags)
{
	cr_assert_eq(x.f.region_size, 1u << 20);
	uint64_t t = vq_fake_alloc_table(&x.f, n);
	cr_assert_neq(t, 0);
	for (uint32_t i = 0; i < n; i++)
		vq_fake_write_table(&x.f, t, i, x.f.gpa_base, i + 1 < n ? 1u << 20 : last_len,
				    (uint16_t)(flags | (i + 1 < n ? N : 0)), (uint16_t)(i + 1));
	vq_fake_write_desc(&x.f, 0, t, n * 16, I, 0);
	publish_raw(0);
}

Test(bad, writable_total_above_4gib)
{
	resetup(F_IND, 1, 4200);
	big_chain(4096, 1u << 20, W); /* exactly 4 GiB */
	expect_bad(0, -EOVERFLOW);
}

Test(bad, readable_total_above_4gib)
{
	resetup(F_IND, 1, 4200);
	big_chain(4097, 1u << 20, 0);
	expect_bad(0, -EOVERFLOW);
}

Test(bad, writable_total_4gib_minus_1_is_fine)
{
	resetup(F_IND, 1, 4200);
	big_chain(4096, (1u << 20) - 1, W);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(x.c.writable_len, UINT32_MAX);
	cr_assert_eq(x.c.nwritable, 4096);
	cr_assert_eq(vq_queue_push(&x.q, &x.c, UINT32_MAX), 0);
	vq_queue_flush(&x.q);
	fx_expect_used(&x, 0, UINT32_MAX);
}

Test(bad, more_segments_than_chain_storage)
{
	struct iovec iov[2];
	struct vq_chain small;
	vq_chain_init(&small, iov, 2);
	for (int round = 0; round < 2; round++) {
		/* expect_bad's round trip reuses descriptors: write them each time. */
		vq_fake_write_desc(&x.f, 4, buf, 8, N, 5);
		vq_fake_write_desc(&x.f, 5, buf + 8, 8, W | N, 6);
		vq_fake_write_desc(&x.f, 6, buf + 16, 8, W, 0);
		publish_raw(4);
		if (round == 0)
			expect_bad_with(&small, 4, -ENOBUFS);
	}
	/* The same chain fits a chain object with one more iovec. */
	struct iovec iov3[3];
	struct vq_chain three;
	vq_chain_init(&three, iov3, 3);
	cr_assert_eq(vq_queue_pop(&x.q, &three), 1);
	cr_assert_eq(three.nreadable, 1);
	cr_assert_eq(three.nwritable, 2);
}

Test(bad, more_segments_than_chain_storage_indirect)
{
	struct iovec iov[3];
	struct vq_chain small;
	vq_chain_init(&small, iov, 3);
	uint64_t t = vq_fake_alloc_table(&x.f, 4);
	for (uint32_t i = 0; i < 4; i++)
		vq_fake_write_table(&x.f, t, i, buf + 8 * i, 8, i < 3 ? N : 0, (uint16_t)(i + 1));
	vq_fake_write_desc(&x.f, 0, t, 64, I, 0);
	publish_raw(0);
	expect_bad_with(&small, 0, -ENOBUFS);
}

Test(bad, no_chain_storage_at_all)
{
	struct vq_chain none;
	vq_chain_init(&none, NULL, 0);
	vq_fake_write_desc(&x.f, 0, buf, 8, 0, 0);
	publish_raw(0);
	expect_bad_with(&none, 0, -ENOBUFS);
}

Test(bad, spanning_buffer_needs_two_segments)
{
	resetup(F_IND, 2, 64);
	struct iovec iov[1];
	struct vq_chain one;
	vq_chain_init(&one, iov, 1);
	vq_fake_write_desc(&x.f, 0, x.f.gpa_base + x.f.region_size - 4, 8, 0, 0);
	publish_raw(0);
	expect_bad_with(&one, 0, -ENOBUFS);
}

/* ======================= legal, if unusual ======================= */

Test(bad, buffer_spanning_two_regions_is_legal)
{
	resetup(F_IND, 2, 64);
	uint64_t boundary = x.f.gpa_base + x.f.region_size;
	uint8_t src[48];
	fx_fill(src, sizeof(src), 3);
	cr_assert_eq(vq_fake_write_mem(&x.f, boundary - 20, src, sizeof(src)), 0);
	for (unsigned flags = 0; flags <= VQ_FAKE_INDIRECT; flags += VQ_FAKE_INDIRECT) {
		struct vq_fake_buf b[] = { { boundary - 20, 48, false },
					   { boundary - 4, 10, true } };
		int head = fx_add(&x, b, 2, flags);
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
		cr_assert_eq(x.c.nreadable, 2);
		cr_assert_eq(x.c.nwritable, 2);
		cr_assert_eq(x.c.readable_len, 48);
		cr_assert_eq(x.c.writable_len, 10);
		cr_assert_eq(x.c.iov[0].iov_base, vq_fake_host(&x.f, boundary - 20, 20));
		cr_assert_eq(x.c.iov[0].iov_len, 20);
		cr_assert_eq(x.c.iov[1].iov_base, vq_fake_host(&x.f, boundary, 28));
		cr_assert_eq(x.c.iov[1].iov_len, 28);
		cr_assert_eq(x.c.iov[2].iov_base, vq_fake_host(&x.f, boundary - 4, 4));
		cr_assert_eq(x.c.iov[2].iov_len, 4);
		cr_assert_eq(x.c.iov[3].iov_base, vq_fake_host(&x.f, boundary, 6));
		cr_assert_eq(x.c.iov[3].iov_len, 6);
		/* The two halves really are apart in host memory. */
		cr_assert_neq((char *)x.c.iov[0].iov_base + 20, x.c.iov[1].iov_base);
		struct vq_reader r;
		vq_reader_init(&r, &x.c);
		uint8_t got[48];
		cr_assert_eq(vq_reader_read(&r, got, sizeof(got)), 48);
		cr_assert_eq(memcmp(got, src, sizeof(src)), 0);
		vq_queue_push(&x.q, &x.c, 0);
		vq_queue_flush(&x.q);
		fx_expect_used(&x, (uint32_t)head, 0);
	}
	cr_assert_eq(x.q.stats.bad_chains, 0);
}

/* ======================= ordering ======================= */

Test(bad, bad_chain_between_good_ones)
{
	/* A bad chain's used entry takes its place in push order. */
	int a = fx_add_w(&x, 8);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(x.c.id, a);
	vq_fake_write_desc(&x.f, 6, 0x1000, 8, 0, 0);
	publish_raw(6);
	struct vq_chain c2;
	struct iovec iov[4];
	vq_chain_init(&c2, iov, 4);
	cr_assert_eq(vq_queue_pop(&x.q, &c2), -EFAULT);
	cr_assert_eq(vq_queue_push(&x.q, &x.c, 5), 0);
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	fx_expect_used(&x, 6, 0);
	fx_expect_used(&x, (uint32_t)a, 5);
	cr_assert_eq(x.q.stats.chains, 1);
	cr_assert_eq(x.q.stats.bad_chains, 1);
}

Test(bad, chain_rewritten_after_pop_is_not_reread)
{
	/* The device validated and mapped the chain at pop; the driver changing
	 * the descriptor afterwards cannot move the device's segments. */
	vq_fake_write_desc(&x.f, 0, buf, 8, W, 0);
	publish_raw(0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	void *seg = x.c.iov[0].iov_base;
	vq_fake_write_desc(&x.f, 0, 0x1000, 0x100000, W, 0);
	cr_assert_eq(x.c.iov[0].iov_base, seg);
	cr_assert_eq(x.c.iov[0].iov_len, 8);
	cr_assert_eq(x.c.writable_len, 8);
}
