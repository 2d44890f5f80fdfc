/* SPDX-License-Identifier: MIT */
/*
 * The decoder device: state, sessions, the ops table, format and selection
 * hooks that need session state, decoder commands, controls, events, and
 * the delivery of what workers finished (vmedia_decoder_complete()).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "decoder_internal.h"
#include "vmedia_ctrls.h"

#define DEFAULT_CARD "vqmedia decoder"

/* ---- device ---- */

struct vmedia_decoder *vmedia_decoder_new(const struct vmedia_decoder_config *cfg)
{
	struct vmedia_decoder *dec = calloc(1, sizeof(*dec));
	if (!dec)
		return NULL;
	if (cfg)
		dec->cfg = *cfg;
	const char *card = dec->cfg.card ? dec->cfg.card : DEFAULT_CARD;
	/* card need not be NUL-terminated when full (config space rule). */
	strncpy(dec->card, card, sizeof(dec->card));
	dec->cfg.card = NULL; /* not kept: the caller's string may go away */
	dec->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dec->wake_fd < 0) {
		free(dec);
		return NULL;
	}
	dec->watch = -1;
	pthread_mutex_init(&dec->mu, NULL);
	dec->done_tail = &dec->done;
	/* libavcodec is probed here rather than mid-command. */
	dec_codecs_init(&dec->codecs, dec->cfg.codecs);
	dec->cfg.codecs = NULL; /* not kept, as card */
	return dec;
}

/* Sessions are closed by vmedia_device_destroy() (ops->close) first. */
void vmedia_decoder_free(struct vmedia_decoder *dec)
{
	if (!dec)
		return;
	while (dec->done) {
		struct dec_completion *c = dec->done;
		dec->done = c->next;
		free(c);
	}
	pthread_mutex_destroy(&dec->mu);
	close(dec->wake_fd);
	free(dec);
}

struct vmedia_config_space vmedia_decoder_config_space(const struct vmedia_decoder *dec)
{
	struct vmedia_config_space c;
	memset(&c, 0, sizeof(c));
	c.device_caps = vq_to_le32(V4L2_CAP_VIDEO_M2M_MPLANE | V4L2_CAP_STREAMING);
	c.device_type = vq_to_le32(0);
	memcpy(c.card, dec->card, sizeof(c.card));
	return c;
}

int vmedia_decoder_wake_fd(const struct vmedia_decoder *dec)
{
	return dec->wake_fd;
}

bool vmedia_decoder_busy(const struct vmedia_decoder *dec)
{
	struct vmedia_decoder *d = (struct vmedia_decoder *)dec;
	pthread_mutex_lock(&d->mu);
	bool busy = d->done != NULL;
	pthread_mutex_unlock(&d->mu);
	for (struct dec_session *ss = d->sessions; ss && !busy; ss = ss->next) {
		if (!ss->worker_started)
			continue;
		pthread_mutex_lock(&ss->mu);
		busy = ss->kicked || !ss->idle;
		pthread_mutex_unlock(&ss->mu);
	}
	return busy;
}

/* ---- completions ---- */

int dec_post(struct dec_session *ss, const struct dec_completion *c)
{
	struct vmedia_decoder *dec = ss->dec;
	struct dec_completion *n = malloc(sizeof(*n));
	if (!n)
		return -ENOMEM;
	*n = *c;
	n->ss = ss;
	n->next = NULL;
	pthread_mutex_lock(&dec->mu);
	bool was_empty = dec->done == NULL;
	*dec->done_tail = n;
	dec->done_tail = &n->next;
	pthread_mutex_unlock(&dec->mu);
	/* A list that was not empty has a wake-up pending already: complete()
	 * reads the fd before it takes the list, so that wake-up's list
	 * includes this one. */
	if (was_empty) {
		uint64_t one = 1;
		/* Only fails when the counter would overflow: it is readable then. */
		ssize_t r = write(dec->wake_fd, &one, sizeof(one));
		(void)r;
	}
	return 0;
}

