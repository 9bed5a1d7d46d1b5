"""Query strategies of the active learner, and the metrics of ordinal ratings.

A strategy picks a batch of ``k`` melodies to ask about from a pool, given the network's class probabilities
``p`` (N, 6) over the ratings 0..5 and the pool's features ``x`` (N, D) (:func:`~.evaluation.melody_features`).

Uncertainty of one melody, highest asked first (Settles, *Active Learning Literature Survey*, 2009, section 3.1;
``p(1) >= p(2)`` are the two largest probabilities):

* ``least_confidence``: ``1 - p(1)`` (swergio's choice);
* ``margin``: ``-(p(1) - p(2))``;
* ``entropy``: ``-sum_k p_k log p_k``;
* ``variance``: the variance of the rating under ``p``, ``sum_k p_k (k - m)^2`` with ``m = sum_k p_k k``: the
  ordinal uncertainty. Entropy and margin treat "2 or 3" and "0 or 5" alike; the variance of an ordinal model's
  prediction is small for the first and large for the second.

Batches (top-``k`` by uncertainty picks near-copies: melodies of one GA lineage are uncertain for the same reason):

* ``diverse``: uncertainty-weighted clustering (Zhdanov, *Diverse mini-batch Active Learning*, 2019): the
  ``beta * k`` most uncertain by ``variance`` are clustered into ``k`` clusters by k-means (scikit-learn,
  ``sample_weight`` = the variance), and the melody nearest each centre is asked;
* ``coreset``: greedy k-center on the features (Sener and Savarese, *Active Learning for Convolutional Neural
  Networks: A Core-Set Approach*, ICLR 2018): repeatedly the pooled melody farthest (Euclidean, on the features
  standardised over the candidates: each feature counts alike) from every labelled or already chosen one; it needs
  no model;
* ``random``: uniformly at random (the baseline).

Metrics (:func:`ordinal_metrics`), for the predicted rating ``argmax_k p_k``: accuracy, within-one accuracy
(``|predicted - rating| <= 1``) and mean absolute error in rating steps (Gaudette and Japkowicz, *Evaluation
Methods for Ordinal Classification*, 2009).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import KMeans

from .options import STRATEGIES

__all__ = ["UNCERTAINTY", "informativeness", "select", "ordinal_metrics"]

#: The strategies that rank melodies one by one (:func:`informativeness`).
UNCERTAINTY = ("least_confidence", "margin", "entropy", "variance")


def _probabilities(probs: Any) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probs must be (N, C), got shape {p.shape}")
    return p


def informativeness(probs: Any, strategy: str) -> np.ndarray:
    """How uncertain the network is about each melody under ``strategy`` (higher = ask first); float64 (N,).

    Args:
        probs: class probabilities (N, C), rows summing to 1; class k is rating k.
        strategy: one of :data:`UNCERTAINTY`, or ``random`` (zeros: the order comes from :func:`select`).

    Raises:
        ValueError: another strategy, or probs not 2-d.
    """
    p = _probabilities(probs)
    if strategy == "least_confidence":
        return 1.0 - p.max(axis=1)
    if strategy == "margin":
        top = -np.sort(-p, axis=1)
        return -(top[:, 0] - top[:, 1])
    if strategy == "entropy":
        return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=1)
    if strategy == "variance":
        ratings = np.arange(p.shape[1], dtype=np.float64)
        mean = p @ ratings
        return p @ ratings**2 - mean**2
    if strategy == "random":
        return np.zeros(p.shape[0])
    raise ValueError(f"{strategy!r} does not rank melodies one by one; one of {UNCERTAINTY + ('random',)}")


def _ranked(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    order = rng.permutation(scores.shape[0])
    return order[np.argsort(-scores[order], kind="stable")]


def _k_center(x: np.ndarray, labelled: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    chosen: list[int] = []
    if labelled.shape[0]:
        nearest = np.min(((x[:, None, :] - labelled[None, :, :]) ** 2).sum(-1), axis=1)
    else:  # nothing labelled yet: start from a random melody
        chosen.append(int(rng.integers(x.shape[0])))
        nearest = ((x - x[chosen[0]]) ** 2).sum(-1)
    nearest[chosen] = -1.0
    while len(chosen) < min(k, x.shape[0]):
        i = int(np.argmax(nearest))
        chosen.append(i)
        nearest = np.minimum(nearest, ((x - x[i]) ** 2).sum(-1))
        nearest[chosen] = -1.0
    return chosen


def _diverse(x: np.ndarray, scores: np.ndarray, k: int, beta: int, rng: np.random.Generator) -> list[int]:
    top = _ranked(scores, rng)[: beta * k]
    if top.shape[0] <= k:
        return top.tolist()
    weights = np.maximum(scores[top], 1e-9)
    kmeans = KMeans(k, n_init=1, random_state=int(rng.integers(2**31))).fit(x[top], sample_weight=weights)
    chosen: list[int] = []
    distances = ((x[top][:, None, :] - kmeans.cluster_centers_[None]) ** 2).sum(-1)  # (beta k, k)
    for centre in range(k):
        for i in np.argsort(distances[:, centre]):
            if int(top[i]) not in chosen:  # two centres may share a nearest melody
                chosen.append(int(top[i]))
                break
    return chosen


def select(
    probs: Any,
    k: int,
    strategy: str,
    rng: np.random.Generator,
    *,
    features: Any = None,
    labelled: Any = None,
    beta: int = 10,
) -> np.ndarray:
    """Indices (int64, at most ``k``, distinct) of the pool's melodies to ask about, in the order chosen.

    Args:
        probs: the network's class probabilities of the pool (N, C).
        k: batch size.
        strategy: one of :data:`~.options.STRATEGIES` (see the module docstring).
        rng: breaks ties, draws the random batch and seeds k-means.
        features: the pool's features (N, D); required by ``diverse`` and ``coreset``.
        labelled: the labelled melodies' features (M, D), for ``coreset`` (None: none yet).
        beta: ``diverse`` clusters the ``beta * k`` most uncertain melodies.

    Raises:
        ValueError: unknown strategy, probs not 2-d, or features missing or of another length.
    """
    p = _probabilities(probs)
    k = min(max(0, int(k)), p.shape[0])
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; one of {STRATEGIES}")
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    if strategy in ("diverse", "coreset"):
        if features is None:
            raise ValueError(f"strategy {strategy!r} needs the pool's features")
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != p.shape[0]:
            raise ValueError(f"features must be (N={p.shape[0]}, D), got shape {x.shape}")
        if strategy == "coreset":
            known = np.zeros((0, x.shape[1])) if labelled is None else np.asarray(labelled, np.float64)
            mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-3  # every feature counts alike in the distances
            z, known = (x - mean) / scale, (known.reshape(-1, x.shape[1]) - mean) / scale
            return np.array(_k_center(z, known, k, rng), dtype=np.int64)
        return np.array(_diverse(x, informativeness(p, "variance"), k, beta, rng), dtype=np.int64)
    return _ranked(informativeness(p, strategy), rng)[:k].astype(np.int64)


def ordinal_metrics(probs: Any, ratings: Any) -> dict[str, float]:
    """Accuracy, within-one accuracy and mean absolute error of the predicted ratings (argmax of ``probs``).

    Args:
        probs: class probabilities (N, C).
        ratings: the true ratings (N,), ints 0..C-1.

    Returns:
        ``{"accuracy": 0..1, "within_one": 0..1, "mae": rating steps >= 0}`` (NaN each for N = 0).

    Raises:
        ValueError: probs not 2-d or of another length than ratings.
    """
    p = _probabilities(probs)
    y = np.asarray(ratings, dtype=np.int64).reshape(-1)
    if p.shape[0] != y.shape[0]:
        raise ValueError(f"{p.shape[0]} predictions for {y.shape[0]} ratings")
    if y.shape[0] == 0:
        return {"accuracy": float("nan"), "within_one": float("nan"), "mae": float("nan")}
    error = np.abs(p.argmax(axis=1) - y)
    return {"accuracy": float(np.mean(error == 0)), "within_one": float(np.mean(error <= 1)),
            "mae": float(error.mean())}  # fmt: skip
