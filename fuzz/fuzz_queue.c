/* SPDX-License-Identifier: MIT */
/*
 * fuzz_queue — a hostile driver against the device queue (libFuzzer).
 *
 * The input is a little program.  Five header bytes set the scene:
 *   h0  queue size = 1 << (h0 % 9)                          (1..256)
 *   h1  bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bits 2-3 regions - 1,
 *       bit 4 64 KiB regions (else 16 KiB), bit 5 no notify callback
 *   h2  guest-physical base: 4 GiB, 4 KiB, just below 4 GiB (regions
 *       straddle 2^32), 2 GiB, 1 MiB below 2^64
 *   h3  how the device sees memory (% 4): the fake's region table; a
 *       translator that splits at every page; a translator that lies every
 *       (h3 >> 2) % 8 + 2 calls; each region split in two host-adjacent
 *       regions (cut 1-3 pages in) added in reverse order
 *   h4  transport mistakes in the queue config (% 8; 0-3 none)
 * then opcodes (byte % NOPS, see enum op) with their operands.  Operands
 * read past the end are 0, so every input is a valid program.
 *
 * The fake driver owns guest memory and rings; ops write raw descriptors,
 * indirect tables, avail entries and indices, or publish well-formed chains;
 * the device pops, reads, writes, exports iovecs, pushes and flushes.  Beside
 * "no crash, leak, hang or UB", it checks what must always hold:
 *  - pop returns 1, 0, -EIO or a documented chain error, exactly as the ring
 *    state predicts; after -EIO every call answers -EIO and the used ring
 *    stays untouched;
 *  - every chain, raw or not, pops as a plain reference walk of the rules
 *    says: accepted with exactly its segments, -ENOBUFS, or some chain error;
 *  - a popped chain's lengths are the sums of its segments, every segment
 *    is non-empty and lies inside the fake's host memory, a bad chain goes
 *    back with 0 written;
 *  - reader, writer, skip and iovec export agree with an independent walk of
 *    the segments; written never exceeds writable_len;
 *  - the used ring holds exactly what was pushed, published by flush, and
 *    flush notifies exactly when the driver asked; the device never writes
 *    the descriptor table or the available ring;
 *  - after enable_notify() says 0 the next publish kicks (no lost wakeup);
 *    after disable_notify() publishes do not kick;
 *  - while no raw op has been made, every chain the fake published pops with
 *    the outcome, lengths and bytes (read through guest addresses) expected.
 * A violated invariant prints its line and traps.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vq_chain.h"
#include "vq_fake.h"

#include "fuzz_common.h"

#define PAGE 4096u
#define NSLOTS 4
#define MAX_IOV 8192
#define NTABLES 8
#define MAX_BUFS 8
#define FIFO_CAP 512
#define COPY_BUDGET (4u << 20) /* bytes copied per input; then skip */
#define CHUNK_COST 64           /* budget charged per call on top of its bytes */
#define CHUNK_MAX 4096

enum op {
	OP_DESC,         /* idx addr len flags next */
	OP_TABLE_ALLOC,  /* k n */
	OP_TABLE_WRITE,  /* k i addr len flags next */
	OP_RAW_HEAD,     /* head */
	OP_SET_AVAIL,    /* mode, u16 or i8 delta */
	OP_PUBLISH,
	OP_FAKE_ADD,     /* b, then per buffer: w len */
	OP_POP,          /* slot|cap */
	OP_READ,         /* slot|mode, chunk, amount */
	OP_WRITE,        /* slot|mode, chunk, amount */
	OP_SKIP,         /* slot|which, len */
	OP_IOV,          /* slot|which, max, len */
	OP_PUSH,         /* slot|mode, operand */
	OP_FLUSH,
	OP_DISABLE_NOTIFY,
	OP_ENABLE_NOTIFY,
	OP_GET_USED,     /* count */
	OP_IRQ,          /* mode, u16 */
	OP_PENDING,
	OP_REINIT,       /* mode, u16 */
	OP_INDIRECT_DESC, /* idx k mode [len] flags next */
	NOPS
};

enum mem_mode { MEM_FAKE, MEM_PAGES, MEM_LIAR, MEM_SPLIT };

/* An index: one byte, or 0xff and a raw u16. */
static uint16_t idx16(struct in *in)
{
	uint8_t b = u8(in);
	return b == 0xff ? u16(in) : b;
}

struct mbuf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/* A chain the fake published while the model still knew the whole ring. */
struct mchain {
	uint16_t head;
	uint8_t n;
	bool indirect;
	uint64_t table;
	struct mbuf b[MAX_BUFS];
};

/* Independent cursor over a run of segments, to check the library's. */
struct mcur {
	const struct iovec *iov;
	uint32_t n, seg;
	size_t off;
};

struct slot {
	bool live;
	bool clean; /* its bytes can be checked through guest addresses */
	struct mchain m;
	struct vq_chain c;
	struct vq_reader r;
	struct vq_writer w;
	struct mcur mr, mw;
	uint64_t rdone, wdone; /* bytes consumed / written, per the model */
	struct iovec iov[MAX_IOV];
};

static struct st {
	struct vq_fake f;
	struct vq_mem mem; /* the device's view, when not the fake's own */
	struct vq_queue_config cfg;
	struct vq_queue q;
	enum mem_mode mem_mode;
	unsigned lie_period, lie_count;
	uint64_t split_cut; /* MEM_SPLIT: offset of the cut in each region */
	uint64_t region_size, gpa_base;
	unsigned nregions;
	uint64_t arena;
	uint32_t arena_len, arena_pos;
	uint64_t table_gpa[NTABLES];
	uint32_t table_n[NTABLES];
	bool clean;     /* no raw op yet: the model knows every available chain */
	bool model_ok;  /* rings are the fake's and no device write can reach them */
	bool armed;     /* enable_notify said 0: the next publish must kick */
	bool quiet;     /* disable_notify on a working queue: publishes must not kick */
	bool base_moved; /* a reinit set last_avail to something the driver never had */
	bool rings_moved; /* the queue sits on rings the fake did not lay out */
	bool has_notify;
	uint64_t irqs;
	uint64_t copied;
	struct vq_used_elem used_model[256];
	uint16_t model_shadow, model_published;
	struct mchain fifo[FIFO_CAP];
	unsigned fifo_head, fifo_len;
	struct slot slot[NSLOTS];
	uint8_t ring_snap[16 * 256 + 6 + 2 * 256 + 6 + 8 * 256];
	uint8_t buf[CHUNK_MAX], want[CHUNK_MAX];
	struct iovec out[MAX_IOV];
} S;

