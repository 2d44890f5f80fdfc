/* SPDX-License-Identifier: MIT */
/*
 * The device thread: kick watches drive the runner with the drain / re-check
 * discipline of vq_queue_enable_notify(); the queues' notify writes(2) the
 * call eventfd.  See vmedia_runtime.h for the policy.
 */
#define _GNU_SOURCE
#include "vmedia_runtime.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fail(struct vmedia_runtime *rt, int err)
{
	int none = 0;
	if (__atomic_compare_exchange_n(&rt->error, &none, err, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE) &&
	    rt->on_error)
		rt->on_error(rt->opaque, err);
	vql_loop_stop(&rt->loop);
}

/* vq_notify_fn of both queues: signal the driver. */
static void call_driver(void *opaque)
{
	struct vmedia_runtime *rt = opaque;
	uint64_t one = 1;
	/* EAGAIN means the counter is saturated: the driver is signalled anyway. */
	if (write(rt->call_fd, &one, sizeof(one)) == sizeof(one))
		rt->stats.calls++;
	else
		rt->stats.call_errors++;
}

/*
 * Drain the commandq until the re-check finds it empty.  Kicks are off
 * while draining, so a driver that publishes meanwhile does not write the
 * kick fd; the re-check after enabling catches what it published in the
 * window.  Returns 0 or -EIO.
 */
static int drain_commands(struct vmedia_runtime *rt)
{
	struct vq_queue *q = rt->dev->commandq;
	vq_queue_disable_notify(q);
	for (;;) {
		rt->stats.rounds++;
		int n = vmedia_device_process_commands(rt->dev);
		if (n < 0)
			return n;
		rt->stats.commands += (uint64_t)n;
		int r = vq_queue_enable_notify(q);
		if (r <= 0)
			return r;
		vq_queue_disable_notify(q);
	}
}

static void on_cmd_kick(struct vql_watch *w, uint64_t count, void *opaque)
{
	struct vmedia_runtime *rt = opaque;
	(void)w;
	if (count == 0) { /* the watch ended: its fd errored, hung up or was never valid */
		fail(rt, -EPIPE);
		return;
	}
	rt->stats.cmd_kicks++;
	int r = drain_commands(rt);
	if (r < 0)
		fail(rt, r);
}

static void on_evq_kick(struct vql_watch *w, uint64_t count, void *opaque)
{
	struct vmedia_runtime *rt = opaque;
	(void)w;
	if (count == 0) {
		fail(rt, -EPIPE);
		return;
	}
	rt->stats.evq_kicks++;
	/* Not the drain discipline: the device keeps eventq buffers available
	 * until it has events, so a re-check would always find some.  Kicks
	 * stay on; each one sends what the backlog holds. */
	int r = vmedia_device_process_eventq(rt->dev);
	if (r < 0)
		fail(rt, r);
}

/* ---- the device's environment (struct vmedia_env_ops) on the loop ---- */

#define ENV_GEN_MASK 0x7fffffu /* handle = idx + SLOTS * gen stays a positive int */

static int env_handle(uint32_t idx, uint32_t gen)
{
	return (int)(idx + VMEDIA_RT_ENV_SLOTS * (gen & ENV_GEN_MASK));
}

/* The slot index @handle names (the caller checks its generation). */
static bool env_decode(int handle, uint32_t *idx)
{
	if (handle < 0)
		return false;
	*idx = (uint32_t)handle % VMEDIA_RT_ENV_SLOTS;
	return true;
}

static void env_timer_fired(struct vql_timer *t, uint64_t expirations, void *opaque)
{
	struct vmedia_rt_env_timer *et = opaque;
	(void)t;
	void (*cb)(void *, uint64_t) = et->cb;
	void *arg = et->arg;
	if (et->t.period_ns == 0) { /* one-shot: its handle is spent */
		et->used = false;
		et->gen++;
	}
	cb(arg, expirations);
}

