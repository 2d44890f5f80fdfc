/* SPDX-License-Identifier: MIT */
/*
 * The coded formats, each offered only when this libavcodec can decode it.
 *
 * AV1 names libdav1d: ffmpeg 5.1's native "av1" decoder only drives
 * hardware.  Only formats with a libavcodec parser that reassembles frames
 * from arbitrary pieces (H.264, HEVC, MPEG-2: start codes) are
 * CONTINUOUS_BYTESTREAM; the VP8, VP9 and AV1 parsers do not split or join
 * data (a raw VP8/VP9 frame has no framing of its own), so each OUTPUT
 * buffer of those must hold one frame (one IVF frame / temporal unit).
 */
#include <pthread.h>

#include <libavcodec/avcodec.h>

#include "decoder_internal.h"

static const struct dec_codec all[] = {
	{ V4L2_PIX_FMT_H264, AV_CODEC_ID_H264, NULL, "H.264", true },
	{ V4L2_PIX_FMT_HEVC, AV_CODEC_ID_HEVC, NULL, "HEVC", true },
	{ V4L2_PIX_FMT_VP8, AV_CODEC_ID_VP8, NULL, "VP8", false },
	{ V4L2_PIX_FMT_VP9, AV_CODEC_ID_VP9, NULL, "VP9", false },
	{ V4L2_PIX_FMT_AV1, AV_CODEC_ID_AV1, "libdav1d", "AV1", false },
	{ V4L2_PIX_FMT_MPEG2, AV_CODEC_ID_MPEG2VIDEO, NULL, "MPEG-2 ES", true },
};
#define NALL (sizeof(all) / sizeof(all[0]))
_Static_assert(NALL <= sizeof(((struct dec_codecs *)0)->c) / sizeof(((struct dec_codecs *)0)->c[0]),
	       "struct dec_codecs holds every format");

static const struct dec_codec *avail[NALL];
static const AVCodec *decoders[NALL];
static unsigned navail;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void probe(void)
{
	for (unsigned i = 0; i < NALL; i++) {
		const AVCodec *c = all[i].decoder_name ? avcodec_find_decoder_by_name(all[i].decoder_name)
						       : avcodec_find_decoder(all[i].codec_id);
		/* A hardware-only decoder (the native av1) cannot decode here. */
		if (!c || (c->capabilities & AV_CODEC_CAP_HARDWARE))
			continue;
		decoders[navail] = c;
		avail[navail++] = &all[i];
	}
}

static bool listed(const uint32_t *only, uint32_t fourcc)
{
	for (; *only; only++)
		if (*only == fourcc)
			return true;
	return false;
}

void dec_codecs_init(struct dec_codecs *set, const uint32_t *only)
{
	pthread_once(&once, probe);
	set->n = 0;
	for (unsigned i = 0; i < navail; i++)
		if (!only || listed(only, avail[i]->fourcc))
			set->c[set->n++] = avail[i];
}

const struct dec_codec *dec_codec_at(const struct dec_codecs *set, unsigned i)
{
	return i < set->n ? set->c[i] : NULL;
}

const struct dec_codec *dec_codec_find(const struct dec_codecs *set, uint32_t fourcc)
{
	for (unsigned i = 0; i < set->n; i++)
		if (set->c[i]->fourcc == fourcc)
			return set->c[i];
	return NULL;
}

const void *dec_codec_decoder(const struct dec_codec *c)
{
	pthread_once(&once, probe);
	for (unsigned i = 0; i < navail; i++)
		if (avail[i] == c)
			return decoders[i];
	return NULL;
}
