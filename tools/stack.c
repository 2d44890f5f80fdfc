/* SPDX-License-Identifier: MIT */
/* The whole virtio-media stack in one process; see stack.h. */
#define _GNU_SOURCE
#include "stack.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vmedia_simple.h"
#ifdef VQM_HAVE_DECODER
#include "vmedia_decoder.h"
#endif

/* ---- the device table ---- */

static void *simple_create(const struct vqm_stack_opts *o)
{
	return vmedia_simple_new(&(struct vmedia_simple_config){ .benchmark = o->benchmark });
}

static void simple_destroy(void *state)
{
	vmedia_simple_free(state);
}

static struct vmedia_config_space simple_config_space(const void *state)
{
	return vmedia_simple_config_space(state);
}

static int simple_tick(void *state, uint64_t now_ns)
{
	return vmedia_simple_tick(state, now_ns);
}

static uint64_t simple_next_deadline(const void *state)
{
	return vmedia_simple_next_deadline(state);
}

static const struct vqm_device_kind simple_kind = {
	.name = "simple",
	.summary = "virtual camera: colour bars, YUYV / NV12 / YU12 / RGB3",
	.ops = &vmedia_simple_ops,
	.create = simple_create,
	.destroy = simple_destroy,
	.config_space = simple_config_space,
	.tick = simple_tick,
	.next_deadline = simple_next_deadline,
};

#ifdef VQM_HAVE_DECODER
static void *decoder_create(const struct vqm_stack_opts *o)
{
	return vmedia_decoder_new(&(struct vmedia_decoder_config){ .threads = o->threads });
}

static void decoder_destroy(void *state)
{
	vmedia_decoder_free(state);
}

static struct vmedia_config_space decoder_config_space(const void *state)
{
	return vmedia_decoder_config_space(state);
}

static int decoder_wake_fd(const void *state)
{
	return vmedia_decoder_wake_fd(state);
}

static int decoder_complete(void *state)
{
	return vmedia_decoder_complete(state);
}

static bool decoder_busy(const void *state)
{
	return vmedia_decoder_busy(state);
}

static const struct vqm_device_kind decoder_kind = {
	.name = "decoder",
	.summary = "stateful video decoder (libavcodec): H.264, HEVC, VP8, VP9, AV1, MPEG-2",
	.ops = &vmedia_decoder_ops,
	.create = decoder_create,
	.destroy = decoder_destroy,
	.config_space = decoder_config_space,
	.wake_fd = decoder_wake_fd,
	.complete = decoder_complete,
	.busy = decoder_busy,
};
#endif

const struct vqm_device_kind *const vqm_devices[] = {
	&simple_kind,
#ifdef VQM_HAVE_DECODER
	&decoder_kind,
#endif
	NULL,
};

const struct vqm_device_kind *vqm_device_find(const char *name)
{
	for (unsigned i = 0; vqm_devices[i]; i++)
		if (!strcmp(vqm_devices[i]->name, name))
			return vqm_devices[i];
	return NULL;
}

/* ---- the stack ---- */

enum {
	UP_STATE = 1u << 0,
	UP_SHM = 1u << 1,
	UP_GUEST = 1u << 2,
	UP_CMDQ = 1u << 3,
	UP_EVQ = 1u << 4,
	UP_DEV = 1u << 5,
};

/* The model's transport: the device runs inline, on this thread. */
static void run_commands(void *opaque)
{
	struct vqm_stack *s = opaque;
	int r = vmedia_device_process_commands(&s->dev);
	if (r < 0 && !s->runner_err)
		s->runner_err = r;
}

static void run_eventq(void *opaque)
{
	struct vqm_stack *s = opaque;
	int r = vmedia_device_process_eventq(&s->dev);
	if (r < 0 && !s->runner_err)
		s->runner_err = r;
}

static int fail(struct vqm_stack *s, int r, const char *what)
{
	snprintf(s->err, sizeof(s->err), "%s: %s", what, strerror(-r));
	vqm_stack_destroy(s);
	return r;
}

