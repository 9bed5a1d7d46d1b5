"""swergio_nb's hub against its peers, in one run: throughput, fan-out, round-trip latency, one big payload.

Run: ``python bench/bench_peers.py [--quick] [--systems swergio_nb,raw_ws,swergio002]`` (install the peers first:
``pip install -r bench/requirements.txt``). Prints a table (rows: systems, columns: workloads, each cell the absolute
figure and its ratio to swergio_nb) and writes the figures as JSON to ``bench/results/peers-<date>.json``.

Systems:

* ``swergio_nb``: :class:`swergio_nb.Hub` (``swergio-nb hub``, every default on: token, routing, ``SENT_BY``
  stamping, the logging room, frame and room limits, bounded send queues) and :class:`swergio_nb.Client` handlers;
* ``raw_ws``: a minimal rooms hub on bare websockets written below (:func:`raw_hub`): it parses a frame only to read
  ``TYPE``/``TO_ROOM``, forwards the original bytes to the other members, awaits each send, has no limits;
* ``swergio002``: swergio 0.0.2 (raw TCP, JSON with a 10-byte length header, one thread per client in the server,
  blocking clients; here each client runs in a thread of the bench process);
* ``socketio``: python-socketio rooms on aiohttp (:func:`socketio_server`), websocket transport only;
* ``pyzmq``: a ROUTER broker written below (:func:`zmq_broker`) with DEALER clients (``zmq.asyncio``), the same
  join/forward protocol as ``raw_ws``, default high-water marks.

Every server runs in its own OS process (a fresh one per workload), so the clients do not share its CPU: on a 2-core
machine the server takes one core, every client of the workload the other. Workloads (loopback only; every wait is
bounded, a receiver gives up after ``IDLE`` seconds without progress and the shortfall is counted as losses):

* ``throughput``: 1 producer sends N small messages to room ``input`` as fast as it can, 1 consumer counts them;
  msg/s = received / (last arrival - first send);
* ``fanout``: the same with 8 consumers in the room; aggregate msg/s delivered = all arrivals / elapsed;
* ``pingpong``: 2,000 round trips (after 50 warm-up ones) pinger -> ``ping`` -> echo -> ``pong`` -> pinger; p50/p99;
* ``big_json`` / ``big_binary``: one 1,000,000-float32 payload one way, as a JSON list of floats and as binary
  (swergio_nb: a numpy array, sent as msgpack; raw_ws: msgpack with the raw bytes; swergio 0.0.2 has no binary
  frames); time from the start of the send to the decoded message in the receiver, median of the repetitions.

The small message is ``{"ID": uuid, "TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": [[1.0, 2.0]]}`` (prebuilt,
so the clients only encode it).
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import contextlib
import datetime
import importlib.util
import itertools
import json
import math
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import orjson
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

IDLE = 3.0  #: seconds without a new arrival after which a receiver stops waiting (the rest counts as lost)
PINGPONG_BUDGET = 60.0  #: seconds a ping-pong run may take; a slower system reports the round trips it made
FANOUT = 8
BIG = 1_000_000
WARMUP = 50
HERE = Path(__file__).resolve().parent


def small(room: str = "input") -> dict[str, Any]:
    return {"ID": uuid.uuid4().hex, "TYPE": "DATA/FORWARD", "TO_ROOM": room, "DATA": [[1.0, 2.0]]}


def big_array() -> np.ndarray:
    return np.random.default_rng(0).random(BIG, dtype=np.float32)


# -- servers, each in its own process ----------------------------------------------------------------------------


class ServerProcess:
    """A server in a child process; its first stdout line ``... listening on ADDRESS`` gives the address."""

    def __init__(self, argv: list[str], timeout: float = 20.0) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"server {argv} did not start: {line!r}")
        self.address = line.split("listening on", 1)[1].strip()

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process (all its threads) has used so far, from /proc."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def raw_hub() -> None:
    """The minimal rooms hub on bare websockets: join rooms, forward the original frame to the other members.

    It parses each frame with orjson (msgpack for binary) only to read ``TYPE``/``TO_ROOM``, and awaits each send,
    so a slow member pauses the sender's reads (backpressure for free, and head-of-line blocking for the room)."""
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
                        await ws.send(json.dumps({"TYPE": "COMMAND/JOINED", "ROOM": msg["ROOM"]}))
                        continue
                    for member in list(rooms.get(msg.get("TO_ROOM"), ())):
                        if member is not ws:
                            with contextlib.suppress(ConnectionClosed):
                                await member.send(frame)
        finally:
            for room in mine:
                rooms[room].discard(ws)

    async with serve(handle, "127.0.0.1", 0, max_size=None, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"raw hub listening on ws://127.0.0.1:{port}", flush=True)
        await asyncio.get_running_loop().create_future()


