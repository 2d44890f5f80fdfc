/* SPDX-License-Identifier: MIT */
/*
 * Readers and writers over chains cut into many small descriptors and over
 * buffers that span two memory regions.  Every byte is checked against what
 * the fake driver put in or reads back.
 */
#include "fixture.h"

#define QSIZE 1024u /* the fake refuses chains longer than the queue, indirect too */
#define MAXSEG 1100u
#define FILL 0xee /* what writable buffers hold before the device writes */

static struct fx x;

static void setup(void)
{
	fx_init_cfg(&x, (struct vq_fake_config){ .size = QSIZE, .features = F_IND, .nregions = 2 },
		    MAXSEG);
}
static void teardown(void) { fx_fini(&x); }

TestSuite(chain, .init = setup, .fini = teardown);

/* A chain as the driver built it: where each piece of each stream went. */
struct built {
	int head;
	unsigned nr, nw;
	uint32_t rlen, wlen;
	uint64_t rgpa[MAXSEG], wgpa[MAXSEG];
	uint32_t rsz[MAXSEG], wsz[MAXSEG];
};

static struct built bc;

/*
 * Publish and pop a chain whose readable stream (pattern @seed) is cut into
 * @rs[0..nr) and whose writable stream (all FILL) is cut into @ws[0..nw).
 */
static void build(const uint32_t *rs, unsigned nr, const uint32_t *ws, unsigned nw, unsigned flags)
{
	static struct vq_fake_buf bufs[2 * MAXSEG];
	static uint8_t tmp[1 << 16];
	memset(&bc, 0, sizeof(bc));
	bc.nr = nr;
	bc.nw = nw;
	for (unsigned i = 0; i < nr; i++) {
		for (uint32_t k = 0; k < rs[i]; k++)
			tmp[k] = fx_pat(bc.rlen + k, 1);
		bc.rgpa[i] = vq_fake_alloc_copy(&x.f, tmp, rs[i]);
		cr_assert_neq(bc.rgpa[i], 0);
		bc.rsz[i] = rs[i];
		bc.rlen += rs[i];
		bufs[i] = (struct vq_fake_buf){ bc.rgpa[i], rs[i], false };
	}
	memset(tmp, FILL, sizeof(tmp));
	for (unsigned i = 0; i < nw; i++) {
		bc.wgpa[i] = vq_fake_alloc_copy(&x.f, tmp, ws[i]);
		cr_assert_neq(bc.wgpa[i], 0);
		bc.wsz[i] = ws[i];
		bc.wlen += ws[i];
		bufs[nr + i] = (struct vq_fake_buf){ bc.wgpa[i], ws[i], true };
	}
	bc.head = fx_add(&x, bufs, nr + nw, flags);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(x.c.readable_len, bc.rlen);
	cr_assert_eq(x.c.writable_len, bc.wlen);
}

/* What the driver sees in the writable stream. */
static void driver_view(uint8_t *out)
{
	size_t off = 0;
	for (unsigned i = 0; i < bc.nw; i++) {
		cr_assert_eq(vq_fake_read_mem(&x.f, bc.wgpa[i], out + off, bc.wsz[i]), 0);
		off += bc.wsz[i];
	}
}

/* Host address of byte @off of the readable (@w false) or writable stream. */
static void *stream_host(bool w, size_t off)
{
	const uint64_t *gpa = w ? bc.wgpa : bc.rgpa;
	const uint32_t *sz = w ? bc.wsz : bc.rsz;
	for (unsigned i = 0;; i++) {
		cr_assert_lt(i, w ? bc.nw : bc.nr);
		if (off < sz[i])
			return vq_fake_host(&x.f, gpa[i] + off, 1);
		off -= sz[i];
	}
}

static void check_pattern(const uint8_t *p, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(p[i], fx_pat(off + i, 1), "byte %zu of the readable stream", off + i);
}

