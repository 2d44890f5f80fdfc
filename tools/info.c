/* SPDX-License-Identifier: MIT */
/*
 * vqmedia info — what a device offers, asked through the whole stack the
 * way v4l2-ctl --all asks a video node: QUERYCAP (from the config space),
 * inputs, the current format and frame interval, every format with its
 * sizes and intervals, and every control with its range, default, current
 * value and menu items.  A memory-to-memory multi-planar device (a
 * decoder) has two queues and no inputs: the current format and every
 * format with its sizes are shown for each queue, OUTPUT (what it takes)
 * first, then CAPTURE (what it gives).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "controls.h"
#include "convert.h"
#include "stack.h"
#include "tools.h"
#include "util.h"
#include "v4l2names.h"

#define CAP V4L2_BUF_TYPE_VIDEO_CAPTURE

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vqmedia info [--device NAME]\n"
		"\n"
		"Show what a device offers, asked through the guest driver model, the\n"
		"virtqueues and the virtio-media runner: capabilities, inputs, the current\n"
		"format and frame rate, every format with its frame sizes and intervals,\n"
		"and every control with its range, default and current value.\n"
		"\n"
		"  -d, --device NAME   the device (default: simple); one of:\n");
	for (unsigned i = 0; vqm_devices[i]; i++)
		fprintf(f, "                        %-8s %s\n", vqm_devices[i]->name,
			vqm_devices[i]->summary);
	fprintf(f, "  -h, --help          this text\n");
}

/* An enumeration stopped at @index with @r: EINVAL is its normal end. */
static void enum_end(const char *indent, unsigned long req, uint32_t index, int r)
{
	if (r == -EINVAL && index == 0)
		printf("%snone\n", indent);
	else if (r != -EINVAL)
		printf("%s%s: %s\n", indent, vqm_ioctl_name(req), strerror(-r));
}

/* Returns the device caps (0 if QUERYCAP failed). */
static uint32_t print_querycap(struct vqm_stack *s, uint32_t sid)
{
	struct v4l2_capability cap;
	memset(&cap, 0, sizeof(cap));
	int r = vqm_ioctl(s, sid, VIDIOC_QUERYCAP, &cap);
	printf("Driver Info:\n");
	if (r) {
		printf("\t%s: %s\n", vqm_ioctl_name(VIDIOC_QUERYCAP), strerror(-r));
		return 0;
	}
	cap.driver[sizeof(cap.driver) - 1] = 0;
	cap.card[sizeof(cap.card) - 1] = 0;
	cap.bus_info[sizeof(cap.bus_info) - 1] = 0;
	printf("\tDriver name      : %s\n", (const char *)cap.driver);
	printf("\tCard type        : %s\n", (const char *)cap.card);
	printf("\tBus info         : %s\n", (const char *)cap.bus_info);
	printf("\tDriver version   : %u.%u.%u\n", cap.version >> 16, (cap.version >> 8) & 0xff,
	       cap.version & 0xff);
	printf("\tCapabilities     : 0x%08x\n", cap.capabilities);
	vqm_print_caps(stdout, cap.capabilities, "\t\t");
	if (cap.capabilities & V4L2_CAP_DEVICE_CAPS) {
		printf("\tDevice Caps      : 0x%08x\n", cap.device_caps);
		vqm_print_caps(stdout, cap.device_caps, "\t\t");
		return cap.device_caps;
	}
	return cap.capabilities;
}

static const char *queue_name(uint32_t type)
{
	switch (type) {
	case V4L2_BUF_TYPE_VIDEO_CAPTURE: return "Video Capture";
	case V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE: return "Video Capture Multiplanar";
	case V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE: return "Video Output Multiplanar";
	default: return "Video";
	}
}

static bool mplane(uint32_t type)
{
	return type == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE ||
	       type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
}

static void print_inputs(struct vqm_stack *s, uint32_t sid)
{
	int cur = -1;
	if (vqm_ioctl(s, sid, VIDIOC_G_INPUT, &cur))
		cur = -1;
	printf("Video inputs (ENUMINPUT):\n");
	for (uint32_t i = 0; i < 64; i++) {
		struct v4l2_input in = { .index = i };
		int r = vqm_ioctl(s, sid, VIDIOC_ENUMINPUT, &in);
		if (r) {
			enum_end("\t", VIDIOC_ENUMINPUT, i, r);
			break;
		}
		in.name[sizeof(in.name) - 1] = 0;
		printf("\t%u: %s (%s%s)%s\n", in.index, (const char *)in.name,
		       in.type == V4L2_INPUT_TYPE_CAMERA ? "camera" : "tuner",
		       in.status ? ", no signal" : ", ok", (int)i == cur ? "  [current]" : "");
	}
}

static void print_colour(uint32_t colorspace, uint32_t ycbcr_enc, uint32_t quantization)
{
	printf("\tColorspace        : %s\n", vqm_colorspace_name(colorspace));
	printf("\tYCbCr Encoding    : %s\n", vqm_ycbcr_enc_name(ycbcr_enc));
	printf("\tQuantization      : %s\n",
	       quantization == V4L2_QUANTIZATION_FULL_RANGE  ? "Full Range"
	       : quantization == V4L2_QUANTIZATION_LIM_RANGE ? "Limited Range"
							     : "Default");
}

static void print_format_mp(const struct v4l2_pix_format_mplane *p)
{
	char cc[8];
	printf("\tWidth/Height      : %u/%u\n", p->width, p->height);
	printf("\tPixel Format      : '%s'\n", vqm_fourcc(p->pixelformat, cc));
	printf("\tField             : %s\n", vqm_field_name(p->field));
	printf("\tNumber of planes  : %u\n", p->num_planes);
	for (unsigned i = 0; i < p->num_planes && i < VIDEO_MAX_PLANES; i++) {
		printf("\tPlane %u           :\n", i);
		printf("\t   Bytes per Line : %u\n", p->plane_fmt[i].bytesperline);
		printf("\t   Size Image     : %u\n", p->plane_fmt[i].sizeimage);
	}
	print_colour(p->colorspace, p->ycbcr_enc, p->quantization);
}

static void print_format(struct vqm_stack *s, uint32_t sid, uint32_t type)
{
	struct v4l2_format f = { .type = type };
	int r = vqm_ioctl(s, sid, VIDIOC_G_FMT, &f);
	printf("Format %s (G_FMT):\n", queue_name(type));
	if (r) {
		printf("\t%s: %s\n", vqm_ioctl_name(VIDIOC_G_FMT), strerror(-r));
		return;
	}
	if (mplane(type)) {
		print_format_mp(&f.fmt.pix_mp);
		return;
	}
	const struct v4l2_pix_format *p = &f.fmt.pix;
	char cc[8];
	const struct vqm_format *known = vqm_format_by_fourcc(p->pixelformat);
	printf("\tWidth/Height      : %u/%u\n", p->width, p->height);
	printf("\tPixel Format      : '%s'%s%s%s\n", vqm_fourcc(p->pixelformat, cc),
	       known ? " (" : "", known ? known->desc : "", known ? ")" : "");
	printf("\tField             : %s\n", vqm_field_name(p->field));
	printf("\tBytes per Line    : %u\n", p->bytesperline);
	printf("\tSize Image        : %u\n", p->sizeimage);
	print_colour(p->colorspace, p->ycbcr_enc, p->quantization);
}

static void print_parm(struct vqm_stack *s, uint32_t sid)
{
	struct v4l2_streamparm p = { .type = CAP };
	int r = vqm_ioctl(s, sid, VIDIOC_G_PARM, &p);
	printf("Streaming Parameters Video Capture (G_PARM):\n");
	if (r) {
		printf("\t%s: %s\n", vqm_ioctl_name(VIDIOC_G_PARM), strerror(-r));
		return;
	}
	const struct v4l2_fract *t = &p.parm.capture.timeperframe;
	if (p.parm.capture.capability & V4L2_CAP_TIMEPERFRAME)
		printf("\tCapabilities     : timeperframe\n");
	if (t->numerator && t->denominator)
		printf("\tFrames per second: %.3f (%u/%u)\n",
		       (double)t->denominator / (double)t->numerator, t->denominator,
		       t->numerator);
	printf("\tRead buffers     : %u\n", p.parm.capture.readbuffers);
}

static void print_interval(const char *indent, const struct v4l2_fract *f)
{
	if (!f->numerator || !f->denominator) {
		printf("%s?\n", indent);
		return;
	}
	printf("%s%.3fs (%.3f fps)\n", indent, (double)f->numerator / (double)f->denominator,
	       (double)f->denominator / (double)f->numerator);
}

