"""The label store as a component: a person's ratings committed durably by a process of their own, acknowledged to
the page that sent them; and the melodies rendered for that page.

A labelling page (``static/labelling.js``, in a notebook's widget or at ``{base_url}swergio/label``) joins the hub as
the person component itself, so ratings reach the learner while the notebook's kernel is busy. It sends each
decision here and shows "saved" only on this component's answer, after the rating is committed to the
:class:`~swergio_nb.examples.melody.labelling.LabelStore` (an SQLite file: the learner reads the same file when it
resumes). ``DATA/CUSTOM`` messages addressed to it by name (``TO``), with ``OP``:

* ``render`` with ``GENOME`` (128 bits, a uint8 array or a list): answered with ``WAV``, the melody as WAV bytes,
  and ``ROLL``, its piano roll as PNG bytes;
* ``rate`` with ``GENOME``, ``RATING`` 0..5 and optionally ``SOURCE``: answered with ``ROW``, the store's row id,
  once the rating is committed (and fsynced);
* ``undo`` with ``ROW``: answered with ``ROW`` and ``DELETED`` (whether the row existed).

Each answer is ``DATA/CUSTOM`` to the sender, in the same chain (``ROOT_ID``).
A rating or genome that cannot be stored (or an unknown ``OP``) is answered with ``LOG/ERROR`` (``ERROR``
``not-saved`` or ``unknown-op``, ``REPLY_TO`` the message's ``ID``): nothing was stored, and the page says so.

Run as a process: ``python -m swergio_nb.examples.melody.store --hub URL --store labels.db``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...swarm.component import component, option
from ...transport.client import SENDER, Client, Trigger
from .labelling import LabelError, LabelStore
from .music import MusicSettings, genome_to_melody, piano_roll_png, render_wav

__all__ = ["STORE_NAME", "StoreOptions", "answer", "build"]

#: The name the store component registers with (pages address it with ``TO``).
STORE_NAME = "label-store"


@dataclass(frozen=True)
class StoreOptions:
    """Options of the label store component."""

    store: Path = option(Path("labels.db"), "SQLite file the ratings are stored in")
    source: str = option("person", "recorded with each rating that names no SOURCE")
    sample_rate: int = option(22_050, "sample rate of the rendered melodies", unit="Hz")


def _error(msg: dict[str, Any], code: str, detail: str) -> dict[str, Any]:
    return {"TYPE": "LOG/ERROR", "ERROR": code, "DETAIL": detail, "REPLY_TO": msg["ID"]}


def answer(msg: dict[str, Any], store: LabelStore, options: StoreOptions, settings: MusicSettings) -> dict[str, Any]:
    """The answer to one message (see the module docstring): a reply's fields, or a ``LOG/ERROR``."""
    op = msg.get("OP")
    try:
        if op == "render":
            melody = genome_to_melody(msg["GENOME"], settings)
            return {"WAV": render_wav(melody, sample_rate=options.sample_rate), "ROLL": piano_roll_png(melody)}
        if op == "rate":
            source = str(msg.get("SOURCE") or options.source)
            return {"ROW": store.add(msg["GENOME"], msg["RATING"], source)}
        if op == "undo":
            row = msg.get("ROW")
            if isinstance(row, bool) or not isinstance(row, int):
                raise LabelError(f"ROW must be a row id (an int), got {row!r}")
            return {"ROW": row, "DELETED": store.delete(row)}
    except KeyError as exc:
        return _error(msg, "not-saved", f"{op} needs the field {exc.args[0]}")
    except (LabelError, ValueError, sqlite3.Error, OSError) as exc:
        return _error(msg, "not-saved", f"{op}: {exc}")
    return _error(msg, "unknown-op", f"OP must be render, rate or undo, got {op!r}")


@component(STORE_NAME, StoreOptions, "Label store: commits a person's ratings and renders melodies for their page.")
def build(url: str, *, name: str, seed: int, options: StoreOptions, store: LabelStore | None = None) -> Client:
    """The store component's client (not connected): answers ``DATA/CUSTOM`` messages sent to it by name.

    Args:
        url, name, seed: as for ``Component.build`` (the seed is not used: nothing here is random).
        options: the store file, the default source, the sample rate.
        store: an open store to use instead of opening ``options.store``.
    """
    store = store if store is not None else LabelStore(options.store)
    settings = MusicSettings()
    client = Client(name, url, store=store)

    def serve(msg: dict[str, Any]) -> dict[str, Any]:
        return answer(msg, store, options, settings)

    # in a worker thread: rendering takes tens of milliseconds, the store's commit waits for the disk
    direct = Trigger("DATA/CUSTOM", rooms=())
    client.add_handler(serve, direct, reply_type="DATA/CUSTOM", reply_to=SENDER, in_thread=True)
    return client


if __name__ == "__main__":
    build.main()
