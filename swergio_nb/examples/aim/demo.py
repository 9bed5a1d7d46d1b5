"""``swergio-nb demo aim``: aim the trebuchet by gradient descent on its inputs, through the simulator and through a
surrogate learned from its logged traffic.

1. **Through the simulator.** For each (wind, target) task an :class:`~swergio_nb.feedback.InputOptimizer` sends
   [wind, angle, counterweight] to the simulator component (room ``aim``), takes the distances back from
   ``output``, returns the squared miss's gradient and steps on the vector-Jacobian product that comes back to
   ``aim``: no control network. Checked against :func:`~.aiming.grid_search` (the ground truth): reachable targets
   should be hit within 0.05 m, unreachable ones end at the closest distance the machine can throw.
2. **Through a surrogate.** The ordinary trebuchet training (control network + simulator + trainer) runs while a
   :class:`~.recorder.TrafficRecorder` in the ``_logging`` room collects the simulator's inputs and distances; a
   :class:`~.surrogate.SurrogateNetwork` is fitted to them (no extra simulator run) and served as a component; the
   inputs are optimised through it, once inside the logged data's range and once in the whole box, and the inputs
   found are shot by the real simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...feedback.inputs import InputOptimization
from ...swarm.swarm import Swarm
from ...transport.client import Client
from ..trebuchet import control, simulator
from ..trebuchet.options import ControlOptions
from ..trebuchet.trainer import Trainer
from . import surrogate
from .aiming import (
    ANGLE_BOUNDS,
    WEIGHT_BOUNDS,
    GridTruth,
    aim_optimizer,
    grid_search,
    random_tasks,
    shoot_through,
    task_grid,
)
from .options import SurrogateOptions
from .recorder import TrafficRecorder
from .surrogate import SurrogateNetwork, fit_surrogate

__all__ = ["AimStudy", "SurrogateAim", "study", "run", "HIT_M"]

#: A reachable target counts as hit within this miss, m.
HIT_M = 0.05


@dataclass
class SurrogateAim:
    """Inputs optimised through the surrogate in one box, then shot by the real simulator (B tasks).

    Attributes:
        box: ``"logged range"`` or ``"whole box"``.
        angle_bounds, weight_bounds: the box searched, degrees and pounds.
        result: the optimisation through the surrogate (its outputs are the surrogate's predictions).
        real: float64 (B,): the simulator's distances at the inputs found, m.
        inside: bool (B,): the inputs found (wind included) lie within the logged data's range.
    """

    box: str
    angle_bounds: tuple[float, float]
    weight_bounds: tuple[float, float]
    result: InputOptimization
    real: np.ndarray
    inside: np.ndarray


@dataclass
class AimStudy:
    """Everything ``swergio-nb demo aim`` measured (B tasks).

    Attributes:
        tasks: float64 (B, 2) of [wind m/s, target m].
        truth: the grid search.
        direct: the optimisation through the simulator component.
        direct_wall_s: its wall time, s.
        tol: the miss at which a task was done, m.
        logged_shots: simulator shots recorded from ``_logging`` during the training (0: no surrogate part).
        fired_shots: shots the training fired.
        fit: the surrogate's fit figures (:func:`~.surrogate.fit_surrogate`), with ``grid_rmse_inside_m`` and
            ``grid_rmse_outside_m``: its error against the grid inside and outside the logged range.
        data_range: the logged [wind, angle, counterweight] minimum and maximum.
        surrogate: one :class:`SurrogateAim` per box.
    """

    tasks: np.ndarray
    truth: GridTruth
    direct: InputOptimization
    direct_wall_s: float
    tol: float = 0.02
    logged_shots: int = 0
    fired_shots: int = 0
    fit: dict[str, Any] = field(default_factory=dict)
    data_range: tuple[np.ndarray, np.ndarray] | None = None
    surrogate: list[SurrogateAim] = field(default_factory=list)

    @property
    def direct_miss(self) -> np.ndarray:
        """float64 (B,): |distance - target| at the inputs found through the simulator, m."""
        return np.abs(self.direct.outputs - self.tasks[:, 1])


def _grid_error(network: SurrogateNetwork, tasks: np.ndarray, truth: GridTruth) -> tuple[float, float]:
    """The surrogate's RMS error (m) on the grid of each distinct wind, inside and outside the logged range."""
    lo, hi = network.data_range
    aa, ww = np.meshgrid(truth.angles, truth.weights, indexing="ij")
    errors, inside = [], []
    for wind in np.unique(tasks[:, 0]):
        k = int(np.flatnonzero(tasks[:, 0] == wind)[0])
        x = np.stack([np.full(aa.size, wind), aa.ravel(), ww.ravel()], axis=1)
        with torch.no_grad():
            errors.append(network(torch.from_numpy(x)).numpy() - truth.distances[k].ravel())
        inside.append(((x >= lo) & (x <= hi)).all(axis=1))
    error, mask = np.concatenate(errors), np.concatenate(inside)
    rms = [float(np.sqrt(np.mean(error[m] ** 2))) if m.any() else float("nan") for m in (mask, ~mask)]
    return rms[0], rms[1]


async def _record_training(url: str, steps: int, batch_size: int, seed: int) -> TrafficRecorder:
    """Ordinary training through the hub at ``url`` while a recorder collects the simulator's traffic."""
    recorder = TrafficRecorder("trebuchet", input_room="aim", output_room="output")
    async with Client("recorder", url) as listener, Client("trainer", url) as client:
        recorder.attach(listener)
        await listener.ready()
        trainer = Trainer(client, batch_size=batch_size, seed=seed)
        await trainer.train(steps)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0  # the copies travel on another connection: wait for the last few, bounded
        while len(recorder) < steps * batch_size and loop.time() < deadline:
            await asyncio.sleep(0.01)
        recorder.detach(listener)
    return recorder


async def study(
    tasks: np.ndarray,
    *,
    max_steps: int = 200,
    tol: float = 0.02,
    grid: tuple[int, int] = (121, 181),
    train_steps: int = 300,
    batch_size: int = 100,
    fit_steps: int = 2000,
    seed: int = 0,
    processes: bool = False,
    out: Path = Path("."),
    log: Any = print,
) -> AimStudy:
    """Run both parts of the demo (see the module docstring); ``train_steps = 0`` skips the surrogate.

    Args:
        tasks: float64 (B, 2) of [wind m/s, target m].
        max_steps: round trips each optimisation may take.
        tol: the miss at which a task is done, m.
        grid: grid-search points (angles, counterweights).
        train_steps: ordinary training steps whose logged shots train the surrogate.
        batch_size: shots per training step.
        fit_steps: the surrogate's training steps.
        seed: seeds the training, the surrogate and its data split.
        processes: run the components as OS processes.
        out: where the surrogate's weights are written (``aim_surrogate.pt``).
        log: called with one line of progress at a time.
    """
    start = time.perf_counter()
    truth = grid_search(tasks, *grid)
    winds = len(np.unique(tasks[:, 0]))
    log(f"grid search: {winds} winds x {grid[0] * grid[1]} shots in {time.perf_counter() - start:.1f} s")
    swarm = Swarm().add(control.build, ControlOptions(anneal_steps=max(train_steps, 1)), seed=seed)
    swarm.add(simulator.build)
    async with swarm.started(processes=processes), Client("aimer", swarm.url) as client:
        start = time.perf_counter()
        direct = await aim_optimizer(tasks, tol=tol).run(client, max_steps, input_room="aim", output_room="output")
        found = AimStudy(tasks, truth, direct, time.perf_counter() - start, tol)
        log(f"aimed through the simulator: {direct.round_trips.max()} round trips, {found.direct_wall_s:.1f} s")
        if train_steps <= 0:
            return found
        recorder = await _record_training(swarm.url, train_steps, batch_size, seed)
    found.logged_shots, found.fired_shots = len(recorder), train_steps * batch_size
    log(f"ordinary training: {train_steps} steps; {found.logged_shots} of {found.fired_shots} shots logged")
    start = time.perf_counter()
    network, found.fit = fit_surrogate(*recorder.dataset(), steps=fit_steps, seed=seed)
    found.fit["grid_rmse_inside_m"], found.fit["grid_rmse_outside_m"] = _grid_error(network, tasks, truth)
    found.data_range = lo, hi = network.data_range
    rmse = found.fit["validation_rmse_m"]
    log(f"surrogate fitted in {time.perf_counter() - start:.1f} s: validation RMSE {rmse:.3f} m")
    out.mkdir(parents=True, exist_ok=True)
    model = (out / "aim_surrogate.pt").resolve()
    torch.save(network.state_dict(), model)
    boxes = {
        "logged range": ((max(ANGLE_BOUNDS[0], lo[1]), min(ANGLE_BOUNDS[1], hi[1])),
                         (max(WEIGHT_BOUNDS[0], lo[2]), min(WEIGHT_BOUNDS[1], hi[2]))),
        "whole box": (ANGLE_BOUNDS, WEIGHT_BOUNDS),
    }  # fmt: skip
    swarm = Swarm().add(surrogate.build, SurrogateOptions(model=model)).add(simulator.build)
    async with swarm.started(processes=processes), Client("aimer", swarm.url) as client:
        for box, (angles, weights) in boxes.items():
            optimizer = aim_optimizer(tasks, tol=tol, angle_bounds=angles, weight_bounds=weights)
            result = await optimizer.run(client, max_steps, input_room="model_aim", output_room="model_output")
            real = await shoot_through(client, result.inputs)
            inside = ((result.inputs >= lo) & (result.inputs <= hi)).all(axis=1)
            found.surrogate.append(SurrogateAim(box, angles, weights, result, real, inside))
            log(f"aimed through the surrogate ({box}): {result.round_trips.max()} round trips")
    return found


def _claims(aim: SurrogateAim, targets: np.ndarray, tol: float) -> str:
    """Where the surrogate claims a hit (its predicted miss within ``tol``), how far the real shots land."""
    claimed = np.abs(aim.result.outputs - targets) <= tol
    real_miss = np.abs(aim.real - targets)
    parts = [f"the surrogate claims {int(claimed.sum())} hits"]
    for name, m in (("inside the logged range", claimed & aim.inside), ("outside it", claimed & ~aim.inside)):
        if m.any():
            parts.append(
                f"{int(m.sum())} {name}: real miss median {np.median(real_miss[m]):.2f} m "
                f"({real_miss[m].min():.2f}-{real_miss[m].max():.2f})"
            )
    return "; ".join(parts)


def report(found: AimStudy) -> str:
    """The demo's tables as text."""
    tasks, truth = found.tasks, found.truth
    lines = [
        "Through the simulator component (ground truth: grid search of the same physics)",
        f"{'wind':>6} {'target':>7} | {'grid closest':>12} {'reach':>5} | {'angle':>6} {'weight':>7} {'distance':>8} "
        f"{'miss':>6} {'trips':>5} stop",
    ]
    for i, (wind, target) in enumerate(tasks):
        x, d = found.direct.inputs[i], found.direct.outputs[i]
        lines.append(
            f"{wind:+6.1f} {target:7.1f} | {truth.closest[i]:12.3f} {'yes' if truth.reachable[i] else 'no':>5} | "
            f"{x[1]:6.2f} {x[2]:7.1f} {d:8.3f} {abs(d - target):6.3f} {found.direct.round_trips[i]:5d} "
            f"{found.direct.reason[i]}"
        )
    reach, miss, trips = truth.reachable, found.direct_miss, found.direct.round_trips
    parts = []
    if reach.any():
        hits = int((miss[reach] <= HIT_M).sum())
        parts.append(
            f"reachable: {hits} of {int(reach.sum())} hit within {HIT_M} m (largest miss {miss[reach].max():.3f} m)"
        )
    if (~reach).any():
        off_grid = np.abs(found.direct.outputs - truth.closest)[~reach].max()
        parts.append(f"unreachable: {int((~reach).sum())}, closest distance within {off_grid:.3f} m of the grid's")
    parts.append(
        f"round trips per task {trips.min()}-{trips.max()} (mean {trips.mean():.1f}); {found.direct_wall_s:.1f} s"
    )
    lines.append("; ".join(parts))
    if not found.surrogate:
        return "\n".join(lines)
    lo, hi = found.data_range
    fit = found.fit
    lines += [
        "",
        f"Surrogate: {found.logged_shots} shots logged in _logging during ordinary training (of "
        f"{found.fired_shots} fired); logged range wind {lo[0]:.1f}..{hi[0]:.1f} m/s, angle {lo[1]:.1f}..{hi[1]:.1f} "
        f"deg, counterweight {lo[2]:.1f}..{hi[2]:.1f} lb",
        f"error: validation (held-out logged shots) RMSE {fit['validation_rmse_m']:.3f} m, MAE "
        f"{fit['validation_mae_m']:.3f} m; against the grid inside the logged range RMSE "
        f"{fit['grid_rmse_inside_m']:.2f} m, outside {fit['grid_rmse_outside_m']:.2f} m",
    ]
    for aim in found.surrogate:
        lines += [
            f"Through the surrogate, {aim.box}: angle {aim.angle_bounds[0]:.1f}..{aim.angle_bounds[1]:.1f} deg, "
            f"counterweight {aim.weight_bounds[0]:.1f}..{aim.weight_bounds[1]:.1f} lb",
            f"{'wind':>6} {'target':>7} | {'angle':>6} {'weight':>7} {'predicted':>9} {'real':>8} {'real miss':>9} "
            f"{'grid best':>9} {'trips':>5} inside",
        ]
        for i, (wind, target) in enumerate(tasks):
            x = aim.result.inputs[i]
            lines.append(
                f"{wind:+6.1f} {target:7.1f} | {x[1]:6.2f} {x[2]:7.1f} {aim.result.outputs[i]:9.3f} {aim.real[i]:8.3f} "
                f"{abs(aim.real[i] - target):9.3f} {truth.miss[i]:9.3f} {aim.result.round_trips[i]:5d} "
                f"{'yes' if aim.inside[i] else 'no'}"
            )
        lines.append(_claims(aim, tasks[:, 1], found.tol))
    return "\n".join(lines)


def figures(found: AimStudy) -> dict[str, Any]:
    """The demo's figures as plain JSON-able values (what ``aim_report.json`` holds)."""
    reach = found.truth.reachable
    data: dict[str, Any] = {
        "tasks": found.tasks.tolist(),
        "reachable": reach.tolist(),
        "grid_closest_m": found.truth.closest.tolist(),
        "direct": {
            "inputs": found.direct.inputs.tolist(),
            "distance_m": found.direct.outputs.tolist(),
            "miss_m": found.direct_miss.tolist(),
            "round_trips": found.direct.round_trips.tolist(),
            "reason": found.direct.reason,
            "wall_s": found.direct_wall_s,
        },
    }
    if found.surrogate:
        data["surrogate"] = {
            "logged_shots": found.logged_shots,
            "fired_shots": found.fired_shots,
            "data_range": [r.tolist() for r in found.data_range or ()],
            "fit": found.fit,
            "boxes": {
                aim.box: {
                    "inputs": aim.result.inputs.tolist(),
                    "predicted_m": aim.result.outputs.tolist(),
                    "real_m": aim.real.tolist(),
                    "real_miss_m": np.abs(aim.real - found.tasks[:, 1]).tolist(),
                    "inside": aim.inside.tolist(),
                    "round_trips": aim.result.round_trips.tolist(),
                }
                for aim in found.surrogate
            },
        }
    return data


def plot(found: AimStudy, path: Path) -> None:
    """Write the demo's figure to ``path`` (PNG): the distances found against the targets through the simulator, and
    the surrogate's predictions against the real shots at its answers."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    targets, reach = found.tasks[:, 1], found.truth.reachable
    panels = 2 if found.surrogate else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.5), dpi=100, squeeze=False)
    ax = axes[0, 0]
    top = max(targets.max(), found.direct.outputs.max()) * 1.05
    ax.plot([0, top], [0, top], color="grey", lw=0.8, label="distance = target")
    ax.plot(targets[reach], found.direct.outputs[reach], "o", label="reachable (grid search)")
    ax.plot(targets[~reach], found.direct.outputs[~reach], "s", mfc="none", label="unreachable: closest throw")
    ax.plot(targets[~reach], found.truth.closest[~reach], "x", color="k", label="grid search's closest")
    ax.set_xlabel("target (m)")
    ax.set_ylabel("distance thrown (m)")
    ax.set_title("inputs found through the simulator component")
    ax.legend(fontsize=8)
    if found.surrogate:
        ax = axes[0, 1]
        for aim, marker in zip(found.surrogate, "o^", strict=False):
            for inside, fill in ((True, None), (False, "none")):
                m = aim.inside == inside
                if not m.any():
                    continue
                where = "inside" if inside else "outside"
                ax.plot(
                    aim.result.outputs[m], aim.real[m], marker, mfc=fill, label=f"{aim.box}, {where} the logged range"
                )
        lo = min(min(a.result.outputs.min(), a.real.min()) for a in found.surrogate)
        hi = max(max(a.result.outputs.max(), a.real.max()) for a in found.surrogate)
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
        ax.set_xlabel("surrogate's predicted distance (m)")
        ax.set_ylabel("real simulator's distance (m)")
        ax.set_title("inputs found through the surrogate, shot for real")
        ax.legend(fontsize=8)
    for ax in axes[0]:
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(args: argparse.Namespace) -> AimStudy:
    """Run the demo as the options say; prints the report and writes ``aim_report.json``, ``aim.png`` (and the
    surrogate)."""
    tasks = task_grid(args.winds, args.targets) if args.random is None else random_tasks(args.random, args.seed)
    found = asyncio.run(
        study(
            tasks,
            max_steps=args.max_steps,
            tol=args.tol,
            grid=tuple(args.grid),
            train_steps=args.train_steps,
            fit_steps=args.fit_steps,
            seed=args.seed,
            processes=args.processes,
            out=args.out,
        )
    )
    print(report(found))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "aim_report.json"
    path.write_text(json.dumps(figures(found), indent=1))
    plot(found, args.out / "aim.png")
    print(f"wrote {path}, {args.out / 'aim.png'}")
    return found
