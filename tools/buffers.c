/* SPDX-License-Identifier: MIT */
/* Buffer setup for one queue; see buffers.h. */
#include "buffers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096u

static void release(struct vqm_stack *s, struct vqm_bufs *bufs, int *first)
{
	for (uint32_t i = 0; i < VIDEO_MAX_FRAME; i++) {
		struct vqm_buffer *b = &bufs->b[i];
		if (b->mapped) {
			int r = vmedia_guest_munmap(&s->g, b->map_addr);
			if (r && first && !*first)
				*first = r;
		} else if (bufs->memory == V4L2_MEMORY_USERPTR) {
			free(b->ptr);
		}
		*b = (struct vqm_buffer){ 0 };
	}
}

int vqm_bufs_alloc(struct vqm_stack *s, uint32_t sid, struct vqm_bufs *bufs, uint32_t type,
		   uint32_t memory, uint32_t count, uint32_t size, bool writable)
{
	memset(bufs, 0, sizeof(*bufs));
	bufs->type = type;
	bufs->memory = memory;
	if (memory != V4L2_MEMORY_MMAP && memory != V4L2_MEMORY_USERPTR) {
		bufs->failed = "memory type";
		return -EINVAL;
	}
	struct v4l2_requestbuffers rb = { .count = count, .type = type, .memory = memory };
	int r = vqm_ioctl(s, sid, VIDIOC_REQBUFS, &rb);
	if (r) {
		bufs->failed = "VIDIOC_REQBUFS";
		return r;
	}
	if (rb.count == 0 || rb.count > VIDEO_MAX_FRAME) {
		bufs->failed = "VIDIOC_REQBUFS (buffer count)";
		r = -ENOBUFS;
		goto fail;
	}
	bufs->count = rb.count;
	for (uint32_t i = 0; i < bufs->count; i++) {
		struct vqm_buffer *b = &bufs->b[i];
		if (memory == V4L2_MEMORY_USERPTR) {
			size_t len = ((size_t)size + PAGE - 1) & ~(size_t)(PAGE - 1);
			void *p;
			if (!size || posix_memalign(&p, PAGE, len)) {
				bufs->failed = "user memory";
				r = -ENOMEM;
				goto fail;
			}
			memset(p, 0, len);
			b->ptr = p;
			b->length = size;
			continue;
		}
		struct v4l2_buffer qb = { .index = i, .type = type, .memory = memory };
		if ((r = vqm_ioctl(s, sid, VIDIOC_QUERYBUF, &qb)) != 0) {
			bufs->failed = "VIDIOC_QUERYBUF";
			goto fail;
		}
		uint64_t addr, len;
		r = vmedia_guest_mmap(&s->g, sid, writable ? VMEDIA_MMAP_FLAG_RW : 0, qb.m.offset,
				      &addr, &len);
		if (r) {
			bufs->failed = "mmap";
			goto fail;
		}
		b->mapped = true;
		b->map_addr = addr;
		b->length = qb.length;
		b->ptr = len >= qb.length ? vmedia_guest_shm_ptr(&s->g, addr, qb.length) : NULL;
		if (!b->ptr) {
			bufs->failed = "mmap (mapping outside the MMAP region or short)";
			r = -EFAULT;
			goto fail;
		}
	}
	return 0;
fail:
	release(s, bufs, NULL);
	struct v4l2_requestbuffers none = { .count = 0, .type = type, .memory = memory };
	vqm_ioctl(s, sid, VIDIOC_REQBUFS, &none);
	bufs->count = 0;
	return r;
}

int vqm_bufs_qbuf(struct vqm_stack *s, uint32_t sid, struct vqm_bufs *bufs, uint32_t index)
{
	if (index >= bufs->count)
		return -EINVAL;
	struct v4l2_buffer qb = { .index = index, .type = bufs->type, .memory = bufs->memory };
	if (bufs->memory == V4L2_MEMORY_USERPTR) {
		qb.m.userptr = (unsigned long)bufs->b[index].ptr;
		qb.length = bufs->b[index].length;
	}
	return vqm_ioctl(s, sid, VIDIOC_QBUF, &qb);
}

int vqm_bufs_free(struct vqm_stack *s, uint32_t sid, struct vqm_bufs *bufs)
{
	int first = 0;
	release(s, bufs, &first);
	if (bufs->count) {
		struct v4l2_requestbuffers rb = { .count = 0, .type = bufs->type,
						  .memory = bufs->memory };
		int r = vqm_ioctl(s, sid, VIDIOC_REQBUFS, &rb);
		if (r && !first)
			first = r;
	}
	bufs->count = 0;
	return first;
}
