/* SPDX-License-Identifier: MIT */
/*
 * The test picture: eight vertical 100% colour bars (white, yellow, cyan,
 * green, magenta, red, blue, black), a grey square moving left to right
 * across the middle, and the frame number in a 5x7 digit font at the top
 * left, drawn in YUYV, NV12, YU12, YV12, RGB3 or BGR3.
 *
 * Colour: the scene is defined in full-range RGB, converted to BT.601
 * YCbCr, adjusted there by the controls (brightness offsets luma, contrast
 * scales luma around mid-grey and chroma, saturation scales chroma, hue
 * rotates it, then the colour effect), then written as limited-range
 * YCbCr or converted back to full-range RGB.  With every control at its
 * default, RGB3 gets the scene's exact values.
 *
 * Speed: the bars are the same on every row, so each plane's row is built
 * once per format and control setting, and a frame is a few large memcpys
 * (the row, doubled until the plane is full) plus the two small overlays.  All overlay rectangles have even coordinates and
 * sizes, so 4:2:x chroma never straddles an edge.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "simple_internal.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const uint8_t bar_rgb[8][3] = {
	{ 255, 255, 255 }, { 255, 255, 0 }, { 0, 255, 255 }, { 0, 255, 0 },
	{ 255, 0, 255 },   { 255, 0, 0 },   { 0, 0, 255 },   { 0, 0, 0 },
};
static const uint8_t box_rgb[3] = { 128, 128, 128 };
static const uint8_t fg_rgb[3] = { 255, 255, 255 };
static const uint8_t bg_rgb[3] = { 0, 0, 0 };

/* 5x7 digits, one byte per row, bit 4 = leftmost column. */
static const uint8_t font[10][7] = {
	{ 0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e }, /* 0 */
	{ 0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e }, /* 1 */
	{ 0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f }, /* 2 */
	{ 0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e }, /* 3 */
	{ 0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02 }, /* 4 */
	{ 0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e }, /* 5 */
	{ 0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e }, /* 6 */
	{ 0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 }, /* 7 */
	{ 0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e }, /* 8 */
	{ 0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c }, /* 9 */
};
#define MIN_DIGITS 6

static bool is_rgb(uint32_t pf)
{
	return pf == V4L2_PIX_FMT_RGB24 || pf == V4L2_PIX_FMT_BGR24;
}

/* Three planes: Y, then Cb and Cr in either order. */
static bool is_planar420(uint32_t pf)
{
	return pf == V4L2_PIX_FMT_YUV420 || pf == V4L2_PIX_FMT_YVU420;
}

static double clamp255(double v)
{
	return v < 0 ? 0 : v > 255 ? 255 : v;
}

static uint8_t to_u8(double v)
{
	return (uint8_t)lrint(clamp255(v));
}

/* One scene colour as the format stores it: {Y, Cb, Cr} or {R, G, B}. */
static void convert(const uint8_t rgb[3], const struct simple_ctrl_values *v, bool rgb_out,
		    uint8_t out[3])
{
	bool neutral = v->brightness == 128 && v->contrast == 128 && v->saturation == 128 &&
		       v->hue == 0 && v->colorfx == V4L2_COLORFX_NONE;
	if (rgb_out && neutral) {
		memcpy(out, rgb, 3);
		return;
	}
	double r = rgb[0], g = rgb[1], b = rgb[2];
	double y = 0.299 * r + 0.587 * g + 0.114 * b;
	double cb = (b - y) / 1.772, cr = (r - y) / 1.402; /* centred on 0 */

	double k = v->contrast / 128.0;
	y = (y - 128) * k + 128 + (v->brightness - 128);
	double a = v->hue * M_PI / 180, s = k * v->saturation / 128.0;
	double cb2 = (cb * cos(a) - cr * sin(a)) * s;
	double cr2 = (cb * sin(a) + cr * cos(a)) * s;
	cb = cb2;
	cr = cr2;
	y = clamp255(y);
	switch (v->colorfx) {
	case V4L2_COLORFX_BW:
		cb = cr = 0;
		break;
	case V4L2_COLORFX_SEPIA:
		/* A warm brown tint: less blue, more red. */
		cb = -24;
		cr = 20;
		break;
	case V4L2_COLORFX_NEGATIVE:
		y = 255 - y;
		cb = -cb;
		cr = -cr;
		break;
	default:
		break;
	}
	cb = clamp255(cb + 128) - 128;
	cr = clamp255(cr + 128) - 128;
	if (rgb_out) {
		out[0] = to_u8(y + 1.402 * cr);
		out[1] = to_u8(y - 0.344136 * cb - 0.714136 * cr);
		out[2] = to_u8(y + 1.772 * cb);
	} else {
		out[0] = to_u8(16 + y * 219 / 255);
		out[1] = to_u8(128 + cb * 224 / 255);
		out[2] = to_u8(128 + cr * 224 / 255);
	}
}

/* ---- plane layout ---- */

