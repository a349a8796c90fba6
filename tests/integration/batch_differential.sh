#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The CLI against the reference evaluator: for each of ~20 seeds,
# build/tools/scenario writes a random catalog, tree, actions, requests and
# the reference's answers; this script brings the database to that state
# through the operator workflow (init, catalog load, nodes import, case
# open, propose as one actor, approve as another, lift) and compares
# 'cutoff check --batch' with the expected answers line by line.
#
#   CUTOFF_SEED=N    first seed (default: from the clock); printed on failure
#   CUTOFF_SEEDS=N   how many seeds (default 20)
source "$(dirname "$0")/lib.sh"

SCENARIO="$ROOT/$CUTOFF_BUILD/tools/scenario"
first_seed=${CUTOFF_SEED:-$(( $(date +%s) % 1000000 * 1000 + $$ % 1000 ))}
seeds=${CUTOFF_SEEDS:-20}
echo "# batch differential: CUTOFF_SEED=$first_seed CUTOFF_SEEDS=$seeds"

if [ ! -x "$SCENARIO" ] || [ ! -x "$CUTOFF" ]; then
    not_ok "build/tools/scenario and the CLI are built" "missing $SCENARIO or $CUTOFF"
    finish
    exit 1
fi

# step DIR WHAT ARGS...: runs the CLI; on failure records why in $failed.
failed=
step() {
    local what=$1; shift
    [ -n "$failed" ] && return 1
    run_cutoff "$@"
    if [ "$STATUS" -ne 0 ]; then
        failed="$what: exit $STATUS: $ERR"
        return 1
    fi
}

for ((i = 0; i < seeds; i++)); do
    seed=$((first_seed + i))
    dir="$WORK/seed-$seed"
    mkdir -p "$dir"
    CUTOFF_DB=$(new_store "seed_$seed")
    failed=
    if ! "$SCENARIO" "$seed" "$dir" 300 2>"$dir/scenario.err"; then
        not_ok "seed $seed: scenario written" "$(cat "$dir/scenario.err")"
        continue
    fi
    step "init" init
    step "catalog load" catalog load "$dir/catalog.json"
    step "nodes import" nodes import "$dir/nodes.jsonl"
    step "case open" --actor alice case open --title "differential $seed" --scope ten-0 --id CASE-1
    while IFS=$'\t' read -r file state id; do
        [ -n "$failed" ] && break
        step "propose $file ($id)" --actor alice action propose "$dir/$file"
        case $state in
        active)
            step "approve $id" --actor bob action approve "$id" ;;
        lifted)
            step "approve $id" --actor bob action approve "$id"
            step "lift $id" --actor alice action lift "$id" --reason "differential test" ;;
        draft) ;;
        *) failed="plan.tsv: unexpected state $state for $id" ;;
        esac
    done <"$dir/plan.tsv"
    if [ -z "$failed" ] && step "check --batch" check --batch "$dir/queries.tsv"; then
        printf '%s\n' "$OUT" >"$dir/got.tsv"
        if diff -u "$dir/expected.tsv" "$dir/got.tsv" >"$dir/diff.txt"; then
            ok "seed $seed: $(wc -l <"$dir/queries.tsv") batch decisions agree with the reference"
        else
            # The failing requests next to what was expected and what came out.
            mapfile -t lines < <(diff "$dir/expected.tsv" "$dir/got.tsv" | grep -E '^[0-9]' | head -5)
            details=()
            for range in "${lines[@]}"; do
                n=${range%%[acd,]*}
                details+=("line $n: $(sed -n "${n}p" "$dir/queries.tsv" | tr '\t' ' ') => expected [$(sed -n "${n}p" "$dir/expected.tsv" | tr '\t' ' ')] got [$(sed -n "${n}p" "$dir/got.tsv" | tr '\t' ' ')]")
            done
            mapfile -t diff_lines < <(head -30 "$dir/diff.txt")
            not_ok "seed $seed: batch decisions agree with the reference (replay: CUTOFF_SEED=$seed CUTOFF_SEEDS=1; build/tools/scenario $seed DIR)" \
                "${details[@]}" "${diff_lines[@]}"
        fi
    else
        not_ok "seed $seed: the workflow runs (replay: CUTOFF_SEED=$seed CUTOFF_SEEDS=1)" "$failed"
    fi
done
finish
