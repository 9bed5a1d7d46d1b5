"""The notebook kernel as a swergio control room: hub, clients, component processes and tasks of one IPython shell.

A :class:`KernelSession` lives on the kernel's asyncio event loop (the loop cells run on: in ipykernel >= 7.4,
``asyncio.get_running_loop()`` inside a cell). Everything it starts runs there: an in-kernel hub, kernel-side clients
whose handlers fire while the kernel is idle and while a cell awaits, widget feeders. It keeps a reference to every
task it starts and undoes everything in :meth:`KernelSession.close` (called by ``%unload_ext swergio_nb``).

Magics are synchronous, so operations that need the network start in the background and hand back a
:class:`Pending` that a later line (or cell) can ``await``::

    up = %swergio up trebuchet.yaml
    await up                      # the components are running and ready

Which hub: ``%swergio hub start`` starts one in the kernel, ``%swergio hub attach URL`` uses one elsewhere. In a
kernel started by a Jupyter server that runs the swergio extension (:mod:`.server`), the session uses that server's
hub (:func:`~.discovery.server_hub`: URL and token from the server, never from the notebook) when a client needs
one and none was chosen, and ``%swergio hub start`` uses it too unless ``--in-kernel`` is given: the same notebook
shares the server's hub under Jupyter and starts its own when run headless (nbclient, no server).

Handler errors of kernel-side clients are shown in the notebook in the error log widget (an ``ipywidgets.Output``
displayed under the first ``%swergio connect``; ``%swergio errors`` shows it again) and kept in
:attr:`KernelSession.errors`; they never end as "Task exception was never retrieved".

Limits: a cell that blocks the loop (``time.sleep``, a long CPU loop) pauses every handler and the in-kernel hub
until it returns; nothing is lost meanwhile (messages wait in socket buffers and queues), because neither the
in-kernel hub nor clients time out pings. A connection to an *external* hub with a ping timeout (``swergio-nb hub``
uses 20 s + 20 s; a Jupyter server's hub pings every 30 s) is closed by that hub if the cell blocks longer than that;
the client reconnects and rejoins its rooms once the cell returns.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import tempfile
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidState
from ..protocol.endpoint import ConnectionState
from ..protocol.urls import redact
from ..transport.client import Client, Handler, Trigger
from ..transport.hub import Hub
from .discovery import server_hub, server_hub_status

if TYPE_CHECKING:
    from ..swarm.launcher import Launcher

__all__ = ["KernelSession", "Pending", "HandlerError", "IN_KERNEL", "ATTACHED", "JUPYTER_SERVER"]

logger = logging.getLogger("swergio_nb.notebook.kernel")

#: Seconds between two looks at the session's component processes.
WATCH_INTERVAL = 0.5

#: :attr:`KernelSession.hub_source`: a hub started in this kernel (``%swergio hub start``).
IN_KERNEL = "in-kernel"
#: :attr:`KernelSession.hub_source`: a hub elsewhere, by URL (``%swergio hub attach URL``).
ATTACHED = "attached"
#: :attr:`KernelSession.hub_source`: the hub of the Jupyter server that started this kernel.
JUPYTER_SERVER = "jupyter-server"


class Pending:
    """A background operation started by synchronous code; ``await`` it to wait for its result.

    Args:
        future: the running task or future.
        description: what it does, for the repr (``<swergio: starting 2 components: running>``).
    """

    def __init__(self, future: asyncio.Future, description: str) -> None:
        self.future = future
        self.description = description

    def __await__(self):
        return asyncio.shield(self.future).__await__()

    def done(self) -> bool:
        """True once the operation finished (successfully or not)."""
        return self.future.done()

    def result(self) -> Any:
        """The result; raises what the operation raised, or ``asyncio.InvalidStateError`` while it runs."""
        return self.future.result()

    def __repr__(self) -> str:
        if not self.future.done():
            state = "running (await it to wait)"
        elif self.future.cancelled():
            state = "cancelled"
        elif self.future.exception() is not None:
            state = f"failed: {self.future.exception()!r}"
        else:
            state = "done"
        return f"<swergio: {self.description}: {state}>"


class HandlerError:
    """A handler that raised, as kept by :attr:`KernelSession.errors`."""

    def __init__(self, client: str, handler: Handler, message: dict, exc: BaseException) -> None:
        self.client = client
        self.handler = handler.name
        self.message_type = message.get("TYPE")
        self.message_id = message.get("ID")
        self.exception = exc
        self.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))

    def __repr__(self) -> str:
        return f"<HandlerError {self.client}.{self.handler} on {self.message_type}: {self.exception!r}>"


def _alive(client: Client) -> bool:
    """True unless the client is closed (by ``close()``, or lost without reconnection)."""
    return client.endpoint.state is not ConnectionState.CLOSED


def _notebook_function(fn: Any) -> tuple[str, str] | None:
    """The key of a plain function defined in the notebook (``__main__``, ``__qualname__``), else None."""
    if inspect.isfunction(fn) and fn.__module__ == "__main__" and fn.__name__ != "<lambda>":
        return fn.__module__, fn.__qualname__
    return None


class _NotebookClient(Client):
    """A kernel-side client: registering a notebook function again on the same trigger replaces it (a cell run
    twice must not double the handlers) and prints so."""

    def add_handler(self, fn: Callable[..., Any], trigger: Trigger, **options: Any) -> Handler:  # noqa: D102
        key = _notebook_function(fn)
        same = [h for h in self.handlers if h.trigger == trigger and _notebook_function(h.fn) == key]
        replaced = same if key is not None else []
        for old in replaced:
            self.remove_handler(old)
        handler = super().add_handler(fn, trigger, **options)
        if replaced:
            print(f"{self.name}: replaced the handler {fn.__qualname__} on {trigger} (registered again)")
        return handler


class KernelSession:
    """swergio's state inside one IPython kernel.

    Args:
        max_errors: handler errors kept in :attr:`errors` (oldest dropped first).

    Attributes:
        hub: the in-kernel hub, if one was started.
        hub_url: the URL (with its token) of the hub in use, or None before one is chosen.
        hub_source: which hub that is: :data:`IN_KERNEL`, :data:`ATTACHED`, :data:`JUPYTER_SERVER`, or None.
    """

    def __init__(self, *, max_errors: int = 100) -> None:
        self.hub: Hub | None = None
        self.hub_url: str | None = None
        self.hub_source: str | None = None
        self.clients: dict[str, Client] = {}
        self.monitors: list[Any] = []
        self.errors: collections.deque[HandlerError] = collections.deque(maxlen=max_errors)
        self._tasks: set[asyncio.Future] = set()
        self._launcher: Launcher | None = None
        self._log_dir: tempfile.TemporaryDirectory | None = None
        self._error_output: Any = None
        self.exits: list[Any] = []  #: ComponentExited of each component process that exited by itself

    # -- background work ---------------------------------------------------------------------------------------

    def spawn(self, work: Awaitable[Any], description: str) -> Pending:
        """Run ``work`` on the kernel's loop, keeping a reference until it ends; returns its :class:`Pending`.

        A failure nobody awaits is logged and shown in the error log widget.
        """
        future = asyncio.ensure_future(work)
        self._tasks.add(future)

        def finished(task: asyncio.Future) -> None:
            self._tasks.discard(task)
            if not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                logger.warning("swergio: %s failed: %r", description, exc)
                self._show_error(f"{description} failed: {exc!r}\n")

        future.add_done_callback(finished)
        return Pending(future, description)

    # -- hub ---------------------------------------------------------------------------------------------------

    def start_hub(self, host: str = "127.0.0.1", port: int = 8765, *, in_kernel: bool = False) -> Hub | None:
        """Start an in-kernel hub on the kernel's loop (bound at once; serving as soon as the cell yields), or use
        the Jupyter server's hub when this kernel has one (:func:`~.discovery.server_hub`) and ``in_kernel`` is False.

        Running it again (a cell run twice) reuses the hub in use when it fits the request: the in-kernel hub on the
        same host with the same port (or port 0), or the server's hub (without ``in_kernel``); :meth:`reuses_hub`
        says whether it will.

        Returns:
            The in-kernel :class:`Hub`, or None when the server's hub is used (its URL is :attr:`hub_url`).

        Raises:
            InvalidState: another hub is already started or attached (the message names it without its token), or
                the server's hub cannot be reached with a token.
            OSError: the address cannot be bound.
        """
        if self.reuses_hub(host, port, in_kernel=in_kernel):
            return self.hub
        self._check_no_hub()
        if not in_kernel and self._use_server_hub():
            return None
        # no ping timeout: the hub shares the kernel's loop, so a blocking cell must not look like dead peers
        hub = Hub(host, port, ping_timeout=None, client_ping_timeout=None)  # a cell may block this loop for long
        pending = hub.start_soon()
        self._tasks.add(pending)
        pending.add_done_callback(self._tasks.discard)
        self.hub, self.hub_url, self.hub_source = hub, hub.url, IN_KERNEL
        return hub

    def reuses_hub(self, host: str = "127.0.0.1", port: int = 8765, *, in_kernel: bool = False) -> bool:
        """Whether :meth:`start_hub` with these arguments would reuse the hub in use (see there)."""
        if self.hub is not None:
            return self.hub.host == host and port in (0, self.hub.port)
        return self.hub_source == JUPYTER_SERVER and not in_kernel

    def _use_server_hub(self) -> bool:
        """Use the Jupyter server's hub if this kernel has one; returns whether it does."""
        url = server_hub()
        if url is None:
            return False
        self.hub_url, self.hub_source = url, JUPYTER_SERVER
        return True

    def attach_hub(self, url: str) -> None:
        """Use a hub that runs elsewhere (``swergio-nb hub``, another kernel) for the clients of this session.

        Raises:
            InvalidState: a hub is already started or attached.
        """
        self._check_no_hub()
        self.hub_url, self.hub_source = url, ATTACHED

    def _check_no_hub(self) -> None:
        if self.hub_url is not None:
            raise InvalidState(f"a hub is already in use at {redact(self.hub_url)}; %swergio hub stop first")

    def stop_hub(self) -> Pending | None:
        """Stop the in-kernel hub (or forget an attached one or the server's); returns the closing :class:`Pending`,
        if any."""
        hub, self.hub, self.hub_url, self.hub_source = self.hub, None, None, None
        if hub is None:
            return None
        return self.spawn(hub.close(), "stopping the hub")

    def hub_status(self) -> dict[str, Any]:
        """Which hub is in use and how it is doing.

        Returns:
            ``url`` (token hidden), ``source`` (:attr:`hub_source`), ``in_kernel``; for an in-kernel hub or the
            Jupyter server's also ``running`` and the hub's summary (:meth:`~swergio_nb.transport.core.HubCore.summary`:
            ``connections``, ``rooms``, ``members``, ``routed``, ``dropped``, ``errors``, ``slow_consumers``,
            ``stats``). When the server does not answer, ``running`` is False and ``error`` says why.
        """
        status: dict[str, Any] = {
            "url": None if self.hub_url is None else redact(self.hub_url),
            "source": self.hub_source,
            "in_kernel": self.hub is not None,
        }
        if self.hub is not None:
            status.update(running=self.hub.running, **self.hub.core.summary())
        elif self.hub_source == JUPYTER_SERVER and self.hub_url is not None:
            try:
                summary = server_hub_status(self.hub_url)
            except OSError as exc:
                status.update(running=False, error=f"the Jupyter server did not answer: {exc}")
            else:
                summary.pop("traffic", None)
                status.update(running=True, **summary)
        return status

    # -- clients -----------------------------------------------------------------------------------------------

    def connect(self, name: str, url: str | None = None, **context: Any) -> Client:
        """A kernel-side client named ``name``, connecting in the background to ``url`` (default: the session's hub).

        Connecting the same name to the same hub again (a cell run twice) returns the client already there, with its
        handlers (:meth:`reuses_client` says whether it will). Its handlers follow the rule of a cell run twice:
        registering a function defined in the notebook again, on the same trigger, replaces the earlier
        registration and prints so (the same function is the same ``__qualname__`` in ``__main__``).

        Raises:
            InvalidState: no URL given and no hub started or attached; or a client of that name is connected to
                another hub.
        """
        url = url or self.require_hub()
        old = self.clients.get(name)
        if old is not None and _alive(old):
            if old.url == url:
                return old
            raise InvalidState(
                f"a client named {name!r} is already connected in this kernel, to {redact(old.url)}; "
                f"close it first (await {name}.close())"
            )
        client = _NotebookClient(name, url, **context)
        client.error_listeners.append(self._on_handler_error)
        self.clients[name] = client
        self.spawn(client.connect_soon(), f"connecting {name} to {redact(url)}")
        return client

    async def add_client(self, client: Client) -> Client:
        """Connect a client built elsewhere (a component's ``build(url, ...)``) as one of this session's: its handler
        errors go to the error log and :meth:`close` closes it.

        A session client of the same name is closed first: a cell that builds a component and is run twice replaces
        the first one instead of being refused by the hub (``name-taken``).

        Returns:
            ``client``, connected.

        Raises:
            NotConnected: the connection failed; HubError: the hub refused it (either way the client is not kept).
        """
        old = self.clients.pop(client.name, None)
        if old is not None and old is not client:
            print(f"{client.name}: closing the client of the same name built before (replaced)")
            await old.close()
        client.error_listeners.append(self._on_handler_error)
        await client.connect()
        self.clients[client.name] = client
        return client

    def reuses_client(self, name: str, url: str | None = None) -> bool:
        """Whether :meth:`connect` would return the client ``name`` already in this kernel."""
        old = self.clients.get(name)
        return old is not None and _alive(old) and old.url == (url or self.hub_url)

    def require_hub(self) -> str:
        """The URL of the session's hub (started or attached; else the Jupyter server's, if this kernel has one).

        Raises:
            InvalidState: there is none yet, or the server's hub cannot be reached with a token.
        """
        if self.hub_url is None and not self._use_server_hub():
            raise InvalidState("no hub in this session: %swergio hub start, or %swergio hub attach URL")
        return self.hub_url

    def default_client(self) -> Client:
        """The session's own client (``notebook``), used by ``%swergio send``, ``rooms`` and ``monitor``."""
        client = self.clients.get("notebook")
        if client is None:
            client = self.connect("notebook")
        return client

    # -- component processes -----------------------------------------------------------------------------------

    @property
    def launcher(self) -> Launcher:
        """The :class:`~swergio_nb.swarm.launcher.Launcher` of this session's component processes.

        While the kernel's loop runs, its processes are watched (every :data:`WATCH_INTERVAL` seconds): one that
        exits by itself (not stopped by ``%swergio down``) is reported in the notebook's error log, naming it, how
        it ended, the rooms that went quiet and the end of its log, and kept in :attr:`exits`. The logs are in a
        temporary folder (``swergio-launcher-*``) that :meth:`close` removes.
        """
        if self._launcher is None:
            from ..swarm.launcher import Launcher

            # the logs live as long as the session: %unload_ext (close) removes the folder
            self._log_dir = tempfile.TemporaryDirectory(prefix="swergio-launcher-")
            self._launcher = Launcher(self._log_dir.name)
            try:
                asyncio.get_running_loop()
            except RuntimeError:  # no loop (a plain script): nothing to watch with
                return self._launcher
            self.spawn(self._watch(self._launcher), "watching the component processes")
        return self._launcher

    def up(self, source: Any) -> tuple[Pending, list[str]]:
        """Start the components of a swarm spec against the session's hub, in the background.

        Running it again (a cell run twice) reuses the components of the spec that still run with the same
        declaration and starts only the others.

        Args:
            source: anything :func:`~swergio_nb.swarm.swarmfile.load_spec` takes (a YAML path, ...).

        Returns:
            The :class:`Pending` of the start (its result: the started processes) and the names reused.

        Raises:
            InvalidState: no hub in this session.
            LauncherError: the spec is invalid (nothing is started).
        """
        from ..swarm.swarmfile import load_spec

        hub_url = self.require_hub()
        specs = load_spec(source)
        running = {proc.name: proc.spec for proc in self.launcher.processes if proc.running}
        reused = [spec.name for spec in specs if running.get(spec.name) == spec]
        fresh = [spec for spec in specs if spec.name not in reused]
        starting = ", ".join(spec.name for spec in fresh) or "no component (all reused)"
        return self.spawn(self.launcher.up(fresh, hub_url), f"starting {starting}"), reused

    async def _watch(self, launcher: Launcher) -> None:
        async for exited in launcher.exits(self._rooms_of, WATCH_INTERVAL):
            self.exits.append(exited)
            logger.warning("swergio: %s", exited)
            self._show_error(f"swergio: {exited}\n")

    def _rooms_of(self, name: str) -> frozenset[str]:
        """Its rooms as the hub in this process sees them (none with a hub elsewhere)."""
        return frozenset() if self.hub is None else self.hub.router.rooms_of(name)

    # -- errors ------------------------------------------------------------------------------------------------

    def error_log(self) -> Any:
        """The ``ipywidgets.Output`` where handler errors appear (created on first use)."""
        if self._error_output is None:
            import ipywidgets

            self._error_output = ipywidgets.Output(layout={"max_height": "20em", "overflow": "auto"})
        return self._error_output

    def _on_handler_error(self, handler: Handler, message: dict, exc: BaseException) -> None:
        client = next((n for n, c in self.clients.items() if handler in c.handlers), "?")
        error = HandlerError(client, handler, message, exc)
        self.errors.append(error)
        self._show_error(
            f"swergio: handler {client}.{error.handler} raised on {error.message_type} "
            f"{error.message_id}:\n{error.traceback}"
        )

    def _show_error(self, text: str) -> None:
        try:
            self.error_log().append_stderr(text)
        except Exception:  # no ipywidgets: the log record is all we can do
            logger.exception("swergio: could not show an error in the notebook")

    # -- teardown ----------------------------------------------------------------------------------------------

    def close(self) -> Pending | None:
        """Stop everything: component processes, monitors, clients, the hub and every task (in the background).

        Returns:
            The :class:`Pending` of the asynchronous part, or None when no loop runs.
        """
        launcher, self._launcher = self._launcher, None
        log_dir, self._log_dir = self._log_dir, None
        for monitor in self.monitors:
            try:
                monitor.detach()
            except Exception:
                logger.exception("swergio: detaching a monitor failed")
        self.monitors.clear()
        clients, self.clients = list(self.clients.values()), {}
        hub, self.hub, self.hub_url, self.hub_source = self.hub, None, None, None
        tasks, self._tasks = list(self._tasks), set()

        async def shutdown() -> None:
            if launcher is not None:  # before the hub: components close their connections cleanly
                await launcher.adown()
            if log_dir is not None:
                log_dir.cleanup()
            for client in clients:
                await client.close()
            if hub is not None:
                await hub.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            if launcher is not None:
                launcher.down()
            if log_dir is not None:
                log_dir.cleanup()
            return None
        future = asyncio.ensure_future(shutdown())
        _CLOSING.add(future)
        future.add_done_callback(_CLOSING.discard)
        return Pending(future, "closing the swergio session")


#: Shutdown tasks of closed sessions, referenced until they finish.
_CLOSING: set[asyncio.Future] = set()
