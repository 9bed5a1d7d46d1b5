"""A component that runs against another host's hub (``hub:`` in its swarm entry): the hub is checked before
anything starts, by ``Launcher.up`` and so by ``%swergio up``. "Another host" is a hub process of its own, with its
own token, reached by URL as a remote one would be."""

from __future__ import annotations

import json
import socket
import sys
import textwrap

import pytest

from swergio_nb import Client
from swergio_nb.protocol.urls import split_token, with_token
from swergio_nb.swarm.launcher import Launcher
from swergio_nb.swarm.spec import LauncherError

from ..helpers import hub_process
from ..notebook.test_magics import run, shell  # noqa: F401 - the fixture

#: A component that joins room ``far`` on the hub it is given and says so.
FARAWAY = textwrap.dedent(
    """
    import asyncio, sys
    from swergio_nb import Client
    async def main():
        async with Client("faraway", sys.argv[1]) as client:
            await client.join_room("far")
            print("connected to", sys.argv[1], flush=True)
            await asyncio.sleep(120)
    asyncio.run(main())
    """
)


def _entry(hub: str) -> dict:
    return {"name": "faraway", "command": [sys.executable, "-c", FARAWAY, "{hub}"], "ready": "connected to", "hub": hub}


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{sock.getsockname()[1]}/?token=t"


async def test_up_checks_a_components_own_hub_and_runs_it_there(tmp_path, shell):  # noqa: F811
    with hub_process() as (remote, _):
        wrong = with_token(split_token(remote)[0], "not-its-token")
        for url, why in ((_dead_url(), "cannot be reached"), (wrong, r"refuses the token \(HTTP 403\)")):
            spec = tmp_path / "bad.yaml"
            spec.write_text(json.dumps({"components": [_entry(url)]}))  # JSON is YAML
            await run(shell, "%load_ext swergio_nb\n%swergio hub start --port 0")
            with pytest.raises(LauncherError, match=f"'faraway'.*'hub'.*{why}") as info:
                await run(shell, f"up = %swergio up {spec}\nawait up")
            assert "not-its-token" not in str(info.value)  # the token is hidden
            assert await run(shell, "%swergio ps") in (None, [])  # nothing was started
        spec = tmp_path / "swarm.yaml"
        spec.write_text(json.dumps({"components": [_entry(remote)]}))
        try:
            procs = await run(shell, f"up = %swergio up {spec}\nawait up")
            assert [p.name for p in procs] == ["faraway"] and procs[0].ready
            async with Client("observer", remote) as observer:  # it is on the remote hub, not the notebook's
                assert (await observer.room_table())["far"] == ["faraway"]
        finally:
            await run(shell, "%swergio down")


async def test_launcher_up_refuses_an_unreachable_component_hub_before_starting_anything(tmp_path):
    launcher = Launcher(tmp_path / "logs")
    spec = {"components": [{"name": "first", "command": [sys.executable, "-c", "pass"]}, _entry(_dead_url())]}
    with pytest.raises(LauncherError, match="'faraway'.*cannot be reached"):
        await launcher.up(spec, hub_url="ws://127.0.0.1:1")
    assert len(launcher) == 0
    with pytest.raises(LauncherError, match="'faraway'.*'hub'.*must be a hub URL"):
        await launcher.up({"components": [{**_entry("gpu-2:8765")}]})
