"""A Node component in a demo next to Python components: the contextual bandit's world in JavaScript
(``js/examples/bandit-world.js``) with the Python policy server and trainer (``swergio_nb.examples.bandit``), each
its own process on a ``swergio-nb hub``. The policy learns from the Node world's delayed rewards: its regret falls
well below the uniform random policy's."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.helpers import hub_process
from tests.js.conftest import JS

EVENTS = 600


@contextlib.contextmanager
def component(module: str, url: str, *args: str) -> Iterator[subprocess.Popen]:
    """``python -m MODULE --hub URL ARGS``, once it says it is connected; stopped at the end."""
    proc = subprocess.Popen([sys.executable, "-m", module, "--hub", url, *args], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert " connected to " in line, line
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        proc.stdout.close()


@pytest.mark.timeout(180)
def test_the_node_world_teaches_the_python_policy(node: str) -> None:
    with (
        hub_process() as (url, _),
        component("swergio_nb.examples.bandit.server", url, "--policy", "linucb", "--seed", "0"),
        component("swergio_nb.examples.bandit.trainer", url, "--policy", "linucb", "--batch-size", "32"),
    ):
        world = JS / "examples" / "bandit-world.js"
        result = subprocess.run(
            [node, str(world), "--hub", url, "--events", str(EVENTS)], capture_output=True, text=True, timeout=120
        )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    print(summary)
    assert summary["events"] == summary["rewards_sent"] == EVENTS
    assert summary["policy_version"] > 0, summary  # the trainer pushed weights learned from the world's rewards
    uniform = summary["uniform_regret_per_event"]
    assert summary["regret_per_event_second_half"] < 0.5 * uniform, summary
    assert summary["regret_per_event_second_half"] < summary["regret_per_event_first_half"], summary
