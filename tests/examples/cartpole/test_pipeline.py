"""CartPole through a real hub: episodes with a fixed seed, a short training run that improves the return, the
evolution step, weights as binary arrays, and the demo command."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from swergio_nb.examples.cartpole import aggregator, environment, evolution, model
from swergio_nb.examples.cartpole.control import Control
from swergio_nb.examples.cartpole.evolution import flatten
from swergio_nb.examples.cartpole.options import AggregatorOptions, EnvironmentOptions, EvolutionOptions
from swergio_nb.examples.cartpole.reference import LocalEnsemble
from swergio_nb.exceptions import PeerError
from swergio_nb.protocol import codec
from swergio_nb.transport.client import Client
from swergio_nb.transport.hub import Hub

SEED, MODELS, ENVS, EVAL = 0, 2, 8, 10


async def _components(url: str) -> list[Client]:
    clients = [await model.build(url, name=f"model-{i}", seed=SEED * 100 + i).connect() for i in range(MODELS)]
    clients.append(await aggregator.build(url, seed=SEED, options=AggregatorOptions(models=MODELS)).connect())
    clients.append(await evolution.build(url, seed=SEED, options=EvolutionOptions(models=MODELS)).connect())
    environment_options = EnvironmentOptions(n_envs=ENVS, eval_envs=EVAL)
    clients.append(await environment.build(url, seed=SEED, options=environment_options).connect())
    return clients


async def _schedule(control) -> tuple[list, list]:
    """Greedy evaluation, 6 rounds of 30 training episodes with an evolution step every 2, greedy evaluation."""
    runs = [await control.evaluate(EVAL)]
    generations = []
    for r in range(6):
        runs.append(await control.run_episodes(30))
        if r % 2 == 1:
            generations.append(await control.evolve())
    runs.append(await control.evaluate(EVAL))
    return runs, generations


@pytest.fixture(scope="module")
def local():
    import asyncio

    ensemble = LocalEnsemble(n_models=MODELS, n_envs=ENVS, eval_envs=EVAL, seed=SEED)
    return asyncio.run(_schedule(ensemble))


async def test_training_through_the_hub_improves_the_return_and_equals_the_local_run(local):
    async with Hub(port=0) as hub:
        clients = await _components(hub.url)
        try:
            async with Client("control", hub.url) as client:
                runs, generations = await _schedule(Control(client, timeout=120))
        finally:
            for c in clients:
                await c.close()
        assert hub.router.stats.errors == 0
    before, after = runs[0], runs[-1]
    assert before.greedy and after.greedy and len(after.returns) == EVAL
    assert after.mean > 3 * before.mean  # untrained: ~12 steps; trained for ~5,000 steps: far longer
    # the same seeds through the hub and in one process: the very same episodes, returns and generations
    local_runs, local_generations = local
    for hub_run, local_run in zip(runs, local_runs, strict=True):
        assert hub_run.returns == local_run.returns and hub_run.seeds == local_run.seeds
    for g, lg in zip(generations, local_generations, strict=True):
        assert g.parents == lg.parents and g.fitness == pytest.approx(lg.fitness, rel=1e-9)
    # the shares of one step sum to 1 over the models: the contributions add up to the active env steps
    steps_per_generation = [sum(r.env_steps for r in runs[1 + 2 * i : 3 + 2 * i]) for i in range(3)]
    assert [sum(g.fitness.values()) for g in generations] == pytest.approx(steps_per_generation, rel=1e-5)
    # each generation's contribution covers the training steps (round trips) since the previous one
    assert [g.steps for g in generations] == [sum(r.round_trips for r in runs[1 + 2 * i : 3 + 2 * i]) for i in range(3)]


async def test_one_greedy_episode_is_the_same_every_time_and_weights_travel_as_binary_arrays():
    async with Hub(port=0) as hub:
        clients = await _components(hub.url)
        try:
            async with Client("control", hub.url) as client:
                control = Control(client, timeout=60)
                first = await control.run_episodes(1, greedy=True, seed=42)
                second = await control.run_episodes(1, greedy=True, seed=42)
                assert first.returns == second.returns and first.seeds == [42]
                assert first.round_trips == first.env_steps == first.lengths[0]  # one trip per step

                saved = await client.request({"TYPE": "COMMAND/SAVEMODELWEIGHTS", "TO": "model-0"}, timeout=10)
                weights = saved["WEIGHTS"]
                assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in weights.values())
                assert isinstance(codec.encode(saved), bytes)  # a binary (msgpack) frame, not JSON lists
                bad = dict(weights, **{"critic.2.bias": np.zeros(7, np.float32)})
                with pytest.raises(PeerError, match="model-0 refused: bad-weights"):
                    await client.request({"TYPE": "COMMAND/LOADMODELWEIGHTS", "TO": "model-0", "WEIGHTS": bad})
                again = await client.request({"TYPE": "COMMAND/SAVEMODELWEIGHTS", "TO": "model-0"}, timeout=10)
                assert flatten(again["WEIGHTS"]) == flatten(weights)  # the refused weights changed nothing
                assert (await control.run_episodes(1, greedy=True, seed=42)).returns == first.returns

                with pytest.raises(RuntimeError, match="EPISODES must be >= 1"):
                    await control.run_episodes(0)
        finally:
            for c in clients:
                await c.close()


def test_demo_command_writes_the_reward_plot(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "swergio_nb.swarm.cli",
            "demo",
            "cartpole",
            "--models",
            "2",
            "--max-rounds",
            "2",
            "--episodes-per-round",
            "10",
            "--eval-episodes",
            "5",
            "--final-episodes",
            "5",
            "--out",
            str(tmp_path),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "did NOT reach the target after 20 training episodes" in out.stdout
    assert "env steps/s" in out.stdout and "final greedy mean over 5 fresh episodes" in out.stdout
    assert (tmp_path / "cartpole_rewards.png").stat().st_size > 10_000


def test_a_run_that_stops_early_ends_its_progress_bar_where_it_stopped(tmp_path):
    argv = [sys.executable, "-m", "swergio_nb.swarm.cli", "demo", "cartpole", "--models", "2", "--max-rounds", "4"]
    argv += ["--episodes-per-round", "10", "--eval-episodes", "5", "--final-episodes", "5", "--target", "1"]
    out = subprocess.run([*argv, "--out", str(tmp_path)], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    last = out.stderr.replace("\r", "\n").strip().splitlines()[-1]  # the bar's final state
    assert "100%" in last and "10/10" in last and "stopped=solved" in last, last
