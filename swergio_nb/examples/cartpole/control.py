"""The control component: runs episodes and evolution steps and gets the scores back.

In a notebook::

    control = Control(client)                 # a connected Client (e.g. from %swergio connect control)
    await control.run_episodes(20)            # training episodes; returns a RunReport
    await control.evolve()                    # one generation; returns an EvolutionReport
    await control.evaluate(20)                # greedy episodes (no learning)

Run as a process (a whole schedule, see :func:`train`):
``python -m swergio_nb.examples.cartpole.control --hub ws://127.0.0.1:8765 --max-rounds 40``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...protocol.messages import ModelStatus
from ...swarm.component import driver
from ...transport.client import Client
from .options import Schedule
from .rooms import ENVIRONMENT, EVOLUTION

__all__ = [
    "Control",
    "RunReport",
    "EvolutionReport",
    "Schedule",
    "TrainingLog",
    "train",
    "drive",
]


@dataclass
class RunReport:
    """What the environment answered for one run of episodes."""

    returns: list[float]  #: return of each episode, in episode order
    lengths: list[int]  #: steps of each episode
    seeds: list[int]  #: reset seed of each episode
    env_steps: int  #: environment steps of the run (over all parallel environments)
    round_trips: int  #: environment -> models -> aggregator -> environment trips
    wall_s: float  #: seconds the environment spent on the run
    greedy: bool
    train_episodes: int  #: training episodes finished so far (after this run)

    @property
    def mean(self) -> float:
        """Mean return of the run."""
        return float(np.mean(self.returns))

    @property
    def steps_per_s(self) -> float:
        """Environment steps per second through the hub."""
        return self.env_steps / self.wall_s if self.wall_s > 0 else float("nan")


@dataclass
class EvolutionReport:
    """What the evolution component answered for one generation."""

    generation: int
    fitness: dict[str, float]  #: accumulated contribution of each model since the previous generation
    parents: dict[str, str]  #: the model each model's new weights came from (itself if kept)
    steps: int  #: aggregated training steps the contribution covers


class Control:
    """Drives the environment and the evolution component through a client.

    Args:
        client: a client (connected, or to be connected: requests wait for it).
        environment: the environment component's name.
        evolution: the evolution component's name.
        timeout: seconds to wait for a run or a generation to finish (a run of 20 long episodes takes a while).
    """

    def __init__(
        self, client: Client, *, environment: str = ENVIRONMENT, evolution: str = EVOLUTION, timeout: float = 900.0
    ) -> None:
        self.client = client
        self.environment = environment
        self.evolution = evolution
        self.timeout = timeout
        self.runs: list[RunReport] = []
        self.generations: list[EvolutionReport] = []
        #: Called with each :class:`RunReport` (e.g. a progress bar's update).
        self.run_listeners: list[Callable[[RunReport], Any]] = []

    async def _command(self, to: str, fields: dict[str, Any], reply_type: str) -> dict[str, Any]:
        reply = await self.client.request(
            {"TYPE": "COMMAND/CUSTOM", "TO": to, **fields}, reply_type=reply_type, timeout=self.timeout
        )
        if "ERROR" in reply:
            raise RuntimeError(f"{to}: {reply['ERROR']}")
        return reply

    async def run_episodes(
        self, episodes: int = 20, *, greedy: bool = False, seed: int | None = None, envs: int | None = None
    ) -> RunReport:
        """Play ``episodes`` episodes: training (sampled actions, the models learn) or greedy (argmax, no learning).

        Args:
            episodes: number of episodes (>= 1).
            greedy: deterministic evaluation instead of training.
            seed: reset seed of the first episode (episode j: seed + j); None lets the environment choose
                (training: fresh seeds; greedy: the same evaluation seeds every time).
            envs: parallel environments; None: the environment's default.

        Raises:
            RuntimeError: the environment reported an error (e.g. the ensemble did not answer).
            TimeoutError: no answer within ``timeout``.
        """
        fields: dict[str, Any] = {
            "COMMAND": "run_episodes",
            "EPISODES": int(episodes),
            "MODEL_STATUS": ModelStatus.VALIDATE if greedy else ModelStatus.TRAIN,
        }
        if seed is not None:
            fields["SEED"] = int(seed)
        if envs is not None:
            fields["ENVS"] = int(envs)
        reply = await self._command(self.environment, fields, "LOG/RUN")
        report = RunReport(
            returns=[float(r) for r in reply["RETURNS"]],
            lengths=[int(n) for n in reply["LENGTHS"]],
            seeds=[int(s) for s in reply["SEEDS"]],
            env_steps=int(reply["ENV_STEPS"]),
            round_trips=int(reply["ROUND_TRIPS"]),
            wall_s=float(reply["WALL_S"]),
            greedy=greedy,
            train_episodes=int(reply["TRAIN_EPISODES"]),
        )
        self.runs.append(report)
        for listener in self.run_listeners:
            listener(report)
        return report

    async def evaluate(self, episodes: int = 20, *, seed: int | None = None) -> RunReport:
        """Greedy (deterministic) episodes: ``run_episodes(episodes, greedy=True)``."""
        return await self.run_episodes(episodes, greedy=True, seed=seed)

    async def evolve(self) -> EvolutionReport:
        """One evolution step (see :mod:`~swergio_nb.examples.cartpole.evolution`).

        Raises:
            RuntimeError: the evolution component reported an error.
        """
        reply = await self._command(self.evolution, {"COMMAND": "evolve"}, "LOG/RUN")
        report = EvolutionReport(
            generation=int(reply["GENERATION"]),
            fitness={k: float(v) for k, v in reply["FITNESS"].items()},
            parents=dict(reply["PARENTS"]),
            steps=int(reply["STEPS"]),
        )
        self.generations.append(report)
        return report


@dataclass
class TrainingLog:
    """What :func:`train` did."""

    train_runs: list[RunReport] = field(default_factory=list)
    evaluations: list[RunReport] = field(default_factory=list)
    generations: list[EvolutionReport] = field(default_factory=list)
    wall_s: float = 0.0
    solved: bool = False

    @property
    def train_returns(self) -> list[float]:
        """Every training episode's return, in order."""
        return [r for run in self.train_runs for r in run.returns]

    @property
    def env_steps(self) -> int:
        """Environment steps, training and evaluation."""
        return sum(r.env_steps for r in self.train_runs + self.evaluations)

    @property
    def hub_wall_s(self) -> float:
        """Seconds the environment spent in runs (time in the evolution steps and between runs excluded)."""
        return sum(r.wall_s for r in self.train_runs + self.evaluations)


