/* SPDX-License-Identifier: MIT */
/*
 * virtio-media benchmarks, same thread: the guest-driver model (or a bare
 * fake driver), the queues, the command runner and a trivial device take
 * turns on one thread.
 *
 * Figures, with their baselines measured in the same run:
 *  - media_memcpy_g_fmt_440B: the bytes one G_FMT moves on the device side
 *    (16 B command + 208 B payload in, 8 B response + 208 B payload out),
 *    copied alone between the same guest buffers.
 *  - media_ioctl_chain_batch1: the raw ioctl-shaped chain, exactly as
 *    bench_queue's ioctl_chain_batch1_evidx (readable 16 + 208, writable
 *    8 + 208; fake driver add + publish + get_used + enable_interrupts, and
 *    a device that reads, answers and pushes without decoding anything).
 *  - media_runner_chain_batch1: the same loop and chain, but the chain is a
 *    real G_FMT command and the device side is vmedia_device_process_commands
 *    with the trivial device (pop, decode, hook, response, push, flush).
 *  - media_g_fmt_roundtrip: VIDIOC_G_FMT through vmedia_guest_ioctl: the
 *    model builds the chain the Linux driver builds, publishes it, runs the
 *    runner inline, checks the response and copies the format back.  Also
 *    as a rate (target: >= 4 Mcmd/s), and with indirect descriptors (what
 *    Linux's virtio_ring does for multi-descriptor chains when negotiated).
 *  - media_dev_ioctl_chain_batch1 / media_dev_runner_g_fmt_batch1: device
 *    side only, as bench_queue's dev_ figures: 64 ready G_FMT chains written
 *    once, per command the "driver" stores avail->idx and used_event; the
 *    first serves each chain raw, the second runs
 *    vmedia_device_process_commands.  Same fake, same queue, same
 *    descriptors, same notification per command.
 *  - media_runner_overhead = media_dev_runner_g_fmt_batch1 /
 *    media_dev_ioctl_chain_batch1: the "the runner adds no more than
 *    2x the raw ioctl-shaped chain cost", read strictly: what the device side
 *    costs per command when the runner does it, over what moving the same
 *    chain costs with no protocol at all (pop + 224 B read + 216 B write +
 *    push + flush + notify).  Target: <= 2.  The driver side is left out of
 *    both on purpose (it is the guest's cost, not the runner's).
 *  - media_qbuf_dqbuf_cycle: QBUF of an MMAP single-planar CAPTURE buffer
 *    through the model, the device completing it from its qbuf hook with
 *    vmedia_send_dqbuf (eventq push + flush), then the model's DQBUF
 *    (eventq poll, DQBUF event, eventq buffer re-posted, process_eventq).
 *
 * The queue shapes: the fake-driver figures use bench_queue's (queue size
 * 256, event idx, used_event stored each batch, every flush notifies); the
 * guest-model figures use the model's defaults (commandq 64, eventq 16, no
 * features, every flush notifies).  Device queues notify through
 * vq_fake_interrupt in both.
 */
#include <errno.h>
#include <stdlib.h>

#include "fixture.h"
#include "vmedia.h"
#include "vmedia_guest.h"

#define FMT_W 640
#define FMT_H 480
#define FMT_SIZE (FMT_W * FMT_H * 3 / 2) /* NV12 */
#define NBUFS 4

/* ------------------------------------------------------------------------ */
/* The trivial device: a fixed NV12 capture format and MMAP buffers that are
 * done as soon as they are queued. */

struct tdev {
	uint32_t nbufs;
	uint32_t offset[NBUFS];
	uint32_t sequence;
	struct vmedia_buffer done; /* planes stay zero: single-planar */
};

static int t_open(struct vmedia_session *s)
{
	s->priv = s->dev->priv;
	return 0;
}

static void t_close(struct vmedia_session *s)
{
	(void)s;
}

static int t_g_fmt(struct vmedia_session *s, struct v4l2_format *f)
{
	(void)s;
	if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
		return -EINVAL;
	f->fmt.pix = (struct v4l2_pix_format){
		.width = FMT_W,
		.height = FMT_H,
		.pixelformat = V4L2_PIX_FMT_NV12,
		.field = V4L2_FIELD_NONE,
		.bytesperline = FMT_W,
		.sizeimage = FMT_SIZE,
		.colorspace = V4L2_COLORSPACE_REC709,
	};
	return 0;
}