struct planes {
	uint8_t *p[3];
	uint32_t stride[3];
};

static void planes_of(const struct simple_format *f, uint8_t *dst, struct planes *pl)
{
	memset(pl, 0, sizeof(*pl));
	pl->p[0] = dst;
	pl->stride[0] = f->bytesperline;
	uint8_t *chroma = dst + (size_t)f->bytesperline * f->height;
	if (f->pixelformat == V4L2_PIX_FMT_NV12) {
		pl->p[1] = chroma;
		pl->stride[1] = f->bytesperline;
	} else if (is_planar420(f->pixelformat)) {
		/* p[1] is always Cb and p[2] Cr: YV12 stores Cr first. */
		pl->stride[1] = pl->stride[2] = f->bytesperline / 2;
		uint8_t *second = chroma + (size_t)pl->stride[1] * (f->height / 2);
		bool yvu = f->pixelformat == V4L2_PIX_FMT_YVU420;
		pl->p[1] = yvu ? second : chroma;
		pl->p[2] = yvu ? chroma : second;
	}
}

/* Rows in plane @i (chroma planes of 4:2:0 have half). */
static uint32_t plane_rows(const struct simple_format *f, int i)
{
	return i == 0 ? f->height : f->height / 2;
}

/* Repeat the first row of a rectangle (@len bytes at @first) on the
 * next @rows - 1 rows: one short memcpy per row, not a store per pixel. */
static void repeat_row(uint8_t *first, size_t stride, size_t len, uint32_t rows)
{
	/* Stride 0: the one-row image simple_pattern_update() draws into. */
	for (uint32_t r = 1; stride && r < rows; r++)
		memcpy(first + r * stride, first, len);
}

/* Fill [x, x+w) x [y, y+h) with @c ({Y,U,V} or {R,G,B}); all even. */
static void fill_rect(const struct simple_format *f, const struct planes *pl, uint32_t x,
		      uint32_t y, uint32_t w, uint32_t h, const uint8_t c[3])
{
	uint8_t *line;
	if (!w || !h)
		return;
	switch (f->pixelformat) {
	case V4L2_PIX_FMT_YUYV:
		line = pl->p[0] + (size_t)y * pl->stride[0] + 2 * x;
		for (uint32_t i = 0; i < w; i += 2) {
			line[2 * i] = c[0];
			line[2 * i + 1] = c[1];
			line[2 * i + 2] = c[0];
			line[2 * i + 3] = c[2];
		}
		repeat_row(line, pl->stride[0], 2 * (size_t)w, h);
		break;
	case V4L2_PIX_FMT_RGB24:
	case V4L2_PIX_FMT_BGR24: /* @c is already in the format's order */
		line = pl->p[0] + (size_t)y * pl->stride[0] + 3 * x;
		for (uint32_t i = 0; i < w; i++)
			memcpy(line + 3 * i, c, 3);
		repeat_row(line, pl->stride[0], 3 * (size_t)w, h);
		break;
	case V4L2_PIX_FMT_NV12:
		line = pl->p[0] + (size_t)y * pl->stride[0] + x;
		memset(line, c[0], w);
		repeat_row(line, pl->stride[0], w, h);
		line = pl->p[1] + (size_t)(y / 2) * pl->stride[1] + x;
		for (uint32_t i = 0; i < w; i += 2) {
			line[i] = c[1];
			line[i + 1] = c[2];
		}
		repeat_row(line, pl->stride[1], w, h / 2);
		break;
	case V4L2_PIX_FMT_YUV420:
	case V4L2_PIX_FMT_YVU420:
		line = pl->p[0] + (size_t)y * pl->stride[0] + x;
		memset(line, c[0], w);
		repeat_row(line, pl->stride[0], w, h);
		for (int k = 1; k < 3; k++) {
			line = pl->p[k] + (size_t)(y / 2) * pl->stride[k] + x / 2;
			memset(line, c[k], w / 2);
			repeat_row(line, pl->stride[k], w / 2, h / 2);
		}
		break;
	default:
		break;
	}
}

/* ---- the cache ---- */

void simple_pattern_init(struct simple_pattern *p)
{
	memset(p, 0, sizeof(*p));
}

void simple_pattern_destroy(struct simple_pattern *p)
{
	for (int i = 0; i < 3; i++)
		free(p->row[i]);
	memset(p, 0, sizeof(*p));
}