static void return_job(struct dec_session *ss, struct dec_job *j)
{
	struct dec_completion done = { .kind = C_OUTPUT, .gen = j->gen, .index = j->index };
	j->returned = true;
	dec_post(ss, &done);
}

void dec_return_jobs(struct dec_session *ss, struct dec_job *started)
{
	if (started && !started->drain && !started->returned)
		return_job(ss, started);
	if (!ss->q[0].streaming)
		return;
	size_t bytes = 0;
	unsigned n = 0;
	for (struct dec_job *j = ss->jobs; j; j = j->next) {
		bytes += j->size;
		n++;
		if (bytes > DEC_JOBS_MAX_BYTES || n > DEC_JOBS_MAX)
			break;
		if (!j->drain && !j->returned)
			return_job(ss, j);
	}
}

void dec_kick(struct dec_session *ss)
{
	ss->kicked = true;
	pthread_cond_broadcast(&ss->cv);
}

static void deliver_buffer(struct dec_session *ss, const struct dec_completion *c, int *count)
{
	struct dec_queue *q = &ss->q[c->kind == C_OUTPUT ? 0 : 1];
	struct vmedia_buffer vb;
	pthread_mutex_lock(&ss->mu);
	struct dec_buf *b = c->index < q->nbufs ? &q->bufs[c->index] : NULL;
	bool fresh = b && c->gen == q->gen &&
		     b->state == (c->kind == C_OUTPUT ? BUF_QUEUED : BUF_DONE);
	if (fresh) {
		b->state = BUF_DEQUEUED;
		if (c->kind == C_OUTPUT)
			b->sequence = q->sequence++;
		/* The worker wrote the picture: USERPTR memory goes back written. */
		vmedia_usermem_put(b->mem, c->kind == C_CAPTURE);
		b->mem = NULL;
		dec_describe(q, c->index, &vb);
		vb.b.flags |= c->flags;
	}
	pthread_mutex_unlock(&ss->mu);
	if (!fresh)
		return;
	/* A full backlog costs the session an ERROR event (the runner's rule). */
	vmedia_send_dqbuf(ss->s, &vb);
	(*count)++;
}

static void deliver_event(struct dec_session *ss, const struct dec_completion *c, int *count)
{
	uint32_t bit = c->ev.type == V4L2_EVENT_SOURCE_CHANGE ? SUB_SOURCE_CHANGE
			: c->ev.type == V4L2_EVENT_EOS ? SUB_EOS : 0;
	if (!(ss->subs & bit))
		return;
	vmedia_send_event(ss->s, &c->ev);
	(*count)++;
}

int vmedia_decoder_complete(struct vmedia_decoder *dec)
{
	uint64_t v;
	/* Read first: what is posted after the list is taken wakes us again. */
	ssize_t rr = read(dec->wake_fd, &v, sizeof(v));
	(void)rr;
	pthread_mutex_lock(&dec->mu);
	struct dec_completion *list = dec->done;
	dec->done = NULL;
	dec->done_tail = &dec->done;
	pthread_mutex_unlock(&dec->mu);
	int count = 0;
	while (list) {
		struct dec_completion *c = list;
		list = c->next;
		if (c->kind == C_EVENT)
			deliver_event(c->ss, c, &count);
		else
			deliver_buffer(c->ss, c, &count);
		free(c);
	}
	return count;
}

/* Forget what @ss's worker (now stopped) posted and nobody delivered. */
static void purge(struct vmedia_decoder *dec, struct dec_session *ss)
{
	pthread_mutex_lock(&dec->mu);
	struct dec_completion **pp = &dec->done;
	while (*pp) {
		struct dec_completion *c = *pp;
		if (c->ss == ss) {
			*pp = c->next;
			free(c);
		} else {
			pp = &c->next;
		}
	}
	dec->done_tail = pp;
	pthread_mutex_unlock(&dec->mu);
}

/* ---- the wake fd under an environment ---- */

static void wake_ready(void *arg, uint32_t revents)
{
	(void)revents;
	vmedia_decoder_complete(arg);
}

