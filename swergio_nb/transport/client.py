"""The asyncio client: a component that joins rooms, runs handlers on incoming messages and sends their replies.

A handler is a function (plain or ``async``) registered with a :class:`Trigger` (which message types, from which
rooms) and a reply spec (reply type, reply rooms, or a component). Registering it makes the client join the
trigger's and the reply's rooms by itself, as in swergio. What the handler returns becomes the reply:

* ``None``: no reply;
* a dict (or a list of dicts): each is completed and sent. ``ID`` is filled if missing, ``TYPE`` from the reply
  type if missing, ``ROOT_ID`` and ``MODEL_STATUS`` are carried over from the incoming message, and one copy goes
  to each reply room (the copies share the ``ID``: it is one logical message) and/or to the reply component.

Each handler has its own worker task and queue, so one handler sees its messages in arrival order, a handler may
``await`` (even ``await client.request(...)``) without stopping the client from receiving, and a handler that raises
is logged with its traceback (and passed to :attr:`Client.error_listeners`) while the client keeps serving. A plain
(not ``async``, not ``in_thread``) handler whose queue is empty is called right away instead, as soon as websockets
has parsed the frame (:mod:`._websockets`), and its replies written at once if the connection is not backed
up (else its worker sends them): the same order and error handling, without a task switch per message. When a
handler's queue is full, the client stops reading from the socket until it has room, so TCP slows the hub down.
``in_thread=True`` runs a CPU-heavy handler in a worker thread so the event loop stays free.

Example::

    async with Client("model", hub.url) as client:
        @client.on(Trigger("DATA/FORWARD", "input"), reply_type="DATA/FORWARD", reply_rooms="output")
        def double(msg):
            return {"DATA": msg["DATA"] * 2}
        await client.run()
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import os
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import broadcast
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from ..exceptions import HubError, InvalidMessage, NotConnected
from ..protocol import codec
from ..protocol.limits import DEFAULT_MAX_SIZE, TOKEN_ENV
from ..protocol.messages import new_id, validate
from ..protocol.urls import redact, with_token
from ._websockets import DIRECT_WRITE_LIMIT, DeliveringClientConnection

__all__ = ["Client", "Trigger", "Handler", "SENDER", "ClientStats"]

logger = logging.getLogger("swergio_nb.transport.client")

#: Use as ``reply_to=SENDER`` to answer the component that sent the triggering message.
SENDER = "<sender>"


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

    def matches(self, msg: dict[str, Any], name: str) -> bool:
        """True if ``msg`` (received by the component called ``name``) fires this trigger."""
        if msg.get("TYPE") not in self.types:
            return False
        room = msg.get("TO_ROOM")
        if room is not None and (self.rooms is None or room in self.rooms):
            return True
        return self.direct and msg.get("TO") == name


@dataclass(eq=False)
class Handler:
    """A registered handler (returned by :meth:`Client.add_handler`); counters are updated as it runs."""

    fn: Callable[..., Any]
    trigger: Trigger
    reply_type: str | None = None
    reply_rooms: tuple[str, ...] | None = None
    reply_to: str | None = None
    in_thread: bool = False
    context_keys: tuple[str, ...] = ()
    calls: int = 0  #: messages handled
    errors: int = 0  #: calls that raised
    queue: asyncio.Queue | None = field(default=None, repr=False)
    task: asyncio.Task | None = field(default=None, repr=False)
    inline: bool = field(default=False, repr=False)  #: a plain function: may run at once when idle
    busy: bool = field(default=False, repr=False)  #: its worker is handling an item

    @property
    def name(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))

    def rooms(self) -> set[str]:
        """Rooms this handler needs to be a member of."""
        return set(self.trigger.rooms or ()) | set(self.reply_rooms or ())


@dataclass(slots=True)
class ClientStats:
    """Counters of a client."""

    sent: int = 0  #: frames sent
    received: int = 0  #: frames received
    undecodable: int = 0  #: frames received that were not valid messages
    hub_errors: int = 0  #: LOG/ERROR answers from the hub that no request was waiting for
    reconnects: int = 0  #: connections regained after a loss
    paused: int = 0  #: times the client stopped reading from the hub because a handler's queue was full


@dataclass(slots=True, eq=False)
class _Continuation:
    """What an inline handler call left for its worker: an awaitable result, or replies still to send."""

    msg: dict[str, Any]
    result: Any  #: an awaitable (the handler's result), or the list of replies not sent yet


@dataclass(slots=True, eq=False)
class _Waiter:
    future: asyncio.Future
    room: str | None
    type: str | None

    def matches(self, msg: dict[str, Any], name: str) -> bool:
        if self.type is not None and msg.get("TYPE") != self.type:
            return False
        if self.room is not None:
            return msg.get("TO_ROOM") == self.room
        return msg.get("TO") == name


class Client:
    """A swergio component connected to a hub.

    Args:
        name: the component's name, unique on the hub; other components address it with ``TO``.
        url: the hub's URL, e.g. ``ws://127.0.0.1:8765``.
        max_size: largest frame accepted from the hub, in bytes; None disables the limit.
        queue_size: messages waiting per handler before the client stops reading (backpressure to the hub).
        timeout: default seconds to wait for the hub to acknowledge a command.
        ping_interval: seconds between keepalive pings; None disables them.
        ping_timeout: seconds to wait for a pong before giving the connection up; None (the default) waits
            forever, so a hub that is alive but busy (an in-kernel hub while a notebook cell blocks the kernel's
            loop for minutes) costs no connection and no message. A hub that dies closes the TCP connection, which
            is noticed without pings.
        token: the hub's token, if ``url`` does not carry one (``?token=...``); default: ``SWERGIO_TOKEN``.
        reconnect: after losing an established connection (the hub restarted, the network dropped), reconnect
            with exponential backoff and full jitter, re-register, rejoin every room and keep the handlers. False:
            the client stops and :meth:`run` returns.
        backoff: ``(first, longest)`` reconnection delay caps in seconds; the cap doubles per failed attempt and
            each wait is uniform in [0, cap] ("full jitter", AWS Architecture Blog, *Exponential Backoff And
            Jitter*, 2015).
        max_buffer: messages kept while reconnecting, sent in order once connected again; one more raises
            :class:`~swergio_nb.exceptions.NotConnected` ("buffer full").
        **context: values handed to handlers by parameter name, as swergio did (a handler ``def h(msg, memory)``
            receives ``context["memory"]``). ``client`` is always available.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        max_size: int | None = DEFAULT_MAX_SIZE,
        queue_size: int = 1024,
        timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = None,
        token: str | None = None,
        reconnect: bool = True,
        backoff: tuple[float, float] = (0.05, 5.0),
        max_buffer: int = 1000,
        **context: Any,
    ) -> None:
        self.name = name
        self.url = with_token(url, token if token is not None else os.environ.get(TOKEN_ENV))
        self.max_size = max_size
        self.queue_size = queue_size
        self.timeout = timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.context: dict[str, Any] = {"client": self, **context}
        self.handlers: list[Handler] = []
        self.stats = ClientStats()
        #: Called as ``listener(handler, message, exception)`` when a handler raises.
        self.error_listeners: list[Callable[[Handler, dict, BaseException], Any]] = []
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task | None = None
        self._joined: set[str] = set()
        self._acks: dict[str, asyncio.Future] = {}
        self._waiters: dict[str, list[_Waiter]] = {}
        self._pending_joins: set[asyncio.Task] = set()
        self._closed: asyncio.Future | None = None
        self._connecting: asyncio.Future | None = None
        self.reconnect = reconnect
        self.backoff = backoff
        self.max_buffer = max_buffer
        self._online: ClientConnection | None = None  # the connection once registered and rejoined
        self._closing = False
        self._reconnecting: asyncio.Task | None = None
        self._buffer: collections.deque[str | bytes] = collections.deque()
        self._wanted: set[str] = set()  # rooms joined with join_room(), rejoined after a reconnection

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the connection to the hub is open and registered (False while reconnecting)."""
        return self._online is not None and self._online is self._ws

    @property
    def reconnecting(self) -> bool:
        """True while the client tries to get its lost connection back."""
        return self._reconnecting is not None and not self._reconnecting.done()

    @property
    def rooms_joined(self) -> frozenset[str]:
        """Rooms the hub has confirmed this client is in."""
        return frozenset(self._joined)

    async def connect(self) -> Client:
        """Open the connection, register the name, join every room the handlers need, start the handlers.

        Returns:
            self.

        Raises:
            OSError: the hub cannot be reached.
            HubError: the hub refused the registration (e.g. ``name-taken``).
        """
        if self.connected:
            return self
        self._closing = False
        if self._closed is None or self._closed.done():
            self._closed = asyncio.get_running_loop().create_future()
        try:
            await self._open()
        except BaseException:
            await self.close()
            raise
        return self

    async def _open(self) -> None:
        """One connection attempt: connect, register, start handlers, (re)join rooms. Raises on failure."""
        ws = await connect(
            self.url,
            max_size=self.max_size,
            compression=None,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            proxy=None,
            open_timeout=self.timeout,
            create_connection=DeliveringClientConnection,
        )
        ws.start_delivery(self._receive)
        self._ws = ws
        self._joined.clear()
        self._reader = asyncio.create_task(self._read(ws), name=f"swergio-client-{self.name}")
        try:
            await self._command({"TYPE": "COMMAND/REGISTER", "NAME": self.name}, control=True)
            for handler in self.handlers:
                self._start(handler)
            for room in sorted(self._wanted.union(*(h.rooms() for h in self.handlers))):
                if room not in self._joined:
                    await self._command({"TYPE": "COMMAND/JOINROOM", "ROOM": room}, control=True)
            while self._buffer:  # what was sent while reconnecting, in order
                await ws.send(self._buffer[0])
                self._buffer.popleft()
                self.stats.sent += 1
        except BaseException:
            if self._ws is ws:
                self._ws = None
            await ws.close()
            raise
        self._online = ws

    async def _reconnect(self) -> None:
        cap, longest = self.backoff
        while not self._closing:
            await asyncio.sleep(random.uniform(0, cap))
            try:
                await self._open()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused, unreachable, name still taken by the old connection...
                logger.info("%s: reconnection failed (%s); next attempt within %.2f s", self.name, exc, cap)
                cap = min(cap * 2, longest)
                continue
            self.stats.reconnects += 1
            logger.info("%s: reconnected to %s", self.name, redact(self.url))
            return

    def connect_soon(self) -> asyncio.Future:
        """Start connecting in the background (for synchronous code on the loop, e.g. a notebook magic).

        :meth:`send`, :meth:`request`, :meth:`join_room`, :meth:`leave_room` and :meth:`room_table` wait for
        this connection first, and raise what it raised if it failed.

        Returns:
            The future of :meth:`connect`.

        Raises:
            RuntimeError: if no event loop is running.
        """
        if self._connecting is None or (self._connecting.done() and not self.connected):
            self._connecting = asyncio.ensure_future(self.connect())
        return self._connecting

    async def ready(self) -> None:
        """Wait until the client is connected and every room its handlers need is joined.

        Raises:
            NotConnected: the background connection (:meth:`connect_soon`) failed or there is none.
        """
        await self._ready()
        if not self.connected:
            raise NotConnected(f"client {self.name!r} is not connected")
        while self._pending_joins:
            await asyncio.gather(*list(self._pending_joins))

    async def _ready(self) -> None:
        connecting = self._connecting
        if connecting is not None and not connecting.done():
            await asyncio.shield(connecting)
        elif connecting is not None and connecting.exception() is not None and not self.connected:
            raise NotConnected(f"client {self.name!r} failed to connect: {connecting.exception()}")

    async def close(self) -> None:
        """Close the connection and stop the handlers' workers (no reconnection). Safe to call twice.

        Messages still buffered for a reconnection are dropped (and logged).
        """
        self._closing = True
        ws, self._ws, self._online = self._ws, None, None
        if self._buffer:
            logger.warning("%s: closing with %d buffered messages unsent", self.name, len(self._buffer))
            self._buffer.clear()
        draining = getattr(ws, "draining", None)
        extra = [self._reader, self._reconnecting, draining, *(h.task for h in self.handlers), *self._pending_joins]
        tasks = [t for t in extra if t is not None]
        for handler in self.handlers:
            handler.task, handler.queue = None, None
        self._reader, self._reconnecting = None, None
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        if ws is not None:
            await ws.close()
        await asyncio.gather(*(t for t in tasks if t is not current), return_exceptions=True)
        self._fail_pending(NotConnected("the client was closed"))
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    async def run(self) -> None:
        """Serve (run handlers) until :meth:`close`, or until the connection is lost and ``reconnect`` is False;
        connects first if needed."""
        await self.connect()
        assert self._closed is not None
        await asyncio.shield(self._closed)

    async def __aenter__(self) -> Client:
        return await self.connect()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    # -- handlers ----------------------------------------------------------------------------------------------

    def add_handler(
        self,
        fn: Callable[..., Any],
        trigger: Trigger,
        *,
        reply_type: str | None = None,
        reply_rooms: str | Iterable[str] | None = None,
        reply_to: str | None = None,
        in_thread: bool = False,
    ) -> Handler:
        """Register ``fn`` to run on every message matching ``trigger``.

        Args:
            fn: ``fn(msg, **context)``; plain function or coroutine function. It receives the message dict and any
                parameters named like entries of :attr:`context`. Its return value becomes the reply (see module
                docstring).
            trigger: which messages fire it.
            reply_type: ``TYPE`` given to replies that do not set one.
            reply_rooms: room or rooms each reply is sent to (one copy each).
            reply_to: component each reply is sent to, or :data:`SENDER` for the triggering message's sender.
            in_thread: run ``fn`` in a worker thread (for CPU-heavy plain functions).

        Returns:
            The :class:`Handler`. If the client is already connected, its rooms are joined in the background;
            the next :meth:`send` or :meth:`request` waits for those joins.
        """
        params = inspect.signature(fn).parameters
        keys = tuple(k for k in params if k in self.context and k != next(iter(params), None))
        handler = Handler(
            fn=fn,
            trigger=trigger,
            reply_type=None if reply_type is None else str(reply_type),
            reply_rooms=_as_tuple(reply_rooms),
            reply_to=reply_to,
            in_thread=in_thread,
            context_keys=keys,
            inline=not in_thread and not inspect.iscoroutinefunction(inspect.unwrap(fn)),
        )
        self.handlers.append(handler)
        if self.connected:
            self._start(handler)
            missing = handler.rooms() - self._joined
            if missing:
                task = asyncio.create_task(self._join_all(missing))
                self._pending_joins.add(task)
                task.add_done_callback(self._pending_joins.discard)
        return handler

    def on(self, trigger: Trigger, **reply_spec: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of :meth:`add_handler`: ``@client.on(Trigger(...), reply_rooms="output")``."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add_handler(fn, trigger, **reply_spec)
            return fn

        return register

    def add_eventHandler(  # noqa: N802 - swergio's name, kept so its users feel at home
        self,
        handleFunction: Callable[..., Any],  # noqa: N803
        responseType: Any = None,  # noqa: N803
        responseRooms: str | list[str] | None = None,  # noqa: N803
        responseComponent: str | None = None,  # noqa: N803
        trigger: Trigger | None = None,
    ) -> Handler:
        """swergio 0.0.2's spelling of :meth:`add_handler`."""
        if trigger is None:
            raise ValueError("a handler needs a trigger")
        return self.add_handler(
            handleFunction,
            trigger,
            reply_type=None if responseType is None else str(responseType),
            reply_rooms=responseRooms,
            reply_to=responseComponent,
        )

    def remove_handler(self, handler: Handler) -> None:
        """Unregister ``handler`` and stop its worker (rooms stay joined)."""
        self.handlers.remove(handler)
        if handler.task is not None:
            handler.task.cancel()
        handler.task, handler.queue = None, None

    # -- sending -----------------------------------------------------------------------------------------------

    async def send(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Send a message; fills ``ID`` (and ``ROOT_ID`` = ``ID``) when missing.

        Args:
            msg: the envelope; DATA may hold numpy arrays or torch tensors (sent as a binary frame).

        Returns:
            The message as sent (a shallow copy of ``msg`` with the filled fields).

        Raises:
            InvalidMessage: the message breaks the protocol (nothing is sent).
            NotConnected: no live connection.
        """
        msg = self._complete(msg)
        await self._ready()
        if self._pending_joins:
            await asyncio.gather(*list(self._pending_joins))
        await self._send_frame(codec.encode(msg))
        return msg

    async def request(
        self,
        msg: dict[str, Any],
        *,
        reply_room: str | None = None,
        reply_type: str | None = None,
        timeout: float | None = 30.0,
    ) -> dict[str, Any]:
        """Send ``msg`` and wait for the reply in its chain (same ``ROOT_ID``).

        The reply is the first message with that ``ROOT_ID`` that arrives in ``reply_room`` (joined first if
        needed), or, without ``reply_room``, that is addressed to this component by name; ``reply_type`` narrows
        it further. The reply is consumed: handlers do not see it.

        Args:
            msg: the envelope to send.
            reply_room: room the reply will arrive in.
            reply_type: ``TYPE`` the reply must have.
            timeout: seconds to wait; None waits forever.

        Returns:
            The reply message (arrays in DATA as numpy arrays).

        Raises:
            TimeoutError: no reply within ``timeout``.
            HubError: the hub refused ``msg``.
            NotConnected: the connection closed while waiting.
        """
        msg = self._complete(msg)
        await self._ready()
        if reply_room is not None:
            await self.join_room(reply_room)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        waiter = _Waiter(future, reply_room, None if reply_type is None else str(reply_type))
        root, mid = msg["ROOT_ID"], msg["ID"]
        self._waiters.setdefault(root, []).append(waiter)
        self._acks[mid] = future
        try:
            await self.send(msg)
            return await asyncio.wait_for(future, timeout)
        finally:
            self._acks.pop(mid, None)
            waiters = self._waiters.get(root)
            if waiters is not None:
                if waiter in waiters:
                    waiters.remove(waiter)
                if not waiters:
                    del self._waiters[root]

    async def join_room(self, room: str) -> None:
        """Join ``room`` (no-op if already in it); returns once the hub confirmed.

        Raises:
            HubError: the hub refused.
        """
        await self._ready()
        await self._join(room)

    async def leave_room(self, room: str) -> None:
        """Leave ``room``; returns once the hub confirmed."""
        await self._ready()
        self._wanted.discard(room)
        await self._command({"TYPE": "COMMAND/LEAVEROOM", "ROOM": room})

    async def room_table(self) -> dict[str, list[str]]:
        """Every room on the hub with the names of its members."""
        await self._ready()
        ack = await self._command({"TYPE": "COMMAND/ROOMS"})
        return ack["TABLE"]

    # -- internals ---------------------------------------------------------------------------------------------

    def _complete(self, msg: dict[str, Any]) -> dict[str, Any]:
        msg = dict(msg)
        if "ID" not in msg:
            msg["ID"] = new_id()
        if "TYPE" in msg:
            msg["TYPE"] = str(msg["TYPE"])
        msg.setdefault("ROOT_ID", msg["ID"])
        msg.pop("SENT_BY", None)
        return validate(msg)

    async def _send_frame(self, frame: str | bytes, *, control: bool = False) -> None:
        """Send on the live connection; while reconnecting, buffer it (bounded). ``control``: the connection's
        own registration and joins, sent before it counts as live."""
        ws = self._ws if control else self._online
        if ws is None or ws is not self._ws:
            if not control and self.reconnecting:
                self._buffer_frame(frame)
                return
            raise NotConnected(f"client {self.name!r} is not connected")
        try:
            if not self._write_now(ws, frame):
                await ws.send(frame)  # waits for the transport to drain; raises if the connection closed
        except ConnectionClosed as exc:
            if not control and self.reconnect and not self._closing:
                self._buffer_frame(frame)  # not written: it goes out after the reconnection
                return
            raise NotConnected(f"client {self.name!r} lost its connection: {exc}") from exc
        self.stats.sent += 1

    def _buffer_frame(self, frame: str | bytes) -> None:
        if len(self._buffer) >= self.max_buffer:
            raise NotConnected(
                f"client {self.name!r} is reconnecting and its send buffer is full ({self.max_buffer} messages)"
            )
        self._buffer.append(frame)

    async def _command(self, msg: dict[str, Any], *, control: bool = False) -> dict[str, Any]:
        msg = self._complete(msg)
        future = asyncio.get_running_loop().create_future()
        self._acks[msg["ID"]] = future
        try:
            await self._send_frame(codec.encode(msg), control=control)
            ack = await asyncio.wait_for(future, self.timeout)
        finally:
            self._acks.pop(msg["ID"], None)
        self._joined = set(ack.get("ROOMS", self._joined))
        return ack

    async def _join(self, room: str) -> None:
        self._wanted.add(room)
        if room not in self._joined:
            await self._command({"TYPE": "COMMAND/JOINROOM", "ROOM": room})

    async def _join_all(self, rooms: Iterable[str]) -> None:
        for room in sorted(rooms):
            await self._join(room)

    def _start(self, handler: Handler) -> None:
        if handler.task is None:
            handler.queue = asyncio.Queue(self.queue_size)
            handler.task = asyncio.create_task(self._work(handler), name=f"swergio-handler-{handler.name}")

    def _receive(self, frame: str | bytes) -> Awaitable[None] | None:
        """Decode, check and dispatch one frame from the hub (see :meth:`_dispatch` for what it returns)."""
        self.stats.received += 1
        try:
            msg = validate(codec.decode(frame), require_address=False)
        except InvalidMessage as exc:
            self.stats.undecodable += 1
            logger.warning("%s: dropped an undecodable frame: %s", self.name, exc)
            return None
        waiting = self._dispatch(msg)
        if waiting is not None:
            self.stats.paused += 1
        return waiting

    async def _read(self, ws: DeliveringClientConnection) -> None:
        """Wait for the connection's end, dispatching what websockets' usual path delivers (frames after a
        fragmented message; all others are handed to :meth:`_receive` as they are parsed: :mod:`.delivery`)."""
        try:
            with contextlib.suppress(ConnectionClosed):  # a lost connection is handled below
                async for frame in ws:
                    await ws.wait_delivered()  # frames parsed earlier go first
                    waiting = self._receive(frame)
                    if waiting is not None:  # a handler's queue is full: stop reading until it has room
                        await waiting
        finally:
            if self._ws is ws:
                self._ws = None
                self._fail_pending(NotConnected(f"client {self.name!r}: the connection to the hub was lost"))
                if self._online is ws:
                    self._online = None
                    if self.reconnect and not self._closing:
                        logger.warning("%s: lost the connection to the hub; reconnecting", self.name)
                        self._reconnecting = asyncio.create_task(
                            self._reconnect(), name=f"swergio-reconnect-{self.name}"
                        )
                    elif self._closed is not None and not self._closed.done():
                        self._closed.set_result(None)

    def _dispatch(self, msg: dict[str, Any]) -> Awaitable[None] | None:
        """Hand ``msg`` to whoever waits for it or to its handlers; returns what must be awaited first if a
        handler's queue is full (the rest of the handlers get it after), else None."""
        mtype = msg["TYPE"]
        if mtype == "COMMAND/ACK" or mtype == "LOG/ERROR":
            future = self._acks.get(msg.get("REPLY_TO", ""))
            if future is not None and not future.done():
                if mtype == "COMMAND/ACK":
                    future.set_result(msg)
                else:
                    future.set_exception(HubError(msg))
                return None
            if mtype == "COMMAND/ACK":
                return None
            self.stats.hub_errors += 1
            logger.warning("%s: the hub answered %s: %s", self.name, msg.get("ERROR"), msg.get("DETAIL"))
        waiters = self._waiters and self._waiters.get(msg.get("ROOT_ID", ""))
        if waiters:
            for waiter in waiters:
                if not waiter.future.done() and waiter.matches(msg, self.name):
                    waiter.future.set_result(msg)
                    return None
        handlers = tuple(self.handlers)  # a handler run inline may add or remove handlers
        for i, handler in enumerate(handlers):
            queue = handler.queue
            if queue is not None and handler.trigger.matches(msg, self.name):
                if handler.inline and not handler.busy and not queue.qsize():
                    self._call_inline(handler, msg)
                elif queue.full():
                    return self._put_when_room(msg, handlers[i:])
                else:
                    queue.put_nowait(msg)
        return None

    async def _put_when_room(self, msg: dict[str, Any], handlers: tuple[Handler, ...]) -> None:
        """The slow path of :meth:`_dispatch`: wait for room in each matching handler's queue, in order."""
        for handler in handlers:
            queue = handler.queue
            if queue is not None and handler.trigger.matches(msg, self.name):
                await queue.put(msg)

    def _call_inline(self, handler: Handler, msg: dict[str, Any]) -> None:
        """Run a plain handler now, as its frame arrives; what cannot finish without waiting goes to its worker."""
        handler.calls += 1
        try:
            keys = handler.context_keys
            result = handler.fn(msg, **{k: self.context[k] for k in keys}) if keys else handler.fn(msg)
            if result is None:
                return
            if inspect.isawaitable(result):  # a plain function returned an awaitable: the worker awaits it
                handler.queue.put_nowait(_Continuation(msg, result))
                return
            replies = self._replies(handler, msg, result)
            while replies and self._send_now(replies[0]):
                replies.pop(0)
            if replies:  # the connection is backed up: the worker waits for it, in order
                handler.queue.put_nowait(_Continuation(msg, replies))
        except Exception as exc:
            self._handler_failed(handler, msg, exc)

    def _send_now(self, msg: dict[str, Any]) -> bool:
        """Send ``msg`` if that needs no waiting (connected, joins done, transport not backed up); else False."""
        ws = self._online
        if ws is None or ws is not self._ws or self._pending_joins:
            return False
        if not self._write_now(ws, codec.encode(self._complete(msg))):
            return False
        self.stats.sent += 1
        return True

    def _write_now(self, ws: ClientConnection, frame: str | bytes) -> bool:
        """Write ``frame`` at once (websockets' ``broadcast`` to this one connection: no drain to wait for) if the
        connection is open and its transport holds less than :data:`~swergio_nb.transport.hub.DIRECT_WRITE_LIMIT` bytes;
        False if it would have to wait.

        Raises:
            NotConnected: the write failed.
        """
        if ws.state is not State.OPEN or ws.transport.get_write_buffer_size() >= DIRECT_WRITE_LIMIT:
            return False
        try:
            broadcast((ws,), frame, raise_exceptions=True)
        except Exception as exc:  # broadcast reports write failures as an exception group
            raise NotConnected(f"client {self.name!r} could not write to the hub: {exc!r}") from exc
        return True

    def _handler_failed(self, handler: Handler, msg: dict[str, Any], exc: Exception) -> None:
        handler.errors += 1
        logger.error("%s: handler %s raised on %s %s", self.name, handler.name, msg["TYPE"], msg["ID"], exc_info=exc)
        for listener in list(self.error_listeners):
            try:
                listener(handler, msg, exc)
            except Exception:
                logger.exception("%s: error listener raised", self.name)

    async def _work(self, handler: Handler) -> None:
        queue = handler.queue
        assert queue is not None
        while True:
            item = await queue.get()
            handler.busy = True
            try:
                if type(item) is _Continuation:
                    msg, result = item.msg, item.result
                    replies = result if isinstance(result, list) else None
                    if replies is None:
                        replies = self._replies(handler, msg, await result)
                else:
                    msg = item
                    handler.calls += 1
                    kwargs = {k: self.context[k] for k in handler.context_keys}
                    if handler.in_thread:
                        result = await asyncio.to_thread(handler.fn, msg, **kwargs)
                    else:
                        result = handler.fn(msg, **kwargs)
                        if inspect.isawaitable(result):
                            result = await result
                    replies = self._replies(handler, msg, result)
                for reply in replies:
                    await self.send(reply)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._handler_failed(handler, msg, exc)
            finally:
                handler.busy = False

    @staticmethod
    def _replies(handler: Handler, incoming: dict[str, Any], result: Any) -> list[dict[str, Any]]:
        if result is None:
            return []
        items = result if isinstance(result, list) else [result]
        replies: list[dict[str, Any]] = []
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

    def _fail_pending(self, exc: BaseException) -> None:
        for future in list(self._acks.values()):
            if not future.done():
                future.set_exception(exc)
        for waiters in list(self._waiters.values()):
            for waiter in waiters:
                if not waiter.future.done():
                    waiter.future.set_exception(exc)
