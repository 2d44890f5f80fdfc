/* SPDX-License-Identifier: MIT */
/*
 * The two buffer queues of a decoder session, with vb2's rules:
 *  - REQBUFS / CREATE_BUFS / QBUF / PREPARE_BUF / STREAMON / STREAMOFF as
 *    devices/simple/buffers.c, but per session and per queue;
 *  - an OUTPUT buffer's bytes (data_offset up to bytesused) are copied into
 *    a job at QBUF, so the worker never reads guest memory; the buffer goes
 *    back (DQBUF) when the worker has consumed its job;
 *  - CAPTURE buffers wait in a FIFO that the worker takes from (under the
 *    session lock) and fills;
 *  - STREAMOFF and REQBUFS take every buffer back without events and bump
 *    the queue's generation, so completions made before are dropped.
 * USERPTR memory handed over by a successful QBUF / PREPARE_BUF is ours:
 * OUTPUT memory is released as soon as it is copied, CAPTURE memory when
 * the filled buffer is delivered (written back) or taken back (not).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "decoder_internal.h"

#define BUF_CAPS                                                                    \
	(V4L2_BUF_CAP_SUPPORTS_MMAP | V4L2_BUF_CAP_SUPPORTS_USERPTR |               \
	 V4L2_BUF_CAP_SUPPORTS_ORPHANED_BUFS)

static bool memory_ok(uint32_t m)
{
	return m == V4L2_MEMORY_MMAP || m == V4L2_MEMORY_USERPTR;
}

static bool is_output(const struct dec_queue *q)
{
	return q->type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
}

/* Smallest plane a buffer of @q needs now. */
static uint32_t min_size(const struct dec_session *ss, const struct dec_queue *q)
{
	return is_output(q) ? ss->out_fmt.sizeimage : ss->cap_fmt.sizeimage;
}

static void drop_jobs(struct dec_session *ss)
{
	while (ss->jobs) {
		struct dec_job *j = ss->jobs;
		ss->jobs = j->next;
		free(j);
	}
	ss->jobs_tail = &ss->jobs;
	ss->draining = false;
}

/* Every buffer back to DEQUEUED, USERPTR memory returned unwritten; stale
 * completions are recognised by the new generation. */
static void cancel(struct dec_session *ss, struct dec_queue *q)
{
	for (uint32_t i = 0; i < q->nbufs; i++) {
		struct dec_buf *b = &q->bufs[i];
		vmedia_usermem_put(b->mem, false);
		b->mem = NULL;
		b->state = BUF_DEQUEUED;
	}
	q->fifo_head = q->fifo_len = 0;
	q->streaming = false;
	q->sequence = 0;
	q->gen++;
	if (is_output(q))
		drop_jobs(ss);
}

/* A range the guest still maps stays until MUNMAP (media/shm.c); one
 * libavcodec still decodes into or predicts from stays until it lets go
 * (worker.c). */
static void free_buffers(struct dec_session *ss, struct dec_queue *q)
{
	cancel(ss, q);
	dec_zc_reap(ss);
	for (uint32_t i = 0; i < q->nbufs; i++)
		if (q->memory == V4L2_MEMORY_MMAP && q->bufs[i].host &&
		    !dec_zc_keep(ss, &q->bufs[i]))
			vmedia_mmap_free(ss->s->dev, q->bufs[i].offset);
	memset(q->bufs, 0, sizeof(q->bufs));
	q->nbufs = 0;
}

void dec_buffers_release(struct dec_session *ss)
{
	pthread_mutex_lock(&ss->mu);
	free_buffers(ss, &ss->q[0]);
	free_buffers(ss, &ss->q[1]);
	pthread_mutex_unlock(&ss->mu);
}

/* Add up to @n buffers of @size; fewer if the region runs out (as vb2). */
static uint32_t add_buffers(struct dec_session *ss, struct dec_queue *q, uint32_t memory,
			    uint32_t n, uint32_t size)
{
	uint32_t added = 0;
	while (added < n && q->nbufs < DEC_MAX_BUFFERS) {
		struct dec_buf *b = &q->bufs[q->nbufs];
		memset(b, 0, sizeof(*b));
		b->length = size;
		if (memory == V4L2_MEMORY_MMAP) {
			void *host;
			if (vmedia_mmap_alloc(ss->s->dev, size, &b->offset, &host) < 0)
				break;
			b->host = host;
		}
		q->nbufs++;
		added++;
	}
	return added;
}