def swergio002_server() -> None:
    """swergio 0.0.2's Server; its per-message prints go to /dev/null (stdout is redirected after the address)."""
    from swergio.server import Server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Server("127.0.0.1", port, "utf-8", 10)
    server.server.listen()
    print(f"swergio 0.0.2 listening on 127.0.0.1:{port}", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    server.start()


# -- common interface --------------------------------------------------------------------------------------------


class Arrivals:
    """Counts arrivals (from any thread) and remembers the time of the last one."""

    def __init__(self) -> None:
        self.count = 0
        self.last = 0.0

    def hit(self, _msg: Any = None) -> None:
        self.count += 1
        self.last = time.perf_counter()

    async def wait(self, target: int, idle: float = IDLE) -> None:
        seen, since = -1, time.perf_counter()
        while self.count < target:
            if self.count != seen:
                seen, since = self.count, time.perf_counter()
            elif time.perf_counter() - since > idle:
                return
            await asyncio.sleep(0.005)


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def rate(received: int, expected: int, t0: float, last: float) -> dict[str, Any]:
    elapsed = max(last - t0, 1e-9)
    return {"msg_s": received / elapsed if received else 0.0, "received": received, "lost": expected - received}


def percentiles(samples: list[float], wanted: int) -> dict[str, Any]:
    if not samples:
        return {"p50_ms": None, "p99_ms": None, "round_trips": 0, "wanted": wanted}
    samples = sorted(samples)
    pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1e3  # noqa: E731
    return {"p50_ms": pick(0.50), "p99_ms": pick(0.99), "round_trips": len(samples), "wanted": wanted}


class System(abc.ABC):
    """A system under test: a server command and one coroutine per workload (each gets a fresh server)."""

    name = ""

    @abc.abstractmethod
    def server_argv(self) -> list[str]: ...

    @abc.abstractmethod
    async def throughput(self, address: str, n: int) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def fanout(self, address: str, n: int) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def pingpong(self, address: str, n: int) -> dict[str, Any]: ...

    @abc.abstractmethod
    async def big(self, address: str, reps: int, binary: bool) -> dict[str, Any]: ...


class Endpoint(abc.ABC):
    """One connected component of an asyncio system: joins rooms, calls ``on_message`` for what arrives."""

    @abc.abstractmethod
    async def send(self, msg: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @property
    def alive(self) -> bool:
        """False once the server closed the connection (e.g. swergio_nb cutting a slow consumer off)."""
        return True


class AsyncSystem(System):
    """Workloads written once over :class:`Endpoint`; subclasses only open endpoints."""

    @abc.abstractmethod
    async def open(
        self, address: str, name: str, rooms: list[str], on_message: Callable[[dict], Any] | None, binary: bool = False
    ) -> Endpoint: ...

    @abc.abstractmethod
    async def open_echo(self, address: str, name: str, source: str, target: str) -> Endpoint: ...

    async def _one_to_many(self, address: str, n: int, consumers: int) -> dict[str, Any]:
        arrivals = Arrivals()
        ends = [await self.open(address, f"cons{i}", ["input"], arrivals.hit) for i in range(consumers)]
        producer = await self.open(address, "prod", [], None)
        msgs = [small() for _ in range(n)]
        try:
            t0 = time.perf_counter()
            for msg in msgs:
                await producer.send(msg)
            await arrivals.wait(n * consumers)
            cut = sum(not end.alive for end in ends)
            return {**rate(arrivals.count, n * consumers, t0, arrivals.last), "consumers_cut_off": cut}
        finally:
            for end in [producer, *ends]:
                await end.close()

    async def throughput(self, address: str, n: int) -> dict[str, Any]:
        return await self._one_to_many(address, n, 1)

    async def fanout(self, address: str, n: int) -> dict[str, Any]:
        return await self._one_to_many(address, n, FANOUT)

    async def pingpong(self, address: str, n: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        pending: list[asyncio.Future] = []

        def reply(msg: dict) -> None:
            if pending and not pending[0].done():
                pending[0].set_result(msg)

        echo = await self.open_echo(address, "echo", "ping", "pong")
        pinger = await self.open(address, "pinger", ["pong"], reply)
        samples: list[float] = []
        deadline = time.perf_counter() + PINGPONG_BUDGET
        try:
            for i in range(WARMUP + n):
                if time.perf_counter() > deadline:
                    break
                msg = small("ping")
                pending[:] = [loop.create_future()]
                t0 = time.perf_counter()
                await pinger.send(msg)
                await asyncio.wait_for(pending[0], IDLE)
                if i >= WARMUP:
                    samples.append(time.perf_counter() - t0)
        finally:
            await pinger.close()
            await echo.close()
        return percentiles(samples, n)

    async def big(self, address: str, reps: int, binary: bool) -> dict[str, Any]:
        array = big_array()
        data = array if binary else array.tolist()
        arrivals = Arrivals()
        sizes: list[int] = []

        def got(msg: dict) -> None:
            sizes.append(len(msg["DATA"]))
            arrivals.hit()

        receiver = await self.open(address, "recv", ["input"], got, binary)
        sender = await self.open(address, "send", [], None, binary)
        times: list[float] = []
        try:
            for i in range(reps):
                msg = {"ID": uuid.uuid4().hex, "TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": data}
                t0 = time.perf_counter()
                await sender.send(msg)
                await arrivals.wait(i + 1, idle=30.0)
                if arrivals.count <= i:
                    break
                times.append(arrivals.last - t0)
        finally:
            await sender.close()
            await receiver.close()
        ok = all(size == BIG for size in sizes)
        return {"ms": statistics.median(times) * 1e3 if times and ok else None, "reps": len(times), "intact": ok}


# -- (1) swergio_nb ----------------------------------------------------------------------------------------------


class NbEndpoint(Endpoint):
    def __init__(self, client) -> None:
        self.client = client

    async def send(self, msg: dict[str, Any]) -> None:
        await self.client.send(msg)

    async def close(self) -> None:
        await self.client.close()

    @property
    def alive(self) -> bool:
        return self.client.connected


class SwergioNb(AsyncSystem):
    name = "swergio_nb"

    def server_argv(self) -> list[str]:
        # `swergio-nb hub` of the swergio_nb on PYTHONPATH; its CLI was swergio_nb.cli before the layered layout, so
        # bench_ab.sh can run this harness against a commit from before it
        cli = "swergio_nb.swarm.cli" if importlib.util.find_spec("swergio_nb.swarm") else "swergio_nb.cli"
        return [sys.executable, "-m", cli, "hub", "--port", "0"]

    async def open(self, address, name, rooms, on_message, binary=False) -> Endpoint:
        from swergio_nb import Client, Trigger

        client = Client(name, address, reconnect=False)
        if rooms and on_message is not None:
            client.add_handler(on_message, Trigger("DATA/FORWARD", rooms))
        await client.connect()
        await client.ready()
        return NbEndpoint(client)

    async def open_echo(self, address, name, source, target) -> Endpoint:
        from swergio_nb import Client, Trigger

        client = Client(name, address, reconnect=False)
        client.add_handler(
            lambda msg: {"DATA": msg["DATA"]},
            Trigger("DATA/FORWARD", source),
            reply_type="DATA/FORWARD",
            reply_rooms=target,
        )
        await client.connect()
        await client.ready()
        return NbEndpoint(client)


# -- (3) raw websockets rooms hub --------------------------------------------------------------------------------


class RawEndpoint(Endpoint):
    def __init__(self, ws, binary: bool) -> None:
        self.ws, self.binary, self.reader = ws, binary, None

    async def send(self, msg: dict[str, Any]) -> None:
        if self.binary and isinstance(msg.get("DATA"), np.ndarray):
            array = msg["DATA"]
            frame = msgpack.packb({**msg, "DATA": array.tobytes(), "DTYPE": array.dtype.str, "SHAPE": array.shape})
            await self.ws.send(frame)
        else:
            await self.ws.send(json.dumps(msg))

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)


def _raw_decode(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, str):
        return json.loads(frame)
    msg = msgpack.unpackb(frame)
    if "DTYPE" in msg:
        msg["DATA"] = np.frombuffer(msg["DATA"], msg["DTYPE"]).reshape(msg["SHAPE"])
    return msg


class RawWs(AsyncSystem):
    name = "raw_ws"

    def server_argv(self) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "--serve", "raw_ws"]

    async def _connect(self, address: str, rooms: list[str]):
        ws = await connect(address, max_size=None, compression=None)
        for room in rooms:
            await ws.send(json.dumps({"TYPE": "COMMAND/JOINROOM", "ROOM": room}))
            await ws.recv()  # COMMAND/JOINED
        return ws

    async def open(self, address, name, rooms, on_message, binary=False) -> Endpoint:
        end = RawEndpoint(await self._connect(address, rooms), binary)

        async def read() -> None:
            async for frame in end.ws:
                on_message(_raw_decode(frame))

        if on_message is not None:
            end.reader = asyncio.create_task(read())
        return end

    async def open_echo(self, address, name, source, target) -> Endpoint:
        end = RawEndpoint(await self._connect(address, [source]), False)

        async def echo() -> None:
            async for frame in end.ws:
                msg = _raw_decode(frame)
                msg.pop("SENT_BY", None)  # swergio_nb's hub stamps it; an echo sends its own message
                await end.send({**msg, "ID": uuid.uuid4().hex, "TO_ROOM": target})

        end.reader = asyncio.create_task(echo())
        return end


class NbHubRawClients(RawWs):
    """swergio_nb's hub (every default on) driven by the same minimal clients as ``raw_ws``: the hubs side by side.

    The clients only add what the protocol requires: ``COMMAND/REGISTER`` with a unique name first, and an ``ID`` on
    commands (the token is in the hub's URL)."""

    name = "swergio_nb_hub"
    _names = itertools.count()

    def server_argv(self) -> list[str]:
        return SwergioNb().server_argv()

    async def _connect(self, address: str, rooms: list[str]):
        ws = await connect(address, max_size=None, compression=None)
        commands = [{"TYPE": "COMMAND/REGISTER", "NAME": f"raw{next(self._names)}"}]
        commands += [{"TYPE": "COMMAND/JOINROOM", "ROOM": room} for room in rooms]
        for command in commands:
            await ws.send(json.dumps({"ID": uuid.uuid4().hex, **command}))
            ack = json.loads(await ws.recv())
            if ack["TYPE"] != "COMMAND/ACK":
                raise RuntimeError(f"hub refused {command}: {ack}")
        return ws


# -- (2) swergio 0.0.2 -------------------------------------------------------------------------------------------


class Swergio002(System):
    """swergio 0.0.2's blocking clients, one thread each; the asyncio methods wrap thread workloads."""

    name = "swergio002"

    def server_argv(self) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "--serve", "swergio002"]

    @staticmethod
    def client(address: str, name: str, rooms: list[str]):
        from swergio.client import Client

        host, port = address.rsplit(":", 1)
        client = Client(name, host, int(port), "utf-8", 10)
        for room in rooms:
            client.join_room(room)
        return client

    @staticmethod
    def consume(client, room: str, until: int, arrivals: Arrivals, idle: float = IDLE, check=None) -> None:
        """Receive until ``until`` messages of ``room`` arrived or ``idle`` seconds pass without any."""
        client.client.settimeout(idle)
        got = 0
        while got < until:
            msg = client.receive()  # False on timeout or close
            if msg is False:
                return
            if msg.get("TO_ROOM") == room:
                if check is not None:
                    check(msg)
                got += 1
                arrivals.hit()

    @staticmethod
    def close(*clients) -> None:
        for client in clients:
            with contextlib.suppress(OSError):
                client.close()

    def _one_to_many(self, address: str, n: int, consumers: int) -> dict[str, Any]:
        arrivals = Arrivals()
        ends = [self.client(address, f"cons{i}", ["input"]) for i in range(consumers)]
        producer = self.client(address, "prod", [])
        time.sleep(0.3)  # the server handles joins in its per-client threads; a send to a room not yet made fails
        threads = [threading.Thread(target=self.consume, args=(c, "input", n, arrivals)) for c in ends]
        for thread in threads:
            thread.start()
        msgs = [small() for _ in range(n)]
        error, t0 = None, time.perf_counter()
        for msg in msgs:
            try:
                producer.send(msg)
            except OSError as exc:  # the server's thread for this client died (see README)
                error = f"producer: {type(exc).__name__}: {exc}"
                break
        for thread in threads:
            thread.join(120)
        self.close(producer, *ends)
        result = rate(arrivals.count, n * consumers, t0, arrivals.last)
        return result if error is None else {**result, "error": error}

    async def throughput(self, address: str, n: int) -> dict[str, Any]:
        return await asyncio.to_thread(self._one_to_many, address, n, 1)

    async def fanout(self, address: str, n: int) -> dict[str, Any]:
        return await asyncio.to_thread(self._one_to_many, address, n, FANOUT)

    def _pingpong(self, address: str, n: int) -> dict[str, Any]:
        echo = self.client(address, "echo", ["ping"])
        pinger = self.client(address, "pinger", ["pong"])
        time.sleep(0.3)

        def serve_echo() -> None:
            echo.client.settimeout(IDLE)
            while (msg := echo.receive()) is not False:
                if msg.get("TO_ROOM") == "ping":
                    echo.send({**msg, "ID": uuid.uuid4().hex, "TO_ROOM": "pong"})

        thread = threading.Thread(target=serve_echo, daemon=True)
        thread.start()
        pinger.client.settimeout(IDLE)
        samples: list[float] = []
        deadline = time.perf_counter() + PINGPONG_BUDGET
        for i in range(WARMUP + n):
            if time.perf_counter() > deadline:
                break
            msg = small("ping")
            t0 = time.perf_counter()
            pinger.send(msg)
            answer = pinger.receive()
            while answer is not False and answer.get("TO_ROOM") != "pong":  # skip everything but the pong
                answer = pinger.receive()
            if answer is False:
                break
            if i >= WARMUP:
                samples.append(time.perf_counter() - t0)
        self.close(pinger, echo)
        thread.join(IDLE + 1)
        return percentiles(samples, n)

    async def pingpong(self, address: str, n: int) -> dict[str, Any]:
        return await asyncio.to_thread(self._pingpong, address, n)

    def _big(self, address: str, reps: int) -> dict[str, Any]:
        data = big_array().tolist()
        receiver = self.client(address, "recv", ["input"])
        sender = self.client(address, "send", [])
        time.sleep(0.3)
        arrivals, sizes, times = Arrivals(), [], []
        check = lambda msg: sizes.append(len(msg["DATA"]))  # noqa: E731
        for i in range(reps):
            thread = threading.Thread(target=self.consume, args=(receiver, "input", 1, arrivals, 30.0, check))
            thread.start()
            t0 = time.perf_counter()
            sender.send({"ID": uuid.uuid4().hex, "TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": data})
            thread.join(60)
            if arrivals.count <= i:
                break
            times.append(arrivals.last - t0)
        self.close(sender, receiver)
        ok = all(size == BIG for size in sizes)
        return {"ms": statistics.median(times) * 1e3 if times and ok else None, "reps": len(times), "intact": ok}

    async def big(self, address: str, reps: int, binary: bool) -> dict[str, Any]:
        if binary:
            return {"ms": None, "note": "no binary frames in swergio 0.0.2"}
        return await asyncio.to_thread(self._big, address, reps)


