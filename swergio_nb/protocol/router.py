"""The router: every rule of the protocol as a sans-I/O state machine (no sockets, no asyncio).

The caller (the hub, or a test) drives it:

1. :meth:`Router.connect` when a connection opens; it returns the connection id to use from then on.
2. :meth:`Router.receive` with each frame that connection sends (``str`` for a text frame, ``bytes`` for binary).
   It returns the events the caller must carry out, in order: :class:`Send` a frame to a connection, or
   :class:`Close` a connection.
3. :meth:`Router.disconnect` when the connection is gone, whatever the reason.

Rules:

* A connection must send ``COMMAND/REGISTER`` with a unique ``NAME`` before anything else.
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
* The same messages are counted for the traffic room (``_traffic``) while it has members:
  :meth:`Router.flush_traffic`, called by the transport every ``traffic_interval``, turns the counts since the last
  call into one ``LOG/TRAFFIC`` message per member (``COUNTS``: ``[room, sender, type, messages, bytes]`` rows,
  ``room`` null for direct messages; ``TAIL``: the latest :data:`TRAFFIC_TAIL` messages as ``{"SENDER", "ROOM",
  "MESSAGE"}``; ``INTERVAL``: seconds covered), also ``droppable``. A monitor then costs one message per interval,
  not one per message.
* Bad input (not JSON/msgpack, not an object, missing ID/TYPE, unknown TYPE, addressed to nobody, bad arrays,
  unregistered sender...) is answered to its sender only with ``LOG/ERROR`` (``ERROR`` code, ``DETAIL`` text,
  ``REPLY_TO`` when the bad message had a usable ``ID``). The connection stays open; nobody else sees anything.

The router encodes each delivered message once and hands the same frame object to every recipient. Text frames are
stamped by splicing ``"SENT_BY"`` into the received JSON text, binary frames by appending it to the received msgpack
map (:func:`~swergio_nb.protocol.codec.append_to_map`), so the payload is never re-encoded.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgpack

from ..exceptions import InvalidMessage
from . import codec
from .limits import DEFAULT_MAX_ROOMS, MAX_DETAIL_LENGTH
from .messages import HUB_COMMANDS, HUB_NAME, LOGGING_ROOM, TRAFFIC_ROOM, new_id, validate
from .rooms import Rooms

__all__ = ["Router", "RouterStats", "Send", "Close", "Event", "LOGGED_TYPES", "TRAFFIC_TAIL"]

#: Types copied to the logging room by default: every DATA type (swergio copied FORWARD and GRADIENT; rewards,
#: text and custom data are traffic a monitor wants to see too).
LOGGED_TYPES = ("DATA/FORWARD", "DATA/GRADIENT", "DATA/REWARD", "DATA/TEXT", "DATA/CUSTOM")
#: Latest messages a ``LOG/TRAFFIC`` summary carries.
TRAFFIC_TAIL = 20
#: Largest frame a ``LOG/TRAFFIC`` tail entry carries whole, in bytes (characters for text); a larger one is shown by
#: its envelope fields and its size.
TRAFFIC_TAIL_FRAME = 16 * 1024
_ENVELOPE_FIELDS = ("ID", "ROOT_ID", "TYPE", "TO_ROOM", "TO", "MODEL_STATUS", "REPLY_TO")


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``frame`` to connection ``conn``.

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


@dataclass(slots=True)
class RouterStats:
    """Counters since the router was created (all plain ints)."""

    received: int = 0  #: frames received
    routed: int = 0  #: messages delivered to at least one recipient
    delivered: int = 0  #: frames handed out to recipients (fan-out counts each copy)
    dropped: int = 0  #: messages nobody received (empty/unknown room, unknown TO)
    logged: int = 0  #: LOG/MESSAGES copies handed out to logging-room members
    errors: int = 0  #: bad frames answered with LOG/ERROR
    errors_by_code: dict[str, int] = field(default_factory=dict)


class Router:
    """Routes frames between connections by room and by component name.

    Args:
        logging_room: room that receives ``LOG/MESSAGES`` copies.
        logged_types: message types copied to the logging room.
        max_rooms: rooms one connection may be in at once (the logging room counts); a JOINROOM beyond it is
            answered with ``LOG/ERROR`` ``too-many-rooms``. None: no limit.
    """

    def __init__(
        self,
        *,
        logging_room: str = LOGGING_ROOM,
        logged_types: tuple[str, ...] = LOGGED_TYPES,
        max_rooms: int | None = DEFAULT_MAX_ROOMS,
    ) -> None:
        self.max_rooms = max_rooms
        self.rooms = Rooms()
        self.stats = RouterStats()
        self.logging_room = logging_room
        self.logged_types = frozenset(logged_types)
        self._ids = itertools.count(1)
        self._open: set[int] = set()
        self._name_of: dict[int, str] = {}
        self._name_json: dict[int, str] = {}
        self._conn_of: dict[str, int] = {}
        self._traffic: dict[tuple[str | None, str, str], list[int]] = {}  # (room, sender, type) -> [count, bytes]
        self._traffic_tail: deque[tuple[str, str | None, str | bytes, dict]] = deque(maxlen=TRAFFIC_TAIL)

    # -- connections -------------------------------------------------------------------------------------------

    def connect(self) -> int:
        """Open a connection; returns its id (a positive int, never reused)."""
        conn = next(self._ids)
        self._open.add(conn)
        return conn

    def disconnect(self, conn: int) -> list[Event]:
        """Forget ``conn``: its name and its room memberships. Safe to call twice. Returns no events today."""
        self._open.discard(conn)
        self.rooms.leave_all(conn)
        name = self._name_of.pop(conn, None)
        self._name_json.pop(conn, None)
        if name is not None and self._conn_of.get(name) == conn:
            del self._conn_of[name]
        return []

    def name_of(self, conn: int) -> str | None:
        """The registered name of ``conn``, or None before it registered."""
        return self._name_of.get(conn)

    def conn_of(self, name: str) -> int | None:
        """The connection registered as ``name``, or None."""
        return self._conn_of.get(name)

    def connections(self) -> list[int]:
        """Ids of all open connections."""
        return sorted(self._open)

    def room_table(self) -> dict[str, list[str]]:
        """Every room with the sorted names of its members."""
        return {
            room: sorted(self._name_of.get(c, f"#{c}") for c in self.rooms.members_view(room))
            for room in self.rooms.names()
        }

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
            msg = codec.decode(frame, arrays=False)
            validate(msg)
            mtype = msg["TYPE"]
            if conn not in self._name_of and mtype != "COMMAND/REGISTER":
                raise InvalidMessage("register with COMMAND/REGISTER before sending anything else", "not-registered")
            if mtype in HUB_COMMANDS:
                return self._command(conn, msg)
            return self._route(conn, frame, msg)
        except InvalidMessage as exc:
            return [self._error(conn, exc.code, exc.detail, msg)]

    # -- internals ---------------------------------------------------------------------------------------------

    def _command(self, conn: int, msg: dict[str, Any]) -> list[Event]:
        mtype = msg["TYPE"]
        ack: dict[str, Any] = {}
        if mtype == "COMMAND/REGISTER":
            name = msg["NAME"]
            current = self._name_of.get(conn)
            if current is not None and current != name:
                raise InvalidMessage(f"this connection is already registered as {current!r}", "already-registered")
            if name.startswith("_"):
                raise InvalidMessage(f"names starting with '_' are reserved for the hub, got {name!r}", "bad-name")
            owner = self._conn_of.get(name)
            if owner is not None and owner != conn:
                raise InvalidMessage(f"the name {name!r} is taken by another live connection", "name-taken")
            self._name_of[conn] = name
            self._name_json[conn] = json.dumps(name)
            self._conn_of[name] = conn
            ack["NAME"] = name
        elif mtype == "COMMAND/DISCONNECT":
            return [Close(conn, 1000, "disconnect requested")]
        elif mtype == "COMMAND/JOINROOM":
            self._check_room_limit(conn, msg["ROOM"])
            self.rooms.join(conn, msg["ROOM"])
        elif mtype == "COMMAND/LEAVEROOM":
            self.rooms.leave(conn, msg["ROOM"])
        elif mtype == "COMMAND/ENABLELOGGING":
            self._check_room_limit(conn, self.logging_room)
            self.rooms.join(conn, self.logging_room)
        elif mtype == "COMMAND/DISABLELOGGING":
            self.rooms.leave(conn, self.logging_room)
        elif mtype == "COMMAND/ROOMS":
            ack["TABLE"] = self.room_table()
        ack.update(
            {
                "ID": new_id(),
                "TYPE": "COMMAND/ACK",
                "SENT_BY": HUB_NAME,
                "TO": self._name_of[conn],
                "REPLY_TO": msg["ID"],
                "COMMAND": mtype,
                "ROOMS": sorted(self.rooms.rooms_of(conn)),
            }
        )
        if "ROOT_ID" in msg:
            ack["ROOT_ID"] = msg["ROOT_ID"]
        return [Send(conn, json.dumps(ack, separators=(",", ":")))]

    def _check_room_limit(self, conn: int, room: str) -> None:
        if self.max_rooms is None:
            return
        rooms = self.rooms.rooms_of(conn)
        if room not in rooms and len(rooms) >= self.max_rooms:
            raise InvalidMessage(
                f"cannot join {room!r}: a connection may be in at most {self.max_rooms} rooms", "too-many-rooms"
            )

    def _route(self, conn: int, frame: str | bytes, msg: dict[str, Any]) -> list[Event]:
        name = self._name_of[conn]
        recipients: list[int] = []
        room = msg.get("TO_ROOM")
        if room is not None:
            recipients.extend(c for c in self.rooms.members_view(room) if c != conn)
        to = msg.get("TO")
        if to is not None:
            target = self._conn_of.get(to)
            if target is not None and target not in recipients:
                recipients.append(target)
        logged = msg["TYPE"] in self.logged_types and room != self.logging_room
        logging = logged and self.logging_room in self.rooms
        traffic = logged and TRAFFIC_ROOM in self.rooms
        if not recipients and not logging and not traffic:
            self.stats.dropped += 1
            return []
        if "SENT_BY" not in msg and isinstance(frame, str):
            stamped: str | bytes = f'{frame.rstrip()[:-1]},"SENT_BY":{self._name_json[conn]}}}'
        elif "SENT_BY" not in msg:
            stamped = codec.append_to_map(frame, "SENT_BY", name)
            msg["SENT_BY"] = name  # for the logging copy and the traffic summary, which re-encode it
        else:
            msg["SENT_BY"] = name
            stamped = self._encode_like(frame, msg)
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

    def _count_traffic(self, name: str, room: str | None, stamped: str | bytes, msg: dict[str, Any]) -> None:
        key = (room, name, msg["TYPE"])
        row = self._traffic.get(key)
        if row is None:
            self._traffic[key] = [1, len(stamped)]
        else:
            row[0] += 1
            row[1] += len(stamped)
        if len(stamped) > TRAFFIC_TAIL_FRAME:  # the summary stays small: the envelope, and the size of the rest
            unit = "bytes" if isinstance(stamped, bytes) else "characters"
            msg = {k: msg[k] for k in _ENVELOPE_FIELDS if k in msg}
            msg.update(SENT_BY=name, DATA=f"<{len(stamped):,} {unit}>")
            stamped = json.dumps(msg, separators=(",", ":"))
        self._traffic_tail.append((name, room, stamped, msg))

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
        header = {
            "ID": new_id(),
            "TYPE": "LOG/TRAFFIC",
            "TO_ROOM": TRAFFIC_ROOM,
            "SENT_BY": HUB_NAME,
            "INTERVAL": interval,
            "COUNTS": [[room, sender, mtype, n, size] for (room, sender, mtype), (n, size) in counts.items()],
        }
        frame: str | bytes
        if all(isinstance(stamped, str) for _, _, stamped, _ in tail):
            entries = ",".join(
                f'{{"SENDER":{json.dumps(name)},"ROOM":{json.dumps(room)},"MESSAGE":{stamped}}}'
                for name, room, stamped, _ in tail
            )
            frame = f'{json.dumps(header, separators=(",", ":"))[:-1]},"TAIL":[{entries}]}}'
        else:
            header["TAIL"] = [
                {"SENDER": name, "ROOM": room, "MESSAGE": {**msg, "SENT_BY": name}} for name, room, _, msg in tail
            ]
            try:
                frame = msgpack.packb(header, use_bin_type=True)
            except ValueError:  # a message at msgpack's nesting limit: summarise without the tail
                header["TAIL"] = []
                frame = msgpack.packb(header, use_bin_type=True)
        self.stats.logged += len(members)
        return [Send(c, frame, droppable=True) for c in members]

    def _log_copies(self, conn: int, name: str, room: str | None, stamped: str | bytes, msg: dict) -> list[Event]:
        header = {
            "ID": new_id(),
            "TYPE": "LOG/MESSAGES",
            "TO_ROOM": self.logging_room,
            "SENT_BY": HUB_NAME,
            "SENDER": name,
            "ROOM": room,
        }
        if isinstance(stamped, str):
            copy: str | bytes = f'{json.dumps(header, separators=(",", ":"))[:-1]},"MESSAGE":{stamped}}}'
        else:
            header["MESSAGE"] = msg
            try:
                copy = msgpack.packb(header, use_bin_type=True)
            except ValueError:  # msgpack's nesting limit: the message was at it, the wrapper would exceed it
                return []
        members = list(self.rooms.members_view(self.logging_room))
        self.stats.logged += len(members)
        return [Send(c, copy, droppable=True) for c in members]

    @staticmethod
    def _encode_like(frame: str | bytes, msg: dict[str, Any]) -> str | bytes:
        if isinstance(frame, str):
            return json.dumps(msg, separators=(",", ":"))
        return msgpack.packb(msg, use_bin_type=True)

    def _error(self, conn: int, code: str, detail: str, msg: Any) -> Send:
        if len(detail) > MAX_DETAIL_LENGTH:
            detail = f"{detail[: MAX_DETAIL_LENGTH - 30]}... ({len(detail)} characters)"
        self.stats.errors += 1
        self.stats.errors_by_code[code] = self.stats.errors_by_code.get(code, 0) + 1
        error: dict[str, Any] = {
            "ID": new_id(),
            "TYPE": "LOG/ERROR",
            "SENT_BY": HUB_NAME,
            "ERROR": code,
            "DETAIL": detail,
        }
        name = self._name_of.get(conn)
        if name is not None:
            error["TO"] = name
        if isinstance(msg, dict):
            bad_id = msg.get("ID")
            if isinstance(bad_id, str) and 0 < len(bad_id) <= 256:
                error["REPLY_TO"] = bad_id
            root = msg.get("ROOT_ID")
            if isinstance(root, str) and 0 < len(root) <= 256:
                error["ROOT_ID"] = root
        return Send(conn, json.dumps(error, separators=(",", ":"), ensure_ascii=True))
