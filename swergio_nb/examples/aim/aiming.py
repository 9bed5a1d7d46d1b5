"""Aiming the trebuchet without a control network: angle and counterweight found per (wind, target) task.

The inputs of the simulator component are [wind m/s, release angle deg, counterweight lb]; the wind is measured,
not chosen, so an :class:`~swergio_nb.feedback.InputOptimizer` holds it fixed (``lower == upper``) and moves the
angle and the counterweight inside :data:`ANGLE_BOUNDS` x :data:`WEIGHT_BOUNDS` to minimise the squared miss
``(distance - target)^2`` (m^2), from the :data:`STARTS` of each task at once. The ground truth is
:func:`grid_search`: the same physics (:func:`~swergio_nb.examples.trebuchet.physics.shoot`) on a regular grid of
the box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...feedback.inputs import InputOptimizer
from ...protocol.messages import MessageType, ModelStatus
from ...transport.client import Client
from ..trebuchet.control import WIND_SD
from ..trebuchet.physics import shoot

__all__ = [
    "ANGLE_BOUNDS",
    "WEIGHT_BOUNDS",
    "STARTS",
    "GridTruth",
    "task_grid",
    "random_tasks",
    "grid_search",
    "aim_optimizer",
    "shoot_through",
]

#: Release angles searched, degrees (the physics is accurate to 0.008 m over 5-67 deg; see physics.py's caveat on
#: 72-83 deg, where the distance jumps).
ANGLE_BOUNDS = (5.0, 65.0)
#: Counterweights searched, pounds (Trebuchet.jl's unit).
WEIGHT_BOUNDS = (50.0, 500.0)
#: Where each task's search starts: (angle deg, counterweight lb) three times, low, middle and high angles at the
#: model zoo's 200 lb. The shortest throw lies at either end of the angles (which end depends on the wind), so one
#: start can stop in the worse local minimum: on 60 random tasks one start (35 deg) did for 2, three starts for none.
STARTS = ((15.0, 200.0), (35.0, 200.0), (55.0, 200.0))


def task_grid(winds: list[float], targets: list[float]) -> np.ndarray:
    """Every (wind, target) pair: float64 (len(winds) * len(targets), 2) of [wind m/s, target m]."""
    return np.array([[w, t] for w in winds for t in targets], dtype=np.float64)


def random_tasks(n: int, seed: int = 0, targets: tuple[float, float] = (10.0, 140.0)) -> np.ndarray:
    """``n`` random tasks, float64 (n, 2): wind ~ Normal(0, 5) m/s (the trainer's) and target ~ Uniform(targets) m,
    both rounded to 0.1."""
    rng = np.random.default_rng(seed)
    return np.round(np.stack([rng.normal(0.0, WIND_SD, n), rng.uniform(*targets, n)], axis=1), 1)


@dataclass
class GridTruth:
    """The brute-force answer for each task (B tasks) over an (A, W) grid of angles x counterweights.

    Attributes:
        angles: float64 (A,) degrees; weights: float64 (W,) pounds.
        distances: float64 (B, A, W): the distance of every grid shot, m.
        closest: float64 (B,): the grid distance nearest the target, m; angle, weight: where (deg, lb).
        miss: float64 (B,): ``|closest - target|``, m.
        lowest, highest: float64 (B,): the shortest and longest throw on the grid, m.
        reachable: bool (B,): lowest <= target <= highest (the distance is continuous in the box, so the target
            is hit exactly somewhere in it).
    """

    angles: np.ndarray
    weights: np.ndarray
    distances: np.ndarray
    closest: np.ndarray
    angle: np.ndarray
    weight: np.ndarray
    miss: np.ndarray
    lowest: np.ndarray
    highest: np.ndarray
    reachable: np.ndarray


def grid_search(
    tasks: np.ndarray,
    angles: int = 121,
    weights: int = 181,
    *,
    angle_bounds: tuple[float, float] = ANGLE_BOUNDS,
    weight_bounds: tuple[float, float] = WEIGHT_BOUNDS,
) -> GridTruth:
    """Shoot every (angle, counterweight) of a regular grid for each task's wind: the ground truth.

    Args:
        tasks: float64 (B, 2) of [wind m/s, target m].
        angles, weights: grid points per input (spacing 0.5 deg and 2.5 lb by default).
        angle_bounds, weight_bounds: the box, degrees and pounds.

    Returns:
        The :class:`GridTruth`; each distinct wind is simulated once (angles x weights shots, one batch).
    """
    a = np.linspace(*angle_bounds, angles)
    w = np.linspace(*weight_bounds, weights)
    aa, ww = np.meshgrid(a, w, indexing="ij")
    by_wind: dict[float, np.ndarray] = {}
    for wind in np.unique(tasks[:, 0]):
        shots = shoot(torch.full((aa.size,), float(wind), dtype=torch.float64), torch.from_numpy(aa.ravel()),
                      torch.from_numpy(ww.ravel()))  # fmt: skip
        by_wind[float(wind)] = shots.numpy().reshape(aa.shape)
    distances = np.stack([by_wind[float(wind)] for wind in tasks[:, 0]])
    flat = distances.reshape(len(tasks), -1)
    best = np.abs(flat - tasks[:, 1:2]).argmin(axis=1)
    closest = flat[np.arange(len(tasks)), best]
    lowest, highest = flat.min(axis=1), flat.max(axis=1)
    reachable = (lowest <= tasks[:, 1]) & (tasks[:, 1] <= highest)
    miss = np.abs(closest - tasks[:, 1])
    return GridTruth(a, w, distances, closest, aa.ravel()[best], ww.ravel()[best], miss, lowest, highest, reachable)


def aim_optimizer(
    tasks: np.ndarray,
    *,
    tol: float = 0.02,
    angle_bounds: tuple[float, float] = ANGLE_BOUNDS,
    weight_bounds: tuple[float, float] = WEIGHT_BOUNDS,
    starts: tuple[tuple[float, float], ...] = STARTS,
    **kwargs: Any,
) -> InputOptimizer:
    """An :class:`~swergio_nb.feedback.InputOptimizer` of [wind, angle, counterweight] for each task.

    Args:
        tasks: float64 (B, 2) of [wind m/s, target m]; the wind is held fixed.
        tol: a task is done when it misses by at most this, m (the objective is the squared miss, m^2).
        angle_bounds, weight_bounds: the box, degrees and pounds.
        starts: the starting (angle deg, counterweight lb) of each task, clipped into the box; several are
            alternative starts (rows of one task: the result keeps the best).
        **kwargs: further :class:`~swergio_nb.feedback.InputOptimizer` arguments (``lr``, ``patience``...).

    Raises:
        ValueError: bad tasks or bounds (from the optimizer).
    """
    task = np.repeat(np.arange(len(tasks)), len(starts))  # row r is start r % S of task r // S
    wind, target = np.asarray(tasks, dtype=np.float64)[task].T
    angle, weight = np.tile(np.asarray(starts, dtype=np.float64), (len(tasks), 1)).T
    lower = np.stack([wind, np.full_like(wind, angle_bounds[0]), np.full_like(wind, weight_bounds[0])], axis=1)
    upper = np.stack([wind, np.full_like(wind, angle_bounds[1]), np.full_like(wind, weight_bounds[1])], axis=1)
    x0 = np.clip(np.stack([wind, angle, weight], axis=1), lower, upper)
    targets = torch.from_numpy(target.copy())
    return InputOptimizer(
        x0,
        lambda distance, rows: (distance - targets[rows]) ** 2,
        lower=lower,
        upper=upper,
        tol=tol**2,
        tasks=task,
        **kwargs,
    )


async def shoot_through(
    client: Client, inputs: np.ndarray, *, input_room: str = "aim", output_room: str = "output", timeout: float = 60.0
) -> np.ndarray:
    """The distances, float64 (B,) m, a simulator (or its surrogate) component gives for ``inputs`` (B, 3) of
    [wind, angle, counterweight], asked in VALIDATE mode (nothing kept for a backward pass).

    Raises:
        TimeoutError: no answer within ``timeout`` seconds.
    """
    reply = await client.request(
        {
            "TYPE": MessageType.DATA_FORWARD,
            "TO_ROOM": input_room,
            "DATA": np.asarray(inputs, dtype=np.float64),
            "MODEL_STATUS": ModelStatus.VALIDATE,
        },
        reply_room=output_room,
        reply_type=MessageType.DATA_FORWARD,
        timeout=timeout,
    )
    return np.asarray(reply["DATA"], dtype=np.float64)
