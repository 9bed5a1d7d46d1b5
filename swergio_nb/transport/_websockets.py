"""Every use of a websockets internal, in one place; each names the websockets source it relies on.

Checked against websockets 15.0.1, 16.1.1 and 17.4 (``src/websockets/...`` below is the path in its repository);
``pyproject.toml`` bounds websockets to those majors (14.x lacks ``connect(proxy=...)``, which the client passes).
At import, :func:`check_websockets` raises :class:`IncompatibleWebsockets` naming the installed version if
something relied on is gone, rather than an ``AttributeError`` deep in a connection;
``tests/transport/test_websockets_internals.py`` fails if frames stop taking the fast path (instead of silently
slowing down).

What is used, and why:

* **frames handed over as they are parsed** (:class:`DeliveringMixin`). websockets' asyncio connection puts every
  incoming message into a queue that ``recv()`` (or ``async for``) reads from another task: per message, a queue
  entry, a future and a task switch. The hub and the client handle a frame in a few microseconds, so that hand-off
  was a fifth of their receiving cost. Here the frame goes straight from ``data_received`` to
  :attr:`DeliveringMixin.deliver`; websockets still parses every frame (RFC 6455), answers pings and runs the
  closing handshake. ``deliver(frame)`` returns None, or an awaitable when the receiver cannot take more yet (a
  full queue): the connection then stops reading from its socket (so TCP pushes back on the sender), keeps the
  frames it has already parsed, hands them over in order once the awaitable is done, and reads again. A fragmented
  message (legal, though swergio_nb never sends one) ends the fast path for that connection: it and every frame
  after it take websockets' usual path (``recv()``), so the order of messages holds. So does a text frame that is
  not UTF-8, which websockets answers by failing the connection with close code 1007, as RFC 6455 asks.
* **the transport** (``Connection.transport``, an :class:`asyncio.Transport`): its write-buffer size decides the
  fast path of writes; pausing and resuming reading implements the wait above; its socket gets TCP_NODELAY.
* **write without drain** (:func:`write_without_drain`): websockets' public ``broadcast()`` writes a frame to each
  open connection without waiting for its buffer to drain (documented), and encodes a text frame once for all.
  That the frame is written at once, not queued behind a send in progress, is what the fast path relies on.
* **one write per connection per chunk read** (:func:`batched`): one ``data_received`` often holds many frames of a
  burst, and writing each routed frame at once costs one ``send()`` system call per frame and recipient, most of
  a hub's time per delivery. While the hub handles a chunk one of its connections read (not a client: its
  handlers may take long), :func:`write_without_drain` (and :func:`try_write`) keep each frame for its recipient
  and write it with the recipient's other frames of the chunk in one ``transport.writelines`` before
  ``data_received`` returns (or once it keeps :data:`DIRECT_WRITE_LIMIT` bytes for it: the write buffer that flow
  control reads lags behind by less than that): the order per connection holds, and a lone frame goes out as early
  as before.
* **data frames serialized without the protocol object** (:func:`data_frame`: websockets' ``Frame.serialize``).
  With no extension negotiated (``compression=None`` on both ends), a data frame is its header and the payload,
  masked with a fresh key on a client; the hub's go out unmasked, the same bytes for every recipient, so a batch
  serializes a frame once for all of them, where ``send_text`` on each connection would serialize it again.
  Control frames (ping, pong, close) stay websockets' own; websockets writes what its protocol serializes before
  it awaits anything, so frames written here never overtake them.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import ServerConnection, broadcast
from websockets.frames import DATA_OPCODES, Frame, Opcode
from websockets.protocol import Event, Side, State

from ..exceptions import NotConnected, SwergioError
from ..protocol.urls import RedactTokens
from .core import DIRECT_WRITE_LIMIT

__all__ = [
    "DIRECT_WRITE_LIMIT",
    "Deliver",
    "DeliveringClientConnection",
    "DeliveringMixin",
    "DeliveringServerConnection",
    "IncompatibleWebsockets",
    "TESTED_MAJORS",
    "abort",
    "batched",
    "check_websockets",
    "data_frame",
    "socket_of",
    "try_write",
    "write_without_drain",
]

#: websockets majors this module was checked against (pyproject.toml bounds the dependency to them).
TESTED_MAJORS = (15, 16, 17)

logger = logging.getLogger("swergio_nb.transport._websockets")

# websockets logs each handshake's request line at DEBUG on these (its default loggers): the token is hidden there.
for _name in ("websockets.server", "websockets.client"):
    logging.getLogger(_name).addFilter(RedactTokens())

#: what takes a frame: returns None, or an awaitable to wait for before the next frame
Deliver = Callable[[str | bytes], "Awaitable[None] | None"]


class IncompatibleWebsockets(SwergioError, ImportError):
    """The installed websockets lacks an internal that swergio_nb's transports rely on."""


