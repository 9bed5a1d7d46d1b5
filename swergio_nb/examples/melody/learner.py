"""The active learner: keeps a diverse pool of unlabelled melodies, asks the person about a batch chosen by a query
strategy, and retrains the evaluation network on every label through DATA/FORWARD and DATA/GRADIENT.

Run as a process: ``python -m swergio_nb.examples.melody.learner --hub URL --strategy diverse --store labels.db``.

As swergio's ``04_active_learner.py``, with the pool and the choice redesigned (``docs/melody.md`` has the
measurements that led here):

* **The pool** is a reservoir sample (Vitter's algorithm R, *Random Sampling with a Reservoir*, 1985) of
  ``pool_size`` distinct melodies over *every* generation the GA has sent (the evaluation network's answers in
  ``evolution``), not only the latest ones, and it is not emptied after a batch: a GA's population loses diversity
  within a few generations, while the reservoir keeps its whole climb. At each batch ``fresh * pool_size`` fresh
  uniformly random melodies are added to the candidates (the GA never proposes them after its first generation,
  yet they are the melodies the network knows least).
* **When**: a batch is asked once ``pool_size`` new melodies have arrived since the previous one and no request is
  open; the ``k`` (swergio: 5) chosen go to ``user`` (``DATA/CUSTOM`` with ``GENOMES``) and the answer
  (``GENOMES``, ``FITNESS`` = ratings) is awaited without blocking anything.
* **Which**: the strategy (:mod:`~.selection`) ranks the candidates with the *current* network's probabilities
  (one ``MODEL_STATUS`` VALIDATE forward of the pool's features), so nothing is scored by a stale network.
* **Training**: ``epochs`` epochs (swergio: 10) of mini-batches of ``batch_size`` (swergio: 20) over *all*
  labels, each one ``DATA/FORWARD`` to ``traininput`` (:func:`~.evaluation.melody_features`) and one
  ``DATA/GRADIENT`` (dL/dlogits of the negative log-likelihood) to ``trainoutput``, continuing from the current
  weights (as swergio's did).

Measured after each retraining (:func:`~.selection.ordinal_metrics`: accuracy, within-one accuracy, MAE): on a test
set when one is given (the simulated person's ratings); with ``cv_folds`` on the person's *own* ratings, by
k-fold cross-validation of fresh networks (:func:`cross_validated`); and always the *batch accuracy*, how many of
the batch's ratings the network predicted before it was trained on them. They go to ``metrics`` as ``LOG/KPI``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from ...feedback.commands import read_state, write_state
from ...feedback.components import ModuleComponent, loss_and_gradient
from ...protocol.messages import ModelStatus, new_id
from ...swarm.component import component
from ...transport.client import Client, Trigger
from .evaluation import build_component, melody_features
from .labelling import LabelStore, check_rating, read_swergio_csv
from .music import GENOME_SIZE, check_genome, random_genomes
from .options import STRATEGIES, LearnerOptions
from .selection import informativeness, ordinal_metrics, select

__all__ = [
    "STRATEGIES",
    "informativeness",
    "select",
    "Fitter",
    "LocalFitter",
    "HubFitter",
    "ActiveLearner",
    "LearnerOptions",
    "cross_validated",
    "KPIS",
    "build",
]

logger = logging.getLogger("swergio_nb.examples.melody.learner")

Genome = tuple[int, ...]


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
        return torch.softmax(torch.as_tensor(np.array(logits["DATA"])), dim=-1).numpy()  # a writable copy


async def _fit(fitter: Fitter, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int,
              rng: np.random.Generator) -> float:  # fmt: skip
    """Train ``epochs`` shuffled passes of mini-batches over ``(x, y)``; returns the mean loss of the last pass."""
    losses: list[float] = []
    for _ in range(epochs if len(y) else 0):
        await asyncio.sleep(0)  # an epoch at a time: other tasks (a hub in the same loop) run in between
        order = rng.permutation(len(y))
        losses = [await fitter.step(x[idx], y[idx]) for idx in np.array_split(order, -(-len(y) // batch_size))]
    return float(np.mean(losses)) if losses else float("nan")


async def cross_validated(
    x: np.ndarray, y: np.ndarray, *, folds: int = 5, epochs: int = 50, batch_size: int = 20, seed: int = 0
) -> dict[str, float]:
    """Accuracy, within-one accuracy and MAE of fresh evaluation networks on held-out labels (k-fold).

    Each fold's network (:func:`~.evaluation.build_component`, seed ``seed + fold``) is trained in this process on
    the other folds for ``epochs`` epochs and predicts its own fold; the metrics are over all the held-out
    predictions (each label predicted once, by a network that never saw it).

    Args:
        x: features (N, NUM_FEATURES). y: ratings (N,) 0..5.
        folds: 2..N.

    Raises:
        ValueError: fewer labels than folds, or folds < 2.
    """
    if folds < 2 or len(y) < folds:
        raise ValueError(f"cross-validation needs 2 <= folds <= labels, got {folds} folds and {len(y)} labels")
    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(np.arange(len(y)) % folds)
    probs = np.zeros((len(y), 6))
    for fold in range(folds):
        fitter = LocalFitter(build_component(seed + fold))
        train, held = fold_of != fold, fold_of == fold
        await _fit(fitter, x[train], y[train], epochs, batch_size, rng)
        probs[held] = await fitter.predict(x[held])
    return ordinal_metrics(probs, y)


class ActiveLearner:
    """Pool-based active learning of the evaluation network (see the module docstring).

    Args:
        fitter: trains/queries the network (:class:`HubFitter` in the component, :class:`LocalFitter` in the bench).
        strategy: one of :data:`STRATEGIES`.
        pool_size: melodies in the reservoir; also how many new ones arrive between two batches.
        fresh: share (0..1) of ``pool_size`` fresh random melodies added to the candidates of each batch.
        k: melodies asked per batch.
        epochs: passes over all labels after each batch.
        batch_size: labels per training step.
        seed: seeds the reservoir, the fresh melodies, the shuffling and the strategy.
        test_set: optional ``(genomes (M, 128), ratings (M,))`` to measure the network on.
        cv_folds: if >= 2, each retraining also cross-validates fresh networks on the labels (once there are
            ``2 * cv_folds``): the person's own held-out ratings.

    Attributes:
        labels: genome (tuple of 128 ints) -> rating.
        pool: the reservoir's genomes.
        history: one record per retraining: ``labels``, ``loss``, ``batch_accuracy``, ``test`` (ordinal metrics or
            None), ``cv`` (ordinal metrics or None), ``test_accuracy`` (``test["accuracy"]`` or None).
        listeners: called as ``listener(record)`` after each retraining.

    Raises:
        ValueError: an unknown strategy, a size below 1 or ``fresh`` outside [0, 1].
    """

    def __init__(
        self,
        fitter: Fitter,
        *,
        strategy: str = "diverse",
        pool_size: int = 200,
        fresh: float = 0.25,
        k: int = 5,
        epochs: int = 10,
        batch_size: int = 20,
        seed: int = 0,
        test_set: tuple[np.ndarray, np.ndarray] | None = None,
        cv_folds: int = 0,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; one of {STRATEGIES}")
        if min(pool_size, k, epochs, batch_size) < 1:
            raise ValueError("pool_size, k, epochs and batch_size must be at least 1")
        if not 0 <= fresh <= 1:
            raise ValueError(f"fresh is a share in [0, 1], got {fresh}")
        self.fitter = fitter
        self.strategy = strategy
        self.pool_size, self.fresh, self.k, self.epochs, self.batch_size = pool_size, fresh, k, epochs, batch_size
        self.rng = np.random.default_rng(seed)
        self.test_set = test_set
        self.cv_folds = cv_folds
        self.labels: dict[Genome, int] = {}
        self.pool: list[Genome] = []
        self.history: list[dict[str, Any]] = []
        self.listeners: list[Callable[[dict[str, Any]], Any]] = []
        self.seen = 0  #: distinct unlabelled genomes offered to the reservoir
        self.last_candidates = np.zeros((0, GENOME_SIZE), np.uint8)  #: what the latest :meth:`choose` chose from
        self._arrived = 0  # since the last batch
        self._pooled: set[Genome] = set()
        self._offered: set[bytes] = set()
        self._asked: dict[Genome, np.ndarray] = {}
        self._features: dict[Genome, np.ndarray] = {}  # network inputs, computed once per genome
        self._test_features: np.ndarray | None = None

    @property
    def ready(self) -> bool:
        """True when ``pool_size`` new melodies arrived since the last batch."""
        return self._arrived >= self.pool_size and bool(self.pool)

    def add_to_pool(self, genomes: Any) -> int:
        """Offer genomes (N, 128) to the reservoir: each distinct unlabelled genome once (a copy, or one offered
        before, is passed over), so the reservoir is a uniform sample of the distinct melodies the GA proposed;
        returns the pool size."""
        for genome in np.asarray(genomes, dtype=np.uint8).reshape(-1, GENOME_SIZE):
            packed = np.packbits(genome).tobytes()  # 16 bytes: every genome ever offered is remembered
            key = tuple(int(b) for b in genome)
            if packed in self._offered or key in self.labels:
                continue
            self._offered.add(packed)
            self.seen += 1
            self._arrived += 1
            if len(self.pool) < self.pool_size:
                slot = len(self.pool)
                self.pool.append(key)
            else:
                slot = int(self.rng.integers(self.seen))
                if slot >= self.pool_size:
                    continue
                self._pooled.discard(self.pool[slot])
                self._features.pop(self.pool[slot], None)
                self.pool[slot] = key
            self._pooled.add(key)
        return len(self.pool)

    def _feature_rows(self, keys: list[Genome]) -> np.ndarray:
        missing = [key for key in keys if key not in self._features]
        if missing:
            for key, row in zip(missing, melody_features(np.array(missing, dtype=np.uint8)), strict=True):
                self._features[key] = row
        if not keys:
            return melody_features(np.zeros((0, GENOME_SIZE), np.uint8))
        return np.stack([self._features[key] for key in keys])

    async def choose(self) -> np.ndarray:
        """The ``k`` melodies to ask about (uint8 (<= k, 128)), from the pool and fresh random melodies, ranked by the
        current network; the chosen leave the pool."""
        fresh = [tuple(int(b) for b in g) for g in random_genomes(self.rng, round(self.fresh * self.pool_size))]
        candidates = list(dict.fromkeys(self.pool + [g for g in fresh if g not in self.labels]))
        self._arrived = 0
        self.last_candidates = np.array(candidates, dtype=np.uint8).reshape(-1, GENOME_SIZE)
        if not candidates:
            return self.last_candidates
        x = self._feature_rows(candidates)
        probs = await self.fitter.predict(x)
        labelled = self._feature_rows(list(self.labels))
        picked = select(probs, self.k, self.strategy, self.rng, features=x, labelled=labelled)
        chosen = [candidates[i] for i in picked]
        for i, key in zip(picked, chosen, strict=True):
            self._asked[key] = probs[i]
        self._drop_from_pool(set(chosen))
        for key in fresh:  # the fresh melodies not chosen are gone: so are their features
            if key not in self._asked and key not in self._pooled and key not in self.labels:
                self._features.pop(key, None)
        return np.array(chosen, dtype=np.uint8).reshape(-1, GENOME_SIZE)

    def _drop_from_pool(self, keys: set[Genome]) -> None:
        if keys & self._pooled:
            self.pool = [key for key in self.pool if key not in keys]
            self._pooled -= keys

    def add_labels(self, genomes: Any, ratings: Any) -> float | None:
        """Record ratings; returns the batch accuracy (the network's argmax when the genomes were chosen against the
        ratings) over those that were asked, or None if none was.

        Raises:
            LabelError: a rating outside 0..5. ValueError: a bad genome. (Nothing is recorded then.)
        """
        pairs = [
            (tuple(int(b) for b in check_genome(g)), check_rating(r)) for g, r in zip(genomes, ratings, strict=True)
        ]
        hits = []
        for key, rating in pairs:
            self.labels[key] = rating
            asked = self._asked.pop(key, None)
            if asked is not None:
                hits.append(int(np.argmax(asked)) == rating)
        self._drop_from_pool({key for key, _ in pairs})
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
        return self._feature_rows(keys), np.array([self.labels[k] for k in keys], dtype=np.int64)

    async def retrain(self, batch_accuracy: float | None = None) -> dict[str, Any]:
        """Train ``epochs`` epochs over all labels and measure; returns (and records) the record."""
        x, y = self.training_arrays()
        loss = await _fit(self.fitter, x, y, self.epochs, self.batch_size, self.rng)
        test = await self.test_metrics() if self.test_set is not None else None
        cv = None
        if self.cv_folds >= 2 and len(y) >= 2 * self.cv_folds:
            cv = await cross_validated(x, y, folds=self.cv_folds, batch_size=self.batch_size, seed=len(y))
        record: dict[str, Any] = {
            "labels": len(y),
            "loss": loss,
            "batch_accuracy": batch_accuracy,
            "test": test,
            "cv": cv,
            "test_accuracy": None if test is None else test["accuracy"],
        }
        self.history.append(record)
        for listener in list(self.listeners):
            listener(record)
        return record

    async def test_metrics(self) -> dict[str, float]:
        """Accuracy, within-one accuracy and MAE (:func:`~.selection.ordinal_metrics`) on the test set.

        Raises:
            ValueError: no test set.
        """
        if self.test_set is None:
            raise ValueError("no test set")
        genomes, ratings = self.test_set
        if self._test_features is None or self._test_features.shape[0] != len(ratings):
            self._test_features = melody_features(genomes)
        return ordinal_metrics(await self.fitter.predict(self._test_features), ratings)

    async def test_accuracy(self) -> float:
        """Accuracy (argmax) on the test set, 0..1.

        Raises:
            ValueError: no test set.
        """
        return (await self.test_metrics())["accuracy"]


#: The KPIs the learner sends to ``metrics``: name -> (record field, metric or None).
KPIS = {
    "labels": ("labels", None),
    "batch accuracy (before training)": ("batch_accuracy", None),
    "test accuracy": ("test", "accuracy"),
    "test within-one accuracy": ("test", "within_one"),
    "test MAE": ("test", "mae"),
    "cross-validated accuracy": ("cv", "accuracy"),
    "cross-validated within-one accuracy": ("cv", "within_one"),
    "cross-validated MAE": ("cv", "mae"),
}


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
    (``busy``, ``rounds``, ``max_rounds``, ``resumed``), ``resume`` and ``save_model`` (coroutine functions), and
    ``ask`` (``ask(n) -> int``: ask for ``n`` more label batches than rated so far, a batch being rated counting as
    one of them; returns the round number the last of them will have, so a notebook cell run twice rates ``n``
    batches each time instead of waiting for rounds ``max_rounds`` no longer allows).

    It pools the populations of room ``evolution``, asks room ``user`` for ratings, trains the network through
    ``traininput``/``trainoutput`` and reports :data:`KPIS` to ``metrics``. Of ``options``: ``strategy``,
    ``pool_size``, ``fresh``, ``k``, ``epochs``, ``batch_size``, ``cv_folds`` (with ``seed``: see
    :class:`ActiveLearner`); ``store``, the file of a :class:`LabelStore` whose ratings are loaded at start (the
    person's side writes new ratings there, the learner only reads it); ``pretrain``, a swergio CSV file (e.g. the
    original project's 39 ratings) added to the labels at start; ``model``, the file of the evaluation network's
    state (:func:`~swergio_nb.feedback.commands.write_state`): loaded into ``evalnet`` at start if it exists
    (``COMMAND/LOADMODELWEIGHTS``), written after every retraining (``COMMAND/SAVEMODELWEIGHTS``), so labels and
    model come back together; ``max_rounds``, stop asking after this many label batches (None: never stop).

    Args:
        store: an open :class:`LabelStore` to use instead of ``options.store``.
        test_set: genomes and their ratings to measure the network on (see :class:`ActiveLearner`).

    At start (the first message it handles, or ``await client.context["resume"]()``), the model file is loaded,
    then the labels of the store and ``pretrain``, and if there are any the network trains on them (round 0),
    continuing from the loaded weights.
    """
    pretrain, model = options.pretrain, options.model
    client = Client(name, url)
    fitter = HubFitter(client)
    learner = ActiveLearner(fitter, strategy=options.strategy, pool_size=options.pool_size, fresh=options.fresh,
                            k=options.k, epochs=options.epochs, batch_size=options.batch_size, seed=seed,
                            test_set=test_set, cv_folds=options.cv_folds)  # fmt: skip
    rounds: asyncio.Queue = asyncio.Queue()
    state: dict[str, Any] = {"busy": False, "rounds": 0, "max_rounds": options.max_rounds, "resumed": False,
                             "task": None, "model_loaded": False}  # fmt: skip
    label_store = store if store is not None or options.store is None else LabelStore(options.store)
    resume_lock = asyncio.Lock()

    async def save_model() -> None:
        """Ask ``evalnet`` for its state and write it to ``options.model`` (replaced whole, never half-written)."""
        if model is None:
            raise ValueError("no model file: set LearnerOptions.model")
        reply = await client.request({"TYPE": "COMMAND/SAVEMODELWEIGHTS", "TO": options.evalnet}, timeout=60.0)
        partial = Path(f"{model}.partial")
        write_state(reply, partial)
        os.replace(partial, model)

    async def publish(record: dict[str, Any]) -> None:
        if model is not None:
            await save_model()
        for kpi, (key, metric) in KPIS.items():
            value = record.get(key)
            if metric is not None and value is not None:
                value = value[metric]
            if value is not None:
                await client.send({"TYPE": "LOG/KPI", "TO_ROOM": "metrics", "KPI": kpi, "VALUE": float(value),
                                   "STEP": record["labels"]})  # fmt: skip
        rounds.put_nowait({**record, "round": state["rounds"]})

    async def resume() -> None:
        async with resume_lock:
            if state["resumed"]:
                return
            state["resumed"] = True
            if model is not None and Path(model).exists():
                saved = read_state(model)
                await client.request({"TYPE": "COMMAND/LOADMODELWEIGHTS", "TO": options.evalnet, **saved},
                                     timeout=60.0)  # fmt: skip
                state["model_loaded"] = True
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
            genomes = await learner.choose()
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
        if "FITNESS" not in msg:  # the evaluation network's answer: this generation as the GA breeds from it
            return
        await resume()
        learner.add_to_pool(msg["GENOMES"])
        next_round()

    def next_round() -> None:
        """Ask the person for the next batch, unless a batch is out, the pool is not ready, or enough were asked."""
        finished = state["max_rounds"] is not None and state["rounds"] >= state["max_rounds"]
        if learner.ready and not state["busy"] and not finished:
            state["busy"] = True
            state["task"] = asyncio.ensure_future(one_round())  # the pool keeps filling while the person rates

    def ask(n: int) -> int:
        if n < 1:
            raise ValueError(f"ask for at least one batch, not {n}")
        state["max_rounds"] = state["rounds"] + n
        next_round()
        return state["max_rounds"]

    client.add_handler(pool, Trigger("DATA/CUSTOM", "evolution"))
    client.context.update(learner=learner, rounds=rounds, state=state, resume=resume, save_model=save_model,
                          store=label_store, ask=ask)  # fmt: skip
    return client


if __name__ == "__main__":
    build.main()
