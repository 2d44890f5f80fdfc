/* SPDX-License-Identifier: MIT */
/*
 * The simple camera's formats, sizes, intervals, streaming parameters and
 * input, as a V4L2 program sees them through the guest driver: every
 * offered combination, the nearest-match rules, and bad input to each ioctl.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "simple_fixture.h"

static struct simple_pair SP;
static uint32_t ID;

static void setup(void)
{
	simple_pair_init(&SP, NULL, NULL);
	ID = sp_open(&SP);
}

static void teardown(void)
{
	simple_pair_destroy(&SP);
}

TestSuite(formats, .init = setup, .fini = teardown);

static const uint32_t FOURCCS[] = { V4L2_PIX_FMT_YUYV,  V4L2_PIX_FMT_NV12,
				    V4L2_PIX_FMT_YUV420, V4L2_PIX_FMT_RGB24,
				    V4L2_PIX_FMT_BGR24, V4L2_PIX_FMT_YVU420 };
static const char *const DESCS[] = { "YUYV 4:2:2",	 "Y/CbCr 4:2:0",     "Planar YUV 4:2:0",
				     "24-bit RGB 8-8-8", "24-bit BGR 8-8-8", "Planar YVU 4:2:0" };
#define NFOURCCS 6u
static const uint32_t SIZES[][2] = { { 320, 240 }, { 640, 480 }, { 1280, 720 } };

static void expect_layout(const struct v4l2_pix_format *p, uint32_t fourcc, uint32_t w, uint32_t h)
{
	cr_expect_eq(p->pixelformat, fourcc);
	cr_expect_eq(p->width, w);
	cr_expect_eq(p->height, h);
	cr_expect_eq(p->field, V4L2_FIELD_NONE);
	bool rgb = fourcc == V4L2_PIX_FMT_RGB24 || fourcc == V4L2_PIX_FMT_BGR24;
	uint32_t bpl = fourcc == V4L2_PIX_FMT_YUYV ? 2 * w : rgb ? 3 * w : w;
	uint32_t size = fourcc == V4L2_PIX_FMT_YUYV || rgb ? bpl * h : w * h * 3 / 2;
	cr_expect_eq(p->bytesperline, bpl, "%.4s bpl", (const char *)&fourcc);
	cr_expect_eq(p->sizeimage, size, "%.4s size", (const char *)&fourcc);
	cr_expect_eq(p->colorspace, V4L2_COLORSPACE_SRGB);
	cr_expect_eq(p->priv, V4L2_PIX_FMT_PRIV_MAGIC);
	cr_expect_eq(p->quantization, rgb ? V4L2_QUANTIZATION_FULL_RANGE
					  : V4L2_QUANTIZATION_LIM_RANGE);
}

/* ---- ENUM_FMT ---- */

Test(formats, enum_fmt_lists_six_formats_with_the_kernel_descriptions)
{
	for (uint32_t i = 0; i < NFOURCCS; i++) {
		struct v4l2_fmtdesc d;
		memset(&d, 0xee, sizeof(d));
		d.index = i;
		d.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FMT, &d), 0);
		cr_expect_eq(d.index, i);
		cr_expect_eq(d.pixelformat, FOURCCS[i]);
		cr_expect_str_eq((const char *)d.description, DESCS[i]);
		cr_expect_eq(d.flags, 0);
		cr_expect_eq(d.mbus_code, 0);
		cr_expect_eq(d.reserved[0], 0, "reserved cleared");
	}
}

Test(formats, enum_fmt_past_the_end_and_bad_types_are_einval)
{
	struct v4l2_fmtdesc d = { .index = NFOURCCS, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FMT, &d), -EINVAL);
	d.index = UINT32_MAX;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FMT, &d), -EINVAL);
	const uint32_t types[] = { V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
				   V4L2_BUF_TYPE_VIDEO_OVERLAY, 0, 99, UINT32_MAX };
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		d = (struct v4l2_fmtdesc){ .index = 0, .type = types[i] };
		cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FMT, &d), -EINVAL, "type %u", types[i]);
	}
}

