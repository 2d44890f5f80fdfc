/* SPDX-License-Identifier: MIT */
/*
 * The simple camera's controls through the guest driver: enumeration
 * (QUERYCTRL / QUERY_EXT_CTRL / QUERYMENU), G/S_CTRL, G/S/TRY_EXT_CTRLS
 * with the control framework's error rules, and V4L2_EVENT_CTRL delivery
 * to subscribed sessions.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

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

TestSuite(controls, .init = setup, .fini = teardown);

static const struct {
	uint32_t id, type;
	const char *name;
	int32_t min, max, def;
} CTRLS[] = {
	{ V4L2_CID_USER_CLASS, V4L2_CTRL_TYPE_CTRL_CLASS, "User Controls", 0, 0, 0 },
	{ V4L2_CID_BRIGHTNESS, V4L2_CTRL_TYPE_INTEGER, "Brightness", 0, 255, 128 },
	{ V4L2_CID_CONTRAST, V4L2_CTRL_TYPE_INTEGER, "Contrast", 0, 255, 128 },
	{ V4L2_CID_SATURATION, V4L2_CTRL_TYPE_INTEGER, "Saturation", 0, 255, 128 },
	{ V4L2_CID_HUE, V4L2_CTRL_TYPE_INTEGER, "Hue", -180, 180, 0 },
	{ V4L2_CID_COLORFX, V4L2_CTRL_TYPE_MENU, "Color Effects", 0, 3, 0 },
};
#define NCTRLS (sizeof(CTRLS) / sizeof(CTRLS[0]))

/* ---- enumeration ---- */

Test(controls, queryctrl_next_walks_every_control_in_order)
{
	uint32_t id = 0;
	for (unsigned i = 0; i < NCTRLS; i++) {
		struct v4l2_queryctrl q;
		memset(&q, 0xee, sizeof(q));
		q.id = id | V4L2_CTRL_FLAG_NEXT_CTRL;
		cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYCTRL, &q), 0);
		cr_expect_eq(q.id, CTRLS[i].id);
		cr_expect_eq(q.type, CTRLS[i].type);
		cr_expect_str_eq((const char *)q.name, CTRLS[i].name);
		cr_expect_eq(q.minimum, CTRLS[i].min);
		cr_expect_eq(q.maximum, CTRLS[i].max);
		cr_expect_eq(q.default_value, CTRLS[i].def);
		cr_expect_eq(q.step, CTRLS[i].type == V4L2_CTRL_TYPE_CTRL_CLASS ? 0 : 1);
		cr_expect_eq(q.reserved[0], 0);
		id = q.id;
	}
	struct v4l2_queryctrl q = { .id = id | V4L2_CTRL_FLAG_NEXT_CTRL };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYCTRL, &q), -EINVAL, "no more");
}

Test(controls, query_ext_ctrl_describes_each_control)
{
	uint32_t id = 0;
	for (unsigned i = 0; i < NCTRLS; i++) {
		struct v4l2_query_ext_ctrl q;
		memset(&q, 0xee, sizeof(q));
		q.id = id | V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CTRL_FLAG_NEXT_COMPOUND;
		cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QUERY_EXT_CTRL, &q), 0);
		cr_expect_eq(q.id, CTRLS[i].id);
		cr_expect_eq(q.elems, 1);
		cr_expect_eq(q.elem_size, 4);
		cr_expect_eq(q.nr_of_dims, 0);
		cr_expect_eq(q.reserved[0], 0);
		id = q.id;
	}
	struct v4l2_query_ext_ctrl q = { .id = V4L2_CTRL_FLAG_NEXT_COMPOUND };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QUERY_EXT_CTRL, &q), -EINVAL, "no compound controls");
	q = (struct v4l2_query_ext_ctrl){ .id = V4L2_CID_HUE };
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QUERY_EXT_CTRL, &q), 0);
	cr_expect_eq(q.minimum, -180);
	cr_expect_eq(q.flags, V4L2_CTRL_FLAG_SLIDER);
}

