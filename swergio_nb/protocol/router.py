"""The router: every rule of the protocol as a sans-I/O state machine (no sockets, no asyncio).

The caller (the hub, or a test) drives it:

1. :meth:`Router.connect` when a connection opens; it returns the connection id to use from then on.
2. :meth:`Router.receive` with each frame that connection sends (``str`` for a text frame, ``bytes`` for binary).
   It returns the events the caller must carry out, in order: :class:`Send` a frame to a connection, or
   :class:`Close` a connection.
3. :meth:`Router.disconnect` when the connection is gone, whatever the reason.

Rules:

* A connection must send ``COMMAND/REGISTER`` with a unique ``NAME`` before anything else. Names and rooms are
  printable; names starting with ``_`` are the hub's (``_hub``), and rooms starting with ``_`` (``_logging``,
  ``_traffic``) are written only by the hub: a client may join them, never send to them (``reserved-room``).
* Roles: each connection has the :class:`Permissions` of the credential its transport checked (``connect``). Only
  an *observer* may join the hub's rooms (``forbidden-room`` otherwise): with one token for everything (the
  default, :data:`FULL`) every connection is one; a hub with an observer credential of its own gives components
  :data:`COMPONENT`. A name in ``reserved`` is registered only by a credential that lists it (``name-reserved``).
* Hub commands (``REGISTER``, ``JOINROOM``, ``LEAVEROOM``, ``ROOMS``, ``ENABLELOGGING``, ``DISABLELOGGING``) are
  answered to the sender with ``COMMAND/ACK`` (``REPLY_TO`` = the command's id). ``DISCONNECT`` closes the connection.
  Rooms are created on first join and disappear with their last member.
* Any other message is stamped with ``SENT_BY`` = the sender's registered name (overwriting whatever the client
  wrote, so it cannot be forged) and delivered to every member of ``TO_ROOM`` except the sender, plus the component
  named by ``TO``; each recipient gets one copy even if both address it. The sender does not need to be in the room.
* A message nobody receives (empty or unknown room, unknown ``TO``) is dropped and counted in
  :attr:`Router.stats` (``dropped``); nothing else happens.
* Every ``DATA/*`` message (:data:`LOGGED_TYPES`; swergio copied FORWARD and GRADIENT) is copied to every member
  of the logging room (``_logging``) as
  ``LOG/MESSAGES`` with fields ``MESSAGE`` (the stamped message), ``SENDER`` and ``ROOM``. These copies are marked
  ``droppable``: under backpressure a transport may drop them rather than the connection. A binary message nested
  at msgpack's limit (1024 levels) is delivered but has no copies: wrapped, it would be one level too deep.
* Every routed message (``LOG/KPI`` and the rest, not only ``DATA/*``) is counted for the traffic room
  (``_traffic``) while it has members:
  :meth:`Router.flush_traffic`, called by the transport every ``traffic_interval``, turns the counts since the last
  call into one ``LOG/TRAFFIC`` message per member (``COUNTS``: ``[room, sender, type, messages, bytes]`` rows,
  ``room`` null for direct messages; ``TAIL``: the latest :data:`TRAFFIC_TAIL` messages as ``{"SENDER", "ROOM",
  "TIME", "MESSAGE"}``, ``TIME`` when the hub routed it (the router's ``clock``, seconds since the epoch);
  ``INTERVAL``: seconds covered), also ``droppable``. A monitor then costs one message per interval,
  not one per message.
* Bad input (not JSON/msgpack, not an object, missing ID/TYPE, unknown TYPE, addressed to nobody, bad arrays,
  unregistered sender...) is answered to its sender only with ``LOG/ERROR`` (``ERROR`` code, ``DETAIL`` text,
  ``REPLY_TO`` when the bad message had a usable ``ID``). The connection stays open; nobody else sees anything.

The router encodes each delivered message once and hands the same frame object to every recipient. Text frames are
stamped by splicing ``"SENT_BY"`` into the received JSON text (:func:`~swergio_nb.protocol.codec.stamp_text`), binary
frames by appending it to the received msgpack map (:func:`~swergio_nb.protocol.codec.append_to_map`), and logging
copies nest the stamped text as it is (:func:`~swergio_nb.protocol.codec.wrap_text`), so the payload is never
re-encoded. Every byte the router writes comes from :mod:`~swergio_nb.protocol.codec`.

Several hubs (a :class:`Backplane` set as :attr:`Router.backplane`): membership stays on each hub. Every routed
message, stamped, is also handed to the backplane (:meth:`Backplane.publish`), which carries it to the other hubs;
there :meth:`Router.deliver` gives it to their members of ``TO_ROOM``, to ``TO`` if that name is theirs, to their
logging room and to their traffic counts, without stamping it again or handing it on. A name given up
(:meth:`Router.disconnect`) is handed to :meth:`Backplane.release`. The counters then count this hub's recipients:
``dropped`` is a message no connection of this hub received.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..exceptions import InvalidMessage
from .codec import append_to_map, decode, encode_binary, encode_text, stamp_text, text_member, wrap_text
from .limits import DEFAULT_MAX_ROOMS, MAX_DETAIL_LENGTH, MAX_NAME_LENGTH, ROOMS_PAGE
from .messages import (
    ENVELOPE_FIELDS,
    HUB_COMMANDS,
    HUB_NAME,
    LOGGED_TYPES,
    LOGGING_ROOM,
    TRAFFIC_ROOM,
    Envelope,
    MessageType,
    new_id,
    validate,
)
from .rooms import Rooms

__all__ = [
    "Router",
    "RouterStats",
    "Permissions",
    "FULL",
    "COMPONENT",
    "Send",
    "Close",
    "Event",
    "Backplane",
    "LOGGED_TYPES",
    "TRAFFIC_TAIL",
]

#: Latest messages a ``LOG/TRAFFIC`` summary carries.
TRAFFIC_TAIL = 20
#: Largest frame a ``LOG/TRAFFIC`` tail entry carries whole, in bytes (characters for text); a larger one is shown by
#: its envelope fields and its size.
TRAFFIC_TAIL_FRAME = 16 * 1024


@dataclass(slots=True)  # not frozen: one is made per delivery, and a frozen one takes 3x as long (370 vs 125 ns)
class Send:
    """Send ``frame`` to connection ``conn`` (read-only by convention).

    Attributes:
        conn: connection id from :meth:`Router.connect`.
        frame: ``str`` (text frame) or ``bytes`` (binary frame). The same object may go to many connections.
        droppable: True for logging-room copies, which a transport may drop under backpressure.
    """

    conn: int
    frame: str | bytes
    droppable: bool = False


@dataclass(frozen=True, slots=True)
class Close:
    """Close connection ``conn`` with WebSocket close ``code`` and ``reason``."""

    conn: int
    code: int
    reason: str


Event = Send | Close


class Backplane(Protocol):
    """Where a router hands what other hubs must see (the transport's side of several hubs sharing rooms).

    Both methods are called while routing, so they must not block: they queue the work for the transport.
    """

    def publish(self, frame: str | bytes, sender: str, room: str | None, to: str | None, mtype: str) -> None:
        """Carry ``frame`` (stamped with ``SENT_BY`` = ``sender``; addressed to ``room`` and ``to``, of type
        ``mtype``) to the other hubs, whose :meth:`Router.deliver` takes it."""
        ...

    def release(self, name: str) -> None:
        """``name`` is no longer registered on this hub: other hubs may take it."""
        ...


@dataclass(slots=True)
class RouterStats:
    """Counters since the router was created (all plain ints)."""

    received: int = 0  #: frames received
    routed: int = 0  #: messages delivered to at least one recipient
    delivered: int = 0  #: frames handed out to recipients (fan-out counts each copy)
    dropped: int = 0  #: messages nobody received (empty/unknown room, unknown TO)
    logged: int = 0  #: LOG/MESSAGES copies handed out to logging-room members
    relayed: int = 0  #: messages other hubs routed, taken from the backplane (:meth:`Router.deliver`)
    errors: int = 0  #: bad frames answered with LOG/ERROR
    errors_by_code: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Permissions:
    """What one connection may do, as its transport authenticated it (the credential it presented).

    Attributes:
        observer: may join the hub's rooms (``_logging``, ``_traffic``: copies of every message, direct ones too).
        names: the names it may register; None: any name that is not reserved for another credential.
    """

    observer: bool = True
    names: frozenset[str] | None = None


#: One token for everything (the simple default): observer, any name that is not reserved.
FULL = Permissions()
#: A component's credential when the hub has an observer credential of its own: no hub rooms.
COMPONENT = Permissions(observer=False)


class Router:
    """Routes frames between connections by room and by component name.

    Args:
        logging_room: room that receives ``LOG/MESSAGES`` copies.
        logged_types: message types copied to the logging room (default :data:`LOGGED_TYPES`, re-exported here from
            :mod:`~swergio_nb.protocol.messages`).
        max_rooms: rooms one connection may be in at once (the logging room counts); a JOINROOM beyond it is
            answered with ``LOG/ERROR`` ``too-many-rooms``. None: no limit.
        reserved: names only a connection whose :class:`Permissions` list them may register (``name-reserved``).
        clock: the time of a traffic tail entry, in seconds (default :func:`time.time`: monitors show wall-clock time).

    Attributes:
        announce: fields every ``REGISTER`` acknowledgement carries, what the hub tells each client (the hub sets
            ``PING_TIMEOUT``: seconds its clients should wait for its pong, None for never).
        backplane: the :class:`Backplane` to the other hubs sharing these rooms; None (the default): one hub.
    """

    def __init__(
        self,
        *,
        logging_room: str = LOGGING_ROOM,
        logged_types: tuple[str, ...] = LOGGED_TYPES,
        max_rooms: int | None = DEFAULT_MAX_ROOMS,
        reserved: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_rooms = max_rooms
        self.reserved = frozenset(reserved)
        self.clock = clock
        self.announce: dict[str, Any] = {}
        self.backplane: Backplane | None = None
        self.rooms = Rooms()
        self.stats = RouterStats()
        self.logging_room = logging_room
        self.logged_types = frozenset(logged_types)
        self._ids = itertools.count(1)
        self._open: dict[int, Permissions] = {}
        self._name_of: dict[int, str] = {}
        self._sent_by: dict[int, str] = {}  # conn -> its stamp, '"SENT_BY":"name"' (JSON text)
        self._conn_of: dict[str, int] = {}
        self._traffic: dict[tuple[str | None, str, str], list[int]] = {}  # (room, sender, type) -> [count, bytes]
        self._traffic_tail: deque[tuple[str, str | None, str | bytes, dict, float]] = deque(maxlen=TRAFFIC_TAIL)

    # -- connections -------------------------------------------------------------------------------------------

    def connect(self, permissions: Permissions = FULL) -> int:
        """Open a connection with what its credential allows; returns its id (a positive int, never reused)."""
        conn = next(self._ids)
        self._open[conn] = permissions
        return conn

    def disconnect(self, conn: int) -> list[Event]:
        """Forget ``conn``: its name and its room memberships. Safe to call twice. Returns no events today."""
        self._open.pop(conn, None)
        self.rooms.leave_all(conn)
        name = self._name_of.pop(conn, None)
        self._sent_by.pop(conn, None)
        if name is not None and self._conn_of.get(name) == conn:
            del self._conn_of[name]
            if self.backplane is not None:
                self.backplane.release(name)
        return []

    def refuse_name(self, conn: int, reply_to: str | None) -> list[Event]:
        """Undo the registration of ``conn``, whose name another hub holds: it stays open, unregistered, and gets
        the error a local duplicate gets (``name-taken``).

        Args:
            conn: the connection that has just registered.
            reply_to: the ``ID`` of its ``REGISTER`` (None: none).

        Returns:
            The :class:`Send` of the ``LOG/ERROR`` (nothing if ``conn`` is not registered).
        """
        name = self._name_of.pop(conn, None)
        if name is None:
            return []
        self._sent_by.pop(conn, None)
        if self._conn_of.get(name) == conn:
            del self._conn_of[name]
        detail = f"the name {name!r} is taken by another live connection"
        return [self._error(conn, "name-taken", detail, {"ID": reply_to})]

    def name_of(self, conn: int) -> str | None:
        """The registered name of ``conn``, or None before it registered."""
        return self._name_of.get(conn)

    def conn_of(self, name: str) -> int | None:
        """The connection registered as ``name``, or None."""
        return self._conn_of.get(name)

    def rooms_of(self, name: str) -> frozenset[str]:
        """The rooms of the connection registered as ``name`` (empty if none is)."""
        conn = self._conn_of.get(name)
        return frozenset() if conn is None else self.rooms.rooms_of(conn)

    def connections(self) -> list[int]:
        """Ids of all open connections."""
        return sorted(self._open)

    def permissions(self, conn: int) -> Permissions:
        """What ``conn``'s credential allows.

        Raises:
            KeyError: ``conn`` is not open.
        """
        return self._open[conn]

    def room_table(self) -> dict[str, list[str]]:
        """Every room with the sorted names of its members."""
        return {room: self._members_of(room) for room in self.rooms.names()}

    def _members_of(self, room: str) -> list[str]:
        return sorted(self._name_of.get(c, f"#{c}") for c in self.rooms.members_view(room))

    # -- frames ------------------------------------------------------------------------------------------------

    def receive(self, conn: int, frame: str | bytes) -> list[Event]:
        """Handle one frame from ``conn``; returns the events to carry out, in order.

        Never raises for bad input: it becomes a ``LOG/ERROR`` answer to ``conn``.

        Raises:
            KeyError: if ``conn`` is not an open connection id (a caller bug, not a peer's).
        """
        if conn not in self._open:
            raise KeyError(f"connection {conn} is not open")
        self.stats.received += 1
        msg: Any = None
        try:
            msg = decode(frame, arrays=False)
            validate(msg)
            mtype = msg["TYPE"]
            if conn not in self._name_of and mtype != MessageType.COMMAND_REGISTER:
                raise InvalidMessage("register with COMMAND/REGISTER before sending anything else", "not-registered")
            if mtype in HUB_COMMANDS:
                return self._command(conn, msg)
            return self._route(conn, frame, msg)
        except InvalidMessage as exc:
            return [self._error(conn, exc.code, exc.detail, msg)]

    # -- internals ---------------------------------------------------------------------------------------------

    def _command(self, conn: int, msg: Envelope) -> list[Event]:
        mtype = msg["TYPE"]
        ack: Envelope = {}
        if mtype == MessageType.COMMAND_REGISTER:
            name = msg["NAME"]
            current = self._name_of.get(conn)
            if current is not None and current != name:
                raise InvalidMessage(f"this connection is already registered as {current!r}", "already-registered")
            if name.startswith("_"):
                raise InvalidMessage(f"names starting with '_' are reserved for the hub, got {name!r}", "bad-name")
            allowed = self._open[conn].names
            if allowed is None and name in self.reserved or allowed is not None and name not in allowed:
                raise InvalidMessage(f"the name {name!r} is reserved for another credential", "name-reserved")
            owner = self._conn_of.get(name)
            if owner is not None and owner != conn:
                raise InvalidMessage(f"the name {name!r} is taken by another live connection", "name-taken")
            self._name_of[conn] = name
            self._sent_by[conn] = text_member("SENT_BY", name)
            self._conn_of[name] = conn
            ack.update(self.announce, NAME=name)
        elif mtype == MessageType.COMMAND_DISCONNECT:
            return [Close(conn, 1000, "disconnect requested")]
        elif mtype == MessageType.COMMAND_JOINROOM:
            self._check_observer(conn, msg["ROOM"])
            self._check_room_limit(conn, msg["ROOM"])
            self.rooms.join(conn, msg["ROOM"])
        elif mtype == MessageType.COMMAND_LEAVEROOM:
            self.rooms.leave(conn, msg["ROOM"])
        elif mtype == MessageType.COMMAND_ENABLELOGGING:
            self._check_observer(conn, self.logging_room)
            self._check_room_limit(conn, self.logging_room)
            self.rooms.join(conn, self.logging_room)
        elif mtype == MessageType.COMMAND_DISABLELOGGING:
            self.rooms.leave(conn, self.logging_room)
        elif mtype == MessageType.COMMAND_ROOMS:
            after = msg.get("AFTER")
            names = self.rooms.names()
            start = 0 if not isinstance(after, str) else bisect.bisect_right(names, after)
            page = names[start : start + ROOMS_PAGE]
            ack["TABLE"] = {room: self._members_of(room) for room in page}
            ack["MORE"] = start + ROOMS_PAGE < len(names)
        ack.update(
            {
                "ID": new_id(),
                "TYPE": MessageType.COMMAND_ACK,
                "SENT_BY": HUB_NAME,
                "TO": self._name_of[conn],
                "REPLY_TO": msg["ID"],
                "COMMAND": mtype,
                "ROOMS": sorted(self.rooms.rooms_of(conn)),
            }
        )
        if "ROOT_ID" in msg:
            ack["ROOT_ID"] = msg["ROOT_ID"]
        return [Send(conn, encode_text(ack))]

    def _check_observer(self, conn: int, room: str) -> None:
        if room.startswith("_") and not self._open[conn].observer:
            raise InvalidMessage(f"joining {room!r} needs the hub's observer credential", "forbidden-room")

    def _check_room_limit(self, conn: int, room: str) -> None:
        if self.max_rooms is None:
            return
        rooms = self.rooms.rooms_of(conn)
        if room not in rooms and len(rooms) >= self.max_rooms:
            raise InvalidMessage(
                f"cannot join {room!r}: a connection may be in at most {self.max_rooms} rooms", "too-many-rooms"
            )

    def _route(self, conn: int, frame: str | bytes, msg: Envelope) -> list[Event]:
        name = self._name_of[conn]
        room = msg.get("TO_ROOM")
        if room is None:
            recipients: list[int] = []
        elif room[0] == "_":
            raise InvalidMessage(f"rooms starting with '_' are written only by the hub, got {room!r}", "reserved-room")
        else:
            recipients = [c for c in self.rooms.members_view(room) if c != conn]
        to = msg.get("TO")
        if to is not None:
            target = self._conn_of.get(to)
            if target is not None and target not in recipients:
                recipients.append(target)
        logging = msg["TYPE"] in self.logged_types and room != self.logging_room and self.logging_room in self.rooms
        traffic = TRAFFIC_ROOM in self.rooms
        backplane = self.backplane
        if not recipients and not logging and not traffic and backplane is None:
            self.stats.dropped += 1
            return []
        if "SENT_BY" not in msg and isinstance(frame, str):
            stamped: str | bytes = stamp_text(frame, self._sent_by[conn])
        elif "SENT_BY" not in msg:
            stamped = append_to_map(frame, "SENT_BY", name)
            msg["SENT_BY"] = name  # for the logging copy and the traffic summary, which re-encode it
        else:  # a client wrote SENT_BY itself: overwrite it (re-encoding, as this is never the fast path)
            msg["SENT_BY"] = name
            stamped = encode_text(msg) if isinstance(frame, str) else encode_binary(msg)
        if backplane is not None:
            backplane.publish(stamped, name, room, to, msg["TYPE"])
        events: list[Event] = [Send(c, stamped) for c in recipients]
        if recipients:
            self.stats.routed += 1
            self.stats.delivered += len(recipients)
        else:
            self.stats.dropped += 1
        if logging:
            events.extend(self._log_copies(conn, name, room, stamped, msg))
        if traffic:
            self._count_traffic(name, room, stamped, msg)
        return events

    def deliver(self, frame: str | bytes, sender: str, room: str | None, to: str | None, mtype: str) -> list[Event]:
        """The events for a message another hub routed (what its :class:`Backplane` published): a copy for each
        member of ``room`` here and for ``to`` if that name is registered here, one each; logging copies and traffic
        counts as for a message routed here. The frame is delivered as it came, already stamped.

        Args:
            frame: the stamped frame (``SENT_BY`` = ``sender``).
            sender: the registered name of its sender, on the other hub.
            room: its ``TO_ROOM`` (None: none).
            to: its ``TO`` (None: none).
            mtype: its ``TYPE``.

        Returns:
            The :class:`Send` events, in order; none if nobody here receives it.
        """
        self.stats.relayed += 1
        recipients: list[int] = []
        if room is not None:
            recipients.extend(c for c in self.rooms.members_view(room) if self._name_of.get(c) != sender)
        if to is not None:
            target = self._conn_of.get(to)
            if target is not None and target not in recipients:
                recipients.append(target)
        events: list[Event] = [Send(c, frame) for c in recipients]
        if recipients:
            self.stats.routed += 1
            self.stats.delivered += len(recipients)
        logging = mtype in self.logged_types and room != self.logging_room and self.logging_room in self.rooms
        traffic = TRAFFIC_ROOM in self.rooms
        if logging or traffic:  # the copies and the tail need the message (monitoring is not the fast path)
            try:
                msg = decode(frame, arrays=False)
            except InvalidMessage:  # another hub routed it, so it decoded there; nothing to copy if not here
                return events
            if logging:
                events.extend(self._log_copies(0, sender, room, frame, msg))
            if traffic:
                self._count_traffic(sender, room, frame, msg)
        return events

    def _count_traffic(self, name: str, room: str | None, stamped: str | bytes, msg: Envelope) -> None:
        key = (room, name, msg["TYPE"])
        row = self._traffic.get(key)
        if row is None:
            self._traffic[key] = [1, len(stamped)]
        else:
            row[0] += 1
            row[1] += len(stamped)
        if len(stamped) > TRAFFIC_TAIL_FRAME:  # the summary stays small: the envelope, and the size of the rest
            unit = "bytes" if isinstance(stamped, bytes) else "characters"
            msg = {k: msg[k] for k in ENVELOPE_FIELDS if k in msg}
            msg.update(SENT_BY=name, DATA=f"<{len(stamped):,} {unit}>")
            stamped = encode_text(msg)
        self._traffic_tail.append((name, room, stamped, msg, self.clock()))

    def flush_traffic(self, interval: float) -> list[Event]:
        """The ``LOG/TRAFFIC`` summary of what was counted since the last call, for each member of the traffic room.

        Args:
            interval: seconds since the last call (reported as ``INTERVAL``; monitors turn counts into rates).

        Returns:
            One droppable :class:`Send` per member of ``_traffic``; none if nothing was counted.
        """
        counts, tail = self._traffic, list(self._traffic_tail)
        self._traffic = {}
        self._traffic_tail.clear()
        members = list(self.rooms.members_view(TRAFFIC_ROOM))
        if not counts or not members:
            return []
        header: Envelope = {
            "ID": new_id(),
            "TYPE": MessageType.LOG_TRAFFIC,
            "TO_ROOM": TRAFFIC_ROOM,
            "SENT_BY": HUB_NAME,
            "INTERVAL": interval,
            "COUNTS": [[room, sender, mtype, n, size] for (room, sender, mtype), (n, size) in counts.items()],
        }
        frame: str | bytes
        if all(isinstance(entry[2], str) for entry in tail):
            entries = ",".join(
                wrap_text({"SENDER": name, "ROOM": room, "TIME": when}, "MESSAGE", stamped)
                for name, room, stamped, _, when in tail
            )
            frame = wrap_text(header, "TAIL", f"[{entries}]")
        else:
            header["TAIL"] = [
                {"SENDER": name, "ROOM": room, "TIME": when, "MESSAGE": {**msg, "SENT_BY": name}}
                for name, room, _, msg, when in tail
            ]
            try:
                frame = encode_binary(header)
            except InvalidMessage:  # a message at msgpack's nesting limit: summarise without the tail
                header["TAIL"] = []
                frame = encode_binary(header)
        self.stats.logged += len(members)
        return [Send(c, frame, droppable=True) for c in members]

    def _log_copies(self, conn: int, name: str, room: str | None, stamped: str | bytes, msg: Envelope) -> list[Event]:
        header: Envelope = {
            "ID": new_id(),
            "TYPE": MessageType.LOG_MESSAGES,
            "TO_ROOM": self.logging_room,
            "SENT_BY": HUB_NAME,
            "SENDER": name,
            "ROOM": room,
        }
        if isinstance(stamped, str):
            copy: str | bytes = wrap_text(header, "MESSAGE", stamped)
        else:
            header["MESSAGE"] = msg
            try:
                copy = encode_binary(header)
            except InvalidMessage:  # msgpack's nesting limit: the message was at it, the wrapper would exceed it
                return []
        members = list(self.rooms.members_view(self.logging_room))
        self.stats.logged += len(members)
        return [Send(c, copy, droppable=True) for c in members]

    def notice(self, conn: int, code: str, detail: str) -> list[Event]:
        """A ``LOG/ERROR`` from the hub to ``conn`` about something its transport saw (``recipient-cut``: a
        recipient of its frames was closed for falling behind); none if ``conn`` is not registered any more.

        Returns:
            The :class:`Send` of that error, or nothing.
        """
        if conn not in self._name_of:
            return []
        return [self._error(conn, code, detail, None)]

    def _error(self, conn: int, code: str, detail: str, msg: Any) -> Send:
        if len(detail) > MAX_DETAIL_LENGTH:
            detail = f"{detail[: MAX_DETAIL_LENGTH - 30]}... ({len(detail)} characters)"
        self.stats.errors += 1
        self.stats.errors_by_code[code] = self.stats.errors_by_code.get(code, 0) + 1
        error: Envelope = {
            "ID": new_id(),
            "TYPE": MessageType.LOG_ERROR,
            "SENT_BY": HUB_NAME,
            "ERROR": code,
            "DETAIL": detail,
        }
        name = self._name_of.get(conn)
        if name is not None:
            error["TO"] = name
        if isinstance(msg, dict):
            bad_id = msg.get("ID")
            if isinstance(bad_id, str) and 0 < len(bad_id) <= MAX_NAME_LENGTH:
                error["REPLY_TO"] = bad_id
            root = msg.get("ROOT_ID")
            if isinstance(root, str) and 0 < len(root) <= MAX_NAME_LENGTH:
                error["ROOT_ID"] = root
        return Send(conn, encode_text(error))
