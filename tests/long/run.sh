#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The long reliability runs behind tests/long/RESULTS.md (`make long`):
# tests/integration/crash_kill.sh with CRASH_KILLS kills (default 500) and
# tests/integration/load_change.sh for LOAD_SECONDS (default 60, RSS growth
# from second 10). Their TAP output and result lines go to OUT_DIR (default
# bench/out/<date>-long/, which git ignores) and standard output; the machine's load before and
# after is written next to them. Exit status 1 when either test failed.
#
#   bash tests/long/run.sh [BUILD [OUT_DIR]]
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
OUT=${2:-bench/out/$(date -u +%Y%m%d-%H%M%S)-long}
mkdir -p "$OUT"
export CUTOFF_BUILD=$BUILD
export CRASH_KILLS=${CRASH_KILLS:-500} LOAD_SECONDS=${LOAD_SECONDS:-60} LOAD_WARMUP=${LOAD_WARMUP:-10}
{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+changes')"
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1) cpus=$(nproc)"
    echo "build=$BUILD crash_kills=$CRASH_KILLS load_seconds=$LOAD_SECONDS load_warmup=$LOAD_WARMUP"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"
status=0
for t in crash_kill load_change; do
    start=$(date +%s)
    bash "tests/integration/$t.sh" >"$OUT/$t.tap" 2>&1 || status=1
    echo "$t seconds=$(($(date +%s) - start))" >>"$OUT/machine.txt"
    grep -E '^(not ok|ok|#|result)' "$OUT/$t.tap"
done
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"
cat "$OUT/machine.txt"
echo "raw output in $OUT/"
exit $status
