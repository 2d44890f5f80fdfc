/* SPDX-License-Identifier: MIT */
/* Split-ring queue: pop and validate chains, push and publish used entries. */
#include <errno.h>

#include "vq_queue.h"

int vq_queue_init(struct vq_queue *q, const struct vq_queue_config *cfg)
{
	if (cfg->features & (1ull << VQ_F_RING_PACKED))
		return -EOPNOTSUPP;
	if (!vq_size_valid(cfg->size) || !cfg->mem)
		return -EINVAL;
	if (cfg->desc_gpa % VQ_DESC_ALIGN || cfg->avail_gpa % VQ_AVAIL_ALIGN ||
	    cfg->used_gpa % VQ_USED_ALIGN)
		return -EINVAL;

	void *desc = vq_mem_map(cfg->mem, cfg->desc_gpa, vq_desc_area_size(cfg->size));
	void *avail = vq_mem_map(cfg->mem, cfg->avail_gpa, vq_avail_area_size(cfg->size));
	void *used = vq_mem_map(cfg->mem, cfg->used_gpa, vq_used_area_size(cfg->size));
	if (!desc || !avail || !used)
		return -EFAULT;
	/* Host pointers inherit the guest alignment only if the mapping keeps
	 * it; atomic 16-bit accesses need it. */
	if ((uintptr_t)desc % 8 || (uintptr_t)avail % 2 || (uintptr_t)used % 4)
		return -EINVAL;

	*q = (struct vq_queue){
		.desc = desc,
		.avail = avail,
		.used = used,
		.used_event = vq_avail_used_event(avail, cfg->size),
		.avail_event = vq_used_avail_event(used, cfg->size),
		.mem = cfg->mem,
		.mask = (uint16_t)(cfg->size - 1),
		.size = cfg->size,
		.event_idx = !!(cfg->features & (1ull << VQ_F_EVENT_IDX)),
		.indirect = !!(cfg->features & (1ull << VQ_F_INDIRECT_DESC)),
		.notify_enabled = true,
		.notify = cfg->notify,
		.notify_opaque = cfg->notify_opaque,
		.last_avail = cfg->last_avail_idx,
		.avail_shadow = cfg->last_avail_idx,
	};
	q->used_shadow = q->used_published = vq_load16(&q->used->idx);
	return 0;
}

void vq_queue_destroy(struct vq_queue *q)
{
	q->broken = true;
}

static int mark_broken(struct vq_queue *q)
{
	q->broken = true;
	return -EIO;
}

/* Read a descriptor field by field, once: the driver may be rewriting it. */
static inline void read_desc(const struct vq_desc *src, struct vq_desc *d)
{
	d->addr = vq_from_le64(__atomic_load_n(&src->addr, __ATOMIC_RELAXED));
	d->len = vq_from_le32(__atomic_load_n(&src->len, __ATOMIC_RELAXED));
	d->flags = vq_from_le16(__atomic_load_n(&src->flags, __ATOMIC_RELAXED));
	d->next = vq_from_le16(__atomic_load_n(&src->next, __ATOMIC_RELAXED));
}

/* Append the host segments of one buffer to @c; single-region fast path. */
static inline int add_segments(const struct vq_mem *mem, struct vq_chain *c, unsigned *nseg,
			       uint64_t addr, uint32_t len)
{
	if (len == 0)
		return 0;
	if (__builtin_expect(mem->nregions == 1 && !mem->translate, 1)) {
		const struct vq_mem_region *r = &mem->regions[0];
		uint64_t off = addr - r->gpa;
		if (addr >= r->gpa && off < r->size && len <= r->size - off) {
			if (*nseg == c->iov_cap)
				return -ENOBUFS;
			c->iov[*nseg].iov_base = (char *)r->host + off;
			c->iov[*nseg].iov_len = len;
			(*nseg)++;
			return 0;
		}
	}
	int n = vq_mem_translate(mem, addr, len, c->iov + *nseg, c->iov_cap - *nseg);
	if (n < 0)
		return n;
	*nseg += (unsigned)n;
	return 0;
}

/*
 * Walk the chain at @head into @c, checking every rule of §2.7.5 that
 * protects the device.  The walk is bounded like QEMU's and vhost's: at most
 * queue-size direct descriptors, at most as many indirect ones as the table
 * has entries; running past either bound means a loop.
 */
