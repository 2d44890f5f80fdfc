/* SPDX-License-Identifier: MIT */
/*
 * Notification policy in both directions, with and without VQ_F_EVENT_IDX:
 * device -> driver interrupts (NO_INTERRUPT, used_event) and driver -> device
 * kicks (NO_NOTIFY, avail_event), including the lost-kick re-check.
 */
#include "fixture.h"

#define QSIZE 8u

static struct fx x;

static void teardown(void) { fx_fini(&x); }

TestSuite(notify, .fini = teardown);

/*
 * One round of traffic: the driver publishes @n one-descriptor chains, the
 * device pops and pushes them all and flushes once; the driver takes the used
 * entries back (without touching its interrupt suppression).  Returns the
 * flush result.
 */
static int round_of(struct fx *x, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct vq_fake_buf b = { x->f.gpa_base + 0x10000, 4, true };
		cr_assert_geq(vq_fake_add(&x->f, &b, 1, 0), 0);
	}
	vq_fake_publish(&x->f);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(vq_queue_pop(&x->q, &x->c), 1);
		cr_assert_eq(vq_queue_push(&x->q, &x->c, 1), 0);
	}
	int r = vq_queue_flush(&x->q);
	cr_assert_geq(r, 0);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(vq_fake_get_used(&x->f, &(uint32_t){ 0 }, &(uint32_t){ 0 }), 1);
	return r;
}

static uint16_t used_idx(struct fx *x)
{
	return vq_load16(&x->f.used->idx);
}

/* ======================= device -> driver ======================= */

Test(notify, interrupt_by_default)
{
	fx_init(&x, QSIZE, 0);
	cr_assert_eq(round_of(&x, 1), 1);
	cr_assert_eq(round_of(&x, 3), 1);
	cr_assert_eq(x.f.interrupts, 2);
	cr_assert_eq(x.q.stats.notifications, 2);
	cr_assert_eq(x.q.stats.suppressed, 0);
	fx_fini(&x);
}

Test(notify, no_interrupt_flag_suppresses)
{
	fx_init(&x, QSIZE, 0);
	vq_fake_disable_interrupts(&x.f);
	cr_assert_eq(vq_load16(&x.f.avail->flags), VQ_AVAIL_F_NO_INTERRUPT);
	fx_add_w(&x, 4);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	vq_queue_push(&x.q, &x.c, 2);
	cr_assert_eq(vq_queue_flush(&x.q), 0);
	cr_assert_eq(x.f.interrupts, 0);
	cr_assert_eq(x.q.stats.notifications, 0);
	cr_assert_eq(x.q.stats.suppressed, 1);
	/* Suppressed, but published. */
	cr_assert_eq(vq_fake_used_pending(&x.f), 1);
	/* The driver's re-check when turning interrupts back on sees it. */
	cr_assert_eq(vq_fake_enable_interrupts(&x.f), 1);
	cr_assert_eq(vq_load16(&x.f.avail->flags), 0);
	fx_expect_used(&x, 0, 2);
	cr_assert_eq(vq_fake_enable_interrupts(&x.f), 0);
	cr_assert_eq(round_of(&x, 2), 1);
	cr_assert_eq(x.f.interrupts, 1);
	cr_assert_eq(x.q.stats.notifications, 1);
	cr_assert_eq(x.q.stats.suppressed, 1);
	fx_fini(&x);
}

Test(notify, event_idx_ignores_no_interrupt_flag)
{
	/* With event idx the device must look at used_event only. */
	fx_init(&x, QSIZE, F_EVT);
	vq_store16(&x.f.avail->flags, VQ_AVAIL_F_NO_INTERRUPT);
	vq_fake_set_used_event(&x.f, 0);
	cr_assert_eq(round_of(&x, 1), 1);
	cr_assert_eq(x.f.interrupts, 1);
	fx_fini(&x);
}

