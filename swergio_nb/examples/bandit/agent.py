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

from ...swarm.component import component
from ...transport.client import Trigger
from .learner import SimClock, TickingClient
from .options import LearnerOptions
from .server import Serving, serve_stats
from .trainer import decision_from_message, learn_rewards, make_learner, observed_emission_times

__all__ = ["build"]


@component("agent", LearnerOptions, "Contextual bandit agent: serves and trains in one process.")
def build(url: str, *, name: str, seed: int, options: LearnerOptions) -> TickingClient:
    """The agent's client (arguments as for ``Component.build``): ``seed`` seeds the policy's randomness;
    ``client.context["learner"]`` and ``client.context["serving"]`` share one policy."""
    learner = make_learner(options)
    clock = SimClock(options.speed)
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
        name, url, tick=options.tick, on_tick=on_tick, on_close=learner.close, learner=learner, serving=serving
    )

    def decide(msg: dict[str, Any]) -> dict[str, Any]:
        reply = serving.decide(msg)
        learner.decision(decision_from_message({**reply, "ROOT_ID": msg.get("ROOT_ID")}), reply["DECIDED_AT"])
        return reply

    client.add_handler(
        decide,
        Trigger("DATA/FORWARD", "contexts", direct=False),
        reply_type="DATA/FORWARD",
        reply_rooms="decisions",
    )
    learn_rewards(client, learner, clock)
    serve_stats(client, lambda: {**learner.stats(), **serving.stats(), "train_s": np.array(train_s)})
    return client


if __name__ == "__main__":
    build.main()
