/* SPDX-License-Identifier: MIT */
/*
 * Formats, frame sizes and frame intervals of the simple camera.
 *
 * Policy: as a V4L2 capture driver, TRY/S_FMT never fail for an unknown
 * pixel format or size: they pick the nearest thing offered (the spec's
 * rule); only a wrong buffer type is EINVAL.  Strides are the tightest the
 * format allows, so sizeimage is exactly what the pattern writes.  Every
 * reply is zeroed first, since no V4L2 core in front of us clears reserved
 * fields (the guest's does in a VM; a userspace route has none).
 */
#include <errno.h>
#include <string.h>

#include "simple_internal.h"

struct fmt_info {
	uint32_t fourcc;
	/* What the kernel's v4l_fill_fmtdesc() says, as v4l2-compliance 1.22.1
	 * knows it ("Y/CbCr 4:2:0": later kernels say "Y/UV 4:2:0"). */
	const char *desc;
	uint8_t bpp;   /* bytes per pixel of the first plane */
	bool yuv420;   /* two more planes' worth: half the luma size */
	bool rgb;
};

static const struct fmt_info fmts[] = {
	{ V4L2_PIX_FMT_YUYV, "YUYV 4:2:2", 2, false, false },
	{ V4L2_PIX_FMT_NV12, "Y/CbCr 4:2:0", 1, true, false },
	{ V4L2_PIX_FMT_YUV420, "Planar YUV 4:2:0", 1, true, false },
	{ V4L2_PIX_FMT_RGB24, "24-bit RGB 8-8-8", 3, false, true },
	/* The two that libv4lconvert would otherwise emulate (and describe by
	 * their fourcc): offered natively, an application through libv4l2
	 * sees the device's own formats only. */
	{ V4L2_PIX_FMT_BGR24, "24-bit BGR 8-8-8", 3, false, true },
	{ V4L2_PIX_FMT_YVU420, "Planar YVU 4:2:0", 1, true, false },
};
#define NFMTS (sizeof(fmts) / sizeof(fmts[0]))

