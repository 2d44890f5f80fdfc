/* SPDX-License-Identifier: MIT */
/* The command runner: commandq chains in, typed device calls, responses out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmedia_internal.h"

#define DEFAULT_MAX_SESSIONS 64
#define DEFAULT_MAX_BUFFERS 1024
#define DEFAULT_BACKLOG 256
#define DEFAULT_USERMEM_LIMIT (256ull << 20)

static uint32_t round_pow2(uint32_t v)
{
	uint32_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

int vmedia_device_init(struct vmedia_device *dev, const struct vmedia_device_config *cfg)
{
	memset(dev, 0, sizeof(*dev));
	if (!cfg->ops || !cfg->commandq || !cfg->eventq || !cfg->mem)
		return -EINVAL;
	uint32_t max_sessions = cfg->max_sessions ? cfg->max_sessions : DEFAULT_MAX_SESSIONS;
	if (max_sessions > (1u << 20))
		return -EINVAL;
	dev->ops = cfg->ops;
	dev->priv = cfg->priv;
	dev->commandq = cfg->commandq;
	dev->eventq = cfg->eventq;
	dev->mem = cfg->mem;
	dev->shm = cfg->shm;
	dev->config = cfg->config;
	dev->max_sessions = max_sessions;
	dev->nslots = round_pow2(max_sessions);
	dev->usermem_limit = cfg->usermem_limit ? cfg->usermem_limit : DEFAULT_USERMEM_LIMIT;
	dev->flush_every = cfg->flush_every;
	/* A chain has at most queue-size descriptors; allow one region
	 * crossing per descriptor. */
	dev->cmd_iov_cap = 2 * vq_queue_size(cfg->commandq);

	dev->sessions = calloc(dev->nslots, sizeof(*dev->sessions));
	dev->cmd_iov = calloc(dev->cmd_iov_cap, sizeof(*dev->cmd_iov));
	dev->ctrl_scratch = calloc(VMEDIA_MAX_CTRLS, sizeof(*dev->ctrl_scratch));
	dev->ctrl_mem_scratch = calloc(VMEDIA_MAX_CTRLS, sizeof(*dev->ctrl_mem_scratch));
	dev->ctrl_ptr_scratch = calloc(VMEDIA_MAX_CTRLS, sizeof(*dev->ctrl_ptr_scratch));
	int r = -ENOMEM;
	if (!dev->sessions || !dev->cmd_iov || !dev->ctrl_scratch ||
	    !dev->ctrl_mem_scratch || !dev->ctrl_ptr_scratch)
		goto fail;
	r = vmedia_mmap_init(dev, cfg->max_buffers ? cfg->max_buffers : DEFAULT_MAX_BUFFERS);
	if (r)
		goto fail;
	r = vmedia_eventq_init(dev, cfg->event_backlog ? cfg->event_backlog : DEFAULT_BACKLOG);
	if (r)
		goto fail;
	return 0;
fail:
	vmedia_device_destroy(dev);
	return r;
}

static void close_session(struct vmedia_device *dev, struct vmedia_session *s)
{
	if (dev->ops->close)
		dev->ops->close(s);
	vmedia_eventq_forget_session(dev, s->id);
	memset(s, 0, sizeof(*s));
	dev->nsessions--;
}

void vmedia_device_set_env(struct vmedia_device *dev, const struct vmedia_env_ops *ops, void *env)
{
	dev->env_ops = ops;
	dev->env = ops ? env : NULL;
}

void vmedia_device_destroy(struct vmedia_device *dev)
{
	for (uint32_t i = 0; dev->sessions && i < dev->nslots; i++)
		if (dev->sessions[i].in_use)
			close_session(dev, &dev->sessions[i]);
	vmedia_eventq_destroy(dev);
	vmedia_mmap_destroy(dev);
	free(dev->sessions);
	free(dev->cmd_iov);
	free(dev->ctrl_scratch);
	free(dev->ctrl_mem_scratch);
	free(dev->ctrl_ptr_scratch);
	memset(dev, 0, sizeof(*dev));
}

struct vmedia_session *vmedia_session_find(struct vmedia_device *dev, uint32_t id)
{
	struct vmedia_session *s = &dev->sessions[id & (dev->nslots - 1)];
	return s->in_use && s->id == id ? s : NULL;
}

/* ---- responses ---- */

/* Header-only response.  Returns @status for the caller's convenience. */
static uint32_t reply_status(struct vq_writer *w, uint32_t status)
{
	struct vmedia_resp_header h = { .status = status };
	vq_writer_write_all(w, &h, sizeof(h));
	return status;
}

/* ---- commands ---- */

/*
 * Ids grow monotonically and a session keeps its slot until CLOSE, so an id
 * is unique among open sessions and not reused while an ERROR event for it
 * is outstanding (the driver CLOSEs those too).  The slot is id mod nslots,
 * making lookup one probe; allocation skips ids whose slot is taken.
 */
