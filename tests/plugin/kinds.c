/* SPDX-License-Identifier: MIT */
/*
 * The devices a *.vqmedia file can stand for.  "simple" is the pattern
 * camera; "decoder" the stateful M2M decoder (when libavcodec was found at
 * build time), whose workers finish asynchronously: gdrv waits on its wake
 * fd and delivers with vmedia_decoder_complete().
 *
 * $VQMEDIA_MODE=benchmark makes the camera fill buffers as soon as they
 * are queued; the default is real time (frames at the chosen interval, as
 * a camera), which is what an application expects.
 */
#include <stdlib.h>
#include <string.h>

#include "gdrv_internal.h"
#include "vmedia_simple.h"
#ifdef GDRV_HAVE_DECODER
#include "vmedia_decoder.h"
#endif

static void *simple_create(struct vmedia_config_space *config)
{
	const char *mode = getenv("VQMEDIA_MODE");
	struct vmedia_simple_config cfg = {
		.benchmark = mode && !strcmp(mode, "benchmark"),
	};
	struct vmedia_simple *sd = vmedia_simple_new(&cfg);
	if (sd)
		*config = vmedia_simple_config_space(sd);
	return sd;
}

static void simple_destroy(void *state)
{
	vmedia_simple_free(state);
}

static int simple_tick(void *state, uint64_t now_ns)
{
	return vmedia_simple_tick(state, now_ns);
}

static uint64_t simple_next_deadline(void *state)
{
	return vmedia_simple_next_deadline(state);
}

#ifdef GDRV_HAVE_DECODER
/* "H264,VP80": fourccs into @out (0-terminated, @max entries with it). */
static void parse_fourccs(const char *s, uint32_t *out, unsigned max)
{
	unsigned n = 0;
	while (n + 1 < max && strlen(s) >= 4) {
		out[n++] = v4l2_fourcc(s[0], s[1], s[2], s[3]);
		s += 4;
		if (*s != ',')
			break;
		s++;
	}
	out[n] = 0;
}

/*
 * The decoder as configured by the environment, for trials and for judges
 * that cannot take all of it: VQMEDIA_DECODER_THREADS (libavcodec threads;
 * default one per CPU) and VQMEDIA_DECODER_CODECS (the coded formats to
 * offer, "H264,HEVC"; default every one libavcodec decodes).
 */
static void *decoder_create(struct vmedia_config_space *config)
{
	const char *threads = getenv("VQMEDIA_DECODER_THREADS");
	const char *codecs = getenv("VQMEDIA_DECODER_CODECS");
	uint32_t only[16];
	if (codecs)
		parse_fourccs(codecs, only, 16);
	struct vmedia_decoder_config cfg = {
		.threads = threads ? (unsigned)atoi(threads) : 0,
		.codecs = codecs ? only : NULL,
	};
	struct vmedia_decoder *dec = vmedia_decoder_new(&cfg);
	if (dec)
		*config = vmedia_decoder_config_space(dec);
	return dec;
}

static void decoder_destroy(void *state)
{
	vmedia_decoder_free(state);
}

static int decoder_wake_fd(const void *state)
{
	return vmedia_decoder_wake_fd(state);
}

static int decoder_complete(void *state)
{
	return vmedia_decoder_complete(state);
}
#endif

static const struct gdrv_kind kinds[] = {
	{
		.name = "simple",
		.ops = &vmedia_simple_ops,
		.create = simple_create,
		.destroy = simple_destroy,
		.tick = simple_tick,
		.next_deadline = simple_next_deadline,
		.read_io = true,
	},
#ifdef GDRV_HAVE_DECODER
	{
		.name = "decoder",
		.ops = &vmedia_decoder_ops,
		.create = decoder_create,
		.destroy = decoder_destroy,
		.wake_fd = decoder_wake_fd,
		.complete = decoder_complete,
	},
#endif
};

const struct gdrv_kind *gdrv_kind_find(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, name))
			return &kinds[i];
	return NULL;
}
