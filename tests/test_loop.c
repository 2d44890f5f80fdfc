/* SPDX-License-Identifier: MIT */
/*
 * loop/: the io_uring reactor.  Tests assert counts and order, never timings;
 * every wait is bounded so a broken loop fails instead of hanging.
 *
 * Built twice: as a criterion suite (test_loop) and, with PLAIN_TEST, as
 * a plain program (test_loop_plain) that runs the same tests in sequence —
 * criterion's runner is not ThreadSanitizer-clean, so TSan runs that one.
 * Assertions only ever run on the test's own thread; helper threads record
 * failures in counters the test then checks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "vql_loop.h"

#include "dual_test.h"

#define MODES 2 /* 0: multishot where the kernel has it; 1: single-shot forced */
static const unsigned mode_flags[MODES] = { 0, VQL_LOOP_NO_MULTISHOT };

static void loop_init(struct vql_loop *l, unsigned flags)
{
	int r = vql_loop_init_flags(l, 64, flags);
	DUAL_ASSERT(r == 0);
	/* Multishot where the kernel has it (5.13+); never when told not to. */
	if (flags & VQL_LOOP_NO_MULTISHOT)
		DUAL_ASSERT(!(l->features & VQL_FEAT_POLL_MULTISHOT));
}

/* Run until *@done says so, at most ~10 s; a loop that never gets there
 * fails the test rather than hanging it. */
static void run_until(struct vql_loop *l, bool (*done)(void *), void *arg)
{
	uint64_t end = vql_now_ns() + 10000000000ull;
	while (!done(arg)) {
		DUAL_ASSERT(vql_now_ns() < end);
		int r = vql_loop_run_once(l, 50000000);
		DUAL_ASSERT(r >= 0 || r == -EINTR);
	}
}

/* Let the loop run for ~@ms with nothing expected of it; returns the
 * completions it processed. */
static unsigned run_for(struct vql_loop *l, unsigned ms)
{
	uint64_t end = vql_now_ns() + ms * 1000000ull;
	unsigned n = 0;
	while (vql_now_ns() < end) {
		int r = vql_loop_run_once(l, 2000000);
		if (r > 0)
			n += (unsigned)r;
	}
	return n;
}

static void efd_write(int fd, uint64_t v)
{
	DUAL_ASSERT(write(fd, &v, sizeof(v)) == sizeof(v));
}

/* ---- eventfd kicks ---------------------------------------------------- */

struct kick {
	struct vql_watch w;
	uint64_t sum, calls, target;
};

static void on_kick(struct vql_watch *w, uint64_t count, void *opaque)
{
	struct kick *k = opaque;
	(void)w;
	k->sum += count;
	k->calls++;
}

static bool kick_done(void *p)
{
	struct kick *k = p;
	return k->sum >= k->target;
}

struct kicker {
	int fd;
	unsigned n;
	int failed;
};

static void *kicker_main(void *p)
{
	struct kicker *k = p;
	for (unsigned i = 0; i < k->n; i++) {
		uint64_t one = 1;
		if (write(k->fd, &one, sizeof(one)) != sizeof(one))
			__atomic_store_n(&k->failed, 1, __ATOMIC_RELAXED);
		if ((i & 63) == 0)
			sched_yield();
	}
	return NULL;
}

static void kick_count(unsigned flags)
{
	struct vql_loop l;
	loop_init(&l, flags);
	int efd = eventfd(0, EFD_CLOEXEC); /* blocking: the watch must cope */
	DUAL_ASSERT(efd >= 0);
	struct kick k = { 0 };
	DUAL_ASSERT(vql_watch_eventfd(&l, &k.w, efd, on_kick, &k) == 0);

	/* One thread: each kick is seen with its exact value. */
	for (uint64_t i = 1; i <= 20; i++) {
		efd_write(efd, i);
		k.target += i;
		run_until(&l, kick_done, &k);
		DUAL_ASSERT(k.sum == k.target);
		DUAL_ASSERT(k.calls == i);
	}
	/* Kicks that pile up while the loop is busy coalesce; none is lost. */
	for (int i = 0; i < 5; i++)
		efd_write(efd, 1);
	k.target += 5;
	run_until(&l, kick_done, &k);
	DUAL_ASSERT(k.sum == k.target);

	/* From another thread. */
	struct kicker kt = { .fd = efd, .n = 20000 };
	pthread_t th;
	k.target += kt.n;
	DUAL_ASSERT(pthread_create(&th, NULL, kicker_main, &kt) == 0);
	run_until(&l, kick_done, &k);
	pthread_join(th, NULL);
	DUAL_ASSERT(!kt.failed);
	DUAL_ASSERT(k.sum == k.target);
	/* Nothing more arrives: no duplicate counts. */
	run_for(&l, 20);
	DUAL_ASSERT(k.sum == k.target);
	DUAL_ASSERT(vql_unwatch(&k.w) == 0);
	DUAL_ASSERT(vql_unwatch(&k.w) == -ENOENT);
	vql_loop_destroy(&l);
	close(efd);
}

