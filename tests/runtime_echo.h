/* SPDX-License-Identifier: MIT */
/*
 * An echo device on a vmedia_runtime thread, driven from another thread by a
 * hand-built driver on fake_queue's eventfd transport (tests/test_runtime.c,
 * bench/bench_runtime.c).
 *
 * Device: G_FMT takes fmt.pix.width as the session's sequence number, counts
 * one that is not the previous + 1 (lost, duplicated or reordered), answers
 * height = seq ^ ECHO_XOR and bytesperline = the session id.
 * Driver: chains R [ioctl cmd 16 | v4l2_format 204]  W [resp 8 | format 204],
 * each in flight in its own guest memory (a tag), checked on completion:
 * status 0, full length, the echo, and per-session completion order.
 * Helper-thread safe: nothing here asserts; failures are counted.
 */
#ifndef RUNTIME_ECHO_H
#define RUNTIME_ECHO_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmedia_runtime.h"
#include "vq_fake_eventfd.h"

#define ECHO_XOR 0x5a5aa5a5u
#define ECHO_QSIZE 256   /* 2 descriptors per command: up to 128 in flight */
#define ECHO_TAGS 128
#define ECHO_SESSIONS 64 /* the runner's default max_sessions */

struct echo_dev {
	uint64_t calls, bad_seq, opens, closes; /* loop thread only */
};

struct echo_sess {
	uint32_t next;
};

static int echo_open(struct vmedia_session *s)
{
	struct echo_dev *d = s->dev->priv;
	struct echo_sess *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	s->priv = st;
	d->opens++;
	return 0;
}

static void echo_close(struct vmedia_session *s)
{
	struct echo_dev *d = s->dev->priv;
	free(s->priv);
	s->priv = NULL;
	d->closes++;
}

static int echo_g_fmt(struct vmedia_session *s, struct v4l2_format *f)
{
	struct echo_dev *d = s->dev->priv;
	struct echo_sess *st = s->priv;
	uint32_t seq = f->fmt.pix.width;
	if (seq != st->next)
		d->bad_seq++;
	st->next = seq + 1;
	f->fmt.pix.height = seq ^ ECHO_XOR;
	f->fmt.pix.bytesperline = s->id;
	d->calls++;
	return 0;
}

static const struct vmedia_device_ops echo_ops = {
	.open = echo_open,
	.close = echo_close,
	.g_fmt = echo_g_fmt,
};

struct echo_tag {
	uint64_t in_gpa, out_gpa;
	uint8_t *in, *out;
	uint32_t session, seq;
	bool open_cmd;
};

struct echo_pair {
	/* driver side: one thread */
	struct vq_fake cmdf, evf;
	struct vq_fake_efd cmd_d, ev_d;
	struct echo_tag tags[ECHO_TAGS];
	uint16_t free_tags[ECHO_TAGS];
	unsigned nfree;
	int16_t head_tag[ECHO_QSIZE];
	uint32_t sess_next[ECHO_SESSIONS];  /* next seq to submit, by session index */
	uint32_t sess_done[ECHO_SESSIONS];  /* next seq expected back */
	uint32_t sess_id[ECHO_SESSIONS];
	uint64_t completed, errors, inflight;
	uint32_t last_open_id;
	int last_open_status;
	/* the fds */
	int cmd_kick, ev_kick, call;
	/* device side: the runtime thread */
	struct vq_queue cmdq, evq;
	struct vmedia_device dev;
	struct echo_dev echo;
	struct vmedia_runtime rt;
	int rt_error_seen; /* set by on_error (loop thread), atomic */
};

static void echo_on_error(void *opaque, int err)
{
	struct echo_pair *p = opaque;
	__atomic_store_n(&p->rt_error_seen, err, __ATOMIC_RELEASE);
}

