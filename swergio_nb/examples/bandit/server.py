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

import argparse
import time
from typing import Any

import numpy as np

from ...transport.client import SENDER, Client, Trigger
from .._component import component_parser, serve_component
from .learner import SimClock
from .policy import POLICIES, RidgeArms, make_policy

__all__ = ["Serving", "build", "add_policy_arguments", "policy_from_args", "main"]


def add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by the components that hold a policy."""
    parser.add_argument("--policy", choices=sorted(POLICIES), default="linucb", help="(default %(default)s)")
    parser.add_argument("--actions", type=int, default=5, help="number of actions K (default %(default)s)")
    parser.add_argument("--dim", type=int, default=6, help="context length d incl. bias (default %(default)s)")
    parser.add_argument("--alpha", type=float, default=1.0, help="LinUCB bonus width (default %(default)s)")
    parser.add_argument("--explore", type=float, default=0.0, help="LinUCB uniform floor (default %(default)s)")
    parser.add_argument("--epsilon", type=float, default=0.1, help="epsilon-greedy epsilon (default %(default)s)")
    parser.add_argument("--speed", type=float, default=100.0, help="simulated s per real s (default %(default)s)")


def policy_from_args(
    policy: str, n_actions: int, dim: int, *, alpha: float = 1.0, explore: float = 0.0, epsilon: float = 0.1
) -> RidgeArms:
    """The policy named ``policy`` with the options that apply to it."""
    options: dict[str, Any] = {"linucb": {"alpha": alpha, "explore": explore}, "egreedy": {"epsilon": epsilon}}
    return make_policy(policy, n_actions, dim, **options.get(policy, {}))


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


def build(
    url: str,
    *,
    name: str = "server",
    policy: str = "linucb",
    n_actions: int = 5,
    dim: int = 6,
    seed: int = 0,
    speed: float = 100.0,
    alpha: float = 1.0,
    explore: float = 0.0,
    epsilon: float = 0.1,
    contexts_room: str = "contexts",
    decisions_room: str = "decisions",
) -> Client:
    """The serving component's client; ``client.context["serving"]`` is its :class:`Serving`."""
    serving = Serving(
        policy_from_args(policy, n_actions, dim, alpha=alpha, explore=explore, epsilon=epsilon), seed, SimClock(speed)
    )
    client = Client(name, url, serving=serving)
    client.add_handler(
        serving.decide,
        Trigger("DATA/FORWARD", contexts_room, direct=False),
        reply_type="DATA/FORWARD",
        reply_rooms=decisions_room,
    )

    def load_weights(msg: dict[str, Any]) -> None:
        serving.policy.set_weights(msg["WEIGHTS"])
        serving.loads += 1
        serving.learned(msg.get("EMITTED_AT", []))

    def stats(msg: dict[str, Any]) -> dict[str, Any] | None:
        if msg.get("COMMAND") != "stats":
            raise ValueError(f"unknown COMMAND/CUSTOM command {msg.get('COMMAND')!r}; this component knows 'stats'")
        return {"STATS": serving.stats(), "COMPONENT": name}

    client.add_handler(load_weights, Trigger("COMMAND/LOADMODELWEIGHTS", []))
    client.add_handler(stats, Trigger("COMMAND/CUSTOM", []), reply_type="LOG/CUSTOM", reply_to=SENDER)
    return client


def main(argv: list[str] | None = None) -> None:
    parser = component_parser("Contextual bandit serving component.", "server")
    add_policy_arguments(parser)
    args = parser.parse_args(argv)
    serve_component(
        lambda: build(
            args.hub,
            name=args.name,
            policy=args.policy,
            n_actions=args.actions,
            dim=args.dim,
            seed=args.seed,
            speed=args.speed,
            alpha=args.alpha,
            explore=args.explore,
            epsilon=args.epsilon,
        ),
        args,
    )


if __name__ == "__main__":
    main()
