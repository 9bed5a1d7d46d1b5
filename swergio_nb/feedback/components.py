"""Feedback helpers for torch: forward/backward components connected by DATA/FORWARD and DATA/GRADIENT messages.

The backward path across processes is reverse-mode differentiation split at message boundaries. A component that
computes ``y = f(x)`` on a ``DATA/FORWARD`` message keeps ``(x, y)`` under the ``ID`` of the message it sends on.
When a ``DATA/GRADIENT`` message comes back for that ID (``REPLY_TO``, or swergio's convention of reusing ``ID``)
carrying ``v = dL/dy``, it computes the vector-Jacobian product ``dL/dx = v^T (dy/dx)`` with torch autograd (and, for a
module, the parameter gradients, then an optimizer step) and sends ``dL/dx`` upstream as a ``DATA/GRADIENT`` with
``REPLY_TO`` = the ID of the forward message it came from. Chained through rooms this is exactly backpropagation
through the composed function (the chain rule), each component only knowing its own piece.

Pending entries are bounded by count and by age (:class:`PendingMemory`): an entry whose gradient never comes is
dropped and counted, never leaked. ``MODEL_STATUS`` = 2 (VALIDATE) runs forward without keeping anything.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ..protocol.messages import MessageType, ModelStatus, new_id

if TYPE_CHECKING:
    from ..transport.client import Client, Handler

__all__ = ["PendingMemory", "PendingStats", "FunctionComponent", "ModuleComponent", "loss_and_gradient", "as_tensor"]


@dataclass(slots=True)
class PendingStats:
    """Counters of a :class:`PendingMemory`."""

    stored: int = 0  #: entries put
    matched: int = 0  #: entries popped by their key
    missing: int = 0  #: pops for keys never stored, already used, or already dropped
    expired: int = 0  #: entries dropped because they were older than max_age
    evicted: int = 0  #: entries dropped because max_entries was reached (oldest first)
    cleared: int = 0  #: entries dropped by :meth:`PendingMemory.clear` (new weights were loaded)


class PendingMemory:
    """A bounded map from message id to what a backward pass needs.

    Args:
        max_entries: most entries kept; putting one more drops the oldest (counted in ``stats.evicted``).
        max_age: seconds an entry is kept; older entries are dropped on the next put or pop (``stats.expired``).
            None keeps entries until evicted.
        clock: monotonic time source in seconds (injectable for tests).
    """

    def __init__(
        self, max_entries: int = 1024, max_age: float | None = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.max_age = max_age
        self.clock = clock
        self.stats = PendingStats()
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key`` (replacing an older entry with that key)."""
        self._expire()
        self._entries.pop(key, None)
        while len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)
            self.stats.evicted += 1
        self._entries[key] = (self.clock(), value)
        self.stats.stored += 1

    def pop(self, key: Hashable) -> Any | None:
        """Remove and return the value under ``key``; None (counted as missing) if there is none."""
        self._expire()
        entry = self._entries.pop(key, None)
        if entry is None:
            self.stats.missing += 1
            return None
        self.stats.matched += 1
        return entry[1]

    def clear(self) -> int:
        """Drop every entry (counted in ``stats.cleared``); returns how many there were."""
        count = len(self._entries)
        self._entries.clear()
        self.stats.cleared += count
        return count

    def _expire(self) -> None:
        if self.max_age is None:
            return
        limit = self.clock() - self.max_age
        entries = self._entries
        while entries:
            key, (stamp, _) = next(iter(entries.items()))
            if stamp >= limit:
                break
            del entries[key]
            self.stats.expired += 1


def as_tensor(data: Any, dtype: torch.dtype) -> torch.Tensor:
    """Message ``DATA`` (numpy array, nested lists, scalar or tensor) as a tensor of ``dtype`` (no copy if possible).

    A received array is a read-only view over its frame (:func:`swergio_nb.protocol.codec.unpack_array`); torch
    cannot share read-only memory, so such an array is copied once (or converted once, if ``dtype`` differs).
    """
    if isinstance(data, torch.Tensor):
        return data.to(dtype)
    return torch.as_tensor(_writable(data), dtype=dtype)


def _writable(data: Any) -> np.ndarray:
    """``data`` as a numpy array torch may share: a read-only array (as messages deliver them) is copied."""
    array = np.asarray(data)
    return array if array.flags.writeable else array.copy()


def loss_and_gradient(
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], prediction: Any, target: Any
) -> tuple[float, np.ndarray]:
    """The loss of a received prediction and its gradient with respect to that prediction (the trainer side).

    Args:
        loss_fn: ``loss_fn(prediction, target) -> scalar tensor``, e.g. ``torch.nn.functional.mse_loss``.
        prediction: the ``DATA`` of the forward message, any shape; float64 is kept, other dtypes become float32.
        target: what the prediction should have been, broadcastable to it.

    Returns:
        ``(loss, gradient)``: the loss as a float, and ``dloss/dprediction`` as a numpy array with the prediction's
        shape and dtype, ready to be sent back as ``DATA/GRADIENT``.
    """
    pred = torch.as_tensor(_writable(prediction))
    if pred.dtype != torch.float64:
        pred = pred.to(torch.float32)
    pred.requires_grad_(True)
    loss = loss_fn(pred, as_tensor(target, pred.dtype))
    (grad,) = torch.autograd.grad(loss, pred)
    return float(loss.detach()), grad.numpy()


