/* SPDX-License-Identifier: MIT */
/*
 * gdrv's ioctl path: what the guest kernel's V4L2 core does around the
 * virtio-media driver, which the guest model does not model, then the
 * model itself.
 *  - G/S_PRIORITY and the priority check of "set" ioctls (v4l2_prio_*): the
 *    core answers them, the device never sees them (PROTOCOL.md: ENOTTY).
 *  - DQBUF and DQEVENT wait unless the fd is O_NONBLOCK; DQBUF EINVALs on a queue that
 *    is not streaming (vb2's rule), since poll() on the file cannot wait for
 *    us.  While it waits, a real-time device is ticked at its deadlines and
 *    an asynchronous one (the decoder) is waited for on its wake fd, its
 *    completions delivered: this is the event loop a VMM would run.
 *  - poll: a memory-to-memory device answers with v4l2_m2m_poll()'s rules
 *    (gdrv.h), for which the core's vb2 state is tracked here.
 *  - The eventq is drained before every command, as the driver's interrupt
 *    handler would have done before the application could send the next one.
 *  - CROPCAP, G_CROP and S_CROP made of the selection ioctls, as the core
 *    does for every driver with selection ioctls.
 *  - read() I/O for capture devices whose kind asks for it (fileio.c):
 *    QUERYCAP gains V4L2_CAP_READWRITE and a capture G/S_PARM reports the
 *    read buffers, as a vb2 driver with VB2_READ does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>

#include "gdrv_internal.h"

/* The ioctls the core refuses (EBUSY) to an fd below the highest priority. */
static const unsigned long prio_checked[] = {
	VIDIOC_S_FMT, VIDIOC_REQBUFS, VIDIOC_S_FBUF, VIDIOC_OVERLAY, VIDIOC_STREAMON,
	VIDIOC_STREAMOFF, VIDIOC_S_PARM, VIDIOC_S_STD, VIDIOC_S_CTRL, VIDIOC_S_TUNER,
	VIDIOC_S_AUDIO, VIDIOC_S_INPUT, VIDIOC_S_EDID, VIDIOC_S_OUTPUT, VIDIOC_S_AUDOUT,
	VIDIOC_S_MODULATOR, VIDIOC_S_CROP, VIDIOC_S_JPEGCOMP, VIDIOC_S_FREQUENCY,
	VIDIOC_S_EXT_CTRLS, VIDIOC_S_SELECTION, VIDIOC_S_HW_FREQ_SEEK, VIDIOC_CREATE_BUFS,
	VIDIOC_S_DV_TIMINGS, VIDIOC_S_PRIORITY, VIDIOC_ENCODER_CMD, VIDIOC_DECODER_CMD,
};

static bool in(const unsigned long *list, size_t n, unsigned long req)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == req)
			return true;
	return false;
}

#define IN(list, req) in(list, sizeof(list) / sizeof(list[0]), req)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- priorities (v4l2-dev.c's v4l2_prio_*) ---- */

static uint32_t prio_max(const struct gdrv_dev *d)
{
	for (uint32_t p = V4L2_PRIORITY_RECORD; p > V4L2_PRIORITY_UNSET; p--)
		if (d->prio_count[p])
			return p;
	return V4L2_PRIORITY_UNSET;
}

static int s_priority(struct gdrv_fd *f, const uint32_t *p)
{
	if (*p < V4L2_PRIORITY_BACKGROUND || *p > V4L2_PRIORITY_RECORD)
		return -EINVAL;
	f->d->prio_count[f->prio]--;
	f->prio = *p;
	f->d->prio_count[f->prio]++;
	return 0;
}

/* ---- DQBUF ---- */

static uint32_t buf_type(unsigned long request, void *arg)
{
	switch (request) {
	case VIDIOC_STREAMON:
	case VIDIOC_STREAMOFF:
		return (uint32_t)*(int *)arg;
	case VIDIOC_REQBUFS:
		return ((struct v4l2_requestbuffers *)arg)->type;
	default:
		return ((struct v4l2_buffer *)arg)->type;
	}
}

/* Nothing scheduled (benchmark devices, or no buffer queued): look again
 * this soon, for buffers queued by another thread. */
#define IDLE_NS 2000000ull
/* An asynchronous device says when it finished something (its wake fd);
 * this only bounds how late a waiter notices what another thread changed
 * (a STREAMOFF, say), which the kernel would wake it for. */
