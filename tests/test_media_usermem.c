/* SPDX-License-Identifier: MIT */
/*
 * USERPTR / ext-control memory: SG lists turned into a direct view or a
 * bounce buffer, and every way a guest can get the list wrong.  Guest memory
 * is a fake driver's (two regions, adjacent in guest-physical space, a guard
 * page apart in host memory) or a translator that scatters 16-byte blocks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmedia_internal.h"
#include "vq_fake.h"

#define REGION (64u * 1024)
#define MAX_ENTRIES (VMEDIA_MAX_SG_ENTRIES + 8)

struct ufx {
	struct vq_fake f;
	struct vmedia_device dev;
	/* The readable part of a command: SG entries, then a marker. */
	uint8_t cmd[MAX_ENTRIES * sizeof(struct vmedia_sg_entry) + 8];
	size_t cmd_len;
	struct iovec iov[3];
	struct vq_chain c;
	struct vq_reader r;
};

static void ufx_init(struct ufx *x)
{
	memset(x, 0, sizeof(*x));
	struct vq_fake_config cfg = { .size = 8, .region_size = REGION, .nregions = 2 };
	cr_assert_eq(vq_fake_init(&x->f, &cfg), 0);
	x->dev.mem = &x->f.mem;
	x->dev.usermem_limit = 1u << 20;
}

static void ufx_fini(struct ufx *x)
{
	cr_assert_eq(x->dev.usermem_used, 0, "every bounce charge released");
	vq_fake_destroy(&x->f);
}

static void add_entry(struct ufx *x, uint64_t start, uint32_t len)
{
	struct vmedia_sg_entry e = { .start = vq_to_le64(start), .len = vq_to_le32(len) };
	cr_assert_leq(x->cmd_len + sizeof(e), sizeof(x->cmd));
	memcpy(x->cmd + x->cmd_len, &e, sizeof(e));
	x->cmd_len += sizeof(e);
}

/* A reader over what was added, plus @extra more bytes (a marker, or a cut
 * entry), the chain split into two segments at @cut (0: one segment). */
static void start_reader(struct ufx *x, size_t extra, size_t cut)
{
	size_t len = x->cmd_len + extra;
	vq_chain_init(&x->c, x->iov, 3);
	if (cut && cut < len) {
		x->iov[0] = (struct iovec){ x->cmd, cut };
		x->iov[1] = (struct iovec){ x->cmd + cut, len - cut };
		x->c.nreadable = 2;
	} else {
		x->iov[0] = (struct iovec){ x->cmd, len };
		x->c.nreadable = 1;
	}
	x->c.readable_len = (uint32_t)len;
	vq_reader_init(&x->r, &x->c);
}

/* Guest memory filled with a pattern; returns its address. */
static uint64_t guest_pattern(struct ufx *x, size_t len, unsigned seed)
{
	uint64_t gpa = vq_fake_alloc(&x->f, len);
	cr_assert_neq(gpa, 0);
	uint8_t *p = vq_fake_host(&x->f, gpa, len);
	cr_assert_not_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed);
	return gpa;
}

static uint8_t *host_of(struct ufx *x, uint64_t gpa, size_t len)
{
	uint8_t *p = vq_fake_host(&x->f, gpa, len);
	cr_assert_not_null(p);
	return p;
}

static struct vmedia_usermem *get_ok(struct ufx *x, size_t need)
{
	struct vmedia_usermem *m = NULL;
	int r = vmedia_usermem_get(&x->dev, &x->r, need, &m);
	cr_assert_eq(r, 0, "usermem_get(%zu): %d", need, r);
	cr_assert_not_null(m);
	cr_assert_eq(m->len, need);
	return m;
}

static int get_err(struct ufx *x, size_t need)
{
	struct vmedia_usermem *m = (void *)1;
	int r = vmedia_usermem_get(&x->dev, &x->r, need, &m);
	cr_assert_null(m, "nothing handed out on error");
	return r;
}

/* ---- direct views ---- */

