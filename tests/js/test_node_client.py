"""The JavaScript client against the real Python hub, in Node: ``node --test js/test/`` with the hub's URL.

A ``swergio-nb hub`` process on a free port and the Python component :mod:`tests.js.peer` on it; the Node suites
talk to both (interop both ways: text and binary frames, arrays bit for bit, ROOT_ID chains, request deadlines,
the hub's refusals, reconnection), once with the WebSocket the client picks by default (Node 20: the ``ws``
package) and once with the platform's global one (as in browsers and Node 22+). Node's output is shown on failure.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import pytest

from tests.helpers import hub_process
from tests.js.conftest import JS
from tests.js.peer import build_peer

#: Seconds the Node suites may take together (they take a few; the reconnection suite restarts a hub).
NODE_TIMEOUT = 120.0


async def run_node(node: str, *args: str, env: dict[str, str]) -> tuple[int, str]:
    """Run ``node ARGS`` in js/ (bounded by :data:`NODE_TIMEOUT`); returns its exit code and its output."""
    proc = await asyncio.create_subprocess_exec(
        node, *args, cwd=JS, env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), NODE_TIMEOUT)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        raise AssertionError(f"node did not finish in {NODE_TIMEOUT:.0f} s:\n{out.decode()}") from None
    return proc.returncode, out.decode()


def suites() -> list[str]:
    """The Node suites, ``js/test/*.test.js`` (relative to js/; the other files there are their helpers)."""
    return sorted(str(path.relative_to(JS)) for path in (JS / "test").glob("*.test.js"))


def platform_websocket_flags(node: str) -> list[str] | None:
    """Node's options that give it the platform's (undici's) global WebSocket where the client would otherwise take
    the ``ws`` package's: ``--experimental-websocket`` on Node 20-21; None where that is the default already (Node
    22+: the plain run covers it)."""
    probe = "process.exit(typeof WebSocket === 'function' ? 0 : 1)"
    if subprocess.run([node, "-e", probe], timeout=30).returncode == 0:
        return None
    flags = ["--experimental-websocket"]
    assert subprocess.run([node, *flags, "-e", probe], timeout=30).returncode == 0, "no WebSocket with the flag"
    return flags


@pytest.mark.parametrize("websocket", ["default", "platform"])
@pytest.mark.timeout(180)
async def test_node_suites_against_the_python_hub_and_a_python_peer(node: str, websocket: str) -> None:
    flags: list[str] | None = []
    if websocket == "platform":
        flags = platform_websocket_flags(node)
        if flags is None:
            pytest.skip("this Node's default WebSocket is the platform's: the default run covered it")
    with hub_process() as (url, _):
        async with build_peer(url) as peer:
            code, output = await run_node(
                node, *flags, "--test", "--test-reporter=spec", *suites(),
                env={"SWERGIO_HUB_URL": url, "SWERGIO_PYTHON": sys.executable},
            )  # fmt: skip
            handled = sum(h.calls for h in peer.handlers)
    print(output)
    assert code == 0, output
    passed = re.search(r"^ℹ pass (\d+)$", output, re.M)
    assert passed and int(passed[1]) > 0 and re.search(r"^ℹ fail 0$", output, re.M), output
    assert handled >= 8, f"the Python peer handled {handled} messages only"
