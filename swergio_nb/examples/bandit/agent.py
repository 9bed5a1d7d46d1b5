"""The in-process agent (in-process architecture): serves, joins, logs and trains in one process.

Run as a process: ``python -m swergio_nb.examples.bandit.agent --hub ws://127.0.0.1:8765``.

Same messages as :mod:`~swergio_nb.examples.bandit.server` (decisions answered in room ``decisions``) and
:mod:`~swergio_nb.examples.bandit.trainer` (``DATA/REWARD`` in room ``rewards``), but the decision goes straight into
the in-memory :class:`~swergio_nb.examples.bandit.learner.Learner` and each due batch is trained on the serving event
loop (no weights travel): serving waits while a batch trains or the log is fsync-ed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ...transport.client import SENDER, Trigger
from .._component import component_parser, serve_component
from .learner import SimClock, TickingClient
from .server import Serving, add_policy_arguments
from .trainer import (
    add_learner_arguments,
    decision_from_message,
    learner_options,
    make_learner,
    observed_emission_times,
    reward_of,
)

__all__ = ["build", "main"]


def build(
    url: str,
    *,
    name: str = "agent",
    seed: int = 0,
    speed: float = 100.0,
    tick: float = 0.02,
    contexts_room: str = "contexts",
    decisions_room: str = "decisions",
    rewards_room: str = "rewards",
    **learner_options: Any,
) -> TickingClient:
    """The agent's client; ``client.context["learner"]`` and ``client.context["serving"]`` share one policy.

    Args:
        url: hub URL.
        name: component name.
        seed: seeds the policy's randomness.
        speed: simulated seconds per real second.
        tick: real seconds between joiner ticks.
        **learner_options: passed to :func:`~.trainer.make_learner`.
    """
    learner = make_learner(**learner_options)
    clock = SimClock(speed)
    serving = Serving(learner.policy, seed, clock)
    train_s: list[float] = []

    def on_tick() -> None:
        batch = learner.tick(clock())
        if batch is None:
            learner.commit()
            return
        start = time.perf_counter()
        learner.train(batch)
        train_s.append(time.perf_counter() - start)
        serving.learned(observed_emission_times(batch))

    client = TickingClient(
        name, url, tick=tick, on_tick=on_tick, on_close=learner.close, learner=learner, serving=serving
    )

    def decide(msg: dict[str, Any]) -> dict[str, Any]:
        reply = serving.decide(msg)
        learner.decision(decision_from_message({**reply, "ROOT_ID": msg.get("ROOT_ID")}), reply["DECIDED_AT"])
        return reply

    def on_reward(msg: dict[str, Any]) -> None:
        event_id, value, emitted = reward_of(msg)
        learner.reward(event_id, value, clock(), emitted_at=emitted)

    def stats(msg: dict[str, Any]) -> dict[str, Any]:
        if msg.get("COMMAND") != "stats":
            raise ValueError(f"unknown COMMAND/CUSTOM command {msg.get('COMMAND')!r}; this component knows 'stats'")
        return {"STATS": {**learner.stats(), **serving.stats(), "train_s": np.array(train_s)}, "COMPONENT": name}

    client.add_handler(
        decide,
        Trigger("DATA/FORWARD", contexts_room, direct=False),
        reply_type="DATA/FORWARD",
        reply_rooms=decisions_room,
    )
    client.add_handler(on_reward, Trigger("DATA/REWARD", rewards_room))
    client.add_handler(stats, Trigger("COMMAND/CUSTOM", []), reply_type="LOG/CUSTOM", reply_to=SENDER)
    return client


def main(argv: list[str] | None = None) -> None:
    parser = component_parser("Contextual bandit agent: serves and trains in one process.", "agent")
    add_policy_arguments(parser)
    add_learner_arguments(parser)
    args = parser.parse_args(argv)
    serve_component(
        lambda: build(
            args.hub,
            name=args.name,
            seed=args.seed,
            speed=args.speed,
            tick=args.tick,
            **learner_options(args),
        ),
        args,
    )


if __name__ == "__main__":
    main()
