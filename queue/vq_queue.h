/* SPDX-License-Identifier: MIT */
/*
 * queue — a negotiated virtqueue, device side.
 *
 * Policy of this layer: the transport has negotiated features and told us
 * where the rings are; we pop available chains, validate them completely
 * before anyone sees a byte, push used entries, publish them in batches and
 * decide whether the driver must be notified.  What the buffers mean is not
 * our business.
 *
 * A hostile driver gets one of two answers (DESIGN.md, "The guest is
 * untrusted"):
 *  - ring-level corruption (the available index ran more than a queue-size
 *    ahead, a head index out of range): the queue is broken, every call
 *    returns -EIO from then on, and the transport should report
 *    DEVICE_NEEDS_RESET;
 *  - a malformed chain: vq_queue_pop() returns a negative errno, the chain
 *    goes back to the driver with 0 bytes written (published by the next
 *    vq_queue_flush()), stats.bad_chains counts it, and the queue keeps
 *    working.
 *
 * The API names chains, never ring slots, so a packed ring
 * (VIRTIO_F_RING_PACKED) can sit behind the same calls later.
 *
 * A queue belongs to one thread.  Nothing here allocates, locks or makes a
 * system call except the transport's notify callback.
 */
#ifndef VQ_QUEUE_H
#define VQ_QUEUE_H

#include "vq_ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A popped chain: its device-readable segments, then its device-writable
 * ones, in one caller-owned iovec array.  Give each chain object its storage
 * once with vq_chain_init(); popping reuses it, so the hot path never
 * allocates.  A conforming driver's chain has at most queue-size
 * descriptors; each buffer that crosses a memory-region boundary needs one
 * more segment.
 */
struct vq_chain {
	struct iovec *iov;
	uint32_t iov_cap;
	uint32_t nreadable;    /* iov[0 .. nreadable) */
	uint32_t nwritable;    /* iov[nreadable .. nreadable + nwritable) */
	uint32_t readable_len; /* bytes */
	uint32_t writable_len; /* bytes */
	uint16_t id;           /* what goes back in the used entry */
	uint16_t ndesc;        /* ring descriptors the chain occupied */
};

/* Attach @cap iovecs of storage to @c. */
static inline void vq_chain_init(struct vq_chain *c, struct iovec *storage, uint32_t cap)
{
	*c = (struct vq_chain){ .iov = storage, .iov_cap = cap };
}

/* The transport's way of signalling the driver (an interrupt, an eventfd). */
typedef void (*vq_notify_fn)(void *opaque);

struct vq_queue_config {
	uint32_t size;           /* power of two, 1..32768 */
	uint64_t features;       /* negotiated device features (VQ_F_* bits) */
	uint64_t desc_gpa;       /* driver addresses of the three areas */
	uint64_t avail_gpa;
	uint64_t used_gpa;
	uint16_t last_avail_idx; /* 0, or the saved base when resuming (vhost-user) */
	const struct vq_mem *mem;
	vq_notify_fn notify;     /* may be NULL: then the caller polls */
	void *notify_opaque;
};

struct vq_queue_stats {
	uint64_t chains;        /* good chains popped */
	uint64_t bad_chains;    /* malformed chains returned with 0 written */
	uint64_t notifications; /* notify callbacks made */
	uint64_t suppressed;    /* flushes that needed no notification */
};

struct vq_queue {
	/* Hot fields first. */
	struct vq_desc *desc;
	struct vq_avail *avail;
	struct vq_used *used;
	uint16_t *used_event;  /* in the avail area: driver wants interrupt at */
	uint16_t *avail_event; /* in the used area: device wants kick at */
	const struct vq_mem *mem;
	uint16_t mask;
	uint16_t last_avail;   /* next avail slot to consume */
	uint16_t avail_shadow; /* avail->idx as last read */
	uint16_t used_shadow;  /* next used slot to fill */
	uint16_t used_published; /* used->idx as last published */
	bool event_idx;
	bool indirect;
	bool notify_enabled;
	bool broken;
	uint32_t size;
	vq_notify_fn notify;
	void *notify_opaque;
	struct vq_queue_stats stats;
};

/*
 * Set up @q from negotiated values.  The rings are not cleared: the driver
 * initialised them, and a resumed queue keeps its used index.  Suppression
 * state (used->flags, avail_event) is left as found too, so a resumed device
 * calls vq_queue_enable_notify() before its first wait for a kick.
 * Returns 0, -EINVAL for a bad size or misaligned ring address, -EFAULT if a
 * ring is not contiguous driver memory, -EOPNOTSUPP for a packed ring.
 */
int vq_queue_init(struct vq_queue *q, const struct vq_queue_config *cfg);

/* Nothing to release today; call it so later ring kinds can. */
void vq_queue_destroy(struct vq_queue *q);

/*
 * Pop the next available chain into @c (whose storage came from
 * vq_chain_init()).
 * Returns 1 with @c filled, 0 if no chain is available, -EIO if the queue is
 * broken, or, for a malformed chain (already handed back with 0 written):
 *   -EINVAL    next index out of range, readable after writable, nested or
 *              unnegotiated indirect, indirect with NEXT, indirect length 0,
 *              not a multiple of 16, or above 32768 entries
 *   -ELOOP     a loop: more direct descriptors than the queue size, or more
 *              indirect ones than the table holds
 *   -EFAULT    a buffer or indirect table outside driver memory, or an
 *              indirect table that is not one contiguous, 8-byte aligned
 *              host range (split across memory regions)
 *   -EOVERFLOW an address range that wraps, or more than 4 GiB in one direction
 *   -ENOBUFS   more segments than @c's storage holds
 */
int vq_queue_pop(struct vq_queue *q, struct vq_chain *c);

/*
 * Return @c to the driver with @written bytes written to its writable part.
 * The entry is visible to the driver after the next vq_queue_flush().
 * Returns 0, -EINVAL if @written exceeds the writable length, -EIO if broken.
 */
int vq_queue_push(struct vq_queue *q, const struct vq_chain *c, uint32_t written);

/*
 * Publish every pushed entry and, if the driver wants it (event idx, or the
 * NO_INTERRUPT flag), call the notify callback once.
 * Returns 1 if the driver was notified, 0 if not (nothing pushed, or
 * suppressed), -EIO if broken.
 */
int vq_queue_flush(struct vq_queue *q);

/* Ask the driver not to kick while the device polls. */
void vq_queue_disable_notify(struct vq_queue *q);

/*
 * Ask the driver to kick again, then re-check the ring: a chain made
 * available while kicks were off would otherwise wait for a kick that never
 * comes.  Returns 1 if chains are available (drain again, then call this
 * again), 0 if the ring is empty and a kick will come, -EIO if broken.
 */
int vq_queue_enable_notify(struct vq_queue *q);

/* Chains available and not yet popped, without consuming any (0 if broken). */
uint16_t vq_queue_pending(struct vq_queue *q);

/* The index of the next chain to pop (vhost-user GET_VRING_BASE). */
static inline uint16_t vq_queue_last_avail(const struct vq_queue *q) { return q->last_avail; }
static inline bool vq_queue_is_broken(const struct vq_queue *q) { return q->broken; }
static inline uint32_t vq_queue_size(const struct vq_queue *q) { return q->size; }

#ifdef __cplusplus
}
#endif
#endif /* VQ_QUEUE_H */
