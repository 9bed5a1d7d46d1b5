"""TrafficStats and preview: sans-I/O, a fake clock, no sockets."""

from __future__ import annotations

import json
import sys
import time
import tracemalloc

import numpy as np
import pytest

from swergio_nb.protocol.traffic import DIRECT, OTHER, TrafficStats, preview

torch = pytest.importorskip("torch")


def log(mtype="DATA/FORWARD", room="input", sender="sim", data=None, i=0, **extra):
    """A LOG/MESSAGES envelope as the hub makes it (arrays already decoded)."""
    message = {"ID": f"id{i}", "ROOT_ID": f"root{i}", "TYPE": mtype, "TO_ROOM": room, "SENT_BY": sender, **extra}
    if data is not None:
        message["DATA"] = data
    return {"ID": f"log{i}", "TYPE": "LOG/MESSAGES", "TO_ROOM": "_logging", "SENDER": sender, "ROOM": room,
            "MESSAGE": message}  # fmt: skip


# -- preview -----------------------------------------------------------------------------------------------------


def test_preview_arrays_and_tensors():
    assert preview(np.zeros((100, 3), np.float32)) == "float32[100, 3]"
    assert preview(np.arange(4)) == f"{np.arange(4).dtype}[4]"
    assert preview(torch.zeros(2, 5)) == "float32[2, 5]"
    assert preview(torch.zeros(3, dtype=torch.int64)) == "int64[3]"
    assert preview(np.array(2.5)) == "float64[]=2.5"
    assert preview(np.float32(3.5)) == "3.5"
    assert preview(np.int64(7)) == "7"


def test_preview_scalars_and_strings():
    assert preview(None) == "None"
    assert preview(True) == "True"
    assert preview(3) == "3"
    assert preview(0.123456789) == "0.1235"
    assert preview("hi") == "'hi'"
    assert preview(b"abc") == "bytes[3]"
    long = preview("x" * 1000)
    assert len(long) == 80 and long.endswith("…")
    assert len(preview("y" * 1000, limit=20)) == 20


def test_preview_nested_containers_are_abbreviated():
    text = preview({"obs": np.zeros(4, np.float32), "meta": {"a": {"b": {"c": 1}}}, "xs": [1, 2, 3]})
    assert text == "{obs: float32[4], meta: {a: {1 key}}, xs: [1, 2, 3]}"
    assert preview([[[[1, 2]]]]) == "[[[1 item]]]"
    assert preview([[[1, 2]]]) == "[[[2 items]]]"
    assert preview([[1, 2]]) == "[[1, 2]]"
    many = preview(list(range(1_000_000)))
    assert many.startswith("[0, 1, 2") and len(many) <= 80
    assert "…+" in preview(list(range(20)), limit=200)
    assert len(preview({str(i): i for i in range(1000)})) <= 80


def test_preview_is_fast_on_huge_containers():
    big = {"xs": list(range(1_000_000)), "nested": [{"a": list(range(10_000))}] * 10_000}
    start = time.perf_counter()
    preview(big)
    assert time.perf_counter() - start < 0.01


# -- counts, rates, tail, members ----------------------------------------------------------------------------------


def test_counts_per_room_and_type():
    stats = TrafficStats()
    for i in range(30):
        stats.observe(log("DATA/FORWARD", "input", i=i), now=1.0)
    for i in range(20):
        stats.observe(log("DATA/GRADIENT", "output", sender="loss", i=i), now=1.0)
    stats.observe(log("DATA/GRADIENT", "input", i=99), now=1.0)
    snap = stats.snapshot(now=1.0)
    assert snap["totals"]["count"] == 51
    assert snap["rooms"]["input"] == {"members": [], "count": 31, "types": {"DATA/FORWARD": 30, "DATA/GRADIENT": 1}}
    assert snap["rooms"]["output"] == {"members": [], "count": 20, "types": {"DATA/GRADIENT": 20}}
    assert snap["types"]["DATA/FORWARD"]["count"] == 30
    assert snap["types"]["DATA/GRADIENT"]["count"] == 21


def test_plain_messages_and_direct_messages():
    stats = TrafficStats()
    stats.observe({"ID": "a", "TYPE": "DATA/FORWARD", "TO_ROOM": "r", "SENT_BY": "x", "DATA": [1]}, now=0.0)
    stats.observe({"ID": "b", "TYPE": "LOG/MESSAGES", "ROOM": None, "SENDER": "y",
                   "MESSAGE": {"ID": "c", "TYPE": "DATA/GRADIENT", "TO": "x", "DATA": 1.5}}, now=0.0)  # fmt: skip
    snap = stats.snapshot(now=0.0)
    assert snap["rooms"]["r"]["count"] == 1
    assert snap["rooms"][DIRECT]["types"] == {"DATA/GRADIENT": 1}
    assert [(e["sender"], e["id"], e["preview"]) for e in snap["tail"]] == [("x", "a", "[1]"), ("y", "c", "1.5")]


