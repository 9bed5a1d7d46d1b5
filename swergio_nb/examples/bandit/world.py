"""The simulated world: contexts from a fixed distribution, K actions, Bernoulli rewards from a hidden linear model,
each reward emitted after a random delay (or never).

Sans-I/O part: :class:`LinearBernoulliWorld` and :class:`DelayModel` draw everything an event needs up front
(:class:`EventStream`): context, the reward of every action (common random numbers, so every policy faces the same
luck), and the delay. The known optimum gives the (pseudo-)regret of each decision,
``regret_t = max_a p_a(x_t) - p_{a_t}(x_t)`` (Lattimore & Szepesvari, *Bandit Algorithms*, 2020, ch. 4 and 19).

Component part: :class:`WorldRunner` plays the world through a hub. For each event it sends ``DATA/FORWARD`` to room
``contexts`` (DATA: float64 context (d,), ``EVENT_ID`` = ``ROOT_ID``), awaits the decision in room ``decisions``
(``ACTION``, ``PROPENSITY``), records regret and serving latency, and schedules ``DATA/REWARD`` to room ``rewards``
(``EVENT_ID``, ``REWARD``, ``EMITTED_AT`` wall-clock seconds) after the delay divided by ``speed`` (simulated
seconds per real second). Cumulative regret goes to room ``regret`` and the reward rate to ``reward_rate``, as
``LOG/KPI``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...protocol.messages import new_id
from ...transport.client import Client

__all__ = ["DelayModel", "LinearBernoulliWorld", "EventStream", "WorldRunner", "RunLog", "DELAY_KINDS"]

DELAY_KINDS = ("none", "fixed", "heavy")


@dataclass(frozen=True)
class DelayModel:
    """How long each reward takes to come back, in simulated seconds; a fraction never comes.

    Args:
        kind: ``none`` (0), ``fixed`` (``scale``), or ``heavy``: Lomax (Pareto II) with shape ``tail`` and scale
            ``scale``, i.e. ``scale * (U^(-1/tail) - 1)``: median ``scale * (2^(1/tail) - 1)``, mean
            ``scale / (tail - 1)`` for tail > 1, infinite variance for tail <= 2.
        scale: seconds (simulated).
        tail: the Lomax shape (> 0).
        loss: probability in [0, 1] that a reward never arrives.

    Raises:
        ValueError: bad kind or parameters.
    """

    kind: str = "fixed"
    scale: float = 10.0
    tail: float = 1.5
    loss: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in DELAY_KINDS:
            raise ValueError(f"delay kind must be one of {DELAY_KINDS}, got {self.kind!r}")
        if not (self.scale >= 0 and self.tail > 0 and 0 <= self.loss <= 1):
            raise ValueError(f"need scale >= 0, tail > 0, 0 <= loss <= 1; got {self.scale}, {self.tail}, {self.loss}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Delays (n,) float64 in simulated seconds; ``inf`` for a reward that never arrives."""
        if self.kind == "none":
            delays = np.zeros(n)
        elif self.kind == "fixed":
            delays = np.full(n, float(self.scale))
        else:
            delays = self.scale * rng.pareto(self.tail, n)
        lost = rng.random(n) < self.loss
        return np.where(lost, np.inf, delays)


@dataclass
class EventStream:
    """Everything the world needs for n events, drawn up front.

    Attributes:
        contexts: float64 (n, d); column 0 is the constant 1 (bias).
        probs: float64 (n, K), reward probability of each action.
        rewards: float64 (n, K) in {0, 1}: the reward each action would get (same uniform draw for all actions).
        delays: float64 (n,), simulated seconds; inf = never arrives.
    """

    contexts: np.ndarray
    probs: np.ndarray
    rewards: np.ndarray
    delays: np.ndarray

    def __len__(self) -> int:
        return len(self.contexts)

    def regret(self, actions: np.ndarray) -> np.ndarray:
        """Per-event pseudo-regret (n,) of the chosen actions (n,) against the optimum."""
        idx = np.arange(len(actions))
        return self.probs.max(axis=1)[idx] - self.probs[idx, np.asarray(actions)]

    def uniform_regret(self) -> np.ndarray:
        """Per-event expected regret (n,) of the uniform random policy: max_a p_a - mean_a p_a."""
        return self.probs.max(axis=1) - self.probs.mean(axis=1)


