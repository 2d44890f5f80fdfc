/* SPDX-License-Identifier: MIT */
/*
 * gdrv — a userspace virtio-media guest driver for one process: the guest
 * driver model (fake_queue/vmedia_guest) wired to a device under test
 * (media runner + a device from devices/) in the same thread, plus the bits
 * of the guest kernel's V4L2 core that the model leaves out and real
 * applications rely on (priorities, DQBUF that waits).  The libv4l2 plugin (plugin.c) and the LD_PRELOAD shim
 * (preload.c) are two ways for an unmodified program to reach it.
 *
 * The "video node" is a regular file named *.vqmedia: an application
 * open()s and mmap()s it natively (neither is routed to plugins), and that
 * very file is the device's MMAP shared memory, so mapping it at a QUERYBUF
 * offset shows the buffer.  One device instance per file (by inode), one
 * virtio-media session per file descriptor, shared by every fd of the
 * process, so several fds see one device as several open()s of /dev/video0
 * would.
 */
#ifndef GDRV_H
#define GDRV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct gdrv_fd;

/*
 * Claim @fd if it is a *.vqmedia regular file naming a known device (the
 * last dot-separated word before ".vqmedia", e.g. "cam.simple.vqmedia";
 * $VQMEDIA_DEVICE overrides it).  Returns the fd's state, or NULL (not
 * ours, or it could not be set up: then errno says why).
 */
struct gdrv_fd *gdrv_claim(int fd);

/* close(): the session's CLOSE; the device goes with its last fd. */
void gdrv_release(struct gdrv_fd *f);

/* ioctl(): 0 or -errno. */
int gdrv_ioctl(struct gdrv_fd *f, unsigned long request, void *arg);

/*
 * mmap() of a buffer, as the guest driver does it: an MMAP command for
 * @offset (a QUERYBUF mem_offset), then a mapping of the shared memory at
 * the address the device gives.  Returns 0 with *addr, or -errno (the
 * device's EINVAL for an offset that is no MMAP buffer, for one).  The
 * mapping keeps the device alive after its fd is closed.
 */
int gdrv_mmap(struct gdrv_fd *f, void *hint, size_t len, int prot, int flags, int64_t offset,
	      void **addr);

/* munmap() of a mapping made by gdrv_mmap (MUNMAP command): returns 1 if
 * @addr was one (and is gone), 0 if it is not ours. */
int gdrv_munmap(void *addr, size_t len);

/*
 * read(): what vb2's read() emulation does for a capture device that offers
 * it (V4L2_CAP_READWRITE in QUERYCAP): the first read allocates a few MMAP
 * buffers of its own, queues them and starts streaming; each read copies
 * from the oldest filled buffer (waiting for one unless O_NONBLOCK:
 * -EAGAIN) and requeues it once it is read out.  -EBUSY while the
 * application has buffers or another fd reads; from then on REQBUFS,
 * CREATE_BUFS, QBUF, DQBUF, PREPARE_BUF, STREAMON and STREAMOFF are -EBUSY,
 * until the reading fd is closed.  -EINVAL for a device without read I/O.
 * Returns the bytes read, or -errno.
 */
ssize_t gdrv_read(struct gdrv_fd *f, void *buf, size_t n);

/*
 * poll() readiness of @f for @events (POLLIN / POLLOUT / POLLPRI ...), as
 * the driver's poll would report it; a real-time device's due frame is
 * produced and an asynchronous device's finished work delivered first.
 * A memory-to-memory device answers as v4l2_m2m_poll() does: POLLIN when a
 * CAPTURE buffer is done (or the LAST one was dequeued: DQBUF says EPIPE),
 * POLLOUT when an OUTPUT buffer is done, POLLERR when neither queue streams
 * with buffers queued, POLLPRI when an event is pending.  Other devices
 * answer as the virtio-media driver's poll.  *next_ns (may be NULL) is how
 * soon it is worth asking again.  Returns the revents mask.
 */
short gdrv_poll(struct gdrv_fd *f, short events, uint64_t *next_ns);

/*
 * The fd that becomes readable (POLLIN) when an asynchronous device has
 * finished something, for a poll() that waits on it between gdrv_poll()
 * calls instead of sleeping; -1 for a device that only moves on commands
 * and ticks.  Reading it is gdrv's business (gdrv_poll does).
 */
int gdrv_wake_fd(struct gdrv_fd *f);

#endif
