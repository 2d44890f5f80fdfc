/* SPDX-License-Identifier: MIT */
/* vq_mem: the region table, translation and the caller-supplied translator. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "vq_ring.h"

/* Host backing for the regions below; regions never sit next to each other
 * in host memory unless a test asks for it. */
static _Alignas(64) char host[16 * 4096];

#define A_GPA 0x10000ull
#define B_GPA 0x11000ull /* adjacent to A in guest-physical space */
#define C_GPA 0x20000ull /* a gap after B */
#define PG 4096ull

static void two_adjacent(struct vq_mem *m)
{
	vq_mem_init(m);
	cr_assert_eq(vq_mem_add_region(m, A_GPA, PG, host + 0 * PG), 0);
	cr_assert_eq(vq_mem_add_region(m, B_GPA, PG, host + 4 * PG), 0);
}

/* ---- add_region ---- */

Test(mem, init_is_empty)
{
	struct vq_mem m;
	memset(&m, 0xa5, sizeof(m));
	vq_mem_init(&m);
	cr_assert_eq(m.nregions, 0);
	cr_assert_null(m.translate);
	struct iovec iov[1];
	cr_assert_eq(vq_mem_translate(&m, A_GPA, 1, iov, 1), -EFAULT);
	cr_assert_null(vq_mem_map(&m, A_GPA, 1));
}

Test(mem, add_zero_size)
{
	struct vq_mem m;
	vq_mem_init(&m);
	cr_assert_eq(vq_mem_add_region(&m, A_GPA, 0, host), -EINVAL);
	cr_assert_eq(m.nregions, 0);
}

Test(mem, add_wrapping)
{
	struct vq_mem m;
	vq_mem_init(&m);
	cr_assert_eq(vq_mem_add_region(&m, UINT64_MAX - 10, 100, host), -EINVAL);
	cr_assert_eq(vq_mem_add_region(&m, UINT64_MAX, 2, host), -EINVAL);
	cr_assert_eq(vq_mem_add_region(&m, 2, UINT64_MAX, host), -EINVAL);
	cr_assert_eq(vq_mem_add_region(&m, 1, UINT64_MAX, host + PG), 0, "ends at 2^64 - 1");
	cr_assert_eq(m.nregions, 1);
	vq_mem_init(&m);
	cr_assert_eq(m.nregions, 0);
}

Test(mem, add_up_to_top_of_address_space)
{
	/* The last byte at 2^64 - 1 does not wrap. */
	struct vq_mem m;
	vq_mem_init(&m);
	cr_assert_eq(vq_mem_add_region(&m, UINT64_MAX - (PG - 1), PG, host), 0);
	cr_assert_eq(vq_mem_add_region(&m, 0, UINT64_MAX - (PG - 1), host + 4 * PG), 0);
	cr_assert_eq(m.nregions, 2);
	struct iovec iov[2];
	cr_assert_eq(vq_mem_translate(&m, UINT64_MAX, 1, iov, 2), 1);
	cr_assert_eq(iov[0].iov_base, host + PG - 1);
	cr_assert_eq(iov[0].iov_len, 1);
	cr_assert_eq(vq_mem_translate(&m, UINT64_MAX - (PG - 1), PG, iov, 2), 1);
	cr_assert_eq(iov[0].iov_base, host);
	cr_assert_eq(iov[0].iov_len, PG);
	cr_assert_eq(vq_mem_map(&m, UINT64_MAX, 1), host + PG - 1);
}

