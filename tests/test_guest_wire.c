/* SPDX-License-Identifier: MIT */
/*
 * The guest-driver model's wire output, checked by a device played by hand:
 * device queues attached to the model's two fakes pop every chain the model
 * publishes, record its exact shape and bytes, and answer with canned
 * responses.  No media/ code is involved, so these tests pin what the model
 * sends, independently of the runner that will answer it.
 *
 * The hand-made device is permissive by default: OPEN hands out ids 1, 2,
 * ...; an IOCTL answers status 0 and echoes its readable payload (what the
 * guest sent after the 16-byte command) into the writable part; MMAP maps
 * at the requested offset with 4096 bytes.  A test overrides the next
 * answer through the one-shot fields (status, reply, mutate, written).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vq_chain.h"
#include "vmedia_guest.h"

#define MAXSEG 256

struct rec {
	unsigned nr, nw;                 /* readable / writable segments */
	uint32_t rlen[MAXSEG], wlen[MAXSEG];
	uint8_t *rptr[MAXSEG], *wptr[MAXSEG];
	uint8_t rbytes[1 << 16];         /* the readable part, concatenated */
	uint32_t rtotal, wtotal;
	uint8_t wbefore[64];             /* writable bytes before the device wrote */
	uint16_t ndesc;
};

struct dev {
	struct vmedia_guest g;
	struct vq_queue cq, eq;
	struct iovec iov[MAXSEG], eiov[4];
	struct vq_chain c, ec;
	unsigned calls, eventq_calls, bad_chains, ncmds;
	uint32_t cmds[256];              /* command codes in order */
	uint32_t next_id;
	/* one-shot answer overrides, reset after each command */
	uint32_t status;
	uint8_t reply[4096];
	uint32_t reply_len;              /* >0: payload to answer instead of the echo */
	void (*mutate)(struct dev *d, uint8_t *payload, uint32_t len);
	int32_t written;                 /* >=0: used length to push instead */
	bool swallow;                    /* pop the chain and never answer */
	uint64_t mmap_len;               /* sticky */
	uint64_t mmap_addr_add;          /* sticky: added to the offset */
	/* the last command */
	struct rec rec;
	/* a swallowed chain */
	struct vq_chain held;
	struct iovec held_iov[MAXSEG];
	bool has_held;
};

static void record(struct dev *d)
{
	struct rec *r = &d->rec;
	const struct vq_chain *c = &d->c;
	r->nr = c->nreadable;
	r->nw = c->nwritable;
	r->ndesc = c->ndesc;
	r->rtotal = 0;
	for (unsigned i = 0; i < c->nreadable; i++) {
		r->rlen[i] = (uint32_t)c->iov[i].iov_len;
		r->rptr[i] = c->iov[i].iov_base;
		cr_assert_leq(r->rtotal + r->rlen[i], sizeof(r->rbytes));
		memcpy(r->rbytes + r->rtotal, c->iov[i].iov_base, r->rlen[i]);
		r->rtotal += r->rlen[i];
	}
	r->wtotal = 0;
	for (unsigned i = 0; i < c->nwritable; i++) {
		const struct iovec *v = &c->iov[c->nreadable + i];
		r->wlen[i] = (uint32_t)v->iov_len;
		r->wptr[i] = v->iov_base;
		if (r->wtotal < sizeof(r->wbefore)) {
			size_t n = sizeof(r->wbefore) - r->wtotal;
			memcpy(r->wbefore + r->wtotal, v->iov_base, n < v->iov_len ? n : v->iov_len);
		}
		r->wtotal += r->wlen[i];
	}
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint32_t respond(struct dev *d)
{
	struct rec *r = &d->rec;
	if (r->nw == 0)
		return 0;
	struct vq_writer w;
	vq_writer_init(&w, &d->c);
	uint32_t cmd = r->rtotal >= 4 ? rd32(r->rbytes) : 0;
	struct vmedia_resp_header h = { .status = d->status };
	vq_writer_write(&w, &h, sizeof(h));
	if (d->status == 0 || d->reply_len || d->mutate) {
		if (cmd == VMEDIA_CMD_OPEN && !d->reply_len) {
			uint32_t id[2] = { d->next_id++, 0 };
			vq_writer_write(&w, id, sizeof(id));
		} else if (cmd == VMEDIA_CMD_MMAP && !d->reply_len && r->rtotal >= 20) {
			uint64_t m[2] = { rd32(r->rbytes + 16) + d->mmap_addr_add,
					  d->mmap_len ? d->mmap_len : 4096 };
			vq_writer_write(&w, m, sizeof(m));
		} else if (cmd == VMEDIA_CMD_IOCTL) {
			static uint8_t p[1 << 16];
			uint32_t n;
			if (d->reply_len) {
				n = d->reply_len;
				memcpy(p, d->reply, n);
			} else {
				n = r->rtotal > 16 ? r->rtotal - 16 : 0;
				memcpy(p, r->rbytes + 16, n);
			}
			if (d->mutate)
				d->mutate(d, p, n);
			vq_writer_write(&w, p, n);
		}
	}
	uint32_t written = vq_writer_written(&w);
	if (d->written >= 0)
		written = (uint32_t)d->written;
	d->status = 0;
	d->reply_len = 0;
	d->mutate = NULL;
	d->written = -1;
	return written;
}

static void dev_process(void *opaque)
{
	struct dev *d = opaque;
	d->calls++;
	for (;;) {
		int r = vq_queue_pop(&d->cq, &d->c);
		if (r == 0 || r == -EIO)
			break;
		if (r < 0) {
			d->bad_chains++;
			continue;
		}
		record(d);
		if (d->ncmds < 256)
			d->cmds[d->ncmds++] = d->rec.rtotal >= 4 ? rd32(d->rec.rbytes) : ~0u;
		if (d->swallow) {
			d->swallow = false;
			memcpy(d->held_iov, d->c.iov, d->c.iov_cap * sizeof(struct iovec));
			d->held = d->c;
			d->held.iov = d->held_iov;
			d->has_held = true;
			continue;
		}
		cr_assert_eq(vq_queue_push(&d->cq, &d->c, respond(d)), 0);
	}
	vq_queue_flush(&d->cq);
}

static void dev_eventq(void *opaque)
{
	((struct dev *)opaque)->eventq_calls++;
}

static struct vmedia_guest_config base_cfg(void)
{
	struct vmedia_guest_config cfg = { 0 };
	cfg.config.device_caps = V4L2_CAP_VIDEO_M2M_MPLANE | V4L2_CAP_STREAMING;
	memcpy(cfg.config.card, "hand-made device", 16);
	return cfg;
}

static struct dev *dev_new_cfg(struct vmedia_guest_config cfg)
{
	struct dev *d = calloc(1, sizeof(*d));
	cr_assert_not_null(d);
	d->next_id = 1;
	d->written = -1;
	cfg.transport = (struct vmedia_guest_transport){ dev_process, dev_eventq, d };
	cr_assert_eq(vmedia_guest_init(&d->g, &cfg), 0);
	struct vq_queue_config qc;
	vq_fake_queue_config(vmedia_guest_cmdq(&d->g), &qc);
	cr_assert_eq(vq_queue_init(&d->cq, &qc), 0);
	vq_fake_queue_config(vmedia_guest_eventq(&d->g), &qc);
	cr_assert_eq(vq_queue_init(&d->eq, &qc), 0);
	vq_chain_init(&d->c, d->iov, MAXSEG);
	vq_chain_init(&d->ec, d->eiov, 4);
	return d;
}

static struct dev *dev_new(void)
{
	return dev_new_cfg(base_cfg());
}

static void dev_free(struct dev *d)
{
	vq_queue_destroy(&d->cq);
	vq_queue_destroy(&d->eq);
	vmedia_guest_destroy(&d->g);
	free(d);
}

static uint32_t dev_open(struct dev *d)
{
	uint32_t id = ~0u;
	cr_assert_eq(vmedia_guest_open(&d->g, &id), 0);
	return id;
}

/* Post one event of @len bytes (the used length) from @ev; false if the
 * guest has no eventq buffer posted. */
static bool dev_event_len(struct dev *d, const void *ev, uint32_t size, uint32_t len)
{
	int r = vq_queue_pop(&d->eq, &d->ec);
	cr_assert_geq(r, 0);
	if (r == 0)
		return false;
	cr_assert_eq(d->ec.nreadable, 0);
	cr_assert_eq(d->ec.writable_len, VMEDIA_EVENTQ_BUF_SIZE);
	struct vq_writer w;
	vq_writer_init(&w, &d->ec);
	cr_assert_eq(vq_writer_write_all(&w, ev, size), 0);
	cr_assert_eq(vq_queue_push(&d->eq, &d->ec, len), 0);
	vq_queue_flush(&d->eq);
	return true;
}

static bool dev_event(struct dev *d, const void *ev, uint32_t len)
{
	return dev_event_len(d, ev, len, len);
}

static void ev_dqbuf(struct dev *d, uint32_t sid, const struct v4l2_buffer *b,
		     const struct v4l2_plane *planes, unsigned np)
{
	struct vmedia_event_dqbuf e = { .hdr = { VMEDIA_EVT_DQBUF, sid }, .buffer = *b };
	e.buffer.m.userptr = 0;
	for (unsigned i = 0; i < np; i++) {
		e.planes[i] = planes[i];
		e.planes[i].m.userptr = 0;
	}
	cr_assert(dev_event(d, &e, sizeof(e)));
}

static void ev_v4l2(struct dev *d, uint32_t sid, uint32_t type, uint32_t id, uint32_t changes)
{
	struct vmedia_event_event e = { .hdr = { VMEDIA_EVT_EVENT, sid } };
	e.event.type = type;
	e.event.id = id;
	e.event.u.src_change.changes = changes;
	cr_assert(dev_event(d, &e, sizeof(e)));
}

static void ev_error(struct dev *d, uint32_t sid, uint32_t err)
{
	struct vmedia_event_error e = { .hdr = { VMEDIA_EVT_ERROR, sid }, .error = err };
	cr_assert(dev_event(d, &e, sizeof(e)));
}

/* The guest memory behind a guest-physical range, host-contiguous. */
static uint8_t *gmem(struct dev *d, uint64_t gpa, uint64_t len)
{
	uint8_t *p = vq_mem_map(vmedia_guest_mem(&d->g), gpa, len);
	cr_assert_not_null(p, "gpa %#llx+%llu is not guest memory", (unsigned long long)gpa,
			   (unsigned long long)len);
	return p;
}

static void expect_ioctl_cmd(struct dev *d, uint32_t sid, unsigned long request)
{
	cr_assert_geq(d->rec.nr, 1);
	cr_assert_eq(d->rec.rlen[0], 16, "ioctl command is %u bytes", d->rec.rlen[0]);
	cr_assert_eq(rd32(d->rec.rbytes + 0), VMEDIA_CMD_IOCTL);
	cr_assert_eq(rd32(d->rec.rbytes + 4), 0);
	cr_assert_eq(rd32(d->rec.rbytes + 8), sid);
	cr_assert_eq(rd32(d->rec.rbytes + 12), _IOC_NR(request));
}

static void expect_shape(struct dev *d, unsigned nr, const uint32_t *rl, unsigned nw,
			 const uint32_t *wl)
{
	cr_assert_eq(d->rec.nr, nr, "readable descriptors: %u, expected %u", d->rec.nr, nr);
	cr_assert_eq(d->rec.nw, nw, "writable descriptors: %u, expected %u", d->rec.nw, nw);
	for (unsigned i = 0; i < nr; i++)
		cr_assert_eq(d->rec.rlen[i], rl[i], "readable[%u] is %u bytes, expected %u", i,
			     d->rec.rlen[i], rl[i]);
	for (unsigned i = 0; i < nw; i++)
		cr_assert_eq(d->rec.wlen[i], wl[i], "writable[%u] is %u bytes, expected %u", i,
			     d->rec.wlen[i], wl[i]);
}

#define SHAPE(d, R, W)                                                             \
	do {                                                                       \
		const uint32_t r_[] = { R }, w_[] = { W };                         \
		expect_shape(d, sizeof(r_) / 4, r_, (sizeof(w_) / 4) - (w_[0] == 0xffffffffu), w_); \
	} while (0)
#define NONE 0xffffffffu
#define COMMA ,

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131u + seed * 7u + (i >> 8));
}

