#!/usr/bin/env bash
# Fuzz for a bounded time: fuzz/run.sh BUILDDIR SECONDS
# BUILDDIR was set up with CC=clang and -Dfuzz=true.  The seed corpus is copied
# to a temporary directory, so the tree stays clean.  Exits non-zero on any
# crash, sanitizer report, leak, timeout or invariant failure; the reproducer
# is left in BUILDDIR/fuzz/artifacts/.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILDDIR SECONDS" >&2
	exit 2
fi
builddir=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
target=$builddir/fuzz/fuzz_queue
if [ ! -x "$target" ]; then
	echo "$target not built (meson setup with CC=clang -Dfuzz=true, then meson compile)" >&2
	exit 2
fi

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp "$here"/corpus/queue/* "$corpus"/
artifacts=$builddir/fuzz/artifacts
mkdir -p "$artifacts"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

log=$builddir/fuzz/fuzz_queue.log
status=0
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
	tail -n 100 "$log" >&2
	echo "fuzz_queue FAILED (exit $status); full log $log; reproducer in $artifacts/:" >&2
	ls -1 "$artifacts" >&2
	echo "replay with: $target $artifacts/<file>" >&2
	exit "$status"
fi
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::' "$log"
echo "fuzz_queue: no crash in $seconds s (log $log)"
