/* SPDX-License-Identifier: MIT */
/*
 * The decoder under the runtime: the device on a vql_loop thread, the
 * guest-driver model on this thread over real eventfds.  Nobody here calls
 * vmedia_decoder_complete(): the decoder must watch its own wake fd through
 * the environment the runtime gives it (dev->env_ops), so frames reaching
 * the guest at all is the proof.  Every wait is bounded.
 *
 * Built twice, like test_runtime: a criterion suite (test_decoder_runtime)
 * and, with PLAIN_TEST, a plain program (test_decoder_runtime_plain) for
 * ThreadSanitizer, under which criterion's runner crashes.
 */
#define _GNU_SOURCE
#include <libavutil/log.h>
#include <sys/eventfd.h>
#include <unistd.h>

#ifdef PLAIN_TEST
#if defined(__SANITIZE_THREAD__)
#define DR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DR_TSAN 1
#endif
#endif
#ifdef DR_TSAN
/*
 * ThreadSanitizer and libavcodec's frame threads (the decoder asks for two).
 * libavcodec/libavutil are not instrumented: TSan sees none of their loads,
 * stores or C11 atomics, only the libc/pthread calls they make.  Frame
 * threading hands a picture (and parks its threads at close) through atomic
 * state flags, so TSan misses that order and reports:
 *  - free() in av_buffer_unref()/av_frame_unref() on our worker thread
 *    (avcodec_send_packet, or av_frame_unref of the received frame) against
 *    the zero-fill in av_mallocz(), or the realloc() in
 *    av_frame_new_side_data_from_buf(), on the libavcodec thread that made
 *    the frame: the AVBuffer/AVFrameSideData bookkeeping of a frame handed
 *    over inside avcodec_send_packet/receive_frame;
 *  - our copy_frame() (worker.c), or a memcpy() in libavutil, reading a
 *    received frame's pixels against the zero-fill in av_buffer_allocz()
 *    that made the pool buffer on the libavcodec thread which then decoded
 *    into it (those stores unseen) and handed it over;
 *  - pthread_mutex_destroy() in avcodec_free_context() (after our
 *    pthread_join of the worker) against pthread_cond_wait() on the same
 *    mutex, earlier, by another libavcodec frame thread: ff_frame_thread_free
 *    joins and destroys thread by thread.
 * With the decoder at one thread (no frame threads) this program runs with
 * no report at all.  So: ignore those three allocation sites as a race's
 * partner (what our code reads there, it got from avcodec_receive_frame),
 * and the accesses made by the libc/pthread calls libavcodec itself makes
 * (like its own loads and stores, unseen anyway; its locking still counts).
 * Our code, including the get_buffer2 and buffer-free callbacks libavcodec
 * runs on its threads, stays checked against everything else.  Built in
 * (this program only), so that TSAN_OPTIONS stays the caller's.
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void)
{
	return "race:av_mallocz\n"
	       "race:av_buffer_allocz\n"
	       "race:av_frame_new_side_data_from_buf\n"
	       "called_from_lib:libavcodec.so\n";
}
#endif
#endif

#include "decoder_fixture.h"
#include "vmedia_runtime.h"
#include "vq_fake_eventfd.h"

#include "dual_test.h"

#define WAIT_MS 5000

static struct {
	struct dp d;
	struct vq_fake_efd kc, ke;
	struct vmedia_runtime rt;
	int cmd_kick, ev_kick, call;
	bool rt_up;
	int rt_error; /* vmedia_runtime_error() at stop, checked in teardown() */
} R;

/* dp_pump() in this mode: wait for the eventq's signal, take the events. */
static int rt_pump(struct dp *d, int timeout_ms)
{
	int r = vq_fake_efd_wait(&R.ke, timeout_ms);
	DUAL_ASSERT(r >= 0); /* waiting on the call eventfd */
	vmedia_guest_poll_events(&d->p.g);
	return r;
}

