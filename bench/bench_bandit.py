"""The bandit's two architectures side by side: regret, serving latency, reward-to-policy latency, over seeds.

Every run plays the same world stream for a given seed through a hub with the components as OS processes
(:func:`swergio_nb.examples.bandit.demo.run_bandit`): **baseline** (server + trainer, weights pushed) and
**in-process** (one agent). Sizes: ``small`` is the demo's world (K=5 actions, d=6), ``large`` (K=50, d=100) makes a
batch update cost milliseconds (50 inversions of 100x100 matrices), so training on the serving loop shows in the
serving latency. Prints a table of means over seeds with the in-process / baseline ratios and writes
``bench/results/bandit-<date>.json``.

    python bench/bench_bandit.py                  # 3 seeds x 3 delays x 2 sizes x 2 architectures, ~6 minutes
    python bench/bench_bandit.py --quick          # 1 seed, 600 events
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import itertools
import json
import os
import statistics
import time
from pathlib import Path

from swergio_nb.examples.bandit.demo import ARCHITECTURES, run_bandit
from swergio_nb.examples.bandit.world import DelayModel

__all__ = ["main"]

SIZES = {"small": (5, 6), "large": (50, 100)}


def _mean(values: list[float | None]) -> float:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--delays", default="none,fixed,heavy")
    parser.add_argument("--sizes", default="small,large")
    parser.add_argument("--policies", default="linucb", help="comma-separated: linucb, egreedy, uniform")
    parser.add_argument("--quick", action="store_true", help="1 seed, 600 events")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.events = 1, 600
    rows = []
    start = time.perf_counter()
    for size in args.sizes.split(","):
        n_actions, dim = SIZES[size]
        for delay in args.delays.split(","):
            model = DelayModel(delay, 10.0, loss=0.0 if delay == "none" else 0.05)
            for policy, arch in itertools.product(args.policies.split(","), ARCHITECTURES):
                runs = []
                for seed in range(args.seeds):
                    result = asyncio.run(
                        run_bandit(
                            arch, model, policy=policy, events=args.events, seed=seed, n_actions=n_actions, dim=dim
                        )
                    )
                    runs.append(result.summary())
                row = {
                    "size": size,
                    "delay": delay,
                    "policy": policy,
                    "architecture": arch,
                    "regret": _mean([r["cumulative_regret"] for r in runs]),
                    "regret_sd": statistics.pstdev([r["cumulative_regret"] for r in runs]),
                    "uniform": _mean([r["uniform_expected_regret"] for r in runs]),
                    **{k: _mean([r[k] for r in runs]) for k in ("serve_p50_ms", "serve_p99_ms", "learn_p50_ms")},
                    "learn_p99_ms": _mean([r["learn_p99_ms"] for r in runs]),
                    "train_batch_p50_ms": _mean([r["train_batch_p50_ms"] for r in runs]),
                    "runs": runs,
                }
                rows.append(row)
                print(
                    f"{size:>5} {delay:>5} {policy:>7} {arch:>10}: regret {row['regret']:6.1f} "
                    f"+- {row['regret_sd']:4.1f} (uniform {row['uniform']:6.1f}) serve p50/p99 "
                    f"{row['serve_p50_ms']:.2f}/{row['serve_p99_ms']:.2f} ms  learn p50/p99 "
                    f"{row['learn_p50_ms']:.0f}/{row['learn_p99_ms']:.0f} ms  "
                    f"train batch {row['train_batch_p50_ms']:.2f} ms",
                    flush=True,
                )
    wall = time.perf_counter() - start
    print("\nin-process / baseline ratios (mean over seeds):")
    names = ("regret", "serve p50", "serve p99", "learn p50", "learn p99")
    print(f"{'size':>5} {'delay':>5} {'policy':>7} " + " ".join(f"{n:>9}" for n in names))
    keys = ("regret", "serve_p50_ms", "serve_p99_ms", "learn_p50_ms", "learn_p99_ms")
    for size, delay, policy in itertools.product(
        *(getattr(args, a).split(",") for a in ("sizes", "delays", "policies"))
    ):
        base, inproc = (
            next(r for r in rows if (r["size"], r["delay"], r["policy"], r["architecture"]) == (size, delay, policy, a))
            for a in ARCHITECTURES
        )
        print(f"{size:>5} {delay:>5} {policy:>7} " + " ".join(f"{inproc[k] / base[k]:9.2f}" for k in keys))
    print(f"{len(rows) * args.seeds} runs in {wall:.0f} s; load average {os.getloadavg()}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.date.today().isoformat() + ("-quick" if args.quick else "")
    suffix = "" if args.policies == "linucb" else "-" + args.policies.replace(",", "-")
    path = args.out / f"bandit-{stamp}{suffix}.json"
    meta = {
        "events": args.events,
        "seeds": args.seeds,
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "wall_s": wall,
    }
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