Test(usermem, need_zero_reads_nothing)
{
	struct ufx x;
	ufx_init(&x);
	add_entry(&x, guest_pattern(&x, 16, 0), 16);
	start_reader(&x, 0, 0);
	struct vmedia_usermem *m = (void *)1;
	cr_assert_eq(vmedia_usermem_get(&x.dev, &x.r, 0, &m), 0);
	cr_assert_null(m);
	cr_assert_eq(vq_reader_consumed(&x.r), 0);
	vmedia_usermem_put(NULL, true);
	cr_assert_eq(vmedia_usermem_sync(NULL), 0);
	ufx_fini(&x);
}

Test(usermem, contiguous_is_a_direct_view)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t g = guest_pattern(&x, 1000, 1);
	add_entry(&x, g, 600);
	add_entry(&x, g + 600, 400);
	memcpy(x.cmd + x.cmd_len, "MARK", 4);
	start_reader(&x, 4, 0);

	struct vmedia_usermem *m = get_ok(&x, 1000);
	cr_assert_not(m->bounced);
	cr_assert_eq(m->ptr, host_of(&x, g, 1000), "the pointer is guest memory");
	cr_assert_eq(x.dev.stats.usermem_bounced, 0);
	cr_assert_eq(x.dev.usermem_used, 0, "a view costs no bounce bytes");
	char mark[4];
	cr_assert_eq(vq_reader_read_all(&x.r, mark, 4), 0, "the list was consumed exactly");
	cr_assert_eq(memcmp(mark, "MARK", 4), 0);

	((uint8_t *)m->ptr)[5] = 0xee;
	cr_assert_eq(host_of(&x, g, 1000)[5], 0xee, "writes land in the guest at once");
	cr_assert_eq(vmedia_usermem_sync(m), 0);
	vmedia_usermem_put(m, true);
	ufx_fini(&x);
}

Test(usermem, last_entry_is_truncated_and_later_ones_unread)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t g = guest_pattern(&x, 4096, 2);
	add_entry(&x, g, 4096); /* covers more than needed */
	add_entry(&x, 0x10, 16); /* not driver memory, but never read */
	start_reader(&x, 0, 0);
	struct vmedia_usermem *m = get_ok(&x, 100);
	cr_assert_eq(m->ptr, host_of(&x, g, 100));
	cr_assert_eq(vq_reader_remaining(&x.r), sizeof(struct vmedia_sg_entry));
	vmedia_usermem_put(m, false);
	ufx_fini(&x);
}

Test(usermem, only_the_needed_bytes_must_be_memory)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t end = x.f.gpa_base + 2ull * REGION;
	uint64_t a = guest_pattern(&x, 64, 1);
	/* The last entry runs off the end of guest memory, but not its first 16
	 * bytes, which are all that is needed. */
	add_entry(&x, a, 32);
	add_entry(&x, end - 16, 4096);
	start_reader(&x, 0, 0);
	struct vmedia_usermem *m = get_ok(&x, 48);
	cr_assert(m->bounced);
	cr_assert_eq(m->nsg, 2);
	cr_assert_eq(m->sg[1].start, end - 16);
	cr_assert_eq(m->sg[1].len, 16, "the kept list is truncated too");
	vmedia_usermem_put(m, true);
	ufx_fini(&x);
}

Test(usermem, zero_length_entries_are_skipped)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t g = guest_pattern(&x, 64, 3);
	add_entry(&x, 0xdead0000, 0); /* length 0: its address does not matter */
	add_entry(&x, g, 32);
	add_entry(&x, g + 4096, 0);
	add_entry(&x, g + 32, 32);
	start_reader(&x, 0, 0);
	struct vmedia_usermem *m = get_ok(&x, 64);
	cr_assert_not(m->bounced);
	cr_assert_eq(m->ptr, host_of(&x, g, 64));
	vmedia_usermem_put(m, false);
	ufx_fini(&x);
}

