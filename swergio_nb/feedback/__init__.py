"""Feedback helpers for torch: forward/backward components connected by DATA/FORWARD and DATA/GRADIENT messages.

See :mod:`.components` for how the backward path splits reverse-mode differentiation at message boundaries,
:mod:`.commands` for how a model's state and settings leave and come back (by message or file), and :mod:`.inputs`
for optimising a process's inputs by the gradients that come back (control problems).
"""

from __future__ import annotations

from .commands import (
    STATE_FORMAT,
    ModelCommands,
    SettingsError,
    StateError,
    load_file,
    load_state,
    read_state,
    save_file,
    save_state,
    write_state,
)
from .components import (
    FunctionComponent,
    ModuleComponent,
    PendingMemory,
    PendingStats,
    as_tensor,
    loss_and_gradient,
)
from .inputs import InputOptimization, InputOptimizer, Objective

__all__ = [
    "PendingMemory",
    "PendingStats",
    "FunctionComponent",
    "ModuleComponent",
    "loss_and_gradient",
    "as_tensor",
    "ModelCommands",
    "StateError",
    "SettingsError",
    "STATE_FORMAT",
    "save_state",
    "load_state",
    "save_file",
    "load_file",
    "write_state",
    "read_state",
    "InputOptimizer",
    "InputOptimization",
    "Objective",
]
