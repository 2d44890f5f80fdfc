/* SPDX-License-Identifier: MIT */
/* Control enumeration and "name=value" arguments; see controls.h. */
#include "controls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "v4l2names.h"

#define NEXT (V4L2_CTRL_FLAG_NEXT_CTRL | V4L2_CTRL_FLAG_NEXT_COMPOUND)
#define ID_MASK (~NEXT)

static int add(struct vqm_ctrls *out, unsigned *cap, const struct v4l2_query_ext_ctrl *q)
{
	if (out->n == *cap) {
		unsigned ncap = *cap ? 2 * *cap : 32;
		void *p = realloc(out->c, ncap * sizeof(*out->c));
		if (!p)
			return -ENOMEM;
		out->c = p;
		*cap = ncap;
	}
	struct vqm_ctrl *c = &out->c[out->n++];
	c->q = *q;
	c->q.name[sizeof(c->q.name) - 1] = 0;
	vqm_ctrl_var_name(c->q.name, c->var, sizeof(c->var));
	return 0;
}

/* QUERYCTRL's answer as QUERY_EXT_CTRL's. */
static void from_queryctrl(const struct v4l2_queryctrl *o, struct v4l2_query_ext_ctrl *q)
{
	memset(q, 0, sizeof(*q));
	q->id = o->id;
	q->type = o->type;
	memcpy(q->name, o->name, sizeof(o->name));
	q->minimum = o->minimum;
	q->maximum = o->maximum;
	q->step = (uint64_t)o->step;
	q->default_value = o->default_value;
	q->flags = o->flags;
	q->elem_size = o->type == V4L2_CTRL_TYPE_INTEGER64 ? 8 : 4;
	q->elems = 1;
}

int vqm_ctrls_query(struct vqm_stack *s, uint32_t sid, struct vqm_ctrls *out)
{
	memset(out, 0, sizeof(*out));
	unsigned cap = 0;
	uint32_t id = 0;
	/* Devices without QUERY_EXT_CTRL are asked with QUERYCTRL. */
	struct v4l2_query_ext_ctrl probe = { .id = NEXT };
	bool ext = vqm_ioctl(s, sid, VIDIOC_QUERY_EXT_CTRL, &probe) != -ENOTTY;
	/* V4L2_CID_MAX_CTRLS bounds a device that never stops answering. */
	for (unsigned i = 0; i < V4L2_CID_MAX_CTRLS; i++) {
		struct v4l2_query_ext_ctrl q = { .id = id | NEXT };
		int r;
		if (ext) {
			r = vqm_ioctl(s, sid, VIDIOC_QUERY_EXT_CTRL, &q);
		} else {
			struct v4l2_queryctrl o = { .id = id | V4L2_CTRL_FLAG_NEXT_CTRL };
			r = vqm_ioctl(s, sid, VIDIOC_QUERYCTRL, &o);
			if (!r)
				from_queryctrl(&o, &q);
		}
		if (r == -EINVAL || (r == -ENOTTY && !ext))
			return 0; /* the end of the list (or no controls at all) */
		if (r) {
			vqm_ctrls_free(out);
			return r;
		}
		if ((q.id & ID_MASK) <= id)
			return 0; /* not moving forward: stop rather than loop */
		id = q.id & ID_MASK;
		if ((r = add(out, &cap, &q)) != 0) {
			vqm_ctrls_free(out);
			return r;
		}
	}
	return 0;
}

void vqm_ctrls_free(struct vqm_ctrls *c)
{
	free(c->c);
	c->c = NULL;
	c->n = 0;
}

bool vqm_ctrl_has_value(const struct vqm_ctrl *c)
{
	switch (c->q.type) {
	case V4L2_CTRL_TYPE_INTEGER:
	case V4L2_CTRL_TYPE_BOOLEAN:
	case V4L2_CTRL_TYPE_MENU:
	case V4L2_CTRL_TYPE_INTEGER_MENU:
	case V4L2_CTRL_TYPE_BITMASK:
	case V4L2_CTRL_TYPE_INTEGER64:
		return !(c->q.flags & V4L2_CTRL_FLAG_HAS_PAYLOAD) && c->q.nr_of_dims == 0;
	default:
		return false;
	}
}

const struct vqm_ctrl *vqm_ctrls_find(const struct vqm_ctrls *c, const char *name)
{
	int64_t id = -1;
	if (!vqm_parse_i64(name, &id))
		id = -1;
	for (unsigned i = 0; i < c->n; i++) {
		if (c->c[i].q.type == V4L2_CTRL_TYPE_CTRL_CLASS)
			continue;
		if (!strcasecmp(c->c[i].var, name) || (id >= 0 && c->c[i].q.id == (uint64_t)id))
			return &c->c[i];
	}
	return NULL;
}

int vqm_ctrl_get(struct vqm_stack *s, uint32_t sid, const struct vqm_ctrl *c, int64_t *value)
{
	struct v4l2_ext_control ec = { .id = c->q.id };
	struct v4l2_ext_controls x = {
		.which = V4L2_CTRL_WHICH_CUR_VAL,
		.count = 1,
		.controls = &ec,
	};
	int r = vqm_ioctl(s, sid, VIDIOC_G_EXT_CTRLS, &x);
	if (r == -ENOTTY && c->q.type != V4L2_CTRL_TYPE_INTEGER64) {
		struct v4l2_control o = { .id = c->q.id };
		r = vqm_ioctl(s, sid, VIDIOC_G_CTRL, &o);
		ec.value = o.value;
	}
	if (r)
		return r;
	*value = c->q.type == V4L2_CTRL_TYPE_INTEGER64 ? ec.value64 : ec.value;
	return 0;
}

