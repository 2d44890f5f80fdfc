/* SPDX-License-Identifier: MIT */
/*
 * mbuffers — the buffers of one multi-planar queue (the OUTPUT_MPLANE and
 * CAPTURE_MPLANE queues of a memory-to-memory device), as an application
 * sets them up: REQBUFS, then QUERYBUF + mmap() of every plane for MMAP, or
 * page-aligned user memory per plane for USERPTR; QBUF by index with the
 * planes' bytesused; and the reverse.  buffers.h is the single-planar one.
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
 * REQBUFS(@count) for (@type, @memory) with @nplanes planes of @sizes
 * bytes (USERPTR; MMAP takes the device's lengths), then for MMAP QUERYBUF
 * and MMAP each plane (writable if @writable: OUTPUT buffers are filled by
 * us).  The device may grant more or fewer (bufs->count).  Returns 0, or
 * -errno with bufs->failed naming the step (and what was set up released).
 */
int vqm_mbufs_alloc(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs, uint32_t type,
		    uint32_t memory, uint32_t count, uint32_t nplanes, const uint32_t *sizes,
		    bool writable);

/* QBUF buffer @index; @bytesused per plane (NULL: 0, a CAPTURE buffer),
 * @timestamp_us goes into the buffer's timestamp.  Returns 0 or -errno. */
int vqm_mbufs_qbuf(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs, uint32_t index,
		   const uint32_t *bytesused, uint64_t timestamp_us);

/* Non-blocking DQBUF into @b (its planes into @planes).  Returns 0 (the
 * buffer marked not queued), -EAGAIN, -EPIPE (after the LAST buffer), or
 * -errno; -EPROTO for an index the queue does not have. */
int vqm_mbufs_dqbuf(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs,
		    struct v4l2_buffer *b, struct v4l2_plane planes[VIDEO_MAX_PLANES]);

/* A buffer the device does not hold, or -1. */
int vqm_mbufs_free_index(const struct vqm_mbufs *bufs);

/* After STREAMOFF: the device holds none of them any more. */
void vqm_mbufs_returned(struct vqm_mbufs *bufs);

/* Unmap / free every buffer and REQBUFS(0).  Returns 0 or the first -errno. */
int vqm_mbufs_free(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs);

#endif
