/* SPDX-License-Identifier: MIT */
/*
 * The io_uring reactor (see vql_loop.h for the policy).
 *
 * Every request's user_data is (generation << 32 | slot index) into
 * loop->slots.  Releasing a slot bumps its generation, so completions that
 * were already queued for a released watch/timer are recognised as stale and
 * dropped; that is what lets callers free their objects at once.  The loop
 * counts requests that still owe a final CQE (loop->inflight) so that
 * destroy can reap every one of them before the ring goes away.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "vql_loop.h"

#ifndef IORING_TIMEOUT_MULTISHOT
#define IORING_TIMEOUT_MULTISHOT (1U << 6) /* 6.4 UAPI; liburing 2.3 predates it */
#endif

/* Our own requests whose completion only matters for the inflight count
 * (cancels, probes).  LIBURING_UDATA_TIMEOUT (-1) is liburing's, used for
 * waits with a timeout on kernels without EXT_ARG; it is not ours to count. */
#define UD_INTERNAL (UINT64_MAX - 1)
#define MAX_SLOTS (1u << 24)
#define NO_SLOT UINT32_MAX

enum { KIND_FREE, KIND_WATCH, KIND_TIMER };

struct vql_slot {
	void *obj;
	uint32_t gen;
	uint32_t next_free;
	uint8_t kind;
	/* The kernel holds a request for this slot's current generation. */
	uint8_t armed;
	/* The kernel reads a timeout's timespec at submission, not at prep:
	 * it lives here (loop-owned) so a timer freed before the next submit
	 * cannot leave the SQE pointing at freed memory.  The table is only
	 * grown after submitting what is queued, for the same reason. */
	struct __kernel_timespec ts;
};

uint64_t vql_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t slot_ud(const struct vql_loop *l, uint32_t idx)
{
	return (uint64_t)l->slots[idx].gen << 32 | idx;
}

/* An SQE, submitting what is queued if the SQ is full.  NULL only if the
 * kernel accepted none of them (-EBUSY on a CQ overflow backlog). */
static struct io_uring_sqe *get_sqe(struct vql_loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
	if (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

/* Best effort: if no SQE can be had, the request stays armed under a stale
 * generation; a later multishot CQE for it retries the cancel, and destroy
 * sweeps with IORING_ASYNC_CANCEL_ANY. */
static void cancel_ud(struct vql_loop *l, uint64_t ud)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	if (!sqe)
		return;
	/* ASYNC_CANCEL rather than POLL_REMOVE: for a poll it marks the
	 * request cancelled even while a wake-up owns it, where POLL_REMOVE
	 * returns -EALREADY and a multishot poll would stay armed. */
	io_uring_prep_cancel64(sqe, ud, 0);
	io_uring_sqe_set_data64(sqe, UD_INTERNAL);
	l->inflight++;
}

static int slot_alloc(struct vql_loop *l, uint8_t kind, void *obj, uint32_t *idx_out)
{
	if (l->free_head == NO_SLOT) {
		uint32_t n = l->nslots ? l->nslots * 2 : 64;
		if (n > MAX_SLOTS)
			return -ENOMEM;
		if (io_uring_sq_ready(&l->ring))
			io_uring_submit(&l->ring);
		struct vql_slot *s = realloc(l->slots, n * sizeof(*s));
		if (!s)
			return -ENOMEM;
		for (uint32_t i = l->nslots; i < n; i++)
			s[i] = (struct vql_slot){ .gen = 1, .next_free = i + 1 < n ? i + 1 : NO_SLOT };
		l->free_head = l->nslots;
		l->slots = s;
		l->nslots = n;
	}
	uint32_t idx = l->free_head;
	struct vql_slot *s = &l->slots[idx];
	l->free_head = s->next_free;
	s->kind = kind;
	s->obj = obj;
	s->armed = 0;
	*idx_out = idx;
	return 0;
}

static void slot_release(struct vql_loop *l, uint32_t idx)
{
	struct vql_slot *s = &l->slots[idx];
	if (s->armed)
		cancel_ud(l, slot_ud(l, idx));
	s->gen++;
	if (s->gen == 0)
		s->gen = 1;
	s->kind = KIND_FREE;
	s->obj = NULL;
	s->armed = 0;
	s->next_free = l->free_head;
	l->free_head = idx;
}

static bool slot_is(const struct vql_loop *l, uint32_t idx, uint32_t gen, const void *obj)
{
	return l && idx < l->nslots && l->slots[idx].gen == gen && l->slots[idx].obj == obj &&
	       l->slots[idx].kind != KIND_FREE;
}

/* ---- watches ---------------------------------------------------------- */

static int arm_poll(struct vql_loop *l, uint32_t idx, const struct vql_watch *w)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	if (!sqe)
		return -EBUSY;
	if (l->features & VQL_FEAT_POLL_MULTISHOT)
		io_uring_prep_poll_multishot(sqe, w->fd, w->mask);
	else
		io_uring_prep_poll_add(sqe, w->fd, w->mask);
	io_uring_sqe_set_data64(sqe, slot_ud(l, idx));
	l->slots[idx].armed = 1;
	l->inflight++;
	return 0;
}

