"""Every control of the traffic and metrics widgets reaches the kernel any number of times, during a running cell
and after it, clicked and typed in JupyterLab and in Notebook 7 in headless Chromium.

The notebook is written for the test: one cell shows both widgets and records every change the kernel sees; the next
cell awaits (as ``await t.step(...)`` does) until the room filter typed in the browser says ``stop``; the last cell
prints what the kernel holds. Pausing twice and ticking "log scale" twice while the awaiting cell runs, then twice
more after every cell ran, must all arrive, in order.
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.browser.lab import Lab, browser_page, open_notebook, run_all_cells, start_lab, wait_idle

pytestmark = pytest.mark.browser

NOTEBOOK = "controls.ipynb"
SHOW = """\
from swergio_nb.notebook.widgets import MetricsWidget, TrafficWidget

traffic = TrafficWidget()
metrics = MetricsWidget(title="controls", interval=0.1, log_scale=True)
seen = []
traffic.observe(lambda c: seen.append((c["name"], c["new"])), ["paused", "room_filter"])
metrics.observe(lambda c: seen.append((c["name"], c["new"])), ["log_scale", "smoothing"])
display(traffic, metrics)"""
RUNNING = """\
import asyncio, time

deadline = time.monotonic() + 120  # bounded: the test types "stop" long before
step = 0
while traffic.room_filter != "stop" and time.monotonic() < deadline:
    metrics.push("loss", 1.0 + step % 50, step)
    step += 1
    await asyncio.sleep(0.05)
print(f"running cell ended after {step} steps")"""
STATE = """print(f"STATE paused={traffic.paused} log_scale={metrics.log_scale} seen={seen}")"""


@pytest.fixture()
def lab(chromium: Path, tmp_path: Path) -> Iterator[Lab]:
    with start_lab(tmp_path, []) as server:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in (SHOW, RUNNING, STATE)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, server.root / NOTEBOOK)
        yield server


def _toggle_twice(page: Any) -> None:
    """Pause, resume; untick, tick "log scale"; smoothing 0.5, then 0 - waiting each time until the kernel's answer
    is drawn."""
    pause = page.locator(".swergio-traffic button").first
    log = page.locator(".swergio-metrics input[type=checkbox]")
    for label in ("resume", "pause"):
        pause.click()
        page.wait_for_function(
            "(label) => document.querySelector('.swergio-traffic button').textContent === label", arg=label
        )
    for _ in range(2):
        was = log.is_checked()
        img = page.locator(".swergio-metrics img")
        before = img.get_attribute("src") or ""
        log.click()
        assert log.is_checked() is not was
        if before:  # the kernel re-renders with the other scale: a new PNG is drawn
            page.wait_for_function(
                "(src) => document.querySelector('.swergio-metrics img').src !== src", arg=before, timeout=15_000
            )
    slider = page.locator(".swergio-metrics input[type=range]")
    for value in ("0.5", "0"):
        before = page.locator(".swergio-metrics img").get_attribute("src") or ""
        slider.fill(value)  # input and change events, as a drag that ends there
        page.wait_for_function(
            "(src) => document.querySelector('.swergio-metrics img').src !== src", arg=before, timeout=15_000
        )


TWICE = [
    ("paused", True),
    ("paused", False),
    ("log_scale", False),
    ("log_scale", True),
    ("smoothing", 0.5),
    ("smoothing", 0.0),
]


def _seen(state: str) -> list[tuple[str, Any]]:
    """The kernel's record of trait changes, from the STATE line."""
    return ast.literal_eval(state.split("seen=", 1)[1].strip())


def _controls(state: str) -> list[tuple[str, Any]]:
    """The pause and log-scale changes the kernel saw, in order."""
    return [change for change in _seen(state) if change[0] != "room_filter"]


def _state_text(notebook: Any) -> str:
    return notebook.locator(".jp-CodeCell", has_text="STATE paused").locator(".jp-OutputArea-output").inner_text()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("ui", ["lab", "notebook7"])
def test_widget_controls_work_during_and_after_a_running_cell(
    chromium: Path, lab: Lab, artifacts: Path, tmp_path: Path, ui: str
) -> None:
    with browser_page(chromium, tmp_path, artifacts, console_log=f"controls-{ui}-console.log") as (page, console):
        notebook = open_notebook(page, lab, NOTEBOOK, ui)
        run_all_cells(page, notebook)
        page.locator(".swergio-metrics img[src^='data:image/png']").wait_for(timeout=60_000)
        prompts = notebook.locator(".jp-CodeCell .jp-InputPrompt")
        assert prompts.nth(1).inner_text().strip() == "[*]:"  # the awaiting cell is running

        _toggle_twice(page)  # during the running cell
        _toggle_twice(page)  # and again: the second use is what used to stay in the browser
        filter_box = page.locator(".swergio-traffic input[type=text]").first
        filter_box.fill("stop")
        wait_idle(lab, 60)
        page.locator(".swergio-traffic").screenshot(path=str(artifacts / f"controls-{ui}-traffic.png"))
        page.locator(".swergio-metrics").screenshot(path=str(artifacts / f"controls-{ui}-metrics.png"))
        during = _state_text(notebook)
        assert "paused=False log_scale=True" in during, during
        assert _controls(during) == TWICE * 2, during
        assert ("room_filter", "stop") in _seen(during), during

        # after every cell ran: the same controls, twice more, then ask the kernel again
        _toggle_twice(page)
        page.locator(".swergio-traffic button").first.click()  # leave it paused
        page.wait_for_function("() => document.querySelector('.swergio-traffic button').textContent === 'resume'")
        page.locator(".swergio-metrics input[type=checkbox]").click()  # and linear
        cell = notebook.locator(".jp-CodeCell", has_text="STATE paused")
        cell.locator(".jp-InputPrompt").click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 60
        while _state_text(notebook) == during and time.monotonic() < deadline:
            time.sleep(0.25)
        after = _state_text(notebook)
        assert "paused=True log_scale=False" in after, after
        assert _controls(after) == TWICE * 3 + [("paused", True), ("log_scale", False)], after
        assert page.locator(".swergio-traffic button").first.inner_text() == "resume"
        assert not page.locator(".swergio-metrics input[type=checkbox]").is_checked()
    widget_errors = [line for line in console if re.search(r"swergio|anywidget", line, re.I) and "error" in line]
    assert not widget_errors, widget_errors
