/* SPDX-License-Identifier: MIT */
/*
 * gdrv's instances: recognising a *.vqmedia file, building one guest model
 * + runner + device per file, and one session per fd.
 */
#define _GNU_SOURCE /* F_DUPFD_CLOEXEC under -std=c11 too */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gdrv_internal.h"

/* MMAP buffers live in the file: sparse, so unused room costs nothing. */
#define SHM_SIZE (256ull << 20)
/* Guest memory for commands and USERPTR copies (the model never frees a
 * USERPTR copy; anonymous memory, touched only where used). */
#define GUEST_MEM (512u << 20)
#define SUFFIX ".vqmedia"

pthread_mutex_t gdrv_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gdrv_dev *devices;

/* The device kind a path names, or NULL if the path is not ours. */
static const struct gdrv_kind *kind_of(const char *path)
{
	size_t n = strlen(path), sl = strlen(SUFFIX);
	if (n <= sl || strcmp(path + n - sl, SUFFIX))
		return NULL;
	const char *env = getenv("VQMEDIA_DEVICE");
	if (env && *env)
		return gdrv_kind_find(env);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	char name[NAME_MAX + 1];
	size_t len = (size_t)(path + n - sl - base);
	if (len == 0 || len > NAME_MAX)
		return NULL;
	memcpy(name, base, len);
	name[len] = 0;
	const char *word = strrchr(name, '.');
	return gdrv_kind_find(word ? word + 1 : name);
}

static void run_commands(void *opaque)
{
	struct gdrv_dev *d = opaque;
	vmedia_device_process_commands(&d->dev);
}

static void run_eventq(void *opaque)
{
	struct gdrv_dev *d = opaque;
	vmedia_device_process_eventq(&d->dev);
}

static void dev_destroy(struct gdrv_dev *d)
{
	if (d->dev.ops)
		vmedia_device_destroy(&d->dev);
	if (d->g.bufs)
		vmedia_guest_destroy(&d->g);
	if (d->shm.host)
		vmedia_shm_destroy(&d->shm);
	if (d->state)
		d->kind->destroy(d->state);
	free(d);
}

/*
 * The backing is a second descriptor of the application's open file (so
 * the device writes the pages the application maps); an fd opened
 * read-only cannot back a writable shared mapping, so then reopen.
 */
static int backing_fd(int fd)
{
	int acc = fcntl(fd, F_GETFL);
	if (acc >= 0 && (acc & O_ACCMODE) == O_RDWR)
		return fcntl(fd, F_DUPFD_CLOEXEC, 0);
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return open(link, O_RDWR | O_CLOEXEC);
}

static struct gdrv_dev *dev_create(int fd, const struct stat *st, const struct gdrv_kind *k)
{
	struct gdrv_dev *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->st_dev = st->st_dev;
	d->st_ino = st->st_ino;
	d->kind = k;
	struct vmedia_config_space config;
	d->state = k->create(&config);
	if (!d->state)
		goto fail;
	d->caps = vq_from_le32(config.device_caps);
	d->m2m = d->caps & (V4L2_CAP_VIDEO_M2M | V4L2_CAP_VIDEO_M2M_MPLANE);
	int bfd = backing_fd(fd);
	if (bfd < 0)
		goto fail;
	int r = vmedia_shm_init_fd(&d->shm, bfd, SHM_SIZE);
	if (r) {
		close(bfd);
		errno = -r;
		goto fail;
	}
	struct vmedia_guest_config gc = {
		/* What the Linux driver does with allow_userptr=1. */
		.allow_userptr = true,
		.mem_size = GUEST_MEM,
		.config = config,
		.shm = d->shm.host,
		.shm_size = d->shm.size,
		.transport = { .process_commands = run_commands, .process_eventq = run_eventq,
			       .opaque = d },
	};
	r = vmedia_guest_init(&d->g, &gc);
	if (r)
		goto fail_errno;
	struct vq_queue_config qc;
	vq_fake_queue_config(&d->g.cmdq, &qc);
	r = vq_queue_init(&d->cmdq, &qc);
	if (r)
		goto fail_errno;
	vq_fake_queue_config(&d->g.eventq, &qc);
	r = vq_queue_init(&d->evq, &qc);
	if (r)
		goto fail_errno;
	struct vmedia_device_config dc = {
		.ops = k->ops,
		.priv = d->state,
		.commandq = &d->cmdq,
		.eventq = &d->evq,
		.mem = vmedia_guest_mem(&d->g),
		.shm = &d->shm,
		.config = config,
	};
	r = vmedia_device_init(&d->dev, &dc);
	if (r)
		goto fail_errno;
	/* The driver posted its event buffers before the device existed. */
	vmedia_device_process_eventq(&d->dev);
	return d;
fail_errno:
	errno = -r;
fail:
	dev_destroy(d);
	return NULL;
}