static int watch_start(struct vql_loop *l, struct vql_watch *w, int fd, unsigned mask,
		       bool is_eventfd, void *cb, void *opaque)
{
	/* w->loop is compared, not followed: @w may be uninitialised. */
	if (w->loop == l && slot_is(l, w->slot, w->gen, w))
		return -EBUSY;
	uint32_t idx;
	int r = slot_alloc(l, KIND_WATCH, w, &idx);
	if (r)
		return r;
	*w = (struct vql_watch){ .loop = l, .slot = idx, .gen = l->slots[idx].gen, .fd = fd,
				 .mask = mask, .is_eventfd = is_eventfd, .opaque = opaque };
	if (is_eventfd)
		w->cb.efn = (vql_eventfd_fn)cb;
	else
		w->cb.fn = (vql_watch_fn)cb;
	r = arm_poll(l, idx, w);
	if (r) {
		slot_release(l, idx);
		return r;
	}
	if (w != &l->wake)
		l->live++;
	return 0;
}

int vql_watch_fd(struct vql_loop *loop, struct vql_watch *w, int fd, unsigned mask,
		 vql_watch_fn fn, void *opaque)
{
	return watch_start(loop, w, fd, mask, false, (void *)fn, opaque);
}

int vql_watch_eventfd(struct vql_loop *loop, struct vql_watch *w, int fd, vql_eventfd_fn fn,
		      void *opaque)
{
	/* The drain must not block when a stale wake-up finds it empty. */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return -errno;
	return watch_start(loop, w, fd, POLLIN, true, (void *)fn, opaque);
}

bool vql_watch_active(const struct vql_watch *w)
{
	return slot_is(w->loop, w->slot, w->gen, w);
}

int vql_unwatch(struct vql_watch *w)
{
	if (!vql_watch_active(w))
		return -ENOENT;
	struct vql_loop *l = w->loop;
	slot_release(l, w->slot);
	if (w != &l->wake)
		l->live--;
	return 0;
}

static void on_poll(struct vql_loop *l, uint32_t idx, int res)
{
	struct vql_watch *w = l->slots[idx].obj;
	uint32_t gen = l->slots[idx].gen;
	unsigned revents;
	if (res < 0)
		revents = res == -EBADF ? POLLNVAL : POLLERR;
	else
		revents = (unsigned)res;
	/* An fd in error or hung up stays ready for ever: re-arming would
	 * spin.  Report it once and end the watch. */
	bool ended = revents & (POLLERR | POLLHUP | POLLNVAL);
	if (ended) {
		slot_release(l, idx);
		if (w != &l->wake)
			l->live--;
	}
	l->stats.callbacks++;
	if (w->is_eventfd) {
		uint64_t count = 0;
		if (!ended && (revents & POLLIN)) {
			if (read(w->fd, &count, sizeof(count)) != sizeof(count))
				count = 0; /* already drained by an earlier wake-up */
		}
		if (count || ended)
			w->cb.efn(w, count, w->opaque);
	} else {
		w->cb.fn(w, revents, w->opaque);
	}
	/* @w may be gone: only the loop-owned slot says whether it is live. */
	if (!ended && slot_is(l, idx, gen, w) && !l->slots[idx].armed)
		arm_poll(l, idx, w);
}

/* ---- timers ----------------------------------------------------------- */

static int arm_timeout(struct vql_loop *l, uint32_t idx, uint64_t deadline_ns)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	if (!sqe)
		return -EBUSY;
	struct vql_slot *s = &l->slots[idx];
	s->ts.tv_sec = (long long)(deadline_ns / 1000000000ull);
	s->ts.tv_nsec = (long long)(deadline_ns % 1000000000ull);
	io_uring_prep_timeout(sqe, &s->ts, 0, IORING_TIMEOUT_ABS);
	io_uring_sqe_set_data64(sqe, slot_ud(l, idx));
	s->armed = 1;
	l->inflight++;
	return 0;
}

