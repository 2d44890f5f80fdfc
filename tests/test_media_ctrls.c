/* SPDX-License-Identifier: MIT */
/* media/ctrls.c: control-table lookups as v4l2-ctrls answers them. */
#include <criterion/criterion.h>
#include <errno.h>

#include "vmedia_ctrls.h"

static const struct vmedia_ctrl_desc descs[] = {
	{ V4L2_CID_USER_CLASS, V4L2_CTRL_TYPE_CTRL_CLASS, "User Controls", 0, 0, 0, 0,
	  V4L2_CTRL_FLAG_READ_ONLY | V4L2_CTRL_FLAG_WRITE_ONLY },
	{ V4L2_CID_BRIGHTNESS, V4L2_CTRL_TYPE_INTEGER, "Brightness", -5, 250, 5, 100,
	  V4L2_CTRL_FLAG_SLIDER },
	{ V4L2_CID_MIN_BUFFERS_FOR_CAPTURE, V4L2_CTRL_TYPE_INTEGER,
	  "A name longer than the thirty-two bytes QUERYCTRL holds", 1, 32, 1, 4,
	  V4L2_CTRL_FLAG_READ_ONLY | V4L2_CTRL_FLAG_VOLATILE },
};
static const struct vmedia_ctrl_table T = { descs, 3 };

Test(ctrls, find_is_exact)
{
	cr_expect_eq(vmedia_ctrl_find(&T, V4L2_CID_BRIGHTNESS), 1);
	cr_expect_eq(vmedia_ctrl_find(&T, V4L2_CID_CONTRAST), -1);
	cr_expect_eq(vmedia_ctrl_find(&T, V4L2_CID_BRIGHTNESS | V4L2_CTRL_FLAG_NEXT_CTRL), -1);
}

Test(ctrls, next_ctrl_walks_the_table_in_order)
{
	uint32_t id = V4L2_CTRL_FLAG_NEXT_CTRL;
	int seen[3], n = 0, i;
	while ((i = vmedia_ctrl_lookup(&T, id)) >= 0) {
		cr_assert_lt(n, 3);
		seen[n++] = i;
		id = descs[i].id | V4L2_CTRL_FLAG_NEXT_CTRL;
	}
	cr_expect_eq(n, 3);
	cr_expect(seen[0] == 0 && seen[1] == 1 && seen[2] == 2);
	/* Both flags: the next control; NEXT_COMPOUND alone: none here. */
	cr_expect_eq(vmedia_ctrl_lookup(&T, V4L2_CID_BRIGHTNESS | V4L2_CTRL_FLAG_NEXT_CTRL |
						 V4L2_CTRL_FLAG_NEXT_COMPOUND), 2);
	cr_expect_eq(vmedia_ctrl_lookup(&T, V4L2_CTRL_FLAG_NEXT_COMPOUND), -1);
	cr_expect_eq(vmedia_ctrl_lookup(&T, V4L2_CID_BRIGHTNESS), 1);
}

Test(ctrls, query_ext_fills_everything_and_clears_the_rest)
{
	struct v4l2_query_ext_ctrl q;
	memset(&q, 0xa5, sizeof(q));
	q.id = V4L2_CID_USER_CLASS | V4L2_CTRL_FLAG_NEXT_CTRL;
	cr_assert_eq(vmedia_ctrl_query_ext(&T, &q), 0);
	cr_expect_eq(q.id, V4L2_CID_BRIGHTNESS);
	cr_expect_eq(q.type, V4L2_CTRL_TYPE_INTEGER);
	cr_expect_str_eq(q.name, "Brightness");
	cr_expect(q.minimum == -5 && q.maximum == 250 && q.step == 5 && q.default_value == 100);
	cr_expect_eq(q.flags, V4L2_CTRL_FLAG_SLIDER);
	cr_expect(q.elem_size == 4 && q.elems == 1 && q.nr_of_dims == 0);
	for (size_t i = 0; i < sizeof(q.reserved) / sizeof(q.reserved[0]); i++)
		cr_expect_eq(q.reserved[i], 0);
	q.id = V4L2_CID_CONTRAST;
	cr_expect_eq(vmedia_ctrl_query_ext(&T, &q), -EINVAL);
}

