/* SPDX-License-Identifier: MIT */
/*
 * read() I/O, as the guest kernel's vb2 gives it to a capture driver that
 * sets VB2_READ (videobuf2-core.c's "fileio" emulator): the virtio-media
 * protocol has no read, so the driver side makes it out of MMAP buffers.
 *  - The first read() allocates GDRV_READ_BUFFERS MMAP buffers, maps them
 *    (MMAP commands: the driver reads the frames from the shared memory),
 *    queues them all and starts streaming.  It is refused (-EBUSY) while
 *    the queue has buffers, i.e. the application streams itself.
 *  - Each read() takes the oldest filled buffer (DQBUF, waiting as the
 *    core's DQBUF does), copies as much as asked, and queues the buffer
 *    again once all of it was read: a short read leaves the rest of the
 *    frame for the next read().
 *  - While read() owns the queue, the buffer ioctls are -EBUSY for every fd
 *    (vb2_verify_memory_type, vb2_qbuf, vb2_dqbuf, vb2_streamon/off check
 *    vb2_fileio_is_active), and other fds cannot read (vb2_fop_read's
 *    owner check).  Closing the reading fd ends it (vb2_queue_release).
 * vb2 also starts read I/O from a poll() for POLLIN on an idle queue; that
 * is left out: poll then reports nothing ready, which applications that
 * poll before their first read() do not do on a camera they read().
 */
#include <errno.h>
#include <string.h>

#include "gdrv_internal.h"

/* The ioctls vb2 refuses while file I/O is active. */
static bool buffer_ioctl(unsigned long request, void *arg, uint32_t *type)
{
	switch (request) {
	case VIDIOC_REQBUFS:
		*type = ((struct v4l2_requestbuffers *)arg)->type;
		return true;
	case VIDIOC_CREATE_BUFS:
		*type = ((struct v4l2_create_buffers *)arg)->format.type;
		return true;
	case VIDIOC_QBUF:
	case VIDIOC_DQBUF:
	case VIDIOC_PREPARE_BUF:
		*type = ((struct v4l2_buffer *)arg)->type;
		return true;
	case VIDIOC_STREAMON:
	case VIDIOC_STREAMOFF:
		*type = (uint32_t) * (int *)arg;
		return true;
	default:
		return false;
	}
}

int gdrv_read_busy(struct gdrv_fd *f, unsigned long request, void *arg)
{
	uint32_t type;
	if (!f->d->rd.owner || !buffer_ioctl(request, arg, &type))
		return 0;
	return type == V4L2_BUF_TYPE_VIDEO_CAPTURE ? -EBUSY : 0;
}

static int call(struct gdrv_fd *f, unsigned long request, void *arg)
{
	return vmedia_guest_ioctl(&f->d->g, f->sid, request, arg);
}

/* Undo what start() did, in reverse; each step whatever the last said. */
static void teardown(struct gdrv_fd *f)
{
	struct gdrv_read *rd = &f->d->rd;
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	call(f, VIDIOC_STREAMOFF, &type);
	f->streaming &= ~(1ull << V4L2_BUF_TYPE_VIDEO_CAPTURE);
	for (uint32_t i = 0; i < rd->count; i++)
		if (rd->buf[i].p)
			vmedia_guest_munmap(&f->d->g, rd->buf[i].addr);
	struct v4l2_requestbuffers rb = { .count = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = V4L2_MEMORY_MMAP };
	call(f, VIDIOC_REQBUFS, &rb);
	memset(rd, 0, sizeof(*rd));
	rd->cur = -1;
}

static int start(struct gdrv_fd *f)
{
	struct gdrv_read *rd = &f->d->rd;
	/* vb2's __vb2_init_fileio: not while the queue has buffers (anyone's:
	 * the device says whether index 0 exists) or is streaming. */
	struct v4l2_buffer probe = { .index = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				     .memory = V4L2_MEMORY_MMAP };
	if (call(f, VIDIOC_QUERYBUF, &probe) == 0)
		return -EBUSY;
	struct v4l2_requestbuffers rb = { .count = GDRV_READ_BUFFERS,
					  .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = V4L2_MEMORY_MMAP };
	int r = call(f, VIDIOC_REQBUFS, &rb);
	if (r)
		return r;
	memset(rd, 0, sizeof(*rd));
	rd->cur = -1;
	rd->owner = f;
	rd->count = rb.count < GDRV_READ_BUFFERS ? rb.count : GDRV_READ_BUFFERS;
	if (!rd->count) {
		r = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < rd->count; i++) {
		struct v4l2_buffer b = { .index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_MMAP };
		r = call(f, VIDIOC_QUERYBUF, &b);
		if (r)
			goto fail;
		uint64_t addr;
		r = vmedia_guest_mmap_len(&f->d->g, f->sid, 0, b.m.offset, b.length, &addr, NULL);
		if (r)
			goto fail;
		rd->buf[i].addr = addr;
		rd->buf[i].length = b.length;
		rd->buf[i].p = vmedia_guest_shm_ptr(&f->d->g, addr, b.length);
		if (!rd->buf[i].p) {
			vmedia_guest_munmap(&f->d->g, addr);
			r = -EFAULT;
			goto fail;
		}
		r = call(f, VIDIOC_QBUF, &b);
		if (r)
			goto fail;
	}
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	r = call(f, VIDIOC_STREAMON, &type);
	if (r)
		goto fail;
	f->streaming |= 1ull << V4L2_BUF_TYPE_VIDEO_CAPTURE;
	return 0;
fail:
	teardown(f);
	return r;
}

void gdrv_read_stop(struct gdrv_fd *f)
{
	if (f->d->rd.owner == f)
		teardown(f);
}

ssize_t gdrv_read(struct gdrv_fd *f, void *buf, size_t n)
{
	pthread_mutex_lock(&gdrv_lock);
	struct gdrv_dev *d = f->d;
	struct gdrv_read *rd = &d->rd;
	ssize_t r = 0;
	vmedia_guest_poll_events(&d->g);
	if (!d->kind->read_io) {
		r = -EINVAL; /* a driver without a read op */
		goto out;
	}
	if (rd->owner && rd->owner != f) {
		r = -EBUSY;
		goto out;
	}
	if (!rd->owner) {
		r = start(f);
		if (r)
			goto out;
	}
	if (n == 0)
		goto out;
	if (rd->cur < 0) {
		struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_MMAP };
		r = gdrv_dqbuf(f, &b);
		/* The lock was let go while waiting: the fd may have lost the
		 * queue (it cannot: only its own close ends read I/O, and a
		 * close while reading is the application's race). */
		if (r)
			goto out;
		if (b.index >= rd->count) {
			r = -EIO;
			goto out;
		}
		rd->cur = (int)b.index;
		rd->pos = 0;
		rd->len = b.bytesused < rd->buf[b.index].length ? b.bytesused
								: rd->buf[b.index].length;
	}
	size_t left = rd->len - rd->pos, c = n < left ? n : left;
	memcpy(buf, rd->buf[rd->cur].p + rd->pos, c);
	rd->pos += (uint32_t)c;
	r = (ssize_t)c;
	if (rd->pos == rd->len) {
		struct v4l2_buffer b = { .index = (uint32_t)rd->cur,
					 .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_MMAP };
		rd->cur = -1;
		int q = call(f, VIDIOC_QBUF, &b);
		if (q)
			r = q;
	}
out:
	pthread_mutex_unlock(&gdrv_lock);
	return r;
}
