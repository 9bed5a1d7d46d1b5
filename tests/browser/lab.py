"""Shared by the browser tests: a JupyterLab server on a temporary copy of notebooks, headless Debian Chromium driven
by Playwright (never a downloaded browser build), and helpers to open and run a notebook and dump the page.

JupyterLab serves a temporary copy of the files it needs from ``notebooks/`` (outputs are never saved into the
repository) with its settings, workspaces and runtime files in temporary folders and news/update checks off.
Screenshots and logs are kept in ``test-artifacts/`` at the repository root (gitignored).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "ARTIFACTS",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "LAB_SETTINGS",
    "NOTEBOOKS",
    "PROMPTS_JS",
    "REPO",
    "Lab",
    "browser_page",
    "dump",
    "open_notebook",
    "require_chromium",
    "run_all_cells",
    "run_to_end",
    "screenshot_whole_notebook",
    "start_lab",
    "stop_lab",
    "wait_idle",
]

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
#: Settings a user would otherwise click through: no news prompt, no update check, every cell kept in the DOM.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
SERVER_START_TIMEOUT = 90.0

#: JS: the input prompts of the code cells ("[3]:", "[*]:", "[ ]:").
PROMPTS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
  .map((p) => p.textContent.trim())"""


def require_chromium() -> Path:
    """Debian's Chromium, Playwright and JupyterLab, or skip (fail in CI, which must have them)."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must install it")
        pytest.skip(reason)
    for module in ("playwright.sync_api", "jupyterlab"):  # both in the dev extra; in CI a missing one fails
        try:
            importlib.import_module(module)
        except ImportError:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"{module} is not installed (pip install -e '.[dev]')")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A running JupyterLab server: its URL (``base``: with its ``base_url``, no trailing slash), token and a tiny
    REST client."""

    def __init__(
        self, process: subprocess.Popen, port: int, token: str, log: Path, root: Path, base_url: str = "/"
    ) -> None:
        self.process, self.port, self.token, self.log, self.root = process, port, token, log, root
        self.base_url = base_url
        self.base = f"http://127.0.0.1:{port}{base_url.rstrip('/')}"
        self.runtime = root.parent / "runtime"  #: JUPYTER_RUNTIME_DIR (kernel connection files, jpserver-*.json)

    def api(self, method: str, path: str, timeout: float = 10.0) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernels(self, retry_for: float = 10.0) -> list[dict[str, Any]]:
        """The running kernels (``GET /api/kernels``).

        jupyter_server answers 500 while a kernel is starting (``last_activity`` is not set yet; the same race is
        reported as jupyter-server/enterprise_gateway#1395), so a 5xx is asked again, for up to ``retry_for`` s.
        """
        deadline = time.monotonic() + retry_for
        while True:
            try:
                return self.api("GET", "/api/kernels")
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def start_lab(
    tmp_path: Path,
    files: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    log_name: str = "jupyterlab.log",
    base_url: str = "/",
    args: Sequence[str] = (),
) -> Iterator[Lab]:
    """Run JupyterLab on a temporary folder holding copies of ``files`` (names in ``notebooks/``).

    Args:
        tmp_path: a fresh temporary folder (the test's ``tmp_path``).
        files: what to copy from ``notebooks/`` into the server's root.
        env: extra environment variables for the server (and so for its kernels).
        log_name: the server log is copied to ``test-artifacts/<log_name>`` at the end.
        base_url: the server's ``--ServerApp.base_url`` (``/user/someone/`` as under JupyterHub).
        args: more command-line options for the server (``--SwergioHub.queue_size=64``).
    """
    root = tmp_path / "notebooks"
    root.mkdir()
    for name in files:
        shutil.copy2(NOTEBOOKS / name, root / name)
    settings = tmp_path / "lab-settings"
    for relative, values in LAB_SETTINGS.items():
        path = settings / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    for folder in ("workspaces", "runtime", "config"):
        (tmp_path / folder).mkdir()
    server_env = dict(os.environ)
    server_env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_PLATFORM_DIRS="1",
        MPLBACKEND="agg",
    )
    server_env.update(env or {})
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp_path / "jupyterlab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=None",
        "--LabApp.extension_manager=readonly",  # the default one asks PyPI
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        f"--ServerApp.base_url={base_url}",
        *args,
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    with open(log, "wb") as log_file:
        process = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=server_env, cwd=root)
    server = Lab(process, port, token, log, root, base_url)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}:\n{server.log_tail()}")
            try:
                server.api("GET", "/api/status", timeout=2)
                break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer in {SERVER_START_TIMEOUT:.0f} s:\n{server.log_tail()}")
                time.sleep(0.25)
        yield server
    finally:
        stop_lab(server)
        if ARTIFACTS.is_dir():
            shutil.copy2(log, ARTIFACTS / log_name)


