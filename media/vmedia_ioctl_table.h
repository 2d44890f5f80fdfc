/* SPDX-License-Identifier: MIT */
/*
 * vmedia_ioctl_table.h - what the runner needs to know about each V4L2 ioctl
 * before it reads a byte of payload: its name, its host request number, which
 * way the payload flows, how big it is, and whether pointed-to data follows.
 *
 * The IOCTL command identifies an ioctl only by _IOC_NR (8 bits), so the
 * table is indexed by it.  Every entry is generated from the VIDIOC_* macros
 * of <linux/videodev2.h>; nothing is numbered or sized by hand.
 */
#ifndef VMEDIA_IOCTL_TABLE_H
#define VMEDIA_IOCTL_TABLE_H

#include <stdint.h>

/* _IOC_NR is 8 bits wide: codes at or above this are never valid. */
#define VMEDIA_IOCTL_NR_LIMIT	256

/*
 * Seen from the device: R means the device writes the payload after the
 * response header (_IOR), W means it reads the payload after the command
 * (_IOW), RW both (_IOWR).  Derived from _IOC_DIR, so independent of the
 * host architecture's encoding of the direction bits.
 */
enum vmedia_ioctl_dir {
	VMEDIA_IOCTL_DIR_NONE = 0,
	VMEDIA_IOCTL_DIR_R = 1,
	VMEDIA_IOCTL_DIR_W = 2,
	VMEDIA_IOCTL_DIR_RW = 3,
};

/* What follows the fixed-size payload on the wire (PROTOCOL.md). */
enum vmedia_ioctl_kind {
	/*
	 * Nothing follows.  Pointer-sized fields, if any, are opaque values
	 * carried in place (v4l2_framebuffer.base, v4l2_window.clips/bitmap
	 * inside v4l2_format): the device must not dereference them and must
	 * never put a host address in them.
	 */
	VMEDIA_IOCTL_KIND_PLAIN,
	/* v4l2_buffer: planes for mplane types, then USERPTR SG lists or
	 * DMABUF UUIDs. */
	VMEDIA_IOCTL_KIND_BUFFER,
	/* v4l2_ext_controls: count controls, then one SG list per control
	 * with size > 0. */
	VMEDIA_IOCTL_KIND_EXT_CTRLS,
	/* v4l2_exportbuffer, then a 16-byte UUID in both parts. */
	VMEDIA_IOCTL_KIND_EXPBUF,
	/*
	 * The payload points at guest memory for which the protocol defines
	 * no trailing area (v4l2_edid.edid), so it cannot be carried: the
	 * runner answers ENOTTY whatever the device implements.
	 */
	VMEDIA_IOCTL_KIND_NO_LAYOUT,
	/* Replaced by config space or events, or forbidden by the spec. */
	VMEDIA_IOCTL_KIND_ALWAYS_ENOTTY,
};

struct vmedia_ioctl_desc {
	const char *name;		/* "VIDIOC_G_FMT" */
	/*
	 * The host's full request number, for a proxy's own ioctl(2) calls.
	 * Its encoding is host-specific, so it never goes on the wire.
	 */
	uint32_t request;
	uint16_t size;			/* 64-bit payload size, _IOC_SIZE */
	uint8_t nr;			/* _IOC_NR, the wire code */
	enum vmedia_ioctl_dir dir;
	enum vmedia_ioctl_kind kind;
};

/*
 * vmedia_ioctl_lookup - describe the ioctl with wire code @nr.
 *
 * Returns a pointer into a static const table, valid for the life of the
 * program, or NULL if @nr names no ioctl of the 6.1 UAPI; the runner then
 * answers ENOTTY.  Safe for any @nr, including guest-controlled ones.
 */
const struct vmedia_ioctl_desc *vmedia_ioctl_lookup(uint32_t nr);

#endif /* VMEDIA_IOCTL_TABLE_H */
