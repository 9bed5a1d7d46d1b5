"""Notebook widgets: live hub traffic and live metric curves (thin ``anywidget.AnyWidget`` subclasses).

Python decides what to show; the JavaScript in ``static/`` (built from ``js/``) only draws it.

* :class:`TrafficWidget` joins the hub's ``_traffic`` room through a :class:`~swergio_nb.transport.client.Client` (one
  ``LOG/TRAFFIC`` summary per tenth of a second, whatever the traffic; or, with ``feed="messages"``, the
  ``_logging`` room's copy of every message), aggregates it with :class:`~swergio_nb.protocol.traffic.TrafficStats` and
  pushes a JSON snapshot to the browser at most every ``interval`` seconds.
* :class:`MetricsWidget` plots series of numbers (pushed from Python or received as ``LOG/KPI`` messages) with
  matplotlib in a worker thread and shows the PNG.

Both work without a frontend (traits still update, e.g. in tests or a plain Python process). Example::

    traffic = TrafficWidget()
    traffic.attach(client)          # in the notebook's running loop
    traffic                         # display it
    metrics = MetricsWidget(title="loss")
    metrics.attach(client, "metrics")
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import math
import pathlib
import threading
import time
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from ..exceptions import InvalidState, SwergioError
from ..protocol.messages import LOGGING_ROOM, TRAFFIC_ROOM, MessageType
from ..protocol.traffic import TrafficStats
from ..transport.client import Client, Handler, Trigger

__all__ = ["TrafficWidget", "MetricsWidget", "SPARSE_POINTS", "STATIC"]

logger = logging.getLogger("swergio_nb.notebook.widgets")

#: Folder of the built JavaScript modules (``npm --prefix js run build`` bundles ``js/*.js`` and the client here).
STATIC = pathlib.Path(__file__).parent.parent / "static"


class _BrowserControls(anywidget.AnyWidget):
    """A widget whose browser controls set traits through custom messages ``{"set": {trait: value}}``.

    The front end never uses ``save_changes()``: ipykernel 7 dispatches a widget's comm messages concurrently while a
    cell runs and publishes no busy/idle status for them, and ipywidgets' front end waits for that idle before it
    sends the next state change of the same widget, so every change after the first one during a running cell (and
    after it) would stay in the browser (ipykernel ``kernelbase.py``: ``shell_main`` -> ``dispatch_shell(...,
    concurrent=True)``; ipywidgets ``WidgetModel.sync`` / ``_handle_status``). Custom messages have no such wait.

    Only the names in ``_browser_traits`` are accepted; an unknown name or a value the trait refuses is logged
    (naming the trait and the value) and the kernel's value is sent back, so the browser shows what the kernel holds.
    An accepted value is not sent back: the browser shows it already, and a late echo of an older value would undo
    a click made since.
    """

    _browser_traits: tuple[str, ...] = ()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_msg(self._on_browser_msg)

    def _on_browser_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        changes = content.get("set") if isinstance(content, dict) else None
        if not isinstance(changes, dict):
            logger.warning("%s: ignored a browser message without a 'set' object: %r", type(self).__name__, content)
            return
        for name, value in changes.items():
            if name not in self._browser_traits:
                logger.warning(
                    "%s: the browser cannot set %r (settable: %s)",
                    type(self).__name__,
                    name,
                    ", ".join(self._browser_traits),
                )
                continue
            try:
                # as ipywidgets' own set_state: the value the browser shows is not echoed back to it (a late echo
                # of an older value would undo a newer click); a value the trait changes on the way in still is
                with self._lock_property(**{name: value}):
                    setattr(self, name, value)
            except traitlets.TraitError as exc:
                logger.warning("%s: refused %s=%r from the browser: %s", type(self).__name__, name, value, exc)
                self.send_state(name)  # the browser shows the kernel's value again


class TrafficWidget(_BrowserControls):
    """Live view of the hub's traffic: rooms with members and counts, per-type rates, the latest messages.

    Synced traits:
        snapshot: the latest :meth:`TrafficStats.snapshot <.TrafficStats.snapshot>` (read-only
            from the browser's point of view).
        paused: while True no snapshot is pushed (counting goes on); settable from the browser.
        room_filter, type_filter: comma-separated case-insensitive substrings (``"input,output"``); the tail keeps
            only messages whose room (type) contains one of them. The filtering is done in Python (in
            :class:`~.TrafficStats`, as messages arrive), so busier rooms never push the filtered
            ones out of the tail; counts and rates always cover everything. Settable from the browser.

    Args:
        window: sliding window for rates, in seconds.
        tail: number of latest messages shown.
        clock: time source in seconds (default :func:`time.time`; the browser shows tail times as wall-clock).
        **kwargs: passed to ``anywidget.AnyWidget``.
    """

    _esm = STATIC / "traffic.js"
    _browser_traits = ("paused", "room_filter", "type_filter")

    snapshot = traitlets.Dict().tag(sync=True)
    paused = traitlets.Bool(False).tag(sync=True)
    room_filter = traitlets.Unicode("").tag(sync=True)
    type_filter = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        *,
        window: float = 5.0,
        tail: int = 50,
        clock: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        self.stats = TrafficStats(window=window, tail=tail)
        self.clock = clock
        self.pushes = 0  #: snapshots pushed to the trait
        self.feed: str | None = None  #: "summary" or "messages" once attached
        self._dirty = False
        self._client: Client | None = None
        self._handler: Handler | None = None
        self._task: asyncio.Task | None = None
        self._stopped = False  # detached after feeding: snapshots say so (frozen rates would mislead)
        super().__init__(**kwargs)
        self.stats.set_filter(self.room_filter, self.type_filter)

    # -- feeding -----------------------------------------------------------------------------------------------

    def observe_message(self, log_message: dict[str, Any]) -> None:
        """Count one ``LOG/MESSAGES`` envelope (or plain message) now; the next tick pushes it."""
        self.stats.observe(log_message, self.clock())
        self._dirty = True

    def observe_summary(self, traffic: dict[str, Any]) -> None:
        """Count one ``LOG/TRAFFIC`` summary now; the next tick pushes it."""
        self.stats.observe_summary(traffic, self.clock())
        self._dirty = True

    @traitlets.observe("room_filter", "type_filter")
    def _filters_changed(self, change: dict[str, Any]) -> None:
        self.stats.set_filter(self.room_filter, self.type_filter)
        self._dirty = True

    @traitlets.observe("paused")
    def _paused_changed(self, change: dict[str, Any]) -> None:
        self._dirty = True

    def update_now(self) -> dict[str, Any]:
        """Push a snapshot to the ``snapshot`` trait right away, even while paused; returns it.

        After :meth:`detach` the snapshot carries ``"stopped": True``: nothing is counted any more, so the browser
        shows no (frozen) rates.
        """
        snap = self.stats.snapshot(self.clock())
        if self._stopped:
            snap["stopped"] = True
        self._dirty = False
        self.snapshot = snap
        self.pushes += 1
        return snap

    # -- attaching to a client ---------------------------------------------------------------------------------

    @property
    def attached(self) -> bool:
        """True while the background task runs."""
        return self._task is not None and not self._task.done()

    def attach(
        self, client: Client, *, feed: str = "summary", interval: float = 0.1, members_every: float = 1.0
    ) -> None:
        """Feed this widget from ``client``: join ``_traffic`` (or ``_logging``) and start the one background task.

        The task pushes a snapshot at most every ``interval`` seconds when something changed (new messages, new
        members, filters, or rates still decaying towards 0) and the widget is not paused, and refreshes the
        membership table with ``await client.room_table()`` every ``members_every`` seconds. If the client is
        already connected, the room is joined in the background; otherwise on ``connect()``.

        Args:
            client: the component whose connection carries the feed.
            feed: ``"summary"``: the hub's ``LOG/TRAFFIC`` summaries (one message per ``Hub(traffic_interval=)``,
                counts exact, the tail shows the latest 20 messages of each interval; watching costs almost nothing
                however busy the hub is); ``"messages"``: a ``LOG/MESSAGES`` copy of every message (every message
                in the tail, one extra delivery per message).
            interval: minimum seconds between two pushes (> 0; 0.1 gives at most 10 updates/s).
            members_every: seconds between membership refreshes (> 0).

        Raises:
            InvalidState: no running event loop (attach in a notebook cell or a coroutine), or already attached
                (call :meth:`detach` first).
            ValueError: ``interval`` or ``members_every`` is not positive, or ``feed`` is unknown.
        """
        if not interval > 0 or not members_every > 0:
            raise ValueError("interval and members_every must be > 0 seconds")
        if feed not in ("summary", "messages"):
            raise ValueError(f"feed must be 'summary' or 'messages', got {feed!r}")
        if self.attached:
            raise InvalidState("this TrafficWidget is already attached; call detach() first")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise InvalidState("attach() needs a running event loop (a notebook cell, a coroutine)") from None
        self._client = client
        self._stopped = False
        if feed == "summary":
            trigger = Trigger(MessageType.LOG_TRAFFIC, TRAFFIC_ROOM)
            self._handler = client.add_handler(self.observe_summary, trigger)
        else:
            trigger = Trigger(MessageType.LOG_MESSAGES, LOGGING_ROOM)
            self._handler = client.add_handler(self.observe_message, trigger)
        self.feed = feed
        self._task = loop.create_task(self._run(client, interval, members_every), name="swergio-traffic-widget")

    async def ready(self) -> None:
        """Wait until the attached client is connected and in its feed's room: every message from now is counted.

        Raises:
            InvalidState: not attached.
            NotConnected: the client's connection failed.
        """
        if self._client is None:
            raise InvalidState("this TrafficWidget is not attached; call attach(client) first")
        await self._client.ready()

    def detach(self) -> None:
        """Stop feeding: cancel the background task and remove the handler. Safe to call twice.

        A last snapshot marked ``"stopped"`` is pushed, so the browser does not keep showing the last rates.
        The client stays in the feed's room (leaving needs a round trip): ``await client.leave_room("_traffic")``
        stops the hub's summaries.
        """
        if self._task is not None and not self._task.done():
            self._task.cancel()
        was_attached = self._client is not None
        if self._client is not None and self._handler is not None and self._handler in self._client.handlers:
            self._client.remove_handler(self._handler)
        self._client, self._handler = None, None
        if was_attached:
            self._stopped = True
            self.update_now()

    def close(self) -> None:
        """Detach, then close the widget's comm."""
        self.detach()
        super().close()

    async def _run(self, client: Client, interval: float, members_every: float) -> None:
        loop = asyncio.get_running_loop()
        next_members = loop.time()
        while True:
            try:
                if loop.time() >= next_members and client.connected:
                    next_members = loop.time() + members_every
                    try:
                        if self.stats.set_members(await client.room_table()):
                            self._dirty = True
                    except (SwergioError, TimeoutError) as exc:
                        logger.debug("traffic widget: room table refresh failed: %s", exc)
                if not self.paused and (self._dirty or self._rates_nonzero()):
                    self.update_now()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("traffic widget: update failed")
            await asyncio.sleep(interval)

    def _rates_nonzero(self) -> bool:
        totals = self.snapshot.get("totals") or {}
        return bool(totals.get("rate"))


