"""The hub: the websockets (asyncio) transport of the :class:`~swergio_nb.transport.core.HubCore`.

It accepts WebSocket connections, checks the token, and hands each connection to the core as its link and each
frame to the core as soon as websockets has parsed it (:mod:`._websockets`: no queue or task switch per message).
Routing is the sans-I/O :class:`~swergio_nb.protocol.router.Router`'s (``hub.router``); per-connection send queues,
flow control, stall detection, the overflow policy and ``LOG/TRAFFIC`` summaries are the core's (see
:mod:`.core`; counters in ``hub.stats``).

Authentication: the hub has a token (generated, or ``SWERGIO_TOKEN``, or given) and refuses handshakes without it
(HTTP 401) or with a wrong one (HTTP 403); :attr:`Hub.url` carries it (``ws://127.0.0.1:PORT/?token=...``), as
Jupyter prints its URL. Serving on a non-loopback interface without a token is refused, and without TLS too unless
told ``insecure=True`` (``ssl=`` takes a server :class:`ssl.SSLContext`: the URL is then ``wss://``); a hub without
a token accepts no browser page (a handshake with an ``Origin`` header is refused unless listed in ``origins``).

Roles: with one token (the default) every client may do everything. Given ``observer_token``, the token is a
component's credential, which cannot join the hub's rooms (``_logging``, ``_traffic``: copies of every message),
and only :attr:`Hub.observer_url` can; ``name_tokens`` reserves names for credentials of their own (a component
named ``control`` must present ``name_tokens["control"]``; it may register only that name).

swergio 0.0.2's own clients (raw TCP with a length header, no token) join the same rooms through a
:class:`~swergio_nb.transport.swergio_tcp.SwergioListener` on the same core, started with ``swergio_port=`` (off by
default, loopback only; see :mod:`.swergio_tcp`).

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
import logging
import operator
import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from ssl import SSLContext
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..protocol.limits import (
    DEFAULT_MAX_ROOMS,
    DEFAULT_MAX_SIZE,
    DEFAULT_PING_TIMEOUT,
    DEFAULT_QUEUE_BYTES,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_STALL_TIMEOUT,
    DEFAULT_TOTAL_QUEUE_BYTES,
    DEFAULT_TRAFFIC_INTERVAL,
    TOKEN_ENV,
)
from ..protocol.router import COMPONENT, FULL, Permissions, Router
from ..protocol.urls import is_loopback, with_token
from ._websockets import DeliveringServerConnection, socket_of
from .core import HubCore, HubStats
from .swergio_tcp import SwergioListener

__all__ = ["Hub", "HubStats"]

logger = logging.getLogger("swergio_nb.transport.hub")


def _credentials(token: str, observer_token: str | None, name_tokens: dict[str, str]) -> list[tuple[str, Permissions]]:
    """``(secret, what it allows)`` for each credential of a hub (module docstring: roles)."""
    if (observer_token is not None or name_tokens) and not token:
        raise ValueError("roles (observer_token, name_tokens) need a token")
    secrets_ = [token, *([observer_token] if observer_token is not None else []), *name_tokens.values()]
    if any(not secret for secret in secrets_[1:]) or len(set(secrets_)) != len(secrets_):
        raise ValueError("every credential must be a distinct, non-empty token")
    credentials = [(token, FULL if observer_token is None else COMPONENT)]
    if observer_token is not None:
        credentials.append((observer_token, Permissions(observer=True)))
    credentials += [
        (secret, Permissions(observer=False, names=frozenset({name}))) for name, secret in name_tokens.items()
    ]
    return credentials


def _of_core(name: str, doc: str) -> property:
    """A read-only attribute of the hub that is its core's ``name``."""
    return property(operator.attrgetter(f"core.{name}"), doc=doc)


