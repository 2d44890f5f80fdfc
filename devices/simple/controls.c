/* SPDX-License-Identifier: MIT */
/*
 * The simple camera's controls, with the semantics of the kernel's control
 * framework (v4l2-ctrls), since that is what applications and
 * v4l2-compliance expect and no framework stands in front of us:
 *  - one value per device, shared by every session;
 *  - integers are clamped to their range, menus out of range are ERANGE;
 *  - the class control exists for enumeration only (read and write: EACCES);
 *  - S_EXT_CTRLS checks every control before changing any (all or nothing);
 *    on a bad control G and S report error_idx = count (nothing was read or
 *    applied), TRY reports the index of the bad control;
 *  - a change sends V4L2_EVENT_CTRL to every subscribed session, except the
 *    one that made it unless it subscribed with ALLOW_FEEDBACK.
 */
#include <errno.h>
#include <string.h>

#include "simple_internal.h"
#include "vmedia_ctrls.h"

/* Sorted by id: NEXT_CTRL enumeration walks this in order. */
static const struct vmedia_ctrl_desc ctrls[SIMPLE_NUM_CTRLS] = {
	{ V4L2_CID_USER_CLASS, V4L2_CTRL_TYPE_CTRL_CLASS, "User Controls", 0, 0, 0, 0,
	  V4L2_CTRL_FLAG_READ_ONLY | V4L2_CTRL_FLAG_WRITE_ONLY },
	{ V4L2_CID_BRIGHTNESS, V4L2_CTRL_TYPE_INTEGER, "Brightness", 0, 255, 1, 128,
	  V4L2_CTRL_FLAG_SLIDER },
	{ V4L2_CID_CONTRAST, V4L2_CTRL_TYPE_INTEGER, "Contrast", 0, 255, 1, 128,
	  V4L2_CTRL_FLAG_SLIDER },
	{ V4L2_CID_SATURATION, V4L2_CTRL_TYPE_INTEGER, "Saturation", 0, 255, 1, 128,
	  V4L2_CTRL_FLAG_SLIDER },
	{ V4L2_CID_HUE, V4L2_CTRL_TYPE_INTEGER, "Hue", -180, 180, 1, 0, V4L2_CTRL_FLAG_SLIDER },
	{ V4L2_CID_COLORFX, V4L2_CTRL_TYPE_MENU, "Color Effects", V4L2_COLORFX_NONE,
	  V4L2_COLORFX_NEGATIVE, 1, V4L2_COLORFX_NONE, 0 },
};
enum { C_CLASS, C_BRIGHTNESS, C_CONTRAST, C_SATURATION, C_HUE, C_COLORFX };

/* The kernel's names for V4L2_CID_COLORFX items 0..3. */
static const char *const colorfx_menu[] = { "None", "Black & White", "Sepia", "Negative" };

static const struct vmedia_ctrl_table table = { ctrls, SIMPLE_NUM_CTRLS };

static int find(uint32_t id)
{
	return vmedia_ctrl_find(&table, id);
}

void simple_ctrls_init(struct simple_ctrls *c)
{
	for (int i = 0; i < SIMPLE_NUM_CTRLS; i++)
		c->val[i] = ctrls[i].def;
	c->generation++;
}

void simple_ctrls_values(const struct simple_ctrls *c, struct simple_ctrl_values *v)
{
	v->brightness = c->val[C_BRIGHTNESS];
	v->contrast = c->val[C_CONTRAST];
	v->saturation = c->val[C_SATURATION];
	v->hue = c->val[C_HUE];
	v->colorfx = c->val[C_COLORFX];
}

static struct vmedia_simple *dev_of(struct vmedia_session *s)
{
	return s->dev->priv;
}

/* ---- queries ---- */

int simple_query_ext_ctrl(struct vmedia_session *s, struct v4l2_query_ext_ctrl *q)
{
	(void)s;
	return vmedia_ctrl_query_ext(&table, q);
}

int simple_queryctrl(struct vmedia_session *s, struct v4l2_queryctrl *q)
{
	(void)s;
	return vmedia_ctrl_query(&table, q);
}

