/* SPDX-License-Identifier: MIT */
/*
 * eventq — events to the driver, and the backlog that holds them until the
 * driver posts eventq buffers.
 *
 * Policy:
 *  - Order: no event overtakes an earlier one.  While anything is
 *    backlogged, new events join the tail; the backlog drains from the head.
 *  - Backlog full: a new DQBUF or EVENT is dropped (-ENOBUFS,
 *    stats.events_dropped) and its session is owed an ERROR(EOVERFLOW), since
 *    its buffer accounting can no longer be trusted.  ERROR events are never
 *    dropped: an ERROR that finds the backlog full is owed instead
 *    (s->error_owed) and takes the first slot that frees, before any newer
 *    event.  So a session is owed an ERROR only while the backlog is full,
 *    and only a drain of a full backlog (or forget_session) looks for debts.
 *  - One ERROR per session: s->error records it, and the driver CLOSEs the
 *    session when it arrives.  Later DQBUF / EVENT of the session still go
 *    out; the driver discards them once it has closed the session.
 *  - An eventq buffer too small for the event is a driver bug (the Linux
 *    driver posts 608 bytes, the largest event): it goes back with 0 bytes
 *    written and the event tries the next buffer.
 *  - vmedia_send_*() flush at once (the driver is waiting for that event);
 *    vmedia_device_process_eventq() flushes once per drain.
 *
 * Sessions must live in dev->sessions (slot = id & (nslots - 1)): that table
 * is where owed ERRORs are found.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmedia_internal.h"

/* A conforming eventq chain is one descriptor; leave room for region
 * crossings.  On the stack, so the eventq needs no storage from the runner. */
#define EVT_IOV 16

struct vmedia_event_slot {
	uint32_t len;        /* bytes of the event */
	uint32_t session_id; /* host order, for forget_session */
	uint8_t bytes[VMEDIA_EVENTQ_BUF_SIZE]; /* the event as it goes on the wire */
};

int vmedia_eventq_init(struct vmedia_device *dev, uint32_t backlog)
{
	if (backlog == 0)
		return -EINVAL;
	dev->backlog = calloc(backlog, sizeof(*dev->backlog));
	if (!dev->backlog)
		return -ENOMEM;
	dev->backlog_cap = backlog;
	dev->backlog_head = 0;
	dev->backlog_len = 0;
	return 0;
}

void vmedia_eventq_destroy(struct vmedia_device *dev)
{
	free(dev->backlog);
	dev->backlog = NULL;
	dev->backlog_cap = dev->backlog_head = dev->backlog_len = 0;
}

/* The @i-th backlogged event, counting from the oldest. */
static struct vmedia_event_slot *slot(struct vmedia_device *dev, uint32_t i)
{
	return &dev->backlog[(dev->backlog_head + i) % dev->backlog_cap];
}

static bool backlog_full(const struct vmedia_device *dev)
{
	return dev->backlog_len >= dev->backlog_cap;
}

static bool backlog_append(struct vmedia_device *dev, uint32_t sid, const void *ev, uint32_t len)
{
	if (backlog_full(dev))
		return false;
	struct vmedia_event_slot *s = slot(dev, dev->backlog_len++);
	s->len = len;
	s->session_id = sid;
	memcpy(s->bytes, ev, len);
	return true;
}

/*
 * Write one event into the next posted buffer and push it (unflushed).
 * Returns 1 if sent, 0 if the driver has posted no buffer, -EIO if the queue
 * is broken.  Malformed chains were already handed back by the queue.
 */
static int deliver(struct vmedia_device *dev, const void *ev, uint32_t len)
{
	struct vq_queue *q = dev->eventq;
	if (!q)
		return 0;
	struct iovec iov[EVT_IOV];
	struct vq_chain c;
	vq_chain_init(&c, iov, EVT_IOV);
	for (;;) {
		int r = vq_queue_pop(q, &c);
		if (r == 0 || r == -EIO)
			return r;
		if (r < 0)
			continue;
		struct vq_writer w;
		vq_writer_init(&w, &c);
		bool fits = vq_writer_write_all(&w, ev, len) == 0;
		if (vq_queue_push(q, &c, fits ? len : 0) < 0)
			return -EIO;
		if (fits) {
			dev->stats.events_sent++;
			return 1;
		}
	}
}

static void flush(struct vmedia_device *dev)
{
	if (dev->eventq)
		vq_queue_flush(dev->eventq);
}

/* Send now if nothing waits ahead, else backlog.  Returns 0 (sent or
 * backlogged) or -ENOBUFS (backlog full).  The caller flushes. */
static int post(struct vmedia_device *dev, uint32_t sid, const void *ev, uint32_t len)
{
	/* A broken queue keeps the event too: the transport resets the device. */
	if (dev->backlog_len == 0 && deliver(dev, ev, len) == 1)
		return 0;
	return backlog_append(dev, sid, ev, len) ? 0 : -ENOBUFS;
}

static int post_error(struct vmedia_session *s)
{
	struct vmedia_event_error ev = {
		.hdr = { .event = vq_to_le32(VMEDIA_EVT_ERROR), .session_id = vq_to_le32(s->id) },
		.error = vq_to_le32(s->error),
	};
	return post(s->dev, s->id, &ev, sizeof(ev));
}

/* Room appeared in a full backlog: owed ERRORs go first, in slot order. */
static void pay_owed_errors(struct vmedia_device *dev)
{
	for (uint32_t i = 0; i < dev->nslots && !backlog_full(dev); i++) {
		struct vmedia_session *s = &dev->sessions[i];
		if (s->in_use && s->error_owed && post_error(s) == 0)
			s->error_owed = false;
	}
}