/* ------------------------------------------------------------------------ */
/* init, OPEN, CLOSE */

Test(guest_init, posts_sixteen_608_byte_event_buffers)
{
	struct dev *d = dev_new();
	for (int i = 0; i < 16; i++) {
		cr_assert_eq(vq_queue_pop(&d->eq, &d->ec), 1, "event buffer %d", i);
		cr_assert_eq(d->ec.nreadable, 0);
		cr_assert_eq(d->ec.nwritable, 1);
		cr_assert_eq(d->ec.ndesc, 1);
		cr_assert_eq(d->ec.writable_len, 608);
	}
	cr_assert_eq(vq_queue_pop(&d->eq, &d->ec), 0);
	/* The two memories do not overlap and both are in the combined table. */
	struct vq_fake *c = vmedia_guest_cmdq(&d->g), *e = vmedia_guest_eventq(&d->g);
	cr_assert_gt(e->gpa_base, c->gpa_base + (uint64_t)c->nregions * c->region_size);
	cr_assert_eq(vmedia_guest_mem(&d->g)->nregions, 2);
	cr_assert_eq(d->calls, 0);
	dev_free(d);
}

Test(guest_init, rejects_bad_queue_sizes)
{
	struct vmedia_guest g;
	struct vmedia_guest_config cfg = base_cfg();
	cfg.cmdq_size = 48;
	cr_assert_eq(vmedia_guest_init(&g, &cfg), -EINVAL);
	cfg = base_cfg();
	cfg.eventq_size = 8; /* cannot hold the 16 buffers */
	cr_assert_eq(vmedia_guest_init(&g, &cfg), -EINVAL);
	cfg.event_bufs = 4;
	cr_assert_eq(vmedia_guest_init(&g, &cfg), 0);
	vmedia_guest_destroy(&g);
}

Test(guest_open, one_readable_8_one_writable_16)
{
	struct dev *d = dev_new();
	d->next_id = 42;
	uint32_t id = 0;
	cr_assert_eq(vmedia_guest_open(&d->g, &id), 0);
	cr_assert_eq(id, 42);
	SHAPE(d, 8, 16);
	cr_assert_eq(rd32(d->rec.rbytes), VMEDIA_CMD_OPEN);
	cr_assert_eq(rd32(d->rec.rbytes + 4), 0);
	cr_assert_eq(d->g.last_used_len, 16);
	dev_free(d);
}

Test(guest_open, status_and_short_answers)
{
	struct dev *d = dev_new();
	uint32_t id;
	d->status = EBUSY;
	cr_assert_eq(vmedia_guest_open(&d->g, &id), -EBUSY);
	d->written = 8; /* header only: no session id */
	cr_assert_eq(vmedia_guest_open(&d->g, &id), -EINVAL);
	d->written = 4; /* not even a header */
	cr_assert_eq(vmedia_guest_open(&d->g, &id), -EINVAL);
	d->status = 5000; /* no errno */
	cr_assert_eq(vmedia_guest_open(&d->g, &id), -EPROTO);
	cr_assert_eq(d->g.stats.bad_status, 1);
	dev_free(d);
}

Test(guest_open, session_limit_and_duplicate_ids)
{
	struct vmedia_guest_config cfg = base_cfg();
	cfg.max_sessions = 2;
	struct dev *d = dev_new_cfg(cfg);
	uint32_t a = dev_open(d), id;
	d->next_id = a; /* the device hands out an id that is open */
	cr_assert_eq(vmedia_guest_open(&d->g, &id), -EPROTO);
	cr_assert_eq(d->g.stats.dup_session_id, 1);
	dev_open(d);
	unsigned calls = d->calls;
	cr_assert_eq(vmedia_guest_open(&d->g, &id), -EMFILE);
	cr_assert_eq(d->calls, calls, "nothing is sent past the limit");
	dev_free(d);
}

Test(guest_close, one_readable_16_and_no_writable_descriptor)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	cr_assert_eq(vmedia_guest_close(&d->g, id), 0);
	SHAPE(d, 16, NONE);
	cr_assert_eq(d->rec.wtotal, 0);
	cr_assert_eq(rd32(d->rec.rbytes), VMEDIA_CMD_CLOSE);
	cr_assert_eq(rd32(d->rec.rbytes + 4), 0);
	cr_assert_eq(rd32(d->rec.rbytes + 8), id);
	cr_assert_eq(rd32(d->rec.rbytes + 12), 0);
	cr_assert_eq(d->g.last_used_len, 0);
	cr_assert_eq(vmedia_guest_close(&d->g, id), -EBADF);
	struct v4l2_format f = { 0 };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), -EBADF);
	dev_free(d);
}

/* ------------------------------------------------------------------------ */
/* plain ioctls */

static void set_width_640(struct dev *d, uint8_t *p, uint32_t len)
{
	(void)d;
	cr_assert_eq(len, sizeof(struct v4l2_format));
	struct v4l2_format *f = (struct v4l2_format *)(void *)p;
	f->fmt.pix_mp.width = 640;
}

Test(guest_ioctl, iowr_shares_the_payload_descriptor)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE };
	f.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_NV12;
	d->mutate = set_width_640;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), 0);
	SHAPE(d, 16 COMMA 208, 8 COMMA 208);
	expect_ioctl_cmd(d, id, VIDIOC_G_FMT);
	cr_assert_eq(rd32(d->rec.rbytes + 12), 4, "G_FMT is code 4");
	cr_assert_eq(d->rec.rptr[1], d->rec.wptr[1], "the payload is one shared descriptor");
	cr_assert_eq(memcmp(d->rec.wbefore, "\xa5\xa5\xa5\xa5\xa5\xa5\xa5\xa5", 8), 0,
		     "the response header starts poisoned");
	struct v4l2_format sent;
	memcpy(&sent, d->rec.rbytes + 16, sizeof(sent));
	cr_assert_eq(sent.type, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE);
	cr_assert_eq(sent.fmt.pix_mp.pixelformat, V4L2_PIX_FMT_NV12);
	cr_assert_eq(f.fmt.pix_mp.width, 640);
	cr_assert_eq(d->g.last_used_len, 8 + 208);
	dev_free(d);
}

Test(guest_ioctl, ior_sends_no_payload_and_zeroes_the_reply_area)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	v4l2_std_id std = 0x1234;
	uint64_t answer = 0xb000;
	memcpy(d->reply, &answer, 8);
	d->reply_len = 8;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYSTD, &std), 0);
	SHAPE(d, 16, 8 COMMA 8);
	expect_ioctl_cmd(d, id, VIDIOC_QUERYSTD);
	cr_assert_eq(rd64(d->rec.wbefore + 8), 0, "an _IOR payload goes out zeroed");
	cr_assert_eq(std, 0xb000);
	dev_free(d);
}

Test(guest_ioctl, iow_sends_the_payload_and_expects_only_a_header)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	int type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_STREAMON, &type), 0);
	SHAPE(d, 16 COMMA 4, 8);
	expect_ioctl_cmd(d, id, VIDIOC_STREAMON);
	cr_assert_eq(rd32(d->rec.rbytes + 16), V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE);
	cr_assert_eq(d->g.last_used_len, 8);
	v4l2_std_id std = 0xff;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_S_STD, &std), 0);
	SHAPE(d, 16 COMMA 8, 8);
	struct v4l2_event_subscription sub = { .type = V4L2_EVENT_EOS };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_SUBSCRIBE_EVENT, &sub), 0);
	SHAPE(d, 16 COMMA 32, 8);
	dev_free(d);
}

Test(guest_ioctl, g_input_goes_out_as_iowr_like_the_driver)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	int input = 7;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_INPUT, &input), 0);
	SHAPE(d, 16 COMMA 4, 8 COMMA 4);
	cr_assert_eq(d->rec.rptr[1], d->rec.wptr[1]);
	int output = 0;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_OUTPUT, &output), 0);
	SHAPE(d, 16 COMMA 4, 8 COMMA 4);
	dev_free(d);
}

Test(guest_ioctl, io_without_payload)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_LOG_STATUS, NULL), 0);
	SHAPE(d, 16, 8);
	expect_ioctl_cmd(d, id, VIDIOC_LOG_STATUS);
	dev_free(d);
}

static void scribble(struct dev *d, uint8_t *p, uint32_t len)
{
	(void)d;
	memset(p, 0x77, len);
}

