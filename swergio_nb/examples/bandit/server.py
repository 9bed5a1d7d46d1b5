"""The serving component (baseline architecture): decides, logs each decision, loads weights pushed by a trainer.

Run as a process: ``python -m swergio_nb.examples.bandit.server --hub ws://127.0.0.1:8765 --policy linucb``.

* ``DATA/FORWARD`` in room ``contexts`` (DATA: float64 context (d,), ``EVENT_ID``) is answered in room
  ``decisions`` with ``ACTION``, ``PROPENSITY``, ``VERSION`` (of the weights that decided), ``DECIDED_AT``
  (simulated seconds), ``EVENT_ID`` and the context again in DATA: the reply *is* the decision log the trainer joins.
* ``COMMAND/LOADMODELWEIGHTS`` sent to this component (``WEIGHTS``: ``A`` (K, d, d), ``b`` (K, d) float64 arrays,
  ``version``; ``EMITTED_AT``: float64 array of the wall-clock emission times of the rewards the weights learned
  from) replaces the policy's weights; the time from each reward's emission to now is recorded as the
  reward-to-policy latency.
* ``COMMAND/CUSTOM`` with ``COMMAND: "stats"`` sent to this component is answered (``LOG/CUSTOM``) with ``STATS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ...swarm.component import component
from ...transport.client import SENDER, Client, Trigger
from .learner import SimClock
from .options import PolicyOptions
from .policy import RidgeArms, make_policy

__all__ = ["Serving", "build", "policy_from_options", "serve_stats"]


def serve_stats(client: Client, stats: Callable[[], dict[str, Any]]) -> None:
    """Answer ``COMMAND/CUSTOM`` ``stats`` sent to ``client`` with ``LOG/CUSTOM``: ``STATS`` (``stats()``) and
    ``COMPONENT``; another ``COMMAND`` is refused (the sender gets a ``LOG/ERROR``)."""

    def answer(msg: dict[str, Any]) -> dict[str, Any]:
        if msg.get("COMMAND") != "stats":
            raise ValueError(f"unknown COMMAND/CUSTOM command {msg.get('COMMAND')!r}; this component knows 'stats'")
        return {"STATS": stats(), "COMPONENT": client.name}

    client.add_handler(answer, Trigger("COMMAND/CUSTOM", []), reply_type="LOG/CUSTOM", reply_to=SENDER)


def policy_from_options(options: PolicyOptions) -> RidgeArms:
    """The policy ``options.policy`` with the options that apply to it."""
    extra: dict[str, Any] = {
        "linucb": {"alpha": options.alpha, "explore": options.explore},
        "egreedy": {"epsilon": options.epsilon},
    }
    return make_policy(options.policy, options.n_actions, options.dim, **extra.get(options.policy, {}))


class Serving:
    """The decision side: policy + random generator + clock + latency records (no I/O).

    Args:
        policy: the policy that decides.
        seed: seeds the policy's randomness.
        clock: simulated-time clock for ``DECIDED_AT``.
    """

    def __init__(self, policy: RidgeArms, seed: int, clock: SimClock) -> None:
        self.policy = policy
        self.rng = np.random.default_rng([seed, 3])
        self.clock = clock
        self.decide_s: list[float] = []  #: compute time of each decision, s
        self.learn_latency_s: list[float] = []  #: reward emission -> serving policy learned from it, s
        self.loads = 0

    def decide(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The decision reply for a ``DATA/FORWARD`` context message.

        Raises:
            ValueError: the context is not a float vector of the policy's dimension.
        """
        start = time.perf_counter()
        context = np.asarray(msg.get("DATA"), dtype=np.float64)
        if context.shape != (self.policy.dim,):
            raise ValueError(f"context of shape {context.shape}; expected ({self.policy.dim},)")
        action, propensity = self.policy.decide(context, self.rng)
        self.decide_s.append(time.perf_counter() - start)
        return {
            "DATA": context,
            "EVENT_ID": msg.get("EVENT_ID", msg.get("ROOT_ID")),
            "ACTION": action,
            "PROPENSITY": propensity,
            "VERSION": self.policy.version,
            "DECIDED_AT": self.clock(),
            "POLICY": getattr(self.policy, "name", "policy"),
        }

    def learned(self, emitted_at: Any) -> None:
        """Record reward-to-policy latencies for rewards emitted at ``emitted_at`` (wall-clock s)."""
        now = time.time()
        self.learn_latency_s += [now - float(t) for t in np.asarray(emitted_at, dtype=np.float64).reshape(-1)]

    def stats(self) -> dict[str, Any]:
        """Weights version, events trained on, loads, and float64 arrays of decision times and learn latencies (s)."""
        return {
            "version": self.policy.version,
            "trained_events": self.policy.trained_events,
            "weight_loads": self.loads,
            "decide_s": np.array(self.decide_s),
            "learn_latency_s": np.array(self.learn_latency_s),
        }


@component("server", PolicyOptions, "Contextual bandit serving component.")
def build(url: str, *, name: str, seed: int, options: PolicyOptions) -> Client:
    """The serving component's client (arguments as for ``Component.build``): ``seed`` seeds the policy's
    randomness; requests arrive in room ``contexts``, decisions go to ``decisions``; ``client.context["serving"]``
    is its :class:`Serving`."""
    serving = Serving(policy_from_options(options), seed, SimClock(options.speed))
    client = Client(name, url, serving=serving)
    client.add_handler(
        serving.decide,
        Trigger("DATA/FORWARD", "contexts", direct=False),
        reply_type="DATA/FORWARD",
        reply_rooms="decisions",
    )

    def load_weights(msg: dict[str, Any]) -> None:
        serving.policy.set_weights(msg["WEIGHTS"])
        serving.loads += 1
        serving.learned(msg.get("EMITTED_AT", []))

    client.add_handler(load_weights, Trigger("COMMAND/LOADMODELWEIGHTS", []))
    serve_stats(client, serving.stats)
    return client


if __name__ == "__main__":
    build.main()
