/* SPDX-License-Identifier: MIT */
/* Buffer setup for one queue, multi- or single-planar; see mbuffers.h. */
#include "mbuffers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096u

/*
 * The two struct v4l2_buffer layouts, and the only code that knows them.  A
 * multi-planar buffer points m.planes at a plane array and says in length
 * how many it holds; a single-planar one holds its one plane's bytesused,
 * length and m.offset / m.userptr itself.  buf_init() makes an empty buffer
 * of either kind around @planes, buf_put() moves planes[0] into a
 * single-planar buffer (before QBUF), buf_get() the other way (after
 * QUERYBUF / DQBUF) and returns how many planes the buffer has.
 */
static bool mplane(const struct vqm_mbufs *bufs)
{
	return V4L2_TYPE_IS_MULTIPLANAR(bufs->type);
}

static void buf_init(const struct vqm_mbufs *bufs, struct v4l2_buffer *b, uint32_t index,
		     struct v4l2_plane *planes)
{
	memset(planes, 0, VIDEO_MAX_PLANES * sizeof(*planes));
	*b = (struct v4l2_buffer){ .index = index, .type = bufs->type, .memory = bufs->memory };
	if (mplane(bufs)) {
		b->length = bufs->nplanes;
		b->m.planes = planes;
	}
}

static void buf_put(const struct vqm_mbufs *bufs, struct v4l2_buffer *b,
		    const struct v4l2_plane *planes)
{
	if (mplane(bufs))
		return;
	b->bytesused = planes[0].bytesused;
	b->length = planes[0].length;
	if (bufs->memory == V4L2_MEMORY_USERPTR)
		b->m.userptr = planes[0].m.userptr;
	else
		b->m.offset = planes[0].m.mem_offset;
}

static uint32_t buf_get(const struct vqm_mbufs *bufs, const struct v4l2_buffer *b,
			struct v4l2_plane *planes)
{
	if (mplane(bufs))
		return b->length;
	planes[0].bytesused = b->bytesused;
	planes[0].length = b->length;
	if (bufs->memory == V4L2_MEMORY_USERPTR)
		planes[0].m.userptr = b->m.userptr;
	else
		planes[0].m.mem_offset = b->m.offset;
	planes[0].data_offset = 0;
	return 1;
}

static void release(struct vqm_stack *s, struct vqm_mbufs *bufs, int *first)
{
	for (uint32_t i = 0; i < VIDEO_MAX_FRAME; i++) {
		for (uint32_t p = 0; p < VIDEO_MAX_PLANES; p++) {
			struct vqm_mplane *pl = &bufs->b[i].p[p];
			if (pl->mapped) {
				int r = vmedia_guest_munmap(&s->g, pl->map_addr);
				if (r && first && !*first)
					*first = r;
			} else if (bufs->memory == V4L2_MEMORY_USERPTR) {
				free(pl->ptr);
			}
		}
		bufs->b[i] = (struct vqm_mbuffer){ 0 };
	}
}

static int map_planes(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs, uint32_t i,
		      bool writable)
{
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct v4l2_buffer qb;
	buf_init(bufs, &qb, i, planes);
	int r = vqm_ioctl(s, sid, VIDIOC_QUERYBUF, &qb);
	if (r) {
		bufs->failed = "VIDIOC_QUERYBUF";
		return r;
	}
	if (buf_get(bufs, &qb, planes) != bufs->nplanes) {
		bufs->failed = "VIDIOC_QUERYBUF (plane count)";
		return -EPROTO;
	}
	for (uint32_t p = 0; p < bufs->nplanes; p++) {
		struct vqm_mplane *pl = &bufs->b[i].p[p];
		uint64_t addr, len;
		r = vmedia_guest_mmap(&s->g, sid, writable ? VMEDIA_MMAP_FLAG_RW : 0,
				      planes[p].m.mem_offset, &addr, &len);
		if (r) {
			bufs->failed = "mmap";
			return r;
		}
		pl->mapped = true;
		pl->map_addr = addr;
		pl->length = planes[p].length;
		pl->ptr = len >= pl->length ? vmedia_guest_shm_ptr(&s->g, addr, pl->length) : NULL;
		if (!pl->ptr || !pl->length) {
			bufs->failed = "mmap (mapping outside the MMAP region, short or empty)";
			return -EFAULT;
		}
	}
	return 0;
}