static const struct { uint32_t w, h; } sizes[] = {
	{ 320, 240 }, { 640, 480 }, { 1280, 720 },
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Shortest interval first, as cameras list them. */
static const struct v4l2_fract intervals[] = { { 1, 60 }, { 1, 30 } };
#define NINTERVALS (sizeof(intervals) / sizeof(intervals[0]))

static const struct fmt_info *find_fmt(uint32_t fourcc)
{
	for (unsigned i = 0; i < NFMTS; i++)
		if (fmts[i].fourcc == fourcc)
			return &fmts[i];
	return NULL;
}

static bool size_supported(uint32_t w, uint32_t h)
{
	for (unsigned i = 0; i < NSIZES; i++)
		if (sizes[i].w == w && sizes[i].h == h)
			return true;
	return false;
}

static void layout(const struct fmt_info *fi, uint32_t w, uint32_t h, struct simple_format *f)
{
	f->pixelformat = fi->fourcc;
	f->width = w;
	f->height = h;
	f->bytesperline = w * fi->bpp;
	f->sizeimage = f->bytesperline * h;
	if (fi->yuv420)
		f->sizeimage += f->sizeimage / 2;
}

void simple_format_default(struct simple_format *f)
{
	layout(&fmts[0], 640, 480, f);
}

void simple_parm_default(struct simple_parm *p)
{
	p->interval = (struct v4l2_fract){ 1, 30 };
}

uint64_t simple_interval_ns(const struct simple_parm *p)
{
	return (uint64_t)p->interval.numerator * 1000000000ull / p->interval.denominator;
}

int simple_enum_fmt(struct v4l2_fmtdesc *d)
{
	uint32_t index = d->index, type = d->type;
	if (type != V4L2_BUF_TYPE_VIDEO_CAPTURE || index >= NFMTS)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->index = index;
	d->type = type;
	d->pixelformat = fmts[index].fourcc;
	strncpy((char *)d->description, fmts[index].desc, sizeof(d->description) - 1);
	return 0;
}

static void fill_pix(const struct simple_format *cur, struct v4l2_format *f)
{
	const struct fmt_info *fi = find_fmt(cur->pixelformat);
	memset(&f->fmt, 0, sizeof(f->fmt));
	struct v4l2_pix_format *p = &f->fmt.pix;
	p->width = cur->width;
	p->height = cur->height;
	p->pixelformat = cur->pixelformat;
	p->field = V4L2_FIELD_NONE;
	p->bytesperline = cur->bytesperline;
	p->sizeimage = cur->sizeimage;
	/* sRGB primaries and transfer; YUV as BT.601 limited range (what
	 * pattern.c writes), RGB full range. */
	p->colorspace = V4L2_COLORSPACE_SRGB;
	p->xfer_func = V4L2_XFER_FUNC_SRGB;
	p->ycbcr_enc = V4L2_YCBCR_ENC_601;
	p->quantization = fi && fi->rgb ? V4L2_QUANTIZATION_FULL_RANGE
					: V4L2_QUANTIZATION_LIM_RANGE;
	/* The core sets it so applications know the fields after it are valid. */
	p->priv = V4L2_PIX_FMT_PRIV_MAGIC;
}

int simple_g_fmt(const struct simple_format *cur, struct v4l2_format *f)
{
	if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		return -EINVAL;
	fill_pix(cur, f);
	return 0;
}

int simple_try_fmt(struct v4l2_format *f, struct simple_format *out)
{
	if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		return -EINVAL;
	const struct v4l2_pix_format *req = &f->fmt.pix;
	const struct fmt_info *fi = find_fmt(req->pixelformat);
	if (!fi)
		fi = &fmts[0];
	/* Nearest size by the sum of the width and height differences, as the
	 * kernel's v4l2_find_nearest_size(). */
	unsigned best = 0;
	uint64_t best_d = UINT64_MAX;
	for (unsigned i = 0; i < NSIZES; i++) {
		int64_t dw = (int64_t)sizes[i].w - req->width, dh = (int64_t)sizes[i].h - req->height;
		uint64_t d = (uint64_t)(dw < 0 ? -dw : dw) + (uint64_t)(dh < 0 ? -dh : dh);
		if (d < best_d) {
			best_d = d;
			best = i;
		}
	}
	struct simple_format nf;
	layout(fi, sizes[best].w, sizes[best].h, &nf);
	fill_pix(&nf, f);
	if (out)
		*out = nf;
	return 0;
}

int simple_enum_framesizes(struct v4l2_frmsizeenum *fs)
{
	uint32_t index = fs->index, pf = fs->pixel_format;
	if (!find_fmt(pf) || index >= NSIZES)
		return -EINVAL;
	memset(fs, 0, sizeof(*fs));
	fs->index = index;
	fs->pixel_format = pf;
	fs->type = V4L2_FRMSIZE_TYPE_DISCRETE;
	fs->discrete.width = sizes[index].w;
	fs->discrete.height = sizes[index].h;
	return 0;
}

int simple_enum_frameintervals(struct v4l2_frmivalenum *fi)
{
	uint32_t index = fi->index, pf = fi->pixel_format, w = fi->width, h = fi->height;
	if (!find_fmt(pf) || !size_supported(w, h) || index >= NINTERVALS)
		return -EINVAL;
	memset(fi, 0, sizeof(*fi));
	fi->index = index;
	fi->pixel_format = pf;
	fi->width = w;
	fi->height = h;
	fi->type = V4L2_FRMIVAL_TYPE_DISCRETE;
	fi->discrete = intervals[index];
	return 0;
}

int simple_g_parm(const struct simple_parm *cur, struct v4l2_streamparm *p)
{
	if (p->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		return -EINVAL;
	memset(&p->parm, 0, sizeof(p->parm));
	/* readbuffers stays 0: read() is the guest kernel's (vb2's) emulation,
	 * not the device's, and the core fills the count in. */
	p->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
	p->parm.capture.timeperframe = cur->interval;
	return 0;
}

/* The nearest offered interval; a zero fraction means "the default" (the
 * V4L2 rule for S_PARM). */
int simple_s_parm(struct simple_parm *cur, struct v4l2_streamparm *p)
{
	if (p->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		return -EINVAL;
	struct v4l2_fract want = p->parm.capture.timeperframe;
	struct simple_parm np;
	simple_parm_default(&np);
	if (want.numerator && want.denominator) {
		double w = (double)want.numerator / want.denominator, best_d = -1;
		for (unsigned i = 0; i < NINTERVALS; i++) {
			double d = (double)intervals[i].numerator / intervals[i].denominator - w;
			if (d < 0)
				d = -d;
			if (best_d < 0 || d < best_d) {
				best_d = d;
				np.interval = intervals[i];
			}
		}
	}
	*cur = np;
	return simple_g_parm(cur, p);
}
