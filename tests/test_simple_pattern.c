/* SPDX-License-Identifier: MIT */
/*
 * The simple camera's picture, read back from captured frames: the bars in
 * every format and size (BT.601 limited-range values for YUV, exact RGB),
 * the same picture in every format, the frame number read back with the
 * font, the moving square, and the controls changing the pixels.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "simple_fixture.h"

static struct simple_pair SP;
static uint32_t ID;
static uint8_t *FRAME;

static void setup(void)
{
	simple_pair_init(&SP, NULL, NULL);
	ID = sp_open(&SP);
	FRAME = malloc(1280 * 720 * 3);
}

static void teardown(void)
{
	free(FRAME);
	simple_pair_destroy(&SP);
}

TestSuite(pattern, .init = setup, .fini = teardown);

static const uint32_t FOURCCS[] = { V4L2_PIX_FMT_YUYV,  V4L2_PIX_FMT_NV12,
				    V4L2_PIX_FMT_YUV420, V4L2_PIX_FMT_RGB24,
				    V4L2_PIX_FMT_BGR24, V4L2_PIX_FMT_YVU420 };
#define NFOURCCS (sizeof(FOURCCS) / sizeof(FOURCCS[0]))
static const uint32_t SIZES[][2] = { { 320, 240 }, { 640, 480 }, { 1280, 720 } };

/* 100% colour bars: full-range RGB, and BT.601 limited-range Y'CbCr. */
static const uint8_t BAR_RGB[8][3] = {
	{ 255, 255, 255 }, { 255, 255, 0 }, { 0, 255, 255 }, { 0, 255, 0 },
	{ 255, 0, 255 },   { 255, 0, 0 },   { 0, 0, 255 },   { 0, 0, 0 },
};
static const uint8_t BAR_YUV[8][3] = {
	{ 235, 128, 128 }, { 210, 16, 146 }, { 170, 166, 16 }, { 145, 54, 34 },
	{ 106, 202, 222 }, { 81, 90, 240 },  { 41, 240, 110 }, { 16, 128, 128 },
};

static bool is_rgb(const struct v4l2_pix_format *f)
{
	return f->pixelformat == V4L2_PIX_FMT_RGB24 || f->pixelformat == V4L2_PIX_FMT_BGR24;
}

/* sp_pixel, plus the two formats that are others reordered: the pixel as
 * {R, G, B} or {Y, Cb, Cr} whatever the order in memory. */
static void pixel(const struct v4l2_pix_format *f, const uint8_t *frame, uint32_t x, uint32_t y,
		  uint8_t out[3])
{
	uint32_t bpl = f->bytesperline, h = f->height;
	const uint8_t *p;
	switch (f->pixelformat) {
	case V4L2_PIX_FMT_BGR24:
		p = frame + (size_t)y * bpl + x * 3;
		out[0] = p[2];
		out[1] = p[1];
		out[2] = p[0];
		break;
	case V4L2_PIX_FMT_YVU420:
		out[0] = frame[(size_t)y * bpl + x];
		p = frame + (size_t)bpl * h;
		out[2] = p[(size_t)(y / 2) * (bpl / 2) + x / 2];
		p += (size_t)(bpl / 2) * (h / 2);
		out[1] = p[(size_t)(y / 2) * (bpl / 2) + x / 2];
		break;
	default:
		sp_pixel(f, frame, x, y, out);
	}
}

static int near(int a, int b)
{
	return abs(a - b) <= 1;
}

/* A pixel in the middle of bar @b, near the bottom (no overlay there). */
static void bar_pixel(const struct v4l2_pix_format *f, int b, uint8_t out[3])
{
	uint32_t x = f->width / 8 * (uint32_t)b + f->width / 16;
	pixel(f, FRAME, x, f->height - 4, out);
}

static struct v4l2_pix_format current(void)
{
	struct v4l2_format g = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_G_FMT, &g), 0);
	return g.fmt.pix;
}

Test(pattern, bars_are_right_in_every_format_and_size)
{
	for (unsigned fi = 0; fi < NFOURCCS; fi++) {
		for (unsigned si = 0; si < 3; si++) {
			struct v4l2_pix_format f =
				sp_set_fmt(&SP, ID, FOURCCS[fi], SIZES[si][0], SIZES[si][1]);
			sp_capture(&SP, ID, 0, FRAME);
			for (int b = 0; b < 8; b++) {
				uint8_t px[3];
				bar_pixel(&f, b, px);
				const uint8_t *want = is_rgb(&f) ? BAR_RGB[b] : BAR_YUV[b];
				for (int c = 0; c < 3; c++)
					cr_expect(near(px[c], want[c]),
						  "%.4s %ux%u bar %d component %d: %u, want %u",
						  (const char *)&f.pixelformat, f.width, f.height, b,
						  c, px[c], want[c]);
			}
		}
	}
}

