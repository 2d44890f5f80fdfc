/* SPDX-License-Identifier: MIT */
/*
 * vmedia_wire.h - the virtio-media (virtio device ID 48) wire format.
 *
 * Every multi-byte field in these structs is stored LITTLE-ENDIAN in guest
 * memory, whatever the host is.  The types are plain fixed-width integers so
 * the structs can be memcpy'd to and from a chain; convert each field with the
 * ring layer's vq_to_le32()/vq_from_le32() (and 16/64) helpers on access.
 * Embedded V4L2 structs follow the same rule, field by field.
 *
 * V4L2 payloads are always the 64-bit layout (8-byte pointers, 16-byte
 * timeval/timespec), even for 32-bit guests, whose driver translates.  The
 * static asserts at the end pin every size and offset of PROTOCOL.md, so this
 * header refuses to build where <linux/videodev2.h> has another layout
 * (e.g. a 32-bit host) instead of silently speaking a different protocol.
 *
 * No struct here is packed: every field is naturally aligned, so the compiler
 * adds no padding (the asserts prove it), and we keep aligned access and
 * addressable members.  The one trap is the MMAP command: it has no 64-bit
 * member, so its alignment is 4 and its size is exactly 20 - the Linux driver
 * sends 20 bytes, and a device reading 24 would fail on a valid command.
 */
#ifndef VMEDIA_WIRE_H
#define VMEDIA_WIRE_H

#include <stddef.h>
#include <stdint.h>
/* videodev2.h uses struct timespec but leaves declaring it to the includer
 * under strict -std=c11; <time.h> declares it in every mode. */
#include <time.h>
#include <linux/videodev2.h>

#define VMEDIA_VIRTIO_ID	48

/* Queue indices and the shared memory region that backs MMAP buffers. */
#define VMEDIA_QUEUE_COMMAND	0
#define VMEDIA_QUEUE_EVENT	1
#define VMEDIA_SHM_MMAP		0

#define VMEDIA_CMD_OPEN		1
#define VMEDIA_CMD_CLOSE	2
#define VMEDIA_CMD_IOCTL	3
#define VMEDIA_CMD_MMAP		4
#define VMEDIA_CMD_MUNMAP	5

#define VMEDIA_EVT_ERROR	0
#define VMEDIA_EVT_DQBUF	1
#define VMEDIA_EVT_EVENT	2

/* Without it the mapping is read-only. */
#define VMEDIA_MMAP_FLAG_RW	(1u << 0)

#define VMEDIA_MAX_PLANES	8
#define VMEDIA_UUID_SIZE	16
#define VMEDIA_CARD_SIZE	32

/*
 * The Linux driver pre-posts eventq buffers of exactly this size (the size of
 * the largest event), so no event may ever be larger.
 */
#define VMEDIA_EVENTQ_BUF_SIZE	608

/* Config space; the guest builds VIDIOC_QUERYCAP from it. */
struct vmedia_config_space {
	uint32_t device_caps;		/* V4L2_CAP_* of the video node */
	uint32_t device_type;		/* vfl_devnode_type, 0 = video */
	uint8_t card[VMEDIA_CARD_SIZE];	/* need not be NUL-terminated if full */
};

struct vmedia_cmd_header {
	uint32_t cmd;
	uint32_t reserved;
};

struct vmedia_resp_header {
	uint32_t status;		/* 0, or a positive Linux errno */
	uint32_t reserved;
};

struct vmedia_cmd_open {
	struct vmedia_cmd_header hdr;
};

struct vmedia_resp_open {
	struct vmedia_resp_header hdr;
	uint32_t session_id;
	uint32_t reserved;
};

/* CLOSE has no response: the Linux driver posts no writable descriptor. */
struct vmedia_cmd_close {
	struct vmedia_cmd_header hdr;
	uint32_t session_id;
	uint32_t reserved;
};

/* Followed by the ioctl payload in whichever parts its direction implies. */
struct vmedia_cmd_ioctl {
	struct vmedia_cmd_header hdr;
	uint32_t session_id;
	uint32_t code;			/* _IOC_NR(VIDIOC_*) */
};

struct vmedia_resp_ioctl {
	struct vmedia_resp_header hdr;
};

struct vmedia_cmd_mmap {
	struct vmedia_cmd_header hdr;
	uint32_t session_id;
	uint32_t flags;			/* VMEDIA_MMAP_FLAG_* */
	uint32_t offset;		/* plane m.mem_offset from QUERYBUF */
};

struct vmedia_resp_mmap {
	struct vmedia_resp_header hdr;
	uint64_t driver_addr;		/* offset inside SHM region 0 */
	uint64_t len;			/* must equal the buffer length */
};

