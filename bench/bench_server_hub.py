"""The hub inside Jupyter Server (tornado transport) against ``swergio-nb hub`` (websockets), same core, same clients.

Run: ``python bench/bench_server_hub.py [--messages 20000] [--rounds 3]``. Each server runs in its own OS process
(``swergio-nb hub`` and ``jupyter server`` with the swergio extension, temporary config and runtime folders), the
clients in this one. Workloads, alternating between the two servers for ``--rounds`` rounds, medians printed:

* ``throughput``: 1 producer sends N small messages to a room as fast as it can, 1 consumer counts them;
  msg/s = N / (last arrival - first send);
* ``pingpong``: 1,000 round trips (after 50 warm-up ones) pinger -> ``ping`` -> echo -> ``pong``; p50 in us.

The small message is ``{"TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": [[1.0, 2.0]]}``.
Other work on the machine shifts both columns; compare the ratio within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

from swergio_nb import Client, Trigger

MESSAGE = {"TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": [[1.0, 2.0]]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextlib.contextmanager
def websockets_hub() -> Iterator[str]:
    """``swergio-nb hub`` in its own process; yields its URL with the token."""
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "SWERGIO_TOKEN": token}
    cmd = [sys.executable, "-m", "swergio_nb", "hub", "--port", str(port)]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_http(f"http://127.0.0.1:{port}/", process)
        yield f"ws://127.0.0.1:{port}/?token={token}"
    finally:
        process.terminate()
        process.wait(15)


def jupyter_server_argv(port: int, token: str, root: str) -> list[str]:
    """The command line of ``jupyter server`` on loopback ``port`` with ``token``, serving the folder ``root``."""
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}", "--ip=127.0.0.1"]
    cmd += [f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


@contextlib.contextmanager
def jupyter_server_hub() -> Iterator[str]:
    """``jupyter server`` with the swergio extension in its own process; yields its hub's URL with the token."""
    port, token = _free_port(), secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": tmp, "JUPYTER_CONFIG_DIR": tmp, "JUPYTER_PLATFORM_DIRS": "1"}
        cmd = jupyter_server_argv(port, token, tmp)
        process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_http(f"http://127.0.0.1:{port}/api/status", process)
            yield f"ws://127.0.0.1:{port}/swergio/ws?token={token}"
        finally:
            process.terminate()
            process.wait(15)


async def throughput(url: str, n: int) -> float:
    done = asyncio.Event()
    arrivals = [0]
    last = [0.0]

    def count(msg: dict) -> None:
        arrivals[0] += 1
        if arrivals[0] == n:
            last[0] = time.perf_counter()
            done.set()

    consumer = Client("consumer", url)
    consumer.add_handler(count, Trigger("DATA/FORWARD", "input"))
    async with consumer, Client("producer", url) as producer:
        await consumer.ready()
        start = time.perf_counter()
        for _ in range(n):
            await producer.send(dict(MESSAGE))
        await asyncio.wait_for(done.wait(), 120)
    return n / (last[0] - start)


async def pingpong(url: str, rounds: int = 1000, warmup: int = 50) -> float:
    pong = asyncio.Event()
    echo = Client("echo", url)
    echo.add_handler(
        lambda msg: {"DATA": msg["DATA"]}, Trigger("DATA/TEXT", "ping"), reply_type="DATA/TEXT", reply_rooms="pong"
    )
    pinger = Client("pinger", url)
    pinger.add_handler(lambda msg: pong.set(), Trigger("DATA/TEXT", "pong"))
    times: list[float] = []
    async with echo, pinger:
        await echo.ready()
        await pinger.ready()
        for i in range(warmup + rounds):
            pong.clear()
            start = time.perf_counter()
            await pinger.send({"TYPE": "DATA/TEXT", "TO_ROOM": "ping", "DATA": i})
            await asyncio.wait_for(pong.wait(), 10)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    servers = {"swergio-nb hub (websockets)": websockets_hub, "Jupyter Server (tornado)": jupyter_server_hub}
    figures: dict[str, dict[str, list[float]]] = {name: {"throughput": [], "pingpong": []} for name in servers}
    for _ in range(args.rounds):
        for name, serve in servers.items():
            with serve() as url:
                figures[name]["throughput"].append(asyncio.run(throughput(url, args.messages)))
                figures[name]["pingpong"].append(asyncio.run(pingpong(url)))
    print(f"load average before/after: {os.getloadavg()}")
    print(f"{'server':<30} {'throughput msg/s':>18} {'pingpong p50 us':>16}")
    base = None
    for name, values in figures.items():
        tp, pp = statistics.median(values["throughput"]), statistics.median(values["pingpong"])
        base = base or (tp, pp)
        print(f"{name:<30} {tp:>10,.0f} ({tp / base[0]:.2f}x) {pp:>8.0f} ({pp / base[1]:.2f}x)")


if __name__ == "__main__":
    main()