static bool t_buf_ok(const struct tdev *t, const struct v4l2_buffer *b)
{
	return b->type == V4L2_BUF_TYPE_VIDEO_CAPTURE && b->memory == V4L2_MEMORY_MMAP &&
	       b->index < t->nbufs;
}

static int t_reqbufs(struct vmedia_session *s, struct v4l2_requestbuffers *rb)
{
	struct tdev *t = s->priv;
	if (rb->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || rb->memory != V4L2_MEMORY_MMAP)
		return -EINVAL;
	for (uint32_t i = 0; i < t->nbufs; i++)
		vmedia_mmap_free(s->dev, t->offset[i]);
	t->nbufs = 0;
	uint32_t n = rb->count < NBUFS ? rb->count : NBUFS;
	for (uint32_t i = 0; i < n; i++) {
		void *host;
		int r = vmedia_mmap_alloc(s->dev, FMT_SIZE, &t->offset[i], &host);
		if (r < 0)
			return r;
		t->nbufs++;
	}
	rb->count = n;
	rb->capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP;
	return 0;
}

static void t_describe(const struct tdev *t, struct v4l2_buffer *b)
{
	b->length = FMT_SIZE;
	b->m.offset = t->offset[b->index];
	b->field = V4L2_FIELD_NONE;
}

static int t_querybuf(struct vmedia_session *s, struct vmedia_buffer *vb)
{
	struct tdev *t = s->priv;
	if (!t_buf_ok(t, &vb->b))
		return -EINVAL;
	t_describe(t, &vb->b);
	vb->b.flags = 0;
	return 0;
}

/* The frame is "captured" at once: DQBUF goes out before QBUF's answer. */
static int t_qbuf(struct vmedia_session *s, struct vmedia_buffer *vb)
{
	struct tdev *t = s->priv;
	if (!t_buf_ok(t, &vb->b))
		return -EINVAL;
	t_describe(t, &vb->b);
	vb->b.flags = V4L2_BUF_FLAG_QUEUED;
	t->done.b = vb->b;
	t->done.b.flags = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC;
	t->done.b.bytesused = FMT_SIZE;
	t->done.b.sequence = t->sequence++;
	t->done.b.timestamp.tv_sec = t->done.b.sequence / 30;
	int r = vmedia_send_dqbuf(s, &t->done);
	return r < 0 ? r : 0;
}

static int t_stream(struct vmedia_session *s, int *type)
{
	(void)s;
	return *type == V4L2_BUF_TYPE_VIDEO_CAPTURE ? 0 : -EINVAL;
}

static const struct vmedia_device_ops tdev_ops = {
	.open = t_open,
	.close = t_close,
	.g_fmt = t_g_fmt,
	.reqbufs = t_reqbufs,
	.querybuf = t_querybuf,
	.qbuf = t_qbuf,
	.streamon = t_stream,
	.streamoff = t_stream,
};

/* ------------------------------------------------------------------------ */
/* Guest model + runner + trivial device (as tests/media_fixture.c wires
 * them, without criterion). */

struct gpair {
	struct vmedia_guest g;
	struct vq_queue cmdq, evq;
	struct vmedia_shm shm;
	struct vmedia_device dev;
	struct tdev t;
	uint32_t sid;
	int bad; /* a negative return from the runner seen by the transport */
	bool shm_ok, guest_ok, dev_ok;
};

static void gp_commands(void *opaque)
{
	struct gpair *p = opaque;
	int r = vmedia_device_process_commands(&p->dev);
	if (r < 0)
		p->bad = r;
}

static void gp_eventq(void *opaque)
{
	struct gpair *p = opaque;
	int r = vmedia_device_process_eventq(&p->dev);
	if (r < 0)
		p->bad = r;
}

static void gpair_destroy(struct gpair *p)
{
	if (p->dev_ok)
		vmedia_device_destroy(&p->dev);
	if (p->guest_ok)
		vmedia_guest_destroy(&p->g);
	if (p->shm_ok)
		vmedia_shm_destroy(&p->shm);
	free(p);
}

