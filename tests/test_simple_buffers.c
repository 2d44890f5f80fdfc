/* SPDX-License-Identifier: MIT */
/*
 * The simple camera's buffer queue through the guest driver: REQBUFS,
 * CREATE_BUFS, QUERYBUF, PREPARE_BUF, QBUF, STREAMON / STREAMOFF, MMAP and
 * USERPTR capture (contiguous and scattered user memory), several sessions
 * with one owner, real-time pacing, and bad input to each of them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simple_fixture.h"

static struct simple_pair SP;
static uint32_t ID;

static void setup(void)
{
	simple_pair_init(&SP, NULL, NULL);
	ID = sp_open(&SP);
}

static void teardown(void)
{
	simple_pair_destroy(&SP);
}

TestSuite(buffers, .init = setup, .fini = teardown);

#define CAP V4L2_BUF_TYPE_VIDEO_CAPTURE
#define YUYV_640_SIZE (640 * 480 * 2)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

static struct v4l2_buffer buf(uint32_t index, uint32_t memory)
{
	return (struct v4l2_buffer){ .index = index, .type = CAP, .memory = memory };
}

/* ---- REQBUFS ---- */

Test(buffers, reqbufs_reports_caps_and_clamps_to_32)
{
	struct v4l2_requestbuffers rb = { .count = 100, .type = CAP, .memory = V4L2_MEMORY_MMAP };
	memset(rb.reserved, 0xee, sizeof(rb.reserved));
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_REQBUFS, &rb), 0);
	cr_expect_eq(rb.count, 32);
	cr_expect_eq(rb.capabilities & (V4L2_BUF_CAP_SUPPORTS_MMAP | V4L2_BUF_CAP_SUPPORTS_USERPTR),
		     V4L2_BUF_CAP_SUPPORTS_MMAP | V4L2_BUF_CAP_SUPPORTS_USERPTR);
	cr_expect_eq(rb.reserved[0], 0);
	for (uint32_t i = 0; i < 32; i++) {
		struct v4l2_buffer b = buf(i, V4L2_MEMORY_MMAP);
		cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYBUF, &b), 0);
		cr_expect_eq(b.length, YUYV_640_SIZE);
		cr_expect_eq(b.m.offset % 4096, 0, "page-aligned offsets");
	}
}

Test(buffers, reqbufs_refuses_bad_types_and_memory)
{
	const uint32_t types[] = { V4L2_BUF_TYPE_VIDEO_OUTPUT, V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
				   0, 64, UINT32_MAX };
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct v4l2_requestbuffers rb = { .count = 2, .type = types[i],
						  .memory = V4L2_MEMORY_MMAP };
		cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_REQBUFS, &rb), -EINVAL, "type %u", types[i]);
	}
	const uint32_t mems[] = { 0, V4L2_MEMORY_OVERLAY, V4L2_MEMORY_DMABUF, 5, UINT32_MAX };
	for (unsigned i = 0; i < sizeof(mems) / sizeof(mems[0]); i++) {
		struct v4l2_requestbuffers rb = { .count = 2, .type = CAP, .memory = mems[i] };
		cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_REQBUFS, &rb), -EINVAL, "memory %u", mems[i]);
	}
}

Test(buffers, reqbufs_zero_frees_everything)
{
	uint32_t n = 4;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
	cr_expect_eq(SP.p.dev.nranges, 4);
	n = 0;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
	cr_expect_eq(n, 0);
	cr_expect_eq(SP.p.dev.nranges, 0, "MMAP ranges freed");
	struct v4l2_buffer b = buf(0, V4L2_MEMORY_MMAP);
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYBUF, &b), -EINVAL);
}

Test(buffers, reqbufs_gives_fewer_buffers_when_the_region_runs_out)
{
	/* 1280x720 RGB3 is 2.7 MB: 32 of them do not fit in 64 MiB. */
	sp_set_fmt(&SP, ID, V4L2_PIX_FMT_RGB24, 1280, 720);
	uint32_t n = 32;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
	cr_expect_lt(n, 32);
	cr_expect_gt(n, 20);
}

