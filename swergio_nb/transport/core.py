"""The hub core: per-connection queues, flow control, stall detection and traffic summaries, for any transport.

:class:`HubCore` carries out what the sans-I/O :class:`~swergio_nb.protocol.router.Router` decides. It is asyncio
but knows nothing of WebSocket libraries or sockets: a transport (the websockets server in :mod:`.hub`, tornado's in
:mod:`.tornado`) hands it each connection as a :class:`Link` and each complete frame as it is parsed, and the core
writes frames back through the link.

A transport drives it so:

1. :meth:`HubCore.open` with the connection's :class:`Link` once it is open (after any handshake and
   authentication); it returns the :class:`Connection` to pass from then on.
2. :meth:`HubCore.receive` with each complete frame (``str`` text, ``bytes`` binary), in order. It returns None, or
   an awaitable: some recipient is full, and the transport must stop reading from this connection (keeping what it
   has parsed, in order) until the awaitable is done. That is how a fast sender is slowed to its slowest reader
   through TCP.
3. :meth:`HubCore.closed` once the connection is gone, whatever the reason (await it: it ends the writer).

:meth:`HubCore.start` (on a running loop) starts the ``LOG/TRAFFIC`` ticker, :meth:`HubCore.stop` ends it.

Several hubs: a backplane (:class:`~swergio_nb.transport.backplane.RedisBackplane`) attached to the core
(:attr:`HubCore.backplane`) takes each frame in :meth:`HubCore.receive` (it claims a registering name across hubs
first) and hands the frames other hubs routed to :meth:`HubCore.deliver`.

Delivery. Each connection has a send queue bounded in frames (``queue_size``) and in bytes (``queue_bytes``;
characters of text frames), all queues together by ``total_queue_bytes``, and a writer task that sends them in
order, each after the link drained the previous ones (:meth:`Link.send`). Fast path: a frame for a connection with
nothing queued whose link buffers less than :data:`DIRECT_WRITE_LIMIT` bytes is written at once, without a task
switch, in one :meth:`Link.write_many` per frame for all such recipients (websockets encodes a text frame once).
A transport may hold such writes until it has handled the chunk it read (the websockets one does: the frames of one
read go to a recipient in one write, see :func:`~swergio_nb.transport._websockets.batched`), as long as what it
holds for a link stays below :data:`DIRECT_WRITE_LIMIT` bytes (``buffered`` lags behind by less than that).

Flow control and backpressure, per connection's send queue:

* **flow control**: when a frame enters a recipient's queue at the high-water mark (a quarter of either bound:
  ``queue_size // 4`` frames or ``queue_bytes // 4`` bytes) or above, the core makes the *sender* wait (step 2)
  until that queue drains to the low-water mark (an eighth of both): a fast producer goes at the pace of its slowest
  consumer, and nothing is lost. Only that sender waits; other connections go on. A consumer that is slow, or that
  pauses (a garbage-collection pause, an evaluation step, a short blocked cell), only holds its producers back;
* **stall**: a recipient that a sender waits for and that makes no progress at all (no frame delivered, its link's
  buffer not shrinking) for ``stall_timeout`` seconds is *stalled*: it is closed with code 1013 (try again later),
  reason ``"stalled: ..."``, counted in ``stalled``, its queue freed at once; each sender that waited for it gets a
  ``LOG/ERROR`` ``recipient-cut`` naming it and how many frames it lost. A reader that stopped never holds a room up
  for longer than that;
* **overflow**: a logging-room copy (``LOG/MESSAGES``, ``LOG/TRAFFIC``) that would take a watcher's queue past its
  high-water mark, or any bound, is dropped and counted (``log_dropped``): logging copies never make a sender wait
  and never fill a hub. Any other frame that would pass a bound (possible without flow control, or when a single
  frame is larger than what is left) closes that connection with 1013, reason ``"slow consumer: ..."``, counted in
  ``slow_consumers``, its queue freed at once, and its sender gets ``LOG/ERROR`` ``recipient-cut``. Everyone else
  goes on.

Writing a transport. A link is a small object per connection (see :class:`Link`); about thirty lines each:

* Jupyter Server's tornado ``WebSocketHandler`` (:mod:`.tornado`): ``open()`` makes the link and calls
  :meth:`HubCore.open`;
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
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..protocol.limits import (
    DEFAULT_MAX_ROOMS,
    DEFAULT_QUEUE_BYTES,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_STALL_TIMEOUT,
    DEFAULT_TOTAL_QUEUE_BYTES,
    DEFAULT_TRAFFIC_INTERVAL,
)
from ..protocol.router import FULL, Close, Event, Permissions, Router, Send

if TYPE_CHECKING:
    from .backplane import RedisBackplane

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
    slow_consumers: int = 0  #: connections closed because a frame for them would pass their queue's bounds
    log_dropped: int = 0  #: logging-room copies dropped because the watcher's queue was at its high-water mark
    refused: int = 0  #: handshakes refused for a missing or wrong token
    throttled: int = 0  #: times a sender's reads were paused for a recipient above the high-water mark
    stalled: int = 0  #: connections closed because they made no progress for ``stall_timeout`` s while awaited
    queued: int = 0  #: frames that went through a send queue (not written at once: the link was backed up)
    queued_bytes: int = 0  #: bytes (characters of text frames) in all send queues now
    peak_queued_bytes: int = 0  #: the most ``queued_bytes`` has been


@dataclass(slots=True, eq=False)
class Connection:
    """The core's state of one connection (made by :meth:`HubCore.open`; the transport only passes it back).

    Attributes:
        id: the router's connection id.
        link: the transport's side of it.
        queue: frames waiting for the writer (at most ``queue_size``).
        writer: the task sending ``queue`` through ``link.send``.
        closing: True once it is being closed or gone: nothing more is routed to it.
        sent: frames handed to the link so far (written at once or by the writer).
        backlog: frames queued or held by the writer, not yet handed to the link.
        backlog_bytes: their size in bytes (characters of text frames).
        cut: why the hub closed it for falling behind (stalled or over a bound), naming it; None otherwise.
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
    sent: int = 0
    backlog: int = 0
    backlog_bytes: int = 0
    cut: str | None = None
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set = field(default_factory=set)