static void notify_cb(void *opaque)
{
	(void)opaque;
	S.irqs++;
}

/* ---- memory views ---- */

static bool in_host_memory(const void *base, size_t len)
{
	uintptr_t b = (uintptr_t)base;
	for (unsigned i = 0; i < S.f.mem.nregions; i++) {
		uintptr_t h = (uintptr_t)S.f.mem.regions[i].host;
		if (b >= h && b - h <= S.region_size && len <= S.region_size - (b - h))
			return true;
	}
	return false;
}

static void *translate(void *opaque, uint64_t gpa, uint64_t len, uint64_t *contig)
{
	(void)opaque;
	/* The library promises len >= 1 and no wrap. */
	CHECK(len >= 1 && gpa + (len - 1) >= gpa);
	const struct vq_mem *m = &S.f.mem;
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct vq_mem_region *r = &m->regions[i];
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		uint64_t off = gpa - r->gpa;
		uint64_t n = r->size - off;
		if (S.mem_mode == MEM_PAGES || S.mem_mode == MEM_LIAR) {
			uint64_t page = PAGE - (gpa % PAGE);
			if (page < n)
				n = page;
		}
		if (n > len)
			n = len;
		if (S.mem_mode == MEM_LIAR && ++S.lie_count % S.lie_period == 0) {
			switch (S.lie_count / S.lie_period % 3) {
			case 0: *contig = len + 1; break;
			case 1: *contig = 0; break;
			default: return NULL;
			}
			return (char *)r->host + off;
		}
		*contig = n;
		return (char *)r->host + off;
	}
	return NULL;
}

/* Host segments of [gpa, gpa+len) as the fake lays memory out. */
static unsigned regions_spanned(uint64_t gpa, uint32_t len)
{
	if (!len)
		return 0;
	uint64_t first = (gpa - S.gpa_base) / S.region_size;
	uint64_t last = (gpa + len - 1 - S.gpa_base) / S.region_size;
	return (unsigned)(last - first + 1);
}

/* Is [gpa, gpa+len) wholly inside the fake's guest memory (len >= 1)? */
static bool inside(uint64_t gpa, uint64_t len)
{
	uint64_t mem = (uint64_t)S.nregions * S.region_size;
	return gpa >= S.gpa_base && gpa - S.gpa_base < mem && len <= mem - (gpa - S.gpa_base);
}

/* Would vq_mem_map give one host pointer for this range? */
static bool contiguous(uint64_t gpa, uint32_t len)
{
	if (!len || !inside(gpa, len) || regions_spanned(gpa, len) != 1)
		return false;
	if (S.mem_mode == MEM_PAGES)
		return gpa / PAGE == (gpa + len - 1) / PAGE;
	if (S.mem_mode == MEM_SPLIT) {
		uint64_t cut = (gpa - S.gpa_base) / S.region_size * S.region_size + S.split_cut;
		uint64_t off = gpa - S.gpa_base;
		return off + len <= cut || off >= cut;
	}
	return true;
}

/* Copy bytes [pos, pos+len) of a clean chain's readable or writable stream
 * out of guest memory, by guest address. */
static void stream_read(const struct mchain *m, bool writable, uint64_t pos, uint8_t *dst,
			size_t len)
{
	for (unsigned k = 0; k < m->n && len; k++) {
		const struct mbuf *b = &m->b[k];
		if (b->writable != writable)
			continue;
		if (pos >= b->len) {
			pos -= b->len;
			continue;
		}
		size_t n = b->len - pos < len ? (size_t)(b->len - pos) : len;
		CHECK(vq_fake_read_mem(&S.f, b->gpa + pos, dst, n) == 0);
		dst += n;
		len -= n;
		pos = 0;
	}
	CHECK(len == 0);
}

/* ---- reference walk: what pop must make of any chain ---- */

enum ref_kind { REF_OK, REF_INVALID, REF_NOBUFS };

struct ref {
	enum ref_kind kind;
	uint32_t nseg, nread;
	uint64_t rl, wl;
	uint16_t ndesc;
	struct iovec iov[MAX_IOV];
};
static struct ref R;

/* Append the host pieces of a buffer, one per fake region it touches (the
 * library merges host-adjacent pieces, and the fake's regions never are). */
static enum ref_kind ref_pieces(uint64_t gpa, uint32_t len, uint32_t cap)
{
	if (!len)
		return REF_OK;
	if (!inside(gpa, len))
		return REF_INVALID;
	while (len) {
		uint64_t off = gpa - S.gpa_base;
		unsigned i = (unsigned)(off / S.region_size);
		uint64_t in = off % S.region_size;
		uint32_t n = S.region_size - in < len ? (uint32_t)(S.region_size - in) : len;
		if (R.nseg == cap)
			return REF_NOBUFS;
		R.iov[R.nseg++] = (struct iovec){ (char *)S.f.mem.regions[i].host + in, n };
		gpa += n;
		len -= n;
	}
	return REF_OK;
}

static void ref_read(const struct vq_desc *src, struct vq_desc *d)
{
	d->addr = vq_from_le64(src->addr);
	d->len = vq_from_le32(src->len);
	d->flags = vq_from_le16(src->flags);
	d->next = vq_from_le16(src->next);
}

/* The rules of vq_queue_pop()'s comment and DESIGN.md, written out plainly:
 * REF_INVALID is some chain error (which one depends on the order of checks
 * within a descriptor), REF_NOBUFS is exactly -ENOBUFS. */
