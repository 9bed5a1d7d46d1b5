"""Options of the CartPole components and of ``swergio-nb demo cartpole`` (free of torch, so ``swergio-nb hub``
starts fast). Each dataclass is the one copy of its defaults: the components, the demo and the command lines all
read them from here."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from ...swarm.component import add_option_arguments, option
from .rooms import SOLVED_RETURN

__all__ = [
    "A2CConfig",
    "AggregatorOptions",
    "EnvironmentOptions",
    "EvolutionConfig",
    "EvolutionOptions",
    "Schedule",
    "add_arguments",
    "DEFAULT_MODELS",
    "DEFAULT_ENVS",
    "DEFAULT_EVAL_ENVS",
]

#: Ensemble size of the demo (swergio's RLGym example ran 20; 4 meets the target on 2 cores with room to spare).
DEFAULT_MODELS = 4
#: Parallel CartPole environments per training run (one message per step carries all of them).
DEFAULT_ENVS = 8
#: Parallel CartPole environments per greedy run (the evaluations play 20 episodes: all at once).
DEFAULT_EVAL_ENVS = 20


@dataclass
class A2CConfig:
    """Hyperparameters of :class:`~swergio_nb.examples.cartpole.a2c.A2CLearner` (the model component's options).

    Attributes:
        lr: Adam learning rate.
        gamma: discount factor.
        n_steps: environment steps per rollout (per update); each step holds K environments.
        ent_coef: entropy bonus coefficient.
        vf_coef: value loss coefficient.
        max_grad_norm: gradient norm clipping.
        rho_bar: truncation of the importance ratio N * c_i; None (or a value <= 0, which becomes None) trains as
            if the model had chosen the action itself (ratio 1).
        hidden: hidden layer width of :class:`~swergio_nb.examples.cartpole.a2c.ActorCritic`.
    """

    lr: float = option(1e-3, "Adam learning rate")
    gamma: float = option(0.99, "discount")
    n_steps: int = option(8, "steps per A2C update")
    ent_coef: float = option(0.0, "entropy bonus")
    vf_coef: float = option(0.5, "value loss coefficient")
    max_grad_norm: float = option(0.5, "gradient norm clipping")
    rho_bar: float | None = option(1.0, "truncation of the importance ratio; <= 0 or none: no ratio")
    hidden: int = option(64, "hidden layer width")

    def __post_init__(self) -> None:
        if self.rho_bar is not None and self.rho_bar <= 0:
            self.rho_bar = None


@dataclass
class EvolutionConfig:
    """Settings of one generation.

    Attributes:
        replace: how many of the least fit models get new weights each generation; the others (the elite) are
            kept unchanged. 1 (the default) replaces only the worst model, which is what worked best here: see
            docs/cartpole.md.
        tournsize: tournament size of the parent selection.
        cxpb: probability that a child blends two parents (``cxBlend``); 0 by default, because two independently
            trained networks are not aligned unit by unit, so averaging their weights tends to break both.
        alpha: ``cxBlend``'s alpha.
        sigma: standard deviation of the Gaussian mutation (weights are O(0.1-1)).
        indpb: probability that a parameter is mutated.
    """

    replace: int = option(1, "evolution: least fit models replaced per generation")
    tournsize: int = option(2, "evolution: tournament size of the parent selection")
    cxpb: float = option(0.0, "evolution: crossover probability")
    alpha: float = option(0.1, "evolution: cxBlend's alpha")
    sigma: float = option(0.01, "evolution: Gaussian mutation standard deviation")
    indpb: float = option(0.1, "evolution: fraction of parameters mutated")


@dataclass
class EvolutionOptions(EvolutionConfig):
    """Options of the evolution component: the ensemble's size and the settings of a generation."""

    models: int = option(DEFAULT_MODELS, "number of models model-0..model-{n-1}")
    timeout: float = option(60.0, "time to wait for each answer of a model or the aggregator", unit="s")


@dataclass(frozen=True)
class AggregatorOptions:
    """Options of the aggregator component."""

    models: int = option(DEFAULT_MODELS, "number of models model-0..model-{n-1}")


@dataclass(frozen=True)
class EnvironmentOptions:
    """Options of the environment component."""

    n_envs: int = option(DEFAULT_ENVS, "parallel environments in training runs")
    eval_envs: int = option(DEFAULT_EVAL_ENVS, "parallel environments in greedy runs")
    timeout: float = option(60.0, "time to wait for each step's action", unit="s")


@dataclass
class Schedule:
    """A training schedule: rounds of training episodes, an evolution step every few rounds, a greedy evaluation
    after each round; it stops once the evaluation's mean return reaches ``target`` or after ``max_rounds`` or
    ``max_seconds``. The control process's options.

    Attributes:
        episodes_per_round: training episodes per round.
        evolve_every: evolution step after every this many rounds; 0 never evolves.
        eval_episodes: greedy episodes per evaluation.
        target: mean greedy return that stops training (CartPole-v1's solved threshold by default).
        max_rounds: rounds at most.
        max_seconds: wall-clock budget (checked between rounds).
    """

    episodes_per_round: int = option(40, "training episodes per round")
    evolve_every: int = option(1, "rounds between evolution steps (0: never)")
    eval_episodes: int = option(20, "greedy episodes per evaluation")
    target: float = option(SOLVED_RETURN, "mean greedy return that stops training")
    max_rounds: int = option(100, "rounds at most")
    max_seconds: float = option(840.0, "wall-clock budget", unit="s")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's command-line options."""
    parser.add_argument("--models", type=int, default=DEFAULT_MODELS, help="ensemble size (default %(default)s)")
    parser.add_argument("--envs", type=int, default=DEFAULT_ENVS, help="parallel environments (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    add_option_arguments(parser, Schedule)
    add_option_arguments(parser, A2CConfig)
    add_option_arguments(parser, EvolutionConfig, ("sigma", "replace"))
    parser.add_argument("--final-episodes", type=int, default=20, help="greedy episodes on fresh seeds at the end")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--processes", action="store_true", help="run each component as its own OS process")
    mode.add_argument("--reference", action="store_true", help="the same run in one process with no hub")
    mode.add_argument(
        "--compare", action="store_true", help="run with and without evolution on the same seeds; print both"
    )
    parser.add_argument("--out", type=Path, default=Path("."), help="directory for the reward plot")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
