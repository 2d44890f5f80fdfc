/* SPDX-License-Identifier: MIT */
/*
 * MMAP memory: the shm backing, the range allocator and the MMAP / MUNMAP
 * lifetime rules of PROTOCOL.md (refcounted maps, RO->RW upgrade, mappings
 * that outlive their buffer).  The device is built by hand: no runner.
 */
#define _GNU_SOURCE /* memfd_create */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmedia_internal.h"

#define PAGE ((uint64_t)sysconf(_SC_PAGESIZE))

/* ---- a transport that records what it is asked ---- */

struct call {
	char op; /* 'm' map, 'u' unmap */
	uint64_t offset, len;
	bool rw;
};

struct rec {
	struct call calls[32];
	unsigned n;
	int fail; /* -errno for the next map */
};

static int rec_map(void *opaque, uint64_t offset, uint64_t len, bool rw)
{
	struct rec *r = opaque;
	if (r->fail) {
		int e = r->fail;
		r->fail = 0;
		return e;
	}
	cr_assert_lt(r->n, 32);
	r->calls[r->n++] = (struct call){ 'm', offset, len, rw };
	return 0;
}

static void rec_unmap(void *opaque, uint64_t offset, uint64_t len)
{
	struct rec *r = opaque;
	cr_assert_lt(r->n, 32);
	r->calls[r->n++] = (struct call){ 'u', offset, len, false };
}

static const struct vmedia_shm_ops rec_ops = { rec_map, rec_unmap };

static void expect_call(struct rec *r, unsigned i, char op, uint64_t offset, uint64_t len, bool rw)
{
	cr_assert_gt(r->n, i, "call %u missing (%u calls)", i, r->n);
	struct call c = r->calls[i];
	cr_assert_eq(c.op, op, "call %u: op %c, expected %c", i, c.op, op);
	cr_assert_eq(c.offset, offset, "call %u: offset %#llx", i, (unsigned long long)c.offset);
	cr_assert_eq(c.len, len, "call %u: len %llu", i, (unsigned long long)c.len);
	cr_assert_eq(c.rw, rw, "call %u: rw %d", i, c.rw);
}

/* ---- fixture ---- */

struct sfx {
	struct vmedia_shm shm;
	struct vmedia_device dev;
	struct rec rec;
};

static void sfx_init(struct sfx *x, uint64_t pages, uint32_t max_buffers, bool ops)
{
	memset(x, 0, sizeof(*x));
	cr_assert_eq(vmedia_shm_init_memfd(&x->shm, pages * PAGE), 0);
	if (ops) {
		x->shm.ops = &rec_ops;
		x->shm.opaque = &x->rec;
	}
	x->dev.shm = &x->shm;
	cr_assert_eq(vmedia_mmap_init(&x->dev, max_buffers), 0);
}

static void sfx_fini(struct sfx *x)
{
	vmedia_mmap_destroy(&x->dev);
	vmedia_shm_destroy(&x->shm);
}

static uint32_t alloc_ok(struct sfx *x, uint32_t len)
{
	uint32_t off = ~0u;
	void *host = NULL;
	int r = vmedia_mmap_alloc(&x->dev, len, &off, &host);
	cr_assert_eq(r, 0, "alloc(%u): %d", len, r);
	cr_assert_eq(off % PAGE, 0);
	cr_assert_eq(host, x->shm.host + off);
	return off;
}

static void map_ok(struct sfx *x, uint32_t off, bool rw, uint64_t want_len)
{
	uint64_t addr = ~0ull, len = ~0ull;
	int r = vmedia_mmap_map(&x->dev, off, rw, &addr, &len);
	cr_assert_eq(r, 0, "map(%#x): %d", off, r);
	cr_assert_eq(addr, off, "driver_addr is the buffer's offset");
	cr_assert_eq(len, want_len, "len is the exact buffer length");
}

static int map_err(struct sfx *x, uint32_t off, bool rw)
{
	uint64_t addr, len;
	return vmedia_mmap_map(&x->dev, off, rw, &addr, &len);
}

/* ---- the backing ---- */