#define ASYNC_IDLE_NS 50000000ull

/* What the device's interrupt would have brought in by now. */
static void deliver(struct gdrv_dev *d)
{
	if (d->kind->complete)
		d->kind->complete(d->state);
	/* DQBUF and V4L2 events are on the eventq: take them as the IRQ would. */
	vmedia_guest_poll_events(&d->g);
}

uint64_t gdrv_tick(struct gdrv_dev *d)
{
	deliver(d);
	if (!d->kind->tick)
		return d->kind->complete ? ASYNC_IDLE_NS : IDLE_NS;
	uint64_t dl = d->kind->next_deadline(d->state), now = now_ns();
	if (dl && now >= dl && d->kind->tick(d->state, now) > 0) {
		deliver(d);
		dl = d->kind->next_deadline(d->state);
		now = now_ns();
	}
	return dl > now && dl - now < IDLE_NS ? dl - now : IDLE_NS;
}

void gdrv_wait(struct gdrv_dev *d, uint64_t ns)
{
	int fd = d->kind->wake_fd ? d->kind->wake_fd(d->state) : -1;
	struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
	/* Let other threads in while we wait (they may queue a buffer). */
	pthread_mutex_unlock(&gdrv_lock);
	if (fd >= 0) {
		/* ppoll, not poll: the LD_PRELOAD shim interposes poll(). */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ppoll(&p, 1, &ts, NULL);
	} else {
		nanosleep(&ts, NULL);
	}
	pthread_mutex_lock(&gdrv_lock);
}

int gdrv_wake_fd(struct gdrv_fd *f)
{
	const struct gdrv_dev *d = f->d;
	return d->kind->wake_fd ? d->kind->wake_fd(d->state) : -1;
}

/* ---- M2M state the poll rules need ---- */

static bool m2m_type(uint32_t type)
{
	return type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE ||
	       type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE || type == V4L2_BUF_TYPE_VIDEO_OUTPUT ||
	       type == V4L2_BUF_TYPE_VIDEO_CAPTURE;
}

/*
 * After a successful ioctl: vb2's queued_list (QBUF adds a buffer, DQBUF
 * takes it off, STREAMOFF and REQBUFS empty it) and last_buffer_dequeued
 * (set by dequeuing a LAST CAPTURE buffer, cleared by STREAMOFF, REQBUFS
 * and v4l2_m2m_decoder_cmd's START).
 */
static void track_m2m(struct gdrv_fd *f, unsigned long request, void *arg)
{
	if (request == VIDIOC_DECODER_CMD) {
		if (((struct v4l2_decoder_cmd *)arg)->cmd == V4L2_DEC_CMD_START)
			f->last_dequeued = false;
		return;
	}
	if (request != VIDIOC_QBUF && request != VIDIOC_DQBUF && request != VIDIOC_STREAMOFF &&
	    request != VIDIOC_REQBUFS)
		return;
	uint32_t type = buf_type(request, arg);
	if (!m2m_type(type))
		return;
	bool out = V4L2_TYPE_IS_OUTPUT(type);
	uint32_t *owned = &f->owned[out ? 0 : 1];
	if (request == VIDIOC_QBUF) {
		(*owned)++;
	} else if (request == VIDIOC_DQBUF) {
		if (*owned)
			(*owned)--;
		if (!out && (((struct v4l2_buffer *)arg)->flags & V4L2_BUF_FLAG_LAST))
			f->last_dequeued = true;
	} else {
		*owned = 0;
		if (!out)
			f->last_dequeued = false;
	}
}

/* v4l2_m2m_poll(): the data bits only when asked for, POLLERR when neither
 * queue streams with a buffer queued (nor CAPTURE has given its LAST one),
 * POLLPRI for a pending event whatever was asked. */
