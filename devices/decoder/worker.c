/* SPDX-License-Identifier: MIT */
/*
 * A session's decoding thread: jobs (copies of OUTPUT buffers) go through
 * libavcodec's parser (formats where a byte stream may be cut anywhere) and
 * decoder; decoded pictures are copied into CAPTURE buffers.
 *
 * The worker runs straight through a job and blocks (on ss->cv) only where
 * it needs the guest: a CAPTURE buffer for a picture or a LAST marker, or
 * the decoder resumed after a LAST buffer.  Every wait re-checks quit, a
 * seek (ss->flush, or an OUTPUT generation other than the job's) and gives
 * up the job at once, so STREAMOFF and close never wait for more than the
 * frame being decoded or copied.  Everything that touches the session's
 * queues or CAPTURE memory happens under ss->mu; decoding does not.
 *
 * Picture sizes come from decoded frames (not the parser, which knows no
 * colorimetry).  The initial V4L2_EVENT_SOURCE_CHANGE follows the
 * decoder's first picture or, when the worker runs out of data before the
 * frame threads give one, that of a one-thread probe (probe.c).  A
 * resolution change is seen in display order, after every picture of the
 * old size went out: then the event, an empty LAST buffer, and the decoder
 * stops until DEC_CMD_START or a CAPTURE STREAMOFF / STREAMON.
 *
 * Pixel formats: 8-bit 4:2:0 (what the offered codecs give for the usual
 * profiles) is copied exactly; anything else (10-bit, 4:2:2, 4:4:4) is
 * converted to the CAPTURE format by libswscale, dropping precision.
 *
 * Zero-copy.  For H.264 into YU12 MMAP buffers, libavcodec's get_buffer2
 * is given the memory of a queued CAPTURE buffer (lend()), so a picture is
 * decoded where the guest reads it and goes out without a copy.  The
 * buffer lifecycle, all under ss->mu:
 *  - lending takes the buffer out of the CAPTURE FIFO and sets b->zc; the
 *    guest still sees it queued;
 *  - when libavcodec outputs the picture, the buffer is posted as any
 *    filled one (DQBUF); libavcodec may keep predicting from it, and the
 *    guest may DQBUF and QBUF it again meanwhile: while b->zc is set it
 *    sits in the FIFO but nobody takes it (take_free());
 *  - the AVBufferRef's free callback (zc_free(), on whatever thread drops
 *    the last reference) clears b->zc; a buffer whose picture never went
 *    out (dropped, flushed by a seek) goes back to the FIFO;
 *  - STREAMOFF bumps the CAPTURE generation: a picture lent before is
 *    copied into a buffer of the new generation instead (its memory is
 *    still ours);
 *  - REQBUFS and close free buffers: a lent one's MMAP range is kept as an
 *    orphan (dec_zc_keep()) and freed by the device thread after
 *    libavcodec let go (dec_zc_reap()), so libavcodec never reads or
 *    writes memory handed to another buffer.  Close stops the worker (and
 *    frees libavcodec) before it frees the buffers, so nothing is left.
 * A guest that writes into a mapped buffer libavcodec still predicts from
 * only corrupts its own later pictures, as on hardware decoders that
 * decode into CAPTURE buffers.  Everything else falls back to libavcodec's
 * own allocator and the copy: NV12, USERPTR, other codecs, a layout that
 * does not fit, no free buffer (get_buffer2 never waits).  At most
 * DEC_MIN_CAPTURE_BUFS - 1 buffers, and never the last one, are lent, so a
 * copied picture or a LAST buffer always finds one once the guest gives
 * its buffers back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "decoder_internal.h"

/* Bytes a parser may hold without finding a frame before the data is
 * declared garbage: its buffer would otherwise grow with the guest's data. */
#define PARSER_MAX_PENDING ((size_t)DEC_OUT_MAX_SIZE)

struct dec_worker {
	const struct dec_codec *codec;
	AVCodecContext *ctx;
	AVCodecContext *pctx;   /* the parser's own context: parsers write to it */
	AVCodecParserContext *parser;
	AVPacket *pkt;
	AVFrame *frame;
	struct SwsContext *sws;
	struct dec_probe *probe; /* while the stream's format is not announced */
	size_t parser_pending;
	/* The parser gives a piece's pts to the first frame starting in it
	 * only; later frames starting in the same piece share it (the spec:
	 * one OUTPUT buffer, several CAPTURE buffers, the same timestamp). */
	int64_t last_pts;
};

enum { OK = 0, ABORT = -1 };

