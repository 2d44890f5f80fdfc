/* SPDX-License-Identifier: MIT */
/*
 * m2mdec — the application side of the kernel's "Memory-to-Memory Stateful
 * Video Decoder Interface", on a session of a stack (stack.h):
 *
 *   SUBSCRIBE_EVENT SOURCE_CHANGE + EOS, S_FMT(OUTPUT), REQBUFS + mmap /
 *   user memory, STREAMON(OUTPUT), QBUF coded data ... until the
 *   SOURCE_CHANGE event; G_FMT(CAPTURE) (S_FMT for the wanted pixel
 *   format), G_SELECTION(COMPOSE) for the visible rectangle,
 *   MIN_BUFFERS_FOR_CAPTURE, REQBUFS(CAPTURE), STREAMON(CAPTURE); then
 *   DQBUF / QBUF on both queues.  A dynamic resolution change (a CAPTURE
 *   buffer flagged LAST, and the event) is STREAMOFF(CAPTURE), new buffers
 *   for the new format, STREAMON(CAPTURE).  At the end of the input,
 *   DECODER_CMD(STOP) drains the decoder: every frame, then a LAST buffer.
 *
 * It waits for the device with vqm_wait(), as an application poll()s its
 * video node, so it needs an asynchronous device.  The coded stream and the
 * frames go through callbacks: the tool writes a file, a benchmark counts.
 */
#ifndef VQM_M2MDEC_H
#define VQM_M2MDEC_H

#include <signal.h>

#include "mbuffers.h"
#include "stack.h"

#define VQM_DEC_OUT V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE
#define VQM_DEC_CAP V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE

struct vqm_dec_config {
	uint32_t coded;         /* OUTPUT fourcc: V4L2_PIX_FMT_H264, ... */
	uint32_t width, height; /* coded size if the container says (0: unknown) */
	uint32_t capture;       /* CAPTURE fourcc wanted: V4L2_PIX_FMT_YUV420 or _NV12 */
	uint32_t memory;        /* V4L2_MEMORY_MMAP or _USERPTR, both queues */
	uint32_t out_count;     /* OUTPUT buffers; 0: 8 */
	uint32_t out_size;      /* OUTPUT buffer size asked for; 0: from the size, >= 1 MiB */
	uint32_t idle_ms;       /* give up after this long without progress; 0: 30 s */
	volatile sig_atomic_t *stop; /* set (by a signal handler): stop early */
};

/* A decoded picture in its CAPTURE buffer (one plane: NV12 / YU12). */
struct vqm_dec_frame {
	const uint8_t *data;
	size_t len;                             /* bytesused */
	const struct v4l2_pix_format_mplane *fmt;
	struct v4l2_rect visible;               /* within fmt's width x height */
	uint32_t sequence;
	uint64_t timestamp_us;                  /* of the OUTPUT buffer it came from */
};

struct vqm_dec_ops {
	/* The next piece of the coded stream, kept valid until the next call:
	 * 1 with *@data / *@size, 0 at the end, < 0 failed (reported). */
	int (*input)(void *opaque, const uint8_t **data, size_t *size);
	/* CAPTURE is (re)configured: the first time and after each
	 * resolution change.  0, or < 0 failed (reported).  May be NULL. */
	int (*format)(void *opaque, const struct v4l2_pix_format_mplane *fmt,
		      const struct v4l2_rect *visible);
	/* A frame: 0 go on, 1 enough (stop now), < 0 failed (reported). */
	int (*frame)(void *opaque, const struct vqm_dec_frame *f);
};

struct vqm_dec_stats {
	uint32_t frames;       /* handed to ops->frame */
	uint32_t errors;       /* CAPTURE buffers flagged ERROR, skipped */
	uint32_t changes;      /* resolution changes after the first format */
	uint32_t out_buffers, cap_buffers; /* allocated (the last time) */
	uint32_t min_buffers;  /* MIN_BUFFERS_FOR_CAPTURE (0: not offered) */
	uint64_t in_bytes;     /* coded bytes queued */
	bool drained;          /* ended with the LAST buffer after DECODER_CMD STOP */
	bool eos_event;        /* V4L2_EVENT_EOS came */
	bool stopped;          /* ops->frame or *stop ended it early */
};

/*
 * Decode on session @sid of @s until the drain completes, ops->frame says
 * enough, or *c->stop is set.  Streaming is stopped and the buffers freed
 * before it returns; the session stays open.  Returns 0, or -errno with a
 * message in @err (empty when a callback failed: it reported itself).
 */
int vqm_dec_run(struct vqm_stack *s, uint32_t sid, const struct vqm_dec_config *c,
		const struct vqm_dec_ops *ops, void *opaque, struct vqm_dec_stats *st, char *err,
		size_t len);

#endif