Test(shm, memfd_sizes)
{
	struct vmedia_shm shm;
	cr_assert_eq(vmedia_shm_init_memfd(&shm, 0), -EINVAL);
	cr_assert_eq(vmedia_shm_init_memfd(&shm, PAGE + 1), -EINVAL);
	cr_assert_eq(vmedia_shm_init_memfd(&shm, (1ull << 32) + PAGE), -EINVAL);
	/* The largest mem_offset space: sparse, so it costs nothing. */
	cr_assert_eq(vmedia_shm_init_memfd(&shm, 1ull << 32), 0);
	cr_assert_eq(shm.size, 1ull << 32);
	cr_assert_null(shm.ops);
	shm.host[(1ull << 32) - 1] = 7;
	vmedia_shm_destroy(&shm);
	cr_assert_eq(shm.fd, -1);
	cr_assert_null(shm.host);
}

Test(shm, memfd_is_shared_with_its_fd)
{
	struct vmedia_shm shm;
	cr_assert_eq(vmedia_shm_init_memfd(&shm, 4 * PAGE), 0);
	cr_assert_geq(shm.fd, 0);
	memcpy(shm.host + PAGE, "frame", 5);
	char buf[5];
	cr_assert_eq(pread(shm.fd, buf, 5, (off_t)PAGE), 5);
	cr_assert_eq(memcmp(buf, "frame", 5), 0);
	vmedia_shm_destroy(&shm);
}

Test(shm, adopt_fd_grows_never_shrinks)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)PAGE), 0);
	struct vmedia_shm shm;
	cr_assert_eq(vmedia_shm_init_fd(&shm, fd, 0), -EINVAL, "bad size: fd still ours");
	cr_assert_eq(vmedia_shm_init_fd(&shm, -1, PAGE), -EBADF);
	cr_assert_eq(vmedia_shm_init_fd(&shm, fd, 3 * PAGE), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)(3 * PAGE), "grown to size");
	shm.host[3 * PAGE - 1] = 1;
	vmedia_shm_destroy(&shm); /* closes fd */
	cr_assert_eq(fcntl(fd, F_GETFD), -1, "shm owned and closed the fd");

	fd = memfd_create("t", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(fd, (off_t)(8 * PAGE)), 0);
	cr_assert_eq(vmedia_shm_init_fd(&shm, fd, 2 * PAGE), 0);
	cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)(8 * PAGE), "a larger file is left alone");
	cr_assert_eq(shm.size, 2 * PAGE);
	vmedia_shm_destroy(&shm);
}

/* ---- allocation ---- */

Test(shm, no_backing_is_enodev)
{
	struct vmedia_device dev;
	memset(&dev, 0, sizeof(dev));
	cr_assert_eq(vmedia_mmap_init(&dev, 4), 0);
	uint32_t off;
	void *host;
	uint64_t addr, len;
	cr_assert_eq(vmedia_mmap_alloc(&dev, 4096, &off, &host), -ENODEV);
	cr_assert_eq(vmedia_mmap_map(&dev, 0, false, &addr, &len), -ENODEV);
	cr_assert_eq(vmedia_mmap_unmap(&dev, 0), -EINVAL);
	cr_assert_eq(vmedia_mmap_free(&dev, 0), -ENOENT);
	vmedia_mmap_destroy(&dev);
}

Test(shm, init_rejects_zero_buffers)
{
	struct vmedia_device dev;
	memset(&dev, 0, sizeof(dev));
	cr_assert_eq(vmedia_mmap_init(&dev, 0), -EINVAL);
}

