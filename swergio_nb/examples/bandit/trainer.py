"""The trainer component (baseline architecture): joins logged decisions with rewards, trains, pushes weights.

Run as a process: ``python -m swergio_nb.examples.bandit.trainer --hub ws://127.0.0.1:8765 --log joined.jsonl``.

Listens to the decisions the server logs (``DATA/FORWARD`` in room ``decisions``) and to ``DATA/REWARD`` in room
``rewards`` (``EVENT_ID`` or ``ROOT_ID``, ``REWARD``, ``EMITTED_AT``), feeds them to a
:class:`~swergio_nb.examples.bandit.learner.Learner` and, every ``tick`` seconds, advances the join window, commits the
log and, when a batch is due, trains the policy on it and sends ``COMMAND/LOADMODELWEIGHTS`` to the server
(``WEIGHTS``: the policy's ``A`` (K, d, d) and ``b`` (K, d) float64 arrays, sent as binary arrays; ``EMITTED_AT``:
float64 array). With ``--log``, a restarted trainer resumes from the log (model and pending joins) and pushes its
weights at once. ``COMMAND/CUSTOM`` ``stats`` is answered with the learner's counters.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...transport.client import SENDER, Trigger
from .._component import component_parser, serve_component
from .joiner import Decision, JoinedEvent, RewardJoiner
from .learner import Learner, SimClock, TickingClient
from .server import add_policy_arguments, policy_from_args

__all__ = [
    "build",
    "make_learner",
    "learner_options",
    "add_learner_arguments",
    "decision_from_message",
    "reward_of",
    "main",
]


def add_learner_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the components that join and train."""
    parser.add_argument("--wait", type=float, default=60.0, help="reward wait time, simulated s (default %(default)s)")
    parser.add_argument("--default-reward", type=float, default=0.0, help="reward after the wait (default 0)")
    parser.add_argument("--batch-size", type=int, default=32, help="joined events per update (default %(default)s)")
    parser.add_argument(
        "--max-batch-age", type=float, default=5.0, help="train a partial batch this old, simulated s (default 5)"
    )
    parser.add_argument("--tick", type=float, default=0.02, help="real s between joiner ticks (default %(default)s)")
    parser.add_argument("--max-pending", type=int, default=100_000, help="decisions held at most (default 100000)")
    parser.add_argument("--log", type=Path, default=None, help="append-only joined-event log (resumed if present)")