/* No session id: a mapping outlives its buffer and its session. */
struct vmedia_cmd_munmap {
	struct vmedia_cmd_header hdr;
	uint64_t driver_addr;
};

struct vmedia_resp_munmap {
	struct vmedia_resp_header hdr;
};

/* Describes guest memory behind a USERPTR or ext-control pointer. */
struct vmedia_sg_entry {
	uint64_t start;			/* guest-physical address */
	uint32_t len;
	uint32_t reserved;
};

struct vmedia_event_header {
	uint32_t event;
	uint32_t session_id;
};

/* Unrecoverable: the driver CLOSEs the session; its id stays taken until then. */
struct vmedia_event_error {
	struct vmedia_event_header hdr;
	uint32_t error;			/* positive Linux errno */
	uint32_t reserved;
};

/*
 * An implicit VIDIOC_DQBUF.  The driver drops events shorter than 608 bytes,
 * so all eight plane slots are written even for single-planar buffers.
 * Zero the pointer fields (m.planes, m.userptr): they mean nothing to the
 * driver and must not leak host addresses.
 */
struct vmedia_event_dqbuf {
	struct vmedia_event_header hdr;
	struct v4l2_buffer buffer;
	struct v4l2_plane planes[VMEDIA_MAX_PLANES];
};

/* An implicit VIDIOC_DQEVENT. */
struct vmedia_event_event {
	struct vmedia_event_header hdr;
	struct v4l2_event event;
};

