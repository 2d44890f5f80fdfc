/* SPDX-License-Identifier: MIT */
/*
 * ring — the barest layer of a split virtqueue (virtio 1.x §2.7).
 *
 * Policy of this layer: it knows the byte layout of the descriptor table, the
 * available ring and the used ring, how to read and write their little-endian
 * fields, which barriers order those accesses, and how to turn a driver
 * (guest-physical) address range into host memory.  It knows nothing of
 * queues, chains or what the buffers carry.
 *
 * Everything in driver memory is shared with an untrusted driver that may
 * change it at any moment: read each field once into a local, then validate
 * the local.
 */
#ifndef VQ_RING_H
#define VQ_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Little-endian accessors.  Virtio 1.x rings are little-endian on every host. */

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline uint16_t vq_from_le16(uint16_t v) { return v; }
static inline uint32_t vq_from_le32(uint32_t v) { return v; }
static inline uint64_t vq_from_le64(uint64_t v) { return v; }
#else
static inline uint16_t vq_from_le16(uint16_t v) { return __builtin_bswap16(v); }
static inline uint32_t vq_from_le32(uint32_t v) { return __builtin_bswap32(v); }
static inline uint64_t vq_from_le64(uint64_t v) { return __builtin_bswap64(v); }
#endif
static inline uint16_t vq_to_le16(uint16_t v) { return vq_from_le16(v); }
static inline uint32_t vq_to_le32(uint32_t v) { return vq_from_le32(v); }
static inline uint64_t vq_to_le64(uint64_t v) { return vq_from_le64(v); }

/* ------------------------------------------------------------------------ */
/* Feature bits that change the ring's behaviour. */

#define VQ_F_INDIRECT_DESC 28 /* VIRTIO_RING_F_INDIRECT_DESC */
#define VQ_F_EVENT_IDX 29     /* VIRTIO_RING_F_EVENT_IDX */
#define VQ_F_VERSION_1 32     /* VIRTIO_F_VERSION_1 */
#define VQ_F_RING_PACKED 34   /* VIRTIO_F_RING_PACKED */

#define VQ_MAX_QUEUE_SIZE 32768u

/* ------------------------------------------------------------------------ */
/* Layout.  All fields are little-endian in driver memory. */

#define VQ_DESC_F_NEXT 1u
#define VQ_DESC_F_WRITE 2u
#define VQ_DESC_F_INDIRECT 4u

#define VQ_AVAIL_F_NO_INTERRUPT 1u /* driver: "don't interrupt me" */
#define VQ_USED_F_NO_NOTIFY 1u     /* device: "don't kick me" */

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Followed in memory by ring[size] and then le16 used_event (event idx). */
struct vq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* Followed in memory by ring[size] and then le16 avail_event (event idx). */
struct vq_used {
	uint16_t flags;
	uint16_t idx;
	struct vq_used_elem ring[];
};

_Static_assert(sizeof(struct vq_desc) == 16, "virtq_desc is 16 bytes");
_Static_assert(sizeof(struct vq_avail) == 4, "virtq_avail header is 4 bytes");
_Static_assert(sizeof(struct vq_used_elem) == 8, "virtq_used_elem is 8 bytes");
_Static_assert(sizeof(struct vq_used) == 4, "virtq_used header is 4 bytes");

/* Required alignments of the three areas (virtio 1.x §2.7, table "Queue Part"). */
#define VQ_DESC_ALIGN 16u
#define VQ_AVAIL_ALIGN 2u
#define VQ_USED_ALIGN 4u

/* Sizes of the three areas for a queue of @size entries, event-idx fields included. */
static inline size_t vq_desc_area_size(uint32_t size) { return 16u * (size_t)size; }
static inline size_t vq_avail_area_size(uint32_t size) { return 6u + 2u * (size_t)size; }
static inline size_t vq_used_area_size(uint32_t size) { return 6u + 8u * (size_t)size; }

/* True for a valid split-queue size: a power of two from 1 to 32768. */
static inline bool vq_size_valid(uint32_t size)
{
	return size != 0 && size <= VQ_MAX_QUEUE_SIZE && (size & (size - 1)) == 0;
}

/*
 * The legacy single-area layout (virtio 1.x §2.7.2 "Legacy Interfaces"):
 * descriptors, then the available ring, then the used ring at the next
 * multiple of @align.  Returns the whole area's size; offsets of the avail and
 * used rings go to *@avail_off and *@used_off.  @align must be a power of two.
 */
static inline size_t vq_legacy_layout(uint32_t size, size_t align, size_t *avail_off,
				      size_t *used_off)
{
	size_t a = vq_desc_area_size(size);
	size_t u = (a + vq_avail_area_size(size) + align - 1) & ~(align - 1);
	*avail_off = a;
	*used_off = u;
	return u + vq_used_area_size(size);
}

/* Where the event-idx fields live: just past each ring's entries. */
static inline uint16_t *vq_avail_used_event(struct vq_avail *a, uint32_t size)
{
	return &a->ring[size];
}
static inline uint16_t *vq_used_avail_event(struct vq_used *u, uint32_t size)
{
	return (uint16_t *)(void *)&u->ring[size];
}