Test(shm, page_aligned_first_fit)
{
	struct sfx x;
	sfx_init(&x, 16, 16, false);
	uint32_t len0;
	void *host;
	cr_assert_eq(vmedia_mmap_alloc(&x.dev, 0, &len0, &host), -EINVAL);
	uint32_t a = alloc_ok(&x, 100);
	uint32_t b = alloc_ok(&x, (uint32_t)(2 * PAGE));
	uint32_t c = alloc_ok(&x, (uint32_t)PAGE + 1);
	cr_assert_eq(a, 0, "offset 0 is a fine offset");
	cr_assert_eq(b, PAGE);
	cr_assert_eq(c, 3 * PAGE);
	cr_assert_eq(x.dev.nranges, 3);

	cr_assert_eq(vmedia_mmap_free(&x.dev, b), 0);
	/* Three pages do not fit the two-page hole: they go after c. */
	cr_assert_eq(alloc_ok(&x, (uint32_t)(3 * PAGE)), 5 * PAGE);
	/* One page does: first fit. */
	cr_assert_eq(alloc_ok(&x, 1), PAGE);
	cr_assert_eq(alloc_ok(&x, 1), 2 * PAGE);
	/* Lookups find every range after inserts in the middle (binary search
	 * over a table that must be sorted). */
	uint32_t offs[] = { 0, (uint32_t)PAGE, (uint32_t)(2 * PAGE), (uint32_t)(3 * PAGE),
			    (uint32_t)(5 * PAGE) };
	for (unsigned i = 0; i < 5; i++) {
		uint64_t addr, len;
		cr_assert_eq(vmedia_mmap_map(&x.dev, offs[i], false, &addr, &len), 0, "%u", i);
		cr_assert_eq(addr, offs[i]);
	}
	sfx_fini(&x);
}

Test(shm, allocations_are_zeroed)
{
	struct sfx x;
	sfx_init(&x, 4, 4, false);
	uint32_t off = alloc_ok(&x, (uint32_t)(2 * PAGE));
	memset(x.shm.host + off, 0xab, 2 * PAGE);
	cr_assert_eq(vmedia_mmap_free(&x.dev, off), 0);
	/* Same range again, shorter: the whole page is clean, tail included,
	 * since the driver maps whole pages. */
	cr_assert_eq(alloc_ok(&x, 10), off);
	for (uint64_t i = 0; i < PAGE; i++)
		cr_assert_eq(x.shm.host[off + i], 0, "byte %llu not zero", (unsigned long long)i);
	cr_assert_eq(x.shm.host[off + PAGE], 0xab, "the next page is not this range's");
	uint32_t next = alloc_ok(&x, (uint32_t)PAGE);
	cr_assert_eq(next, off + PAGE);
	for (uint64_t i = 0; i < PAGE; i++)
		cr_assert_eq(x.shm.host[next + i], 0, "byte %llu not zero", (unsigned long long)i);
	sfx_fini(&x);
}

Test(shm, zeroing_without_fd_uses_memset)
{
	/* A VMM may hand us plain memory with no fd to share. */
	struct vmedia_shm shm = { .fd = -1, .size = 2 * PAGE };
	shm.host = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(shm.host, MAP_FAILED);
	memset(shm.host, 0xcd, 2 * PAGE);
	struct vmedia_device dev;
	memset(&dev, 0, sizeof(dev));
	dev.shm = &shm;
	cr_assert_eq(vmedia_mmap_init(&dev, 2), 0);
	uint32_t off;
	void *host;
	cr_assert_eq(vmedia_mmap_alloc(&dev, 1, &off, &host), 0);
	for (uint64_t i = 0; i < PAGE; i++)
		cr_assert_eq(shm.host[off + i], 0);
	cr_assert_eq(shm.host[PAGE], 0xcd, "the next page is not touched");
	vmedia_mmap_destroy(&dev);
	munmap(shm.host, 2 * PAGE);
}

Test(shm, exhaustion)
{
	struct sfx x;
	sfx_init(&x, 4, 16, false);
	uint32_t off;
	void *host;
	cr_assert_eq(vmedia_mmap_alloc(&x.dev, (uint32_t)(5 * PAGE), &off, &host), -ENOSPC,
		     "larger than the region");
	for (int i = 0; i < 4; i++)
		alloc_ok(&x, (uint32_t)PAGE);
	cr_assert_eq(vmedia_mmap_alloc(&x.dev, 1, &off, &host), -ENOSPC, "region full");
	cr_assert_eq(vmedia_mmap_free(&x.dev, (uint32_t)(2 * PAGE)), 0);
	cr_assert_eq(alloc_ok(&x, 1), 2 * PAGE);
	sfx_fini(&x);
}