static int env_timer_start(void *env, uint64_t first_ns, uint64_t period_ns,
			   void (*cb)(void *arg, uint64_t expirations), void *arg)
{
	struct vmedia_runtime *rt = env;
	if (!cb)
		return -EINVAL;
	for (uint32_t i = 0; i < VMEDIA_RT_ENV_SLOTS; i++) {
		struct vmedia_rt_env_timer *et = &rt->env_timers[i];
		if (et->used)
			continue;
		uint64_t now = vql_now_ns();
		et->cb = cb;
		et->arg = arg;
		int r = vql_timer_start(&rt->loop, &et->t, first_ns > now ? first_ns - now : 0,
					period_ns, env_timer_fired, et);
		if (r < 0)
			return r;
		et->used = true;
		return env_handle(i, et->gen);
	}
	return -ENOSPC;
}

static void env_timer_cancel(void *env, int handle)
{
	struct vmedia_runtime *rt = env;
	uint32_t i;
	if (!env_decode(handle, &i))
		return;
	struct vmedia_rt_env_timer *et = &rt->env_timers[i];
	if (!et->used || env_handle(i, et->gen) != handle)
		return; /* stale: fired once, or already cancelled */
	vql_timer_cancel(&et->t);
	et->used = false;
	et->gen++;
}

static void env_watch_ready(struct vql_watch *w, unsigned revents, void *opaque)
{
	struct vmedia_rt_env_watch *ew = opaque;
	(void)w;
	void (*cb)(void *, uint32_t) = ew->cb;
	void *arg = ew->arg;
	if (revents & (POLLERR | POLLHUP | POLLNVAL)) { /* the watch ended */
		ew->used = false;
		ew->gen++;
	}
	cb(arg, revents);
}

static int env_watch_fd(void *env, int fd, uint32_t events,
			void (*cb)(void *arg, uint32_t revents), void *arg)
{
	struct vmedia_runtime *rt = env;
	if (!cb)
		return -EINVAL;
	for (uint32_t i = 0; i < VMEDIA_RT_ENV_SLOTS; i++) {
		struct vmedia_rt_env_watch *ew = &rt->env_watches[i];
		if (ew->used)
			continue;
		ew->cb = cb;
		ew->arg = arg;
		int r = vql_watch_fd(&rt->loop, &ew->w, fd, events, env_watch_ready, ew);
		if (r < 0)
			return r;
		ew->used = true;
		return env_handle(i, ew->gen);
	}
	return -ENOSPC;
}

static void env_unwatch_fd(void *env, int handle)
{
	struct vmedia_runtime *rt = env;
	uint32_t i;
	if (!env_decode(handle, &i))
		return;
	struct vmedia_rt_env_watch *ew = &rt->env_watches[i];
	if (!ew->used || env_handle(i, ew->gen) != handle)
		return;
	vql_unwatch(&ew->w);
	ew->used = false;
	ew->gen++;
}

static int env_post(void *env, void (*fn)(void *arg), void *arg)
{
	struct vmedia_runtime *rt = env;
	return vql_loop_post(&rt->loop, fn, arg);
}

static const struct vmedia_env_ops runtime_env_ops = {
	.timer_start = env_timer_start,
	.timer_cancel = env_timer_cancel,
	.watch_fd = env_watch_fd,
	.unwatch_fd = env_unwatch_fd,
	.post = env_post,
};

/* Cancel what the device left registered (the loop is not running). */
static void env_release(struct vmedia_runtime *rt)
{
	for (uint32_t i = 0; rt->env_timers && i < VMEDIA_RT_ENV_SLOTS; i++)
		if (rt->env_timers[i].used)
			env_timer_cancel(rt, env_handle(i, rt->env_timers[i].gen));
	for (uint32_t i = 0; rt->env_watches && i < VMEDIA_RT_ENV_SLOTS; i++)
		if (rt->env_watches[i].used)
			env_unwatch_fd(rt, env_handle(i, rt->env_watches[i].gen));
	free(rt->env_timers);
	free(rt->env_watches);
	rt->env_timers = NULL;
	rt->env_watches = NULL;
}

