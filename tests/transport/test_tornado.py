"""The tornado transport of the hub core (swergio_nb/transport/tornado.py) on a plain tornado application, real
loopback sockets on port 0, without Jupyter: routing, flow control through ``on_message``'s awaitable, the stall
cut-off and the message-size limit behave as with the websockets hub."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from swergio_nb import Client, Trigger
from swergio_nb.transport.core import HubCore

from ..helpers import until

tornado_web = pytest.importorskip("tornado.web")
tornado_httpserver = pytest.importorskip("tornado.httpserver")
tornado_netutil = pytest.importorskip("tornado.netutil")
from swergio_nb.transport.tornado import HubSocket  # noqa: E402 (after the skip: tornado comes with the notebook extra)

PAYLOAD = "x" * 20_000
COUNT = 1_000


@contextlib.asynccontextmanager
async def tornado_hub(core: HubCore, max_size: int | None = 2**20) -> AsyncIterator[str]:
    """Serve ``core`` at ``ws://127.0.0.1:PORT/ws`` on this loop; yields the URL."""
    app = tornado_web.Application([(r"/ws", HubSocket, {"core": core, "max_size": max_size})])
    sockets = tornado_netutil.bind_sockets(0, "127.0.0.1")  # non-blocking, as tornado's accept handler needs
    server = tornado_httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    core.start()
    try:
        yield f"ws://127.0.0.1:{sockets[0].getsockname()[1]}/ws"
    finally:
        server.stop()
        for conn in list(core.connections.values()):
            await conn.link.close(1001, "going away")
        await until(lambda: not core.connections, timeout=10)
        await core.stop()


async def test_members_of_a_room_exchange_messages_in_order():
    core = HubCore()
    async with tornado_hub(core) as url:
        got: list[int] = []
        reader = Client("reader", url)
        reader.add_handler(lambda msg: got.append(msg["N"]), Trigger("DATA/TEXT", "r"))
        async with reader, Client("writer", url) as writer:
            for n in range(200):
                await writer.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": n})
            await until(lambda: len(got) == 200)
        assert got == list(range(200))
        assert core.router.stats.routed == 200


async def test_a_fast_producer_waits_for_a_slow_consumer_and_nothing_is_lost():
    core = HubCore(queue_size=64, stall_timeout=30.0)
    async with tornado_hub(core, max_size=None) as url:
        got: list[int] = []

        async def slow(msg):
            got.append(msg["N"])
            await asyncio.sleep(0.0005)

        consumer = Client("consumer", url, queue_size=4)
        consumer.add_handler(slow, Trigger("DATA/TEXT", "r"))
        async with consumer, Client("producer", url) as producer:
            for n in range(COUNT):
                await producer.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": n, "DATA": PAYLOAD})
            await until(lambda: len(got) == COUNT, timeout=60)
        assert got == list(range(COUNT))
        assert core.stats.throttled > 0, "the producer never had to wait: the test did not exercise flow control"
        assert core.stats.slow_consumers == 0 and core.stats.stalled == 0


async def test_a_stalled_reader_is_cut_off_after_the_stall_timeout():
    core = HubCore(queue_size=256, stall_timeout=1.0)
    async with tornado_hub(core, max_size=None) as url:
        stalled = await connect(url, max_size=None, max_queue=1)
        await stalled.send(json.dumps({"ID": "r", "TYPE": "COMMAND/REGISTER", "NAME": "stalled"}))
        await stalled.send(json.dumps({"ID": "j", "TYPE": "COMMAND/JOINROOM", "ROOM": "r"}))
        await asyncio.sleep(0.05)
        stalled.transport.pause_reading()
        async with Client("producer", url) as producer:
            await until(lambda: core.router.room_table().get("r") == ["stalled"])
            for n in range(COUNT):  # held up for stall_timeout at most, then the reader is cut off
                await producer.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": n, "DATA": PAYLOAD})
            await until(lambda: core.stats.stalled == 1, timeout=30)
            assert core.stats.slow_consumers == 0 and "r" not in core.router.room_table()
            await until(lambda: producer.stats.hub_errors == 1)  # told: LOG/ERROR recipient-cut
        stalled.transport.resume_reading()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(stalled.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


async def test_a_message_over_max_size_closes_the_connection_with_1009():
    core = HubCore()
    async with tornado_hub(core, max_size=1024) as url, connect(url) as ws:
        await ws.send("x" * 2048)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