class _Series:
    """One bounded curve: at most ``max_points`` points; beyond that, pairs are averaged and the stride doubles."""

    __slots__ = ("steps", "values", "stride", "_acc_value", "_acc_count", "last_step", "max_points")

    def __init__(self, max_points: int) -> None:
        self.steps: list[float] = []
        self.values: list[float] = []
        self.stride = 1
        self._acc_value = 0.0
        self._acc_count = 0
        self.last_step = -1.0
        self.max_points = max_points

    def add(self, value: float, step: float | None) -> None:
        step = self.last_step + 1 if step is None else float(step)
        self.last_step = step
        self._acc_value += value
        self._acc_count += 1
        if self._acc_count < self.stride:
            return
        self.steps.append(step)
        self.values.append(self._acc_value / self._acc_count)
        self._acc_value, self._acc_count = 0.0, 0
        if len(self.values) > self.max_points:
            if len(self.values) % 2:  # the newest point waits in the accumulator for its partner
                self.steps.pop()
                self._acc_value, self._acc_count = self.values.pop(), 1
            v = self.values
            self.values = [(a + b) / 2 for a, b in zip(v[0::2], v[1::2], strict=True)]
            self.steps = self.steps[1::2]
            self.stride *= 2


def _ema(values: list[float], alpha: float) -> list[float]:
    """Exponential moving average ``s_t = alpha * s_(t-1) + (1 - alpha) * x_t``, debiased as in TensorBoard."""
    out: list[float] = []
    acc, weight = 0.0, 0.0
    for x in values:
        if not math.isfinite(x):
            out.append(x)
            continue
        acc = alpha * acc + (1 - alpha) * x
        weight = alpha * weight + (1 - alpha)
        out.append(acc / weight)
    return out


