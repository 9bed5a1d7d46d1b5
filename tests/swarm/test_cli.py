from __future__ import annotations

import subprocess
import sys

import pytest

from swergio_nb import Client, HubError, Trigger

from ..helpers import hub_process, until


async def test_hub_command_serves_clients_and_stops_on_sigterm():
    with hub_process() as (url, proc):
        assert url.startswith("ws://127.0.0.1:")
        got = []
        listener = Client("listener", url)
        listener.add_handler(got.append, Trigger("DATA/TEXT", "r"))
        async with listener, Client("speaker", url) as speaker:
            assert await speaker.room_table() == {"r": ["listener"]}
            await speaker.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "over the CLI hub"})
            await until(lambda: got)
            assert got[0]["DATA"] == "over the CLI hub" and got[0]["SENT_BY"] == "speaker"
    assert proc.returncode == 0


async def test_hub_command_takes_roles_from_a_credentials_file(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text('{"observer": "obs3rver", "names": {"control": "c0ntrol"}}')
    with hub_process("--credentials", str(path)) as (url, proc):
        base = url.split("?token=")[0] + "?token="
        async with Client("component", url) as component, Client("observer", base + "obs3rver") as observer:
            await observer.join_room("_logging")
            with pytest.raises(HubError, match="forbidden-room"):
                await component.join_room("_logging")
        async with Client("control", base + "c0ntrol") as control:
            assert control.connected
    assert proc.returncode == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"observers": "x"}')
    done = subprocess.run(
        [sys.executable, "-m", "swergio_nb.swarm.cli", "hub", "--port", "0", "--credentials", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1 and "must hold" in done.stderr
