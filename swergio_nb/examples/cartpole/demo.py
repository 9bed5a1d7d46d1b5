"""``swergio-nb demo cartpole``: an ensemble of actor-critics learns CartPole-v1 through the hub, with evolution.

Components: the environment, N models, the aggregator and the evolution component talk through rooms on an embedded
hub (in this process on one event loop by default; ``--processes`` makes each its own OS process); this function is
the control. It trains in rounds (:class:`~swergio_nb.examples.cartpole.control.Schedule`) until the greedy mean
return over 20 evaluation episodes reaches 475, then reports the greedy mean return over 20 *fresh* episodes (seeds
never used before), the wall time and the environment steps per second through the hub, and writes the reward
plot ``cartpole_rewards.png``. ``--compare`` runs the same seeds with and without the evolution step.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...swarm.component import from_arguments
from ...swarm.spec import ComponentSpec
from ...swarm.swarm import Swarm
from ...transport.client import Client
from . import aggregator, environment, evolution, model
from .control import Control, RunReport, TrainingLog, train
from .options import (
    DEFAULT_ENVS,
    DEFAULT_MODELS,
    A2CConfig,
    AggregatorOptions,
    EnvironmentOptions,
    EvolutionConfig,
    EvolutionOptions,
    Schedule,
)
from .rooms import model_names

__all__ = [
    "DemoResult",
    "component_specs",
    "ensemble",
    "train_through_hub",
    "train_reference",
    "plot_rewards",
    "run",
    "FINAL_SEED",
]

#: Reset seed of the first of the final greedy episodes: far from the training seeds (seed * 1e6 + n) and from the
#: evaluation seeds used to stop training (1e9 + seed), so the final figure is on episodes never seen before.
FINAL_SEED = 2_000_000_000


@dataclass
class DemoResult:
    """Outcome of one demo run."""

    label: str
    log: TrainingLog
    final: RunReport  #: greedy episodes on fresh seeds after training
    wall_s: float  #: from the first training episode to the end of the final evaluation
    messages_routed: int  #: 0 for the reference (no hub)


def ensemble(
    n_models: int = DEFAULT_MODELS,
    *,
    n_envs: int = DEFAULT_ENVS,
    seed: int = 0,
    a2c: A2CConfig | None = None,
    evo: EvolutionConfig | None = None,
) -> Swarm:
    """Every component but the control, declared: N models, the aggregator, the evolution component and the
    environment, in start order.

    Args:
        n_models: ensemble size.
        n_envs: parallel environments in training runs.
        seed: the components' seed (model i gets seed * 100 + i).
        a2c: the models' hyperparameters.
        evo: the evolution settings.
    """
    swarm = Swarm()
    for i, name in enumerate(model_names(n_models)):
        swarm.add(model.build, a2c or A2CConfig(), name=name, seed=seed * 100 + i)
    evolution_options = EvolutionOptions(**dataclasses.asdict(evo or EvolutionConfig()), models=n_models)
    swarm.add(aggregator.build, AggregatorOptions(models=n_models), seed=seed)
    swarm.add(evolution.build, evolution_options, seed=seed)
    swarm.add(environment.build, EnvironmentOptions(n_envs=n_envs), seed=seed)
    return swarm


def component_specs(
    n_models: int = DEFAULT_MODELS, *, start_timeout: float = 120.0, **kwargs: Any
) -> list[ComponentSpec]:
    """The launcher specs of :func:`ensemble` (same arguments), as OS processes that may take ``start_timeout``
    seconds each to connect (``Launcher.up(specs, hub_url)``; in a notebook ``current_session().launcher``)."""
    swarm = ensemble(n_models, **kwargs)
    swarm.ready_timeout = start_timeout
    return swarm.specs()


async def train_through_hub(
    schedule: Schedule,
    *,
    n_models: int = DEFAULT_MODELS,
    n_envs: int = DEFAULT_ENVS,
    seed: int = 0,
    a2c: A2CConfig | None = None,
    evo: EvolutionConfig | None = None,
    final_episodes: int = 20,
    processes: bool = False,
    reference: bool = False,
    progress: Any = None,
    label: str = "",
    start_timeout: float = 120.0,
) -> DemoResult:
    """Start a hub and the components (:func:`ensemble`), train by ``schedule``, evaluate on fresh seeds; see the
    module docstring.

    Args:
        schedule: the training schedule.
        n_models, n_envs, seed, a2c, evo: see :func:`ensemble`.
        final_episodes: greedy episodes on fresh seeds after training.
        processes: each component as its own OS process (else in this process).
        reference: no hub: the same computation in this process (:func:`train_reference`).
        progress: a tqdm bar (or anything with ``update`` and ``set_postfix``).
        label: the result's label; defaults to the mode.
        start_timeout: seconds each process may take to connect.

    Raises:
        LauncherError: component processes did not get ready within ``start_timeout`` seconds.
        RuntimeError: a component reported an error.
    """
    async with contextlib.AsyncExitStack() as stack:
        if reference:
            from .reference import LocalEnsemble

            control: Any = LocalEnsemble(n_models, n_envs, seed=seed, a2c=a2c, evo=evo)
        else:
            swarm = ensemble(n_models, n_envs=n_envs, seed=seed, a2c=a2c, evo=evo)
            swarm.ready_timeout = start_timeout
            await stack.enter_async_context(swarm.started(processes=processes))
            control = Control(await stack.enter_async_context(Client("control", swarm.url)))
        start = time.perf_counter()
        log = await train(control, schedule, progress)
        final = await control.evaluate(final_episodes, seed=FINAL_SEED + seed)
        wall = time.perf_counter() - start
        routed = 0 if reference else swarm.hub.router.stats.routed
    mode = "reference (no hub)" if reference else "processes" if processes else "in-process"
    return DemoResult(label or mode, log, final, wall, routed)


async def train_reference(schedule: Schedule, **kwargs: Any) -> DemoResult:
    """The same schedule, seeds and computation in one process with no hub
    (:class:`~swergio_nb.examples.cartpole.reference.LocalEnsemble`): the same episodes and returns as
    :func:`train_through_hub` (whose arguments it takes), so the wall-time ratio is the hub's cost."""
    return await train_through_hub(schedule, reference=True, **kwargs)


