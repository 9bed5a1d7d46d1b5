"""``swergio-nb demo melody``: the active-learning melody generator, headless, with a simulated person.

Four components talk through an embedded hub: ``evolution`` (deap GA) sends populations to ``evolution``; ``evalnet``
answers with fitness and class probabilities; ``learner`` pools them and asks ``user`` for the most uncertain;
``user`` (a :class:`~swergio_nb.examples.melody.person.SimulatedPerson` rating through a
:class:`~swergio_nb.examples.melody.labelling.LabelQueue`, the widget's path) answers; the learner retrains the
network through ``traininput``/``trainoutput``. The learner runs in this process (it holds the test set); with
``--processes`` the three others are OS processes. Prints, per label batch, the labels, the network's accuracy on a
held-out test set rated by the simulated person, and the population's mean rating by that person.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...swarm.swarm import Swarm
from ...transport.client import Client, Trigger
from . import evaluation, evolution, learner, person
from .labelling import LabelQueue, LabelStore
from .music import genome_to_melody, piano_roll_png, render_wav, to_midi
from .offline import candidate_test_set
from .options import EvolutionOptions, LearnerOptions, PersonOptions

__all__ = ["DemoResult", "run_through_hub", "run"]


@dataclass
class DemoResult:
    """What one demo run measured."""

    rounds: list[dict[str, Any]]  #: learner records (labels, loss, test_accuracy, batch_accuracy, round)
    population_rating: list[tuple[int, float]] = field(default_factory=list)  #: (generation, mean true rating)
    best_genome: np.ndarray | None = None
    wall_s: float = 0.0
    messages_routed: int = 0
    test_ceiling: float = 0.0  #: accuracy of the person's noiseless ratings on the test set (the best possible)
    test_majority: float = 0.0  #: accuracy of always answering the most common test rating
    model_loaded: bool = False  #: the learner loaded the network's state from the model file at start


def _path(path: Any) -> Path | None:
    return None if path is None else Path(path)


async def run_through_hub(
    *,
    rounds: int = 12,
    k: int = 5,
    pool_size: int = 200,
    population: int = 50,
    strategy: str = "coreset",
    seed: int = 0,
    noise: float = 0.02,
    store: Any = None,
    pretrain: Any = None,
    model: Any = None,
    processes: bool = False,
    test_size: int = 400,
    timeout: float = 600.0,
    progress: Any = None,
) -> DemoResult:
    """Run the loop until ``rounds`` label batches are answered and retrained on; see the module docstring.

    ``progress``: a tqdm bar (or anything with ``update(1)``), advanced once per answered batch; None: no bar.

    Raises:
        TimeoutError: the rounds did not complete within ``timeout`` seconds.
    """
    simulated = person.SimulatedPerson(seed=seed + 1, noise=noise)
    oracle = person.SimulatedPerson(seed=seed + 2, noise=noise)
    test_set = await candidate_test_set(
        oracle, test_size, seed=12345 + seed, k=k, pool_size=pool_size, population=population
    )
    label_store = LabelStore(store) if store is not None else None
    result = DemoResult(rounds=[])
    result.test_ceiling = float(np.mean(oracle.true_ratings(test_set[0]) == test_set[1]))
    result.test_majority = float(np.bincount(test_set[1]).max() / len(test_set[1]))
    swarm = Swarm().add(evaluation.build, seed=seed)
    swarm.add(evolution.build, EvolutionOptions(population_size=population), seed=seed)
    if processes:
        swarm.add(person.build, PersonOptions(noise=noise, store=_path(store)), seed=seed + 1)
    else:
        queue = LabelQueue(label_store, source="simulated")
        simulated.drive(queue)
        swarm.add(person.build, queue=queue)
    options = LearnerOptions(strategy=strategy, pool_size=pool_size, k=k, pretrain=_path(pretrain), max_rounds=rounds,
                             model=_path(model))  # fmt: skip
    swarm.add(learner.build, options, seed=seed, process=False, store=label_store, test_set=test_set)
    try:
        async with swarm.started(processes=processes), Client("conductor", swarm.url) as conductor:
            learner_client = swarm["learner"]
            best: dict[str, Any] = {"score": -1.0, "genome": None}

            def watch(msg: dict[str, Any]) -> None:  # the population as the person hears it
                if "FITNESS" in msg or "GENOMES" not in msg:
                    return
                genomes = np.asarray(msg["GENOMES"], dtype=np.uint8)
                scores = np.array([simulated.score(g) for g in genomes])
                ratings = simulated.rating_of_score(scores)
                result.population_rating.append((int(msg.get("GENERATION", -1)), float(ratings.mean())))
                if scores.max() > best["score"]:
                    best.update(score=float(scores.max()), genome=genomes[int(scores.argmax())])

            conductor.add_handler(watch, Trigger("DATA/CUSTOM", "evolution"))
            await conductor.join_room("evolution")
            await learner_client.context["resume"]()
            start = time.perf_counter()
            await conductor.send({"TYPE": "DATA/CUSTOM", "TO_ROOM": "control", "CMD": "START"})
            queue_ = learner_client.context["rounds"]
            deadline = time.monotonic() + timeout
            while True:
                record = await asyncio.wait_for(queue_.get(), max(0.1, deadline - time.monotonic()))
                result.rounds.append(record)
                if progress is not None and record["round"] >= 1:  # round 0: the stored ratings, no new batch
                    progress.update(1)
                if record["round"] >= rounds:
                    break
            await conductor.send({"TYPE": "DATA/CUSTOM", "TO_ROOM": "control", "CMD": "STOP"})
            result.wall_s = time.perf_counter() - start
            result.best_genome = best["genome"]
            result.messages_routed = swarm.hub.router.stats.routed
            result.model_loaded = learner_client.context["state"]["model_loaded"]
    finally:
        if label_store is not None:
            label_store.close()
    return result


def run(args: argparse.Namespace) -> DemoResult:
    """Run the demo as the options say; prints accuracy versus labels and writes the best melody."""
    from tqdm.auto import tqdm

    with contextlib.closing(tqdm(total=args.rounds, desc="melody", unit="batch", disable=args.no_progress)) as bar:
        result = asyncio.run(
            run_through_hub(
                rounds=args.rounds, k=args.k, pool_size=args.pool_size, population=args.population_size,
                strategy=args.strategy, seed=args.seed, noise=args.noise, store=args.store, pretrain=args.pretrain,
                model=args.model, processes=args.processes, progress=bar,
            )
        )  # fmt: skip
    mode = "processes" if args.processes else "one process"
    print(f"melody active learning ({args.strategy}, k={args.k}, pool {args.pool_size}, {mode}); "
          f"test set: ceiling {result.test_ceiling:.3f}, majority class {result.test_majority:.3f}")  # fmt: skip
    if result.model_loaded:
        print(f"the network's state was loaded from {args.model}, then trained on the stored ratings (round 0)")
    print(f"{'round':>5} {'labels':>6} {'test acc':>8} {'batch acc':>9} {'loss':>7}")
    for r in result.rounds:
        batch = "-" if r["batch_accuracy"] is None else f"{r['batch_accuracy']:.2f}"
        print(f"{r['round']:>5} {r['labels']:>6} {r['test_accuracy']:>8.3f} {batch:>9} {r['loss']:>7.3f}")
    if result.population_rating:
        first, last = result.population_rating[0], result.population_rating[-1]
        print(f"population mean rating by the simulated person: generation {first[0]} {first[1]:.2f} -> "
              f"generation {last[0]} {last[1]:.2f}")  # fmt: skip
    print(f"{len(result.rounds)} trainings in {result.wall_s:.1f} s, {result.messages_routed} messages routed")
    if result.best_genome is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        melody = genome_to_melody(result.best_genome)
        (args.out / "melody_best.wav").write_bytes(render_wav(melody))
        (args.out / "melody_best.png").write_bytes(piano_roll_png(melody, title="best melody heard"))
        to_midi(melody).save(str(args.out / "melody_best.mid"))
        print(f"wrote {args.out / 'melody_best.wav'}, .mid, .png")
    return result
