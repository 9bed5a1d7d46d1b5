"""Summarise a bench_ab.sh run: each system's figures, median over the rounds, for A and B, and the ratio (> 1: B
better).

Run: ``python bench/ab_summary.py DIR A B`` (DIR holds ``A-1.json``, ``B-1.json``, ... from bench_ab.sh).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

#: (workload, figure, label, higher is better)
FIGURES = [
    ("throughput", "msg_s", "1->1 msg/s", True),
    ("throughput", "server_cpu_us", "1->1 hub CPU us/msg", False),
    ("throughput", "client_cpu_us", "1->1 clients CPU us/msg", False),
    ("fanout", "msg_s", "fan-out 1->8 msg/s", True),
    ("fanout", "server_cpu_us", "fan-out hub CPU us/delivery", False),
    ("fanout", "client_cpu_us", "fan-out clients CPU us/delivery", False),
    ("pingpong", "p50_ms", "RTT p50 ms", False),
    ("pingpong", "p99_ms", "RTT p99 ms", False),
    ("big_binary", "ms", "1M float32 binary ms", False),
]


def figures(directory: Path, rev: str) -> dict[str, list[float]]:
    """Every round's value of each figure of each system for ``rev`` (keys ``"system: figure"``)."""
    out: dict[str, list[float]] = {}
    for path in sorted(directory.glob(f"{rev}-*.json")):
        for system, result in json.loads(path.read_text())["results"].items():
            for workload, key, label, _ in FIGURES:
                value = result.get(workload, {}).get(key)
                if isinstance(value, int | float):
                    out.setdefault(f"{system}: {label}", []).append(float(value))
    return out


def main() -> None:
    directory, a, b = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    fa, fb = figures(directory, a), figures(directory, b)
    print(f"| figure | {a} (A), median of {len(next(iter(fa.values()), []))} | {b} (B) | B vs A |")
    print("|---|---|---|---|")
    higher = {label: up for _, _, label, up in FIGURES}
    for key in fa:
        if key not in fb:
            continue
        ma, mb = statistics.median(fa[key]), statistics.median(fb[key])
        ratio = mb / ma if higher[key.split(": ", 1)[1]] else ma / mb
        print(f"| {key} | {ma:,.3f} | {mb:,.3f} | {ratio:.3f}x |")


if __name__ == "__main__":
    main()
