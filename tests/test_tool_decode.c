/* SPDX-License-Identifier: MIT */
/*
 * `vqmedia decode` end to end: runs the built program ($VQMEDIA, set by
 * meson) in a fresh temporary directory on streams ffmpeg ($FFMPEG)
 * encodes there, and checks the Y4M files it writes (header, frame count,
 * size, the same pictures whatever the CAPTURE format, buffer memory or
 * thread count) and its failures: exit 1 with a message for a missing,
 * undemuxable or unsupported input and an unwritable output (leaving no
 * file behind), exit 2 for a bad command line.  Bit-exactness against
 * ffmpeg's own decoder is tests/decode_md5.sh's job.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/vqmedia-dec-XXXXXX", base && *base ? base : "/tmp");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp");
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

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	rewind(f);
	char *buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = 0;
	if (len)
		*len = (size_t)n;
	return buf;
}

struct run {
	int status;
	char *out, *err;
	size_t out_len;
};

/* Run @exe with the NULL-terminated @args in the temporary directory,
 * stdout and stderr into files there. */
static struct run run_prog(const char *exe, const char *const *args)
{
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
		int z = open("/dev/null", O_RDONLY);
		if (o < 0 || e < 0 || z < 0 || chdir(tmpdir) || dup2(z, 0) < 0 || dup2(o, 1) < 0 ||
		    dup2(e, 2) < 0)
			_exit(127);
		execvp(exe, (char *const *)argv);
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

static const char *vqmedia(void)
{
	const char *exe = getenv("VQMEDIA");
	cr_assert_not_null(exe, "VQMEDIA is not set: run this through meson test");
	return exe;
}

#define RUN(...) run_prog(vqmedia(), (const char *const[]){ __VA_ARGS__, NULL })

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* A testsrc2 clip of @frames frames at @size, encoded by ffmpeg with the
 * encoder arguments @enc into @name in the temporary directory. */
static void encode(const char *name, const char *size, unsigned frames, const char *enc)
{
	const char *ffmpeg = getenv("FFMPEG");
	cr_assert(ffmpeg && *ffmpeg, "FFMPEG is not set: ffmpeg is needed to make test streams "
		  "(Debian package 'ffmpeg')");
	char *cmd;
	cr_assert_neq(asprintf(&cmd, "cd '%s' && '%s' -nostdin -loglevel error -y -f lavfi -i "
			       "testsrc2=size=%s:rate=30 -frames:v %u -pix_fmt yuv420p %s '%s'",
			       tmpdir, ffmpeg, size, frames, enc, name), -1);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	free(cmd);
}

struct y4m {
	unsigned w, h, frames;
	char colour[32];
	size_t frame_size;
	const char *data; /* the first frame's samples */
};

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
	for (char *save, *t = strtok_r(hdr + 10, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (t[0] == 'W')
			y.w = (unsigned)atoi(t + 1);
		else if (t[0] == 'H')
			y.h = (unsigned)atoi(t + 1);
		else if (t[0] == 'C')
			snprintf(y.colour, sizeof(y.colour), "%s", t);
	}
	cr_assert(y.w && y.h, "header: %.*s", (int)hl, buf);
	y.frame_size = (size_t)y.w * y.h + 2 * (size_t)((y.w + 1) / 2) * ((y.h + 1) / 2);
	size_t off = hl + 1;
	while (off < len) {
		cr_assert_geq(len - off, 6, "truncated FRAME marker");
		cr_assert_eq(memcmp(buf + off, "FRAME\n", 6), 0, "no FRAME marker at %zu", off);
		off += 6;
		if (!y.data)
			y.data = buf + off;
		cr_assert_geq(len - off, y.frame_size, "frame %u truncated", y.frames);
		off += y.frame_size;
		y.frames++;
	}
	return y;
}

/* The Y4M file @name; its bytes in *@data (freed by the caller). */
static struct y4m read_y4m(const char *name, char **data, size_t *len)
{
	char *p = path_in(name);
	char *buf = slurp(p, len);
	cr_assert_not_null(buf, "%s was not written", p);
	free(p);
	*data = buf;
	return parse_y4m(buf, *len);
}

static bool exists(const char *name)
{
	char *p = path_in(name);
	bool e = access(p, F_OK) == 0;
	free(p);
	return e;
}

/* Decode @in into @out with the extra arguments; must succeed. */
static void decode_ok(const char *in, const char *out, const char *const *extra)
{
	const char *args[16] = { "decode", in, "-o", out, "-q" };
	unsigned n = 5;
	for (; extra && *extra; extra++)
		args[n++] = *extra;
	args[n] = NULL;
	struct run r = run_prog(vqmedia(), args);
	cr_assert_eq(r.status, 0, "decode %s: exit %d: %s", in, r.status, r.err);
	cr_assert_eq(r.err[0], 0, "-q but stderr: %s", r.err);
	run_free(&r);
}

TestSuite(tool_decode, .init = make_tmpdir, .fini = remove_tmpdir, .timeout = 120);

Test(tool_decode, h264_to_y4m_every_way_gives_the_same_pictures)
{
	encode("in.h264", "320x240", 10, "-c:v libx264 -preset fast");
	decode_ok("in.h264", "yu12.y4m", NULL);
	decode_ok("in.h264", "nv12.y4m", (const char *const[]){ "--format", "nv12", NULL });
	decode_ok("in.h264", "uptr.y4m", (const char *const[]){ "--memory", "userptr", NULL });
	decode_ok("in.h264", "t1.y4m", (const char *const[]){ "--threads", "1", NULL });

	char *base;
	size_t base_len;
	struct y4m y = read_y4m("yu12.y4m", &base, &base_len);
	cr_assert_eq(y.w, 320);
	cr_assert_eq(y.h, 240);
	cr_assert_str_eq(y.colour, "C420jpeg");
	cr_assert_eq(y.frames, 10);
	/* A picture, not a constant plane. */
	size_t same = 0;
	for (size_t i = 1; i < (size_t)y.w * y.h; i++)
		same += y.data[i] == y.data[0];
	cr_assert_lt(same, (size_t)y.w * y.h / 2, "the first frame is flat");
	static const char *const others[] = { "nv12.y4m", "uptr.y4m", "t1.y4m" };
	for (unsigned i = 0; i < 3; i++) {
		char *d;
		size_t len;
		read_y4m(others[i], &d, &len);
		cr_assert(len == base_len && !memcmp(d, base, len), "%s differs from yu12.y4m",
			  others[i]);
		free(d);
	}
	free(base);
}

Test(tool_decode, frames_option_stdout_and_summary)
{
	encode("in.ivf", "176x144", 8, "-c:v libvpx-vp9 -deadline realtime -cpu-used 8");
	struct run r = RUN("decode", "in.ivf", "-o", "three.y4m", "--frames", "3");
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert_not_null(strstr(r.err, "3 frames"), "summary: %s", r.err);
	run_free(&r);
	char *d;
	size_t len;
	struct y4m y = read_y4m("three.y4m", &d, &len);
	cr_assert_eq(y.frames, 3);
	cr_assert_eq(y.w, 176);
	free(d);

	r = RUN("decode", "in.ivf", "-o", "-", "-q");
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	y = parse_y4m(r.out, r.out_len);
	cr_assert_eq(y.frames, 8);
	cr_assert_eq(y.h, 144);
	run_free(&r);
}

Test(tool_decode, visible_rectangle_and_resolution_change)
{
	/* 352x200 is coded as 352x208: only the visible rows are written. */
	encode("a.h264", "352x200", 6, "-c:v libx264 -preset fast");
	encode("b.h264", "160x120", 5, "-c:v libx264 -preset fast");
	char *cmd;
	cr_assert_neq(asprintf(&cmd, "cd '%s' && cat a.h264 b.h264 > ab.h264", tmpdir), -1);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
	decode_ok("ab.h264", "out.y4m", NULL);
	char *d1, *d2;
	size_t l1, l2;
	struct y4m y1 = read_y4m("out.y4m", &d1, &l1), y2 = read_y4m("out-2.y4m", &d2, &l2);
	cr_assert_eq(y1.w, 352);
	cr_assert_eq(y1.h, 200);
	cr_assert_eq(y1.frames, 6);
	cr_assert_eq(y2.w, 160);
	cr_assert_eq(y2.h, 120);
	cr_assert_eq(y2.frames, 5);
	cr_assert_not(exists("out-3.y4m"));
	free(d1);
	free(d2);
	/* One stream on stdout cannot change size. */
	struct run r = RUN("decode", "ab.h264", "-o", "-");
	cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
	cr_assert_not_null(strstr(r.err, "resolution changed"), "%s", r.err);
	run_free(&r);
}

/* exit 1, @needle in the message, and nothing left in the directory but
 * the inputs named in @keep. */
static void expect_failure(struct run *r, const char *needle)
{
	cr_assert_eq(r->status, 1, "exit %d: %s", r->status, r->err);
	cr_assert_not_null(strstr(r->err, needle), "'%s' not in: %s", needle, r->err);
	run_free(r);
	cr_assert_not(exists("out.y4m"), "a failed decode left out.y4m behind");
}

Test(tool_decode, bad_inputs_and_outputs_exit_1)
{
	struct run r = RUN("decode", "missing.h264", "-o", "out.y4m");
	expect_failure(&r, "missing.h264");

	char *p = path_in("text.bin");
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < 200; i++)
		fputs("not a video at all\n", f);
	fclose(f);
	free(p);
	r = RUN("decode", "text.bin", "-o", "out.y4m");
	expect_failure(&r, "text.bin");

