"""notebooks/04_melody_active_learning.ipynb runs top to bottom on a real kernel, with the simulated person chosen in
its first code cell (``RATER = "simulated"``; the notebook's default is the person at the widget), and a later
session goes on from the stored ratings and the saved network."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import nbformat

from tests.notebooks.notebook_runner import NOTEBOOKS, cell_containing, execute, text_of


def test_the_person_rates_by_default() -> None:
    nb = nbformat.read(NOTEBOOKS / "04_melody_active_learning.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code").source
    assert re.search(r'(?m)^RATER = "you"', first), first
    assert "environ" not in "".join(c.source for c in nb.cells)  # nothing to set before Jupyter starts


def test_melody_notebook_runs_headless_with_the_simulated_person(tmp_path: Path) -> None:
    workdir = tmp_path / "session"
    nb = execute("04_melody_active_learning.ipynb", RATER="simulated", WORKDIR=str(workdir))
    rounds = text_of(cell_containing(nb, "await rounds.get()"))
    labels = [int(n) for n in re.findall(r"round \d+: (\d+) labels", rounds)]
    assert labels == [5, 10, 15, 20], rounds
    assert re.search(r"round 4: 20 labels, test accuracy 0\.\d{3} \(within one 0\.\d{3}\), cross-validated", rounds)
    summary = text_of(cell_containing(nb, '"CMD": "STOP"'))
    assert re.search(r"\b20 ratings stored", summary), summary
    assert "exported 20 ratings" in summary
    image = cell_containing(nb, "piano_roll_png(best")
    assert any("image/png" in o.get("data", {}) for o in image["outputs"])
    # tomorrow: new processes, the saved network loaded, the 20 ratings trained on first
    tomorrow = text_of(cell_containing(nb, "tomorrow: network loaded"))
    assert re.search(r"tomorrow: network loaded from evalnet\.pt: True; round 0: 20 labels", tomorrow), tomorrow
    assert (workdir / "evalnet.pt").stat().st_size > 10_000
    with sqlite3.connect(workdir / "labels.db") as db:
        assert db.execute("SELECT count(*), min(source), max(source) FROM ratings").fetchone() == (
            20, "simulated", "simulated")  # fmt: skip
