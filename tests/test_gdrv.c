/* SPDX-License-Identifier: MIT */
/*
 * The userspace guest driver behind the libv4l2 plugin and the LD_PRELOAD
 * shim (tests/plugin/gdrv.h), called directly: which files it claims, the
 * V4L2-core parts it adds (unknown ioctl numbers, NULL arguments,
 * priorities, DQBUF that waits, read() I/O), and the simple camera through
 * it in real time, with buffers mapped from the file itself; and the
 * LD_PRELOAD shim's poll-only mode.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/videodev2.h>

#include "gdrv.h"

static char DIR_[64];
static char PATH_[128];

static int open_file(const char *name)
{
	snprintf(PATH_, sizeof(PATH_), "%s/%s", DIR_, name);
	int fd = open(PATH_, O_RDWR | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	return fd;
}

static void setup(void)
{
	strcpy(DIR_, "/tmp/vqgdrv.XXXXXX");
	cr_assert_not_null(mkdtemp(DIR_));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", DIR_);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(gdrv, .init = setup, .fini = teardown, .timeout = 30);

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- claiming ---- */

Test(gdrv, claims_only_vqmedia_files_naming_a_known_device)
{
	int a = open_file("cam.simple.vqmedia"), b = open_file("simple.vqmedia");
	int c = open_file("video0.txt"), d = open_file("x.nosuch.vqmedia");
	struct gdrv_fd *fa = gdrv_claim(a), *fb = gdrv_claim(b);
	cr_expect_not_null(fa);
	cr_expect_not_null(fb);
	cr_expect_null(gdrv_claim(c));
	cr_expect_null(gdrv_claim(d));
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_expect_null(gdrv_claim(p[0]), "not a regular file");
	gdrv_release(fa);
	gdrv_release(fb);
	struct stat st;
	cr_assert_eq(fstat(a, &st), 0);
	cr_expect_geq(st.st_size, 1 << 20, "the file became the MMAP backing");
}

Test(gdrv, the_core_answers_unknown_numbers_null_args_and_querycap)
{
	struct gdrv_fd *f = gdrv_claim(open_file("v.simple.vqmedia"));
	cr_assert_not_null(f);
	char junk[3];
	cr_expect_eq(gdrv_ioctl(f, _IOWR('V', 0, char[3]), junk), -ENOTTY, "QUERYCAP nr, wrong size");
	cr_expect_eq(gdrv_ioctl(f, _IOR('X', 1, int), junk), -ENOTTY);
	cr_expect_eq(gdrv_ioctl(f, _IOWR('V', 0, char[3]), NULL), -ENOTTY, "ENOTTY before EFAULT");
	cr_expect_eq(gdrv_ioctl(f, VIDIOC_G_FMT, NULL), -EFAULT);
	cr_expect_eq(gdrv_ioctl(f, VIDIOC_LOG_STATUS, NULL), -ENOTTY, "the device has none");
	struct v4l2_capability cap;
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_QUERYCAP, &cap), 0);
	cr_expect_str_eq((const char *)cap.card, "vqmedia simple camera");
	cr_expect(cap.device_caps & V4L2_CAP_VIDEO_CAPTURE);
	/* The upper half of the number is ignored, as the kernel does. */
	struct v4l2_format fmt = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_expect_eq(gdrv_ioctl(f, VIDIOC_G_FMT | 0xffffffff00000000ul, &fmt), 0);
	cr_expect_eq(fmt.fmt.pix.width, 640);
	gdrv_release(f);
}

Test(gdrv, fds_of_one_file_share_a_device_and_its_priorities)
{
	struct gdrv_fd *a = gdrv_claim(open_file("p.simple.vqmedia"));
	struct gdrv_fd *b = gdrv_claim(open(PATH_, O_RDWR));
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	uint32_t prio = 0;
	cr_assert_eq(gdrv_ioctl(b, VIDIOC_G_PRIORITY, &prio), 0);
	cr_expect_eq(prio, V4L2_PRIORITY_DEFAULT);
	prio = V4L2_PRIORITY_RECORD;
	cr_assert_eq(gdrv_ioctl(a, VIDIOC_S_PRIORITY, &prio), 0);
	cr_assert_eq(gdrv_ioctl(b, VIDIOC_G_PRIORITY, &prio), 0);
	cr_expect_eq(prio, V4L2_PRIORITY_RECORD);
	struct v4l2_format fmt = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	fmt.fmt.pix.pixelformat = V4L2_PIX_FMT_NV12;
	fmt.fmt.pix.width = 320;
	fmt.fmt.pix.height = 240;
	cr_expect_eq(gdrv_ioctl(b, VIDIOC_S_FMT, &fmt), -EBUSY, "below the highest priority");
	prio = V4L2_PRIORITY_INTERACTIVE;
	cr_expect_eq(gdrv_ioctl(b, VIDIOC_S_PRIORITY, &prio), -EBUSY);
	prio = 7;
	cr_expect_eq(gdrv_ioctl(a, VIDIOC_S_PRIORITY, &prio), -EINVAL);
	cr_expect_eq(gdrv_ioctl(a, VIDIOC_S_FMT, &fmt), 0);
	struct v4l2_format g = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_assert_eq(gdrv_ioctl(b, VIDIOC_G_FMT, &g), 0);
	cr_expect_eq(g.fmt.pix.pixelformat, V4L2_PIX_FMT_NV12, "one device behind both");
	gdrv_release(a);
	cr_assert_eq(gdrv_ioctl(b, VIDIOC_G_PRIORITY, &prio), 0);
	cr_expect_eq(prio, V4L2_PRIORITY_DEFAULT, "the RECORD fd is gone");
	cr_expect_eq(gdrv_ioctl(b, VIDIOC_S_FMT, &fmt), 0);
	gdrv_release(b);
}