Test(shm, max_buffers)
{
	struct sfx x;
	sfx_init(&x, 16, 2, false);
	alloc_ok(&x, 1);
	alloc_ok(&x, 1);
	uint32_t off;
	void *host;
	cr_assert_eq(vmedia_mmap_alloc(&x.dev, 1, &off, &host), -ENOSPC, "table full, region not");
	sfx_fini(&x);
}

Test(shm, free_unknown_and_double_free)
{
	struct sfx x;
	sfx_init(&x, 4, 4, false);
	uint32_t off = alloc_ok(&x, 1);
	cr_assert_eq(vmedia_mmap_free(&x.dev, off + (uint32_t)PAGE), -ENOENT);
	cr_assert_eq(vmedia_mmap_free(&x.dev, off + 1), -ENOENT);
	cr_assert_eq(vmedia_mmap_free(&x.dev, off), 0);
	cr_assert_eq(vmedia_mmap_free(&x.dev, off), -ENOENT);
	cr_assert_eq(x.dev.nranges, 0, "freed while unmapped: released at once");
	sfx_fini(&x);
}

/* ---- MMAP / MUNMAP ---- */

Test(shm, map_unknown_or_unaligned)
{
	struct sfx x;
	sfx_init(&x, 4, 4, true);
	uint32_t off = alloc_ok(&x, 5000);
	cr_assert_eq(map_err(&x, off + 1, false), -EINVAL, "not page-aligned");
	cr_assert_eq(map_err(&x, off + (uint32_t)(2 * PAGE), false), -EINVAL, "no buffer there");
	cr_assert_eq(map_err(&x, off + (uint32_t)PAGE, false), -EINVAL, "inside, not at the start");
	cr_assert_eq(x.rec.n, 0, "nothing asked of the transport");
	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), -EINVAL, "not mapped");
	cr_assert_eq(vmedia_mmap_unmap(&x.dev, 1ull << 40), -EINVAL);
	sfx_fini(&x);
}

Test(shm, repeated_map_is_refcounted)
{
	struct sfx x;
	sfx_init(&x, 8, 4, true);
	alloc_ok(&x, 1);
	uint32_t off = alloc_ok(&x, 5000); /* two pages */
	map_ok(&x, off, false, 5000);
	map_ok(&x, off, false, 5000);
	map_ok(&x, off, false, 5000);
	cr_assert_eq(x.rec.n, 1, "the transport maps once");
	expect_call(&x.rec, 0, 'm', off, 2 * PAGE, false);

	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), 0);
	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), 0);
	cr_assert_eq(x.rec.n, 1, "still mapped once");
	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), 0);
	cr_assert_eq(x.rec.n, 2);
	expect_call(&x.rec, 1, 'u', off, 2 * PAGE, false);
	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), -EINVAL, "one MUNMAP too many");
	cr_assert_eq(x.dev.nranges, 2, "the buffer itself lives on");
	sfx_fini(&x);
}

Test(shm, ro_then_rw_upgrades)
{
	struct sfx x;
	sfx_init(&x, 4, 4, true);
	uint32_t off = alloc_ok(&x, 100);
	map_ok(&x, off, false, 100);
	map_ok(&x, off, true, 100);
	cr_assert_eq(x.rec.n, 2, "RW on an RO mapping asks again");
	expect_call(&x.rec, 0, 'm', off, PAGE, false);
	expect_call(&x.rec, 1, 'm', off, PAGE, true);
	map_ok(&x, off, false, 100);
	map_ok(&x, off, true, 100);
	cr_assert_eq(x.rec.n, 2, "RO or RW on an RW mapping keeps it");
	for (int i = 0; i < 4; i++)
		cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), 0);
	expect_call(&x.rec, 2, 'u', off, PAGE, false);

	/* After the last unmap the next RO map is RO again. */
	map_ok(&x, off, false, 100);
	expect_call(&x.rec, 3, 'm', off, PAGE, false);
	sfx_fini(&x);
}

