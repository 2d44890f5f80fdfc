/* SPDX-License-Identifier: MIT */
/*
 * vmedia_guest — a model of the Linux virtio-media guest driver, built on two
 * fake drivers (commandq and eventq), so device tests read like V4L2
 * programs:
 *
 *	vmedia_guest_open(&g, &id);
 *	vmedia_guest_ioctl(&g, id, VIDIOC_G_FMT, &fmt);
 *	vmedia_guest_dqbuf(&g, id, &buf);
 *
 * Policy of this file: build the chains the Linux driver
 * (chromeos/virtio-media driver/, scatterlist_builder) builds, byte for byte
 * and descriptor for descriptor, keep the driver's per-session state (buffer
 * m unions, pending DQBUFs, the LAST-buffer EPIPE latch, event
 * subscriptions) and answer the ioctls the driver answers itself (QUERYCAP,
 * DQBUF, DQEVENT).  It is the guest: it knows the wire format
 * (vmedia_wire.h) and nothing of the device side (media/vmedia.h).
 *
 * Chains, as the driver builds them ("=" marks one descriptor that appears
 * in both parts: the same guest memory, which the device overwrites):
 *	OPEN	R [cmd 8]                  W [resp 16]
 *	CLOSE	R [cmd 16]                 (no writable descriptor at all)
 *	_IOR	R [cmd 16]                 W [resp 8][payload]
 *	_IOW	R [cmd 16][payload]        W [resp 8]
 *	_IOWR	R [cmd 16][=payload]       W [resp 8][=payload]
 *	buffer	R [cmd][=v4l2_buffer 88][=planes n*64][=uuids][sg]...  W [resp][=buf][=planes][=uuids]
 *	ext	R [cmd][=ext_controls 32][=controls n*20][sg]...         W [resp][=ext][=controls]
 *	MMAP	R [cmd 20]                 W [resp 24]
 *	MUNMAP	R [cmd 16]                 W [resp 8]
 * Zero-length pieces (no planes, count 0) are left out, as the driver does.
 * With VQ_F_INDIRECT_DESC on the commandq every chain of more than one
 * descriptor goes through an indirect table, as Linux's virtio_ring does.
 * G_INPUT and G_OUTPUT are _IOR but the driver sends them as _IOWR; so does
 * the model.  Every other ioctl follows its _IOC_DIR, including ones the
 * Linux V4L2 core would answer or reject itself (overlay, EDID, JPEGCOMP,
 * PRIORITY, LOG_STATUS, DBG_*), so a device's answer to them can be tested;
 * the core's other pre-processing (INFO_FL_CLEAR zeroing, format-type
 * checks) is not modelled.
 *
 * User memory (USERPTR planes, ext-control pointers) is copied into guest
 * memory and described by an SG list (vmedia_sg_entry array, one descriptor,
 * readable part only).  A USERPTR buffer keeps its guest copy (one mapping
 * per user pointer and length, reused) and is copied back into the user's
 * memory when its DQBUF event arrives, as if the device had written the
 * user's pages; ext-control memory is copied back when the command
 * completes.  The user memory must stay valid until then, as in V4L2.
 * USERPTR memory this process cannot read is EFAULT (get_user_pages), and
 * is looked at before anything is sent; the copy-back goes through
 * process_vm_writev, so user memory gone by then is skipped, not a crash.
 * QUERYBUF of a USERPTR buffer reports the pointer and length of its last
 * QBUF / PREPARE_BUF, as vb2 does, and so does a QBUF without a pointer of
 * a prepared buffer (which keeps the prepared memory).
 *
 * The V4L2 core's whole-number match is modelled: a 'V' request that is not
 * exactly the VIDIOC_* number of its _IOC_NR (another size or direction) is
 * ENOTTY.  The eventq is drained before STREAMON, STREAMOFF and REQBUFS, as
 * the driver's interrupt handler would have been before the application
 * could send them, so a DQBUF event sent before the command is dropped by
 * the queue clear and never reappears in the next stream.
 *
 * Responses: status s != 0 gives -s (s above 4095, which no errno is, gives
 * -EPROTO); a response shorter than the header, or on success shorter than
 * what the driver requires, gives -EINVAL.  A command whose used entry is
 * not there after process_commands() (and the optional wait) gives
 * -ETIMEDOUT, like the driver's 5 s timeout; its late used entry is skipped
 * when it comes.
 *
 * All guest memory for commands is allocated once at init; a command only
 * allocates guest memory for a USERPTR pointer it has not seen before.  One
 * thread drives a model; the device may run inline (process_commands) or on
 * another thread (timeout_ms).
 */
