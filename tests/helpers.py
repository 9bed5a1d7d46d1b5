"""Helpers shared by the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


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