Test(controls, the_class_control_is_neither_readable_nor_writable)
{
	struct v4l2_queryctrl q = { .id = V4L2_CID_USER_CLASS };
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYCTRL, &q), 0);
	cr_expect_eq(q.flags, V4L2_CTRL_FLAG_READ_ONLY | V4L2_CTRL_FLAG_WRITE_ONLY);
	int32_t v;
	cr_expect_eq(sp_g_ctrl(&SP, ID, V4L2_CID_USER_CLASS, &v), -EACCES);
	cr_expect_eq(sp_s_ctrl(&SP, ID, V4L2_CID_USER_CLASS, 0), -EACCES);
}

Test(controls, unknown_ids_are_einval_everywhere)
{
	const uint32_t ids[] = { 0, V4L2_CID_GAIN, V4L2_CID_PRIVATE_BASE, V4L2_CID_EXPOSURE_ABSOLUTE,
				 V4L2_CID_CAMERA_CLASS_BASE, 0xffffffff & ~V4L2_CTRL_FLAG_NEXT_CTRL };
	for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct v4l2_queryctrl q = { .id = ids[i] };
		cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYCTRL, &q), -EINVAL, "id %#x", ids[i]);
		struct v4l2_query_ext_ctrl x = { .id = ids[i] };
		cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QUERY_EXT_CTRL, &x), -EINVAL);
		struct v4l2_querymenu m = { .id = ids[i] };
		cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYMENU, &m), -EINVAL);
		int32_t v;
		cr_expect_eq(sp_g_ctrl(&SP, ID, ids[i], &v), -EINVAL);
		cr_expect_eq(sp_s_ctrl(&SP, ID, ids[i], 1), -EINVAL);
	}
}

Test(controls, querymenu_names_each_color_effect)
{
	const char *names[] = { "None", "Black & White", "Sepia", "Negative" };
	for (uint32_t i = 0; i < 4; i++) {
		struct v4l2_querymenu m;
		memset(&m, 0xee, sizeof(m));
		m.id = V4L2_CID_COLORFX;
		m.index = i;
		cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYMENU, &m), 0);
		cr_expect_str_eq((const char *)m.name, names[i]);
		cr_expect_eq(m.reserved, 0);
	}
	struct v4l2_querymenu m = { .id = V4L2_CID_COLORFX, .index = 4 };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYMENU, &m), -EINVAL);
	m = (struct v4l2_querymenu){ .id = V4L2_CID_BRIGHTNESS, .index = 0 };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_QUERYMENU, &m), -EINVAL, "not a menu");
}

/* ---- G / S_CTRL ---- */

Test(controls, defaults_then_set_get_and_clamp)
{
	for (unsigned i = 1; i < NCTRLS; i++) {
		int32_t v = 9999;
		cr_assert_eq(sp_g_ctrl(&SP, ID, CTRLS[i].id, &v), 0);
		cr_expect_eq(v, CTRLS[i].def, "%s", CTRLS[i].name);
	}
	struct v4l2_control c = { .id = V4L2_CID_BRIGHTNESS, .value = 300 };
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_S_CTRL, &c), 0);
	cr_expect_eq(c.value, 255, "clamped");
	c = (struct v4l2_control){ .id = V4L2_CID_HUE, .value = -1000 };
	cr_assert_eq(sp_ioctl(&SP, ID, VIDIOC_S_CTRL, &c), 0);
	cr_expect_eq(c.value, -180);
	int32_t v;
	cr_assert_eq(sp_g_ctrl(&SP, ID, V4L2_CID_HUE, &v), 0);
	cr_expect_eq(v, -180);
	cr_expect_eq(sp_s_ctrl(&SP, ID, V4L2_CID_COLORFX, 4), -ERANGE);
	cr_expect_eq(sp_s_ctrl(&SP, ID, V4L2_CID_COLORFX, -1), -ERANGE);
	cr_expect_eq(sp_s_ctrl(&SP, ID, V4L2_CID_COLORFX, V4L2_COLORFX_SEPIA), 0);
	cr_assert_eq(sp_g_ctrl(&SP, ID, V4L2_CID_COLORFX, &v), 0);
	cr_expect_eq(v, V4L2_COLORFX_SEPIA);
}

