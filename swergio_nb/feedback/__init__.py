"""Feedback helpers for torch: forward/backward components connected by DATA/FORWARD and DATA/GRADIENT messages.

See :mod:`.components` for how the backward path splits reverse-mode differentiation at message boundaries.
"""

from __future__ import annotations

from .components import (
    FunctionComponent,
    ModuleComponent,
    PendingMemory,
    PendingStats,
    as_tensor,
    loss_and_gradient,
)

__all__ = ["PendingMemory", "PendingStats", "FunctionComponent", "ModuleComponent", "loss_and_gradient", "as_tensor"]
