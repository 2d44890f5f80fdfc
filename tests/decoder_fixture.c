/* SPDX-License-Identifier: MIT */
#include "fixture_assert.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/md5.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>

#include "decoder_fixture.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the pair ---- */

void dp_init(struct dp *d, unsigned threads)
{
	dp_init_cfg(d, &(struct vmedia_decoder_config){ .threads = threads });
}

void dp_init_cfg(struct dp *d, const struct vmedia_decoder_config *cfg)
{
	memset(d, 0, sizeof(*d));
	/* Bad-input tests make libavcodec complain on every frame. */
	av_log_set_level(AV_LOG_FATAL);
	d->dec = vmedia_decoder_new(cfg);
	cr_assert_not_null(d->dec);
	struct media_pair_opts o = {
		.ops = &vmedia_decoder_ops,
		.priv = d->dec,
		.config = vmedia_decoder_config_space(d->dec),
	};
	media_pair_init(&d->p, &o);
}

void dp_destroy(struct dp *d)
{
	media_pair_destroy(&d->p);
	vmedia_decoder_free(d->dec);
}

uint32_t dp_open(struct dp *d)
{
	uint32_t id;
	cr_assert_eq(vmedia_guest_open(&d->p.g, &id), 0);
	return id;
}

int dp_ioctl(struct dp *d, uint32_t id, unsigned long req, void *arg)
{
	return vmedia_guest_ioctl(&d->p.g, id, req, arg);
}

int dp_pump(struct dp *d, int timeout_ms)
{
	if (d->pump)
		return d->pump(d, timeout_ms);
	struct pollfd pfd = { .fd = vmedia_decoder_wake_fd(d->dec), .events = POLLIN };
	int n = 0;
	if (poll(&pfd, 1, timeout_ms) > 0)
		n = vmedia_decoder_complete(d->dec);
	vmedia_guest_poll_events(&d->p.g);
	return n;
}

bool dp_has_codec(struct dp *d, uint32_t id, uint32_t fourcc)
{
	for (uint32_t i = 0;; i++) {
		struct v4l2_fmtdesc fd = { .index = i, .type = OUT_MP };
		if (dp_ioctl(d, id, VIDIOC_ENUM_FMT, &fd))
			return false;
		if (fd.pixelformat == fourcc)
			return true;
	}
}

/* ---- streams ---- */

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static const char *cache_dir(void)
{
	static char dir[512];
	if (!dir[0]) {
		const char *t = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/vqmedia-decoder-tests-%u", t && *t ? t : "/tmp",
			 (unsigned)getuid());
		mkdir(dir, 0700);
	}
	return dir;
}

static int run_sh(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *dp_stream(const char *ext, const char *args)
{
	cr_assert_eq(run_sh("command -v ffmpeg >/dev/null 2>&1"), 0,
		     "the ffmpeg CLI is needed to make test streams");
	char *path = malloc(1024), tmp[1100], cmd[4096];
	snprintf(path, 1024, "%s/%016llx.%s", cache_dir(), (unsigned long long)fnv(args), ext);
	if (access(path, R_OK) == 0)
		return path;
	/* Concurrent tests may make the same stream: write aside, rename. */
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp.%s", path, (int)getpid(), ext);
	snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -loglevel error -y %s '%s'", args, tmp);
	cr_assert_eq(run_sh(cmd), 0, "failed: %s", cmd);
	cr_assert_eq(rename(tmp, path), 0);
	return path;
}

uint8_t *dp_load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc((size_t)n + 1);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

unsigned dp_ref_md5(const char *path, const char *pix_fmt, char (**md5)[33])
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "-i '%s' -fps_mode passthrough -pix_fmt %s -f framemd5", path,
		 pix_fmt);
	char *ref = dp_stream("md5", cmd);
	FILE *f = fopen(ref, "r");
	cr_assert_not_null(f);
	free(ref);
	unsigned n = 0, cap = 64;
	*md5 = malloc(cap * sizeof(**md5));
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		char *last = strrchr(line, ',');
		if (!last)
			continue;
		last++;
		while (*last == ' ')
			last++;
		if (n == cap)
			*md5 = realloc(*md5, (cap *= 2) * sizeof(**md5));
		memcpy((*md5)[n], last, 32);
		(*md5)[n][32] = 0;
		n++;
	}
	fclose(f);
	cr_assert_gt(n, 0, "no reference frames for %s", path);
	return n;
}

