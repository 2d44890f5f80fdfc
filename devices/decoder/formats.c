/* SPDX-License-Identifier: MIT */
/*
 * The decoder's formats, frame sizes and selection rectangles.
 *
 * OUTPUT_MPLANE carries a coded format (codecs.c) in one plane.
 * CAPTURE_MPLANE gives NV12 or YU12, each in a single plane (Y, then the
 * chroma), as hardware decoders on V4L2 usually do.  Layout:
 *  - width and height are the visible size rounded up to 16 (the codecs'
 *    macroblock), the "coded" frame buffer size a hardware decoder would
 *    report; the visible rectangle is given by G_SELECTION;
 *  - bytesperline is the width rounded up to 64 bytes: the pitch GPUs and
 *    display controllers accept for import, and it keeps YU12's chroma
 *    rows (bytesperline / 2) 32-byte aligned for SIMD copies;
 *  - sizeimage = bytesperline * height * 3 / 2 for both.
 * Every reply is zeroed first, since no V4L2 core in front of us clears
 * reserved fields.
 */
#include <errno.h>
#include <string.h>

#include <libavutil/pixfmt.h>

#include "decoder_internal.h"

#define ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))

static const struct {
	uint32_t fourcc;
	const char *desc; /* the kernel's v4l_fill_fmtdesc() names */
} cap_fmts[] = {
	{ V4L2_PIX_FMT_NV12, "Y/CbCr 4:2:0" },
	{ V4L2_PIX_FMT_YUV420, "Planar YUV 4:2:0" },
};
#define NCAP (sizeof(cap_fmts) / sizeof(cap_fmts[0]))

bool dec_cap_pixfmt_ok(uint32_t pixelformat)
{
	for (unsigned i = 0; i < NCAP; i++)
		if (cap_fmts[i].fourcc == pixelformat)
			return true;
	return false;
}

static uint32_t clamp_dim(uint32_t v)
{
	return v < DEC_MIN_DIM ? DEC_MIN_DIM : v > DEC_MAX_DIM ? DEC_MAX_DIM : v;
}

void dec_cap_layout(uint32_t pixelformat, uint32_t vis_w, uint32_t vis_h, struct dec_cap_fmt *f)
{
	vis_w = clamp_dim(vis_w);
	vis_h = clamp_dim(vis_h);
	f->pixelformat = dec_cap_pixfmt_ok(pixelformat) ? pixelformat : V4L2_PIX_FMT_NV12;
	f->vis_w = vis_w;
	f->vis_h = vis_h;
	f->width = ALIGN_UP(vis_w, DEC_DIM_ALIGN);
	f->height = ALIGN_UP(vis_h, DEC_DIM_ALIGN);
	f->bytesperline = ALIGN_UP(f->width, DEC_BPL_ALIGN);
	f->sizeimage = f->bytesperline * f->height / 2 * 3;
}

/*
 * H.273's code points, as libavcodec reports them, to V4L2's names (the
 * kernel's videodev2.h and colorspaces-details.rst).  V4L2 pairs BT.601
 * and 709 with the 709 transfer function, and folds BT.470 M/BG matrices
 * into its one BT.601 encoding.
 */
static uint32_t v4l2_colorspace(int primaries)
{
	switch (primaries) {
	case AVCOL_PRI_BT709: return V4L2_COLORSPACE_REC709;
	case AVCOL_PRI_SMPTE170M: return V4L2_COLORSPACE_SMPTE170M;
	case AVCOL_PRI_BT470BG: return V4L2_COLORSPACE_470_SYSTEM_BG;
	case AVCOL_PRI_BT470M: return V4L2_COLORSPACE_470_SYSTEM_M;
	case AVCOL_PRI_SMPTE240M: return V4L2_COLORSPACE_SMPTE240M;
	case AVCOL_PRI_BT2020: return V4L2_COLORSPACE_BT2020;
	case AVCOL_PRI_SMPTE431: return V4L2_COLORSPACE_DCI_P3;
	default: return 0;
	}
}