static void watch_start(struct vmedia_decoder *dec)
{
	const struct vmedia_env_ops *ops = dec->dev ? dec->dev->env_ops : NULL;
	if (!ops || dec->watch >= 0)
		return;
	int h = ops->watch_fd(dec->dev->env, dec->wake_fd, POLLIN, wake_ready, dec);
	if (h < 0)
		return; /* driven inline then: the caller polls the fd */
	dec->watch = h;
	dec->watch_ops = ops;
	dec->watch_env = dec->dev->env;
}

static void watch_stop(struct vmedia_decoder *dec)
{
	if (dec->watch < 0)
		return;
	/* An environment that went away took its watches with it. */
	if (dec->dev && dec->dev->env_ops == dec->watch_ops && dec->dev->env == dec->watch_env)
		dec->watch_ops->unwatch_fd(dec->watch_env, dec->watch);
	dec->watch = -1;
	dec->watch_ops = NULL;
	dec->watch_env = NULL;
}

/* ---- sessions ---- */

static int dec_open(struct vmedia_session *s)
{
	struct vmedia_decoder *dec = s->dev->priv;
	struct dec_session *ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	ss->s = s;
	ss->dec = dec;
	pthread_mutex_init(&ss->mu, NULL);
	pthread_cond_init(&ss->cv, NULL);
	dec_out_fmt_default(&dec->codecs, &ss->out_fmt);
	dec_cap_placeholder(V4L2_PIX_FMT_NV12, 0, 0, &ss->cap_fmt);
	ss->q[0].type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
	ss->q[1].type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
	ss->q[0].memory = ss->q[1].memory = V4L2_MEMORY_MMAP;
	ss->jobs_tail = &ss->jobs;
	dec->dev = s->dev;
	ss->next = dec->sessions;
	dec->sessions = ss;
	dec->nsessions++;
	s->priv = ss;
	watch_start(dec);
	return 0;
}

static void dec_close(struct vmedia_session *s)
{
	struct vmedia_decoder *dec = s->dev->priv;
	struct dec_session *ss = s->priv;
	if (!ss)
		return;
	dec_worker_stop(ss);
	purge(dec, ss);
	dec_buffers_release(ss);
	for (struct dec_session **pp = &dec->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == ss) {
			*pp = ss->next;
			break;
		}
	}
	pthread_mutex_destroy(&ss->mu);
	pthread_cond_destroy(&ss->cv);
	free(ss);
	s->priv = NULL;
	if (--dec->nsessions == 0)
		watch_stop(dec);
}

/* ---- formats ---- */

static int dec_enum_fmt_hook(struct vmedia_session *s, struct v4l2_fmtdesc *d)
{
	(void)s;
	return dec_enum_fmt(&((struct dec_session *)s->priv)->dec->codecs, d);
}

static int dec_enum_framesizes_hook(struct vmedia_session *s, struct v4l2_frmsizeenum *fs)
{
	(void)s;
	return dec_enum_framesizes(&((struct dec_session *)s->priv)->dec->codecs, fs);
}

/* CAPTURE before the stream gave a size: the placeholder (formats.c), as
 * the spec's Initialization says ("will not return the real values for the
 * stream until" the source change event), and v4l2-compliance wants a
 * format for every queue the capabilities name. */
static int dec_g_fmt(struct vmedia_session *s, struct v4l2_format *f)
{
	struct dec_session *ss = s->priv;
	int r = 0;
	pthread_mutex_lock(&ss->mu);
	if (f->type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE)
		dec_fill_out_fmt(&ss->out_fmt, f);
	else if (f->type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE)
		dec_fill_cap_fmt(&ss->cap_fmt, &ss->out_fmt, f);
	else
		r = -EINVAL;
	pthread_mutex_unlock(&ss->mu);
	return r;
}

/* CAPTURE: the pixel format is the client's choice; the size is the
 * stream's (nothing is scaled), or the placeholder's until it is known. */
