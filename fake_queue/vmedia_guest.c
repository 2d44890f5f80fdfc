/* SPDX-License-Identifier: MIT */
/*
 * A model of the Linux virtio-media guest driver on two fake drivers.
 *
 * The driver's behaviour modelled here comes from chromeos/virtio-media
 * driver/ (virtio_media_driver.c, virtio_media_ioctls.c,
 * scatterlist_builder.c) and the V4L2 core pieces it relies on
 * (video_usercopy's array checks, v4l2-event's subscription queues).  Where
 * the driver would corrupt memory on a device's bad answer (a REQBUFS while
 * buffers are pending, a DQBUF event for a buffer already pending, an ioctl
 * after an ERROR event freed the session) the model picks a safe answer and
 * counts it instead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_gettime, nanosleep, POLLRDNORM under -std=c11 too */
#endif
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/uio.h>
#include <linux/version.h>

#include "vmedia_guest.h"

#define PAGE 4096u
#define RESP_POISON 0xa5
#define EVT_POISON 0x5a
#define MAX_BUFS 65536u            /* per queue: more is an allocation the driver could not make */
#define LOGICAL_MAX VMEDIA_GUEST_RAW_MAX_SEGS
#define SG_MAX_ENTRIES (VMEDIA_GUEST_SHADOW_SIZE / sizeof(struct vmedia_sg_entry))
#define RAW_AREA (64u * 1024)
#define PAYLOAD_AREA (1u << 14)    /* _IOC_SIZE is 14 bits */

/* ------------------------------------------------------------------------ */
/* Private state. */

enum { S_FREE, S_OPEN, S_ERRORED };

struct gbuf {
	/* The driver's virtio_media_buffer: the last DQBUF event's buffer with
	 * QBUF time's m, and its flags doubling as the driver's bookkeeping
	 * (QUEUED / PREPARED / DONE). */
	struct v4l2_buffer b;
	struct v4l2_plane planes[VIDEO_MAX_PLANES];
	bool pending;
	/* USERPTR memory of the last QBUF / PREPARE_BUF, for the copy-back:
	 * mapping index + 1 per plane, 0 for none. */
	uint32_t umap[VIDEO_MAX_PLANES];
	/* The user pointer and length per plane ([0] single-planar) of the
	 * last successful USERPTR QBUF / PREPARE_BUF: vb2 answers QUERYBUF
	 * with them, whatever pointer the caller passes. */
	struct { unsigned long ptr; uint32_t len; } user[VIDEO_MAX_PLANES];
};

struct gqueue {
	struct gbuf *bufs;
	uint32_t *fifo; /* pending DQBUFs, ring of allocated entries */
	uint32_t allocated, head, len, queued;
	bool streaming, capture_last;
};

struct gsub {
	uint32_t type, id;
	bool pending;
	uint64_t order;
	struct v4l2_event ev;
};

struct vmedia_guest_session {
	uint32_t id;
	int state;
	uint32_t error;
	bool uses_mplane;
	struct gqueue q[VMEDIA_GUEST_NUM_QUEUES];
	struct gsub subs[VMEDIA_GUEST_MAX_SUBS];
	uint32_t nsubs, navailable, sequence;
	uint64_t order;
};

struct vmedia_guest_umap {
	uintptr_t uptr;
	uint32_t len, mode, n;
	uint64_t *gpa;
	uint32_t *plen;
};

struct vmedia_guest_mapping {
	uint64_t addr, len;
};

/* A piece of user memory in guest memory, for SG lists and copy-back. */
struct piece {
	uint64_t gpa;
	uint8_t *user;
	uint32_t len;
};

/* A chain under construction, before shape splitting. */
struct gb {
	struct vq_fake_buf d[LOGICAL_MAX];
	unsigned n;
	uint32_t sg_used;   /* entries in the SG area */
	uint32_t data_used; /* bytes in the ext-control data area */
	unsigned npieces;   /* ext-control pieces recorded for copy-back */
	int err;            /* sticky: the first add that failed */
};

static struct piece *g_pieces(struct vmedia_guest *g)
{
	return (struct piece *)(void *)g->pieces;
}

/* ------------------------------------------------------------------------ */
/* Small helpers. */

static bool type_mplane(uint32_t type)
{
	return V4L2_TYPE_IS_MULTIPLANAR(type);
}

