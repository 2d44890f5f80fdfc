/* SPDX-License-Identifier: MIT */
/*
 * Decoding through the whole stack next to ffmpeg decoding the same file.
 *
 * At start, ffmpeg encodes a 720p H.264 stream (testsrc2, 900 frames,
 * libx264 veryfast) into a temporary file.  Then, for N = 2 and 1 decoder
 * threads, each run decodes it twice, back to back:
 *  - decode_720p_h264_tN: what `vqmedia decode` does without writing a
 *    file: libavformat demuxing, the guest driver model, the commandq /
 *    eventq, the virtio-media runner and the decoder device (N libavcodec
 *    threads), MMAP buffers, YU12 pictures;
 *  - ffmpeg_720p_h264_tN: `ffmpeg -benchmark -threads N -i S -f null -`:
 *    the same demuxer and decoder without the device around them, yuv420p
 *    out (-f null converts nothing), timed by ffmpeg's own "rtime".
 * The timed span is the same on both sides: the decoder's life, from
 * opening it to closing it, with every packet and frame in between.
 * ffmpeg's rtime (fftools 5.x) starts after the input file is opened and
 * probed, before the decoder is opened, and ends after the last frame
 * and closing the decoder; process start-up and probing are out.  Ours
 * starts at OPEN of the session (after building the stack and opening
 * and probing the file with libavformat) and ends when CLOSE returns:
 * the formats, buffer allocation, the whole decode with the drain, and
 * freeing the buffers, the worker and libavcodec are in.  The figures
 * with everything (building and destroying the stack, opening the file;
 * for ffmpeg, fork to exit) go on '#' lines.
 * 900 frames (30 s of video) so that what each side leaves out of its
 * span -- ffmpeg's probing decodes the first frames before rtime starts --
 * is a small part of the figure.
 * Figures are frames per second, the median of the runs; the ratio
 * decode_vs_ffmpeg_tN is the median of the runs' own ratios (paired runs
 * share whatever else the machine was doing).  Target: >= 0.95x.
 * Each run checks that all 900 frames came out, none flagged ERROR.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demux.h"
#include "harness.h"
#include "m2mdec.h"
#include "stack.h"

#define FRAMES 900
#define RUNS 5

struct input {
	struct vqm_demux dx;
	char err[256];
	uint64_t t_first; /* first frame out */
};

/* Where a decode's time went, summed over the timed runs (for the note). */
static struct {
	double setup_ns, first_ns, teardown_ns;
	unsigned runs;
	uint64_t whole_ns; /* the last run's, stack and file included */
} split;

static int on_input(void *opaque, const uint8_t **data, size_t *size)
{
	struct input *in = opaque;
	int r = vqm_demux_next(&in->dx, data, size, in->err, sizeof(in->err));
	if (r < 0)
		bench_fail("demux: %s", in->err);
	return r;
}

static int on_frame(void *opaque, const struct vqm_dec_frame *f)
{
	struct input *in = opaque;
	if (!in->t_first)
		in->t_first = bench_now_ns();
	bench_escape((void *)f->data);
	return 0;
}

/* One decode of @path through the stack; returns the time from OPEN to
 * CLOSE in ns (the whole run's in split.whole_ns), 0 on failure
 * (reported). */
