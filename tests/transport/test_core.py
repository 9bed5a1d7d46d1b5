"""The hub core without websockets or sockets: an in-memory transport plugs in through the Link protocol.

``MemoryLink`` is a whole transport in a few lines: frames written land in ``frames``; ``buffered`` is what a test
says the transport holds; ``send`` waits while ``gate`` is closed (a reader that stopped). The core's rules (fast
path batched per transport, queues in order, flow control, stall, overflow) are checked through it, and through two
transports sharing one core.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from swergio_nb.transport.core import DIRECT_WRITE_LIMIT, Connection, HubCore


class MemoryLink:
    batches: list[tuple[int, str | bytes]] = []  # (links, frame) per write_many call, reset per test

    def __init__(self) -> None:
        self.frames: list[str | bytes] = []
        self.pending = 0  # bytes the "transport" holds: DIRECT_WRITE_LIMIT or more sends frames to the queue
        self.gate = asyncio.Event()
        self.gate.set()
        self.closed: tuple[int, str] | None = None

    def buffered(self) -> int:
        return self.pending

    @staticmethod
    def write_many(links, frame):
        MemoryLink.batches.append((len(links), frame))
        for link in links:
            link.frames.append(frame)

    async def send(self, frame):
        await self.gate.wait()
        if self.closed is not None:
            raise ConnectionError("closed")
        self.frames.append(frame)

    async def close(self, code, reason):
        self.closed = (code, reason)
        self.gate.set()


class OtherLink(MemoryLink):
    """A second transport: a write_many of its own."""

    batches: list[tuple[int, str | bytes]] = []

    @staticmethod
    def write_many(links, frame):
        OtherLink.batches.append((len(links), frame))
        for link in links:
            link.frames.append(frame)


@pytest.fixture(autouse=True)
def _fresh_batches():
    MemoryLink.batches = []
    OtherLink.batches = []


def _frame(**fields) -> str:
    return json.dumps(fields, separators=(",", ":"))


def _data(n: int, room: str = "r", **extra) -> str:
    return _frame(ID=f"m{n}", TYPE="DATA/TEXT", TO_ROOM=room, N=n, **extra)


def _join(core: HubCore, name: str, link: MemoryLink, *rooms: str) -> Connection:
    conn = core.open(link)
    assert core.receive(conn, _frame(ID=f"reg-{name}", TYPE="COMMAND/REGISTER", NAME=name)) is None
    for room in rooms:
        assert core.receive(conn, _frame(ID=f"join-{name}-{room}", TYPE="COMMAND/JOINROOM", ROOM=room)) is None
    link.frames.clear()  # the acks
    return conn


def _numbers(link: MemoryLink) -> list[int]:
    return [json.loads(f)["N"] for f in link.frames if json.loads(f)["TYPE"] == "DATA/TEXT"]


async def test_a_frame_for_idle_links_is_written_at_once_in_one_batch_per_transport():
    core = HubCore()
    links = [MemoryLink(), MemoryLink(), OtherLink(), MemoryLink()]
    sender = _join(core, "sender", MemoryLink())
    for i, link in enumerate(links):
        _join(core, f"m{i}", link, "r")
    MemoryLink.batches.clear()
    OtherLink.batches.clear()
    assert core.receive(sender, _data(0)) is None
    assert all(_numbers(link) == [0] for link in links)
    # one stamped frame object for all, batched per transport in the order the router gave the recipients
    assert len({id(link.frames[0]) for link in links}) == 1
    assert [n for n, _ in MemoryLink.batches] == [2, 1] and [n for n, _ in OtherLink.batches] == [1]
    # the acks (register, joins), then the 4 deliveries: all written at once, none through a send queue
    assert sum(c.sent for c in core.connections.values()) == 4 + 4 * 2 + 1 and core.stats.queued == 0
    assert all(c.queue.empty() and c.backlog == 0 for c in core.connections.values())


async def test_a_backed_up_link_gets_its_frames_through_the_queue_in_order_and_nothing_is_lost():
    core = HubCore(queue_size=64)
    slow, fast = MemoryLink(), MemoryLink()
    sender = _join(core, "sender", MemoryLink())
    slow_conn = _join(core, "slow", slow, "r")
    _join(core, "fast", fast, "r")
    slow.pending = DIRECT_WRITE_LIMIT  # its transport is full: from now on its frames wait in the queue
    slow.gate.clear()
    waits = 0
    for n in range(40):
        waiting = core.receive(sender, _data(n))
        if waiting is not None:  # the high-water mark (16): the sender must wait until the queue drains
            waits += 1
            assert slow_conn.backlog >= core.high_water
            task = asyncio.ensure_future(waiting)
            await asyncio.sleep(0)
            assert not task.done()  # nothing drained yet: the sender still waits
            slow.pending = 0
            slow.gate.set()
            await task
            assert slow_conn.backlog <= core.low_water
            slow.pending = DIRECT_WRITE_LIMIT
            slow.gate.clear()
    slow.gate.set()
    await asyncio.wait_for(_until_drained(slow_conn), 5)
    assert _numbers(fast) == list(range(40)) and _numbers(slow) == list(range(40))
    assert waits >= 2 and core.stats.throttled == waits
    assert core.stats.queued == 40  # every frame for the backed-up link, none for the others
    assert core.stats.stalled == 0 and core.stats.slow_consumers == 0


async def _until_drained(conn: Connection) -> None:
    while conn.backlog:
        await asyncio.sleep(0)


async def test_a_reader_that_stopped_is_cut_after_the_stall_timeout_and_its_sender_is_told():
    core = HubCore(queue_size=16, stall_timeout=0.05)
    stopped, other, sending = MemoryLink(), MemoryLink(), MemoryLink()
    sender = _join(core, "sender", sending)
    stopped_conn = _join(core, "stopped", stopped, "r")
    _join(core, "other", other, "r")
    stopped.pending = DIRECT_WRITE_LIMIT
    stopped.gate.clear()  # it never drains
    for n in range(40):
        waiting = core.receive(sender, _data(n))
        if waiting is not None:
            await asyncio.wait_for(waiting, 10)  # released by the cut, not by a drain
    assert core.stats.stalled == 1 and core.stats.slow_consumers == 0
    await asyncio.gather(*stopped_conn.tasks)
    assert stopped.closed == (1013, "stalled: delivered nothing in 0.05 s")
    assert stopped_conn.closing and stopped_conn.queue.empty() and core.stats.queued_bytes == 0
    assert core.router.room_table()["r"] == ["other"]  # routed to nobody else from then on
    assert _numbers(other) == list(range(40))
    (told,) = [json.loads(f) for f in sending.frames if json.loads(f)["TYPE"] == "LOG/ERROR"]
    assert told["ERROR"] == "recipient-cut" and told["TO"] == "sender"
    assert told["DETAIL"].startswith("'stopped' was closed (stalled: delivered nothing in 0.05 s; 4 frames lost)")
    await core.closed(stopped_conn)
    assert stopped_conn.id not in core.connections


async def test_a_slow_reader_that_keeps_making_progress_holds_its_sender_back_and_loses_nothing():
    """It delivers one frame every 20 ms, far slower than the sender, with a stall timeout of 60 ms: never cut."""
    core = HubCore(queue_size=16, stall_timeout=0.06)
    slow, sending = MemoryLink(), MemoryLink()
    sender = _join(core, "sender", sending)
    slow_conn = _join(core, "slow", slow, "r")
    slow.pending = DIRECT_WRITE_LIMIT
    slow.gate.clear()

    async def trickle():
        while True:
            await asyncio.sleep(0.02)
            slow.gate.set()
            await asyncio.sleep(0)
            slow.gate.clear()

    reader = asyncio.ensure_future(trickle())
    try:
        for n in range(30):
            waiting = core.receive(sender, _data(n))
            if waiting is not None:
                await asyncio.wait_for(waiting, 10)
        while slow_conn.backlog:
            await asyncio.sleep(0.01)
    finally:
        reader.cancel()
    assert _numbers(slow) == list(range(30)) and not slow_conn.closing
    assert core.stats.stalled == core.stats.slow_consumers == 0 and core.stats.throttled > 0


async def test_queues_are_bounded_in_bytes_per_connection_and_in_the_hub():
    big = "x" * 10_000
    core = HubCore(queue_bytes=50_000, total_queue_bytes=80_000, flow_control=False)
    a, b, sending = MemoryLink(), MemoryLink(), MemoryLink()
    sender = _join(core, "sender", sending)
    a_conn, b_conn = _join(core, "a", a, "r"), _join(core, "b", b, "r")
    a.pending = b.pending = DIRECT_WRITE_LIMIT  # neither reads: everything is queued
    a.gate.clear()
    b.gate.clear()
    for n in range(3):  # ~10 kB each, to both: ~60 kB queued in the hub
        assert core.receive(sender, _data(n, DATA=big)) is None
    assert core.stats.queued_bytes == a_conn.backlog_bytes + b_conn.backlog_bytes < 80_000
    core.receive(sender, _data(3, DATA=big))  # a takes it (~70 kB in the hub); for b it would pass the hub's bound
    assert not a_conn.closing and b_conn.closing and a_conn.backlog == 4
    core.receive(sender, _data(4, DATA=big))  # a's fifth would pass its own 50 kB
    await asyncio.gather(*a_conn.tasks, *b_conn.tasks)
    assert a.closed[0] == b.closed[0] == 1013 and a.closed[1].startswith("slow consumer: its send queue would pass")
    assert core.stats.slow_consumers == 2 and core.stats.queued_bytes == 0
    assert core.stats.peak_queued_bytes <= 80_000
    told = [json.loads(f)["DETAIL"] for f in sending.frames if json.loads(f)["TYPE"] == "LOG/ERROR"]
    assert told[0].startswith("'b' was closed (slow consumer") and "of 80,000 in the hub" in told[0]
    assert told[1].startswith("'a' was closed (slow consumer") and "of 50,000 bytes queued" in told[1]


async def test_flow_control_starts_at_a_quarter_of_the_byte_bound():
    core = HubCore(queue_bytes=100_000, stall_timeout=30.0)
    slow = MemoryLink()
    sender = _join(core, "sender", MemoryLink())
    slow_conn = _join(core, "slow", slow, "r")
    slow.pending = DIRECT_WRITE_LIMIT
    slow.gate.clear()
    frame = _data(0, DATA="x" * 10_000)
    waits = [core.receive(sender, frame) for _ in range(3)]
    assert [w is not None for w in waits] == [False, False, True]  # 30 kB >= 25 kB: the sender waits
    assert slow_conn.backlog == 3 < core.high_water and core.high_water_bytes == 25_000  # not a frame-count limit
    task = asyncio.ensure_future(waits[2])
    await asyncio.sleep(0.01)
    assert not task.done()  # held back while nothing drains
    slow.gate.set()
    await asyncio.wait_for(task, 5)  # released once the queue drained to 12.5 kB
    assert slow_conn.backlog_bytes <= core.low_water_bytes


async def test_logging_copies_are_dropped_for_a_full_watcher_and_never_make_a_sender_wait():
    core = HubCore(queue_size=8, stall_timeout=30.0)
    watcher, member = MemoryLink(), MemoryLink()
    sender = _join(core, "sender", MemoryLink())
    watcher_conn = _join(core, "watcher", watcher)
    assert core.receive(watcher_conn, _frame(ID="log", TYPE="COMMAND/ENABLELOGGING")) is None
    _join(core, "member", member, "r")
    watcher.pending = DIRECT_WRITE_LIMIT
    watcher.gate.clear()
    for n in range(20):
        assert core.receive(sender, _data(n)) is None  # a 30 s stall timeout: a wait would hang the test
    assert core.stats.log_dropped == 20 - 8 and core.stats.slow_consumers == 0 and not watcher_conn.closing
    assert _numbers(member) == list(range(20))


async def test_close_events_and_closed_connections_release_their_senders():
    core = HubCore(queue_size=8)
    link, gone = MemoryLink(), MemoryLink()
    conn = _join(core, "a", link)
    gone_conn = _join(core, "gone", gone, "r")
    gone.pending = DIRECT_WRITE_LIMIT
    gone.gate.clear()
    waiting = None
    for n in range(4):
        waiting = core.receive(conn, _data(n))
        if waiting is not None:  # at the high-water mark (2): the transport reads nothing more from ``a``
            break
    assert waiting is not None and gone_conn.backlog == core.high_water
    task = asyncio.ensure_future(waiting)
    await asyncio.sleep(0)
    assert not task.done()
    await core.closed(gone_conn)  # the transport lost it
    await asyncio.wait_for(task, 5)
    assert core.router.name_of(gone_conn.id) is None and gone_conn.id not in core.connections
    assert core.receive(gone_conn, _data(9)) is None  # a frame parsed after the close goes nowhere

    assert core.receive(conn, _frame(ID="bye", TYPE="COMMAND/DISCONNECT")) is None
    await asyncio.gather(*conn.tasks)
    assert link.closed == (1000, "disconnect requested")


async def test_the_traffic_ticker_sends_summaries_to_the_traffic_room_until_stopped():
    core = HubCore(traffic_interval=0.01)
    monitor = MemoryLink()
    sender = _join(core, "sender", MemoryLink())
    _join(core, "monitor", monitor, "_traffic")
    core.start()
    core.start()  # once
    try:
        assert core.receive(sender, _data(0)) is None
        while not monitor.frames:
            await asyncio.sleep(0.005)
    finally:
        await core.stop()
        await core.stop()
    summary = json.loads(monitor.frames[0])
    stamped = len(_data(0)) + len(',"SENT_BY":"sender"')
    assert summary["TYPE"] == "LOG/TRAFFIC" and summary["COUNTS"] == [["r", "sender", "DATA/TEXT", 1, stamped]]


def test_a_traffic_interval_must_be_positive():
    with pytest.raises(ValueError, match="traffic_interval"):
        HubCore(traffic_interval=0)
