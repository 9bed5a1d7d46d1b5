"""The asyncio client: a thin adapter that runs the sans-I/O :class:`~swergio_nb.protocol.endpoint.Endpoint` over a
websockets connection.

The endpoint decides (registration, joins, which handlers a message fires, which reply a request waited for, what a
handler's result becomes); :mod:`.connection` moves the frames (and reconnects), :mod:`.handlers` runs the handlers,
and this module ties them together behind swergio's API. A handler is a function
(plain or ``async``) registered with a :class:`Trigger` and a reply spec; registering it makes the client join the
trigger's and the reply's rooms by itself, as in swergio. What it returns becomes the reply
(:meth:`Endpoint.replies <swergio_nb.protocol.endpoint.Endpoint.replies>`).

Each handler has a worker and a bounded queue (plain functions run inline when idle); a full queue stops the
reading, so TCP slows the hub down.

Example::

    async with Client("model", hub.url) as client:
        @client.on(Trigger("DATA/FORWARD", "input"), reply_type="DATA/FORWARD", reply_rooms="output")
        def double(msg):
            return {"DATA": msg["DATA"] * 2}
        await client.run()
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Sequence
from ssl import SSLContext
from typing import Any, Literal

from ..exceptions import NotConnected
from ..protocol import codec
from ..protocol.endpoint import (
    SENDER,
    Answered,
    ClientStats,
    ConnectionState,
    Dispatch,
    Endpoint,
    Handler,
    HubRefused,
    Replied,
    Trigger,
)
from ..protocol.limits import DEFAULT_MAX_BUFFER, DEFAULT_MAX_BUFFER_BYTES, DEFAULT_MAX_SIZE, TOKEN_ENV
from ..protocol.messages import MessageType
from ..protocol.urls import with_token
from .connection import HubConnection, fail
from .handlers import HandlerRunner

__all__ = ["Client", "Trigger", "Handler", "SENDER", "ClientStats", "Sending"]

logger = logging.getLogger(__name__)

_OPEN = ConnectionState.OPEN


class Sending(Coroutine[Any, Any, dict[str, Any]]):
    """What :meth:`Client.send` returns: the send, which happens when it is awaited (a coroutine, for asyncio).

    One that is garbage collected without ever having been awaited (``client.send(msg)`` with the ``await``
    forgotten) sent nothing; that is logged as an ERROR on ``swergio_nb.transport.client`` naming the message and the
    line that called ``send()``, in place of Python's easily missed ``RuntimeWarning``. (For synchronous code,
    :class:`swergio_nb.compat.Client` has a ``send()`` that needs no ``await``.)
    """

    __slots__ = ("_coro", "_started", "_file", "_line")

    def __init__(self, coro: Coroutine[Any, Any, dict[str, Any]], caller: Any) -> None:
        self._coro = coro  # Client._send_within(self, msg, timeout), not started
        self._started = False
        self._file = caller.f_code.co_filename  # where send() was called (not the frame: it would keep its locals)
        self._line = caller.f_lineno

    def __await__(self) -> Generator[Any, None, dict[str, Any]]:
        self._started = True
        return self._coro.__await__()

    def send(self, value: Any) -> Any:
        self._started = True
        return self._coro.send(value)

    def throw(self, *args: Any) -> Any:
        self._started = True
        return self._coro.throw(*args)

    def close(self) -> None:
        self._started = True
        self._coro.close()

    def __del__(self) -> None:
        if not self._started:
            args = self._coro.cr_frame.f_locals  # the arguments of the coroutine that never ran
            self._coro.close()  # no RuntimeWarning as well: this error says it
            logger.error(
                "%s: send() of %s message %s was never awaited, so it was not sent (called at %s:%d). "
                "Write `await client.send(...)`.",
                args["self"].name,
                args["msg"].get("TYPE"),
                args["msg"].get("ID"),
                self._file,
                self._line,
            )


class Client:
    """A swergio component connected to a hub.

    Args:
        name: the component's name, unique on the hub; other components address it with ``TO``.
        url: the hub's URL, e.g. ``ws://127.0.0.1:8765``; or a list of the URLs of hubs that share their rooms
            (``--backplane``): the client connects to the first it reaches and, when that hub goes away, fails over
            to the next with the same backoff, re-registering and rejoining its rooms there
            (:mod:`~swergio_nb.transport.connection`).
        max_size: largest frame accepted from the hub, in bytes; None disables the limit.
        queue_size: messages waiting per handler before the client stops reading (backpressure to the hub).
        timeout: default seconds to wait for the hub to acknowledge a command.
        ping_interval: seconds between keepalive pings; None disables them.
        ping_timeout: seconds to wait for the hub's pong before giving the connection up (and reconnecting), counted
            only while this client's own loop runs: a cell that blocks this loop costs no connection. ``"hub"`` (the
            default): what the hub announces when the client registers: 20 s for a standalone hub, never (None) for
            a hub on a notebook kernel's loop, which a cell may block. So a hub that freezes (a stopped process, a
            dead network path) is noticed within ``ping_interval + ping_timeout``; one that dies closes the TCP
            connection, which is noticed at once.
        token: the hub's token, if ``url`` does not carry one (``?token=...``); default: ``SWERGIO_TOKEN``.
        urls: the same as a list for ``url`` (give one of the two).
        reconnect: after losing an established connection, reconnect with exponential backoff and full jitter
            (:func:`~swergio_nb.protocol.endpoint.backoff`), re-register, rejoin every room and keep the handlers.
            False: the client stops and :meth:`run` returns.
        backoff: ``(first, longest)`` reconnection delay caps in seconds.
        max_buffer: messages kept while reconnecting, sent in order once connected again; one more raises
            :class:`~swergio_nb.exceptions.NotConnected` ("buffer full").
        ssl: the :class:`ssl.SSLContext` that verifies a ``wss://`` hub; None: Python's default (the system's
            certificate authorities, or the file ``SSL_CERT_FILE`` names).
        max_buffer_bytes: the size bound of those messages, in bytes (characters of text frames; default 128 MiB):
            a message that would pass it raises the same error, so an outage cannot grow the process without bound.
        **context: values handed to handlers by parameter name, as swergio did (a handler ``def h(msg, memory)``
            receives ``context["memory"]``). ``client`` is always available.

    Raises:
        ValueError: both ``url`` and ``urls`` given, or neither, or an empty list.

    Attributes:
        url: the first hub's URL, with its token.
        urls: every hub's URL, with its token.
        endpoint: the sans-I/O :class:`~swergio_nb.protocol.endpoint.Endpoint` (state, handlers, joined rooms).
        error_listeners: called as ``listener(handler, message, exception)`` when a handler raises.
    """

    def __init__(
        self,
        name: str,
        url: str | Sequence[str] | None = None,
        *,
        max_size: int | None = DEFAULT_MAX_SIZE,
        queue_size: int = 1024,
        timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | Literal["hub"] | None = "hub",
        token: str | None = None,
        reconnect: bool = True,
        backoff: tuple[float, float] = (0.05, 5.0),
        ssl: SSLContext | None = None,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
        urls: Sequence[str] | None = None,
        **context: Any,
    ) -> None:
        if (url is None) == (urls is None):
            raise ValueError(f"Client {name!r}: give the hub's URL (url=) or several (urls=), not both or neither")
        given = urls if urls is not None else [url] if isinstance(url, str) else url
        token = token if token is not None else os.environ.get(TOKEN_ENV)
        self.urls = [with_token(u, token) for u in given]  # type: ignore[union-attr]
        if not self.urls:
            raise ValueError(f"Client {name!r}: the list of hub URLs is empty")
        self.name = name
        self.url = self.urls[0]
        self.queue_size = queue_size
        self.timeout = timeout
        self.endpoint = Endpoint(name, max_buffer=max_buffer, max_buffer_bytes=max_buffer_bytes)
        self.context: dict[str, Any] = {"client": self, **context}
        self.runner = HandlerRunner(self.endpoint, self.context, queue_size, self._send_reply, self._send_now)
        #: Called as ``listener(handler, message, exception)`` when a handler raises.
        self.error_listeners = self.runner.error_listeners
        self.connection = HubConnection(
            self.endpoint,
            self.urls,
            self._receive,
            opened=self._start_handlers,
            finished=self._finished,
            max_size=max_size,
            timeout=timeout,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            reconnect=reconnect,
            backoff=backoff,
            ssl=ssl,
        )
        self._pending_joins: set[asyncio.Task] = set()
        self._closed: asyncio.Future | None = None
        self._connecting: asyncio.Future | None = None

    @property
    def handlers(self) -> list[Handler]:
        """The registered handlers, in registration order."""
        return self.endpoint.handlers

    @property
    def stats(self) -> ClientStats:
        return self.endpoint.stats

    @property
    def connected(self) -> bool:
        """True while the connection to the hub is open and registered (False while reconnecting)."""
        return self.endpoint.state is _OPEN and self.connection.ws is not None

    @property
    def reconnecting(self) -> bool:
        """True while the client tries to get its lost connection back."""
        return self.endpoint.state is ConnectionState.RECONNECTING

    @property
    def rooms_joined(self) -> frozenset[str]:
        """Rooms the hub has confirmed this client is in."""
        return self.endpoint.joined

    # -- lifecycle ---------------------------------------------------------------------------------------------

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
        self.connection.closing = False
        if self._closed is None or self._closed.done():
            self._closed = asyncio.get_running_loop().create_future()
        if self.endpoint.state is ConnectionState.CLOSED:
            self.endpoint.begin()
        try:
            await self.connection.open_any()
        except BaseException:
            await self.close()
            raise
        return self

    def connect_soon(self) -> asyncio.Future:
        """Start connecting in the background (for synchronous code on the loop, e.g. a notebook magic).

        :meth:`send`, :meth:`request`, :meth:`join_room`, :meth:`leave_room` and :meth:`room_table` wait for this
        connection first, and raise what it raised if it failed.

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
        waiting, dropped = self.endpoint.close()
        if dropped:
            logger.warning("%s: closing with %d buffered messages unsent", self.name, dropped)
        current = asyncio.current_task()
        tasks = [t for t in (*map(self.runner.stop, self.handlers), *self._pending_joins) if t not in (None, current)]
        for task in tasks:
            task.cancel()
        await self.connection.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        fail(waiting, NotConnected("the client was closed"))
        self._finished()

    async def run(self) -> None:
        """Serve (run handlers) until :meth:`close`, or until the connection is lost and ``reconnect`` is False;
        connects first if needed.

        Raises:
            NotConnected: reconnecting stopped because the hub refused the token (HTTP 401/403: restarted with
                another token); the message says so.
        """
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
        group: str | None = None,
    ) -> Handler:
        """Register ``fn`` to run on every message matching ``trigger``.

        Args:
            fn: ``fn(msg, **context)``; plain function or coroutine function. It receives the message dict and any
                parameters named like entries of :attr:`context`. Its return value becomes the reply.
            trigger: which messages fire it.
            reply_type: ``TYPE`` given to replies that do not set one.
            reply_rooms: room or rooms each reply is sent to (one copy each).
            reply_to: component each reply is sent to, or :data:`SENDER` for the triggering message's sender.
            in_thread: run ``fn`` in a worker thread (for CPU-heavy plain functions).
            group: handlers given the same group share one worker: one message at a time, in arrival order across
                them (default: each handler has its own worker, so handlers of different triggers run side by side).

        Returns:
            The :class:`Handler`. If the client is already connected, its rooms are joined in the background; the
            next :meth:`send` or :meth:`request` waits for those joins.
        """
        params = inspect.signature(fn).parameters
        first = next(iter(params), None)
        handler = self.endpoint.add_handler(
            fn,
            trigger,
            reply_type=reply_type,
            reply_rooms=reply_rooms,
            reply_to=reply_to,
            in_thread=in_thread,
            group=group,
            context_keys=(k for k in params if k in self.context and k != first),
        )
        if self.connected:
            self.runner.start(handler)
            missing = self.endpoint.rooms_to_join(handler.rooms())
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
        """swergio 0.0.2's spelling of :meth:`add_handler`.

        Raises:
            ValueError: no trigger given.
        """
        if trigger is None:
            raise ValueError("a handler needs a trigger")
        return self.add_handler(
            handleFunction, trigger, reply_type=responseType, reply_rooms=responseRooms, reply_to=responseComponent
        )

    def remove_handler(self, handler: Handler) -> None:
        """Unregister ``handler`` and stop its worker (rooms stay joined)."""
        self.endpoint.remove_handler(handler)
        self.runner.stop(handler)

    # -- sending -----------------------------------------------------------------------------------------------

    def send(self, msg: dict[str, Any], *, timeout: float | None = None) -> Sending:
        """Send a message; fills ``ID`` (and ``ROOT_ID`` = ``ID``) when missing. Await it: ``await client.send(m)``.

        Waits while the connection is backed up (flow control: the hub holds a fast sender back for a slow
        recipient); ``timeout`` bounds that wait.

        Args:
            msg: the envelope; DATA may hold numpy arrays or torch tensors (sent as a binary frame).
            timeout: seconds to wait for the connection (and the rooms being joined) to take the message; None:
                as long as it takes.

        Returns:
            A :class:`Sending` (a coroutine) whose result is the message as sent (a shallow copy of ``msg`` with the
            filled fields). Nothing is sent until it is awaited; one never awaited is logged as an ERROR.

        Raises:
            InvalidMessage: the message breaks the protocol (nothing is sent; raised at once, not when awaited).
            NotConnected: no live connection (when awaited).
            TimeoutError: the connection did not take the message within ``timeout`` (a frame already handed to the
                socket may still go out).
        """
        msg = self.endpoint.complete(msg)
        return Sending(self._send_within(msg, timeout), sys._getframe(1))

    async def _send_within(self, msg: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        """:meth:`send`'s work, ``msg`` completed."""
        await (self._send(msg) if timeout is None else asyncio.wait_for(self._send(msg), timeout))
        return msg

    async def _send_reply(self, msg: dict[str, Any]) -> dict[str, Any]:
        """:meth:`send` for the handler runner, which always awaits: no :class:`Sending` around it."""
        msg = self.endpoint.complete(msg)
        await self._send(msg)
        return msg

    async def _send(self, msg: dict[str, Any]) -> None:
        """Send ``msg``, completed."""
        await self._ready()
        if self._pending_joins:
            await asyncio.gather(*list(self._pending_joins))
        await self.connection.send(codec.encode(msg))

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
            timeout: one deadline, in seconds, for everything: the connection, joining ``reply_room``, sending
                (however backed up the connection is) and the reply; None waits forever.

        Returns:
            The reply message (arrays in DATA as numpy arrays).

        Raises:
            TimeoutError: no reply within ``timeout``.
            HubError: the hub refused ``msg``.
            PeerError: the component asked answered ``msg`` with ``LOG/ERROR`` (its ``sender``; with ``TO`` in
                ``msg``, only that component's answer counts).
            NotConnected: the connection closed while waiting.
        """
        msg = self.endpoint.complete(msg)
        exchange = self._request(msg, reply_room, reply_type)
        return await (exchange if timeout is None else asyncio.wait_for(exchange, timeout))

    async def _request(self, msg: dict[str, Any], reply_room: str | None, reply_type: str | None) -> dict[str, Any]:
        await self._ready()
        if reply_room is not None:
            await self.join_room(reply_room)
        future = asyncio.get_running_loop().create_future()
        root, mid = msg["ROOT_ID"], msg["ID"]
        handle = self.endpoint.expect_reply(
            root, future, room=reply_room, type=reply_type, request=mid, asked=msg.get("TO")
        )
        self.endpoint.expect_answer(mid, future)  # the hub's LOG/ERROR about msg fails the request
        try:
            await self._send(msg)
            return await future
        finally:
            self.endpoint.forget_answer(mid)
            self.endpoint.forget_reply(root, handle)

    async def join_room(self, room: str) -> None:
        """Join ``room`` (no-op if already in it); returns once the hub confirmed.

        Raises:
            HubError: the hub refused.
        """
        await self._ready()
        await self._join_all((room,))

    async def leave_room(self, room: str) -> None:
        """Leave ``room``; returns once the hub confirmed."""
        await self._ready()
        self.endpoint.unwant(room)
        await self.connection.command(self.endpoint.command(MessageType.COMMAND_LEAVEROOM, ROOM=room))

    async def room_table(self) -> dict[str, list[str]]:
        """Every room on the hub with the names of its members (asked page by page: the hub answers at most
        :data:`~swergio_nb.protocol.limits.ROOMS_PAGE` rooms at a time)."""
        await self._ready()
        table: dict[str, list[str]] = {}
        after: dict[str, str] = {}
        while True:
            ack = await self.connection.command(self.endpoint.command(MessageType.COMMAND_ROOMS, **after))
            table.update(ack["TABLE"])
            if not ack.get("MORE") or not ack["TABLE"]:
                return table
            after = {"AFTER": next(reversed(ack["TABLE"]))}

    # -- internals ---------------------------------------------------------------------------------------------

    async def _join_all(self, rooms: Iterable[str]) -> None:
        for room in sorted(rooms):
            self.endpoint.want(room)
            if room not in self.endpoint.joined:
                await self.connection.command(self.endpoint.command(MessageType.COMMAND_JOINROOM, ROOM=room))

    def _receive(self, frame: str | bytes) -> Awaitable[None] | None:
        """Carry out what the endpoint makes of one frame; returns what must be awaited before the next frame if
        a handler's queue is full, else None."""
        event = self.endpoint.receive(frame)
        kind = type(event)
        if kind is Dispatch:
            waiting = self.runner.dispatch(event.message, event.handlers)
            if waiting is not None:
                self.stats.paused += 1
            return waiting
        if kind is Answered or kind is Replied:
            future = event.token
            if not future.done():
                if event.error is not None:
                    future.set_exception(event.error)
                else:
                    future.set_result(event.message)
        elif kind is HubRefused:
            logger.warning("%s: the hub answered %s", self.name, event.error)
            return self.runner.dispatch(event.message, event.handlers)
        elif event is not None:  # Undecodable
            logger.warning("%s: dropped an undecodable frame: %s", self.name, event.error)
        return None

    def _send_now(self, msg: dict[str, Any]) -> bool:
        """Send ``msg`` if that needs no waiting (connected, joins done, transport not backed up); else False."""
        if self._pending_joins or not self.connected:
            return False
        return self.connection.send_now(codec.encode(self.endpoint.complete(msg)))

    def _start_handlers(self) -> None:
        for handler in self.handlers:
            self.runner.start(handler)

    def _finished(self, error: BaseException | None = None) -> None:
        if self._closed is not None and not self._closed.done():
            if error is None:
                self._closed.set_result(None)
            else:
                self._closed.set_exception(error)
