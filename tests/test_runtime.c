/* SPDX-License-Identifier: MIT */
/*
 * runtime/: a virtio-media device on a vql_loop thread, driven from another
 * thread over real eventfds (kick / call).  Counts and order, never timings;
 * every wait is bounded so a broken runtime fails instead of hanging.
 *
 * Built twice, like test_loop: a criterion suite (test_runtime) and, with
 * PLAIN_TEST, a plain program (test_runtime_plain) for ThreadSanitizer,
 * under which criterion's runner crashes.  Sanitizer builds exchange a tenth
 * of the commands.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "runtime_echo.h"
#include "vmedia_guest.h"
#include "vmedia_simple.h"

#include "dual_test.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define RT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define RT_SANITIZED 1
#endif
#endif
#ifdef RT_SANITIZED
#define RT_SCALE 10
#else
#define RT_SCALE 1
#endif

#define WAIT_MS 5000

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static struct echo_pair *pair_new(unsigned flags)
{
	struct echo_pair *p = malloc(sizeof(*p));
	DUAL_ASSERT(p);
	DUAL_ASSERT(echo_pair_init(p, flags) == 0);
	return p;
}

static void pair_free(struct echo_pair *p)
{
	vmedia_runtime_destroy(&p->rt);
	echo_pair_destroy(p);
	free(p);
}

/* ---- a million commands, one session ---- */

static void million(unsigned flags, unsigned depth)
{
	struct echo_pair *p = pair_new(flags);
	DUAL_ASSERT(vmedia_runtime_start(&p->rt) == 0);
	DUAL_ASSERT(echo_open_sessions(p, 1, WAIT_MS) == 0);
	uint64_t n = 1000000 / RT_SCALE;
	DUAL_ASSERT(echo_run(p, n, 1, depth, WAIT_MS, NULL) == 0);
	DUAL_ASSERT(p->completed == n);
	DUAL_ASSERT(p->errors == 0);
	DUAL_ASSERT(p->inflight == 0);
	vmedia_runtime_stop(&p->rt);
	DUAL_ASSERT(vmedia_runtime_error(&p->rt) == 0);
	DUAL_ASSERT(p->echo.calls == n);
	DUAL_ASSERT(p->echo.bad_seq == 0);
	DUAL_ASSERT(p->rt.stats.commands == n + 1);
	/* Batching: far fewer wake-ups than commands at depth 64. */
	if (depth > 1)
		DUAL_ASSERT(p->rt.stats.cmd_kicks < n);
	pair_free(p);
}

DUAL_TEST(runtime, million_depth64) { million(0, 64); }
DUAL_TEST(runtime, qd1_singleshot_poll) {
	struct echo_pair *p = pair_new(VQL_LOOP_NO_MULTISHOT);
	DUAL_ASSERT(vmedia_runtime_start(&p->rt) == 0);
	DUAL_ASSERT(echo_open_sessions(p, 1, WAIT_MS) == 0);
	uint64_t n = 20000 / RT_SCALE;
	DUAL_ASSERT(echo_run(p, n, 1, 1, WAIT_MS, NULL) == 0);
	DUAL_ASSERT(p->completed == n && p->errors == 0);
	vmedia_runtime_stop(&p->rt);
	DUAL_ASSERT(p->echo.bad_seq == 0 && p->echo.calls == n);
	pair_free(p);
}

/* ---- many sessions, interleaved ---- */

DUAL_TEST(runtime, many_sessions)
{
	/* With a flush every 16 commands: the driver sees partial bursts. */
	struct echo_pair *p = malloc(sizeof(*p));
	DUAL_ASSERT(p);
	DUAL_ASSERT(echo_pair_init_ex(p, 0, 16) == 0);
	DUAL_ASSERT(vmedia_runtime_start(&p->rt) == 0);
	DUAL_ASSERT(echo_open_sessions(p, ECHO_SESSIONS, WAIT_MS) == 0);
	uint64_t n = 200000 / RT_SCALE;
	DUAL_ASSERT(echo_run(p, n, ECHO_SESSIONS, 100, WAIT_MS, NULL) == 0);
	DUAL_ASSERT(p->completed == n && p->errors == 0);
	for (unsigned i = 0; i < ECHO_SESSIONS; i++)
		DUAL_ASSERT(p->sess_done[i] == p->sess_next[i]);
	vmedia_runtime_stop(&p->rt);
	DUAL_ASSERT(p->echo.opens == ECHO_SESSIONS && p->echo.bad_seq == 0);
	DUAL_ASSERT(p->echo.calls == n);
	DUAL_ASSERT(p->rt.stats.calls > 0);
	pair_free(p);
}