def check_websockets() -> None:
    """Check that the installed websockets has what this module relies on (run at import).

    Raises:
        IncompatibleWebsockets: naming the installed version and what is missing.
    """
    missing = [
        f"{cls.__name__}.{name}"
        for cls, name in (
            # src/websockets/asyncio/connection.py: Connection.data_received -> protocol.events_received() ->
            # self.process_event(event) for each event; ServerConnection/ClientConnection override it for the
            # handshake and call super() for frames.
            (Connection, "data_received"),
            (Connection, "process_event"),
            (ServerConnection, "process_event"),
            (ClientConnection, "process_event"),
            # src/websockets/asyncio/connection.py: Connection.connection_made sets self.transport
            (Connection, "connection_made"),
        )
        if not callable(getattr(cls, name, None))
    ]
    try:  # src/websockets/asyncio/connection.py: broadcast(connections, message, *, text, raise_exceptions)
        if "raise_exceptions" not in inspect.signature(broadcast).parameters:
            missing.append("broadcast(raise_exceptions=...)")
    except (TypeError, ValueError):
        missing.append("broadcast's signature")
    if missing:
        raise IncompatibleWebsockets(
            f"websockets {websockets.version.version} lacks {', '.join(missing)}, which swergio_nb's transports "
            f"rely on; it is tested with websockets {TESTED_MAJORS[0]}.x to {TESTED_MAJORS[-1]}.x"
        )


check_websockets()


def _transport(ws: Connection) -> asyncio.Transport:
    """The connection's asyncio transport (src/websockets/asyncio/connection.py ``Connection.connection_made``:
    ``self.transport = transport``; not part of websockets' documented API).

    Raises:
        IncompatibleWebsockets: if the connection has no such attribute.
    """
    transport = getattr(ws, "transport", None)
    if not isinstance(transport, asyncio.Transport):
        raise IncompatibleWebsockets(
            f"websockets {websockets.version.version}: a connection has no asyncio transport in .transport"
        )
    return transport


def abort(ws: Connection) -> None:
    """Drop the connection at once, without a closing handshake (the peer is not answering): its transport's
    ``abort()``; websockets then reports the connection lost (code 1006) as for a broken network."""
    _transport(ws).abort()


def socket_of(ws: Connection) -> socket.socket | None:
    """The connection's socket (``transport.get_extra_info("socket")``), or None (e.g. a pipe).

    Raises:
        IncompatibleWebsockets: if the connection has no asyncio transport in ``.transport``.
    """
    return _transport(ws).get_extra_info("socket")


_T = TypeVar("_T")


class _Kept:
    """What a batch keeps for one connection: the frames serialized for it here (empty when its protocol holds
    them), and their size in bytes."""

    __slots__ = ("frames", "size")

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.size = 0


class _Batch(threading.local):
    """Per thread (one event loop each): what the running :func:`batched` call keeps, per connection written to
    since it began; None outside one (frames are written at once)."""

    out: dict[Connection, _Kept] | None = None


_batch = _Batch()


def batched(handle: Callable[..., _T], *args: object) -> _T:
    """Call ``handle(*args)``, writing what it sends to each connection in one ``transport.writelines`` at its end.

    Inside, :func:`write_without_drain` and :func:`try_write` keep each frame for the batch instead of writing it;
    the frames for each connection are written together, in order, before this returns (also if ``handle``
    raises), or as soon as :data:`DIRECT_WRITE_LIMIT` bytes are kept for it (so a link's write buffer, which decides
    whether the next frame may be written without waiting, lags behind by less than that). A call inside another
    just runs ``handle`` (the outer one writes).

    Returns:
        What ``handle`` returns.
    """
    if _batch.out is not None:
        return handle(*args)
    out = _batch.out = {}
    try:
        return handle(*args)
    finally:
        _batch.out = None
        for ws, kept in out.items():
            _write_kept(ws, kept)


