# ruff: noqa: E501 - the notebook cells are kept as written
"""Writes notebooks/05_contextual_bandit.ipynb (without outputs): ``python notebooks/make_05_bandit.py``, then
``ruff check --fix notebooks/05_contextual_bandit.ipynb && ruff format notebooks/05_contextual_bandit.ipynb``."""

from __future__ import annotations

from notebook_writer import write_notebook

CELLS = [
    (
        "md",
        """# A contextual bandit with delayed rewards, in two architectures

A simulated **world** sends contexts; the policy (disjoint LinUCB) answers with an action and its **propensity**;
the reward comes back later (here heavy-tailed delays, 5 % never) as `DATA/REWARD` carrying the event id. A
**joiner** left-outer-joins decisions with rewards within a 60 s wait (simulated seconds; the clock runs 100x),
after which the default reward 0 applies. Two architectures play the same event stream:

* **baseline**: a `server` process serves and logs, a `trainer` process joins, trains on batches and pushes the
  policy's weights back to the server as binary arrays;
* **in-process**: one `agent` process serves and trains.""",
    ),
    (
        "code",
        """%load_ext swergio_nb
%swergio hub start --port 0""",
    ),
    ("md", "The baseline's two processes, from `bandit.yaml`; the notebook joins as the world."),
    (
        "code",
        """up = %swergio up bandit.yaml
await up
%swergio ps""",
    ),
    (
        "code",
        """from swergio_nb import current_session

world = current_session().connect("world")  # the notebook is the world (as `%swergio connect world` does)""",
    ),
    (
        "code",
        """monitor = %swergio monitor
monitor""",
    ),
    (
        "md",
        "Live curves: cumulative regret against the optimum (uniform random's expected regret for scale) and the reward rate.",
    ),
    (
        "code",
        """import asyncio

import numpy as np
from swergio_nb.notebook.widgets import MetricsWidget
from swergio_nb.examples.bandit.world import DelayModel, LinearBernoulliWorld, WorldRunner
from swergio_nb.examples.bandit.demo import fetch_stats

EVENTS = 1500
stream = LinearBernoulliWorld(seed=0).events(EVENTS, DelayModel("heavy", 10.0, loss=0.05), seed=0)
regret = MetricsWidget(title="cumulative regret vs the optimum", x_label="decision", y_label="cumulative regret")
reward = MetricsWidget(title="reward rate (last 100 decisions)", x_label="decision", y_label="reward rate")
uniform = np.cumsum(stream.uniform_regret())
for i in range(24, EVENTS, 25):  # the yardstick, drawn once for both runs
    regret.push("uniform random (expected)", float(uniform[i]), i + 1)

def plotter(label):
    def push(i, log):
        if (i + 1) % 25 == 0:
            regret.push(f"linucb ({label})", float(np.sum(log.regret)), i + 1)
            reward.push(label, float(np.mean(log.rewards[-100:])), i + 1)
    return push

display(regret, reward)""",
    ),
    (
        "code",
        """runner = WorldRunner(world, stream, speed=100.0, label="baseline", kpi_every=0)
runner.listeners.append(plotter("baseline"))
baseline = await runner.run(progress=True)
await runner.drain(progress=True)  # late rewards still arrive: their own bar
await asyncio.sleep(0.8)  # the last wait windows close and train
served, learned = await fetch_stats(world, "server"), await fetch_stats(world, "trainer")
print(f"baseline: regret {np.sum(baseline.regret):.1f} vs uniform random {uniform[-1]:.1f}; "
      f"policy version {served['version']}, trained on {learned['trained_events']} events")
print(
    f"joined {learned['joined']}, defaulted {learned['defaulted']}, late {learned['late_rewards']}, "
    f"pending {learned['pending']}"
)""",
    ),
    ("md", "Now the in-process architecture on the same stream (same seed)."),
    (
        "code",
        """down = %swergio down
await down
up = %swergio up bandit_agent.yaml
await up
%swergio ps""",
    ),
    (
        "code",
        """runner2 = WorldRunner(world, stream, speed=100.0, label="in-process", kpi_every=0)
runner2.listeners.append(plotter("in-process"))
inproc = await runner2.run(progress=True)
await runner2.drain(progress=True)
await asyncio.sleep(0.8)
agent_stats = await fetch_stats(world, "agent")
print(f"in-process: regret {np.sum(inproc.regret):.1f} vs uniform random {uniform[-1]:.1f}; "
      f"trained on {agent_stats['trained_events']} events")""",
    ),
    (
        "md",
        "Side by side: regret, serving latency (request to decision through the hub) and the time from a reward's emission to a serving policy that learned from it.",
    ),
    (
        "code",
        """def ms(a, q):
    return np.percentile(np.asarray(a), q) * 1e3

rows = [("baseline", baseline, served), ("in-process", inproc, agent_stats)]
print(f"{'architecture':>12} {'regret':>7} {'serve p50':>9} {'serve p99':>9} {'learn p50':>9} {'learn p99':>9}  (ms)")
for name, log, stats in rows:
    print(f"{name:>12} {np.sum(log.regret):7.1f} {ms(log.serve_latency_s, 50):9.2f} {ms(log.serve_latency_s, 99):9.2f} "
          f"{ms(stats['learn_latency_s'], 50):9.0f} {ms(stats['learn_latency_s'], 99):9.0f}")""",
    ),
    (
        "code",
        """%matplotlib inline
from matplotlib import pyplot as plt

fig, ax = plt.subplots(figsize=(7, 3.5))
# the live widget's colours: series in the order they were first pushed (uniform C0, baseline C1, in-process C2)
ax.plot(uniform, ":", color="C0", label="uniform random (expected)")
ax.plot(np.cumsum(baseline.regret), color="C1", label="linucb, baseline")
ax.plot(np.cumsum(inproc.regret), "--", color="C2", label="linucb, in-process")
ax.set_xlabel("decision")
ax.set_ylabel("cumulative regret")
ax.legend()
ax.grid(alpha=0.3)
plt.show()""",
    ),
    (
        "code",
        """down = %swergio down
await down""",
    ),
    ("code", "%unload_ext swergio_nb"),
]


def main() -> None:
    write_notebook(CELLS, "05_contextual_bandit.ipynb", "bandit")


if __name__ == "__main__":
    main()