Test(mem, add_overlap_eexist)
{
	struct vq_mem m;
	vq_mem_init(&m);
	cr_assert_eq(vq_mem_add_region(&m, 0x10000, 0x1000, host), 0);
	cr_assert_eq(vq_mem_add_region(&m, 0x10000, 0x1000, host), -EEXIST, "same range");
	cr_assert_eq(vq_mem_add_region(&m, 0xf000, 0x1001, host), -EEXIST, "overlaps first byte");
	cr_assert_eq(vq_mem_add_region(&m, 0x10fff, 0x10, host), -EEXIST, "overlaps last byte");
	cr_assert_eq(vq_mem_add_region(&m, 0x10800, 0x10, host), -EEXIST, "inside");
	cr_assert_eq(vq_mem_add_region(&m, 0x8000, 0x10000, host), -EEXIST, "contains");
	cr_assert_eq(m.nregions, 1);
	/* Touching on either side is not overlapping. */
	cr_assert_eq(vq_mem_add_region(&m, 0xf000, 0x1000, host + PG), 0);
	cr_assert_eq(vq_mem_add_region(&m, 0x11000, 0x1000, host + 2 * PG), 0);
	cr_assert_eq(m.nregions, 3);
	/* An overlap with a region that sorts after the new one is found too. */
	cr_assert_eq(vq_mem_add_region(&m, 0xe000, 0x1001, host), -EEXIST);
	cr_assert_eq(vq_mem_add_region(&m, 0x1000, 0x20000, host), -EEXIST);
	cr_assert_eq(m.nregions, 3);
}

Test(mem, add_full_enospc)
{
	struct vq_mem m;
	vq_mem_init(&m);
	for (unsigned i = 0; i < VQ_MEM_MAX_REGIONS; i++)
		cr_assert_eq(vq_mem_add_region(&m, 0x100000ull * (i + 1), 0x1000, host), 0, "region %u", i);
	cr_assert_eq(m.nregions, VQ_MEM_MAX_REGIONS);
	cr_assert_eq(vq_mem_add_region(&m, 0x100000ull * 100, 0x1000, host), -ENOSPC);
	cr_assert_eq(m.nregions, VQ_MEM_MAX_REGIONS);
}

Test(mem, add_sorted_insertion)
{
	struct vq_mem m;
	vq_mem_init(&m);
	const uint64_t gpas[] = { 0x50000, 0x10000, 0x30000, 0x70000, 0x20000 };
	for (unsigned i = 0; i < 5; i++)
		cr_assert_eq(vq_mem_add_region(&m, gpas[i], 0x1000, host + i * PG), 0);
	cr_assert_eq(m.nregions, 5);
	const uint64_t want_gpa[] = { 0x10000, 0x20000, 0x30000, 0x50000, 0x70000 };
	const unsigned want_host[] = { 1, 4, 2, 0, 3 };
	for (unsigned i = 0; i < 5; i++) {
		cr_assert_eq(m.regions[i].gpa, want_gpa[i], "slot %u", i);
		cr_assert_eq(m.regions[i].size, 0x1000);
		cr_assert_eq(m.regions[i].host, host + want_host[i] * PG, "slot %u", i);
	}
	/* Each region still translates to its own host memory. */
	for (unsigned i = 0; i < 5; i++)
		cr_assert_eq(vq_mem_map(&m, gpas[i] + 5, 1), host + i * PG + 5);
}

/* ---- translate ---- */

Test(mem, translate_inside)
{
	struct vq_mem m;
	two_adjacent(&m);
	struct iovec iov[4];
	cr_assert_eq(vq_mem_translate(&m, A_GPA + 100, 200, iov, 4), 1);
	cr_assert_eq(iov[0].iov_base, host + 100);
	cr_assert_eq(iov[0].iov_len, 200);
	/* Exactly a whole region. */
	cr_assert_eq(vq_mem_translate(&m, B_GPA, PG, iov, 4), 1);
	cr_assert_eq(iov[0].iov_base, host + 4 * PG);
	cr_assert_eq(iov[0].iov_len, PG);
	/* The last byte of the second region. */
	cr_assert_eq(vq_mem_translate(&m, B_GPA + PG - 1, 1, iov, 1), 1);
	cr_assert_eq(iov[0].iov_base, host + 5 * PG - 1);
	cr_assert_eq(iov[0].iov_len, 1);
}