static void ref_walk(uint16_t head, uint32_t cap)
{
	const struct vq_queue *q = &S.q;
	const struct vq_desc *table = q->desc;
	uint32_t table_size = q->size, budget = q->size;
	bool in_indirect = false, seen_write = false;
	uint16_t i = head;
	R = (struct ref){ .kind = REF_INVALID };
	R.nseg = R.nread = 0;
	for (;;) {
		struct vq_desc d;
		ref_read(&table[i], &d);
		if (!in_indirect)
			R.ndesc++;
		if (d.flags & VQ_DESC_F_INDIRECT) {
			if (in_indirect || !q->indirect || (d.flags & VQ_DESC_F_NEXT))
				return;
			if (d.len == 0 || d.len % 16 || d.len / 16 > VQ_MAX_QUEUE_SIZE)
				return;
			if (!contiguous(d.addr, d.len) || (d.addr - S.gpa_base) % 8)
				return;
			table = vq_fake_host(&S.f, d.addr, d.len);
			CHECK(table);
			table_size = budget = d.len / 16;
			in_indirect = true;
			i = 0;
			continue;
		}
		if (budget-- == 0)
			return; /* a loop */
		if (d.len && d.addr + (d.len - 1) < d.addr)
			return;
		if (d.flags & VQ_DESC_F_WRITE) {
			seen_write = true;
			R.wl += d.len;
		} else {
			if (seen_write)
				return;
			R.rl += d.len;
		}
		enum ref_kind k = ref_pieces(d.addr, d.len, cap);
		if (k != REF_OK) {
			R.kind = k;
			return;
		}
		if (!seen_write)
			R.nread = R.nseg;
		if (!(d.flags & VQ_DESC_F_NEXT))
			break;
		if (d.next >= table_size)
			return;
		i = d.next;
	}
	if (R.rl > UINT32_MAX || R.wl > UINT32_MAX)
		return;
	R.kind = REF_OK;
}

/* ---- independent cursor ---- */

static void mcur_init(struct mcur *m, const struct iovec *iov, uint32_t n)
{
	*m = (struct mcur){ .iov = iov, .n = n };
}

/* Advance by len (<= remaining), copying into dst if given; returns whether
 * the range sat inside one segment. */
static bool mcur_take(struct mcur *m, uint8_t *dst, size_t len)
{
	bool one = true;
	bool started = false;
	while (len) {
		CHECK(m->seg < m->n);
		size_t room = m->iov[m->seg].iov_len - m->off;
		if (!room) {
			m->seg++;
			m->off = 0;
			continue;
		}
		if (started)
			one = false;
		started = true;
		size_t n = len < room ? len : room;
		if (dst) {
			memcpy(dst, (const uint8_t *)m->iov[m->seg].iov_base + m->off, n);
			dst += n;
		}
		m->off += n;
		len -= n;
	}
	return one;
}

/* ---- the model of the used ring ---- */

static void model_used(uint16_t id, uint32_t len)
{
	S.used_model[S.model_shadow & (S.f.size - 1)] = (struct vq_used_elem){ id, len };
	S.model_shadow++;
}

static void model_reset(void)
{
	S.model_shadow = S.model_published = S.q.used_shadow;
	S.irqs = 0;
	S.armed = false;
	S.quiet = false;
}

static void unclean(void)
{
	S.clean = false;
	S.fifo_len = 0;
}

/* ---- setup ---- */

/* vq_queue_init, falling back to honest memory if the liar spoiled a ring. */
static int init_queue(struct vq_queue_config *cfg)
{
	int r = vq_queue_init(&S.q, cfg);
	if (r == -EFAULT && S.mem_mode == MEM_LIAR) {
		S.cfg.mem = cfg->mem = &S.f.mem;
		r = vq_queue_init(&S.q, cfg);
	}
	return r;
}

static int setup(struct in *in)
{
	uint8_t h0 = u8(in), h1 = u8(in), h2 = u8(in), h3 = u8(in), h4 = u8(in);
	static const uint64_t bases[] = {
		VQ_FAKE_DEFAULT_GPA, 0x1000, 0xffff0000ull, 0x80000000ull, 0xfffffffffff00000ull,
	};
	uint32_t size = 1u << (h0 % 9);
	uint64_t features = 0;
	if (h1 & 1)
		features |= 1ull << VQ_F_EVENT_IDX;
	if (h1 & 2)
		features |= 1ull << VQ_F_INDIRECT_DESC;
	S.nregions = 1 + ((h1 >> 2) & 3);
	S.region_size = h1 & 16 ? 64u << 10 : 16u << 10;
	/* Leave room for an arena and tables whatever the queue size. */
	if (S.nregions * S.region_size < 32u << 10)
		S.region_size = 64u << 10;
	S.gpa_base = bases[h2 % 5];
	S.has_notify = !(h1 & 32);

	int r = vq_fake_init(&S.f, &(struct vq_fake_config){
		.size = size, .features = features, .gpa_base = S.gpa_base,
		.region_size = S.region_size, .nregions = S.nregions });
	CHECK(r == 0);

	S.mem_mode = (enum mem_mode)(h3 % 4);
	S.lie_period = (h3 >> 2) % 8 + 2;
	vq_mem_init(&S.mem);
	if (S.mem_mode == MEM_PAGES || S.mem_mode == MEM_LIAR) {
		vq_mem_set_translator(&S.mem, translate, NULL);
	} else if (S.mem_mode == MEM_SPLIT) {
		uint64_t cut = (uint64_t)(1 + (h3 >> 2) % 3) * PAGE;
		S.split_cut = cut;
		for (unsigned i = S.f.mem.nregions; i-- > 0;) {
			const struct vq_mem_region *g = &S.f.mem.regions[i];
			CHECK(vq_mem_add_region(&S.mem, g->gpa + cut, g->size - cut,
						(char *)g->host + cut) == 0);
			CHECK(vq_mem_add_region(&S.mem, g->gpa, cut, g->host) == 0);
			/* Overlaps are refused. */
			CHECK(vq_mem_add_region(&S.mem, g->gpa + cut - 1, 2, g->host) == -EEXIST);
		}
		CHECK(vq_mem_add_region(&S.mem, 0, 0, NULL) == -EINVAL);
		CHECK(vq_mem_add_region(&S.mem, UINT64_MAX, 2, NULL) == -EINVAL);
	}

	vq_fake_queue_config(&S.f, &S.cfg);
	if (S.mem_mode != MEM_FAKE)
		S.cfg.mem = &S.mem;
	if (S.has_notify) {
		S.cfg.notify = notify_cb;
		S.cfg.notify_opaque = &S;
	}
	S.clean = S.mem_mode != MEM_LIAR;
	S.model_ok = true;
	S.rings_moved = false;
	S.base_moved = false;

	/* A transport's mistakes: refused, or a queue on rings the fake does not
	 * know (then only memory safety is checked). */
	struct vq_queue_config bad = S.cfg;
	switch (h4 % 8) {
	case 4: bad.desc_gpa += 16u * u8(in); break;
	case 5: bad.avail_gpa += 2u * u8(in); break;
	case 6: bad.used_gpa += 4u * u8(in); break;
	case 7:
		bad.desc_gpa = S.gpa_base + u16(in);
		bad.avail_gpa = S.gpa_base + u16(in);
		bad.used_gpa = S.gpa_base + u16(in);
		bad.size = 1u << (u8(in) % 17);
		bad.features ^= (uint64_t)u8(in) << 28;
		break;
	default: break;
	}
	if (h4 % 8 >= 4) {
		r = vq_queue_init(&S.q, &bad);
		CHECK(r == 0 || r == -EINVAL || r == -EFAULT || r == -EOPNOTSUPP);
		if (r == 0) {
			S.model_ok = false;
			S.rings_moved = true;
			unclean();
			goto done;
		}
	}
	r = init_queue(&S.cfg);
	CHECK(r == 0);
done:
	model_reset();

	S.arena_len = 16u << 10;
	S.arena = vq_fake_alloc(&S.f, S.arena_len);
	CHECK(S.arena != 0);
	return 0;
}

