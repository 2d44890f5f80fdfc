/* SPDX-License-Identifier: MIT */
/*
 * The vqmedia tool's frame conversion and file writers (tools/convert.c,
 * y4m.c, png.c), without a device: YUV formats repack into their planar
 * layout sample for sample (bytesperline padding skipped), RGB3 becomes
 * limited-range BT.601 4:4:4, PNGs decode back to what was written, and
 * short frames or impossible formats are refused.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "pngfile.h"
#include "y4m.h"

static struct v4l2_pix_format pix(uint32_t fourcc, uint32_t w, uint32_t h, uint32_t bpl)
{
	return (struct v4l2_pix_format){
		.width = w,
		.height = h,
		.pixelformat = fourcc,
		.field = V4L2_FIELD_NONE,
		.bytesperline = bpl,
		.colorspace = V4L2_COLORSPACE_SRGB,
	};
}

static uint8_t sample(unsigned plane, unsigned x, unsigned y)
{
	return (uint8_t)(16 + (plane * 71 + x * 13 + y * 29) % 220);
}

static const struct vqm_image *convert(const struct v4l2_pix_format *p, enum vqm_layout dst,
				       const uint8_t *frame, size_t len, struct vqm_conv **c)
{
	cr_assert_eq(vqm_conv_new(c, p, dst), 0);
	const struct vqm_image *img = NULL;
	cr_assert_eq(vqm_conv_run(*c, frame, len, &img), 0);
	cr_assert_not_null(img);
	cr_assert_eq(img->width, p->width);
	cr_assert_eq(img->height, p->height);
	return img;
}

static void check_plane(const struct vqm_image *img, unsigned p)
{
	uint32_t row, rows;
	vqm_image_plane_dims(img, p, &row, &rows);
	for (unsigned y = 0; y < rows; y++)
		for (unsigned x = 0; x < row; x++)
			cr_assert_eq(img->plane[p][y * (unsigned)img->stride[p] + x], sample(p, x, y),
				     "plane %u (%u,%u)", p, x, y);
}

Test(convert, yuyv_to_422p_exact_with_padding)
{
	const unsigned w = 64, h = 6, bpl = 2 * w + 32;
	struct v4l2_pix_format p = pix(V4L2_PIX_FMT_YUYV, w, h, bpl);
	size_t len = vqm_frame_bytes(&p);
	cr_assert_eq(len, (size_t)bpl * h);
	uint8_t *f = malloc(len);
	memset(f, 0xee, len);
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w / 2; x++) {
			uint8_t *q = f + y * bpl + 4 * x;
			q[0] = sample(0, 2 * x, y);
			q[1] = sample(1, x, y);
			q[2] = sample(0, 2 * x + 1, y);
			q[3] = sample(2, x, y);
		}
	struct vqm_conv *c;
	const struct vqm_image *img = convert(&p, VQM_YUV422P, f, len, &c);
	cr_assert_eq(img->layout, VQM_YUV422P);
	cr_assert_not(vqm_conv_full_range(c));
	for (unsigned pl = 0; pl < 3; pl++)
		check_plane(img, pl);
	vqm_conv_free(c);
	free(f);
}

Test(convert, nv12_to_420p_exact_with_padding)
{
	const unsigned w = 64, h = 8, bpl = w + 64;
	struct v4l2_pix_format p = pix(V4L2_PIX_FMT_NV12, w, h, bpl);
	size_t len = vqm_frame_bytes(&p);
	cr_assert_eq(len, (size_t)bpl * h * 3 / 2);
	uint8_t *f = malloc(len);
	memset(f, 0xee, len);
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++)
			f[y * bpl + x] = sample(0, x, y);
	for (unsigned y = 0; y < h / 2; y++)
		for (unsigned x = 0; x < w / 2; x++) {
			f[bpl * h + y * bpl + 2 * x] = sample(1, x, y);
			f[bpl * h + y * bpl + 2 * x + 1] = sample(2, x, y);
		}
	struct vqm_conv *c;
	const struct vqm_image *img = convert(&p, VQM_YUV420P, f, len, &c);
	for (unsigned pl = 0; pl < 3; pl++)
		check_plane(img, pl);
	vqm_conv_free(c);
	free(f);
}

Test(convert, yu12_to_420p_exact_with_padding)
{
	const unsigned w = 32, h = 6, bpl = w + 32;
	struct v4l2_pix_format p = pix(V4L2_PIX_FMT_YUV420, w, h, bpl);
	size_t len = vqm_frame_bytes(&p);
	cr_assert_eq(len, (size_t)bpl * h + 2 * (bpl / 2) * (h / 2));
	uint8_t *f = malloc(len);
	memset(f, 0xee, len);
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++)
			f[y * bpl + x] = sample(0, x, y);
	uint8_t *u = f + bpl * h, *v = u + (bpl / 2) * (h / 2);
	for (unsigned y = 0; y < h / 2; y++)
		for (unsigned x = 0; x < w / 2; x++) {
			u[y * (bpl / 2) + x] = sample(1, x, y);
			v[y * (bpl / 2) + x] = sample(2, x, y);
		}
	struct vqm_conv *c;
	const struct vqm_image *img = convert(&p, VQM_YUV420P, f, len, &c);
	for (unsigned pl = 0; pl < 3; pl++)
		check_plane(img, pl);
	vqm_conv_free(c);
	free(f);
}

/* YV12 is YU12 with the chroma planes swapped: Cr first. */
Test(convert, yv12_to_420p_exact_with_padding)
{
	const unsigned w = 32, h = 6, bpl = w + 32;
	struct v4l2_pix_format p = pix(V4L2_PIX_FMT_YVU420, w, h, bpl);
	size_t len = vqm_frame_bytes(&p);
	cr_assert_eq(len, (size_t)bpl * h + 2 * (bpl / 2) * (h / 2));
	uint8_t *f = malloc(len);
	memset(f, 0xee, len);
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++)
			f[y * bpl + x] = sample(0, x, y);
	uint8_t *v = f + bpl * h, *u = v + (bpl / 2) * (h / 2);
	for (unsigned y = 0; y < h / 2; y++)
		for (unsigned x = 0; x < w / 2; x++) {
			u[y * (bpl / 2) + x] = sample(1, x, y);
			v[y * (bpl / 2) + x] = sample(2, x, y);
		}
	struct vqm_conv *c;
	const struct vqm_image *img = convert(&p, VQM_YUV420P, f, len, &c);
	for (unsigned pl = 0; pl < 3; pl++)
		check_plane(img, pl);
	vqm_conv_free(c);
	free(f);
}

