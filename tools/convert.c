/* SPDX-License-Identifier: MIT */
/* Frame conversion with libswscale; see convert.h. */
#include "convert.h"

#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include <libavutil/imgutils.h>
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>

const struct vqm_format vqm_formats[] = {
	{ "yuyv", V4L2_PIX_FMT_YUYV, "YUYV 4:2:2", VQM_YUV422P },
	{ "nv12", V4L2_PIX_FMT_NV12, "Y/UV 4:2:0", VQM_YUV420P },
	{ "yu12", V4L2_PIX_FMT_YUV420, "Planar YUV 4:2:0", VQM_YUV420P },
	{ "rgb3", V4L2_PIX_FMT_RGB24, "24-bit RGB 8-8-8", VQM_YUV444P },
	{ "bgr3", V4L2_PIX_FMT_BGR24, "24-bit BGR 8-8-8", VQM_YUV444P },
	{ "yv12", V4L2_PIX_FMT_YVU420, "Planar YVU 4:2:0", VQM_YUV420P },
};
const unsigned vqm_nformats = sizeof(vqm_formats) / sizeof(vqm_formats[0]);

const struct vqm_format *vqm_format_by_name(const char *name)
{
	for (unsigned i = 0; i < vqm_nformats; i++)
		if (!strcasecmp(vqm_formats[i].name, name))
			return &vqm_formats[i];
	return NULL;
}

const struct vqm_format *vqm_format_by_fourcc(uint32_t fourcc)
{
	for (unsigned i = 0; i < vqm_nformats; i++)
		if (vqm_formats[i].fourcc == fourcc)
			return &vqm_formats[i];
	return NULL;
}

static enum AVPixelFormat av_fmt(enum vqm_layout l)
{
	switch (l) {
	case VQM_YUV420P: return AV_PIX_FMT_YUV420P;
	case VQM_YUV422P: return AV_PIX_FMT_YUV422P;
	case VQM_YUV444P: return AV_PIX_FMT_YUV444P;
	case VQM_RGB24: return AV_PIX_FMT_RGB24;
	}
	return AV_PIX_FMT_NONE;
}

static enum AVPixelFormat av_src_fmt(uint32_t fourcc)
{
	switch (fourcc) {
	case V4L2_PIX_FMT_YUYV: return AV_PIX_FMT_YUYV422;
	case V4L2_PIX_FMT_NV12: return AV_PIX_FMT_NV12;
	case V4L2_PIX_FMT_YUV420: return AV_PIX_FMT_YUV420P;
	case V4L2_PIX_FMT_RGB24: return AV_PIX_FMT_RGB24;
	case V4L2_PIX_FMT_BGR24: return AV_PIX_FMT_BGR24;
	/* Same samples as YU12, Cr plane first: vqm_conv_run swaps them. */
	case V4L2_PIX_FMT_YVU420: return AV_PIX_FMT_YUV420P;
	default: return AV_PIX_FMT_NONE;
	}
}

void vqm_image_plane_dims(const struct vqm_image *img, unsigned p, uint32_t *row_bytes,
			  uint32_t *rows)
{
	uint32_t w = img->width, h = img->height;
	if (img->layout == VQM_RGB24) {
		*row_bytes = 3 * w;
		*rows = h;
		return;
	}
	if (p > 0 && img->layout != VQM_YUV444P)
		w = (w + 1) / 2;
	if (p > 0 && img->layout == VQM_YUV420P)
		h = (h + 1) / 2;
	*row_bytes = w;
	*rows = h;
}

/* Minimum bytesperline of the first plane. */
static uint32_t min_bpl(uint32_t fourcc, uint32_t width)
{
	switch (fourcc) {
	case V4L2_PIX_FMT_YUYV: return 2 * width;
	case V4L2_PIX_FMT_RGB24:
	case V4L2_PIX_FMT_BGR24: return 3 * width;
	default: return width;
	}
}

size_t vqm_frame_bytes(const struct v4l2_pix_format *pix)
{
	if (!vqm_format_by_fourcc(pix->pixelformat) || !pix->width || !pix->height ||
	    pix->bytesperline < min_bpl(pix->pixelformat, pix->width))
		return 0;
	size_t luma = (size_t)pix->bytesperline * pix->height;
	switch (pix->pixelformat) {
	case V4L2_PIX_FMT_NV12:
		/* Y, then interleaved CbCr rows of the same stride. */
		return luma + (size_t)pix->bytesperline * ((pix->height + 1) / 2);
	case V4L2_PIX_FMT_YUV420:
	case V4L2_PIX_FMT_YVU420:
		/* Y, Cb, Cr (YV12: Cr, Cb); chroma strides are half the luma
		 * stride. */
		return luma + 2 * (size_t)(pix->bytesperline / 2) * ((pix->height + 1) / 2);
	default:
		return luma;
	}
}

struct vqm_conv {
	struct SwsContext *sws;
	struct v4l2_pix_format pix;
	size_t frame_bytes;
	struct vqm_image img;
	uint8_t *data[4];
	int linesize[4];
};

/* libswscale's name for a V4L2 Y'CbCr encoding. */
static int sws_matrix(uint32_t enc)
{
	switch (enc) {
	case V4L2_YCBCR_ENC_709:
	case V4L2_YCBCR_ENC_XV709:
		return SWS_CS_ITU709;
	case V4L2_YCBCR_ENC_BT2020:
	case V4L2_YCBCR_ENC_BT2020_CONST_LUM:
		return SWS_CS_BT2020;
	case V4L2_YCBCR_ENC_SMPTE240M:
		return SWS_CS_SMPTE240M;
	default:
		return SWS_CS_ITU601;
	}
}

