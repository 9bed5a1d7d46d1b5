"""``%swergio``: the notebook's control-room magics (``%load_ext swergio_nb`` registers them).

Usage (``%swergio --help``, ``%swergio COMMAND --help``)::

    %swergio hub start [--host H] [--port P] [--in-kernel]
                                               an in-kernel hub on the kernel's loop (port 0: a free one); in a
                                               kernel of a Jupyter server with the swergio extension, that
                                               server's hub unless --in-kernel
    %swergio hub attach URL                    use a hub running elsewhere
    %swergio hub stop | status                 status says which hub is in use (never its token)
    %swergio connect NAME [URL] [--as VAR]     a kernel-side Client bound to the notebook variable NAME (or VAR)
    %swergio rooms                             rooms and their members
    %swergio monitor [ROOM ...] [--every-message]  the live room-traffic widget (optionally filtered to rooms)
    %swergio send ROOM TYPE [JSON]             send a message with DATA = the JSON value
    %swergio up FILE.yaml                      launch component processes (returns an awaitable)
    %swergio down                              stop them (returns an awaitable)
    %swergio ps                                their status
    %swergio logs NAME [--tail N]              a component's captured stdout and stderr
    %swergio errors                            the handler-error log widget

The engine is :class:`~swergio_nb.notebook.kernel.KernelSession`; this module only parses lines and displays results.
What the session refuses (any :class:`~swergio_nb.exceptions.SwergioError`: no hub, a hub already in use, an unknown
component...) is shown as IPython's ``UsageError``, one line without a traceback.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.display import display
from IPython.utils.text import format_screen

from ..exceptions import SwergioError
from ..protocol.urls import redact
from .kernel import KernelSession

__all__ = ["SwergioMagics", "build_parser"]


class _HelpShown(Exception):
    """``--help`` was printed: nothing more to do."""


class _Parser(MagicArgumentParser):
    """IPython's magic argument parser with ``--help`` and plain-text help; raises instead of exiting."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("add_help", True)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)

    def exit(self, status: int = 0, message: str | None = None) -> None:  # noqa: D102
        if message:
            print(message)
        raise _HelpShown

    def error(self, message: str) -> None:  # noqa: D102
        raise UsageError(f"%swergio: {message}\n{self.format_usage()}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``%swergio`` (subcommands as in the module docstring)."""
    parser = _Parser(prog="%swergio", description="swergio control room: hub, clients, rooms, component processes.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    hub = sub.add_parser("hub", help="start, attach, stop or inspect the hub")
    hub_sub = hub.add_subparsers(dest="action", required=True, parser_class=_Parser)
    start = hub_sub.add_parser("start", help="start an in-kernel hub (in a Jupyter server's kernel: use the server's)")
    start.add_argument("--host", default="127.0.0.1", help="interface to bind (default %(default)s)")
    start.add_argument("--port", type=int, default=8765, help="TCP port; 0 picks a free one (default %(default)s)")
    start.add_argument(
        "--in-kernel",
        action="store_true",
        help="start a hub in this kernel even when its Jupyter server serves one (default: use the server's)",
    )
    attach = hub_sub.add_parser("attach", help="use a hub running elsewhere")
    attach.add_argument("url", help="e.g. ws://127.0.0.1:8765")
    hub_sub.add_parser("stop", help="stop the in-kernel hub (or forget the attached one or the server's)")
    hub_sub.add_parser("status", help="which hub (source), URL without its token, connections, rooms, counters")
    connect = sub.add_parser("connect", help="a kernel-side client bound to a notebook variable")
    connect.add_argument("name", help="component name on the hub (and variable name unless --as)")
    connect.add_argument("url", nargs="?", default=None, help="hub URL (default: the session's hub)")
    connect.add_argument("--as", dest="var", default=None, help="notebook variable to bind the client to")
    sub.add_parser("rooms", help="rooms and their members")
    monitor = sub.add_parser("monitor", help="the live room-traffic widget")
    monitor.add_argument("rooms", nargs="*", help="show only these rooms")
    monitor.add_argument(
        "--every-message",
        action="store_true",
        help="a copy of every message from _logging (default: the hub's summary from _traffic, 10 per second)",
    )
    send = sub.add_parser("send", help="send a message")
    send.add_argument("room")
    send.add_argument("type", help="message TYPE, e.g. DATA/TEXT")
    send.add_argument("data", nargs="*", help="DATA as JSON (a bare word is sent as a string)")
    up = sub.add_parser("up", help="launch component processes from a YAML file")
    up.add_argument("file")
    sub.add_parser("down", help="stop the component processes")
    sub.add_parser("ps", help="status of the component processes")
    logs = sub.add_parser("logs", help="a component's captured output")
    logs.add_argument("name")
    logs.add_argument("--tail", type=int, default=200, help="last lines (default %(default)s)")
    sub.add_parser("errors", help="the handler-error log widget")
    return parser


def _table(rows: dict[str, list[str]]) -> str:
    if not rows:
        return "(no rooms)"
    width = max(len(room) for room in rows)
    return "\n".join(f"{room:<{width}}  {', '.join(members)}" for room, members in sorted(rows.items()))


@magics_class
class SwergioMagics(Magics):
    """The ``%swergio`` line magic. The shell's :class:`KernelSession` is :attr:`session`."""

    def __init__(self, shell: Any, session: KernelSession) -> None:
        super().__init__(shell)
        self.session = session
        self.parser = build_parser()
        self.swergio.__func__.__doc__ = format_screen(self.parser.format_help())

    @line_magic
    def swergio(self, line: str) -> Any:
        """(replaced by the parser's help in __init__)"""
        try:
            args = self.parser.parse_argstring(line)
        except _HelpShown:
            return None
        try:
            return getattr(self, f"_do_{args.command}")(args)
        except SwergioError as exc:
            raise UsageError(f"%swergio {args.command}: {exc}") from None

    # -- subcommands -------------------------------------------------------------------------------------------

    def _do_hub(self, args: argparse.Namespace) -> Any:
        session = self.session
        if args.action == "start":
            reused = session.reuses_hub(args.host, args.port, in_kernel=args.in_kernel)
            hub = session.start_hub(args.host, args.port, in_kernel=args.in_kernel)
            if reused:
                print(f"reusing the swergio hub at {redact(session.require_hub())} (%swergio hub stop for a new one)")
                return hub
            if hub is None:
                print(
                    f"using the Jupyter server's swergio hub at {redact(session.require_hub())} "
                    "(%swergio hub start --in-kernel for a hub in this kernel)"
                )
                return None
            print(f"swergio hub listening on {redact(hub.url)} (the URL with its token: hub.url)")
            return hub
        if args.action == "attach":
            session.attach_hub(args.url)
            print(f"using the hub at {redact(args.url)}")
            return None
        if args.action == "stop":
            return session.stop_hub()
        return session.hub_status()

    def _do_connect(self, args: argparse.Namespace) -> None:
        var = args.var or args.name
        if not var.isidentifier():
            raise UsageError(f"%swergio connect: {var!r} is not a valid variable name; use --as VAR")
        reused = self.session.reuses_client(args.name, args.url)
        client = self.session.connect(args.name, args.url)
        self.shell.user_ns[var] = client
        if reused:
            print(f"{var} = Client({client.name!r}, {redact(client.url)!r}), reused with its handlers")
            return
        print(f"{var} = Client({client.name!r}, {redact(client.url)!r}), connecting in the background")
        if len(self.session.clients) == 1:
            display(self.session.error_log())

    def _do_rooms(self, args: argparse.Namespace) -> Any:
        session = self.session
        if session.hub is not None:
            print(_table(session.hub.router.room_table()))
            return None
        client = session.default_client()
        handle = display("(asking the hub...)", display_id=True)

        async def ask() -> dict[str, list[str]]:
            table = await client.room_table()
            handle.update(_table(table))
            return table

        return session.spawn(ask(), "listing rooms")

    def _do_monitor(self, args: argparse.Namespace) -> Any:
        from .widgets import TrafficWidget

        widget = TrafficWidget()
        if args.rooms:
            widget.room_filter = ",".join(args.rooms)
        widget.attach(self.session.default_client(), feed="messages" if args.every_message else "summary")
        self.session.monitors.append(widget)
        return widget

    def _do_send(self, args: argparse.Namespace) -> Any:
        text = " ".join(args.data)
        try:
            data = json.loads(text) if text else None
        except json.JSONDecodeError:
            data = text
        msg = {"TYPE": args.type, "TO_ROOM": args.room}
        if data is not None:
            msg["DATA"] = data
        return self.session.spawn(self.session.default_client().send(msg), f"sending {args.type} to {args.room}")

    def _do_up(self, args: argparse.Namespace) -> Any:
        pending, reused = self.session.up(args.file)
        if reused:
            print(f"already running, reused: {', '.join(reused)}")
        return pending

    def _do_down(self, args: argparse.Namespace) -> Any:
        # asynchronous: an in-kernel hub must keep serving while the components close their connections
        return self.session.spawn(self.session.launcher.adown(), "stopping the components")

    def _do_ps(self, args: argparse.Namespace) -> None:
        rows = self.session.launcher.status()
        if not rows:
            print("(no components)")
        for row in rows:
            state = "running" if row["running"] else f"exited {row['returncode']}"
            ready = "ready" if row["ready"] else "not ready"
            print(f"{row['name']:<16} pid {row['pid']:<8} {state:<10} {ready:<9} log {row['log']}")

    def _do_logs(self, args: argparse.Namespace) -> None:
        print(self.session.launcher.logs(args.name, tail=args.tail))

    def _do_errors(self, args: argparse.Namespace) -> Any:
        return self.session.error_log()
