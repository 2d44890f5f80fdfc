/* SPDX-License-Identifier: MIT */
/*
 * The same guest driver (gdrv.h) without libv4l2 in the way: an LD_PRELOAD
 * shim that interposes ioctl, read, write, close and epoll, so a
 * program that calls them directly (v4l2-compliance without -w) talks to
 * our device as it would to a kernel driver.  libv4l2 1.22 changes what a
 * program sees (it refuses USERPTR on capture queues, drops a STREAMOFF it
 * did not see a STREAMON for, fakes read() and adds emulated formats), so
 * this route is the one that judges the device itself.
 *
 * An fd is claimed at its first ioctl.  mmap and munmap go through the
 * guest driver (MMAP / MUNMAP commands, then the shared memory), so the
 * device judges the offsets as it would in a VM.  poll and select ask the
 * driver's poll (so POLLPRI means an event, and a real-time device's frame
 * is waited for); epoll cannot watch a regular file at all, so the shim
 * keeps a claimed fd's epoll registrations and epoll_wait() asks the
 * driver's poll for them (the epoll part below), as the kernel would.
 *
 * The guest driver itself calls close, mmap and munmap (its shared memory,
 * its backing file): `inside` sends those straight to the kernel, and keeps
 * gdrv's lock from being taken twice.
 *
 * VQMEDIA_PRELOAD=poll-only is the shim for programs that go through
 * libv4l2 (v4l2-compliance -w): there libv4l2 hands ioctl, read, write and
 * close to our plugin, which is the driver, and mmap goes to the file; but
 * libv4l2 never sees poll, select or epoll, which on a real system reach the
 * kernel driver directly.  In this mode the shim claims nothing itself and
 * passes every other call to the kernel: the plugin registers each fd it
 * claims (vqmedia_preload_register_poll, found with dlsym) with its own
 * poll, and poll/select/epoll on those fds are answered by it.  That is the
 * one guest driver behind the fd, as the kernel's would be.
 */
/* Define mmap and mmap64 both, not mmap twice under its 64-bit alias. */
#undef _FILE_OFFSET_BITS
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdint.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gdrv.h"

#define MAX_FDS 4096

/* As gdrv_poll(); *wake_fd gets gdrv_wake_fd() (-1: none), which is
 * polled for POLLIN while waiting instead of sleeping. */
typedef short (*poll_fn)(void *priv, short events, uint64_t *next_ns, int *wake_fd);

struct claimed {
	struct gdrv_fd *f; /* claimed here; NULL for an fd the plugin registered */
	void *priv;        /* what poll is asked with */
	poll_fn poll;      /* NULL: the slot is free */
};

static struct claimed fds[MAX_FDS];
static pthread_mutex_t fds_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int inside;
static bool poll_only;

__attribute__((constructor)) static void preload_init(void)
{
	const char *mode = getenv("VQMEDIA_PRELOAD");
	poll_only = mode && !strcmp(mode, "poll-only");
}

static struct claimed *lookup(int fd)
{
	return fd >= 0 && fd < MAX_FDS && fds[fd].poll ? &fds[fd] : NULL;
}

/* An fd of our own (not one the plugin registered). */
static struct claimed *lookup_own(int fd)
{
	struct claimed *c = lookup(fd);
	return c && c->f ? c : NULL;
}

static short own_poll(void *priv, short events, uint64_t *next_ns, int *wake_fd)
{
	*wake_fd = gdrv_wake_fd(priv);
	return gdrv_poll(priv, events, next_ns);
}

/* Only regular files can be ours: check that before anything costlier. */
static struct claimed *claim(int fd)
{
	if (poll_only)
		return NULL;
	struct claimed *c = lookup_own(fd);
	if (c || fd < 0 || fd >= MAX_FDS)
		return c;
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return NULL;
	inside++;
	struct gdrv_fd *f = gdrv_claim(fd);
	inside--;
	if (!f)
		return NULL;
	pthread_mutex_lock(&fds_lock);
	fds[fd] = (struct claimed){ f, f, own_poll };
	pthread_mutex_unlock(&fds_lock);
	return &fds[fd];
}

/* The plugin's side of poll-only mode: @fd is its driver's, @poll answers
 * for it (gdrv_poll's contract).  Returns 0, or -1 when this shim is not in
 * poll-only mode (it claims fds itself then) or @fd is out of range. */