static struct gpair *gpair_new(const char *name, uint64_t cmdq_features)
{
	struct gpair *p = calloc(1, sizeof(*p));
	if (!p) {
		bench_fail("%s: calloc", name);
		return NULL;
	}
	int r = vmedia_shm_init_memfd(&p->shm, 16u << 20);
	if (r) {
		bench_fail("%s: vmedia_shm_init_memfd: %d", name, r);
		goto fail;
	}
	p->shm_ok = true;
	struct vmedia_guest_config gc = {
		.cmdq_features = cmdq_features,
		.shm = p->shm.host,
		.shm_size = p->shm.size,
		.config = { .device_caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING },
		.transport = { .process_commands = gp_commands, .process_eventq = gp_eventq,
			       .opaque = p },
	};
	r = vmedia_guest_init(&p->g, &gc);
	if (r) {
		bench_fail("%s: vmedia_guest_init: %d", name, r);
		goto fail;
	}
	p->guest_ok = true;
	struct vq_queue_config qc;
	vq_fake_queue_config(&p->g.cmdq, &qc);
	qc.notify = vq_fake_interrupt;
	qc.notify_opaque = &p->g.cmdq;
	if ((r = vq_queue_init(&p->cmdq, &qc)) != 0) {
		bench_fail("%s: vq_queue_init(commandq): %d", name, r);
		goto fail;
	}
	vq_fake_queue_config(&p->g.eventq, &qc);
	qc.notify = vq_fake_interrupt;
	qc.notify_opaque = &p->g.eventq;
	if ((r = vq_queue_init(&p->evq, &qc)) != 0) {
		bench_fail("%s: vq_queue_init(eventq): %d", name, r);
		goto fail;
	}
	struct vmedia_device_config dc = {
		.ops = &tdev_ops,
		.priv = &p->t,
		.commandq = &p->cmdq,
		.eventq = &p->evq,
		.mem = vmedia_guest_mem(&p->g),
		.shm = &p->shm,
		.config = gc.config,
	};
	if ((r = vmedia_device_init(&p->dev, &dc)) != 0) {
		bench_fail("%s: vmedia_device_init: %d", name, r);
		goto fail;
	}
	p->dev_ok = true;
	/* The driver posted its event buffers before the device existed. */
	vmedia_device_process_eventq(&p->dev);
	if ((r = vmedia_guest_open(&p->g, &p->sid)) != 0) {
		bench_fail("%s: open: %d", name, r);
		goto fail;
	}
	return p;
fail:
	gpair_destroy(p);
	return NULL;
}

static int64_t g_fmt_roundtrip(void *ctx, uint64_t iters)
{
	struct gpair *p = ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct v4l2_format f;
		memset(&f, 0, sizeof(f));
		f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		int r = vmedia_guest_ioctl(&p->g, p->sid, VIDIOC_G_FMT, &f);
		CHECK(r == 0 && f.fmt.pix.sizeimage == FMT_SIZE, "G_FMT: %d", r);
	}
	CHECK(p->bad == 0, "runner: %d", p->bad);
	return (int64_t)iters;
}

static void bench_g_fmt_roundtrip(bool indirect)
{
	const char *name = indirect ? "media_g_fmt_roundtrip_indirect" : "media_g_fmt_roundtrip";
	if (!bench_selected(name))
		return;
	struct gpair *p = gpair_new(name, indirect ? INDIRECT : 0);
	if (!p)
		return;
	struct bench_stats st;
	if (bench_measure(name, g_fmt_roundtrip, p, &st) == 0) {
		bench_report_time(name, &st, 1.0, "ns/cmd");
		char rate[96];
		snprintf(rate, sizeof(rate), "%s_rate", name);
		bench_report_rate(rate, &st, 1e3, "Mcmd/s");
		double mcmd = 1e3 / st.median_ns;
		if (!indirect)
			bench_note("  target G_FMT round trip >= 4 Mcmd/s: %s (%.2f)",
				   mcmd >= 4.0 ? "met" : "MISSED", mcmd);
		bench_note("  %s: per command %.3f device notifications", name,
			   (double)p->cmdq.stats.notifications / (double)p->dev.stats.commands);
	}
	gpair_destroy(p);
}

