/* SPDX-License-Identifier: MIT */
/*
 * The command runner and ioctl codec through the guest-driver model: every
 * command and its error paths, a layout round trip for every decoded ioctl,
 * buffers with planes / USERPTR / DMABUF UUIDs, ext controls, session ids.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "media_fixture.h"
#include "vmedia_internal.h"

static struct media_pair P;

static void setup(void)
{
	media_pair_init(&P, NULL);
}

static void teardown(void)
{
	media_pair_destroy(&P);
}

TestSuite(runner, .init = setup, .fini = teardown);

static uint32_t open_session(void)
{
	uint32_t id;
	cr_assert_eq(vmedia_guest_open(&P.g, &id), 0);
	return id;
}

/* Send raw command bytes; return the response status (or ~0u if none). */
static uint32_t raw(const void *cmd, size_t len, void *resp, size_t resp_len, uint32_t *used)
{
	uint8_t buf[1024];
	cr_assert_leq(resp_len, sizeof(buf));
	memset(buf, 0xee, sizeof(buf));
	uint32_t u = 0;
	cr_assert_eq(vmedia_guest_raw_command(&P.g, cmd, len, resp_len ? buf : NULL, resp_len, &u),
		     0);
	if (used)
		*used = u;
	if (resp)
		memcpy(resp, buf, resp_len);
	if (u < 8)
		return ~0u;
	uint32_t status;
	memcpy(&status, buf, 4);
	return status;
}

/* ---- sessions ---- */

Test(runner, open_gives_distinct_ids_and_close_calls_device)
{
	uint32_t a = open_session(), b = open_session();
	cr_expect_neq(a, b);
	cr_expect_eq(P.rec.opens, 2);
	cr_expect_eq(vmedia_guest_close(&P.g, a), 0);
	cr_expect_eq(P.rec.closes, 1);
	cr_expect_null(vmedia_session_find(&P.dev, a));
	cr_expect_not_null(vmedia_session_find(&P.dev, b));
	uint32_t c = open_session();
	cr_expect_neq(c, a, "ids are not reused right away");
	cr_expect_neq(c, b);
}

Test(runner, session_limit_answers_ebusy)
{
	media_pair_destroy(&P);
	media_pair_init(&P, &(struct media_pair_opts){ .max_sessions = 3 });
	for (int i = 0; i < 3; i++)
		open_session();
	uint32_t id;
	cr_expect_eq(vmedia_guest_open(&P.g, &id), -EBUSY);
	cr_expect_eq(P.dev.nsessions, 3);
}

Test(runner, errored_session_keeps_its_id_until_close)
{
	uint32_t a = open_session();
	struct vmedia_session *s = vmedia_session_find(&P.dev, a);
	cr_assert_not_null(s);
	s->error = EIO; /* as after an ERROR event, before the driver's CLOSE */
	for (int i = 0; i < 200; i++) {
		uint32_t id;
		cr_assert_eq(vmedia_guest_open(&P.g, &id), 0);
		cr_assert_neq(id, a);
		cr_assert_eq(vmedia_guest_close(&P.g, id), 0);
	}
}

Test(runner, close_of_unknown_session_is_ignored)
{
	struct vmedia_cmd_close c = { .hdr.cmd = VMEDIA_CMD_CLOSE, .session_id = 77 };
	uint32_t used;
	raw(&c, sizeof(c), NULL, 0, &used);
	cr_expect_eq(used, 0, "CLOSE has no writable part: nothing written");
	cr_expect_eq(P.rec.closes, 0);
}

/* ---- malformed commands ---- */

Test(runner, short_header_is_einval)
{
	uint32_t cmd = VMEDIA_CMD_OPEN;
	cr_expect_eq(raw(&cmd, 4, NULL, 16, NULL), EINVAL);
	cr_expect_eq(P.dev.stats.bad_commands, 1);
}

Test(runner, unknown_command_is_enotty)
{
	struct vmedia_cmd_header h = { .cmd = 99 };
	cr_expect_eq(raw(&h, sizeof(h), NULL, 16, NULL), ENOTTY);
}

