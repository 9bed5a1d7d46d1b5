"""A client's connection to a hub over websockets: opening it, reading and writing it, losing it, getting it back.

:class:`HubConnection` is the I/O half of a :class:`~swergio_nb.transport.client.Client`; the endpoint decides what
is sent and what a loss means. Opening a connection registers the name, lets the client start its handlers, joins
every room the endpoint lists and sends what was buffered while reconnecting, in order; only then is the endpoint
``OPEN``. Frames go to the client's ``receive`` as websockets parses them (:mod:`._websockets`). An established
connection that is lost is reopened with exponential backoff and full jitter
(:func:`~swergio_nb.protocol.endpoint.backoff`) unless ``reconnect`` is False.

Failover: given several URLs (hubs sharing their rooms through a backplane, :mod:`.backplane`), the first
connection tries each in order, and each reconnection attempt goes to the next one after the URL last tried,
round-robin, with the same backoff: a client of a hub that died re-registers and rejoins its rooms on another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus
from ssl import SSLContext
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..exceptions import NotConnected
from ..protocol import codec
from ..protocol.endpoint import ConnectionState, Endpoint, backoff
from ..protocol.limits import DEFAULT_PING_TIMEOUT
from ..protocol.messages import MessageType
from ..protocol.urls import redact
from ._websockets import DeliveringClientConnection, abort, try_write

__all__ = ["HubConnection", "fail", "probe"]

logger = logging.getLogger(__name__)

_OPEN = ConnectionState.OPEN


class HubConnection:
    """One client's connection to a hub (see the module docstring).

    Args:
        endpoint: the client's sans-I/O endpoint.
        url: the hub's URL, with its token; or several, to fail over between (module docstring).
        receive: takes each frame as it is parsed; returns None, or an awaitable to wait for before the next frame.
        opened: called on each new connection once the name is registered, before the joins (the client starts
            its handlers there).
        finished: called as ``finished(error)`` when an established connection is lost for good: ``error`` None when
            ``reconnect`` is False, else why reconnecting stopped (the hub refused the token).
        max_size: largest frame accepted, in bytes; None: no limit.
        timeout: seconds to wait for the opening handshake and for each acknowledgement.
        ping_interval: seconds between keepalive pings; None: none.
        ping_timeout: seconds to wait for a pong, counted while this loop runs freely (:meth:`_keepalive`); None:
            forever; ``"hub"``: what the hub announces in its ``REGISTER`` acknowledgement (``PING_TIMEOUT``).
        reconnect: reopen an established connection that was lost.
        backoff: ``(first, longest)`` caps of the waits between attempts, in seconds.
        ssl: the client-side :class:`ssl.SSLContext` for a ``wss://`` hub; None: Python's default (the system's
            certificate authorities, or the file named by ``SSL_CERT_FILE``).

    Attributes:
        urls: the hubs' URLs, in the order they are tried.
        url: the URL of the current connection, or of the last attempt.
        ws: the websockets connection while one is open, else None.
        closing: :meth:`close` was called: nothing is reopened.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        url: str | Sequence[str],
        receive: Callable[[str | bytes], Awaitable[None] | None],
        *,
        opened: Callable[[], None],
        finished: Callable[[BaseException | None], None],
        max_size: int | None,
        timeout: float,
        ping_interval: float | None,
        ping_timeout: float | str | None,
        reconnect: bool,
        backoff: tuple[float, float],
        ssl: SSLContext | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.urls = [url] if isinstance(url, str) else list(url)
        if not self.urls:
            raise ValueError("a client needs at least one hub URL")
        self.url = self.urls[0]
        self.receive = receive
        self.opened = opened
        self.finished = finished
        self.max_size = max_size
        self.timeout = timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.patience: float | None = None  #: the pong timeout in force on the current connection
        self.reconnect = reconnect
        self.backoff = backoff
        self.ssl = ssl
        self.ws: DeliveringClientConnection | None = None
        self.closing = False
        self._reader: asyncio.Task | None = None
        self._reconnecting: asyncio.Task | None = None
        self._keeping: asyncio.Task | None = None

    async def open_any(self) -> None:
        """:meth:`open` on each URL in turn, from the current one, until one opens.

        Raises:
            OSError, TimeoutError: the last URL's error, when no hub could be reached.
            HubError: a hub refused the registration or a join (not tried further: the hubs share their names).
        """
        for _ in range(len(self.urls) - 1):
            try:
                return await self.open()
            except (OSError, TimeoutError) as exc:
                logger.info("%s: %s unreachable (%s); trying the next hub", self.endpoint.name, redact(self.url), exc)
                self._next_url()
        await self.open()

    def _next_url(self) -> None:
        self.url = self.urls[(self.urls.index(self.url) + 1) % len(self.urls)]

    async def open(self) -> None:
        """One attempt: connect, register, start the handlers, join the rooms, flush the buffer; then ``OPEN``.

        Raises:
            OSError: the hub cannot be reached.
            HubError: the hub refused the registration or a join.
            TimeoutError: the hub did not answer within ``timeout``.
        """
        ws = await connect(
            self.url,
            max_size=self.max_size,
            compression=None,
            ping_interval=None,  # the keepalive is _keepalive's: it knows a late pong from a blocked loop
            ping_timeout=None,
            proxy=None,
            open_timeout=self.timeout,
            **({} if self.ssl is None else {"ssl": self.ssl}),
            create_connection=DeliveringClientConnection,
        )
        ws.start_delivery(self.receive)
        self.ws = ws
        self._reader = asyncio.create_task(self._read(ws), name=f"swergio-client-{self.endpoint.name}")
        endpoint = self.endpoint
        try:
            ack = await self.command(endpoint.opened(), control=True)
            hub_says = ack.get("PING_TIMEOUT", DEFAULT_PING_TIMEOUT)
            self.patience = hub_says if self.ping_timeout == "hub" else self.ping_timeout  # type: ignore[assignment]
            if self.ping_interval is not None:
                self._keeping = asyncio.create_task(self._keepalive(ws), name=f"swergio-ping-{endpoint.name}")
            self.opened()
            for room in endpoint.rooms_to_join():
                await self.command(endpoint.command(MessageType.COMMAND_JOINROOM, ROOM=room), control=True)
            for frame in endpoint.take_buffered():  # what was sent while reconnecting, in order
                await ws.send(frame)
                endpoint.stats.sent += 1
        except BaseException:
            if self.ws is ws:
                self.ws = None
            await ws.close()
            raise
        endpoint.ready()

    async def send(self, frame: str | bytes, *, control: bool = False) -> None:
        """Write ``frame``, waiting for the transport to drain if it is backed up; while reconnecting, buffer it.

        Args:
            frame: the encoded message.
            control: the connection's own registration and joins, sent before it is ``OPEN``.

        Raises:
            NotConnected: no connection (and none coming back), or the reconnection buffer is full.
        """
        ws = self.ws
        if ws is None or not control and self.endpoint.state is not _OPEN:
            if not control and self.endpoint.state is ConnectionState.RECONNECTING:
                self.endpoint.buffer(frame)
                return
            raise NotConnected(f"client {self.endpoint.name!r} is not connected")
        try:
            if not try_write(ws, frame):
                await ws.send(frame)  # waits for the transport to drain; raises if the connection closed
        except (ConnectionClosed, ConnectionError) as exc:
            if not control and self.reconnect and not self.closing:
                self.endpoint.buffer(frame)  # not written: it goes out after the reconnection
                return
            raise NotConnected(f"client {self.endpoint.name!r} lost its connection: {exc}") from exc
        self.endpoint.stats.sent += 1

    def send_now(self, frame: str | bytes) -> bool:
        """Write ``frame`` if that needs no waiting (``OPEN``, transport not backed up); False if nothing was sent."""
        ws = self.ws
        if ws is None or self.endpoint.state is not _OPEN:
            return False
        try:
            if not try_write(ws, frame):
                return False
        except ConnectionError:
            return False  # a send() that waits buffers it for the reconnection, or reports it
        self.endpoint.stats.sent += 1
        return True

    async def command(self, msg: dict[str, Any], *, control: bool = False) -> dict[str, Any]:
        """Send a hub command and wait for its ``COMMAND/ACK``.

        Raises:
            HubError: the hub answered ``LOG/ERROR``.
            TimeoutError: no answer within ``timeout``.
            NotConnected: as :meth:`send`, or the connection was lost while waiting.
        """
        future = asyncio.get_running_loop().create_future()
        self.endpoint.expect_answer(msg["ID"], future)
        try:
            await self.send(codec.encode(msg), control=control)
            return await asyncio.wait_for(future, self.timeout)
        finally:
            self.endpoint.forget_answer(msg["ID"])

    async def close(self) -> None:
        """Close the connection and stop reading and reconnecting (nothing is reopened). Safe to call twice."""
        self.closing = True
        ws, self.ws = self.ws, None
        current = asyncio.current_task()
        tasks = [self._reader, self._reconnecting, self._keeping, getattr(ws, "draining", None)]
        tasks = [t for t in tasks if t is not None and t is not current]
        self._reader, self._reconnecting, self._keeping = None, None, None
        for task in tasks:
            task.cancel()
        if ws is not None:
            await ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, ws: DeliveringClientConnection) -> None:
        """Wait for the connection's end, handing on what websockets' usual path delivers (frames after a
        fragmented message; all others are handed to ``receive`` as they are parsed: :mod:`._websockets`)."""
        try:
            with contextlib.suppress(ConnectionClosed):  # a lost connection is handled below
                async for frame in ws:
                    await ws.wait_delivered()  # frames parsed earlier go first
                    waiting = self.receive(frame)
                    if waiting is not None:  # a handler's queue is full: stop reading until it has room
                        await waiting
        finally:
            keeping, self._keeping = self._keeping, None
            if keeping is not None and keeping is not asyncio.current_task():
                keeping.cancel()
            if self.ws is ws:
                self.ws = None
                was_open = self.endpoint.state is _OPEN
                name = self.endpoint.name
                waiting = self.endpoint.lost(reconnect=self.reconnect and not self.closing)
                fail(waiting, NotConnected(f"client {name!r}: the connection to the hub was lost"))
                if was_open and self.endpoint.state is ConnectionState.RECONNECTING:
                    logger.warning("%s: lost the connection to the hub; reconnecting", name)
                    self._reconnecting = asyncio.create_task(self._reconnect(), name=f"swergio-reconnect-{name}")
                elif was_open:
                    self.finished(None)

    async def _keepalive(self, ws: DeliveringClientConnection) -> None:
        """Ping every ``ping_interval``; if the ping cannot even be written, or no pong comes, within
        :attr:`patience` seconds of time this loop ran freely, the hub is gone (frozen, or the network path dead):
        abort the connection, which then reconnects.

        Time this loop spent blocked (a cell that blocks the kernel, a long handler) does not count: a look that
        comes back later than twice its interval starts the wait over, so only the hub's silence is measured."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.ping_interval)
            patience = self.patience
            waiting: asyncio.Future = asyncio.ensure_future(ws.ping())  # waits while the socket is backed up
            sent = False
            tick = 0.5 if patience is None else min(0.5, patience / 4)
            free = 0.0
            while True:
                if waiting.done():
                    if waiting.cancelled() or waiting.exception() is not None:
                        return  # the connection closed: _read handles it
                    if sent:
                        break
                    waiting, sent = waiting.result(), True  # the ping is out: now its pong
                    continue
                start = loop.time()
                await asyncio.wait((waiting,), timeout=tick)
                spent = loop.time() - start
                free = free + spent if spent < 2 * tick else 0.0
                if patience is not None and free >= patience and not waiting.done():
                    logger.warning(
                        "%s: the hub answered no ping for %.1f s: giving the connection up",
                        self.endpoint.name,
                        patience,
                    )
                    abort(ws)
                    return

    async def _reconnect(self) -> None:
        for wait, cap in backoff(*self.backoff):
            await asyncio.sleep(wait)
            if self.closing:
                return
            self._next_url()
            try:
                await self.open()
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                if exc.response.status_code not in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
                    logger.info("%s: reconnection failed (%s) after a wait within %.2f s", self.endpoint.name, exc, cap)
                    continue
                self._refused(exc.response.status_code)
                return
            except Exception as exc:  # unreachable, name still taken by the old connection...
                logger.info("%s: reconnection failed (%s) after a wait within %.2f s", self.endpoint.name, exc, cap)
                continue
            logger.info("%s: reconnected to %s", self.endpoint.name, redact(self.url))
            return

    def _refused(self, status: int) -> None:
        """The hub is back but refuses the token (restarted with another one): retrying cannot help, so stop."""
        name = self.endpoint.name
        error = NotConnected(
            f"client {name!r}: the hub at {redact(self.url)} refused this client's token (HTTP {status}); it was "
            "probably restarted with another token. Reconnecting stopped: connect again with the hub's new URL"
        )
        logger.error("%s", error)
        waiting, dropped = self.endpoint.close()
        if dropped:
            logger.error("%s: %d messages buffered for the reconnection are dropped", name, dropped)
        fail(waiting, error)
        self.finished(error)


def fail(futures: list[Any], exc: BaseException) -> None:
    """Fail each of ``futures`` (the endpoint's waiting tokens) that is not done yet with ``exc``."""
    for future in futures:
        if not future.done():
            future.set_exception(exc)


async def probe(url: str, timeout: float, ssl: SSLContext | None = None) -> None:
    """Open a WebSocket connection to the hub at ``url`` (its token checked in the handshake), then close it
    without registering: is that hub reachable from here?

    Raises:
        PermissionError: the hub refused the handshake (HTTP 401/403: no token, a wrong one; the status is named).
        OSError: nothing answers at that address, or the handshake failed otherwise.
        TimeoutError: no handshake within ``timeout`` seconds.
    """
    try:
        tls = {} if ssl is None else {"ssl": ssl}
        ws = await connect(url, open_timeout=timeout, proxy=None, compression=None, **tls)
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
            raise PermissionError(f"the hub refuses the token (HTTP {status})") from None
        raise OSError(f"the handshake was refused (HTTP {status})") from None
    await ws.close()
