"""Deadlines that hold when the hub stops reading, and a frozen hub noticed by its pings: a hub process frozen with
SIGSTOP, real sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import numpy as np
import pytest

from swergio_nb import Client, Hub

from ..helpers import hub_process

#: Enough to fill the loopback socket buffers of both ends, so a send really waits for a hub that reads nothing.
BIG = np.zeros(4 * 1024 * 1024, np.float32)  # 16 MiB


@pytest.fixture
def frozen_hub():
    """A hub process; ``freeze()`` stops it (SIGSTOP), ``thaw()`` lets it go on (SIGCONT)."""
    with hub_process() as (url, proc):
        try:
            yield url, lambda: os.kill(proc.pid, signal.SIGSTOP), lambda: os.kill(proc.pid, signal.SIGCONT)
        finally:
            os.kill(proc.pid, signal.SIGCONT)  # a stopped process would not see the SIGTERM


async def test_a_request_keeps_its_deadline_while_its_send_waits_for_a_frozen_hub(frozen_hub):
    url, freeze, thaw = frozen_hub
    async with Client("trainer", url, reconnect=False) as trainer:
        freeze()
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await trainer.request({"TYPE": "DATA/FORWARD", "TO": "model", "DATA": BIG}, timeout=2)
        elapsed = time.monotonic() - started
        assert 2.0 <= elapsed < 2.2, f"the 2 s deadline took {elapsed:.2f} s"
        with pytest.raises(TimeoutError):  # the socket is full: a send with a timeout gives up too
            for _ in range(4):
                await trainer.send({"TYPE": "DATA/FORWARD", "TO": "model", "DATA": BIG}, timeout=0.5)
        thaw()  # the connection survived: the client closes it normally


async def test_a_request_whose_reply_room_cannot_be_joined_keeps_its_deadline(frozen_hub):
    url, freeze, thaw = frozen_hub
    async with Client("trainer", url, reconnect=False) as trainer:
        freeze()
        started = time.monotonic()
        with pytest.raises(TimeoutError):  # the join's own timeout (10 s) does not stretch the request's 1 s
            await trainer.request({"TYPE": "DATA/FORWARD", "TO_ROOM": "in", "DATA": 1}, reply_room="out", timeout=1)
        assert time.monotonic() - started < 1.1
        thaw()


async def test_a_frozen_hub_is_noticed_by_its_pings_and_the_connection_given_up(frozen_hub, caplog):
    url, freeze, thaw = frozen_hub
    client = Client("c", url, reconnect=False, ping_interval=0.2, ping_timeout=0.6)
    await client.connect()
    assert client.connection.patience == 0.6
    serving = asyncio.ensure_future(client.run())
    freeze()
    started = time.monotonic()
    await asyncio.wait_for(serving, 10)  # run() returns: the connection is gone
    assert time.monotonic() - started < 3 and not client.connected
    assert any("answered no ping for 0.6 s" in r.getMessage() for r in caplog.records)
    thaw()
    await client.close()


async def test_clients_take_their_pong_timeout_from_what_the_hub_announces():
    async with Hub(port=0) as standalone, Hub(port=0, client_ping_timeout=None) as in_kernel:
        async with Client("a", standalone.url) as a, Client("b", in_kernel.url) as b:
            assert a.connection.patience == 20.0  # DEFAULT_PING_TIMEOUT
            assert b.connection.patience is None  # a hub a cell may block: never give it up
        async with Client("c", standalone.url, ping_timeout=None) as c:
            assert c.connection.patience is None  # the client's own choice wins


async def test_a_client_whose_own_loop_is_blocked_keeps_its_connection():
    """The blocked-cell case from the client's side: its loop stops for 1.5 s, 5 times its pong timeout; the
    time it could not look does not count, so nothing is given up."""
    async with Hub(port=0) as hub:
        outcome: dict = {}

        async def run():
            client = Client("blocked", hub.url, ping_interval=0.1, ping_timeout=0.3)
            async with client:
                await asyncio.sleep(0.3)
                time.sleep(1.5)  # the loop is blocked: no pong is read, no tick runs
                await asyncio.sleep(0.5)
                outcome["connected"] = client.connected and client.stats.reconnects == 0

        thread = threading.Thread(target=asyncio.run, args=(run(),))
        thread.start()
        await asyncio.to_thread(thread.join, 10)
        assert outcome == {"connected": True}
