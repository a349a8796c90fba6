#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer drivers (clang, -fsanitize=fuzzer,address,undefined)
# against the library sources they exercise, in build/fuzz/, and runs each
# for FUZZ_SECONDS (default 60) over a working copy of its committed corpus
# with the JSON dictionary. New interesting inputs stay in build/fuzz/corpus/;
# a crash leaves its input in build/fuzz/artifacts/ and fails the run.
#
#   bash fuzz/run.sh [DRIVER...]      e.g. FUZZ_SECONDS=120 bash fuzz/run.sh action
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
out=build/fuzz
drivers=("$@")
[ ${#drivers[@]} -gt 0 ] || drivers=(catalog action node_line time)

if ! command -v clang >/dev/null 2>&1 ||
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
     clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then
    echo "fuzz: clang with libFuzzer is missing; installing it" >&2
    bash scripts/install-deps.sh fuzz
fi

pkgs="jansson libxxhash libsodium sqlite3"
cflags="-std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=all -Iinclude -Isrc -D_GNU_SOURCE $(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs) -lpthread -lm"
# The drivers only need the document layer and the helpers under it.
lib_src=(src/util/*.c src/format/*.c)

mkdir -p "$out/artifacts"
for d in "${drivers[@]}"; do
    [ -f "fuzz/fuzz_$d.c" ] || { echo "fuzz: no driver fuzz/fuzz_$d.c" >&2; exit 2; }
    echo "fuzz: building $out/fuzz_$d" >&2
    # shellcheck disable=SC2086
    clang $cflags -Wall -Wextra -Werror -o "$out/fuzz_$d" "fuzz/fuzz_$d.c" fuzz/fuzz_common.c \
        "${lib_src[@]}" $libs
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for d in "${drivers[@]}"; do
    work="$out/corpus/$d"
    mkdir -p "$work"
    echo "fuzz: running fuzz_$d for ${seconds}s" >&2
    # New inputs go to the working copy (first directory); the committed
    # corpus (second) is only read.
    if ! "$out/fuzz_$d" -max_total_time="$seconds" -dict=fuzz/json.dict -max_len=4096 \
        -artifact_prefix="$out/artifacts/$d-" -print_final_stats=1 \
        "$work" "fuzz/corpus/$d" 2>"$out/$d.log"; then
        echo "fuzz: fuzz_$d FAILED; see $out/$d.log and $out/artifacts/" >&2
        tail -40 "$out/$d.log" >&2
        status=1
    else
        grep -E '^stat::(number_of_executed_units|new_units_added)' "$out/$d.log" |
            sed "s/^/fuzz: $d /" >&2 || true
    fi
done
exit $status