Test(pattern, rgb3_default_bars_are_exact)
{
	struct v4l2_pix_format f = sp_set_fmt(&SP, ID, V4L2_PIX_FMT_RGB24, 640, 480);
	sp_capture(&SP, ID, 0, FRAME);
	for (int b = 0; b < 8; b++) {
		uint8_t px[3];
		bar_pixel(&f, b, px);
		cr_expect_eq(memcmp(px, BAR_RGB[b], 3), 0, "bar %d", b);
	}
}

/* The four YUV formats hold the same picture, pixel for pixel. */
Test(pattern, yuv_formats_agree_everywhere)
{
	static uint8_t yuyv[640 * 480 * 2];
	struct v4l2_pix_format fy = sp_set_fmt(&SP, ID, V4L2_PIX_FMT_YUYV, 640, 480);
	sp_capture(&SP, ID, 0, yuyv);
	static const uint32_t others[] = { V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUV420,
					   V4L2_PIX_FMT_YVU420 };
	for (unsigned fi = 0; fi < 3; fi++) {
		struct v4l2_pix_format f = sp_set_fmt(&SP, ID, others[fi], 640, 480);
		sp_capture(&SP, ID, 0, FRAME);
		for (uint32_t y = 0; y < 480; y += 2) {
			for (uint32_t x = 0; x < 640; x += 2) {
				uint8_t a[3], b[3];
				pixel(&fy, yuyv, x, y, a);
				pixel(&f, FRAME, x, y, b);
				if (memcmp(a, b, 3))
					cr_assert_fail("%.4s differs from YUYV at %u,%u",
						       (const char *)&f.pixelformat, x, y);
			}
		}
	}
}

/* In memory, not through a pixel reader: BGR3 is RGB3 with R and B swapped
 * in every pixel, YV12 is YU12 with the Cb and Cr planes swapped. */
Test(pattern, bgr3_and_yv12_are_rgb3_and_yu12_reordered)
{
	static uint8_t ref[1280 * 720 * 3];
	struct v4l2_pix_format fr = sp_set_fmt(&SP, ID, V4L2_PIX_FMT_RGB24, 320, 240);
	sp_capture(&SP, ID, 0, ref);
	struct v4l2_pix_format fb = sp_set_fmt(&SP, ID, V4L2_PIX_FMT_BGR24, 320, 240);
	cr_assert_eq(fb.sizeimage, fr.sizeimage);
	cr_assert_eq(fb.bytesperline, fr.bytesperline);
	sp_capture(&SP, ID, 0, FRAME);
	for (size_t i = 0; i < fr.sizeimage; i += 3)
		if (FRAME[i] != ref[i + 2] || FRAME[i + 1] != ref[i + 1] || FRAME[i + 2] != ref[i])
			cr_assert_fail("BGR3 byte %zu differs", i);

	struct v4l2_pix_format fu = sp_set_fmt(&SP, ID, V4L2_PIX_FMT_YUV420, 320, 240);
	sp_capture(&SP, ID, 0, ref);
	struct v4l2_pix_format fv = sp_set_fmt(&SP, ID, V4L2_PIX_FMT_YVU420, 320, 240);
	cr_assert_eq(fv.sizeimage, fu.sizeimage);
	cr_assert_eq(fv.bytesperline, fu.bytesperline);
	sp_capture(&SP, ID, 0, FRAME);
	size_t luma = (size_t)fu.bytesperline * fu.height, chroma = luma / 4;
	cr_expect_eq(memcmp(FRAME, ref, luma), 0, "same luma");
	cr_expect_eq(memcmp(FRAME + luma, ref + luma + chroma, chroma), 0, "Cr first");
	cr_expect_eq(memcmp(FRAME + luma + chroma, ref + luma, chroma), 0, "then Cb");
	cr_expect_neq(memcmp(ref + luma, ref + luma + chroma, chroma), 0,
		      "the planes differ, so the swap is seen");
}

/* ---- the frame number ---- */

static const uint8_t FONT[10][7] = {
	{ 0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e }, { 0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e },
	{ 0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f }, { 0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e },
	{ 0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02 }, { 0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e },
	{ 0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e }, { 0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 },
	{ 0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e }, { 0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c },
};

/*
 * Read the six digits back: cell i of scale s starts at x = 3s + 6si,
 * y = 3s; a font pixel is lit when its luma (or green) is bright.
 */
