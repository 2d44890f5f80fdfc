/* SPDX-License-Identifier: MIT */
/*
 * The simple camera's buffer queue and streaming, with vb2's rules (what
 * V4L2 applications and v4l2-compliance expect of a capture node):
 *  - one queue per device; the session whose REQBUFS / CREATE_BUFS got
 *    buffers owns it until REQBUFS(0) or close, and every other session's
 *    REQBUFS / CREATE_BUFS / QBUF / PREPARE_BUF / STREAMON / STREAMOFF is
 *    EBUSY (QUERYBUF is for anyone);
 *  - a buffer is DEQUEUED, PREPARED or QUEUED; queued buffers are filled
 *    oldest first and go back to the guest as DQBUF events;
 *  - STREAMOFF (and REQBUFS / close) takes every buffer back without
 *    events: the guest driver forgets its queued buffers itself;
 *  - sequence numbers count the frames of one STREAMON; timestamps are
 *    CLOCK_MONOTONIC at the end of the frame.
 * USERPTR memory handed over by a successful QBUF / PREPARE_BUF is ours
 * until the buffer is filled (written back) or taken back (not written).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "simple_internal.h"

#define BUF_CAPS                                                                    \
	(V4L2_BUF_CAP_SUPPORTS_MMAP | V4L2_BUF_CAP_SUPPORTS_USERPTR |               \
	 V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS)

static struct vmedia_simple *dev_of(struct vmedia_session *s)
{
	return s->dev->priv;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool memory_ok(uint32_t m)
{
	return m == V4L2_MEMORY_MMAP || m == V4L2_MEMORY_USERPTR;
}

/* vb2_queue_is_busy(): someone else owns the queue. */
static bool busy(const struct vmedia_simple *sd, const struct simple_session *ss)
{
	return sd->owner && sd->owner != ss;
}

/* ---- real-time pacing on the environment's timer ----
 *
 * With dev->env_ops (the device runs under the runtime) a periodic timer
 * at the frame interval runs the tick while the queue streams; without it
 * the caller ticks.  A timer expiry means a frame is due: the tick gets the
 * current time with the deadline pulled back to it, so timer jitter never
 * skips a frame, and expirations that piled up give one frame, not a burst. */

static void pace_stop(struct vmedia_simple *sd)
{
	if (sd->pace_timer < 0)
		return;
	/* An environment that went away (the runtime was destroyed first)
	 * took its timers with it. */
	if (sd->dev && sd->dev->env_ops == sd->pace_ops && sd->dev->env == sd->pace_env)
		sd->pace_ops->timer_cancel(sd->pace_env, sd->pace_timer);
	sd->pace_timer = -1;
	sd->pace_ops = NULL;
	sd->pace_env = NULL;
}

static void pace_fired(void *arg, uint64_t expirations)
{
	struct vmedia_simple *sd = arg;
	(void)expirations;
	uint64_t now = monotonic_ns();
	if (sd->deadline > now)
		sd->deadline = now;
	vmedia_simple_tick(sd, now);
}

/* Start (or restart) the timer, first expiry at @first_ns.  Returns 0
 * (also when there is no environment or in benchmark mode) or -errno. */
static int pace_start(struct vmedia_simple *sd, uint64_t first_ns)
{
	pace_stop(sd);
	const struct vmedia_env_ops *ops = sd->dev ? sd->dev->env_ops : NULL;
	if (sd->cfg.benchmark || !ops)
		return 0;
	int h = ops->timer_start(sd->dev->env, first_ns, simple_interval_ns(&sd->parm),
				 pace_fired, sd);
	if (h < 0)
		return h;
	sd->pace_timer = h;
	sd->pace_ops = ops;
	sd->pace_env = sd->dev->env;
	return 0;
}

int simple_pace_restart(struct vmedia_simple *sd)
{
	if (sd->pace_timer < 0)
		return 0;
	return pace_start(sd, monotonic_ns() + simple_interval_ns(&sd->parm));
}