Test(controls, values_are_shared_by_all_sessions)
{
	uint32_t other = sp_open(&SP);
	cr_assert_eq(sp_s_ctrl(&SP, ID, V4L2_CID_SATURATION, 12), 0);
	int32_t v;
	cr_assert_eq(sp_g_ctrl(&SP, other, V4L2_CID_SATURATION, &v), 0);
	cr_expect_eq(v, 12);
}

/* ---- extended controls ---- */

static int ext(uint32_t session, unsigned long req, uint32_t which, struct v4l2_ext_control *c,
	       uint32_t n, uint32_t *error_idx)
{
	struct v4l2_ext_controls x = { .which = which, .count = n, .controls = c };
	x.error_idx = 0xdead;
	int r = sp_ioctl(&SP, session, req, &x);
	if (error_idx)
		*error_idx = x.error_idx;
	return r;
}

Test(controls, g_ext_ctrls_reads_current_and_default_values)
{
	cr_assert_eq(sp_s_ctrl(&SP, ID, V4L2_CID_CONTRAST, 77), 0);
	struct v4l2_ext_control c[3] = { { .id = V4L2_CID_CONTRAST },
					 { .id = V4L2_CID_HUE },
					 { .id = V4L2_CID_COLORFX } };
	uint32_t idx;
	cr_assert_eq(ext(ID, VIDIOC_G_EXT_CTRLS, V4L2_CTRL_WHICH_CUR_VAL, c, 3, &idx), 0);
	cr_expect_eq(c[0].value, 77);
	cr_expect_eq(c[1].value, 0);
	cr_expect_eq(idx, 3);
	cr_assert_eq(ext(ID, VIDIOC_G_EXT_CTRLS, V4L2_CTRL_WHICH_DEF_VAL, c, 3, NULL), 0);
	cr_expect_eq(c[0].value, 128);
	cr_assert_eq(ext(ID, VIDIOC_G_EXT_CTRLS, V4L2_CTRL_CLASS_USER, c, 3, NULL), 0);
	cr_expect_eq(c[0].value, 77);
	cr_expect_eq(ext(ID, VIDIOC_G_EXT_CTRLS, V4L2_CTRL_WHICH_CUR_VAL, c, 0, NULL), 0,
		     "count 0");
}

Test(controls, ext_ctrls_refuse_unknown_which_and_ids_with_the_right_error_idx)
{
	struct v4l2_ext_control c[3] = { { .id = V4L2_CID_CONTRAST },
					 { .id = V4L2_CID_GAIN },
					 { .id = V4L2_CID_HUE } };
	uint32_t idx;
	cr_expect_eq(ext(ID, VIDIOC_G_EXT_CTRLS, V4L2_CTRL_CLASS_CAMERA, c, 1, NULL), -EINVAL);
	cr_expect_eq(ext(ID, VIDIOC_G_EXT_CTRLS, V4L2_CTRL_WHICH_REQUEST_VAL, c, 1, NULL), -EINVAL);
	cr_expect_eq(ext(ID, VIDIOC_G_EXT_CTRLS, 0x12345678, c, 1, NULL), -EINVAL);
	cr_expect_eq(ext(ID, VIDIOC_G_EXT_CTRLS, V4L2_CTRL_WHICH_CUR_VAL, c, 3, &idx), -EINVAL);
	cr_expect_eq(idx, 3, "G: nothing read, error_idx = count");
	cr_expect_eq(ext(ID, VIDIOC_TRY_EXT_CTRLS, V4L2_CTRL_WHICH_CUR_VAL, c, 3, &idx), -EINVAL);
	cr_expect_eq(idx, 1);
	cr_expect_eq(ext(ID, VIDIOC_S_EXT_CTRLS, V4L2_CTRL_WHICH_CUR_VAL, c, 3, &idx), -EINVAL);
	cr_expect_eq(idx, 3, "S: nothing applied, error_idx = count");
	cr_expect_eq(ext(ID, VIDIOC_S_EXT_CTRLS, V4L2_CTRL_WHICH_DEF_VAL, c, 1, NULL), -EINVAL);
	struct v4l2_ext_control cls = { .id = V4L2_CID_USER_CLASS };
	cr_expect_eq(ext(ID, VIDIOC_G_EXT_CTRLS, V4L2_CTRL_WHICH_CUR_VAL, &cls, 1, NULL), -EACCES);
	cr_expect_eq(ext(ID, VIDIOC_S_EXT_CTRLS, V4L2_CTRL_WHICH_CUR_VAL, &cls, 1, NULL), -EACCES);
}