DUAL_TEST(loop, eventfd_kick_count_multishot) { kick_count(mode_flags[0]); }
DUAL_TEST(loop, eventfd_kick_count_singleshot) { kick_count(mode_flags[1]); }

/* ---- many watches ----------------------------------------------------- */

#define NPIPES 200

struct pw {
	struct vql_watch w;
	int rd, wr;
	unsigned bytes, calls;
};

static unsigned pw_total;

static void on_pipe(struct vql_watch *w, unsigned revents, void *opaque)
{
	struct pw *p = opaque;
	(void)w;
	p->calls++;
	if (revents & POLLIN) {
		char buf[64];
		ssize_t r;
		while ((r = read(p->rd, buf, sizeof(buf))) > 0) {
			p->bytes += (unsigned)r;
			pw_total += (unsigned)r;
		}
	}
}

static bool pw_done(void *target)
{
	return pw_total >= *(unsigned *)target;
}

static void many_watches(unsigned flags)
{
	struct vql_loop l;
	loop_init(&l, flags);
	struct pw *p = calloc(NPIPES, sizeof(*p));
	DUAL_ASSERT(p);
	pw_total = 0;
	for (int i = 0; i < NPIPES; i++) {
		int fds[2];
		DUAL_ASSERT(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
		p[i].rd = fds[0];
		p[i].wr = fds[1];
		DUAL_ASSERT(vql_watch_fd(&l, &p[i].w, p[i].rd, POLLIN, on_pipe, &p[i]) == 0);
	}
	/* Three rounds; pipe i gets i % 7 + 1 bytes per round. */
	unsigned target = 0;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < NPIPES; i++) {
			char buf[8] = { 0 };
			unsigned n = (unsigned)(i % 7 + 1);
			DUAL_ASSERT(write(p[i].wr, buf, n) == (ssize_t)n);
			target += n;
		}
		run_until(&l, pw_done, &target);
		DUAL_ASSERT(pw_total == target);
	}
	for (int i = 0; i < NPIPES; i++) {
		DUAL_ASSERT(p[i].bytes == 3u * (unsigned)(i % 7 + 1));
		DUAL_ASSERT(p[i].calls >= 3);
		DUAL_ASSERT(vql_unwatch(&p[i].w) == 0);
		close(p[i].rd);
		close(p[i].wr);
	}
	DUAL_ASSERT(l.live == 0);
	vql_loop_destroy(&l);
	free(p);
}

DUAL_TEST(loop, many_watches_multishot) { many_watches(mode_flags[0]); }
DUAL_TEST(loop, many_watches_singleshot) { many_watches(mode_flags[1]); }

/* ---- unwatch from callbacks ------------------------------------------- */

struct selfw {
	struct vql_watch w;
	int fd;
	unsigned *calls;
};

static void on_unwatch_free(struct vql_watch *w, uint64_t count, void *opaque)
{
	struct selfw *s = opaque;
	(void)count;
	(*s->calls)++;
	/* Unwatch ourselves and free our memory while the loop is inside our
	 * dispatch: ASan sees any later touch by the loop. */
	int r = vql_unwatch(w);
	if (r == 0)
		free(s);
}

static bool calls_nonzero(void *p)
{
	return *(unsigned *)p > 0;
}

struct pair {
	struct vql_watch *w[2];
	void *mem[2];
	unsigned calls;
};

static void pair_cb(struct vql_watch *w, uint64_t count, void *opaque)
{
	struct pair *pr = opaque;
	(void)count;
	pr->calls++;
	/* Whichever runs first removes and frees the other, whose kick is
	 * already pending: its callback must never run. */
	for (int i = 0; i < 2; i++) {
		if (pr->w[i] && pr->w[i] != w) {
			DUAL_ASSERT(vql_unwatch(pr->w[i]) == 0);
			free(pr->mem[i]);
			pr->w[i] = NULL;
		}
	}
}

