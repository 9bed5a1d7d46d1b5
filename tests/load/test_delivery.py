"""Delivery semantics under load: nothing lost, nothing duplicated, FIFO per sender, while no limit is hit.

Every client runs on the test's event loop, next to an in-process hub, over real loopback sockets. Senders number
their messages (``SEQ``, per sender); each receiver logs ``(SEQ, TO_ROOM, TO)`` per sender, and at the end every
log must equal, element for element, the list computed from the protocol's rule (members of ``TO_ROOM`` except the
sender, plus ``TO``, one copy each) in sending order. That single equality checks no loss, no duplicate and order.

"No limit is hit" is made true by construction, not by luck: a sender stays at most ``WINDOW`` messages ahead of
each of its receivers (a credit window counted from what the receivers' handlers have seen), so a receiver never
has more than ``senders x WINDOW`` frames in flight, less than the hub's per-connection queue. The hub must then
deliver everything: ``hub.stats.slow_consumers == 0`` and no router error at the end. Nothing asserts on time.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from swergio_nb import Client, Hub, Trigger
from swergio_nb.protocol.limits import DEFAULT_QUEUE_SIZE


@pytest.fixture
async def hub():
    async with Hub(port=0) as running:
        yield running


class Credit:
    """A per (sender, receiver) window: a sender may have at most ``window`` messages not yet seen by a receiver."""

    def __init__(self, window: int, timeout: float) -> None:
        self.window = window
        self.timeout = timeout
        self.sent: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.seen: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self._waiting: dict[str, asyncio.Event] = {}

    def _open(self, sender: str) -> bool:
        seen, window = self.seen[sender], self.window
        return all(n - seen[r] < window for r, n in self.sent[sender].items())

    async def acquire(self, sender: str) -> None:
        """Wait (bounded) until ``sender`` may send one more message to any of its receivers."""
        if self._open(sender):
            return
        event = self._waiting[sender] = asyncio.Event()
        try:
            await asyncio.wait_for(event.wait(), self.timeout)
        except asyncio.TimeoutError:
            late = {r: n - self.seen[sender][r] for r, n in self.sent[sender].items() if n > self.seen[sender][r]}
            raise AssertionError(f"{sender}: receivers stopped seeing its messages (outstanding: {late})") from None
        finally:
            del self._waiting[sender]

    def sending(self, sender: str, receivers: set[str]) -> None:
        for receiver in receivers:
            self.sent[sender][receiver] += 1

    def received(self, receiver: str, sender: str) -> None:
        self.seen[sender][receiver] += 1
        event = self._waiting.get(sender)
        if event is not None and self._open(sender):
            event.set()


@dataclass
class Mesh:
    """``names[i]`` is in ``rooms[i]`` and sends ``count`` messages; ``plan(i, k)`` addresses its k-th one."""

    names: list[str]
    rooms: list[tuple[str, ...]]
    count: int
    plan: Callable[[int, int], dict[str, str]]

    def __post_init__(self) -> None:
        self._members: dict[str, frozenset[str]] = {}
        for name, rooms in zip(self.names, self.rooms, strict=True):
            for room in rooms:
                self._members[room] = self._members.get(room, frozenset()) | {name}

    def members(self, room: str) -> set[str]:
        return set(self._members.get(room, ()))

    def recipients(self, sender: int, address: dict[str, str]) -> set[str]:
        """The protocol's rule: members of TO_ROOM except the sender, plus TO; one copy each."""
        out = self.members(address["TO_ROOM"]) if "TO_ROOM" in address else set()
        if "TO" in address:
            out.add(address["TO"])
        out.discard(self.names[sender])
        return out

    def expected(self) -> tuple[dict[str, dict[str, list[tuple]]], int]:
        """Per receiver, per sender: the (SEQ, TO_ROOM, TO) it must see, in order; and the total of deliveries."""
        want: dict[str, dict[str, list[tuple]]] = {name: collections.defaultdict(list) for name in self.names}
        total = 0
        for i, sender in enumerate(self.names):
            for k in range(self.count):
                address = self.plan(i, k)
                for receiver in self.recipients(i, address):
                    want[receiver][sender].append((k, address.get("TO_ROOM"), address.get("TO")))
                    total += 1
        return want, total

    def max_senders_per_receiver(self) -> int:
        senders: dict[str, set[str]] = collections.defaultdict(set)
        for i, sender in enumerate(self.names):
            for k in range(self.count):
                for receiver in self.recipients(i, self.plan(i, k)):
                    senders[receiver].add(sender)
        return max(len(s) for s in senders.values())