Test(runner, open_without_room_for_the_id_opens_nothing)
{
	struct vmedia_cmd_header h = { .cmd = VMEDIA_CMD_OPEN };
	cr_expect_eq(raw(&h, sizeof(h), NULL, 8, NULL), EINVAL);
	cr_expect_eq(P.dev.nsessions, 0);
	cr_expect_eq(P.rec.opens, 0);
}

Test(runner, truncated_ioctl_command_is_einval)
{
	uint32_t id = open_session();
	struct vmedia_cmd_ioctl c = { .hdr.cmd = VMEDIA_CMD_IOCTL, .session_id = id,
				      .code = _IOC_NR(VIDIOC_G_FMT) };
	cr_expect_eq(raw(&c, 12, NULL, 8 + 208, NULL), EINVAL);
	cr_expect_eq(P.rec.calls, 0);
}

Test(runner, ioctl_on_unknown_session_is_einval)
{
	struct vmedia_cmd_ioctl c = { .hdr.cmd = VMEDIA_CMD_IOCTL, .session_id = 1234,
				      .code = _IOC_NR(VIDIOC_G_FMT) };
	cr_expect_eq(raw(&c, sizeof(c), NULL, 8 + 208, NULL), EINVAL);
}

Test(runner, unknown_and_forbidden_ioctls_are_enotty)
{
	uint32_t id = open_session();
	const uint32_t codes[] = { 104, 255, 1000, _IOC_NR(VIDIOC_QUERYCAP), _IOC_NR(VIDIOC_DQBUF),
				   _IOC_NR(VIDIOC_DQEVENT), _IOC_NR(VIDIOC_LOG_STATUS),
				   _IOC_NR(VIDIOC_G_JPEGCOMP), _IOC_NR(VIDIOC_S_JPEGCOMP),
				   _IOC_NR(VIDIOC_G_EDID), _IOC_NR(VIDIOC_S_EDID) };
	for (unsigned i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		uint8_t cmd[16 + 256] = { 0 };
		struct vmedia_cmd_ioctl c = { .hdr.cmd = VMEDIA_CMD_IOCTL, .session_id = id,
					      .code = codes[i] };
		memcpy(cmd, &c, sizeof(c));
		cr_expect_eq(raw(cmd, sizeof(cmd), NULL, 8 + 256, NULL), ENOTTY, "code %u",
			     codes[i]);
	}
	cr_expect_eq(P.rec.calls, 0);
}

Test(runner, payload_shorter_than_ioctl_size_is_einval)
{
	uint32_t id = open_session();
	uint8_t cmd[16 + 100] = { 0 };
	struct vmedia_cmd_ioctl c = { .hdr.cmd = VMEDIA_CMD_IOCTL, .session_id = id,
				      .code = _IOC_NR(VIDIOC_S_FMT) };
	memcpy(cmd, &c, sizeof(c));
	cr_expect_eq(raw(cmd, sizeof(cmd), NULL, 8 + 208, NULL), EINVAL);
	cr_expect_eq(P.rec.calls, 0, "the hook never sees a truncated payload");
}

Test(runner, response_without_room_for_payload_is_einval_and_hook_not_run)
{
	uint32_t id = open_session();
	uint8_t cmd[16 + 208] = { 0 };
	struct vmedia_cmd_ioctl c = { .hdr.cmd = VMEDIA_CMD_IOCTL, .session_id = id,
				      .code = _IOC_NR(VIDIOC_S_FMT) };
	memcpy(cmd, &c, sizeof(c));
	cr_expect_eq(raw(cmd, sizeof(cmd), NULL, 8 + 100, NULL), EINVAL);
	cr_expect_eq(P.rec.calls, 0);
}

/* ---- every plain ioctl: layout round trip ---- */

struct plain_case {
	const char *name;
	unsigned long request;
};

#define PLAIN_CASE(NAME, hook, type) { "VIDIOC_" #NAME, VIDIOC_##NAME },
static const struct plain_case plain_cases[] = { VMEDIA_PLAIN_IOCTLS(PLAIN_CASE) };
#undef PLAIN_CASE

