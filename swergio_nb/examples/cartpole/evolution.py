"""The evolution component: selects and varies the models' weights by their accumulated contribution (deap).

Run as a process: ``python -m swergio_nb.examples.cartpole.evolution --hub ws://127.0.0.1:8765 --models 4``.

``COMMAND/CUSTOM`` with ``COMMAND`` "evolve" (to this component) runs one generation:

1. ``COMMAND/SAVEMODELWEIGHTS`` to each model -> ``LOG/MODELWEIGHTS`` (``WEIGHTS``: float32 arrays, binary);
   ``COMMAND/CUSTOM`` "contribution" to the aggregator -> ``CONTRIBUTION`` {model: accumulated share} (reset);
2. :func:`evolve`: the fitness of a model is its contribution; all but the ``replace`` least fit keep their
   weights (the elite, ``tools.selBest``); each of the others gets a tournament-selected parent's weights
   (``tools.selTournament``), with probability ``cxpb`` blended with a second parent (``tools.cxBlend``), then
   perturbed by Gaussian noise on a fraction ``indpb`` of its parameters (``tools.mutGaussian``);
3. ``COMMAND/LOADMODELWEIGHTS`` with the new weights to each changed model, awaiting its ``COMMAND/ACK``.

Answered with ``LOG/RUN``: ``FITNESS`` {model: contribution}, ``PARENTS`` {model: parent model}, ``GENERATION``,
``STEPS`` (aggregated steps the contribution covers); or ``ERROR`` if a model or the aggregator did not answer.
As in swergio's RLGym example (``05_evolutionary.py``), the genome is the network's weights; here all of them
(actor and critic), flattened in the state dict's order.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
from deap import base, creator, tools

from ...exceptions import Refused
from ...swarm.component import component
from ...transport.client import SENDER, Client, Trigger
from .options import EvolutionConfig, EvolutionOptions
from .rooms import AGGREGATOR, EVOLUTION, model_names

__all__ = [
    "EvolutionConfig",
    "EvolutionOptions",
    "Generation",
    "evolve",
    "flatten",
    "unflatten",
    "EvolutionComponent",
    "build",
]

if not hasattr(creator, "CartPoleFitness"):
    creator.create("CartPoleFitness", base.Fitness, weights=(1.0,))
    creator.create("CartPoleIndividual", list, fitness=creator.CartPoleFitness, source=None)


@dataclass
class Generation:
    """Result of :func:`evolve`: the new weights per model, the parent each came from (itself for the elite),
    and which models changed."""

    weights: list[dict[str, np.ndarray]]
    parents: list[int]
    changed: list[bool]


def flatten(weights: dict[str, np.ndarray]) -> list[float]:
    """A state dict as one flat list of floats (keys in their order)."""
    return np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in weights.values()]).tolist()


def unflatten(genome: list[float], like: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of :func:`flatten`: float32 arrays shaped as in ``like``.

    Raises:
        ValueError: the genome's length does not match.
    """
    flat = np.asarray(genome, dtype=np.float32)
    sizes = [int(np.asarray(v).size) for v in like.values()]
    if flat.size != sum(sizes):
        raise ValueError(f"genome has {flat.size} values, the weights need {sum(sizes)}")
    out, at = {}, 0
    for (key, value), size in zip(like.items(), sizes, strict=True):
        out[key] = flat[at : at + size].reshape(np.shape(value)).copy()
        at += size
    return out


def evolve(
    weights: list[dict[str, np.ndarray]], fitness: list[float], config: EvolutionConfig, seed: int
) -> Generation:
    """One generation over the models' weights (see the module docstring).

    Args:
        weights: each model's state dict (same keys and shapes).
        fitness: each model's accumulated contribution (higher is better).
        config: selection and variation settings.
        seed: seeds this generation (deap draws from Python's ``random``; its global state is restored after).

    Returns:
        The new population, same order as ``weights``.

    Raises:
        ValueError: lengths differ, or fewer than one model.
    """
    n = len(weights)
    if n < 1 or len(fitness) != n:
        raise ValueError(f"need one fitness per model, got {len(fitness)} for {n} models")
    state = random.getstate()
    random.seed(seed)
    try:
        population = []
        for i, w in enumerate(weights):
            individual = creator.CartPoleIndividual(flatten(w))
            individual.fitness.values = (float(fitness[i]),)
            individual.source = i
            population.append(individual)
        elite = tools.selBest(population, n - min(max(config.replace, 0), n))
        elite_ids = {ind.source for ind in elite}
        parents_of: list[int] = list(range(n))
        new = [list(ind) for ind in population]
        for i in range(n):
            if i in elite_ids:
                continue
            (parent,) = tools.selTournament(population, 1, tournsize=min(config.tournsize, n))
            child = creator.CartPoleIndividual(parent)
            if config.cxpb > 0 and random.random() < config.cxpb:
                (other,) = tools.selTournament(population, 1, tournsize=min(config.tournsize, n))
                child, _ = tools.cxBlend(child, creator.CartPoleIndividual(other), config.alpha)
            (child,) = tools.mutGaussian(child, mu=0.0, sigma=config.sigma, indpb=config.indpb)
            new[i] = list(child)
            parents_of[i] = parent.source
    finally:
        random.setstate(state)
    changed = [i not in elite_ids for i in range(n)]
    out = [unflatten(g, weights[0]) if changed[i] else weights[i] for i, g in enumerate(new)]
    return Generation(out, parents_of, changed)


