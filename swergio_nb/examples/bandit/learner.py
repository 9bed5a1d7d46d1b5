"""The learning side shared by both architectures: joiner + durable log + batch training of a policy.

:class:`Learner` is sans-I/O like the joiner (every call takes ``now``); the trainer component (baseline
architecture) and the agent component (in-process architecture) only feed it messages and a clock.

Durability (group commit): inputs are buffered and written to the :class:`~.joiner.JoinLog` (one write, flush,
fsync) by :meth:`Learner.commit`, which the components call on every tick, and always before a batch is trained;
trained events are logged as ``joined`` records. So everything a policy has learned from is on disk, and a restarted
trainer (:meth:`Learner.resume`) rebuilds both its model and its joiner's pending decisions from the log. What
arrived in the last tick before a hard kill (SIGKILL, power loss) and was not yet committed is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ...transport.client import Client
from .joiner import Decision, JoinedEvent, JoinLog, RewardJoiner, replay
from .policy import RidgeArms

__all__ = ["Learner", "SimClock", "TickingClient"]

logger = logging.getLogger("swergio_nb.examples.bandit")


class SimClock:
    """Simulated seconds: wall-clock time (``time.time()``, shared by the processes of one machine) times ``speed``.

    Never goes backwards (a wall-clock step back is held at the last value).
    """

    def __init__(self, speed: float = 100.0) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = float(speed)
        self._last = -float("inf")

    def __call__(self) -> float:
        self._last = max(self._last, time.time() * self.speed)
        return self._last


class Learner:
    """Joins decisions with rewards, logs them durably, trains a policy in batches.

    Args:
        policy: the model trained (its :meth:`~.policy.RidgeArms.update`).
        joiner: the reward joiner.
        log: the durable log, or None (nothing survives a restart).
        batch_size: train once this many joined events are ready.
        max_batch_age: or once the oldest ready event has waited this long (simulated seconds).
    """

    def __init__(
        self,
        policy: RidgeArms,
        joiner: RewardJoiner,
        log: JoinLog | None = None,
        *,
        batch_size: int = 32,
        max_batch_age: float = 5.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.policy = policy
        self.joiner = joiner
        self.log = log
        self.batch_size = batch_size
        self.max_batch_age = float(max_batch_age)
        self.ready: list[JoinedEvent] = []
        self._uncommitted: list[dict[str, Any]] = []
        self.batches = 0  #: batches trained
        self.resumed_events = 0  #: events the model learned from the log at :meth:`resume`
        #: Called as ``listener(batch)`` after each batch is trained.
        self.batch_listeners: list[Callable[[list[JoinedEvent]], Any]] = []

    @classmethod
    def resume(cls, policy: RidgeArms, joiner: RewardJoiner, path: str | Path, **kwargs: Any) -> Learner:
        """A learner that continues from the log at ``path`` (or starts it if missing).

        The log's inputs are replayed through ``joiner`` (a fresh one) at their logged times; the model is
        trained on the logged ``joined`` events; settled events that were never trained become ready.
        """
        replayed = replay(path, joiner)
        learner = cls(policy, joiner, JoinLog(path), **kwargs)
        trained = {e.decision.event_id for e in replayed.joined}
        if replayed.joined:
            learner._train_model(replayed.joined)
            learner.resumed_events = len(replayed.joined)
        learner.ready = [e for e in replayed.rebuilt if e.decision.event_id not in trained]
        return learner

    # -- input -------------------------------------------------------------------------------------------------

    def decision(self, decision: Decision, now: float) -> None:
        """A served decision was logged (arrived at the learner at ``now``)."""
        self._uncommitted.append({"kind": "decision", "now": now, "decision": asdict(decision)})
        self.ready += self.joiner.add_decision(decision, now)

    def reward(self, event_id: str, reward: float, now: float, *, emitted_at: float | None = None) -> None:
        """A reward arrived at ``now``.

        Raises:
            ValueError: the reward is not a finite number (nothing is logged).
        """
        settled = self.joiner.add_reward(event_id, reward, now, emitted_at=emitted_at)
        self._uncommitted.append(
            {"kind": "reward", "now": now, "event_id": event_id, "reward": float(reward), "emitted_at": emitted_at}
        )
        self.ready += settled

    def tick(self, now: float) -> list[JoinedEvent] | None:
        """Advance the joiner; returns the batch to train if one is due (already committed), else None."""
        settled = self.joiner.advance(now)
        if settled:
            self._uncommitted.append({"kind": "tick", "now": now})
            self.ready += settled
        due = len(self.ready) >= self.batch_size or (self.ready and now - self.ready[0].joined_at >= self.max_batch_age)
        if not due:
            return None
        batch, self.ready = self.ready, []
        self.commit()
        return batch

    def commit(self) -> int:
        """Write the buffered records to the log (flush + fsync); returns how many."""
        records, self._uncommitted = self._uncommitted, []
        return self.log.append(records) if self.log is not None and records else 0

    def train(self, batch: list[JoinedEvent]) -> None:
        """Update the policy on ``batch`` and log it as trained (``joined`` records)."""
        self._train_model(batch)
        self.batches += 1
        if self.log is not None:
            self.log.append(e.to_record() for e in batch)
        for listener in self.batch_listeners:
            listener(batch)

    def _train_model(self, batch: list[JoinedEvent]) -> None:
        contexts = np.array([e.decision.context for e in batch], dtype=np.float64)
        actions = np.array([e.decision.action for e in batch], dtype=np.int64)
        rewards = np.array([e.reward for e in batch], dtype=np.float64)
        self.policy.update(contexts, actions, rewards)

    def stats(self) -> dict[str, Any]:
        """Counters: the joiner's, plus batches, trained events, memory held, log records."""
        return {
            **self.joiner.stats.as_dict(),
            "pending": self.joiner.pending,
            "held": self.joiner.held,
            "batches": self.batches,
            "trained_events": self.policy.trained_events,
            "resumed_events": self.resumed_events,
            "log_records": None if self.log is None else self.log.appended,
        }

    def close(self) -> None:
        """Commit what is buffered and close the log."""
        self.commit()
        if self.log is not None:
            self.log.close()


class TickingClient(Client):
    """A client that calls ``on_tick()`` (plain or async) every ``tick`` real seconds from :meth:`connect` until
    :meth:`close`; a tick that raises is logged and the next one runs. ``on_close()`` (if given) runs once the
    connection is closed, e.g. to close a learner's log."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        tick: float,
        on_tick: Callable[[], Any],
        on_close: Callable[[], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, url, **kwargs)
        self.tick = float(tick)
        self.on_tick = on_tick
        self.on_close = on_close
        self._ticker: asyncio.Task | None = None

    async def connect(self) -> TickingClient:
        await super().connect()
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick_loop(), name=f"swergio-tick-{self.name}")
        return self

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            try:
                result = self.on_tick()
                if asyncio.iscoroutine(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s: tick failed", self.name)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        await super().close()
        if self.on_close is not None:
            self.on_close()
