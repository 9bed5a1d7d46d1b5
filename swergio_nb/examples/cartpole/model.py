"""An ensemble member: an advantage actor-critic that proposes action logits and trains on its own rollouts.

Run as a process: ``python -m swergio_nb.examples.cartpole.model --hub ws://127.0.0.1:8765 --name model-0 --seed 0``.

One handler, so the model sees the environment's and the aggregator's messages in arrival order:

* ``DATA/FORWARD`` in ``observation`` (a run starts): DATA float32 (K, 4) observations, ``ACTIVE`` bool (K,).
  Replies ``DATA/FORWARD`` to ``logits``: DATA float32 (K, 2) action logits, ``ACTIVE`` passed on.
* ``DATA/FORWARD`` in ``action`` (from the aggregator): DATA int64 (K,) actions, ``SHARES`` float32 (N, K) and
  ``MODELS`` (the N names, in the order of ``SHARES``' rows). With ``MODEL_STATUS`` TRAIN the model records the
  actions and its own row of shares (its importance ratio is N times its share).
* ``DATA/REWARD`` in ``observation``: DATA float32 (K,) rewards, ``TERMINATED``/``TRUNCATED`` bool (K,),
  ``FINAL_OBSERVATION`` float32 (K, 4); and, unless the run is over, the next ``OBSERVATION`` (K, 4) and
  ``ACTIVE`` (K,). The model records the reward, takes an A2C step when its rollout is full (or the run is over),
  then replies with the logits for the next observation as above.

``COMMAND/SAVEMODELWEIGHTS`` (to this component) is answered with ``LOG/MODELWEIGHTS``: ``WEIGHTS`` the state
dict as float32 numpy arrays (binary frame), ``STEPS``, ``UPDATES``. ``COMMAND/LOADMODELWEIGHTS`` with ``WEIGHTS``
loads them, resets Adam's moments and answers ``COMMAND/ACK`` (``REPLY_TO`` the command's ID), or ``LOG/ERROR``
(``ERROR`` "bad-weights") if they do not fit, keeping the old weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...protocol.messages import ModelStatus
from ...swarm.component import component
from ...transport.client import Client, Trigger
from .a2c import A2CConfig, A2CLearner
from .rooms import ACTION_ROOM, LOGITS_ROOM, OBSERVATION_ROOM

__all__ = ["ModelComponent", "build", "one_torch_thread"]


class ModelComponent:
    """The message logic of one ensemble member around an :class:`~swergio_nb.examples.cartpole.a2c.A2CLearner`.

    Args:
        name: the component's name (its row in the aggregator's ``SHARES`` is found by it).
        learner: the actor-critic and its rollout.
    """

    def __init__(self, name: str, learner: A2CLearner) -> None:
        self.name = name
        self.learner = learner

    def _propose(self, obs: Any, active: Any, train: bool) -> dict[str, Any]:
        active = np.asarray(active, bool)
        logits = self.learner.propose(obs, active, train=train)
        return {"TYPE": "DATA/FORWARD", "TO_ROOM": LOGITS_ROOM, "DATA": logits, "ACTIVE": active}

    def handle(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Process one message (data or weight command); returns the reply or None.

        Data and commands go through this one handler so they are processed in arrival order: a weight command
        sent after a run has ended is handled after that run's last reward (and A2C step).
        """
        mtype = msg["TYPE"]
        if mtype == "COMMAND/SAVEMODELWEIGHTS":
            return {"TYPE": "LOG/MODELWEIGHTS", "TO": msg["SENT_BY"], **self.save_weights(msg)}
        if mtype == "COMMAND/LOADMODELWEIGHTS":
            return {"TO": msg["SENT_BY"], **self.load_weights(msg)}
        train = msg.get("MODEL_STATUS", ModelStatus.TRAIN) == ModelStatus.TRAIN
        room = msg.get("TO_ROOM")
        learner = self.learner
        if room == OBSERVATION_ROOM and mtype == "DATA/FORWARD":
            learner.begin_run()
            return self._propose(msg["DATA"], msg.get("ACTIVE", np.ones(len(msg["DATA"]), bool)), train)
        if room == ACTION_ROOM and mtype == "DATA/FORWARD":
            if train:
                names = list(msg["MODELS"])
                shares = np.asarray(msg["SHARES"])[names.index(self.name)]
                learner.record_action(msg["DATA"], shares, len(names))
            return None
        if room == OBSERVATION_ROOM and mtype == "DATA/REWARD":
            following = msg.get("OBSERVATION")
            if train:
                learner.record_reward(msg["DATA"], msg["TERMINATED"], msg["TRUNCATED"], msg.get("FINAL_OBSERVATION"))
                if following is None or learner.rollout_full:
                    learner.update(following)
            if following is None:
                return None
            return self._propose(following, msg["ACTIVE"], train)
        return None

    def save_weights(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The ``LOG/MODELWEIGHTS`` answer to ``COMMAND/SAVEMODELWEIGHTS``."""
        return {
            "WEIGHTS": self.learner.net.weights(),
            "COMPONENT": self.name,
            "STEPS": self.learner.steps,
            "UPDATES": self.learner.updates,
        }

    def load_weights(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Load ``WEIGHTS``; the ``COMMAND/ACK`` answer, or a ``LOG/ERROR`` one if they do not fit."""
        weights = msg.get("WEIGHTS")
        try:
            if not isinstance(weights, dict):
                raise ValueError(f"WEIGHTS must be a map of names to arrays, got {type(weights).__name__}")
            self.learner.net.load_weights(weights)
        except (ValueError, TypeError) as exc:
            return {"TYPE": "LOG/ERROR", "ERROR": "bad-weights", "DETAIL": str(exc)[:1000], "REPLY_TO": msg["ID"]}
        self.learner.reset_optimizer()
        return {"TYPE": "COMMAND/ACK", "REPLY_TO": msg["ID"], "COMPONENT": self.name}


def one_torch_thread() -> None:
    """Tiny networks: threads cost more than they give, and the machine is shared."""
    import torch

    torch.set_num_threads(1)


@component("model-0", A2CConfig, "CartPole ensemble member (advantage actor-critic).", setup=one_torch_thread)
def build(url: str, *, name: str, seed: int, options: A2CConfig) -> Client:
    """A model component's client (arguments as for ``Component.build``; ``name`` is ``model-<i>``, which the
    aggregator must list): ``seed`` seeds the initial weights; ``client.context["model"]`` is its
    :class:`ModelComponent`."""
    model = ModelComponent(name, A2CLearner(seed, options))
    client = Client(name, url, model=model)
    types = ["DATA/FORWARD", "DATA/REWARD", "COMMAND/SAVEMODELWEIGHTS", "COMMAND/LOADMODELWEIGHTS"]
    client.add_handler(model.handle, Trigger(types, [OBSERVATION_ROOM, ACTION_ROOM]))
    return client


if __name__ == "__main__":
    build.main()
