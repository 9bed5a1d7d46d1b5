"""Failover: a client given several hub URLs; one hub process killed mid-run (its clients fail over to the
others; the clients of the others lose nothing of their own traffic). Nothing asserts on time; every wait is
bounded."""

from __future__ import annotations

import asyncio
import collections
import socket
from typing import Any

import pytest

from swergio_nb import Client, Hub, Trigger
from swergio_nb.exceptions import HubError

from ..helpers import until


def test_client_takes_one_url_or_several():
    with pytest.raises(ValueError, match="not both or neither"):
        Client("x")
    with pytest.raises(ValueError, match="empty"):
        Client("x", [])
    client = Client("x", ["ws://127.0.0.1:1", "ws://127.0.0.1:2"], token="t")
    assert client.urls == ["ws://127.0.0.1:1/?token=t", "ws://127.0.0.1:2/?token=t"]
    assert client.url == client.urls[0] and Client("y", urls=["ws://h:1"], token="t").url == "ws://h:1/?token=t"


def _increasing(seqs: list[int]) -> bool:
    return all(a < b for a, b in zip(seqs, seqs[1:], strict=False))


async def test_a_hub_killed_mid_run_its_clients_fail_over_and_the_others_lose_nothing(hubs):
    """3 hubs; 4 clients on the first two, 3 on the third (with the others' URLs to fail over to), all in room
    ``all``, each sending 200 numbered messages to it. The third hub is killed (SIGKILL) once every client sent 60.

    * between the clients of the surviving hubs: every message, once, in order;
    * the killed hub's clients reconnect to another hub, re-register (their names are free once the dead hub's
      liveness lapsed) and rejoin ``all``; what they send once they know their hub is gone (from message 80) is
      buffered and sent there: all of it arrives;
    * at most once: whatever anyone receives from anyone is increasing, without duplicates, and holds everything
      sent once every mover was back (each client sends its second half only then).
    """
    h1, h2, h3 = urls = hubs(3)
    count, kill_at, away = 200, 60, 80
    stayers = [f"s{i}" for i in range(4)]
    movers = [f"m{i}" for i in range(3)]
    got: dict[str, dict[str, list[int]]] = {n: collections.defaultdict(list) for n in stayers + movers}
    sent = collections.Counter()
    killed = asyncio.Event()

    def client(name: str, url: str | list[str]) -> Client:
        c = Client(name, url, backoff=(0.05, 0.5))

        def on_message(msg: dict[str, Any]) -> None:
            got[name][msg["SENT_BY"]].append(msg["SEQ"])

        c.add_handler(on_message, Trigger("DATA/TEXT", "all"))
        return c

    clients = [client(n, (h1, h2)[i % 2]) for i, n in enumerate(stayers)]
    clients += [client(n, [h3, h1, h2]) for n in movers]

    moved = clients[len(stayers) :]

    def all_moved() -> bool:
        return killed.is_set() and all(c.connected and c.connection.url != h3 for c in moved)

    async def send_all(c: Client) -> None:
        for k in range(count):
            if k == away and c.name in movers:  # from here on, sent while away (buffered) or from the new hub
                await until(lambda: killed.is_set() and not (c.connected and c.connection.url == h3), timeout=60)
            if k == count // 2:  # the second half goes out once every mover is back in the room
                await until(all_moved, timeout=60)
            await c.send({"TYPE": "DATA/TEXT", "TO_ROOM": "all", "SEQ": k})
            sent[c.name] += 1
            await asyncio.sleep(0.002)  # a steady stream, not a burst

    async def kill_third() -> None:
        await until(lambda: all(sent[n] >= kill_at for n in stayers + movers), timeout=60)
        hubs.procs[2].kill()
        killed.set()

    try:
        await asyncio.wait_for(asyncio.gather(*(c.connect() for c in clients)), 30)
        await asyncio.wait_for(asyncio.gather(kill_third(), *(send_all(c) for c in clients)), 240)
        everyone = stayers + movers

        def complete() -> bool:
            return all(got[r][s][-1:] == [count - 1] for r in everyone for s in everyone if s != r)

        await until(complete, timeout=60)
        assert all("all" in c.rooms_joined for c in moved)
        assert all(c.connection.url in urls[:2] for c in moved)
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    full = list(range(count))
    for receiver in stayers:
        for sender in stayers:
            if sender != receiver:
                assert got[receiver][sender] == full, (receiver, sender)  # no loss between the survivors
    for receiver in everyone:
        for sender in everyone:
            if sender != receiver:
                seqs = got[receiver][sender]
                assert _increasing(seqs) and seqs[-1] == count - 1, (receiver, sender, seqs[:5], seqs[-5:])
                assert seqs[-count // 2 :] == full[count // 2 :], (receiver, sender)  # all sent after the failover
    for receiver in stayers:  # what the movers sent once they knew their hub was gone: buffered, then all sent
        for sender in movers:
            assert got[receiver][sender][-(count - away) :] == full[away:], (receiver, sender)


async def test_the_first_connection_skips_a_hub_it_cannot_reach(hubs):
    (live,) = hubs(1)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"ws://127.0.0.1:{sock.getsockname()[1]}"
    client = Client("first", [dead, live])
    await client.connect()
    try:
        assert client.connected and client.connection.url == client.urls[1]
    finally:
        await client.close()


async def test_while_redis_is_away_each_hub_routes_its_own_and_both_share_again_once_it_is_back(redis):
    async with Hub(port=0, backplane=redis.url) as h1, Hub(port=0, backplane=redis.url) as h2:
        near: list[dict] = []
        far: list[dict] = []
        sender, local, remote = Client("sender", h1.url), Client("local", h1.url), Client("remote", h2.url)
        local.add_handler(near.append, Trigger("DATA/TEXT", "r"))
        remote.add_handler(far.append, Trigger("DATA/TEXT", "r"))
        for client in (sender, local, remote):
            await client.connect()
        try:
            await sender.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "SEQ": 0})
            await until(lambda: len(near) == len(far) == 1, timeout=20)
            redis.stop()
            await until(lambda: h1.backplane.stats.lost > 0 or not h1.backplane.reachable, timeout=20)
            await sender.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "SEQ": 1})
            await until(lambda: len(near) == 2, timeout=20)  # this hub's own traffic goes on
            redis.start()  # empty: the hubs claim their names again and subscribe again
            seq = 2
            while not far or far[-1]["SEQ"] < 2:  # probes until one crosses (bounded: the subscription's retry)
                await sender.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "SEQ": seq})
                seq += 1
                assert seq < 300, "the hubs did not share their rooms again within 30 s"
                await asyncio.sleep(0.1)
            assert [m["SEQ"] for m in near] == list(range(seq))  # locally: everything, in order
            seqs = [m["SEQ"] for m in far]
            assert seqs[0] == 0 and 1 not in seqs and seqs == sorted(set(seqs))  # across: at most once, in order
            assert h1.backplane.stats.lost >= 1 and h2.backplane.stats.resubscribed >= 1
            stats = h1.core.summary()["stats"]["backplane"]
            assert stats["lost"] == h1.backplane.stats.lost and stats["published"] >= 1
            await until(lambda: h1.backplane.reachable, timeout=20)
            await asyncio.sleep(h1.backplane.liveness)  # the names were claimed again on the first renewal
            with pytest.raises(HubError, match="name-taken"):
                await Client("local", h2.url, reconnect=False).connect()
        finally:
            for client in (sender, local, remote):
                await client.close()


async def test_a_client_back_on_the_same_hub_keeps_its_name_held_across_hubs(redis):
    import redis as redis_py

    async with Hub(port=0, backplane=redis.url) as h1, Hub(port=0, backplane=redis.url) as h2:
        client = Client("steady", h1.url, backoff=(0.01, 0.02))
        await client.connect()
        try:
            for _ in range(5):  # the hub closes it; it reconnects at once: release and claim race each time
                (conn,) = h1.core.connections.values()
                await conn.link.close(1011, "test: a transient loss")
                await until(lambda c=conn: client.connected and c.id not in h1.core.connections, timeout=20)
            h1.backplane.release("steady")  # a release that comes late, after the name was registered again here
            await asyncio.sleep(0.2)  # what was queued for Redis is done
            with redis_py.Redis.from_url(redis.url) as plain:
                assert plain.get("swergio_nb:name:steady") == h1.backplane.hub_id.encode()
            with pytest.raises(HubError, match="name-taken"):
                await Client("steady", h2.url, reconnect=False).connect()
        finally:
            await client.close()
