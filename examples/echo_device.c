/* SPDX-License-Identifier: MIT */
/*
 * echo_device — the smallest device: every chain's readable bytes are copied
 * back into its writable bytes.  The fake driver stands in for a guest and a
 * transport, so the example runs anywhere; the device half is what a VMM
 * would write.  README.md quotes the part between the "README" markers.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vq_chain.h"
#include "vq_fake.h"

/* README: begin */
/* Attach to the rings the transport negotiated.  The memory table lists the
 * guest's RAM; every address the driver hands us is checked against it. */
static int echo_init(struct vq_queue *q, struct vq_mem *mem, const struct vq_mem_region *ram,
		     unsigned nram, uint32_t size, uint64_t features, uint64_t desc_gpa,
		     uint64_t avail_gpa, uint64_t used_gpa, vq_notify_fn notify, void *opaque)
{
	vq_mem_init(mem);
	for (unsigned i = 0; i < nram; i++) {
		int r = vq_mem_add_region(mem, ram[i].gpa, ram[i].size, ram[i].host);
		if (r < 0)
			return r;
	}
	return vq_queue_init(q, &(struct vq_queue_config){
		.size = size, .features = features, .desc_gpa = desc_gpa,
		.avail_gpa = avail_gpa, .used_gpa = used_gpa, .mem = mem,
		.notify = notify, .notify_opaque = opaque });
}

/* On a kick: drain with kicks off, then re-enable them and re-check. */
static int echo_drain(struct vq_queue *q)
{
	struct iovec iov[64];
	struct vq_chain c;
	vq_chain_init(&c, iov, 64);
	for (;;) {
		vq_queue_disable_notify(q);
		int r;
		while ((r = vq_queue_pop(q, &c)) != 0) {
			if (r == -EIO)
				return r; /* ring corrupt: report DEVICE_NEEDS_RESET */
			if (r < 0)
				continue; /* bad chain: already returned, 0 bytes written */
			struct vq_reader rd;
			struct vq_writer wr;
			vq_reader_init(&rd, &c);
			vq_writer_init(&wr, &c);
			char buf[256];
			size_t n;
			while ((n = vq_reader_read(&rd, buf, sizeof(buf))) > 0)
				if (vq_writer_write(&wr, buf, n) < n)
					break; /* no more room */
			vq_queue_push(q, &c, vq_writer_written(&wr));
		}
		vq_queue_flush(q); /* publish the batch, notify if the driver wants it */
		r = vq_queue_enable_notify(q);
		if (r <= 0)
			return r; /* 0: idle until the next kick */
	}
}
/* README: end */

static void on_kick(void *opaque)
{
	*(int *)opaque = 1;
}

int main(void)
{
	static const char *const words[] = { "hello", "virtio", "echo" };
	enum { NWORDS = sizeof(words) / sizeof(words[0]) };
	int kicked = 0;

	/* The "guest": a driver with its own memory and rings. */
	struct vq_fake drv;
	int r = vq_fake_init(&drv, &(struct vq_fake_config){
		.size = 16, .features = 1ull << VQ_F_EVENT_IDX | 1ull << VQ_F_INDIRECT_DESC,
		.kick = on_kick, .kick_opaque = &kicked });
	if (r < 0)
		return 1;

	/* The device, told what a transport would have negotiated. */
	struct vq_queue q;
	struct vq_mem mem;
	r = echo_init(&q, &mem, drv.mem.regions, drv.mem.nregions, drv.size, drv.features,
		      drv.desc_gpa, drv.avail_gpa, drv.used_gpa, vq_fake_interrupt, &drv);
	if (r < 0) {
		fprintf(stderr, "echo_init: %s\n", strerror(-r));
		return 1;
	}

	uint64_t out[NWORDS];
	vq_fake_enable_interrupts(&drv);
	for (unsigned i = 0; i < NWORDS; i++) {
		size_t len = strlen(words[i]);
		out[i] = vq_fake_alloc(&drv, 64);
		struct vq_fake_buf bufs[] = {
			{ vq_fake_alloc_copy(&drv, words[i], len), (uint32_t)len, false },
			{ out[i], 64, true },
		};
		if (vq_fake_add(&drv, bufs, 2, i % 2 ? VQ_FAKE_INDIRECT : 0) < 0)
			return 1;
	}
	vq_fake_publish(&drv);
	if (kicked && echo_drain(&q) < 0)
		return 1;

	unsigned got = 0;
	int bad = 0;
	uint32_t id, len;
	while (vq_fake_get_used(&drv, &id, &len) == 1) {
		char back[65] = { 0 };
		vq_fake_read_mem(&drv, out[got], back, len < 64 ? len : 64);
		printf("chain %u: %u bytes: %s\n", id, len, back);
		bad |= got >= NWORDS || strcmp(back, words[got]) != 0;
		got++;
	}
	bool ok = !bad && got == NWORDS && drv.interrupts == 1;
	printf("interrupts: %llu\n", (unsigned long long)drv.interrupts);
	vq_queue_destroy(&q);
	vq_fake_destroy(&drv);
	return ok ? 0 : 1;
}