Test(runner, every_plain_ioctl_round_trips_its_layout)
{
	uint32_t id = open_session();
	for (unsigned i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++) {
		const struct plain_case *pc = &plain_cases[i];
		size_t size = _IOC_SIZE(pc->request);
		uint8_t sent[2080], arg[2080];
		for (size_t k = 0; k < size; k++)
			sent[k] = (uint8_t)(k * 7 + i);
		if (pc->request == VIDIOC_SUBSCRIBE_EVENT || pc->request == VIDIOC_UNSUBSCRIBE_EVENT)
			sent[0] = V4L2_EVENT_EOS, sent[1] = sent[2] = sent[3] = 0;
		memcpy(arg, sent, size);
		P.rec.calls = 0;
		int ret = vmedia_guest_ioctl(&P.g, id, pc->request, arg);
		cr_assert_eq(ret, 0, "%s: %d", pc->name, ret);
		cr_assert_eq(P.rec.calls, 1, "%s", pc->name);
		cr_expect_eq(P.rec.last_nr, (int)_IOC_NR(pc->request), "%s", pc->name);
		cr_expect_eq(P.rec.last_size, size, "%s", pc->name);
		bool dev_reads = _IOC_DIR(pc->request) & _IOC_WRITE;
		bool dev_writes = _IOC_DIR(pc->request) & _IOC_READ;
		for (size_t k = 0; k < size; k++) {
			uint8_t seen = dev_reads ? sent[k] : 0;
			cr_assert_eq(P.rec.last_arg[k], seen, "%s: device byte %zu", pc->name, k);
			uint8_t back = dev_writes ? (uint8_t)(seen ^ REC_XOR) : sent[k];
			cr_assert_eq(arg[k], back, "%s: guest byte %zu", pc->name, k);
		}
	}
}

Test(runner, hook_error_sends_errno_and_no_payload)
{
	uint32_t id = open_session();
	P.rec.fail_with = EBUSY;
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_expect_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_S_FMT, &f), -EBUSY);
	cr_expect_eq(P.g.last_used_len, 8, "header only");
	cr_expect_eq(f.type, V4L2_BUF_TYPE_VIDEO_CAPTURE);
}

Test(runner, null_hook_is_enotty)
{
	media_pair_destroy(&P);
	static const struct vmedia_device_ops bare = { 0 };
	media_pair_init(&P, &(struct media_pair_opts){ .ops = &bare });
	uint32_t id = open_session();
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	cr_expect_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_G_FMT, &f), -ENOTTY);
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP };
	cr_expect_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_QBUF, &b), -ENOTTY);
	struct v4l2_ext_controls c = { .which = V4L2_CTRL_WHICH_CUR_VAL };
	cr_expect_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_G_EXT_CTRLS, &c), -ENOTTY);
}

/* ---- SUBSCRIBE_EVENT ---- */

Test(runner, subscribe_all_is_einval_before_the_device)
{
	uint32_t id = open_session();
	struct v4l2_event_subscription sub = { .type = V4L2_EVENT_ALL };
	cr_expect_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_SUBSCRIBE_EVENT, &sub), -EINVAL);
	cr_expect_eq(P.rec.calls, 0);
	/* Unsubscribing from ALL is legal and reaches the device. */
	cr_expect_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_UNSUBSCRIBE_EVENT, &sub), 0);
	cr_expect_eq(P.rec.calls, 1);
}

Test(runner, subscribe_unknown_type_goes_to_the_device)
{
	uint32_t id = open_session();
	struct v4l2_event_subscription sub = { .type = V4L2_EVENT_PRIVATE_START + 5 };
	P.rec.fail_with = EINVAL;
	cr_expect_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_SUBSCRIBE_EVENT, &sub), -EINVAL);
	cr_expect_eq(P.rec.calls, 1);
}

/* ---- buffers ---- */

