"""The bandit through a real hub: both architectures learn (regret sub-linear, far below uniform random), a trainer
process restarted mid-run resumes from its log, and the demo command writes its plot."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from swergio_nb.examples.bandit.demo import fetch_stats, run_bandit
from swergio_nb.examples.bandit.policy import EpsilonGreedy, LinUCB, UniformRandom
from swergio_nb.examples.bandit.world import DelayModel, LinearBernoulliWorld, WorldRunner
from swergio_nb.swarm.launcher import Launcher
from swergio_nb.swarm.spec import ComponentSpec
from swergio_nb.transport.client import Client
from swergio_nb.transport.hub import Hub


def test_world_optimum_and_delays_are_what_they_claim():
    world = LinearBernoulliWorld(seed=0)
    stream = world.events(4000, DelayModel("heavy", 10.0, tail=1.5, loss=0.1), seed=0)
    np.testing.assert_allclose(stream.probs, stream.contexts @ world.theta_star.T)
    assert stream.probs.min() >= 0.05 and stream.probs.max() <= 0.95
    assert abs(stream.rewards.mean() - stream.probs.mean()) < 0.02
    lost = ~np.isfinite(stream.delays)
    assert 0.08 < lost.mean() < 0.12
    assert np.median(stream.delays[~lost]) == pytest.approx(10.0 * (2 ** (1 / 1.5) - 1), rel=0.1)
    assert stream.delays[~lost].max() > 50 * np.median(stream.delays[~lost])  # heavy tail
    best = stream.probs.argmax(axis=1)
    assert stream.regret(best).sum() == 0 and stream.uniform_regret().mean() > 0.1


@pytest.mark.parametrize("policy", [LinUCB(4, 3, explore=0.2), EpsilonGreedy(4, 3, epsilon=0.3), UniformRandom(4, 3)])
def test_logged_propensities_are_the_probabilities_of_the_chosen_actions(policy):
    policy.update(np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]), np.array([2, 1]), np.array([1.0, 0.5]))
    rng = np.random.default_rng(0)
    x = np.array([1.0, 0.3, -0.2])
    draws = [policy.decide(x, rng) for _ in range(20_000)]
    actions = np.array([a for a, _ in draws])
    propensity = {a: p for a, p in draws}
    for a, p in propensity.items():
        assert (actions == a).mean() == pytest.approx(p, abs=0.015)
    assert sum(propensity.values()) == pytest.approx(1.0) or len(propensity) == 4


@pytest.mark.parametrize("architecture", ["baseline", "in-process"])
async def test_regret_grows_sublinearly_through_the_hub(architecture, tmp_path):
    result = await run_bandit(
        architecture, DelayModel("fixed", 10.0, loss=0.05), events=1000, seed=1, processes=False, log_dir=tmp_path
    )
    summary = result.summary()
    regret = result.regret.reshape(4, -1).sum(axis=1)  # per quarter of the run
    uniform = result.uniform_regret.reshape(4, -1).sum(axis=1)
    assert uniform.min() > 0.9 * uniform.max()  # uniform random's regret grows linearly
    assert regret.sum() < 0.6 * uniform.sum()
    # sub-linear: each later quarter adds less regret; the last adds a fraction of the first and of random's
    assert regret[3] < regret[1] < regret[0]
    assert regret[3] < 0.4 * regret[0] and regret[3] < 0.25 * uniform[3]
    joiner = summary["joiner"]
    assert joiner["decisions"] == 1000 and joiner["joined"] + joiner["defaulted"] + joiner["evicted"] == 1000
    assert joiner["defaulted"] >= summary["rewards_lost"] > 0  # lost rewards got the default, visibly
    assert joiner["pending"] == 0 and joiner["trained_events"] == 1000 and summary["policy_version_at_end"] > 10
    assert len(result.learn_latency_s) > 800 and (result.learn_latency_s > 0).all()
    log = tmp_path / f"joined-{architecture}-linucb-fixed.jsonl"
    assert sum(1 for line in log.read_text().splitlines() if '"kind":"joined"' in line) == joiner["trained_events"]


async def trained_through(client: Client, events: int, timeout: float = 20.0) -> dict:
    """The trainer's stats once it has trained ``events`` events (its batches close on its own clock, a little after
    the last reward); the last stats seen if that takes longer than ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    stats = await fetch_stats(client, "trainer")
    while stats["trained_events"] < events and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        stats = await fetch_stats(client, "trainer")
    return stats


