/* SPDX-License-Identifier: MIT */
/*
 * Capture through the whole stack, same thread: what `vqmedia capture
 * --benchmark` runs, without the files.  The guest driver model, the
 * commandq / eventq, the virtio-media runner and the simple device in
 * benchmark mode (a queued buffer is filled and returned at once) take
 * turns on one thread, built by the tool's own stack helper (tools/stack.c).
 *
 * Figures, with their baseline measured in the same run:
 *  - capture_yuyv_640x480_mmap: one frame per iteration, 640x480 YUYV into
 *    4 MMAP buffers: the model's DQBUF (eventq poll, DQBUF event, eventq
 *    buffer re-posted) then QBUF of the same buffer (commandq chain, runner,
 *    the device's qbuf hook drawing the 614400-byte frame into the MMAP
 *    region, DQBUF event out).  Also as frames per second.
 *  - memcpy_614400B: the bytes of one frame copied from one buffer into the
 *    same 4 MMAP buffers in turn; as frames per second too.
 *  - capture_vs_memcpy = capture fps / memcpy fps.  Target: >= 0.8, i.e.
 *    the stack and the pattern cost at most a quarter more than moving the
 *    frame's bytes once.  Both figures are memory-bound, so on a shared
 *    2-core machine another process's traffic moves them a lot; the ratio is
 *    therefore the median of 15 paired rounds (~20 ms of memcpy, then ~20 ms
 *    of capture, back to back), not the ratio of the two medians above,
 *    which were taken a second apart.
 * After the timed runs the last frame is checked to be a picture (not all
 * one byte) and the sequence numbers to have no gaps.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mbuffers.h"
#include "stack.h"

#define W 640
#define H 480
#define FRAME (W * H * 2)
#define NBUFS 4
#define CAP V4L2_BUF_TYPE_VIDEO_CAPTURE

#define CHECK(cond, ...)                                                                   \
	do {                                                                               \
		if (__builtin_expect(!(cond), 0)) {                                        \
			bench_fail(__VA_ARGS__);                                           \
			return -1;                                                         \
		}                                                                          \
	} while (0)

struct cap {
	struct vqm_stack s;
	bool stack_up, streaming;
	uint32_t sid;
	struct vqm_mbufs bufs;
	uint8_t *src; /* memcpy source */
	unsigned next;
	uint32_t last_index, last_seq, frames;
	bool seq_gap;
};

static int64_t capture_frames(void *ctx, uint64_t iters)
{
	struct cap *c = ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct v4l2_buffer b;
		struct v4l2_plane planes[VIDEO_MAX_PLANES];
		int r = vqm_mbufs_dqbuf(&c->s, c->sid, &c->bufs, &b, planes);
		CHECK(r == 0 && b.bytesused >= FRAME,
		      "DQBUF: %d (index %u, bytesused %u)", r, b.index, b.bytesused);
		if (c->frames && b.sequence != c->last_seq + 1)
			c->seq_gap = true;
		c->last_seq = b.sequence;
		c->last_index = b.index;
		c->frames++;
		r = vqm_mbufs_qbuf(&c->s, c->sid, &c->bufs, b.index, NULL, 0);
		CHECK(r == 0, "QBUF %u: %d", b.index, r);
	}
	return (int64_t)iters;
}

