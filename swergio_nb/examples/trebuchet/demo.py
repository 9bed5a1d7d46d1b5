"""``swergio-nb demo trebuchet``: train the trebuchet's control network end to end through the hub.

Three components (trainer, control network, simulator) talk through rooms ``input`` -> ``aim`` -> ``output`` and the
loss gradient travels back ``output`` -> ``aim`` -> ``input``. By default the control network and the simulator run
in this process on the same event loop as an embedded hub; ``--processes`` runs each as its own OS process. The
reference (``--reference``) is the identical computation in one process with plain autograd and no hub;
``--compare`` runs both on the same seed and prints the wall-time ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...feedback import ModuleComponent, load_file, write_state
from ...swarm.swarm import Swarm
from ...transport.client import Client
from . import control, simulator
from .control import ControlNetwork, cosine_annealing
from .options import ControlOptions
from .physics import shoot
from .trainer import Trainer, mean_squared_miss, sample_batch

__all__ = ["RunResult", "train_through_hub", "train_reference", "run"]


@dataclass
class RunResult:
    """Outcome of one training run."""

    mode: str  #: "hub (in-process)", "hub (processes)" or "reference (no hub)"
    steps: int
    wall_s: float  #: training wall time in seconds (evaluation excluded)
    losses: list[float]  #: mean squared miss per step, m^2
    mean_miss_m: float  #: mean absolute miss over the evaluation shots, m
    median_miss_m: float
    network: ControlNetwork
    extra: dict[str, Any] = field(default_factory=dict)
    #: the control component's state at the end (weights, optimizer; :mod:`swergio_nb.feedback.commands`), or None
    state: dict[str, Any] | None = None


def _evaluate_locally(network: ControlNetwork, n: int, seed: int) -> tuple[float, float]:
    tasks = torch.from_numpy(sample_batch(np.random.default_rng(seed), n))
    with torch.no_grad():
        aim = network(tasks).double()
        miss = (shoot(aim[:, 0], aim[:, 1], aim[:, 2]) - tasks[:, 1].double()).abs().numpy()
    return float(miss.mean()), float(np.median(miss))


def train_reference(
    steps: int,
    *,
    batch_size: int = 100,
    seed: int = 0,
    lr: float = 1e-2,
    weight_scale: float = 1.0,
    eval_shots: int = 1000,
    progress: Any = None,
    resume: str | Path | None = None,
) -> RunResult:
    """The same training with no hub: network -> simulator -> loss -> autograd -> Adam, in one process; from the
    model saved in ``resume`` if given, loaded exactly as the control component loads it."""
    network = ControlNetwork.seeded(seed, weight_scale=weight_scale)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    scheduler = cosine_annealing(optimizer, steps)
    if resume is not None:
        load_file(ModuleComponent(network, optimizer, scheduler=scheduler), resume)
    rng = np.random.default_rng(seed)
    losses = []
    start = time.perf_counter()
    for _ in range(steps):
        batch = torch.from_numpy(sample_batch(rng, batch_size))
        aim = network(batch).double()
        loss = mean_squared_miss(shoot(aim[:, 0], aim[:, 1], aim[:, 2]), batch[:, 1].double())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if progress is not None:
            progress.update(1)
            progress.set_postfix(rmse_m=f"{loss.item() ** 0.5:.2f}", refresh=False)
    wall = time.perf_counter() - start
    mean_miss, median_miss = _evaluate_locally(network, eval_shots, seed + 10_000)
    return RunResult("reference (no hub)", steps, wall, losses, mean_miss, median_miss, network)


async def train_through_hub(
    steps: int,
    *,
    batch_size: int = 100,
    seed: int = 0,
    lr: float = 1e-2,
    weight_scale: float = 1.0,
    processes: bool = False,
    eval_shots: int = 1000,
    progress: Any = None,
    start_timeout: float = 120.0,
    resume: str | Path | None = None,
) -> RunResult:
    """Train through an embedded hub with the three components; see the module docstring. ``resume``: a model file
    (``trebuchet_model.pt``) the control network starts from.

    Raises:
        LauncherError: component processes did not get ready within ``start_timeout`` seconds.
    """
    resume = None if resume is None else Path(resume).resolve()  # a process may run elsewhere
    options = ControlOptions(lr=lr, anneal_steps=steps, weight_scale=weight_scale, resume=resume)
    swarm = Swarm(ready_timeout=start_timeout).add(control.build, options, seed=seed).add(simulator.build)
    async with swarm.started(processes=processes), Client("trainer", swarm.url) as client:
        # connected components have joined their rooms (connect() returns after the hub's acks)
        trainer = Trainer(client, batch_size=batch_size, seed=seed)
        start = time.perf_counter()
        await trainer.train(steps, progress)
        wall = time.perf_counter() - start
        evaluation = await trainer.evaluate(eval_shots, seed + 10_000)
        state = await trainer.fetch_state()
        network = ControlNetwork(weight_scale=weight_scale)
        network.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state["WEIGHTS"].items()})  # writable
        stats = swarm.hub.router.stats
        extra = {"messages_routed": stats.routed, "hub_errors": stats.errors}
    mode = "hub (processes)" if processes else "hub (in-process)"
    return RunResult(
        mode, steps, wall, trainer.losses, evaluation["mean_miss_m"], evaluation["median_miss_m"], network, extra, state
    )


#: Training steps averaged by the loss plot's smoothed curve (the raw one stays faint behind it).
SMOOTHING_STEPS = 50


def plot_losses(results: list[RunResult], path: Path) -> None:
    """Write the loss curves to ``path`` (PNG): the RMS miss of each training batch (m; faint) and its moving average
    over :data:`SMOOTHING_STEPS` steps, on a log axis with plain numbers. The legend gives the evaluation after
    training (mean miss over fresh shots), which is smaller than the batch RMS: a root mean square weighs the
    worst shots of a batch most."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for index, result in enumerate(results):
        rms = np.sqrt(np.asarray(result.losses, dtype=float))
        color = f"C{index}"
        ax.plot(rms, color=color, lw=0.6, alpha=0.25)
        window = min(SMOOTHING_STEPS, len(rms))
        if window:
            smooth = np.convolve(rms, np.ones(window) / window, mode="valid")  # mean of each window of steps
            # wide first, thin after: identical curves (hub and reference on one seed) stay visible
            width = 3.0 if index == 0 else 1.2
            label = f"{result.mode} (evaluated after training: mean miss {result.mean_miss_m:.2f} m)"
            ax.plot(np.arange(window - 1, len(rms)), smooth, color=color, lw=width, alpha=0.8, label=label)
    ax.set_yscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.set_xlabel("training step (batch of shots)")
    ax.set_ylabel(f"RMS miss of the batch (m), {SMOOTHING_STEPS}-step mean")
    ax.set_title("Trebuchet control network trained by gradients through the hub")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_shots(network: ControlNetwork, path: Path, seed: int = 7, n: int = 6) -> None:
    """Write a few trajectories of the trained trebuchet against their targets to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from .physics import trajectory

    tasks = torch.from_numpy(sample_batch(np.random.default_rng(seed), n))
    with torch.no_grad():
        aim = network(tasks).double()
    paths = trajectory(aim[:, 0], aim[:, 1], aim[:, 2])
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for i, xy in enumerate(paths):
        wind, target = tasks[i].tolist()
        (line,) = ax.plot(
            xy[:, 0], xy[:, 1], lw=1.2, label=f"target {target:.0f} m, wind {wind:+.1f} m/s, hit {xy[-1, 0]:.1f} m"
        )
        ax.plot([target], [0], marker="v", ms=9, color=line.get_color())
    ax.set_xlabel("distance (m)")
    ax.set_ylabel("height (m)")
    ax.set_title("Shots of the trained trebuchet (triangles: targets)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(args: argparse.Namespace) -> list[RunResult]:
    """Run the demo as the options say; prints the report and writes the plots and the model."""
    from tqdm.auto import tqdm

    common = dict(
        batch_size=args.batch_size,
        seed=args.seed,
        lr=args.lr,
        weight_scale=args.weight_scale,
        eval_shots=args.eval_shots,
        resume=args.resume,
    )
    results: list[RunResult] = []
    if args.resume is not None:
        saved = torch.load(args.resume, map_location="cpu", weights_only=True)
        what = "weights and optimizer state" if "OPTIMIZER" in saved else "weights (fresh optimizer state)"
        after = f" after {saved['STEPS']} steps" if "STEPS" in saved else ""
        print(f"resuming from {args.resume}: {what}{after}; the learning rate anneals afresh over {args.steps} steps")

    def bar(label: str) -> Any:
        return tqdm(total=args.steps, desc=label, disable=args.no_progress, leave=True)

    if not args.reference:
        mode = "processes" if args.processes else "hub"
        with contextlib.closing(bar(f"trebuchet via {mode}")) as progress:
            results.append(
                asyncio.run(train_through_hub(args.steps, processes=args.processes, progress=progress, **common))
            )
    if args.reference or args.compare:
        with contextlib.closing(bar("trebuchet reference")) as progress:
            results.append(train_reference(args.steps, progress=progress, **common))

    args.out.mkdir(parents=True, exist_ok=True)
    plot_losses(results, args.out / "trebuchet_loss.png")
    plot_shots(results[0].network, args.out / "trebuchet_shots.png")
    model = args.out / "trebuchet_model.pt"
    if results[0].state is not None:  # the schedule belongs to this run's --steps: a resumed run anneals afresh
        write_state({k: v for k, v in results[0].state.items() if k != "SCHEDULER"}, model)
    else:
        torch.save(results[0].network.state_dict(), model)
    for r in results:
        print(
            f"{r.mode:>20}: {r.steps} steps x {args.batch_size} shots in {r.wall_s:6.1f} s "
            f"({r.steps / r.wall_s:5.1f} steps/s); mean miss over {args.eval_shots} fresh shots "
            f"{r.mean_miss_m:.2f} m (median {r.median_miss_m:.2f} m)"
        )
    if len(results) == 2:
        print(
            f"wall-time ratio hub / reference: {results[0].wall_s / results[1].wall_s:.2f}x; "
            f"miss difference {results[0].mean_miss_m - results[1].mean_miss_m:+.3f} m"
        )
    print(
        f"wrote {args.out / 'trebuchet_loss.png'}, {args.out / 'trebuchet_shots.png'}, "
        f"{args.out / 'trebuchet_model.pt'}"
    )
    return results
