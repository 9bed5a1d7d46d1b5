"""The labelling widget: the queue of melodies to rate, with audio, piano roll, rating buttons 0-5 and shortcuts.

A thin ``anywidget.AnyWidget`` over a :class:`~swergio_nb.examples.melody.labelling.LabelQueue` (JavaScript in
``static/labelling.js``, built from ``js/labelling.js``). A click (or key 0-5, s, u) sends a message to Python,
which calls :meth:`LabelQueue.rate` / ``skip`` / ``undo`` (the same methods the simulated person calls): the rating is
committed to the :class:`~swergio_nb.examples.melody.labelling.LabelStore` first, and only then does the ``confirmed``
trait tell the browser "saved". The learner's accuracy and label count come from :meth:`LabellingWidget.attach`
(``LOG/KPI`` messages in the ``metrics`` room) or :meth:`LabellingWidget.show_learner`.

Example (in a notebook, with the person component built on the same queue)::

    queue = LabelQueue(LabelStore("labels.db"))
    widget = LabellingWidget(queue)
    widget.attach(client)          # accuracy and label count from the learner's KPIs
    widget
"""

from __future__ import annotations

import base64
import logging
import sqlite3
from typing import Any
from urllib.parse import urlsplit

import anywidget
import traitlets

from ...notebook.widgets import STATIC
from ...transport.client import Client, Handler, Trigger
from .labelling import LabelError, LabelItem, LabelQueue
from .music import MusicSettings, genome_to_melody, piano_roll_png, render_wav
from .store import STORE_NAME

__all__ = ["LabellingWidget", "HubLabellingWidget", "browser_hub_url"]

logger = logging.getLogger("swergio_nb.examples.melody.widget")