Test(mem, translate_outside_efault)
{
	struct vq_mem m;
	two_adjacent(&m);
	struct iovec iov[4];
	cr_assert_eq(vq_mem_translate(&m, 0, 1, iov, 4), -EFAULT, "below");
	cr_assert_eq(vq_mem_translate(&m, A_GPA - 1, 1, iov, 4), -EFAULT, "byte before");
	cr_assert_eq(vq_mem_translate(&m, A_GPA - 1, 2, iov, 4), -EFAULT, "starts before");
	cr_assert_eq(vq_mem_translate(&m, B_GPA + PG, 1, iov, 4), -EFAULT, "byte after");
	cr_assert_eq(vq_mem_translate(&m, B_GPA + PG - 1, 2, iov, 4), -EFAULT, "straddles end");
	cr_assert_eq(vq_mem_translate(&m, A_GPA, 2 * PG + 1, iov, 4), -EFAULT, "one too long");
	cr_assert_eq(vq_mem_translate(&m, UINT64_MAX - 5, 6, iov, 4), -EFAULT, "top, no wrap");
}

Test(mem, translate_across_gap_efault)
{
	struct vq_mem m;
	two_adjacent(&m);
	cr_assert_eq(vq_mem_add_region(&m, C_GPA, PG, host + 8 * PG), 0);
	struct iovec iov[4];
	/* B ends at 0x12000, C starts at 0x20000: a hole in between. */
	cr_assert_eq(vq_mem_translate(&m, B_GPA + PG - 8, 16, iov, 4), -EFAULT);
	cr_assert_eq(vq_mem_translate(&m, C_GPA - 8, 16, iov, 4), -EFAULT);
	cr_assert_eq(vq_mem_translate(&m, C_GPA, 16, iov, 4), 1);
	cr_assert_eq(iov[0].iov_base, host + 8 * PG);
}

Test(mem, translate_wraps_eoverflow)
{
	struct vq_mem m;
	two_adjacent(&m);
	struct iovec iov[4];
	cr_assert_eq(vq_mem_translate(&m, UINT64_MAX, 2, iov, 4), -EOVERFLOW);
	cr_assert_eq(vq_mem_translate(&m, A_GPA, UINT64_MAX, iov, 4), -EOVERFLOW);
	cr_assert_eq(vq_mem_translate(&m, UINT64_MAX - 15, 32, iov, 4), -EOVERFLOW);
	/* Ending exactly at 2^64 - 1 is not a wrap (just not mapped here). */
	cr_assert_eq(vq_mem_translate(&m, UINT64_MAX - 15, 16, iov, 4), -EFAULT);
}

Test(mem, translate_spanning_two_regions)
{
	struct vq_mem m;
	two_adjacent(&m);
	struct iovec iov[4];
	memset(iov, 0, sizeof(iov));
	/* 100 bytes before the boundary, 28 after. */
	cr_assert_eq(vq_mem_translate(&m, B_GPA - 100, 128, iov, 4), 2);
	cr_assert_eq(iov[0].iov_base, host + PG - 100);
	cr_assert_eq(iov[0].iov_len, 100);
	cr_assert_eq(iov[1].iov_base, host + 4 * PG);
	cr_assert_eq(iov[1].iov_len, 28);
	cr_assert_null(iov[2].iov_base, "no third segment written");
	/* Both regions entirely. */
	cr_assert_eq(vq_mem_translate(&m, A_GPA, 2 * PG, iov, 2), 2);
	cr_assert_eq(iov[0].iov_base, host);
	cr_assert_eq(iov[0].iov_len, PG);
	cr_assert_eq(iov[1].iov_base, host + 4 * PG);
	cr_assert_eq(iov[1].iov_len, PG);
}

Test(mem, translate_spanning_enobufs)
{
	struct vq_mem m;
	two_adjacent(&m);
	struct iovec iov[2];
	cr_assert_eq(vq_mem_translate(&m, B_GPA - 1, 2, iov, 1), -ENOBUFS);
	cr_assert_eq(vq_mem_translate(&m, A_GPA, 1, iov, 0), -ENOBUFS);
	cr_assert_eq(vq_mem_translate(&m, B_GPA - 1, 2, iov, 2), 2);
}

