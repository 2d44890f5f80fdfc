/* SPDX-License-Identifier: MIT */
/*
 * Same-thread queue benchmarks: the fake driver and the device queue take
 * turns on one thread.
 *
 * Two flavours of each small-chain figure:
 *  - the full loop ("pop_push_...", "ioctl_..."): the driver side runs the
 *    fake's real calls every iteration (vq_fake_add per chain, one
 *    vq_fake_publish, vq_fake_get_used per chain, then
 *    vq_fake_enable_interrupts as an interrupt-driven guest does after
 *    draining), so the cost per chain includes both sides;
 *  - device side only ("dev_..."): descriptors and avail-ring entries are
 *    written once in setup, and per batch the "driver" only stores avail->idx
 *    (and, with event idx, used_event: two plain 16-bit stores), never reads
 *    the used ring back.  What is timed is the device's pop + push + flush.
 * In both, the driver asks for an interrupt after each batch, so every flush
 * notifies (callback vq_fake_interrupt, one atomic increment) in both event-
 * idx modes, and with event idx on pop also publishes avail_event.
 *
 * The rust-vmm shapes mirror virtio-queue's benches/queue/mod.rs: queue size
 * 256, every descriptor {addr, 0x1000 bytes, device-readable}, the queue
 * built once outside the timing (their setup is outside it too, via
 * iter_batched); per iteration the driver re-publishes the same chains with
 * one avail->idx store and the device pops until the ring is empty.
 */
#include <stdlib.h>

#include "fixture.h"

/* ------------------------------------------------------------------------ */
/* 1-descriptor chains, pop + push + flush */

#define TINY_LEN 8 /* the one writable buffer of a "no payload" chain */

struct onedesc {
	struct fixture x;
	unsigned batch;
	bool evidx;
	struct vq_fake_buf buf;
	uint16_t avail, used; /* dev_: the driver's indices */
};

static int64_t onedesc_full(void *p, uint64_t iters)
{
	struct onedesc *b = p;
	struct vq_fake *f = &b->x.f;
	struct vq_queue *q = &b->x.q;
	struct vq_chain *c = &b->x.c;
	const unsigned batch = b->batch;

	for (uint64_t i = 0; i < iters; i++) {
		for (unsigned k = 0; k < batch; k++)
			CHECK(vq_fake_add(f, &b->buf, 1, 0) >= 0, "vq_fake_add");
		vq_fake_publish(f);

		unsigned n = 0;
		int r;
		while ((r = vq_queue_pop(q, c)) > 0) {
			/* The device writes nothing: used length 0. */
			CHECK(vq_queue_push(q, c, 0) == 0, "push");
			n++;
		}
		CHECK(r == 0 && n == batch, "pop: %d after %u chains", r, n);
		vq_queue_flush(q);

		uint32_t id, len;
		while (vq_fake_get_used(f, &id, &len))
			n--;
		CHECK(n == 0, "get_used: %u missing", n);
		vq_fake_enable_interrupts(f);
	}
	return (int64_t)iters;
}

static int64_t onedesc_dev(void *p, uint64_t iters)
{
	struct onedesc *b = p;
	struct vq_fake *f = &b->x.f;
	struct vq_queue *q = &b->x.q;
	struct vq_chain *c = &b->x.c;
	const unsigned batch = b->batch;

	for (uint64_t i = 0; i < iters; i++) {
		b->avail = (uint16_t)(b->avail + batch);
		vq_fake_set_avail_idx(f, b->avail);
		if (b->evidx)
			vq_fake_set_used_event(f, b->used);

		unsigned n = 0;
		int r;
		while ((r = vq_queue_pop(q, c)) > 0) {
			CHECK(vq_queue_push(q, c, 0) == 0, "push");
			n++;
		}
		CHECK(r == 0 && n == batch, "pop: %d after %u chains", r, n);
		vq_queue_flush(q);
		b->used = (uint16_t)(b->used + batch);
	}
	return (int64_t)iters;
}

