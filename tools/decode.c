/* SPDX-License-Identifier: MIT */
/*
 * vqmedia decode — a coded video file through the decoder device, as a
 * guest application would decode it on a V4L2 stateful decoder node:
 * libavformat demuxes IN (demux.h), the packets go to the OUTPUT queue and
 * the pictures come back on the CAPTURE queue (m2mdec.h), all through the
 * guest driver model, the virtqueues and the virtio-media runner.  The
 * visible rectangle of every picture is written to a YUV4MPEG2 file, 4:2:0
 * planar (C420jpeg, what ffmpeg writes for yuv420p), so `ffmpeg -i OUT.y4m
 * -f framemd5 -` can be compared with ffmpeg's own decode of IN.
 *
 * A Y4M stream has one picture size.  When the stream changes resolution,
 * the frames of the next size go to a new file: OUT-2.y4m, OUT-3.y4m, ...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "convert.h"
#include "demux.h"
#include "m2mdec.h"
#include "stack.h"
#include "tools.h"
#include "util.h"
#include "v4l2names.h"
#include "y4m.h"

#define MAX_FRAMES 100000000u
#define MAX_THREADS 256u
#define MAX_FILES 64u

struct opts {
	const char *in, *out;
	uint32_t capture;    /* V4L2_PIX_FMT_YUV420 or _NV12 */
	uint32_t frames;     /* 0: all */
	uint32_t threads;    /* 0: the device's default */
	uint32_t memory;
	bool quiet;
};

struct decode {
	struct opts o;
	struct vqm_demux dx;
	bool dx_open;
	char err[256];
	/* output: one file per picture size */
	FILE *f;
	char *paths[MAX_FILES];
	unsigned nfiles;
	uint32_t w, h;         /* the current file's size */
	bool to_stdout;
	struct vqm_conv *conv; /* NV12 -> planar */
	struct v4l2_pix_format conv_pix;
	/* progress */
	bool progress;
	uint64_t t_start, t_shown;
	uint32_t frames;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vqmedia decode IN -o OUT.y4m [OPTIONS]\n"
		"\n"
		"Decode the video stream of IN (raw H.264 / HEVC, IVF, MP4, Matroska / WebM,\n"
		"MPEG-2 ES: what libavformat opens) with the decoder device, through a model\n"
		"of the Linux virtio-media guest driver, the virtqueues and the virtio-media\n"
		"runner, and write the visible pictures to a YUV4MPEG2 file (4:2:0 planar).\n"
		"If the resolution changes mid-stream, the frames of each new size go to\n"
		"OUT-2.y4m, OUT-3.y4m, ...\n"
		"\n"
		"  -o, --output FILE   the Y4M file ('-': standard output)\n"
		"  -f, --format FMT    the device's picture format: yu12 (default) or nv12\n"
		"                      (NV12 is converted to planar for the file)\n"
		"  -n, --frames N      stop after N frames\n"
		"  -t, --threads N     decoder threads (default: one per CPU)\n"
		"      --memory TYPE   buffer memory on both queues: mmap (default) or userptr\n"
		"  -q, --quiet         no progress line, no summary\n"
		"  -h, --help          this text\n"
		"\n"
		"Exit status: 0 done, 1 failed (input, device, files), 2 bad command line.\n");
}

