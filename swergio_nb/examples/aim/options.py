"""Options of ``swergio-nb demo aim`` and of the surrogate component (free of torch, so the CLI starts fast)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ...swarm.component import option

__all__ = ["SurrogateOptions", "add_arguments"]


@dataclass(frozen=True)
class SurrogateOptions:
    """Options of the surrogate component (:mod:`~swergio_nb.examples.aim.surrogate`)."""

    model: Path | None = option(None, "the surrogate network's file (written by fit_surrogate's caller)")
    input_room: str = option("model_aim", "room of the [wind, angle, counterweight] batches")
    output_room: str = option("model_output", "room its predicted distances go to")


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's command-line options."""
    parser.add_argument(
        "--winds",
        type=_floats,
        default=[-8.0, 0.0, 8.0],
        help="winds in m/s, comma-separated (a negative first: --winds=-8,0,8)",
    )
    parser.add_argument(
        "--targets", type=_floats, default=[20.0, 45.0, 70.0, 95.0, 120.0], help="targets in m, comma-separated"
    )
    parser.add_argument(
        "--random", type=int, default=None, metavar="N",
        help="N random tasks instead (wind ~ Normal(0, 5) m/s, target ~ Uniform(10, 140) m; --seed)",
    )  # fmt: skip
    parser.add_argument("--max-steps", type=int, default=200, help="round trips at most (default %(default)s)")
    parser.add_argument("--tol", type=float, default=0.02, help="miss counted as a hit, m (default %(default)s)")
    parser.add_argument(
        "--grid", type=int, nargs=2, default=[121, 181], metavar=("ANGLES", "WEIGHTS"),
        help="grid-search points per input, the ground truth (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--train-steps", type=int, default=300,
        help="ordinary trebuchet training steps whose logged traffic trains the surrogate; 0: no surrogate "
        "(default %(default)s)",
    )  # fmt: skip
    parser.add_argument("--fit-steps", type=int, default=2000, help="surrogate training steps (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    parser.add_argument("--processes", action="store_true", help="run each component as its own OS process")
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for the report and the surrogate")
