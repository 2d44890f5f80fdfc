/* SPDX-License-Identifier: MIT */
/*
 * The vqmedia program end to end: runs the built binary ($VQMEDIA, set by
 * meson) in a fresh temporary directory and checks what it wrote — Y4M
 * header, frame count and size, PNG dimensions — and its exit statuses:
 * 0 done, 1 failed at run time (device refusal, unwritable file), 2 bad
 * command line, with a message on stderr.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- running the program ---- */

struct run {
	int status; /* exit status, or 128 + signal */
	char *out, *err;
	size_t out_len;
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/vqmedia-test-XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp");
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tmpdir(void)
{
	if (tmpdir[0])
		nftw(tmpdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static char *path_in(const char *name)
{
	char *p;
	cr_assert_neq(asprintf(&p, "%s/%s", tmpdir, name), -1);
	return p;
}

/* Run vqmedia with the NULL-terminated @args in the temporary directory;
 * stdout and stderr go to files there (so stdout is not a terminal). */
static struct run run_args(const char *const *args)
{
	const char *exe = getenv("VQMEDIA");
	cr_assert_not_null(exe, "VQMEDIA is not set: run this through meson test");
	const char *argv[64] = { exe };
	unsigned n = 1;
	for (; args[n - 1]; n++) {
		cr_assert_lt(n, 63);
		argv[n] = args[n - 1];
	}
	argv[n] = NULL;
	char *out_path = path_in(".stdout"), *err_path = path_in(".stderr");
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0 || chdir(tmpdir) || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	int ws;
	cr_assert_eq(waitpid(pid, &ws, 0), pid);
	struct run r = { .status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws) };
	r.out = slurp(out_path, &r.out_len);
	r.err = slurp(err_path, NULL);
	cr_assert(r.out && r.err);
	unlink(out_path);
	unlink(err_path);
	free(out_path);
	free(err_path);
	return r;
}

#define RUN(...) run_args((const char *const[]){ __VA_ARGS__, NULL })

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static bool exists(const char *name)
{
	char *p = path_in(name);
	bool e = access(p, F_OK) == 0;
	free(p);
	return e;
}

/* Nothing but what the test put there (stdout/stderr files are gone). */
static void expect_empty_dir(void)
{
	size_t entries = 0;
	char *cmd;
	cr_assert_neq(asprintf(&cmd, "ls -A '%s' | wc -l", tmpdir), -1);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_eq(fscanf(p, "%zu", &entries), 1);
	pclose(p);
	free(cmd);
	cr_assert_eq(entries, 0, "the failed run left files behind in %s", tmpdir);
}

/* ---- checking the files ---- */

struct y4m {
	unsigned w, h, fps_num, fps_den;
	char colour[32];
	unsigned frames;
	size_t frame_size;
};

static size_t frame_size(const char *colour, unsigned w, unsigned h)
{
	size_t luma = (size_t)w * h;
	if (!strncmp(colour, "C420", 4))
		return luma + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2);
	if (!strcmp(colour, "C422"))
		return luma + 2 * (size_t)((w + 1) / 2) * h;
	if (!strcmp(colour, "C444"))
		return 3 * luma;
	cr_assert_fail("unexpected Y4M colourspace '%s'", colour);
	return 0;
}

/* Parse a whole Y4M stream: header, then exactly whole frames. */
static struct y4m parse_y4m(const char *buf, size_t len)
{
	struct y4m y = { 0 };
	const char *nl = memchr(buf, '\n', len);
	cr_assert_not_null(nl, "no Y4M header line");
	char hdr[256];
	size_t hl = (size_t)(nl - buf);
	cr_assert_lt(hl, sizeof(hdr));
	memcpy(hdr, buf, hl);
	hdr[hl] = 0;
	cr_assert_eq(strncmp(hdr, "YUV4MPEG2 ", 10), 0, "header: %s", hdr);
	strcpy(y.colour, "C420jpeg"); /* the format's default */
	for (char *save, *t = strtok_r(hdr + 10, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (t[0] == 'W')
			y.w = (unsigned)atoi(t + 1);
		else if (t[0] == 'H')
			y.h = (unsigned)atoi(t + 1);
		else if (t[0] == 'F')
			cr_assert_eq(sscanf(t + 1, "%u:%u", &y.fps_num, &y.fps_den), 2);
		else if (t[0] == 'C')
			snprintf(y.colour, sizeof(y.colour), "%s", t);
	}
	cr_assert(y.w && y.h && y.fps_num && y.fps_den, "header: %.*s", (int)hl, buf);
	y.frame_size = frame_size(y.colour, y.w, y.h);
	size_t off = hl + 1;
	while (off < len) {
		cr_assert_geq(len - off, 6, "truncated FRAME marker at %zu", off);
		cr_assert_eq(memcmp(buf + off, "FRAME", 5), 0, "no FRAME marker at %zu", off);
		const char *fnl = memchr(buf + off, '\n', len - off);
		cr_assert_not_null(fnl);
		off = (size_t)(fnl - buf) + 1;
		cr_assert_geq(len - off, y.frame_size, "frame %u truncated", y.frames);
		off += y.frame_size;
		y.frames++;
	}
	return y;
}

static struct y4m read_y4m(const char *name, char **data)
{
	char *p = path_in(name);
	size_t len;
	char *buf = slurp(p, &len);
	cr_assert_not_null(buf, "%s was not written", p);
	free(p);
	struct y4m y = parse_y4m(buf, len);
	if (data)
		*data = buf;
	else
		free(buf);
	return y;
}

/* Frame @i's samples in a stream parsed by parse_y4m (plain FRAME lines). */
static const char *y4m_frame(const char *buf, const struct y4m *y, unsigned i)
{
	const char *p = strchr(buf, '\n') + 1;
	for (unsigned k = 0; k < i; k++)
		p += 6 + y->frame_size;
	return p + 6;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A PNG's signature and IHDR: 8-bit RGB of @w x @h, and an IEND at the end. */
static void check_png(const char *name, unsigned w, unsigned h)
{
	char *p = path_in(name);
	size_t len;
	uint8_t *b = (uint8_t *)slurp(p, &len);
	cr_assert_not_null(b, "%s was not written", p);
	static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	cr_assert_gt(len, 8 + 25 + 12);
	cr_assert_eq(memcmp(b, sig, 8), 0, "%s: not a PNG", p);
	cr_assert_eq(be32(b + 8), 13);
	cr_assert_eq(memcmp(b + 12, "IHDR", 4), 0);
	cr_assert_eq(be32(b + 16), w, "%s: width", p);
	cr_assert_eq(be32(b + 20), h, "%s: height", p);
	cr_assert_eq(b[24], 8, "bit depth");
	cr_assert_eq(b[25], 2, "colour type (RGB)");
	cr_assert_eq(memcmp(b + len - 8, "IEND", 4), 0, "%s: no IEND at the end", p);
	free(b);
	free(p);
}

static void check_usage_error(struct run *r, const char *needle)
{
	cr_assert_eq(r->status, 2, "exit status %d, stderr: %s", r->status, r->err);
	cr_assert_neq(r->err[0], 0, "no message on stderr");
	if (needle)
		cr_assert_not_null(strstr(r->err, needle), "'%s' not in: %s", needle, r->err);
	run_free(r);
}

TestSuite(tool, .init = make_tmpdir, .fini = remove_tmpdir, .timeout = 120);

/* ---- capture ---- */

Test(tool, bare_capture_writes_both_defaults)
{
	/* Real time: 30 frames at 30 fps, about a second. */
	struct run r = RUN("capture");
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
	struct y4m y = read_y4m("capture.y4m", NULL);
	cr_assert_eq(y.w, 640);
	cr_assert_eq(y.h, 480);
	cr_assert_eq(y.fps_num, 30);
	cr_assert_eq(y.fps_den, 1);
	cr_assert_str_eq(y.colour, "C422");
	cr_assert_eq(y.frames, 30);
	cr_assert_eq(y.frame_size, 614400);
	check_png("capture.png", 640, 480);
}

static void capture_format(const char *fmt, const char *size, const char *rate,
			   const char *colour, unsigned w, unsigned h, unsigned fps)
{
	struct run r = RUN("capture", "--benchmark", "-q", "-n", "3", "-f", fmt, "-s", size, "-r",
			   rate, "-o", "v.y4m", "--png", "p.png");
	cr_assert_eq(r.status, 0, "%s %s: exit %d: %s", fmt, size, r.status, r.err);
	cr_assert_eq(r.err[0], 0, "-q but stderr: %s", r.err);
	run_free(&r);
	struct y4m y = read_y4m("v.y4m", NULL);
	cr_assert_eq(y.w, w);
	cr_assert_eq(y.h, h);
	cr_assert_eq(y.fps_num, fps);
	cr_assert_eq(y.fps_den, 1);
	cr_assert_str_eq(y.colour, colour, "%s", fmt);
	cr_assert_eq(y.frames, 3);
	check_png("p.png", w, h);
}

Test(tool, yuyv_1280x720_60)
{
	capture_format("yuyv", "1280x720", "60", "C422", 1280, 720, 60);
}
Test(tool, nv12_320x240)
{
	capture_format("nv12", "320x240", "30", "C420jpeg", 320, 240, 30);
}
Test(tool, yu12_640x480_60)
{
	capture_format("yu12", "640x480", "60", "C420jpeg", 640, 480, 60);
}
Test(tool, rgb3_640x480)
{
	capture_format("rgb3", "640x480", "30", "C444", 640, 480, 30);
}

Test(tool, userptr_capture)
{
	struct run r = RUN("capture", "--benchmark", "-n", "5", "--memory", "userptr", "-o",
			   "u.y4m");
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
	cr_assert_not(exists("capture.png"), "-o alone must not write a PNG");
	char *data;
	struct y4m y = read_y4m("u.y4m", &data);
	cr_assert_eq(y.frames, 5);
	/* The device's picture arrived in our memory, not zeros. */
	const char *f = y4m_frame(data, &y, 4);
	size_t nonzero = 0;
	for (size_t i = 0; i < y.frame_size; i++)
		nonzero += f[i] != 0;
	cr_assert_gt(nonzero, y.frame_size / 2);
	free(data);
}

Test(tool, png_only_and_png_frame)
{
	struct run r = RUN("capture", "--benchmark", "-n", "4", "--png", "first.png",
			   "--png-frame", "0", "-s", "320x240");
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
	check_png("first.png", 320, 240);
	cr_assert_not(exists("capture.y4m"), "--png alone must not write a Y4M file");
}

Test(tool, y4m_to_stdout)
{
	struct run r = RUN("capture", "--benchmark", "-n", "2", "-f", "nv12", "-o", "-");
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	struct y4m y = parse_y4m(r.out, r.out_len);
	cr_assert_eq(y.frames, 2);
	cr_assert_eq(y.frame_size, 640 * 480 * 3 / 2);
	run_free(&r);
}

/* "min=0 max=255" of a control in `vqmedia info` output. */
static void ctrl_range(const char *info, const char *name, long *min, long *max)
{
	char key[64];
	snprintf(key, sizeof(key), " %s 0x", name);
	const char *l = strstr(info, key);
	cr_assert_not_null(l, "control %s not listed by info", name);
	const char *m = strstr(l, "min="), *x = strstr(l, "max=");
	cr_assert(m && x, "no range for %s", name);
	*min = strtol(m + 4, NULL, 10);
	*max = strtol(x + 4, NULL, 10);
}

Test(tool, controls_change_the_picture)
{
	struct run info = RUN("info");
	cr_assert_eq(info.status, 0, "info: %s", info.err);
	long bmin, bmax, smin, smax;
	ctrl_range(info.out, "brightness", &bmin, &bmax);
	ctrl_range(info.out, "saturation", &smin, &smax);
	run_free(&info);

	struct run r = RUN("capture", "--benchmark", "-n", "1", "-o", "plain.y4m");
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	run_free(&r);
	char b[64], s[64];
	snprintf(b, sizeof(b), "brightness=%ld", bmax);
	snprintf(s, sizeof(s), "saturation=%ld", smin);
	r = RUN("capture", "--benchmark", "-n", "1", "-o", "ctrl.y4m", "-c", b, "--ctrl", s);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	run_free(&r);

	char *d0, *d1;
	struct y4m y0 = read_y4m("plain.y4m", &d0), y1 = read_y4m("ctrl.y4m", &d1);
	cr_assert_eq(y0.frames, 1);
	cr_assert_eq(y1.frames, 1);
	cr_assert_neq(memcmp(y4m_frame(d0, &y0, 0), y4m_frame(d1, &y1, 0), y0.frame_size), 0,
		      "brightness=%ld saturation=%ld left the frame unchanged", bmax, smin);
	free(d0);
	free(d1);
}

Test(tool, bad_arguments_exit_2)
{
	static const char *const cases[][8] = {
		{ "capture", "-n", "0" },
		{ "capture", "-n", "abc" },
		{ "capture", "-n", "-1" },
		{ "capture", "-n" },
		{ "capture", "-f", "mjpg" },
		{ "capture", "-s", "640" },
		{ "capture", "-s", "640x" },
		{ "capture", "-s", "x480" },
		{ "capture", "-s", "0x0" },
		{ "capture", "-r", "0" },
		{ "capture", "-r", "fast" },
		{ "capture", "--memory", "dmabuf" },
		{ "capture", "--bogus" },
		{ "capture", "stray" },
		{ "capture", "-c", "brightness" },
		{ "capture", "-c", "=5" },
		{ "capture", "-n", "3", "--png", "a.png", "--png-frame", "3" },
		{ "capture", "-o", "same", "--png", "same" },
		{ "capture", "-d", "nosuch" },
		{ "info", "--bogus" },
		{ "info", "-d", "nosuch" },
		{ "info", "stray" },
		{ "nosuchcommand" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r = run_args(cases[i]);
		cr_assert_eq(r.status, 2, "vqmedia %s %s %s: exit %d, stderr: %s", cases[i][0],
			     cases[i][1] ? cases[i][1] : "", cases[i][2] ? cases[i][2] : "",
			     r.status, r.err);
		cr_assert_neq(r.err[0], 0, "no message for case %zu", i);
		run_free(&r);
		expect_empty_dir();
	}
	struct run r = run_args((const char *const[]){ NULL });
	check_usage_error(&r, "usage");
}

Test(tool, bad_control_names_and_values_exit_2)
{
	struct run r = RUN("capture", "--benchmark", "-n", "1", "-c", "nosuch=1");
	check_usage_error(&r, "nosuch");
	expect_empty_dir();
	r = RUN("capture", "--benchmark", "-n", "1", "-c", "brightness=bright");
	check_usage_error(&r, "brightness");
	r = RUN("capture", "--benchmark", "-n", "1", "-c", "brightness=99999999");
	check_usage_error(&r, "brightness");
	expect_empty_dir();
}

Test(tool, unsupported_size_and_rate_exit_1)
{
	struct run r = RUN("capture", "--benchmark", "-n", "1", "-s", "100x100");
	cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
	cr_assert_not_null(strstr(r.err, "100x100"), "%s", r.err);
	run_free(&r);
	expect_empty_dir(); /* capture.y4m / capture.png removed again */
	r = RUN("capture", "--benchmark", "-n", "1", "-r", "25");
	cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
	cr_assert_not_null(strstr(r.err, "25"), "%s", r.err);
	run_free(&r);
	expect_empty_dir();
}

Test(tool, unwritable_outputs_exit_1)
{
	struct run r = RUN("capture", "--benchmark", "-n", "1", "-o", "/nonexistent-dir/x.y4m");
	cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
	cr_assert_not_null(strstr(r.err, "/nonexistent-dir/x.y4m"), "%s", r.err);
	run_free(&r);
	/* The Y4M file could be written, the PNG not: neither is left. */
	r = RUN("capture", "--benchmark", "-n", "1", "-o", "ok.y4m", "--png", "no/such/dir/x.png");
	cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
	cr_assert_not_null(strstr(r.err, "x.png"), "%s", r.err);
	run_free(&r);
	expect_empty_dir();
	/* A directory is not a file. */
	r = RUN("capture", "--benchmark", "-n", "1", "-o", ".");
	cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
	run_free(&r);
	expect_empty_dir();
}

/* ---- info and help ---- */

Test(tool, info_lists_formats_sizes_intervals_controls)
{
	struct run r = RUN("info");
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	static const char *const want[] = {
		"Card type", "Video Capture", "Streaming", "'YUYV'", "'NV12'", "'YU12'", "'RGB3'",
		"320x240", "640x480", "1280x720", "(30.000 fps)", "(60.000 fps)", "brightness",
		"contrast", "saturation", "hue", "default=", "value=",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert_not_null(strstr(r.out, want[i]), "'%s' missing from:\n%s", want[i], r.out);
	cr_assert_eq(r.err[0], 0, "stderr: %s", r.err);
	run_free(&r);
	r = RUN("info", "--device", "simple");
	cr_assert_eq(r.status, 0);
	run_free(&r);
}

Test(tool, help)
{
	struct run r = RUN("--help");
	cr_assert_eq(r.status, 0);
	cr_assert_not_null(strstr(r.out, "capture"));
	cr_assert_not_null(strstr(r.out, "info"));
	run_free(&r);
	r = RUN("capture", "--help");
	cr_assert_eq(r.status, 0);
	cr_assert_not_null(strstr(r.out, "--frames"));
	run_free(&r);
	r = RUN("info", "-h");
	cr_assert_eq(r.status, 0);
	cr_assert_not_null(strstr(r.out, "--device"));
	run_free(&r);
	expect_empty_dir();
}
