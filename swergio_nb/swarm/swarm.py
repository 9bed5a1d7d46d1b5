"""The :class:`Swarm`: declared components started in this process or as OS processes, and stopped in order.

Usage (a demo's driver, or any asyncio code)::

    swarm = Swarm().add(control.build, ControlOptions(lr=3e-2)).add(simulator.build)
    async with swarm.started(processes=True):         # an embedded hub on a free port, as no URL is given
        async with Client("trainer", swarm.url) as client:
            ...
    # stopped: components in reverse order while the hub still serves, then the hub

In this process each component's client is built, connected (it has joined its rooms when ``connect()`` returns)
and kept in :attr:`Swarm.clients`; as processes each runs as ``python -m <module> <argv> --hub URL`` under a
:class:`~swergio_nb.swarm.launcher.Launcher` and counts as connected once it printed its readiness line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..transport.client import Client
from ..transport.hub import Hub
from .component import Component, ComponentError
from .launcher import ComponentExited, Launcher
from .spec import DEFAULT_READY_TIMEOUT, ComponentSpec

__all__ = ["Swarm", "Member", "ComponentExited"]  # ComponentExited is the launcher's, raised here too


@dataclass
class Member:
    """One component of a :class:`Swarm`: the declaration, its options and how it runs.

    Attributes:
        component: the declaration.
        options: its options (an instance of ``component.options``).
        name: its name on the hub.
        seed: its ``--seed``.
        process: True runs it as an OS process, False in this process, None as :meth:`Swarm.start` says.
        spec: further launcher fields for its process (``env``, ``ready_timeout``...).
        extra: keyword arguments only a build in this process can take (objects: a queue, a test set).
    """

    component: Component
    options: Any
    name: str
    seed: int = 0
    process: bool | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class Swarm:
    """Declared components, started in order and stopped in reverse order.

    Args:
        log_dir: where the processes' logs go (see :class:`~swergio_nb.swarm.launcher.Launcher`); None: a fresh
            temporary folder.
        ready_timeout: seconds each process may take to connect (its readiness line); may be changed until
            :meth:`start`.

    Attributes:
        members: the components, in start order.
        clients: ``{name: Client}`` of the components running in this process (while started).
        hub: the embedded hub, if :meth:`start` started one (else None).
        url: the hub's URL while started.
    """

    def __init__(self, *, log_dir: str | os.PathLike[str] | None = None, ready_timeout: float = DEFAULT_READY_TIMEOUT):
        self.members: list[Member] = []
        self.clients: dict[str, Client] = {}
        self._log_dir = log_dir
        self._launcher: Launcher | None = None
        self.hub: Hub | None = None
        self.url: str | None = None
        self.ready_timeout = ready_timeout
        self._running: list[Member] = []

    @property
    def launcher(self) -> Launcher:
        """The launcher of the components running as processes (made when first needed)."""
        if self._launcher is None:
            self._launcher = Launcher(self._log_dir)
        return self._launcher

    def __repr__(self) -> str:
        names = ", ".join(m.name for m in self.members)
        return f"<Swarm [{names}]{' on ' + self.url if self.url else ''}>"

    def __iter__(self) -> Iterator[Member]:
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __getitem__(self, name: str) -> Client:
        """The client of a component running in this process.

        Raises:
            KeyError: no such component runs in this process.
        """
        return self.clients[name]

    def add(
        self,
        component: Component,
        options: Any = None,
        *,
        name: str | None = None,
        seed: int = 0,
        process: bool | None = None,
        env: dict[str, str] | None = None,
        **extra: Any,
    ) -> Swarm:
        """Add a component (started after those added before it); returns the swarm, so calls chain.

        Args:
            component: the declaration.
            options: an instance of ``component.options``; None: the defaults.
            name: its name on the hub; None: ``component.name``.
            seed: its seed.
            process: True always as an OS process, False always in this process, None as :meth:`start` says.
            env: environment variables of its process.
            **extra: keyword arguments for its build in this process (objects a command line cannot carry).

        Raises:
            ComponentError: the name is taken, the options are not the component's, or ``extra`` is given to a
                component that must run as a process.
        """
        member = Member(component, component._check(options), name or component.name, seed, process,
                        {"env": env or {}}, extra)  # fmt: skip
        if any(m.name == member.name for m in self.members):
            raise ComponentError(f"the swarm already has a component named {member.name!r}")
        if process:
            self._spec(member)  # refuses build-only arguments now rather than at start
        self.members.append(member)
        return self

    def specs(self) -> list[ComponentSpec]:
        """The launcher specs of every member as an OS process, in start order (e.g. for a notebook's launcher:
        ``await session.launcher.up(swarm.specs(), session.hub_url)``).

        Raises:
            ComponentError: a member has build-only arguments, which a process cannot take.
        """
        return [self._spec(m) for m in self.members]

    def _spec(self, member: Member) -> ComponentSpec:
        if member.extra:
            raise ComponentError(f"component {member.name!r}: {', '.join(member.extra)} cannot go to a process")
        spec = {"ready_timeout": self.ready_timeout, **member.spec}
        return member.component.spec(member.options, name=member.name, seed=member.seed, **spec)

    # -- starting and stopping -----------------------------------------------------------------------------------

    async def start(self, hub_url: str | None = None, *, processes: bool = False) -> Swarm:
        """Start every component in order, each connected (or ready) before the next.

        Args:
            hub_url: the hub; None starts an embedded :class:`~swergio_nb.transport.hub.Hub` on a free port of
                127.0.0.1 (:attr:`hub`), closed by :meth:`stop` after the components.
            processes: run the members whose ``process`` is None as OS processes (True) or in this process.

        Returns:
            The swarm.

        Raises:
            ComponentError: a member with build-only arguments would run as a process.
            LauncherError: a process did not get ready within its ``ready_timeout``.
            Any error of a client's ``connect()``. What was started is stopped before the error propagates.
        """
        if self.url is not None:
            raise ComponentError(f"the swarm is already running on {self.url}")
        specs = {m.name: self._spec(m) for m in self.members if self._as_process(m, processes)}  # checked first
        try:
            if hub_url is None:
                self.hub = await Hub(port=0).start()
                hub_url = self.hub.url
            self.url = hub_url
            for member in self.members:
                if member.name in specs:
                    self._running.append(member)
                    await self.launcher.up([specs[member.name]], hub_url)
                else:
                    client = member.component(
                        hub_url, name=member.name, seed=member.seed, options=member.options, **member.extra
                    )
                    self.clients[member.name] = client
                    self._running.append(member)
                    await client.connect()
        except BaseException:
            await self.stop()
            raise
        return self

    @staticmethod
    def _as_process(member: Member, processes: bool) -> bool:
        return processes if member.process is None else member.process

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop the components in reverse start order, then the embedded hub (if any). Idempotent.

        Clients in this process are closed; processes get SIGTERM (then SIGKILL after ``timeout`` seconds) while the
        hub still serves, so they close cleanly. Runs of consecutive processes are stopped together.
        """
        processes: list[str] = []
        try:
            while self._running:
                member = self._running.pop()
                client = self.clients.pop(member.name, None)
                if client is None:
                    processes.append(member.name)
                    continue
                await self._stop_processes(processes, timeout)
                await client.close()
            await self._stop_processes(processes, timeout)
        finally:
            hub, self.hub, self.url = self.hub, None, None
            if hub is not None:
                await hub.close()

    async def _stop_processes(self, names: list[str], timeout: float) -> None:
        if names:
            await self.launcher.adown(timeout, names=[n for n in names if n in self.launcher])
            names.clear()

    @contextlib.asynccontextmanager
    async def started(self, hub_url: str | None = None, *, processes: bool = False) -> AsyncIterator[Swarm]:
        """``async with swarm.started(...)``: :meth:`start` on entry, :meth:`stop` on exit.

        While the body runs, the component processes are watched: if one exits, the body is cancelled where it
        waits (a request to the dead component, a training loop) and :class:`ComponentExited` is raised, naming the
        component, how it ended, the rooms that went quiet and the end of its log.

        Raises:
            ComponentExited: a component process exited while the body ran.
        """
        await self.start(hub_url, processes=processes)
        body = asyncio.current_task()
        exited: list[ComponentExited] = []
        watcher = asyncio.create_task(self._watch(body, exited), name="swergio-swarm-watch")
        try:
            yield self
        except asyncio.CancelledError:
            if not exited:
                raise
            if body is not None and hasattr(body, "uncancel"):
                body.uncancel()  # the cancellation was ours, not the caller's
            raise exited[0] from None
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            await self.stop()

    async def _watch(self, body: asyncio.Task | None, exited: list[ComponentExited]) -> None:
        """On the first component process that exits by itself (:meth:`Launcher.exits`), cancel ``body``."""
        if self._launcher is None or body is None:
            return
        async for exit_ in self._launcher.exits(self._rooms_of):
            exited.append(exit_)
            body.cancel()
            return

    def _rooms_of(self, name: str) -> frozenset[str]:
        """Its rooms as the hub in this process sees them (none with a hub elsewhere)."""
        return frozenset() if self.hub is None else self.hub.router.rooms_of(name)

    @property
    def log_dir(self) -> Path:
        """The folder of the processes' logs."""
        return self.launcher.log_dir
