/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "simple_fixture.h"

void simple_pair_init(struct simple_pair *sp, const struct vmedia_simple_config *cfg,
		      const struct media_pair_opts *o)
{
	static const struct vmedia_simple_config bench = { .benchmark = true };
	memset(sp, 0, sizeof(*sp));
	sp->sd = vmedia_simple_new(cfg ? cfg : &bench);
	cr_assert_not_null(sp->sd);
	struct media_pair_opts opts = o ? *o : (struct media_pair_opts){ 0 };
	opts.ops = &vmedia_simple_ops;
	opts.priv = sp->sd;
	opts.config = vmedia_simple_config_space(sp->sd);
	media_pair_init(&sp->p, &opts);
}

void simple_pair_destroy(struct simple_pair *sp)
{
	media_pair_destroy(&sp->p);
	vmedia_simple_free(sp->sd);
}

uint32_t sp_open(struct simple_pair *sp)
{
	uint32_t id;
	cr_assert_eq(vmedia_guest_open(&sp->p.g, &id), 0);
	return id;
}

int sp_ioctl(struct simple_pair *sp, uint32_t id, unsigned long req, void *arg)
{
	return vmedia_guest_ioctl(&sp->p.g, id, req, arg);
}

struct v4l2_pix_format sp_set_fmt(struct simple_pair *sp, uint32_t id, uint32_t fourcc,
				  uint32_t w, uint32_t h)
{
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	f.fmt.pix.pixelformat = fourcc;
	f.fmt.pix.width = w;
	f.fmt.pix.height = h;
	cr_assert_eq(sp_ioctl(sp, id, VIDIOC_S_FMT, &f), 0);
	return f.fmt.pix;
}

int sp_reqbufs(struct simple_pair *sp, uint32_t id, uint32_t memory, uint32_t *count)
{
	struct v4l2_requestbuffers rb = { .count = *count,
					  .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = memory };
	int r = sp_ioctl(sp, id, VIDIOC_REQBUFS, &rb);
	*count = rb.count;
	return r;
}

void sp_mmap_bufs(struct simple_pair *sp, uint32_t id, uint32_t n, struct sp_bufs *b)
{
	memset(b, 0, sizeof(*b));
	uint32_t count = n;
	cr_assert_eq(sp_reqbufs(sp, id, V4L2_MEMORY_MMAP, &count), 0);
	cr_assert_eq(count, n);
	b->n = n;
	for (uint32_t i = 0; i < n; i++) {
		struct v4l2_buffer qb = { .index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = V4L2_MEMORY_MMAP };
		cr_assert_eq(sp_ioctl(sp, id, VIDIOC_QUERYBUF, &qb), 0);
		uint64_t len;
		cr_assert_eq(vmedia_guest_mmap(&sp->p.g, id, VMEDIA_MMAP_FLAG_RW, qb.m.offset,
					       &b->addr[i], &len), 0);
		cr_assert_eq(len, qb.length);
		b->length[i] = qb.length;
		b->view[i] = vmedia_guest_shm_ptr(&sp->p.g, b->addr[i], len);
		cr_assert_not_null(b->view[i]);
	}
}

int sp_qbuf_mmap(struct simple_pair *sp, uint32_t id, uint32_t index)
{
	struct v4l2_buffer qb = { .index = index, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				  .memory = V4L2_MEMORY_MMAP };
	return sp_ioctl(sp, id, VIDIOC_QBUF, &qb);
}

int sp_streamon(struct simple_pair *sp, uint32_t id)
{
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	return sp_ioctl(sp, id, VIDIOC_STREAMON, &type);
}

int sp_streamoff(struct simple_pair *sp, uint32_t id)
{
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	return sp_ioctl(sp, id, VIDIOC_STREAMOFF, &type);
}

int sp_dqbuf(struct simple_pair *sp, uint32_t id, uint32_t memory, struct v4l2_buffer *b)
{
	memset(b, 0, sizeof(*b));
	b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b->memory = memory;
	return vmedia_guest_dqbuf(&sp->p.g, id, b);
}

uint32_t sp_capture(struct simple_pair *sp, uint32_t id, uint32_t skip, uint8_t *out)
{
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_assert_eq(sp_ioctl(sp, id, VIDIOC_G_FMT, &f), 0);
	struct sp_bufs bufs;
	sp_mmap_bufs(sp, id, 2, &bufs);
	cr_assert_eq(sp_qbuf_mmap(sp, id, 0), 0);
	cr_assert_eq(sp_qbuf_mmap(sp, id, 1), 0);
	cr_assert_eq(sp_streamon(sp, id), 0);
	struct v4l2_buffer b;
	for (uint32_t i = 0; i <= skip; i++) {
		cr_assert_eq(sp_dqbuf(sp, id, V4L2_MEMORY_MMAP, &b), 0);
		cr_assert_eq(b.bytesused, f.fmt.pix.sizeimage);
		if (i < skip)
			cr_assert_eq(sp_qbuf_mmap(sp, id, b.index), 0);
	}
	memcpy(out, bufs.view[b.index], f.fmt.pix.sizeimage);
	cr_assert_eq(sp_streamoff(sp, id), 0);
	for (uint32_t i = 0; i < bufs.n; i++)
		cr_assert_eq(vmedia_guest_munmap(&sp->p.g, bufs.addr[i]), 0);
	uint32_t zero = 0;
	cr_assert_eq(sp_reqbufs(sp, id, V4L2_MEMORY_MMAP, &zero), 0);
	return b.sequence;
}

void sp_pixel(const struct v4l2_pix_format *f, const uint8_t *frame, uint32_t x, uint32_t y,
	      uint8_t out[3])
{
	uint32_t bpl = f->bytesperline, h = f->height;
	const uint8_t *p;
	switch (f->pixelformat) {
	case V4L2_PIX_FMT_YUYV:
		p = frame + (size_t)y * bpl + (x & ~1u) * 2;
		out[0] = p[(x & 1) * 2];
		out[1] = p[1];
		out[2] = p[3];
		break;
	case V4L2_PIX_FMT_RGB24:
		memcpy(out, frame + (size_t)y * bpl + x * 3, 3);
		break;
	case V4L2_PIX_FMT_NV12:
		out[0] = frame[(size_t)y * bpl + x];
		p = frame + (size_t)bpl * h + (size_t)(y / 2) * bpl + (x & ~1u);
		out[1] = p[0];
		out[2] = p[1];
		break;
	case V4L2_PIX_FMT_YUV420:
		out[0] = frame[(size_t)y * bpl + x];
		p = frame + (size_t)bpl * h;
		out[1] = p[(size_t)(y / 2) * (bpl / 2) + x / 2];
		p += (size_t)(bpl / 2) * (h / 2);
		out[2] = p[(size_t)(y / 2) * (bpl / 2) + x / 2];
		break;
	default:
		cr_assert_fail("unknown format");
	}
}

int sp_g_ctrl(struct simple_pair *sp, uint32_t id, uint32_t cid, int32_t *v)
{
	struct v4l2_control c = { .id = cid };
	int r = sp_ioctl(sp, id, VIDIOC_G_CTRL, &c);
	*v = c.value;
	return r;
}

int sp_s_ctrl(struct simple_pair *sp, uint32_t id, uint32_t cid, int32_t v)
{
	struct v4l2_control c = { .id = cid, .value = v };
	return sp_ioctl(sp, id, VIDIOC_S_CTRL, &c);
}