# -- (5) pyzmq ROUTER broker -------------------------------------------------------------------------------------


def zmq_broker() -> None:
    """A ROUTER broker: DEALER clients join rooms; any other frame goes unchanged to the room's other members.

    Default high-water marks (1,000 messages per peer): a ROUTER drops what it cannot queue, counted as losses."""
    import zmq

    sock = zmq.Context().socket(zmq.ROUTER)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print(f"zmq broker listening on tcp://127.0.0.1:{port}", flush=True)
    rooms: dict[str, set[bytes]] = {}
    while True:
        peer, frame = sock.recv_multipart(copy=False)
        peer, data = peer.bytes, frame.buffer
        msg = json.loads(bytes(data)) if data[:1] == b"{" else msgpack.unpackb(data)
        if msg.get("TYPE") == "COMMAND/JOINROOM":
            rooms.setdefault(msg["ROOM"], set()).add(peer)
            sock.send_multipart([peer, json.dumps({"TYPE": "COMMAND/JOINED", "ROOM": msg["ROOM"]}).encode()])
            continue
        for member in rooms.get(msg.get("TO_ROOM"), ()):
            if member != peer:
                sock.send_multipart([member, frame], copy=False)


class ZmqEndpoint(RawEndpoint):
    async def send(self, msg: dict[str, Any]) -> None:
        if self.binary and isinstance(msg.get("DATA"), np.ndarray):
            array = msg["DATA"]
            await self.ws.send(
                msgpack.packb({**msg, "DATA": array.tobytes(), "DTYPE": array.dtype.str, "SHAPE": array.shape})
            )
        else:
            await self.ws.send(json.dumps(msg).encode())

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        self.ws.close(linger=0)