Test(guest_ioctl, errors_leave_the_payload_alone)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	d->status = EINVAL;
	d->mutate = scribble; /* the device writes the payload anyway */
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_S_FMT, &f), -EINVAL);
	cr_assert_eq(f.type, V4L2_BUF_TYPE_VIDEO_CAPTURE);
	cr_assert_eq(f.fmt.pix.width, 0);
	d->written = 8; /* success, but the payload did not come back */
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), -EINVAL);
	d->written = 0;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), -EINVAL);
	d->status = ENOTTY;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), -ENOTTY);
	dev_free(d);
}

Test(guest_ioctl, refused_before_the_wire)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	unsigned calls = d->calls;
	int x = 0;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, _IOWR('U', 4, int), &x), -ENOTTY);
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, NULL), -EFAULT);
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id + 100, VIDIOC_G_FMT, &x), -EBADF);
	struct v4l2_event_subscription all = { .type = V4L2_EVENT_ALL };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_SUBSCRIBE_EVENT, &all), -EINVAL);
	int type = 99;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_STREAMON, &type), -EINVAL);
	cr_assert_eq(d->calls, calls);
	/* UNSUBSCRIBE(ALL) is the device's business too. */
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_UNSUBSCRIBE_EVENT, &all), 0);
	SHAPE(d, 16 COMMA 32, 8);
	dev_free(d);
}

Test(guest_ioctl, no_checks_sends_what_the_driver_would_refuse)
{
	struct vmedia_guest_config cfg = base_cfg();
	cfg.flags = VMEDIA_GUEST_F_NO_CHECKS;
	struct dev *d = dev_new_cfg(cfg);
	uint32_t id = dev_open(d);
	struct v4l2_event_subscription all = { .type = V4L2_EVENT_ALL };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_SUBSCRIBE_EVENT, &all), 0);
	SHAPE(d, 16 COMMA 32, 8);
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .index = 9,
				 .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	SHAPE(d, 16 COMMA 88, 8 COMMA 88);
	struct v4l2_requestbuffers rb = { .count = 1, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = V4L2_MEMORY_USERPTR };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_REQBUFS, &rb), 0);
	dev_free(d);
}

Test(guest_ioctl, querycap_comes_from_config_space)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	unsigned calls = d->calls;
	struct v4l2_capability cap;
	memset(&cap, 0xff, sizeof(cap));
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYCAP, &cap), 0);
	cr_assert_eq(d->calls, calls);
	cr_assert_str_eq((char *)cap.driver, "virtio-media");
	cr_assert_str_eq((char *)cap.bus_info, "platform:virtio-media");
	cr_assert_eq(memcmp(cap.card, "hand-made device", 17), 0);
	uint32_t caps = V4L2_CAP_VIDEO_M2M_MPLANE | V4L2_CAP_STREAMING;
	cr_assert_eq(cap.device_caps, caps | V4L2_CAP_EXT_PIX_FORMAT);
	cr_assert_eq(cap.capabilities, caps | V4L2_CAP_DEVICE_CAPS | V4L2_CAP_EXT_PIX_FORMAT);
	cr_assert_neq(cap.version, 0);
	dev_free(d);
}

Test(guest_ioctl, timeout_then_the_late_answer_is_skipped)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	d->swallow = true;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), -ETIMEDOUT);
	cr_assert_eq(d->g.stats.timeouts, 1);
	cr_assert(d->has_held);
	/* The device answers late; the next command must still match its own. */
	cr_assert_eq(vq_queue_push(&d->cq, &d->held, 0), 0);
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), 0);
	cr_assert_eq(d->g.stats.stale_used, 1);
	cr_assert_eq(d->g.last_used_len, 8 + 208);
	dev_free(d);
}

Test(guest_ioctl, no_transport_times_out)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	vmedia_guest_set_transport(&d->g, &(struct vmedia_guest_transport){ 0 });
	struct v4l2_format f = { 0 };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), -ETIMEDOUT);
	dev_free(d);
}

/* ------------------------------------------------------------------------ */
/* chain shapes */

Test(guest_shape, split_readable_into_small_descriptors)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	d->g.shape.split_readable = 4;
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	f.fmt.pix.width = 320;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_S_FMT, &f), 0);
	cr_assert_eq(d->rec.nr, 16 / 4 + 208 / 4);
	for (unsigned i = 0; i < d->rec.nr; i++)
		cr_assert_eq(d->rec.rlen[i], 4);
	cr_assert_eq(d->rec.nw, 2);
	cr_assert_eq(rd32(d->rec.rbytes), VMEDIA_CMD_IOCTL);
	cr_assert_eq(rd32(d->rec.rbytes + 8), id);
	cr_assert_eq(rd32(d->rec.rbytes + 12), _IOC_NR(VIDIOC_S_FMT));
	struct v4l2_format sent;
	memcpy(&sent, d->rec.rbytes + 16, sizeof(sent));
	cr_assert_eq(sent.fmt.pix.width, 320);
	d->g.shape.split_readable = 0;
	d->g.shape.split_writable = 100;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), 0);
	SHAPE(d, 16 COMMA 208, 8 COMMA 100 COMMA 100 COMMA 8);
	cr_assert_eq(f.fmt.pix.width, 320);
	/* Too many pieces for the queue: refused, nothing published. */
	d->g.shape.split_writable = 1;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), -ENOSPC);
	dev_free(d);
}

Test(guest_shape, indirect_when_negotiated_like_virtio_ring)
{
	struct vmedia_guest_config cfg = base_cfg();
	cfg.cmdq_features = 1ull << VQ_F_INDIRECT_DESC;
	struct dev *d = dev_new_cfg(cfg);
	uint32_t id = dev_open(d);
	cr_assert_eq(d->rec.ndesc, 1);
	struct v4l2_format f = { 0 };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), 0);
	cr_assert_eq(d->rec.ndesc, 1, "four descriptors through one indirect table");
	SHAPE(d, 16 COMMA 208, 8 COMMA 208);
	d->g.shape.direct = true;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), 0);
	cr_assert_eq(d->rec.ndesc, 4);
	dev_free(d);
}

/* ------------------------------------------------------------------------ */
/* v4l2_buffer */

static void reqbufs(struct dev *d, uint32_t id, uint32_t type, uint32_t memory, uint32_t count)
{
	struct v4l2_requestbuffers rb = { .count = count, .type = type, .memory = memory };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_REQBUFS, &rb), 0);
	SHAPE(d, 16 COMMA 20, 8 COMMA 20);
}

static void caps_all(struct dev *d, uint8_t *p, uint32_t len)
{
	(void)d;
	struct v4l2_requestbuffers *rb = (void *)p;
	cr_assert_eq(len, sizeof(*rb));
	rb->capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP | V4L2_BUF_CAP_SUPPORTS_USERPTR |
			   V4L2_BUF_CAP_SUPPORTS_DMABUF;
}

Test(guest_buffer, reqbufs_strips_dmabuf_and_userptr_caps)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	struct v4l2_requestbuffers rb = { .count = 4, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = V4L2_MEMORY_MMAP };
	d->mutate = caps_all;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_REQBUFS, &rb), 0);
	cr_assert_eq(rb.capabilities, V4L2_BUF_CAP_SUPPORTS_MMAP);
	rb.memory = V4L2_MEMORY_USERPTR;
	unsigned calls = d->calls;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_REQBUFS, &rb), -EINVAL,
		     "USERPTR is off without allow_userptr");
	cr_assert_eq(d->calls, calls);
	dev_free(d);
}

Test(guest_buffer, single_planar_qbuf_shares_the_buffer)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_MMAP, 4);
	struct v4l2_buffer b = { .index = 2, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_MMAP, .length = 8192 };
	b.m.offset = 0x4000;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	SHAPE(d, 16 COMMA 88, 8 COMMA 88);
	expect_ioctl_cmd(d, id, VIDIOC_QBUF);
	cr_assert_eq(d->rec.rptr[1], d->rec.wptr[1]);
	struct v4l2_buffer sent;
	memcpy(&sent, d->rec.rbytes + 16, sizeof(sent));
	cr_assert_eq(sent.index, 2);
	cr_assert_eq(sent.m.offset, 0x4000);
	cr_assert_eq(sent.length, 8192);
	b.index = 4;
	unsigned calls = d->calls;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), -EINVAL, "index >= allocated");
	cr_assert_eq(d->calls, calls);
	dev_free(d);
}

static void two_planes_back(struct dev *d, uint8_t *p, uint32_t len)
{
	(void)d;
	cr_assert_eq(len, 88 + 2 * 64);
	struct v4l2_plane *pl = (void *)(p + 88);
	pl[0].length = 1000;
	pl[1].m.mem_offset = 0x9000;
	pl[1].length = 500;
}

Test(guest_buffer, mplane_planes_follow_in_both_parts)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, V4L2_MEMORY_MMAP, 2);
	struct v4l2_plane planes[2] = { { .bytesused = 11 }, { .bytesused = 22 } };
	struct v4l2_buffer b = { .index = 1, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
				 .memory = V4L2_MEMORY_MMAP, .length = 2 };
	b.m.planes = planes;
	d->mutate = two_planes_back;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &b), 0);
	SHAPE(d, 16 COMMA 88 COMMA 128, 8 COMMA 88 COMMA 128);
	cr_assert_eq(d->rec.rptr[1], d->rec.wptr[1]);
	cr_assert_eq(d->rec.rptr[2], d->rec.wptr[2]);
	struct v4l2_buffer sent;
	memcpy(&sent, d->rec.rbytes + 16, sizeof(sent));
	cr_assert_eq((uint64_t)sent.m.userptr, VMEDIA_GUEST_PTR_PLACEHOLDER,
		     "no guest pointer on the wire");
	cr_assert_eq(rd32(d->rec.rbytes + 16 + 88 + 0), 11, "plane 0 bytesused");
	cr_assert_eq(rd32(d->rec.rbytes + 16 + 88 + 64), 22, "plane 1 bytesused");
	cr_assert_eq(b.m.planes, planes, "the caller's planes pointer is restored");
	cr_assert_eq(planes[0].length, 1000);
	cr_assert_eq(planes[1].m.mem_offset, 0x9000);
	cr_assert_eq(d->g.stats.ptr_clobbered, 0);
	dev_free(d);
}

static void three_planes(struct dev *d, uint8_t *p, uint32_t len)
{
	(void)d;
	(void)len;
	((struct v4l2_buffer *)(void *)p)->length = 3;
}

static void clobber_planes_ptr(struct dev *d, uint8_t *p, uint32_t len)
{
	(void)d;
	(void)len;
	((struct v4l2_buffer *)(void *)p)->m.userptr = 0;
}