static void wait_locked(struct dec_session *ss)
{
	ss->idle = true;
	pthread_cond_wait(&ss->cv, &ss->mu);
	ss->idle = false;
}

static bool aborted_locked(struct dec_session *ss, uint32_t gen)
{
	return ss->quit || ss->flush || ss->q[0].gen != gen;
}

static bool aborted(struct dec_session *ss, uint32_t gen)
{
	pthread_mutex_lock(&ss->mu);
	bool r = aborted_locked(ss, gen);
	pthread_mutex_unlock(&ss->mu);
	return r;
}

/* ---- zero-copy: CAPTURE buffers lent to libavcodec ---- */

struct dec_zc {
	struct dec_session *ss;
	struct dec_zc *next;      /* ss->zc_orphans */
	uint8_t *host;            /* the buffer's memory */
	uint32_t index, gen;      /* the buffer, the CAPTURE generation when lent */
	uint32_t offset;          /* its MMAP range */
	bool output;              /* its picture was posted */
	bool orphan;              /* the buffer was freed: the range waits for us */
	bool released;            /* orphan libavcodec let go of: free the range */
};

/*
 * Codecs whose decoder writes only inside the coded size it asks
 * get_buffer2 for (frame->width x height, whole macroblocks for H.264)
 * and reads at most one chroma row past it (the chroma MC over-read that
 * avcodec_align_dimensions2()'s extra rows are for).  That is what the
 * CAPTURE layout (formats.c: height rounded to 16, planes back to back)
 * can give in place; the planes' own padding rows are not there, so other
 * decoders, which may write up to the aligned height, keep copying.
 */
static bool zc_codec(int id)
{
	return id == AV_CODEC_ID_H264;
}

/* Bytes past the last plane libavcodec may read: the chroma row, and the
 * slack its own pools give each plane (16 + STRIDE_ALIGN - 1). */
static size_t zc_tail(uint32_t bytesperline)
{
	return bytesperline / 2 + 16 + 64;
}

/* Memory really behind a buffer of @length: MMAP ranges are page-rounded
 * (vmedia_mmap_alloc). */
static size_t zc_span(uint32_t length)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return ((size_t)length + page - 1) / page * page;
}

/* Take a queued CAPTURE buffer that libavcodec does not hold: the oldest,
 * or with @need (lending) the newest that holds the format's sizeimage
 * with @need bytes of memory behind it.  Caller holds ss->mu. */
static bool take_free(struct dec_session *ss, size_t need, uint32_t *index)
{
	struct dec_queue *cq = &ss->q[1];
	for (uint32_t n = 0; n < cq->fifo_len; n++) {
		/* A copy takes the oldest, as the guest queued them.  A lent
		 * buffer only has to be free, and the newest is the one most
		 * likely still in cache (as libavcodec's own pool reuses the
		 * buffer it freed last). */
		uint32_t k = need ? cq->fifo_len - 1 - n : n;
		uint32_t i = cq->fifo[(cq->fifo_head + k) % DEC_MAX_BUFFERS];
		const struct dec_buf *b = &cq->bufs[i];
		if (b->zc || (need && (b->length < ss->cap_fmt.sizeimage ||
				       zc_span(b->length) < need)))
			continue;
		/* Close the gap: the older entries move up by one. */
		for (uint32_t m = k; m > 0; m--)
			cq->fifo[(cq->fifo_head + m) % DEC_MAX_BUFFERS] =
				cq->fifo[(cq->fifo_head + m - 1) % DEC_MAX_BUFFERS];
		cq->fifo_head = (cq->fifo_head + 1) % DEC_MAX_BUFFERS;
		cq->fifo_len--;
		*index = i;
		return true;
	}
	return false;
}

/* The AVBufferRef's last reference went (any thread; never under ss->mu). */
static void zc_free(void *opaque, uint8_t *data)
{
	(void)data;
	struct dec_zc *z = opaque;
	struct dec_session *ss = z->ss;
	pthread_mutex_lock(&ss->mu);
	if (z->orphan) {
		z->released = true; /* the device thread frees range and record */
		pthread_mutex_unlock(&ss->mu);
		return;
	}
	struct dec_queue *cq = &ss->q[1];
	struct dec_buf *b = &cq->bufs[z->index];
	b->zc = NULL;
	if (!z->output && z->gen == cq->gen && b->state == BUF_QUEUED) {
		/* Its picture never went out: the guest's buffer is free again. */
		cq->fifo[(cq->fifo_head + cq->fifo_len) % DEC_MAX_BUFFERS] = z->index;
		cq->fifo_len++;
	}
	dec_kick(ss); /* a buffer the worker may be waiting for */
	pthread_mutex_unlock(&ss->mu);
	free(z);
}