Test(mem, translate_three_regions)
{
	struct vq_mem m;
	two_adjacent(&m);
	cr_assert_eq(vq_mem_add_region(&m, B_GPA + PG, PG, host + 8 * PG), 0);
	struct iovec iov[3];
	cr_assert_eq(vq_mem_translate(&m, A_GPA + PG - 1, PG + 2, iov, 3), 3);
	cr_assert_eq(iov[0].iov_base, host + PG - 1);
	cr_assert_eq(iov[0].iov_len, 1);
	cr_assert_eq(iov[1].iov_base, host + 4 * PG);
	cr_assert_eq(iov[1].iov_len, PG);
	cr_assert_eq(iov[2].iov_base, host + 8 * PG);
	cr_assert_eq(iov[2].iov_len, 1);
	cr_assert_eq(vq_mem_translate(&m, A_GPA + PG - 1, PG + 2, iov, 2), -ENOBUFS);
}

Test(mem, translate_host_adjacent_regions_merge)
{
	/* Adjacent in guest and host memory: one segment is enough. */
	struct vq_mem m;
	vq_mem_init(&m);
	cr_assert_eq(vq_mem_add_region(&m, A_GPA, PG, host), 0);
	cr_assert_eq(vq_mem_add_region(&m, B_GPA, PG, host + PG), 0);
	struct iovec iov[1];
	cr_assert_eq(vq_mem_translate(&m, B_GPA - 10, 20, iov, 1), 1);
	cr_assert_eq(iov[0].iov_base, host + PG - 10);
	cr_assert_eq(iov[0].iov_len, 20);
}

Test(mem, translate_len_zero)
{
	struct vq_mem m;
	two_adjacent(&m);
	struct iovec iov[1] = { { (void *)0x1, 7 } };
	cr_assert_eq(vq_mem_translate(&m, A_GPA, 0, iov, 1), 0);
	cr_assert_eq(vq_mem_translate(&m, 0, 0, iov, 0), 0, "unmapped address, len 0");
	cr_assert_eq(vq_mem_translate(&m, UINT64_MAX, 0, iov, 0), 0);
	cr_assert_eq(iov[0].iov_base, (void *)0x1, "iov untouched");
	cr_assert_eq(iov[0].iov_len, 7);
}

/* ---- vq_mem_map ---- */

Test(mem, map_contiguous_only)
{
	struct vq_mem m;
	two_adjacent(&m);
	cr_assert_eq(vq_mem_map(&m, A_GPA, PG), host);
	cr_assert_eq(vq_mem_map(&m, A_GPA + 10, 20), host + 10);
	cr_assert_eq(vq_mem_map(&m, B_GPA + PG - 4, 4), host + 5 * PG - 4);
	cr_assert_null(vq_mem_map(&m, B_GPA - 1, 2), "spans two regions");
	cr_assert_null(vq_mem_map(&m, A_GPA, 2 * PG), "spans two regions");
	cr_assert_null(vq_mem_map(&m, B_GPA + PG - 4, 5), "leaves memory");
	cr_assert_null(vq_mem_map(&m, A_GPA - 1, 1), "outside");
	cr_assert_null(vq_mem_map(&m, UINT64_MAX, 2), "wraps");
	/* len 0 is checked as one byte. */
	cr_assert_eq(vq_mem_map(&m, A_GPA + 3, 0), host + 3);
	cr_assert_null(vq_mem_map(&m, A_GPA - 1, 0));
}

