/* SPDX-License-Identifier: MIT */
/*
 * Bad input to the decoder: truncated, corrupted, wrong-codec and garbage
 * bitstreams, zero and oversize bytesused, bad buffer indexes, closing a
 * session (and the device) mid-decode, CAPTURE STREAMOFF while the worker
 * is busy.  The rule: error-flagged buffers or no picture, never a crash,
 * a stall or a leak (sanitizer builds run these too).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "decoder_fixture.h"

static struct dp D;
static uint32_t ID;

static void setup(void)
{
	dp_init(&D, 2);
	ID = dp_open(&D);
}

static void teardown(void)
{
	dp_destroy(&D);
}

TestSuite(bad, .init = setup, .fini = teardown, .timeout = 100);

#define SRC "-f lavfi -i testsrc2=size=320x240:rate=30 -frames:v 20 -pix_fmt yuv420p "
#define H264_ARGS SRC "-c:v libx264 -g 10 -bf 2"
#define VP8_ARGS SRC "-c:v libvpx -g 10"

static uint8_t *load(const char *ext, const char *args, size_t *len)
{
	char *p = dp_stream(ext, args);
	uint8_t *d = dp_load(p, len);
	free(p);
	return d;
}

static bool md5_in(const char *m, char (*ref)[33], unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(m, ref[i]))
			return true;
	return false;
}

Test(bad, truncated_stream)
{
	size_t len;
	uint8_t *data = load("h264", H264_ARGS, &len);
	struct dp_units u;
	dp_units_chunks(data, len / 2 + 333, 1000, 0, &u);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 4);
	dd_run(&dd, &u);
	cr_expect_gt(dd.nframes, 0);
	cr_expect_lt(dd.nframes, 20);
	dd_end(&dd);
	dp_units_free(&u);
	free(data);
}

Test(bad, corrupted_bytes)
{
	size_t len;
	uint8_t *data = load("h264", H264_ARGS, &len);
	unsigned seed = 99;
	for (size_t i = 200; i < len; i += 97) {
		seed = seed * 1103515245u + 12345u;
		data[i] ^= (uint8_t)(seed >> 16) | 1;
	}
	struct dp_units u;
	dp_units_chunks(data, len, 0, 5, &u);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 4);
	dd_run(&dd, &u);
	cr_expect_eq(dd.out_done, u.n); /* every OUTPUT buffer came back */
	dd_end(&dd);
	dp_units_free(&u);
	free(data);
}

/* VP8 frames declared as H.264. */
Test(bad, wrong_codec)
{
	size_t len;
	uint8_t *data = load("ivf", VP8_ARGS, &len);
	struct dp_units u;
	dp_units_ivf(data, len, &u);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 4);
	dd_run(&dd, &u);
	cr_expect_eq(dd.out_done, u.n);
	dd_end(&dd);
	dp_units_free(&u);
	free(data);
}

/* Random bytes to every codec: buffers come back, nothing else matters. */
Test(bad, garbage_every_codec)
{
	size_t len = 64 * 1024;
	uint8_t *data = malloc(len);
	unsigned seed = 1;
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		data[i] = (uint8_t)(seed >> 16);
	}
	struct dp_units u;
	dp_units_chunks(data, len, 0, 11, &u);
	for (uint32_t i = 0;; i++) {
		struct v4l2_fmtdesc fd = { .index = i, .type = OUT_MP };
		if (dp_ioctl(&D, ID, VIDIOC_ENUM_FMT, &fd))
			break;
		uint32_t id = dp_open(&D);
		struct dd dd;
		dd_start(&dd, &D, id, fd.pixelformat, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 4);
		dd_run(&dd, &u);
		cr_expect_eq(dd.out_done, u.n, "%.4s", (char *)&fd.pixelformat);
		dd_end(&dd);
		cr_assert_eq(vmedia_guest_close(&D.p.g, id), 0);
	}
	dp_units_free(&u);
	free(data);
}

static int qbuf_out(uint32_t index, uint32_t used, uint32_t off)
{
	struct v4l2_plane pl[1] = { { .bytesused = used, .data_offset = off } };
	struct v4l2_buffer b = { .index = index, .type = OUT_MP, .memory = V4L2_MEMORY_MMAP,
				 .length = 1, .m.planes = pl };
	return dp_ioctl(&D, ID, VIDIOC_QBUF, &b);
}

