"""notebooks/05_contextual_bandit.ipynb runs top to bottom on a real kernel and shows both architectures learning."""

from __future__ import annotations

import re

from .notebook_runner import cell_containing, execute, text_of


def test_bandit_notebook_runs_both_architectures():
    nb = execute("05_contextual_bandit.ipynb")
    base = re.search(
        r"baseline: regret ([\d.]+) vs uniform random ([\d.]+)", text_of(cell_containing(nb, 'label="baseline"'))
    )
    assert base is not None and float(base.group(1)) < 0.6 * float(base.group(2))
    assert "pending 0" in text_of(cell_containing(nb, 'label="baseline"'))
    inproc = re.search(r"in-process: regret ([\d.]+) vs uniform", text_of(cell_containing(nb, 'label="in-process"')))
    assert inproc is not None and float(inproc.group(1)) < 0.6 * float(base.group(2))
    table = text_of(cell_containing(nb, "def ms(a, q)")).splitlines()
    assert [line.split()[0] for line in table[1:]] == ["baseline", "in-process"]
    plot = cell_containing(nb, "ax.plot(np.cumsum(baseline.regret)")
    assert any("image/png" in o.get("data", {}) for o in plot.outputs)
    widgets = cell_containing(nb, "display(regret, reward)")
    assert sum("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in widgets.outputs) == 2
