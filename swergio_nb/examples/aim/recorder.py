"""A recorder of a process's own traffic: the (input, output) pairs of one component, read from the ``_logging`` room.

The hub copies every ``DATA/*`` message to ``_logging`` as ``LOG/MESSAGES`` (:mod:`swergio_nb.protocol.traffic`).
A :class:`TrafficRecorder` joined to that room keeps the ``DATA/FORWARD`` messages that go into the process's input
room and pairs each with the ``DATA/FORWARD`` the process sends to its output room in the same chain (same
``ROOT_ID``). For the trebuchet simulator this is (wind, angle, counterweight) -> distance for every shot the
ordinary training fired: a dataset that costs no extra simulator run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...feedback.components import PendingMemory
from ...protocol.messages import LOGGING_ROOM, MessageType
from ...transport.client import Client, Handler, Trigger

__all__ = ["TrafficRecorder"]


class TrafficRecorder:
    """Collects a component's forward inputs and outputs from the hub's copies of the traffic.

    Args:
        process: the name of the component whose outputs are recorded (``SENT_BY`` of its output messages).
        input_room: the room its ``DATA/FORWARD`` inputs arrive in.
        output_room: the room it sends its ``DATA/FORWARD`` outputs to.
        max_pending: inputs kept while their output has not been seen (oldest dropped first, counted in
            ``pending.stats``).

    Attributes:
        inputs: one float64 array (n_i, D) per recorded batch.
        outputs: one float64 array (n_i, ...) per recorded batch, row for row with :attr:`inputs`.
    """

    def __init__(self, process: str, *, input_room: str, output_room: str, max_pending: int = 64) -> None:
        self.process = process
        self.input_room = input_room
        self.output_room = output_room
        self.pending = PendingMemory(max_entries=max_pending, max_age=None)
        self.inputs: list[np.ndarray] = []
        self.outputs: list[np.ndarray] = []
        self._handler: Handler | None = None

    def observe(self, log_message: dict[str, Any]) -> None:
        """Take one ``LOG/MESSAGES`` copy: keep an input, or pair an output with the input of its chain."""
        msg, room = log_message.get("MESSAGE"), log_message.get("ROOM")
        if not isinstance(msg, dict) or msg.get("TYPE") != MessageType.DATA_FORWARD:
            return
        if room == self.input_room:
            self.pending.put(msg.get("ROOT_ID", msg.get("ID")), np.asarray(msg["DATA"], dtype=np.float64))
        elif room == self.output_room and msg.get("SENT_BY") == self.process:
            x = self.pending.pop(msg.get("ROOT_ID", msg.get("ID")))
            y = np.asarray(msg["DATA"], dtype=np.float64)
            if x is not None and len(x) == len(y):
                self.inputs.append(x)
                self.outputs.append(y)

    def attach(self, client: Client) -> Handler:
        """Record from ``client``'s copies of the traffic (it joins ``_logging``); returns the handler."""
        self._handler = client.add_handler(self.observe, Trigger(MessageType.LOG_MESSAGES, LOGGING_ROOM))
        return self._handler

    def detach(self, client: Client) -> None:
        """Stop recording (the client stays in ``_logging``)."""
        if self._handler is not None:
            client.remove_handler(self._handler)
            self._handler = None

    def dataset(self) -> tuple[np.ndarray, np.ndarray]:
        """Everything recorded: inputs float64 (N, D) and outputs float64 (N, ...); empty arrays if nothing yet."""
        if not self.inputs:
            return np.empty((0, 0)), np.empty(0)
        return np.concatenate(self.inputs), np.concatenate(self.outputs)

    def __len__(self) -> int:
        return sum(len(x) for x in self.inputs)
