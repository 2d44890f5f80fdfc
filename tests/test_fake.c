/* SPDX-License-Identifier: MIT */
/* The fake driver itself: memory, ring layout, descriptor bookkeeping, kicks. */
#include <unistd.h>

#include "fixture.h"

#define PAGE 4096u

static struct vq_fake f;

static void fake_init(struct vq_fake_config cfg)
{
	cr_assert_eq(vq_fake_init(&f, &cfg), 0);
}

static void teardown(void) { vq_fake_destroy(&f); }

TestSuite(fake, .fini = teardown);

/* ---- configuration and memory ---- */

Test(fake, default_gpa_base)
{
	fake_init((struct vq_fake_config){ .size = 8 });
	cr_assert_eq(f.gpa_base, VQ_FAKE_DEFAULT_GPA);
	cr_assert_eq(f.desc_gpa, VQ_FAKE_DEFAULT_GPA);
	cr_assert_neq(VQ_FAKE_DEFAULT_GPA, 0);
	cr_assert_eq(f.region_size, 1u << 20);
	cr_assert_eq(f.nregions, 1);
	cr_assert_eq(f.mem.nregions, 1);
	cr_assert_eq(f.mem.regions[0].gpa, VQ_FAKE_DEFAULT_GPA);
	cr_assert_eq(f.mem.regions[0].size, 1u << 20);
	cr_assert_null(f.mem.translate);
}

Test(fake, custom_gpa_base)
{
	const uint64_t base = 0x7f1234560000ull;
	fake_init((struct vq_fake_config){ .size = 8, .gpa_base = base, .region_size = 64 * PAGE });
	cr_assert_eq(f.gpa_base, base);
	cr_assert_eq(f.desc_gpa, base);
	cr_assert_eq(f.mem.regions[0].gpa, base);
	cr_assert_eq(f.mem.regions[0].size, 64 * PAGE);
	cr_assert_null(vq_fake_host(&f, base - 1, 1));
	cr_assert_null(vq_fake_host(&f, base + 64 * PAGE, 1));
	cr_assert_not_null(vq_fake_host(&f, base + 64 * PAGE - 1, 1));
	/* A device attached to it works at that base. */
	struct vq_queue_config cfg;
	vq_fake_queue_config(&f, &cfg);
	struct vq_queue q;
	cr_assert_eq(vq_queue_init(&q, &cfg), 0);
	uint64_t in = vq_fake_alloc_copy(&f, "abc", 3);
	cr_assert_geq(in, base);
	cr_assert_lt(in, base + 64 * PAGE);
	vq_fake_add(&f, &(struct vq_fake_buf){ in, 3, false }, 1, 0);
	vq_fake_publish(&f);
	struct iovec iov[1];
	struct vq_chain c;
	vq_chain_init(&c, iov, 1);
	cr_assert_eq(vq_queue_pop(&q, &c), 1);
	cr_assert_eq(memcmp(iov[0].iov_base, "abc", 3), 0);
}

Test(fake, bad_config)
{
	struct vq_fake g;
	cr_assert_eq(vq_fake_init(&g, &(struct vq_fake_config){ .size = 0 }), -EINVAL);
	cr_assert_eq(vq_fake_init(&g, &(struct vq_fake_config){ .size = 3 }), -EINVAL);
	cr_assert_eq(vq_fake_init(&g, &(struct vq_fake_config){ .size = 65536 }), -EINVAL);
	cr_assert_eq(vq_fake_init(&g, &(struct vq_fake_config){ .size = 8, .gpa_base = 0x100001000ull + 8 }), -EINVAL);
	cr_assert_eq(vq_fake_init(&g, &(struct vq_fake_config){ .size = 8, .region_size = PAGE + 1 }), -EINVAL);
	cr_assert_eq(vq_fake_init(&g, &(struct vq_fake_config){ .size = 8, .nregions = VQ_FAKE_MAX_REGIONS + 1 }), -EINVAL);
	/* Rings must fit the first region. */
	cr_assert_eq(vq_fake_init(&g, &(struct vq_fake_config){ .size = 256, .region_size = PAGE }), -EINVAL);
	cr_assert_eq(vq_fake_init(&g, &(struct vq_fake_config){ .size = 256, .region_size = 3 * PAGE }), 0);
	vq_fake_destroy(&g);
}