/* Every buffer back to DEQUEUED, USERPTR memory returned unwritten. */
static void cancel(struct vmedia_simple *sd)
{
	pace_stop(sd);
	for (uint32_t i = 0; i < sd->nbufs; i++) {
		struct simple_buf *b = &sd->bufs[i];
		vmedia_usermem_put(b->mem, false);
		b->mem = NULL;
		b->state = BUF_DEQUEUED;
	}
	sd->fifo_head = sd->fifo_len = 0;
	sd->streaming = false;
	sd->deadline = 0;
}

/* A range the guest still maps stays until MUNMAP (media/shm.c). */
static void free_buffers(struct vmedia_simple *sd)
{
	cancel(sd);
	for (uint32_t i = 0; i < sd->nbufs; i++)
		if (sd->memory == V4L2_MEMORY_MMAP && sd->bufs[i].host)
			vmedia_mmap_free(sd->dev, sd->bufs[i].offset);
	memset(sd->bufs, 0, sizeof(sd->bufs));
	sd->nbufs = 0;
	sd->owner = NULL;
}

void simple_buffers_release(struct vmedia_simple *sd, struct simple_session *ss)
{
	if (sd->owner == ss)
		free_buffers(sd);
}

/* Add @n buffers of @size after the existing ones; fewer if the region
 * runs out (vb2 likewise settles for what it could allocate).  Returns the
 * number added. */
static uint32_t add_buffers(struct vmedia_simple *sd, uint32_t memory, uint32_t n, uint32_t size)
{
	uint32_t added = 0;
	while (added < n && sd->nbufs < SIMPLE_MAX_BUFFERS) {
		struct simple_buf *b = &sd->bufs[sd->nbufs];
		memset(b, 0, sizeof(*b));
		b->length = size;
		if (memory == V4L2_MEMORY_MMAP) {
			void *host;
			if (vmedia_mmap_alloc(sd->dev, size, &b->offset, &host) < 0)
				break;
			b->host = host;
		}
		sd->nbufs++;
		added++;
	}
	return added;
}

int simple_reqbufs(struct vmedia_session *s, struct v4l2_requestbuffers *rb)
{
	struct vmedia_simple *sd = dev_of(s);
	struct simple_session *ss = s->priv;
	rb->capabilities = BUF_CAPS;
	rb->flags = 0; /* no V4L2_MEMORY_FLAG_NON_COHERENT */
	memset(rb->reserved, 0, sizeof(rb->reserved));
	if (rb->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || !memory_ok(rb->memory))
		return -EINVAL;
	if (busy(sd, ss) || sd->streaming)
		return -EBUSY;
	free_buffers(sd);
	uint32_t want = rb->count < SIMPLE_MAX_BUFFERS ? rb->count : SIMPLE_MAX_BUFFERS;
	rb->count = 0;
	if (want == 0)
		return 0;
	uint32_t got = add_buffers(sd, rb->memory, want, sd->fmt.sizeimage);
	if (!got)
		return -ENOMEM;
	sd->memory = rb->memory;
	sd->owner = ss;
	rb->count = got;
	return 0;
}

/* The size asked for must hold the current format (it may be larger);
 * count 0 only checks the arguments, as vb2_ioctl_create_bufs(). */
int simple_create_bufs(struct vmedia_session *s, struct v4l2_create_buffers *cb)
{
	struct vmedia_simple *sd = dev_of(s);
	struct simple_session *ss = s->priv;
	cb->index = sd->nbufs;
	cb->capabilities = BUF_CAPS;
	cb->flags = 0;
	memset(cb->reserved, 0, sizeof(cb->reserved));
	if (cb->format.type != V4L2_BUF_TYPE_VIDEO_CAPTURE || !memory_ok(cb->memory))
		return -EINVAL;
	if (cb->count == 0)
		return 0;
	if (busy(sd, ss))
		return -EBUSY;
	if (sd->nbufs == SIMPLE_MAX_BUFFERS)
		return -ENOBUFS;
	if (sd->nbufs && cb->memory != sd->memory)
		return -EINVAL;
	uint32_t size = cb->format.fmt.pix.sizeimage;
	if (size < sd->fmt.sizeimage)
		return -EINVAL;
	uint32_t got = add_buffers(sd, cb->memory, cb->count, size);
	if (!got)
		return -ENOMEM;
	sd->memory = cb->memory;
	sd->owner = ss;
	cb->count = got;
	return 0;
}