Test(usermem, entry_split_across_chain_segments)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t g = guest_pattern(&x, 64, 4);
	add_entry(&x, g, 64);
	start_reader(&x, 0, 5); /* the driver cut the entry after 5 bytes */
	struct vmedia_usermem *m = get_ok(&x, 64);
	cr_assert_eq(m->ptr, host_of(&x, g, 64));
	vmedia_usermem_put(m, false);
	ufx_fini(&x);
}

Test(usermem, exactly_max_entries)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t g = guest_pattern(&x, VMEDIA_MAX_SG_ENTRIES, 5);
	for (unsigned i = 0; i < VMEDIA_MAX_SG_ENTRIES; i++)
		add_entry(&x, g + i, 1);
	start_reader(&x, 0, 0);
	struct vmedia_usermem *m = get_ok(&x, VMEDIA_MAX_SG_ENTRIES);
	cr_assert_eq(m->ptr, host_of(&x, g, 1));
	vmedia_usermem_put(m, false);
	ufx_fini(&x);
}

/* ---- bounce buffers ---- */

Test(usermem, scattered_bounces_and_writes_back)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t a = guest_pattern(&x, 300, 10);
	vq_fake_alloc(&x.f, 64); /* a gap */
	uint64_t b = guest_pattern(&x, 500, 20);
	add_entry(&x, a, 300);
	add_entry(&x, b, 500);
	start_reader(&x, 0, 0);

	struct vmedia_usermem *m = get_ok(&x, 700); /* b truncated to 400 */
	cr_assert(m->bounced);
	cr_assert_eq(x.dev.stats.usermem_bounced, 1);
	cr_assert_eq(x.dev.usermem_used, 700);
	uint8_t *p = m->ptr;
	cr_assert_eq(memcmp(p, host_of(&x, a, 300), 300), 0, "filled from the guest");
	cr_assert_eq(memcmp(p + 300, host_of(&x, b, 400), 400), 0);

	memset(p, 0x11, 700);
	cr_assert_eq(host_of(&x, a, 1)[0], (uint8_t)10, "not written back before put");
	vmedia_usermem_put(m, true);
	for (int i = 0; i < 300; i++)
		cr_assert_eq(host_of(&x, a, 300)[i], 0x11);
	for (int i = 0; i < 400; i++)
		cr_assert_eq(host_of(&x, b, 500)[i], 0x11);
	cr_assert_eq(host_of(&x, b, 500)[400], (uint8_t)(400 * 7 + 20), "past need: untouched");
	cr_assert_eq(x.dev.usermem_used, 0);
	ufx_fini(&x);
}

Test(usermem, put_without_written_does_not_write_back)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t a = guest_pattern(&x, 64, 1);
	vq_fake_alloc(&x.f, 64);
	uint64_t b = guest_pattern(&x, 64, 2);
	add_entry(&x, a, 64);
	add_entry(&x, b, 64);
	start_reader(&x, 0, 0);
	struct vmedia_usermem *m = get_ok(&x, 128);
	cr_assert(m->bounced);
	memset(m->ptr, 0x5a, 128);
	vmedia_usermem_put(m, false);
	cr_assert_eq(host_of(&x, a, 1)[0], 1);
	cr_assert_eq(host_of(&x, b, 1)[0], 2);
	ufx_fini(&x);
}

Test(usermem, sync_writes_back_and_keeps_the_buffer)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t a = guest_pattern(&x, 64, 1);
	vq_fake_alloc(&x.f, 64);
	uint64_t b = guest_pattern(&x, 64, 2);
	add_entry(&x, a, 64);
	add_entry(&x, b, 64);
	start_reader(&x, 0, 0);
	struct vmedia_usermem *m = get_ok(&x, 128);
	((uint8_t *)m->ptr)[127] = 0x77;
	cr_assert_eq(vmedia_usermem_sync(m), 0);
	cr_assert_eq(host_of(&x, b, 64)[63], 0x77);
	vmedia_usermem_put(m, false);
	ufx_fini(&x);
}

