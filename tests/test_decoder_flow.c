/* SPDX-License-Identifier: MIT */
/*
 * The stateful decoder flow through the guest driver: the initial source
 * change, decoding every codec to ffmpeg's own per-frame MD5s (whole
 * frames, and byte streams cut anywhere), NV12, drain and restart, seek,
 * dynamic resolution change, timestamps, USERPTR, concurrent sessions.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/md5.h>
#include <libavutil/mem.h>

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

TestSuite(flow, .init = setup, .fini = teardown, .timeout = 100);

#define SRC(size, n) "-f lavfi -i testsrc2=size=" size ":rate=30 -frames:v " #n " -pix_fmt yuv420p "
#define H264_ARGS SRC("320x240", 30) "-c:v libx264 -g 10 -bf 2"
#define HEVC_ARGS SRC("320x240", 20) "-c:v libx265 -x265-params log-level=error:keyint=10"
#define VP8_ARGS SRC("320x240", 20) "-c:v libvpx -g 10"
#define VP9_ARGS SRC("320x240", 20) "-c:v libvpx-vp9 -g 10 -deadline realtime -cpu-used 8"
#define AV1_ARGS SRC("320x240", 10) "-c:v libaom-av1 -cpu-used 8 -g 10"
#define MPEG2_ARGS SRC("320x240", 20) "-c:v mpeg2video -g 10 -bf 2"

struct stream {
	char *path;
	uint8_t *data;
	size_t len;
	struct dp_units u;
	char (*ref)[33];
	unsigned nref;
};

/* @chunk: 0 whole units (IVF frames, or the byte stream in 4 KiB pieces),
 * 1 pseudo-random pieces. */
static void stream_load(struct stream *s, const char *ext, const char *args, const char *pixfmt,
			int chunk)
{
	s->path = dp_stream(ext, args);
	s->data = dp_load(s->path, &s->len);
	if (strcmp(ext, "ivf") == 0)
		dp_units_ivf(s->data, s->len, &s->u);
	else
		dp_units_chunks(s->data, s->len, chunk ? 0 : 4096, 7, &s->u);
	s->nref = dp_ref_md5(s->path, pixfmt, &s->ref);
}

static void stream_free(struct stream *s)
{
	dp_units_free(&s->u);
	free(s->ref);
	free(s->data);
	free(s->path);
}

static void decode_and_check(uint32_t fourcc, const char *ext, const char *args, uint32_t pixfmt,
			     int chunk)
{
	cr_assert(dp_has_codec(&D, ID, fourcc), "codec %.4s not offered", (char *)&fourcc);
	struct stream s;
	stream_load(&s, ext, args, pixfmt == V4L2_PIX_FMT_NV12 ? "nv12" : "yuv420p", chunk);
	struct dd dd;
	dd_start(&dd, &D, ID, fourcc, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, pixfmt, 4);
	dd_run(&dd, &s.u);
	cr_expect_eq(dd.source_changes, 1);
	cr_expect_eq(dd.out_errors, 0);
	cr_expect_eq(dd.cap_errors, 0);
	dd_expect_frames(&dd, s.ref, s.nref);
	dd_end(&dd);
	stream_free(&s);
}

Test(flow, h264_md5)
{
	decode_and_check(V4L2_PIX_FMT_H264, "h264", H264_ARGS, V4L2_PIX_FMT_YUV420, 0);
}

Test(flow, hevc_md5)
{
	decode_and_check(V4L2_PIX_FMT_HEVC, "hevc", HEVC_ARGS, V4L2_PIX_FMT_YUV420, 0);
}

Test(flow, vp8_md5)
{
	decode_and_check(V4L2_PIX_FMT_VP8, "ivf", VP8_ARGS, V4L2_PIX_FMT_YUV420, 0);
}

Test(flow, vp9_md5)
{
	decode_and_check(V4L2_PIX_FMT_VP9, "ivf", VP9_ARGS, V4L2_PIX_FMT_YUV420, 0);
}

Test(flow, av1_md5)
{
	decode_and_check(V4L2_PIX_FMT_AV1, "ivf", AV1_ARGS, V4L2_PIX_FMT_YUV420, 0);
}

Test(flow, mpeg2_md5)
{
	decode_and_check(V4L2_PIX_FMT_MPEG2, "m2v", MPEG2_ARGS, V4L2_PIX_FMT_YUV420, 0);
}

Test(flow, h264_random_chunks_md5)
{
	decode_and_check(V4L2_PIX_FMT_H264, "h264", H264_ARGS, V4L2_PIX_FMT_YUV420, 1);
}

Test(flow, hevc_random_chunks_md5)
{
	decode_and_check(V4L2_PIX_FMT_HEVC, "hevc", HEVC_ARGS, V4L2_PIX_FMT_YUV420, 1);
}

Test(flow, mpeg2_random_chunks_md5)
{
	decode_and_check(V4L2_PIX_FMT_MPEG2, "m2v", MPEG2_ARGS, V4L2_PIX_FMT_YUV420, 1);
}