static int64_t memcpy_frames(void *ctx, uint64_t iters)
{
	struct cap *c = ctx;
	for (uint64_t i = 0; i < iters; i++) {
		uint8_t *dst = c->bufs.b[c->next].p[0].ptr;
		c->next = (c->next + 1) % c->bufs.count;
		memcpy(dst, c->src, FRAME);
		bench_escape(dst);
	}
	return (int64_t)iters;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#define ROUNDS 15

/* Median over ROUNDS of (memcpy time / capture time) for @n frames each,
 * measured back to back; 0 on failure (reported). */
static double paired_ratio(struct cap *c, uint64_t n, double *lo, double *hi)
{
	double ratio[ROUNDS];
	for (unsigned i = 0; i < ROUNDS; i++) {
		uint64_t t0 = bench_now_ns();
		if (memcpy_frames(c, n) < 0)
			return 0;
		uint64_t t1 = bench_now_ns();
		if (capture_frames(c, n) < 0)
			return 0;
		uint64_t t2 = bench_now_ns();
		ratio[i] = (double)(t1 - t0) / (double)(t2 - t1);
	}
	qsort(ratio, ROUNDS, sizeof(ratio[0]), cmp_double);
	*lo = ratio[0];
	*hi = ratio[ROUNDS - 1];
	return ratio[ROUNDS / 2];
}

static void cap_destroy(struct cap *c)
{
	if (c->streaming) {
		int type = CAP;
		vqm_ioctl(&c->s, c->sid, VIDIOC_STREAMOFF, &type);
	}
	if (c->stack_up) {
		vqm_mbufs_free(&c->s, c->sid, &c->bufs);
		vqm_stack_destroy(&c->s);
	}
	free(c->src);
	free(c);
}

static struct cap *cap_new(void)
{
	struct cap *c = calloc(1, sizeof(*c));
	if (!c || !(c->src = malloc(FRAME))) {
		bench_fail("out of memory");
		free(c);
		return NULL;
	}
	for (size_t i = 0; i < FRAME; i++)
		c->src[i] = (uint8_t)(i * 7 + 1);
	int r = vqm_stack_init(&c->s, &(struct vqm_stack_opts){ .benchmark = true });
	if (r) {
		bench_fail("stack: %s", c->s.err);
		goto fail;
	}
	c->stack_up = true;
	if ((r = vqm_open(&c->s, &c->sid)) != 0) {
		bench_fail("OPEN: %d", r);
		goto fail;
	}
	struct v4l2_format f = { .type = CAP };
	f.fmt.pix = (struct v4l2_pix_format){ .width = W, .height = H,
					      .pixelformat = V4L2_PIX_FMT_YUYV,
					      .field = V4L2_FIELD_NONE };
	r = vqm_ioctl(&c->s, c->sid, VIDIOC_S_FMT, &f);
	if (r || f.fmt.pix.width != W || f.fmt.pix.height != H ||
	    f.fmt.pix.pixelformat != V4L2_PIX_FMT_YUYV || f.fmt.pix.sizeimage < FRAME) {
		bench_fail("S_FMT 640x480 YUYV: %d (got %ux%u, sizeimage %u)", r, f.fmt.pix.width,
			   f.fmt.pix.height, f.fmt.pix.sizeimage);
		goto fail;
	}
	/* Mapped writable: the memcpy baseline writes the same buffers. */
	r = vqm_mbufs_alloc(&c->s, c->sid, &c->bufs, CAP, V4L2_MEMORY_MMAP, NBUFS, 1,
			    &f.fmt.pix.sizeimage, true);
	if (r) {
		bench_fail("%s: %d", c->bufs.failed, r);
		goto fail;
	}
	for (uint32_t i = 0; i < c->bufs.count; i++) {
		if ((r = vqm_mbufs_qbuf(&c->s, c->sid, &c->bufs, i, NULL, 0)) != 0) {
			bench_fail("QBUF %u: %d", i, r);
			goto fail;
		}
	}
	int type = CAP;
	if ((r = vqm_ioctl(&c->s, c->sid, VIDIOC_STREAMON, &type)) != 0) {
		bench_fail("STREAMON: %d", r);
		goto fail;
	}
	c->streaming = true;
	return c;
fail:
	cap_destroy(c);
	return NULL;
}

/* The device drew something: a frame of one repeated byte it did not. */
static void check_picture(struct cap *c)
{
	const uint8_t *p = c->bufs.b[c->last_index].p[0].ptr;
	size_t same = 0;
	for (size_t i = 1; i < FRAME; i++)
		same += p[i] == p[0];
	if (same == FRAME - 1)
		bench_fail("capture: the last frame is all 0x%02x", p[0]);
	if (c->seq_gap)
		bench_fail("capture: sequence numbers have gaps");
	if (c->s.runner_err)
		bench_fail("capture: the runner failed: %d", c->s.runner_err);
}

int main(int argc, char **argv)
{
	bench_init(argc, argv, "bench_capture");
	struct cap *c = cap_new();
	if (!c)
		return bench_finish();
	bench_note("640x480 YUYV, %u MMAP buffers, %d bytes per frame, benchmark mode",
		   c->bufs.count, FRAME);

	struct bench_stats mem, cap;
	bool have_mem = false, have_cap = false;
	if (bench_selected("memcpy_614400B") &&
	    bench_measure("memcpy_614400B", memcpy_frames, c, &mem) == 0) {
		bench_report_time("memcpy_614400B", &mem, 1e-3, "us/frame");
		bench_report_rate("memcpy_614400B_fps", &mem, 1e9, "frames/s");
		bench_report_rate("memcpy_614400B_GBps", &mem, FRAME, "GB/s");
		have_mem = true;
	}
	if (bench_selected("capture_yuyv_640x480_mmap") &&
	    bench_measure("capture_yuyv_640x480_mmap", capture_frames, c, &cap) == 0) {
		bench_report_time("capture_yuyv_640x480_mmap", &cap, 1e-3, "us/frame");
		bench_report_rate("capture_yuyv_640x480_mmap_fps", &cap, 1e9, "frames/s");
		check_picture(c);
		have_cap = true;
	}
	if (have_mem && have_cap) {
		/* ~20 ms of each per round. */
		uint64_t n = cap.iters / 5 ? cap.iters / 5 : 1;
		double lo, hi, ratio = paired_ratio(c, n, &lo, &hi);
		if (ratio > 0) {
			bench_result("capture_vs_memcpy", ratio, "x");
			bench_note("  capture_vs_memcpy: median of %d paired rounds of %llu frames, "
				   "min %.3f max %.3f; ratio of the medians above %.3f (the stack "
				   "and the device add %.1f us per frame to the copy)",
				   ROUNDS, (unsigned long long)n, lo, hi,
				   mem.median_ns / cap.median_ns,
				   (cap.median_ns - mem.median_ns) / 1e3);
			bench_note("  target capture >= 0.8x the memcpy rate: %s (%.2f)",
				   ratio >= 0.8 ? "met" : "MISSED", ratio);
			check_picture(c);
		}
	}
	cap_destroy(c);
	return bench_finish();
}