#ifndef VMEDIA_GUEST_H
#define VMEDIA_GUEST_H

#include "vmedia_wire.h"
#include "vq_fake.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMEDIA_GUEST_CMDQ_SIZE		64
#define VMEDIA_GUEST_EVENTQ_SIZE	16
#define VMEDIA_GUEST_EVENT_BUFS		16	/* VIRTIO_MEDIA_NUM_EVENT_BUFS */
#define VMEDIA_GUEST_MAX_SGS		64	/* the driver's sgs[64] per buffer / ext-ctrl ioctl */
#define VMEDIA_GUEST_SHADOW_SIZE	0x4000	/* per-command room for SG entries (driver shadow buffer) */
#define VMEDIA_GUEST_NUM_QUEUES		(V4L2_BUF_TYPE_META_OUTPUT + 1) /* VIRTIO_MEDIA_LAST_QUEUE + 1 */
#define VMEDIA_GUEST_MAX_CTRLS		1024	/* V4L2_CID_MAX_CTRLS: the core's limit on count */
#define VMEDIA_GUEST_MAX_SUBS		64	/* event subscriptions per session */
#define VMEDIA_GUEST_RAW_MAX_SEGS	72	/* segments of one raw chain */

/*
 * What the model puts on the wire in place of the m.planes and controls
 * pointers (the real driver sends a kernel address there).  The device must
 * hand it back unchanged; stats.ptr_clobbered counts devices that do not.
 */
#define VMEDIA_GUEST_PTR_PLACEHOLDER	0xffff8880c0ffee00ull

/* shape.sg_segments value: one SG entry per user page, as for scattered user pages. */
#define VMEDIA_GUEST_SG_PAGES		UINT32_MAX

/* config.flags */
/* Send what the driver would refuse locally: buffer types above the last
 * queue, indices beyond the allocated buffers, USERPTR without
 * allow_userptr, SUBSCRIBE_EVENT(V4L2_EVENT_ALL), MUNMAP of an unknown
 * address.  Plane counts above 8 are still refused (use raw commands). */
#define VMEDIA_GUEST_F_NO_CHECKS	(1u << 0)

/* How the device gets to run.  Either hook may be NULL. */
struct vmedia_guest_transport {
	/* A command was published on the commandq (called for every one,
	 * whether or not the device asked for kicks). */
	void (*process_commands)(void *opaque);
	/* Eventq buffers were (re-)posted. */
	void (*process_eventq)(void *opaque);
	void *opaque;
};

struct vmedia_guest_config {
	uint32_t cmdq_size;          /* 0: 64 */
	uint32_t eventq_size;        /* 0: 16; must hold event_bufs */
	uint64_t cmdq_features;      /* VQ_F_INDIRECT_DESC / VQ_F_EVENT_IDX bits */
	uint64_t eventq_features;
	uint64_t gpa_base;           /* commandq memory; 0: VQ_FAKE_DEFAULT_GPA */
	size_t mem_size;             /* commandq guest memory per region; 0: 8 MiB */
	unsigned nregions;           /* commandq memory regions; 0: 1 */
	uint32_t event_bufs;         /* eventq buffers posted; 0: 16 */
	uint32_t max_sessions;       /* open sessions at once; 0: 32 */
	size_t ctrl_data_size;       /* per-command room for ext-control data; 0: 256 KiB */
	unsigned timeout_ms;         /* 0: the used entry must be there after the hook */
	unsigned flags;              /* VMEDIA_GUEST_F_* */
	bool allow_userptr;          /* the driver's allow_userptr module parameter */
	const char *driver_name;     /* QUERYCAP driver; NULL: "virtio-media" */
	struct vmedia_config_space config; /* little-endian, as the device exposes it */
	void *shm;                   /* host view of SHM region 0, for MMAP buffers; may be NULL */
	uint64_t shm_size;
	struct vmedia_guest_transport transport;
};