Test(buffers, reqbufs_while_streaming_is_ebusy)
{
	struct sp_bufs b;
	sp_mmap_bufs(&SP, ID, 2, &b);
	cr_assert_eq(sp_streamon(&SP, ID), 0);
	uint32_t n = 0;
	cr_expect_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), -EBUSY);
	cr_assert_eq(sp_streamoff(&SP, ID), 0);
	cr_expect_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
}

/* ---- CREATE_BUFS ---- */

static int create(uint32_t session, uint32_t count, uint32_t memory, uint32_t sizeimage,
		  struct v4l2_create_buffers *out)
{
	struct v4l2_create_buffers cb = { .count = count, .memory = memory };
	cb.format.type = CAP;
	cr_assert_eq(sp_ioctl(&SP, session, VIDIOC_G_FMT, &cb.format), 0);
	cb.format.fmt.pix.sizeimage = sizeimage;
	int r = sp_ioctl(&SP, session, VIDIOC_CREATE_BUFS, &cb);
	if (out)
		*out = cb;
	return r;
}

Test(buffers, create_bufs_adds_after_existing_buffers)
{
	struct v4l2_create_buffers cb;
	cr_assert_eq(create(ID, 0, V4L2_MEMORY_MMAP, YUYV_640_SIZE, &cb), 0);
	cr_expect_eq(cb.index, 0);
	cr_expect_eq(cb.capabilities & V4L2_BUF_CAP_SUPPORTS_MMAP, V4L2_BUF_CAP_SUPPORTS_MMAP);
	cr_assert_eq(create(ID, 2, V4L2_MEMORY_MMAP, YUYV_640_SIZE, &cb), 0);
	cr_expect_eq(cb.index, 0);
	cr_expect_eq(cb.count, 2);
	cr_assert_eq(create(ID, 3, V4L2_MEMORY_MMAP, 2 * YUYV_640_SIZE, &cb), 0);
	cr_expect_eq(cb.index, 2);
	cr_expect_eq(cb.count, 3);
	struct v4l2_buffer b = buf(4, V4L2_MEMORY_MMAP);
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYBUF, &b), 0);
	cr_expect_eq(b.length, 2 * YUYV_640_SIZE, "the larger size asked for");
	cr_assert_eq(create(ID, 0, V4L2_MEMORY_MMAP, 1, &cb), 0, "count 0 only checks");
	cr_expect_eq(cb.index, 5);
}

Test(buffers, create_bufs_refuses_small_sizes_other_memory_and_types)
{
	cr_expect_eq(create(ID, 1, V4L2_MEMORY_MMAP, YUYV_640_SIZE - 1, NULL), -EINVAL);
	cr_expect_eq(create(ID, 1, V4L2_MEMORY_MMAP, 0, NULL), -EINVAL);
	cr_expect_eq(create(ID, 1, V4L2_MEMORY_DMABUF, YUYV_640_SIZE, NULL), -EINVAL);
	cr_expect_eq(create(ID, 1, 0, YUYV_640_SIZE, NULL), -EINVAL);
	cr_assert_eq(create(ID, 1, V4L2_MEMORY_MMAP, YUYV_640_SIZE, NULL), 0);
	cr_expect_eq(create(ID, 1, V4L2_MEMORY_USERPTR, YUYV_640_SIZE, NULL), -EINVAL,
		     "memory must match the existing buffers");
	struct v4l2_create_buffers cb = { .count = 1, .memory = V4L2_MEMORY_MMAP };
	cb.format.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	cb.format.fmt.pix.sizeimage = YUYV_640_SIZE;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_CREATE_BUFS, &cb), -EINVAL);
}

