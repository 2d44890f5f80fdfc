/* SPDX-License-Identifier: MIT */
/* Messages and strict argument parsing for vqmedia; see util.h. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <linux/videodev2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vqm_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("vqmedia: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int vqm_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "vqmedia%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'vqmedia%s%s --help'.\n", cmd ? " " : "", cmd ? cmd : "");
	va_end(ap);
	return VQM_EXIT_USAGE;
}

bool vqm_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *v)
{
	/* strtoul accepts leading blanks and a sign ("-1" wraps): refuse both. */
	if (!s || !isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	char *end;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || *end || x < min || x > max)
		return false;
	*v = (uint32_t)x;
	return true;
}

bool vqm_parse_i64(const char *s, int64_t *v)
{
	if (!s || !*s || isspace((unsigned char)s[0]))
		return false;
	errno = 0;
	char *end;
	long long x = strtoll(s, &end, 0);
	if (errno || *end)
		return false;
	*v = x;
	return true;
}

bool vqm_parse_size(const char *s, uint32_t *w, uint32_t *h)
{
	const char *x = s ? strpbrk(s, "xX") : NULL;
	if (!x || x == s)
		return false;
	char wbuf[16];
	size_t n = (size_t)(x - s);
	if (n >= sizeof(wbuf))
		return false;
	memcpy(wbuf, s, n);
	wbuf[n] = 0;
	return vqm_parse_u32(wbuf, 1, 16384, w) && vqm_parse_u32(x + 1, 1, 16384, h);
}

bool vqm_parse_memory(const char *s, uint32_t *memory)
{
	if (!strcmp(s, "mmap"))
		*memory = V4L2_MEMORY_MMAP;
	else if (!strcmp(s, "userptr"))
		*memory = V4L2_MEMORY_USERPTR;
	else
		return false;
	return true;
}

int vqm_getopt_err(const char *cmd, int c, char **argv)
{
	if (c == ':')
		return vqm_usage_err(cmd, "option '%s' needs a value", argv[optind - 1]);
	return vqm_usage_err(cmd, "unknown option '%s'", argv[optind - 1]);
}

volatile sig_atomic_t vqm_stop;

static void on_stop_signal(int sig)
{
	(void)sig;
	vqm_stop = 1;
}

void vqm_stop_on_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}