/* ---- operand helpers ---- */

static uint64_t op_addr(struct in *in)
{
	uint8_t m = u8(in);
	switch (m % 6) {
	case 0: return S.arena + u16(in);
	case 1: return S.gpa_base + u16(in);
	case 2: return S.gpa_base + u32(in);
	case 3: return u64(in);
	case 4: {
		uint64_t k = u8(in) % (S.nregions + 1);
		return S.gpa_base + k * S.region_size - u8(in);
	}
	default: {
		unsigned k = u8(in) % NTABLES;
		return S.table_gpa[k] + u8(in);
	}
	}
}

static uint32_t op_len(struct in *in)
{
	static const uint32_t special[] = {
		0, 1, 16, 4096, 16u << 10, 64u << 10, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0,
	};
	uint8_t m = u8(in);
	switch (m % 4) {
	case 0: return u8(in);
	case 1: return u16(in);
	case 2: return u32(in);
	default: return special[u8(in) % (sizeof(special) / sizeof(special[0]))];
	}
}

/* ---- device ops ---- */

static void ring_snapshot(uint8_t *dst)
{
	uint32_t n = S.f.size;
	memcpy(dst, S.f.desc, vq_desc_area_size(n));
	dst += vq_desc_area_size(n);
	memcpy(dst, S.f.avail, vq_avail_area_size(n));
	dst += vq_avail_area_size(n);
	memcpy(dst, S.f.used, vq_used_area_size(n));
}

/* Did a device op leave the driver's areas (and, if broken, the used
 * ring) alone? */
static void ring_check(bool was_broken)
{
	static uint8_t now[sizeof(S.ring_snap)];
	if (!S.model_ok)
		return;
	uint32_t n = S.f.size;
	ring_snapshot(now);
	size_t drv = vq_desc_area_size(n) + vq_avail_area_size(n);
	CHECK(memcmp(now, S.ring_snap, drv) == 0);
	if (was_broken)
		CHECK(memcmp(now + drv, S.ring_snap + drv, vq_used_area_size(n)) == 0);
}

/* Does any writable segment reach the rings?  Then device writes can
 * change them and the ring model is off. */
static void taint_check(const struct vq_chain *c)
{
	uintptr_t lo = (uintptr_t)S.f.desc;
	uintptr_t hi = (uintptr_t)S.f.used + vq_used_area_size(S.f.size);
	for (uint32_t i = c->nreadable; i < c->nreadable + c->nwritable; i++) {
		uintptr_t b = (uintptr_t)c->iov[i].iov_base;
		if (b < hi && b + c->iov[i].iov_len > lo) {
			S.model_ok = false;
			S.armed = false;
		}
	}
}

/* What a clean chain must pop as. */
static int expect_clean(const struct mchain *m, uint32_t cap)
{
	if (m->indirect) {
		if (!S.q.indirect)
			return -EINVAL;
		if (!contiguous(m->table, m->n * 16u))
			return -EFAULT;
	}
	unsigned segs = 0;
	bool seen_write = false;
	for (unsigned k = 0; k < m->n; k++) {
		if (m->b[k].writable)
			seen_write = true;
		else if (seen_write)
			return -EINVAL;
		segs += regions_spanned(m->b[k].gpa, m->b[k].len);
		if (segs > cap)
			return -ENOBUFS;
	}
	return 1;
}

static bool chain_error(int r)
{
	return r == -EINVAL || r == -ELOOP || r == -EFAULT || r == -EOVERFLOW || r == -ENOBUFS;
}

