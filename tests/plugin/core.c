/* SPDX-License-Identifier: MIT */
/*
 * gdrv's ioctl path: what the guest kernel's V4L2 core does around the
 * virtio-media driver, which the guest model does not model, then the
 * model itself.
 *  - Only known VIDIOC_* numbers go on (video_ioctl2 matches the whole
 *    number: a wrong size or direction is ENOTTY, not the driver's business).
 *  - G/S_PRIORITY and the priority check of "set" ioctls (v4l2_prio_*): the
 *    core answers them, the device never sees them (PROTOCOL.md: ENOTTY).
 *  - DQBUF waits unless the fd is O_NONBLOCK, and EINVALs on a queue that
 *    is not streaming (vb2's rule), since poll() on the file cannot wait for
 *    us.  While it waits, a real-time device is ticked at its deadlines: this
 *    is the event loop a VMM would run.
 *  - The eventq is drained before every command, as the driver's interrupt
 *    handler would have done before the application could send the next one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "gdrv_internal.h"

static const unsigned long known[] = {
	VIDIOC_QUERYCAP, VIDIOC_ENUM_FMT, VIDIOC_G_FMT, VIDIOC_S_FMT, VIDIOC_REQBUFS,
	VIDIOC_QUERYBUF, VIDIOC_G_FBUF, VIDIOC_S_FBUF, VIDIOC_OVERLAY, VIDIOC_QBUF,
	VIDIOC_EXPBUF, VIDIOC_DQBUF, VIDIOC_STREAMON, VIDIOC_STREAMOFF, VIDIOC_G_PARM,
	VIDIOC_S_PARM, VIDIOC_G_STD, VIDIOC_S_STD, VIDIOC_ENUMSTD, VIDIOC_ENUMINPUT,
	VIDIOC_G_CTRL, VIDIOC_S_CTRL, VIDIOC_G_TUNER, VIDIOC_S_TUNER, VIDIOC_G_AUDIO,
	VIDIOC_S_AUDIO, VIDIOC_QUERYCTRL, VIDIOC_QUERYMENU, VIDIOC_G_INPUT, VIDIOC_S_INPUT,
	VIDIOC_G_EDID, VIDIOC_S_EDID, VIDIOC_G_OUTPUT, VIDIOC_S_OUTPUT, VIDIOC_ENUMOUTPUT,
	VIDIOC_G_AUDOUT, VIDIOC_S_AUDOUT, VIDIOC_G_MODULATOR, VIDIOC_S_MODULATOR,
	VIDIOC_G_FREQUENCY, VIDIOC_S_FREQUENCY, VIDIOC_CROPCAP, VIDIOC_G_CROP, VIDIOC_S_CROP,
	VIDIOC_G_JPEGCOMP, VIDIOC_S_JPEGCOMP, VIDIOC_QUERYSTD, VIDIOC_TRY_FMT, VIDIOC_ENUMAUDIO,
	VIDIOC_ENUMAUDOUT, VIDIOC_G_PRIORITY, VIDIOC_S_PRIORITY, VIDIOC_G_SLICED_VBI_CAP,
	VIDIOC_LOG_STATUS, VIDIOC_G_EXT_CTRLS, VIDIOC_S_EXT_CTRLS, VIDIOC_TRY_EXT_CTRLS,
	VIDIOC_ENUM_FRAMESIZES, VIDIOC_ENUM_FRAMEINTERVALS, VIDIOC_G_ENC_INDEX,
	VIDIOC_ENCODER_CMD, VIDIOC_TRY_ENCODER_CMD, VIDIOC_DBG_S_REGISTER, VIDIOC_DBG_G_REGISTER,
	VIDIOC_S_HW_FREQ_SEEK, VIDIOC_S_DV_TIMINGS, VIDIOC_G_DV_TIMINGS, VIDIOC_DQEVENT,
	VIDIOC_SUBSCRIBE_EVENT, VIDIOC_UNSUBSCRIBE_EVENT, VIDIOC_CREATE_BUFS, VIDIOC_PREPARE_BUF,
	VIDIOC_G_SELECTION, VIDIOC_S_SELECTION, VIDIOC_DECODER_CMD, VIDIOC_TRY_DECODER_CMD,
	VIDIOC_ENUM_DV_TIMINGS, VIDIOC_QUERY_DV_TIMINGS, VIDIOC_DV_TIMINGS_CAP,
	VIDIOC_ENUM_FREQ_BANDS, VIDIOC_DBG_G_CHIP_INFO, VIDIOC_QUERY_EXT_CTRL,
};

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

static int dqbuf(struct gdrv_fd *f, struct v4l2_buffer *b)
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

/* ---- user memory ---- */

