#include <criterion/criterion.h>
#include <errno.h>

#include "vq_chain.h"
#include "vq_fake.h"

Test(smoke, round_trip)
{
	struct vq_fake f;
	cr_assert_eq(vq_fake_init(&f, &(struct vq_fake_config){ .size = 8,
		.features = 1ull << VQ_F_EVENT_IDX | 1ull << VQ_F_INDIRECT_DESC }), 0);
	struct vq_queue_config cfg;
	vq_fake_queue_config(&f, &cfg);
	cfg.notify = vq_fake_interrupt;
	cfg.notify_opaque = &f;
	struct vq_queue q;
	cr_assert_eq(vq_queue_init(&q, &cfg), 0);
	for (int ind = 0; ind < 2; ind++) {
		uint64_t in = vq_fake_alloc_copy(&f, "hello", 5);
		uint64_t out = vq_fake_alloc(&f, 16);
		struct vq_fake_buf bufs[] = { { in, 5, false }, { out, 16, true } };
		int head = vq_fake_add(&f, bufs, 2, ind ? VQ_FAKE_INDIRECT : 0);
		cr_assert_geq(head, 0);
		vq_fake_publish(&f);
		struct iovec iov[8];
		struct vq_chain c;
		vq_chain_init(&c, iov, 8);
		cr_assert_eq(vq_queue_pop(&q, &c), 1);
		struct vq_reader r;
		struct vq_writer w;
		vq_reader_init(&r, &c);
		vq_writer_init(&w, &c);
		char buf[5];
		cr_assert_eq(vq_reader_read_all(&r, buf, 5), 0);
		cr_assert_eq(memcmp(buf, "hello", 5), 0);
		cr_assert_eq(vq_writer_write_all(&w, "world", 5), 0);
		cr_assert_eq(vq_queue_push(&q, &c, vq_writer_written(&w)), 0);
		cr_assert_eq(vq_queue_flush(&q), 1);
		uint32_t id, len;
		cr_assert_eq(vq_fake_get_used(&f, &id, &len), 1);
		cr_assert_eq(id, (uint32_t)head);
		cr_assert_eq(len, 5);
		char back[5];
		vq_fake_read_mem(&f, out, back, 5);
		cr_assert_eq(memcmp(back, "world", 5), 0);
		vq_fake_enable_interrupts(&f);
	}
	cr_assert_eq(vq_fake_num_free(&f), 8);
	vq_fake_destroy(&f);
}