static uint32_t rd32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void units_add(struct dp_units *u, const uint8_t *p, size_t len, size_t *cap)
{
	if (u->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		u->ptr = realloc(u->ptr, *cap * sizeof(*u->ptr));
		u->len = realloc(u->len, *cap * sizeof(*u->len));
	}
	u->ptr[u->n] = p;
	u->len[u->n++] = len;
}

void dp_units_ivf(const uint8_t *data, size_t len, struct dp_units *u)
{
	memset(u, 0, sizeof(*u));
	size_t cap = 0;
	cr_assert(len >= 32 && memcmp(data, "DKIF", 4) == 0, "not IVF");
	size_t off = data[6] | data[7] << 8; /* header length, 32 */
	while (off + 12 <= len) {
		size_t n = rd32(data + off);
		off += 12;
		cr_assert_leq(off + n, len);
		units_add(u, data + off, n, &cap);
		off += n;
	}
}

void dp_units_chunks(const uint8_t *data, size_t len, size_t chunk, unsigned seed,
		     struct dp_units *u)
{
	memset(u, 0, sizeof(*u));
	size_t cap = 0, off = 0;
	while (off < len) {
		size_t n = chunk;
		if (!n) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 8) % 9000;
		}
		if (n > len - off)
			n = len - off;
		units_add(u, data + off, n, &cap);
		off += n;
	}
}

void dp_units_free(struct dp_units *u)
{
	free(u->ptr);
	free(u->len);
	memset(u, 0, sizeof(*u));
}

/* ---- one session ---- */

static int sub(struct dd *dd, uint32_t type)
{
	struct v4l2_event_subscription s = { .type = type };
	return dp_ioctl(dd->d, dd->id, VIDIOC_SUBSCRIBE_EVENT, &s);
}

void dd_start(struct dd *dd, struct dp *d, uint32_t id, uint32_t fourcc, uint32_t out_memory,
	      uint32_t cap_memory, uint32_t cap_pixfmt, unsigned nout)
{
	memset(dd, 0, sizeof(*dd));
	dd->d = d;
	dd->id = id;
	dd->fourcc = fourcc;
	dd->out_memory = out_memory;
	dd->cap_memory = cap_memory;
	dd->cap_pixfmt = cap_pixfmt;
	dd->extra_cap = 2;
	dd->next_ts = 1000;
	struct v4l2_format f = { .type = OUT_MP };
	f.fmt.pix_mp.pixelformat = fourcc;
	f.fmt.pix_mp.num_planes = 1;
	f.fmt.pix_mp.plane_fmt[0].sizeimage = 512 * 1024;
	cr_assert_eq(dp_ioctl(d, id, VIDIOC_S_FMT, &f), 0);
	cr_assert_eq(f.fmt.pix_mp.pixelformat, fourcc);
	dd->out_size = f.fmt.pix_mp.plane_fmt[0].sizeimage;
	struct v4l2_requestbuffers rb = { .count = nout, .type = OUT_MP, .memory = out_memory };
	cr_assert_eq(dp_ioctl(d, id, VIDIOC_REQBUFS, &rb), 0);
	cr_assert_eq(rb.count, nout);
	dd->nout = nout;
	for (unsigned i = 0; i < nout; i++) {
		dd->out_free[i] = true;
		if (out_memory == V4L2_MEMORY_USERPTR) {
			dd->out_view[i] = calloc(1, dd->out_size);
			continue;
		}
		struct v4l2_plane pl[1];
		struct v4l2_buffer b = { .index = i, .type = OUT_MP, .memory = out_memory,
					 .length = 1, .m.planes = pl };
		cr_assert_eq(dp_ioctl(d, id, VIDIOC_QUERYBUF, &b), 0);
		uint64_t len;
		cr_assert_eq(vmedia_guest_mmap(&d->p.g, id, VMEDIA_MMAP_FLAG_RW, pl[0].m.mem_offset,
					       &dd->out_addr[i], &len), 0);
		dd->out_view[i] = vmedia_guest_shm_ptr(&d->p.g, dd->out_addr[i], len);
		cr_assert_not_null(dd->out_view[i]);
	}
	cr_assert_eq(sub(dd, V4L2_EVENT_SOURCE_CHANGE), 0);
	cr_assert_eq(sub(dd, V4L2_EVENT_EOS), 0);
	int t = OUT_MP;
	cr_assert_eq(dp_ioctl(d, id, VIDIOC_STREAMON, &t), 0);
}

