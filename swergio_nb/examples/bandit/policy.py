"""Contextual bandit policies over per-action ridge regressions (numpy), trained in batches.

Every policy chooses an action for a context and returns the probability it had of choosing it (the
**propensity**), which the serving side logs with the decision:

* :class:`LinUCB` (disjoint LinUCB, Li, Chu, Langford & Schapire, "A Contextual-Bandit Approach to Personalized
  News Article Recommendation", WWW 2010, Algorithm 1), with an optional uniform exploration floor ``explore``
  (as Personalizer's exploration percentage) so every action keeps a propensity >= explore / K;
* :class:`EpsilonGreedy`: the greedy action of the same ridge model with probability 1 - epsilon, else uniform;
* :class:`UniformRandom`: every action with probability 1 / K (learns nothing).

The model of each action a is the ridge regression of reward on context: ``A_a = lambda I + sum x x^T``,
``b_a = sum r x``, ``theta_a = A_a^-1 b_a``. ``A`` (K, d, d) and ``b`` (K, d) are sufficient statistics, so a batch
update is a sum and the weights a trainer pushes to the server are these two float64 arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RidgeArms", "LinUCB", "EpsilonGreedy", "UniformRandom", "make_policy", "POLICIES"]


class RidgeArms:
    """Per-action ridge regression: the shared model of :class:`LinUCB` and :class:`EpsilonGreedy`.

    Args:
        n_actions: K >= 2.
        dim: context dimension d >= 1.
        ridge: lambda > 0, the prior precision (A starts at lambda I).

    Raises:
        ValueError: bad sizes.
    """

    def __init__(self, n_actions: int, dim: int, ridge: float = 1.0) -> None:
        if n_actions < 2 or dim < 1 or not ridge > 0:
            raise ValueError(f"need n_actions >= 2, dim >= 1, ridge > 0; got {n_actions}, {dim}, {ridge}")
        self.n_actions = n_actions
        self.dim = dim
        self.ridge = float(ridge)
        self.A = np.tile(np.eye(dim) * self.ridge, (n_actions, 1, 1))
        self.b = np.zeros((n_actions, dim))
        self.version = 0  #: number of batch updates (or of the weights loaded)
        self.trained_events = 0  #: events the statistics include
        self._refresh()

    def _refresh(self, arms: np.ndarray | None = None) -> None:
        """Recompute A^-1 and theta (of ``arms`` only, if given)."""
        if arms is None:
            self.A_inv = np.linalg.inv(self.A)
            self.theta = np.einsum("kij,kj->ki", self.A_inv, self.b)
        elif len(arms):
            self.A_inv[arms] = np.linalg.inv(self.A[arms])
            self.theta[arms] = np.einsum("kij,kj->ki", self.A_inv[arms], self.b[arms])

    def update(self, contexts: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Add a batch: contexts (n, d), actions (n,) ints in [0, K), rewards (n,) floats.

        Raises:
            ValueError: shapes disagree or an action is out of range (the model is left unchanged).
        """
        x = np.asarray(contexts, dtype=np.float64).reshape(-1, self.dim)
        a = np.asarray(actions, dtype=np.int64).reshape(-1)
        r = np.asarray(rewards, dtype=np.float64).reshape(-1)
        if not len(x) == len(a) == len(r):
            raise ValueError(f"batch sizes disagree: {len(x)} contexts, {len(a)} actions, {len(r)} rewards")
        if len(a) and (a.min() < 0 or a.max() >= self.n_actions):
            raise ValueError(f"actions must be in [0, {self.n_actions}), got {a.min()}..{a.max()}")
        arms = np.unique(a)
        for k in arms:
            xk = x[a == k]
            self.A[k] += xk.T @ xk
            self.b[k] += r[a == k] @ xk
        self.version += 1
        self.trained_events += len(a)
        self._refresh(arms)

    def get_weights(self) -> dict[str, Any]:
        """``{"A": (K, d, d) float64, "b": (K, d) float64, "version": int, "trained_events": int}`` (copies)."""
        return {"A": self.A.copy(), "b": self.b.copy(), "version": self.version, "trained_events": self.trained_events}

    def set_weights(self, weights: dict[str, Any]) -> None:
        """Load what :meth:`get_weights` returned (e.g. pushed by a trainer over the hub).

        Raises:
            ValueError: an array has the wrong shape (the model is left unchanged).
        """
        a_new = np.asarray(weights["A"], dtype=np.float64)
        b = np.asarray(weights["b"], dtype=np.float64)
        if a_new.shape != self.A.shape or b.shape != self.b.shape:
            raise ValueError(f"weights of shape {a_new.shape}, {b.shape}; expected {self.A.shape}, {self.b.shape}")
        self.A, self.b = a_new.copy(), b.copy()
        self.version = int(weights.get("version", self.version + 1))
        self.trained_events = int(weights.get("trained_events", self.trained_events))
        self._refresh()