/* QBUF -> DQBUF event -> DQBUF, one buffer after another of NBUFS. */
static int64_t qbuf_dqbuf_cycle(void *ctx, uint64_t iters)
{
	struct gpair *p = ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct v4l2_buffer b = {
			.index = (uint32_t)(i % NBUFS),
			.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
			.memory = V4L2_MEMORY_MMAP,
		};
		int r = vmedia_guest_ioctl(&p->g, p->sid, VIDIOC_QBUF, &b);
		CHECK(r == 0, "QBUF: %d", r);
		struct v4l2_buffer d = {
			.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
			.memory = V4L2_MEMORY_MMAP,
		};
		r = vmedia_guest_dqbuf(&p->g, p->sid, &d);
		CHECK(r == 0 && d.index == b.index && d.bytesused == FMT_SIZE,
		      "DQBUF: %d (index %u, bytesused %u)", r, d.index, d.bytesused);
	}
	CHECK(p->bad == 0, "runner: %d", p->bad);
	return (int64_t)iters;
}

static void bench_qbuf_dqbuf(void)
{
	const char *name = "media_qbuf_dqbuf_cycle";
	if (!bench_selected(name))
		return;
	struct gpair *p = gpair_new(name, 0);
	if (!p)
		return;
	/* A V4L2 capture program's setup: REQBUFS, QUERYBUF + mmap each, STREAMON. */
	struct v4l2_requestbuffers rb = {
		.count = NBUFS,
		.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
		.memory = V4L2_MEMORY_MMAP,
	};
	int r = vmedia_guest_ioctl(&p->g, p->sid, VIDIOC_REQBUFS, &rb);
	if (r || rb.count != NBUFS) {
		bench_fail("%s: REQBUFS: %d, count %u", name, r, rb.count);
		goto out;
	}
	for (uint32_t i = 0; i < NBUFS; i++) {
		struct v4l2_buffer b = { .index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_MMAP };
		uint64_t addr, len;
		r = vmedia_guest_ioctl(&p->g, p->sid, VIDIOC_QUERYBUF, &b);
		if (!r)
			r = vmedia_guest_mmap(&p->g, p->sid, VMEDIA_MMAP_FLAG_RW, b.m.offset,
					      &addr, &len);
		if (r || len != FMT_SIZE || !vmedia_guest_shm_ptr(&p->g, addr, len)) {
			bench_fail("%s: QUERYBUF / mmap of buffer %u: %d", name, i, r);
			goto out;
		}
	}
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if ((r = vmedia_guest_ioctl(&p->g, p->sid, VIDIOC_STREAMON, &type)) != 0) {
		bench_fail("%s: STREAMON: %d", name, r);
		goto out;
	}
	struct bench_stats st;
	if (bench_measure(name, qbuf_dqbuf_cycle, p, &st) == 0) {
		bench_report_time(name, &st, 1.0, "ns/cycle");
		bench_note("  %s: guest stats: %llu events, %llu bad, %llu unexpected dqbuf; "
			   "device: %llu events sent, %llu dropped",
			   name, (unsigned long long)p->g.stats.events,
			   (unsigned long long)p->g.stats.bad_events,
			   (unsigned long long)p->g.stats.unexpected_dqbuf,
			   (unsigned long long)p->dev.stats.events_sent,
			   (unsigned long long)p->dev.stats.events_dropped);
	}
out:
	gpair_destroy(p);
}

/* ------------------------------------------------------------------------ */
/* The fake driver + the runner on bench_queue's ioctl-shaped chain. */

#define HDR_IN ((uint32_t)sizeof(struct vmedia_cmd_ioctl))
#define HDR_OUT ((uint32_t)sizeof(struct vmedia_resp_ioctl))
#define PAYLOAD ((uint32_t)sizeof(struct v4l2_format))
_Static_assert(sizeof(struct vmedia_cmd_ioctl) == 16, "IOCTL command header");
_Static_assert(sizeof(struct vmedia_resp_ioctl) == 8, "IOCTL response header");
_Static_assert(sizeof(struct v4l2_format) == 208, "G_FMT payload");

struct chainb {
	struct fixture x;   /* commandq: bench_queue's shape */
	struct vq_fake evf; /* eventq, for the runner's config only */
	struct vq_queue evq;
	struct vmedia_device dev;
	struct tdev t;
	struct vq_fake_buf bufs[4];
	uint8_t *hin, *pin, *hout, *pout;
	uint16_t avail, used;
	uint32_t sid;
	bool evf_ok, dev_ok;
};

