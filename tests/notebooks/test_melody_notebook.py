"""notebooks/04_melody_active_learning.ipynb runs top to bottom on a real kernel with the simulated person."""

from __future__ import annotations

import re

from tests.notebooks.notebook_runner import cell_containing, execute, text_of


def test_melody_notebook_runs_headless() -> None:
    nb = execute("04_melody_active_learning.ipynb")
    rounds = text_of(cell_containing(nb, "await rounds.get()"))
    labels = [int(n) for n in re.findall(r"round \d+: (\d+) labels", rounds)]
    assert labels == [5, 10, 15, 20], rounds
    summary = text_of(cell_containing(nb, '"CMD": "STOP"'))
    assert re.search(r"\b20 ratings stored", summary), summary
    assert "exported 20 ratings" in summary
    image = cell_containing(nb, "piano_roll_png(best")
    assert any("image/png" in o.get("data", {}) for o in image["outputs"])