__attribute__((visibility("default"))) int vqmedia_preload_register_poll(int fd, void *priv,
									 poll_fn poll)
{
	if (!poll_only || fd < 0 || fd >= MAX_FDS || !poll)
		return -1;
	pthread_mutex_lock(&fds_lock);
	fds[fd] = (struct claimed){ NULL, priv, poll };
	pthread_mutex_unlock(&fds_lock);
	return 0;
}

/* The plugin let @fd go (libv4l2 closes the fd itself, not through us). */
__attribute__((visibility("default"))) void vqmedia_preload_unregister_poll(int fd)
{
	if (fd < 0 || fd >= MAX_FDS)
		return;
	pthread_mutex_lock(&fds_lock);
	if (!fds[fd].f)
		fds[fd] = (struct claimed){ NULL, NULL, NULL };
	pthread_mutex_unlock(&fds_lock);
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	struct claimed *c = inside ? NULL : claim(fd);
	if (!c)
		return (int)syscall(SYS_ioctl, fd, request, arg);
	inside++;
	int r = gdrv_ioctl(c->f, request, arg);
	inside--;
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

/* read() I/O as vb2 gives it (gdrv.h). */
ssize_t read(int fd, void *buf, size_t n)
{
	struct claimed *c = inside ? NULL : lookup_own(fd);
	if (!c)
		return syscall(SYS_read, fd, buf, n);
	inside++;
	ssize_t r = gdrv_read(c->f, buf, n);
	inside--;
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* No device of ours is an output: a driver without a write op answers
 * EINVAL. */
ssize_t write(int fd, const void *buf, size_t n)
{
	if (lookup_own(fd)) {
		errno = EINVAL;
		return -1;
	}
	return syscall(SYS_write, fd, buf, n);
}

static void unwatch(int fd);

int close(int fd)
{
	struct claimed *c = inside ? NULL : lookup_own(fd);
	if (c) {
		pthread_mutex_lock(&fds_lock);
		struct gdrv_fd *f = c->f;
		*c = (struct claimed){ NULL, NULL, NULL };
		pthread_mutex_unlock(&fds_lock);
		inside++;
		gdrv_release(f);
		inside--;
	}
	if (!inside)
		unwatch(fd);
	return (int)syscall(SYS_close, fd);
}

/* ---- epoll ----
 * The kernel cannot watch a regular file, so a claimed fd's registrations
 * are kept here, and epoll_wait() on a set holding any polls the driver for
 * them (with the set's own fd for the rest, which stay the kernel's).
 * Level-triggered, as v4l2-compliance and libv4l2's users use it; EPOLLET
 * and EPOLLONESHOT are taken as level-triggered. */

#define MAX_WATCHES 64

struct watch {
	int epfd, fd; /* epfd 0 (never an epoll set here: stdin) marks a free slot */
	struct epoll_event ev;
};

static struct watch watches[MAX_WATCHES];
static int nwatches;

/* @fd's registration in @epfd; with @epfd 0, a free slot. */
static struct watch *find_watch(int epfd, int fd)
{
	for (int i = 0; i < MAX_WATCHES; i++)
		if (watches[i].epfd == epfd && (!epfd || watches[i].fd == fd))
			return &watches[i];
	return NULL;
}

/* @fd closed: its registrations go, and a closed set's own. */
static void unwatch(int fd)
{
	pthread_mutex_lock(&fds_lock);
	for (int i = 0; nwatches && i < MAX_WATCHES; i++)
		if (watches[i].epfd && (watches[i].fd == fd || watches[i].epfd == fd)) {
			watches[i].epfd = 0;
			nwatches--;
		}
	pthread_mutex_unlock(&fds_lock);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (!lookup(fd) || epfd <= 0)
		return (int)syscall(SYS_epoll_ctl, epfd, op, fd, ev);
	int err = 0;
	pthread_mutex_lock(&fds_lock);
	struct watch *w = find_watch(epfd, fd);
	if (op == EPOLL_CTL_ADD) {
		if (w) {
			err = EEXIST;
		} else if (!ev) {
			err = EFAULT;
		} else if (!(w = find_watch(0, 0))) {
			err = ENOSPC;
		} else {
			*w = (struct watch){ epfd, fd, *ev };
			nwatches++;
		}
	} else if (!w) {
		err = ENOENT;
	} else if (op == EPOLL_CTL_DEL) {
		w->epfd = 0;
		nwatches--;
	} else if (op == EPOLL_CTL_MOD && ev) {
		w->ev = *ev;
	} else {
		err = EINVAL;
	}
	pthread_mutex_unlock(&fds_lock);
	if (!err)
		return 0;
	errno = err;
	return -1;
}

/* ---- mmap ---- */

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct claimed *c = inside ? NULL : lookup_own(fd);
	if (!c)
		return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	void *p;
	inside++;
	int r = gdrv_mmap(c->f, addr, len, prot, flags, off, &p);
	inside--;
	if (r) {
		errno = -r;
		return MAP_FAILED;
	}
	return p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	return mmap(addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
	if (!inside && !poll_only) {
		inside++;
		int ours = gdrv_munmap(addr, len);
		inside--;
		if (ours)
			return 0;
	}
	return (int)syscall(SYS_munmap, addr, len);
}

/* ---- poll / select ---- */

/* Without a wake fd, a device is asked again this often (ms). */
#define POLL_STEP_MS 2

/*
 * Ask claimed fds, then the kernel for the rest (claimed ones hidden as
 * -1, which poll ignores) with at most @left_ms of waiting: while nothing
 * is ready, the kernel also watches the wake fds of asynchronous devices
 * (gdrv_wake_fd), so their completions end the wait at once, and the wait
 * lasts until the soonest device asks to be looked at again; without a
 * wake fd, POLL_STEP_MS at most.
 */
static int poll_once(struct pollfd *p, nfds_t n, int left_ms)
{
	int ready = 0;
	int saved[64];
	nfds_t hidden = 0;
	uint64_t next_ns = UINT64_MAX;
	int wake[64];
	nfds_t nwake = 0;
	bool blind = false; /* a claimed fd without a wake fd */
	for (nfds_t i = 0; i < n; i++) {
		struct claimed *c = lookup(p[i].fd);
		if (!c || hidden == 64)
			continue;
		uint64_t next = UINT64_MAX;
		int wfd = -1;
		inside++;
		short rev = c->poll(c->priv, p[i].events, &next, &wfd);
		inside--;
		if (next < next_ns)
			next_ns = next;
		if (wfd >= 0)
			wake[nwake++] = wfd;
		else
			blind = true;
		/* POLLERR/HUP/NVAL are reported whether asked for or not. */
		rev &= (short)(p[i].events | POLLERR | POLLHUP | POLLNVAL);
		saved[hidden++] = p[i].fd;
		p[i].fd = -1;
		p[i].revents = rev;
		if (rev)
			ready++;
	}
	int wait = 0;
	if (!ready) {
		uint64_t cap = (next_ns + 999999) / 1000000;
		if (blind && cap > POLL_STEP_MS)
			cap = POLL_STEP_MS;
		wait = (uint64_t)left_ms < cap ? left_ms : (int)cap;
	}
	struct pollfd tmp[128];
	nfds_t k = 0;
	for (nfds_t i = 0; i < n && k < 64; i++)
		if (p[i].fd >= 0)
			tmp[k++] = p[i];
	nfds_t kfds = k;
	if (wait > 0)
		for (nfds_t i = 0; i < nwake; i++)
			tmp[k++] = (struct pollfd){ .fd = wake[i], .events = POLLIN };
	int r = k ? (int)syscall(SYS_poll, tmp, k, wait) : 0;
	if (!k && wait > 0) {
		struct timespec ts = { wait / 1000, (long)(wait % 1000) * 1000000 };
		nanosleep(&ts, NULL);
	}
	/* Only the application's own fds count as ready from the kernel. */
	if (r > 0) {
		r = 0;
		for (nfds_t i = 0; i < kfds; i++)
			if (tmp[i].revents)
				r++;
	}
	k = 0;
	nfds_t h = 0;
	for (nfds_t i = 0; i < n; i++) {
		if (p[i].fd >= 0 && k < kfds)
			p[i].revents = tmp[k++].revents;
		else if (p[i].fd < 0 && h < hidden)
			p[i].fd = saved[h++];
	}
	return r < 0 ? r : ready + r;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool any_claimed(const struct pollfd *p, nfds_t n)
{
	for (nfds_t i = 0; i < n; i++)
		if (lookup(p[i].fd))
			return true;
	return false;
}

/* poll() itself; select() calls this, not poll, so that it stays ours
 * however the shim was loaded. */
static int shim_poll(struct pollfd *p, nfds_t n, int timeout)
{
	if (inside || n > 64 || !any_claimed(p, n))
		return (int)syscall(SYS_poll, p, n, timeout);
	uint64_t end = timeout < 0 ? UINT64_MAX : mono_ms() + (uint64_t)timeout;
	for (;;) {
		uint64_t now = mono_ms();
		int left = end == UINT64_MAX ? INT32_MAX : (int)(end > now ? end - now : 0);
		int r = poll_once(p, n, left);
		if (r != 0 || mono_ms() >= end)
			return r;
	}
}

int poll(struct pollfd *p, nfds_t n, int timeout)
{
	return shim_poll(p, n, timeout);
}

/* epoll_wait() on a set holding claimed fds: the driver's poll for those,
 * the kernel's set (its own fd, readable when any of the rest is ready) for
 * the others.  Event bits are poll's. */
static int watched_wait(int epfd, struct epoll_event *out, int max, int timeout)
{
	struct pollfd p[MAX_WATCHES + 1];
	epoll_data_t data[MAX_WATCHES];
	nfds_t n = 0;
	pthread_mutex_lock(&fds_lock);
	for (int i = 0; i < MAX_WATCHES; i++)
		if (watches[i].epfd == epfd && epfd) {
			p[n] = (struct pollfd){ .fd = watches[i].fd,
						.events = (short)watches[i].ev.events };
			data[n++] = watches[i].ev.data;
		}
	pthread_mutex_unlock(&fds_lock);
	if (!n)
		return (int)syscall(SYS_epoll_pwait, epfd, out, max, timeout, NULL, 8);
	if (max <= 0) {
		errno = EINVAL;
		return -1;
	}
	p[n] = (struct pollfd){ .fd = epfd, .events = POLLIN };
	int r = shim_poll(p, n + 1, timeout);
	if (r < 0)
		return r;
	int k = 0;
	for (nfds_t i = 0; i < n && k < max; i++)
		if (p[i].revents)
			out[k++] = (struct epoll_event){ .events = (uint16_t)p[i].revents,
							 .data = data[i] };
	if (k < max && (p[n].revents & POLLIN)) {
		int m = (int)syscall(SYS_epoll_pwait, epfd, out + k, max - k, 0, NULL, 8);
		if (m > 0)
			k += m;
	}
	return k;
}

int epoll_wait(int epfd, struct epoll_event *out, int max, int timeout)
{
	if (inside || !nwatches)
		return (int)syscall(SYS_epoll_pwait, epfd, out, max, timeout, NULL, 8);
	return watched_wait(epfd, out, max, timeout);
}

/* The signal mask is not modelled: applications here pass NULL. */
int epoll_pwait(int epfd, struct epoll_event *out, int max, int timeout, const sigset_t *mask)
{
	if (inside || !nwatches)
		return (int)syscall(SYS_epoll_pwait, epfd, out, max, timeout, mask, 8);
	return watched_wait(epfd, out, max, timeout);
}

/* select() on top of poll(), with select's mapping of poll bits. */
int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
	bool ours = false;
	for (int fd = 0; fd < nfds && fd < MAX_FDS && !ours; fd++)
		ours = lookup(fd) && ((rd && FD_ISSET(fd, rd)) || (wr && FD_ISSET(fd, wr)) ||
				      (ex && FD_ISSET(fd, ex)));
	if (inside || !ours || nfds > FD_SETSIZE)
		return (int)syscall(SYS_select, nfds, rd, wr, ex, tv);
	struct pollfd p[64];
	nfds_t n = 0;
	for (int fd = 0; fd < nfds; fd++) {
		short ev = 0;
		if (rd && FD_ISSET(fd, rd))
			ev |= POLLIN | POLLRDNORM;
		if (wr && FD_ISSET(fd, wr))
			ev |= POLLOUT | POLLWRNORM;
		if (ex && FD_ISSET(fd, ex))
			ev |= POLLPRI;
		if (!ev)
			continue;
		if (n == 64) {
			errno = EINVAL;
			return -1;
		}
		p[n++] = (struct pollfd){ .fd = fd, .events = ev };
	}
	int timeout = tv ? (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000) : -1;
	int r = shim_poll(p, n, timeout);
	if (r < 0)
		return r;
	if (rd)
		FD_ZERO(rd);
	if (wr)
		FD_ZERO(wr);
	if (ex)
		FD_ZERO(ex);
	int count = 0;
	for (nfds_t i = 0; i < n; i++) {
		short rev = p[i].revents;
		if (rd && (p[i].events & POLLIN) && (rev & (POLLIN | POLLRDNORM | POLLHUP | POLLERR))) {
			FD_SET(p[i].fd, rd);
			count++;
		}
		if (wr && (p[i].events & POLLOUT) && (rev & (POLLOUT | POLLWRNORM | POLLERR))) {
			FD_SET(p[i].fd, wr);
			count++;
		}
		if (ex && (p[i].events & POLLPRI) && (rev & POLLPRI)) {
			FD_SET(p[i].fd, ex);
			count++;
		}
	}
	return count;
}
