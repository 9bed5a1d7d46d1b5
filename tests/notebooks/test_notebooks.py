"""Every notebook in notebooks/ runs top to bottom on a real kernel (nbclient), and shows what it should.

Each notebook has its test in a ``tests/notebooks/test_*.py`` file that runs it with ``execute`` (from
notebook_runner) by its file name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .notebook_runner import NOTEBOOKS, cell_containing, execute, text_of


def test_every_notebook_is_tested():
    sources = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    tested = set(re.findall(r'execute\("([^"]+\.ipynb)"', sources))
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(tested)


def test_hello_world():
    nb = execute("01_hello_world.ipynb")
    chat = text_of(cell_containing(nb, 'print("\\n".join(transcript))')).splitlines()
    assert chat == ["universe: Hello World!", "   world: Hello Universe!"] * 3
    assert "galactic_chat  universe, world" in text_of(cell_containing(nb, "%swergio rooms"))
    # the traffic monitor saw the six chat messages in the room
    assert "'galactic_chat': 6" in text_of(cell_containing(nb, "monitor.update_now()"))


def test_trebuchet_trained_from_cells():
    nb = execute("02_trebuchet.ipynb")
    miss = re.search(r"mean miss ([\d.]+) m", text_of(cell_containing(nb, "await t.evaluate(1000)")))
    assert miss is not None and float(miss.group(1)) < 8.0  # untrained: ~30 m
    steps = text_of(cell_containing(nb, "await t.step(400"))
    assert "600 steps, last batch RMS miss" in steps
    hits = re.findall(r"target\s+([\d.]+) m\s+->\s+hit\s+([\d.]+) m", text_of(cell_containing(nb, "await t.shoot")))
    assert len(hits) == 3 and all(abs(float(t) - float(h)) < 15 for t, h in hits)
    plot = cell_containing(nb, "trajectory(aim")
    assert any("image/png" in o.get("data", {}) for o in plot.outputs)
    assert "connected to" in text_of(cell_containing(nb, "%swergio logs control"))


@pytest.fixture(autouse=True, scope="module")
def _kernel_available():
    from jupyter_client.kernelspec import KernelSpecManager

    assert "python3" in KernelSpecManager().find_kernel_specs(), "ipykernel's python3 kernel spec is not installed"
