"""Command-line options of ``swergio-nb demo bandit`` (kept free of numpy so ``swergio-nb hub`` starts fast)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's command-line options."""
    parser.add_argument("--events", type=int, default=1500, help="decisions per run (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of world and policies (default 0)")
    parser.add_argument(
        "--architecture",
        choices=["baseline", "in-process", "both"],
        default="both",
        help="baseline: server and trainer processes, weights pushed; in-process: one agent (default %(default)s)",
    )
    parser.add_argument(
        "--delays",
        default="none,fixed,heavy",
        help="comma-separated delay settings to run: none, fixed, heavy (default %(default)s)",
    )
    parser.add_argument(
        "--policies",
        default="linucb,egreedy",
        help="comma-separated policies to run (linucb, egreedy, uniform); uniform random's expected regret is "
        "always computed exactly (default %(default)s)",
    )
    parser.add_argument("--delay-scale", type=float, default=10.0, help="fixed delay / Lomax scale, simulated s")
    parser.add_argument("--loss", type=float, default=0.05, help="fraction of rewards that never arrive (0.05)")
    parser.add_argument("--wait", type=float, default=60.0, help="reward wait time, simulated s (default 60)")
    parser.add_argument("--speed", type=float, default=100.0, help="simulated s per real s (default %(default)s)")
    parser.add_argument("--rate", type=float, default=2.5, help="events per simulated s (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=32, help="joined events per update (default %(default)s)")
    parser.add_argument(
        "--same-loop", action="store_true", help="run the components as clients on this event loop, not as processes"
    )
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for the plot, results and logs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