Test(mem, map_fast_matches_map)
{
	struct vq_mem m;
	vq_mem_init(&m);
	cr_assert_eq(vq_mem_add_region(&m, A_GPA, PG, host), 0);
	cr_assert_eq(vq_mem_map_fast(&m, A_GPA + 8, 8), host + 8);
	cr_assert_null(vq_mem_map_fast(&m, A_GPA + PG - 4, 8));
	cr_assert_null(vq_mem_map_fast(&m, A_GPA - 4, 8));
	cr_assert_null(vq_mem_map_fast(&m, UINT64_MAX - 2, 8));
	/* Two regions: the slow path answers. */
	cr_assert_eq(vq_mem_add_region(&m, B_GPA, PG, host + 4 * PG), 0);
	cr_assert_eq(vq_mem_map_fast(&m, B_GPA + 8, 8), host + 4 * PG + 8);
	cr_assert_null(vq_mem_map_fast(&m, B_GPA - 4, 8));
}

/* ---- caller-supplied translator ---- */

/*
 * Guest pages [T_GPA, T_GPA + 4 pages) map to host pages in reverse order, so
 * nothing is host-contiguous across a page boundary.
 */
#define T_GPA 0x400000ull
#define T_PAGES 4u

struct tr {
	unsigned calls;
	uint64_t last_gpa, last_len;
	int mode; /* 0 normal, 1 contig 0, 2 contig > len, 3 NULL */
	bool bad_call; /* called with len 0 or a wrapping range */
};

static void *rev_pages(void *opaque, uint64_t gpa, uint64_t len, uint64_t *contig)
{
	struct tr *t = opaque;
	t->calls++;
	t->last_gpa = gpa;
	t->last_len = len;
	if (len == 0 || gpa + (len - 1) < gpa)
		t->bad_call = true;
	if (t->mode == 3 || gpa < T_GPA || gpa >= T_GPA + T_PAGES * PG)
		return NULL;
	uint64_t page = (gpa - T_GPA) / PG, off = (gpa - T_GPA) % PG;
	uint64_t room = PG - off;
	*contig = t->mode == 1 ? 0 : t->mode == 2 ? len + 1 : (len < room ? len : room);
	return host + (T_PAGES - 1 - page) * 2 * PG + off;
}

static void *rev_host(uint64_t gpa)
{
	uint64_t page = (gpa - T_GPA) / PG, off = (gpa - T_GPA) % PG;
	return host + (T_PAGES - 1 - page) * 2 * PG + off;
}

Test(mem, translator_replaces_regions)
{
	struct vq_mem m;
	struct tr t = { 0 };
	two_adjacent(&m); /* regions present, but the translator wins */
	vq_mem_set_translator(&m, rev_pages, &t);
	cr_assert_eq(m.translate, rev_pages);
	cr_assert_eq(m.translate_opaque, &t);
	struct iovec iov[8];
	cr_assert_eq(vq_mem_translate(&m, A_GPA, 16, iov, 8), -EFAULT, "regions ignored");
	cr_assert_null(vq_mem_map(&m, A_GPA, 16));
	cr_assert_null(vq_mem_map_fast(&m, A_GPA, 16));
	cr_assert_eq(vq_mem_translate(&m, T_GPA + 5, 10, iov, 8), 1);
	cr_assert_eq(iov[0].iov_base, rev_host(T_GPA + 5));
	cr_assert_eq(iov[0].iov_len, 10);
	cr_assert_eq(t.last_gpa, T_GPA + 5);
	cr_assert_eq(t.last_len, 10);
	cr_assert_not(t.bad_call);
}

