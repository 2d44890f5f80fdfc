/* SPDX-License-Identifier: MIT */
/*
 * The simple camera: device state, sessions, the ops table, the input, and
 * the format / parameter hooks that need device state (formats.c does the
 * arithmetic).  Buffers and streaming are in buffers.c, controls in
 * controls.c, the picture in pattern.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "simple_internal.h"

#define DEFAULT_CARD "vqmedia simple camera"

static struct vmedia_simple *dev_of(struct vmedia_session *s)
{
	return s->dev->priv;
}

/* ---- device ---- */

struct vmedia_simple *vmedia_simple_new(const struct vmedia_simple_config *cfg)
{
	struct vmedia_simple *sd = calloc(1, sizeof(*sd));
	if (!sd)
		return NULL;
	if (cfg)
		sd->cfg = *cfg;
	/* card need not be NUL-terminated when full (config space rule). */
	const char *card = sd->cfg.card ? sd->cfg.card : DEFAULT_CARD;
	strncpy(sd->card, card, sizeof(sd->card));
	sd->cfg.card = NULL; /* not kept: the caller's string may go away */
	simple_format_default(&sd->fmt);
	simple_parm_default(&sd->parm);
	simple_ctrls_init(&sd->ctrls);
	simple_pattern_init(&sd->pattern);
	sd->pace_timer = -1;
	return sd;
}

/* Sessions are closed by vmedia_device_destroy() (ops->close) first. */
void vmedia_simple_free(struct vmedia_simple *sd)
{
	if (!sd)
		return;
	simple_pattern_destroy(&sd->pattern);
	free(sd);
}

struct vmedia_config_space vmedia_simple_config_space(const struct vmedia_simple *sd)
{
	struct vmedia_config_space c;
	memset(&c, 0, sizeof(c));
	c.device_caps = vq_to_le32(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING);
	c.device_type = vq_to_le32(0);
	memcpy(c.card, sd->card, sizeof(c.card));
	return c;
}

/* ---- sessions ---- */

static int simple_open(struct vmedia_session *s)
{
	struct vmedia_simple *sd = dev_of(s);
	struct simple_session *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	ss->s = s;
	ss->sd = sd;
	sd->dev = s->dev;
	ss->next = sd->sessions;
	sd->sessions = ss;
	s->priv = ss;
	return 0;
}

static void simple_close(struct vmedia_session *s)
{
	struct vmedia_simple *sd = dev_of(s);
	struct simple_session *ss = s->priv;
	if (!ss)
		return;
	simple_buffers_release(sd, ss);
	for (struct simple_session **pp = &sd->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == ss) {
			*pp = ss->next;
			break;
		}
	}
	free(ss);
	s->priv = NULL;
}

/* ---- formats and parameters ---- */

static int simple_enum_fmt_hook(struct vmedia_session *s, struct v4l2_fmtdesc *d)
{
	(void)s;
	return simple_enum_fmt(d);
}

static int simple_g_fmt_hook(struct vmedia_session *s, struct v4l2_format *f)
{
	return simple_g_fmt(&dev_of(s)->fmt, f);
}

static int simple_try_fmt_hook(struct vmedia_session *s, struct v4l2_format *f)
{
	(void)s;
	return simple_try_fmt(f, NULL);
}

/* A new format while buffers of the old size exist would break them: vb2
 * drivers answer EBUSY, whoever asks. */
static int simple_s_fmt_hook(struct vmedia_session *s, struct v4l2_format *f)
{
	struct vmedia_simple *sd = dev_of(s);
	struct simple_format nf;
	int r = simple_try_fmt(f, &nf);
	if (r)
		return r;
	if (sd->nbufs)
		return -EBUSY;
	sd->fmt = nf;
	return 0;
}

static int simple_enum_framesizes_hook(struct vmedia_session *s, struct v4l2_frmsizeenum *fs)
{
	(void)s;
	return simple_enum_framesizes(fs);
}

static int simple_enum_frameintervals_hook(struct vmedia_session *s,
					   struct v4l2_frmivalenum *fi)
{
	(void)s;
	return simple_enum_frameintervals(fi);
}

static int simple_g_parm_hook(struct vmedia_session *s, struct v4l2_streamparm *p)
{
	return simple_g_parm(&dev_of(s)->parm, p);
}

/* Allowed while streaming: the next real-time deadline uses the new
 * interval, and a frame timer restarts with it as its period. */
static int simple_s_parm_hook(struct vmedia_session *s, struct v4l2_streamparm *p)
{
	struct vmedia_simple *sd = dev_of(s);
	uint64_t old = simple_interval_ns(&sd->parm);
	int r = simple_s_parm(&sd->parm, p);
	if (r || simple_interval_ns(&sd->parm) == old)
		return r;
	return simple_pace_restart(sd);
}

/* ---- the one input ---- */

static int simple_enuminput(struct vmedia_session *s, struct v4l2_input *in)
{
	(void)s;
	if (in->index != 0)
		return -EINVAL;
	memset(in, 0, sizeof(*in));
	strncpy((char *)in->name, "Test Pattern", sizeof(in->name) - 1);
	in->type = V4L2_INPUT_TYPE_CAMERA;
	return 0;
}

static int simple_g_input(struct vmedia_session *s, int *i)
{
	(void)s;
	*i = 0;
	return 0;
}

static int simple_s_input(struct vmedia_session *s, int *i)
{
	(void)s;
	return *i == 0 ? 0 : -EINVAL;
}

/* ---- the ops table ---- */

const struct vmedia_device_ops vmedia_simple_ops = {
	.open = simple_open,
	.close = simple_close,
	.enum_fmt = simple_enum_fmt_hook,
	.g_fmt = simple_g_fmt_hook,
	.s_fmt = simple_s_fmt_hook,
	.try_fmt = simple_try_fmt_hook,
	.enum_framesizes = simple_enum_framesizes_hook,
	.enum_frameintervals = simple_enum_frameintervals_hook,
	.g_parm = simple_g_parm_hook,
	.s_parm = simple_s_parm_hook,
	.enuminput = simple_enuminput,
	.g_input = simple_g_input,
	.s_input = simple_s_input,
	.reqbufs = simple_reqbufs,
	.create_bufs = simple_create_bufs,
	.querybuf = simple_querybuf,
	.qbuf = simple_qbuf,
	.prepare_buf = simple_prepare_buf,
	.streamon = simple_streamon,
	.streamoff = simple_streamoff,
	.queryctrl = simple_queryctrl,
	.query_ext_ctrl = simple_query_ext_ctrl,
	.querymenu = simple_querymenu,
	.g_ctrl = simple_g_ctrl,
	.s_ctrl = simple_s_ctrl,
	.g_ext_ctrls = simple_g_ext_ctrls,
	.s_ext_ctrls = simple_s_ext_ctrls,
	.try_ext_ctrls = simple_try_ext_ctrls,
	.subscribe_event = simple_subscribe_event,
	.unsubscribe_event = simple_unsubscribe_event,
};