/* Lend a queued buffer for @fr if the layout fits.  Caller holds ss->mu. */
static bool lend_locked(struct dec_session *ss, AVCodecContext *ctx, AVFrame *fr, int align)
{
	struct dec_queue *cq = &ss->q[1];
	const struct dec_cap_fmt *f = &ss->cap_fmt;
	if (cq->memory != V4L2_MEMORY_MMAP || !cq->streaming || ss->stopped || !ss->parsed ||
	    f->pixelformat != V4L2_PIX_FMT_YUV420 || cq->nbufs < 2)
		return false;
	/* Pictures of another size (a resolution change on its way) would
	 * only land in buffers about to be freed. */
	if (ctx->width != (int)f->vis_w || ctx->height != (int)f->vis_h)
		return false;
	uint32_t bpl = f->bytesperline, cbpl = bpl / 2;
	if (align <= 0 || bpl % (uint32_t)align || cbpl % (uint32_t)align ||
	    (uint32_t)fr->width > bpl || (uint32_t)fr->height > f->height)
		return false;
	uint32_t lent = 0;
	for (uint32_t i = 0; i < cq->nbufs; i++)
		lent += cq->bufs[i].zc != NULL;
	uint32_t max = DEC_MIN_CAPTURE_BUFS - 1;
	if (max > cq->nbufs - 1)
		max = cq->nbufs - 1;
	if (lent >= max)
		return false;
	size_t need = (size_t)f->sizeimage + zc_tail(bpl);
	struct dec_zc *z = calloc(1, sizeof(*z));
	if (!z)
		return false;
	uint32_t i;
	if (!take_free(ss, need, &i)) {
		free(z);
		return false;
	}
	struct dec_buf *b = &cq->bufs[i];
	AVBufferRef *ref = av_buffer_create(b->host, (size_t)b->length, zc_free, z, 0);
	if (!ref) {
		/* Back at the head, where it was the oldest free one. */
		cq->fifo_head = (cq->fifo_head + DEC_MAX_BUFFERS - 1) % DEC_MAX_BUFFERS;
		cq->fifo[cq->fifo_head] = i;
		cq->fifo_len++;
		free(z);
		return false;
	}
	*z = (struct dec_zc){ .ss = ss, .host = b->host, .index = i, .gen = cq->gen,
			      .offset = b->offset };
	b->zc = z;
	fr->buf[0] = ref;
	dec_cap_planes(f, b->host, fr->data, fr->linesize);
	fr->extended_data = fr->data;
	return true;
}

/* libavcodec's get_buffer2, on its own threads: never waits for the guest. */
static int zc_get_buffer2(AVCodecContext *ctx, AVFrame *fr, int flags)
{
	struct dec_session *ss = ctx->opaque;
	if (ss && (fr->format == AV_PIX_FMT_YUV420P || fr->format == AV_PIX_FMT_YUVJ420P)) {
		int w = fr->width, h = fr->height, align[AV_NUM_DATA_POINTERS] = { 0 };
		avcodec_align_dimensions2(ctx, &w, &h, align);
		pthread_mutex_lock(&ss->mu);
		bool lent = lend_locked(ss, ctx, fr, align[0]);
		pthread_mutex_unlock(&ss->mu);
		if (lent)
			return 0;
	}
	return avcodec_default_get_buffer2(ctx, fr, flags);
}

/* The lending record of @fr's memory if it is a buffer of the current
 * CAPTURE set (orphans are not).  Caller holds ss->mu. */
static struct dec_zc *zc_of(struct dec_session *ss, const AVFrame *fr)
{
	if (!fr->buf[0] || fr->buf[1])
		return NULL;
	const void *op = av_buffer_get_opaque(fr->buf[0]);
	const struct dec_queue *cq = &ss->q[1];
	for (uint32_t i = 0; i < cq->nbufs; i++)
		if (cq->bufs[i].zc && cq->bufs[i].zc == op)
			return cq->bufs[i].zc;
	return NULL;
}

/* Whether @fr, decoded into @z's buffer, can go out as it is: lent in this
 * generation, not out yet, and where the CAPTURE layout puts a picture
 * (cropping at the top or left would have moved it).  Caller holds ss->mu. */