Test(mem, translator_pieces)
{
	struct vq_mem m;
	struct tr t = { 0 };
	vq_mem_init(&m);
	vq_mem_set_translator(&m, rev_pages, &t);
	struct iovec iov[8];
	/* 100 bytes before page 1, all of page 1 and 2, 50 bytes of page 3. */
	uint64_t gpa = T_GPA + PG - 100, len = 100 + 2 * PG + 50;
	cr_assert_eq(vq_mem_translate(&m, gpa, len, iov, 8), 4);
	cr_assert_eq(t.calls, 4);
	cr_assert_eq(iov[0].iov_base, rev_host(gpa));
	cr_assert_eq(iov[0].iov_len, 100);
	cr_assert_eq(iov[1].iov_base, rev_host(T_GPA + PG));
	cr_assert_eq(iov[1].iov_len, PG);
	cr_assert_eq(iov[2].iov_base, rev_host(T_GPA + 2 * PG));
	cr_assert_eq(iov[2].iov_len, PG);
	cr_assert_eq(iov[3].iov_base, rev_host(T_GPA + 3 * PG));
	cr_assert_eq(iov[3].iov_len, 50);
	/* The translator is asked only for what is left. */
	cr_assert_eq(t.last_gpa, T_GPA + 3 * PG);
	cr_assert_eq(t.last_len, 50);
	cr_assert_not(t.bad_call);
	cr_assert_eq(vq_mem_translate(&m, gpa, len, iov, 3), -ENOBUFS);
	/* Past the last page: unmapped. */
	cr_assert_eq(vq_mem_translate(&m, T_GPA + T_PAGES * PG - 1, 2, iov, 8), -EFAULT);
	/* vq_mem_map needs one host-contiguous piece. */
	cr_assert_eq(vq_mem_map(&m, T_GPA + PG, PG), rev_host(T_GPA + PG));
	cr_assert_null(vq_mem_map(&m, T_GPA + PG, PG + 1));
	cr_assert_not(t.bad_call);
}

Test(mem, translator_not_called_for_bad_ranges)
{
	struct vq_mem m;
	struct tr t = { 0 };
	vq_mem_init(&m);
	vq_mem_set_translator(&m, rev_pages, &t);
	struct iovec iov[2];
	cr_assert_eq(vq_mem_translate(&m, T_GPA, 0, iov, 2), 0);
	cr_assert_eq(vq_mem_translate(&m, UINT64_MAX, 2, iov, 2), -EOVERFLOW);
	cr_assert_null(vq_mem_map(&m, UINT64_MAX - 1, 4));
	cr_assert_eq(t.calls, 0);
	cr_assert_not(t.bad_call);
}

Test(mem, translator_contig_zero_is_unmapped)
{
	struct vq_mem m;
	struct tr t = { .mode = 1 };
	vq_mem_init(&m);
	vq_mem_set_translator(&m, rev_pages, &t);
	struct iovec iov[2];
	cr_assert_eq(vq_mem_translate(&m, T_GPA, 16, iov, 2), -EFAULT);
	cr_assert_null(vq_mem_map(&m, T_GPA, 16));
	cr_assert_eq(t.calls, 2, "one call each, no endless loop");
}

Test(mem, translator_contig_above_len_is_unmapped)
{
	struct vq_mem m;
	struct tr t = { .mode = 2 };
	vq_mem_init(&m);
	vq_mem_set_translator(&m, rev_pages, &t);
	struct iovec iov[2];
	cr_assert_eq(vq_mem_translate(&m, T_GPA, 16, iov, 2), -EFAULT);
	cr_assert_null(vq_mem_map(&m, T_GPA, 16));
	cr_assert_eq(t.calls, 2);
}

Test(mem, translator_null_is_unmapped)
{
	struct vq_mem m;
	struct tr t = { .mode = 3 };
	vq_mem_init(&m);
	vq_mem_set_translator(&m, rev_pages, &t);
	struct iovec iov[2];
	cr_assert_eq(vq_mem_translate(&m, T_GPA, 16, iov, 2), -EFAULT);
	cr_assert_null(vq_mem_map(&m, T_GPA, 16));
}

Test(mem, translator_removed)
{
	struct vq_mem m;
	struct tr t = { 0 };
	two_adjacent(&m);
	vq_mem_set_translator(&m, rev_pages, &t);
	vq_mem_set_translator(&m, NULL, NULL);
	struct iovec iov[2];
	cr_assert_eq(vq_mem_translate(&m, A_GPA, 16, iov, 2), 1);
	cr_assert_eq(iov[0].iov_base, host);
	cr_assert_eq(t.calls, 0);
}