static void bench_onedesc(unsigned batch, bool evidx, bool dev_only)
{
	char name[96];
	snprintf(name, sizeof(name), "%spop_push_1desc_batch%u_%s", dev_only ? "dev_" : "", batch,
		 evidx ? "evidx" : "noevidx");
	if (!bench_selected(name))
		return;
	struct onedesc *b = fixture_zalloc(sizeof(*b));
	if (!b || fixture_init(&b->x, 256, evidx ? EVIDX : 0, 0)) {
		bench_fail("%s: setup", name);
		free(b);
		return;
	}
	b->batch = batch;
	b->evidx = evidx;
	b->buf = (struct vq_fake_buf){ fixture_buf(&b->x, TINY_LEN), TINY_LEN, true };
	if (dev_only) {
		/* Every descriptor is a ready 1-descriptor chain, every avail slot
		 * names its own: republishing is a store of avail->idx. */
		for (uint32_t i = 0; i < 256; i++) {
			vq_fake_write_desc(&b->x.f, (uint16_t)i, b->buf.gpa, TINY_LEN,
					   VQ_DESC_F_WRITE, 0);
			vq_fake_add_raw_head(&b->x.f, (uint16_t)i);
		}
	}
	struct bench_stats st;
	if (bench_measure(name, dev_only ? onedesc_dev : onedesc_full, b, &st) == 0) {
		bench_report_time(name, &st, 1.0 / batch, "ns/chain");
		double chains = (double)b->x.q.stats.chains;
		bench_note("  %s: per chain %.3f notifications, %.3f kicks (warm-up included)",
			   name, (double)b->x.q.stats.notifications / chains,
			   (double)b->x.f.kicks / chains);
	}
	fixture_destroy(&b->x);
	free(b);
}

/* ------------------------------------------------------------------------ */
/* virtio-media ioctl-shaped chain: readable 16 + 208 B, writable 8 + 208 B */

#define IOCTL_HDR_IN 16
#define IOCTL_HDR_OUT 8
#define IOCTL_PAYLOAD 208

struct ioctl_hdr {
	uint32_t cmd;
	uint32_t session;
	uint32_t code;
	uint32_t pad;
};
_Static_assert(sizeof(struct ioctl_hdr) == IOCTL_HDR_IN, "request header");

struct ioctl_resp {
	uint32_t status;
	uint32_t pad;
};
_Static_assert(sizeof(struct ioctl_resp) == IOCTL_HDR_OUT, "response header");

struct ioctlb {
	struct fixture x;
	unsigned batch;
	bool evidx;
	struct vq_fake_buf bufs[4];
	uint16_t avail, used;
	uint8_t *pin, *pout, *hin, *hout; /* host views, for the memcpy baseline */
};

/* What the device does with one command: decode, copy in, reply, copy out. */
static inline int ioctl_serve(struct vq_queue *q, struct vq_chain *c)
{
	struct vq_reader r;
	struct vq_writer w;
	struct ioctl_hdr h;
	uint8_t payload[IOCTL_PAYLOAD];

	vq_reader_init(&r, c);
	vq_writer_init(&w, c);
	CHECK(vq_reader_read_all(&r, &h, sizeof(h)) == 0, "read header");
	CHECK(vq_reader_read_all(&r, payload, sizeof(payload)) == 0, "read payload");
	bench_escape(payload); /* the "ioctl" looks at it */
	struct ioctl_resp resp = { .status = h.code ^ h.session };
	CHECK(vq_writer_write_all(&w, &resp, sizeof(resp)) == 0, "write response");
	CHECK(vq_writer_write_all(&w, payload, sizeof(payload)) == 0, "write payload");
	CHECK(vq_queue_push(q, c, vq_writer_written(&w)) == 0, "push");
	return 0;
}

static int64_t ioctl_full(void *p, uint64_t iters)
{
	struct ioctlb *b = p;
	struct vq_fake *f = &b->x.f;
	struct vq_queue *q = &b->x.q;
	struct vq_chain *c = &b->x.c;
	const unsigned batch = b->batch;

	for (uint64_t i = 0; i < iters; i++) {
		for (unsigned k = 0; k < batch; k++)
			CHECK(vq_fake_add(f, b->bufs, 4, 0) >= 0, "vq_fake_add");
		vq_fake_publish(f);

		unsigned n = 0;
		int r;
		while ((r = vq_queue_pop(q, c)) > 0) {
			if (ioctl_serve(q, c))
				return -1;
			n++;
		}
		CHECK(r == 0 && n == batch, "pop: %d after %u chains", r, n);
		vq_queue_flush(q);

		uint32_t id, len;
		while (vq_fake_get_used(f, &id, &len)) {
			CHECK(len == IOCTL_HDR_OUT + IOCTL_PAYLOAD, "used len %u", len);
			n--;
		}
		CHECK(n == 0, "get_used: %u missing", n);
		vq_fake_enable_interrupts(f);
	}
	return (int64_t)iters;
}

