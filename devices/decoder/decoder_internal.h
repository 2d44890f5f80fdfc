/* SPDX-License-Identifier: MIT */
/*
 * Internal interfaces of the decoder device, between its files:
 *   codecs.c   which coded formats this libavcodec can decode
 *   formats.c  V4L2 formats, frame sizes, selection rectangles
 *   buffers.c  the two buffer queues of a session (vb2's rules)
 *   worker.c   the decoding thread: parser, decoder, frame copy
 *   decoder.c  ops table, sessions, events, controls, completion delivery
 *
 * Unlike the simple camera, all state is per session: every open() of a
 * V4L2 M2M node is its own decoding context with its own formats and
 * queues.
 *
 * Threads and locks.  A session's worker and the device thread share the
 * session under ss->mu: the job FIFO, the CAPTURE queue, the formats and
 * the flags below.  The worker touches buffer memory only under ss->mu
 * (take a CAPTURE buffer, copy a frame into it, post the completion), so
 * STREAMOFF, REQBUFS and close revoke buffers by taking the same lock.
 * Completions go to the device's list under dec->mu (taken inside ss->mu,
 * never the other way round) and reach the guest on the device thread in
 * vmedia_decoder_complete(), which checks the queue generation they were
 * made for: a STREAMOFF or REQBUFS in between makes them stale.
 *
 * Zero-copy (worker.c): libavcodec may decode straight into a queued MMAP
 * CAPTURE buffer, lent to it as an AVBufferRef.  libavcodec's own threads
 * then take ss->mu too (lending in get_buffer2, the return in the
 * AVBufferRef's free callback), so nobody may call into libavcodec while
 * holding ss->mu.  A lent buffer (dec_buf.zc set) is neither lent again nor
 * written by the worker until libavcodec lets go of it, whatever the guest
 * does with it meanwhile; if REQBUFS or close frees it first, its MMAP
 * range is kept (an orphan) until then: see dec_zc_keep().
 */
#ifndef DECODER_INTERNAL_H
#define DECODER_INTERNAL_H

#include <pthread.h>

#include "vmedia_decoder.h"

#ifndef V4L2_PIX_FMT_AV1
/* Newer UAPI headers have it; the value is the kernel's. */
#define V4L2_PIX_FMT_AV1 v4l2_fourcc('A', 'V', '0', '1')
#endif

#define DEC_MAX_BUFFERS 32      /* VIDEO_MAX_FRAME, as vb2 */
#define DEC_MIN_DIM 16          /* one macroblock */
#define DEC_MAX_DIM 8192        /* also the decoder's max_pixels bound */
#define DEC_DIM_ALIGN 16        /* CAPTURE width/height: macroblock multiple */
#define DEC_BPL_ALIGN 64        /* CAPTURE bytesperline, see formats.c */
#define DEC_OUT_MIN_SIZE 4096
#define DEC_OUT_DEFAULT_SIZE (1u << 20)
#define DEC_OUT_MAX_SIZE (32u << 20)
#define DEC_PLACEHOLDER_W 1280  /* CAPTURE before any size is known: 720p, */
#define DEC_PLACEHOLDER_H 720   /* a common size, as hardware decoders default to */
/* V4L2_CID_MIN_BUFFERS_FOR_CAPTURE.  With zero-copy, libavcodec keeps the
 * CAPTURE buffers of its reference and reordering pictures plus those its
 * frame threads are decoding into, and the client holds one or two it has
 * dequeued but not yet re-queued: what hardware decoders report as DPB
 * size + 1 and more.  Measured with two frame threads on a 720p libx264
 * stream: a limit of 7 lent buffers left about 12% of the pictures
 * copied, 11 left 1%.  The worker never lends libavcodec more than this
 * less one, so a client that allocates MIN + its own needs always leaves a
 * buffer for the frames it copies; a stream that wants more (or a client
 * with fewer buffers) only gets more copies. */
#define DEC_MIN_CAPTURE_BUFS 12
#define DEC_NUM_CTRLS 2
/* OUTPUT buffers go back to the guest once their data is copied into a
 * job (the hardware decoder's bitstream buffer), not once it is decoded:
 * one buffer may hold many pictures, and a client may (v4l2-compliance
 * does) dequeue an OUTPUT buffer before it gives back the CAPTURE buffers
 * those pictures need.  This bounds what waits undecoded when it does so
 * (a guest could otherwise make the host hold any amount of its data):
 * beyond it, a buffer goes back only when the worker starts on it.  16 MiB
 * is seconds of 4K video; a 64-session guest can pin 1 GiB at most. */