/* ---- shutdown while busy ---- */

struct busy {
	struct echo_pair *p;
	int stop;
	int result;
};

static void *busy_driver(void *arg)
{
	struct busy *b = arg;
	/* Runs until the runtime stops answering (a timeout) or told to stop. */
	b->result = echo_run(b->p, UINT64_MAX, 1, 64, 200, &b->stop);
	return NULL;
}

DUAL_TEST(runtime, shutdown_while_busy)
{
	for (unsigned round = 0; round < 6; round++) {
		struct echo_pair *p = pair_new(round & 1 ? VQL_LOOP_NO_MULTISHOT : 0);
		DUAL_ASSERT(vmedia_runtime_start(&p->rt) == 0);
		DUAL_ASSERT(echo_open_sessions(p, 1, WAIT_MS) == 0);
		struct busy b = { .p = p };
		pthread_t th;
		DUAL_ASSERT(pthread_create(&th, NULL, busy_driver, &b) == 0);
		sleep_ms(round * 4);
		vmedia_runtime_stop(&p->rt);
		vmedia_runtime_stop(&p->rt); /* idempotent */
		pthread_join(th, NULL);
		/* The driver saw the device go quiet, not a wrong answer. */
		DUAL_ASSERT(b.result == -ETIMEDOUT);
		DUAL_ASSERT(p->errors == 0);
		DUAL_ASSERT(p->echo.bad_seq == 0);
		DUAL_ASSERT(p->echo.calls >= p->completed);
		DUAL_ASSERT(vmedia_runtime_error(&p->rt) == 0);
		pair_free(p);
	}
}

DUAL_TEST(runtime, stop_before_start_and_never_started)
{
	struct echo_pair *p = pair_new(0);
	pair_free(p); /* never started */
	p = pair_new(0);
	vmedia_runtime_stop(&p->rt);
	DUAL_ASSERT(vmedia_runtime_start(&p->rt) == 0);
	DUAL_ASSERT(vmedia_runtime_start(&p->rt) == -EALREADY);
	vmedia_runtime_stop(&p->rt);
	pair_free(p);
}

/* ---- kick fds that end, a queue the driver breaks ---- */

static void wait_error(struct echo_pair *p, int want)
{
	for (unsigned i = 0; i < WAIT_MS && !vmedia_runtime_error(&p->rt); i++)
		sleep_ms(1);
	DUAL_ASSERT(vmedia_runtime_error(&p->rt) == want);
	DUAL_ASSERT(__atomic_load_n(&p->rt_error_seen, __ATOMIC_ACQUIRE) == want);
}

DUAL_TEST(runtime, kick_fd_closed_before_start)
{
	for (unsigned m = 0; m < 2; m++) {
		struct echo_pair *p = pair_new(m ? VQL_LOOP_NO_MULTISHOT : 0);
		close(p->cmd_kick); /* the watch's poll is submitted by the first run */
		p->cmd_kick = -1;
		DUAL_ASSERT(vmedia_runtime_start(&p->rt) == 0);
		wait_error(p, -EPIPE);
		vmedia_runtime_stop(&p->rt);
		DUAL_ASSERT(p->rt.stats.cmd_kicks == 0);
		pair_free(p);
	}
}