Test(controls, s_ext_ctrls_is_all_or_nothing)
{
	struct v4l2_ext_control c[2] = { { .id = V4L2_CID_BRIGHTNESS, .value = 10 },
					 { .id = V4L2_CID_COLORFX, .value = 9 } };
	uint32_t idx;
	cr_expect_eq(ext(ID, VIDIOC_TRY_EXT_CTRLS, V4L2_CTRL_WHICH_CUR_VAL, c, 2, &idx), -ERANGE);
	cr_expect_eq(idx, 1);
	cr_expect_eq(ext(ID, VIDIOC_S_EXT_CTRLS, V4L2_CTRL_WHICH_CUR_VAL, c, 2, &idx), -ERANGE);
	cr_expect_eq(idx, 2);
	int32_t v;
	cr_assert_eq(sp_g_ctrl(&SP, ID, V4L2_CID_BRIGHTNESS, &v), 0);
	cr_expect_eq(v, 128, "brightness untouched");
	c[1].value = 2;
	c[0].value = 1000;
	cr_assert_eq(ext(ID, VIDIOC_TRY_EXT_CTRLS, V4L2_CTRL_WHICH_CUR_VAL, c, 2, NULL), 0);
	cr_expect_eq(c[0].value, 255, "TRY returns the clamped value");
	cr_assert_eq(sp_g_ctrl(&SP, ID, V4L2_CID_BRIGHTNESS, &v), 0);
	cr_expect_eq(v, 128, "TRY changes nothing");
	cr_assert_eq(ext(ID, VIDIOC_S_EXT_CTRLS, V4L2_CTRL_CLASS_USER, c, 2, &idx), 0);
	cr_expect_eq(idx, 2);
	cr_assert_eq(sp_g_ctrl(&SP, ID, V4L2_CID_BRIGHTNESS, &v), 0);
	cr_expect_eq(v, 255);
	cr_assert_eq(sp_g_ctrl(&SP, ID, V4L2_CID_COLORFX, &v), 0);
	cr_expect_eq(v, 2);
}

Test(controls, the_largest_count_is_checked_control_by_control)
{
	static struct v4l2_ext_control many[1024];
	for (unsigned i = 0; i < 1024; i++)
		many[i].id = V4L2_CID_BRIGHTNESS;
	many[1000].id = 0;
	struct v4l2_ext_controls x = { .count = 1024, .controls = many };
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_TRY_EXT_CTRLS, &x), -EINVAL);
	cr_expect_eq(x.error_idx, 1000);
	many[1000].id = V4L2_CID_BRIGHTNESS;
	cr_expect_eq(sp_ioctl(&SP, ID, VIDIOC_G_EXT_CTRLS, &x), 0, "repeats are allowed");
	cr_expect_eq(many[1023].value, 128);
}

/* ---- events ---- */