def learner_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`make_learner` from parsed :func:`add_learner_arguments` and
    :func:`~.server.add_policy_arguments` options."""
    return {
        "policy": args.policy,
        "n_actions": args.actions,
        "dim": args.dim,
        "alpha": args.alpha,
        "explore": args.explore,
        "epsilon": args.epsilon,
        "wait": args.wait,
        "default_reward": args.default_reward,
        "batch_size": args.batch_size,
        "max_batch_age": args.max_batch_age,
        "max_pending": args.max_pending,
        "log": args.log,
    }


def make_learner(
    *,
    policy: str = "linucb",
    n_actions: int = 5,
    dim: int = 6,
    alpha: float = 1.0,
    explore: float = 0.0,
    epsilon: float = 0.1,
    wait: float = 60.0,
    default_reward: float = 0.0,
    batch_size: int = 32,
    max_batch_age: float = 5.0,
    max_pending: int = 100_000,
    log: str | Path | None = None,
) -> Learner:
    """A learner with a fresh policy and joiner; resumed from ``log`` if given."""
    model = policy_from_args(policy, n_actions, dim, alpha=alpha, explore=explore, epsilon=epsilon)
    joiner = RewardJoiner(wait, default_reward=default_reward, max_pending=max_pending)
    options = dict(batch_size=batch_size, max_batch_age=max_batch_age)
    if log is None:
        return Learner(model, joiner, **options)
    return Learner.resume(model, joiner, log, **options)


def decision_from_message(msg: dict[str, Any]) -> Decision:
    """The :class:`~.joiner.Decision` a server's decision message logs.

    Raises:
        KeyError, ValueError: a field is missing or malformed.
    """
    return Decision(
        event_id=str(msg.get("EVENT_ID") or msg["ROOT_ID"]),
        context=[float(v) for v in np.asarray(msg["DATA"], dtype=np.float64).reshape(-1)],
        action=int(msg["ACTION"]),
        propensity=float(msg["PROPENSITY"]),
        decided_at=float(msg["DECIDED_AT"]),
        version=int(msg.get("VERSION", 0)),
    )


def reward_of(msg: dict[str, Any]) -> tuple[str, float, float | None]:
    """(event id, reward, emitted_at) of a ``DATA/REWARD`` message (``REWARD``, else ``DATA``).

    Raises:
        KeyError, ValueError: no event id or no numeric reward.
    """
    event_id = msg.get("EVENT_ID") or msg["ROOT_ID"]
    value = msg["REWARD"] if "REWARD" in msg else msg["DATA"]
    emitted = msg.get("EMITTED_AT")
    return str(event_id), float(value), None if emitted is None else float(emitted)


def observed_emission_times(batch: list[JoinedEvent]) -> np.ndarray:
    """Wall-clock emission times (float64 (m,)) of the observed rewards in ``batch``."""
    times = [e.emitted_at for e in batch if e.observed and e.emitted_at is not None]
    return np.array([t for t in times if math.isfinite(t)], dtype=np.float64)


def build(
    url: str,
    *,
    name: str = "trainer",
    server: str = "server",
    speed: float = 100.0,
    tick: float = 0.02,
    decisions_room: str = "decisions",
    rewards_room: str = "rewards",
    **learner_options: Any,
) -> TickingClient:
    """The trainer component's client; ``client.context["learner"]`` is its :class:`~.learner.Learner`.

    Args:
        url: hub URL.
        name: component name.
        server: name of the serving component the weights are pushed to.
        speed: simulated seconds per real second.
        tick: real seconds between joiner ticks.
        **learner_options: passed to :func:`make_learner` (``policy``, ``wait``, ``batch_size``, ``log``, ...).
    """
    learner = make_learner(**learner_options)
    clock = SimClock(speed)
    pushes = {"count": 0, "train_s": []}
    client: TickingClient

    async def push(emitted_at: np.ndarray) -> None:
        weights = learner.policy.get_weights()
        await client.send(
            {"TYPE": "COMMAND/LOADMODELWEIGHTS", "TO": server, "WEIGHTS": weights, "EMITTED_AT": emitted_at}
        )
        pushes["count"] += 1

    async def on_tick() -> None:
        batch = learner.tick(clock())
        if batch is None:
            learner.commit()
            if learner.resumed_events and pushes["count"] == 0:
                await push(np.zeros(0))  # a restarted trainer brings the server up to date at once
            return
        start = time.perf_counter()
        learner.train(batch)
        pushes["train_s"].append(time.perf_counter() - start)
        await push(observed_emission_times(batch))

    client = TickingClient(name, url, tick=tick, on_tick=on_tick, on_close=learner.close, learner=learner)

    def on_decision(msg: dict[str, Any]) -> None:
        learner.decision(decision_from_message(msg), clock())

    def on_reward(msg: dict[str, Any]) -> None:
        event_id, value, emitted = reward_of(msg)
        learner.reward(event_id, value, clock(), emitted_at=emitted)

    def stats(msg: dict[str, Any]) -> dict[str, Any]:
        if msg.get("COMMAND") != "stats":
            raise ValueError(f"unknown COMMAND/CUSTOM command {msg.get('COMMAND')!r}; this component knows 'stats'")
        return {
            "STATS": {**learner.stats(), "pushes": pushes["count"], "train_s": np.array(pushes["train_s"])},
            "COMPONENT": name,
        }

    client.add_handler(on_decision, Trigger("DATA/FORWARD", decisions_room, direct=False))
    client.add_handler(on_reward, Trigger("DATA/REWARD", rewards_room))
    client.add_handler(stats, Trigger("COMMAND/CUSTOM", []), reply_type="LOG/CUSTOM", reply_to=SENDER)
    return client


def main(argv: list[str] | None = None) -> None:
    parser = component_parser("Contextual bandit trainer component (joins, logs, trains, pushes weights).", "trainer")
    add_policy_arguments(parser)
    add_learner_arguments(parser)
    parser.add_argument("--server", default="server", help="serving component to push weights to")
    args = parser.parse_args(argv)
    serve_component(
        lambda: build(
            args.hub,
            name=args.name,
            server=args.server,
            speed=args.speed,
            tick=args.tick,
            **learner_options(args),
        ),
        args,
    )


if __name__ == "__main__":
    main()
