/* SPDX-License-Identifier: MIT */
/*
 * The eventq: DQBUF / EVENT / ERROR events byte for byte as the Linux driver
 * reads them, the backlog (order, draining, overflow and its owed ERROR) and
 * forgetting a closed session.  The device is built by hand around a fake
 * driver that posts 608-byte buffers, as the Linux driver does.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "vmedia_internal.h"
#include "vq_fake.h"

#define QSIZE 64
#define NSLOTS 4

struct efx {
	struct vq_fake f;
	struct vq_queue q;
	struct vmedia_device dev;
	struct vmedia_session sessions[NSLOTS];
	uint64_t buf_gpa[QSIZE]; /* per head: the posted buffer */
};

static void efx_init(struct efx *x, uint32_t backlog)
{
	memset(x, 0, sizeof(*x));
	struct vq_fake_config fcfg = { .size = QSIZE };
	cr_assert_eq(vq_fake_init(&x->f, &fcfg), 0);
	struct vq_queue_config qcfg;
	vq_fake_queue_config(&x->f, &qcfg);
	qcfg.notify = vq_fake_interrupt;
	qcfg.notify_opaque = &x->f;
	cr_assert_eq(vq_queue_init(&x->q, &qcfg), 0);
	x->dev.eventq = &x->q;
	x->dev.mem = &x->f.mem;
	x->dev.sessions = x->sessions;
	x->dev.nslots = NSLOTS;
	cr_assert_eq(vmedia_eventq_init(&x->dev, backlog), 0);
	cr_assert_eq(x->dev.backlog_cap, backlog);
}

static void efx_fini(struct efx *x)
{
	vmedia_eventq_destroy(&x->dev);
	cr_assert_null(x->dev.backlog);
	vq_queue_destroy(&x->q);
	vq_fake_destroy(&x->f);
}

static struct vmedia_session *open_session(struct efx *x, uint32_t id)
{
	struct vmedia_session *s = &x->sessions[id & (NSLOTS - 1)];
	*s = (struct vmedia_session){ .id = id, .in_use = true, .dev = &x->dev };
	return s;
}

/* Post @n device-writable buffers of @len bytes, as the driver's probe does. */
static void post_buffers(struct efx *x, unsigned n, uint32_t len)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = vq_fake_alloc(&x->f, len);
		cr_assert_neq(gpa, 0);
		struct vq_fake_buf b = { gpa, len, true };
		int head = vq_fake_add(&x->f, &b, 1, 0);
		cr_assert_geq(head, 0);
		x->buf_gpa[head] = gpa;
	}
	vq_fake_publish(&x->f);
}

/* The next used buffer: its bytes and used length. */
static uint32_t take_event(struct efx *x, uint8_t out[VMEDIA_EVENTQ_BUF_SIZE])
{
	uint32_t id, len;
	cr_assert_eq(vq_fake_get_used(&x->f, &id, &len), 1, "no event arrived");
	memset(out, 0xff, VMEDIA_EVENTQ_BUF_SIZE);
	if (len)
		cr_assert_eq(vq_fake_read_mem(&x->f, x->buf_gpa[id], out, len), 0);
	return len;
}

static void expect_no_event(struct efx *x)
{
	uint32_t id, len;
	cr_assert_eq(vq_fake_get_used(&x->f, &id, &len), 0, "unexpected event");
}

static uint32_t le32_at(const uint8_t *p, size_t off)
{
	uint32_t v;
	memcpy(&v, p + off, 4);
	return vq_from_le32(v);
}