Test(runner, mplane_buffer_planes_follow_and_placeholders_return)
{
	uint32_t id = open_session();
	struct v4l2_plane planes[3] = { { .length = 4096, .m.mem_offset = 0x1000 },
					{ .length = 2048, .m.mem_offset = 0x3000 },
					{ .length = 1024, .m.mem_offset = 0x5000 } };
	struct v4l2_buffer b = { .index = 2, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
				 .memory = V4L2_MEMORY_MMAP, .length = 3, .m.planes = planes };
	cr_assert_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_QBUF, &b), 0);
	cr_expect_eq(P.rec.last_nr, _IOC_NR(VIDIOC_QBUF));
	cr_expect_eq(P.rec.last_buf.b.index, 2);
	cr_expect_eq(P.rec.last_buf.b.length, 3);
	cr_expect_eq(P.rec.last_buf.b.m.userptr, 0, "the device never sees a guest pointer");
	cr_expect_eq(P.rec.last_buf.planes[1].length, 2048);
	cr_expect_eq(P.rec.last_buf.planes[2].m.mem_offset, 0x5000);
	cr_expect_eq(b.m.planes, planes, "the caller's pointer is back");
	cr_expect_eq(b.bytesused, 0x1234);
	cr_expect(b.flags & V4L2_BUF_FLAG_QUEUED);
	cr_expect_eq(planes[0].bytesused, 0x100);
	cr_expect_eq(planes[2].bytesused, 0x102);
	cr_expect_eq(P.g.stats.ptr_clobbered, 0);
}

Test(runner, more_than_eight_planes_is_einval)
{
	uint32_t id = open_session();
	uint8_t cmd[16 + 88 + 9 * 64] = { 0 };
	struct vmedia_cmd_ioctl c = { .hdr.cmd = VMEDIA_CMD_IOCTL, .session_id = id,
				      .code = _IOC_NR(VIDIOC_QBUF) };
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
				 .memory = V4L2_MEMORY_MMAP, .length = 9 };
	memcpy(cmd, &c, sizeof(c));
	memcpy(cmd + 16, &b, sizeof(b));
	cr_expect_eq(raw(cmd, sizeof(cmd), NULL, 8 + 88 + 9 * 64, NULL), EINVAL);
	cr_expect_eq(P.rec.calls, 0);
}

Test(runner, plane_count_larger_than_the_chain_is_einval)
{
	uint32_t id = open_session();
	uint8_t cmd[16 + 88 + 64] = { 0 };
	struct vmedia_cmd_ioctl c = { .hdr.cmd = VMEDIA_CMD_IOCTL, .session_id = id,
				      .code = _IOC_NR(VIDIOC_QBUF) };
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
				 .memory = V4L2_MEMORY_MMAP, .length = 4 };
	memcpy(cmd, &c, sizeof(c));
	memcpy(cmd + 16, &b, sizeof(b));
	cr_expect_eq(raw(cmd, sizeof(cmd), NULL, 8 + 88 + 4 * 64, NULL), EINVAL);
	cr_expect_eq(P.rec.calls, 0);
}

static void userptr_round_trip(uint32_t sg_segments)
{
	P.g.shape.sg_segments = sg_segments;
	uint32_t id = open_session();
	static uint8_t user[3 * 4096 + 100];
	memset(user, 0x11, sizeof(user));
	/* The recording device answers every byte ^ REC_XOR: ask so that the
	 * answer is 4 CAPTURE buffers, which the model then tracks. */
	const uint32_t x32 = REC_XOR * 0x01010101u;
	struct v4l2_requestbuffers rb = { .count = 4 ^ x32,
					  .type = V4L2_BUF_TYPE_VIDEO_CAPTURE ^ x32,
					  .memory = V4L2_MEMORY_USERPTR ^ x32 };
	cr_assert_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_REQBUFS, &rb), 0);
	cr_assert_eq(rb.count, 4);
	struct v4l2_buffer b = { .index = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_USERPTR, .length = sizeof(user),
				 .m.userptr = (unsigned long)user };
	cr_assert_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_QBUF, &b), 0);
	cr_expect_eq(b.m.userptr, (unsigned long)user, "user pointer returned unchanged");
	cr_expect_eq(P.rec.last_buf.b.m.userptr, 0);
	cr_expect_eq(P.rec.last_mem_len[0], sizeof(user));
	cr_expect_eq(P.rec.last_mem_bounced[0], sg_segments > 1);
	/* The device filled the memory; the guest sees it once it dequeues. */
	struct vmedia_buffer done = P.rec.last_buf;
	done.b.bytesused = sizeof(user);
	cr_assert_eq(vmedia_send_dqbuf(P.rec.last_session, &done), 0);
	struct v4l2_buffer d = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_USERPTR };
	cr_assert_eq(vmedia_guest_dqbuf(&P.g, id, &d), 0);
	cr_expect_eq(d.m.userptr, (unsigned long)user);
	cr_expect_eq(d.bytesused, sizeof(user));
	for (unsigned i = 0; i < sizeof(user); i++)
		cr_assert_eq(user[i], 0xab, "device's bytes reach user memory at DQBUF: %u", i);
}

