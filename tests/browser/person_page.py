"""What the browser tests of the page-side person component share: the label store component as a process, a
learner that asks for ratings from a thread of the test, and rating in the page as a person does."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from swergio_nb import Client
from tests.browser.lab import Lab
from tests.browser.test_melody_widget import WIDGET_JS

#: What the person does, in order: ("click", r) clicks button r, ("key", r) presses key r.
RATINGS: list[tuple[str, int]] = [("click", 3), ("key", 4), ("click", 1), ("key", 5), ("click", 2)]


def hub_url(lab: Lab) -> str:
    """The Jupyter server's hub, as a process outside the browser reaches it (with the server's token)."""
    return f"ws://127.0.0.1:{lab.port}{lab.base_url}swergio/ws?token={lab.token}"


@contextlib.contextmanager
def store_process(lab: Lab, db: Path) -> Iterator[subprocess.Popen]:
    """``python -m swergio_nb.examples.melody.store`` on the server's hub, storing into ``db``; stopped at the end."""
    command = [sys.executable, "-m", "swergio_nb.examples.melody.store", "--hub", hub_url(lab), "--store", str(db)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("label-store connected to"), line
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        proc.stdout.close()


class Learner:
    """A learner in a thread of the test: once ``person`` is in room ``user``, asks it to rate ``genomes`` (as the
    melody learner does) and keeps the answer in :attr:`reply`; then sends the label count as ``LOG/KPI``."""

    def __init__(self, url: str, genomes: np.ndarray, person: str = "person") -> None:
        self.url, self.genomes, self.person = url, genomes, person
        self.reply: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="learner", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            asyncio.run(self._ask())
        except BaseException as exc:  # reported by result()
            self.error = exc

    async def _ask(self) -> None:
        async with Client("learner", self.url) as client:
            deadline = time.monotonic() + 120
            while self.person not in (await client.room_table()).get("user", []):
                assert time.monotonic() < deadline, "the page never joined the room user"
                await asyncio.sleep(0.1)
            request = {"TYPE": "DATA/CUSTOM", "TO_ROOM": "user", "GENOMES": self.genomes}
            reply = await client.request(request, reply_room="user", reply_type="DATA/CUSTOM", timeout=240)
            self.reply = reply
            kpi = {"TYPE": "LOG/KPI", "TO_ROOM": "metrics", "KPI": "labels", "VALUE": len(reply["FITNESS"])}
            await client.send(kpi)

    def result(self, timeout: float) -> dict[str, Any]:
        """The person's answer (AssertionError if none came within ``timeout`` seconds)."""
        self.thread.join(timeout)
        if self.error is not None:
            raise AssertionError(f"the learner failed: {self.error!r}") from self.error
        assert self.reply is not None, f"the learner got no answer in {timeout:.0f} s"
        return self.reply


def state(page: Any) -> dict[str, Any] | None:
    """The labelling widget's visible state (None before it renders)."""
    return page.evaluate(WIDGET_JS)


def wait_state(page: Any, check: Any, what: str, timeout: float = 60.0) -> dict[str, Any]:
    """Poll the widget until ``check(state)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        shown = state(page)
        if shown is not None and check(shown):
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"the page never showed {what} in {timeout:.0f} s; it shows {shown}")
        time.sleep(0.1)


def wait_melody(page: Any, position: int, size: int) -> dict[str, Any]:
    """Wait until melody ``position`` of ``size`` is shown with its sound and piano roll."""
    return wait_state(
        page,
        lambda s: s["melody"] and s["progress"] == f"{position} of {size}" and s["roll"] > 0
        and s["audio"].startswith("data:audio/wav;base64"),
        f"melody {position} of {size}",
    )  # fmt: skip


def rate(page: Any, how: str, rating: int, position: int, size: int) -> dict[str, Any]:
    """Rate melody ``position`` as a person: look at it, then click the button or press the key; wait for "saved"
    (the store's answer) and the next melody. Returns the state that said "saved"."""
    wait_melody(page, position, size)
    page.wait_for_timeout(600)  # keys are refused for 0.4 s after a new melody appears
    widget = page.locator(".swergio-labelling")
    if how == "key":
        page.keyboard.press(str(rating))
    else:
        widget.locator("button.rate", has_text=re.compile(rf"^{rating}$")).click()
    return wait_state(
        page,
        lambda s: re.fullmatch(rf"saved rating {rating} \(row \d+\)", s["status"]) is not None
        and s["progress"] != f"{position} of {size}",
        f"'saved rating {rating}' and the next melody",
    )  # fmt: skip
