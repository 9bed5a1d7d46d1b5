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

import math
import time
from typing import Any

import numpy as np

from ...swarm.component import component
from ...transport.client import Client, Trigger
from .joiner import Decision, JoinedEvent, RewardJoiner
from .learner import Learner, SimClock, TickingClient
from .options import LearnerOptions, TrainerOptions
from .server import policy_from_options, serve_stats

__all__ = [
    "build",
    "make_learner",
    "learn_rewards",
    "decision_from_message",
    "reward_of",
]


def make_learner(options: LearnerOptions) -> Learner:
    """A learner with a fresh policy and joiner; resumed from ``options.log`` if given."""
    model = policy_from_options(options)
    joiner = RewardJoiner(options.wait, default_reward=options.default_reward, max_pending=options.max_pending)
    batching = dict(batch_size=options.batch_size, max_batch_age=options.max_batch_age)
    if options.log is None:
        return Learner(model, joiner, **batching)
    return Learner.resume(model, joiner, options.log, **batching)


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


def learn_rewards(client: Client, learner: Learner, clock: SimClock) -> None:
    """Feed the ``DATA/REWARD`` messages of room ``rewards`` to ``learner`` (:func:`reward_of`), stamped by
    ``clock``."""

    def on_reward(msg: dict[str, Any]) -> None:
        event_id, value, emitted = reward_of(msg)
        learner.reward(event_id, value, clock(), emitted_at=emitted)

    client.add_handler(on_reward, Trigger("DATA/REWARD", "rewards"))


def observed_emission_times(batch: list[JoinedEvent]) -> np.ndarray:
    """Wall-clock emission times (float64 (m,)) of the observed rewards in ``batch``."""
    times = [e.emitted_at for e in batch if e.observed and e.emitted_at is not None]
    return np.array([t for t in times if math.isfinite(t)], dtype=np.float64)


@component("trainer", TrainerOptions, "Contextual bandit trainer: joins, logs, trains, pushes weights.")
def build(url: str, *, name: str, seed: int, options: TrainerOptions) -> TickingClient:
    """The trainer component's client (arguments as for ``Component.build``; ``seed`` is unused: its policy
    does not decide): decisions arrive in room ``decisions``, rewards in ``rewards``; the weights go to
    ``options.server``. ``client.context["learner"]`` is its :class:`~.learner.Learner`."""
    server = options.server
    learner = make_learner(options)
    clock = SimClock(options.speed)
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

    client = TickingClient(name, url, tick=options.tick, on_tick=on_tick, on_close=learner.close, learner=learner)

    def on_decision(msg: dict[str, Any]) -> None:
        learner.decision(decision_from_message(msg), clock())

    client.add_handler(on_decision, Trigger("DATA/FORWARD", "decisions", direct=False))
    learn_rewards(client, learner, clock)
    serve_stats(client, lambda: {**learner.stats(), "pushes": pushes["count"], "train_s": np.array(pushes["train_s"])})
    return client


if __name__ == "__main__":
    build.main()