static int m2m_poll(struct gdrv_fd *f, short events)
{
	struct gdrv_dev *d = f->d;
	/* No data bits asked: POLLPRI only (POLLERR once the device closed the
	 * session after an ERROR event, as the model reports it). */
	int rc = vmedia_guest_poll(&d->g, f->sid, 0);
	if (rc < 0 || (rc & POLLERR))
		return rc;
	if (!(events & (POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM)))
		return rc;
	bool mp = d->caps & V4L2_CAP_VIDEO_M2M_MPLANE;
	uint32_t ot = mp ? V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE : V4L2_BUF_TYPE_VIDEO_OUTPUT;
	uint32_t ct = mp ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE : V4L2_BUF_TYPE_VIDEO_CAPTURE;
	bool src_on = f->streaming & (1ull << ot), dst_on = f->streaming & (1ull << ct);
	if ((!src_on || !f->owned[0]) && (!dst_on || (!f->owned[1] && !f->last_dequeued)))
		return rc | POLLERR;
	if (vmedia_guest_pending_dqbufs(&d->g, f->sid, ot) > 0)
		rc |= POLLOUT | POLLWRNORM;
	/* After the LAST buffer: readable, DQBUF says EPIPE. */
	if (vmedia_guest_pending_dqbufs(&d->g, f->sid, ct) > 0 || f->last_dequeued)
		rc |= POLLIN | POLLRDNORM;
	return rc;
}

short gdrv_poll(struct gdrv_fd *f, short events, uint64_t *next_ns)
{
	pthread_mutex_lock(&gdrv_lock);
	struct gdrv_dev *d = f->d;
	uint64_t next = gdrv_tick(d);
	int r = d->m2m ? m2m_poll(f, events) : vmedia_guest_poll(&d->g, f->sid, events);
	pthread_mutex_unlock(&gdrv_lock);
	if (next_ns)
		*next_ns = next;
	return r < 0 ? POLLNVAL : (short)r;
}

/* Whether a DQBUF / DQEVENT with nothing to take returns at once. */
static bool nonblocking(const struct gdrv_fd *f)
{
	int fl = fcntl(f->fd, F_GETFL);
	return fl >= 0 && (fl & O_NONBLOCK);
}

int gdrv_dqbuf(struct gdrv_fd *f, struct v4l2_buffer *b)
{
	uint32_t type = b->type;
	for (;;) {
		uint64_t wait = gdrv_tick(f->d);
		int r = vmedia_guest_dqbuf(&f->d->g, f->sid, b);
		if (r != -EAGAIN)
			return r;
		/* vb2's order: a queue that is not streaming is EINVAL even for
		 * an O_NONBLOCK fd. */
		if (type >= 64 || !(f->streaming & (1ull << type)))
			return -EINVAL;
		if (nonblocking(f))
			return r;
		gdrv_wait(f->d, wait);
	}
}

/* VIDIOC_DQEVENT waits on a blocking fd until an event is pending, as
 * v4l2_event_dequeue() does (v4l2-compliance dequeues a decoder's first
 * SOURCE_CHANGE so, right after STREAMON). */
static int gdrv_dqevent(struct gdrv_fd *f, struct v4l2_event *ev)
{
	for (;;) {
		uint64_t wait = gdrv_tick(f->d);
		int r = vmedia_guest_dqevent(&f->d->g, f->sid, ev);
		if (r != -ENOENT)
			return r;
		if (nonblocking(f))
			return r;
		gdrv_wait(f->d, wait);
	}
}

/* ---- the legacy crop ioctls (v4l2-ioctl.c's v4l_cropcap, v4l_g/s_crop) ----
 * The core answers CROPCAP, G_CROP and S_CROP from the driver's selection
 * ioctls, which the virtio-media driver has (it passes them to the device):
 * the device never sees the legacy ones. */

static uint32_t sel_type(uint32_t type)
{
	if (type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE)
		return V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if (type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE)
		return V4L2_BUF_TYPE_VIDEO_OUTPUT;
	return type;
}

