"""The same computation with no hub: one process, direct calls (the reference for the hub's overhead and for tests).

:class:`LocalEnsemble` has :class:`~swergio_nb.examples.cartpole.control.Control`'s methods (``run_episodes``,
``evaluate``, ``evolve``) and does what the components do, in the same order and with the same seeds and dtypes
(logits and shares as float32, as they travel), so a run through the hub and a local run from the same seed play
the same episodes with the same returns.
"""

from __future__ import annotations

import time

import numpy as np

from .a2c import A2CLearner
from .aggregator import AggregatorComponent
from .control import EvolutionReport, RunReport
from .environment import EVAL_SEED_OFFSET
from .episodes import EpisodeRunner
from .evolution import evolve
from .options import DEFAULT_ENVS, DEFAULT_EVAL_ENVS, DEFAULT_MODELS, A2CConfig, EvolutionConfig
from .rooms import model_names

__all__ = ["LocalEnsemble"]


class LocalEnsemble:
    """N learners, an aggregator and K environments in one process.

    Args:
        n_models: ensemble size.
        n_envs: parallel environments in training runs.
        eval_envs: parallel environments in greedy runs.
        seed: the same meaning as the components' ``--seed`` (models get seed * 100 + i).
        a2c: A2C hyperparameters.
        evo: evolution settings.
    """

    def __init__(
        self,
        n_models: int = DEFAULT_MODELS,
        n_envs: int = DEFAULT_ENVS,
        eval_envs: int = DEFAULT_EVAL_ENVS,
        seed: int = 0,
        a2c: A2CConfig | None = None,
        evo: EvolutionConfig | None = None,
    ) -> None:
        self.names = model_names(n_models)
        self.learners = [A2CLearner(seed * 100 + i, a2c) for i in range(n_models)]
        self.aggregator = AggregatorComponent(self.names, seed)
        self.evo = evo or EvolutionConfig()
        self.seed = seed
        self.n_envs, self.eval_envs = n_envs, eval_envs
        self.train_episodes = 0
        self.generation = 0
        self._runners: dict[int, EpisodeRunner] = {}
        self.runs: list[RunReport] = []
        self.generations: list[EvolutionReport] = []

    def _aggregate(self, logits: list[np.ndarray], active: np.ndarray, greedy: bool) -> dict:
        status = 2 if greedy else 1
        reply = None
        for name, z in zip(self.names, logits, strict=True):
            msg = {"SENT_BY": name, "ROOT_ID": "step", "DATA": z, "ACTIVE": active, "MODEL_STATUS": status}
            reply = self.aggregator.handle(msg)
        assert reply is not None
        return reply

    async def run_episodes(
        self, episodes: int = 20, *, greedy: bool = False, seed: int | None = None, envs: int | None = None
    ) -> RunReport:
        """As :meth:`Control.run_episodes <swergio_nb.examples.cartpole.control.Control.run_episodes>`."""
        k = min(int(envs or (self.eval_envs if greedy else self.n_envs)), episodes)
        if seed is None:
            seed = EVAL_SEED_OFFSET + self.seed if greedy else self.seed * 1_000_000 + self.train_episodes
        runner = self._runners.setdefault(k, EpisodeRunner(k))
        obs = runner.start(episodes, int(seed))
        active = runner.active.copy()
        train = not greedy
        for learner in self.learners:
            learner.begin_run()
        finished, trips, start = [], 0, time.perf_counter()
        while True:
            trips += 1
            logits = [learner.propose(obs, active, train=train) for learner in self.learners]
            action = self._aggregate(logits, active, greedy)
            if train:
                for i, learner in enumerate(self.learners):
                    learner.record_action(action["DATA"], action["SHARES"][i], len(self.learners))
            result = runner.step(action["DATA"])
            for episode in result.finished:
                finished.append(episode)
                if train:
                    self.train_episodes += 1
            following = None if runner.done else result.obs
            if train:
                for learner in self.learners:
                    learner.record_reward(result.rewards, result.terminated, result.truncated, result.final_obs)
                    if following is None or learner.rollout_full:
                        learner.update(following)
            if following is None:
                break
            obs, active = result.obs, result.active
        finished.sort(key=lambda e: e.index)
        report = RunReport(
            returns=[e.ret for e in finished],
            lengths=[e.length for e in finished],
            seeds=[e.seed for e in finished],
            env_steps=sum(e.length for e in finished),
            round_trips=trips,
            wall_s=time.perf_counter() - start,
            greedy=greedy,
            train_episodes=self.train_episodes,
        )
        self.runs.append(report)
        return report

    async def evaluate(self, episodes: int = 20, *, seed: int | None = None) -> RunReport:
        """Greedy episodes."""
        return await self.run_episodes(episodes, greedy=True, seed=seed)

    async def evolve(self) -> EvolutionReport:
        """One generation, as the evolution component does it."""
        report = self.aggregator.report({"COMMAND": "contribution", "RESET": True})
        assert report is not None
        fitness = [float(report["CONTRIBUTION"][m]) for m in self.names]
        self.generation += 1
        weights = [learner.net.weights() for learner in self.learners]
        result = evolve(weights, fitness, self.evo, self.seed * 10_000 + self.generation)
        for learner, new, changed in zip(self.learners, result.weights, result.changed, strict=True):
            if changed:
                learner.net.load_weights(new)
                learner.reset_optimizer()
        out = EvolutionReport(
            generation=self.generation,
            fitness=dict(zip(self.names, fitness, strict=True)),
            parents={m: self.names[p] for m, p in zip(self.names, result.parents, strict=True)},
            steps=int(report["STEPS"]),
        )
        self.generations.append(out)
        return out
