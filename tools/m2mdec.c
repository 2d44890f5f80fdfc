/* SPDX-License-Identifier: MIT */
/* The stateful decoder sequence, application side; see m2mdec.h. */
#include "m2mdec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "v4l2names.h"

#define WAIT_SLICE_MS 100

struct dec {
	struct vqm_stack *s;
	uint32_t sid;
	const struct vqm_dec_config *c;
	const struct vqm_dec_ops *ops;
	void *opaque;
	struct vqm_dec_stats *st;
	char *err;
	size_t errlen;

	struct vqm_mbufs out, cap;
	bool out_on, cap_on;
	struct v4l2_pix_format_mplane fmt;
	struct v4l2_rect visible;
	bool configured;      /* CAPTURE was set up at least once */
	/* input */
	const uint8_t *pending;
	size_t pending_len;
	bool input_end;
	uint64_t next_ts;
	/* drain and resolution change */
	bool stop_sent;       /* DECODER_CMD STOP while both queues streamed */
	bool early_stop_sent; /* STOP before CAPTURE streamed (a no-op by the spec) */
	bool change_pending;  /* SOURCE_CHANGE after the first configuration */
	bool last_seen;       /* CAPTURE buffer flagged LAST (or DQBUF said EPIPE) */
	bool done;
};

static int fail(struct dec *d, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct dec *d, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, d->errlen, fmt, ap);
	va_end(ap);
	return r;
}

static int ioctl_fail(struct dec *d, unsigned long req, int r, const char *what)
{
	return fail(d, r, "%s%s%s: %s", vqm_ioctl_name(req), what ? " " : "", what ? what : "",
		    strerror(-r));
}

/* A callback failed and reported itself. */
static int cb_fail(struct dec *d, int r)
{
	d->err[0] = 0;
	return r < 0 ? r : -EIO;
}

/* ---- setup ---- */

static int subscribe(struct dec *d)
{
	static const uint32_t types[] = { V4L2_EVENT_SOURCE_CHANGE, V4L2_EVENT_EOS };
	for (unsigned i = 0; i < 2; i++) {
		struct v4l2_event_subscription sub = { .type = types[i] };
		int r = vqm_ioctl(d->s, d->sid, VIDIOC_SUBSCRIBE_EVENT, &sub);
		if (r)
			return ioctl_fail(d, VIDIOC_SUBSCRIBE_EVENT,
					  r, i ? "(V4L2_EVENT_EOS)" : "(V4L2_EVENT_SOURCE_CHANGE)");
	}
	return 0;
}

static int setup_output(struct dec *d)
{
	const struct vqm_dec_config *c = d->c;
	char cc[8], got[8];
	uint32_t size = c->out_size;
	if (!size) {
		/* A compressed frame is rarely larger than half a raw one. */
		uint64_t raw = (uint64_t)c->width * c->height * 3 / 4;
		size = raw > (1u << 20) ? (uint32_t)raw : 1u << 20;
	}
	struct v4l2_format f = { .type = VQM_DEC_OUT };
	struct v4l2_pix_format_mplane *mp = &f.fmt.pix_mp;
	mp->pixelformat = c->coded;
	mp->width = c->width;
	mp->height = c->height;
	mp->field = V4L2_FIELD_NONE;
	mp->num_planes = 1;
	mp->plane_fmt[0].sizeimage = size;
	int r = vqm_ioctl(d->s, d->sid, VIDIOC_S_FMT, &f);
	if (r)
		return ioctl_fail(d, VIDIOC_S_FMT, r, "(OUTPUT)");
	if (mp->pixelformat != c->coded)
		return fail(d, -ENOTSUP, "the decoder does not take %s streams (%s on OUTPUT chose "
			    "'%s'; 'vqmedia info --device decoder' lists what it takes)",
			    vqm_fourcc(c->coded, cc), vqm_ioctl_name(VIDIOC_S_FMT),
			    vqm_fourcc(mp->pixelformat, got));
	if (mp->num_planes != 1 || !mp->plane_fmt[0].sizeimage)
		return fail(d, -EPROTO, "%s (OUTPUT): %u planes, sizeimage %u",
			    vqm_ioctl_name(VIDIOC_S_FMT), mp->num_planes, mp->plane_fmt[0].sizeimage);
	uint32_t sizes[1] = { mp->plane_fmt[0].sizeimage };
	r = vqm_mbufs_alloc(d->s, d->sid, &d->out, VQM_DEC_OUT, c->memory,
			    c->out_count ? c->out_count : 16, 1, sizes, true);
	if (r)
		return fail(d, r, "%s (OUTPUT): %s", d->out.failed, strerror(-r));
	d->st->out_buffers = d->out.count;
	int type = VQM_DEC_OUT;
	if ((r = vqm_ioctl(d->s, d->sid, VIDIOC_STREAMON, &type)) != 0)
		return ioctl_fail(d, VIDIOC_STREAMON, r, "(OUTPUT)");
	d->out_on = true;
	return 0;
}

