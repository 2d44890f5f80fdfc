/* SPDX-License-Identifier: MIT */
/*
 * The decoder device behind the guest-driver model (media_pair), driven
 * inline: completions are waited for by poll()ing the decoder's wake fd
 * with a timeout, then vmedia_decoder_complete() and the guest's event
 * processing run on this thread.  Every wait is bounded: a test fails, it
 * does not hang.
 *
 * Streams are encoded at test time with the ffmpeg CLI (cached in a
 * directory under TMPDIR, keyed by the command line), and reference
 * per-frame MD5s come from ffmpeg's own decode (-f framemd5).
 *
 * struct dd runs the application side of the stateful decoder interface
 * on one session: OUTPUT buffers filled from "units" (IVF frames, or
 * arbitrary pieces of a byte stream), the CAPTURE setup on each
 * V4L2_EVENT_SOURCE_CHANGE, and the drain; it records what came out.
 */
#ifndef DECODER_FIXTURE_H
#define DECODER_FIXTURE_H

#include "media_fixture.h"
#include "vmedia_decoder.h"

#ifndef V4L2_PIX_FMT_AV1
#define V4L2_PIX_FMT_AV1 v4l2_fourcc('A', 'V', '0', '1')
#endif

#define OUT_MP V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE
#define CAP_MP V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
#define DP_TIMEOUT_MS 30000 /* one whole decode; generous for sanitizer builds */

struct dp {
	struct media_pair p;
	struct vmedia_decoder *dec;
	/* NULL: the device runs inline and dp_pump() completes on this
	 * thread.  Set by tests that run the device elsewhere (on a runtime's
	 * loop thread): then this waits for the device's signal instead. */
	int (*pump)(struct dp *d, int timeout_ms);
};

void dp_init(struct dp *d, unsigned threads);
void dp_init_cfg(struct dp *d, const struct vmedia_decoder_config *cfg);
void dp_destroy(struct dp *d);
uint32_t dp_open(struct dp *d);
int dp_ioctl(struct dp *d, uint32_t id, unsigned long req, void *arg);
/* Wait up to @timeout_ms for the wake fd, deliver, let the guest see it.
 * Returns the completions delivered. */
int dp_pump(struct dp *d, int timeout_ms);
/* Whether the decoder offers @fourcc on OUTPUT (ENUM_FMT). */
bool dp_has_codec(struct dp *d, uint32_t id, uint32_t fourcc);

/* ---- streams ---- */

/* The file ffmpeg writes for "ffmpeg -loglevel error <args> OUT.<ext>"
 * (cached).  Asserts that ffmpeg exists and succeeded.  Free the result. */
char *dp_stream(const char *ext, const char *args);
uint8_t *dp_load(const char *path, size_t *len);
/* Reference MD5s of every frame in @pix_fmt; returns the count, *md5 to free. */
unsigned dp_ref_md5(const char *path, const char *pix_fmt, char (**md5)[33]);

struct dp_units {
	size_t n;
	const uint8_t **ptr;
	size_t *len;
};
/* IVF: one unit per frame (header stripped). */
void dp_units_ivf(const uint8_t *data, size_t len, struct dp_units *u);
/* A byte stream cut every @chunk bytes; 0: pseudo-random sizes from @seed. */
void dp_units_chunks(const uint8_t *data, size_t len, size_t chunk, unsigned seed,
		     struct dp_units *u);
void dp_units_free(struct dp_units *u);

/* ---- one decoding session, application side ---- */

#define DD_MAX_FRAMES 256

struct dd {
	struct dp *d;
	uint32_t id, fourcc;
	uint32_t out_memory, cap_memory, cap_pixfmt; /* cap_pixfmt 0: the decoder's */
	unsigned nout, ncap, extra_cap;
	uint32_t out_size;
	bool out_free[32];
	uint8_t *out_view[32], *cap_view[32]; /* MMAP views or USERPTR memory */
	uint64_t out_addr[32], cap_addr[32];
	uint32_t cap_len;
	struct v4l2_pix_format_mplane fmt;     /* CAPTURE, at the last setup */
	struct v4l2_rect vis;
	bool cap_streaming, stop_sent, got_last, got_eos;
	/* what came out */
	unsigned nframes;
	char md5[DD_MAX_FRAMES][33];
	int64_t ts[DD_MAX_FRAMES];             /* timestamps in us */
	uint32_t w[DD_MAX_FRAMES], h[DD_MAX_FRAMES];
	unsigned source_changes, lasts, out_errors, cap_errors, out_done;
	/* Events a LAST buffer comes with: EOS, and a SOURCE_CHANGE while
	 * CAPTURE streams (a resolution change).  dd_service() checks that
	 * every LAST buffer's event was there by the time it was. */
	unsigned last_events;
	int64_t next_ts;                        /* given to the next OUTPUT buffer */
	int64_t ts_step;                        /* 0: 1000 */
};

/* S_FMT OUTPUT, REQBUFS @nout OUTPUT buffers, subscribe, STREAMON OUTPUT. */
void dd_start(struct dd *dd, struct dp *d, uint32_t id, uint32_t fourcc, uint32_t out_memory,
	      uint32_t cap_memory, uint32_t cap_pixfmt, unsigned nout);
/* Queue one OUTPUT buffer holding @len bytes; returns 0, or -EAGAIN when
 * none is free. */
int dd_feed(struct dd *dd, const uint8_t *p, size_t len);
/* Pump once (up to @timeout_ms), then dequeue everything and react. */
void dd_service(struct dd *dd, int timeout_ms);
/* Feed all of @u; then drain (when CAPTURE streams) and wait for LAST and
 * EOS, or, if CAPTURE never started, for the decoder to go idle. */
void dd_run(struct dd *dd, const struct dp_units *u);
/* Feed units [from, to) without draining, servicing as needed. */
void dd_feed_units(struct dd *dd, const struct dp_units *u, size_t from, size_t to);
/* Service until the decoder is idle and every OUTPUT buffer is back. */
void dd_settle(struct dd *dd);
/* DEC_CMD_STOP and wait for LAST + EOS. */
void dd_drain(struct dd *dd);
/* STREAMOFF both, free everything. */
void dd_end(struct dd *dd);

/* Assert the frames equal @ref (count and every MD5). */
void dd_expect_frames(const struct dd *dd, char (*ref)[33], unsigned nref);

#endif
