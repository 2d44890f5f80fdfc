/* SPDX-License-Identifier: MIT */
/*
 * vqmedia — run a virtio-media device through the whole stack in this
 * process (guest driver model -> virtqueues -> runner -> device) and look at
 * what comes out.  This file only picks the subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "tools.h"
#include "util.h"

#ifndef VQM_VERSION
#define VQM_VERSION "unknown"
#endif

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "capture", vqm_cmd_capture, "capture frames into a Y4M file and a PNG" },
	{ "decode", vqm_cmd_decode, "decode a video file with the decoder device into a Y4M file" },
	{ "info", vqm_cmd_info, "show a device's formats, sizes, intervals and controls" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: vqmedia COMMAND [OPTIONS]\n"
		   "\n"
		   "Run a virtio-media device behind a model of the Linux guest driver, the\n"
		   "virtqueues and the virtio-media runner, all in this process.\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n"
		   "'vqmedia COMMAND --help' describes a command's options.\n"
		   "Exit status: 0 done, 1 failed, 2 bad command line.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return VQM_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return VQM_EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		printf("vqmedia %s\n", VQM_VERSION);
		return VQM_EXIT_OK;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	return vqm_usage_err(NULL, "unknown command '%s'", cmd);
}
