/* SPDX-License-Identifier: MIT */
/*
 * vmedia_runtime — one virtio-media device run on its own vql_loop thread,
 * for a transport that provides the two queues, their kick eventfds and a
 * call eventfd (a VMM's irqfd / ioeventfd pair, vhost-user's kick / call
 * fds, or fake_queue's eventfd driver in tests).
 *
 * Policy:
 *  - Every kick drains its queue completely with driver notifications
 *    (kicks) disabled, then re-enables them with the re-check and drains
 *    again until the re-check finds the ring empty: a burst of commands the
 *    driver makes available while the device works costs one wake-up.
 *  - The driver is signalled by write(2) on the call eventfd from the queues'
 *    notify callback, never by an io_uring write (a kernel worker, ~50 µs).
 *  - The device runs on the loop thread only: its hooks, the runner, the
 *    queues and the loop's watches and timers are the loop thread's.  The
 *    one way in from another thread is vmedia_runtime_post().
 *  - A fatal condition (a queue the driver broke: -EIO; a kick fd that ended
 *    with POLLERR / POLLHUP / POLLNVAL, e.g. closed or not an fd: -EPIPE; a
 *    failed loop wait) is recorded once, reported to on_error on the loop
 *    thread, and stops the loop: the device does no more work, nothing spins,
 *    vmedia_runtime_stop() still joins cleanly.  The transport then reports
 *    DEVICE_NEEDS_RESET.
 *
 * Errors are -errno; nothing here aborts.
 */
#ifndef VMEDIA_RUNTIME_H
#define VMEDIA_RUNTIME_H

#include <pthread.h>

#include "vmedia.h"
#include "vql_loop.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vmedia_runtime_config {
	/* Initialised; its commandq and eventq are the transport's queues.
	 * The runtime installs its notify callback on both (they signal
	 * call_fd) and owns the device's thread from start to stop. */
	struct vmedia_device *dev;
	int cmd_kick_fd; /* eventfd the driver writes for commandq */
	int evq_kick_fd; /* eventfd for eventq; -1: eventq kicks are not watched */
	int call_fd;     /* eventfd the runtime writes to signal the driver */
	unsigned loop_flags; /* vql_loop_init_flags() flags */
	/* Publish used entries (and signal the driver if it asked) after every
	 * this many commands of a burst, not only at its end, so a driver with
	 * many in flight refills while the device works.  0: once per drain
	 * pass.  Non-zero sets the device's flush_every
	 * (vmedia_device_process_commands() does the batching). */
	uint32_t flush_every;
	/* Fatal error (see policy), called once on the loop thread; may be NULL. */
	void (*on_error)(void *opaque, int err);
	void *opaque;
};

struct vmedia_runtime_stats {
	uint64_t cmd_kicks;   /* commandq kick wake-ups */
	uint64_t evq_kicks;
	uint64_t rounds;      /* drain passes (a re-check that found more adds one) */
	uint64_t commands;
	uint64_t calls;       /* write(2)s to call_fd */
	uint64_t call_errors; /* write(2)s that failed (not counted in calls) */
};

/* The device's environment (struct vmedia_env_ops on the loop): fixed
 * tables of timer and fd-watch slots, allocated at init.  A handle is the
 * slot index plus VMEDIA_RT_ENV_SLOTS times the slot's generation, so a
 * stale handle (a one-shot timer that fired, a watch that ended) cancels
 * nothing. */
#define VMEDIA_RT_ENV_SLOTS 64

struct vmedia_rt_env_timer {
	struct vql_timer t;
	void (*cb)(void *arg, uint64_t expirations);
	void *arg;
	uint32_t gen;
	bool used;
};

struct vmedia_rt_env_watch {
	struct vql_watch w;
	void (*cb)(void *arg, uint32_t revents);
	void *arg;
	uint32_t gen;
	bool used;
};

/* Caller-owned; private contents except stats (read them after stop). */
struct vmedia_runtime {
	struct vql_loop loop;
	struct vmedia_device *dev;
	struct vql_watch cmd_w, evq_w;
	int call_fd;
	void (*on_error)(void *opaque, int err);
	void *opaque;
	pthread_t thread;
	pthread_mutex_t join_lock;
	bool started, joined;
	int error;    /* first fatal error, atomic */
	struct vmedia_runtime_stats stats;
	struct vmedia_rt_env_timer *env_timers; /* VMEDIA_RT_ENV_SLOTS each */
	struct vmedia_rt_env_watch *env_watches;
};

/*
 * Set up the loop, watch the kick fds, take over both queues' notify
 * callbacks and give the device its environment (vmedia_device_set_env():
 * timers and fd watches on the loop, VMEDIA_RT_ENV_SLOTS of each, -ENOSPC
 * beyond; posts through vmedia_runtime_post()).  Nothing runs until
 * vmedia_runtime_start().  Returns 0, -EINVAL (no device, negative
 * cmd_kick_fd or call_fd), -ENOMEM, or -errno from vql_loop_init_flags() /
 * vql_watch_eventfd() (e.g. -EBADF / -ENOSYS).
 */
int vmedia_runtime_init(struct vmedia_runtime *rt, const struct vmedia_runtime_config *cfg);

/*
 * Start the loop thread.  It first drains both queues (chains published
 * before start, or while kicks were off, are not lost), then waits for
 * kicks.  Returns 0, -EALREADY, or -errno from pthread_create.
 */
int vmedia_runtime_start(struct vmedia_runtime *rt);

/*
 * Stop the loop thread after the callbacks of its current iteration and,
 * unless called on the loop thread itself (a device callback), wait for it
 * to exit.  Any thread, any number of times; commands still on the ring stay
 * there (the driver sees no used entry for them).  Devices stop being called.
 */
void vmedia_runtime_stop(struct vmedia_runtime *rt);

/*
 * Stop (if running), release the loop (cancelling the device's remaining
 * watches and timers without calling them; posted callbacks that never ran
 * are dropped), take the environment back from the device (env_ops NULL)
 * and restore the queues' notify to none.  The device is left
 * initialised: the caller destroys it afterwards.  Not from the loop thread.
 */
void vmedia_runtime_destroy(struct vmedia_runtime *rt);

/* The first fatal error (-EIO, -EPIPE, or a loop wait error), 0 if none.
 * Any thread. */
int vmedia_runtime_error(const struct vmedia_runtime *rt);

/*
 * The loop the device runs on, for devices that wait: vql_watch_fd() on a
 * host V4L2 fd, vql_timer_start() for frame pacing.  Everything on it is
 * loop-thread only (device hooks and loop callbacks run there), except
 * vql_loop_post(), which is what vmedia_runtime_post() calls.
 */
static inline struct vql_loop *vmedia_runtime_loop(struct vmedia_runtime *rt)
{
	return &rt->loop;
}

/*
 * Run @fn(@opaque) on the loop thread, where it may call the device API
 * (vmedia_send_dqbuf(), ...): how a worker thread (a decoder) posts a
 * completion.  Any thread; FIFO.  Returns 0 or -ENOMEM.  After stop, posted
 * functions that have not run are dropped by destroy without being called.
 */
int vmedia_runtime_post(struct vmedia_runtime *rt, vql_post_fn fn, void *opaque);

#ifdef __cplusplus
}
#endif
#endif
