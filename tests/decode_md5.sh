#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The decoder device judged by a third party: ffmpeg encodes tiny test
# streams (one per codec the device offers, an MP4 and a WebM container, and
# an H.264 stream whose resolution changes mid-stream), `vqmedia decode`
# decodes them through the whole stack, and the MD5 of every frame it wrote
# must equal the MD5 of the same frame as ffmpeg decodes it:
#
#   ffmpeg -i OUT.y4m -pix_fmt yuv420p -f framemd5 -     (ours, per Y4M file)
#   ffmpeg -i S       -pix_fmt yuv420p -f framemd5 -     (ffmpeg's own decode)
#
# The resolution-change stream gives one Y4M file per size (OUT.y4m,
# OUT-2.y4m); ffmpeg's reference then runs with -autoscale 0, or it would
# scale the second part to the first size.
#
# Usage: decode_md5.sh BUILDDIR.  Prints one line per case and "N passed,
# N failed"; exits 1 on any failure, and when ffmpeg is missing (the check
# must not pass by not running).
set -u

build=${1:?usage: decode_md5.sh BUILDDIR}
vqmedia=$build/tools/vqmedia
if ! command -v ffmpeg >/dev/null 2>&1; then
	echo "decode_md5: FAIL: ffmpeg is not installed (Debian package 'ffmpeg');" \
		"the decoder cannot be checked without it" >&2
	exit 1
fi
if [ ! -x "$vqmedia" ]; then
	echo "decode_md5: FAIL: $vqmedia is not built" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/decode_md5.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

if ! "$vqmedia" info --device decoder >"$tmp/info" 2>"$tmp/info.err"; then
	echo "decode_md5: FAIL: 'vqmedia info --device decoder' failed:" >&2
	cat "$tmp/info.err" >&2
	exit 1
fi

passed=0
failed=0

# gen FILE SIZE FRAMES ENCODER-ARGS...: a testsrc2 clip, 30 fps, yuv420p.
gen() {
	out=$1 size=$2 frames=$3
	shift 3
	ffmpeg -nostdin -loglevel error -y -f lavfi -i "testsrc2=size=$size:rate=30" \
		-frames:v "$frames" -pix_fmt yuv420p "$@" "$out"
}

# The MD5 column of a framemd5 listing.
hashes() {
	grep -v '^#' | awk -F, '{ gsub(/ /, "", $NF); print $NF }'
}

# check NAME FOURCC SOURCE, with ffmpeg's input options in $ref_in (the
# decoder) and output options in $ref_out for the reference; both are reset.
ref_in=
ref_out=
check() {
	name=$1 fourcc=$2 src=$3
	in_opts=$ref_in
	ref_in=
	out_opts=$ref_out
	ref_out=
	if ! grep -q "'$fourcc'" "$tmp/info"; then
		echo "$name: the decoder does not offer '$fourcc' (not a case)"
		return
	fi
	if [ ! -s "$src" ]; then
		echo "$name: FAIL: ffmpeg could not encode the test stream"
		failed=$((failed + 1))
		return
	fi
	rm -f "$tmp"/out*.y4m
	if ! "$vqmedia" decode -q "$src" -o "$tmp/out.y4m" 2>"$tmp/err"; then
		echo "$name: FAIL: vqmedia decode: $(cat "$tmp/err")"
		failed=$((failed + 1))
		return
	fi
	: >"$tmp/ours"
	for y in "$tmp/out.y4m" "$tmp"/out-[0-9]*.y4m; do
		[ -f "$y" ] || continue
		ffmpeg -nostdin -loglevel error -i "$y" -pix_fmt yuv420p -f framemd5 - |
			hashes >>"$tmp/ours"
	done
	# shellcheck disable=SC2086 # option lists are words on purpose
	ffmpeg -nostdin -loglevel error $in_opts -i "$src" $out_opts -pix_fmt yuv420p \
		-f framemd5 - |
		hashes >"$tmp/ref"
	n_ours=$(wc -l <"$tmp/ours")
	n_ref=$(wc -l <"$tmp/ref")
	if [ "$n_ref" -eq 0 ]; then
		echo "$name: FAIL: ffmpeg decoded no frame of $src"
		failed=$((failed + 1))
	elif cmp -s "$tmp/ours" "$tmp/ref"; then
		echo "$name: ok ($n_ours frames match)"
		passed=$((passed + 1))
	else
		first=$(paste -d' ' "$tmp/ours" "$tmp/ref" | awk '$1 != $2 { print NR; exit }')
		echo "$name: FAIL: $n_ours frames decoded, ffmpeg has $n_ref;" \
			"first difference at frame ${first:-?}"
		failed=$((failed + 1))
	fi
}

gen "$tmp/h264.h264" 320x240 24 -c:v libx264 -preset fast
check h264 H264 "$tmp/h264.h264"

# 352x200: coded as 352x208, so the visible rectangle (G_SELECTION) matters.
gen "$tmp/crop.h264" 352x200 12 -c:v libx264 -preset fast
check h264-cropped H264 "$tmp/crop.h264"

gen "$tmp/hevc.hevc" 320x240 20 -c:v libx265 -preset fast -x265-params log-level=error
check hevc HEVC "$tmp/hevc.hevc"

gen "$tmp/vp8.ivf" 320x240 20 -c:v libvpx -b:v 300k
check vp8 VP80 "$tmp/vp8.ivf"

gen "$tmp/vp9.ivf" 320x240 20 -c:v libvpx-vp9 -b:v 300k -deadline realtime -cpu-used 8
check vp9 VP90 "$tmp/vp9.ivf"

if ffmpeg -hide_banner -encoders 2>/dev/null | grep -q ' libaom-av1 '; then
	gen "$tmp/av1.ivf" 160x120 10 -c:v libaom-av1 -cpu-used 8 -b:v 200k
else
	gen "$tmp/av1.ivf" 160x120 10 -c:v libsvtav1
fi
# ffmpeg's native av1 decoder needs a GPU; libdav1d is the software one.
ref_in="-c:v libdav1d"
check av1 AV01 "$tmp/av1.ivf"

gen "$tmp/mpeg2.m2v" 352x288 20 -c:v mpeg2video -b:v 1M
check mpeg2 MPG2 "$tmp/mpeg2.m2v"

# Containers: H.264 in MP4 is length-prefixed (h264_mp4toannexb), VP9 in WebM.
gen "$tmp/mp4.mp4" 320x240 20 -c:v libx264 -preset fast
check mp4-h264 H264 "$tmp/mp4.mp4"

gen "$tmp/webm.webm" 320x240 20 -c:v libvpx-vp9 -b:v 300k -deadline realtime -cpu-used 8
check webm-vp9 VP90 "$tmp/webm.webm"

# A resolution change: two Annex-B streams of two sizes, back to back.
gen "$tmp/a.h264" 320x240 12 -c:v libx264 -preset fast
gen "$tmp/b.h264" 176x144 12 -c:v libx264 -preset fast
cat "$tmp/a.h264" "$tmp/b.h264" >"$tmp/change.h264"
ref_out="-autoscale 0"
check h264-resolution-change H264 "$tmp/change.h264"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