class EvolutionComponent:
    """The evolution step over the hub.

    Args:
        client: the component's client.
        models: the model components' names.
        aggregator: the aggregator's name.
        config: selection and variation settings.
        seed: seeds the generations (generation g uses seed * 10_000 + g).
        timeout: seconds to wait for each answer.
    """

    def __init__(
        self,
        client: Client,
        models: list[str],
        *,
        aggregator: str = AGGREGATOR,
        config: EvolutionConfig | None = None,
        seed: int = 0,
        timeout: float = 60.0,
    ) -> None:
        self.client = client
        self.models = list(models)
        self.aggregator = aggregator
        self.config = config or EvolutionConfig()
        self.seed = seed
        self.timeout = timeout
        self.generation = 0

    async def handle(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        """Answer an ``evolve`` command (see the module docstring)."""
        if msg.get("COMMAND") != "evolve":
            return None
        try:
            return await self.step()
        except (TimeoutError, ValueError, KeyError, Refused) as exc:
            return {"ERROR": f"evolution step failed: {exc!r}"}

    async def _ask(self, msg: dict[str, Any], reply_type: str) -> dict[str, Any]:
        try:
            return await self.client.request(msg, reply_type=reply_type, timeout=self.timeout)
        except TimeoutError:
            raise TimeoutError(f"{msg.get('TO')} did not answer {msg['TYPE']} within {self.timeout} s") from None

    async def step(self) -> dict[str, Any]:
        """Collect, evolve and send back the weights; returns the ``LOG/RUN`` fields."""
        saved = await asyncio.gather(
            *(self._ask({"TYPE": "COMMAND/SAVEMODELWEIGHTS", "TO": m}, "LOG/MODELWEIGHTS") for m in self.models)
        )
        report = await self._ask(
            {"TYPE": "COMMAND/CUSTOM", "TO": self.aggregator, "COMMAND": "contribution", "RESET": True}, "LOG/CUSTOM"
        )
        fitness = [float(report["CONTRIBUTION"][m]) for m in self.models]
        self.generation += 1
        result = evolve([s["WEIGHTS"] for s in saved], fitness, self.config, self.seed * 10_000 + self.generation)
        await asyncio.gather(
            *(
                self.client.request({"TYPE": "COMMAND/LOADMODELWEIGHTS", "TO": m, "WEIGHTS": w}, timeout=self.timeout)
                for m, w, changed in zip(self.models, result.weights, result.changed, strict=True)
                if changed
            )
        )
        return {
            "FITNESS": dict(zip(self.models, fitness, strict=True)),
            "PARENTS": {m: self.models[p] for m, p in zip(self.models, result.parents, strict=True)},
            "GENERATION": self.generation,
            "STEPS": report["STEPS"],
        }


@component(EVOLUTION, EvolutionOptions, "CartPole evolution component (deap).")
def build(url: str, *, name: str, seed: int, options: EvolutionOptions) -> Client:
    """The evolution component's client (arguments as for ``Component.build``): ``seed`` seeds the generations,
    whose fitness is the aggregator's contribution report; ``client.context["evolution"]`` is its
    :class:`EvolutionComponent`."""
    client = Client(name, url)
    evolution = EvolutionComponent(
        client, model_names(options.models), aggregator=AGGREGATOR, config=options, seed=seed, timeout=options.timeout
    )
    client.context["evolution"] = evolution
    client.add_handler(evolution.handle, Trigger("COMMAND/CUSTOM", []), reply_type="LOG/RUN", reply_to=SENDER)
    return client


if __name__ == "__main__":
    build.main()
