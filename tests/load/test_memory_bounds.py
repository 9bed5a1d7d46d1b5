"""The hub's memory is bounded in bytes, whatever its peers do: a hub process, big frames, peers that never read.

Each case reproduces an attack that grew the hub without bound before its queues were bounded in bytes (hub RSS
42 MB -> 3 GB) and asserts the hub process's peak resident memory (``VmHWM``) stays within its byte bounds plus the
frames in flight. Nothing asserts on time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import connect

from swergio_nb import Client, Trigger

from ..helpers import until

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
def hub_process():
    proc = subprocess.Popen(
        [sys.executable, "-m", "swergio_nb.swarm.cli", "hub", "--port", "0", "--queue-bytes", str(QUEUE_BYTES),
         "--stall-timeout", "2"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("swergio hub listening on "), line
        yield line.split()[-1], proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _member_that_never_reads(url: str, name: str, command: dict):
    ws = await connect(url, max_size=None, max_queue=1)
    await ws.send(json.dumps({"ID": f"r-{name}", "TYPE": "COMMAND/REGISTER", "NAME": name}))
    await ws.send(json.dumps({"ID": f"c-{name}", **command}))
    await ws.recv()
    await ws.recv()
    ws.transport.pause_reading()
    return ws


async def test_a_member_that_never_reads_while_16_mib_frames_come_is_cut_and_the_hub_stays_bounded(hub_process):
    url, pid = hub_process
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


async def test_a_logging_watcher_that_never_reads_costs_the_hub_a_bounded_amount(hub_process):
    url, pid = hub_process
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
