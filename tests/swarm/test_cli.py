from __future__ import annotations

import asyncio
import subprocess
import sys

from swergio_nb import Client, Trigger


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
