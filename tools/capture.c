/* SPDX-License-Identifier: MIT */
/*
 * vqmedia capture — frames from a device through the whole stack (guest
 * driver model -> virtqueues -> runner -> device) into a YUV4MPEG2 file
 * and / or a PNG of one frame, as a V4L2 capture program would get them:
 * S_FMT, S_PARM, S_EXT_CTRLS, REQBUFS, mmap or user memory, QBUF,
 * STREAMON, then DQBUF / QBUF until done.
 *
 * Pacing: a real-time device is ticked at its own deadlines (the caller's
 * job in this single-threaded stack: clock_nanosleep, then
 * vqm_tick), so 30 frames at 30 fps take a second.  --benchmark builds
 * the device in benchmark mode instead: every QBUF is answered with a frame.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controls.h"
#include "convert.h"
#include "mbuffers.h"
#include "pngfile.h"
#include "stack.h"
#include "tools.h"
#include "util.h"
#include "v4l2names.h"
#include "y4m.h"

#define CAP V4L2_BUF_TYPE_VIDEO_CAPTURE
#define NBUFS 4
#define MAX_CTRLS 64
#define MAX_FRAMES 10000000u

struct opts {
	const char *device;
	uint32_t frames;
	const struct vqm_format *fmt;
	uint32_t width, height, rate;
	const char *ctrl[MAX_CTRLS];
	uint32_t nctrl;
	const char *y4m, *png;
	uint32_t png_frame;
	bool png_frame_set;
	uint32_t memory;
	bool benchmark, quiet;
};

/* An output file; created ones are removed again if the capture fails. */
struct out {
	const char *path;
	FILE *f;
	bool created;
};

struct capture {
	struct opts o;
	struct out y4m, png;
	struct vqm_stack s;
	bool stack_up, session_open, streaming;
	uint32_t sid;
	struct vqm_mbufs bufs;
	struct v4l2_pix_format pix;
	struct v4l2_fract tpf;
	struct vqm_conv *y4m_conv, *png_conv;
	/* progress */
	bool progress;
	uint64_t t_start, t_first, t_last, t_shown;
	uint32_t got, queued, dropped, errors;
	uint32_t next_seq;
	bool png_done;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vqmedia capture [OPTIONS]\n"
		"\n"
		"Capture frames from a device through a model of the Linux virtio-media\n"
		"guest driver, the virtqueues and the virtio-media runner, into a YUV4MPEG2\n"
		"video and a PNG of one frame.  With neither -o nor --png it writes\n"
		"capture.y4m and capture.png in the current directory.\n"
		"\n"
		"  -n, --frames N         frames to capture (default 30)\n"
		"  -f, --format FMT       yuyv, nv12, yu12 or rgb3 (default yuyv)\n"
		"  -s, --size WxH         frame size (default 640x480)\n"
		"  -r, --rate FPS         frames per second (default 30)\n"
		"  -c, --ctrl NAME=VALUE  set a control before capturing, e.g. brightness=160;\n"
		"                         repeatable; 'vqmedia info' lists the controls\n"
		"  -o, --output FILE      write every frame to FILE as YUV4MPEG2 ('-': stdout)\n"
		"      --png FILE         write one frame to FILE as PNG\n"
		"      --png-frame K      the frame for the PNG, counted from 0 (default: the last)\n"
		"      --memory TYPE      buffer memory: mmap or userptr (default mmap)\n"
		"      --benchmark        no real-time pacing: frames as fast as buffers come back\n"
		"  -d, --device NAME      the device (default: simple)\n"
		"  -q, --quiet            no progress line, no summary\n"
		"  -h, --help             this text\n"
		"\n"
		"The Y4M file keeps every sample of the format: 4:2:2 (C422) for YUYV, 4:2:0\n"
		"(C420jpeg) for NV12 and YU12, 4:4:4 (C444) converted from RGB3.\n"
		"Exit status: 0 done, 1 failed (device, files), 2 bad command line.\n");
}