static uint64_t le64_at(const uint8_t *p, size_t off)
{
	uint64_t v;
	memcpy(&v, p + off, 8);
	return vq_from_le64(v);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Take an event and check its header; returns its length. */
static uint32_t expect_event(struct efx *x, uint8_t *ev, uint32_t type, uint32_t sid)
{
	uint32_t len = take_event(x, ev);
	cr_assert_eq(le32_at(ev, 0), type, "event type %u, expected %u", le32_at(ev, 0), type);
	cr_assert_eq(le32_at(ev, 4), sid, "session %u, expected %u", le32_at(ev, 4), sid);
	static const uint32_t sizes[] = { 16, 608, 144 };
	cr_assert_eq(len, sizes[type], "event %u is %u bytes", type, len);
	return len;
}

/* A v4l2_event whose sequence number tells events apart. */
static int send_seq(struct vmedia_session *s, uint32_t seq)
{
	struct v4l2_event e = { .type = V4L2_EVENT_SOURCE_CHANGE, .sequence = seq };
	return vmedia_send_event(s, &e);
}

static void expect_seq(struct efx *x, uint32_t sid, uint32_t seq)
{
	uint8_t ev[VMEDIA_EVENTQ_BUF_SIZE];
	expect_event(x, ev, VMEDIA_EVT_EVENT, sid);
	struct v4l2_event e;
	memcpy(&e, ev + 8, sizeof(e));
	cr_assert_eq(e.sequence, seq, "event seq %u, expected %u", e.sequence, seq);
}

static void expect_error(struct efx *x, uint32_t sid, uint32_t err)
{
	uint8_t ev[VMEDIA_EVENTQ_BUF_SIZE];
	expect_event(x, ev, VMEDIA_EVT_ERROR, sid);
	cr_assert_eq(le32_at(ev, 8), err, "errno %u, expected %u", le32_at(ev, 8), err);
	cr_assert_eq(le32_at(ev, 12), 0, "reserved");
}

/* ---- event layouts ---- */

Test(eventq, dqbuf_mmap_single_planar)
{
	struct efx x;
	efx_init(&x, 8);
	struct vmedia_session *s = open_session(&x, 5);
	post_buffers(&x, 16, VMEDIA_EVENTQ_BUF_SIZE);

	struct vmedia_buffer b;
	memset(&b, 0xa5, sizeof(b)); /* garbage in the planes must not leak */
	b.b = (struct v4l2_buffer){
		.index = 3, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .bytesused = 460800,
		.flags = V4L2_BUF_FLAG_LAST | V4L2_BUF_FLAG_TIMESTAMP_COPY, .field = V4L2_FIELD_NONE,
		.timestamp = { .tv_sec = 12, .tv_usec = 345 }, .sequence = 77,
		.memory = V4L2_MEMORY_MMAP, .length = 460800,
	};
	b.b.m.userptr = 0xdeadbeef00003000ul; /* m.offset 0x3000 plus junk above it */
	uint64_t irq = x.f.interrupts;
	cr_assert_eq(vmedia_send_dqbuf(s, &b), 0);
	cr_assert_gt(x.f.interrupts, irq, "flushed and notified at once");
	cr_assert_eq(x.dev.stats.events_sent, 1);

	uint8_t ev[VMEDIA_EVENTQ_BUF_SIZE];
	expect_event(&x, ev, VMEDIA_EVT_DQBUF, 5);
	const uint8_t *vb = ev + 8;
	cr_assert_eq(le32_at(vb, 0), 3, "index");
	cr_assert_eq(le32_at(vb, 4), V4L2_BUF_TYPE_VIDEO_CAPTURE);
	cr_assert_eq(le32_at(vb, 8), 460800, "bytesused");
	cr_assert_eq(le32_at(vb, 12), V4L2_BUF_FLAG_LAST | V4L2_BUF_FLAG_TIMESTAMP_COPY);
	cr_assert_eq(le64_at(vb, 24), 12, "timestamp.tv_sec");
	cr_assert_eq(le64_at(vb, 32), 345, "timestamp.tv_usec");
	cr_assert_eq(le32_at(vb, 56), 77, "sequence");
	cr_assert_eq(le32_at(vb, 60), V4L2_MEMORY_MMAP);
	cr_assert_eq(le64_at(vb, 64), 0x3000, "m.offset kept, the rest of m zero");
	cr_assert_eq(le32_at(vb, 72), 460800, "length");
	cr_assert(all_zero(ev + 96, 8 * sizeof(struct v4l2_plane)), "unused plane slots zero");
	efx_fini(&x);
}

Test(eventq, dqbuf_userptr_single_planar_zeroes_the_pointer)
{
	struct efx x;
	efx_init(&x, 8);
	struct vmedia_session *s = open_session(&x, 1);
	post_buffers(&x, 1, VMEDIA_EVENTQ_BUF_SIZE);
	struct vmedia_buffer b;
	memset(&b, 0, sizeof(b));
	b.b.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	b.b.memory = V4L2_MEMORY_USERPTR;
	b.b.m.userptr = (unsigned long)&b; /* a host address */
	b.b.length = 4096;
	cr_assert_eq(vmedia_send_dqbuf(s, &b), 0);
	uint8_t ev[VMEDIA_EVENTQ_BUF_SIZE];
	expect_event(&x, ev, VMEDIA_EVT_DQBUF, 1);
	cr_assert_eq(le64_at(ev, 8 + 64), 0, "no host address on the wire");
	cr_assert_eq(le32_at(ev, 8 + 72), 4096);
	efx_fini(&x);
}

Test(eventq, dqbuf_dmabuf_keeps_the_fd)
{
	struct efx x;
	efx_init(&x, 8);
	struct vmedia_session *s = open_session(&x, 1);
	post_buffers(&x, 1, VMEDIA_EVENTQ_BUF_SIZE);
	struct vmedia_buffer b;
	memset(&b, 0, sizeof(b));
	b.b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b.b.memory = V4L2_MEMORY_DMABUF;
	b.b.m.fd = -7;
	cr_assert_eq(vmedia_send_dqbuf(s, &b), 0);
	uint8_t ev[VMEDIA_EVENTQ_BUF_SIZE];
	expect_event(&x, ev, VMEDIA_EVT_DQBUF, 1);
	cr_assert_eq((int32_t)le32_at(ev, 8 + 64), -7);
	cr_assert_eq(le32_at(ev, 8 + 68), 0);
	efx_fini(&x);
}

Test(eventq, dqbuf_multiplanar)
{
	struct efx x;
	efx_init(&x, 8);
	struct vmedia_session *s = open_session(&x, 2);
	post_buffers(&x, 2, VMEDIA_EVENTQ_BUF_SIZE);

	struct vmedia_buffer b;
	memset(&b, 0x5a, sizeof(b)); /* planes past length are garbage */
	b.b = (struct v4l2_buffer){
		.index = 1, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
		.memory = V4L2_MEMORY_MMAP, .length = 2, .sequence = 9,
	};
	b.b.m.planes = (struct v4l2_plane *)&b; /* a host pointer */
	for (int i = 0; i < 2; i++) {
		b.planes[i] = (struct v4l2_plane){
			.bytesused = 1000u + i, .length = 4096u * (i + 1), .data_offset = 16u * i,
		};
		b.planes[i].m.userptr = 0xffff000000000000ul | (0x10000u * (i + 1));
	}
	cr_assert_eq(vmedia_send_dqbuf(s, &b), 0);

	uint8_t ev[VMEDIA_EVENTQ_BUF_SIZE];
	expect_event(&x, ev, VMEDIA_EVT_DQBUF, 2);
	cr_assert_eq(le64_at(ev, 8 + 64), 0, "m.planes zeroed");
	cr_assert_eq(le32_at(ev, 8 + 72), 2, "length = planes");
	for (int i = 0; i < 2; i++) {
		const uint8_t *p = ev + 96 + 64 * i;
		cr_assert_eq(le32_at(p, 0), 1000u + i, "plane %d bytesused", i);
		cr_assert_eq(le32_at(p, 4), 4096u * (i + 1), "plane %d length", i);
		cr_assert_eq(le64_at(p, 8), 0x10000u * (i + 1), "plane %d mem_offset only", i);
		cr_assert_eq(le32_at(p, 16), 16u * i, "plane %d data_offset", i);
	}
	cr_assert(all_zero(ev + 96 + 128, 6 * 64), "plane slots 2..7 zero");

	/* USERPTR planes: every plane pointer zeroed. */
	b.b.memory = V4L2_MEMORY_USERPTR;
	cr_assert_eq(vmedia_send_dqbuf(s, &b), 0);
	expect_event(&x, ev, VMEDIA_EVT_DQBUF, 2);
	cr_assert_eq(le64_at(ev, 96 + 8), 0);
	cr_assert_eq(le64_at(ev, 96 + 64 + 8), 0);
	cr_assert_eq(le32_at(ev, 96 + 64 + 4), 8192, "the rest of the plane stays");
	efx_fini(&x);
}

Test(eventq, dqbuf_too_many_planes)
{
	struct efx x;
	efx_init(&x, 8);
	struct vmedia_session *s = open_session(&x, 2);
	post_buffers(&x, 1, VMEDIA_EVENTQ_BUF_SIZE);
	struct vmedia_buffer b;
	memset(&b, 0, sizeof(b));
	b.b.type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
	b.b.memory = V4L2_MEMORY_MMAP;
	b.b.length = VMEDIA_MAX_PLANES + 1;
	cr_assert_eq(vmedia_send_dqbuf(s, &b), -EINVAL);
	expect_no_event(&x);
	cr_assert_eq(x.dev.backlog_len, 0);
	efx_fini(&x);
}

Test(eventq, event_layout)
{
	struct efx x;
	efx_init(&x, 8);
	struct vmedia_session *s = open_session(&x, 3);
	post_buffers(&x, 1, VMEDIA_EVENTQ_BUF_SIZE);
	struct v4l2_event e = {
		.type = V4L2_EVENT_SOURCE_CHANGE, .pending = 1, .sequence = 42, .id = 0,
		.timestamp = { .tv_sec = 3, .tv_nsec = 4 },
	};
	e.u.src_change.changes = V4L2_EVENT_SRC_CH_RESOLUTION;
	cr_assert_eq(vmedia_send_event(s, &e), 0);
	uint8_t ev[VMEDIA_EVENTQ_BUF_SIZE];
	expect_event(&x, ev, VMEDIA_EVT_EVENT, 3);
	cr_assert_eq(le32_at(ev, 8), V4L2_EVENT_SOURCE_CHANGE);
	cr_assert_eq(le32_at(ev, 8 + 8), V4L2_EVENT_SRC_CH_RESOLUTION, "u.src_change");
	cr_assert_eq(memcmp(ev + 8, &e, sizeof(e)), 0, "the whole v4l2_event as given");
	efx_fini(&x);
}

Test(eventq, error_once_per_session)
{
	struct efx x;
	efx_init(&x, 8);
	struct vmedia_session *s = open_session(&x, 6);
	post_buffers(&x, 4, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(vmedia_send_error(s, 0), -EINVAL);
	cr_assert_eq(s->error, 0);
	cr_assert_eq(vmedia_send_error(s, EIO), 0);
	cr_assert_eq(s->error, EIO);
	expect_error(&x, 6, EIO);
	cr_assert_eq(vmedia_send_error(s, ENOMEM), 0, "a second error is a no-op");
	cr_assert_eq(s->error, EIO);
	expect_no_event(&x);
	efx_fini(&x);
}

/* ---- eventq buffers the driver got wrong ---- */

Test(eventq, too_small_buffer_is_skipped)
{
	struct efx x;
	efx_init(&x, 8);
	struct vmedia_session *s = open_session(&x, 1);
	post_buffers(&x, 1, 100);
	post_buffers(&x, 1, VMEDIA_EVENTQ_BUF_SIZE);
	struct vmedia_buffer b;
	memset(&b, 0, sizeof(b));
	b.b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	cr_assert_eq(vmedia_send_dqbuf(s, &b), 0);
	uint8_t ev[VMEDIA_EVENTQ_BUF_SIZE];
	cr_assert_eq(take_event(&x, ev), 0, "the small buffer comes back empty");
	expect_event(&x, ev, VMEDIA_EVT_DQBUF, 1);
	cr_assert_eq(x.dev.stats.events_sent, 1);
	efx_fini(&x);
}

Test(eventq, malformed_chain_is_skipped)
{
	struct efx x;
	efx_init(&x, 8);
	struct vmedia_session *s = open_session(&x, 1);
	struct vq_fake_buf bad = { 0x10, VMEDIA_EVENTQ_BUF_SIZE, true }; /* not guest memory */
	cr_assert_geq(vq_fake_add(&x.f, &bad, 1, 0), 0);
	post_buffers(&x, 1, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(send_seq(s, 1), 0);
	uint8_t ev[VMEDIA_EVENTQ_BUF_SIZE];
	cr_assert_eq(take_event(&x, ev), 0, "the bad chain comes back empty");
	expect_seq(&x, 1, 1);
	cr_assert_eq(x.q.stats.bad_chains, 1);
	efx_fini(&x);
}

Test(eventq, broken_queue_keeps_events)
{
	struct efx x;
	efx_init(&x, 8);
	struct vmedia_session *s = open_session(&x, 1);
	vq_fake_set_avail_idx(&x.f, QSIZE + 5); /* ran more than a queue ahead */
	cr_assert_eq(send_seq(s, 1), 0, "kept in the backlog");
	cr_assert(vq_queue_is_broken(&x.q));
	cr_assert_eq(x.dev.backlog_len, 1);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), -EIO);
	cr_assert_eq(x.dev.backlog_len, 1);
	efx_fini(&x);
}

/* ---- the backlog ---- */

Test(eventq, backlog_keeps_order_and_drains)
{
	struct efx x;
	efx_init(&x, 16);
	struct vmedia_session *a = open_session(&x, 0), *b = open_session(&x, 1);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 0, "nothing to do");
	for (uint32_t i = 0; i < 6; i++)
		cr_assert_eq(send_seq(i % 2 ? b : a, i), 0);
	expect_no_event(&x);
	cr_assert_eq(x.dev.backlog_len, 6);
	cr_assert_eq(x.dev.stats.events_sent, 0);

	post_buffers(&x, 2, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 2);
	expect_seq(&x, 0, 0);
	expect_seq(&x, 1, 1);
	expect_no_event(&x);

	/* Buffers are posted but not yet processed: a new event must not
	 * overtake the four still waiting. */
	post_buffers(&x, 16, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(send_seq(a, 6), 0);
	expect_no_event(&x);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 5);
	for (uint32_t i = 2; i <= 6; i++)
		expect_seq(&x, i % 2, i);
	cr_assert_eq(x.dev.backlog_len, 0);

	/* Backlog empty and buffers left: straight out. */
	cr_assert_eq(send_seq(b, 7), 0);
	expect_seq(&x, 1, 7);
	cr_assert_eq(x.dev.stats.events_sent, 8);
	cr_assert_eq(x.dev.stats.events_dropped, 0);
	efx_fini(&x);
}

