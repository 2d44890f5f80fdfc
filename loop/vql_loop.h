/* SPDX-License-Identifier: MIT */
/*
 * vql_loop: the io_uring reactor that everything which waits goes through —
 * kick eventfds, V4L2 fd readiness, frame timers, wake-ups from worker threads.
 *
 * Policy:
 *  - A loop belongs to one thread: every function here except vql_loop_post()
 *    and vql_loop_stop() must be called on the thread that runs the loop (or
 *    before/after it runs).  Those two are safe from any thread.
 *  - The kernel never holds a pointer to caller memory.  Requests carry a
 *    (slot, generation) tag into a table the loop owns, so a watch or timer
 *    may be freed the moment vql_unwatch() / vql_timer_cancel() returns, even
 *    from inside its own callback: completions still in flight for it are
 *    recognised as stale and dropped, and the loop reaps them itself.
 *  - Callbacks run on the loop thread, one at a time, never nested.
 *  - Waking the loop from another thread is a write(2) to an eventfd, never an
 *    io_uring write: the latter goes to a kernel worker (~50 µs measured).
 *  - Feature use is decided at init from what the running kernel accepts:
 *    multishot poll (5.13+) with a re-armed single-shot poll as fallback.
 *    Periodic timers are single-shot IORING_TIMEOUT_ABS timeouts re-armed
 *    from the previous absolute deadline; IORING_TIMEOUT_MULTISHOT (6.4+) is
 *    only reported, not used, because the kernel re-arms it relative to when
 *    its completion ran, so the period drifts by the completion latency.
 *
 * Errors are -errno as in liburing; nothing here calls abort() or sets errno
 * for the caller.
 */
#ifndef VQL_LOOP_H
#define VQL_LOOP_H

#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vql_loop;
struct vql_watch;
struct vql_timer;

/*
 * Readiness callback.  @revents is the poll mask the kernel reported; it can
 * hold POLLERR / POLLHUP / POLLNVAL whether asked for or not (POLLNVAL also
 * stands for a request that failed, e.g. -EBADF on an fd that is not open).
 * When it holds any of those three the watch has ENDED: this is its last
 * callback, the loop has already released it, and @w may be freed or
 * re-watched from inside the callback.  Read whatever is still buffered now.
 */
typedef void (*vql_watch_fn)(struct vql_watch *w, unsigned revents, void *opaque);

/* Eventfd callback: @count is the counter value read (>= 1), or 0 if the
 * watch ended with an error (as above: last call, @w already released). */
typedef void (*vql_eventfd_fn)(struct vql_watch *w, uint64_t count, void *opaque);

typedef void (*vql_timer_fn)(struct vql_timer *t, uint64_t expirations, void *opaque);

typedef void (*vql_post_fn)(void *opaque);

/* Caller-owned.  Contents are private.  vql_watch_fd() may be given an
 * uninitialised one; vql_unwatch() / vql_watch_active() need one that was
 * zeroed or watched. */
struct vql_watch {
	struct vql_loop *loop;
	uint32_t slot, gen;
	int fd;
	unsigned mask;
	bool is_eventfd;
	union {
		vql_watch_fn fn;
		vql_eventfd_fn efn;
	} cb;
	void *opaque;
};

/* Caller-owned.  Private contents; as for vql_watch, cancel and active need
 * one that was zeroed or started. */
struct vql_timer {
	struct vql_loop *loop;
	uint32_t slot, gen;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC, absolute */
	uint64_t period_ns;
	vql_timer_fn fn;
	void *opaque;
};

struct vql_post_item {
	vql_post_fn fn;
	void *opaque;
};

/* vql_loop_init_flags() flags. */
#define VQL_LOOP_NO_MULTISHOT (1u << 0) /* use the single-shot poll path (tests) */

/* What the running kernel accepted, in loop->features. */
#define VQL_FEAT_POLL_MULTISHOT (1u << 0)
#define VQL_FEAT_TIMEOUT_MULTISHOT (1u << 1) /* detected; see policy above */
#define VQL_FEAT_EXT_ARG (1u << 2)	     /* wait timeouts without an extra SQE */
#define VQL_FEAT_REG_RING_FD (1u << 3)      /* io_uring_register_ring_fd in vql_loop_run */

struct vql_slot;

/* Caller-owned; private contents except features and stats. */
struct vql_loop {
	struct io_uring ring;
	unsigned features;
	/* Requests the kernel will still post a final CQE for. */
	unsigned inflight;
	struct vql_slot *slots;
	uint32_t nslots, free_head;
	unsigned live; /* watches + timers, not counting the wake watch */
	/* The cross-thread side: only these are touched by other threads. */
	pthread_mutex_t post_lock;
	struct vql_post_item *posted, *running;
	uint32_t nposted, cap_posted, cap_running;
	int stop;
	int wake_fd;
	struct vql_watch wake;
	struct {
		uint64_t cqes, callbacks, stale, wakeups;
	} stats;
};

