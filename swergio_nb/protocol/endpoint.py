"""The client's rules as a sans-I/O endpoint: frames in, decisions out (no sockets, no asyncio).

:class:`Endpoint` is to a client what :class:`~swergio_nb.protocol.router.Router` is to the hub: every rule a
component follows, with no I/O, so it can be tested and fuzzed without a socket. A transport (the asyncio
:class:`~swergio_nb.transport.client.Client`) drives it:

1. **Connecting.** :meth:`Endpoint.begin` (``CLOSED`` -> ``CONNECTING``) before the first attempt. On each open
   transport, :meth:`Endpoint.opened` returns the ``COMMAND/REGISTER`` message to send; :meth:`Endpoint.rooms_to_join`
   the rooms to join next (those wanted or needed by a handler, not yet confirmed by the hub; one ``COMMAND/JOINROOM``
   each, from :meth:`Endpoint.command`). Then :meth:`Endpoint.take_buffered` gives the frames sent while reconnecting,
   in order, and :meth:`Endpoint.ready` makes the endpoint ``OPEN``.
2. **Sending.** :meth:`Endpoint.complete` fills ``ID`` and ``ROOT_ID`` (``ROOT_ID`` = ``ID`` for a new chain),
   drops a client-written ``SENT_BY`` (the hub stamps it) and validates. While ``RECONNECTING``, frames go to
   :meth:`Endpoint.buffer` (bounded by ``max_buffer``).
3. **Waiting.** :meth:`Endpoint.expect_answer` registers a token (any object: the transport's future) for the hub's
   answer to one message ``ID``: ``COMMAND/ACK``, or ``LOG/ERROR`` when the hub refused it.
   :meth:`Endpoint.expect_reply` registers a token for the reply in a chain (same ``ROOT_ID``): the first message of
   that chain that arrives in the given room (or, with no room, addressed to this component by ``TO``), of the given
   type if one is given. The transport calls :meth:`Endpoint.forget_answer` / :meth:`Endpoint.forget_reply` when it
   stops waiting (answered, timed out or cancelled).
4. **Receiving.** :meth:`Endpoint.receive` takes each frame and returns at most one event:

   * :class:`Answered`: the answer a token waited for (``error`` set for ``LOG/ERROR``);
   * :class:`Replied`: the reply a token waited for; handlers do not see it;
   * :class:`Dispatch`: a message and the handlers whose :class:`Trigger` it fires, in registration order;
   * :class:`HubRefused`: a ``LOG/ERROR`` nobody waited for (counted in ``stats.hub_errors``);
   * :class:`Undecodable`: a frame that is not a valid message (counted in ``stats.undecodable``);
   * None: nothing to do (an acknowledgement nobody waits for, a message no handler wants).

   Every ``COMMAND/ACK`` carries the rooms the hub has this connection in (``ROOMS``); the endpoint keeps them as
   :attr:`Endpoint.joined`.
5. **Replying.** :meth:`Endpoint.replies` turns what a handler returned into the messages to send (see there).
6. **Losing the connection.** :meth:`Endpoint.lost` (``OPEN`` -> ``RECONNECTING``, or ``CLOSED`` without
   reconnection) and :meth:`Endpoint.close` (any -> ``CLOSED``) return every token still waiting: the transport fails
   them (the hub will never answer on a connection that is gone). :func:`backoff` gives the waits between attempts.

The states (:class:`ConnectionState`) and their transitions::

    CLOSED --begin--> CONNECTING --ready--> OPEN --lost(reconnect)--> RECONNECTING --ready--> OPEN
       ^                  |                   |                           |
       +------close-------+-------close-------+-----------close-----------+   (lost without reconnect: CLOSED)
"""

from __future__ import annotations

import collections
import enum
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import HubError, InvalidMessage, InvalidState, NotConnected, PeerError
from . import codec
from .limits import DEFAULT_MAX_BUFFER, DEFAULT_MAX_BUFFER_BYTES
from .messages import HUB_NAME, Envelope, MessageType, new_id, validate