/* bench_queue's ioctl_serve: what a device costs with no protocol at all. */
static inline int raw_serve(struct vq_queue *q, struct vq_chain *c)
{
	struct vq_reader r;
	struct vq_writer w;
	struct vmedia_cmd_ioctl h;
	uint8_t payload[PAYLOAD];

	vq_reader_init(&r, c);
	vq_writer_init(&w, c);
	CHECK(vq_reader_read_all(&r, &h, sizeof(h)) == 0, "read header");
	CHECK(vq_reader_read_all(&r, payload, sizeof(payload)) == 0, "read payload");
	bench_escape(payload);
	struct vmedia_resp_ioctl resp = { .hdr.status = h.code ^ h.session_id };
	CHECK(vq_writer_write_all(&w, &resp, sizeof(resp)) == 0, "write response");
	CHECK(vq_writer_write_all(&w, payload, sizeof(payload)) == 0, "write payload");
	CHECK(vq_queue_push(q, c, vq_writer_written(&w)) == 0, "push");
	return 0;
}

/* Full loop, raw device (bench_queue's ioctl_full, batch 1). */
static int64_t raw_full(void *ctx, uint64_t iters)
{
	struct chainb *b = ctx;
	struct vq_fake *f = &b->x.f;
	struct vq_queue *q = &b->x.q;
	struct vq_chain *c = &b->x.c;
	for (uint64_t i = 0; i < iters; i++) {
		CHECK(vq_fake_add(f, b->bufs, 4, 0) >= 0, "vq_fake_add");
		vq_fake_publish(f);
		int r = vq_queue_pop(q, c);
		CHECK(r > 0, "pop: %d", r);
		if (raw_serve(q, c))
			return -1;
		CHECK(vq_queue_pop(q, c) == 0, "pop: more than one chain");
		vq_queue_flush(q);
		uint32_t id, len;
		CHECK(vq_fake_get_used(f, &id, &len) == 1 && len == HDR_OUT + PAYLOAD,
		      "get_used");
		vq_fake_enable_interrupts(f);
	}
	return (int64_t)iters;
}

/* Full loop, the runner as the device. */
static int64_t runner_full(void *ctx, uint64_t iters)
{
	struct chainb *b = ctx;
	struct vq_fake *f = &b->x.f;
	for (uint64_t i = 0; i < iters; i++) {
		CHECK(vq_fake_add(f, b->bufs, 4, 0) >= 0, "vq_fake_add");
		vq_fake_publish(f);
		int n = vmedia_device_process_commands(&b->dev);
		CHECK(n == 1, "process_commands: %d", n);
		uint32_t id, len;
		CHECK(vq_fake_get_used(f, &id, &len) == 1 && len == HDR_OUT + PAYLOAD,
		      "get_used");
		vq_fake_enable_interrupts(f);
	}
	return (int64_t)iters;
}

/* Device side only, raw (bench_queue's ioctl_dev, batch 1, event idx). */
static int64_t raw_dev(void *ctx, uint64_t iters)
{
	struct chainb *b = ctx;
	struct vq_fake *f = &b->x.f;
	struct vq_queue *q = &b->x.q;
	struct vq_chain *c = &b->x.c;
	for (uint64_t i = 0; i < iters; i++) {
		b->avail++;
		vq_fake_set_avail_idx(f, b->avail);
		vq_fake_set_used_event(f, b->used);
		int r = vq_queue_pop(q, c);
		CHECK(r > 0, "pop: %d", r);
		if (raw_serve(q, c))
			return -1;
		CHECK(vq_queue_pop(q, c) == 0, "pop: more than one chain");
		vq_queue_flush(q);
		b->used++;
	}
	return (int64_t)iters;
}

/* Device side only, the runner: the same stores, then process_commands. */
static int64_t runner_dev(void *ctx, uint64_t iters)
{
	struct chainb *b = ctx;
	struct vq_fake *f = &b->x.f;
	for (uint64_t i = 0; i < iters; i++) {
		b->avail++;
		vq_fake_set_avail_idx(f, b->avail);
		vq_fake_set_used_event(f, b->used);
		int n = vmedia_device_process_commands(&b->dev);
		CHECK(n == 1, "process_commands: %d", n);
		b->used++;
	}
	return (int64_t)iters;
}