Test(flow, h264_nv12_md5)
{
	decode_and_check(V4L2_PIX_FMT_H264, "h264", H264_ARGS, V4L2_PIX_FMT_NV12, 1);
}

Test(flow, vp9_nv12_md5)
{
	decode_and_check(V4L2_PIX_FMT_VP9, "ivf", VP9_ARGS, V4L2_PIX_FMT_NV12, 0);
}

/* A client starting a stream may give no more data until the source
 * change (v4l2-compliance gives two buffers).  Here the whole stream is
 * two pictures: the parser can hand over the first only, which the
 * decoder's frame threads keep back; the format is announced anyway. */
Test(flow, source_change_before_the_first_picture_is_out)
{
	struct stream s;
	stream_load(&s, "h264", SRC("320x240", 2) "-c:v libx264 -g 1 -bf 0", "yuv420p", 0);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 4);
	dd_feed_units(&dd, &s.u, 0, s.u.n);
	struct v4l2_event ev;
	int got = -ENOENT;
	for (int i = 0; i < 100 && got; i++) {
		dp_pump(&D, 20);
		got = vmedia_guest_dqevent(&D.p.g, ID, &ev);
	}
	cr_assert_eq(got, 0, "no source change from the data given");
	cr_assert_eq(ev.type, V4L2_EVENT_SOURCE_CHANGE);
	struct v4l2_format f = { .type = CAP_MP };
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_G_FMT, &f), 0);
	cr_expect_eq(f.fmt.pix_mp.width, 320);
	cr_expect_eq(f.fmt.pix_mp.height, 240);
	dd.source_changes = 1;
	dd_end(&dd);
	stream_free(&s);
}

/* A stream started again from scratch (both queues stopped and freed) is
 * Initialization again: its format is announced again, same as it is. */
Test(flow, source_change_again_for_a_new_stream)
{
	for (int run = 0; run < 2; run++)
		decode_and_check(V4L2_PIX_FMT_H264, "h264", H264_ARGS, V4L2_PIX_FMT_YUV420, 0);
}

/* Decode @args just far enough for the CAPTURE format; return it. */
static struct v4l2_pix_format_mplane stream_cap_fmt(const char *args)
{
	struct stream s;
	stream_load(&s, "h264", args, "yuv420p", 0);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP,
		 V4L2_PIX_FMT_YUV420, 4);
	dd_run(&dd, &s.u);
	cr_assert_eq(dd.source_changes, 1, "%u source changes, %u frames", dd.source_changes, dd.nframes);
	struct v4l2_pix_format_mplane f = dd.fmt;
	dd_end(&dd);
	stream_free(&s);
	return f;
}

/* The stream's colorimetry (H.264 VUI) on CAPTURE after the source change,
 * field by field; what it leaves unsaid follows OUTPUT (BT.709 limited
 * range by default). */
Test(flow, colorimetry_from_the_stream)
{
	struct v4l2_pix_format_mplane f = stream_cap_fmt(
		SRC("320x240", 30) "-c:v libx264 -color_primaries bt470bg -color_trc iec61966-2-1 "
				  "-colorspace smpte170m -color_range pc");
	cr_expect_eq(f.colorspace, V4L2_COLORSPACE_470_SYSTEM_BG);
	cr_expect_eq(f.xfer_func, V4L2_XFER_FUNC_SRGB);
	cr_expect_eq(f.ycbcr_enc, V4L2_YCBCR_ENC_601);
	cr_expect_eq(f.quantization, V4L2_QUANTIZATION_FULL_RANGE);

	/* The same session: a new stream is announced afresh. */
	f = stream_cap_fmt(SRC("320x240", 30) "-c:v libx264 -color_range pc");
	cr_expect_eq(f.colorspace, V4L2_COLORSPACE_REC709);
	cr_expect_eq(f.xfer_func, V4L2_XFER_FUNC_709);
	cr_expect_eq(f.ycbcr_enc, V4L2_YCBCR_ENC_709);
	cr_expect_eq(f.quantization, V4L2_QUANTIZATION_FULL_RANGE);
}

/* Before the stream's headers, CAPTURE has the placeholder format; the
 * event comes with the first picture and everything then describes the
 * stream. */
