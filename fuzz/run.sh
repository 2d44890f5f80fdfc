#!/usr/bin/env bash
# Fuzz for a bounded time: fuzz/run.sh BUILDDIR SECONDS [TARGET]
# TARGET is fuzz_queue (the default), fuzz_media or fuzz_decoder; its seeds are in
# fuzz/corpus/<TARGET without fuzz_>.  BUILDDIR was set up with CC=clang and
# -Dfuzz=true.  The seed corpus is copied to a temporary directory, so the
# tree stays clean.  Exits non-zero on any crash, sanitizer report, leak,
# timeout or invariant failure; the reproducer is left in
# BUILDDIR/fuzz/artifacts/<TARGET>/.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 BUILDDIR SECONDS [fuzz_queue|fuzz_media|fuzz_decoder]" >&2
	exit 2
fi
builddir=$1
seconds=$2
name=${3:-fuzz_queue}
here=$(cd "$(dirname "$0")" && pwd)
seeds=$here/corpus/${name#fuzz_}
if [ ! -d "$seeds" ] || [ ! -f "$here/$name.c" ]; then
	echo "unknown fuzz target $name (no $here/$name.c or $seeds/)" >&2
	exit 2
fi
target=$builddir/fuzz/$name
if [ ! -x "$target" ]; then
	echo "$target not built (meson setup with CC=clang -Dfuzz=true, then meson compile)" >&2
	exit 2
fi

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp "$seeds"/* "$corpus"/
artifacts=$builddir/fuzz/artifacts/$name
mkdir -p "$artifacts"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

log=$builddir/fuzz/$name.log
status=0
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
	tail -n 100 "$log" >&2
	echo "$name FAILED (exit $status); full log $log; reproducer in $artifacts/:" >&2
	ls -1 "$artifacts" >&2
	echo "replay with: $target $artifacts/<file>" >&2
	exit "$status"
fi
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::' "$log"
echo "$name: no crash in $seconds s (log $log)"