static void print_intervals(struct vqm_stack *s, uint32_t sid, uint32_t fourcc, uint32_t w,
			    uint32_t h)
{
	for (uint32_t i = 0; i < 64; i++) {
		struct v4l2_frmivalenum fi = { .index = i, .pixel_format = fourcc, .width = w,
					       .height = h };
		int r = vqm_ioctl(s, sid, VIDIOC_ENUM_FRAMEINTERVALS, &fi);
		if (r) {
			enum_end("\t\t\t", VIDIOC_ENUM_FRAMEINTERVALS, i, r);
			return;
		}
		if (fi.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
			print_interval("\t\t\tInterval: Discrete ", &fi.discrete);
			continue;
		}
		printf("\t\t\tInterval: %s\n",
		       fi.type == V4L2_FRMIVAL_TYPE_CONTINUOUS ? "Continuous" : "Stepwise");
		print_interval("\t\t\t\tmin  ", &fi.stepwise.min);
		print_interval("\t\t\t\tmax  ", &fi.stepwise.max);
		print_interval("\t\t\t\tstep ", &fi.stepwise.step);
		return;
	}
}

static void print_formats(struct vqm_stack *s, uint32_t sid, uint32_t type)
{
	/* Frame intervals belong to cameras, not to a codec's queues. */
	bool intervals = !mplane(type);
	printf("Formats %s (ENUM_FMT, ENUM_FRAMESIZES%s):\n", queue_name(type),
	       intervals ? ", ENUM_FRAMEINTERVALS" : "");
	for (uint32_t i = 0; i < 256; i++) {
		struct v4l2_fmtdesc fd = { .index = i, .type = type };
		int r = vqm_ioctl(s, sid, VIDIOC_ENUM_FMT, &fd);
		if (r) {
			enum_end("\t", VIDIOC_ENUM_FMT, i, r);
			return;
		}
		char cc[8];
		fd.description[sizeof(fd.description) - 1] = 0;
		printf("\t[%u]: '%s' (%s%s%s%s)\n", i, vqm_fourcc(fd.pixelformat, cc),
		       (const char *)fd.description,
		       fd.flags & V4L2_FMT_FLAG_COMPRESSED ? ", compressed" : "",
		       fd.flags & V4L2_FMT_FLAG_DYN_RESOLUTION ? ", dynamic resolution" : "",
		       fd.flags & V4L2_FMT_FLAG_CONTINUOUS_BYTESTREAM ? ", continuous bytestream"
								       : "");
		for (uint32_t j = 0; j < 256; j++) {
			struct v4l2_frmsizeenum fs = { .index = j, .pixel_format = fd.pixelformat };
			r = vqm_ioctl(s, sid, VIDIOC_ENUM_FRAMESIZES, &fs);
			if (r) {
				enum_end("\t\t", VIDIOC_ENUM_FRAMESIZES, j, r);
				break;
			}
			if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
				printf("\t\tSize: Discrete %ux%u\n", fs.discrete.width,
				       fs.discrete.height);
				if (intervals)
					print_intervals(s, sid, fd.pixelformat, fs.discrete.width,
							fs.discrete.height);
				continue;
			}
			const struct v4l2_frmsize_stepwise *sw = &fs.stepwise;
			printf("\t\tSize: %s %ux%u - %ux%u with step %u/%u\n",
			       fs.type == V4L2_FRMSIZE_TYPE_CONTINUOUS ? "Continuous" : "Stepwise",
			       sw->min_width, sw->min_height, sw->max_width, sw->max_height,
			       sw->step_width, sw->step_height);
			if (intervals)
				print_intervals(s, sid, fd.pixelformat, sw->max_width,
						sw->max_height);
			break;
		}
	}
}

