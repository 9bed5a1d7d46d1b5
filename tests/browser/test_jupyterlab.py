"""End to end in a real browser: JupyterLab runs notebooks/02_trebuchet.ipynb, the widgets render and show data.

Headless Debian Chromium driven by Playwright (never a downloaded browser build). JupyterLab serves a temporary copy
of ``notebooks/`` (outputs are never saved into the repository) with its settings, workspaces and runtime files in
temporary folders and news/update checks off. Screenshots are kept in ``test-artifacts/`` at the repository root.
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "test-artifacts"
NOTEBOOK = "02_trebuchet.ipynb"
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
RUN_TIMEOUT = 240.0  # from "Run All Cells" until the last cell has run and the kernel is idle

pytestmark = pytest.mark.browser


# -- fixtures --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Path:
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


@pytest.fixture()
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    for stale in ARTIFACTS.glob("failure.*"):
        stale.unlink()
    return ARTIFACTS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A running JupyterLab server: its URL, token and a tiny REST client."""

    def __init__(self, process: subprocess.Popen, port: int, token: str, log: Path) -> None:
        self.process, self.port, self.token, self.log = process, port, token, log
        self.base = f"http://127.0.0.1:{port}"

    def api(self, method: str, path: str, timeout: float = 10.0) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernels(self) -> list[dict[str, Any]]:
        return self.api("GET", "/api/kernels")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


@pytest.fixture()
def lab(chromium: Path, tmp_path: Path) -> Iterator[Lab]:
    root = tmp_path / "notebooks"
    root.mkdir()
    for name in (NOTEBOOK, "trebuchet.yaml"):
        shutil.copy2(NOTEBOOKS / name, root / name)
    settings = tmp_path / "lab-settings"
    for relative, values in LAB_SETTINGS.items():
        path = settings / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    for folder in ("workspaces", "runtime", "config"):
        (tmp_path / folder).mkdir()
    env = dict(os.environ)
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_PLATFORM_DIRS="1",
        MPLBACKEND="agg",
    )
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
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    with open(log, "wb") as log_file:
        process = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=root)
    server = Lab(process, port, token, log)
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
        _stop_lab(server)
        if ARTIFACTS.is_dir():
            shutil.copy2(log, ARTIFACTS / "jupyterlab.log")


def _stop_lab(server: Lab) -> None:
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


# -- the test --------------------------------------------------------------------------------------------------------

#: JS: the traffic widget's rooms table as {room: {members: [...], count: n}}, or null before it renders.
TRAFFIC_ROOMS_JS = """() => {
  const table = document.querySelector('.swergio-traffic > table');
  if (!table) return null;
  const rooms = {};
  for (const tr of table.querySelectorAll('tbody tr')) {
    const cells = [...tr.querySelectorAll('td')].map((td) => td.textContent.trim());
    rooms[cells[0]] = {members: cells[1] ? cells[1].split(', ') : [], count: Number(cells[2])};
  }
  return rooms;
}"""