/* ---- streaming in real time ---- */

struct cam {
	int fd;
	struct gdrv_fd *f;
	void *map[2];
	uint32_t len;
};

static void start(struct cam *c, const char *name)
{
	c->fd = open_file(name);
	c->f = gdrv_claim(c->fd);
	cr_assert_not_null(c->f);
	struct v4l2_requestbuffers rb = { .count = 2, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(gdrv_ioctl(c->f, VIDIOC_REQBUFS, &rb), 0);
	for (uint32_t i = 0; i < 2; i++) {
		struct v4l2_buffer b = { .index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_MMAP };
		cr_assert_eq(gdrv_ioctl(c->f, VIDIOC_QUERYBUF, &b), 0);
		cr_assert_eq(gdrv_mmap(c->f, NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED,
				       b.m.offset, &c->map[i]), 0);
		c->len = b.length;
		cr_assert_eq(gdrv_ioctl(c->f, VIDIOC_QBUF, &b), 0);
	}
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	cr_assert_eq(gdrv_ioctl(c->f, VIDIOC_STREAMON, &type), 0);
}

static int dq(struct cam *c, struct v4l2_buffer *b)
{
	memset(b, 0, sizeof(*b));
	b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b->memory = V4L2_MEMORY_MMAP;
	return gdrv_ioctl(c->f, VIDIOC_DQBUF, b);
}

Test(gdrv, blocking_dqbuf_waits_for_each_frame_at_the_frame_rate)
{
	struct cam c;
	start(&c, "rt.simple.vqmedia");
	uint64_t t0 = now_ms();
	struct v4l2_buffer b;
	for (uint32_t k = 0; k < 7; k++) {
		cr_assert_eq(dq(&c, &b), 0);
		cr_expect_eq(b.sequence, k);
		/* The frame is in the mapping of the file: the white bar. */
		cr_expect_eq(((uint8_t *)c.map[b.index])[2 * 4 * 640], 235);
		cr_assert_eq(gdrv_ioctl(c.f, VIDIOC_QBUF, &b), 0);
	}
	/* A lower bound only: a slow machine cannot fail it, a device that
	 * does not pace its frames does. */
	uint64_t ms = now_ms() - t0;
	cr_expect_geq(ms, 6 * 1000 / 30 - 5, "7 frames at 30/s take 6 intervals (%lu ms)",
		      (unsigned long)ms);
	for (int i = 0; i < 2; i++)
		cr_expect_eq(gdrv_munmap(c.map[i], c.len), 1);
	gdrv_release(c.f);
}

Test(gdrv, nonblocking_dqbuf_and_poll)
{
	struct cam c;
	start(&c, "nb.simple.vqmedia");
	struct v4l2_buffer b;
	cr_assert_eq(dq(&c, &b), 0, "the first frame is due at STREAMON");
	cr_assert_eq(fcntl(c.fd, F_SETFL, O_NONBLOCK), 0);
	cr_expect_eq(dq(&c, &b), -EAGAIN, "the next one is 1/30 s away");
	uint64_t t0 = now_ms();
	short rev = 0;
	while (!(rev & POLLIN) && now_ms() - t0 < 1000)
		rev = gdrv_poll(c.f, POLLIN, NULL);
	cr_expect(rev & POLLIN);
	cr_expect_eq(dq(&c, &b), 0);
	cr_expect_eq(gdrv_munmap(&c, 1), 0, "not a mapping of ours");
	gdrv_release(c.f);
	for (int i = 0; i < 2; i++)
		cr_expect_eq(gdrv_munmap(c.map[i], c.len), 1, "mappings outlive the fd");
}

Test(gdrv, dqbuf_without_streaming_is_einval_not_a_hang)
{
	struct gdrv_fd *f = gdrv_claim(open_file("ns.simple.vqmedia"));
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP };
	cr_expect_eq(gdrv_ioctl(f, VIDIOC_DQBUF, &b), -EINVAL);
	gdrv_release(f);
}

Test(gdrv, mmap_of_an_offset_that_is_no_buffer_fails)
{
	struct gdrv_fd *f = gdrv_claim(open_file("mm.simple.vqmedia"));
	void *p;
	cr_expect_eq(gdrv_mmap(f, NULL, 4096, PROT_READ, MAP_SHARED, 0, &p), -EINVAL);
	cr_expect_eq(gdrv_mmap(f, NULL, 4096, PROT_READ, MAP_SHARED, -1, &p), -EINVAL);
	gdrv_release(f);
}

