"""Models leave and come back: a :class:`~.components.ModuleComponent`'s state and settings, by message or file.

**The state** of a component is one dict (:func:`save_state`), the same in a message and in a file:

==============  ========================================================================================
field           value
==============  ========================================================================================
``FORMAT``      int, :data:`STATE_FORMAT` (1)
``WEIGHTS``     ``module.state_dict()``: parameter or buffer name -> numpy array of the tensor's shape and
                dtype (bfloat16 is widened to float32, exactly)
``OPTIMIZER``   ``optimizer.state_dict()`` keyed by parameter *name* instead of index:
                ``{"state": {name: {"step": array (), "exp_avg": array like the parameter, ...}},
                "param_groups": [{"lr": float, "betas": [float, float], ..., "params": [name, ...]}]}``
``SCHEDULER``   ``scheduler.state_dict()`` (only if the component has a scheduler)
``STEPS``       int, optimizer steps taken (:attr:`ModuleComponent.steps`)
==============  ========================================================================================

Tensors become numpy arrays (a binary msgpack frame carries them bit for bit) and tuples become lists. Names, not
torch's indices, key the optimizer state: JSON turns int keys into strings while msgpack keeps them, but a string
is a string in both, and a moment cannot land on the wrong parameter. :func:`load_state` turns it all back, using
the component's own optimizer and scheduler state as the template of types (a list where the optimizer holds a
tuple becomes a tuple again, an array the dtype of the tensor it replaces), so a save and a load give back an equal
``state_dict()`` and the same next step; nested lists of numbers (a JSON client's arrays) do as well as arrays.

**Loading is strict and all-or-nothing**: everything is checked before anything changes, and a refusal
(:class:`StateError`) leaves the component as it was. Refused: a weight missing or unexpected (named), a shape that
differs, a float array for an integer buffer, a parameter group stepping other parameters, optimizer state for a
parameter the optimizer does not step or with other keys or shapes than the optimizer's own, scheduler state with
other keys, a ``FORMAT`` other than 1. Dtypes are cast to the component's, as ``load_state_dict`` does, but only
up the order bool < int < float < complex (float64 into float32 or int into float, never float into int).
``WEIGHTS`` is required; without ``OPTIMIZER`` the optimizer starts afresh (its state, e.g. Adam's moments, is
dropped; learning rates and other hyperparameters stay), without ``SCHEDULER`` or ``STEPS`` those stay as they are.
Other keys are ignored, so a ``LOG/MODELWEIGHTS`` message loads as it is. Forward passes still waiting for their
gradient are dropped (``pending.stats.cleared``): their graphs hold the old weights.

**The file** (:func:`save_file`, :func:`load_file`) is ``torch.save`` of the state with the arrays as tensors, read
back with ``torch.load(weights_only=True)`` (no arbitrary pickles). A plain ``module.state_dict()`` file, as
``swergio-nb demo trebuchet`` wrote before, loads too: weights only, fresh optimizer state.

**Commands** (:class:`ModelCommands`), each addressed to the component by name (``TO``) and answered to its sender
with ``REPLY_TO`` = the command's ``ID``, so ``await client.request(...)`` returns the answer, or raises
:class:`~swergio_nb.exceptions.PeerError` with the refusal's code and detail:

=============================  ===========================================================================
command                        answer
=============================  ===========================================================================
``COMMAND/SAVEMODELWEIGHTS``   ``LOG/MODELWEIGHTS``: the state's fields and ``COMPONENT`` (the name)
``COMMAND/LOADMODELWEIGHTS``   the state's fields -> ``COMMAND/ACK`` (``COMPONENT``, ``STEPS``), or
                               ``LOG/ERROR`` ``ERROR`` = ``"bad-weights"``, ``DETAIL`` = why
``COMMAND/SAVESETTINGS``       ``LOG/SETTINGS``: ``SETTINGS`` (name -> JSON value), ``LIVE`` (names
                               ``COMMAND/LOADSETTINGS`` may change), ``COMPONENT``
``COMMAND/LOADSETTINGS``       ``SETTINGS`` (name -> new value) -> ``LOG/SETTINGS`` with the new settings, or
                               ``LOG/ERROR`` ``ERROR`` = ``"bad-settings"``
=============================  ===========================================================================

Example::

    component = ModuleComponent(network, torch.optim.Adam(network.parameters(), lr=options.lr))
    component.attach(client, input_room="input", output_room="aim")
    ModelCommands(component, settings=options).attach(client)  # options: a dataclass of JSON values
    load_file(component, "model.pt")  # resume (or: save_file(component, "model.pt"))
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Mapping
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..exceptions import SwergioError
from ..protocol.limits import MAX_DETAIL_LENGTH
from ..protocol.messages import MessageType
from .components import ModuleComponent

if TYPE_CHECKING:
    from ..transport.client import Client, Handler

__all__ = [
    "STATE_FORMAT",
    "StateError",
    "SettingsError",
    "save_state",
    "write_state",
    "read_state",
    "STATE_FIELDS",
    "load_state",
    "save_file",
    "load_file",
    "ModelCommands",
]

#: Version of the state layout written by :func:`save_state` (the ``FORMAT`` field).
STATE_FORMAT = 1
#: The fields of a state (in a message and in a file); a message's other fields are not part of it.
STATE_FIELDS = ("FORMAT", "WEIGHTS", "OPTIMIZER", "SCHEDULER", "STEPS")


class StateError(SwergioError, ValueError):
    """A state (weights, optimizer, scheduler, steps) that does not fit the component; nothing was loaded."""


class SettingsError(SwergioError, ValueError):
    """Settings that cannot be applied (unknown, not changeable while running, or a bad value); none were."""


# -- state ------------------------------------------------------------------------------------------------------


def save_state(component: ModuleComponent) -> dict[str, Any]:
    """The component's state, as the module docstring's table describes (arrays are copies).

    Args:
        component: the component to save; its :attr:`~ModuleComponent.lock` is held while reading.

    Returns:
        ``{"FORMAT", "WEIGHTS", "OPTIMIZER", "STEPS"}`` and ``"SCHEDULER"`` if the component has one.
    """
    with component.lock:
        names = _parameter_names(component)
        optimizer = component.optimizer.state_dict()
        state: dict[str, Any] = {
            "FORMAT": STATE_FORMAT,
            "WEIGHTS": _to_wire(component.module.state_dict()),
            "OPTIMIZER": {
                "state": {names[i]: _to_wire(entry) for i, entry in optimizer["state"].items()},
                "param_groups": [
                    {
                        **_to_wire({k: v for k, v in group.items() if k != "params"}),
                        "params": [names[i] for i in group["params"]],
                    }
                    for group in optimizer["param_groups"]
                ],
            },
            "STEPS": component.steps,
        }
        if component.scheduler is not None:
            state["SCHEDULER"] = _to_wire(component.scheduler.state_dict())
    return state


def load_state(component: ModuleComponent, state: Mapping[str, Any]) -> None:
    """Load a state from :func:`save_state` (arrays or tensors), or a plain ``module.state_dict()``.

    All or nothing: see the module docstring for what is checked and what an absent field means.

    Args:
        component: the component to load into; its :attr:`~ModuleComponent.lock` is held throughout.
        state: the state's fields (other keys are ignored); a mapping without ``WEIGHTS`` is taken as a plain
            ``state_dict()`` of the module (weights only, fresh optimizer state).

    Raises:
        StateError: the state does not fit; the component is unchanged.
    """
    if not isinstance(state, Mapping):
        raise StateError(f"a state must be a mapping, got {type(state).__name__}")
    if "WEIGHTS" not in state:
        state = {"WEIGHTS": state}
    if state.get("FORMAT", STATE_FORMAT) != STATE_FORMAT:
        raise StateError(f"FORMAT {state['FORMAT']!r} is not {STATE_FORMAT}, the only state format this version reads")
    with component.lock:
        weights = _check_weights(component, state["WEIGHTS"])
        optimizer = _check_optimizer(component, state["OPTIMIZER"]) if "OPTIMIZER" in state else None
        scheduler = _check_scheduler(component, state["SCHEDULER"]) if "SCHEDULER" in state else None
        steps = state.get("STEPS", component.steps)
        if type(steps) is not int or steps < 0:
            raise StateError(f"STEPS must be a non-negative int, got {steps!r}")
        # everything fits: nothing below refuses
        component.module.load_state_dict(weights)
        if optimizer is None:
            component.optimizer.state.clear()
        else:
            component.optimizer.load_state_dict(optimizer)
        if scheduler is not None:
            component.scheduler.load_state_dict(scheduler)
        component.steps = steps
        component.pending.clear()


def save_file(component: ModuleComponent, path: str | os.PathLike[str]) -> None:
    """Write the component's state to ``path`` (``torch.save`` of :func:`save_state` with tensors for arrays)."""
    write_state(save_state(component), path)