Test(guest_buffer, plane_count_limits)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, V4L2_MEMORY_MMAP, 1);
	struct v4l2_plane planes[9] = { { 0 } };
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
				 .memory = V4L2_MEMORY_MMAP, .length = 9 };
	b.m.planes = planes;
	unsigned calls = d->calls;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &b), -EINVAL);
	b.length = 1;
	b.m.planes = NULL;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &b), -EFAULT);
	cr_assert_eq(d->calls, calls);
	b.m.planes = planes;
	b.length = 2;
	d->mutate = three_planes;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &b), -ENOSPC);
	cr_assert_eq(b.length, 2, "the caller's buffer is left alone");
	b.length = 0;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &b), 0);
	SHAPE(d, 16 COMMA 88, 8 COMMA 88);
	d->mutate = clobber_planes_ptr;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &b), 0);
	cr_assert_eq(b.m.planes, planes);
	cr_assert_eq(d->g.stats.ptr_clobbered, 1);
	dev_free(d);
}

Test(guest_buffer, querybuf_beyond_the_allocated_buffers_fails_after_the_device)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_MMAP, 1);
	struct v4l2_buffer b = { .index = 3, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_MMAP };
	unsigned calls = d->calls;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &b), -EINVAL);
	cr_assert_eq(d->calls, calls + 1, "the driver asks first and checks after");
	dev_free(d);
}

Test(guest_buffer, create_bufs_grows_the_queue)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_MMAP, 2);
	struct v4l2_create_buffers cb = { .index = 2, .count = 3, .memory = V4L2_MEMORY_MMAP };
	cb.format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_CREATE_BUFS, &cb), 0);
	SHAPE(d, 16 COMMA 256, 8 COMMA 256);
	struct v4l2_buffer b = { .index = 4, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	b.index = 5;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), -EINVAL);
	dev_free(d);
}

Test(guest_buffer, dmabuf_uuids_and_expbuf)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, V4L2_MEMORY_DMABUF, 1);
	memset(d->g.uuids[0], 0x11, 16);
	memset(d->g.uuids[1], 0x22, 16);
	struct v4l2_plane planes[2] = { { 0 } };
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
				 .memory = V4L2_MEMORY_DMABUF, .length = 2 };
	b.m.planes = planes;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	SHAPE(d, 16 COMMA 88 COMMA 128 COMMA 32, 8 COMMA 88 COMMA 128 COMMA 32);
	cr_assert_eq(d->rec.rptr[3], d->rec.wptr[3]);
	cr_assert_eq(d->rec.rbytes[16 + 88 + 128], 0x11);
	cr_assert_eq(d->rec.rbytes[16 + 88 + 128 + 16], 0x22);

	struct v4l2_exportbuffer e = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	uint8_t reply[64 + 16] = { 0 };
	memcpy(reply, &e, 64);
	memset(reply + 64, 0x5e, 16);
	memcpy(d->reply, reply, sizeof(reply));
	d->reply_len = sizeof(reply);
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_EXPBUF, &e), 0);
	SHAPE(d, 16 COMMA 64 COMMA 16, 8 COMMA 64 COMMA 16);
	cr_assert_eq(d->g.uuids[0][15], 0x5e);
	dev_free(d);
}

/* ------------------------------------------------------------------------ */
/* USERPTR */

static struct dev *userptr_dev(void)
{
	struct vmedia_guest_config cfg = base_cfg();
	cfg.allow_userptr = true;
	return dev_new_cfg(cfg);
}

/* Read the SG list at readable byte @off with @n entries; check it covers
 * @len bytes equal to @want and return the entries. */
static void check_sg(struct dev *d, uint32_t off, unsigned n, const uint8_t *want, uint32_t len,
		     struct vmedia_sg_entry *out)
{
	uint32_t covered = 0;
	for (unsigned i = 0; i < n; i++) {
		struct vmedia_sg_entry e;
		memcpy(&e, d->rec.rbytes + off + i * 16, 16);
		cr_assert_eq(e.reserved, 0);
		cr_assert_gt(e.len, 0);
		cr_assert_eq(memcmp(gmem(d, e.start, e.len), want + covered, e.len), 0,
			     "SG entry %u does not hold the user's bytes", i);
		covered += e.len;
		if (out)
			out[i] = e;
	}
	cr_assert_eq(covered, len);
}

Test(guest_userptr, qbuf_sends_an_sg_list_readable_only)
{
	struct dev *d = userptr_dev();
	uint32_t id = dev_open(d);
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_USERPTR, 2);
	static uint8_t user[5000];
	fill(user, sizeof(user), 1);
	struct v4l2_buffer b = { .index = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_USERPTR, .length = sizeof(user) };
	b.m.userptr = (unsigned long)user;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	SHAPE(d, 16 COMMA 88 COMMA 16, 8 COMMA 88);
	struct v4l2_buffer sent;
	memcpy(&sent, d->rec.rbytes + 16, sizeof(sent));
	cr_assert_eq(sent.m.userptr, (unsigned long)user, "the user pointer goes as it is");
	struct vmedia_sg_entry e;
	check_sg(d, 16 + 88, 1, user, sizeof(user), &e);
	cr_assert_eq(b.m.userptr, (unsigned long)user);

	/* The device fills the buffer later and says so with a DQBUF event. */
	fill(gmem(d, e.start, e.len), e.len, 9);
	struct v4l2_buffer done = { .index = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				    .memory = V4L2_MEMORY_USERPTR, .bytesused = 5000,
				    .length = 5000 };
	ev_dqbuf(d, id, &done, NULL, 0);
	struct v4l2_buffer out = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), 0);
	cr_assert_eq(out.m.userptr, (unsigned long)user, "m comes from QBUF time");
	cr_assert_eq(out.bytesused, 5000);
	uint8_t want[5000];
	fill(want, sizeof(want), 9);
	cr_assert_eq(memcmp(user, want, sizeof(want)), 0, "the device's bytes reached the user");

	/* Queued again: the same guest copy, refreshed from the user. */
	fill(user, sizeof(user), 3);
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	struct vmedia_sg_entry e2;
	check_sg(d, 16 + 88, 1, user, sizeof(user), &e2);
	cr_assert_eq(e2.start, e.start);
	dev_free(d);
}

Test(guest_userptr, scattered_into_non_contiguous_pieces)
{
	struct dev *d = userptr_dev();
	uint32_t id = dev_open(d);
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_MEMORY_USERPTR, 1);
	static uint8_t user[10001];
	fill(user, sizeof(user), 2);
	d->g.shape.sg_segments = 4;
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT,
				 .memory = V4L2_MEMORY_USERPTR, .length = sizeof(user),
				 .bytesused = sizeof(user) };
	b.m.userptr = (unsigned long)user;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	SHAPE(d, 16 COMMA 88 COMMA 64, 8 COMMA 88);
	struct vmedia_sg_entry e[4];
	check_sg(d, 16 + 88, 4, user, sizeof(user), e);
	for (int i = 1; i < 4; i++)
		cr_assert_neq(e[i].start, e[i - 1].start + e[i - 1].len, "pieces must not touch");

	/* One entry per user page, the first one as short as the offset. */
	d->g.shape.sg_segments = VMEDIA_GUEST_SG_PAGES;
	uint8_t *mis = user + 100;
	b.m.userptr = (unsigned long)mis;
	b.length = 9000;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	uint32_t first = 4096 - (uint32_t)((uintptr_t)mis & 4095);
	unsigned n = 1 + (9000 - first + 4095) / 4096;
	cr_assert_eq(d->rec.rlen[2], n * 16);
	check_sg(d, 16 + 88, n, mis, 9000, e);
	cr_assert_eq(e[0].len, first);
	dev_free(d);
}

Test(guest_userptr, mplane_null_plane_pointer_means_no_memory)
{
	struct dev *d = userptr_dev();
	uint32_t id = dev_open(d);
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, V4L2_MEMORY_USERPTR, 1);
	static uint8_t p0[3000];
	fill(p0, sizeof(p0), 4);
	struct v4l2_plane planes[2] = { { .length = sizeof(p0) }, { .length = 777 } };
	planes[0].m.userptr = (unsigned long)p0;
	planes[1].m.userptr = 0;
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
				 .memory = V4L2_MEMORY_USERPTR, .length = 2 };
	b.m.planes = planes;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	SHAPE(d, 16 COMMA 88 COMMA 128 COMMA 16, 8 COMMA 88 COMMA 128);
	cr_assert_eq(rd32(d->rec.rbytes + 16 + 88 + 64 + 4), 777 * 0,
		     "plane 1 length fixed to 0 on the wire");
	check_sg(d, 16 + 88 + 128, 1, p0, sizeof(p0), NULL);
	cr_assert_eq(planes[1].length, 0, "the fixed-up length comes back");

	/* Single-planar with a NULL pointer: no SG list either. */
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_MEMORY_USERPTR, 1);
	struct v4l2_buffer s = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT,
				 .memory = V4L2_MEMORY_USERPTR, .length = 100 };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &s), 0);
	SHAPE(d, 16 COMMA 88, 8 COMMA 88);
	cr_assert_eq(rd32(d->rec.rbytes + 16 + 72), 0, "length fixed to 0");
	dev_free(d);
}

Test(guest_userptr, mplane_capture_copied_back_per_plane)
{
	struct dev *d = userptr_dev();
	uint32_t id = dev_open(d);
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, V4L2_MEMORY_USERPTR, 1);
	static uint8_t y[4096], uv[2048];
	struct v4l2_plane planes[2] = { { .length = sizeof(y) }, { .length = sizeof(uv) } };
	planes[0].m.userptr = (unsigned long)y;
	planes[1].m.userptr = (unsigned long)uv;
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
				 .memory = V4L2_MEMORY_USERPTR, .length = 2 };
	b.m.planes = planes;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	SHAPE(d, 16 COMMA 88 COMMA 128 COMMA 16 COMMA 16, 8 COMMA 88 COMMA 128);
	struct vmedia_sg_entry ey, euv;
	memcpy(&ey, d->rec.rbytes + 16 + 88 + 128, 16);
	memcpy(&euv, d->rec.rbytes + 16 + 88 + 128 + 16, 16);
	memset(gmem(d, ey.start, ey.len), 0x10, ey.len);
	memset(gmem(d, euv.start, euv.len), 0x80, euv.len);
	struct v4l2_plane done_planes[2] = { { .bytesused = 4096 }, { .bytesused = 2048 } };
	struct v4l2_buffer done = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
				    .memory = V4L2_MEMORY_USERPTR, .length = 2 };
	ev_dqbuf(d, id, &done, done_planes, 2);
	struct v4l2_plane got[2] = { { 0 } };
	struct v4l2_buffer out = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, .length = 2 };
	out.m.planes = got;
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), 0);
	cr_assert_eq(out.m.planes, got);
	cr_assert_eq(got[0].bytesused, 4096);
	cr_assert_eq(got[1].bytesused, 2048);
	cr_assert_eq(got[1].m.userptr, (unsigned long)uv, "plane m from QBUF time");
	cr_assert_eq(y[100], 0x10);
	cr_assert_eq(uv[100], 0x80);
	dev_free(d);
}

