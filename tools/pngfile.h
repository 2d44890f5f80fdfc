/* SPDX-License-Identifier: MIT */
/* pngfile — one RGB24 picture to a PNG file, with libpng. */
#ifndef VQM_PNGFILE_H
#define VQM_PNGFILE_H

#include <stdio.h>

#include "convert.h"

/* Write @img (layout VQM_RGB24) as an 8-bit RGB PNG to @f.
 * Returns 0, -EINVAL (not RGB24), -ENOMEM, -EIO (libpng or write error). */
int vqm_png_write(FILE *f, const struct vqm_image *img);

#endif
