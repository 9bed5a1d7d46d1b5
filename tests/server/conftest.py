"""Fixtures of the Jupyter Server tests: a real server process on a free loopback port (the browser tests' harness,
:func:`tests.browser.lab.start_lab`), at the root and under a JupyterHub-like ``base_url``, and kernels of that
server driven through their connection files (``jupyter_client``), as the server's own REST API starts them."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.lab import Lab, start_lab

pytest.importorskip("jupyter_server")
pytest.importorskip("jupyterlab")

__all__ = ["KERNEL_TIMEOUT", "Kernel", "hub_url"]

KERNEL_TIMEOUT = 90.0


def hub_url(lab: Lab, *, token: bool = True) -> str:
    """The server's hub WebSocket URL (with the server's token unless ``token=False``)."""
    url = f"ws://127.0.0.1:{lab.port}{lab.base_url}swergio/ws"
    return f"{url}?token={lab.token}" if token else url


@pytest.fixture(scope="module", params=["/", "/user/someone/"], ids=["root", "base_url"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A Jupyter server (JupyterLab's, with the swergio extension enabled by its installed config file)."""
    tmp = tmp_path_factory.mktemp("server")
    name = "root" if request.param == "/" else "base-url"
    with start_lab(tmp, [], base_url=request.param, log_name=f"jupyter-server-{name}.log") as lab:
        yield lab


class Kernel:
    """A kernel started by the server (``POST /api/kernels``), run through its connection file."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.id = lab.api("POST", "/api/kernels")["id"]
        path = lab.runtime / f"kernel-{self.id}.json"
        deadline = time.monotonic() + KERNEL_TIMEOUT
        while not path.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"no connection file {path}:\n{lab.log_tail()}")
            time.sleep(0.1)
        self.connection = json.loads(path.read_text())
        self._connect()

    def _connect(self) -> None:
        from jupyter_client import BlockingKernelClient

        self.client = BlockingKernelClient()
        self.client.load_connection_info(self.connection)
        self.client.start_channels()
        self.client.wait_for_ready(timeout=KERNEL_TIMEOUT)

    def run(self, code: str, timeout: float = 60.0) -> str:
        """Execute ``code``; returns its stdout and the text of its results.

        Raises:
            AssertionError: the code raised (with the kernel's traceback).
        """
        out: list[str] = []
        errors: list[str] = []

        def output(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                out.append(content["data"].get("text/plain", "") + "\n")
            elif kind == "error":
                errors.append("\n".join(content["traceback"]))

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=output)
        if reply["content"]["status"] != "ok" or errors:
            raise AssertionError(f"kernel {self.id} failed on:\n{code}\n{''.join(errors)}")
        return "".join(out)

    def restart(self) -> None:
        """``POST /api/kernels/<id>/restart`` (the kernel process is replaced; its clients are gone)."""
        self.client.stop_channels()
        self.lab.api("POST", f"/api/kernels/{self.id}/restart", timeout=KERNEL_TIMEOUT)
        self._connect()

    def shutdown(self) -> None:
        self.client.stop_channels()
        with contextlib.suppress(Exception):  # the server's teardown deletes what is left
            self.lab.api("DELETE", f"/api/kernels/{self.id}", timeout=30)


@pytest.fixture()
def kernels(server: Lab) -> Iterator[list[Kernel]]:
    """Start kernels with ``kernels.append(Kernel(server))``; all are shut down at the end."""
    started: list[Kernel] = []
    yield started
    for kernel in started:
        kernel.shutdown()