static void near(int got, int want, int tol, const char *what)
{
	cr_assert(abs(got - want) <= tol, "%s: %d, expected %d +- %d", what, got, want, tol);
}

/* White, black, red, green, blue in BT.601 limited-range Y'CbCr. */
static const uint8_t rgb_bars[5][3] = {
	{ 255, 255, 255 }, { 0, 0, 0 }, { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 },
};
static const uint8_t yuv_bars[5][3] = {
	{ 235, 128, 128 }, { 16, 128, 128 }, { 81, 90, 240 }, { 145, 54, 34 }, { 41, 240, 110 },
};

Test(convert, rgb3_to_444p_limited_bt601)
{
	const unsigned w = 10, h = 2, bpl = 3 * w + 2;
	struct v4l2_pix_format p = pix(V4L2_PIX_FMT_RGB24, w, h, bpl);
	size_t len = vqm_frame_bytes(&p);
	uint8_t *f = calloc(1, len);
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++)
			memcpy(f + y * bpl + 3 * x, rgb_bars[x / 2], 3);
	struct vqm_conv *c;
	const struct vqm_image *img = convert(&p, VQM_YUV444P, f, len, &c);
	cr_assert_not(img->full_range);
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++)
			for (unsigned pl = 0; pl < 3; pl++)
				near(img->plane[pl][y * (unsigned)img->stride[pl] + x],
				     yuv_bars[x / 2][pl], 2, "RGB -> Y'CbCr");
	vqm_conv_free(c);
	free(f);
}

Test(convert, bgr3_to_444p_limited_bt601)
{
	const unsigned w = 10, h = 2, bpl = 3 * w + 2;
	struct v4l2_pix_format p = pix(V4L2_PIX_FMT_BGR24, w, h, bpl);
	size_t len = vqm_frame_bytes(&p);
	cr_assert_eq(len, (size_t)bpl * h);
	uint8_t *f = calloc(1, len);
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++)
			for (unsigned k = 0; k < 3; k++)
				f[y * bpl + 3 * x + k] = rgb_bars[x / 2][2 - k]; /* B, G, R */
	struct vqm_conv *c;
	const struct vqm_image *img = convert(&p, VQM_YUV444P, f, len, &c);
	cr_assert_not(img->full_range);
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++)
			for (unsigned pl = 0; pl < 3; pl++)
				near(img->plane[pl][y * (unsigned)img->stride[pl] + x],
				     yuv_bars[x / 2][pl], 2, "BGR -> Y'CbCr");
	vqm_conv_free(c);
	free(f);
}

