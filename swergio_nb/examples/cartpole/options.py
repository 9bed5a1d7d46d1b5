"""Command-line options of ``swergio-nb demo cartpole`` (kept free of torch so ``swergio-nb hub`` starts fast)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments", "add_a2c_arguments", "DEFAULT_MODELS", "DEFAULT_ENVS"]

#: Ensemble size of the demo (swergio's RLGym example ran 20; 4 meets the target on 2 cores with room to spare).
DEFAULT_MODELS = 4
#: Parallel CartPole environments per training run (one message per step carries all of them).
DEFAULT_ENVS = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's command-line options."""
    from .control import add_schedule_arguments

    parser.add_argument("--models", type=int, default=DEFAULT_MODELS, help="ensemble size (default %(default)s)")
    parser.add_argument("--envs", type=int, default=DEFAULT_ENVS, help="parallel environments (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    add_schedule_arguments(parser)
    add_a2c_arguments(parser)
    parser.add_argument("--sigma", type=float, default=0.01, help="evolution: Gaussian mutation standard deviation")
    parser.add_argument("--replace", type=int, default=1, help="evolution: least fit models replaced per generation")
    parser.add_argument("--final-episodes", type=int, default=20, help="greedy episodes on fresh seeds at the end")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--processes", action="store_true", help="run each component as its own OS process")
    mode.add_argument("--reference", action="store_true", help="the same run in one process with no hub")
    mode.add_argument(
        "--compare", action="store_true", help="run with and without evolution on the same seeds; print both"
    )
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for the reward plot")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_a2c_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line options of :class:`~swergio_nb.examples.cartpole.a2c.A2CConfig` (same defaults; a test checks)."""
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default %(default)s)")
    parser.add_argument("--gamma", type=float, default=0.99, help="discount (default %(default)s)")
    parser.add_argument("--n-steps", type=int, default=8, help="steps per A2C update (default %(default)s)")
    parser.add_argument("--ent-coef", type=float, default=0.0, help="entropy bonus (default %(default)s)")
    parser.add_argument(
        "--rho-bar",
        type=float,
        default=1.0,
        help="truncation of the importance ratio; <= 0 disables the ratio (default %(default)s)",
    )