Test(buffers, create_bufs_stops_at_32_then_enobufs)
{
	struct v4l2_create_buffers cb;
	cr_assert_eq(create(ID, 30, V4L2_MEMORY_USERPTR, YUYV_640_SIZE, &cb), 0);
	cr_assert_eq(create(ID, 10, V4L2_MEMORY_USERPTR, YUYV_640_SIZE, &cb), 0);
	cr_expect_eq(cb.index, 30);
	cr_expect_eq(cb.count, 2);
	cr_expect_eq(create(ID, 1, V4L2_MEMORY_USERPTR, YUYV_640_SIZE, NULL), -ENOBUFS);
}

/* ---- QUERYBUF ---- */

Test(buffers, querybuf_describes_each_buffer_and_refuses_bad_ones)
{
	uint32_t n = 3;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
	uint32_t offsets[3];
	for (uint32_t i = 0; i < 3; i++) {
		struct v4l2_buffer b = buf(i, V4L2_MEMORY_MMAP);
		cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYBUF, &b), 0);
		cr_expect_eq(b.index, i);
		cr_expect_eq(b.memory, V4L2_MEMORY_MMAP);
		cr_expect_eq(b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK,
			     V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC);
		cr_expect_eq(b.flags & (V4L2_BUF_FLAG_QUEUED | V4L2_BUF_FLAG_DONE), 0);
		cr_expect_eq(b.field, V4L2_FIELD_NONE);
		offsets[i] = b.m.offset;
		for (uint32_t k = 0; k < i; k++)
			cr_expect_neq(offsets[k], offsets[i]);
	}
	struct v4l2_buffer b = buf(3, V4L2_MEMORY_MMAP);
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYBUF, &b), -EINVAL);
	b = buf(UINT32_MAX, V4L2_MEMORY_MMAP);
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYBUF, &b), -EINVAL);
	b = buf(0, V4L2_MEMORY_MMAP);
	b.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYBUF, &b), -EINVAL);
	uint32_t other = sp_open(&SP);
	b = buf(1, V4L2_MEMORY_MMAP);
	cr_expect_eq(sp_ioctl(&SP, other, VIDIOC_QUERYBUF, &b), 0, "anyone may query");
}

/* ---- QBUF / PREPARE_BUF ---- */

Test(buffers, qbuf_refuses_bad_index_type_memory_and_double_queueing)
{
	uint32_t n = 2;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
	struct v4l2_buffer b = buf(2, V4L2_MEMORY_MMAP);
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &b), -EINVAL);
	b = buf(0, V4L2_MEMORY_USERPTR);
	b.m.userptr = (unsigned long)malloc(YUYV_640_SIZE);
	b.length = YUYV_640_SIZE;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &b), -EINVAL);
	free((void *)b.m.userptr);
	b = buf(0, V4L2_MEMORY_MMAP);
	b.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &b), -EINVAL);
	b = buf(0, V4L2_MEMORY_MMAP);
	b.flags = V4L2_BUF_FLAG_REQUEST_FD;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &b), -EBADR, "no requests");
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_PREPARE_BUF, &b), -EINVAL);
	b = buf(0, V4L2_MEMORY_MMAP);
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &b), 0);
	cr_expect_eq(b.flags & V4L2_BUF_FLAG_QUEUED, V4L2_BUF_FLAG_QUEUED);
	b = buf(0, V4L2_MEMORY_MMAP);
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &b), -EINVAL, "already queued");
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_PREPARE_BUF, &b), -EINVAL);
}

Test(buffers, qbuf_without_buffers_is_einval)
{
	struct v4l2_buffer b = buf(0, V4L2_MEMORY_MMAP);
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &b), -EINVAL);
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_PREPARE_BUF, &b), -EINVAL);
}