static int subscribe(uint32_t session, uint32_t type, uint32_t id, uint32_t flags)
{
	struct v4l2_event_subscription s = { .type = type, .id = id, .flags = flags };
	return sp_ioctl(&SP, session, VIDIOC_SUBSCRIBE_EVENT, &s);
}

static int dqevent(uint32_t session, struct v4l2_event *ev)
{
	return vmedia_guest_dqevent(&SP.p.g, session, ev);
}

Test(controls, a_change_is_sent_to_subscribers_but_not_back_to_the_setter)
{
	uint32_t other = sp_open(&SP);
	cr_assert_eq(subscribe(other, V4L2_EVENT_CTRL, V4L2_CID_BRIGHTNESS, 0), 0);
	cr_assert_eq(subscribe(ID, V4L2_EVENT_CTRL, V4L2_CID_BRIGHTNESS, 0), 0);
	cr_assert_eq(sp_s_ctrl(&SP, ID, V4L2_CID_BRIGHTNESS, 99), 0);
	struct v4l2_event ev;
	cr_assert_eq(dqevent(other, &ev), 0);
	cr_expect_eq(ev.type, V4L2_EVENT_CTRL);
	cr_expect_eq(ev.id, V4L2_CID_BRIGHTNESS);
	cr_expect_eq(ev.u.ctrl.changes, V4L2_EVENT_CTRL_CH_VALUE);
	cr_expect_eq(ev.u.ctrl.value, 99);
	cr_expect_eq(ev.u.ctrl.type, V4L2_CTRL_TYPE_INTEGER);
	cr_expect_eq(ev.u.ctrl.maximum, 255);
	cr_expect_eq(ev.u.ctrl.default_value, 128);
	cr_expect_eq(dqevent(ID, &ev), -ENOENT, "no feedback to the setter");
	cr_expect_eq(dqevent(other, &ev), -ENOENT);
	/* Setting the same value again is no change. */
	cr_assert_eq(sp_s_ctrl(&SP, ID, V4L2_CID_BRIGHTNESS, 99), 0);
	cr_expect_eq(dqevent(other, &ev), -ENOENT);
	/* Another control: not subscribed. */
	cr_assert_eq(sp_s_ctrl(&SP, ID, V4L2_CID_CONTRAST, 1), 0);
	cr_expect_eq(dqevent(other, &ev), -ENOENT);
	cr_expect_eq(SP.p.g.stats.unsubscribed_events, 0, "the device sent none");
}

Test(controls, allow_feedback_and_send_initial)
{
	cr_assert_eq(subscribe(ID, V4L2_EVENT_CTRL, V4L2_CID_HUE,
			       V4L2_EVENT_SUB_FL_ALLOW_FEEDBACK | V4L2_EVENT_SUB_FL_SEND_INITIAL),
		     0);
	struct v4l2_event ev;
	cr_assert_eq(dqevent(ID, &ev), 0);
	cr_expect_eq(ev.u.ctrl.changes, V4L2_EVENT_CTRL_CH_VALUE | V4L2_EVENT_CTRL_CH_FLAGS);
	cr_expect_eq(ev.u.ctrl.value, 0);
	cr_expect_eq(ev.u.ctrl.minimum, -180);
	struct v4l2_ext_control c[2] = { { .id = V4L2_CID_HUE, .value = 45 },
					 { .id = V4L2_CID_SATURATION, .value = 3 } };
	cr_assert_eq(ext(ID, VIDIOC_S_EXT_CTRLS, V4L2_CTRL_WHICH_CUR_VAL, c, 2, NULL), 0);
	cr_assert_eq(dqevent(ID, &ev), 0);
	cr_expect_eq(ev.id, V4L2_CID_HUE);
	cr_expect_eq(ev.u.ctrl.value, 45);
	cr_expect_eq(dqevent(ID, &ev), -ENOENT);
	/* Subscribing again sends no second initial event. */
	cr_assert_eq(subscribe(ID, V4L2_EVENT_CTRL, V4L2_CID_HUE, V4L2_EVENT_SUB_FL_SEND_INITIAL), 0);
	cr_expect_eq(dqevent(ID, &ev), -ENOENT);
	/* The class control cannot be read: no initial event for it. */
	cr_assert_eq(subscribe(ID, V4L2_EVENT_CTRL, V4L2_CID_USER_CLASS,
			       V4L2_EVENT_SUB_FL_SEND_INITIAL), 0);
	cr_expect_eq(dqevent(ID, &ev), -ENOENT);
}

