"""Query strategies versus random sampling for the melody evaluation network, with the simulated person.

For each strategy and seed, the melody loop runs without sockets (the same Evolution, ModuleComponent handlers via
LocalFitter, ActiveLearner and SimulatedPerson as the components): the GA's populations, scored by the network, feed
the learner's reservoir; every ``pool_size`` new melodies the strategy picks ``k`` among the reservoir and
``fresh * pool_size`` fresh random melodies; the person rates them; the network retrains on all labels and is
measured (accuracy, within-one accuracy, MAE) on a held-out test set drawn like the candidates
(:func:`~swergio_nb.examples.melody.offline.candidate_test_set`), rated by another simulated person of the same
taste.
The seed fixes the network's initial weights, the GA, the person's noise and the test set, so every strategy starts
from the same place. It also records what the labels were like (their ratings, and the candidates' diversity).

    python bench/bench_active_learning.py                      # 5 seeds, 100 labels, k 5: the docs' figures
    python bench/bench_active_learning.py --lr 1e-3 --out active_learning_lr1e-3    # the learning-rate screen
    python bench/bench_active_learning.py --seeds 2 --budget 40 --strategies random coreset

Writes bench/results/active_learning.png (mean +- standard error versus labels, three metrics) and .json, and prints
how many labels each strategy needs to reach random sampling's mean accuracy at the full budget.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import numpy as np
import torch

from swergio_nb.examples.melody.offline import candidate_test_set, run_offline
from swergio_nb.examples.melody.options import STRATEGIES
from swergio_nb.examples.melody.person import SimulatedPerson

RESULTS = Path(__file__).parent / "results"
METRICS = ("accuracy", "within_one", "mae")


def mean_hamming(genomes: np.ndarray) -> float:
    """Mean pairwise Hamming distance (bits) of genomes (N, 128)."""
    g = genomes.astype(np.int64)
    ones = g.sum(0)
    n = len(g)
    return float((2 * ones * (n - ones)).sum() / (n * (n - 1))) if n > 1 else 0.0


async def one_run(strategy: str, seed: int, args: argparse.Namespace, test: tuple) -> dict:
    """Metrics after 0, k, 2k, ... labels, and what the labels and the pool were like."""
    hamming: list[float] = []
    run = await run_offline(
        strategy=strategy,
        seed=seed,
        budget=args.budget,
        k=args.k,
        pool_size=args.pool_size,
        fresh=args.fresh,
        lr=args.lr,
        head=args.head,
        test_set=test,
        on_batch=lambda learner: hamming.append(mean_hamming(np.array(learner.pool, np.uint8))),
    )
    _, y = run.learner.labelled_arrays()
    return {"curve": {m: [r["test"][m] for r in run.records] for m in METRICS},
            "label_counts": np.bincount(y, minlength=6).tolist(), "pool_hamming": hamming,
            "generations": run.generations}  # fmt: skip


def labels_to_reach(curve: np.ndarray, target: float, k: int) -> int | None:
    hit = np.nonzero(curve >= target - 1e-12)[0]
    return int(hit[0] * k) if hit.size else None


def sem(rows: np.ndarray) -> np.ndarray:
    return rows.std(axis=0, ddof=1) / np.sqrt(len(rows)) if len(rows) > 1 else 0 * rows[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=100, help="labels per run")
    parser.add_argument("--k", type=int, default=5, help="labels per batch")
    parser.add_argument("--pool-size", type=int, default=200)
    parser.add_argument("--fresh", type=float, default=0.25, help="share of fresh random candidates")
    parser.add_argument("--test-size", type=int, default=400)
    parser.add_argument("--lr", type=float, default=1e-2, help="the network's Adam learning rate")
    parser.add_argument("--head", default="ordinal", choices=("ordinal", "softmax"), help="the network's output")
    parser.add_argument("--strategies", nargs="+", default=["random", "coreset", "diverse", "variance", "margin"],
                        choices=STRATEGIES)  # fmt: skip
    parser.add_argument("--goal", type=int, default=60, help="labels at which to compare with random's full budget")
    parser.add_argument("--out", default="active_learning", help="file name (no suffix) in bench/results")
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny networks; the machine is shared
    started = time.perf_counter()
    runs: dict[str, list[dict]] = {s: [] for s in args.strategies}
    ceilings, majorities, test_counts = [], [], []
    for seed in range(args.seeds):
        oracle = SimulatedPerson(seed=10_000 + seed)
        test = asyncio.run(
            candidate_test_set(
                oracle,
                args.test_size,
                seed=20_000 + seed,
                budget=args.budget,
                k=args.k,
                pool_size=args.pool_size,
                fresh=args.fresh,
            )
        )
        ceilings.append(float(np.mean(oracle.true_ratings(test[0]) == test[1])))
        majorities.append(float(np.bincount(test[1]).max() / len(test[1])))  # always answering the commonest class
        test_counts.append(np.bincount(test[1], minlength=6).tolist())
        for strategy in args.strategies:
            run = asyncio.run(one_run(strategy, seed, args, test))
            runs[strategy].append(run)
            print(f"seed {seed} {strategy:>16}: accuracy {run['curve']['accuracy'][-1]:.3f}, within one "
                  f"{run['curve']['within_one'][-1]:.3f}, MAE {run['curve']['mae'][-1]:.3f}; labels per rating "
                  f"{run['label_counts']}", flush=True)  # fmt: skip
    wall = time.perf_counter() - started
    labels = np.arange(0, args.budget + 1, args.k)
    curves = {s: {m: np.array([r["curve"][m] for r in rs]) for m in METRICS} for s, rs in runs.items()}
    target = float(curves["random"]["accuracy"].mean(0)[-1]) if "random" in curves else None
    ceiling, majority = float(np.mean(ceilings)), float(np.mean(majorities))
    print(f"\n{args.seeds} seeds, budget {args.budget}, k {args.k}, pool {args.pool_size} + {args.fresh:.0%} fresh, "
          f"test set {args.test_size}; ceiling (noiseless person) {ceiling:.3f}; majority class {majority:.3f}; "
          f"wall {wall:.0f} s")  # fmt: skip
    at = [i for i in (8, 12, 16, len(labels) - 1) if i < len(labels)]
    print(
        f"{'strategy':>16} "
        + " ".join(f"acc@{labels[i]:<3}" for i in at)
        + f"  +-s.e.  within1  MAE    to random  acc@{args.goal} - random@{args.budget} (paired, +-s.e.)"
    )
    summary = {}
    for s, c in curves.items():
        mean = {m: c[m].mean(0) for m in METRICS}
        err = {m: sem(c[m]) for m in METRICS}
        need = None if target is None else labels_to_reach(mean["accuracy"], target, args.k)
        goal = args.goal // args.k
        paired = None  # per seed: accuracy at the goal minus random's at the full budget (same seed, same test set)
        if target is not None and goal < len(labels):
            gap = c["accuracy"][:, goal] - curves["random"]["accuracy"][:, -1]
            paired = (float(gap.mean()), float(sem(gap[:, None])[0]))
        same = None  # per seed: accuracy minus random's at the same label counts (the goal and the full budget)
        if "random" in curves and s != "random":
            gaps = c["accuracy"] - curves["random"]["accuracy"]
            same = {int(labels[i]): (float(gaps[:, i].mean()), float(sem(gaps[:, i : i + 1])[0]),
                                     int((gaps[:, i] > 0).sum())) for i in (goal, len(labels) - 1)}  # fmt: skip
        summary[s] = {
            "paired_gap_at_goal": paired,
            "paired_vs_random_same_labels": same,
            **{f"final_{m}": float(mean[m][-1]) for m in METRICS},
            **{f"final_{m}_sem": float(err[m][-1]) for m in METRICS},
            "labels_to_random": need,
            "label_share": (np.sum([r["label_counts"] for r in runs[s]], 0) / (args.seeds * args.budget)).tolist(),
            "pool_hamming_last": float(np.mean([r["pool_hamming"][-1] for r in runs[s]])),
            "generations": float(np.mean([r["generations"] for r in runs[s]])),
        }
        print(f"{s:>16} " + " ".join(f"{mean['accuracy'][i]:>7.3f}" for i in at)
              + f"  {err['accuracy'][-1]:.3f}  {mean['within_one'][-1]:.3f}   {mean['mae'][-1]:.3f}  "
              f"{'never' if need is None else need:>9}  "
              + ("" if paired is None else f"{paired[0]:+.3f} +- {paired[1]:.3f}"))  # fmt: skip

    for s, row in summary.items():
        for n, (gap, err, wins) in (row["paired_vs_random_same_labels"] or {}).items():
            print(f"{s:>16} - random at {n} labels (paired): {gap:+.3f} +- {err:.3f}, ahead on {wins} of "
                  f"{args.seeds} seeds")  # fmt: skip

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    RESULTS.mkdir(exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), dpi=100)
    titles = {"accuracy": "accuracy", "within_one": "within-one accuracy", "mae": "MAE (rating steps)"}
    for ax, m in zip(axes, METRICS, strict=True):
        for s, c in curves.items():
            mean, err = c[m].mean(0), sem(c[m])
            ax.plot(labels, mean, label=s, lw=2 if s == "random" else 1.4, ls="--" if s == "random" else "-")
            ax.fill_between(labels, mean - err, mean + err, alpha=0.15)
        if m == "accuracy":
            ax.axhline(ceiling, color="grey", lw=0.8, ls=":", label="ceiling (noiseless person)")
            ax.axhline(majority, color="black", lw=0.8, ls="-.", label="majority class")
            if target is not None:
                ax.axvline(60, color="red", lw=0.6, ls=":", label="goal: 60 labels")
        ax.set_xlabel("labels")
        ax.set_title(titles[m], fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Melody evaluation network ({args.head} head, lr {args.lr:g}) on test sets drawn like the "
                 f"candidates ({args.seeds} seeds, mean ± s.e.)", fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(RESULTS / f"{args.out}.png")
    (RESULTS / f"{args.out}.json").write_text(json.dumps(
        {"args": vars(args), "labels": labels.tolist(), "runs": runs, "summary": summary, "ceiling": ceiling,
         "majority": majority, "test_label_counts": test_counts, "wall_s": wall}, indent=1))  # fmt: skip
    print(f"wrote {RESULTS / args.out}.png and .json")


if __name__ == "__main__":
    main()
