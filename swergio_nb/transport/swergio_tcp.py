"""swergio 0.0.2's TCP framing: a listener that makes swergio's own clients connections of a :class:`HubCore`.

swergio 0.0.2 (and its Julia client, swergio.jl) speaks raw TCP: every message is a header of ``header_length``
(10) ASCII characters giving the length in bytes of the body, left-aligned and padded with spaces
(``f"{len(body):<10}"``), then the body, the message as UTF-8 JSON. :class:`SwergioListener` accepts such
connections and hands each one to a :class:`~swergio_nb.transport.core.HubCore` as a :class:`~.core.Link`, so
swergio's clients are in the same rooms as the WebSocket clients of the same core; no routing rule is repeated here.
It translates at the edge only:

* **in**: each body is handed to the core as a text frame, as it came. swergio's ``COMMAND/REGISTER``,
  ``COMMAND/JOINROOM``, ``COMMAND/LEAVEROOM`` and ``COMMAND/DISCONNECT`` are hub commands of the router (it answers
  them with ``COMMAND/ACK``, which swergio's client ignores); data messages are routed by ``TO_ROOM`` and ``TO`` and
  stamped with ``SENT_BY`` by the router, as for every client; ``DATA/*`` messages are copied to ``_logging``.
* **out**: a text frame goes out as it is. A binary frame (msgpack, arrays as the ndarray extension) is decoded and
  written as JSON with every array as nested lists (``ndarray.tolist()``), complex numbers as ``[real, imag]`` and
  ``bytes`` as a base64 string: what swergio's ``json.loads`` can read, as a swergio component would have sent it.
* **bad input**: a header that is not a decimal length, a length above ``max_size``, or a body that is not UTF-8
  loses the framing: the connection gets a ``LOG/ERROR`` message (``ERROR`` ``"bad-header"``, ``"frame-too-big"``
  or ``"bad-encoding"``, ``DETAIL`` the explanation) and is closed, so swergio's ``receive()`` returns False and its
  ``listen()`` ends instead of waiting. A well-framed body that breaks the protocol (not JSON, unknown ``TYPE``, no
  address...) is the router's to answer, as for a WebSocket client: a ``LOG/ERROR`` and the connection stays open.
  A hub-side close with a reason (a stalled or slow consumer) is preceded by a ``LOG/ERROR`` ``"closed"`` carrying it.

Security: swergio's clients have no way to present a token, so whoever can connect can join any room under any free
name. The listener therefore binds loopback addresses only (:func:`~swergio_nb.protocol.urls.is_loopback`), and a
hub starts it only when asked (``Hub(swergio_port=...)``, ``swergio-nb hub --swergio-port PORT``): every local user
and process of the machine can then reach the rooms, nobody else.

Usage, on any core (the websockets :class:`~swergio_nb.transport.hub.Hub` does this for ``swergio_port``)::

    listener = await SwergioListener(hub.core, port=0).start()
    print(listener.address)           # ('127.0.0.1', PORT): swergio's Client(name, '127.0.0.1', PORT)
    ...
    await listener.close()
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
import socket
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..exceptions import InvalidMessage
from ..protocol.codec import decode, encode_text
from ..protocol.limits import DEFAULT_MAX_SIZE
from ..protocol.messages import HUB_NAME, MessageType, make_message
from ..protocol.router import FULL, Permissions
from ..protocol.urls import is_loopback
from .core import Connection, HubCore

__all__ = ["SWERGIO_HEADER_LENGTH", "SwergioListener", "frame_header", "parse_header", "to_swergio_json"]

logger = logging.getLogger("swergio_nb.transport.swergio_tcp")

#: swergio 0.0.2's default header length, in bytes (``Client(..., header_length=10)``).
SWERGIO_HEADER_LENGTH = 10
#: Linux's TCP_QUICKACK (None elsewhere). swergio's client writes the header and the body in two ``send()`` calls
#: on a socket with Nagle's algorithm on: the body waits until the header is acknowledged, and a delayed ACK takes
#: ~40 ms. Asking for an immediate ACK once a header is read lets the body go at once (150 steps of swergio's
#: trebuchet trainer through the listener: 19 s without, 4 s with, as through WebSocket).
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def parse_header(header: bytes) -> int:
    """The body length a swergio header gives, in bytes.

    Args:
        header: the ``header_length`` bytes read: ASCII decimal digits, padded with spaces (swergio pads on the
            right; spaces on either side are accepted, as swergio's ``int(header.decode())`` does).

    Raises:
        InvalidMessage: ``bad-header``, naming the bytes received, if they are not a decimal length.
    """
    digits = header.strip(b" ")
    if not digits or not digits.isdigit():
        raise InvalidMessage(
            f"a swergio frame starts with its length in bytes as {len(header)} ASCII digits padded with spaces, "
            f"got {header[:40]!r}",
            "bad-header",
        )
    return int(digits)


def frame_header(length: int, header_length: int = SWERGIO_HEADER_LENGTH) -> bytes:
    """swergio's header for a body of ``length`` bytes: ``f"{length:<{header_length}}"`` in ASCII.

    Raises:
        ValueError: ``length`` has more digits than ``header_length`` (the peer could not read it).
    """
    text = str(length)
    if len(text) > header_length:
        raise ValueError(f"a body of {length} bytes needs more than the {header_length}-byte header can say")
    return text.ljust(header_length).encode("ascii")


def _jsonable(obj: Any) -> Any:
    """``json.dumps``'s ``default``: what a decoded binary frame holds that JSON cannot, as swergio would send it."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, complex):
        return [obj.real, obj.imag]
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode("ascii")
    raise TypeError(f"{type(obj).__name__} cannot be sent to a swergio client")


def to_swergio_json(frame: str | bytes) -> bytes:
    """The body a swergio client gets for a frame of the core: UTF-8 JSON.

    Args:
        frame: a text frame (returned encoded, unchanged) or a binary frame (msgpack; decoded, arrays written as
            nested lists, complex numbers as ``[real, imag]``, bytes as base64 text).

    Raises:
        InvalidMessage: the binary frame does not decode (the core only routes frames that do).
    """
    if isinstance(frame, str):
        return frame.encode("utf-8")
    return json.dumps(decode(frame), separators=(",", ":"), default=_jsonable).encode("ascii")


def _error_body(code: str, detail: str, to: str | None = None) -> bytes:
    """A ``LOG/ERROR`` from the hub as a swergio body (the router's format; it is not routed, so built here)."""
    error = make_message(MessageType.LOG_ERROR, SENT_BY=HUB_NAME, ERROR=code, DETAIL=detail)
    if to is not None:
        error["TO"] = to
    return encode_text(error).encode("ascii")


async def _until_eof(reader: asyncio.StreamReader) -> None:
    """Read and discard what the peer still sends, until it closes its side."""
    while True:
        if not await reader.read(64 * 1024):
            return


class _StreamLink:
    """The core's :class:`~.core.Link` for one swergio connection (an asyncio stream)."""

    __slots__ = ("listener", "writer", "transport", "buffered", "write_many")

    def __init__(self, listener: SwergioListener, writer: asyncio.StreamWriter) -> None:
        self.listener = listener
        self.writer = writer
        self.transport = writer.transport
        self.buffered = writer.transport.get_write_buffer_size
        self.write_many = listener._write_many  # one object per listener: the core batches the links sharing it

    async def send(self, frame: str | bytes) -> None:
        framed = self.listener._frame(frame)
        if framed is not None:
            self.writer.write(framed)
            await self.writer.drain()  # raises once the connection is lost: the core stops writing to it

    def half_close(self) -> bool:
        """Send the end of the stream (TCP FIN), still reading; False if the connection is closing already."""
        if self.transport.is_closing() or not self.writer.can_write_eof():
            return False
        self.writer.write_eof()
        return True

    async def close(self, code: int, reason: str) -> None:
        if code not in (1000, 1001) and not self.transport.is_closing():  # TCP has no close reason: say it first
            self.listener._write_body(self.transport, _error_body("closed", f"{reason} (code {code})"))
        await self.finish(self.listener.linger)

    async def finish(self, timeout: float) -> None:
        """Close once what is buffered is written; abort (TCP reset) if the peer has not read it in ``timeout`` s.

        A plain close waits for the buffer to drain, which a reader that stopped (a stalled consumer) never lets happen.
        """
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), timeout)
        except asyncio.TimeoutError:  # (TimeoutError itself from Python 3.11)
            self.transport.abort()
        except Exception as exc:  # the connection was lost meanwhile: closed all the same
            logger.debug("swergio listener: connection lost while closing: %r", exc)


