#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer drivers (clang, -fsanitize=fuzzer,address,undefined)
# against the sources they exercise, in build/fuzz/, and runs each for
# FUZZ_SECONDS (default 60) over a working copy of its committed corpus
# with its dictionary (fuzz/<driver>.dict, else the JSON one). New
# interesting inputs stay in build/fuzz/corpus/; a crash leaves its input
# in build/fuzz/artifacts/ and fails the run.
#
#   bash fuzz/run.sh [DRIVER...]      e.g. FUZZ_SECONDS=120 bash fuzz/run.sh action
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
out=build/fuzz
drivers=("$@")
[ ${#drivers[@]} -gt 0 ] ||
    drivers=(catalog action node_line time authz check_body admin_body tokens config batch_line)

if ! command -v clang >/dev/null 2>&1 ||
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
     clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then
    echo "fuzz: clang with libFuzzer is missing; installing it" >&2
    bash scripts/install-deps.sh fuzz
fi

pkgs="jansson libxxhash libsodium sqlite3 libmicrohttpd"
cflags="-std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=all -Iinclude -Isrc -D_GNU_SOURCE $(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs) -lpthread -lm"

# The sources each driver needs: the library (all of it: the daemon's
# parsers sit on the engine and the store), and the daemon's objects but
# its main, or the CLI's batch line grammar.
lib_src=(src/util/*.c src/engine/*.c src/format/*.c src/store/*.c src/audit/*.c src/db/*.c)
daemon_src=(src/http/*.c src/common/*.c $(ls src/daemon/*.c | grep -v '/main\.c$'))
sources_of() {
    case $1 in
        catalog | action | node_line | time) echo src/util/*.c src/format/*.c ;;
        authz | check_body | admin_body | tokens | config) echo "${lib_src[@]}" "${daemon_src[@]}" ;;
        batch_line) echo "${lib_src[@]}" src/cli/batch_line.c ;;
        *) echo "fuzz: no sources listed for driver $1" >&2; return 1 ;;
    esac
}

# Each source is compiled once per run, whichever drivers share it.
object_of() {
    local o="$out/obj/${1%.c}.o"
    if [ ! -f "$o.fresh" ]; then
        mkdir -p "$(dirname "$o")"
        # shellcheck disable=SC2086
        clang $cflags -Wall -Wextra -Werror -c -o "$o" "$1" && touch "$o.fresh"
    fi
    echo "$o"
}

rm -rf "$out/obj"
mkdir -p "$out/artifacts"
for d in "${drivers[@]}"; do
    [ -f "fuzz/fuzz_$d.c" ] || { echo "fuzz: no driver fuzz/fuzz_$d.c" >&2; exit 2; }
    echo "fuzz: building $out/fuzz_$d" >&2
    sources=$(sources_of "$d") || exit 2
    objects=()
    for src in $sources fuzz/fuzz_common.c "fuzz/fuzz_$d.c"; do
        o=$(object_of "$src") || exit 1
        objects+=("$o")
    done
    # shellcheck disable=SC2086
    clang $cflags -o "$out/fuzz_$d" "${objects[@]}" $libs
done

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for d in "${drivers[@]}"; do
    work="$out/corpus/$d"
    mkdir -p "$work"
    dict=fuzz/$d.dict
    [ -f "$dict" ] || dict=fuzz/json.dict
    echo "fuzz: running fuzz_$d for ${seconds}s with $dict" >&2
    # New inputs go to the working copy (first directory); the committed
    # corpus (second) is only read.
    if ! "$out/fuzz_$d" -max_total_time="$seconds" -dict="$dict" -max_len=4096 \
        -artifact_prefix="$out/artifacts/$d-" -print_final_stats=1 \
        "$work" "fuzz/corpus/$d" 2>"$out/$d.log"; then
        echo "fuzz: fuzz_$d FAILED; see $out/$d.log and $out/artifacts/" >&2
        tail -40 "$out/$d.log" >&2
        status=1
    else
        grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$out/$d.log" |
            sed "s/^/fuzz: $d /" >&2 || true
    fi
done
exit $status
