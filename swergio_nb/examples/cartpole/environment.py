"""The environment component: plays CartPole-v1 episodes, one round trip through the ensemble per step.

Run as a process: ``python -m swergio_nb.examples.cartpole.environment --hub ws://127.0.0.1:8765 --envs 8``.

``COMMAND/CUSTOM`` with ``COMMAND`` "run_episodes" (to this component): ``EPISODES`` (>= 1), ``MODEL_STATUS``
(1 TRAIN: the aggregator samples and the models learn; 2 VALIDATE: greedy actions, nobody learns), optional
``SEED`` (reset seed of the run's first episode; episode j uses SEED + j) and ``ENVS`` (parallel environments).
Per step of the K environments (:class:`~.episodes.EpisodeRunner`):

1. ``DATA/FORWARD`` (the run's first observations) or ``DATA/REWARD`` (rewards of the last actions, with the next
   observations) to ``observation``; see :mod:`~swergio_nb.examples.cartpole.model` for the fields;
2. await the aggregator's ``DATA/FORWARD`` in ``action`` with the same ``ROOT_ID``; step the environments.

Each finished episode is sent as ``LOG/KPI`` to ``scores`` (TRAIN: ``KPI`` "episode return" and "mean return
(last 20)", ``STEP`` the training episode number; VALIDATE: one "greedy mean return" per run at the current
training episode). The command is answered with ``LOG/RUN``: ``RETURNS``, ``LENGTHS``, ``SEEDS`` (per episode,
in episode order), ``ENV_STEPS``, ``ROUND_TRIPS``, ``WALL_S``, ``TRAIN_EPISODES`` (training episodes so far); or
with ``ERROR`` (a text) if the models or the aggregator did not answer within the timeout or the command was bad.
"""

from __future__ import annotations

import collections
import time
from typing import Any

import numpy as np

from ...protocol.messages import ModelStatus
from ...swarm.component import component
from ...transport.client import SENDER, Client, Trigger
from .episodes import EpisodeRunner
from .options import EnvironmentOptions
from .rooms import ACTION_ROOM, ENVIRONMENT, OBSERVATION_ROOM, SCORES_ROOM

__all__ = ["EnvironmentComponent", "build", "EVAL_SEED_OFFSET"]

#: Greedy evaluations reset from ``EVAL_SEED_OFFSET + seed`` on unless told otherwise (training episodes use
#: ``seed * 1_000_000 + n`` for the n-th training episode), so the two never share a start state by design.
EVAL_SEED_OFFSET = 1_000_000_000