Test(notify, event_idx_interrupt_exactly_at_used_event)
{
	fx_init(&x, QSIZE, F_EVT);
	vq_fake_set_used_event(&x.f, 3);
	/* Interrupt when the entry at index 3 is published: idx 3 -> 4. */
	const int want[] = { 0, 0, 0, 1, 0, 0, 0 };
	for (unsigned i = 0; i < 7; i++) {
		cr_assert_eq(round_of(&x, 1), want[i], "flush %u (used idx %u -> %u)", i, i, i + 1);
		cr_assert_eq(used_idx(&x), i + 1);
	}
	cr_assert_eq(x.f.interrupts, 1);
	cr_assert_eq(x.q.stats.notifications, 1);
	cr_assert_eq(x.q.stats.suppressed, 6);
	fx_fini(&x);
}

Test(notify, event_idx_batches)
{
	fx_init(&x, QSIZE, F_EVT);
	vq_fake_set_used_event(&x.f, 5);
	cr_assert_eq(round_of(&x, 3), 0, "0 -> 3 does not reach 5");
	cr_assert_eq(round_of(&x, 3), 1, "3 -> 6 publishes entry 5");
	cr_assert_eq(round_of(&x, 3), 0, "6 -> 9: 5 already passed");
	vq_fake_set_used_event(&x.f, 11);
	cr_assert_eq(round_of(&x, 3), 1, "9 -> 12 publishes entry 11");
	fx_fini(&x);
}

Test(notify, event_idx_batch_ending_at_used_event)
{
	fx_init(&x, QSIZE, F_EVT);
	vq_fake_set_used_event(&x.f, 4);
	cr_assert_eq(round_of(&x, 4), 0, "0 -> 4: entry 4 not yet published");
	cr_assert_eq(round_of(&x, 1), 1, "4 -> 5");
	cr_assert_eq(x.f.interrupts, 1);
	fx_fini(&x);
}

Test(notify, event_idx_driver_reenables)
{
	/* Linux-style: disabling leaves used_event stale, enabling moves it to
	 * the next entry. */
	fx_init(&x, QSIZE, F_EVT);
	cr_assert_eq(round_of(&x, 1), 1, "used_event 0: first entry interrupts");
	vq_fake_disable_interrupts(&x.f);
	cr_assert_eq(round_of(&x, 2), 0);
	cr_assert_eq(round_of(&x, 1), 0);
	cr_assert_eq(vq_fake_enable_interrupts(&x.f), 0);
	cr_assert_eq(vq_load16(x.f.used_event), 4);
	cr_assert_eq(round_of(&x, 1), 1);
	cr_assert_eq(x.f.interrupts, 2);
	cr_assert_eq(x.q.stats.suppressed, 2);
	fx_fini(&x);
}

/* Drive the used index to @target; interrupts on the way are not checked. */
static void advance_used(struct fx *x, uint16_t target)
{
	while (used_idx(x) != target) {
		uint16_t left = (uint16_t)(target - used_idx(x));
		round_of(x, left < QSIZE ? left : QSIZE);
	}
}

Test(notify, event_idx_across_16bit_wrap)
{
	fx_init(&x, QSIZE, F_EVT);
	advance_used(&x, 65530);
	uint64_t irq = x.f.interrupts;

	vq_fake_set_used_event(&x.f, 65535);
	for (unsigned i = 0; i < 5; i++)
		cr_assert_eq(round_of(&x, 1), 0, "up to 65535");
	cr_assert_eq(used_idx(&x), 65535);
	cr_assert_eq(round_of(&x, 1), 1, "65535 -> 0 publishes entry 65535");
	cr_assert_eq(used_idx(&x), 0);
	cr_assert_eq(round_of(&x, 1), 0, "0 -> 1: 65535 is behind now");

	vq_fake_set_used_event(&x.f, 1);
	cr_assert_eq(round_of(&x, 1), 1, "1 -> 2");
	cr_assert_eq(x.f.interrupts, irq + 2);
	fx_fini(&x);
}

Test(notify, event_idx_batch_across_16bit_wrap)
{
	fx_init(&x, QSIZE, F_EVT);
	advance_used(&x, 65533);

	vq_fake_set_used_event(&x.f, 0);
	cr_assert_eq(round_of(&x, 2), 0, "65533 -> 65535");
	cr_assert_eq(round_of(&x, 4), 1, "65535 -> 3 publishes entry 0");

	advance_used(&x, 65532);
	vq_fake_set_used_event(&x.f, 65534);
	cr_assert_eq(round_of(&x, 6), 1, "65532 -> 2 publishes entry 65534");

	advance_used(&x, 65534);
	vq_fake_set_used_event(&x.f, 5);
	cr_assert_eq(round_of(&x, 7), 0, "65534 -> 5 stops short of entry 5");
	cr_assert_eq(round_of(&x, 1), 1, "5 -> 6");
	fx_fini(&x);
}

