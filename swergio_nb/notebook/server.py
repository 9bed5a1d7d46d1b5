"""The swergio hub inside Jupyter Server: one login, outlives kernels, shared by every notebook of the server.

A Jupyter Server extension (``jupyter server extension list`` shows ``swergio_nb``; installing the package enables
it through ``etc/jupyter/jupyter_server_config.d/swergio_nb.json``). It serves, under the server's ``base_url``:

* ``swergio/ws``: the hub's WebSocket. The same :class:`~swergio_nb.transport.core.HubCore` as ``swergio-nb hub``
  (router, queues, flow control, limits, ``LOG/TRAFFIC`` summaries) over the tornado transport
  (:mod:`swergio_nb.transport.tornado`). Authenticated by Jupyter's own identity provider (token in the URL or
  ``Authorization: token ...``, the login cookie, JupyterHub's OAuth under JupyterHub) and authorizer (action
  ``execute`` on resource ``swergio``); an ``Origin`` Jupyter would refuse is refused (HTTP 403).
* ``swergio/api/hub``: the hub's summary as JSON (``GET``; see :meth:`SwergioHub.status`), behind Jupyter's
  authentication, authorization (``read`` on ``swergio``) and the REST API's origin and XSRF rules.
* ``swergio/``: a dashboard page showing the live traffic with the notebook's traffic widget front end
  (``static/traffic.js`` driven by ``static/dashboard.js``, which polls the API).
* ``swergio/label``: the melody labelling page (``static/labelling.js``): the page joins the hub with the browser's
  login as the person component, so a person rates on another screen without a notebook open (query: ``name``,
  ``store``, ``room``, ``metrics``, ``kpi``, ``rater``, ``undo`` seconds; see
  :class:`~swergio_nb.examples.melody.widget.HubLabellingWidget`).

Kernels started by the server find the hub by themselves (:mod:`.discovery`): the extension puts the path of the
server's runtime file in the server's environment (:data:`~.discovery.SERVER_ENV`), which kernels inherit.

Settings (traitlets; ``jupyter_server_config.py`` or the command line), with the defaults of ``swergio-nb hub``::

    c.SwergioHub.max_size = 64 * 2**20       # bytes per message; None: no limit
    c.SwergioHub.queue_size = 4096           # frames per connection's send queue
    c.SwergioHub.queue_bytes = 256 * 2**20   # bytes per connection's send queue
    c.SwergioHub.total_queue_bytes = 2**30   # bytes in all send queues; None: no such bound
    c.SwergioHub.flow_control = True
    c.SwergioHub.stall_timeout = 10.0        # seconds
    c.SwergioHub.traffic_interval = 0.1      # seconds between LOG/TRAFFIC summaries
    c.SwergioHub.max_rooms = 256             # rooms per connection; None: no limit
    c.SwergioHub.swergio_port = None         # a loopback port for swergio 0.0.2 clients; None: off
    c.SwergioHub.backplane = None            # "redis://HOST:PORT/DB": share rooms with other hubs; None: off
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from tornado import web
from traitlets import Bool, Float, Int, TraitError, Unicode, validate

from ..protocol import codec
from ..protocol.endpoint import ConnectionState, Dispatch, Endpoint, Trigger
from ..protocol.limits import (
    DEFAULT_MAX_ROOMS,
    DEFAULT_MAX_SIZE,
    DEFAULT_QUEUE_BYTES,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_STALL_TIMEOUT,
    DEFAULT_TOTAL_QUEUE_BYTES,
    DEFAULT_TRAFFIC_INTERVAL,
)
from ..protocol.messages import TRAFFIC_ROOM, MessageType
from ..protocol.router import COMPONENT
from ..protocol.traffic import TrafficStats
from ..transport.core import Connection, HubCore
from ..transport.swergio_tcp import SwergioListener
from ..transport.tornado import HubSocket
from .discovery import API_PATH, HUB_PATH, SERVER_ENV
from .widgets import STATIC

__all__ = [
    "AUTH_RESOURCE",
    "DASHBOARD_NAME",
    "DashboardHandler",
    "HubAPIHandler",
    "HubSocketHandler",
    "LabelPageHandler",
    "SwergioHub",
    "TrafficWatch",
]

#: The resource Jupyter's authorizer is asked about (``execute`` to join the hub, ``read`` for the API and page).
AUTH_RESOURCE = "swergio"
#: The name the dashboard's in-server watcher registers with on the hub.
DASHBOARD_NAME = "jupyter-dashboard"


class TrafficWatch:
    """An in-server member of the hub's ``_traffic`` room, keeping the dashboard's :class:`TrafficStats`.

    A connection of the core like any other (it registers and joins with the endpoint's own frames), whose link
    hands frames to a sans-I/O :class:`~swergio_nb.protocol.endpoint.Endpoint` in the same process instead of a
    socket. It joins on the first :meth:`snapshot`, so a hub nobody watches counts no traffic.

    Args:
        core: the hub core to watch.
        window: seconds of the dashboard's rates (see :class:`TrafficStats`).
        tail: latest messages kept.
    """

    def __init__(self, core: HubCore, *, window: float = 5.0, tail: int = 50) -> None:
        self.core = core
        self.stats = TrafficStats(window=window, tail=tail)
        self.endpoint = Endpoint(DASHBOARD_NAME)
        self.endpoint.add_handler(self._observe, Trigger(MessageType.LOG_TRAFFIC, TRAFFIC_ROOM))
        self.conn: Connection | None = None

    # -- the core's Link -----------------------------------------------------------------------------------------

    def buffered(self) -> int:
        """Nothing waits: frames are handled as they are written."""
        return 0

    @staticmethod
    def write_many(links: Sequence[TrafficWatch], frame: str | bytes) -> None:
        """Hand ``frame`` to each watcher's endpoint."""
        for link in links:
            link._deliver(frame)

    async def send(self, frame: str | bytes) -> None:
        """Hand ``frame`` to the endpoint."""
        self._deliver(frame)

    async def close(self, code: int, reason: str) -> None:
        """The core closed this connection (a full queue cannot happen here): join again on the next snapshot."""
        conn, self.conn = self.conn, None
        if conn is not None:
            await self.core.closed(conn)

    # -- watching ------------------------------------------------------------------------------------------------

    def _deliver(self, frame: str | bytes) -> None:
        event = self.endpoint.receive(frame)
        if isinstance(event, Dispatch):
            for handler in event.handlers:
                handler.fn(event.message)

    def _observe(self, summary: dict[str, Any]) -> None:
        self.stats.observe_summary(summary, time.time())

    def _join(self) -> None:
        self.conn = self.core.open(self)
        endpoint = self.endpoint
        if endpoint.state is not ConnectionState.CLOSED:  # joining again after the core closed it
            endpoint.close()
        endpoint.begin()
        for msg in (endpoint.opened(), endpoint.command(MessageType.COMMAND_JOINROOM, ROOM=TRAFFIC_ROOM)):
            self.core.receive(self.conn, codec.encode(msg))
        endpoint.ready()

    def snapshot(self) -> dict[str, Any]:
        """The traffic seen so far as :meth:`TrafficStats.snapshot` (joins ``_traffic`` first if not in it)."""
        if self.conn is None:
            self._join()
        self.stats.set_members(self.core.router.room_table())
        return self.stats.snapshot(time.time())

    async def stop(self) -> None:
        """Leave the hub."""
        conn, self.conn = self.conn, None
        if conn is not None:
            await self.core.closed(conn)


class HubSocketHandler(WebSocketMixin, HubSocket, JupyterHandler):
    """``{base_url}swergio/ws``: one hub connection per WebSocket, after Jupyter authenticated and authorized it."""

    auth_resource = AUTH_RESOURCE

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Upgrade to a WebSocket if the user may ``execute`` on ``swergio`` (else HTTP 403)."""
        allowed = await ensure_async(self.authorizer.is_authorized(self, self.current_user, "execute", AUTH_RESOURCE))
        if not allowed:
            raise web.HTTPError(403, "not allowed to join the swergio hub")
        result = super().get(*args, **kwargs)
        if result is not None:
            await result


class _OfTheHub:
    """What the extension's API and pages share: Jupyter's authorizer asks about :data:`AUTH_RESOURCE`; the
    handler is given the :class:`SwergioHub`."""

    auth_resource = AUTH_RESOURCE

    def initialize(self, hub: SwergioHub) -> None:  # noqa: D102
        self.hub = hub


class HubAPIHandler(_OfTheHub, APIHandler):
    """``GET {base_url}swergio/api/hub``: :meth:`SwergioHub.status` as JSON (``?traffic=1`` adds the traffic)."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        """Answer with the hub's summary."""
        with_traffic = self.get_query_argument("traffic", "0") not in ("", "0", "false")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(self.hub.status(traffic=with_traffic)))


