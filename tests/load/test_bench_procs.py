"""bench/bench_procs.py runs, and its receivers count only what arrived intact (speed is not asserted here)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import bench_procs  # noqa: E402


def test_receiver_counts_only_exact_new_payloads():
    receiver = bench_procs.Receiver(3, big=False)
    receiver.hit(bench_procs.small(0))
    receiver.hit(bench_procs.small(0))  # a duplicate
    receiver.hit({**bench_procs.small(1), "DATA": [[1.25000001, 2.0]]})  # one value off
    receiver.hit({**bench_procs.small(2), "SEQ": 3})  # a SEQ that was never sent
    receiver.hit(bench_procs.small(2))
    assert (receiver.count, receiver.bad) == (2, 3)


def test_big_receiver_compares_every_bit():
    receiver = bench_procs.Receiver(2, big=True)
    array = bench_procs.big_array()
    flipped = array.copy()
    flipped.view(np.uint32)[-1] ^= 1  # the last element, least significant bit
    receiver.hit({"DATA": flipped})
    receiver.hit({"DATA": array.astype(np.float64)})
    receiver.hit({"DATA": array})
    assert (receiver.count, receiver.bad) == (1, 2)


@pytest.mark.parametrize("system", ["swergio_nb", "min_ws"])
def test_one_to_one_and_fan_out_deliver_everything_checked(system):
    one = bench_procs.run_workload(bench_procs.SYSTEMS[system], "throughput", 300)
    assert (one["received"], one["lost"], one["bad"]) == (300, 0, 0)
    many = bench_procs.run_workload(bench_procs.SYSTEMS[system], "fanout", 50)
    assert (many["received"], many["lost"], many["bad"]) == (50 * bench_procs.FANOUT, 0, 0)
    assert many["hub_cpu_us"] is not None and many["msg_s"] > 0


@pytest.mark.parametrize("system", ["swergio_nb", "min_ws"])
def test_round_trips_and_the_big_array_arrive(system):
    rtt = bench_procs.run_workload(bench_procs.SYSTEMS[system], "rtt", 20)
    assert rtt["round_trips"] == 20 and 0 < rtt["p50_ms"] <= rtt["p99_ms"]
    big = bench_procs.run_workload(bench_procs.SYSTEMS[system], "big_binary", 2)
    assert big["reps"] == 2 and big["bad"] == 0 and big["ms"] > 0


def test_summary_reports_spread_and_losses():
    runs = {
        "throughput": [{"msg_s": 100.0, "lost": 0, "bad": 0}, {"msg_s": 130.0, "lost": 2, "bad": 1}],
        "fanout": [{"error": "TimeoutError: no RESULT"}],
    }
    row = bench_procs.summary(runs)
    assert row["1->1 msg/s"] == 115.0 and row["1->1 spread"] == pytest.approx(1.3)
    assert row["lost"] == 3 and row["errors"] == 1 and row["1->8 msg/s"] is None
