from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from swergio_nb import Client, HubError, Trigger


async def test_hub_command_serves_clients_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "swergio_nb.swarm.cli", "hub", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("swergio hub listening on ws://127.0.0.1:")
        url = line.split()[-1]
        got = []
        listener = Client("listener", url)
        listener.add_handler(got.append, Trigger("DATA/TEXT", "r"))
        async with listener, Client("speaker", url) as speaker:
            assert await speaker.room_table() == {"r": ["listener"]}
            await speaker.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "over the CLI hub"})
            for _ in range(500):
                if got:
                    break
                await asyncio.sleep(0.01)
            assert got[0]["DATA"] == "over the CLI hub" and got[0]["SENT_BY"] == "speaker"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


async def test_hub_command_takes_roles_from_a_credentials_file(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text('{"observer": "obs3rver", "names": {"control": "c0ntrol"}}')
    proc = subprocess.Popen(
        [sys.executable, "-m", "swergio_nb.swarm.cli", "hub", "--port", "0", "--credentials", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().split()[-1]
        base = url.split("?token=")[0] + "?token="
        async with Client("component", url) as component, Client("observer", base + "obs3rver") as observer:
            await observer.join_room("_logging")
            with pytest.raises(HubError, match="forbidden-room"):
                await component.join_room("_logging")
        async with Client("control", base + "c0ntrol") as control:
            assert control.connected
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    bad = tmp_path / "bad.json"
    bad.write_text('{"observers": "x"}')
    done = subprocess.run(
        [sys.executable, "-m", "swergio_nb.swarm.cli", "hub", "--port", "0", "--credentials", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1 and "must hold" in done.stderr
