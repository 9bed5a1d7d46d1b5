"""notebooks/03_cartpole_rl.ipynb runs top to bottom on a real kernel: processes, live rewards, training, evolution."""

from __future__ import annotations

import re

from .notebook_runner import cell_containing, execute, text_of


def test_cartpole_trained_and_evolved_from_cells():
    nb = execute("03_cartpole_rl.ipynb")
    before = float(
        re.search(r"before training: ([\d.]+)", text_of(cell_containing(nb, "await control.evaluate(20)"))).group(1)
    )
    after_text = text_of(cell_containing(nb, "after = await control.evaluate(20)"))
    after = float(re.search(r"training episodes: ([\d.]+)", after_text).group(1))
    assert "after 140 training episodes" in after_text
    assert after > 3 * before  # untrained: ~15 steps
    first = text_of(cell_containing(nb, "run = await control.run_episodes(20)\nprint"))
    assert re.search(r"20 training episodes: mean return [\d.]+, \d+ environment steps, \d+ steps/s", first)
    evolution = text_of(cell_containing(nb, "generation = await control.evolve()"))
    assert "generation 1: contribution over" in evolution
    assert len(re.findall(r"model-\d: contribution\s+[\d.]+\s+->\s+weights from model-\d", evolution)) == 3
    widgets = text_of(cell_containing(nb, "rewards.series"))
    series = re.search(r"reward series: (\{.*\})", widgets).group(1)
    assert "'episode return': 140" in series and "'greedy mean return': 2" in series
    counts = re.search(r"room counts: (\{.*\})", widgets).group(1)
    assert all(f"'{room}':" in counts for room in ("action", "logits", "observation"))
    assert "connected to" in text_of(cell_containing(nb, "%swergio logs model-0"))