/* ------------------------------------------------------------------------ */
/* ext controls */

struct ctrl_case {
	struct v4l2_ext_control ctrls[3];
	uint8_t blob[10];
};

static void ext_error_back(struct dev *d, uint8_t *p, uint32_t len)
{
	cr_assert_eq(len, 32 + 60 + 16, "the echo holds the SG list too");
	struct v4l2_ext_controls *ec = (void *)p;
	ec->error_idx = 2;
	/* The SG list holds the user's bytes; the device then writes them. */
	uint8_t want[10];
	fill(want, sizeof(want), 5);
	struct vmedia_sg_entry e;
	memcpy(&e, p + 32 + 60, 16);
	cr_assert_eq(e.len, 10);
	cr_assert_eq(memcmp(gmem(d, e.start, e.len), want, 10), 0);
	memset(gmem(d, e.start, e.len), 0xcd, e.len);
}

Test(guest_ext_ctrls, controls_follow_and_sg_lists_are_readable_only)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	struct ctrl_case k = { 0 };
	fill(k.blob, sizeof(k.blob), 5);
	k.ctrls[0] = (struct v4l2_ext_control){ .id = V4L2_CID_BRIGHTNESS, .value = 7 };
	k.ctrls[1] = (struct v4l2_ext_control){ .id = V4L2_CID_STATELESS_H264_SPS,
						.size = sizeof(k.blob), .ptr = k.blob };
	k.ctrls[2] = (struct v4l2_ext_control){ .id = V4L2_CID_CONTRAST, .value64 = 1ll << 40 };
	struct v4l2_ext_controls ec = { .which = V4L2_CTRL_WHICH_CUR_VAL, .count = 3,
					.controls = k.ctrls };
	d->status = EINVAL;
	d->mutate = ext_error_back;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_S_EXT_CTRLS, &ec), -EINVAL);
	SHAPE(d, 16 COMMA 32 COMMA 60 COMMA 16, 8 COMMA 32 COMMA 60);
	expect_ioctl_cmd(d, id, VIDIOC_S_EXT_CTRLS);
	cr_assert_eq(d->rec.rptr[1], d->rec.wptr[1]);
	cr_assert_eq(d->rec.rptr[2], d->rec.wptr[2]);
	struct v4l2_ext_controls sent;
	memcpy(&sent, d->rec.rbytes + 16, 32);
	cr_assert_eq(sent.count, 3);
	cr_assert_eq((uint64_t)(uintptr_t)sent.controls, VMEDIA_GUEST_PTR_PLACEHOLDER);
	struct v4l2_ext_control c1;
	memcpy(&c1, d->rec.rbytes + 16 + 32 + 20, 20);
	cr_assert_eq(c1.size, 10);
	uint8_t want[10];
	memset(want, 0xcd, sizeof(want));
	check_sg(d, 16 + 32 + 60, 1, want, 10, NULL);
	/* Error, but the whole payload came back: error_idx and data land. */
	cr_assert_eq(ec.error_idx, 2);
	cr_assert_eq(ec.controls, k.ctrls);
	cr_assert_eq(k.ctrls[1].ptr, k.blob);
	cr_assert_eq(k.blob[0], 0xcd);
	cr_assert_eq(k.ctrls[2].value64, 1ll << 40);
	dev_free(d);
}

static void ext_count_5(struct dev *d, uint8_t *p, uint32_t len)
{
	(void)d;
	(void)len;
	((struct v4l2_ext_controls *)(void *)p)->count = 5;
}

Test(guest_ext_ctrls, counts_and_short_errors)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	struct v4l2_ext_controls ec = { .which = V4L2_CTRL_WHICH_CUR_VAL };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_EXT_CTRLS, &ec), 0);
	SHAPE(d, 16 COMMA 32, 8 COMMA 32);

	struct v4l2_ext_control one = { .id = V4L2_CID_BRIGHTNESS };
	ec.count = 1;
	ec.controls = &one;
	d->status = EBUSY;
	d->written = 8; /* header only */
	d->mutate = ext_count_5; /* ... though the shared memory says 5 */
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_TRY_EXT_CTRLS, &ec), -ENOSPC,
		     "the driver looks at the count before the status");
	d->status = EBUSY;
	d->written = 8;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_TRY_EXT_CTRLS, &ec), -EBUSY);
	cr_assert_eq(ec.count, 1);
	ec.count = VMEDIA_GUEST_MAX_CTRLS + 1;
	unsigned calls = d->calls;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_EXT_CTRLS, &ec), -EINVAL);
	cr_assert_eq(d->calls, calls);
	dev_free(d);
}

Test(guest_ext_ctrls, scattered_control_memory_and_the_sg_budget)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	static uint8_t blob[300];
	fill(blob, sizeof(blob), 6);
	struct v4l2_ext_control c[2] = {
		{ .id = 1, .size = sizeof(blob), .ptr = blob },
		{ .id = 2, .size = 100, .ptr = blob + 200 },
	};
	struct v4l2_ext_controls ec = { .count = 2, .controls = c };
	d->g.shape.sg_segments = 3;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_EXT_CTRLS, &ec), 0);
	SHAPE(d, 16 COMMA 32 COMMA 40 COMMA 48 COMMA 48, 8 COMMA 32 COMMA 40);
	check_sg(d, 16 + 32 + 40, 3, blob, sizeof(blob), NULL);
	check_sg(d, 16 + 32 + 40 + 48, 3, blob + 200, 100, NULL);
	/* More SG entries than the 16 KiB shadow holds. */
	static uint8_t big[8192];
	c[0] = (struct v4l2_ext_control){ .id = 1, .size = sizeof(big), .ptr = big };
	ec.count = 1;
	d->g.shape.sg_segments = 2000;
	unsigned calls = d->calls;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_EXT_CTRLS, &ec), -ENOMEM);
	cr_assert_eq(d->calls, calls);
	dev_free(d);
}

/* ------------------------------------------------------------------------ */
/* MMAP / MUNMAP / raw */

Test(guest_mmap, twenty_byte_command_and_munmap)
{
	static uint8_t shm[1 << 20];
	struct vmedia_guest_config cfg = base_cfg();
	cfg.shm = shm;
	cfg.shm_size = sizeof(shm);
	struct dev *d = dev_new_cfg(cfg);
	uint32_t id = dev_open(d);
	d->mmap_len = 8000;
	uint64_t addr = 0, len; /* len is only an output */
	cr_assert_eq(vmedia_guest_mmap(&d->g, id, VMEDIA_MMAP_FLAG_RW, 0x3000, &addr, &len), 0);
	SHAPE(d, 20, 24);
	cr_assert_eq(rd32(d->rec.rbytes), VMEDIA_CMD_MMAP);
	cr_assert_eq(rd32(d->rec.rbytes + 8), id);
	cr_assert_eq(rd32(d->rec.rbytes + 12), VMEDIA_MMAP_FLAG_RW);
	cr_assert_eq(rd32(d->rec.rbytes + 16), 0x3000);
	cr_assert_eq(addr, 0x3000);
	cr_assert_eq(len, 8000);
	cr_assert_eq(vmedia_guest_shm_ptr(&d->g, addr, len), shm + 0x3000);
	cr_assert_null(vmedia_guest_shm_ptr(&d->g, sizeof(shm) - 10, 11));

	cr_assert_eq(vmedia_guest_munmap(&d->g, addr), 0);
	SHAPE(d, 16, 8);
	cr_assert_eq(rd32(d->rec.rbytes), VMEDIA_CMD_MUNMAP);
	cr_assert_eq(rd64(d->rec.rbytes + 8), 0x3000, "no session id, just the address");
	unsigned calls = d->calls;
	cr_assert_eq(vmedia_guest_munmap(&d->g, addr), -EINVAL, "not mapped any more");
	cr_assert_eq(d->calls, calls);
	dev_free(d);
}

Test(guest_mmap, oversized_vma_is_unmapped_again)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	d->mmap_len = 8000; /* two pages */
	uint64_t addr, len;
	d->ncmds = 0;
	cr_assert_eq(vmedia_guest_mmap_len(&d->g, id, 0, 0x10000, 3 * 4096, &addr, &len), -EINVAL);
	cr_assert_eq(d->ncmds, 2);
	cr_assert_eq(d->cmds[0], VMEDIA_CMD_MMAP);
	cr_assert_eq(d->cmds[1], VMEDIA_CMD_MUNMAP);
	cr_assert_eq(rd64(d->rec.rbytes + 8), 0x10000);
	cr_assert_eq(vmedia_guest_mmap_len(&d->g, id, 0, 0x10000, 2 * 4096, &addr, &len), 0);
	cr_assert_eq(len, 8000);
	cr_assert_eq(vmedia_guest_mmap(&d->g, id, 0, 0x10000, &addr, NULL), 0);
	dev_free(d);
}

Test(guest_mmap, munmap_sends_the_page_the_driver_kept)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	d->mmap_addr_add = 0x10; /* a device answering an unaligned address */
	uint64_t addr, len = 0;
	cr_assert_eq(vmedia_guest_mmap(&d->g, id, 0, 0x20000, &addr, &len), 0);
	cr_assert_eq(addr, 0x20010);
	d->status = EINVAL;
	cr_assert_eq(vmedia_guest_munmap(&d->g, addr), -EINVAL);
	cr_assert_eq(rd64(d->rec.rbytes + 8), 0x20000);
	d->status = EINVAL;
	cr_assert_eq(vmedia_guest_mmap(&d->g, id, 0, 0, &addr, &len), -EINVAL);
	cr_assert_eq(vmedia_guest_mmap(&d->g, id + 5, 0, 0, &addr, &len), -EBADF);
	dev_free(d);
}

