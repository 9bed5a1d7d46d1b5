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

#: Bytes in a connection's transport buffer below which a frame with no backlog ahead of it is written at once.
DIRECT_WRITE_LIMIT = 64 * 1024

logger = logging.getLogger("swergio_nb.transport._websockets")

#: what takes a frame: returns None, or an awaitable to wait for before the next frame
Deliver = Callable[[str | bytes], "Awaitable[None] | None"]


class DeliveringMixin:
    """Hands complete data frames to a receiver as they are parsed (see the module docstring).

    Call :meth:`start_delivery` once the receiver is known (after the opening handshake); frames parsed before that
    are held, with the socket paused, and handed over first.

    Attributes:
        deliver: the receiver; None until :meth:`start_delivery`.
        fallback: True once a fragmented (or non-UTF-8 text) frame came: from then on websockets' ``recv()`` path.
        held: frames parsed while nobody could take them (a delivery waits, or none started yet), in order; None
            when none are held.
        draining: the task handing ``held`` over; None before the first wait.
    """

    deliver: Deliver | None = None
    fallback: bool = False
    held: collections.deque[str | bytes] | None = None
    draining: asyncio.Task[None] | None = None
    transport: asyncio.Transport

    def start_delivery(self, deliver: Deliver) -> None:
        """Hand every complete data frame to ``deliver`` from now on, the frames held so far first."""
        self.deliver = deliver
        if self.held is not None and self.draining is None:
            self.draining = asyncio.ensure_future(self._drain(None, deliver))

    def process_event(self, event: Event) -> None:
        if not self.fallback and isinstance(event, Frame) and event.opcode in DATA_OPCODES:
            if event.fin and event.opcode is not Opcode.CONT:
                try:
                    frame = str(event.data, "utf-8") if event.opcode is Opcode.TEXT else bytes(event.data)
                except UnicodeDecodeError:
                    self.fallback = True
                else:
                    self._hand_over(frame)
                    return
            self.fallback = True
        super().process_event(event)  # type: ignore[misc]

    def _hand_over(self, frame: str | bytes) -> None:
        deliver = self.deliver
        if self.held is not None or deliver is None:
            if self.held is None:  # nobody to take it yet: hold it and stop reading
                self.held = collections.deque()
                self.transport.pause_reading()
            self.held.append(frame)
            return
        waiting = _deliver_one(deliver, frame)
        if waiting is not None:
            self.held = collections.deque()
            self.transport.pause_reading()
            self.draining = asyncio.ensure_future(self._drain(waiting, deliver))

    async def _drain(self, waiting: Awaitable[None] | None, deliver: Deliver) -> None:
        try:
            if waiting is not None:
                await waiting
            while self.held:
                waiting = _deliver_one(deliver, self.held.popleft())
                if waiting is not None:
                    await waiting
        finally:
            self.held = None
            if not self.transport.is_closing():
                self.transport.resume_reading()

    async def wait_delivered(self) -> None:
        """Wait until the frames held back have been handed over (at once if none are)."""
        draining = self.draining
        if draining is not None and not draining.done():
            await asyncio.shield(draining)


def _deliver_one(deliver: Deliver, frame: str | bytes) -> Awaitable[None] | None:
    try:
        return deliver(frame)
    except Exception:  # never into websockets' data_received (nor out of the drain): the connection goes on
        logger.exception("delivering a frame failed")
        return None


class DeliveringClientConnection(DeliveringMixin, ClientConnection):
    """websockets' :class:`~websockets.asyncio.client.ClientConnection` with :class:`DeliveringMixin`; pass it to
    ``connect(..., create_connection=DeliveringClientConnection)``."""


class DeliveringServerConnection(DeliveringMixin, ServerConnection):
    """websockets' :class:`~websockets.asyncio.server.ServerConnection` with :class:`DeliveringMixin`; pass it to
    ``serve(..., create_connection=DeliveringServerConnection)``."""
