"""Options of the bandit components and of ``swergio-nb demo bandit`` (free of numpy, so ``swergio-nb hub`` starts
fast)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ...swarm.component import add_option_arguments, option

__all__ = ["POLICY_NAMES", "PolicyOptions", "LearnerOptions", "TrainerOptions", "add_arguments"]

#: The policies :func:`~.policy.make_policy` knows (the keys of :data:`~.policy.POLICIES`).
POLICY_NAMES = ("egreedy", "linucb", "uniform")


@dataclass(frozen=True)
class PolicyOptions:
    """Options of the components that hold a policy: the serving component's options."""

    policy: str = option("linucb", "the policy", choices=POLICY_NAMES)
    n_actions: int = option(5, "number of actions K")
    dim: int = option(6, "context length d incl. bias")
    alpha: float = option(1.0, "LinUCB bonus width")
    explore: float = option(0.0, "LinUCB uniform floor")
    epsilon: float = option(0.1, "epsilon-greedy epsilon")
    speed: float = option(100.0, "speed of the simulated clock", unit="simulated s per real s")


@dataclass(frozen=True)
class LearnerOptions(PolicyOptions):
    """Options of the components that join and train: the agent's options."""

    wait: float = option(60.0, "reward wait time", unit="simulated s")
    default_reward: float = option(0.0, "reward after the wait")
    batch_size: int = option(32, "joined events per update")
    max_batch_age: float = option(5.0, "train a partial batch this old", unit="simulated s")
    tick: float = option(0.02, "time between joiner ticks", unit="s")
    max_pending: int = option(100_000, "decisions held at most")
    log: Path | None = option(None, "append-only joined-event log (resumed if present)")


@dataclass(frozen=True)
class TrainerOptions(LearnerOptions):
    """Options of the trainer component (baseline architecture)."""

    server: str = option("server", "serving component to push weights to")


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
    add_option_arguments(parser, LearnerOptions, ("wait", "speed"))
    parser.add_argument("--rate", type=float, default=2.5, help="events per simulated s (default %(default)s)")
    add_option_arguments(parser, LearnerOptions, ("batch_size",))
    parser.add_argument(
        "--same-loop", action="store_true", help="run the components as clients on this event loop, not as processes"
    )
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for the plot, results and logs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
