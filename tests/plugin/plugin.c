/* SPDX-License-Identifier: MIT */
/*
 * The libv4l2 plugin: libv4l2 (v4l2_fd_open, and so `v4l2-compliance -w`
 * or LD_PRELOAD=v4l2convert.so) offers every fd it wraps to each plugin in
 * its plugin directory; we claim *.vqmedia files (gdrv.h) and from then on
 * get that fd's ioctl, read, write and close.  open, mmap and poll are not
 * routed to plugins: they act on the file itself.  For poll, select and
 * epoll the LD_PRELOAD shim in poll-only mode stands in for the kernel's
 * routing to the driver: each fd claimed here is registered with it, if it
 * is loaded (preload.c).
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <errno.h>
#include <libv4l-plugin.h>
#include <stdlib.h>
#include <linux/videodev2.h>

#include "gdrv.h"

struct plugin_fd {
	struct gdrv_fd *f;
	int fd;
};

/* The shim's contract (preload.c): gdrv_poll, and the device's wake fd to
 * wait on. */
typedef short (*poll_fn)(void *priv, short events, uint64_t *next_ns, int *wake_fd);
typedef int (*register_fn)(int fd, void *priv, poll_fn poll);
typedef void (*unregister_fn)(int fd);

static short plugin_poll(void *priv, short events, uint64_t *next_ns, int *wake_fd)
{
	struct gdrv_fd *f = ((struct plugin_fd *)priv)->f;
	*wake_fd = gdrv_wake_fd(f);
	return gdrv_poll(f, events, next_ns);
}

static void *plugin_init(int fd)
{
	struct plugin_fd *p = malloc(sizeof(*p));
	if (!p)
		return NULL;
	p->f = gdrv_claim(fd);
	if (!p->f) {
		free(p);
		return NULL;
	}
	p->fd = fd;
	register_fn reg = (register_fn)dlsym(RTLD_DEFAULT, "vqmedia_preload_register_poll");
	if (reg)
		reg(fd, p, plugin_poll);
	return p;
}

static void plugin_close(void *priv)
{
	struct plugin_fd *p = priv;
	unregister_fn unreg = (unregister_fn)dlsym(RTLD_DEFAULT, "vqmedia_preload_unregister_poll");
	if (unreg)
		unreg(p->fd);
	gdrv_release(p->f);
	free(p);
}

/*
 * What libv4l2 (1.22) does above us, told truthfully to the application:
 * its REQBUFS refuses every memory but MMAP on a single-planar capture
 * queue, so through it USERPTR is not supported there.
 * (read() is the driver's own: QUERYCAP says V4L2_CAP_READWRITE, so
 * libv4l2 passes read() to .read below instead of emulating it.)
 */
static void libv4l2_view(unsigned long request, void *arg)
{
	if (request == VIDIOC_REQBUFS) {
		struct v4l2_requestbuffers *rb = arg;
		if (rb->type == V4L2_BUF_TYPE_VIDEO_CAPTURE)
			rb->capabilities &= ~V4L2_BUF_CAP_SUPPORTS_USERPTR;
	} else if (request == VIDIOC_CREATE_BUFS) {
		struct v4l2_create_buffers *cb = arg;
		if (cb->format.type == V4L2_BUF_TYPE_VIDEO_CAPTURE)
			cb->capabilities &= ~V4L2_BUF_CAP_SUPPORTS_USERPTR;
	}
}

static int plugin_ioctl(void *priv, int fd, unsigned long request, void *arg)
{
	(void)fd;
	int r = gdrv_ioctl(((struct plugin_fd *)priv)->f, request, arg);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	libv4l2_view((unsigned int)request, arg);
	return r;
}

/* read() I/O as vb2 gives it (gdrv.h). */
static ssize_t plugin_read(void *priv, int fd, void *buf, size_t n)
{
	(void)fd;
	ssize_t r = gdrv_read(((struct plugin_fd *)priv)->f, buf, n);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* No device of ours has write() I/O: write() is EINVAL, as the kernel answers
 * when a driver has no write op. */
static ssize_t plugin_write(void *priv, int fd, const void *buf, size_t n)
{
	(void)priv, (void)fd, (void)buf, (void)n;
	errno = EINVAL;
	return -1;
}

__attribute__((visibility("default"))) const struct libv4l_dev_ops libv4l2_plugin = {
	.init = plugin_init,
	.close = plugin_close,
	.ioctl = plugin_ioctl,
	.read = plugin_read,
	.write = plugin_write,
};