DUAL_TEST(runtime, kick_pipe_hangs_up)
{
	for (unsigned m = 0; m < 2; m++) {
		struct echo_pair *p = malloc(sizeof(*p));
		DUAL_ASSERT(p);
		DUAL_ASSERT(echo_pair_init(p, 0) == 0);
		/* Rebuild the runtime on a pipe as commandq kick fd. */
		vmedia_runtime_destroy(&p->rt);
		int fds[2];
		DUAL_ASSERT(pipe2(fds, O_CLOEXEC) == 0);
		struct vmedia_runtime_config rc = {
			.dev = &p->dev, .cmd_kick_fd = fds[0], .evq_kick_fd = p->ev_kick,
			.call_fd = p->call, .loop_flags = m ? VQL_LOOP_NO_MULTISHOT : 0,
			.on_error = echo_on_error, .opaque = p,
		};
		DUAL_ASSERT(vmedia_runtime_init(&p->rt, &rc) == 0);
		DUAL_ASSERT(vmedia_runtime_start(&p->rt) == 0);
		/* Commands still flow through a kick on the pipe. */
		DUAL_ASSERT(echo_add(p, 0, true) == 0);
		vq_fake_publish(&p->cmdf);
		uint64_t one = 1;
		DUAL_ASSERT(write(fds[1], &one, sizeof(one)) == sizeof(one));
		DUAL_ASSERT(vq_fake_efd_wait(&p->cmd_d, WAIT_MS) > 0);
		echo_reap(p);
		DUAL_ASSERT(p->errors == 0 && p->last_open_status == 0);
		close(fds[1]); /* hang-up: the watch ends, the runtime reports it */
		wait_error(p, -EPIPE);
		vmedia_runtime_stop(&p->rt);
		DUAL_ASSERT(p->rt.stats.cmd_kicks <= 2); /* no spinning on the dead fd */
		pair_free(p);
		close(fds[0]);
	}
}

DUAL_TEST(runtime, bad_kick_fd_at_init)
{
	struct echo_pair *p = pair_new(0);
	vmedia_runtime_destroy(&p->rt);
	int fd = 1 << 20; /* above any open fd (RLIMIT_NOFILE): EBADF */
	struct vmedia_runtime_config rc = {
		.dev = &p->dev, .cmd_kick_fd = fd, .evq_kick_fd = -1, .call_fd = p->call,
	};
	DUAL_ASSERT(vmedia_runtime_init(&p->rt, &rc) == -EBADF);
	rc.cmd_kick_fd = -1;
	DUAL_ASSERT(vmedia_runtime_init(&p->rt, &rc) == -EINVAL);
	/* A usable runtime again, for pair_free. */
	rc.cmd_kick_fd = p->cmd_kick;
	DUAL_ASSERT(vmedia_runtime_init(&p->rt, &rc) == 0);
	pair_free(p);
}

DUAL_TEST(runtime, broken_queue_reports_eio)
{
	struct echo_pair *p = pair_new(0);
	DUAL_ASSERT(vmedia_runtime_start(&p->rt) == 0);
	DUAL_ASSERT(echo_open_sessions(p, 1, WAIT_MS) == 0);
	/* avail->idx more than a queue-size ahead: ring-level corruption. */
	vq_fake_set_avail_idx(&p->cmdf, (uint16_t)(p->cmdf.avail_idx + ECHO_QSIZE + 5));
	uint64_t one = 1;
	DUAL_ASSERT(write(p->cmd_kick, &one, sizeof(one)) == sizeof(one));
	wait_error(p, -EIO);
	vmedia_runtime_stop(&p->rt);
	pair_free(p);
}

/* ---- the loop API for devices: post from a worker, timers ---- */

struct post_ctx {
	struct echo_pair *p;
	uint64_t ran;       /* loop thread only */
	uint64_t order_bad; /* loop thread only */
	uint64_t last;
	struct vql_timer timers[32];
	uint64_t fired;     /* loop thread only */
	int post_errors;    /* worker only */
};

static struct post_ctx *g_post;
static uint64_t g_post_seq[2];

static void posted(void *opaque)
{
	uint64_t v = (uint64_t)(uintptr_t)opaque;
	struct post_ctx *c = g_post;
	unsigned w = (unsigned)(v >> 32);
	uint64_t seq = v & 0xffffffffu;
	if (seq != g_post_seq[w])
		c->order_bad++;
	g_post_seq[w] = seq + 1;
	c->ran++;
}

