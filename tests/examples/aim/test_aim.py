"""Aiming the trebuchet by gradient descent on its inputs: through the simulator component, the grid-search truth,
the recorder of logged traffic, the surrogate component, and the demo command, at small sizes on a real hub."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from swergio_nb import Client
from swergio_nb.examples.aim.aiming import aim_optimizer, grid_search, random_tasks, shoot_through, task_grid
from swergio_nb.examples.aim.demo import HIT_M, plot, report, study
from swergio_nb.examples.aim.options import SurrogateOptions
from swergio_nb.examples.aim.recorder import TrafficRecorder
from swergio_nb.examples.aim.surrogate import SurrogateNetwork, build, fit_surrogate
from swergio_nb.examples.trebuchet import simulator
from swergio_nb.examples.trebuchet.physics import shoot
from swergio_nb.swarm.component import ComponentError
from swergio_nb.swarm.swarm import Swarm

TASKS = task_grid([-8.0, 8.0], [45.0, 95.0])  # (-8, 95) is out of reach in the box, the others are not


@pytest.fixture(scope="module")
def truth():
    return grid_search(TASKS, 31, 46)


def test_random_tasks_are_seeded_and_drawn_like_the_trainers():
    tasks = random_tasks(200, seed=4)
    np.testing.assert_array_equal(tasks, random_tasks(200, seed=4))
    assert tasks.shape == (200, 2) and (tasks[:, 1] >= 10).all() and (tasks[:, 1] <= 140).all()
    assert 3 < tasks[:, 0].std() < 7 and np.array_equal(tasks, np.round(tasks, 1))


def test_the_grid_search_is_the_physics_on_a_grid(truth):
    assert truth.distances.shape == (4, 31, 46)
    i, j = 5, 7
    expected = shoot(torch.tensor([8.0]), torch.tensor([truth.angles[i]]), torch.tensor([truth.weights[j]]))
    assert truth.distances[2, i, j] == pytest.approx(float(expected), abs=1e-9)
    assert truth.reachable.tolist() == [True, False, True, True]
    assert truth.highest[1] == pytest.approx(truth.distances[1].max()) and truth.closest[1] == truth.highest[1]


async def test_aiming_through_the_simulator_component_hits_what_the_grid_says_is_reachable(truth):
    async with Swarm().add(simulator.build).started() as swarm, Client("aimer", swarm.url) as client:
        result = await aim_optimizer(TASKS).run(client, 150, input_room="aim", output_room="output", timeout=30)
        real = await shoot_through(client, result.inputs)
    miss = np.abs(result.outputs - TASKS[:, 1])
    assert (miss[truth.reachable] <= HIT_M).all()
    assert result.reason == ["tolerance", "stalled", "tolerance", "tolerance"]
    # out of reach: at least as close as the best grid point, at the heaviest counterweight
    assert miss[1] <= truth.miss[1] + 1e-6 and result.inputs[1, 2] == 500.0
    np.testing.assert_array_equal(result.inputs[:, 0], TASKS[:, 0])  # the wind is held fixed
    np.testing.assert_allclose(real, result.outputs, atol=1e-9)  # the reported distances are the simulator's
    assert (result.round_trips >= 1).all() and result.round_trips.max() <= 150


async def test_the_recorder_pairs_the_simulators_inputs_and_outputs_from_the_logging_room():
    recorder = TrafficRecorder("trebuchet", input_room="aim", output_room="output")
    batches = [np.array([[0.0, 40.0, 200.0], [3.0, 30.0, 150.0]]), np.array([[-5.0, 50.0, 300.0]])]
    async with Swarm().add(simulator.build).started() as swarm:
        async with Client("recorder", swarm.url) as listener, Client("aimer", swarm.url) as client:
            recorder.attach(listener)
            await listener.ready()
            for batch in batches:
                await shoot_through(client, batch)
            await client.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "output", "DATA": np.zeros(1)})  # not the process
            for _ in range(500):  # the copies travel on the listener's own connection
                if len(recorder) == 3:
                    break
                await asyncio.sleep(0.01)
    x, y = recorder.dataset()
    np.testing.assert_array_equal(x, np.concatenate(batches))
    xt = torch.from_numpy(x)
    np.testing.assert_allclose(y, shoot(xt[:, 0], xt[:, 1], xt[:, 2]).numpy())


def test_the_surrogate_learns_logged_shots_and_knows_their_range():
    rng = np.random.default_rng(0)
    x = np.stack([rng.normal(0, 5, 600), rng.uniform(20, 60, 600), rng.uniform(190, 210, 600)], axis=1)
    xt = torch.from_numpy(x)
    y = shoot(xt[:, 0], xt[:, 1], xt[:, 2]).numpy()
    network, fit = fit_surrogate(x, y, steps=600, seed=1)
    assert fit["train_shots"] == 480 and fit["validation_shots"] == 120
    assert fit["validation_rmse_m"] < 0.2 * y.std()  # it learnt something: a constant would be y.std()
    lo, hi = network.data_range
    np.testing.assert_allclose(lo, x.min(0), rtol=1e-6)
    np.testing.assert_allclose(hi, x.max(0), rtol=1e-6)
    with pytest.raises(ValueError, match=r"inputs \(N, 3\) and distances \(N,\)"):
        fit_surrogate(x[:, :2], y)


async def test_the_surrogate_component_answers_and_sends_its_gradient_back(tmp_path):
    network = SurrogateNetwork().double()
    with torch.no_grad():
        network.y_mean.fill_(50.0)
    torch.save(network.state_dict(), tmp_path / "s.pt")
    options = SurrogateOptions(model=tmp_path / "s.pt", input_room="m_in", output_room="m_out")
    x0 = np.array([[0.0, 30.0, 200.0]])
    async with Swarm().add(build, options).started() as swarm, Client("aimer", swarm.url) as client:
        predicted = await shoot_through(client, x0, input_room="m_in", output_room="m_out")
        optimizer = aim_optimizer(np.array([[0.0, 50.0]]), starts=((30.0, 200.0),), patience=None)
        await optimizer.run(client, 1, input_room="m_in", output_room="m_out")
    xt = torch.from_numpy(x0).requires_grad_(True)
    network(xt).backward(torch.ones(1))
    np.testing.assert_allclose(predicted, network(torch.from_numpy(x0)).detach().numpy())
    assert optimizer.history[0][0] == pytest.approx((predicted[0] - 50.0) ** 2)
    # Rprop's first step is lr (0.05 box units) against the sign of dL/dx = 2 (prediction - target) dprediction/dx
    sign = np.sign(2 * (predicted[0] - 50.0) * xt.grad.numpy()[0, 1:])
    assert (sign != 0).all()
    np.testing.assert_allclose(optimizer.inputs[0, 1:], x0[0, 1:] - 0.05 * sign * np.array([60.0, 450.0]))
    with pytest.raises(ComponentError, match="needs --model"):
        build("ws://127.0.0.1:1", options=SurrogateOptions())


async def test_the_surrogate_runs_as_its_own_process(tmp_path):
    network = SurrogateNetwork().double()
    torch.save(network.state_dict(), tmp_path / "s.pt")
    x = np.array([[2.0, 40.0, 210.0], [-3.0, 25.0, 190.0]])
    swarm = Swarm().add(build, SurrogateOptions(model=tmp_path / "s.pt"))
    async with swarm.started(processes=True), Client("aimer", swarm.url) as client:
        predicted = await shoot_through(client, x, input_room="model_aim", output_room="model_output")
    np.testing.assert_allclose(predicted, network(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)


async def test_the_study_at_a_small_size(tmp_path):
    lines = []
    found = await study(
        TASKS, max_steps=80, grid=(31, 46), train_steps=15, batch_size=40, fit_steps=300, out=tmp_path, log=lines.append
    )
    assert found.logged_shots == found.fired_shots == 600
    assert (found.direct_miss[found.truth.reachable] <= HIT_M).all()
    assert [aim.box for aim in found.surrogate] == ["logged range", "whole box"]
    lo, hi = found.data_range
    for aim in found.surrogate:
        x = torch.from_numpy(aim.result.inputs)
        np.testing.assert_allclose(aim.real, shoot(x[:, 0], x[:, 1], x[:, 2]).numpy(), atol=1e-9)  # shot for real
        assert aim.inside.tolist() == ((aim.result.inputs >= lo) & (aim.result.inputs <= hi)).all(axis=1).tolist()
    within = found.surrogate[0].result.inputs[:, 1:]
    assert (within >= lo[1:] - 1e-9).all() and (within <= hi[1:] + 1e-9).all()
    assert (tmp_path / "aim_surrogate.pt").exists()
    text = report(found)
    assert "hit within 0.05 m" in text and "the surrogate claims" in text and "logged range" in text
    assert any("surrogate fitted" in line for line in lines)
    plot(found, tmp_path / "aim.png")
    assert (tmp_path / "aim.png").read_bytes()[:4] == b"\x89PNG"


def test_the_demo_command_writes_its_report(tmp_path):
    command = [sys.executable, "-m", "swergio_nb", "demo", "aim", "--winds", "0", "--targets", "70,120",
               "--grid", "21", "31", "--train-steps", "0", "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "reachable: 1 of 1 hit within 0.05 m" in done.stdout
    data = json.loads((tmp_path / "aim_report.json").read_text())
    assert data["reachable"] == [True, False] and data["direct"]["reason"][1] == "stalled"
    assert data["direct"]["miss_m"][0] <= 0.05 and "surrogate" not in data
    assert (tmp_path / "aim.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