int simple_pattern_update(struct simple_pattern *p, const struct simple_format *f,
			  const struct simple_ctrls *c)
{
	if (p->valid && p->ctrl_generation == c->generation && !memcmp(&p->fmt, f, sizeof(*f)))
		return 0;
	p->valid = false;
	/* One row per plane: the whole image is the row repeated. */
	uint32_t len[3] = { f->bytesperline, 0, 0 };
	if (f->pixelformat == V4L2_PIX_FMT_NV12)
		len[1] = f->bytesperline;
	else if (is_planar420(f->pixelformat))
		len[1] = len[2] = f->bytesperline / 2;
	for (int i = 0; i < 3; i++) {
		if (len[i] > p->rowlen[i]) {
			uint8_t *r = realloc(p->row[i], len[i]);
			if (!r)
				return -ENOMEM;
			p->row[i] = r;
		}
		p->rowlen[i] = len[i];
	}

	struct simple_ctrl_values v;
	simple_ctrls_values(c, &v);
	bool rgb = is_rgb(f->pixelformat);
	uint8_t *colours[11] = { p->box, p->fg, p->bg };
	const uint8_t *scene[11] = { box_rgb, fg_rgb, bg_rgb };
	for (int b = 0; b < 8; b++) {
		colours[3 + b] = p->bars[b];
		scene[3 + b] = bar_rgb[b];
	}
	for (int i = 0; i < 11; i++) {
		convert(scene[i], &v, rgb, colours[i]);
		/* Colours are kept as written: BGR3 stores blue first. */
		if (f->pixelformat == V4L2_PIX_FMT_BGR24) {
			uint8_t t = colours[i][0];
			colours[i][0] = colours[i][2];
			colours[i][2] = t;
		}
	}

	/* Draw one image row of bars through fill_rect, into the row buffers
	 * posing as a one-row (two for chroma) image. */
	struct simple_format one = *f;
	one.height = 2;
	struct planes pl = { { p->row[0], p->row[1], p->row[2] }, { 0, 0, 0 } };
	uint32_t bw = f->width / 8;
	for (int b = 0; b < 8; b++) {
		uint32_t x = b * bw, w = b == 7 ? f->width - x : bw;
		fill_rect(&one, &pl, x, 0, w, 2, p->bars[b]);
	}
	p->fmt = *f;
	p->ctrl_generation = c->generation;
	p->valid = true;
	return 0;
}

/* ---- overlays ---- */

void simple_pattern_box_geometry(const struct simple_format *f, uint32_t *y, uint32_t *size)
{
	uint32_t s = (f->height / 6) & ~1u;
	*size = s;
	*y = ((f->height - s) / 2) & ~1u;
}

uint32_t simple_pattern_box_x(const struct simple_format *f, uint32_t n)
{
	uint32_t y, size;
	simple_pattern_box_geometry(f, &y, &size);
	uint32_t range = f->width - size; /* even: both are */
	uint32_t step = 2 * (f->width / 160 ? f->width / 160 : 1);
	return range ? (uint32_t)(((uint64_t)n * step) % range) & ~1u : 0;
}

/* Digit pixel size: 2 at 240 lines, 4 at 480, 6 at 720. */
static uint32_t text_scale(const struct simple_format *f)
{
	uint32_t s = 2 * (f->height / 240);
	return s ? s : 2;
}

static void draw_number(const struct simple_pattern *p, const struct planes *pl, uint32_t n)
{
	const struct simple_format *f = &p->fmt;
	char digits[16];
	int nd = 0;
	do {
		digits[nd++] = (char)(n % 10);
		n /= 10;
	} while (n);
	while (nd < MIN_DIGITS)
		digits[nd++] = 0;
	uint32_t s = text_scale(f), x0 = 2 * s, y0 = 2 * s;
	uint32_t bw = (uint32_t)nd * 6 * s + s, bh = 9 * s;
	if (x0 + bw > f->width || y0 + bh > f->height)
		return;
	fill_rect(f, pl, x0, y0, bw, bh, p->bg);
	for (int i = 0; i < nd; i++) {
		const uint8_t *g = font[(int)digits[nd - 1 - i]];
		uint32_t dx = x0 + s + (uint32_t)i * 6 * s, dy = y0 + s;
		for (uint32_t r = 0; r < 7; r++)
			for (uint32_t col = 0; col < 5; col++)
				if (g[r] & (0x10 >> col))
					fill_rect(f, pl, dx + col * s, dy + r * s, s, s, p->fg);
	}
}

void simple_pattern_draw(const struct simple_pattern *p, uint32_t n, uint8_t *dst)
{
	const struct simple_format *f = &p->fmt;
	struct planes pl;
	planes_of(f, dst, &pl);
	/* Strides are tight (stride == row length), so a plane is its row
	 * repeated: copy the row once, then double what is there, so a frame
	 * costs a handful of large copies instead of one small copy per row. */
	for (int i = 0; i < 3; i++) {
		if (!pl.p[i])
			continue;
		size_t total = (size_t)plane_rows(f, i) * pl.stride[i], done = p->rowlen[i];
		memcpy(pl.p[i], p->row[i], done);
		while (done < total) {
			size_t n = done < total - done ? done : total - done;
			memcpy(pl.p[i] + done, pl.p[i], n);
			done += n;
		}
	}
	uint32_t by, bs;
	simple_pattern_box_geometry(f, &by, &bs);
	fill_rect(f, &pl, simple_pattern_box_x(f, n), by, bs, bs, p->box);
	draw_number(p, &pl, n);
}
