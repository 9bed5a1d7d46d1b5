"""A Redis server of its own for each test: Debian's ``redis-server`` on a free loopback port, in a temporary
directory, persisting nothing (``--save '' --appendonly no``); stopped at the end. Hub processes sharing it."""

from __future__ import annotations

import contextlib
import shutil
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


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a fresh Redis (skipped, saying why, when ``redis-server`` is not installed).

    Raises:
        AssertionError: it did not answer within 10 s.
    """
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)")
    port = _free_port()
    command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path)]
    proc = subprocess.Popen([*command, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not _answers(port):
            assert proc.poll() is None, f"redis-server exited with {proc.returncode} (port {port} taken?)"
            assert time.monotonic() < deadline, "redis-server did not answer PING within 10 s"
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def hubs(redis_url, monkeypatch):
    """``hubs(n)`` starts n hub processes (``swergio-nb hub --backplane``) on the test's Redis, all with
    :data:`TOKEN`, and returns their URLs; ``hubs.procs`` are the processes, stopped at the end."""
    monkeypatch.setenv("SWERGIO_TOKEN", TOKEN)
    with contextlib.ExitStack() as stack:

        def start(n: int) -> list[str]:
            started = [stack.enter_context(hub_process("--backplane", redis_url)) for _ in range(n)]
            start.procs.extend(proc for _, proc in started)
            return [url for url, _ in started]

        start.procs = []
        yield start
