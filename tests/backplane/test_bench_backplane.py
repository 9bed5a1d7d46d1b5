"""bench/bench_backplane.py runs on bench_procs.py's harness: every message arrives checked across hubs, and the
figures it reports are there (speed is not asserted here)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import bench_backplane  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def test_cross_hub_throughput_and_round_trips_arrive_checked():
    out = bench_backplane.run_case("cross", 300, 20)
    assert (out["received"], out["lost"], out["bad"]) == (300, 0, 0)
    assert len(out["hub_cpu_us_each"]) == 2 and out["msgs_per_publish"] >= 1
    assert 0 < out["p50_ms"] <= out["p99_ms"]


def test_three_hubs_in_a_ring_deliver_every_producers_messages():
    out = bench_backplane.run_case("aggregate-3", 200, 0)
    assert (out["received"], out["lost"], out["bad"]) == (600, 0, 0)
    assert len(out["hub_cpu_us_each"]) == 3 and out["redis_cpu_us"] is not None


def test_table_reports_medians_and_losses():
    rounds = {"cross": [{"msg_s": 10.0, "lost": 1, "bad": 0, "hub_cpu_us_each": [1.0, 2.0]}, {"error": "x"}]}
    table = bench_backplane.table(rounds)
    assert "| cross | 10 |" in table and table.splitlines()[2].endswith("| 1 |") and "cross: 1.00, 2.00" in table