Test(bad, bytesused_and_indexes)
{
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 2);
	cr_expect_eq(qbuf_out(0, dd.out_size + 1, 0), -EINVAL);
	cr_expect_eq(qbuf_out(0, 0xffffffff, 0), -EINVAL);
	cr_expect_eq(qbuf_out(0, 100, 100), -EINVAL); /* data_offset >= bytesused */
	cr_expect_eq(qbuf_out(2, 10, 0), -EINVAL);
	cr_expect_eq(qbuf_out(0xffffffff, 10, 0), -EINVAL);
	struct v4l2_plane pl[1];
	struct v4l2_buffer b = { .index = 7, .type = OUT_MP, .memory = V4L2_MEMORY_MMAP,
				 .length = 1, .m.planes = pl };
	cr_expect_eq(dp_ioctl(&D, ID, VIDIOC_QUERYBUF, &b), -EINVAL);
	b = (struct v4l2_buffer){ .index = 0, .type = OUT_MP, .memory = V4L2_MEMORY_USERPTR,
				  .length = 1, .m.planes = pl };
	cr_expect_eq(dp_ioctl(&D, ID, VIDIOC_QBUF, &b), -EINVAL); /* wrong memory */
	b = (struct v4l2_buffer){ .index = 0, .type = CAP_MP, .memory = V4L2_MEMORY_MMAP,
				  .length = 1, .m.planes = pl };
	cr_expect_eq(dp_ioctl(&D, ID, VIDIOC_QBUF, &b), -EINVAL); /* no CAPTURE buffers */
	/* Zero bytes: the buffer simply comes back, twice is EINVAL. */
	cr_assert_eq(qbuf_out(0, 0, 0), 0);
	dd.out_free[0] = false;
	cr_expect_eq(qbuf_out(0, 0, 0), -EINVAL);
	dd_settle(&dd);
	cr_expect(dd.out_free[0]);
	cr_expect_eq(dd.out_errors, 0);
	cr_expect_eq(dd.source_changes, 0);
	dd_end(&dd);
}

/* Close (and destroy the device) with the worker mid-stream: no hang, no
 * leak; a new session decodes normally afterwards. */
Test(bad, close_mid_decode)
{
	size_t len;
	uint8_t *data = load("h264", H264_ARGS, &len);
	struct dp_units u;
	dp_units_chunks(data, len, 2000, 0, &u);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 4);
	dd_feed_units(&dd, &u, 0, u.n / 2);
	cr_assert_eq(vmedia_guest_close(&D.p.g, ID), 0);
	/* Whatever it had posted is forgotten. */
	dp_pump(&D, 10);
	uint32_t id2 = dp_open(&D);
	struct dd d2;
	dd_start(&d2, &D, id2, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 4);
	dd_feed_units(&d2, &u, 0, u.n / 2);
	/* teardown destroys the device with this session mid-decode. */
	dp_units_free(&u);
	free(data);
}

/* CAPTURE STREAMOFF / STREAMON while pictures are being made: decoding
 * goes on, every picture that comes out is one of the stream's. */
Test(bad, capture_streamoff_while_busy)
{
	char *path = dp_stream("h264", H264_ARGS);
	char (*ref)[33];
	unsigned nref = dp_ref_md5(path, "yuv420p", &ref);
	size_t len;
	uint8_t *data = dp_load(path, &len);
	struct dp_units u;
	dp_units_chunks(data, len, 1500, 0, &u);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP,
		 V4L2_PIX_FMT_YUV420, 4);
	size_t next = 0;
	for (int round = 0; next < u.n; round++) {
		cr_assert_lt(round, 10000);
		if (dd_feed(&dd, u.ptr[next], u.len[next]) == 0)
			next++;
		dd_service(&dd, 2);
		if (dd.cap_streaming && next % 5 == 0) {
			int t = CAP_MP;
			cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_STREAMOFF, &t), 0);
			cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_STREAMON, &t), 0);
			struct v4l2_plane pl[1] = { { .length = dd.cap_len } };
			for (uint32_t i = 0; i < dd.ncap; i++) {
				struct v4l2_buffer b = { .index = i, .type = CAP_MP,
							 .memory = V4L2_MEMORY_MMAP, .length = 1,
							 .m.planes = pl };
				cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_QBUF, &b), 0);
			}
			/* REQBUFS while streaming is refused. */
			struct v4l2_requestbuffers rb = { .count = 0, .type = CAP_MP,
							  .memory = V4L2_MEMORY_MMAP };
			cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_REQBUFS, &rb), -EBUSY);
		}
	}
	dd_drain(&dd);
	cr_expect_gt(dd.nframes, 0);
	cr_expect_leq(dd.nframes, nref);
	for (unsigned i = 0; i < dd.nframes; i++)
		cr_assert(md5_in(dd.md5[i], ref, nref), "picture %u is not the stream's", i);
	dd_end(&dd);
	dp_units_free(&u);
	free(data);
	free(ref);
	free(path);
}

/* OUTPUT STREAMOFF with a drain pending, then START: nothing stalls. */
Test(bad, seek_during_drain)
{
	size_t len;
	uint8_t *data = load("h264", H264_ARGS, &len);
	struct dp_units u;
	dp_units_chunks(data, len, 3000, 0, &u);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 4);
	dd_feed_units(&dd, &u, 0, u.n);
	while (!dd.cap_streaming)
		dd_service(&dd, 20);
	struct v4l2_decoder_cmd dc = { .cmd = V4L2_DEC_CMD_STOP };
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_DECODER_CMD, &dc), 0);
	int t = OUT_MP;
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_STREAMOFF, &t), 0);
	for (unsigned i = 0; i < dd.nout; i++)
		dd.out_free[i] = true;
	dc.cmd = V4L2_DEC_CMD_START;
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_DECODER_CMD, &dc), 0);
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_STREAMON, &t), 0);
	dd_feed_units(&dd, &u, 0, u.n);
	dd_drain(&dd);
	dd_end(&dd);
	dp_units_free(&u);
	free(data);
}
