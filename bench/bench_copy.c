/* SPDX-License-Identifier: MIT */
/*
 * Bulk copies through the chain cursors against plain memcpy, same buffers,
 * same run.
 *
 * One 1 MiB single-descriptor chain per iteration: the fake driver adds and
 * publishes it, the device pops it, copies 1 MiB through a writer (host
 * buffer -> guest) or a reader (guest -> host buffer), pushes and flushes, the
 * driver takes the used entry.  The per-iteration queue work (~0.1 µs) is
 * included; it is noise next to the copy.  memcpy_1MiB copies the same host
 * buffer to the same guest buffer (the writer's direction),
 * memcpy_1MiB_from_guest the reverse (the reader's).  GB/s = 1e9 bytes/s.
 */
#include <stdlib.h>

#include "fixture.h"

#define MIB (1u << 20)

struct copyb {
	struct fixture x;
	struct vq_fake_buf buf;
	uint8_t *guest; /* host view of the guest buffer */
	uint8_t *host;  /* the device's own buffer */
};

static int64_t copy_memcpy_to_guest(void *p, uint64_t iters)
{
	struct copyb *b = p;
	for (uint64_t i = 0; i < iters; i++) {
		memcpy(b->guest, b->host, MIB);
		bench_clobber();
	}
	return (int64_t)iters;
}

static int64_t copy_memcpy_from_guest(void *p, uint64_t iters)
{
	struct copyb *b = p;
	for (uint64_t i = 0; i < iters; i++) {
		memcpy(b->host, b->guest, MIB);
		bench_clobber();
	}
	return (int64_t)iters;
}

static int64_t copy_chain(struct copyb *b, uint64_t iters, bool write)
{
	struct vq_fake *f = &b->x.f;
	struct vq_queue *q = &b->x.q;
	struct vq_chain *c = &b->x.c;
	for (uint64_t i = 0; i < iters; i++) {
		CHECK(vq_fake_add(f, &b->buf, 1, 0) >= 0, "vq_fake_add");
		vq_fake_publish(f);
		CHECK(vq_queue_pop(q, c) == 1, "pop");
		uint32_t written = 0;
		if (write) {
			struct vq_writer w;
			vq_writer_init(&w, c);
			CHECK(vq_writer_write(&w, b->host, MIB) == MIB, "write");
			written = vq_writer_written(&w);
		} else {
			struct vq_reader r;
			vq_reader_init(&r, c);
			CHECK(vq_reader_read(&r, b->host, MIB) == MIB, "read");
		}
		bench_clobber();
		CHECK(vq_queue_push(q, c, written) == 0, "push");
		vq_queue_flush(q);
		uint32_t id, len;
		CHECK(vq_fake_get_used(f, &id, &len) == 1 && len == written, "get_used");
		vq_fake_enable_interrupts(f);
	}
	return (int64_t)iters;
}

static int64_t copy_writer(void *p, uint64_t iters)
{
	return copy_chain(p, iters, true);
}

static int64_t copy_reader(void *p, uint64_t iters)
{
	return copy_chain(p, iters, false);
}

int main(int argc, char **argv)
{
	bench_init(argc, argv, "bench_copy");

	struct copyb *b = fixture_zalloc(sizeof(*b));
	if (!b || fixture_init(&b->x, 16, EVIDX, 4 * MIB)) {
		bench_fail("setup");
		return bench_finish();
	}
	uint64_t gpa = fixture_buf(&b->x, MIB);
	b->guest = vq_fake_host(&b->x.f, gpa, MIB);
	b->host = aligned_alloc(4096, MIB);
	if (!gpa || !b->guest || !b->host) {
		bench_fail("setup: buffers");
		return bench_finish();
	}
	memset(b->host, 0x5a, MIB);

	static const struct {
		const char *name;
		bench_fn fn;
		bool writable;
	} cases[] = {
		{ "memcpy_1MiB", copy_memcpy_to_guest, true },
		{ "writer_1MiB", copy_writer, true },
		{ "reader_1MiB", copy_reader, false },
		{ "memcpy_1MiB_from_guest", copy_memcpy_from_guest, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!bench_selected(cases[i].name))
			continue;
		b->buf = (struct vq_fake_buf){ gpa, MIB, cases[i].writable };
		struct bench_stats st;
		if (bench_measure(cases[i].name, cases[i].fn, b, &st) == 0)
			bench_report_rate(cases[i].name, &st, (double)MIB, "GB/s");
	}

	free(b->host);
	fixture_destroy(&b->x);
	free(b);
	return bench_finish();
}