static int read_number(const struct v4l2_pix_format *f, const uint8_t *frame)
{
	uint32_t s = 2 * (f->height / 240);
	int value = 0;
	for (uint32_t d = 0; d < 6; d++) {
		uint8_t glyph[7] = { 0 };
		for (uint32_t r = 0; r < 7; r++) {
			for (uint32_t c = 0; c < 5; c++) {
				uint8_t px[3];
				pixel(f, frame, 3 * s + 6 * s * d + c * s + s / 2,
					 3 * s + r * s + s / 2, px);
				uint8_t lum = is_rgb(f) ? px[1] : px[0];
				if (lum > 128)
					glyph[r] |= (uint8_t)(0x10 >> c);
			}
		}
		int digit = -1;
		for (int k = 0; k < 10; k++)
			if (!memcmp(glyph, FONT[k], 7))
				digit = k;
		if (digit < 0)
			return -1;
		value = value * 10 + digit;
	}
	return value;
}

/* Stream @n frames with two buffers; copy frame k into frames[k]. */
static void stream_frames(uint32_t n, uint8_t **frames)
{
	struct v4l2_pix_format f = current();
	struct sp_bufs b;
	sp_mmap_bufs(&SP, ID, 2, &b);
	cr_assert_eq(sp_qbuf_mmap(&SP, ID, 0), 0);
	cr_assert_eq(sp_qbuf_mmap(&SP, ID, 1), 0);
	cr_assert_eq(sp_streamon(&SP, ID), 0);
	for (uint32_t k = 0; k < n; k++) {
		struct v4l2_buffer d;
		cr_assert_eq(sp_dqbuf(&SP, ID, V4L2_MEMORY_MMAP, &d), 0);
		cr_assert_eq(d.sequence, k);
		memcpy(frames[k], b.view[d.index], f.sizeimage);
		cr_assert_eq(sp_qbuf_mmap(&SP, ID, d.index), 0);
	}
	cr_assert_eq(sp_streamoff(&SP, ID), 0);
	uint32_t zero = 0;
	for (uint32_t i = 0; i < 2; i++)
		cr_assert_eq(vmedia_guest_munmap(&SP.p.g, b.addr[i]), 0);
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &zero), 0);
}

Test(pattern, the_frame_number_is_drawn_in_every_format)
{
	for (unsigned fi = 0; fi < NFOURCCS; fi++) {
		for (unsigned si = 0; si < 3; si += 2) {
			struct v4l2_pix_format f =
				sp_set_fmt(&SP, ID, FOURCCS[fi], SIZES[si][0], SIZES[si][1]);
			uint8_t *frames[13];
			for (int k = 0; k < 13; k++)
				frames[k] = malloc(f.sizeimage);
			stream_frames(13, frames);
			for (int k = 0; k < 13; k++)
				cr_expect_eq(read_number(&f, frames[k]), k, "%.4s %ux%u frame %d",
					     (const char *)&f.pixelformat, f.width, f.height, k);
			for (int k = 0; k < 13; k++)
				free(frames[k]);
		}
	}
}

/* ---- the moving square ---- */

/* Leftmost x of the grey square on its middle row, or -1. */
static int square_x(const struct v4l2_pix_format *f, const uint8_t *frame)
{
	uint32_t y = f->height / 2;
	for (uint32_t x = 0; x < f->width; x++) {
		uint8_t px[3];
		pixel(f, frame, x, y, px);
		bool grey = is_rgb(f) ? px[0] == 128 && px[1] == 128 && px[2] == 128
				      : near(px[0], 126) && px[1] == 128 && px[2] == 128;
		if (grey)
			return (int)x;
	}
	return -1;
}

Test(pattern, the_square_moves_right_every_frame)
{
	for (unsigned fi = 0; fi < NFOURCCS; fi++) {
		struct v4l2_pix_format f = sp_set_fmt(&SP, ID, FOURCCS[fi], 640, 480);
		uint8_t *frames[4];
		for (int k = 0; k < 4; k++)
			frames[k] = malloc(f.sizeimage);
		stream_frames(4, frames);
		int x0 = square_x(&f, frames[0]);
		cr_expect_eq(x0, 0, "%.4s: starts at the left", (const char *)&f.pixelformat);
		for (int k = 1; k < 4; k++)
			cr_expect_eq(square_x(&f, frames[k]), x0 + 8 * k, "%.4s frame %d",
				     (const char *)&f.pixelformat, k);
		for (int k = 0; k < 4; k++)
			free(frames[k]);
	}
}

/* ---- controls change the picture ---- */

static void capture_with(uint32_t cid, int32_t v, uint32_t fourcc, struct v4l2_pix_format *f)
{
	*f = sp_set_fmt(&SP, ID, fourcc, 320, 240);
	cr_assert_eq(sp_s_ctrl(&SP, ID, cid, v), 0);
	sp_capture(&SP, ID, 0, FRAME);
}