__all__ = [
    "Endpoint",
    "ConnectionState",
    "Trigger",
    "Handler",
    "SENDER",
    "ClientStats",
    "Answered",
    "Replied",
    "Dispatch",
    "HubRefused",
    "Undecodable",
    "EndpointEvent",
    "backoff",
]

#: Use as ``reply_to=SENDER`` to answer the component that sent the triggering message.
SENDER = "<sender>"

_ACK = MessageType.COMMAND_ACK.value
_ERROR = MessageType.LOG_ERROR.value
#: Distinct (TYPE, TO_ROOM, addressed-to-me) keys whose matching handlers are remembered; more clears the memory.
_MATCH_CACHE_SIZE = 1024


class ConnectionState(enum.Enum):
    """Where a client's connection stands (see the module docstring for the transitions)."""

    CLOSED = "closed"  #: not connected: before the first attempt, after close(), or lost without reconnection
    CONNECTING = "connecting"  #: the first connection is being made (registration and joins on their way)
    OPEN = "open"  #: registered, rooms joined, buffer flushed: messages go out at once
    RECONNECTING = "reconnecting"  #: an established connection was lost; sends are buffered until OPEN again


#: The transitions of the drawing in the module docstring (``close()`` goes to ``CLOSED`` from anywhere).
_TRANSITIONS = {
    ConnectionState.CLOSED: {ConnectionState.CONNECTING},
    ConnectionState.CONNECTING: {ConnectionState.OPEN, ConnectionState.CLOSED},
    ConnectionState.OPEN: {ConnectionState.RECONNECTING, ConnectionState.CLOSED},
    ConnectionState.RECONNECTING: {ConnectionState.OPEN, ConnectionState.CLOSED},
}


def _as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (str(value),)
    return tuple(str(v) for v in value)


@dataclass(frozen=True, slots=True, init=False)
class Trigger:
    """Which incoming messages fire a handler.

    Args:
        types: one message type or several (``"DATA/FORWARD"`` or ``MessageType.DATA_FORWARD``).
        rooms: the rooms to listen to (joined automatically); None accepts messages from any room this client is in.
        direct: also fire on messages addressed to this component by name (``TO``) without a ``TO_ROOM``.
    """

    types: tuple[str, ...]
    rooms: tuple[str, ...] | None
    direct: bool

    def __init__(self, types: str | Iterable[str], rooms: str | Iterable[str] | None = None, direct: bool = True):
        object.__setattr__(self, "types", _as_tuple(types))
        object.__setattr__(self, "rooms", _as_tuple(rooms))
        object.__setattr__(self, "direct", direct)

    def matches(self, msg: Envelope, name: str) -> bool:
        """True if ``msg`` (received by the component called ``name``) fires this trigger."""
        return self._fires(msg.get("TYPE"), msg.get("TO_ROOM"), msg.get("TO") == name)

    def _fires(self, mtype: Any, room: Any, to_me: bool) -> bool:
        if mtype not in self.types:
            return False
        if room is not None and (self.rooms is None or room in self.rooms):
            return True
        return self.direct and to_me


@dataclass(eq=False)
class Handler:
    """A registered handler (returned by ``Client.add_handler``); counters are updated as it runs.

    Attributes:
        fn: ``fn(msg, **context)``, plain or ``async``.
        trigger: which messages fire it.
        reply_type: ``TYPE`` given to replies that set none.
        reply_rooms: rooms each reply goes to (one copy each), or None.
        reply_to: component each reply goes to, :data:`SENDER`, or None.
        in_thread: the transport runs ``fn`` in a worker thread.
        group: handlers of one group share one queue and one worker: they handle their messages one at a time, in
            arrival order across the group (a model's forward and backward: a backward must not overtake the
            forward it follows). None: the handler has a worker of its own.
        context_keys: names of the context values ``fn`` takes as keyword arguments.
        calls: messages handled so far.
        errors: calls that raised.
        worker: the transport's state for this handler (the asyncio client's queue and task); None while stopped.
    """

    fn: Callable[..., Any]
    trigger: Trigger
    reply_type: str | None = None
    reply_rooms: tuple[str, ...] | None = None
    reply_to: str | None = None
    in_thread: bool = False
    group: str | None = None
    context_keys: tuple[str, ...] = ()
    calls: int = 0
    errors: int = 0
    worker: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))

    def rooms(self) -> set[str]:
        """Rooms this handler needs to be a member of."""
        return set(self.trigger.rooms or ()) | set(self.reply_rooms or ())


