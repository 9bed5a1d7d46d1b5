"""Backpressure, deterministically: a stalled reader is cut off at its queue bound; the fast clients lose nothing.

One raw connection registers, joins the room and then never reads. Five Clients exchange numbered messages in that
room at full speed (credit-windowed among themselves only, so none of them can fill its own queue). The volume sent
to the stalled connection is computed from the kernel's socket buffer limits so that it must exceed everything that
can hold it (its receive buffer, the hub's send buffer, websockets' buffers) plus the hub's queue, twice over: the
hub then has to close it with 1013, whatever the timing. Flow control is off, so it is the queue's bound that cuts
it (with flow control the senders would wait for it and the stall timeout would: tests/transport/test_flow_control.py).
Nothing asserts on time.
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import socket
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from swergio_nb import Client, Hub, Trigger
from swergio_nb.protocol.router import Send

from ..helpers import until

QUEUE_SIZE = 256  # the hub's per-connection queue, in frames
PAYLOAD = 8192  # characters of DATA per message
WINDOW = 32  # messages a fast sender may have unseen by one fast receiver: 4 senders x 32 = 128 < QUEUE_SIZE
FAST = [f"fast{i}" for i in range(5)]
TIMEOUT = 60.0  # bound of every wait (never reached when things work)


def _sysctl_max(path: str, default: int) -> int:
    try:
        return max(int(v) for v in Path(path).read_text().split())
    except (OSError, ValueError):
        return default


class _QueuePeaks:
    """Wraps the hub's event handling to record, per connection, the largest send-queue length ever reached.

    A queue only grows inside ``HubCore._carry_out`` (nothing else puts), so its length right after each call is the
    exact running maximum.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.peak: dict[int, int] = collections.Counter()
        self.maxsize: dict[int, int] = {}
        self._original = hub.core._carry_out
        hub.core._carry_out = self._carry_out

    def _carry_out(self, events: list, sender=None) -> list:
        full = self._original(events, sender)
        peers = self.hub.core.connections
        for event in events:
            peer = peers.get(event.conn)
            if peer is not None and type(event) is Send:
                size = peer.queue.qsize()
                if size > self.peak[event.conn]:
                    self.peak[event.conn] = size
                self.maxsize[event.conn] = peer.queue.maxsize
        return full  # the recipients at the high-water mark: flow control stays on


async def _stalled_connection(url: str) -> tuple[Any, int]:
    """Register as ``stalled``, join room ``r``, then stop reading. Returns the connection and its receive buffer."""
    ws = await connect(url, max_size=None, ping_interval=None, compression=None)
    sock = ws.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # fixed size: no receive-buffer autotuning
    rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    await ws.send('{"ID":"s-reg","TYPE":"COMMAND/REGISTER","NAME":"stalled"}')
    await ws.send('{"ID":"s-join","TYPE":"COMMAND/JOINROOM","ROOM":"r"}')
    for expected in ("s-reg", "s-join"):
        ack = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert ack["TYPE"] == "COMMAND/ACK" and ack["REPLY_TO"] == expected, ack
    ws.transport.pause_reading()  # from now on it reads nothing
    return ws, rcvbuf


async def _drain(ws) -> tuple[list[tuple[str, int]], ConnectionClosed]:
    """Read everything the stalled connection was sent, up to the hub's close frame."""
    ws.transport.resume_reading()
    got = []
    try:
        while True:
            msg = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            got.append((msg["SENT_BY"], msg["SEQ"]))
    except ConnectionClosed as exc:
        return got, exc


