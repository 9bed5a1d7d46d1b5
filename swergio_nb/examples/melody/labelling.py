"""Durable ratings and the queue of melodies waiting for a person: the label path shared by widget and simulation.

* :class:`LabelStore`: every rating in an SQLite file (standard library ``sqlite3``), committed before
  :meth:`LabelStore.add` returns (WAL journal, ``synchronous=FULL``: the commit is fsynced), so a crash of the
  kernel right after a click loses nothing; on restart :meth:`LabelStore.labels` gives them back.
* swergio's CSV format (``MelodyCreator/data.csv``): one row per rating, no header, the genome as a Python tuple
  literal and the rating, e.g. ``"(1, 0, 0, 1, ...)",3`` (:func:`read_swergio_csv`, :func:`write_swergio_csv`).
* :class:`LabelQueue`: batches of melodies to rate (``await queue.ask(genomes)``), one current melody at a time,
  :meth:`~LabelQueue.rate` / :meth:`~LabelQueue.skip` / :meth:`~LabelQueue.undo`, progress ("3 of 5") and
  listeners. The widget's buttons and the simulated person both call these methods.
"""

from __future__ import annotations

import ast
import asyncio
import csv
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .music import GENOME_SIZE, check_genome

__all__ = [
    "RATINGS",
    "LabelStore",
    "LabelRow",
    "LabelItem",
    "LabelQueue",
    "LabelError",
    "check_rating",
    "read_swergio_csv",
    "write_swergio_csv",
]

#: The rating classes: 0 (worst) to 5 (best), as in swergio.
RATINGS = range(6)


class LabelError(ValueError):
    """A rating or a label file that cannot be accepted (nothing was stored)."""


def check_rating(rating: Any) -> int:
    """``rating`` as an int 0..5.

    Raises:
        LabelError: not an integer (bools and non-integral floats included) or outside 0..5.
    """
    if isinstance(rating, bool) or not isinstance(rating, (int, np.integer, float, np.floating)):
        raise LabelError(f"a rating is an integer 0..5, got {rating!r}")
    if float(rating) != int(rating) or int(rating) not in RATINGS:
        raise LabelError(f"a rating is an integer 0..5, got {rating!r}")
    return int(rating)


def _genome_text(genome: Sequence[int] | np.ndarray) -> str:
    return "".join("1" if b else "0" for b in check_genome(genome))


def _text_genome(text: str) -> tuple[int, ...]:
    return tuple(1 if c == "1" else 0 for c in text)


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One stored rating."""

    id: int
    genome: tuple[int, ...]
    rating: int
    source: str
    created: float  #: Unix time, seconds


class LabelStore:
    """Ratings in an SQLite file, each committed (and fsynced) before :meth:`add` returns.

    Args:
        path: database file (created with its table if missing), or ``":memory:"`` for a throwaway store.

    Thread-safe (one connection behind a lock). Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        with self._lock:
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS ratings ("
                " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                f" genome TEXT NOT NULL CHECK (length(genome) = {GENOME_SIZE}),"
                " rating INTEGER NOT NULL CHECK (rating BETWEEN 0 AND 5),"
                " source TEXT NOT NULL DEFAULT 'person',"
                " created REAL NOT NULL)"
            )

    def add(self, genome: Sequence[int] | np.ndarray, rating: int, source: str = "person") -> int:
        """Store one rating durably; returns its row id.

        Raises:
            LabelError: bad rating. ValueError: bad genome. (Nothing is stored then.)
        """
        text, value = _genome_text(genome), check_rating(rating)
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO ratings (genome, rating, source, created) VALUES (?, ?, ?, ?)",
                (text, value, source, time.time()),
            )
            return int(cursor.lastrowid)  # autocommit mode: committed (and, with synchronous=FULL, synced)

    def add_many(self, rows: Iterable[tuple[Sequence[int] | np.ndarray, int]], source: str = "import") -> int:
        """Store many ratings in one transaction (all or none); returns how many.

        Raises:
            LabelError, ValueError: a bad row (nothing is stored).
        """
        checked = [(_genome_text(g), check_rating(r)) for g, r in rows]
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO ratings (genome, rating, source, created) VALUES (?, ?, ?, ?)",
                    [(g, r, source, now) for g, r in checked],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return len(checked)

    def delete(self, row_id: int) -> bool:
        """Remove one rating (an undo); True if it existed."""
        with self._lock:
            return self._db.execute("DELETE FROM ratings WHERE id = ?", (int(row_id),)).rowcount > 0

    def rows(self) -> list[LabelRow]:
        """Every stored rating, oldest first."""
        with self._lock:
            found = self._db.execute("SELECT id, genome, rating, source, created FROM ratings ORDER BY id").fetchall()
        return [LabelRow(i, _text_genome(g), r, s, c) for i, g, r, s, c in found]

    def labels(self) -> dict[tuple[int, ...], int]:
        """The latest rating of each genome (genome as a tuple of 128 ints)."""
        return {row.genome: row.rating for row in self.rows()}

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM ratings").fetchone()[0])

    def import_csv(self, path: str | Path, source: str = "csv") -> int:
        """Add the ratings of a swergio CSV file (all or none); returns how many. See :func:`read_swergio_csv`."""
        return self.add_many(read_swergio_csv(path), source=source)

    def export_csv(self, path: str | Path) -> int:
        """Write the latest rating of each genome in swergio's CSV format; returns the number of rows."""
        labels = self.labels()
        write_swergio_csv(path, labels.items())
        return len(labels)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def read_swergio_csv(path: str | Path) -> list[tuple[np.ndarray, int]]:
    """Ratings from swergio's CSV format: rows ``"(1, 0, ...)",rating``, no header.

    Returns:
        ``[(genome uint8 (128,), rating int), ...]`` in file order (blank lines skipped).

    Raises:
        LabelError: a row that is not a 128-bit tuple and a rating 0..5 (the message names the line).
    """
    out: list[tuple[np.ndarray, int]] = []
    with open(path, newline="") as file:
        for line, row in enumerate(csv.reader(file), start=1):
            if not row:
                continue
            if len(row) != 2:
                raise LabelError(f"{path}:{line}: expected 2 columns (genome, rating), got {len(row)}")
            try:
                genome = ast.literal_eval(row[0].strip())
                if not isinstance(genome, (tuple, list)):
                    raise ValueError("the genome is not a tuple")
                bits = check_genome(list(genome))
                rating = check_rating(int(row[1].strip()))
            except (ValueError, SyntaxError, TypeError) as exc:
                raise LabelError(f"{path}:{line}: {exc}") from exc
            out.append((bits, rating))
    return out