bool vql_timer_active(const struct vql_timer *t)
{
	return slot_is(t->loop, t->slot, t->gen, t);
}

int vql_timer_start(struct vql_loop *loop, struct vql_timer *t, uint64_t first_ns,
		    uint64_t period_ns, vql_timer_fn fn, void *opaque)
{
	if (t->loop == loop)
		vql_timer_cancel(t);
	uint32_t idx;
	int r = slot_alloc(loop, KIND_TIMER, t, &idx);
	if (r)
		return r;
	*t = (struct vql_timer){ .loop = loop, .slot = idx, .gen = loop->slots[idx].gen,
				 .deadline_ns = vql_now_ns() + first_ns, .period_ns = period_ns,
				 .fn = fn, .opaque = opaque };
	r = arm_timeout(loop, idx, t->deadline_ns);
	if (r) {
		slot_release(loop, idx);
		return r;
	}
	loop->live++;
	return 0;
}

int vql_timer_cancel(struct vql_timer *t)
{
	if (!vql_timer_active(t))
		return -ENOENT;
	slot_release(t->loop, t->slot);
	t->loop->live--;
	return 0;
}

static void on_timeout(struct vql_loop *l, uint32_t idx, int res)
{
	struct vql_timer *t = l->slots[idx].obj;
	uint32_t gen = l->slots[idx].gen;
	uint64_t exp;
	if (res != -ETIME) {
		/* Not an expiry (-ECANCELED by someone else, -EINVAL...):
		 * disarmed; 0 expirations tells the callback so. */
		slot_release(l, idx);
		l->live--;
		exp = 0;
	} else if (!t->period_ns) {
		slot_release(l, idx);
		l->live--;
		exp = 1;
	} else {
		/* Count every period that has elapsed and aim at the next
		 * deadline on the original grid, so lateness never shifts it. */
		uint64_t now = vql_now_ns();
		exp = 1;
		if (now >= t->deadline_ns)
			exp += (now - t->deadline_ns) / t->period_ns;
		t->deadline_ns += exp * t->period_ns;
	}
	l->stats.callbacks++;
	t->fn(t, exp, t->opaque);
	if (slot_is(l, idx, gen, t) && !l->slots[idx].armed)
		arm_timeout(l, idx, t->deadline_ns);
}

/* ---- dispatch --------------------------------------------------------- */

static void dispatch(struct vql_loop *l, uint64_t ud, int res, unsigned flags)
{
	if (ud == LIBURING_UDATA_TIMEOUT)
		return;
	bool more = flags & IORING_CQE_F_MORE;
	if (!more)
		l->inflight--;
	if (ud == UD_INTERNAL)
		return;
	uint32_t idx = (uint32_t)ud, gen = (uint32_t)(ud >> 32);
	if (idx >= l->nslots || l->slots[idx].gen != gen || l->slots[idx].kind == KIND_FREE) {
		l->stats.stale++;
		/* A multishot poll that outlived its cancel: cancel again. */
		if (more)
			cancel_ud(l, ud);
		return;
	}
	if (!more)
		l->slots[idx].armed = 0;
	if (l->slots[idx].kind == KIND_WATCH)
		on_poll(l, idx, res);
	else
		on_timeout(l, idx, res);
}

static int reap(struct vql_loop *l)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0, max = l->ring.cq.ring_entries;
	/* Consume each CQE before its callback runs, so a callback that
	 * submits (and so may complete requests inline) never sees the CQ
	 * full behind an entry that is being dispatched. */
	while (n < max && io_uring_peek_cqe(&l->ring, &cqe) == 0) {
		uint64_t ud = cqe->user_data;
		int res = cqe->res;
		unsigned flags = cqe->flags;
		io_uring_cqe_seen(&l->ring, cqe);
		l->stats.cqes++;
		dispatch(l, ud, res, flags);
		n++;
	}
	return (int)n;
}

int vql_loop_run_once(struct vql_loop *l, int64_t timeout_ns)
{
	int r = 0;
	if (io_uring_cq_ready(&l->ring) == 0 && timeout_ns != 0) {
		if (timeout_ns < 0) {
			r = io_uring_submit_and_wait(&l->ring, 1);
		} else {
			struct io_uring_cqe *cqe;
			struct __kernel_timespec ts = {
				.tv_sec = timeout_ns / 1000000000,
				.tv_nsec = timeout_ns % 1000000000,
			};
			r = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
		}
	} else if (io_uring_sq_ready(&l->ring)) {
		r = io_uring_submit(&l->ring);
	}
	if (r < 0 && r != -ETIME && r != -EBUSY && r != -EAGAIN)
		return r;
	/* Re-arms queued by callbacks are submitted by the next call, together
	 * with its wait: one system call per iteration. */
	return reap(l);
}