Test(usermem, crossing_a_region_boundary_bounces)
{
	struct ufx x;
	ufx_init(&x);
	/* Guest-contiguous, but the regions are a guard page apart in host memory. */
	uint64_t boundary = x.f.gpa_base + REGION;
	uint8_t *lo = host_of(&x, boundary - 8, 8), *hi = host_of(&x, boundary, 8);
	memcpy(lo, "ABCDEFGH", 8);
	memcpy(hi, "IJKLMNOP", 8);
	add_entry(&x, boundary - 8, 16);
	start_reader(&x, 0, 0);
	struct vmedia_usermem *m = get_ok(&x, 16);
	cr_assert(m->bounced);
	cr_assert_eq(memcmp(m->ptr, "ABCDEFGHIJKLMNOP", 16), 0);
	memcpy(m->ptr, "abcdefghijklmnop", 16);
	vmedia_usermem_put(m, true);
	cr_assert_eq(memcmp(lo, "abcdefgh", 8), 0);
	cr_assert_eq(memcmp(hi, "ijklmnop", 8), 0);
	ufx_fini(&x);
}

Test(usermem, bounce_limit)
{
	struct ufx x;
	ufx_init(&x);
	x.dev.usermem_limit = 1000;
	uint64_t a = guest_pattern(&x, 2048, 1);
	vq_fake_alloc(&x.f, 64);
	uint64_t b = guest_pattern(&x, 2048, 2);
	/* List 1: 800 scattered bytes; list 2: 300; list 3: 2000 contiguous. */
	add_entry(&x, a, 400);
	add_entry(&x, b, 400);
	add_entry(&x, a, 150);
	add_entry(&x, b, 150);
	add_entry(&x, a, 2000);
	add_entry(&x, a, 150);
	add_entry(&x, b, 150);
	start_reader(&x, 0, 0);

	struct vmedia_usermem *m1 = get_ok(&x, 800);
	cr_assert_eq(x.dev.usermem_used, 800);
	cr_assert_eq(get_err(&x, 300), -ENOMEM, "800 + 300 > 1000");
	cr_assert_eq(x.dev.stats.usermem_bounced, 1);
	struct vmedia_usermem *m3 = get_ok(&x, 2000);
	cr_assert_not(m3->bounced, "a direct view is not charged");
	vmedia_usermem_put(m1, false);
	cr_assert_eq(x.dev.usermem_used, 0);
	struct vmedia_usermem *m4 = get_ok(&x, 300);
	cr_assert(m4->bounced);
	vmedia_usermem_put(m4, false);
	vmedia_usermem_put(m3, false);
	ufx_fini(&x);
}

Test(usermem, bounce_larger_than_the_limit)
{
	struct ufx x;
	ufx_init(&x);
	x.dev.usermem_limit = 10;
	uint64_t a = guest_pattern(&x, 64, 1);
	vq_fake_alloc(&x.f, 64);
	uint64_t b = guest_pattern(&x, 64, 2);
	add_entry(&x, a, 8);
	add_entry(&x, b, 8);
	start_reader(&x, 0, 0);
	cr_assert_eq(get_err(&x, 16), -ENOMEM);
	ufx_fini(&x);
}

/* ---- malformed lists ---- */

Test(usermem, list_too_short)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t g = guest_pattern(&x, 1000, 1);
	add_entry(&x, g, 600);
	start_reader(&x, 0, 0);
	cr_assert_eq(get_err(&x, 1000), -EINVAL);
	ufx_fini(&x);
}

Test(usermem, reader_runs_out_mid_entry)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t a = guest_pattern(&x, 64, 1);
	vq_fake_alloc(&x.f, 64);
	uint64_t b = guest_pattern(&x, 64, 2);
	add_entry(&x, a, 32);
	add_entry(&x, b, 32);
	x.cmd_len -= 5; /* the second entry is cut short */
	start_reader(&x, 0, 20);
	cr_assert_eq(get_err(&x, 64), -EINVAL);
	ufx_fini(&x); /* and ASan's leak check says nothing was left behind */
}