#define DEC_JOBS_MAX_BYTES (16u << 20)
#define DEC_JOBS_MAX 64

/* ---- codecs.c ---- */

struct dec_codec {
	uint32_t fourcc;
	int codec_id;             /* enum AVCodecID */
	const char *decoder_name; /* NULL: libavcodec's default decoder for codec_id */
	const char *desc;         /* ENUM_FMT description */
	bool parse;               /* a libavcodec parser splits an arbitrary byte stream */
};

/* The coded formats one device offers, in ENUM_FMT order. */
struct dec_codecs {
	const struct dec_codec *c[8];
	unsigned n;
};

/* Those this libavcodec decodes (probed once per process), and of them
 * only the fourccs in the 0-terminated @only when it is not NULL. */
void dec_codecs_init(struct dec_codecs *set, const uint32_t *only);
const struct dec_codec *dec_codec_at(const struct dec_codecs *set, unsigned i);
const struct dec_codec *dec_codec_find(const struct dec_codecs *set, uint32_t fourcc);
/* The libavcodec decoder (const AVCodec *) for @c. */
const void *dec_codec_decoder(const struct dec_codec *c);

/* ---- probe.c: the stream's format ahead of the frame threads ---- */

struct AVFrame;
struct AVPacket;
struct dec_probe;

/* A probe for @codec (a const AVCodec *), or NULL. */
struct dec_probe *dec_probe_new(const void *codec);
/* Keep a copy of @pkt, given to the decoder (silently not, beyond bounds). */
void dec_probe_keep(struct dec_probe *p, const struct AVPacket *pkt);
/* Whether there are kept packets the probe has not decoded yet. */
bool dec_probe_ready(const struct dec_probe *p);
/* Decode them on one thread: the first picture (the probe's) or NULL. */
const struct AVFrame *dec_probe_run(struct dec_probe *p);
void dec_probe_free(struct dec_probe *p); /* NULL: nothing */

/* ---- formats.c ---- */

/* V4L2 colorimetry; a 0 field is not known (V4L2's DEFAULT values). */
struct dec_colorimetry {
	uint32_t colorspace, xfer_func, ycbcr_enc, quantization;
};

/* The CAPTURE picture layout: one plane holding Y then chroma. */
struct dec_cap_fmt {
	uint32_t pixelformat;     /* V4L2_PIX_FMT_NV12 / YUV420 */
	uint32_t width, height;   /* frame buffer (coded, aligned) */
	uint32_t bytesperline, sizeimage;
	uint32_t vis_w, vis_h;    /* the visible rectangle at (0, 0) */
	/* What the stream says (H.264/HEVC VUI, VP9 and AV1 headers), field
	 * by field; what it leaves unsaid follows OUTPUT. */
	struct dec_colorimetry stream;
};

struct dec_out_fmt {
	uint32_t pixelformat;
	/* The client's colorimetry, kept as set and reported on CAPTURE too
	 * (v4l2-compliance's M2M format test wants that) wherever the stream
	 * does not say otherwise (dec_cap_fmt.stream). */
	uint32_t colorspace, xfer_func, ycbcr_enc, quantization;
	uint32_t width, height;   /* the client's, or DEC_PLACEHOLDER_W x _H */
	uint32_t sizeimage;
};

void dec_out_fmt_default(const struct dec_codecs *set, struct dec_out_fmt *f);
/* The layout for a picture of @vis_w x @vis_h in @pixelformat. */
void dec_cap_layout(uint32_t pixelformat, uint32_t vis_w, uint32_t vis_h, struct dec_cap_fmt *f);
/* Where @f puts a picture's planes in a buffer at @base, as libavcodec
 * describes a picture (NULL / 0 past the last plane). */
void dec_cap_planes(const struct dec_cap_fmt *f, uint8_t *base, uint8_t *data[4],
		    int linesize[4]);
/* The colorimetry libavcodec found in the stream (AVCOL_* values of a
 * decoded frame), in V4L2 terms; what has no V4L2 name stays 0. */