def direct_and_rooms(n: int, room_size: int, count: int) -> Mesh:
    """``n`` clients ``d00``... in rooms of ``room_size`` (``room0``...), each sending ``count`` messages round-robin
    by name (TO) to the others; every 10th also goes to the sender's own room and every 10th (offset 5) to the
    target's room, which the sender is not always in."""
    names = [f"d{i:02d}" for i in range(n)]
    rooms = [(f"room{i // room_size}",) for i in range(n)]

    def plan(i: int, k: int) -> dict[str, str]:
        target = (i + 1 + k % (n - 1)) % n
        address = {"TO": names[target]}
        if k % 10 == 0:
            address["TO_ROOM"] = rooms[i][0]
        elif k % 10 == 5:
            address["TO_ROOM"] = rooms[target][0]
        return address

    return Mesh(names, rooms, count, plan)


async def exchange(
    hub: Hub | list[str], mesh: Mesh, window: int, timeout: float = 60.0
) -> dict[str, dict[str, list[tuple]]]:
    """Connect one Client per name, let all send at once (credit-windowed), wait until every delivery arrived.

    ``hub``: the hub, or the URLs of hubs sharing their rooms (hub processes with the default queue size): client
    ``i`` connects to ``hub[i % len(hub)]``.

    Returns, per receiver and per sender, the (SEQ, TO_ROOM, TO) of every message received, in arrival order.
    ``timeout`` bounds every wait without progress; the sending phase as a whole gets 4x that (a loaded machine).
    """
    want, total = mesh.expected()
    urls, queue_size = ([hub.url], hub.queue_size) if isinstance(hub, Hub) else (hub, DEFAULT_QUEUE_SIZE)
    assert mesh.max_senders_per_receiver() * window < queue_size, "the window could fill a hub queue"
    credit = Credit(window, timeout)
    got: dict[str, dict[str, list[tuple]]] = {name: collections.defaultdict(list) for name in mesh.names}
    arrived = 0
    all_arrived = asyncio.Event()

    def make_handler(name: str) -> Callable[[dict[str, Any]], None]:
        log = got[name]

        def on_message(msg: dict[str, Any]) -> None:
            nonlocal arrived
            sender = msg["SENT_BY"]
            log[sender].append((msg["SEQ"], msg.get("TO_ROOM"), msg.get("TO")))
            credit.received(name, sender)
            arrived += 1
            if arrived >= total:
                all_arrived.set()

        return on_message

    clients = []
    for i, (name, rooms) in enumerate(zip(mesh.names, mesh.rooms, strict=True)):
        client = Client(name, urls[i % len(urls)])
        client.add_handler(make_handler(name), Trigger("DATA/TEXT", rooms))
        clients.append(client)

    async def send_all(i: int) -> None:
        client, name = clients[i], mesh.names[i]
        for k in range(mesh.count):
            address = mesh.plan(i, k)
            await credit.acquire(name)
            credit.sending(name, mesh.recipients(i, address))
            await client.send({"TYPE": "DATA/TEXT", **address, "SEQ": k, "DATA": f"{name}:{k}"})

    try:
        await asyncio.wait_for(asyncio.gather(*(c.connect() for c in clients)), timeout)
        await asyncio.wait_for(asyncio.gather(*(send_all(i) for i in range(len(clients)))), 4 * timeout)
        try:
            await asyncio.wait_for(all_arrived.wait(), timeout)
        except asyncio.TimeoutError:
            pass  # the comparison below says what is missing
        assert all(c.connected for c in clients), [c.name for c in clients if not c.connected]
        for client in clients:
            assert client.stats.undecodable == 0 and client.stats.hub_errors == 0, (client.name, client.stats)
            assert all(h.errors == 0 for h in client.handlers), client.name
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
    _compare(want, got)
    assert arrived == total
    return got