Test(controls, unsubscribe_stops_events)
{
	uint32_t other = sp_open(&SP);
	cr_assert_eq(subscribe(other, V4L2_EVENT_CTRL, V4L2_CID_CONTRAST, 0), 0);
	cr_assert_eq(subscribe(other, V4L2_EVENT_CTRL, V4L2_CID_SATURATION, 0), 0);
	struct v4l2_event_subscription s = { .type = V4L2_EVENT_CTRL, .id = V4L2_CID_CONTRAST };
	cr_assert_eq(sp_ioctl(&SP, other, VIDIOC_UNSUBSCRIBE_EVENT, &s), 0);
	cr_assert_eq(sp_s_ctrl(&SP, ID, V4L2_CID_CONTRAST, 5), 0);
	struct v4l2_event ev;
	cr_expect_eq(dqevent(other, &ev), -ENOENT);
	cr_assert_eq(sp_s_ctrl(&SP, ID, V4L2_CID_SATURATION, 5), 0);
	cr_expect_eq(dqevent(other, &ev), 0);
	s = (struct v4l2_event_subscription){ .type = V4L2_EVENT_ALL };
	cr_assert_eq(sp_ioctl(&SP, other, VIDIOC_UNSUBSCRIBE_EVENT, &s), 0);
	cr_assert_eq(sp_s_ctrl(&SP, ID, V4L2_CID_SATURATION, 6), 0);
	cr_expect_eq(SP.p.g.stats.unsubscribed_events, 0, "the device knows it unsubscribed");
	s = (struct v4l2_event_subscription){ .type = V4L2_EVENT_CTRL, .id = V4L2_CID_HUE };
	cr_expect_eq(sp_ioctl(&SP, other, VIDIOC_UNSUBSCRIBE_EVENT, &s), 0, "never subscribed");
}

Test(controls, only_control_events_of_known_controls_can_be_subscribed)
{
	cr_expect_eq(subscribe(ID, V4L2_EVENT_CTRL, V4L2_CID_GAIN, 0), -EINVAL);
	cr_expect_eq(subscribe(ID, V4L2_EVENT_CTRL, 0, 0), -EINVAL);
	const uint32_t types[] = { V4L2_EVENT_EOS, V4L2_EVENT_SOURCE_CHANGE, V4L2_EVENT_VSYNC,
				   V4L2_EVENT_FRAME_SYNC, V4L2_EVENT_PRIVATE_START, 12345 };
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		cr_expect_eq(subscribe(ID, types[i], 0, 0), -EINVAL, "type %u", types[i]);
	/* The model lets ALL through (NO_CHECKS); the runner refuses it. */
	cr_expect_eq(subscribe(ID, V4L2_EVENT_ALL, 0, 0), -EINVAL);
}

Test(controls, a_closed_session_gets_no_more_events)
{
	uint32_t other = sp_open(&SP);
	cr_assert_eq(subscribe(other, V4L2_EVENT_CTRL, V4L2_CID_BRIGHTNESS, 0), 0);
	cr_assert_eq(vmedia_guest_close(&SP.p.g, other), 0);
	uint64_t sent = SP.p.dev.stats.events_sent;
	cr_assert_eq(sp_s_ctrl(&SP, ID, V4L2_CID_BRIGHTNESS, 1), 0);
	cr_expect_eq(SP.p.dev.stats.events_sent, sent);
}
