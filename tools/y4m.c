/* SPDX-License-Identifier: MIT */
/* YUV4MPEG2 writer; see y4m.h. */
#include "y4m.h"

#include <errno.h>

const char *vqm_y4m_tag(enum vqm_layout layout)
{
	switch (layout) {
	/* Chroma centred between the luma samples, as 2x2-averaged 4:2:0
	 * is; it is also what a Y4M file without a C tag means. */
	case VQM_YUV420P: return "C420jpeg";
	case VQM_YUV422P: return "C422";
	case VQM_YUV444P: return "C444";
	default: return NULL;
	}
}

int vqm_y4m_header(FILE *f, uint32_t width, uint32_t height, uint32_t fps_num, uint32_t fps_den,
		   enum vqm_layout layout, bool full_range)
{
	const char *tag = vqm_y4m_tag(layout);
	if (!tag || !fps_num || !fps_den)
		return -EINVAL;
	if (fprintf(f, "YUV4MPEG2 W%u H%u F%u:%u Ip A1:1 %s%s\n", width, height, fps_num, fps_den,
		    tag, full_range ? " XCOLORRANGE=FULL" : "") < 0)
		return -EIO;
	return 0;
}

int vqm_y4m_frame(FILE *f, const struct vqm_image *img)
{
	if (!vqm_y4m_tag(img->layout))
		return -EINVAL;
	if (fputs("FRAME\n", f) == EOF)
		return -EIO;
	for (unsigned p = 0; p < img->nplanes; p++) {
		uint32_t row, rows;
		vqm_image_plane_dims(img, p, &row, &rows);
		const uint8_t *src = img->plane[p];
		if ((uint32_t)img->stride[p] == row) {
			if (fwrite(src, row, rows, f) != rows)
				return -EIO;
			continue;
		}
		for (uint32_t y = 0; y < rows; y++, src += img->stride[p])
			if (fwrite(src, 1, row, f) != row)
				return -EIO;
	}
	return 0;
}
