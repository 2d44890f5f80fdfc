/* SPDX-License-Identifier: MIT */
/*
 * fuzz_media — a hostile virtio-media driver against the command runner
 * (libFuzzer).
 *
 * Chains go through a fake commandq (vq_fake) into a vq_queue and
 * vmedia_device_process_commands(), with a fuzz device implementing every
 * hook, an eventq with as many posted buffers as the input says (zero too,
 * so the backlog fills and overflows) and a 1 MiB memfd for MMAP buffers.
 *
 * Input.  Three header bytes:
 *   h0  eventq buffers (608 bytes) posted before the device starts: h0 % 17
 *   h1  event backlog 1 + h1 % 8; bit 4: usermem limit 16 KiB (else 1 MiB);
 *       bit 5: max_buffers 4 (else 32); bit 6: commandq EVENT_IDX;
 *       bit 7: no shm (MMAP answers ENODEV)
 *   h2  bit 0: shm transport ops (map / unmap callbacks); bit 1: map fails
 *       for some ranges; bit 2: SG-visible memory in 30 reversed 4 KiB
 *       regions (every page a new segment); bit 3: a sparse ops table
 *       (NULL hooks: ENOTTY)
 * then up to MAX_STEPS steps, op = byte % 8:
 *   0-3 one command      4 two or three commands, one kick
 *   5   post eventq buffers and process the eventq
 *   6-7 an asynchronous device action (complete a buffer, send an event or
 *       an error, free an MMAP buffer, let go of usermem, ...)
 * A command step starts with NBEH behaviour bytes the hooks draw from (fail
 * with an errno, complete at once, keep usermem, send events...).  Each
 * command is: a template byte (% 8: raw bytes, OPEN, CLOSE, IOCTL with a
 * decoded code, IOCTL with a code 0..110, MMAP, MUNMAP, IOCTL again; bit 3:
 * then truncate or extend the readable bytes; bits 4-5 both set: a
 * malformed chain the queue hands back unread), the template's fields
 * (session ids from a small set including the open ones; v4l2_buffer with
 * planes, UUIDs and SG lists; ext controls with SG lists; SG entries into,
 * across and around the SG-visible guest memory), then the chain shape:
 * readable pieces, direct or indirect, writable size (exact, short, long,
 * none, any) and pieces, and where the chain sits in guest memory (across a
 * region boundary or not).  Bytes read past the end are 0, so every input
 * is a valid program.
 *
 * Invariants (a violation prints its line and traps):
 *  - every chain comes back once, in order, used length <= writable length,
 *    and nothing past the used length is written;
 *  - with room for a header there is one, and its status is 0 or 1..133;
 *    the answers the protocol fixes (unknown session, short command, unknown
 *    command, MMAP/MUNMAP against a model of the ranges) are exact;
 *  - OPEN gives an id no open session has; the runner's session table
 *    matches the model; the device's opens minus closes is nsessions;
 *  - guest pointer placeholders (m.userptr, m.planes, controls, ctrl ptr)
 *    come back as sent, even when the device scribbles host pointers there;
 *  - no known host address (guest memory, shm, runner tables, device state,
 *    bounce buffers, stack) appears in anything written to the guest,
 *    unless the guest sent something within 16 MiB of it (the fuzzer learns
 *    addresses from traced comparisons and sends them back: in_input());
 *  - events: length of their kind, at most one ERROR per session, none for
 *    a session closed in an earlier step, DQBUF pointer fields cleaned;
 *  - usermem_used equals the bounce bytes the device holds (so 0 when it
 *    holds none); the backlog never exceeds its cap; MMAP ranges never
 *    overlap and stay inside the region; the transport is asked to map
 *    whole ranges, to upgrade only to writable, and to unmap each mapping
 *    once (by MUNMAP or at destroy);
 *  - after vmedia_device_destroy everything is closed and LeakSanitizer has
 *    nothing to say.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmedia.h"
#include "vmedia_ioctl_table.h"
#include "vq_fake.h"

#include "fuzz_common.h"

#define KiB 1024u
#define PAGE 4096u
#define CMDQ_SIZE 32
#define EVQ_SIZE 16
#define GPA VQ_FAKE_DEFAULT_GPA
/* Commandq guest memory: 4 regions of 128 KiB, host-separated by guard pages.
 *   [0, 8K)       rings
 *   [8K, 200K)    three 64 KiB slots for chains (slot 1 spans 128K)
 *   [200K, 320K)  the only memory SG lists can reach: the device's vq_mem
 *                 has [200K,224K) and [224K,256K) (host-adjacent: one
 *                 segment) and [256K,320K) (across a fake region boundary)
 *   [320K, 512K)  the fake's indirect tables
 * Chains and rings are out of the SG lists' reach, so user memory written
 * back by the device cannot corrupt what the harness checks. */
#define REGION (128u * KiB)
#define NREGIONS 4
#define AREA_START (8u * KiB)
#define CMD_SLOT (64u * KiB)
#define BOUNDARY (128u * KiB)
#define DATA_START (200u * KiB)
#define DATA_SPLIT (224u * KiB)
#define DATA_CROSS (256u * KiB)
#define DATA_END (320u * KiB)
#define RD_MAX (24u * KiB)
#define WR_MAX (24u * KiB)
#define MAX_BATCH 3
#define EV_GPA 0x200000000ull
#define EV_SLOT 1024u
#define SHM_SIZE (1u << 20)
#define MAX_SESSIONS 8
#define MAX_STEPS 96
#define NBEH 4
#define NQ 8           /* buffers a session's device queue holds */
#define NMM 8          /* MMAP buffers per session */
#define MAX_RANGES 64
#define ID_TRACK 4096  /* per-id bookkeeping for ids below this */
#define MAX_LOG 512
#define POISON 0xee
#define NO_STATUS UINT32_MAX

/* ------------------------------------------------------------------------ */
/* Input. */