enum { OPT_MEMORY = 256 };

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "frames", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	*o = (struct opts){ .capture = V4L2_PIX_FMT_YUV420, .memory = V4L2_MEMORY_MMAP };
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:f:n:t:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->out = optarg;
			break;
		case 'f':
			if (!strcasecmp(optarg, "yu12") || !strcasecmp(optarg, "yuv420"))
				o->capture = V4L2_PIX_FMT_YUV420;
			else if (!strcasecmp(optarg, "nv12"))
				o->capture = V4L2_PIX_FMT_NV12;
			else
				return vqm_usage_err("decode", "--format: '%s' is not yu12 or nv12",
						     optarg);
			break;
		case 'n':
			if (!vqm_parse_u32(optarg, 1, MAX_FRAMES, &o->frames))
				return vqm_usage_err("decode", "--frames: '%s' is not a number of "
						     "frames (1..%u)", optarg, MAX_FRAMES);
			break;
		case 't':
			if (!vqm_parse_u32(optarg, 1, MAX_THREADS, &o->threads))
				return vqm_usage_err("decode", "--threads: '%s' is not a number of "
						     "threads (1..%u)", optarg, MAX_THREADS);
			break;
		case OPT_MEMORY:
			if (!vqm_parse_memory(optarg, &o->memory))
				return vqm_usage_err("decode", "--memory: '%s' is not mmap or userptr",
						     optarg);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default: /* ':' (no value) or '?' */
			return vqm_getopt_err("decode", c, argv);
		}
	}
	if (optind == argc)
		return vqm_usage_err("decode", "no input file");
	o->in = argv[optind++];
	if (optind < argc)
		return vqm_usage_err("decode", "unexpected argument '%s'", argv[optind]);
	if (!o->in[0])
		return vqm_usage_err("decode", "empty input file name");
	if (!o->out)
		return vqm_usage_err("decode", "no output file: use -o OUT.y4m ('-': standard "
				     "output)");
	if (!o->out[0])
		return vqm_usage_err("decode", "--output: empty file name");
	if (!strcmp(o->out, "-") && isatty(STDOUT_FILENO))
		return vqm_usage_err("decode", "not writing video to a terminal; redirect "
				     "standard output or use -o FILE");
	return 0;
}

/* ---- output files ---- */

/* OUT.y4m, then OUT-2.y4m, OUT-3.y4m ... for the sizes after the first. */
static char *segment_path(const char *out, unsigned n)
{
	char *p;
	if (n == 1)
		return strdup(out);
	const char *slash = strrchr(out, '/'), *dot = strrchr(out, '.');
	if (!dot || (slash && dot < slash) || dot == out || (slash && dot == slash + 1))
		dot = out + strlen(out);
	if (asprintf(&p, "%.*s-%u%s", (int)(dot - out), out, n, dot) < 0)
		return NULL;
	return p;
}

static int open_file(struct decode *d)
{
	if (d->to_stdout) {
		d->f = stdout;
		return 0;
	}
	if (d->nfiles == MAX_FILES) {
		vqm_err("more than %u resolution changes", MAX_FILES - 1);
		return -1;
	}
	char *p = segment_path(d->o.out, d->nfiles + 1);
	if (!p) {
		vqm_err("out of memory");
		return -1;
	}
	d->f = fopen(p, "wb");
	if (!d->f) {
		vqm_err("cannot write %s: %s", p, strerror(errno));
		free(p);
		return -1;
	}
	d->paths[d->nfiles++] = p;
	setvbuf(d->f, NULL, _IOFBF, 1 << 20);
	return 0;
}

