#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/ffmpeg_m2m.sh BUILDDIR
#
# The decoder device judged by an unmodified application: ffmpeg's V4L2
# memory-to-memory decoders (h264_v4l2m2m ...) drive it exactly as they
# drive a kernel driver, through libv4l2 and our plugin, and every frame
# they give must hash as ffmpeg's own software decode of the same stream:
#
#   LD_PRELOAD="v4l2convert.so libvqmedia-preload.so" VQMEDIA_PRELOAD=poll-only \
#     ffmpeg -c:v h264_v4l2m2m -i S -fps_mode passthrough -pix_fmt yuv420p -f framemd5 -
#   ffmpeg -i S -fps_mode passthrough -pix_fmt yuv420p -f framemd5 -   (reference)
#
# How ffmpeg reaches the device (../shared/docs/PEERS.md §1-2): in a private
# mount namespace, libv4l's compiled-in plugin directory holds our plugin
# (beside the system's), and a tmpfs over /dev holds video0, a symlink to
# video0.decoder.vqmedia (ffmpeg scans /dev for video* nodes).
# v4l2convert.so makes libv4l2 wrap ffmpeg's open() of /dev/video0; the
# plugin claims the fd (it names a *.decoder.vqmedia file) and gets its
# ioctl / read / write / close; ffmpeg mmaps the file itself, which is the
# device's shared memory.  libv4l2 never sees poll(), which ffmpeg calls
# before every DQBUF: the shim in poll-only mode answers poll for the
# plugin's fds with the plugin's guest driver, as the kernel driver would.
#
# Only the MD5 column is compared, and every decoded frame is kept
# (-fps_mode passthrough): the V4L2 route's timestamps are the OUTPUT
# buffers' timestamps carried to CAPTURE, as the stateful decoder spec says,
# and ffmpeg 5.1 sets those from the packets' pts, or 0 when a packet has
# none (v4l2_set_pts).  Raw H.264 / HEVC / MPEG-2 elementary streams carry
# no timestamps at all, so every frame of those comes back at 0 -- on a
# kernel driver as here -- and ffmpeg's default constant-frame-rate output
# would drop all but the first two as duplicates.  The software decoder
# guesses timestamps from its own frame count instead.  Differing
# timestamps are printed, not failed.
#
# Prints one line per codec and "N passed, N failed"; exits 1 on any
# failure, and when ffmpeg, v4l2convert.so or our libraries are missing
# (the check must not pass by not running).  Logs of failures:
# BUILDDIR/meson-logs/ffmpeg_m2m-CODEC.log when writable.
# Needs root or unprivileged user namespaces (then a user + mount namespace).
set -u

build=${1:?usage: ffmpeg_m2m.sh BUILDDIR}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$here/.." && cd "$build" && pwd) || exit 1
plugin=$build/tests/plugin/libvqmedia-v4l2.so
shim=$build/tests/plugin/libvqmedia-preload.so
libv4l=/usr/lib/x86_64-linux-gnu/libv4l
sysplugins=$libv4l/plugins
convert=$libv4l/v4l2convert.so
# One ffmpeg run (30 frames of 320x240) takes well under a second; this
# only ends a stall.
run_timeout=60

fail() {
	echo "ffmpeg_m2m: FAIL: $*" >&2
	exit 1
}
command -v ffmpeg >/dev/null 2>&1 || fail "ffmpeg is not installed (Debian package 'ffmpeg')"
command -v unshare >/dev/null 2>&1 || fail "unshare is not installed (util-linux)"
[ -f "$convert" ] || fail "$convert is missing (Debian package 'libv4l-0')"
[ -d "$sysplugins" ] || fail "$sysplugins is missing (Debian package 'libv4l-0')"
[ -f "$plugin" ] || fail "$plugin is not built (needs libv4l-dev)"
[ -f "$shim" ] || fail "$shim is not built"

