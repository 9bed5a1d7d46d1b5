"""websockets connections that hand each complete data frame over as soon as it is parsed.

websockets' asyncio connection puts every incoming message into a queue that ``recv()`` (or ``async for``) reads
from another task: per message, a queue entry, a future and a task switch. The hub and the client handle a frame in
a few microseconds, so that hand-off was a fifth of their receiving cost. Here the frame goes straight from
``data_received`` to :attr:`DeliveringMixin.deliver`; websockets still parses every frame (RFC 6455), answers pings
and runs the closing handshake.

``deliver(frame)`` returns None, or an awaitable when the receiver cannot take more yet (a full queue): the
connection then stops reading from its socket (so TCP pushes back on the sender), keeps the frames it has already
parsed, hands them over in order once the awaitable is done, and reads again.

A fragmented message (legal, though swergio_nb never sends one) ends the fast path for that connection: it and every
frame after it take websockets' usual path (``recv()``), so the order of messages holds. So does a text frame that
is not UTF-8, which websockets answers by failing the connection with close code 1007, as RFC 6455 asks.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection
from websockets.frames import DATA_OPCODES, Frame, Opcode
from websockets.protocol import Event

__all__ = ["Deliver", "DeliveringClientConnection", "DeliveringMixin", "DeliveringServerConnection"]

logger = logging.getLogger("swergio_nb.delivery")

#: what takes a frame: returns None, or an awaitable to wait for before the next frame
Deliver = Callable[[str | bytes], "Awaitable[None] | None"]


class DeliveringMixin:
    """Hands complete data frames to :attr:`deliver` as they are parsed (see the module docstring).

    Attributes:
        deliver: the receiver; None (the default) keeps websockets' usual path, ``recv()``.
        held: frames parsed while a delivery waits, in order; None when nothing waits.
        draining: the task handing over ``held`` once the delivery's awaitable is done; None before the first wait.
    """

    deliver: Deliver | None = None
    held: collections.deque[str | bytes] | None = None
    draining: asyncio.Task[None] | None = None
    transport: asyncio.Transport

    def process_event(self, event: Event) -> None:
        if self.deliver is not None and isinstance(event, Frame) and event.opcode in DATA_OPCODES:
            if event.fin and event.opcode is not Opcode.CONT:
                try:
                    frame = str(event.data, "utf-8") if event.opcode is Opcode.TEXT else bytes(event.data)
                except UnicodeDecodeError:
                    self.deliver = None
                else:
                    self._hand_over(frame)
                    return
            self.deliver = None
        super().process_event(event)  # type: ignore[misc]

    def _hand_over(self, frame: str | bytes) -> None:
        if self.held is not None:
            self.held.append(frame)
            return
        deliver = self.deliver
        assert deliver is not None
        try:
            waiting = deliver(frame)
        except Exception:  # never into websockets' data_received: the connection goes on
            logger.exception("delivering a frame failed")
            return
        if waiting is not None:
            self.held = collections.deque()
            self.transport.pause_reading()
            self.draining = asyncio.ensure_future(self._drain(waiting, deliver))

    async def _drain(self, waiting: Awaitable[None], deliver: Deliver) -> None:
        try:
            await waiting
            while self.held:
                waiting = deliver(self.held.popleft())
                if waiting is not None:
                    await waiting
        finally:
            self.held = None
            if not self.transport.is_closing():
                self.transport.resume_reading()

    async def wait_delivered(self) -> None:
        """Wait until the frames held back by a waiting delivery have been handed over (at once if none are)."""
        draining = self.draining
        if draining is not None and not draining.done():
            await asyncio.shield(draining)


class DeliveringClientConnection(DeliveringMixin, ClientConnection):
    """websockets' :class:`~websockets.asyncio.client.ClientConnection` with :class:`DeliveringMixin`; pass it to
    ``connect(..., create_connection=DeliveringClientConnection)``."""


class DeliveringServerConnection(DeliveringMixin, ServerConnection):
    """websockets' :class:`~websockets.asyncio.server.ServerConnection` with :class:`DeliveringMixin`; pass it to
    ``serve(..., create_connection=DeliveringServerConnection)``."""