/* ---- frame sizes and intervals ---- */

Test(formats, every_format_has_three_sizes_and_two_intervals_each)
{
	for (unsigned f = 0; f < NFOURCCS; f++) {
		for (uint32_t i = 0; i < 3; i++) {
			struct v4l2_frmsizeenum fs = { .index = i, .pixel_format = FOURCCS[f] };
			cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FRAMESIZES, &fs), 0);
			cr_expect_eq(fs.type, V4L2_FRMSIZE_TYPE_DISCRETE);
			cr_expect_eq(fs.discrete.width, SIZES[i][0]);
			cr_expect_eq(fs.discrete.height, SIZES[i][1]);
			const struct v4l2_fract want[] = { { 1, 60 }, { 1, 30 } };
			for (uint32_t k = 0; k < 2; k++) {
				struct v4l2_frmivalenum fi = { .index = k,
							       .pixel_format = FOURCCS[f],
							       .width = SIZES[i][0],
							       .height = SIZES[i][1] };
				cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FRAMEINTERVALS, &fi), 0);
				cr_expect_eq(fi.type, V4L2_FRMIVAL_TYPE_DISCRETE);
				cr_expect_eq(fi.discrete.numerator, want[k].numerator);
				cr_expect_eq(fi.discrete.denominator, want[k].denominator);
			}
			struct v4l2_frmivalenum end = { .index = 2, .pixel_format = FOURCCS[f],
							.width = SIZES[i][0], .height = SIZES[i][1] };
			cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FRAMEINTERVALS, &end), -EINVAL);
		}
		struct v4l2_frmsizeenum end = { .index = 3, .pixel_format = FOURCCS[f] };
		cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FRAMESIZES, &end), -EINVAL);
	}
}

Test(formats, framesizes_and_intervals_refuse_unknown_formats_and_sizes)
{
	struct v4l2_frmsizeenum fs = { .index = 0, .pixel_format = V4L2_PIX_FMT_MJPEG };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FRAMESIZES, &fs), -EINVAL);
	fs.pixel_format = 0;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FRAMESIZES, &fs), -EINVAL);
	struct v4l2_frmivalenum fi = { .pixel_format = V4L2_PIX_FMT_YUYV, .width = 641,
				       .height = 480 };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FRAMEINTERVALS, &fi), -EINVAL);
	fi = (struct v4l2_frmivalenum){ .pixel_format = V4L2_PIX_FMT_MJPEG, .width = 640,
					.height = 480 };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FRAMEINTERVALS, &fi), -EINVAL);
	fi = (struct v4l2_frmivalenum){ .pixel_format = V4L2_PIX_FMT_YUYV, .width = 0,
					.height = 0 };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUM_FRAMEINTERVALS, &fi), -EINVAL);
}

/* ---- G / S / TRY_FMT ---- */

Test(formats, default_format_is_640x480_yuyv)
{
	struct v4l2_format f;
	memset(&f, 0xee, sizeof(f));
	f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_G_FMT, &f), 0);
	expect_layout(&f.fmt.pix, V4L2_PIX_FMT_YUYV, 640, 480);
	cr_expect_eq(f.fmt.raw_data[sizeof(f.fmt.pix)], 0, "the rest of the union is cleared");
}

Test(formats, every_format_and_size_can_be_set_and_read_back)
{
	for (unsigned f = 0; f < NFOURCCS; f++) {
		for (unsigned i = 0; i < 3; i++) {
			struct v4l2_pix_format p =
				sp_set_fmt(&SP, ID, FOURCCS[f], SIZES[i][0], SIZES[i][1]);
			expect_layout(&p, FOURCCS[f], SIZES[i][0], SIZES[i][1]);
			struct v4l2_format g = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
			cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_G_FMT, &g), 0);
			cr_expect_eq(memcmp(&g.fmt.pix, &p, sizeof(p)), 0);
		}
	}
}

