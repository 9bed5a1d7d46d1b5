"""End to end in a real browser: JupyterLab runs notebooks/02_trebuchet.ipynb, the widgets render and show data.

Headless Debian Chromium driven by Playwright (never a downloaded browser build). JupyterLab serves a temporary copy
of ``notebooks/`` (outputs are never saved into the repository) with its settings, workspaces and runtime files in
temporary folders and news/update checks off. Screenshots are kept in ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import (
    Lab,
    browser_page,
    open_notebook,
    run_all_cells,
    run_to_end,
    screenshot_whole_notebook,
    start_lab,
)

NOTEBOOK = "02_trebuchet.ipynb"
RUN_TIMEOUT = 240.0  # from "Run All Cells" until the last cell has run and the kernel is idle

pytestmark = pytest.mark.browser


@pytest.fixture()
def lab(chromium: Path, tmp_path: Path) -> Iterator[Lab]:
    with start_lab(tmp_path, [NOTEBOOK, "trebuchet.yaml"]) as server:
        yield server


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
    started = time.monotonic()
    with browser_page(chromium, tmp_path, artifacts) as (page, console):
        _run_notebook(page, lab, artifacts)
    print(f"browser test: {time.monotonic() - started:.1f} s")
    # the widgets load without errors or warnings (anywidget warns about deprecated module shapes, for one)
    widget_lines = [line for line in console if re.search(r"swergio|anywidget|traffic\.js|metrics\.js", line, re.I)]
    assert not [line for line in widget_lines if line.startswith(("error", "warning", "pageerror"))], widget_lines


def _run_notebook(page: Any, lab: Lab, artifacts: Path) -> None:
    notebook = open_notebook(page, lab, NOTEBOOK)
    run_all_cells(page, notebook)

    live_rooms: dict[str, Any] | None = None
    evaluation = notebook.locator(".jp-CodeCell", has_text="await t.evaluate(1000)").locator(".jp-OutputArea-output")

    def look_at_traffic() -> None:
        nonlocal live_rooms
        rooms = page.evaluate(TRAFFIC_ROOMS_JS)
        if _live(rooms) and live_rooms is None:  # while the components still run: members are listed
            page.locator(".swergio-traffic").screenshot(path=str(artifacts / "traffic-live.png"))
            live_rooms = rooms

    run_to_end(page, lab, notebook, RUN_TIMEOUT, on_tick=look_at_traffic)

    text = evaluation.inner_text()
    assert re.search(r"mean miss [\d.]+ m", text), text
    page.screenshot(path=str(artifacts / "jupyterlab-page.png"))
    screenshot_whole_notebook(page, artifacts / "jupyterlab-notebook.png")

    # traffic widget: the pipeline's rooms with their members (seen while the components ran) and counts
    final_rooms = page.evaluate(TRAFFIC_ROOMS_JS)
    assert live_rooms is not None, f"the traffic widget never showed the live pipeline; now: {final_rooms}"
    for room in PIPELINE:
        assert live_rooms[room]["count"] > 0, live_rooms
    assert COMPONENTS <= {m for room in PIPELINE for m in live_rooms[room]["members"]}, live_rooms
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
