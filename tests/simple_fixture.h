/* SPDX-License-Identifier: MIT */
/*
 * The simple camera behind the guest-driver model (media_pair), and the
 * small V4L2-program helpers its tests share: open, set a format, map and
 * queue buffers, dequeue, read a pixel in any of the device's formats.
 */
#ifndef SIMPLE_FIXTURE_H
#define SIMPLE_FIXTURE_H

#include "media_fixture.h"
#include "vmedia_simple.h"

struct simple_pair {
	struct media_pair p;
	struct vmedia_simple *sd;
};

/* @cfg NULL: benchmark mode (frames as soon as buffers are queued), so a
 * test needs no clock; @o NULL: the media_pair defaults. */
void simple_pair_init(struct simple_pair *sp, const struct vmedia_simple_config *cfg,
		      const struct media_pair_opts *o);
void simple_pair_destroy(struct simple_pair *sp);

uint32_t sp_open(struct simple_pair *sp);
int sp_ioctl(struct simple_pair *sp, uint32_t id, unsigned long req, void *arg);

/* S_FMT; asserts success and returns the format set. */
struct v4l2_pix_format sp_set_fmt(struct simple_pair *sp, uint32_t id, uint32_t fourcc,
				  uint32_t w, uint32_t h);

/* REQBUFS; returns the ioctl's result, *count updated. */
int sp_reqbufs(struct simple_pair *sp, uint32_t id, uint32_t memory, uint32_t *count);

/* MMAP buffers: REQBUFS @n, QUERYBUF + MMAP each (the guest's view of them). */
struct sp_bufs {
	uint32_t n;
	uint8_t *view[32];
	uint32_t length[32];
	uint64_t addr[32];
};
void sp_mmap_bufs(struct simple_pair *sp, uint32_t id, uint32_t n, struct sp_bufs *b);
int sp_qbuf_mmap(struct simple_pair *sp, uint32_t id, uint32_t index);
int sp_streamon(struct simple_pair *sp, uint32_t id);
int sp_streamoff(struct simple_pair *sp, uint32_t id);
/* Non-blocking DQBUF of a capture buffer. */
int sp_dqbuf(struct simple_pair *sp, uint32_t id, uint32_t memory, struct v4l2_buffer *b);

/* One captured MMAP frame of the current format: maps 2 buffers, streams,
 * dequeues @skip + 1 frames and copies the last into @out (sizeimage
 * bytes), then stops and frees.  Returns its sequence number. */
uint32_t sp_capture(struct simple_pair *sp, uint32_t id, uint32_t skip, uint8_t *out);

/* The pixel at (x, y) of @frame as the format stores it: {Y, Cb, Cr} or
 * {R, G, B} (4:2:x chroma of the pixel's block). */
void sp_pixel(const struct v4l2_pix_format *f, const uint8_t *frame, uint32_t x, uint32_t y,
	      uint8_t out[3]);

/* Control helpers. */
int sp_g_ctrl(struct simple_pair *sp, uint32_t id, uint32_t cid, int32_t *v);
int sp_s_ctrl(struct simple_pair *sp, uint32_t id, uint32_t cid, int32_t v);

#endif