Test(eventq, linux_driver_pattern)
{
	/* 16 buffers posted, re-posted after each event is read. */
	struct efx x;
	efx_init(&x, 32);
	struct vmedia_session *s = open_session(&x, 0);
	post_buffers(&x, 16, VMEDIA_EVENTQ_BUF_SIZE);
	for (uint32_t i = 0; i < 20; i++)
		cr_assert_eq(send_seq(s, i), 0);
	cr_assert_eq(x.dev.backlog_len, 4);
	for (uint32_t i = 0; i < 16; i++)
		expect_seq(&x, 0, i);
	post_buffers(&x, 16, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 4);
	for (uint32_t i = 16; i < 20; i++)
		expect_seq(&x, 0, i);
	efx_fini(&x);
}

Test(eventq, overflow_drops_and_owes_an_error)
{
	struct efx x;
	efx_init(&x, 4);
	struct vmedia_session *a = open_session(&x, 0), *b = open_session(&x, 1);
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(send_seq(a, i), 0);
	cr_assert_eq(send_seq(b, 100), -ENOBUFS);
	cr_assert_eq(x.dev.stats.events_dropped, 1);
	cr_assert_eq(b->error, EOVERFLOW, "b's accounting is broken: it gets an ERROR");
	cr_assert(b->error_owed);
	cr_assert_eq(send_seq(b, 101), -ENOBUFS);
	cr_assert_eq(x.dev.stats.events_dropped, 2);
	cr_assert_eq(b->error, EOVERFLOW);
	/* An ERROR that finds the backlog full is owed, not dropped. */
	cr_assert_eq(vmedia_send_error(a, EIO), 0);
	cr_assert(a->error_owed);
	cr_assert_eq(x.dev.stats.events_dropped, 2);

	/* One buffer: a's first event goes, and the freed slot goes to an owed
	 * ERROR (debts are paid in session-slot order) before anything new. */
	post_buffers(&x, 1, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 1);
	expect_seq(&x, 0, 0);
	cr_assert_not(a->error_owed);
	cr_assert(b->error_owed, "no room for b's yet");
	cr_assert_eq(x.dev.backlog_len, 4);
	cr_assert_eq(send_seq(a, 4), -ENOBUFS, "still full");
	cr_assert_eq(x.dev.stats.events_dropped, 3);

	post_buffers(&x, 16, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 5);
	for (uint32_t i = 1; i < 4; i++)
		expect_seq(&x, 0, i);
	expect_error(&x, 0, EIO);
	expect_error(&x, 1, EOVERFLOW);
	expect_no_event(&x);
	cr_assert_not(b->error_owed);
	cr_assert_eq(x.dev.backlog_len, 0);

	/* Events of an errored session still go out; the driver closes it. */
	cr_assert_eq(send_seq(b, 102), 0);
	expect_seq(&x, 1, 102);
	efx_fini(&x);
}

