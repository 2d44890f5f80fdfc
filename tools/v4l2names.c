/* SPDX-License-Identifier: MIT */
/* V4L2 numbers to names; see v4l2names.h. */
#include "v4l2names.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "vmedia.h"

struct name {
	unsigned long nr;
	const char *name;
};

static const struct name ioctls[] = {
#define IOCTL_NAME(NAME, hook, type) { VIDIOC_##NAME, "VIDIOC_" #NAME },
	VMEDIA_PLAIN_IOCTLS(IOCTL_NAME)
#undef IOCTL_NAME
	{ VIDIOC_QUERYCAP, "VIDIOC_QUERYCAP" },
	{ VIDIOC_QUERYBUF, "VIDIOC_QUERYBUF" },
	{ VIDIOC_QBUF, "VIDIOC_QBUF" },
	{ VIDIOC_DQBUF, "VIDIOC_DQBUF" },
	{ VIDIOC_PREPARE_BUF, "VIDIOC_PREPARE_BUF" },
	{ VIDIOC_EXPBUF, "VIDIOC_EXPBUF" },
	{ VIDIOC_G_EXT_CTRLS, "VIDIOC_G_EXT_CTRLS" },
	{ VIDIOC_S_EXT_CTRLS, "VIDIOC_S_EXT_CTRLS" },
	{ VIDIOC_TRY_EXT_CTRLS, "VIDIOC_TRY_EXT_CTRLS" },
	{ VIDIOC_DQEVENT, "VIDIOC_DQEVENT" },
};

const char *vqm_ioctl_name(unsigned long req)
{
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		if (ioctls[i].nr == req)
			return ioctls[i].name;
	static char buf[32];
	snprintf(buf, sizeof(buf), "ioctl 0x%08lx", req);
	return buf;
}

const char *vqm_fourcc(uint32_t fourcc, char buf[8])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((fourcc >> (8 * i)) & 0x7f);
		buf[i] = isprint((unsigned char)c) ? c : '.';
	}
	buf[4] = 0;
	if (fourcc & (1u << 31))
		strcpy(buf + 4, "-BE");
	return buf;
}

static const struct name caps[] = {
	{ V4L2_CAP_VIDEO_CAPTURE, "Video Capture" },
	{ V4L2_CAP_VIDEO_CAPTURE_MPLANE, "Video Capture Multiplanar" },
	{ V4L2_CAP_VIDEO_OUTPUT, "Video Output" },
	{ V4L2_CAP_VIDEO_OUTPUT_MPLANE, "Video Output Multiplanar" },
	{ V4L2_CAP_VIDEO_M2M, "Video Memory-to-Memory" },
	{ V4L2_CAP_VIDEO_M2M_MPLANE, "Video Memory-to-Memory Multiplanar" },
	{ V4L2_CAP_VIDEO_OVERLAY, "Video Overlay" },
	{ V4L2_CAP_VBI_CAPTURE, "VBI Capture" },
	{ V4L2_CAP_VBI_OUTPUT, "VBI Output" },
	{ V4L2_CAP_SLICED_VBI_CAPTURE, "Sliced VBI Capture" },
	{ V4L2_CAP_SLICED_VBI_OUTPUT, "Sliced VBI Output" },
	{ V4L2_CAP_RDS_CAPTURE, "RDS Capture" },
	{ V4L2_CAP_VIDEO_OUTPUT_OVERLAY, "Video Output Overlay" },
	{ V4L2_CAP_HW_FREQ_SEEK, "HW Frequency Seek" },
	{ V4L2_CAP_RDS_OUTPUT, "RDS Output" },
	{ V4L2_CAP_TUNER, "Tuner" },
	{ V4L2_CAP_AUDIO, "Audio" },
	{ V4L2_CAP_RADIO, "Radio" },
	{ V4L2_CAP_MODULATOR, "Modulator" },
	{ V4L2_CAP_SDR_CAPTURE, "SDR Capture" },
	{ V4L2_CAP_EXT_PIX_FORMAT, "Extended Pix Format" },
	{ V4L2_CAP_SDR_OUTPUT, "SDR Output" },
	{ V4L2_CAP_META_CAPTURE, "Metadata Capture" },
	{ V4L2_CAP_READWRITE, "Read/Write" },
	{ V4L2_CAP_STREAMING, "Streaming" },
	{ V4L2_CAP_META_OUTPUT, "Metadata Output" },
	{ V4L2_CAP_TOUCH, "Touch Device" },
	{ V4L2_CAP_IO_MC, "I/O MC" },
	{ V4L2_CAP_DEVICE_CAPS, "Device Capabilities" },
};

void vqm_print_caps(FILE *f, uint32_t c, const char *indent)
{
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (c & caps[i].nr)
			fprintf(f, "%s%s\n", indent, caps[i].name);
}

