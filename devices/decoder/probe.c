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
 * libavcodec's parsers give a size but no colorimetry, so the probe keeps
 * the packets the decoder was given since Initialization began, and when
 * the worker runs out of data with the format still unknown, decodes them
 * on one thread until the first picture, whose size and colorimetry are
 * the stream's.  A client that gives enough data never needs it: the
 * decoder's own first picture announces the format first, and the probe
 * costs only the copies of the first packets.
 */
#include <stdlib.h>

#include <libavcodec/avcodec.h>

#include "decoder_internal.h"

/* Kept at most: more than any frame-thread delay, and bounded memory. */
#define PROBE_MAX_PACKETS 32
#define PROBE_MAX_BYTES ((size_t)32 << 20)

struct dec_probe {
	const AVCodec *codec;
	AVCodecContext *ctx; /* opened at the first run */
	AVFrame *frame;
	AVPacket *pkts[PROBE_MAX_PACKETS];
	unsigned npkts, nfed;
	size_t bytes;
};

struct dec_probe *dec_probe_new(const void *codec)
{
	struct dec_probe *p = calloc(1, sizeof(*p));
	if (p)
		p->codec = codec;
	return p;
}

void dec_probe_keep(struct dec_probe *p, const AVPacket *pkt)
{
	if (p->npkts == PROBE_MAX_PACKETS || p->bytes + (size_t)pkt->size > PROBE_MAX_BYTES)
		return;
	/* A copy: the parser's output is only good until its next call. */
	AVPacket *c = av_packet_clone(pkt);
	if (!c)
		return;
	p->pkts[p->npkts++] = c;
	p->bytes += (size_t)pkt->size;
}

bool dec_probe_ready(const struct dec_probe *p)
{
	return p->nfed < p->npkts;
}

const AVFrame *dec_probe_run(struct dec_probe *p)
{
	if (!p->ctx) {
		p->ctx = avcodec_alloc_context3(p->codec);
		p->frame = av_frame_alloc();
		if (!p->ctx || !p->frame)
			return NULL;
		p->ctx->thread_count = 1;
		p->ctx->max_pixels = (int64_t)DEC_MAX_DIM * DEC_MAX_DIM;
		/* Pictures in decoding order where the codec allows (MPEG-2,
		 * dav1d): the first one is all that is wanted. */
		p->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
		if (avcodec_open2(p->ctx, p->codec, NULL) < 0) {
			p->nfed = p->npkts; /* nothing to run: the decoder will tell */
			return NULL;
		}
	}
	while (p->nfed < p->npkts) {
		/* A packet refused (EAGAIN: pictures held) is only one the
		 * probe does not see; the decoder had it regardless. */
		avcodec_send_packet(p->ctx, p->pkts[p->nfed++]);
		if (avcodec_receive_frame(p->ctx, p->frame) == 0)
			return p->frame;
	}
	return NULL;
}

void dec_probe_free(struct dec_probe *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->npkts; i++)
		av_packet_free(&p->pkts[i]);
	av_frame_free(&p->frame);
	avcodec_free_context(&p->ctx);
	free(p);
}
