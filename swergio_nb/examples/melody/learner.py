"""The active learner: pools unlabelled genomes with the network's uncertainty, asks the person for the most
informative ones, and retrains the evaluation network on every label through DATA/FORWARD and DATA/GRADIENT.

Run as a process: ``python -m swergio_nb.examples.melody.learner --hub URL --strategy entropy --store labels.db``.

As swergio's ``04_active_learner.py``: the evaluation network's answers in ``evolution`` (``GENOMES`` with
``PROBS``) fill a pool of unlabelled genomes; when it holds ``pool_size`` (swergio: 200) and no request is open,
the ``k`` (swergio: 5) most informative are sent to ``user`` (``DATA/CUSTOM`` with ``GENOMES``) and the answer
(``GENOMES``, ``FITNESS`` = ratings) is awaited without blocking anything; then the network is trained for
``epochs`` epochs (swergio: 10) of mini-batches of ``batch_size`` (swergio: 20) over *all* labels, each mini-batch
one ``DATA/FORWARD`` to ``traininput`` (the genomes' :func:`~swergio_nb.examples.melody.evaluation.melody_features`)
and one ``DATA/GRADIENT`` (dL/dlogits of the cross-entropy) to ``trainoutput``; the pool is then emptied (its
probabilities are stale). Training continues from the current weights (as swergio's did), it does not restart.

Uncertainty sampling strategies (Settles, *Active Learning Literature Survey*, 2009, section 3.1), for class
probabilities ``p`` (sorted descending ``p(1) >= p(2) >= ...``), highest first:

* ``least_confidence``: ``1 - p(1)`` (swergio's choice);
* ``margin``: ``-(p(1) - p(2))`` (smallest margin first);
* ``entropy``: ``-sum_k p_k log p_k``;
* ``random``: uniformly at random (the baseline).

Accuracy: with a test set (genomes with known ratings, e.g. from the simulated person) the test accuracy after each
retraining; always the *batch accuracy*: how many of the batch's ratings the network predicted (argmax) before it
was trained on them. Both, and the label count, go to ``metrics`` as ``LOG/KPI``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from ...feedback.components import ModuleComponent, loss_and_gradient
from ...protocol.messages import ModelStatus, new_id
from ...swarm.component import component
from ...transport.client import Client, Trigger
from .evaluation import melody_features
from .labelling import LabelStore, check_rating, read_swergio_csv
from .music import GENOME_SIZE, check_genome
from .options import STRATEGIES, LearnerOptions

__all__ = [
    "STRATEGIES",
    "informativeness",
    "select",
    "Fitter",
    "LocalFitter",
    "HubFitter",
    "ActiveLearner",
    "LearnerOptions",
    "build",
]

logger = logging.getLogger("swergio_nb.examples.melody.learner")


def informativeness(probs: Any, strategy: str) -> np.ndarray:
    """How informative each example is under ``strategy`` (higher = ask first); float64 (N,).

    Args:
        probs: class probabilities (N, C), rows summing to 1.
        strategy: one of :data:`STRATEGIES` (``random`` gives zeros: the order comes from :func:`select`).

    Raises:
        ValueError: unknown strategy or probs not 2-d.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probs must be (N, C), got shape {p.shape}")
    if strategy == "least_confidence":
        return 1.0 - p.max(axis=1)
    if strategy == "margin":
        top = -np.sort(-p, axis=1)
        return -(top[:, 0] - top[:, 1])
    if strategy == "entropy":
        return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=1)
    if strategy == "random":
        return np.zeros(p.shape[0])
    raise ValueError(f"unknown strategy {strategy!r}; one of {STRATEGIES}")


def select(probs: Any, k: int, strategy: str, rng: np.random.Generator) -> np.ndarray:
    """Indices (int64, at most ``k``) of the most informative rows of ``probs``; ties broken at random by ``rng``."""
    scores = informativeness(probs, strategy)
    order = rng.permutation(scores.shape[0])
    ranked = order[np.argsort(-scores[order], kind="stable")]
    return ranked[: max(0, int(k))].astype(np.int64)


def _cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, target.long())


class Fitter(Protocol):
    """Trains the evaluation network and predicts with it (directly, or through the hub)."""

    async def step(self, x: np.ndarray, y: np.ndarray) -> float: ...

    async def predict(self, x: np.ndarray) -> np.ndarray: ...


