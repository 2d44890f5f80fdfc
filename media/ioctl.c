/* SPDX-License-Identifier: MIT */
/*
 * The ioctl codec: read an IOCTL command's payload in its 64-bit layout,
 * call the device's typed hook, write the reply (PROTOCOL.md, "IOCTL payload
 * layout").  Every size is checked against what the chain holds before the
 * hook runs, so a hook's side effects never happen for a command whose
 * answer cannot be delivered.
 */
#include <errno.h>
#include <string.h>

#include "vmedia_internal.h"

/* ---- plain ioctls: one struct, generated thunks ---- */

/* Called with arg NULL to ask "is there a hook?" without running it. */
typedef int (*plain_thunk)(const struct vmedia_device_ops *ops, struct vmedia_session *s,
			   void *arg);

#define THUNK(NAME, hook, type)                                                       \
	_Static_assert(sizeof(type) == _IOC_SIZE(VIDIOC_##NAME),                      \
		       "hook type of VIDIOC_" #NAME " must match its payload size");   \
	static int call_##hook(const struct vmedia_device_ops *ops,                   \
			       struct vmedia_session *s, void *arg)                   \
	{                                                                             \
		if (!ops->hook)                                                       \
			return -ENOTTY;                                               \
		return arg ? ops->hook(s, (type *)arg) : 0;                           \
	}
VMEDIA_PLAIN_IOCTLS(THUNK)
#undef THUNK

#define THUNK_ENTRY(NAME, hook, type) [_IOC_NR(VIDIOC_##NAME)] = call_##hook,
static const plain_thunk plain_thunks[VMEDIA_IOCTL_NR_LIMIT] = {
	VMEDIA_PLAIN_IOCTLS(THUNK_ENTRY)
};
#undef THUNK_ENTRY

/* Big enough and aligned for any plain payload (G_ENC_INDEX is the largest). */
union plain_payload {
	struct v4l2_enc_idx enc_idx;
	struct v4l2_format fmt;
	uint64_t align;
};

static uint32_t reply(struct vq_writer *w, uint32_t status)
{
	struct vmedia_resp_header h = { .status = status };
	vq_writer_write_all(w, &h, sizeof(h));
	return status;
}

static uint32_t errno_of(int ret)
{
	return ret < 0 ? (uint32_t)-ret : 0;
}

/* Checks the runner makes for the device, because the kernel does them
 * before any driver sees the call. */
static int prevalidate(uint8_t nr, const void *arg)
{
	if (nr == _IOC_NR(VIDIOC_SUBSCRIBE_EVENT)) {
		const struct v4l2_event_subscription *sub = arg;
		/* ALL is only meaningful to UNSUBSCRIBE (v4l2_event_subscribe). */
		if (sub->type == V4L2_EVENT_ALL)
			return -EINVAL;
	}
	return 0;
}

static uint32_t run_plain(struct vmedia_device *dev, struct vmedia_session *s,
			  const struct vmedia_ioctl_desc *d, struct vq_reader *r,
			  struct vq_writer *w)
{
	plain_thunk call = plain_thunks[d->nr];
	if (!call || call(dev->ops, s, NULL) < 0)
		return reply(w, ENOTTY);

	union plain_payload p;
	_Static_assert(sizeof(p) >= sizeof(struct v4l2_enc_idx), "payload buffer size");
	/* _IOR payloads are not read: the Linux driver sends G_INPUT as WR,
	 * and whatever the guest put there must not matter. */
	if (!(d->dir & VMEDIA_IOCTL_DIR_W)) {
		memset(&p, 0, d->size);
	} else if (vq_reader_read_all(r, &p, d->size)) {
		dev->stats.bad_commands++;
		return reply(w, EINVAL);
	}
	size_t out = sizeof(struct vmedia_resp_header) +
		     ((d->dir & VMEDIA_IOCTL_DIR_R) ? d->size : 0);
	if (vq_writer_remaining(w) < out) {
		dev->stats.bad_commands++;
		return reply(w, EINVAL);
	}
	int ret = prevalidate(d->nr, &p);
	if (ret == 0)
		ret = call(dev->ops, s, &p);
	if (ret < 0)
		return reply(w, errno_of(ret));
	reply(w, 0);
	if (d->dir & VMEDIA_IOCTL_DIR_R)
		vq_writer_write_all(w, &p, d->size);
	return 0;
}

/* ---- v4l2_buffer: planes, USERPTR SG lists, DMABUF UUIDs ---- */

static int (*buffer_hook(const struct vmedia_device_ops *ops, uint8_t nr))(
	struct vmedia_session *, struct vmedia_buffer *)
{
	if (nr == _IOC_NR(VIDIOC_QUERYBUF))
		return ops->querybuf;
	if (nr == _IOC_NR(VIDIOC_QBUF))
		return ops->qbuf;
	if (nr == _IOC_NR(VIDIOC_PREPARE_BUF))
		return ops->prepare_buf;
	return NULL;
}

static void release_mem(struct vmedia_buffer *vb)
{
	for (unsigned i = 0; i < VMEDIA_MAX_PLANES; i++) {
		vmedia_usermem_put(vb->mem[i], false);
		vb->mem[i] = NULL;
	}
}

/* USERPTR memory follows everything else, in plane order, readable only. */
static int read_usermem(struct vmedia_device *dev, struct vmedia_buffer *vb, bool mplane,
			unsigned nplanes, struct vq_reader *r)
{
	if (!mplane)
		return vmedia_usermem_get(dev, r, vb->b.length, &vb->mem[0]);
	for (unsigned i = 0; i < nplanes; i++) {
		int ret = vmedia_usermem_get(dev, r, vb->planes[i].length, &vb->mem[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static uint32_t run_buffer(struct vmedia_device *dev, struct vmedia_session *s,
			   const struct vmedia_ioctl_desc *d, struct vq_reader *r,
			   struct vq_writer *w)
{
	int (*hook)(struct vmedia_session *, struct vmedia_buffer *) = buffer_hook(dev->ops, d->nr);
	if (!hook)
		return reply(w, ENOTTY);

	struct vmedia_buffer vb;
	memset(&vb, 0, sizeof(vb));
	if (vq_reader_read_all(r, &vb.b, sizeof(vb.b)))
		goto malformed;
	bool mplane = V4L2_TYPE_IS_MULTIPLANAR(vb.b.type);
	unsigned nplanes = 0;
	if (mplane) {
		if (vb.b.length > VMEDIA_MAX_PLANES)
			return reply(w, EINVAL);
		nplanes = vb.b.length;
		if (vq_reader_read_all(r, vb.planes, nplanes * sizeof(vb.planes[0])))
			goto malformed;
	}
	unsigned nuuid = vb.b.memory == V4L2_MEMORY_DMABUF ? (mplane ? nplanes : 1) : 0;
	if (nuuid && vq_reader_read_all(r, vb.uuid, nuuid * (size_t)VMEDIA_UUID_SIZE))
		goto malformed;

	/* Guest pointer placeholders: hidden from the device, returned as sent. */
	uint64_t guest_m = vb.b.m.userptr;
	uint64_t guest_pm[VMEDIA_MAX_PLANES];
	bool userptr = vb.b.memory == V4L2_MEMORY_USERPTR;
	for (unsigned i = 0; i < nplanes; i++) {
		guest_pm[i] = vb.planes[i].m.userptr;
		if (userptr)
			vb.planes[i].m.userptr = 0;
	}
	if (mplane || userptr)
		vb.b.m.userptr = 0;

	size_t out = sizeof(struct vmedia_resp_header) + sizeof(vb.b) +
		     nplanes * sizeof(vb.planes[0]) + nuuid * (size_t)VMEDIA_UUID_SIZE;
	if (vq_writer_remaining(w) < out)
		goto malformed;

	/* QUERYBUF describes a buffer; only QBUF / PREPARE_BUF hand memory over. */
	if (userptr && d->nr != _IOC_NR(VIDIOC_QUERYBUF)) {
		int ret = read_usermem(dev, &vb, mplane, nplanes, r);
		if (ret < 0) {
			release_mem(&vb);
			return reply(w, errno_of(ret));
		}
	}

	int ret = hook(s, &vb);
	if (ret < 0) {
		release_mem(&vb);
		return reply(w, errno_of(ret));
	}
	/* On success the device owns vb.mem[]. */

	if (mplane || userptr)
		vb.b.m.userptr = guest_m;
	for (unsigned i = 0; i < nplanes; i++)
		if (userptr)
			vb.planes[i].m.userptr = guest_pm[i];
	/* The guest made room for the planes it sent; a device that reports
	 * fewer leaves the rest zeroed, and never more than were sent. */
	if (mplane && vb.b.length > nplanes)
		vb.b.length = nplanes;
	reply(w, 0);
	vq_writer_write_all(w, &vb.b, sizeof(vb.b));
	vq_writer_write_all(w, vb.planes, nplanes * sizeof(vb.planes[0]));
	vq_writer_write_all(w, vb.uuid, nuuid * (size_t)VMEDIA_UUID_SIZE);
	return 0;

malformed:
	dev->stats.bad_commands++;
	return reply(w, EINVAL);
}

/* ---- v4l2_ext_controls: controls, then their pointer memory ---- */

static int (*ext_ctrls_hook(const struct vmedia_device_ops *ops, uint8_t nr))(
	struct vmedia_session *, struct vmedia_ext_ctrls *)
{
	if (nr == _IOC_NR(VIDIOC_G_EXT_CTRLS))
		return ops->g_ext_ctrls;
	if (nr == _IOC_NR(VIDIOC_S_EXT_CTRLS))
		return ops->s_ext_ctrls;
	if (nr == _IOC_NR(VIDIOC_TRY_EXT_CTRLS))
		return ops->try_ext_ctrls;
	return NULL;
}

static uint32_t run_ext_ctrls(struct vmedia_device *dev, struct vmedia_session *s,
			      const struct vmedia_ioctl_desc *d, struct vq_reader *r,
			      struct vq_writer *w)
{
	int (*hook)(struct vmedia_session *, struct vmedia_ext_ctrls *) =
		ext_ctrls_hook(dev->ops, d->nr);
	if (!hook)
		return reply(w, ENOTTY);

	struct vmedia_ext_ctrls x = { .controls = dev->ctrl_scratch, .mem = dev->ctrl_mem_scratch };
	if (vq_reader_read_all(r, &x.c, sizeof(x.c)))
		goto malformed;
	uint32_t count = x.c.count;
	/* The kernel's own cap; also bounds our scratch.  A count the chain
	 * cannot hold is caught by the read below. */
	if (count > VMEDIA_MAX_CTRLS)
		return reply(w, EINVAL);
	size_t ctrl_bytes = (size_t)count * sizeof(struct v4l2_ext_control);
	if (vq_reader_read_all(r, x.controls, ctrl_bytes))
		goto malformed;
	size_t out = sizeof(struct vmedia_resp_header) + sizeof(x.c) + ctrl_bytes;
	if (vq_writer_remaining(w) < out)
		goto malformed;

	uint64_t guest_controls = (uint64_t)(uintptr_t)x.c.controls;
	x.c.controls = NULL;
	memset(x.mem, 0, count * sizeof(x.mem[0]));
	/* A control with a size carries a guest pointer the device must use
	 * through mem[] instead; it sees 0 and the guest gets its value back. */
	uint64_t *guest_ptr = dev->ctrl_ptr_scratch;
	int ret = 0;
	for (uint32_t i = 0; i < count; i++) {
		guest_ptr[i] = 0;
		if (x.controls[i].size && ret == 0) {
			guest_ptr[i] = (uint64_t)(uintptr_t)x.controls[i].ptr;
			x.controls[i].ptr = NULL;
			ret = vmedia_usermem_get(dev, r, x.controls[i].size, &x.mem[i]);
		}
	}
	if (ret == 0)
		ret = hook(s, &x);
	for (uint32_t i = 0; i < count; i++) {
		if (x.mem[i] && x.dirty && ret == 0)
			vmedia_usermem_sync(x.mem[i]);
		vmedia_usermem_put(x.mem[i], false);
		x.mem[i] = NULL;
		if (guest_ptr[i])
			x.controls[i].ptr = (void *)(uintptr_t)guest_ptr[i];
	}

	/* Written back even on error: error_idx tells the guest which control
	 * failed.  The controls array pointer goes back as the guest sent it. */
	x.c.controls = (struct v4l2_ext_control *)(uintptr_t)guest_controls;
	reply(w, errno_of(ret));
	vq_writer_write_all(w, &x.c, sizeof(x.c));
	vq_writer_write_all(w, x.controls, ctrl_bytes);
	return errno_of(ret);

malformed:
	dev->stats.bad_commands++;
	return reply(w, EINVAL);
}

/* ---- EXPBUF: v4l2_exportbuffer, then a UUID in both parts ---- */

static uint32_t run_expbuf(struct vmedia_device *dev, struct vmedia_session *s,
			   struct vq_reader *r, struct vq_writer *w)
{
	if (!dev->ops->expbuf)
		return reply(w, ENOTTY);
	struct v4l2_exportbuffer e;
	uint8_t uuid[VMEDIA_UUID_SIZE];
	if (vq_reader_read_all(r, &e, sizeof(e)) || vq_reader_read_all(r, uuid, sizeof(uuid)) ||
	    vq_writer_remaining(w) < sizeof(struct vmedia_resp_header) + sizeof(e) + sizeof(uuid)) {
		dev->stats.bad_commands++;
		return reply(w, EINVAL);
	}
	int ret = dev->ops->expbuf(s, &e, uuid);
	if (ret < 0)
		return reply(w, errno_of(ret));
	reply(w, 0);
	vq_writer_write_all(w, &e, sizeof(e));
	vq_writer_write_all(w, uuid, sizeof(uuid));
	return 0;
}

uint32_t vmedia_ioctl_run(struct vmedia_device *dev, struct vmedia_session *s, uint32_t code,
			  struct vq_reader *r, struct vq_writer *w)
{
	const struct vmedia_ioctl_desc *d = vmedia_ioctl_lookup(code);
	if (!d)
		return reply(w, ENOTTY);
	switch (d->kind) {
	case VMEDIA_IOCTL_KIND_PLAIN:
		return run_plain(dev, s, d, r, w);
	case VMEDIA_IOCTL_KIND_BUFFER:
		return run_buffer(dev, s, d, r, w);
	case VMEDIA_IOCTL_KIND_EXT_CTRLS:
		return run_ext_ctrls(dev, s, d, r, w);
	case VMEDIA_IOCTL_KIND_EXPBUF:
		return run_expbuf(dev, s, r, w);
	case VMEDIA_IOCTL_KIND_NO_LAYOUT:
	case VMEDIA_IOCTL_KIND_ALWAYS_ENOTTY:
		break;
	}
	return reply(w, ENOTTY);
}
