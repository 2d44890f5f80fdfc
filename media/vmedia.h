/* SPDX-License-Identifier: MIT */
/*
 * media — virtio-media (V4L2 over virtio, device ID 48), device side.
 *
 * Policy of this layer: turn commandq chains into validated, typed calls on
 * a device's ops table, and the device's asynchronous completions into
 * eventq events.  It knows the wire format and V4L2's 64-bit payload
 * layouts; it does not know which device or which transport it runs with.
 *
 * What the guest sends is untrusted: a short or unknown command, an unknown
 * session, a count larger than the chain holds, an unknown enum value gets a
 * positive errno in the response, never a crash and never an allocation the
 * guest can size without bound.  Host pointers never reach the guest; guest
 * pointer placeholders go back unchanged.
 *
 * Hooks return 0 or -errno (the runner sends the positive errno).  A NULL
 * hook means ENOTTY.  Hooks must not block: the guest driver gives every
 * command 5 s and serialises them, so waiting belongs to events.
 *
 * V4L2 structs are handed to hooks as they are on the wire, so this layer
 * requires a little-endian host (as the reference device does); the core
 * below it is endian-clean.
 */
#ifndef VMEDIA_H
#define VMEDIA_H

#include "vmedia_wire.h"
#include "vq_chain.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtio-media payloads are V4L2 structs in little-endian layout; big-endian hosts are not supported"
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct vmedia_device;

/* One open session (one open() of the guest's video node). */
struct vmedia_session {
	uint32_t id;
	bool in_use;
	uint32_t error;             /* ERROR event sent or pending: the id stays taken */
	bool error_owed;            /* ERROR(error) found the backlog full: sent when room appears */
	void *priv;                 /* the device's per-session state, from ops->open */
	struct vmedia_device *dev;
};

/* ------------------------------------------------------------------------ */
/* Guest user memory (USERPTR planes, ext-control pointers).
 *
 * The guest describes it as a list of guest-physical segments.  When those
 * are contiguous in host memory the device gets a direct view; otherwise a
 * bounce buffer, filled from the guest at creation and written back by
 * vmedia_usermem_put(..., true).  Either way @ptr/@len is all the device sees.
 */
struct vmedia_usermem {
	void *ptr;
	size_t len;
	/* private */
	struct vmedia_device *dev;
	struct vmedia_sg_entry *sg; /* kept for write-back of a bounce buffer */
	uint32_t nsg;
	bool bounced;
};

/* Write a bounce buffer back to guest memory (no-op for a direct view).
 * Returns 0 or -EFAULT if the guest memory went away. */
int vmedia_usermem_sync(struct vmedia_usermem *m);

/* Release @m, writing it back first if @written.  NULL is allowed. */
void vmedia_usermem_put(struct vmedia_usermem *m, bool written);

/* ------------------------------------------------------------------------ */
/* Ioctl hook argument types that carry more than their V4L2 struct. */

/* v4l2_buffer with its planes and memory, for QUERYBUF / QBUF / PREPARE_BUF. */
struct vmedia_buffer {
	/* m.planes / m.userptr hold 0 for the device; the runner restores the
	 * guest's values when it writes the buffer back. */
	struct v4l2_buffer b;
	struct v4l2_plane planes[VMEDIA_MAX_PLANES]; /* b.length of them, mplane only */
	/* USERPTR: one per plane with length > 0 (index 0 for single-planar).
	 * On QBUF / PREPARE_BUF success the device owns them and must
	 * vmedia_usermem_put() each; on failure the runner releases them. */
	struct vmedia_usermem *mem[VMEDIA_MAX_PLANES];
	/* DMABUF (virtio objects): the UUID per plane, as the guest sent it. */
	uint8_t uuid[VMEDIA_MAX_PLANES][VMEDIA_UUID_SIZE];
};

/* v4l2_ext_controls with its controls, for G / S / TRY_EXT_CTRLS. */
struct vmedia_ext_ctrls {
	struct v4l2_ext_controls c;        /* c.controls is 0 for the device */
	struct v4l2_ext_control *controls; /* c.count of them */
	/* Per control with size > 0: its pointer memory, else NULL.  Owned by
	 * the runner; written back after the hook if the hook set dirty. */
	struct vmedia_usermem **mem;
	bool dirty;
};