def _zmq_decode(data: bytes) -> dict[str, Any]:
    return _raw_decode(data.decode() if data[:1] == b"{" else data)


class ZmqBroker(AsyncSystem):
    name = "pyzmq"

    def server_argv(self) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "--serve", "pyzmq"]

    async def _connect(self, address: str, rooms: list[str]):
        import zmq
        import zmq.asyncio

        sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
        sock.connect(address)
        for room in rooms:
            await sock.send(json.dumps({"TYPE": "COMMAND/JOINROOM", "ROOM": room}).encode())
            await asyncio.wait_for(sock.recv(), IDLE)  # COMMAND/JOINED
        return sock

    async def open(self, address, name, rooms, on_message, binary=False) -> Endpoint:
        end = ZmqEndpoint(await self._connect(address, rooms), binary)

        async def read() -> None:
            while True:
                on_message(_zmq_decode(await end.ws.recv()))

        if on_message is not None:
            end.reader = asyncio.create_task(read())
        return end

    async def open_echo(self, address, name, source, target) -> Endpoint:
        end = ZmqEndpoint(await self._connect(address, [source]), False)

        async def echo() -> None:
            while True:
                msg = _zmq_decode(await end.ws.recv())
                await end.send({**msg, "ID": uuid.uuid4().hex, "TO_ROOM": target})

        end.reader = asyncio.create_task(echo())
        return end