static uint32_t v4l2_xfer_func(int trc)
{
	switch (trc) {
	case AVCOL_TRC_BT709:
	case AVCOL_TRC_SMPTE170M:
	case AVCOL_TRC_BT2020_10:
	case AVCOL_TRC_BT2020_12: return V4L2_XFER_FUNC_709;
	case AVCOL_TRC_SMPTE240M: return V4L2_XFER_FUNC_SMPTE240M;
	case AVCOL_TRC_IEC61966_2_1: return V4L2_XFER_FUNC_SRGB;
	case AVCOL_TRC_LINEAR: return V4L2_XFER_FUNC_NONE;
	case AVCOL_TRC_SMPTE2084: return V4L2_XFER_FUNC_SMPTE2084;
	default: return 0;
	}
}

static uint32_t v4l2_ycbcr_enc(int matrix)
{
	switch (matrix) {
	case AVCOL_SPC_BT709: return V4L2_YCBCR_ENC_709;
	case AVCOL_SPC_BT470BG:
	case AVCOL_SPC_SMPTE170M: return V4L2_YCBCR_ENC_601;
	case AVCOL_SPC_SMPTE240M: return V4L2_YCBCR_ENC_SMPTE240M;
	case AVCOL_SPC_BT2020_NCL: return V4L2_YCBCR_ENC_BT2020;
	case AVCOL_SPC_BT2020_CL: return V4L2_YCBCR_ENC_BT2020_CONST_LUM;
	default: return 0;
	}
}

struct dec_colorimetry dec_colorimetry_from_av(int primaries, int trc, int matrix, int range)
{
	return (struct dec_colorimetry){
		.colorspace = v4l2_colorspace(primaries),
		.xfer_func = v4l2_xfer_func(trc),
		.ycbcr_enc = v4l2_ycbcr_enc(matrix),
		.quantization = range == AVCOL_RANGE_JPEG   ? V4L2_QUANTIZATION_FULL_RANGE
				: range == AVCOL_RANGE_MPEG ? V4L2_QUANTIZATION_LIM_RANGE
							    : 0,
	};
}

void dec_cap_planes(const struct dec_cap_fmt *f, uint8_t *base, uint8_t *data[4],
		    int linesize[4])
{
	bool nv12 = f->pixelformat == V4L2_PIX_FMT_NV12;
	uint32_t cbpl = nv12 ? f->bytesperline : f->bytesperline / 2;
	data[0] = base;
	linesize[0] = (int)f->bytesperline;
	data[1] = base + (size_t)f->bytesperline * f->height;
	linesize[1] = (int)cbpl;
	data[2] = nv12 ? NULL : data[1] + (size_t)cbpl * (f->height / 2);
	linesize[2] = nv12 ? 0 : (int)cbpl;
	data[3] = NULL;
	linesize[3] = 0;
}

void dec_cap_placeholder(uint32_t pixelformat, uint32_t w, uint32_t h, struct dec_cap_fmt *f)
{
	if (!w || !h) {
		w = DEC_PLACEHOLDER_W;
		h = DEC_PLACEHOLDER_H;
	}
	dec_cap_layout(pixelformat, w, h, f);
}

void dec_out_fmt_default(const struct dec_codecs *set, struct dec_out_fmt *f)
{
	const struct dec_codec *c = dec_codec_at(set, 0);
	f->pixelformat = c ? c->fourcc : V4L2_PIX_FMT_H264;
	f->width = DEC_PLACEHOLDER_W;
	f->height = DEC_PLACEHOLDER_H;
	/* What the test streams and most content are: BT.709, limited range. */
	f->colorspace = V4L2_COLORSPACE_REC709;
	f->xfer_func = V4L2_XFER_FUNC_709;
	f->ycbcr_enc = V4L2_YCBCR_ENC_709;
	f->quantization = V4L2_QUANTIZATION_LIM_RANGE;
	f->sizeimage = DEC_OUT_DEFAULT_SIZE;
}

