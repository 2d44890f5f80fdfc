/* SPDX-License-Identifier: MIT */
/*
 * stack — one virtio-media device behind the whole stack, in this process:
 *
 *	guest model (vmedia_guest) -> commandq / eventq (fake_queue + vq_queue)
 *	-> runner (vmedia_device) -> device ops -> MMAP region (memfd)
 *
 * all on the calling thread: a command published by the model runs the
 * runner inline, so vqm_ioctl() behaves like ioctl() on the guest's video
 * node.  This is how the vqmedia tool (and its benchmark) open a device; a
 * device is picked by name from a small table (vqm_device_find), so another
 * device is one more table entry.
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

/* CLOCK_MONOTONIC now, in ns. */
uint64_t vqm_now_ns(void);

#endif