static void check_layout(uint32_t size)
{
	fake_init((struct vq_fake_config){ .size = size });
	size_t avail_off, used_off;
	size_t total = vq_legacy_layout(size, PAGE, &avail_off, &used_off);
	/* Descriptors, then the avail ring right after them, then the used
	 * ring at the next page (§2.7.2 legacy layout, 4096 alignment). */
	cr_assert_eq(avail_off, 16u * size);
	cr_assert_eq(used_off % PAGE, 0);
	cr_assert_geq(used_off, avail_off + 6 + 2u * size);
	cr_assert_lt(used_off - PAGE, avail_off + 6 + 2u * size);
	cr_assert_eq(total, used_off + 6 + 8u * size);
	cr_assert_eq(f.desc_gpa, f.gpa_base);
	cr_assert_eq(f.avail_gpa, f.gpa_base + avail_off);
	cr_assert_eq(f.used_gpa, f.gpa_base + used_off);
	cr_assert_eq(f.desc_gpa % VQ_DESC_ALIGN, 0);
	cr_assert_eq(f.avail_gpa % VQ_AVAIL_ALIGN, 0);
	cr_assert_eq(f.used_gpa % VQ_USED_ALIGN, 0);
	/* Host views agree with guest addresses. */
	cr_assert_eq((void *)f.desc, vq_fake_host(&f, f.desc_gpa, vq_desc_area_size(size)));
	cr_assert_eq((void *)f.avail, vq_fake_host(&f, f.avail_gpa, vq_avail_area_size(size)));
	cr_assert_eq((void *)f.used, vq_fake_host(&f, f.used_gpa, vq_used_area_size(size)));
	cr_assert_eq((void *)f.used_event, (void *)&f.avail->ring[size]);
	cr_assert_eq((void *)f.avail_event, (void *)&f.used->ring[size]);
	cr_assert_eq((char *)f.used_event - (char *)f.avail, 4 + 2 * size);
	cr_assert_eq((char *)f.avail_event - (char *)f.used, 4 + 8 * size);
	/* Everything starts zeroed. */
	const uint8_t *p = vq_fake_host(&f, f.gpa_base, total);
	for (size_t i = 0; i < total; i++)
		cr_assert_eq(p[i], 0, "ring byte %zu", i);
	/* Allocations come after the rings. */
	uint64_t a = vq_fake_alloc(&f, 1);
	cr_assert_geq(a, f.used_gpa + vq_used_area_size(size));
	vq_fake_destroy(&f);
}

Test(fake, legacy_layout)
{
	const uint32_t sizes[] = { 1, 2, 8, 256, 1024, 32768 };
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_layout(sizes[i]);
}

Test(fake, queue_config)
{
	fake_init((struct vq_fake_config){ .size = 16, .features = F_IND | F_EVT });
	struct vq_queue_config cfg;
	memset(&cfg, 0xa5, sizeof(cfg));
	vq_fake_queue_config(&f, &cfg);
	cr_assert_eq(cfg.size, 16);
	cr_assert_eq(cfg.features, F_IND | F_EVT);
	cr_assert_eq(cfg.desc_gpa, f.desc_gpa);
	cr_assert_eq(cfg.avail_gpa, f.avail_gpa);
	cr_assert_eq(cfg.used_gpa, f.used_gpa);
	cr_assert_eq(cfg.last_avail_idx, 0);
	cr_assert_eq(cfg.mem, &f.mem);
	cr_assert_null(cfg.notify);
	cr_assert_null(cfg.notify_opaque);
}

