/* SPDX-License-Identifier: MIT */
/*
 * mbuffers — the buffers of one V4L2 streaming queue, as an application
 * sets them up: REQBUFS, then QUERYBUF + mmap() of every plane for MMAP, or
 * page-aligned user memory per plane for USERPTR; QBUF by index with the
 * planes' bytesused; DQBUF; and the reverse.  The tool's only buffer module:
 * the capture command's (and bench_capture's) VIDEO_CAPTURE queue and the
 * decoder's OUTPUT_MPLANE and CAPTURE_MPLANE queues all use it.
 *
 * A single-planar queue (a type V4L2_TYPE_IS_MULTIPLANAR() says no to) is
 * the case nplanes = 1: a buffer's one memory area is its plane 0, set up
 * and released exactly like a multi-planar plane.  The two differ only in
 * where struct v4l2_buffer keeps that plane's bytesused, length and offset /
 * userptr — in the buffer itself, or in the m.planes array — and
 * mbuffers.c translates between them in one place, so callers read and
 * pass planes[] for either kind.
 */
#ifndef VQM_MBUFFERS_H
#define VQM_MBUFFERS_H

#include "stack.h"

struct vqm_mplane {
	uint8_t *ptr;      /* MMAP: the mapping in the MMAP region; USERPTR: ours */
	uint32_t length;
	uint64_t map_addr; /* MMAP: the mapping's driver address */
	bool mapped;
};

struct vqm_mbuffer {
	struct vqm_mplane p[VIDEO_MAX_PLANES];
	bool queued;       /* owned by the device (between QBUF and DQBUF) */
};

struct vqm_mbufs {
	uint32_t type, memory, count, nplanes;
	struct vqm_mbuffer b[VIDEO_MAX_FRAME];
	const char *failed; /* after an error: the operation that failed */
};

/*
 * REQBUFS(@count) for (@type, @memory) with @nplanes planes (1 for a
 * single-planar @type) of @sizes bytes (USERPTR; MMAP takes the device's
 * lengths), then for MMAP QUERYBUF and MMAP each plane (writable if
 * @writable, e.g. OUTPUT buffers we fill; read-only otherwise).  The device
 * may grant more or fewer (bufs->count).  Returns 0, or -errno with
 * bufs->failed naming the step (and what was set up released).
 */
int vqm_mbufs_alloc(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs, uint32_t type,
		    uint32_t memory, uint32_t count, uint32_t nplanes, const uint32_t *sizes,
		    bool writable);

/* QBUF buffer @index; @bytesused per plane (NULL: 0, a CAPTURE buffer),
 * @timestamp_us goes into the buffer's timestamp.  Returns 0 or -errno
 * (-EINVAL for a buffer the device already holds). */
int vqm_mbufs_qbuf(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs, uint32_t index,
		   const uint32_t *bytesused, uint64_t timestamp_us);

/* Non-blocking DQBUF into @b, its planes into @planes (for a single-planar
 * queue too: planes[0] then repeats b's bytesused, length and offset /
 * userptr).  Returns 0 (the buffer marked not queued), -EAGAIN, -EPIPE
 * (after the LAST buffer), or -errno; -EPROTO for an index the queue does
 * not have (in b->index). */
int vqm_mbufs_dqbuf(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs,
		    struct v4l2_buffer *b, struct v4l2_plane planes[VIDEO_MAX_PLANES]);

/* A buffer the device does not hold, or -1. */
int vqm_mbufs_free_index(const struct vqm_mbufs *bufs);

/* After STREAMOFF: the device holds none of them any more. */
void vqm_mbufs_returned(struct vqm_mbufs *bufs);

/* Unmap / free every buffer and REQBUFS(0).  Returns 0 or the first -errno. */
int vqm_mbufs_free(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs);

#endif