def plot_rewards(results: list[DemoResult], path: Path, window: int = 20) -> None:
    """Write the learning curves to ``path`` (PNG): each training episode's return (faint), its running mean over
    ``window`` episodes, and the greedy mean return of each evaluation (markers), against training episodes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for index, result in enumerate(results):
        color = f"C{index}"
        returns = np.asarray(result.log.train_returns)
        episodes = np.arange(1, len(returns) + 1)
        ax.plot(episodes, returns, color=color, alpha=0.2, lw=0.8)
        if len(returns):
            running = np.convolve(returns, np.ones(window), "full")[: len(returns)] / np.minimum(episodes, window)
            ax.plot(episodes, running, color=color, lw=1.5, label=f"{result.label}: training, mean of last {window}")
        ev_x = [e.train_episodes for e in result.log.evaluations]
        ev_y = [e.mean for e in result.log.evaluations]
        ax.plot(
            ev_x,
            ev_y,
            "o--",
            color=color,
            ms=4,
            lw=0.8,
            label=f"{result.label}: greedy mean of 20 (final, fresh seeds: {result.final.mean:.0f})",
        )
    ax.axhline(475, color="grey", ls=":", lw=1)
    ax.set_xlabel("training episode")
    ax.set_ylabel("return")
    ax.set_title("CartPole-v1: ensemble of actor-critics through the hub")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _report(result: DemoResult) -> str:
    log = result.log
    train_steps = sum(r.env_steps for r in log.train_runs)
    train_wall = sum(r.wall_s for r in log.train_runs)
    evolve = f", {len(log.generations)} evolution steps" if log.generations else ", no evolution"
    best = max((e.mean for e in log.evaluations), default=float("nan"))
    return (
        f"{result.label}: {'reached' if log.solved else 'did NOT reach'} the target after "
        f"{len(log.train_returns)} training episodes ({train_steps} env steps{evolve}); best greedy mean {best:.1f}; "
        f"final greedy mean over {len(result.final.returns)} fresh episodes {result.final.mean:.1f} "
        f"(min {min(result.final.returns):.0f}); wall {result.wall_s:.1f} s; training "
        f"{train_steps / train_wall:.0f} env steps/s ({sum(r.round_trips for r in log.train_runs) / train_wall:.0f} "
        f"round trips/s){'' if not result.messages_routed else ' through the hub'}; "
        f"{result.messages_routed} messages routed"
    )


def run(args: argparse.Namespace) -> list[DemoResult]:
    """Run the demo as the options say; prints the report and writes the plot."""
    import torch
    from tqdm.auto import tqdm

    torch.set_num_threads(1)  # tiny networks: threads cost more than they give, and the machine is shared
    schedule = from_arguments(Schedule, args)
    a2c = from_arguments(A2CConfig, args)
    evo = from_arguments(EvolutionConfig, args)
    variants = [("with evolution", schedule)]
    if args.reference:
        variants = [("reference (no hub), with evolution", schedule)]
    if args.compare:
        variants = [
            ("with evolution", schedule),
            ("without evolution", Schedule(**{**schedule.__dict__, "evolve_every": 0})),
        ]
    elif schedule.evolve_every == 0:
        variants = [(variants[0][0].replace("with evolution", "without evolution"), schedule)]
    results = []
    for label, sched in variants:
        total = sched.max_rounds * sched.episodes_per_round
        with contextlib.closing(
            tqdm(total=total, desc=f"cartpole {label}", unit="ep", disable=args.no_progress)
        ) as bar:
            coroutine = train_through_hub(
                sched, n_models=args.models, n_envs=args.envs, seed=args.seed, a2c=a2c, evo=evo,
                final_episodes=args.final_episodes, processes=args.processes, reference=args.reference,
                progress=bar, label="" if args.reference else label,
            )  # fmt: skip
            results.append(asyncio.run(coroutine))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "cartpole_rewards.png"
    plot_rewards(results, path)
    for result in results:
        print(_report(result))
    print(f"wrote {path}")
    return results