static int walk_chain(struct vq_queue *q, struct vq_chain *c, uint16_t head)
{
	const struct vq_desc *table = q->desc;
	uint32_t table_size = q->size;
	uint32_t budget = q->size;
	uint32_t ndesc = 0;
	unsigned nseg = 0;
	uint64_t rlen = 0, wlen = 0;
	bool in_indirect = false, seen_write = false;
	uint16_t i = head;

	for (;;) {
		struct vq_desc d;
		read_desc(&table[i], &d);
		if (!in_indirect)
			ndesc++;

		if (d.flags & VQ_DESC_F_INDIRECT) {
			if (in_indirect || !q->indirect || (d.flags & VQ_DESC_F_NEXT))
				return -EINVAL;
			if (d.len == 0 || d.len % sizeof(struct vq_desc))
				return -EINVAL;
			if (d.addr + (d.len - 1) < d.addr)
				return -EOVERFLOW;
			table = vq_mem_map_fast(q->mem, d.addr, d.len);
			if (!table || (uintptr_t)table % 8)
				return -EFAULT;
			table_size = d.len / sizeof(struct vq_desc);
			/* A loop inside the table ends when its entries run out;
			 * no driver builds tables bigger than a queue. */
			if (table_size > VQ_MAX_QUEUE_SIZE)
				return -EINVAL;
			budget = table_size;
			in_indirect = true;
			i = 0;
			continue;
		}

		if (budget-- == 0)
			return -ELOOP;
		if (d.len && d.addr + (d.len - 1) < d.addr)
			return -EOVERFLOW;
		if (d.flags & VQ_DESC_F_WRITE) {
			seen_write = true;
			wlen += d.len;
		} else {
			if (seen_write)
				return -EINVAL;
			rlen += d.len;
		}
		int r = add_segments(q->mem, c, &nseg, d.addr, d.len);
		if (r < 0)
			return r;
		if (!seen_write)
			c->nreadable = nseg;

		if (!(d.flags & VQ_DESC_F_NEXT))
			break;
		if (d.next >= table_size)
			return -EINVAL;
		i = d.next;
	}
	if (rlen > UINT32_MAX || wlen > UINT32_MAX)
		return -EOVERFLOW;
	c->nwritable = nseg - c->nreadable;
	c->readable_len = (uint32_t)rlen;
	c->writable_len = (uint32_t)wlen;
	c->ndesc = (uint16_t)ndesc;
	return 0;
}

static inline void write_used(struct vq_queue *q, uint16_t id, uint32_t len)
{
	struct vq_used_elem *e = &q->used->ring[q->used_shadow & q->mask];
	__atomic_store_n(&e->id, vq_to_le32(id), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, vq_to_le32(len), __ATOMIC_RELAXED);
	q->used_shadow++;
}

int vq_queue_pop(struct vq_queue *q, struct vq_chain *c)
{
	if (__builtin_expect(q->broken, 0))
		return -EIO;
	if (q->last_avail == q->avail_shadow) {
		uint16_t idx = vq_load_acquire16(&q->avail->idx);
		if ((uint16_t)(idx - q->last_avail) > q->size)
			return mark_broken(q);
		q->avail_shadow = idx;
		if (idx == q->last_avail)
			return 0;
	}
	uint16_t head = vq_load16(&q->avail->ring[q->last_avail & q->mask]);
	if (head >= q->size)
		return mark_broken(q);
	q->last_avail++;
	if (q->event_idx && q->notify_enabled)
		vq_store16(q->avail_event, q->last_avail);

	c->id = head;
	c->nreadable = c->nwritable = 0;
	int r = walk_chain(q, c, head);
	if (__builtin_expect(r < 0, 0)) {
		c->nreadable = c->nwritable = 0;
		c->readable_len = c->writable_len = 0;
		write_used(q, head, 0);
		q->stats.bad_chains++;
		return r;
	}
	q->stats.chains++;
	return 1;
}

int vq_queue_push(struct vq_queue *q, const struct vq_chain *c, uint32_t written)
{
	if (__builtin_expect(q->broken, 0))
		return -EIO;
	if (written > c->writable_len)
		return -EINVAL;
	write_used(q, c->id, written);
	return 0;
}

static bool driver_wants_notify(struct vq_queue *q, uint16_t old_idx, uint16_t new_idx)
{
	/* The used index store must be visible before we read the driver's
	 * suppression state, which it writes before re-reading our index. */
	vq_mb();
	if (q->event_idx)
		return vq_need_event(vq_load16(q->used_event), new_idx, old_idx);
	return !(vq_load16(&q->avail->flags) & VQ_AVAIL_F_NO_INTERRUPT);
}

int vq_queue_flush(struct vq_queue *q)
{
	if (__builtin_expect(q->broken, 0))
		return -EIO;
	uint16_t new_idx = q->used_shadow;
	uint16_t old_idx = q->used_published;
	if (new_idx == old_idx)
		return 0;
	vq_store_release16(&q->used->idx, new_idx);
	q->used_published = new_idx;
	if (!driver_wants_notify(q, old_idx, new_idx)) {
		q->stats.suppressed++;
		return 0;
	}
	q->stats.notifications++;
	if (q->notify)
		q->notify(q->notify_opaque);
	return 1;
}

void vq_queue_disable_notify(struct vq_queue *q)
{
	q->notify_enabled = false;
	if (q->broken)
		return;
	/* With event idx the driver kicks only when crossing avail_event; one
	 * just behind what we consumed is crossed again only after 2^16 more
	 * chains, and pop stops moving it while kicks are off. */
	if (q->event_idx)
		vq_store16(q->avail_event, (uint16_t)(q->last_avail - 1));
	else
		vq_store16(&q->used->flags, VQ_USED_F_NO_NOTIFY);
}

int vq_queue_enable_notify(struct vq_queue *q)
{
	if (q->broken)
		return -EIO;
	q->notify_enabled = true;
	if (q->event_idx)
		vq_store16(q->avail_event, q->last_avail);
	else
		vq_store16(&q->used->flags, 0);
	/* Our store must be visible before we re-read the avail index, or a
	 * driver that published in between and saw the old state never kicks. */
	vq_mb();
	return vq_queue_pending(q) ? 1 : (q->broken ? -EIO : 0);
}

uint16_t vq_queue_pending(struct vq_queue *q)
{
	if (q->broken)
		return 0;
	uint16_t idx = vq_load_acquire16(&q->avail->idx);
	uint16_t n = (uint16_t)(idx - q->last_avail);
	if (n > q->size) {
		mark_broken(q);
		return 0;
	}
	q->avail_shadow = idx;
	return n;
}