	/* Raw video: libavformat opens it, but it is no coded format. */
	p = path_in("raw.y4m");
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs("YUV4MPEG2 W16 H16 F30:1 C420jpeg\nFRAME\n", f);
	for (int i = 0; i < 16 * 16 * 3 / 2; i++)
		fputc(128, f);
	fclose(f);
	free(p);
	r = RUN("decode", "raw.y4m", "-o", "out.y4m");
	expect_failure(&r, "rawvideo");

	/* A coded format V4L2 has, which the decoder does not offer. */
	encode("in.m4v", "176x144", 3, "-c:v mpeg4");
	r = RUN("decode", "in.m4v", "-o", "out.y4m");
	expect_failure(&r, "MPG4");

	encode("ok.h264", "176x144", 3, "-c:v libx264");
	r = RUN("decode", "ok.h264", "-o", "/nonexistent-dir/out.y4m");
	expect_failure(&r, "/nonexistent-dir/out.y4m");
	r = RUN("decode", "ok.h264", "-o", ".");
	cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
	run_free(&r);
}

Test(tool_decode, bad_arguments_exit_2)
{
	static const char *const cases[][8] = {
		{ "decode" },
		{ "decode", "in.h264" },
		{ "decode", "in.h264", "-o", "" },
		{ "decode", "in.h264", "-o", "x.y4m", "extra" },
		{ "decode", "in.h264", "-o", "x.y4m", "--threads", "0" },
		{ "decode", "in.h264", "-o", "x.y4m", "--frames", "0" },
		{ "decode", "in.h264", "-o", "x.y4m", "--format", "yuyv" },
		{ "decode", "in.h264", "-o", "x.y4m", "--memory", "dmabuf" },
		{ "decode", "in.h264", "-o", "x.y4m", "--bogus" },
		{ "decode", "in.h264", "-o" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r = run_prog(vqmedia(), cases[i]);
		cr_assert_eq(r.status, 2, "case %zu: exit %d, stderr: %s", i, r.status, r.err);
		cr_assert_neq(r.err[0], 0, "no message for case %zu", i);
		run_free(&r);
		cr_assert_not(exists("x.y4m"));
	}
	struct run r = RUN("decode", "--help");
	cr_assert_eq(r.status, 0);
	cr_assert_not_null(strstr(r.out, "--threads"));
	run_free(&r);
}

Test(tool_decode, info_lists_both_queues)
{
	struct run r = RUN("info", "--device", "decoder");
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	static const char *const want[] = {
		"Video Memory-to-Memory Multiplanar", "Video Output Multiplanar",
		"Video Capture Multiplanar", "'H264'", "compressed", "'NV12'", "'YU12'",
		"min_number_of_buffers_for_capt",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert_not_null(strstr(r.out, want[i]), "'%s' missing from:\n%s", want[i], r.out);
	run_free(&r);
}
