"""The websockets internals swergio_nb relies on (transport._websockets) are there and still used.

If a websockets release stops calling ``process_event`` per parsed frame, or ``broadcast`` stops writing at once,
frames would still arrive, only slower: these tests fail instead. Real loopback sockets.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.connection import Connection
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from swergio_nb import Client, Hub, Trigger
from swergio_nb.exceptions import NotConnected, SwergioError
from swergio_nb.protocol import codec
from swergio_nb.transport._websockets import (
    DIRECT_WRITE_LIMIT,
    TESTED_MAJORS,
    DeliveringClientConnection,
    IncompatibleWebsockets,
    batched,
    check_websockets,
    data_frame,
    try_write,
    write_without_drain,
)

from ..helpers import until

ROUNDS = 50


def test_the_installed_websockets_is_a_tested_major_and_has_what_is_relied_on():
    assert int(websockets.version.version.split(".")[0]) in TESTED_MAJORS
    check_websockets()


def test_a_missing_internal_is_reported_with_the_websockets_version(monkeypatch):
    monkeypatch.delattr(Connection, "process_event")
    with pytest.raises(IncompatibleWebsockets, match=rf"websockets {websockets.version.version} lacks Connection"):
        check_websockets()
    assert issubclass(IncompatibleWebsockets, SwergioError) and issubclass(IncompatibleWebsockets, ImportError)


def _frame(**fields) -> str:
    return json.dumps(fields, separators=(",", ":"))


async def _register(url: str, name: str, *rooms: str) -> tuple[DeliveringClientConnection, asyncio.Queue]:
    """A raw client connection on the delivery path; returns it and the queue its frames are delivered to."""
    ws = await connect(url, create_connection=DeliveringClientConnection)
    got: asyncio.Queue = asyncio.Queue()
    ws.start_delivery(got.put_nowait)
    await ws.send(_frame(ID=f"reg-{name}", TYPE="COMMAND/REGISTER", NAME=name))
    for room in rooms:
        await ws.send(_frame(ID=f"join-{name}-{room}", TYPE="COMMAND/JOINROOM", ROOM=room))
    for _ in range(1 + len(rooms)):
        assert json.loads(await asyncio.wait_for(got.get(), 10))["TYPE"] == "COMMAND/ACK"
    return ws, got


async def test_frames_take_the_fast_path_on_both_ends_and_the_hub_writes_them_at_once():
    async with Hub(port=0) as hub:
        a, a_got = await _register(hub.url, "a", "r")
        b, b_got = await _register(hub.url, "b", "r")
        for n in range(ROUNDS):  # in lock step: nothing ever backs up, so every write can be direct
            await a.send(_frame(ID=f"a{n}", TYPE="DATA/TEXT", TO_ROOM="r", N=n))
            assert json.loads(await asyncio.wait_for(b_got.get(), 10))["N"] == n
            await b.send(_frame(ID=f"b{n}", TYPE="DATA/TEXT", TO_ROOM="r", N=n))
            assert json.loads(await asyncio.wait_for(a_got.get(), 10))["N"] == n
        # the client end: every frame from the hub came through process_event, none through recv()'s queue
        assert a.fast_frames == b.fast_frames == 2 + ROUNDS and not a.fallback and not b.fallback
        # the hub end: the same for what it received ...
        hub_side = list(hub.core.connections.values())
        assert sorted(c.link.fast_frames for c in hub_side) == [2 + ROUNDS, 2 + ROUNDS]
        assert not any(c.link.fallback for c in hub_side)
        # ... and every frame it sent (acks and deliveries) was written at once, none through a send queue
        assert sum(c.sent for c in hub_side) == 2 * (2 + ROUNDS) and hub.stats.queued == 0
        await a.close()
        await b.close()


async def test_clients_take_the_fast_path_too():
    async with Hub(port=0) as hub:
        got: list[int] = []
        receiver = Client("receiver", hub.url)
        receiver.add_handler(lambda msg: got.append(msg["N"]), Trigger("DATA/TEXT", "r"))
        async with receiver, Client("sender", hub.url) as sender:
            for n in range(ROUNDS):
                await sender.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": n})
            await until(lambda: len(got) == ROUNDS)
            hub_side = {hub.router.name_of(c.id): c.link for c in hub.core.connections.values()}
            assert hub_side["sender"].fast_frames >= 1 + ROUNDS  # register, (join), the data
            assert hub_side["receiver"].fast_frames >= 2  # register, join
        assert got == list(range(ROUNDS))


async def test_try_write_writes_at_once_while_open_and_declines_once_closed():
    async with Hub(port=0) as hub:
        ws = await connect(hub.url, create_connection=DeliveringClientConnection)
        got: asyncio.Queue = asyncio.Queue()
        ws.start_delivery(got.put_nowait)
        assert try_write(ws, _frame(ID="reg", TYPE="COMMAND/REGISTER", NAME="w")) is True
        assert json.loads(await asyncio.wait_for(got.get(), 10))["REPLY_TO"] == "reg"
        await ws.close()
        assert try_write(ws, _frame(ID="late", TYPE="COMMAND/ROOMS")) is False  # not open: send it another way
        assert issubclass(NotConnected, ConnectionError)  # what try_write raises when a write fails


class _Counted:
    """Counts the calls of a real bound method, and makes them."""

    def __init__(self, method) -> None:
        self.method, self.calls = method, 0

    def __call__(self, *args):
        self.calls += 1
        return self.method(*args)


class _Writes:
    """Counts the writes to a connection's real transport (``write``, and ``writelines``, which may call ``write``
    itself: one write either way); they still write."""

    def __init__(self, ws: Connection) -> None:
        self.calls, self._inside = 0, False
        transport = ws.transport
        write, writelines = transport.write, transport.writelines

        def counted_write(data) -> None:
            self.calls += not self._inside
            write(data)

        def counted_writelines(data) -> None:
            self.calls += 1
            self._inside = True
            try:
                writelines(data)
            finally:
                self._inside = False

        transport.write, transport.writelines = counted_write, counted_writelines


async def test_a_burst_read_at_once_goes_out_in_one_write_per_recipient_and_in_order():
    burst = 200
    async with Hub(port=0) as hub:
        a, _ = await _register(hub.url, "a")
        b, b_got = await _register(hub.url, "b", "r")
        c, c_got = await _register(hub.url, "c", "r")
        hub_side = {hub.router.name_of(conn.id): conn.link for conn in hub.core.connections.values()}
        reads = _Counted(hub_side["a"].data_received)
        hub_side["a"].data_received = reads  # the transport calls its protocol's data_received per chunk read
        to_b, to_c = _Writes(hub_side["b"]), _Writes(hub_side["c"])
        sent_by_a = _Writes(a)
        frames = [_frame(ID=f"a{n}", TYPE="DATA/TEXT", TO_ROOM="r", N=n) for n in range(burst)]
        frames[7] = codec.encode({"ID": "a7", "TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": 7, "DATA": np.arange(3.0)})
        # the client side of a batch: the burst leaves in one writelines
        assert batched(lambda: [try_write(a, frame) for frame in frames]) == [True] * burst
        assert sent_by_a.calls == 1
        for got in (b_got, c_got):
            arrived = [codec.decode(await asyncio.wait_for(got.get(), 10)) for _ in range(burst)]
            assert [msg["N"] for msg in arrived] == list(range(burst))  # the binary frame too, in its place
            assert arrived[7]["DATA"].tolist() == [0.0, 1.0, 2.0]
        # the hub: one write per recipient for each chunk it read from the sender, not one per frame
        assert 1 <= reads.calls < burst
        assert to_b.calls <= reads.calls and to_c.calls <= reads.calls
        assert hub.stats.queued == 0  # every delivery took the fast path
        # both ends write their data frames themselves: the hub's unmasked (serialized once), a client's masked
        assert all(ws.own_frames for ws in (a, b, c, *hub_side.values()))
        assert a.masked and not any(ws.masked for ws in hub_side.values())
        for ws in (a, b, c):
            await ws.close()


async def test_a_client_writes_at_once_while_it_handles_what_it_read():
    """A client's handlers may take long: the reply to a frame must not wait for the handling of the frames read
    with it. The hub batches (its handling takes microseconds), a client does not."""
    burst = 20
    async with Hub(port=0) as hub:
        a, _ = await _register(hub.url, "a")
        b, _ = await _register(hub.url, "b", "r")
        written, seen = _Writes(b), []

        def reply(frame) -> None:  # b's receiver: notes b's writes so far, then replies at once
            seen.append(written.calls)
            assert try_write(b, _frame(ID=f"re{len(seen)}", TYPE="DATA/TEXT", TO_ROOM="nobody"))  # unanswered

        b.deliver = reply
        batched(lambda: [try_write(a, _frame(ID=f"a{n}", TYPE="DATA/TEXT", TO_ROOM="r", N=n)) for n in range(burst)])
        await until(lambda: len(seen) == burst)
        assert seen == list(range(burst))  # each reply was written before the next frame was handed over
        assert not a.batch_reads and not b.batch_reads
        assert all(conn.link.batch_reads for conn in hub.core.connections.values())
        for ws in (a, b):
            await ws.close()


async def test_a_batch_writes_when_it_returns_skips_a_closed_connection_and_outside_one_writes_at_once():
    async with Hub(port=0) as hub:
        a, a_got = await _register(hub.url, "a")
        gone, _ = await _register(hub.url, "gone")
        await gone.close()
        written = _Writes(a)

        def inside() -> int:
            write_without_drain([gone, a], _frame(ID="x1", TYPE="COMMAND/ROOMS"))
            write_without_drain([a], _frame(ID="x2", TYPE="COMMAND/ROOMS"))
            return written.calls  # nothing written yet

        assert batched(inside) == 0
        assert written.calls == 1  # both frames in one write, once it returned
        write_without_drain([a], _frame(ID="x3", TYPE="COMMAND/ROOMS"))  # no batch: written at once
        assert written.calls == 2
        replies = [json.loads(await asyncio.wait_for(a_got.get(), 10))["REPLY_TO"] for _ in range(3)]
        assert replies == ["x1", "x2", "x3"]
        with pytest.raises(ZeroDivisionError):  # what a batch queued goes out even if its handler raises
            batched(lambda: (write_without_drain([a], _frame(ID="x4", TYPE="COMMAND/ROOMS")), 1 / 0))
        assert json.loads(await asyncio.wait_for(a_got.get(), 10))["REPLY_TO"] == "x4"
        # a batch keeps less than DIRECT_WRITE_LIMIT bytes for a connection: the write buffer that flow control
        # reads never lags further behind
        big = [_frame(ID=f"big{n}", TYPE="COMMAND/ROOMS", PAD="x" * (DIRECT_WRITE_LIMIT // 2)) for n in range(3)]

        def three_big() -> int:
            for frame in big:
                write_without_drain([a], frame)
            return written.calls

        assert batched(three_big) == 4  # the first two went out together once they reached the limit
        assert written.calls == 5  # the third when the batch ended
        replies = [json.loads(await asyncio.wait_for(a_got.get(), 10))["REPLY_TO"] for _ in range(3)]
        assert replies == ["big0", "big1", "big2"]
        await a.close()


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 70_000])
@pytest.mark.parametrize("text", [True, False])
@pytest.mark.parametrize("mask", [False, True])
def test_data_frame_is_what_websockets_serializes_and_parses(length, text, mask):
    data = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
    data = data.hex().encode()[:length] if text else data  # text frames carry UTF-8
    opcode = Opcode.TEXT if text else Opcode.BINARY
    wire = data_frame(data, text, mask)
    if not mask:  # a masked frame differs by its random key
        assert wire == Frame(opcode, data).serialize(mask=False)
    reader = StreamReader()
    reader.feed_data(wire)
    parser = Frame.parse(reader.read_exact, mask=mask)  # as the other end reads it
    with pytest.raises(StopIteration) as parsed:
        next(parser)
    assert parsed.value.value == Frame(opcode, data)
    if mask and length:  # the key is fresh for each frame
        assert data_frame(data, text, mask) != wire