static void set_desc(struct v4l2_fmtdesc *d, const char *desc)
{
	strncpy((char *)d->description, desc, sizeof(d->description) - 1);
}

int dec_enum_fmt(const struct dec_codecs *set, struct v4l2_fmtdesc *d)
{
	uint32_t index = d->index, type = d->type;
	if (type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE) {
		const struct dec_codec *c = dec_codec_at(set, index);
		if (!c)
			return -EINVAL;
		memset(d, 0, sizeof(*d));
		d->pixelformat = c->fourcc;
		d->flags = V4L2_FMT_FLAG_COMPRESSED | V4L2_FMT_FLAG_DYN_RESOLUTION;
		if (c->parse)
			d->flags |= V4L2_FMT_FLAG_CONTINUOUS_BYTESTREAM;
		set_desc(d, c->desc);
	} else if (type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE) {
		if (index >= NCAP)
			return -EINVAL;
		memset(d, 0, sizeof(*d));
		d->pixelformat = cap_fmts[index].fourcc;
		set_desc(d, cap_fmts[index].desc);
	} else {
		return -EINVAL;
	}
	d->index = index;
	d->type = type;
	return 0;
}

/* Any size in the range, coded or raw: the decoder scales nothing, so the
 * stream decides and these are its limits. */
int dec_enum_framesizes(const struct dec_codecs *set, struct v4l2_frmsizeenum *fs)
{
	uint32_t index = fs->index, pf = fs->pixel_format;
	if (index != 0 || (!dec_codec_find(set, pf) && !dec_cap_pixfmt_ok(pf)))
		return -EINVAL;
	memset(fs, 0, sizeof(*fs));
	fs->pixel_format = pf;
	fs->type = V4L2_FRMSIZE_TYPE_STEPWISE;
	fs->stepwise.min_width = fs->stepwise.min_height = DEC_MIN_DIM;
	fs->stepwise.max_width = fs->stepwise.max_height = DEC_MAX_DIM;
	fs->stepwise.step_width = fs->stepwise.step_height = 2;
	return 0;
}

void dec_fill_out_fmt(const struct dec_out_fmt *o, struct v4l2_format *f)
{
	memset(&f->fmt, 0, sizeof(f->fmt));
	struct v4l2_pix_format_mplane *p = &f->fmt.pix_mp;
	p->width = o->width;
	p->height = o->height;
	p->pixelformat = o->pixelformat;
	p->field = V4L2_FIELD_NONE;
	p->colorspace = o->colorspace;
	p->xfer_func = o->xfer_func;
	p->ycbcr_enc = o->ycbcr_enc;
	p->quantization = o->quantization;
	p->num_planes = 1;
	p->plane_fmt[0].sizeimage = o->sizeimage;
	p->plane_fmt[0].bytesperline = 0; /* coded data has no lines */
}

void dec_fill_cap_fmt(const struct dec_cap_fmt *c, const struct dec_out_fmt *o,
		      struct v4l2_format *f)
{
	memset(&f->fmt, 0, sizeof(f->fmt));
	struct v4l2_pix_format_mplane *p = &f->fmt.pix_mp;
	p->width = c->width;
	p->height = c->height;
	p->pixelformat = c->pixelformat;
	p->field = V4L2_FIELD_NONE;
	/* What the stream says, and for what it does not the OUTPUT's: a
	 * decoder converts no pixels, so it passes colorimetry through (the
	 * spec's "colorspace ... follow OUTPUT"; the client's is a guess where
	 * the stream has one). */
	p->colorspace = c->stream.colorspace ? c->stream.colorspace : o->colorspace;
	p->ycbcr_enc = c->stream.ycbcr_enc ? c->stream.ycbcr_enc : o->ycbcr_enc;
	p->quantization = c->stream.quantization ? c->stream.quantization : o->quantization;
	p->xfer_func = c->stream.xfer_func ? c->stream.xfer_func : o->xfer_func;
	p->num_planes = 1;
	p->plane_fmt[0].sizeimage = c->sizeimage;
	p->plane_fmt[0].bytesperline = c->bytesperline;
}

