/* SPDX-License-Identifier: MIT */
/*
 * Internal interfaces of the simple device, between its files:
 *   simple.c   ops table, sessions, inputs, buffer queue, streaming, frames
 *   formats.c  format table, sizes, intervals, G/S/TRY_FMT, G/S_PARM
 *   pattern.c  the test picture in every format, with the controls applied
 *   controls.c the controls and their events
 * Everything here is device-wide state: V4L2 has one format, one set of
 * controls and one buffer queue per video node, shared by all its fds.
 */
#ifndef SIMPLE_INTERNAL_H
#define SIMPLE_INTERNAL_H

#include "vmedia_simple.h"

#define SIMPLE_MAX_BUFFERS 32 /* VIDEO_MAX_FRAME, as vb2 */
#define SIMPLE_NUM_CTRLS 6    /* the class control + 5 */

/* ---- formats.c ---- */

struct simple_format {
	uint32_t pixelformat, width, height;
	uint32_t bytesperline, sizeimage;
};

struct simple_parm {
	struct v4l2_fract interval; /* seconds per frame */
};

/* The default: 640x480 YUYV. */
void simple_format_default(struct simple_format *f);
void simple_parm_default(struct simple_parm *p);
/* Nanoseconds per frame. */
uint64_t simple_interval_ns(const struct simple_parm *p);

/* Format hooks; @cur is the device's format, updated by S_FMT only.
 * @busy: buffers are allocated (S_FMT answers EBUSY). */
int simple_enum_fmt(struct v4l2_fmtdesc *d);
int simple_g_fmt(const struct simple_format *cur, struct v4l2_format *f);
int simple_try_fmt(struct v4l2_format *f, struct simple_format *out);
int simple_enum_framesizes(struct v4l2_frmsizeenum *fs);
int simple_enum_frameintervals(struct v4l2_frmivalenum *fi);
int simple_g_parm(const struct simple_parm *cur, struct v4l2_streamparm *p);
int simple_s_parm(struct simple_parm *cur, struct v4l2_streamparm *p);

/* ---- controls.c ---- */

struct simple_ctrl_values {
	int32_t brightness; /* 0..255, 128 neutral: offset to luma */
	int32_t contrast;   /* 0..255, 128 = x1 */
	int32_t saturation; /* 0..255, 128 = x1 */
	int32_t hue;        /* -180..180 degrees */
	int32_t colorfx;    /* V4L2_COLORFX_NONE / BW / SEPIA / NEGATIVE */
};

/* Per-session subscription to one control's events. */
struct simple_ctrl_sub {
	bool on;
	uint32_t flags; /* V4L2_EVENT_SUB_FL_* */
};

struct simple_ctrls {
	int32_t val[SIMPLE_NUM_CTRLS];
	uint32_t generation; /* bumped on every change: the pattern cache key */
};

struct simple_session;

void simple_ctrls_init(struct simple_ctrls *c);
void simple_ctrls_values(const struct simple_ctrls *c, struct simple_ctrl_values *v);

/* ---- pattern.c ---- */

/*
 * One row per plane of the picture without overlays (the bars), in the
 * format, with the controls applied, plus the overlay colours; rebuilt
 * when the format or a control changes, so a frame is mostly memcpy.
 */
struct simple_pattern {
	struct simple_format fmt;
	uint32_t ctrl_generation;
	bool valid;
	uint8_t *row[3];     /* plane rows: Y (or packed), U / UV, V */
	uint32_t rowlen[3];
	uint8_t box[3];      /* the moving element's colour: Y U V, or R G B / B G R as written */
	uint8_t fg[3], bg[3];/* frame number digits and their background */
	uint8_t bars[8][3];  /* bar colours as written, for tests and tools */
};

void simple_pattern_init(struct simple_pattern *p);
void simple_pattern_destroy(struct simple_pattern *p);
/* Make @p match @f and @c (no-op if it does).  Returns 0 or -ENOMEM. */
int simple_pattern_update(struct simple_pattern *p, const struct simple_format *f,
			  const struct simple_ctrls *c);
/* Draw frame @n into @dst (f->sizeimage bytes). */
void simple_pattern_draw(const struct simple_pattern *p, uint32_t n, uint8_t *dst);

