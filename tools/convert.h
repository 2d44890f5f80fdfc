/* SPDX-License-Identifier: MIT */
/*
 * convert — captured V4L2 frames to the planar layouts the output files
 * need, with libswscale: Y4M keeps what the pixel format has (YUYV ->
 * 4:2:2, NV12 / YU12 -> 4:2:0, RGB3 -> 4:4:4), PNG gets RGB24.  Repacking a
 * YUV format into its planar layout is exact (no scaling, no colour change);
 * colour conversions follow the format's ycbcr_enc / quantization (V4L2's
 * defaults when they are 0).
 */
#ifndef VQM_CONVERT_H
#define VQM_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/videodev2.h>

enum vqm_layout {
	VQM_YUV420P,
	VQM_YUV422P,
	VQM_YUV444P,
	VQM_RGB24, /* packed, one plane */
};

/* A pixel format the tool can capture. */
struct vqm_format {
	const char *name;       /* command-line name: "yuyv" */
	uint32_t fourcc;        /* V4L2_PIX_FMT_* */
	const char *desc;       /* "YUYV 4:2:2" */
	enum vqm_layout y4m;    /* the planar layout that keeps every sample */
};

extern const struct vqm_format vqm_formats[];
extern const unsigned vqm_nformats;

/* NULL if unknown (name: case-insensitive). */
const struct vqm_format *vqm_format_by_name(const char *name);
const struct vqm_format *vqm_format_by_fourcc(uint32_t fourcc);

/* A converted picture; planes are owned by the converter. */
struct vqm_image {
	enum vqm_layout layout;
	uint32_t width, height;
	bool full_range; /* YUV layouts: full-range quantisation */
	uint8_t *plane[3];
	int stride[3];
	unsigned nplanes;
};

/* Plane @p of @img: bytes per row and rows (chroma subsampling applied). */
void vqm_image_plane_dims(const struct vqm_image *img, unsigned p, uint32_t *row_bytes,
			  uint32_t *rows);

/* Bytes a frame of @pix occupies in its buffer (from bytesperline), or 0
 * if the format is not one of vqm_formats or bytesperline is too small. */
size_t vqm_frame_bytes(const struct v4l2_pix_format *pix);

struct vqm_conv;

/*
 * A converter from frames of @pix (a vqm_formats format) to @dst.
 * Returns 0 with *@out, -EINVAL (unsupported format, bytesperline too
 * small, odd size for a 4:2:0 / 4:2:2 source), -ENOMEM.
 */
int vqm_conv_new(struct vqm_conv **out, const struct v4l2_pix_format *pix, enum vqm_layout dst);
void vqm_conv_free(struct vqm_conv *c);

/* Whether the converter's YUV output is full range (a Y4M header says so). */
bool vqm_conv_full_range(const struct vqm_conv *c);

/*
 * Convert one frame of @len bytes (a buffer's bytesused).  Returns 0 with
 * *@img valid until the next call, or -EMSGSIZE if @len is shorter than a
 * frame, -EIO if libswscale fails.
 */
int vqm_conv_run(struct vqm_conv *c, const uint8_t *frame, size_t len,
		 const struct vqm_image **img);

#endif