static int64_t ioctl_dev(void *p, uint64_t iters)
{
	struct ioctlb *b = p;
	struct vq_fake *f = &b->x.f;
	struct vq_queue *q = &b->x.q;
	struct vq_chain *c = &b->x.c;
	const unsigned batch = b->batch;

	for (uint64_t i = 0; i < iters; i++) {
		b->avail = (uint16_t)(b->avail + batch);
		vq_fake_set_avail_idx(f, b->avail);
		if (b->evidx)
			vq_fake_set_used_event(f, b->used);

		unsigned n = 0;
		int r;
		while ((r = vq_queue_pop(q, c)) > 0) {
			if (ioctl_serve(q, c))
				return -1;
			n++;
		}
		CHECK(r == 0 && n == batch, "pop: %d after %u chains", r, n);
		vq_queue_flush(q);
		b->used = (uint16_t)(b->used + batch);
	}
	return (int64_t)iters;
}

/* The payload copies alone, same buffers: guest -> stack -> guest. */
static int64_t memcpy_416(void *p, uint64_t iters)
{
	struct ioctlb *b = p;
	uint8_t payload[IOCTL_PAYLOAD];
	for (uint64_t i = 0; i < iters; i++) {
		memcpy(payload, b->pin, sizeof(payload));
		bench_escape(payload);
		memcpy(b->pout, payload, sizeof(payload));
		bench_clobber();
	}
	return (int64_t)iters;
}

/* ... and with the two headers: every byte the device moves. */
static int64_t memcpy_440(void *p, uint64_t iters)
{
	struct ioctlb *b = p;
	uint8_t payload[IOCTL_PAYLOAD];
	struct ioctl_hdr h;
	struct ioctl_resp resp;
	for (uint64_t i = 0; i < iters; i++) {
		memcpy(&h, b->hin, sizeof(h));
		memcpy(payload, b->pin, sizeof(payload));
		bench_escape(payload);
		resp = (struct ioctl_resp){ .status = h.code ^ h.session };
		memcpy(b->hout, &resp, sizeof(resp));
		memcpy(b->pout, payload, sizeof(payload));
		bench_clobber();
	}
	return (int64_t)iters;
}

static struct ioctlb *ioctl_setup(const char *name, unsigned batch, bool evidx, bool dev_only)
{
	struct ioctlb *b = fixture_zalloc(sizeof(*b));
	if (!b || fixture_init(&b->x, 256, evidx ? EVIDX : 0, 0)) {
		bench_fail("%s: setup", name);
		free(b);
		return NULL;
	}
	b->batch = batch;
	b->evidx = evidx;
	static const uint32_t lens[4] = { IOCTL_HDR_IN, IOCTL_PAYLOAD, IOCTL_HDR_OUT,
					  IOCTL_PAYLOAD };
	for (int i = 0; i < 4; i++)
		b->bufs[i] = (struct vq_fake_buf){ fixture_buf(&b->x, lens[i]), lens[i], i >= 2 };
	b->hin = vq_fake_host(&b->x.f, b->bufs[0].gpa, IOCTL_HDR_IN);
	b->pin = vq_fake_host(&b->x.f, b->bufs[1].gpa, IOCTL_PAYLOAD);
	b->hout = vq_fake_host(&b->x.f, b->bufs[2].gpa, IOCTL_HDR_OUT);
	b->pout = vq_fake_host(&b->x.f, b->bufs[3].gpa, IOCTL_PAYLOAD);
	if (dev_only) {
		/* 64 ready 4-descriptor chains at heads 0, 4, 8, ... */
		for (uint32_t h = 0; h < 256; h += 4) {
			for (uint32_t k = 0; k < 4; k++)
				vq_fake_write_desc(&b->x.f, (uint16_t)(h + k), b->bufs[k].gpa,
						   b->bufs[k].len,
						   (uint16_t)((k >= 2 ? VQ_DESC_F_WRITE : 0) |
							      (k < 3 ? VQ_DESC_F_NEXT : 0)),
						   (uint16_t)(h + k + 1));
		}
		for (uint32_t s = 0; s < 256; s++)
			vq_fake_add_raw_head(&b->x.f, (uint16_t)((s * 4) & 255));
	}
	return b;
}

static void bench_ioctl(unsigned batch, bool evidx, bool dev_only)
{
	char name[96];
	snprintf(name, sizeof(name), "%sioctl_chain_batch%u_%s", dev_only ? "dev_" : "", batch,
		 evidx ? "evidx" : "noevidx");
	if (!bench_selected(name))
		return;
	struct ioctlb *b = ioctl_setup(name, batch, evidx, dev_only);
	if (!b)
		return;
	struct bench_stats st;
	if (bench_measure(name, dev_only ? ioctl_dev : ioctl_full, b, &st) == 0)
		bench_report_time(name, &st, 1.0 / batch, "ns/cmd");
	fixture_destroy(&b->x);
	free(b);
}