int dd_feed(struct dd *dd, const uint8_t *p, size_t len)
{
	cr_assert_leq(len, dd->out_size);
	for (unsigned i = 0; i < dd->nout; i++) {
		if (!dd->out_free[i])
			continue;
		memcpy(dd->out_view[i], p, len);
		struct v4l2_plane pl[1] = { { .bytesused = (uint32_t)len, .length = dd->out_size } };
		struct v4l2_buffer b = { .index = i, .type = OUT_MP, .memory = dd->out_memory,
					 .length = 1, .m.planes = pl };
		if (dd->out_memory == V4L2_MEMORY_USERPTR)
			pl[0].m.userptr = (unsigned long)dd->out_view[i];
		b.timestamp.tv_sec = dd->next_ts / 1000000;
		b.timestamp.tv_usec = dd->next_ts % 1000000;
		dd->next_ts += dd->ts_step ? dd->ts_step : 1000;
		cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_QBUF, &b), 0);
		dd->out_free[i] = false;
		return 0;
	}
	return -EAGAIN;
}

static void cap_free(struct dd *dd)
{
	for (unsigned i = 0; i < dd->ncap; i++) {
		if (dd->cap_memory == V4L2_MEMORY_USERPTR)
			free(dd->cap_view[i]);
		else
			cr_assert_eq(vmedia_guest_munmap(&dd->d->p.g, dd->cap_addr[i]), 0);
		dd->cap_view[i] = NULL;
	}
	struct v4l2_requestbuffers rb = { .count = 0, .type = CAP_MP, .memory = dd->cap_memory };
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_REQBUFS, &rb), 0);
	dd->ncap = 0;
}

static void cap_queue(struct dd *dd, uint32_t i)
{
	struct v4l2_plane pl[1] = { { .length = dd->cap_len } };
	struct v4l2_buffer b = { .index = i, .type = CAP_MP, .memory = dd->cap_memory,
				 .length = 1, .m.planes = pl };
	if (dd->cap_memory == V4L2_MEMORY_USERPTR)
		pl[0].m.userptr = (unsigned long)dd->cap_view[i];
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_QBUF, &b), 0);
}

/* The spec's Capture Setup, also after a resolution change. */
static void cap_setup(struct dd *dd)
{
	struct dp *d = dd->d;
	int t = CAP_MP;
	if (dd->cap_streaming) {
		cr_assert_eq(dp_ioctl(d, dd->id, VIDIOC_STREAMOFF, &t), 0);
		dd->cap_streaming = false;
	}
	if (dd->ncap)
		cap_free(dd);
	struct v4l2_format f = { .type = CAP_MP };
	cr_assert_eq(dp_ioctl(d, dd->id, VIDIOC_G_FMT, &f), 0);
	if (dd->cap_pixfmt) {
		f.fmt.pix_mp.pixelformat = dd->cap_pixfmt;
		cr_assert_eq(dp_ioctl(d, dd->id, VIDIOC_S_FMT, &f), 0);
		cr_assert_eq(f.fmt.pix_mp.pixelformat, dd->cap_pixfmt);
	}
	dd->fmt = f.fmt.pix_mp;
	struct v4l2_selection sel = { .type = CAP_MP, .target = V4L2_SEL_TGT_COMPOSE };
	cr_assert_eq(dp_ioctl(d, dd->id, VIDIOC_G_SELECTION, &sel), 0);
	dd->vis = sel.r;
	struct v4l2_control c = { .id = V4L2_CID_MIN_BUFFERS_FOR_CAPTURE };
	cr_assert_eq(dp_ioctl(d, dd->id, VIDIOC_G_CTRL, &c), 0);
	cr_assert_geq(c.value, 1);
	unsigned n = (unsigned)c.value + dd->extra_cap;
	struct v4l2_requestbuffers rb = { .count = n, .type = CAP_MP, .memory = dd->cap_memory };
	cr_assert_eq(dp_ioctl(d, dd->id, VIDIOC_REQBUFS, &rb), 0);
	cr_assert_eq(rb.count, n);
	dd->ncap = n;
	dd->cap_len = dd->fmt.plane_fmt[0].sizeimage;
	for (unsigned i = 0; i < n; i++) {
		if (dd->cap_memory == V4L2_MEMORY_USERPTR) {
			dd->cap_view[i] = calloc(1, dd->cap_len);
		} else {
			struct v4l2_plane pl[1];
			struct v4l2_buffer b = { .index = i, .type = CAP_MP, .memory = dd->cap_memory,
						 .length = 1, .m.planes = pl };
			cr_assert_eq(dp_ioctl(d, dd->id, VIDIOC_QUERYBUF, &b), 0);
			uint64_t len;
			cr_assert_eq(vmedia_guest_mmap(&d->p.g, dd->id, VMEDIA_MMAP_FLAG_RW,
						       pl[0].m.mem_offset, &dd->cap_addr[i], &len), 0);
			dd->cap_view[i] = vmedia_guest_shm_ptr(&d->p.g, dd->cap_addr[i], len);
			cr_assert_not_null(dd->cap_view[i]);
		}
		cap_queue(dd, i);
	}
	cr_assert_eq(dp_ioctl(d, dd->id, VIDIOC_STREAMON, &t), 0);
	dd->cap_streaming = true;
	dd->got_last = false;
}