const char *vqm_ctrl_type_name(uint32_t type)
{
	switch (type) {
	case V4L2_CTRL_TYPE_INTEGER: return "int";
	case V4L2_CTRL_TYPE_BOOLEAN: return "bool";
	case V4L2_CTRL_TYPE_MENU: return "menu";
	case V4L2_CTRL_TYPE_BUTTON: return "button";
	case V4L2_CTRL_TYPE_INTEGER64: return "int64";
	case V4L2_CTRL_TYPE_CTRL_CLASS: return "ctrl_class";
	case V4L2_CTRL_TYPE_STRING: return "str";
	case V4L2_CTRL_TYPE_BITMASK: return "bitmask";
	case V4L2_CTRL_TYPE_INTEGER_MENU: return "intmenu";
	case V4L2_CTRL_TYPE_U8: return "u8";
	case V4L2_CTRL_TYPE_U16: return "u16";
	case V4L2_CTRL_TYPE_U32: return "u32";
	default: return "unknown";
	}
}

const char *vqm_ctrl_flags(uint32_t flags, char *buf, size_t len)
{
	static const struct name fl[] = {
		{ V4L2_CTRL_FLAG_DISABLED, "disabled" },
		{ V4L2_CTRL_FLAG_GRABBED, "grabbed" },
		{ V4L2_CTRL_FLAG_READ_ONLY, "read-only" },
		{ V4L2_CTRL_FLAG_UPDATE, "update" },
		{ V4L2_CTRL_FLAG_INACTIVE, "inactive" },
		{ V4L2_CTRL_FLAG_SLIDER, "slider" },
		{ V4L2_CTRL_FLAG_WRITE_ONLY, "write-only" },
		{ V4L2_CTRL_FLAG_VOLATILE, "volatile" },
		{ V4L2_CTRL_FLAG_HAS_PAYLOAD, "has-payload" },
		{ V4L2_CTRL_FLAG_EXECUTE_ON_WRITE, "execute-on-write" },
		{ V4L2_CTRL_FLAG_MODIFY_LAYOUT, "modify-layout" },
	};
	size_t n = 0;
	buf[0] = 0;
	for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		if (!(flags & fl[i].nr))
			continue;
		int w = snprintf(buf + n, len - n, "%s%s", n ? "," : "", fl[i].name);
		if (w < 0 || (size_t)w >= len - n)
			break;
		n += (size_t)w;
	}
	return buf;
}

void vqm_ctrl_var_name(const char *name, char *out, size_t len)
{
	/* v4l2-ctl's name2var: runs of anything but letters and digits
	 * become one '_', leading and trailing ones are dropped. */
	size_t n = 0;
	bool sep = false;
	for (; *name && n + 2 < len; name++) {
		unsigned char c = (unsigned char)*name;
		if (isalnum(c)) {
			if (sep)
				out[n++] = '_';
			sep = false;
			out[n++] = (char)tolower(c);
		} else if (n) {
			sep = true;
		}
	}
	out[n] = 0;
}

const char *vqm_field_name(uint32_t field)
{
	static const char *const names[] = {
		"Any", "None", "Top", "Bottom", "Interlaced", "Sequential Top-Bottom",
		"Sequential Bottom-Top", "Alternating", "Interlaced Top-Bottom",
		"Interlaced Bottom-Top",
	};
	return field < sizeof(names) / sizeof(names[0]) ? names[field] : "Unknown";
}

const char *vqm_colorspace_name(uint32_t cs)
{
	switch (cs) {
	case V4L2_COLORSPACE_DEFAULT: return "Default";
	case V4L2_COLORSPACE_SMPTE170M: return "SMPTE 170M";
	case V4L2_COLORSPACE_SMPTE240M: return "SMPTE 240M";
	case V4L2_COLORSPACE_REC709: return "Rec. 709";
	case V4L2_COLORSPACE_470_SYSTEM_M: return "470 System M";
	case V4L2_COLORSPACE_470_SYSTEM_BG: return "470 System BG";
	case V4L2_COLORSPACE_JPEG: return "JPEG";
	case V4L2_COLORSPACE_SRGB: return "sRGB";
	case V4L2_COLORSPACE_OPRGB: return "opRGB";
	case V4L2_COLORSPACE_BT2020: return "BT.2020";
	case V4L2_COLORSPACE_RAW: return "Raw";
	case V4L2_COLORSPACE_DCI_P3: return "DCI-P3";
	default: return "Unknown";
	}
}

const char *vqm_ycbcr_enc_name(uint32_t enc)
{
	switch (enc) {
	case V4L2_YCBCR_ENC_DEFAULT: return "Default";
	case V4L2_YCBCR_ENC_601: return "ITU-R 601";
	case V4L2_YCBCR_ENC_709: return "Rec. 709";
	case V4L2_YCBCR_ENC_XV601: return "xvYCC 601";
	case V4L2_YCBCR_ENC_XV709: return "xvYCC 709";
	case V4L2_YCBCR_ENC_BT2020: return "BT.2020";
	case V4L2_YCBCR_ENC_BT2020_CONST_LUM: return "BT.2020 Constant Luminance";
	case V4L2_YCBCR_ENC_SMPTE240M: return "SMPTE 240M";
	default: return "Unknown";
	}
}
