"""Options of the melody components and of ``swergio-nb demo melody`` (free of torch, so ``swergio-nb hub`` starts
fast)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ...swarm.component import add_option_arguments, option

__all__ = [
    "STRATEGIES",
    "EvalnetOptions",
    "EvolutionOptions",
    "LearnerOptions",
    "PersonOptions",
    "add_arguments",
]

#: Query strategies of the active learner (:mod:`~.selection`).
STRATEGIES = ("diverse", "coreset", "variance", "least_confidence", "margin", "entropy", "random")


@dataclass(frozen=True)
class EvalnetOptions:
    """Options of the evaluation network component."""

    lr: float = option(1e-2, "Adam learning rate")
    head: str = option("ordinal", "output head", choices=("ordinal", "softmax"))


@dataclass(frozen=True)
class EvolutionOptions:
    """Options of the evolution component: the settings of its deap GA (:class:`~.evolution.Evolution`) and its pace.

    Attributes:
        population_size: individuals per generation (swergio: 50).
        cxpb: probability that a pair of parents is crossed (two-point crossover; swergio: 0.5).
        mutpb: probability that an individual is mutated (swergio: 0.01). The default 1.0 mutates every child
            (about 1.3 flipped bits each with ``indpb`` 0.01): with 0.2 the population collapses (mean pairwise
            Hamming distance 1.4 % of the bits after 40 generations), the learner's pool fills with near-copies and
            the network learns little from them (``docs/melody.md``).
        indpb: probability that a mutated individual's bit flips (swergio: 0.01).
        tournsize: tournament size of the selection (swergio: 3).
        interval: time between generations, s (the handler awaits; nothing blocks).
        max_generations: stop by itself after this many generations (None: until STOP).
    """

    population_size: int = option(50, "GA population size")
    cxpb: float = option(0.5, "crossover probability")
    mutpb: float = option(1.0, "mutation probability")
    indpb: float = option(0.01, "bit-flip probability")
    tournsize: int = option(3, "tournament size of the selection")
    interval: float = option(0.0, "time between generations", unit="s")
    max_generations: int | None = option(None, "stop after this many generations")


@dataclass(frozen=True)
class LearnerOptions:
    """Options of the active learner (:class:`~.learner.ActiveLearner`)."""

    strategy: str = option("coreset", "query strategy", choices=STRATEGIES)
    pool_size: int = option(200, "genomes kept in the pool (a reservoir over every generation)")
    fresh: float = option(0.25, "share of fresh random melodies added to the pool at each batch")
    k: int = option(5, "melodies rated per batch")
    epochs: int = option(10, "epochs over all labels per batch")
    batch_size: int = option(20, "labels per training step")
    store: Path | None = option(None, "SQLite label store to resume from")
    pretrain: Path | None = option(None, "swergio CSV of ratings to pre-train on")
    max_rounds: int | None = option(None, "stop asking after this many batches")
    cv_folds: int = option(0, "cross-validate on the labels with this many folds (0: no)")
    model: Path | None = option(None, "file of the evaluation network's state: loaded at start, saved each batch")
    evalnet: str = option("evalnet", "name of the evaluation network component")


@dataclass(frozen=True)
class PersonOptions:
    """Options of the simulated person (:class:`~.person.SimulatedPerson`)."""

    noise: float = option(0.02, "the simulated person's noise")
    delay: float = option(0.0, "time per rating", unit="s")
    store: Path | None = option(None, "SQLite file the ratings are stored in")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's command-line options."""
    parser.add_argument("--rounds", type=int, default=12, help="label batches to ask for (default %(default)s)")
    add_option_arguments(parser, LearnerOptions, ("k", "pool_size", "strategy", "store", "pretrain", "model"))
    add_option_arguments(parser, EvolutionOptions, ("population_size",))
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    add_option_arguments(parser, PersonOptions, ("noise",))
    parser.add_argument("--processes", action="store_true", help="evalnet, evolution and person as OS processes")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for melody_best.{wav,mid,png}")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
