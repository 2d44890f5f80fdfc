/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "vq_fake_eventfd.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int vq_fake_efd_attach(struct vq_fake_efd *d, struct vq_fake *f, int kick_fd, int call_fd)
{
	if (!d || !f || kick_fd < 0 || call_fd < 0)
		return -EINVAL;
	*d = (struct vq_fake_efd){ .f = f, .kick_fd = kick_fd, .call_fd = call_fd };
	f->kick = vq_fake_efd_kick;
	f->kick_opaque = d;
	return 0;
}

void vq_fake_efd_kick(void *opaque)
{
	struct vq_fake_efd *d = opaque;
	uint64_t one = 1;
	ssize_t n = write(d->kick_fd, &one, sizeof(one));
	if (n == sizeof(one))
		d->kicks++;
	else if (!d->kick_error)
		d->kick_error = n < 0 ? -errno : -EIO;
}

int vq_fake_efd_publish(struct vq_fake_efd *d)
{
	int before = d->kick_error;
	int r = vq_fake_publish(d->f);
	return d->kick_error && !before ? d->kick_error : r;
}

int vq_fake_efd_wait(struct vq_fake_efd *d, int timeout_ms)
{
	uint64_t deadline = timeout_ms >= 0 ? now_ms() + (uint64_t)timeout_ms : 0;
	for (;;) {
		uint16_t n = vq_fake_used_pending(d->f);
		if (n)
			return n;
		if (vq_fake_enable_interrupts(d->f)) {
			vq_fake_disable_interrupts(d->f);
			return vq_fake_used_pending(d->f);
		}
		d->sleeps++;
		if (timeout_ms >= 0) {
			uint64_t now = now_ms();
			if (now >= deadline) {
				vq_fake_disable_interrupts(d->f);
				return 0;
			}
			struct pollfd p = { .fd = d->call_fd, .events = POLLIN };
			int r = poll(&p, 1, (int)(deadline - now));
			if (r < 0 && errno != EINTR)
				return -errno;
			if (r <= 0)
				continue; /* timeout is re-checked above */
			if (p.revents & (POLLERR | POLLNVAL))
				return -EBADF;
		}
		uint64_t v;
		ssize_t got = read(d->call_fd, &v, sizeof(v));
		if (got < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		vq_fake_disable_interrupts(d->f);
		if (!vq_fake_used_pending(d->f))
			d->spurious++;
	}
}
