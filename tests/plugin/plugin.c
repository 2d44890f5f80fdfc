/* SPDX-License-Identifier: MIT */
/*
 * The libv4l2 plugin: libv4l2 (v4l2_fd_open, and so `v4l2-compliance -w`
 * or LD_PRELOAD=v4l2convert.so) offers every fd it wraps to each plugin in
 * its plugin directory; we claim *.vqmedia files (gdrv.h) and from then on
 * get that fd's ioctl, read, write and close.  open, mmap and poll are not
 * routed to plugins: they act on the file itself.
 */
#include <errno.h>
#include <libv4l-plugin.h>
#include <linux/videodev2.h>

#include "gdrv.h"

static void *plugin_init(int fd)
{
	return gdrv_claim(fd);
}

static void plugin_close(void *priv)
{
	gdrv_release(priv);
}

/*
 * What libv4l2 (1.22) does above us, told truthfully to the application:
 *  - its REQBUFS refuses every memory but MMAP on a single-planar capture
 *    queue, so through it USERPTR is not supported there;
 *  - it adds V4L2_CAP_READWRITE and emulates read() with its own MMAP
 *    buffers (V4L2_DEFAULT_NREADBUFFERS = 4), so a capture parm reports
 *    read buffers.
 */
#define LIBV4L2_READ_BUFFERS 4

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
	} else if (request == VIDIOC_G_PARM || request == VIDIOC_S_PARM) {
		struct v4l2_streamparm *p = arg;
		if (p->type == V4L2_BUF_TYPE_VIDEO_CAPTURE && !p->parm.capture.readbuffers)
			p->parm.capture.readbuffers = LIBV4L2_READ_BUFFERS;
	}
}

static int plugin_ioctl(void *priv, int fd, unsigned long request, void *arg)
{
	(void)fd;
	int r = gdrv_ioctl(priv, request, arg);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	libv4l2_view((unsigned int)request, arg);
	return r;
}

/* A capture device without V4L2_CAP_READWRITE: read() and write() are
 * EINVAL, as the kernel answers when a driver has no read/write op. */
static ssize_t plugin_read(void *priv, int fd, void *buf, size_t n)
{
	(void)priv, (void)fd, (void)buf, (void)n;
	errno = EINVAL;
	return -1;
}

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