static uint64_t decode_once(const char *path, unsigned threads)
{
	uint64_t t0 = bench_now_ns(), t_start = 0, t_open = 0, t_closed = 0;
	struct input in = { .t_first = 0 };
	if (vqm_demux_open(&in.dx, path, in.err, sizeof(in.err))) {
		bench_fail("%s", in.err);
		return 0;
	}
	struct vqm_stack s;
	int r = vqm_stack_init(&s, &(struct vqm_stack_opts){ .device = "decoder",
							     .threads = threads });
	if (r) {
		bench_fail("stack: %s", s.err);
		vqm_demux_close(&in.dx);
		return 0;
	}
	uint32_t sid;
	struct vqm_dec_stats st;
	char err[256] = "";
	t_start = bench_now_ns();
	if ((r = vqm_open(&s, &sid)) == 0) {
		t_open = bench_now_ns();
		struct vqm_dec_config c = { .coded = in.dx.fourcc, .width = in.dx.width,
					    .height = in.dx.height, .capture = V4L2_PIX_FMT_YUV420,
					    .memory = V4L2_MEMORY_MMAP };
		static const struct vqm_dec_ops ops = { .input = on_input, .frame = on_frame };
		r = vqm_dec_run(&s, sid, &c, &ops, &in, &st, err, sizeof(err));
		vqm_close(&s, sid);
		t_closed = bench_now_ns();
	} else {
		snprintf(err, sizeof(err), "OPEN: %s", strerror(-r));
	}
	vqm_stack_destroy(&s);
	vqm_demux_close(&in.dx);
	uint64_t t1 = bench_now_ns();
	if (r) {
		bench_fail("decode (%u threads): %s", threads, err[0] ? err : "failed");
		return 0;
	}
	if (st.frames != FRAMES || st.errors || !st.drained) {
		bench_fail("decode (%u threads): %u frames, %u flagged ERROR, %s", threads,
			   st.frames, st.errors, st.drained ? "drained" : "not drained");
		return 0;
	}
	split.setup_ns += (double)(t_start - t0);
	split.first_ns += (double)(in.t_first - t_open);
	split.teardown_ns += (double)(t1 - t_closed);
	split.runs++;
	split.whole_ns = t1 - t0;
	return t_closed - t_start;
}

/* Run ffmpeg with @argv (stdin, stdout from /dev/null, stderr into
 * @log if not NULL); wall time in ns, 0 on failure (reported). */
static uint64_t run_ffmpeg(char *const argv[], char *log, size_t len)
{
	int pfd[2] = { -1, -1 };
	if (log && pipe(pfd)) {
		bench_fail("pipe: %s", strerror(errno));
		return 0;
	}
	uint64_t t0 = bench_now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		bench_fail("fork: %s", strerror(errno));
		return 0;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
		}
		if (log)
			dup2(pfd[1], 2);
		execvp("ffmpeg", argv);
		fprintf(stderr, "bench_decode: cannot run ffmpeg: %s\n", strerror(errno));
		_exit(127);
	}
	if (log) {
		close(pfd[1]);
		size_t n = 0;
		ssize_t r;
		while ((r = read(pfd[0], log + n, len - 1 - n)) > 0 && n + (size_t)r < len - 1)
			n += (size_t)r;
		if (r > 0)
			n += (size_t)r;
		log[n] = 0;
		/* Whatever did not fit: drain, so ffmpeg never blocks on us. */
		char sink[4096];
		while (read(pfd[0], sink, sizeof(sink)) > 0)
			;
		close(pfd[0]);
	}
	int ws;
	if (waitpid(pid, &ws, 0) != pid || !WIFEXITED(ws) || WEXITSTATUS(ws)) {
		bench_fail("ffmpeg failed (%s %d)%s%s", WIFEXITED(ws) ? "exit" : "signal",
			   WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws), log ? ": " : "",
			   log ? log : "");
		return 0;
	}
	return bench_now_ns() - t0;
}

/* ffmpeg's decode of @path: its own rtime in ns (0 on failure, reported),
 * and the fork-to-exit time in *@wall. */