/* What dp_init() builds, with the runtime as the transport. */
static void setup(void)
{
	memset(&R, 0, sizeof(R));
	struct dp *d = &R.d;
	av_log_set_level(AV_LOG_FATAL);
	d->dec = vmedia_decoder_new(&(struct vmedia_decoder_config){ .threads = 2 });
	DUAL_ASSERT(d->dec != NULL);
	d->pump = rt_pump;
	R.cmd_kick = eventfd(0, EFD_CLOEXEC);
	R.ev_kick = eventfd(0, EFD_CLOEXEC);
	R.call = eventfd(0, EFD_CLOEXEC);
	DUAL_ASSERT(R.cmd_kick >= 0 && R.ev_kick >= 0 && R.call >= 0);

	struct media_pair *p = &d->p;
	DUAL_ASSERT(vmedia_shm_init_memfd(&p->shm, 64 << 20) == 0);
	struct vmedia_guest_config gc = {
		.config = vmedia_decoder_config_space(d->dec),
		.timeout_ms = WAIT_MS,
		.shm = p->shm.host,
		.shm_size = p->shm.size,
		.mem_size = 32u << 20,
	};
	DUAL_ASSERT(vmedia_guest_init(&p->g, &gc) == 0);
	DUAL_ASSERT(vq_fake_efd_attach(&R.kc, &p->g.cmdq, R.cmd_kick, R.call) == 0);
	DUAL_ASSERT(vq_fake_efd_attach(&R.ke, &p->g.eventq, R.ev_kick, R.call) == 0);
	struct vq_queue_config qc;
	vq_fake_queue_config(&p->g.cmdq, &qc);
	DUAL_ASSERT(vq_queue_init(&p->cmdq, &qc) == 0);
	vq_fake_queue_config(&p->g.eventq, &qc);
	DUAL_ASSERT(vq_queue_init(&p->evq, &qc) == 0);
	struct vmedia_device_config dc = {
		.ops = &vmedia_decoder_ops, .priv = d->dec,
		.commandq = &p->cmdq, .eventq = &p->evq,
		.mem = vmedia_guest_mem(&p->g), .shm = &p->shm, .config = gc.config,
	};
	DUAL_ASSERT(vmedia_device_init(&p->dev, &dc) == 0);
	struct vmedia_runtime_config rc = {
		.dev = &p->dev, .cmd_kick_fd = R.cmd_kick, .evq_kick_fd = R.ev_kick,
		.call_fd = R.call,
	};
	DUAL_ASSERT(vmedia_runtime_init(&R.rt, &rc) == 0);
	DUAL_ASSERT(vmedia_runtime_start(&R.rt) == 0);
	R.rt_up = true;
}

static void stop_runtime(void)
{
	if (!R.rt_up)
		return;
	vmedia_runtime_stop(&R.rt);
	/* Checked at the end of teardown(), so that a failure there (once an
	 * expectation) still frees everything first. */
	R.rt_error = vmedia_runtime_error(&R.rt);
	vmedia_runtime_destroy(&R.rt);
	R.rt_up = false;
}

static void teardown(void)
{
	stop_runtime();
	struct media_pair *p = &R.d.p;
	/* The runner closes what is still open: workers stop, memory goes. */
	vmedia_device_destroy(&p->dev);
	vmedia_decoder_free(R.d.dec);
	vq_queue_destroy(&p->cmdq);
	vq_queue_destroy(&p->evq);
	vmedia_guest_destroy(&p->g);
	vmedia_shm_destroy(&p->shm);
	close(R.cmd_kick);
	close(R.ev_kick);
	close(R.call);
	DUAL_ASSERT(R.rt_error == 0);
}

/*
 * DR_TEST(name): a test of the decoder_runtime suite, between setup() and
 * teardown().  criterion runs those as the suite's init and fini, with the
 * suite's timeout (120 s: dual_test.h's DUAL_TEST would set 60); the plain
 * program, which has no runner, calls them around the body itself.
 */
#ifdef PLAIN_TEST
#define DR_TEST(n)                                                                         \
	static void n(void);                                                               \
	DUAL_TEST(decoder_runtime, n)                                                      \
	{                                                                                  \
		setup();                                                                   \
		n();                                                                       \
		teardown();                                                                \
	}                                                                                  \
	static void n(void)
