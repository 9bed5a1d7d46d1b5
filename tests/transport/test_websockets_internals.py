"""The websockets internals swergio_nb relies on (transport._websockets) are there and still used.

If a websockets release stops calling ``process_event`` per parsed frame, or ``broadcast`` stops writing at once,
frames would still arrive, only slower: these tests fail instead. Real loopback sockets.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.connection import Connection

from swergio_nb import Client, Hub, Trigger
from swergio_nb.exceptions import NotConnected, SwergioError
from swergio_nb.transport._websockets import (
    TESTED_MAJORS,
    DeliveringClientConnection,
    IncompatibleWebsockets,
    check_websockets,
    try_write,
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
