/* SPDX-License-Identifier: MIT */
/*
 * y4m — YUV4MPEG2 output: a header line, then "FRAME\n" and the planes of
 * each picture.  The colourspace tag says the chroma layout (C420jpeg,
 * C422, C444); XCOLORRANGE=FULL marks full-range samples, as ffmpeg does.
 */
#ifndef VQM_Y4M_H
#define VQM_Y4M_H

#include <stdint.h>
#include <stdio.h>

#include "convert.h"

/* The C tag for @layout ("C420jpeg"), or NULL for RGB24. */
const char *vqm_y4m_tag(enum vqm_layout layout);

/* Write the stream header: @fps_num/@fps_den frames per second.
 * Returns 0, -EINVAL (RGB24 layout, zero rate), -EIO (write failed). */
int vqm_y4m_header(FILE *f, uint32_t width, uint32_t height, uint32_t fps_num, uint32_t fps_den,
		   enum vqm_layout layout, bool full_range);

/* Write one frame.  Returns 0, -EINVAL (RGB24), -EIO (write failed). */
int vqm_y4m_frame(FILE *f, const struct vqm_image *img);

#endif
