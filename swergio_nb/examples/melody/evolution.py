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

from ...transport.client import Client, Trigger
from .._component import component_parser, serve_component
from .music import GENOME_SIZE

__all__ = ["Evolution", "build", "main"]

if not hasattr(creator, "MelodyFitness"):
    creator.create("MelodyFitness", base.Fitness, weights=(1.0,))
    creator.create("MelodyIndividual", list, fitness=creator.MelodyFitness)


class Evolution:
    """A deap GA over genomes of ``GENOME_SIZE`` bits (swergio's toolbox).

    Args:
        population_size: individuals per generation (swergio: 50).
        cxpb: probability that a pair of parents is crossed (two-point crossover; swergio: 0.5).
        mutpb: probability that an individual is mutated (swergio: 0.01). The default 1.0 mutates every child
            (about 1.3 flipped bits each with ``indpb`` 0.01): with 0.2 the population collapses (mean pairwise
            Hamming distance 1.4 % of the bits after 40 generations), the learner's pool fills with near-copies and
            the network learns little from them (``docs/melody.md``).
        indpb: probability that a mutated individual's bit flips (swergio: 0.01).
        tournsize: tournament size of the selection (swergio: 3).
        seed: seeds the initial population and every later draw.

    Raises:
        ValueError: a size below 2 or a probability outside [0, 1].
    """

    def __init__(
        self,
        population_size: int = 50,
        *,
        cxpb: float = 0.5,
        mutpb: float = 1.0,
        indpb: float = 0.01,
        tournsize: int = 3,
        seed: int = 0,
    ) -> None:
        if population_size < 2 or tournsize < 2:
            raise ValueError("population_size and tournsize must be at least 2")
        for name, p in (("cxpb", cxpb), ("mutpb", mutpb), ("indpb", indpb)):
            if not 0 <= p <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        self.cxpb, self.mutpb = cxpb, mutpb
        self.toolbox = base.Toolbox()
        self.toolbox.register("mate", tools.cxTwoPoint)
        self.toolbox.register("mutate", tools.mutFlipBit, indpb=indpb)
        self.toolbox.register("select", tools.selTournament, tournsize=tournsize)
        self.generation = 0
        self.history: list[dict[str, float]] = []  #: per evaluated generation: mean and max fitness
        self._state = random.Random(seed).getstate()
        with self._own_random():
            self.population = [
                creator.MelodyIndividual(random.randint(0, 1) for _ in range(GENOME_SIZE))
                for _ in range(population_size)
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


def build(
    url: str,
    *,
    name: str = "evolution",
    population_size: int = 50,
    cxpb: float = 0.5,
    mutpb: float = 1.0,
    indpb: float = 0.01,
    seed: int = 0,
    interval: float = 0.0,
    max_generations: int | None = None,
    control_room: str = "control",
    evolution_room: str = "evolution",
    metrics_room: str = "metrics",
) -> Client:
    """The evolution component's client; ``client.context["evolution"]`` is its :class:`Evolution`.

    Args:
        url: hub URL.
        name: component name.
        population_size, cxpb, mutpb, indpb, seed: see :class:`Evolution`.
        interval: seconds to wait before sending the next generation (the handler awaits; nothing blocks).
        max_generations: stop by itself after this many generations (None: until STOP).
        control_room, evolution_room, metrics_room: rooms for START/STOP, populations and KPIs.
    """
    evolution = Evolution(population_size, cxpb=cxpb, mutpb=mutpb, indpb=indpb, seed=seed)
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
            await client.send({"TYPE": "LOG/KPI", "TO_ROOM": metrics_room, "KPI": kpi, "VALUE": value,
                               "STEP": evolution.generation - 1})  # fmt: skip
        if max_generations is not None and evolution.generation >= max_generations:
            state["active"] = False
            return None
        if interval > 0:
            await asyncio.sleep(interval)
        return population_message() if state["active"] else None

    client.add_handler(start_stop, Trigger("DATA/CUSTOM", control_room), reply_type="DATA/CUSTOM",
                       reply_rooms=evolution_room)  # fmt: skip
    client.add_handler(evolve, Trigger("DATA/CUSTOM", evolution_room), reply_type="DATA/CUSTOM",
                       reply_rooms=evolution_room)  # fmt: skip
    return client


def main(argv: list[str] | None = None) -> None:
    parser = component_parser("Melody evolution component (deap GA).", "evolution")
    parser.add_argument("--population", type=int, default=50, help="population size (default %(default)s)")
    parser.add_argument("--cxpb", type=float, default=0.5, help="crossover probability (default %(default)s)")
    parser.add_argument("--mutpb", type=float, default=1.0, help="mutation probability (default %(default)s)")
    parser.add_argument("--indpb", type=float, default=0.01, help="bit-flip probability (default %(default)s)")
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between generations")
    parser.add_argument("--max-generations", type=int, default=None, help="stop after this many generations")
    args = parser.parse_args(argv)
    serve_component(
        lambda: build(
            args.hub,
            name=args.name,
            population_size=args.population,
            cxpb=args.cxpb,
            mutpb=args.mutpb,
            indpb=args.indpb,
            seed=args.seed,
            interval=args.interval,
            max_generations=args.max_generations,
        ),
        args,
    )


if __name__ == "__main__":
    main()