static bool zc_in_place(struct dec_session *ss, const AVFrame *fr, const struct dec_zc *z)
{
	const struct dec_queue *cq = &ss->q[1];
	const struct dec_cap_fmt *f = &ss->cap_fmt;
	const struct dec_buf *b = &cq->bufs[z->index];
	if (z->output || z->gen != cq->gen || b->state != BUF_QUEUED ||
	    f->pixelformat != V4L2_PIX_FMT_YUV420 || b->length < f->sizeimage)
		return false;
	uint8_t *data[4];
	int linesize[4];
	dec_cap_planes(f, z->host, data, linesize);
	for (int p = 0; p < 3; p++)
		if (fr->data[p] != data[p] || fr->linesize[p] != linesize[p])
			return false;
	return true;
}

bool dec_zc_keep(struct dec_session *ss, struct dec_buf *b)
{
	struct dec_zc *z = b->zc;
	if (!z)
		return false;
	z->orphan = true;
	z->next = ss->zc_orphans;
	ss->zc_orphans = z;
	b->zc = NULL;
	return true;
}

void dec_zc_reap(struct dec_session *ss)
{
	for (struct dec_zc **pp = &ss->zc_orphans; *pp;) {
		struct dec_zc *z = *pp;
		if (!z->released) {
			pp = &z->next;
			continue;
		}
		*pp = z->next;
		vmedia_mmap_free(ss->s->dev, z->offset);
		free(z);
	}
}

/* ---- decoder and parser ---- */

static void close_probe(struct dec_worker *w)
{
	dec_probe_free(w->probe);
	w->probe = NULL;
}

static void close_decoder(struct dec_worker *w)
{
	close_probe(w);
	avcodec_free_context(&w->ctx);
	avcodec_free_context(&w->pctx);
	if (w->parser)
		av_parser_close(w->parser);
	w->parser = NULL;
	w->codec = NULL;
	w->parser_pending = 0;
}

static void reset_parser(struct dec_worker *w)
{
	if (w->parser) {
		av_parser_close(w->parser);
		w->parser = av_parser_init(w->ctx->codec_id);
	}
	w->parser_pending = 0;
}

