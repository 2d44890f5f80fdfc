/* SPDX-License-Identifier: MIT */
/*
 * usermem — guest user memory behind USERPTR planes and ext-control pointers.
 *
 * Policy:
 *  - The SG list is checked completely (entry count, coverage of the needed
 *    size, every byte driver memory) before anything is allocated, so a bad
 *    list costs nothing and leaks nothing.
 *  - Memory contiguous in host memory is used in place: a direct view, no
 *    copy, no allocation but the descriptor.  The device then works on pages
 *    the guest shares, as hardware does with a USERPTR buffer.
 *  - Anything else gets a bounce buffer, charged against dev->usermem_limit
 *    so the guest cannot make the device allocate without bound.  The SG list
 *    is kept (our copy: the guest may rewrite its own) and translated again at
 *    write-back, since guest memory may have changed in between.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmedia_internal.h"

/* Host segments per translation; a longer run is translated in pieces. */
#define WALK_IOV 8

typedef void (*piece_fn)(void *ctx, uint8_t *host, size_t len);

/*
 * Call @fn on each host piece of [gpa, gpa+len), in order.  A translator may
 * cut a range into any number of pieces, so translate a chunk at a time and
 * halve the chunk while it needs more segments than we hold (a one-byte chunk
 * always fits).  Returns 0 or -EFAULT (not driver memory, or wraps); pieces
 * before the failure have been visited.
 */
static int walk(const struct vq_mem *mem, uint64_t gpa, uint64_t len, piece_fn fn, void *ctx)
{
	struct iovec iov[WALK_IOV];
	uint64_t chunk = len;
	while (len) {
		if (chunk > len)
			chunk = len;
		int n = vq_mem_translate(mem, gpa, chunk, iov, WALK_IOV);
		if (n == -ENOBUFS) {
			chunk -= chunk / 2;
			continue;
		}
		if (n < 0)
			return -EFAULT;
		for (int i = 0; i < n; i++)
			fn(ctx, iov[i].iov_base, iov[i].iov_len);
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

/* What reading an SG list found out. */
struct sg_scan {
	uint32_t n;    /* entries read, zero-length ones included */
	uint8_t *base; /* host address of the first byte */
	uint8_t *next; /* where the next piece must start to stay contiguous */
	bool direct;   /* every piece so far followed the previous one */
};

static void note_piece(void *ctx, uint8_t *host, size_t len)
{
	struct sg_scan *st = ctx;
	if (!st->base)
		st->base = host;
	else if (host != st->next)
		st->direct = false;
	st->next = host + len;
}

/*
 * Read entries from @r until they cover @need bytes, the last one truncated,
 * translating each (so a bad address fails here) and noting whether the
 * pieces are contiguous in host memory.  With @sg, store the entries, in host
 * order and truncated, and fail if more than @max are needed.
 * Returns 0, -EINVAL (list runs out, or too long), -EFAULT.
 */
static int read_sg(const struct vq_mem *mem, struct vq_reader *r, size_t need,
		   struct vmedia_sg_entry *sg, uint32_t max, struct sg_scan *st)
{
	*st = (struct sg_scan){ .direct = true };
	uint64_t covered = 0;
	while (covered < need) {
		struct vmedia_sg_entry e;
		if (st->n == max || vq_reader_read_all(r, &e, sizeof(e)))
			return -EINVAL;
		uint64_t start = vq_from_le64(e.start);
		uint64_t len = vq_from_le32(e.len);
		if (len > need - covered)
			len = need - covered;
		int ret = walk(mem, start, len, note_piece, st);
		if (ret)
			return ret;
		if (sg)
			sg[st->n] = (struct vmedia_sg_entry){ .start = start, .len = (uint32_t)len };
		st->n++;
		covered += len;
	}
	return 0;
}

/* A cursor through a bounce buffer, for walk(). */
struct copy {
	uint8_t *buf;
	bool to_guest;
};

static void copy_piece(void *ctx, uint8_t *host, size_t len)
{
	struct copy *c = ctx;
	if (c->to_guest)
		memcpy(host, c->buf, len);
	else
		memcpy(c->buf, host, len);
	c->buf += len;
}

static int copy_sg(const struct vmedia_usermem *m, bool to_guest)
{
	struct copy c = { .buf = m->ptr, .to_guest = to_guest };
	for (uint32_t i = 0; i < m->nsg; i++) {
		int ret = walk(m->dev->mem, m->sg[i].start, m->sg[i].len, copy_piece, &c);
		if (ret)
			return ret;
	}
	return 0;
}

static void free_bounce(struct vmedia_usermem *m)
{
	free(m->ptr);
	free(m->sg);
	free(m);
}

/*
 * The list is read twice when it bounces: once to learn its length without
 * allocating, then again from the same place into an array of that length.
 * The second pass checks everything afresh, so a guest that rewrites the
 * list in between gets -EINVAL or the new list, never an overrun.
 */
int vmedia_usermem_get(struct vmedia_device *dev, struct vq_reader *r, size_t need,
		       struct vmedia_usermem **out)
{
	*out = NULL;
	if (need == 0)
		return 0;
	struct vq_reader start = *r;
	struct sg_scan st;
	int ret = read_sg(dev->mem, r, need, NULL, VMEDIA_MAX_SG_ENTRIES, &st);
	if (ret)
		return ret;

	struct vmedia_usermem *m;
	if (st.direct) {
		m = malloc(sizeof(*m));
		if (!m)
			return -ENOMEM;
		*m = (struct vmedia_usermem){ .ptr = st.base, .len = need, .dev = dev };
		*out = m;
		return 0;
	}

	if (dev->usermem_used >= dev->usermem_limit || need > dev->usermem_limit - dev->usermem_used)
		return -ENOMEM;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	*m = (struct vmedia_usermem){ .len = need, .dev = dev, .bounced = true };
	m->sg = calloc(st.n, sizeof(*m->sg));
	m->ptr = malloc(need);
	if (!m->sg || !m->ptr) {
		free_bounce(m);
		return -ENOMEM;
	}
	*r = start;
	ret = read_sg(dev->mem, r, need, m->sg, st.n, &st);
	if (ret == 0) {
		m->nsg = st.n;
		ret = copy_sg(m, false);
	}
	if (ret) {
		free_bounce(m);
		return ret;
	}
	dev->usermem_used += need;
	dev->stats.usermem_bounced++;
	*out = m;
	return 0;
}

/* On -EFAULT the pieces before the bad one have been written. */
int vmedia_usermem_sync(struct vmedia_usermem *m)
{
	if (!m || !m->bounced)
		return 0;
	return copy_sg(m, true);
}

/* A failed write-back has nobody to report to: the guest memory is gone. */
void vmedia_usermem_put(struct vmedia_usermem *m, bool written)
{
	if (!m)
		return;
	if (!m->bounced) {
		free(m);
		return;
	}
	if (written)
		vmedia_usermem_sync(m);
	m->dev->usermem_used -= m->len;
	free_bounce(m);
}