static void unwatch_in_callback(unsigned flags)
{
	struct vql_loop l;
	loop_init(&l, flags);
	unsigned calls = 0;

	/* Self: unwatch + free inside the callback, then kick again. */
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct selfw *s = calloc(1, sizeof(*s));
	DUAL_ASSERT(efd >= 0 && s);
	s->calls = &calls;
	DUAL_ASSERT(vql_watch_eventfd(&l, &s->w, efd, on_unwatch_free, s) == 0);
	efd_write(efd, 1);
	efd_write(efd, 1);
	run_until(&l, calls_nonzero, &calls);
	DUAL_ASSERT(calls == 1);
	efd_write(efd, 1);
	run_for(&l, 20);
	DUAL_ASSERT(calls == 1);
	DUAL_ASSERT(l.live == 0);

	/* Two ready watches, the first callback unwatches the second.  The
	 * kick left in efd above is drained first. */
	uint64_t v;
	DUAL_ASSERT(read(efd, &v, sizeof(v)) == sizeof(v) && v == 1);
	int efd2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	DUAL_ASSERT(efd2 >= 0);
	struct pair pr = { 0 };
	for (int i = 0; i < 2; i++) {
		pr.mem[i] = calloc(1, sizeof(struct vql_watch));
		pr.w[i] = pr.mem[i];
		DUAL_ASSERT(pr.w[i]);
	}
	DUAL_ASSERT(vql_watch_eventfd(&l, pr.w[0], efd, pair_cb, &pr) == 0);
	DUAL_ASSERT(vql_watch_eventfd(&l, pr.w[1], efd2, pair_cb, &pr) == 0);
	run_for(&l, 5); /* armed, idle */
	efd_write(efd, 1);
	efd_write(efd2, 1);
	run_until(&l, calls_nonzero, &pr.calls);
	run_for(&l, 20);
	DUAL_ASSERT(pr.calls == 1);
	/* The survivor is still live and sees its next kick. */
	int alive = pr.w[0] ? 0 : 1;
	DUAL_ASSERT(pr.w[alive] && vql_watch_active(pr.w[alive]));
	efd_write(alive ? efd2 : efd, 1);
	pr.calls = 0;
	run_until(&l, calls_nonzero, &pr.calls);
	DUAL_ASSERT(pr.calls == 1);
	DUAL_ASSERT(vql_unwatch(pr.w[alive]) == 0);
	free(pr.mem[alive]);
	DUAL_ASSERT(l.live == 0);
	vql_loop_destroy(&l);
	close(efd);
	close(efd2);
}

DUAL_TEST(loop, unwatch_in_callback_multishot) { unwatch_in_callback(mode_flags[0]); }
DUAL_TEST(loop, unwatch_in_callback_singleshot) { unwatch_in_callback(mode_flags[1]); }

/* ---- fds that close or are invalid ------------------------------------ */

struct ev {
	struct vql_watch w;
	int fd;
	unsigned calls, last, bytes;
};

static void on_ev(struct vql_watch *w, unsigned revents, void *opaque)
{
	struct ev *e = opaque;
	(void)w;
	e->calls++;
	e->last = revents;
	if (revents & POLLIN) {
		char buf[16];
		ssize_t r;
		while ((r = read(e->fd, buf, sizeof(buf))) > 0)
			e->bytes += (unsigned)r;
	}
}

