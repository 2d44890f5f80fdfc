/* SPDX-License-Identifier: MIT */
/*
 * devices/decoder — a V4L2 stateful (memory-to-memory) video decoder on the
 * virtio-media device API, decoding with libavcodec.
 *
 * It follows the kernel's "Memory-to-Memory Stateful Video Decoder
 * Interface": OUTPUT_MPLANE takes the coded stream (H264, HEVC, VP8, VP9,
 * AV1 through libdav1d, MPEG-2 -- each offered only when this libavcodec
 * has a decoder for it, and the config may narrow the set), CAPTURE_MPLANE
 * gives NV12 or YU12 pictures.  Every session (open()) is its own decoding
 * context with its own two queues, as on a V4L2 M2M node.  The flow:
 * initial V4L2_EVENT_SOURCE_CHANGE before CAPTURE is set up, with the
 * stream's size and colorimetry, once its first picture decodes (if the
 * client gives less data than libavcodec's frame threads hold back, on
 * one thread), for every new stream; dynamic resolution change (the event,
 * then a LAST-flagged CAPTURE buffer); drain with V4L2_DEC_CMD_STOP (every
 * frame, V4L2_EVENT_EOS, an empty LAST buffer); DEC_CMD_START after a drain; seek by
 * STREAMOFF / STREAMON of OUTPUT, V4L2_CID_MIN_BUFFERS_FOR_CAPTURE, and
 * timestamps carried from OUTPUT to CAPTURE buffers.  OUTPUT buffers need
 * not hold one frame each: libavcodec's parsers split the stream.
 *
 * Commands never wait for decoding.  Each session decodes on a worker
 * thread; what a worker finishes reaches the guest (DQBUF and V4L2 events)
 * only when the device's own thread calls vmedia_decoder_complete().
 *  - Under an environment (dev->env_ops, set by the runtime) the decoder
 *    watches its wake fd itself and completes on the loop.
 *  - Driven inline (the vqmedia tool, the libv4l2 plugin, tests), the
 *    caller polls vmedia_decoder_wake_fd() for POLLIN and then calls
 *    vmedia_decoder_complete(); vmedia_decoder_busy() tells a caller
 *    waiting for a buffer whether waiting can help.
 *
 * A bad bitstream (truncated, corrupted, another codec) gives CAPTURE
 * buffers flagged V4L2_BUF_FLAG_ERROR or nothing at all, never a crash or a
 * stall; closing a session mid-decode stops its worker and frees
 * everything.
 */
#ifndef VMEDIA_DECODER_H
#define VMEDIA_DECODER_H

#include "vmedia.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vmedia_decoder_config {
	unsigned threads;   /* libavcodec threads per session; 0: one per online CPU */
	const char *card;   /* config space card name; NULL: "vqmedia decoder" */
	/* The coded formats to offer (V4L2 fourccs, 0-terminated), of those
	 * this libavcodec decodes, in this libavcodec-independent order: H264,
	 * HEVC, VP8, VP9, AV01, MPG2.  NULL: every one it decodes.  Read at
	 * vmedia_decoder_new() only. */
	const uint32_t *codecs;
};

struct vmedia_decoder; /* opaque device state */

/* The ops table: pass it with the state from vmedia_decoder_new() as
 * vmedia_device_config.ops / .priv. */
extern const struct vmedia_device_ops vmedia_decoder_ops;

/* Create / free the device state (@cfg may be NULL).  Returns NULL on
 * failure.  Free only after vmedia_device_destroy() of the runner using it
 * (that closes its sessions, stopping their workers). */
struct vmedia_decoder *vmedia_decoder_new(const struct vmedia_decoder_config *cfg);
void vmedia_decoder_free(struct vmedia_decoder *dec);

/* The config space the transport exposes (VIDEO_M2M_MPLANE | STREAMING). */
struct vmedia_config_space vmedia_decoder_config_space(const struct vmedia_decoder *dec);

/* Readable (POLLIN) while workers have finished work not yet delivered. */
int vmedia_decoder_wake_fd(const struct vmedia_decoder *dec);

/* On the device's thread: deliver what the workers finished (DQBUF and
 * V4L2 events, in the order they happened).  Returns how many completions
 * were delivered (>= 0). */
int vmedia_decoder_complete(struct vmedia_decoder *dec);

/* Whether some worker holds work that will complete without further
 * commands (input not yet decoded, a drain in progress); false when every
 * worker waits for the guest (more OUTPUT or CAPTURE buffers). */
bool vmedia_decoder_busy(const struct vmedia_decoder *dec);

#ifdef __cplusplus
}
#endif
#endif /* VMEDIA_DECODER_H */