@dataclass(slots=True)
class ClientStats:
    """Counters of a client (plain ints)."""

    sent: int = 0  #: frames sent
    received: int = 0  #: frames received
    undecodable: int = 0  #: frames received that were not valid messages
    hub_errors: int = 0  #: LOG/ERROR answers from the hub that nobody was waiting for
    reconnects: int = 0  #: connections regained after a loss
    paused: int = 0  #: times the transport stopped reading because a handler's queue was full


# -- events --------------------------------------------------------------------------------------------------------
# Plain (not frozen) slotted dataclasses: one is made per received message, and a frozen one costs twice as much.


@dataclass(slots=True)
class Answered:
    """The hub answered the message ``token`` waited for: ``COMMAND/ACK``, or ``LOG/ERROR`` (then ``error`` is set)."""

    token: Any
    message: Envelope
    error: HubError | None = None


@dataclass(slots=True)
class Replied:
    """The reply in a chain that ``token`` waited for (:meth:`Endpoint.expect_reply`); ``error`` is set when it is
    the asked component's ``LOG/ERROR`` refusing the request."""

    token: Any
    message: Envelope
    error: PeerError | None = None


@dataclass(slots=True)
class Dispatch:
    """``message`` fires ``handlers`` (in registration order)."""

    message: Envelope
    handlers: tuple[Handler, ...]


@dataclass(slots=True)
class HubRefused:
    """A ``LOG/ERROR`` from the hub that nobody was waiting for; ``handlers`` are those it fires (if any)."""

    message: Envelope
    error: HubError
    handlers: tuple[Handler, ...] = ()


@dataclass(slots=True)
class Undecodable:
    """A frame that is not a valid message; it is dropped."""

    error: InvalidMessage


EndpointEvent = Answered | Replied | Dispatch | HubRefused | Undecodable


@dataclass(slots=True, eq=False)
class _Waiter:
    token: Any
    room: str | None
    type: str | None
    request: str | None = None  # the ID whose LOG/ERROR answer (REPLY_TO) also ends the wait, as a refusal
    asked: str | None = None  # only this component's refusal counts (the request went TO it)

    def matches(self, msg: Envelope, name: str) -> bool:
        mtype = msg.get("TYPE")
        if (mtype == _ACK or mtype == _ERROR) and self.asked is not None and msg.get("SENT_BY") != self.asked:
            return False  # an answer to a request that went TO a component counts only from that component
        if self.type is not None and mtype != self.type and not self.refuses(msg):
            return False
        if self.room is not None:
            return msg.get("TO_ROOM") == self.room
        return msg.get("TO") == name

    def refuses(self, msg: Envelope) -> bool:
        return (
            self.request is not None
            and msg.get("TYPE") == _ERROR
            and msg.get("REPLY_TO") == self.request
            and (self.asked is None or msg.get("SENT_BY") == self.asked)
        )


def backoff(first: float, longest: float, rng: random.Random | None = None) -> Iterator[tuple[float, float]]:
    """Waits between reconnection attempts: exponential backoff with full jitter. Endless.

    Yields ``(wait, cap)`` in seconds: each wait is uniform in [0, cap]; the cap starts at ``first`` and doubles after
    each attempt up to ``longest`` ("full jitter", AWS Architecture Blog, *Exponential Backoff And Jitter*, 2015).

    Args:
        first: the first cap, in seconds (> 0).
        longest: the largest cap, in seconds (>= first).
        rng: random source (default: a fresh :class:`random.Random`).

    Raises:
        ValueError: ``first`` not positive or ``longest`` below it.
    """
    if not first > 0 or longest < first:
        raise ValueError(f"backoff caps must satisfy 0 < first <= longest, got ({first!r}, {longest!r})")
    rng = rng or random.Random()
    cap = first
    while True:
        yield rng.uniform(0, cap), cap
        cap = min(cap * 2, longest)


