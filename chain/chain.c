/* SPDX-License-Identifier: MIT */
/* Reader and writer cursors: the segment-crossing slow paths. */
#include "vq_chain.h"

static void cursor_init(struct vq_cursor *cur, const struct iovec *iov, uint32_t n, size_t total)
{
	*cur = (struct vq_cursor){
		.iov = iov, .end = iov + n, .off = 0, .remaining = total, .total = total
	};
}

void vq_reader_init(struct vq_reader *r, const struct vq_chain *c)
{
	cursor_init(&r->cur, c->iov, c->nreadable, c->readable_len);
}

void vq_writer_init(struct vq_writer *w, const struct vq_chain *c)
{
	cursor_init(&w->cur, c->iov + c->nreadable, c->nwritable, c->writable_len);
}

enum cursor_op { COPY_OUT, COPY_IN, SKIP };

/* The one loop behind read, write and skip, so their segment logic is the
 * same.  Segments are never empty (the queue drops zero-length buffers), but
 * a cursor can sit at the end of one after an exact-fit fast-path copy. */
static size_t cursor_walk(struct vq_cursor *cur, char *buf, size_t len, enum cursor_op op)
{
	size_t todo = len < cur->remaining ? len : cur->remaining;
	size_t done = 0;
	while (done < todo) {
		size_t room = cur->iov->iov_len - cur->off;
		if (room == 0) {
			cur->iov++;
			cur->off = 0;
			continue;
		}
		size_t n = todo - done < room ? todo - done : room;
		char *seg = (char *)cur->iov->iov_base + cur->off;
		if (op == COPY_OUT)
			memcpy(buf + done, seg, n);
		else if (op == COPY_IN)
			memcpy(seg, buf + done, n);
		cur->off += n;
		done += n;
	}
	cur->remaining -= todo;
	return todo;
}

size_t vq_cursor_copy_out(struct vq_cursor *cur, void *dst, size_t len)
{
	return cursor_walk(cur, dst, len, COPY_OUT);
}

size_t vq_cursor_copy_in(struct vq_cursor *cur, const void *src, size_t len)
{
	/* cursor_walk only reads @buf for COPY_IN. */
	return cursor_walk(cur, (char *)(uintptr_t)src, len, COPY_IN);
}

size_t vq_cursor_skip(struct vq_cursor *cur, size_t len)
{
	return cursor_walk(cur, NULL, len, SKIP);
}

int vq_cursor_iov(const struct vq_cursor *cur, struct iovec *out, unsigned max, size_t len)
{
	size_t todo = len < cur->remaining ? len : cur->remaining;
	const struct iovec *iov = cur->iov;
	size_t off = cur->off;
	unsigned n = 0;
	while (todo) {
		size_t room = iov->iov_len - off;
		if (room) {
			if (n == max)
				return -ENOBUFS;
			size_t take = todo < room ? todo : room;
			out[n].iov_base = (char *)iov->iov_base + off;
			out[n].iov_len = take;
			n++;
			todo -= take;
		}
		iov++;
		off = 0;
	}
	return (int)n;
}