Test(buffers, prepare_buf_then_qbuf)
{
	uint32_t n = 2;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
	struct v4l2_buffer b = buf(1, V4L2_MEMORY_MMAP);
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_PREPARE_BUF, &b), 0);
	cr_expect_eq(b.flags & V4L2_BUF_FLAG_PREPARED, V4L2_BUF_FLAG_PREPARED);
	b = buf(1, V4L2_MEMORY_MMAP);
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_PREPARE_BUF, &b), -EINVAL, "already prepared");
	b = buf(1, V4L2_MEMORY_MMAP);
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &b), 0);
	cr_assert_eq(sp_streamon(&SP, ID), 0);
	struct v4l2_buffer d;
	cr_assert_eq(sp_dqbuf(&SP, ID, V4L2_MEMORY_MMAP, &d), 0);
	cr_expect_eq(d.index, 1);
}

/* ---- STREAMON / STREAMOFF ---- */

Test(buffers, streamon_needs_buffers_and_the_capture_type)
{
	cr_expect_eq(sp_streamon(&SP, ID), -EINVAL, "no buffers");
	uint32_t n = 1;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
	int t = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_STREAMON, &t), -EINVAL);
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_STREAMOFF, &t), -EINVAL);
	t = -1;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_STREAMON, &t), -EINVAL);
	cr_expect_eq(sp_streamon(&SP, ID), 0);
	cr_expect_eq(sp_streamon(&SP, ID), 0, "again: nothing to do");
	cr_expect_eq(sp_streamoff(&SP, ID), 0);
	cr_expect_eq(sp_streamoff(&SP, ID), 0, "again: nothing to do");
}

Test(buffers, mmap_capture_through_the_guest_view)
{
	struct sp_bufs b;
	sp_mmap_bufs(&SP, ID, 4, &b);
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(sp_qbuf_mmap(&SP, ID, i), 0);
	uint64_t t0 = now_ns();
	cr_assert_eq(sp_streamon(&SP, ID), 0);
	uint64_t last = 0;
	for (uint32_t f = 0; f < 20; f++) {
		struct v4l2_buffer d;
		cr_assert_eq(sp_dqbuf(&SP, ID, V4L2_MEMORY_MMAP, &d), 0, "frame %u", f);
		cr_expect_eq(d.sequence, f);
		cr_expect_eq(d.index, f % 4, "oldest queued first");
		cr_expect_eq(d.bytesused, YUYV_640_SIZE);
		cr_expect_eq(d.field, V4L2_FIELD_NONE);
		cr_expect_eq(d.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK,
			     V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC);
		cr_expect_eq(d.flags & (V4L2_BUF_FLAG_QUEUED | V4L2_BUF_FLAG_ERROR), 0);
		uint64_t t = tv_ns(d.timestamp);
		cr_expect_geq(t + 1000, t0, "timestamps are CLOCK_MONOTONIC");
		cr_expect_leq(t, now_ns());
		cr_expect_geq(t, last);
		last = t;
		/* The frame is in the mapping: white bar at the left, Y 235. */
		cr_expect_eq(b.view[d.index][2 * 4 * 640], 235);
		cr_assert_eq(sp_qbuf_mmap(&SP, ID, d.index), 0);
	}
	cr_assert_eq(sp_streamoff(&SP, ID), 0);
}

Test(buffers, sequence_restarts_at_each_streamon)
{
	struct sp_bufs b;
	sp_mmap_bufs(&SP, ID, 2, &b);
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(sp_qbuf_mmap(&SP, ID, 0), 0);
		cr_assert_eq(sp_qbuf_mmap(&SP, ID, 1), 0);
		cr_assert_eq(sp_streamon(&SP, ID), 0);
		struct v4l2_buffer d;
		cr_assert_eq(sp_dqbuf(&SP, ID, V4L2_MEMORY_MMAP, &d), 0);
		cr_expect_eq(d.sequence, 0);
		cr_assert_eq(sp_dqbuf(&SP, ID, V4L2_MEMORY_MMAP, &d), 0);
		cr_expect_eq(d.sequence, 1);
		cr_assert_eq(sp_streamoff(&SP, ID), 0);
	}
}