static void bench_ioctl_memcpy(void)
{
	static const struct {
		const char *name;
		bench_fn fn;
	} cases[] = { { "memcpy_ioctl_416B", memcpy_416 }, { "memcpy_ioctl_440B", memcpy_440 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!bench_selected(cases[i].name))
			continue;
		struct ioctlb *b = ioctl_setup(cases[i].name, 1, true, false);
		if (!b)
			return;
		struct bench_stats st;
		if (bench_measure(cases[i].name, cases[i].fn, b, &st) == 0)
			bench_report_time(cases[i].name, &st, 1.0, "ns/cmd");
		fixture_destroy(&b->x);
		free(b);
	}
}

/* ------------------------------------------------------------------------ */
/* rust-vmm virtio-queue shapes */

#define RV_QSIZE 256
#define RV_LEN 0x1000

enum rv_shape { RV_SINGLE_CHAIN, RV_SINGLE_CHAIN_READER, RV_MULTI_CHAINS, RV_ADD_USED };

struct rvb {
	struct fixture x;
	enum rv_shape shape;
	uint16_t avail;
	unsigned chains_per_iter;
	uint64_t sink;
};

/* (a) / (b): publish the prepared chains again and walk every one popped. */
static int64_t rv_walk(void *p, uint64_t iters)
{
	struct rvb *b = p;
	struct vq_queue *q = &b->x.q;
	struct vq_chain *c = &b->x.c;
	uint64_t sink = 0;

	for (uint64_t i = 0; i < iters; i++) {
		b->avail = (uint16_t)(b->avail + b->chains_per_iter);
		vq_fake_set_avail_idx(&b->x.f, b->avail);
		unsigned nchains = 0, ndesc = 0;
		int r;
		while ((r = vq_queue_pop(q, c)) > 0) {
			/* Visit every segment, as their walk visits every descriptor. */
			uint32_t nseg = c->nreadable + c->nwritable;
			for (uint32_t s = 0; s < nseg; s++)
				sink += (uintptr_t)c->iov[s].iov_base + c->iov[s].iov_len;
			ndesc += nseg;
			nchains++;
		}
		CHECK(r == 0 && nchains == b->chains_per_iter && ndesc == 128,
		      "pop %d: %u chains %u descriptors", r, nchains, ndesc);
	}
	b->sink += sink;
	bench_escape(&b->sink);
	return (int64_t)iters;
}

/* (a) through the chain API: a reader skipping over all 512 KiB. */
static int64_t rv_walk_reader(void *p, uint64_t iters)
{
	struct rvb *b = p;
	struct vq_queue *q = &b->x.q;
	struct vq_chain *c = &b->x.c;

	for (uint64_t i = 0; i < iters; i++) {
		b->avail = (uint16_t)(b->avail + 1);
		vq_fake_set_avail_idx(&b->x.f, b->avail);
		unsigned nchains = 0;
		int r;
		while ((r = vq_queue_pop(q, c)) > 0) {
			struct vq_reader rd;
			vq_reader_init(&rd, c);
			size_t n = vq_reader_skip(&rd, SIZE_MAX);
			CHECK(n == 128u * RV_LEN && vq_reader_remaining(&rd) == 0, "skip %zu", n);
			nchains++;
		}
		CHECK(r == 0 && nchains == 1, "pop %d: %u chains", r, nchains);
	}
	return (int64_t)iters;
}

/* (c): 128 used entries, then one publish. */
static int64_t rv_add_used(void *p, uint64_t iters)
{
	struct rvb *b = p;
	struct vq_queue *q = &b->x.q;
	const struct vq_chain *c = &b->x.c;

	for (uint64_t i = 0; i < iters; i++) {
		for (unsigned k = 0; k < 128; k++)
			CHECK(vq_queue_push(q, c, RV_LEN) == 0, "push");
		CHECK(vq_queue_flush(q) >= 0, "flush");
	}
	return (int64_t)iters;
}