/* ------------------------------------------------------------------------ */
/* The device ops table.
 *
 * Every ioctl whose payload is one V4L2 struct and nothing else has a hook of
 * the same shape, generated from this list: (VIDIOC suffix, hook name, type).
 * The runner has checked the payload size against _IOC_SIZE (a static assert
 * ties each type to its ioctl) and hands the hook the struct read from the
 * guest; what the hook leaves in it is written back on success.
 */
#define VMEDIA_PLAIN_IOCTLS(X)                                              \
	X(ENUM_FMT, enum_fmt, struct v4l2_fmtdesc)                          \
	X(G_FMT, g_fmt, struct v4l2_format)                                 \
	X(S_FMT, s_fmt, struct v4l2_format)                                 \
	X(TRY_FMT, try_fmt, struct v4l2_format)                             \
	X(REQBUFS, reqbufs, struct v4l2_requestbuffers)                     \
	X(CREATE_BUFS, create_bufs, struct v4l2_create_buffers)             \
	X(G_FBUF, g_fbuf, struct v4l2_framebuffer)                          \
	X(S_FBUF, s_fbuf, struct v4l2_framebuffer)                          \
	X(OVERLAY, overlay, int)                                            \
	X(STREAMON, streamon, int)                                          \
	X(STREAMOFF, streamoff, int)                                        \
	X(G_PARM, g_parm, struct v4l2_streamparm)                           \
	X(S_PARM, s_parm, struct v4l2_streamparm)                           \
	X(G_STD, g_std, v4l2_std_id)                                        \
	X(S_STD, s_std, v4l2_std_id)                                        \
	X(ENUMSTD, enumstd, struct v4l2_standard)                           \
	X(QUERYSTD, querystd, v4l2_std_id)                                  \
	X(ENUMINPUT, enuminput, struct v4l2_input)                          \
	X(G_INPUT, g_input, int)                                            \
	X(S_INPUT, s_input, int)                                            \
	X(ENUMOUTPUT, enumoutput, struct v4l2_output)                       \
	X(G_OUTPUT, g_output, int)                                          \
	X(S_OUTPUT, s_output, int)                                          \
	X(G_CTRL, g_ctrl, struct v4l2_control)                              \
	X(S_CTRL, s_ctrl, struct v4l2_control)                              \
	X(QUERYCTRL, queryctrl, struct v4l2_queryctrl)                      \
	X(QUERY_EXT_CTRL, query_ext_ctrl, struct v4l2_query_ext_ctrl)       \
	X(QUERYMENU, querymenu, struct v4l2_querymenu)                      \
	X(G_TUNER, g_tuner, struct v4l2_tuner)                              \
	X(S_TUNER, s_tuner, struct v4l2_tuner)                              \
	X(G_AUDIO, g_audio, struct v4l2_audio)                              \
	X(S_AUDIO, s_audio, struct v4l2_audio)                              \
	X(ENUMAUDIO, enumaudio, struct v4l2_audio)                          \
	X(G_AUDOUT, g_audout, struct v4l2_audioout)                         \
	X(S_AUDOUT, s_audout, struct v4l2_audioout)                         \
	X(ENUMAUDOUT, enumaudout, struct v4l2_audioout)                     \
	X(G_MODULATOR, g_modulator, struct v4l2_modulator)                  \
	X(S_MODULATOR, s_modulator, struct v4l2_modulator)                  \
	X(G_FREQUENCY, g_frequency, struct v4l2_frequency)                  \
	X(S_FREQUENCY, s_frequency, struct v4l2_frequency)                  \
	X(ENUM_FREQ_BANDS, enum_freq_bands, struct v4l2_frequency_band)     \
	X(S_HW_FREQ_SEEK, s_hw_freq_seek, struct v4l2_hw_freq_seek)         \
	X(CROPCAP, cropcap, struct v4l2_cropcap)                            \
	X(G_CROP, g_crop, struct v4l2_crop)                                 \
	X(S_CROP, s_crop, struct v4l2_crop)                                 \
	X(G_SELECTION, g_selection, struct v4l2_selection)                  \
	X(S_SELECTION, s_selection, struct v4l2_selection)                  \
	X(G_PRIORITY, g_priority, uint32_t)                                 \
	X(S_PRIORITY, s_priority, uint32_t)                                 \
	X(G_SLICED_VBI_CAP, g_sliced_vbi_cap, struct v4l2_sliced_vbi_cap)   \
	X(ENUM_FRAMESIZES, enum_framesizes, struct v4l2_frmsizeenum)        \
	X(ENUM_FRAMEINTERVALS, enum_frameintervals, struct v4l2_frmivalenum) \
	X(G_ENC_INDEX, g_enc_index, struct v4l2_enc_idx)                    \
	X(ENCODER_CMD, encoder_cmd, struct v4l2_encoder_cmd)                \
	X(TRY_ENCODER_CMD, try_encoder_cmd, struct v4l2_encoder_cmd)        \
	X(DECODER_CMD, decoder_cmd, struct v4l2_decoder_cmd)                \
	X(TRY_DECODER_CMD, try_decoder_cmd, struct v4l2_decoder_cmd)        \
	X(S_DV_TIMINGS, s_dv_timings, struct v4l2_dv_timings)               \
	X(G_DV_TIMINGS, g_dv_timings, struct v4l2_dv_timings)               \
	X(ENUM_DV_TIMINGS, enum_dv_timings, struct v4l2_enum_dv_timings)    \
	X(QUERY_DV_TIMINGS, query_dv_timings, struct v4l2_dv_timings)       \
	X(DV_TIMINGS_CAP, dv_timings_cap, struct v4l2_dv_timings_cap)       \
	X(SUBSCRIBE_EVENT, subscribe_event, struct v4l2_event_subscription) \
	X(UNSUBSCRIBE_EVENT, unsubscribe_event, struct v4l2_event_subscription) \
	X(DBG_S_REGISTER, dbg_s_register, struct v4l2_dbg_register)         \
	X(DBG_G_REGISTER, dbg_g_register, struct v4l2_dbg_register)         \
	X(DBG_G_CHIP_INFO, dbg_g_chip_info, struct v4l2_dbg_chip_info)

