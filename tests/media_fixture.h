/* SPDX-License-Identifier: MIT */
/*
 * A virtio-media device under test wired to the guest-driver model, same
 * thread: the model's commands run the runner inline.  Plus a recording
 * device whose every hook notes what it was given and answers with a
 * transformed copy, so a test can check both directions byte for byte.
 */
#ifndef MEDIA_FIXTURE_H
#define MEDIA_FIXTURE_H

#include "vmedia.h"
#include "vmedia_guest.h"

/* ---- recording device ---- */

#define REC_XOR 0x5a /* what the recording device does to every payload byte */

struct rec_dev {
	unsigned opens, closes, calls;
	int last_nr;                 /* _IOC_NR of the last hook called */
	uint8_t last_arg[2080];      /* the payload it was given */
	size_t last_size;
	int fail_with;               /* > 0: hooks answer -fail_with */
	struct vmedia_buffer last_buf;   /* mem[] pointers may be stale: see below */
	size_t last_mem_len[VMEDIA_MAX_PLANES];
	bool last_mem_bounced[VMEDIA_MAX_PLANES];
	uint32_t last_ctrl_count;
	struct v4l2_ext_control last_ctrls[8];
	uint8_t last_ctrl_data[8][64];   /* pointer memory seen by the hook */
	uint8_t ctrl_answer;             /* byte G_EXT_CTRLS writes into pointer memory */
	bool keep_usermem;               /* qbuf keeps usermem (test puts it later) */
	struct vmedia_session *last_session;
};

extern const struct vmedia_device_ops rec_ops;

/* ---- the pair ---- */

struct media_pair {
	struct vmedia_guest g;
	struct vq_queue cmdq, evq;
	struct vmedia_shm shm;
	struct vmedia_device dev;
	struct rec_dev rec;
};

struct media_pair_opts {
	const struct vmedia_device_ops *ops; /* NULL: rec_ops */
	void *priv;                          /* NULL: &pair->rec */
	uint32_t max_sessions, max_buffers, event_backlog;
	uint64_t usermem_limit;
	uint32_t event_bufs;                 /* guest eventq buffers; 0: 16 */
	bool no_shm;
	struct vmedia_guest_shape shape;
	/* What QUERYCAP reports; device_caps 0: VIDEO_CAPTURE | STREAMING. */
	struct vmedia_config_space config;
};

/* Set up and tear down; asserts (criterion) on failure. */
void media_pair_init(struct media_pair *p, const struct media_pair_opts *o);
void media_pair_destroy(struct media_pair *p);

#endif