static void take(struct in *in, void *dst, size_t n)
{
	size_t k = n < in->n ? n : in->n;
	memcpy(dst, in->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	in->p += k;
	in->n -= k;
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

/* ------------------------------------------------------------------------ */
/* State. */

/* The fuzz device's per-session state. */
struct fbuf {
	bool used;
	struct vmedia_buffer vb; /* as queued; vb.mem[] owned by the device */
};
struct fmm {
	bool valid;
	uint32_t off, len;
};
struct fsess {
	uint32_t id;
	struct fbuf q[NQ];
	struct fmm mm[NMM];
};

/* The harness's model of the MMAP ranges (shm.c's table, independently). */
struct mrange {
	uint32_t off, len, span;
	bool live;
	bool rw;       /* the transport mapped it writable */
	uint32_t maps;
};

/* What the transport was asked to map. */
struct tmap {
	uint64_t off, len;
	bool rw;
};

/* A range mutation made by a hook, applied when its chain is accounted. */
struct mlog {
	bool alloc;
	uint16_t chain;
	uint32_t off, len;
};

/* A published commandq chain. */
struct crec {
	bool bad;      /* malformed: handed back unread */
	uint16_t head;
	uint32_t rlen, wlen;
	uint64_t wgpa; /* writable bytes are one run of guest memory */
	uint8_t rd[RD_MAX];
};

struct evrec {
	bool live, bad;
	uint32_t wlen;
	uint64_t gpa;
};

struct hrange {
	uintptr_t lo, hi;
};

static struct st {
	const uint8_t *input;
	size_t input_len;

	struct vq_fake cf, ef;   /* commandq and eventq drivers */
	struct vq_queue cmdq, evq;
	struct vq_mem umem;      /* what SG lists may reach */
	struct vmedia_shm shm;
	bool has_shm;
	bool shm_ops, map_fail, sparse;
	struct tmap tmaps[MAX_RANGES];
	uint32_t ntmaps;
	struct vmedia_device dev;
	bool dev_up;
	uint32_t max_buffers;
	uint64_t ev_area;
	struct evrec ev[EVQ_SIZE];
	uint8_t ev_of_head[EVQ_SIZE];

	/* model */
	uint32_t open_ids[MAX_SESSIONS];
	uint32_t nopen;
	uint32_t issued;         /* ids below this were handed out */
	uint32_t last_closed;
	uint32_t step;
	uint16_t closed_step[ID_TRACK]; /* step + 1 of the CLOSE, 0: never */
	uint8_t err_seen[ID_TRACK];
	struct mrange ranges[MAX_RANGES];
	uint32_t nranges;
	struct mlog log[MAX_LOG];
	uint32_t nlog;

	/* device */
	uint8_t beh[NBEH];
	uint32_t beh_i;
	bool in_process;         /* inside vmedia_device_process_commands */
	uint16_t step_base;      /* commandq last_avail before it */
	bool teardown;
	uint64_t opens, closes;

	/* current step */
	struct crec cmds[MAX_BATCH];
	uint32_t ncmds;

	/* host addresses that must never reach the guest */
	struct hrange hr[32];
	unsigned nhr;
	uintptr_t stack_mark;
} S;

static uint8_t rd[RD_MAX];
static uint32_t rl;
static uint8_t wbuf[WR_MAX];
static uint8_t poison[WR_MAX];

/* ------------------------------------------------------------------------ */
/* Host pointers. */

static void hr_add(const void *p, size_t len)
{
	if (!p || !len || S.nhr == sizeof(S.hr) / sizeof(S.hr[0]))
		return;
	S.hr[S.nhr++] = (struct hrange){ (uintptr_t)p, (uintptr_t)p + len };
}

/*
 * The checks below compare guest-visible bytes with host addresses.  Kept out
 * of libFuzzer's comparison tracing, or the fuzzer would learn the addresses
 * from them and feed them back as guest data.
 */
#define UNTRACED __attribute__((no_sanitize("coverage")))

/* Everything the guest sent in this input, for in_input(). */
static uint8_t sent[1u << 20];
static size_t nsent;
static bool sent_full;

static void note_sent(const uint8_t *b, size_t n)
{
	if (n > sizeof(sent) - nsent) {
		sent_full = true;
		return;
	}
	memcpy(sent + nsent, b, n);
	nsent += n;
}

UNTRACED static bool near_window(const uint8_t *b, size_t n, uint64_t v48)
{
	for (size_t i = 0; i + 6 <= n; i++) {
		uint64_t w = 0;
		memcpy(&w, b + i, 6);
		if (w - v48 + (16u << 20) < (32u << 20))
			return true;
	}
	return false;
}

/* @v is near 6 bytes (a user address has no more) of the input or of what
 * the guest sent: guest data coming back, perhaps with low bits changed as a
 * device does to flags.  The fuzzer learns host addresses from any traced
 * pointer comparison (a NULL check is one), in the library too, and feeds
 * them back as guest data, whole or assembled from fields; a real leak has
 * nothing to do with what the guest sent.  Once the record of what it sent
 * overflowed, every value gets the benefit of the doubt. */
UNTRACED static bool in_input(uint64_t v)
{
	uint64_t v48 = v & 0xffffffffffffull;
	return sent_full || near_window(S.input, S.input_len, v48) ||
	       near_window(sent, nsent, v48);
}

UNTRACED static bool is_host(uint64_t v)
{
	for (unsigned i = 0; i < S.nhr; i++)
		if (v - S.hr[i].lo < S.hr[i].hi - S.hr[i].lo)
			return true;
	/* The stack: everything below our frame, and a little above. */
	if (v - (S.stack_mark - (8u << 20)) < (8u << 20) + (64u << 10))
		return true;
	if (!S.dev_up)
		return false;
	/* Device state and the bounce buffers it holds. */
	for (uint32_t i = 0; i < S.dev.nslots; i++) {
		const struct vmedia_session *s = &S.dev.sessions[i];
		if (!s->in_use || !s->priv)
			continue;
		const struct fsess *fs = s->priv;
		if (v - (uintptr_t)fs < sizeof(*fs))
			return true;
		for (unsigned k = 0; k < NQ; k++) {
			if (!fs->q[k].used)
				continue;
			for (unsigned j = 0; j < VMEDIA_MAX_PLANES; j++) {
				const struct vmedia_usermem *m = fs->q[k].vb.mem[j];
				if (!m)
					continue;
				if (v - (uintptr_t)m < sizeof(*m))
					return true;
				if (m->bounced && v - (uintptr_t)m->ptr < m->len)
					return true;
			}
		}
	}
	return false;
}

/* Nothing written to the guest holds a host address, unless the guest sent
 * something near it (see in_input()). */
UNTRACED static void scan_host(const uint8_t *b, size_t n, const char *what)
{
	for (size_t i = 0; i + 8 <= n; i++) {
		uint64_t v = rd64(b + i);
		if (v < 4096 || !is_host(v) || in_input(v))
			continue;
		fprintf(stderr, "fuzz_media: host address 0x%llx at byte %zu of %s\n",
			(unsigned long long)v, i, what);
		CHECK(!"host address written to the guest");
	}
}

/* ------------------------------------------------------------------------ */
/* Session model. */

static int open_idx(uint32_t id)
{
	for (uint32_t i = 0; i < S.nopen; i++)
		if (S.open_ids[i] == id)
			return (int)i;
	return -1;
}

static void model_open(uint32_t id)
{
	CHECK(open_idx(id) < 0); /* unique among open sessions */
	CHECK(S.nopen < MAX_SESSIONS);
	S.open_ids[S.nopen++] = id;
	if (id >= S.issued)
		S.issued = id + 1;
}

static bool model_close(uint32_t id)
{
	int i = open_idx(id);
	if (i < 0)
		return false;
	S.open_ids[i] = S.open_ids[--S.nopen];
	if (id < ID_TRACK)
		S.closed_step[id] = (uint16_t)(S.step + 1);
	S.last_closed = id;
	return true;
}

/* ------------------------------------------------------------------------ */
/* MMAP range model. */

static int mr_find(uint64_t off)
{
	for (uint32_t i = 0; i < S.nranges; i++)
		if (S.ranges[i].off == off)
			return (int)i;
	return -1;
}

static void mr_remove(int i)
{
	S.ranges[i] = S.ranges[--S.nranges];
}

static void mr_apply(const struct mlog *l)
{
	if (l->alloc) {
		uint32_t span = (l->len + PAGE - 1) / PAGE * PAGE;
		CHECK(l->off % PAGE == 0);
		CHECK((uint64_t)l->off + span <= SHM_SIZE);
		CHECK(S.nranges < S.max_buffers);
		for (uint32_t i = 0; i < S.nranges; i++) {
			const struct mrange *r = &S.ranges[i];
			CHECK(l->off + span <= r->off || r->off + r->span <= l->off);
		}
		S.ranges[S.nranges++] =
			(struct mrange){ .off = l->off, .len = l->len, .span = span, .live = true };
	} else {
		int i = mr_find(l->off);
		CHECK(i >= 0 && S.ranges[i].live);
		S.ranges[i].live = false;
		if (S.ranges[i].maps == 0)
			mr_remove(i);
	}
}

/* A hook changed the ranges: inside a kick, wait until the chains before this
 * one have been accounted, so MMAP / MUNMAP predictions see the right state. */
static void mr_event(bool alloc, uint32_t off, uint32_t len)
{
	struct mlog l = { .alloc = alloc, .off = off, .len = len };
	if (S.teardown)
		return;
	if (!S.in_process) {
		mr_apply(&l);
		return;
	}
	l.chain = (uint16_t)(vq_queue_last_avail(&S.cmdq) - S.step_base - 1);
	CHECK(l.chain < S.ncmds);
	CHECK(S.nlog < MAX_LOG);
	S.log[S.nlog++] = l;
}

static void mr_apply_chain(uint16_t k)
{
	for (uint32_t i = 0; i < S.nlog; i++)
		if (S.log[i].chain == k)
			mr_apply(&S.log[i]);
}

/* The transport's side of region 0: whole pages, no double mapping, an
 * upgrade only to writable, one unmap per mapping.  Some ranges cannot be
 * mapped, by a rule the model can predict. */
static bool map_fails(uint64_t off, bool rw)
{
	return S.map_fail && (off / PAGE + rw) % 4 == 3;
}

static int tmap_find(uint64_t off)
{
	for (uint32_t i = 0; i < S.ntmaps; i++)
		if (S.tmaps[i].off == off)
			return (int)i;
	return -1;
}

static int tr_map(void *opaque, uint64_t off, uint64_t len, bool rw)
{
	CHECK(opaque == &S);
	CHECK(off % PAGE == 0 && len % PAGE == 0 && len > 0);
	CHECK(off <= SHM_SIZE && len <= SHM_SIZE - off);
	int i = tmap_find(off);
	if (i >= 0)
		CHECK(S.tmaps[i].len == len && rw && !S.tmaps[i].rw); /* an upgrade */
	for (uint32_t k = 0; k < S.ntmaps; k++)
		CHECK((int)k == i || off + len <= S.tmaps[k].off ||
		      S.tmaps[k].off + S.tmaps[k].len <= off);
	if (map_fails(off, rw))
		return -ENOMEM;
	if (i >= 0) {
		S.tmaps[i].rw = true;
	} else {
		CHECK(S.ntmaps < MAX_RANGES);
		S.tmaps[S.ntmaps++] = (struct tmap){ off, len, rw };
	}
	return 0;
}

static void tr_unmap(void *opaque, uint64_t off, uint64_t len)
{
	CHECK(opaque == &S);
	int i = tmap_find(off);
	CHECK(i >= 0 && S.tmaps[i].len == len);
	S.tmaps[i] = S.tmaps[--S.ntmaps];
}

static const struct vmedia_shm_ops tr_ops = { .map = tr_map, .unmap = tr_unmap };

/* ------------------------------------------------------------------------ */
/* The fuzz device. */

static uint8_t beh(void)
{
	return S.beh[S.beh_i++ % NBEH];
}

static const uint32_t errs[] = {
	EINVAL, EBUSY, ENOMEM, EIO, EAGAIN, ERANGE, EPIPE, EACCES,
	ENOSPC, EOPNOTSUPP, ENOTTY, EHWPOISON, EPERM, ENODEV, EFAULT, ENOENT,
};
#define NERRS (sizeof(errs) / sizeof(errs[0]))

static int maybe_fail(uint8_t b)
{
	return (b & 7) == 7 ? -(int)errs[(b >> 3) % NERRS] : 0;
}

static struct fsess *fs_of(struct vmedia_session *s)
{
	return s->priv;
}

static uint64_t held_bounced(const struct vmedia_session *except)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < S.dev.nslots; i++) {
		const struct vmedia_session *s = &S.dev.sessions[i];
		if (!s->in_use || !s->priv || s == except)
			continue;
		const struct fsess *fs = s->priv;
		for (unsigned k = 0; k < NQ; k++)
			for (unsigned j = 0; fs->q[k].used && j < VMEDIA_MAX_PLANES; j++)
				if (fs->q[k].vb.mem[j] && fs->q[k].vb.mem[j]->bounced)
					n += fs->q[k].vb.mem[j]->len;
	}
	return n;
}

static void check_backlog(void)
{
	CHECK(S.dev.backlog_len <= S.dev.backlog_cap);
}

static void put_mems(struct vmedia_buffer *vb, bool written)
{
	for (unsigned j = 0; j < VMEDIA_MAX_PLANES; j++) {
		vmedia_usermem_put(vb->mem[j], written);
		vb->mem[j] = NULL;
	}
}

static void send_dqbuf_checked(struct vmedia_session *s, const struct vmedia_buffer *vb)
{
	int r = vmedia_send_dqbuf(s, vb);
	if (V4L2_TYPE_IS_MULTIPLANAR(vb->b.type) && vb->b.length > VMEDIA_MAX_PLANES)
		CHECK(r == -EINVAL);
	else
		CHECK(r == 0 || r == -ENOBUFS);
	check_backlog();
}

/* The buffer is done: fill its memory, give it back, tell the driver.  The
 * device leaves host pointers in the pointer fields, which must never reach
 * the guest. */
static void complete(struct vmedia_session *s, unsigned i, uint32_t flags, uint8_t b)
{
	struct fsess *fs = fs_of(s);
	struct vmedia_buffer *vb = &fs->q[i].vb;
	bool mplane = V4L2_TYPE_IS_MULTIPLANAR(vb->b.type);
	for (unsigned j = 0; j < VMEDIA_MAX_PLANES; j++) {
		struct vmedia_usermem *m = vb->mem[j];
		if (!m)
			continue;
		CHECK(m->len > 0);
		memset(m->ptr, b, m->len);
		if (vb->b.memory == V4L2_MEMORY_USERPTR) {
			if (mplane)
				vb->planes[j].m.userptr = (unsigned long)(uintptr_t)m->ptr;
			else
				vb->b.m.userptr = (unsigned long)(uintptr_t)m->ptr;
		}
		vmedia_usermem_put(m, b & 1);
		vb->mem[j] = NULL;
	}
	if (mplane)
		vb->b.m.planes = vb->planes;
	/* Only small changes to what the guest sent (see in_input()). */
	vb->b.flags = (vb->b.flags & ~(uint32_t)V4L2_BUF_FLAG_QUEUED) | V4L2_BUF_FLAG_DONE | flags;
	vb->b.sequence++;
	send_dqbuf_checked(s, vb);
	fs->q[i].used = false;
}