/* Every byte the device moves for one G_FMT, same buffers, nothing else. */
static int64_t memcpy_440(void *ctx, uint64_t iters)
{
	struct chainb *b = ctx;
	uint8_t payload[PAYLOAD];
	struct vmedia_cmd_ioctl h;
	struct vmedia_resp_ioctl resp;
	for (uint64_t i = 0; i < iters; i++) {
		memcpy(&h, b->hin, sizeof(h));
		memcpy(payload, b->pin, sizeof(payload));
		bench_escape(payload);
		resp = (struct vmedia_resp_ioctl){ .hdr.status = h.code ^ h.session_id };
		memcpy(b->hout, &resp, sizeof(resp));
		memcpy(b->pout, payload, sizeof(payload));
		bench_clobber();
	}
	return (int64_t)iters;
}

static void chainb_destroy(struct chainb *b)
{
	if (b->dev_ok)
		vmedia_device_destroy(&b->dev);
	if (b->evf_ok) {
		vq_queue_destroy(&b->evq);
		vq_fake_destroy(&b->evf);
	}
	fixture_destroy(&b->x);
	free(b);
}

/*
 * bench_queue's ioctl_setup (queue 256, event idx, buffers 16 / 208 / 8 / 208
 * from fixture_buf) plus a runner on the same queue with an open session, and
 * the header and payload made a real G_FMT command (the raw device does not
 * look at them).  @dev_only: 64 ready 4-descriptor chains at heads 0, 4, ...
 * and every avail slot filled, so a command is an avail->idx store.
 */
static struct chainb *chainb_new(const char *name, bool dev_only)
{
	struct chainb *b = fixture_zalloc(sizeof(*b));
	if (!b || fixture_init(&b->x, 256, EVIDX, 0)) {
		bench_fail("%s: setup", name);
		free(b);
		return NULL;
	}
	struct vq_fake *f = &b->x.f;
	int r = vq_fake_init(&b->evf, &(struct vq_fake_config){
		.size = 16, .gpa_base = f->gpa_base + (64ull << 20) });
	if (r) {
		bench_fail("%s: eventq fake: %d", name, r);
		goto fail;
	}
	struct vq_queue_config qc;
	vq_fake_queue_config(&b->evf, &qc);
	if ((r = vq_queue_init(&b->evq, &qc)) != 0) {
		vq_fake_destroy(&b->evf);
		bench_fail("%s: eventq: %d", name, r);
		goto fail;
	}
	b->evf_ok = true;
	struct vmedia_device_config dc = {
		.ops = &tdev_ops,
		.priv = &b->t,
		.commandq = &b->x.q,
		.eventq = &b->evq,
		.mem = &f->mem,
	};
	if ((r = vmedia_device_init(&b->dev, &dc)) != 0) {
		bench_fail("%s: vmedia_device_init: %d", name, r);
		goto fail;
	}
	b->dev_ok = true;

	/* OPEN, by hand. */
	struct vmedia_cmd_open oc = { .hdr.cmd = vq_to_le32(VMEDIA_CMD_OPEN) };
	struct vq_fake_buf ob[2] = {
		{ vq_fake_alloc_copy(f, &oc, sizeof(oc)), sizeof(oc), false },
		{ vq_fake_alloc(f, sizeof(struct vmedia_resp_open)),
		  sizeof(struct vmedia_resp_open), true },
	};
	struct vmedia_resp_open ro = { .hdr.status = 1 };
	uint32_t id, len;
	r = !ob[0].gpa || !ob[1].gpa ? -ENOMEM : vq_fake_add(f, ob, 2, 0);
	if (r >= 0) {
		vq_fake_publish(f);
		r = vmedia_device_process_commands(&b->dev);
	}
	if (r != 1 || vq_fake_get_used(f, &id, &len) != 1 || len != sizeof(ro) ||
	    vq_fake_read_mem(f, ob[1].gpa, &ro, sizeof(ro)) || ro.hdr.status != 0) {
		bench_fail("%s: OPEN: %d (status %u)", name, r, ro.hdr.status);
		goto fail;
	}
	b->sid = vq_from_le32(ro.session_id);
	vq_fake_enable_interrupts(f);