/* Real-time mode: buffers wait for tick(), so STREAMOFF finds some queued. */
Test(buffers, streamoff_takes_queued_buffers_back_without_events)
{
	simple_pair_destroy(&SP);
	simple_pair_init(&SP, &(struct vmedia_simple_config){ .benchmark = false }, NULL);
	ID = sp_open(&SP);
	struct sp_bufs b;
	sp_mmap_bufs(&SP, ID, 3, &b);
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_eq(sp_qbuf_mmap(&SP, ID, i), 0);
	cr_assert_eq(sp_streamon(&SP, ID), 0);
	cr_assert_eq(vmedia_simple_tick(SP.sd, vmedia_simple_next_deadline(SP.sd)), 1);
	uint64_t sent = SP.p.dev.stats.events_sent;
	cr_assert_eq(sp_streamoff(&SP, ID), 0);
	cr_expect_eq(SP.p.dev.stats.events_sent, sent, "no DQBUF for buffers taken back");
	cr_expect_eq(vmedia_simple_tick(SP.sd, UINT64_MAX), 0);
	for (uint32_t i = 0; i < 3; i++) {
		struct v4l2_buffer q = buf(i, V4L2_MEMORY_MMAP);
		cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYBUF, &q), 0);
		cr_expect_eq(q.flags & V4L2_BUF_FLAG_QUEUED, 0, "buffer %u dequeued", i);
		cr_expect_eq(sp_qbuf_mmap(&SP, ID, i), 0, "and can be queued again");
	}
	cr_expect_eq(SP.p.g.stats.unexpected_dqbuf, 0);
}

Test(buffers, realtime_mode_paces_frames_by_the_interval)
{
	simple_pair_destroy(&SP);
	simple_pair_init(&SP, &(struct vmedia_simple_config){ .benchmark = false }, NULL);
	ID = sp_open(&SP);
	cr_expect_eq(vmedia_simple_next_deadline(SP.sd), 0, "not streaming");
	cr_expect_eq(vmedia_simple_tick(SP.sd, now_ns()), 0);
	struct sp_bufs b;
	sp_mmap_bufs(&SP, ID, 2, &b);
	cr_assert_eq(sp_qbuf_mmap(&SP, ID, 0), 0);
	cr_assert_eq(sp_qbuf_mmap(&SP, ID, 1), 0);
	cr_assert_eq(sp_streamon(&SP, ID), 0);
	struct v4l2_buffer d;
	cr_expect_eq(sp_dqbuf(&SP, ID, V4L2_MEMORY_MMAP, &d), -EAGAIN, "nothing before a tick");
	uint64_t t = vmedia_simple_next_deadline(SP.sd);
	cr_assert_neq(t, 0);
	cr_expect_eq(vmedia_simple_tick(SP.sd, t), 1);
	uint64_t t2 = vmedia_simple_next_deadline(SP.sd);
	cr_expect_eq(t2 - t, 1000000000ull / 30, "1/30 s later");
	cr_expect_eq(vmedia_simple_tick(SP.sd, t2 - 1), 0, "too early");
	cr_assert_eq(sp_dqbuf(&SP, ID, V4L2_MEMORY_MMAP, &d), 0);
	cr_expect_eq(tv_ns(d.timestamp) / 1000, t / 1000, "stamped with the tick's time");
	struct v4l2_streamparm p = { .type = CAP };
	p.parm.capture.timeperframe = (struct v4l2_fract){ 1, 60 };
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_S_PARM, &p), 0);
	cr_expect_eq(vmedia_simple_tick(SP.sd, t2), 1);
	cr_expect_eq(vmedia_simple_next_deadline(SP.sd) - t2, 1000000000ull / 60);
	cr_expect_eq(vmedia_simple_tick(SP.sd, UINT64_MAX / 2), 0, "no buffer queued");
	/* After a stall the cadence restarts from now instead of bursting. */
	cr_assert_eq(sp_qbuf_mmap(&SP, ID, d.index), 0);
	uint64_t late = t2 + 10000000000ull;
	cr_expect_eq(vmedia_simple_tick(SP.sd, late), 1);
	cr_expect_eq(vmedia_simple_next_deadline(SP.sd), late + 1000000000ull / 60);
}