enum { OPT_PNG = 256, OPT_PNG_FRAME, OPT_MEMORY, OPT_BENCHMARK };

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "frames", required_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "ctrl", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "png", required_argument, NULL, OPT_PNG },
		{ "png-frame", required_argument, NULL, OPT_PNG_FRAME },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "benchmark", no_argument, NULL, OPT_BENCHMARK },
		{ "device", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*o = (struct opts){
		.device = "simple",
		.frames = 30,
		.fmt = vqm_format_by_name("yuyv"),
		.width = 640,
		.height = 480,
		.rate = 30,
		.memory = V4L2_MEMORY_MMAP,
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:f:s:r:c:o:d:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!vqm_parse_u32(optarg, 1, MAX_FRAMES, &o->frames))
				return vqm_usage_err("capture", "--frames: '%s' is not a number of "
						     "frames (1..%u)", optarg, MAX_FRAMES);
			break;
		case 'f':
			if (!(o->fmt = vqm_format_by_name(optarg)))
				return vqm_usage_err("capture", "--format: '%s' is not one of yuyv, "
						     "nv12, yu12, rgb3", optarg);
			break;
		case 's':
			if (!vqm_parse_size(optarg, &o->width, &o->height))
				return vqm_usage_err("capture", "--size: '%s' is not WIDTHxHEIGHT "
						     "(e.g. 640x480)", optarg);
			break;
		case 'r':
			if (!vqm_parse_u32(optarg, 1, 1000, &o->rate))
				return vqm_usage_err("capture", "--rate: '%s' is not a frame rate "
						     "(e.g. 30 or 60)", optarg);
			break;
		case 'c':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return vqm_usage_err("capture", "--ctrl: '%s' is not NAME=VALUE",
						     optarg);
			if (o->nctrl == MAX_CTRLS)
				return vqm_usage_err("capture", "more than %d --ctrl options",
						     MAX_CTRLS);
			o->ctrl[o->nctrl++] = optarg;
			break;
		case 'o':
			o->y4m = optarg;
			break;
		case OPT_PNG:
			o->png = optarg;
			break;
		case OPT_PNG_FRAME:
			if (!vqm_parse_u32(optarg, 0, MAX_FRAMES - 1, &o->png_frame))
				return vqm_usage_err("capture", "--png-frame: '%s' is not a frame "
						     "number", optarg);
			o->png_frame_set = true;
			break;
		case OPT_MEMORY:
			if (!vqm_parse_memory(optarg, &o->memory))
				return vqm_usage_err("capture", "--memory: '%s' is not mmap or userptr",
						     optarg);
			break;
		case OPT_BENCHMARK:
			o->benchmark = true;
			break;
		case 'd':
			o->device = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default: /* ':' (no value) or '?' */
			return vqm_getopt_err("capture", c, argv);
		}
	}
	if (optind < argc)
		return vqm_usage_err("capture", "unexpected argument '%s'", argv[optind]);
	if (!vqm_device_find(o->device))
		return vqm_usage_err("capture", "no device called '%s' (see 'vqmedia info --help')",
				     o->device);
	if (!o->y4m && !o->png) {
		o->y4m = "capture.y4m";
		o->png = "capture.png";
	}
	if (o->y4m && !o->y4m[0])
		return vqm_usage_err("capture", "--output: empty file name");
	if (o->png && (!o->png[0] || !strcmp(o->png, "-")))
		return vqm_usage_err("capture", "--png: needs a file name");
	if (o->y4m && o->png && !strcmp(o->y4m, o->png))
		return vqm_usage_err("capture", "the Y4M and PNG outputs are the same file");
	if (o->png_frame_set && !o->png)
		return vqm_usage_err("capture", "--png-frame without a PNG output");
	if (!o->png_frame_set)
		o->png_frame = o->frames - 1;
	if (o->png && o->png_frame >= o->frames)
		return vqm_usage_err("capture", "--png-frame %u: only %u frames are captured "
				     "(frames count from 0)", o->png_frame, o->frames);
	if (o->y4m && !strcmp(o->y4m, "-") && isatty(STDOUT_FILENO))
		return vqm_usage_err("capture", "not writing video to a terminal; "
				     "redirect standard output or use -o FILE");
	return 0;
}

/* ---- output files ---- */