#define VMEDIA_WIRE_SIZE(t, n) \
	_Static_assert(sizeof(struct t) == (n), #t " must be " #n " bytes")
#define VMEDIA_WIRE_OFF(t, f, n) \
	_Static_assert(offsetof(struct t, f) == (n), #t "." #f " must be at " #n)

VMEDIA_WIRE_SIZE(vmedia_config_space, 40);
VMEDIA_WIRE_OFF(vmedia_config_space, device_caps, 0);
VMEDIA_WIRE_OFF(vmedia_config_space, device_type, 4);
VMEDIA_WIRE_OFF(vmedia_config_space, card, 8);

VMEDIA_WIRE_SIZE(vmedia_cmd_header, 8);
VMEDIA_WIRE_OFF(vmedia_cmd_header, cmd, 0);
VMEDIA_WIRE_OFF(vmedia_cmd_header, reserved, 4);
VMEDIA_WIRE_SIZE(vmedia_resp_header, 8);
VMEDIA_WIRE_OFF(vmedia_resp_header, status, 0);
VMEDIA_WIRE_OFF(vmedia_resp_header, reserved, 4);

VMEDIA_WIRE_SIZE(vmedia_cmd_open, 8);
VMEDIA_WIRE_SIZE(vmedia_resp_open, 16);
VMEDIA_WIRE_OFF(vmedia_resp_open, session_id, 8);
VMEDIA_WIRE_OFF(vmedia_resp_open, reserved, 12);

VMEDIA_WIRE_SIZE(vmedia_cmd_close, 16);
VMEDIA_WIRE_OFF(vmedia_cmd_close, session_id, 8);
VMEDIA_WIRE_OFF(vmedia_cmd_close, reserved, 12);

VMEDIA_WIRE_SIZE(vmedia_cmd_ioctl, 16);
VMEDIA_WIRE_OFF(vmedia_cmd_ioctl, session_id, 8);
VMEDIA_WIRE_OFF(vmedia_cmd_ioctl, code, 12);
VMEDIA_WIRE_SIZE(vmedia_resp_ioctl, 8);

VMEDIA_WIRE_SIZE(vmedia_cmd_mmap, 20);
VMEDIA_WIRE_OFF(vmedia_cmd_mmap, session_id, 8);
VMEDIA_WIRE_OFF(vmedia_cmd_mmap, flags, 12);
VMEDIA_WIRE_OFF(vmedia_cmd_mmap, offset, 16);
VMEDIA_WIRE_SIZE(vmedia_resp_mmap, 24);
VMEDIA_WIRE_OFF(vmedia_resp_mmap, driver_addr, 8);
VMEDIA_WIRE_OFF(vmedia_resp_mmap, len, 16);

VMEDIA_WIRE_SIZE(vmedia_cmd_munmap, 16);
VMEDIA_WIRE_OFF(vmedia_cmd_munmap, driver_addr, 8);
VMEDIA_WIRE_SIZE(vmedia_resp_munmap, 8);

VMEDIA_WIRE_SIZE(vmedia_sg_entry, 16);
VMEDIA_WIRE_OFF(vmedia_sg_entry, start, 0);
VMEDIA_WIRE_OFF(vmedia_sg_entry, len, 8);
VMEDIA_WIRE_OFF(vmedia_sg_entry, reserved, 12);

VMEDIA_WIRE_SIZE(vmedia_event_header, 8);
VMEDIA_WIRE_OFF(vmedia_event_header, event, 0);
VMEDIA_WIRE_OFF(vmedia_event_header, session_id, 4);
VMEDIA_WIRE_SIZE(vmedia_event_error, 16);
VMEDIA_WIRE_OFF(vmedia_event_error, error, 8);
VMEDIA_WIRE_OFF(vmedia_event_error, reserved, 12);
VMEDIA_WIRE_SIZE(vmedia_event_dqbuf, 608);
VMEDIA_WIRE_OFF(vmedia_event_dqbuf, buffer, 8);
VMEDIA_WIRE_OFF(vmedia_event_dqbuf, planes, 96);
VMEDIA_WIRE_SIZE(vmedia_event_event, 144);
VMEDIA_WIRE_OFF(vmedia_event_event, event, 8);

_Static_assert(VMEDIA_MAX_PLANES == VIDEO_MAX_PLANES,
	       "the DQBUF event carries exactly VIDEO_MAX_PLANES planes");
_Static_assert(VMEDIA_EVENTQ_BUF_SIZE == sizeof(struct vmedia_event_dqbuf) &&
	       sizeof(struct vmedia_event_event) <= VMEDIA_EVENTQ_BUF_SIZE &&
	       sizeof(struct vmedia_event_error) <= VMEDIA_EVENTQ_BUF_SIZE,
	       "every event must fit the driver's eventq buffers");

/* The 64-bit V4L2 layouts of PROTOCOL.md (x86_64, 6.1 uapi). */
VMEDIA_WIRE_SIZE(v4l2_buffer, 88);
VMEDIA_WIRE_OFF(v4l2_buffer, m, 64);
VMEDIA_WIRE_OFF(v4l2_buffer, length, 72);
VMEDIA_WIRE_SIZE(v4l2_plane, 64);
VMEDIA_WIRE_OFF(v4l2_plane, m, 8);
VMEDIA_WIRE_SIZE(v4l2_format, 208);
VMEDIA_WIRE_OFF(v4l2_format, fmt, 8);
VMEDIA_WIRE_SIZE(v4l2_pix_format, 48);
VMEDIA_WIRE_SIZE(v4l2_pix_format_mplane, 192);
VMEDIA_WIRE_SIZE(v4l2_ext_controls, 32);
VMEDIA_WIRE_OFF(v4l2_ext_controls, count, 4);
VMEDIA_WIRE_OFF(v4l2_ext_controls, controls, 24);
VMEDIA_WIRE_SIZE(v4l2_ext_control, 20);
VMEDIA_WIRE_OFF(v4l2_ext_control, size, 4);
VMEDIA_WIRE_OFF(v4l2_ext_control, ptr, 12);
VMEDIA_WIRE_SIZE(v4l2_event, 136);
VMEDIA_WIRE_SIZE(v4l2_event_subscription, 32);
VMEDIA_WIRE_SIZE(v4l2_requestbuffers, 20);
VMEDIA_WIRE_SIZE(v4l2_create_buffers, 256);
VMEDIA_WIRE_SIZE(v4l2_decoder_cmd, 72);
VMEDIA_WIRE_SIZE(v4l2_exportbuffer, 64);
VMEDIA_WIRE_SIZE(v4l2_fmtdesc, 64);
VMEDIA_WIRE_SIZE(v4l2_streamparm, 204);
VMEDIA_WIRE_SIZE(v4l2_selection, 64);
VMEDIA_WIRE_SIZE(v4l2_frmsizeenum, 44);
VMEDIA_WIRE_SIZE(v4l2_frmivalenum, 52);
VMEDIA_WIRE_SIZE(v4l2_control, 8);
VMEDIA_WIRE_SIZE(v4l2_queryctrl, 68);
VMEDIA_WIRE_SIZE(v4l2_query_ext_ctrl, 232);
VMEDIA_WIRE_SIZE(v4l2_querymenu, 44);
VMEDIA_WIRE_SIZE(v4l2_input, 80);
VMEDIA_WIRE_SIZE(v4l2_output, 72);
VMEDIA_WIRE_SIZE(v4l2_capability, 104);

#undef VMEDIA_WIRE_SIZE
#undef VMEDIA_WIRE_OFF

#endif /* VMEDIA_WIRE_H */
