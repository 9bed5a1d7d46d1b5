"""The ``swergio-nb`` command: ``swergio-nb hub`` serves a hub; ``swergio-nb demo trebuchet`` runs the main job, and
``swergio-nb demo cartpole|melody|bandit`` the other examples."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
from collections.abc import Sequence

from ..protocol.limits import (
    DEFAULT_MAX_ROOMS,
    DEFAULT_MAX_SIZE,
    DEFAULT_QUEUE_BYTES,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_STALL_TIMEOUT,
    DEFAULT_TOTAL_QUEUE_BYTES,
)
from ..transport.hub import Hub
from .spec import LauncherError
from .swarm import ComponentExited

__all__ = ["main", "EXAMPLES"]

#: ``swergio-nb demo NAME``: each is the package ``swergio_nb.examples.NAME`` with ``options.add_arguments(parser)``
#: and ``demo.run(args)``; the demo module (torch, gymnasium...) is imported only when that demo runs.
EXAMPLES = {
    "trebuchet": "train the trebuchet control network through the hub",
    "cartpole": "an ensemble of actor-critics learns CartPole-v1 through the hub",
    "melody": "active-learning melody generator with a simulated person",
    "bandit": "contextual bandit with delayed rewards, two architectures",
    "aim": "aim the trebuchet by gradient descent on its inputs, through the simulator and a learned surrogate",
}


async def _serve_hub(args: argparse.Namespace) -> None:
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
        swergio_port=args.swergio_port,
    )
    await hub.start()
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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="swergio-nb", description="Rooms on a WebSocket hub with a backward path.")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)

    hub = commands.add_parser("hub", help="serve a hub")
    hub.add_argument("--host", default="127.0.0.1", help="interface to bind (default %(default)s)")
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

    demo = commands.add_parser("demo", help="run an example end to end")
    examples = demo.add_subparsers(dest="example", required=True)
    for name, description in EXAMPLES.items():
        importlib.import_module(f"..examples.{name}.options", __package__).add_arguments(
            examples.add_parser(name, help=description)
        )
    args = parser.parse_args(argv)
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