static int try_cap(struct dec_session *ss, struct v4l2_format *f, struct dec_cap_fmt *out)
{
	uint32_t pf = f->fmt.pix_mp.pixelformat;
	if (!dec_cap_pixfmt_ok(pf))
		pf = ss->cap_fmt.pixelformat;
	struct dec_cap_fmt c = { .stream = ss->cap_fmt.stream };
	dec_cap_layout(pf, ss->cap_fmt.vis_w, ss->cap_fmt.vis_h, &c);
	dec_fill_cap_fmt(&c, &ss->out_fmt, f);
	if (out)
		*out = c;
	return 0;
}

static int dec_try_fmt(struct vmedia_session *s, struct v4l2_format *f)
{
	struct dec_session *ss = s->priv;
	if (f->type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE)
		return dec_try_out_fmt(&ss->dec->codecs, f, NULL);
	if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE)
		return -EINVAL;
	pthread_mutex_lock(&ss->mu);
	int r = try_cap(ss, f, NULL);
	pthread_mutex_unlock(&ss->mu);
	return r;
}

/* Buffers of the old format would break: EBUSY while a queue has any. */
static int dec_s_fmt(struct vmedia_session *s, struct v4l2_format *f)
{
	struct dec_session *ss = s->priv;
	int r = 0;
	pthread_mutex_lock(&ss->mu);
	if (f->type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE) {
		struct dec_out_fmt o;
		r = dec_try_out_fmt(&ss->dec->codecs, f, &o);
		if (!r && ss->q[0].nbufs)
			r = -EBUSY;
		if (!r) {
			ss->out_fmt = o;
			/* The CAPTURE format follows a size the client gives (or
			 * the default placeholder), until the stream tells
			 * otherwise; buffers of the old one keep it. */
			if (!ss->parsed && !ss->q[1].nbufs)
				dec_cap_placeholder(ss->cap_fmt.pixelformat, o.width, o.height,
						    &ss->cap_fmt);
		}
	} else if (f->type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE) {
		struct dec_cap_fmt c;
		r = try_cap(ss, f, &c);
		if (!r && ss->q[1].nbufs)
			r = -EBUSY;
		if (!r)
			ss->cap_fmt = c;
	} else {
		r = -EINVAL;
	}
	pthread_mutex_unlock(&ss->mu);
	return r;
}

static int dec_g_selection(struct vmedia_session *s, struct v4l2_selection *sel)
{
	struct dec_session *ss = s->priv;
	pthread_mutex_lock(&ss->mu);
	int r = dec_selection(&ss->cap_fmt, sel);
	pthread_mutex_unlock(&ss->mu);
	return r;
}

/* ---- decoder commands (v4l2_m2m_ioctl_try_decoder_cmd's rules) ---- */

static int dec_try_decoder_cmd(struct vmedia_session *s, struct v4l2_decoder_cmd *dc)
{
	(void)s;
	if (dc->cmd == V4L2_DEC_CMD_STOP) {
		dc->stop.pts = 0;
	} else if (dc->cmd == V4L2_DEC_CMD_START) {
		dc->start.speed = 0;
		dc->start.format = V4L2_DEC_START_FMT_NONE;
	} else {
		return -EINVAL;
	}
	dc->flags = 0;
	return 0;
}

/*
 * STOP queues a drain marker behind the OUTPUT buffers queued so far (only
 * when both queues stream, as the spec says; otherwise it is accepted and
 * does nothing).  START resumes a decoder stopped after a LAST buffer; while
 * a drain is still running it is EBUSY.
 */
static int dec_decoder_cmd(struct vmedia_session *s, struct v4l2_decoder_cmd *dc)
{
	struct dec_session *ss = s->priv;
	int r = dec_try_decoder_cmd(s, dc);
	if (r)
		return r;
	pthread_mutex_lock(&ss->mu);
	if (dc->cmd == V4L2_DEC_CMD_STOP) {
		if (ss->q[0].streaming && ss->q[1].streaming && !ss->draining) {
			struct dec_job *j = calloc(1, sizeof(*j));
			if (!j) {
				r = -ENOMEM;
			} else {
				j->drain = true;
				j->gen = ss->q[0].gen;
				*ss->jobs_tail = j;
				ss->jobs_tail = &j->next;
				ss->draining = true;
			}
		}
	} else if (ss->draining) {
		r = -EBUSY;
	} else {
		ss->stopped = false;
	}
	dec_kick(ss);
	pthread_mutex_unlock(&ss->mu);
	return r;
}