static int open_decoder(struct dec_session *ss, struct dec_worker *w, const struct dec_codec *c)
{
	close_decoder(w);
	const AVCodec *codec = dec_codec_decoder(c);
	if (!codec)
		return -EINVAL;
	w->ctx = avcodec_alloc_context3(codec);
	if (!w->ctx)
		return -ENOMEM;
	/* 0 is libavcodec's "one per CPU", as the config's. */
	w->ctx->thread_count = (int)ss->dec->cfg.threads;
	w->ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
	w->ctx->max_pixels = (int64_t)DEC_MAX_DIM * DEC_MAX_DIM;
	/* Packet pts are V4L2 timestamps in microseconds. */
	w->ctx->pkt_timebase = (AVRational){ 1, 1000000 };
	if (zc_codec(codec->id)) {
		w->ctx->opaque = ss;
		w->ctx->get_buffer2 = zc_get_buffer2;
#if FF_API_THREAD_SAFE_CALLBACKS
		/* zc_get_buffer2 only takes ss->mu, which no thread holds while
		 * calling into libavcodec, so frame threads may call it
		 * themselves.  Without this flag libavcodec before 60 has every
		 * frame thread wait for this (the worker's) thread to allocate
		 * its picture, which serialises frame threading; from 60 on the
		 * flag is gone and callbacks must be thread-safe anyway. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
		w->ctx->thread_safe_callbacks = 1;
#pragma GCC diagnostic pop
#endif
	}
	if (avcodec_open2(w->ctx, codec, NULL) < 0) {
		close_decoder(w);
		return -EINVAL;
	}
	if (c->parse) {
		w->pctx = avcodec_alloc_context3(codec);
		w->parser = av_parser_init(codec->id);
		if (!w->pctx || !w->parser) {
			close_decoder(w);
			return -ENOMEM;
		}
	}
	w->codec = c;
	return 0;
}

/* ---- pictures into CAPTURE buffers ---- */

/* Copy the visible picture into @dst laid out as @f.  Returns 0 or -1. */
static int copy_frame(struct dec_worker *w, const AVFrame *fr, const struct dec_cap_fmt *f,
		      uint8_t *dst)
{
	int fw = fr->width, fh = fr->height;
	uint8_t *d[4];
	int dl[4];
	dec_cap_planes(f, dst, d, dl);
	bool nv12 = f->pixelformat == V4L2_PIX_FMT_NV12;
	bool yuv420 = fr->format == AV_PIX_FMT_YUV420P || fr->format == AV_PIX_FMT_YUVJ420P;
	if (yuv420 && !nv12) {
		av_image_copy(d, dl, (const uint8_t **)fr->data, fr->linesize, AV_PIX_FMT_YUV420P,
			      fw, fh);
		return 0;
	}
	if (yuv420) {
		/* Exact: interleaving is all NV12 needs. */
		av_image_copy_plane(d[0], dl[0], fr->data[0], fr->linesize[0], fw, fh);
		int cw = (fw + 1) / 2, ch = (fh + 1) / 2;
		for (int y = 0; y < ch; y++) {
			const uint8_t *u = fr->data[1] + (size_t)y * fr->linesize[1];
			const uint8_t *v = fr->data[2] + (size_t)y * fr->linesize[2];
			uint8_t *o = d[1] + (size_t)y * dl[1];
			for (int x = 0; x < cw; x++) {
				o[2 * x] = u[x];
				o[2 * x + 1] = v[x];
			}
		}
		return 0;
	}
	w->sws = sws_getCachedContext(w->sws, fw, fh, fr->format, fw, fh,
				      nv12 ? AV_PIX_FMT_NV12 : AV_PIX_FMT_YUV420P, SWS_BILINEAR,
				      NULL, NULL, NULL);
	if (!w->sws)
		return -1;
	return sws_scale(w->sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fh, d, dl) == fh
		       ? 0 : -1;
}

static uint8_t *buf_mem(const struct dec_queue *q, const struct dec_buf *b)
{
	return q->memory == V4L2_MEMORY_MMAP ? b->host : (uint8_t *)b->mem->ptr;
}

static void post_capture(struct dec_session *ss, uint32_t i, uint32_t bytesused, uint32_t flags,
			 int64_t pts)
{
	struct dec_queue *cq = &ss->q[1];
	struct dec_buf *b = &cq->bufs[i];
	b->state = BUF_DONE;
	b->bytesused = bytesused;
	b->flags = flags;
	b->sequence = cq->sequence++;
	if (pts == AV_NOPTS_VALUE || pts < 0)
		pts = 0;
	b->timestamp.tv_sec = (time_t)(pts / 1000000);
	b->timestamp.tv_usec = (suseconds_t)(pts % 1000000);
	struct dec_completion c = { .kind = C_CAPTURE, .gen = cq->gen, .index = i,
				    .bytesused = bytesused, .flags = flags };
	dec_post(ss, &c);
}

static void post_event_locked(struct dec_session *ss, uint32_t type)
{
	struct dec_completion c = { .kind = C_EVENT };
	c.ev.type = type;
	if (type == V4L2_EVENT_SOURCE_CHANGE)
		c.ev.u.src_change.changes = V4L2_EVENT_SRC_CH_RESOLUTION;
	dec_post(ss, &c);
}

/* An empty LAST buffer, if one is queued, with the event (EOS or
 * SOURCE_CHANGE) that says why; the decoder then stops.  The event goes
 * first, as kernel drivers queue it: a client that dequeues the LAST
 * buffer may look for the event at once (v4l2-compliance does), and the
 * device thread may deliver what is posted between any two posts.  Caller
 * holds ss->mu.  Returns whether they went out. */
static bool post_last_locked(struct dec_session *ss, uint32_t event)
{
	struct dec_queue *cq = &ss->q[1];
	uint32_t i;
	if (!cq->streaming || !take_free(ss, 0, &i))
		return false;
	post_event_locked(ss, event);
	post_capture(ss, i, 0, V4L2_BUF_FLAG_LAST, 0);
	ss->stopped = true;
	return true;
}

static bool describable(const AVFrame *fr)
{
	return fr->width >= 1 && fr->height >= 1 && fr->width <= DEC_MAX_DIM &&
	       fr->height <= DEC_MAX_DIM;
}

/* The stream's format, from a picture of it: CAPTURE's layout for its
 * size, and its colorimetry.  Caller holds ss->mu and posts the event. */
static void take_format_locked(struct dec_session *ss, const AVFrame *fr)
{
	dec_cap_layout(ss->cap_fmt.pixelformat, (uint32_t)fr->width, (uint32_t)fr->height,
		       &ss->cap_fmt);
	ss->cap_fmt.stream = dec_colorimetry_from_av(fr->color_primaries, fr->color_trc,
						     fr->colorspace, fr->color_range);
	ss->parsed = true;
}

/* Put one decoded picture out, waiting for what it needs.  Returns OK
 * (also when the picture was dropped) or ABORT. */
static int emit(struct dec_session *ss, struct dec_worker *w, AVFrame *fr, uint32_t gen)
{
	if (!describable(fr))
		return OK; /* no picture */
	uint32_t fw = (uint32_t)fr->width, fh = (uint32_t)fr->height;
	int64_t pts = fr->pts != AV_NOPTS_VALUE ? fr->pts : fr->best_effort_timestamp;
	bool corrupt = (fr->flags & AV_FRAME_FLAG_CORRUPT) || fr->decode_error_flags;
	struct dec_queue *cq = &ss->q[1];
	pthread_mutex_lock(&ss->mu);
	for (;;) {
		ss->kicked = false;
		if (aborted_locked(ss, gen)) {
			pthread_mutex_unlock(&ss->mu);
			return ABORT;
		}
		bool same = ss->cap_fmt.vis_w == fw && ss->cap_fmt.vis_h == fh;
		if (!ss->parsed || !same) {
			/* Buffers set up for another size: finish them with LAST
			 * (dynamic resolution change), which carries the event;
			 * otherwise the event alone.  The new format is in place
			 * before the guest can ask for it: it takes ss->mu. */
			bool finish = !same && cq->streaming && cq->nbufs && !ss->stopped;
			if (finish && !post_last_locked(ss, V4L2_EVENT_SOURCE_CHANGE)) {
				wait_locked(ss);
				continue;
			}
			if (!finish)
				post_event_locked(ss, V4L2_EVENT_SOURCE_CHANGE);
			take_format_locked(ss, fr);
			continue;
		}
		if (ss->stopped || !cq->streaming) {
			wait_locked(ss);
			continue;
		}
		struct dec_zc *z = zc_of(ss, fr);
		if (z && zc_in_place(ss, fr, z)) {
			/* Decoded in place: out as it is. */
			z->output = true;
			post_capture(ss, z->index, ss->cap_fmt.sizeimage,
				     corrupt ? V4L2_BUF_FLAG_ERROR : 0, pts);
			pthread_mutex_unlock(&ss->mu);
			return OK;
		}
		uint32_t i;
		if (!take_free(ss, 0, &i)) {
			wait_locked(ss);
			continue;
		}
		struct dec_buf *b = &cq->bufs[i];
		if (b->length < ss->cap_fmt.sizeimage) {
			/* Queued for an older, smaller format. */
			post_capture(ss, i, 0, V4L2_BUF_FLAG_ERROR, pts);
			continue;
		}
		int r = copy_frame(w, fr, &ss->cap_fmt, buf_mem(cq, b));
		post_capture(ss, i, ss->cap_fmt.sizeimage,
			     r || corrupt ? V4L2_BUF_FLAG_ERROR : 0, pts);
		pthread_mutex_unlock(&ss->mu);
		return OK;
	}
}

/* Every picture the decoder has ready.  Returns how many (>= 0), ABORT, or
 * -2 when the decoder reported an error (pictures may still have gone). */
static int receive_all(struct dec_session *ss, struct dec_worker *w, uint32_t gen, bool *eof)
{
	int n = 0;
	for (;;) {
		int r = avcodec_receive_frame(w->ctx, w->frame);
		if (r == AVERROR(EAGAIN))
			return n;
		if (r == AVERROR_EOF) {
			if (eof)
				*eof = true;
			return n;
		}
		if (r < 0)
			return -2;
		r = emit(ss, w, w->frame, gen);
		av_frame_unref(w->frame);
		if (r == ABORT)
			return ABORT;
		n++;
	}
}

/* Initialization: no CAPTURE stream, and the format not announced yet.
 * Caller holds ss->mu. */
static bool initializing_locked(const struct dec_session *ss)
{
	return !ss->parsed && !ss->q[1].streaming;
}

/* While initializing, the probe (probe.c) keeps a copy of what the decoder
 * is given; afterwards it goes. */
static void probe_keep(struct dec_session *ss, struct dec_worker *w, const AVPacket *pkt,
		       uint32_t gen)
{
	pthread_mutex_lock(&ss->mu);
	bool wanted = initializing_locked(ss) && !aborted_locked(ss, gen);
	pthread_mutex_unlock(&ss->mu);
	if (!wanted) {
		close_probe(w);
		return;
	}
	if (pkt->size && (w->probe || (w->probe = dec_probe_new(dec_codec_decoder(w->codec)))))
		dec_probe_keep(w->probe, pkt);
}

/* Out of data, still initializing: the probe's first picture announces
 * the format (without one, the decoder's will).  Called and returns with
 * ss->mu held. */
static void probe_run_locked(struct dec_session *ss, struct dec_worker *w)
{
	pthread_mutex_unlock(&ss->mu);
	const AVFrame *fr = dec_probe_run(w->probe);
	pthread_mutex_lock(&ss->mu);
	if (!fr)
		return;
	if (describable(fr) && initializing_locked(ss)) {
		post_event_locked(ss, V4L2_EVENT_SOURCE_CHANGE);
		take_format_locked(ss, fr);
	}
	pthread_mutex_unlock(&ss->mu);
	close_probe(w);
	pthread_mutex_lock(&ss->mu);
}

/* Send w->pkt (NULL data: drain), taking pictures out as needed.
 * Returns OK, ABORT or -2 (error). */
static int send(struct dec_session *ss, struct dec_worker *w, AVPacket *pkt, uint32_t gen)
{
	int err = OK;
	if (pkt)
		probe_keep(ss, w, pkt, gen);
	for (int tries = 0;; tries++) {
		int r = avcodec_send_packet(w->ctx, pkt);
		int n = receive_all(ss, w, gen, NULL);
		if (n == ABORT)
			return ABORT;
		if (n == -2)
			err = -2;
		if (r == AVERROR(EAGAIN) && tries < 64)
			continue; /* pictures taken out: send the same packet again */
		if (r < 0 && r != AVERROR_EOF)
			err = -2;
		return err;
	}
}

/* Feed one job.  Returns OK, ABORT or -2 (something in it was bad). */
static int feed(struct dec_session *ss, struct dec_worker *w, struct dec_job *j)
{
	AVPacket *pkt = w->pkt;
	if (!j->size)
		return OK;
	if (!w->parser) {
		/* One frame (temporal unit) per buffer; the data stays ours. */
		av_packet_unref(pkt);
		pkt->data = j->data;
		pkt->size = (int)j->size;
		pkt->pts = j->pts;
		int r = send(ss, w, pkt, j->gen);
		pkt->data = NULL;
		pkt->size = 0;
		return r;
	}
	int err = OK;
	const uint8_t *data = j->data;
	size_t left = j->size;
	while (left > 0) {
		if (aborted(ss, j->gen))
			return ABORT;
		uint8_t *out = NULL;
		int outlen = 0;
		int chunk = left > INT32_MAX ? INT32_MAX : (int)left;
		int used = av_parser_parse2(w->parser, w->pctx, &out, &outlen, data, chunk, j->pts,
					    AV_NOPTS_VALUE, 0);
		if (used < 0 || (used == 0 && outlen == 0)) {
			reset_parser(w);
			return -2;
		}
		data += used;
		left -= (size_t)used;
		w->parser_pending += (size_t)used;
		if (outlen > 0) {
			w->parser_pending = 0;
			av_packet_unref(pkt);
			pkt->data = out;
			pkt->size = outlen;
			if (w->parser->pts != AV_NOPTS_VALUE)
				w->last_pts = w->parser->pts;
			pkt->pts = w->last_pts;
			int r = send(ss, w, pkt, j->gen);
			pkt->data = NULL;
			pkt->size = 0;
			if (r == ABORT)
				return ABORT;
			if (r)
				err = r;
		} else if (w->parser_pending > PARSER_MAX_PENDING) {
			reset_parser(w);
			err = -2;
		}
	}
	return err;
}

/* DEC_CMD_STOP's marker: every picture out, then V4L2_EVENT_EOS and an
 * empty LAST buffer; the decoder then waits for DEC_CMD_START.  Returns OK
 * or ABORT. */
static int drain(struct dec_session *ss, struct dec_worker *w, uint32_t gen)
{
	if (w->ctx) {
		if (w->parser) {
			uint8_t *out = NULL;
			int outlen = 0;
			av_parser_parse2(w->parser, w->pctx, &out, &outlen, NULL, 0, AV_NOPTS_VALUE,
					 AV_NOPTS_VALUE, 0);
			if (outlen > 0) {
				av_packet_unref(w->pkt);
				w->pkt->data = out;
				w->pkt->size = outlen;
				w->pkt->pts = w->parser->pts != AV_NOPTS_VALUE ? w->parser->pts
									       : w->last_pts;
				int r = send(ss, w, w->pkt, gen);
				w->pkt->data = NULL;
				w->pkt->size = 0;
				if (r == ABORT)
					return ABORT;
			}
		}
		avcodec_send_packet(w->ctx, NULL);
		bool eof = false;
		for (int rounds = 0; !eof && rounds < 1024; rounds++) {
			int n = receive_all(ss, w, gen, &eof);
			if (n == ABORT)
				return ABORT;
			if (n == -2)
				break;
		}
		/* Leave draining mode: the stream may go on after START. */
		avcodec_flush_buffers(w->ctx);
		reset_parser(w);
	}
	pthread_mutex_lock(&ss->mu);
	for (;;) {
		ss->kicked = false;
		if (aborted_locked(ss, gen)) {
			pthread_mutex_unlock(&ss->mu);
			return ABORT;
		}
		if (post_last_locked(ss, V4L2_EVENT_EOS))
			break;
		wait_locked(ss);
	}
	ss->draining = false;
	pthread_mutex_unlock(&ss->mu);
	return OK;
}

static void *run(void *arg)
{
	struct dec_session *ss = arg;
	struct dec_worker *w = ss->w;
	pthread_mutex_lock(&ss->mu);
	for (;;) {
		ss->kicked = false;
		if (ss->quit)
			break;
		if (ss->flush) {
			/* A seek: nothing decoded before it may come out after. */
			ss->flush = false;
			pthread_mutex_unlock(&ss->mu);
			if (w->ctx) {
				avcodec_flush_buffers(w->ctx);
				reset_parser(w);
			}
			close_probe(w);
			pthread_mutex_lock(&ss->mu);
			continue;
		}
		struct dec_job *j = NULL;
		if (ss->q[0].streaming && !ss->stopped && ss->jobs) {
			j = ss->jobs;
			ss->jobs = j->next;
			if (!ss->jobs)
				ss->jobs_tail = &ss->jobs;
		}
		if (!j) {
			if (w->probe && dec_probe_ready(w->probe) && initializing_locked(ss) &&
			    !ss->flush && !ss->quit) {
				probe_run_locked(ss, w);
				continue;
			}
			wait_locked(ss);
			continue;
		}
		/* Its buffer goes back now if it has not yet (the bounds held
		 * it), and room is made for those queued behind it. */
		dec_return_jobs(ss, j);
		const struct dec_codec *c = dec_codec_find(&ss->dec->codecs, ss->out_fmt.pixelformat);
		/* libavcodec keeps what one stream's headers said (colorimetry
		 * a later stream leaves unsaid, say): a new stream gets a new
		 * decoder, as it would in a new session. */
		bool fresh = ss->new_stream;
		ss->new_stream = false;
		pthread_mutex_unlock(&ss->mu);

		int r;
		if (j->drain) {
			r = drain(ss, w, j->gen);
		} else {
			r = OK;
			if (c && (c != w->codec || fresh))
				r = open_decoder(ss, w, c) ? -2 : OK;
			if (r == OK && w->ctx)
				r = feed(ss, w, j);
		}

		(void)r; /* bad data shows on the CAPTURE buffers (ERROR) */
		pthread_mutex_lock(&ss->mu);
		free(j);
	}
	pthread_mutex_unlock(&ss->mu);
	return NULL;
}

int dec_worker_start(struct dec_session *ss)
{
	if (ss->worker_started)
		return 0;
	struct dec_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->pkt = av_packet_alloc();
	w->frame = av_frame_alloc();
	if (!w->pkt || !w->frame)
		goto fail;
	ss->w = w;
	pthread_mutex_lock(&ss->mu);
	ss->quit = false;
	ss->idle = false;
	pthread_mutex_unlock(&ss->mu);
	if (pthread_create(&ss->thread, NULL, run, ss))
		goto fail;
	ss->worker_started = true;
	return 0;
fail:
	av_packet_free(&w->pkt);
	av_frame_free(&w->frame);
	free(w);
	ss->w = NULL;
	return -ENOMEM;
}

void dec_worker_stop(struct dec_session *ss)
{
	if (!ss->worker_started)
		return;
	pthread_mutex_lock(&ss->mu);
	ss->quit = true;
	pthread_cond_broadcast(&ss->cv);
	pthread_mutex_unlock(&ss->mu);
	pthread_join(ss->thread, NULL);
	ss->worker_started = false;
	struct dec_worker *w = ss->w;
	close_decoder(w);
	sws_freeContext(w->sws);
	av_packet_free(&w->pkt);
	av_frame_free(&w->frame);
	free(w);
	ss->w = NULL;
}
