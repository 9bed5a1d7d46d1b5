"""swergio_nb against the strongest simple peers, every hub and every client its own OS process.

Run: ``python bench/bench_procs.py [--rounds 3] [--systems ...] [--workloads ...] [--quick]`` (the peers:
``pip install -r bench/requirements.txt``; a peer whose package is missing is skipped with a line saying so).
Prints one line per (round, system, workload), then a table of the medians over the rounds, and writes every round
to ``bench/results/procs-<date>.json`` with the load average before, during (sampled every 5 s) and after.

Systems (the hub, and what its clients are):

* ``swergio_nb``: ``swergio-nb hub`` with every default on (token, routing, ``SENT_BY`` stamping, the logging room,
  flow control, frame/room/queue limits) and :class:`swergio_nb.Client` handlers;
* ``jupyter_server``: the same hub inside Jupyter Server (``jupyter server`` with the swergio extension, tornado
  transport), the same clients;
* ``min_ws``: the minimal rooms hub on websockets (:func:`min_hub`): orjson (msgpack for binary frames) to read
  ``TYPE``/``TO_ROOM``, forwarding with :func:`websockets.broadcast` as its documentation recommends for fan-out
  (no await per member, a member whose buffer is full is skipped rather than waited for); its clients encode with
  orjson / msgpack and decode arrays with ``np.frombuffer`` over the frame;
* ``pyzmq``: a ROUTER broker with ``zmq.asyncio`` DEALER clients (``bench_peers.py``);
* ``socketio``: python-socketio rooms on aiohttp, websocket transport (``bench_peers.py``);
* ``swergio002``: swergio 0.0.2's own server and blocking clients;
* ``swergio_listener``: swergio 0.0.2's blocking clients on ``swergio-nb hub --swergio-port``;
* ``swergio_nb_base``: ``swergio_nb`` as it is at the commit given with ``--baseline REV`` (exported with
  ``git archive`` and put first on the hub's and its components' ``PYTHONPATH``): an A/B of a change in one run,
  the rounds alternating.

Workloads (loopback; each gets a fresh hub; clients start, join, print ``READY``; the clock starts at ``GO``):

* ``throughput``: 1 producer process sends N small messages to ``input`` as fast as its ``send`` returns, 1 consumer
  process; msg/s = messages received / (last arrival - first send) (``time.perf_counter`` is the system's
  monotonic clock, the same in every process);
* ``fanout``: the same with 8 consumer processes; aggregate msg/s = all arrivals / (last arrival - first send);
* ``rtt``: round trips pinger process -> ``ping`` -> echo process -> ``pong`` -> pinger, one at a time; p50 / p99
  (a pinger stops after 60 s and reports the round trips it made);
* ``big_binary``: one array of 1,000,000 float32 one way, from the start of the send to the moment the receiver
  process has decoded it and compared every element bit for bit with the expected array (so the receiver reads
  every page of it); median of the repetitions. swergio 0.0.2 has no binary frames (n/a).

Every small message is ``{"ID", "TYPE": "DATA/FORWARD", "TO_ROOM", "SEQ": i, "DATA": [[i + 0.25, 2.0]]}``; a
receiver counts a message only if ``DATA`` is exactly that for its ``SEQ`` and the ``SEQ`` is new (a duplicate or a
wrong payload is counted as ``bad``). ``lost`` = expected - counted. Hub CPU per delivery = the hub process's CPU
time over the workload (``/proc``) / deliveries counted; producer and consumer CPU per message = that process's CPU
time while it sends (from ``GO``) or receives (from ``READY``) / messages (which process limits 1->1: the three
share 2 cores). Every wait is bounded: a receiver stops ``IDLE`` seconds
after its last arrival (60 s for the first), a workload gives up after ``WORKLOAD_TIMEOUT`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import importlib.util
import json
import os
import queue
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import orjson
from websockets.asyncio.client import connect
from websockets.asyncio.server import broadcast, serve
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_peers  # noqa: E402  (the peers' hubs and clients)
from bench_server_hub import _free_port, _wait_http, jupyter_server_argv  # noqa: E402

__all__ = ["SYSTEMS", "WORKLOADS", "main", "min_hub", "run_workload"]

HERE = Path(__file__).resolve().parent
THIS = str(Path(__file__).resolve())
IDLE = 3.0  #: seconds after the last arrival at which a receiver stops waiting (the rest counts as lost)
FIRST = 60.0  #: seconds a receiver waits for its first arrival
WORKLOAD_TIMEOUT = 180.0
FANOUT = 8
BIG = 1_000_000
WORKLOADS = ("throughput", "fanout", "rtt", "big_binary")


def small(seq: int, room: str = "input") -> dict[str, Any]:
    return {"ID": uuid.uuid4().hex, "TYPE": "DATA/FORWARD", "TO_ROOM": room, "SEQ": seq, "DATA": [[seq + 0.25, 2.0]]}


def big_array() -> np.ndarray:
    return np.random.default_rng(0).random(BIG, dtype=np.float32)


# -- the minimal hub and its clients -----------------------------------------------------------------------------


async def min_hub() -> None:
    """Rooms on bare websockets: orjson/msgpack only to read ``TYPE``/``TO_ROOM``, ``broadcast()`` to forward."""
    rooms: dict[str, set] = {}

    async def handle(ws) -> None:
        mine: set[str] = set()
        try:
            with contextlib.suppress(ConnectionClosed):
                async for frame in ws:
                    msg = orjson.loads(frame) if isinstance(frame, str) else msgpack.unpackb(frame)
                    if msg.get("TYPE") == "COMMAND/JOINROOM":
                        rooms.setdefault(msg["ROOM"], set()).add(ws)
                        mine.add(msg["ROOM"])
                        await ws.send(orjson.dumps({"TYPE": "COMMAND/JOINED", "ROOM": msg["ROOM"]}), text=True)
                        continue
                    members = rooms.get(msg.get("TO_ROOM"), ())
                    broadcast([m for m in members if m is not ws] if ws in members else members, frame)
        finally:
            for room in mine:
                rooms[room].discard(ws)

    async with serve(handle, "127.0.0.1", 0, max_size=None, compression=None) as server:
        print(f"min hub listening on ws://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.get_running_loop().create_future()


class MinEndpoint(bench_peers.RawEndpoint):
    async def send(self, msg: dict[str, Any]) -> None:
        array = msg.get("DATA")
        if isinstance(array, np.ndarray):
            meta = {"DTYPE": array.dtype.str, "SHAPE": array.shape}
            await self.ws.send(msgpack.packb({**msg, "DATA": memoryview(array).cast("B"), **meta}))
        else:
            await self.ws.send(orjson.dumps(msg), text=True)


def min_decode(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, str):
        return orjson.loads(frame)
    msg = msgpack.unpackb(frame)
    if "DTYPE" in msg:  # a read-only view over the bytes msgpack made
        msg["DATA"] = np.frombuffer(msg["DATA"], msg["DTYPE"]).reshape(msg["SHAPE"])
    return msg


class MinWs(bench_peers.RawWs):
    name = "min_ws"

    def server_argv(self) -> list[str]:
        return [sys.executable, THIS, "--serve", "min_ws"]

    async def _connect(self, address: str, rooms: list[str]):
        ws = await connect(address, max_size=None, compression=None)
        for room in rooms:
            await ws.send(orjson.dumps({"TYPE": "COMMAND/JOINROOM", "ROOM": room}), text=True)
            await ws.recv()  # COMMAND/JOINED
        return ws

    async def open(self, address, name, rooms, on_message, binary=False):
        end = MinEndpoint(await self._connect(address, rooms), binary)

        async def read() -> None:
            async for frame in end.ws:
                on_message(min_decode(frame))

        if on_message is not None:
            end.reader = asyncio.create_task(read())
        return end

    async def open_echo(self, address, name, source, target):
        end = MinEndpoint(await self._connect(address, [source]), False)

        async def echo() -> None:
            async for frame in end.ws:
                msg = min_decode(frame)
                await end.send({**msg, "ID": uuid.uuid4().hex, "TO_ROOM": target})

        end.reader = asyncio.create_task(echo())
        return end


# -- systems: how to start the hub, which clients -----------------------------------------------------------------


@dataclass(frozen=True)
class System:
    """A hub to start and the client kind its components use (``None``: swergio 0.0.2's blocking clients)."""

    name: str
    clients: Callable[[], bench_peers.AsyncSystem] | None
    needs: tuple[str, ...] = ()  #: importable modules without which the system is skipped
    binary: bool = True


SYSTEMS = {
    "swergio_nb": System("swergio_nb", bench_peers.SwergioNb),
    "jupyter_server": System("jupyter_server", bench_peers.SwergioNb, ("jupyter_server",)),
    "min_ws": System("min_ws", MinWs),
    "pyzmq": System("pyzmq", bench_peers.ZmqBroker, ("zmq",)),
    "socketio": System("socketio", bench_peers.SocketIo, ("socketio", "aiohttp")),
    "swergio002": System("swergio002", None, ("swergio",), binary=False),
    "swergio_listener": System("swergio_listener", None, ("swergio",), binary=False),
    "swergio_nb_base": System("swergio_nb_base", bench_peers.SwergioNb),
}

#: the ``swergio_nb_base`` checkout (a folder holding ``swergio_nb/``), set by ``--baseline``; children inherit it
BASELINE_ENV = "BENCH_BASELINE"


def export_baseline(rev: str, into: Path) -> None:
    """Export the package ``swergio_nb/`` of commit ``rev`` into ``into`` for ``swergio_nb_base``.

    Raises:
        subprocess.CalledProcessError: ``rev`` is not a commit of this repository.
    """
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", rev, "swergio_nb"], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)


def child_env(system: str) -> tuple[dict[str, str], str | None]:
    """The environment and working folder of a hub or component process of ``system``: for ``swergio_nb_base``
    the baseline checkout first on ``PYTHONPATH`` and as the folder (``python -m`` puts the folder first)."""
    env = dict(os.environ)
    if system != "swergio_nb_base":
        return env, None
    base = env[BASELINE_ENV]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [base, env.get("PYTHONPATH")]))
    return env, base


