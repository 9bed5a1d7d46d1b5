"""Hubs sharing their rooms through Redis (``swergio-nb hub --backplane``), every hub, client and Redis its own OS
process, with ``bench_procs.py``'s harness (its process helpers, message, receiver check and RTT roles).

Run: ``python bench/bench_backplane.py [--rounds 3] [--quick]`` (needs Debian's ``redis-server`` on PATH). Prints one
line per (round, case), then the medians over the rounds, and writes every round to
``bench/results/backplane-<date>.json`` with the load average before and after.

Cases, side by side:

* ``single``: one hub, no backplane (the baseline, as ``bench_procs.py``'s ``swergio_nb``);
* ``single+redis``: one hub with a backplane (the cost of publishing every message; nobody else reads it);
* ``cross``: two hubs on one Redis, the sender on one, the receiver on the other;
* ``bystander``: ``cross`` with a third hub that has no client: its CPU per message is what every hub pays for a
  message none of its connections receives (it reads every message from Redis all the same);
* ``aggregate-K`` (K = 1, 2, 3): K hubs on one Redis, each with one producer and one consumer; producer i sends N
  messages to room ``p<i>``, whose consumer is on hub i+1 (mod K): with K > 1 every message crosses hubs.

Workloads: ``throughput`` (the producers send as fast as ``send`` returns; msg/s = all arrivals / (last arrival - first
send), the clock ``time.perf_counter``, the same monotonic clock in every process) and ``rtt`` (pinger -> ``ping`` ->
echo -> ``pong`` -> pinger, one at a time, p50 / p99; ``bench_procs.py``'s roles). CPU per message: each hub's CPU
time over the workload (``/proc``) / messages received, and their sum; Redis's CPU (``INFO cpu``) / messages, and
the messages per ``PUBLISH`` (``INFO commandstats``: the hubs publish in batches). Every wait is bounded
(``bench_procs.IDLE``, ``FIRST``, ``WORKLOAD_TIMEOUT``); a message lost or duplicated is counted (``lost``, ``bad``),
never hidden.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_peers  # noqa: E402
import bench_procs  # noqa: E402
from bench_server_hub import _free_port  # noqa: E402

__all__ = ["CASES", "main", "run_pairs", "run_rtt"]

HERE = Path(__file__).resolve().parent
THIS = str(Path(__file__).resolve())
#: case -> (hubs, backplane?, pairs as (producer's hub, consumer's hub), rtt as (pinger's hub, echo's hub) or None)
CASES: dict[str, tuple[int, bool, list[tuple[int, int]], tuple[int, int] | None]] = {
    "single": (1, False, [(0, 0)], (0, 0)),
    "single+redis": (1, True, [(0, 0)], (0, 0)),
    "cross": (2, True, [(0, 1)], (0, 1)),
    "bystander": (3, True, [(0, 1)], None),
    "aggregate-1": (1, True, [(0, 0)], None),
    "aggregate-2": (2, True, [(0, 1), (1, 0)], None),
    "aggregate-3": (3, True, [(0, 1), (1, 2), (2, 0)], None),
}


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[str, int]]:
    """Debian's ``redis-server`` on a free loopback port, persisting nothing; yields (its URL, its pid).

    Raises:
        SystemExit: ``redis-server`` is not on PATH.
        TimeoutError: it did not answer within 10 s.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("bench_backplane: redis-server is not installed (Debian: apt-get install redis-server)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", tmp, "--save", "", "--appendonly", "no"]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError("redis-server did not answer PING within 10 s")
                time.sleep(0.02)
            yield f"redis://127.0.0.1:{port}/0", proc.pid
        finally:
            bench_procs._stop(proc)


def redis_counters(url: str) -> tuple[float, int]:
    """Redis's CPU seconds (user + system, ``INFO cpu``) and ``PUBLISH`` calls so far (``INFO commandstats``)."""
    import redis

    with redis.Redis.from_url(url) as client:
        cpu = client.info("cpu")
        calls = client.info("commandstats").get("cmdstat_publish", {}).get("calls", 0)
    return cpu["used_cpu_user"] + cpu["used_cpu_sys"], calls