async def train(control: Control, schedule: Schedule, progress: Any = None) -> TrainingLog:
    """Run ``schedule`` (see :class:`Schedule`); ``progress`` (e.g. a tqdm bar) gets ``update(episodes)`` and a
    postfix after each round. A run that stops early (solved, or ``max_seconds``) ends the bar where it stopped: its
    ``total`` becomes the episodes run and the postfix says why."""
    log = TrainingLog()
    start = time.perf_counter()
    for round_ in range(1, schedule.max_rounds + 1):
        run = await control.run_episodes(schedule.episodes_per_round)
        log.train_runs.append(run)
        if schedule.evolve_every and round_ % schedule.evolve_every == 0:
            log.generations.append(await control.evolve())
        evaluation = await control.evaluate(schedule.eval_episodes)
        log.evaluations.append(evaluation)
        if progress is not None:
            progress.update(len(run.returns))
            progress.set_postfix(train=f"{run.mean:.0f}", greedy=f"{evaluation.mean:.0f}", refresh=False)
        stopped = "solved" if evaluation.mean >= schedule.target else None
        if stopped is None and time.perf_counter() - start > schedule.max_seconds:
            stopped = "time limit"
        if stopped is not None:
            log.solved = stopped == "solved"
            if progress is not None and round_ < schedule.max_rounds:
                progress.total = progress.n
                progress.set_postfix(train=f"{run.mean:.0f}", greedy=f"{evaluation.mean:.0f}", stopped=stopped)
            break
    log.wall_s = time.perf_counter() - start
    return log


@driver("control", Schedule, "CartPole control: runs a training schedule, prints the scores.")
async def drive(client: Client, *, seed: int, options: Schedule) -> None:
    """The control process's job: train by the schedule ``options``, printing each round's scores."""
    log = await train(Control(client), options)
    for i, (run, evaluation) in enumerate(zip(log.train_runs, log.evaluations, strict=True), 1):
        print(f"round {i}: training mean {run.mean:.1f}, greedy mean {evaluation.mean:.1f}", flush=True)
    print(f"solved: {log.solved} in {log.wall_s:.1f} s, {log.env_steps} environment steps", flush=True)


if __name__ == "__main__":
    drive.main()