Test(gdrv, userptr_to_nowhere_is_efault)
{
	struct gdrv_fd *f = gdrv_claim(open_file("up.simple.vqmedia"));
	struct v4l2_requestbuffers rb = { .count = 1, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = V4L2_MEMORY_USERPTR };
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_REQBUFS, &rb), 0);
	struct v4l2_buffer b = { .index = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_USERPTR, .length = 640 * 480 * 2 };
	b.m.userptr = 0x0eadb000;
	cr_expect_eq(gdrv_ioctl(f, VIDIOC_QBUF, &b), -EFAULT);
	uint8_t *mem = malloc(640 * 480 * 2);
	b.m.userptr = (unsigned long)mem;
	cr_expect_eq(gdrv_ioctl(f, VIDIOC_PREPARE_BUF, &b), 0);
	struct v4l2_buffer q = { .index = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_USERPTR };
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_QUERYBUF, &q), 0);
	cr_expect_eq(q.m.userptr, (unsigned long)mem, "QUERYBUF reports the prepared pointer");
	gdrv_release(f);
	free(mem);
}

Test(gdrv, a_control_event_makes_poll_report_pollpri)
{
	struct gdrv_fd *a = gdrv_claim(open_file("ev.simple.vqmedia"));
	struct gdrv_fd *b = gdrv_claim(open(PATH_, O_RDWR));
	struct v4l2_event_subscription s = { .type = V4L2_EVENT_CTRL, .id = V4L2_CID_HUE };
	cr_assert_eq(gdrv_ioctl(b, VIDIOC_SUBSCRIBE_EVENT, &s), 0);
	cr_expect_eq(gdrv_poll(b, POLLPRI, NULL) & POLLPRI, 0);
	struct v4l2_control c = { .id = V4L2_CID_HUE, .value = 90 };
	cr_assert_eq(gdrv_ioctl(a, VIDIOC_S_CTRL, &c), 0);
	cr_expect(gdrv_poll(b, POLLPRI, NULL) & POLLPRI);
	struct v4l2_event ev;
	cr_assert_eq(gdrv_ioctl(b, VIDIOC_DQEVENT, &ev), 0);
	cr_expect_eq(ev.u.ctrl.value, 90);
	gdrv_release(a);
	gdrv_release(b);
}

struct later_ctrl {
	struct gdrv_fd *f;
	int value;
};

static void *set_ctrl_later(void *arg)
{
	struct later_ctrl *l = arg;
	usleep(100 * 1000);
	struct v4l2_control c = { .id = V4L2_CID_HUE, .value = l->value };
	gdrv_ioctl(l->f, VIDIOC_S_CTRL, &c);
	return NULL;
}

/* v4l2_event_dequeue()'s rule: DQEVENT waits on a blocking fd until an
 * event is pending (another fd's S_CTRL here, 100 ms later), and says
 * ENOENT at once on an O_NONBLOCK one. */
Test(gdrv, dqevent_waits_unless_nonblocking)
{
	struct gdrv_fd *a = gdrv_claim(open_file("dqev.simple.vqmedia"));
	int fb = open(PATH_, O_RDWR);
	struct gdrv_fd *b = gdrv_claim(fb);
	struct v4l2_event_subscription s = { .type = V4L2_EVENT_CTRL, .id = V4L2_CID_HUE };
	cr_assert_eq(gdrv_ioctl(b, VIDIOC_SUBSCRIBE_EVENT, &s), 0);
	struct v4l2_event ev;
	fcntl(fb, F_SETFL, O_NONBLOCK);
	cr_expect_eq(gdrv_ioctl(b, VIDIOC_DQEVENT, &ev), -ENOENT);
	fcntl(fb, F_SETFL, 0);
	struct later_ctrl l = { a, 77 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, set_ctrl_later, &l), 0);
	cr_expect_eq(gdrv_ioctl(b, VIDIOC_DQEVENT, &ev), 0, "it waited for the event");
	cr_expect_eq(ev.u.ctrl.value, 77);
	pthread_join(t, NULL);
	gdrv_release(a);
	gdrv_release(b);
}

/* ---- read() I/O ---- */

#define FRAME_BYTES (640 * 480 * 2) /* the default: 640x480 YUYV */

Test(gdrv, read_io_is_announced_and_returns_frames)
{
	struct gdrv_fd *f = gdrv_claim(open_file("rd.simple.vqmedia"));
	cr_assert_not_null(f);
	struct v4l2_capability cap;
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_QUERYCAP, &cap), 0);
	cr_expect(cap.device_caps & V4L2_CAP_READWRITE);
	cr_expect(cap.capabilities & V4L2_CAP_READWRITE);
	struct v4l2_streamparm parm = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_G_PARM, &parm), 0);
	cr_expect_gt(parm.parm.capture.readbuffers, 0, "read() I/O has buffers");

	uint8_t *buf = malloc(FRAME_BYTES + 100);
	for (int k = 0; k < 3; k++) {
		memset(buf, 0, FRAME_BYTES);
		cr_assert_eq(gdrv_read(f, buf, FRAME_BYTES + 100), FRAME_BYTES,
			     "one frame per read, however much is asked");
		cr_expect_eq(buf[2 * 4 * 640], 235, "the white bar, bottom rows");
		cr_expect_eq(buf[FRAME_BYTES - 2], 16, "the black bar's luma, last pixel");
	}
	/* A short read leaves the rest of the frame for the next one. */
	cr_assert_eq(gdrv_read(f, buf, 10), 10);
	cr_assert_eq(gdrv_read(f, buf + 10, FRAME_BYTES), FRAME_BYTES - 10);
	cr_expect_eq(buf[FRAME_BYTES - 2], 16);
	cr_expect_eq(gdrv_read(f, buf, 0), 0);
	free(buf);
	gdrv_release(f);
}