Test(guest_raw, arbitrary_bytes_and_bad_chains)
{
	struct dev *d = dev_new();
	uint8_t cmd[6] = { 3, 0, 0, 0, 9, 9 };
	uint8_t resp[32];
	memset(resp, 0xee, sizeof(resp));
	uint32_t used = ~0u;
	d->written = 4;
	cr_assert_eq(vmedia_guest_raw_command(&d->g, cmd, sizeof(cmd), resp, sizeof(resp), &used), 0);
	SHAPE(d, 6, 32);
	cr_assert_eq(memcmp(d->rec.rbytes, cmd, 6), 0);
	cr_assert_eq(used, 4);
	cr_assert_eq(resp[0], 0, "the device's status landed");
	cr_assert_eq(resp[20], 0xee, "the rest is what the test put there");
	cr_assert_eq(d->rec.wbefore[20], 0xee);

	/* Command only: no writable descriptor. */
	cr_assert_eq(vmedia_guest_raw_command(&d->g, cmd, 3, NULL, 0, &used), 0);
	SHAPE(d, 3, NONE);
	cr_assert_eq(used, 0);

	/* Writable before readable: the queue refuses the chain, 0 written. */
	uint8_t w[8], r[8] = { 1 };
	struct vmedia_guest_seg segs[2] = { { w, 8, true }, { r, 8, false } };
	unsigned bad = d->bad_chains;
	cr_assert_eq(vmedia_guest_raw_chain(&d->g, segs, 2, &used), 0);
	cr_assert_eq(used, 0);
	cr_assert_eq(d->bad_chains, bad + 1);
	dev_free(d);
}

/* ------------------------------------------------------------------------ */
/* events */

static void queue_mmap_bufs(struct dev *d, uint32_t id, uint32_t type, unsigned n)
{
	reqbufs(d, id, type, V4L2_MEMORY_MMAP, n);
	int t = (int)type;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_STREAMON, &t), 0);
	for (unsigned i = 0; i < n; i++) {
		struct v4l2_buffer b = { .index = i, .type = type, .memory = V4L2_MEMORY_MMAP };
		if (!V4L2_TYPE_IS_MULTIPLANAR(type))
			b.m.offset = 0x1000 * (i + 1);
		cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	}
}

Test(guest_events, dqbuf_in_event_order_and_reposted)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	queue_mmap_bufs(d, id, V4L2_BUF_TYPE_VIDEO_CAPTURE, 3);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(vq_queue_pop(&d->eq, &d->ec), 1);
	/* Give three back as events (the device keeps the rest). */
	cr_assert_eq(vq_queue_push(&d->eq, &d->ec, 0), 0);
	struct vmedia_event_dqbuf e = { .hdr = { VMEDIA_EVT_DQBUF, id } };
	e.buffer = (struct v4l2_buffer){ .index = 2, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .bytesused = 222, .flags = V4L2_BUF_FLAG_DONE };
	vq_queue_flush(&d->eq);
	/* That first one was empty: too short, dropped like the driver does. */
	cr_assert_eq(vmedia_guest_poll_events(&d->g), 1);
	cr_assert_eq(d->g.stats.bad_events, 1);
	cr_assert_eq(d->eventq_calls, 1, "the buffer went back and the device was told");
	cr_assert_eq(vq_queue_pending(&d->eq), 1);
	cr_assert(dev_event(d, &e, sizeof(e)));
	e.buffer.index = 0;
	e.buffer.bytesused = 111;
	cr_assert_eq(vq_queue_pop(&d->eq, &d->ec), 0, "all other buffers are still out");

	struct v4l2_buffer out = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), 0);
	cr_assert_eq(out.index, 2);
	cr_assert_eq(out.bytesused, 222);
	cr_assert_eq(out.m.offset, 0x3000, "m from QBUF time, not the event's 0");
	cr_assert_eq(out.flags & V4L2_BUF_FLAG_DONE, 0);
	cr_assert(dev_event(d, &e, sizeof(e)));
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_DQBUF, &out), 0);
	cr_assert_eq(out.index, 0);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EAGAIN);
	out.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EAGAIN);
	cr_assert_eq(d->g.stats.unexpected_dqbuf, 0);
	dev_free(d);
}

Test(guest_events, sixteen_events_before_the_guest_looks)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	queue_mmap_bufs(d, id, V4L2_BUF_TYPE_VIDEO_CAPTURE, 16);
	for (uint32_t i = 0; i < 16; i++) {
		struct v4l2_buffer b = { .index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
		ev_dqbuf(d, id, &b, NULL, 0);
	}
	struct vmedia_event_dqbuf e = { .hdr = { VMEDIA_EVT_DQBUF, id } };
	cr_assert_not(dev_event(d, &e, sizeof(e)), "no 17th buffer");
	cr_assert_eq(vmedia_guest_pending_dqbufs(&d->g, id, V4L2_BUF_TYPE_VIDEO_CAPTURE), 0);
	cr_assert_eq(vmedia_guest_poll_events(&d->g), 16);
	cr_assert_eq(vq_queue_pending(&d->eq), 16, "all re-posted");
	cr_assert_eq(vmedia_guest_pending_dqbufs(&d->g, id, V4L2_BUF_TYPE_VIDEO_CAPTURE), 16);
	for (uint32_t i = 0; i < 16; i++) {
		struct v4l2_buffer out = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
		cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), 0);
		cr_assert_eq(out.index, i);
	}
	dev_free(d);
}

Test(guest_events, bad_dqbuf_events_are_dropped)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	queue_mmap_bufs(d, id, V4L2_BUF_TYPE_VIDEO_CAPTURE, 1);
	struct vmedia_event_dqbuf e = { .hdr = { VMEDIA_EVT_DQBUF, id } };
	e.buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	cr_assert(dev_event_len(d, &e, sizeof(e), 144)); /* shorter than 608 */
	e.hdr.session_id = id + 1;                       /* unknown session */
	cr_assert(dev_event(d, &e, sizeof(e)));
	e.hdr.session_id = id;
	e.buffer.index = 1;                              /* not allocated */
	cr_assert(dev_event(d, &e, sizeof(e)));
	e.buffer.index = 0;
	e.buffer.type = 77;                              /* no such queue */
	cr_assert(dev_event(d, &e, sizeof(e)));
	e.hdr.event = 9;                                 /* no such event */
	cr_assert(dev_event(d, &e, sizeof(e)));
	cr_assert_eq(vmedia_guest_poll_events(&d->g), 5);
	cr_assert_eq(d->g.stats.bad_events, 5);
	struct v4l2_buffer out = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EAGAIN);
	/* A buffer that was never queued is accepted, but counted. */
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_MEMORY_MMAP, 1);
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT };
	ev_dqbuf(d, id, &b, NULL, 0);
	ev_dqbuf(d, id, &b, NULL, 0);
	out.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), 0);
	cr_assert_eq(d->g.stats.unexpected_dqbuf, 2);
	cr_assert_eq(d->g.stats.dup_dqbuf, 1);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EAGAIN);
	dev_free(d);
}

static void last_buffer(struct dev *d, uint32_t id, uint32_t type, uint32_t index)
{
	struct v4l2_buffer b = { .index = index, .type = type, .flags = V4L2_BUF_FLAG_LAST };
	struct v4l2_plane p[1] = { { 0 } };
	if (V4L2_TYPE_IS_MULTIPLANAR(type))
		b.length = 1;
	ev_dqbuf(d, id, &b, p, b.length);
}

Test(guest_events, epipe_after_last_until_streamoff_reqbufs0_or_start)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	const uint32_t t = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
	struct v4l2_plane p[1];
	struct v4l2_buffer out = { .type = t, .length = 1 };
	out.m.planes = p;

	queue_mmap_bufs(d, id, t, 2);
	last_buffer(d, id, t, 0);
	struct v4l2_buffer b1 = { .index = 1, .type = t, .length = 1 };
	ev_dqbuf(d, id, &b1, p, 1);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), 0);
	cr_assert(out.flags & V4L2_BUF_FLAG_LAST);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EPIPE, "even with one pending");
	int type = (int)t;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_STREAMOFF, &type), 0);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EAGAIN, "STREAMOFF drops pending");

	queue_mmap_bufs(d, id, t, 1);
	last_buffer(d, id, t, 0);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), 0);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EPIPE);
	struct v4l2_decoder_cmd dc = { .cmd = V4L2_DEC_CMD_STOP };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_DECODER_CMD, &dc), 0);
	SHAPE(d, 16 COMMA 72, 8 COMMA 72);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EPIPE);
	dc.cmd = V4L2_DEC_CMD_START;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_DECODER_CMD, &dc), 0);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EAGAIN);

	last_buffer(d, id, t, 0);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), 0);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EPIPE);
	reqbufs(d, id, t, V4L2_MEMORY_MMAP, 0);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EAGAIN);

	/* OUTPUT buffers with LAST do not latch. */
	queue_mmap_bufs(d, id, V4L2_BUF_TYPE_VIDEO_OUTPUT, 1);
	last_buffer(d, id, V4L2_BUF_TYPE_VIDEO_OUTPUT, 0);
	struct v4l2_buffer o = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT };
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &o), 0);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &o), -EAGAIN);
	dev_free(d);
}

Test(guest_events, querybuf_and_poll_see_pending_buffers)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	cr_assert_eq(vmedia_guest_poll(&d->g, id, POLLIN), POLLERR, "not streaming");
	queue_mmap_bufs(d, id, V4L2_BUF_TYPE_VIDEO_CAPTURE, 2);
	cr_assert_eq(vmedia_guest_poll(&d->g, id, POLLIN), 0, "queued, nothing done");
	struct v4l2_buffer b = { .index = 1, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	ev_dqbuf(d, id, &b, NULL, 0);
	cr_assert_eq(vmedia_guest_poll(&d->g, id, POLLIN), POLLIN | POLLRDNORM);
	struct v4l2_buffer q = { .index = 1, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &q), 0);
	cr_assert(q.flags & V4L2_BUF_FLAG_DONE, "the driver adds DONE for pending buffers");
	dev_free(d);
}

