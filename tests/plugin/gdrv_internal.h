/* SPDX-License-Identifier: MIT */
/* Between the parts of gdrv: the instance registry (gdrv.c), the device
 * kinds (kinds.c) and the V4L2-core side of ioctl (core.c). */
#ifndef GDRV_INTERNAL_H
#define GDRV_INTERNAL_H

#include <pthread.h>
#include <sys/types.h>

#include "gdrv.h"
#include "vmedia.h"
#include "vmedia_guest.h"

/* A device the plugin can put behind a file. */
struct gdrv_kind {
	const char *name;
	const struct vmedia_device_ops *ops;
	/* Create the device's state (dev->priv) and its config space.
	 * Returns NULL on failure. */
	void *(*create)(struct vmedia_config_space *config);
	void (*destroy)(void *state);
	/* Real-time devices: produce what is due at @now_ns (CLOCK_MONOTONIC),
	 * and say when the next thing is due (0: nothing).  NULL: frames come
	 * from commands alone. */
	int (*tick)(void *state, uint64_t now_ns);
	uint64_t (*next_deadline)(void *state);
	/* A capture device whose guest driver would give read() I/O (vb2's
	 * VB2_READ; fileio.c): gdrv adds V4L2_CAP_READWRITE to QUERYCAP, as
	 * the kernel's core would, not the device's config space. */
	bool read_io;
	/* Asynchronous devices (work finishes on threads of their own): an fd
	 * that is readable (POLLIN) while finished work waits, and the call
	 * that delivers it on the device's thread (here: whoever holds
	 * gdrv_lock).  NULL: everything completes inside commands or ticks. */
	int (*wake_fd)(const void *state);
	int (*complete)(void *state);
};

/* By name, or NULL. */
const struct gdrv_kind *gdrv_kind_find(const char *name);

/* Read buffers vb2's fileio allocates (it asks for at least 2; the
 * readbuffers a capture G_PARM reports). */
#define GDRV_READ_BUFFERS 3

/* read() I/O on a capture queue (fileio.c): one per device, as vb2 has one
 * queue per video node. */
struct gdrv_read {
	struct gdrv_fd *owner; /* the fd reading; NULL: read() I/O is not active */
	uint32_t count;        /* buffers allocated */
	struct {
		uint64_t addr;     /* MMAP'd address in the shared memory */
		const uint8_t *p;
		uint32_t length;
	} buf[GDRV_READ_BUFFERS];
	int cur;               /* buffer being read out, or -1 */
	uint32_t pos, len;     /* read so far of it, and its bytesused */
};

/* One device instance: what sits behind one *.vqmedia file. */
struct gdrv_dev {
	struct gdrv_dev *next;
	dev_t st_dev;
	ino_t st_ino;
	unsigned refs;
	const struct gdrv_kind *kind;
	void *state;
	struct vmedia_guest g;
	struct vq_queue cmdq, evq;
	struct vmedia_shm shm;
	struct vmedia_device dev;
	unsigned prio_count[4]; /* fds at each v4l2_priority (the core's v4l2_prio_state) */
	struct gdrv_read rd;
	uint32_t caps;          /* the config space's device_caps */
	bool m2m;               /* a memory-to-memory device: v4l2_m2m_poll's rules */
};

/* One file descriptor: one session. */
struct gdrv_fd {
	struct gdrv_dev *d;
	int fd;
	uint32_t sid;
	uint32_t prio;       /* enum v4l2_priority of this fd */
	uint64_t streaming;  /* bit per buffer type: STREAMON succeeded */
	/* M2M poll (core.c): vb2's queued_list per queue ([0] OUTPUT,
	 * [1] CAPTURE: buffers queued and not yet dequeued) and the CAPTURE
	 * queue's last_buffer_dequeued, which the guest model keeps to itself. */
	uint32_t owned[2];
	bool last_dequeued;
};

/* Produce what a real-time device has due now and deliver what an
 * asynchronous one finished (its completions, then the eventq, as the
 * driver's interrupt handler would); returns how many ns until it is worth
 * looking again (capped).  Caller holds gdrv_lock. */
uint64_t gdrv_tick(struct gdrv_dev *d);

/* Wait up to @ns for the device (gdrv_lock let go meanwhile): on an
 * asynchronous device's wake fd, else a plain sleep, the device being
 * driven by ticks alone.  Caller holds gdrv_lock. */
void gdrv_wait(struct gdrv_dev *d, uint64_t ns);

/* DQBUF as the core does it: waits (ticking a real-time device, on the
 * wake fd of an asynchronous one) unless the fd is O_NONBLOCK; -EINVAL on
 * a queue that is not streaming.  Caller holds
 * gdrv_lock (dropped while sleeping). */
int gdrv_dqbuf(struct gdrv_fd *f, struct v4l2_buffer *b);

/* read() I/O (fileio.c).  gdrv_read_busy: the ioctl is refused (-EBUSY) as
 * vb2 refuses buffer ioctls while read() owns the queue, else 0.
 * gdrv_read_stop: @f is closing; end its read() I/O if it has one.
 * Both with gdrv_lock held. */
int gdrv_read_busy(struct gdrv_fd *f, unsigned long request, void *arg);
void gdrv_read_stop(struct gdrv_fd *f);

/* Drop a reference (fd or mapping); the last one destroys the device.
 * Caller holds gdrv_lock. */
void gdrv_dev_put(struct gdrv_dev *d);

/* Everything runs under this lock: the model and the device are not
 * thread-safe, and an application may call from several threads. */
extern pthread_mutex_t gdrv_lock;

#endif