int dec_try_out_fmt(const struct dec_codecs *set, struct v4l2_format *f,
		    struct dec_out_fmt *out)
{
	if (f->type != V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE)
		return -EINVAL;
	const struct dec_codec *c = dec_codec_find(set, f->fmt.pix_mp.pixelformat);
	if (!c)
		c = dec_codec_at(set, 0);
	if (!c)
		return -EINVAL;
	struct dec_out_fmt o;
	o.pixelformat = c->fourcc;
	/* Colorimetry as given when it names a known value, else the default
	 * (0 included: "DEFAULT" would leave CAPTURE saying nothing). */
	struct dec_out_fmt def;
	dec_out_fmt_default(set, &def);
	const struct v4l2_pix_format_mplane *in = &f->fmt.pix_mp;
	o.colorspace = in->colorspace && in->colorspace <= V4L2_COLORSPACE_DCI_P3 ? in->colorspace
										: def.colorspace;
	o.xfer_func = in->xfer_func && in->xfer_func <= V4L2_XFER_FUNC_SMPTE2084 ? in->xfer_func
										 : def.xfer_func;
	o.ycbcr_enc = in->ycbcr_enc && in->ycbcr_enc <= V4L2_YCBCR_ENC_SMPTE240M ? in->ycbcr_enc
										  : def.ycbcr_enc;
	o.quantization = in->quantization && in->quantization <= V4L2_QUANTIZATION_LIM_RANGE
				 ? in->quantization : def.quantization;
	/* No size: the stream will tell; until then a placeholder, as the
	 * spec's S_FMT(OUTPUT) says, never 0 x 0 (a format has a size). */
	o.width = f->fmt.pix_mp.width ? clamp_dim(f->fmt.pix_mp.width) : 0;
	o.height = f->fmt.pix_mp.height ? clamp_dim(f->fmt.pix_mp.height) : 0;
	if (!o.width || !o.height) {
		o.width = DEC_PLACEHOLDER_W;
		o.height = DEC_PLACEHOLDER_H;
	}
	uint64_t size = f->fmt.pix_mp.plane_fmt[0].sizeimage;
	if (!size) {
		/* Half a raw 4:2:0 picture holds any sane coded frame. */
		size = (uint64_t)o.width * o.height * 3 / 4;
		if (size < DEC_OUT_DEFAULT_SIZE)
			size = DEC_OUT_DEFAULT_SIZE;
	}
	if (size < DEC_OUT_MIN_SIZE)
		size = DEC_OUT_MIN_SIZE;
	if (size > DEC_OUT_MAX_SIZE)
		size = DEC_OUT_MAX_SIZE;
	o.sizeimage = (uint32_t)size;
	dec_fill_out_fmt(&o, f);
	if (out)
		*out = o;
	return 0;
}

/* The spec's CAPTURE targets for a decoder that neither crops nor scales:
 * CROP_BOUNDS is the coded size, everything else the visible rectangle. */
int dec_selection(const struct dec_cap_fmt *c, struct v4l2_selection *s)
{
	if (s->type != V4L2_BUF_TYPE_VIDEO_CAPTURE && s->type != V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE)
		return -EINVAL;
	struct v4l2_rect r = { 0, 0, c->vis_w, c->vis_h };
	switch (s->target) {
	case V4L2_SEL_TGT_CROP_BOUNDS:
		r.width = c->width;
		r.height = c->height;
		break;
	case V4L2_SEL_TGT_CROP:
	case V4L2_SEL_TGT_CROP_DEFAULT:
	case V4L2_SEL_TGT_COMPOSE:
	case V4L2_SEL_TGT_COMPOSE_DEFAULT:
	case V4L2_SEL_TGT_COMPOSE_BOUNDS:
	case V4L2_SEL_TGT_COMPOSE_PADDED:
		break;
	default:
		return -EINVAL;
	}
	s->flags = 0;
	memset(s->reserved, 0, sizeof(s->reserved));
	s->r = r;
	return 0;
}
