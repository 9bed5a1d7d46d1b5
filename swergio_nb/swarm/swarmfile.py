"""Reading a swarm: which components to run, from a YAML file, a mapping or a list (swergio's ``swarm.yaml``, done
better).

The file (every key but ``name`` and one of ``module``/``command`` is optional)::

    hub: ws://127.0.0.1:8765        # the caller's hub_url wins over this
    components:
      - name: control                 # letters, digits, _ . - ; unique; names the log file <name>.log
        module: swergio_nb.examples.trebuchet.control   # runs `sys.executable -m MODULE ARGS... --hub URL`
        args: ["--seed", "0"]         # strings (numbers are converted)
        env: {OMP_NUM_THREADS: "1"}   # added to the launcher's environment (PYTHONUNBUFFERED=1 is always set)
        delay: 0.0                    # seconds to wait after it is ready (or started) before the next one
        ready: "connected to"         # regex searched in each line it prints; null = ready at once
        ready_timeout: 60             # seconds to wait for `ready` before up() raises
        hub_arg: true                 # append `--hub URL` (default true for module:, false for command:)
        hub: wss://gpu-2:8765/?token=...   # this component's own hub, e.g. another host's (default: the swarm's)
      - name: logger
        command: ["python", "my_script.py", "--url", "{hub}"]   # or one string, split with shlex
        cwd: .                        # working directory; relative to the YAML file's folder
      - name: simulator               # a declared component (swergio_nb.swarm.component): module and args derived
        component: swergio_nb.examples.trebuchet.simulator     # the module declaring it, or "module:ATTRIBUTE"
        seed: 0
        options: {}                   # the component's options by field name

swergio_toolbox's ``swarm.yaml`` shape is read too: ``components`` may be a mapping of names to entries, and an
entry's ``filepath`` runs that script (relative to the YAML file's folder) with the launcher's interpreter (``.py``)
or ``julia`` (``.jl``, with ``--project ENV`` from ``envpath`` or ``settings: julia_envpath``)::

    settings: {julia_envpath: .}
    components:
      logger: {filepath: logger.py, delay: 1}

* ``module:`` components run with the launcher's own interpreter (``sys.executable``); ``ready`` defaults to
  ``"connected to"``, the line every :mod:`swergio_nb.examples` component prints once it has joined its rooms.
* ``command:`` components run the given program (no shell); a leading ``python`` or ``python3`` is replaced by
  ``sys.executable`` so scripts see the same environment as the notebook. ``ready`` defaults to null.
* ``component:`` entries are ``module:`` entries whose ``args`` (before any given ones) come from
  :meth:`~swergio_nb.swarm.component.Component.argv`.
* ``filepath:`` entries are ``command:`` entries; toolbox ``settings`` for python (``python_envpath``,
  ``python_cmd``) are not needed (the launcher's interpreter runs the scripts) and a ``terminal_cmd`` is refused
  (the launcher captures the output instead).
* ``{hub}`` in ``command``, ``args`` and ``env`` values is replaced by the hub URL (plain text replacement, so other
  braces, e.g. in a ``python -c`` script, are left alone): the component's own ``hub:`` if it has one, else the
  swarm's.
* A component's own ``hub:`` (a hub on another host, sharing the rooms through a backplane, or any other hub) is
  checked before anything starts: :meth:`~.launcher.Launcher.up` (and so ``%swergio up``) raises a
  :class:`~.spec.LauncherError` naming the component if that hub cannot be reached or refuses its token.

The :class:`~.launcher.Launcher` runs the specs as OS processes.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .component import ComponentError, resolve
from .spec import DEFAULT_READY_TIMEOUT, ComponentSpec, LauncherError

__all__ = ["SwarmSpec", "load_spec", "spec_from_entry"]

#: The fields of a ``components:`` entry: those of a ComponentSpec, and those a spec is derived from.
_ENTRY_KEYS = tuple(f.name for f in dataclasses.fields(ComponentSpec)) + (
    "component",
    "seed",
    "options",
    "filepath",
    "envpath",
)
_TOP_KEYS = ("hub", "components", "settings")
_SETTINGS = ("python_envpath", "python_cmd", "julia_envpath", "terminal_cmd")


def spec_from_entry(
    data: Mapping[str, Any], base_dir: Path | None = None, index: int = 0, julia_env: str | None = None
) -> ComponentSpec:
    """A spec from one ``components:`` entry.

    Args:
        data: the entry (keys as in the module docstring).
        base_dir: folder a relative ``cwd`` or ``filepath`` resolves against (the YAML file's); None keeps it
            relative.
        index: position in the list, used in error messages when the name is missing.
        julia_env: the toolbox's ``settings: julia_envpath``, for ``.jl`` scripts without their own ``envpath``.

    Raises:
        LauncherError: unknown keys, a missing name, or any error of the constructor.
    """
    if not isinstance(data, Mapping):
        raise LauncherError(f"component #{index}: must be a mapping, got {type(data).__name__}")
    name = data.get("name")
    label = name if isinstance(name, str) and name else f"#{index}"
    if "name" not in data:
        raise LauncherError(f"component {label}: field 'name' is missing")
    unknown = sorted(str(k) for k in data if k not in _ENTRY_KEYS)
    if unknown:
        known = ", ".join(_ENTRY_KEYS)
        raise LauncherError(f"component {label!r}: unknown field(s) {', '.join(map(repr, unknown))} (known: {known})")
    kwargs = _derive_source(label, dict(data), base_dir, julia_env)
    for key, default in (("args", ()), ("env", {}), ("delay", 0.0), ("ready_timeout", DEFAULT_READY_TIMEOUT)):
        if kwargs.get(key, default) is None:  # `args:` with nothing after it in YAML
            kwargs[key] = default
    spec = ComponentSpec(**kwargs)
    if spec.cwd is not None and base_dir is not None and not spec.cwd.is_absolute():
        object.__setattr__(spec, "cwd", (base_dir / spec.cwd).resolve())
    return spec


def _derive_source(label: str, kwargs: dict[str, Any], base_dir: Path | None, julia_env: str | None) -> dict[str, Any]:
    """Turn a ``component:`` entry into a ``module:`` one and a ``filepath:`` entry into a ``command:`` one."""
    if "component" in kwargs:
        if any(k in kwargs for k in ("module", "command", "filepath")):
            raise LauncherError(f"component {label!r}: 'component' excludes 'module', 'command' and 'filepath'")
        try:
            component = resolve(str(kwargs.pop("component")))
            options = component.options_from(kwargs.pop("options", None) or {})
            seed = kwargs.pop("seed", 0)
            if not isinstance(seed, int) or isinstance(seed, bool):
                raise LauncherError(f"component {label!r}: field 'seed' must be an integer, got {seed!r}")
            derived = component.argv(options, name=kwargs.get("name"), seed=seed)
        except ComponentError as exc:
            raise LauncherError(f"component {label!r}: {exc}") from None
        return {**kwargs, "module": component.module, "args": [*derived, *(kwargs.get("args") or [])]}
    stray = [k for k in ("seed", "options") if k in kwargs]
    if stray:
        raise LauncherError(f"component {label!r}: field(s) {', '.join(map(repr, stray))} need 'component'")
    if "filepath" not in kwargs:
        if "envpath" in kwargs:
            raise LauncherError(f"component {label!r}: field 'envpath' needs 'filepath'")
        return kwargs
    if "module" in kwargs or "command" in kwargs:
        raise LauncherError(f"component {label!r}: 'filepath' excludes 'module' and 'command'")
    script = kwargs.pop("filepath")
    if not isinstance(script, str) or not script:
        raise LauncherError(f"component {label!r}: field 'filepath' must be a path string, got {script!r}")
    path = Path(script)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    env = kwargs.pop("envpath", None) or julia_env
    if path.suffix == ".py":
        kwargs["command"] = ["python", str(path)]
    elif path.suffix == ".jl":
        kwargs["command"] = ["julia", *(["--project", str(env)] if env else []), str(path)]
    else:
        raise LauncherError(f"component {label!r}: field 'filepath' must name a .py or .jl script, got {script!r}")
    return kwargs


class SwarmSpec(list):
    """The components of a swarm spec, in start order (a ``list[ComponentSpec]``), with the spec's ``hub``.

    Attributes:
        hub: the ``hub:`` URL of the spec, or None.
        source: the YAML file it was read from, or None.
    """

    def __init__(self, specs: Iterable[ComponentSpec] = (), hub: str | None = None, source: Path | None = None):
        super().__init__(specs)
        self.hub = hub
        self.source = source

    def __repr__(self) -> str:
        return f"SwarmSpec({list.__repr__(self)}, hub={self.hub!r})"


def load_spec(
    source: str | os.PathLike[str] | Mapping[str, Any] | ComponentSpec | Sequence[ComponentSpec | Mapping[str, Any]],
    *,
    base_dir: str | os.PathLike[str] | None = None,
) -> SwarmSpec:
    """Read and validate a swarm spec.

    Args:
        source: a path to a YAML file; a mapping with ``components`` (and optionally ``hub``); a list of component
            mappings or :class:`ComponentSpec`; or one :class:`ComponentSpec`.
        base_dir: folder a relative ``cwd`` resolves against; defaults to the YAML file's folder, or the current
            directory for a mapping or list.

    Returns:
        A :class:`SwarmSpec`: the list of :class:`ComponentSpec` in start order, with ``.hub`` (str or None).

    Raises:
        LauncherError: the file cannot be read or parsed, or the spec is invalid (unknown keys, missing name, both or
            neither of module/command, duplicate names, bad types); the message names the component and the field.
    """
    path: Path | None = None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - pyyaml comes with the notebook extra
            raise LauncherError("reading a YAML swarm spec needs pyyaml: pip install 'swergio_nb[notebook]'") from exc
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise LauncherError(f"cannot read swarm spec {str(path)!r}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise LauncherError(f"swarm spec {str(path)!r} is not valid YAML: {exc}") from exc
        if data is None:
            data = {}
    else:
        data = source
    base = Path(base_dir) if base_dir is not None else (path.parent if path is not None else Path.cwd())
    base = base.resolve()
    julia_env: str | None = None
    hub: str | None = data.hub if isinstance(data, SwarmSpec) else None
    if isinstance(data, ComponentSpec):
        entries: Sequence[Any] = [data]
    elif isinstance(data, Mapping):
        unknown = sorted(str(k) for k in data if k not in _TOP_KEYS)
        if unknown:
            known = ", ".join(_TOP_KEYS)
            raise LauncherError.about(
                None, None, f"unknown top-level key(s) {', '.join(map(repr, unknown))} (known: {known})"
            )
        hub = data.get("hub")
        if hub is not None and not isinstance(hub, str):
            raise LauncherError.about(None, "hub", f"must be a URL string, got {type(hub).__name__}")
        julia_env = _settings(data.get("settings"))
        entries = data.get("components") or []
        if isinstance(entries, Mapping):  # swergio_toolbox: {name: {filepath: ..., delay: ...}}
            entries = [_named(name, entry) for name, entry in entries.items()]
        if not isinstance(entries, (list, tuple)):
            raise LauncherError.about(None, "components", f"must be a list or a mapping, got {type(entries).__name__}")
    elif isinstance(data, (list, tuple)):
        entries = data
    else:
        raise LauncherError.about(
            None, None, f"must be a mapping with 'components' or a list, got {type(data).__name__}"
        )
    specs = SwarmSpec(hub=hub, source=path)
    for index, entry in enumerate(entries):
        specs.append(entry if isinstance(entry, ComponentSpec) else spec_from_entry(entry, base, index, julia_env))
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise LauncherError.about(spec.name, "name", "is used by more than one component")
        seen.add(spec.name)
    return specs


def _named(name: Any, entry: Any) -> dict[str, Any]:
    """One entry of a ``components:`` mapping (swergio_toolbox's shape) as a list entry."""
    if entry is not None and not isinstance(entry, Mapping):
        raise LauncherError.about(
            None, "components", f"must be a list, or a mapping of names to entries; {name!r} maps to {entry!r}"
        )
    return {"name": name, **(entry or {})}


def _settings(settings: Any) -> str | None:
    """Check swergio_toolbox's ``settings:``; returns its ``julia_envpath``."""
    if settings is None:
        return None
    if not isinstance(settings, Mapping):
        raise LauncherError.about(None, "settings", f"must be a mapping, got {type(settings).__name__}")
    unknown = sorted(str(k) for k in settings if k not in _SETTINGS)
    if unknown:
        raise LauncherError.about(
            None, "settings", f"unknown key(s) {', '.join(map(repr, unknown))} (known: {', '.join(_SETTINGS)})"
        )
    if settings.get("terminal_cmd"):
        raise LauncherError.about(
            None, "settings", "'terminal_cmd' is not supported: the launcher captures each component's log"
        )
    return settings.get("julia_envpath")