/* ---- several sessions ---- */

Test(buffers, only_the_owner_touches_the_queue)
{
	uint32_t other = sp_open(&SP);
	uint32_t n = 2;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
	n = 2;
	cr_expect_eq(sp_reqbufs(&SP, other, V4L2_MEMORY_MMAP, &n), -EBUSY);
	n = 0;
	cr_expect_eq(sp_reqbufs(&SP, other, V4L2_MEMORY_MMAP, &n), -EBUSY);
	cr_expect_eq(create(other, 1, V4L2_MEMORY_MMAP, YUYV_640_SIZE, NULL), -EBUSY);
	cr_expect_eq(create(other, 0, V4L2_MEMORY_MMAP, YUYV_640_SIZE, NULL), 0,
		     "count 0 only checks the arguments");
	struct v4l2_buffer b = buf(0, V4L2_MEMORY_MMAP);
	cr_expect_eq(sp_ioctl(&SP, other, VIDIOC_QBUF, &b), -EBUSY);
	b = buf(0, V4L2_MEMORY_MMAP);
	cr_expect_eq(sp_ioctl(&SP, other, VIDIOC_PREPARE_BUF, &b), -EBUSY);
	cr_expect_eq(sp_streamon(&SP, other), -EBUSY);
	cr_expect_eq(sp_streamoff(&SP, other), -EBUSY);
	/* The owner lets go: the other may take over. */
	n = 0;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
	n = 2;
	cr_expect_eq(sp_reqbufs(&SP, other, V4L2_MEMORY_MMAP, &n), 0);
	n = 2;
	cr_expect_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), -EBUSY);
}

Test(buffers, closing_the_owner_frees_the_queue_for_others)
{
	uint32_t other = sp_open(&SP);
	struct sp_bufs b;
	sp_mmap_bufs(&SP, ID, 2, &b);
	cr_assert_eq(sp_qbuf_mmap(&SP, ID, 0), 0);
	cr_assert_eq(sp_streamon(&SP, ID), 0);
	cr_assert_eq(vmedia_guest_close(&SP.p.g, ID), 0);
	/* The closed session's mappings outlive it (PROTOCOL.md). */
	cr_expect_eq(b.view[0][2 * 4 * 640], 235);
	uint32_t n = 3;
	cr_expect_eq(sp_reqbufs(&SP, other, V4L2_MEMORY_MMAP, &n), 0);
	cr_expect_eq(n, 3);
	for (uint32_t i = 0; i < 2; i++)
		cr_expect_eq(vmedia_guest_munmap(&SP.p.g, b.addr[i]), 0);
}

Test(buffers, mappings_survive_reqbufs_zero)
{
	struct sp_bufs b;
	sp_mmap_bufs(&SP, ID, 2, &b);
	uint32_t n = 0;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_MMAP, &n), 0);
	cr_expect_eq(SP.p.dev.nranges, 2, "orphaned, still mapped");
	for (uint32_t i = 0; i < 2; i++)
		cr_expect_eq(vmedia_guest_munmap(&SP.p.g, b.addr[i]), 0);
	cr_expect_eq(SP.p.dev.nranges, 0);
}

/* ---- USERPTR ---- */