def write_swergio_csv(path: str | Path, rows: Iterable[tuple[Sequence[int] | np.ndarray, int]]) -> None:
    """Write ratings in swergio's CSV format (``csv.writer`` of ``(tuple(genome), int(rating))``, as swergio did).

    Raises:
        LabelError, ValueError: a bad row (the file is not touched: rows are checked first).
    """
    checked = [(tuple(int(b) for b in check_genome(g)), check_rating(r)) for g, r in rows]
    with open(path, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        for genome, rating in checked:
            writer.writerow((genome, rating))


# -- the queue ---------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class LabelItem:
    """A melody waiting for (or given) a rating."""

    key: int  #: unique within the queue
    genome: np.ndarray  #: uint8 (128,)
    batch: int  #: which ask() it belongs to
    index: int  #: position in its batch, 0-based
    rating: int | None = None
    status: str = "pending"  #: "pending", "rated" or "skipped"
    row: int | None = None  #: the store's row id once rated


@dataclass(eq=False)
class _Batch:
    number: int
    items: list[LabelItem]
    future: asyncio.Future
    decided: list[LabelItem] = field(default_factory=list)  # in decision order, for undo


class LabelQueue:
    """Melodies waiting for a person, in batches (one per :meth:`ask`), rated one at a time.

    The current melody is the first pending one of the oldest unfinished batch. :meth:`rate` stores the rating in
    the :class:`LabelStore` *before* anything else changes (if storing fails, nothing changes and the error
    propagates), then moves on; when every melody of a batch is rated or skipped, that batch's :meth:`ask`
    returns. :meth:`undo` takes back the latest decision of the current batch (and deletes its stored row).

    A person's last rating of a batch must be undoable too, but the learner answers a batch at once with the next
    one: with ``undo_window`` > 0 a finished batch is answered only that many seconds later (on the running loop),
    and an undo meanwhile takes its last decision back and keeps it open.

    Args:
        store: where ratings are stored; None keeps them only in memory (tests, throwaway sessions).
        source: recorded with each stored rating ("person", "simulated", ...).
        undo_window: seconds a finished batch waits before it is answered, so its last decision can be undone;
            0 (default) answers at once (a simulated person needs no second thoughts).

    Attributes:
        listeners: called as ``listener(queue)`` after every change (a widget re-renders; the simulated person
            rates). A listener that raises is not allowed to break the queue: the exception is re-raised after
            the other listeners ran.
        rated_total: ratings given through this queue (undo subtracts).
    """

    def __init__(self, store: LabelStore | None = None, *, source: str = "person", undo_window: float = 0.0) -> None:
        if not undo_window >= 0:
            raise ValueError(f"undo_window must be >= 0 seconds, got {undo_window!r}")
        self.store = store
        self.source = source
        self.undo_window = float(undo_window)
        self._closing: dict[int, asyncio.TimerHandle] = {}  # batch number -> its pending answer
        self.listeners: list[Callable[[LabelQueue], Any]] = []
        self.rated_total = 0
        self._batches: list[_Batch] = []
        self._count = 0
        self._batch_count = 0

    # -- asking ------------------------------------------------------------------------------------------------

    async def ask(self, genomes: Sequence[Sequence[int] | np.ndarray]) -> list[int | None]:
        """Queue ``genomes`` for rating and wait until each is rated or skipped.

        Returns:
            The ratings in the order of ``genomes`` (None for a skipped melody).

        Raises:
            ValueError: a bad genome (nothing is queued).
        """
        checked = [check_genome(g) for g in genomes]
        future = asyncio.get_running_loop().create_future()
        if not checked:
            return []
        self._batch_count += 1
        items = []
        for i, genome in enumerate(checked):
            self._count += 1
            items.append(LabelItem(self._count, genome, self._batch_count, i))
        batch = _Batch(self._batch_count, items, future)
        self._batches.append(batch)
        self._notify()
        try:
            return await future
        finally:
            handle = self._closing.pop(batch.number, None)
            if handle is not None:
                handle.cancel()
            if batch in self._batches:  # cancelled while waiting: drop it
                self._batches.remove(batch)
                self._notify()

    # -- state -------------------------------------------------------------------------------------------------

    @property
    def current(self) -> LabelItem | None:
        """The melody to rate now, or None when nothing waits."""
        for batch in self._batches:
            for item in batch.items:
                if item.status == "pending":
                    return item
        return None

    @property
    def progress(self) -> tuple[int, int]:
        """``(position, size)`` of the current melody in its batch, 1-based ("3 of 5"); (0, 0) when idle."""
        item = self.current
        if item is None:
            return (0, 0)
        batch = self._batch_of(item)
        return (len(batch.decided) + 1, len(batch.items))

    @property
    def waiting(self) -> int:
        """Melodies not yet rated or skipped, over all batches."""
        return sum(item.status == "pending" for batch in self._batches for item in batch.items)

    @property
    def can_undo(self) -> bool:
        return bool(self._batches and self._batches[0].decided)

    # -- acting ------------------------------------------------------------------------------------------------

    def rate(self, rating: Any) -> LabelItem:
        """Rate the current melody; the rating is durably stored before this returns.

        Raises:
            LabelError: no melody waits, or ``rating`` is not an integer 0..5 (nothing changes).
        """
        value = check_rating(rating)
        item = self._require_current()
        row = self.store.add(item.genome, value, self.source) if self.store is not None else None
        item.rating, item.status, item.row = value, "rated", row
        self.rated_total += 1
        self._decided(item)
        return item

    def skip(self) -> LabelItem:
        """Skip the current melody (it gets no rating).

        Raises:
            LabelError: no melody waits.
        """
        item = self._require_current()
        item.status = "skipped"
        self._decided(item)
        return item

    def undo(self) -> LabelItem | None:
        """Take back the latest rating or skip of the current batch; it becomes the current melody again.

        Returns:
            The item, or None if there is nothing to undo (a finished batch has been answered already).
        """
        if not self.can_undo:
            return None
        batch = self._batches[0]
        handle = self._closing.pop(batch.number, None)
        if handle is not None:  # the finished batch stays open: its last decision is taken back
            handle.cancel()
        item = batch.decided.pop()
        if item.status == "rated":
            if self.store is not None and item.row is not None:
                self.store.delete(item.row)
            self.rated_total -= 1
        item.rating, item.status, item.row = None, "pending", None
        self._notify()
        return item

    def _batch_of(self, item: LabelItem) -> _Batch:
        return next(b for b in self._batches if any(i is item for i in b.items))

    def _require_current(self) -> LabelItem:
        item = self.current
        if item is None:
            raise LabelError("no melody is waiting for a rating")
        return item

    def _decided(self, item: LabelItem) -> None:
        batch = self._batch_of(item)
        batch.decided.append(item)
        if all(i.status != "pending" for i in batch.items):
            if self.undo_window > 0:
                loop = asyncio.get_running_loop()
                self._closing[batch.number] = loop.call_later(self.undo_window, self._answer, batch)
            else:
                self._answer(batch, notify=False)
        self._notify()

    def _answer(self, batch: _Batch, notify: bool = True) -> None:
        """Hand a finished batch's ratings to its :meth:`ask`."""
        self._closing.pop(batch.number, None)
        if batch in self._batches:
            self._batches.remove(batch)
        if not batch.future.done():
            batch.future.set_result([i.rating for i in batch.items])
        if notify:
            self._notify()

    def _notify(self) -> None:
        error: BaseException | None = None
        for listener in list(self.listeners):
            try:
                listener(self)
            except Exception as exc:  # noqa: PERF203 - every listener runs
                error = error or exc
        if error is not None:
            raise error