Test(fake, alloc)
{
	fake_init((struct vq_fake_config){ .size = 8, .region_size = 16 * PAGE });
	uint64_t prev_end = 0;
	for (size_t len = 1; len < 40; len++) {
		uint64_t a = vq_fake_alloc(&f, len);
		cr_assert_neq(a, 0);
		cr_assert_eq(a % 16, 0, "16-aligned");
		cr_assert_geq(a, prev_end, "no overlap");
		prev_end = a + len;
	}
	/* Exhaustion returns 0 and leaves the rest usable. */
	cr_assert_eq(vq_fake_alloc(&f, 16 * PAGE), 0);
	uint64_t end = f.gpa_base + 16 * PAGE;
	uint64_t last = vq_fake_alloc(&f, end - ((prev_end + 15) & ~15ull));
	cr_assert_neq(last, 0, "exactly what is left");
	cr_assert_eq(vq_fake_alloc(&f, 1), 0);
	cr_assert_eq(vq_fake_alloc_copy(&f, "x", 1), 0);
}

Test(fake, alloc_copy)
{
	fake_init((struct vq_fake_config){ .size = 8 });
	uint8_t src[100];
	fx_fill(src, sizeof(src), 9);
	uint64_t a = vq_fake_alloc_copy(&f, src, sizeof(src));
	cr_assert_neq(a, 0);
	cr_assert_eq(memcmp(vq_fake_host(&f, a, sizeof(src)), src, sizeof(src)), 0);
}

/* Is the byte at @p readable?  write(2) says EFAULT instead of crashing. */
static bool readable(const void *p)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	ssize_t n = write(fds[1], p, 1);
	close(fds[0]);
	close(fds[1]);
	return n == 1;
}

Test(fake, regions_are_apart_in_host_memory)
{
	fake_init((struct vq_fake_config){ .size = 8, .nregions = 3, .region_size = 4 * PAGE });
	cr_assert_eq(f.mem.nregions, 3);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_eq(f.mem.regions[i].gpa, f.gpa_base + i * 4 * PAGE, "adjacent in guest space");
		cr_assert_eq(f.mem.regions[i].size, 4 * PAGE);
		cr_assert_eq(f.mem.regions[i].host, vq_fake_host(&f, f.gpa_base + i * 4 * PAGE, 1));
	}
	for (unsigned i = 0; i < 2; i++) {
		uint64_t boundary = f.gpa_base + (i + 1) * 4 * PAGE;
		char *last = vq_fake_host(&f, boundary - 1, 1);
		char *first = vq_fake_host(&f, boundary, 1);
		cr_assert_not_null(last);
		cr_assert_not_null(first);
		cr_assert_neq(last + 1, first, "not host-contiguous");
		cr_assert(readable(last));
		cr_assert(readable(first));
		cr_assert_not(readable(last + 1), "a guard page follows region %u", i);
		cr_assert_null(vq_fake_host(&f, boundary - 1, 2), "host() stays in one region");
	}
}

Test(fake, read_write_mem_across_regions)
{
	fake_init((struct vq_fake_config){ .size = 8, .nregions = 2, .region_size = 4 * PAGE });
	uint64_t boundary = f.gpa_base + 4 * PAGE;
	uint8_t src[300], got[300];
	fx_fill(src, sizeof(src), 11);
	cr_assert_eq(vq_fake_write_mem(&f, boundary - 100, src, sizeof(src)), 0);
	cr_assert_eq(memcmp(vq_fake_host(&f, boundary - 100, 100), src, 100), 0);
	cr_assert_eq(memcmp(vq_fake_host(&f, boundary, 200), src + 100, 200), 0);
	memset(got, 0, sizeof(got));
	cr_assert_eq(vq_fake_read_mem(&f, boundary - 100, got, sizeof(got)), 0);
	cr_assert_eq(memcmp(got, src, sizeof(src)), 0);
	/* Outside guest memory. */
	uint64_t end = f.gpa_base + 8 * PAGE;
	cr_assert_eq(vq_fake_write_mem(&f, end - 10, src, 20), -EFAULT);
	cr_assert_eq(vq_fake_read_mem(&f, end, got, 1), -EFAULT);
	cr_assert_eq(vq_fake_read_mem(&f, f.gpa_base - 1, got, 1), -EFAULT);
	cr_assert_eq(vq_fake_read_mem(&f, 0, got, 1), -EFAULT);
	cr_assert_eq(vq_fake_read_mem(&f, end - 1, got, 1), 0);
	cr_assert_eq(vq_fake_read_mem(&f, end, got, 0), 0, "len 0");
	/* The device's translation of the same range agrees. */
	struct iovec iov[2];
	cr_assert_eq(vq_mem_translate(&f.mem, boundary - 100, 300, iov, 2), 2);
	cr_assert_eq(memcmp(iov[0].iov_base, src, 100), 0);
	cr_assert_eq(memcmp(iov[1].iov_base, src + 100, 200), 0);
}

/* ---- descriptors ---- */

/* A device queue on the fake, for tests that need used entries. */
static struct vq_queue q;
static struct vq_chain c;
static struct iovec iov[64];

static void attach(void)
{
	struct vq_queue_config cfg;
	vq_fake_queue_config(&f, &cfg);
	cfg.notify = vq_fake_interrupt;
	cfg.notify_opaque = &f;
	cr_assert_eq(vq_queue_init(&q, &cfg), 0);
	vq_chain_init(&c, iov, 64);
}

/* Device: complete every available chain with 0 bytes. */
static unsigned complete_all(void)
{
	unsigned n = 0;
	int r;
	while ((r = vq_queue_pop(&q, &c)) == 1) {
		cr_assert_eq(vq_queue_push(&q, &c, 0), 0);
		n++;
	}
	cr_assert_eq(r, 0);
	vq_queue_flush(&q);
	return n;
}

static struct vq_fake_buf bufs[16];

static void make_bufs(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		bufs[i] = (struct vq_fake_buf){ vq_fake_alloc(&f, 8), 8, i >= n / 2 };
}

Test(fake, predictable_heads)
{
	fake_init((struct vq_fake_config){ .size = 8 });
	make_bufs(1);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(vq_fake_add(&f, bufs, 1, 0), i);
	/* Direct chains take consecutive descriptors and link them. */
	vq_fake_destroy(&f);
	fake_init((struct vq_fake_config){ .size = 8 });
	make_bufs(3);
	cr_assert_eq(vq_fake_add(&f, bufs, 3, 0), 0);
	cr_assert_eq(vq_from_le16(f.desc[0].next), 1);
	cr_assert_eq(vq_from_le16(f.desc[1].next), 2);
	cr_assert_eq(vq_from_le16(f.desc[0].flags), VQ_DESC_F_NEXT);
	cr_assert_eq(vq_from_le16(f.desc[1].flags), VQ_DESC_F_NEXT | VQ_DESC_F_WRITE);
	cr_assert_eq(vq_from_le16(f.desc[2].flags), VQ_DESC_F_WRITE);
	cr_assert_eq(vq_from_le64(f.desc[1].addr), bufs[1].gpa);
	cr_assert_eq(vq_from_le32(f.desc[1].len), 8);
	cr_assert_eq(vq_fake_add(&f, bufs, 3, 0), 3);
}

Test(fake, descriptors_freed_after_get_used)
{
	fake_init((struct vq_fake_config){ .size = 8, .features = F_IND });
	attach();
	make_bufs(3);
	cr_assert_eq(vq_fake_num_free(&f), 8);
	cr_assert_geq(vq_fake_add(&f, bufs, 3, 0), 0);
	cr_assert_eq(vq_fake_num_free(&f), 5);
	cr_assert_geq(vq_fake_add(&f, bufs, 3, VQ_FAKE_INDIRECT), 0);
	cr_assert_eq(vq_fake_num_free(&f), 4);
	cr_assert_geq(vq_fake_add(&f, bufs, 1, 0), 0);
	cr_assert_eq(vq_fake_num_free(&f), 3);
	vq_fake_publish(&f);
	cr_assert_eq(complete_all(), 3);
	cr_assert_eq(vq_fake_num_free(&f), 3, "freed only when the driver takes them");
	uint32_t id, len;
	const uint32_t after[] = { 6, 7, 8 };
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(vq_fake_get_used(&f, &id, &len), 1);
		cr_assert_eq(vq_fake_num_free(&f), after[i]);
	}
	cr_assert_eq(vq_fake_get_used(&f, &id, &len), 0);
	/* And they are usable again, many times over. */
	for (int round = 0; round < 50; round++) {
		cr_assert_geq(vq_fake_add(&f, bufs, 3, 0), 0);
		cr_assert_geq(vq_fake_add(&f, bufs, 3, 0), 0);
		cr_assert_geq(vq_fake_add(&f, bufs, 2, VQ_FAKE_INDIRECT), 0);
		cr_assert_geq(vq_fake_add(&f, bufs, 1, 0), 0);
		cr_assert_eq(vq_fake_num_free(&f), 0);
		vq_fake_publish(&f);
		cr_assert_eq(complete_all(), 4);
		while (vq_fake_get_used(&f, &id, &len))
			;
		cr_assert_eq(vq_fake_num_free(&f), 8);
	}
}