/* ======================= driver -> device ======================= */

Test(notify, kick_by_default)
{
	for (int evt = 0; evt < 2; evt++) {
			fx_init(&x, QSIZE, evt ? F_EVT : 0);
		fx_add_w(&x, 1);
		cr_assert_eq(x.f.kicks, 1, "event idx %d", evt);
		cr_assert_eq(x.kicks, 1, "kick callback");
		cr_assert_eq(vq_load16(&x.f.used->flags), 0);
		fx_fini(&x);
	}
}

Test(notify, publish_nothing_does_not_kick)
{
	fx_init(&x, QSIZE, 0);
	cr_assert_eq(vq_fake_publish(&x.f), 0);
	cr_assert_eq(x.f.kicks, 0);
	cr_assert_eq(x.kicks, 0);
	fx_fini(&x);
}

Test(notify, disable_notify_sets_no_notify)
{
	fx_init(&x, QSIZE, 0);
	vq_queue_disable_notify(&x.q);
	cr_assert_eq(vq_load16(&x.f.used->flags), VQ_USED_F_NO_NOTIFY);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_geq(vq_fake_add(&x.f, &(struct vq_fake_buf){ x.f.gpa_base + 0x10000, 4, true }, 1, 0), 0);
		cr_assert_eq(vq_fake_publish(&x.f), 0, "kick %u while disabled", i);
	}
	cr_assert_eq(x.f.kicks, 0);
	cr_assert_eq(x.kicks, 0);
	/* Re-enabling finds the three chains: drain, don't wait. */
	cr_assert_eq(vq_queue_enable_notify(&x.q), 1);
	cr_assert_eq(vq_load16(&x.f.used->flags), 0);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_queue_enable_notify(&x.q), 0);
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, 1);
	fx_fini(&x);
}

/*
 * The polling loop of a device, in both modes: a kick wakes it, it turns
 * kicks off, drains, and the driver publishes more meanwhile without
 * kicking; turning kicks back on must report those chains (the lost-kick
 * race), and only an empty ring may be waited on.
 */
static void polling_loop(uint64_t features)
{
	fx_init(&x, QSIZE, features);
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, 1, "a kick wakes the device");

	vq_queue_disable_notify(&x.q);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	vq_queue_push(&x.q, &x.c, 0);
	/* Published while the device has kicks off: no kick. */
	fx_add_w(&x, 1);
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, 1, "no kicks while disabled");
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	vq_queue_push(&x.q, &x.c, 0);
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, 1, "no kicks while disabled");
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	vq_queue_push(&x.q, &x.c, 0);
	/* The device thinks it is done, but one chain came in after its last
	 * pop: the re-check must say so. */
	cr_assert_eq(vq_queue_enable_notify(&x.q), 1, "lost-kick re-check");
	vq_queue_disable_notify(&x.q);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	vq_queue_push(&x.q, &x.c, 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 0);
	/* Now empty: enable says "wait", and the next publish kicks. */
	cr_assert_eq(vq_queue_enable_notify(&x.q), 0);
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, 2, "the kick after re-enabling comes");
	cr_assert_eq(x.kicks, 2);
	cr_assert_eq(x.q.stats.chains, 4);
	fx_fini(&x);
}

Test(notify, polling_loop_flags) { polling_loop(0); }
Test(notify, polling_loop_event_idx) { polling_loop(F_EVT); }

static void enable_on_empty_then_kick(uint64_t features)
{
	fx_init(&x, QSIZE, features);
	vq_queue_disable_notify(&x.q);
	cr_assert_eq(vq_queue_enable_notify(&x.q), 0);
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, 1);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_queue_enable_notify(&x.q), 0);
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, 2);
	fx_fini(&x);
}