def missing(system: System) -> list[str]:
    if system.name == "swergio_nb_base" and BASELINE_ENV not in os.environ:
        return ["--baseline REV"]
    return [module for module in system.needs if importlib.util.find_spec(module) is None]


class Lines:
    """A child process's stdout lines, read by a thread so every wait can time out."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.queue = proc, queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.queue.put(line.rstrip("\n"))
        self.queue.put(None)

    def expect(self, prefix: str, timeout: float) -> str:
        """The rest of the next line that starts with ``prefix``; other lines are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no {prefix!r} line from {self.proc.args} in {timeout} s") from None
            if line is None:
                raise RuntimeError(f"{self.proc.args} exited ({self.proc.wait()}) before a {prefix!r} line")
            if line.startswith(prefix):
                return line[len(prefix) :].strip()


#: ``BENCH_PROFILE=DIR``: every hub and component runs under ``py-spy record`` (raw collapsed stacks in DIR, one file
#: per process); then the hub's CPU figures are py-spy's, not the hub's, and speed figures include the sampling.
PROFILE = os.environ.get("BENCH_PROFILE")
_profiled = iter(range(10**9))


def _spawn(label: str, argv: list[str], **popen: Any) -> subprocess.Popen:
    """``argv`` as a child process, under py-spy when ``BENCH_PROFILE`` is set."""
    if PROFILE:
        out = Path(PROFILE) / f"{label}-{next(_profiled)}.txt"
        argv = ["py-spy", "record", "--nonblocking", "-f", "raw", "-r", "250", "-o", str(out), "--", *argv]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, **popen)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT) if PROFILE else proc.terminate()  # py-spy writes its file on SIGINT
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def hub(system: System) -> Iterator[tuple[str, int]]:
    """Start the system's hub in its own process; yield (the address its clients use, its pid)."""
    env, cwd = child_env(system.name)
    with tempfile.TemporaryDirectory() as tmp:
        if system.name == "jupyter_server":
            port, token = _free_port(), secrets.token_hex(16)
            env.update(JUPYTER_RUNTIME_DIR=tmp, JUPYTER_CONFIG_DIR=tmp, JUPYTER_PLATFORM_DIRS="1")
            argv, address = jupyter_server_argv(port, token, tmp), f"ws://127.0.0.1:{port}/swergio/ws?token={token}"
        elif system.name in ("swergio_nb", "swergio_listener", "swergio_nb_base"):
            argv = [sys.executable, "-m", "swergio_nb", "hub", "--port", "0"]
            argv += ["--swergio-port", "0"] if system.name == "swergio_listener" else []
        elif system.name == "min_ws":
            argv = [sys.executable, THIS, "--serve", "min_ws"]
        else:
            argv = [sys.executable, bench_peers.__file__, "--serve", system.name]
        proc = _spawn(system.name, argv, env=env, cwd=cwd)
        try:
            if system.name == "jupyter_server":
                _wait_http(f"http://127.0.0.1:{port}/api/status", proc)
            else:
                lines = Lines(proc)
                line = ""
                while "listening on" not in line:
                    line = lines.expect("", 60)
                address = line.split("listening on", 1)[1].strip()
                if system.name == "swergio_listener":  # "... Client(name, '127.0.0.1', PORT)"
                    host, port = lines.expect("swergio 0.0.2 clients", 10).rsplit("(", 1)[1].rstrip(")").split(", ")[1:]
                    address = f"{host.strip(chr(39))}:{port}"
            yield address, proc.pid
        finally:
            _stop(proc)


