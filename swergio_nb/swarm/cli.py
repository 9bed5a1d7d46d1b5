"""The ``swergio-nb`` command: ``swergio-nb hub`` serves a hub; ``swergio-nb demo trebuchet`` runs the main job, and
``swergio-nb demo cartpole|melody|bandit`` the other examples."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import json
import logging
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

from ..protocol.limits import (
    DEFAULT_MAX_ROOMS,
    DEFAULT_MAX_SIZE,
    DEFAULT_QUEUE_BYTES,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_STALL_TIMEOUT,
    DEFAULT_TOTAL_QUEUE_BYTES,
    TOKEN_ENV,
)
from ..transport.hub import Hub
from .launcher import ComponentExited
from .spec import LauncherError

__all__ = ["main", "build_parser", "EXAMPLES"]

#: ``swergio-nb demo NAME``: each is the package ``swergio_nb.examples.NAME`` with ``options.add_arguments(parser)``
#: and ``demo.run(args)``; the demo module (torch, gymnasium...) is imported only when that demo runs.
EXAMPLES = {
    "trebuchet": "train the trebuchet control network through the hub",
    "cartpole": "an ensemble of actor-critics learns CartPole-v1 through the hub",
    "melody": "active-learning melody generator with a simulated person",
    "bandit": "contextual bandit with delayed rewards, two architectures",
    "aim": "aim the trebuchet by gradient descent on its inputs, through the simulator and a learned surrogate",
}


def _credentials(path: str | None) -> dict:
    """The roles file: ``{"observer": TOKEN, "names": {NAME: TOKEN}}`` (both optional)."""
    if path is None:
        return {}
    try:
        spec = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        sys.exit(f"swergio-nb hub: cannot read the credentials file {path}: {exc}")
    unknown = set(spec) - {"observer", "names"} if isinstance(spec, dict) else None
    if unknown is None or unknown or not isinstance(spec.get("names", {}), dict):
        sys.exit(f'swergio-nb hub: {path} must hold {{"observer": TOKEN, "names": {{NAME: TOKEN}}}}, got {spec!r:.200}')
    return {"observer_token": spec.get("observer"), "name_tokens": spec.get("names")}


def _tls(certfile: str | None, keyfile: str | None) -> ssl.SSLContext | None:
    """The server's TLS context from a PEM certificate chain (and its key, if in a file of its own)."""
    if certfile is None:
        if keyfile is not None:
            sys.exit("swergio-nb hub: --keyfile needs --certfile")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        sys.exit(f"swergio-nb hub: cannot load the certificate {certfile}: {exc}")
    return context


async def _serve_hub(args: argparse.Namespace) -> None:
    try:
        hub = Hub(
            args.host,
            args.port,
            max_size=args.max_size,
            queue_size=args.queue_size,
            queue_bytes=args.queue_bytes,
            total_queue_bytes=args.total_queue_bytes,
            max_rooms=args.max_rooms,
            flow_control=not args.no_flow_control,
            stall_timeout=args.stall_timeout,
            origins=args.origin,
            ssl=_tls(args.certfile, args.keyfile),
            insecure=args.insecure,
            **_credentials(args.credentials),
            swergio_port=args.swergio_port,
            backplane=args.backplane,
        )
    except ValueError as exc:  # a setting refused (no TLS beyond loopback, roles without a token...)
        sys.exit(f"swergio-nb hub: {exc}")
    try:
        await hub.start()
    except ConnectionError as exc:  # the backplane's Redis cannot be reached
        sys.exit(f"swergio-nb hub: {exc}")
    print(f"swergio hub listening on {hub.url}", flush=True)
    if hub.swergio_address is not None:
        host, port = hub.swergio_address
        print(f"swergio 0.0.2 clients (TCP, no token): Client(name, {host!r}, {port})", flush=True)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    await stop
    await hub.close()


class _HelpFormatter(argparse.HelpFormatter):
    """Help that says every option's default: "(default X)" is added unless the text already speaks of its default
    or there is none to say (None, a flag's False)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if not action.option_strings or "default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default %(default)s)"


class _RawDescriptionHelpFormatter(_HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """:class:`_HelpFormatter` that keeps the description's line breaks."""