Test(convert, yuyv_to_rgb24)
{
	const unsigned w = 80, h = 2, bpl = 2 * w;
	struct v4l2_pix_format p = pix(V4L2_PIX_FMT_YUYV, w, h, bpl);
	uint8_t f[2 * 80 * 2];
	/* Bars 16 pixels wide; the middle ones are out of reach of the
	 * chroma interpolation filter's neighbours. */
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w / 2; x++) {
			const uint8_t *c = yuv_bars[x / 8];
			uint8_t *q = f + y * bpl + 4 * x;
			q[0] = q[2] = c[0];
			q[1] = c[1];
			q[3] = c[2];
		}
	struct vqm_conv *c;
	const struct vqm_image *img = convert(&p, VQM_RGB24, f, sizeof(f), &c);
	cr_assert_eq(img->layout, VQM_RGB24);
	for (unsigned y = 0; y < h; y++)
		for (unsigned bar = 0; bar < 5; bar++)
			for (unsigned x = 16 * bar + 6; x < 16 * bar + 10; x++)
				for (unsigned k = 0; k < 3; k++)
					near(img->plane[0][y * (unsigned)img->stride[0] + 3 * x + k],
					     rgb_bars[bar][k], 4, "Y'CbCr -> RGB");
	vqm_conv_free(c);
}

Test(convert, refuses_what_it_cannot_do)
{
	struct vqm_conv *c = NULL;
	struct v4l2_pix_format p = pix(V4L2_PIX_FMT_MJPEG, 64, 48, 64);
	cr_assert_eq(vqm_conv_new(&c, &p, VQM_RGB24), -EINVAL);
	p = pix(V4L2_PIX_FMT_YUYV, 64, 48, 100); /* bytesperline < 2 * width */
	cr_assert_eq(vqm_frame_bytes(&p), 0);
	cr_assert_eq(vqm_conv_new(&c, &p, VQM_YUV422P), -EINVAL);
	p = pix(V4L2_PIX_FMT_YUYV, 63, 48, 128); /* odd width: no whole pixel pairs */
	cr_assert_eq(vqm_conv_new(&c, &p, VQM_YUV422P), -EINVAL);
	p = pix(V4L2_PIX_FMT_NV12, 64, 47, 64);
	cr_assert_eq(vqm_conv_new(&c, &p, VQM_YUV420P), -EINVAL);

	p = pix(V4L2_PIX_FMT_NV12, 64, 48, 64);
	cr_assert_eq(vqm_conv_new(&c, &p, VQM_YUV420P), 0);
	static uint8_t frame[64 * 48 * 3 / 2];
	const struct vqm_image *img;
	cr_assert_eq(vqm_conv_run(c, frame, sizeof(frame) - 1, &img), -EMSGSIZE);
	cr_assert_eq(vqm_conv_run(c, frame, sizeof(frame), &img), 0);
	vqm_conv_free(c);
}

Test(convert, full_range_is_kept_and_said)
{
	struct v4l2_pix_format p = pix(V4L2_PIX_FMT_YUYV, 64, 48, 128);
	p.quantization = V4L2_QUANTIZATION_FULL_RANGE;
	struct vqm_conv *c;
	cr_assert_eq(vqm_conv_new(&c, &p, VQM_YUV422P), 0);
	cr_assert(vqm_conv_full_range(c));
	vqm_conv_free(c);
	p.colorspace = V4L2_COLORSPACE_JPEG; /* full range by default */
	p.quantization = V4L2_QUANTIZATION_DEFAULT;
	cr_assert_eq(vqm_conv_new(&c, &p, VQM_YUV420P), 0);
	cr_assert(vqm_conv_full_range(c));
	vqm_conv_free(c);
}

