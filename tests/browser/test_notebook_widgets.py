"""End to end in a real browser: JupyterLab runs notebooks 03, 05 and 06 top to bottom as a person would (Run All
Cells), and every widget they show renders with data: each metrics widget's plot is a loaded PNG, each traffic widget
counts messages. Screenshots of every widget and of the whole notebook are kept in ``test-artifacts/``
(``<notebook>-metrics-<i>.png``, ``<notebook>-traffic.png``, ``<notebook>-notebook.png``).

(Notebook 01 runs in the browser in ``test_server_hub.py``, 02 in ``test_jupyterlab.py``, 04 in
``test_melody_widget.py``.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.lab import (
    browser_page,
    open_notebook,
    run_all_cells,
    run_to_end,
    screenshot_whole_notebook,
    start_lab,
)

pytestmark = pytest.mark.browser

#: notebook -> (files it needs beside it, metrics widgets it shows, whether it shows a traffic widget)
NOTEBOOKS = {
    "03_cartpole_rl.ipynb": ((), 1, True),
    "05_contextual_bandit.ipynb": (("bandit.yaml", "bandit_agent.yaml"), 2, True),
    "06_control.ipynb": (("trebuchet.yaml",), 1, False),
}
RUN_TIMEOUT = 420.0  # from "Run All Cells" until the last cell has run and the kernel is idle


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs_in_jupyterlab_and_its_widgets_show_data(
    name: str, chromium: Path, artifacts: Path, tmp_path: Path
) -> None:
    files, n_metrics, has_traffic = NOTEBOOKS[name]
    stem = name.split("_", 1)[0]
    with start_lab(tmp_path, [name, *files], log_name=f"jupyterlab-{stem}.log") as lab:
        with browser_page(chromium, tmp_path, artifacts, console_log=f"browser-{stem}-console.log") as (page, console):
            notebook = open_notebook(page, lab, name)
            run_all_cells(page, notebook)
            run_to_end(page, lab, notebook, RUN_TIMEOUT)
            screenshot_whole_notebook(page, artifacts / f"{stem}-notebook.png")

            metrics = page.locator(".swergio-metrics")
            assert metrics.count() == n_metrics, notebook.inner_text()
            for i in range(n_metrics):
                widget = metrics.nth(i)
                img = widget.locator("img")
                src = img.get_attribute("src") or ""
                assert src.startswith("data:image/png;base64,") and len(src) > 1000, (i, src[:100])
                page.wait_for_function(
                    "(img) => img.complete && img.naturalWidth > 0", arg=img.element_handle(), timeout=10_000
                )
                widget.scroll_into_view_if_needed()
                widget.screenshot(path=str(artifacts / f"{stem}-metrics-{i}.png"))

            traffic = page.locator(".swergio-traffic")
            assert traffic.count() == int(has_traffic)
            if has_traffic:
                assert re.search(r"[1-9]\d* messages", traffic.inner_text()), traffic.inner_text()
                traffic.scroll_into_view_if_needed()
                traffic.screenshot(path=str(artifacts / f"{stem}-traffic.png"))

    widget_lines = [line for line in console if re.search(r"swergio|anywidget|traffic\.js|metrics\.js", line, re.I)]
    assert not [line for line in widget_lines if line.startswith(("error", "warning", "pageerror"))], widget_lines
