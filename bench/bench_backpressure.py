"""What a stalled reader costs the others: throughput and hub memory with and without one.

Run: ``python bench/bench_backpressure.py [--kind raw|swergio|both] [--messages N] [--queue-size Q]``. The hub runs
as its own OS process (``python -m swergio_nb.swarm.cli hub --port 0``, a fresh one per run) so its memory can be read
from ``/proc/<pid>``. 20 clients in this process, 4 rooms of 5, each send N messages to their room at full speed:
each may run up to ``--window`` messages ahead of each receiver (a credit window, so no fast client can legitimately
fill its own hub queue); every message reaches the 4 other members, who check per-sender order.

* run A: just that;
* run B: the same plus one raw connection that registered, joined all 4 rooms (it is sent every message), and then
  never reads again (its transport is paused). The hub must cut it off (1013) once its queue of Q frames is full,
  and nobody else may notice.

After a discarded warm-up, A and B alternate ``--repeat`` times (A B, B A, A B) and the best of each is kept. Then
A and B run once more with 2x the messages: the hub's peak RSS (the kernel's VmHWM of the fresh hub process) must
not grow with the message count in B, where an unbounded queue would hold every message sent to the stalled reader.
Prints a table per kind of client and one JSON line; exits 1 if a check failed. Every wait is bounded; the hub
process is terminated in ``finally``.

Two kinds of clients: ``swergio`` (swergio_nb.Client with a handler: the real thing, but decoding and dispatching
in Python costs more than routing, so the clients' process saturates first, with the hub near half a core) and
``raw`` (bare websockets connections sending prebuilt frames and reading SEQ/SENT_BY by position: about as cheap per
message as the hub, so the hub runs near its own limit too). "hub us/msg" (hub CPU time per delivered message) does
not depend on how much CPU the machine's other load leaves: it is the figure to compare on a busy machine.

Why one client process: the machine this was written on has 2 cores; the hub process takes one, the clients the
other. Splitting the clients over 2 processes would put 3 busy processes on 2 cores and measure the scheduler.
The CPU share of the hub and of the clients during the timed part is printed, with the machine's load average,
so a skewed measurement is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from swergio_nb import Client, Trigger
from swergio_nb.protocol.limits import DEFAULT_STALL_TIMEOUT


class HubProcess:
    """``swergio-nb hub --port 0`` in a child process; its stdout and stderr are read by two daemon threads."""

    def __init__(self, queue_size: int, stall_timeout: float, timeout: float = 20.0) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "swergio_nb.swarm.cli",
                "hub",
                "--port",
                "0",
                "--queue-size",
                str(queue_size),
                "--stall-timeout",
                str(stall_timeout),
            ],  # fmt: skip
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[tuple[float, str]] = []
        self._stdout: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self._stdout.put), daemon=True).start()
        threading.Thread(
            target=self._pump, args=(self.proc.stderr, lambda item: self.stderr.append(item)), daemon=True
        ).start()
        try:
            _, line = self._stdout.get(timeout=timeout)
        except queue.Empty:
            line = ""
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"the hub did not start: {line!r} {[t for _, t in self.stderr]}")
        self.url = line.split("listening on", 1)[1].strip()

    @staticmethod
    def _pump(stream, put) -> None:
        for line in stream:
            put((time.monotonic(), line.rstrip("\n")))

    def _status(self, key: str) -> int:
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(key)

    def rss(self) -> int:
        """Resident set size, bytes."""
        return self._status("VmRSS")

    def hwm(self) -> int:
        """Peak resident set size since the process started, bytes (the kernel's own high-water mark)."""
        return self._status("VmHWM")

    def cpu(self) -> float:
        """User + system CPU seconds used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def slow_consumer_lines(self) -> list[tuple[float, str]]:
        return [(t, line) for t, line in self.stderr if "slow consumer" in line]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class Credit:
    """A sender may have at most ``window`` messages not yet seen by each of its receivers."""

    def __init__(self, window: int, timeout: float) -> None:
        self.window, self.timeout = window, timeout
        self.sent: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.seen: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self._waiting: dict[str, asyncio.Event] = {}

    def _open(self, sender: str) -> bool:
        seen, window = self.seen[sender], self.window
        return all(n - seen[r] < window for r, n in self.sent[sender].items())

    async def acquire(self, sender: str, receivers: list[str]) -> None:
        if not self._open(sender):
            event = self._waiting[sender] = asyncio.Event()
            try:
                await asyncio.wait_for(event.wait(), self.timeout)
            finally:
                del self._waiting[sender]
        for receiver in receivers:
            self.sent[sender][receiver] += 1

    def received(self, receiver: str, sender: str) -> None:
        self.seen[sender][receiver] += 1
        event = self._waiting.get(sender)
        if event is not None and self._open(sender):
            event.set()


async def _stall(url: str, rooms: list[str], timeout: float):
    """A raw connection that registers, joins ``rooms``, then stops reading (its transport is paused)."""
    ws = await connect(url, max_size=None, ping_interval=None, compression=None)
    commands = [{"ID": "stall-reg", "TYPE": "COMMAND/REGISTER", "NAME": "stalled"}]
    commands += [{"ID": f"stall-join-{room}", "TYPE": "COMMAND/JOINROOM", "ROOM": room} for room in rooms]
    for command in commands:
        await ws.send(json.dumps(command))
        ack = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if ack.get("TYPE") != "COMMAND/ACK" or ack.get("REPLY_TO") != command["ID"]:
            raise RuntimeError(f"the hub refused the stalled client: {ack}")
    ws.transport.pause_reading()
    return ws


async def _drain(ws, timeout: float) -> dict[str, Any]:
    """Read what the stalled connection was sent, up to the hub's close frame (bounded)."""
    ws.transport.resume_reading()
    frames = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            await asyncio.wait_for(ws.recv(), max(0.01, deadline - loop.time()))
            frames += 1
    except ConnectionClosed as exc:
        rcvd = exc.rcvd
        return {
            "frames": frames,
            "close_code": rcvd.code if rcvd else None,
            "close_reason": rcvd.reason if rcvd else "",
        }
    except asyncio.TimeoutError:
        return {"frames": frames, "close_code": None, "close_reason": "still open"}


async def _sample_rss(hub: HubProcess, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], hub.rss())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.01)