Test(flow, initial_source_change)
{
	struct stream s;
	stream_load(&s, "h264", H264_ARGS, "yuv420p", 0);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 4);
	struct v4l2_format f = { .type = CAP_MP };
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_G_FMT, &f), 0);
	cr_expect_eq(f.fmt.pix_mp.width, 1280, "the placeholder, not the stream's");
	struct v4l2_selection sel = { .type = CAP_MP, .target = V4L2_SEL_TGT_COMPOSE };
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_G_SELECTION, &sel), 0);
	cr_expect_eq(sel.r.width, 1280);
	/* Feed without handling events: the event must wait in the guest. */
	size_t next = 0;
	struct v4l2_event ev;
	int got = -ENOENT;
	for (int i = 0; i < 500 && got; i++) {
		if (next < s.u.n && dd_feed(&dd, s.u.ptr[next], s.u.len[next]) == 0)
			next++;
		dp_pump(&D, 20);
		struct v4l2_plane pl[1];
		struct v4l2_buffer b = { .type = OUT_MP, .memory = V4L2_MEMORY_MMAP, .length = 1,
					 .m.planes = pl };
		while (vmedia_guest_dqbuf(&D.p.g, ID, &b) == 0)
			dd.out_free[b.index] = true;
		got = vmedia_guest_dqevent(&D.p.g, ID, &ev);
	}
	cr_assert_eq(got, 0, "no source change");
	cr_assert_eq(ev.type, V4L2_EVENT_SOURCE_CHANGE);
	cr_assert_eq(ev.u.src_change.changes, V4L2_EVENT_SRC_CH_RESOLUTION);
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_G_FMT, &f), 0);
	cr_expect_eq(f.fmt.pix_mp.width, 320);
	cr_expect_eq(f.fmt.pix_mp.height, 240);
	cr_expect_eq(f.fmt.pix_mp.num_planes, 1);
	cr_expect_eq(f.fmt.pix_mp.plane_fmt[0].bytesperline % 64, 0);
	cr_expect_geq(f.fmt.pix_mp.plane_fmt[0].sizeimage,
		      f.fmt.pix_mp.plane_fmt[0].bytesperline * 240 * 3 / 2);
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_G_SELECTION, &sel), 0);
	cr_expect_eq(sel.r.width, 320);
	cr_expect_eq(sel.r.height, 240);
	/* No picture can have gone out: there is no CAPTURE buffer yet. */
	cr_expect_eq(vmedia_guest_pending_dqbufs(&D.p.g, ID, CAP_MP), 0);
	dd.source_changes = 1;
	dd_end(&dd);
	stream_free(&s);
}

/* OUTPUT buffers come back once their data is copied, not once it is
 * decoded: a client that waits for an OUTPUT buffer before it gives back
 * (here: before it even sets up) the CAPTURE buffers the pictures in it
 * need must not wait forever.  v4l2-compliance's streaming test is such a
 * client: it dequeues one OUTPUT then one CAPTURE buffer, with two of each
 * and a whole stream in one OUTPUT buffer. */
Test(flow, output_back_before_its_pictures)
{
	struct stream s;
	stream_load(&s, "h264", H264_ARGS, "yuv420p", 0);
	size_t len = 0;
	for (size_t i = 0; i < s.u.n; i++)
		len += s.u.len[i];
	uint8_t *all = malloc(len);
	cr_assert_not_null(all);
	len = 0;
	for (size_t i = 0; i < s.u.n; i++) {
		memcpy(all + len, s.u.ptr[i], s.u.len[i]);
		len += s.u.len[i];
	}
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP,
		 V4L2_PIX_FMT_YUV420, 2);
	cr_assert_leq(len, dd.out_size);
	cr_assert_eq(dd_feed(&dd, all, len), 0);
	cr_assert_eq(dd_feed(&dd, all, len), 0);
	/* Neither CAPTURE buffers nor events handled: only the OUTPUT queue. */
	unsigned back = 0;
	for (int i = 0; i < 500 && back < 2; i++) {
		dp_pump(&D, 20);
		struct v4l2_plane pl[1];
		struct v4l2_buffer b = { .type = OUT_MP, .memory = V4L2_MEMORY_MMAP, .length = 1,
					 .m.planes = pl };
		while (vmedia_guest_dqbuf(&D.p.g, ID, &b) == 0) {
			cr_expect_eq(pl[0].bytesused, (uint32_t)len);
			dd.out_free[b.index] = true;
			back++;
		}
	}
	cr_assert_eq(back, 2, "OUTPUT buffers held until their pictures find CAPTURE buffers");
	/* And the pictures are all there once CAPTURE is set up: both copies. */
	dd_drain(&dd);
	cr_assert_eq(dd.nframes, 2 * s.nref);
	for (unsigned i = 0; i < dd.nframes; i++)
		cr_assert_str_eq(dd.md5[i], s.ref[i % s.nref], "frame %u", i);
	dd_end(&dd);
	free(all);
	stream_free(&s);
}

/* vb2's rule for OUTPUT: bytesused 0 means the whole buffer (deprecated,
 * but v4l2-compliance's streaming test relies on it once its stream file
 * runs out); DQBUF says so. */
Test(flow, output_bytesused_zero_is_the_whole_buffer)
{
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP,
		 V4L2_PIX_FMT_YUV420, 2);
	memset(dd.out_view[0], 0, dd.out_size);
	struct v4l2_plane pl[1] = { { .bytesused = 0, .length = dd.out_size } };
	struct v4l2_buffer b = { .index = 0, .type = OUT_MP, .memory = V4L2_MEMORY_MMAP,
				 .length = 1, .m.planes = pl };
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_QBUF, &b), 0);
	cr_expect_eq(pl[0].bytesused, dd.out_size, "QBUF's answer");
	dd.out_free[0] = false;
	int got = -EAGAIN;
	for (int i = 0; i < 500 && got; i++) {
		dp_pump(&D, 20);
		pl[0] = (struct v4l2_plane){ 0 };
		b = (struct v4l2_buffer){ .type = OUT_MP, .memory = V4L2_MEMORY_MMAP, .length = 1,
					  .m.planes = pl };
		got = vmedia_guest_dqbuf(&D.p.g, ID, &b);
	}
	cr_assert_eq(got, 0);
	cr_expect_eq(pl[0].bytesused, dd.out_size, "DQBUF's answer");
	dd.out_free[0] = true;
	dd_end(&dd);
}

