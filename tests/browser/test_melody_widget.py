"""End to end in a real browser: JupyterLab runs notebooks/04_melody_active_learning.ipynb with the person in the
browser (``MELODY_PERSON=browser``): the test rates the melodies by clicking the LabellingWidget's buttons, with a
keyboard shortcut and an undo, then checks the SQLite label store the kernel wrote and what the widget showed.

Helpers and fixtures: :mod:`tests.browser.lab` and ``conftest.py``. Screenshots go to ``test-artifacts/melody-*.png``.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

NOTEBOOK = "04_melody_active_learning.ipynb"
RUN_TIMEOUT = 120.0  # from the last click until the notebook has run to the end

pytestmark = pytest.mark.browser

#: What the browser does for each melody of each batch of 5: ("click", r) clicks button r, ("key", r) presses key r
#: on the widget, ("undo", r) clicks r, then (on the next melody) clicks undo: the melody comes back, the stored
#: rating is deleted, and the next step rates it again.
SCRIPT: list[list[tuple[str, int]]] = [
    [("click", 3), ("key", 4), ("undo", 5), ("click", 1), ("click", 5), ("key", 0)],
    [("click", 4), ("click", 4), ("key", 5), ("click", 1), ("click", 0)],
]

ROUNDS = len(SCRIPT)  # batches the notebook asks for (MELODY_ROUNDS)


def _expected_ratings() -> list[int]:
    """The ratings that must end up stored, in order (an undone rating is not)."""
    return [rating for batch in SCRIPT for how, rating in batch if how != "undo"]


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "melody"


@pytest.fixture()
def lab(chromium: Path, tmp_path: Path, workdir: Path) -> Iterator[Lab]:
    env = {"MELODY_PERSON": "browser", "MELODY_ROUNDS": str(ROUNDS), "MELODY_WORKDIR": str(workdir)}
    with start_lab(tmp_path, [NOTEBOOK, "melody.yaml"], env=env, log_name="melody-jupyterlab.log") as server:
        yield server


@pytest.mark.timeout(300)
def test_rate_melodies_in_jupyterlab(chromium: Path, lab: Lab, artifacts: Path, tmp_path: Path, workdir: Path) -> None:
    started = time.monotonic()
    with browser_page(chromium, tmp_path, artifacts, console_log="melody-browser-console.log") as (page, console):
        shown = _rate_in_browser(page, lab, artifacts)
    print(f"melody browser test: {time.monotonic() - started:.1f} s")
    widget_lines = [line for line in console if re.search(r"swergio|anywidget|labelling\.js", line, re.I)]
    assert not [line for line in widget_lines if line.startswith(("error", "warning", "pageerror"))], widget_lines

    # the kernel's durable store: exactly the ratings the browser kept, in order, from the person
    expected = _expected_ratings()
    with sqlite3.connect(workdir / "labels.db") as db:
        rows = db.execute("SELECT rating, source, genome FROM ratings ORDER BY id").fetchall()
    assert [r for r, _, _ in rows] == expected, (rows, shown)
    assert {s for _, s, _ in rows} == {"person"}
    assert len({g for _, _, g in rows}) == len(rows)  # every rating is of a different melody
    csv = (workdir / "ratings.csv").read_text().splitlines()
    assert len(csv) == len(expected) and [int(line.rsplit(",", 1)[1]) for line in csv] == expected


#: JS: the labelling widget's visible state, or null before it renders.
WIDGET_JS = """() => {
  const w = document.querySelector('.swergio-labelling');
  if (!w) return null;
  const melody = w.querySelector('.melody');
  return {
    progress: w.querySelector('.progress').textContent,
    learner: w.querySelector('.learner').textContent,
    status: w.querySelector('.status').textContent,
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


def _rate_in_browser(page: Any, lab: Lab, artifacts: Path) -> list[dict[str, Any]]:
    notebook = open_notebook(page, lab, NOTEBOOK)
    run_all_cells(page, notebook)
    widget = page.locator(".swergio-labelling")
    shown: list[dict[str, Any]] = []

    def wait_melody(position: int) -> dict[str, Any]:
        return _wait_state(
            page, lab, notebook,
            lambda s: s["melody"] and s["progress"] == f"{position} of 5" and s["roll"] > 0
            and s["audio"].startswith("data:audio/wav;base64"),
            f"melody {position} of 5",
        )  # fmt: skip

    def rate(how: str, rating: int, position: int) -> None:
        if how == "key":
            widget.focus()
            page.keyboard.press(str(rating))
        else:
            widget.locator("button.rate", has_text=re.compile(rf"^{rating}$")).click()
        state = _wait_state(
            page, lab, notebook,
            lambda s: re.fullmatch(rf"saved rating {rating} \(row \d+\)", s["status"]) is not None
            and s["progress"] != f"{position} of 5",
            f"'saved rating {rating}' and the next melody",
        )  # fmt: skip
        shown.append(state)

    for number, batch in enumerate(SCRIPT):
        position = 1
        for how, rating in batch:
            state = wait_melody(position)
            if position == 1 and number == 0:
                assert "learner: 0 labels" in state["learner"], state
                assert not state["undo"], state  # nothing to undo yet
                cells = _cell_kinds(page)
                widget.screenshot(path=str(artifacts / "melody-widget-first.png"))
            elif position == 1:  # the previous batch was answered: the learner retrained and published its KPIs
                state = _wait_state(
                    page, lab, notebook,
                    lambda s, n=5 * number: re.search(rf"learner: {n} labels, accuracy \d+\.\d %", s["learner"])
                    is not None,
                    f"the learner's {5 * number} labels",
                )  # fmt: skip
                shown.append(state)
                widget.screenshot(path=str(artifacts / f"melody-widget-batch-{number + 1}.png"))
            rate("click" if how == "undo" else how, rating, position)
            if how == "undo":
                assert position < 5, "an undo needs a melody of the same batch after it"
                wait_melody(position + 1)
                widget.locator("button.undo").click()
                state = _wait_state(
                    page, lab, notebook,
                    lambda s, p=position: s["status"] == "undone: rate it again" and s["progress"] == f"{p} of 5",
                    "the undone melody again",
                )  # fmt: skip
                shown.append(state)
                continue  # the same position is rated by the next step
            position += 1
        assert position == 6, f"batch {number} rated {position - 1} melodies, the widget asks 5"

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
    assert [int(n) for n in re.findall(r"round \d+: (\d+) labels", rounds)] == [5 * (i + 1) for i in range(ROUNDS)]
    summary = notebook.locator(".jp-CodeCell", has_text='"CMD": "STOP"').inner_text()
    assert re.search(rf"\b{5 * ROUNDS} ratings stored", summary), summary
    # the shortcuts went to the widget only: JupyterLab did not turn a cell into a heading (its keys 1-5) etc.
    assert _cell_kinds(page) == cells
    return shown


def _cell_kinds(page: Any) -> list[str]:
    """The notebook's cell types in order ("code", "markdown")."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')]
          .map((c) => c.classList.contains('jp-CodeCell') ? 'code' : 'markdown')"""
    )
