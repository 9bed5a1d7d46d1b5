"""End to end in a real browser: the standalone labelling page of the server extension (``{base_url}swergio/label``)
with no notebook open. The page joins the Jupyter server's hub with the browser's login as the person component; a
learner (a Python client of the test) asks it for 5 ratings; the label store component (its own process) renders
each melody and commits each rating, and only its answer makes the page say "saved". An undo deletes the stored
row. The learner gets the 5 ratings with the genomes it sent, bit for bit.

Screenshots: ``test-artifacts/label-page-melody.png`` (the first melody), ``label-page.png`` (the end).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.browser.lab import Lab, browser_page, start_lab
from tests.browser.person_page import RATINGS, Learner, hub_url, rate, state, store_process, wait_melody, wait_state

BASE_URL = "/user/someone/"
K = len(RATINGS)

pytestmark = pytest.mark.browser


@pytest.fixture()
def lab(chromium: Path, tmp_path: Path) -> Iterator[Lab]:
    with start_lab(tmp_path, [], base_url=BASE_URL, log_name="label-page-server.log") as server:
        yield server


def _stored(db: Path) -> list[tuple[int, str]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT rating, source FROM ratings ORDER BY id").fetchall()


@pytest.mark.timeout(300)
def test_a_person_rates_on_the_label_page_without_a_notebook(
    chromium: Path, lab: Lab, artifacts: Path, tmp_path: Path
) -> None:
    with urllib.request.urlopen(f"{lab.base}/swergio/label", timeout=10) as response:  # no login, no page
        assert "/login" in response.url and "Rate melodies" not in response.read().decode()
    db = tmp_path / "labels.db"
    genomes = np.random.default_rng(0).integers(0, 2, (K, 128), dtype=np.uint8)
    with (
        store_process(lab, db),
        browser_page(chromium, tmp_path, artifacts, console_log="label-page-console.log") as (
            page,
            console,
        ),
    ):
        page.goto(f"{lab.base}/swergio/label?token={lab.token}&undo=0.5&rater=the%20tester")
        wait_state(page, lambda s: "connected to the hub as person" in s["status"], "the page on the hub")
        learner = Learner(hub_url(lab), genomes)
        first = wait_melody(page, 1, K)
        assert first["rater"] == "rating: the tester" and "learner: 0 labels" in first["learner"], first
        page.screenshot(path=str(artifacts / "label-page-melody.png"), full_page=True)
        for position, (how, rating) in enumerate(RATINGS, start=1):
            saved = rate(page, how, rating, position, K)
            if position == 2:  # undo the second: its row goes, and it is the current melody again
                assert len(_stored(db)) == 2, saved
                page.keyboard.press("u")
                wait_state(page, lambda s: s["status"] == "undone: rate it again" and s["progress"] == f"2 of {K}",
                           "the second melody again")  # fmt: skip
                assert _stored(db) == [(RATINGS[0][1], "person")]
                rate(page, how, rating, position, K)
        reply = learner.result(timeout=60)
        wait_state(page, lambda s: f"learner: {K} labels" in s["learner"] and not s["melody"], "the learner's count")
        page.screenshot(path=str(artifacts / "label-page.png"), full_page=True)
        assert state(page)["progress"] == "idle"
    expected = [r for _, r in RATINGS]
    assert reply["FITNESS"] == expected and reply["SKIPPED"] == 0, reply
    assert reply["SENT_BY"] == "person" and reply["GENOMES"].dtype == np.uint8
    assert np.array_equal(reply["GENOMES"], genomes)
    assert _stored(db) == [(r, "person") for r in expected]
    ours = [line for line in console if re.search(r"swergio|labelling", line, re.I)]
    assert not [line for line in ours if line.startswith(("error", "warning", "pageerror"))], ours