static void *post_worker(void *arg)
{
	struct post_ctx *c = arg;
	static int which;
	unsigned w = (unsigned)__atomic_fetch_add(&which, 1, __ATOMIC_RELAXED) & 1;
	for (uint64_t i = 0; i < 20000; i++)
		if (vmedia_runtime_post(&c->p->rt, posted,
					(void *)(uintptr_t)(((uint64_t)w << 32) | i)))
			__atomic_fetch_add(&c->post_errors, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void on_tick(struct vql_timer *t, uint64_t exp, void *opaque)
{
	struct post_ctx *c = opaque;
	(void)t;
	c->fired += exp;
}

static void start_timers(void *opaque)
{
	struct post_ctx *c = opaque;
	struct vql_loop *l = vmedia_runtime_loop(&c->p->rt);
	for (unsigned i = 0; i < 32; i++)
		vql_timer_start(l, &c->timers[i], 100000, 200000 + i * 10000, on_tick, c);
}

DUAL_TEST(runtime, posts_and_timer_storm_while_busy)
{
	struct post_ctx *c = calloc(1, sizeof(*c));
	DUAL_ASSERT(c);
	c->p = pair_new(0);
	g_post = c;
	g_post_seq[0] = g_post_seq[1] = 0;
	DUAL_ASSERT(vmedia_runtime_start(&c->p->rt) == 0);
	DUAL_ASSERT(vmedia_runtime_post(&c->p->rt, start_timers, c) == 0);
	DUAL_ASSERT(echo_open_sessions(c->p, 4, WAIT_MS) == 0);
	pthread_t w[2];
	for (int i = 0; i < 2; i++)
		DUAL_ASSERT(pthread_create(&w[i], NULL, post_worker, c) == 0);
	uint64_t n = 100000 / RT_SCALE;
	DUAL_ASSERT(echo_run(c->p, n, 4, 64, WAIT_MS, NULL) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	/* Let the posts drain: a command round trip after the last post. */
	DUAL_ASSERT(echo_run(c->p, 1, 1, 1, WAIT_MS, NULL) == 0);
	sleep_ms(5);
	vmedia_runtime_stop(&c->p->rt);
	DUAL_ASSERT(c->post_errors == 0);
	DUAL_ASSERT(c->ran == 40000);
	DUAL_ASSERT(c->order_bad == 0);
	DUAL_ASSERT(c->p->errors == 0 && c->p->completed == n + 1);
	DUAL_ASSERT(c->p->echo.bad_seq == 0);
	DUAL_ASSERT(c->fired > 0);
	/* Timers still armed: destroy cancels them without calling them. */
	pair_free(c->p);
	free(c);
}

/* ---- the guest model on the runtime ---- */

DUAL_TEST(runtime, guest_model_over_eventfds)
{
	struct echo_pair *p = pair_new(0);
	/* Replace the hand driver with the guest model: a fresh device on its
	 * fakes, attached to the same eventfds. */
	vmedia_runtime_destroy(&p->rt);
	vmedia_device_destroy(&p->dev);
	struct vmedia_guest *g = calloc(1, sizeof(*g));
	DUAL_ASSERT(g);
	struct vmedia_guest_config gc = {
		.config = { .device_caps = V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING },
		.timeout_ms = WAIT_MS,
	};
	DUAL_ASSERT(vmedia_guest_init(g, &gc) == 0);
	struct vq_fake_efd kc, ke;
	DUAL_ASSERT(vq_fake_efd_attach(&kc, &g->cmdq, p->cmd_kick, p->call) == 0);
	DUAL_ASSERT(vq_fake_efd_attach(&ke, &g->eventq, p->ev_kick, p->call) == 0);
	struct vq_queue cq, eq;
	struct vq_queue_config qc;
	vq_fake_queue_config(&g->cmdq, &qc);
	DUAL_ASSERT(vq_queue_init(&cq, &qc) == 0);
	vq_fake_queue_config(&g->eventq, &qc);
	DUAL_ASSERT(vq_queue_init(&eq, &qc) == 0);
	struct vmedia_device_config dc = {
		.ops = &echo_ops, .priv = &p->echo, .commandq = &cq, .eventq = &eq,
		.mem = vmedia_guest_mem(g), .config = gc.config,
	};
	DUAL_ASSERT(vmedia_device_init(&p->dev, &dc) == 0);
	struct vmedia_runtime_config rc = {
		.dev = &p->dev, .cmd_kick_fd = p->cmd_kick, .evq_kick_fd = p->ev_kick,
		.call_fd = p->call,
	};
	DUAL_ASSERT(vmedia_runtime_init(&p->rt, &rc) == 0);
	DUAL_ASSERT(vmedia_runtime_start(&p->rt) == 0);
	uint32_t ids[3];
	for (unsigned s = 0; s < 3; s++) {
		int r = vmedia_guest_open(g, &ids[s]);
		if (r)
			fprintf(stderr, "open %d kicks %lu err %d rt kicks %lu cmds %lu rterr %d\n", r,
				(unsigned long)kc.kicks, kc.kick_error, (unsigned long)p->rt.stats.cmd_kicks,
				(unsigned long)p->rt.stats.commands, vmedia_runtime_error(&p->rt));
		DUAL_ASSERT(r == 0);
	}
	unsigned n = 3000 / RT_SCALE;
	for (unsigned i = 0; i < n; i++) {
		unsigned s = i % 3;
		struct v4l2_format f;
		memset(&f, 0, sizeof(f));
		f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		f.fmt.pix.width = i / 3;
		DUAL_ASSERT(vmedia_guest_ioctl(g, ids[s], VIDIOC_G_FMT, &f) == 0);
		DUAL_ASSERT(f.fmt.pix.height == ((i / 3) ^ ECHO_XOR));
		DUAL_ASSERT(f.fmt.pix.bytesperline == ids[s]);
	}
	for (unsigned s = 0; s < 3; s++)
		DUAL_ASSERT(vmedia_guest_close(g, ids[s]) == 0);
	DUAL_ASSERT(vmedia_guest_poll_events(g) == 0);
	vmedia_runtime_stop(&p->rt);
	DUAL_ASSERT(vmedia_runtime_error(&p->rt) == 0);
	DUAL_ASSERT(p->echo.bad_seq == 0 && p->echo.calls == n && p->echo.closes == 3);
	DUAL_ASSERT(g->stats.timeouts == 0);
	DUAL_ASSERT(kc.kick_error == 0 && kc.kicks > 0);
	vmedia_runtime_destroy(&p->rt);
	vmedia_device_destroy(&p->dev);
	vq_queue_destroy(&cq);
	vq_queue_destroy(&eq);
	vmedia_guest_destroy(g);
	free(g);
	/* echo_pair_destroy without its device (already destroyed). */
	vq_queue_destroy(&p->cmdq);
	vq_queue_destroy(&p->evq);
	vq_fake_destroy(&p->cmdf);
	vq_fake_destroy(&p->evf);
	close(p->cmd_kick);
	close(p->ev_kick);
	close(p->call);
	free(p);
}

/* ---- the simple camera paced by loop timers ---- */

/* What the loop thread sees, read there by a posted function. */
struct cam_snap {
	struct vmedia_runtime *rt;
	struct vmedia_simple *sd;
	uint64_t events_sent;
	uint64_t next_deadline;
	unsigned timers_used;
	int done; /* atomic */
};

static void cam_snap_fn(void *opaque)
{
	struct cam_snap *c = opaque;
	c->events_sent = c->rt->dev->stats.events_sent;
	c->next_deadline = vmedia_simple_next_deadline(c->sd);
	c->timers_used = 0;
	for (unsigned i = 0; i < VMEDIA_RT_ENV_SLOTS; i++)
		c->timers_used += c->rt->env_timers[i].used;
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
}

static void cam_snap_take(struct cam_snap *c)
{
	__atomic_store_n(&c->done, 0, __ATOMIC_RELAXED);
	DUAL_ASSERT(vmedia_runtime_post(c->rt, cam_snap_fn, c) == 0);
	for (unsigned i = 0; i < WAIT_MS && !__atomic_load_n(&c->done, __ATOMIC_ACQUIRE); i++)
		sleep_ms(1);
	DUAL_ASSERT(__atomic_load_n(&c->done, __ATOMIC_ACQUIRE));
}

DUAL_TEST(runtime, simple_camera_paced_by_loop_timers)
{
	int cmd_kick = eventfd(0, EFD_CLOEXEC), ev_kick = eventfd(0, EFD_CLOEXEC);
	int call = eventfd(0, EFD_CLOEXEC);
	DUAL_ASSERT(cmd_kick >= 0 && ev_kick >= 0 && call >= 0);
	struct vmedia_simple *sd = vmedia_simple_new(NULL); /* real-time mode */
	DUAL_ASSERT(sd);
	struct vmedia_shm shm;
	DUAL_ASSERT(vmedia_shm_init_memfd(&shm, 16 << 20) == 0);
	struct vmedia_guest *g = calloc(1, sizeof(*g));
	DUAL_ASSERT(g);
	struct vmedia_guest_config gc = {
		.config = vmedia_simple_config_space(sd),
		.timeout_ms = WAIT_MS,
		.shm = shm.host,
		.shm_size = shm.size,
	};
	DUAL_ASSERT(vmedia_guest_init(g, &gc) == 0);
	struct vq_fake_efd kc, ke;
	DUAL_ASSERT(vq_fake_efd_attach(&kc, &g->cmdq, cmd_kick, call) == 0);
	DUAL_ASSERT(vq_fake_efd_attach(&ke, &g->eventq, ev_kick, call) == 0);
	struct vq_queue cq, eq;
	struct vq_queue_config qc;
	vq_fake_queue_config(&g->cmdq, &qc);
	DUAL_ASSERT(vq_queue_init(&cq, &qc) == 0);
	vq_fake_queue_config(&g->eventq, &qc);
	DUAL_ASSERT(vq_queue_init(&eq, &qc) == 0);
	struct vmedia_device *dev = calloc(1, sizeof(*dev));
	DUAL_ASSERT(dev);
	struct vmedia_device_config dc = {
		.ops = &vmedia_simple_ops, .priv = sd, .commandq = &cq, .eventq = &eq,
		.mem = vmedia_guest_mem(g), .shm = &shm, .config = gc.config,
	};
	DUAL_ASSERT(vmedia_device_init(dev, &dc) == 0);
	struct vmedia_runtime *rt = calloc(1, sizeof(*rt));
	DUAL_ASSERT(rt);
	struct vmedia_runtime_config rc = {
		.dev = dev, .cmd_kick_fd = cmd_kick, .evq_kick_fd = ev_kick, .call_fd = call,
	};
	DUAL_ASSERT(vmedia_runtime_init(rt, &rc) == 0);
	DUAL_ASSERT(dev->env_ops != NULL && dev->env == rt);
	DUAL_ASSERT(vmedia_runtime_start(rt) == 0);

	uint32_t id;
	DUAL_ASSERT(vmedia_guest_open(g, &id) == 0);
	struct v4l2_format f;
	memset(&f, 0, sizeof(f));
	f.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	f.fmt.pix.width = 320;
	f.fmt.pix.height = 240;
	f.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
	DUAL_ASSERT(vmedia_guest_ioctl(g, id, VIDIOC_S_FMT, &f) == 0);
	DUAL_ASSERT(f.fmt.pix.width == 320 && f.fmt.pix.height == 240);
	struct v4l2_streamparm sp;
	memset(&sp, 0, sizeof(sp));
	sp.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	sp.parm.capture.timeperframe.numerator = 1;
	sp.parm.capture.timeperframe.denominator = 60;
	DUAL_ASSERT(vmedia_guest_ioctl(g, id, VIDIOC_S_PARM, &sp) == 0);
	struct v4l2_requestbuffers rb;
	memset(&rb, 0, sizeof(rb));
	rb.count = 4;
	rb.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	rb.memory = V4L2_MEMORY_MMAP;
	DUAL_ASSERT(vmedia_guest_ioctl(g, id, VIDIOC_REQBUFS, &rb) == 0);
	DUAL_ASSERT(rb.count == 4);
	for (uint32_t i = 0; i < 4; i++) {
		struct v4l2_buffer qb = { .index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = V4L2_MEMORY_MMAP };
		DUAL_ASSERT(vmedia_guest_ioctl(g, id, VIDIOC_QBUF, &qb) == 0);
	}
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	DUAL_ASSERT(vmedia_guest_ioctl(g, id, VIDIOC_STREAMON, &type) == 0);

	/* Frames arrive with nobody calling vmedia_simple_tick(). */
	uint64_t deadline = vql_now_ns() + (uint64_t)WAIT_MS * 1000000u;
	uint32_t got = 0, last_seq = 0;
	uint64_t last_us = 0;
	while (got < 10) {
		struct v4l2_buffer b;
		memset(&b, 0, sizeof(b));
		b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		b.memory = V4L2_MEMORY_MMAP;
		int r = vmedia_guest_dqbuf(g, id, &b);
		if (r == -EAGAIN) {
			DUAL_ASSERT(vql_now_ns() < deadline);
			sleep_ms(1);
			continue;
		}
		DUAL_ASSERT(r == 0);
		DUAL_ASSERT(!(b.flags & V4L2_BUF_FLAG_ERROR));
		DUAL_ASSERT(b.bytesused == f.fmt.pix.sizeimage);
		uint64_t us = (uint64_t)b.timestamp.tv_sec * 1000000u + (uint64_t)b.timestamp.tv_usec;
		if (got) {
			DUAL_ASSERT(b.sequence == last_seq + 1);
			DUAL_ASSERT(us > last_us);
		} else {
			DUAL_ASSERT(b.sequence == 0);
		}
		last_seq = b.sequence;
		last_us = us;
		got++;
		struct v4l2_buffer qb = { .index = b.index, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = V4L2_MEMORY_MMAP };
		DUAL_ASSERT(vmedia_guest_ioctl(g, id, VIDIOC_QBUF, &qb) == 0);
	}
	struct cam_snap c = { .rt = rt, .sd = sd };
	cam_snap_take(&c);
	DUAL_ASSERT(c.timers_used == 1 && c.next_deadline != 0);

	/* STREAMOFF cancels the timer: nothing more is produced. */
	DUAL_ASSERT(vmedia_guest_ioctl(g, id, VIDIOC_STREAMOFF, &type) == 0);
	cam_snap_take(&c);
	DUAL_ASSERT(c.timers_used == 0 && c.next_deadline == 0);
	uint64_t sent = c.events_sent;
	sleep_ms(100); /* six intervals at 1/60 s */
	cam_snap_take(&c);
	DUAL_ASSERT(c.events_sent == sent);
	DUAL_ASSERT(c.timers_used == 0);
	DUAL_ASSERT(vmedia_guest_pending_dqbufs(g, id, V4L2_BUF_TYPE_VIDEO_CAPTURE) == 0);

	rb.count = 0;
	DUAL_ASSERT(vmedia_guest_ioctl(g, id, VIDIOC_REQBUFS, &rb) == 0);
	DUAL_ASSERT(vmedia_guest_close(g, id) == 0);
	vmedia_runtime_stop(rt);
	DUAL_ASSERT(vmedia_runtime_error(rt) == 0);
	DUAL_ASSERT(g->stats.timeouts == 0);
	vmedia_runtime_destroy(rt);
	DUAL_ASSERT(dev->env_ops == NULL);
	vmedia_device_destroy(dev);
	vmedia_simple_free(sd);
	vq_queue_destroy(&cq);
	vq_queue_destroy(&eq);
	vmedia_guest_destroy(g);
	vmedia_shm_destroy(&shm);
	free(rt);
	free(dev);
	free(g);
	close(cmd_kick);
	close(ev_kick);
	close(call);
}