/* The guest's view of buffer @i. */
static void describe(const struct vmedia_simple *sd, uint32_t i, struct v4l2_buffer *out)
{
	const struct simple_buf *b = &sd->bufs[i];
	memset(out, 0, sizeof(*out));
	out->index = i;
	out->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	out->memory = sd->memory;
	out->bytesused = b->bytesused;
	out->flags = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC | V4L2_BUF_FLAG_TSTAMP_SRC_EOF;
	if (b->state == BUF_QUEUED)
		out->flags |= V4L2_BUF_FLAG_QUEUED;
	else if (b->state == BUF_PREPARED)
		out->flags |= V4L2_BUF_FLAG_PREPARED;
	out->field = V4L2_FIELD_NONE;
	out->timestamp = b->timestamp;
	out->sequence = b->sequence;
	out->length = b->length;
	if (sd->memory == V4L2_MEMORY_MMAP)
		out->m.offset = b->offset;
}

int simple_querybuf(struct vmedia_session *s, struct vmedia_buffer *vb)
{
	struct vmedia_simple *sd = dev_of(s);
	if (vb->b.type != V4L2_BUF_TYPE_VIDEO_CAPTURE || vb->b.index >= sd->nbufs)
		return -EINVAL;
	describe(sd, vb->b.index, &vb->b);
	return 0;
}

/* ---- frames ---- */

/* Fill the oldest queued buffer with frame @sequence and send it back. */
static void produce(struct vmedia_simple *sd, uint64_t now_ns)
{
	uint32_t i = sd->fifo[sd->fifo_head];
	sd->fifo_head = (sd->fifo_head + 1) % SIMPLE_MAX_BUFFERS;
	sd->fifo_len--;
	struct simple_buf *b = &sd->bufs[i];
	uint8_t *dst = sd->memory == V4L2_MEMORY_MMAP ? b->host : b->mem->ptr;
	bool ok = b->length >= sd->fmt.sizeimage &&
		  simple_pattern_update(&sd->pattern, &sd->fmt, &sd->ctrls) == 0;
	if (ok)
		simple_pattern_draw(&sd->pattern, sd->sequence, dst);
	b->bytesused = ok ? sd->fmt.sizeimage : 0;
	b->sequence = sd->sequence++;
	b->timestamp.tv_sec = (time_t)(now_ns / 1000000000ull);
	b->timestamp.tv_usec = (suseconds_t)(now_ns % 1000000000ull / 1000);
	b->state = BUF_DEQUEUED;
	vmedia_usermem_put(b->mem, ok);
	b->mem = NULL;

	struct vmedia_buffer vb;
	memset(&vb, 0, sizeof(vb));
	describe(sd, i, &vb.b);
	if (!ok)
		vb.b.flags |= V4L2_BUF_FLAG_ERROR;
	/* A full backlog costs the owner an ERROR event (the runner's rule);
	 * the buffer is ours again either way. */
	vmedia_send_dqbuf(sd->owner->s, &vb);
}

/* Benchmark mode: every queued buffer of a streaming queue, at once. */
static void produce_all(struct vmedia_simple *sd)
{
	while (sd->cfg.benchmark && sd->streaming && sd->fifo_len)
		produce(sd, monotonic_ns());
}

