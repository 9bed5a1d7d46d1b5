"""End to end in a real browser: JupyterLab runs notebooks/04_melody_active_learning.ipynb as a person would (its
default: ``RATER = "you"``; the first cell edited to one batch of 6): the widget joins the Jupyter server's hub
itself as the person component (HubLabellingWidget), next to the label store component's process. The test rates 5
melodies with its buttons and its keys (never clicking into the widget first: a new melody takes the focus), undoes
one, checks that the SQLite store the store component writes holds exactly the 4 left, rates the fifth again, skips
the sixth with a key, undoes that last decision of the batch and skips it again, and checks the end of the session
(CSV export, the network saved and loaded again). A key pressed as a new melody appears is refused, and "nothing to
undo" is not shown as a success.

Helpers and fixtures: :mod:`tests.browser.lab` and ``conftest.py``. Screenshots go to ``test-artifacts/melody-*.png``.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.browser.lab import (
    PROMPTS_JS,
    Lab,
    browser_page,
    open_notebook,
    run_all_cells,
    screenshot_whole_notebook,
    start_lab,
    wait_idle,
)
from tests.notebooks.notebook_runner import with_parameters

NOTEBOOK = "04_melody_active_learning.ipynb"
RUN_TIMEOUT = 240.0  # from the last click until the notebook has run to the end (it restarts its processes once)
K = 6  # melodies in the batch: five rated, one undone, and the batch still open
RATED = K - 1  # in the end: the sixth is skipped

pytestmark = pytest.mark.browser

#: What the person does, in order: ("click", r) clicks button r, ("key", r) presses key r on the widget.
FIRST_FIVE: list[tuple[str, int]] = [("click", 3), ("key", 4), ("click", 1), ("key", 5), ("click", 2)]
#: After undoing the fifth: the fifth again (the sixth is then skipped with the key s).
AGAIN: tuple[str, int] = ("key", 0)


@pytest.fixture()
def lab(chromium: Path, tmp_path: Path) -> Iterator[Lab]:
    with start_lab(tmp_path, [NOTEBOOK, "melody.yaml"], log_name="melody-jupyterlab.log") as server:
        # the person's own settings, edited in the notebook's first cell: one batch of 6 (RATER stays "you")
        nb = with_parameters(nbformat.read(server.root / NOTEBOOK, as_version=4), ROUNDS=1, K=K)
        assert re.search(r'(?m)^RATER = "you"', next(c for c in nb.cells if c.cell_type == "code").source)
        nbformat.write(nb, server.root / NOTEBOOK)
        yield server


def _stored(lab: Lab) -> list[tuple[int, str]]:
    """The ratings in the kernel's SQLite store (read while the kernel runs: WAL lets a reader in)."""
    with contextlib.closing(sqlite3.connect(lab.root / "melody-session" / "labels.db")) as db:
        return db.execute("SELECT rating, source FROM ratings ORDER BY id").fetchall()