/* Chain-shape knobs, read at every command; change them between commands. */
struct vmedia_guest_shape {
	uint32_t split_readable; /* >0: cut each readable descriptor into pieces of at most this */
	uint32_t split_writable; /* >0: same for writable descriptors (shared ones are cut alike) */
	/* >1: describe each USERPTR / ext-control buffer as this many
	 * non-contiguous pieces (forces a device's bounce path);
	 * VMEDIA_GUEST_SG_PAGES: one piece per user page; 0/1: one piece. */
	uint32_t sg_segments;
	bool direct;             /* never use indirect tables, even if negotiated */
};

struct vmedia_guest_stats {
	uint64_t commands;         /* chains published on the commandq */
	uint64_t timeouts;         /* -ETIMEDOUT returned */
	uint64_t stale_used;       /* used entries of commands that had timed out */
	uint64_t bad_status;       /* status above 4095 (-EPROTO) */
	uint64_t events;           /* eventq used entries consumed */
	uint64_t bad_events;       /* dropped as the driver drops them: short, unknown
	                            * session / type / queue / index, bogus id */
	uint64_t unsubscribed_events; /* EVENT for an unsubscribed (type, id): dropped */
	uint64_t error_events;     /* ERROR events acted on */
	uint64_t unexpected_dqbuf; /* DQBUF event for a buffer the model had not queued */
	uint64_t dup_dqbuf;        /* DQBUF event for a buffer already pending */
	uint64_t ptr_clobbered;    /* the device changed a pointer placeholder / user pointer */
	uint64_t dup_session_id;   /* OPEN returned an id already open */
};

/* The last ERROR event acted on. */
struct vmedia_guest_error {
	uint32_t session_id;
	uint32_t error; /* positive errno from the event */
};

struct vmedia_guest_area {
	uint64_t gpa;
	uint8_t *host;
	uint32_t size;
};

struct vmedia_guest_session;
struct vmedia_guest_umap;
struct vmedia_guest_mapping;

struct vmedia_guest {
	/* The two drivers: build the device's vq_queues from these with
	 * vq_fake_queue_config().  Their memories sit at distinct guest
	 * addresses. */
	struct vq_fake cmdq;
	struct vq_fake eventq;
	/* Both memories in one table: what the device's runner should use to
	 * read SG lists (USERPTR / ext-control data is in commandq memory). */
	struct vq_mem mem;
	struct vmedia_guest_shape shape;
	struct vmedia_guest_stats stats;
	struct vmedia_guest_error last_error;
	uint32_t last_used_len;  /* used length of the last completed command */
	/*
	 * DMABUF / virtio-object UUIDs.  A buffer ioctl with memory DMABUF
	 * sends one per plane (one for single-planar) after the planes, in
	 * both parts, and reads them back; EXPBUF returns its UUID in [0].
	 * The Linux driver implements neither; the layout is PROTOCOL.md's.
	 */
	uint8_t uuids[VMEDIA_MAX_PLANES][VMEDIA_UUID_SIZE];

	/* private */
	struct vmedia_guest_transport transport;
	struct vmedia_config_space config;
	const char *driver_name;
	unsigned flags;
	unsigned timeout_ms;
	bool allow_userptr;
	uint8_t *shm;
	uint64_t shm_size;
	struct vmedia_guest_area a_cmd, a_resp, a_payload, a_planes, a_ctrls, a_uuid, a_sg,
		a_data, a_raw;
	struct vq_fake_buf *bufs; /* expanded chain, bufs_cap entries */
	uint32_t bufs_cap;
	void *pieces;             /* scratch: one shadow's worth of user-memory pieces */
	struct vmedia_guest_session *sessions;
	uint32_t max_sessions;
	struct vmedia_guest_umap *umaps;
	uint32_t numaps, umaps_cap;
	struct vmedia_guest_mapping *maps;
	uint32_t nmaps, maps_cap;
	uint64_t *evbuf_gpa;
	int32_t *ev_head_buf;     /* eventq head -> event buffer, -1 if none */
	uint32_t event_bufs;
};

/*
 * Create both fakes, allocate all per-command guest memory, and post the
 * eventq buffers (published; process_eventq is not called: the device is
 * not attached yet).  Returns 0, -EINVAL for a bad config, -ENOMEM.
 */