static void peer_closes(unsigned flags)
{
	struct vql_loop l;
	loop_init(&l, flags);
	int fds[2];
	DUAL_ASSERT(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
	struct ev e = { .fd = fds[0] };
	DUAL_ASSERT(vql_watch_fd(&l, &e.w, fds[0], POLLIN, on_ev, &e) == 0);
	run_for(&l, 5);
	DUAL_ASSERT(e.calls == 0);
	/* Data and the hang-up together: both reported, data still readable. */
	DUAL_ASSERT(write(fds[1], "abc", 3) == 3);
	close(fds[1]);
	run_until(&l, calls_nonzero, &e.calls);
	/* The data may come alone first (multishot sees the write's wake-up
	 * before the close's); the hang-up must follow, once. */
	while (!(e.last & POLLHUP)) {
		unsigned before = e.calls;
		run_for(&l, 5);
		DUAL_ASSERT(e.calls > before || (e.last & POLLHUP));
	}
	DUAL_ASSERT(e.last & POLLHUP);
	DUAL_ASSERT(e.bytes == 3);
	DUAL_ASSERT(!vql_watch_active(&e.w));
	DUAL_ASSERT(vql_unwatch(&e.w) == -ENOENT);
	/* Ended, not spinning: no callback and next to no completions. */
	unsigned calls = e.calls;
	uint64_t cqes = l.stats.cqes;
	run_for(&l, 30);
	DUAL_ASSERT(e.calls == calls);
	DUAL_ASSERT(l.stats.cqes - cqes <= 4);
	DUAL_ASSERT(l.live == 0);
	vql_loop_destroy(&l);
	close(fds[0]);
}

DUAL_TEST(loop, peer_closes_pollhup_multishot) { peer_closes(mode_flags[0]); }
DUAL_TEST(loop, peer_closes_pollhup_singleshot) { peer_closes(mode_flags[1]); }

static void closed_fd(unsigned flags)
{
	struct vql_loop l;
	loop_init(&l, flags);
	int fd = eventfd(0, EFD_CLOEXEC);
	DUAL_ASSERT(fd >= 0);
	close(fd); /* nothing opens between here and the watch: one thread */
	struct ev e = { .fd = -1 };
	DUAL_ASSERT(vql_watch_fd(&l, &e.w, fd, POLLIN, on_ev, &e) == 0);
	run_until(&l, calls_nonzero, &e.calls);
	DUAL_ASSERT(e.calls == 1);
	DUAL_ASSERT(e.last & POLLNVAL);
	DUAL_ASSERT(!vql_watch_active(&e.w));
	run_for(&l, 20);
	DUAL_ASSERT(e.calls == 1);
	/* A negative fd too. */
	struct ev e2 = { .fd = -1 };
	DUAL_ASSERT(vql_watch_fd(&l, &e2.w, -1, POLLIN, on_ev, &e2) == 0);
	run_until(&l, calls_nonzero, &e2.calls);
	DUAL_ASSERT(e2.calls == 1 && (e2.last & POLLNVAL));
	DUAL_ASSERT(l.live == 0);
	vql_loop_destroy(&l);
}

DUAL_TEST(loop, closed_fd_pollnval_multishot) { closed_fd(mode_flags[0]); }
DUAL_TEST(loop, closed_fd_pollnval_singleshot) { closed_fd(mode_flags[1]); }

DUAL_TEST(loop, watch_busy_and_rewatch)
{
	struct vql_loop l;
	loop_init(&l, 0);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct kick k = { 0 };
	DUAL_ASSERT(vql_watch_eventfd(&l, &k.w, efd, on_kick, &k) == 0);
	DUAL_ASSERT(vql_watch_eventfd(&l, &k.w, efd, on_kick, &k) == -EBUSY);
	/* Unwatch with a kick pending, watch again at once (same slot, new
	 * generation): the old completion must not reach the new watch twice. */
	efd_write(efd, 1);
	DUAL_ASSERT(vql_unwatch(&k.w) == 0);
	DUAL_ASSERT(vql_watch_eventfd(&l, &k.w, efd, on_kick, &k) == 0);
	k.target = 1;
	run_until(&l, kick_done, &k);
	run_for(&l, 10);
	DUAL_ASSERT(k.sum == 1 && k.calls == 1);
	vql_loop_destroy(&l);
	close(efd);
}

/* ---- timers ----------------------------------------------------------- */

struct tmr {
	struct vql_timer t;
	unsigned calls;
	uint64_t exps;
	unsigned cancel_at; /* cancel from inside the callback at this call */
};

static void on_timer(struct vql_timer *t, uint64_t exp, void *opaque)
{
	struct tmr *m = opaque;
	m->calls++;
	m->exps += exp;
	if (m->cancel_at && m->calls == m->cancel_at)
		DUAL_ASSERT(vql_timer_cancel(t) == 0);
}

static bool exps_at_least(void *p)
{
	struct tmr *m = p;
	return m->exps >= 10;
}

DUAL_TEST(loop, timer_oneshot)
{
	struct vql_loop l;
	loop_init(&l, 0);
	struct tmr m = { 0 };
	DUAL_ASSERT(vql_timer_start(&l, &m.t, 1000000, 0, on_timer, &m) == 0);
	DUAL_ASSERT(vql_timer_active(&m.t));
	run_until(&l, calls_nonzero, &m.calls);
	DUAL_ASSERT(m.calls == 1 && m.exps == 1);
	DUAL_ASSERT(!vql_timer_active(&m.t));
	DUAL_ASSERT(vql_timer_cancel(&m.t) == -ENOENT);
	run_for(&l, 20);
	DUAL_ASSERT(m.calls == 1);
	/* Cancelled before it fires: never runs. */
	struct tmr m2 = { 0 };
	DUAL_ASSERT(vql_timer_start(&l, &m2.t, 5000000, 0, on_timer, &m2) == 0);
	DUAL_ASSERT(vql_timer_cancel(&m2.t) == 0);
	run_for(&l, 30);
	DUAL_ASSERT(m2.calls == 0);
	/* Restarted while armed: fires once. */
	DUAL_ASSERT(vql_timer_start(&l, &m2.t, 50000000, 0, on_timer, &m2) == 0);
	DUAL_ASSERT(vql_timer_start(&l, &m2.t, 1000000, 0, on_timer, &m2) == 0);
	run_until(&l, calls_nonzero, &m2.calls);
	run_for(&l, 80);
	DUAL_ASSERT(m2.calls == 1);
	DUAL_ASSERT(l.live == 0);
	vql_loop_destroy(&l);
}

DUAL_TEST(loop, timer_periodic)
{
	struct vql_loop l;
	loop_init(&l, 0);
	struct tmr m = { 0 };
	uint64_t t0 = vql_now_ns();
	DUAL_ASSERT(vql_timer_start(&l, &m.t, 1000000, 1000000, on_timer, &m) == 0);
	run_until(&l, exps_at_least, &m);
	uint64_t elapsed = vql_now_ns() - t0;
	DUAL_ASSERT(vql_timer_cancel(&m.t) == 0);
	unsigned calls = m.calls;
	/* Bounded: no more expirations than whole periods elapsed (+1 for
	 * the one at start + first). */
	DUAL_ASSERT(m.exps <= elapsed / 1000000 + 1);
	DUAL_ASSERT(m.calls <= m.exps);
	run_for(&l, 20);
	DUAL_ASSERT(m.calls == calls);

	/* Cancelled from its own callback on the 5th call. */
	struct tmr m2 = { .cancel_at = 5 };
	DUAL_ASSERT(vql_timer_start(&l, &m2.t, 0, 1000000, on_timer, &m2) == 0);
	run_for(&l, 50);
	DUAL_ASSERT(m2.calls == 5);
	DUAL_ASSERT(!vql_timer_active(&m2.t));
	DUAL_ASSERT(l.live == 0);
	vql_loop_destroy(&l);
}

/* The loop stalls for 5 periods: one callback reports them (no burst), and
 * the next deadline stays on the original grid. */
DUAL_TEST(loop, timer_periodic_catch_up)
{
	struct vql_loop l;
	loop_init(&l, 0);
	struct tmr m = { 0 };
	DUAL_ASSERT(vql_timer_start(&l, &m.t, 10000000, 10000000, on_timer, &m) == 0);
	uint64_t start_deadline = m.t.deadline_ns;
	struct timespec ts = { 0, 55000000 };
	nanosleep(&ts, NULL);
	run_until(&l, calls_nonzero, &m.calls);
	DUAL_ASSERT(m.calls == 1);
	DUAL_ASSERT(m.exps >= 5);
	DUAL_ASSERT((m.t.deadline_ns - start_deadline) % 10000000 == 0);
	DUAL_ASSERT(m.t.deadline_ns == start_deadline + m.exps * 10000000);
	vql_timer_cancel(&m.t);
	vql_loop_destroy(&l);
}

#define NSTORM 1000

static unsigned storm_fired;

static void on_storm(struct vql_timer *t, uint64_t exp, void *opaque)
{
	unsigned *c = opaque;
	(void)t;
	(void)exp;
	(*c)++;
	storm_fired++;
}

static bool storm_done(void *p)
{
	return storm_fired >= *(unsigned *)p;
}

DUAL_TEST(loop, timer_storm)
{
	struct vql_loop l;
	loop_init(&l, 0);
	struct vql_timer *t = calloc(NSTORM, sizeof(*t));
	unsigned *count = calloc(NSTORM, sizeof(*count));
	DUAL_ASSERT(t && count);
	storm_fired = 0;
	srand(5);
	for (int i = 0; i < NSTORM; i++)
		DUAL_ASSERT(vql_timer_start(&l, &t[i], (uint64_t)(rand() % 5000) * 1000, 0,
					  on_storm, &count[i]) == 0);
	/* Cancel half before any has had a chance to be reaped. */
	for (int i = 0; i < NSTORM; i += 2)
		DUAL_ASSERT(vql_timer_cancel(&t[i]) == 0);
	unsigned target = NSTORM / 2;
	run_until(&l, storm_done, &target);
	run_for(&l, 30);
	for (int i = 0; i < NSTORM; i++)
		DUAL_ASSERT(count[i] == (i & 1 ? 1u : 0u));
	DUAL_ASSERT(storm_fired == NSTORM / 2);
	DUAL_ASSERT(l.live == 0);
	vql_loop_destroy(&l);
	free(t);
	free(count);
}

/* ---- posting from other threads --------------------------------------- */

#define POST_THREADS 4
#define POSTS_PER_THREAD 25000

struct postctx {
	struct vql_loop *l;
	uint64_t next[POST_THREADS]; /* loop thread only */
	uint64_t ran, out_of_order;
	int post_failed;
	unsigned id;
};

static struct postctx pc;

static void on_post(void *opaque)
{
	uintptr_t v = (uintptr_t)opaque;
	unsigned th = (unsigned)(v >> 24);
	uint64_t seq = v & 0xffffff;
	if (th >= POST_THREADS || pc.next[th] != seq)
		pc.out_of_order++;
	else
		pc.next[th]++;
	pc.ran++;
}

struct poster {
	unsigned id;
};

static void *poster_main(void *p)
{
	struct poster *ps = p;
	for (uintptr_t i = 0; i < POSTS_PER_THREAD; i++) {
		if (vql_loop_post(pc.l, on_post, (void *)((uintptr_t)ps->id << 24 | i)))
			__atomic_store_n(&pc.post_failed, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static bool posts_done(void *p)
{
	(void)p;
	return pc.ran >= (uint64_t)POST_THREADS * POSTS_PER_THREAD;
}

DUAL_TEST(loop, post_from_threads)
{
	struct vql_loop l;
	loop_init(&l, 0);
	memset(&pc, 0, sizeof(pc));
	pc.l = &l;
	pthread_t th[POST_THREADS];
	struct poster ps[POST_THREADS];
	for (unsigned i = 0; i < POST_THREADS; i++) {
		ps[i].id = i;
		DUAL_ASSERT(pthread_create(&th[i], NULL, poster_main, &ps[i]) == 0);
	}
	run_until(&l, posts_done, NULL);
	for (unsigned i = 0; i < POST_THREADS; i++)
		pthread_join(th[i], NULL);
	run_for(&l, 10);
	DUAL_ASSERT(!pc.post_failed);
	DUAL_ASSERT(pc.ran == (uint64_t)POST_THREADS * POSTS_PER_THREAD);
	DUAL_ASSERT(pc.out_of_order == 0);
	for (unsigned i = 0; i < POST_THREADS; i++)
		DUAL_ASSERT(pc.next[i] == POSTS_PER_THREAD);
	/* Batched: far fewer wake-ups than posts. */
	DUAL_ASSERT(l.stats.wakeups <= pc.ran);
	vql_loop_destroy(&l);
}

static void on_post_self(void *opaque)
{
	unsigned *n = opaque;
	/* Posting from a callback runs it in a later iteration, not nested. */
	if (++*n < 100)
		DUAL_ASSERT(vql_loop_post(pc.l, on_post_self, n) == 0);
}

static bool hundred(void *p)
{
	return *(unsigned *)p >= 100;
}

DUAL_TEST(loop, post_from_callback)
{
	struct vql_loop l;
	loop_init(&l, 0);
	pc.l = &l;
	unsigned n = 0;
	DUAL_ASSERT(vql_loop_post(&l, on_post_self, &n) == 0);
	run_until(&l, hundred, &n);
	run_for(&l, 10);
	DUAL_ASSERT(n == 100);
	vql_loop_destroy(&l);
}

/* ---- stop ------------------------------------------------------------- */

static void *stopper_main(void *p)
{
	struct timespec ts = { 0, 20000000 };
	nanosleep(&ts, NULL);
	vql_loop_stop(p);
	return NULL;
}

static void stop_cb(void *p)
{
	vql_loop_stop(p);
}

DUAL_TEST(loop, stop_from_thread_and_callback)
{
	struct vql_loop l;
	loop_init(&l, 0);
	/* A periodic timer keeps the loop busy: stop must still be seen. */
	struct tmr m = { 0 };
	DUAL_ASSERT(vql_timer_start(&l, &m.t, 1000000, 1000000, on_timer, &m) == 0);
	for (int i = 0; i < 3; i++) {
		pthread_t th;
		DUAL_ASSERT(pthread_create(&th, NULL, stopper_main, &l) == 0);
		DUAL_ASSERT(vql_loop_run(&l) == 0);
		pthread_join(th, NULL);
	}
	/* Idle loop (no timer), stopped from another thread. */
	vql_timer_cancel(&m.t);
	pthread_t th;
	DUAL_ASSERT(pthread_create(&th, NULL, stopper_main, &l) == 0);
	DUAL_ASSERT(vql_loop_run(&l) == 0);
	pthread_join(th, NULL);
	/* From a callback. */
	DUAL_ASSERT(vql_loop_post(&l, stop_cb, &l) == 0);
	DUAL_ASSERT(vql_loop_run(&l) == 0);
	/* Before run: returns at once. */
	vql_loop_stop(&l);
	DUAL_ASSERT(vql_loop_run(&l) == 0);
	vql_loop_destroy(&l);
}

/* ---- destroy with everything outstanding ------------------------------ */

static unsigned destroy_calls;

static void count_watch(struct vql_watch *w, unsigned revents, void *o)
{
	(void)w, (void)revents, (void)o;
	destroy_calls++;
}

static void count_efd(struct vql_watch *w, uint64_t c, void *o)
{
	(void)w, (void)c, (void)o;
	destroy_calls++;
}

static void count_timer(struct vql_timer *t, uint64_t e, void *o)
{
	(void)t, (void)e, (void)o;
	destroy_calls++;
}

static void count_post(void *o)
{
	(void)o;
	destroy_calls++;
}

static void destroy_outstanding(unsigned flags)
{
	struct vql_loop *l = malloc(sizeof(*l));
	DUAL_ASSERT(l);
	loop_init(l, flags);
	destroy_calls = 0;
	enum { N = 50 };
	struct vql_watch *w = calloc(N, sizeof(*w));
	struct vql_timer *t = calloc(N, sizeof(*t));
	int fds[N][2], efd[N];
	DUAL_ASSERT(w && t);
	for (int i = 0; i < N; i++) {
		DUAL_ASSERT(pipe2(fds[i], O_NONBLOCK | O_CLOEXEC) == 0);
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		DUAL_ASSERT(efd[i] >= 0);
	}
	/* Armed and idle pipes, ready eventfds whose completions will sit in
	 * the CQ, long and periodic timers, and posts that never run. */
	for (int i = 0; i < N / 2; i++)
		DUAL_ASSERT(vql_watch_fd(l, &w[i], fds[i][0], POLLIN, count_watch, NULL) == 0);
	for (int i = N / 2; i < N; i++)
		DUAL_ASSERT(vql_watch_eventfd(l, &w[i], efd[i], count_efd, NULL) == 0);
	for (int i = 0; i < N; i++)
		DUAL_ASSERT(vql_timer_start(l, &t[i], i & 1 ? 3600000000000ull : 1000,
					  i & 1 ? 0 : 1000, count_timer, NULL) == 0);
	DUAL_ASSERT(vql_loop_run_once(l, 0) >= 0); /* submit */
	unsigned before = destroy_calls;
	for (int i = N / 2; i < N; i++)
		efd_write(efd[i], 1);
	for (int i = 0; i < 10; i++)
		DUAL_ASSERT(vql_loop_post(l, count_post, NULL) == 0);
	struct timespec ts = { 0, 5000000 };
	nanosleep(&ts, NULL);
	vql_loop_destroy(l);
	DUAL_ASSERT(destroy_calls == before); /* no callback from destroy */
	/* Everything may be freed now; ASan/LSan check the rest. */
	free(w);
	free(t);
	free(l);
	for (int i = 0; i < N; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
		close(efd[i]);
	}
}

DUAL_TEST(loop, destroy_outstanding_multishot) { destroy_outstanding(mode_flags[0]); }
DUAL_TEST(loop, destroy_outstanding_singleshot) { destroy_outstanding(mode_flags[1]); }