/* The visible rectangle: COMPOSE on CAPTURE.  The V4L2 core hands drivers
 * the single-planar type for selections; try that first. */
static void get_visible(struct dec *d)
{
	static const uint32_t types[] = { V4L2_BUF_TYPE_VIDEO_CAPTURE, VQM_DEC_CAP };
	d->visible = (struct v4l2_rect){ 0, 0, d->fmt.width, d->fmt.height };
	for (unsigned i = 0; i < 2; i++) {
		struct v4l2_selection sel = { .type = types[i], .target = V4L2_SEL_TGT_COMPOSE };
		if (vqm_ioctl(d->s, d->sid, VIDIOC_G_SELECTION, &sel) == 0) {
			const struct v4l2_rect *v = &sel.r;
			if (v->width && v->height && v->left >= 0 && v->top >= 0 &&
			    (uint64_t)v->left + v->width <= d->fmt.width &&
			    (uint64_t)v->top + v->height <= d->fmt.height)
				d->visible = *v;
			return;
		}
	}
}

static uint32_t min_buffers(struct dec *d)
{
	struct v4l2_control ctl = { .id = V4L2_CID_MIN_BUFFERS_FOR_CAPTURE };
	if (vqm_ioctl(d->s, d->sid, VIDIOC_G_CTRL, &ctl) == 0 && ctl.value > 0)
		return (uint32_t)ctl.value;
	struct v4l2_ext_control ec = { .id = V4L2_CID_MIN_BUFFERS_FOR_CAPTURE };
	struct v4l2_ext_controls ecs = { .which = V4L2_CTRL_WHICH_CUR_VAL, .count = 1,
					 .controls = &ec };
	if (vqm_ioctl(d->s, d->sid, VIDIOC_G_EXT_CTRLS, &ecs) == 0 && ec.value > 0)
		return (uint32_t)ec.value;
	return 0;
}

/* Bytes a frame of @fmt needs in its one plane. */
static uint64_t frame_bytes(const struct v4l2_pix_format_mplane *fmt)
{
	uint64_t bpl = fmt->plane_fmt[0].bytesperline, h = fmt->height;
	return bpl * h + 2 * (bpl / 2) * ((h + 1) / 2);
}

