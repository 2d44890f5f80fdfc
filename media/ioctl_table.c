/* SPDX-License-Identifier: MIT */
/*
 * The V4L2 ioctl table, one entry per VIDIOC_* of the 6.1 UAPI (82 codes,
 * _IOC_NR 0..103 with gaps).  Entries are designated initializers keyed by
 * _IOC_NR of the real macro, so a second macro with the same number would
 * silently replace the first; the pragma below turns that into a build error
 * under gcc and clang alike, whatever the warning flags.
 *
 * The 6.1 UAPI has no such collisions: the old compat variants
 * (VIDIOC_OVERLAY_OLD, VIDIOC_S_CTRL_OLD, ...) left it long ago, and the
 * *_TIME32 variants, which share an _IOC_NR with a different size, are
 * kernel-internal.  Because the wire carries only _IOC_NR, one number means
 * one ioctl, always in its 64-bit layout.
 */
#include <stddef.h>

#include "vmedia_ioctl_table.h"
/* For <linux/videodev2.h>, and so the table is built only where the 64-bit
 * V4L2 layouts its sizes come from hold. */
#include "vmedia_wire.h"

#pragma GCC diagnostic error "-Woverride-init"

#define DIR_OF(req)                                                         \
	((enum vmedia_ioctl_dir)(((_IOC_DIR(req) & _IOC_READ) ?             \
				  VMEDIA_IOCTL_DIR_R : 0) |                 \
				 ((_IOC_DIR(req) & _IOC_WRITE) ?            \
				  VMEDIA_IOCTL_DIR_W : 0)))

#define E(req, k)                                                           \
	[_IOC_NR(req)] = {                                                  \
		.name = #req,                                               \
		.request = (req),                                           \
		.size = _IOC_SIZE(req),                                     \
		.nr = _IOC_NR(req),                                         \
		.dir = DIR_OF(req),                                         \
		.kind = VMEDIA_IOCTL_KIND_##k,                              \
	}