static void print_ctrl(struct vqm_stack *s, uint32_t sid, const struct vqm_ctrl *c)
{
	const struct v4l2_query_ext_ctrl *q = &c->q;
	if (q->type == V4L2_CTRL_TYPE_CTRL_CLASS) {
		printf("\n%s\n\n", q->name);
		return;
	}
	char type[16], flags[128];
	snprintf(type, sizeof(type), "(%s)", vqm_ctrl_type_name(q->type));
	printf("%31s 0x%08x %-8s:", c->var, q->id, type);
	long long min = q->minimum, max = q->maximum, def = q->default_value;
	switch (q->type) {
	case V4L2_CTRL_TYPE_INTEGER:
	case V4L2_CTRL_TYPE_INTEGER64:
		printf(" min=%lld max=%lld step=%llu default=%lld", min, max,
		       (unsigned long long)q->step, def);
		break;
	case V4L2_CTRL_TYPE_BOOLEAN:
		printf(" default=%lld", def);
		break;
	case V4L2_CTRL_TYPE_MENU:
	case V4L2_CTRL_TYPE_INTEGER_MENU:
		printf(" min=%lld max=%lld default=%lld", min, max, def);
		break;
	case V4L2_CTRL_TYPE_BITMASK:
		printf(" max=0x%08llx default=0x%08llx", (unsigned long long)max,
		       (unsigned long long)def);
		break;
	default:
		break;
	}
	if (vqm_ctrl_has_value(c) && !(q->flags & V4L2_CTRL_FLAG_WRITE_ONLY)) {
		int64_t v;
		int r = vqm_ctrl_get(s, sid, c, &v);
		if (r)
			printf(" value=<%s: %s>", vqm_ioctl_name(VIDIOC_G_EXT_CTRLS), strerror(-r));
		else if (q->type == V4L2_CTRL_TYPE_BITMASK)
			printf(" value=0x%08llx", (unsigned long long)v);
		else
			printf(" value=%lld", (long long)v);
	}
	vqm_ctrl_flags(q->flags, flags, sizeof(flags));
	if (flags[0])
		printf(" flags=%s", flags);
	printf("\n");
	if ((q->type == V4L2_CTRL_TYPE_MENU || q->type == V4L2_CTRL_TYPE_INTEGER_MENU) &&
	    q->minimum >= 0 && q->maximum <= 255) {
		for (int64_t i = q->minimum; i <= q->maximum; i++) {
			char item[64];
			if (vqm_ctrl_menu_item(s, sid, c, (uint32_t)i, item, sizeof(item)) == 0)
				printf("\t\t\t\t%lld: %s\n", (long long)i, item);
		}
	}
}

static void print_controls(struct vqm_stack *s, uint32_t sid)
{
	struct vqm_ctrls ctrls;
	int r = vqm_ctrls_query(s, sid, &ctrls);
	if (r) {
		printf("Controls: %s: %s\n", vqm_ioctl_name(VIDIOC_QUERY_EXT_CTRL), strerror(-r));
		return;
	}
	if (!ctrls.n)
		printf("Controls: none\n");
	/* Devices without control classes still get a heading. */
	if (ctrls.n && ctrls.c[0].q.type != V4L2_CTRL_TYPE_CTRL_CLASS)
		printf("\nControls\n\n");
	for (unsigned i = 0; i < ctrls.n; i++)
		print_ctrl(s, sid, &ctrls.c[i]);
	vqm_ctrls_free(&ctrls);
}

int vqm_cmd_info(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *device = "simple";
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			device = optarg;
			break;
		case 'h':
			usage(stdout);
			return VQM_EXIT_OK;
		default: /* ':' (no value) or '?' */
			return vqm_getopt_err("info", c, argv);
		}
	}
	if (optind < argc)
		return vqm_usage_err("info", "unexpected argument '%s'", argv[optind]);
	if (!vqm_device_find(device))
		return vqm_usage_err("info", "no device called '%s' (see --help)", device);

	struct vqm_stack s;
	int r = vqm_stack_init(&s, &(struct vqm_stack_opts){ .device = device });
	if (r) {
		vqm_err("cannot set up the %s device: %s", device, s.err);
		return VQM_EXIT_FAIL;
	}
	uint32_t sid;
	if ((r = vqm_open(&s, &sid)) != 0) {
		vqm_err("open (virtio-media OPEN): %s", strerror(-r));
		vqm_stack_destroy(&s);
		return VQM_EXIT_FAIL;
	}
	printf("Device: %s (%s)\n", s.kind->name, s.kind->summary);
	uint32_t caps = print_querycap(&s, sid);
	if (caps & V4L2_CAP_VIDEO_M2M_MPLANE) {
		static const uint32_t queues[] = { V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
						   V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE };
		for (unsigned i = 0; i < 2; i++)
			print_format(&s, sid, queues[i]);
		for (unsigned i = 0; i < 2; i++)
			print_formats(&s, sid, queues[i]);
	} else {
		print_inputs(&s, sid);
		print_format(&s, sid, CAP);
		print_parm(&s, sid);
		print_formats(&s, sid, CAP);
	}
	print_controls(&s, sid);
	r = vqm_close(&s, sid);
	int broken = s.runner_err;
	vqm_stack_destroy(&s);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		vqm_err("writing to standard output failed");
		return VQM_EXIT_FAIL;
	}
	if (broken) {
		vqm_err("the virtio-media runner failed: %s", strerror(-broken));
		return VQM_EXIT_FAIL;
	}
	if (r) {
		vqm_err("close (virtio-media CLOSE): %s", strerror(-r));
		return VQM_EXIT_FAIL;
	}
	return VQM_EXIT_OK;
}