/* Drain: every frame, an empty LAST buffer, EOS, then EPIPE; START and the
 * same stream again decodes it all again. */
Test(flow, drain_then_restart)
{
	struct stream s;
	stream_load(&s, "h264", H264_ARGS, "yuv420p", 0);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP,
		 V4L2_PIX_FMT_YUV420, 4);
	dd_run(&dd, &s.u);
	dd_expect_frames(&dd, s.ref, s.nref);
	cr_assert(dd.got_last && dd.got_eos);
	struct v4l2_plane pl[1];
	struct v4l2_buffer b = { .type = CAP_MP, .memory = V4L2_MEMORY_MMAP, .length = 1,
				 .m.planes = pl };
	cr_assert_eq(vmedia_guest_dqbuf(&D.p.g, ID, &b), -EPIPE);
	struct v4l2_decoder_cmd dc = { .cmd = V4L2_DEC_CMD_START };
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_DECODER_CMD, &dc), 0);
	/* The LAST buffer comes back to the queue. */
	struct v4l2_plane qp[1] = { { .length = dd.cap_len } };
	for (uint32_t i = 0; i < dd.ncap; i++) {
		struct v4l2_buffer qb = { .index = i, .type = CAP_MP, .memory = V4L2_MEMORY_MMAP,
					  .length = 1, .m.planes = qp };
		struct v4l2_buffer q = qb;
		cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_QUERYBUF, &q), 0);
		if (!(q.flags & V4L2_BUF_FLAG_QUEUED))
			cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_QBUF, &qb), 0);
	}
	dd.got_last = dd.got_eos = false;
	unsigned first = dd.nframes;
	dd_feed_units(&dd, &s.u, 0, s.u.n);
	dd_drain(&dd);
	cr_assert_eq(dd.nframes - first, s.nref);
	for (unsigned i = 0; i < s.nref; i++)
		cr_assert_str_eq(dd.md5[first + i], s.ref[i], "frame %u after restart", i);
	cr_expect_eq(dd.source_changes, 1);
	dd_end(&dd);
	stream_free(&s);
}

/* Seek: STREAMOFF / STREAMON of OUTPUT mid-stream, then the stream from a
 * later keyframe; what follows decodes exactly, and nothing queued before
 * the seek comes out after the first picture of the new position. */
Test(flow, seek)
{
	/* IVF VP8: one frame per buffer, keyframes every 10 (-g 10). */
	struct stream s;
	stream_load(&s, "ivf", VP8_ARGS, "yuv420p", 0);
	cr_assert_geq(s.u.n, 20);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_VP8, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP,
		 V4L2_PIX_FMT_YUV420, 4);
	dd_feed_units(&dd, &s.u, 0, 7);
	int t = OUT_MP;
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_STREAMOFF, &t), 0);
	for (unsigned i = 0; i < dd.nout; i++)
		dd.out_free[i] = true;
	cr_assert_eq(dp_ioctl(&D, ID, VIDIOC_STREAMON, &t), 0);
	unsigned before = dd.nframes;
	int64_t seek_ts = dd.next_ts = 10000000;
	dd_feed_units(&dd, &s.u, 10, s.u.n);
	dd_drain(&dd);
	/* Pictures from before the seek may still come (the spec allows
	 * it), but only before every picture from after it. */
	unsigned k = before;
	while (k < dd.nframes && dd.ts[k] < seek_ts)
		k++;
	cr_assert_eq(dd.nframes - k, s.nref - 10, "%u frames after the seek", dd.nframes - k);
	for (unsigned i = 0; k + i < dd.nframes; i++) {
		cr_assert_geq(dd.ts[k + i], seek_ts);
		cr_assert_str_eq(dd.md5[k + i], s.ref[10 + i], "frame %u after the seek", 10 + i);
	}
	dd_end(&dd);
	stream_free(&s);
}

/* Two sizes in one H.264 byte stream: LAST buffer, then SOURCE_CHANGE;
 * the client reallocates and every picture of both parts is right. */