static const struct vmedia_ioctl_desc table[] = {
	E(VIDIOC_QUERYCAP, ALWAYS_ENOTTY),	/* from config space */
	E(VIDIOC_ENUM_FMT, PLAIN),
	E(VIDIOC_G_FMT, PLAIN),
	E(VIDIOC_S_FMT, PLAIN),
	E(VIDIOC_REQBUFS, PLAIN),
	E(VIDIOC_QUERYBUF, BUFFER),
	E(VIDIOC_G_FBUF, PLAIN),
	E(VIDIOC_S_FBUF, PLAIN),
	E(VIDIOC_OVERLAY, PLAIN),
	E(VIDIOC_QBUF, BUFFER),
	E(VIDIOC_EXPBUF, EXPBUF),
	E(VIDIOC_DQBUF, ALWAYS_ENOTTY),		/* DQBUF events instead */
	E(VIDIOC_STREAMON, PLAIN),
	E(VIDIOC_STREAMOFF, PLAIN),
	E(VIDIOC_G_PARM, PLAIN),
	E(VIDIOC_S_PARM, PLAIN),
	E(VIDIOC_G_STD, PLAIN),
	E(VIDIOC_S_STD, PLAIN),
	E(VIDIOC_ENUMSTD, PLAIN),
	E(VIDIOC_ENUMINPUT, PLAIN),
	E(VIDIOC_G_CTRL, PLAIN),
	E(VIDIOC_S_CTRL, PLAIN),
	E(VIDIOC_G_TUNER, PLAIN),
	E(VIDIOC_S_TUNER, PLAIN),
	E(VIDIOC_G_AUDIO, PLAIN),
	E(VIDIOC_S_AUDIO, PLAIN),
	E(VIDIOC_QUERYCTRL, PLAIN),
	E(VIDIOC_QUERYMENU, PLAIN),
	E(VIDIOC_G_INPUT, PLAIN),
	E(VIDIOC_S_INPUT, PLAIN),
	E(VIDIOC_G_EDID, NO_LAYOUT),
	E(VIDIOC_S_EDID, NO_LAYOUT),
	E(VIDIOC_G_OUTPUT, PLAIN),
	E(VIDIOC_S_OUTPUT, PLAIN),
	E(VIDIOC_ENUMOUTPUT, PLAIN),
	E(VIDIOC_G_AUDOUT, PLAIN),
	E(VIDIOC_S_AUDOUT, PLAIN),
	E(VIDIOC_G_MODULATOR, PLAIN),
	E(VIDIOC_S_MODULATOR, PLAIN),
	E(VIDIOC_G_FREQUENCY, PLAIN),
	E(VIDIOC_S_FREQUENCY, PLAIN),
	E(VIDIOC_CROPCAP, PLAIN),
	E(VIDIOC_G_CROP, PLAIN),
	E(VIDIOC_S_CROP, PLAIN),
	E(VIDIOC_G_JPEGCOMP, ALWAYS_ENOTTY),	/* deprecated */
	E(VIDIOC_S_JPEGCOMP, ALWAYS_ENOTTY),
	E(VIDIOC_QUERYSTD, PLAIN),
	E(VIDIOC_TRY_FMT, PLAIN),
	E(VIDIOC_ENUMAUDIO, PLAIN),
	E(VIDIOC_ENUMAUDOUT, PLAIN),
	E(VIDIOC_G_PRIORITY, PLAIN),
	E(VIDIOC_S_PRIORITY, PLAIN),
	E(VIDIOC_G_SLICED_VBI_CAP, PLAIN),
	E(VIDIOC_LOG_STATUS, ALWAYS_ENOTTY),	/* forbidden by the spec */
	E(VIDIOC_G_EXT_CTRLS, EXT_CTRLS),
	E(VIDIOC_S_EXT_CTRLS, EXT_CTRLS),
	E(VIDIOC_TRY_EXT_CTRLS, EXT_CTRLS),
	E(VIDIOC_ENUM_FRAMESIZES, PLAIN),
	E(VIDIOC_ENUM_FRAMEINTERVALS, PLAIN),
	E(VIDIOC_G_ENC_INDEX, PLAIN),
	E(VIDIOC_ENCODER_CMD, PLAIN),
	E(VIDIOC_TRY_ENCODER_CMD, PLAIN),
	E(VIDIOC_DBG_S_REGISTER, PLAIN),
	E(VIDIOC_DBG_G_REGISTER, PLAIN),
	E(VIDIOC_S_HW_FREQ_SEEK, PLAIN),
	E(VIDIOC_S_DV_TIMINGS, PLAIN),
	E(VIDIOC_G_DV_TIMINGS, PLAIN),
	E(VIDIOC_DQEVENT, ALWAYS_ENOTTY),	/* EVENT events instead */
	E(VIDIOC_SUBSCRIBE_EVENT, PLAIN),
	E(VIDIOC_UNSUBSCRIBE_EVENT, PLAIN),
	E(VIDIOC_CREATE_BUFS, PLAIN),		/* embeds v4l2_format only */
	E(VIDIOC_PREPARE_BUF, BUFFER),
	E(VIDIOC_G_SELECTION, PLAIN),
	E(VIDIOC_S_SELECTION, PLAIN),
	E(VIDIOC_DECODER_CMD, PLAIN),
	E(VIDIOC_TRY_DECODER_CMD, PLAIN),
	E(VIDIOC_ENUM_DV_TIMINGS, PLAIN),
	E(VIDIOC_QUERY_DV_TIMINGS, PLAIN),
	E(VIDIOC_DV_TIMINGS_CAP, PLAIN),
	E(VIDIOC_ENUM_FREQ_BANDS, PLAIN),
	E(VIDIOC_DBG_G_CHIP_INFO, PLAIN),
	E(VIDIOC_QUERY_EXT_CTRL, PLAIN),
};

_Static_assert(sizeof(table) / sizeof(table[0]) <= VMEDIA_IOCTL_NR_LIMIT,
	       "the table is indexed by the 8-bit _IOC_NR");
/* The codec reads these three structs by type, so the sizes must agree. */
_Static_assert(_IOC_SIZE(VIDIOC_QBUF) == sizeof(struct v4l2_buffer) &&
	       _IOC_SIZE(VIDIOC_QUERYBUF) == sizeof(struct v4l2_buffer) &&
	       _IOC_SIZE(VIDIOC_PREPARE_BUF) == sizeof(struct v4l2_buffer),
	       "BUFFER ioctls carry a v4l2_buffer");
_Static_assert(_IOC_SIZE(VIDIOC_G_EXT_CTRLS) == sizeof(struct v4l2_ext_controls),
	       "EXT_CTRLS ioctls carry a v4l2_ext_controls");
_Static_assert(_IOC_SIZE(VIDIOC_EXPBUF) == sizeof(struct v4l2_exportbuffer),
	       "EXPBUF carries a v4l2_exportbuffer");

const struct vmedia_ioctl_desc *vmedia_ioctl_lookup(uint32_t nr)
{
	if (nr >= sizeof(table) / sizeof(table[0]))
		return NULL;
	/* Gaps in the numbering are zero-filled entries. */
	return table[nr].name ? &table[nr] : NULL;
}
