/* SPDX-License-Identifier: MIT */
/*
 * fake_queue — a simulated virtio driver, for tests and benchmarks.
 *
 * Policy of this layer: behave like a real guest driver, or like a hostile
 * one on request.  It owns "guest memory" at a non-zero guest-physical base
 * (so a device that confuses guest and host addresses fails at once), lays
 * the rings out as the spec's legacy layout does, publishes chains (direct
 * or indirect), can write raw descriptors and indices to build corrupt
 * chains, reads used entries back, and implements the driver half of event
 * idx and of kick / interrupt suppression.
 *
 * Guest memory can be split into several regions that are adjacent in
 * guest-physical space but separate in host memory, with an inaccessible
 * page between them, so that buffers crossing a region boundary are real.
 *
 * One thread drives a fake; the device may run on another thread (the ring
 * accesses use the same barriers as a real driver).
 */
#ifndef VQ_FAKE_H
#define VQ_FAKE_H

#include "vq_queue.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VQ_FAKE_DEFAULT_GPA 0x100000000ull /* 4 GiB: above any 32-bit truncation */
#define VQ_FAKE_MAX_REGIONS 4

/* Kick callback: the driver tells the device chains are available. */
typedef void (*vq_fake_kick_fn)(void *opaque);

struct vq_fake_config {
	uint32_t size;        /* queue size, power of two */
	uint64_t features;    /* VQ_F_EVENT_IDX / VQ_F_INDIRECT_DESC bits */
	uint64_t gpa_base;    /* 0 means VQ_FAKE_DEFAULT_GPA; must be page-aligned */
	size_t region_size;   /* bytes per region, page multiple; 0 means 1 MiB */
	unsigned nregions;    /* 0 means 1 */
	vq_fake_kick_fn kick; /* optional, called by vq_fake_publish() when needed */
	void *kick_opaque;
};

/* One buffer of a chain to publish. */
struct vq_fake_buf {
	uint64_t gpa;  /* guest address (from vq_fake_alloc) */
	uint32_t len;
	bool writable; /* device-writable */
};

#define VQ_FAKE_INDIRECT 1u /* publish through an indirect table */

struct vq_fake {
	struct vq_mem mem; /* the device's view of this guest memory */
	uint32_t size;
	uint64_t features;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct vq_desc *desc;
	struct vq_avail *avail;
	struct vq_used *used;
	uint16_t *used_event;
	uint16_t *avail_event;
	uint16_t avail_idx;       /* next avail slot (published or not) */
	uint16_t avail_published; /* avail->idx as last published */
	uint16_t last_used;       /* next used entry to read */
	uint64_t kicks;           /* publishes that asked for a kick */
	uint64_t interrupts;      /* vq_fake_interrupt() calls (atomic) */
	/* private bookkeeping */
	uint8_t *map;
	size_t map_len;
	size_t region_size;
	unsigned nregions;
	uint64_t gpa_base;
	uint64_t alloc_next;
	uint16_t *free_stack;
	uint32_t nfree;
	uint16_t *chain_next;  /* our copy of each descriptor's next link */
	uint16_t *chain_ndesc; /* per head: direct descriptors to free, 0 = not ours */
	uint64_t *ind_gpa;     /* per head: cached indirect table, reused */
	uint32_t *ind_cap;
	vq_fake_kick_fn kick;
	void *kick_opaque;
};

/*
 * Create guest memory and zeroed rings.
 * Returns 0, -EINVAL for a bad config, -ENOMEM.
 */
int vq_fake_init(struct vq_fake *f, const struct vq_fake_config *cfg);
void vq_fake_destroy(struct vq_fake *f);

/* Fill @cfg so a device queue attaches to this driver's rings and memory.
 * The notify callback is left NULL; see vq_fake_interrupt(). */
void vq_fake_queue_config(struct vq_fake *f, struct vq_queue_config *cfg);

