"""TrafficWidget and MetricsWidget, fed through a real hub on loopback (port 0); the JS modules as files."""

from __future__ import annotations

import asyncio
import base64
import json
import pathlib
import re
import shutil
import subprocess
import time

import numpy as np
import pytest

from swergio_nb import Client, Hub, Trigger
from swergio_nb.exceptions import InvalidState
from swergio_nb.notebook.widgets import STATIC, MetricsWidget, TrafficWidget

from ..helpers import until

ROOT = pathlib.Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def hub():
    async with Hub(port=0) as running:
        yield running


def png_bytes(widget: MetricsWidget) -> bytes:
    return base64.b64decode(widget.png)


# -- TrafficWidget -------------------------------------------------------------------------------------------------


async def test_traffic_widget_fed_every_message_shows_counts_members_and_tail(hub):
    widget = TrafficWidget()
    control = Client("control", hub.url)
    widget.attach(control, feed="messages", interval=0.05, members_every=0.1)
    seen = {"input": 0, "output": 0}

    def count(msg):
        seen[msg["TO_ROOM"]] += 1

    model, critic = Client("model", hub.url), Client("critic", hub.url)
    model.add_handler(count, Trigger("DATA/FORWARD", "input"))
    critic.add_handler(count, Trigger("DATA/GRADIENT", "output"))
    async with control, model, critic, Client("sim", hub.url) as sim, Client("loss", hub.url) as loss:
        for i in range(300):
            await sim.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": np.full(4, i, np.float32)})
        await until(lambda: seen["input"] == 300)  # so the tail ends with the gradients, in order
        for _ in range(200):
            await loss.send({"TYPE": "DATA/GRADIENT", "TO_ROOM": "output", "DATA": {"grad": np.ones((2, 3))}})
        last = await loss.send({"TYPE": "DATA/GRADIENT", "TO_ROOM": "output", "DATA": [1.0, 2.0]})

        def complete():
            snap = widget.snapshot
            rooms = snap.get("rooms", {})
            members = rooms.get("input", {}).get("members") == ["model"]
            return snap.get("totals", {}).get("count") == 501 and members and sum(seen.values()) == 501

        await until(complete)
        snap = widget.snapshot
        assert seen == {"input": 300, "output": 201}
        assert snap["rooms"]["input"] == {"members": ["model"], "count": 300, "types": {"DATA/FORWARD": 300}}
        assert snap["rooms"]["output"] == {"members": ["critic"], "count": 201, "types": {"DATA/GRADIENT": 201}}
        assert snap["rooms"]["_logging"]["members"] == ["control"]
        assert snap["types"]["DATA/FORWARD"]["count"] == 300 and snap["types"]["DATA/GRADIENT"]["count"] == 201
        assert snap["types"]["DATA/FORWARD"]["rate"] > 0
        tail = snap["tail"]
        assert len(tail) == 50
        assert tail[-1]["id"] == last["ID"] and tail[-1]["sender"] == "loss" and tail[-1]["preview"] == "[1.0, 2.0]"
        assert tail[-2]["preview"] == "{grad: float64[2, 3]}" and tail[-2]["room"] == "output"
        json.dumps(snap)

        # filters (as the browser would set them) narrow the tail, not the counts
        widget.room_filter = "inp"
        await sim.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": np.zeros(4, np.float32)})
        await until(lambda: widget.snapshot["totals"]["count"] == 502)
        tail = widget.snapshot["tail"]
        assert [e["room"] for e in tail] == ["input"] and tail[0]["preview"] == "float32[4]"
        assert widget.snapshot["rooms"]["output"]["count"] == 201

        # paused: counting goes on, nothing is pushed
        widget.paused = True
        await asyncio.sleep(0.1)
        pushes = widget.pushes
        await sim.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": 1})
        await until(lambda: widget.stats.total == 503)
        await asyncio.sleep(0.2)
        assert widget.pushes == pushes and widget.snapshot["totals"]["count"] == 502
        widget.paused = False
        await until(lambda: widget.snapshot["totals"]["count"] == 503)

        task = widget._task
        widget.detach()
        await asyncio.sleep(0)
        assert task.done() and not widget.attached
        assert all(h.fn != widget.observe_message for h in control.handlers)
        with pytest.raises(ValueError, match="feed"):
            widget.attach(control, feed="everything")
    widget.close()