# -- the client processes ------------------------------------------------------------------------------------------


class Receiver:
    """Checks and counts what a consumer receives: small messages by ``SEQ``, or the big array bit for bit."""

    def __init__(self, n: int, big: bool) -> None:
        self.n, self.big, self.count, self.bad = n, big, 0, 0
        self.seen = bytearray(n)
        self.first = self.last = self.latest = 0.0
        self.expected = big_array().view(np.uint32) if big else None

    def check(self, msg: dict[str, Any]) -> bool:
        if self.big:
            data = msg.get("DATA")
            return (
                isinstance(data, np.ndarray)
                and data.dtype == np.float32
                and data.shape == (BIG,)
                and np.array_equal(data.view(np.uint32), self.expected)
            )
        seq = msg.get("SEQ")
        if type(seq) is not int or not 0 <= seq < self.n or self.seen[seq] or msg.get("DATA") != [[seq + 0.25, 2.0]]:
            return False
        self.seen[seq] = 1
        return True

    def hit(self, msg: dict[str, Any]) -> None:
        self.latest = time.perf_counter()
        if self.check(msg):
            self.count += 1
            self.last = time.perf_counter()
            self.first = self.first or self.last
            if self.big:
                print(f"GOT {self.count} {self.last!r}", flush=True)
        else:
            self.bad += 1

    def idle_for(self) -> float:
        return IDLE if self.count else FIRST

    def report(self, cpu0: float = 0.0) -> None:
        """Print the result line; ``cpu0``: this process's CPU seconds when it became ready (``work_cpu_s`` is the
        CPU time since)."""
        cpu = _own_cpu()
        out = {"received": self.count, "bad": self.bad, "last": self.last, **cpu, "work_cpu_s": cpu["cpu_s"] - cpu0}
        print("RESULT", json.dumps(out))


