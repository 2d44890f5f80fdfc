/* SPDX-License-Identifier: MIT */
/*
 * fuzz_decoder — a hostile V4L2 application against the stateful decoder
 * device (libFuzzer), through the guest-driver model and the runner.
 *
 * What it hunts: the decoder's own state machine under any order of calls
 * -- formats, buffers on both queues in both memories, STREAMON / OFF,
 * decoder commands, subscriptions, mappings, sessions closed at any point
 * -- with coded data from the input (the seeds hold real H.264 and VP8, so
 * the fuzzer starts from streams that decode and mutates them).
 * libavcodec itself is fuzzed upstream; here it is just the engine.
 *
 * The model runs with VMEDIA_GUEST_F_NO_CHECKS, so indices, types and
 * memories the Linux driver would refuse reach the device too.  Completions
 * are pumped inline: poll() on the wake fd (at most a millisecond),
 * vmedia_decoder_complete(), the model's interrupt handler, then every
 * DQBUF / DQEVENT the sessions can take.
 *
 * Input: a sequence of steps, op = byte % 16 (see step()); every read past
 * the end gives 0, so any input is a program.
 *
 * Invariants (a violation prints its line and traps): the runner never
 * reports a broken queue; no guest pointer placeholder is clobbered; a
 * dequeued buffer has an index the session allocated on that queue; a
 * CAPTURE buffer flagged LAST carries no payload; after the device is
 * destroyed, LeakSanitizer finds nothing (workers stopped, buffers freed).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "fuzz_common.h"
#include "vmedia_decoder.h"
#include "vmedia_guest.h"
#include "vq_fake.h"

#define MAX_STEPS 200
#define MAX_SESSIONS 3
#define MAX_BUFS 40     /* above the device's 32: indices past the end too */
#define SHM_SIZE (64u << 20)
#define USER_SIZE (256u << 10)

#ifndef V4L2_PIX_FMT_AV1
#define V4L2_PIX_FMT_AV1 v4l2_fourcc('A', 'V', '0', '1')
#endif

static const uint32_t coded[] = {
	V4L2_PIX_FMT_H264, V4L2_PIX_FMT_HEVC, V4L2_PIX_FMT_VP8, V4L2_PIX_FMT_VP9,
	V4L2_PIX_FMT_AV1,  V4L2_PIX_FMT_MPEG2, V4L2_PIX_FMT_NV12, 0x12345678,
};
static const uint32_t raw[] = { V4L2_PIX_FMT_NV12, V4L2_PIX_FMT_YUV420, V4L2_PIX_FMT_H264, 0 };

struct session {
	bool open;
	uint32_t id;
	uint32_t nbufs[2];       /* what REQBUFS / CREATE_BUFS said, per queue */
	uint64_t map[2][MAX_BUFS]; /* driver address of an MMAP mapping, 0: none */
};

static struct {
	struct vmedia_guest g;
	struct vq_queue cmdq, evq;
	struct vmedia_shm shm;
	struct vmedia_device dev;
	struct vmedia_decoder *dec;
	struct session s[MAX_SESSIONS];
	uint8_t user[2][4][USER_SIZE]; /* USERPTR memory: per queue, a few buffers */
} F;

static void run_commands(void *opaque)
{
	(void)opaque;
	CHECK(vmedia_device_process_commands(&F.dev) >= 0);
}

static void run_eventq(void *opaque)
{
	(void)opaque;
	CHECK(vmedia_device_process_eventq(&F.dev) >= 0);
}

static uint32_t qtype(int q)
{
	return q ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE : V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
}

/* Mostly the two M2M queues; sometimes any type at all. */
static uint32_t pick_type(struct in *in, int *q)
{
	uint8_t b = u8(in);
	*q = b & 1;
	return (b & 0x70) == 0x70 ? u8(in) : qtype(*q);
}

static uint32_t pick_memory(struct in *in)
{
	uint8_t b = u8(in) % 8;
	return b < 5 ? V4L2_MEMORY_MMAP : b < 7 ? V4L2_MEMORY_USERPTR : b;
}

static struct session *pick_session(struct in *in)
{
	struct session *s = &F.s[u8(in) % MAX_SESSIONS];
	return s->open ? s : NULL;
}

static int ioctl_(struct session *s, unsigned long req, void *arg)
{
	return vmedia_guest_ioctl(&F.g, s->id, req, arg);
}