def test_rates_over_a_sliding_window_with_a_fake_clock():
    stats = TrafficStats(window=5.0)
    # 100 messages/s of FORWARD and 20/s of GRADIENT for 10 s
    for k in range(1000):
        t = k / 100
        stats.observe(log("DATA/FORWARD", i=k), now=t)
        if k % 5 == 0:
            stats.observe(log("DATA/GRADIENT", i=k), now=t)
    snap = stats.snapshot(now=10.0)
    assert snap["types"]["DATA/FORWARD"]["rate"] == pytest.approx(100, rel=0.06)
    assert snap["types"]["DATA/GRADIENT"]["rate"] == pytest.approx(20, rel=0.06)
    assert snap["totals"]["rate"] == pytest.approx(120, rel=0.06)
    # the window slides: 2.5 s later only half the window holds messages, 6 s later none
    assert stats.rate("DATA/FORWARD", now=12.5) == pytest.approx(50, rel=0.1)
    assert stats.rate("DATA/FORWARD", now=16.0) == 0.0
    assert stats.rate("UNKNOWN", now=16.0) == 0.0


def test_rate_is_right_before_a_whole_window_has_passed():
    stats = TrafficStats(window=5.0)
    for k in range(100):
        stats.observe(log(i=k), now=k / 100)  # 100 messages/s for 1 s
    assert stats.rate("DATA/FORWARD", now=1.0) == pytest.approx(100, rel=0.05)


def test_tail_is_bounded_and_holds_the_latest():
    stats = TrafficStats(tail=5)
    for i in range(12):
        stats.observe(log(data=np.zeros(4, np.float32), i=i), now=float(i))
    tail = stats.snapshot(now=12.0)["tail"]
    assert [e["id"] for e in tail] == [f"id{i}" for i in range(7, 12)]
    assert tail[-1] == {"time": 11.0, "room": "input", "sender": "sim", "type": "DATA/FORWARD", "id": "id11",
                        "root_id": "root11", "preview": "float32[4]"}  # fmt: skip


def test_tail_preview_of_a_message_without_data_shows_extra_fields():
    stats = TrafficStats()
    stats.observe(log(i=1, REWARD=1.0), now=0.0)
    assert stats.snapshot(now=0.0)["tail"][0]["preview"] == "{REWARD: 1.0}"


def test_filters_select_the_tail_only():
    stats = TrafficStats(tail=10)
    for i in range(10):
        stats.observe(log("DATA/FORWARD", "input", i=i), now=0.0)
    stats.observe(log("DATA/GRADIENT", "output", i=100), now=0.0)
    stats.set_filter(room="OUT")
    assert [e["id"] for e in stats.snapshot(0.0)["tail"]] == ["id100"]
    for i in range(20):  # a busy room does not push the filtered room out of the tail
        stats.observe(log("DATA/FORWARD", "input", i=200 + i), now=0.0)
    snap = stats.snapshot(0.0)
    assert [e["id"] for e in snap["tail"]] == ["id100"]
    assert snap["totals"]["count"] == 31 and snap["filter"] == {"room": "out", "type": ""}
    stats.set_filter(type="forward")
    stats.observe(log("DATA/FORWARD", "input", i=300), now=0.0)
    assert [e["id"] for e in stats.snapshot(0.0)["tail"]] == ["id300"]
    stats.set_filter()
    stats.observe(log("DATA/GRADIENT", "output", i=301), now=0.0)
    assert [e["id"] for e in stats.snapshot(0.0)["tail"]] == ["id300", "id301"]
    stats.set_filter(room=" Input , other ")  # comma-separated alternatives, as `%swergio monitor ROOM ...` sets
    for i, room in enumerate(["input", "output", "another", "x"]):
        stats.observe(log("DATA/FORWARD", room, i=400 + i), now=0.0)
    assert [e["room"] for e in stats.snapshot(0.0)["tail"]] == ["input", "input", "another"]
    assert stats.snapshot(0.0)["filter"] == {"room": "input,other", "type": ""}


def test_members_are_listed_even_for_quiet_rooms():
    stats = TrafficStats()
    stats.observe(log(room="input"), now=0.0)
    stats.set_members({"input": ["model", "sim"], "idle": ["x"], "_logging": ["control"]})
    rooms = stats.snapshot(0.0)["rooms"]
    assert rooms["input"]["members"] == ["model", "sim"] and rooms["input"]["count"] == 1
    assert rooms["idle"] == {"members": ["x"], "count": 0, "types": {}}
    stats.set_members({})
    assert stats.snapshot(0.0)["rooms"]["input"]["members"] == []
    assert "idle" not in stats.snapshot(0.0)["rooms"]