static int out_open(struct out *o, const char *path)
{
	o->path = path;
	if (!path)
		return 0;
	if (!strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	o->f = fopen(path, "wb");
	if (!o->f) {
		vqm_err("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	o->created = true;
	/* Frames go out in big writes anyway; a large buffer halves the calls. */
	setvbuf(o->f, NULL, _IOFBF, 1 << 20);
	return 0;
}

/* Close @o; on @failed remove what we created.  Returns 0 or -1 (reported). */
static int out_close(struct out *o, bool failed)
{
	int r = 0;
	if (!o->f)
		return 0;
	if (o->f == stdout) {
		if (fflush(stdout) == EOF && !failed) {
			vqm_err("writing the video to standard output failed: %s", strerror(errno));
			r = -1;
		}
	} else if (fclose(o->f) == EOF && !failed) {
		vqm_err("cannot write %s: %s", o->path, strerror(errno));
		r = -1;
	}
	o->f = NULL;
	if ((failed || r) && o->created)
		unlink(o->path);
	return r;
}

static int write_failed(const struct out *o, int r)
{
	if (o->f == stdout)
		vqm_err("writing the video to standard output failed: %s", strerror(-r));
	else
		vqm_err("cannot write %s: %s", o->path, r == -EIO ? strerror(errno) : strerror(-r));
	return -1;
}

/* ---- device setup ---- */

static int ioctl_failed(unsigned long req, int r, const char *what)
{
	vqm_err("%s%s%s: %s", vqm_ioctl_name(req), what ? " " : "", what ? what : "",
		strerror(-r));
	return -1;
}

/* "320x240 640x480 ..." for messages; @buf must hold @len. */
static const char *list_sizes(struct capture *c, uint32_t fourcc, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (uint32_t i = 0; i < 64 && n + 1 < len; i++) {
		struct v4l2_frmsizeenum fs = { .index = i, .pixel_format = fourcc };
		if (vqm_ioctl(&c->s, c->sid, VIDIOC_ENUM_FRAMESIZES, &fs))
			break;
		int w;
		if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE)
			w = snprintf(buf + n, len - n, "%s%ux%u", n ? " " : "", fs.discrete.width,
				     fs.discrete.height);
		else
			w = snprintf(buf + n, len - n, "%s%ux%u..%ux%u", n ? " " : "",
				     fs.stepwise.min_width, fs.stepwise.min_height,
				     fs.stepwise.max_width, fs.stepwise.max_height);
		if (w < 0)
			break;
		n += (size_t)w;
		if (fs.type != V4L2_FRMSIZE_TYPE_DISCRETE)
			break;
	}
	return buf[0] ? buf : "none listed";
}

static const char *list_rates(struct capture *c, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (uint32_t i = 0; i < 64 && n + 1 < len; i++) {
		struct v4l2_frmivalenum fi = { .index = i, .pixel_format = c->o.fmt->fourcc,
					       .width = c->o.width, .height = c->o.height };
		if (vqm_ioctl(&c->s, c->sid, VIDIOC_ENUM_FRAMEINTERVALS, &fi) ||
		    fi.type != V4L2_FRMIVAL_TYPE_DISCRETE || !fi.discrete.numerator)
			break;
		int w = snprintf(buf + n, len - n, "%s%g", n ? " " : "",
				 (double)fi.discrete.denominator / (double)fi.discrete.numerator);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	return buf[0] ? buf : "none listed";
}

static int set_format(struct capture *c)
{
	const struct opts *o = &c->o;
	char cc[8], want[48];
	snprintf(want, sizeof(want), "%ux%u %s", o->width, o->height, vqm_fourcc(o->fmt->fourcc, cc));

	struct v4l2_capability cap;
	memset(&cap, 0, sizeof(cap));
	int r = vqm_ioctl(&c->s, c->sid, VIDIOC_QUERYCAP, &cap);
	if (r)
		return ioctl_failed(VIDIOC_QUERYCAP, r, NULL);
	uint32_t caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps
								 : cap.capabilities;
	if ((caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING)) !=
	    (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING)) {
		vqm_err("the %s device cannot stream video capture (device caps 0x%08x)",
			o->device, caps);
		return -1;
	}

	struct v4l2_format f = { .type = CAP };
	f.fmt.pix.width = o->width;
	f.fmt.pix.height = o->height;
	f.fmt.pix.pixelformat = o->fmt->fourcc;
	f.fmt.pix.field = V4L2_FIELD_NONE;
	r = vqm_ioctl(&c->s, c->sid, VIDIOC_S_FMT, &f);
	if (r)
		return ioctl_failed(VIDIOC_S_FMT, r, want);
	const struct v4l2_pix_format *p = &f.fmt.pix;
	char sizes[256];
	if (p->pixelformat != o->fmt->fourcc) {
		char got[8];
		vqm_err("the %s device does not offer %s: %s chose '%s'", o->device,
			o->fmt->name, vqm_ioctl_name(VIDIOC_S_FMT), vqm_fourcc(p->pixelformat, got));
		return -1;
	}
	if (p->width != o->width || p->height != o->height) {
		vqm_err("the %s device does not offer %ux%u for %s: %s chose %ux%u; sizes: %s",
			o->device, o->width, o->height, o->fmt->name, vqm_ioctl_name(VIDIOC_S_FMT),
			p->width, p->height, list_sizes(c, o->fmt->fourcc, sizes, sizeof(sizes)));
		return -1;
	}
	if (p->field != V4L2_FIELD_NONE && p->field != V4L2_FIELD_ANY) {
		vqm_err("%s: the device chose interlaced field order %s; only progressive "
			"frames are supported", vqm_ioctl_name(VIDIOC_S_FMT), vqm_field_name(p->field));
		return -1;
	}
	size_t need = vqm_frame_bytes(p);
	if (!need || need > p->sizeimage) {
		vqm_err("%s: inconsistent format from the device: bytesperline %u, sizeimage %u",
			vqm_ioctl_name(VIDIOC_S_FMT), p->bytesperline, p->sizeimage);
		return -1;
	}
	c->pix = *p;

	struct v4l2_streamparm parm = { .type = CAP };
	parm.parm.capture.timeperframe = (struct v4l2_fract){ 1, o->rate };
	r = vqm_ioctl(&c->s, c->sid, VIDIOC_S_PARM, &parm);
	if (r) {
		char what[32];
		snprintf(what, sizeof(what), "(1/%u s)", o->rate);
		return ioctl_failed(VIDIOC_S_PARM, r, what);
	}
	struct v4l2_fract t = parm.parm.capture.timeperframe;
	if (!t.numerator || !t.denominator ||
	    (uint64_t)t.numerator * o->rate != t.denominator) {
		char rates[128];
		vqm_err("the %s device does not offer %u fps at %ux%u: %s chose %u/%u s; "
			"rates: %s", o->device, o->rate, o->width, o->height,
			vqm_ioctl_name(VIDIOC_S_PARM), t.numerator, t.denominator,
			list_rates(c, rates, sizeof(rates)));
		return -1;
	}
	c->tpf = t;
	return 0;
}

static int set_controls(struct capture *c)
{
	if (!c->o.nctrl)
		return 0;
	struct vqm_ctrls ctrls;
	int r = vqm_ctrls_query(&c->s, c->sid, &ctrls);
	if (r)
		return ioctl_failed(VIDIOC_QUERY_EXT_CTRL, r, NULL);
	struct v4l2_ext_control ec[MAX_CTRLS];
	char msg[512];
	for (uint32_t i = 0; i < c->o.nctrl; i++) {
		r = vqm_ctrl_parse(&c->s, c->sid, &ctrls, c->o.ctrl[i], &ec[i], msg, sizeof(msg));
		if (r) {
			vqm_ctrls_free(&ctrls);
			/* A name or value the device does not have is a bad
			 * argument; the device's own refusal (below) is not. */
			vqm_usage_err("capture", "--ctrl: %s", msg);
			return -VQM_EXIT_USAGE;
		}
	}
	vqm_ctrls_free(&ctrls);
	uint32_t bad;
	r = vqm_ctrls_set(&c->s, c->sid, ec, c->o.nctrl, &bad);
	if (r)
		return ioctl_failed(VIDIOC_S_EXT_CTRLS, r, bad < c->o.nctrl ? c->o.ctrl[bad] : NULL);
	return 0;
}

/* ---- streaming ---- */

static void show_progress(struct capture *c, bool last)
{
	if (!c->progress)
		return;
	uint64_t now = c->t_last;
	if (!last && now - c->t_shown < 15000000ull)
		return;
	c->t_shown = now;
	double secs = (double)(c->t_last - c->t_first) / 1e9;
	if (c->got > 1 && secs > 0)
		fprintf(stderr, "\rframe %u/%u  %.1f fps\033[K", c->got, c->o.frames,
			(double)(c->got - 1) / secs);
	else
		fprintf(stderr, "\rframe %u/%u\033[K", c->got, c->o.frames);
	if (last)
		fputc('\n', stderr);
}

/* Sleep until @deadline (CLOCK_MONOTONIC ns) or a signal that stops us. */
static void sleep_until(uint64_t deadline)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline / 1000000000ull),
			       .tv_nsec = (long)(deadline % 1000000000ull) };
	while (!vqm_stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int handle_frame(struct capture *c, const struct v4l2_buffer *b)
{
	const struct vqm_mplane *vb = &c->bufs.b[b->index].p[0];
	uint32_t used = b->bytesused ? b->bytesused : vb->length;
	if (used > vb->length) {
		vqm_err("%s: buffer %u: bytesused %u is more than its length %u",
			vqm_ioctl_name(VIDIOC_DQBUF), b->index, b->bytesused, vb->length);
		return -1;
	}
	const struct vqm_image *img;
	int r;
	if (c->y4m.f) {
		if ((r = vqm_conv_run(c->y4m_conv, vb->ptr, used, &img)) != 0)
			goto short_frame;
		if ((r = vqm_y4m_frame(c->y4m.f, img)) != 0)
			return write_failed(&c->y4m, r);
	}
	if (c->png.f && c->got == c->o.png_frame) {
		if ((r = vqm_conv_run(c->png_conv, vb->ptr, used, &img)) != 0)
			goto short_frame;
		if ((r = vqm_png_write(c->png.f, img)) != 0)
			return write_failed(&c->png, r);
		c->png_done = true;
		if (out_close(&c->png, false))
			return -1;
	}
	return 0;
short_frame:
	if (r == -EMSGSIZE)
		vqm_err("%s: buffer %u: %u bytes used, a %ux%u frame needs %zu",
			vqm_ioctl_name(VIDIOC_DQBUF), b->index, used, c->pix.width, c->pix.height,
			vqm_frame_bytes(&c->pix));
	else
		vqm_err("converting frame %u failed: %s", c->got, strerror(-r));
	return -1;
}

static int stream(struct capture *c)
{
	const struct opts *o = &c->o;
	int r = vqm_mbufs_alloc(&c->s, c->sid, &c->bufs, CAP, o->memory, NBUFS, 1,
				&c->pix.sizeimage, false);
	if (r) {
		vqm_err("%s: %s", c->bufs.failed, strerror(-r));
		return -1;
	}
	for (uint32_t i = 0; i < c->bufs.count && c->queued < o->frames; i++) {
		if ((r = vqm_mbufs_qbuf(&c->s, c->sid, &c->bufs, i, NULL, 0)) != 0)
			return ioctl_failed(VIDIOC_QBUF, r, NULL);
		c->queued++;
	}
	int type = CAP;
	c->t_start = vqm_now_ns();
	if ((r = vqm_ioctl(&c->s, c->sid, VIDIOC_STREAMON, &type)) != 0)
		return ioctl_failed(VIDIOC_STREAMON, r, NULL);
	c->streaming = true;

	bool realtime = !o->benchmark && vqm_realtime(&c->s);
	/* Frames per second plus slack: a device that stops producing gives
	 * up after ~2 s of deadlines (or at once in benchmark mode). */
	uint32_t idle = 0, max_idle = realtime ? 2 * o->rate + 2 : 0, errors_in_row = 0;
	while (c->got < o->frames && !vqm_stop) {
		if (realtime) {
			uint64_t dl = vqm_next_deadline(&c->s);
			if (!dl) {
				vqm_err("the device stopped streaming after %u frames", c->got);
				return -1;
			}
			sleep_until(dl);
			if (vqm_stop)
				break;
			if ((r = vqm_tick(&c->s, vqm_now_ns())) < 0) {
				vqm_err("the device failed: %s", strerror(-r));
				return -1;
			}
		}
		struct v4l2_buffer b;
		struct v4l2_plane planes[VIDEO_MAX_PLANES];
		r = vqm_mbufs_dqbuf(&c->s, c->sid, &c->bufs, &b, planes);
		if (r == -EAGAIN) {
			if (idle++ < max_idle)
				continue;
			vqm_err("%s: no frame came back from the device after %u frames "
				"(%u buffers queued)", vqm_ioctl_name(VIDIOC_DQBUF), c->got,
				c->queued);
			return -1;
		}
		if (r == -EPROTO && b.index >= c->bufs.count) {
			vqm_err("%s: buffer index %u out of range", vqm_ioctl_name(VIDIOC_DQBUF),
				b.index);
			return -1;
		}
		if (r)
			return ioctl_failed(VIDIOC_DQBUF, r, NULL);
		idle = 0;
		c->queued--;
		if (b.flags & V4L2_BUF_FLAG_ERROR) {
			/* V4L2: the data may be corrupt; take the next one. */
			c->errors++;
			if (++errors_in_row > 16) {
				vqm_err("%s: the device keeps returning buffers flagged ERROR",
					vqm_ioctl_name(VIDIOC_DQBUF));
				return -1;
			}
		} else {
			errors_in_row = 0;
			if (c->got && b.sequence > c->next_seq)
				c->dropped += b.sequence - c->next_seq;
			c->next_seq = b.sequence + 1;
			c->t_last = vqm_now_ns();
			if (!c->got)
				c->t_first = c->t_last;
			if (handle_frame(c, &b))
				return -1;
			c->got++;
			show_progress(c, c->got == o->frames);
		}
		/* Queue only what is still needed, so the device makes no
		 * frame that nobody writes. */
		if (c->got + c->queued < o->frames) {
			if ((r = vqm_mbufs_qbuf(&c->s, c->sid, &c->bufs, b.index, NULL, 0)) != 0)
				return ioctl_failed(VIDIOC_QBUF, r, NULL);
			c->queued++;
		}
	}
	if (c->progress && vqm_stop && c->got)
		fputc('\n', stderr);
	return 0;
}

/* Undo what was set up; returns -1 if a step failed (reported). */
static int teardown(struct capture *c)
{
	int r, ret = 0;
	if (c->streaming) {
		int type = CAP;
		if ((r = vqm_ioctl(&c->s, c->sid, VIDIOC_STREAMOFF, &type)) != 0)
			ret = ioctl_failed(VIDIOC_STREAMOFF, r, NULL);
		c->streaming = false;
	}
	if (c->session_open) {
		if ((r = vqm_mbufs_free(&c->s, c->sid, &c->bufs)) != 0 && !ret)
			ret = ioctl_failed(VIDIOC_REQBUFS, r, "(freeing the buffers)");
		if ((r = vqm_close(&c->s, c->sid)) != 0 && !ret) {
			vqm_err("close (virtio-media CLOSE): %s", strerror(-r));
			ret = -1;
		}
		c->session_open = false;
	}
	if (c->stack_up) {
		if (c->s.runner_err && !ret) {
			vqm_err("the virtio-media runner failed: %s", strerror(-c->s.runner_err));
			ret = -1;
		}
		vqm_stack_destroy(&c->s);
		c->stack_up = false;
	}
	vqm_conv_free(c->y4m_conv);
	vqm_conv_free(c->png_conv);
	c->y4m_conv = c->png_conv = NULL;
	return ret;
}

static int run(struct capture *c)
{
	const struct opts *o = &c->o;
	int r = vqm_stack_init(&c->s, &(struct vqm_stack_opts){ .device = o->device,
								.benchmark = o->benchmark });
	if (r) {
		vqm_err("cannot set up the %s device: %s", o->device, c->s.err);
		return -1;
	}
	c->stack_up = true;
	if ((r = vqm_open(&c->s, &c->sid)) != 0) {
		vqm_err("open (virtio-media OPEN): %s", strerror(-r));
		return -1;
	}
	c->session_open = true;
	if ((r = set_format(c)) != 0 || (r = set_controls(c)) != 0)
		return r;
	if (c->y4m.f) {
		if ((r = vqm_conv_new(&c->y4m_conv, &c->pix, o->fmt->y4m)) != 0) {
			vqm_err("cannot convert %s %ux%u to Y4M: %s", o->fmt->name, c->pix.width,
				c->pix.height, strerror(-r));
			return -1;
		}
		r = vqm_y4m_header(c->y4m.f, c->pix.width, c->pix.height, c->tpf.denominator,
				   c->tpf.numerator, o->fmt->y4m,
				   vqm_conv_full_range(c->y4m_conv));
		if (r)
			return write_failed(&c->y4m, r);
	}
	if (c->png.f && (r = vqm_conv_new(&c->png_conv, &c->pix, VQM_RGB24)) != 0) {
		vqm_err("cannot convert %s %ux%u to RGB: %s", o->fmt->name, c->pix.width,
			c->pix.height, strerror(-r));
		return -1;
	}
	return stream(c);
}

static void summary(const struct capture *c)
{
	char cc[8];
	double secs = (double)(c->t_last - c->t_start) / 1e9;
	fprintf(stderr, "vqmedia: %u frames %ux%u %s at %g fps (%s%s) in %.3f s",
		c->got, c->pix.width, c->pix.height, vqm_fourcc(c->pix.pixelformat, cc),
		(double)c->tpf.denominator / (double)c->tpf.numerator,
		c->o.memory == V4L2_MEMORY_MMAP ? "mmap" : "userptr",
		c->o.benchmark ? ", benchmark" : "", secs);
	/* The rate between the first and the last frame: the first one
	 * comes an interval after STREAMON in real time. */
	double span = (double)(c->t_last - c->t_first) / 1e9;
	if (span > 0 && c->got > 1)
		fprintf(stderr, ", %.1f fps", (double)(c->got - 1) / span);
	if (c->o.y4m)
		fprintf(stderr, "; %s (%s)", strcmp(c->o.y4m, "-") ? c->o.y4m : "stdout",
			vqm_y4m_tag(c->o.fmt->y4m));
	if (c->png_done)
		fprintf(stderr, "; frame %u: %s", c->o.png_frame, c->o.png);
	if (c->dropped)
		fprintf(stderr, "; %u frames dropped by the device", c->dropped);
	if (c->errors)
		fprintf(stderr, "; %u buffers flagged ERROR skipped", c->errors);
	fputc('\n', stderr);
}

int vqm_cmd_capture(int argc, char **argv)
{
	struct capture *c = calloc(1, sizeof(*c));
	if (!c) {
		vqm_err("out of memory");
		return VQM_EXIT_FAIL;
	}
	int r = parse(argc, argv, &c->o);
	if (r) {
		free(c);
		return r < 0 ? VQM_EXIT_OK : r;
	}
	/* Unwritable outputs fail before anything runs. */
	if (out_open(&c->y4m, c->o.y4m) || out_open(&c->png, c->o.png)) {
		out_close(&c->y4m, true);
		out_close(&c->png, true);
		free(c);
		return VQM_EXIT_FAIL;
	}
	c->progress = !c->o.quiet && isatty(STDERR_FILENO);
	vqm_stop_on_signals();

	r = run(c);
	int status = r == -VQM_EXIT_USAGE ? VQM_EXIT_USAGE : r ? VQM_EXIT_FAIL : VQM_EXIT_OK;
	if (teardown(c) && status == VQM_EXIT_OK)
		status = VQM_EXIT_FAIL;
	if (status == VQM_EXIT_OK && vqm_stop) {
		vqm_err("interrupted after %u of %u frames%s%s%s", c->got, c->o.frames,
			c->y4m.f && c->y4m.f != stdout ? "; they are in " : "",
			c->y4m.f && c->y4m.f != stdout ? c->y4m.path : "",
			c->png.f ? "; no PNG written" : "");
		status = VQM_EXIT_FAIL;
		/* The Y4M file holds whole frames: keep it.  The PNG frame
		 * never came. */
		out_close(&c->png, true);
		if (out_close(&c->y4m, false))
			status = VQM_EXIT_FAIL;
	} else {
		bool failed = status != VQM_EXIT_OK;
		if (out_close(&c->y4m, failed) && !failed)
			status = VQM_EXIT_FAIL;
		if (out_close(&c->png, failed) && !failed)
			status = VQM_EXIT_FAIL;
		if (status != VQM_EXIT_OK && c->png_done && c->png.created)
			unlink(c->png.path); /* written and closed already */
	}
	if (status == VQM_EXIT_OK && !c->o.quiet)
		summary(c);
	free(c);
	return status;
}
