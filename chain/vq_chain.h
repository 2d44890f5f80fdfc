/* SPDX-License-Identifier: MIT */
/*
 * chain — byte cursors over a popped chain.
 *
 * Policy of this layer: a chain is two byte streams, the device-readable one
 * and the device-writable one, however the driver cut them into descriptors.
 * A reader consumes the first, a writer fills the second; both can hand out
 * the remaining bytes as iovecs for readv/writev/io_uring without copying.
 * Cursors never allocate and never fail halfway through a copy: a short
 * chain gives a short count, or, with the _all variants, no copy at all.
 *
 * A writer's position is what goes into the used entry: skipped bytes count
 * as written, because the driver reads the used length as "valid up to here".
 */
#ifndef VQ_CHAIN_H
#define VQ_CHAIN_H

#include <errno.h>
#include <string.h>

#include "vq_queue.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A cursor over a run of segments; readers and writers share it. */
struct vq_cursor {
	const struct iovec *iov; /* current segment */
	const struct iovec *end;
	size_t off;              /* offset inside *iov */
	size_t remaining;        /* bytes from the position to the end */
	size_t total;            /* bytes in the whole stream */
};

struct vq_reader {
	struct vq_cursor cur;
};

struct vq_writer {
	struct vq_cursor cur;
};

/* Cursors over @c's readable / writable bytes, positioned at the start. */
void vq_reader_init(struct vq_reader *r, const struct vq_chain *c);
void vq_writer_init(struct vq_writer *w, const struct vq_chain *c);

/* Slow paths of the inline calls below; call those instead. */
size_t vq_cursor_copy_out(struct vq_cursor *cur, void *dst, size_t len);
size_t vq_cursor_copy_in(struct vq_cursor *cur, const void *src, size_t len);
size_t vq_cursor_skip(struct vq_cursor *cur, size_t len);
int vq_cursor_iov(const struct vq_cursor *cur, struct iovec *out, unsigned max, size_t len);

/* Step past a segment the last copy finished, so the next copy of a
 * header-then-payload pair stays on the inline path. */
static inline void vq_cursor_settle(struct vq_cursor *c)
{
	if (c->off == c->iov->iov_len && c->iov + 1 != c->end) {
		c->iov++;
		c->off = 0;
	}
}

/* Bytes left to read / room left to write. */
static inline size_t vq_reader_remaining(const struct vq_reader *r) { return r->cur.remaining; }
static inline size_t vq_writer_remaining(const struct vq_writer *w) { return w->cur.remaining; }

/* Bytes consumed so far by the reader. */
static inline size_t vq_reader_consumed(const struct vq_reader *r)
{
	return r->cur.total - r->cur.remaining;
}

/* The writer's position: the used length to push. */
static inline uint32_t vq_writer_written(const struct vq_writer *w)
{
	return (uint32_t)(w->cur.total - w->cur.remaining);
}

/* Copy up to @len bytes out of the chain.  Returns the bytes copied. */
static inline size_t vq_reader_read(struct vq_reader *r, void *dst, size_t len)
{
	struct vq_cursor *c = &r->cur;
	if (__builtin_expect(c->iov != c->end && len <= c->iov->iov_len - c->off, 1)) {
		memcpy(dst, (const char *)c->iov->iov_base + c->off, len);
		c->off += len;
		c->remaining -= len;
		vq_cursor_settle(c);
		return len;
	}
	return vq_cursor_copy_out(c, dst, len);
}

/* Copy exactly @len bytes, or nothing.  Returns 0 or -EMSGSIZE (too short). */
static inline int vq_reader_read_all(struct vq_reader *r, void *dst, size_t len)
{
	if (len > r->cur.remaining)
		return -EMSGSIZE;
	vq_reader_read(r, dst, len);
	return 0;
}

/* Copy up to @len bytes into the chain.  Returns the bytes copied. */
static inline size_t vq_writer_write(struct vq_writer *w, const void *src, size_t len)
{
	struct vq_cursor *c = &w->cur;
	if (__builtin_expect(c->iov != c->end && len <= c->iov->iov_len - c->off, 1)) {
		memcpy((char *)c->iov->iov_base + c->off, src, len);
		c->off += len;
		c->remaining -= len;
		vq_cursor_settle(c);
		return len;
	}
	return vq_cursor_copy_in(c, src, len);
}

/* Write exactly @len bytes, or nothing.  Returns 0 or -EMSGSIZE (no room). */
static inline int vq_writer_write_all(struct vq_writer *w, const void *src, size_t len)
{
	if (len > w->cur.remaining)
		return -EMSGSIZE;
	vq_writer_write(w, src, len);
	return 0;
}

/* Advance past up to @len bytes.  Returns the bytes skipped.  For a writer,
 * use this after filling exported iovecs directly; the bytes count as written. */
static inline size_t vq_reader_skip(struct vq_reader *r, size_t len)
{
	return vq_cursor_skip(&r->cur, len);
}
static inline size_t vq_writer_skip(struct vq_writer *w, size_t len)
{
	return vq_cursor_skip(&w->cur, len);
}

/*
 * Describe the next min(@len, remaining) bytes as at most @max iovecs in
 * @out, without moving the cursor.  Returns the number of iovecs, or
 * -ENOBUFS if @max is too small (nothing useful is left in @out then).
 */
static inline int vq_reader_iov(const struct vq_reader *r, struct iovec *out, unsigned max,
				size_t len)
{
	return vq_cursor_iov(&r->cur, out, max, len);
}
static inline int vq_writer_iov(const struct vq_writer *w, struct iovec *out, unsigned max,
				size_t len)
{
	return vq_cursor_iov(&w->cur, out, max, len);
}

#ifdef __cplusplus
}
#endif
#endif /* VQ_CHAIN_H */
