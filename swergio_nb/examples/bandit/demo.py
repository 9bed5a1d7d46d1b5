"""``swergio-nb demo bandit``: a contextual bandit with delayed rewards, in two architectures, through a hub.

For each delay setting (none, fixed, heavy-tailed) and policy, the same event stream (same seed) is played by the
world against:

* **baseline**: a ``server`` process decides and logs; a ``trainer`` process joins decisions with rewards, logs the
  joined events durably, trains on batches and pushes the policy's weights back to the server as binary arrays;
* **in-process**: one ``agent`` process serves, joins, logs and trains.

Figures per run: cumulative regret against the known optimum (and the exact expected regret of uniform random),
reward-to-policy latency (a reward's emission by the world until a serving policy has learned from it) and the
serving latency (request to decision, through the hub) p50/p99 while training runs. Writes ``bandit_regret.png`` and
``bandit_results.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...swarm.component import from_arguments, option_values
from ...swarm.swarm import Swarm
from ...transport.client import Client
from . import agent, server, trainer
from .options import LearnerOptions, PolicyOptions, TrainerOptions
from .world import DelayModel, LinearBernoulliWorld, WorldRunner

__all__ = [
    "ONE_BLAS_THREAD",
    "BanditResult",
    "run_bandit",
    "plot_results",
    "fetch_stats",
    "run",
    "ARCHITECTURES",
]

ARCHITECTURES = ("baseline", "in-process")
#: Component processes get one BLAS thread: on a small machine shared by the hub, the world and the components,
#: OpenBLAS's own threads oversubscribe the cores (a batched 100x100 inversion measured 30x slower).
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass
class BanditResult:
    """Outcome of one run (one architecture, delay setting and policy)."""

    architecture: str
    delay: str
    policy: str
    events: int
    regret: np.ndarray  #: per-event pseudo-regret (n,)
    uniform_regret: np.ndarray  #: per-event expected regret of uniform random (n,)
    serve_latency_s: np.ndarray  #: world's request -> decision round trip (n,), s
    learn_latency_s: np.ndarray  #: reward emission -> serving policy learned from it (m,), s
    joiner: dict[str, Any]  #: the joiner's counters
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``architecture / policy / delay kind``."""
        return f"{self.architecture} / {self.policy} / delay {self.delay}"

    def summary(self) -> dict[str, Any]:
        """The figures, JSON-able (latencies in ms)."""

        def pct(a: np.ndarray, q: float) -> float | None:
            return None if len(a) == 0 else float(np.percentile(a, q) * 1e3)

        return {
            "architecture": self.architecture,
            "delay": self.delay,
            "policy": self.policy,
            "events": self.events,
            "cumulative_regret": float(self.regret.sum()),
            "uniform_expected_regret": float(self.uniform_regret.sum()),
            "regret_first_half": float(self.regret[: self.events // 2].sum()),
            "regret_second_half": float(self.regret[self.events // 2 :].sum()),
            "serve_p50_ms": pct(self.serve_latency_s, 50),
            "serve_p99_ms": pct(self.serve_latency_s, 99),
            "learn_p50_ms": pct(self.learn_latency_s, 50),
            "learn_p99_ms": pct(self.learn_latency_s, 99),
            "joiner": self.joiner,
            "wall_s": self.wall_s,
            **self.extra,
        }


async def fetch_stats(client: Client, component: str, timeout: float = 10.0) -> dict[str, Any]:
    """The ``STATS`` a bandit component answers to ``COMMAND/CUSTOM`` ``stats``."""
    reply = await client.request(
        {"TYPE": "COMMAND/CUSTOM", "TO": component, "COMMAND": "stats"}, reply_type="LOG/CUSTOM", timeout=timeout
    )
    return reply["STATS"]


async def run_bandit(
    architecture: str = "baseline",
    delay: DelayModel | None = None,
    *,
    events: int = 2000,
    seed: int = 0,
    rate: float = 2.5,
    processes: bool = True,
    log_dir: str | Path | None = None,
    progress: Any = None,
    start_timeout: float = 120.0,
    **learner: Any,
) -> BanditResult:
    """Play ``events`` decisions through an embedded hub in one architecture; see the module docstring.

    Args:
        architecture: ``baseline`` (server + trainer) or ``in-process`` (agent).
        delay: the reward delay model (default: fixed 10 simulated s, none lost).
        events: decisions.
        seed: seeds the world's stream and the policy.
        rate: events per simulated second.
        processes: run the components as OS processes (True) or as clients on this event loop.
        log_dir: where the joined-event log and the process logs go (a temporary directory by default).
        progress: a tqdm bar (or anything with ``update(1)``).
        start_timeout: seconds each process may take to connect.
        **learner: the components' options (fields of :class:`~.options.LearnerOptions`, with their defaults):
            ``policy`` (``linucb``, ``egreedy`` or ``uniform``), ``n_actions`` and ``dim`` (the world's K actions
            and context length d, see :class:`~.world.LinearBernoulliWorld`), ``speed`` (simulated seconds per real
            second), ``wait`` (reward wait time, simulated s), ``batch_size`` and ``max_batch_age`` (when the
            learner trains, see :class:`~.learner.Learner`)...

    Raises:
        ValueError: unknown architecture.
        LauncherError: component processes did not get ready within ``start_timeout`` seconds.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    delay = delay or DelayModel("fixed", 10.0)
    options = LearnerOptions(**learner)
    policy, speed = options.policy, options.speed
    world = LinearBernoulliWorld(options.n_actions, options.dim, seed=seed)
    stream = world.events(events, delay, seed=seed)
    with contextlib.ExitStack() as stack:
        if log_dir is None:
            log_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="swergio-bandit-"))
        log_dir = Path(log_dir)
        log_path = log_dir / f"joined-{architecture}-{policy}-{delay.kind}.jsonl"
        log_path.unlink(missing_ok=True)
        options = dataclasses.replace(options, log=log_path)
        swarm = Swarm(log_dir=log_dir, ready_timeout=start_timeout)
        if architecture == "baseline":
            policy_options = {f.name: getattr(options, f.name) for f in dataclasses.fields(PolicyOptions)}
            swarm.add(server.build, PolicyOptions(**policy_options), seed=seed, env=ONE_BLAS_THREAD)
            swarm.add(trainer.build, TrainerOptions(**dataclasses.asdict(options)), seed=seed, env=ONE_BLAS_THREAD)
        else:
            swarm.add(agent.build, options, seed=seed, env=ONE_BLAS_THREAD)
        serving_name = "server" if architecture == "baseline" else "agent"
        async with swarm.started(processes=processes), Client("world", swarm.url) as client:
            runner = WorldRunner(client, stream, speed=speed, rate=rate, label=f"{policy} ({architecture})")
            if progress is not None:
                runner.listeners.append(lambda i, log: progress.update(1))
            await runner.run()
            if progress is not None:  # the decisions are done; say what the next seconds are spent on
                progress.set_postfix_str("waiting for late rewards and the last trainings")
            await runner.drain()
            await asyncio.sleep((options.wait + 2 * options.max_batch_age) / speed + 0.1)  # every window trains
            serving = await fetch_stats(client, serving_name)
            learning = serving if architecture == "in-process" else await fetch_stats(client, "trainer")
            routed = swarm.hub.router.stats.routed
    log = runner.log
    joiner_keys = (
        "decisions", "rewards", "joined", "defaulted", "evicted", "duplicate_rewards", "late_rewards",
        "out_of_order", "orphans_dropped", "pending", "held", "batches", "trained_events",
    )  # fmt: skip
    return BanditResult(
        architecture=architecture,
        delay=delay.kind,
        policy=policy,
        events=events,
        regret=np.array(log.regret),
        uniform_regret=stream.uniform_regret(),
        serve_latency_s=np.array(log.serve_latency_s),
        learn_latency_s=np.asarray(serving["learn_latency_s"], dtype=np.float64),
        joiner={k: int(learning[k]) for k in joiner_keys},
        wall_s=log.wall_s,
        extra={
            "rewards_sent": log.rewards_sent,
            "rewards_lost": log.rewards_lost,
            "messages_routed": routed,
            "policy_version_at_end": int(serving["version"]),
            "mean_propensity": float(np.mean(log.propensities)),
            "decide_p50_us": float(np.percentile(serving["decide_s"], 50) * 1e6),
            "train_batch_p50_ms": float(np.percentile(learning["train_s"], 50) * 1e3)
            if len(learning["train_s"])
            else None,
        },
    )


def plot_results(results: list[BanditResult], path: Path) -> None:
    """Cumulative regret of every run (one panel per delay setting, uniform random dashed) to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    delays = list(dict.fromkeys(r.delay for r in results))
    # at least 8 in wide and a constrained layout: the title fits even above a single panel
    size = (max(8, 5 * len(delays)), 4.4)
    fig, axes = plt.subplots(1, len(delays), figsize=size, dpi=100, sharey=True, squeeze=False, layout="constrained")
    for ax, delay in zip(axes[0], delays, strict=True):
        runs = [r for r in results if r.delay == delay]
        for r in runs:
            style = "-" if r.architecture == "baseline" else "--"
            ax.plot(np.cumsum(r.regret), style, lw=1.5, label=f"{r.policy} ({r.architecture})")
        ax.plot(np.cumsum(runs[0].uniform_regret), ":", color="grey", label="uniform random (expected)")
        ax.set_title(f"reward delay: {delay}")
        ax.set_xlabel("decision")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("cumulative regret vs the optimum")
    fig.suptitle("Contextual bandit with delayed rewards joined by event id, through the hub")
    fig.savefig(path)
    plt.close(fig)


def _delay(kind: str, args: argparse.Namespace) -> DelayModel:
    return DelayModel(kind, args.delay_scale, loss=args.loss if kind != "none" else 0.0)


def run(args: argparse.Namespace) -> list[BanditResult]:
    """Run the demo as the options say; prints a table and writes the plot and the figures."""
    from tqdm.auto import tqdm

    architectures = ARCHITECTURES if args.architecture == "both" else (args.architecture,)
    delays = [d.strip() for d in args.delays.split(",") if d.strip()]
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    learner = option_values(from_arguments(LearnerOptions, args), changed=True)  # --wait, --speed, --batch-size
    results = []
    start = time.perf_counter()
    for delay in delays:
        model = _delay(delay, args)
        for policy in policies:
            for architecture in architectures:
                desc = f"{architecture:>10} {policy:>7} delay={delay}"
                with contextlib.closing(tqdm(total=args.events, desc=desc, disable=args.no_progress)) as bar:
                    result = asyncio.run(
                        run_bandit(
                            architecture,
                            model,
                            events=args.events,
                            seed=args.seed,
                            rate=args.rate,
                            processes=not args.same_loop,
                            log_dir=args.out / "logs",
                            progress=bar,
                            **learner,
                            policy=policy,
                        )  # fmt: skip
                    )
                results.append(result)
    total = time.perf_counter() - start
    summaries = [r.summary() for r in results]
    (args.out / "bandit_results.json").write_text(json.dumps(summaries, indent=1))
    plot_results(results, args.out / "bandit_regret.png")
    header = (
        f"{'architecture':>11} {'policy':>7} {'delay':>5} {'regret':>7} {'uniform':>7} {'2nd half':>8} "
        f"{'serve p50/p99 ms':>16} {'learn p50/p99 ms':>17} {'joined':>6} {'default':>7} {'late':>4}"
    )
    print(header)
    for s in summaries:
        j = s["joiner"]
        learn = "-" if s["learn_p50_ms"] is None else f"{s['learn_p50_ms']:.0f}/{s['learn_p99_ms']:.0f}"
        print(
            f"{s['architecture']:>11} {s['policy']:>7} {s['delay']:>5} {s['cumulative_regret']:7.1f} "
            f"{s['uniform_expected_regret']:7.1f} {s['regret_second_half']:8.1f} "
            f"{s['serve_p50_ms']:7.2f}/{s['serve_p99_ms']:<8.2f} {learn:>17} {j['joined']:>6} "
            f"{j['defaulted'] + j['evicted']:>7} {j['late_rewards']:>4}"
        )
    print(f"{len(results)} runs of {args.events} decisions in {total:.1f} s")
    print(f"wrote {args.out / 'bandit_regret.png'}, {args.out / 'bandit_results.json'}")
    return results