static int setup_capture(struct dec *d)
{
	const struct vqm_dec_config *c = d->c;
	char cc[8], got[8];
	struct v4l2_format f = { .type = VQM_DEC_CAP };
	int r = vqm_ioctl(d->s, d->sid, VIDIOC_G_FMT, &f);
	if (r)
		return ioctl_fail(d, VIDIOC_G_FMT, r, "(CAPTURE)");
	if (f.fmt.pix_mp.pixelformat != c->capture) {
		f.fmt.pix_mp.pixelformat = c->capture;
		if ((r = vqm_ioctl(d->s, d->sid, VIDIOC_S_FMT, &f)) != 0)
			return ioctl_fail(d, VIDIOC_S_FMT, r, "(CAPTURE)");
		if (f.fmt.pix_mp.pixelformat != c->capture)
			return fail(d, -ENOTSUP, "the decoder does not give %s frames (%s on CAPTURE "
				    "chose '%s')", vqm_fourcc(c->capture, cc),
				    vqm_ioctl_name(VIDIOC_S_FMT),
				    vqm_fourcc(f.fmt.pix_mp.pixelformat, got));
	}
	d->fmt = f.fmt.pix_mp;
	const struct v4l2_plane_pix_format *pf = &d->fmt.plane_fmt[0];
	if (d->fmt.num_planes != 1)
		return fail(d, -ENOTSUP, "CAPTURE format '%s' has %u planes; only single-buffer "
			    "formats are supported", vqm_fourcc(d->fmt.pixelformat, cc),
			    d->fmt.num_planes);
	if (!d->fmt.width || !d->fmt.height || pf->bytesperline < d->fmt.width ||
	    frame_bytes(&d->fmt) > pf->sizeimage)
		return fail(d, -EPROTO, "inconsistent CAPTURE format from the decoder: %ux%u, "
			    "bytesperline %u, sizeimage %u", d->fmt.width, d->fmt.height,
			    pf->bytesperline, pf->sizeimage);
	get_visible(d);
	uint32_t min = min_buffers(d);
	d->st->min_buffers = min;
	/* What the decoder keeps for reference, plus the ones we hold. */
	uint32_t want = (min ? min : 4) + 2;
	uint32_t sizes[1] = { pf->sizeimage };
	r = vqm_mbufs_alloc(d->s, d->sid, &d->cap, VQM_DEC_CAP, c->memory, want, 1, sizes, false);
	if (r)
		return fail(d, r, "%s (CAPTURE): %s", d->cap.failed, strerror(-r));
	if (d->cap.count < min)
		return fail(d, -ENOBUFS, "%s (CAPTURE): %u buffers granted, the decoder needs %u",
			    vqm_ioctl_name(VIDIOC_REQBUFS), d->cap.count, min);
	d->st->cap_buffers = d->cap.count;
	if (d->ops->format && (r = d->ops->format(d->opaque, &d->fmt, &d->visible)) != 0)
		return cb_fail(d, r);
	for (uint32_t i = 0; i < d->cap.count; i++)
		if ((r = vqm_mbufs_qbuf(d->s, d->sid, &d->cap, i, NULL, 0)) != 0)
			return ioctl_fail(d, VIDIOC_QBUF, r, "(CAPTURE)");
	int type = VQM_DEC_CAP;
	if ((r = vqm_ioctl(d->s, d->sid, VIDIOC_STREAMON, &type)) != 0)
		return ioctl_fail(d, VIDIOC_STREAMON, r, "(CAPTURE)");
	d->cap_on = true;
	d->configured = true;
	d->last_seen = false;
	return 0;
}

static int stop_capture(struct dec *d)
{
	int r = 0;
	if (d->cap_on) {
		int type = VQM_DEC_CAP;
		r = vqm_ioctl(d->s, d->sid, VIDIOC_STREAMOFF, &type);
		d->cap_on = false;
		if (r)
			ioctl_fail(d, VIDIOC_STREAMOFF, r, "(CAPTURE)");
	}
	vqm_mbufs_returned(&d->cap);
	int f = vqm_mbufs_free(d->s, d->sid, &d->cap);
	if (f && !r) {
		r = f;
		ioctl_fail(d, VIDIOC_REQBUFS, r, "(freeing CAPTURE buffers)");
	}
	return r;
}

/* The resolution changed: the LAST buffer is out, so every frame of the
 * old size is; set CAPTURE up again for the new one. */
