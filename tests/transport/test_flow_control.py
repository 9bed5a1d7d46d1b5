"""Flow control in the hub: a fast producer waits for a slow consumer (nothing lost); a stalled one stops holding
senders up after ``stall_timeout`` (it is cut, they are told); logging copies never make a sender wait. Real loopback
sockets."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from swergio_nb import Client, Hub, Trigger

from ..helpers import until

PAYLOAD = "x" * 20_000  # 1,000 of these (20 MB) overflow every socket buffer between producer and consumer
COUNT = 1_000


async def _raw_member(url: str, name: str, command: dict) -> object:
    """A bare websocket that registers, sends ``command`` (join a room / enable logging) and then stops reading."""
    ws = await connect(url, max_size=None, max_queue=1)
    await ws.send(json.dumps({"ID": f"r-{name}", "TYPE": "COMMAND/REGISTER", "NAME": name}))
    await ws.send(json.dumps({"ID": f"c-{name}", **command}))
    await asyncio.sleep(0.05)
    ws.transport.pause_reading()
    return ws


async def test_a_fast_producer_waits_for_a_slow_consumer_and_nothing_is_lost():
    # a stall timeout far beyond any scheduling hiccup of a loaded machine: this test is about flow control only
    async with Hub(port=0, queue_size=64, stall_timeout=30.0) as hub:
        got: list[int] = []
        depth = []

        async def slow(msg):
            got.append(msg["N"])
            depth.append(max((c.queue.qsize() for c in hub.core.connections.values()), default=0))
            await asyncio.sleep(0.0005)

        consumer = Client("consumer", hub.url, queue_size=4)
        consumer.add_handler(slow, Trigger("DATA/TEXT", "r"))
        async with consumer, Client("producer", hub.url) as producer:
            for n in range(COUNT):
                await producer.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": n, "DATA": PAYLOAD})
            await until(lambda: len(got) == COUNT, timeout=60)
            assert consumer.connected and producer.connected
        assert got == list(range(COUNT))
        assert hub.stats.throttled > 0, "the producer never had to wait: the test did not exercise flow control"
        assert hub.stats.slow_consumers == 0 and hub.stats.stalled == 0
        assert max(depth) <= hub.high_water + 1  # the producer was paused at the high-water mark, not at the bound


async def test_a_stalled_reader_holds_senders_up_only_for_the_stall_timeout_then_is_cut_off_and_they_are_told():
    # 1 s: only the reader that stopped can go that long without a delivery, even on a loaded machine
    async with Hub(port=0, queue_size=256, stall_timeout=1.0) as hub:
        stalled = await _raw_member(hub.url, "stalled", {"TYPE": "COMMAND/JOINROOM", "ROOM": "r"})
        got: list[int] = []
        fast = Client("fast", hub.url)
        fast.add_handler(lambda msg: got.append(msg["N"]), Trigger("DATA/TEXT", "r"))
        async with fast, Client("producer", hub.url) as producer:
            await until(lambda: hub.router.room_table().get("r") == ["fast", "stalled"])
            for n in range(COUNT):
                await producer.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": n, "DATA": PAYLOAD})
            await until(lambda: len(got) == COUNT, timeout=60)
            assert got == list(range(COUNT))
            assert hub.stats.stalled == 1 and hub.stats.slow_consumers == 0
            assert hub.router.room_table()["r"] == ["fast"]
            await until(lambda: producer.stats.hub_errors == 1)  # told: a LOG/ERROR recipient-cut naming it
        stalled.transport.resume_reading()
        try:
            while True:
                await asyncio.wait_for(stalled.recv(), 10)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1013


async def test_a_stalled_logging_watcher_never_makes_a_sender_wait():
    async with Hub(port=0, queue_size=64, stall_timeout=30.0) as hub:
        watcher = await _raw_member(hub.url, "watcher", {"TYPE": "COMMAND/ENABLELOGGING"})
        got: list[int] = []
        consumer = Client("consumer", hub.url)
        consumer.add_handler(lambda msg: got.append(msg["N"]), Trigger("DATA/TEXT", "r"))
        async with consumer, Client("producer", hub.url) as producer:
            for n in range(COUNT):
                await producer.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": n, "DATA": PAYLOAD})
            # with a 30 s stall timeout, one wait on the watcher would show in the counters (and take 30 s)
            await until(lambda: len(got) == COUNT, timeout=60)
        assert got == list(range(COUNT))
        assert hub.stats.log_dropped > 0 and hub.stats.stalled == 0 and hub.stats.slow_consumers == 0
        assert hub.router.room_table()["_logging"] == ["watcher"]  # dropped copies, kept the connection
        watcher.transport.abort()


async def test_a_consumer_that_pauses_for_seconds_holds_its_producer_back_and_loses_nothing():
    """30,000 x 1 KiB; the consumer stops reading for 2 s twice (a GC pause, an evaluation step): with the default
    stall timeout nothing is lost and nobody is cut (before, a 0.7 s pause lost half the messages)."""
    count, payload = 30_000, "x" * 1024
    async with Hub(port=0) as hub:
        got: list[int] = []

        async def consume(msg):
            got.append(msg["N"])
            if msg["N"] in (10_000, 20_000):
                await asyncio.sleep(2.0)  # reads nothing meanwhile: its handler queue is full, then the socket

        consumer = Client("consumer", hub.url, queue_size=4)
        consumer.add_handler(consume, Trigger("DATA/TEXT", "r"))
        async with consumer, Client("producer", hub.url) as producer:
            for n in range(count):
                await producer.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": n, "DATA": payload})
            await until(lambda: len(got) == count, timeout=60)
            assert producer.stats.hub_errors == 0 and consumer.connected
        assert got == list(range(count))
        assert hub.stats.throttled > 0 and hub.stats.stalled == hub.stats.slow_consumers == 0
