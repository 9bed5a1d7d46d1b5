"""Running an example component as its own OS process: ``python -m swergio_nb.examples.<name>.<component>``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable, Sequence

from ..protocol.urls import redact
from ..transport.client import Client

__all__ = ["component_parser", "serve_component"]


def component_parser(description: str, name: str) -> argparse.ArgumentParser:
    """An argument parser with the options every component process takes: ``--hub``, ``--name``, ``--seed``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--hub", default="ws://127.0.0.1:8765", help="URL of the hub (default %(default)s)")
    parser.add_argument("--name", default=name, help="component name on the hub (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default %(default)s)")
    return parser


def serve_component(build: Callable[[], Client], args: argparse.Namespace, argv: Sequence[str] | None = None) -> None:
    """Build the component's client, connect, and serve until the hub closes or SIGTERM/SIGINT arrives."""
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def main() -> None:
        client = build()
        stop = asyncio.get_running_loop().create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        await client.connect()
        print(f"{client.name} connected to {redact(client.url)}", flush=True)
        serving = asyncio.ensure_future(client.run())
        await asyncio.wait([serving, stop], return_when=asyncio.FIRST_COMPLETED)
        await client.close()
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)

    asyncio.run(main())