class HubCore:
    """Routes frames between the connections of one or more transports (see the module docstring).

    Args:
        router: the router to use (a fresh :class:`Router` with ``max_rooms`` by default).
        queue_size: frames waiting per connection before the overflow policy applies.
        queue_bytes: bytes (characters of text frames) waiting per connection before the overflow policy applies.
        total_queue_bytes: bytes waiting in all send queues together before it applies; None: no such bound.
        flow_control: make a sender wait while a recipient's queue is at the high-water mark (a quarter of
            ``queue_size`` frames or of ``queue_bytes``) until it drains to the low-water mark (an eighth of both).
            False: only the overflow policy.
        stall_timeout: seconds a recipient that a sender waits for may make no progress before it is cut (1013).
        traffic_interval: seconds between two ``LOG/TRAFFIC`` summaries to the members of ``_traffic`` (> 0).
        max_rooms: rooms one connection may be in at once (for the default router); None: no limit.

    Raises:
        ValueError: a ``traffic_interval`` that is not positive, or a bound below 1.

    Attributes:
        router: the router.
        stats: the transport counters.
        connections: the open connections by router id.
        high_water: queue length, in frames, at which a sender waits (None without flow control).
        low_water: queue length, in frames, a waited-on queue drains to.
        high_water_bytes: queue size, in bytes, at which a sender waits (None without flow control); logging
            copies are dropped above it.
        low_water_bytes: queue size, in bytes, a waited-on queue drains to.
        backplane: what shares the rooms with other hubs (set by its ``start``); None: this hub alone.
    """

    def __init__(
        self,
        router: Router | None = None,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        total_queue_bytes: int | None = DEFAULT_TOTAL_QUEUE_BYTES,
        flow_control: bool = True,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        traffic_interval: float = DEFAULT_TRAFFIC_INTERVAL,
        max_rooms: int | None = DEFAULT_MAX_ROOMS,
    ) -> None:
        if not traffic_interval > 0:
            raise ValueError(f"traffic_interval must be > 0 seconds, got {traffic_interval!r}")
        if queue_size < 1 or queue_bytes < 1 or total_queue_bytes is not None and total_queue_bytes < 1:
            raise ValueError(f"queue bounds must be >= 1, got {queue_size}, {queue_bytes}, {total_queue_bytes}")
        self.router = router if router is not None else Router(max_rooms=max_rooms)
        self.stats = HubStats()
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self.total_queue_bytes = total_queue_bytes
        self.high_water = max(1, queue_size // 4) if flow_control else None
        self.low_water = queue_size // 8
        self.high_water_bytes = max(1, queue_bytes // 4) if flow_control else None
        self.low_water_bytes = queue_bytes // 8
        self._log_limit = max(1, queue_bytes // 4)  # a watcher's copies are dropped beyond this, flow control or not
        self.stall_timeout = stall_timeout
        self.traffic_interval = traffic_interval
        self.connections: dict[int, Connection] = {}
        self.backplane: RedisBackplane | None = None
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

    def summary(self) -> dict[str, Any]:
        """The hub at a glance, as JSON-ready plain values (``%swergio hub status``, Jupyter's ``swergio/api/hub``).

        Returns:
            ``connections`` (open connections), ``rooms`` (room -> sorted member names), ``members`` (sorted names
            of the registered connections), ``routed``, ``dropped``, ``errors`` (the router's counters of those
            names), ``slow_consumers`` (connections closed for a full send queue) and ``stats`` (every counter:
            ``router`` as :class:`~swergio_nb.protocol.router.RouterStats`, ``transport`` as :class:`HubStats`, and
            ``backplane`` as :class:`~swergio_nb.transport.backplane.BackplaneStats` with ``reachable`` when the hub
            shares its rooms through one).
        """
        router = self.router
        rooms = router.room_table()
        names = (router.name_of(conn) for conn in router.connections())
        return {
            "connections": len(self.connections),
            "rooms": rooms,
            "members": sorted(name for name in names if name is not None),
            "routed": router.stats.routed,
            "dropped": router.stats.dropped,
            "errors": router.stats.errors,
            "slow_consumers": self.stats.slow_consumers,
            "stats": {
                "router": dataclasses.asdict(router.stats),
                "transport": dataclasses.asdict(self.stats),
                **({} if self.backplane is None else {"backplane": self.backplane.summary()}),
            },
        }

    # -- per connection ----------------------------------------------------------------------------------------

    def open(self, link: Link, permissions: Permissions = FULL) -> Connection:
        """Register a new connection writing through ``link``, with what its credential allows (the router's
        :class:`~swergio_nb.protocol.router.Permissions`); returns its state, to pass to the other methods.

        Raises:
            RuntimeError: if no event loop is running (the connection's writer is a task).
        """
        conn = Connection(
            self.router.connect(permissions), link, asyncio.Queue(self.queue_size), link.buffered, link.write_many
        )
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
        if self.backplane is not None:
            return self.backplane.receive(self, conn, frame)
        full = self._carry_out(self.router.receive(conn.id, frame), conn)
        return self._throttle(conn, full) if full else None

    def deliver(self, events: list[Event], sender: Connection | None = None) -> Awaitable[None] | None:
        """Carry out the router's ``events`` (for a frame from ``sender``; None: from another hub, through the
        backplane).

        Returns:
            None, or an awaitable: take nothing more from that source until it is done (a recipient is full).
        """
        full = self._carry_out(events, sender)
        return self._throttle(sender, full) if full else None

    async def closed(self, conn: Connection) -> None:
        """Forget ``conn`` (its transport connection is gone): release senders waiting on it, end its writer and
        wait for its close handshake. Safe to call twice."""
        self.connections.pop(conn.id, None)
        conn.closing = True
        conn.drained.set()  # release senders waiting on it
        while not conn.queue.empty():  # undeliverable: free the memory at once
            conn.queue.get_nowait()
        self.stats.queued_bytes -= conn.backlog_bytes
        conn.backlog = conn.backlog_bytes = 0
        self._carry_out(self.router.disconnect(conn.id))
        if conn.writer is not None:
            conn.writer.cancel()
            await asyncio.gather(conn.writer, *conn.tasks, return_exceptions=True)

    # -- internals ---------------------------------------------------------------------------------------------

    async def _write(self, conn: Connection) -> None:
        """Send the backlog in order, each frame after the link drained the previous ones."""
        queue, send, drained, low, low_bytes = (
            conn.queue,
            conn.link.send,
            conn.drained,
            self.low_water,
            self.low_water_bytes,
        )
        stats = self.stats
        with contextlib.suppress(Exception):  # the link is closed: its transport reports it (closed())
            while True:
                frame = await queue.get()
                await send(frame)
                size = len(frame)
                conn.sent += 1
                conn.backlog -= 1
                conn.backlog_bytes -= size
                stats.queued_bytes -= size
                if conn.backlog <= low and conn.backlog_bytes <= low_bytes and not drained.is_set():
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

    async def _throttle(self, sender: Connection | None, full: list[Connection]) -> None:
        """Wait until each recipient in ``full`` drains to the low-water mark or closes; cut one that makes no
        progress for ``stall_timeout``; tell ``sender`` of each recipient that was cut meanwhile."""
        self.stats.throttled += 1
        for conn in full:
            while not (conn.closing or conn.drained.is_set()):
                sent, buffered = conn.sent, conn.buffered()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(conn.drained.wait(), self.stall_timeout)
                if conn.closing or conn.drained.is_set() or conn.sent > sent or conn.buffered() < buffered:
                    continue  # progress, however slow: keep waiting
                self.stats.stalled += 1
                self._cut(conn, "stalled", f"delivered nothing in {self.stall_timeout:g} s")
            if conn.closing and conn.cut is not None and sender is not None:
                self._tell(sender, conn)

    def _tell(self, sender: Connection, recipient: Connection) -> None:
        """``LOG/ERROR recipient-cut`` to ``sender``: a recipient of its frames was closed for falling behind."""
        if not sender.closing:
            self._carry_out(self.router.notice(sender.id, "recipient-cut", f"{recipient.cut}; frames for it are lost"))

    def _carry_out(self, events: list[Event], sender: Connection | None = None) -> list[Connection]:
        """Carry out the router's events for a frame from ``sender`` (None: the hub's own, e.g. summaries); returns
        the recipients now at a high-water mark (empty if none)."""
        connections = self.connections
        high, high_bytes = self.high_water, self.high_water_bytes
        full: list[Connection] = []
        direct: list[Link] = []  # links to write ``direct_frame`` to at once, all sharing ``write_many``
        direct_frame: str | bytes | None = None
        write_many: Any = None  # the links' write_many
        cut: list[Connection] = []
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
                size = len(frame)
                stats = self.stats
                if event.droppable:
                    if conn.backlog_bytes + size > self._log_limit or self._over(conn, size):
                        stats.log_dropped += 1
                        continue
                elif self._over(conn, size):
                    cut.append(
                        self._cut(conn, "slow consumer", f"its send queue would pass its bounds ({self._bounds(conn)})")
                    )
                    continue
                conn.queue.put_nowait(frame)
                conn.backlog += 1
                conn.backlog_bytes += size
                stats.queued += 1
                stats.queued_bytes += size
                if stats.queued_bytes > stats.peak_queued_bytes:
                    stats.peak_queued_bytes = stats.queued_bytes
                if (
                    high is not None
                    and not event.droppable
                    and (conn.backlog >= high or conn.backlog_bytes >= high_bytes)
                ):
                    conn.drained.clear()
                    full.append(conn)
            elif type(event) is Close:
                if direct:  # what was routed before the close goes out before it
                    write_many(direct, direct_frame)
                    direct = []
                self._close(conn, event.code, event.reason)
        if direct:
            write_many(direct, direct_frame)
        if cut and sender is not None:
            for conn in cut:
                self._tell(sender, conn)
        return full

    def _over(self, conn: Connection, size: int) -> bool:
        """Would a frame of ``size`` bytes take ``conn``'s queue, or all queues, past a bound?"""
        total = self.total_queue_bytes
        return (
            conn.queue.full()
            or conn.backlog_bytes + size > self.queue_bytes
            or total is not None
            and self.stats.queued_bytes + size > total
        )

    def _bounds(self, conn: Connection) -> str:
        return (
            f"{conn.backlog} of {self.queue_size} frames, {conn.backlog_bytes:,} of {self.queue_bytes:,} bytes queued, "
            f"{self.stats.queued_bytes:,} of {self.total_queue_bytes or 0:,} in the hub"
        )

    def _cut(self, conn: Connection, why: str, detail: str) -> Connection:
        """Close ``conn`` (1013) for falling behind: ``why`` is ``"slow consumer"`` or ``"stalled"``."""
        if why == "slow consumer":
            self.stats.slow_consumers += 1
        name = self.router.name_of(conn.id) or f"connection {conn.id}"
        lost = conn.backlog
        conn.cut = f"{name!r} was closed ({why}: {detail}; {lost} frames lost)"
        logger.warning("closing %s: %s: %s", name, why, detail)
        self._close(conn, 1013, f"{why}: {detail}"[:120])
        return conn

    def _close(self, conn: Connection, code: int, reason: str) -> None:
        conn.closing = True
        self.router.disconnect(conn.id)  # route nothing more to it while the close handshake runs
        if conn.writer is not None:
            conn.writer.cancel()
        conn.drained.set()  # release senders waiting on it
        while not conn.queue.empty():  # undeliverable now: free the memory at once
            conn.queue.get_nowait()
        self.stats.queued_bytes -= conn.backlog_bytes
        conn.backlog = conn.backlog_bytes = 0
        task = asyncio.get_running_loop().create_task(conn.link.close(code, reason))
        conn.tasks.add(task)
        task.add_done_callback(conn.tasks.discard)