# A sanitizer build's plugin needs its runtime loaded first into an
# uninstrumented ffmpeg; ffmpeg's own leaks at exit are not ours.
sanitizers=$(ldd "$plugin" | awk '/lib(asan|ubsan)\.so/ { printf "%s ", $3 }')
if [ -n "$sanitizers" ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ffmpeg_m2m.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/plugins" "$work/dev"
# The system's plugins stay (they do not claim a plain file).
cp "$sysplugins"/*.so "$work/plugins/" 2>/dev/null
cp "$plugin" "$work/plugins/" || exit 1
cp "$shim" "$work/" || exit 1
logs=$build/meson-logs
mkdir -p "$logs" 2>/dev/null

# Runs as root in the new namespace: nothing here leaks to the host.  The
# device file is made afresh per run (one device per file: a fresh one).
export work sysplugins
inner() {
	set -e
	mount --make-rprivate /
	mount --bind "$work/plugins" "$sysplugins"
	# Keep the few /dev nodes ffmpeg and the shell use: the real ones,
	# bound aside first, then over empty files on the tmpfs.
	local n
	for n in null zero random urandom; do
		mount --bind "/dev/$n" "$work/dev/$n"
	done
	mount -t tmpfs none /dev
	for n in null zero random urandom; do
		: > "/dev/$n"
		mount --bind "$work/dev/$n" "/dev/$n"
	done
	: > "$work/video0.decoder.vqmedia"
	ln -s "$work/video0.decoder.vqmedia" /dev/video0
	"$@"
}
for n in null zero random urandom; do
	: > "$work/dev/$n" # mount points for the real nodes (inner)
done
unshare_args=(-m)
if [ "$(id -u)" -ne 0 ]; then
	unshare_args=(-Urm)
fi

# gen FILE ENCODER-ARGS...: 30 frames of testsrc2, 320x240, 30 fps, 4:2:0.
gen() {
	local out=$1
	shift
	ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=320x240:rate=30 \
		-frames:v 30 -pix_fmt yuv420p "$@" "$out"
}

# The MD5 column, and the timestamp column, of a framemd5 listing.
hashes() {
	grep -v '^#' "$1" | awk -F, '{ gsub(/ /, "", $NF); print $NF }'
}
stamps() {
	grep -v '^#' "$1" | awk -F, '{ gsub(/ /, "", $3); print $3 }'
}

passed=0
failed=0
# check NAME V4L2-DECODER SOURCE
check() {
	local name=$1 dec=$2 src=$3
	local log=$work/$name.log ours=$work/$name.ours ref=$work/$name.ref
	local why=""
	if ! ffmpeg -nostdin -loglevel error -i "$src" -fps_mode passthrough -pix_fmt yuv420p \
		-f framemd5 - \
		>"$ref" 2>"$work/$name.ref.err"; then
		why="reference decode failed: $(head -c 300 "$work/$name.ref.err")"
	fi
	local rc=0
	if [ -z "$why" ]; then
		timeout -k 5 "$run_timeout" unshare "${unshare_args[@]}" bash -c \
			"$(declare -f inner); inner \"\$@\"" inner \
			env LD_PRELOAD="$sanitizers$convert $work/libvqmedia-preload.so" \
			VQMEDIA_PRELOAD=poll-only \
			ffmpeg -nostdin -hide_banner -loglevel verbose -c:v "$dec" -i "$src" \
			-fps_mode passthrough -pix_fmt yuv420p -f framemd5 - >"$ours" 2>"$log" || rc=$?
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			why="ffmpeg stalled (killed after ${run_timeout}s)"
		elif [ "$rc" != 0 ]; then
			why="ffmpeg exited $rc"
		elif ! grep -q "Using device /dev/video0" "$log"; then
			why="ffmpeg did not decode on /dev/video0"
		fi
	fi
	local n_ref n_ours
	n_ref=$(hashes "$ref" 2>/dev/null | wc -l)
	n_ours=$(hashes "$ours" 2>/dev/null | wc -l)
	if [ -z "$why" ]; then
		if [ "$n_ref" -eq 0 ]; then
			why="the reference has no frames"
		elif ! cmp -s <(hashes "$ref") <(hashes "$ours"); then
			local first
			first=$(diff <(hashes "$ref") <(hashes "$ours") | head -n 1)
			why="frames differ ($n_ours frames vs $n_ref; first difference: $first)"
		fi
	fi
	if [ -z "$why" ]; then
		local note=""
		if ! cmp -s <(stamps "$ref") <(stamps "$ours"); then
			note=" (timestamps differ: ours $(stamps "$ours" | head -n 3 | paste -sd' '),"
			note+=" ffmpeg's $(stamps "$ref" | head -n 3 | paste -sd' ') ...)"
		fi
		echo "ok   $name: $n_ours frames match via $dec$note"
		passed=$((passed + 1))
	else
		echo "FAIL $name ($dec): $why"
		if cp "$log" "$logs/ffmpeg_m2m-$name.log" 2>/dev/null; then
			echo "     log: $logs/ffmpeg_m2m-$name.log"
		else
			tail -n 20 "$log" | sed 's/^/     | /'
		fi
		failed=$((failed + 1))
	fi
}

gen "$work/t.h264" -c:v libx264 || fail "could not encode H.264 (libx264)"
gen "$work/t.hevc" -c:v libx265 -x265-params log-level=error || fail "could not encode HEVC (libx265)"
gen "$work/t-vp8.ivf" -c:v libvpx || fail "could not encode VP8 (libvpx)"
gen "$work/t-vp9.ivf" -c:v libvpx-vp9 || fail "could not encode VP9 (libvpx-vp9)"
gen "$work/t.m2v" -c:v mpeg2video || fail "could not encode MPEG-2 (mpeg2video)"

check h264 h264_v4l2m2m "$work/t.h264"
check hevc hevc_v4l2m2m "$work/t.hevc"
check vp8 vp8_v4l2m2m "$work/t-vp8.ivf"
check vp9 vp9_v4l2m2m "$work/t-vp9.ivf"
check mpeg2 mpeg2_v4l2m2m "$work/t.m2v"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
