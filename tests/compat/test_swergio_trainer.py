"""swergio's own trebuchet trainer (``04_training.py``, as its tutorial gives it) trains our control network.

The trainer runs as an OS process (its ``listen()`` never returns): once with the real swergio 0.0.2 client through
the hub's swergio listener, once with only its import changed to :mod:`swergio_nb.compat` through the WebSocket port.
Only the connection constants are changed. The trainer does not print its loss, so a WebSocket client in the logging
room measures it: each batch's targets (the trainer's ``DATA/FORWARD`` to ``input``) against the distances the
simulator (``trebuchet``) sends to ``output`` for the same ``ROOT_ID``, the trainer's own MSE. After enough steps the
process is stopped.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from swergio_nb import Client, Hub, Swarm, Trigger
from swergio_nb.examples.trebuchet import control, simulator
from swergio_nb.examples.trebuchet.options import ControlOptions
from tests.helpers import until

SEED = Path(__file__).parent / "data" / "04_training.txt"
SWERGIO_IMPORT = "from swergio import Client, Trigger, MESSAGE_TYPE, MODEL_STATUS"
STEPS = 150  # batches of 100 shots; the trainer would go on to its TRAIN_STEPS = 1000


def trainer_script(tmp_path: Path, server: str, port: int, *, compat: bool = False) -> Path:
    """The seed's trainer with its connection constants set (and, for ``compat``, its import changed)."""
    code = SEED.read_text()
    changes = {
        "PORT = 8080": f"PORT = {port}",
        "SERVER = socket.gethostbyname(socket.gethostname())": f"SERVER = {server!r}",
    }
    if compat:
        changes[SWERGIO_IMPORT] = SWERGIO_IMPORT.replace("from swergio ", "from swergio_nb.compat ")
    for old, new in changes.items():
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    path = tmp_path / "04_training.py"
    path.write_text(code)
    return path


class LossMeter:
    """Per-step mean squared miss (m^2) of the trainer's batches, from the logging room's copies."""

    def __init__(self) -> None:
        self.targets: dict[str, np.ndarray] = {}
        self.losses: list[float] = []
        self.gradients = 0

    def __call__(self, copy: dict) -> None:
        msg = copy["MESSAGE"]
        if copy["SENDER"] == "trainer" and msg["TYPE"] == "DATA/GRADIENT":
            assert isinstance(msg["DATA"], list) and len(msg["DATA"]) == 100  # swergio's JSON list, dL/d(distance)
            self.gradients += 1
        elif msg["TYPE"] != "DATA/FORWARD":
            return
        elif copy["SENDER"] == "trainer" and copy["ROOM"] == "input":
            self.targets[msg["ROOT_ID"]] = np.asarray(msg["DATA"], dtype=np.float64)[:, 1]
        elif copy["ROOM"] == "output" and msg["ROOT_ID"] in self.targets:  # the simulator's distances
            target = self.targets.pop(msg["ROOT_ID"])
            self.losses.append(float(np.mean((np.asarray(msg["DATA"], dtype=np.float64) - target) ** 2)))


async def train(tmp_path: Path, *, compat: bool) -> LossMeter:
    meter = LossMeter()
    swarm = Swarm().add(control.build, ControlOptions(lr=3e-2), seed=3).add(simulator.build)
    async with Hub(port=0, swergio_port=0) as hub, swarm.started(hub.url), Client("meter", hub.url) as watcher:
        watcher.add_handler(meter, Trigger("LOG/MESSAGES", "_logging"))
        await watcher.ready()
        server, port = (hub.host, hub.port) if compat else hub.swergio_address
        script = trainer_script(tmp_path, server, port, compat=compat)
        log = (tmp_path / "trainer.log").open("w")
        env = {**os.environ, "SWERGIO_TOKEN": hub.token}  # the compat client's token (swergio's has none)
        process = await asyncio.create_subprocess_exec(sys.executable, script, stdout=log, stderr=log, env=env)
        try:
            await until(lambda: len(meter.losses) >= STEPS or process.returncode is not None, timeout=240)
        finally:
            if process.returncode is None:
                process.terminate()
            await process.wait()
            log.close()
        assert len(meter.losses) >= STEPS, (tmp_path / "trainer.log").read_text()[-3000:]
        assert hub.router.stats.errors_by_code == {}
    return meter


@pytest.mark.parametrize("compat", [False, True], ids=["swergio-0.0.2-over-tcp", "swergio_nb.compat"])
async def test_swergios_trainer_trains_the_trebuchet(tmp_path, compat):
    meter = await train(tmp_path, compat=compat)
    losses = np.array(meter.losses[:STEPS])
    assert meter.gradients >= STEPS - 1  # the trainer's gradients went back every step (the loop is theirs)
    print(f"loss (m^2): first 10 steps {losses[:10].mean():.0f}, last 10 {losses[-10:].mean():.1f}")
    assert losses[-10:].mean() < 0.1 * losses[:10].mean()
