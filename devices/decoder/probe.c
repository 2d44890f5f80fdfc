/* SPDX-License-Identifier: MIT */
/*
 * The stream's format before its first picture comes out of the decoder.
 *
 * A client starting a stream (the spec's Initialization) queues OUTPUT
 * buffers and waits for V4L2_EVENT_SOURCE_CHANGE before it sets CAPTURE
 * up; it may give no more data until then (v4l2-compliance gives two
 * buffers).  The session's decoder runs libavcodec's frame threads, one
 * per CPU plus one, and holds each picture back until that many packets
 * are in: two buffers of a large picture each may never get one out.  A
 * hardware decoder announces the format from the sequence header alone.
 * libavcodec's parsers give a size but no colorimetry, so the probe is a
 * second decoder of the same codec on one thread, fed the same packets
 * until its first picture, whose size and colorimetry are the stream's;
 * it is then closed.  It decodes at most the first pictures twice, once.
 */
#include <stdlib.h>

#include <libavcodec/avcodec.h>

#include "decoder_internal.h"

struct dec_probe {
	AVCodecContext *ctx;
	AVFrame *frame;
};

struct dec_probe *dec_probe_open(const void *codec)
{
	struct dec_probe *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->ctx = avcodec_alloc_context3(codec);
	p->frame = av_frame_alloc();
	if (!p->ctx || !p->frame)
		goto fail;
	p->ctx->thread_count = 1;
	p->ctx->max_pixels = (int64_t)DEC_MAX_DIM * DEC_MAX_DIM;
	/* Pictures in decoding order where the codec allows (MPEG-2, dav1d):
	 * the first one is all that is wanted. */
	p->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
	if (avcodec_open2(p->ctx, codec, NULL) < 0)
		goto fail;
	return p;
fail:
	dec_probe_close(p);
	return NULL;
}

const AVFrame *dec_probe_feed(struct dec_probe *p, const AVPacket *pkt)
{
	/* A packet it refuses (EAGAIN: it holds pictures) is only a packet
	 * the probe does not see; the real decoder gets it regardless. */
	avcodec_send_packet(p->ctx, pkt);
	if (avcodec_receive_frame(p->ctx, p->frame) < 0)
		return NULL;
	return p->frame;
}

void dec_probe_close(struct dec_probe *p)
{
	if (!p)
		return;
	av_frame_free(&p->frame);
	avcodec_free_context(&p->ctx);
	free(p);
}
