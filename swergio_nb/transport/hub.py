"""The hub: a thin websockets (asyncio) server around the sans-I/O :class:`~swergio_nb.protocol.router.Router`.

Each frame goes into the router as soon as websockets has parsed it (:mod:`._websockets`: no queue or task
switch per message); each connection has a writer task draining its bounded send queue.

Flow control and backpressure, per connection's send queue of ``queue_size`` frames:

* **flow control**: when a frame leaves a recipient's queue at the high-water mark (``queue_size // 4``) or above,
  the hub stops reading from the *sender* until that queue drains to the low-water mark (``queue_size // 8``): a
  fast producer goes at the pace of its slowest consumer, through TCP, and nothing is lost. Only that sender waits;
  other connections go on;
* **stall**: a recipient whose writer delivers nothing for ``stall_timeout`` seconds while a sender waits on it is
  marked *stalled* (counted in ``stalled``): senders stop waiting for it, so a reader that stopped never holds up a
  room for longer than that. The mark clears once it drains below the low-water mark;
* **overflow**: when a queue is full, a logging-room copy (``LOG/MESSAGES``) for it is dropped and counted
  (``log_dropped``); any other frame closes that connection with code 1013 (try again later) and reason
  ``"slow consumer: send queue full (N frames)"``, counted in ``slow_consumers``, and its queue is freed at once.
  Everyone else goes on. Logging copies never make a sender wait.

Authentication: the hub has a token (generated, or ``SWERGIO_TOKEN``, or given) and refuses handshakes without it
(HTTP 401) or with a wrong one (HTTP 403); :attr:`Hub.url` carries it (``ws://127.0.0.1:PORT/?token=...``), as
Jupyter prints its URL. Serving on a non-loopback interface without a token is refused.

Usage::

    async with Hub(port=0) as hub:      # port 0 picks a free port
        print(hub.url)                  # ws://127.0.0.1:PORT/?token=...
        ...

or from a shell: ``swergio-nb hub --host 127.0.0.1 --port 8765``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import ipaddress
import logging
import os
import secrets
import socket
from collections.abc import Awaitable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..protocol.limits import DEFAULT_MAX_ROOMS, DEFAULT_MAX_SIZE, DEFAULT_QUEUE_SIZE, DEFAULT_STALL_TIMEOUT, TOKEN_ENV
from ..protocol.router import Close, Event, Router, Send
from ._websockets import DIRECT_WRITE_LIMIT, DeliveringServerConnection

__all__ = ["Hub", "HubStats"]

logger = logging.getLogger("swergio_nb.transport.hub")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(slots=True)
class HubStats:
    """Transport counters of a hub (the routing counters are in ``hub.router.stats``)."""

    connections: int = 0  #: connections accepted since start
    slow_consumers: int = 0  #: connections closed because their send queue was full
    log_dropped: int = 0  #: logging-room copies dropped because the watcher's queue was full
    refused: int = 0  #: handshakes refused for a missing or wrong token
    throttled: int = 0  #: times a sender's reads were paused for a recipient above the high-water mark
    stalled: int = 0  #: times a recipient was marked stalled (delivered nothing for ``stall_timeout`` s)


@dataclass(slots=True, eq=False)
class _Peer:
    conn: int
    ws: ServerConnection
    queue: asyncio.Queue
    writer: asyncio.Task | None = None
    closing: bool = False
    stalled: bool = False
    sent: int = 0  #: frames handed to the transport so far
    backlog: int = 0  #: frames queued or held by the writer, not yet handed to the transport
    drained: asyncio.Event = field(default_factory=asyncio.Event)  #: set while the backlog is at or below low water
    tasks: set = field(default_factory=set)


class Hub:
    """A swergio hub serving WebSocket connections.

    Args:
        host: interface to bind; ``127.0.0.1`` (loopback) by default.
        port: TCP port; 0 picks a free one (read it back from :attr:`port` or :attr:`url`).
        max_size: largest frame accepted, in bytes; None disables the limit. Larger frames close the connection
            with code 1009 (message too big), as websockets does.
        queue_size: frames waiting per connection before the overflow policy applies (see module docstring).
        flow_control: make a sender wait while a recipient's queue is at the high-water mark (``queue_size // 4``
            frames) until it drains to the low-water mark (``queue_size // 8``). False: only the overflow policy.
        stall_timeout: seconds a waiting sender gives a recipient to deliver at least one frame before marking it
            stalled and going on.
        traffic_interval: seconds between two ``LOG/TRAFFIC`` summaries to the members of ``_traffic`` (> 0).
        ping_interval: seconds between keepalive pings; None disables them.
        ping_timeout: seconds to wait for a pong before closing with 1011; None waits forever.
        max_rooms: rooms one connection may be in at once (for the default router); None: no limit.
        router: the router to use (a fresh :class:`Router` with ``max_rooms`` by default).
        token: the secret a client must present (``?token=`` in the URL, or ``Authorization: Bearer``). None: take
            ``SWERGIO_TOKEN`` from the environment, else generate one (``secrets.token_urlsafe(24)``). ``""``:
            no authentication, allowed only on a loopback host.

    Raises:
        ValueError: ``token=""`` with a host that is not loopback (anyone on the network could join), or a
            ``traffic_interval`` that is not positive.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        max_size: int | None = DEFAULT_MAX_SIZE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        flow_control: bool = True,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        traffic_interval: float = 0.1,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        max_rooms: int | None = DEFAULT_MAX_ROOMS,
        router: Router | None = None,
        token: str | None = None,
    ) -> None:
        if token is None:
            token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
        if not token and not _is_loopback(host):
            raise ValueError(f"refusing to serve on {host!r} without a token: anyone on the network could join")
        self.token = token
        self.host = host
        self.port = port
        self.max_size = max_size
        self.queue_size = queue_size
        self.high_water = max(1, queue_size // 4) if flow_control else None
        self.low_water = queue_size // 8
        self.stall_timeout = stall_timeout
        if not traffic_interval > 0:
            raise ValueError(f"traffic_interval must be > 0 seconds, got {traffic_interval!r}")
        self.traffic_interval = traffic_interval
        self._ticker: asyncio.Task | None = None
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.router = router if router is not None else Router(max_rooms=max_rooms)
        self.stats = HubStats()
        self._server: Server | None = None
        self._starting: asyncio.Future | None = None
        self._peers: dict[int, _Peer] = {}

    @property
    def url(self) -> str:
        """``ws://host:port/?token=...``: what a client needs to connect (like Jupyter's URL with its token)."""
        base = f"ws://{self.host}:{self.port}"
        return f"{base}/?token={self.token}" if self.token else base

    def __repr__(self) -> str:
        state = "running" if self.running else "starting" if self._starting is not None else "stopped"
        return f"<Hub ws://{self.host}:{self.port} {state}, {len(self._peers)} connections>"

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`close`."""
        return self._server is not None

    async def start(self) -> Hub:
        """Bind and start accepting connections; returns self.

        Raises:
            OSError: if the address cannot be bound (e.g. the port is in use).
        """
        await self.start_soon()
        return self

    def start_soon(self) -> asyncio.Future:
        """Bind the listening socket now, so :attr:`port` and :attr:`url` are final, and start serving as soon as
        the running event loop gets control (connections made meanwhile wait in the listen backlog).

        For synchronous code running on the loop, such as an IPython magic in a notebook cell.

        Returns:
            A future that is done once the hub serves (await it to be sure).

        Raises:
            OSError: if the address cannot be bound.
            RuntimeError: if no event loop is running.
        """
        if self._starting is None:
            asyncio.get_running_loop()
            sock = socket.create_server((self.host, self.port))
            self.port = sock.getsockname()[1]
            self._starting = asyncio.ensure_future(self._open(sock))
        return self._starting

    async def _open(self, sock: socket.socket) -> None:
        self._server = await serve(
            self._serve,
            sock=sock,
            process_request=self._authenticate,
            max_size=self.max_size,
            compression=None,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            create_connection=DeliveringServerConnection,
        )
        self._ticker = asyncio.create_task(self._tick(), name="swergio-hub-traffic")
        logger.info("hub listening on ws://%s:%d", self.host, self.port)

    def _authenticate(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse the handshake without the token (401) or with a wrong one (403), as Jupyter does."""
        if not self.token:
            return None
        given = parse_qs(urlsplit(request.path).query).get("token", [None])[0]
        header = request.headers.get("Authorization", "")
        if given is None and header.lower().startswith("bearer "):
            given = header[7:].strip()
        if given is None:
            self.stats.refused += 1
            return connection.respond(HTTPStatus.UNAUTHORIZED, "swergio hub: a token is required (?token=...)\n")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            self.stats.refused += 1
            return connection.respond(HTTPStatus.FORBIDDEN, "swergio hub: wrong token\n")
        return None

    async def close(self) -> None:
        """Close every connection (code 1001) and stop listening. Safe to call twice."""
        starting, self._starting = self._starting, None
        if starting is not None:
            await asyncio.gather(starting, return_exceptions=True)
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
        server, self._server = self._server, None
        if server is None:
            return
        server.close(close_connections=True)
        await server.wait_closed()

    async def serve_forever(self) -> None:
        """Start if needed and serve until cancelled."""
        await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        finally:
            await self.close()

    async def __aenter__(self) -> Hub:
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    # -- per connection ----------------------------------------------------------------------------------------

    async def _serve(self, ws: DeliveringServerConnection) -> None:
        sock = ws.transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and socket.create_server's
            # (hence the accepted ones) have proto 0: without this, Nagle's algorithm holds a small frame that
            # follows another until the peer's delayed ACK (~40 ms on Linux).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = self.router.connect()
        peer = _Peer(conn, ws, asyncio.Queue(self.queue_size))
        peer.writer = asyncio.create_task(self._write(peer), name=f"swergio-hub-writer-{conn}")
        self._peers[conn] = peer
        self.stats.connections += 1
        ws.start_delivery(functools.partial(self._receive, peer))  # frames come as they are parsed: .delivery
        try:
            with contextlib.suppress(ConnectionClosed):  # however the peer leaves, the finally block cleans up
                async for frame in ws:  # only frames after a fragmented message come this way
                    await ws.wait_delivered()
                    waiting = self._receive(peer, frame)
                    if waiting is not None:
                        await waiting
            await ws.wait_delivered()  # what the peer sent before it left is routed
        finally:
            if ws.draining is not None:
                ws.draining.cancel()
            del self._peers[conn]
            peer.closing = True
            peer.drained.set()  # release senders waiting on it
            self._carry_out(self.router.disconnect(conn))
            peer.writer.cancel()
            await asyncio.gather(peer.writer, *peer.tasks, return_exceptions=True)

    def _receive(self, peer: _Peer, frame: str | bytes) -> Awaitable[None] | None:
        """Route one frame from ``peer``; returns the wait for full recipients (see :meth:`_throttle`), if any."""
        if peer.closing:
            return None
        full = self._carry_out(self.router.receive(peer.conn, frame))
        return self._throttle(full) if full else None

    async def _write(self, peer: _Peer) -> None:
        """Write the backlog in order, each frame after the transport drained the previous ones (``ws.send``)."""
        queue, ws, drained, low = peer.queue, peer.ws, peer.drained, self.low_water
        drained.set()
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.send(await queue.get())
                peer.sent += 1
                peer.backlog -= 1
                if peer.backlog <= low and not drained.is_set():
                    peer.stalled = False
                    drained.set()

    async def _tick(self) -> None:
        """Send the router's ``LOG/TRAFFIC`` summary every ``traffic_interval`` seconds (nothing when idle)."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.traffic_interval)
            now = loop.time()
            events = self.router.flush_traffic(now - last)
            last = now
            if events:
                self._carry_out(events)

    async def _throttle(self, full: list[_Peer]) -> None:
        """Wait (not reading from the sender) until each recipient in ``full`` drains to the low-water mark, is
        marked stalled, or closes."""
        self.stats.throttled += 1
        for peer in full:
            while not (peer.closing or peer.stalled or peer.drained.is_set()):
                sent = peer.sent
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(peer.drained.wait(), self.stall_timeout)
                if peer.sent == sent and not peer.drained.is_set() and not peer.closing:
                    peer.stalled = True
                    self.stats.stalled += 1
                    logger.warning("connection %d delivered nothing in %.1f s: stalled", peer.conn, self.stall_timeout)

    def _carry_out(self, events: list[Event]) -> list[_Peer]:
        """Carry out the router's deliveries; returns the recipients now at the high-water mark (empty if none).

        Fast path: a frame for a connection with no backlog whose transport buffer holds less than
        :data:`DIRECT_WRITE_LIMIT` bytes is written at once, with one :func:`websockets.asyncio.server.broadcast`
        per frame for all such recipients (one UTF-8 encoding, no task switch). Otherwise it joins the
        connection's backlog, which its writer task sends in order as the transport drains.
        """
        peers = self._peers
        high = self.high_water
        full: list[_Peer] = []
        direct: list[ServerConnection] = []
        direct_frame: str | bytes | None = None
        for event in events:
            peer = peers.get(event.conn)
            if peer is None or peer.closing:
                continue
            if type(event) is Send:
                frame = event.frame
                if frame is not direct_frame:
                    if direct:
                        broadcast(direct, direct_frame)
                        direct = []
                    direct_frame = frame
                if peer.backlog == 0 and peer.ws.transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT:
                    direct.append(peer.ws)
                    peer.sent += 1
                    continue
                try:
                    peer.queue.put_nowait(frame)
                    peer.backlog += 1
                    if high is not None and not event.droppable and peer.backlog >= high and not peer.stalled:
                        peer.drained.clear()
                        full.append(peer)
                except asyncio.QueueFull:
                    if event.droppable:
                        self.stats.log_dropped += 1
                    else:
                        self.stats.slow_consumers += 1
                        logger.warning("closing connection %d: slow consumer", event.conn)
                        self._close(peer, 1013, f"slow consumer: send queue full ({self.queue_size} frames)")
            elif type(event) is Close:
                if direct:  # what was routed before the close goes out before it
                    broadcast(direct, direct_frame)
                    direct = []
                self._close(peer, event.code, event.reason)
        if direct:
            broadcast(direct, direct_frame)
        return full

    def _close(self, peer: _Peer, code: int, reason: str) -> None:
        peer.closing = True
        self.router.disconnect(peer.conn)  # route nothing more to it while the close handshake runs
        if peer.writer is not None:
            peer.writer.cancel()
        peer.drained.set()  # release senders waiting on it
        while not peer.queue.empty():  # undeliverable now: free the memory at once
            peer.queue.get_nowait()
        peer.backlog = 0
        task = asyncio.create_task(peer.ws.close(code, reason))
        peer.tasks.add(task)
        task.add_done_callback(peer.tasks.discard)
