/* SPDX-License-Identifier: MIT */
/*
 * gdrv's ioctl path: what the guest kernel's V4L2 core does around the
 * virtio-media driver, which the guest model does not model, then the
 * model itself.
 *  - G/S_PRIORITY and the priority check of "set" ioctls (v4l2_prio_*): the
 *    core answers them, the device never sees them (PROTOCOL.md: ENOTTY).
 *  - DQBUF waits unless the fd is O_NONBLOCK, and EINVALs on a queue that
 *    is not streaming (vb2's rule), since poll() on the file cannot wait for
 *    us.  While it waits, a real-time device is ticked at its deadlines: this
 *    is the event loop a VMM would run.
 *  - The eventq is drained before every command, as the driver's interrupt
 *    handler would have done before the application could send the next one.
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

uint64_t gdrv_tick(struct gdrv_dev *d)
{
	if (!d->kind->tick)
		return IDLE_NS;
	uint64_t dl = d->kind->next_deadline(d->state), now = now_ns();
	if (dl && now >= dl && d->kind->tick(d->state, now) > 0) {
		/* The DQBUF event is on the eventq: take it as the IRQ would. */
		vmedia_guest_poll_events(&d->g);
		dl = d->kind->next_deadline(d->state);
		now = now_ns();
	}
	return dl > now && dl - now < IDLE_NS ? dl - now : IDLE_NS;
}

short gdrv_poll(struct gdrv_fd *f, short events, uint64_t *next_ns)
{
	pthread_mutex_lock(&gdrv_lock);
	struct gdrv_dev *d = f->d;
	vmedia_guest_poll_events(&d->g);
	uint64_t next = gdrv_tick(d);
	int r = vmedia_guest_poll(&d->g, f->sid, events);
	pthread_mutex_unlock(&gdrv_lock);
	if (next_ns)
		*next_ns = next;
	return r < 0 ? POLLNVAL : (short)r;
}

int gdrv_dqbuf(struct gdrv_fd *f, struct v4l2_buffer *b)
{
	uint32_t type = b->type;
	for (;;) {
		uint64_t wait = gdrv_tick(f->d);
		int r = vmedia_guest_dqbuf(&f->d->g, f->sid, b);
		if (r != -EAGAIN)
			return r;
		int fl = fcntl(f->fd, F_GETFL);
		if (fl >= 0 && (fl & O_NONBLOCK))
			return r;
		if (type >= 64 || !(f->streaming & (1ull << type)))
			return -EINVAL;
		/* Let other threads in while we sleep (they may queue a buffer). */
		pthread_mutex_unlock(&gdrv_lock);
		struct timespec ts = { (time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull) };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&gdrv_lock);
		vmedia_guest_poll_events(&f->d->g);
	}
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
	vmedia_guest_poll_events(&d->g);
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
	} else if (request == VIDIOC_DQBUF) {
		r = gdrv_dqbuf(f, arg);
	} else {
		r = vmedia_guest_ioctl(&d->g, f->sid, request, arg);
		if (r == 0)
			read_io_view(d, request, arg);
		if (r == 0 && (request == VIDIOC_STREAMON || request == VIDIOC_STREAMOFF ||
			       request == VIDIOC_REQBUFS))
			track_streaming(f, request, arg);
	}
	pthread_mutex_unlock(&gdrv_lock);
	return r;
}