def _compare(want: dict[str, dict[str, list[tuple]]], got: dict[str, dict[str, list[tuple]]]) -> None:
    """Assert equality, describing the first differences compactly (lost, duplicated, out of order, unexpected)."""
    problems = []
    for receiver in want:
        for sender in sorted(set(want[receiver]) | set(got[receiver])):
            w, g = want[receiver].get(sender, []), got[receiver].get(sender, [])
            if w == g:
                continue
            counts_w, counts_g = collections.Counter(w), collections.Counter(g)
            lost = sorted(counts_w - counts_g)
            extra = sorted(counts_g - counts_w)
            what = f"{receiver} <- {sender}: expected {len(w)}, got {len(g)}"
            if lost:
                what += f"; lost {len(lost)} (first {lost[:3]})"
            if extra:
                what += f"; duplicated or unexpected {len(extra)} (first {extra[:3]})"
            if not lost and not extra:
                first = next(n for n, (a, b) in enumerate(zip(w, g, strict=True)) if a != b)
                what += (
                    f"; out of order from position {first}: {g[first : first + 3]} instead of {w[first : first + 3]}"
                )
            problems.append(what)
    assert not problems, f"{len(problems)} (receiver, sender) streams differ:\n" + "\n".join(problems[:20])


def _assert_no_limit_hit(hub: Hub, messages: int, deliveries: int) -> None:
    assert hub.stats.slow_consumers == 0
    assert hub.stats.log_dropped == 0
    stats = hub.router.stats
    assert stats.errors == 0, stats.errors_by_code
    assert stats.dropped == 0
    assert stats.routed == messages
    assert stats.delivered == deliveries


async def test_rooms_50_clients_x_2000_messages_lose_nothing_duplicate_nothing_keep_order(hub):
    """50 clients, each in 2 of 20 rooms of 5 (g0..g9 by i // 5, h0..h9 by i % 10), each sending 2,000 messages
    alternately to its two rooms: 100,000 messages, 400,000 deliveries, 8 sender streams per receiver."""
    n, count = 50, 2000
    names = [f"c{i:02d}" for i in range(n)]
    rooms = [(f"g{i // 5}", f"h{i % 10}") for i in range(n)]
    mesh = Mesh(names, rooms, count, lambda i, k: {"TO_ROOM": rooms[i][k % 2]})
    assert all(len(mesh.members(room)) == 5 for pair in rooms for room in pair)

    got = await exchange(hub, mesh, window=256)

    _assert_no_limit_hit(hub, n * count, n * count * 4)
    assert all(len(streams) == 8 for streams in got.values())


async def test_direct_messages_mixed_with_rooms_lose_nothing_duplicate_nothing_keep_order(hub):
    """20 clients in 4 rooms of 5, each sending 1,000 messages round-robin by name (TO) to the 19 others; every
    10th also goes to the sender's own room and every 10th (offset 5) to the target's room, which the sender is not
    always in. A target reached both by TO and by TO_ROOM gets one copy; per-sender order holds across the mix."""
    n, count = 20, 1000
    mesh = direct_and_rooms(n, 5, count)
    names, plan = mesh.names, mesh.plan
    want, total = mesh.expected()
    assert any(  # the mix includes messages whose TO is also a member of TO_ROOM (the one-copy case)
        names[(i + 1 + k % (n - 1)) % n] in mesh.members(plan(i, k).get("TO_ROOM", ""))
        for i in range(n)
        for k in range(0, count, 5)
    )

    await exchange(hub, mesh, window=64)

    _assert_no_limit_hit(hub, n * count, total)
    assert total > n * count  # room copies came on top of the direct ones