#else
TestSuite(decoder_runtime, .init = setup, .fini = teardown, .timeout = 120);
#define DR_TEST(n) Test(decoder_runtime, n)
#endif

static const char *h264_args =
	"-f lavfi -i testsrc2=size=320x240:rate=30 -frames:v 30 -pix_fmt yuv420p "
	"-c:v libx264 -preset veryfast -bf 2";

DR_TEST(frames_arrive_with_nobody_completing_by_hand)
{
	char *path = dp_stream("h264", h264_args);
	size_t len;
	uint8_t *data = dp_load(path, &len);
	char(*ref)[33];
	unsigned nref = dp_ref_md5(path, "yuv420p", &ref);
	DUAL_ASSERT(nref == 30);
	struct dp_units u;
	dp_units_chunks(data, len, 0, 7, &u);

	uint32_t id = dp_open(&R.d);
	struct dd dd;
	dd_start(&dd, &R.d, id, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP,
		 V4L2_PIX_FMT_YUV420, 4);
	dd_run(&dd, &u);
	DUAL_ASSERT(dd.source_changes == 1);
	DUAL_ASSERT(dd.got_last && dd.got_eos);
	dd_expect_frames(&dd, ref, nref);
	DUAL_ASSERT(dd.out_errors + dd.cap_errors == 0);
	dd_end(&dd);
	DUAL_ASSERT(vmedia_guest_close(&R.d.p.g, id) == 0);
	DUAL_ASSERT(R.d.p.g.stats.timeouts == 0);

	dp_units_free(&u);
	free(ref);
	free(data);
	free(path);
}

/* Two sessions at once on the one loop thread, their frames kept apart. */
DR_TEST(two_sessions_interleaved)
{
	char *path = dp_stream("h264", h264_args);
	size_t len;
	uint8_t *data = dp_load(path, &len);
	char(*ref)[33], (*ref_nv12)[33];
	unsigned nref = dp_ref_md5(path, "yuv420p", &ref);
	DUAL_ASSERT(dp_ref_md5(path, "nv12", &ref_nv12) == nref);
	struct dp_units u;
	dp_units_chunks(data, len, 4096, 0, &u);

	struct dd a, b;
	dd_start(&a, &R.d, dp_open(&R.d), V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP,
		 V4L2_PIX_FMT_YUV420, 3);
	dd_start(&b, &R.d, dp_open(&R.d), V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP,
		 V4L2_PIX_FMT_NV12, 3);
	for (size_t i = 0; i < u.n; i++) {
		dd_feed_units(&a, &u, i, i + 1);
		dd_feed_units(&b, &u, i, i + 1);
	}
	dd_run(&a, &(struct dp_units){ 0 });
	dd_run(&b, &(struct dp_units){ 0 });
	dd_expect_frames(&a, ref, nref);
	dd_expect_frames(&b, ref_nv12, nref);
	dd_end(&a);
	dd_end(&b);

	dp_units_free(&u);
	free(ref_nv12);
	free(ref);
	free(data);
	free(path);
}

/* The runtime goes first, with a session mid-decode: the decoder's watch
 * went with the loop, and the device's teardown still stops the worker and
 * frees everything (the sanitizer builds check the "everything"). */
DR_TEST(runtime_destroyed_mid_decode)
{
	char *path = dp_stream("h264", h264_args);
	size_t len;
	uint8_t *data = dp_load(path, &len);
	struct dp_units u;
	dp_units_chunks(data, len, 2048, 0, &u);
	uint32_t id = dp_open(&R.d);
	struct dd dd;
	dd_start(&dd, &R.d, id, V4L2_PIX_FMT_H264, V4L2_MEMORY_MMAP, V4L2_MEMORY_MMAP, 0, 4);
	dd_feed_units(&dd, &u, 0, u.n / 2);
	stop_runtime();
	DUAL_ASSERT(R.d.p.dev.env_ops == NULL);
	/* teardown() destroys the device with the session still open. */
	dp_units_free(&u);
	free(data);
	free(path);
}