Test(runner, userptr_contiguous_is_a_direct_view)
{
	userptr_round_trip(1);
	cr_expect_eq(P.dev.stats.usermem_bounced, 0);
}

Test(runner, userptr_scattered_is_bounced)
{
	userptr_round_trip(4);
	cr_expect_eq(P.dev.stats.usermem_bounced, 1);
	cr_expect_eq(P.dev.usermem_used, 0, "released by the device's put");
}

Test(runner, userptr_sg_list_too_short_is_einval)
{
	uint32_t id = open_session();
	uint8_t cmd[16 + 88 + 16] = { 0 };
	struct vmedia_cmd_ioctl c = { .hdr.cmd = VMEDIA_CMD_IOCTL, .session_id = id,
				      .code = _IOC_NR(VIDIOC_QBUF) };
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_USERPTR, .length = 8192 };
	struct vmedia_sg_entry sg = { .start = P.g.cmdq.gpa_base + 0x10000, .len = 4096 };
	memcpy(cmd, &c, sizeof(c));
	memcpy(cmd + 16, &b, sizeof(b));
	memcpy(cmd + 16 + 88, &sg, sizeof(sg));
	cr_expect_eq(raw(cmd, sizeof(cmd), NULL, 8 + 88, NULL), EINVAL);
	cr_expect_eq(P.rec.calls, 0);
}

Test(runner, userptr_sg_entry_outside_memory_is_efault)
{
	uint32_t id = open_session();
	uint8_t cmd[16 + 88 + 16] = { 0 };
	struct vmedia_cmd_ioctl c = { .hdr.cmd = VMEDIA_CMD_IOCTL, .session_id = id,
				      .code = _IOC_NR(VIDIOC_QBUF) };
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_USERPTR, .length = 4096 };
	struct vmedia_sg_entry sg = { .start = 0x1000, .len = 4096 };
	memcpy(cmd, &c, sizeof(c));
	memcpy(cmd + 16, &b, sizeof(b));
	memcpy(cmd + 16 + 88, &sg, sizeof(sg));
	cr_expect_eq(raw(cmd, sizeof(cmd), NULL, 8 + 88, NULL), EFAULT);
	cr_expect_eq(P.rec.calls, 0);
}

Test(runner, failed_qbuf_releases_usermem)
{
	P.g.shape.sg_segments = 3;
	uint32_t id = open_session();
	static uint8_t user[8192];
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_USERPTR, .length = sizeof(user),
				 .m.userptr = (unsigned long)user };
	P.rec.fail_with = EINVAL;
	cr_expect_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_QBUF, &b), -EINVAL);
	cr_expect_eq(P.dev.usermem_used, 0);
}

Test(runner, dmabuf_uuids_follow_the_planes)
{
	uint32_t id = open_session();
	for (int i = 0; i < VMEDIA_UUID_SIZE; i++)
		P.g.uuids[0][i] = (uint8_t)(0x40 + i), P.g.uuids[1][i] = (uint8_t)(0x80 + i);
	struct v4l2_plane planes[2] = { { .length = 100 }, { .length = 200 } };
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
				 .memory = V4L2_MEMORY_DMABUF, .length = 2, .m.planes = planes };
	cr_assert_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_QBUF, &b), 0);
	cr_expect_eq(P.rec.last_buf.uuid[0][0], 0x40);
	cr_expect_eq(P.rec.last_buf.uuid[1][15], 0x80 + 15);
}