struct vmedia_device_ops {
	/* A session opens: set *priv to the device's state for it.
	 * Returns 0 or -errno (sent to the guest). */
	int (*open)(struct vmedia_session *s);
	/* The session closes (CLOSE, or device teardown).  Release
	 * everything: queued buffers' usermem included. */
	void (*close)(struct vmedia_session *s);

#define VMEDIA_HOOK_FIELD(NAME, hook, type) int (*hook)(struct vmedia_session *s, type *arg);
	VMEDIA_PLAIN_IOCTLS(VMEDIA_HOOK_FIELD)
#undef VMEDIA_HOOK_FIELD

	int (*querybuf)(struct vmedia_session *s, struct vmedia_buffer *b);
	int (*qbuf)(struct vmedia_session *s, struct vmedia_buffer *b);
	int (*prepare_buf)(struct vmedia_session *s, struct vmedia_buffer *b);
	int (*g_ext_ctrls)(struct vmedia_session *s, struct vmedia_ext_ctrls *c);
	int (*s_ext_ctrls)(struct vmedia_session *s, struct vmedia_ext_ctrls *c);
	int (*try_ext_ctrls)(struct vmedia_session *s, struct vmedia_ext_ctrls *c);
	int (*expbuf)(struct vmedia_session *s, struct v4l2_exportbuffer *e,
		      uint8_t uuid[VMEDIA_UUID_SIZE]);
};

/* ------------------------------------------------------------------------ */
/* MMAP buffer memory and shared-memory region 0.
 *
 * One backing object (a memfd by default) holds every MMAP buffer; a
 * buffer's offset in it is its V4L2 m.mem_offset, and the transport shows
 * the backing in shared-memory region 0 at the same offsets (a VMM maps it
 * into its BAR, vhost-user sends SHMEM_MAP of the fd range, a test maps
 * nothing).  So MMAP's driver_addr is the buffer's offset, and a mapping
 * outlives its buffer simply by keeping the range allocated until MUNMAP.
 */
