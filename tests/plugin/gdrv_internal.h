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
};

/* By name, or NULL. */
const struct gdrv_kind *gdrv_kind_find(const char *name);

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
};

/* One file descriptor: one session. */
struct gdrv_fd {
	struct gdrv_dev *d;
	int fd;
	uint32_t sid;
	uint32_t prio;       /* enum v4l2_priority of this fd */
	uint64_t streaming;  /* bit per buffer type: STREAMON succeeded */
};

/* Produce what a real-time device has due now; returns how many ns until
 * its next deadline is worth a look (capped).  Caller holds gdrv_lock. */
uint64_t gdrv_tick(struct gdrv_dev *d);

/* Drop a reference (fd or mapping); the last one destroys the device.
 * Caller holds gdrv_lock. */
void gdrv_dev_put(struct gdrv_dev *d);

/* Everything runs under this lock: the model and the device are not
 * thread-safe, and an application may call from several threads. */
extern pthread_mutex_t gdrv_lock;

#endif
