/* SPDX-License-Identifier: MIT */
/* Internal interfaces between the runner and its parts; not installed. */
#ifndef VMEDIA_INTERNAL_H
#define VMEDIA_INTERNAL_H

#include "vmedia.h"
#include "vmedia_ioctl_table.h"

/* Hard bounds on what one command may ask for, so nothing the guest sends
 * sizes an allocation: the kernel's own V4L2_CID_MAX_CTRLS, and at most this
 * many SG entries behind one pointer (the Linux driver's shadow buffer holds
 * 16 KiB of them). */
#define VMEDIA_MAX_CTRLS 1024
#define VMEDIA_MAX_SG_ENTRIES 1024

/* ---- shm.c: MMAP ranges ---- */
int vmedia_mmap_init(struct vmedia_device *dev, uint32_t max_buffers);
void vmedia_mmap_destroy(struct vmedia_device *dev);
/* MMAP command: map the buffer whose offset is @offset.  Returns 0 with
 * *addr (region offset) and *len (exact buffer length), or -EINVAL (no such
 * buffer / not page-aligned), -ENODEV (no shm), or the transport's -errno. */
int vmedia_mmap_map(struct vmedia_device *dev, uint32_t offset, bool rw, uint64_t *addr,
		    uint64_t *len);
/* MUNMAP command.  Returns 0 or -EINVAL (no mapping at @addr). */
int vmedia_mmap_unmap(struct vmedia_device *dev, uint64_t addr);

/* ---- eventq.c: events and the backlog ---- */
int vmedia_eventq_init(struct vmedia_device *dev, uint32_t backlog);
void vmedia_eventq_destroy(struct vmedia_device *dev);
/* Forget backlogged events of a closed session (the driver no longer
 * knows the id; delivering them would confuse a new session). */
void vmedia_eventq_forget_session(struct vmedia_device *dev, uint32_t session_id);

/* ---- usermem.c: SG lists ---- */
/*
 * Read SG entries from @r until their lengths cover @need bytes and make a
 * usermem of exactly @need bytes.  Returns 0 with *out, -EINVAL if the list
 * runs out (chain too short) or exceeds VMEDIA_MAX_SG_ENTRIES, -EFAULT if an
 * entry is not driver memory, -ENOMEM if a bounce buffer would pass the
 * device's usermem limit.  @need == 0 gives *out == NULL and reads nothing.
 */
int vmedia_usermem_get(struct vmedia_device *dev, struct vq_reader *r, size_t need,
		       struct vmedia_usermem **out);

/* ---- ioctl.c: the codec ---- */
/* Handle an IOCTL command whose 16-byte header was read from @r; write the
 * response header and payload to @w.  Returns the status (0 or positive
 * errno) that was written. */
uint32_t vmedia_ioctl_run(struct vmedia_device *dev, struct vmedia_session *s, uint32_t code,
			  struct vq_reader *r, struct vq_writer *w);

#endif /* VMEDIA_INTERNAL_H */
