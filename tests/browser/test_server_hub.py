"""End to end in a real browser, with the hub inside Jupyter Server under a JupyterHub-like ``base_url``: the
dashboard page (``{base_url}swergio/``) is open in one tab while JupyterLab runs notebooks/01_hello_world.ipynb in
another against the server's hub, then Notebook 7 runs the same notebook; the dashboard shows both runs' traffic.

Headless Debian Chromium driven by Playwright; screenshots in ``test-artifacts/`` (``server-dashboard.png``,
``server-hub-jupyterlab.png``, ``server-hub-notebook7.png``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import PROMPTS_JS, Lab, browser_page, open_notebook, run_all_cells, start_lab
from tests.browser.test_jupyterlab import TRAFFIC_ROOMS_JS

NOTEBOOK = "01_hello_world.ipynb"
BASE_URL = "/user/someone/"
RUN_TIMEOUT = 120.0
ROOM = "galactic_chat"
EXCHANGE = 6  # messages of one run of the notebook in galactic_chat

pytestmark = pytest.mark.browser


@pytest.fixture()
def lab(chromium: Path, tmp_path: Path) -> Iterator[Lab]:
    with start_lab(tmp_path, [NOTEBOOK], base_url=BASE_URL, log_name="jupyter-server-hub.log") as server:
        yield server


def _wait_for_run(page: Any, notebook: Any, lab: Lab) -> None:
    """Wait until every cell has run and the kernel is idle (AssertionError on a traceback or the timeout)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        prompts = page.evaluate(PROMPTS_JS)
        if prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
            kernels = lab.kernels()
            if kernels and all(k["execution_state"] == "idle" for k in kernels):
                return
        if notebook.locator(".jp-OutputArea-output", has_text="Traceback").count():
            raise AssertionError("a cell failed:\n" + notebook.inner_text())
        if time.monotonic() > deadline:
            raise AssertionError(f"the notebook did not finish in {RUN_TIMEOUT:.0f} s; prompts {prompts}")
        time.sleep(0.5)


def _check_outputs(notebook: Any) -> None:
    text = notebook.inner_text()
    assert "using the Jupyter server's swergio hub" in text, text  # %swergio hub start took the server's
    assert "Hello Universe!" in text and "Hello World!" in text, text
    assert f"{BASE_URL}swergio/ws?token=..." in text, text  # the server's hub, its token hidden


def _dashboard_count(dashboard: Any) -> int:
    rooms = dashboard.evaluate(TRAFFIC_ROOMS_JS) or {}
    return rooms.get(ROOM, {}).get("count", 0)


def _wait_for_count(dashboard: Any, at_least: int) -> None:
    deadline = time.monotonic() + 30
    while _dashboard_count(dashboard) < at_least:
        if time.monotonic() > deadline:
            raise AssertionError(f"the dashboard shows {dashboard.evaluate(TRAFFIC_ROOMS_JS)}")
        time.sleep(0.25)


@pytest.mark.timeout(480)
def test_notebooks_in_jupyterlab_and_notebook7_use_the_servers_hub_and_the_dashboard_shows_it(
    chromium: Path, lab: Lab, artifacts: Path, tmp_path: Path
) -> None:
    with browser_page(chromium, tmp_path, artifacts, console_log="server-hub-console.log") as (page, console):
        dashboard = page.context.new_page()
        dashboard.on("console", lambda msg: console.append(f"dashboard {msg.type}: {msg.text}"))
        dashboard.on("pageerror", lambda exc: console.append(f"dashboard pageerror: {exc}"))
        dashboard.goto(f"{lab.base}/swergio/?token={lab.token}")  # the token logs the browser in, as for Lab
        dashboard.locator("#status[data-state='live']").wait_for(timeout=30_000)
        dashboard.locator(".swergio-traffic").wait_for()

        # JupyterLab
        notebook = open_notebook(page, lab, NOTEBOOK)
        run_all_cells(page, notebook)
        _wait_for_run(page, notebook, lab)
        _check_outputs(notebook)
        page.screenshot(path=str(artifacts / "server-hub-jupyterlab.png"))
        _wait_for_count(dashboard, EXCHANGE)
        rooms = dashboard.evaluate(TRAFFIC_ROOMS_JS)
        assert "_traffic" in rooms and "jupyter-dashboard" in rooms["_traffic"]["members"], rooms

        # Notebook 7, a fresh kernel of the same server
        for kernel in lab.kernels():
            lab.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=30)
        notebook = open_notebook(page, lab, NOTEBOOK, "notebook7")
        run_all_cells(page, notebook)
        _wait_for_run(page, notebook, lab)
        _check_outputs(notebook)
        page.screenshot(path=str(artifacts / "server-hub-notebook7.png"))

        _wait_for_count(dashboard, 2 * EXCHANGE)
        text = dashboard.locator(".swergio-traffic").inner_text()
        assert "DATA/TEXT" in text and "Hello" in text, text  # the tail shows the exchange
        dashboard.screenshot(path=str(artifacts / "server-dashboard.png"), full_page=True)
    # the dashboard and the widgets load without errors (JupyterLab's and Notebook 7's own console lines aside)
    ours = [line for line in console if line.startswith("dashboard ") or re.search(r"swergio|traffic\.js", line, re.I)]
    assert not [line for line in ours if re.search(r"\b(error|warning|pageerror)\b", line)], ours
