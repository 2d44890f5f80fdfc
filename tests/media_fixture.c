/* SPDX-License-Identifier: MIT */
#include "fixture_assert.h"
#include <errno.h>
#include <string.h>

#include "media_fixture.h"

/* ---- recording device ---- */

static struct rec_dev *rec_of(struct vmedia_session *s)
{
	return s->dev->priv;
}

static int rec_open(struct vmedia_session *s)
{
	rec_of(s)->opens++;
	s->priv = rec_of(s);
	return 0;
}

static void rec_close(struct vmedia_session *s)
{
	rec_of(s)->closes++;
}

static int record(struct vmedia_session *s, int nr, void *arg, size_t size)
{
	struct rec_dev *d = rec_of(s);
	d->calls++;
	d->last_nr = nr;
	d->last_size = size;
	d->last_session = s;
	memcpy(d->last_arg, arg, size);
	uint8_t *b = arg;
	for (size_t i = 0; i < size; i++)
		b[i] ^= REC_XOR;
	return d->fail_with ? -d->fail_with : 0;
}

#define REC_HOOK(NAME, hook, type)                                          \
	static int rec_##hook(struct vmedia_session *s, type *arg)          \
	{                                                                   \
		return record(s, _IOC_NR(VIDIOC_##NAME), arg, sizeof(*arg)); \
	}
VMEDIA_PLAIN_IOCTLS(REC_HOOK)
#undef REC_HOOK

static int rec_buffer(struct vmedia_session *s, int nr, struct vmedia_buffer *b)
{
	struct rec_dev *d = rec_of(s);
	d->calls++;
	d->last_nr = nr;
	d->last_session = s;
	d->last_buf = *b;
	for (unsigned i = 0; i < VMEDIA_MAX_PLANES; i++) {
		d->last_mem_len[i] = b->mem[i] ? b->mem[i]->len : 0;
		d->last_mem_bounced[i] = b->mem[i] && b->mem[i]->bounced;
	}
	if (d->fail_with)
		return -d->fail_with;
	/* Answer something the guest can check: flags and bytesused. */
	b->b.flags |= V4L2_BUF_FLAG_QUEUED;
	b->b.bytesused = 0x1234;
	for (unsigned i = 0; i < VMEDIA_MAX_PLANES; i++) {
		b->planes[i].bytesused = 0x100 + i;
		if (b->mem[i] && !d->keep_usermem) {
			memset(b->mem[i]->ptr, 0xab, b->mem[i]->len);
			vmedia_usermem_put(b->mem[i], true);
			b->mem[i] = NULL;
		}
	}
	return 0;
}

static int rec_querybuf(struct vmedia_session *s, struct vmedia_buffer *b)
{
	return rec_buffer(s, _IOC_NR(VIDIOC_QUERYBUF), b);
}
static int rec_qbuf(struct vmedia_session *s, struct vmedia_buffer *b)
{
	return rec_buffer(s, _IOC_NR(VIDIOC_QBUF), b);
}
static int rec_prepare_buf(struct vmedia_session *s, struct vmedia_buffer *b)
{
	return rec_buffer(s, _IOC_NR(VIDIOC_PREPARE_BUF), b);
}

static int rec_ctrls(struct vmedia_session *s, int nr, struct vmedia_ext_ctrls *x)
{
	struct rec_dev *d = rec_of(s);
	d->calls++;
	d->last_nr = nr;
	d->last_session = s;
	d->last_ctrl_count = x->c.count;
	for (uint32_t i = 0; i < x->c.count && i < 8; i++) {
		d->last_ctrls[i] = x->controls[i];
		if (x->mem[i]) {
			size_t n = x->mem[i]->len < 64 ? x->mem[i]->len : 64;
			memcpy(d->last_ctrl_data[i], x->mem[i]->ptr, n);
			if (nr == _IOC_NR(VIDIOC_G_EXT_CTRLS)) {
				memset(x->mem[i]->ptr, d->ctrl_answer, x->mem[i]->len);
				x->dirty = true;
			}
		} else {
			x->controls[i].value ^= REC_XOR;
		}
	}
	if (d->fail_with) {
		x->c.error_idx = x->c.count ? x->c.count - 1 : 0;
		return -d->fail_with;
	}
	return 0;
}

static int rec_g_ext(struct vmedia_session *s, struct vmedia_ext_ctrls *x)
{
	return rec_ctrls(s, _IOC_NR(VIDIOC_G_EXT_CTRLS), x);
}
static int rec_s_ext(struct vmedia_session *s, struct vmedia_ext_ctrls *x)
{
	return rec_ctrls(s, _IOC_NR(VIDIOC_S_EXT_CTRLS), x);
}
static int rec_try_ext(struct vmedia_session *s, struct vmedia_ext_ctrls *x)
{
	return rec_ctrls(s, _IOC_NR(VIDIOC_TRY_EXT_CTRLS), x);
}

static int rec_expbuf(struct vmedia_session *s, struct v4l2_exportbuffer *e,
		      uint8_t uuid[VMEDIA_UUID_SIZE])
{
	struct rec_dev *d = rec_of(s);
	d->calls++;
	d->last_nr = _IOC_NR(VIDIOC_EXPBUF);
	memcpy(d->last_arg, uuid, VMEDIA_UUID_SIZE);
	for (int i = 0; i < VMEDIA_UUID_SIZE; i++)
		uuid[i] = (uint8_t)(0xc0 + i);
	e->fd = 42;
	return d->fail_with ? -d->fail_with : 0;
}

const struct vmedia_device_ops rec_ops = {
	.open = rec_open,
	.close = rec_close,
#define REC_FIELD(NAME, hook, type) .hook = rec_##hook,
	VMEDIA_PLAIN_IOCTLS(REC_FIELD)
#undef REC_FIELD
	.querybuf = rec_querybuf,
	.qbuf = rec_qbuf,
	.prepare_buf = rec_prepare_buf,
	.g_ext_ctrls = rec_g_ext,
	.s_ext_ctrls = rec_s_ext,
	.try_ext_ctrls = rec_try_ext,
	.expbuf = rec_expbuf,
};

/* ---- the pair ---- */

static void run_commands(void *opaque)
{
	struct media_pair *p = opaque;
	vmedia_device_process_commands(&p->dev);
}

static void run_eventq(void *opaque)
{
	struct media_pair *p = opaque;
	vmedia_device_process_eventq(&p->dev);
}

void media_pair_init(struct media_pair *p, const struct media_pair_opts *o)
{
	static const struct media_pair_opts none;
	if (!o)
		o = &none;
	memset(p, 0, sizeof(*p));
	if (!o->no_shm)
		cr_assert_eq(vmedia_shm_init_memfd(&p->shm, 64 << 20), 0);
	struct vmedia_guest_config gc = {
		.allow_userptr = true,
		/* Send what the Linux driver would refuse: the runner is under test. */
		.flags = VMEDIA_GUEST_F_NO_CHECKS,
		.event_bufs = o->event_bufs,
		.shm = o->no_shm ? NULL : p->shm.host,
		.shm_size = o->no_shm ? 0 : p->shm.size,
		.config = o->config.device_caps ? o->config
			: (struct vmedia_config_space){ .device_caps = V4L2_CAP_VIDEO_CAPTURE |
									V4L2_CAP_STREAMING },
		.transport = { .process_commands = run_commands, .process_eventq = run_eventq,
			       .opaque = p },
	};
	cr_assert_eq(vmedia_guest_init(&p->g, &gc), 0);
	p->g.shape = o->shape;
	struct vq_queue_config qc;
	vq_fake_queue_config(&p->g.cmdq, &qc);
	cr_assert_eq(vq_queue_init(&p->cmdq, &qc), 0);
	vq_fake_queue_config(&p->g.eventq, &qc);
	cr_assert_eq(vq_queue_init(&p->evq, &qc), 0);
	struct vmedia_device_config dc = {
		.ops = o->ops ? o->ops : &rec_ops,
		.priv = o->priv ? o->priv : &p->rec,
		.commandq = &p->cmdq,
		.eventq = &p->evq,
		.mem = &p->g.mem,
		.shm = o->no_shm ? NULL : &p->shm,
		.max_sessions = o->max_sessions,
		.max_buffers = o->max_buffers,
		.event_backlog = o->event_backlog,
		.usermem_limit = o->usermem_limit,
		.config = gc.config,
	};
	cr_assert_eq(vmedia_device_init(&p->dev, &dc), 0);
	/* The driver posted its event buffers before the device existed. */
	vmedia_device_process_eventq(&p->dev);
}

void media_pair_destroy(struct media_pair *p)
{
	vmedia_device_destroy(&p->dev);
	vmedia_guest_destroy(&p->g);
	if (p->shm.host)
		vmedia_shm_destroy(&p->shm);
}