class EnvironmentComponent:
    """The environment's state and its episode loop.

    Args:
        client: the component's client (the loop sends and awaits through it).
        options: parallel environments in training runs (``n_envs``) and in greedy runs (``eval_envs``, at most the
            number of episodes), and the seconds to wait for the ensemble's action each step (``timeout``).
        seed: seeds the episodes' resets.
    """

    def __init__(self, client: Client, options: EnvironmentOptions | None = None, *, seed: int = 0) -> None:
        options = options or EnvironmentOptions()
        self.client = client
        self.n_envs, self.eval_envs, self.timeout = options.n_envs, options.eval_envs, options.timeout
        self.seed = seed
        self.train_episodes = 0  #: training episodes finished so far
        self.env_steps = 0  #: environment steps so far (all runs)
        self.recent: collections.deque[float] = collections.deque(maxlen=20)
        self._runners: dict[int, EpisodeRunner] = {}

    def _runner(self, k: int) -> EpisodeRunner:
        if k not in self._runners:
            self._runners[k] = EpisodeRunner(k)
        return self._runners[k]

    async def handle(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Answer a ``run_episodes`` command (see the module docstring)."""
        if msg.get("COMMAND") != "run_episodes":
            return None
        try:
            episodes = int(msg["EPISODES"])
            status = ModelStatus(msg.get("MODEL_STATUS", ModelStatus.TRAIN))
            if episodes < 1:
                raise ValueError(f"EPISODES must be >= 1, got {episodes}")
        except (KeyError, ValueError, TypeError) as exc:
            return {"ERROR": f"bad run_episodes command: {exc!r}"}
        try:
            return await self.run(episodes, status, seed=msg.get("SEED"), envs=msg.get("ENVS"))
        except (TimeoutError, ValueError) as exc:
            return {"ERROR": f"run stopped: {exc!r}"}

    async def run(
        self, episodes: int, status: ModelStatus, *, seed: int | None = None, envs: int | None = None
    ) -> dict[str, Any]:
        """Play ``episodes`` episodes through the hub; returns the ``LOG/RUN`` fields.

        Raises:
            TimeoutError: no action within ``timeout`` seconds.
        """
        greedy = status == ModelStatus.VALIDATE
        k = min(int(envs or (self.eval_envs if greedy else self.n_envs)), episodes)
        if seed is None:
            seed = EVAL_SEED_OFFSET + self.seed if greedy else self.seed * 1_000_000 + self.train_episodes
        runner = self._runner(k)
        obs = runner.start(episodes, int(seed))
        finished = []
        start = time.perf_counter()
        trips = 1
        action = await self._request(
            {"TYPE": "DATA/FORWARD", "DATA": obs, "ACTIVE": runner.active.copy(), "MODEL_STATUS": status}
        )
        while True:
            result = runner.step(np.asarray(action["DATA"]))
            for episode in result.finished:
                finished.append(episode)
                if not greedy:
                    await self._train_episode_done(episode.ret)
            reward = {
                "TYPE": "DATA/REWARD",
                "TO_ROOM": OBSERVATION_ROOM,
                "DATA": result.rewards,
                "TERMINATED": result.terminated,
                "TRUNCATED": result.truncated,
                "FINAL_OBSERVATION": result.final_obs,
                "REPLY_TO": action["ID"],
                "MODEL_STATUS": status,
            }
            if runner.done:
                await self.client.send(reward)  # the last rewards: the models train, nobody answers
                break
            reward.update(OBSERVATION=result.obs, ACTIVE=result.active)
            action = await self._request(reward)
            trips += 1
        wall = time.perf_counter() - start
        steps = sum(e.length for e in finished)
        self.env_steps += steps
        finished.sort(key=lambda e: e.index)
        returns = [e.ret for e in finished]
        if greedy:
            await self._kpi("greedy mean return", float(np.mean(returns)))
        return {
            "RETURNS": returns,
            "LENGTHS": [e.length for e in finished],
            "SEEDS": [e.seed for e in finished],
            "ENV_STEPS": steps,
            "ROUND_TRIPS": trips,
            "WALL_S": wall,
            "TRAIN_EPISODES": self.train_episodes,
            "MODEL_STATUS": status,
        }

    async def _request(self, msg: dict[str, Any]) -> dict[str, Any]:
        msg = {"TO_ROOM": OBSERVATION_ROOM, **msg}
        try:
            return await self.client.request(
                msg, reply_room=ACTION_ROOM, reply_type="DATA/FORWARD", timeout=self.timeout
            )
        except TimeoutError:
            raise TimeoutError(f"no action from the ensemble within {self.timeout} s (are all models up?)") from None

    async def _train_episode_done(self, ret: float) -> None:
        self.train_episodes += 1
        self.recent.append(ret)
        await self._kpi("episode return", ret)
        await self._kpi(f"mean return (last {self.recent.maxlen})", float(np.mean(self.recent)))

    async def _kpi(self, name: str, value: float) -> None:
        await self.client.send(
            {"TYPE": "LOG/KPI", "TO_ROOM": SCORES_ROOM, "KPI": name, "VALUE": value, "STEP": self.train_episodes}
        )


@component(ENVIRONMENT, EnvironmentOptions, "CartPole-v1 environment component.")
def build(url: str, *, name: str, seed: int, options: EnvironmentOptions) -> Client:
    """The environment's client (arguments as for ``Component.build``): ``seed`` seeds the episodes' resets;
    ``client.context["environment"]`` is its :class:`EnvironmentComponent`."""
    client = Client(name, url)
    environment = EnvironmentComponent(client, options, seed=seed)
    client.context["environment"] = environment
    client.add_handler(environment.handle, Trigger("COMMAND/CUSTOM", []), reply_type="LOG/RUN", reply_to=SENDER)
    return client


if __name__ == "__main__":
    build.main()