/* Everything finished so far reaches the guest, and the guest takes it. */
static void pump(int timeout_ms)
{
	struct pollfd p = { .fd = vmedia_decoder_wake_fd(F.dec), .events = POLLIN };
	if (poll(&p, 1, timeout_ms) > 0)
		CHECK(vmedia_decoder_complete(F.dec) >= 0);
	vmedia_guest_poll_events(&F.g);
	for (int i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = &F.s[i];
		if (!s->open)
			continue;
		for (int q = 0; q < 2; q++) {
			for (;;) {
				struct v4l2_plane pl[VIDEO_MAX_PLANES];
				struct v4l2_buffer b = { .type = qtype(q), .length = VIDEO_MAX_PLANES,
							 .m.planes = pl };
				if (vmedia_guest_dqbuf(&F.g, s->id, &b))
					break;
				TRACE("session %u: DQBUF %s %u flags %#x bytes %u\n", s->id,
				      q ? "CAPTURE" : "OUTPUT", b.index, b.flags, pl[0].bytesused);
				CHECK(b.index < s->nbufs[q]);
				/* This decoder ends a sequence with an empty buffer. */
				if (q == 1 && (b.flags & V4L2_BUF_FLAG_LAST))
					CHECK(b.length >= 1 && pl[0].bytesused == 0);
			}
		}
		struct v4l2_event ev;
		while (vmedia_guest_dqevent(&F.g, s->id, &ev) == 0)
			TRACE("session %u: event %u\n", s->id, ev.type);
	}
}

static void do_open(void)
{
	for (int i = 0; i < MAX_SESSIONS; i++) {
		struct session *s = &F.s[i];
		if (s->open)
			continue;
		memset(s, 0, sizeof(*s));
		if (vmedia_guest_open(&F.g, &s->id) == 0)
			s->open = true;
		return;
	}
}

static void do_close(struct session *s)
{
	for (int q = 0; q < 2; q++)
		for (int i = 0; i < MAX_BUFS; i++)
			if (s->map[q][i])
				vmedia_guest_munmap(&F.g, s->map[q][i]);
	vmedia_guest_close(&F.g, s->id);
	memset(s, 0, sizeof(*s));
}

static void forget_maps(struct session *s, int q)
{
	for (int i = 0; i < MAX_BUFS; i++) {
		if (s->map[q][i])
			vmedia_guest_munmap(&F.g, s->map[q][i]);
		s->map[q][i] = 0;
	}
}

static void do_fmt(struct in *in, struct session *s, bool capture)
{
	struct v4l2_format f;
	memset(&f, 0, sizeof(f));
	int q;
	f.type = pick_type(in, &q);
	if (capture)
		f.type = (f.type & 0x80) ? f.type : qtype(1);
	uint8_t b = u8(in);
	f.fmt.pix_mp.pixelformat = capture ? raw[b % 4] : coded[b % 8];
	f.fmt.pix_mp.width = u16(in);
	f.fmt.pix_mp.height = u16(in);
	f.fmt.pix_mp.num_planes = u8(in) % 3;
	f.fmt.pix_mp.plane_fmt[0].sizeimage = u32(in);
	f.fmt.pix_mp.plane_fmt[0].bytesperline = u16(in);
	unsigned long req = (b & 0x80) ? VIDIOC_TRY_FMT : VIDIOC_S_FMT;
	ioctl_(s, req, &f);
}

static void do_reqbufs(struct in *in, struct session *s, bool create)
{
	int q;
	uint32_t type = pick_type(in, &q);
	uint32_t mem = pick_memory(in);
	uint32_t count = u8(in) % MAX_BUFS;
	if (create) {
		struct v4l2_create_buffers cb;
		memset(&cb, 0, sizeof(cb));
		cb.count = count;
		cb.memory = mem;
		cb.format.type = type;
		if (ioctl_(s, VIDIOC_G_FMT, &cb.format) == 0) {
			cb.format.fmt.pix_mp.plane_fmt[0].sizeimage >>= u8(in) % 4;
			if (ioctl_(s, VIDIOC_CREATE_BUFS, &cb) == 0 && type == qtype(q))
				s->nbufs[q] = cb.index + cb.count;
		}
		return;
	}
	struct v4l2_requestbuffers rb = { .count = count, .type = type, .memory = mem };
	int r = ioctl_(s, VIDIOC_REQBUFS, &rb);
	if (r == 0 && type == qtype(q)) {
		forget_maps(s, q);
		s->nbufs[q] = rb.count;
	}
}

/* An MMAP buffer's memory as the guest maps it, or NULL. */
static uint8_t *mapped(struct session *s, int q, uint32_t index, uint32_t *len)
{
	struct v4l2_plane pl[VIDEO_MAX_PLANES];
	struct v4l2_buffer b = { .index = index, .type = qtype(q), .memory = V4L2_MEMORY_MMAP,
				 .length = VIDEO_MAX_PLANES, .m.planes = pl };
	if (index >= MAX_BUFS || ioctl_(s, VIDIOC_QUERYBUF, &b) || !b.length)
		return NULL;
	*len = pl[0].length;
	if (!s->map[q][index] &&
	    vmedia_guest_mmap(&F.g, s->id, VMEDIA_MMAP_FLAG_RW, pl[0].m.mem_offset,
			      &s->map[q][index], NULL))
		return NULL;
	return vmedia_guest_shm_ptr(&F.g, s->map[q][index], *len);
}