class LabellingWidget(anywidget.AnyWidget):
    """Rate the melodies of a :class:`LabelQueue` in the browser (see the module docstring).

    Synced traits:
        item: the current melody: ``key``, ``position`` and ``size`` ("3 of 5"), ``wav`` (base64 WAV), ``roll``
            (base64 PNG piano roll); ``{}`` when nothing waits.
        confirmed: the latest action Python carried out: ``action``, ``key``, ``rating``, ``row`` (store row id),
            ``text`` (what the browser shows).
        can_undo, waiting, labels, accuracy: undo possible; melodies waiting; the learner's label count and
            accuracy (0..1, None until known).
        autoplay: play each new melody when it appears (browsers may block it before the first click).
        rater: who rates, shown as "rating: ..." ("you", or e.g. "simulated person").
        accuracy_label: what the accuracy shown is measured on (e.g. "accuracy on your held-out ratings").

    Args:
        queue: the queue to rate from (its listeners get this widget's refresh).
        settings: how genomes sound and look (swergio's defaults).
        sample_rate: WAV sample rate in Hz.
    """

    _esm = STATIC / "labelling.js"

    item = traitlets.Dict().tag(sync=True)
    confirmed = traitlets.Dict().tag(sync=True)
    can_undo = traitlets.Bool(False).tag(sync=True)
    waiting = traitlets.Int(0).tag(sync=True)
    labels = traitlets.Int(0).tag(sync=True)
    accuracy = traitlets.Float(None, allow_none=True).tag(sync=True)
    autoplay = traitlets.Bool(True).tag(sync=True)
    rater = traitlets.Unicode("you").tag(sync=True)
    accuracy_label = traitlets.Unicode("accuracy").tag(sync=True)

    def __init__(
        self, queue: LabelQueue, *, settings: MusicSettings | None = None, sample_rate: int = 22_050, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.queue = queue
        self.settings = settings or MusicSettings()
        self.sample_rate = sample_rate
        self.actions = 0  #: actions received from the browser (or :meth:`act`)
        self._attached: list[tuple[Client, Handler]] = []
        self._rendered: dict[int, dict[str, Any]] = {}
        queue.listeners.append(self._refresh)
        self.on_msg(self._on_msg)
        self._refresh(queue)

    # -- queue -> browser --------------------------------------------------------------------------------------

    def _render(self, item: LabelItem) -> dict[str, Any]:
        cached = self._rendered.get(item.key)
        if cached is None:
            melody = genome_to_melody(item.genome, self.settings)
            cached = {
                "wav": base64.b64encode(render_wav(melody, sample_rate=self.sample_rate)).decode("ascii"),
                "roll": base64.b64encode(piano_roll_png(melody)).decode("ascii"),
            }
            self._rendered = {item.key: cached}  # keep only the current one (a WAV is ~0.9 MB as base64)
        return cached

    def _refresh(self, queue: LabelQueue) -> None:
        item = queue.current
        if item is None:
            self.item = {}
        else:
            position, size = queue.progress
            if self.item.get("key") != item.key or self.item.get("position") != position:
                self.item = {"key": item.key, "position": position, "size": size, **self._render(item)}
        self.can_undo = queue.can_undo
        self.waiting = queue.waiting

    # -- browser -> queue --------------------------------------------------------------------------------------

    def act(self, action: str, rating: Any = None, key: int | None = None) -> dict[str, Any]:
        """Carry out a browser action (what a click sends); returns the new ``confirmed`` value.

        Args:
            action: ``"rate"``, ``"skip"`` or ``"undo"``.
            rating: 0..5 for ``"rate"``.
            key: the melody the click was on; if it is no longer the current one (a double click), nothing
                happens and ``confirmed.text`` says so.
        """
        self.actions += 1
        current = self.queue.current
        try:
            if action in ("rate", "skip") and (current is None or (key is not None and key != current.key)):
                result = {"action": action, "key": key, "text": "that melody was already answered", "ok": False}
            elif action == "rate":
                item = self.queue.rate(rating)  # committed to the store before it returns
                saved = f"saved rating {item.rating}" + (f" (row {item.row})" if item.row else "")
                result = {"action": "rate", "key": item.key, "rating": item.rating, "row": item.row, "text": saved,
                          "ok": True}  # fmt: skip
            elif action == "skip":
                item = self.queue.skip()
                result = {"action": "skip", "key": item.key, "text": "skipped", "ok": True}
            elif action == "undo":
                item = self.queue.undo()
                text = "nothing to undo" if item is None else "undone: rate it again"
                undone = None if item is None else item.key
                result = {"action": "undo", "key": undone, "text": text, "ok": item is not None}
            else:
                result = {"action": action, "text": f"unknown action {action!r}", "ok": False}
        except (LabelError, sqlite3.Error, OSError) as exc:  # a bad rating, a full disk, a store gone: the melody
            result = {"action": action, "key": key, "text": f"not saved: {exc}", "ok": False}  # stays current
        self.confirmed = {**result, "n": self.actions}
        return self.confirmed

    def _on_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        self.act(str(content.get("action")), content.get("rating"), content.get("key"))

    # -- learner -> browser ------------------------------------------------------------------------------------

    def show_learner(self, labels: int | None = None, accuracy: float | None = None) -> None:
        """Show the learner's label count and accuracy (0..1)."""
        if labels is not None:
            self.labels = int(labels)
        if accuracy is not None:
            self.accuracy = float(accuracy)

    def attach(self, client: Client, room: str = "metrics", accuracy_kpi: str = "test accuracy") -> Handler:
        """Follow the learner's ``LOG/KPI`` messages in ``room``: ``labels`` and ``accuracy_kpi``."""

        def on_kpi(msg: dict[str, Any]) -> None:
            if msg.get("KPI") == "labels":
                self.show_learner(labels=int(msg["VALUE"]))
            elif msg.get("KPI") == accuracy_kpi:
                self.show_learner(accuracy=float(msg["VALUE"]))

        handler = client.add_handler(on_kpi, Trigger("LOG/KPI", room))
        self._attached.append((client, handler))
        return handler

    def close(self) -> None:
        """Stop following the learner and the queue, then close the comm."""
        for client, handler in self._attached:
            if handler in client.handlers:
                client.remove_handler(handler)
        self._attached.clear()
        if self._refresh in self.queue.listeners:
            self.queue.listeners.remove(self._refresh)
        super().close()


def browser_hub_url(hub_url: str) -> str:
    """The hub's URL as the notebook's page reaches it: for the hub inside Jupyter Server (path ``.../swergio/ws``)
    its path alone, so the page joins with the browser's own login and no token goes into the page; for any other
    hub, ``hub_url`` itself (with its token)."""
    path = urlsplit(hub_url).path
    return path if path.endswith("/swergio/ws") else hub_url


class HubLabellingWidget(anywidget.AnyWidget):
    """The labelling widget as the person component itself: the page joins the hub, takes the learner's label
    requests, has the label store component (:mod:`~swergio_nb.examples.melody.store`, a process of its own) render
    each melody and commit each rating, says "saved" on the store's answer, and answers the learner. Nothing passes
    through the kernel, so a person rates while a cell keeps the kernel busy.

    Same look and keys as :class:`LabellingWidget` (``static/labelling.js``, with ``js/lib/hub-labelling.js``).

    Args:
        url: the hub as the browser reaches it (:func:`browser_hub_url`): ``/swergio/ws`` under Jupyter Server, or a
            URL with its token.
        name: this component's name (one page at a time may use it).
        store: the label store component's name.
        room: where the learner asks (``user``).
        metrics: where the learner's ``LOG/KPI`` messages arrive (labels, accuracy).
        accuracy_kpi: the KPI shown as the accuracy.
        rater: who rates, shown as "rating: ...".
        accuracy_label: what the accuracy is measured on.
        autoplay: play each new melody when it appears.
        undo_window: seconds the last decision of a request stays undoable before the learner gets the answer.
    """

    _esm = STATIC / "labelling.js"

    hub = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        url: str,
        *,
        name: str = "person",
        store: str = STORE_NAME,
        room: str = "user",
        metrics: str = "metrics",
        accuracy_kpi: str = "cross-validated accuracy",
        rater: str = "you",
        accuracy_label: str = "accuracy",
        autoplay: bool = True,
        undo_window: float = 3.0,
        **kwargs: Any,
    ) -> None:
        if not undo_window >= 0:
            raise ValueError(f"undo_window must be >= 0 seconds, got {undo_window!r}")
        hub = {
            "url": url, "name": name, "store": store, "room": room, "metrics": metrics, "accuracyKpi": accuracy_kpi,
            "rater": rater, "accuracyLabel": accuracy_label, "autoplay": autoplay, "undoWindow": undo_window,
        }  # fmt: skip
        super().__init__(hub=hub, **kwargs)