def _write_kept(ws: Connection, kept: _Kept) -> None:
    """Write what ``ws``'s protocol holds, then ``kept``'s frames, in one write; empty ``kept``."""
    # src/websockets/protocol.py Protocol.data_to_send(): what the protocol serialized, in order (a connection's
    # frames go one way only, so they keep their order); SEND_EOF (b"") only once the connection is no longer OPEN,
    # where websockets' own send_data() runs (one write each, then the half-close) and data frames are not sent
    frames, kept.frames, kept.size = kept.frames, [], 0
    try:
        if ws.protocol.state is not State.OPEN:
            ws.send_data()
            return
        data = ws.protocol.data_to_send()
        data += frames
        if len(data) == 1:
            ws.transport.write(data[0])
        elif data:
            ws.transport.writelines(data)
    except Exception as exc:  # as broadcast(): logged, the other connections go on
        ws.logger.warning("skipped writing frames: %r", exc)


_TEXT, _BINARY = Opcode.TEXT, Opcode.BINARY


def data_frame(data: bytes, text: bool, mask: bool) -> bytes:
    """A complete data frame without extensions (RFC 6455 section 5.2), serialized by websockets' ``Frame``:
    unmasked as a server sends it, or masked with a fresh random key as a client must.

    The same bytes websockets' protocol writes for ``send_text``/``send_binary`` on a connection without extensions
    (``tests/transport/test_websockets_internals.py`` parses them back with websockets), made without a
    connection: the hub serializes a frame once for all its recipients. (Measured: 0.70 us for an unmasked 130-byte
    frame, 1.2 us masked; a header packed by hand took 0.14 us, but the framing stays websockets'.)

    Args:
        data: the payload (UTF-8 text for a text frame).
        text: a text frame if True, else a binary one.
        mask: mask the payload (a client's frame).

    Returns:
        The frame's bytes.
    """
    return Frame(_TEXT if text else _BINARY, data).serialize(mask=mask, extensions=[])


def _keep(ws: Connection, data: bytes, text: bool, out: dict[Connection, _Kept], wire: bytes | None) -> bytes | None:
    """Keep one frame for ``ws`` in the running batch, to be written when it ends (see :func:`batched`).

    A connection that writes its frames itself (:attr:`DeliveringMixin.own_frames`) gets them from
    :func:`data_frame`: the hub's are unmasked, the same bytes for all, so the frame is serialized once, ``wire``
    (made here if None); a client's are masked, each with its key. Any other connection gets the frame from its
    own protocol (websockets' Sans-I/O ``send_text``/``send_binary``, as ``broadcast()``).

    Returns:
        ``wire``, made if it was needed and None.

    Raises:
        Exception: websockets' own, if ``ws`` cannot take a frame now (e.g. a fragmented send in progress).
    """
    if ws.send_in_progress is not None:  # src/websockets/asyncio/connection.py Connection.send, as broadcast()
        raise RuntimeError("sending a fragmented message")
    kept = out.get(ws)
    if kept is None:
        kept = out[ws] = _Kept()
    if not getattr(ws, "own_frames", False):
        (ws.protocol.send_text if text else ws.protocol.send_binary)(data)
    elif ws.masked:
        kept.frames.append(data_frame(data, text, True))
    else:
        if wire is None:
            wire = data_frame(data, text, False)
        kept.frames.append(wire)
    kept.size += len(data)
    if kept.size >= DIRECT_WRITE_LIMIT:
        _write_kept(ws, kept)
    return wire