static void op_pop(struct in *in)
{
	static const uint32_t caps[] = { 1, 2, 3, 8, 64, MAX_IOV };
	uint8_t b = u8(in);
	struct slot *s = &S.slot[b % NSLOTS];
	uint32_t cap = caps[(b >> 2) % 6];
	struct vq_queue *q = &S.q;

	/* Predict from the ring as the device will see it. */
	uint16_t L = q->last_avail;
	int want; /* 1 = a chain (good or bad) */
	uint16_t head = 0;
	if (q->broken) {
		want = -EIO;
	} else {
		uint16_t idx = L == q->avail_shadow ? vq_load_acquire16(&q->avail->idx)
						     : q->avail_shadow;
		if ((uint16_t)(idx - L) > q->size) {
			want = -EIO;
		} else if (idx == L) {
			want = 0;
		} else {
			head = vq_load16(&q->avail->ring[L & q->mask]);
			want = head >= q->size ? -EIO : 1;
		}
	}
	/* Every chain, raw or not, against the reference walk.  Not when the
	 * rings were moved (the used ring may overlap what is walked) or memory
	 * lies. */
	bool ref = want == 1 && !S.rings_moved && !(q->mem == &S.mem && S.mem_mode == MEM_LIAR);
	if (ref) {
		/* Pop stores avail_event before walking, and a hostile table may
		 * sit on it: store the same value first so the walks agree. */
		if (q->event_idx && q->notify_enabled)
			vq_store16(q->avail_event, (uint16_t)(L + 1));
		ref_walk(head, cap);
	}
	const struct mchain *m = NULL;
	if (S.clean && want == 1) {
		CHECK(S.fifo_len > 0);
		m = &S.fifo[S.fifo_head];
		CHECK(m->head == head);
	}

	struct vq_queue_stats before = q->stats;
	uint16_t shadow = q->used_shadow;
	vq_chain_init(&s->c, s->iov, cap);
	s->live = false;
	int r = vq_queue_pop(q, &s->c);

	TRACE("pop slot %u cap %u: %d (want %d, head %u)\n", b % NSLOTS, cap, r, want, head);
	CHECK(r == 1 || r == 0 || r == -EIO || chain_error(r));
	if (want == -EIO) {
		CHECK(r == -EIO && q->broken);
		CHECK(q->stats.chains == before.chains && q->stats.bad_chains == before.bad_chains);
		S.armed = false;
		return;
	}
	if (want == 0) {
		CHECK(r == 0 && q->last_avail == L && q->used_shadow == shadow);
		return;
	}
	CHECK(r != 0 && r != -EIO && !q->broken);
	CHECK(q->last_avail == (uint16_t)(L + 1));
	CHECK(s->c.id == head);
	CHECK(s->c.iov == s->iov && s->c.iov_cap == cap);
	if (S.model_ok && q->event_idx && q->notify_enabled)
		CHECK(vq_load16(q->avail_event) == q->last_avail);
	if (m) {
		CHECK(r == expect_clean(m, cap));
		s->m = *m;
		S.fifo_head = (S.fifo_head + 1) % FIFO_CAP;
		S.fifo_len--;
	}

	if (ref) {
		if (R.kind == REF_OK)
			CHECK(r == 1);
		else if (R.kind == REF_NOBUFS)
			CHECK(r == -ENOBUFS);
		else
			CHECK(r < 0);
	}

	if (r < 0) {
		CHECK(s->c.nreadable == 0 && s->c.nwritable == 0);
		CHECK(s->c.readable_len == 0 && s->c.writable_len == 0);
		CHECK(q->stats.bad_chains == before.bad_chains + 1);
		CHECK(q->stats.chains == before.chains);
		CHECK(q->used_shadow == (uint16_t)(shadow + 1));
		model_used(head, 0);
		return;
	}

	CHECK(q->stats.chains == before.chains + 1 && q->stats.bad_chains == before.bad_chains);
	CHECK(q->used_shadow == shadow);
	CHECK(s->c.ndesc >= 1 && s->c.ndesc <= q->size);
	CHECK((uint64_t)s->c.nreadable + s->c.nwritable <= cap);
	uint64_t rl = 0, wl = 0;
	for (uint32_t i = 0; i < s->c.nreadable + s->c.nwritable; i++) {
		CHECK(s->c.iov[i].iov_len > 0);
		CHECK(in_host_memory(s->c.iov[i].iov_base, s->c.iov[i].iov_len));
		if (i < s->c.nreadable)
			rl += s->c.iov[i].iov_len;
		else
			wl += s->c.iov[i].iov_len;
	}
	CHECK(rl == s->c.readable_len && wl == s->c.writable_len);
	if (ref) {
		CHECK(s->c.nreadable == R.nread && s->c.nreadable + s->c.nwritable == R.nseg);
		CHECK(R.rl == rl && R.wl == wl && R.ndesc == s->c.ndesc);
		for (uint32_t i = 0; i < R.nseg; i++)
			CHECK(s->c.iov[i].iov_base == R.iov[i].iov_base &&
			      s->c.iov[i].iov_len == R.iov[i].iov_len);
	}
	if (m) {
		uint64_t mr = 0, mw = 0;
		for (unsigned k = 0; k < m->n; k++)
			*(m->b[k].writable ? &mw : &mr) += m->b[k].len;
		CHECK(mr == rl && mw == wl);
		CHECK(s->c.ndesc == (m->indirect ? 1 : m->n));
	}
	taint_check(&s->c);

	s->live = true;
	s->clean = m != NULL;
	vq_reader_init(&s->r, &s->c);
	vq_writer_init(&s->w, &s->c);
	mcur_init(&s->mr, s->c.iov, s->c.nreadable);
	mcur_init(&s->mw, s->c.iov + s->c.nreadable, s->c.nwritable);
	s->rdone = s->wdone = 0;
	CHECK(vq_reader_remaining(&s->r) == rl && vq_writer_remaining(&s->w) == wl);
	CHECK(vq_reader_consumed(&s->r) == 0 && vq_writer_written(&s->w) == 0);
}

static size_t chunk_of(struct in *in, uint8_t mode)
{
	switch (mode & 3) {
	case 0: return 1 + u8(in) % 16;
	case 1: return 64;
	case 2: return CHUNK_MAX;
	default: return 1 + u16(in) % CHUNK_MAX;
	}
}

static void check_cursor(const struct vq_cursor *cur, uint64_t done, uint64_t total)
{
	CHECK(cur->total == total);
	CHECK(cur->remaining == total - done);
}

static void op_read(struct in *in)
{
	uint8_t b = u8(in);
	struct slot *s = &S.slot[b % NSLOTS];
	size_t chunk = chunk_of(in, b >> 2);
	uint32_t amount = u16(in);
	bool all = b & 0x10;
	if (!s->live)
		return;
	uint64_t total = s->c.readable_len;
	if (all) {
		/* read_all: exactly, or nothing. */
		size_t rem = total - s->rdone;
		int r = vq_reader_read_all(&s->r, S.buf, chunk);
		if (chunk > rem) {
			CHECK(r == -EMSGSIZE);
		} else {
			CHECK(r == 0);
			S.copied += chunk + CHUNK_COST;
			mcur_take(&s->mr, S.want, chunk);
			CHECK(memcmp(S.buf, S.want, chunk) == 0);
			s->rdone += chunk;
		}
		check_cursor(&s->r.cur, s->rdone, total);
		return;
	}
	uint64_t todo = amount ? amount : total;
	while (todo) {
		size_t k = todo < chunk ? (size_t)todo : chunk;
		bool copy = S.copied + k + CHUNK_COST <= COPY_BUDGET;
		if (!copy)
			k = (size_t)todo; /* out of budget: skip the rest in one go */
		size_t rem = total - s->rdone;
		size_t exp = k < rem ? k : rem;
		if (!copy) {
			CHECK(vq_reader_skip(&s->r, k) == exp);
			mcur_take(&s->mr, NULL, exp);
		} else {
			S.copied += k + CHUNK_COST;
			size_t got = vq_reader_read(&s->r, S.buf, k);
			CHECK(got == exp);
			mcur_take(&s->mr, S.want, got);
			CHECK(memcmp(S.buf, S.want, got) == 0);
			if (s->clean) {
				stream_read(&s->m, false, s->rdone, S.want, got);
				CHECK(memcmp(S.buf, S.want, got) == 0);
			}
		}
		s->rdone += exp;
		check_cursor(&s->r.cur, s->rdone, total);
		CHECK(vq_reader_consumed(&s->r) == s->rdone);
		if (exp < k)
			break;
		todo -= k;
	}
}

