"""Start and stop components as OS processes, from a YAML file or a dict (swergio's ``swarm.yaml``, done better).

Each component runs as its own process in its own session (process group), with stdout and stderr captured to one
log file per component (readable while it runs), readiness detected by a regex in that log, and a clean
stop: SIGTERM to the whole group, then SIGKILL after a timeout. On Linux every child also gets
``PR_SET_PDEATHSIG=SIGTERM``, so it dies with the process that launched it even if that process is SIGKILLed, and an
``atexit`` hook stops every launcher still running when the interpreter exits normally.

What to run is a :class:`~.spec.ComponentSpec` each, read from YAML by :func:`~.swarmfile.load_spec` (its module
docstring gives the file's shape).

Usage, in a notebook (the kernel's loop) or any asyncio code::

    launcher = Launcher()                                   # logs go to a fresh temporary folder
    await launcher.up("swarm.yaml", hub_url=hub.url)        # in order, each one ready before the next
    print(launcher.logs("control", tail=20))
    launcher.status()                                       # [{"name": "control", "pid": ..., "running": True, ...}]
    await launcher.adown()                                  # or launcher.down() from synchronous code

Use :meth:`Launcher.adown` when the hub runs in the same event loop as the caller (the notebook's in-kernel hub):
the synchronous :meth:`Launcher.down` blocks the loop, so the hub cannot answer the components' closing handshakes
and they may need the SIGKILL escalation to exit.
"""

from __future__ import annotations

import asyncio
import atexit
import codecs
import contextlib
import ctypes
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..exceptions import SwergioError
from ..protocol.limits import TOKEN_ENV
from ..protocol.urls import redact, redact_text
from ..transport.connection import probe
from .spec import ComponentSpec, LauncherError
from .swarmfile import load_spec

__all__ = ["ComponentProcess", "ComponentExited", "Launcher", "WATCH_INTERVAL", "HUB_CHECK_TIMEOUT", "check_hubs"]

#: Seconds between two looks at the component processes (:meth:`Launcher.exits`).
WATCH_INTERVAL = 0.2
#: Seconds :func:`check_hubs` waits for a component's own hub to accept a connection.
HUB_CHECK_TIMEOUT = 10.0


class ComponentExited(SwergioError):
    """A component process exited by itself (nobody stopped it) while its swarm or notebook session ran: in a swarm,
    what waited on it is cancelled; in a notebook, the session reports it.

    Attributes:
        name: the component.
        returncode: its exit code; negative for a signal (-9: SIGKILL).
        rooms: the rooms it was in, as the embedded hub last saw them (empty with a hub elsewhere).
        log_tail: the last lines of its log (tokens hidden).
    """

    def __init__(self, name: str, returncode: int, rooms: frozenset[str], log_tail: str) -> None:
        self.name, self.returncode, self.rooms, self.log_tail = name, returncode, rooms, log_tail
        how = (
            f"was killed by {signal.Signals(-returncode).name}" if returncode < 0 else f"exited with code {returncode}"
        )
        quiet = f"; its rooms went quiet: {', '.join(sorted(rooms))}" if rooms else ""
        super().__init__(f"component {name!r} {how} (nobody stopped it){quiet}; last lines of its log:\n{log_tail}")


#: Lines of a component's log quoted in a :class:`~.spec.LauncherError`.
ERROR_TAIL = 20