static void check_reader_pos(const struct vq_reader *r, size_t consumed)
{
	cr_assert_eq(vq_reader_consumed(r), consumed);
	cr_assert_eq(vq_reader_remaining(r), bc.rlen - consumed);
}

static void check_writer_pos(const struct vq_writer *w, size_t written)
{
	cr_assert_eq(vq_writer_written(w), written);
	cr_assert_eq(vq_writer_remaining(w), bc.wlen - written);
}

static void uniform(uint32_t *s, unsigned n, uint32_t v)
{
	for (unsigned i = 0; i < n; i++)
		s[i] = v;
}

static const uint32_t odd[] = { 1, 2, 3, 5, 7, 11, 13, 17, 1, 1, 64, 9, 1, 31 }; /* 166 bytes */
#define NODD (sizeof(odd) / sizeof(odd[0]))

/* ---------------------------------------------------------------- reading */

static void read_in_chunks(size_t chunk_max)
{
	struct vq_reader r;
	vq_reader_init(&r, &x.c);
	check_reader_pos(&r, 0);
	uint8_t buf[64];
	size_t off = 0;
	for (size_t step = 0; off < bc.rlen; step++) {
		size_t want = step % chunk_max + 1;
		size_t expect = want < bc.rlen - off ? want : bc.rlen - off;
		memset(buf, 0, sizeof(buf));
		cr_assert_eq(vq_reader_read(&r, buf, want), expect);
		check_pattern(buf, off, expect);
		off += expect;
		check_reader_pos(&r, off);
	}
	cr_assert_eq(vq_reader_read(&r, buf, 1), 0);
	cr_assert_eq(vq_reader_read(&r, buf, 0), 0);
	check_reader_pos(&r, bc.rlen);
}

Test(chain, read_one_byte_descriptors)
{
	uint32_t rs[40];
	uniform(rs, 40, 1);
	build(rs, 40, odd, 1, 0);
	cr_assert_eq(x.c.nreadable, 40);
	read_in_chunks(3);
}

Test(chain, read_one_byte_descriptors_indirect)
{
	static uint32_t rs[1000];
	uniform(rs, 1000, 1);
	build(rs, 1000, odd, 2, VQ_FAKE_INDIRECT);
	cr_assert_eq(x.c.nreadable, 1000);
	read_in_chunks(13);
}

Test(chain, read_odd_sizes)
{
	for (size_t chunk = 1; chunk <= 40; chunk += 3) {
		build(odd, NODD, odd, 3, chunk % 2 ? VQ_FAKE_INDIRECT : 0);
		read_in_chunks(chunk);
		vq_queue_push(&x.q, &x.c, 0);
		vq_queue_flush(&x.q);
		fx_expect_used(&x, (uint32_t)bc.head, 0);
	}
}

Test(chain, read_whole_stream_at_once)
{
	build(odd, NODD, NULL, 0, 0);
	struct vq_reader r;
	vq_reader_init(&r, &x.c);
	uint8_t buf[200];
	cr_assert_eq(vq_reader_read(&r, buf, sizeof(buf)), 166, "short read, short count");
	check_pattern(buf, 0, 166);
	check_reader_pos(&r, 166);
}

Test(chain, exact_fit_reads)
{
	build(odd, NODD, odd, 1, 0);
	struct vq_reader r;
	vq_reader_init(&r, &x.c);
	uint8_t buf[64];
	size_t off = 0;
	for (unsigned i = 0; i < NODD; i++) {
		cr_assert_eq(vq_reader_read(&r, buf, odd[i]), odd[i]);
		check_pattern(buf, off, odd[i]);
		off += odd[i];
		check_reader_pos(&r, off);
		/* Parked at the end of a segment: a zero read is harmless. */
		cr_assert_eq(vq_reader_read(&r, buf, 0), 0);
		check_reader_pos(&r, off);
	}
	cr_assert_eq(vq_reader_read(&r, buf, 5), 0);
}