Test(ctrls, queryctrl_truncates_the_name_and_terminates_it)
{
	struct v4l2_queryctrl q;
	memset(&q, 0xa5, sizeof(q));
	q.id = V4L2_CID_MIN_BUFFERS_FOR_CAPTURE;
	cr_assert_eq(vmedia_ctrl_query(&T, &q), 0);
	cr_expect_eq(strlen((char *)q.name), sizeof(q.name) - 1);
	cr_expect_eq(strncmp((char *)q.name, descs[2].name, sizeof(q.name) - 1), 0);
	cr_expect(q.minimum == 1 && q.maximum == 32 && q.default_value == 4);
	cr_expect_eq(q.reserved[0], 0);
	cr_expect_eq(q.reserved[1], 0);
	q.id = V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CID_MIN_BUFFERS_FOR_CAPTURE;
	cr_expect_eq(vmedia_ctrl_query(&T, &q), -EINVAL);
}

Test(ctrls, resolve_maps_ids_and_checks_the_class)
{
	struct v4l2_ext_control ctl[2] = { { .id = V4L2_CID_MIN_BUFFERS_FOR_CAPTURE },
					   { .id = V4L2_CID_BRIGHTNESS } };
	struct v4l2_ext_controls c = { .which = V4L2_CTRL_WHICH_CUR_VAL, .count = 2 };
	int idx[2] = { -1, -1 };
	cr_assert_eq(vmedia_ctrl_resolve(&T, &c, ctl, idx), 0);
	cr_expect(idx[0] == 2 && idx[1] == 1);
	/* A class the table has: every control must be of it. */
	const struct vmedia_ctrl_desc mixed[] = {
		descs[0], descs[1],
		{ V4L2_CID_EXPOSURE_ABSOLUTE, V4L2_CTRL_TYPE_INTEGER, "Exposure", 1, 10, 1, 5, 0 },
	};
	const struct vmedia_ctrl_table classes = { mixed, 3 };
	c.which = V4L2_CTRL_CLASS_USER;
	ctl[0].id = V4L2_CID_EXPOSURE_ABSOLUTE;
	cr_expect_eq(vmedia_ctrl_resolve(&classes, &c, ctl, idx), -EINVAL);
	cr_expect_eq(c.error_idx, 0); /* a camera control in a user-class call */
	ctl[0].id = V4L2_CID_MIN_BUFFERS_FOR_CAPTURE;
	cr_expect_eq(vmedia_ctrl_resolve(&T, &c, ctl, idx), 0);
	/* An unknown id names itself. */
	c.which = V4L2_CTRL_WHICH_DEF_VAL;
	ctl[1].id = V4L2_CID_CONTRAST;
	cr_expect_eq(vmedia_ctrl_resolve(&T, &c, ctl, idx), -EINVAL);
	cr_expect_eq(c.error_idx, 1);
	/* A class the table lacks, and requests: count. */
	c.which = V4L2_CTRL_CLASS_CAMERA;
	cr_expect_eq(vmedia_ctrl_resolve(&T, &c, ctl, idx), -EINVAL);
	cr_expect_eq(c.error_idx, 2);
	c.which = V4L2_CTRL_WHICH_REQUEST_VAL;
	cr_expect_eq(vmedia_ctrl_resolve(&T, &c, ctl, idx), -EINVAL);
	cr_expect_eq(c.error_idx, 2);
}

Test(ctrls, event_describes_the_control_with_the_value_given)
{
	struct v4l2_event ev;
	memset(&ev, 0xa5, sizeof(ev));
	vmedia_ctrl_event(&T, 1, 42, V4L2_EVENT_CTRL_CH_VALUE, &ev);
	cr_expect_eq(ev.type, V4L2_EVENT_CTRL);
	cr_expect_eq(ev.id, V4L2_CID_BRIGHTNESS);
	cr_expect_eq(ev.u.ctrl.changes, V4L2_EVENT_CTRL_CH_VALUE);
	cr_expect_eq(ev.u.ctrl.type, V4L2_CTRL_TYPE_INTEGER);
	cr_expect_eq(ev.u.ctrl.value, 42);
	cr_expect_eq(ev.u.ctrl.flags, V4L2_CTRL_FLAG_SLIDER);
	cr_expect(ev.u.ctrl.minimum == -5 && ev.u.ctrl.maximum == 250 && ev.u.ctrl.step == 5 &&
		  ev.u.ctrl.default_value == 100);
	cr_expect_eq(ev.sequence, 0);
	cr_expect_eq(ev.pending, 0);
}