@pytest.mark.timeout(480)
def test_rate_five_by_keys_and_clicks_undo_one_in_jupyterlab(
    chromium: Path, lab: Lab, artifacts: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    with browser_page(chromium, tmp_path, artifacts, console_log="melody-browser-console.log") as (page, console):
        _rate_in_browser(page, lab, artifacts)
    print(f"melody browser test: {time.monotonic() - started:.1f} s")
    widget_lines = [line for line in console if re.search(r"swergio|anywidget|labelling\.js", line, re.I)]
    assert not [line for line in widget_lines if line.startswith(("error", "warning", "pageerror"))], widget_lines

    # the whole batch, in order, from the person; exported as swergio's CSV at the end of the session
    expected = [r for _, r in [*FIRST_FIVE[:4], AGAIN]]
    assert _stored(lab) == [(r, "person") for r in expected]
    csv = (lab.root / "melody-session" / "ratings.csv").read_text().splitlines()
    assert [int(line.rsplit(",", 1)[1]) for line in csv] == expected
    assert (lab.root / "melody-session" / "evalnet.pt").exists()  # the network, saved for the next session


#: JS: the labelling widget's visible state, or null before it renders.
WIDGET_JS = """() => {
  const w = document.querySelector('.swergio-labelling');
  if (!w) return null;
  const melody = w.querySelector('.melody');
  return {
    rater: w.querySelector('.rater').textContent,
    progress: w.querySelector('.progress').textContent,
    learner: w.querySelector('.learner').textContent,
    status: w.querySelector('.status').textContent,
    refused: w.querySelector('.status').classList.contains('refused'),
    focused: document.activeElement === w.querySelector('.swergio-labelling') || w.contains(document.activeElement),
    melody: melody.style.display !== 'none',
    audio: (w.querySelector('audio').getAttribute('src') || '').slice(0, 22),
    roll: w.querySelector('img.roll').naturalWidth,
    undo: !w.querySelector('button.undo').disabled,
  };
}"""


def _state(page: Any) -> dict[str, Any] | None:
    return page.evaluate(WIDGET_JS)


def _wait_state(page: Any, lab: Lab, notebook: Any, check: Any, what: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll the widget until ``check(state)`` holds (AssertionError with the page's text if a cell fails)."""
    deadline = time.monotonic() + timeout
    while True:
        state = _state(page)
        if state is not None and check(state):
            return state
        errors = notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        if errors.filter(has_text="Traceback").count():
            raise AssertionError("a cell failed:\n" + notebook.inner_text())
        if time.monotonic() > deadline:
            raise AssertionError(f"the widget never showed {what} in {timeout:.0f} s; it shows {state}")
        time.sleep(0.1)


def _rate_in_browser(page: Any, lab: Lab, artifacts: Path) -> None:
    notebook = open_notebook(page, lab, NOTEBOOK)
    run_all_cells(page, notebook)
    widget = page.locator(".swergio-labelling")

    def wait_melody(position: int) -> dict[str, Any]:
        return _wait_state(
            page, lab, notebook,
            lambda s: s["melody"] and s["progress"] == f"{position} of {K}" and s["roll"] > 0
            and s["audio"].startswith("data:audio/wav;base64"),
            f"melody {position} of {K}",
        )  # fmt: skip

    def rate(how: str, rating: int, position: int) -> None:
        wait_melody(position)
        page.wait_for_timeout(600)  # a person looks at a new melody before rating it (keys are refused for 0.4 s)
        if how == "key":  # no click first: the new melody took the focus
            page.keyboard.press(str(rating))
        else:
            widget.locator("button.rate", has_text=re.compile(rf"^{rating}$")).click()
        _wait_state(
            page, lab, notebook,
            lambda s: re.fullmatch(rf"saved rating {rating} \(row \d+\)", s["status"]) is not None
            and s["progress"] != f"{position} of {K}",
            f"'saved rating {rating}' and the next melody",
        )  # fmt: skip

    first = wait_melody(1)
    assert first["rater"] == "rating: you", first  # the screen says who rates
    members = lab.api("GET", "/swergio/api/hub")["members"]
    # the page and the store component are on the hub; no person component in the kernel (its name is "user")
    assert {"person", "label-store"} <= set(members) and "user" not in members, members
    assert "learner: 0 labels" in first["learner"] and not first["undo"], first
    cells = _cell_kinds(page)
    widget.screenshot(path=str(artifacts / "melody-widget-first.png"))
    # keys work without a click into the widget: the melody took the focus; "nothing to undo" is not a success
    _wait_state(page, lab, notebook, lambda s: s["focused"], "the focus on the widget", timeout=10)
    page.keyboard.press("u")
    nothing = _wait_state(page, lab, notebook, lambda s: s["status"] == "nothing to undo", "'nothing to undo'")
    assert nothing["refused"], nothing
    for position, (how, rating) in enumerate(FIRST_FIVE, start=1):
        rate(how, rating, position)
        if position == 2:  # a key pressed as the next melody appears must not rate it
            wait_melody(3)
            page.keyboard.press("0")
            early = _wait_state(page, lab, notebook, lambda s: "listen first" in s["status"], "the early key refused")
            assert early["refused"] and early["progress"] == f"3 of {K}", early
            assert len(_stored(lab)) == 2
    assert [r for r, _ in _stored(lab)] == [r for _, r in FIRST_FIVE]
    widget.locator("button.undo").click()
    undone = _wait_state(
        page, lab, notebook,
        lambda s: s["status"] == "undone: rate it again" and s["progress"] == f"5 of {K}", "the fifth melody again",
    )  # fmt: skip
    widget.screenshot(path=str(artifacts / "melody-widget-undone.png"))
    # the store holds exactly the four ratings left, in order, each from the person
    assert _stored(lab) == [(r, "person") for _, r in FIRST_FIVE[:4]], undone
    rate(*AGAIN, 5)
    wait_melody(6)
    page.wait_for_timeout(600)
    page.keyboard.press("s")
    # the batch's last decision can be undone: the notebook's undo window (3 s) keeps the batch open meanwhile
    _wait_state(page, lab, notebook, lambda s: s["status"] == "skipped" and s["undo"], "the sixth skipped, undoable")
    page.keyboard.press("u")
    _wait_state(
        page, lab, notebook,
        lambda s: s["status"] == "undone: rate it again" and s["progress"] == f"6 of {K}", "the sixth again",
    )  # fmt: skip
    page.wait_for_timeout(600)
    page.keyboard.press("s")
    # the batch is answered (5 ratings, 1 skip): the learner trains on it and says so (the widget closes at the end)
    _wait_state(
        page, lab, notebook, lambda s: s["status"] == "skipped" and not s["melody"], "the sixth skipped"
    )  # fmt: skip
    _wait_state(page, lab, notebook, lambda s: f"learner: {RATED} labels" in s["learner"], f"{RATED} labels")
    widget.screenshot(path=str(artifacts / "melody-widget-answered.png"))

    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        prompts = page.evaluate(PROMPTS_JS)
        if (
            prompts
            and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)
            and lab.kernels()[0]["execution_state"] == "idle"
        ):
            break
        if (
            notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            .filter(has_text="Traceback")
            .count()
        ):
            raise AssertionError("a cell failed:\n" + notebook.inner_text())
        if time.monotonic() > deadline:
            raise AssertionError(f"the notebook did not finish in {RUN_TIMEOUT:.0f} s; prompts {prompts}")
        time.sleep(0.5)
    wait_idle(lab, 30)
    screenshot_whole_notebook(page, artifacts / "melody-notebook.png")

    rounds = notebook.locator(".jp-CodeCell", has_text="await rounds.get()").inner_text()
    assert [int(n) for n in re.findall(r"round \d+: (\d+) labels", rounds)] == [RATED], rounds
    summary = notebook.locator(".jp-CodeCell", has_text='"CMD": "STOP"').inner_text()
    assert re.search(rf"\b{RATED} ratings stored", summary), summary
    tomorrow = notebook.locator(".jp-CodeCell", has_text="tomorrow: network loaded").inner_text()
    assert re.search(rf"network loaded from evalnet\.pt: True; round 0: {RATED} labels", tomorrow), tomorrow
    # the shortcuts went to the widget only: JupyterLab did not turn a cell into a heading (its keys 1-5) etc.
    assert _cell_kinds(page) == cells


def _cell_kinds(page: Any) -> list[str]:
    """The notebook's cell types in order ("code", "markdown")."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')]
          .map((c) => c.classList.contains('jp-CodeCell') ? 'code' : 'markdown')"""
    )