_DASHBOARD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>swergio hub</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
h1 {{ font-size: 1.3em; margin: 0 0 .3em; }}
#status {{ color: #666; margin: 0 0 1em; font-size: 13px; }}
</style>
</head>
<body>
<h1>swergio hub</h1>
<p id="status">loading&hellip;</p>
<div id="traffic"></div>
<script type="module">
import {{ start }} from "{script}";
start({{ el: document.getElementById("traffic"), status: document.getElementById("status"), api: "{api}" }});
</script>
</body>
</html>
"""


class DashboardHandler(_OfTheHub, JupyterHandler):
    """``{base_url}swergio/``: the live traffic page (login required, as for any Jupyter page)."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        """The page; its script polls ``swergio/api/hub?traffic=1``."""
        script = url_path_join(self.hub.static_url_prefix, "dashboard.js")  # the prefix has the base_url
        self.finish(_DASHBOARD.format(script=script, api=url_path_join(self.base_url, API_PATH) + "?traffic=1"))


_LABEL_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>swergio: rate melodies</title>
<style>body {{ font-family: sans-serif; margin: 1.5em; color: #222; }} h1 {{ font-size: 1.3em; }}</style>
</head>
<body>
<h1>Rate melodies</h1>
<div id="label"></div>
<script type="module">
import {{ start }} from "{script}";
const query = new URLSearchParams(location.search);
const options = {{ url: "{hub}", name: query.get("name") || "person" }};
for (const [key, field] of [["store", "store"], ["room", "room"], ["metrics", "metrics"], ["kpi", "accuracyKpi"],
                            ["rater", "rater"]]) {{
  if (query.get(key)) options[field] = query.get(key);
}}
if (query.get("undo")) options.undoWindow = Number(query.get("undo"));
window.swergioLabelling = start({{ el: document.getElementById("label"), ...options }});
</script>
</body>
</html>
"""