static int close_file(struct decode *d)
{
	if (!d->f)
		return 0;
	FILE *f = d->f;
	d->f = NULL;
	const char *name = d->to_stdout ? "standard output" : d->paths[d->nfiles - 1];
	if (f == stdout ? fflush(f) == EOF : fclose(f) == EOF) {
		vqm_err("cannot write %s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_failed(struct decode *d)
{
	vqm_err("cannot write %s: %s", d->to_stdout ? "standard output" : d->paths[d->nfiles - 1],
		strerror(errno));
	return -EIO;
}

/* ---- the decoder's callbacks ---- */

static int on_input(void *opaque, const uint8_t **data, size_t *size)
{
	struct decode *d = opaque;
	int r = vqm_demux_next(&d->dx, data, size, d->err, sizeof(d->err));
	if (r < 0) {
		vqm_err("%s: %s", d->o.in, d->err);
		return r;
	}
	return r;
}

static int on_format(void *opaque, const struct v4l2_pix_format_mplane *fmt,
		     const struct v4l2_rect *vis)
{
	struct decode *d = opaque;
	vqm_conv_free(d->conv);
	d->conv = NULL;
	if (fmt->pixelformat == V4L2_PIX_FMT_NV12) {
		d->conv_pix = (struct v4l2_pix_format){
			.width = fmt->width, .height = fmt->height,
			.pixelformat = V4L2_PIX_FMT_NV12, .field = V4L2_FIELD_NONE,
			.bytesperline = fmt->plane_fmt[0].bytesperline,
			.sizeimage = fmt->plane_fmt[0].sizeimage,
			.colorspace = fmt->colorspace, .ycbcr_enc = fmt->ycbcr_enc,
			.quantization = fmt->quantization,
		};
		int r = vqm_conv_new(&d->conv, &d->conv_pix, VQM_YUV420P);
		if (r) {
			vqm_err("cannot convert NV12 %ux%u (bytesperline %u) to planar: %s",
				fmt->width, fmt->height, d->conv_pix.bytesperline, strerror(-r));
			return r;
		}
	}
	if (d->w && d->w == vis->width && d->h == vis->height)
		return 0; /* same picture size: the same file goes on */
	if (d->w) {
		/* A new size: a Y4M stream cannot change size. */
		if (d->to_stdout) {
			vqm_err("the resolution changed from %ux%u to %ux%u; one Y4M stream on "
				"standard output cannot hold both (write to a file)", d->w, d->h,
				vis->width, vis->height);
			return -EINVAL;
		}
		if (close_file(d) || open_file(d))
			return -EIO;
	}
	d->w = vis->width;
	d->h = vis->height;
	bool full = fmt->quantization == V4L2_QUANTIZATION_FULL_RANGE;
	if (vqm_y4m_header(d->f, d->w, d->h, d->dx.fps_num, d->dx.fps_den, VQM_YUV420P, full))
		return write_failed(d);
	return 0;
}

static void show_progress(struct decode *d, bool last)
{
	if (!d->progress)
		return;
	uint64_t now = vqm_now_ns();
	if (!last && now - d->t_shown < 100000000ull)
		return;
	d->t_shown = now;
	double secs = (double)(now - d->t_start) / 1e9;
	fprintf(stderr, "\rframe %u  %ux%u  %.1f fps\033[K", d->frames, d->w, d->h,
		secs > 0 ? d->frames / secs : 0.0);
	if (last)
		fputc('\n', stderr);
}

static int on_frame(void *opaque, const struct vqm_dec_frame *f)
{
	struct decode *d = opaque;
	const struct v4l2_pix_format_mplane *fmt = f->fmt;
	struct vqm_image img;
	if (d->conv) {
		const struct vqm_image *full;
		int r = vqm_conv_run(d->conv, f->data, f->len, &full);
		if (r) {
			vqm_err("converting frame %u failed: %s", d->frames, strerror(-r));
			return r;
		}
		img = *full;
	} else {
		/* YU12 is already planar: write from the buffer itself. */
		uint32_t bpl = fmt->plane_fmt[0].bytesperline;
		img = (struct vqm_image){ .layout = VQM_YUV420P, .nplanes = 3 };
		img.plane[0] = (uint8_t *)f->data;
		img.stride[0] = (int)bpl;
		img.plane[1] = img.plane[0] + (size_t)bpl * fmt->height;
		img.stride[1] = img.stride[2] = (int)(bpl / 2);
		img.plane[2] = img.plane[1] + (size_t)(bpl / 2) * ((fmt->height + 1) / 2);
	}
	/* The visible rectangle only (the buffer holds the coded size). */
	uint32_t left = (uint32_t)f->visible.left, top = (uint32_t)f->visible.top;
	img.plane[0] += (size_t)top * (size_t)img.stride[0] + left;
	for (unsigned p = 1; p < 3; p++)
		img.plane[p] += (size_t)(top / 2) * (size_t)img.stride[p] + left / 2;
	img.width = f->visible.width;
	img.height = f->visible.height;
	if (vqm_y4m_frame(d->f, &img))
		return write_failed(d);
	d->frames++;
	bool enough = d->o.frames && d->frames >= d->o.frames;
	show_progress(d, false);
	return enough ? 1 : 0;
}

/* ---- the command ---- */

static int run(struct decode *d, struct vqm_dec_stats *st)
{
	const struct opts *o = &d->o;
	struct vqm_stack s;
	int r = vqm_stack_init(&s, &(struct vqm_stack_opts){ .device = "decoder",
							     .threads = o->threads });
	if (r) {
		vqm_err("cannot set up the decoder device: %s", s.err);
		return -1;
	}
	uint32_t sid;
	if ((r = vqm_open(&s, &sid)) != 0) {
		vqm_err("open (virtio-media OPEN): %s", strerror(-r));
		vqm_stack_destroy(&s);
		return -1;
	}
	struct vqm_dec_config c = {
		.coded = d->dx.fourcc,
		.width = d->dx.width,
		.height = d->dx.height,
		.capture = o->capture,
		.memory = o->memory,
		.stop = &vqm_stop,
	};
	static const struct vqm_dec_ops ops = { .input = on_input, .format = on_format,
						.frame = on_frame };
	d->t_start = vqm_now_ns();
	r = vqm_dec_run(&s, sid, &c, &ops, d, st, d->err, sizeof(d->err));
	if (r && d->err[0])
		vqm_err("%s: %s", o->in, d->err);
	if (d->progress && d->frames)
		show_progress(d, true);
	int q = vqm_close(&s, sid);
	if (q && !r) {
		vqm_err("close (virtio-media CLOSE): %s", strerror(-q));
		r = q;
	}
	vqm_stack_destroy(&s);
	return r ? -1 : 0;
}

static void summary(const struct decode *d, const struct vqm_dec_stats *st)
{
	char cc[8];
	double secs = (double)(vqm_now_ns() - d->t_start) / 1e9;
	fprintf(stderr, "vqmedia: %u frames of %s (%s) decoded to %s in %.3f s",
		d->frames, d->dx.codec, vqm_fourcc(d->dx.fourcc, cc),
		d->o.capture == V4L2_PIX_FMT_NV12 ? "NV12" : "YU12", secs);
	if (secs > 0 && d->frames)
		fprintf(stderr, " (%.1f fps)", d->frames / secs);
	if (st->errors)
		fprintf(stderr, "; %u buffers flagged ERROR skipped", st->errors);
	if (d->to_stdout) {
		fprintf(stderr, "; stdout");
	} else {
		fprintf(stderr, "; %s", d->nfiles ? d->paths[0] : d->o.out);
		for (unsigned i = 1; i < d->nfiles; i++)
			fprintf(stderr, ", %s", d->paths[i]);
		if (d->nfiles > 1)
			fprintf(stderr, " (%u resolution changes)", d->nfiles - 1);
	}
	fputc('\n', stderr);
}

int vqm_cmd_decode(int argc, char **argv)
{
	struct decode *d = calloc(1, sizeof(*d));
	if (!d) {
		vqm_err("out of memory");
		return VQM_EXIT_FAIL;
	}
	int r = parse(argc, argv, &d->o);
	if (r) {
		free(d);
		return r < 0 ? VQM_EXIT_OK : r;
	}
	int status = VQM_EXIT_FAIL;
	struct vqm_dec_stats st;
	memset(&st, 0, sizeof(st));
	/* The input first: nothing is created for a file we cannot read. */
	if ((r = vqm_demux_open(&d->dx, d->o.in, d->err, sizeof(d->err))) != 0) {
		vqm_err("%s", d->err);
		goto out;
	}
	d->dx_open = true;
	d->to_stdout = !strcmp(d->o.out, "-");
	if (open_file(d))
		goto out;
	d->progress = !d->o.quiet && isatty(STDERR_FILENO);
	vqm_stop_on_signals();

	r = run(d, &st);
	if (close_file(d))
		r = -1;
	if (!r && vqm_stop) {
		vqm_err("interrupted after %u frames", d->frames);
		r = -1;
	} else if (!r && !d->frames) {
		vqm_err("%s: the decoder gave no picture", d->o.in);
		r = -1;
	}
	status = r ? VQM_EXIT_FAIL : VQM_EXIT_OK;
	if (status == VQM_EXIT_OK && !d->o.quiet)
		summary(d, &st);
out:
	close_file(d);
	/* An interrupted decode keeps its whole frames; a failed one leaves nothing. */
	for (unsigned i = 0; i < d->nfiles; i++) {
		if (status != VQM_EXIT_OK && !vqm_stop)
			unlink(d->paths[i]);
		free(d->paths[i]);
	}
	vqm_conv_free(d->conv);
	if (d->dx_open)
		vqm_demux_close(&d->dx);
	free(d);
	return status;
}