struct gdrv_fd *gdrv_claim(int fd)
{
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return NULL;
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return NULL;
	path[n] = 0;
	const struct gdrv_kind *k = kind_of(path);
	if (!k)
		return NULL;

	pthread_mutex_lock(&gdrv_lock);
	struct gdrv_fd *f = calloc(1, sizeof(*f));
	struct gdrv_dev *d = devices;
	while (d && (d->st_dev != st.st_dev || d->st_ino != st.st_ino))
		d = d->next;
	bool fresh = !d;
	if (f && fresh) {
		d = dev_create(fd, &st, k);
		if (d) {
			d->next = devices;
			devices = d;
		}
	}
	int r = -ENOMEM;
	if (f && d)
		r = vmedia_guest_open(&d->g, &f->sid);
	if (r) {
		if (fresh && d) {
			devices = d->next;
			dev_destroy(d);
		}
		free(f);
		pthread_mutex_unlock(&gdrv_lock);
		errno = -r;
		return NULL;
	}
	d->refs++;
	f->d = d;
	f->fd = fd;
	f->prio = V4L2_PRIORITY_DEFAULT;
	d->prio_count[f->prio]++;
	pthread_mutex_unlock(&gdrv_lock);
	return f;
}

void gdrv_dev_put(struct gdrv_dev *d)
{
	if (--d->refs)
		return;
	for (struct gdrv_dev **pp = &devices; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	dev_destroy(d);
}

void gdrv_release(struct gdrv_fd *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&gdrv_lock);
	struct gdrv_dev *d = f->d;
	gdrv_read_stop(f);
	vmedia_guest_close(&d->g, f->sid);
	d->prio_count[f->prio]--;
	gdrv_dev_put(d);
	free(f);
	pthread_mutex_unlock(&gdrv_lock);
}

/* ---- mappings ---- */

struct mapping {
	struct mapping *next;
	void *addr;
	struct gdrv_dev *d;
	uint64_t driver_addr;
};
static struct mapping *mappings;

int gdrv_mmap(struct gdrv_fd *f, void *hint, size_t len, int prot, int flags, int64_t offset,
	      void **addr)
{
	if (offset < 0 || offset > UINT32_MAX || len == 0)
		return -EINVAL;
	struct mapping *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_lock(&gdrv_lock);
	struct gdrv_dev *d = f->d;
	uint32_t mflags = (prot & PROT_WRITE) ? VMEDIA_MMAP_FLAG_RW : 0;
	uint64_t daddr;
	int r = vmedia_guest_mmap_len(&d->g, f->sid, mflags, (uint32_t)offset, len, &daddr, NULL);
	if (r == 0) {
		void *p = mmap(hint, len, prot, flags, d->shm.fd, (off_t)daddr);
		if (p == MAP_FAILED) {
			r = -errno;
			vmedia_guest_munmap(&d->g, daddr);
		} else {
			*m = (struct mapping){ mappings, p, d, daddr };
			mappings = m;
			d->refs++;
			*addr = p;
		}
	}
	pthread_mutex_unlock(&gdrv_lock);
	if (r)
		free(m);
	return r;
}

int gdrv_munmap(void *addr, size_t len)
{
	pthread_mutex_lock(&gdrv_lock);
	struct mapping **pp = &mappings;
	while (*pp && (*pp)->addr != addr)
		pp = &(*pp)->next;
	struct mapping *m = *pp;
	if (m) {
		*pp = m->next;
		munmap(addr, len);
		vmedia_guest_munmap(&m->d->g, m->driver_addr);
		gdrv_dev_put(m->d);
	}
	pthread_mutex_unlock(&gdrv_lock);
	free(m);
	return m != NULL;
}
