/* SPDX-License-Identifier: MIT */
/*
 * shm — MMAP buffer memory: the backing of shared-memory region 0 and the
 * allocator of buffer ranges inside it.
 *
 * Policy:
 *  - A buffer's range offset is at once its V4L2 mem_offset and the
 *    driver_addr of its mapping (the transport shows the backing at the same
 *    offsets), so MMAP allocates no addresses: it only counts mappings.
 *  - A range lives while the device owns its buffer OR the driver maps it.
 *    Freeing a mapped range only retires it (no new MMAP, not reusable); the
 *    last MUNMAP releases it.  That is how a mapping outlives its buffer and
 *    its session, as the spec demands.
 *  - Ranges are page-aligned and page-rounded, first-fit, in a table of
 *    max_buffers entries kept sorted by offset.  The table is allocated once
 *    at init; nothing here allocates afterwards.
 *  - A range is zeroed over its whole pages when allocated: the driver maps
 *    whole pages, so a stale tail would show it a previous buffer's data.
 */
#define _GNU_SOURCE /* memfd_create, fallocate */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmedia_internal.h"

/* mem_offset is 32-bit, so the region cannot be larger. */
#define SHM_MAX_SIZE (1ull << 32)

struct vmedia_mmap_range {
	uint64_t offset; /* in the region, page-aligned: mem_offset and driver_addr */
	uint64_t len;    /* exactly what the device asked for: MMAP reports it */
	uint64_t span;   /* len rounded up to pages: what the range occupies and maps */
	uint32_t maps;   /* MMAPs not yet MUNMAPped */
	bool live;       /* the device still owns the buffer (not freed) */
	bool rw;         /* the transport was asked for a writable mapping */
};

/* The host page: the unit of mmap(), of SHMEM_MAP and of hole punching.  The
 * guest's page may differ; offsets aligned to a 4 KiB host page suit a 4 KiB
 * guest, the Linux driver's only tested case. */
static uint64_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? (uint64_t)p : 4096;
}

static uint64_t round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) / align * align;
}

/* ------------------------------------------------------------------------ */
/* The backing. */

static int check_size(uint64_t size)
{
	return size == 0 || size % page_size() || size > SHM_MAX_SIZE ? -EINVAL : 0;
}

/* Map @fd shared, so the device's writes are what the transport exposes. */
static int map_backing(struct vmedia_shm *shm, int fd, uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*shm = (struct vmedia_shm){ .fd = fd, .host = p, .size = size };
	return 0;
}

/*
 * Returns 0, -EINVAL if @size is 0, not a page multiple or above 4 GiB, or the
 * -errno of memfd_create / ftruncate / mmap.  ftruncate makes the memfd
 * sparse: pages cost memory only once a buffer is written.
 */
int vmedia_shm_init_memfd(struct vmedia_shm *shm, uint64_t size)
{
	int r = check_size(size);
	if (r)
		return r;
	int fd = memfd_create("vqmedia-mmap", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0)
		r = -errno;
	else
		r = map_backing(shm, fd, size);
	if (r)
		close(fd);
	return r;
}

/*
 * On success @shm owns @fd (vmedia_shm_destroy closes it); on failure the
 * caller still does.  A file larger than @size is left alone and only its
 * first @size bytes are used.  Returns 0, -EINVAL for a bad @size, -EBADF, or
 * the -errno of fstat / ftruncate / mmap.
 */
int vmedia_shm_init_fd(struct vmedia_shm *shm, int fd, uint64_t size)
{
	int r = check_size(size);
	if (r)
		return r;
	if (fd < 0)
		return -EBADF;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < size && ftruncate(fd, (off_t)size) < 0)
		return -errno;
	return map_backing(shm, fd, size);
}

void vmedia_shm_destroy(struct vmedia_shm *shm)
{
	if (shm->host)
		munmap(shm->host, shm->size);
	if (shm->fd >= 0)
		close(shm->fd);
	*shm = (struct vmedia_shm){ .fd = -1 };
}

/* ------------------------------------------------------------------------ */
/* The range table. */

int vmedia_mmap_init(struct vmedia_device *dev, uint32_t max_buffers)
{
	if (max_buffers == 0)
		return -EINVAL;
	dev->ranges = calloc(max_buffers, sizeof(*dev->ranges));
	if (!dev->ranges)
		return -ENOMEM;
	dev->nranges = 0;
	dev->max_buffers = max_buffers;
	return 0;
}

/* Whatever the driver still maps goes away with the device. */
void vmedia_mmap_destroy(struct vmedia_device *dev)
{
	const struct vmedia_shm *shm = dev->shm;
	for (uint32_t i = 0; i < dev->nranges; i++) {
		const struct vmedia_mmap_range *r = &dev->ranges[i];
		if (r->maps && shm && shm->ops && shm->ops->unmap)
			shm->ops->unmap(shm->opaque, r->offset, r->span);
	}
	free(dev->ranges);
	dev->ranges = NULL;
	dev->nranges = 0;
	dev->max_buffers = 0;
}