async def test_a_restarted_trainer_process_resumes_from_its_log(tmp_path):
    world = LinearBernoulliWorld(seed=2)
    stream = world.events(600, DelayModel("fixed", 5.0), seed=2)
    log = tmp_path / "joined.jsonl"
    common = ["--seed", "2", "--n-actions", str(world.n_actions), "--dim", str(world.dim), "--speed", "100"]
    trainer_spec = ComponentSpec(
        "trainer", module="swergio_nb.examples.bandit.trainer", args=[*common, "--log", str(log)]
    )
    launcher = Launcher(tmp_path)
    async with Hub(port=0) as hub:
        try:
            await launcher.up(
                [ComponentSpec("server", module="swergio_nb.examples.bandit.server", args=common), trainer_spec],
                hub.url,
            )
            async with Client("world", hub.url) as client:
                runner = WorldRunner(client, stream, speed=100.0, kpi_every=0)
                await runner.run(300)
                await runner.drain()
                before = await trained_through(client, 300)  # no reward is lost: all 300 join and train
                await launcher.adown(names=["trainer"])  # SIGTERM: the trainer stops
                served = await fetch_stats(client, "server")
                assert served["trained_events"] == before["trained_events"] == 300

                await launcher.up([trainer_spec], hub.url)
                after = await fetch_stats(client, "trainer")
                assert after["resumed_events"] == before["trained_events"]
                assert after["trained_events"] >= before["trained_events"]
                assert after["decisions"] == before["decisions"] and after["joined"] == before["joined"]
                await runner.run(200)
                await runner.drain()
                final = await fetch_stats(client, "trainer")
                assert final["decisions"] == 500 and final["trained_events"] > 400

                # a hard kill: what was trained (and pushed) before it is on disk
                os.kill(launcher["trainer"].pid, signal.SIGKILL)
                await launcher.adown(names=["trainer"])
                await launcher.up([trainer_spec], hub.url)
                revived = await fetch_stats(client, "trainer")
                assert revived["resumed_events"] >= final["trained_events"]
                await runner.run(100)
                await runner.drain()
                assert (await fetch_stats(client, "trainer"))["decisions"] == 600
        finally:
            await launcher.adown()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    trained = [r["decision"]["event_id"] for r in records if r["kind"] == "joined"]
    assert len(trained) == len(set(trained))  # nothing trained twice across the restart


def test_demo_command_writes_plot_and_figures(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "swergio_nb.swarm.cli", "demo", "bandit", "--events", "200", "--delays", "none,heavy",
         "--policies", "linucb", "--same-loop", "--no-progress", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "4 runs of 200 decisions" in out.stdout
    results = json.loads((tmp_path / "bandit_results.json").read_text())
    assert {(r["architecture"], r["delay"]) for r in results} == {
        (a, d) for a in ("baseline", "in-process") for d in ("none", "heavy")
    }
    assert all(r["cumulative_regret"] < r["uniform_expected_regret"] for r in results)
    assert (tmp_path / "bandit_regret.png").stat().st_size > 10_000


class _Bar:
    """What drain() uses of a tqdm bar, recording what it was shown."""

    def __init__(self, total: int) -> None:
        self.n, self.total, self.postfix, self.refreshes = 0, total, "", 0

    def refresh(self) -> None:
        self.refreshes += 1

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text


async def test_drain_counts_the_late_rewards_and_its_bar_ends_where_they_end():
    from swergio_nb.examples.bandit import server
    from swergio_nb.examples.bandit.options import PolicyOptions

    world = LinearBernoulliWorld(seed=4)
    stream = world.events(60, DelayModel("fixed", 20.0), seed=4)  # 20 simulated s = 0.2 s at speed 100
    options = PolicyOptions(n_actions=world.n_actions, dim=world.dim, speed=100.0)
    async with Hub(port=0) as hub:
        policy = server.build(hub.url, name="server", seed=0, options=options)
        async with policy, Client("world", hub.url) as client:
            runner = WorldRunner(client, stream, speed=100.0, kpi_every=0)
            await runner.run()
            expected = int(np.isfinite(stream.delays).sum())
            assert runner.log.rewards_sent < expected  # the rewards are still on their way after the decisions
            bar = _Bar(expected)
            await runner.drain(progress=bar)
            assert runner.log.rewards_sent == expected and bar.n == bar.total == expected and bar.refreshes >= 2
            assert bar.postfix == ""  # nothing left behind

            late = WorldRunner(client, world.events(20, DelayModel("fixed", 1000.0), seed=5), speed=100.0, kpi_every=0)
            await late.run()
            bar = _Bar(20)
            await late.drain(timeout=0.2, progress=bar)  # 10 s real delays: not waited for
            assert bar.total == bar.n == late.log.rewards_sent < 20 and "not sent within 0.2 s" in bar.postfix