static void op_write(struct in *in)
{
	uint8_t b = u8(in);
	struct slot *s = &S.slot[b % NSLOTS];
	size_t chunk = chunk_of(in, b >> 2);
	uint32_t amount = u16(in);
	bool all = b & 0x10;
	if (!s->live)
		return;
	uint64_t total = s->c.writable_len;
	uint8_t pat = (uint8_t)(b ^ s->wdone);
	if (all) {
		size_t rem = total - s->wdone;
		memset(S.buf, pat, chunk);
		int r = vq_writer_write_all(&s->w, S.buf, chunk);
		if (chunk > rem) {
			CHECK(r == -EMSGSIZE);
		} else {
			CHECK(r == 0);
			mcur_take(&s->mw, NULL, chunk);
			s->wdone += chunk;
		}
		check_cursor(&s->w.cur, s->wdone, total);
		CHECK(vq_writer_written(&s->w) == s->wdone);
		return;
	}
	uint64_t todo = amount ? amount : total;
	while (todo) {
		size_t k = todo < chunk ? (size_t)todo : chunk;
		bool copy = S.copied + k + CHUNK_COST <= COPY_BUDGET;
		if (!copy)
			k = (size_t)todo;
		size_t rem = total - s->wdone;
		size_t exp = k < rem ? k : rem;
		if (!copy) {
			CHECK(vq_writer_skip(&s->w, k) == exp);
			mcur_take(&s->mw, NULL, exp);
		} else {
			S.copied += k + CHUNK_COST;
			for (size_t i = 0; i < k; i++)
				S.buf[i] = (uint8_t)(pat + i);
			struct mcur at = s->mw;
			size_t got = vq_writer_write(&s->w, S.buf, k);
			CHECK(got == exp);
			/* Within one segment nothing else can have overwritten it. */
			if (got && mcur_take(&s->mw, NULL, got)) {
				mcur_take(&at, S.want, got);
				CHECK(memcmp(S.buf, S.want, got) == 0);
			}
			if (s->clean && got) {
				stream_read(&s->m, true, s->wdone, S.want, got);
				CHECK(memcmp(S.buf, S.want, got) == 0);
			}
		}
		s->wdone += exp;
		check_cursor(&s->w.cur, s->wdone, total);
		CHECK(vq_writer_written(&s->w) == s->wdone);
		CHECK(vq_writer_written(&s->w) <= s->c.writable_len);
		if (exp < k)
			break;
		todo -= k;
	}
}

static void op_skip(struct in *in)
{
	uint8_t b = u8(in);
	struct slot *s = &S.slot[b % NSLOTS];
	uint32_t len = op_len(in);
	if (!s->live)
		return;
	bool wr = b & 4;
	uint64_t total = wr ? s->c.writable_len : s->c.readable_len;
	uint64_t *done = wr ? &s->wdone : &s->rdone;
	size_t exp = len < total - *done ? len : (size_t)(total - *done);
	size_t got = wr ? vq_writer_skip(&s->w, len) : vq_reader_skip(&s->r, len);
	CHECK(got == exp);
	mcur_take(wr ? &s->mw : &s->mr, NULL, got);
	*done += got;
	check_cursor(wr ? &s->w.cur : &s->r.cur, *done, total);
}

static void op_iov(struct in *in)
{
	uint8_t b = u8(in);
	struct slot *s = &S.slot[b % NSLOTS];
	unsigned max = u8(in);
	if (b & 8)
		max = MAX_IOV;
	uint32_t len32 = op_len(in);
	size_t len = b & 16 ? SIZE_MAX : len32;
	if (!s->live)
		return;
	bool wr = b & 4;
	uint64_t total = wr ? s->c.writable_len : s->c.readable_len;
	uint64_t done = wr ? s->wdone : s->rdone;
	int n = wr ? vq_writer_iov(&s->w, S.out, max, len) : vq_reader_iov(&s->r, S.out, max, len);

	/* The same export, by the model. */
	struct mcur m = wr ? s->mw : s->mr;
	uint64_t todo = len < total - done ? len : total - done;
	unsigned want = 0;
	bool fits = true;
	while (todo) {
		CHECK(m.seg < m.n);
		size_t room = m.iov[m.seg].iov_len - m.off;
		if (room) {
			size_t take = todo < room ? (size_t)todo : room;
			if (want == max) {
				fits = false;
				break;
			}
			if (n >= 0) {
				CHECK(S.out[want].iov_base == (char *)m.iov[m.seg].iov_base + m.off);
				CHECK(S.out[want].iov_len == take);
				CHECK(in_host_memory(S.out[want].iov_base, take));
			}
			want++;
			todo -= take;
		}
		m.seg++;
		m.off = 0;
	}
	CHECK(fits ? n == (int)want : n == -ENOBUFS);
	/* Exporting does not move the cursor. */
	check_cursor(wr ? &s->w.cur : &s->r.cur, done, total);
}

static void op_push(struct in *in)
{
	uint8_t b = u8(in);
	struct slot *s = &S.slot[b % NSLOTS];
	uint32_t x = u32(in);
	if (!s->live)
		return;
	uint32_t wl = s->c.writable_len;
	uint32_t written;
	switch ((b >> 2) % 4) {
	case 0: written = vq_writer_written(&s->w); break;
	case 1: written = wl < UINT32_MAX - 0xff ? wl + 1 + (x & 0xff) : x; break;
	case 2: written = x % ((uint64_t)wl + 1); break;
	default: written = x; break;
	}
	uint16_t shadow = S.q.used_shadow;
	bool broken = S.q.broken;
	int r = vq_queue_push(&S.q, &s->c, written);
	TRACE("push id %u written %u of %u: %d\n", s->c.id, written, wl, r);
	if (broken) {
		CHECK(r == -EIO && S.q.used_shadow == shadow);
	} else if (written > wl) {
		CHECK(r == -EINVAL && S.q.used_shadow == shadow);
	} else {
		CHECK(r == 0 && S.q.used_shadow == (uint16_t)(shadow + 1));
		model_used(s->c.id, written);
		s->live = false;
	}
}

