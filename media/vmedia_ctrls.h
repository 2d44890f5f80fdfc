/* SPDX-License-Identifier: MIT */
/*
 * vmedia_ctrls — a device's controls as a constant table, answering the
 * control queries the way the kernel's control framework (v4l2-ctrls) does.
 * With virtio-media no framework stands between the guest's V4L2 core and
 * the device, so every device that has controls needs the same lookups:
 * QUERYCTRL / QUERY_EXT_CTRL with V4L2_CTRL_FLAG_NEXT_CTRL enumeration,
 * and the id search behind G/S_CTRL.  Values, events and menus stay the
 * device's business.
 */
#ifndef VMEDIA_CTRLS_H
#define VMEDIA_CTRLS_H

#include "vmedia_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One control: what QUERY_EXT_CTRL reports (a 32-bit scalar). */
struct vmedia_ctrl_desc {
	uint32_t id, type;
	const char *name;
	int32_t min, max, step, def;
	uint32_t flags;
};

/* The device's controls, sorted by id (NEXT_CTRL walks them in order). */
struct vmedia_ctrl_table {
	const struct vmedia_ctrl_desc *c;
	unsigned n;
};

/* The index of control @id, or -1. */
int vmedia_ctrl_find(const struct vmedia_ctrl_table *t, uint32_t id);

/* QUERYCTRL's lookup of @raw_id: exact, or with V4L2_CTRL_FLAG_NEXT_CTRL
 * the first control above the id (NEXT_COMPOUND alone: none, as the table
 * holds no compound controls).  The index, or -1. */
int vmedia_ctrl_lookup(const struct vmedia_ctrl_table *t, uint32_t raw_id);

/* Fill @q for its id (NEXT_CTRL allowed).  Returns 0 or -EINVAL. */
int vmedia_ctrl_query_ext(const struct vmedia_ctrl_table *t, struct v4l2_query_ext_ctrl *q);
/* The same for the older QUERYCTRL. */
int vmedia_ctrl_query(const struct vmedia_ctrl_table *t, struct v4l2_queryctrl *q);

/*
 * G / S / TRY_EXT_CTRLS' first step, the framework's prepare_ext_ctrls():
 * @c->which is CUR_VAL, DEF_VAL or a class the table has a class control
 * for (requests are not supported: REQUEST_VAL is EINVAL like any unknown
 * which), and each of the @c->count controls @ctl is in the table and, for
 * a class, of that class.  Returns 0 with idx[k] the table index of
 * ctl[k], or -EINVAL with c->error_idx at the bad control (count for a bad
 * which).  @idx holds c->count entries.
 */
int vmedia_ctrl_resolve(const struct vmedia_ctrl_table *t, struct v4l2_ext_controls *c,
			const struct v4l2_ext_control *ctl, int *idx);

/* The V4L2_EVENT_CTRL for control @i of the table holding @value. */
void vmedia_ctrl_event(const struct vmedia_ctrl_table *t, int i, int32_t value,
		       uint32_t changes, struct v4l2_event *ev);

#ifdef __cplusplus
}
#endif
#endif /* VMEDIA_CTRLS_H */