static uint64_t ffmpeg_once(const char *path, unsigned threads, uint64_t *wall)
{
	char t[16], log[8192];
	snprintf(t, sizeof(t), "%u", threads);
	char *const argv[] = { "ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-benchmark",
			       "-threads", t, "-i", (char *)path, "-f", "null", "-", NULL };
	*wall = run_ffmpeg(argv, log, sizeof(log));
	if (!*wall)
		return 0;
	const char *rt = strstr(log, "rtime=");
	double secs;
	if (!rt || sscanf(rt + 6, "%lfs", &secs) != 1 || secs <= 0) {
		bench_fail("no rtime= in ffmpeg -benchmark's output: %s", log);
		return 0;
	}
	return (uint64_t)(secs * 1e9);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void bench_threads(const char *path, unsigned threads)
{
	char dec_name[64], ff_name[64], ratio_name[64];
	snprintf(dec_name, sizeof(dec_name), "decode_720p_h264_t%u", threads);
	snprintf(ff_name, sizeof(ff_name), "ffmpeg_720p_h264_t%u", threads);
	snprintf(ratio_name, sizeof(ratio_name), "decode_vs_ffmpeg_t%u", threads);
	if (!bench_selected(dec_name) && !bench_selected(ff_name) && !bench_selected(ratio_name))
		return;
	/* Warm-up: page cache, libraries, CPU frequency. */
	uint64_t wall;
	if (!decode_once(path, threads) || !ffmpeg_once(path, threads, &wall))
		return;
	double dec[RUNS], ff[RUNS], ratio[RUNS], ffwall[RUNS], whole[RUNS];
	split.setup_ns = split.first_ns = split.teardown_ns = 0;
	split.runs = 0;
	for (unsigned i = 0; i < RUNS; i++) {
		uint64_t td = decode_once(path, threads), tf = ffmpeg_once(path, threads, &wall);
		if (!td || !tf)
			return;
		dec[i] = FRAMES / (td / 1e9);
		whole[i] = FRAMES / (split.whole_ns / 1e9);
		ff[i] = FRAMES / (tf / 1e9);
		ffwall[i] = FRAMES / (wall / 1e9);
		ratio[i] = dec[i] / ff[i];
	}
	double dmed = median(dec, RUNS), fmed = median(ff, RUNS), rmed = median(ratio, RUNS);
	bench_result(dec_name, dmed, "fps");
	bench_note("  %s: min %.1f max %.1f over %d runs (OPEN to CLOSE); with building the "
		   "stack and opening the file: %.1f fps", dec_name, dec[0], dec[RUNS - 1], RUNS,
		   median(whole, RUNS));
	bench_result(ff_name, fmed, "fps");
	bench_note("  %s: min %.1f max %.1f over %d runs (rtime); from fork to exit: %.1f fps",
		   ff_name, ff[0], ff[RUNS - 1], RUNS, median(ffwall, RUNS));
	bench_note("  %s: per run on average %.1f ms to open the file and build the stack, "
		   "%.1f ms from OPEN to the first frame, %.1f ms to destroy the stack (untimed)",
		   dec_name,
		   split.setup_ns / split.runs / 1e6, split.first_ns / split.runs / 1e6,
		   split.teardown_ns / split.runs / 1e6);
	bench_result(ratio_name, rmed, "x");
	bench_note("  %s: median of %d paired runs, min %.3f max %.3f; target >= 0.95x: %s",
		   ratio_name, RUNS, ratio[0], ratio[RUNS - 1], rmed >= 0.95 ? "met" : "MISSED");
}

int main(int argc, char **argv)
{
	bench_init(argc, argv, "bench_decode");
	char dir[] = "/tmp/bench_decode.XXXXXX";
	if (!mkdtemp(dir)) {
		bench_fail("mkdtemp: %s", strerror(errno));
		return bench_finish();
	}
	char path[64];
	snprintf(path, sizeof(path), "%s/720p.h264", dir);
	char frames[16];
	snprintf(frames, sizeof(frames), "%d", FRAMES);
	char *const gen[] = { "ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
			      "-i", "testsrc2=size=1280x720:rate=30", "-frames:v", frames,
			      "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast",
			      path, NULL };
	bench_note("encoding %d frames of 1280x720 H.264 (libx264 veryfast) into %s", FRAMES,
		   path);
	if (run_ffmpeg(gen, NULL, 0)) {
		bench_note("%ld CPUs; each figure: %d runs after one warm-up run",
			   sysconf(_SC_NPROCESSORS_ONLN), RUNS);
		bench_threads(path, 2);
		bench_threads(path, 1);
	}
	unlink(path);
	rmdir(dir);
	return bench_finish();
}
