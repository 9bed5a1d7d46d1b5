"""The Swarm: declared components started in this process or as OS processes, connected, and stopped in order."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass

import numpy as np
import pytest

from swergio_nb import Client, Hub, Swarm, Trigger
from swergio_nb.examples.trebuchet import control, simulator
from swergio_nb.examples.trebuchet.options import ControlOptions
from swergio_nb.examples.trebuchet.trainer import Trainer
from swergio_nb.protocol.urls import split_token
from swergio_nb.swarm.component import Component, ComponentError, component, option
from swergio_nb.swarm.spec import LauncherError
from swergio_nb.swarm.swarm import ComponentExited


class RecordingClient(Client):
    """A client that notes when it is closed (a real client; the note is all it adds)."""

    def __init__(self, name: str, url: str, closed: list[str]) -> None:
        super().__init__(name, url)
        self.closed = closed

    async def close(self) -> None:
        if self.connected:
            self.closed.append(self.name)
        await super().close()


@dataclass(frozen=True)
class RoomOptions:
    room: str = option("r", "the room it joins")


@component("member", RoomOptions, "Joins one room.")
def member(url: str, *, name: str, seed: int, options: RoomOptions, closed: list[str]) -> Client:
    client = RecordingClient(name, url, closed)
    client.add_handler(lambda msg: None, Trigger("DATA/TEXT", options.room))
    return client


async def test_in_process_components_are_connected_when_started_and_stopped_in_reverse_order():
    closed: list[str] = []
    swarm = Swarm()
    for name, room in [("a", "r1"), ("b", "r2"), ("c", "r2")]:
        swarm.add(member, RoomOptions(room=room), name=name, closed=closed)
    async with swarm.started() as started:
        assert started is swarm and isinstance(swarm.hub, Hub) and swarm.url == swarm.hub.url
        async with Client("observer", swarm.url) as observer:  # joined before start() returned
            assert await observer.room_table() == {"r1": ["a"], "r2": ["b", "c"]}
        assert [swarm[n].connected for n in "abc"] == [True, True, True]
    assert closed == ["c", "b", "a"]
    assert swarm.hub is None and swarm.url is None and swarm.clients == {}
    await swarm.stop()  # idempotent
    assert closed == ["c", "b", "a"]


async def test_processes_are_ready_when_started_and_stop_cleanly_while_the_hub_serves(tmp_path):
    swarm = Swarm(log_dir=tmp_path).add(control.build, ControlOptions(lr=3e-2), seed=3).add(simulator.build)
    async with Hub(port=0) as hub:  # a hub of the caller's: the swarm leaves it running
        await swarm.start(hub.url, processes=True)
        try:
            assert swarm.clients == {} and [p.name for p in swarm.launcher] == ["control", "trebuchet"]
            assert all(p.ready and p.running for p in swarm.launcher)
            assert swarm.launcher["control"].argv[-6:] == [
                "--seed",
                "3",
                "--lr",
                "0.03",
                "--hub",
                split_token(hub.url)[0],
            ]  # the token travels in the environment
            async with Client("trainer", hub.url) as client:
                trainer = Trainer(client, batch_size=8, seed=3)
                await trainer.train(2)
                weights = await trainer.fetch_weights()
            assert np.isfinite(trainer.losses).all() and weights["net.0.weight"].shape == (16, 2)
        finally:
            await swarm.stop()
        assert [p.returncode for p in swarm.launcher] == [0, 0]  # SIGTERM answered by a clean close
        assert swarm.url is None and hub.url  # not the swarm's hub: still serving
    assert "connected to" in swarm.launcher.logs("control")


async def test_a_failed_start_stops_what_was_started_and_says_why(tmp_path):
    closed: list[str] = []
    broken = Component("broken", "swergio_nb.examples.no_such_module", RoomOptions, member.build)
    swarm = Swarm(log_dir=tmp_path, ready_timeout=30).add(member, name="first", closed=closed)
    swarm.add(broken, process=True)
    with pytest.raises(LauncherError, match="exited with code 1 before it was ready"):
        await swarm.start()
    assert closed == ["first"] and swarm.clients == {} and swarm.hub is None and swarm.url is None


async def test_what_a_process_cannot_take_is_refused_before_anything_starts():
    swarm = Swarm().add(member, closed=[])
    with pytest.raises(ComponentError, match="already has a component named 'member'"):
        swarm.add(member, closed=[])
    with pytest.raises(ComponentError, match="closed cannot go to a process"):
        swarm.add(member, name="other", process=True, closed=[])
    with pytest.raises(ComponentError, match="closed cannot go to a process"):
        await swarm.start(processes=True)
    assert swarm.url is None and swarm.hub is None
    with pytest.raises(ComponentError, match="closed cannot go to a process"):
        swarm.specs()


def test_specs_are_the_launcher_entries_of_the_members():
    swarm = Swarm(ready_timeout=5).add(control.build, ControlOptions(anneal_steps=600), env={"OMP_NUM_THREADS": "1"})
    swarm.add(simulator.build, name="sim")
    swarm.ready_timeout = 7  # read when the specs are made
    specs = swarm.specs()
    assert [(s.name, s.module, s.args, s.ready_timeout) for s in specs] == [
        ("control", control.__name__, ("--anneal-steps", "600"), 7),
        ("sim", simulator.__name__, ("--name", "sim"), 7),
    ]
    assert specs[0].env == {"OMP_NUM_THREADS": "1"} and specs[1].env == {}


async def test_a_component_process_that_dies_ends_the_wait_on_it_with_an_error_naming_it(tmp_path):
    """kill -9 of the simulator while the trainer waits for its reply: not a bare timeout a minute later, but
    ComponentExited naming the component, the signal and the rooms that went quiet, at once."""
    swarm = Swarm(log_dir=tmp_path).add(control.build, ControlOptions(lr=3e-2), seed=3).add(simulator.build)
    started = None
    with pytest.raises(ComponentExited) as info:
        async with swarm.started(processes=True), Client("trainer", swarm.url) as client:
            trainer = Trainer(client, batch_size=8, seed=3, timeout=60)
            await trainer.train(1)
            os.kill(swarm.launcher["trebuchet"].pid, signal.SIGKILL)
            started = time.monotonic()
            await trainer.train(100)  # waits for distances that never come
    waited = time.monotonic() - started
    error = info.value
    assert error.name == "trebuchet" and error.returncode == -signal.SIGKILL and waited < 5
    assert "'trebuchet' was killed by SIGKILL (nobody stopped it)" in str(error)
    assert error.rooms and "its rooms went quiet: " + ", ".join(sorted(error.rooms)) in str(error)
    assert swarm.url is None and not any(p.running for p in swarm.launcher)  # stopped all the same


async def test_components_stopped_on_purpose_are_not_reported(tmp_path):
    swarm = Swarm(log_dir=tmp_path).add(control.build, ControlOptions(lr=3e-2), seed=3)
    async with swarm.started(processes=True):
        await swarm.launcher.adown(5.0, names=["control"])
        await asyncio.sleep(0.5)  # more than the watch interval
    assert swarm.url is None