/* Fields first, then @n bytes of coded data (OUTPUT) taken from the input. */
static void do_qbuf(struct in *in, struct session *s, int q, unsigned long req)
{
	uint8_t b0 = u8(in);
	uint32_t index = u8(in) % MAX_BUFS;
	uint32_t memory = (b0 & 3) == 3 ? pick_memory(in)
			  : (b0 & 1) ? V4L2_MEMORY_USERPTR : V4L2_MEMORY_MMAP;
	uint32_t n = u16(in) % 8192;
	struct v4l2_plane pl[VIDEO_MAX_PLANES];
	memset(pl, 0, sizeof(pl));
	struct v4l2_buffer b = { .index = index, .type = qtype(q), .memory = memory,
				 .length = (b0 & 4) ? u8(in) % 10 : 1, .m.planes = pl };
	b.timestamp.tv_sec = u8(in);
	b.timestamp.tv_usec = u16(in);
	uint32_t bytesused = (b0 & 8) ? u32(in) : n;
	pl[0].data_offset = (b0 & 32) ? u16(in) : 0;
	uint32_t ulen = (b0 & 16) ? u32(in) % (USER_SIZE + 1) : USER_SIZE;
	if (n > in->n)
		n = (uint32_t)in->n;
	uint8_t *p = NULL;
	uint32_t len = 0;
	if (memory == V4L2_MEMORY_MMAP) {
		p = mapped(s, q, index, &len);
	} else {
		p = F.user[q][index % 4];
		len = USER_SIZE;
		pl[0].m.userptr = (unsigned long)p;
		pl[0].length = ulen;
	}
	if (p && q == 0)
		memcpy(p, in->p, n < len ? n : len);
	pl[0].bytesused = bytesused;
	in->p += n;
	in->n -= n;
	ioctl_(s, req, &b);
}

static void do_stream(struct in *in, struct session *s)
{
	int q;
	int type = (int)pick_type(in, &q);
	ioctl_(s, (u8(in) & 1) ? VIDIOC_STREAMOFF : VIDIOC_STREAMON, &type);
}

static void do_decoder_cmd(struct in *in, struct session *s)
{
	struct v4l2_decoder_cmd dc;
	memset(&dc, 0, sizeof(dc));
	uint8_t b = u8(in);
	dc.cmd = b % 6 < 4 ? V4L2_DEC_CMD_START + b % 6 : u32(in);
	dc.flags = (b & 0x40) ? u32(in) : 0;
	ioctl_(s, (b & 0x80) ? VIDIOC_TRY_DECODER_CMD : VIDIOC_DECODER_CMD, &dc);
}

static void do_query(struct in *in, struct session *s)
{
	uint8_t b = u8(in);
	switch (b % 6) {
	case 0: {
		struct v4l2_selection sel = { .type = u8(in) % 12, .target = u16(in) };
		ioctl_(s, VIDIOC_G_SELECTION, &sel);
		break;
	}
	case 1: {
		struct v4l2_control c = { .id = (b & 8) ? u32(in)
							: V4L2_CID_MIN_BUFFERS_FOR_CAPTURE,
					  .value = (int32_t)u32(in) };
		ioctl_(s, (b & 16) ? VIDIOC_S_CTRL : VIDIOC_G_CTRL, &c);
		break;
	}
	case 2: {
		struct v4l2_fmtdesc d = { .index = u8(in), .type = u8(in) % 12 };
		ioctl_(s, VIDIOC_ENUM_FMT, &d);
		break;
	}
	case 3: {
		struct v4l2_frmsizeenum fs = { .index = u8(in) % 3,
					       .pixel_format = coded[u8(in) % 8] };
		ioctl_(s, VIDIOC_ENUM_FRAMESIZES, &fs);
		break;
	}
	case 4: {
		struct v4l2_queryctrl qc = { .id = (b & 8) ? u32(in)
							 : V4L2_CTRL_FLAG_NEXT_CTRL };
		ioctl_(s, VIDIOC_QUERYCTRL, &qc);
		break;
	}
	default: {
		struct v4l2_format f = { .type = u8(in) % 12 };
		ioctl_(s, VIDIOC_G_FMT, &f);
		break;
	}
	}
}