Test(guest_events, v4l2_events_as_the_core_queues_them)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	struct v4l2_event ev;
	cr_assert_eq(vmedia_guest_dqevent(&d->g, id, &ev), -ENOENT);
	ev_v4l2(d, id, V4L2_EVENT_EOS, 0, 0);
	cr_assert_eq(vmedia_guest_dqevent(&d->g, id, &ev), -ENOENT, "not subscribed");
	cr_assert_eq(d->g.stats.unsubscribed_events, 1);

	struct v4l2_event_subscription sub = { .type = V4L2_EVENT_EOS };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_SUBSCRIBE_EVENT, &sub), 0);
	sub.type = V4L2_EVENT_SOURCE_CHANGE;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_SUBSCRIBE_EVENT, &sub), 0);
	ev_v4l2(d, id, V4L2_EVENT_SOURCE_CHANGE, 0, V4L2_EVENT_SRC_CH_RESOLUTION);
	ev_v4l2(d, id, V4L2_EVENT_EOS, 0, 0);
	ev_v4l2(d, id, V4L2_EVENT_SOURCE_CHANGE, 0, 0); /* replaces, keeps the changes */
	cr_assert_eq(vmedia_guest_poll(&d->g, id, 0), POLLPRI);
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_DQEVENT, &ev), 0);
	cr_assert_eq(ev.type, V4L2_EVENT_EOS);
	cr_assert_eq(ev.sequence, 1, "counted from the first subscribed event");
	cr_assert_eq(ev.pending, 1);
	cr_assert_eq(vmedia_guest_dqevent(&d->g, id, &ev), 0);
	cr_assert_eq(ev.type, V4L2_EVENT_SOURCE_CHANGE);
	cr_assert_eq(ev.sequence, 2);
	cr_assert_eq(ev.pending, 0);
	cr_assert_eq(ev.u.src_change.changes, V4L2_EVENT_SRC_CH_RESOLUTION);
	cr_assert_eq(vmedia_guest_dqevent(&d->g, id, &ev), -ENOENT);

	/* A refused subscription is undone locally. */
	struct v4l2_event_subscription ctrl = { .type = V4L2_EVENT_CTRL, .id = 5 };
	d->status = EINVAL;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_SUBSCRIBE_EVENT, &ctrl), -EINVAL);
	ev_v4l2(d, id, V4L2_EVENT_CTRL, 5, 0);
	cr_assert_eq(vmedia_guest_dqevent(&d->g, id, &ev), -ENOENT);
	/* Unsubscribing drops what was pending. */
	ev_v4l2(d, id, V4L2_EVENT_EOS, 0, 0);
	sub.type = V4L2_EVENT_EOS;
	cr_assert_eq(vmedia_guest_poll_events(&d->g), 1);
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_UNSUBSCRIBE_EVENT, &sub), 0);
	cr_assert_eq(vmedia_guest_dqevent(&d->g, id, &ev), -ENOENT);
	dev_free(d);
}

Test(guest_events, error_event_closes_the_session)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	uint32_t other = dev_open(d);
	ev_error(d, id, EIO);
	d->ncmds = 0;
	cr_assert_eq(vmedia_guest_poll_events(&d->g), 1);
	cr_assert_eq(d->ncmds, 1);
	cr_assert_eq(d->cmds[0], VMEDIA_CMD_CLOSE, "the driver CLOSEs on ERROR");
	SHAPE(d, 16, NONE);
	cr_assert_eq(rd32(d->rec.rbytes + 8), id);
	cr_assert_eq(vmedia_guest_session_error(&d->g, id), EIO);
	cr_assert_eq(vmedia_guest_session_error(&d->g, other), 0);
	cr_assert_eq(d->g.last_error.session_id, id);
	struct v4l2_format f = { 0 };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_G_FMT, &f), -EIO);
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &b), -EIO);
	/* Events for it now find no session. */
	ev_v4l2(d, id, V4L2_EVENT_EOS, 0, 0);
	cr_assert_eq(vmedia_guest_poll_events(&d->g), 1);
	cr_assert_eq(d->g.stats.bad_events, 1);
	/* The device may hand the id out again. */
	d->next_id = id;
	uint32_t again = dev_open(d);
	cr_assert_eq(again, id);
	cr_assert_eq(vmedia_guest_session_error(&d->g, id), 0);
	cr_assert_eq(vmedia_guest_ioctl(&d->g, other, VIDIOC_G_FMT, &f), 0);
	unsigned calls = d->calls;
	ev_error(d, other, ENODEV);
	vmedia_guest_poll_events(&d->g);
	cr_assert_eq(d->calls, calls + 1);
	cr_assert_eq(vmedia_guest_close(&d->g, other), 0);
	cr_assert_eq(d->calls, calls + 1, "already closed: no second CLOSE");
	dev_free(d);
}

static void initial_event(struct dev *d, uint8_t *p, uint32_t len)
{
	(void)p;
	(void)len;
	/* The device signals the event while it handles SUBSCRIBE. */
	ev_v4l2(d, 1, V4L2_EVENT_SOURCE_CHANGE, 0, V4L2_EVENT_SRC_CH_RESOLUTION);
}

Test(guest_events, send_initial_polls_the_eventq_at_once)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	cr_assert_eq(id, 1);
	struct v4l2_event_subscription sub = { .type = V4L2_EVENT_SOURCE_CHANGE,
					       .flags = V4L2_EVENT_SUB_FL_SEND_INITIAL };
	d->mutate = initial_event;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_SUBSCRIBE_EVENT, &sub), 0);
	cr_assert_eq(d->g.stats.events, 1, "consumed before the ioctl returned");
	struct v4l2_event ev;
	cr_assert_eq(vmedia_guest_dqevent(&d->g, id, &ev), 0);
	cr_assert_eq(ev.type, V4L2_EVENT_SOURCE_CHANGE);
	dev_free(d);
}

/* ------------------------------------------------------------------------ */
/* a device on its own thread */

struct threaded {
	struct dev *d;
	volatile int stop;
};

static void *device_thread(void *arg)
{
	struct threaded *t = arg;
	struct dev *d = t->d;
	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		int r = vq_queue_pop(&d->cq, &d->c);
		if (r <= 0)
			continue;
		uint8_t hdr[16] = { 0 };
		struct vq_reader rd;
		vq_reader_init(&rd, &d->c);
		size_t n = vq_reader_read(&rd, hdr, sizeof(hdr));
		struct vq_writer w;
		vq_writer_init(&w, &d->c);
		uint32_t resp[4] = { 0, 0, 7, 0 };
		if (n == 8) {
			vq_writer_write(&w, resp, 16); /* OPEN */
		} else {
			static uint8_t payload[4096];
			size_t pl = vq_reader_read(&rd, payload, sizeof(payload));
			vq_writer_write(&w, resp, 8);
			vq_writer_write(&w, payload, pl);
		}
		vq_queue_push(&d->cq, &d->c, vq_writer_written(&w));
		vq_queue_flush(&d->cq);
	}
	return NULL;
}

Test(guest_threads, waits_for_a_device_on_another_thread)
{
	struct vmedia_guest_config cfg = base_cfg();
	cfg.timeout_ms = 5000;
	struct dev *d = dev_new_cfg(cfg);
	vmedia_guest_set_transport(&d->g, &(struct vmedia_guest_transport){ 0 });
	struct threaded t = { .d = d };
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, device_thread, &t), 0);
	uint32_t id = 0;
	int r = vmedia_guest_open(&d->g, &id);
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	f.fmt.pix.width = 1920;
	int r2 = 0;
	for (int i = 0; i < 1000 && r2 == 0; i++)
		r2 = vmedia_guest_ioctl(&d->g, id, VIDIOC_S_FMT, &f);
	__atomic_store_n(&t.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	cr_assert_eq(r, 0);
	cr_assert_eq(id, 7);
	cr_assert_eq(r2, 0);
	cr_assert_eq(f.fmt.pix.width, 1920);
	cr_assert_eq(d->g.stats.timeouts, 0);
	dev_free(d);
}

/* ------------------------------------------------------------------------ */
/* The driver's view, not the wire's: what the kernel around the driver does
 * (interrupts taken at once, pinned user pages, vb2's buffer records, the
 * core's ioctl-number match). */

/* A DQBUF event the device sent before STREAMOFF / REQBUFS was taken by the
 * interrupt handler before the command: the queue clear drops it. */
Test(guest_model, events_before_streamoff_or_reqbufs_are_not_read_late)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	const uint32_t t = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_buffer out = { .type = t };
	int type = (int)t;

	queue_mmap_bufs(d, id, t, 2);
	struct v4l2_buffer b0 = { .index = 0, .type = t, .bytesused = 1 };
	ev_dqbuf(d, id, &b0, NULL, 0);
	cr_assert_eq(d->g.stats.events, 0, "nobody has looked at the eventq yet");
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_STREAMOFF, &type), 0);
	cr_assert_eq(d->g.stats.events, 1, "STREAMOFF took the event first");
	cr_assert_eq(vmedia_guest_pending_dqbufs(&d->g, id, t), 0, "and dropped it");
	/* The next stream: the old event must not come back as buffer 0. */
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_STREAMON, &type), 0);
	for (uint32_t i = 0; i < 2; i++) {
		struct v4l2_buffer q = { .index = i, .type = t, .memory = V4L2_MEMORY_MMAP };
		cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &q), 0);
	}
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EAGAIN);

	/* The same before REQBUFS: the event must not hit the new buffers. */
	struct v4l2_buffer b1 = { .index = 1, .type = t, .bytesused = 1 };
	ev_dqbuf(d, id, &b1, NULL, 0);
	reqbufs(d, id, t, V4L2_MEMORY_MMAP, 2);
	cr_assert_eq(d->g.stats.events, 2);
	cr_assert_eq(vmedia_guest_poll_events(&d->g), 0);
	cr_assert_eq(vmedia_guest_pending_dqbufs(&d->g, id, t), 0);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), -EAGAIN);
	cr_assert_eq(d->g.stats.unexpected_dqbuf, 0);

	/* An ERROR event taken that way: the command is not sent. */
	ev_error(d, id, EIO);
	d->ncmds = 0;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_STREAMON, &type), -EIO);
	cr_assert_eq(d->ncmds, 1);
	cr_assert_eq(d->cmds[0], VMEDIA_CMD_CLOSE, "only the driver's CLOSE");
	dev_free(d);
}