def write_state(state: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a state to ``path`` as :func:`save_file` does: a :func:`save_state` dict, or the ``LOG/MODELWEIGHTS``
    answer of a component in another process (only the fields of :data:`STATE_FIELDS` are kept)."""
    torch.save(_map_arrays({k: v for k, v in state.items() if k in STATE_FIELDS}, _saved), path)


def read_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state in a file of :func:`write_state` / :func:`save_file` as a message carries it (numpy arrays), e.g.
    to hand it to a component in another process: ``{"TYPE": "COMMAND/LOADMODELWEIGHTS", "TO": name, **state}``.

    Raises:
        OSError: the file cannot be read.
        pickle.UnpicklingError: the file holds more than tensors and plain containers.
    """
    return _to_wire(torch.load(path, map_location="cpu", weights_only=True))


def load_file(component: ModuleComponent, path: str | os.PathLike[str]) -> None:
    """Load a file of :func:`save_file`, or of ``torch.save(module.state_dict())`` (weights only).

    Raises:
        StateError: the file's state does not fit (the component is unchanged).
        OSError: the file cannot be read.
        pickle.UnpicklingError: the file holds more than tensors and plain containers.
    """
    load_state(component, torch.load(path, map_location="cpu", weights_only=True))


def _parameter_names(component: ModuleComponent) -> list[str]:
    """Names of the optimizer's parameters in the order of its indices; ``#i`` for one the module does not own."""
    named = {id(p): name for name, p in component.module.named_parameters()}
    params = [p for group in component.optimizer.param_groups for p in group["params"]]
    return [named.get(id(p), f"#{i}") for i, p in enumerate(params)]


def _array(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16; float32 holds every value exactly
        tensor = tensor.float()
    return tensor.numpy().copy()


def _to_wire(value: Any) -> Any:
    """Tensors as numpy arrays, tuples as lists, mappings as dicts, recursively."""
    if isinstance(value, torch.Tensor):
        return _array(value)
    if isinstance(value, Mapping):
        return {k: _to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_wire(v) for v in value]
    return value


def _saved(array: np.ndarray) -> torch.Tensor:
    """A received (read-only) array as a tensor of its own, for ``torch.save``."""
    return torch.from_numpy(np.array(array))


def _map_arrays(value: Any, fn: Callable[[np.ndarray], Any]) -> Any:
    if isinstance(value, np.ndarray):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_arrays(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_arrays(v, fn) for v in value]
    return value


_KIND_ORDER = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _kind(dtype: torch.dtype) -> str:
    if dtype == torch.bool:
        return "b"
    return "c" if dtype.is_complex else "f" if dtype.is_floating_point else "i"


def _tensor(
    where: str, value: Any, shape: tuple[int, ...] | None = None, like: torch.dtype | None = None
) -> torch.Tensor:
    """``value`` (tensor, array or nested lists of numbers) as a CPU tensor, checked against ``shape``, and cast to
    ``like`` if that goes up the order bool < int < float < complex (refused if it would go down)."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
    else:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise StateError(f"{where}: not an array ({exc})") from None
        if array.dtype.kind not in _KIND_ORDER:
            raise StateError(f"{where}: arrays of dtype {array.dtype} cannot be loaded (numeric and bool only)")
        if not array.dtype.isnative or not array.flags.writeable:
            array = array.astype(array.dtype.newbyteorder("="))  # a native, writable copy
        tensor = torch.from_numpy(array)
    if shape is not None and tuple(tensor.shape) != shape:
        raise StateError(f"{where}: shape {tuple(tensor.shape)} does not fit {shape}")
    if like is None or tensor.dtype == like:
        return tensor
    if _KIND_ORDER[_kind(tensor.dtype)] > _KIND_ORDER[_kind(like)]:
        raise StateError(f"{where}: {tensor.dtype} values cannot be loaded into {like}")
    return tensor.to(like)


def _like(where: str, value: Any, template: Any) -> Any:
    """``value`` checked against, and given the types of, ``template`` (the component's own state)."""
    if isinstance(template, torch.Tensor):
        return _tensor(where, value, tuple(template.shape), template.dtype)
    if isinstance(template, bool):
        if not isinstance(value, bool):
            raise StateError(f"{where}: expected a bool, got {_brief(value)}")
        return value
    if isinstance(template, Real):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise StateError(f"{where}: expected a number, got {type(value).__name__}")
        return value
    if isinstance(template, str):
        if not isinstance(value, str):
            raise StateError(f"{where}: expected a string, got {type(value).__name__}")
        return value
    if isinstance(template, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(template):
            raise StateError(f"{where}: expected a list of {len(template)}, got {_brief(value)}")
        return type(template)(
            _like(f"{where}[{i}]", v, t) for i, (v, t) in enumerate(zip(value, template, strict=True))
        )
    if isinstance(template, Mapping):
        if not isinstance(value, Mapping) or set(value) != set(template):
            keys = sorted(map(str, value)) if isinstance(value, Mapping) else _brief(value)
            raise StateError(f"{where}: expected the keys {sorted(map(str, template))}, got {keys}")
        return {k: _like(f"{where}[{k!r}]", value[k], t) for k, t in template.items()}
    return _loose(where, value)  # None or a type torch leaves open


def _loose(where: str, value: Any) -> Any:
    """``value`` with its arrays as tensors (what a template cannot check)."""
    return _map_arrays(value, lambda array: _tensor(where, array))


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_weights(component: ModuleComponent, weights: Any) -> dict[str, torch.Tensor]:
    if not isinstance(weights, Mapping):
        raise StateError(f"WEIGHTS must map names to arrays, got {type(weights).__name__}")
    expected = component.module.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [str(k) for k in weights if k not in expected]
    if missing or unexpected:
        raise StateError(f"WEIGHTS do not fit the module: missing {missing}, unexpected {unexpected}")
    return {k: _tensor(f"WEIGHTS[{k!r}]", weights[k], tuple(t.shape), t.dtype) for k, t in expected.items()}


def _check_optimizer(component: ModuleComponent, saved: Any) -> dict[str, Any]:
    """The saved optimizer state in torch's form for this optimizer (indices for names), checked."""
    if not (isinstance(saved, Mapping) and isinstance(saved.get("state"), Mapping)):
        raise StateError("OPTIMIZER must be {'state': {name: {...}}, 'param_groups': [...]}")
    groups = saved.get("param_groups")
    current = component.optimizer.state_dict()
    if not isinstance(groups, list) or len(groups) != len(current["param_groups"]):
        raise StateError(f"OPTIMIZER param_groups must be a list of {len(current['param_groups'])} groups")
    names = _parameter_names(component)
    param_groups = []
    for i, (group, now) in enumerate(zip(groups, current["param_groups"], strict=True)):
        wanted = [names[j] for j in now["params"]]
        if not isinstance(group, Mapping) or group.get("params") != wanted:
            got = group.get("params") if isinstance(group, Mapping) else group
            raise StateError(f"OPTIMIZER param group {i} steps {_brief(got)}, this optimizer's steps {wanted}")
        where = f"OPTIMIZER param group {i}"
        restored = {
            k: _like(f"{where}[{k!r}]", v, now[k]) if k in now else _loose(where, v)
            for k, v in group.items()
            if k != "params"
        }
        param_groups.append({**restored, "params": now["params"]})
    index = {name: i for i, name in enumerate(names)}
    params = [p for group in component.optimizer.param_groups for p in group["params"]]
    state = {}
    for name, entry in saved["state"].items():
        i = index.get(name)
        if i is None:
            raise StateError(f"OPTIMIZER state for {name!r}, which is not a parameter this optimizer steps: {names}")
        where = f"OPTIMIZER state[{name!r}]"
        now = current["state"].get(i)
        if now is not None:
            state[i] = _like(where, entry, now)
        elif isinstance(entry, Mapping):  # a fresh optimizer has no template: tensors are per parameter or scalars
            state[i] = {k: _fresh(f"{where}[{k!r}]", v, params[i]) for k, v in entry.items()}
        else:
            raise StateError(f"{where} must map names to values, got {_brief(entry)}")
    return {"state": state, "param_groups": param_groups}


def _fresh(where: str, value: Any, param: torch.Tensor) -> Any:
    if not isinstance(value, (np.ndarray, torch.Tensor)):
        return _loose(where, value)
    tensor = _tensor(where, value)
    if tensor.dim() and tuple(tensor.shape) != tuple(param.shape):
        raise StateError(f"{where}: shape {tuple(tensor.shape)} is neither the parameter's {tuple(param.shape)} nor ()")
    return tensor


def _check_scheduler(component: ModuleComponent, saved: Any) -> dict[str, Any]:
    if component.scheduler is None:
        raise StateError("SCHEDULER given, but the component has no scheduler")
    return _like("SCHEDULER", saved, component.scheduler.state_dict())


# -- settings and commands --------------------------------------------------------------------------------------


class ModelCommands:
    """Answers the model commands of the module docstring for one :class:`~.components.ModuleComponent`.

    Settings are the component's options (JSON values), plus ``lr``: the base learning rate, a float (or a list,
    one per parameter group, if the groups differ), read from the optimizer (or the scheduler's ``base_lrs``) when
    asked. ``COMMAND/LOADSETTINGS`` changes settings that can change while the component runs: ``lr`` (with a
    scheduler, each group's current rate is scaled by new base / old base, so the schedule goes on from the new
    base) and the names in ``live``. A name that is neither an option nor ``lr`` is refused as unknown; an option
    that is not live is refused unless its value is unchanged (so settings saved, edited and loaded back work).
    All or nothing: names and ``lr`` are checked first; if a ``live`` setter refuses, those already applied are set
    back to their old values.

    Args:
        component: the component whose state and settings are served.
        settings: its options: a dataclass instance or a mapping of JSON values (copied; never modified).
        live: option name -> setter, for options besides ``lr`` that may change while running. A setter is
            called with the new value (holding the component's lock), returns the value as applied (None: as
            given) and raises ``ValueError`` or ``TypeError`` to refuse it, before changing anything.
        name: the ``COMPONENT`` field of answers; :meth:`attach` fills it with the client's name if None.

    Raises:
        TypeError: ``settings`` is neither a dataclass instance nor a mapping, or holds values JSON cannot carry;
            a name in ``live`` is not an option, or is ``lr``.
    """

    #: The commands :meth:`handle` answers.
    COMMANDS = (
        MessageType.COMMAND_SAVEMODELWEIGHTS,
        MessageType.COMMAND_LOADMODELWEIGHTS,
        MessageType.COMMAND_SAVESETTINGS,
        MessageType.COMMAND_LOADSETTINGS,
    )

    def __init__(
        self,
        component: ModuleComponent,
        *,
        settings: Any = None,
        live: Mapping[str, Callable[[Any], Any]] | None = None,
        name: str | None = None,
    ) -> None:
        if settings is None:
            options: dict[str, Any] = {}
        elif dataclasses.is_dataclass(settings) and not isinstance(settings, type):
            options = dataclasses.asdict(settings)
        elif isinstance(settings, Mapping):
            options = dict(settings)
        else:
            raise TypeError(f"settings must be a dataclass instance or a mapping, got {type(settings).__name__}")
        try:
            self._options: dict[str, Any] = json.loads(json.dumps(options, allow_nan=True))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"settings must hold JSON values: {exc}") from None
        live = dict(live or {})
        if not set(live) <= set(self._options) - {"lr"}:
            raise TypeError(
                f"live settings must be options other than lr, got {sorted(set(live) - set(self._options))}"
            )
        self.component = component
        self.live: dict[str, Callable[[Any], Any]] = {**live, "lr": self._set_lr}
        self.name = name

    @property
    def settings(self) -> dict[str, Any]:
        """The current settings: the options, changes made since, and ``lr`` as the optimizer has it."""
        with self.component.lock:
            lrs = _base_lrs(self.component)
        return {**self._options, "lr": lrs[0] if len(set(lrs)) == 1 else lrs}

    def update_settings(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply ``changes`` (name -> new value) all or nothing, as the class docstring says.

        Returns:
            The settings after the change (:attr:`settings`).

        Raises:
            SettingsError: a name is unknown or cannot change while running, or a value is refused; nothing changed.
        """
        if not isinstance(changes, Mapping):
            raise SettingsError(f"SETTINGS must map names to values, got {type(changes).__name__}")
        current = self.settings
        unknown = [str(k) for k in changes if k not in current]  # (every live name is a setting)
        if unknown:
            raise SettingsError(f"unknown settings {unknown}; known: {sorted(current)}")
        fixed = [k for k, v in changes.items() if k not in self.live and v != current[k]]
        if fixed:
            raise SettingsError(f"settings {fixed} cannot change while the component runs; live: {sorted(self.live)}")
        changes = {k: v for k, v in changes.items() if k in self.live}
        if "lr" in changes:
            self._lrs(changes["lr"])  # a bad rate is refused before anything changes
        applied: list[str] = []
        with self.component.lock:
            for key in sorted(changes, key=lambda k: k == "lr"):  # the rate, checked already, last
                try:
                    self._apply(key, changes[key])
                except (TypeError, ValueError) as exc:
                    for done in reversed(applied):
                        self._apply(done, current[done])
                    raise SettingsError(f"setting {key!r} to {_brief(changes[key])} was refused: {exc}") from None
                applied.append(key)
        return self.settings

    def _apply(self, key: str, value: Any) -> None:
        result = self.live[key](value)
        if key != "lr":  # the rate is read from the optimizer
            self._options[key] = value if result is None else result

    def _lrs(self, value: Any) -> list[float]:
        """``value`` as one learning rate per parameter group: a number (all groups) or a list of them."""
        count = len(self.component.optimizer.param_groups)
        values = value if isinstance(value, list) else [value] * count
        if len(values) != count or not all(
            isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) and v >= 0 for v in values
        ):
            raise SettingsError(f"lr must be a finite number >= 0 or a list of {count} of them, got {_brief(value)}")
        return [float(v) for v in values]

    def _set_lr(self, value: Any) -> float | list[float]:
        component = self.component
        new = self._lrs(value)
        old = _base_lrs(component)
        scheduler = component.scheduler
        for group, lr, base in zip(component.optimizer.param_groups, new, old, strict=True):
            rate = lr * (float(group["lr"]) / base) if base else lr  # the schedule's factor is kept
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(rate)
            else:
                group["lr"] = rate
            if "initial_lr" in group:  # set by a scheduler: the base it restarts from
                group["initial_lr"] = lr
        if scheduler is not None and hasattr(scheduler, "base_lrs"):
            scheduler.base_lrs = list(new)
        if scheduler is not None and hasattr(scheduler, "_last_lr"):
            # what get_last_lr() returns (torch/optim/lr_scheduler.py, LRScheduler.get_last_lr reads _last_lr)
            scheduler._last_lr = [group["lr"] for group in component.optimizer.param_groups]
        return new

    def handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Answer one of :attr:`COMMANDS` (the reply's ``TYPE`` and ``REPLY_TO`` set; ``TO`` is the client's job).

        Raises:
            ValueError: ``msg`` is not one of :attr:`COMMANDS`.
        """
        mtype = msg.get("TYPE")
        answer: dict[str, Any]
        try:
            if mtype == MessageType.COMMAND_SAVEMODELWEIGHTS:
                answer = {"TYPE": MessageType.LOG_MODELWEIGHTS.value, **save_state(self.component)}
            elif mtype == MessageType.COMMAND_LOADMODELWEIGHTS:
                if "WEIGHTS" not in msg:
                    raise StateError("COMMAND/LOADMODELWEIGHTS carries no WEIGHTS")
                load_state(self.component, msg)
                answer = {"TYPE": MessageType.COMMAND_ACK.value, "STEPS": self.component.steps}
            elif mtype in (MessageType.COMMAND_SAVESETTINGS, MessageType.COMMAND_LOADSETTINGS):
                load = mtype == MessageType.COMMAND_LOADSETTINGS
                settings = self.update_settings(msg.get("SETTINGS")) if load else self.settings
                answer = {"TYPE": MessageType.LOG_SETTINGS.value, "SETTINGS": settings, "LIVE": sorted(self.live)}
            else:
                raise ValueError(f"{mtype!r} is not a model command")
        except (StateError, SettingsError) as exc:
            code = "bad-weights" if isinstance(exc, StateError) else "bad-settings"
            answer = {"TYPE": MessageType.LOG_ERROR.value, "ERROR": code, "DETAIL": str(exc)[:MAX_DETAIL_LENGTH]}
        if self.name is not None:
            answer["COMPONENT"] = self.name
        answer["REPLY_TO"] = msg["ID"]
        return answer

    def attach(self, client: Client) -> Handler:
        """Answer the commands addressed to ``client`` by name (``TO``; no room), replying to their sender.

        Returns:
            The handler (one, so the commands are answered in the order they arrive).
        """
        from ..transport.client import SENDER, Trigger

        if self.name is None:
            self.name = client.name
        return client.add_handler(self.handle, Trigger(self.COMMANDS, []), reply_to=SENDER)


def _base_lrs(component: ModuleComponent) -> list[float]:
    """Each parameter group's base learning rate: the scheduler's ``base_lrs`` if it has them, else the rate."""
    base = getattr(component.scheduler, "base_lrs", None)
    if base is None:
        base = [group["lr"] for group in component.optimizer.param_groups]
    return [float(lr) for lr in base]