int vqm_ctrl_menu_item(struct vqm_stack *s, uint32_t sid, const struct vqm_ctrl *c,
		       uint32_t index, char *buf, size_t len)
{
	struct v4l2_querymenu m = { .id = c->q.id, .index = index };
	int r = vqm_ioctl(s, sid, VIDIOC_QUERYMENU, &m);
	if (r)
		return r;
	if (c->q.type == V4L2_CTRL_TYPE_INTEGER_MENU) {
		snprintf(buf, len, "%lld", (long long)m.value);
	} else {
		m.name[sizeof(m.name) - 1] = 0;
		snprintf(buf, len, "%s", (const char *)m.name);
	}
	return 0;
}

/* A menu item by command-line name or shown value. */
static bool menu_value(struct vqm_stack *s, uint32_t sid, const struct vqm_ctrl *c,
		       const char *want, int64_t *v)
{
	if (c->q.minimum < 0 || c->q.maximum > 255)
		return false;
	for (int64_t i = c->q.minimum; i <= c->q.maximum; i++) {
		char item[64], var[64];
		if (vqm_ctrl_menu_item(s, sid, c, (uint32_t)i, item, sizeof(item)))
			continue;
		vqm_ctrl_var_name(item, var, sizeof(var));
		if (!strcasecmp(var, want) || !strcasecmp(item, want)) {
			*v = i;
			return true;
		}
	}
	return false;
}

int vqm_ctrl_parse(struct vqm_stack *s, uint32_t sid, const struct vqm_ctrls *ctrls,
		   const char *arg, struct v4l2_ext_control *out, char *msg, size_t len)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1]) {
		snprintf(msg, len, "'%s': expected NAME=VALUE", arg);
		return -EINVAL;
	}
	char name[64];
	size_t n = (size_t)(eq - arg);
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, arg, n);
	name[n] = 0;
	const char *val = eq + 1;
	const struct vqm_ctrl *c = vqm_ctrls_find(ctrls, name);
	if (!c) {
		int w = snprintf(msg, len, "no control called '%s'; the device has:", name);
		for (unsigned i = 0; i < ctrls->n && w > 0 && (size_t)w < len; i++)
			if (vqm_ctrl_has_value(&ctrls->c[i]))
				w += snprintf(msg + w, len - (size_t)w, " %s", ctrls->c[i].var);
		return -ENOENT;
	}
	if (!vqm_ctrl_has_value(c)) {
		snprintf(msg, len, "%s: a %s control has no value to set", c->var,
			 vqm_ctrl_type_name(c->q.type));
		return -EINVAL;
	}
	if (c->q.flags & (V4L2_CTRL_FLAG_READ_ONLY | V4L2_CTRL_FLAG_DISABLED)) {
		snprintf(msg, len, "%s: the control is %s", c->var,
			 c->q.flags & V4L2_CTRL_FLAG_READ_ONLY ? "read-only" : "disabled");
		return -EACCES;
	}
	int64_t v;
	bool ok = vqm_parse_i64(val, &v);
	if (!ok && c->q.type == V4L2_CTRL_TYPE_BOOLEAN) {
		if ((ok = !strcasecmp(val, "true") || !strcasecmp(val, "on")))
			v = 1;
		else if ((ok = !strcasecmp(val, "false") || !strcasecmp(val, "off")))
			v = 0;
	}
	if (!ok && (c->q.type == V4L2_CTRL_TYPE_MENU || c->q.type == V4L2_CTRL_TYPE_INTEGER_MENU))
		ok = menu_value(s, sid, c, val, &v);
	if (!ok) {
		int w = snprintf(msg, len, "%s: '%s' is not a value", c->var, val);
		if ((c->q.type == V4L2_CTRL_TYPE_MENU || c->q.type == V4L2_CTRL_TYPE_INTEGER_MENU) &&
		    c->q.minimum >= 0 && c->q.maximum <= 255) {
			const char *sep = "; items:";
			for (int64_t i = c->q.minimum; i <= c->q.maximum; i++) {
				char item[64], var[64];
				if (w < 0 || (size_t)w >= len)
					break;
				if (vqm_ctrl_menu_item(s, sid, c, (uint32_t)i, item, sizeof(item)))
					continue;
				vqm_ctrl_var_name(item, var, sizeof(var));
				w += snprintf(msg + w, len - (size_t)w, "%s %lld (%s)", sep,
					      (long long)i, var);
				sep = ",";
			}
		}
		return -EINVAL;
	}
	if (c->q.type != V4L2_CTRL_TYPE_BITMASK && (v < c->q.minimum || v > c->q.maximum)) {
		snprintf(msg, len, "%s=%lld: outside %lld..%lld", c->var, (long long)v,
			 (long long)c->q.minimum, (long long)c->q.maximum);
		return -ERANGE;
	}
	if (c->q.type != V4L2_CTRL_TYPE_INTEGER64 && (v < INT32_MIN || v > UINT32_MAX)) {
		snprintf(msg, len, "%s=%lld: does not fit 32 bits", c->var, (long long)v);
		return -ERANGE;
	}
	memset(out, 0, sizeof(*out));
	out->id = c->q.id;
	if (c->q.type == V4L2_CTRL_TYPE_INTEGER64)
		out->value64 = v;
	else
		out->value = (int32_t)v;
	return 0;
}

int vqm_ctrls_set(struct vqm_stack *s, uint32_t sid, struct v4l2_ext_control *c, uint32_t n,
		  uint32_t *error_idx)
{
	struct v4l2_ext_controls x = {
		.which = V4L2_CTRL_WHICH_CUR_VAL,
		.count = n,
		.controls = c,
	};
	int r = vqm_ioctl(s, sid, VIDIOC_S_EXT_CTRLS, &x);
	*error_idx = r ? x.error_idx : n;
	return r;
}
