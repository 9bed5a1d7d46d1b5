"""Command-line options of ``swergio-nb demo trebuchet`` (kept free of torch so ``swergio-nb hub`` starts fast)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's command-line options."""
    parser.add_argument(
        "--steps", type=int, default=2000, help="training steps of --batch-size shots (default %(default)s)"
    )
    parser.add_argument("--batch-size", type=int, default=100, help="shots per step (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    parser.add_argument(
        "--lr",
        type=float,
        default=1e-2,
        help="Adam learning rate, cosine-annealed to 1/100 over --steps (default %(default)s)",
    )
    parser.add_argument("--weight-scale", type=float, default=1.0, help="lb per unit of the network's weight output")
    parser.add_argument(
        "--eval-shots", type=int, default=1000, help="fresh shots to measure the miss (default %(default)s)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--processes", action="store_true", help="run each component as its own OS process")
    mode.add_argument("--reference", action="store_true", help="train in one process with no hub (the reference)")
    mode.add_argument("--compare", action="store_true", help="run through the hub and the reference; print the ratio")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for the plots and the model")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
