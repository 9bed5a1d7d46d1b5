"""The tornado transport of the :class:`~swergio_nb.transport.core.HubCore` (the hub inside Jupyter Server).

Each connection of a :class:`HubSocket` (a ``tornado.websocket.WebSocketHandler``) is a :class:`TornadoLink` of
one :class:`~.core.HubCore`; tornado parses the frames (RFC 6455), answers pings and runs the closing handshake,
and hands each message to the core as soon as it is complete. Routing, queues, flow control, stall detection, the
overflow policy and ``LOG/TRAFFIC`` summaries are the core's, exactly as for the websockets :class:`~.hub.Hub`.

How tornado is driven (tornado 6, ``tornado/websocket.py``):

* ``on_message`` returns the core's awaitable when a recipient is full; tornado reads no further frame from that
  connection until it is done (``WebSocketProtocol13._receive_frame_loop`` awaits it), so TCP pushes back on the
  sender, as :meth:`~.core.HubCore.receive` asks;
* ``write_message`` writes the frame into the stream's buffer at once and returns a future that is done once the
  stream flushed it (or fails with ``WebSocketClosedError``); :meth:`TornadoLink.buffered` counts the bytes of the
  writes whose future is not done yet;
* tornado sets ``TCP_NODELAY`` on WebSocket streams itself; ``max_message_size`` closes a connection that sends a
  larger message with code 1009 (message too big), as the websockets hub does.

The handler knows nothing of authentication: a server subclasses :class:`HubSocket` and checks credentials before
the upgrade (Jupyter Server's extension in :mod:`swergio_nb.notebook.server` does, with Jupyter's own identity
provider and authorizer). The handler's ``initialize`` takes the core and the frame size limit, so the application
routes to it as ``(r"/ws", HubSocket, {"core": core, "max_size": 64 * 2**20})``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Sequence
from typing import Any

from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .core import Connection, HubCore

__all__ = ["HubSocket", "TornadoLink"]


class TornadoLink:
    """One tornado WebSocket connection as the core's :class:`~.core.Link`.

    Args:
        handler: the open connection's handler.
    """

    __slots__ = ("_flushing", "handler")

    def __init__(self, handler: WebSocketHandler) -> None:
        self.handler = handler
        self._flushing = 0  # bytes (UTF-8 length for text) of writes whose future is not done yet

    def buffered(self) -> int:
        """Bytes handed to tornado and not yet flushed to the socket."""
        return self._flushing

    def _write(self, frame: str | bytes) -> asyncio.Future:
        """Write ``frame`` now; returns tornado's future (done once flushed). Raises WebSocketClosedError."""
        future = self.handler.write_message(frame, binary=isinstance(frame, bytes))
        size = len(frame)  # characters of a text frame: the buffer estimate needs no UTF-8 encoding pass
        self._flushing += size

        def flushed(done: asyncio.Future) -> None:
            self._flushing -= size
            if not done.cancelled():
                done.exception()  # a closed stream: its handler's on_close reports it, nothing to log here

        future.add_done_callback(flushed)
        return future

    @staticmethod
    def write_many(links: Sequence[TornadoLink], frame: str | bytes) -> None:
        """Write ``frame`` to each of ``links`` now, skipping closed ones."""
        for link in links:
            try:
                link._write(frame)
            except WebSocketClosedError:  # on_close reports it
                continue

    async def send(self, frame: str | bytes) -> None:
        """Write ``frame`` and wait until tornado flushed it to the socket.

        Raises:
            WebSocketClosedError: the connection is closed.
        """
        await self._write(frame)

    async def close(self, code: int, reason: str) -> None:
        """Start the closing handshake with ``code`` and ``reason`` (nothing if already closed)."""
        self.handler.close(code, reason)


class HubSocket(WebSocketHandler):
    """A tornado WebSocket handler whose every connection is a connection of a :class:`~.core.HubCore`.

    Route to it with ``{"core": core, "max_size": n}`` as the handler's keyword arguments (see the module docstring).
    Subclasses add authentication; cooperative mixins (Jupyter Server's ``WebSocketMixin``) may come before it.

    Attributes:
        core: the hub core.
        max_size: largest message accepted, in bytes; None disables the limit (tornado's default is 10 MiB).
        conn: the core's state of this connection (None until :meth:`open`).
    """

    #: close handshakes of connections that closed (referenced until the core has forgotten them)
    _closing: set[asyncio.Future] = set()

    def initialize(self, core: HubCore, max_size: int | None, **kwargs: Any) -> None:  # noqa: D102
        super().initialize(**kwargs)
        self.core = core
        self.max_size = max_size
        self.conn: Connection | None = None

    @property
    def max_message_size(self) -> int:
        """tornado's limit: ``max_size``, or ``sys.maxsize`` for None."""
        return sys.maxsize if self.max_size is None else self.max_size

    def open(self, *args: Any, **kwargs: Any) -> Any:
        """The upgrade succeeded: the connection joins the core."""
        self.conn = self.core.open(TornadoLink(self))
        return super().open(*args, **kwargs)

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """Route one message; tornado waits for a returned awaitable before reading the next one."""
        if self.conn is None:
            return None
        return self.core.receive(self.conn, message)

    def on_close(self) -> None:
        """The connection is gone: the core forgets it (in a task: tornado's ``on_close`` is synchronous)."""
        conn, self.conn = self.conn, None
        if conn is not None:
            task = asyncio.ensure_future(self.core.closed(conn))
            HubSocket._closing.add(task)
            task.add_done_callback(HubSocket._closing.discard)
        super().on_close()