int vql_loop_run(struct vql_loop *l)
{
	/* A registered ring fd belongs to the registering thread, so it is
	 * taken here, on the thread that runs the loop, and given back. */
	bool reg = (l->features & VQL_FEAT_REG_RING_FD) &&
		   io_uring_register_ring_fd(&l->ring) == 1;
	int r = 0;
	while (!__atomic_exchange_n(&l->stop, 0, __ATOMIC_ACQ_REL)) {
		r = vql_loop_run_once(l, -1);
		if (r < 0 && r != -EINTR)
			break;
		r = 0;
	}
	if (reg)
		io_uring_unregister_ring_fd(&l->ring);
	return r;
}

static void wake(struct vql_loop *l)
{
	uint64_t one = 1;
	/* write(2), not an io_uring write: see the header.  It cannot fail
	 * short of a counter at 2^64-2, which a wake-up never reaches. */
	ssize_t r = write(l->wake_fd, &one, sizeof(one));
	(void)r;
}

void vql_loop_stop(struct vql_loop *l)
{
	__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
	wake(l);
}

int vql_loop_post(struct vql_loop *l, vql_post_fn fn, void *opaque)
{
	pthread_mutex_lock(&l->post_lock);
	if (l->nposted == l->cap_posted) {
		uint32_t n = l->cap_posted ? l->cap_posted * 2 : 64;
		struct vql_post_item *p = n > l->cap_posted ? realloc(l->posted, n * sizeof(*p)) : NULL;
		if (!p) {
			pthread_mutex_unlock(&l->post_lock);
			return -ENOMEM;
		}
		l->posted = p;
		l->cap_posted = n;
	}
	l->posted[l->nposted++] = (struct vql_post_item){ fn, opaque };
	/* Only the post that makes the queue non-empty wakes the loop: the
	 * loop empties the queue under this lock after draining the eventfd,
	 * so any later post sees it empty again and wakes it again. */
	bool first = l->nposted == 1;
	pthread_mutex_unlock(&l->post_lock);
	if (first)
		wake(l);
	return 0;
}

static void on_wake(struct vql_watch *w, uint64_t count, void *opaque)
{
	struct vql_loop *l = opaque;
	(void)w;
	(void)count;
	l->stats.wakeups++;
	pthread_mutex_lock(&l->post_lock);
	struct vql_post_item *items = l->posted;
	uint32_t n = l->nposted, cap = l->cap_posted;
	l->posted = l->running;
	l->cap_posted = l->cap_running;
	l->nposted = 0;
	pthread_mutex_unlock(&l->post_lock);
	/* Callbacks that post land in the other array and run next time. */
	l->running = items;
	l->cap_running = cap;
	for (uint32_t i = 0; i < n; i++) {
		l->stats.callbacks++;
		items[i].fn(items[i].opaque);
	}
}

/* ---- init / destroy --------------------------------------------------- */

/* Reap until no request owes a completion, for at most @budget_ns. */
static void reap_all(struct vql_loop *l, uint64_t budget_ns)
{
	uint64_t end = vql_now_ns() + budget_ns;
	while (l->inflight) {
		uint64_t now = vql_now_ns();
		if (now >= end)
			break;
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 };
		io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
		reap(l);
	}
}

/* Wait (at most 1 s) for the completion of probe request @ud, dispatching
 * whatever else completes first; accounted as dispatch() does. */
static int wait_ud(struct vql_loop *l, uint64_t ud, int *res, unsigned *flags)
{
	uint64_t end = vql_now_ns() + 1000000000ull;
	while (vql_now_ns() < end) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 };
		if (io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL) < 0)
			continue;
		while (io_uring_peek_cqe(&l->ring, &cqe) == 0) {
			uint64_t u = cqe->user_data;
			int r = cqe->res;
			unsigned f = cqe->flags;
			io_uring_cqe_seen(&l->ring, cqe);
			if (u != ud) {
				dispatch(l, u, r, f);
				continue;
			}
			if (!(f & IORING_CQE_F_MORE))
				l->inflight--;
			*res = r;
			*flags = f;
			return 0;
		}
	}
	return -ETIMEDOUT;
}

/* Which features the running kernel takes, found by trying them on the
 * ring rather than from version numbers (vendor kernels backport).  The
 * probe tags (1, 2) are slot indexes of generation 0, which no slot has, so
 * their late completions are dropped as stale. */