class LocalFitter:
    """Drives a :class:`~swergio_nb.feedback.ModuleComponent` by calling its forward/backward handlers directly:
    the same messages and arithmetic as through the hub, without sockets (the benchmark's fast path)."""

    def __init__(self, component: ModuleComponent) -> None:
        self.component = component

    async def step(self, x: np.ndarray, y: np.ndarray) -> float:
        out = self.component.forward({"ID": new_id(), "DATA": x, "MODEL_STATUS": ModelStatus.TRAIN})
        loss, grad = loss_and_gradient(_cross_entropy, out["DATA"].numpy(), y)
        self.component.backward({"ID": new_id(), "REPLY_TO": out["ID"], "DATA": grad})
        return loss

    async def predict(self, x: np.ndarray) -> np.ndarray:
        out = self.component.forward({"ID": new_id(), "DATA": x, "MODEL_STATUS": ModelStatus.VALIDATE})
        return torch.softmax(out["DATA"], dim=-1).numpy()


class HubFitter:
    """Trains and queries the evaluation network through the hub: FORWARD to ``input_room``, logits back in
    ``output_room``, GRADIENT to ``output_room``, the input gradient back in ``input_room`` (the step is done)."""

    def __init__(
        self, client: Client, *, input_room: str = "traininput", output_room: str = "trainoutput", timeout: float = 60.0
    ) -> None:
        self.client, self.input_room, self.output_room, self.timeout = client, input_room, output_room, timeout

    async def step(self, x: np.ndarray, y: np.ndarray) -> float:
        logits = await self.client.request(
            {"TYPE": "DATA/FORWARD", "TO_ROOM": self.input_room, "DATA": x, "MODEL_STATUS": ModelStatus.TRAIN},
            reply_room=self.output_room, reply_type="DATA/FORWARD", timeout=self.timeout,
        )  # fmt: skip
        loss, grad = loss_and_gradient(_cross_entropy, logits["DATA"], y)
        await self.client.request(
            {"TYPE": "DATA/GRADIENT", "TO_ROOM": self.output_room, "DATA": grad, "REPLY_TO": logits["ID"],
             "ROOT_ID": logits["ROOT_ID"], "MODEL_STATUS": ModelStatus.TRAIN, "LOSS": loss},
            reply_room=self.input_room, reply_type="DATA/GRADIENT", timeout=self.timeout,
        )  # fmt: skip
        return loss

    async def predict(self, x: np.ndarray) -> np.ndarray:
        logits = await self.client.request(
            {"TYPE": "DATA/FORWARD", "TO_ROOM": self.input_room, "DATA": x, "MODEL_STATUS": ModelStatus.VALIDATE},
            reply_room=self.output_room, reply_type="DATA/FORWARD", timeout=self.timeout,
        )  # fmt: skip
        return torch.softmax(torch.as_tensor(np.asarray(logits["DATA"])), dim=-1).numpy()