int vmedia_guest_init(struct vmedia_guest *g, const struct vmedia_guest_config *cfg);

/* Free everything (no commands are sent). */
void vmedia_guest_destroy(struct vmedia_guest *g);

/* Set the transport after init (a test builds its device from the fakes
 * first, then points the model at it). */
void vmedia_guest_set_transport(struct vmedia_guest *g, const struct vmedia_guest_transport *t);

/*
 * open() of the video node: OPEN.  Returns 0 with *session_id, -EMFILE when
 * max_sessions are open (nothing sent), -status, -EINVAL for a short
 * response, -EPROTO if the device hands out an id that is already open,
 * -ETIMEDOUT, -ENOSPC (no descriptors).
 */
int vmedia_guest_open(struct vmedia_guest *g, uint32_t *session_id);

/*
 * close(): CLOSE with one readable descriptor and none writable; the status
 * is not looked at (there is none).  A session the model already closed
 * because of an ERROR event is released without a command.
 * Returns 0, -EBADF for an unknown id, -ETIMEDOUT (the session stays open).
 */
int vmedia_guest_close(struct vmedia_guest *g, uint32_t session_id);

/*
 * ioctl(fd, request, arg) with the full VIDIOC_* number.  QUERYCAP is
 * answered from the config space; DQBUF and DQEVENT go to
 * vmedia_guest_dqbuf() / vmedia_guest_dqevent(); everything else becomes an
 * IOCTL command.  @request is taken as the syscall's unsigned int.
 * Returns 0 or -errno: -EBADF unknown session, -EIO the session was closed
 * after an ERROR event, -ENOTTY not a known VIDIOC_* number, -EFAULT NULL
 * arg or unreadable USERPTR memory, -EINVAL what the driver or core refuses (see
 * VMEDIA_GUEST_F_NO_CHECKS), -ENOMEM no room for SG lists or user memory,
 * -ENOSPC too many descriptors or the device returned more planes /
 * controls than the caller has, or the device's answer as above.
 */
int vmedia_guest_ioctl(struct vmedia_guest *g, uint32_t session_id, unsigned long request,
		       void *arg);

/*
 * The V4L2 core's first check (video_ioctl2): is @request (as an unsigned
 * int) exactly the VIDIOC_* number of its _IOC_NR?  vmedia_guest_ioctl()
 * answers -ENOTTY, before anything else it looks at, when it is not; this
 * is for a caller that answers some ioctls itself and must keep that order
 * (ENOTTY for an unknown number even with a NULL arg).
 */
bool vmedia_guest_known_ioctl(unsigned long request);

/*
 * Non-blocking VIDIOC_DQBUF, emulated from DQBUF events (polls the eventq
 * first).  Fills @b (planes into b->m.planes for multiplanar types, at most
 * b->length of them; m comes from QBUF time).  Returns 0, -EAGAIN if
 * nothing is pending for b->type, -EPIPE once a CAPTURE buffer with
 * V4L2_BUF_FLAG_LAST was dequeued (until STREAMOFF, REQBUFS(0) or
 * DECODER_CMD START), -EINVAL for a bad type or plane count, -EFAULT for a
 * NULL planes array, -EBADF / -EIO as for ioctl.
 */
int vmedia_guest_dqbuf(struct vmedia_guest *g, uint32_t session_id, struct v4l2_buffer *b);

/*
 * VIDIOC_DQEVENT from EVENT events (polls the eventq first).  As the V4L2
 * core does: only subscribed (type, id) pairs are delivered, each keeps at
 * most one event (a newer one replaces it; SOURCE_CHANGE ORs the changes),
 * sequence counts per session from 0, timestamp is the monotonic time of
 * arrival, pending is what is left.  Returns 0, -ENOENT if none, -EBADF / -EIO.
 */
int vmedia_guest_dqevent(struct vmedia_guest *g, uint32_t session_id, struct v4l2_event *ev);

/*
 * poll(): the driver's mask for @events (POLLIN / POLLOUT / POLLPRI bits of
 * <poll.h>) after polling the eventq.  Returns the revents mask, or -EBADF.
 */
int vmedia_guest_poll(struct vmedia_guest *g, uint32_t session_id, int events);