/* MD5 of the visible picture as ffmpeg's framemd5 hashes it. */
static void frame_md5(const struct dd *dd, const uint8_t *p, char out[33])
{
	struct AVMD5 *m = av_md5_alloc();
	av_md5_init(m);
	uint32_t bpl = dd->fmt.plane_fmt[0].bytesperline, H = dd->fmt.height;
	uint32_t w = dd->vis.width, h = dd->vis.height, cw = (w + 1) / 2, ch = (h + 1) / 2;
	for (uint32_t y = 0; y < h; y++)
		av_md5_update(m, p + (size_t)y * bpl, w);
	const uint8_t *c = p + (size_t)bpl * H;
	if (dd->fmt.pixelformat == V4L2_PIX_FMT_NV12) {
		for (uint32_t y = 0; y < ch; y++)
			av_md5_update(m, c + (size_t)y * bpl, 2 * cw);
	} else {
		for (int pl = 0; pl < 2; pl++) {
			const uint8_t *q = c + (size_t)pl * (bpl / 2) * (H / 2);
			for (uint32_t y = 0; y < ch; y++)
				av_md5_update(m, q + (size_t)y * (bpl / 2), cw);
		}
	}
	uint8_t dig[16];
	av_md5_final(m, dig);
	av_free(m);
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", dig[i]);
}

void dd_service(struct dd *dd, int timeout_ms)
{
	struct dp *d = dd->d;
	dp_pump(d, timeout_ms);
	struct v4l2_plane pl[1];
	struct v4l2_buffer b;
	for (;;) {
		b = (struct v4l2_buffer){ .type = OUT_MP, .memory = dd->out_memory, .length = 1,
					  .m.planes = pl };
		if (vmedia_guest_dqbuf(&d->p.g, dd->id, &b))
			break;
		cr_assert_lt(b.index, dd->nout);
		cr_assert(!dd->out_free[b.index]);
		dd->out_free[b.index] = true;
		dd->out_done++;
		if (b.flags & V4L2_BUF_FLAG_ERROR)
			dd->out_errors++;
	}
	while (dd->ncap) {
		b = (struct v4l2_buffer){ .type = CAP_MP, .memory = dd->cap_memory, .length = 1,
					  .m.planes = pl };
		int r = vmedia_guest_dqbuf(&d->p.g, dd->id, &b);
		if (r)
			break;
		cr_assert_lt(b.index, dd->ncap);
		if (b.flags & V4L2_BUF_FLAG_LAST) {
			cr_assert_eq(pl[0].bytesused, 0);
			dd->got_last = true;
			dd->lasts++;
			break;
		}
		if (b.flags & V4L2_BUF_FLAG_ERROR) {
			dd->cap_errors++;
		} else if (pl[0].bytesused) {
			cr_assert_eq(pl[0].bytesused, dd->fmt.plane_fmt[0].sizeimage);
			cr_assert_lt(dd->nframes, DD_MAX_FRAMES);
			frame_md5(dd, dd->cap_view[b.index], dd->md5[dd->nframes]);
			dd->ts[dd->nframes] = (int64_t)b.timestamp.tv_sec * 1000000 +
					      b.timestamp.tv_usec;
			dd->w[dd->nframes] = dd->vis.width;
			dd->h[dd->nframes] = dd->vis.height;
			dd->nframes++;
		}
		cap_queue(dd, b.index);
	}
	struct v4l2_event ev;
	while (vmedia_guest_dqevent(&d->p.g, dd->id, &ev) == 0) {
		if (ev.type == V4L2_EVENT_SOURCE_CHANGE) {
			cr_assert(ev.u.src_change.changes & V4L2_EVENT_SRC_CH_RESOLUTION);
			dd->source_changes++;
			dd->last_events += dd->cap_streaming;
			cap_setup(dd);
		} else if (ev.type == V4L2_EVENT_EOS) {
			dd->got_eos = true;
			dd->last_events++;
		}
	}
	/* Nothing was delivered since the LAST buffers above were dequeued:
	 * their events must have come with them or before (a client may look
	 * for the event as soon as it has the buffer; v4l2-compliance does). */
	cr_assert_leq(dd->lasts, dd->last_events, "a LAST buffer came before its event");
}