Test(shm, transport_error_leaves_no_mapping)
{
	struct sfx x;
	sfx_init(&x, 4, 4, true);
	uint32_t off = alloc_ok(&x, 100);
	x.rec.fail = -ENOMEM;
	cr_assert_eq(map_err(&x, off, false), -ENOMEM);
	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), -EINVAL, "failed map counted nothing");

	map_ok(&x, off, false, 100);
	x.rec.fail = -EPERM;
	cr_assert_eq(map_err(&x, off, true), -EPERM, "failed upgrade");
	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), 0);
	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), -EINVAL, "the RO map was the only one");
	sfx_fini(&x);
}

Test(shm, mapping_outlives_free)
{
	struct sfx x;
	sfx_init(&x, 4, 4, true);
	uint32_t off = alloc_ok(&x, (uint32_t)PAGE);
	map_ok(&x, off, true, PAGE);
	map_ok(&x, off, false, PAGE);
	memcpy(x.shm.host + off, "last frame", 10);

	cr_assert_eq(vmedia_mmap_free(&x.dev, off), 0, "the device is done with it");
	cr_assert_eq(map_err(&x, off, false), -EINVAL, "a freed buffer cannot be mapped anew");
	cr_assert_eq(vmedia_mmap_free(&x.dev, off), -ENOENT, "and not freed twice");
	/* Not reused while mapped: a new buffer goes elsewhere. */
	uint32_t other = alloc_ok(&x, (uint32_t)PAGE);
	cr_assert_neq(other, off);
	cr_assert_eq(memcmp(x.shm.host + off, "last frame", 10), 0, "the mapping still shows it");

	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), 0);
	cr_assert_eq(x.dev.nranges, 2, "one mapping left");
	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), 0);
	cr_assert_eq(x.dev.nranges, 1, "released at the last MUNMAP");
	expect_call(&x.rec, x.rec.n - 1, 'u', off, PAGE, false);
	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), -EINVAL);
	/* Now the range is reusable, zeroed. */
	cr_assert_eq(alloc_ok(&x, 1), off);
	cr_assert_eq(x.shm.host[off], 0);
	sfx_fini(&x);
}

Test(shm, retired_ranges_count_against_max_buffers)
{
	struct sfx x;
	sfx_init(&x, 8, 1, false);
	uint32_t off = alloc_ok(&x, 1);
	map_ok(&x, off, false, 1);
	cr_assert_eq(vmedia_mmap_free(&x.dev, off), 0);
	uint32_t o;
	void *h;
	cr_assert_eq(vmedia_mmap_alloc(&x.dev, 1, &o, &h), -ENOSPC);
	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), 0);
	cr_assert_eq(alloc_ok(&x, 1), off);
	sfx_fini(&x);
}

Test(shm, no_ops_maps_fine)
{
	struct sfx x;
	sfx_init(&x, 4, 4, false);
	uint32_t off = alloc_ok(&x, 3);
	map_ok(&x, off, true, 3);
	cr_assert_eq(vmedia_mmap_unmap(&x.dev, off), 0);
	sfx_fini(&x);
}

Test(shm, destroy_unmaps_what_is_still_mapped)
{
	struct sfx x;
	sfx_init(&x, 8, 8, true);
	uint32_t a = alloc_ok(&x, 1);
	uint32_t b = alloc_ok(&x, (uint32_t)(2 * PAGE));
	uint32_t c = alloc_ok(&x, 1);
	map_ok(&x, a, false, 1);
	map_ok(&x, a, false, 1);
	map_ok(&x, b, true, 2 * PAGE);
	cr_assert_eq(vmedia_mmap_free(&x.dev, b), 0); /* retired, mapped */
	(void)c;                                      /* never mapped */
	unsigned before = x.rec.n;
	vmedia_mmap_destroy(&x.dev);
	cr_assert_eq(x.rec.n, before + 2, "one unmap per mapped range");
	expect_call(&x.rec, before, 'u', a, PAGE, false);
	expect_call(&x.rec, before + 1, 'u', b, 2 * PAGE, false);
	cr_assert_null(x.dev.ranges);
	vmedia_shm_destroy(&x.shm);
}