class Endpoint:
    """Every rule of a swergio client, sans-I/O (see the module docstring for the calls a transport makes).

    Args:
        name: the component's name (unique on the hub; others address it with ``TO``).
        max_buffer: messages kept while ``RECONNECTING``; one more raises :class:`~swergio_nb.exceptions.NotConnected`.
        max_buffer_bytes: their size bound, in bytes (characters of text frames); a frame that would pass it raises
            :class:`~swergio_nb.exceptions.NotConnected` too.

    Attributes:
        state: the :class:`ConnectionState`.
        handlers: the registered :class:`Handler` objects, in registration order.
        wanted: rooms joined on request (:meth:`want`), rejoined after a reconnection.
        joined: the rooms the hub last confirmed (from the latest ``COMMAND/ACK``).
        stats: :class:`ClientStats`.
    """

    def __init__(
        self, name: str, *, max_buffer: int = DEFAULT_MAX_BUFFER, max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES
    ) -> None:
        self.name = name
        self.max_buffer = max_buffer
        self.max_buffer_bytes = max_buffer_bytes
        self.state = ConnectionState.CLOSED
        self.handlers: list[Handler] = []
        self.wanted: set[str] = set()
        self.joined: frozenset[str] = frozenset()
        self.stats = ClientStats()
        self._answers: dict[str, Any] = {}  # message ID -> token
        self._waiters: dict[str, list[_Waiter]] = {}  # ROOT_ID -> waiters, oldest first
        self._buffer: collections.deque[str | bytes] = collections.deque()
        self._buffer_bytes = 0
        self._matches: dict[tuple[Any, Any, bool], tuple[Handler, ...]] = {}

    def __repr__(self) -> str:
        return f"<Endpoint {self.name!r} {self.state.value}, {len(self.handlers)} handlers>"

    # -- state ----------------------------------------------------------------------------------------------------

    def _go(self, state: ConnectionState) -> None:
        if state not in _TRANSITIONS[self.state]:
            raise InvalidState(f"endpoint {self.name!r}: cannot go from {self.state.value} to {state.value}")
        self.state = state

    def begin(self) -> None:
        """Start the first connection: ``CLOSED`` -> ``CONNECTING``.

        Raises:
            InvalidState: not ``CLOSED``.
        """
        self._go(ConnectionState.CONNECTING)

    def opened(self) -> Envelope:
        """A transport connection is open: forget the rooms of any earlier connection; returns ``COMMAND/REGISTER``.

        Raises:
            InvalidState: ``OPEN`` or ``CLOSED`` (call :meth:`begin` first).
        """
        if self.state not in (ConnectionState.CONNECTING, ConnectionState.RECONNECTING):
            raise InvalidState(f"endpoint {self.name!r}: a connection opened while {self.state.value}")
        self.joined = frozenset()
        return self.command(MessageType.COMMAND_REGISTER, NAME=self.name)

    def ready(self) -> None:
        """Registered, rooms joined, buffer flushed: ``CONNECTING``/``RECONNECTING`` -> ``OPEN``.

        Raises:
            InvalidState: from any other state.
        """
        if self.state is ConnectionState.RECONNECTING:
            self.stats.reconnects += 1
        self._go(ConnectionState.OPEN)

    def lost(self, *, reconnect: bool) -> list[Any]:
        """The transport connection is gone. From ``OPEN``: ``RECONNECTING`` if ``reconnect``, else ``CLOSED``; a
        connection lost while (re)connecting leaves the state to the transport's attempt (it failed).

        Returns:
            Every token still waiting for an answer or a reply: the transport fails them.
        """
        if self.state is ConnectionState.OPEN:
            self._go(ConnectionState.RECONNECTING if reconnect else ConnectionState.CLOSED)
        return self._take_tokens()

    def close(self) -> tuple[list[Any], int]:
        """Stop for good: any state -> ``CLOSED``; the reconnection buffer is dropped.

        Returns:
            ``(tokens, dropped)``: every token still waiting (the transport fails them) and how many buffered
            frames were dropped unsent.
        """
        self.state = ConnectionState.CLOSED
        dropped = len(self._buffer)
        self._buffer.clear()
        self._buffer_bytes = 0
        return self._take_tokens(), dropped

    def _take_tokens(self) -> list[Any]:
        tokens = list(self._answers.values())
        tokens.extend(w.token for waiters in self._waiters.values() for w in waiters)
        self._answers.clear()
        self._waiters.clear()
        return tokens

    # -- rooms ----------------------------------------------------------------------------------------------------

    def want(self, room: str) -> None:
        """Remember ``room`` as joined on request (it is rejoined after a reconnection)."""
        self.wanted.add(room)

    def unwant(self, room: str) -> None:
        """Forget ``room`` (a leave was asked for)."""
        self.wanted.discard(room)

    def rooms_to_join(self, rooms: Iterable[str] | None = None) -> list[str]:
        """Rooms to join, sorted: ``rooms`` (default: every wanted room and every room a handler needs) minus those
        the hub confirmed."""
        if rooms is None:
            rooms = self.wanted.union(*(h.rooms() for h in self.handlers))
        return sorted(set(rooms) - self.joined)

    # -- sending --------------------------------------------------------------------------------------------------

    def complete(self, msg: Envelope | dict[str, Any]) -> Envelope:
        """A copy of ``msg`` ready to send: ``ID`` filled if missing, ``ROOT_ID`` = ``ID`` if missing, ``TYPE`` as
        its wire string, ``SENT_BY`` removed (the hub stamps it).

        Raises:
            InvalidMessage: the message breaks the protocol (:func:`~swergio_nb.protocol.messages.validate`).
        """
        msg = dict(msg)
        if "ID" not in msg:
            msg["ID"] = new_id()
        if "TYPE" in msg:
            msg["TYPE"] = str(msg["TYPE"])
        msg.setdefault("ROOT_ID", msg["ID"])
        msg.pop("SENT_BY", None)
        return validate(msg)

    def command(self, mtype: MessageType | str, **fields: Any) -> Envelope:
        """A completed hub command, e.g. ``command(MessageType.COMMAND_JOINROOM, ROOM="input")``."""
        return self.complete({"TYPE": mtype, **fields})

    def buffer(self, frame: str | bytes) -> None:
        """Keep ``frame`` to send after the reconnection: while ``RECONNECTING``, or while ``OPEN`` when the transport
        found the connection gone before it told the endpoint (:meth:`lost`).

        Raises:
            NotConnected: the buffer holds ``max_buffer`` frames already, ``frame`` would take it past
                ``max_buffer_bytes``, or the endpoint is not connected at all.
        """
        if self.state is not ConnectionState.RECONNECTING and self.state is not ConnectionState.OPEN:
            raise NotConnected(f"client {self.name!r} is not connected")
        size = self._buffer_bytes + len(frame)
        if len(self._buffer) >= self.max_buffer or size > self.max_buffer_bytes:
            raise NotConnected(
                f"client {self.name!r} is reconnecting and its send buffer is full: {len(self._buffer)} messages of "
                f"{self._buffer_bytes:,} bytes kept, this one of {len(frame):,} bytes would pass the bound of "
                f"{self.max_buffer} messages or {self.max_buffer_bytes:,} bytes"
            )
        self._buffer.append(frame)
        self._buffer_bytes = size

    def take_buffered(self) -> Iterator[str | bytes]:
        """The buffered frames, oldest first; each is removed once the next one is asked for (or the iteration
        ends), so a frame whose sending failed stays first in the buffer."""
        while self._buffer:
            yield self._buffer[0]
            self._buffer_bytes -= len(self._buffer.popleft())

    @property
    def buffered(self) -> int:
        """Frames waiting in the reconnection buffer."""
        return len(self._buffer)

    # -- waiting --------------------------------------------------------------------------------------------------

    def expect_answer(self, msg_id: str, token: Any) -> None:
        """Hand the hub's answer to message ``msg_id`` (``COMMAND/ACK`` or ``LOG/ERROR``) to ``token``."""
        self._answers[msg_id] = token

    def forget_answer(self, msg_id: str) -> None:
        """Stop waiting for the answer to ``msg_id`` (no-op if it came or was never expected)."""
        self._answers.pop(msg_id, None)

    def expect_reply(
        self,
        root_id: str,
        token: Any,
        *,
        room: str | None = None,
        type: str | None = None,
        request: str | None = None,
        asked: str | None = None,
    ) -> object:
        """Hand ``token`` the first message of chain ``root_id`` that arrives in ``room`` (or, with no room, is
        addressed to this component), of ``type`` if given.

        With ``request`` (the ID of the message sent), a ``LOG/ERROR`` answering it (``REPLY_TO``) from a component
        ends the wait too, as a :class:`Replied` whose ``error`` is a :class:`~swergio_nb.exceptions.PeerError`.
        With ``asked`` (the request went ``TO`` that component), a ``COMMAND/ACK`` or ``LOG/ERROR`` counts only from
        it (``SENT_BY``, which the hub stamps): another component's cannot end the wait.

        Returns:
            A handle for :meth:`forget_reply`.
        """
        waiter = _Waiter(token, room, None if type is None else str(type), request, asked)
        self._waiters.setdefault(root_id, []).append(waiter)
        return waiter

    def forget_reply(self, root_id: str, handle: object) -> None:
        """Stop waiting with ``handle`` (no-op if its reply came already)."""
        waiters = self._waiters.get(root_id)
        if waiters is not None:
            if handle in waiters:
                waiters.remove(handle)  # type: ignore[arg-type]
            if not waiters:
                del self._waiters[root_id]

    # -- receiving ------------------------------------------------------------------------------------------------

    def receive(self, frame: str | bytes) -> EndpointEvent | None:
        """Decode, check and place one frame from the hub; returns what the transport must do (module docstring)."""
        self.stats.received += 1
        try:
            msg = validate(codec.decode(frame), require_address=False)
        except InvalidMessage as exc:
            self.stats.undecodable += 1
            return Undecodable(exc)
        mtype = msg["TYPE"]
        if mtype != _ACK and mtype != _ERROR and not self._waiters:  # most traffic: straight to the handlers
            key = (mtype, msg.get("TO_ROOM"), msg.get("TO") == self.name)
            handlers = self._matches.get(key)
            if handlers is None:
                handlers = self._match(key)
            return Dispatch(msg, handlers) if handlers else None
        return self.handle(msg)

    def handle(self, msg: Envelope) -> EndpointEvent | None:
        """:meth:`receive` for a decoded, valid message."""
        mtype = msg["TYPE"]
        refused = None
        if (mtype == _ACK or mtype == _ERROR) and msg.get("SENT_BY") == HUB_NAME:  # a forged answer is only data
            if mtype == _ACK and "ROOMS" in msg:
                self.joined = frozenset(msg["ROOMS"])
            token = self._answers.pop(msg.get("REPLY_TO", ""), None)
            if token is not None:
                return Answered(token, msg, None if mtype == _ACK else HubError(msg))
            if mtype == _ACK:
                return None
            self.stats.hub_errors += 1
            refused = HubError(msg)
        if self._waiters:
            root = msg.get("ROOT_ID", "")
            waiters = self._waiters.get(root)
            if waiters:
                for i, waiter in enumerate(waiters):
                    if waiter.matches(msg, self.name):
                        del waiters[i]
                        if not waiters:
                            del self._waiters[root]
                        return Replied(waiter.token, msg, PeerError(msg) if waiter.refuses(msg) else None)
        handlers = self.match(msg)
        if refused is not None:
            return HubRefused(msg, refused, handlers)
        return Dispatch(msg, handlers) if handlers else None

    # -- handlers -------------------------------------------------------------------------------------------------

    def add_handler(
        self,
        fn: Callable[..., Any],
        trigger: Trigger,
        *,
        reply_type: str | None = None,
        reply_rooms: str | Iterable[str] | None = None,
        reply_to: str | None = None,
        in_thread: bool = False,
        group: str | None = None,
        context_keys: Iterable[str] = (),
    ) -> Handler:
        """Register a :class:`Handler` for ``fn`` (after the others: handlers see a message in registration order).

        The arguments are the :class:`Handler`'s attributes of the same names; ``reply_rooms`` may be one room
        (a string) or several, ``reply_type`` a :class:`~.messages.MessageType` or its string.
        """
        handler = Handler(
            fn=fn,
            trigger=trigger,
            reply_type=None if reply_type is None else str(reply_type),
            reply_rooms=_as_tuple(reply_rooms),
            reply_to=reply_to,
            in_thread=in_thread,
            group=group,
            context_keys=tuple(context_keys),
        )
        self.handlers.append(handler)
        self._matches.clear()
        return handler

    def remove_handler(self, handler: Handler) -> None:
        """Unregister ``handler``.

        Raises:
            ValueError: it is not registered.
        """
        self.handlers.remove(handler)
        self._matches.clear()

    def match(self, msg: Envelope) -> tuple[Handler, ...]:
        """The handlers ``msg`` fires, in registration order (remembered per TYPE, TO_ROOM and addressing)."""
        key = (msg["TYPE"], msg.get("TO_ROOM"), msg.get("TO") == self.name)
        found = self._matches.get(key)
        return found if found is not None else self._match(key)

    def _match(self, key: tuple[Any, Any, bool]) -> tuple[Handler, ...]:
        found = tuple(h for h in self.handlers if h.trigger._fires(*key))
        if len(self._matches) >= _MATCH_CACHE_SIZE:
            self._matches.clear()
        self._matches[key] = found
        return found

    def replies(self, handler: Handler, incoming: Envelope, result: Any) -> list[Envelope]:
        """The messages to send for what ``handler`` returned on ``incoming``.

        ``None`` gives none; a dict (or each dict of a list) is completed: ``ID`` filled if missing, ``TYPE`` from the
        handler's ``reply_type`` if missing, ``ROOT_ID`` and ``MODEL_STATUS`` carried over from ``incoming``, ``TO``
        set from ``reply_to`` (:data:`SENDER`: the incoming message's ``SENT_BY``); with ``reply_rooms`` and no
        ``TO_ROOM`` of its own, one copy per room, the copies sharing the ``ID`` (one logical message).

        Raises:
            TypeError: ``result`` is not None, a dict or a list of dicts.
        """
        if result is None:
            return []
        items = result if isinstance(result, list) else [result]
        replies: list[Envelope] = []
        for item in items:
            if not isinstance(item, dict):
                raise TypeError(f"handler {handler.name} returned {type(item).__name__}; expected dict, list or None")
            reply = dict(item)
            reply.setdefault("ID", new_id())
            if handler.reply_type is not None:
                reply.setdefault("TYPE", handler.reply_type)
            reply.setdefault("ROOT_ID", incoming.get("ROOT_ID", incoming["ID"]))
            if "MODEL_STATUS" in incoming:
                reply.setdefault("MODEL_STATUS", incoming["MODEL_STATUS"])
            target = incoming.get("SENT_BY") if handler.reply_to == SENDER else handler.reply_to
            if target is not None:
                reply.setdefault("TO", target)
            if handler.reply_rooms and "TO_ROOM" not in reply:
                replies.extend({**reply, "TO_ROOM": room} for room in handler.reply_rooms)
            else:
                replies.append(reply)
        return replies