class SwergioListener:
    """Accepts swergio 0.0.2 clients (raw TCP, length header, JSON) as connections of a :class:`HubCore`.

    Args:
        core: the hub core whose rooms the clients join (a websockets :class:`~swergio_nb.transport.hub.Hub`'s
            ``hub.core``, or any other).
        host: loopback interface to bind (``127.0.0.1``, ``::1``, ``localhost``).
        port: TCP port; 0 picks a free one (read it back from :attr:`port` after :meth:`bind` or :meth:`start`).
        header_length: bytes of the length header; swergio's ``HEADER_LENGTH`` (10 unless its users changed it:
            server and clients must agree).
        max_size: largest body accepted, in bytes; None disables the limit. A larger one closes the connection.
        linger: seconds a closing connection waits for the peer to close its side after the hub's end of the
            stream (a swergio client answers it with ``COMMAND/DISCONNECT``, then closes), before closing anyway.
        permissions: what every connection of this listener may do (the router's
            :class:`~swergio_nb.protocol.router.Permissions`): they present no credential, so all get the same.
            :data:`~swergio_nb.protocol.router.COMPONENT` on a hub with roles (no hub rooms, no reserved names).

    Raises:
        ValueError: ``host`` is not a loopback address (swergio's clients cannot present a token), or
            ``header_length`` is below 1.

    Attributes:
        connections: the open connections (their core state), for counting and closing.
    """

    def __init__(
        self,
        core: HubCore,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        header_length: int = SWERGIO_HEADER_LENGTH,
        max_size: int | None = DEFAULT_MAX_SIZE,
        linger: float = 1.0,
        permissions: Permissions = FULL,
    ) -> None:
        if not is_loopback(host):
            raise ValueError(
                f"refusing to serve swergio's TCP framing on {host!r}: its clients cannot present a token, "
                "so it binds loopback addresses only (127.0.0.1, ::1, localhost)"
            )
        if header_length < 1:
            raise ValueError(f"header_length must be at least 1 byte, got {header_length!r}")
        self.core = core
        self.host = host
        self.port = port
        self.header_length = header_length
        self.max_size = max_size
        self.linger = linger
        self.permissions = permissions
        self.connections: set[Connection] = set()
        self._handlers: set[asyncio.Task] = set()  # one per connection, until the core has forgotten it
        self._sock: socket.socket | None = None
        self._server: asyncio.Server | None = None
        self._last: tuple[str | bytes, bytes] | None = None  # the last frame framed: fan-out frames it once
        self._write_many = self._write_to_links  # bound once: links compare it by identity

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)``: what a swergio client passes as ``Client(name, host, port)``."""
        return self.host, self.port

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`close`."""
        return self._server is not None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<SwergioListener tcp://{self.host}:{self.port} {state}, {len(self.connections)} connections>"

    def bind(self) -> int:
        """Bind the listening socket now (so :attr:`port` is final); returns the port. Idempotent.

        Raises:
            OSError: the address cannot be bound (e.g. the port is in use).
        """
        if self._sock is None:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            self._sock = socket.create_server((self.host, self.port), family=family)
            self.port = self._sock.getsockname()[1]
        return self.port

    async def start(self) -> SwergioListener:
        """Bind if needed and start accepting connections; returns self.

        Raises:
            OSError: the address cannot be bound.
        """
        if self._server is None:
            self.bind()
            self._server = await asyncio.start_server(self._serve, sock=self._sock)
            logger.info("swergio listener on tcp://%s:%d", self.host, self.port)
        return self

    async def close(self) -> None:
        """Stop accepting, close every connection and wait until the core has forgotten them. Safe to call twice."""
        server, self._server = self._server, None
        sock, self._sock = self._sock, None
        if server is None:
            if sock is not None:
                sock.close()
            return
        server.close()
        links = [conn.link for conn in self.connections]
        for link in links:  # a swergio client sees the end, says DISCONNECT and closes: its handler returns
            link.half_close()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=self.linger)
        for link in links:  # the peers that did not close in time
            link.transport.abort()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> SwergioListener:
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    # -- writing -----------------------------------------------------------------------------------------------

    def _frame(self, frame: str | bytes) -> bytes | None:
        """``frame`` as header + body for swergio (cached for the last frame: a fan-out converts it once); None,
        logged, for one that swergio's framing cannot carry (longer than ``header_length`` digits can say)."""
        last = self._last
        if last is not None and last[0] is frame:
            return last[1]
        try:
            body = to_swergio_json(frame)
            framed = frame_header(len(body), self.header_length) + body
        except (InvalidMessage, ValueError) as exc:
            logger.warning("a frame of %d bytes cannot go to swergio clients: %s", len(frame), exc)
            return None
        self._last = (frame, framed)
        return framed

    def _write_to_links(self, links: Sequence[_StreamLink], frame: str | bytes) -> None:
        framed = self._frame(frame)
        if framed is None:
            return
        for link in links:
            if not link.transport.is_closing():
                link.transport.write(framed)

    def _write_body(self, transport: asyncio.BaseTransport, body: bytes) -> None:
        transport.write(frame_header(len(body), self.header_length) + body)  # type: ignore[attr-defined]

    # -- reading -----------------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One swergio connection, from accept to close: frames in, in order, paused while the core says wait."""
        sock = writer.get_extra_info("socket")
        quickack = None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # socket.create_server's sockets (and so the accepted ones) have proto 0, on which asyncio does not set
            # TCP_NODELAY: without it Nagle's algorithm holds a small message until the peer's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if _QUICKACK is not None:
                quickack = functools.partial(sock.setsockopt, socket.IPPROTO_TCP, _QUICKACK, 1)
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        link = _StreamLink(self, writer)
        conn = self.core.open(link, self.permissions)
        self.connections.add(conn)
        left = False
        try:
            while not conn.closing:
                header = await reader.readexactly(self.header_length)
                if quickack is not None:
                    quickack()  # acknowledge now: the body may be waiting for it (see _QUICKACK)
                length = parse_header(header)
                if self.max_size is not None and length > self.max_size:
                    raise InvalidMessage(
                        f"a frame of {length} bytes is larger than this hub accepts ({self.max_size} bytes)",
                        "frame-too-big",
                    )
                try:
                    text = (await reader.readexactly(length)).decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InvalidMessage(f"a swergio frame's body must be UTF-8 JSON: {exc}", "bad-encoding") from None
                waiting = self.core.receive(conn, text)
                if waiting is not None:
                    await waiting
        except InvalidMessage as exc:
            logger.warning("closing swergio connection %d: %s", conn.id, exc.detail)
            if not writer.transport.is_closing():
                self._write_body(writer.transport, _error_body(exc.code, exc.detail, self.core.router.name_of(conn.id)))
        except (asyncio.IncompleteReadError, ConnectionError):
            left = True  # the peer left (between frames, or in the middle of one)
        finally:
            self.connections.discard(conn)
            await self.core.closed(conn)
            if not left:
                await self._linger(reader, link)
            await link.finish(self.linger)
            self._handlers.discard(handler)

    async def _linger(self, reader: asyncio.StreamReader, link: _StreamLink) -> None:
        """Half-close and give the peer ``linger`` seconds to close its side, reading and dropping what it sends.

        swergio's client answers the end of the stream with ``COMMAND/DISCONNECT`` before it closes; a full close
        first would make that write fail (``BrokenPipeError`` out of its ``listen()``).
        """
        if link.half_close():
            with contextlib.suppress(Exception):  # TimeoutError, a reset: closed by the caller all the same
                await asyncio.wait_for(_until_eof(reader), self.linger)
