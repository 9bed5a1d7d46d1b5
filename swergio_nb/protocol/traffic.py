"""Traffic statistics of a hub, as seen from its logging room (sans-I/O: no asyncio, no widgets).

The hub copies every ``DATA/*`` message to the ``_logging`` room as a ``LOG/MESSAGES`` envelope (fields ``MESSAGE``,
``SENDER``, ``ROOM``), and sends the ``_traffic`` room a ``LOG/TRAFFIC`` summary of the same traffic every tenth of
a second (counts per room, sender and type, and the latest messages). :class:`TrafficStats` aggregates either feed
(:meth:`~TrafficStats.observe` and :meth:`~TrafficStats.observe_summary`): counts per room and per
type, per-type rates over a sliding window, and a bounded tail of the latest messages. The caller feeds it and says
what time it is, so it is testable with a fake clock::

    stats = TrafficStats(window=5.0, tail=50)
    stats.observe(log_message, now=time.time())
    stats.set_members(await client.room_table())
    json.dumps(stats.snapshot(now=time.time()))

Memory is bounded whatever arrives: at most ``max_rooms`` rooms and ``max_types`` types are counted separately (the
rest are counted under :data:`OTHER`), the rate buckets cover one window, and the tail keeps ``tail`` entries whose
previews are computed lazily, only when a snapshot shows them.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .messages import ENVELOPE_FIELDS, MessageType

__all__ = ["TrafficStats", "preview", "OTHER", "DIRECT"]

#: Room/type key that collects everything beyond ``max_rooms`` / ``max_types``.
OTHER = "(other)"
#: Room key of messages addressed to a component by name (``TO``) without a room.
DIRECT = "(direct)"

# Envelope fields that are not payload (left out of the preview of a message without DATA).
_HEADER = frozenset(ENVELOPE_FIELDS)
_BUCKETS_PER_WINDOW = 20


def _shape_dtype(value: Any) -> str | None:
    """``float32[100, 3]`` for numpy arrays and torch tensors (torch is never imported), else None."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is None or dtype is None or not hasattr(value, "ndim"):
        return None
    name = str(dtype)
    if name.startswith("torch."):
        name = name[6:]
    try:
        dims = ", ".join(str(int(d)) for d in shape)
    except (TypeError, ValueError):
        return None
    return f"{name}[{dims}]"