struct vmedia_shm_ops {
	/* Make [offset, offset+len) visible to the driver, writable if @rw
	 * (called again with rw=true to upgrade); @len is page-rounded.
	 * Returns 0 or -errno. */
	int (*map)(void *opaque, uint64_t offset, uint64_t len, bool rw);
	/* The driver no longer maps the range. */
	void (*unmap)(void *opaque, uint64_t offset, uint64_t len);
};

struct vmedia_shm {
	int fd;                /* the backing, for transports that share it */
	uint8_t *host;         /* the backing mapped in this process */
	uint64_t size;         /* page multiple, at most 4 GiB (mem_offset is 32-bit) */
	const struct vmedia_shm_ops *ops; /* NULL: nothing to do (tests, plugin) */
	void *opaque;
};

/* A memfd of @size bytes (sparse) as backing, ops NULL.  Returns 0 or -errno. */
int vmedia_shm_init_memfd(struct vmedia_shm *shm, uint64_t size);
/* Adopt an existing file (e.g. the one an application opened) as backing,
 * growing it to @size.  On success @shm owns @fd (destroy closes it); on
 * failure the caller keeps it.  Returns 0 or -errno. */
int vmedia_shm_init_fd(struct vmedia_shm *shm, int fd, uint64_t size);
void vmedia_shm_destroy(struct vmedia_shm *shm);

/*
 * Allocate @len bytes of MMAP buffer memory (page-rounded, zeroed).
 * Returns 0 with *offset (the mem_offset to report) and *host, -ENOSPC when
 * the region is full or the device's buffer limit is reached, -ENODEV
 * without a shm backing.
 */
int vmedia_mmap_alloc(struct vmedia_device *dev, uint32_t len, uint32_t *offset, void **host);

/* The device is done with the buffer at @offset; its range is reused once
 * the driver has unmapped it.  Returns 0 or -ENOENT. */
int vmedia_mmap_free(struct vmedia_device *dev, uint32_t offset);

/* ------------------------------------------------------------------------ */
/* Events to the driver.  Each goes out at once if the driver has posted an
 * eventq buffer, else into a bounded backlog, in order.  When the backlog is
 * full the event is dropped, -ENOBUFS is returned, stats.events_dropped
 * counts it, and the session gets an ERROR event (EOVERFLOW) as soon as room
 * appears, since its buffer accounting can no longer be trusted.  ERROR
 * events are never dropped: one that finds the backlog full waits for room,
 * ahead of newer events.  Only a session's first error is sent. */

/* DQBUF: @b as the guest should see it (pointer fields are zeroed on the wire). */
int vmedia_send_dqbuf(struct vmedia_session *s, const struct vmedia_buffer *b);
/* A V4L2 event the session subscribed to. */
int vmedia_send_event(struct vmedia_session *s, const struct v4l2_event *ev);
/* An unrecoverable session error: the driver will CLOSE the session. */
int vmedia_send_error(struct vmedia_session *s, uint32_t err);

/* ------------------------------------------------------------------------ */
/* The runner: one per device, owned by the transport's thread. */

struct vmedia_device_config {
	const struct vmedia_device_ops *ops;
	void *priv;                   /* the device's own state (dev->priv) */
	struct vq_queue *commandq;    /* queue 0 */
	struct vq_queue *eventq;      /* queue 1 */
	const struct vq_mem *mem;     /* driver memory, for SG lists */
	struct vmedia_shm *shm;       /* NULL: MMAP answers ENODEV */
	uint32_t max_sessions;        /* 0 means 64 */
	uint32_t max_buffers;         /* MMAP buffers at once; 0 means 1024 */
	uint32_t event_backlog;       /* events held without eventq buffers; 0 means 256 */
	uint64_t usermem_limit;       /* bounce bytes at once; 0 means 256 MiB */
	uint32_t flush_every;         /* publish used entries every N commands; 0: once per drain */
	struct vmedia_config_space config; /* what the transport exposes */
};

struct vmedia_stats {
	uint64_t commands;
	uint64_t bad_commands;   /* answered EINVAL for malformed input */
	uint64_t events_sent;
	uint64_t events_dropped; /* backlog overflow */
	uint64_t usermem_bounced;
};

