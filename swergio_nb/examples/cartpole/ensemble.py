"""The aggregation maths of the ensemble (sans-I/O: plain numpy, no sockets, no torch).

N models each propose action logits for a batch of B observations. As in swergio's RLGym example
(``03_aggregation.py``), the ensemble's distribution is the **sum of the models' action probabilities**, normalised,
i.e. the uniform mixture ``mu(a|s) = (1/N) sum_i pi_i(a|s)``; the action is sampled from it (training) or its argmax
is taken (greedy evaluation). Each model is then credited with its **share of the chosen action's probability**,
``c_i = pi_i(a|s) / sum_j pi_j(a|s)``: the shares of one step sum to 1.

The share is also model i's importance ratio against the mixture it did not choose alone:
``pi_i(a|s) / mu(a|s) = N * c_i`` (see :mod:`~swergio_nb.examples.cartpole.a2c`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["softmax", "aggregate", "choose_actions", "contributions", "Aggregation", "combine"]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed in float64 with the maximum subtracted (no overflow).

    Args:
        logits: array (..., A) of unnormalised log-probabilities; must be finite.

    Returns:
        float64 array (..., A) of probabilities summing to 1 along the last axis.

    Raises:
        ValueError: ``logits`` has no action axis or holds NaN or infinities.
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim < 1 or z.shape[-1] < 1:
        raise ValueError(f"logits need an action axis, got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits must be finite")
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def aggregate(logits: np.ndarray) -> np.ndarray:
    """Per-model probabilities of a stack of logits.

    Args:
        logits: array (N, B, A): N models, B observations, A actions.

    Returns:
        float64 array (N, B, A) of each model's action probabilities. Their sum over models, (B, A), is the
        ensemble's unnormalised distribution (it sums to N per observation).

    Raises:
        ValueError: not three-dimensional, empty, or not finite.
    """
    z = np.asarray(logits)
    if z.ndim != 3 or 0 in z.shape:
        raise ValueError(f"logits must have shape (models, batch, actions) with no empty axis, got {z.shape}")
    return softmax(z)


def choose_actions(summed: np.ndarray, *, greedy: bool, rng: np.random.Generator | None = None) -> np.ndarray:
    """Pick one action per observation from the summed probabilities.

    Args:
        summed: array (B, A), the models' probabilities summed over models (non-negative, positive row sums).
        greedy: True takes the argmax (ties: the lowest action index); False samples from the normalised rows.
        rng: the generator used when sampling (required unless ``greedy``).

    Returns:
        int64 array (B,) of action indices.

    Raises:
        ValueError: bad shape, or sampling without ``rng``.
    """
    p = np.asarray(summed, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"summed probabilities must have shape (batch, actions), got {p.shape}")
    if greedy:
        return p.argmax(axis=1).astype(np.int64)
    if rng is None:
        raise ValueError("sampling actions needs a random generator")
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(p.shape[0])
    # first action whose cumulative probability exceeds u (the last one if rounding leaves cdf[-1] < u)
    return np.minimum((u[:, None] >= cdf).sum(axis=1), p.shape[1] - 1).astype(np.int64)


def contributions(probs: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Each model's share of the chosen action's probability: ``c_i = pi_i(a) / sum_j pi_j(a)``.

    Args:
        probs: array (N, B, A) of the models' probabilities (from :func:`aggregate`).
        actions: int array (B,) of the chosen actions.

    Returns:
        float64 array (N, B); every column sums to 1.

    Raises:
        ValueError: shapes do not match or an action is out of range.
    """
    p = np.asarray(probs, dtype=np.float64)
    a = np.asarray(actions)
    if p.ndim != 3 or a.shape != (p.shape[1],):
        raise ValueError(f"probs (N, B, A) and actions (B,) do not match: {p.shape} and {a.shape}")
    if a.size and (a.min() < 0 or a.max() >= p.shape[2]):
        raise ValueError(f"actions must be in [0, {p.shape[2]}), got {a.min()}..{a.max()}")
    chosen = p[:, np.arange(p.shape[1]), a]  # (N, B)
    return chosen / chosen.sum(axis=0, keepdims=True)


class Aggregation:
    """Result of :func:`combine`: the actions (B,) int64, the shares (N, B) float64 and the mixture's probability
    of each chosen action ``mu(a|s)`` (B,) float64."""

    __slots__ = ("actions", "shares", "behaviour_probs")

    def __init__(self, actions: np.ndarray, shares: np.ndarray, behaviour_probs: np.ndarray) -> None:
        self.actions = actions
        self.shares = shares
        self.behaviour_probs = behaviour_probs


def combine(logits: np.ndarray, *, greedy: bool, rng: np.random.Generator | None = None) -> Aggregation:
    """Aggregate N models' logits (N, B, A), pick the actions and credit the models (see the module docstring)."""
    probs = aggregate(logits)
    summed = probs.sum(axis=0)
    actions = choose_actions(summed, greedy=greedy, rng=rng)
    n = probs.shape[0]
    mixture = summed[np.arange(summed.shape[0]), actions] / n
    return Aggregation(actions, contributions(probs, actions), mixture)