Test(runner, expbuf_uuid_in_both_parts)
{
	uint32_t id = open_session();
	memset(P.g.uuids, 0x33, sizeof(P.g.uuids));
	struct v4l2_exportbuffer e = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .index = 1 };
	cr_assert_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_EXPBUF, &e), 0);
	cr_expect_eq(P.rec.last_arg[0], 0x33);
	cr_expect_eq(e.fd, 42);
	cr_expect_eq(P.g.uuids[0][0], 0xc0);
	cr_expect_eq(P.g.uuids[0][15], 0xcf);
}

/* ---- ext controls ---- */

Test(runner, ext_controls_round_trip_with_pointer_memory)
{
	P.g.shape.sg_segments = 2;
	uint32_t id = open_session();
	uint8_t blob[40];
	memset(blob, 0x77, sizeof(blob));
	struct v4l2_ext_control ctrls[3] = {
		{ .id = V4L2_CID_BRIGHTNESS, .value = 5 },
		{ .id = V4L2_CID_USER_BASE + 0x1000, .size = sizeof(blob), .ptr = blob },
		{ .id = V4L2_CID_CONTRAST, .value = 9 },
	};
	struct v4l2_ext_controls c = { .which = V4L2_CTRL_WHICH_CUR_VAL, .count = 3,
				       .controls = ctrls };
	P.rec.ctrl_answer = 0x99;
	cr_assert_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_G_EXT_CTRLS, &c), 0);
	cr_expect_eq(P.rec.last_ctrl_count, 3);
	cr_expect_eq(P.rec.last_ctrls[0].value, 5);
	cr_expect_null(P.rec.last_ctrls[1].ptr, "the device never sees the guest pointer");
	cr_expect_eq(P.rec.last_ctrl_data[1][0], 0x77, "pointer memory readable");
	cr_expect_eq(ctrls[0].value, 5 ^ REC_XOR);
	cr_expect_eq(ctrls[2].value, 9 ^ REC_XOR);
	cr_expect_eq(ctrls[1].ptr, blob, "placeholder back");
	cr_expect_eq(c.controls, ctrls);
	for (unsigned i = 0; i < sizeof(blob); i++)
		cr_assert_eq(blob[i], 0x99, "byte %u written back through the SG list", i);
	cr_expect_eq(P.dev.usermem_used, 0);
}

Test(runner, ext_controls_payload_written_back_on_error)
{
	uint32_t id = open_session();
	struct v4l2_ext_control ctrls[2] = { { .id = V4L2_CID_BRIGHTNESS, .value = 1 },
					     { .id = V4L2_CID_CONTRAST, .value = 2 } };
	struct v4l2_ext_controls c = { .which = V4L2_CTRL_WHICH_CUR_VAL, .count = 2,
				       .controls = ctrls };
	P.rec.fail_with = ERANGE;
	cr_expect_eq(vmedia_guest_ioctl(&P.g, id, VIDIOC_S_EXT_CTRLS, &c), -ERANGE);
	cr_expect_eq(c.error_idx, 1, "error_idx came back with the error");
	cr_expect_eq(ctrls[0].value, 1 ^ REC_XOR);
}

Test(runner, ext_control_count_larger_than_the_chain_is_einval)
{
	uint32_t id = open_session();
	uint8_t cmd[16 + 32 + 2 * 20] = { 0 };
	struct vmedia_cmd_ioctl c = { .hdr.cmd = VMEDIA_CMD_IOCTL, .session_id = id,
				      .code = _IOC_NR(VIDIOC_S_EXT_CTRLS) };
	struct v4l2_ext_controls x = { .count = 1000 };
	memcpy(cmd, &c, sizeof(c));
	memcpy(cmd + 16, &x, sizeof(x));
	cr_expect_eq(raw(cmd, sizeof(cmd), NULL, 8 + 32 + 2 * 20, NULL), EINVAL);
	cr_expect_eq(P.rec.calls, 0);
}