/* A notify callback for the device queue: counts interrupts (opaque = fake). */
void vq_fake_interrupt(void *opaque);

/* ---- guest memory ---- */

/* Allocate @len bytes (16-aligned) of guest memory.  Returns the guest
 * address, or 0 when memory is exhausted.  Never freed: size the fake for
 * the test. */
uint64_t vq_fake_alloc(struct vq_fake *f, size_t len);

/* Host pointer for [gpa, gpa+len) if it lies in one region, else NULL. */
void *vq_fake_host(struct vq_fake *f, uint64_t gpa, size_t len);

/* Copy into / out of guest memory, across regions.  Returns 0 or -EFAULT. */
int vq_fake_write_mem(struct vq_fake *f, uint64_t gpa, const void *src, size_t len);
int vq_fake_read_mem(struct vq_fake *f, uint64_t gpa, void *dst, size_t len);

/* Allocate guest memory holding a copy of @data.  Returns its address or 0. */
uint64_t vq_fake_alloc_copy(struct vq_fake *f, const void *data, size_t len);

/* ---- well-formed chains ---- */

/*
 * Make a chain of @n buffers available (not yet visible: see
 * vq_fake_publish).  Readable buffers must come before writable ones unless
 * the test wants a bad chain.  Returns the head index, -ENOSPC if not
 * enough free descriptors, -ENOMEM if no memory for an indirect table,
 * -EINVAL for n == 0 or n above the queue size.
 */
int vq_fake_add(struct vq_fake *f, const struct vq_fake_buf *bufs, unsigned n, unsigned flags);

/*
 * Publish every added chain (store avail->idx).  Returns 1 if the device
 * asked to be kicked (event idx / NO_NOTIFY), calling the kick callback, or 0.
 */
int vq_fake_publish(struct vq_fake *f);

/*
 * Take the next used entry.  Returns 1 with *id and *len filled (and the
 * chain's descriptors freed if this fake built it), or 0 if none.
 */
int vq_fake_get_used(struct vq_fake *f, uint32_t *id, uint32_t *len);

/* Free descriptors available for vq_fake_add(). */
static inline uint32_t vq_fake_num_free(const struct vq_fake *f) { return f->nfree; }

/* ---- raw access, for corrupt chains ---- */

/* Write descriptor @idx of the main table. */
void vq_fake_write_desc(struct vq_fake *f, uint16_t idx, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next);

/* Put @head in the next avail slot, unpublished; the fake does not own it. */
void vq_fake_add_raw_head(struct vq_fake *f, uint16_t head);

/* Store @idx as avail->idx directly (e.g. far ahead of the device). */
void vq_fake_set_avail_idx(struct vq_fake *f, uint16_t idx);

/* Allocate an indirect table of @n zeroed descriptors; returns its gpa or 0. */
uint64_t vq_fake_alloc_table(struct vq_fake *f, uint32_t n);

/* Write entry @i of the table at @table_gpa. */
void vq_fake_write_table(struct vq_fake *f, uint64_t table_gpa, uint32_t i, uint64_t addr,
			 uint32_t len, uint16_t flags, uint16_t next);

/* ---- interrupt suppression (driver side) ---- */

/* Ask the device not to interrupt (NO_INTERRUPT, or a stale used_event). */
void vq_fake_disable_interrupts(struct vq_fake *f);

/* Ask for an interrupt at the next used entry, then re-check.  Returns 1 if
 * used entries are already waiting, 0 if not. */
int vq_fake_enable_interrupts(struct vq_fake *f);

/* Event idx: ask for an interrupt only once used->idx passes @idx. */
void vq_fake_set_used_event(struct vq_fake *f, uint16_t idx);

/* Used entries the device has published and we have not taken. */
uint16_t vq_fake_used_pending(struct vq_fake *f);

#ifdef __cplusplus
}
#endif
#endif /* VQ_FAKE_H */
