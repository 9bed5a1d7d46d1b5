"""Command-line options of ``swergio-nb demo melody`` (kept free of torch so ``swergio-nb hub`` starts fast)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's command-line options."""
    parser.add_argument("--rounds", type=int, default=12, help="label batches to ask for (default %(default)s)")
    parser.add_argument("--k", type=int, default=5, help="melodies rated per batch (default %(default)s)")
    parser.add_argument("--pool-size", type=int, default=200, help="genomes pooled before asking (default 200)")
    parser.add_argument("--population", type=int, default=50, help="GA population size (default %(default)s)")
    parser.add_argument(
        "--strategy",
        choices=("least_confidence", "margin", "entropy", "random"),
        default="least_confidence",
        help="uncertainty sampling strategy (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    parser.add_argument("--noise", type=float, default=0.02, help="the simulated person's noise (default 0.02)")
    parser.add_argument("--store", type=Path, default=None, help="SQLite label store (resumes from its ratings)")
    parser.add_argument("--pretrain", type=Path, default=None, help="swergio CSV of ratings to pre-train on")
    parser.add_argument("--processes", action="store_true", help="evalnet, evolution and person as OS processes")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for melody_best.{wav,mid,png}")