/* Build both sides (not started).  Returns 0 or -errno. */
static int echo_pair_init_ex(struct echo_pair *p, unsigned loop_flags, uint32_t flush_every)
{
	memset(p, 0, sizeof(*p));
	p->cmd_kick = eventfd(0, EFD_CLOEXEC);
	p->ev_kick = eventfd(0, EFD_CLOEXEC);
	p->call = eventfd(0, EFD_CLOEXEC);
	if (p->cmd_kick < 0 || p->ev_kick < 0 || p->call < 0)
		return -errno;
	struct vq_fake_config fc = { .size = ECHO_QSIZE, .region_size = 1 << 20 };
	int r = vq_fake_init(&p->cmdf, &fc);
	if (r)
		return r;
	fc.size = 16;
	fc.gpa_base = VQ_FAKE_DEFAULT_GPA + (1ull << 30);
	if ((r = vq_fake_init(&p->evf, &fc)))
		return r;
	vq_fake_efd_attach(&p->cmd_d, &p->cmdf, p->cmd_kick, p->call);
	vq_fake_efd_attach(&p->ev_d, &p->evf, p->ev_kick, p->call);
	for (unsigned i = 0; i < ECHO_TAGS; i++) {
		struct echo_tag *t = &p->tags[i];
		t->in_gpa = vq_fake_alloc(&p->cmdf, 256);
		t->out_gpa = vq_fake_alloc(&p->cmdf, 256);
		if (!t->in_gpa || !t->out_gpa)
			return -ENOMEM;
		t->in = vq_fake_host(&p->cmdf, t->in_gpa, 256);
		t->out = vq_fake_host(&p->cmdf, t->out_gpa, 256);
		p->free_tags[p->nfree++] = (uint16_t)(ECHO_TAGS - 1 - i);
	}
	for (unsigned i = 0; i < ECHO_QSIZE; i++)
		p->head_tag[i] = -1;
	struct vq_queue_config qc;
	vq_fake_queue_config(&p->cmdf, &qc);
	if ((r = vq_queue_init(&p->cmdq, &qc)))
		return r;
	vq_fake_queue_config(&p->evf, &qc);
	if ((r = vq_queue_init(&p->evq, &qc)))
		return r;
	struct vmedia_device_config dc = {
		.ops = &echo_ops,
		.priv = &p->echo,
		.commandq = &p->cmdq,
		.eventq = &p->evq,
		.mem = &p->cmdf.mem,
		.max_sessions = ECHO_SESSIONS,
		.config = { .device_caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING },
	};
	if ((r = vmedia_device_init(&p->dev, &dc)))
		return r;
	struct vmedia_runtime_config rc = {
		.dev = &p->dev,
		.cmd_kick_fd = p->cmd_kick,
		.evq_kick_fd = p->ev_kick,
		.call_fd = p->call,
		.loop_flags = loop_flags,
		.flush_every = flush_every,
		.on_error = echo_on_error,
		.opaque = p,
	};
	return vmedia_runtime_init(&p->rt, &rc);
}

static inline int echo_pair_init(struct echo_pair *p, unsigned loop_flags)
{
	return echo_pair_init_ex(p, loop_flags, 0);
}

/* After vmedia_runtime_destroy() (or a failed runtime init). */
static void echo_pair_destroy(struct echo_pair *p)
{
	vmedia_device_destroy(&p->dev);
	vq_queue_destroy(&p->cmdq);
	vq_queue_destroy(&p->evq);
	vq_fake_destroy(&p->cmdf);
	vq_fake_destroy(&p->evf);
	if (p->cmd_kick >= 0)
		close(p->cmd_kick);
	close(p->ev_kick);
	close(p->call);
}

/* Add one G_FMT (session index @si) or, if @open_cmd, an OPEN.  Not
 * published.  Returns 0, -EAGAIN when no tag or descriptor is free. */
static int echo_add(struct echo_pair *p, unsigned si, bool open_cmd)
{
	if (!p->nfree || vq_fake_num_free(&p->cmdf) < 2)
		return -EAGAIN;
	uint16_t ti = p->free_tags[--p->nfree];
	struct echo_tag *t = &p->tags[ti];
	struct vq_fake_buf b[2];
	t->open_cmd = open_cmd;
	t->session = si;
	if (open_cmd) {
		struct vmedia_cmd_open c = { .hdr = { .cmd = VMEDIA_CMD_OPEN } };
		memcpy(t->in, &c, sizeof(c));
		b[0] = (struct vq_fake_buf){ t->in_gpa, sizeof(c), false };
		b[1] = (struct vq_fake_buf){ t->out_gpa, sizeof(struct vmedia_resp_open), true };
	} else {
		t->seq = p->sess_next[si]++;
		struct vmedia_cmd_ioctl c = { .hdr = { .cmd = VMEDIA_CMD_IOCTL },
					      .session_id = p->sess_id[si],
					      .code = _IOC_NR(VIDIOC_G_FMT) };
		struct v4l2_format f;
		memset(&f, 0, sizeof(f));
		f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		f.fmt.pix.width = t->seq;
		memcpy(t->in, &c, sizeof(c));
		memcpy(t->in + sizeof(c), &f, sizeof(f));
		b[0] = (struct vq_fake_buf){ t->in_gpa, sizeof(c) + sizeof(f), false };
		b[1] = (struct vq_fake_buf){ t->out_gpa, 8 + sizeof(f), true };
	}
	memset(t->out, 0xee, 8 + sizeof(struct v4l2_format));
	int head = vq_fake_add(&p->cmdf, b, 2, 0);
	if (head < 0) {
		p->free_tags[p->nfree++] = ti;
		return -EAGAIN;
	}
	p->head_tag[head] = (int16_t)ti;
	p->inflight++;
	return 0;
}

