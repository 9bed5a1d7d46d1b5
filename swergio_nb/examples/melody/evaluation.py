"""The evaluation network component: genome -> log-probabilities of the 6 ratings (an ordinal model), trained from
the learner's labels.

Run as a process: ``python -m swergio_nb.examples.melody.evaluation --hub ws://127.0.0.1:8765``.

As swergio's ``03_evaluation_net.py``:

* ``DATA/CUSTOM`` in ``evolution`` carrying ``GENOMES`` (uint8 (N, 128)) and no ``FITNESS`` is answered in
  ``evolution`` with ``GENOMES``, ``PROBS`` (float32 (N, 6), the softmax of the logits), ``RATING`` (int64 (N,),
  the argmax: swergio's FITNESS) and ``FITNESS`` (float64 (N,), the expected rating ``sum_k k p_k`` in 0..5; a
  smooth fitness lets tournament selection tell apart melodies with the same most likely class).
* Training goes through the backward path: ``DATA/FORWARD`` in ``traininput`` (float32 (B, 29) of
  :func:`melody_features`) -> logits (B, 6) to ``trainoutput``; the learner's ``DATA/GRADIENT`` (dL/dlogits) in
  ``trainoutput`` -> one Adam step -> dL/dinput to ``traininput`` (:class:`~swergio_nb.feedback.ModuleComponent`).
  ``MODEL_STATUS`` VALIDATE forwards without keeping anything (predictions for the learner).
* The model commands (:class:`~swergio_nb.feedback.commands.ModelCommands`): ``COMMAND/SAVEMODELWEIGHTS`` sent to
  it is answered with ``LOG/MODELWEIGHTS`` (``WEIGHTS``: numpy state dict, with the optimizer's state), and so on.

Input representation (a change from swergio, which fed the 128 raw bits): the network sees
:func:`melody_features`, 29 statistics of the *decoded* melody (time share of rests and of each scale degree,
histogram of the intervals between consecutive notes, the last note, note/event/distinct-pitch counts). From raw bits
a 128-256-64-16-6 MLP does not generalise beyond the melodies it was trained on: trained offline on 100 or 400
melodies rated by the simulated person it stays at 0.18-0.25 test accuracy, below the majority class (0.34), because
a GA run's melodies and those of another run (or random ones) share almost no bit patterns, while the same pitches,
rests and intervals can sit at any of the 32 positions. On the features it reaches 0.58 (100 labels) and 0.80 (400)
(``docs/melody.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ...feedback.commands import ModelCommands
from ...feedback.components import ModuleComponent
from ...swarm.component import component
from ...transport.client import Client, Trigger
from .music import GENOME_SIZE, MusicSettings, genome_to_melody
from .options import EvalnetOptions

__all__ = [
    "CumulativeLink",
    "EvaluationNetwork",
    "NUM_CLASSES",
    "NUM_FEATURES",
    "melody_features",
    "build_component",
    "evaluate_genomes",
    "build",
]

#: Rating classes 0..5.
NUM_CLASSES = 6
_DEGREES = 8  # slot values 0..7 are scale degrees, 8..15 pauses
_SLOTS = 32  # one beat each
#: Length of :func:`melody_features`: 9 time shares + 8 interval shares + 9 last-note + 3 counts.
NUM_FEATURES = (1 + _DEGREES) + _DEGREES + (1 + _DEGREES) + 3


def _features_of(genome: Any, settings: MusicSettings | None) -> np.ndarray:
    melody = genome_to_melody(genome, settings)
    f = np.zeros(NUM_FEATURES, dtype=np.float32)
    beats = melody.beats
    for event in melody.events:
        f[0 if event.is_rest else 1 + int(event.degree)] += event.beats / beats  # type: ignore[arg-type]
    degrees = [int(n.degree) for n in melody.notes]  # type: ignore[arg-type]
    intervals = 9
    for a, b in zip(degrees[:-1], degrees[1:], strict=True):
        f[intervals + abs(b - a)] += 1.0 / (len(degrees) - 1)
    last = intervals + _DEGREES
    f[last + (0 if not degrees else 1 + degrees[-1])] = 1.0
    counts = last + 1 + _DEGREES
    f[counts] = len(degrees) / _SLOTS
    f[counts + 1] = len(set(degrees)) / _DEGREES
    f[counts + 2] = len(melody.events) / _SLOTS
    return f


def melody_features(genomes: Any, settings: MusicSettings | None = None) -> np.ndarray:
    """The evaluation network's input: statistics of each decoded melody, float32 (N, :data:`NUM_FEATURES`).

    Per genome, from :func:`~swergio_nb.examples.melody.music.genome_to_melody` (swergio's decoding, ties and
    pauses included), all in [0, 1]:

    * ``[0:9]``: share of the 32 beats that are rest, then scale degree 0..7;
    * ``[9:17]``: share of the intervals between consecutive notes (rests skipped) of 0..7 scale degrees
      (all zero with fewer than two notes);
    * ``[17:26]``: the last note, one-hot: no note at all, then degree 0..7;
    * ``[26:29]``: notes / 32, distinct degrees / 8, events (notes and rests) / 32.

    The features do not depend on where in the 32 beats something happens, so what is learnt from one melody
    carries over to melodies with the same material elsewhere (see the module docstring for why raw bits fail).

    Args:
        genomes: (N, 128) or (128,) of 0/1.
        settings: decoding settings (only ``pauses`` matters); swergio's defaults if None.

    Raises:
        ValueError: not valid genomes.
    """
    g = np.asarray(genomes).reshape(-1, GENOME_SIZE)
    if g.shape[0] == 0:
        return np.zeros((0, NUM_FEATURES), dtype=np.float32)
    return np.stack([_features_of(genome, settings) for genome in g])


class CumulativeLink(nn.Module):
    """An ordinal output layer: a score ``s`` (B, 1) -> log-probabilities (B, C) of the ratings 0..C-1.

    The cumulative-logit model (McCullagh, *Regression Models for Ordinal Data*, JRSS B 42, 1980):
    ``P(rating <= k) = sigmoid(theta_k - s)`` for ordered thresholds ``theta_0 < ... < theta_{C-2}``, so
    ``p_k = P(rating <= k) - P(rating <= k - 1)``. The thresholds are kept ordered by construction:
    ``theta_0`` plus the cumulative sum of softplus-positive gaps (initially -2, -1, 0, 1, 2 for six ratings).
    The output is a valid logit vector (its softmax is ``p``), so the cross-entropy on it is the model's negative
    log-likelihood and everything that reads logits works unchanged.
    """

    def __init__(self, classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.first = nn.Parameter(torch.tensor(-(classes - 2) / 2))
        self.gaps = nn.Parameter(torch.full((classes - 2,), float(np.log(np.e - 1))))  # softplus = 1

    def thresholds(self) -> torch.Tensor:
        """The ordered thresholds theta, (C-1,)."""
        steps = torch.nn.functional.softplus(self.gaps)
        return torch.cat([self.first.reshape(1), self.first + torch.cumsum(steps, 0)])

    def forward(self, score: torch.Tensor) -> torch.Tensor:
        cdf = torch.sigmoid(self.thresholds() - score)  # (B, C-1): P(rating <= k)
        edges = torch.cat([torch.zeros_like(cdf[:, :1]), cdf, torch.ones_like(cdf[:, :1])], dim=1)
        return torch.log(torch.clamp(edges[:, 1:] - edges[:, :-1], min=1e-7))


class EvaluationNetwork(nn.Module):
    """swergio's evaluation network on melody features: a 29-256-64-16 ReLU MLP (swergio: 128-256-64-16 on the
    genome bits) and an output head.

    Heads: ``"ordinal"`` (the default): one score per melody and a :class:`CumulativeLink` layer, the rating's
    log-probabilities by a cumulative-logit model that knows 0 < 1 < ... < 5; ``"softmax"``: 6 independent logits
    (swergio's, blind to the order of the ratings).

    Input: float tensor (B, NUM_FEATURES). Output: logits (B, 6) (for the ordinal head, log-probabilities).

    Raises:
        ValueError: an unknown head.
    """

    HEADS = ("ordinal", "softmax")

    def __init__(self, head: str = "ordinal") -> None:
        super().__init__()
        if head not in self.HEADS:
            raise ValueError(f"unknown head {head!r}; one of {self.HEADS}")
        self.head = head
        self.layers = nn.Sequential(
            nn.Linear(NUM_FEATURES, GENOME_SIZE * 2),
            nn.ReLU(),
            nn.Linear(GENOME_SIZE * 2, 64),
            nn.ReLU(),
            nn.Linear(64, 16),
            nn.ReLU(),
            nn.Linear(16, 1 if head == "ordinal" else NUM_CLASSES),
        )
        self.link = CumulativeLink(NUM_CLASSES) if head == "ordinal" else nn.Identity()

    @classmethod
    def seeded(cls, seed: int, head: str = "ordinal") -> EvaluationNetwork:
        """A network whose initial weights depend only on ``seed`` (the global torch RNG is left untouched)."""
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return cls(head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.link(self.layers(x))


def build_component(seed: int = 0, lr: float = 1e-2, head: str = "ordinal") -> ModuleComponent:
    """The network with its Adam optimizer as a feedback component (swergio: Adam at 1e-3; 1e-2 here, the rate that
    gave random sampling its best accuracy at 100 labels, ``docs/melody.md``)."""
    network = EvaluationNetwork.seeded(seed, head)
    return ModuleComponent(network, torch.optim.Adam(network.parameters(), lr=lr))


def evaluate_genomes(network: nn.Module, genomes: Any) -> dict[str, np.ndarray]:
    """Probabilities, argmax rating and expected rating of genomes (N, 128), without gradients.

    Returns:
        ``{"PROBS": float32 (N, 6), "RATING": int64 (N,), "FITNESS": float64 (N,)}``.
    """
    x = torch.as_tensor(melody_features(genomes))
    with torch.no_grad():
        probs = torch.softmax(network(x), dim=-1).numpy()
    return {
        "PROBS": probs.astype(np.float32),
        "RATING": probs.argmax(axis=1).astype(np.int64),
        "FITNESS": (probs.astype(np.float64) @ np.arange(NUM_CLASSES, dtype=np.float64)),
    }


@component("evalnet", EvalnetOptions, "Melody evaluation network component.")
def build(url: str, *, name: str, seed: int, options: EvalnetOptions) -> Client:
    """The evaluation network's client (arguments as for ``Component.build``): ``seed`` seeds the initial
    weights; ``client.context["component"]`` is its ModuleComponent. Populations arrive in room ``evolution`` and
    their fitness goes back there; it trains through ``traininput`` (forward in) and ``trainoutput`` (logits out)."""
    component = build_component(seed, options.lr, options.head)
    client = Client(name, url, component=component)
    component.attach(client, input_room="traininput", output_room="trainoutput")

    def inference(msg: dict[str, Any]) -> dict[str, Any] | None:
        if "GENOMES" not in msg or "FITNESS" in msg:
            return None
        genomes = np.asarray(msg["GENOMES"], dtype=np.uint8)
        reply = {"GENOMES": genomes, **evaluate_genomes(component.module, genomes)}
        if "GENERATION" in msg:
            reply["GENERATION"] = msg["GENERATION"]
        return reply

    client.add_handler(inference, Trigger("DATA/CUSTOM", "evolution"), reply_type="DATA/CUSTOM",
                       reply_rooms="evolution")  # fmt: skip

    ModelCommands(component, settings=options).attach(client)
    return client


if __name__ == "__main__":
    build.main()
