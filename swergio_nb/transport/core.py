"""The hub core: per-connection queues, flow control, stall detection and traffic summaries, for any transport.

:class:`HubCore` carries out what the sans-I/O :class:`~swergio_nb.protocol.router.Router` decides. It is asyncio
but knows nothing of WebSocket libraries or sockets: a transport (the websockets server in :mod:`.hub` today) hands
it each connection as a :class:`Link` and each complete frame as it is parsed, and the core writes frames back
through the link.

A transport drives it so:

1. :meth:`HubCore.open` with the connection's :class:`Link` once it is open (after any handshake and
   authentication); it returns the :class:`Connection` to pass from then on.
2. :meth:`HubCore.receive` with each complete frame (``str`` text, ``bytes`` binary), in order. It returns None, or
   an awaitable: some recipient is full, and the transport must stop reading from this connection (keeping what it
   has parsed, in order) until the awaitable is done. That is how a fast sender is slowed to its slowest reader
   through TCP.
3. :meth:`HubCore.closed` once the connection is gone, whatever the reason (await it: it ends the writer).

:meth:`HubCore.start` (on a running loop) starts the ``LOG/TRAFFIC`` ticker, :meth:`HubCore.stop` ends it.

Delivery. Each connection has a bounded send queue of ``queue_size`` frames and a writer task that sends them in
order, each after the link drained the previous ones (:meth:`Link.send`). Fast path: a frame for a connection with
nothing queued whose link buffers less than :data:`DIRECT_WRITE_LIMIT` bytes is written at once, without a task
switch, in one :meth:`Link.write_many` per frame for all such recipients (websockets encodes a text frame once).

Flow control and backpressure, per connection's send queue:

* **flow control**: when a frame enters a recipient's queue at the high-water mark (``queue_size // 4``) or above,
  the core makes the *sender* wait (step 2) until that queue drains to the low-water mark (``queue_size // 8``): a
  fast producer goes at the pace of its slowest consumer, and nothing is lost. Only that sender waits; other
  connections go on;
* **stall**: a recipient whose writer delivers nothing for ``stall_timeout`` seconds while a sender waits on it is
  marked *stalled* (counted in ``stalled``): senders stop waiting for it, so a reader that stopped never holds up a
  room for longer than that. The mark clears once it drains below the low-water mark;
* **overflow**: when a queue is full, a logging-room copy (``LOG/MESSAGES``, ``LOG/TRAFFIC``) for it is dropped and
  counted (``log_dropped``); any other frame closes that connection with code 1013 (try again later) and reason
  ``"slow consumer: send queue full (N frames)"``, counted in ``slow_consumers``, and its queue is freed at once.
  Everyone else goes on. Logging copies never make a sender wait.

Writing a transport. A link is a small object per connection (see :class:`Link`); about thirty lines each:

* Jupyter Server's tornado ``WebSocketHandler``: ``open()`` makes the link and calls :meth:`HubCore.open`;
  ``on_message(frame)`` returns ``core.receive(conn, frame)`` (tornado reads no further message until an awaitable
  returned by ``on_message`` is done: that is step 2); ``on_close()`` starts a task awaiting
  :meth:`HubCore.closed`. The link: ``send`` awaits ``handler.write_message(frame, binary=isinstance(frame,
  bytes))`` (its future is done once the stream flushed); ``write_many`` calls ``write_message`` on each handler
  without awaiting; ``buffered`` counts the bytes of writes whose future is not done yet; ``close`` is
  ``handler.close(code, reason)``.
* swergio 0.0.2's TCP framing (a 10-byte length header, then JSON): :mod:`.swergio_tcp`, on asyncio streams. Its
  read loop passes each body to :meth:`HubCore.receive` and awaits what it returns before reading on (TCP then
  holds the sender back); ``buffered`` is ``transport.get_write_buffer_size``; ``write_many`` frames the body once
  and calls ``transport.write`` per link; ``send`` writes and awaits ``drain()``; ``close`` writes a ``LOG/ERROR``
  with the reason (TCP has no close code) and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..protocol.limits import DEFAULT_MAX_ROOMS, DEFAULT_QUEUE_SIZE, DEFAULT_STALL_TIMEOUT, DEFAULT_TRAFFIC_INTERVAL
from ..protocol.router import Close, Event, Router, Send

__all__ = ["DIRECT_WRITE_LIMIT", "Connection", "HubCore", "HubStats", "Link"]

logger = logging.getLogger("swergio_nb.transport.core")

#: Bytes in a link's write buffer below which a frame with nothing queued ahead of it is written at once.
DIRECT_WRITE_LIMIT = 64 * 1024


class Link(Protocol):
    """What the core needs from one connection of a transport.

    The core reads ``buffered`` and ``write_many`` once, in :meth:`HubCore.open`, and calls them per frame.

    Attributes:
        buffered: returns the bytes accepted for writing but not yet handed to the socket (the transport's write
            buffer). A method, or the transport's own function (``asyncio.Transport.get_write_buffer_size``).
        write_many: ``write_many(links, frame)`` writes ``frame`` to each of ``links`` now, without waiting for
            anything, and never raises for a closed link (it skips it: its transport reports it closed). A static
            method shared by the transport's links: the core batches the fast-path writes of one frame to all
            links that share the same ``write_many``.
    """

    buffered: Callable[[], int]
    write_many: Callable[[Sequence[Any], str | bytes], None]

    async def send(self, frame: str | bytes) -> None:
        """Write ``frame`` and wait until the write buffer drained (below the transport's low-water mark).

        Raises:
            Exception: once the connection is closed (any exception: the core stops writing to this link).
        """
        ...

    async def close(self, code: int, reason: str) -> None:
        """Close the connection (``code``: a WebSocket close code; transports without codes may ignore both)."""
        ...


@dataclass(slots=True)
class HubStats:
    """Transport counters of a hub (the routing counters are in ``hub.router.stats``)."""

    connections: int = 0  #: connections accepted since start
    slow_consumers: int = 0  #: connections closed because their send queue was full
    log_dropped: int = 0  #: logging-room copies dropped because the watcher's queue was full
    refused: int = 0  #: handshakes refused for a missing or wrong token
    throttled: int = 0  #: times a sender's reads were paused for a recipient above the high-water mark
    stalled: int = 0  #: times a recipient was marked stalled (delivered nothing for ``stall_timeout`` s)
    queued: int = 0  #: frames that went through a send queue (not written at once: the link was backed up)


@dataclass(slots=True, eq=False)
class Connection:
    """The core's state of one connection (made by :meth:`HubCore.open`; the transport only passes it back).

    Attributes:
        id: the router's connection id.
        link: the transport's side of it.
        queue: frames waiting for the writer (at most ``queue_size``).
        writer: the task sending ``queue`` through ``link.send``.
        closing: True once it is being closed or gone: nothing more is routed to it.
        stalled: True while marked stalled (see the module docstring).
        sent: frames handed to the link so far (written at once or by the writer).
        backlog: frames queued or held by the writer, not yet handed to the link.
        drained: set while the backlog is at or below the low-water mark.
        tasks: close handshakes running for it.
        buffered: ``link.buffered``.
        write_many: ``link.write_many``.
    """

    id: int
    link: Link
    queue: asyncio.Queue
    buffered: Callable[[], int]
    write_many: Callable[[Sequence[Any], str | bytes], None]
    writer: asyncio.Task | None = None
    closing: bool = False
    stalled: bool = False
    sent: int = 0
    backlog: int = 0
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set = field(default_factory=set)


class HubCore:
    """Routes frames between the connections of one or more transports (see the module docstring).

    Args:
        router: the router to use (a fresh :class:`Router` with ``max_rooms`` by default).
        queue_size: frames waiting per connection before the overflow policy applies.
        flow_control: make a sender wait while a recipient's queue is at the high-water mark (``queue_size // 4``
            frames) until it drains to the low-water mark (``queue_size // 8``). False: only the overflow policy.
        stall_timeout: seconds a waiting sender gives a recipient to deliver at least one frame before marking it
            stalled and going on.
        traffic_interval: seconds between two ``LOG/TRAFFIC`` summaries to the members of ``_traffic`` (> 0).
        max_rooms: rooms one connection may be in at once (for the default router); None: no limit.

    Raises:
        ValueError: a ``traffic_interval`` that is not positive.

    Attributes:
        router: the router.
        stats: the transport counters.
        connections: the open connections by router id.
        high_water: queue length, in frames, at which a sender waits (None without flow control).
        low_water: queue length, in frames, a waited-on queue drains to.
    """

    def __init__(
        self,
        router: Router | None = None,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        flow_control: bool = True,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        traffic_interval: float = DEFAULT_TRAFFIC_INTERVAL,
        max_rooms: int | None = DEFAULT_MAX_ROOMS,
    ) -> None:
        if not traffic_interval > 0:
            raise ValueError(f"traffic_interval must be > 0 seconds, got {traffic_interval!r}")
        self.router = router if router is not None else Router(max_rooms=max_rooms)
        self.stats = HubStats()
        self.queue_size = queue_size
        self.high_water = max(1, queue_size // 4) if flow_control else None
        self.low_water = queue_size // 8
        self.stall_timeout = stall_timeout
        self.traffic_interval = traffic_interval
        self.connections: dict[int, Connection] = {}
        self._ticker: asyncio.Task | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start sending ``LOG/TRAFFIC`` summaries every ``traffic_interval`` seconds (once; needs a running loop).

        Raises:
            RuntimeError: if no event loop is running.
        """
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="swergio-hub-traffic")

    async def stop(self) -> None:
        """Stop the ``LOG/TRAFFIC`` summaries. Safe to call twice; connections are the transports' to close."""
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)

    # -- per connection ----------------------------------------------------------------------------------------

    def open(self, link: Link) -> Connection:
        """Register a new connection writing through ``link``; returns its state, to pass to the other methods.

        Raises:
            RuntimeError: if no event loop is running (the connection's writer is a task).
        """
        conn = Connection(self.router.connect(), link, asyncio.Queue(self.queue_size), link.buffered, link.write_many)
        conn.drained.set()  # nothing queued yet (set here, not by the writer: frames may come before it runs)
        conn.writer = asyncio.get_running_loop().create_task(self._write(conn), name=f"swergio-hub-writer-{conn.id}")
        self.connections[conn.id] = conn
        self.stats.connections += 1
        return conn

    def receive(self, conn: Connection, frame: str | bytes) -> Awaitable[None] | None:
        """Route one frame from ``conn``.

        Returns:
            None, or an awaitable: stop reading from ``conn`` until it is done (a recipient is full; see
            the module docstring).
        """
        if conn.closing:
            return None
        full = self._carry_out(self.router.receive(conn.id, frame))
        return self._throttle(full) if full else None

    async def closed(self, conn: Connection) -> None:
        """Forget ``conn`` (its transport connection is gone): release senders waiting on it, end its writer and
        wait for its close handshake. Safe to call twice."""
        self.connections.pop(conn.id, None)
        conn.closing = True
        conn.drained.set()  # release senders waiting on it
        self._carry_out(self.router.disconnect(conn.id))
        if conn.writer is not None:
            conn.writer.cancel()
            await asyncio.gather(conn.writer, *conn.tasks, return_exceptions=True)

    # -- internals ---------------------------------------------------------------------------------------------

    async def _write(self, conn: Connection) -> None:
        """Send the backlog in order, each frame after the link drained the previous ones."""
        queue, send, drained, low = conn.queue, conn.link.send, conn.drained, self.low_water
        with contextlib.suppress(Exception):  # the link is closed: its transport reports it (closed())
            while True:
                await send(await queue.get())
                conn.sent += 1
                conn.backlog -= 1
                if conn.backlog <= low and not drained.is_set():
                    conn.stalled = False
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

    async def _throttle(self, full: list[Connection]) -> None:
        """Wait until each recipient in ``full`` drains to the low-water mark, is marked stalled, or closes."""
        self.stats.throttled += 1
        for conn in full:
            while not (conn.closing or conn.stalled or conn.drained.is_set()):
                sent = conn.sent
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(conn.drained.wait(), self.stall_timeout)
                if conn.sent == sent and not conn.drained.is_set() and not conn.closing:
                    conn.stalled = True
                    self.stats.stalled += 1
                    logger.warning("connection %d delivered nothing in %.1f s: stalled", conn.id, self.stall_timeout)

    def _carry_out(self, events: list[Event]) -> list[Connection]:
        """Carry out the router's events; returns the recipients now at the high-water mark (empty if none)."""
        connections = self.connections
        high = self.high_water
        full: list[Connection] = []
        direct: list[Link] = []  # links to write ``direct_frame`` to at once, all sharing ``write_many``
        direct_frame: str | bytes | None = None
        write_many: Any = None  # the links' write_many
        for event in events:
            conn = connections.get(event.conn)
            if conn is None or conn.closing:
                continue
            if type(event) is Send:
                frame = event.frame
                if frame is not direct_frame:
                    if direct:
                        write_many(direct, direct_frame)
                        direct = []
                    direct_frame = frame
                if conn.backlog == 0 and conn.buffered() < DIRECT_WRITE_LIMIT:
                    if conn.write_many is not write_many:  # another transport's link: a batch of its own
                        if direct:
                            write_many(direct, direct_frame)
                            direct = []
                        write_many = conn.write_many
                    direct.append(conn.link)
                    conn.sent += 1
                    continue
                try:
                    conn.queue.put_nowait(frame)
                    conn.backlog += 1
                    self.stats.queued += 1
                    if high is not None and not event.droppable and conn.backlog >= high and not conn.stalled:
                        conn.drained.clear()
                        full.append(conn)
                except asyncio.QueueFull:
                    if event.droppable:
                        self.stats.log_dropped += 1
                    else:
                        self.stats.slow_consumers += 1
                        logger.warning("closing connection %d: slow consumer", event.conn)
                        self._close(conn, 1013, f"slow consumer: send queue full ({self.queue_size} frames)")
            elif type(event) is Close:
                if direct:  # what was routed before the close goes out before it
                    write_many(direct, direct_frame)
                    direct = []
                self._close(conn, event.code, event.reason)
        if direct:
            write_many(direct, direct_frame)
        return full

    def _close(self, conn: Connection, code: int, reason: str) -> None:
        conn.closing = True
        self.router.disconnect(conn.id)  # route nothing more to it while the close handshake runs
        if conn.writer is not None:
            conn.writer.cancel()
        conn.drained.set()  # release senders waiting on it
        while not conn.queue.empty():  # undeliverable now: free the memory at once
            conn.queue.get_nowait()
        conn.backlog = 0
        task = asyncio.get_running_loop().create_task(conn.link.close(code, reason))
        conn.tasks.add(task)
        task.add_done_callback(conn.tasks.discard)