	static const uint32_t lens[4] = { HDR_IN, PAYLOAD, HDR_OUT, PAYLOAD };
	for (int i = 0; i < 4; i++)
		b->bufs[i] = (struct vq_fake_buf){ fixture_buf(&b->x, lens[i]), lens[i], i >= 2 };
	b->hin = vq_fake_host(f, b->bufs[0].gpa, HDR_IN);
	b->pin = vq_fake_host(f, b->bufs[1].gpa, PAYLOAD);
	b->hout = vq_fake_host(f, b->bufs[2].gpa, HDR_OUT);
	b->pout = vq_fake_host(f, b->bufs[3].gpa, PAYLOAD);
	if (!b->hin || !b->pin || !b->hout || !b->pout) {
		bench_fail("%s: buffers", name);
		goto fail;
	}
	struct vmedia_cmd_ioctl ic = {
		.hdr.cmd = vq_to_le32(VMEDIA_CMD_IOCTL),
		.session_id = vq_to_le32(b->sid),
		.code = vq_to_le32(_IOC_NR(VIDIOC_G_FMT)),
	};
	memcpy(b->hin, &ic, sizeof(ic));
	struct v4l2_format fmt;
	memset(&fmt, 0, sizeof(fmt));
	fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	memcpy(b->pin, &fmt, sizeof(fmt));

	b->avail = f->avail_published;
	b->used = b->avail;
	if (dev_only) {
		for (uint32_t h = 0; h < 256; h += 4)
			for (uint32_t k = 0; k < 4; k++)
				vq_fake_write_desc(f, (uint16_t)(h + k), b->bufs[k].gpa,
						   b->bufs[k].len,
						   (uint16_t)((k >= 2 ? VQ_DESC_F_WRITE : 0) |
							      (k < 3 ? VQ_DESC_F_NEXT : 0)),
						   (uint16_t)(h + k + 1));
		for (uint32_t s = 0; s < 256; s++)
			vq_fake_add_raw_head(f, (uint16_t)(((b->avail + s) * 4) & 255));
	}
	return b;
fail:
	chainb_destroy(b);
	return NULL;
}

/* After a runner figure: did G_FMT really answer, with the device's format? */
static void check_g_fmt_answer(const char *name, struct chainb *b)
{
	struct vmedia_resp_ioctl resp;
	struct v4l2_format fmt;
	memcpy(&resp, b->hout, sizeof(resp));
	memcpy(&fmt, b->pout, sizeof(fmt));
	if (resp.hdr.status != 0 || fmt.type != V4L2_BUF_TYPE_VIDEO_CAPTURE ||
	    fmt.fmt.pix.sizeimage != FMT_SIZE)
		bench_fail("%s: G_FMT answer: status %u, sizeimage %u", name, resp.hdr.status,
			   fmt.fmt.pix.sizeimage);
}

/* Returns the median ns per command, or 0 if the figure did not run. */
static double bench_chain(const char *name, bench_fn fn, bool dev_only, bool runner)
{
	if (!bench_selected(name))
		return 0;
	struct chainb *b = chainb_new(name, dev_only);
	if (!b)
		return 0;
	struct bench_stats st;
	double ns = 0;
	if (bench_measure(name, fn, b, &st) == 0) {
		bench_report_time(name, &st, 1.0, "ns/cmd");
		ns = st.median_ns;
		if (runner)
			check_g_fmt_answer(name, b);
	}
	chainb_destroy(b);
	return ns;
}

int main(int argc, char **argv)
{
	bench_init(argc, argv, "bench_media");

	bench_chain("media_memcpy_g_fmt_440B", memcpy_440, false, false);
	bench_chain("media_ioctl_chain_batch1", raw_full, false, false);
	bench_chain("media_runner_chain_batch1", runner_full, false, true);
	bench_g_fmt_roundtrip(false);
	bench_g_fmt_roundtrip(true);

	double raw = bench_chain("media_dev_ioctl_chain_batch1", raw_dev, true, false);
	double run = bench_chain("media_dev_runner_g_fmt_batch1", runner_dev, true, true);
	if (raw > 0 && run > 0) {
		bench_result("media_runner_overhead", run / raw, "x");
		bench_note("  media_runner_overhead = media_dev_runner_g_fmt_batch1 %.1f ns / "
			   "media_dev_ioctl_chain_batch1 %.1f ns; the runner adds %.1f ns "
			   "(%.2fx the raw chain) per command",
			   run, raw, run - raw, (run - raw) / raw);
		bench_note("  target runner <= 2x the raw ioctl-shaped chain: %s",
			   run / raw <= 2.0 ? "met" : "MISSED");
	}

	bench_qbuf_dqbuf();
	return bench_finish();
}