class LinearBernoulliWorld:
    """Contexts x = [1, z] with z uniform on the unit sphere of R^(d-1); action a pays 1 with probability
    p_a(x) = 0.5 + 0.45 u_a . z, where the hidden u_a (K, d-1) have norm <= 1, so p is in [0.05, 0.95] and linear in
    x (a linear model can represent it exactly).

    Args:
        n_actions: K >= 2.
        dim: d >= 2 (context length including the bias).
        seed: seeds the hidden model.
    """

    def __init__(self, n_actions: int = 5, dim: int = 6, seed: int = 0) -> None:
        if n_actions < 2 or dim < 2:
            raise ValueError(f"need n_actions >= 2 and dim >= 2, got {n_actions}, {dim}")
        self.n_actions = n_actions
        self.dim = dim
        rng = np.random.default_rng([seed, 1])
        u = rng.standard_normal((n_actions, dim - 1))
        self.u = u / np.linalg.norm(u, axis=1, keepdims=True) * rng.uniform(0.6, 1.0, (n_actions, 1))
        #: the exact linear parameters: p_a(x) = theta_star[a] . x
        self.theta_star = np.concatenate([np.full((n_actions, 1), 0.5), 0.45 * self.u], axis=1)

    def events(self, n: int, delay: DelayModel, seed: int = 0) -> EventStream:
        """Draw n events (fixed ``seed``: the same stream for every policy and architecture)."""
        rng = np.random.default_rng([seed, 2])
        z = rng.standard_normal((n, self.dim - 1))
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        contexts = np.concatenate([np.ones((n, 1)), z], axis=1)
        probs = contexts @ self.theta_star.T
        rewards = (rng.random((n, 1)) < probs).astype(np.float64)
        return EventStream(contexts, probs, rewards, delay.sample(rng, n))


@dataclass
class RunLog:
    """What the world recorded, per event (arrays filled as decisions come back)."""

    actions: list[int] = field(default_factory=list)
    propensities: list[float] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)  #: policy version that served each decision
    regret: list[float] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    serve_latency_s: list[float] = field(default_factory=list)  #: request -> decision round trip, s
    rewards_sent: int = 0
    rewards_lost: int = 0  #: never sent (the delay model's loss)
    wall_s: float = 0.0