def _choose(scores: np.ndarray, explore: float, rng: np.random.Generator) -> tuple[int, float]:
    """Argmax with uniform tie-breaking, mixed with uniform exploration; returns (action, propensity)."""
    k = len(scores)
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    action = int(rng.integers(k)) if explore > 0 and rng.random() < explore else int(rng.choice(best))
    greedy = (1.0 - explore) / len(best) if action in best else 0.0
    return action, greedy + explore / k


class LinUCB(RidgeArms):
    """Disjoint LinUCB: score_a = theta_a . x + alpha sqrt(x^T A_a^-1 x) (Li et al. 2010, Algorithm 1).

    Args:
        n_actions, dim, ridge: see :class:`RidgeArms`.
        alpha: width of the confidence bonus.
        explore: probability of a uniform action instead of the UCB one, in [0, 1).
    """

    name = "linucb"

    def __init__(self, n_actions: int, dim: int, ridge: float = 1.0, *, alpha: float = 1.0, explore: float = 0.0):
        super().__init__(n_actions, dim, ridge)
        if not 0 <= explore < 1:
            raise ValueError(f"explore must be in [0, 1), got {explore}")
        self.alpha = float(alpha)
        self.explore = float(explore)

    def decide(self, context: np.ndarray, rng: np.random.Generator) -> tuple[int, float]:
        """(action, propensity) for a context (d,)."""
        x = np.asarray(context, dtype=np.float64)
        bonus = np.sqrt(np.maximum((self.A_inv @ x) @ x, 0.0))
        return _choose(self.theta @ x + self.alpha * bonus, self.explore, rng)


class EpsilonGreedy(RidgeArms):
    """epsilon-greedy over the ridge model: the greedy action w.p. 1 - epsilon, a uniform one w.p. epsilon.

    Args:
        n_actions, dim, ridge: see :class:`RidgeArms`.
        epsilon: exploration probability in (0, 1].
    """

    name = "egreedy"

    def __init__(self, n_actions: int, dim: int, ridge: float = 1.0, *, epsilon: float = 0.1):
        super().__init__(n_actions, dim, ridge)
        if not 0 < epsilon <= 1:
            raise ValueError(f"epsilon must be in (0, 1], got {epsilon}")
        self.epsilon = float(epsilon)

    def decide(self, context: np.ndarray, rng: np.random.Generator) -> tuple[int, float]:
        """(action, propensity) for a context (d,)."""
        return _choose(self.theta @ np.asarray(context, dtype=np.float64), self.epsilon, rng)


class UniformRandom(RidgeArms):
    """Every action with probability 1/K; updates are accepted (and counted) but never change a decision."""

    name = "uniform"

    def decide(self, context: np.ndarray, rng: np.random.Generator) -> tuple[int, float]:
        """(action, 1/K)."""
        return int(rng.integers(self.n_actions)), 1.0 / self.n_actions


POLICIES = {"linucb": LinUCB, "egreedy": EpsilonGreedy, "uniform": UniformRandom}


def make_policy(name: str, n_actions: int, dim: int, **kwargs: Any) -> RidgeArms:
    """A policy by name (``linucb``, ``egreedy``, ``uniform``); kwargs its policy's own options.

    Raises:
        ValueError: unknown name.
    """
    try:
        cls = POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of {sorted(POLICIES)}") from None
    return cls(n_actions, dim, **kwargs)