static int change_resolution(struct dec *d)
{
	int r = stop_capture(d);
	if (r)
		return r;
	d->change_pending = false;
	d->st->changes++;
	return setup_capture(d);
}

/* ---- streaming ---- */

static int drain_events(struct dec *d, bool *progress)
{
	for (;;) {
		struct v4l2_event ev;
		memset(&ev, 0, sizeof(ev));
		int r = vqm_ioctl(d->s, d->sid, VIDIOC_DQEVENT, &ev);
		if (r == -ENOENT)
			return 0;
		if (r)
			return ioctl_fail(d, VIDIOC_DQEVENT, r, NULL);
		*progress = true;
		if (ev.type == V4L2_EVENT_EOS) {
			d->st->eos_event = true;
		} else if (ev.type == V4L2_EVENT_SOURCE_CHANGE &&
			   (ev.u.src_change.changes & V4L2_EVENT_SRC_CH_RESOLUTION)) {
			if (!d->configured) {
				if ((r = setup_capture(d)) != 0)
					return r;
			} else {
				d->change_pending = true;
			}
		}
	}
}

static int dequeue_output(struct dec *d, bool *progress)
{
	for (;;) {
		struct v4l2_buffer b;
		struct v4l2_plane planes[VIDEO_MAX_PLANES];
		int r = vqm_mbufs_dqbuf(d->s, d->sid, &d->out, &b, planes);
		if (r == -EAGAIN)
			return 0;
		if (r)
			return ioctl_fail(d, VIDIOC_DQBUF, r, "(OUTPUT)");
		*progress = true;
	}
}

static int feed(struct dec *d, bool *progress)
{
	int idx;
	while (!d->input_end && (idx = vqm_mbufs_free_index(&d->out)) >= 0) {
		if (!d->pending_len) {
			int r = d->ops->input(d->opaque, &d->pending, &d->pending_len);
			if (r < 0)
				return cb_fail(d, r);
			if (r == 0 || !d->pending_len) {
				d->input_end = r == 0;
				d->pending_len = 0;
				continue;
			}
		}
		struct vqm_mplane *p = &d->out.b[idx].p[0];
		/* A packet per buffer; one bigger than a buffer is split, which
		 * the stateful interface allows (the decoder parses). */
		uint32_t n = d->pending_len < p->length ? (uint32_t)d->pending_len : p->length;
		memcpy(p->ptr, d->pending, n);
		d->pending += n;
		d->pending_len -= n;
		int r = vqm_mbufs_qbuf(d->s, d->sid, &d->out, (uint32_t)idx, &n, ++d->next_ts);
		if (r)
			return ioctl_fail(d, VIDIOC_QBUF, r, "(OUTPUT)");
		d->st->in_bytes += n;
		*progress = true;
	}
	return 0;
}

static int send_stop(struct dec *d)
{
	struct v4l2_decoder_cmd cmd = { .cmd = V4L2_DEC_CMD_STOP };
	int r = vqm_ioctl(d->s, d->sid, VIDIOC_DECODER_CMD, &cmd);
	return r ? ioctl_fail(d, VIDIOC_DECODER_CMD, r, "(V4L2_DEC_CMD_STOP)") : 0;
}