Test(flow, dynamic_resolution_change)
{
	char *a = dp_stream("h264", SRC("320x240", 12) "-c:v libx264 -g 6");
	char *b = dp_stream("h264", SRC("176x144", 12) "-c:v libx264 -g 6");
	char cat[4096];
	snprintf(cat, sizeof(cat), "-i 'concat:%s|%s' -c copy -f h264", a, b);
	char *ab = dp_stream("h264", cat);
	char (*ra)[33], (*rb)[33];
	unsigned na = dp_ref_md5(a, "yuv420p", &ra), nb = dp_ref_md5(b, "yuv420p", &rb);
	size_t len;
	uint8_t *data = dp_load(ab, &len);
	struct dp_units u;
	dp_units_chunks(data, len, 0, 3, &u);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP,
		 V4L2_PIX_FMT_YUV420, 4);
	dd_run(&dd, &u);
	cr_expect_eq(dd.source_changes, 2);
	cr_expect_eq(dd.lasts, 2); /* the change's and the drain's */
	cr_assert_eq(dd.nframes, na + nb);
	for (unsigned i = 0; i < na; i++) {
		cr_assert_eq(dd.w[i], 320);
		cr_assert_str_eq(dd.md5[i], ra[i], "first part, frame %u", i);
	}
	for (unsigned i = 0; i < nb; i++) {
		cr_assert_eq(dd.w[na + i], 176);
		cr_assert_eq(dd.h[na + i], 144);
		cr_assert_str_eq(dd.md5[na + i], rb[i], "second part, frame %u", i);
	}
	dd_end(&dd);
	dp_units_free(&u);
	free(data);
	free(ra);
	free(rb);
	free(a);
	free(b);
	free(ab);
}

/* One frame per OUTPUT buffer, no reordering (VP8): each picture carries
 * its buffer's timestamp. */
Test(flow, timestamps_carried)
{
	struct stream s;
	stream_load(&s, "ivf", VP8_ARGS, "yuv420p", 0);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_VP8, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 4);
	dd.next_ts = 5000000123;
	dd.ts_step = 33367;
	dd_run(&dd, &s.u);
	cr_assert_eq(dd.nframes, s.u.n);
	for (unsigned i = 0; i < dd.nframes; i++)
		cr_assert_eq(dd.ts[i], 5000000123 + (int64_t)i * 33367, "frame %u", i);
	dd_end(&dd);
	stream_free(&s);
}

/* H.264 with B-frames, cut anywhere: every picture's timestamp is one of
 * an OUTPUT buffer's (one holding several frames gives its timestamp to
 * each). */
Test(flow, timestamps_reordered_stream)
{
	struct stream s;
	stream_load(&s, "h264", H264_ARGS, "yuv420p", 1);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 4);
	dd_run(&dd, &s.u);
	cr_assert_eq(dd.nframes, s.nref);
	for (unsigned i = 0; i < dd.nframes; i++) {
		cr_assert_geq(dd.ts[i], 1000);
		cr_assert_leq(dd.ts[i], 1000 * (int64_t)s.u.n);
		cr_assert_eq(dd.ts[i] % 1000, 0);
	}
	/* Whole frames per buffer would give distinct ones; here at least
	 * more than one piece's worth must be seen. */
	cr_assert_neq(dd.ts[0], dd.ts[dd.nframes - 1]);
	dd_end(&dd);
	stream_free(&s);
}

Test(flow, userptr_both_queues)
{
	struct stream s;
	stream_load(&s, "h264", H264_ARGS, "yuv420p", 1);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_H264, V4L2_MEMORY_USERPTR, V4L2_MEMORY_USERPTR,
		 V4L2_PIX_FMT_YUV420, 4);
	dd_run(&dd, &s.u);
	dd_expect_frames(&dd, s.ref, s.nref);
	dd_end(&dd);
	stream_free(&s);
}

Test(flow, userptr_scattered_capture)
{
	D.p.g.shape.sg_segments = 3; /* non-contiguous: the bounce path */
	struct stream s;
	stream_load(&s, "ivf", VP9_ARGS, "nv12", 0);
	struct dd dd;
	dd_start(&dd, &D, ID, V4L2_PIX_FMT_VP9, V4L2_MEMORY_MMAP, V4L2_MEMORY_USERPTR,
		 V4L2_PIX_FMT_NV12, 3);
	dd_run(&dd, &s.u);
	dd_expect_frames(&dd, s.ref, s.nref);
	dd_end(&dd);
	stream_free(&s);
}

/* Several sessions at once, each its own context: interleaved commands,
 * every one decodes its own stream exactly. */
Test(flow, concurrent_sessions_isolated)
{
	enum { N = 4 };
	static const uint32_t fcc[N] = { V4L2_PIX_FMT_H264, V4L2_PIX_FMT_VP9, V4L2_PIX_FMT_MPEG2,
					 V4L2_PIX_FMT_H264 };
	static const char *ext[N] = { "h264", "ivf", "m2v", "h264" };
	static const char *args[N] = { H264_ARGS, VP9_ARGS, MPEG2_ARGS,
				       SRC("176x144", 15) "-c:v libx264 -g 5" };
	struct stream s[N];
	static struct dd dd[N];
	uint32_t ids[N];
	size_t next[N] = { 0 };
	for (int i = 0; i < N; i++) {
		stream_load(&s[i], ext[i], args[i], "yuv420p", 1);
		ids[i] = i == 0 ? ID : dp_open(&D);
		dd_start(&dd[i], &D, ids[i], fcc[i], V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP,
			 V4L2_PIX_FMT_YUV420, 3);
	}
	bool done = false;
	for (int round = 0; !done; round++) {
		cr_assert_lt(round, 5000, "sessions stalled");
		done = true;
		for (int i = 0; i < N; i++) {
			if (next[i] < s[i].u.n && dd_feed(&dd[i], s[i].u.ptr[next[i]],
							   s[i].u.len[next[i]]) == 0)
				next[i]++;
			if (next[i] == s[i].u.n && dd[i].cap_streaming && !dd[i].stop_sent) {
				struct v4l2_decoder_cmd dc = { .cmd = V4L2_DEC_CMD_STOP };
				cr_assert_eq(dp_ioctl(&D, ids[i], VIDIOC_DECODER_CMD, &dc), 0);
				dd[i].stop_sent = true;
			}
			dd_service(&dd[i], 5);
			if (!(dd[i].got_last && dd[i].got_eos))
				done = false;
		}
	}
	for (int i = 0; i < N; i++) {
		dd_expect_frames(&dd[i], s[i].ref, s[i].nref);
		dd_end(&dd[i]);
		stream_free(&s[i]);
	}
}

