/* SPDX-License-Identifier: MIT */
/* The simulated driver: guest memory, ring layout, chain publishing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vq_fake.h"

#define PAGE 4096u

static size_t page_round(size_t n)
{
	return (n + PAGE - 1) & ~(size_t)(PAGE - 1);
}

/* Host address of region @i: regions sit one guard page apart. */
static uint8_t *region_host(const struct vq_fake *f, unsigned i)
{
	return f->map + (size_t)i * (f->region_size + PAGE);
}

static int map_memory(struct vq_fake *f)
{
	f->map_len = (size_t)f->nregions * (f->region_size + PAGE);
	void *p = mmap(NULL, f->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	f->map = p;
	vq_mem_init(&f->mem);
	for (unsigned i = 0; i < f->nregions; i++) {
		uint8_t *h = region_host(f, i);
		if (mprotect(h, f->region_size, PROT_READ | PROT_WRITE))
			return -ENOMEM;
		int r = vq_mem_add_region(&f->mem, f->gpa_base + (uint64_t)i * f->region_size,
					  f->region_size, h);
		if (r)
			return r;
	}
	return 0;
}

int vq_fake_init(struct vq_fake *f, const struct vq_fake_config *cfg)
{
	memset(f, 0, sizeof(*f));
	f->size = cfg->size;
	f->features = cfg->features;
	f->gpa_base = cfg->gpa_base ? cfg->gpa_base : VQ_FAKE_DEFAULT_GPA;
	f->region_size = cfg->region_size ? cfg->region_size : (1u << 20);
	f->nregions = cfg->nregions ? cfg->nregions : 1;
	f->kick = cfg->kick;
	f->kick_opaque = cfg->kick_opaque;
	if (!vq_size_valid(f->size) || f->nregions > VQ_FAKE_MAX_REGIONS ||
	    f->gpa_base % PAGE || f->region_size % PAGE)
		return -EINVAL;

	size_t avail_off, used_off;
	size_t rings = page_round(vq_legacy_layout(f->size, PAGE, &avail_off, &used_off));
	if (rings > f->region_size)
		return -EINVAL;

	int r = map_memory(f);
	f->free_stack = calloc(f->size, sizeof(*f->free_stack));
	f->chain_next = calloc(f->size, sizeof(*f->chain_next));
	f->chain_ndesc = calloc(f->size, sizeof(*f->chain_ndesc));
	f->ind_gpa = calloc(f->size, sizeof(*f->ind_gpa));
	f->ind_cap = calloc(f->size, sizeof(*f->ind_cap));
	if (r || !f->free_stack || !f->chain_next || !f->chain_ndesc || !f->ind_gpa ||
	    !f->ind_cap) {
		vq_fake_destroy(f);
		return r ? r : -ENOMEM;
	}

	uint8_t *base = region_host(f, 0);
	f->desc_gpa = f->gpa_base;
	f->avail_gpa = f->gpa_base + avail_off;
	f->used_gpa = f->gpa_base + used_off;
	f->desc = (struct vq_desc *)base;
	f->avail = (struct vq_avail *)(base + avail_off);
	f->used = (struct vq_used *)(base + used_off);
	f->used_event = vq_avail_used_event(f->avail, f->size);
	f->avail_event = vq_used_avail_event(f->used, f->size);
	f->alloc_next = f->gpa_base + rings;
	/* Pop order 0, 1, 2...: tests can predict head indices. */
	for (uint32_t i = 0; i < f->size; i++)
		f->free_stack[i] = (uint16_t)(f->size - 1 - i);
	f->nfree = f->size;
	return 0;
}

void vq_fake_destroy(struct vq_fake *f)
{
	if (f->map)
		munmap(f->map, f->map_len);
	free(f->free_stack);
	free(f->chain_next);
	free(f->chain_ndesc);
	free(f->ind_gpa);
	free(f->ind_cap);
	memset(f, 0, sizeof(*f));
}

void vq_fake_queue_config(struct vq_fake *f, struct vq_queue_config *cfg)
{
	*cfg = (struct vq_queue_config){
		.size = f->size,
		.features = f->features,
		.desc_gpa = f->desc_gpa,
		.avail_gpa = f->avail_gpa,
		.used_gpa = f->used_gpa,
		.mem = &f->mem,
	};
}

void vq_fake_interrupt(void *opaque)
{
	struct vq_fake *f = opaque;
	__atomic_fetch_add(&f->interrupts, 1, __ATOMIC_RELAXED);
}

/* ---- guest memory ---- */

uint64_t vq_fake_alloc(struct vq_fake *f, size_t len)
{
	uint64_t end = f->gpa_base + (uint64_t)f->nregions * f->region_size;
	uint64_t gpa = (f->alloc_next + 15) & ~15ull;
	if (len > end - gpa)
		return 0;
	f->alloc_next = gpa + len;
	return gpa;
}

/* Host pointer of @gpa and the bytes left in its region, or NULL. */
static uint8_t *locate(struct vq_fake *f, uint64_t gpa, size_t *room)
{
	if (gpa < f->gpa_base)
		return NULL;
	uint64_t off = gpa - f->gpa_base;
	uint64_t i = off / f->region_size;
	if (i >= f->nregions)
		return NULL;
	uint64_t in = off % f->region_size;
	*room = f->region_size - in;
	return region_host(f, (unsigned)i) + in;
}

void *vq_fake_host(struct vq_fake *f, uint64_t gpa, size_t len)
{
	size_t room;
	uint8_t *p = locate(f, gpa, &room);
	return p && len <= room ? p : NULL;
}

static int copy_mem(struct vq_fake *f, uint64_t gpa, uint8_t *buf, size_t len, bool to_guest)
{
	while (len) {
		size_t room;
		uint8_t *p = locate(f, gpa, &room);
		if (!p)
			return -EFAULT;
		size_t n = len < room ? len : room;
		if (to_guest)
			memcpy(p, buf, n);
		else
			memcpy(buf, p, n);
		gpa += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int vq_fake_write_mem(struct vq_fake *f, uint64_t gpa, const void *src, size_t len)
{
	return copy_mem(f, gpa, (uint8_t *)(uintptr_t)src, len, true);
}

int vq_fake_read_mem(struct vq_fake *f, uint64_t gpa, void *dst, size_t len)
{
	return copy_mem(f, gpa, dst, len, false);
}

uint64_t vq_fake_alloc_copy(struct vq_fake *f, const void *data, size_t len)
{
	uint64_t gpa = vq_fake_alloc(f, len);
	if (gpa && vq_fake_write_mem(f, gpa, data, len))
		return 0;
	return gpa;
}

/* ---- descriptors ---- */

static void store_desc(struct vq_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		       uint16_t next)
{
	d->addr = vq_to_le64(addr);
	d->len = vq_to_le32(len);
	d->flags = vq_to_le16(flags);
	d->next = vq_to_le16(next);
}

void vq_fake_write_desc(struct vq_fake *f, uint16_t idx, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	store_desc(&f->desc[idx & (f->size - 1)], addr, len, flags, next);
}

uint64_t vq_fake_alloc_table(struct vq_fake *f, uint32_t n)
{
	uint64_t gpa = vq_fake_alloc(f, (size_t)n * sizeof(struct vq_desc));
	if (gpa) {
		static const struct vq_desc zero;
		for (uint32_t i = 0; i < n; i++)
			vq_fake_write_mem(f, gpa + (uint64_t)i * sizeof(zero), &zero, sizeof(zero));
	}
	return gpa;
}

void vq_fake_write_table(struct vq_fake *f, uint64_t table_gpa, uint32_t i, uint64_t addr,
			 uint32_t len, uint16_t flags, uint16_t next)
{
	struct vq_desc d;
	store_desc(&d, addr, len, flags, next);
	vq_fake_write_mem(f, table_gpa + (uint64_t)i * sizeof(d), &d, sizeof(d));
}

static uint16_t buf_flags(const struct vq_fake_buf *b, bool more)
{
	return (uint16_t)((b->writable ? VQ_DESC_F_WRITE : 0) | (more ? VQ_DESC_F_NEXT : 0));
}

/* An indirect table for @head, reusing the one it had last time if big enough. */
static uint64_t table_for(struct vq_fake *f, uint16_t head, unsigned n)
{
	if (f->ind_cap[head] >= n)
		return f->ind_gpa[head];
	uint64_t gpa = vq_fake_alloc(f, (size_t)n * sizeof(struct vq_desc));
	if (gpa) {
		f->ind_gpa[head] = gpa;
		f->ind_cap[head] = n;
	}
	return gpa;
}

static void put_avail(struct vq_fake *f, uint16_t head)
{
	vq_store16(&f->avail->ring[f->avail_idx & (f->size - 1)], head);
	f->avail_idx++;
}

int vq_fake_add(struct vq_fake *f, const struct vq_fake_buf *bufs, unsigned n, unsigned flags)
{
	if (n == 0 || n > f->size)
		return -EINVAL;
	bool indirect = flags & VQ_FAKE_INDIRECT;
	unsigned ndesc = indirect ? 1 : n;
	if (f->nfree < ndesc)
		return -ENOSPC;

	uint16_t head = f->free_stack[f->nfree - 1];
	if (indirect) {
		uint64_t table = table_for(f, head, n);
		if (!table)
			return -ENOMEM;
		for (unsigned k = 0; k < n; k++)
			vq_fake_write_table(f, table, k, bufs[k].gpa, bufs[k].len,
					    buf_flags(&bufs[k], k + 1 < n), (uint16_t)(k + 1));
		f->nfree--;
		store_desc(&f->desc[head], table, n * (uint32_t)sizeof(struct vq_desc),
			   VQ_DESC_F_INDIRECT, 0);
	} else {
		uint16_t idx = head;
		for (unsigned k = 0; k < n; k++) {
			f->nfree--;
			uint16_t next = k + 1 < n ? f->free_stack[f->nfree - 1] : 0;
			store_desc(&f->desc[idx], bufs[k].gpa, bufs[k].len,
				   buf_flags(&bufs[k], k + 1 < n), next);
			f->chain_next[idx] = next;
			idx = next;
		}
	}
	f->chain_ndesc[head] = (uint16_t)ndesc;
	put_avail(f, head);
	return head;
}

void vq_fake_add_raw_head(struct vq_fake *f, uint16_t head)
{
	put_avail(f, head);
}

void vq_fake_set_avail_idx(struct vq_fake *f, uint16_t idx)
{
	vq_store_release16(&f->avail->idx, idx);
	f->avail_idx = f->avail_published = idx;
}

int vq_fake_publish(struct vq_fake *f)
{
	uint16_t old_idx = f->avail_published, new_idx = f->avail_idx;
	vq_store_release16(&f->avail->idx, new_idx);
	f->avail_published = new_idx;
	/* Publish before reading the device's suppression state (§2.7.13.4). */
	vq_mb();
	bool kick;
	if (f->features & (1ull << VQ_F_EVENT_IDX))
		kick = vq_need_event(vq_load16(f->avail_event), new_idx, old_idx);
	else
		kick = old_idx != new_idx && !(vq_load16(&f->used->flags) & VQ_USED_F_NO_NOTIFY);
	if (!kick)
		return 0;
	f->kicks++;
	if (f->kick)
		f->kick(f->kick_opaque);
	return 1;
}

static void free_chain(struct vq_fake *f, uint16_t head)
{
	uint16_t n = f->chain_ndesc[head];
	f->chain_ndesc[head] = 0;
	uint16_t idx = head;
	for (uint16_t k = 0; k < n; k++) {
		f->free_stack[f->nfree++] = idx;
		idx = f->chain_next[idx];
	}
}

int vq_fake_get_used(struct vq_fake *f, uint32_t *id, uint32_t *len)
{
	if (vq_load_acquire16(&f->used->idx) == f->last_used)
		return 0;
	const struct vq_used_elem *e = &f->used->ring[f->last_used & (f->size - 1)];
	*id = vq_from_le32(__atomic_load_n(&e->id, __ATOMIC_RELAXED));
	*len = vq_from_le32(__atomic_load_n(&e->len, __ATOMIC_RELAXED));
	f->last_used++;
	if (*id < f->size && f->chain_ndesc[*id])
		free_chain(f, (uint16_t)*id);
	return 1;
}

uint16_t vq_fake_used_pending(struct vq_fake *f)
{
	return (uint16_t)(vq_load_acquire16(&f->used->idx) - f->last_used);
}

/* ---- interrupt suppression ---- */

void vq_fake_disable_interrupts(struct vq_fake *f)
{
	/* With event idx, Linux leaves used_event where it is: the device only
	 * interrupts when crossing it, which it just did. */
	if (!(f->features & (1ull << VQ_F_EVENT_IDX)))
		vq_store16(&f->avail->flags, VQ_AVAIL_F_NO_INTERRUPT);
}

int vq_fake_enable_interrupts(struct vq_fake *f)
{
	if (f->features & (1ull << VQ_F_EVENT_IDX))
		vq_store16(f->used_event, f->last_used);
	else
		vq_store16(&f->avail->flags, 0);
	vq_mb();
	return vq_fake_used_pending(f) != 0;
}

void vq_fake_set_used_event(struct vq_fake *f, uint16_t idx)
{
	vq_store16(f->used_event, idx);
}