# -- (4) python-socketio rooms (aiohttp) --------------------------------------------------------------------------


def socketio_server() -> None:
    """A python-socketio server on aiohttp: ``join`` enters a room (acknowledged); ``msg`` is emitted to the
    sender's room but the sender. Socket.IO decodes and re-encodes every message (bytes travel as attachments)."""
    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(async_mode="aiohttp", max_http_buffer_size=256 * 2**20)
    app = web.Application()
    sio.attach(app)

    @sio.on("join")
    async def join(sid, room):
        await sio.enter_room(sid, room)
        return "ok"

    @sio.on("msg")
    async def forward(sid, msg):
        await sio.emit("msg", msg, room=msg.get("TO_ROOM"), skip_sid=sid)

    async def start() -> None:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        print(f"socketio listening on http://127.0.0.1:{port}", flush=True)
        await asyncio.get_running_loop().create_future()

    asyncio.run(start())


class SioEndpoint(Endpoint):
    def __init__(self, sio, binary: bool) -> None:
        self.sio, self.binary = sio, binary

    async def send(self, msg: dict[str, Any]) -> None:
        if self.binary and isinstance(msg.get("DATA"), np.ndarray):
            array = msg["DATA"]
            msg = {**msg, "DATA": array.tobytes(), "DTYPE": array.dtype.str, "SHAPE": list(array.shape)}
        await self.sio.emit("msg", msg)

    async def close(self) -> None:
        await self.sio.disconnect()


