/* SPDX-License-Identifier: MIT */
/* Demuxing and bitstream filtering with libavformat / libavcodec; see demux.h. */
#include "demux.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>

static const struct {
	enum AVCodecID id;
	uint32_t fourcc;
	const char *bsf; /* what the OUTPUT format needs from any container */
} codecs[] = {
	/* The mp4toannexb filters pass Annex-B input through unchanged. */
	{ AV_CODEC_ID_H264, V4L2_PIX_FMT_H264, "h264_mp4toannexb" },
	{ AV_CODEC_ID_HEVC, V4L2_PIX_FMT_HEVC, "hevc_mp4toannexb" },
	{ AV_CODEC_ID_VP8, V4L2_PIX_FMT_VP8, NULL },
	{ AV_CODEC_ID_VP9, V4L2_PIX_FMT_VP9, NULL },
	{ AV_CODEC_ID_AV1, V4L2_PIX_FMT_AV1, NULL },
	{ AV_CODEC_ID_MPEG2VIDEO, V4L2_PIX_FMT_MPEG2, NULL },
	{ AV_CODEC_ID_MPEG1VIDEO, V4L2_PIX_FMT_MPEG1, NULL },
	{ AV_CODEC_ID_MPEG4, V4L2_PIX_FMT_MPEG4, NULL },
	{ AV_CODEC_ID_H263, V4L2_PIX_FMT_H263, NULL },
	{ AV_CODEC_ID_VC1, V4L2_PIX_FMT_VC1_ANNEX_G, NULL },
};

uint32_t vqm_demux_fourcc(int codec_id)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if ((int)codecs[i].id == codec_id)
			return codecs[i].fourcc;
	return 0;
}

static const char *bsf_name(int codec_id)
{
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if ((int)codecs[i].id == codec_id)
			return codecs[i].bsf;
	return NULL;
}

static int av_fail(char *err, size_t len, int r, const char *fmt, const char *arg)
{
	char why[AV_ERROR_MAX_STRING_SIZE];
	av_strerror(r, why, sizeof(why));
	char what[256];
	snprintf(what, sizeof(what), fmt, arg);
	snprintf(err, len, "%s: %s", what, why);
	return r;
}

int vqm_demux_open(struct vqm_demux *d, const char *path, char *err, size_t len)
{
	memset(d, 0, sizeof(*d));
	d->stream = -1;
	/* Failures reach the user as our own messages; libav*'s log lines
	 * (probing a damaged file prints many) would only bury them. */
	av_log_set_level(AV_LOG_FATAL);
	int r = avformat_open_input(&d->fmt, path, NULL, NULL);
	if (r < 0) {
		av_fail(err, len, r, "cannot open %s", path);
		d->fmt = NULL;
		return r == AVERROR(ENOMEM) ? -ENOMEM : -ENOENT;
	}
	r = avformat_find_stream_info(d->fmt, NULL);
	if (r < 0) {
		av_fail(err, len, r, "cannot read the streams of %s", path);
		vqm_demux_close(d);
		return -ENOENT;
	}
	r = av_find_best_stream(d->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	if (r < 0) {
		snprintf(err, len, "%s has no video stream", path);
		vqm_demux_close(d);
		return -ENODATA;
	}
	d->stream = r;
	AVStream *st = d->fmt->streams[r];
	const AVCodecParameters *par = st->codecpar;
	d->codec = avcodec_get_name(par->codec_id);
	d->fourcc = vqm_demux_fourcc(par->codec_id);
	if (!d->fourcc) {
		snprintf(err, len, "%s: the %s codec has no V4L2 coded format", path, d->codec);
		vqm_demux_close(d);
		return -ENOTSUP;
	}
	d->width = par->width > 0 ? (uint32_t)par->width : 0;
	d->height = par->height > 0 ? (uint32_t)par->height : 0;
	/* The rate ffmpeg would put in a Y4M header. */
	AVRational fps = st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0
				 ? st->avg_frame_rate : st->r_frame_rate;
	if (fps.num <= 0 || fps.den <= 0)
		fps = (AVRational){ 25, 1 };
	d->fps_num = (uint32_t)fps.num;
	d->fps_den = (uint32_t)fps.den;
	for (unsigned i = 0; i < d->fmt->nb_streams; i++)
		if ((int)i != r)
			d->fmt->streams[i]->discard = AVDISCARD_ALL;

	const char *name = bsf_name(par->codec_id);
	const AVBitStreamFilter *f = av_bsf_get_by_name(name ? name : "null");
	if (!f) {
		snprintf(err, len, "libavcodec has no '%s' bitstream filter", name ? name : "null");
		vqm_demux_close(d);
		return -ENOTSUP;
	}
	if ((r = av_bsf_alloc(f, &d->bsf)) < 0 ||
	    (r = avcodec_parameters_copy(d->bsf->par_in, par)) < 0 ||
	    (d->bsf->time_base_in = st->time_base, (r = av_bsf_init(d->bsf)) < 0)) {
		av_fail(err, len, r, "bitstream filter %s", name ? name : "null");
		vqm_demux_close(d);
		return -ENOTSUP;
	}
	d->in = av_packet_alloc();
	d->out = av_packet_alloc();
	if (!d->in || !d->out) {
		snprintf(err, len, "out of memory");
		vqm_demux_close(d);
		return -ENOMEM;
	}
	return 0;
}

int vqm_demux_next(struct vqm_demux *d, const uint8_t **data, size_t *size, char *err,
		   size_t len)
{
	av_packet_unref(d->out);
	for (;;) {
		int r = av_bsf_receive_packet(d->bsf, d->out);
		if (r == 0) {
			if (d->out->size <= 0) {
				av_packet_unref(d->out);
				continue;
			}
			*data = d->out->data;
			*size = (size_t)d->out->size;
			d->packets++;
			return 1;
		}
		if (r == AVERROR_EOF)
			return 0;
		if (r != AVERROR(EAGAIN))
			return av_fail(err, len, r, "bitstream filter%s", ""), -EIO;
		if (d->eof)
			return 0;
		/* The filter wants input. */
		for (;;) {
			r = av_read_frame(d->fmt, d->in);
			if (r == AVERROR_EOF) {
				d->eof = 1;
				av_bsf_send_packet(d->bsf, NULL); /* flush */
				break;
			}
			if (r < 0)
				return av_fail(err, len, r, "reading the input%s", ""), -EIO;
			if (d->in->stream_index == d->stream)
				break;
			av_packet_unref(d->in);
		}
		if (d->eof)
			continue;
		r = av_bsf_send_packet(d->bsf, d->in);
		av_packet_unref(d->in);
		if (r < 0)
			return av_fail(err, len, r, "bitstream filter%s", ""), -EIO;
	}
}

void vqm_demux_close(struct vqm_demux *d)
{
	av_packet_free(&d->in);
	av_packet_free(&d->out);
	av_bsf_free(&d->bsf);
	if (d->fmt)
		avformat_close_input(&d->fmt);
}