static int take_frame(struct dec *d, const struct v4l2_buffer *b)
{
	const struct v4l2_plane *pl = &b->m.planes[0];
	uint32_t used = pl->bytesused;
	if (b->flags & V4L2_BUF_FLAG_ERROR) {
		d->st->errors++;
		return 0;
	}
	if (!used)
		return 0; /* an empty LAST buffer */
	const struct vqm_mplane *p = &d->cap.b[b->index].p[0];
	if (used > p->length || pl->data_offset >= used)
		return fail(d, -EPROTO, "%s (CAPTURE): bytesused %u, data_offset %u, length %u",
			    vqm_ioctl_name(VIDIOC_DQBUF), used, pl->data_offset, p->length);
	if (used - pl->data_offset < frame_bytes(&d->fmt))
		return fail(d, -EPROTO, "%s (CAPTURE): %u bytes in the buffer, a %ux%u frame "
			    "needs %llu", vqm_ioctl_name(VIDIOC_DQBUF), used - pl->data_offset,
			    d->fmt.width, d->fmt.height, (unsigned long long)frame_bytes(&d->fmt));
	struct vqm_dec_frame f = {
		.data = p->ptr + pl->data_offset,
		.len = used - pl->data_offset,
		.fmt = &d->fmt,
		.visible = d->visible,
		.sequence = b->sequence,
		.timestamp_us = (uint64_t)b->timestamp.tv_sec * 1000000u +
				(uint64_t)b->timestamp.tv_usec,
	};
	d->st->frames++;
	int r = d->ops->frame(d->opaque, &f);
	if (r < 0)
		return cb_fail(d, r);
	if (r > 0) {
		d->st->stopped = true;
		d->done = true;
	}
	return 0;
}

static int dequeue_capture(struct dec *d, bool *progress)
{
	while (d->cap_on && !d->last_seen && !d->done) {
		struct v4l2_buffer b;
		struct v4l2_plane planes[VIDEO_MAX_PLANES];
		int r = vqm_mbufs_dqbuf(d->s, d->sid, &d->cap, &b, planes);
		if (r == -EAGAIN)
			return 0;
		*progress = true;
		if (r == -EPIPE) {
			d->last_seen = true;
			return 0;
		}
		if (r)
			return ioctl_fail(d, VIDIOC_DQBUF, r, "(CAPTURE)");
		if ((r = take_frame(d, &b)) != 0)
			return r;
		if (b.flags & V4L2_BUF_FLAG_LAST) {
			d->last_seen = true;
			return 0;
		}
		if (!d->done && (r = vqm_mbufs_qbuf(d->s, d->sid, &d->cap, b.index, NULL, 0)) != 0)
			return ioctl_fail(d, VIDIOC_QBUF, r, "(CAPTURE)");
	}
	return 0;
}

/* After a LAST buffer: a resolution change, or the end of the drain. */
static int after_last(struct dec *d, bool *progress)
{
	if (!d->last_seen)
		return 0;
	if (d->change_pending) {
		*progress = true;
		return change_resolution(d);
	}
	if (d->stop_sent) {
		/* The event of a change during the drain may still be on
		 * its way: look once more before calling it the end. */
		int r = vqm_wait(d->s, 0);
		if (r < 0)
			return fail(d, r, "waiting for the decoder: %s", strerror(-r));
		if ((r = drain_events(d, progress)) != 0)
			return r;
		if (d->change_pending) {
			*progress = true;
			return change_resolution(d);
		}
		d->st->drained = true;
		d->done = true;
	}
	/* Otherwise the SOURCE_CHANGE event is still to come. */
	return 0;
}

static int step(struct dec *d, bool *progress)
{
	int r;
	if ((r = dequeue_output(d, progress)) != 0 || (r = feed(d, progress)) != 0 ||
	    (r = drain_events(d, progress)) != 0 || (r = dequeue_capture(d, progress)) != 0 ||
	    (r = after_last(d, progress)) != 0)
		return r;
	if (d->input_end && !d->stop_sent && d->cap_on && !d->last_seen && !d->done) {
		if ((r = send_stop(d)) != 0)
			return r;
		d->stop_sent = true;
		*progress = true;
	}
	return 0;
}

static const char *state(struct dec *d, char *buf, size_t len)
{
	unsigned out_q = 0, cap_q = 0;
	for (uint32_t i = 0; i < d->out.count; i++)
		out_q += d->out.b[i].queued;
	for (uint32_t i = 0; i < d->cap.count; i++)
		cap_q += d->cap.b[i].queued;
	snprintf(buf, len, "%u frames out, %u of %u OUTPUT and %u of %u CAPTURE buffers queued%s%s",
		 d->st->frames, out_q, d->out.count, cap_q, d->cap.count,
		 d->input_end ? ", input ended" : "", d->stop_sent ? ", draining" : "");
	return buf;
}