class _Parser(argparse.ArgumentParser):
    """The command's parsers (every subcommand's too): :class:`_HelpFormatter` unless told otherwise."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(**kwargs)


HUB_TOKEN_HELP = f"""\
The token: the hub takes it from the environment variable {TOKEN_ENV} if set, else generates a random one;
either way it is part of the URL printed at start (ws://HOST:PORT/?token=...). Components started with
{TOKEN_ENV} in their environment present it by themselves; others need that URL. --credentials adds roles."""


def build_parser() -> argparse.ArgumentParser:
    """The ``swergio-nb`` argument parser (``hub`` and ``demo NAME``); every option's default is in its help."""
    parser = _Parser(prog="swergio-nb", description="Rooms on a WebSocket hub with a backward path.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {importlib.metadata.version('swergio_nb')}")
    parser.add_argument("--log-level", default="WARNING", help="logging level")
    commands = parser.add_subparsers(dest="command", required=True)

    hub = commands.add_parser(
        "hub",
        help="serve a hub",
        description=f"Serve a swergio hub.\n\n{HUB_TOKEN_HELP}",
        formatter_class=_RawDescriptionHelpFormatter,
    )
    hub.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default %(default)s); another than loopback needs --certfile or --insecure",
    )
    hub.add_argument("--port", type=int, default=8765, help="TCP port; 0 picks a free one (default %(default)s)")
    hub.add_argument(
        "--max-size", type=int, default=DEFAULT_MAX_SIZE, help="largest frame in bytes (default %(default)s)"
    )
    hub.add_argument(
        "--queue-size",
        type=int,
        default=DEFAULT_QUEUE_SIZE,
        help="frames queued per connection before the slow-consumer policy applies (default %(default)s)",
    )
    hub.add_argument(
        "--queue-bytes",
        type=int,
        default=DEFAULT_QUEUE_BYTES,
        help="bytes queued per connection before the slow-consumer policy applies (default %(default)s)",
    )
    hub.add_argument(
        "--total-queue-bytes",
        type=int,
        default=DEFAULT_TOTAL_QUEUE_BYTES,
        help="bytes queued in all connections together before it applies (default %(default)s)",
    )
    hub.add_argument(
        "--stall-timeout",
        type=float,
        default=DEFAULT_STALL_TIMEOUT,
        help="seconds a recipient that senders wait for may make no progress before it is cut (default %(default)s)",
    )
    hub.add_argument(
        "--no-flow-control",
        action="store_true",
        help="never make a sender wait for a slow recipient (only the queue bound and the 1013 cut-off apply)",
    )
    hub.add_argument(
        "--max-rooms", type=int, default=DEFAULT_MAX_ROOMS, help="rooms per connection (default %(default)s)"
    )
    hub.add_argument(
        "--swergio-port",
        type=int,
        default=None,
        help="also accept swergio 0.0.2's TCP clients on this loopback port (0 picks one; default: off)",
    )
    hub.add_argument(
        "--backplane",
        metavar="URL",
        help="share the rooms with every hub on this Redis (redis://HOST:PORT/DB); names stay unique across them "
        "(default: off, this hub alone)",
    )

    hub.add_argument(
        "--credentials",
        metavar="FILE",
        help='roles: a JSON file {"observer": TOKEN, "names": {NAME: TOKEN}}; the observer alone may join _logging '
        "and _traffic, and each listed name is registered only with its token (default: the one token does all)",
    )
    hub.add_argument("--certfile", help="PEM certificate chain: serve wss:// (TLS)")
    hub.add_argument("--keyfile", help="PEM private key of --certfile, if not in the same file")
    hub.add_argument(
        "--insecure",
        action="store_true",
        help="serve a non-loopback --host without TLS (the token and all traffic cross the network in clear text)",
    )
    hub.add_argument(
        "--origin",
        action="append",
        default=[],
        help="a browser Origin a hub without a token accepts (repeatable; default: none, only non-browser clients)",
    )

    demo = commands.add_parser("demo", help="run an example end to end")
    examples = demo.add_subparsers(dest="example", required=True)
    for name, description in EXAMPLES.items():
        importlib.import_module(f"..examples.{name}.options", __package__).add_arguments(
            examples.add_parser(name, help=description)
        )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if args.command == "hub":
            asyncio.run(_serve_hub(args))
        else:
            importlib.import_module(f"..examples.{args.example}.demo", __package__).run(args)
    except (ComponentExited, LauncherError) as exc:  # a component that died or did not start: its name, no traceback
        sys.exit(f"swergio-nb: {exc}")


if __name__ == "__main__":
    main()