int dec_reqbufs(struct vmedia_session *s, struct v4l2_requestbuffers *rb)
{
	struct dec_session *ss = s->priv;
	rb->capabilities = BUF_CAPS;
	rb->flags = 0;
	memset(rb->reserved, 0, sizeof(rb->reserved));
	struct dec_queue *q = dec_q(ss, rb->type);
	if (!q || !memory_ok(rb->memory))
		return -EINVAL;
	int r = 0;
	pthread_mutex_lock(&ss->mu);
	if (q->streaming) {
		r = -EBUSY;
		goto out;
	}
	free_buffers(ss, q);
	uint32_t want = rb->count < DEC_MAX_BUFFERS ? rb->count : DEC_MAX_BUFFERS;
	rb->count = 0;
	if (want == 0)
		goto out;
	uint32_t size = min_size(ss, q);
	if (!size) {
		r = -EINVAL; /* CAPTURE before the stream's format is known */
		goto out;
	}
	uint32_t got = add_buffers(ss, q, rb->memory, want, size);
	if (!got) {
		r = -ENOMEM;
		goto out;
	}
	q->memory = rb->memory;
	rb->count = got;
out:
	dec_kick(ss);
	pthread_mutex_unlock(&ss->mu);
	return r;
}

/* The size asked for must hold the current format (it may be larger, e.g.
 * for later resolution changes); count 0 only checks the arguments. */
int dec_create_bufs(struct vmedia_session *s, struct v4l2_create_buffers *cb)
{
	struct dec_session *ss = s->priv;
	cb->capabilities = BUF_CAPS;
	cb->flags = 0;
	memset(cb->reserved, 0, sizeof(cb->reserved));
	struct dec_queue *q = dec_q(ss, cb->format.type);
	if (!q || !memory_ok(cb->memory))
		return -EINVAL;
	int r = 0;
	pthread_mutex_lock(&ss->mu);
	cb->index = q->nbufs;
	if (cb->count == 0)
		goto out;
	if (q->nbufs == DEC_MAX_BUFFERS) {
		r = -ENOBUFS;
		goto out;
	}
	if (q->nbufs && cb->memory != q->memory) {
		r = -EINVAL;
		goto out;
	}
	uint64_t size = cb->format.fmt.pix_mp.plane_fmt[0].sizeimage;
	uint64_t max = is_output(q) ? DEC_OUT_MAX_SIZE
				    : (uint64_t)DEC_MAX_DIM * DEC_MAX_DIM / 2 * 3;
	if (cb->format.fmt.pix_mp.num_planes != 1 || size == 0 || size < min_size(ss, q) ||
	    size > max) {
		r = -EINVAL;
		goto out;
	}
	uint32_t got = add_buffers(ss, q, cb->memory, cb->count, (uint32_t)size);
	if (!got) {
		r = -ENOMEM;
		goto out;
	}
	q->memory = cb->memory;
	cb->count = got;
out:
	pthread_mutex_unlock(&ss->mu);
	return r;
}

void dec_describe(const struct dec_queue *q, uint32_t i, struct vmedia_buffer *vb)
{
	const struct dec_buf *b = &q->bufs[i];
	struct v4l2_buffer *out = &vb->b;
	memset(out, 0, sizeof(*out));
	memset(vb->planes, 0, sizeof(vb->planes[0]));
	out->index = i;
	out->type = q->type;
	out->memory = q->memory;
	/* M2M: the CAPTURE timestamp is the OUTPUT buffer's. */
	out->flags = V4L2_BUF_FLAG_TIMESTAMP_COPY;
	if (b->state == BUF_QUEUED || b->state == BUF_DONE)
		out->flags |= V4L2_BUF_FLAG_QUEUED;
	else if (b->state == BUF_PREPARED)
		out->flags |= V4L2_BUF_FLAG_PREPARED;
	out->field = V4L2_FIELD_NONE;
	out->timestamp = b->timestamp;
	out->sequence = b->sequence;
	out->length = 1;
	vb->planes[0].length = b->length;
	vb->planes[0].bytesused = b->bytesused;
	vb->planes[0].data_offset = b->data_offset;
	if (q->memory == V4L2_MEMORY_MMAP)
		vb->planes[0].m.mem_offset = b->offset;
}