int vqm_stack_init(struct vqm_stack *s, const struct vqm_stack_opts *o)
{
	static const struct vqm_stack_opts none;
	if (!o)
		o = &none;
	memset(s, 0, sizeof(*s));
	const char *name = o->device ? o->device : "simple";
	s->kind = vqm_device_find(name);
	if (!s->kind) {
		snprintf(s->err, sizeof(s->err), "no device called '%s'", name);
		return -ENODEV;
	}
	s->state = s->kind->create(o);
	if (!s->state)
		return fail(s, -ENOMEM, "device state");
	s->up |= UP_STATE;
	struct vmedia_config_space cs = s->kind->config_space(s->state);

	int r = vmedia_shm_init_memfd(&s->shm, o->shm_size ? o->shm_size : 256ull << 20);
	if (r)
		return fail(s, r, "MMAP region (memfd)");
	s->up |= UP_SHM;

	struct vmedia_guest_config gc = {
		.mem_size = o->guest_mem ? o->guest_mem : 128u << 20,
		.allow_userptr = true,
		.shm = s->shm.host,
		.shm_size = s->shm.size,
		.config = cs,
		.transport = { .process_commands = run_commands, .process_eventq = run_eventq,
			       .opaque = s },
	};
	if ((r = vmedia_guest_init(&s->g, &gc)) != 0)
		return fail(s, r, "guest driver model");
	s->up |= UP_GUEST;

	struct vq_queue_config qc;
	vq_fake_queue_config(vmedia_guest_cmdq(&s->g), &qc);
	qc.notify = vq_fake_interrupt;
	qc.notify_opaque = vmedia_guest_cmdq(&s->g);
	if ((r = vq_queue_init(&s->cmdq, &qc)) != 0)
		return fail(s, r, "commandq");
	s->up |= UP_CMDQ;
	vq_fake_queue_config(vmedia_guest_eventq(&s->g), &qc);
	qc.notify = vq_fake_interrupt;
	qc.notify_opaque = vmedia_guest_eventq(&s->g);
	if ((r = vq_queue_init(&s->evq, &qc)) != 0)
		return fail(s, r, "eventq");
	s->up |= UP_EVQ;

	struct vmedia_device_config dc = {
		.ops = s->kind->ops,
		.priv = s->state,
		.commandq = &s->cmdq,
		.eventq = &s->evq,
		.mem = vmedia_guest_mem(&s->g),
		.shm = &s->shm,
		.config = cs,
	};
	if ((r = vmedia_device_init(&s->dev, &dc)) != 0)
		return fail(s, r, "virtio-media runner");
	s->up |= UP_DEV;
	/* The driver posted its event buffers before the device existed. */
	r = vmedia_device_process_eventq(&s->dev);
	if (r < 0)
		return fail(s, r, "eventq buffers");
	return 0;
}

void vqm_stack_destroy(struct vqm_stack *s)
{
	/* The runner closes the sessions (ops->close) before the device
	 * state goes; the model only frees its memory. */
	if (s->up & UP_DEV)
		vmedia_device_destroy(&s->dev);
	if (s->up & UP_EVQ)
		vq_queue_destroy(&s->evq);
	if (s->up & UP_CMDQ)
		vq_queue_destroy(&s->cmdq);
	if (s->up & UP_GUEST)
		vmedia_guest_destroy(&s->g);
	if (s->up & UP_SHM)
		vmedia_shm_destroy(&s->shm);
	if (s->up & UP_STATE)
		s->kind->destroy(s->state);
	s->up = 0;
}

int vqm_open(struct vqm_stack *s, uint32_t *sid)
{
	int r = vmedia_guest_open(&s->g, sid);
	return s->runner_err ? s->runner_err : r;
}

int vqm_close(struct vqm_stack *s, uint32_t sid)
{
	int r = vmedia_guest_close(&s->g, sid);
	return s->runner_err ? s->runner_err : r;
}

int vqm_ioctl(struct vqm_stack *s, uint32_t sid, unsigned long req, void *arg)
{
	int r = vmedia_guest_ioctl(&s->g, sid, req, arg);
	return s->runner_err ? s->runner_err : r;
}

int vqm_tick(struct vqm_stack *s, uint64_t now_ns)
{
	if (!s->kind->tick)
		return 0;
	int r = s->kind->tick(s->state, now_ns);
	return s->runner_err ? s->runner_err : r;
}

uint64_t vqm_next_deadline(const struct vqm_stack *s)
{
	return s->kind->next_deadline ? s->kind->next_deadline(s->state) : 0;
}

bool vqm_realtime(const struct vqm_stack *s)
{
	return s->kind->tick && s->kind->next_deadline;
}

bool vqm_async(const struct vqm_stack *s)
{
	return s->kind->wake_fd && s->kind->complete;
}

int vqm_wait(struct vqm_stack *s, int timeout_ms)
{
	if (!vqm_async(s))
		return 0;
	struct pollfd p = { .fd = s->kind->wake_fd(s->state), .events = POLLIN };
	int r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return -errno;
	int n = 0;
	if (r > 0) {
		n = s->kind->complete(s->state);
		if (n < 0)
			return n;
	}
	/* What complete() sent sits in the eventq's used ring until the
	 * driver's interrupt handler (the model) takes it; take it now so
	 * DQBUF and DQEVENT see it.  Done on timeouts too: cheap, and an
	 * event the runner held back for want of eventq buffers gets out. */
	vmedia_guest_poll_events(&s->g);
	return s->runner_err ? s->runner_err : n;
}

bool vqm_busy(const struct vqm_stack *s)
{
	return s->kind->busy && s->kind->busy(s->state);
}

uint64_t vqm_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