int simple_querymenu(struct vmedia_session *s, struct v4l2_querymenu *m)
{
	(void)s;
	int i = find(m->id);
	if (i < 0 || ctrls[i].type != V4L2_CTRL_TYPE_MENU)
		return -EINVAL;
	if ((int64_t)m->index < ctrls[i].min || (int64_t)m->index > ctrls[i].max)
		return -EINVAL;
	uint32_t id = m->id, index = m->index;
	memset(m, 0, sizeof(*m));
	m->id = id;
	m->index = index;
	strncpy((char *)m->name, colorfx_menu[index], sizeof(m->name) - 1);
	return 0;
}

/* ---- values ---- */

/* The value a set would store, or -ERANGE; integers clamp (the framework's
 * ROUND_TO_RANGE), menus must be in range. */
static int validate(int i, int32_t *v)
{
	const struct vmedia_ctrl_desc *c = &ctrls[i];
	if (c->type == V4L2_CTRL_TYPE_MENU)
		return *v < c->min || *v > c->max ? -ERANGE : 0;
	int64_t x = *v;
	if (x < c->min)
		x = c->min;
	if (x > c->max)
		x = c->max;
	x = c->min + (x - c->min + c->step / 2) / c->step * c->step;
	*v = (int32_t)x;
	return 0;
}

/* A V4L2_EVENT_CTRL for control @i as it is now. */
static void ctrl_event(const struct vmedia_simple *sd, int i, uint32_t changes,
		       struct v4l2_event *ev)
{
	vmedia_ctrl_event(&table, i, sd->ctrls.val[i], changes, ev);
}

static void send_ctrl_event(struct vmedia_simple *sd, struct simple_session *from, int i)
{
	struct v4l2_event ev;
	ctrl_event(sd, i, V4L2_EVENT_CTRL_CH_VALUE, &ev);
	for (struct simple_session *ss = sd->sessions; ss; ss = ss->next) {
		const struct simple_ctrl_sub *sub = &ss->sub[i];
		if (!sub->on)
			continue;
		if (ss == from && !(sub->flags & V4L2_EVENT_SUB_FL_ALLOW_FEEDBACK))
			continue;
		/* A full backlog already costs the session an ERROR; the
		 * other sessions still get theirs. */
		vmedia_send_event(ss->s, &ev);
	}
}

/* Store a validated value; an actual change bumps the pattern's key and
 * tells subscribers. */
static void store(struct vmedia_simple *sd, struct simple_session *from, int i, int32_t v)
{
	if (sd->ctrls.val[i] == v)
		return;
	sd->ctrls.val[i] = v;
	sd->ctrls.generation++;
	send_ctrl_event(sd, from, i);
}

int simple_g_ctrl(struct vmedia_session *s, struct v4l2_control *c)
{
	int i = find(c->id);
	if (i < 0)
		return -EINVAL;
	if (ctrls[i].flags & V4L2_CTRL_FLAG_WRITE_ONLY)
		return -EACCES;
	c->value = dev_of(s)->ctrls.val[i];
	return 0;
}

int simple_s_ctrl(struct vmedia_session *s, struct v4l2_control *c)
{
	int i = find(c->id);
	if (i < 0)
		return -EINVAL;
	if (ctrls[i].flags & V4L2_CTRL_FLAG_READ_ONLY)
		return -EACCES;
	int32_t v = c->value;
	int r = validate(i, &v);
	if (r)
		return r;
	store(dev_of(s), s->priv, i, v);
	c->value = v;
	return 0;
}

/* ---- extended controls ---- */

/* The kernel's V4L2_CID_MAX_CTRLS; the runner refuses more before us. */
#define MAX_EXT 1024

/* Every id resolved (vmedia_ctrl_resolve), or -EINVAL with error_idx at
 * the bad control; G and S then overwrite it with count. */
static int prepare(struct vmedia_ext_ctrls *x, int *idx)
{
	return vmedia_ctrl_resolve(&table, &x->c, x->controls, idx);
}