int dec_querybuf(struct vmedia_session *s, struct vmedia_buffer *vb)
{
	struct dec_session *ss = s->priv;
	struct dec_queue *q = dec_q(ss, vb->b.type);
	int r = 0;
	pthread_mutex_lock(&ss->mu);
	if (!q || vb->b.index >= q->nbufs || vb->b.length < 1)
		r = -EINVAL;
	else
		dec_describe(q, vb->b.index, vb);
	pthread_mutex_unlock(&ss->mu);
	return r;
}

/*
 * vb2_queue_or_prepare_buf()'s checks, then take the USERPTR memory.  A
 * buffer already prepared keeps its memory unless new memory came with
 * the QBUF.  Caller holds ss->mu.
 */
static int take(struct dec_session *ss, struct dec_queue *q, struct vmedia_buffer *vb, bool prepare)
{
	struct v4l2_buffer *in = &vb->b;
	if (in->index >= q->nbufs || in->memory != q->memory || in->length < 1 ||
	    in->length > VIDEO_MAX_PLANES)
		return -EINVAL;
	/* No media device, so no requests: vb2 says EBADR for QBUF and EINVAL
	 * for PREPARE_BUF. */
	if (in->flags & V4L2_BUF_FLAG_REQUEST_FD)
		return prepare ? -EINVAL : -EBADR;
	struct dec_buf *b = &q->bufs[in->index];
	if (b->state == BUF_QUEUED || b->state == BUF_DONE || (prepare && b->state == BUF_PREPARED))
		return -EINVAL;
	/* vb2 reads a prepared buffer's planes once, at PREPARE_BUF: its
	 * QBUF queues what was verified then, whatever the QBUF says. */
	if (is_output(q) && !(b->state == BUF_PREPARED && !prepare)) {
		/* vb2's __verify_length() for OUTPUT. */
		uint32_t used = vb->planes[0].bytesused, off = vb->planes[0].data_offset;
		uint32_t len = q->memory == V4L2_MEMORY_USERPTR && vb->mem[0] ? (uint32_t)vb->mem[0]->len
									: b->length;
		if (!used) {
			/* vb2's __fill_vb2_buffer(): an OUTPUT plane queued
			 * with bytesused 0 is taken as full (deprecated, and
			 * what older applications rely on). */
			used = len;
			vb->planes[0].bytesused = len;
		}
		if (used > len || (off && off >= used))
			return -EINVAL;
	}
	if (q->memory == V4L2_MEMORY_USERPTR) {
		struct vmedia_usermem *m = vb->mem[0];
		if (m) {
			if (m->len < min_size(ss, q) || m->len > UINT32_MAX)
				return -EINVAL;
			vmedia_usermem_put(b->mem, false);
			b->mem = m;
			vb->mem[0] = NULL;
			b->length = (uint32_t)m->len;
		} else if (b->state != BUF_PREPARED) {
			return -EINVAL; /* no memory at all (null pointer or length 0) */
		}
	}
	return 0;
}

int dec_prepare_buf(struct vmedia_session *s, struct vmedia_buffer *vb)
{
	struct dec_session *ss = s->priv;
	struct dec_queue *q = dec_q(ss, vb->b.type);
	if (!q)
		return -EINVAL;
	pthread_mutex_lock(&ss->mu);
	int r = take(ss, q, vb, true);
	if (!r && is_output(q)) {
		q->bufs[vb->b.index].bytesused = vb->planes[0].bytesused;
		q->bufs[vb->b.index].data_offset = vb->planes[0].data_offset;
	}
	if (!r) {
		q->bufs[vb->b.index].state = BUF_PREPARED;
		dec_describe(q, vb->b.index, vb);
	}
	pthread_mutex_unlock(&ss->mu);
	return r;
}