def write_without_drain(connections: Iterable[Connection], frame: str | bytes) -> None:
    """Write ``frame`` to each of the open ``connections`` without waiting for their buffers to drain.

    Outside :func:`batched`: at once, websockets' ``broadcast(connections, frame)``
    (src/websockets/asyncio/connection.py ``broadcast``: per connection ``protocol.send_text``/``send_binary``,
    then ``send_data()``, which writes to the transport). Inside: kept for the batch's one write per connection
    (:func:`_keep`; the hub's connections share one serialization of the frame). Either way a ``str`` (a text
    frame) is encoded once for all, a connection that is not open is skipped, and a failed write is logged, not
    raised.
    """
    out = _batch.out
    if out is None:
        broadcast(connections, frame)
        return
    text = isinstance(frame, str)
    data = frame.encode() if text else frame
    wire: bytes | None = None
    for ws in connections:
        if ws.protocol.state is State.OPEN:
            try:
                wire = _keep(ws, data, text, out, wire)
            except Exception as exc:
                ws.logger.warning("skipped broadcast: %r", exc)


def try_write(ws: Connection, frame: str | bytes) -> bool:
    """Write ``frame`` at once if ``ws`` is open and its transport buffers less than :data:`DIRECT_WRITE_LIMIT`
    bytes (no drain to wait for: :func:`write_without_drain` to this one connection; inside :func:`batched`, with
    the batch's write).

    Args:
        ws: a websockets asyncio connection.
        frame: ``str`` for a text frame, ``bytes`` for a binary one.

    Returns:
        True if written; False if it would have to wait (not open, or the buffer is full): send it with ``ws.send``.

    Raises:
        ConnectionError: the write failed (a :class:`~swergio_nb.exceptions.NotConnected`).
    """
    if ws.state is not State.OPEN:
        return False
    try:  # ws.transport as in _transport(), without its check on this per-frame path
        if ws.transport.get_write_buffer_size() >= DIRECT_WRITE_LIMIT:
            return False
    except AttributeError:
        _transport(ws)  # raises IncompatibleWebsockets, naming the version
        raise
    text = isinstance(frame, str)
    data = frame.encode() if text else frame
    try:
        out = _batch.out
        if out is not None:
            _keep(ws, data, text, out, None)
        elif getattr(ws, "own_frames", False) and ws.send_in_progress is None:
            # websockets writes what its protocol serializes before it awaits anything (Connection.send_context
            # calls send_data()): nothing of it waits here, so this frame keeps its place
            ws.transport.write(data_frame(data, text, ws.masked))
        else:
            broadcast((ws,), data, text=text, raise_exceptions=True)
    except Exception as exc:  # broadcast reports write failures as an exception group
        raise NotConnected(f"could not write to the connection: {exc!r}") from exc
    return True


