"""Round trips of a swergio 0.0.2 client through the hub's swergio listener, against a WebSocket client's.

Run: ``python bench/bench_swergio_listener.py [--trips N] [--rounds R]``. A hub with a swergio listener and a
WebSocket component ``echo`` that answers every ``DATA/TEXT`` in ``ping`` into ``pong``, all on one event loop over
loopback. The sender is, alternately: the real ``swergio.Client`` (in a thread: its socket calls block) through the
listener as it is; the same with the listener's immediate ACK of each header switched off (``TCP_QUICKACK``, which
exists because swergio writes header and body in two ``send()`` calls with Nagle's algorithm on); and our WebSocket
``Client.request``. Each sends N small messages one after the other, waiting for each answer. Prints the median and
90th percentile round trip in ms per sender and round.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import swergio

from swergio_nb import Client, Hub, Trigger
from swergio_nb.transport import swergio_tcp


def swergio_trips(address: tuple[str, int], n: int) -> list[float]:
    """N round trips of swergio's own client (blocking; run in a thread)."""
    old = swergio.Client("old", *address)
    old.join_room("pong")
    old.client.settimeout(10)
    times = []
    for _ in range(n):
        mid = uuid.uuid4().hex
        start = time.perf_counter()
        old.send({"ID": mid, "ROOT_ID": mid, "TYPE": "DATA/TEXT", "TO_ROOM": "ping", "DATA": "x" * 100})
        while True:
            msg = old.receive()
            if msg is False:
                raise ConnectionError("the hub closed the connection")
            if msg.get("ROOT_ID") == mid and msg["TYPE"] == "DATA/TEXT":
                break
        times.append(time.perf_counter() - start)
    old.client.close()
    return times


async def run(kind: str, n: int) -> list[float]:
    swergio_tcp._QUICKACK = None if kind == "swergio, no quickack" else QUICKACK
    async with Hub(port=0, swergio_port=0) as hub:
        echo = Client("echo", hub.url)
        echo.add_handler(
            lambda msg: {"DATA": msg["DATA"]}, Trigger("DATA/TEXT", "ping"), reply_type="DATA/TEXT", reply_rooms="pong"
        )
        async with echo:
            if kind.startswith("swergio"):
                return await asyncio.to_thread(swergio_trips, hub.swergio_address, n)
            async with Client("new", hub.url) as new:
                times = []
                for _ in range(n):
                    start = time.perf_counter()
                    await new.request({"TYPE": "DATA/TEXT", "TO_ROOM": "ping", "DATA": "x" * 100}, reply_room="pong")
                    times.append(time.perf_counter() - start)
                return times


QUICKACK = swergio_tcp._QUICKACK


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trips", type=int, default=300, help="round trips per sender and round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds")
    args = parser.parse_args()
    kinds = ("swergio through the listener", "swergio, no quickack", "WebSocket Client.request")
    for r in range(args.rounds):
        for kind in kinds:
            times = sorted(asyncio.run(run(kind, args.trips)))
            median, p90 = statistics.median(times), times[int(0.9 * len(times))]
            print(f"round {r + 1}  {kind:30s} median {median * 1e3:7.2f} ms   p90 {p90 * 1e3:7.2f} ms")
    swergio_tcp._QUICKACK = QUICKACK


if __name__ == "__main__":
    main()
