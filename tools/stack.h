/* SPDX-License-Identifier: MIT */
/*
 * stack — one virtio-media device behind the whole stack, in this process:
 *
 *	guest model (vmedia_guest) -> commandq / eventq (fake_queue + vq_queue)
 *	-> runner (vmedia_device) -> device ops -> MMAP region (memfd)
 *
 * all on the calling thread: a command published by the model runs the
 * runner inline, so vqm_ioctl() behaves like ioctl() on the guest's video
 * node.  This is how the vqmedia tool (and its benchmarks) open a device; a
 * device is picked by name from a small table (vqm_device_find), so another
 * device is one more table entry.
 *
 * Devices produce frames in one of two ways:
 *  - real time (the simple camera): the caller ticks the device at its
 *    deadlines (vqm_next_deadline, vqm_tick);
 *  - asynchronously (the decoder): workers finish in the background and
 *    the device's thread -- ours -- delivers what they finished when its
 *    wake fd is readable.  vqm_wait() is that wait, the one poll() of an
 *    application on the video node: it blocks until the device has
 *    something, delivers it (DQBUF and V4L2 events, over the eventq) and
 *    lets the guest model take it in.
 */
#ifndef VQM_STACK_H
#define VQM_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmedia.h"
#include "vmedia_guest.h"

struct vqm_stack_opts {
	const char *device;  /* vqm_device_find() name; NULL: "simple" */
	bool benchmark;      /* devices that can: produce frames as buffers come in */
	uint64_t shm_size;   /* MMAP region (sparse memfd); 0: 256 MiB */
	size_t guest_mem;    /* commandq guest memory (USERPTR copies live there); 0: 128 MiB */
	unsigned threads;    /* devices that decode: worker threads per session; 0: their default */
};

/* A device the stack can build.  Hooks the device does not have are NULL. */
struct vqm_device_kind {
	const char *name;
	const char *summary;
	const struct vmedia_device_ops *ops;
	/* The device state (dev->priv), or NULL on allocation failure. */
	void *(*create)(const struct vqm_stack_opts *o);
	void (*destroy)(void *state);
	struct vmedia_config_space (*config_space)(const void *state);
	/* Real-time devices: produce what is due at @now_ns (CLOCK_MONOTONIC);
	 * returns how many frames were produced.  next_deadline: when the next
	 * one is due, 0 if nothing is. */
	int (*tick)(void *state, uint64_t now_ns);
	uint64_t (*next_deadline)(const void *state);
	/* Asynchronous devices: a file descriptor readable (POLLIN) while
	 * finished work waits for complete(); complete() delivers it on
	 * this thread and returns how many completions (>= 0) or -errno;
	 * busy(): whether work is under way that will finish without more
	 * commands (waiting can help). */
	int (*wake_fd)(const void *state);
	int (*complete)(void *state);
	bool (*busy)(const void *state);
};

/* The device called @name, or NULL. */
const struct vqm_device_kind *vqm_device_find(const char *name);
/* The table, NULL-terminated (for usage messages). */
extern const struct vqm_device_kind *const vqm_devices[];

struct vqm_stack {
	const struct vqm_device_kind *kind;
	void *state;               /* the device's own state */
	struct vmedia_shm shm;
	struct vmedia_guest g;
	struct vq_queue cmdq, evq;
	struct vmedia_device dev;
	int runner_err;            /* first negative return of the runner (-EIO: queue broken) */
	unsigned up;               /* private: which parts are initialised */
	char err[160];             /* why vqm_stack_init() failed */
};

/*
 * Build the stack around a new device.  Returns 0, -ENODEV for an unknown
 * device name, -ENOMEM, or another -errno from a layer; on failure s->err
 * says what failed and everything built so far is torn down again.
 */
int vqm_stack_init(struct vqm_stack *s, const struct vqm_stack_opts *o);

/* Close every session, free the device and the stack.  Safe after a
 * failed init. */
void vqm_stack_destroy(struct vqm_stack *s);

/* open() / close() of the guest's video node.  Return 0 or -errno. */
int vqm_open(struct vqm_stack *s, uint32_t *sid);
int vqm_close(struct vqm_stack *s, uint32_t sid);

/*
 * ioctl() on session @sid with the full VIDIOC_* request, through the guest
 * model (DQBUF is the model's non-blocking one).  Returns 0 or -errno as
 * the guest would see it; -EIO once the runner reported a broken queue.
 */
int vqm_ioctl(struct vqm_stack *s, uint32_t sid, unsigned long req, void *arg);

/* Real-time devices: see vqm_device_kind.  Without the hook they return 0. */
int vqm_tick(struct vqm_stack *s, uint64_t now_ns);
uint64_t vqm_next_deadline(const struct vqm_stack *s);
bool vqm_realtime(const struct vqm_stack *s);

/* Asynchronous devices: see vqm_device_kind. */
bool vqm_async(const struct vqm_stack *s);

/*
 * Wait up to @timeout_ms (0: just look, -1: no limit) for the device to
 * finish work, deliver it (kind->complete) and take the resulting eventq
 * events into the guest model, so the next DQBUF / DQEVENT sees them.
 * Returns the number of completions delivered (0 on timeout, or for a
 * device that is not asynchronous), or -errno (-EINTR: a signal came).
 */
int vqm_wait(struct vqm_stack *s, int timeout_ms);

/* Whether the device has work under way (false for non-asynchronous ones). */
bool vqm_busy(const struct vqm_stack *s);

/* CLOCK_MONOTONIC now, in ns. */
uint64_t vqm_now_ns(void);

#endif