static void op_flush(void)
{
	struct vq_queue *q = &S.q;
	bool broken = q->broken;
	uint16_t old_idx = q->used_published, new_idx = q->used_shadow;
	int need = -1;
	if (S.model_ok && !broken) {
		CHECK(new_idx == S.model_shadow && old_idx == S.model_published);
		if (new_idx == old_idx)
			need = 0;
		else if (q->event_idx)
			need = vq_need_event(vq_load16(S.f.used_event), new_idx, old_idx);
		else
			need = !(vq_load16(&S.f.avail->flags) & VQ_AVAIL_F_NO_INTERRUPT);
	}
	uint64_t notes = q->stats.notifications;
	int r = vq_queue_flush(q);
	TRACE("flush: %d\n", r);
	if (broken) {
		CHECK(r == -EIO);
		return;
	}
	CHECK(r == 0 || r == 1);
	if (need >= 0)
		CHECK(r == need);
	CHECK(q->stats.notifications == notes + (uint64_t)r);
	if (S.has_notify && S.cfg.notify)
		CHECK(S.irqs == q->stats.notifications);
	CHECK(q->used_published == new_idx);
	S.model_published = S.model_shadow;
	if (S.model_ok)
		CHECK(vq_load16(&S.f.used->idx) == S.model_published);
}

static void op_enable(void)
{
	struct vq_queue *q = &S.q;
	int want;
	if (q->broken) {
		want = -EIO;
	} else {
		/* enable stores before it re-reads the ring, and a hostile layout
		 * may alias the store with avail->idx: make the same (idempotent)
		 * store first so the prediction reads what enable will read. */
		if (q->event_idx)
			vq_store16(q->avail_event, q->last_avail);
		else
			vq_store16(&q->used->flags, 0);
		uint16_t n = (uint16_t)(vq_load_acquire16(&q->avail->idx) - q->last_avail);
		want = n > q->size ? -EIO : n ? 1 : 0;
	}
	bool was_broken = q->broken;
	int r = vq_queue_enable_notify(q);
	CHECK(r == want);
	/* A working queue re-enables kicks before it re-reads the ring, even
	 * when that read then finds the ring corrupt. */
	if (!was_broken)
		S.quiet = false;
	if (r == -EIO) {
		CHECK(q->broken);
		S.armed = false;
		return;
	}
	if (S.model_ok) {
		if (q->event_idx)
			CHECK(vq_load16(q->avail_event) == q->last_avail);
		else
			CHECK(vq_load16(&q->used->flags) == 0);
	}
	S.armed = r == 0 && S.model_ok;
	S.quiet = false;
}

static void op_disable(void)
{
	struct vq_queue *q = &S.q;
	bool broken = q->broken;
	uint16_t flags = vq_load16(&q->used->flags);
	vq_queue_disable_notify(q);
	if (S.model_ok && !q->event_idx)
		CHECK(vq_load16(&q->used->flags) == (broken ? flags : VQ_USED_F_NO_NOTIFY));
	S.armed = false;
	/* Only a driver whose index is not behind the device's can count on
	 * it; one that moved its index backwards may still get a kick. */
	if (!broken)
		S.quiet = (uint16_t)(S.f.avail_published - q->last_avail) <= q->size;
}

static void op_pending(void)
{
	struct vq_queue *q = &S.q;
	bool broken = q->broken;
	uint16_t n = (uint16_t)(vq_load_acquire16(&q->avail->idx) - q->last_avail);
	uint16_t r = vq_queue_pending(q);
	if (broken) {
		CHECK(r == 0);
	} else if (n > q->size) {
		CHECK(r == 0 && q->broken);
		S.armed = false;
	} else {
		CHECK(r == n && !q->broken);
	}
}

static void op_reinit(struct in *in)
{
	uint8_t m = u8(in);
	uint16_t base = u16(in);
	struct vq_queue_config cfg = S.cfg;
	if (S.model_ok)
		cfg.last_avail_idx = m & 1 ? base : S.q.last_avail;
	else
		cfg.last_avail_idx = S.q.last_avail;
	if (cfg.last_avail_idx != S.q.last_avail) {
		unclean();
		S.base_moved = true;
	}
	vq_queue_destroy(&S.q);
	CHECK(vq_queue_is_broken(&S.q));
	CHECK(init_queue(&cfg) == 0);
	S.rings_moved = false; /* back on the fake's own rings */
	CHECK(!S.q.broken && S.q.last_avail == cfg.last_avail_idx);
	CHECK(S.q.stats.chains == 0 && S.q.stats.notifications == 0);
	if (S.model_ok)
		CHECK(S.q.used_shadow == S.model_published);
	model_reset();
}

/* ---- driver ops ---- */

static void op_fake_add(struct in *in)
{
	uint8_t b = u8(in);
	unsigned n = 1 + (b & 7);
	unsigned flags = b & 8 ? VQ_FAKE_INDIRECT : 0;
	bool sort = !(b & 16);
	struct mchain m = { .n = (uint8_t)n, .indirect = flags != 0 };
	struct vq_fake_buf bufs[MAX_BUFS];
	uint32_t maxlen = S.arena_len / MAX_BUFS;
	uint32_t lens[MAX_BUFS];
	bool wr[MAX_BUFS];
	uint32_t sum = 0;
	for (unsigned k = 0; k < n; k++) {
		wr[k] = u8(in) & 1;
		lens[k] = u16(in) % (maxlen + 1);
		sum += lens[k];
	}
	if (S.arena_pos + sum > S.arena_len)
		S.arena_pos = 0;
	unsigned j = 0;
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned k = 0; k < n; k++) {
			if (sort && wr[k] != (pass == 1))
				continue;
			if (!sort && pass == 1)
				continue;
			bufs[j] = (struct vq_fake_buf){ S.arena + S.arena_pos, lens[k], wr[k] };
			m.b[j] = (struct mbuf){ bufs[j].gpa, bufs[j].len, bufs[j].writable };
			S.arena_pos += lens[k];
			j++;
		}
	}
	CHECK(j == n);
	int head = vq_fake_add(&S.f, bufs, n, flags);
	CHECK(head >= 0 || head == -ENOSPC || head == -ENOMEM || head == -EINVAL);
	if (head < 0)
		return;
	m.head = (uint16_t)head;
	if (m.indirect)
		m.table = S.f.ind_gpa[head];
	if (S.clean) {
		CHECK(S.fifo_len < FIFO_CAP);
		S.fifo[(S.fifo_head + S.fifo_len) % FIFO_CAP] = m;
		S.fifo_len++;
	}
}