class FunctionComponent:
    """A differentiable function with no parameters (a simulator, a fixed transform) as a feedback component.

    Args:
        fn: ``fn(x) -> y`` on tensors, differentiable with torch autograd; ``x`` is the forward message's ``DATA``
            as a tensor of ``dtype``.
        dtype: tensor dtype of ``x`` (torch.float32 or torch.float64).
        pending: memory of forward passes awaiting their gradient (a fresh :class:`PendingMemory` by default).
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor], torch.Tensor],
        *,
        dtype: torch.dtype = torch.float32,
        pending: PendingMemory | None = None,
    ) -> None:
        self.fn = fn
        self.dtype = dtype
        self.pending = pending if pending is not None else PendingMemory()

    def forward(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Handle a ``DATA/FORWARD`` message: returns the reply ``{"ID", "DATA"}`` (DATA a tensor ``y``).

        In TRAIN mode (the default) ``(x, y)`` is kept under the reply's ``ID`` for :meth:`backward`.
        """
        x = as_tensor(msg["DATA"], self.dtype)
        if msg.get("MODEL_STATUS", ModelStatus.TRAIN) == ModelStatus.VALIDATE:
            with torch.no_grad():
                return {"DATA": self.fn(x)}
        x.requires_grad_(True)
        y = self.fn(x)
        reply_id = new_id()
        self.pending.put(reply_id, (x, y, msg["ID"]))
        return {"ID": reply_id, "DATA": y.detach()}

    def backward(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Handle a ``DATA/GRADIENT`` message: returns the upstream gradient ``{"DATA": dL/dx, "REPLY_TO": id}``.

        Returns None (and counts ``pending.stats.missing``) if no forward pass is pending under the message's
        ``REPLY_TO`` (or ``ID``).

        Raises:
            ValueError: the gradient's element count does not match the forward output's.
        """
        entry = self.pending.pop(msg.get("REPLY_TO", msg["ID"]))
        if entry is None:
            return None
        x, y, forward_id = entry
        grad = as_tensor(msg["DATA"], y.dtype)
        if grad.numel() != y.numel():
            raise ValueError(
                f"gradient has {grad.numel()} elements, the forward output {tuple(y.shape)} has {y.numel()}"
            )
        grad_x = self._vjp(x, y, grad.reshape(y.shape))
        return {"DATA": grad_x, "REPLY_TO": forward_id}

    def _vjp(self, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        (grad_x,) = torch.autograd.grad(y, x, v)
        return grad_x

    def attach(
        self, client: Client, *, input_room: str, output_room: str, in_thread: bool = False
    ) -> tuple[Handler, Handler]:
        """Register on ``client``: FORWARD in ``input_room`` -> FORWARD to ``output_room``; GRADIENT in
        ``output_room`` -> GRADIENT to ``input_room``. Returns the two handlers.

        With ``in_thread``, both run in a worker thread as one handler group: in arrival order, one at a time, so a
        forward never runs between the forward and the backward (optimizer step) it follows, whose graph an in-place
        step would invalidate."""
        from ..transport.client import Trigger

        group = f"{input_room}->{output_room}" if in_thread else None
        fwd, bwd = (
            client.add_handler(
                fn, Trigger(mtype, source), reply_type=mtype, reply_rooms=target, in_thread=in_thread, group=group
            )
            for fn, mtype, source, target in (
                (self.forward, MessageType.DATA_FORWARD, input_room, output_room),
                (self.backward, MessageType.DATA_GRADIENT, output_room, input_room),
            )
        )
        return fwd, bwd


class ModuleComponent(FunctionComponent):
    """An ``nn.Module`` with its optimizer as a feedback component: each gradient message is one optimizer step.

    Its state (weights, optimizer and scheduler state, step count) and settings leave and come back through
    :mod:`.commands`: :class:`~swergio_nb.feedback.commands.ModelCommands` answers ``COMMAND/SAVEMODELWEIGHTS``,
    ``COMMAND/LOADMODELWEIGHTS``, ``COMMAND/SAVESETTINGS`` and ``COMMAND/LOADSETTINGS``;
    :func:`~swergio_nb.feedback.commands.save_file` and :func:`~swergio_nb.feedback.commands.load_file` use a file.
    :attr:`lock` is held by every forward pass, optimizer step, save and load, so a handler running in a thread
    never sees half a step.

    Args:
        module: the model; its forward takes the ``DATA`` tensor.
        optimizer: steps ``module``'s parameters; its gradients are zeroed before each backward pass.
        dtype: tensor dtype of the input.
        pending: memory of forward passes awaiting their gradient.
        scheduler: optional learning-rate scheduler, stepped after each optimizer step.
    """

    def __init__(
        self,
        module: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        dtype: torch.dtype = torch.float32,
        pending: PendingMemory | None = None,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    ) -> None:
        super().__init__(module, dtype=dtype, pending=pending)
        self.module = module
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.steps = 0  #: optimizer steps taken
        self.lock = threading.RLock()  #: held while the module, the optimizer or the scheduler is used or changed

    def forward(self, msg: dict[str, Any]) -> dict[str, Any]:
        """:meth:`FunctionComponent.forward`, holding :attr:`lock`."""
        with self.lock:
            return super().forward(msg)

    def backward(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """:meth:`FunctionComponent.backward` (one optimizer step), holding :attr:`lock`."""
        with self.lock:
            return super().backward(msg)

    def _vjp(self, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        y.backward(v)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.steps += 1
        assert x.grad is not None
        return x.grad