/* Pages nobody has mapped: [p, p + n pages). */
static uint8_t *unmapped_pages(size_t n)
{
	uint8_t *p = mmap(NULL, n * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	cr_assert_eq(munmap(p, n * 4096), 0);
	return p;
}

Test(guest_model, userptr_nobody_can_read_is_efault_before_the_wire)
{
	struct dev *d = userptr_dev();
	uint32_t id = dev_open(d);
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_USERPTR, 1);
	unsigned calls = d->calls;
	/* v4l2-compliance's pointer to nowhere. */
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_USERPTR, .length = 640 * 480 * 2 };
	b.m.userptr = 0x0eadb000ul + b.length;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), -EFAULT);
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_PREPARE_BUF, &b), -EFAULT);
	/* Readable at the start, not at the end. */
	uint8_t *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	cr_assert_eq(munmap(p + 4096, 4096), 0);
	b.m.userptr = (unsigned long)(p + 100);
	b.length = 4096;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), -EFAULT);
	/* Wrapping around the address space. */
	b.m.userptr = ~0ul - 10;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), -EFAULT);
	/* One plane of a multiplanar buffer. */
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, V4L2_MEMORY_USERPTR, 1);
	calls = d->calls;
	static uint8_t good[3000];
	struct v4l2_plane planes[2] = { { .length = sizeof(good) }, { .length = 5000 } };
	planes[0].m.userptr = (unsigned long)good;
	planes[1].m.userptr = (unsigned long)unmapped_pages(2);
	struct v4l2_buffer m = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
				 .memory = V4L2_MEMORY_USERPTR, .length = 2 };
	m.m.planes = planes;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &m), -EFAULT);
	cr_assert_eq(d->calls, calls, "nothing was sent");
	cr_assert_eq(d->g.numaps, 1, "a guest copy of the good plane only");
	/* Good memory still goes. */
	b.m.userptr = (unsigned long)p;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	cr_assert_eq(munmap(p, 4096), 0);
	dev_free(d);
}

Test(guest_model, copy_back_to_user_memory_that_is_gone_is_skipped)
{
	struct dev *d = userptr_dev();
	uint32_t id = dev_open(d);
	const uint32_t t = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	reqbufs(d, id, t, V4L2_MEMORY_USERPTR, 2);
	uint8_t *p[2];
	for (int i = 0; i < 2; i++) {
		p[i] = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		cr_assert_neq(p[i], MAP_FAILED);
		struct v4l2_buffer b = { .index = (uint32_t)i, .type = t,
					 .memory = V4L2_MEMORY_USERPTR, .length = 8192 };
		b.m.userptr = (unsigned long)p[i];
		cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
		struct vmedia_sg_entry e;
		memcpy(&e, d->rec.rbytes + 16 + 88, 16);
		memset(gmem(d, e.start, e.len), 0x42, e.len);
	}
	/* Buffer 0's memory is unmapped, buffer 1's read-only, before the
	 * device is done with them: no crash, the DQBUFs still come. */
	cr_assert_eq(munmap(p[0], 8192), 0);
	cr_assert_eq(mprotect(p[1], 8192, PROT_READ), 0);
	for (uint32_t i = 0; i < 2; i++) {
		struct v4l2_buffer done = { .index = i, .type = t, .memory = V4L2_MEMORY_USERPTR,
					    .bytesused = 8192, .length = 8192 };
		ev_dqbuf(d, id, &done, NULL, 0);
	}
	struct v4l2_buffer out = { .type = t };
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), 0);
	cr_assert_eq(out.index, 0);
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), 0);
	cr_assert_eq(out.index, 1);
	cr_assert_eq(p[1][0], 0, "a read-only page is not written");
	cr_assert_eq(munmap(p[1], 8192), 0);
	dev_free(d);
}

Test(guest_model, querybuf_reports_the_queued_user_pointer_not_the_callers)
{
	struct dev *d = userptr_dev();
	uint32_t id = dev_open(d);
	const uint32_t t = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	reqbufs(d, id, t, V4L2_MEMORY_USERPTR, 2);
	static uint8_t a[5000], pb[6000], other[8192];
	/* Nothing queued yet: no pointer, whatever the caller passes (the
	 * hand-made device echoes it, as a device that never sees guest
	 * pointers would). */
	struct v4l2_buffer q = { .index = 0, .type = t, .memory = V4L2_MEMORY_USERPTR,
				 .length = 4444 };
	q.m.userptr = (unsigned long)other;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &q), 0);
	cr_assert_eq(q.m.userptr, 0);

	struct v4l2_buffer b = { .index = 0, .type = t, .memory = V4L2_MEMORY_USERPTR,
				 .length = sizeof(a) };
	b.m.userptr = (unsigned long)a;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), 0);
	q = (struct v4l2_buffer){ .index = 0, .type = t, .memory = V4L2_MEMORY_USERPTR,
				  .length = 1 };
	q.m.userptr = (unsigned long)other;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &q), 0);
	cr_assert_eq(q.m.userptr, (unsigned long)a);
	cr_assert_eq(q.length, sizeof(a));
	/* A failed QBUF leaves the record alone. */
	d->status = EINVAL;
	b.m.userptr = (unsigned long)pb;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &b), -EINVAL);
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &q), 0);
	cr_assert_eq(q.m.userptr, (unsigned long)a);

	/* PREPARE_BUF, then QBUF without a pointer: the prepared memory. */
	struct v4l2_buffer pr = { .index = 1, .type = t, .memory = V4L2_MEMORY_USERPTR,
				  .length = sizeof(pb) };
	pr.m.userptr = (unsigned long)pb;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_PREPARE_BUF, &pr), 0);
	struct vmedia_sg_entry e;
	memcpy(&e, d->rec.rbytes + 16 + 88, 16);
	struct v4l2_buffer qb = { .index = 1, .type = t, .memory = V4L2_MEMORY_USERPTR };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &qb), 0);
	cr_assert_eq(qb.m.userptr, (unsigned long)pb, "QBUF says which memory it took");
	cr_assert_eq(qb.length, sizeof(pb));
	q = (struct v4l2_buffer){ .index = 1, .type = t, .memory = V4L2_MEMORY_USERPTR };
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &q), 0);
	cr_assert_eq(q.m.userptr, (unsigned long)pb);
	cr_assert_eq(q.length, sizeof(pb));
	/* ... and the device's bytes reach the prepared memory. */
	memset(gmem(d, e.start, e.len), 0x77, e.len);
	struct v4l2_buffer done = { .index = 1, .type = t, .memory = V4L2_MEMORY_USERPTR,
				    .bytesused = sizeof(pb), .length = sizeof(pb) };
	ev_dqbuf(d, id, &done, NULL, 0);
	struct v4l2_buffer out = { .type = t };
	cr_assert_eq(vmedia_guest_dqbuf(&d->g, id, &out), 0);
	cr_assert_eq(out.m.userptr, (unsigned long)pb);
	cr_assert_eq(pb[5999], 0x77);

	/* Multiplanar: per plane. */
	reqbufs(d, id, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, V4L2_MEMORY_USERPTR, 1);
	static uint8_t y[4096], uv[2048];
	struct v4l2_plane planes[2] = { { .length = sizeof(y) }, { .length = sizeof(uv) } };
	planes[0].m.userptr = (unsigned long)y;
	planes[1].m.userptr = (unsigned long)uv;
	struct v4l2_buffer m = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
				 .memory = V4L2_MEMORY_USERPTR, .length = 2 };
	m.m.planes = planes;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QBUF, &m), 0);
	struct v4l2_plane qp[2] = { { .length = 9 }, { .length = 9 } };
	qp[0].m.userptr = (unsigned long)other;
	qp[1].m.userptr = (unsigned long)(other + 4096);
	struct v4l2_buffer mq = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
				  .memory = V4L2_MEMORY_USERPTR, .length = 2 };
	mq.m.planes = qp;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &mq), 0);
	cr_assert_eq(mq.m.planes, qp);
	cr_assert_eq(qp[0].m.userptr, (unsigned long)y);
	cr_assert_eq(qp[0].length, sizeof(y));
	cr_assert_eq(qp[1].m.userptr, (unsigned long)uv);
	cr_assert_eq(qp[1].length, sizeof(uv));
	/* MMAP buffers keep the device's answer. */
	reqbufs(d, id, t, V4L2_MEMORY_MMAP, 1);
	q = (struct v4l2_buffer){ .index = 0, .type = t, .memory = V4L2_MEMORY_MMAP };
	q.m.offset = 0x5000;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_QUERYBUF, &q), 0);
	cr_assert_eq(q.m.offset, 0x5000);
	dev_free(d);
}

Test(guest_model, only_whole_vidioc_numbers_reach_the_driver)
{
	struct dev *d = dev_new();
	uint32_t id = dev_open(d);
	unsigned calls = d->calls;
	uint8_t junk[256] = { 0 };
	const unsigned long bad[] = {
		_IOWR('V', 0, char[3]),                       /* QUERYCAP's nr, wrong size */
		_IOWR('V', _IOC_NR(VIDIOC_G_FMT), char[3]),
		_IOR('V', _IOC_NR(VIDIOC_S_FMT), struct v4l2_format), /* wrong direction */
		_IOW('V', _IOC_NR(VIDIOC_G_FMT), struct v4l2_format),
		_IO('V', _IOC_NR(VIDIOC_STREAMON)),
		_IO('V', 1),                                  /* VIDIOC_RESERVED */
		_IOWR('V', 200, int),                         /* no such nr */
		_IOWR('v', _IOC_NR(VIDIOC_G_FMT), struct v4l2_format),
		_IOWR('U', 4, int),
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(vmedia_guest_ioctl(&d->g, id, bad[i], junk), -ENOTTY, "request %#lx",
			     bad[i]);
	cr_assert_eq(d->calls, calls, "none went on the wire");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_not(vmedia_guest_known_ioctl(bad[i]));
		cr_assert_eq(vmedia_guest_ioctl(&d->g, id, bad[i], NULL), -ENOTTY,
			     "ENOTTY before EFAULT");
	}
	cr_assert(vmedia_guest_known_ioctl(VIDIOC_QUERY_EXT_CTRL));
	/* The upper half of a sign-extended number is not looked at. */
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	unsigned long sext = (unsigned long)(long)(int)VIDIOC_G_FMT;
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, sext, &f), 0);
	expect_ioctl_cmd(d, id, VIDIOC_G_FMT);
	/* Every known number still goes through (LOG_STATUS: _IO). */
	cr_assert_eq(vmedia_guest_ioctl(&d->g, id, VIDIOC_LOG_STATUS, NULL), 0);
	expect_ioctl_cmd(d, id, VIDIOC_LOG_STATUS);
	dev_free(d);
}