Test(formats, try_fmt_picks_the_nearest_size_and_changes_nothing)
{
	const struct { uint32_t w, h, ew, eh; } cases[] = {
		{ 0, 0, 320, 240 },       { 1, 1, 320, 240 },       { 500, 400, 640, 480 },
		{ 1920, 1080, 1280, 720 }, { 100000, 100000, 1280, 720 }, { 960, 600, 640, 480 },
		{ UINT32_MAX, UINT32_MAX, 1280, 720 },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
		f.fmt.pix.pixelformat = V4L2_PIX_FMT_NV12;
		f.fmt.pix.width = cases[i].w;
		f.fmt.pix.height = cases[i].h;
		f.fmt.pix.bytesperline = 7;
		f.fmt.pix.field = V4L2_FIELD_INTERLACED;
		cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_TRY_FMT, &f), 0);
		expect_layout(&f.fmt.pix, V4L2_PIX_FMT_NV12, cases[i].ew, cases[i].eh);
	}
	struct v4l2_format g = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_G_FMT, &g), 0);
	expect_layout(&g.fmt.pix, V4L2_PIX_FMT_YUYV, 640, 480);
}

Test(formats, an_unknown_pixelformat_becomes_yuyv_not_an_error)
{
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	f.fmt.pix.pixelformat = V4L2_PIX_FMT_MJPEG;
	f.fmt.pix.width = 1280;
	f.fmt.pix.height = 720;
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_TRY_FMT, &f), 0);
	expect_layout(&f.fmt.pix, V4L2_PIX_FMT_YUYV, 1280, 720);
	f.fmt.pix.pixelformat = 0;
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_S_FMT, &f), 0);
	expect_layout(&f.fmt.pix, V4L2_PIX_FMT_YUYV, 1280, 720);
}

Test(formats, fmt_ioctls_refuse_other_buffer_types)
{
	const uint32_t types[] = { V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
				   V4L2_BUF_TYPE_META_CAPTURE, 0, 1000 };
	const unsigned long reqs[] = { VIDIOC_G_FMT, VIDIOC_S_FMT, VIDIOC_TRY_FMT };
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		for (unsigned k = 0; k < 3; k++) {
			struct v4l2_format f = { .type = types[i] };
			f.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
			cr_expect_eq(sp_ioctl(&SP, ID, reqs[k], &f), -EINVAL, "type %u", types[i]);
		}
	}
}

Test(formats, s_fmt_is_ebusy_while_buffers_exist_for_every_session)
{
	uint32_t other = sp_open(&SP), n = 2;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	f.fmt.pix.pixelformat = V4L2_PIX_FMT_RGB24;
	f.fmt.pix.width = 320;
	f.fmt.pix.height = 240;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_S_FMT, &f), -EBUSY);
	cr_expect_eq(sp_ioctl(&SP, other, VIDIOC_S_FMT, &f), -EBUSY);
	cr_expect_eq(sp_ioctl(&SP, other, VIDIOC_TRY_FMT, &f), 0, "TRY is always allowed");
	n = 0;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
	cr_expect_eq(sp_ioctl(&SP, other, VIDIOC_S_FMT, &f), 0);
}

Test(formats, the_format_is_shared_by_all_sessions)
{
	uint32_t other = sp_open(&SP);
	sp_set_fmt(&SP, ID, V4L2_PIX_FMT_YUV420, 1280, 720);
	struct v4l2_format g = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_assert_eq(sp_ioctl(&SP, other, VIDIOC_G_FMT, &g), 0);
	expect_layout(&g.fmt.pix, V4L2_PIX_FMT_YUV420, 1280, 720);
}

/* ---- G / S_PARM ---- */