/*
 * Set up @loop with an SQ of @entries (0 picks 256).  Probes the kernel:
 * multishot poll, EXT_ARG waits, multishot timeouts.  Returns 0, or -errno
 * from io_uring_queue_init / eventfd (e.g. -ENOSYS or -EPERM where io_uring
 * is disabled), -ENOMEM.
 */
int vql_loop_init(struct vql_loop *loop, unsigned entries);
int vql_loop_init_flags(struct vql_loop *loop, unsigned entries, unsigned flags);

/*
 * Cancel every watch and timer still registered, reap all outstanding
 * completions (bounded wait: 2 s), drop posted callbacks that never ran, and
 * free everything.  No callback runs.  Afterwards every vql_watch/vql_timer
 * that was registered may be freed.  Must not be called from a callback.
 */
void vql_loop_destroy(struct vql_loop *loop);

/*
 * Submit what is queued, wait for at most @timeout_ns (< 0: no limit, 0:
 * don't wait) for a completion, and dispatch all completions available.
 * Returns the number of completions processed (0 on timeout), or -errno
 * (-EINTR if a signal interrupted the wait).
 */
int vql_loop_run_once(struct vql_loop *loop, int64_t timeout_ns);

/* Run until vql_loop_stop().  Returns 0 after a stop, or -errno from the
 * wait (not -EINTR, which is retried). */
int vql_loop_run(struct vql_loop *loop);

/* Make vql_loop_run() return after the callbacks of its current iteration.
 * Any thread, or a callback.  A stop with no run in progress makes the next
 * vql_loop_run() return at once. */
void vql_loop_stop(struct vql_loop *loop);

/*
 * Run @fn(@opaque) on the loop thread, once, in the order posted (FIFO over
 * all threads).  Any thread, including a callback (it then runs in a later
 * iteration).  Returns 0 or -ENOMEM (the queue grows; steady state does not
 * allocate).
 */
int vql_loop_post(struct vql_loop *loop, vql_post_fn fn, void *opaque);

/*
 * Call @fn whenever @fd is ready for @mask (POLLIN, POLLOUT, POLLPRI...).
 * Consume until EAGAIN in the callback: with multishot poll a readiness left
 * unconsumed is not reported again until the fd's next wake-up (the
 * single-shot fallback re-polls after each callback, so there it would be).
 * Closing @fd does not end the watch (io_uring holds its own reference to
 * the file): unwatch before closing.  Returns 0, -EBUSY if @w is active,
 * -ENOMEM.  The request is submitted by the next vql_loop_run_once().
 */
int vql_watch_fd(struct vql_loop *loop, struct vql_watch *w, int fd, unsigned mask,
		 vql_watch_fn fn, void *opaque);

/*
 * Watch an eventfd for kicks: on readiness the loop reads (drains) the
 * counter and calls @fn with it; a wake-up that finds it already drained
 * calls nothing.  Sets O_NONBLOCK on @fd's file description.  Returns as
 * vql_watch_fd(), or -errno from fcntl.
 */
int vql_watch_eventfd(struct vql_loop *loop, struct vql_watch *w, int fd, vql_eventfd_fn fn,
		      void *opaque);

/*
 * Stop watching.  Safe from any callback, including @w's own.  When it
 * returns, no callback for @w will run again and @w may be freed or reused;
 * the cancellation's completion is reaped by the loop later.  Returns 0, or
 * -ENOENT if @w was not active (never watched, already unwatched, or ended by
 * an error event).
 */
int vql_unwatch(struct vql_watch *w);

/* True while @w is registered. */
bool vql_watch_active(const struct vql_watch *w);

/*
 * Call @fn @first_ns from now, then every @period_ns (0: once).  Deadlines
 * are absolute CLOCK_MONOTONIC: the n-th expiry is due at start + first +
 * (n-1) * period however late callbacks run.  If the loop fell behind by
 * whole periods, one callback reports them all in @expirations (as a timerfd
 * read does) instead of a burst.  Restarting an active timer re-arms it.
 * Returns 0 or -ENOMEM.
 */
int vql_timer_start(struct vql_loop *loop, struct vql_timer *t, uint64_t first_ns,
		    uint64_t period_ns, vql_timer_fn fn, void *opaque);

/*
 * Disarm @t.  Safe from any callback, including @t's own.  When it returns,
 * @t's callback will not run again and @t may be freed.  Returns 0, or
 * -ENOENT if it was not armed (a one-shot timer that fired is not armed).
 */
int vql_timer_cancel(struct vql_timer *t);

bool vql_timer_active(const struct vql_timer *t);

/* CLOCK_MONOTONIC in ns. */
uint64_t vql_now_ns(void);

#endif
