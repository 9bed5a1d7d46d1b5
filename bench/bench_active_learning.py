"""Active learning versus random sampling for the melody evaluation network, with the simulated person.

For each strategy and seed, the melody loop runs without sockets (the same Evolution, ModuleComponent handlers via
LocalFitter, ActiveLearner and SimulatedPerson as the components): the GA's populations, scored by the network, fill
the pool; every ``pool_size`` new genomes the strategy picks ``k`` for the person; the network retrains on all labels;
its accuracy is measured on a held-out test set rated by the same kind of person (half random, half evolved
melodies). The seed fixes the network's initial weights, the GA, the person's noise and the test set, so every
strategy starts from the same place.

    python bench/bench_active_learning.py                       # 5 seeds, 100 labels, k = 5
    python bench/bench_active_learning.py --seeds 3 --budget 60

Writes bench/results/active_learning.png (mean test accuracy +- standard error versus labels) and .json, and prints
how many labels each strategy needs to reach random sampling's final mean accuracy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import numpy as np

from swergio_nb.examples.melody.evaluation import build_component, evaluate_genomes
from swergio_nb.examples.melody.evolution import Evolution
from swergio_nb.examples.melody.learner import STRATEGIES, ActiveLearner, LocalFitter
from swergio_nb.examples.melody.person import SimulatedPerson, make_test_set

RESULTS = Path(__file__).parent / "results"


async def one_run(strategy: str, seed: int, budget: int, k: int, pool_size: int, test: tuple) -> list[float]:
    """Test accuracy after 0, k, 2k, ... labels (len budget // k + 1)."""
    component = build_component(seed)
    learner = ActiveLearner(LocalFitter(component), strategy=strategy, pool_size=pool_size, k=k, seed=seed,
                            test_set=test)  # fmt: skip
    evolution = Evolution(50, seed=seed)
    person = SimulatedPerson(seed=seed + 1)
    curve = [await learner.test_accuracy()]
    while len(learner.labels) < budget:
        genomes = evolution.genomes()
        scored = evaluate_genomes(component.module, genomes)
        learner.add_to_pool(genomes, scored["PROBS"])
        evolution.evolve(scored["FITNESS"])
        if learner.ready:
            chosen = learner.choose()
            accuracy = learner.add_labels(chosen, person.rate_many(chosen))
            curve.append((await learner.retrain(accuracy))["test_accuracy"])
    return curve


def labels_to_reach(curve: np.ndarray, target: float, k: int) -> int | None:
    hit = np.nonzero(curve >= target - 1e-12)[0]
    return int(hit[0] * k) if hit.size else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=100, help="labels per run")
    parser.add_argument("--k", type=int, default=5, help="labels per batch")
    parser.add_argument("--pool-size", type=int, default=200)
    parser.add_argument("--test-size", type=int, default=400)
    args = parser.parse_args()
    started = time.perf_counter()
    curves: dict[str, list[list[float]]] = {s: [] for s in STRATEGIES}
    ceilings, majorities = [], []
    for seed in range(args.seeds):
        oracle = SimulatedPerson(seed=10_000 + seed)
        test = make_test_set(oracle, args.test_size, seed=20_000 + seed)
        ceilings.append(float(np.mean(oracle.true_ratings(test[0]) == test[1])))
        majorities.append(float(np.bincount(test[1]).max() / len(test[1])))  # always answering the commonest class
        for strategy in STRATEGIES:
            curves[strategy].append(asyncio.run(one_run(strategy, seed, args.budget, args.k, args.pool_size, test)))
            print(f"seed {seed} {strategy:>16}: final accuracy {curves[strategy][-1][-1]:.3f}", flush=True)
    wall = time.perf_counter() - started
    labels = np.arange(0, args.budget + 1, args.k)
    means = {s: np.mean(np.array(c), axis=0) for s, c in curves.items()}
    sems = {s: np.std(np.array(c), axis=0, ddof=1) / np.sqrt(len(c)) if len(c) > 1 else 0 * means[s]
            for s, c in curves.items()}  # fmt: skip
    target = float(means["random"][-1])
    setup = f"{args.seeds} seeds, budget {args.budget} labels, k {args.k}, pool {args.pool_size}"
    ceiling, majority = np.mean(ceilings), np.mean(majorities)
    print(
        f"\n{setup}, test set {args.test_size}; ceiling (noiseless person) {ceiling:.3f}; "
        f"majority class {majority:.3f}; wall {wall:.0f} s"
    )
    print(f"{'strategy':>16} {'final acc':>9} {'+- s.e.':>7} {'labels to reach random final':>30}")
    summary = {}
    for s in STRATEGIES:
        need = labels_to_reach(means[s], target, args.k)
        summary[s] = {"final_mean": float(means[s][-1]), "final_sem": float(sems[s][-1]), "labels_to_random": need}
        print(f"{s:>16} {means[s][-1]:>9.3f} {sems[s][-1]:>7.3f} {'never' if need is None else need:>30}")

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    RESULTS.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for s in STRATEGIES:
        ax.plot(labels, means[s], label=s, lw=2 if s == "random" else 1.4, ls="--" if s == "random" else "-")
        ax.fill_between(labels, means[s] - sems[s], means[s] + sems[s], alpha=0.15)
    ax.axhline(ceiling, color="grey", lw=0.8, ls=":", label="ceiling (noiseless person)")
    ax.axhline(majority, color="black", lw=0.8, ls="-.", label="majority class")
    ax.set_xlabel("labels")
    ax.set_ylabel("test accuracy (6 classes)")
    ax.set_title(f"Melody evaluation network: strategies vs random ({args.seeds} seeds, mean ± s.e.)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(RESULTS / "active_learning.png")
    (RESULTS / "active_learning.json").write_text(json.dumps(
        {"args": vars(args), "labels": labels.tolist(), "curves": curves, "summary": summary,
         "ceiling": float(ceiling), "majority": float(majority), "wall_s": wall}, indent=1))  # fmt: skip
    print(f"wrote {RESULTS / 'active_learning.png'} and .json")


if __name__ == "__main__":
    main()
