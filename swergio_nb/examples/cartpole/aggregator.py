"""The aggregation component: gathers the N models' logits of one step, picks the action, credits the models.

Run as a process: ``python -m swergio_nb.examples.cartpole.aggregator --hub ws://127.0.0.1:8765 --models 4``.

Listens to ``DATA/FORWARD`` in ``logits``. The N replies of one step share the ``ROOT_ID`` of the environment's
message they answer; once all N (named in ``models``) are in, it combines them (:func:`~.ensemble.combine`:
sum of the models' probabilities, sampled with ``MODEL_STATUS`` TRAIN, argmax with VALIDATE) and sends
``DATA/FORWARD`` to ``action``: DATA int64 (K,) actions, ``SHARES`` float32 (N, K) each model's share of the
chosen action's probability, ``MODELS`` the N names (rows of ``SHARES``), ``BEHAVIOUR_PROB`` float32 (K,) the
mixture's probability of each chosen action. In TRAIN mode it adds each model's shares over the active
environments to its accumulated contribution.

``COMMAND/CUSTOM`` with ``COMMAND`` "contribution" (to this component) is answered with ``LOG/CUSTOM``:
``CONTRIBUTION`` {model name: accumulated share}, ``STEPS`` (aggregated training steps); ``RESET`` true (the
default) starts the accumulation anew.
"""

from __future__ import annotations

import collections
import logging
from typing import Any

import numpy as np

from ...protocol.messages import ModelStatus
from ...swarm.component import component
from ...transport.client import SENDER, Client, Trigger
from .ensemble import combine
from .options import AggregatorOptions
from .rooms import ACTION_ROOM, AGGREGATOR, LOGITS_ROOM, model_names

__all__ = ["AggregatorComponent", "build"]

logger = logging.getLogger("swergio_nb.examples.cartpole.aggregator")


class AggregatorComponent:
    """The aggregator's state and logic (sans-I/O: it takes messages and returns messages).

    Args:
        models: the names of the N models, in the order of ``SHARES``' rows.
        seed: seeds the sampling of actions.
        max_pending: steps waiting for missing replies kept at most (the oldest is dropped and counted beyond).
    """

    def __init__(self, models: list[str], seed: int = 0, max_pending: int = 1000) -> None:
        if not models or len(set(models)) != len(models):
            raise ValueError(f"models must be distinct names, got {models!r}")
        self.models = list(models)
        self._index = {name: i for i, name in enumerate(self.models)}
        self.rng = np.random.default_rng(seed)
        self.max_pending = max_pending
        self.pending: collections.OrderedDict[str, dict[str, dict[str, Any]]] = collections.OrderedDict()
        self.contribution = dict.fromkeys(self.models, 0.0)
        self.train_steps = 0  #: aggregated training steps since the last reset
        self.steps = 0  #: aggregated steps, all modes
        self.dropped = 0  #: steps dropped for want of replies
        self.ignored = 0  #: logits from components not in ``models``

    def handle(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Take one model's logits; returns the action message once all N of the step are in."""
        sender = msg.get("SENT_BY")
        if sender not in self._index:
            self.ignored += 1
            logger.warning("logits from %r, which is not one of the %d models; ignored", sender, len(self.models))
            return None
        root = msg["ROOT_ID"]
        replies = self.pending.setdefault(root, {})
        replies[sender] = msg
        if len(replies) < len(self.models):
            if len(self.pending) > self.max_pending:
                old, _ = self.pending.popitem(last=False)
                self.dropped += 1
                logger.warning("step %s never got all %d replies; dropped", old, len(self.models))
            return None
        del self.pending[root]
        logits = np.stack([np.asarray(replies[name]["DATA"], dtype=np.float64) for name in self.models])
        train = msg.get("MODEL_STATUS", ModelStatus.TRAIN) == ModelStatus.TRAIN
        result = combine(logits, greedy=not train, rng=self.rng)
        self.steps += 1
        if train:
            active = np.asarray(msg.get("ACTIVE", np.ones(logits.shape[1], bool)), bool)
            for name, credit in zip(self.models, result.shares[:, active].sum(axis=1), strict=True):
                self.contribution[name] += float(credit)
            self.train_steps += 1
        return {
            "TYPE": "DATA/FORWARD",
            "TO_ROOM": ACTION_ROOM,
            "DATA": result.actions,
            "SHARES": result.shares.astype(np.float32),
            "MODELS": self.models,
            "BEHAVIOUR_PROB": result.behaviour_probs.astype(np.float32),
        }

    def report(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Answer ``COMMAND/CUSTOM`` "contribution" with the accumulated contribution (then reset it)."""
        if msg.get("COMMAND") != "contribution":
            return None
        answer = {"CONTRIBUTION": dict(self.contribution), "STEPS": self.train_steps}
        if msg.get("RESET", True):
            self.contribution = dict.fromkeys(self.models, 0.0)
            self.train_steps = 0
        return answer


@component(AGGREGATOR, AggregatorOptions, "CartPole ensemble aggregator.")
def build(url: str, *, name: str, seed: int, options: AggregatorOptions) -> Client:
    """The aggregator's client (arguments as for ``Component.build``): ``seed`` seeds the sampling of actions;
    ``client.context["aggregator"]`` is its :class:`AggregatorComponent`."""
    aggregator = AggregatorComponent(model_names(options.models), seed)
    client = Client(name, url, aggregator=aggregator)
    client.add_handler(aggregator.handle, Trigger("DATA/FORWARD", LOGITS_ROOM, direct=False))
    client.add_handler(aggregator.report, Trigger("COMMAND/CUSTOM", []), reply_type="LOG/CUSTOM", reply_to=SENDER)
    return client


if __name__ == "__main__":
    build.main()