/* Buffers waiting to be dequeued on queue @type, or -EBADF / -EINVAL. */
int vmedia_guest_pending_dqbufs(struct vmedia_guest *g, uint32_t session_id, uint32_t type);

/*
 * Consume every used eventq entry as the driver does (DQBUF → pending
 * buffers, EVENT → subscribed events, ERROR → the session is closed with a
 * CLOSE command and later calls on it return -EIO), re-post each buffer,
 * publish and call process_eventq, until no more events come.
 * Returns the number of events consumed.
 */
int vmedia_guest_poll_events(struct vmedia_guest *g);

/* The errno of the ERROR event that closed @session_id (positive), 0 if
 * none, -EBADF if unknown. */
int vmedia_guest_session_error(struct vmedia_guest *g, uint32_t session_id);

/*
 * mmap() of a buffer: MMAP (20-byte command).  @flags go on the wire as
 * they are (VMEDIA_MMAP_FLAG_RW).  On success *@addr is the driver_addr
 * (offset in SHM region 0) and *@len the device's length (either may be
 * NULL).  Returns 0, -EBADF / -EIO, -status, -EINVAL (short response),
 * -ETIMEDOUT.
 */
int vmedia_guest_mmap(struct vmedia_guest *g, uint32_t session_id, uint32_t flags,
		      uint32_t offset, uint64_t *addr, uint64_t *len);

/*
 * The same for a mapping of @map_len bytes (mmap(2)'s length; 0: no check):
 * if it exceeds the returned length rounded up to a page, the driver
 * unmaps again (MUNMAP) and fails with -EINVAL.
 */
int vmedia_guest_mmap_len(struct vmedia_guest *g, uint32_t session_id, uint32_t flags,
			  uint32_t offset, uint64_t map_len, uint64_t *addr, uint64_t *len);

/*
 * munmap() of a mapping made by vmedia_guest_mmap(): MUNMAP of
 * @addr rounded down to a page (the driver keeps only the page number).
 * The mapping is gone whatever the device says.  Returns 0, -status,
 * -EINVAL if no mapping has that address, -ETIMEDOUT.
 */
int vmedia_guest_munmap(struct vmedia_guest *g, uint64_t addr);

/* Host pointer to [addr, addr+len) of SHM region 0, or NULL without shm or
 * out of its bounds. */
void *vmedia_guest_shm_ptr(struct vmedia_guest *g, uint64_t addr, uint64_t len);

/* ---- raw chains, for malformed commands ---- */

/* One descriptor of a raw chain.  Readable: @buf's bytes are copied into
 * guest memory.  Writable: guest memory starts as a copy of @buf (poison it
 * to see what the device wrote) and is copied back into @buf afterwards. */
struct vmedia_guest_seg {
	void *buf;
	uint32_t len;
	bool writable;
};

/*
 * Publish @n descriptors as one chain in the given order (writable before
 * readable makes a bad chain), honouring shape, and wait for its used entry.
 * Returns 0 with *@used_len (may be NULL), -EINVAL for n == 0, n above
 * VMEDIA_GUEST_RAW_MAX_SEGS or more bytes than the 64 KiB raw area, -ENOSPC
 * (more descriptors than the queue holds), -ETIMEDOUT.
 */
int vmedia_guest_raw_chain(struct vmedia_guest *g, struct vmedia_guest_seg *segs, unsigned n,
			   uint32_t *used_len);

/* A readable [cmd] and, if @resp_len > 0, a writable [resp] (in/out as
 * above).  Returns as vmedia_guest_raw_chain(). */
int vmedia_guest_raw_command(struct vmedia_guest *g, const void *cmd, size_t cmd_len, void *resp,
			     size_t resp_len, uint32_t *used_len);

/* The fakes, for vq_fake_queue_config() on the device side. */
static inline struct vq_fake *vmedia_guest_cmdq(struct vmedia_guest *g) { return &g->cmdq; }
static inline struct vq_fake *vmedia_guest_eventq(struct vmedia_guest *g) { return &g->eventq; }

/* All guest memory (both fakes): give it to the device's runner for SG
 * lists.  Each queue still uses its own fake's memory. */
static inline const struct vq_mem *vmedia_guest_mem(const struct vmedia_guest *g)
{
	return &g->mem;
}

#ifdef __cplusplus
}
#endif
#endif /* VMEDIA_GUEST_H */
