/* SPDX-License-Identifier: MIT */
/*
 * The decoder's formats, sizes, selection, controls, events and decoder
 * commands as a V4L2 application sees them through the guest driver.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "decoder_fixture.h"

static struct dp D;
static uint32_t ID;

static void setup(void)
{
	dp_init(&D, 1);
	ID = dp_open(&D);
}

static void teardown(void)
{
	dp_destroy(&D);
}

TestSuite(formats, .init = setup, .fini = teardown, .timeout = 60);

static int io(unsigned long req, void *arg)
{
	return dp_ioctl(&D, ID, req, arg);
}

Test(formats, querycap_is_m2m_mplane)
{
	struct v4l2_capability cap;
	cr_assert_eq(io(VIDIOC_QUERYCAP, &cap), 0);
	cr_expect_eq(cap.device_caps & ~V4L2_CAP_EXT_PIX_FORMAT,
		     V4L2_CAP_VIDEO_M2M_MPLANE | V4L2_CAP_STREAMING);
	cr_expect_str_eq((char *)cap.card, "vqmedia decoder");
}

Test(formats, enum_coded_formats)
{
	static const uint32_t want[] = { V4L2_PIX_FMT_H264, V4L2_PIX_FMT_HEVC, V4L2_PIX_FMT_VP8,
					 V4L2_PIX_FMT_VP9, V4L2_PIX_FMT_AV1, V4L2_PIX_FMT_MPEG2 };
	uint32_t seen = 0;
	for (uint32_t i = 0;; i++) {
		struct v4l2_fmtdesc fd = { .index = i, .type = OUT_MP };
		int r = io(VIDIOC_ENUM_FMT, &fd);
		if (r) {
			cr_assert_eq(r, -EINVAL);
			break;
		}
		cr_assert_eq(fd.index, i);
		cr_expect(fd.flags & V4L2_FMT_FLAG_COMPRESSED);
		cr_expect(fd.flags & V4L2_FMT_FLAG_DYN_RESOLUTION);
		bool cont = fd.pixelformat == V4L2_PIX_FMT_H264 || fd.pixelformat == V4L2_PIX_FMT_HEVC ||
			    fd.pixelformat == V4L2_PIX_FMT_MPEG2;
		cr_expect_eq(!!(fd.flags & V4L2_FMT_FLAG_CONTINUOUS_BYTESTREAM), cont);
		cr_expect_neq(fd.description[0], 0);
		for (unsigned k = 0; k < 6; k++)
			if (fd.pixelformat == want[k])
				seen |= 1u << k;
	}
	/* This machine's libavcodec (with libdav1d) decodes all six. */
	cr_expect_eq(seen, 0x3f, "offered: %#x", seen);
}