Test(eventq, owed_error_waits_behind_the_backlog)
{
	/* Room appears but no buffer: the owed ERROR is backlogged behind what
	 * was already waiting, and goes out in that order. */
	struct efx x;
	efx_init(&x, 2);
	struct vmedia_session *a = open_session(&x, 0), *b = open_session(&x, 1);
	cr_assert_eq(send_seq(a, 0), 0);
	cr_assert_eq(send_seq(a, 1), 0);
	cr_assert_eq(send_seq(b, 0), -ENOBUFS);
	post_buffers(&x, 1, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 1);
	cr_assert_eq(x.dev.backlog_len, 2, "a1, then b's ERROR");
	cr_assert_not(b->error_owed);
	post_buffers(&x, 4, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 2);
	expect_seq(&x, 0, 0);
	expect_seq(&x, 0, 1);
	expect_error(&x, 1, EOVERFLOW);
	efx_fini(&x);
}

Test(eventq, forget_session_drops_its_events)
{
	struct efx x;
	efx_init(&x, 8);
	struct vmedia_session *a = open_session(&x, 0), *b = open_session(&x, 1);
	cr_assert_eq(send_seq(a, 0), 0);
	cr_assert_eq(send_seq(b, 1), 0);
	cr_assert_eq(send_seq(a, 2), 0);
	cr_assert_eq(send_seq(b, 3), 0);
	cr_assert_eq(send_seq(a, 4), 0);
	vmedia_eventq_forget_session(&x.dev, 0);
	cr_assert_eq(x.dev.backlog_len, 2);
	vmedia_eventq_forget_session(&x.dev, 9); /* unknown: nothing happens */
	cr_assert_eq(x.dev.backlog_len, 2);
	post_buffers(&x, 8, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 2);
	expect_seq(&x, 1, 1);
	expect_seq(&x, 1, 3);
	expect_no_event(&x);
	efx_fini(&x);
}