struct dec_colorimetry dec_colorimetry_from_av(int primaries, int trc, int matrix, int range);
/* The CAPTURE format before the stream is parsed: the coded size the client
 * gave on OUTPUT, or DEC_PLACEHOLDER_W x _H when it gave none (0 x 0). */
void dec_cap_placeholder(uint32_t pixelformat, uint32_t w, uint32_t h, struct dec_cap_fmt *f);
bool dec_cap_pixfmt_ok(uint32_t pixelformat);

int dec_enum_fmt(const struct dec_codecs *set, struct v4l2_fmtdesc *d);
int dec_enum_framesizes(const struct dec_codecs *set, struct v4l2_frmsizeenum *fs);
/* TRY on OUTPUT: fill @f, and @out if not NULL. */
int dec_try_out_fmt(const struct dec_codecs *set, struct v4l2_format *f,
		    struct dec_out_fmt *out);
void dec_fill_out_fmt(const struct dec_out_fmt *o, struct v4l2_format *f);
/* CAPTURE: the layout @c with its stream's colorimetry, and for what that
 * leaves unknown the OUTPUT format @o's. */
void dec_fill_cap_fmt(const struct dec_cap_fmt *c, const struct dec_out_fmt *o,
		      struct v4l2_format *f);
int dec_selection(const struct dec_cap_fmt *c, struct v4l2_selection *s);

/* ---- buffers.c ---- */

enum dec_buf_state {
	BUF_DEQUEUED,
	BUF_PREPARED,
	BUF_QUEUED,   /* the device has it (OUTPUT: its job; CAPTURE: free to fill) */
	BUF_DONE,     /* CAPTURE: filled by the worker, completion not yet delivered */
};

struct dec_zc; /* worker.c: a CAPTURE buffer lent to libavcodec */

struct dec_buf {
	enum dec_buf_state state;
	uint32_t length;             /* MMAP: allocated; USERPTR: as queued */
	uint32_t offset;             /* MMAP mem_offset */
	uint8_t *host;               /* MMAP: the device's view */
	struct vmedia_usermem *mem;  /* USERPTR: owned while prepared / queued */
	uint32_t bytesused, data_offset, sequence, flags;
	struct timeval timestamp;
	struct dec_zc *zc;           /* CAPTURE MMAP: lent to libavcodec (under ss->mu) */
};

struct dec_queue {
	uint32_t type, memory, nbufs;
	bool streaming;
	uint32_t gen;                /* bumped by STREAMOFF and REQBUFS */
	uint32_t sequence;
	struct dec_buf bufs[DEC_MAX_BUFFERS];
	uint32_t fifo[DEC_MAX_BUFFERS]; /* CAPTURE: queued buffers, oldest first */
	uint32_t fifo_head, fifo_len;
};

/* A piece of coded stream the worker owns: copied out at QBUF. */
struct dec_job {
	struct dec_job *next;
	uint32_t index, gen;
	bool drain;                  /* DEC_CMD_STOP's marker, no data */
	bool returned;               /* its OUTPUT buffer's completion is posted */
	int64_t pts;                 /* the OUTPUT buffer's timestamp in us */
	size_t size;
	uint8_t data[];              /* size bytes, then AV_INPUT_BUFFER_PADDING_SIZE zeros */
};

/* ---- decoder.c: sessions and completions ---- */

enum dec_completion_kind { C_OUTPUT, C_CAPTURE, C_EVENT };

struct dec_session;

struct dec_completion {
	struct dec_completion *next;
	struct dec_session *ss;
	enum dec_completion_kind kind;
	uint32_t gen, index, bytesused, flags;
	struct v4l2_event ev;        /* C_EVENT: type and u */
};

struct dec_worker; /* worker.c */

struct dec_session {
	struct vmedia_session *s;
	struct vmedia_decoder *dec;
	struct dec_session *next;

