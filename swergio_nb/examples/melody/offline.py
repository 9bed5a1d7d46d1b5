"""The melody loop without sockets, and the test set it implies: what the benchmark and the simulated runs measure.

:func:`run_offline` drives the same objects as the components (:class:`~.evolution.Evolution`, the evaluation
network's :class:`~swergio_nb.feedback.ModuleComponent` through :class:`~.learner.LocalFitter`,
:class:`~.learner.ActiveLearner`, :class:`~.person.SimulatedPerson`) in one process, one generation at a time: the GA's
population is scored by the network and offered to the learner's reservoir, and whenever the learner is ready it asks
a batch, the person rates it and the network retrains. Same arithmetic as through the hub, minus the messages.

:func:`candidate_test_set` draws a held-out test set *like the melodies a person is asked about*: the candidates of
each batch of a whole session (the reservoir across generations plus the fresh random melodies), from an independent
run (random sampling, its own seed), uniformly over those batches, rated by the given person. A test set of
uniformly random melodies would measure the network where the learner never asks, and one from a GA led by the
person's own taste where the learner's GA arrives late (``docs/melody.md`` has the diagnosis).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .evaluation import build_component, evaluate_genomes
from .evolution import Evolution
from .learner import ActiveLearner, LocalFitter
from .music import GENOME_SIZE
from .person import SimulatedPerson

__all__ = ["OfflineRun", "run_offline", "candidate_test_set"]


@dataclass
class OfflineRun:
    """What :func:`run_offline` did."""

    learner: ActiveLearner
    records: list[dict[str, Any]] = field(default_factory=list)  #: the learner's records, round 0 (no labels) first
    candidates: list[np.ndarray] = field(default_factory=list)  #: per batch: the candidates, uint8 (M, 128)
    generations: int = 0


async def run_offline(
    *,
    strategy: str = "diverse",
    seed: int = 0,
    budget: int = 100,
    k: int = 5,
    pool_size: int = 200,
    fresh: float = 0.25,
    population: int = 50,
    noise: float = 0.02,
    lr: float = 1e-2,
    head: str = "ordinal",
    test_set: tuple[np.ndarray, np.ndarray] | None = None,
    on_batch: Callable[[ActiveLearner], Any] | None = None,
) -> OfflineRun:
    """Run the loop until ``budget`` labels are in; see the module docstring.

    ``lr`` and ``head`` are the network's (:func:`~.evaluation.build_component`); ``seed`` fixes its initial
    weights, the GA, the learner's draws and (``seed + 1``) the person's noise. ``on_batch(learner)`` is called
    before each batch is chosen (the pool as it is then).

    Returns:
        The run, with one record per retraining after the record of the untrained network (``labels`` 0).

    Raises:
        ValueError: as :class:`~.learner.ActiveLearner` (a bad strategy or size).
    """
    component = build_component(seed, lr, head)
    learner = ActiveLearner(LocalFitter(component), strategy=strategy, pool_size=pool_size, fresh=fresh, k=k,
                            seed=seed, test_set=test_set)  # fmt: skip
    evolution = Evolution(population, seed=seed)
    person = SimulatedPerson(seed=seed + 1, noise=noise)
    run = OfflineRun(learner)
    run.records.append({"labels": 0, "test": await learner.test_metrics() if test_set is not None else None})
    learner.listeners.append(run.records.append)
    while len(learner.labels) < budget:
        await asyncio.sleep(0)  # one generation at a time: a hub on the same event loop stays responsive
        genomes = evolution.genomes()
        scored = evaluate_genomes(component.module, genomes)
        learner.add_to_pool(genomes)
        evolution.evolve(scored["FITNESS"])
        if learner.ready:
            if on_batch is not None:
                on_batch(learner)
            chosen = await learner.choose()
            run.candidates.append(learner.last_candidates)
            accuracy = learner.add_labels(chosen, person.rate_many(chosen))
            await learner.retrain(accuracy)
    run.generations = evolution.generation
    return run


async def candidate_test_set(
    person: SimulatedPerson, n: int = 400, *, seed: int = 12345, budget: int = 100, **loop: Any
) -> tuple[np.ndarray, np.ndarray]:
    """A held-out test set drawn like the melodies a person is asked about (see the module docstring).

    Args:
        person: rates the test set (with its noise).
        n: test melodies (distinct).
        seed: seeds the independent run and the draw.
        budget: labels of the independent run (how long a session it stands for).
        loop: other :func:`run_offline` arguments (``k``, ``pool_size``, ``fresh``, ``population``, ``lr``,
            ``head``).

    Returns:
        ``(genomes uint8 (n, 128), ratings int64 (n,))``.

    Raises:
        ValueError: fewer distinct candidates than ``n``.
    """
    run = await run_offline(strategy="random", seed=seed, budget=budget, **loop)
    rng = np.random.default_rng(seed)
    batch = rng.integers(len(run.candidates), size=4 * n)  # a batch uniformly, then a candidate of it uniformly
    drawn = [run.candidates[b][rng.integers(len(run.candidates[b]))] for b in batch]
    distinct = list(dict.fromkeys(tuple(int(v) for v in g) for g in drawn))
    if len(distinct) < n:
        raise ValueError(f"{n} test melodies wanted, the run's candidates gave {len(distinct)} distinct ones")
    genomes = np.array(distinct[:n], dtype=np.uint8).reshape(n, GENOME_SIZE)
    return genomes, person.rate_many(genomes)