/* Take and check every used entry.  Returns how many. */
static unsigned echo_reap(struct echo_pair *p)
{
	unsigned n = 0;
	uint32_t id, len;
	while (vq_fake_get_used(&p->cmdf, &id, &len) == 1) {
		n++;
		int16_t ti = id < ECHO_QSIZE ? p->head_tag[id] : -1;
		if (ti < 0) {
			p->errors++;
			continue;
		}
		p->head_tag[id] = -1;
		p->free_tags[p->nfree++] = (uint16_t)ti;
		p->inflight--;
		struct echo_tag *t = &p->tags[ti];
		struct vmedia_resp_header h;
		memcpy(&h, t->out, sizeof(h));
		if (t->open_cmd) {
			struct vmedia_resp_open o;
			memcpy(&o, t->out, sizeof(o));
			p->last_open_status = (int)o.hdr.status;
			p->last_open_id = o.session_id;
			if (o.hdr.status)
				p->errors++;
			continue;
		}
		struct v4l2_format f;
		memcpy(&f, t->out + 8, sizeof(f));
		unsigned si = t->session;
		if (h.status || len != 8 + sizeof(f) || f.fmt.pix.width != t->seq ||
		    f.fmt.pix.height != (t->seq ^ ECHO_XOR) ||
		    f.fmt.pix.bytesperline != p->sess_id[si] || t->seq != p->sess_done[si])
			p->errors++;
		p->sess_done[si] = t->seq + 1;
		p->completed++;
	}
	return n;
}

/* Publish and wait for everything in flight.  Returns 0, -ETIMEDOUT. */
static int echo_sync(struct echo_pair *p, int timeout_ms)
{
	vq_fake_efd_publish(&p->cmd_d);
	while (p->inflight) {
		int r = vq_fake_efd_wait(&p->cmd_d, timeout_ms);
		if (r <= 0)
			return r ? r : -ETIMEDOUT;
		echo_reap(p);
	}
	return 0;
}

/* OPEN @n sessions (indices 0..n-1).  Returns 0 or -errno. */
static int echo_open_sessions(struct echo_pair *p, unsigned n, int timeout_ms)
{
	for (unsigned i = 0; i < n; i++) {
		int r = echo_add(p, i, true);
		if (!r)
			r = echo_sync(p, timeout_ms);
		if (r)
			return r;
		if (p->last_open_status)
			return -p->last_open_status;
		p->sess_id[i] = p->last_open_id;
	}
	return 0;
}

/*
 * Exchange @total G_FMTs round-robin over @nsess sessions with @depth in
 * flight.  Returns 0, -ETIMEDOUT, or -EAGAIN if @depth does not fit.
 * *@stop (may be NULL) ends it early.
 */
static int echo_run(struct echo_pair *p, uint64_t total, unsigned nsess, unsigned depth,
		    int timeout_ms, const int *stop)
{
	uint64_t sent = 0;
	unsigned rr = 0;
	while (sent < total || p->inflight) {
		while (sent < total && p->inflight < depth) {
			int r = echo_add(p, rr, false);
			if (r)
				return r;
			rr = rr + 1 == nsess ? 0 : rr + 1;
			sent++;
		}
		int r = vq_fake_efd_publish(&p->cmd_d);
		if (r < 0)
			return r;
		r = vq_fake_efd_wait(&p->cmd_d, timeout_ms);
		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
		echo_reap(p);
		if (stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE))
			return 0;
	}
	return 0;
}

#endif
