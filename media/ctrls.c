/* SPDX-License-Identifier: MIT */
/* Control-table lookups for devices; see vmedia_ctrls.h. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "vmedia_ctrls.h"

int vmedia_ctrl_find(const struct vmedia_ctrl_table *t, uint32_t id)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->c[i].id == id)
			return (int)i;
	return -1;
}

int vmedia_ctrl_lookup(const struct vmedia_ctrl_table *t, uint32_t raw_id)
{
	uint32_t next = raw_id & (V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CTRL_FLAG_NEXT_COMPOUND);
	uint32_t id = raw_id & ~next;
	if (!next)
		return vmedia_ctrl_find(t, id);
	if (!(next & V4L2_CTRL_FLAG_NEXT_CTRL))
		return -1;
	for (unsigned i = 0; i < t->n; i++)
		if (t->c[i].id > id)
			return (int)i;
	return -1;
}

int vmedia_ctrl_query_ext(const struct vmedia_ctrl_table *t, struct v4l2_query_ext_ctrl *q)
{
	int i = vmedia_ctrl_lookup(t, q->id);
	if (i < 0)
		return -EINVAL;
	const struct vmedia_ctrl_desc *c = &t->c[i];
	memset(q, 0, sizeof(*q));
	q->id = c->id;
	q->type = c->type;
	strncpy(q->name, c->name, sizeof(q->name) - 1);
	q->minimum = c->min;
	q->maximum = c->max;
	q->step = (uint64_t)c->step;
	q->default_value = c->def;
	q->flags = c->flags;
	q->elem_size = sizeof(int32_t);
	q->elems = 1;
	return 0;
}

int vmedia_ctrl_query(const struct vmedia_ctrl_table *t, struct v4l2_queryctrl *q)
{
	struct v4l2_query_ext_ctrl x = { .id = q->id };
	int r = vmedia_ctrl_query_ext(t, &x);
	if (r)
		return r;
	memset(q, 0, sizeof(*q));
	q->id = x.id;
	q->type = x.type;
	memcpy(q->name, x.name, sizeof(q->name) - 1);
	q->minimum = (int32_t)x.minimum;
	q->maximum = (int32_t)x.maximum;
	q->step = (int32_t)x.step;
	q->default_value = (int32_t)x.default_value;
	q->flags = x.flags;
	return 0;
}

/* CUR_VAL, DEF_VAL, or a class with its class control in the table. */
static bool which_ok(const struct vmedia_ctrl_table *t, uint32_t which)
{
	if (which == V4L2_CTRL_WHICH_CUR_VAL || which == V4L2_CTRL_WHICH_DEF_VAL)
		return true;
	int i = vmedia_ctrl_find(t, which | 1); /* V4L2_CID_<CLASS>_CLASS */
	return i >= 0 && t->c[i].type == V4L2_CTRL_TYPE_CTRL_CLASS;
}

int vmedia_ctrl_resolve(const struct vmedia_ctrl_table *t, struct v4l2_ext_controls *c,
			const struct v4l2_ext_control *ctl, int *idx)
{
	c->error_idx = c->count;
	if (!which_ok(t, c->which))
		return -EINVAL;
	bool by_class = c->which != V4L2_CTRL_WHICH_CUR_VAL && c->which != V4L2_CTRL_WHICH_DEF_VAL;
	for (uint32_t k = 0; k < c->count; k++) {
		c->error_idx = k;
		uint32_t id = ctl[k].id;
		int i = vmedia_ctrl_find(t, id);
		if (i < 0 || (by_class && V4L2_CTRL_ID2WHICH(id) != c->which))
			return -EINVAL;
		idx[k] = i;
	}
	return 0;
}

void vmedia_ctrl_event(const struct vmedia_ctrl_table *t, int i, int32_t value,
		       uint32_t changes, struct v4l2_event *ev)
{
	const struct vmedia_ctrl_desc *c = &t->c[i];
	memset(ev, 0, sizeof(*ev));
	ev->type = V4L2_EVENT_CTRL;
	ev->id = c->id;
	ev->u.ctrl.changes = changes;
	ev->u.ctrl.type = c->type;
	ev->u.ctrl.value = value;
	ev->u.ctrl.flags = c->flags;
	ev->u.ctrl.minimum = c->min;
	ev->u.ctrl.maximum = c->max;
	ev->u.ctrl.step = c->step;
	ev->u.ctrl.default_value = c->def;
}