Test(chain, exact_fit_then_cross)
{
	const uint32_t rs[] = { 4, 4, 4 };
	build(rs, 3, odd, 1, 0);
	struct vq_reader r;
	vq_reader_init(&r, &x.c);
	uint8_t buf[16];
	cr_assert_eq(vq_reader_read(&r, buf, 4), 4);
	cr_assert_eq(vq_reader_read(&r, buf + 4, 6), 6, "crosses from a parked cursor");
	cr_assert_eq(vq_reader_read(&r, buf + 10, 6), 2);
	check_pattern(buf, 0, 12);
}

Test(chain, read_all_all_or_nothing)
{
	build(odd, NODD, odd, 1, 0);
	struct vq_reader r;
	vq_reader_init(&r, &x.c);
	uint8_t buf[200];
	memset(buf, 0x5a, sizeof(buf));
	cr_assert_eq(vq_reader_read_all(&r, buf, 167), -EMSGSIZE);
	check_reader_pos(&r, 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0x5a, "nothing copied");
	cr_assert_eq(vq_reader_read_all(&r, buf, 10), 0);
	check_pattern(buf, 0, 10);
	check_reader_pos(&r, 10);
	cr_assert_eq(vq_reader_read_all(&r, buf, 157), -EMSGSIZE);
	check_reader_pos(&r, 10);
	cr_assert_eq(vq_reader_read_all(&r, buf, 156), 0);
	check_pattern(buf, 10, 156);
	check_reader_pos(&r, 166);
	cr_assert_eq(vq_reader_read_all(&r, buf, 0), 0);
	cr_assert_eq(vq_reader_read_all(&r, buf, 1), -EMSGSIZE);
}

Test(chain, reader_skip)
{
	build(odd, NODD, odd, 1, 0);
	struct vq_reader r;
	vq_reader_init(&r, &x.c);
	uint8_t buf[64];
	cr_assert_eq(vq_reader_skip(&r, 5), 5);
	check_reader_pos(&r, 5);
	cr_assert_eq(vq_reader_read(&r, buf, 20), 20);
	check_pattern(buf, 5, 20);
	cr_assert_eq(vq_reader_skip(&r, 0), 0);
	cr_assert_eq(vq_reader_skip(&r, 100), 100);
	cr_assert_eq(vq_reader_read(&r, buf, 10), 10);
	check_pattern(buf, 125, 10);
	cr_assert_eq(vq_reader_skip(&r, 1000), 31, "skip stops at the end");
	check_reader_pos(&r, 166);
	cr_assert_eq(vq_reader_skip(&r, 1), 0);
}

Test(chain, empty_readable_stream)
{
	build(NULL, 0, odd, 2, 0);
	struct vq_reader r;
	vq_reader_init(&r, &x.c);
	uint8_t buf[4] = { 1, 2, 3, 4 };
	check_reader_pos(&r, 0);
	cr_assert_eq(vq_reader_remaining(&r), 0);
	cr_assert_eq(vq_reader_read(&r, buf, 4), 0);
	cr_assert_eq(vq_reader_read_all(&r, buf, 0), 0);
	cr_assert_eq(vq_reader_read_all(&r, buf, 1), -EMSGSIZE);
	cr_assert_eq(vq_reader_skip(&r, 3), 0);
	cr_assert_eq(buf[0], 1);
	struct iovec iov[2];
	cr_assert_eq(vq_reader_iov(&r, iov, 2, 10), 0);
	cr_assert_eq(vq_reader_iov(&r, iov, 0, 10), 0);
}

/* ---------------------------------------------------------------- writing */

