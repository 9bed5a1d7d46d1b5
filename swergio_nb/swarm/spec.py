"""What to run: a :class:`ComponentSpec` per component process (a module or a command, its arguments, environment,
readiness line), checked on construction. :mod:`.swarmfile` reads them from YAML; :class:`~.launcher.Launcher`
runs them.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import SwergioError
from ..protocol.limits import TOKEN_ENV
from ..protocol.urls import split_token

__all__ = [
    "ComponentSpec",
    "DEFAULT_READY",
    "DEFAULT_READY_TIMEOUT",
    "LauncherError",
]

#: Readiness regex of ``module:`` components: every example component prints "<name> connected to <url>".
DEFAULT_READY = "connected to"
#: Seconds :meth:`~.launcher.Launcher.up` waits for a component's readiness line by default.
DEFAULT_READY_TIMEOUT = 60.0

_NAME = re.compile(r"^[\w][\w.-]*$")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
#: Keys that name what runs instead of ``module``/``command``: a declared component, or a toolbox script.
_PYTHONS = ("python", "python3")


class LauncherError(SwergioError):
    """A swarm spec is invalid, or a component could not be started or did not become ready."""

    @classmethod
    def about(cls, name: str | None, field_name: str | None, problem: str) -> LauncherError:
        """The error naming the component (None: the whole spec) and the field (None: no one field) at fault."""
        who = "swarm spec" if name is None else f"component {name!r}"
        where = "" if field_name is None else f" field {field_name!r}"
        return cls(f"{who}:{where} {problem}")


class _Auto:
    """Sentinel: the default depends on whether the component is a ``module:`` or a ``command:``."""

    def __repr__(self) -> str:
        return "AUTO"


_AUTO: Any = _Auto()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_text(name: str, field_name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if _is_number(value):
        return str(value)
    raise LauncherError.about(name, field_name, f"items must be strings, got {type(value).__name__} {value!r}")


@dataclass(frozen=True)
class ComponentSpec:
    """How to run one component. Validated on construction; see the module docstring for the YAML form.

    Args:
        name: unique label (letters, digits, ``_``, ``.``, ``-``); names the log file ``<name>.log``.
        module: a module run as ``sys.executable -m module``; exclusive with ``command``.
        command: a program and its arguments (a string is split with :func:`shlex.split`); exclusive with ``module``.
        args: extra arguments appended after the module or command.
        env: variables added to the launcher's environment (``PYTHONUNBUFFERED=1`` is always set).
        delay: seconds to wait after this component is ready (or started, without waiting) before the next; >= 0.
        ready: regex searched in each line of its output; None means ready as soon as it is started. Defaults to
            :data:`DEFAULT_READY` for modules and None for commands.
        ready_timeout: seconds to wait for ``ready``; > 0.
        cwd: working directory; None is the launcher's.
        hub_arg: append ``--hub URL``; defaults to True for modules, False for commands.
        hub: this component's own hub URL (another host's hub, ``wss://gpu-2:8765/?token=...``), used in place of
            the launcher's; None: the launcher's.

    Raises:
        LauncherError: a field has a bad type or value (the message names the component and the field).
    """

    name: str
    module: str | None = None
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    delay: float = 0.0
    ready: str | None = _AUTO
    ready_timeout: float = DEFAULT_READY_TIMEOUT
    cwd: Path | None = None
    hub_arg: bool = _AUTO
    hub: str | None = None

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not _NAME.match(name):
            raise LauncherError.about(
                None if not isinstance(name, str) else name,
                "name",
                f"must be a non-empty string of letters, digits, '_', '.', '-', got {name!r}",
            )
        set_ = object.__setattr__
        if (self.module is None) == (self.command is None):
            which = "both" if self.module is not None else "neither"
            raise LauncherError.about(name, None, f"needs exactly one of fields 'module' and 'command', got {which}")
        if self.module is not None and (not isinstance(self.module, str) or not _MODULE.match(self.module)):
            raise LauncherError.about(name, "module", f"must be a dotted module name, got {self.module!r}")
        if self.command is not None:
            command = self.command
            if isinstance(command, str):
                try:
                    command = shlex.split(command)
                except ValueError as exc:
                    raise LauncherError.about(name, "command", f"cannot be split: {exc}") from None
            elif not isinstance(command, (list, tuple)):
                raise LauncherError.about(
                    name, "command", f"must be a string or a list of strings, got {type(command).__name__}"
                )
            command = tuple(_as_text(name, "command", part) for part in command)
            if not command:
                raise LauncherError.about(name, "command", "must not be empty")
            set_(self, "command", command)
        if isinstance(self.args, str) or not isinstance(self.args, (list, tuple)):
            raise LauncherError.about(name, "args", f"must be a list of strings, got {type(self.args).__name__}")
        set_(self, "args", tuple(_as_text(name, "args", a) for a in self.args))
        if not isinstance(self.env, Mapping):
            raise LauncherError.about(
                name, "env", f"must be a mapping of names to strings, got {type(self.env).__name__}"
            )
        env = {}
        for key, value in self.env.items():
            if not isinstance(key, str) or not key or "=" in key:
                raise LauncherError.about(
                    name, "env", f"variable names must be non-empty strings without '=', got {key!r}"
                )
            env[key] = _as_text(name, "env", value)
        set_(self, "env", env)
        if not _is_number(self.delay) or self.delay < 0:
            raise LauncherError.about(name, "delay", f"must be a number of seconds >= 0, got {self.delay!r}")
        if self.ready is _AUTO:
            set_(self, "ready", DEFAULT_READY if self.module is not None else None)
        if self.ready is not None:
            if not isinstance(self.ready, str):
                raise LauncherError.about(
                    name, "ready", f"must be a regex string or null, got {type(self.ready).__name__}"
                )
            try:
                re.compile(self.ready)
            except re.error as exc:
                raise LauncherError.about(name, "ready", f"is not a valid regex: {exc}") from None
        if not _is_number(self.ready_timeout) or self.ready_timeout <= 0:
            raise LauncherError.about(
                name, "ready_timeout", f"must be a number of seconds > 0, got {self.ready_timeout!r}"
            )
        if self.cwd is not None:
            if not isinstance(self.cwd, (str, os.PathLike)):
                raise LauncherError.about(name, "cwd", f"must be a path string, got {type(self.cwd).__name__}")
            set_(self, "cwd", Path(self.cwd))
        if self.hub is not None and (not isinstance(self.hub, str) or "://" not in self.hub):
            raise LauncherError.about(name, "hub", f"must be a hub URL (ws://HOST:PORT/...), got {self.hub!r}")
        if self.hub_arg is _AUTO:
            set_(self, "hub_arg", self.module is not None)
        elif not isinstance(self.hub_arg, bool):
            raise LauncherError.about(name, "hub_arg", f"must be true or false, got {self.hub_arg!r}")

    def argv(self, hub_url: str | None) -> list[str]:
        """The command line, with ``{hub}`` replaced and ``--hub URL`` appended if ``hub_arg``.

        Raises:
            LauncherError: the command needs a hub URL and ``hub_url`` is None.
        """
        if self.module is not None:
            argv = [sys.executable, "-m", self.module, *self.args]
        else:
            assert self.command is not None
            first = sys.executable if self.command[0] in _PYTHONS else self.command[0]
            argv = [first, *self.command[1:], *self.args]
        if self.hub_arg:
            argv += ["--hub", "{hub}"]
        # the token travels in the environment (SWERGIO_TOKEN), not on a command line that `ps` shows
        url = None if hub_url is None else split_token(hub_url)[0]
        return [self._fill(part, url, "command") for part in argv]

    def environment(self, hub_url: str | None) -> dict[str, str]:
        """The child's environment: the launcher's, ``PYTHONUNBUFFERED=1``, the hub's token as ``SWERGIO_TOKEN``,
        then :attr:`env` with ``{hub}`` filled."""
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        token = None if hub_url is None else split_token(hub_url)[1]
        if token:
            env[TOKEN_ENV] = token
        env.update({k: self._fill(v, hub_url, "env") for k, v in self.env.items()})
        return env

    def _fill(self, text: str, hub_url: str | None, field_name: str) -> str:
        if "{hub}" not in text:
            return text
        if hub_url is None:
            raise LauncherError.about(self.name, field_name, "needs a hub URL ('{hub}' or --hub) but none was given")
        return text.replace("{hub}", hub_url)