static void send_event_checked(struct vmedia_session *s, uint32_t type, uint8_t b)
{
	struct v4l2_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.id = b;
	ev.sequence = b * 3u;
	ev.u.data[0] = b;
	int r = vmedia_send_event(s, &ev);
	CHECK(r == 0 || r == -ENOBUFS);
	check_backlog();
}

static void send_error_checked(struct vmedia_session *s, uint32_t err)
{
	int r = vmedia_send_error(s, err);
	CHECK(err ? r == 0 : r == -EINVAL);
	CHECK(!err || s->error);
	check_backlog();
}

/* Side effects any hook may have: an event, an error. */
static void side_effects(struct vmedia_session *s, uint8_t b)
{
	if ((b & 0x30) == 0x30)
		send_event_checked(s, 1 + (b >> 6), b);
	if ((b & 0xf8) == 0xc0)
		send_error_checked(s, errs[b % NERRS]);
}

static int mm_alloc(struct vmedia_session *s, unsigned k, uint32_t len)
{
	struct fsess *fs = fs_of(s);
	uint32_t off = 0;
	void *host = NULL;
	int r = vmedia_mmap_alloc(&S.dev, len, &off, &host);
	if (!S.has_shm) {
		CHECK(r == -ENODEV);
		return r;
	}
	if (len == 0) {
		CHECK(r == -EINVAL);
		return r;
	}
	CHECK(r == 0 || r == -ENOSPC);
	if (r)
		return r;
	CHECK(host == S.shm.host + off);
	CHECK((uint64_t)off + len <= SHM_SIZE);
	/* Freshly allocated buffers are zeroed. */
	for (uint32_t i = 0; i < len; i += PAGE / 2)
		CHECK(((uint8_t *)host)[i] == 0);
	memset(host, 0x5a, len < 256 ? len : 256);
	fs->mm[k] = (struct fmm){ true, off, len };
	mr_event(true, off, len);
	return 0;
}

static void mm_free(struct vmedia_session *s, unsigned k)
{
	struct fsess *fs = fs_of(s);
	if (!fs->mm[k].valid)
		return;
	CHECK(vmedia_mmap_free(&S.dev, fs->mm[k].off) == 0);
	mr_event(false, fs->mm[k].off, fs->mm[k].len);
	fs->mm[k].valid = false;
}

static uint32_t mm_len(uint8_t b)
{
	switch (b % 4) {
	case 0: return PAGE;
	case 1: return 3 * PAGE;
	case 2: return 1 + b * 97u;
	default: return b % 8 == 3 ? 0 : b & 0x80 ? 512u * KiB + b : 64u * KiB + b;
	}
}

static int fz_open(struct vmedia_session *s)
{
	uint8_t b = beh();
	if ((b & 0x1f) == 0x1f)
		return b & 0x20 ? -ENOMEM : -EMFILE;
	struct fsess *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->id = s->id;
	s->priv = fs;
	S.opens++;
	return 0;
}

static void fz_close(struct vmedia_session *s)
{
	struct fsess *fs = fs_of(s);
	CHECK(fs && fs->id == s->id);
	uint8_t b = beh();
	for (unsigned i = 0; i < NQ; i++) {
		if (!fs->q[i].used)
			continue;
		if (b & 1) {
			complete(s, i, V4L2_BUF_FLAG_ERROR, b);
		} else {
			put_mems(&fs->q[i].vb, b & 2);
			fs->q[i].used = false;
		}
	}
	for (unsigned k = 0; k < NMM; k++)
		mm_free(s, k);
	/* Whatever the session held is back: what remains is the others'. */
	CHECK(S.dev.usermem_used == held_bounced(s));
	free(fs);
	s->priv = NULL;
	S.closes++;
}

static int fz_plain(struct vmedia_session *s, int nr, void *arg, size_t size)
{
	struct fsess *fs = fs_of(s);
	CHECK(fs && fs->id == s->id);
	uint8_t b = beh();
	side_effects(s, b);
	int r = maybe_fail(b);
	if (r)
		return r;
	if (nr == _IOC_NR(VIDIOC_REQBUFS)) {
		struct v4l2_requestbuffers *rb = arg;
		for (unsigned i = 0; i < NQ; i++) {
			if (fs->q[i].used) {
				put_mems(&fs->q[i].vb, false);
				fs->q[i].used = false;
			}
		}
		if (rb->memory != V4L2_MEMORY_MMAP) {
			rb->count = rb->count < NQ ? rb->count : NQ;
			return 0;
		}
		for (unsigned k = 0; k < NMM; k++)
			mm_free(s, k);
		uint32_t n = 0;
		uint8_t lb = beh();
		for (; n < rb->count && n < NMM; n++)
			if (mm_alloc(s, n, mm_len((uint8_t)(lb + n))) < 0)
				break;
		rb->count = n;
		rb->capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP | V4L2_BUF_CAP_SUPPORTS_USERPTR;
		return 0;
	}
	if (nr == _IOC_NR(VIDIOC_CREATE_BUFS)) {
		struct v4l2_create_buffers *cb = arg;
		if (cb->memory != V4L2_MEMORY_MMAP)
			return 0;
		uint32_t made = 0, first = NMM;
		uint8_t lb = beh();
		for (unsigned k = 0; k < NMM && made < cb->count; k++) {
			if (fs->mm[k].valid)
				continue;
			if (mm_alloc(s, k, mm_len((uint8_t)(lb + k))) < 0)
				break;
			if (first == NMM)
				first = k;
			made++;
		}
		cb->index = first == NMM ? 0 : first;
		cb->count = made;
		return 0;
	}
	if (nr == _IOC_NR(VIDIOC_STREAMON) || nr == _IOC_NR(VIDIOC_STREAMOFF)) {
		bool off = nr == _IOC_NR(VIDIOC_STREAMOFF);
		for (unsigned i = 0; i < NQ; i++) {
			if (!fs->q[i].used)
				continue;
			if (off && !(b & 8)) {
				put_mems(&fs->q[i].vb, false);
				fs->q[i].used = false;
			} else if (off || (b & 8)) {
				complete(s, i, off ? V4L2_BUF_FLAG_ERROR : 0, b);
			}
		}
		return 0;
	}
	if (nr == _IOC_NR(VIDIOC_DECODER_CMD)) {
		struct v4l2_decoder_cmd *dc = arg;
		int last = -1;
		for (unsigned i = 0; i < NQ; i++)
			if (fs->q[i].used)
				last = (int)i;
		if (dc->cmd == V4L2_DEC_CMD_STOP && last >= 0)
			complete(s, (unsigned)last, V4L2_BUF_FLAG_LAST, b);
		send_event_checked(s, V4L2_EVENT_EOS, b);
		return 0;
	}
	if (nr == _IOC_NR(VIDIOC_SUBSCRIBE_EVENT)) {
		const struct v4l2_event_subscription *sub = arg;
		CHECK(sub->type != V4L2_EVENT_ALL); /* the runner refuses it */
		if (sub->flags & V4L2_EVENT_SUB_FL_SEND_INITIAL)
			send_event_checked(s, sub->type, b);
		return 0;
	}
	/* Anything else: answer with the copy, or with a pattern (one that
	 * cannot make up a host address out of guest data). */
	if (b & 8)
		memset(arg, b, size);
	return 0;
}

