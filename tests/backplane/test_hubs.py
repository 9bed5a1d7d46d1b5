"""Hubs sharing their rooms through Redis: each hub its own process (``swergio-nb hub --backplane``), clients spread
over them on the test's loop, over real loopback sockets.

Exactness without sleeping: a sender's last message (``END``) is sent after all the others, and per-sender order
holds across hubs, so once every receiver has it, anything else that was coming has come: the lists are compared
exactly (no loss, no duplicate, order)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from swergio_nb import Client, Trigger
from swergio_nb.exceptions import HubError
from swergio_nb.protocol.router import Router
from swergio_nb.transport.backplane import DEFAULT_CHANNEL, RedisBackplane, pack_batch, unpack_batch
from swergio_nb.transport.core import HubCore

from ..helpers import until


@contextlib.asynccontextmanager
async def connected(*clients: Client) -> Iterator[tuple[Client, ...]]:
    try:
        await asyncio.wait_for(asyncio.gather(*(c.connect() for c in clients)), 30)
        yield clients
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def _member(name: str, url: str, rooms: str | tuple[str, ...], log: list, mtype: str = "DATA/TEXT") -> Client:
    client = Client(name, url)
    client.add_handler(log.append, Trigger(mtype, rooms))
    return client


async def test_rooms_and_direct_messages_cross_hubs_once_each_stamped_by_the_senders_hub(hubs):
    h1, h2 = hubs(2)
    logs: dict[str, list[dict[str, Any]]] = {name: [] for name in "abcd"}
    a = _member("a", h1, "r", logs["a"])
    b = _member("b", h2, "r", logs["b"])
    c = _member("c", h2, ("r", "s"), logs["c"])
    d = _member("d", h1, "r", logs["d"])
    async with connected(a, b, c, d):
        await a.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": 1})
        await a.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "TO": "c", "DATA": 2})  # c: one copy, not two
        await a.send({"TYPE": "DATA/TEXT", "TO": "b", "DATA": 3})  # direct, to another hub
        await a.send({"TYPE": "DATA/TEXT", "TO_ROOM": "s", "SENT_BY": "b", "DATA": 4})  # a forged stamp
        await a.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "END"})
        await until(lambda: all(logs[n] and logs[n][-1]["DATA"] == "END" for n in "bcd"), timeout=20)
    got = {name: [(m["DATA"], m["SENT_BY"]) for m in log] for name, log in logs.items()}
    assert got == {
        "a": [],  # a sender is not a recipient of its own room message
        "b": [(1, "a"), (2, "a"), (3, "a"), ("END", "a")],
        "c": [(1, "a"), (2, "a"), (4, "a"), ("END", "a")],
        "d": [(1, "a"), (2, "a"), ("END", "a")],
    }


async def test_logging_copies_and_traffic_summaries_cross_hubs(hubs):
    h1, h2 = hubs(2)
    copies: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    got: list[dict[str, Any]] = []
    sender = Client("sender", h1)
    receiver = _member("receiver", h1, "work", got)  # the message stays on h1; its copies go to h2
    watcher = Client("watcher", h2)
    watcher.add_handler(copies.append, Trigger("LOG/MESSAGES", "_logging"))
    watcher.add_handler(summaries.append, Trigger("LOG/TRAFFIC", "_traffic"))
    async with connected(sender, receiver, watcher):
        await watcher.ready()
        await sender.send({"TYPE": "DATA/TEXT", "TO_ROOM": "work", "DATA": "watched"})
        await until(lambda: copies and got and summaries, timeout=20)
    (copy,) = copies
    assert copy["SENDER"] == "sender" and copy["ROOM"] == "work" and copy["SENT_BY"] == "_hub"
    assert copy["MESSAGE"]["DATA"] == "watched" and copy["MESSAGE"]["SENT_BY"] == "sender"
    rows = [row for summary in summaries for row in summary["COUNTS"]]
    assert ["work", "sender", "DATA/TEXT", 1] == rows[0][:4], rows


async def test_a_name_is_unique_across_three_hubs_and_free_again_once_it_leaves(hubs):
    h1, h2, h3 = hubs(3)
    first = Client("unique", h1)
    async with connected(first):
        for url in (h2, h3, h1):
            with pytest.raises(HubError, match="name-taken"):
                await Client("unique", url, reconnect=False).connect()
    second = Client("unique", h3)  # h1 released it on leaving: another hub may take it
    for _ in range(50):  # the release reaches Redis a moment after the close: bounded retries
        try:
            await second.connect()
            break
        except HubError:
            await asyncio.sleep(0.1)
    assert second.connected
    await second.close()


async def test_backplane_refuses_a_url_that_is_not_redis_and_an_unreachable_redis():
    with pytest.raises(ValueError, match="backplane URL must start with one of redis://"):
        RedisBackplane("http://127.0.0.1:6379")
    backplane = RedisBackplane("redis://127.0.0.1:1/0")  # port 1: nothing listens
    with pytest.raises(ConnectionError, match="cannot reach the backplane's Redis at redis://127.0.0.1:1/0"):
        await backplane.start(HubCore(Router()))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:6379", "backplane URL must start with one of redis://"),
        ("redis://127.0.0.1:1/0", "cannot reach the backplane's Redis at redis://127.0.0.1:1/0"),
    ],
)
def test_hub_command_refuses_a_backplane_it_cannot_use_and_says_why(url, says):
    command = [sys.executable, "-m", "swergio_nb.swarm.cli", "hub", "--port", "0", "--backplane", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and says in done.stderr and "Traceback" not in done.stderr, done.stderr


async def test_what_is_not_a_hubs_batch_on_the_channel_is_skipped_and_the_hubs_go_on(hubs, redis_url):
    import redis

    h1, h2 = hubs(2)
    got: list[dict[str, Any]] = []
    a, b = Client("a", h1), _member("b", h2, "r", got)
    async with connected(a, b):
        with redis.Redis.from_url(redis_url) as plain:
            for junk in (b"not msgpack \xc1", pack_batch("x", [["frame", "s", "r", None]]), b"\x93\x01\x02\x03"):
                assert plain.publish(DEFAULT_CHANNEL, junk) == 2  # both hubs listen
        await a.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "after"})
        await until(lambda: got, timeout=20)
    assert [(m["DATA"], m["SENT_BY"]) for m in got] == [("after", "a")]


def test_batches_round_trip_and_anything_else_is_refused_by_name():
    entries = [["text", "a", "r", None, "DATA/TEXT"], [b"\x81\xa1x\x01", "b", None, "c", "DATA/FORWARD"]]
    assert unpack_batch(pack_batch("hub", entries)) == ("hub", entries)
    with pytest.raises(ValueError, match="not a hub's batch entry"):
        unpack_batch(pack_batch("hub", [["text", "a", 3, None, "DATA/TEXT"]]))
    with pytest.raises(ValueError, match="not a hub's batch"):
        unpack_batch(b"\xc1")