/* ------------------------------------------------------------------------ */
/* What the environment running a device offers it for waiting: an event
 * loop's timers, fd watches and cross-thread posts.  Set by the runtime
 * (runtime/); NULL when the device is driven inline.  Callbacks run on the
 * device's thread. */
struct vmedia_env_ops {
	/* cb(arg, expirations) at @first_ns (CLOCK_MONOTONIC), then every
	 * @period_ns (0: once).  Returns a handle >= 0, or -errno. */
	int (*timer_start)(void *env, uint64_t first_ns, uint64_t period_ns,
			   void (*cb)(void *arg, uint64_t expirations), void *arg);
	void (*timer_cancel)(void *env, int handle);
	/* cb(arg, revents) when @fd is ready for @events (POLLIN...). */
	int (*watch_fd)(void *env, int fd, uint32_t events,
			void (*cb)(void *arg, uint32_t revents), void *arg);
	void (*unwatch_fd)(void *env, int handle);
	/* From any thread: run fn(arg) on the device's thread. */
	int (*post)(void *env, void (*fn)(void *arg), void *arg);
};

struct vmedia_mmap_range;   /* shm.c */
struct vmedia_event_slot;   /* eventq.c */

struct vmedia_device {
	const struct vmedia_device_ops *ops;
	void *priv;
	struct vq_queue *commandq, *eventq;
	const struct vq_mem *mem;
	struct vmedia_shm *shm;
	struct vmedia_config_space config;
	struct vmedia_stats stats;
	/* sessions: slot = id & (nslots - 1), so lookup is one probe */
	struct vmedia_session *sessions;
	uint32_t nslots, nsessions, max_sessions, next_id;
	/* MMAP ranges */
	struct vmedia_mmap_range *ranges;
	uint32_t nranges, max_buffers;
	/* event backlog (a ring of fixed-size slots) */
	struct vmedia_event_slot *backlog;
	uint32_t backlog_cap, backlog_head, backlog_len;
	uint64_t usermem_limit, usermem_used;
	uint32_t flush_every;         /* see vmedia_device_config */
	/* per-command scratch, sized once at init */
	struct iovec *cmd_iov;
	uint32_t cmd_iov_cap;
	struct v4l2_ext_control *ctrl_scratch;
	struct vmedia_usermem **ctrl_mem_scratch;
	uint64_t *ctrl_ptr_scratch;
	/* the environment's waiting services, NULL when driven inline */
	const struct vmedia_env_ops *env_ops;
	void *env;
};

/*
 * Set up the runner.  Allocates its tables once; nothing is allocated per
 * command except USERPTR bounce buffers.  Returns 0, -EINVAL, -ENOMEM.
 */
int vmedia_device_init(struct vmedia_device *dev, const struct vmedia_device_config *cfg);

/* Close every session (ops->close) and free the runner's tables. */
void vmedia_device_destroy(struct vmedia_device *dev);

/*
 * The commandq was kicked: handle every available command, push the
 * responses and flush once (and every flush_every commands, if set, so a
 * driver with many commands in flight can refill while the rest are handled).  Returns the number of commands handled, or
 * -EIO if the queue is broken (the transport should reset the device).
 */
int vmedia_device_process_commands(struct vmedia_device *dev);

/* The eventq was kicked (buffers posted): send backlogged events.
 * Returns the number sent, or -EIO if the queue is broken. */
int vmedia_device_process_eventq(struct vmedia_device *dev);

/* Handle one popped commandq chain; returns the bytes written to it (the
 * used length).  For transports that pop themselves, and for fuzzing. */
uint32_t vmedia_device_handle_chain(struct vmedia_device *dev, const struct vq_chain *c);

/* Give the device its environment's waiting services (@ops NULL: none,
 * the device is driven inline).  Called by whoever runs the device, e.g.
 * the runtime, before the device thread starts or on it. */
void vmedia_device_set_env(struct vmedia_device *dev, const struct vmedia_env_ops *ops, void *env);

/* The session with @id, or NULL. */
struct vmedia_session *vmedia_session_find(struct vmedia_device *dev, uint32_t id);

#ifdef __cplusplus
}
#endif
#endif /* VMEDIA_H */
