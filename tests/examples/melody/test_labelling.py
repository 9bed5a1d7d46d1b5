"""Durable ratings, swergio's CSV format, the label queue, the widget's actions and the sampling strategies."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from swergio_nb.examples.melody import SWERGIO_RATINGS
from swergio_nb.examples.melody.labelling import LabelError, LabelQueue, LabelStore, read_swergio_csv
from swergio_nb.examples.melody.music import random_genomes
from swergio_nb.examples.melody.person import SimulatedPerson
from swergio_nb.examples.melody.widget import LabellingWidget

DATA = SWERGIO_RATINGS


def test_swergio_csv_import_export_round_trip(tmp_path: Path) -> None:
    rows = read_swergio_csv(DATA)
    assert len(rows) == 39 and sorted({r for _, r in rows}) == [0, 1, 2, 3, 4]
    with LabelStore(tmp_path / "labels.db") as store:
        assert store.import_csv(DATA) == 39
        out = tmp_path / "out.csv"
        assert store.export_csv(out) == 39
    assert out.read_bytes() == DATA.read_bytes()  # byte for byte (rows as swergio wrote them; "\\n" line ends)


def test_bad_csv_is_refused_whole(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    lines = DATA.read_text().splitlines()
    bad.write_text("\n".join([lines[0], lines[1].rsplit(",", 1)[0] + ",7", lines[2]]) + "\n")
    with LabelStore(tmp_path / "labels.db") as store:
        with pytest.raises(LabelError, match=r"bad.csv:2: .*0\.\.5"):
            store.import_csv(bad)
        assert len(store) == 0


def test_a_rating_survives_a_killed_process(tmp_path: Path) -> None:
    db = tmp_path / "labels.db"
    genome = random_genomes(np.random.default_rng(0), 1)[0]
    code = (
        "import os, signal, sys\n"
        "from swergio_nb.examples.melody.labelling import LabelStore\n"
        f"store = LabelStore({str(db)!r})\n"
        f"row = store.add({genome.tolist()!r}, 4, 'person')\n"
        "print(row, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"  # no close, no atexit: like a crashed kernel
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9 and proc.stdout.strip() == "1", proc.stderr
    with LabelStore(db) as store:
        assert store.labels() == {tuple(genome.tolist()): 4}


async def test_queue_rate_skip_undo_store_first(tmp_path: Path) -> None:
    genomes = random_genomes(np.random.default_rng(1), 3)
    store = LabelStore(tmp_path / "labels.db")
    queue = LabelQueue(store)
    seen: list[tuple[int, int]] = []
    queue.listeners.append(lambda q: seen.append(q.progress))
    task = asyncio.ensure_future(queue.ask(genomes))
    await asyncio.sleep(0)
    assert queue.progress == (1, 3) and queue.waiting == 3 and not queue.can_undo
    with pytest.raises(LabelError):
        queue.rate(6)
    with pytest.raises(LabelError):
        queue.rate(True)
    assert len(store) == 0 and queue.progress == (1, 3)
    queue.rate(2)
    assert len(store) == 1 and queue.progress == (2, 3)
    queue.skip()
    assert queue.undo().status == "pending"  # the skip taken back
    queue.rate(5)
    assert queue.undo().rating is None and len(store) == 1  # the 5 taken back and deleted from the store
    queue.rate(1)
    assert queue.progress == (3, 3)
    queue.skip()
    assert await task == [2, 1, None]
    assert queue.current is None and queue.progress == (0, 0) and not queue.can_undo
    assert sorted(r.rating for r in store.rows()) == [1, 2]
    assert seen[0] == (1, 3) and seen[-1] == (0, 0)
    with pytest.raises(LabelError, match="no melody"):
        queue.rate(3)


async def test_a_store_that_cannot_write_is_shown_as_not_saved_and_loses_nothing(tmp_path: Path) -> None:
    """The store refuses to write (SQLite's own OperationalError, the error a full disk raises too): the widget says
    "not saved: <reason>" instead of "saving..." forever, and the melody waits to be rated again."""
    store = LabelStore(tmp_path / "labels.db")
    queue = LabelQueue(store)
    widget = LabellingWidget(queue)
    task = asyncio.ensure_future(queue.ask(random_genomes(np.random.default_rng(3), 2)))
    await asyncio.sleep(0)
    key = widget.item["key"]
    store._db.execute("PRAGMA query_only = 1")  # every write now fails inside SQLite
    assert widget.act("rate", 4, key)["text"] == "not saved: attempt to write a readonly database"
    assert len(store) == 0 and widget.item["key"] == key and queue.progress == (1, 2)
    store._db.execute("PRAGMA query_only = 0")  # writable again: the same melody is rated
    assert widget.act("rate", 4, key)["text"].startswith("saved rating 4")
    assert len(store) == 1
    task.cancel()


async def test_widget_actions_confirm_after_storing(tmp_path: Path) -> None:
    genomes = random_genomes(np.random.default_rng(2), 2)
    store = LabelStore(tmp_path / "labels.db")
    queue = LabelQueue(store)
    widget = LabellingWidget(queue)
    assert widget.item == {}
    task = asyncio.ensure_future(queue.ask(genomes))
    await asyncio.sleep(0)
    first = widget.item["key"]
    assert (widget.item["position"], widget.item["size"]) == (1, 2)
    assert widget.item["wav"].startswith("UklGR") and widget.item["roll"].startswith("iVBORw0KGgo")  # RIFF, PNG
    confirmed = widget.act("rate", 3, key=first)
    assert confirmed["row"] == store.rows()[-1].id and confirmed["rating"] == 3
    assert widget.act("rate", 4, key=first)["text"] == "that melody was already answered"  # a double click
    assert len(store) == 1 and widget.item["position"] == 2 and widget.can_undo
    assert "not saved" in widget.act("rate", 9, key=widget.item["key"])["text"]
    widget.act("undo")
    assert widget.item["key"] == first and len(store) == 0
    widget.act("rate", 0, key=first)
    widget._on_msg(widget, {"action": "rate", "rating": 5, "key": widget.item["key"]}, [])  # as the browser sends
    assert await task == [0, 5] and widget.item == {} and [r.rating for r in store.rows()] == [0, 5]
    widget.show_learner(labels=7, accuracy=0.5)
    assert (widget.labels, widget.accuracy) == (7, 0.5)


def test_simulated_person_is_deterministic_and_tracks_its_taste() -> None:
    genomes = random_genomes(np.random.default_rng(5), 200)
    a, b = SimulatedPerson(seed=7), SimulatedPerson(seed=7)
    ra, rb = a.rate_many(genomes), b.rate_many(genomes)
    assert ra.tolist() == rb.tolist() and set(ra.tolist()) <= set(range(6))
    truth = a.true_ratings(genomes)
    assert np.mean(np.abs(ra - truth) <= 1) > 0.95  # noise moves a rating by at most one class, mostly
    assert np.mean(SimulatedPerson(seed=7, noise=0).rate_many(genomes) == truth) == 1.0


async def test_the_last_rating_of_a_batch_can_be_undone_within_the_undo_window(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.db")
    queue = LabelQueue(store, undo_window=0.3)
    task = asyncio.ensure_future(queue.ask(random_genomes(np.random.default_rng(2), 2)))
    await asyncio.sleep(0)
    queue.rate(4)
    queue.rate(1)  # the batch's last rating: stored, but the batch is not answered yet
    assert not task.done() and queue.can_undo and queue.current is None and len(store) == 2
    await asyncio.sleep(0.1)
    assert queue.undo().rating is None and len(store) == 1  # second thoughts, within the window
    await asyncio.sleep(0.4)
    assert not task.done() and queue.progress == (2, 2)  # still open: the undone melody waits again
    queue.rate(3)
    assert await asyncio.wait_for(task, 2) == [4, 3]  # answered once the window passed
    assert not queue.can_undo and queue.undo() is None
    assert sorted(r.rating for r in store.rows()) == [3, 4]
    with pytest.raises(ValueError, match="undo_window"):
        LabelQueue(undo_window=-1)