@contextlib.contextmanager
def hubs(count: int, backplane: str | None) -> Iterator[list[tuple[str, int]]]:
    """``count`` hub processes (one token for all), on ``backplane`` if given; yields their (URL, pid)."""
    env = {**os.environ, "SWERGIO_TOKEN": secrets.token_urlsafe(16)}
    argv = [sys.executable, "-m", "swergio_nb", "hub", "--port", "0"]
    argv += ["--backplane", backplane] if backplane else []
    with contextlib.ExitStack() as stack:
        started = []
        for i in range(count):
            proc = bench_procs._spawn(f"hub{i}", argv, env=env)
            stack.callback(bench_procs._stop, proc)
            started.append((bench_procs.Lines(proc).expect("swergio hub listening on", 60), proc.pid))
        yield started


# -- the client processes ------------------------------------------------------------------------------------------


async def role(args: argparse.Namespace) -> None:
    """A producer or consumer of room ``args.room`` in this process (``bench_procs.async_role``'s, with a room)."""
    system = bench_peers.SwergioNb()
    name = f"{args.role}{os.getpid()}"
    if args.role == "consume":
        receiver = bench_procs.Receiver(args.n, False)
        end = await system.open(args.address, name, [args.room], receiver.hit)
        print("READY", flush=True)
        start = time.perf_counter()
        while receiver.count < args.n and time.perf_counter() - (receiver.latest or start) < receiver.idle_for():
            await asyncio.sleep(0.02)
        receiver.report()
    else:
        end = await system.open(args.address, name, [], None)
        msgs = [bench_procs.small(i, args.room) for i in range(args.n)]
        print("READY", flush=True)
        await bench_procs._stdin_line()  # GO
        t0 = time.perf_counter()
        for msg in msgs:
            await end.send(msg)
        print("RESULT", json.dumps({"t0": t0, "sent": time.perf_counter()}), flush=True)
        await bench_procs._stdin_line()  # STOP: close only when the consumers are done
    await end.close()


class Member(bench_procs.Component):
    """A client process of this bench: ``--role produce|consume --room ROOM`` against the hub at ``address``."""

    def __init__(self, role_: str, address: str, room: str, n: int) -> None:
        argv = [sys.executable, THIS, "--role", role_, "--room", room, "--address", address, "--n", str(n)]
        self.proc = bench_procs._spawn(f"backplane-{role_}", argv, stdin=subprocess.PIPE)
        self.lines = bench_procs.Lines(self.proc)


def _cpu(pids: list[int]) -> list[float]:
    return [bench_procs._cpu_seconds(pid) for pid in pids]


def run_pairs(
    addresses: list[str], pairs: list[tuple[int, int]], n: int, hub_pids: list[int], redis_url: str | None
) -> dict[str, Any]:
    """Producer i on hub ``pairs[i][0]`` sends ``n`` messages to room ``p<i>``, whose consumer is on hub
    ``pairs[i][1]``; all producers start together. Returns msg/s, lost, bad, CPU us per message (the hubs' sum,
    each hub's, Redis's) and messages per ``PUBLISH``."""
    with contextlib.ExitStack() as stack:

        def start(role_: str, hub: int, room: str) -> Member:
            member = Member(role_, addresses[hub], room, n)
            stack.callback(bench_procs._stop, member.proc)
            return member

        consumers = [start("consume", dst, f"p{i}") for i, (_, dst) in enumerate(pairs)]
        for consumer in consumers:
            consumer.lines.expect("READY", 60)
        producers = [start("produce", src, f"p{i}") for i, (src, _) in enumerate(pairs)]
        for producer in producers:
            producer.lines.expect("READY", 60)
        hub_cpu0 = _cpu(hub_pids)
        redis0 = redis_counters(redis_url) if redis_url else (0.0, 0)
        for producer in producers:
            producer.tell("GO")
        sent = [p.result(bench_procs.WORKLOAD_TIMEOUT) for p in producers]
        got = [c.result(bench_procs.WORKLOAD_TIMEOUT) for c in consumers]
        hub_cpu = [after - before for before, after in zip(hub_cpu0, _cpu(hub_pids), strict=True)]
        redis1 = redis_counters(redis_url) if redis_url else (0.0, 0)
        for producer in producers:
            producer.tell("STOP")
    received = sum(g["received"] for g in got)
    span = max(g["last"] for g in got) - min(s["t0"] for s in sent)
    per = 1e6 / received if received else float("nan")
    publishes = redis1[1] - redis0[1]
    return {
        "msg_s": received / span if received else 0.0,
        "received": received,
        "lost": n * len(pairs) - received,
        "bad": sum(g["bad"] for g in got),
        "hub_cpu_us": sum(hub_cpu) * per,
        "hub_cpu_us_each": [cpu * per for cpu in hub_cpu],
        "redis_cpu_us": (redis1[0] - redis0[0]) * per if redis_url else None,
        "msgs_per_publish": n * len(pairs) / publishes if publishes else None,
    }


