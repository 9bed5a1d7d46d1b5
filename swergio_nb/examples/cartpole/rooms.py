"""Names and constants of the CartPole example: rooms, components, models, the environment id (no heavy imports)."""

from __future__ import annotations

__all__ = [
    "OBSERVATION_ROOM",
    "LOGITS_ROOM",
    "ACTION_ROOM",
    "SCORES_ROOM",
    "ENVIRONMENT",
    "AGGREGATOR",
    "EVOLUTION",
    "model_names",
    "ENV_ID",
    "SOLVED_RETURN",
]

#: environment -> models: first observations (DATA/FORWARD) and rewards with the next observations (DATA/REWARD).
OBSERVATION_ROOM = "observation"
#: models -> aggregator: action logits (DATA/FORWARD), one message per model per step.
LOGITS_ROOM = "logits"
#: aggregator -> environment and models: the chosen actions and each model's contribution share (DATA/FORWARD).
ACTION_ROOM = "action"
#: environment -> whoever plots: episode returns as LOG/KPI.
SCORES_ROOM = "scores"

#: The environment (gymnasium's classic-control CartPole, episodes truncated at 500 steps).
ENV_ID = "CartPole-v1"
#: Mean return over consecutive episodes at which CartPole-v1 counts as solved (gymnasium's ``reward_threshold``).
SOLVED_RETURN = 475.0

ENVIRONMENT = "environment"
AGGREGATOR = "aggregator"
EVOLUTION = "evolution"


def model_names(n: int) -> list[str]:
    """``["model-0", ..., "model-{n-1}"]``.

    Raises:
        ValueError: ``n`` < 1.
    """
    if n < 1:
        raise ValueError(f"the ensemble needs at least one model, got {n}")
    return [f"model-{i}" for i in range(n)]
