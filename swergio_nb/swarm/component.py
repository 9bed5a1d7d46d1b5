"""A component declared once: its name, module, options dataclass and build; everything else is derived from it.

A :class:`Component` names the module run as ``python -m`` and a dataclass whose fields (with their defaults and
``metadata={"help": ...}``) *are* the component's options. From it come:

* :meth:`Component.parser`: the command line of the process (``--hub``, ``--name``, ``--seed``, ``--log-level`` and
  one flag per field: ``anneal_steps`` is ``--anneal-steps``; booleans are ``--flag``/``--no-flag``; ``Optional``
  fields take ``none``; ``choices`` and ``type`` may be given in the field's metadata);
* :meth:`Component.main`: what ``python -m <module>`` runs: parse, build, connect, print ``"<name> connected to
  <url>"`` (the launcher's readiness line), serve until SIGTERM or SIGINT (or run the component's driver);
* :meth:`Component.argv`: the process's arguments for given options (only fields that differ from their default, so
  parsing ``argv(o)`` gives back ``o``);
* :meth:`Component.spec`: a :class:`~swergio_nb.swarm.spec.ComponentSpec` for the launcher;
* :meth:`Component.to_yaml_entry`: a ``swarm.yaml`` entry that names the component and its options by field name::

      components:
        - name: control
          component: swergio_nb.examples.trebuchet.control    # the module declaring it, or "module:ATTRIBUTE"
          seed: 0
          options: {lr: 0.01, anneal_steps: 600}

A declaration is the decorator on the component's build (as ``click.command`` turns a function into a command)::

    @dataclass(frozen=True)
    class ControlOptions:
        lr: float = option(1e-2, "Adam learning rate")

    @component("control", ControlOptions, "Trebuchet control network component.")
    def build(url: str, *, name: str, seed: int, options: ControlOptions) -> Client:
        ...  # the client, not connected

    if __name__ == "__main__":  # python -m <module>
        build.main()

``build`` is now the :class:`Component`: ``build(url, seed=1)`` still builds a client (defaults filled in: the
declared name, the default options), and ``build.parser()``, ``build.spec(options)``... are derived from it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib
import logging
import signal
import sys
import types
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import SwergioError
from ..protocol.urls import redact
from ..transport.client import Client
from .spec import ComponentSpec

__all__ = [
    "Component",
    "ComponentError",
    "component",
    "driver",
    "DEFAULT_HUB",
    "option",
    "from_arguments",
    "option_values",
    "plain_client",
    "resolve",
    "add_option_arguments",
]

#: ``--hub`` of a component process when none is given.
DEFAULT_HUB = "ws://127.0.0.1:8765"
#: What an ``Optional`` option takes on the command line for None.
NONE = "none"


class ComponentError(SwergioError):
    """A component declaration or the options given to it are invalid."""


def option(default: Any, help: str, *, unit: str | None = None, **metadata: Any) -> Any:
    """A dataclass field that is a component option: ``wait: float = option(60.0, "reward wait time", unit="s")``.

    Args:
        default: the default value (immutable).
        help: one line for ``--help``.
        unit: the value's unit, shown with the default in ``--help`` (``(default 60.0 s)``).
        **metadata: ``choices`` (allowed values), ``type`` (a callable turning the command-line text into the value,
            for types the annotation does not say how to parse).
    """
    return dataclasses.field(default=default, metadata={"help": help, "unit": unit, **metadata})


@dataclass(frozen=True)
class _Flag:
    """How one options field reads from and writes to a command line."""

    field: dataclasses.Field
    convert: Callable[[str], Any]
    optional: bool
    boolean: bool
    choices: tuple[Any, ...] | None

    @property
    def flag(self) -> str:
        return "--" + self.field.name.replace("_", "-")

    def parse(self, text: str) -> Any:
        if self.optional and text.lower() == NONE:
            return None
        value = self.convert(text)
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{text!r} is not one of {', '.join(map(str, self.choices))}")
        return value

    def to_text(self, value: Any) -> str:
        return NONE if value is None else str(value)


def _flags(options: type) -> list[_Flag]:
    if not dataclasses.is_dataclass(options):
        raise ComponentError(f"options must be a dataclass type, got {options!r}")
    try:
        hints = typing.get_type_hints(options)
    except (NameError, TypeError):  # an annotation names a type imported only for type checkers
        hints = {}
    flags = []
    for f in dataclasses.fields(options):
        if not f.init:
            continue
        if f.default is dataclasses.MISSING:
            raise ComponentError(f"option {options.__name__}.{f.name} needs a default")
        annotation = hints.get(f.name, type(f.default))
        args = typing.get_args(annotation)
        optional = (typing.get_origin(annotation) in (typing.Union, types.UnionType)) and type(None) in args
        if optional:
            annotation = next(a for a in args if a is not type(None))
        convert = f.metadata.get("type") or (annotation if annotation in (int, float, str, Path, bool) else str)
        choices = f.metadata.get("choices")
        flags.append(_Flag(f, convert, optional, annotation is bool, None if choices is None else tuple(choices)))
    return flags


def add_option_arguments(
    parser: argparse.ArgumentParser | Any, options: type, names: Sequence[str] | None = None, **defaults: Any
) -> None:
    """Add one command-line flag per field of an options dataclass (or per field in ``names``).

    Args:
        parser: an :class:`argparse.ArgumentParser` (or an argument group).
        options: the dataclass type.
        names: the fields to add; None adds all of them.
        **defaults: defaults that differ from the fields' (e.g. a demo's own choice).
    """
    for flag in _flags(options):
        name = flag.field.name
        if names is not None and name not in names:
            continue
        default = defaults.get(name, flag.field.default)
        text = flag.field.metadata.get("help", "")
        if flag.boolean:
            parser.add_argument(flag.flag, dest=name, action=argparse.BooleanOptionalAction, default=default, help=text)
            continue
        unit = flag.field.metadata.get("unit")
        suffix = (f" {unit}" if unit else "") + (f"; '{NONE}' for none" if flag.optional else "")
        parser.add_argument(
            flag.flag,
            dest=name,
            type=flag.parse,
            default=default,
            metavar=(("{" + ",".join(map(str, flag.choices)) + "}") if flag.choices else name.upper()),
            help=f"{text} (default %(default)s{suffix})",
        )


def option_values(options: Any, *, changed: bool = False) -> dict[str, Any]:
    """The fields of an options dataclass instance as plain data (a ``Path`` as its string), e.g. for JSON or YAML.

    Args:
        options: the instance.
        changed: only the fields that differ from their defaults.
    """
    values = {}
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        if f.init and not (changed and value == f.default):
            values[f.name] = str(value) if isinstance(value, Path) else value
    return values


def from_arguments(options: type, args: argparse.Namespace) -> Any:
    """An instance of the options dataclass ``options`` from parsed arguments: the fields ``args`` has (as
    :func:`add_option_arguments` adds them); the others keep their defaults."""
    names = [f.name for f in dataclasses.fields(options) if f.init and hasattr(args, f.name)]
    return options(**{name: getattr(args, name) for name in names})


def plain_client(url: str, *, name: str, seed: int = 0, options: Any = None) -> Client:
    """The build of a driver whose client needs no handlers: ``Client(name, url)``."""
    return Client(name, url)


def _module_of(function: Callable[..., Any]) -> str:
    """The importable name of the module defining ``function``, also when it runs as ``python -m`` (``__main__``)."""
    if function.__module__ == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        if spec is not None:
            return spec.name
    return function.__module__


def component(
    name: str, options: type, description: str = "", *, setup: Callable[[], Any] | None = None
) -> Callable[[Callable[..., Client]], Component]:
    """Declare the decorated function ``build(url, *, name, seed, options, **extra) -> Client`` as a component
    that serves until it is stopped; it becomes the :class:`Component` (see its fields for the arguments)."""

    def declare(build: Callable[..., Client]) -> Component:
        return Component(name, _module_of(build), options, build, description, setup=setup)

    return declare


def driver(name: str, options: type, description: str = "") -> Callable[[Callable[..., Awaitable[Any]]], Component]:
    """Declare the decorated coroutine function ``run(client, *, seed, options)`` as a component that does a job
    with a plain client (:func:`plain_client`) and ends; it becomes the :class:`Component`."""

    def declare(run: Callable[..., Awaitable[Any]]) -> Component:
        return Component(name, _module_of(run), options, plain_client, description, run=run)

    return declare


def resolve(target: str) -> Component:
    """The :class:`Component` named by ``"package.module"`` (the one declared in that module) or
    ``"package.module:ATTRIBUTE"``.

    Raises:
        ComponentError: the module cannot be imported, or holds no such component (or more than one).
    """
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ComponentError(f"cannot import component module {module_name!r}: {exc}") from exc
    if attribute:
        found = [getattr(module, attribute, None)]
    else:
        found = [v for v in vars(module).values() if isinstance(v, Component) and v.module == module_name]
    if len(found) != 1 or not isinstance(found[0], Component):
        what = attribute or "exactly one component declared there"
        raise ComponentError(f"{target!r} names no Component (expected {what} in {module_name})")
    return found[0]


@dataclass(frozen=True)
class Component:
    """One component, declared once.

    Args:
        name: its default name on the hub (and of its process and log).
        module: the module run as ``python -m module`` (it ends with ``if __name__ == "__main__": build.main()``).
        options: a dataclass type whose fields, with defaults and ``metadata={"help": ...}``, are its options.
        build: ``build(url, *, name, seed, options, **extra) -> Client``: the component's client, not yet connected.
            ``extra`` are objects only a caller in the same process can give (a queue, a test set). Call the
            component itself, not this, to have the defaults filled in.
        description: one line for ``--help``.
        run: for a driver (a component that does a job and ends): ``await run(client, seed=seed, options=options)``
            once the client is connected; the process exits when it returns. None: it serves until it is stopped.
        setup: called once in the component's own process before it builds (e.g. to limit torch's threads).
    """

    name: str
    module: str
    options: type
    build: Callable[..., Client]
    description: str = ""
    run: Callable[..., Awaitable[Any]] | None = None
    setup: Callable[[], Any] | None = None

    def __post_init__(self) -> None:
        _flags(self.options)  # raises if the options cannot make a command line

    # -- the command line --------------------------------------------------------------------------------------

    def parser(self) -> argparse.ArgumentParser:
        """The process's argument parser: ``--hub``, ``--name``, ``--seed``, ``--log-level`` and the options."""
        parser = argparse.ArgumentParser(prog=f"python -m {self.module}", description=self.description)
        parser.add_argument("--hub", default=DEFAULT_HUB, help="URL of the hub (default %(default)s)")
        parser.add_argument("--name", default=self.name, help="component name on the hub (default %(default)s)")
        parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
        parser.add_argument("--log-level", default="WARNING", help="logging level (default %(default)s)")
        add_option_arguments(parser.add_argument_group("component options"), self.options)
        return parser

    def options_from(self, args: argparse.Namespace | Mapping[str, Any]) -> Any:
        """The options from parsed arguments (extra attributes are ignored) or a mapping of field names to values.

        A mapping's values are checked and converted as on the command line (a string for a ``Path``, ``null`` for
        an ``Optional`` field, numbers for numbers).

        Raises:
            ComponentError: a mapping has an unknown field or a value that does not fit.
        """
        if isinstance(args, argparse.Namespace):
            return from_arguments(self.options, args)
        flags = {flag.field.name: flag for flag in _flags(self.options)}
        unknown = sorted(str(k) for k in args if k not in flags)
        if unknown:
            known = ", ".join(flags)
            raise ComponentError(
                f"component {self.name!r}: unknown option(s) {', '.join(map(repr, unknown))} ({known})"
            )
        values = {}
        for key, value in args.items():
            flag = flags[key]
            if flag.boolean and not isinstance(value, bool):
                raise ComponentError(f"component {self.name!r}: option {key!r} must be true or false, got {value!r}")
            if value is None and not flag.optional:
                raise ComponentError(f"component {self.name!r}: option {key!r} cannot be null")
            try:
                values[key] = value if flag.boolean else flag.parse(flag.to_text(value))
            except (TypeError, ValueError) as exc:
                raise ComponentError(f"component {self.name!r}: option {key!r}: {exc}") from None
        return self.options(**values)

    def argv(self, options: Any = None, *, name: str | None = None, seed: int = 0) -> list[str]:
        """The process's arguments for ``options``: only what differs from the defaults (``--hub`` not included).

        Args:
            options: an instance of :attr:`options` (None: the defaults).
            name: its name on the hub (``--name`` if it is not :attr:`name`).
            seed: ``--seed`` if not 0.
        """
        options = self._check(options)
        argv = [] if name in (None, self.name) else ["--name", name]
        argv += [] if seed == 0 else ["--seed", str(seed)]
        for flag in _flags(self.options):
            value = getattr(options, flag.field.name)
            if value == flag.field.default and type(value) is type(flag.field.default):
                continue
            text = flag.to_text(value)
            if flag.boolean:
                argv.append(flag.flag if value else "--no-" + flag.flag[2:])
            elif text.startswith("-"):  # "-inf", "-1e-05": argparse would take them for flags
                argv.append(f"{flag.flag}={text}")
            else:
                argv += [flag.flag, text]
        return argv

    def spec(self, options: Any = None, *, name: str | None = None, seed: int = 0, **spec: Any) -> ComponentSpec:
        """A launcher spec that runs this component as its own process.

        Args:
            options, name, seed: as :meth:`argv`.
            **spec: further :class:`~swergio_nb.swarm.spec.ComponentSpec` fields (``env``, ``ready_timeout``,
                ``delay``, ``cwd``...).
        """
        return ComponentSpec(
            name or self.name, module=self.module, args=self.argv(options, name=name, seed=seed), **spec
        )

    def to_yaml_entry(self, options: Any = None, *, name: str | None = None, seed: int = 0) -> dict[str, Any]:
        """A ``swarm.yaml`` entry (plain data) naming this component, its seed and the options that differ from
        the defaults by field name; :func:`~swergio_nb.swarm.swarmfile.load_spec` reads it back."""
        changed = option_values(self._check(options), changed=True)
        entry: dict[str, Any] = {"name": name or self.name, "component": self.module, "seed": seed}
        return {**entry, "options": changed} if changed else entry

    def _check(self, options: Any) -> Any:
        if options is None:
            return self.options()
        if not isinstance(options, self.options):
            raise ComponentError(
                f"component {self.name!r} takes {self.options.__name__} options, got {type(options).__name__}"
            )
        return options

    # -- running -----------------------------------------------------------------------------------------------

    def __call__(
        self, url: str, *, name: str | None = None, seed: int = 0, options: Any = None, **extra: Any
    ) -> Client:
        """Build the component's client (not connected) in this process: :attr:`build` with ``name`` defaulting to
        :attr:`name` and ``options`` to the default options."""
        return self.build(url, name=name or self.name, seed=seed, options=self._check(options), **extra)

    def main(self, argv: Sequence[str] | None = None) -> None:
        """Run as a process: parse ``argv``, build, connect, print ``"<name> connected to <url>"``, then serve until
        the hub closes the connection or SIGTERM/SIGINT arrives (or, for a driver, until :attr:`run` returns)."""
        args = self.parser().parse_args(argv)
        logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
        if self.setup is not None:
            self.setup()
        options = self.options_from(args)
        asyncio.run(self._serve(self(args.hub, name=args.name, seed=args.seed, options=options), args.seed, options))

    async def _serve(self, client: Client, seed: int, options: Any) -> None:
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        await client.connect()
        print(f"{client.name} connected to {redact(client.url)}", flush=True)
        work = asyncio.ensure_future(client.run() if self.run is None else self.run(client, seed=seed, options=options))
        try:
            await asyncio.wait([work, stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            await client.close()
            work.cancel()
            outcome = (await asyncio.gather(work, return_exceptions=True))[0]
        if self.run is not None and isinstance(outcome, Exception):
            raise outcome
