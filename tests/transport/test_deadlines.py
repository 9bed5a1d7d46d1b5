"""Deadlines that hold when the hub stops reading: a hub process frozen with SIGSTOP, real sockets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from swergio_nb import Client

#: Enough to fill the loopback socket buffers of both ends, so a send really waits for a hub that reads nothing.
BIG = np.zeros(4 * 1024 * 1024, np.float32)  # 16 MiB


@pytest.fixture
def frozen_hub():
    """A hub process; ``freeze()`` stops it (SIGSTOP), ``thaw()`` lets it go on (SIGCONT)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "swergio_nb.swarm.cli", "hub", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("swergio hub listening on ws://127.0.0.1:"), line
        yield line.split()[-1], lambda: os.kill(proc.pid, signal.SIGSTOP), lambda: os.kill(proc.pid, signal.SIGCONT)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=10)


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