Test(convert, formats_by_name)
{
	cr_assert_eq(vqm_format_by_name("YUYV")->fourcc, V4L2_PIX_FMT_YUYV);
	cr_assert_eq(vqm_format_by_name("nv12")->y4m, VQM_YUV420P);
	cr_assert_eq(vqm_format_by_name("yu12")->fourcc, V4L2_PIX_FMT_YUV420);
	cr_assert_eq(vqm_format_by_name("rgb3")->y4m, VQM_YUV444P);
	cr_assert_eq(vqm_format_by_name("BGR3")->fourcc, V4L2_PIX_FMT_BGR24);
	cr_assert_eq(vqm_format_by_name("bgr3")->y4m, VQM_YUV444P);
	cr_assert_eq(vqm_format_by_name("yv12")->fourcc, V4L2_PIX_FMT_YVU420);
	cr_assert_eq(vqm_format_by_name("yv12")->y4m, VQM_YUV420P);
	cr_assert_str_eq(vqm_format_by_fourcc(V4L2_PIX_FMT_YVU420)->desc, "Planar YVU 4:2:0");
	cr_assert_null(vqm_format_by_name("mjpg"));
}

Test(y4m, header_and_packed_frames)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_eq(vqm_y4m_header(f, 4, 2, 30, 1, VQM_YUV422P, false), 0);
	cr_assert_eq(vqm_y4m_header(f, 4, 2, 60, 1, VQM_YUV420P, true), 0);
	cr_assert_eq(vqm_y4m_header(f, 4, 2, 30, 1, VQM_YUV444P, false), 0);
	cr_assert_eq(vqm_y4m_header(f, 4, 2, 30, 1, VQM_RGB24, false), -EINVAL);
	fflush(f);
	cr_assert_str_eq(buf, "YUV4MPEG2 W4 H2 F30:1 Ip A1:1 C422\n"
			      "YUV4MPEG2 W4 H2 F60:1 Ip A1:1 C420jpeg XCOLORRANGE=FULL\n"
			      "YUV4MPEG2 W4 H2 F30:1 Ip A1:1 C444\n");
	size_t start = len;

	/* A 4x2 4:2:2 picture whose planes have padded strides. */
	uint8_t y[2][8] = { { 1, 2, 3, 4 }, { 5, 6, 7, 8 } };
	uint8_t u[2][8] = { { 9, 10 }, { 11, 12 } }, v[2][8] = { { 13, 14 }, { 15, 16 } };
	struct vqm_image img = {
		.layout = VQM_YUV422P, .width = 4, .height = 2, .nplanes = 3,
		.plane = { y[0], u[0], v[0] }, .stride = { 8, 8, 8 },
	};
	cr_assert_eq(vqm_y4m_frame(f, &img), 0);
	fclose(f);
	static const uint8_t want[] = "FRAME\n\x01\x02\x03\x04\x05\x06\x07\x08"
				      "\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10";
	cr_assert_eq(len - start, sizeof(want) - 1);
	cr_assert_eq(memcmp(buf + start, want, sizeof(want) - 1), 0);
	free(buf);
}

Test(png, writes_what_libpng_reads_back)
{
	const unsigned w = 37, h = 5;
	uint8_t px[5][37 * 3 + 9];
	for (unsigned yy = 0; yy < h; yy++)
		for (unsigned i = 0; i < 3 * w; i++)
			px[yy][i] = (uint8_t)(yy * 50 + i);
	struct vqm_image img = {
		.layout = VQM_RGB24, .width = w, .height = h, .nplanes = 1,
		.plane = { px[0] }, .stride = { (int)sizeof(px[0]) },
	};
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	cr_assert_eq(vqm_png_write(f, &img), 0);
	rewind(f);

	png_image pi;
	memset(&pi, 0, sizeof(pi));
	pi.version = PNG_IMAGE_VERSION;
	cr_assert(png_image_begin_read_from_stdio(&pi, f));
	cr_assert_eq(pi.width, w);
	cr_assert_eq(pi.height, h);
	pi.format = PNG_FORMAT_RGB;
	uint8_t *out = malloc(PNG_IMAGE_SIZE(pi));
	cr_assert(png_image_finish_read(&pi, NULL, out, 0, NULL));
	for (unsigned yy = 0; yy < h; yy++)
		cr_assert_eq(memcmp(out + yy * 3 * w, px[yy], 3 * w), 0, "row %u", yy);
	free(out);
	fclose(f);

	struct vqm_image yuv = img;
	yuv.layout = VQM_YUV444P;
	f = tmpfile();
	cr_assert_eq(vqm_png_write(f, &yuv), -EINVAL);
	fclose(f);
}
