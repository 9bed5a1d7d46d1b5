"""Options of the trebuchet's components and of ``swergio-nb demo trebuchet`` (free of torch, so ``swergio-nb hub``
starts fast)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ...swarm.component import add_option_arguments, option

__all__ = ["ControlOptions", "SimulatorOptions", "TrainerOptions", "add_arguments"]


@dataclass(frozen=True)
class ControlOptions:
    """Options of the control network component (:mod:`~swergio_nb.examples.trebuchet.control`)."""

    lr: float = option(1e-2, "Adam learning rate, cosine-annealed to 1/100 over --anneal-steps")
    anneal_steps: int | None = option(None, "optimizer steps the learning rate anneals over (none: constant)")
    weight_scale: float = option(1.0, "counterweight per unit of the network's weight output", unit="lb")
    resume: Path | None = option(None, "model file to start from (weights; a saved component state also its optimizer)")


@dataclass(frozen=True)
class SimulatorOptions:
    """The simulator has no options: a differentiable function with no parameters."""


@dataclass(frozen=True)
class TrainerOptions:
    """Options of the trainer process (:mod:`~swergio_nb.examples.trebuchet.trainer`)."""

    steps: int = option(300, "training steps")
    batch_size: int = option(100, "shots per step")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's command-line options."""
    add_option_arguments(parser, TrainerOptions, steps=2000)
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    add_option_arguments(parser, ControlOptions, ("lr", "weight_scale", "resume"))
    parser.add_argument(
        "--eval-shots", type=int, default=1000, help="fresh shots to measure the miss (default %(default)s)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--processes", action="store_true", help="run each component as its own OS process")
    mode.add_argument("--reference", action="store_true", help="train in one process with no hub (the reference)")
    mode.add_argument("--compare", action="store_true", help="run through the hub and the reference; print the ratio")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for the plots and the model")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
