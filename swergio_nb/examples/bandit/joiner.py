"""The reward joiner (sans-I/O) and its durable append-only log.

Decisions (``<context, action, propensity>`` with an event id) and rewards (event id, value) arrive separately and in
any order. :class:`RewardJoiner` left-outer-joins them by event id within a reward wait time, driven only by the
timestamps it is given (no clock, no sockets), as Azure Personalizer's and Microsoft's Decision Service learning
loop do: every decision waits ``wait`` seconds from its decision time for its reward; the first reward that arrives
in the window is joined (Personalizer's "earliest" reward aggregation); when the window closes without one, the
``default_reward`` applies. Every outcome is counted in :class:`JoinStats`.

Memory stays bounded however many rewards never come: a decision is held until its deadline at most, at most
``max_pending`` decisions (and at most ``max_orphans`` rewards that arrived before their decision) are held, and
beyond that the oldest is settled early with the default reward (``evicted``) or dropped (``orphans_dropped``).

:class:`JoinLog` is an append-only JSON-lines file, flushed and ``fsync``-ed after each append, that records every
decision and reward the joiner was given (with the timestamp it was given at) and every joined event. Because the
joiner is a pure function of that input sequence, replaying the log (:func:`replay`) rebuilds its pending state and
its joined events exactly, so a restarted trainer loses nothing that was logged.
"""

from __future__ import annotations

import collections
import heapq
import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Decision", "JoinedEvent", "JoinStats", "RewardJoiner", "JoinLog", "Replayed", "replay"]


@dataclass(frozen=True, slots=True)
class Decision:
    """One served decision, as the serving side logs it.

    Attributes:
        event_id: unique id of the event (the request's ``ROOT_ID``).
        context: the context features, a list of d floats.
        action: index of the chosen action in [0, K).
        propensity: probability with which the policy chose ``action`` in (0, 1].
        decided_at: decision time, seconds (the joiner's clock).
        version: version of the policy weights that made the decision.
    """

    event_id: str
    context: list[float]
    action: int
    propensity: float
    decided_at: float
    version: int = 0


@dataclass(frozen=True, slots=True)
class JoinedEvent:
    """A decision joined with its reward (or with the default reward).

    Attributes:
        decision: the decision.
        reward: the observed reward, or the default reward if none arrived within the wait time.
        observed: True if ``reward`` was observed, False if it is the default.
        reward_at: when the reward arrived (joiner clock, s); None for a default reward.
        joined_at: when the event was settled (joiner clock, s); for a default reward, when its window closed
            (or the time of an early settlement: eviction, :meth:`RewardJoiner.flush`).
        emitted_at: when the world emitted the reward (wall clock, s, as carried by the reward); None if unknown.
    """

    decision: Decision
    reward: float
    observed: bool
    reward_at: float | None
    joined_at: float
    emitted_at: float | None = None

    def to_record(self) -> dict[str, Any]:
        """A JSON-able dict (the log's ``joined`` record)."""
        record = asdict(self)
        record["kind"] = "joined"
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> JoinedEvent:
        """Inverse of :meth:`to_record`."""
        fields = {k: v for k, v in record.items() if k != "kind"}
        return cls(decision=Decision(**fields.pop("decision")), **fields)


@dataclass(slots=True)
class JoinStats:
    """Counters of a :class:`RewardJoiner` (every decision ends in exactly one of joined/defaulted/evicted)."""

    decisions: int = 0  #: decisions accepted
    rewards: int = 0  #: rewards received (all of them, including the ones counted below)
    joined: int = 0  #: decisions joined with an observed reward
    defaulted: int = 0  #: decisions whose wait ran out: the default reward applied
    evicted: int = 0  #: decisions settled early with the default reward because ``max_pending`` was reached
    duplicate_decisions: int = 0  #: a decision whose id was already held (ignored)
    duplicate_rewards: int = 0  #: a second reward for an event already joined within its window (ignored)
    late_rewards: int = 0  #: a reward for an event whose window had closed (ignored: the default already applied)
    out_of_order: int = 0  #: rewards that arrived before their decision and were joined when it came
    orphans_dropped: int = 0  #: rewards whose decision never came within ``wait`` (or dropped over ``max_orphans``)

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


@dataclass(slots=True)
class _Pending:
    decision: Decision
    deadline: float
    settled: bool = False  # joined; kept until the deadline to recognise duplicates


@dataclass(slots=True)
class _Orphan:
    reward: float
    reward_at: float
    emitted_at: float | None
    deadline: float