async def test_a_stalled_reader_is_disconnected_at_its_queue_bound_and_the_fast_ones_get_everything():
    async with Hub(port=0, queue_size=QUEUE_SIZE, flow_control=False) as hub:
        peaks = _QueuePeaks(hub)
        stalled, rcvbuf = await _stalled_connection(hub.url)

        # Enough frames to the stalled connection to overflow, twice over, every buffer that could absorb them.
        frame_len = len(json.dumps({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "SEQ": 0, "DATA": "x" * PAYLOAD}))
        sndbuf_max = max(
            _sysctl_max("/proc/sys/net/ipv4/tcp_wmem", 16 << 20), _sysctl_max("/proc/sys/net/core/wmem_max", 0)
        )
        absorbable = rcvbuf + sndbuf_max + (256 + 64) * 1024  # + an asyncio read chunk + websockets' write limit
        to_stalled = 2 * (math.ceil(absorbable / frame_len) + 16 + QUEUE_SIZE)  # 16: websockets' receive queue
        per_sender = math.ceil(to_stalled / len(FAST))

        got: dict[str, dict[str, list[int]]] = {name: collections.defaultdict(list) for name in FAST}
        seen: dict[tuple[str, str], int] = collections.Counter()  # (sender, receiver) -> messages seen
        progress = asyncio.Event()
        expected_total = len(FAST) * (len(FAST) - 1) * per_sender

        def make_handler(name: str):
            def on_message(msg: dict[str, Any]) -> None:
                got[name][msg["SENT_BY"]].append(msg["SEQ"])
                seen[msg["SENT_BY"], name] += 1
                progress.set()

            return on_message

        clients = []
        for name in FAST:
            client = Client(name, hub.url)
            client.add_handler(make_handler(name), Trigger("DATA/TEXT", "r"))
            clients.append(client)

        async def send_all(client: Client) -> None:
            others = [n for n in FAST if n != client.name]
            payload = "x" * PAYLOAD
            for k in range(per_sender):
                while any(k - seen[client.name, r] >= WINDOW for r in others):  # credit among the fast ones only
                    progress.clear()
                    await asyncio.wait_for(progress.wait(), TIMEOUT)
                await client.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "SEQ": k, "DATA": payload})

        async def drain_when_cut_off():
            await until(lambda: hub.stats.slow_consumers >= 1, TIMEOUT)
            return await _drain(stalled)

        try:
            await asyncio.wait_for(asyncio.gather(*(c.connect() for c in clients)), TIMEOUT)
            conn_of = {hub.router.name_of(c): c for c in hub.router.connections()}
            assert sorted(conn_of) == sorted([*FAST, "stalled"])
            assert hub.router.room_table()["r"] == sorted([*FAST, "stalled"])
            drainer = asyncio.create_task(drain_when_cut_off())
            await asyncio.wait_for(asyncio.gather(*(send_all(c) for c in clients)), TIMEOUT)
            await until(lambda: sum(seen.values()) >= expected_total, TIMEOUT)
            stalled_got, closed = await asyncio.wait_for(drainer, TIMEOUT)

            # the fast clients: every message, in order, and still connected
            for name in FAST:
                assert dict(got[name]) == {s: list(range(per_sender)) for s in FAST if s != name}, name
            assert all(c.connected for c in clients)
            assert hub.router.room_table()["r"] == FAST
        finally:
            await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
            stalled.transport.abort()

        # the stalled one: cut off exactly once, with 1013, after an in-order, gap-free prefix of each stream
        assert hub.stats.slow_consumers == 1
        assert hub.stats.log_dropped == 0
        assert hub.router.stats.errors_by_code == {"recipient-cut": 1}  # its sender was told; no other error
        assert closed.rcvd is not None, f"no close frame from the hub: {closed!r}"
        assert closed.rcvd.code == 1013 and closed.rcvd.reason.startswith("slow consumer"), closed.rcvd
        by_sender: dict[str, list[int]] = collections.defaultdict(list)
        for sender, seq in stalled_got:
            by_sender[sender].append(seq)
        assert all(seqs == list(range(len(seqs))) for seqs in by_sender.values()), "gap or disorder before the cut"
        assert len(stalled_got) < len(FAST) * per_sender

        # the queues: all bounded by queue_size; the stalled one filled exactly to it; the fast ones stayed in window
        assert set(peaks.maxsize.values()) == {QUEUE_SIZE}
        assert peaks.peak[conn_of["stalled"]] == QUEUE_SIZE
        assert all(peaks.peak[conn_of[name]] <= (len(FAST) - 1) * WINDOW for name in FAST), dict(peaks.peak)