class SwergioPeer:
    """A swergio Client: the real thing (decodes, validates, dispatches to a handler task)."""

    def __init__(self, name: str, url: str, room: str, on_message) -> None:
        self.name, self.room = name, room
        self.client = Client(name, url)
        self.client.add_handler(lambda msg: on_message(msg["SENT_BY"], msg["SEQ"]), Trigger("DATA/FORWARD", room))

    async def connect(self) -> None:
        await self.client.connect()

    @property
    def connected(self) -> bool:
        return self.client.connected

    async def send(self, seq: int, payload: str) -> None:
        await self.client.send({"TYPE": "DATA/FORWARD", "TO_ROOM": self.room, "SEQ": seq, "DATA": payload})

    async def close(self) -> None:
        await self.client.close()


class RawPeer:
    """A bare websockets connection speaking the protocol with prebuilt frames and no decoding (it finds SEQ and
    SENT_BY by position), so that the hub, not the clients, is the bottleneck."""

    def __init__(self, name: str, url: str, room: str, on_message) -> None:
        self.name, self.url, self.room, self.on_message = name, url, room, on_message
        self.ws = None
        self.reader: asyncio.Task | None = None

    async def connect(self) -> None:
        self.ws = await connect(self.url, max_size=None, compression=None)
        for command in (
            {"ID": f"{self.name}-reg", "TYPE": "COMMAND/REGISTER", "NAME": self.name},
            {"ID": f"{self.name}-join", "TYPE": "COMMAND/JOINROOM", "ROOM": self.room},
        ):
            await self.ws.send(json.dumps(command))
            ack = json.loads(await self.ws.recv())
            if ack.get("TYPE") != "COMMAND/ACK" or ack.get("REPLY_TO") != command["ID"]:
                raise RuntimeError(f"the hub refused {self.name}: {ack}")
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        on_message = self.on_message
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:  # '{"SEQ":123,...,"SENT_BY":"c07"}' (the hub appends SENT_BY)
                on_message(frame[frame.rindex('"SENT_BY":"') + 11 : -2], int(frame[7 : frame.index(",", 7)]))

    @property
    def connected(self) -> bool:
        return self.ws is not None and self.reader is not None and not self.reader.done()

    async def send(self, seq: int, payload: str) -> None:
        await self.ws.send(
            f'{{"SEQ":{seq},"ID":"{self.name}-{seq}","TYPE":"DATA/FORWARD","TO_ROOM":"{self.room}","DATA":"{payload}"}}'
        )

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


