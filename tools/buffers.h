/* SPDX-License-Identifier: MIT */
/*
 * buffers — the buffers of one single-planar queue, as an application sets
 * them up: REQBUFS, then QUERYBUF + mmap() for MMAP, or page-aligned user
 * memory for USERPTR; QBUF by index; and the reverse.
 */
#ifndef VQM_BUFFERS_H
#define VQM_BUFFERS_H

#include "stack.h"

struct vqm_buffer {
	uint8_t *ptr;      /* MMAP: the mapping in the MMAP region; USERPTR: ours */
	uint32_t length;
	uint64_t map_addr; /* MMAP: the mapping's driver address */
	bool mapped;
};

struct vqm_bufs {
	uint32_t type, memory, count;
	struct vqm_buffer b[VIDEO_MAX_FRAME];
	const char *failed; /* after an error: the operation that failed */
};

/*
 * REQBUFS(@count) for (@type, @memory), then for MMAP QUERYBUF and MMAP each
 * buffer (read-only unless @writable), for USERPTR allocate @size bytes per
 * buffer.  The device may grant fewer (bufs->count).  Returns 0, or -errno
 * with bufs->failed naming the step (and what was set up released).
 */
int vqm_bufs_alloc(struct vqm_stack *s, uint32_t sid, struct vqm_bufs *bufs, uint32_t type,
		   uint32_t memory, uint32_t count, uint32_t size, bool writable);

/* QBUF buffer @index (bytesused 0: a capture buffer).  Returns 0 or -errno. */
int vqm_bufs_qbuf(struct vqm_stack *s, uint32_t sid, struct vqm_bufs *bufs, uint32_t index);

/* Unmap / free every buffer and REQBUFS(0).  Returns 0 or the first -errno. */
int vqm_bufs_free(struct vqm_stack *s, uint32_t sid, struct vqm_bufs *bufs);

#endif