int vqm_mbufs_alloc(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs, uint32_t type,
		    uint32_t memory, uint32_t count, uint32_t nplanes, const uint32_t *sizes,
		    bool writable)
{
	memset(bufs, 0, sizeof(*bufs));
	bufs->type = type;
	bufs->memory = memory;
	bufs->nplanes = nplanes;
	if ((memory != V4L2_MEMORY_MMAP && memory != V4L2_MEMORY_USERPTR) || !nplanes ||
	    nplanes > (mplane(bufs) ? VIDEO_MAX_PLANES : 1u)) {
		bufs->failed = "memory type or plane count";
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
		if (memory == V4L2_MEMORY_MMAP) {
			if ((r = map_planes(s, sid, bufs, i, writable)) != 0)
				goto fail;
			continue;
		}
		for (uint32_t p = 0; p < nplanes; p++) {
			size_t len = ((size_t)sizes[p] + PAGE - 1) & ~(size_t)(PAGE - 1);
			void *m;
			if (!sizes[p] || posix_memalign(&m, PAGE, len)) {
				bufs->failed = "user memory";
				r = -ENOMEM;
				goto fail;
			}
			memset(m, 0, len);
			bufs->b[i].p[p].ptr = m;
			bufs->b[i].p[p].length = sizes[p];
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

int vqm_mbufs_qbuf(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs, uint32_t index,
		   const uint32_t *bytesused, uint64_t timestamp_us)
{
	if (index >= bufs->count || bufs->b[index].queued)
		return -EINVAL;
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	struct v4l2_buffer qb;
	buf_init(bufs, &qb, index, planes);
	qb.timestamp = (struct timeval){ .tv_sec = (time_t)(timestamp_us / 1000000u),
					 .tv_usec = (suseconds_t)(timestamp_us % 1000000u) };
	for (uint32_t p = 0; p < bufs->nplanes; p++) {
		const struct vqm_mplane *pl = &bufs->b[index].p[p];
		planes[p].bytesused = bytesused ? bytesused[p] : 0;
		planes[p].length = pl->length;
		if (bufs->memory == V4L2_MEMORY_USERPTR)
			planes[p].m.userptr = (unsigned long)pl->ptr;
	}
	buf_put(bufs, &qb, planes);
	int r = vqm_ioctl(s, sid, VIDIOC_QBUF, &qb);
	if (!r)
		bufs->b[index].queued = true;
	return r;
}

int vqm_mbufs_dqbuf(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs,
		    struct v4l2_buffer *b, struct v4l2_plane planes[VIDEO_MAX_PLANES])
{
	buf_init(bufs, b, 0, planes);
	int r = vqm_ioctl(s, sid, VIDIOC_DQBUF, b);
	if (r)
		return r;
	buf_get(bufs, b, planes);
	if (b->index >= bufs->count)
		return -EPROTO;
	bufs->b[b->index].queued = false;
	return 0;
}

int vqm_mbufs_free_index(const struct vqm_mbufs *bufs)
{
	for (uint32_t i = 0; i < bufs->count; i++)
		if (!bufs->b[i].queued)
			return (int)i;
	return -1;
}

void vqm_mbufs_returned(struct vqm_mbufs *bufs)
{
	for (uint32_t i = 0; i < bufs->count; i++)
		bufs->b[i].queued = false;
}

int vqm_mbufs_free(struct vqm_stack *s, uint32_t sid, struct vqm_mbufs *bufs)
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