Test(usermem, more_than_max_entries)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t g = guest_pattern(&x, VMEDIA_MAX_SG_ENTRIES + 1, 5);
	for (unsigned i = 0; i <= VMEDIA_MAX_SG_ENTRIES; i++)
		add_entry(&x, g + i, 1);
	start_reader(&x, 0, 0);
	cr_assert_eq(get_err(&x, VMEDIA_MAX_SG_ENTRIES + 1), -EINVAL);
	ufx_fini(&x);
}

Test(usermem, zero_length_entries_count_against_the_bound)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t g = guest_pattern(&x, 16, 5);
	for (unsigned i = 0; i < VMEDIA_MAX_SG_ENTRIES; i++)
		add_entry(&x, g, 0);
	add_entry(&x, g, 16);
	start_reader(&x, 0, 0);
	cr_assert_eq(get_err(&x, 16), -EINVAL);
	ufx_fini(&x);
}

Test(usermem, entry_outside_memory)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t end = x.f.gpa_base + 2ull * REGION;
	add_entry(&x, 0x1000, 16); /* below guest memory */
	add_entry(&x, end - 8, 16); /* runs off the end */
	add_entry(&x, ~0ull - 7, 16); /* wraps 2^64 */
	start_reader(&x, 0, 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(get_err(&x, 16), -EFAULT, "entry %d", i);
	ufx_fini(&x);
}

Test(usermem, bad_entry_after_a_good_one)
{
	struct ufx x;
	ufx_init(&x);
	uint64_t g = guest_pattern(&x, 64, 5);
	add_entry(&x, g, 32);
	add_entry(&x, 0x2000, 32);
	start_reader(&x, 0, 0);
	cr_assert_eq(get_err(&x, 64), -EFAULT);
	cr_assert_eq(x.dev.stats.usermem_bounced, 0);
	ufx_fini(&x);
}

/* ---- a translator that scatters guest memory ---- */

#define SC_BASE 0x40000000ull
#define SC_BLOCK 16u
#define SC_BLOCKS 256u

/* Guest block k lives at host block SC_BLOCKS-1-k: every run of more than one
 * block is as fragmented as it gets. */
struct scatter {
	uint8_t host[SC_BLOCK * SC_BLOCKS];
	bool gone;           /* guest memory unplugged */
	unsigned calls;      /* translations so far */
	unsigned gone_after; /* if not 0: unplug after this many */
	/* A guest rewriting its SG list: store poke_val at poke when poke_gpa is
	 * first translated. */
	uint8_t *poke;
	uint32_t poke_val;
	uint64_t poke_gpa;
};

static void *sc_translate(void *opaque, uint64_t gpa, uint64_t len, uint64_t *contig)
{
	struct scatter *sc = opaque;
	if (sc->gone_after && ++sc->calls > sc->gone_after)
		sc->gone = true;
	if (sc->poke && gpa == sc->poke_gpa) {
		uint32_t v = vq_to_le32(sc->poke_val);
		memcpy(sc->poke, &v, 4);
		sc->poke = NULL;
	}
	if (sc->gone || gpa < SC_BASE || gpa - SC_BASE >= sizeof(sc->host))
		return NULL;
	uint64_t off = gpa - SC_BASE, k = off / SC_BLOCK, in = off % SC_BLOCK;
	*contig = len < SC_BLOCK - in ? len : SC_BLOCK - in;
	return sc->host + (SC_BLOCKS - 1 - k) * SC_BLOCK + in;
}

static uint8_t *sc_byte(struct scatter *sc, uint64_t i)
{
	return &sc->host[(SC_BLOCKS - 1 - i / SC_BLOCK) * SC_BLOCK + i % SC_BLOCK];
}