#: JS: the input prompts of the code cells ("[3]:", "[*]:", "[ ]:").
PROMPTS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
  .map((p) => p.textContent.trim())"""

PIPELINE = {"input", "aim", "output"}
COMPONENTS = {"control", "trebuchet", "trainer"}


def _live(rooms: dict[str, Any] | None) -> bool:
    """True when the rooms table shows the whole pipeline with its members and traffic."""
    if not rooms or not PIPELINE <= set(rooms):
        return False
    members = {m for room in PIPELINE for m in rooms[room]["members"]}
    return COMPONENTS <= members and all(rooms[room]["count"] > 0 for room in PIPELINE)


@pytest.mark.timeout(480)
def test_trebuchet_notebook_in_jupyterlab(chromium: Path, lab: Lab, artifacts: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
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
                _run_notebook(page, lab, artifacts)
            except BaseException:
                _dump(page, artifacts, "failure")
                raise
        finally:
            (artifacts / "browser-console.log").write_text("\n".join(console) + "\n")
            context.close()
    print(f"browser test: {time.monotonic() - started:.1f} s")
    # the widgets load without errors or warnings (anywidget warns about deprecated module shapes, for one)
    widget_lines = [line for line in console if re.search(r"swergio|anywidget|traffic\.js|metrics\.js", line, re.I)]
    assert not [line for line in widget_lines if line.startswith(("error", "warning", "pageerror"))], widget_lines


def _dump(page: Any, artifacts: Path, name: str) -> None:
    try:
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
        (artifacts / f"{name}.txt").write_text(page.locator(".jp-Notebook").inner_text(timeout=5_000))
    except Exception as exc:  # the page may be gone: the original error matters more
        print(f"could not dump the page: {exc}")


def _screenshot_whole_notebook(page: Any, path: Path) -> None:
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


def _wait_idle(lab: Lab, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        kernels = lab.kernels()
        if kernels and all(k["execution_state"] == "idle" for k in kernels):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"kernel not idle after {timeout:.0f} s: {kernels}")
        time.sleep(0.25)


def _run_notebook(page: Any, lab: Lab, artifacts: Path) -> None:
    page.goto(f"{lab.base}/lab/tree/{NOTEBOOK}?token={lab.token}")
    notebook = page.locator(".jp-NotebookPanel .jp-Notebook")
    notebook.locator(".jp-Cell").first.wait_for()
    deadline = time.monotonic() + 60
    while not lab.kernels() and time.monotonic() < deadline:
        time.sleep(0.25)
    _wait_idle(lab, 60)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=30_000)

    # Run -> Run All Cells, as a person would
    notebook.locator(".jp-Cell").first.click()
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    run_all = page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$"))
    run_all.click()

    live_rooms: dict[str, Any] | None = None
    evaluation = notebook.locator(".jp-CodeCell", has_text="await t.evaluate(1000)").locator(".jp-OutputArea-output")
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        rooms = page.evaluate(TRAFFIC_ROOMS_JS)
        if _live(rooms) and live_rooms is None:  # while the components still run: members are listed
            page.locator(".swergio-traffic").screenshot(path=str(artifacts / "traffic-live.png"))
            live_rooms = rooms
        prompts = page.evaluate(PROMPTS_JS)
        done = prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
        if done and lab.kernels()[0]["execution_state"] == "idle":
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"the notebook did not finish in {RUN_TIMEOUT:.0f} s; prompts {prompts}")
        errors = notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        if errors.filter(has_text="Traceback").count():
            _wait_idle(lab, 30)
            raise AssertionError("a cell failed:\n" + notebook.inner_text())
        time.sleep(0.5)
    _wait_idle(lab, 30)

    text = evaluation.inner_text()
    assert re.search(r"mean miss [\d.]+ m", text), text
    page.screenshot(path=str(artifacts / "jupyterlab-page.png"))
    _screenshot_whole_notebook(page, artifacts / "jupyterlab-notebook.png")

    # traffic widget: the pipeline's rooms with their members (seen while the components ran) and counts
    assert live_rooms is not None, f"the traffic widget never showed the live pipeline; now: {rooms}"
    for room in PIPELINE:
        assert live_rooms[room]["count"] > 0, live_rooms
    assert COMPONENTS <= {m for room in PIPELINE for m in live_rooms[room]["members"]}, live_rooms
    final_rooms = page.evaluate(TRAFFIC_ROOMS_JS)
    assert PIPELINE <= set(final_rooms) and all(final_rooms[r]["count"] > 0 for r in PIPELINE), final_rooms
    traffic = page.locator(".swergio-traffic")
    assert re.search(r"[1-9]\d* messages", traffic.inner_text())
    assert "monitor stopped" in traffic.inner_text()  # %unload_ext detached it: no frozen rates
    traffic.screenshot(path=str(artifacts / "traffic-widget.png"))

    # metrics widget: the loss curve PNG
    metrics = page.locator(".swergio-metrics")
    img = metrics.locator("img")
    src = img.get_attribute("src") or ""
    assert src.startswith("data:image/png;base64,") and len(src) > 1000, src[:100]
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=img.element_handle(), timeout=10_000)
    assert img.is_visible()
    metrics.screenshot(path=str(artifacts / "metrics-widget.png"))

    # browser -> kernel -> browser: unticking "log scale" re-renders the PNG in the kernel
    metrics.locator("input[type=checkbox]").uncheck()
    page.wait_for_function("([img, src]) => img.src !== src", arg=[img.element_handle(), src], timeout=15_000)
    metrics.screenshot(path=str(artifacts / "metrics-widget-linear.png"))

    # the matplotlib trajectories
    plot = notebook.locator(".jp-CodeCell", has_text="trajectory(aim").locator(".jp-RenderedImage img")
    assert plot.count() == 1
    assert plot.evaluate("(img) => img.naturalWidth") > 0
    plot.screenshot(path=str(artifacts / "trajectory-plot.png"))
