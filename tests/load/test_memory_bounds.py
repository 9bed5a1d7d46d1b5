"""The hub's memory is bounded in bytes, whatever its peers do: a hub process, big frames, peers that never read.

Each case reproduces an attack that grew the hub without bound before its queues were bounded in bytes (hub RSS
42 MB -> 3 GB) and asserts the hub process's peak resident memory (``VmHWM``) stays within its byte bounds plus the
frames in flight. Nothing asserts on time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import connect

from swergio_nb import Client, Hub, Trigger

from ..helpers import hub_process, until

MiB = 2**20
QUEUE_BYTES = 64 * MiB
#: What the hub may hold beyond its queues: the interpreter (~45 MiB), a frame being parsed and its copies, the
#: kernel-side write buffers of its links, allocator slack.
SLACK = 160 * MiB


def _peak_rss(pid: int) -> int:
    """The process's peak resident set size, in bytes (Linux ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def small_hub():
    """A hub process with 64 MiB queues and a 2 s stall timeout: (its URL, its pid)."""
    with hub_process("--queue-bytes", str(QUEUE_BYTES), "--stall-timeout", "2") as (url, proc):
        yield url, proc.pid


async def _member_that_never_reads(url: str, name: str, command: dict):
    ws = await connect(url, max_size=None, max_queue=1)
    await ws.send(json.dumps({"ID": f"r-{name}", "TYPE": "COMMAND/REGISTER", "NAME": name}))
    await ws.send(json.dumps({"ID": f"c-{name}", **command}))
    await ws.recv()
    await ws.recv()
    ws.transport.pause_reading()
    return ws


async def test_a_member_that_never_reads_while_16_mib_frames_come_is_cut_and_the_hub_stays_bounded(small_hub):
    url, pid = small_hub
    sink = await _member_that_never_reads(url, "sink", {"TYPE": "COMMAND/JOINROOM", "ROOM": "r"})
    frame = np.ones(4 * MiB, np.float32)  # 16 MiB
    try:
        async with Client("producer", url) as producer:
            for _ in range(40):  # 640 MiB to a member that reads nothing
                await producer.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "r", "DATA": frame})
            await until(lambda: producer.stats.hub_errors == 1, 30)  # told: the sink was cut
            assert await producer.room_table() == {}
    finally:
        sink.transport.abort()
    peak = _peak_rss(pid)
    assert peak < QUEUE_BYTES + SLACK, f"hub peak RSS {peak / MiB:.0f} MiB"


async def test_a_logging_watcher_that_never_reads_costs_the_hub_a_bounded_amount(small_hub):
    url, pid = small_hub
    watcher = await _member_that_never_reads(url, "watcher", {"TYPE": "COMMAND/ENABLELOGGING"})
    got = []
    receiver = Client("receiver", url)
    receiver.add_handler(lambda msg: got.append(msg["N"]), Trigger("DATA/FORWARD", "pair"))
    array = np.ones(MiB, np.float32)  # 4 MiB
    try:
        async with receiver, Client("sender", url) as sender:
            for n in range(100):  # 400 MiB of copies for a watcher that reads nothing
                await sender.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "pair", "N": n, "DATA": array})
            await until(lambda: len(got) == 100, 60)
            assert sender.stats.hub_errors == 0  # copies are dropped, nobody is cut or told
    finally:
        watcher.transport.abort()
    assert got == list(range(100))
    peak = _peak_rss(pid)
    assert peak < QUEUE_BYTES // 4 + SLACK, f"hub peak RSS {peak / MiB:.0f} MiB"


async def test_pipelined_room_tables_that_are_never_read_fill_only_the_askers_bounded_queue():
    """One client pipelines 800 COMMAND/ROOMS on a hub of 2,000 rooms and reads nothing (before: +1.9 GB). The
    answers come in pages of 500 rooms, go to the asker's own queue, hold the asker back (the hub reads no more of
    its requests) and, as it makes no progress, it is cut; the hub's queues never pass the asker's bound."""
    queue_bytes = 4 * MiB
    async with Hub(port=0, queue_bytes=queue_bytes, stall_timeout=1.0) as hub:
        members = [await Client(f"m{k}", hub.url).connect() for k in range(8)]
        try:
            for k, member in enumerate(members):
                for i in range(250):
                    await member.join_room(f"room-{k}-{i:03d}-" + "x" * 40)
            asker = await connect(hub.url, max_size=None, max_queue=1)
            await asker.send('{"ID":"r","TYPE":"COMMAND/REGISTER","NAME":"asker"}')
            await asker.recv()
            asker.transport.pause_reading()
            for n in range(800):
                await asker.send(json.dumps({"ID": f"q{n}", "TYPE": "COMMAND/ROOMS"}))
            await until(lambda: hub.stats.stalled == 1, 30)
            assert hub.stats.peak_queued_bytes <= queue_bytes and hub.stats.queued_bytes == 0
            assert all(member.connected for member in members)
            asker.transport.abort()
        finally:
            for member in members:
                await member.close()