static void userptr_capture(uint32_t segments, bool expect_bounce)
{
	SP.p.g.shape.sg_segments = segments;
	uint32_t n = 2;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_USERPTR, &n), 0);
	cr_assert_eq(n, 2);
	uint8_t *mem[2];
	for (int i = 0; i < 2; i++) {
		mem[i] = malloc(YUYV_640_SIZE);
		memset(mem[i], 0x11, YUYV_640_SIZE);
		struct v4l2_buffer b = buf((uint32_t)i, V4L2_MEMORY_USERPTR);
		b.m.userptr = (unsigned long)mem[i];
		b.length = YUYV_640_SIZE;
		cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &b), 0);
		cr_expect_eq(b.m.userptr, (unsigned long)mem[i], "the pointer comes back unchanged");
	}
	uint64_t bounced = SP.p.dev.stats.usermem_bounced;
	cr_assert_eq(sp_streamon(&SP, ID), 0);
	for (uint32_t f = 0; f < 6; f++) {
		struct v4l2_buffer d;
		cr_assert_eq(sp_dqbuf(&SP, ID, V4L2_MEMORY_USERPTR, &d), 0);
		cr_expect_eq(d.sequence, f);
		cr_expect_eq(d.bytesused, YUYV_640_SIZE);
		cr_expect_eq(d.m.userptr, (unsigned long)mem[d.index]);
		const uint8_t *p = mem[d.index];
		cr_expect_eq(p[2 * 4 * 640], 235, "white bar written into user memory");
		cr_expect_eq(p[2 * (640 * 480 - 1)], 16, "black bar at the bottom right");
		memset(mem[d.index], 0x11, YUYV_640_SIZE);
		d = buf(d.index, V4L2_MEMORY_USERPTR);
		d.m.userptr = (unsigned long)mem[d.index];
		d.length = YUYV_640_SIZE;
		cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &d), 0);
	}
	cr_assert_eq(sp_streamoff(&SP, ID), 0);
	if (expect_bounce)
		cr_expect_gt(SP.p.dev.stats.usermem_bounced, bounced);
	cr_expect_eq(SP.p.dev.usermem_used, 0, "no bounce buffer kept after STREAMOFF");
	cr_expect_eq(SP.p.g.stats.ptr_clobbered, 0);
	free(mem[0]);
	free(mem[1]);
}

Test(buffers, userptr_capture_contiguous)
{
	userptr_capture(1, false);
}

Test(buffers, userptr_capture_scattered_pages_bounce)
{
	userptr_capture(VMEDIA_GUEST_SG_PAGES, true);
}

Test(buffers, userptr_refuses_short_or_missing_memory)
{
	uint32_t n = 1;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_USERPTR, &n), 0);
	uint8_t *mem = malloc(YUYV_640_SIZE);
	struct v4l2_buffer b = buf(0, V4L2_MEMORY_USERPTR);
	b.m.userptr = (unsigned long)mem;
	b.length = YUYV_640_SIZE - 1;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &b), -EINVAL);
	b = buf(0, V4L2_MEMORY_USERPTR);
	b.m.userptr = 0;
	b.length = YUYV_640_SIZE;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &b), -EINVAL, "NULL pointer");
	b = buf(0, V4L2_MEMORY_USERPTR);
	b.m.userptr = (unsigned long)mem;
	b.length = 0;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_PREPARE_BUF, &b), -EINVAL, "length 0");
	cr_expect_eq(SP.p.dev.usermem_used, 0);
	free(mem);
}

Test(buffers, userptr_prepared_then_queued_keeps_one_memory)
{
	SP.p.g.shape.sg_segments = 3;
	uint32_t n = 1;
	cr_assert_eq(sp_reqbufs(&SP, ID, V4L2_MEMORY_USERPTR, &n), 0);
	uint8_t *mem = malloc(YUYV_640_SIZE);
	struct v4l2_buffer b = buf(0, V4L2_MEMORY_USERPTR);
	b.m.userptr = (unsigned long)mem;
	b.length = YUYV_640_SIZE;
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_PREPARE_BUF, &b), 0);
	cr_expect_eq(SP.p.dev.usermem_used, YUYV_640_SIZE);
	b = buf(0, V4L2_MEMORY_USERPTR);
	b.m.userptr = (unsigned long)mem;
	b.length = YUYV_640_SIZE;
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QBUF, &b), 0);
	cr_expect_eq(SP.p.dev.usermem_used, YUYV_640_SIZE, "the QBUF's memory replaced it");
	/* Closing the owner gives the memory back. */
	cr_assert_eq(vmedia_guest_close(&SP.p.g, ID), 0);
	cr_expect_eq(SP.p.dev.usermem_used, 0);
	free(mem);
}