/* ---- zero-copy: H.264 decoded straight into YU12 MMAP CAPTURE buffers ----
 *
 * 256 wide so that bytesperline (256) and its half are multiples of the
 * 64-byte stride libavcodec wants: pictures are decoded in place.  The
 * client side here is dd's, with its own CAPTURE setup (any buffer count)
 * and a record of which buffer each picture came in. */

#define ZC_ARGS SRC("256x144", 40) "-c:v libx264 -g 20 -bf 3 -refs 3"

struct zc {
	struct dd dd;
	unsigned ncap;        /* CAPTURE buffers to ask for; 0: MIN_BUFFERS */
	int min;              /* MIN_BUFFERS_FOR_CAPTURE at setup */
	unsigned order[DD_MAX_FRAMES]; /* buffer index of each picture */
};

static void zc_md5(const struct dd *dd, const uint8_t *p, char out[33])
{
	struct AVMD5 *m = av_md5_alloc();
	av_md5_init(m);
	uint32_t bpl = dd->fmt.plane_fmt[0].bytesperline, H = dd->fmt.height;
	uint32_t w = dd->vis.width, h = dd->vis.height;
	for (uint32_t y = 0; y < h; y++)
		av_md5_update(m, p + (size_t)y * bpl, w);
	for (int pl = 0; pl < 2; pl++) {
		const uint8_t *q = p + (size_t)bpl * H + (size_t)pl * (bpl / 2) * (H / 2);
		for (uint32_t y = 0; y < (h + 1) / 2; y++)
			av_md5_update(m, q + (size_t)y * (bpl / 2), (w + 1) / 2);
	}
	uint8_t dig[16];
	av_md5_final(m, dig);
	av_free(m);
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", dig[i]);
}

static void zc_qbuf(struct dd *dd, uint32_t i)
{
	struct v4l2_plane pl[1] = { { .length = dd->cap_len } };
	struct v4l2_buffer b = { .index = i, .type = CAP_MP, .memory = V4L2_MEMORY_MMAP,
				 .length = 1, .m.planes = pl };
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_QBUF, &b), 0);
}

/* Guest mappings gone first: the device may then reuse the ranges at once
 * unless it keeps them for libavcodec. */
static void zc_cap_free(struct dd *dd)
{
	for (unsigned i = 0; i < dd->ncap; i++)
		cr_assert_eq(vmedia_guest_munmap(&dd->d->p.g, dd->cap_addr[i]), 0);
	struct v4l2_requestbuffers rb = { .count = 0, .type = CAP_MP,
					  .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_REQBUFS, &rb), 0);
	dd->ncap = 0;
}

static void zc_cap_setup(struct zc *z)
{
	struct dd *dd = &z->dd;
	int t = CAP_MP;
	if (dd->cap_streaming) {
		cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_STREAMOFF, &t), 0);
		dd->cap_streaming = false;
	}
	if (dd->ncap)
		zc_cap_free(dd);
	struct v4l2_format f = { .type = CAP_MP };
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_G_FMT, &f), 0);
	f.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_YUV420;
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_S_FMT, &f), 0);
	dd->fmt = f.fmt.pix_mp;
	struct v4l2_selection sel = { .type = CAP_MP, .target = V4L2_SEL_TGT_COMPOSE };
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_G_SELECTION, &sel), 0);
	dd->vis = sel.r;
	struct v4l2_control c = { .id = V4L2_CID_MIN_BUFFERS_FOR_CAPTURE };
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_G_CTRL, &c), 0);
	z->min = c.value;
	unsigned n = z->ncap ? z->ncap : (unsigned)c.value;
	struct v4l2_requestbuffers rb = { .count = n, .type = CAP_MP, .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_REQBUFS, &rb), 0);
	cr_assert_eq(rb.count, n);
	dd->ncap = n;
	dd->cap_len = dd->fmt.plane_fmt[0].sizeimage;
	for (unsigned i = 0; i < n; i++) {
		struct v4l2_plane pl[1];
		struct v4l2_buffer b = { .index = i, .type = CAP_MP, .memory = V4L2_MEMORY_MMAP,
					 .length = 1, .m.planes = pl };
		cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_QUERYBUF, &b), 0);
		uint64_t len;
		cr_assert_eq(vmedia_guest_mmap(&dd->d->p.g, dd->id, VMEDIA_MMAP_FLAG_RW,
					       pl[0].m.mem_offset, &dd->cap_addr[i], &len), 0);
		dd->cap_view[i] = vmedia_guest_shm_ptr(&dd->d->p.g, dd->cap_addr[i], len);
		cr_assert_not_null(dd->cap_view[i]);
		zc_qbuf(dd, i);
	}
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_STREAMON, &t), 0);
	dd->cap_streaming = true;
}

