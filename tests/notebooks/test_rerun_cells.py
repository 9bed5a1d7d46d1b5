"""Every notebook runs with each code cell run twice in a row in one kernel, as people re-run cells: no cell fails,
the hub, clients and components are reused (and say so), handlers are replaced rather than doubled, and no output
shows a hub's token."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.notebooks.notebook_runner import NOTEBOOKS, execute, text_of

#: Settings a headless run needs in a notebook's first cell (as in that notebook's own test).
PARAMETERS = {"04_melody_active_learning.ipynb": {"RATER": "simulated"}}
#: A hub URL with its token spelled out (a redacted one reads ``token=...``).
TOKEN = re.compile(r"token=(?!\.\.\.)[^\s&'\"]+")


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", [p.name for p in sorted(NOTEBOOKS.glob("*.ipynb"))])
def test_each_cell_run_twice(name: str, tmp_path: Path) -> None:
    parameters = dict(PARAMETERS.get(name, {}))
    if name.startswith("04_"):
        parameters["WORKDIR"] = str(tmp_path / "session")
    nb = execute(name, each_cell_twice=True, **parameters)  # raises on the first cell that fails
    code = [c for c in nb.cells if c.cell_type == "code"]
    texts = [text_of(c) for c in code]
    assert not [t for t in texts if TOKEN.search(t)], [TOKEN.findall(t) for t in texts if TOKEN.search(t)]
    for first, again, text in zip(code[0::2], code[1::2], texts[1::2], strict=True):
        assert first.source == again.source
        if "%swergio hub start" in again.source:
            assert "reusing the swergio hub" in text, text
        if re.search(r"(?m)^%swergio connect", again.source):
            assert "reused with its handlers" in text, text
    if name == "01_hello_world.ipynb":
        chat = next(t for c, t in zip(code, texts, strict=True) if "transcript))" in c.source).splitlines()
        assert chat == ["universe: Hello World!", "   world: Hello Universe!"] * 3  # replaced handlers, not doubled
        handlers = [t for c, t in zip(code, texts, strict=True) if "add_eventHandler" in c.source]
        assert "replaced the handler world_reply" in handlers[1] and "replaced" not in handlers[0], handlers
    if name.startswith("04_"):
        rated = [t for c, t in zip(code, texts, strict=True) if 'context["ask"]' in c.source]
        last = [max(int(n) for n in re.findall(r"(?m)^round (\d+):", t)) for t in rated]
        assert last[1] == last[0] + 4, rated  # ROUNDS = 4 more batches rated in the second run, not a wait
        setup = [t for c, t in zip(code, texts, strict=True) if "add_client(person_mod" in c.source]
        assert "replaced" in setup[1] and "replaced" not in setup[0], setup