def stop_lab(server: Lab) -> None:
    """Shut the kernels down, ask the server to stop, then terminate and kill it if it still runs."""
    if server.process.poll() is None:
        with contextlib.suppress(urllib.error.URLError, OSError, ValueError):  # best effort: terminate follows
            for kernel in server.kernels():
                server.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=30)
        with contextlib.suppress(urllib.error.URLError, OSError, ValueError):
            server.api("POST", "/api/shutdown", timeout=10)
    for stop in (None, server.process.terminate, server.process.kill):
        if stop is not None:
            stop()
        try:
            server.process.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def browser_page(
    chromium: Path, tmp_path: Path, artifacts: Path, *, console_log: str = "browser-console.log"
) -> Iterator[tuple[Any, list[str]]]:
    """A Playwright page in headless Chromium with a fresh profile, and the list its console lines go to.

    On an exception the page is dumped as ``failure.png`` / ``failure.txt``; the console is written to
    ``artifacts / console_log`` in any case.
    """
    from playwright.sync_api import sync_playwright

    console: list[str] = []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(chromium),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
            page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
            page.set_default_timeout(60_000)
            try:
                yield page, console
            except BaseException:
                dump(page, artifacts, "failure")
                raise
        finally:
            (artifacts / console_log).write_text("\n".join(console) + "\n")
            context.close()


def dump(page: Any, artifacts: Path, name: str) -> None:
    """Screenshot and text of the notebook as ``<name>.png`` / ``<name>.txt`` (best effort)."""
    try:
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
        (artifacts / f"{name}.txt").write_text(page.locator(".jp-Notebook").inner_text(timeout=5_000))
    except Exception as exc:  # the page may be gone: the original error matters more
        print(f"could not dump the page: {exc}")


def screenshot_whole_notebook(page: Any, path: Path) -> None:
    """JupyterLab scrolls inside its own panel, so a full-page screenshot is the viewport: grow the viewport."""
    viewport = page.viewport_size
    height = page.evaluate(
        """() => {
          const panel = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
          if (!panel) return 0;
          panel.scrollTop = 0;
          return panel.scrollHeight;
        }"""
    )
    page.set_viewport_size({"width": viewport["width"], "height": min(max(viewport["height"], height + 200), 16_000)})
    try:
        page.wait_for_timeout(500)  # one layout pass
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(viewport)
        page.wait_for_timeout(200)


def wait_idle(lab: Lab, timeout: float) -> None:
    """Wait until every kernel of ``lab`` is idle (AssertionError after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        kernels = lab.kernels()
        if kernels and all(k["execution_state"] == "idle" for k in kernels):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"kernel not idle after {timeout:.0f} s: {kernels}")
        time.sleep(0.25)


def open_notebook(page: Any, lab: Lab, name: str, ui: str = "lab") -> Any:
    """Open notebook ``name`` in JupyterLab (``ui="lab"``) or Notebook 7 (``"notebook7"``) and wait for its kernel to
    be idle; returns the notebook's locator."""
    if ui == "lab":
        page.goto(f"{lab.base}/lab/tree/{name}?token={lab.token}")
        notebook = page.locator(".jp-NotebookPanel .jp-Notebook")
    else:
        page.goto(f"{lab.base}/notebooks/{name}?token={lab.token}")
        notebook = page.locator(".jp-Notebook")
    notebook.locator(".jp-Cell").first.wait_for()
    deadline = time.monotonic() + 60
    while not lab.kernels() and time.monotonic() < deadline:
        time.sleep(0.25)
    wait_idle(lab, 60)
    if ui == "lab":
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=30_000)
    return notebook


def run_all_cells(page: Any, notebook: Any) -> None:
    """Run -> Run All Cells, as a person would."""
    notebook.locator(".jp-Cell").first.click()
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def run_to_end(page: Any, lab: Lab, notebook: Any, timeout: float, on_tick: Callable[[], None] | None = None) -> None:
    """Wait until every code cell has run (each prompt reads ``[n]:``) and the kernel is idle.

    Args:
        on_tick: called about every 0.5 s while the cells run (to look at a widget while it is live).

    Raises:
        AssertionError: a cell printed a traceback (with the notebook's text), or ``timeout`` seconds passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        if on_tick is not None:
            on_tick()
        prompts = page.evaluate(PROMPTS_JS)
        done = prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
        if done and lab.kernels()[0]["execution_state"] == "idle":
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"the notebook did not finish in {timeout:.0f} s; prompts {prompts}")
        errors = notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        if errors.filter(has_text="Traceback").count():
            wait_idle(lab, 30)
            raise AssertionError("a cell failed:\n" + notebook.inner_text())
        time.sleep(0.5)
    wait_idle(lab, 30)
