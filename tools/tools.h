/* SPDX-License-Identifier: MIT */
/* The vqmedia subcommands: each gets argv from its own name on and returns
 * the exit status (util.h). */
#ifndef VQM_TOOLS_H
#define VQM_TOOLS_H

int vqm_cmd_info(int argc, char **argv);
int vqm_cmd_capture(int argc, char **argv);
int vqm_cmd_decode(int argc, char **argv);

#endif
