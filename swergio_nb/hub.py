"""The hub: a thin websockets (asyncio) server around the sans-I/O :class:`~swergio_nb.router.Router`.

Each connection gets a reader (frames into the router) and a writer task draining a bounded send queue, so one slow
reader never stalls the others. Backpressure policy when a connection's queue is full:

* a logging-room copy (``LOG/MESSAGES``) for it is dropped and counted (``log_dropped``);
* any other frame closes that connection with code 1013 (try again later) and reason
  ``"slow consumer: send queue full (N frames)"``, counted in ``slow_consumers``. Everyone else goes on.

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
import hmac
import ipaddress
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .router import DEFAULT_MAX_ROOMS, Close, Event, Router, Send

__all__ = ["Hub", "HubStats", "DEFAULT_MAX_SIZE", "DEFAULT_QUEUE_SIZE", "TOKEN_ENV"]

logger = logging.getLogger("swergio_nb.hub")

#: Largest frame accepted, in bytes (64 MiB: a 16-million float32 tensor). None disables the limit.
DEFAULT_MAX_SIZE = 64 * 2**20
#: Frames waiting to be written to one connection before the backpressure policy applies.
DEFAULT_QUEUE_SIZE = 4096
#: Environment variable holding the hub token (read by hubs and clients).
TOKEN_ENV = "SWERGIO_TOKEN"


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


@dataclass(slots=True, eq=False)
class _Peer:
    conn: int
    ws: ServerConnection
    queue: asyncio.Queue
    writer: asyncio.Task | None = None
    closing: bool = False
    tasks: set = field(default_factory=set)


class Hub:
    """A swergio hub serving WebSocket connections.

    Args:
        host: interface to bind; ``127.0.0.1`` (loopback) by default.
        port: TCP port; 0 picks a free one (read it back from :attr:`port` or :attr:`url`).
        max_size: largest frame accepted, in bytes; None disables the limit. Larger frames close the connection
            with code 1009 (message too big), as websockets does.
        queue_size: frames waiting per connection before the backpressure policy applies (see module docstring).
        ping_interval: seconds between keepalive pings; None disables them.
        ping_timeout: seconds to wait for a pong before closing with 1011; None waits forever.
        max_rooms: rooms one connection may be in at once (for the default router); None: no limit.
        router: the router to use (a fresh :class:`Router` with ``max_rooms`` by default).
        token: the secret a client must present (``?token=`` in the URL, or ``Authorization: Bearer``). None: take
            ``SWERGIO_TOKEN`` from the environment, else generate one (``secrets.token_urlsafe(24)``). ``""``:
            no authentication, allowed only on a loopback host.

    Raises:
        ValueError: ``token=""`` with a host that is not loopback (anyone on the network could join).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        max_size: int | None = DEFAULT_MAX_SIZE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
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
        )
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

    async def _serve(self, ws: ServerConnection) -> None:
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
        try:
            with contextlib.suppress(ConnectionClosed):  # however the peer leaves, the finally block cleans up
                async for frame in ws:
                    if peer.closing:
                        break
                    self._carry_out(self.router.receive(conn, frame))
        finally:
            del self._peers[conn]
            self._carry_out(self.router.disconnect(conn))
            peer.writer.cancel()
            await asyncio.gather(peer.writer, *peer.tasks, return_exceptions=True)

    @staticmethod
    async def _write(peer: _Peer) -> None:
        queue, ws = peer.queue, peer.ws
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.send(await queue.get())

    def _carry_out(self, events: list[Event]) -> None:
        peers = self._peers
        for event in events:
            peer = peers.get(event.conn)
            if peer is None or peer.closing:
                continue
            if type(event) is Send:
                try:
                    peer.queue.put_nowait(event.frame)
                except asyncio.QueueFull:
                    if event.droppable:
                        self.stats.log_dropped += 1
                    else:
                        self.stats.slow_consumers += 1
                        logger.warning("closing connection %d: slow consumer", event.conn)
                        self._close(peer, 1013, f"slow consumer: send queue full ({self.queue_size} frames)")
            elif type(event) is Close:
                self._close(peer, event.code, event.reason)

    def _close(self, peer: _Peer, code: int, reason: str) -> None:
        peer.closing = True
        self.router.disconnect(peer.conn)  # route nothing more to it while the close handshake runs
        if peer.writer is not None:
            peer.writer.cancel()
        task = asyncio.create_task(peer.ws.close(code, reason))
        peer.tasks.add(task)
        task.add_done_callback(peer.tasks.discard)
