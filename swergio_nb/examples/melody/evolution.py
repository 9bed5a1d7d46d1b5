"""The evolution component: a genetic algorithm (deap) over 128-bit melody genomes, scored by the evaluation network.

Run as a process: ``python -m swergio_nb.examples.melody.evolution --hub ws://127.0.0.1:8765``.

As swergio's ``02_evolutionary.py``: ``DATA/CUSTOM`` with ``CMD`` = ``"START"`` in ``control`` sends the population
(``GENOMES`` uint8 (N, 128), ``GENERATION``) to ``evolution``; the evaluation network answers there with
``FITNESS``; each answer for the current generation is turned into the next generation (tournament selection of
size ``tournsize``, two-point crossover with probability ``cxpb``, bit-flip mutation: each individual with
probability ``mutpb``, each of its bits with ``indpb``; deap's ``varAnd``), which is sent again after ``interval``
seconds (swergio slept 10 s). ``CMD`` = ``"STOP"`` stops it. Each generation's mean and best fitness (the network's
expected rating) go to ``metrics`` as ``LOG/KPI``.

Unlike the original, the evolved offspring replace the population (swergio's handler returned the offspring but
kept scoring the initial population). deap draws from Python's global ``random``; :class:`Evolution` keeps its own
state of that generator and restores the global one, so runs are reproducible for a seed and do not disturb others.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import numpy as np
from deap import algorithms, base, creator, tools

from ...swarm.component import component
from ...transport.client import Client, Trigger
from .music import GENOME_SIZE
from .options import EvolutionOptions

__all__ = ["Evolution", "build"]

if not hasattr(creator, "MelodyFitness"):
    creator.create("MelodyFitness", base.Fitness, weights=(1.0,))
    creator.create("MelodyIndividual", list, fitness=creator.MelodyFitness)


class Evolution:
    """A deap GA over genomes of ``GENOME_SIZE`` bits (swergio's toolbox).

    Args:
        options: the GA's settings (:class:`~.options.EvolutionOptions`: population size, crossover and mutation
            probabilities, tournament size), or only its population size (the other settings by default).
        seed: seeds the initial population and every later draw.

    Raises:
        ValueError: a size below 2 or a probability outside [0, 1].
    """

    def __init__(self, options: EvolutionOptions | int | None = None, *, seed: int = 0) -> None:
        if options is None or isinstance(options, int):
            options = EvolutionOptions() if options is None else EvolutionOptions(population_size=options)
        if options.population_size < 2 or options.tournsize < 2:
            raise ValueError("population_size and tournsize must be at least 2")
        for name in ("cxpb", "mutpb", "indpb"):
            if not 0 <= getattr(options, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(options, name)}")
        self.cxpb, self.mutpb = options.cxpb, options.mutpb
        self.toolbox = base.Toolbox()
        self.toolbox.register("mate", tools.cxTwoPoint)
        self.toolbox.register("mutate", tools.mutFlipBit, indpb=options.indpb)
        self.toolbox.register("select", tools.selTournament, tournsize=options.tournsize)
        self.generation = 0
        self.history: list[dict[str, float]] = []  #: per evaluated generation: mean and max fitness
        self._state = random.Random(seed).getstate()
        with self._own_random():
            self.population = [
                creator.MelodyIndividual(random.randint(0, 1) for _ in range(GENOME_SIZE))
                for _ in range(options.population_size)
            ]

    def _own_random(self) -> Any:
        evolution = self

        class _Swap:
            def __enter__(self) -> None:
                self.saved = random.getstate()
                random.setstate(evolution._state)

            def __exit__(self, *exc: Any) -> None:
                evolution._state = random.getstate()
                random.setstate(self.saved)

        return _Swap()

    def genomes(self) -> np.ndarray:
        """The current population: uint8 (N, 128)."""
        return np.array(self.population, dtype=np.uint8)

    def evolve(self, fitness: Any) -> np.ndarray:
        """Score the current population with ``fitness`` (N,) and breed the next generation; returns its genomes.

        Raises:
            ValueError: ``fitness`` does not have one finite value per individual.
        """
        values = np.asarray(fitness, dtype=np.float64).reshape(-1)
        if values.shape[0] != len(self.population) or not np.all(np.isfinite(values)):
            raise ValueError(f"need {len(self.population)} finite fitness values, got shape {values.shape}")
        for individual, value in zip(self.population, values, strict=True):
            individual.fitness.values = (float(value),)
        self.history.append({"mean": float(values.mean()), "max": float(values.max())})
        with self._own_random():
            offspring = self.toolbox.select(self.population, len(self.population))
            self.population = algorithms.varAnd(offspring, self.toolbox, self.cxpb, self.mutpb)
        self.generation += 1
        return self.genomes()


@component("evolution", EvolutionOptions, "Melody evolution component (deap GA).")
def build(url: str, *, name: str, seed: int, options: EvolutionOptions) -> Client:
    """The evolution component's client (arguments as for ``Component.build``): ``seed`` seeds the GA;
    ``client.context["evolution"]`` is its :class:`Evolution`. ``START``/``STOP`` arrive in room ``control``,
    populations go to ``evolution`` every ``options.interval`` seconds (the handler awaits; nothing blocks) until
    ``STOP`` or ``options.max_generations``, and KPIs go to ``metrics``."""
    evolution = Evolution(options, seed=seed)
    interval, max_generations = options.interval, options.max_generations
    state = {"active": False}
    client = Client(name, url, evolution=evolution)

    def population_message() -> dict[str, Any]:
        return {"GENOMES": evolution.genomes(), "GENERATION": evolution.generation}

    def start_stop(msg: dict[str, Any]) -> dict[str, Any] | None:
        command = msg.get("CMD")
        if command == "START" and not state["active"]:
            state["active"] = True
            return population_message()
        if command == "STOP":
            state["active"] = False
        return None

    async def evolve(msg: dict[str, Any]) -> dict[str, Any] | None:
        if "FITNESS" not in msg or not state["active"] or msg.get("GENERATION") != evolution.generation:
            return None
        evolution.evolve(msg["FITNESS"])
        last = evolution.history[-1]
        for kpi, value in (("population mean fitness", last["mean"]), ("population best fitness", last["max"])):
            await client.send({"TYPE": "LOG/KPI", "TO_ROOM": "metrics", "KPI": kpi, "VALUE": value,
                               "STEP": evolution.generation - 1})  # fmt: skip
        if max_generations is not None and evolution.generation >= max_generations:
            state["active"] = False
            return None
        if interval > 0:
            await asyncio.sleep(interval)
        return population_message() if state["active"] else None

    client.add_handler(start_stop, Trigger("DATA/CUSTOM", "control"), reply_type="DATA/CUSTOM",
                       reply_rooms="evolution")  # fmt: skip
    client.add_handler(evolve, Trigger("DATA/CUSTOM", "evolution"), reply_type="DATA/CUSTOM",
                       reply_rooms="evolution")  # fmt: skip
    return client


if __name__ == "__main__":
    build.main()