def run_rtt(pinger: str, echo: str, n: int) -> dict[str, Any]:
    """Round trips, one at a time, with ``bench_procs.py``'s ping and echo roles on the given hubs."""
    with contextlib.ExitStack() as stack:
        echoer = bench_procs.Component("swergio_nb", "echo", echo, 0)
        stack.callback(bench_procs._stop, echoer.proc)
        echoer.lines.expect("READY", 60)
        ping = bench_procs.Component("swergio_nb", "ping", pinger, n)
        stack.callback(bench_procs._stop, ping.proc)
        ping.lines.expect("READY", 60)
        ping.tell("GO")
        out = ping.result(bench_procs.WORKLOAD_TIMEOUT)
        echoer.tell("STOP")
    return {key: out[key] for key in ("p50_ms", "p99_ms") if key in out}


def run_case(case: str, n: int, rtt_n: int) -> dict[str, Any]:
    """One case on fresh hubs (and a fresh Redis if it has a backplane)."""
    count, backplane, pairs, rtt = CASES[case]
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(redis_server())[0] if backplane else None
        started = stack.enter_context(hubs(count, url))
        addresses, pids = [a for a, _ in started], [p for _, p in started]
        out = run_pairs(addresses, pairs, n, pids, url)
        if rtt is not None:
            out.update(run_rtt(addresses[rtt[0]], addresses[rtt[1]], rtt_n))
    return out


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None


def table(rounds: dict[str, list[dict[str, Any]]]) -> str:
    """A Markdown table: one row per case, the medians over the rounds (``lost`` and ``bad``: totals)."""
    keys = {"msg/s": "msg_s", "hubs us/msg": "hub_cpu_us", "Redis us/msg": "redis_cpu_us"}
    keys["msgs/PUBLISH"] = "msgs_per_publish"
    keys.update({"RTT p50 ms": "p50_ms", "RTT p99 ms": "p99_ms"})
    lines = ["| case | " + " | ".join(keys) + " | lost+bad |", "|---" * (len(keys) + 2) + "|"]
    for case, runs in rounds.items():
        cells = [bench_procs._cell(_median(runs, key)) for key in keys.values()]
        lost = sum(run.get("lost", 0) + run.get("bad", 0) for run in runs)
        lines.append(f"| {case} | " + " | ".join(cells) + f" | {lost} |")
    lines.append("\neach hub's CPU per message (us, median over the rounds, hub 0 first):")
    for case, runs in rounds.items():
        each = [run["hub_cpu_us_each"] for run in runs if "hub_cpu_us_each" in run]
        if each:
            lines.append(f"  {case}: " + ", ".join(f"{statistics.median(hub):.2f}" for hub in zip(*each, strict=True)))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds, cases alternating in each (default 3)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated (default: %(default)s)")
    parser.add_argument("--count", type=int, default=20_000, help="messages per producer (default %(default)s)")
    parser.add_argument("--rtt-count", type=int, default=1_000, help="round trips (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="small counts, one round: a smoke run")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="directory for the JSON results")
    parser.add_argument("--role", choices=["produce", "consume"], help=argparse.SUPPRESS)
    parser.add_argument("--room", help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        asyncio.run(role(args))
        return
    if args.quick:
        args.rounds, args.count, args.rtt_count = 1, 2_000, 200
    cases = args.cases.split(",")
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; known: {', '.join(CASES)}")
    load_before = os.getloadavg()
    rounds: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
    for round_ in range(args.rounds):
        for case in cases:
            try:
                out = run_case(case, args.count, args.rtt_count)
            except Exception as exc:  # recorded, not fatal: the other cases still run
                out = {"error": f"{type(exc).__name__}: {exc}"}
            rounds[case].append(out)
            print(f"round {round_ + 1} {case:13} {json.dumps(out)}", flush=True)
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "count": args.count,
        "rtt_count": args.rtt_count,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "python": sys.version.split()[0],
    }
    print()
    print(table(rounds))
    print(f"\nload average before {load_before}, after {meta['loadavg_after']}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"backplane-{datetime.date.today()}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps({"meta": meta, "rounds": rounds}, indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