Test(eventq, forget_session_across_the_ring_wrap)
{
	struct efx x;
	efx_init(&x, 4);
	struct vmedia_session *a = open_session(&x, 0), *b = open_session(&x, 1);
	/* Move the head to slot 3 so the backlog wraps. */
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_eq(send_seq(a, 90 + i), 0);
	post_buffers(&x, 3, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 3);
	for (uint32_t i = 0; i < 3; i++)
		expect_seq(&x, 0, 90 + i);
	cr_assert_eq(send_seq(b, 0), 0);
	cr_assert_eq(send_seq(a, 1), 0);
	cr_assert_eq(send_seq(b, 2), 0);
	cr_assert_eq(send_seq(a, 3), 0);
	vmedia_eventq_forget_session(&x.dev, 1);
	post_buffers(&x, 4, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 2);
	expect_seq(&x, 0, 1);
	expect_seq(&x, 0, 3);
	efx_fini(&x);
}

Test(eventq, forget_frees_room_for_owed_errors)
{
	struct efx x;
	efx_init(&x, 3);
	struct vmedia_session *a = open_session(&x, 0), *b = open_session(&x, 1);
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_eq(send_seq(a, i), 0);
	cr_assert_eq(send_seq(b, 0), -ENOBUFS);
	cr_assert(b->error_owed);
	/* a closes: its events go, and b's ERROR takes the room at once. */
	vmedia_eventq_forget_session(&x.dev, 0);
	cr_assert_not(b->error_owed);
	cr_assert_eq(x.dev.backlog_len, 1);
	post_buffers(&x, 2, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 1);
	expect_error(&x, 1, EOVERFLOW);
	efx_fini(&x);
}

Test(eventq, forget_settles_a_closing_sessions_debt)
{
	struct efx x;
	efx_init(&x, 2);
	struct vmedia_session *a = open_session(&x, 0), *b = open_session(&x, 1);
	cr_assert_eq(send_seq(b, 0), 0);
	cr_assert_eq(send_seq(b, 1), 0);
	cr_assert_eq(send_seq(a, 0), -ENOBUFS);
	cr_assert(a->error_owed);
	/* The driver closes a before the ERROR could be sent: nothing for a
	 * may go out any more. */
	vmedia_eventq_forget_session(&x.dev, 0);
	cr_assert_not(a->error_owed);
	post_buffers(&x, 4, VMEDIA_EVENTQ_BUF_SIZE);
	cr_assert_eq(vmedia_device_process_eventq(&x.dev), 2);
	expect_seq(&x, 1, 0);
	expect_seq(&x, 1, 1);
	expect_no_event(&x);
	efx_fini(&x);
}

Test(eventq, init_rejects_an_empty_backlog)
{
	struct vmedia_device dev;
	memset(&dev, 0, sizeof(dev));
	cr_assert_eq(vmedia_eventq_init(&dev, 0), -EINVAL);
	cr_assert_null(dev.backlog);
}