static int loop(struct dec *d)
{
	uint32_t idle_ms = d->c->idle_ms ? d->c->idle_ms : 30000, waited = 0;
	while (!d->done) {
		if (d->c->stop && *d->c->stop) {
			d->st->stopped = true;
			return 0;
		}
		bool progress = false;
		int r = step(d, &progress);
		if (r)
			return r;
		if (progress || d->done) {
			waited = 0;
			continue;
		}
		/* Nothing to do until the device finishes something. */
		r = vqm_wait(d->s, 0);
		if (r == 0 && !vqm_busy(d->s)) {
			/* The workers wait for us; anything they finished
			 * before going idle is behind the wake fd by now. */
			r = vqm_wait(d->s, 0);
			if (r == 0) {
				char st[160];
				if (!d->configured && d->input_end && !d->early_stop_sent) {
					/* A decoder may need the end of the stream to
					 * find the first picture (one-frame streams). */
					if ((r = send_stop(d)) != 0)
						return r;
					d->early_stop_sent = true;
					continue;
				}
				if (!d->configured)
					return fail(d, -ENODATA, "the decoder found no picture in the "
						    "stream (no V4L2_EVENT_SOURCE_CHANGE after %llu "
						    "bytes)", (unsigned long long)d->st->in_bytes);
				return fail(d, -EIO, "the decoder stopped: it waits for nothing we "
					    "can give (%s)", state(d, st, sizeof(st)));
			}
		} else if (r == 0) {
			r = vqm_wait(d->s, WAIT_SLICE_MS);
			if (r == 0 && (waited += WAIT_SLICE_MS) >= idle_ms) {
				char st[160];
				return fail(d, -ETIMEDOUT, "the decoder made no progress for %u s (%s)",
					    idle_ms / 1000, state(d, st, sizeof(st)));
			}
		}
		if (r == -EINTR)
			continue;
		if (r < 0)
			return fail(d, r, "waiting for the decoder: %s", strerror(-r));
		if (r > 0)
			waited = 0;
	}
	return 0;
}

int vqm_dec_run(struct vqm_stack *s, uint32_t sid, const struct vqm_dec_config *c,
		const struct vqm_dec_ops *ops, void *opaque, struct vqm_dec_stats *st, char *err,
		size_t len)
{
	struct dec *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	*d = (struct dec){ .s = s, .sid = sid, .c = c, .ops = ops, .opaque = opaque, .st = st,
			   .err = err, .errlen = len };
	memset(st, 0, sizeof(*st));
	err[0] = 0;
	int r = subscribe(d);
	if (!r)
		r = setup_output(d);
	if (!r)
		r = loop(d);
	/* Teardown keeps the first error's message. */
	char keep[256];
	snprintf(keep, sizeof(keep), "%s", err);
	int t = stop_capture(d);
	if (d->out_on) {
		int type = VQM_DEC_OUT;
		int q = vqm_ioctl(s, sid, VIDIOC_STREAMOFF, &type);
		if (q && !t) {
			t = q;
			ioctl_fail(d, VIDIOC_STREAMOFF, q, "(OUTPUT)");
		}
	}
	vqm_mbufs_returned(&d->out);
	int f = vqm_mbufs_free(s, sid, &d->out);
	if (f && !t) {
		t = f;
		ioctl_fail(d, VIDIOC_REQBUFS, f, "(freeing OUTPUT buffers)");
	}
	if (r) {
		snprintf(err, len, "%s", keep);
	} else if (t) {
		r = t;
	} else if (s->runner_err) {
		r = s->runner_err;
		snprintf(err, len, "the virtio-media runner failed: %s", strerror(-r));
	}
	free(d);
	return r;
}
