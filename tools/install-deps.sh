#!/bin/sh
# Install every Debian (bookworm) package the project needs to build, test,
# fuzz and benchmark.  This is the single list; .ci/run calls it.
set -eu

# libclang-rt-14-dev holds libFuzzer and clang's sanitizer runtimes; clang only
# recommends it, so --no-install-recommends would leave it out.  llvm provides
# llvm-symbolizer for readable sanitizer stacks.  gcc brings its own ASan and
# UBSan runtimes but only recommends libc6-dev.  v4l-utils brings
# v4l2-compliance, libv4l-dev the libv4l2 plugin API; libswscale and libpng
# turn captured frames into Y4M and PNG files.  libavcodec / libavformat are
# the decoder device's codecs and the tool's demuxer; ffmpeg (its encoders
# and its own decodes) makes the test streams and judges our decodes.
# qemu-system-x86, busybox-static, cpio and kmod boot Debian's kernel with
# the vivid driver (tests/vivid/run.sh): a real V4L2 driver under the same
# v4l2-compliance, to tell libv4l2's failures from ours.
packages="
	meson ninja-build pkg-config git
	gcc libc6-dev
	clang libclang-rt-14-dev llvm
	libcriterion-dev
	liburing-dev
	v4l-utils libv4l-dev
	libswscale-dev libavutil-dev libpng-dev
	libavcodec-dev libavformat-dev ffmpeg
	qemu-system-x86 busybox-static cpio kmod
"

as_root=
if [ "$(id -u)" -ne 0 ]; then
	as_root=sudo
fi
$as_root apt-get update
# shellcheck disable=SC2086  # $packages is meant to split into words
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages
