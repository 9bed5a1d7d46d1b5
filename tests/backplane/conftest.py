"""A Redis server of its own for each test: Debian's ``redis-server`` on a free loopback port, in a temporary
directory, persisting nothing (``--save '' --appendonly no``); stopped at the end. Hub processes sharing it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from ..helpers import hub_process

#: The token every test hub shares (``SWERGIO_TOKEN``), so that a client's URLs differ only by host and port.
TOKEN = "backplane-test-token"

REDIS_SERVER = shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """Debian's ``redis-server`` on ``port`` (persisting nothing, in ``folder``): :meth:`start`, :meth:`stop`."""

    def __init__(self, port: int, folder: str) -> None:
        self.port = port
        self.folder = folder
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start it and wait until it answers PING.

        Raises:
            AssertionError: it exited (its port taken?) or did not answer within 10 s.
        """
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.folder]
        self.proc = subprocess.Popen([*command, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        deadline, proc = time.monotonic() + 10, self.proc
        while not _answers(self.port):
            assert proc.poll() is None, f"redis-server exited with {proc.returncode} (port {self.port} taken?)"
            assert time.monotonic() < deadline, "redis-server did not answer PING within 10 s"
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop it (SIGTERM; a wait of 10 s). Safe to call twice."""
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture
def redis(tmp_path) -> Iterator[RedisServer]:
    """A fresh Redis on a free loopback port (skipped, saying why, when ``redis-server`` is not installed; under
    ``CI``, which installs it, a failure)."""
    if REDIS_SERVER is None:
        missing = "redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    server = RedisServer(_free_port(), str(tmp_path))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis: RedisServer) -> str:
    """``redis://127.0.0.1:PORT/0`` of the test's Redis."""
    return redis.url


@pytest.fixture
def hubs(redis_url, monkeypatch):
    """``hubs(n)`` starts n hub processes (``swergio-nb hub --backplane``) on the test's Redis, all with
    :data:`TOKEN`, and returns their URLs; ``hubs.procs`` are the processes, stopped at the end (SIGTERM), where
    each must exit with 0 (unless the test killed it)."""
    monkeypatch.setenv("SWERGIO_TOKEN", TOKEN)
    with contextlib.ExitStack() as stack:

        def start(n: int) -> list[str]:
            started = [stack.enter_context(hub_process("--backplane", redis_url)) for _ in range(n)]
            start.procs.extend(proc for _, proc in started)
            return [url for url, _ in started]

        start.procs = []
        yield start
    # each hub left at SIGTERM, cleanly and in time (hub_process waits 10 s), unless a test killed it
    assert all(proc.returncode in (0, -signal.SIGKILL) for proc in start.procs), [p.returncode for p in start.procs]