async def run(kind: str, stalled: bool, messages: int, args: argparse.Namespace) -> dict[str, Any]:
    n, timeout = args.clients, args.timeout
    names = [f"c{i:02d}" for i in range(n)]
    room_of = {name: f"r{i * args.rooms // n}" for i, name in enumerate(names)}
    members: dict[str, list[str]] = collections.defaultdict(list)
    for name, room in room_of.items():
        members[room].append(name)
    peers = {name: [m for m in members[room_of[name]] if m != name] for name in names}
    total = sum(len(peers[name]) for name in names) * messages
    payload = "x" * args.payload
    hub = HubProcess(args.queue_size, args.stall_timeout)
    clients: list[SwergioPeer | RawPeer] = []
    ws = None
    try:
        credit = Credit(args.window, timeout)
        delivered = 0
        out_of_order = 0
        last_seq: dict[tuple[str, str], int] = {}
        done = asyncio.Event()

        def make_handler(name: str):
            def on_message(sender: str, seq: int) -> None:
                nonlocal delivered, out_of_order
                if last_seq.get((name, sender), -1) != seq - 1:
                    out_of_order += 1
                last_seq[name, sender] = seq
                credit.received(name, sender)
                delivered += 1
                if delivered == total:
                    done.set()

            return on_message

        peer_class = RawPeer if kind == "raw" else SwergioPeer
        clients = [peer_class(name, hub.url, room_of[name], make_handler(name)) for name in names]
        await asyncio.wait_for(asyncio.gather(*(c.connect() for c in clients)), timeout)
        if stalled:
            ws = await _stall(hub.url, sorted(members), timeout)
        await asyncio.sleep(0.2)
        rss_before = hub.rss()

        async def send_all(client: SwergioPeer | RawPeer) -> None:
            name, receivers = client.name, peers[client.name]
            for k in range(messages):
                await credit.acquire(name, receivers)
                await client.send(k, payload)

        peak = [rss_before]
        stop_sampling = asyncio.Event()
        sampler = asyncio.create_task(_sample_rss(hub, peak, stop_sampling))
        cpu0, own0, t0 = hub.cpu(), time.process_time(), time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(send_all(c) for c in clients)), timeout)
        await asyncio.wait_for(done.wait(), timeout)
        elapsed, cpu, own = time.monotonic() - t0, hub.cpu() - cpu0, time.process_time() - own0
        stop_sampling.set()
        await sampler
        if not all(c.connected for c in clients):
            raise RuntimeError(f"fast clients lost: {[c.name for c in clients if not c.connected]}")
        await asyncio.gather(*(c.close() for c in clients))
        drained = await _drain(ws, 15.0) if ws is not None else None
        await asyncio.sleep(0.5)
        rss_after, hwm = hub.rss(), hub.hwm()
        cuts = hub.slow_consumer_lines()
        return {
            "load_average_1min": os.getloadavg()[0],
            "kind": kind,
            "run": "B" if stalled else "A",
            "messages_per_client": messages,
            "deliveries": delivered,
            "seconds": elapsed,
            "msg_per_s": delivered / elapsed,
            "out_of_order": out_of_order,
            "hub_cpu_s": cpu,
            "hub_cpu_share": cpu / elapsed,
            "hub_cpu_us_per_delivery": cpu / delivered * 1e6,
            "clients_cpu_s": own,
            "clients_cpu_share": own / elapsed,
            "rss_before": rss_before,
            "rss_peak_sampled": peak[0],
            "rss_peak_hwm": hwm,
            "rss_after": rss_after,
            "slow_consumers": len(cuts),
            "cut_after_s": cuts[0][0] - t0 if cuts else None,
            "stalled": drained,
            "sent_to_stalled_bytes": n * messages * (args.payload + 120) if stalled else 0,
        }
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        if ws is not None:
            ws.transport.abort()
        hub.stop()


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f}M"