Test(notify, enable_on_empty_then_kick_flags) { enable_on_empty_then_kick(0); }
Test(notify, enable_on_empty_then_kick_event_idx) { enable_on_empty_then_kick(F_EVT); }

/*
 * A device that has drained the ring and turns kicks off must not be kicked
 * for the next chain: it asked not to be.
 */
static void disable_on_drained_ring(uint64_t features)
{
	fx_init(&x, QSIZE, features);
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, 1);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 0);
	vq_queue_disable_notify(&x.q);
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, 1, "kicked although the device disabled kicks");
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, 1, "kicked although the device disabled kicks");
	fx_fini(&x);
}

Test(notify, disable_on_drained_ring_flags) { disable_on_drained_ring(0); }
Test(notify, disable_on_drained_ring_event_idx) { disable_on_drained_ring(F_EVT); }

Test(notify, event_idx_kick_only_when_crossing_avail_event)
{
	fx_init(&x, QSIZE, F_EVT);
	cr_assert_eq(vq_load16(x.f.avail_event), 0);
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, 1, "0 -> 1 crosses avail_event 0");
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, 1, "1 -> 2: the device has not caught up yet");
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_load16(x.f.avail_event), 2);
	/* Batch of 3: one kick. */
	for (unsigned i = 0; i < 3; i++)
		cr_assert_geq(vq_fake_add(&x.f, &(struct vq_fake_buf){ x.f.gpa_base + 0x10000, 4, true }, 1, 0), 0);
	cr_assert_eq(vq_fake_publish(&x.f), 1);
	cr_assert_eq(x.f.kicks, 2);
	cr_assert_eq(x.kicks, 2);
	fx_fini(&x);
}

Test(notify, event_idx_pop_updates_avail_event)
{
	fx_init(&x, QSIZE, F_EVT);
	for (unsigned i = 0; i < 5; i++)
		fx_add_w(&x, 1);
	for (unsigned i = 1; i <= 3; i++) {
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
		cr_assert_eq(vq_load16(x.f.avail_event), i, "after pop %u", i);
	}
	/* Kicks off: avail_event moves just behind the device (crossed again
	 * only after 2^16 chains) and pops leave it there. */
	vq_queue_disable_notify(&x.q);
	cr_assert_eq(vq_load16(x.f.avail_event), 2);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_load16(x.f.avail_event), 2);
	/* Enable publishes the current position. */
	cr_assert_eq(vq_queue_enable_notify(&x.q), 1, "one chain still available");
	cr_assert_eq(vq_load16(x.f.avail_event), 4);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_load16(x.f.avail_event), 5);
	/* Event idx never uses the flags field. */
	cr_assert_eq(vq_load16(&x.f.used->flags), 0);
	fx_fini(&x);
}

Test(notify, flags_mode_never_writes_avail_event)
{
	fx_init(&x, QSIZE, 0);
	vq_store16(x.f.avail_event, 0x1234);
	for (unsigned i = 0; i < 3; i++)
		fx_add_w(&x, 1);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	vq_queue_disable_notify(&x.q);
	cr_assert_eq(vq_queue_enable_notify(&x.q), 0);
	cr_assert_eq(vq_load16(x.f.avail_event), 0x1234);
	fx_fini(&x);
}

Test(notify, event_idx_kicks_across_16bit_wrap)
{
	fx_init(&x, QSIZE, F_EVT);
	/* Resume at avail index 65534 with the device caught up. */
	vq_fake_set_avail_idx(&x.f, 65534);
	struct vq_queue_config cfg;
	vq_fake_queue_config(&x.f, &cfg);
	cfg.last_avail_idx = 65534;
	cr_assert_eq(vq_queue_init(&x.q, &cfg), 0);
	cr_assert_eq(vq_queue_enable_notify(&x.q), 0);
	cr_assert_eq(vq_load16(x.f.avail_event), 65534);
	uint64_t k = x.f.kicks;
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, k + 1, "65534 -> 65535");
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, k + 1, "65535 -> 0, device behind");
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(vq_load16(x.f.avail_event), 0);
	fx_add_w(&x, 1);
	cr_assert_eq(x.f.kicks, k + 2, "0 -> 1");
	fx_fini(&x);
}