Test(fake, enospc_when_full)
{
	fake_init((struct vq_fake_config){ .size = 4, .features = F_IND });
	make_bufs(4);
	cr_assert_eq(vq_fake_add(&f, bufs, 0, 0), -EINVAL);
	cr_assert_eq(vq_fake_add(&f, bufs, 5, 0), -EINVAL, "longer than the queue");
	cr_assert_eq(vq_fake_add(&f, bufs, 5, VQ_FAKE_INDIRECT), -EINVAL);
	cr_assert_eq(vq_fake_add(&f, bufs, 3, 0), 0);
	cr_assert_eq(vq_fake_add(&f, bufs, 2, 0), -ENOSPC);
	cr_assert_eq(vq_fake_num_free(&f), 1, "a failed add takes nothing");
	cr_assert_eq(vq_fake_add(&f, bufs, 4, VQ_FAKE_INDIRECT), 3, "indirect needs one");
	cr_assert_eq(vq_fake_add(&f, bufs, 1, 0), -ENOSPC);
	cr_assert_eq(vq_fake_add(&f, bufs, 1, VQ_FAKE_INDIRECT), -ENOSPC);
	cr_assert_eq(vq_fake_num_free(&f), 0);
	cr_assert_eq(f.avail_idx, 2, "failed adds use no avail slot");
}

Test(fake, indirect_table_reuse)
{
	fake_init((struct vq_fake_config){ .size = 4, .features = F_IND });
	attach();
	make_bufs(8);
	int head = vq_fake_add(&f, bufs, 4, VQ_FAKE_INDIRECT);
	cr_assert_eq(head, 0);
	uint64_t table = vq_from_le64(f.desc[0].addr);
	cr_assert_eq(vq_from_le32(f.desc[0].len), 4 * 16);
	cr_assert_eq(vq_from_le16(f.desc[0].flags), VQ_DESC_F_INDIRECT);
	/* The table holds the chain. */
	struct vq_desc d;
	for (uint32_t i = 0; i < 4; i++) {
		cr_assert_eq(vq_fake_read_mem(&f, table + 16 * i, &d, 16), 0);
		cr_assert_eq(vq_from_le64(d.addr), bufs[i].gpa);
		cr_assert_eq(vq_from_le16(d.flags),
			     (bufs[i].writable ? VQ_DESC_F_WRITE : 0) | (i < 3 ? VQ_DESC_F_NEXT : 0));
		if (i < 3)
			cr_assert_eq(vq_from_le16(d.next), i + 1);
	}
	vq_fake_publish(&f);
	complete_all();
	uint32_t id, len;
	cr_assert_eq(vq_fake_get_used(&f, &id, &len), 1);
	cr_assert_eq(id, 0);

	/* Same head, no larger: same table, no new guest memory. */
	uint64_t probe = vq_fake_alloc(&f, 16);
	cr_assert_eq(vq_fake_add(&f, bufs, 3, VQ_FAKE_INDIRECT), 0);
	cr_assert_eq(vq_from_le64(f.desc[0].addr), table);
	cr_assert_eq(vq_from_le32(f.desc[0].len), 3 * 16);
	cr_assert_eq(vq_fake_alloc(&f, 16), probe + 16, "the table was not reallocated");
	vq_fake_publish(&f);
	complete_all();
	cr_assert_eq(vq_fake_get_used(&f, &id, &len), 1);

	/* Back to 4 entries: still the first table's capacity. */
	cr_assert_eq(vq_fake_add(&f, bufs, 4, VQ_FAKE_INDIRECT), 0);
	cr_assert_eq(vq_from_le64(f.desc[0].addr), table);
	vq_fake_publish(&f);
	complete_all();
	cr_assert_eq(vq_fake_get_used(&f, &id, &len), 1);
	vq_fake_destroy(&f);

	/* Larger than the cached table: a new one. */
	fake_init((struct vq_fake_config){ .size = 4, .features = F_IND });
	make_bufs(8);
	cr_assert_eq(vq_fake_add(&f, bufs, 2, VQ_FAKE_INDIRECT), 0);
	uint64_t small = vq_from_le64(f.desc[0].addr);
	attach();
	vq_fake_publish(&f);
	complete_all();
	cr_assert_eq(vq_fake_get_used(&f, &id, &len), 1);
	cr_assert_eq(vq_fake_add(&f, bufs, 4, VQ_FAKE_INDIRECT), 0);
	cr_assert_neq(vq_from_le64(f.desc[0].addr), small, "a 2-entry table cannot hold 4");
	cr_assert_eq(vq_from_le32(f.desc[0].len), 4 * 16);
}