static bool type_capture(uint32_t type)
{
	return !V4L2_TYPE_IS_OUTPUT(type);
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int alloc_area(struct vq_fake *f, uint32_t size, struct vmedia_guest_area *a)
{
	/* A second try starts past a region boundary the first one straddled. */
	for (int tries = 0; tries < 2; tries++) {
		uint64_t gpa = vq_fake_alloc(f, size);
		if (!gpa)
			return -ENOMEM;
		void *host = vq_fake_host(f, gpa, size);
		if (host) {
			*a = (struct vmedia_guest_area){ .gpa = gpa, .host = host, .size = size };
			return 0;
		}
	}
	return -ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Chains: build, split, publish, wait. */

static void gb_init(struct gb *b)
{
	b->n = 0;
	b->sg_used = 0;
	b->data_used = 0;
	b->npieces = 0;
	b->err = 0;
}

/* Add a descriptor; zero-length data is left out, as the driver does. */
static void gb_add(struct gb *b, uint64_t gpa, uint32_t len, bool writable)
{
	if (len == 0 || b->err)
		return;
	if (b->n == VMEDIA_GUEST_MAX_SGS) {
		b->err = -ENOSPC;
		return;
	}
	b->d[b->n++] = (struct vq_fake_buf){ .gpa = gpa, .len = len, .writable = writable };
}

static void gb_add_area(struct gb *b, const struct vmedia_guest_area *a, uint32_t len, bool w)
{
	gb_add(b, a->gpa, len, w);
}

static int wait_used(struct vmedia_guest *g, uint32_t head, uint32_t *used)
{
	uint64_t deadline = g->timeout_ms ? now_ns() + (uint64_t)g->timeout_ms * 1000000ull : 0;
	for (;;) {
		uint32_t id, len;
		while (vq_fake_get_used(&g->cmdq, &id, &len) == 1) {
			if (id == head) {
				g->last_used_len = len;
				if (used)
					*used = len;
				return 0;
			}
			g->stats.stale_used++;
		}
		if (!deadline || now_ns() >= deadline) {
			g->stats.timeouts++;
			return -ETIMEDOUT;
		}
		struct timespec ts = { 0, 20000 };
		nanosleep(&ts, NULL);
	}
}

/* Publish @n descriptors as one chain, let the device run, wait. */
static int submit(struct vmedia_guest *g, const struct vq_fake_buf *bufs, unsigned n,
		  uint32_t *used)
{
	if (n == 0)
		return -EINVAL;
	if (n > g->bufs_cap)
		return -ENOSPC;
	/* Linux's virtio_ring goes indirect for any chain of more than one
	 * descriptor once the feature is negotiated. */
	bool ind = !g->shape.direct && n > 1 &&
		   (g->cmdq.features & (1ull << VQ_F_INDIRECT_DESC));
	int head = vq_fake_add(&g->cmdq, bufs, n, ind ? VQ_FAKE_INDIRECT : 0);
	if (head < 0)
		return head == -EINVAL ? -ENOSPC : head;
	vq_fake_publish(&g->cmdq);
	g->stats.commands++;
	if (g->transport.process_commands)
		g->transport.process_commands(g->transport.opaque);
	return wait_used(g, (uint32_t)head, used);
}

/* Expand @b into g->bufs, cutting descriptors as the shape asks. */
static int run(struct vmedia_guest *g, const struct gb *b, uint32_t *used)
{
	if (b->err)
		return b->err;
	memset(g->a_resp.host, RESP_POISON, g->a_resp.size);
	unsigned n = 0;
	for (unsigned i = 0; i < b->n; i++) {
		const struct vq_fake_buf *d = &b->d[i];
		uint32_t cut = d->writable ? g->shape.split_writable : g->shape.split_readable;
		if (!cut)
			cut = d->len;
		for (uint32_t off = 0; off < d->len; off += cut) {
			if (n == g->bufs_cap)
				return -ENOSPC;
			uint32_t len = d->len - off < cut ? d->len - off : cut;
			g->bufs[n++] = (struct vq_fake_buf){ d->gpa + off, len, d->writable };
		}
	}
	return submit(g, g->bufs, n, used);
}

/* Status >4095 is no errno: a syscall could not even return it as one. */
static int status_err(struct vmedia_guest *g, uint32_t status)
{
	if (status <= 4095)
		return -(int)status;
	g->stats.bad_status++;
	return -EPROTO;
}

/*
 * virtio_media_kick_command + virtio_media_send_command: a response must
 * hold a header, a non-zero status wins, and on success the response must
 * be at least @need bytes.
 */
static int resp_check(struct vmedia_guest *g, uint32_t used, uint32_t need)
{
	struct vmedia_resp_header h;
	if (used < sizeof(h))
		return -EINVAL;
	memcpy(&h, g->a_resp.host, sizeof(h));
	uint32_t status = vq_from_le32(h.status);
	if (status)
		return status_err(g, status);
	return used < need ? -EINVAL : 0;
}

static void put_ioctl_cmd(struct vmedia_guest *g, uint32_t sid, unsigned long request)
{
	struct vmedia_cmd_ioctl c = {
		.hdr.cmd = vq_to_le32(VMEDIA_CMD_IOCTL),
		.session_id = vq_to_le32(sid),
		.code = vq_to_le32((uint32_t)_IOC_NR(request)),
	};
	memcpy(g->a_cmd.host, &c, sizeof(c));
}

/* ------------------------------------------------------------------------ */
/* Sessions and their queues. */

static struct vmedia_guest_session *find_state(struct vmedia_guest *g, uint32_t id, int state)
{
	for (uint32_t i = 0; i < g->max_sessions; i++)
		if (g->sessions[i].state == state && g->sessions[i].id == id)
			return &g->sessions[i];
	return NULL;
}

/* An open session, else one closed by an ERROR event, else NULL. */
static struct vmedia_guest_session *find_session(struct vmedia_guest *g, uint32_t id)
{
	struct vmedia_guest_session *s = find_state(g, id, S_OPEN);
	return s ? s : find_state(g, id, S_ERRORED);
}

static void queue_free(struct gqueue *q)
{
	free(q->bufs);
	free(q->fifo);
	memset(q, 0, sizeof(*q));
}

static void session_release(struct vmedia_guest_session *s)
{
	for (unsigned i = 0; i < VMEDIA_GUEST_NUM_QUEUES; i++)
		queue_free(&s->q[i]);
	memset(s, 0, sizeof(*s));
	s->state = S_FREE;
}

/* virtio_media_clear_queue: nothing pending, nothing queued, not streaming. */
static void queue_clear(struct gqueue *q)
{
	for (uint32_t i = 0; i < q->allocated; i++) {
		q->bufs[i].b.flags = 0;
		q->bufs[i].pending = false;
	}
	q->head = q->len = 0;
	q->queued = 0;
	q->streaming = false;
	q->capture_last = false;
}

/*
 * Make the queue hold @n buffers.  @keep: carry the old buffers' state and
 * pending order over (CREATE_BUFS); otherwise start afresh (REQBUFS, whose
 * driver code frees the buffers under any pending list entries — the model
 * drops those entries instead).
 */
static int queue_resize(struct gqueue *q, uint32_t n, bool keep)
{
	if (n > MAX_BUFS)
		return -ENOMEM;
	struct gbuf *bufs = NULL;
	uint32_t *fifo = NULL;
	if (n) {
		bufs = calloc(n, sizeof(*bufs));
		fifo = calloc(n, sizeof(*fifo));
		if (!bufs || !fifo) {
			free(bufs);
			free(fifo);
			return -ENOMEM;
		}
	}
	uint32_t len = 0;
	if (keep && q->allocated) {
		uint32_t m = q->allocated < n ? q->allocated : n;
		memcpy(bufs, q->bufs, m * sizeof(*bufs));
		for (uint32_t i = 0; i < q->len; i++) {
			uint32_t idx = q->fifo[(q->head + i) % q->allocated];
			if (idx < n)
				fifo[len++] = idx;
		}
	}
	bool streaming = q->streaming, last = q->capture_last;
	uint32_t queued = q->queued;
	free(q->bufs);
	free(q->fifo);
	q->bufs = bufs;
	q->fifo = fifo;
	q->allocated = n;
	q->head = 0;
	q->len = len;
	if (keep) {
		q->streaming = streaming;
		q->capture_last = last;
		q->queued = queued;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* User memory: pieces, SG lists, USERPTR mappings. */

/*
 * Cut @len (> 0) bytes at @uptr into pieces as the shape says, lengths into
 * p[].len.  Returns the count, or 0 if more than @max are needed.
 */
static uint32_t plan_pieces(const struct vmedia_guest *g, uintptr_t uptr, uint32_t len,
			    uint32_t max, struct piece *p)
{
	uint32_t segs = g->shape.sg_segments, n = 0;
	if (segs == VMEDIA_GUEST_SG_PAGES) {
		uint32_t off = (uint32_t)(uptr & (PAGE - 1));
		while (len) {
			uint32_t piece = PAGE - off < len ? PAGE - off : len;
			if (n == max)
				return 0;
			p[n++].len = piece;
			len -= piece;
			off = 0;
		}
		return n;
	}
	if (segs < 1)
		segs = 1;
	if (segs > len)
		segs = len;
	if (segs > max)
		return 0;
	for (uint32_t i = 0; i < segs; i++)
		p[i].len = len / segs + (i < len % segs);
	return segs;
}

/* Write an SG list for @n pieces and add its descriptor (readable). */
static void add_sg_list(struct vmedia_guest *g, struct gb *b, const struct piece *p, uint32_t n)
{
	if (b->err)
		return;
	if (b->sg_used + n > SG_MAX_ENTRIES) {
		b->err = -ENOMEM;
		return;
	}
	uint8_t *out = g->a_sg.host + (size_t)b->sg_used * sizeof(struct vmedia_sg_entry);
	for (uint32_t i = 0; i < n; i++) {
		struct vmedia_sg_entry e = {
			.start = vq_to_le64(p[i].gpa),
			.len = vq_to_le32(p[i].len),
		};
		memcpy(out + (size_t)i * sizeof(e), &e, sizeof(e));
	}
	gb_add(b, g->a_sg.gpa + (uint64_t)b->sg_used * sizeof(struct vmedia_sg_entry),
	       n * (uint32_t)sizeof(struct vmedia_sg_entry), false);
	b->sg_used += n;
}

/*
 * Can this process read [p, p+len)?  One byte per page through
 * process_vm_readv on ourselves, which says EFAULT where a memcpy would
 * fault: what get_user_pages tells the driver.  Where the call is not
 * allowed (seccomp, a kernel without cross-memory attach) there is no
 * telling: assume yes, as the model did before it looked.
 */
static bool user_readable(uintptr_t p, size_t len)
{
	enum { BATCH = 256 };
	uint8_t sink[BATCH];
	struct iovec local = { sink, 0 }, remote[BATCH];
	uintptr_t end = p + len;
	if (end < p)
		return false;
	while (p < end) {
		unsigned n = 0;
		for (; n < BATCH && p < end; n++) {
			remote[n] = (struct iovec){ (void *)p, 1 };
			p = (p | (PAGE - 1)) + 1;
		}
		local.iov_len = n;
		ssize_t r = process_vm_readv(getpid(), &local, 1, remote, n, 0);
		if (r < 0 && errno != EFAULT)
			return true;
		if (r != (ssize_t)n)
			return false;
	}
	return true;
}

/*
 * Write @n bytes at @src into user memory @dst as the device's DMA into the
 * pinned pages would: through process_vm_writev, so a page the user
 * unmapped (or made read-only) since QBUF ends the copy instead of the
 * process.  Without the call (see user_readable), a plain copy.  Returns
 * false when the user memory is gone.
 */
static bool user_write(uintptr_t dst, const void *src, size_t n)
{
	struct iovec local = { (void *)(uintptr_t)src, n }, remote = { (void *)dst, n };
	ssize_t r = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	if (r == (ssize_t)n)
		return true;
	if (r < 0 && errno != EFAULT) {
		memcpy((void *)dst, src, n);
		return true;
	}
	return false;
}

/* The guest copy of USERPTR memory [uptr, uptr+len): reused for the same
 * pointer, length and shape, else created.  Returns its index or -errno. */
static int umap_get(struct vmedia_guest *g, uintptr_t uptr, uint32_t len, uint32_t max_entries)
{
	uint32_t mode = g->shape.sg_segments;
	for (uint32_t i = 0; i < g->numaps; i++) {
		struct vmedia_guest_umap *m = &g->umaps[i];
		if (m->uptr == uptr && m->len == len && m->mode == mode)
			return (int)i;
	}
	uint32_t n = plan_pieces(g, uptr, len, max_entries, g_pieces(g));
	if (!n)
		return -ENOMEM;
	if (g->numaps == g->umaps_cap) {
		uint32_t cap = g->umaps_cap ? 2 * g->umaps_cap : 16;
		void *p = realloc(g->umaps, cap * sizeof(*g->umaps));
		if (!p)
			return -ENOMEM;
		g->umaps = p;
		g->umaps_cap = cap;
	}
	struct vmedia_guest_umap m = { .uptr = uptr, .len = len, .mode = mode, .n = n };
	m.gpa = calloc(n, sizeof(*m.gpa));
	m.plen = calloc(n, sizeof(*m.plen));
	if (!m.gpa || !m.plen)
		goto nomem;
	for (uint32_t i = 0; i < n; i++) {
		/* A gap before every piece but the first keeps the pieces
		 * apart in guest-physical (and so host) memory. */
		if (i && !vq_fake_alloc(&g->cmdq, 1))
			goto nomem;
		m.plen[i] = g_pieces(g)[i].len;
		m.gpa[i] = vq_fake_alloc(&g->cmdq, m.plen[i]);
		if (!m.gpa[i])
			goto nomem;
	}
	g->umaps[g->numaps] = m;
	return (int)g->numaps++;
nomem:
	free(m.gpa);
	free(m.plen);
	return -ENOMEM;
}

/* USERPTR memory into the chain: copy it to its guest copy, add its SG list.
 * Returns the mapping index + 1, or 0 with b->err set. */
static uint32_t add_userptr(struct vmedia_guest *g, struct gb *b, uintptr_t uptr, uint32_t len)
{
	if (b->err)
		return 0;
	if (!uptr) {
		b->err = -EINVAL; /* vb2_create_framevec fails; the driver says EINVAL */
		return 0;
	}
	if (!user_readable(uptr, len)) {
		b->err = -EFAULT; /* get_user_pages finds no pages there */
		return 0;
	}
	int mi = umap_get(g, uptr, len, (uint32_t)(SG_MAX_ENTRIES - b->sg_used));
	if (mi < 0) {
		b->err = mi;
		return 0;
	}
	struct vmedia_guest_umap *m = &g->umaps[mi];
	struct piece *p = g_pieces(g);
	size_t off = 0;
	for (uint32_t i = 0; i < m->n; i++) {
		vq_fake_write_mem(&g->cmdq, m->gpa[i], (const uint8_t *)uptr + off, m->plen[i]);
		p[i] = (struct piece){ .gpa = m->gpa[i], .user = NULL, .len = m->plen[i] };
		off += m->plen[i];
	}
	add_sg_list(g, b, p, m->n);
	return b->err ? 0 : (uint32_t)mi + 1;
}

/* The device wrote the user's pages: copy the guest copy back. */
static void umap_copy_back(struct vmedia_guest *g, uint32_t mi1)
{
	if (!mi1 || mi1 > g->numaps)
		return;
	struct vmedia_guest_umap *m = &g->umaps[mi1 - 1];
	size_t off = 0;
	for (uint32_t i = 0; i < m->n; i++) {
		const void *host = vq_fake_host(&g->cmdq, m->gpa[i], m->plen[i]);
		if (host) {
			if (!user_write(m->uptr + off, host, m->plen[i]))
				return;
		} else {
			/* The piece straddles two regions: bounce it. */
			uint8_t bounce[1024];
			for (uint32_t o = 0; o < m->plen[i]; o += (uint32_t)sizeof(bounce)) {
				uint32_t k = m->plen[i] - o < sizeof(bounce) ? m->plen[i] - o
									   : (uint32_t)sizeof(bounce);
				vq_fake_read_mem(&g->cmdq, m->gpa[i] + o, bounce, k);
				if (!user_write(m->uptr + off + o, bounce, k))
					return;
			}
		}
		off += m->plen[i];
	}
}

/* Ext-control memory into the chain (data area, reset per command). */
static void add_ctrl_ptr(struct vmedia_guest *g, struct gb *b, uint8_t *ptr, uint32_t len)
{
	if (b->err)
		return;
	if (!ptr) {
		b->err = -EINVAL;
		return;
	}
	/* Every piece is one SG entry: the shadow bounds both. */
	uint32_t used = b->sg_used > b->npieces ? b->sg_used : b->npieces;
	struct piece *p = g_pieces(g) + b->npieces;
	uint32_t n = plan_pieces(g, (uintptr_t)ptr, len, (uint32_t)(SG_MAX_ENTRIES - used), p);
	if (!n) {
		b->err = -ENOMEM;
		return;
	}
	uint32_t off = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t at = (b->data_used + 15u) & ~15u;
		if (i)
			at += 16; /* keep pieces apart */
		if (at > g->a_data.size || p[i].len > g->a_data.size - at) {
			b->err = -ENOMEM;
			return;
		}
		memcpy(g->a_data.host + at, ptr + off, p[i].len);
		p[i].gpa = g->a_data.gpa + at;
		p[i].user = ptr + off;
		off += p[i].len;
		b->data_used = at + p[i].len;
	}
	add_sg_list(g, b, p, n);
	b->npieces += n;
}

static void ctrl_copy_back(struct vmedia_guest *g, const struct gb *b)
{
	const struct piece *p = g_pieces(g);
	for (unsigned i = 0; i < b->npieces; i++)
		memcpy(p[i].user, g->a_data.host + (p[i].gpa - g->a_data.gpa), p[i].len);
}

/* ------------------------------------------------------------------------ */
/* Init / destroy. */

static int post_event_buf(struct vmedia_guest *g, uint32_t i)
{
	void *host = vq_fake_host(&g->eventq, g->evbuf_gpa[i], VMEDIA_EVENTQ_BUF_SIZE);
	if (host)
		memset(host, EVT_POISON, VMEDIA_EVENTQ_BUF_SIZE);
	struct vq_fake_buf b = { g->evbuf_gpa[i], VMEDIA_EVENTQ_BUF_SIZE, true };
	int head = vq_fake_add(&g->eventq, &b, 1, 0);
	if (head < 0)
		return head;
	g->ev_head_buf[head] = (int32_t)i;
	return 0;
}

int vmedia_guest_init(struct vmedia_guest *g, const struct vmedia_guest_config *cfg)
{
	memset(g, 0, sizeof(*g));
	uint32_t cq = cfg->cmdq_size ? cfg->cmdq_size : VMEDIA_GUEST_CMDQ_SIZE;
	uint32_t eq = cfg->eventq_size ? cfg->eventq_size : VMEDIA_GUEST_EVENTQ_SIZE;
	uint32_t nev = cfg->event_bufs ? cfg->event_bufs : VMEDIA_GUEST_EVENT_BUFS;
	if (!vq_size_valid(cq) || !vq_size_valid(eq) || nev > eq)
		return -EINVAL;
	g->transport = cfg->transport;
	g->config = cfg->config;
	g->driver_name = cfg->driver_name ? cfg->driver_name : "virtio-media";
	g->flags = cfg->flags;
	g->timeout_ms = cfg->timeout_ms;
	g->allow_userptr = cfg->allow_userptr;
	g->shm = cfg->shm;
	g->shm_size = cfg->shm ? cfg->shm_size : 0;
	g->max_sessions = cfg->max_sessions ? cfg->max_sessions : 32;
	g->event_bufs = nev;

	size_t region = cfg->mem_size ? cfg->mem_size : (8u << 20);
	unsigned nregions = cfg->nregions ? cfg->nregions : 1;
	int r = vq_fake_init(&g->cmdq, &(struct vq_fake_config){
		.size = cq, .features = cfg->cmdq_features, .gpa_base = cfg->gpa_base,
		.region_size = region, .nregions = nregions });
	if (r)
		return r;
	/* Eventq memory after commandq memory, with a hole between, so a
	 * device that reads an address through the wrong queue's memory
	 * faults instead of reading the wrong bytes. */
	size_t ao, uo;
	size_t ev_region = vq_legacy_layout(eq, PAGE, &ao, &uo) + (size_t)nev * 640 + 2 * PAGE;
	ev_region = (ev_region + PAGE - 1) & ~(size_t)(PAGE - 1);
	uint64_t ev_base = g->cmdq.gpa_base + (uint64_t)nregions * region + (1u << 20);
	r = vq_fake_init(&g->eventq, &(struct vq_fake_config){
		.size = eq, .features = cfg->eventq_features, .gpa_base = ev_base,
		.region_size = ev_region, .nregions = 1 });
	if (r) {
		vq_fake_destroy(&g->cmdq);
		return r;
	}

	vq_mem_init(&g->mem);
	const struct vq_mem *mems[2] = { &g->cmdq.mem, &g->eventq.mem };
	for (unsigned k = 0; k < 2; k++)
		for (unsigned i = 0; !r && i < mems[k]->nregions; i++)
			r = vq_mem_add_region(&g->mem, mems[k]->regions[i].gpa,
					      mems[k]->regions[i].size, mems[k]->regions[i].host);

	size_t data = cfg->ctrl_data_size ? cfg->ctrl_data_size : (256u << 10);
	if (!r && data > UINT32_MAX / 2)
		r = -EINVAL;
	if (!r)
		r = alloc_area(&g->cmdq, 32, &g->a_cmd);
	if (!r)
		r = alloc_area(&g->cmdq, 32, &g->a_resp);
	if (!r)
		r = alloc_area(&g->cmdq, PAYLOAD_AREA, &g->a_payload);
	if (!r)
		r = alloc_area(&g->cmdq, VIDEO_MAX_PLANES * sizeof(struct v4l2_plane), &g->a_planes);
	if (!r)
		r = alloc_area(&g->cmdq, VMEDIA_GUEST_MAX_CTRLS * sizeof(struct v4l2_ext_control),
			       &g->a_ctrls);
	if (!r)
		r = alloc_area(&g->cmdq, sizeof(g->uuids), &g->a_uuid);
	if (!r)
		r = alloc_area(&g->cmdq, VMEDIA_GUEST_SHADOW_SIZE, &g->a_sg);
	if (!r)
		r = alloc_area(&g->cmdq, (uint32_t)data, &g->a_data);
	if (!r)
		r = alloc_area(&g->cmdq, RAW_AREA, &g->a_raw);

	g->bufs_cap = cq;
	g->bufs = calloc(cq, sizeof(*g->bufs));
	g->pieces = calloc(SG_MAX_ENTRIES, sizeof(struct piece));
	g->sessions = calloc(g->max_sessions, sizeof(*g->sessions));
	g->evbuf_gpa = calloc(nev, sizeof(*g->evbuf_gpa));
	g->ev_head_buf = calloc(eq, sizeof(*g->ev_head_buf));
	if (!r && (!g->bufs || !g->pieces || !g->sessions || !g->evbuf_gpa || !g->ev_head_buf))
		r = -ENOMEM;
	for (uint32_t i = 0; !r && i < eq; i++)
		g->ev_head_buf[i] = -1;
	for (uint32_t i = 0; !r && i < nev; i++) {
		g->evbuf_gpa[i] = vq_fake_alloc(&g->eventq, VMEDIA_EVENTQ_BUF_SIZE);
		if (!g->evbuf_gpa[i])
			r = -ENOMEM;
		else
			r = post_event_buf(g, i);
	}
	if (r) {
		vmedia_guest_destroy(g);
		return r;
	}
	vq_fake_publish(&g->eventq);
	return 0;
}

void vmedia_guest_destroy(struct vmedia_guest *g)
{
	if (g->sessions)
		for (uint32_t i = 0; i < g->max_sessions; i++)
			session_release(&g->sessions[i]);
	for (uint32_t i = 0; i < g->numaps; i++) {
		free(g->umaps[i].gpa);
		free(g->umaps[i].plen);
	}
	free(g->umaps);
	free(g->maps);
	free(g->sessions);
	free(g->bufs);
	free(g->pieces);
	free(g->evbuf_gpa);
	free(g->ev_head_buf);
	vq_fake_destroy(&g->cmdq);
	vq_fake_destroy(&g->eventq);
	memset(g, 0, sizeof(*g));
}

void vmedia_guest_set_transport(struct vmedia_guest *g, const struct vmedia_guest_transport *t)
{
	g->transport = *t;
}

/* ------------------------------------------------------------------------ */
/* OPEN / CLOSE. */

int vmedia_guest_open(struct vmedia_guest *g, uint32_t *session_id)
{
	struct vmedia_guest_session *slot = NULL;
	for (uint32_t i = 0; i < g->max_sessions && !slot; i++)
		if (g->sessions[i].state == S_FREE)
			slot = &g->sessions[i];
	if (!slot)
		return -EMFILE;

	struct vmedia_cmd_open c = { .hdr.cmd = vq_to_le32(VMEDIA_CMD_OPEN) };
	memcpy(g->a_cmd.host, &c, sizeof(c));
	struct gb b;
	gb_init(&b);
	gb_add_area(&b, &g->a_cmd, sizeof(c), false);
	gb_add_area(&b, &g->a_resp, sizeof(struct vmedia_resp_open), true);
	uint32_t used;
	int r = run(g, &b, &used);
	if (!r)
		r = resp_check(g, used, sizeof(struct vmedia_resp_open));
	if (r)
		return r;
	struct vmedia_resp_open resp;
	memcpy(&resp, g->a_resp.host, sizeof(resp));
	uint32_t id = vq_from_le32(resp.session_id);
	if (find_state(g, id, S_OPEN)) {
		g->stats.dup_session_id++;
		return -EPROTO;
	}
	/* The device may reuse the id of a session it saw CLOSEd after an
	 * ERROR event; the model's record of that session goes. */
	struct vmedia_guest_session *zombie = find_state(g, id, S_ERRORED);
	if (zombie)
		session_release(zombie);
	memset(slot, 0, sizeof(*slot));
	slot->id = id;
	slot->state = S_OPEN;
	*session_id = id;
	return 0;
}

static int send_close(struct vmedia_guest *g, uint32_t id)
{
	struct vmedia_cmd_close c = {
		.hdr.cmd = vq_to_le32(VMEDIA_CMD_CLOSE),
		.session_id = vq_to_le32(id),
	};
	memcpy(g->a_cmd.host, &c, sizeof(c));
	struct gb b;
	gb_init(&b);
	gb_add_area(&b, &g->a_cmd, sizeof(c), false);
	return run(g, &b, NULL);
}

int vmedia_guest_close(struct vmedia_guest *g, uint32_t session_id)
{
	struct vmedia_guest_session *s = find_session(g, session_id);
	if (!s)
		return -EBADF;
	if (s->state == S_OPEN) {
		int r = send_close(g, session_id);
		if (r)
			return r;
	}
	session_release(s);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* IOCTL: plain payloads. */

/* One struct, in whichever parts @dir says (_IOC_READ / _IOC_WRITE bits). */
static int send_plain(struct vmedia_guest *g, struct vmedia_guest_session *s,
		      unsigned long request, void *arg, unsigned dir)
{
	uint32_t size = (uint32_t)_IOC_SIZE(request);
	struct gb b;
	gb_init(&b);
	put_ioctl_cmd(g, s->id, request);
	gb_add_area(&b, &g->a_cmd, sizeof(struct vmedia_cmd_ioctl), false);
	if (dir & _IOC_WRITE) {
		if (size)
			memcpy(g->a_payload.host, arg, size);
		gb_add_area(&b, &g->a_payload, size, false);
	} else {
		/* video_usercopy zeroes the kernel copy of an _IOR payload. */
		memset(g->a_payload.host, 0, size);
	}
	gb_add_area(&b, &g->a_resp, sizeof(struct vmedia_resp_ioctl), true);
	if (dir & _IOC_READ)
		gb_add_area(&b, &g->a_payload, size, true);
	uint32_t used;
	int r = run(g, &b, &used);
	if (!r)
		r = resp_check(g, used,
			       sizeof(struct vmedia_resp_ioctl) + ((dir & _IOC_READ) ? size : 0));
	if (!r && (dir & _IOC_READ) && size)
		memcpy(arg, g->a_payload.host, size);
	return r;
}

static struct gqueue *queue_of(struct vmedia_guest_session *s, uint32_t type)
{
	return type < VMEDIA_GUEST_NUM_QUEUES ? &s->q[type] : NULL;
}

static bool checks(const struct vmedia_guest *g)
{
	return !(g->flags & VMEDIA_GUEST_F_NO_CHECKS);
}

/*
 * Before STREAMON, STREAMOFF and REQBUFS (the last two clear the queue):
 * the driver's interrupt handler has long taken every event the device sent
 * before the application could send the command, so a DQBUF event sent
 * earlier is pending now and goes with the clear, instead of being read
 * afterwards and taken for a buffer of the next stream.
 * Returns 0, or -EIO if an ERROR event closed the session.
 */
static int drain_before_clear(struct vmedia_guest *g, struct vmedia_guest_session *s)
{
	vmedia_guest_poll_events(g);
	return s->state == S_OPEN ? 0 : -EIO;
}

static int reqbufs(struct vmedia_guest *g, struct vmedia_guest_session *s, unsigned long request,
		   struct v4l2_requestbuffers *rb)
{
	if (checks(g)) {
		if (rb->type >= VMEDIA_GUEST_NUM_QUEUES)
			return -EINVAL;
		if (rb->memory == V4L2_MEMORY_USERPTR && !g->allow_userptr)
			return -EINVAL;
	}
	int r = drain_before_clear(g, s);
	if (r)
		return r;
	r = send_plain(g, s, request, rb, _IOC_READ | _IOC_WRITE);
	if (r)
		return r;
	struct gqueue *q = queue_of(s, rb->type);
	if (q) {
		if (rb->count == 0)
			queue_clear(q); /* REQBUFS(0) is an implicit STREAMOFF */
		r = queue_resize(q, rb->count, false);
		if (r)
			return r;
		if (type_mplane(rb->type))
			s->uses_mplane = true;
	}
	if (!g->allow_userptr)
		rb->capabilities &= ~V4L2_BUF_CAP_SUPPORTS_USERPTR;
	rb->capabilities &= ~V4L2_BUF_CAP_SUPPORTS_DMABUF;
	return 0;
}

static int create_bufs(struct vmedia_guest *g, struct vmedia_guest_session *s,
		       unsigned long request, struct v4l2_create_buffers *cb)
{
	uint32_t type = cb->format.type;
	if (checks(g) && type >= VMEDIA_GUEST_NUM_QUEUES)
		return -EINVAL;
	int r = send_plain(g, s, request, cb, _IOC_READ | _IOC_WRITE);
	if (r || cb->count == 0)
		return r;
	struct gqueue *q = queue_of(s, type);
	if (!q)
		return 0;
	uint64_t n = (uint64_t)cb->index + cb->count;
	if (n > MAX_BUFS)
		return -ENOMEM;
	/* A device answering with an index below what exists would make the
	 * driver's memcpy overflow; never shrink. */
	return queue_resize(q, n > q->allocated ? (uint32_t)n : q->allocated, true);
}

static int stream(struct vmedia_guest *g, struct vmedia_guest_session *s, unsigned long request,
		  int *type, bool on)
{
	if (checks(g) && (uint32_t)*type >= VMEDIA_GUEST_NUM_QUEUES)
		return -EINVAL;
	int r = drain_before_clear(g, s);
	if (r)
		return r;
	r = send_plain(g, s, request, type, _IOC_DIR(request));
	if (r)
		return r;
	struct gqueue *q = queue_of(s, (uint32_t)*type);
	if (q) {
		if (on)
			q->streaming = true;
		else
			queue_clear(q);
	}
	return 0;
}

static int decoder_cmd(struct vmedia_guest *g, struct vmedia_guest_session *s,
		       unsigned long request, struct v4l2_decoder_cmd *dc)
{
	int r = send_plain(g, s, request, dc, _IOC_DIR(request));
	if (!r && dc->cmd == V4L2_DEC_CMD_START) {
		s->q[V4L2_BUF_TYPE_VIDEO_CAPTURE].capture_last = false;
		s->q[V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE].capture_last = false;
	}
	return r;
}

/* ------------------------------------------------------------------------ */
/* Event subscriptions (v4l2-event.c, one event per subscription). */

static struct gsub *sub_find(struct vmedia_guest_session *s, uint32_t type, uint32_t id)
{
	for (uint32_t i = 0; i < s->nsubs; i++)
		if (s->subs[i].type == type && s->subs[i].id == id)
			return &s->subs[i];
	return NULL;
}

static void sub_remove(struct vmedia_guest_session *s, struct gsub *sub)
{
	if (sub->pending)
		s->navailable--;
	*sub = s->subs[--s->nsubs];
}

static int subscribe(struct vmedia_guest *g, struct vmedia_guest_session *s,
		     unsigned long request, struct v4l2_event_subscription *sub)
{
	bool added = false;
	if (sub->type == V4L2_EVENT_ALL) {
		if (checks(g))
			return -EINVAL;
	} else if (!sub_find(s, sub->type, sub->id)) {
		if (s->nsubs == VMEDIA_GUEST_MAX_SUBS)
			return -ENOMEM;
		s->subs[s->nsubs++] = (struct gsub){ .type = sub->type, .id = sub->id };
		added = true;
	}
	int r = send_plain(g, s, request, sub, _IOC_DIR(request));
	if (r) {
		struct gsub *ns = added ? sub_find(s, sub->type, sub->id) : NULL;
		if (ns)
			sub_remove(s, ns);
		return r;
	}
	/* The event may have been signalled at once. */
	if (sub->flags & V4L2_EVENT_SUB_FL_SEND_INITIAL)
		vmedia_guest_poll_events(g);
	return 0;
}

static int unsubscribe(struct vmedia_guest *g, struct vmedia_guest_session *s,
		       unsigned long request, struct v4l2_event_subscription *sub)
{
	int r = send_plain(g, s, request, sub, _IOC_DIR(request));
	if (r)
		return r;
	if (sub->type == V4L2_EVENT_ALL) {
		s->nsubs = 0;
		s->navailable = 0;
	} else {
		struct gsub *e = sub_find(s, sub->type, sub->id);
		if (e)
			sub_remove(s, e);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* IOCTL: v4l2_buffer. */

/* Put the recorded user pointer and length of plane @i of @gb into the
 * answer (@b, or the caller's @planes if @mp); without a pointer on
 * record, the pointer is 0 and the length the device's. */
static void report_user(const struct gbuf *gb, bool mp, struct v4l2_buffer *b,
			struct v4l2_plane *planes, uint32_t nplanes, uint32_t i)
{
	unsigned long ptr = gb->user[i].ptr;
	uint32_t len = gb->user[i].len;
	if (!mp) {
		if (i)
			return;
		b->m.userptr = ptr;
		if (ptr)
			b->length = len;
	} else if (i < nplanes && i < b->length) {
		planes[i].m.userptr = ptr;
		if (ptr)
			planes[i].length = len;
	}
}

static int buffer_ioctl(struct vmedia_guest *g, struct vmedia_guest_session *s,
			unsigned long request, struct v4l2_buffer *b)
{
	bool is_q = request == VIDIOC_QBUF, is_prep = request == VIDIOC_PREPARE_BUF;
	if (checks(g) && b->type >= VMEDIA_GUEST_NUM_QUEUES)
		return -EINVAL;
	bool mp = type_mplane(b->type);
	uint32_t nplanes = mp ? b->length : 0;
	struct v4l2_plane *planes = mp ? b->m.planes : NULL;
	/* video_usercopy's array checks come before the driver. */
	if (nplanes > VIDEO_MAX_PLANES)
		return -EINVAL;
	if (nplanes && !planes)
		return -EFAULT;

	struct gqueue *q = queue_of(s, b->type);
	struct gbuf *gbuf = NULL;
	if (is_q || is_prep) {
		if (q && b->index < q->allocated)
			gbuf = &q->bufs[b->index];
		else if (checks(g))
			return -EINVAL;
	}
	uint32_t old_flags = 0;
	/* QBUF of a prepared buffer: a plane sent without user memory keeps
	 * the prepared memory (vb2 does not look at it again). */
	bool prepared = is_q && gbuf && (gbuf->b.flags & V4L2_BUF_FLAG_PREPARED);
	if (gbuf) {
		/* Keep m for DQBUF time, unless QBUF follows a PREPARE_BUF. */
		if (is_prep || !(gbuf->b.flags & V4L2_BUF_FLAG_PREPARED)) {
			gbuf->b.m = b->m;
			for (uint32_t i = 0; i < nplanes; i++)
				gbuf->planes[i].m = planes[i].m;
		}
		if (is_q) {
			old_flags = gbuf->b.flags;
			gbuf->b.flags = V4L2_BUF_FLAG_QUEUED;
		}
	}

	/* The wire copy, with the driver's fixups: no USERPTR memory, no length. */
	struct v4l2_buffer wb = *b;
	if (!mp && wb.memory == V4L2_MEMORY_USERPTR && wb.m.userptr == 0)
		wb.length = 0;
	if (mp)
		wb.m.userptr = (unsigned long)VMEDIA_GUEST_PTR_PLACEHOLDER;
	memcpy(g->a_payload.host, &wb, sizeof(wb));
	struct v4l2_plane *wp = (struct v4l2_plane *)(void *)g->a_planes.host;
	if (nplanes) {
		memcpy(wp, planes, nplanes * sizeof(*wp));
		if (wb.memory == V4L2_MEMORY_USERPTR)
			for (uint32_t i = 0; i < nplanes; i++)
				if (wp[i].m.userptr == 0)
					wp[i].length = 0;
	}
	/* The user memory as sent, per plane ([0] single-planar). */
	bool user = wb.memory == V4L2_MEMORY_USERPTR;
	uint32_t nuser = user ? (mp ? nplanes : 1) : 0;
	unsigned long sent_ptr[VIDEO_MAX_PLANES] = { 0 };
	uint32_t sent_len[VIDEO_MAX_PLANES] = { 0 };
	for (uint32_t i = 0; i < nuser; i++) {
		sent_ptr[i] = mp ? wp[i].m.userptr : wb.m.userptr;
		sent_len[i] = mp ? wp[i].length : wb.length;
	}
	uint32_t nuuid = wb.memory == V4L2_MEMORY_DMABUF ? (mp ? nplanes : 1) : 0;
	if (nuuid)
		memcpy(g->a_uuid.host, g->uuids, nuuid * VMEDIA_UUID_SIZE);

	struct gb c;
	gb_init(&c);
	put_ioctl_cmd(g, s->id, request);
	gb_add_area(&c, &g->a_cmd, sizeof(struct vmedia_cmd_ioctl), false);
	gb_add_area(&c, &g->a_payload, sizeof(wb), false);
	gb_add_area(&c, &g->a_planes, nplanes * (uint32_t)sizeof(*wp), false);
	gb_add_area(&c, &g->a_uuid, nuuid * VMEDIA_UUID_SIZE, false);
	unsigned end_buf = c.n;
	uint32_t umap[VIDEO_MAX_PLANES] = { 0 };
	if (wb.memory == V4L2_MEMORY_USERPTR) {
		if (mp) {
			for (uint32_t i = 0; i < nplanes; i++)
				if (wp[i].length > 0)
					umap[i] = add_userptr(g, &c, (uintptr_t)wp[i].m.userptr,
							      wp[i].length);
		} else if (wb.length > 0) {
			umap[0] = add_userptr(g, &c, (uintptr_t)wb.m.userptr, wb.length);
		}
	}
	gb_add_area(&c, &g->a_resp, sizeof(struct vmedia_resp_ioctl), true);
	for (unsigned i = 1; i < end_buf; i++)
		gb_add(&c, c.d[i].gpa, c.d[i].len, true);

	uint32_t used;
	int r = run(g, &c, &used);
	if (!r)
		r = resp_check(g, used, sizeof(struct vmedia_resp_ioctl) + sizeof(wb));
	struct v4l2_buffer out;
	memcpy(&out, g->a_payload.host, sizeof(out));
	/* More planes than the caller has room for: the driver fails. */
	if (!r && mp && out.length > nplanes)
		r = -ENOSPC;
	if (r) {
		if (is_q && gbuf)
			gbuf->b.flags = old_flags;
		return r;
	}
	if (mp) {
		if (out.m.userptr != (unsigned long)VMEDIA_GUEST_PTR_PLACEHOLDER)
			g->stats.ptr_clobbered++;
		out.m.planes = planes;
	} else if (wb.memory == V4L2_MEMORY_USERPTR && out.m.userptr != wb.m.userptr) {
		g->stats.ptr_clobbered++;
	}
	*b = out;
	if (nplanes)
		memcpy(planes, wp, nplanes * sizeof(*wp));
	if (nuuid)
		memcpy(g->uuids, g->a_uuid.host, nuuid * VMEDIA_UUID_SIZE);

	if (gbuf) {
		for (uint32_t i = 0; i < VIDEO_MAX_PLANES; i++) {
			if (prepared && i < nuser && !sent_ptr[i]) {
				/* The prepared memory stays, and is what QBUF reports. */
				report_user(gbuf, mp, b, planes, nplanes, i);
				continue;
			}
			gbuf->umap[i] = umap[i];
			gbuf->user[i].ptr = i < nuser ? sent_ptr[i] : 0;
			gbuf->user[i].len = i < nuser ? sent_len[i] : 0;
		}
		if (is_q)
			q->queued++;
		else
			gbuf->b.flags = V4L2_BUF_FLAG_PREPARED;
	} else if (request == VIDIOC_QUERYBUF) {
		if (!q || b->index >= q->allocated)
			return checks(g) ? -EINVAL : 0; /* the driver checks after the device said yes */
		struct gbuf *qb = &q->bufs[b->index];
		b->flags |= qb->b.flags & V4L2_BUF_FLAG_DONE;
		/* vb2 reports the pointer and length it holds, not the
		 * caller's (which the device echoes). */
		if (b->memory == V4L2_MEMORY_USERPTR)
			for (uint32_t i = 0; i < (mp ? nplanes : 1); i++)
				report_user(qb, mp, b, planes, nplanes, i);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* IOCTL: v4l2_ext_controls. */

static int ext_ctrls(struct vmedia_guest *g, struct vmedia_guest_session *s,
		     unsigned long request, struct v4l2_ext_controls *ec)
{
	uint32_t count = ec->count;
	struct v4l2_ext_control *ctrls = ec->controls;
	if (count > VMEDIA_GUEST_MAX_CTRLS)
		return -EINVAL;
	if (count && !ctrls)
		return -EFAULT;

	struct v4l2_ext_controls wc = *ec;
	wc.controls = (struct v4l2_ext_control *)(uintptr_t)VMEDIA_GUEST_PTR_PLACEHOLDER;
	memcpy(g->a_payload.host, &wc, sizeof(wc));
	uint32_t clen = count * (uint32_t)sizeof(*ctrls);
	if (clen)
		memcpy(g->a_ctrls.host, ctrls, clen);

	struct gb c;
	gb_init(&c);
	put_ioctl_cmd(g, s->id, request);
	gb_add_area(&c, &g->a_cmd, sizeof(struct vmedia_cmd_ioctl), false);
	gb_add_area(&c, &g->a_payload, sizeof(wc), false);
	gb_add_area(&c, &g->a_ctrls, clen, false);
	unsigned end = c.n;
	for (uint32_t i = 0; i < count; i++)
		if (ctrls[i].size > 0)
			add_ctrl_ptr(g, &c, ctrls[i].ptr, ctrls[i].size);
	gb_add_area(&c, &g->a_resp, sizeof(struct vmedia_resp_ioctl), true);
	for (unsigned i = 1; i < end; i++)
		gb_add(&c, c.d[i].gpa, c.d[i].len, true);

	uint32_t used;
	int r = run(g, &c, &used);
	if (r)
		return r;
	/* The device had the chain: it wrote the user's memory directly. */
	ctrl_copy_back(g, &c);
	/* The driver looks at the count in its (shared) copy first. */
	struct v4l2_ext_controls out;
	memcpy(&out, g->a_payload.host, sizeof(out));
	if (out.count > count)
		return -ENOSPC;
	r = resp_check(g, used, sizeof(struct vmedia_resp_ioctl) + sizeof(wc));
	/* The payload comes back on error too, if it is all there
	 * (INFO_FL_ALWAYS_COPY: error_idx matters). */
	if (r && used < sizeof(struct vmedia_resp_ioctl) + sizeof(wc))
		return r;
	if ((uintptr_t)out.controls != (uintptr_t)VMEDIA_GUEST_PTR_PLACEHOLDER)
		g->stats.ptr_clobbered++;
	out.controls = ctrls;
	*ec = out;
	struct v4l2_ext_control *dev = (struct v4l2_ext_control *)(void *)g->a_ctrls.host;
	for (uint32_t i = 0; i < out.count; i++) {
		void *uptr = ctrls[i].size > 0 ? ctrls[i].ptr : NULL;
		uint32_t was = ctrls[i].size;
		memcpy(&ctrls[i], &dev[i], sizeof(ctrls[i]));
		/* Give the caller its pointers back, whatever came over the wire. */
		if (was > 0) {
			if (ctrls[i].ptr != uptr)
				g->stats.ptr_clobbered++;
			ctrls[i].ptr = uptr;
		}
	}
	return r;
}

/* EXPBUF: v4l2_exportbuffer then a 16-byte UUID, in both parts (PROTOCOL.md;
 * no driver implements it). */
static int expbuf(struct vmedia_guest *g, struct vmedia_guest_session *s,
		  unsigned long request, struct v4l2_exportbuffer *e)
{
	uint32_t size = (uint32_t)_IOC_SIZE(request);
	memcpy(g->a_payload.host, e, size);
	memcpy(g->a_uuid.host, g->uuids[0], VMEDIA_UUID_SIZE);
	struct gb c;
	gb_init(&c);
	put_ioctl_cmd(g, s->id, request);
	gb_add_area(&c, &g->a_cmd, sizeof(struct vmedia_cmd_ioctl), false);
	gb_add_area(&c, &g->a_payload, size, false);
	gb_add_area(&c, &g->a_uuid, VMEDIA_UUID_SIZE, false);
	gb_add_area(&c, &g->a_resp, sizeof(struct vmedia_resp_ioctl), true);
	gb_add_area(&c, &g->a_payload, size, true);
	gb_add_area(&c, &g->a_uuid, VMEDIA_UUID_SIZE, true);
	uint32_t used;
	int r = run(g, &c, &used);
	if (!r)
		r = resp_check(g, used, sizeof(struct vmedia_resp_ioctl) + size + VMEDIA_UUID_SIZE);
	if (!r) {
		memcpy(e, g->a_payload.host, size);
		memcpy(g->uuids[0], g->a_uuid.host, VMEDIA_UUID_SIZE);
	}
	return r;
}

static int querycap(struct vmedia_guest *g, struct v4l2_capability *cap)
{
	uint32_t caps = vq_from_le32(g->config.device_caps);
	memset(cap, 0, sizeof(*cap));
	copy_str((char *)cap->driver, sizeof(cap->driver), g->driver_name);
	memcpy(cap->card, g->config.card, sizeof(cap->card));
	copy_str((char *)cap->bus_info, sizeof(cap->bus_info), "platform:virtio-media");
	/* v4l_querycap: the core sets the version and adds EXT_PIX_FORMAT. */
	cap->version = LINUX_VERSION_CODE;
	cap->device_caps = caps | V4L2_CAP_EXT_PIX_FORMAT;
	cap->capabilities = caps | V4L2_CAP_DEVICE_CAPS | V4L2_CAP_EXT_PIX_FORMAT;
	return 0;
}

/*
 * video_ioctl2 knows one request per number (v4l2_ioctls[], indexed by
 * _IOC_NR) and matches it whole: the same number with another size,
 * direction or type is ENOTTY, and never reaches the driver.
 */
#define K(r) [_IOC_NR(r)] = (r)
static const unsigned long vidioc_by_nr[] = {
	K(VIDIOC_QUERYCAP), K(VIDIOC_ENUM_FMT), K(VIDIOC_G_FMT), K(VIDIOC_S_FMT),
	K(VIDIOC_REQBUFS), K(VIDIOC_QUERYBUF), K(VIDIOC_G_FBUF), K(VIDIOC_S_FBUF),
	K(VIDIOC_OVERLAY), K(VIDIOC_QBUF), K(VIDIOC_EXPBUF), K(VIDIOC_DQBUF),
	K(VIDIOC_STREAMON), K(VIDIOC_STREAMOFF), K(VIDIOC_G_PARM), K(VIDIOC_S_PARM),
	K(VIDIOC_G_STD), K(VIDIOC_S_STD), K(VIDIOC_ENUMSTD), K(VIDIOC_ENUMINPUT),
	K(VIDIOC_G_CTRL), K(VIDIOC_S_CTRL), K(VIDIOC_G_TUNER), K(VIDIOC_S_TUNER),
	K(VIDIOC_G_AUDIO), K(VIDIOC_S_AUDIO), K(VIDIOC_QUERYCTRL), K(VIDIOC_QUERYMENU),
	K(VIDIOC_G_INPUT), K(VIDIOC_S_INPUT), K(VIDIOC_G_EDID), K(VIDIOC_S_EDID),
	K(VIDIOC_G_OUTPUT), K(VIDIOC_S_OUTPUT), K(VIDIOC_ENUMOUTPUT), K(VIDIOC_G_AUDOUT),
	K(VIDIOC_S_AUDOUT), K(VIDIOC_G_MODULATOR), K(VIDIOC_S_MODULATOR),
	K(VIDIOC_G_FREQUENCY), K(VIDIOC_S_FREQUENCY), K(VIDIOC_CROPCAP), K(VIDIOC_G_CROP),
	K(VIDIOC_S_CROP), K(VIDIOC_G_JPEGCOMP), K(VIDIOC_S_JPEGCOMP), K(VIDIOC_QUERYSTD),
	K(VIDIOC_TRY_FMT), K(VIDIOC_ENUMAUDIO), K(VIDIOC_ENUMAUDOUT), K(VIDIOC_G_PRIORITY),
	K(VIDIOC_S_PRIORITY), K(VIDIOC_G_SLICED_VBI_CAP), K(VIDIOC_LOG_STATUS),
	K(VIDIOC_G_EXT_CTRLS), K(VIDIOC_S_EXT_CTRLS), K(VIDIOC_TRY_EXT_CTRLS),
	K(VIDIOC_ENUM_FRAMESIZES), K(VIDIOC_ENUM_FRAMEINTERVALS), K(VIDIOC_G_ENC_INDEX),
	K(VIDIOC_ENCODER_CMD), K(VIDIOC_TRY_ENCODER_CMD), K(VIDIOC_DBG_S_REGISTER),
	K(VIDIOC_DBG_G_REGISTER), K(VIDIOC_S_HW_FREQ_SEEK), K(VIDIOC_S_DV_TIMINGS),
	K(VIDIOC_G_DV_TIMINGS), K(VIDIOC_DQEVENT), K(VIDIOC_SUBSCRIBE_EVENT),
	K(VIDIOC_UNSUBSCRIBE_EVENT), K(VIDIOC_CREATE_BUFS), K(VIDIOC_PREPARE_BUF),
	K(VIDIOC_G_SELECTION), K(VIDIOC_S_SELECTION), K(VIDIOC_DECODER_CMD),
	K(VIDIOC_TRY_DECODER_CMD), K(VIDIOC_ENUM_DV_TIMINGS), K(VIDIOC_QUERY_DV_TIMINGS),
	K(VIDIOC_DV_TIMINGS_CAP), K(VIDIOC_ENUM_FREQ_BANDS), K(VIDIOC_DBG_G_CHIP_INFO),
	K(VIDIOC_QUERY_EXT_CTRL),
#ifdef VIDIOC_REMOVE_BUFS
	K(VIDIOC_REMOVE_BUFS),
#endif
};
#undef K

bool vmedia_guest_known_ioctl(unsigned long request)
{
	request = (unsigned int)request;
	unsigned nr = _IOC_NR(request);
	return nr < sizeof(vidioc_by_nr) / sizeof(vidioc_by_nr[0]) && vidioc_by_nr[nr] == request;
}

int vmedia_guest_ioctl(struct vmedia_guest *g, uint32_t session_id, unsigned long request,
		       void *arg)
{
	struct vmedia_guest_session *s = find_session(g, session_id);
	if (!s)
		return -EBADF;
	if (s->state != S_OPEN)
		return -EIO;
	/* The syscall's request is an unsigned int: the upper half of a
	 * sign-extended number is not looked at. */
	request = (unsigned int)request;
	if (!vmedia_guest_known_ioctl(request))
		return -ENOTTY;
	if (_IOC_SIZE(request) && !arg)
		return -EFAULT;
	switch (request) {
	case VIDIOC_QUERYCAP:
		return querycap(g, arg);
	case VIDIOC_DQBUF:
		return vmedia_guest_dqbuf(g, session_id, arg);
	case VIDIOC_DQEVENT:
		return vmedia_guest_dqevent(g, session_id, arg);
	case VIDIOC_QBUF:
	case VIDIOC_QUERYBUF:
	case VIDIOC_PREPARE_BUF:
		return buffer_ioctl(g, s, request, arg);
	case VIDIOC_G_EXT_CTRLS:
	case VIDIOC_S_EXT_CTRLS:
	case VIDIOC_TRY_EXT_CTRLS:
		return ext_ctrls(g, s, request, arg);
	case VIDIOC_EXPBUF:
		return expbuf(g, s, request, arg);
	case VIDIOC_REQBUFS:
		return reqbufs(g, s, request, arg);
	case VIDIOC_CREATE_BUFS:
		return create_bufs(g, s, request, arg);
	case VIDIOC_STREAMON:
		return stream(g, s, request, arg, true);
	case VIDIOC_STREAMOFF:
		return stream(g, s, request, arg, false);
	case VIDIOC_DECODER_CMD:
		return decoder_cmd(g, s, request, arg);
	case VIDIOC_SUBSCRIBE_EVENT:
		return subscribe(g, s, request, arg);
	case VIDIOC_UNSUBSCRIBE_EVENT:
		return unsubscribe(g, s, request, arg);
	case VIDIOC_G_INPUT:
	case VIDIOC_G_OUTPUT:
		/* _IOR, but the driver sends them through send_wr_ioctl. */
		return send_plain(g, s, request, arg, _IOC_READ | _IOC_WRITE);
	default:
		return send_plain(g, s, request, arg, _IOC_DIR(request));
	}
}

/* ------------------------------------------------------------------------ */
/* Events. */

static void event_dqbuf(struct vmedia_guest *g, struct vmedia_guest_session *s,
			const struct vmedia_event_dqbuf *e)
{
	uint32_t type = e->buffer.type;
	struct gqueue *q = queue_of(s, type);
	if (!q || e->buffer.index >= q->allocated ||
	    (type_mplane(type) && e->buffer.length > VIDEO_MAX_PLANES)) {
		g->stats.bad_events++;
		return;
	}
	struct gbuf *gb = &q->bufs[e->buffer.index];
	if (!(gb->b.flags & V4L2_BUF_FLAG_QUEUED))
		g->stats.unexpected_dqbuf++;
	/* Keep QBUF time's m: that is what user space gets back. */
	uint8_t m[sizeof(gb->b.m)], pm[sizeof(gb->planes[0].m)];
	memcpy(m, &gb->b.m, sizeof(m));
	gb->b = e->buffer;
	memcpy(&gb->b.m, m, sizeof(m));
	if (type_mplane(type)) {
		for (uint32_t i = 0; i < e->buffer.length; i++) {
			memcpy(pm, &gb->planes[i].m, sizeof(pm));
			gb->planes[i] = e->planes[i];
			memcpy(&gb->planes[i].m, pm, sizeof(pm));
		}
	}
	gb->b.flags |= V4L2_BUF_FLAG_DONE;
	/* USERPTR memory of the last QBUF: the device wrote the user's pages. */
	for (uint32_t i = 0; i < VIDEO_MAX_PLANES; i++)
		umap_copy_back(g, gb->umap[i]);
	if (gb->pending) {
		g->stats.dup_dqbuf++;
	} else {
		gb->pending = true;
		q->fifo[(q->head + q->len) % q->allocated] = e->buffer.index;
		q->len++;
	}
	if (q->queued)
		q->queued--;
}

static void event_event(struct vmedia_guest *g, struct vmedia_guest_session *s,
			const struct v4l2_event *ev)
{
	struct gsub *sub = sub_find(s, ev->type, ev->id);
	if (!sub) {
		g->stats.unsubscribed_events++;
		return;
	}
	uint32_t seq = s->sequence++;
	if (sub->pending) {
		/* One slot per subscription: the newer event replaces the
		 * older, and moves to the back of the queue. */
		s->navailable--;
		if (ev->type == V4L2_EVENT_SOURCE_CHANGE) {
			uint32_t changes = sub->ev.u.src_change.changes;
			sub->ev.u = ev->u;
			sub->ev.u.src_change.changes |= changes;
		} else {
			sub->ev.u = ev->u;
		}
	} else {
		sub->ev.u = ev->u;
	}
	uint64_t t = now_ns();
	sub->ev.type = ev->type;
	sub->ev.id = ev->id;
	sub->ev.sequence = seq;
	sub->ev.timestamp.tv_sec = (time_t)(t / 1000000000ull);
	sub->ev.timestamp.tv_nsec = (long)(t % 1000000000ull);
	sub->pending = true;
	sub->order = ++s->order;
	s->navailable++;
}

static void event_error(struct vmedia_guest *g, struct vmedia_guest_session *s,
			const struct vmedia_event_error *e)
{
	g->stats.error_events++;
	s->state = S_ERRORED;
	s->error = vq_from_le32(e->error);
	g->last_error = (struct vmedia_guest_error){ s->id, s->error };
	/* The driver closes the session; its id is free again afterwards. */
	send_close(g, s->id);
}

static void handle_event(struct vmedia_guest *g, uint32_t bi, uint32_t len)
{
	union {
		struct vmedia_event_header h;
		struct vmedia_event_error err;
		struct vmedia_event_dqbuf dq;
		struct vmedia_event_event ev;
		uint8_t raw[VMEDIA_EVENTQ_BUF_SIZE];
	} e;
	if (len > sizeof(e))
		len = sizeof(e);
	memset(&e, 0, sizeof(e));
	vq_fake_read_mem(&g->eventq, g->evbuf_gpa[bi], &e, len);
	if (len < sizeof(e.h)) {
		g->stats.bad_events++;
		return;
	}
	struct vmedia_guest_session *s = find_state(g, vq_from_le32(e.h.session_id), S_OPEN);
	if (!s) {
		g->stats.bad_events++;
		return;
	}
	switch (vq_from_le32(e.h.event)) {
	case VMEDIA_EVT_ERROR:
		if (len < sizeof(e.err))
			break;
		event_error(g, s, &e.err);
		return;
	case VMEDIA_EVT_DQBUF:
		if (len < sizeof(e.dq))
			break;
		event_dqbuf(g, s, &e.dq);
		return;
	case VMEDIA_EVT_EVENT:
		if (len < sizeof(e.ev))
			break;
		event_event(g, s, &e.ev.event);
		return;
	default:
		break;
	}
	g->stats.bad_events++;
}

int vmedia_guest_poll_events(struct vmedia_guest *g)
{
	int total = 0;
	/* Bounded: a device that answers every re-post with a new event
	 * would otherwise keep us here. */
	for (int round = 0; round < 64; round++) {
		unsigned reposted = 0;
		uint32_t id, len;
		while (vq_fake_get_used(&g->eventq, &id, &len) == 1) {
			total++;
			g->stats.events++;
			int32_t bi = id < g->eventq.size ? g->ev_head_buf[id] : -1;
			if (bi < 0) {
				g->stats.bad_events++;
				continue;
			}
			g->ev_head_buf[id] = -1;
			handle_event(g, (uint32_t)bi, len);
			if (post_event_buf(g, (uint32_t)bi) == 0)
				reposted++;
		}
		if (!reposted)
			break;
		vq_fake_publish(&g->eventq);
		if (g->transport.process_eventq)
			g->transport.process_eventq(g->transport.opaque);
	}
	return total;
}

int vmedia_guest_session_error(struct vmedia_guest *g, uint32_t session_id)
{
	struct vmedia_guest_session *s = find_session(g, session_id);
	if (!s)
		return -EBADF;
	return s->state == S_ERRORED ? (int)s->error : 0;
}

/* ------------------------------------------------------------------------ */
/* DQBUF / DQEVENT / poll emulation. */

int vmedia_guest_dqbuf(struct vmedia_guest *g, uint32_t session_id, struct v4l2_buffer *b)
{
	struct vmedia_guest_session *s = find_session(g, session_id);
	if (!s)
		return -EBADF;
	if (s->state != S_OPEN)
		return -EIO;
	if (!b)
		return -EFAULT;
	bool mp = type_mplane(b->type);
	if (mp && b->length > VIDEO_MAX_PLANES)
		return -EINVAL;
	if (mp && b->length && !b->m.planes)
		return -EFAULT;
	struct gqueue *q = queue_of(s, b->type);
	if (!q)
		return -EINVAL;
	vmedia_guest_poll_events(g);
	if (s->state != S_OPEN)
		return -EIO;
	if (q->capture_last)
		return -EPIPE;
	if (!q->len)
		return -EAGAIN;

	uint32_t idx = q->fifo[q->head];
	q->head = (q->head + 1) % q->allocated;
	q->len--;
	struct gbuf *gb = &q->bufs[idx];
	gb->pending = false;
	gb->b.flags &= ~V4L2_BUF_FLAG_DONE;
	struct v4l2_plane *planes = mp ? b->m.planes : NULL;
	if (mp && b->length)
		memcpy(planes, gb->planes, b->length * sizeof(*planes));
	*b = gb->b;
	if (mp)
		b->m.planes = planes;
	if (type_capture(b->type) && (b->flags & V4L2_BUF_FLAG_LAST))
		q->capture_last = true;
	return 0;
}

int vmedia_guest_dqevent(struct vmedia_guest *g, uint32_t session_id, struct v4l2_event *ev)
{
	struct vmedia_guest_session *s = find_session(g, session_id);
	if (!s)
		return -EBADF;
	if (s->state != S_OPEN)
		return -EIO;
	if (!ev)
		return -EFAULT;
	vmedia_guest_poll_events(g);
	if (s->state != S_OPEN)
		return -EIO;
	struct gsub *best = NULL;
	for (uint32_t i = 0; i < s->nsubs; i++)
		if (s->subs[i].pending && (!best || s->subs[i].order < best->order))
			best = &s->subs[i];
	if (!best)
		return -ENOENT;
	best->pending = false;
	s->navailable--;
	*ev = best->ev;
	ev->pending = s->navailable;
	memset(ev->reserved, 0, sizeof(ev->reserved));
	return 0;
}

int vmedia_guest_poll(struct vmedia_guest *g, uint32_t session_id, int events)
{
	struct vmedia_guest_session *s = find_session(g, session_id);
	if (!s)
		return -EBADF;
	vmedia_guest_poll_events(g);
	if (s->state != S_OPEN)
		return POLLERR;
	struct gqueue *cq = &s->q[s->uses_mplane ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
						 : V4L2_BUF_TYPE_VIDEO_CAPTURE];
	struct gqueue *oq = &s->q[s->uses_mplane ? V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE
						 : V4L2_BUF_TYPE_VIDEO_OUTPUT];
	int rc = 0;
	if (events & (POLLIN | POLLRDNORM)) {
		if (!cq->streaming || (cq->queued == 0 && cq->len == 0))
			rc |= POLLERR;
		else if (cq->len)
			rc |= POLLIN | POLLRDNORM;
	}
	if (events & (POLLOUT | POLLWRNORM)) {
		if (!oq->streaming)
			rc |= POLLERR;
		else if (oq->queued < oq->allocated)
			rc |= POLLOUT | POLLWRNORM;
	}
	if (s->navailable)
		rc |= POLLPRI;
	return rc;
}

int vmedia_guest_pending_dqbufs(struct vmedia_guest *g, uint32_t session_id, uint32_t type)
{
	struct vmedia_guest_session *s = find_session(g, session_id);
	if (!s)
		return -EBADF;
	struct gqueue *q = queue_of(s, type);
	return q ? (int)q->len : -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* MMAP / MUNMAP. */

static int send_munmap(struct vmedia_guest *g, uint64_t addr)
{
	struct vmedia_cmd_munmap c = {
		.hdr.cmd = vq_to_le32(VMEDIA_CMD_MUNMAP),
		.driver_addr = vq_to_le64(addr),
	};
	memcpy(g->a_cmd.host, &c, sizeof(c));
	struct gb b;
	gb_init(&b);
	gb_add_area(&b, &g->a_cmd, sizeof(c), false);
	gb_add_area(&b, &g->a_resp, sizeof(struct vmedia_resp_munmap), true);
	uint32_t used;
	int r = run(g, &b, &used);
	return r ? r : resp_check(g, used, sizeof(struct vmedia_resp_munmap));
}

int vmedia_guest_mmap(struct vmedia_guest *g, uint32_t session_id, uint32_t flags,
		      uint32_t offset, uint64_t *addr, uint64_t *len)
{
	return vmedia_guest_mmap_len(g, session_id, flags, offset, 0, addr, len);
}

int vmedia_guest_mmap_len(struct vmedia_guest *g, uint32_t session_id, uint32_t flags,
			  uint32_t offset, uint64_t map_len, uint64_t *addr, uint64_t *len)
{
	struct vmedia_guest_session *s = find_session(g, session_id);
	if (!s)
		return -EBADF;
	if (s->state != S_OPEN)
		return -EIO;
	struct vmedia_cmd_mmap c = {
		.hdr.cmd = vq_to_le32(VMEDIA_CMD_MMAP),
		.session_id = vq_to_le32(session_id),
		.flags = vq_to_le32(flags),
		.offset = vq_to_le32(offset),
	};
	memcpy(g->a_cmd.host, &c, sizeof(c));
	struct gb b;
	gb_init(&b);
	gb_add_area(&b, &g->a_cmd, sizeof(c), false);
	gb_add_area(&b, &g->a_resp, sizeof(struct vmedia_resp_mmap), true);
	uint32_t used;
	int r = run(g, &b, &used);
	if (!r)
		r = resp_check(g, used, sizeof(struct vmedia_resp_mmap));
	if (r)
		return r;
	struct vmedia_resp_mmap resp;
	memcpy(&resp, g->a_resp.host, sizeof(resp));
	uint64_t daddr = vq_from_le64(resp.driver_addr), dlen = vq_from_le64(resp.len);
	/* The vma may not be larger than the buffer: undo and fail. */
	uint64_t aligned = dlen > UINT64_MAX - (PAGE - 1) ? UINT64_MAX
						       : (dlen + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	if (map_len > aligned) {
		send_munmap(g, daddr & ~(uint64_t)(PAGE - 1));
		return -EINVAL;
	}
	if (g->nmaps == g->maps_cap) {
		uint32_t cap = g->maps_cap ? 2 * g->maps_cap : 16;
		void *p = realloc(g->maps, cap * sizeof(*g->maps));
		if (!p)
			return -ENOMEM;
		g->maps = p;
		g->maps_cap = cap;
	}
	g->maps[g->nmaps++] = (struct vmedia_guest_mapping){ daddr, dlen };
	if (addr)
		*addr = daddr;
	if (len)
		*len = dlen;
	return 0;
}

int vmedia_guest_munmap(struct vmedia_guest *g, uint64_t addr)
{
	uint32_t i = 0;
	while (i < g->nmaps && g->maps[i].addr != addr)
		i++;
	if (i < g->nmaps)
		g->maps[i] = g->maps[--g->nmaps];
	else if (checks(g))
		return -EINVAL;
	/* The driver keeps the mapping as a page number (vm_pgoff). */
	return send_munmap(g, addr & ~(uint64_t)(PAGE - 1));
}

void *vmedia_guest_shm_ptr(struct vmedia_guest *g, uint64_t addr, uint64_t len)
{
	if (!g->shm || addr > g->shm_size || len > g->shm_size - addr)
		return NULL;
	return g->shm + addr;
}

/* ------------------------------------------------------------------------ */
/* Raw chains. */

int vmedia_guest_raw_chain(struct vmedia_guest *g, struct vmedia_guest_seg *segs, unsigned n,
			   uint32_t *used_len)
{
	if (n == 0 || n > LOGICAL_MAX)
		return -EINVAL;
	uint64_t total = 0;
	for (unsigned i = 0; i < n; i++)
		total += (segs[i].len + 15u) & ~15u;
	if (total > g->a_raw.size)
		return -EINVAL;
	/* Like run(), but zero-length descriptors are kept: they are part of
	 * what a malformed-chain test asks for. */
	uint32_t off = 0, k = 0;
	uint32_t at[LOGICAL_MAX];
	for (unsigned i = 0; i < n; i++) {
		at[i] = off;
		if (segs[i].len)
			memcpy(g->a_raw.host + off, segs[i].buf, segs[i].len);
		uint32_t cut = segs[i].writable ? g->shape.split_writable : g->shape.split_readable;
		if (!cut || !segs[i].len)
			cut = segs[i].len ? segs[i].len : 1;
		uint32_t p = 0;
		do {
			if (k == g->bufs_cap)
				return -ENOSPC;
			uint32_t l = segs[i].len - p < cut ? segs[i].len - p : cut;
			g->bufs[k++] = (struct vq_fake_buf){ g->a_raw.gpa + off + p, l, segs[i].writable };
			p += l;
		} while (p < segs[i].len);
		off += (segs[i].len + 15u) & ~15u;
	}
	uint32_t used = 0;
	int r = submit(g, g->bufs, k, &used);
	if (r)
		return r;
	for (unsigned i = 0; i < n; i++)
		if (segs[i].writable && segs[i].len)
			memcpy(segs[i].buf, g->a_raw.host + at[i], segs[i].len);
	if (used_len)
		*used_len = used;
	return 0;
}

int vmedia_guest_raw_command(struct vmedia_guest *g, const void *cmd, size_t cmd_len, void *resp,
			     size_t resp_len, uint32_t *used_len)
{
	if (cmd_len > RAW_AREA || resp_len > RAW_AREA)
		return -EINVAL;
	struct vmedia_guest_seg segs[2] = {
		{ (void *)(uintptr_t)cmd, (uint32_t)cmd_len, false },
		{ resp, (uint32_t)resp_len, true },
	};
	return vmedia_guest_raw_chain(g, segs, resp_len ? 2 : 1, used_len);
}
