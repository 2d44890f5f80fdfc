/* SPDX-License-Identifier: MIT */
/* PNG writer; see png.h. */
#include "pngfile.h"

#include <errno.h>
#include <png.h>

int vqm_png_write(FILE *f, const struct vqm_image *img)
{
	if (img->layout != VQM_RGB24 || !img->width || !img->height)
		return -EINVAL;
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	if (!png)
		return -ENOMEM;
	png_infop info = png_create_info_struct(png);
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return -ENOMEM;
	}
	/* libpng reports errors (a failed write included) by longjmp. */
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return -EIO;
	}
	png_init_io(png, f);
	png_set_IHDR(png, info, img->width, img->height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (uint32_t y = 0; y < img->height; y++)
		png_write_row(png, img->plane[0] + (size_t)y * (size_t)img->stride[0]);
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	return fflush(f) == EOF ? -EIO : 0;
}
