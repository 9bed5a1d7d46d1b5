"""What the hub costs the CartPole ensemble: the same training through the hub and in one process, side by side.

Run: ``python bench/bench_cartpole.py [--seed S] [--models N] [--repeat R]``. Each repetition trains the default
schedule (4 models, 8 environments, evolution each round, stop at a greedy mean of 475) through an embedded hub with
the components in this process, and then with :class:`~swergio_nb.examples.cartpole.reference.LocalEnsemble` (no
hub), from the same seed: the episodes and returns are identical (the tests check it), so the wall-time ratio is
the hub's cost. Prints environment steps/s for both, the ratio, and the load average before and after (the machine
is shared; compare ratios within one run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

import torch

from swergio_nb.examples.cartpole.control import Schedule
from swergio_nb.examples.cartpole.demo import train_reference, train_through_hub


def steps_per_s(result) -> float:
    runs = result.log.train_runs
    return sum(r.env_steps for r in runs) / sum(r.wall_s for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for i in range(args.repeat):
        load = os.getloadavg()[0]
        hub = asyncio.run(train_through_hub(Schedule(), n_models=args.models, seed=args.seed))
        ref = asyncio.run(train_reference(Schedule(), n_models=args.models, seed=args.seed))
        assert hub.log.train_returns == ref.log.train_returns, "the hub and the reference must play the same episodes"
        row = {
            "repeat": i,
            "env_steps": sum(r.env_steps for r in hub.log.train_runs),
            "hub_steps_per_s": steps_per_s(hub),
            "reference_steps_per_s": steps_per_s(ref),
            "hub_wall_s": hub.wall_s,
            "reference_wall_s": ref.wall_s,
            "wall_ratio": hub.wall_s / ref.wall_s,
            "load_before": load,
            "load_after": os.getloadavg()[0],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    ratios = sorted(r["wall_ratio"] for r in rows)
    print(f"hub / reference wall time: median {ratios[len(ratios) // 2]:.2f}x (range {ratios[0]:.2f}-{ratios[-1]:.2f})")


if __name__ == "__main__":
    main()
