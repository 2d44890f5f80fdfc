/* SPDX-License-Identifier: MIT */
/*
 * util — what every vqmedia subcommand shares: messages on stderr prefixed
 * with the program name, strict argument parsing, and the exit statuses
 * (0 done, 1 something failed at run time, 2 the command line was wrong).
 */
#ifndef VQM_UTIL_H
#define VQM_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define VQM_EXIT_OK 0
#define VQM_EXIT_FAIL 1
#define VQM_EXIT_USAGE 2

/* "vqmedia: ...\n" on stderr. */
void vqm_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "vqmedia CMD: ...\nTry 'vqmedia CMD --help'.\n" on stderr; returns
 * VQM_EXIT_USAGE so callers can `return vqm_usage_err(...)`. */
int vqm_usage_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The whole string is a decimal number in [min, max].  Returns true with *v. */
bool vqm_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *v);
/* The whole string is a signed number (decimal, or 0x hex). */
bool vqm_parse_i64(const char *s, int64_t *v);
/* "WxH" (also "WXH"), both in 1..16384. */
bool vqm_parse_size(const char *s, uint32_t *w, uint32_t *h);
/* "mmap" or "userptr" (--memory): *memory = V4L2_MEMORY_MMAP / _USERPTR. */
bool vqm_parse_memory(const char *s, uint32_t *memory);

/* What getopt_long() (opterr 0, optstring starting with ':') returned @c
 * for, as a usage error of CMD: ':' a missing value, anything else an
 * unknown option.  Returns VQM_EXIT_USAGE. */
int vqm_getopt_err(const char *cmd, int c, char **argv);

/* Set by SIGINT / SIGTERM once vqm_stop_on_signals() ran: a long command
 * finishes what it has (whole frames) and stops. */
extern volatile sig_atomic_t vqm_stop;
void vqm_stop_on_signals(void);

#endif