class ActiveLearner:
    """Pool-based active learning of the evaluation network (see the module docstring).

    Args:
        fitter: trains/queries the network (:class:`HubFitter` in the component, :class:`LocalFitter` in the bench).
        strategy: one of :data:`STRATEGIES`.
        pool_size: unlabelled genomes to gather before asking.
        k: genomes asked per batch.
        epochs: passes over all labels after each batch.
        batch_size: labels per training step.
        seed: seeds the shuffling and the random strategy.
        test_set: optional ``(genomes (M, 128), ratings (M,))`` to measure the accuracy on.

    Attributes:
        labels: genome (tuple of 128 ints) -> rating.
        pool: genome -> class probabilities when it was pooled.
        history: one record per retraining: ``labels``, ``loss``, ``test_accuracy``, ``batch_accuracy``.
        listeners: called as ``listener(record)`` after each retraining.
    """

    def __init__(
        self,
        fitter: Fitter,
        *,
        strategy: str = "least_confidence",
        pool_size: int = 200,
        k: int = 5,
        epochs: int = 10,
        batch_size: int = 20,
        seed: int = 0,
        test_set: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; one of {STRATEGIES}")
        if min(pool_size, k, epochs, batch_size) < 1:
            raise ValueError("pool_size, k, epochs and batch_size must be at least 1")
        self.fitter = fitter
        self.strategy = strategy
        self.pool_size, self.k, self.epochs, self.batch_size = pool_size, k, epochs, batch_size
        self.rng = np.random.default_rng(seed)
        self.test_set = test_set
        self.labels: dict[tuple[int, ...], int] = {}
        self.pool: dict[tuple[int, ...], np.ndarray] = {}
        self.history: list[dict[str, Any]] = []
        self.listeners: list[Callable[[dict[str, Any]], Any]] = []
        self._asked: dict[tuple[int, ...], np.ndarray] = {}
        self._features: dict[tuple[int, ...], np.ndarray] = {}  # network inputs of the labelled genomes
        self._test_features: np.ndarray | None = None

    @property
    def ready(self) -> bool:
        """True when the pool holds at least ``pool_size`` genomes."""
        return len(self.pool) >= self.pool_size

    def add_to_pool(self, genomes: Any, probs: Any) -> int:
        """Pool unlabelled genomes (N, 128) with their class probabilities (N, 6); returns the pool size."""
        g = np.asarray(genomes, dtype=np.uint8).reshape(-1, GENOME_SIZE)
        p = np.asarray(probs, dtype=np.float64).reshape(g.shape[0], -1)
        for genome, prob in zip(g, p, strict=True):
            key = tuple(int(b) for b in genome)
            if key not in self.labels:
                self.pool[key] = prob
        return len(self.pool)

    def choose(self) -> np.ndarray:
        """The ``k`` most informative pooled genomes (uint8 (<= k, 128)); they leave the pool."""
        keys = list(self.pool)
        if not keys:
            return np.zeros((0, GENOME_SIZE), dtype=np.uint8)
        probs = np.stack([self.pool[key] for key in keys])
        chosen = [keys[i] for i in select(probs, self.k, self.strategy, self.rng)]
        for key in chosen:
            self._asked[key] = self.pool.pop(key)
        return np.array(chosen, dtype=np.uint8)

    def add_labels(self, genomes: Any, ratings: Any) -> float | None:
        """Record ratings; returns the batch accuracy (the network's argmax when the genomes were pooled against
        the ratings) over those that were asked, or None if none was.

        Raises:
            LabelError: a rating outside 0..5. ValueError: a bad genome. (Nothing is recorded then.)
        """
        pairs = [
            (tuple(int(b) for b in check_genome(g)), check_rating(r)) for g, r in zip(genomes, ratings, strict=True)
        ]
        hits = []
        for key, rating in pairs:
            self.labels[key] = rating
            if key not in self._features:
                self._features[key] = melody_features(np.array(key, dtype=np.uint8))[0]
            self.pool.pop(key, None)
            asked = self._asked.pop(key, None)
            if asked is not None:
                hits.append(int(np.argmax(asked)) == rating)
        return float(np.mean(hits)) if hits else None

    def labelled_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All labels as ``(float32 (N, 128), int64 (N,))``."""
        if not self.labels:
            return np.zeros((0, GENOME_SIZE), np.float32), np.zeros(0, np.int64)
        keys = list(self.labels)
        return np.array(keys, dtype=np.float32), np.array([self.labels[k] for k in keys], dtype=np.int64)

    def training_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All labels as the network's inputs: ``(float32 (N, NUM_FEATURES) of melody_features, int64 (N,))``."""
        keys = list(self.labels)
        if not keys:
            return melody_features(np.zeros((0, GENOME_SIZE), np.uint8)), np.zeros(0, np.int64)
        return np.stack([self._features[k] for k in keys]), np.array([self.labels[k] for k in keys], dtype=np.int64)

    async def retrain(self, batch_accuracy: float | None = None) -> dict[str, Any]:
        """Train ``epochs`` epochs over all labels, measure, empty the pool; returns (and records) the record."""
        x, y = self.training_arrays()
        losses = []
        for _ in range(self.epochs if len(y) else 0):
            order = self.rng.permutation(len(y))
            for start in range(0, len(y), self.batch_size):
                idx = order[start : start + self.batch_size]
                losses.append(await self.fitter.step(x[idx], y[idx]))
        record: dict[str, Any] = {
            "labels": len(y),
            "loss": float(np.mean(losses[-max(1, -(-len(y) // self.batch_size)) :])) if losses else float("nan"),
            "batch_accuracy": batch_accuracy,
            "test_accuracy": await self.test_accuracy() if self.test_set is not None else None,
        }
        self.pool.clear()
        self.history.append(record)
        for listener in list(self.listeners):
            listener(record)
        return record

    async def test_accuracy(self) -> float:
        """Accuracy (argmax) on the test set, 0..1.

        Raises:
            ValueError: no test set.
        """
        if self.test_set is None:
            raise ValueError("no test set")
        genomes, ratings = self.test_set
        if self._test_features is None or self._test_features.shape[0] != len(ratings):
            self._test_features = melody_features(genomes)
        probs = await self.fitter.predict(self._test_features)
        return float(np.mean(probs.argmax(axis=1) == np.asarray(ratings)))


@component("learner", LearnerOptions, "Melody active learner component.")
def build(
    url: str,
    *,
    name: str,
    seed: int,
    options: LearnerOptions,
    store: LabelStore | None = None,
    test_set: tuple[np.ndarray, np.ndarray] | None = None,
) -> Client:
    """The active learner's client (arguments as for ``Component.build``). ``client.context``: ``learner``
    (:class:`ActiveLearner`), ``rounds`` (an ``asyncio.Queue`` getting each retraining's record), ``state``
    (``busy``, ``rounds``, ``resumed``).

    It pools the populations of room ``evolution``, asks room ``user`` for ratings, trains the network through
    ``traininput``/``trainoutput`` and reports KPIs to ``metrics``. Of ``options``: ``strategy``, ``pool_size``,
    ``k``, ``epochs``, ``batch_size`` (with ``seed``: see :class:`ActiveLearner`); ``store``, the file of a
    :class:`LabelStore` whose ratings are loaded at start (after a restart, training resumes from them; the
    person's side writes new ratings there, the learner only reads it); ``pretrain``, a swergio CSV file (e.g. the
    original project's 39 ratings) added to the labels at start; ``max_rounds``, stop asking after this many label
    batches (None: never stop).

    Args:
        store: an open :class:`LabelStore` to use instead of ``options.store``.
        test_set: genomes and their ratings to measure the accuracy on (see :class:`ActiveLearner`).

    At start (the first message it handles, or ``await client.context["resume"]()``), labels from the store and
    ``pretrain`` are loaded and, if there are any, the network is trained on them (round 0).
    """
    pretrain, max_rounds = options.pretrain, options.max_rounds
    client = Client(name, url)
    fitter = HubFitter(client)
    learner = ActiveLearner(fitter, strategy=options.strategy, pool_size=options.pool_size, k=options.k,
                            epochs=options.epochs, batch_size=options.batch_size, seed=seed,
                            test_set=test_set)  # fmt: skip
    rounds: asyncio.Queue = asyncio.Queue()
    state: dict[str, Any] = {"busy": False, "rounds": 0, "resumed": False, "task": None}
    label_store = store if store is not None or options.store is None else LabelStore(options.store)
    resume_lock = asyncio.Lock()

    async def publish(record: dict[str, Any]) -> None:
        kpis = {"labels": record["labels"], "test accuracy": record["test_accuracy"],
                "batch accuracy (before training)": record["batch_accuracy"]}  # fmt: skip
        for kpi, value in kpis.items():
            if value is not None:
                await client.send({"TYPE": "LOG/KPI", "TO_ROOM": "metrics", "KPI": kpi, "VALUE": float(value),
                                   "STEP": record["labels"]})  # fmt: skip
        record = {**record, "round": state["rounds"]}
        rounds.put_nowait(record)

    async def resume() -> None:
        async with resume_lock:
            if state["resumed"]:
                return
            state["resumed"] = True
            loaded = []
            if label_store is not None:
                loaded += list(label_store.labels().items())
            if pretrain is not None:
                loaded += [(tuple(int(b) for b in g), r) for g, r in read_swergio_csv(pretrain)]
            if loaded:
                learner.add_labels([np.array(g) for g, _ in loaded], [r for _, r in loaded])
                await publish(await learner.retrain())

    async def one_round() -> None:
        try:
            genomes = learner.choose()
            reply = await client.request(
                {"TYPE": "DATA/CUSTOM", "TO_ROOM": "user", "GENOMES": genomes},
                reply_room="user", reply_type="DATA/CUSTOM", timeout=None,
            )  # fmt: skip
            rated = np.asarray(reply.get("GENOMES", []), dtype=np.uint8).reshape(-1, GENOME_SIZE)
            accuracy = learner.add_labels(rated, reply.get("FITNESS", []))
            state["rounds"] += 1
            await publish(await learner.retrain(accuracy))
        except Exception:
            logger.exception("label round failed")
            raise
        finally:
            state["busy"] = False

    async def pool(msg: dict[str, Any]) -> None:
        if "PROBS" not in msg:
            return
        await resume()
        learner.add_to_pool(msg["GENOMES"], msg["PROBS"])
        finished = max_rounds is not None and state["rounds"] >= max_rounds
        if learner.ready and not state["busy"] and not finished:
            state["busy"] = True
            state["task"] = asyncio.ensure_future(one_round())  # the pool keeps filling while the person rates

    client.add_handler(pool, Trigger("DATA/CUSTOM", "evolution"))
    client.context.update(learner=learner, rounds=rounds, state=state, resume=resume, store=label_store)
    return client


if __name__ == "__main__":
    build.main()