static bool all_out_back(const struct dd *dd)
{
	for (unsigned i = 0; i < dd->nout; i++)
		if (!dd->out_free[i])
			return false;
	return true;
}

void dd_feed_units(struct dd *dd, const struct dp_units *u, size_t from, size_t to)
{
	uint64_t deadline = now_ms() + DP_TIMEOUT_MS;
	size_t next = from;
	while (next < to) {
		while (next < to && dd_feed(dd, u->ptr[next], u->len[next]) == 0)
			next++;
		dd_service(dd, next < to ? 20 : 0);
		cr_assert_lt(now_ms(), deadline, "feeding timed out at unit %zu", next);
	}
}

void dd_settle(struct dd *dd)
{
	uint64_t deadline = now_ms() + DP_TIMEOUT_MS;
	for (;;) {
		dd_service(dd, 20);
		if (all_out_back(dd) && !vmedia_decoder_busy(dd->d->dec)) {
			/* One more look: completions made just before idling. */
			dd_service(dd, 0);
			if (!vmedia_decoder_busy(dd->d->dec))
				return;
		}
		cr_assert_lt(now_ms(), deadline, "the decoder never settled");
	}
}

/* Until CAPTURE is set up (the stream's first picture), or the decoder has
 * nothing left to find one in. */
static void wait_cap_setup(struct dd *dd)
{
	uint64_t deadline = now_ms() + DP_TIMEOUT_MS;
	while (!dd->cap_streaming) {
		dd_service(dd, 20);
		if (!dd->cap_streaming && all_out_back(dd) && !vmedia_decoder_busy(dd->d->dec))
			break;
		cr_assert_lt(now_ms(), deadline, "no CAPTURE setup");
	}
}

void dd_drain(struct dd *dd)
{
	/* The spec's drain needs both queues streaming (a STOP before is
	 * accepted and does nothing), and OUTPUT buffers come back before
	 * they are decoded: CAPTURE may not be set up yet. */
	wait_cap_setup(dd);
	struct v4l2_decoder_cmd dc = { .cmd = V4L2_DEC_CMD_STOP };
	cr_assert_eq(dp_ioctl(dd->d, dd->id, VIDIOC_DECODER_CMD, &dc), 0);
	dd->stop_sent = true;
	dd->got_eos = false;
	uint64_t deadline = now_ms() + DP_TIMEOUT_MS;
	while (!(dd->got_last && dd->got_eos)) {
		dd_service(dd, 20);
		cr_assert_lt(now_ms(), deadline, "drain timed out (%u frames, last %d, eos %d)",
			     dd->nframes, dd->got_last, dd->got_eos);
	}
}

void dd_run(struct dd *dd, const struct dp_units *u)
{
	dd_feed_units(dd, u, 0, u->n);
	/* Wait for the stream's first picture (and CAPTURE setup) or idleness. */
	wait_cap_setup(dd);
	if (dd->cap_streaming)
		dd_drain(dd);
}

void dd_end(struct dd *dd)
{
	struct dp *d = dd->d;
	int t = OUT_MP;
	cr_assert_eq(dp_ioctl(d, dd->id, VIDIOC_STREAMOFF, &t), 0);
	t = CAP_MP;
	cr_assert_eq(dp_ioctl(d, dd->id, VIDIOC_STREAMOFF, &t), 0);
	if (dd->ncap)
		cap_free(dd);
	for (unsigned i = 0; i < dd->nout; i++) {
		if (dd->out_memory == V4L2_MEMORY_USERPTR)
			free(dd->out_view[i]);
		else
			cr_assert_eq(vmedia_guest_munmap(&d->p.g, dd->out_addr[i]), 0);
	}
	struct v4l2_requestbuffers rb = { .count = 0, .type = OUT_MP, .memory = dd->out_memory };
	cr_assert_eq(dp_ioctl(d, dd->id, VIDIOC_REQBUFS, &rb), 0);
	dd->nout = 0;
}

void dd_expect_frames(const struct dd *dd, char (*ref)[33], unsigned nref)
{
	cr_assert_eq(dd->nframes, nref, "decoded %u frames, ffmpeg %u", dd->nframes, nref);
	for (unsigned i = 0; i < nref; i++)
		cr_assert_str_eq(dd->md5[i], ref[i], "frame %u differs", i);
}