static void cmd_open(struct vmedia_device *dev, struct vq_writer *w)
{
	if (vq_writer_remaining(w) < sizeof(struct vmedia_resp_open)) {
		/* Nowhere to put the id: opening would leak a session. */
		dev->stats.bad_commands++;
		reply_status(w, EINVAL);
		return;
	}
	if (dev->nsessions >= dev->max_sessions) {
		reply_status(w, EBUSY);
		return;
	}
	uint32_t id = dev->next_id;
	while (dev->sessions[id & (dev->nslots - 1)].in_use)
		id++;
	dev->next_id = id + 1;
	struct vmedia_session *s = &dev->sessions[id & (dev->nslots - 1)];
	*s = (struct vmedia_session){ .id = id, .in_use = true, .dev = dev };
	dev->nsessions++;
	int r = dev->ops->open ? dev->ops->open(s) : 0;
	if (r < 0) {
		memset(s, 0, sizeof(*s));
		dev->nsessions--;
		reply_status(w, (uint32_t)-r);
		return;
	}
	struct vmedia_resp_open resp = { .session_id = id };
	vq_writer_write_all(w, &resp, sizeof(resp));
}

static void cmd_close(struct vmedia_device *dev, struct vq_reader *r, struct vq_writer *w)
{
	uint32_t f[2]; /* session_id, reserved */
	if (vq_reader_read_all(r, f, sizeof(f))) {
		dev->stats.bad_commands++;
		reply_status(w, EINVAL);
		return;
	}
	/* The driver sends no writable part: there is no answer to give, and
	 * an unknown id is ignored as the reference device does. */
	struct vmedia_session *s = vmedia_session_find(dev, f[0]);
	bool found = s != NULL;
	if (found)
		close_session(dev, s);
	if (vq_writer_remaining(w))
		reply_status(w, found ? 0 : EINVAL);
}

static void cmd_ioctl(struct vmedia_device *dev, struct vq_reader *r, struct vq_writer *w)
{
	uint32_t ids[2]; /* session_id, code */
	if (vq_reader_read_all(r, ids, sizeof(ids))) {
		dev->stats.bad_commands++;
		reply_status(w, EINVAL);
		return;
	}
	struct vmedia_session *s = vmedia_session_find(dev, ids[0]);
	if (!s) {
		reply_status(w, EINVAL);
		return;
	}
	vmedia_ioctl_run(dev, s, ids[1], r, w);
}

static void cmd_mmap(struct vmedia_device *dev, struct vq_reader *r, struct vq_writer *w)
{
	uint32_t f[3]; /* session_id, flags, offset */
	if (vq_reader_read_all(r, f, sizeof(f))) {
		dev->stats.bad_commands++;
		reply_status(w, EINVAL);
		return;
	}
	if (!vmedia_session_find(dev, f[0])) {
		reply_status(w, EINVAL);
		return;
	}
	if (vq_writer_remaining(w) < sizeof(struct vmedia_resp_mmap)) {
		/* The mapping could not be reported, so it must not exist. */
		dev->stats.bad_commands++;
		reply_status(w, EINVAL);
		return;
	}
	struct vmedia_resp_mmap resp = { 0 };
	int ret = vmedia_mmap_map(dev, f[2], f[1] & VMEDIA_MMAP_FLAG_RW, &resp.driver_addr,
				  &resp.len);
	if (ret < 0) {
		reply_status(w, (uint32_t)-ret);
		return;
	}
	vq_writer_write_all(w, &resp, sizeof(resp));
}

static void cmd_munmap(struct vmedia_device *dev, struct vq_reader *r, struct vq_writer *w)
{
	uint64_t addr;
	if (vq_reader_read_all(r, &addr, sizeof(addr))) {
		dev->stats.bad_commands++;
		reply_status(w, EINVAL);
		return;
	}
	int ret = vmedia_mmap_unmap(dev, addr);
	reply_status(w, (uint32_t)-ret);
}

uint32_t vmedia_device_handle_chain(struct vmedia_device *dev, const struct vq_chain *c)
{
	struct vq_reader r;
	struct vq_writer w;
	vq_reader_init(&r, c);
	vq_writer_init(&w, c);
	dev->stats.commands++;

	struct vmedia_cmd_header h;
	if (vq_reader_read_all(&r, &h, sizeof(h))) {
		dev->stats.bad_commands++;
		reply_status(&w, EINVAL);
		return vq_writer_written(&w);
	}
	switch (h.cmd) {
	case VMEDIA_CMD_OPEN:
		cmd_open(dev, &w);
		break;
	case VMEDIA_CMD_CLOSE:
		cmd_close(dev, &r, &w);
		break;
	case VMEDIA_CMD_IOCTL:
		cmd_ioctl(dev, &r, &w);
		break;
	case VMEDIA_CMD_MMAP:
		cmd_mmap(dev, &r, &w);
		break;
	case VMEDIA_CMD_MUNMAP:
		cmd_munmap(dev, &r, &w);
		break;
	default:
		reply_status(&w, ENOTTY);
		break;
	}
	return vq_writer_written(&w);
}

int vmedia_device_process_commands(struct vmedia_device *dev)
{
	struct vq_chain c;
	vq_chain_init(&c, dev->cmd_iov, dev->cmd_iov_cap);
	int n = 0;
	uint32_t since = 0;
	for (;;) {
		int r = vq_queue_pop(dev->commandq, &c);
		if (r == 0)
			break;
		if (r == -EIO)
			return -EIO;
		if (r < 0)
			continue; /* malformed chain: already returned, counted */
		vq_queue_push(dev->commandq, &c, vmedia_device_handle_chain(dev, &c));
		n++;
		if (++since == dev->flush_every) {
			since = 0;
			if (vq_queue_flush(dev->commandq) < 0)
				return -EIO;
		}
	}
	return vq_queue_flush(dev->commandq) < 0 ? -EIO : n;
}