static void do_subscribe(struct in *in, struct session *s)
{
	static const uint32_t types[] = { V4L2_EVENT_SOURCE_CHANGE, V4L2_EVENT_EOS,
					  V4L2_EVENT_CTRL, V4L2_EVENT_ALL };
	uint8_t b = u8(in);
	struct v4l2_event_subscription sub = {
		.type = (b & 4) ? u32(in) : types[b % 4],
		.id = (b & 8) ? u32(in) : 0,
		.flags = (b & 16) ? u32(in) : 0,
	};
	ioctl_(s, (b & 0x80) ? VIDIOC_UNSUBSCRIBE_EVENT : VIDIOC_SUBSCRIBE_EVENT, &sub);
}

static void do_unmap(struct in *in, struct session *s)
{
	int q = u8(in) & 1;
	uint32_t i = u8(in) % MAX_BUFS;
	if (s->map[q][i]) {
		vmedia_guest_munmap(&F.g, s->map[q][i]);
		s->map[q][i] = 0;
	}
}

static void step(struct in *in)
{
	uint8_t op = u8(in) % 16;
	if (op == 0) {
		do_open();
		return;
	}
	if (op == 10) {
		pump(u8(in) % 2);
		return;
	}
	struct session *s = pick_session(in);
	if (!s)
		return;
	switch (op) {
	case 1: do_close(s); break;
	case 2: do_fmt(in, s, false); break;
	case 3: do_fmt(in, s, true); break;
	case 4: do_reqbufs(in, s, false); break;
	case 5: do_reqbufs(in, s, true); break;
	case 6: do_qbuf(in, s, 0, VIDIOC_QBUF); break;
	case 7: do_qbuf(in, s, 1, VIDIOC_QBUF); break;
	case 8: do_stream(in, s); break;
	case 9: do_decoder_cmd(in, s); break;
	case 11: do_query(in, s); break;
	case 12: do_subscribe(in, s); break;
	case 13: do_qbuf(in, s, u8(in) & 1, VIDIOC_PREPARE_BUF); break;
	case 14: do_unmap(in, s); break;
	default: /* 15: several pumps, as time passes */
		for (int i = 0; i < 4; i++)
			pump(1);
		break;
	}
}

static void setup(void)
{
	memset(&F, 0, sizeof(F));
	F.dec = vmedia_decoder_new(&(struct vmedia_decoder_config){ .threads = 1 });
	CHECK(F.dec);
	CHECK(vmedia_shm_init_memfd(&F.shm, SHM_SIZE) == 0);
	struct vmedia_guest_config gc = {
		.config = vmedia_decoder_config_space(F.dec),
		.flags = VMEDIA_GUEST_F_NO_CHECKS,
		.allow_userptr = true,
		.mem_size = 4u << 20,
		.shm = F.shm.host,
		.shm_size = F.shm.size,
		.transport = { .process_commands = run_commands, .process_eventq = run_eventq },
	};
	CHECK(vmedia_guest_init(&F.g, &gc) == 0);
	struct vq_queue_config qc;
	vq_fake_queue_config(&F.g.cmdq, &qc);
	qc.notify = vq_fake_interrupt;
	qc.notify_opaque = &F.g.cmdq;
	CHECK(vq_queue_init(&F.cmdq, &qc) == 0);
	vq_fake_queue_config(&F.g.eventq, &qc);
	qc.notify = vq_fake_interrupt;
	qc.notify_opaque = &F.g.eventq;
	CHECK(vq_queue_init(&F.evq, &qc) == 0);
	struct vmedia_device_config dc = {
		.ops = &vmedia_decoder_ops, .priv = F.dec,
		.commandq = &F.cmdq, .eventq = &F.evq,
		.mem = vmedia_guest_mem(&F.g), .shm = &F.shm, .config = gc.config,
	};
	CHECK(vmedia_device_init(&F.dev, &dc) == 0);
	CHECK(vmedia_device_process_eventq(&F.dev) >= 0);
}

static void teardown(void)
{
	CHECK(F.g.stats.ptr_clobbered == 0);
	/* Some sessions closed by the guest, the rest by the device's end. */
	for (int i = 0; i < MAX_SESSIONS; i++)
		if (F.s[i].open && (i & 1))
			do_close(&F.s[i]);
	vmedia_device_destroy(&F.dev);
	vmedia_decoder_free(F.dec);
	vq_queue_destroy(&F.cmdq);
	vq_queue_destroy(&F.evq);
	vmedia_guest_destroy(&F.g);
	vmedia_shm_destroy(&F.shm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) {
		av_log_set_level(AV_LOG_QUIET);
		quiet = true;
	}
	struct in in = { data, size };
	setup();
	for (int i = 0; i < MAX_STEPS && in.n; i++)
		step(&in);
	pump(1);
	teardown();
	return 0;
}
