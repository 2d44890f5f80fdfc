/* SPDX-License-Identifier: MIT */
/*
 * demux — a coded video stream as a V4L2 stateful decoder takes it on its
 * OUTPUT queue: libavformat opens the file (raw Annex-B H.264 / HEVC, IVF,
 * MP4, Matroska / WebM, MPEG-2 ES, anything it can), the best video
 * stream is picked, its codec mapped to the V4L2 coded fourcc, and its
 * packets passed through the bitstream filter the format needs (MP4 and
 * Matroska keep H.264 / HEVC as length-prefixed NAL units; V4L2_PIX_FMT_H264
 * and _HEVC are Annex-B byte streams with start codes).
 */
#ifndef VQM_DEMUX_H
#define VQM_DEMUX_H

#include <stddef.h>
#include <stdint.h>

#include <linux/videodev2.h>

/* Not in older UAPI headers: the stateful AV1 format (OBU stream). */
#ifndef V4L2_PIX_FMT_AV1
#define V4L2_PIX_FMT_AV1 v4l2_fourcc('A', 'V', '0', '1')
#endif

struct vqm_demux {
	uint32_t fourcc;        /* V4L2_PIX_FMT_H264, ... */
	const char *codec;      /* libavcodec's name: "h264" */
	uint32_t width, height; /* from the container; 0 if unknown */
	uint32_t fps_num, fps_den;
	uint64_t packets;       /* handed out so far */
	/* private */
	struct AVFormatContext *fmt;
	struct AVBSFContext *bsf;
	struct AVPacket *in, *out;
	int stream;
	int eof;                /* 1: the file is read, the filter flushed; 2: everything out */
};

/*
 * Open @path.  Returns 0, or a negative value with a message in @err:
 * -ENOENT the file cannot be opened or libavformat does not know its
 * format, -ENODATA it has no video stream, -ENOTSUP its codec has no V4L2
 * coded format, -ENOMEM.
 */
int vqm_demux_open(struct vqm_demux *d, const char *path, char *err, size_t len);

/*
 * The next packet of the video stream, valid until the next call.  Returns
 * 1 with *@data / *@size, 0 at the end, or -EIO with a message in @err.
 */
int vqm_demux_next(struct vqm_demux *d, const uint8_t **data, size_t *size, char *err,
		   size_t len);

void vqm_demux_close(struct vqm_demux *d);

/* The V4L2 coded format of a libavcodec codec id, 0 if none. */
uint32_t vqm_demux_fourcc(int codec_id);

#endif
