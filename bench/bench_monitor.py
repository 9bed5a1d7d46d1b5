"""What watching costs: throughput through the hub with and without a TrafficWidget.

Run: ``python bench/bench_monitor.py [--messages N]``. One producer sends N small DATA/FORWARD messages into a room
with one consumer, all on one event loop over loopback (the notebook setting: in-kernel hub and clients), three
ways, alternating: nobody watching; a third client's TrafficWidget fed by the hub's ``LOG/TRAFFIC`` summaries
(``_traffic``, the default feed); and one fed a ``LOG/MESSAGES`` copy of every message (``_logging``). Prints
messages/s for each, the ratios to the unwatched run, what the widget counted and how many snapshots it pushed
(throttled to <= 10/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from swergio_nb import Client, Hub, Trigger
from swergio_nb.notebook.widgets import TrafficWidget


async def run(n: int, watch: str | None) -> dict:
    async with Hub(port=0) as hub:
        done = asyncio.Event()
        count = 0

        def consume(msg: dict) -> None:
            nonlocal count
            count += 1
            if count == n:
                done.set()

        consumer = Client("consumer", hub.url)
        consumer.add_handler(consume, Trigger("DATA/FORWARD", "input"))
        watcher = Client("watcher", hub.url) if watch else None
        widget = TrafficWidget() if watch else None
        async with consumer, Client("producer", hub.url) as producer:
            if watcher is not None:
                widget.attach(watcher, feed=watch)
                await watcher.connect()
                await widget.ready()
            start = time.perf_counter()
            for i in range(n):
                await producer.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": [[1.0, 2.0]], "N": i})
            await asyncio.wait_for(done.wait(), 120)
            elapsed = time.perf_counter() - start
            seen = 0
            if watcher is not None:
                for _ in range(2000):
                    if widget.stats.total >= n:
                        break
                    await asyncio.sleep(0.01)
                seen = widget.stats.total
                widget.detach()
                await watcher.close()
        return {
            "messages": n,
            "seconds": elapsed,
            "msg_per_s": n / elapsed,
            "widget_saw": seen,
            "widget_pushes": widget.pushes if widget else 0,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each kind; the best is kept")
    args = parser.parse_args()
    kinds = (None, "summary", "messages")
    best: dict[str | None, dict] = {}
    for _ in range(args.repeat):
        for watch in kinds:
            result = asyncio.run(run(args.messages, watch))
            if watch not in best or result["msg_per_s"] > best[watch]["msg_per_s"]:
                best[watch] = result
    plain = best[None]
    print(f"nobody watching:               {plain['msg_per_s']:9,.0f} msg/s")
    for watch, label in (("summary", "widget on LOG/TRAFFIC summaries"), ("messages", "widget on every LOG/MESSAGES")):
        r = best[watch]
        print(
            f"{label + ':':<31}{r['msg_per_s']:9,.0f} msg/s  ratio {r['msg_per_s'] / plain['msg_per_s']:.2f}  "
            f"(widget counted {r['widget_saw']:,}, {r['widget_pushes']} snapshot pushes in {r['seconds']:.2f} s)"
        )
    print(json.dumps({"unwatched": plain, "summary": best["summary"], "messages": best["messages"]}))


if __name__ == "__main__":
    main()