Test(gdrv, nonblocking_read_is_eagain_until_the_next_frame)
{
	int fd = open_file("rnb.simple.vqmedia");
	struct gdrv_fd *f = gdrv_claim(fd);
	cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	uint8_t *buf = malloc(FRAME_BYTES);
	cr_expect_eq(gdrv_read(f, buf, FRAME_BYTES), FRAME_BYTES, "due at the start");
	cr_expect_eq(gdrv_read(f, buf, FRAME_BYTES), -EAGAIN, "1/30 s away");
	uint64_t t0 = now_ms();
	ssize_t r = -EAGAIN;
	while (r == -EAGAIN && now_ms() - t0 < 1000)
		r = gdrv_read(f, buf, FRAME_BYTES);
	cr_expect_eq(r, FRAME_BYTES);
	free(buf);
	gdrv_release(f);
}

Test(gdrv, read_is_ebusy_while_the_application_has_buffers)
{
	struct gdrv_fd *a = gdrv_claim(open_file("rb.simple.vqmedia"));
	struct gdrv_fd *b = gdrv_claim(open(PATH_, O_RDWR));
	struct v4l2_requestbuffers rb = { .count = 1, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(gdrv_ioctl(a, VIDIOC_REQBUFS, &rb), 0);
	char c;
	cr_expect_eq(gdrv_read(a, &c, 1), -EBUSY, "its own buffers");
	cr_expect_eq(gdrv_read(b, &c, 1), -EBUSY, "another fd's buffers");
	rb.count = 0;
	cr_assert_eq(gdrv_ioctl(a, VIDIOC_REQBUFS, &rb), 0);
	cr_expect_eq(gdrv_read(b, &c, 1), 1, "free again");
	gdrv_release(a);
	gdrv_release(b);
}

Test(gdrv, while_read_owns_the_queue_buffer_ioctls_are_ebusy)
{
	struct gdrv_fd *a = gdrv_claim(open_file("ro.simple.vqmedia"));
	struct gdrv_fd *b = gdrv_claim(open(PATH_, O_RDWR));
	char c;
	cr_assert_eq(gdrv_read(a, &c, 1), 1);
	cr_expect_eq(gdrv_read(b, &c, 1), -EBUSY, "another fd reads");
	struct gdrv_fd *both[] = { a, b };
	for (int i = 0; i < 2; i++) {
		struct gdrv_fd *f = both[i];
		struct v4l2_requestbuffers rb = { .count = 2, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
						  .memory = V4L2_MEMORY_MMAP };
		cr_expect_eq(gdrv_ioctl(f, VIDIOC_REQBUFS, &rb), -EBUSY, "fd %d", i);
		rb.count = 0;
		cr_expect_eq(gdrv_ioctl(f, VIDIOC_REQBUFS, &rb), -EBUSY, "fd %d", i);
		struct v4l2_create_buffers cb = { .count = 1, .memory = V4L2_MEMORY_MMAP };
		cb.format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		cr_expect_eq(gdrv_ioctl(f, VIDIOC_G_FMT, &cb.format), 0);
		cr_expect_eq(gdrv_ioctl(f, VIDIOC_CREATE_BUFS, &cb), -EBUSY, "fd %d", i);
		struct v4l2_buffer buf = { .index = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					   .memory = V4L2_MEMORY_MMAP };
		cr_expect_eq(gdrv_ioctl(f, VIDIOC_QBUF, &buf), -EBUSY, "fd %d", i);
		cr_expect_eq(gdrv_ioctl(f, VIDIOC_DQBUF, &buf), -EBUSY, "fd %d", i);
		int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		cr_expect_eq(gdrv_ioctl(f, VIDIOC_STREAMON, &type), -EBUSY, "fd %d", i);
		cr_expect_eq(gdrv_ioctl(f, VIDIOC_STREAMOFF, &type), -EBUSY, "fd %d", i);
		struct v4l2_format fmt = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
		cr_assert_eq(gdrv_ioctl(f, VIDIOC_G_FMT, &fmt), 0);
		fmt.fmt.pix.width = 320;
		fmt.fmt.pix.height = 240;
		cr_expect_eq(gdrv_ioctl(f, VIDIOC_S_FMT, &fmt), -EBUSY, "fd %d: buffers exist", i);
	}
	/* Reading goes on meanwhile. */
	uint8_t *buf = malloc(FRAME_BYTES);
	cr_expect_eq(gdrv_read(a, buf, FRAME_BYTES), FRAME_BYTES - 1, "the rest of the frame");
	cr_expect_eq(gdrv_read(a, buf, FRAME_BYTES), FRAME_BYTES);
	free(buf);
	gdrv_release(a);
	gdrv_release(b);
}

Test(gdrv, closing_the_reader_mid_frame_frees_the_queue)
{
	struct gdrv_fd *a = gdrv_claim(open_file("rc.simple.vqmedia"));
	struct gdrv_fd *b = gdrv_claim(open(PATH_, O_RDWR));
	char c[16];
	cr_assert_eq(gdrv_read(a, c, sizeof(c)), (ssize_t)sizeof(c), "part of a frame");
	gdrv_release(a);
	/* The other fd may stream with buffers of its own now... */
	struct v4l2_requestbuffers rb = { .count = 2, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					  .memory = V4L2_MEMORY_MMAP };
	cr_expect_eq(gdrv_ioctl(b, VIDIOC_REQBUFS, &rb), 0);
	rb.count = 0;
	cr_expect_eq(gdrv_ioctl(b, VIDIOC_REQBUFS, &rb), 0);
	/* ...or read, from a frame's first byte. */
	uint8_t *buf = malloc(FRAME_BYTES);
	cr_expect_eq(gdrv_read(b, buf, FRAME_BYTES), FRAME_BYTES);
	free(buf);
	gdrv_release(b);
}

/* ---- the shim's poll-only mode ---- */

typedef short (*poll_fn)(void *priv, short events, uint64_t *next_ns, int *wake_fd);
struct shim {
	void *so;
	int (*reg)(int fd, void *priv, poll_fn poll);
	void (*unreg)(int fd);
	int (*poll)(struct pollfd *p, nfds_t n, int timeout);
	int (*select)(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv);
	int (*ioctl)(int fd, unsigned long request, ...);
	ssize_t (*read)(int fd, void *buf, size_t n);
	int (*epoll_ctl)(int epfd, int op, int fd, struct epoll_event *ev);
	int (*epoll_wait)(int epfd, struct epoll_event *out, int max, int timeout);
};

/* The shim's own entry points, called by name: loaded locally, it
 * interposes nothing in this process, and only what it does is seen. */
static void shim_load(struct shim *s, const char *mode)
{
	cr_assert_eq(setenv("VQMEDIA_PRELOAD", mode, 1), 0);
	s->so = dlopen(VQMEDIA_PRELOAD_SO, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(s->so, "%s", dlerror());
	*(void **)&s->reg = dlsym(s->so, "vqmedia_preload_register_poll");
	*(void **)&s->unreg = dlsym(s->so, "vqmedia_preload_unregister_poll");
	*(void **)&s->poll = dlsym(s->so, "poll");
	*(void **)&s->select = dlsym(s->so, "select");
	*(void **)&s->ioctl = dlsym(s->so, "ioctl");
	*(void **)&s->read = dlsym(s->so, "read");
	*(void **)&s->epoll_ctl = dlsym(s->so, "epoll_ctl");
	*(void **)&s->epoll_wait = dlsym(s->so, "epoll_wait");
	cr_assert(s->reg && s->unreg && s->poll && s->select && s->ioctl && s->read &&
		  s->epoll_ctl && s->epoll_wait);
}

static short test_poll(void *priv, short events, uint64_t *next_ns, int *wake_fd)
{
	*wake_fd = gdrv_wake_fd(priv);
	return gdrv_poll(priv, events, next_ns);
}

static bool select_ex(struct shim *s, int fd)
{
	fd_set ex;
	FD_ZERO(&ex);
	FD_SET(fd, &ex);
	struct timeval tv = { 0, 0 };
	int r = s->select(fd + 1, NULL, NULL, &ex, &tv);
	cr_assert_geq(r, 0);
	return r == 1 && FD_ISSET(fd, &ex);
}

Test(gdrv, poll_only_shim_answers_poll_and_select_for_registered_fds_only)
{
	struct shim s;
	shim_load(&s, "poll-only");
	int fa = open_file("po.simple.vqmedia"), fb = open(PATH_, O_RDWR);
	struct gdrv_fd *a = gdrv_claim(fa), *b = gdrv_claim(fb);
	struct v4l2_event_subscription sub = { .type = V4L2_EVENT_CTRL, .id = V4L2_CID_HUE };
	cr_assert_eq(gdrv_ioctl(b, VIDIOC_SUBSCRIBE_EVENT, &sub), 0);
	struct v4l2_event ev;
	fcntl(fb, F_SETFL, O_NONBLOCK); /* a blocking DQEVENT would wait */
	while (gdrv_ioctl(b, VIDIOC_DQEVENT, &ev) == 0)
		; /* the subscription's initial event, if any */
	struct v4l2_control ctl = { .id = V4L2_CID_HUE, .value = 45 };
	cr_assert_eq(gdrv_ioctl(a, VIDIOC_S_CTRL, &ctl), 0);

	/* Not registered: the plain file, which has no exceptional condition. */
	cr_expect_not(select_ex(&s, fb));
	cr_assert_eq(s.reg(fb, b, test_poll), 0);
	cr_expect(select_ex(&s, fb), "select() asks the driver: an event is pending");
	struct pollfd p = { .fd = fb, .events = POLLPRI };
	cr_expect_eq(s.poll(&p, 1, 0), 1);
	cr_expect(p.revents & POLLPRI);
	cr_assert_eq(gdrv_ioctl(b, VIDIOC_DQEVENT, &ev), 0);
	cr_expect_eq(ev.u.ctrl.value, 45);
	cr_expect_not(select_ex(&s, fb), "nothing pending any more");

	/* Everything else is the kernel's (libv4l2 hands it to the plugin):
	 * the shim claims nothing, so ioctl on the file is ENOTTY and read
	 * reads the file. */
	struct v4l2_capability cap;
	errno = 0;
	cr_expect_eq(s.ioctl(fa, VIDIOC_QUERYCAP, &cap), -1);
	cr_expect_eq(errno, ENOTTY);
	errno = 0;
	cr_expect_eq(s.ioctl(fb, VIDIOC_QUERYCAP, &cap), -1, "registered, still not claimed");
	cr_expect_eq(errno, ENOTTY);
	char byte;
	cr_expect_eq(lseek(fb, 0, SEEK_SET), 0);
	cr_expect_eq(s.read(fb, &byte, 1), 1, "the file's own first byte");

	cr_assert_eq(gdrv_ioctl(a, VIDIOC_S_CTRL, &(struct v4l2_control){ V4L2_CID_HUE, 50 }), 0);
	s.unreg(fb);
	cr_expect_not(select_ex(&s, fb), "unregistered: the plain file again");
	gdrv_release(a);
	gdrv_release(b);
	dlclose(s.so);
}

/* epoll on a driver's fd answers as the kernel's v4l2 poll would (a
 * regular file cannot be in an epoll set): EPOLLPRI while an event is
 * pending, with the caller's data; the set's other fds stay the kernel's;
 * EPOLL_CTL_DEL and ADD twice as the kernel says. */
Test(gdrv, epoll_asks_the_driver_for_its_fds)
{
	struct shim s;
	shim_load(&s, "poll-only");
	int fa = open_file("ep.simple.vqmedia"), fb = open(PATH_, O_RDWR);
	struct gdrv_fd *a = gdrv_claim(fa), *b = gdrv_claim(fb);
	fcntl(fb, F_SETFL, O_NONBLOCK);
	struct v4l2_event_subscription sub = { .type = V4L2_EVENT_CTRL, .id = V4L2_CID_HUE };
	cr_assert_eq(gdrv_ioctl(b, VIDIOC_SUBSCRIBE_EVENT, &sub), 0);
	struct v4l2_event ev;
	while (gdrv_ioctl(b, VIDIOC_DQEVENT, &ev) == 0)
		;
	cr_assert_eq(s.reg(fb, b, test_poll), 0);
	int ep = epoll_create1(EPOLL_CLOEXEC), efd = eventfd(0, EFD_CLOEXEC);
	struct epoll_event e = { .events = EPOLLPRI, .data.u64 = 0xfeed };
	cr_assert_eq(s.epoll_ctl(ep, EPOLL_CTL_ADD, fb, &e), 0);
	errno = 0;
	cr_expect_eq(s.epoll_ctl(ep, EPOLL_CTL_ADD, fb, &e), -1);
	cr_expect_eq(errno, EEXIST);
	struct epoll_event k = { .events = EPOLLIN, .data.u64 = 0xbeef };
	cr_assert_eq(s.epoll_ctl(ep, EPOLL_CTL_ADD, efd, &k), 0);
	struct epoll_event out[4];
	cr_expect_eq(s.epoll_wait(ep, out, 4, 0), 0, "nothing pending, nothing ready");

	cr_assert_eq(gdrv_ioctl(a, VIDIOC_S_CTRL, &(struct v4l2_control){ V4L2_CID_HUE, 33 }), 0);
	cr_assert_eq(s.epoll_wait(ep, out, 4, 1000), 1);
	cr_expect(out[0].events & EPOLLPRI);
	cr_expect_eq(out[0].data.u64, 0xfeed);
	uint64_t one = 1;
	cr_assert_eq(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
	cr_assert_eq(s.epoll_wait(ep, out, 4, 0), 2, "the driver's fd and the kernel's");
	cr_expect_eq(out[1].data.u64, 0xbeef);
	cr_assert_eq(gdrv_ioctl(b, VIDIOC_DQEVENT, &ev), 0);
	cr_expect_eq(ev.u.ctrl.value, 33);

	cr_assert_eq(gdrv_ioctl(a, VIDIOC_S_CTRL, &(struct v4l2_control){ V4L2_CID_HUE, 34 }), 0);
	cr_assert_eq(s.epoll_ctl(ep, EPOLL_CTL_DEL, fb, NULL), 0);
	cr_expect_eq(s.epoll_wait(ep, out, 4, 0), 1, "deleted: only the kernel's fd");
	cr_expect_eq(out[0].data.u64, 0xbeef);
	errno = 0;
	cr_expect_eq(s.epoll_ctl(ep, EPOLL_CTL_DEL, fb, NULL), -1);
	cr_expect_eq(errno, ENOENT);
	s.unreg(fb);
	close(efd);
	close(ep);
	gdrv_release(a);
	gdrv_release(b);
	dlclose(s.so);
}

Test(gdrv, the_full_shim_refuses_registrations)
{
	struct shim s;
	shim_load(&s, "");
	int fd = open_file("pf.simple.vqmedia");
	struct gdrv_fd *f = gdrv_claim(fd);
	cr_expect_eq(s.reg(fd, f, test_poll), -1, "it claims fds itself");
	struct v4l2_capability cap;
	cr_expect_eq(s.ioctl(fd, VIDIOC_QUERYCAP, &cap), 0, "claimed at its first ioctl");
	cr_expect(cap.device_caps & V4L2_CAP_READWRITE);
	gdrv_release(f);
	int (*shim_close)(int) = NULL;
	*(void **)&shim_close = dlsym(s.so, "close");
	cr_assert_not_null(shim_close);
	cr_expect_eq(shim_close(fd), 0, "its own claim released with the fd");
	dlclose(s.so);
}

Test(gdrv, registering_a_fresh_fd_closes_nothing_else)
{
	/* A slot the shim never used is all zeros: its stand-in pollfd must
	 * not be taken for fd 0 and closed (it was: ffmpeg then lost the fd
	 * it opened next, as open() hands out 0 first). */
	struct shim s;
	shim_load(&s, "poll-only");
	int keep = open("/dev/null", O_RDONLY);
	cr_assert_geq(keep, 0);
	cr_assert_eq(dup2(keep, 0), 0);
	int fd = open_file("fresh.simple.vqmedia");
	struct gdrv_fd *f = gdrv_claim(fd);
	cr_assert_not_null(f);
	cr_assert_eq(s.reg(fd, f, test_poll), 0);
	cr_expect_geq(fcntl(0, F_GETFD), 0, "fd 0 survives a registration");
	s.unreg(fd);
	s.unreg(fd + 1); /* never registered */
	cr_expect_geq(fcntl(0, F_GETFD), 0, "fd 0 survives unregistrations");
	gdrv_release(f);
	dlclose(s.so);
}

/* ---- the decoder: an asynchronous M2M device (built with libavcodec) ---- */
#ifdef GDRV_HAVE_DECODER

#define OUT_MP V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE
#define CAP_MP V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
#define DEC_WAIT_MS 20000 /* bounds a wait that should end: sanitizer builds are slow */

/* A few H.264 frames, made by ffmpeg; returns its size, *data to free. */
static size_t h264_stream(uint8_t **data)
{
	char cmd[512], path[128];
	snprintf(path, sizeof(path), "%s/t.h264", DIR_);
	snprintf(cmd, sizeof(cmd),
		 "ffmpeg -nostdin -loglevel error -f lavfi -i testsrc2=size=64x48:rate=30 "
		 "-frames:v 5 -pix_fmt yuv420p -c:v libx264 -bf 0 %s",
		 path);
	cr_assert_eq(system(cmd), 0, "ffmpeg (with libx264) is needed: %s", cmd);
	FILE *fp = fopen(path, "rb");
	cr_assert_not_null(fp);
	*data = malloc(1 << 20);
	size_t n = fread(*data, 1, 1 << 20, fp);
	fclose(fp);
	cr_assert_gt(n, 0);
	return n;
}

static int mp_buf(struct gdrv_fd *f, unsigned long req, uint32_t type, uint32_t index,
		  struct v4l2_buffer *b, struct v4l2_plane *pl, uint32_t used)
{
	memset(b, 0, sizeof(*b));
	memset(pl, 0, sizeof(*pl));
	b->type = type;
	b->index = index;
	b->memory = V4L2_MEMORY_MMAP;
	b->length = 1;
	b->m.planes = pl;
	pl->bytesused = used;
	return gdrv_ioctl(f, req, b);
}

/* gdrv_poll until @want shows up, waiting on the wake fd in between as
 * the shim does; returns the last revents. */
static short poll_until(struct gdrv_fd *f, short events, short want)
{
	uint64_t end = now_ms() + DEC_WAIT_MS;
	short rev;
	while (!((rev = gdrv_poll(f, events, NULL)) & want) && now_ms() < end) {
		struct pollfd p = { .fd = gdrv_wake_fd(f), .events = POLLIN };
		cr_assert_geq(p.fd, 0, "the decoder has a wake fd");
		poll(&p, 1, 50);
	}
	return rev;
}

Test(gdrv, decoder_poll_and_dqbuf_follow_the_m2m_rules)
{
	uint8_t *stream;
	size_t len = h264_stream(&stream);
	int fd = open_file("dec.decoder.vqmedia");
	cr_assert_eq(fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK), 0);
	struct gdrv_fd *f = gdrv_claim(fd);
	cr_assert_not_null(f);
	struct v4l2_capability cap;
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_QUERYCAP, &cap), 0);
	cr_expect(cap.device_caps & V4L2_CAP_VIDEO_M2M_MPLANE);
	cr_expect_eq(gdrv_poll(f, POLLIN | POLLOUT, NULL), POLLERR, "neither queue streams");
	cr_expect_eq(gdrv_poll(f, POLLPRI, NULL), 0, "POLLERR only when data is asked for");

	struct v4l2_event_subscription sub = { .type = V4L2_EVENT_SOURCE_CHANGE };
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_SUBSCRIBE_EVENT, &sub), 0);
	sub.type = V4L2_EVENT_EOS;
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_SUBSCRIBE_EVENT, &sub), 0);
	struct v4l2_format fmt = { .type = OUT_MP };
	fmt.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_H264;
	fmt.fmt.pix_mp.num_planes = 1;
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_S_FMT, &fmt), 0);
	struct v4l2_requestbuffers rb = { .count = 1, .type = OUT_MP, .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_REQBUFS, &rb), 0);
	struct v4l2_buffer b;
	struct v4l2_plane pl;
	cr_assert_eq(mp_buf(f, VIDIOC_QUERYBUF, OUT_MP, 0, &b, &pl, 0), 0);
	cr_assert_geq(pl.length, len);
	void *map;
	cr_assert_eq(gdrv_mmap(f, NULL, pl.length, PROT_READ | PROT_WRITE, MAP_SHARED,
			       pl.m.mem_offset, &map), 0);
	memcpy(map, stream, len);
	int type = OUT_MP;
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_STREAMON, &type), 0);
	cr_expect_eq(gdrv_poll(f, POLLIN | POLLOUT, NULL), POLLERR,
		     "OUTPUT streams but has no buffer queued");
	cr_assert_eq(mp_buf(f, VIDIOC_QBUF, OUT_MP, 0, &b, &pl, (uint32_t)len), 0);

	/* The OUTPUT buffer comes back once the device has copied its data,
	 * before any of it is decoded (its pictures wait for CAPTURE
	 * buffers); the worker, on its own thread, then finds the stream's
	 * size.  Both reach poll through the wake fd. */
	short rev = poll_until(f, POLLIN | POLLOUT | POLLPRI, POLLPRI);
	rev = poll_until(f, POLLIN | POLLOUT | POLLPRI, POLLOUT);
	cr_assert_eq(rev & (POLLIN | POLLOUT | POLLPRI | POLLERR), POLLOUT | POLLPRI,
		     "the OUTPUT buffer is done and the source change pending, nothing else");
	struct v4l2_event ev;
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_DQEVENT, &ev), 0);
	cr_expect_eq(ev.type, V4L2_EVENT_SOURCE_CHANGE);
	cr_assert_eq(mp_buf(f, VIDIOC_DQBUF, OUT_MP, 0, &b, &pl, 0), 0);
	cr_expect_eq(gdrv_poll(f, POLLOUT, NULL) & (POLLOUT | POLLERR), POLLERR,
		     "no OUTPUT buffer queued, CAPTURE not streaming");

	/* CAPTURE set up as the spec says; nothing done yet: EAGAIN, the fd
	 * being O_NONBLOCK. */
	fmt = (struct v4l2_format){ .type = CAP_MP };
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_G_FMT, &fmt), 0);
	cr_expect_eq(fmt.fmt.pix_mp.width, 64);
	rb = (struct v4l2_requestbuffers){ .count = 8, .type = CAP_MP, .memory = V4L2_MEMORY_MMAP };
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_REQBUFS, &rb), 0);
	cr_expect_eq(mp_buf(f, VIDIOC_DQBUF, CAP_MP, 0, &b, &pl, 0), -EINVAL, "not streaming");
	type = CAP_MP;
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_STREAMON, &type), 0);
	cr_expect_eq(mp_buf(f, VIDIOC_DQBUF, CAP_MP, 0, &b, &pl, 0), -EAGAIN);
	for (uint32_t i = 0; i < rb.count; i++)
		cr_assert_eq(mp_buf(f, VIDIOC_QBUF, CAP_MP, i, &b, &pl, 0), 0);
	cr_expect_eq(gdrv_poll(f, POLLOUT, NULL) & (POLLOUT | POLLERR), 0,
		     "no OUTPUT buffer done; CAPTURE has buffers queued");
	rev = poll_until(f, POLLIN, POLLIN);
	cr_expect_eq(rev & (POLLIN | POLLERR), POLLIN, "a picture is done");
	struct v4l2_decoder_cmd stop = { .cmd = V4L2_DEC_CMD_STOP };
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_DECODER_CMD, &stop), 0);

	/* A blocking DQBUF waits for the worker (on its wake fd). */
	cr_assert_eq(fcntl(fd, F_SETFL, O_RDWR), 0);
	unsigned frames = 0;
	for (;;) {
		cr_assert_eq(mp_buf(f, VIDIOC_DQBUF, CAP_MP, 0, &b, &pl, 0), 0);
		if (b.flags & V4L2_BUF_FLAG_LAST)
			break;
		cr_expect_gt(pl.bytesused, 0);
		frames++;
	}
	cr_expect_eq(frames, 5);
	cr_expect_eq(gdrv_poll(f, POLLIN, NULL) & (POLLIN | POLLERR), POLLIN,
		     "after the LAST buffer: readable, and DQBUF says so");
	cr_expect_eq(mp_buf(f, VIDIOC_DQBUF, CAP_MP, 0, &b, &pl, 0), -EPIPE);
	rev = poll_until(f, POLLPRI, POLLPRI);
	cr_expect(rev & POLLPRI);
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_DQEVENT, &ev), 0);
	cr_expect_eq(ev.type, V4L2_EVENT_EOS);

	struct v4l2_decoder_cmd start = { .cmd = V4L2_DEC_CMD_START };
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_DECODER_CMD, &start), 0);
	cr_expect_eq(gdrv_poll(f, POLLIN, NULL) & (POLLIN | POLLERR), 0,
		     "START clears the LAST state; buffers are queued");
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_STREAMOFF, &type), 0);
	type = OUT_MP;
	cr_assert_eq(gdrv_ioctl(f, VIDIOC_STREAMOFF, &type), 0);
	cr_expect_eq(gdrv_poll(f, POLLIN | POLLOUT, NULL) & POLLERR, POLLERR);
	gdrv_munmap(map, pl.length);
	gdrv_release(f);
	free(stream);
}
#endif