Test(fake, raw_heads_are_not_freed)
{
	fake_init((struct vq_fake_config){ .size = 4 });
	attach();
	vq_fake_write_desc(&f, 2, vq_fake_alloc(&f, 8), 8, VQ_DESC_F_WRITE, 0);
	vq_fake_add_raw_head(&f, 2);
	vq_fake_publish(&f);
	cr_assert_eq(complete_all(), 1);
	uint32_t id, len;
	cr_assert_eq(vq_fake_get_used(&f, &id, &len), 1);
	cr_assert_eq(id, 2);
	cr_assert_eq(vq_fake_num_free(&f), 4, "the fake never owned it");
}

Test(fake, raw_writes_are_little_endian)
{
	fake_init((struct vq_fake_config){ .size = 4 });
	vq_fake_write_desc(&f, 5 /* masked to 1 */, 0x0102030405060708ull, 0x11223344, 0x5566, 0x7788);
	const uint8_t want[16] = { 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
				   0x44, 0x33, 0x22, 0x11, 0x66, 0x55, 0x88, 0x77 };
	cr_assert_eq(memcmp(&f.desc[1], want, 16), 0);
	uint64_t t = vq_fake_alloc_table(&f, 3);
	cr_assert_neq(t, 0);
	uint8_t zero[48] = { 0 };
	cr_assert_eq(memcmp(vq_fake_host(&f, t, 48), zero, 48), 0, "tables start zeroed");
	vq_fake_write_table(&f, t, 2, 0x0102030405060708ull, 0x11223344, 0x5566, 0x7788);
	cr_assert_eq(memcmp((uint8_t *)vq_fake_host(&f, t, 48) + 32, want, 16), 0);
	cr_assert_eq(memcmp(vq_fake_host(&f, t, 32), zero, 32), 0);
	vq_fake_set_avail_idx(&f, 0x1234);
	const uint8_t idx[2] = { 0x34, 0x12 };
	cr_assert_eq(memcmp(&f.avail->idx, idx, 2), 0);
}

Test(fake, set_avail_idx_then_add)
{
	fake_init((struct vq_fake_config){ .size = 4 });
	vq_fake_set_avail_idx(&f, 65535);
	make_bufs(1);
	cr_assert_eq(vq_fake_add(&f, bufs, 1, 0), 0);
	cr_assert_eq(vq_fake_add(&f, bufs, 1, 0), 1);
	cr_assert_eq(vq_load16(&f.avail->idx), 65535, "unpublished");
	cr_assert_eq(vq_load16(&f.avail->ring[3]), 0, "slot 65535 & 3");
	cr_assert_eq(vq_load16(&f.avail->ring[0]), 1, "slot 0 after the wrap");
	vq_fake_publish(&f);
	cr_assert_eq(vq_load16(&f.avail->idx), 1);
}