/* OUTPUT: copy the payload into a job for the worker and let the memory go. */
static int queue_output(struct dec_session *ss, struct dec_queue *q, struct vmedia_buffer *vb)
{
	uint32_t i = vb->b.index;
	struct dec_buf *b = &q->bufs[i];
	uint32_t used = vb->planes[0].bytesused, off = vb->planes[0].data_offset;
	if (b->state == BUF_PREPARED) {
		used = b->bytesused; /* what PREPARE_BUF verified */
		off = b->data_offset;
	}
	size_t size = used > off ? used - off : 0;
	if (size > DEC_OUT_MAX_SIZE)
		return -EINVAL;
	/* libavcodec's parsers and decoders read up to
	 * AV_INPUT_BUFFER_PADDING_SIZE bytes past the end of their input. */
	struct dec_job *j = malloc(sizeof(*j) + size + AV_INPUT_BUFFER_PADDING_SIZE);
	if (!j)
		return -ENOMEM;
	const uint8_t *src = q->memory == V4L2_MEMORY_MMAP ? b->host : (const uint8_t *)b->mem->ptr;
	memcpy(j->data, src + off, size);
	memset(j->data + size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
	j->next = NULL;
	j->index = i;
	j->gen = q->gen;
	j->drain = false;
	j->returned = false;
	j->size = size;
	j->pts = (int64_t)vb->b.timestamp.tv_sec * 1000000 + vb->b.timestamp.tv_usec;
	vmedia_usermem_put(b->mem, false);
	b->mem = NULL;
	b->bytesused = used;
	b->data_offset = off;
	b->timestamp = vb->b.timestamp;
	b->flags = 0;
	b->state = BUF_QUEUED;
	*ss->jobs_tail = j;
	ss->jobs_tail = &j->next;
	dec_return_jobs(ss, NULL);
	return 0;
}

int dec_qbuf(struct vmedia_session *s, struct vmedia_buffer *vb)
{
	struct dec_session *ss = s->priv;
	struct dec_queue *q = dec_q(ss, vb->b.type);
	if (!q)
		return -EINVAL;
	pthread_mutex_lock(&ss->mu);
	int r = take(ss, q, vb, false);
	if (r)
		goto out;
	uint32_t i = vb->b.index;
	if (is_output(q)) {
		r = queue_output(ss, q, vb);
		if (r)
			goto out;
	} else {
		struct dec_buf *b = &q->bufs[i];
		b->state = BUF_QUEUED;
		b->bytesused = 0;
		b->data_offset = 0;
		q->fifo[(q->fifo_head + q->fifo_len) % DEC_MAX_BUFFERS] = i;
		q->fifo_len++;
	}
	dec_describe(q, i, vb);
	dec_kick(ss);
out:
	pthread_mutex_unlock(&ss->mu);
	return r;
}

int dec_streamon(struct vmedia_session *s, int *type)
{
	struct dec_session *ss = s->priv;
	struct dec_queue *q = dec_q(ss, (uint32_t)*type);
	if (!q)
		return -EINVAL;
	int r = 0;
	pthread_mutex_lock(&ss->mu);
	if (q->streaming)
		goto out;
	if (!q->nbufs) {
		r = -EINVAL;
		goto out;
	}
	q->streaming = true;
	q->sequence = 0;
	/* OUTPUT streaming with no CAPTURE stream is the spec's
	 * Initialization: the stream's format is announced (SOURCE_CHANGE)
	 * once found, even if an earlier stream had the same. */
	if (is_output(q) && !ss->q[1].streaming) {
		ss->parsed = false;
		ss->new_stream = true;
	}
	if (is_output(q))
		dec_return_jobs(ss, NULL);
	dec_kick(ss);
out:
	pthread_mutex_unlock(&ss->mu);
	/* The worker starts with the first OUTPUT stream (it needs a codec). */
	if (!r && is_output(q)) {
		r = dec_worker_start(ss);
		if (r) {
			pthread_mutex_lock(&ss->mu);
			q->streaming = false;
			pthread_mutex_unlock(&ss->mu);
		}
	}
	return r;
}

/*
 * OUTPUT: a seek.  Pending jobs are dropped and the worker resets its
 * decoder and parser before anything queued later.  CAPTURE: the buffers
 * come back; a decoder stopped after a LAST buffer resumes (the spec's
 * STREAMOFF / STREAMON pair), and a frame the worker holds goes into the
 * next buffer.
 */
int dec_streamoff(struct vmedia_session *s, int *type)
{
	struct dec_session *ss = s->priv;
	struct dec_queue *q = dec_q(ss, (uint32_t)*type);
	if (!q)
		return -EINVAL;
	pthread_mutex_lock(&ss->mu);
	cancel(ss, q);
	if (is_output(q))
		ss->flush = true;
	ss->stopped = false;
	dec_kick(ss);
	pthread_mutex_unlock(&ss->mu);
	return 0;
}