def _sio_decode(msg: dict[str, Any]) -> dict[str, Any]:
    if "DTYPE" in msg:
        msg["DATA"] = np.frombuffer(msg["DATA"], msg["DTYPE"]).reshape(msg["SHAPE"])
    return msg


class SocketIo(AsyncSystem):
    name = "socketio"

    def server_argv(self) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "--serve", "socketio"]

    async def _connect(self, address: str, rooms: list[str], on_msg: Callable | None):
        import socketio

        sio = socketio.AsyncClient(websocket_extra_options={"max_msg_size": 0})
        if on_msg is not None:
            sio.on("msg", on_msg)
        await sio.connect(address, transports=["websocket"])
        for room in rooms:
            await sio.call("join", room, timeout=IDLE)
        return sio

    async def open(self, address, name, rooms, on_message, binary=False) -> Endpoint:
        handler = None if on_message is None else lambda msg: on_message(_sio_decode(msg))
        return SioEndpoint(await self._connect(address, rooms, handler), binary)

    async def open_echo(self, address, name, source, target) -> Endpoint:
        end: list[SioEndpoint] = []

        async def echo(msg: dict) -> None:
            await end[0].send({**msg, "ID": uuid.uuid4().hex, "TO_ROOM": target})

        end.append(SioEndpoint(await self._connect(address, [source], echo), False))
        return end[0]


# -- swergio_nb only: the user-facing figures ---------------------------------------------------------------------


def trebuchet_end_to_end(steps: int) -> dict[str, Any]:
    """Trebuchet training steps (forward + backward of 100 shots) per second: in one process with autograd, through
    an in-process hub with the three components as clients, and with control and simulator as OS processes."""
    from swergio_nb.examples.trebuchet.demo import train_reference, train_through_hub

    reference = train_reference(steps, eval_shots=10)
    hub = asyncio.run(train_through_hub(steps, eval_shots=10))
    processes = asyncio.run(train_through_hub(steps, eval_shots=10, processes=True))
    out = {"steps": steps}
    for key, run in (("one_process", reference), ("hub_in_process", hub), ("hub_processes", processes)):
        out[key] = {"steps_s": steps / run.wall_s, "wall_s": run.wall_s}
    return out


