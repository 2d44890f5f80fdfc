/* SPDX-License-Identifier: MIT */
/*
 * devices/simple — a virtual camera on the virtio-media device API.
 *
 * Single-planar VIDEO_CAPTURE with YUYV, NV12, YU12 and RGB3 at 320x240,
 * 640x480 and 1280x720, 1/30 and 1/60 s frame intervals; one input; colour
 * bars with a moving element and the frame number drawn in, correct in every
 * format; brightness / contrast / saturation / hue controls and a colour
 * effects menu that visibly change the picture, with V4L2_EVENT_CTRL; MMAP
 * and USERPTR buffers.  Format, controls and the buffer queue belong to the
 * device, shared by every session, as with a V4L2 node; the session that
 * allocates buffers owns the queue until it frees them or closes (others get
 * EBUSY).  Errors are those of a vb2 / v4l2-ctrls driver.
 *
 * It never blocks and never sleeps.  Frames are produced in one of two ways:
 *  - benchmark mode: a queued buffer of a streaming session is filled and
 *    returned at once (as fast as buffers come in);
 *  - real-time mode: vmedia_simple_tick() fills one buffer per frame
 *    interval.  When the device runs under an environment that offers
 *    timers (dev->env_ops, set by the runtime), a periodic timer at the
 *    frame interval calls it while the queue streams: started by STREAMON
 *    (first expiry one interval later), restarted when S_PARM changes the
 *    interval, cancelled by STREAMOFF, REQBUFS(0) and close.  Without one
 *    (inline: same-thread tests, the vqmedia tool) the caller calls it
 *    every frame interval; vmedia_simple_next_deadline() says when.
 */
#ifndef VMEDIA_SIMPLE_H
#define VMEDIA_SIMPLE_H

#include "vmedia.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vmedia_simple_config {
	bool benchmark;        /* fill buffers as soon as they are queued */
	const char *card;      /* config space card name; NULL: "vqmedia simple camera" */
};

struct vmedia_simple; /* opaque device state */

/* The device's ops table: pass it with the state from vmedia_simple_new()
 * as vmedia_device_config.ops / .priv. */
extern const struct vmedia_device_ops vmedia_simple_ops;

/* Create / free the device state.  @cfg may be NULL (real-time mode, the
 * default card name); the card string is copied.  Returns NULL on
 * allocation failure.  Free only after vmedia_device_destroy() of the
 * runner using it (that closes its sessions through ops->close). */
struct vmedia_simple *vmedia_simple_new(const struct vmedia_simple_config *cfg);
void vmedia_simple_free(struct vmedia_simple *sd);

/* The config space the transport exposes (device_caps, device_type, card). */
struct vmedia_config_space vmedia_simple_config_space(const struct vmedia_simple *sd);

/*
 * Real-time mode: if the queue is streaming, has a queued buffer and the
 * next frame is due (@now_ns >= vmedia_simple_next_deadline()), fill the
 * oldest queued buffer with the next frame and return it (a DQBUF event).
 * @now_ns is CLOCK_MONOTONIC; the frame is timestamped with it.  The next
 * frame is then due one interval after this deadline, or one interval after
 * @now_ns if the caller fell behind (no burst of late frames).  Returns 1 if
 * a frame was produced, 0 if not (not streaming, no buffer queued, too
 * early).  In benchmark mode there is nothing to do and it returns 0.
 */
int vmedia_simple_tick(struct vmedia_simple *sd, uint64_t now_ns);

/* CLOCK_MONOTONIC time the next frame is due (STREAMON makes the first due
 * at once), or 0 when not streaming. */
uint64_t vmedia_simple_next_deadline(const struct vmedia_simple *sd);

#ifdef __cplusplus
}
#endif
#endif /* VMEDIA_SIMPLE_H */
