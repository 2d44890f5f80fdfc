/* SPDX-License-Identifier: MIT */
/* Driver-memory translation: a sorted region table or a caller's translator. */
#include <errno.h>
#include <string.h>

#include "vq_ring.h"

void vq_mem_init(struct vq_mem *m)
{
	memset(m, 0, sizeof(*m));
}

int vq_mem_add_region(struct vq_mem *m, uint64_t gpa, uint64_t size, void *host)
{
	if (size == 0 || gpa + (size - 1) < gpa)
		return -EINVAL;
	if (m->nregions == VQ_MEM_MAX_REGIONS)
		return -ENOSPC;
	uint64_t last = gpa + (size - 1);
	unsigned pos = 0;
	for (; pos < m->nregions; pos++) {
		const struct vq_mem_region *r = &m->regions[pos];
		uint64_t rlast = r->gpa + (r->size - 1);
		if (gpa <= rlast && r->gpa <= last)
			return -EEXIST;
		if (r->gpa > gpa)
			break;
	}
	memmove(&m->regions[pos + 1], &m->regions[pos],
		(m->nregions - pos) * sizeof(m->regions[0]));
	m->regions[pos] = (struct vq_mem_region){ .gpa = gpa, .size = size, .host = host };
	m->nregions++;
	return 0;
}

void vq_mem_set_translator(struct vq_mem *m, vq_translate_fn fn, void *opaque)
{
	m->translate = fn;
	m->translate_opaque = opaque;
}

/* The region holding @gpa, or NULL.  Tables are small (a VMM has a handful of
 * regions), so a linear scan beats anything cleverer. */
static const struct vq_mem_region *find_region(const struct vq_mem *m, uint64_t gpa)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct vq_mem_region *r = &m->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

/* Host pointer for @gpa and how many of @len bytes follow it contiguously. */
static void *map_piece(const struct vq_mem *m, uint64_t gpa, uint64_t len, uint64_t *contig)
{
	if (m->translate) {
		void *p = m->translate(m->translate_opaque, gpa, len, contig);
		/* A translator that claims more than asked, or nothing, is a bug
		 * in the transport; treat it as unmapped rather than trust it. */
		if (p && (*contig == 0 || *contig > len))
			return NULL;
		return p;
	}
	const struct vq_mem_region *r = find_region(m, gpa);
	if (!r)
		return NULL;
	uint64_t off = gpa - r->gpa;
	uint64_t avail = r->size - off;
	*contig = len < avail ? len : avail;
	return (char *)r->host + off;
}

int vq_mem_translate(const struct vq_mem *m, uint64_t gpa, uint64_t len, struct iovec *iov,
		     unsigned max)
{
	if (len == 0)
		return 0;
	if (gpa + (len - 1) < gpa)
		return -EOVERFLOW;
	unsigned n = 0;
	while (len) {
		uint64_t contig;
		void *p = map_piece(m, gpa, len, &contig);
		if (!p)
			return -EFAULT;
		/* Two regions can be adjacent in host memory too; one segment
		 * then.  Merging keeps iovec exports short. */
		if (n && (char *)iov[n - 1].iov_base + iov[n - 1].iov_len == (char *)p) {
			iov[n - 1].iov_len += contig;
		} else {
			if (n == max)
				return -ENOBUFS;
			iov[n].iov_base = p;
			iov[n].iov_len = contig;
			n++;
		}
		gpa += contig;
		len -= contig;
	}
	return (int)n;
}

void *vq_mem_map(const struct vq_mem *m, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	if (gpa + (len - 1) < gpa)
		return NULL;
	uint64_t contig;
	void *p = map_piece(m, gpa, len, &contig);
	return p && contig == len ? p : NULL;
}