async def single_client(n: int) -> dict[str, Any]:
    """What one ``Client`` can send, and receive and dispatch to a handler, in msg/s (hub in its own process)."""
    from swergio_nb import Client, Trigger

    server = ServerProcess(SwergioNb().server_argv())
    try:
        arrivals = Arrivals()
        sink = Client("sink", server.address, reconnect=False)
        sink.add_handler(arrivals.hit, Trigger("DATA/FORWARD", "input"))
        async with sink, Client("source", server.address, reconnect=False) as source:
            await sink.ready()
            msgs = [small() for _ in range(n)]
            t0 = time.perf_counter()
            for msg in msgs:
                await source.send(msg)
            sent = time.perf_counter()
            await arrivals.wait(n)
        return {
            "send_msg_s": n / (sent - t0),
            "receive_msg_s": arrivals.count / max(arrivals.last - t0, 1e-9),
            "received": arrivals.count,
            "lost": n - arrivals.count,
        }
    finally:
        server.stop()


SYSTEMS: dict[str, System] = {
    s.name: s for s in (SwergioNb(), NbHubRawClients(), RawWs(), Swergio002(), SocketIo(), ZmqBroker())
}

# -- running and reporting ---------------------------------------------------------------------------------------

#: workload, result key, column label, True if higher is better
COLUMNS = [
    ("throughput", "msg_s", "throughput 1->1 (msg/s)", True),
    ("fanout", "msg_s", "fan-out 1->8 (msg/s)", True),
    ("pingpong", "p50_ms", "RTT p50 (ms)", False),
    ("pingpong", "p99_ms", "RTT p99 (ms)", False),
    ("big_json", "ms", "1M f32 JSON (ms)", False),
    ("big_binary", "ms", "1M f32 binary (ms)", False),
]