static void probe(struct vql_loop *l, unsigned flags)
{
	struct io_uring_sqe *sqe;
	int res;
	unsigned f;

	/* Multishot poll: a ready eventfd completes at once, with F_MORE if
	 * the kernel kept the request armed, -EINVAL if it does not know the
	 * flag. */
	if (!(flags & VQL_LOOP_NO_MULTISHOT)) {
		wake(l);
		sqe = get_sqe(l);
		io_uring_prep_poll_multishot(sqe, l->wake_fd, POLLIN);
		io_uring_sqe_set_data64(sqe, 1);
		l->inflight++;
		if (wait_ud(l, 1, &res, &f) == 0 && (f & IORING_CQE_F_MORE)) {
			if (res > 0)
				l->features |= VQL_FEAT_POLL_MULTISHOT;
			cancel_ud(l, 1);
		}
		uint64_t v;
		ssize_t r = read(l->wake_fd, &v, sizeof(v));
		(void)r;
	}
	/* Multishot timeout (6.4): one shot of 1 ns, -EINVAL where unknown. */
	sqe = get_sqe(l);
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = 1 };
	io_uring_prep_timeout(sqe, &ts, 1, IORING_TIMEOUT_MULTISHOT);
	io_uring_sqe_set_data64(sqe, 2);
	l->inflight++;
	if (wait_ud(l, 2, &res, &f) == 0 && res == -ETIME)
		l->features |= VQL_FEAT_TIMEOUT_MULTISHOT;
	reap_all(l, 1000000000ull);

	if (io_uring_register_ring_fd(&l->ring) == 1) {
		io_uring_unregister_ring_fd(&l->ring);
		l->features |= VQL_FEAT_REG_RING_FD;
	}
}

int vql_loop_init_flags(struct vql_loop *l, unsigned entries, unsigned flags)
{
	memset(l, 0, sizeof(*l));
	l->free_head = NO_SLOT;
	l->wake_fd = -1;
	if (!entries)
		entries = 256;

	struct io_uring_params p = { .flags = IORING_SETUP_SUBMIT_ALL };
	int r = io_uring_queue_init_params(entries, &l->ring, &p);
	if (r == -EINVAL) { /* SUBMIT_ALL is 5.18 */
		memset(&p, 0, sizeof(p));
		r = io_uring_queue_init_params(entries, &l->ring, &p);
	}
	if (r < 0)
		return r;
	if (p.features & IORING_FEAT_EXT_ARG)
		l->features |= VQL_FEAT_EXT_ARG;

	struct io_uring_probe *pr = io_uring_get_probe_ring(&l->ring);
	if (pr) {
		bool ok = io_uring_opcode_supported(pr, IORING_OP_POLL_ADD) &&
			  io_uring_opcode_supported(pr, IORING_OP_TIMEOUT) &&
			  io_uring_opcode_supported(pr, IORING_OP_ASYNC_CANCEL);
		io_uring_free_probe(pr);
		if (!ok) {
			io_uring_queue_exit(&l->ring);
			return -ENOSYS;
		}
	}

	l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->wake_fd < 0) {
		r = -errno;
		io_uring_queue_exit(&l->ring);
		return r;
	}
	pthread_mutex_init(&l->post_lock, NULL);
	probe(l, flags);
	r = vql_watch_eventfd(l, &l->wake, l->wake_fd, on_wake, l);
	if (r) {
		vql_loop_destroy(l);
		return r;
	}
	return 0;
}

int vql_loop_init(struct vql_loop *loop, unsigned entries)
{
	return vql_loop_init_flags(loop, entries, 0);
}

void vql_loop_destroy(struct vql_loop *l)
{
	for (uint32_t i = 0; i < l->nslots; i++)
		if (l->slots[i].kind != KIND_FREE)
			slot_release(l, i);
	l->live = 0;
	reap_all(l, 2000000000ull);
	if (l->inflight) {
		/* Something outlived its cancel: sweep (5.19+). */
		struct io_uring_sqe *sqe = get_sqe(l);
		if (sqe) {
			io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
			io_uring_sqe_set_data64(sqe, UD_INTERNAL);
			l->inflight++;
			reap_all(l, 1000000000ull);
		}
	}
	io_uring_queue_exit(&l->ring);
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	pthread_mutex_destroy(&l->post_lock);
	free(l->slots);
	free(l->posted);
	free(l->running);
	memset(l, 0, sizeof(*l));
	l->wake_fd = -1;
}