def bench(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """After a warm-up, A and B alternately ``args.repeat`` times (best of each kept), then once each with 2x."""
    best: dict[str, dict] = {}
    runs = []
    asyncio.run(run(kind, False, max(1, args.messages // 10), args))  # warm-up, discarded
    for round_ in range(args.repeat):
        for stalled in (False, True) if round_ % 2 == 0 else (True, False):  # A B, B A, A B...: drift cancels
            result = asyncio.run(run(kind, stalled, args.messages, args))
            runs.append(result)
            if result["run"] not in best or result["msg_per_s"] > best[result["run"]]["msg_per_s"]:
                best[result["run"]] = result
    best["A x2"] = asyncio.run(run(kind, False, 2 * args.messages, args))
    best["B x2"] = asyncio.run(run(kind, True, 2 * args.messages, args))

    loads = [r["load_average_1min"] for r in [*runs, best["A x2"], best["B x2"]]]
    print(f"\n{kind} clients: {CLIENT_KINDS[kind]}; machine load average {min(loads):.1f} to {max(loads):.1f}")
    columns = [
        ("run", 5),
        ("msgs/client", 11),
        ("deliveries", 10),
        ("seconds", 7),
        ("msg/s", 8),
        ("CPU hub", 7),
        ("CPU clients", 11),
        ("hub us/msg", 10),
        ("RSS before", 10),
        ("RSS peak", 8),
        ("RSS after", 9),
        ("slow", 4),
        ("cut at", 6),
        ("stalled got", 11),
        ("close", 5),
    ]
    header = " ".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    for label, r in best.items():
        s = r["stalled"] or {}
        cells = [
            label,
            f"{r['messages_per_client']:,}",
            f"{r['deliveries']:,}",
            f"{r['seconds']:.2f}",
            f"{r['msg_per_s']:,.0f}",
            f"{r['hub_cpu_share']:.0%}",
            f"{r['clients_cpu_share']:.0%}",
            f"{r['hub_cpu_us_per_delivery']:.1f}",
            _mib(r["rss_before"]),
            _mib(r["rss_peak_hwm"]),
            _mib(r["rss_after"]),
            str(r["slow_consumers"]),
            f"{r['cut_after_s']:.2f}s" if r["cut_after_s"] is not None else "-",
            f"{s.get('frames', '-')}",
            str(s.get("close_code") or "-"),
        ]
        print(" ".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, columns, strict=True)))
    a, b, a2, b2 = best["A"], best["B"], best["A x2"], best["B x2"]
    ratio = b["msg_per_s"] / a["msg_per_s"]
    cpu_ratio = b["hub_cpu_us_per_delivery"] / a["hub_cpu_us_per_delivery"]
    print(f"throughput B / A: {ratio:.3f} (target >= 0.90; best of {args.repeat} each)")
    print(f"hub CPU per delivered message B / A: {cpu_ratio:.3f} (insensitive to the machine's load)")
    print(
        f"hub peak RSS, 2x vs 1x messages: A {(a2['rss_peak_hwm'] - a['rss_peak_hwm']) / 2**20:+.1f} MiB, "
        f"B {(b2['rss_peak_hwm'] - b['rss_peak_hwm']) / 2**20:+.1f} MiB; B - A: "
        f"{(b['rss_peak_hwm'] - a['rss_peak_hwm']) / 2**20:+.1f} MiB at 1x, "
        f"{(b2['rss_peak_hwm'] - a2['rss_peak_hwm']) / 2**20:+.1f} MiB at 2x (an unbounded queue could grow to "
        f"{b['sent_to_stalled_bytes'] / 2**20:.0f} and {b2['sent_to_stalled_bytes'] / 2**20:.0f} MiB)"
    )
    problems = [f"{k}: {r['out_of_order']} out of order" for k, r in best.items() if r["out_of_order"]]
    problems += [
        f"{k}: {r['slow_consumers']} slow consumers" for k, r in best.items() if k[0] == "A" and r["slow_consumers"]
    ]
    problems += [
        f"{k}: stalled reader not cut off" for k, r in best.items() if k[0] == "B" and r["slow_consumers"] != 1
    ]
    print("checks:", "; ".join(problems) if problems else "ok (A: no slow consumer; B: exactly one; all in order)")
    return {
        "ratio_b_over_a": ratio,
        "hub_cpu_per_delivery_b_over_a": cpu_ratio,
        "best": best,
        "runs": runs,
        "problems": problems,
    }


CLIENT_KINDS = {
    "raw": "bare websockets connections, prebuilt frames, no decoding (hub and clients about equally loaded)",
    "swergio": "swergio_nb.Client with a handler (the clients are the bottleneck, the hub has headroom)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=[*CLIENT_KINDS, "both"], default="both", help="clients to use")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rooms", type=int, default=4)
    parser.add_argument("--messages", type=int, default=2000, help="messages each client sends (default %(default)s)")
    parser.add_argument("--payload", type=int, default=1000, help="characters of DATA per message")
    parser.add_argument("--queue-size", type=int, default=4096, help="the hub's per-connection queue, frames")
    parser.add_argument("--window", type=int, default=256, help="credit window per (sender, receiver)")
    parser.add_argument(
        "--stall-timeout", type=float, default=DEFAULT_STALL_TIMEOUT, help="the hub's, seconds (default %(default)s)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each kind; the best is kept")
    parser.add_argument("--timeout", type=float, default=120.0, help="bound of every wait, seconds")
    args = parser.parse_args()
    if (args.clients // args.rooms - 1) * args.window >= args.queue_size:
        parser.error("the window could fill a fast client's hub queue: lower --window")
    print(
        f"{args.clients} clients in {args.rooms} rooms, {args.payload}-character messages, hub queue "
        f"{args.queue_size} frames, credit window {args.window}; hub in its own process, clients in this one"
    )
    kinds = list(CLIENT_KINDS) if args.kind == "both" else [args.kind]
    results = {kind: bench(kind, args) for kind in kinds}
    print(json.dumps({"args": vars(args), **results}))
    if any(r["problems"] for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