/* A DQBUF or EVENT: on overflow, drop it and owe the session an ERROR. */
static int post_event(struct vmedia_session *s, const void *ev, uint32_t len)
{
	struct vmedia_device *dev = s->dev;
	int r = post(dev, s->id, ev, len);
	flush(dev);
	if (r == -ENOBUFS) {
		dev->stats.events_dropped++;
		if (!s->error) {
			s->error = EOVERFLOW;
			s->error_owed = true;
		}
	}
	return r;
}

/* Keep only what the driver can use of the memory union: an MMAP offset or a
 * DMABUF fd.  A USERPTR address means nothing to it and could be a host one. */
static void clean_plane_m(struct v4l2_plane *p, uint32_t memory)
{
	uint32_t off = p->m.mem_offset;
	int32_t fd = p->m.fd;
	memset(&p->m, 0, sizeof(p->m));
	if (memory == V4L2_MEMORY_MMAP)
		p->m.mem_offset = off;
	else if (memory == V4L2_MEMORY_DMABUF)
		p->m.fd = fd;
}

/*
 * Multiplanar: m.planes is zeroed, b->b.length planes are copied (each with
 * its m cleaned as above) and the other slots are zero.  Single-planar: m
 * keeps m.offset (MMAP) or m.fd (DMABUF), else 0, and all plane slots are
 * zero.  All eight slots go out either way: the driver drops shorter events.
 * Returns 0, -ENOBUFS (dropped, see the policy above), or -EINVAL for more
 * than VMEDIA_MAX_PLANES planes.
 */
int vmedia_send_dqbuf(struct vmedia_session *s, const struct vmedia_buffer *b)
{
	struct vmedia_event_dqbuf ev;
	memset(&ev, 0, sizeof(ev));
	ev.hdr.event = vq_to_le32(VMEDIA_EVT_DQBUF);
	ev.hdr.session_id = vq_to_le32(s->id);
	ev.buffer = b->b;
	if (V4L2_TYPE_IS_MULTIPLANAR(b->b.type)) {
		if (b->b.length > VMEDIA_MAX_PLANES)
			return -EINVAL;
		memset(&ev.buffer.m, 0, sizeof(ev.buffer.m));
		for (uint32_t i = 0; i < b->b.length; i++) {
			ev.planes[i] = b->planes[i];
			clean_plane_m(&ev.planes[i], b->b.memory);
		}
	} else {
		/* The same rule as for a plane; the union is the same shape. */
		memset(&ev.buffer.m, 0, sizeof(ev.buffer.m));
		if (b->b.memory == V4L2_MEMORY_MMAP)
			ev.buffer.m.offset = b->b.m.offset;
		else if (b->b.memory == V4L2_MEMORY_DMABUF)
			ev.buffer.m.fd = b->b.m.fd;
	}
	return post_event(s, &ev, sizeof(ev));
}

/* Returns 0 or -ENOBUFS (dropped, see the policy above). */
int vmedia_send_event(struct vmedia_session *s, const struct v4l2_event *e)
{
	struct vmedia_event_event ev = {
		.hdr = { .event = vq_to_le32(VMEDIA_EVT_EVENT), .session_id = vq_to_le32(s->id) },
		.event = *e,
	};
	return post_event(s, &ev, sizeof(ev));
}

/*
 * Sets s->error.  Returns 0 when the ERROR is sent, backlogged or owed (it
 * is never dropped), also when the session already had one (only the first
 * goes out), or -EINVAL for @err 0.
 */
int vmedia_send_error(struct vmedia_session *s, uint32_t err)
{
	if (err == 0)
		return -EINVAL;
	if (s->error)
		return 0;
	s->error = err;
	if (post_error(s) == -ENOBUFS)
		s->error_owed = true;
	flush(s->dev);
	return 0;
}

/* Returns the events sent (owed ERRORs included), or -EIO if broken. */
int vmedia_device_process_eventq(struct vmedia_device *dev)
{
	if (!dev->eventq)
		return 0;
	uint64_t before = dev->stats.events_sent;
	bool was_full = backlog_full(dev);
	int r = 0;
	while (dev->backlog_len) {
		struct vmedia_event_slot *head = slot(dev, 0);
		r = deliver(dev, head->bytes, head->len);
		if (r <= 0)
			break;
		dev->backlog_head = (dev->backlog_head + 1) % dev->backlog_cap;
		dev->backlog_len--;
	}
	if (was_full)
		pay_owed_errors(dev);
	if (vq_queue_flush(dev->eventq) < 0 || r < 0)
		return -EIO;
	return (int)(dev->stats.events_sent - before);
}

/* Compacts the backlog in place, keeping the order of what remains. */
void vmedia_eventq_forget_session(struct vmedia_device *dev, uint32_t session_id)
{
	bool was_full = backlog_full(dev);
	uint32_t keep = 0;
	for (uint32_t i = 0; i < dev->backlog_len; i++) {
		struct vmedia_event_slot *e = slot(dev, i);
		if (e->session_id == session_id)
			continue;
		if (keep != i)
			*slot(dev, keep) = *e;
		keep++;
	}
	dev->backlog_len = keep;

	if (dev->nslots) {
		struct vmedia_session *s = &dev->sessions[session_id & (dev->nslots - 1)];
		if (s->id == session_id)
			s->error_owed = false;
	}
	if (was_full && !backlog_full(dev)) {
		pay_owed_errors(dev);
		flush(dev);
	}
}
