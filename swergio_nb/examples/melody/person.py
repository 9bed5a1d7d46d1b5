"""A simulated person who rates melodies 0-5, and the person component that answers label requests.

The simulated person is a documented, deterministic-up-to-noise function of the decoded melody. Four scores in
[0, 1], computed on the melody as swergio plays it (:func:`~swergio_nb.examples.melody.music.genome_to_melody`):

* **rhythm**: rests make up about a fifth of the time: ``1 - |rest_fraction - 0.2| / 0.8`` (clipped at 0). Random
  genomes are half rests (slot values 8..15), so they score low.
* **contour**: the mean "smoothness" of the intervals (in scale degrees) between consecutive sounding notes:
  a step of 1 or 2 degrees scores 1, a repeat (across a rest) 0.6, a third/fourth leap (3, 4) 0.5, a leap of 5 or
  6 degrees 0.1, the octave (7) 0.4. Melodies with fewer than two notes score 0.
* **consonance**: the share of sounding time on the tonic triad (degrees 0, 2, 4, 7: C, E, G, C' in C major),
  weighted 0.7, plus 0.3 if the last note is the tonic (degree 0 or 7). All notes are in the scale already, so
  consonance here is about the tonic chord and the cadence.
* **variety**: ``min(distinct degrees, 5) / 5`` (a melody of one or two pitches is dull).

``score = 0.35 rhythm + 0.30 contour + 0.25 consonance + 0.10 variety + Normal(0, noise)`` and the rating is the
number of thresholds in :data:`THRESHOLDS` below the score (0..5). The thresholds were set once so uniformly random
genomes get mostly 0-2 (like the 39 real ratings from the original project: 3 x 0, 14 x 1, 15 x 2, 6 x 3, 1 x 4)
and melodies evolved towards this taste reach 4 and 5. ``noise`` (default 0.02) makes the person inconsistent, so
no classifier reaches 100 %.

The person component (:func:`build`) listens to ``DATA/CUSTOM`` messages with ``GENOMES`` (and no ``FITNESS``) in
the ``user`` room, puts them in a :class:`~swergio_nb.examples.melody.labelling.LabelQueue` and, once each melody is
rated or skipped, answers in ``user`` with ``GENOMES`` (the rated ones) and ``FITNESS`` (their ratings), as
swergio's user interface did. A widget or :meth:`SimulatedPerson.drive` rates through the queue.

Run as a process (simulated person): ``python -m swergio_nb.examples.melody.person --hub URL --store labels.db``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...swarm.component import component
from ...transport.client import Client, Trigger
from .labelling import LabelQueue, LabelStore
from .music import Melody, MusicSettings, genome_to_melody
from .options import PersonOptions

__all__ = [
    "THRESHOLDS",
    "WEIGHTS",
    "melody_scores",
    "taste_score",
    "SimulatedPerson",
    "build",
]

#: Weights of (rhythm, contour, consonance, variety) in the score.
WEIGHTS = (0.35, 0.30, 0.25, 0.10)
#: A rating is the number of these thresholds below the score.
THRESHOLDS = (0.53, 0.60, 0.67, 0.75, 0.85)

_INTERVAL_SCORE = {0: 0.6, 1: 1.0, 2: 1.0, 3: 0.5, 4: 0.5, 5: 0.1, 6: 0.1, 7: 0.4}
_TONIC_TRIAD = {0, 2, 4, 7}


def melody_scores(melody: Melody) -> dict[str, float]:
    """The four taste scores of a melody, each in [0, 1] (see the module docstring)."""
    total = melody.beats
    notes = melody.notes
    rest = sum(e.beats for e in melody.events if e.is_rest) / total
    rhythm = max(0.0, 1 - abs(rest - 0.2) / 0.8)
    degrees = [int(n.degree) for n in notes]  # type: ignore[arg-type]
    if len(degrees) >= 2:
        contour = float(np.mean([_INTERVAL_SCORE[abs(b - a)] for a, b in zip(degrees[:-1], degrees[1:], strict=True)]))
    else:
        contour = 0.0
    sounding = sum(n.beats for n in notes)
    if sounding:
        triad = sum(n.beats for n in notes if n.degree in _TONIC_TRIAD) / sounding
        cadence = 1.0 if degrees[-1] in (0, 7) else 0.0
        consonance = 0.7 * triad + 0.3 * cadence
    else:
        consonance = 0.0
    variety = min(len(set(degrees)), 5) / 5
    return {"rhythm": rhythm, "contour": contour, "consonance": consonance, "variety": variety}


def taste_score(melody: Melody) -> float:
    """The noiseless score in [0, 1]: the weighted sum of :func:`melody_scores` with :data:`WEIGHTS`."""
    s = melody_scores(melody)
    return float(np.dot(WEIGHTS, [s["rhythm"], s["contour"], s["consonance"], s["variety"]]))


@dataclass
class SimulatedPerson:
    """Rates melodies with :func:`taste_score` plus Gaussian noise; deterministic for a seed.

    Args:
        seed: seeds the noise.
        noise: standard deviation of the noise added to the score (score units, 0..1 scale).
        settings: how genomes are decoded (swergio's defaults).
        delay: seconds the person "listens" before each rating when driving a queue.
    """

    seed: int = 0
    noise: float = 0.02
    settings: MusicSettings | None = None
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")
        self.rng = np.random.default_rng(self.seed)
        self.settings = self.settings or MusicSettings()
        self.rated = 0

    def score(self, genome: Sequence[int] | np.ndarray) -> float:
        """The noiseless score of a genome, in [0, 1]."""
        return taste_score(genome_to_melody(genome, self.settings))

    def rating_of_score(self, score: float | np.ndarray) -> np.ndarray:
        """Ratings 0..5 (int64) for scores: the number of :data:`THRESHOLDS` below each."""
        return np.searchsorted(np.asarray(THRESHOLDS), np.asarray(score), side="left").astype(np.int64)

    def rate(self, genome: Sequence[int] | np.ndarray) -> int:
        """One rating 0..5 of a genome, with noise (advances the noise generator)."""
        noisy = self.score(genome) + (self.rng.normal(0.0, self.noise) if self.noise else 0.0)
        self.rated += 1
        return int(self.rating_of_score(noisy))

    def rate_many(self, genomes: np.ndarray) -> np.ndarray:
        """Ratings (n,) int64 of genomes (n, 128), with noise."""
        return np.array([self.rate(g) for g in genomes], dtype=np.int64)

    def true_ratings(self, genomes: np.ndarray) -> np.ndarray:
        """Noiseless ratings (n,) int64: what the person means on average (the ceiling of any classifier)."""
        return self.rating_of_score(np.array([self.score(g) for g in genomes]))

    def drive(self, queue: LabelQueue) -> None:
        """Rate every melody that arrives in ``queue``, through the same path as the widget's buttons.

        Each rating is scheduled on the running event loop (after ``delay`` seconds), never inside the caller's
        stack, so the queue's listeners see the same sequence of events as with a person clicking. May be called
        before any event loop runs (the queue only changes inside one).
        """
        scheduled: set[int] = set()

        def on_change(q: LabelQueue) -> None:
            item = q.current
            if item is None or item.key in scheduled:
                return
            scheduled.add(item.key)

            def click(key: int = item.key) -> None:
                scheduled.discard(key)
                now = q.current
                if now is not None and now.key == key:
                    q.rate(self.rate(now.genome))

            asyncio.get_running_loop().call_later(self.delay, click)

        queue.listeners.append(on_change)
        if queue.current is not None:
            on_change(queue)


@component("user", PersonOptions, "Simulated person: rates melodies sent to the user room.")
def build(url: str, *, name: str, seed: int, options: PersonOptions, queue: LabelQueue | None = None) -> Client:
    """The person component's client: label requests in room ``user`` go to ``queue``; the answer goes back there.

    The handler awaits the person (``await queue.ask(genomes)``) on the event loop: in a notebook the kernel stays
    free while the person listens and clicks. ``client.context["queue"]`` is the queue.

    Args:
        url, name: as for ``Component.build``.
        seed, options: without a ``queue``, a :class:`SimulatedPerson` (``seed``, ``options.noise``,
            ``options.delay``) rates through a new queue storing its ratings in ``options.store`` (if given).
        queue: where the melodies wait to be rated (it stores each rating durably before confirming it): a person
            rates them in a widget, or a :class:`SimulatedPerson` that drives it.
    """
    if queue is None:
        queue = LabelQueue(None if options.store is None else LabelStore(options.store), source="simulated")
        SimulatedPerson(seed=seed, noise=options.noise, delay=options.delay).drive(queue)
    client = Client(name, url, queue=queue)

    async def label(msg: dict[str, Any]) -> dict[str, Any] | None:
        if "GENOMES" not in msg or "FITNESS" in msg:
            return None
        genomes = [np.asarray(g, dtype=np.uint8) for g in msg["GENOMES"]]
        ratings = await queue.ask(genomes)
        rated = [(g, r) for g, r in zip(genomes, ratings, strict=True) if r is not None]
        return {
            "GENOMES": np.array([g for g, _ in rated], dtype=np.uint8).reshape(
                -1, genomes[0].shape[0] if genomes else 0
            ),
            "FITNESS": [int(r) for _, r in rated],
            "SKIPPED": sum(r is None for r in ratings),
        }

    client.add_handler(label, Trigger("DATA/CUSTOM", "user"), reply_type="DATA/CUSTOM", reply_rooms="user")
    return client


if __name__ == "__main__":
    build.main()
