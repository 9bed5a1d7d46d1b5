#!/usr/bin/env bash
# What each optimisation bought: today's bench_peers.py harness against swergio_nb as it was at each commit.
#
#   bench/bench_levers.sh NAME:COMMIT [NAME:COMMIT ...]
#
# Each commit is checked out into a temporary worktree and put first on PYTHONPATH (the hub subprocess and the
# clients both import it); the runs go from /tmp so the checkout's own package is not picked up. Results:
# bench/results/levers-<date>/NAME.json. The figures to compare are server_cpu_us and client_cpu_us (CPU per
# delivered message), which other jobs on the machine disturb much less than msg/s.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/bench/results/levers-$(date +%F)"
mkdir -p "$out"
for pair in "$@"; do
    name=${pair%%:*}
    commit=${pair##*:}
    dir=$(mktemp -d)
    git -C "$repo" worktree add -q --detach "$dir" "$commit"
    (cd /tmp && PYTHONPATH="$dir" python "$repo/bench/bench_peers.py" --systems swergio_nb,swergio_nb_hub \
        --workloads throughput,fanout,pingpong --out "$dir/results")
    cp "$dir"/results/peers-*.json "$out/$name.json"
    git -C "$repo" worktree remove --force "$dir"
done