/* Write the pattern (seed 2) in chunks cycling 1..@chunk_max, up to @limit. */
static void write_in_chunks(size_t chunk_max, size_t limit)
{
	struct vq_writer w;
	vq_writer_init(&w, &x.c);
	check_writer_pos(&w, 0);
	static uint8_t src[1 << 16];
	fx_fill(src, sizeof(src), 2);
	size_t off = 0;
	for (size_t step = 0; off < limit; step++) {
		size_t want = step % chunk_max + 1;
		if (want > limit - off)
			want = limit - off;
		cr_assert_eq(vq_writer_write(&w, src + off, want), want);
		off += want;
		check_writer_pos(&w, off);
	}
	cr_assert_eq(vq_queue_push(&x.q, &x.c, vq_writer_written(&w)), 0);
	cr_assert_eq(vq_queue_flush(&x.q), 1);
	fx_expect_used(&x, (uint32_t)bc.head, (uint32_t)limit);
	static uint8_t got[1 << 16];
	driver_view(got);
	for (size_t i = 0; i < bc.wlen; i++) {
		if (i < limit)
			cr_assert_eq(got[i], src[i], "byte %zu", i);
		else
			cr_assert_eq(got[i], FILL, "byte %zu past the written length", i);
	}
}

Test(chain, write_one_byte_descriptors)
{
	uint32_t ws[50];
	uniform(ws, 50, 1);
	build(odd, 1, ws, 50, 0);
	cr_assert_eq(x.c.nwritable, 50);
	write_in_chunks(4, 50);
}

Test(chain, write_one_byte_descriptors_indirect)
{
	static uint32_t ws[1000];
	uniform(ws, 1000, 1);
	build(odd, 1, ws, 1000, VQ_FAKE_INDIRECT);
	write_in_chunks(11, 1000);
}

Test(chain, write_odd_sizes)
{
	for (size_t chunk = 1; chunk <= 40; chunk += 3) {
		build(odd, 2, odd, NODD, chunk % 2 ? VQ_FAKE_INDIRECT : 0);
		write_in_chunks(chunk, 166);
	}
}

Test(chain, write_partial)
{
	build(odd, 2, odd, NODD, 0);
	write_in_chunks(7, 100);
}

Test(chain, exact_fit_writes)
{
	build(NULL, 0, odd, NODD, 0);
	struct vq_writer w;
	vq_writer_init(&w, &x.c);
	uint8_t src[166];
	fx_fill(src, sizeof(src), 4);
	size_t off = 0;
	for (unsigned i = 0; i < NODD; i++) {
		cr_assert_eq(vq_writer_write(&w, src + off, odd[i]), odd[i]);
		off += odd[i];
		check_writer_pos(&w, off);
		cr_assert_eq(vq_writer_write(&w, src, 0), 0);
	}
	cr_assert_eq(vq_writer_write(&w, src, 1), 0, "full");
	uint8_t got[166];
	driver_view(got);
	cr_assert_eq(memcmp(got, src, sizeof(src)), 0);
}

Test(chain, short_write_returns_short_count)
{
	build(NULL, 0, odd, 4, 0); /* 11 bytes */
	struct vq_writer w;
	vq_writer_init(&w, &x.c);
	uint8_t src[32];
	fx_fill(src, sizeof(src), 5);
	cr_assert_eq(vq_writer_write(&w, src, 32), 11);
	check_writer_pos(&w, 11);
	cr_assert_eq(vq_writer_write(&w, src, 1), 0);
	uint8_t got[11];
	driver_view(got);
	cr_assert_eq(memcmp(got, src, 11), 0);
}

Test(chain, write_all_all_or_nothing)
{
	build(NULL, 0, odd, NODD, 0);
	struct vq_writer w;
	vq_writer_init(&w, &x.c);
	uint8_t src[200], got[166];
	fx_fill(src, sizeof(src), 6);
	cr_assert_eq(vq_writer_write_all(&w, src, 167), -EMSGSIZE);
	check_writer_pos(&w, 0);
	driver_view(got);
	for (size_t i = 0; i < sizeof(got); i++)
		cr_assert_eq(got[i], FILL, "nothing written at %zu", i);
	cr_assert_eq(vq_writer_write_all(&w, src, 60), 0);
	cr_assert_eq(vq_writer_write_all(&w, src + 60, 107), -EMSGSIZE);
	check_writer_pos(&w, 60);
	cr_assert_eq(vq_writer_write_all(&w, src + 60, 106), 0);
	check_writer_pos(&w, 166);
	cr_assert_eq(vq_writer_write_all(&w, src, 0), 0);
	cr_assert_eq(vq_writer_write_all(&w, src, 1), -EMSGSIZE);
	driver_view(got);
	cr_assert_eq(memcmp(got, src, sizeof(got)), 0);
}

