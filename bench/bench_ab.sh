#!/usr/bin/env bash
# A/B of two commits with today's bench_peers.py harness, alternating A, B, A, B... so slow drifts in the machine's
# load hit both alike.
#
#   bench/bench_ab.sh A_COMMIT B_COMMIT [ROUNDS] [bench_peers.py options...]
#
# Each commit is exported (git archive) into a temporary folder put first on PYTHONPATH (the hub subprocess and the
# clients both import it); the runs go from /tmp so the checkout's own package is not picked up. Default options:
# --systems swergio_nb --workloads throughput,fanout,pingpong,big_binary. Results: bench/results/ab-<date>/
# (one JSON per run) and a table of each figure's median over the rounds with the ratio B/A (bench/ab_summary.py).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
a=$1 b=$2 rounds=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
options=("$@")
[ ${#options[@]} -gt 0 ] || options=(--systems swergio_nb --workloads throughput,fanout,pingpong,big_binary)
out="$repo/bench/results/ab-$(date +%F)"
mkdir -p "$out"
declare -A tree
for rev in "$a" "$b"; do
    tree[$rev]=$(mktemp -d)
    git -C "$repo" archive "$rev" swergio_nb | tar -x -C "${tree[$rev]}"
done
for round in $(seq 1 "$rounds"); do
    for rev in "$a" "$b"; do
        echo "== $rev, round $round of $rounds"
        run=$(mktemp -d)
        (cd /tmp && PYTHONPATH="${tree[$rev]}" python "$repo/bench/bench_peers.py" "${options[@]}" --out "$run")
        cp "$run"/peers-*.json "$out/$rev-$round.json"
        rm -r "$run"
    done
done
rm -r "${tree[$a]}" "${tree[$b]}"
python "$repo/bench/ab_summary.py" "$out" "$a" "$b"