class DeliveringMixin:
    """Hands complete data frames to a receiver as they are parsed (see the module docstring).

    Call :meth:`start_delivery` once the receiver is known (after the opening handshake); frames parsed before that
    are held, with the socket paused, and handed over first.

    Attributes:
        deliver: the receiver; None until :meth:`start_delivery`.
        fallback: True once a fragmented (or non-UTF-8 text) frame came: from then on websockets' ``recv()`` path.
        fast_frames: data frames taken on the fast path (not through websockets' ``recv()`` queue).
        own_frames: True once delivery started on a connection without extensions: :func:`try_write` and a batch
            write its data frames themselves (:func:`data_frame`), not through websockets' protocol.
        masked: True for a client connection (its frames are masked); a server's frames are the same bytes for
            every connection, so a batch serializes a frame once for all.
        batch_reads: hand over the frames of one chunk in a batch (:func:`batched`): what they send goes out in
            one write per connection once the chunk is handled. For the hub, whose handling of a frame takes
            microseconds; not for a client, whose handlers may take long (the replies of the first frames would
            wait for the handlers of the last).
        held: frames parsed while nobody could take them (a delivery waits, or none started yet), in order; None
            when none are held.
        draining: the task handing ``held`` over; None before the first wait.
    """

    deliver: Deliver | None = None
    fallback: bool = False
    fast_frames: int = 0
    own_frames: bool = False
    masked: bool = False
    batch_reads: bool = False
    held: collections.deque[str | bytes] | None = None
    draining: asyncio.Task[None] | None = None
    transport: asyncio.Transport

    def start_delivery(self, deliver: Deliver) -> None:
        """Hand every complete data frame to ``deliver`` from now on, the frames held so far first.

        Raises:
            IncompatibleWebsockets: if the connection has no asyncio transport (see :func:`socket_of`).
        """
        _transport(self)  # type: ignore[arg-type]
        protocol = self.protocol  # type: ignore[attr-defined]
        self.masked = protocol.side is Side.CLIENT
        self.own_frames = not protocol.extensions
        self.deliver = deliver
        if self.held is not None and self.draining is None:
            self.draining = asyncio.ensure_future(self._drain(None, deliver))

    def stop_delivery(self) -> None:
        """Stop handing over held frames (the receiver is gone)."""
        if self.draining is not None:
            self.draining.cancel()

    def data_received(self, data: bytes) -> None:
        """websockets' ``data_received`` (parse the chunk, answer control frames, hand over each frame); with
        :attr:`batch_reads`, what the frames of the chunk send is written in one write per connection at its end
        (:func:`batched`)."""
        if self.batch_reads:
            batched(super().data_received, data)  # type: ignore[misc]
        else:
            super().data_received(data)  # type: ignore[misc]

    # src/websockets/asyncio/connection.py: Connection.data_received -> protocol.events_received() ->
    # process_event(event), which puts a data frame into recv_messages (the Assembler behind recv()); the server's
    # and client's subclasses handle the handshake's Request/Response there and call super() for frames.
    def process_event(self, event: Event) -> None:
        if not self.fallback and isinstance(event, Frame):
            opcode = event.opcode  # compared with module constants: an Enum attribute costs ~70 ns a look-up
            if (opcode is _TEXT or opcode is _BINARY) and event.fin:
                try:
                    frame = str(event.data, "utf-8") if opcode is _TEXT else bytes(event.data)
                except UnicodeDecodeError:
                    self.fallback = True
                else:
                    self.fast_frames += 1
                    self._hand_over(frame)
                    return
            elif opcode in DATA_OPCODES:  # a fragment
                self.fallback = True
        super().process_event(event)  # type: ignore[misc]

    # pause_reading/resume_reading: the asyncio transport in .transport (see _transport), which websockets' own
    # Assembler also pauses and resumes (src/websockets/asyncio/connection.py Connection.connection_made)
    def _hand_over(self, frame: str | bytes) -> None:
        deliver = self.deliver
        if self.held is not None or deliver is None:
            if self.held is None:  # nobody to take it yet: hold it and stop reading
                self.held = collections.deque()
                self.transport.pause_reading()
            self.held.append(frame)
            return
        try:  # _deliver_one, inline on this per-frame path
            waiting = deliver(frame)
        except Exception:
            logger.exception("delivering a frame failed")
            return
        if waiting is not None:
            self.held = collections.deque()
            self.transport.pause_reading()
            self.draining = asyncio.ensure_future(self._drain(waiting, deliver))

    async def _drain(self, waiting: Awaitable[None] | None, deliver: Deliver) -> None:
        try:
            if waiting is not None:
                await waiting
            while self.held:
                waiting = batched(self._deliver_held, deliver) if self.batch_reads else self._deliver_held(deliver)
                if waiting is not None:
                    await waiting
        finally:
            self.held = None
            if not self.transport.is_closing():
                self.transport.resume_reading()

    def _deliver_held(self, deliver: Deliver) -> Awaitable[None] | None:
        """Hand held frames over until one returns an awaitable (returned) or none is left (None)."""
        held = self.held
        while held:
            waiting = _deliver_one(deliver, held.popleft())
            if waiting is not None:
                return waiting
        return None

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
    ``serve(..., create_connection=DeliveringServerConnection)``.

    It is also the hub core's :class:`~swergio_nb.transport.core.Link` for its connection: ``send`` and ``close``
    are websockets' own, ``buffered`` and ``write_many`` below. Its reads are batched (:attr:`batch_reads`).
    """

    batch_reads = True

    @property
    def buffered(self) -> Callable[[], int]:
        """The function returning the bytes in the transport's write buffer: ``Connection.transport``'s own
        ``get_write_buffer_size`` (see :func:`socket_of`), called with no Python frame in between."""
        return _transport(self).get_write_buffer_size

    write_many = staticmethod(write_without_drain)
