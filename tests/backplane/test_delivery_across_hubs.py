"""Delivery semantics across hubs: the load test's check (tests/load/test_delivery.py: every receiver's log equals,
element for element, what the protocol's rule gives, in sending order) with the clients spread over 2 and 3 hub
processes. Nothing asserts on time; every wait is bounded."""

from __future__ import annotations

from ..load.test_delivery import Mesh, direct_and_rooms, exchange


async def test_rooms_across_two_hubs_lose_nothing_duplicate_nothing_keep_order(hubs):
    """20 clients alternately on 2 hubs, each in a room of 5 (g0..g3 by i // 5) and one of 4 (h0..h4 by i % 5),
    every room with members on both hubs, each sending 400 messages alternately to its two rooms: 8,000 messages,
    28,000 deliveries, 7 sender streams per receiver, most of them across hubs."""
    urls = hubs(2)
    n, count = 20, 400
    names = [f"c{i:02d}" for i in range(n)]
    rooms = [(f"g{i // 5}", f"h{i % 5}") for i in range(n)]
    mesh = Mesh(names, rooms, count, lambda i, k: {"TO_ROOM": rooms[i][k % 2]})
    on = {name: i % 2 for i, name in enumerate(names)}
    assert all({on[m] for m in mesh.members(room)} == {0, 1} for pair in rooms for room in pair)

    got = await exchange(urls, mesh, window=64)

    assert all(len(streams) == 7 for streams in got.values())
    assert sum(len(log) for streams in got.values() for log in streams.values()) == 28_000


async def test_direct_and_room_messages_across_three_hubs_lose_nothing_duplicate_nothing_keep_order(hubs):
    """12 clients over 3 hubs in 3 rooms of 4, each sending 300 messages round-robin by name (TO) to the 11
    others; every 10th also to its own room, every 10th (offset 5) to the target's: one copy each, order kept."""
    urls = hubs(3)
    n, count = 12, 300
    mesh = direct_and_rooms(n, 4, count)
    _, total = mesh.expected()

    await exchange(urls, mesh, window=32)

    assert total > n * count  # room copies came on top of the direct ones