def _sent(t0: float, cpu0: float) -> dict[str, float]:
    """A producer's result: its first send ``t0``, now, and its CPU time since ``cpu0`` (``work_cpu_s``)."""
    cpu = _own_cpu()
    return {"t0": t0, "sent": time.perf_counter(), **cpu, "work_cpu_s": cpu["cpu_s"] - cpu0}


def _own_cpu() -> dict[str, float]:
    times = os.times()
    return {"cpu_s": times.user + times.system}


async def _stdin_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def async_role(args: argparse.Namespace) -> None:
    """One component of an asyncio system (swergio_nb, min_ws, pyzmq, socketio) in this process."""
    system = SYSTEMS[args.system].clients()
    name = f"{args.role}{os.getpid()}"
    if args.role in ("consume", "receive_big"):
        receiver = Receiver(args.n, args.role == "receive_big")
        end = await system.open(args.address, name, ["input"], receiver.hit, binary=True)
        cpu0 = _own_cpu()["cpu_s"]
        print("READY", flush=True)
        start = time.perf_counter()
        while receiver.count < args.n and time.perf_counter() - (receiver.latest or start) < receiver.idle_for():
            await asyncio.sleep(0.02)
        receiver.report(cpu0)
    elif args.role == "echo":
        end = await system.open_echo(args.address, name, "ping", "pong")
        print("READY", flush=True)
        await _stdin_line()
    elif args.role == "produce":
        end = await system.open(args.address, name, [], None, binary=True)
        msgs = [small(i) for i in range(args.n)]
        print("READY", flush=True)
        await _stdin_line()  # GO
        cpu0 = _own_cpu()["cpu_s"]
        t0 = time.perf_counter()
        for msg in msgs:
            await end.send(msg)
        print("RESULT", json.dumps(_sent(t0, cpu0)), flush=True)
        await _stdin_line()  # STOP: close only when the receivers are done
    elif args.role == "send_big":
        end = await system.open(args.address, name, [], None, binary=True)
        array = big_array()
        print("READY", flush=True)
        for _ in range(args.n):
            if (await _stdin_line()).strip() != "NEXT":
                break
            msg = {"ID": uuid.uuid4().hex, "TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": array}
            t0 = time.perf_counter()
            await end.send(msg)
            print(f"SENT {t0!r}", flush=True)
        await _stdin_line()
    elif args.role == "ping":
        await ping(system, args, name)
        return
    await end.close()