Test(formats, g_parm_reports_timeperframe_1_30_by_default)
{
	struct v4l2_streamparm p;
	memset(&p, 0xee, sizeof(p));
	p.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_G_PARM, &p), 0);
	cr_expect_eq(p.parm.capture.capability, V4L2_CAP_TIMEPERFRAME);
	cr_expect_eq(p.parm.capture.timeperframe.numerator, 1);
	cr_expect_eq(p.parm.capture.timeperframe.denominator, 30);
	cr_expect_eq(p.parm.capture.readbuffers, 0);
	cr_expect_eq(p.parm.capture.capturemode, 0);
	cr_expect_eq(p.parm.capture.reserved[0], 0);
}

Test(formats, s_parm_picks_the_nearest_interval)
{
	const struct { uint32_t n, d, en, ed; } cases[] = {
		{ 1, 60, 1, 60 }, { 1, 30, 1, 30 }, { 1, 50, 1, 60 }, { 1, 40, 1, 30 },
		{ 1, 1000, 1, 60 }, { 5, 1, 1, 30 }, { 0, 0, 1, 30 }, { 1, 0, 1, 30 },
		{ 0, 7, 1, 30 }, { UINT32_MAX, 1, 1, 30 }, { 1, UINT32_MAX, 1, 60 },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct v4l2_streamparm p = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
		p.parm.capture.timeperframe = (struct v4l2_fract){ cases[i].n, cases[i].d };
		cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_S_PARM, &p), 0);
		cr_expect_eq(p.parm.capture.timeperframe.numerator, cases[i].en, "case %u", i);
		cr_expect_eq(p.parm.capture.timeperframe.denominator, cases[i].ed, "case %u", i);
		struct v4l2_streamparm g = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
		cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_G_PARM, &g), 0);
		cr_expect_eq(g.parm.capture.timeperframe.denominator, cases[i].ed);
	}
}

Test(formats, parm_refuses_other_buffer_types)
{
	const uint32_t types[] = { V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
				   0, 77 };
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct v4l2_streamparm p = { .type = types[i] };
		cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_G_PARM, &p), -EINVAL);
		cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_S_PARM, &p), -EINVAL);
	}
}

/* ---- the input ---- */

Test(formats, one_camera_input)
{
	struct v4l2_input in;
	memset(&in, 0xee, sizeof(in));
	in.index = 0;
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_ENUMINPUT, &in), 0);
	cr_expect_eq(in.index, 0);
	cr_expect_eq(in.type, V4L2_INPUT_TYPE_CAMERA);
	cr_expect_str_eq((const char *)in.name, "Test Pattern");
	cr_expect_eq(in.std, 0);
	cr_expect_eq(in.reserved[0], 0);
	in.index = 1;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUMINPUT, &in), -EINVAL);
	in.index = UINT32_MAX;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUMINPUT, &in), -EINVAL);

	int i = 55;
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_G_INPUT, &i), 0);
	cr_expect_eq(i, 0);
	i = 0;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_S_INPUT, &i), 0);
	i = 1;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_S_INPUT, &i), -EINVAL);
	i = -1;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_S_INPUT, &i), -EINVAL);
}

/* ---- what the device does not do ---- */

Test(formats, unsupported_ioctls_are_enotty)
{
	v4l2_std_id std = 0;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_G_STD, &std), -ENOTTY);
	struct v4l2_selection sel = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_G_SELECTION, &sel), -ENOTTY);
	struct v4l2_output out = { 0 };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_ENUMOUTPUT, &out), -ENOTTY);
	struct v4l2_exportbuffer e = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_EXPBUF, &e), -ENOTTY);
	struct v4l2_decoder_cmd dc = { 0 };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_DECODER_CMD, &dc), -ENOTTY);
}

Test(formats, querycap_comes_from_the_config_space)
{
	struct v4l2_capability cap;
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYCAP, &cap), 0);
	cr_expect_eq(cap.device_caps & ~V4L2_CAP_EXT_PIX_FORMAT,
		     V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING);
	cr_expect_str_eq((const char *)cap.card, "vqmedia simple camera");
}