async def run_system(
    system: System, sizes: dict[str, int], timeout: float, only: set[str] | None = None
) -> dict[str, Any]:
    workloads = {
        "throughput": lambda a: system.throughput(a, sizes["throughput"]),
        "fanout": lambda a: system.fanout(a, sizes["fanout"]),
        "pingpong": lambda a: system.pingpong(a, sizes["pingpong"]),
        "big_json": lambda a: system.big(a, sizes["big_reps"], binary=False),
        "big_binary": lambda a: system.big(a, sizes["big_reps"], binary=True),
    }
    results: dict[str, Any] = {}
    for workload, run in workloads.items():
        if only is not None and workload not in only:
            continue
        server = ServerProcess(system.server_argv())
        try:
            server_cpu, client_cpu = server.cpu_seconds(), _own_cpu_seconds()
            results[workload] = await asyncio.wait_for(run(server.address), timeout)
            received = results[workload].get("received")
            if received:  # CPU per delivered message: steadier than msg/s on a loaded machine
                results[workload]["server_cpu_us"] = (server.cpu_seconds() - server_cpu) / received * 1e6
                results[workload]["client_cpu_us"] = (_own_cpu_seconds() - client_cpu) / received * 1e6
        except Exception as exc:  # a failing peer must not sink the whole run
            results[workload] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            server.stop()
        print(f"  {system.name:<11} {workload:<10} {results[workload]}", flush=True)
    return results


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per workload, the round with the median figure (the lower one of an even count), with every round's figure
    under ``"rounds"``; a single round is returned as it is."""
    if len(rounds) == 1:
        return rounds[0]
    out: dict[str, Any] = {}
    for workload in dict.fromkeys(w for r in rounds for w in r):
        runs = [r[workload] for r in rounds if workload in r]
        key = next((k for w, k, _, _ in COLUMNS if w == workload), None)
        valued = sorted((r for r in runs if figure({workload: r}, workload, key or "")), key=lambda r: r[key])
        chosen = valued[(len(valued) - 1) // 2] if valued else runs[-1]
        out[workload] = {**chosen, "rounds": [r.get(key) for r in runs] if key else len(runs)}
    return out


def figure(results: dict[str, Any], workload: str, key: str) -> float | None:
    value = results.get(workload, {}).get(key)
    return value if isinstance(value, int | float) and value > 0 else None


def table(all_results: dict[str, dict[str, Any]]) -> str:
    """Rows: systems; cells: figure and speed ratio to swergio_nb (>1: better than swergio_nb); last: geomean."""
    base = all_results.get("swergio_nb", {})
    head = ["system"] + [label for _, _, label, _ in COLUMNS]
    rows = [head + ["geomean ratio"]]
    for name, results in all_results.items():
        cells, ratios = [name], []
        for workload, key, _, higher in COLUMNS:
            value, ref = figure(results, workload, key), figure(base, workload, key)
            if value is None:
                cells.append("n/a" if "error" not in results.get(workload, {}) else "error")
                continue
            text = f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
            lost = results[workload].get("lost")
            if lost:
                text += f" [{lost} lost]"
            if "error" in results[workload]:
                text += " [error]"
            done, wanted = results[workload].get("round_trips"), results[workload].get("wanted")
            if done is not None and wanted is not None and done < wanted:
                text += f" [{done} RTs]"
            if ref is not None:
                ratio = value / ref if higher else ref / value
                ratios.append(ratio)
                text += f" ({ratio:.2f}x)"
            cells.append(text)
        cells.append(f"{math.prod(ratios) ** (1 / len(ratios)):.2f}x" if ratios else "n/a")
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(head) + 1)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run, about a minute)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated (default: %(default)s)")
    parser.add_argument(
        "--workloads",
        help="comma-separated subset of throughput,fanout,pingpong,big_json,big_binary,client,trebuchet (default: all)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the table shows each cell's median round")
    parser.add_argument("--serve", choices=["raw_ws", "swergio002", "socketio", "pyzmq"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=HERE / "results", help="directory for the JSON results")
    args = parser.parse_args()
    if args.serve == "raw_ws":
        asyncio.run(raw_hub())
        return
    if args.serve == "swergio002":
        swergio002_server()
        return
    if args.serve == "socketio":
        socketio_server()
        return
    if args.serve == "pyzmq":
        zmq_broker()
        return
    if args.quick:
        sizes = {"throughput": 2_000, "fanout": 500, "pingpong": 2_000, "big_reps": 1, "trebuchet_steps": 50}
    else:
        sizes = {"throughput": 50_000, "fanout": 10_000, "pingpong": 2_000, "big_reps": 3, "trebuchet_steps": 500}
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    only = None if args.workloads is None else {w.strip() for w in args.workloads.split(",")}
    if "swergio_nb" in names:  # the reference goes first
        names.remove("swergio_nb")
        names.insert(0, "swergio_nb")
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for round_ in range(args.repeat):  # systems alternate within each round, so slow drifts in load hit all
        for name in names:
            print(f"{name}{f' (round {round_ + 1} of {args.repeat})' if args.repeat > 1 else ''}:", flush=True)
            rounds[name].append(asyncio.run(run_system(SYSTEMS[name], sizes, timeout=180.0, only=only)))
    all_results = {name: median_round(runs) for name, runs in rounds.items()}
    extra: dict[str, Any] = {}
    if "swergio_nb" in names and (only is None or "client" in only):
        extra["single_client"] = asyncio.run(single_client(sizes["throughput"]))
        print(f"  single client: {extra['single_client']}", flush=True)
    if "swergio_nb" in names and (only is None or "trebuchet" in only) and importlib.util.find_spec("torch") is None:
        print("  trebuchet end to end: skipped, torch is not installed (pip install -e '.[examples]')", flush=True)
    elif "swergio_nb" in names and (only is None or "trebuchet" in only):
        extra["trebuchet"] = trebuchet_end_to_end(sizes["trebuchet_steps"])
        print(f"  trebuchet end to end: {extra['trebuchet']}", flush=True)
    print()
    print(table(all_results))
    if "single_client" in extra:
        c = extra["single_client"]
        print(
            f"\none swergio_nb Client: sends {c['send_msg_s']:,.0f} msg/s; receives and dispatches "
            f"{c['receive_msg_s']:,.0f} msg/s ({c['lost']} lost)"
        )
    if "trebuchet" in extra:
        t = extra["trebuchet"]
        base = t["one_process"]["steps_s"]
        print(
            f"trebuchet training steps/s (100 shots forward + backward): one process {base:.1f}; "
            f"through the hub {t['hub_in_process']['steps_s']:.1f} ({t['hub_in_process']['steps_s'] / base:.2f}x); "
            f"components as processes {t['hub_processes']['steps_s']:.1f} "
            f"({t['hub_processes']['steps_s'] / base:.2f}x)"
        )
    stamp = datetime.datetime.now().strftime("%Y-%m-%d")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"peers-{stamp}{'-quick' if args.quick else ''}.json"
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "quick": args.quick,
        "sizes": sizes,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "python": sys.version.split()[0],
    }
    path.write_text(
        json.dumps({"meta": meta, "results": all_results, "rounds": rounds, "swergio_nb": extra}, indent=2) + "\n"
    )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