async def ping(system: bench_peers.AsyncSystem, args: argparse.Namespace, name: str) -> None:
    loop = asyncio.get_running_loop()
    pending: list[asyncio.Future] = []

    def reply(msg: dict) -> None:
        if pending and not pending[0].done():
            pending[0].set_result(msg)

    end = await system.open(args.address, name, ["pong"], reply)
    print("READY", flush=True)
    await _stdin_line()
    samples = []
    deadline = time.perf_counter() + bench_peers.PINGPONG_BUDGET
    for i in range(bench_peers.WARMUP + args.n):
        if time.perf_counter() > deadline:
            break
        pending[:] = [loop.create_future()]
        t0 = time.perf_counter()
        await end.send(small(i % 1000, "ping"))
        await asyncio.wait_for(pending[0], IDLE * 10)
        if i >= bench_peers.WARMUP:
            samples.append(time.perf_counter() - t0)
    print("RESULT", json.dumps({**bench_peers.percentiles(samples, args.n), **_own_cpu()}), flush=True)
    await end.close()


def swergio_role(args: argparse.Namespace) -> None:
    """One component made of swergio 0.0.2's blocking client (its own server, or swergio_nb's listener)."""
    from swergio.client import Client

    host, port = args.address.rsplit(":", 1)
    rooms = {"consume": ["input"], "echo": ["ping"], "ping": ["pong"]}.get(args.role, [])
    client = Client(f"{args.role}{os.getpid()}", host, int(port), "utf-8", 10)
    for room in rooms:
        client.join_room(room)
    time.sleep(0.2)  # swergio 0.0.2 does not acknowledge a join: give the server's thread time to take it
    print("READY", flush=True)

    def next_in(room: str) -> dict | None:
        while True:
            msg = client.receive()  # False on timeout or close
            if msg is False:
                return None
            if msg.get("TO_ROOM") == room:
                return msg

    if args.role == "consume":
        receiver = Receiver(args.n, False)
        cpu0 = _own_cpu()["cpu_s"]
        client.client.settimeout(FIRST)
        while receiver.count < args.n and (msg := next_in("input")) is not None:
            receiver.hit(msg)
            client.client.settimeout(IDLE)
        receiver.report(cpu0)
    elif args.role == "produce":
        msgs = [small(i) for i in range(args.n)]
        sys.stdin.readline()
        cpu0 = _own_cpu()["cpu_s"]
        t0 = time.perf_counter()
        for msg in msgs:
            client.send(msg)
        print("RESULT", json.dumps(_sent(t0, cpu0)), flush=True)
        sys.stdin.readline()
    elif args.role == "echo":
        client.client.settimeout(1.0)
        stop = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
        while not stop.is_set():
            msg = next_in("ping")
            if msg is not None:
                client.send({**msg, "ID": uuid.uuid4().hex, "TO_ROOM": "pong"})
    elif args.role == "ping":
        sys.stdin.readline()
        client.client.settimeout(IDLE * 10)
        samples = []
        deadline = time.perf_counter() + bench_peers.PINGPONG_BUDGET  # swergio 0.0.2 takes 88 ms a round trip
        for i in range(bench_peers.WARMUP + args.n):
            if time.perf_counter() > deadline:
                break
            t0 = time.perf_counter()
            client.send(small(i % 1000, "ping"))
            if next_in("pong") is None:
                break
            if i >= bench_peers.WARMUP:
                samples.append(time.perf_counter() - t0)
        print("RESULT", json.dumps({**bench_peers.percentiles(samples, args.n), **_own_cpu()}), flush=True)
    with contextlib.suppress(OSError):
        client.close()


# -- the orchestrator ----------------------------------------------------------------------------------------------