/* dd_service with zc_cap_setup, recording buffer indices; every CAPTURE
 * buffer is queued again at once, whether libavcodec still predicts from
 * it or not. */
static void zc_service(struct zc *z, int timeout_ms)
{
	struct dd *dd = &z->dd;
	dp_pump(dd->d, timeout_ms);
	struct v4l2_plane pl[1];
	struct v4l2_buffer b;
	for (;;) {
		b = (struct v4l2_buffer){ .type = OUT_MP, .memory = V4L2_MEMORY_MMAP, .length = 1,
					  .m.planes = pl };
		if (vmedia_guest_dqbuf(&dd->d->p.g, dd->id, &b))
			break;
		dd->out_free[b.index] = true;
		if (b.flags & V4L2_BUF_FLAG_ERROR)
			dd->out_errors++;
	}
	while (dd->ncap) {
		b = (struct v4l2_buffer){ .type = CAP_MP, .memory = V4L2_MEMORY_MMAP, .length = 1,
					  .m.planes = pl };
		if (vmedia_guest_dqbuf(&dd->d->p.g, dd->id, &b))
			break;
		cr_assert_lt(b.index, dd->ncap);
		if (b.flags & V4L2_BUF_FLAG_LAST) {
			dd->got_last = true;
			break;
		}
		if (b.flags & V4L2_BUF_FLAG_ERROR) {
			dd->cap_errors++;
		} else {
			cr_assert_lt(dd->nframes, DD_MAX_FRAMES);
			zc_md5(dd, dd->cap_view[b.index], dd->md5[dd->nframes]);
			z->order[dd->nframes++] = b.index;
		}
		zc_qbuf(dd, b.index);
	}
	struct v4l2_event ev;
	while (vmedia_guest_dqevent(&dd->d->p.g, dd->id, &ev) == 0) {
		if (ev.type == V4L2_EVENT_SOURCE_CHANGE) {
			dd->source_changes++;
			zc_cap_setup(z);
		} else if (ev.type == V4L2_EVENT_EOS) {
			dd->got_eos = true;
		}
	}
}

static void zc_feed(struct zc *z, const struct dp_units *u, size_t from, size_t to)
{
	for (size_t next = from; next < to;) {
		while (next < to && dd_feed(&z->dd, u->ptr[next], u->len[next]) == 0)
			next++;
		zc_service(z, 20);
	}
}

/* Everything fed: drain (setting CAPTURE up first if need be). */
static void zc_drain(struct zc *z)
{
	for (int i = 0; i < 500 && !z->dd.cap_streaming; i++)
		zc_service(z, 20);
	cr_assert(z->dd.cap_streaming, "no CAPTURE setup");
	struct v4l2_decoder_cmd dc = { .cmd = V4L2_DEC_CMD_STOP };
	cr_assert_eq(dp_ioctl(z->dd.d, z->dd.id, VIDIOC_DECODER_CMD, &dc), 0);
	for (int i = 0; i < 1500 && !(z->dd.got_last && z->dd.got_eos); i++)
		zc_service(z, 20);
	cr_assert(z->dd.got_last && z->dd.got_eos, "drain timed out after %u frames",
		  z->dd.nframes);
}

/* A zero-copy trial on session @id: H.264 in, YU12 MMAP out, @ncap
 * CAPTURE buffers (0: MIN_BUFFERS_FOR_CAPTURE). */
static void zc_start(struct zc *z, uint32_t id, unsigned ncap)
{
	memset(z, 0, sizeof(*z));
	z->ncap = ncap;
	dd_start(&z->dd, &D, id, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP,
		 V4L2_PIX_FMT_YUV420, 4);
}

static void zc_end(struct zc *z)
{
	struct dd *dd = &z->dd;
	int t = OUT_MP;
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_STREAMOFF, &t), 0);
	t = CAP_MP;
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_STREAMOFF, &t), 0);
	if (dd->ncap)
		zc_cap_free(dd);
	dd->ncap = 0;
	dd_end(dd);
}

/* Pictures came out of the buffers in another order than the buffers were
 * queued in: decoded in place, in decoding order (B-frames), rather than
 * copied into the oldest queued buffer. */
static bool zc_in_place_seen(const struct zc *z)
{
	for (unsigned i = 0; i < z->dd.nframes; i++)
		if (z->order[i] != i % z->dd.ncap)
			return true;
	return false;
}

/* Exactly MIN_BUFFERS_FOR_CAPTURE buffers, each queued again at once even
 * while the decoder still predicts from it: every picture exact, and the
 * decoder neither stalls nor reuses a buffer it still references. */
