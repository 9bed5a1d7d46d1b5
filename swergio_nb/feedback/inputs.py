"""Optimise a process's inputs by gradient through the components downstream (control problems).

An :class:`InputOptimizer` stands at the start of a chain of feedback components. It holds a batch of B input
vectors (one per task) as torch parameters inside a box, and repeats the round trip of the backward path:

1. ``DATA/FORWARD`` to the chain's input room: the inputs of the rows still running, float64 (n, D);
2. the chain's outputs come back in its output room (same ``ROOT_ID``); the per-row objective ``f_i(y_i)`` and its
   gradient ``df/dy`` are computed here;
3. ``DATA/GRADIENT`` to the output room (``REPLY_TO`` = the outputs' message id), and the vector-Jacobian product
   ``df/dx`` (n, D) that the chain sends back to its input room is awaited;
4. one step of a torch optimizer on the inputs, then the projection onto the box (``clamp``: projected gradient
   descent).

Whatever sits between the two rooms (one component or many hops, in this process or in others) only has to follow
the protocol of :mod:`.components`. The inputs are stepped in box units, ``z = x / (upper - lower)`` for each
finite, non-empty bound (else ``z = x``), so one learning rate suits inputs in degrees and in pounds. A bound with
``lower == upper`` holds that input fixed (a measured disturbance such as the wind).

A task stops when its objective is at most ``tol`` (``"tolerance"``), when its best objective has not improved by
more than the fraction ``ftol`` for ``patience`` round trips (``"stalled"``: a stationary point of the projected
gradient, e.g. the closest point of an unreachable target, on the box's boundary or not; the rule of Keras'
``EarlyStopping``, since an adaptive optimizer's steps do not shrink to zero there), or when the step budget runs
out (``"budget"``). Stopped tasks leave the batch, so the next round trip carries only the others. The result
reports, per task, the best point evaluated, its outputs and objective, why it stopped and how many round trips it
took part in, with the history of the objective.

A task may have several rows (``tasks=``): alternative starting points, for objectives with several local minima
(multi-start). They travel in the same round trips; the task stops as soon as one of them reaches ``tol``, and its
result is the best of them.

:meth:`InputOptimizer.run_local` is the same optimisation with plain autograd through a function in this process,
no hub: through a chain that computes that function it takes exactly the same steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..protocol.messages import MessageType, ModelStatus
from .components import as_tensor

if TYPE_CHECKING:
    from ..transport.client import Client

__all__ = ["InputOptimizer", "InputOptimization", "Objective"]

#: ``objective(outputs, rows) -> values``: outputs (n, ...) of the running rows, ``rows`` (n,) their indices in
#: the batch (int64), values (n,) the objective of each (to be minimised), differentiable in the outputs.
Objective = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class InputOptimization:
    """What an :class:`InputOptimizer` found (one row per task; T tasks, D inputs each).

    Attributes:
        inputs: float64 (T, D): the best inputs evaluated for each task (over all its starts).
        outputs: float64 (T, ...): the chain's outputs at those inputs.
        objective: float64 (T,): the objective there.
        reason: per task, why it stopped: ``"tolerance"`` (a start reached ``tol``), ``"budget"`` (a start was still
            running when the budget ran out), ``"stalled"`` (every start stalled), or ``"running"``.
        round_trips: int (T,): forward/backward round trips the task took part in.
        history: float64 (steps, T): the best objective of each task's starts at each round trip, NaN once the task
            had stopped.
    """

    inputs: np.ndarray
    outputs: np.ndarray
    objective: np.ndarray
    reason: list[str]
    round_trips: np.ndarray
    history: np.ndarray

    @property
    def converged(self) -> np.ndarray:
        """bool (T,): the tasks whose objective reached the tolerance."""
        return np.array([r == "tolerance" for r in self.reason])


class InputOptimizer:
    """A batch of process inputs optimised by the gradients that come back through a chain of components.

    Args:
        inputs: the starting inputs, array-like (B, D) (B rows, D inputs each); converted to float64.
        objective: ``objective(outputs, rows) -> (n,)``, see :data:`Objective`; e.g. the squared miss
            ``lambda y, rows: (y - targets[rows]) ** 2``.
        lower: lower bounds, broadcastable to (B, D); -inf (the default) for none.
        upper: upper bounds, broadcastable to (B, D); +inf (the default) for none.
        optimizer: ``optimizer(params) -> torch.optim.Optimizer`` over the one (B, D) parameter in box units;
            default Rprop (Riedmiller & Braun, "A direct adaptive method for faster backpropagation learning: the
            RPROP algorithm", ICNN 1993; ``torch.optim.Rprop``) with first step ``lr`` and steps between 1e-9 and
            ``max_step``: each input's step grows while its gradient keeps its sign and halves when it flips, which
            suits a deterministic process and a full batch (pass Adam for a noisy one).
        lr: the default optimizer's first step, in box units.
        max_step: the default optimizer's largest step, in box units.
        tol: a task stops once the objective of one of its rows is at most this (in the objective's units);
            None: never.
        patience: a row stops once its best objective has not improved by more than ``ftol`` (relative) for
            this many round trips; None: never.
        ftol: the relative improvement that counts, e.g. 1e-3 for 0.1 %.
        tasks: int (B,): the task of each row, numbered 0 to T - 1; rows of one task are its alternative starts.
            None: each row is its own task (T = B).

    Raises:
        ValueError: ``inputs`` is not a finite (B, D) array, the bounds do not broadcast to it, a lower bound
            exceeds its upper bound, a starting input lies outside its bounds (the message names the first), or
            ``tasks`` is not (B,) integers covering 0 to T - 1.
    """

    def __init__(
        self,
        inputs: Any,
        objective: Objective,
        *,
        lower: Any = -np.inf,
        upper: Any = np.inf,
        optimizer: Callable[[Sequence[torch.Tensor]], torch.optim.Optimizer] | None = None,
        lr: float = 0.05,
        max_step: float = 0.2,
        tol: float | None = None,
        patience: int | None = 20,
        ftol: float = 1e-3,
        tasks: Any = None,
    ) -> None:
        x = np.asarray(inputs, dtype=np.float64)
        if x.ndim != 2 or not np.isfinite(x).all():
            raise ValueError(f"inputs must be a finite (B, D) array, got shape {x.shape}")
        try:
            lo, hi = (np.broadcast_to(np.asarray(b, dtype=np.float64), x.shape) for b in (lower, upper))
        except ValueError:
            raise ValueError(
                f"lower {np.shape(lower)} and upper {np.shape(upper)} must broadcast to the inputs' {x.shape}"
            ) from None
        _first_bad(lo > hi, "lower bound exceeds the upper bound", lo, hi)
        _first_bad((x < lo) | (x > hi), "starting input lies outside its bounds", x, lo, hi)
        task = np.arange(x.shape[0]) if tasks is None else np.asarray(tasks)
        if (
            task.shape != (x.shape[0],)
            or task.dtype.kind not in "iu"
            or set(task.tolist()) != set(range(task.max() + 1))
        ):
            raise ValueError(f"tasks must number the {x.shape[0]} rows' tasks 0 to T - 1 (each used), got {tasks!r}")
        self.task = task  #: int (B,): the task of each row
        self.n_tasks = int(task.max()) + 1
        span = hi - lo
        self.scale = torch.from_numpy(np.where(np.isfinite(span) & (span > 0), span, 1.0))
        self.lower = torch.from_numpy(lo / self.scale.numpy())
        self.upper = torch.from_numpy(hi / self.scale.numpy())
        self.z = torch.nn.Parameter(torch.from_numpy(x / self.scale.numpy()))  #: the inputs in box units (B, D)
        make = optimizer or (lambda params: torch.optim.Rprop(params, lr=lr, step_sizes=(1e-9, max_step)))
        self.optimizer = make([self.z])
        self.objective = objective
        self.tol = tol
        self.patience = patience
        self.ftol = ftol
        self._improved = np.zeros(x.shape[0], dtype=np.int64)  # round trip of each row's last improvement
        n = x.shape[0]
        self.reason = ["running"] * n
        self.round_trips = np.zeros(n, dtype=np.int64)
        self.best_inputs = x.copy()
        self.best_objective = np.full(n, np.inf)
        self.best_outputs: np.ndarray | None = None
        self.history: list[np.ndarray] = []
        #: Called as ``listener(step, objective)`` after each round trip (step counts from 1; objective (B,) per row,
        #: NaN for rows that had stopped), e.g. a :class:`~swergio_nb.notebook.widgets.MetricsWidget`'s push.
        self.listeners: list[Callable[[int, np.ndarray], Any]] = []

    @property
    def inputs(self) -> np.ndarray:
        """float64 (B, D): the current inputs (not necessarily the best evaluated)."""
        return (self.z.detach() * self.scale).numpy()

    @property
    def running(self) -> np.ndarray:
        """int64 (n,): the indices of the rows still running."""
        return np.flatnonzero([r == "running" for r in self.reason])

    def result(self) -> InputOptimization:
        """The best point found so far for each task, over its starts (see :class:`InputOptimization`)."""
        history = np.stack(self.history) if self.history else np.empty((0, len(self.reason)))
        outputs = self.best_outputs if self.best_outputs is not None else np.full(len(self.reason), np.nan)
        rows = [np.flatnonzero(self.task == t) for t in range(self.n_tasks)]
        best = np.array([r[np.argmin(self.best_objective[r])] for r in rows])
        reasons = []
        for r in rows:
            kinds = {self.reason[i] for i in r}
            reasons.append(next(k for k in ("tolerance", "running", "budget", "stalled") if k in kinds))
        return InputOptimization(
            self.best_inputs[best].copy(),
            outputs[best].copy(),
            self.best_objective[best].copy(),
            reasons,
            np.array([self.round_trips[r].max() for r in rows]),
            np.stack([np.fmin.reduce(history[:, r], axis=1) for r in rows], axis=1),
        )

    # -- one round trip, in two halves around the chain ----------------------------------------------------------

    def forward_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """The running rows' indices (n,) and their inputs, float64 (n, D): what goes forward."""
        rows = self.running
        return rows, (self.z.detach()[rows] * self.scale[rows]).numpy()

    def output_gradient(self, rows: np.ndarray, outputs: Any) -> tuple[np.ndarray, np.ndarray]:
        """The objective (n,) of the running rows at the chain's ``outputs`` and its gradient with respect to
        them (float64, the outputs' shape): what goes back.

        Raises:
            ValueError: the outputs do not have one row per running row of inputs, or the objective is not (n,).
        """
        y = as_tensor(outputs, torch.float64)
        if y.ndim == 0 or y.shape[0] != len(rows):
            raise ValueError(f"the chain returned outputs of shape {tuple(y.shape)} for {len(rows)} rows of inputs")
        y.requires_grad_(True)
        values = self.objective(y, torch.from_numpy(rows))
        if values.shape != (len(rows),):
            raise ValueError(f"objective must return one value per row ({len(rows)},), got {tuple(values.shape)}")
        (grad,) = torch.autograd.grad(values.sum(), y)
        self._remember(rows, y.detach().numpy(), values.detach().numpy())
        return values.detach().numpy(), grad.numpy()

    def step(self, rows: np.ndarray, input_gradient: Any) -> None:
        """Take one optimizer step for the running ``rows`` from ``df/dx`` (n, D) as the chain sent it back,
        project onto the box, and stop the rows that are done (call after :meth:`output_gradient`).

        Raises:
            ValueError: the gradient's shape is not (n, D), or it is not finite (nothing is stepped).
        """
        grad = as_tensor(input_gradient, torch.float64)
        if grad.shape != (len(rows), self.z.shape[1]):
            raise ValueError(
                f"the input gradient has shape {tuple(grad.shape)}, expected {(len(rows), self.z.shape[1])}"
            )
        if not torch.isfinite(grad).all():
            bad = sorted({int(rows[i]) for i in torch.nonzero(~torch.isfinite(grad))[:, 0]})
            raise ValueError(f"the input gradient is not finite for rows {bad}")
        reached = {self.task[i] for i in rows if self.tol is not None and self.best_objective[i] <= self.tol}
        done = [i for i in rows if self.task[i] in reached]  # a task stops with all its starts
        for i in done:
            self.reason[i] = "tolerance"
        before = self.z.detach().clone()
        full = torch.zeros_like(self.z)
        full[rows] = grad * self.scale[rows]  # the chain rule through x = z * scale
        self.optimizer.zero_grad(set_to_none=True)
        self.z.grad = full
        self.optimizer.step()
        with torch.no_grad():
            self.z.copy_(torch.minimum(torch.maximum(self.z, self.lower), self.upper))
            frozen = torch.ones(len(self.reason), dtype=torch.bool)
            frozen[rows] = False
            frozen[done] = True
            self.z[frozen] = before[frozen]  # stopped rows keep their inputs whatever the optimizer's momentum
        if self.patience is not None:
            for i in rows:
                if self.reason[i] == "running" and len(self.history) - self._improved[i] >= self.patience:
                    self.reason[i] = "stalled"
        for listener in self.listeners:
            listener(len(self.history), self.history[-1])

    def _remember(self, rows: np.ndarray, outputs: np.ndarray, values: np.ndarray) -> None:
        if self.best_outputs is None:
            self.best_outputs = np.full((len(self.reason), *outputs.shape[1:]), np.nan)
        x = (self.z.detach()[rows] * self.scale[rows]).numpy()
        better = values < self.best_objective[rows]
        significant = values < self.best_objective[rows] - self.ftol * np.abs(values)
        self._improved[rows[significant]] = len(self.history) + 1
        self.best_objective[rows[better]] = values[better]
        self.best_inputs[rows[better]] = x[better]
        self.best_outputs[rows[better]] = outputs[better]
        self.round_trips[rows] += 1
        row = np.full(len(self.reason), np.nan)
        row[rows] = values
        self.history.append(row)

    def _finish(self) -> InputOptimization:
        for i in self.running:
            self.reason[i] = "budget"
        return self.result()

    # -- the loops ----------------------------------------------------------------------------------------------

    async def run(
        self,
        client: Client,
        max_steps: int,
        *,
        input_room: str = "input",
        output_room: str = "output",
        timeout: float = 60.0,
    ) -> InputOptimization:
        """Optimise through the chain of components between ``input_room`` and ``output_room``.

        Args:
            client: a connected client (not a member of ``input_room``'s chain).
            max_steps: the step budget: at most this many round trips.
            input_room: where the inputs go forward and their gradient comes back.
            output_room: where the outputs come back and their gradient goes.
            timeout: seconds to wait for each reply.

        Returns:
            The result; tasks still running when the budget is spent stop with ``"budget"``.

        Raises:
            TimeoutError: the chain did not answer within ``timeout``.
            ValueError: the chain's outputs or gradient do not fit the running rows.
        """
        while len(self.running) and len(self.history) < max_steps:
            rows, x = self.forward_inputs()
            out = await client.request(
                {"TYPE": MessageType.DATA_FORWARD, "TO_ROOM": input_room, "DATA": x, "MODEL_STATUS": ModelStatus.TRAIN},
                reply_room=output_room,
                reply_type=MessageType.DATA_FORWARD,
                timeout=timeout,
            )
            values, grad = self.output_gradient(rows, out["DATA"])
            back = await client.request(
                {
                    "TYPE": MessageType.DATA_GRADIENT,
                    "TO_ROOM": output_room,
                    "DATA": grad,
                    "REPLY_TO": out["ID"],
                    "ROOT_ID": out["ROOT_ID"],
                    "MODEL_STATUS": ModelStatus.TRAIN,
                    "LOSS": float(values.sum()),
                },
                reply_room=input_room,
                reply_type=MessageType.DATA_GRADIENT,
                timeout=timeout,
            )
            self.step(rows, back["DATA"])
        return self._finish()

    def run_local(self, fn: Callable[[torch.Tensor], torch.Tensor], max_steps: int) -> InputOptimization:
        """The same optimisation through ``fn(x) -> outputs`` (float64 tensors) in this process, with plain autograd
        and no hub: the reference for :meth:`run` (and the quick way when the process is a function at hand)."""
        while len(self.running) and len(self.history) < max_steps:
            rows, x = self.forward_inputs()
            xt = torch.from_numpy(x).requires_grad_(True)
            y = fn(xt)
            _, grad = self.output_gradient(rows, y.detach())
            (grad_x,) = torch.autograd.grad(y, xt, torch.from_numpy(grad))
            self.step(rows, grad_x)
        return self._finish()


def _first_bad(mask: np.ndarray, problem: str, *arrays: np.ndarray) -> None:
    if mask.any():
        index = tuple(int(i) for i in np.argwhere(mask)[0])
        values = ", ".join(f"{a[index]:g}" for a in arrays)
        raise ValueError(f"{problem} at row {index[0]}, input {index[1]} ({values})")