/* ---- controls: the class and V4L2_CID_MIN_BUFFERS_FOR_CAPTURE ----
 *
 * H.264 decodes straight into CAPTURE buffers, which libavcodec then keeps
 * as references: see DEC_MIN_CAPTURE_BUFS for how many that takes.  Fewer
 * still work (pictures are then copied out of libavcodec's own pool). */

static const struct vmedia_ctrl_desc ctrls[DEC_NUM_CTRLS] = {
	{ V4L2_CID_USER_CLASS, V4L2_CTRL_TYPE_CTRL_CLASS, "User Controls", 0, 0, 0, 0,
	  V4L2_CTRL_FLAG_READ_ONLY | V4L2_CTRL_FLAG_WRITE_ONLY },
	{ V4L2_CID_MIN_BUFFERS_FOR_CAPTURE, V4L2_CTRL_TYPE_INTEGER,
	  "Min Number of Buffers for Capture", 1, DEC_MAX_BUFFERS, 1, DEC_MIN_CAPTURE_BUFS,
	  V4L2_CTRL_FLAG_READ_ONLY | V4L2_CTRL_FLAG_VOLATILE },
};

static const struct vmedia_ctrl_table ctrl_table = { ctrls, DEC_NUM_CTRLS };

static int ctrl_find(uint32_t id)
{
	return vmedia_ctrl_find(&ctrl_table, id);
}

static int dec_query_ext_ctrl(struct vmedia_session *s, struct v4l2_query_ext_ctrl *q)
{
	(void)s;
	return vmedia_ctrl_query_ext(&ctrl_table, q);
}

static int dec_queryctrl(struct vmedia_session *s, struct v4l2_queryctrl *q)
{
	(void)s;
	return vmedia_ctrl_query(&ctrl_table, q);
}

static int dec_g_ctrl(struct vmedia_session *s, struct v4l2_control *c)
{
	(void)s;
	int i = ctrl_find(c->id);
	if (i < 0)
		return -EINVAL;
	if (ctrls[i].flags & V4L2_CTRL_FLAG_WRITE_ONLY)
		return -EACCES;
	c->value = ctrls[i].def;
	return 0;
}

static int dec_s_ctrl(struct vmedia_session *s, struct v4l2_control *c)
{
	(void)s;
	return ctrl_find(c->id) < 0 ? -EINVAL : -EACCES; /* all read-only */
}

#define MAX_EXT 1024 /* V4L2_CID_MAX_CTRLS; the runner refuses more */

static int ext_prepare(struct vmedia_ext_ctrls *x, int *idx)
{
	if (x->c.count > MAX_EXT)
		return -EINVAL;
	return vmedia_ctrl_resolve(&ctrl_table, &x->c, x->controls, idx);
}

static int dec_g_ext_ctrls(struct vmedia_session *s, struct vmedia_ext_ctrls *x)
{
	(void)s;
	static int idx[MAX_EXT]; /* device thread only */
	int r = ext_prepare(x, idx);
	/* No control was read on failure: error_idx = count (the framework). */
	x->c.error_idx = x->c.count;
	if (r)
		return r;
	for (uint32_t k = 0; k < x->c.count; k++)
		if (ctrls[idx[k]].flags & V4L2_CTRL_FLAG_WRITE_ONLY)
			return -EACCES;
	for (uint32_t k = 0; k < x->c.count; k++)
		x->controls[k].value = ctrls[idx[k]].def;
	return 0;
}

/* Every control is read-only: TRY names the first one, S applied none. */
static int try_set(struct vmedia_ext_ctrls *x, bool set)
{
	static int idx[MAX_EXT];
	struct v4l2_ext_controls *c = &x->c;
	if (c->which == V4L2_CTRL_WHICH_DEF_VAL) {
		c->error_idx = c->count;
		return -EINVAL;
	}
	int r = ext_prepare(x, idx);
	if (!r && c->count) {
		c->error_idx = 0;
		r = -EACCES;
	}
	if (r && set)
		c->error_idx = c->count;
	if (!r)
		c->error_idx = c->count;
	return r;
}