int vqm_conv_new(struct vqm_conv **out, const struct v4l2_pix_format *pix, enum vqm_layout dst)
{
	enum AVPixelFormat sf = av_src_fmt(pix->pixelformat), df = av_fmt(dst);
	size_t bytes = vqm_frame_bytes(pix);
	if (sf == AV_PIX_FMT_NONE || df == AV_PIX_FMT_NONE || !bytes || pix->width > 16384 ||
	    pix->height > 16384)
		return -EINVAL;
	bool src_rgb = pix->pixelformat == V4L2_PIX_FMT_RGB24 ||
		       pix->pixelformat == V4L2_PIX_FMT_BGR24;
	/* Chroma is shared by pixel pairs (and row pairs): odd sizes are not
	 * representable in these formats. */
	if (!src_rgb && (pix->width & 1))
		return -EINVAL;
	if ((pix->pixelformat == V4L2_PIX_FMT_NV12 || pix->pixelformat == V4L2_PIX_FMT_YUV420 ||
	     pix->pixelformat == V4L2_PIX_FMT_YVU420) &&
	    ((pix->height & 1) || (pix->bytesperline & 1)))
		return -EINVAL;

	struct vqm_conv *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pix = *pix;
	c->frame_bytes = bytes;

	uint32_t enc = pix->ycbcr_enc ? pix->ycbcr_enc : V4L2_MAP_YCBCR_ENC_DEFAULT(pix->colorspace);
	uint32_t quant = pix->quantization ? pix->quantization
					   : V4L2_MAP_QUANTIZATION_DEFAULT(src_rgb, pix->colorspace,
									   enc);
	bool src_full = quant == V4L2_QUANTIZATION_FULL_RANGE;
	bool dst_full;
	int flags;
	if (dst == VQM_RGB24) {
		/* For a person to look at: interpolate chroma, round well. */
		dst_full = true;
		flags = SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP;
	} else if (src_rgb) {
		/* RGB to Y'CbCr 4:4:4: the usual limited-range encoding, so
		 * every Y4M reader shows the right levels. */
		dst_full = false;
		flags = SWS_POINT | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP;
	} else {
		/* Repacking only: same matrix, same range, so libswscale
		 * takes its unscaled copy paths and changes no sample. */
		dst_full = src_full;
		flags = SWS_POINT;
	}
	c->sws = sws_getContext((int)pix->width, (int)pix->height, sf, (int)pix->width,
				(int)pix->height, df, flags, NULL, NULL, NULL);
	if (!c->sws)
		goto fail_inval;
	const int *coef = sws_getCoefficients(sws_matrix(enc));
	if (sws_setColorspaceDetails(c->sws, coef, src_full, coef, dst_full, 0, 1 << 16,
				     1 << 16) < 0 && !(src_rgb && dst == VQM_RGB24))
		goto fail_inval;
	if (av_image_alloc(c->data, c->linesize, (int)pix->width, (int)pix->height, df, 32) < 0) {
		sws_freeContext(c->sws);
		free(c);
		return -ENOMEM;
	}
	c->img = (struct vqm_image){
		.layout = dst,
		.width = pix->width,
		.height = pix->height,
		.full_range = dst_full,
		.nplanes = dst == VQM_RGB24 ? 1 : 3,
	};
	for (unsigned p = 0; p < c->img.nplanes; p++) {
		c->img.plane[p] = c->data[p];
		c->img.stride[p] = c->linesize[p];
	}
	*out = c;
	return 0;
fail_inval:
	sws_freeContext(c->sws);
	free(c);
	return -EINVAL;
}

void vqm_conv_free(struct vqm_conv *c)
{
	if (!c)
		return;
	av_freep(&c->data[0]);
	sws_freeContext(c->sws);
	free(c);
}

bool vqm_conv_full_range(const struct vqm_conv *c)
{
	return c->img.full_range;
}

int vqm_conv_run(struct vqm_conv *c, const uint8_t *frame, size_t len,
		 const struct vqm_image **img)
{
	if (len < c->frame_bytes)
		return -EMSGSIZE;
	const struct v4l2_pix_format *pix = &c->pix;
	const uint8_t *src[4] = { frame };
	int stride[4] = { (int)pix->bytesperline };
	size_t luma = (size_t)pix->bytesperline * pix->height;
	if (pix->pixelformat == V4L2_PIX_FMT_NV12) {
		src[1] = frame + luma;
		stride[1] = (int)pix->bytesperline;
	} else if (pix->pixelformat == V4L2_PIX_FMT_YUV420 ||
		   pix->pixelformat == V4L2_PIX_FMT_YVU420) {
		size_t cstride = pix->bytesperline / 2;
		const uint8_t *first = frame + luma, *second = first + cstride * (pix->height / 2);
		bool yvu = pix->pixelformat == V4L2_PIX_FMT_YVU420;
		src[1] = yvu ? second : first; /* libswscale wants Cb, then Cr */
		src[2] = yvu ? first : second;
		stride[1] = stride[2] = (int)cstride;
	}
	int h = sws_scale(c->sws, src, stride, 0, (int)pix->height, c->data, c->linesize);
	if (h != (int)pix->height)
		return -EIO;
	*img = &c->img;
	return 0;
}