/* The range starting at @offset, or NULL.  Binary search: the table is sorted. */
static struct vmedia_mmap_range *find(struct vmedia_device *dev, uint64_t offset)
{
	uint32_t lo = 0, hi = dev->nranges;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		struct vmedia_mmap_range *r = &dev->ranges[mid];
		if (r->offset == offset)
			return r;
		if (r->offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void release(struct vmedia_device *dev, struct vmedia_mmap_range *r)
{
	uint32_t i = (uint32_t)(r - dev->ranges);
	memmove(r, r + 1, (dev->nranges - i - 1) * sizeof(*r));
	dev->nranges--;
}

/*
 * Punching a hole frees the pages rather than writing zeros into them: free
 * for a range never touched (the common case in a fresh sparse memfd), it
 * hands memory back when buffers are reallocated, and the device's first
 * writes fault in pages the kernel has zeroed anyway, where memset would
 * fault each page in only to zero it.  Nobody maps the range at this point,
 * so no mapping sees the pages go.  A backing without an fd, or a filesystem
 * that cannot punch, gets memset.
 */
static void zero_range(struct vmedia_shm *shm, uint64_t offset, uint64_t len)
{
	if (shm->fd >= 0 &&
	    fallocate(shm->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)len) == 0)
		return;
	memset(shm->host + offset, 0, len);
}

/*
 * Beyond the header's -ENOSPC / -ENODEV: -EINVAL for @len 0, which no MMAP
 * could report.  Retired ranges (freed, still mapped) count against
 * max_buffers: they occupy the region like any other.
 */
int vmedia_mmap_alloc(struct vmedia_device *dev, uint32_t len, uint32_t *offset, void **host)
{
	struct vmedia_shm *shm = dev->shm;
	if (!shm)
		return -ENODEV;
	if (len == 0)
		return -EINVAL;
	if (dev->nranges >= dev->max_buffers)
		return -ENOSPC;
	uint64_t span = round_up(len, page_size());

	/* First fit: the gap before range i runs from the end of range i-1. */
	uint64_t start = 0;
	uint32_t i = 0;
	for (; i < dev->nranges; i++) {
		if (dev->ranges[i].offset - start >= span)
			break;
		start = dev->ranges[i].offset + dev->ranges[i].span;
	}
	if (start > shm->size || shm->size - start < span)
		return -ENOSPC;

	zero_range(shm, start, span);
	memmove(&dev->ranges[i + 1], &dev->ranges[i], (dev->nranges - i) * sizeof(dev->ranges[0]));
	dev->ranges[i] = (struct vmedia_mmap_range){
		.offset = start, .len = len, .span = span, .live = true
	};
	dev->nranges++;
	*offset = (uint32_t)start;
	*host = shm->host + start;
	return 0;
}

int vmedia_mmap_free(struct vmedia_device *dev, uint32_t offset)
{
	struct vmedia_mmap_range *r = find(dev, offset);
	if (!r || !r->live)
		return -ENOENT;
	r->live = false;
	if (r->maps == 0)
		release(dev, r);
	return 0;
}

/*
 * An offset that is not page-aligned starts no range, so it gets -EINVAL with
 * every other unknown offset.  A retired range cannot be mapped anew: its
 * buffer is gone, only existing mappings keep it.  A read-only request on a
 * writable mapping keeps it writable (the transport maps a range once); a
 * writable request on a read-only one asks the transport to upgrade.  A
 * transport error leaves the count as it was.  Beyond the header: -EOVERFLOW
 * if the driver maps one buffer 2^32-1 times.
 */
int vmedia_mmap_map(struct vmedia_device *dev, uint32_t offset, bool rw, uint64_t *addr,
		    uint64_t *len)
{
	struct vmedia_shm *shm = dev->shm;
	if (!shm)
		return -ENODEV;
	struct vmedia_mmap_range *r = find(dev, offset);
	if (!r || !r->live)
		return -EINVAL;
	if (r->maps == UINT32_MAX)
		return -EOVERFLOW;
	if ((r->maps == 0 || (rw && !r->rw)) && shm->ops && shm->ops->map) {
		/* The whole span: the driver maps whole pages. */
		int ret = shm->ops->map(shm->opaque, r->offset, r->span, rw);
		if (ret < 0)
			return ret;
	}
	r->maps++;
	r->rw = r->rw || rw;
	*addr = r->offset;
	*len = r->len;
	return 0;
}

int vmedia_mmap_unmap(struct vmedia_device *dev, uint64_t addr)
{
	struct vmedia_mmap_range *r = find(dev, addr);
	if (!r || r->maps == 0)
		return -EINVAL;
	if (--r->maps)
		return 0;
	const struct vmedia_shm *shm = dev->shm;
	if (shm && shm->ops && shm->ops->unmap)
		shm->ops->unmap(shm->opaque, r->offset, r->span);
	r->rw = false;
	if (!r->live)
		release(dev, r);
	return 0;
}