static void op_get_used(struct in *in)
{
	unsigned k = 1 + u8(in) % 16;
	while (k--) {
		uint16_t last = S.f.last_used;
		uint16_t idx = vq_load_acquire16(&S.f.used->idx);
		uint32_t id, len;
		int r = vq_fake_get_used(&S.f, &id, &len);
		CHECK(r == (idx != last));
		if (!r)
			return;
		TRACE("used id %u len %u\n", id, len);
		if (S.model_ok) {
			const struct vq_used_elem *e = &S.used_model[last & (S.f.size - 1)];
			CHECK(id == e->id && len == e->len);
		}
	}
}

static void op_publish(void)
{
	bool more = S.f.avail_idx != S.f.avail_published;
	uint16_t old_idx = S.f.avail_published;
	int r = vq_fake_publish(&S.f);
	TRACE("publish %u -> %u: kick %d (used flags %#x, avail_event %u, last_avail %u)\n",
	      old_idx, S.f.avail_idx, r, vq_load16(&S.f.used->flags), vq_load16(S.f.avail_event),
	      S.q.last_avail);
	if (S.armed && more)
		CHECK(r == 1); /* no lost kick */
	if (S.quiet && S.model_ok && !S.base_moved)
		CHECK(r == 0); /* kicks really are off while the device polls */
	if (more)
		S.armed = false;
}

static void run(struct in *in)
{
	while (in->n) {
		uint8_t op = u8(in) % NOPS;
		TRACE("op %u\n", op);
		bool was_broken = S.q.broken;
		bool device = false;
		switch (op) {
		case OP_DESC: {
			uint16_t idx = idx16(in);
			uint64_t addr = op_addr(in);
			uint32_t len = op_len(in);
			uint16_t flags = u8(in);
			uint16_t next = idx16(in);
			vq_fake_write_desc(&S.f, idx, addr, len, flags, next);
			unclean();
			break;
		}
		case OP_TABLE_ALLOC: {
			unsigned k = u8(in) % NTABLES;
			uint8_t b = u8(in);
			uint32_t n = b ? b : 1 + u16(in) % 4096;
			uint64_t gpa = vq_fake_alloc_table(&S.f, n);
			if (gpa) {
				S.table_gpa[k] = gpa;
				S.table_n[k] = n;
			}
			break;
		}
		case OP_TABLE_WRITE: {
			unsigned k = u8(in) % NTABLES;
			uint16_t i = idx16(in);
			uint64_t addr = op_addr(in);
			uint32_t len = op_len(in);
			uint16_t flags = u8(in);
			uint16_t next = idx16(in);
			if (S.table_gpa[k])
				vq_fake_write_table(&S.f, S.table_gpa[k], i, addr, len, flags, next);
			unclean();
			break;
		}
		case OP_RAW_HEAD:
			vq_fake_add_raw_head(&S.f, idx16(in));
			unclean();
			break;
		case OP_SET_AVAIL: {
			uint8_t m = u8(in);
			uint16_t idx = m & 1 ? u16(in) : (uint16_t)(S.f.avail_idx + (int8_t)u8(in));
			vq_fake_set_avail_idx(&S.f, idx);
			unclean();
			S.armed = S.quiet = false;
			break;
		}
		case OP_PUBLISH: op_publish(); break;
		case OP_FAKE_ADD: op_fake_add(in); break;
		case OP_GET_USED: op_get_used(in); break;
		case OP_IRQ: {
			uint8_t m = u8(in);
			if (m % 3 == 0)
				vq_fake_disable_interrupts(&S.f);
			else if (m % 3 == 1)
				vq_fake_enable_interrupts(&S.f);
			else
				vq_fake_set_used_event(&S.f, u16(in));
			break;
		}
		case OP_INDIRECT_DESC: {
			uint16_t idx = idx16(in);
			unsigned k = u8(in) % NTABLES;
			uint8_t m = u8(in);
			uint32_t len = m & 1 ? op_len(in) : S.table_n[k] * 16u;
			uint16_t flags = (uint16_t)(VQ_DESC_F_INDIRECT | u8(in));
			uint16_t next = idx16(in);
			vq_fake_write_desc(&S.f, idx, S.table_gpa[k], len, flags, next);
			unclean();
			break;
		}
		default:
			device = true;
			break;
		}
		if (!device)
			continue;

		if (S.model_ok)
			ring_snapshot(S.ring_snap);
		switch (op) {
		case OP_POP: op_pop(in); break;
		case OP_READ: op_read(in); break;
		case OP_WRITE: op_write(in); break;
		case OP_SKIP: op_skip(in); break;
		case OP_IOV: op_iov(in); break;
		case OP_PUSH: op_push(in); break;
		case OP_FLUSH: op_flush(); break;
		case OP_DISABLE_NOTIFY: op_disable(); break;
		case OP_ENABLE_NOTIFY: op_enable(); break;
		case OP_PENDING: op_pending(); break;
		case OP_REINIT: op_reinit(in); break;
		default: __builtin_trap();
		}
		ring_check(was_broken && op != OP_REINIT);
		if (S.q.broken) {
			if (S.model_ok)
				ring_snapshot(S.ring_snap);
			/* Broken is sticky: every entry point says so. */
			struct vq_chain c;
			struct iovec iov[1];
			vq_chain_init(&c, iov, 1);
			CHECK(vq_queue_pop(&S.q, &c) == -EIO);
			CHECK(vq_queue_flush(&S.q) == -EIO);
			CHECK(vq_queue_enable_notify(&S.q) == -EIO);
			CHECK(vq_queue_pending(&S.q) == 0);
			CHECK(vq_queue_push(&S.q, &c, 0) == -EIO);
			vq_queue_disable_notify(&S.q);
			CHECK(vq_queue_is_broken(&S.q));
			ring_check(true);
			S.armed = false;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	_Static_assert(sizeof(S.ring_snap) >= 16 * 256 + 6 + 2 * 256 + 6 + 8 * 256, "snapshot");
	S.copied = 0;
	S.fifo_head = S.fifo_len = 0;
	S.arena_pos = 0;
	S.lie_count = 0;
	memset(S.table_gpa, 0, sizeof(S.table_gpa));
	memset(S.table_n, 0, sizeof(S.table_n));
	memset(S.used_model, 0, sizeof(S.used_model));
	for (unsigned i = 0; i < NSLOTS; i++)
		S.slot[i].live = false;
	if (setup(&in))
		return 0;
	run(&in);
	vq_queue_destroy(&S.q);
	vq_fake_destroy(&S.f);
	return 0;
}