def test_snapshot_is_plain_json():
    stats = TrafficStats()
    stats.set_members({"input": ["a"]})
    stats.observe(log(data={"x": torch.ones(2, 2), "y": np.zeros(3)}, i=1), now=np.float64(1.5))
    stats.observe(log(data=np.float32(2.0), i=2), now=1.6)
    stats.observe({"TYPE": "DATA/FORWARD", "TO": "x"}, now=1.7)  # no ID, sender or room
    snap = stats.snapshot(now=2.0)
    assert json.loads(json.dumps(snap, allow_nan=False)) == snap

    def plain(value):
        if isinstance(value, dict):
            return all(type(k) is str and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return type(value) in (str, int, float)

    assert plain(snap)


def test_reset_and_bad_arguments():
    stats = TrafficStats()
    stats.observe(log(), now=0.0)
    stats.reset()
    assert stats.snapshot(0.0)["totals"]["count"] == 0 and stats.snapshot(0.0)["tail"] == []
    with pytest.raises(ValueError):
        TrafficStats(window=0)
    with pytest.raises(ValueError):
        TrafficStats(tail=-1)


# -- bounds ------------------------------------------------------------------------------------------------------


def test_rooms_and_types_beyond_the_limits_are_counted_as_other():
    stats = TrafficStats(max_rooms=3, max_types=2)
    for i in range(10):
        stats.observe(log(f"T{i % 4}", f"room{i}", i=i), now=0.0)
    snap = stats.snapshot(0.0)
    assert set(snap["rooms"]) == {"room0", "room1", "room2", OTHER}
    assert set(snap["types"]) == {"T0", "T1", OTHER}
    assert sum(r["count"] for r in snap["rooms"].values()) == 10
    assert sum(t["count"] for t in snap["types"].values()) == 10


def test_memory_is_bounded_after_100000_observes():
    stats = TrafficStats(tail=50)
    arrays = np.zeros((8, 1000), np.float32)  # payloads are referenced only by the tail
    messages = [log(f"T{i % 100}", f"room{i}", data=arrays[i % 8], i=i) for i in range(1000)]
    for i, m in enumerate(messages):  # warm up: every room and type exists
        stats.observe(m, now=i * 1e-4)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(100_000):
        stats.observe(messages[i % 1000], now=0.1 + i * 1e-4)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert stats.total == 101_000
    assert len(stats._tail) == 50
    assert all(len(b) <= 21 for b in stats._buckets.values())
    assert after - before < 200_000, after - before
    # unique room names every time: still bounded
    stats = TrafficStats()
    for i in range(100_000):
        stats.observe(log("DATA/FORWARD", f"r{i}", i=i), now=i * 1e-4)
    assert len(stats._room_counts) <= stats.max_rooms + 1
    assert sys.getsizeof(stats._room_counts) < 100_000


def test_observe_is_cheap():
    stats = TrafficStats()
    messages = [log("DATA/FORWARD" if i % 2 else "DATA/GRADIENT", f"room{i % 4}", data=[1.0], i=i) for i in range(1000)]
    start = time.perf_counter()
    for i in range(100_000):
        stats.observe(messages[i % 1000], now=i * 1e-4)
    per_message = (time.perf_counter() - start) / 100_000
    print(f"observe: {per_message * 1e6:.2f} µs/message")
    assert per_message < 20e-6  # generous: 10,000 messages/s must cost well under 20% of a core


def test_a_summarys_tail_entries_keep_the_time_the_hub_routed_each_message():
    stats = TrafficStats(window=5.0, tail=10)
    summary = {
        "TYPE": "LOG/TRAFFIC",
        "COUNTS": [["scores", "env", "LOG/KPI", 2, 60]],
        "TAIL": [
            {"SENDER": "env", "ROOM": "scores", "TIME": 100.25, "MESSAGE": {"ID": "a", "TYPE": "LOG/KPI"}},
            {"SENDER": "env", "ROOM": "scores", "TIME": 100.75, "MESSAGE": {"ID": "b", "TYPE": "LOG/KPI"}},
            {"SENDER": "env", "ROOM": "scores", "TIME": "late", "MESSAGE": {"ID": "c", "TYPE": "LOG/KPI"}},
        ],
    }
    stats.observe_summary(summary, now=101.0)
    snap = stats.snapshot(now=101.0)
    assert [(e["id"], e["time"]) for e in snap["tail"]] == [("a", 100.25), ("b", 100.75), ("c", 101.0)]
    assert snap["rooms"]["scores"]["count"] == 2  # LOG/KPI rooms count like any other