int simple_g_ext_ctrls(struct vmedia_session *s, struct vmedia_ext_ctrls *x)
{
	struct v4l2_ext_controls *c = &x->c;
	int idx[MAX_EXT];
	c->error_idx = c->count;
	if (c->count > MAX_EXT)
		return -EINVAL;
	int r = prepare(x, idx);
	/* G_EXT_CTRLS says count whatever failed: no control was read (the
	 * framework sets it after prepare_ext_ctrls(), success or not). */
	c->error_idx = c->count;
	if (r)
		return r;
	for (uint32_t k = 0; k < c->count; k++)
		if (ctrls[idx[k]].flags & V4L2_CTRL_FLAG_WRITE_ONLY)
			return -EACCES;
	const struct vmedia_simple *sd = dev_of(s);
	for (uint32_t k = 0; k < c->count; k++)
		x->controls[k].value = c->which == V4L2_CTRL_WHICH_DEF_VAL ? ctrls[idx[k]].def
									  : sd->ctrls.val[idx[k]];
	return 0;
}

/* TRY and S: check everything first; S then stores.  DEF_VAL cannot be set. */
static int try_set(struct vmedia_session *s, struct vmedia_ext_ctrls *x, bool set)
{
	struct v4l2_ext_controls *c = &x->c;
	int idx[MAX_EXT];
	c->error_idx = c->count;
	if (c->which == V4L2_CTRL_WHICH_DEF_VAL || c->count > MAX_EXT)
		return -EINVAL;
	int r = prepare(x, idx);
	for (uint32_t k = 0; r == 0 && k < c->count; k++) {
		c->error_idx = k;
		int32_t v = x->controls[k].value; /* packed struct: no pointer into it */
		if (ctrls[idx[k]].flags & V4L2_CTRL_FLAG_READ_ONLY)
			r = -EACCES;
		else
			r = validate(idx[k], &v);
		x->controls[k].value = v;
	}
	if (r) {
		/* S_EXT_CTRLS applied nothing: error_idx = count says so. */
		if (set)
			c->error_idx = c->count;
		return r;
	}
	c->error_idx = c->count;
	if (set)
		for (uint32_t k = 0; k < c->count; k++)
			store(dev_of(s), s->priv, idx[k], x->controls[k].value);
	return 0;
}

int simple_try_ext_ctrls(struct vmedia_session *s, struct vmedia_ext_ctrls *x)
{
	return try_set(s, x, false);
}

int simple_s_ext_ctrls(struct vmedia_session *s, struct vmedia_ext_ctrls *x)
{
	return try_set(s, x, true);
}

/* ---- events ---- */

static void send_initial(struct vmedia_simple *sd, struct simple_session *ss, int i)
{
	struct v4l2_event ev;
	ctrl_event(sd, i, V4L2_EVENT_CTRL_CH_VALUE | V4L2_EVENT_CTRL_CH_FLAGS, &ev);
	vmedia_send_event(ss->s, &ev);
}

/* Only control events exist here; an unknown type or control is EINVAL. */
int simple_subscribe_event(struct vmedia_session *s, struct v4l2_event_subscription *e)
{
	if (e->type != V4L2_EVENT_CTRL)
		return -EINVAL;
	int i = find(e->id);
	if (i < 0)
		return -EINVAL;
	struct simple_session *ss = s->priv;
	bool was = ss->sub[i].on;
	ss->sub[i] = (struct simple_ctrl_sub){ .on = true, .flags = e->flags };
	memset(e->reserved, 0, sizeof(e->reserved));
	/* The framework sends the initial value on a new subscription only,
	 * and never for a control that cannot be read. */
	if (!was && (e->flags & V4L2_EVENT_SUB_FL_SEND_INITIAL) &&
	    !(ctrls[i].flags & V4L2_CTRL_FLAG_WRITE_ONLY))
		send_initial(dev_of(s), ss, i);
	return 0;
}

/* Unsubscribing what was never subscribed is not an error (v4l2-event). */
int simple_unsubscribe_event(struct vmedia_session *s, struct v4l2_event_subscription *e)
{
	struct simple_session *ss = s->priv;
	if (e->type == V4L2_EVENT_ALL) {
		memset(ss->sub, 0, sizeof(ss->sub));
		return 0;
	}
	if (e->type == V4L2_EVENT_CTRL) {
		int i = find(e->id);
		if (i >= 0)
			ss->sub[i].on = false;
	}
	return 0;
}
