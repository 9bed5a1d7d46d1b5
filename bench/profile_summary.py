"""The busiest functions of a py-spy raw profile (``py-spy record -f raw``, as ``BENCH_PROFILE`` writes them).

Run: ``python bench/profile_summary.py FILE [--top 12]``. Prints the share of the non-idle samples each function is
on the stack for (inclusive) and at the top of (self). Idle samples (the event loop waiting in ``select``/``epoll``,
a thread blocked in ``readline``/``recv``) are counted apart, so the shares are of the time the process worked;
samples with an import on the stack (the process starting) are left out.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

__all__ = ["IDLE_FRAMES", "summarise"]

#: Frames at the top of a stack that mean the process was waiting, not working.
IDLE_FRAMES = (
    "EpollSelector.select",
    "select (selectors.py",
    "poll (selectors.py",
    "readline",
    "_worker (concurrent",
    "wait (threading.py",
)


def summarise(path: Path) -> tuple[int, int, Counter, Counter]:
    """(busy samples, idle samples, inclusive counts, self counts) of a raw py-spy profile."""
    busy = idle = 0
    inclusive: Counter = Counter()
    own: Counter = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        if any("<frozen importlib" in frame for frame in frames):
            continue
        if any(frames[-1].startswith(idle_frame) for idle_frame in IDLE_FRAMES):
            idle += int(count)
            continue
        busy += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    return busy, idle, inclusive, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    for path in args.files:
        busy, idle, inclusive, own = summarise(path)
        print(f"== {path.name}: {busy} busy samples, {idle} idle")
        for title, counts in (("inclusive", inclusive), ("self", own)):
            print(f"  {title}:")
            for frame, count in counts.most_common(args.top):
                print(f"    {count / max(busy, 1):6.1%}  {frame}")


if __name__ == "__main__":
    main()