/* ---- kicks and interrupts ---- */

static unsigned kick_calls;
static void *kick_arg;

static void on_kick(void *opaque)
{
	kick_calls++;
	kick_arg = opaque;
}

Test(fake, kick_callback)
{
	int token;
	fake_init((struct vq_fake_config){ .size = 8, .kick = on_kick, .kick_opaque = &token });
	make_bufs(1);
	cr_assert_eq(vq_fake_publish(&f), 0, "nothing new");
	vq_fake_add(&f, bufs, 1, 0);
	cr_assert_eq(vq_fake_publish(&f), 1);
	cr_assert_eq(kick_calls, 1);
	cr_assert_eq(kick_arg, &token);
	cr_assert_eq(f.kicks, 1);
	vq_fake_add(&f, bufs, 1, 0);
	vq_fake_add(&f, bufs, 1, 0);
	cr_assert_eq(vq_fake_publish(&f), 1, "one kick for two chains");
	cr_assert_eq(kick_calls, 2);
	/* The device says "don't kick". */
	vq_store16(&f.used->flags, VQ_USED_F_NO_NOTIFY);
	vq_fake_add(&f, bufs, 1, 0);
	cr_assert_eq(vq_fake_publish(&f), 0);
	cr_assert_eq(kick_calls, 2);
	cr_assert_eq(f.kicks, 2);
	cr_assert_eq(vq_load16(&f.avail->idx), 4, "published all the same");
}

Test(fake, kick_counting_without_callback)
{
	fake_init((struct vq_fake_config){ .size = 8, .features = F_EVT });
	make_bufs(1);
	vq_fake_add(&f, bufs, 1, 0);
	cr_assert_eq(vq_fake_publish(&f), 1, "avail_event 0 crossed");
	vq_fake_add(&f, bufs, 1, 0);
	cr_assert_eq(vq_fake_publish(&f), 0, "avail_event 0 already behind");
	vq_store16(f.avail_event, 2);
	vq_fake_add(&f, bufs, 1, 0);
	cr_assert_eq(vq_fake_publish(&f), 1, "2 -> 3 crosses 2");
	cr_assert_eq(f.kicks, 2);
}

Test(fake, interrupt_callback_and_suppression)
{
	fake_init((struct vq_fake_config){ .size = 8 });
	vq_fake_interrupt(&f);
	vq_fake_interrupt(&f);
	cr_assert_eq(f.interrupts, 2);
	vq_fake_disable_interrupts(&f);
	cr_assert_eq(vq_load16(&f.avail->flags), VQ_AVAIL_F_NO_INTERRUPT);
	cr_assert_eq(vq_fake_enable_interrupts(&f), 0);
	cr_assert_eq(vq_load16(&f.avail->flags), 0);
	vq_fake_destroy(&f);

	fake_init((struct vq_fake_config){ .size = 8, .features = F_EVT });
	vq_fake_set_used_event(&f, 77);
	cr_assert_eq(vq_load16(f.used_event), 77);
	vq_fake_disable_interrupts(&f);
	cr_assert_eq(vq_load16(&f.avail->flags), 0, "event idx: flags untouched");
	cr_assert_eq(vq_load16(f.used_event), 77);
	/* Enable asks for the next entry and re-checks. */
	vq_store16(&f.used->idx, 3);
	cr_assert_eq(vq_fake_used_pending(&f), 3);
	cr_assert_eq(vq_fake_enable_interrupts(&f), 1);
	cr_assert_eq(vq_load16(f.used_event), 0);
}

Test(fake, destroy_twice)
{
	fake_init((struct vq_fake_config){ .size = 8 });
	vq_fake_destroy(&f);
	cr_assert_null(f.map);
	cr_assert_eq(f.size, 0);
	vq_fake_destroy(&f);
}