int vmedia_simple_tick(struct vmedia_simple *sd, uint64_t now_ns)
{
	if (!sd->streaming || !sd->fifo_len || now_ns < sd->deadline)
		return 0;
	produce(sd, now_ns);
	/* Keep the cadence; after a stall, restart it rather than burst. */
	uint64_t interval = simple_interval_ns(&sd->parm);
	sd->deadline += interval;
	if (sd->deadline <= now_ns)
		sd->deadline = now_ns + interval;
	return 1;
}

uint64_t vmedia_simple_next_deadline(const struct vmedia_simple *sd)
{
	return sd->streaming ? sd->deadline : 0;
}

/* ---- QBUF / PREPARE_BUF ---- */

/*
 * vb2_queue_or_prepare_buf()'s checks, then take the USERPTR memory.
 * A buffer already prepared keeps its memory unless new memory came with
 * the QBUF.
 */
static int take(struct vmedia_session *s, struct vmedia_buffer *vb, bool prepare)
{
	struct vmedia_simple *sd = dev_of(s);
	struct v4l2_buffer *in = &vb->b;
	if (busy(sd, s->priv))
		return -EBUSY;
	if (in->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || in->index >= sd->nbufs ||
	    in->memory != sd->memory)
		return -EINVAL;
	/* No media device, so no requests: vb2 says EBADR for QBUF and EINVAL
	 * for PREPARE_BUF. */
	if (in->flags & V4L2_BUF_FLAG_REQUEST_FD)
		return prepare ? -EINVAL : -EBADR;
	struct simple_buf *b = &sd->bufs[in->index];
	if (b->state == BUF_QUEUED || (prepare && b->state == BUF_PREPARED))
		return -EINVAL;
	if (sd->memory == V4L2_MEMORY_USERPTR) {
		struct vmedia_usermem *m = vb->mem[0];
		if (m) {
			if (m->len < sd->fmt.sizeimage)
				return -EINVAL;
			vmedia_usermem_put(b->mem, false);
			b->mem = m;
			b->length = (uint32_t)m->len;
		} else if (b->state != BUF_PREPARED) {
			return -EINVAL; /* no memory at all (null pointer or length 0) */
		}
	}
	return 0;
}

int simple_prepare_buf(struct vmedia_session *s, struct vmedia_buffer *vb)
{
	struct vmedia_simple *sd = dev_of(s);
	int r = take(s, vb, true);
	if (r)
		return r;
	sd->bufs[vb->b.index].state = BUF_PREPARED;
	describe(sd, vb->b.index, &vb->b);
	return 0;
}

int simple_qbuf(struct vmedia_session *s, struct vmedia_buffer *vb)
{
	struct vmedia_simple *sd = dev_of(s);
	int r = take(s, vb, false);
	if (r)
		return r;
	uint32_t i = vb->b.index;
	sd->bufs[i].state = BUF_QUEUED;
	sd->fifo[(sd->fifo_head + sd->fifo_len) % SIMPLE_MAX_BUFFERS] = i;
	sd->fifo_len++;
	describe(sd, i, &vb->b);
	produce_all(sd);
	return 0;
}

/* ---- streaming ---- */

int simple_streamon(struct vmedia_session *s, int *type)
{
	struct vmedia_simple *sd = dev_of(s);
	if (busy(sd, s->priv))
		return -EBUSY;
	if (*type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		return -EINVAL;
	if (sd->streaming)
		return 0;
	if (!sd->nbufs)
		return -EINVAL;
	sd->streaming = true;
	sd->sequence = 0;
	sd->deadline = monotonic_ns(); /* the first frame is due at once */
	/* Under an environment the timer produces it one interval later. */
	int r = pace_start(sd, sd->deadline + simple_interval_ns(&sd->parm));
	if (r) {
		sd->streaming = false;
		sd->deadline = 0;
		return r;
	}
	produce_all(sd);
	return 0;
}

int simple_streamoff(struct vmedia_session *s, int *type)
{
	struct vmedia_simple *sd = dev_of(s);
	if (busy(sd, s->priv))
		return -EBUSY;
	if (*type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		return -EINVAL;
	cancel(sd);
	return 0;
}