# -- processes ---------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class ComponentProcess:
    """One started component.

    Attributes:
        name: the spec's name.
        spec: the :class:`ComponentSpec` it was started from.
        argv: the command line it runs.
        popen: the :class:`subprocess.Popen`.
        log_path: the file its stdout and stderr go to (appended to; kept after it exits).
        started: wall-clock start time, seconds since the epoch.
        ready: True once its ``ready`` regex was seen in its output (at once if the spec has no regex).
        secrets: values its output may print that :meth:`log_tail` hides (the hub's token it was given).
    """

    name: str
    spec: ComponentSpec
    argv: list[str]
    popen: subprocess.Popen
    log_path: Path
    started: float
    ready: bool = False
    secrets: tuple[str, ...] = field(default=(), repr=False)
    _offset: int = field(default=0, repr=False)  # bytes of the log already scanned for `ready`
    _tail: str = field(default="", repr=False)
    _decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"), repr=False)
    _done: bool = field(default=False, repr=False)  # stopped by down(): never signal its pid again (may be reused)
    _stopping: bool = field(default=False, repr=False)  # down() began to stop it

    @property
    def pid(self) -> int:
        """Process id (also the id of its process group and session)."""
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """Exit code; negative for a signal (-15 SIGTERM, -9 SIGKILL); None while it runs."""
        return self.popen.poll()

    @property
    def running(self) -> bool:
        """True while the process has not exited."""
        return self.popen.poll() is None

    @property
    def stopped(self) -> bool:
        """True once the launcher began to stop it on purpose (``down``): an exit after that is no fault."""
        return self._stopping or self._done

    def check_ready(self) -> bool:
        """Read what it printed since the last call and look for the ``ready`` regex (non-blocking).

        Returns:
            :attr:`ready`.
        """
        if self.ready:
            return True
        pattern = self.spec.ready
        if pattern is None:
            self.ready = True
            return True
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._offset)
                chunk = log.read()
        except OSError:
            return False
        self._offset += len(chunk)
        lines = (self._tail + self._decoder.decode(chunk)).split("\n")
        self._tail = lines[-1][-65536:]
        regex = re.compile(pattern)
        self.ready = any(regex.search(line) for line in lines)
        return self.ready

    def log_tail(self, lines: int | None = ERROR_TAIL) -> str:
        """The last ``lines`` lines of its log (all of it for None); "" if the log cannot be read. Tokens are shown
        as ``...`` (in URLs, and the hub token it was given wherever it printed it): what it returns gets shown in
        notebooks and error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        if lines is not None:
            text = "".join(text.splitlines(keepends=True)[-lines:]) if lines > 0 else ""
        return redact_text(text, self.secrets)


def _libc_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return None


_PRCTL = _libc_prctl()
_PR_SET_PDEATHSIG = 1


def _child_setup(parent: int) -> Any:
    """A ``preexec_fn`` asking the kernel to SIGTERM the child when the launching thread dies (Linux only)."""
    prctl = _PRCTL
    if prctl is None:
        return None

    def setup() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return setup


def _group_alive(pgid: int) -> bool:
    """True while a process group has a member that is not a zombie (zombies are only waiting to be reaped)."""
    if sys.platform.startswith("linux"):
        try:
            entries = os.listdir("/proc")
        except OSError:  # pragma: no cover - /proc not mounted
            entries = []
        else:
            for entry in entries:
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat", "rb") as stat:
                        fields = stat.read().rsplit(b")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
                    return True
            return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a reused id owned by someone else
        return False
    return True


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


_LAUNCHERS: weakref.WeakSet[Launcher] = weakref.WeakSet()


class Launcher:
    """Starts components as OS processes and stops them (whole process groups).

    Args:
        log_dir: folder for the ``<name>.log`` files (created if needed); None makes a fresh temporary folder,
            which is kept so the logs outlive the processes.

    A launcher still holding running processes is stopped by an ``atexit`` hook (``down(timeout=5)``) when the
    interpreter exits normally. On Linux the children also die (SIGTERM) when the thread that started them dies,
    even by SIGKILL (``PR_SET_PDEATHSIG``): start them from a long-lived thread, e.g. the notebook's main thread.
    Grandchildren are not covered by that signal, only by :meth:`down`.
    """

    def __init__(self, log_dir: str | os.PathLike[str] | None = None) -> None:
        if log_dir is None:
            self.log_dir = Path(tempfile.mkdtemp(prefix="swergio-launcher-"))
        else:
            self.log_dir = Path(log_dir)
            self.log_dir.mkdir(parents=True, exist_ok=True)
        self._procs: dict[str, ComponentProcess] = {}
        _LAUNCHERS.add(self)

    # -- inspection --------------------------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self._procs

    def __getitem__(self, name: str) -> ComponentProcess:
        return self._get(name)

    def __iter__(self) -> Iterator[ComponentProcess]:
        return iter(list(self._procs.values()))

    def __len__(self) -> int:
        return len(self._procs)

    def __repr__(self) -> str:
        running = sum(p.running for p in self._procs.values())
        return f"<Launcher {running}/{len(self._procs)} running, logs in {str(self.log_dir)!r}>"

    @property
    def processes(self) -> list[ComponentProcess]:
        """Every component started (running or not), in start order."""
        return list(self._procs.values())

    async def exits(
        self, rooms_of: Callable[[str], frozenset[str]] | None = None, interval: float = WATCH_INTERVAL
    ) -> AsyncIterator[ComponentExited]:
        """Watch the processes, every ``interval`` seconds, for ever: yield a :class:`ComponentExited` once for each
        that exits by itself (one that :meth:`down` began to stop does not count).

        Args:
            rooms_of: the rooms of a component, by name (a hub in this process can tell); asked while it runs and
                remembered for its report. None: reports name no rooms.
            interval: seconds between two looks.
        """
        reported: set[int] = set()
        rooms: dict[str, frozenset[str]] = {}
        while True:
            for proc in self.processes:
                if proc.stopped or proc.pid in reported:
                    continue
                code = proc.returncode
                if code is None:
                    if rooms_of is not None:
                        rooms[proc.name] = rooms_of(proc.name) or rooms.get(proc.name, frozenset())
                    continue
                reported.add(proc.pid)
                yield ComponentExited(proc.name, code, rooms.get(proc.name, frozenset()), proc.log_tail())
            await asyncio.sleep(interval)

    def status(self) -> list[dict[str, Any]]:
        """One row per component, in start order.

        Returns:
            Dicts with ``name``, ``pid``, ``running`` (bool), ``returncode`` (None while running; negative for a
            signal), ``ready`` (bool), ``log`` (path str), ``started`` (seconds since the epoch), ``command`` (str).
        """
        rows = []
        for proc in self._procs.values():
            proc.check_ready()
            rows.append(
                {
                    "name": proc.name,
                    "pid": proc.pid,
                    "running": proc.running,
                    "returncode": proc.returncode,
                    "ready": proc.ready,
                    "log": str(proc.log_path),
                    "started": proc.started,
                    "command": shlex.join(proc.argv),
                }
            )
        return rows

    def logs(self, name: str, tail: int | None = 200) -> str:
        """What a component printed (stdout and stderr, interleaved as written), with launcher header lines.

        Args:
            name: the component.
            tail: number of last lines to return; None returns the whole log.

        Raises:
            LauncherError: no component has that name.
        """
        return self._get(name).log_tail(tail)

    def _get(self, name: str) -> ComponentProcess:
        try:
            return self._procs[name]
        except KeyError:
            known = ", ".join(self._procs) or "none"
            raise LauncherError(f"no component named {name!r} (started: {known})") from None

    # -- starting ----------------------------------------------------------------------------------------------

    def start(self, specs: Iterable[ComponentSpec] | ComponentSpec, hub_url: str | None) -> list[ComponentProcess]:
        """Start components at once (no delay, no readiness wait) and return without waiting.

        Args:
            specs: the components, started in order.
            hub_url: replaces ``{hub}`` and follows ``--hub``; may be None if no component needs it.

        Returns:
            The started processes, in order.

        Raises:
            LauncherError: a name is already running here, a component needs a hub URL and none is given, or the
                program cannot be executed (not found, not executable, bad cwd). Components before the failing one
                are left running.
        """
        specs = [specs] if isinstance(specs, ComponentSpec) else list(specs)
        self._check_startable(specs, hub_url)
        return [self._spawn(spec, spec.hub or hub_url) for spec in specs]

    def _check_startable(self, specs: Sequence[ComponentSpec], hub_url: str | None) -> None:
        seen: set[str] = set()
        for spec in specs:
            if not isinstance(spec, ComponentSpec):
                raise LauncherError(f"expected ComponentSpec, got {type(spec).__name__}")
            if spec.name in seen:
                raise LauncherError.about(spec.name, "name", "is used by more than one component")
            seen.add(spec.name)
            old = self._procs.get(spec.name)
            if old is not None and old.running:
                raise LauncherError.about(spec.name, "name", f"is already running here (pid {old.pid}); stop it first")
            spec.argv(spec.hub or hub_url)  # raises if it needs a hub URL
            spec.environment(spec.hub or hub_url)

    def _spawn(self, spec: ComponentSpec, hub_url: str | None) -> ComponentProcess:
        argv = spec.argv(hub_url)
        env = spec.environment(hub_url)
        log_path = self.log_dir / f"{spec.name}.log"
        started = time.time()
        stamp = datetime.fromtimestamp(started).isoformat(timespec="seconds")
        with open(log_path, "ab") as log:
            log.write(f"--- swergio launcher {stamp}: starting {spec.name}: {shlex.join(argv)}\n".encode())
            log.flush()
            offset = log.tell()
            try:
                popen = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=spec.cwd,
                    env=env,
                    start_new_session=True,
                    preexec_fn=_child_setup(os.getpid()),
                    close_fds=True,
                )
            except OSError as exc:
                log.write(f"--- swergio launcher: cannot start {spec.name}: {exc}\n".encode())
                raise LauncherError.about(
                    spec.name, "command" if spec.command else "module", f"cannot be started: {exc}"
                ) from exc
        secrets = (env[TOKEN_ENV],) if env.get(TOKEN_ENV) else ()
        proc = ComponentProcess(spec.name, spec, argv, popen, log_path, started, secrets=secrets, _offset=offset)
        self._procs.pop(spec.name, None)  # a restart goes to the end of the start order
        self._procs[spec.name] = proc
        proc.check_ready()
        return proc

    async def up(self, spec_or_path: Any, hub_url: str | None = None, *, wait: bool = True) -> list[ComponentProcess]:
        """Start a swarm in order: each component ready (if ``wait``), then its ``delay``, then the next.

        Args:
            spec_or_path: anything :func:`load_spec` takes (YAML path, mapping, list, :class:`ComponentSpec`).
            hub_url: the hub URL; wins over the spec's ``hub:``.
            wait: wait for each component's ``ready`` line (bounded by its ``ready_timeout``, in seconds) before
                starting the next; False only honours the delays.

        Returns:
            The started processes, in order.

        Raises:
            LauncherError: the spec is invalid or a component's own hub (``hub:``) cannot be reached (nothing is
                started), a component cannot be started, exits before it is ready, or is not ready within
                ``ready_timeout``; the message quotes the last lines of its log. The
                components already started (the failing one too, if it still runs) are left running: call
                :meth:`down` or :meth:`adown`.
        """
        specs = load_spec(spec_or_path)
        hub = hub_url if hub_url is not None else specs.hub
        self._check_startable(specs, hub)
        await check_hubs(specs)
        started = []
        for index, spec in enumerate(specs):
            proc = self._spawn(spec, spec.hub or hub)
            started.append(proc)
            if wait:
                await self.wait_ready(spec.name)
            if spec.delay and index < len(specs) - 1:
                await asyncio.sleep(spec.delay)
        return started

    async def wait_ready(self, name: str, timeout: float | None = None) -> ComponentProcess:
        """Wait until a component has printed its ``ready`` line, polling its log without blocking the loop.

        Args:
            name: the component.
            timeout: seconds; defaults to its spec's ``ready_timeout``.

        Returns:
            The process, now ready.

        Raises:
            LauncherError: unknown name; it exited before it was ready; or the timeout passed (it is left running).
        """
        proc = self._get(name)
        timeout = proc.spec.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        pause = 0.005
        while not proc.check_ready():
            code = proc.returncode
            if code is not None:
                if proc.check_ready():  # it printed the line just before exiting
                    break
                raise LauncherError(
                    f"component {name!r} exited with code {code} before it was ready "
                    f"(waiting for {proc.spec.ready!r}); last lines of {proc.log_path}:\n{proc.log_tail()}"
                )
            if time.monotonic() >= deadline:
                raise LauncherError(
                    f"component {name!r} was not ready within {timeout:g} s (no line matching {proc.spec.ready!r}; "
                    f"it is still running, pid {proc.pid}); last lines of {proc.log_path}:\n{proc.log_tail()}"
                )
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.1)
        return proc

    # -- stopping ----------------------------------------------------------------------------------------------

    def _begin_down(self, names: Iterable[str] | None) -> tuple[list[ComponentProcess], list[ComponentProcess]]:
        chosen = list(self._procs.values()) if names is None else [self._get(n) for n in names]
        pending = []
        for proc in reversed(chosen):
            if proc._done:
                continue
            proc._stopping = True
            if proc.running or _group_alive(proc.pid):
                _signal_group(proc.pid, signal.SIGTERM)
            pending.append(proc)
        return chosen, pending

    @staticmethod
    def _still_alive(pending: list[ComponentProcess]) -> list[ComponentProcess]:
        return [p for p in pending if p.running or _group_alive(p.pid)]

    @staticmethod
    def _finish_down(chosen: list[ComponentProcess], pending: list[ComponentProcess]) -> dict[str, int | None]:
        for proc in pending:
            _signal_group(proc.pid, signal.SIGKILL)
        for proc in chosen:
            if proc._done:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=5.0)  # SIGKILLed or already gone: reaps it at once
            proc._done = proc.returncode is not None
        return {proc.name: proc.returncode for proc in chosen}

    def down(self, timeout: float = 10.0, *, names: Iterable[str] | None = None) -> dict[str, int | None]:
        """Stop components: SIGTERM to each process group (last started first), wait, then SIGKILL what is left.

        Blocks the calling thread; from a coroutine whose loop also runs the hub, use :meth:`adown`. Idempotent:
        stopped components are not signalled again. Logs are kept.

        Args:
            timeout: seconds to wait, for all of them together, before SIGKILL.
            names: the components to stop; None stops all.

        Returns:
            ``{name: returncode}`` (negative for a signal: -15 SIGTERM, -9 SIGKILL; None if it could not be reaped).

        Raises:
            LauncherError: an unknown name in ``names``.
        """
        stopping = self._stopping(names, timeout)
        try:
            while True:
                time.sleep(next(stopping))
        except StopIteration as done:
            return done.value

    async def adown(self, timeout: float = 10.0, *, names: Iterable[str] | None = None) -> dict[str, int | None]:
        """:meth:`down` that waits with ``asyncio.sleep``, so a hub in the same event loop keeps serving meanwhile.

        Args and Returns: as :meth:`down`.
        """
        stopping = self._stopping(names, timeout)
        try:
            while True:
                await asyncio.sleep(next(stopping))
        except StopIteration as done:
            return done.value

    def _stopping(self, names: Iterable[str] | None, timeout: float) -> Generator[float, None, dict[str, int | None]]:
        """Signal the components, then yield the seconds to pause between polls; returns :meth:`down`'s result.

        Shared by :meth:`down` (which sleeps) and :meth:`adown` (which awaits).
        """
        chosen, pending = self._begin_down(names)
        deadline = time.monotonic() + timeout
        pause = 0.005
        while pending:
            pending = self._still_alive(pending)
            if not pending or time.monotonic() >= deadline:
                break
            yield min(pause, max(0.0, deadline - time.monotonic()))
            pause = min(pause * 2, 0.05)
        return self._finish_down(chosen, pending)

    def close(self) -> None:
        """Stop every component (:meth:`down` with the default timeout)."""
        self.down()

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    async def __aenter__(self) -> Launcher:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.adown()


async def check_hubs(specs: Iterable[ComponentSpec], timeout: float = HUB_CHECK_TIMEOUT) -> None:
    """Check that each hub a component names for itself (``hub:``, another host's) accepts a connection with its
    token, before anything is started.

    Raises:
        LauncherError: naming the component, the hub (token hidden) and why it cannot be reached (nothing answers,
            no handshake within ``timeout`` seconds, or the hub refuses the token).
    """
    checked: set[str] = set()
    for spec in specs:
        if spec.hub is None or spec.hub in checked:
            continue
        try:
            await probe(spec.hub, timeout)
        except (OSError, TimeoutError) as exc:
            problem = f"{redact(spec.hub)} cannot be reached: {exc or type(exc).__name__}"
            raise LauncherError.about(spec.name, "hub", problem) from None
        checked.add(spec.hub)


@atexit.register
def _stop_all_launchers() -> None:
    for launcher in list(_LAUNCHERS):
        if any(not p._done for p in launcher.processes):
            with contextlib.suppress(Exception):
                launcher.down(timeout=5.0)