class LabelPageHandler(_OfTheHub, JupyterHandler):
    """``{base_url}swergio/label``: the melody labelling page; the page itself joins ``{base_url}swergio/ws`` with
    the browser's login (login required, as for any Jupyter page)."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        """The page; its script joins the hub (options from the query, read by the script)."""
        script = url_path_join(self.hub.static_url_prefix, "labelling.js")
        self.finish(_LABEL_PAGE.format(script=script, hub=url_path_join(self.base_url, HUB_PATH)))


class SwergioHub(ExtensionApp):
    """The Jupyter Server extension serving the swergio hub (configuration: ``c.SwergioHub.<name>``).

    Attributes:
        core: the hub core (created in :meth:`initialize_settings`).
        watch: the dashboard's :class:`TrafficWatch`.
    """

    name = "swergio_nb"
    description = "the swergio hub inside Jupyter Server"
    load_other_extensions = True
    static_paths = [str(STATIC)]  # served at {base_url}static/swergio_nb/ (ExtensionApp)

    max_size = Int(
        DEFAULT_MAX_SIZE,
        allow_none=True,
        help="Largest message accepted, in bytes (larger ones close the connection with 1009). None: no limit.",
    ).tag(config=True)
    queue_size = Int(DEFAULT_QUEUE_SIZE, help="Frames waiting per connection before the overflow policy applies.").tag(
        config=True
    )
    queue_bytes = Int(DEFAULT_QUEUE_BYTES, help="Bytes waiting per connection before the overflow policy applies.").tag(
        config=True
    )
    total_queue_bytes = Int(
        DEFAULT_TOTAL_QUEUE_BYTES,
        allow_none=True,
        help="Bytes waiting in all send queues together before the overflow policy applies. None: no such bound.",
    ).tag(config=True)
    flow_control = Bool(
        True,
        help="Make a sender wait while a recipient's queue is at a quarter of queue_size or queue_bytes until it "
        "drains to an eighth. False: only the overflow policy (close a connection whose queue is full).",
    ).tag(config=True)
    stall_timeout = Float(
        DEFAULT_STALL_TIMEOUT,
        help="Seconds a recipient that senders wait for may make no progress before it is closed (1013).",
    ).tag(config=True)
    traffic_interval = Float(
        DEFAULT_TRAFFIC_INTERVAL, help="Seconds between two LOG/TRAFFIC summaries to the members of _traffic."
    ).tag(config=True)
    max_rooms = Int(
        DEFAULT_MAX_ROOMS, allow_none=True, help="Rooms one connection may be in at once. None: no limit."
    ).tag(config=True)
    swergio_port = Int(
        None,
        allow_none=True,
        help="Also accept swergio 0.0.2 clients (its TCP framing) on this loopback port; 0 picks a free one. They "
        "present no credential (swergio has none): any local process can join, as a component (no _logging, no "
        "_traffic). None (the default): off.",
    ).tag(config=True)
    backplane = Unicode(
        None,
        allow_none=True,
        help="A Redis URL (redis://HOST:PORT/DB): share the rooms with every hub on that Redis, as swergio-nb hub "
        "--backplane does; names stay unique across them. None (the default): this hub alone.",
    ).tag(config=True)

    @validate("max_size", "queue_size", "queue_bytes", "total_queue_bytes", "max_rooms")
    def _positive_int(self, proposal: dict[str, Any]) -> int | None:
        value = proposal["value"]
        name = proposal["trait"].name
        if value is not None and value < 1:
            none = " or None" if name not in ("queue_size", "queue_bytes") else ""
            raise TraitError(f"SwergioHub.{name} must be >= 1{none}, got {value}")
        return value

    @validate("stall_timeout", "traffic_interval")
    def _positive_seconds(self, proposal: dict[str, Any]) -> float:
        value = proposal["value"]
        if not value > 0:
            raise TraitError(f"SwergioHub.{proposal['trait'].name} must be > 0 seconds, got {value}")
        return value

    def initialize_settings(self) -> None:
        """Create the hub core and tell the server's future kernels where to find it."""
        self.core = HubCore(
            queue_size=self.queue_size,
            queue_bytes=self.queue_bytes,
            total_queue_bytes=self.total_queue_bytes,
            flow_control=self.flow_control,
            stall_timeout=self.stall_timeout,
            traffic_interval=self.traffic_interval,
            max_rooms=self.max_rooms,
        )
        self.watch = TrafficWatch(self.core)
        self.redis = None
        if self.backplane is not None:  # imported here: redis costs ~45 ms at import, and most hubs run alone
            from ..transport.backplane import RedisBackplane

            self.redis = RedisBackplane(self.backplane)
        self.swergio: SwergioListener | None = None
        if self.swergio_port is not None:
            self.swergio = SwergioListener(
                self.core, "127.0.0.1", self.swergio_port, max_size=self.max_size, permissions=COMPONENT
            )
        assert self.serverapp is not None
        os.environ[SERVER_ENV] = self.serverapp.info_file  # inherited by the kernels the server starts

    def initialize_handlers(self) -> None:
        """``swergio/ws``, ``swergio/api/hub``, ``swergio/`` and ``swergio/label`` (the server prefixes its
        ``base_url``)."""
        self.handlers.extend(
            [
                (f"/{HUB_PATH}", HubSocketHandler, {"core": self.core, "max_size": self.max_size}),
                (f"/{API_PATH}", HubAPIHandler, {"hub": self}),
                (r"/swergio/?", DashboardHandler, {"hub": self}),
                (r"/swergio/label/?", LabelPageHandler, {"hub": self}),
            ]
        )

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Start the ``LOG/TRAFFIC`` summaries once the server's loop runs."""
        self.core.start()
        if self.redis is not None:
            await self.redis.start(self.core)
        self.log.info("swergio hub at %s", url_path_join(serverapp.base_url, HUB_PATH))
        if self.swergio is not None:
            await self.swergio.start()
            self.log.info("swergio 0.0.2 clients: %s:%d", *self.swergio.address)

    async def stop_extension(self) -> None:
        """Close every hub connection (code 1001, going away) and stop the summaries."""
        if self.swergio is not None:
            await self.swergio.close()
        await self.watch.stop()
        for conn in list(self.core.connections.values()):
            await conn.link.close(1001, "Jupyter server shutting down")
        await self.core.stop()
        if self.redis is not None:
            await self.redis.stop()

    def status(self, *, traffic: bool = False) -> dict[str, Any]:
        """The hub's summary (:meth:`~swergio_nb.transport.core.HubCore.summary`) plus ``counts`` (connections,
        rooms, members) and, with ``traffic``, the dashboard's ``traffic`` snapshot (:meth:`TrafficWatch.snapshot`).
        """
        snapshot = self.watch.snapshot() if traffic else None  # first: it may join the hub
        status = self.core.summary()
        running = self.swergio is not None and self.swergio.running
        status["swergio_address"] = list(self.swergio.address) if running else None  # swergio 0.0.2 clients
        if snapshot is not None:
            status["traffic"] = snapshot
        status["counts"] = {
            "connections": status["connections"],
            "rooms": len(status["rooms"]),
            "members": len(status["members"]),
        }
        return status