	pthread_mutex_t mu;
	pthread_cond_t cv;           /* the worker waits here */
	/* ---- under mu ---- */
	struct dec_out_fmt out_fmt;
	struct dec_cap_fmt cap_fmt;  /* the stream's, or a placeholder (formats.c) until then */
	bool parsed;                 /* a picture's size came from the stream */
	struct dec_queue q[2];       /* [0] OUTPUT, [1] CAPTURE */
	struct dec_job *jobs, **jobs_tail;
	bool flush;                  /* OUTPUT STREAMOFF: reset decoder and parser */
	bool quit;
	bool stopped;                /* a LAST buffer went out: no decoding until resumed */
	bool draining;               /* a DEC_CMD_STOP marker is queued or running */
	bool new_stream;             /* Initialization again: the worker opens a fresh decoder */
	bool idle;                   /* the worker waits for the guest */
	bool kicked;                 /* work was given since the worker last looked */
	struct dec_zc *zc_orphans;   /* freed buffers libavcodec held: ranges kept */
	/* ---- device thread only ---- */
	bool worker_started;
	pthread_t thread;
	struct dec_worker *w;
	uint32_t subs;               /* SUB_* bits */
	uint32_t ctrl_sub_flags[DEC_NUM_CTRLS];
	bool ctrl_sub[DEC_NUM_CTRLS];
};

#define SUB_SOURCE_CHANGE (1u << 0)
#define SUB_EOS (1u << 1)

struct vmedia_decoder {
	struct vmedia_decoder_config cfg;
	char card[VMEDIA_CARD_SIZE];
	struct dec_codecs codecs;    /* what this device offers */
	struct vmedia_device *dev;   /* the runner, learned at the first open */
	struct dec_session *sessions;
	unsigned nsessions;
	int wake_fd;
	/* The environment's fd watch while sessions exist. */
	int watch;
	const struct vmedia_env_ops *watch_ops;
	void *watch_env;

	pthread_mutex_t mu;          /* the completion list */
	struct dec_completion *done, **done_tail;
};

static inline struct dec_queue *dec_q(struct dec_session *ss, uint32_t type)
{
	if (type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE)
		return &ss->q[0];
	if (type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE)
		return &ss->q[1];
	return NULL;
}

/* Queue a completion (caller holds ss->mu) and wake the device thread.
 * Returns 0 or -ENOMEM. */
int dec_post(struct dec_session *ss, const struct dec_completion *c);
/* Wake the worker: work for it (caller holds ss->mu). */
void dec_kick(struct dec_session *ss);
/* Post the OUTPUT completions of queued jobs within DEC_JOBS_MAX_BYTES /
 * DEC_JOBS_MAX, if OUTPUT streams (vb2 returns nothing before STREAMON);
 * @started: a job the worker just took, whose buffer goes back now
 * whatever the bounds (NULL: none).  Caller holds ss->mu. */
void dec_return_jobs(struct dec_session *ss, struct dec_job *started);

/* ---- buffers.c ---- */
int dec_reqbufs(struct vmedia_session *s, struct v4l2_requestbuffers *rb);
int dec_create_bufs(struct vmedia_session *s, struct v4l2_create_buffers *cb);
int dec_querybuf(struct vmedia_session *s, struct vmedia_buffer *b);
int dec_qbuf(struct vmedia_session *s, struct vmedia_buffer *b);
int dec_prepare_buf(struct vmedia_session *s, struct vmedia_buffer *b);
int dec_streamon(struct vmedia_session *s, int *type);
int dec_streamoff(struct vmedia_session *s, int *type);
/* The guest's view of a buffer. */
void dec_describe(const struct dec_queue *q, uint32_t i, struct vmedia_buffer *vb);
/* Close: every buffer of both queues freed, jobs dropped (worker stopped). */
void dec_buffers_release(struct dec_session *ss);

/* ---- worker.c ---- */
/* Start the session's worker if it is not running.  Returns 0 or -errno. */
int dec_worker_start(struct dec_session *ss);
/* Stop and join it, freeing its decoder. */
void dec_worker_stop(struct dec_session *ss);
/* For buffers.c, freeing @b (a CAPTURE MMAP buffer) on the device thread
 * under ss->mu: true if libavcodec still holds its memory, which then
 * stays allocated (an orphan) until libavcodec lets go; the caller must not
 * vmedia_mmap_free() it. */
bool dec_zc_keep(struct dec_session *ss, struct dec_buf *b);
/* Free the ranges of the orphans libavcodec has let go of (device thread,
 * under ss->mu).  After dec_worker_stop() it has let go of all of them. */
void dec_zc_reap(struct dec_session *ss);

#endif /* DECODER_INTERNAL_H */