class RewardJoiner:
    """Left outer join of decisions with rewards by event id, within a reward wait time (sans-I/O).

    Every method takes the current time ``now`` (seconds, any origin, non-decreasing across calls) and returns the
    events it settled; nothing happens between calls. A decision's window is [decided_at, decided_at + wait].

    Args:
        wait: reward wait time in seconds (> 0).
        default_reward: reward applied when none arrives within the wait (Personalizer's default is 0).
        max_pending: most decisions held at once (joined ones are held until their deadline too, to recognise
            duplicates); one more settles the one with the earliest deadline with the default reward (``evicted``).
        max_orphans: most rewards held while waiting for their decision; one more drops the oldest.
        max_closed: how many settled event ids are remembered after their deadline, to tell a late reward
            (``late_rewards``) from an orphan; the oldest are forgotten first.

    Raises:
        ValueError: a bound is not positive.
    """

    def __init__(
        self,
        wait: float,
        *,
        default_reward: float = 0.0,
        max_pending: int = 100_000,
        max_orphans: int = 10_000,
        max_closed: int = 100_000,
    ) -> None:
        if not (wait > 0 and math.isfinite(wait)):
            raise ValueError(f"wait must be a positive number of seconds, got {wait!r}")
        for name, value in (("max_pending", max_pending), ("max_orphans", max_orphans), ("max_closed", max_closed)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.wait = float(wait)
        self.default_reward = float(default_reward)
        self.max_pending = max_pending
        self.max_orphans = max_orphans
        self.max_closed = max_closed
        self.stats = JoinStats()
        self.now = -math.inf
        self._pending: dict[str, _Pending] = {}
        self._deadlines: list[tuple[float, int, str]] = []  # heap over _pending (lazy: stale entries skipped)
        self._seq = 0
        self._orphans: collections.OrderedDict[str, _Orphan] = collections.OrderedDict()
        self._closed: collections.OrderedDict[str, None] = collections.OrderedDict()

    # -- state -------------------------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Decisions still waiting for a reward."""
        return sum(1 for p in self._pending.values() if not p.settled)

    @property
    def held(self) -> int:
        """Entries in memory (pending and recently joined decisions, orphan rewards, remembered closed ids)."""
        return len(self._pending) + len(self._orphans) + len(self._closed)

    # -- input -------------------------------------------------------------------------------------------------

    def add_decision(self, decision: Decision, now: float) -> list[JoinedEvent]:
        """Hold ``decision`` until its reward or its deadline; returns the events settled by this call.

        If its reward came first (an orphan), the two are joined at once.

        Raises:
            ValueError: ``now`` is earlier than a previous call's.
        """
        settled = self.advance(now)
        eid = decision.event_id
        if eid in self._pending or eid in self._closed:
            self.stats.duplicate_decisions += 1
            return settled
        self.stats.decisions += 1
        deadline = decision.decided_at + self.wait
        orphan = self._orphans.pop(eid, None)
        entry = _Pending(decision, deadline)
        if orphan is not None and orphan.reward_at <= deadline:
            self.stats.out_of_order += 1
            settled.append(self._join(entry, orphan.reward, orphan.reward_at, orphan.emitted_at))
            entry.settled = True
            self._hold(entry, settled)
            return settled
        if orphan is not None:  # came before the decision but after its window: too late to count
            self.stats.late_rewards += 1
        if deadline < self.now:  # logged after its own window closed: settle with the default now
            settled.append(self._default(entry))
            self._remember_closed(eid)
            return settled
        self._hold(entry, settled)
        return settled

    def add_reward(
        self, event_id: str, reward: float, now: float, *, emitted_at: float | None = None
    ) -> list[JoinedEvent]:
        """A reward for ``event_id`` arrived at ``now``; returns the events settled by this call.

        Args:
            event_id: the decision's event id.
            reward: the reward value (a finite float).
            now: arrival time, seconds.
            emitted_at: when the world sent it (wall clock, s), kept on the joined event for latency figures.

        Raises:
            ValueError: ``reward`` is not a finite number, or ``now`` is earlier than a previous call's.
        """
        reward = float(reward)
        if not math.isfinite(reward):
            raise ValueError(f"reward must be finite, got {reward!r}")
        settled = self.advance(now)
        self.stats.rewards += 1
        entry = self._pending.get(event_id)
        if entry is not None and entry.settled:
            self.stats.duplicate_rewards += 1
        elif entry is not None:
            settled.append(self._join(entry, reward, now, emitted_at))
            entry.settled = True
        elif event_id in self._closed:
            self.stats.late_rewards += 1
        elif event_id in self._orphans:
            self.stats.duplicate_rewards += 1
        else:
            self._orphans[event_id] = _Orphan(reward, now, emitted_at, now + self.wait)
            if len(self._orphans) > self.max_orphans:
                self._orphans.popitem(last=False)
                self.stats.orphans_dropped += 1
        return settled

    def advance(self, now: float) -> list[JoinedEvent]:
        """Move the clock to ``now``: every decision whose deadline passed without a reward gets the default.

        Returns:
            The defaulted events, in deadline order.

        Raises:
            ValueError: ``now`` is earlier than a previous call's (or not a number).
        """
        now = float(now)
        if math.isnan(now) or now < self.now:
            raise ValueError(f"time went backwards: {now!r} < {self.now!r}")
        self.now = now
        settled: list[JoinedEvent] = []
        while self._deadlines and self._deadlines[0][0] < now:
            _, _, eid = heapq.heappop(self._deadlines)
            entry = self._pending.pop(eid, None)
            if entry is None:
                continue
            if not entry.settled:
                settled.append(self._default(entry))
            self._remember_closed(eid)
        while self._orphans:
            eid, orphan = next(iter(self._orphans.items()))
            if orphan.deadline >= now:
                break
            self._orphans.popitem(last=False)
            self.stats.orphans_dropped += 1
        return settled

    def flush(self) -> list[JoinedEvent]:
        """Settle every pending decision now with the default reward (e.g. at the end of a run)."""
        settled = []
        for eid, entry in list(self._pending.items()):
            if not entry.settled:
                settled.append(self._default(entry))
            self._remember_closed(eid)
        self._pending.clear()
        self._deadlines.clear()
        return settled

    # -- internals ---------------------------------------------------------------------------------------------

    def _hold(self, entry: _Pending, settled: list[JoinedEvent]) -> None:
        eid = entry.decision.event_id
        self._pending[eid] = entry
        self._seq += 1
        heapq.heappush(self._deadlines, (entry.deadline, self._seq, eid))
        while len(self._pending) > self.max_pending:
            _, _, old = heapq.heappop(self._deadlines)
            victim = self._pending.pop(old, None)
            if victim is None:
                continue
            if not victim.settled:
                settled.append(self._default(victim, evicted=True))
            self._remember_closed(old)

    def _join(self, entry: _Pending, reward: float, at: float, emitted_at: float | None) -> JoinedEvent:
        self.stats.joined += 1
        return JoinedEvent(entry.decision, reward, True, at, self.now, emitted_at)

    def _default(self, entry: _Pending, *, evicted: bool = False) -> JoinedEvent:
        if evicted:
            self.stats.evicted += 1
        else:
            self.stats.defaulted += 1
        return JoinedEvent(entry.decision, self.default_reward, False, None, min(self.now, entry.deadline))

    def _remember_closed(self, eid: str) -> None:
        self._closed[eid] = None
        self._closed.move_to_end(eid)
        while len(self._closed) > self.max_closed:
            self._closed.popitem(last=False)


class JoinLog:
    """Append-only JSON-lines log of a joiner's input and output, flushed and fsync-ed on every append.

    Records: ``{"kind": "decision", "now": t, "decision": {...}}``, ``{"kind": "reward", "now": t, "event_id":
    ..., "reward": r, "emitted_at": e}``, ``{"kind": "tick", "now": t}`` and joined events
    (:meth:`JoinedEvent.to_record`). A torn last line (the process died mid-write) is ignored on reading and cut
    off before the next append.

    Args:
        path: the log file (created with its directory if missing).
        fsync: call ``os.fsync`` after each append (durable across an OS crash, not only a process crash).
    """

    def __init__(self, path: str | Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cut_torn_tail()
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open for appends
        self.appended = 0  #: records appended by this instance

    def _cut_torn_tail(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            with open(self.path, "r+b") as f:
                f.truncate(end)

    def append(self, records: Iterable[dict[str, Any]]) -> int:
        """Append records (one line each) in one write, then flush and fsync; returns how many.

        Raises:
            TypeError, ValueError: a record is not JSON-serialisable (nothing of this call is written).
        """
        lines = "".join(json.dumps(r, separators=(",", ":"), allow_nan=False) + "\n" for r in records)
        if not lines:
            return 0
        self._file.write(lines)
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        n = lines.count("\n")
        self.appended += n
        return n

    def close(self) -> None:
        """Close the file (safe to call twice)."""
        self._file.close()

    def __enter__(self) -> JoinLog:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @staticmethod
    def read(path: str | Path) -> Iterator[dict[str, Any]]:
        """The complete records of the log at ``path``, in order (a torn last line is skipped); none if missing."""
        path = Path(path)
        if not path.exists():
            return
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    yield json.loads(line)


@dataclass
class Replayed:
    """What :func:`replay` rebuilt."""

    joiner: RewardJoiner
    joined: list[JoinedEvent] = field(default_factory=list)  #: joined events logged as such
    rebuilt: list[JoinedEvent] = field(default_factory=list)  #: joined events the replayed input produced
    records: int = 0


def replay(path: str | Path, joiner: RewardJoiner) -> Replayed:
    """Feed a :class:`JoinLog`'s decisions, rewards and ticks to a fresh ``joiner``, in order and at their logged
    times; returns it with the joined events read from the log and the ones the replay produced (equal unless the
    process died between logging an input and logging what it settled)."""
    out = Replayed(joiner)
    for record in JoinLog.read(path):
        out.records += 1
        kind = record["kind"]
        if kind == "decision":
            out.rebuilt += joiner.add_decision(Decision(**record["decision"]), record["now"])
        elif kind == "reward":
            out.rebuilt += joiner.add_reward(
                record["event_id"], record["reward"], record["now"], emitted_at=record.get("emitted_at")
            )
        elif kind == "tick":
            out.rebuilt += joiner.advance(record["now"])
        elif kind == "joined":
            out.joined.append(JoinedEvent.from_record(record))
        else:
            raise ValueError(f"{path}: unknown record kind {kind!r}")
    return out
