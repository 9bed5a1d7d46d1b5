"""End to end in a real browser: a person rates while the kernel is busy. In JupyterLab, a notebook shows the
labelling widget that joins the Jupyter server's hub itself as the person component (``HubLabellingWidget``), a
learner in the kernel asks for 5 ratings, and the next cell runs ``time.sleep(30)``. The person rates the 5 melodies
during that sleep: each one "saved" on the answer of the label store component (its own process), the kernel busy
throughout. When the cell ends, the learner has all 5, with the genomes it sent.

Screenshot: ``test-artifacts/person-widget.png``.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from tests.browser.lab import PROMPTS_JS, Lab, browser_page, open_notebook, run_all_cells, start_lab, wait_idle
from tests.browser.person_page import RATINGS, rate, store_process, wait_melody

NOTEBOOK = "rate_while_busy.ipynb"
SLEEP = 30  # seconds the kernel is blocked while the person rates
K = len(RATINGS)

CELLS = [
    "%load_ext swergio_nb\n%swergio hub start",
    """import asyncio, time
import numpy as np
from swergio_nb import Client, current_session
from swergio_nb.examples.melody.widget import HubLabellingWidget, browser_hub_url
url = current_session().hub_url
widget = HubLabellingWidget(browser_hub_url(url), undo_window=0.5)
widget""",
    f"""learner = await Client("learner", url).connect()
genomes = np.random.default_rng(0).integers(0, 2, ({K}, 128), dtype=np.uint8)
while "person" not in (await learner.room_table()).get("user", []):
    await asyncio.sleep(0.1)
asking = asyncio.ensure_future(learner.request({{"TYPE": "DATA/CUSTOM", "TO_ROOM": "user", "GENOMES": genomes}},
                                             reply_room="user", reply_type="DATA/CUSTOM", timeout=None))
await asyncio.sleep(0.5)  # the request leaves before the kernel blocks
print("asked for", len(genomes), "ratings")""",
    f"""time.sleep({SLEEP})  # the kernel is busy: no widget message, no hub message reaches it meanwhile
print("slept; answered while sleeping:", asking.done())""",
    """reply = await asyncio.wait_for(asking, 10)
print("the learner has", reply["FITNESS"], "for its genomes:", bool(np.array_equal(reply["GENOMES"], genomes)))
await learner.close()""",
]

pytestmark = pytest.mark.browser


@pytest.fixture()
def lab(chromium: Path, tmp_path: Path) -> Iterator[Lab]:
    with start_lab(tmp_path, [], log_name="person-widget-server.log") as server:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, server.root / NOTEBOOK)
        yield server


def _stored(db: Path) -> list[int]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [r for (r,) in conn.execute("SELECT rating FROM ratings ORDER BY id")]


@pytest.mark.timeout(300)
def test_a_person_rates_five_melodies_while_a_cell_blocks_the_kernel(
    chromium: Path, lab: Lab, artifacts: Path, tmp_path: Path
) -> None:
    db = tmp_path / "labels.db"
    log = "person-widget-console.log"
    with store_process(lab, db), browser_page(chromium, tmp_path, artifacts, console_log=log) as (page, console):
        notebook = open_notebook(page, lab, NOTEBOOK)
        run_all_cells(page, notebook)
        wait_melody(page, 1, K)
        sleeping = notebook.locator(".jp-CodeCell", has_text="time.sleep(")
        started = time.monotonic()
        assert sleeping.locator(".jp-InputPrompt").inner_text().strip() == "[*]:"  # the sleep has begun
        for position, (how, rating) in enumerate(RATINGS, start=1):
            rate(page, how, rating, position, K)
        # every rating is stored and confirmed, the answer sent, and the kernel is still inside the sleep
        assert _stored(db) == [r for _, r in RATINGS]
        assert lab.kernels()[0]["execution_state"] == "busy"
        assert time.monotonic() - started < SLEEP, "the ratings took longer than the sleep: nothing proven"
        page.wait_for_timeout(1000)  # the undo window (0.5 s) passes: the answer goes to the learner
        page.locator(".swergio-labelling").screenshot(path=str(artifacts / "person-widget.png"))

        deadline = time.monotonic() + SLEEP + 60
        while not all(re.fullmatch(r"\[\d+\]:", p) for p in page.evaluate(PROMPTS_JS)):
            if notebook.locator(".jp-OutputArea-output", has_text="Traceback").count():
                raise AssertionError("a cell failed:\n" + notebook.inner_text())
            assert time.monotonic() < deadline, f"the notebook did not finish: {page.evaluate(PROMPTS_JS)}"
            time.sleep(0.5)
        wait_idle(lab, 30)
        text = notebook.inner_text()
    assert "slept; answered while sleeping: False" in text, text  # the kernel saw nothing during the sleep
    assert f"the learner has {[r for _, r in RATINGS]} for its genomes: True" in text, text
    ours = [line for line in console if re.search(r"swergio|labelling", line, re.I)]
    assert not [line for line in ours if line.startswith(("error", "warning", "pageerror"))], ours
