"""Clients get their connection back after the hub restarts: re-register, rejoin, keep handlers, flush the buffer."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from swergio_nb import Client, Hub, NotConnected, Trigger

from ..helpers import until


async def test_clients_survive_a_hub_restart_rejoin_their_rooms_and_keep_their_handlers():
    hub = await Hub(port=0, token="t").start()
    got = []
    listener = Client("listener", hub.url)
    listener.add_handler(lambda m: got.append(m["DATA"]), Trigger("DATA/TEXT", "r"))
    speaker = Client("speaker", hub.url)
    await listener.connect()
    await speaker.connect()
    await speaker.join_room("own-room")  # joined explicitly: rejoined too
    await speaker.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "before"})
    await until(lambda: got == ["before"])

    port = hub.port
    await hub.close()
    await until(lambda: speaker.reconnecting and listener.reconnecting, 10)
    hub = await Hub(port=port, token="t").start()
    try:
        await until(lambda: listener.connected and speaker.connected)
        assert listener.stats.reconnects == 1 and speaker.stats.reconnects == 1
        assert hub.router.room_table() == {"own-room": ["speaker"], "r": ["listener"]}
        await speaker.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "after"})
        await until(lambda: got == ["before", "after"])  # the same handler, in the rejoined room
    finally:
        await listener.close()
        await speaker.close()
        await hub.close()


async def test_messages_sent_while_reconnecting_are_buffered_and_sent_in_order():
    async with Hub(port=0) as hub:
        got = []
        listener = Client("listener", hub.url)
        listener.add_handler(lambda m: got.append(m["DATA"]), Trigger("DATA/TEXT", "r"))
        async with listener, Client("speaker", hub.url, backoff=(0.2, 0.4)) as speaker:
            speaker.connection.ws.transport.abort()  # the network drops the speaker's connection
            await until(lambda: speaker.reconnecting)
            for i in range(5):
                await speaker.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": i})
            assert not speaker.connected  # buffered, not sent
            await until(lambda: got == [0, 1, 2, 3, 4])
            assert speaker.stats.reconnects == 1


async def test_the_buffer_is_bounded_and_fails_loudly():
    hub = await Hub(port=0).start()
    client = await Client("c", hub.url, max_buffer=3, backoff=(0.05, 0.1)).connect()
    await hub.close()
    await until(lambda: client.reconnecting)
    for i in range(3):
        await client.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": i})
    with pytest.raises(NotConnected, match="buffer is full"):
        await client.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": 3})
    await client.close()
    assert not client.reconnecting


async def test_the_buffer_is_bounded_in_bytes_so_an_outage_cannot_grow_the_process():
    """40 sends of 16 MiB during an outage took a client from 41 to 682 MB; now the bytes kept are bounded."""
    hub = await Hub(port=0).start()
    client = await Client("c", hub.url, backoff=(0.05, 0.1), max_buffer_bytes=40 * 2**20).connect()
    await hub.close()
    await until(lambda: client.reconnecting)
    big = np.zeros(4 * 2**20, np.float32)  # 16 MiB as a binary frame
    await client.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "r", "DATA": big})
    await client.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "r", "DATA": big})
    with pytest.raises(NotConnected, match=r"2 messages of 33,554,[0-9]+ bytes kept.*41,943,040 bytes"):
        await client.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "r", "DATA": big})
    await client.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "small"})  # what fits still goes
    assert client.endpoint.buffered == 3
    await client.close()


async def test_without_reconnect_run_returns_when_the_hub_goes():
    hub = await Hub(port=0).start()
    client = await Client("c", hub.url, reconnect=False).connect()
    serving = asyncio.create_task(client.run())
    await hub.close()
    await asyncio.wait_for(serving, 5)
    with pytest.raises(NotConnected):
        await client.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r"})
    await client.close()


async def test_reconnection_backs_off_while_the_hub_stays_down(caplog):
    hub = await Hub(port=0).start()
    client = await Client("c", hub.url, backoff=(0.02, 0.08)).connect()
    caplog.set_level(
        "INFO", logger="swergio_nb.transport.connection"
    )  # before the close: the first failure can come at once
    await hub.close()
    await asyncio.sleep(1.0)
    attempts = [r.getMessage() for r in caplog.records if "reconnection failed" in r.getMessage()]
    caps = [float(m.rsplit("within ", 1)[1].split()[0]) for m in attempts]
    assert len(caps) >= 5 and caps[:3] == [0.02, 0.04, 0.08] and max(caps) == 0.08  # doubling, capped
    assert client.reconnecting and not client.connected
    await client.close()


async def test_a_hub_back_with_another_token_stops_the_reconnection_with_a_clear_error(caplog):
    hub = await Hub(port=0, token="first").start()
    client = Client("c", hub.url, backoff=(0.05, 0.1))
    await client.connect()
    serving = asyncio.ensure_future(client.run())
    port = hub.port
    await hub.close()
    await until(lambda: client.reconnecting)
    await client.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "buffered"})
    hub = await Hub(port=port, token="second").start()
    try:
        with pytest.raises(NotConnected, match=r"refused this client's token \(HTTP 403\).*another token") as info:
            await asyncio.wait_for(serving, 10)
        assert "first" not in str(info.value) and "token=..." in str(info.value)  # the URL is shown redacted
        refused = hub.stats.refused
        await asyncio.sleep(0.5)  # several backoff caps: no further attempt
        assert hub.stats.refused == refused == 1 and not client.reconnecting and not client.connected
        assert any(r.levelname == "ERROR" and "refused this client's token" in r.getMessage() for r in caplog.records)
        assert any("1 messages buffered for the reconnection are dropped" in r.getMessage() for r in caplog.records)
    finally:
        await client.close()
        await hub.close()