static int legacy_crop(struct gdrv_fd *f, unsigned long request, void *arg)
{
	struct vmedia_guest *g = &f->d->g;
	if (request == VIDIOC_CROPCAP) {
		struct v4l2_cropcap *p = arg;
		struct v4l2_selection s = { .type = sel_type(p->type) };
		p->pixelaspect.numerator = 1;
		p->pixelaspect.denominator = 1;
		bool out = V4L2_TYPE_IS_OUTPUT(p->type);
		s.target = out ? V4L2_SEL_TGT_COMPOSE_BOUNDS : V4L2_SEL_TGT_CROP_BOUNDS;
		int r = vmedia_guest_ioctl(g, f->sid, VIDIOC_G_SELECTION, &s);
		if (r)
			return r;
		p->bounds = s.r;
		s.target = out ? V4L2_SEL_TGT_COMPOSE_DEFAULT : V4L2_SEL_TGT_CROP_DEFAULT;
		r = vmedia_guest_ioctl(g, f->sid, VIDIOC_G_SELECTION, &s);
		if (!r)
			p->defrect = s.r;
		return r;
	}
	/* Crop means compose for output devices. */
	struct v4l2_crop *p = arg;
	struct v4l2_selection s = { .type = sel_type(p->type) };
	s.target = V4L2_TYPE_IS_OUTPUT(p->type) ? V4L2_SEL_TGT_COMPOSE : V4L2_SEL_TGT_CROP;
	if (request == VIDIOC_S_CROP)
		s.r = p->c;
	int r = vmedia_guest_ioctl(g, f->sid,
				   request == VIDIOC_S_CROP ? VIDIOC_S_SELECTION : VIDIOC_G_SELECTION,
				   &s);
	if (!r)
		p->c = s.r;
	return r;
}

/* ---- the entry ---- */

/* What the core and a VB2_READ driver add to the device's answer. */
static void read_io_view(const struct gdrv_dev *d, unsigned long request, void *arg)
{
	if (!d->kind->read_io)
		return;
	if (request == VIDIOC_QUERYCAP) {
		struct v4l2_capability *c = arg;
		uint32_t need = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING;
		if ((c->device_caps & need) == need) {
			c->device_caps |= V4L2_CAP_READWRITE;
			c->capabilities |= V4L2_CAP_READWRITE;
		}
	} else if (request == VIDIOC_G_PARM || request == VIDIOC_S_PARM) {
		struct v4l2_streamparm *p = arg;
		if (p->type == V4L2_BUF_TYPE_VIDEO_CAPTURE && !p->parm.capture.readbuffers)
			p->parm.capture.readbuffers = GDRV_READ_BUFFERS;
	}
}

static void track_streaming(struct gdrv_fd *f, unsigned long request, void *arg)
{
	uint32_t type = buf_type(request, arg);
	if (type >= 64)
		return;
	if (request == VIDIOC_STREAMON)
		f->streaming |= 1ull << type;
	else if (request == VIDIOC_STREAMOFF ||
		 (request == VIDIOC_REQBUFS && ((struct v4l2_requestbuffers *)arg)->count == 0))
		f->streaming &= ~(1ull << type);
}

int gdrv_ioctl(struct gdrv_fd *f, unsigned long request, void *arg)
{
	/* The kernel ignores the upper half (some applications sign-extend). */
	request = (unsigned int)request;
	/* The model's whole-number match first: an unknown number is ENOTTY
	 * even with a NULL arg, before the checks of the ioctls answered here. */
	if (!vmedia_guest_known_ioctl(request))
		return -ENOTTY;
	if (_IOC_SIZE(request) && !arg)
		return -EFAULT;
	pthread_mutex_lock(&gdrv_lock);
	struct gdrv_dev *d = f->d;
	deliver(d);
	int r;
	if (IN(prio_checked, request) && f->prio < prio_max(d)) {
		r = -EBUSY;
	} else if (request == VIDIOC_G_PRIORITY) {
		*(uint32_t *)arg = prio_max(d);
		r = 0;
	} else if (request == VIDIOC_S_PRIORITY) {
		r = s_priority(f, arg);
	} else if ((r = gdrv_read_busy(f, request, arg)) != 0) {
		/* read() owns the queue */
	} else if (request == VIDIOC_CROPCAP || request == VIDIOC_G_CROP ||
		   request == VIDIOC_S_CROP) {
		r = legacy_crop(f, request, arg);
	} else if (request == VIDIOC_DQBUF) {
		r = gdrv_dqbuf(f, arg);
		if (r == 0 && d->m2m)
			track_m2m(f, request, arg);
	} else if (request == VIDIOC_DQEVENT) {
		r = gdrv_dqevent(f, arg);
	} else {
		r = vmedia_guest_ioctl(&d->g, f->sid, request, arg);
		if (r == 0)
			read_io_view(d, request, arg);
		if (r == 0 && (request == VIDIOC_STREAMON || request == VIDIOC_STREAMOFF ||
			       request == VIDIOC_REQBUFS))
			track_streaming(f, request, arg);
		if (r == 0 && d->m2m)
			track_m2m(f, request, arg);
	}
	pthread_mutex_unlock(&gdrv_lock);
	return r;
}