class Component:
    """A client process of the bench: ``--role ROLE`` against the hub at ``address``."""

    def __init__(self, system: str, role: str, address: str, n: int) -> None:
        argv = [sys.executable, THIS, "--role", role, "--system", system, "--address", address, "--n", str(n)]
        env, cwd = child_env(system)
        self.proc = _spawn(f"{system}-{role}", argv, stdin=subprocess.PIPE, env=env, cwd=cwd)
        self.lines = Lines(self.proc)

    def tell(self, line: str) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()

    def result(self, timeout: float) -> dict[str, Any]:
        return json.loads(self.lines.expect("RESULT", timeout))


def _per(seconds: float | None, count: float) -> float | None:
    """Microseconds per item, or None."""
    return seconds / count * 1e6 if seconds and count else None


def run_workload(system: System, workload: str, n: int) -> dict[str, Any]:
    """One workload against a fresh hub; every component its own process. Returns the figures as a dict."""
    with hub(system) as (address, hub_pid), contextlib.ExitStack() as stack:

        def start(role: str, count: int) -> Component:
            component = Component(system.name, role, address, count)
            stack.callback(_stop, component.proc)
            return component

        if workload in ("throughput", "fanout"):
            consumers = [start("consume", n) for _ in range(1 if workload == "throughput" else FANOUT)]
            for consumer in consumers:
                consumer.lines.expect("READY", 60)
            producer = start("produce", n)
            producer.lines.expect("READY", 60)
            cpu0 = _cpu_seconds(hub_pid)
            producer.tell("GO")
            sent = producer.result(WORKLOAD_TIMEOUT)
            got = [c.result(WORKLOAD_TIMEOUT) for c in consumers]
            hub_cpu = _cpu_seconds(hub_pid) - cpu0
            producer.tell("STOP")
            received = sum(g["received"] for g in got)
            last = max(g["last"] for g in got)
            return {
                "msg_s": received / (last - sent["t0"]) if received else 0.0,
                "received": received,
                "lost": n * len(consumers) - received,
                "bad": sum(g["bad"] for g in got),
                "hub_cpu_us": hub_cpu / received * 1e6 if received else None,
                "producer_send_s": sent["sent"] - sent["t0"],
                # CPU time of the producer while it sent, of a consumer from READY to its result (the median one),
                # per message sent / received (None for swergio 0.0.2's clients, which do not measure it)
                "producer_cpu_us": _per(sent.get("work_cpu_s"), n),
                "consumer_cpu_us": _per(statistics.median(g.get("work_cpu_s", 0) for g in got), received / len(got)),
            }
        if workload == "rtt":
            echo = start("echo", 0)
            echo.lines.expect("READY", 60)
            pinger = start("ping", n)
            pinger.lines.expect("READY", 60)
            pinger.tell("GO")
            out = pinger.result(WORKLOAD_TIMEOUT)
            echo.tell("STOP")
            return out
        receiver = start("receive_big", n)
        receiver.lines.expect("READY", 60)
        sender = start("send_big", n)
        sender.lines.expect("READY", 60)
        times = []
        for _ in range(n):
            sender.tell("NEXT")
            t0 = float(sender.lines.expect("SENT", 60))
            t1 = float(receiver.lines.expect("GOT", 60).split()[1])
            times.append(t1 - t0)
        sender.tell("STOP")
        verdict = receiver.result(30)
        return {"ms": statistics.median(times) * 1e3, "reps": len(times), "bad": verdict["bad"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds, systems alternating in each (default 3)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated (default: %(default)s)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--count", type=int, help="messages (round trips, arrays) of every workload, for a profile")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="directory for the JSON results")
    parser.add_argument("--baseline", metavar="REV", help="commit that system swergio_nb_base runs (git archive)")
    parser.add_argument("--serve", choices=["min_ws"], help=argparse.SUPPRESS)
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--system", help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(min_hub())
        return
    if args.role:
        if SYSTEMS[args.system].clients is None:
            swergio_role(args)
        else:
            asyncio.run(async_role(args))
        return
    sizes = (
        {"throughput": 2_000, "fanout": 500, "rtt": 200, "big_binary": 2}
        if args.quick
        else {"throughput": 50_000, "fanout": 10_000, "rtt": 2_000, "big_binary": 5}
    )
    if args.count:
        sizes = dict.fromkeys(sizes, args.count)
    baseline = tempfile.TemporaryDirectory() if args.baseline else contextlib.nullcontext()
    with baseline as base:
        if base is not None:
            export_baseline(args.baseline, Path(base))
            os.environ[BASELINE_ENV] = base
        run(args, sizes)


class LoadSampler:
    """Samples the 1-minute load average every ``every`` seconds in a thread, until :meth:`stop`."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, Any]:
        """Stop sampling; returns ``min``, ``median``, ``max`` and every sample (``samples``)."""
        self._stop.set()
        self._thread.join()
        values = self.samples
        return {"min": min(values), "median": statistics.median(values), "max": max(values), "samples": values}


def run(args: argparse.Namespace, sizes: dict[str, int]) -> None:
    """The rounds of the systems and workloads that ``args`` names; prints the table and writes the JSON."""
    systems = []
    for name in args.systems.split(","):
        absent = missing(SYSTEMS[name])
        if absent:
            print(f"skipped {name}: {', '.join(absent)} not installed (pip install -r bench/requirements.txt)")
        else:
            systems.append(SYSTEMS[name])
    workloads = args.workloads.split(",")
    load_before = os.getloadavg()
    load = LoadSampler()
    rounds: dict[str, dict[str, list]] = {s.name: {w: [] for w in workloads} for s in systems}
    for round_ in range(args.rounds):
        for system in systems:  # alternating: each round runs every system once
            for workload in workloads:
                if workload == "big_binary" and not system.binary:
                    continue
                try:
                    out = run_workload(system, workload, sizes[workload])
                except Exception as exc:  # recorded, not fatal: the other systems still run
                    out = {"error": f"{type(exc).__name__}: {exc}"}
                rounds[system.name][workload].append(out)
                print(f"round {round_ + 1} {system.name:16} {workload:10} {json.dumps(out)}", flush=True)
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "sizes": sizes,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "loadavg_1min_during": load.stop(),
        "python": sys.version.split()[0],
        "baseline": args.baseline,
    }
    print()
    print(table(rounds))
    during = meta["loadavg_1min_during"]
    print(
        f"\nload average before {load_before}, after {meta['loadavg_after']}; 1-minute load during the run: "
        f"{during['min']:.2f}-{during['max']:.2f}, median {during['median']:.2f}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"procs-{datetime.date.today()}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps({"meta": meta, "rounds": rounds}, indent=2) + "\n")
    print(f"written to {path}")


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None


def summary(runs: dict[str, list]) -> dict[str, Any]:
    """The medians over the rounds, the total loss, and the 1->1 spread (max / min msg/s over the rounds)."""
    out: dict[str, Any] = {}
    for key, (workload, field) in {
        "1->1 msg/s": ("throughput", "msg_s"),
        "1->8 msg/s": ("fanout", "msg_s"),
        "hub us/delivery (1->8)": ("fanout", "hub_cpu_us"),
        "hub us/msg (1->1)": ("throughput", "hub_cpu_us"),
        "producer us/msg (1->1)": ("throughput", "producer_cpu_us"),
        "consumer us/msg (1->1)": ("throughput", "consumer_cpu_us"),
        "RTT p50 ms": ("rtt", "p50_ms"),
        "RTT p99 ms": ("rtt", "p99_ms"),
        "1M f32 binary ms": ("big_binary", "ms"),
    }.items():
        out[key] = _median(runs.get(workload, []), field)
    rates = [run["msg_s"] for run in runs.get("throughput", []) if run.get("msg_s")]
    out["1->1 spread"] = max(rates) / min(rates) if len(rates) > 1 else None
    counted = [run for workload in ("throughput", "fanout") for run in runs.get(workload, [])]
    out["lost"] = sum(run.get("lost", 0) + run.get("bad", 0) for run in counted)
    out["errors"] = sum("error" in run for workload in runs.values() for run in workload)
    return out


def _cell(value: float | int | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g}" if isinstance(value, float) and value < 100 else f"{value:,.0f}"


def table(rounds: dict[str, dict[str, list]]) -> str:
    """A Markdown table: one row per system, the medians over the rounds."""
    rows = {name: summary(runs) for name, runs in rounds.items()}
    if not rows:
        return "(no system ran)"
    columns = list(next(iter(rows.values())))
    lines = ["| system | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        cells = [_cell(value) for value in row.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
