/* SPDX-License-Identifier: MIT */
/*
 * The devices a *.vqmedia file can stand for.  "simple" is the pattern
 * camera; decoder and proxy join this table when they exist.
 *
 * $VQMEDIA_MODE=benchmark makes the camera fill buffers as soon as they
 * are queued; the default is real time (frames at the chosen interval, as
 * a camera), which is what an application expects.
 */
#include <stdlib.h>
#include <string.h>

#include "gdrv_internal.h"
#include "vmedia_simple.h"

static void *simple_create(struct vmedia_config_space *config)
{
	const char *mode = getenv("VQMEDIA_MODE");
	struct vmedia_simple_config cfg = {
		.benchmark = mode && !strcmp(mode, "benchmark"),
	};
	struct vmedia_simple *sd = vmedia_simple_new(&cfg);
	if (sd)
		*config = vmedia_simple_config_space(sd);
	return sd;
}

static void simple_destroy(void *state)
{
	vmedia_simple_free(state);
}

static int simple_tick(void *state, uint64_t now_ns)
{
	return vmedia_simple_tick(state, now_ns);
}

static uint64_t simple_next_deadline(void *state)
{
	return vmedia_simple_next_deadline(state);
}

static const struct gdrv_kind kinds[] = {
	{
		.name = "simple",
		.ops = &vmedia_simple_ops,
		.create = simple_create,
		.destroy = simple_destroy,
		.tick = simple_tick,
		.next_deadline = simple_next_deadline,
		.read_io = true,
	},
};

const struct gdrv_kind *gdrv_kind_find(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, name))
			return &kinds[i];
	return NULL;
}