Test(runner, ext_control_count_above_the_kernel_cap_is_einval)
{
	uint32_t id = open_session();
	uint8_t cmd[16 + 32] = { 0 };
	struct vmedia_cmd_ioctl c = { .hdr.cmd = VMEDIA_CMD_IOCTL, .session_id = id,
				      .code = _IOC_NR(VIDIOC_G_EXT_CTRLS) };
	struct v4l2_ext_controls x = { .count = 0xffffffffu };
	memcpy(cmd, &c, sizeof(c));
	memcpy(cmd + 16, &x, sizeof(x));
	cr_expect_eq(raw(cmd, sizeof(cmd), NULL, 8 + 32, NULL), EINVAL);
	cr_expect_eq(P.rec.calls, 0);
}

/* ---- MMAP / MUNMAP commands ---- */

Test(runner, mmap_command_is_20_bytes_and_maps_a_buffer)
{
	uint32_t id = open_session();
	uint32_t off;
	void *host;
	cr_assert_eq(vmedia_mmap_alloc(&P.dev, 5000, &off, &host), 0);
	memset(host, 0x3c, 5000);
	uint64_t addr, len;
	cr_assert_eq(vmedia_guest_mmap(&P.g, id, VMEDIA_MMAP_FLAG_RW, off, &addr, &len), 0);
	cr_expect_eq(len, 5000);
	uint8_t *view = vmedia_guest_shm_ptr(&P.g, addr, len);
	cr_assert_not_null(view);
	cr_expect_eq(view[4999], 0x3c);
	cr_expect_eq(vmedia_guest_munmap(&P.g, addr), 0);
	cr_expect_eq(vmedia_guest_munmap(&P.g, addr), -EINVAL, "second MUNMAP: no mapping");
}

Test(runner, mmap_of_unknown_offset_or_session_is_einval)
{
	uint32_t id = open_session();
	uint64_t addr, len;
	cr_expect_eq(vmedia_guest_mmap(&P.g, id, 0, 0x7000, &addr, &len), -EINVAL);
	struct vmedia_cmd_mmap m = { .hdr.cmd = VMEDIA_CMD_MMAP, .session_id = id + 100 };
	cr_expect_eq(raw(&m, sizeof(m), NULL, 24, NULL), EINVAL);
	cr_expect_eq(raw(&m, 16, NULL, 24, NULL), EINVAL, "truncated MMAP");
}

Test(runner, mmap_without_shm_is_enodev)
{
	media_pair_destroy(&P);
	media_pair_init(&P, &(struct media_pair_opts){ .no_shm = true });
	uint32_t id = open_session();
	uint64_t addr, len;
	cr_expect_eq(vmedia_guest_mmap(&P.g, id, 0, 0, &addr, &len), -ENODEV);
}

/* The environment a runtime gives a device: stored as given, cleared by NULL. */
static int env_timer_start_stub(void *env, uint64_t first_ns, uint64_t period_ns,
				void (*cb)(void *arg, uint64_t expirations), void *arg)
{
	(void)env, (void)first_ns, (void)period_ns, (void)cb, (void)arg;
	return -ENOSYS;
}

Test(device_env, set_env_stores_the_ops)
{
	static const struct vmedia_env_ops ops = { .timer_start = env_timer_start_stub };
	struct vmedia_device dev;
	memset(&dev, 0, sizeof(dev));
	cr_assert_null(dev.env_ops);
	int token;
	vmedia_device_set_env(&dev, &ops, &token);
	cr_assert_eq(dev.env_ops, &ops);
	cr_assert_eq(dev.env, &token);
	cr_assert_eq(dev.env_ops->timer_start(dev.env, 0, 0, NULL, NULL), -ENOSYS);
	vmedia_device_set_env(&dev, NULL, &token);
	cr_assert_null(dev.env_ops);
	cr_assert_null(dev.env);
}