Test(pattern, brightness_lifts_black)
{
	struct v4l2_pix_format f;
	capture_with(V4L2_CID_BRIGHTNESS, 200, V4L2_PIX_FMT_NV12, &f);
	uint8_t px[3];
	bar_pixel(&f, 7, px);
	cr_expect(near(px[0], 16 + 72 * 219 / 255), "black luma now %u", px[0]);
	cr_expect_eq(px[1], 128);
	bar_pixel(&f, 0, px);
	cr_expect_eq(px[0], 235, "white clips");
}

Test(pattern, contrast_zero_makes_everything_mid_grey)
{
	struct v4l2_pix_format f;
	capture_with(V4L2_CID_CONTRAST, 0, V4L2_PIX_FMT_YUYV, &f);
	for (int b = 0; b < 8; b++) {
		uint8_t px[3];
		bar_pixel(&f, b, px);
		cr_expect(near(px[0], 126) && px[1] == 128 && px[2] == 128, "bar %d: %u %u %u", b,
			  px[0], px[1], px[2]);
	}
}

Test(pattern, saturation_zero_removes_colour_in_rgb)
{
	struct v4l2_pix_format f;
	capture_with(V4L2_CID_SATURATION, 0, V4L2_PIX_FMT_RGB24, &f);
	for (int b = 0; b < 8; b++) {
		uint8_t px[3];
		bar_pixel(&f, b, px);
		cr_expect(near(px[0], px[1]) && near(px[1], px[2]), "bar %d grey: %u %u %u", b,
			  px[0], px[1], px[2]);
	}
	uint8_t y[3];
	bar_pixel(&f, 1, y);
	cr_expect(near(y[0], 226), "yellow keeps its luma: %u", y[0]);
}

Test(pattern, hue_180_swaps_opposite_colours)
{
	struct v4l2_pix_format f;
	capture_with(V4L2_CID_HUE, 180, V4L2_PIX_FMT_YUV420, &f);
	uint8_t red[3];
	bar_pixel(&f, 5, red);
	cr_expect(near(red[0], 81), "luma unchanged");
	cr_expect(near(red[1], 256 - 90) && near(red[2], 256 - 240), "chroma negated: %u %u",
		  red[1], red[2]);
}

Test(pattern, colorfx_negative_and_bw)
{
	struct v4l2_pix_format f;
	capture_with(V4L2_CID_COLORFX, V4L2_COLORFX_NEGATIVE, V4L2_PIX_FMT_RGB24, &f);
	uint8_t px[3];
	bar_pixel(&f, 0, px);
	cr_expect(px[0] <= 1 && px[1] <= 1 && px[2] <= 1, "white becomes black");
	bar_pixel(&f, 6, px);
	cr_expect(near(px[0], 255) && near(px[1], 255) && px[2] <= 1, "blue becomes yellow");
	capture_with(V4L2_CID_COLORFX, V4L2_COLORFX_BW, V4L2_PIX_FMT_NV12, &f);
	for (int b = 0; b < 8; b++) {
		bar_pixel(&f, b, px);
		cr_expect(px[1] == 128 && px[2] == 128, "bar %d has no chroma", b);
	}
	capture_with(V4L2_CID_COLORFX, V4L2_COLORFX_SEPIA, V4L2_PIX_FMT_NV12, &f);
	bar_pixel(&f, 0, px);
	cr_expect(px[1] < 128 && px[2] > 128, "sepia is warm");
}

Test(pattern, a_control_change_reaches_the_next_frame_while_streaming)
{
	struct v4l2_pix_format f = sp_set_fmt(&SP, ID, V4L2_PIX_FMT_YUYV, 320, 240);
	struct sp_bufs b;
	sp_mmap_bufs(&SP, ID, 1, &b);
	cr_assert_eq(sp_streamon(&SP, ID), 0);
	cr_assert_eq(sp_qbuf_mmap(&SP, ID, 0), 0);
	struct v4l2_buffer d;
	cr_assert_eq(sp_dqbuf(&SP, ID, V4L2_MEMORY_MMAP, &d), 0);
	uint8_t px[3];
	pixel(&f, b.view[0], 300, 230, px);
	cr_expect_eq(px[0], 16);
	cr_assert_eq(sp_s_ctrl(&SP, ID, V4L2_CID_BRIGHTNESS, 255), 0);
	cr_assert_eq(sp_qbuf_mmap(&SP, ID, 0), 0);
	cr_assert_eq(sp_dqbuf(&SP, ID, V4L2_MEMORY_MMAP, &d), 0);
	pixel(&f, b.view[0], 300, 230, px);
	cr_expect(near(px[0], 16 + 127 * 219 / 255), "black now %u", px[0]);
}