async def test_traffic_widget_fed_summaries_counts_exactly_and_tails_the_latest(hub):
    widget = TrafficWidget()
    control = Client("control", hub.url)
    widget.attach(control, interval=0.05, members_every=0.1)  # feed="summary" by default
    got: list[int] = []
    model = Client("model", hub.url)
    model.add_handler(lambda msg: got.append(msg["N"]), Trigger("DATA/FORWARD", "input"))
    async with control, model, Client("sim", hub.url) as sim, Client("loss", hub.url) as loss:
        await widget.ready()
        for i in range(500):
            await sim.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": np.full(4, i, np.float32), "N": i})
        await until(lambda: len(got) == 500)  # the hub has routed them: the tail ends with what loss sends next
        await loss.send({"TYPE": "DATA/GRADIENT", "TO": "model", "DATA": {"grad": np.ones((2, 3))}})
        big = await loss.send({"TYPE": "DATA/REWARD", "TO_ROOM": "nobody", "DATA": "x" * 100_000})
        last = await loss.send({"TYPE": "DATA/GRADIENT", "TO_ROOM": "output", "DATA": [1.0, 2.0]})

        def complete():
            snap = widget.snapshot
            return snap.get("totals", {}).get("count") == 503 and snap["rooms"].get("input", {}).get("members")

        await until(complete)
        snap = widget.snapshot
        assert got == list(range(500))
        assert snap["rooms"]["input"] == {"members": ["model"], "count": 500, "types": {"DATA/FORWARD": 500}}
        assert snap["rooms"]["(direct)"]["count"] == 1 and snap["rooms"]["nobody"]["count"] == 1  # undelivered too
        assert snap["rooms"]["_traffic"]["members"] == ["control"] and "_logging" not in snap["rooms"]
        assert snap["types"]["DATA/FORWARD"]["rate"] > 0
        tail = snap["tail"]
        assert 3 <= len(tail) <= 50
        assert tail[-1]["id"] == last["ID"] and tail[-1]["sender"] == "loss" and tail[-1]["preview"] == "[1.0, 2.0]"
        assert tail[-2]["id"] == big["ID"] and re.fullmatch(r"'<100,\d{3} characters>'", tail[-2]["preview"])  # size
        assert tail[-3]["preview"] == "{grad: float64[2, 3]}" and tail[-3]["room"] == "(direct)"
        assert hub.stats.log_dropped == 0
    widget.close()


async def test_traffic_widget_push_rate_is_throttled(hub):
    interval = 0.1
    widget = TrafficWidget()
    changes: list[float] = []
    widget.observe(lambda change: changes.append(time.monotonic()), names="snapshot")
    control = Client("control", hub.url)
    widget.attach(control, interval=interval)
    receiver = Client("model", hub.url)
    receiver.add_handler(lambda msg: None, Trigger("DATA/FORWARD", "input"))
    async with control, receiver, Client("sim", hub.url) as sim:
        await until(lambda: widget.snapshot.get("rooms", {}).get("input") is not None)
        changes.clear()
        start = time.monotonic()
        for i in range(2000):
            await sim.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": np.zeros(3, np.float32), "I": i})
        await until(lambda: widget.snapshot["totals"]["count"] == 2000)
        duration = time.monotonic() - start
        in_burst = [t for t in changes if t <= start + duration]
        assert 1 <= len(in_burst) <= duration / interval + 2, (len(in_burst), duration)
        gaps = np.diff(changes)
        assert (gaps >= interval * 0.9).all()
    widget.close()


def test_traffic_widget_without_a_loop_or_frontend():
    widget = TrafficWidget(room_filter="in")
    widget.observe_message({"TYPE": "DATA/FORWARD", "ID": "a", "TO_ROOM": "input", "SENT_BY": "x", "DATA": [1]})
    widget.observe_message({"TYPE": "DATA/FORWARD", "ID": "b", "TO_ROOM": "out", "SENT_BY": "x", "DATA": [1]})
    snap = widget.update_now()
    assert widget.snapshot == snap and snap["totals"]["count"] == 2 and [e["id"] for e in snap["tail"]] == ["a"]
    with pytest.raises(InvalidState, match="running event loop") as info:
        widget.attach(Client("c", "ws://127.0.0.1:1"))
    assert isinstance(info.value, RuntimeError)  # what asyncio raised here before
    assert not widget.attached and widget.feed is None
    widget.close()


async def test_traffic_widget_misuse_is_an_invalid_state(hub):
    widget = TrafficWidget()
    with pytest.raises(InvalidState, match="not attached"):
        await widget.ready()
    async with Client("watcher", hub.url) as client:
        widget.attach(client)
        with pytest.raises(InvalidState, match="already attached"):
            widget.attach(client, feed="messages")
        assert widget.feed == "summary"
        await widget.ready()
    widget.close()


# -- MetricsWidget -------------------------------------------------------------------------------------------------