/* Can this process read [p, p+len)?  One byte per page, through the
 * kernel, which says EFAULT instead of faulting. */
static bool readable(uintptr_t p, size_t len)
{
	enum { PG = 4096, BATCH = 256 };
	uint8_t sink[BATCH];
	struct iovec local = { sink, 0 }, remote[BATCH];
	uintptr_t end = p + len;
	if (end < p)
		return false;
	while (p < end) {
		unsigned n = 0;
		for (; n < BATCH && p < end; n++) {
			remote[n] = (struct iovec){ (void *)p, 1 };
			p = (p | (PG - 1)) + 1;
		}
		local.iov_len = n;
		if (process_vm_readv(getpid(), &local, 1, remote, n, 0) != (ssize_t)n)
			return false;
	}
	return true;
}

/*
 * The guest driver pins USERPTR pages (get_user_pages) and fails with
 * EFAULT when they are not there; the model copies them with memcpy and
 * would crash on them, so look first.  v4l2-compliance checks this on
 * purpose with a pointer to nowhere.
 */
static int check_userptr(const struct v4l2_buffer *b)
{
	if (b->memory != V4L2_MEMORY_USERPTR)
		return 0;
	if (!V4L2_TYPE_IS_MULTIPLANAR(b->type))
		return !b->m.userptr || readable(b->m.userptr, b->length) ? 0 : -EFAULT;
	if (b->length > VIDEO_MAX_PLANES || !b->m.planes)
		return 0; /* the model answers these */
	for (uint32_t i = 0; i < b->length; i++) {
		const struct v4l2_plane *pl = &b->m.planes[i];
		if (pl->m.userptr && !readable(pl->m.userptr, pl->length))
			return -EFAULT;
	}
	return 0;
}

/* Record the pointer a QBUF / PREPARE_BUF handed over; answer QUERYBUF
 * with it, as vb2 does (the model sends QUERYBUF on and the device hands
 * back whatever pointer came with it: it never sees guest pointers). */
static void userptr_note(struct gdrv_dev *d, unsigned long request, struct v4l2_buffer *b)
{
	if (b->memory != V4L2_MEMORY_USERPTR || V4L2_TYPE_IS_MULTIPLANAR(b->type) ||
	    b->type >= VMEDIA_GUEST_NUM_QUEUES || b->index >= 64)
		return;
	/* QBUF of a prepared buffer may come without a pointer: it keeps the
	 * prepared one, and says so. */
	if (request == VIDIOC_QUERYBUF || (request == VIDIOC_QBUF && !b->m.userptr)) {
		b->m.userptr = (unsigned long)d->userptr[b->type][b->index].ptr;
		if (b->m.userptr)
			b->length = d->userptr[b->type][b->index].len;
	} else {
		d->userptr[b->type][b->index].ptr = b->m.userptr;
		d->userptr[b->type][b->index].len = b->length;
	}
}

/* ---- the entry ---- */

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
	if (!IN(known, request))
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
	} else if (request == VIDIOC_DQBUF) {
		r = dqbuf(f, arg);
	} else if ((request == VIDIOC_QBUF || request == VIDIOC_PREPARE_BUF) &&
		   (r = check_userptr(arg)) != 0) {
		/* r is -EFAULT */
	} else {
		r = vmedia_guest_ioctl(&d->g, f->sid, request, arg);
		if (r == 0 && (request == VIDIOC_STREAMON || request == VIDIOC_STREAMOFF ||
			       request == VIDIOC_REQBUFS))
			track_streaming(f, request, arg);
		if (r == 0 && (request == VIDIOC_QBUF || request == VIDIOC_PREPARE_BUF ||
			       request == VIDIOC_QUERYBUF))
			userptr_note(d, request, arg);
	}
	pthread_mutex_unlock(&gdrv_lock);
	return r;
}
