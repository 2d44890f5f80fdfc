/* SPDX-License-Identifier: MIT */
/*
 * vq_fake_eventfd — a fake driver's doorbell and interrupt as real eventfds,
 * for a device running on another thread (vmedia_runtime, a vhost-user
 * back-end).
 *
 * Kick: vq_fake_publish() asks for a kick exactly when a real driver would
 * (event idx / NO_NOTIFY); the attached kick callback then write(2)s 1 to the
 * kick eventfd.  So the guest model (vmedia_guest) gets eventfd kicks just by
 * attaching its two fakes here — it publishes through vq_fake_publish().
 *
 * Interrupt: vq_fake_efd_wait() returns at once if used entries are pending;
 * otherwise it re-enables interrupts with the re-check
 * (vq_fake_enable_interrupts()) and only then blocks in read(2) / poll(2) on
 * the call eventfd, so an entry the device published just before interrupts
 * came back on is never waited for.  It turns interrupts off again before it
 * returns: a driver busy consuming does not make the device write(2).
 *
 * Several fakes may share one call eventfd (one interrupt per device, as on
 * virtio-mmio); a wake-up for the other queue is simply a spurious one here.
 * One thread drives an attached fake, as for any fake.
 */
#ifndef VQ_FAKE_EVENTFD_H
#define VQ_FAKE_EVENTFD_H

#include "vq_fake.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vq_fake_efd {
	struct vq_fake *f;
	int kick_fd, call_fd;
	int kick_error;     /* first write(2) failure, -errno; 0 if none */
	uint64_t kicks;     /* write(2)s to kick_fd */
	uint64_t sleeps;    /* times wait blocked on call_fd */
	uint64_t spurious;  /* wake-ups that found nothing used */
};

/*
 * Attach @f: its kick callback becomes a write(2) to @kick_fd; waits read
 * @call_fd.  The fds stay the caller's.  Returns 0 or -EINVAL.
 */
int vq_fake_efd_attach(struct vq_fake_efd *d, struct vq_fake *f, int kick_fd, int call_fd);

/* The kick callback installed by attach (opaque = the vq_fake_efd). */
void vq_fake_efd_kick(void *opaque);

/*
 * vq_fake_publish(), kicking through the eventfd if the device asked.
 * Returns 1 kicked, 0 not needed, or the kick's -errno (e.g. -EBADF).
 */
int vq_fake_efd_publish(struct vq_fake_efd *d);

/*
 * Wait until the device has published used entries: returns how many are
 * pending (> 0), 0 if @timeout_ms passed first (< 0: no limit, one blocking
 * read(2) per sleep — the cheapest wake-up), or -errno from poll / read.
 */
int vq_fake_efd_wait(struct vq_fake_efd *d, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