def test_metrics_render_now_changes_with_values_and_options(tmp_path):
    widget = MetricsWidget(title="training")
    for step in range(50):
        widget.push("loss", 1.0 / (step + 1), step)
        widget.push("accuracy", step / 50)
    start = time.perf_counter()
    first = png_bytes(widget) if widget.png else b""
    widget.render_now()
    elapsed = time.perf_counter() - start
    print(f"metrics render: {elapsed * 1e3:.1f} ms (first, includes figure creation)")
    assert first == b"" and png_bytes(widget).startswith(PNG_MAGIC)
    before = widget.png
    widget.push("loss", 5.0)
    widget.render_now()
    assert widget.png != before
    before = widget.png
    widget.log_scale = True
    widget.render_now()
    assert widget.png != before
    before = widget.png
    widget.smoothing = 0.9
    widget.render_now()
    assert widget.png != before
    assert widget.series == ["loss", "accuracy"]
    assert widget.data("accuracy")[0][:3] == [0.0, 1.0, 2.0]
    saved = widget.save(tmp_path / "x.png")
    assert saved.read_bytes() == png_bytes(widget) and saved.read_bytes().startswith(PNG_MAGIC)
    start = time.perf_counter()
    for _ in range(5):
        widget.render_now()
    print(f"metrics render: {(time.perf_counter() - start) / 5 * 1e3:.1f} ms (2 series x 51 points, smoothed)")
    widget.close()


def test_metrics_save_renders_when_needed_and_handles_edge_cases(tmp_path):
    widget = MetricsWidget()
    assert widget.save(tmp_path / "empty.png").read_bytes().startswith(PNG_MAGIC)  # "no data yet" frame
    widget.log_scale = True
    widget.push("negative", -1.0)
    widget.push("negative", float("nan"))
    assert widget.save(tmp_path / "neg.png").read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError):
        widget.push("x", "not a number")
    with pytest.raises(Exception):  # noqa: B017 - traitlets.TraitError
        widget.smoothing = 1.5
    widget.close()


def test_metrics_series_stay_bounded():
    widget = MetricsWidget(max_points=1000)
    for step in range(25_000):
        widget.push("loss", float(step), step)
    steps, values = widget.data("loss")
    assert 500 <= len(values) <= 1000 and len(steps) == len(values)
    assert steps[-1] >= 24_000 and values == sorted(values)
    assert abs(values[0] - steps[0]) < 64  # averages of neighbours stay near their steps
    widget.close()


async def test_metrics_renders_off_the_loop_and_throttled():
    widget = MetricsWidget(interval=0.2)
    start = time.monotonic()
    for step in range(200):
        widget.push("loss", 1 / (step + 1), step)
        await asyncio.sleep(0.002)
    await until(lambda: widget.png != "" and not widget._dirty and widget._task.done())
    elapsed = time.monotonic() - start
    assert png_bytes(widget).startswith(PNG_MAGIC)
    assert 1 <= widget.renders <= elapsed / 0.2 + 2, (widget.renders, elapsed)
    rendered = widget.png
    widget.log_scale = True  # as the browser would: re-rendered in the background
    await until(lambda: widget.png != rendered)
    widget.close()


async def test_metrics_attached_to_a_client_plots_kpi_messages(hub):
    widget = MetricsWidget(interval=0.05)
    watcher = Client("watcher", hub.url)
    widget.attach(watcher, "metrics")
    async with watcher, Client("trainer", hub.url) as trainer:
        for step in range(20):
            await trainer.send({"TYPE": "LOG/KPI", "TO_ROOM": "metrics", "KPI": "loss", "VALUE": 1 / (step + 1),
                                "STEP": step})  # fmt: skip
            await trainer.send({"TYPE": "LOG/KPI", "TO_ROOM": "metrics", "KPI": "reward", "VALUE": np.float32(step)})
        await until(lambda: len(widget.series) == 2 and len(widget.data("reward")[1]) == 20)
        assert widget.data("loss") == ([float(s) for s in range(20)], [1 / (s + 1) for s in range(20)])
        assert widget.data("reward")[1] == [float(s) for s in range(20)]
        await until(lambda: widget.png != "" and not widget._dirty)
        assert png_bytes(widget).startswith(PNG_MAGIC)
        widget.detach()
        assert widget._attached == [] and len(watcher.handlers) == 0
    widget.close()


# -- the JavaScript modules ------------------------------------------------------------------------------------------


JS_SOURCES = sorted((ROOT / "js").glob("*.js"))
#: the widgets' front ends (dashboard.js is the page of the hub in Jupyter Server, tested in tests/server)
WIDGET_SOURCES = [p for p in JS_SOURCES if p.name != "dashboard.js"]


def test_widgets_load_the_built_js():
    """Each front end is built into static/ (tests/js/test_bundle.py checks the bytes against a fresh build)."""
    assert [p.name for p in JS_SOURCES] == ["dashboard.js", "labelling.js", "metrics.js", "traffic.js"]
    assert sorted(p.name for p in STATIC.glob("*.js")) == sorted([p.name for p in JS_SOURCES] + ["swergio.js"])
    traffic, metrics = TrafficWidget(), MetricsWidget()
    assert traffic._esm == (STATIC / "traffic.js").read_text() and metrics._esm == (STATIC / "metrics.js").read_text()
    traffic.close()
    metrics.close()