static void bench_rustvmm(enum rv_shape shape, bool indirect)
{
	static const char *const names[] = {
		[RV_SINGLE_CHAIN] = "rustvmm_single_chain_128desc",
		[RV_SINGLE_CHAIN_READER] = "rustvmm_single_chain_128desc_reader",
		[RV_MULTI_CHAINS] = "rustvmm_multiple_chains_128x1desc",
		[RV_ADD_USED] = "rustvmm_add_used_128",
	};
	char name[96];
	snprintf(name, sizeof(name), "%s%s", names[shape], indirect ? "_indirect" : "");
	if (!bench_selected(name))
		return;
	struct rvb *b = fixture_zalloc(sizeof(*b));
	if (!b || fixture_init(&b->x, RV_QSIZE, indirect ? INDIRECT : 0, 0)) {
		bench_fail("%s: setup", name);
		free(b);
		return;
	}
	struct vq_fake *f = &b->x.f;
	b->shape = shape;
	uint64_t buf = fixture_buf(&b->x, RV_LEN);
	bench_fn fn = rv_walk;

	switch (shape) {
	case RV_SINGLE_CHAIN:
	case RV_SINGLE_CHAIN_READER:
		b->chains_per_iter = 1;
		if (indirect) {
			uint64_t t = vq_fake_alloc_table(f, 128);
			for (uint32_t k = 0; k < 128; k++)
				vq_fake_write_table(f, t, k, buf, RV_LEN,
						    k < 127 ? VQ_DESC_F_NEXT : 0,
						    (uint16_t)(k + 1));
			vq_fake_write_desc(f, 0, t, 128 * sizeof(struct vq_desc),
					   VQ_DESC_F_INDIRECT, 0);
		} else {
			for (uint32_t k = 0; k < 128; k++)
				vq_fake_write_desc(f, (uint16_t)k, buf, RV_LEN,
						   k < 127 ? VQ_DESC_F_NEXT : 0,
						   (uint16_t)(k + 1));
		}
		for (uint32_t s = 0; s < RV_QSIZE; s++)
			vq_fake_add_raw_head(f, 0);
		if (shape == RV_SINGLE_CHAIN_READER)
			fn = rv_walk_reader;
		break;
	case RV_MULTI_CHAINS:
		b->chains_per_iter = 128;
		for (uint32_t k = 0; k < 128; k++) {
			if (indirect) {
				uint64_t t = vq_fake_alloc_table(f, 1);
				vq_fake_write_table(f, t, 0, buf, RV_LEN, 0, 0);
				vq_fake_write_desc(f, (uint16_t)k, t, sizeof(struct vq_desc),
						   VQ_DESC_F_INDIRECT, 0);
			} else {
				vq_fake_write_desc(f, (uint16_t)k, buf, RV_LEN, 0, 0);
			}
		}
		for (uint32_t s = 0; s < RV_QSIZE; s++)
			vq_fake_add_raw_head(f, (uint16_t)(s & 127));
		break;
	case RV_ADD_USED:
		/* Their add_used(123, 0x1000): pop one real chain with head 123
		 * and a 0x1000-byte writable buffer, then return it over and over.
		 * The driver has interrupts off, as their add_used never notifies. */
		vq_fake_write_desc(f, 123, buf, RV_LEN, VQ_DESC_F_WRITE, 0);
		vq_fake_add_raw_head(f, 123);
		vq_fake_set_avail_idx(f, 1);
		if (vq_queue_pop(&b->x.q, &b->x.c) != 1 || b->x.c.id != 123) {
			bench_fail("%s: setup pop", name);
			goto out;
		}
		vq_fake_disable_interrupts(f);
		fn = rv_add_used;
		break;
	}

	struct bench_stats st;
	if (bench_measure(name, fn, b, &st) == 0)
		bench_report_time(name, &st, 1e-3, "us/128");
out:
	fixture_destroy(&b->x);
	free(b);
}

int main(int argc, char **argv)
{
	bench_init(argc, argv, "bench_queue");

	static const unsigned batches[] = { 1, 32, 128 };
	for (int dev = 0; dev < 2; dev++)
		for (int e = 1; e >= 0; e--)
			for (size_t i = 0; i < 3; i++)
				bench_onedesc(batches[i], e, dev);

	bench_ioctl_memcpy();
	bench_ioctl(1, true, false);
	bench_ioctl(32, true, false);
	bench_ioctl(1, false, false);
	bench_ioctl(1, true, true);
	bench_ioctl(32, true, true);

	bench_rustvmm(RV_SINGLE_CHAIN, false);
	bench_rustvmm(RV_MULTI_CHAINS, false);
	bench_rustvmm(RV_ADD_USED, false);
	bench_rustvmm(RV_SINGLE_CHAIN, true);
	bench_rustvmm(RV_MULTI_CHAINS, true);
	bench_rustvmm(RV_SINGLE_CHAIN_READER, false);
	return bench_finish();
}