#: A series of at most this many points is drawn as dotted markers (a few evaluations are points, not a trend).
SPARSE_POINTS = 30


class MetricsWidget(_BrowserControls):
    """Live curves of several named series, drawn by matplotlib (Agg) off the event loop and shown as a PNG.

    Synced traits:
        png: base64 PNG of the latest render ("" before the first).
        log_scale: logarithmic y axis (non-positive values are masked); settable from the browser.
        smoothing: exponential moving average factor in [0, 0.99] (0 = raw); the raw curve stays faint behind.
        title: the plot's title.

    With a running event loop, every change schedules a render at most every ``interval`` seconds; one render
    task at most is in flight, and the drawing runs in a worker thread (``asyncio.to_thread``). Without a loop,
    call :meth:`render_now`.

    Args:
        interval: minimum seconds between two renders.
        max_points: points kept per series; beyond it, neighbouring points are averaged (the series keeps its
            whole history at a coarser resolution).
        figsize: figure size in inches (width, height); with several panels, the height is per panel row.
        dpi: dots per inch of the PNG.
        x_label: what the x axis counts, with its unit ("training step", "decision", "simulated time (s)").
        panels: ``{y axis label: [series, ...]}``: series of different units or ranges get panels of their own,
            each with its own y axis (as livelossplot groups its curves); the label names the quantity and its unit
            ("accuracy", "labels (count)"). Series in no panel share one more panel, labelled ``y_label``.
            Log scale applies to every panel. Panels are drawn side by side, two per row.
        y_label: the y axis label of the panel of series not listed in ``panels`` ("" for none).
        panel_x_labels: ``{y axis label: x axis label}`` for panels whose x axis counts something else than
            ``x_label`` (one panel per labels rated, another per generation).
        **kwargs: trait values (``title=...``) passed to ``anywidget.AnyWidget``.

    A series of at most :data:`SPARSE_POINTS` points is drawn as markers joined by a dotted line, so that two
    evaluations do not read as a measured curve. Colours are stable: a series keeps the colour of its first appearance
    (``C0``, ``C1``... in the order series were first pushed, across every panel), whatever panel it is drawn in
    and however often the plot is redrawn.

    Raises:
        ValueError: ``max_points`` < 2, or a series listed in two panels.
    """

    _esm = STATIC / "metrics.js"
    _browser_traits = ("log_scale", "smoothing")

    png = traitlets.Unicode("").tag(sync=True)
    log_scale = traitlets.Bool(False).tag(sync=True)
    smoothing = traitlets.Float(0.0, min=0.0, max=0.99).tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        *,
        interval: float = 0.5,
        max_points: int = 10_000,
        figsize: tuple[float, float] = (6.4, 3.2),
        dpi: int = 100,
        x_label: str = "step",
        panels: dict[str, list[str]] | None = None,
        y_label: str = "",
        panel_x_labels: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        if max_points < 2:
            raise ValueError(f"max_points must be >= 2, got {max_points}")
        self.interval = float(interval)
        self.max_points = int(max_points)
        self.figsize = figsize
        self.dpi = int(dpi)
        self.renders = 0  #: PNGs produced
        self._series: dict[str, _Series] = {}
        self._dirty = False
        self._last_render = -math.inf
        self._lock = threading.Lock()  # one drawing on the figure at a time
        self._figure: Any = None
        self._task: asyncio.Task | None = None
        self._attached: list[tuple[Client, Handler]] = []
        self.x_label = x_label
        self.y_label = y_label
        self.panel_x_labels = dict(panel_x_labels or {})
        self.panels = {label: list(names) for label, names in (panels or {}).items()}
        self._panel_of: dict[str, str] = {}
        for label, names in self.panels.items():
            for name in names:
                if name in self._panel_of:
                    raise ValueError(f"series {name!r} is in two panels: {self._panel_of[name]!r} and {label!r}")
                self._panel_of[name] = label
        super().__init__(**kwargs)

    # -- data --------------------------------------------------------------------------------------------------

    def push(self, series: str, value: float, step: int | None = None) -> None:
        """Append one point to ``series`` (created on first use).

        Args:
            series: the curve's name (legend label).
            value: the y value (NaN and infinities are kept but not drawn).
            step: the x value; None means the series' previous step + 1 (starting at 0).

        Raises:
            TypeError, ValueError: ``value`` or ``step`` is not a number.
        """
        value = float(value)
        curve = self._series.get(series)
        if curve is None:
            curve = self._series[series] = _Series(self.max_points)
        curve.add(value, None if step is None else float(step))
        self._changed()

    @property
    def series(self) -> list[str]:
        """Names of the series, in order of first appearance."""
        return list(self._series)

    def data(self, series: str) -> tuple[list[float], list[float]]:
        """Copies of the (steps, values) kept for ``series`` (downsampled beyond ``max_points``).

        Raises:
            KeyError: no such series.
        """
        curve = self._series[series]
        return list(curve.steps), list(curve.values)

    def clear(self) -> None:
        """Forget every series."""
        self._series.clear()
        self._changed()

    @traitlets.observe("log_scale", "smoothing", "title")
    def _options_changed(self, change: dict[str, Any]) -> None:
        self._changed()

    # -- rendering ---------------------------------------------------------------------------------------------

    def render_now(self) -> str:
        """Render synchronously (in this thread) and set ``png``; returns the base64 PNG."""
        encoded = self._draw(self._frozen())
        self._set_png(encoded)
        return encoded

    def save(self, path: str | pathlib.Path) -> pathlib.Path:
        """Write the current plot as a PNG file, rendering first if it is out of date; returns the path."""
        if self._dirty or not self.png:
            self.render_now()
        path = pathlib.Path(path)
        path.write_bytes(base64.b64decode(self.png))
        return path

    def _changed(self) -> None:
        self._dirty = True
        if self._task is not None and not self._task.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: render_now() / save() render on demand
        self._task = loop.create_task(self._render_loop(), name="swergio-metrics-render")

    async def _render_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._dirty:
            wait = self._last_render + self.interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_render = loop.time()
            frozen = self._frozen()
            try:
                encoded = await asyncio.to_thread(self._draw, frozen)
            except Exception:
                logger.exception("metrics widget: render failed")
                continue
            self._set_png(encoded)

    def _set_png(self, encoded: str) -> None:
        self.png = encoded
        self.renders += 1

    def _frozen(self) -> dict[str, Any]:
        """Everything a render needs, copied (so the worker thread never sees the lists change)."""
        self._dirty = False
        return {
            "series": {name: (list(c.steps), list(c.values)) for name, c in self._series.items()},
            "log_scale": self.log_scale,
            "smoothing": self.smoothing,
            "title": self.title,
        }

    def _panel_series(self, names: list[str]) -> list[tuple[str, list[str]]]:
        """``(y label, series)`` of each panel to draw, in the order the panels were given; empty ones left out."""
        grouped = [(label, [n for n in listed if n in names]) for label, listed in self.panels.items()]
        rest = [n for n in names if n not in self._panel_of]
        drawn = [(label, group) for label, group in grouped if group]
        if rest or not drawn:
            drawn.append((self.y_label, rest))
        return drawn

    def _figure_for(self, n_panels: int) -> Any:
        """The figure with ``n_panels`` axes (two per row), made again only when that number changes."""
        if self._figure is None or len(self._figure.axes) != n_panels:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            rows, cols = (n_panels + 1) // 2, min(n_panels, 2)
            width, height = self.figsize
            # fixed margins: a layout engine would double the cost of a render
            self._figure = Figure(figsize=(width, height * rows), dpi=self.dpi)
            FigureCanvasAgg(self._figure)
            bottom = 0.15 / rows
            self._figure.subplots_adjust(left=0.1, right=0.97, bottom=bottom, top=1 - 0.1 / rows, wspace=0.3)
            for index in range(n_panels):
                self._figure.add_subplot(rows, cols, index + 1)
        return self._figure

    def _draw(self, frozen: dict[str, Any]) -> str:
        with self._lock:
            series = frozen["series"]
            colors = {name: f"C{index % 10}" for index, name in enumerate(series)}  # first appearance: stable
            panels = self._panel_series(list(series))
            fig = self._figure_for(len(panels))
            alpha = frozen["smoothing"]
            for ax, (label, names) in zip(fig.axes, panels, strict=True):
                ax.cla()
                for name in names:
                    steps, values = series[name]
                    color = colors[name]
                    # a few points (evaluations now and then): markers, dotted between them, not a measured trend
                    sparse = len(steps) <= SPARSE_POINTS
                    style = {"marker": "o", "markersize": 5, "linestyle": ":"} if sparse else {}
                    if alpha > 0:
                        ax.plot(steps, values, color=color, alpha=0.25, linewidth=1)
                        ax.plot(steps, _ema(values, alpha), color=color, linewidth=1.5, label=name, **style)
                    else:
                        ax.plot(steps, values, color=color, linewidth=1.5, label=name, **style)
                positive = any(v > 0 and math.isfinite(v) for name in names for v in series[name][1])
                if frozen["log_scale"] and positive:
                    ax.set_yscale("log", nonpositive="mask")
                if names:
                    ax.legend(loc="best", fontsize="small")
                else:
                    ax.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=ax.transAxes, color="grey")
                ax.set_xlabel(self.panel_x_labels.get(label, self.x_label))
                ax.set_ylabel(label)
                ax.grid(True, alpha=0.3)
            if frozen["title"]:
                fig.suptitle(frozen["title"])
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})  # fast zlib; the PNG is small
            return base64.b64encode(buffer.getvalue()).decode("ascii")

    # -- attaching to a client ---------------------------------------------------------------------------------

    def attach(self, client: Client, room: str) -> Handler:
        """Plot the ``LOG/KPI`` messages arriving in ``room`` (joined by ``client``).

        Each message gives the series name in ``KPI``, the value in ``VALUE`` and optionally the step in ``STEP``.
        A message whose ``VALUE`` is not a number is logged by the client as a handler error and skipped.

        Returns:
            The client's handler (also removed by :meth:`detach`).
        """

        def on_kpi(msg: dict[str, Any]) -> None:
            step = msg.get("STEP")
            self.push(str(msg["KPI"]), float(msg["VALUE"]), None if step is None else int(step))

        handler = client.add_handler(on_kpi, Trigger(MessageType.LOG_KPI, room))
        self._attached.append((client, handler))
        return handler

    def detach(self) -> None:
        """Remove the handlers added by :meth:`attach` and cancel a pending render. Safe to call twice."""
        for client, handler in self._attached:
            if handler in client.handlers:
                client.remove_handler(handler)
        self._attached.clear()
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def close(self) -> None:
        """Detach, then close the widget's comm."""
        self.detach()
        super().close()