Test(chain, writer_skip_counts_as_written)
{
	build(odd, 1, odd, NODD, 0);
	struct vq_writer w;
	vq_writer_init(&w, &x.c);
	cr_assert_eq(vq_writer_write(&w, "abc", 3), 3);
	cr_assert_eq(vq_writer_skip(&w, 4), 4);
	check_writer_pos(&w, 7);
	cr_assert_eq(vq_writer_write(&w, "XY", 2), 2);
	check_writer_pos(&w, 9);
	cr_assert_eq(vq_writer_skip(&w, 1000), 157, "skip stops at the end");
	check_writer_pos(&w, 166);
	cr_assert_eq(vq_queue_push(&x.q, &x.c, vq_writer_written(&w)), 0);
	vq_queue_flush(&x.q);
	fx_expect_used(&x, (uint32_t)bc.head, 166);
	uint8_t got[166];
	driver_view(got);
	cr_assert_eq(memcmp(got, "abc", 3), 0);
	for (int i = 3; i < 7; i++)
		cr_assert_eq(got[i], FILL, "skipped bytes are not touched");
	cr_assert_eq(memcmp(got + 7, "XY", 2), 0);
	for (int i = 9; i < 166; i++)
		cr_assert_eq(got[i], FILL);
}

Test(chain, empty_writable_stream)
{
	build(odd, 3, NULL, 0, 0);
	struct vq_writer w;
	vq_writer_init(&w, &x.c);
	check_writer_pos(&w, 0);
	cr_assert_eq(vq_writer_write(&w, "a", 1), 0);
	cr_assert_eq(vq_writer_write_all(&w, "a", 1), -EMSGSIZE);
	cr_assert_eq(vq_writer_skip(&w, 1), 0);
	struct iovec iov[1];
	cr_assert_eq(vq_writer_iov(&w, iov, 1, 1), 0);
	cr_assert_eq(vq_writer_written(&w), 0);
}

Test(chain, reader_and_writer_are_independent)
{
	build(odd, NODD, odd, NODD, VQ_FAKE_INDIRECT);
	struct vq_reader r;
	struct vq_writer w;
	vq_reader_init(&r, &x.c);
	vq_writer_init(&w, &x.c);
	/* Echo the readable stream into the writable one, 9 bytes at a time. */
	uint8_t buf[9];
	size_t n, total = 0;
	while ((n = vq_reader_read(&r, buf, sizeof(buf))) > 0) {
		cr_assert_eq(vq_writer_write(&w, buf, n), n);
		total += n;
		check_reader_pos(&r, total);
		check_writer_pos(&w, total);
	}
	cr_assert_eq(total, 166);
	uint8_t got[166];
	driver_view(got);
	check_pattern(got, 0, 166);
}

/* ---------------------------------------------------------------- iovec export */

static void check_iov(const struct iovec *iov, bool w, size_t off, size_t len)
{
	cr_assert_eq(iov->iov_base, stream_host(w, off), "segment at stream offset %zu", off);
	cr_assert_eq(iov->iov_len, len, "segment at stream offset %zu", off);
}