class Hub:
    """A swergio hub serving WebSocket connections.

    Args:
        host: interface to bind; ``127.0.0.1`` (loopback) by default.
        port: TCP port; 0 picks a free one (read it back from :attr:`port` or :attr:`url`).
        max_size: largest frame accepted, in bytes; None disables the limit. Larger frames close the connection
            with code 1009 (message too big), as websockets does.
        queue_size: frames waiting per connection before the overflow policy applies (see :mod:`.core`).
        queue_bytes: bytes (characters of text frames) waiting per connection before the overflow policy applies.
        total_queue_bytes: bytes waiting in all send queues together before it applies; None: no such bound.
        flow_control: make a sender wait while a recipient's queue is at the high-water mark (a quarter of
            ``queue_size`` frames or of ``queue_bytes``) until it drains to the low-water mark (an eighth of both).
            False: only the overflow policy.
        stall_timeout: seconds a recipient that a sender waits for may make no progress before it is cut (1013;
            the senders that waited get ``LOG/ERROR recipient-cut``).
        traffic_interval: seconds between two ``LOG/TRAFFIC`` summaries to the members of ``_traffic`` (> 0).
        ping_interval: seconds between keepalive pings; None disables them.
        ping_timeout: seconds to wait for a pong before closing with 1011; None waits forever.
        client_ping_timeout: seconds this hub's clients should wait for its pong before giving the connection up
            (announced to each in its ``REGISTER`` acknowledgement, ``PING_TIMEOUT``); None: never, for a hub on a
            loop that may be blocked for long (a notebook kernel's, while a cell runs).
        max_rooms: rooms one connection may be in at once (for the default router); None: no limit.
        router: the router to use (a fresh :class:`Router` with ``max_rooms`` by default).
        token: the secret a client must present (``?token=`` in the URL, or ``Authorization: Bearer``). None: take
            ``SWERGIO_TOKEN`` from the environment, else generate one (``secrets.token_urlsafe(24)``). ``""``:
            no authentication, allowed only on a loopback host, and then only for clients that send no ``Origin``
            (not a browser page) or one listed in ``origins``.
        observer_token: the credential that may join the hub's rooms; given, ``token`` no longer may (roles).
        name_tokens: ``{name: token}``: each name reserved for the clients presenting its token, which may register
            no other name.
        origins: ``Origin`` values accepted by a hub without a token (e.g. ``["http://localhost:8888"]``).
        ssl: a server-side :class:`ssl.SSLContext` (its certificate chain loaded): serve ``wss://``.
        insecure: allow a host that is not loopback without ``ssl`` (tokens and traffic then cross the network in
            clear text).
        backplane: a Redis URL (``redis://host:port/db``): share the rooms with every hub on the same Redis
            (:mod:`.backplane`); None (the default): this hub alone.
        swergio_port: also accept swergio 0.0.2's TCP clients on this port (0: a free one; read it back from
            :attr:`swergio_port`). None (the default): no such listener. It binds ``host`` if that is a loopback
            address, else ``127.0.0.1``: swergio's clients cannot present a token. With roles, its clients have a
            component's permissions (no hub rooms, no reserved names).

    Raises:
        ValueError: ``token=""`` with a host that is not loopback (anyone on the network could join), a host that is
            not loopback without ``ssl`` unless ``insecure``, a ``backplane`` URL that is not Redis's, roles
            without a token, two credentials that are the same, or a ``traffic_interval`` that is not positive.

    Attributes:
        core: the :class:`~swergio_nb.transport.core.HubCore` carrying out the routing (queues, flow control).
        swergio: the :class:`~swergio_nb.transport.swergio_tcp.SwergioListener` for ``swergio_port`` (else None).
        backplane: the :class:`~swergio_nb.transport.backplane.RedisBackplane` (else None).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        max_size: int | None = DEFAULT_MAX_SIZE,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        total_queue_bytes: int | None = DEFAULT_TOTAL_QUEUE_BYTES,
        flow_control: bool = True,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        traffic_interval: float = DEFAULT_TRAFFIC_INTERVAL,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        client_ping_timeout: float | None = DEFAULT_PING_TIMEOUT,
        max_rooms: int | None = DEFAULT_MAX_ROOMS,
        router: Router | None = None,
        token: str | None = None,
        observer_token: str | None = None,
        name_tokens: Mapping[str, str] | None = None,
        origins: Sequence[str] = (),
        ssl: SSLContext | None = None,
        insecure: bool = False,
        swergio_port: int | None = None,
        backplane: str | None = None,
    ) -> None:
        if token is None:
            token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
        if not token and not is_loopback(host):
            raise ValueError(f"refusing to serve on {host!r} without a token: anyone on the network could join")
        if ssl is None and not insecure and not is_loopback(host):
            raise ValueError(
                f"refusing to serve on {host!r} without TLS: the token and every message would cross the network in "
                "clear text; give ssl= (swergio-nb hub --certfile/--keyfile), or insecure=True (--insecure)"
            )
        self.ssl = ssl
        self.token = token
        self.observer_token = observer_token
        self.origins = list(origins)
        name_tokens = dict(name_tokens or {})
        self._credentials = _credentials(token, observer_token, name_tokens)
        if router is None and name_tokens:
            router = Router(max_rooms=max_rooms, reserved=frozenset(name_tokens))
        self.host = host
        self.port = port
        self.max_size = max_size
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.core = HubCore(
            router,
            queue_size=queue_size,
            queue_bytes=queue_bytes,
            total_queue_bytes=total_queue_bytes,
            flow_control=flow_control,
            stall_timeout=stall_timeout,
            traffic_interval=traffic_interval,
            max_rooms=max_rooms,
        )
        self.core.router.announce["PING_TIMEOUT"] = client_ping_timeout
        self.swergio = (
            None
            if swergio_port is None
            else SwergioListener(
                self.core,
                host if is_loopback(host) else "127.0.0.1",
                swergio_port,
                max_size=max_size,
                permissions=FULL if observer_token is None else COMPONENT,  # a component's, with roles
            )
        )
        self.backplane = None
        if backplane is not None:  # imported here: redis costs ~45 ms at import, and most hubs run alone
            from .backplane import RedisBackplane

            self.backplane = RedisBackplane(backplane)
        self._server: Server | None = None
        self._starting: asyncio.Future | None = None

    router = _of_core("router", "The sans-I/O :class:`Router`: rooms, names and routing counters (``router.stats``).")
    stats = _of_core("stats", "The :class:`HubStats` counters (connections, slow consumers, dropped log copies...).")
    queue_size = _of_core("queue_size", "Frames waiting per connection before the overflow policy applies.")
    high_water = _of_core("high_water", "Queue length, in frames, at which a sender waits (None: no flow control).")
    low_water = _of_core("low_water", "Queue length, in frames, a waited-on recipient's queue drains to.")
    stall_timeout = _of_core("stall_timeout", "Seconds a waited-on recipient may make no progress before it is cut.")
    traffic_interval = _of_core("traffic_interval", "Seconds between two ``LOG/TRAFFIC`` summaries.")

    @property
    def url(self) -> str:
        """``ws://host:port/?token=...`` (``wss://`` with TLS): what a client needs to connect (like Jupyter's URL
        with its token)."""
        return with_token(self._base, self.token)

    @property
    def observer_url(self) -> str:
        """The URL with the observer credential (:attr:`url` when the hub has no roles)."""
        return with_token(self._base, self.observer_token or self.token)

    @property
    def _base(self) -> str:
        return f"{'wss' if self.ssl is not None else 'ws'}://{self.host}:{self.port}"

    def __repr__(self) -> str:
        state = "running" if self.running else "starting" if self._starting is not None else "stopped"
        return f"<Hub {self._base} {state}, {len(self.core.connections)} connections>"

    @property
    def swergio_port(self) -> int | None:
        """The port of the swergio 0.0.2 listener (final once started), or None without one."""
        return None if self.swergio is None else self.swergio.port

    @property
    def swergio_address(self) -> tuple[str, int] | None:
        """``(host, port)`` of the swergio 0.0.2 listener: swergio's ``Client(name, host, port)``; None without."""
        return None if self.swergio is None else self.swergio.address

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
            if self.swergio is not None:
                try:
                    self.swergio.bind()
                except OSError:
                    sock.close()
                    raise
            self._starting = asyncio.ensure_future(self._open(sock))
        return self._starting

    async def _open(self, sock: socket.socket) -> None:
        if self.backplane is not None:
            try:
                await self.backplane.start(self.core)
            except ConnectionError:
                sock.close()
                raise
        self._server = await serve(
            self._serve,
            sock=sock,
            process_request=self._authenticate,
            ssl=self.ssl,
            max_size=self.max_size,
            compression=None,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            create_connection=DeliveringServerConnection,
        )
        if self.swergio is not None:
            await self.swergio.start()
        self.core.start()
        logger.info("hub listening on %s", self._base)

    def _authenticate(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse the handshake without a credential (401) or with a wrong one (403), as Jupyter does; note what
        the credential allows on the connection (``permissions``)."""
        if not self.token:
            origin = request.headers.get("Origin")
            if origin is not None and origin not in self.origins:
                self.stats.refused += 1
                return connection.respond(
                    HTTPStatus.FORBIDDEN, "swergio hub: no token, and this Origin is not allowed\n"
                )
            return None
        given = parse_qs(urlsplit(request.path).query).get("token", [None])[0]
        header = request.headers.get("Authorization", "")
        if given is None and header.lower().startswith("bearer "):
            given = header[7:].strip()
        if given is None:
            self.stats.refused += 1
            return connection.respond(HTTPStatus.UNAUTHORIZED, "swergio hub: a token is required (?token=...)\n")
        permissions = None
        for secret, allowed in self._credentials:  # every one compared: the time does not say which matched
            if hmac.compare_digest(given.encode(), secret.encode()):
                permissions = allowed
        if permissions is None:
            self.stats.refused += 1
            return connection.respond(HTTPStatus.FORBIDDEN, "swergio hub: wrong token\n")
        connection.permissions = permissions  # type: ignore[attr-defined]
        return None

    async def close(self) -> None:
        """Close every connection (code 1001) and stop listening. Safe to call twice."""
        starting, self._starting = self._starting, None
        if starting is not None:
            await asyncio.gather(starting, return_exceptions=True)
        await self.core.stop()
        if self.backplane is not None:  # first: its names are free for the clients that fail over
            await self.backplane.stop()
        if self.swergio is not None:
            await self.swergio.close()
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

    async def _serve(self, ws: DeliveringServerConnection) -> None:
        """One connection, from the end of its handshake to its close: the link of a core connection."""
        sock = socket_of(ws)
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP, and socket.create_server's
            # (hence the accepted ones) have proto 0: without this, Nagle's algorithm holds a small frame that
            # follows another until the peer's delayed ACK (~40 ms on Linux).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = self.core.open(ws, getattr(ws, "permissions", FULL))
        ws.start_delivery(functools.partial(self.core.receive, conn))  # frames come as they are parsed
        try:
            with contextlib.suppress(ConnectionClosed):  # however the peer leaves, the finally block cleans up
                async for frame in ws:  # only frames after a fragmented message come this way
                    await ws.wait_delivered()
                    waiting = self.core.receive(conn, frame)
                    if waiting is not None:
                        await waiting
            await ws.wait_delivered()  # what the peer sent before it left is routed
        finally:
            ws.stop_delivery()
            await self.core.closed(conn)