/*
 * Event-idx test (virtio 1.x §2.7.10): has the other side asked to be woken
 * when index @event_idx is crossed, moving from @old to @new?  Wrap-safe:
 * all arithmetic is modulo 2^16.
 */
static inline bool vq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/* ------------------------------------------------------------------------ */
/* Barriers.  The rings are the only shared state; these are all the ordering
 * the protocol needs. */

/* Read an index the other side publishes; later reads see what it wrote before. */
static inline uint16_t vq_load_acquire16(const uint16_t *p)
{
	return vq_from_le16(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

/* Publish an index; earlier writes become visible before it. */
static inline void vq_store_release16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, vq_to_le16(v), __ATOMIC_RELEASE);
}

/* Plain (relaxed) single-copy accesses to shared 16-bit fields. */
static inline uint16_t vq_load16(const uint16_t *p)
{
	return vq_from_le16(__atomic_load_n(p, __ATOMIC_RELAXED));
}
static inline void vq_store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, vq_to_le16(v), __ATOMIC_RELAXED);
}

/*
 * Full barrier: a store (an index or a flag) must be visible before a later
 * load of the other side's suppression field, or both sides can decide not to
 * wake each other (the lost-wakeup race of §2.7.10).
 */
static inline void vq_mb(void)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	/* A locked add to the stack orders like mfence for ordinary memory at
	 * a fraction of its cost (what Linux's smp_mb() does); clang lowers
	 * the C11 fence to mfence, which doubled the cost of a notifying flush. */
	__asm__ __volatile__("lock; addl $0,-4(%%rsp)" ::: "memory", "cc");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* ------------------------------------------------------------------------ */
/* mem — driver-memory translation.
 *
 * The device sees driver memory as a table of regions {guest-physical base,
 * size, host pointer}.  Every range the driver names is checked against it:
 * a range that wraps 2^64 is -EOVERFLOW, a range not wholly inside driver
 * memory is -EFAULT.  A range that crosses from one region into an adjacent
 * one is legal and becomes one segment per region (merged into one when the
 * two regions happen to be adjacent in host memory as well).
 *
 * A transport with its own idea of memory (an IOMMU, a VMM's memory map)
 * supplies a translator instead of regions.
 */

#define VQ_MEM_MAX_REGIONS 32

struct vq_mem_region {
	uint64_t gpa;  /* guest-physical base */
	uint64_t size; /* bytes, > 0 */
	void *host;    /* host address of gpa */
};

/*
 * Caller-supplied translator: map as much of [gpa, gpa+len) as is contiguous
 * in host memory.  Return the host address of gpa and store in *contig the
 * number of bytes (1..len) that follow it contiguously, or return NULL if gpa
 * is not driver memory.  Called with len >= 1 and gpa + len not wrapping.
 */
typedef void *(*vq_translate_fn)(void *opaque, uint64_t gpa, uint64_t len, uint64_t *contig);

struct vq_mem {
	struct vq_mem_region regions[VQ_MEM_MAX_REGIONS]; /* sorted by gpa */
	unsigned nregions;
	vq_translate_fn translate; /* overrides regions when set */
	void *translate_opaque;
};

/* Empty table (no driver memory). */
void vq_mem_init(struct vq_mem *m);

/*
 * Add a region.  Returns 0, -EINVAL for a zero size or a range that wraps,
 * -EEXIST if it overlaps an existing region, -ENOSPC if the table is full.
 */
int vq_mem_add_region(struct vq_mem *m, uint64_t gpa, uint64_t size, void *host);

/* Use @fn instead of the region table. */
void vq_mem_set_translator(struct vq_mem *m, vq_translate_fn fn, void *opaque);

/*
 * Translate [gpa, gpa+len) into at most @max host segments written to @iov.
 * Returns the number of segments (0 when len is 0), -EOVERFLOW if the range
 * wraps, -EFAULT if any byte is outside driver memory, -ENOBUFS if more than
 * @max segments are needed.
 */
int vq_mem_translate(const struct vq_mem *m, uint64_t gpa, uint64_t len, struct iovec *iov,
		     unsigned max);

/*
 * Host pointer for a range that must be contiguous in host memory (a ring, an
 * indirect table).  Returns NULL if it wraps, leaves driver memory, or spans
 * two host mappings.
 */
void *vq_mem_map(const struct vq_mem *m, uint64_t gpa, uint64_t len);

/* Fast path shared by the queue: one region covering the whole range. */
static inline void *vq_mem_map_fast(const struct vq_mem *m, uint64_t gpa, uint64_t len)
{
	if (__builtin_expect(m->nregions == 1 && !m->translate, 1)) {
		const struct vq_mem_region *r = &m->regions[0];
		uint64_t off = gpa - r->gpa;
		if (gpa >= r->gpa && off < r->size && len <= r->size - off)
			return (char *)r->host + off;
	}
	return vq_mem_map(m, gpa, len);
}

#ifdef __cplusplus
}
#endif
#endif /* VQ_RING_H */