Test(chain, reader_iov_from_middle_of_segment)
{
	const uint32_t rs[] = { 10, 20, 30 };
	build(rs, 3, odd, 1, 0);
	struct vq_reader r;
	vq_reader_init(&r, &x.c);
	uint8_t buf[3];
	cr_assert_eq(vq_reader_read(&r, buf, 3), 3);
	struct iovec iov[8];
	cr_assert_eq(vq_reader_iov(&r, iov, 8, 100), 3);
	check_iov(&iov[0], false, 3, 7);
	check_iov(&iov[1], false, 10, 20);
	check_iov(&iov[2], false, 30, 30);
	check_reader_pos(&r, 3);
	/* Length limits. */
	cr_assert_eq(vq_reader_iov(&r, iov, 8, 15), 2);
	check_iov(&iov[0], false, 3, 7);
	check_iov(&iov[1], false, 10, 8);
	cr_assert_eq(vq_reader_iov(&r, iov, 8, 5), 1);
	check_iov(&iov[0], false, 3, 5);
	cr_assert_eq(vq_reader_iov(&r, iov, 8, 7), 1);
	check_iov(&iov[0], false, 3, 7);
	cr_assert_eq(vq_reader_iov(&r, iov, 8, 0), 0);
	cr_assert_eq(vq_reader_iov(&r, iov, 8, SIZE_MAX), 3);
	/* -ENOBUFS with too small a max; no move. */
	cr_assert_eq(vq_reader_iov(&r, iov, 2, 100), -ENOBUFS);
	cr_assert_eq(vq_reader_iov(&r, iov, 1, 15), -ENOBUFS);
	cr_assert_eq(vq_reader_iov(&r, iov, 0, 1), -ENOBUFS);
	cr_assert_eq(vq_reader_iov(&r, iov, 0, 0), 0);
	cr_assert_eq(vq_reader_iov(&r, iov, 2, 27), 2, "exactly two segments' worth");
	check_reader_pos(&r, 3);
	/* The exported bytes are the stream's. */
	cr_assert_eq(vq_reader_iov(&r, iov, 8, 100), 3);
	size_t off = 3;
	for (int i = 0; i < 3; i++) {
		check_pattern(iov[i].iov_base, off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	cr_assert_eq(off, 60);
}

Test(chain, reader_iov_after_exact_fit)
{
	const uint32_t rs[] = { 10, 20, 30 };
	build(rs, 3, odd, 1, 0);
	struct vq_reader r;
	vq_reader_init(&r, &x.c);
	uint8_t buf[10];
	cr_assert_eq(vq_reader_read(&r, buf, 10), 10);
	struct iovec iov[2];
	cr_assert_eq(vq_reader_iov(&r, iov, 2, 100), 2, "no empty segment for the parked cursor");
	check_iov(&iov[0], false, 10, 20);
	check_iov(&iov[1], false, 30, 30);
	cr_assert_eq(vq_reader_skip(&r, 50), 50);
	cr_assert_eq(vq_reader_iov(&r, iov, 2, 100), 0, "nothing left");
}

Test(chain, reader_iov_many_one_byte_segments)
{
	uint32_t rs[64];
	uniform(rs, 64, 1);
	build(rs, 64, odd, 1, VQ_FAKE_INDIRECT);
	struct vq_reader r;
	vq_reader_init(&r, &x.c);
	cr_assert_eq(vq_reader_skip(&r, 7), 7);
	struct iovec iov[64];
	cr_assert_eq(vq_reader_iov(&r, iov, 64, 100), 57);
	for (int i = 0; i < 57; i++)
		check_iov(&iov[i], false, 7 + i, 1);
	cr_assert_eq(vq_reader_iov(&r, iov, 56, 100), -ENOBUFS);
	cr_assert_eq(vq_reader_iov(&r, iov, 56, 56), 56);
}

Test(chain, writer_iov_fill_then_skip)
{
	/* Zero-copy write: fill the exported iovecs, then skip past them. */
	build(odd, 1, odd, NODD, 0);
	struct vq_writer w;
	vq_writer_init(&w, &x.c);
	cr_assert_eq(vq_writer_write(&w, "hdr", 3), 3); /* exactly the 1- and 2-byte pieces */
	cr_assert_eq(vq_writer_write(&w, "!", 1), 1); /* one byte into the 3-byte piece */
	struct iovec iov[MAXSEG];
	int n = vq_writer_iov(&w, iov, MAXSEG, 50);
	cr_assert_eq(n, 6, "2 + 5 + 7 + 11 + 13 + 12 of 17");
	check_iov(&iov[0], true, 4, 2);
	check_iov(&iov[1], true, 6, 5);
	check_iov(&iov[5], true, 42, 12);
	uint8_t src[50];
	fx_fill(src, sizeof(src), 8);
	size_t off = 0;
	for (int i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, src + off, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	cr_assert_eq(off, 50);
	check_writer_pos(&w, 4);
	cr_assert_eq(vq_writer_skip(&w, 50), 50);
	check_writer_pos(&w, 54);
	cr_assert_eq(vq_queue_push(&x.q, &x.c, vq_writer_written(&w)), 0);
	vq_queue_flush(&x.q);
	fx_expect_used(&x, (uint32_t)bc.head, 54);
	uint8_t got[166];
	driver_view(got);
	cr_assert_eq(memcmp(got, "hdr!", 4), 0);
	cr_assert_eq(memcmp(got + 4, src, 50), 0);
	for (int i = 54; i < 166; i++)
		cr_assert_eq(got[i], FILL);
	cr_assert_eq(vq_writer_iov(&w, iov, 1, 50), -ENOBUFS);
}

/* ---------------------------------------------------------------- spanning regions */

Test(chain, buffers_spanning_regions)
{
	uint64_t boundary = x.f.gpa_base + x.f.region_size;
	uint8_t src[300];
	fx_fill(src, sizeof(src), 1);
	/* Readable: 100 bytes, 37 of them before the boundary. */
	cr_assert_eq(vq_fake_write_mem(&x.f, boundary - 37, src, 100), 0);
	uint8_t fill[80];
	memset(fill, FILL, sizeof(fill));
	struct vq_fake_buf b[] = { { boundary - 37, 100, false } };
	int head = fx_add(&x, b, 1, 0);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(x.c.nreadable, 2);
	cr_assert_eq(x.c.iov[0].iov_base, vq_fake_host(&x.f, boundary - 37, 37));
	cr_assert_eq(x.c.iov[0].iov_len, 37);
	cr_assert_eq(x.c.iov[1].iov_base, vq_fake_host(&x.f, boundary, 63));
	cr_assert_eq(x.c.iov[1].iov_len, 63);
	struct vq_reader r;
	vq_reader_init(&r, &x.c);
	uint8_t got[100];
	for (size_t off = 0; off < 100; off += 10) {
		cr_assert_eq(vq_reader_read(&r, got + off, 10), 10);
	}
	cr_assert_eq(memcmp(got, src, 100), 0);
	vq_queue_push(&x.q, &x.c, 0);
	vq_queue_flush(&x.q);
	fx_expect_used(&x, (uint32_t)head, 0);

	/* Then a writable one, 5 bytes before the same boundary. */
	cr_assert_eq(vq_fake_write_mem(&x.f, boundary - 5, fill, 80), 0);
	struct vq_fake_buf wb[] = { { boundary - 5, 80, true } };
	head = fx_add(&x, wb, 1, VQ_FAKE_INDIRECT);
	cr_assert_eq(vq_queue_pop(&x.q, &x.c), 1);
	cr_assert_eq(x.c.nwritable, 2);
	struct vq_writer w;
	vq_writer_init(&w, &x.c);
	struct iovec iov[4];
	cr_assert_eq(vq_writer_iov(&w, iov, 4, 80), 2);
	cr_assert_eq(iov[0].iov_len, 5);
	cr_assert_eq(iov[1].iov_len, 75);
	cr_assert_eq(vq_writer_iov(&w, iov, 1, 80), -ENOBUFS);
	cr_assert_eq(vq_writer_iov(&w, iov, 1, 5), 1);
	for (size_t off = 0; off < 78; off += 3)
		cr_assert_eq(vq_writer_write(&w, src + 100 + off, 3), 3);
	cr_assert_eq(vq_writer_written(&w), 78);
	vq_queue_push(&x.q, &x.c, vq_writer_written(&w));
	vq_queue_flush(&x.q);
	fx_expect_used(&x, (uint32_t)head, 78);
	uint8_t back[80];
	cr_assert_eq(vq_fake_read_mem(&x.f, boundary - 5, back, 80), 0);
	cr_assert_eq(memcmp(back, src + 100, 78), 0);
	cr_assert_eq(back[78], FILL);
	cr_assert_eq(back[79], FILL);
}

/* ---------------------------------------------------------------- a model check */

/* Deterministic pseudo-random operations against a byte model of both
 * streams, over a chain of odd-sized pieces. */
static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

Test(chain, random_operations_match_model)
{
	uint32_t seed = 12345;
	for (int round = 0; round < 20; round++) {
		uint32_t rs[30], ws[30];
		unsigned nr = lcg(&seed) % 30 + 1, nw = lcg(&seed) % 30 + 1;
		for (unsigned i = 0; i < nr; i++)
			rs[i] = lcg(&seed) % 20 + 1;
		for (unsigned i = 0; i < nw; i++)
			ws[i] = lcg(&seed) % 20 + 1;
		build(rs, nr, ws, nw, round % 2 ? VQ_FAKE_INDIRECT : 0);
		struct vq_reader r;
		struct vq_writer w;
		vq_reader_init(&r, &x.c);
		vq_writer_init(&w, &x.c);
		uint8_t model[600], buf[64];
		memset(model, FILL, sizeof(model));
		size_t roff = 0, woff = 0;
		for (int op = 0; op < 60; op++) {
			size_t len = lcg(&seed) % 40;
			size_t rleft = bc.rlen - roff, wleft = bc.wlen - woff;
			size_t rn = len < rleft ? len : rleft, wn = len < wleft ? len : wleft;
			switch (lcg(&seed) % 6) {
			case 0:
				cr_assert_eq(vq_reader_read(&r, buf, len), rn);
				check_pattern(buf, roff, rn);
				roff += rn;
				break;
			case 1:
				cr_assert_eq(vq_reader_read_all(&r, buf, len), len <= rleft ? 0 : -EMSGSIZE);
				if (len <= rleft) {
					check_pattern(buf, roff, len);
					roff += len;
				}
				break;
			case 2:
				cr_assert_eq(vq_reader_skip(&r, len), rn);
				roff += rn;
				break;
			case 3:
				fx_fill(buf, len, (unsigned)op);
				cr_assert_eq(vq_writer_write(&w, buf, len), wn);
				memcpy(model + woff, buf, wn);
				woff += wn;
				break;
			case 4:
				fx_fill(buf, len, (unsigned)op);
				cr_assert_eq(vq_writer_write_all(&w, buf, len), len <= wleft ? 0 : -EMSGSIZE);
				if (len <= wleft) {
					memcpy(model + woff, buf, len);
					woff += len;
				}
				break;
			case 5: {
				struct iovec iov[64];
				int n = vq_reader_iov(&r, iov, 64, len);
				cr_assert_geq(n, 0);
				size_t off = roff;
				for (int i = 0; i < n; i++) {
					cr_assert_gt(iov[i].iov_len, 0);
					check_pattern(iov[i].iov_base, off, iov[i].iov_len);
					off += iov[i].iov_len;
				}
				cr_assert_eq(off - roff, rn);
				cr_assert_eq(vq_writer_skip(&w, len), wn);
				woff += wn;
				break;
			}
			}
			check_reader_pos(&r, roff);
			check_writer_pos(&w, woff);
		}
		cr_assert_eq(vq_queue_push(&x.q, &x.c, vq_writer_written(&w)), 0);
		vq_queue_flush(&x.q);
		fx_expect_used(&x, (uint32_t)bc.head, (uint32_t)woff);
		uint8_t got[600];
		driver_view(got);
		cr_assert_eq(memcmp(got, model, bc.wlen), 0, "round %d", round);
	}
}