@pytest.mark.parametrize("source", WIDGET_SOURCES, ids=lambda p: p.name)
def test_js_module_exports_render(source):
    text = source.read_text()
    assert "export default { render }" in text and "function render({ model, el })" in text
    assert "innerHTML" not in text  # names and previews come from the network: text nodes only


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("source", [*JS_SOURCES, *sorted(STATIC.glob("*.js"))], ids=str)
def test_js_module_parses_as_esm(source):
    result = subprocess.run(
        ["node", "--input-type=module", "--check"], input=source.read_text(), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


def test_browser_controls_set_only_their_traits_and_send_the_kernel_state_back(caplog):
    traffic, metrics = TrafficWidget(), MetricsWidget()
    sent: list[dict] = []
    metrics.send_state = lambda key=None: sent.append({key: getattr(metrics, key)})  # no comm without a frontend
    traffic._on_browser_msg(traffic, {"set": {"paused": True, "room_filter": "input"}}, [])
    assert traffic.paused is True and traffic.room_filter == "input"
    metrics._on_browser_msg(metrics, {"set": {"log_scale": True, "smoothing": 0.5}}, [])
    assert metrics.log_scale is True and metrics.smoothing == 0.5
    assert sent == []  # accepted: not echoed (the browser shows it; a late echo would undo a newer click)
    with caplog.at_level("WARNING", logger="swergio_nb.notebook.widgets"):
        metrics._on_browser_msg(metrics, {"set": {"smoothing": 2.0, "png": "x"}}, [])
        traffic._on_browser_msg(traffic, ["paused"], [])
    assert metrics.smoothing == 0.5 and metrics.png == ""  # refused: the kernel's value stays ...
    assert sent[-1] == {"smoothing": 0.5}  # ... and is sent back, so the browser shows it
    text = caplog.text
    assert "refused smoothing=2.0" in text and "cannot set 'png'" in text and "without a 'set' object" in text
    assert traffic.paused is True


def test_metrics_panels_have_their_own_axes_named_x_axis_and_stable_colours():
    from matplotlib.colors import to_hex

    metrics = MetricsWidget(
        x_label="labels rated",
        panels={"accuracy": ["test accuracy", "cv accuracy"], "labels (count)": ["labels"]},
        y_label="rating (0-5)",
        panel_x_labels={"rating (0-5)": "generation"},
    )
    metrics.push("population rating", 2.5, 0)  # first pushed: C0, in the panel of the unlisted series
    for step in range(1, 4):
        metrics.push("labels", 5.0 * step, step)
        metrics.push("test accuracy", 0.2 * step, step)
    metrics.render_now()
    axes = metrics._figure.axes
    assert [ax.get_ylabel() for ax in axes] == ["accuracy", "labels (count)", "rating (0-5)"]
    assert [ax.get_xlabel() for ax in axes] == ["labels rated", "labels rated", "generation"]
    lines = {line.get_label(): to_hex(line.get_color()) for ax in axes for line in ax.get_lines()}
    assert lines == {"population rating": to_hex("C0"), "labels": to_hex("C1"), "test accuracy": to_hex("C2")}
    accuracy = axes[0]
    assert accuracy.get_ylim()[1] < 1.0  # the label counts (5-15) do not flatten the accuracies
    metrics.push("cv accuracy", 0.5, 3)  # a new series joins its panel; the others keep their colours
    metrics.render_now()
    lines = {line.get_label(): to_hex(line.get_color()) for ax in metrics._figure.axes for line in ax.get_lines()}
    assert lines["test accuracy"] == to_hex("C2") and lines["cv accuracy"] == to_hex("C3")
    with pytest.raises(ValueError, match="'labels' is in two panels"):
        MetricsWidget(panels={"a": ["labels"], "b": ["labels"]})


def test_metrics_sparse_series_are_dotted_markers_dense_ones_solid_lines():
    from swergio_nb.notebook.widgets import SPARSE_POINTS

    metrics = MetricsWidget()
    metrics.push("greedy mean return", 14.8, 0)  # two evaluations, 140 episodes apart
    metrics.push("greedy mean return", 173.2, 140)
    for step in range(SPARSE_POINTS + 1):
        metrics.push("episode return", float(step % 7), step)
    for smoothing in (0.0, 0.5):
        metrics.smoothing = smoothing
        metrics.render_now()
        lines = {line.get_label(): line for line in metrics._figure.axes[0].get_lines()}
        sparse, dense = lines["greedy mean return"], lines["episode return"]
        assert (sparse.get_marker(), sparse.get_linestyle()) == ("o", ":")
        assert (dense.get_marker(), dense.get_linestyle()) in (("None", "-"), (None, "-"), ("", "-"))