#define FZ_HOOK(NAME, hook, type)                                             \
	static int fz_##hook(struct vmedia_session *s, type *arg)             \
	{                                                                     \
		return fz_plain(s, _IOC_NR(VIDIOC_##NAME), arg, sizeof(*arg)); \
	}
VMEDIA_PLAIN_IOCTLS(FZ_HOOK)
#undef FZ_HOOK

static void check_buffer_in(const struct vmedia_buffer *vb, bool takes_mem)
{
	bool mplane = V4L2_TYPE_IS_MULTIPLANAR(vb->b.type);
	bool userptr = vb->b.memory == V4L2_MEMORY_USERPTR;
	if (mplane) {
		CHECK(vb->b.length <= VMEDIA_MAX_PLANES);
		CHECK(vb->b.m.userptr == 0); /* the guest's planes pointer is hidden */
	}
	if (userptr && !mplane)
		CHECK(vb->b.m.userptr == 0);
	for (unsigned j = 0; j < VMEDIA_MAX_PLANES; j++) {
		const struct vmedia_usermem *m = vb->mem[j];
		if (userptr && mplane && j < vb->b.length)
			CHECK(vb->planes[j].m.userptr == 0);
		if (!m)
			continue;
		CHECK(takes_mem && userptr);
		uint32_t want = mplane ? vb->planes[j].length : vb->b.length;
		CHECK(mplane ? j < vb->b.length : j == 0);
		CHECK(m->len == want && want > 0);
		CHECK(m->ptr != NULL);
	}
}

static int fz_querybuf(struct vmedia_session *s, struct vmedia_buffer *vb)
{
	struct fsess *fs = fs_of(s);
	check_buffer_in(vb, false);
	uint8_t b = beh();
	side_effects(s, b);
	int r = maybe_fail(b);
	if (r)
		return r;
	bool mplane = V4L2_TYPE_IS_MULTIPLANAR(vb->b.type);
	if (vb->b.memory == V4L2_MEMORY_MMAP) {
		if (vb->b.index >= NMM || !fs->mm[vb->b.index].valid)
			return -EINVAL;
		const struct fmm *m = &fs->mm[vb->b.index];
		if (mplane) {
			if (vb->b.length < 1)
				return -EINVAL;
			vb->planes[0].m.mem_offset = m->off;
			vb->planes[0].length = m->len;
			vb->b.length = b & 8 ? 1 : VMEDIA_MAX_PLANES + 1 + b; /* clamped by the runner */
		} else {
			vb->b.m.offset = m->off;
			vb->b.length = m->len;
		}
	}
	vb->b.flags |= V4L2_BUF_FLAG_MAPPED;
	return 0;
}

/* Queue it; on success the device owns vb->mem[]. */
static int take_buffer(struct vmedia_session *s, struct vmedia_buffer *vb, bool prepare)
{
	struct fsess *fs = fs_of(s);
	check_buffer_in(vb, true);
	uint8_t b = beh();
	side_effects(s, b);
	int r = maybe_fail(b);
	if (r)
		return r;
	unsigned i = 0;
	while (i < NQ && fs->q[i].used)
		i++;
	if (i == NQ)
		return -EBUSY;
	fs->q[i].used = true;
	fs->q[i].vb = *vb;
	bool mplane = V4L2_TYPE_IS_MULTIPLANAR(vb->b.type);
	/* Scribble host pointers where the guest's placeholders go back. */
	if (mplane || vb->b.memory == V4L2_MEMORY_USERPTR)
		vb->b.m.userptr = (unsigned long)(uintptr_t)&fs->q[i];
	for (unsigned j = 0; j < VMEDIA_MAX_PLANES; j++)
		if (vb->mem[j] && mplane)
			vb->planes[j].m.userptr = (unsigned long)(uintptr_t)vb->mem[j]->ptr;
	if (mplane && (b & 0x40))
		vb->b.length = 200; /* more planes than sent: the runner clamps */
	vb->b.flags |= prepare ? V4L2_BUF_FLAG_PREPARED : V4L2_BUF_FLAG_QUEUED;
	if (prepare && (b & 8)) {
		/* Prepared and let go at once. */
		put_mems(&fs->q[i].vb, false);
		fs->q[i].used = false;
	} else if (!prepare && (b & 8)) {
		complete(s, i, 0, b);
	}
	return 0;
}

static int fz_qbuf(struct vmedia_session *s, struct vmedia_buffer *vb)
{
	return take_buffer(s, vb, false);
}

static int fz_prepare_buf(struct vmedia_session *s, struct vmedia_buffer *vb)
{
	return take_buffer(s, vb, true);
}

static int fz_ctrls(struct vmedia_session *s, int nr, struct vmedia_ext_ctrls *x)
{
	CHECK(x->c.controls == NULL);
	CHECK(x->c.count <= 1024);
	uint8_t b = beh();
	side_effects(s, b);
	for (uint32_t i = 0; i < x->c.count; i++) {
		struct vmedia_usermem *m = x->mem[i];
		if (x->controls[i].size == 0) {
			CHECK(!m);
			if (b & 8)
				x->controls[i].value ^= b;
			continue;
		}
		CHECK(m && m->len == x->controls[i].size);
		CHECK(x->controls[i].ptr == NULL);
		if (nr == _IOC_NR(VIDIOC_G_EXT_CTRLS)) {
			memset(m->ptr, b, m->len);
			x->dirty = true;
			if (b & 0x40)
				CHECK(vmedia_usermem_sync(m) == 0);
		} else {
			volatile uint8_t sum = 0;
			for (size_t k = 0; k < m->len; k++)
				sum = (uint8_t)(sum + ((uint8_t *)m->ptr)[k]);
			(void)sum;
		}
	}
	int r = maybe_fail(b);
	if (r)
		x->c.error_idx = x->c.count ? b % x->c.count : 0;
	return r;
}

static int fz_g_ext(struct vmedia_session *s, struct vmedia_ext_ctrls *x)
{
	return fz_ctrls(s, _IOC_NR(VIDIOC_G_EXT_CTRLS), x);
}
static int fz_s_ext(struct vmedia_session *s, struct vmedia_ext_ctrls *x)
{
	return fz_ctrls(s, _IOC_NR(VIDIOC_S_EXT_CTRLS), x);
}
static int fz_try_ext(struct vmedia_session *s, struct vmedia_ext_ctrls *x)
{
	return fz_ctrls(s, _IOC_NR(VIDIOC_TRY_EXT_CTRLS), x);
}

static int fz_expbuf(struct vmedia_session *s, struct v4l2_exportbuffer *e,
		     uint8_t uuid[VMEDIA_UUID_SIZE])
{
	uint8_t b = beh();
	side_effects(s, b);
	int r = maybe_fail(b);
	if (r)
		return r;
	for (int i = 0; i < VMEDIA_UUID_SIZE; i++)
		uuid[i] = (uint8_t)(b + i);
	e->fd = b;
	return 0;
}

static const struct vmedia_device_ops fz_ops = {
	.open = fz_open,
	.close = fz_close,
#define FZ_FIELD(NAME, hook, type) .hook = fz_##hook,
	VMEDIA_PLAIN_IOCTLS(FZ_FIELD)
#undef FZ_FIELD
	.querybuf = fz_querybuf,
	.qbuf = fz_qbuf,
	.prepare_buf = fz_prepare_buf,
	.g_ext_ctrls = fz_g_ext,
	.s_ext_ctrls = fz_s_ext,
	.try_ext_ctrls = fz_try_ext,
	.expbuf = fz_expbuf,
};

/* The same device with holes: some hooks NULL, which the runner answers
 * with ENOTTY before reading the payload. */
static struct vmedia_device_ops fz_sparse_ops;

static bool plain_missing(uint8_t nr)
{
	return nr % 3 == 0;
}

static void init_sparse(void)
{
	fz_sparse_ops = fz_ops;
#define FZ_NULL(NAME, hook, type)                           \
	if (plain_missing(_IOC_NR(VIDIOC_##NAME)))          \
		fz_sparse_ops.hook = NULL;
	VMEDIA_PLAIN_IOCTLS(FZ_NULL)
#undef FZ_NULL
	fz_sparse_ops.querybuf = NULL;
	fz_sparse_ops.prepare_buf = NULL;
	fz_sparse_ops.try_ext_ctrls = NULL;
	fz_sparse_ops.expbuf = NULL;
}

/* Whether the device in use lacks the hook for @d. */
static bool hook_missing(const struct vmedia_ioctl_desc *d)
{
	if (!S.sparse)
		return false;
	switch (d->kind) {
	case VMEDIA_IOCTL_KIND_PLAIN:
		return plain_missing(d->nr);
	case VMEDIA_IOCTL_KIND_BUFFER:
		return d->nr != _IOC_NR(VIDIOC_QBUF);
	case VMEDIA_IOCTL_KIND_EXT_CTRLS:
		return d->nr == _IOC_NR(VIDIOC_TRY_EXT_CTRLS);
	case VMEDIA_IOCTL_KIND_EXPBUF:
		return true;
	default:
		return false;
	}
}

/* ------------------------------------------------------------------------ */
/* Building commands. */

static void rput(const void *p, size_t n)
{
	if (n > RD_MAX - rl)
		n = RD_MAX - rl;
	memcpy(rd + rl, p, n);
	rl += (uint32_t)n;
}
static void rput32(uint32_t v)
{
	rput(&v, 4);
}
static void rput64(uint64_t v)
{
	rput(&v, 8);
}
static void rtake(struct in *in, size_t n)
{
	if (n > RD_MAX - rl)
		n = RD_MAX - rl;
	take(in, rd + rl, n);
	rl += (uint32_t)n;
}

static uint32_t pick_sid(struct in *in)
{
	uint8_t s = u8(in);
	if (s < 0xa0 && S.nopen)
		return S.open_ids[s % S.nopen];
	if (s < 0xe0)
		return s & 7;
	if (s < 0xf0)
		return S.last_closed;
	return u32(in);
}

static uint32_t pick_type(struct in *in)
{
	uint8_t t = u8(in);
	switch (t % 8) {
	case 0: case 1: return V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
	case 2: return V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
	case 3: case 4: return V4L2_BUF_TYPE_VIDEO_CAPTURE;
	case 5: return V4L2_BUF_TYPE_VIDEO_OUTPUT;
	case 6: return u8(in);
	default: return u32(in);
	}
}

static uint32_t pick_memory(struct in *in)
{
	uint8_t m = u8(in);
	switch (m % 8) {
	case 0: case 1: case 2: return V4L2_MEMORY_USERPTR;
	case 3: case 4: return V4L2_MEMORY_MMAP;
	case 5: return V4L2_MEMORY_DMABUF;
	case 6: return V4L2_MEMORY_OVERLAY;
	default: return u32(in);
	}
}

static uint32_t pick_len(struct in *in)
{
	uint8_t p = u8(in);
	switch (p % 8) {
	case 0: return 0;
	case 6: return u8(in);
	case 7: return u32(in);
	default: return u16(in) % (16u * KiB);
	}
}

/* One SG list for @need bytes: entries into, across and around the memory
 * the device may reach, with lengths that cover it, fall short, or overshoot. */
static void put_sg(struct in *in, uint64_t need)
{
	if (need == 0)
		return;
	uint8_t c = u8(in);
	unsigned k = (c & 0xf0) == 0xf0 ? 0 : 1 + (c & 3);
	uint64_t left = need;
	for (unsigned i = 0; i < k; i++) {
		uint8_t m = u8(in);
		uint64_t start;
		switch (m & 7) {
		case 0: case 1: start = GPA + DATA_START + u16(in) % (DATA_END - DATA_START); break;
		case 2: start = GPA + DATA_CROSS - 1 - u16(in) % 4096; break;
		case 3: start = GPA + DATA_SPLIT - 1 - u16(in) % 4096; break;
		case 4: start = GPA + DATA_END - u8(in); break;
		case 5: start = GPA + DATA_START - 1 - u8(in); break;
		case 6: start = u64(in); break;
		default: start = UINT64_MAX - u8(in); break;
		}
		uint64_t len;
		switch ((m >> 3) & 3) {
		case 0: len = (left + (k - i) - 1) / (k - i); break;
		case 1: len = u16(in); break;
		case 2: len = 0; break;
		default: len = u32(in); break;
		}
		if (len > UINT32_MAX)
			len = UINT32_MAX;
		left -= len < left ? len : left;
		rput64(start);
		rput32((uint32_t)len);
		rput32(m & 0x20 ? u32(in) : 0);
	}
}

/* The ioctl codes the runner decodes, the interesting ones thrice. */
static uint8_t codes[256];
static unsigned ncodes;

static void init_codes(void)
{
	if (ncodes)
		return;
	for (uint32_t nr = 0; nr <= 110; nr++)
		if (vmedia_ioctl_lookup(nr))
			codes[ncodes++] = (uint8_t)nr;
	static const uint8_t hot[] = {
		_IOC_NR(VIDIOC_QBUF), _IOC_NR(VIDIOC_QUERYBUF), _IOC_NR(VIDIOC_PREPARE_BUF),
		_IOC_NR(VIDIOC_G_EXT_CTRLS), _IOC_NR(VIDIOC_S_EXT_CTRLS),
		_IOC_NR(VIDIOC_TRY_EXT_CTRLS), _IOC_NR(VIDIOC_REQBUFS),
		_IOC_NR(VIDIOC_CREATE_BUFS), _IOC_NR(VIDIOC_STREAMON), _IOC_NR(VIDIOC_STREAMOFF),
		_IOC_NR(VIDIOC_SUBSCRIBE_EVENT), _IOC_NR(VIDIOC_DECODER_CMD),
		_IOC_NR(VIDIOC_EXPBUF), _IOC_NR(VIDIOC_G_FMT), _IOC_NR(VIDIOC_S_FMT),
	};
	for (unsigned r = 0; r < 2; r++)
		for (unsigned i = 0; i < sizeof(hot); i++)
			codes[ncodes++] = hot[i];
}

/* The payload of a v4l2_buffer ioctl.  Returns the writable size it needs. */
static uint32_t build_buffer(struct in *in)
{
	struct v4l2_buffer b;
	memset(&b, 0, sizeof(b));
	uint8_t ix = u8(in);
	b.index = ix < 0xf0 ? ix % 10 : u32(in);
	b.type = pick_type(in);
	b.memory = pick_memory(in);
	uint8_t f = u8(in);
	b.flags = f & 1 ? u32(in) : 0;
	b.bytesused = f & 2 ? u16(in) : 0;
	bool mplane = V4L2_TYPE_IS_MULTIPLANAR(b.type);
	if (mplane) {
		uint8_t nb = u8(in);
		b.length = nb < 0xf0 ? nb % 9 : nb == 0xff ? u32(in) : 9 + nb % 8;
	} else {
		b.length = pick_len(in);
	}
	b.m.userptr = (unsigned long)u64(in); /* a guest placeholder */
	rput(&b, sizeof(b));
	unsigned np = mplane ? (b.length < VMEDIA_MAX_PLANES ? b.length : VMEDIA_MAX_PLANES) : 0;
	struct v4l2_plane pl[VMEDIA_MAX_PLANES];
	memset(pl, 0, sizeof(pl));
	for (unsigned i = 0; i < np; i++) {
		pl[i].length = pick_len(in);
		pl[i].bytesused = u16(in);
		pl[i].m.userptr = (unsigned long)u64(in);
		rput(&pl[i], sizeof(pl[i]));
	}
	unsigned nuuid = b.memory == V4L2_MEMORY_DMABUF ? (mplane ? np : 1) : 0;
	rtake(in, nuuid * (size_t)VMEDIA_UUID_SIZE);
	if (b.memory == V4L2_MEMORY_USERPTR) {
		if (!mplane)
			put_sg(in, b.length);
		for (unsigned i = 0; i < np; i++)
			put_sg(in, pl[i].length);
	}
	return 8 + (uint32_t)sizeof(b) + np * (uint32_t)sizeof(pl[0]) +
	       nuuid * VMEDIA_UUID_SIZE;
}

static uint32_t build_ext_ctrls(struct in *in)
{
	struct v4l2_ext_controls x;
	memset(&x, 0, sizeof(x));
	uint8_t w = u8(in);
	x.which = w % 4 == 0 ? V4L2_CTRL_WHICH_CUR_VAL :
		  w % 4 == 1 ? V4L2_CTRL_WHICH_DEF_VAL :
		  w % 4 == 2 ? V4L2_CTRL_WHICH_REQUEST_VAL : u32(in);
	uint8_t cc = u8(in);
	if (cc < 0xf0)
		x.count = cc % 9;
	else if (cc < 0xfc)
		x.count = 1 + u16(in) % 1024;
	else if (cc == 0xfc)
		x.count = 1024;
	else if (cc == 0xfd)
		x.count = 1025;
	else
		x.count = u32(in);
	x.error_idx = u8(in);
	x.controls = (struct v4l2_ext_control *)(uintptr_t)u64(in); /* placeholder */
	rput(&x, sizeof(x));
	uint32_t n = x.count < 1100 ? x.count : 1100;
	uint32_t sizes[1100];
	for (uint32_t i = 0; i < n; i++) {
		uint8_t c[20];
		uint8_t s = u8(in);
		uint32_t id = s & 0x80 ? u32(in) : 0x00980900u + (s & 0xf);
		uint32_t size = (s & 3) == 1 ? 1u + u8(in) : (s & 3) == 2 ? u16(in) : 0;
		if ((s & 0x70) == 0x70)
			size = u32(in);
		uint64_t val = u64(in);
		memcpy(c, &id, 4);
		memcpy(c + 4, &size, 4);
		memset(c + 8, 0, 4);
		memcpy(c + 12, &val, 8);
		rput(c, sizeof(c));
		sizes[i] = size;
	}
	for (uint32_t i = 0; i < n; i++)
		put_sg(in, sizes[i]);
	return x.count <= 1024 ? 8 + 32 + x.count * 20 : 8 + 32;
}

static uint32_t build_plain(struct in *in, const struct vmedia_ioctl_desc *d)
{
	if (d->dir & VMEDIA_IOCTL_DIR_W) {
		if (d->nr == _IOC_NR(VIDIOC_REQBUFS)) {
			struct v4l2_requestbuffers r;
			memset(&r, 0, sizeof(r));
			uint8_t c = u8(in);
			r.count = c < 0xf0 ? c % 10 : u32(in);
			r.type = pick_type(in);
			r.memory = pick_memory(in);
			rput(&r, sizeof(r));
		} else if (d->nr == _IOC_NR(VIDIOC_CREATE_BUFS)) {
			struct v4l2_create_buffers c;
			memset(&c, 0, sizeof(c));
			c.count = u8(in) % 10;
			c.memory = pick_memory(in);
			c.format.type = pick_type(in);
			rput(&c, sizeof(c));
		} else if (d->nr == _IOC_NR(VIDIOC_SUBSCRIBE_EVENT) ||
			   d->nr == _IOC_NR(VIDIOC_UNSUBSCRIBE_EVENT)) {
			struct v4l2_event_subscription e;
			memset(&e, 0, sizeof(e));
			uint8_t t = u8(in);
			e.type = t % 4 == 0 ? V4L2_EVENT_ALL : t % 4 == 3 ? u32(in) : t % 8;
			e.flags = t & 0x10 ? V4L2_EVENT_SUB_FL_SEND_INITIAL : 0;
			e.id = t & 0x20 ? u32(in) : 0;
			rput(&e, sizeof(e));
		} else {
			rtake(in, d->size);
		}
	}
	return 8 + ((d->dir & VMEDIA_IOCTL_DIR_R) ? d->size : 0);
}

/* Fill rd[] with one command; returns the writable size it needs. */
static uint32_t build_command(struct in *in, bool *bad)
{
	rl = 0;
	uint8_t t = u8(in);
	*bad = (t & 0x30) == 0x30;
	uint32_t want = 0;
	switch (t % 8) {
	case 0: { /* raw bytes */
		uint16_t n = u16(in) % 512;
		rtake(in, n);
		want = u16(in) % 512;
		break;
	}
	case 1:
		rput32(VMEDIA_CMD_OPEN);
		rput32(0);
		want = 16;
		break;
	case 2:
		rput32(VMEDIA_CMD_CLOSE);
		rput32(0);
		rput32(pick_sid(in));
		rput32(0);
		want = 0;
		break;
	case 3: case 4: case 7: {
		uint32_t code;
		uint8_t c = u8(in);
		if (t % 8 == 4)
			code = c % 111;
		else if (c < 0xf8)
			code = codes[c % ncodes];
		else
			code = c == 0xff ? u32(in) : 104 + c % 8;
		rput32(VMEDIA_CMD_IOCTL);
		rput32(0);
		rput32(pick_sid(in));
		rput32(code);
		const struct vmedia_ioctl_desc *d = vmedia_ioctl_lookup(code);
		if (!d) {
			rtake(in, u8(in));
			want = 8;
			break;
		}
		switch (d->kind) {
		case VMEDIA_IOCTL_KIND_PLAIN: want = build_plain(in, d); break;
		case VMEDIA_IOCTL_KIND_BUFFER: want = build_buffer(in); break;
		case VMEDIA_IOCTL_KIND_EXT_CTRLS: want = build_ext_ctrls(in); break;
		case VMEDIA_IOCTL_KIND_EXPBUF:
			rtake(in, sizeof(struct v4l2_exportbuffer) + VMEDIA_UUID_SIZE);
			want = 8 + sizeof(struct v4l2_exportbuffer) + VMEDIA_UUID_SIZE;
			break;
		default:
			rtake(in, d->size);
			want = 8 + d->size;
			break;
		}
		break;
	}
	case 5: { /* MMAP an offset the device handed out, or another */
		rput32(VMEDIA_CMD_MMAP);
		rput32(0);
		rput32(pick_sid(in));
		uint8_t f = u8(in);
		rput32(f & 0x80 ? u32(in) : f & 1);
		uint8_t o = u8(in);
		uint32_t off;
		if (o < 0xc0 && S.nranges)
			off = S.ranges[o % S.nranges].off;
		else if (o < 0xf0)
			off = (o % 64) * PAGE + (o & 0x1 ? 0 : (o & 0xe));
		else
			off = u32(in);
		rput32(off);
		want = 24;
		break;
	}
	case 6: { /* MUNMAP */
		rput32(VMEDIA_CMD_MUNMAP);
		rput32(0);
		uint8_t o = u8(in);
		uint64_t addr;
		if (o < 0xc0 && S.nranges)
			addr = S.ranges[o % S.nranges].off;
		else if (o < 0xf0)
			addr = (uint64_t)(o % 64) * PAGE;
		else
			addr = u64(in);
		rput64(addr);
		want = 8;
		break;
	}
	}
	if (t & 8) { /* truncate, or add trailing bytes */
		uint8_t m = u8(in);
		if (m & 1)
			rl = rl ? (uint32_t)(u16(in) % rl) : 0;
		else
			rtake(in, m >> 1);
	}
	return want;
}

/* ------------------------------------------------------------------------ */
/* Chains. */

static void cut(struct in *in, uint32_t total, unsigned n, uint32_t *len)
{
	uint32_t pos[9];
	pos[0] = 0;
	for (unsigned i = 1; i < n; i++)
		pos[i] = (uint32_t)((uint64_t)total * u8(in) / 255);
	pos[n] = total;
	/* insertion sort of the inner cuts */
	for (unsigned i = 2; i < n; i++)
		for (unsigned j = i; j > 1 && pos[j - 1] > pos[j]; j--) {
			uint32_t t = pos[j];
			pos[j] = pos[j - 1];
			pos[j - 1] = t;
		}
	for (unsigned i = 0; i < n; i++)
		len[i] = pos[i + 1] - pos[i];
}

/* Shape the command in rd[] into a chain in slot @k and make it available.
 * Returns false if the fake could not take it. */
static bool add_chain(struct in *in, unsigned k, bool alone, uint32_t want, bool bad)
{
	uint8_t sh = u8(in);
	unsigned nr = 1 + (sh & 7);
	bool indirect = sh & 8;
	bool gaps = sh & 0x80;
	uint32_t wlen;
	switch ((sh >> 4) & 7) {
	case 4: { uint32_t d = 1 + u8(in) % 16; wlen = want > d ? want - d : 0; break; }
	case 5: wlen = want + u8(in); break;
	case 6: wlen = 0; break;
	case 7: wlen = u16(in) % WR_MAX; break;
	default: wlen = want; break;
	}
	if (wlen > WR_MAX)
		wlen = WR_MAX;
	unsigned nw = wlen ? 1 + u8(in) % 4 : 0;
	uint32_t rlens[8], wlens[4];
	cut(in, rl, nr, rlens);
	if (nw)
		cut(in, wlen, nw, wlens);
	uint8_t p = u8(in);

	uint32_t rspan = rl + (gaps ? 16 * nr : 0);
	uint64_t slot = GPA + AREA_START + (uint64_t)k * CMD_SLOT;
	uint64_t rbase, wbase;
	if (alone && p % 4 == 3) { /* readable bytes across the region boundary */
		rbase = GPA + BOUNDARY - 1 - (p >> 2) * 16u;
		wbase = (rbase + rspan + 64 + 15) & ~15ull;
	} else if (alone && p % 4 == 2) { /* writable bytes across it */
		wbase = GPA + BOUNDARY - 1 - (p >> 2) * 16u;
		rbase = wbase - 64 - rspan;
	} else {
		rbase = slot + (p >> 2) * 64u;
		wbase = (rbase + rspan + 64 + 15) & ~15ull;
	}
	CHECK(rbase >= GPA + AREA_START && wbase + wlen <= GPA + DATA_START);

	struct vq_fake_buf bufs[12];
	unsigned n = 0;
	uint64_t at = rbase;
	uint32_t off = 0;
	for (unsigned i = 0; i < nr; i++) {
		CHECK(vq_fake_write_mem(&S.cf, at, rd + off, rlens[i]) == 0);
		bufs[n++] = (struct vq_fake_buf){ at, rlens[i], false };
		at += rlens[i] + (gaps ? 16 : 0);
		off += rlens[i];
	}
	CHECK(vq_fake_write_mem(&S.cf, wbase, poison, wlen) == 0);
	at = wbase;
	for (unsigned i = 0; i < nw; i++) {
		bufs[n++] = (struct vq_fake_buf){ at, wlens[i], true };
		at += wlens[i];
	}
	if (bad) { /* a buffer outside driver memory (empty ones are not looked at) */
		unsigned j = 0;
		while (j < n && bufs[(p + j) % n].len == 0)
			j++;
		if (j < n)
			bufs[(p + j) % n].gpa = p & 0x80 ? 0x1000 : GPA + NREGIONS * REGION;
		else
			bad = false;
	}
	int head = vq_fake_add(&S.cf, bufs, n, indirect ? VQ_FAKE_INDIRECT : 0);
	if (head < 0)
		return false;
	struct crec *c = &S.cmds[S.ncmds++];
	c->bad = bad;
	c->head = (uint16_t)head;
	c->rlen = rl;
	c->wlen = wlen;
	c->wgpa = wbase;
	memcpy(c->rd, rd, rl);
	note_sent(rd, rl);
	TRACE("  chain %u: head %d, %u readable in %u, %u writable in %u%s\n", k, head, rl, nr,
	      wlen, nw, indirect ? ", indirect" : "");
	return true;
}

/* ------------------------------------------------------------------------ */
/* Accounting for a returned chain. */

static void expect(const struct crec *c, uint32_t used, uint32_t st, uint32_t want)
{
	if (c->wlen >= 8) {
		if (st != want)
			fprintf(stderr, "fuzz_media: status %u, expected %u\n", st, want);
		CHECK(st == want && used == 8);
	} else {
		CHECK(used == 0);
	}
}

static bool is_mplane(uint32_t type)
{
	return V4L2_TYPE_IS_MULTIPLANAR(type);
}

static void account_buffer(const struct crec *c, const uint8_t *w, uint32_t used, uint32_t st)
{
	const uint8_t *p = c->rd + 16;
	uint32_t avail = c->rlen - 16;
	if (avail < sizeof(struct v4l2_buffer))
		return expect(c, used, st, EINVAL);
	struct v4l2_buffer b;
	memcpy(&b, p, sizeof(b));
	bool mplane = is_mplane(b.type);
	bool userptr = b.memory == V4L2_MEMORY_USERPTR;
	if (mplane && b.length > VMEDIA_MAX_PLANES)
		return expect(c, used, st, EINVAL);
	uint32_t np = mplane ? b.length : 0;
	uint32_t nuuid = b.memory == V4L2_MEMORY_DMABUF ? (mplane ? np : 1) : 0;
	uint32_t need = (uint32_t)sizeof(b) + np * 64 + nuuid * VMEDIA_UUID_SIZE;
	if (avail < need)
		return expect(c, used, st, EINVAL);
	uint32_t out = 8 + need;
	if (c->wlen < out)
		return expect(c, used, st, EINVAL);
	if (st != 0) {
		CHECK(used == 8);
		return;
	}
	CHECK(used == out);
	struct v4l2_buffer rb;
	memcpy(&rb, w + 8, sizeof(rb));
	if (mplane || userptr)
		CHECK(rb.m.userptr == b.m.userptr);
	if (mplane)
		CHECK(rb.length <= np);
	for (uint32_t i = 0; userptr && i < np; i++) {
		struct v4l2_plane sp, rp;
		memcpy(&sp, p + sizeof(b) + i * 64, sizeof(sp));
		memcpy(&rp, w + 8 + sizeof(b) + i * 64, sizeof(rp));
		CHECK(rp.m.userptr == sp.m.userptr);
	}
}

static void account_ext(const struct crec *c, const uint8_t *w, uint32_t used, uint32_t st)
{
	uint32_t avail = c->rlen - 16;
	if (avail < 32)
		return expect(c, used, st, EINVAL);
	uint32_t count = rd32(c->rd + 16 + 4);
	if (count > 1024)
		return expect(c, used, st, EINVAL);
	if (avail < 32 + count * 20 || c->wlen < 8 + 32 + count * 20)
		return expect(c, used, st, EINVAL);
	/* Written back even on error (error_idx). */
	CHECK(used == 8 + 32 + count * 20);
	CHECK(rd64(w + 8 + 24) == rd64(c->rd + 16 + 24));
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *sc = c->rd + 16 + 32 + i * 20;
		const uint8_t *rc = w + 8 + 32 + i * 20;
		CHECK(rd32(rc) == rd32(sc));         /* id */
		CHECK(rd32(rc + 4) == rd32(sc + 4)); /* size */
		if (rd32(sc + 4))
			CHECK(rd64(rc + 12) == rd64(sc + 12)); /* the guest's pointer */
	}
}

static void account_ioctl(const struct crec *c, const uint8_t *w, uint32_t used, uint32_t st)
{
	uint32_t sid = rd32(c->rd + 8), code = rd32(c->rd + 12);
	if (open_idx(sid) < 0)
		return expect(c, used, st, EINVAL);
	const struct vmedia_ioctl_desc *d = vmedia_ioctl_lookup(code);
	if (!d || hook_missing(d))
		return expect(c, used, st, ENOTTY);
	switch (d->kind) {
	case VMEDIA_IOCTL_KIND_PLAIN: {
		uint32_t out = 8 + ((d->dir & VMEDIA_IOCTL_DIR_R) ? d->size : 0);
		if ((d->dir & VMEDIA_IOCTL_DIR_W) && c->rlen - 16 < d->size)
			return expect(c, used, st, EINVAL);
		if (c->wlen < out)
			return expect(c, used, st, EINVAL);
		if (d->nr == _IOC_NR(VIDIOC_SUBSCRIBE_EVENT) &&
		    rd32(c->rd + 16) == V4L2_EVENT_ALL)
			return expect(c, used, st, EINVAL);
		CHECK(used == (st ? 8 : out));
		return;
	}
	case VMEDIA_IOCTL_KIND_BUFFER:
		return account_buffer(c, w, used, st);
	case VMEDIA_IOCTL_KIND_EXT_CTRLS:
		return account_ext(c, w, used, st);
	case VMEDIA_IOCTL_KIND_EXPBUF: {
		uint32_t n = sizeof(struct v4l2_exportbuffer) + VMEDIA_UUID_SIZE;
		if (c->rlen - 16 < n || c->wlen < 8 + n)
			return expect(c, used, st, EINVAL);
		CHECK(used == (st ? 8 : 8 + n));
		return;
	}
	default:
		return expect(c, used, st, ENOTTY);
	}
}

static void account(const struct crec *c, uint32_t used)
{
	if (c->bad) {
		CHECK(used == 0);
		return;
	}
	CHECK(used <= c->wlen);
	CHECK(vq_fake_read_mem(&S.cf, c->wgpa, wbuf, c->wlen) == 0);
	for (uint32_t i = used; i < c->wlen; i++)
		CHECK(wbuf[i] == POISON); /* nothing written past the used length */
	scan_host(wbuf, used, "a response");
	uint32_t st = NO_STATUS;
	if (c->wlen >= 8) {
		CHECK(used >= 8);
		st = rd32(wbuf);
		CHECK(st <= 133);
		CHECK(rd32(wbuf + 4) == 0);
	}
	if (c->rlen < 8)
		return expect(c, used, st, EINVAL);
	uint32_t cmd = rd32(c->rd);
	TRACE("  cmd %u: status %d, used %u of %u\n", cmd, (int)st, used, c->wlen);
	switch (cmd) {
	case VMEDIA_CMD_OPEN:
		if (c->wlen < 16)
			return expect(c, used, st, EINVAL);
		if (st == 0) {
			CHECK(used == 16);
			uint32_t id = rd32(wbuf + 8);
			TRACE("  opened %u\n", id);
			model_open(id);
		} else {
			CHECK(used == 8);
			if (S.nopen >= MAX_SESSIONS)
				CHECK(st == EBUSY);
		}
		return;
	case VMEDIA_CMD_CLOSE: {
		if (c->rlen < 16)
			return expect(c, used, st, EINVAL);
		bool found = model_close(rd32(c->rd + 8));
		return expect(c, used, st, found ? 0 : EINVAL);
	}
	case VMEDIA_CMD_IOCTL:
		if (c->rlen < 16)
			return expect(c, used, st, EINVAL);
		return account_ioctl(c, wbuf, used, st);
	case VMEDIA_CMD_MMAP: {
		if (c->rlen < 20 || open_idx(rd32(c->rd + 8)) < 0 || c->wlen < 24)
			return expect(c, used, st, EINVAL);
		if (!S.has_shm)
			return expect(c, used, st, ENODEV);
		uint32_t off = rd32(c->rd + 16);
		bool rw = rd32(c->rd + 12) & VMEDIA_MMAP_FLAG_RW;
		int i = mr_find(off);
		if (i < 0 || !S.ranges[i].live)
			return expect(c, used, st, EINVAL);
		struct mrange *r = &S.ranges[i];
		if (S.shm_ops && (r->maps == 0 || (rw && !r->rw)) && map_fails(off, rw))
			return expect(c, used, st, ENOMEM);
		CHECK(st == 0 && used == 24);
		CHECK(rd64(wbuf + 8) == off);
		CHECK(rd64(wbuf + 16) == r->len);
		r->maps++;
		r->rw = r->rw || rw;
		if (S.shm_ops && S.ncmds == 1) { /* later chains may have unmapped it */
			int t = tmap_find(off);
			CHECK(t >= 0 && S.tmaps[t].len == r->span && (S.tmaps[t].rw || !rw));
		}
		return;
	}
	case VMEDIA_CMD_MUNMAP: {
		if (c->rlen < 16)
			return expect(c, used, st, EINVAL);
		uint64_t addr = rd64(c->rd + 8);
		int i = addr <= UINT32_MAX ? mr_find(addr) : -1;
		if (i < 0 || S.ranges[i].maps == 0)
			return expect(c, used, st, EINVAL);
		if (--S.ranges[i].maps == 0) {
			S.ranges[i].rw = false;
			if (!S.ranges[i].live)
				mr_remove(i);
		}
		return expect(c, used, st, 0);
	}
	default:
		return expect(c, used, st, ENOTTY);
	}
}

/* ------------------------------------------------------------------------ */
/* The eventq. */

/* Post @n eventq buffers, shaped by the input, or all of the driver's usual
 * 608 bytes if @in is NULL. */
static void post_event_bufs(struct in *in, unsigned n)
{
	for (unsigned b = 0; b < n; b++) {
		unsigned j = 0;
		while (j < EVQ_SIZE && S.ev[j].live)
			j++;
		if (j == EVQ_SIZE)
			return;
		uint8_t m = in ? u8(in) : 0;
		uint64_t gpa = S.ev_area + (uint64_t)j * EV_SLOT;
		struct vq_fake_buf bufs[2];
		unsigned nb = 0;
		uint32_t wlen = VMEDIA_EVENTQ_BUF_SIZE;
		switch (m % 8) {
		case 5:
			wlen = u8(in) * 4u;
			if (wlen > EV_SLOT - 32)
				wlen = EV_SLOT - 32;
			bufs[nb++] = (struct vq_fake_buf){ gpa, wlen, true };
			break;
		case 6: {
			uint32_t c1 = u8(in) * 608u / 255;
			bufs[nb++] = (struct vq_fake_buf){ gpa, c1, true };
			bufs[nb++] = (struct vq_fake_buf){ gpa + c1, wlen - c1, true };
			break;
		}
		case 7:
			bufs[nb++] = (struct vq_fake_buf){ gpa + EV_SLOT - 16, 16, false };
			bufs[nb++] = (struct vq_fake_buf){ gpa, wlen, true };
			if (m & 0x80) /* outside driver memory: handed back unused */
				bufs[0].gpa = 0x1000;
			break;
		default:
			bufs[nb++] = (struct vq_fake_buf){ gpa, wlen, true };
			break;
		}
		CHECK(vq_fake_write_mem(&S.ef, gpa, poison, wlen) == 0);
		int head = vq_fake_add(&S.ef, bufs, nb, 0);
		if (head < 0)
			return;
		S.ev[j] = (struct evrec){ true, m % 8 == 7 && (m & 0x80), wlen, gpa };
		S.ev_of_head[head] = (uint8_t)j;
	}
	vq_fake_publish(&S.ef);
}

static void check_event(const uint8_t *b, uint32_t len)
{
	uint32_t type = rd32(b), sid = rd32(b + 4);
	TRACE("  event %u for %u, %u bytes\n", type, sid, len);
	CHECK(sid < S.issued);
	/* Nothing for a session closed before this step began. */
	if (sid < ID_TRACK)
		CHECK(S.closed_step[sid] == 0 || S.closed_step[sid] == S.step + 1);
	scan_host(b, len, "an event");
	switch (type) {
	case VMEDIA_EVT_ERROR: {
		CHECK(len == sizeof(struct vmedia_event_error));
		uint32_t err = rd32(b + 8);
		CHECK(err >= 1 && err <= 133);
		CHECK(rd32(b + 12) == 0);
		if (sid < ID_TRACK) {
			CHECK(!S.err_seen[sid]); /* one ERROR per session */
			S.err_seen[sid] = 1;
		}
		break;
	}
	case VMEDIA_EVT_DQBUF: {
		CHECK(len == sizeof(struct vmedia_event_dqbuf));
		struct vmedia_event_dqbuf ev;
		memcpy(&ev, b, sizeof(ev));
		if (is_mplane(ev.buffer.type)) {
			CHECK(ev.buffer.m.userptr == 0);
			CHECK(ev.buffer.length <= VMEDIA_MAX_PLANES);
			for (unsigned i = 0; i < VMEDIA_MAX_PLANES; i++) {
				if (i >= ev.buffer.length) {
					static const struct v4l2_plane zero;
					CHECK(memcmp(&ev.planes[i], &zero, sizeof(zero)) == 0);
				} else if (ev.buffer.memory == V4L2_MEMORY_MMAP ||
					   ev.buffer.memory == V4L2_MEMORY_DMABUF) {
					CHECK(ev.planes[i].m.userptr >> 32 == 0);
				} else {
					CHECK(ev.planes[i].m.userptr == 0);
				}
			}
		} else {
			if (ev.buffer.memory == V4L2_MEMORY_MMAP ||
			    ev.buffer.memory == V4L2_MEMORY_DMABUF)
				CHECK(ev.buffer.m.userptr >> 32 == 0);
			else
				CHECK(ev.buffer.m.userptr == 0);
			static const struct v4l2_plane zero[VMEDIA_MAX_PLANES];
			CHECK(memcmp(ev.planes, zero, sizeof(zero)) == 0);
		}
		break;
	}
	case VMEDIA_EVT_EVENT:
		CHECK(len == sizeof(struct vmedia_event_event));
		break;
	default:
		CHECK(!"unknown event");
	}
}

static void drain_events(void)
{
	uint32_t id, len;
	while (vq_fake_get_used(&S.ef, &id, &len)) {
		CHECK(id < EVQ_SIZE);
		struct evrec *e = &S.ev[S.ev_of_head[id]];
		CHECK(e->live);
		e->live = false;
		if (e->bad) {
			CHECK(len == 0);
			continue;
		}
		CHECK(len <= e->wlen);
		CHECK(vq_fake_read_mem(&S.ef, e->gpa, wbuf, e->wlen) == 0);
		for (uint32_t i = len; i < e->wlen; i++)
			CHECK(wbuf[i] == POISON);
		if (len == 0) {
			CHECK(e->wlen < VMEDIA_EVENTQ_BUF_SIZE); /* only a too-small buffer */
			continue;
		}
		check_event(wbuf, len);
	}
}

/* ------------------------------------------------------------------------ */
/* Steps. */

static void check_state(void)
{
	struct vmedia_device *d = &S.dev;
	check_backlog();
	CHECK(d->nsessions == S.nopen);
	CHECK(d->nsessions <= d->max_sessions);
	CHECK(S.opens - S.closes == d->nsessions);
	uint32_t n = 0;
	for (uint32_t i = 0; i < d->nslots; i++) {
		const struct vmedia_session *s = &d->sessions[i];
		if (!s->in_use)
			continue;
		n++;
		CHECK((s->id & (d->nslots - 1)) == i);
		CHECK(open_idx(s->id) >= 0);
		CHECK(s->priv && ((struct fsess *)s->priv)->id == s->id);
		CHECK(vmedia_session_find(d, s->id) == s);
	}
	CHECK(n == S.nopen);
	for (uint32_t i = 0; i < S.nopen; i++)
		CHECK(vmedia_session_find(d, S.open_ids[i]) != NULL);
	/* The runner holds no user memory between commands. */
	CHECK(d->usermem_used == held_bounced(NULL));
	CHECK(d->usermem_used <= d->usermem_limit);
	/* The device's live buffers are the model's live ranges. */
	uint32_t live = 0, dev_live = 0;
	for (uint32_t i = 0; i < S.nranges; i++)
		live += S.ranges[i].live;
	for (uint32_t i = 0; i < d->nslots; i++) {
		const struct vmedia_session *s = &d->sessions[i];
		if (!s->in_use)
			continue;
		const struct fsess *fs = s->priv;
		for (unsigned k = 0; k < NMM; k++)
			dev_live += fs->mm[k].valid;
	}
	CHECK(live == dev_live);
	CHECK(!vq_queue_is_broken(&S.cmdq) && !vq_queue_is_broken(&S.evq));
}

static void step_commands(struct in *in, unsigned n)
{
	for (unsigned i = 0; i < NBEH; i++)
		S.beh[i] = u8(in);
	S.beh_i = 0;
	S.ncmds = 0;
	S.nlog = 0;
	for (unsigned k = 0; k < n; k++) {
		bool bad;
		uint32_t want = build_command(in, &bad);
		add_chain(in, k, n == 1, want, bad);
	}
	if (!S.ncmds)
		return;
	uint32_t nbad = 0;
	for (uint32_t k = 0; k < S.ncmds; k++)
		nbad += S.cmds[k].bad;
	vq_fake_publish(&S.cf);
	S.in_process = true;
	S.step_base = vq_queue_last_avail(&S.cmdq);
	int r = vmedia_device_process_commands(&S.dev);
	S.in_process = false;
	CHECK(r == (int)(S.ncmds - nbad));
	for (uint32_t k = 0; k < S.ncmds; k++) {
		uint32_t id, len;
		CHECK(vq_fake_get_used(&S.cf, &id, &len) == 1);
		CHECK(id == S.cmds[k].head); /* in order, each once */
		account(&S.cmds[k], len);
		mr_apply_chain((uint16_t)k);
	}
	uint32_t id, len;
	CHECK(vq_fake_get_used(&S.cf, &id, &len) == 0);
	S.nlog = 0;
}

static void step_eventq(struct in *in)
{
	post_event_bufs(in, u8(in) % 9);
	int r = vmedia_device_process_eventq(&S.dev);
	CHECK(r >= 0);
}

static struct vmedia_session *pick_open(struct in *in)
{
	uint8_t s = u8(in);
	if (!S.nopen)
		return NULL;
	struct vmedia_session *ses = vmedia_session_find(&S.dev, S.open_ids[s % S.nopen]);
	CHECK(ses);
	return ses;
}

/* What a device does on its own time. */
static void step_device(struct in *in)
{
	uint8_t a = u8(in);
	struct vmedia_session *s = pick_open(in);
	if (!s)
		return;
	struct fsess *fs = fs_of(s);
	uint8_t b = u8(in);
	unsigned k = b % NQ;
	switch (a % 8) {
	case 0: /* the oldest queued buffer is done */
		for (unsigned i = 0; i < NQ; i++)
			if (fs->q[i].used) {
				complete(s, i, b & 0x10 ? V4L2_BUF_FLAG_ERROR : 0, b);
				break;
			}
		break;
	case 1: /* all of them */
		for (unsigned i = 0; i < NQ; i++)
			if (fs->q[i].used)
				complete(s, i, i == NQ - 1 ? V4L2_BUF_FLAG_LAST : 0, b);
		break;
	case 2:
		send_event_checked(s, u8(in) % 8, b);
		break;
	case 3: {
		uint8_t e = u8(in);
		send_error_checked(s, e == 0 ? 0 : e < 0xf0 ? errs[e % NERRS] : e % 134);
		break;
	}
	case 4:
		if (b & 0x80) { /* an offset the device does not own */
			uint32_t off = u8(in) * PAGE + (b & 0x40 ? 0 : 8);
			int i = mr_find(off);
			if (i < 0 || !S.ranges[i].live)
				CHECK(vmedia_mmap_free(&S.dev, off) == -ENOENT);
		} else {
			mm_free(s, k);
		}
		break;
	case 5: /* let go of one buffer's user memory */
		if (fs->q[k].used)
			put_mems(&fs->q[k].vb, b & 1);
		break;
	case 6:
		if (fs->q[k].used)
			for (unsigned j = 0; j < VMEDIA_MAX_PLANES; j++)
				if (fs->q[k].vb.mem[j]) {
					memset(fs->q[k].vb.mem[j]->ptr, b, fs->q[k].vb.mem[j]->len);
					CHECK(vmedia_usermem_sync(fs->q[k].vb.mem[j]) == 0);
				}
		break;
	default: { /* a DQBUF the device made up, planes count and all */
		struct vmedia_buffer vb;
		memset(&vb, 0, sizeof(vb));
		vb.b.index = b;
		vb.b.type = b & 1 ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE : V4L2_BUF_TYPE_VIDEO_CAPTURE;
		vb.b.memory = 1 + (b >> 1) % 4;
		uint8_t l = u8(in);
		vb.b.length = l < 0xf0 ? l % 10 : u32(in);
		vb.b.m.userptr = (unsigned long)(uintptr_t)&vb;
		for (unsigned j = 0; j < VMEDIA_MAX_PLANES; j++) {
			vb.planes[j].m.userptr = (unsigned long)(uintptr_t)fs;
			vb.planes[j].length = j;
		}
		send_dqbuf_checked(s, &vb);
		break;
	}
	}
}

static void setup(struct in *in)
{
	uint8_t h0 = u8(in), h1 = u8(in), h2 = u8(in);
	uint64_t features = 1ull << VQ_F_INDIRECT_DESC;
	if (h1 & 0x40)
		features |= 1ull << VQ_F_EVENT_IDX;
	CHECK(vq_fake_init(&S.cf, &(struct vq_fake_config){
		.size = CMDQ_SIZE, .features = features, .gpa_base = GPA,
		.region_size = REGION, .nregions = NREGIONS }) == 0);
	CHECK(vq_fake_init(&S.ef, &(struct vq_fake_config){
		.size = EVQ_SIZE, .gpa_base = EV_GPA, .region_size = 64u * KiB }) == 0);
	/* Chains and the SG-visible area, in one piece; tables come after. */
	CHECK(vq_fake_alloc(&S.cf, DATA_END - AREA_START) == GPA + AREA_START);
	S.ev_area = vq_fake_alloc(&S.ef, EVQ_SIZE * EV_SLOT);
	CHECK(S.ev_area != 0);

	vq_mem_init(&S.umem);
	if (h2 & 4) {
		/* Page i of the area is host page 29 - i: no two pages adjacent. */
		const uint32_t n = (DATA_END - DATA_START) / PAGE;
		for (uint32_t i = 0; i < n; i++) {
			void *host = vq_fake_host(&S.cf, GPA + DATA_START + (n - 1 - i) * PAGE, PAGE);
			CHECK(host && vq_mem_add_region(&S.umem, GPA + DATA_START + i * PAGE, PAGE,
							host) == 0);
		}
	} else {
		static const uint32_t cuts[] = { DATA_START, DATA_SPLIT, DATA_CROSS, DATA_END };
		for (unsigned i = 0; i < 3; i++) {
			uint64_t gpa = GPA + cuts[i];
			uint32_t len = cuts[i + 1] - cuts[i];
			void *host = vq_fake_host(&S.cf, gpa, len);
			CHECK(host && vq_mem_add_region(&S.umem, gpa, len, host) == 0);
		}
	}

	struct vq_queue_config qc;
	vq_fake_queue_config(&S.cf, &qc);
	CHECK(vq_queue_init(&S.cmdq, &qc) == 0);
	vq_fake_queue_config(&S.ef, &qc);
	CHECK(vq_queue_init(&S.evq, &qc) == 0);

	S.has_shm = !(h1 & 0x80);
	if (S.has_shm) {
		CHECK(vmedia_shm_init_memfd(&S.shm, SHM_SIZE) == 0);
		S.shm_ops = h2 & 1;
		S.map_fail = S.shm_ops && (h2 & 2);
		if (S.shm_ops) {
			S.shm.ops = &tr_ops;
			S.shm.opaque = &S;
		}
	}
	S.sparse = h2 & 8;
	S.max_buffers = h1 & 0x20 ? 4 : 32;
	struct vmedia_device_config dc = {
		.ops = S.sparse ? &fz_sparse_ops : &fz_ops,
		.commandq = &S.cmdq,
		.eventq = &S.evq,
		.mem = &S.umem,
		.shm = S.has_shm ? &S.shm : NULL,
		.max_sessions = MAX_SESSIONS,
		.max_buffers = S.max_buffers,
		.event_backlog = 1 + h1 % 8,
		.usermem_limit = h1 & 0x10 ? 16u * KiB : 1u << 20,
		.config = { .device_caps = V4L2_CAP_VIDEO_M2M_MPLANE | V4L2_CAP_STREAMING },
	};
	CHECK(vmedia_device_init(&S.dev, &dc) == 0);
	S.dev_up = true;

	S.nhr = 0;
	hr_add(S.cf.map, S.cf.map_len);
	hr_add(S.ef.map, S.ef.map_len);
	if (S.has_shm)
		hr_add(S.shm.host, S.shm.size);
	hr_add(&S, sizeof(S));
	hr_add(rd, sizeof(rd));
	hr_add(wbuf, sizeof(wbuf));
	hr_add(S.dev.sessions, S.dev.nslots * sizeof(*S.dev.sessions));
	hr_add(S.dev.backlog, 1); /* opaque types: their start addresses at least */
	hr_add(S.dev.cmd_iov, S.dev.cmd_iov_cap * sizeof(*S.dev.cmd_iov));
	hr_add(S.dev.ctrl_scratch, 1024 * sizeof(*S.dev.ctrl_scratch));
	hr_add(S.dev.ctrl_mem_scratch, 1024 * sizeof(*S.dev.ctrl_mem_scratch));
	hr_add(S.dev.ctrl_ptr_scratch, 1024 * sizeof(*S.dev.ctrl_ptr_scratch));
	hr_add(S.dev.ranges, 1);
	hr_add((const void *)&fz_ops, sizeof(fz_ops));

	/* The driver posted its event buffers before the device existed. */
	post_event_bufs(NULL, h0 % 17);
	CHECK(vmedia_device_process_eventq(&S.dev) >= 0);
	drain_events();
	check_state();
}

static void teardown(void)
{
	S.teardown = true;
	vmedia_device_destroy(&S.dev);
	S.dev_up = false;
	CHECK(S.opens == S.closes);
	CHECK(S.ntmaps == 0); /* destroy unmapped what the driver still mapped */
	vq_queue_destroy(&S.cmdq);
	vq_queue_destroy(&S.evq);
	if (S.has_shm)
		vmedia_shm_destroy(&S.shm);
	vq_fake_destroy(&S.cf);
	vq_fake_destroy(&S.ef);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	volatile uint8_t mark = 0;
	init_codes();
	if (!fz_sparse_ops.open)
		init_sparse();
	if (!poison[0])
		memset(poison, POISON, sizeof(poison));
	memset(&S, 0, sizeof(S));
	S.input = data;
	S.input_len = size;
	nsent = 0;
	sent_full = false;
	S.stack_mark = (uintptr_t)&mark;
	struct in in = { data, size };
	setup(&in);
	for (S.step = 0; S.step < MAX_STEPS && in.n; S.step++) {
		uint8_t op = u8(&in);
		TRACE("step %u: op %u\n", S.step, op % 8);
		switch (op % 8) {
		case 4: step_commands(&in, 2 + (op >> 3) % 2); break;
		case 5: step_eventq(&in); break;
		case 6: case 7: step_device(&in); break;
		default: step_commands(&in, 1); break;
		}
		drain_events();
		check_state();
	}
	teardown();
	return 0;
}