Test(flow, zero_copy_min_buffers_exact)
{
	struct stream s;
	stream_load(&s, "h264", ZC_ARGS, "yuv420p", 0);
	static struct zc z;
	zc_start(&z, ID, 0);
	zc_feed(&z, &s.u, 0, s.u.n);
	zc_drain(&z);
	cr_expect_geq(z.min, 4, "MIN_BUFFERS_FOR_CAPTURE %d: too few for references", z.min);
	cr_expect_eq(z.dd.cap_errors, 0);
	cr_expect_eq(z.dd.out_errors, 0);
	dd_expect_frames(&z.dd, s.ref, s.nref);
	cr_expect(zc_in_place_seen(&z), "no picture was decoded in place");
	zc_end(&z);
	stream_free(&s);
}

/* Fewer buffers than MIN_BUFFERS (2, 3): the decoder copies where it
 * cannot lend, and still gives every picture, exactly. */
Test(flow, zero_copy_few_buffers_fall_back)
{
	struct stream s;
	stream_load(&s, "h264", ZC_ARGS, "yuv420p", 0);
	for (unsigned n = 2; n <= 3; n++) {
		static struct zc z;
		zc_start(&z, dp_open(&D), n);
		zc_feed(&z, &s.u, 0, s.u.n);
		zc_drain(&z);
		cr_expect_eq(z.dd.cap_errors, 0);
		dd_expect_frames(&z.dd, s.ref, s.nref);
		zc_end(&z);
	}
	stream_free(&s);
}

/* CAPTURE reallocated mid-stream (STREAMOFF, unmap, REQBUFS 0, REQBUFS,
 * STREAMON) without a seek: libavcodec still predicts from the old
 * buffers, whose ranges must not go to the new ones (they come zeroed).
 * Pictures done but not dequeued are lost (the spec); every one after is
 * exact and in order, to the end. */
Test(flow, zero_copy_capture_reallocated_mid_stream)
{
	struct stream s;
	stream_load(&s, "h264", ZC_ARGS, "yuv420p", 0);
	static struct zc z;
	zc_start(&z, ID, 0);
	size_t half = s.u.n / 2;
	zc_feed(&z, &s.u, 0, half);
	for (int i = 0; i < 500 && z.dd.nframes < 8; i++)
		zc_service(&z, 20);
	cr_assert_geq(z.dd.nframes, 8);
	unsigned before = z.dd.nframes;
	zc_cap_setup(&z); /* STREAMOFF, free, allocate again, STREAMON */
	zc_feed(&z, &s.u, half, s.u.n);
	zc_drain(&z);
	cr_expect_eq(z.dd.cap_errors, 0);
	for (unsigned i = 0; i < before; i++)
		cr_assert_str_eq(z.dd.md5[i], s.ref[i], "frame %u", i);
	cr_assert_gt(z.dd.nframes, before);
	unsigned k = before;
	while (k < s.nref && strcmp(s.ref[k], z.dd.md5[before]) != 0)
		k++;
	cr_assert_lt(k, s.nref, "the first picture after reallocating is none of the stream's");
	cr_assert_eq(z.dd.nframes - before, s.nref - k, "pictures missing after frame %u", k);
	for (unsigned i = before; i < z.dd.nframes; i++)
		cr_assert_str_eq(z.dd.md5[i], s.ref[k + i - before], "frame %u",
				 k + i - before);
	zc_end(&z);
	stream_free(&s);
}

/* Free or close while libavcodec holds CAPTURE buffers: STREAMOFF of both
 * queues and REQBUFS 0 mid-stream on one session, CLOSE without anything
 * on another; no use after free (sanitizer builds), and the first session
 * then decodes a whole stream exactly. */
Test(flow, zero_copy_free_and_close_while_held)
{
	struct stream s;
	stream_load(&s, "h264", ZC_ARGS, "yuv420p", 0);
	static struct zc z, y;
	uint32_t id2 = dp_open(&D);
	zc_start(&z, ID, 0);
	zc_start(&y, id2, 0);
	size_t half = s.u.n / 2;
	zc_feed(&z, &s.u, 0, half);
	zc_feed(&y, &s.u, 0, half);
	for (int i = 0; i < 500 && (z.dd.nframes < 8 || y.dd.nframes < 8); i++) {
		zc_service(&z, 10);
		zc_service(&y, 10);
	}
	cr_assert_geq(z.dd.nframes, 8);
	cr_assert_geq(y.dd.nframes, 8);
	zc_end(&z);
	for (unsigned i = 0; i < y.dd.ncap; i++)
		cr_assert_eq(vmedia_guest_munmap(&D.p.g, y.dd.cap_addr[i]), 0);
	for (unsigned i = 0; i < y.dd.nout; i++)
		cr_assert_eq(vmedia_guest_munmap(&D.p.g, y.dd.out_addr[i]), 0);
	cr_assert_eq(vmedia_guest_close(&D.p.g, id2), 0);

	zc_start(&z, dp_open(&D), 0);
	zc_feed(&z, &s.u, 0, s.u.n);
	zc_drain(&z);
	dd_expect_frames(&z.dd, s.ref, s.nref);
	zc_end(&z);
	stream_free(&s);
}