/* Where things are drawn, so tests can look at them. */
uint32_t simple_pattern_box_x(const struct simple_format *f, uint32_t n);
void simple_pattern_box_geometry(const struct simple_format *f, uint32_t *y, uint32_t *size);

/* ---- simple.c ---- */

enum simple_buf_state { BUF_DEQUEUED, BUF_PREPARED, BUF_QUEUED };

struct simple_buf {
	enum simple_buf_state state;
	uint32_t length;             /* MMAP: allocated; USERPTR: as queued */
	uint32_t offset;             /* MMAP mem_offset */
	uint8_t *host;               /* MMAP: the device's view */
	struct vmedia_usermem *mem;  /* USERPTR: owned while prepared / queued */
	uint32_t bytesused, sequence;
	struct timeval timestamp;
};

struct simple_session {
	struct vmedia_session *s;
	struct vmedia_simple *sd;
	struct simple_session *next;
	struct simple_ctrl_sub sub[SIMPLE_NUM_CTRLS];
};

struct vmedia_simple {
	struct vmedia_simple_config cfg;
	struct vmedia_device *dev; /* the runner, learned at the first open */
	char card[VMEDIA_CARD_SIZE];
	struct simple_session *sessions;

	struct simple_format fmt;
	struct simple_parm parm;
	struct simple_ctrls ctrls;
	struct simple_pattern pattern;

	/* The buffer queue, owned by one session while buffers exist. */
	struct simple_session *owner;
	uint32_t memory;
	uint32_t nbufs;
	struct simple_buf bufs[SIMPLE_MAX_BUFFERS];
	uint32_t fifo[SIMPLE_MAX_BUFFERS]; /* queued buffers, oldest first */
	uint32_t fifo_head, fifo_len;
	bool streaming;
	uint32_t sequence;
	uint64_t deadline; /* real-time mode: when the next frame is due */
	/* Real-time mode under an environment (dev->env_ops): the frame timer
	 * while streaming, and the environment it was started in. */
	int pace_timer; /* handle, or -1 */
	const struct vmedia_env_ops *pace_ops;
	void *pace_env;
};

/* Buffer and streaming hooks (buffers.c). */
int simple_reqbufs(struct vmedia_session *s, struct v4l2_requestbuffers *rb);
int simple_create_bufs(struct vmedia_session *s, struct v4l2_create_buffers *cb);
int simple_querybuf(struct vmedia_session *s, struct vmedia_buffer *b);
int simple_qbuf(struct vmedia_session *s, struct vmedia_buffer *b);
int simple_prepare_buf(struct vmedia_session *s, struct vmedia_buffer *b);
int simple_streamon(struct vmedia_session *s, int *type);
int simple_streamoff(struct vmedia_session *s, int *type);
/* Real-time pacing on the environment's timer (buffers.c): the frame
 * interval changed while streaming: restart the timer with it. */
int simple_pace_restart(struct vmedia_simple *sd);
/* @ss is closing: if it owns the queue, stop and free everything. */
void simple_buffers_release(struct vmedia_simple *sd, struct simple_session *ss);

/* Control hooks (controls.c). */
int simple_queryctrl(struct vmedia_session *s, struct v4l2_queryctrl *q);
int simple_query_ext_ctrl(struct vmedia_session *s, struct v4l2_query_ext_ctrl *q);
int simple_querymenu(struct vmedia_session *s, struct v4l2_querymenu *m);
int simple_g_ctrl(struct vmedia_session *s, struct v4l2_control *c);
int simple_s_ctrl(struct vmedia_session *s, struct v4l2_control *c);
int simple_g_ext_ctrls(struct vmedia_session *s, struct vmedia_ext_ctrls *x);
int simple_s_ext_ctrls(struct vmedia_session *s, struct vmedia_ext_ctrls *x);
int simple_try_ext_ctrls(struct vmedia_session *s, struct vmedia_ext_ctrls *x);
int simple_subscribe_event(struct vmedia_session *s, struct v4l2_event_subscription *e);
int simple_unsubscribe_event(struct vmedia_session *s, struct v4l2_event_subscription *e);

#endif /* SIMPLE_INTERNAL_H */