Test(usermem, many_pieces_per_entry)
{
	struct ufx x;
	ufx_init(&x);
	static struct scatter sc;
	memset(&sc, 0, sizeof(sc));
	for (uint64_t i = 0; i < sizeof(sc.host); i++)
		*sc_byte(&sc, i) = (uint8_t)(i * 13 + 1);
	struct vq_mem mem;
	vq_mem_init(&mem);
	vq_mem_set_translator(&mem, sc_translate, &sc);
	x.dev.mem = &mem;

	/* 4000 bytes from byte 3: 251 pieces, far more than one translation holds. */
	add_entry(&x, SC_BASE + 3, 4000);
	start_reader(&x, 0, 0);
	struct vmedia_usermem *m = get_ok(&x, 4000);
	cr_assert(m->bounced);
	uint8_t *p = m->ptr;
	for (uint64_t i = 0; i < 4000; i++)
		cr_assert_eq(p[i], (uint8_t)((i + 3) * 13 + 1), "byte %llu", (unsigned long long)i);
	for (uint64_t i = 0; i < 4000; i++)
		p[i] = (uint8_t)~p[i];
	vmedia_usermem_put(m, true);
	for (uint64_t i = 0; i < 4000; i++)
		cr_assert_eq(*sc_byte(&sc, i + 3), (uint8_t)~((i + 3) * 13 + 1));
	cr_assert_eq(*sc_byte(&sc, 2), (uint8_t)(2 * 13 + 1), "before the entry: untouched");
	ufx_fini(&x);
}

Test(usermem, write_back_after_memory_went_away)
{
	struct ufx x;
	ufx_init(&x);
	static struct scatter sc;
	memset(&sc, 0, sizeof(sc));
	struct vq_mem mem;
	vq_mem_init(&mem);
	vq_mem_set_translator(&mem, sc_translate, &sc);
	x.dev.mem = &mem;
	add_entry(&x, SC_BASE, 64);
	start_reader(&x, 0, 0);
	struct vmedia_usermem *m = get_ok(&x, 64);
	cr_assert(m->bounced);
	sc.gone = true;
	cr_assert_eq(vmedia_usermem_sync(m), -EFAULT);
	vmedia_usermem_put(m, true); /* nobody to tell; must still release */
	ufx_fini(&x);
}

Test(usermem, memory_vanishes_between_check_and_copy)
{
	struct ufx x;
	ufx_init(&x);
	static struct scatter sc;
	memset(&sc, 0, sizeof(sc));
	struct vq_mem mem;
	vq_mem_init(&mem);
	vq_mem_set_translator(&mem, sc_translate, &sc);
	x.dev.mem = &mem;
	/* 64 bytes are 4 pieces: each of the two list passes translates 4
	 * times, so the copy into the bounce buffer is what fails. */
	add_entry(&x, SC_BASE, 64);
	start_reader(&x, 0, 0);
	sc.gone_after = 8;
	cr_assert_eq(get_err(&x, 64), -EFAULT);
	cr_assert(sc.gone, "the copy did run into the hole");
	cr_assert_eq(x.dev.stats.usermem_bounced, 0);
	ufx_fini(&x); /* nothing charged, and nothing leaked (ASan) */
}

Test(usermem, guest_rewrites_the_list_between_reads)
{
	struct ufx x;
	ufx_init(&x);
	static struct scatter sc;
	memset(&sc, 0, sizeof(sc));
	struct vq_mem mem;
	vq_mem_init(&mem);
	vq_mem_set_translator(&mem, sc_translate, &sc);
	x.dev.mem = &mem;
	add_entry(&x, SC_BASE, 32);
	add_entry(&x, SC_BASE + 64, 32);
	/* While the first read looks at the second entry, the guest cuts its
	 * length to 0: the second read finds a list too short for the array the
	 * first one sized, and must refuse rather than read past it. */
	sc.poke = x.cmd + sizeof(struct vmedia_sg_entry) + 8;
	sc.poke_val = 0;
	sc.poke_gpa = SC_BASE + 64;
	start_reader(&x, 0, 0);
	cr_assert_eq(get_err(&x, 64), -EINVAL);
	cr_assert_null(sc.poke, "the rewrite happened");
	ufx_fini(&x);
}
