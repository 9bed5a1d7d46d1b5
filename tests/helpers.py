"""Helpers shared by the tests."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator


async def until(predicate: Callable[[], object], timeout: float = 5.0, poll: float = 0.005) -> None:
    """Wait until ``predicate()`` is true, polling every ``poll`` seconds; bounded by ``timeout`` seconds.

    Raises:
        AssertionError: the condition was not reached in time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not reached in {timeout} s")
        await asyncio.sleep(poll)


@contextlib.contextmanager
def hub_process(*args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``swergio-nb hub --port 0 ARGS`` as its own process: yields its URL (the first line it prints) and the
    process, whose further output the caller may read; SIGTERM and a wait of 10 s at the end (its exit code is
    ``proc.returncode`` then).

    Raises:
        AssertionError: the hub did not print its URL.
    """
    command = [sys.executable, "-m", "swergio_nb.swarm.cli", "hub", "--port", "0", *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("swergio hub listening on "), line
        yield line.split()[-1], proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