class WorldRunner:
    """Plays an :class:`EventStream` through a hub (see the module docstring).

    Args:
        client: the world's client (connected or not).
        stream: the events.
        speed: simulated seconds per real second (delays are divided by it).
        rate: events per simulated second (paced open loop; if the policy is slower, the world waits for it).
        label: the policy's name in the KPI series (``regret: <label>``).
        kpi_every: send ``LOG/KPI`` to ``metrics_room`` every this many events (0: never).
        contexts_room, decisions_room, rewards_room: where contexts go, decisions come back, rewards go.
        metrics_room, reward_rate_room: where the cumulative regrets and the reward rate go (``LOG/KPI``).
        timeout: seconds to wait for each decision.

    Raises:
        ValueError: ``speed`` or ``rate`` is not positive; :meth:`run` raises it for an action outside [0, K).
        TimeoutError: (from :meth:`run`) no decision within ``timeout``.
    """

    def __init__(
        self,
        client: Client,
        stream: EventStream,
        *,
        speed: float = 100.0,
        rate: float = 5.0,
        label: str = "policy",
        kpi_every: int = 50,
        contexts_room: str = "contexts",
        decisions_room: str = "decisions",
        rewards_room: str = "rewards",
        metrics_room: str = "regret",
        reward_rate_room: str = "reward_rate",
        timeout: float = 30.0,
    ) -> None:
        if not (speed > 0 and rate > 0):
            raise ValueError(f"speed and rate must be positive, got {speed}, {rate}")
        self.client = client
        self.stream = stream
        self.speed = float(speed)
        self.rate = float(rate)
        self.label = label
        self.kpi_every = kpi_every
        self.rooms = (contexts_room, decisions_room, rewards_room, metrics_room)
        self.reward_rate_room = reward_rate_room
        self.timeout = timeout
        self.log = RunLog()
        self._sending: set[asyncio.Task] = set()
        #: Called as ``listener(event_index, log)`` after each decision.
        self.listeners: list[Callable[[int, RunLog], Any]] = []

    async def run(self, n: int | None = None, *, progress: bool | Any = False) -> RunLog:
        """Play the next ``n`` events (all remaining by default); returns the run log (also :attr:`log`).

        Rewards still in flight keep going after it returns; :meth:`drain` waits for them.
        """
        start_index = len(self.log.actions)
        stop = len(self.stream) if n is None else min(len(self.stream), start_index + n)
        bar = progress
        if progress is True:
            from tqdm.auto import tqdm

            bar = tqdm(total=stop - start_index, desc=f"bandit: {self.label}")
        contexts_room, decisions_room, rewards_room, metrics_room = self.rooms
        loop = asyncio.get_running_loop()
        begin = time.perf_counter()
        interval = 1.0 / (self.rate * self.speed)
        try:
            for i in range(start_index, stop):
                ahead = begin + (i - start_index) * interval - time.perf_counter()
                if ahead > 0:
                    await asyncio.sleep(ahead)
                eid = new_id()
                sent = time.perf_counter()
                reply = await self.client.request(
                    {
                        "TYPE": "DATA/FORWARD",
                        "TO_ROOM": contexts_room,
                        "ID": eid,
                        "ROOT_ID": eid,
                        "EVENT_ID": eid,
                        "DATA": self.stream.contexts[i],
                    },
                    reply_room=decisions_room,
                    reply_type="DATA/FORWARD",
                    timeout=self.timeout,
                )
                self.log.serve_latency_s.append(time.perf_counter() - sent)
                action = int(reply["ACTION"])
                if not 0 <= action < self.stream.probs.shape[1]:
                    raise ValueError(f"the policy chose action {action}, outside [0, {self.stream.probs.shape[1]})")
                reward = float(self.stream.rewards[i, action])
                self.log.actions.append(action)
                self.log.propensities.append(float(reply.get("PROPENSITY", float("nan"))))
                self.log.versions.append(int(reply.get("VERSION", -1)))
                self.log.regret.append(float(self.stream.probs[i].max() - self.stream.probs[i, action]))
                self.log.rewards.append(reward)
                delay = float(self.stream.delays[i])
                if np.isfinite(delay):
                    loop.call_later(delay / self.speed, self._emit, eid, reward, rewards_room)
                else:
                    self.log.rewards_lost += 1
                if self.kpi_every and (i + 1) % self.kpi_every == 0:
                    await self._send_kpis(i + 1, metrics_room)
                for listener in self.listeners:
                    listener(i, self.log)
                if bar:
                    bar.update(1)
        finally:
            self.log.wall_s += time.perf_counter() - begin
            if progress is True:
                bar.close()
        return self.log

    def _emit(self, eid: str, reward: float, room: str) -> None:
        msg = {
            "TYPE": "DATA/REWARD",
            "TO_ROOM": room,
            "ROOT_ID": eid,
            "EVENT_ID": eid,
            "REWARD": reward,
            "EMITTED_AT": time.time(),
        }
        task = asyncio.ensure_future(self.client.send(msg))
        self._sending.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is None:
            self.log.rewards_sent += 1

    async def drain(self, timeout: float = 10.0, *, progress: bool | Any = False) -> None:
        """Wait until every scheduled reward with a delay under ``timeout`` (real) seconds has been sent.

        Args:
            timeout: the longest wait, in seconds (rewards delayed longer are not waited for).
            progress: True shows a tqdm bar of the late rewards sent (of all the rewards the run will send), so the
                wait does not look like a stuck decision bar; or pass a bar (anything with ``n``, ``total`` and
                ``refresh()``); False: none. The bar ends at the rewards sent, saying how many were not waited for.
        """
        delays = self.stream.delays[: len(self.log.actions)]
        finite = delays[np.isfinite(delays)]
        longest = float(finite.max()) if finite.size else 0.0
        bar = progress
        if progress is True:
            from tqdm.auto import tqdm

            bar = tqdm(total=int(finite.size), desc=f"bandit: {self.label}: late rewards sent")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(longest / self.speed, timeout) + 0.01
        try:
            while loop.time() < deadline and self.log.rewards_sent < finite.size:
                await asyncio.sleep(min(0.1, max(0.0, deadline - loop.time())))
                if bar:
                    bar.n = self.log.rewards_sent
                    bar.refresh()
            if self._sending:
                await asyncio.wait(list(self._sending), timeout=timeout)
        finally:
            if bar:
                bar.n = self.log.rewards_sent
                if bar.n < bar.total:
                    bar.set_postfix_str(f"{bar.total - bar.n} not sent within {timeout:g} s")
                    bar.total = bar.n
                bar.refresh()
                if progress is True:
                    bar.close()

    async def _send_kpis(self, n: int, room: str) -> None:
        uniform = float(self.stream.uniform_regret()[:n].sum())
        for target, kpi, value in (
            (room, f"regret: {self.label}", float(np.sum(self.log.regret))),
            (room, "regret: uniform random (expected)", uniform),
            (self.reward_rate_room, f"reward rate: {self.label}", float(np.mean(self.log.rewards[-self.kpi_every :]))),
        ):
            await self.client.send({"TYPE": "LOG/KPI", "TO_ROOM": target, "KPI": kpi, "VALUE": value, "STEP": n})