static void *rt_main(void *p)
{
	struct vmedia_runtime *rt = p;
	/* Chains may be waiting with no kick coming: posted before start, or
	 * left by a previous owner that had kicks off. */
	int r = vmedia_device_process_eventq(rt->dev);
	if (r >= 0)
		r = drain_commands(rt);
	if (r < 0) {
		fail(rt, r);
		return NULL;
	}
	r = vql_loop_run(&rt->loop);
	if (r < 0)
		fail(rt, r);
	return NULL;
}

int vmedia_runtime_init(struct vmedia_runtime *rt, const struct vmedia_runtime_config *cfg)
{
	memset(rt, 0, sizeof(*rt));
	if (!cfg || !cfg->dev || !cfg->dev->commandq || !cfg->dev->eventq ||
	    cfg->cmd_kick_fd < 0 || cfg->call_fd < 0)
		return -EINVAL;
	rt->dev = cfg->dev;
	rt->call_fd = cfg->call_fd;
	rt->on_error = cfg->on_error;
	rt->opaque = cfg->opaque;
	/* The runner does the batching; the runtime only configures it. */
	if (cfg->flush_every)
		rt->dev->flush_every = cfg->flush_every;
	rt->env_timers = calloc(VMEDIA_RT_ENV_SLOTS, sizeof(*rt->env_timers));
	rt->env_watches = calloc(VMEDIA_RT_ENV_SLOTS, sizeof(*rt->env_watches));
	if (!rt->env_timers || !rt->env_watches) {
		env_release(rt);
		return -ENOMEM;
	}
	int r = vql_loop_init_flags(&rt->loop, 64, cfg->loop_flags);
	if (r < 0) {
		env_release(rt);
		return r;
	}
	r = vql_watch_eventfd(&rt->loop, &rt->cmd_w, cfg->cmd_kick_fd, on_cmd_kick, rt);
	if (r == 0 && cfg->evq_kick_fd >= 0)
		r = vql_watch_eventfd(&rt->loop, &rt->evq_w, cfg->evq_kick_fd, on_evq_kick, rt);
	if (r < 0) {
		vql_loop_destroy(&rt->loop);
		env_release(rt);
		return r;
	}
	pthread_mutex_init(&rt->join_lock, NULL);
	rt->dev->commandq->notify = call_driver;
	rt->dev->commandq->notify_opaque = rt;
	rt->dev->eventq->notify = call_driver;
	rt->dev->eventq->notify_opaque = rt;
	vmedia_device_set_env(rt->dev, &runtime_env_ops, rt);
	return 0;
}

int vmedia_runtime_start(struct vmedia_runtime *rt)
{
	pthread_mutex_lock(&rt->join_lock);
	int r = -EALREADY;
	if (!rt->started) {
		r = -pthread_create(&rt->thread, NULL, rt_main, rt);
		rt->started = r == 0;
	}
	pthread_mutex_unlock(&rt->join_lock);
	return r;
}

void vmedia_runtime_stop(struct vmedia_runtime *rt)
{
	vql_loop_stop(&rt->loop);
	pthread_mutex_lock(&rt->join_lock);
	if (rt->started && !rt->joined && !pthread_equal(pthread_self(), rt->thread)) {
		pthread_join(rt->thread, NULL);
		rt->joined = true;
	}
	pthread_mutex_unlock(&rt->join_lock);
}

void vmedia_runtime_destroy(struct vmedia_runtime *rt)
{
	vmedia_runtime_stop(rt);
	env_release(rt);
	vql_loop_destroy(&rt->loop);
	if (rt->dev->env_ops == &runtime_env_ops && rt->dev->env == rt)
		vmedia_device_set_env(rt->dev, NULL, NULL);
	pthread_mutex_destroy(&rt->join_lock);
	rt->dev->commandq->notify = NULL;
	rt->dev->commandq->notify_opaque = NULL;
	rt->dev->eventq->notify = NULL;
	rt->dev->eventq->notify_opaque = NULL;
}

int vmedia_runtime_error(const struct vmedia_runtime *rt)
{
	return __atomic_load_n(&rt->error, __ATOMIC_ACQUIRE);
}

int vmedia_runtime_post(struct vmedia_runtime *rt, vql_post_fn fn, void *opaque)
{
	return vql_loop_post(&rt->loop, fn, opaque);
}