static int dec_try_ext_ctrls(struct vmedia_session *s, struct vmedia_ext_ctrls *x)
{
	(void)s;
	return try_set(x, false);
}

static int dec_s_ext_ctrls(struct vmedia_session *s, struct vmedia_ext_ctrls *x)
{
	(void)s;
	return try_set(x, true);
}

/* ---- events ---- */

static int dec_subscribe_event(struct vmedia_session *s, struct v4l2_event_subscription *e)
{
	struct dec_session *ss = s->priv;
	switch (e->type) {
	case V4L2_EVENT_SOURCE_CHANGE:
		ss->subs |= SUB_SOURCE_CHANGE;
		break;
	case V4L2_EVENT_EOS:
		ss->subs |= SUB_EOS;
		break;
	case V4L2_EVENT_CTRL: {
		int i = ctrl_find(e->id);
		if (i < 0)
			return -EINVAL;
		bool was = ss->ctrl_sub[i];
		ss->ctrl_sub[i] = true;
		ss->ctrl_sub_flags[i] = e->flags;
		if (!was && (e->flags & V4L2_EVENT_SUB_FL_SEND_INITIAL) &&
		    !(ctrls[i].flags & V4L2_CTRL_FLAG_WRITE_ONLY)) {
			struct v4l2_event ev;
			vmedia_ctrl_event(&ctrl_table, i, ctrls[i].def,
					  V4L2_EVENT_CTRL_CH_VALUE | V4L2_EVENT_CTRL_CH_FLAGS, &ev);
			vmedia_send_event(s, &ev);
		}
		break;
	}
	default:
		return -EINVAL; /* V4L2_EVENT_ALL included: not a subscribable type */
	}
	memset(e->reserved, 0, sizeof(e->reserved));
	return 0;
}

static int dec_unsubscribe_event(struct vmedia_session *s, struct v4l2_event_subscription *e)
{
	struct dec_session *ss = s->priv;
	if (e->type == V4L2_EVENT_ALL) {
		ss->subs = 0;
		memset(ss->ctrl_sub, 0, sizeof(ss->ctrl_sub));
	} else if (e->type == V4L2_EVENT_SOURCE_CHANGE) {
		ss->subs &= ~SUB_SOURCE_CHANGE;
	} else if (e->type == V4L2_EVENT_EOS) {
		ss->subs &= ~SUB_EOS;
	} else if (e->type == V4L2_EVENT_CTRL) {
		int i = ctrl_find(e->id);
		if (i >= 0)
			ss->ctrl_sub[i] = false;
	}
	return 0;
}

/* ---- the ops table ---- */

const struct vmedia_device_ops vmedia_decoder_ops = {
	.open = dec_open,
	.close = dec_close,
	.enum_fmt = dec_enum_fmt_hook,
	.g_fmt = dec_g_fmt,
	.s_fmt = dec_s_fmt,
	.try_fmt = dec_try_fmt,
	.enum_framesizes = dec_enum_framesizes_hook,
	.g_selection = dec_g_selection,
	.reqbufs = dec_reqbufs,
	.create_bufs = dec_create_bufs,
	.querybuf = dec_querybuf,
	.qbuf = dec_qbuf,
	.prepare_buf = dec_prepare_buf,
	.streamon = dec_streamon,
	.streamoff = dec_streamoff,
	.decoder_cmd = dec_decoder_cmd,
	.try_decoder_cmd = dec_try_decoder_cmd,
	.queryctrl = dec_queryctrl,
	.query_ext_ctrl = dec_query_ext_ctrl,
	.g_ctrl = dec_g_ctrl,
	.s_ctrl = dec_s_ctrl,
	.g_ext_ctrls = dec_g_ext_ctrls,
	.s_ext_ctrls = dec_s_ext_ctrls,
	.try_ext_ctrls = dec_try_ext_ctrls,
	.subscribe_event = dec_subscribe_event,
	.unsubscribe_event = dec_unsubscribe_event,
};