def _number(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return f"{value:.1f}"
    return f"{value:.4g}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _render_items(items: Iterable[Any], count: int, budget: int, render: Callable[[Any, int], str]) -> list[str]:
    """Render at most 16 of ``count`` items within ``budget`` characters; ``…+n`` stands for the rest."""
    parts: list[str] = []
    used = 2
    for item in itertools.islice(items, 16):
        text = render(item, max(budget - used, 8))
        parts.append(text)
        used += len(text) + 2
        if used >= budget:
            break
    if count > len(parts):
        parts.append(f"…+{count - len(parts)}")
    return parts


def _render(value: Any, budget: int, depth: int) -> str:
    """Short text for ``value``; stops iterating containers once ``budget`` characters are used."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return repr(value if len(value) <= budget else value[: max(budget, 1)] + "…")
    if isinstance(value, np.generic):
        if isinstance(value, np.bool_):
            return repr(bool(value))
        if isinstance(value, np.integer):
            return str(int(value))
        if isinstance(value, np.floating):
            return _number(float(value))
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"bytes[{len(value)}]"
    described = _shape_dtype(value)
    if described is not None:
        if getattr(value, "ndim", 1) == 0:
            try:
                return f"{described}={_number(float(value))}"
            except (TypeError, ValueError):
                return described
        return described
    if isinstance(value, dict):
        if depth <= 0:
            return f"{{{_plural(len(value), 'key')}}}" if value else "{}"
        parts = _render_items(
            value.items(), len(value), budget, lambda kv, b: f"{kv[0]}: {_render(kv[1], b, depth - 1)}"
        )
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, (list, tuple)):
        open_, close = ("[", "]") if isinstance(value, list) else ("(", ")")
        if depth <= 0:
            return f"{open_}{_plural(len(value), 'item')}{close}" if value else open_ + close
        parts = _render_items(value, len(value), budget, lambda item, b: _render(item, b, depth - 1))
        return open_ + ", ".join(parts) + close
    if isinstance(value, (set, frozenset)):
        return f"{type(value).__name__}[{len(value)}]"
    text = repr(value)
    return text if len(text) <= budget else text[: max(budget, 1)]


def preview(value: Any, limit: int = 80) -> str:
    """A readable one-line preview of a payload, at most ``limit`` characters.

    Arrays and tensors show as ``dtype[shape]`` (``float32[100, 3]``; a 0-d array also shows its value), bytes as
    ``bytes[n]``, dicts and lists to two levels with ``…+n`` for what was left out, deeper containers as
    ``{n keys}`` / ``[n items]``. Anything longer than ``limit`` is cut and ends with ``…``. The cost is bounded:
    at most 16 items of a container are looked at.

    Args:
        value: any payload (``DATA`` of a message, or a whole message).
        limit: maximum length of the result, in characters (at least 1).

    Returns:
        The preview text.
    """
    limit = max(int(limit), 1)
    text = _render(value, limit, 2)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _payload(msg: dict[str, Any]) -> Any:
    if "DATA" in msg:
        return msg["DATA"]
    return {k: v for k, v in msg.items() if k not in _HEADER}


def _needles(text: str) -> tuple[str, ...]:
    return tuple(part for part in (p.strip().lower() for p in text.split(",")) if part)


def _matches(needles: tuple[str, ...], text: str) -> bool:
    """True if there are no needles or one of them is a substring of ``text`` (lower-cased)."""
    if not needles:
        return True
    text = text.lower()
    return any(n in text for n in needles)


class TrafficStats:
    """Counts, rates and a tail of the messages seen in the logging room.

    Args:
        window: length of the sliding window for rates, in seconds (> 0). Rates are kept in buckets of
            ``window / 20`` seconds, so the window slides with that resolution.
        tail: number of latest messages kept for the tail (>= 0).
        preview_limit: maximum length of a tail entry's preview, in characters.
        max_rooms: rooms counted separately; traffic in further rooms is counted under :data:`OTHER`.
        max_types: types counted separately; further types are counted under :data:`OTHER`.

    Raises:
        ValueError: ``window`` is not positive, or ``tail``/``max_rooms``/``max_types`` is negative.
    """

    def __init__(
        self,
        *,
        window: float = 5.0,
        tail: int = 50,
        preview_limit: int = 80,
        max_rooms: int = 256,
        max_types: int = 64,
    ) -> None:
        if not window > 0:
            raise ValueError(f"window must be > 0 seconds, got {window!r}")
        if tail < 0 or max_rooms < 0 or max_types < 0:
            raise ValueError("tail, max_rooms and max_types must be >= 0")
        self.window = float(window)
        self.preview_limit = int(preview_limit)
        self.max_rooms = int(max_rooms)
        self.max_types = int(max_types)
        self._resolution = self.window / _BUCKETS_PER_WINDOW
        self.total = 0  #: messages observed
        self._first: float | None = None
        self._room_counts: dict[str, int] = {}
        self._room_types: dict[str, dict[str, int]] = {}
        self._type_counts: dict[str, int] = {}
        self._buckets: dict[str, deque[list[int]]] = {}  # type -> [[bucket index, count], ...] oldest first
        # tail entries: [time, room, sender, type, id, root_id, payload, preview-or-None]
        self._tail: deque[list[Any]] = deque(maxlen=int(tail))
        self._members: dict[str, list[str]] = {}
        self._room_filter: tuple[str, ...] = ()
        self._type_filter: tuple[str, ...] = ()

    # -- feeding -----------------------------------------------------------------------------------------------

    def observe(self, log_message: dict[str, Any], now: float) -> None:
        """Count one message.

        Args:
            log_message: a ``LOG/MESSAGES`` envelope (``MESSAGE``, ``SENDER``, ``ROOM``), or a plain message, which
                is then its own ``MESSAGE`` (room from ``TO_ROOM``, sender from ``SENT_BY``).
            now: the current time, in seconds (any clock, e.g. :func:`time.time`; it must not go backwards by more
                than a window).
        """
        inner = log_message.get("MESSAGE")
        if isinstance(inner, dict) and log_message.get("TYPE") == MessageType.LOG_MESSAGES:
            msg = inner
            room = log_message.get("ROOM") or msg.get("TO_ROOM")
            sender = log_message.get("SENDER") or msg.get("SENT_BY")
        else:
            msg = log_message
            room = msg.get("TO_ROOM")
            sender = msg.get("SENT_BY")
        room = DIRECT if room is None else str(room)
        mtype = str(msg.get("TYPE"))
        self._count(room, mtype, 1, now)
        self._keep(msg, room, sender, mtype, now)

    def observe_summary(self, traffic: dict[str, Any], now: float) -> None:
        """Count one ``LOG/TRAFFIC`` summary: its ``COUNTS`` rows go into the counts and the rate bucket of ``now``
        (rates are exact to one summary interval), its ``TAIL`` messages into the tail.

        Args:
            traffic: a ``LOG/TRAFFIC`` envelope (``COUNTS``: ``[room, sender, type, messages, bytes]`` rows, room
                null for direct messages; ``TAIL``: ``{"SENDER", "ROOM", "TIME", "MESSAGE"}`` entries, oldest
                first; ``TIME``, when the hub routed it, is the entry's time, else ``now``).
            now: the current time, in seconds, on the clock of :meth:`observe`.
        """
        for row in traffic.get("COUNTS") or ():
            if isinstance(row, list) and len(row) >= 4 and type(row[3]) is int and row[3] > 0:
                self._count(DIRECT if row[0] is None else str(row[0]), str(row[2]), row[3], now)
        for entry in traffic.get("TAIL") or ():
            msg = entry.get("MESSAGE") if isinstance(entry, dict) else None
            if isinstance(msg, dict):
                room, when = entry.get("ROOM"), entry.get("TIME")
                when = when if type(when) in (int, float) and math.isfinite(when) else now
                self._keep(msg, DIRECT if room is None else str(room), entry.get("SENDER"), str(msg.get("TYPE")), when)

    def _count(self, room: str, mtype: str, n: int, now: float) -> None:
        self.total += n
        if self._first is None:
            self._first = float(now)

        counts = self._room_counts
        if room not in counts:
            if len(counts) >= self.max_rooms:
                room = OTHER
            counts.setdefault(room, 0)
            self._room_types.setdefault(room, {})
        counts[room] += n
        types = self._type_counts
        if mtype not in types:
            if len(types) >= self.max_types:
                mtype = OTHER
            types.setdefault(mtype, 0)
            self._buckets.setdefault(mtype, deque())
        types[mtype] += n
        per_type = self._room_types[room]
        per_type[mtype] = per_type.get(mtype, 0) + n

        bucket = int(now // self._resolution)
        buckets = self._buckets[mtype]
        if buckets and buckets[-1][0] == bucket:
            buckets[-1][1] += n
        else:
            buckets.append([bucket, n])
            oldest = bucket - _BUCKETS_PER_WINDOW
            while buckets[0][0] <= oldest:
                buckets.popleft()

    def _keep(self, msg: dict[str, Any], room: str, sender: Any, mtype: str, now: float) -> None:
        if self._tail.maxlen and (
            (not self._room_filter or _matches(self._room_filter, room))
            and (not self._type_filter or _matches(self._type_filter, mtype))
        ):
            self._tail.append(
                [now, room, sender, mtype, msg.get("ID"), msg.get("ROOT_ID"), _payload(msg), None],
            )

    def set_members(self, table: dict[str, list[str]]) -> bool:
        """Replace the membership table (as returned by ``await client.room_table()``: room -> member names).

        Returns:
            True if the table differs from the previous one.
        """
        members = {str(room): [str(m) for m in names] for room, names in table.items()}
        changed = members != self._members
        self._members = members
        return changed

    def set_filter(self, room: str = "", type: str = "") -> None:
        """Keep only matching messages in the tail (counts and rates always cover everything).

        Each filter is a comma-separated list of case-insensitive substrings (``"input,output"``); a message matches
        if its room (type) contains any of them; an empty filter matches everything. Entries already in the tail that
        do not match are removed; the tail then fills with matching messages as they arrive.
        """
        self._room_filter = _needles(room)
        self._type_filter = _needles(type)
        if self._room_filter or self._type_filter:
            kept = [e for e in self._tail if _matches(self._room_filter, e[1]) and _matches(self._type_filter, e[3])]
            self._tail.clear()
            self._tail.extend(kept)

    def reset(self) -> None:
        """Forget all counts, rates and the tail (members and filters stay)."""
        self.total = 0
        self._first = None
        for table in (self._room_counts, self._room_types, self._type_counts, self._buckets):
            table.clear()
        self._tail.clear()

    # -- reading -----------------------------------------------------------------------------------------------

    def rate(self, mtype: str, now: float) -> float:
        """Messages of type ``mtype`` per second over the last window (0.0 for an unknown type).

        The count in the window is divided by the window length, or by the time since the first message if that is
        shorter (but at least one bucket, ``window / 20`` s), so the rate is right from the start.
        """
        buckets = self._buckets.get(mtype)
        if not buckets or self._first is None:
            return 0.0
        newest = int(now // self._resolution)
        oldest = newest - _BUCKETS_PER_WINDOW
        count = sum(c for b, c in buckets if oldest < b <= newest)
        span = min(self.window, max(now - self._first, self._resolution))
        return float(count / span)

    def snapshot(self, now: float) -> dict[str, Any]:
        """The current state as plain JSON values (str, int, float, list, dict only).

        Args:
            now: the current time, in seconds, on the clock given to :meth:`observe`.

        Returns:
            ``{"time": now, "window": s, "filter": {"room": "a,b", "type": ""},
            "totals": {"count": n, "rate": messages/s, "rooms": n, "types": n},
            "rooms": {room: {"members": [names], "count": n, "types": {type: n}}},
            "types": {type: {"count": n, "rate": messages/s}},
            "tail": [{"time", "room", "sender", "type", "id", "root_id", "preview"}, ...]}`` with rooms and types
            sorted by name and the tail oldest first (a missing sender/id/root_id is ""). Rooms known only from the
            membership table have count 0.
        """
        rooms: dict[str, Any] = {}
        for room in sorted(set(self._room_counts) | set(self._members)):
            per_type = self._room_types.get(room, {})
            rooms[room] = {
                "members": list(self._members.get(room, [])),
                "count": self._room_counts.get(room, 0),
                "types": {t: per_type[t] for t in sorted(per_type)},
            }
        types = {t: {"count": self._type_counts[t], "rate": self.rate(t, now)} for t in sorted(self._type_counts)}
        tail = []
        for entry in self._tail:
            if entry[7] is None:
                entry[7] = preview(entry[6], self.preview_limit)
                entry[6] = None  # drop the payload reference once previewed
            tail.append(
                {
                    "time": float(entry[0]),
                    "room": entry[1],
                    "sender": "" if entry[2] is None else str(entry[2]),
                    "type": entry[3],
                    "id": "" if entry[4] is None else str(entry[4]),
                    "root_id": "" if entry[5] is None else str(entry[5]),
                    "preview": entry[7],
                }
            )
        return {
            "time": float(now),
            "window": self.window,
            "filter": {"room": ",".join(self._room_filter), "type": ",".join(self._type_filter)},
            "totals": {
                "count": self.total,
                "rate": sum(t["rate"] for t in types.values()),
                "rooms": len(rooms),
                "types": len(types),
            },
            "rooms": rooms,
            "types": types,
            "tail": tail,
        }
