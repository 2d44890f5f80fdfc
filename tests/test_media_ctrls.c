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