Test(formats, enum_raw_formats)
{
	struct v4l2_fmtdesc fd = { .index = 0, .type = CAP_MP };
	cr_assert_eq(io(VIDIOC_ENUM_FMT, &fd), 0);
	cr_expect_eq(fd.pixelformat, V4L2_PIX_FMT_NV12);
	cr_expect_eq(fd.flags, 0);
	fd = (struct v4l2_fmtdesc){ .index = 1, .type = CAP_MP };
	cr_assert_eq(io(VIDIOC_ENUM_FMT, &fd), 0);
	cr_expect_eq(fd.pixelformat, V4L2_PIX_FMT_YUV420);
	fd = (struct v4l2_fmtdesc){ .index = 2, .type = CAP_MP };
	cr_expect_eq(io(VIDIOC_ENUM_FMT, &fd), -EINVAL);
	/* A single-planar type: the node is multi-planar only. */
	fd = (struct v4l2_fmtdesc){ .index = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_expect_eq(io(VIDIOC_ENUM_FMT, &fd), -EINVAL);
}

/* vmedia_decoder_config.codecs: those formats only, in the device's own
 * order; TRY_FMT of another falls back to the first of them. */
Test(formats, offered_codecs_are_the_configured_ones)
{
	static const uint32_t only[] = { V4L2_PIX_FMT_VP8, V4L2_PIX_FMT_H264, 0 };
	struct dp d2;
	dp_init_cfg(&d2, &(struct vmedia_decoder_config){ .threads = 1, .codecs = only });
	uint32_t id = dp_open(&d2);
	struct v4l2_fmtdesc fd = { .type = OUT_MP, .index = 0 };
	cr_assert_eq(dp_ioctl(&d2, id, VIDIOC_ENUM_FMT, &fd), 0);
	cr_expect_eq(fd.pixelformat, V4L2_PIX_FMT_H264);
	fd = (struct v4l2_fmtdesc){ .type = OUT_MP, .index = 1 };
	cr_assert_eq(dp_ioctl(&d2, id, VIDIOC_ENUM_FMT, &fd), 0);
	cr_expect_eq(fd.pixelformat, V4L2_PIX_FMT_VP8);
	fd = (struct v4l2_fmtdesc){ .type = OUT_MP, .index = 2 };
	cr_expect_eq(dp_ioctl(&d2, id, VIDIOC_ENUM_FMT, &fd), -EINVAL);
	struct v4l2_format f = { .type = OUT_MP };
	f.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_HEVC;
	cr_assert_eq(dp_ioctl(&d2, id, VIDIOC_TRY_FMT, &f), 0);
	cr_expect_eq(f.fmt.pix_mp.pixelformat, V4L2_PIX_FMT_H264, "not offered: the first one");
	struct v4l2_frmsizeenum fs = { .pixel_format = V4L2_PIX_FMT_HEVC };
	cr_expect_eq(dp_ioctl(&d2, id, VIDIOC_ENUM_FRAMESIZES, &fs), -EINVAL);
	dp_destroy(&d2);
}

Test(formats, framesizes_stepwise)
{
	struct v4l2_frmsizeenum fs = { .index = 0, .pixel_format = V4L2_PIX_FMT_H264 };
	cr_assert_eq(io(VIDIOC_ENUM_FRAMESIZES, &fs), 0);
	cr_expect_eq(fs.type, V4L2_FRMSIZE_TYPE_STEPWISE);
	cr_expect_eq(fs.stepwise.min_width, 16);
	cr_expect_eq(fs.stepwise.max_width, 8192);
	cr_expect_gt(fs.stepwise.step_width, 0);
	fs = (struct v4l2_frmsizeenum){ .index = 1, .pixel_format = V4L2_PIX_FMT_H264 };
	cr_expect_eq(io(VIDIOC_ENUM_FRAMESIZES, &fs), -EINVAL);
	fs = (struct v4l2_frmsizeenum){ .index = 0, .pixel_format = V4L2_PIX_FMT_YUYV };
	cr_expect_eq(io(VIDIOC_ENUM_FRAMESIZES, &fs), -EINVAL);
}

Test(formats, output_try_and_set)
{
	struct v4l2_format f = { .type = OUT_MP };
	cr_assert_eq(io(VIDIOC_G_FMT, &f), 0);
	cr_expect_eq(f.fmt.pix_mp.pixelformat, V4L2_PIX_FMT_H264);
	cr_expect_eq(f.fmt.pix_mp.num_planes, 1);
	cr_expect_gt(f.fmt.pix_mp.plane_fmt[0].sizeimage, 0);
	f.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_YUYV; /* not coded: the first coded one */
	f.fmt.pix_mp.plane_fmt[0].sizeimage = 0xffffffff;
	cr_assert_eq(io(VIDIOC_TRY_FMT, &f), 0);
	cr_expect_eq(f.fmt.pix_mp.pixelformat, V4L2_PIX_FMT_H264);
	cr_expect_leq(f.fmt.pix_mp.plane_fmt[0].sizeimage, 32u << 20);
	f = (struct v4l2_format){ .type = OUT_MP };
	f.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_VP9;
	cr_assert_eq(io(VIDIOC_S_FMT, &f), 0);
	f = (struct v4l2_format){ .type = OUT_MP };
	cr_assert_eq(io(VIDIOC_G_FMT, &f), 0);
	cr_expect_eq(f.fmt.pix_mp.pixelformat, V4L2_PIX_FMT_VP9);
	/* With buffers, the format stays. */
	struct v4l2_requestbuffers rb = { .count = 1, .type = OUT_MP, .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(io(VIDIOC_REQBUFS, &rb), 0);
	f.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_H264;
	cr_expect_eq(io(VIDIOC_S_FMT, &f), -EBUSY);
	f = (struct v4l2_format){ .type = V4L2_BUF_TYPE_VIDEO_OUTPUT };
	cr_expect_eq(io(VIDIOC_G_FMT, &f), -EINVAL);
}

/* A coded size given by the client is the CAPTURE placeholder: rounded to
 * 16 with the visible rectangle kept, strides 64-byte aligned. */
Test(formats, capture_placeholder_layout_and_selection)
{
	struct v4l2_format f = { .type = OUT_MP };
	f.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_H264;
	f.fmt.pix_mp.width = 318;
	f.fmt.pix_mp.height = 238;
	cr_assert_eq(io(VIDIOC_S_FMT, &f), 0);
	f = (struct v4l2_format){ .type = CAP_MP };
	cr_assert_eq(io(VIDIOC_G_FMT, &f), 0);
	struct v4l2_pix_format_mplane *p = &f.fmt.pix_mp;
	cr_expect_eq(p->pixelformat, V4L2_PIX_FMT_NV12);
	cr_expect_eq(p->width, 320);
	cr_expect_eq(p->height, 240);
	cr_expect_eq(p->num_planes, 1);
	cr_expect_eq(p->plane_fmt[0].bytesperline, 320);
	cr_expect_eq(p->plane_fmt[0].sizeimage, 320 * 240 * 3 / 2);
	p->pixelformat = V4L2_PIX_FMT_YUV420;
	p->width = 4000; /* the size is the stream's, not the client's */
	cr_assert_eq(io(VIDIOC_S_FMT, &f), 0);
	cr_expect_eq(p->pixelformat, V4L2_PIX_FMT_YUV420);
	cr_expect_eq(p->width, 320);
	p->pixelformat = V4L2_PIX_FMT_RGB24;
	cr_assert_eq(io(VIDIOC_TRY_FMT, &f), 0);
	cr_expect_eq(p->pixelformat, V4L2_PIX_FMT_YUV420);

	struct v4l2_selection s = { .type = CAP_MP, .target = V4L2_SEL_TGT_COMPOSE };
	cr_assert_eq(io(VIDIOC_G_SELECTION, &s), 0);
	cr_expect_eq(s.r.left, 0);
	cr_expect_eq(s.r.width, 318);
	cr_expect_eq(s.r.height, 238);
	s = (struct v4l2_selection){ .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				     .target = V4L2_SEL_TGT_CROP_BOUNDS };
	cr_assert_eq(io(VIDIOC_G_SELECTION, &s), 0);
	cr_expect_eq(s.r.width, 320);
	cr_expect_eq(s.r.height, 240);
	s = (struct v4l2_selection){ .type = CAP_MP, .target = V4L2_SEL_TGT_CROP };
	cr_assert_eq(io(VIDIOC_G_SELECTION, &s), 0);
	cr_expect_eq(s.r.width, 318);
	s = (struct v4l2_selection){ .type = OUT_MP, .target = V4L2_SEL_TGT_CROP };
	cr_expect_eq(io(VIDIOC_G_SELECTION, &s), -EINVAL);
	s = (struct v4l2_selection){ .type = CAP_MP, .target = 0x1234 };
	cr_expect_eq(io(VIDIOC_G_SELECTION, &s), -EINVAL);
}

Test(formats, min_buffers_control)
{
	struct v4l2_queryctrl q = { .id = V4L2_CID_MIN_BUFFERS_FOR_CAPTURE };
	cr_assert_eq(io(VIDIOC_QUERYCTRL, &q), 0);
	cr_expect(q.flags & V4L2_CTRL_FLAG_READ_ONLY);
	cr_expect_eq(q.type, V4L2_CTRL_TYPE_INTEGER);
	struct v4l2_control c = { .id = V4L2_CID_MIN_BUFFERS_FOR_CAPTURE };
	cr_assert_eq(io(VIDIOC_G_CTRL, &c), 0);
	cr_expect_geq(c.value, 1);
	int32_t v = c.value;
	c.value = 9;
	cr_expect_eq(io(VIDIOC_S_CTRL, &c), -EACCES);
	struct v4l2_ext_control ec = { .id = V4L2_CID_MIN_BUFFERS_FOR_CAPTURE };
	struct v4l2_ext_controls x = { .which = V4L2_CTRL_WHICH_CUR_VAL, .count = 1,
				       .controls = &ec };
	cr_assert_eq(io(VIDIOC_G_EXT_CTRLS, &x), 0);
	cr_expect_eq(ec.value, v);
	cr_expect_eq(io(VIDIOC_S_EXT_CTRLS, &x), -EACCES);
	cr_expect_eq(io(VIDIOC_TRY_EXT_CTRLS, &x), -EACCES);
	cr_expect_eq(x.error_idx, 0);
	/* Enumeration finds it. */
	q = (struct v4l2_queryctrl){ .id = V4L2_CTRL_FLAG_NEXT_CTRL };
	bool found = false;
	while (io(VIDIOC_QUERYCTRL, &q) == 0) {
		found |= q.id == V4L2_CID_MIN_BUFFERS_FOR_CAPTURE;
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
	}
	cr_expect(found);
	c = (struct v4l2_control){ .id = V4L2_CID_BRIGHTNESS };
	cr_expect_eq(io(VIDIOC_G_CTRL, &c), -EINVAL);
}

Test(formats, events_subscription)
{
	struct v4l2_event_subscription s = { .type = V4L2_EVENT_ALL };
	cr_expect_eq(io(VIDIOC_SUBSCRIBE_EVENT, &s), -EINVAL);
	s = (struct v4l2_event_subscription){ .type = V4L2_EVENT_VSYNC };
	cr_expect_eq(io(VIDIOC_SUBSCRIBE_EVENT, &s), -EINVAL);
	s = (struct v4l2_event_subscription){ .type = V4L2_EVENT_SOURCE_CHANGE };
	cr_expect_eq(io(VIDIOC_SUBSCRIBE_EVENT, &s), 0);
	s = (struct v4l2_event_subscription){ .type = V4L2_EVENT_EOS };
	cr_expect_eq(io(VIDIOC_SUBSCRIBE_EVENT, &s), 0);
	s = (struct v4l2_event_subscription){ .type = V4L2_EVENT_CTRL, .id = 0x1234 };
	cr_expect_eq(io(VIDIOC_SUBSCRIBE_EVENT, &s), -EINVAL);
	s = (struct v4l2_event_subscription){ .type = V4L2_EVENT_CTRL,
					      .id = V4L2_CID_MIN_BUFFERS_FOR_CAPTURE,
					      .flags = V4L2_EVENT_SUB_FL_SEND_INITIAL };
	cr_assert_eq(io(VIDIOC_SUBSCRIBE_EVENT, &s), 0);
	struct v4l2_event ev;
	cr_assert_eq(vmedia_guest_dqevent(&D.p.g, ID, &ev), 0);
	cr_expect_eq(ev.type, V4L2_EVENT_CTRL);
	cr_expect_eq(ev.id, V4L2_CID_MIN_BUFFERS_FOR_CAPTURE);
	cr_expect_geq(ev.u.ctrl.value, 1);
	s = (struct v4l2_event_subscription){ .type = V4L2_EVENT_ALL };
	cr_expect_eq(io(VIDIOC_UNSUBSCRIBE_EVENT, &s), 0);
}

Test(formats, decoder_cmd_try_and_idle)
{
	struct v4l2_decoder_cmd dc = { .cmd = V4L2_DEC_CMD_STOP, .flags = 3 };
	dc.stop.pts = 77;
	cr_assert_eq(io(VIDIOC_TRY_DECODER_CMD, &dc), 0);
	cr_expect_eq(dc.flags, 0);
	cr_expect_eq(dc.stop.pts, 0);
	dc = (struct v4l2_decoder_cmd){ .cmd = V4L2_DEC_CMD_PAUSE };
	cr_expect_eq(io(VIDIOC_TRY_DECODER_CMD, &dc), -EINVAL);
	cr_expect_eq(io(VIDIOC_DECODER_CMD, &dc), -EINVAL);
	/* Nothing streams: STOP is accepted and does nothing; START too. */
	dc = (struct v4l2_decoder_cmd){ .cmd = V4L2_DEC_CMD_STOP };
	cr_expect_eq(io(VIDIOC_DECODER_CMD, &dc), 0);
	dc = (struct v4l2_decoder_cmd){ .cmd = V4L2_DEC_CMD_START };
	cr_expect_eq(io(VIDIOC_DECODER_CMD, &dc), 0);
	cr_expect_eq(dp_pump(&D, 0), 0);
	cr_expect(!vmedia_decoder_busy(D.dec));
}

/* Sessions have their own formats. */
Test(formats, sessions_have_own_formats)
{
	uint32_t id2 = dp_open(&D);
	struct v4l2_format f = { .type = OUT_MP };
	f.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_VP8;
	cr_assert_eq(io(VIDIOC_S_FMT, &f), 0);
	f = (struct v4l2_format){ .type = OUT_MP };
	cr_assert_eq(dp_ioctl(&D, id2, VIDIOC_G_FMT, &f), 0);
	cr_expect_eq(f.fmt.pix_mp.pixelformat, V4L2_PIX_FMT_H264);
	struct v4l2_requestbuffers rb = { .count = 2, .type = OUT_MP, .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(io(VIDIOC_REQBUFS, &rb), 0);
	cr_assert_eq(dp_ioctl(&D, id2, VIDIOC_REQBUFS, &rb), 0);
	cr_assert_eq(vmedia_guest_close(&D.p.g, id2), 0);
}

/* Before the stream or the client gave a size, both queues still have a
 * format (v4l2-compliance asks G_FMT of every queue the caps name, and the
 * spec's CAPTURE "will not return the real values" until the event): a
 * 720p placeholder, with CAPTURE's colorimetry the OUTPUT's. */
Test(formats, placeholder_formats_before_any_size)
{
	struct v4l2_format o = { .type = OUT_MP };
	cr_assert_eq(io(VIDIOC_G_FMT, &o), 0);
	cr_expect_eq(o.fmt.pix_mp.width, 1280);
	cr_expect_eq(o.fmt.pix_mp.height, 720);
	struct v4l2_format c = { .type = CAP_MP };
	cr_assert_eq(io(VIDIOC_G_FMT, &c), 0, "no EINVAL before the stream");
	cr_expect_eq(c.fmt.pix_mp.width, 1280);
	cr_expect_eq(c.fmt.pix_mp.height, 720);
	cr_expect_eq(c.fmt.pix_mp.colorspace, o.fmt.pix_mp.colorspace);
	cr_expect_eq(c.fmt.pix_mp.xfer_func, o.fmt.pix_mp.xfer_func);
	cr_expect_eq(c.fmt.pix_mp.ycbcr_enc, o.fmt.pix_mp.ycbcr_enc);
	cr_expect_eq(c.fmt.pix_mp.quantization, o.fmt.pix_mp.quantization);
	struct v4l2_selection s = { .type = CAP_MP, .target = V4L2_SEL_TGT_COMPOSE };
	cr_assert_eq(io(VIDIOC_G_SELECTION, &s), 0);
	cr_expect_eq(s.r.width, 1280);
	/* 0 x 0 asked: the placeholder again, never a format without a size. */
	o = (struct v4l2_format){ .type = OUT_MP };
	o.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_H264;
	cr_assert_eq(io(VIDIOC_S_FMT, &o), 0);
	cr_expect_eq(o.fmt.pix_mp.width, 1280);
	cr_expect_eq(o.fmt.pix_mp.height, 720);
	struct v4l2_requestbuffers rb = { .count = 2, .type = CAP_MP, .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(io(VIDIOC_REQBUFS, &rb), 0, "CAPTURE buffers of the placeholder size");
	cr_expect_eq(rb.count, 2);
}

/* Colorimetry set on OUTPUT is kept and reported on CAPTURE (the decoder
 * converts no pixels); values that name nothing fall back to BT.709. */
Test(formats, colorimetry_follows_output)
{
	struct v4l2_format o = { .type = OUT_MP };
	o.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_H264;
	o.fmt.pix_mp.colorspace = V4L2_COLORSPACE_SMPTE170M;
	o.fmt.pix_mp.xfer_func = V4L2_XFER_FUNC_SRGB;
	o.fmt.pix_mp.ycbcr_enc = V4L2_YCBCR_ENC_601;
	o.fmt.pix_mp.quantization = V4L2_QUANTIZATION_FULL_RANGE;
	cr_assert_eq(io(VIDIOC_S_FMT, &o), 0);
	cr_expect_eq(o.fmt.pix_mp.colorspace, V4L2_COLORSPACE_SMPTE170M);
	cr_expect_eq(o.fmt.pix_mp.xfer_func, V4L2_XFER_FUNC_SRGB);
	cr_expect_eq(o.fmt.pix_mp.ycbcr_enc, V4L2_YCBCR_ENC_601);
	cr_expect_eq(o.fmt.pix_mp.quantization, V4L2_QUANTIZATION_FULL_RANGE);
	struct v4l2_format c = { .type = CAP_MP };
	cr_assert_eq(io(VIDIOC_G_FMT, &c), 0);
	cr_expect_eq(c.fmt.pix_mp.colorspace, V4L2_COLORSPACE_SMPTE170M);
	cr_expect_eq(c.fmt.pix_mp.xfer_func, V4L2_XFER_FUNC_SRGB);
	cr_expect_eq(c.fmt.pix_mp.ycbcr_enc, V4L2_YCBCR_ENC_601);
	cr_expect_eq(c.fmt.pix_mp.quantization, V4L2_QUANTIZATION_FULL_RANGE);
	o.fmt.pix_mp.colorspace = 0xff;
	o.fmt.pix_mp.xfer_func = 0xff;
	o.fmt.pix_mp.ycbcr_enc = 0xff;
	o.fmt.pix_mp.quantization = 0xff;
	cr_assert_eq(io(VIDIOC_TRY_FMT, &o), 0);
	cr_expect_eq(o.fmt.pix_mp.colorspace, V4L2_COLORSPACE_REC709);
	cr_expect_eq(o.fmt.pix_mp.xfer_func, V4L2_XFER_FUNC_709);
	cr_expect_eq(o.fmt.pix_mp.ycbcr_enc, V4L2_YCBCR_ENC_709);
	cr_expect_eq(o.fmt.pix_mp.quantization, V4L2_QUANTIZATION_LIM_RANGE);
}

/* vb2 reads a prepared buffer's planes at PREPARE_BUF only: its QBUF queues
 * what was verified then, whatever bytesused / data_offset it carries. */
Test(formats, qbuf_of_a_prepared_output_buffer_keeps_its_payload)
{
	struct v4l2_requestbuffers rb = { .count = 1, .type = OUT_MP, .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(io(VIDIOC_REQBUFS, &rb), 0);
	struct v4l2_plane pl[1] = { { .bytesused = 100 } };
	struct v4l2_buffer b = { .index = 0, .type = OUT_MP, .memory = V4L2_MEMORY_MMAP,
				 .length = 1, .m.planes = pl };
	cr_assert_eq(io(VIDIOC_PREPARE_BUF, &b), 0);
	pl[0].bytesused = 0xdeadbeef;
	pl[0].data_offset = 0xdeadbeef;
	cr_assert_eq(io(VIDIOC_QBUF, &b), 0);
	cr_expect_eq(pl[0].bytesused, 100);
	cr_expect_eq(pl[0].data_offset, 0);
	/* Not prepared: the same numbers are checked, and refused. */
	int type = OUT_MP;
	cr_assert_eq(io(VIDIOC_STREAMOFF, &type), 0);
	pl[0].bytesused = 0xdeadbeef;
	pl[0].data_offset = 0xdeadbeef;
	cr_expect_eq(io(VIDIOC_QBUF, &b), -EINVAL);
}
