"""The hub inside Jupyter Server, against a real server process on a free loopback port, at the root and under
``--ServerApp.base_url=/user/someone/`` (as JupyterHub runs single-user servers): Python clients with the server's
token, refusals, the JSON summary, and kernels of the server that find its hub by themselves."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from swergio_nb import Client, HubError, Trigger
from tests.browser.lab import Lab, start_lab
from tests.helpers import until
from tests.server.conftest import Kernel, hub_url

pytestmark = pytest.mark.timeout(300)

API = "swergio/api/hub?traffic=1"


async def _until(predicate, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


def _get(lab: Lab, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"{lab.base}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _login_cookie(lab: Lab) -> str:
    """The login cookie Jupyter sets for a browser that opened a page with the token."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{lab.base}/api/status?token={lab.token}", timeout=10) as response:
        assert response.status == 200
    assert jar, "Jupyter set no login cookie"
    return "; ".join(f"{c.name}={c.value}" for c in jar)


# -- Python clients ----------------------------------------------------------------------------------------------


async def test_clients_with_the_server_token_exchange_messages(server: Lab) -> None:
    inbox: list[dict] = []
    alice = Client("alice", hub_url(server))
    alice.add_handler(inbox.append, Trigger("DATA/TEXT", "chat"))
    async with alice, Client("bob", hub_url(server)) as bob:
        await alice.ready()
        reply = await bob.send({"TYPE": "DATA/TEXT", "TO_ROOM": "chat", "DATA": [1, 2, 3]})
        await _until(lambda: inbox)
        assert inbox[0]["DATA"] == [1, 2, 3] and inbox[0]["SENT_BY"] == "bob" and inbox[0]["ID"] == reply["ID"]
        summary = server.api("GET", "/swergio/api/hub")
        assert summary["rooms"]["chat"] == ["alice"]
        assert {"alice", "bob"} <= set(summary["members"])
        assert summary["counts"]["members"] == len(summary["members"]) and summary["routed"] >= 1
        assert summary["stats"]["transport"]["connections"] >= 2


async def test_the_token_may_come_as_jupyters_authorization_header(server: Lab) -> None:
    headers = {"Authorization": f"token {server.token}"}
    async with connect(hub_url(server, token=False), additional_headers=headers) as ws:
        await ws.send('{"ID":"r","TYPE":"COMMAND/REGISTER","NAME":"by-header"}')
        assert "COMMAND/ACK" in await ws.recv()


async def test_connections_without_jupyter_credentials_or_from_a_foreign_origin_are_refused(server: Lab) -> None:
    before = server.api("GET", "/swergio/api/hub")["stats"]["transport"]["connections"]
    with pytest.raises(InvalidStatus) as missing:
        await connect(hub_url(server, token=False))
    assert missing.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as wrong:
        await connect(f"{hub_url(server, token=False)}?token=guess")
    assert wrong.value.response.status_code == 403
    # a token proves the request is no forgery (Jupyter skips the Origin check for it); the login cookie does not
    cookie = {"Cookie": _login_cookie(server)}
    with pytest.raises(InvalidStatus) as foreign:  # a page elsewhere must not ride on the user's login
        await connect(hub_url(server, token=False), origin="http://evil.example", additional_headers=cookie)
    assert foreign.value.response.status_code == 403
    own = f"http://127.0.0.1:{server.port}"  # the server's own pages (the dashboard, JupyterLab)
    async with connect(hub_url(server, token=False), origin=own, additional_headers=cookie) as ws:
        await ws.send('{"ID":"r","TYPE":"COMMAND/REGISTER","NAME":"same-origin"}')
        assert "COMMAND/ACK" in await ws.recv()
    after = server.api("GET", "/swergio/api/hub")["stats"]["transport"]["connections"]
    assert after == before + 1  # only the accepted one reached the hub


def test_the_summary_and_the_dashboard_need_jupyter_credentials(server: Lab) -> None:
    status, _ = _get(server, "/swergio/api/hub")
    assert status == 403
    status, _ = _get(server, "/swergio/api/hub", {"Authorization": "token guess"})
    assert status == 403
    status, body = _get(server, "/swergio/api/hub?traffic=1", {"Authorization": f"token {server.token}"})
    assert status == 200
    summary = json.loads(body)
    assert "jupyter-dashboard" in summary["rooms"]["_traffic"] and "rooms" in summary["traffic"]
    status, page = _get(server, "/swergio/", {"Authorization": f"token {server.token}"})
    assert status == 200
    (script,) = re.findall(r'from "([^"]+)"', page)
    (api,) = re.findall(r'api: "([^"]+)"', page)
    assert (script, api) == (f"{server.base_url}static/swergio_nb/dashboard.js", f"{server.base_url}{API}")
    for name in ("dashboard.js", "traffic.js"):  # the page's script and the widget's front end it imports
        status, _ = _get(server, f"/static/swergio_nb/{name}")
        assert status == 200


async def test_settings_come_from_jupyters_config(tmp_path) -> None:
    args = ["--SwergioHub.max_size=2048", "--SwergioHub.max_rooms=2"]
    with start_lab(tmp_path, [], args=args, log_name="jupyter-server-config.log") as lab:
        async with Client("small", hub_url(lab)) as small:
            await small.join_room("a")
            await small.join_room("b")
            with pytest.raises(HubError, match="room"):  # max_rooms = 2
                await small.join_room("c")
            async with connect(hub_url(lab)) as raw:  # max_size = 2048 bytes: 1009, message too big
                await raw.send("x" * 4096)
                with pytest.raises(ConnectionClosed) as closed:
                    await raw.recv()
                assert closed.value.rcvd.code == 1009
        staying = await connect(hub_url(lab))
        await staying.send('{"ID":"r","TYPE":"COMMAND/REGISTER","NAME":"staying"}')
        assert "COMMAND/ACK" in await staying.recv()
    # the server stopped (the with block's end): its hub said goodbye to the connections it had (1001, going away)
    with pytest.raises(ConnectionClosed) as gone:
        await asyncio.wait_for(staying.recv(), 10)
    assert gone.value.rcvd is not None and gone.value.rcvd.code == 1001
    (tmp_path / "bad").mkdir()
    with start_lab(tmp_path / "bad", [], args=["--SwergioHub.queue_size=0"], log_name="jupyter-server-bad.log") as lab:
        assert "SwergioHub.queue_size must be >= 1, got 0" in lab.log_tail(20_000)


async def test_swergio_clients_join_the_servers_rooms_on_the_listener_port(tmp_path) -> None:
    """c.SwergioHub.swergio_port: an unmodified swergio 0.0.2 client exchanges messages with a WebSocket client
    in the Jupyter server's hub, as a component (it cannot join _logging)."""
    swergio = pytest.importorskip("swergio")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with start_lab(tmp_path, [], args=[f"--SwergioHub.swergio_port={port}"], log_name="jupyter-server-tcp.log") as lab:
        got = []
        listener = Client("websocket", hub_url(lab))
        listener.add_handler(got.append, Trigger("DATA/TEXT", "chat"))
        async with listener:
            old = await asyncio.to_thread(swergio.Client, "old", "127.0.0.1", port)
            try:
                old.send({"ID": "j1", "TYPE": "COMMAND/JOINROOM", "ROOM": "chat"})
                old.send({"ID": "t1", "TYPE": "DATA/TEXT", "TO_ROOM": "chat", "DATA": "from swergio 0.0.2"})
                await until(lambda: got, 10)
                assert got[0]["DATA"] == "from swergio 0.0.2" and got[0]["SENT_BY"] == "old"
                old.send({"ID": "spy", "TYPE": "COMMAND/JOINROOM", "ROOM": "_logging"})
                old.client.settimeout(10)
                answer = await asyncio.to_thread(old.receive)
                while answer and answer.get("REPLY_TO") != "spy":  # the acks of its register and join come first
                    answer = await asyncio.to_thread(old.receive)
                assert answer["TYPE"] == "LOG/ERROR" and answer["ERROR"] == "forbidden-room"
                auth = {"Authorization": f"token {lab.token}"}
                status, body = _get(lab, "/swergio/api/hub", auth)
                assert status == 200 and json.loads(body)["swergio_address"] == ["127.0.0.1", port]
                assert json.loads(body)["rooms"] == {"chat": ["old", "websocket"]}
            finally:
                old.client.close()


# -- kernels -----------------------------------------------------------------------------------------------------

JOIN = """
%load_ext swergio_nb
%swergio connect {name}
from swergio_nb import Trigger
inbox = []
{name}.add_handler(inbox.append, Trigger("DATA/TEXT", "chat"))
await {name}.ready()
print("ready", {name}.connected)
"""

WAIT_INBOX = """
import asyncio
import http.cookiejar
for _ in range(500):
    if len(inbox) >= {n}:
        break
    await asyncio.sleep(0.02)
print([(m["SENT_BY"], m["DATA"]) for m in inbox])
"""


async def _run(kernel: Kernel, code: str) -> str:
    return await asyncio.to_thread(kernel.run, code)


async def test_two_kernels_exchange_messages_and_a_restart_leaves_the_other_connected(
    server: Lab, kernels: list[Kernel]
) -> None:
    kernels += [Kernel(server), Kernel(server)]
    first, second = kernels
    assert "ready True" in await _run(first, JOIN.format(name="alice"))
    assert "ready True" in await _run(second, JOIN.format(name="bob"))
    await _run(second, 'await bob.send({"TYPE": "DATA/TEXT", "TO_ROOM": "chat", "DATA": "hello from bob"})')
    assert "('bob', 'hello from bob')" in await _run(first, WAIT_INBOX.format(n=1))

    status = await _run(second, "%swergio hub status")
    assert "'source': 'jupyter-server'" in status and "swergio/ws?token=..." in status
    assert server.token not in status  # the credential never shows in the notebook
    assert "'bob'" in status and "'alice'" in status

    inbox: list[dict] = []
    carol = Client("carol", hub_url(server))
    carol.add_handler(inbox.append, Trigger("DATA/TEXT", "chat"))
    async with carol:
        await carol.ready()
        await asyncio.to_thread(first.restart)
        await _until(lambda: "alice" not in server.api("GET", "/swergio/api/hub")["members"], timeout=30)
        summary = server.api("GET", "/swergio/api/hub")
        assert set(summary["rooms"]["chat"]) == {"bob", "carol"}
        assert "True" in await _run(second, "print(bob.connected)")
        await _run(second, 'await bob.send({"TYPE": "DATA/TEXT", "TO_ROOM": "chat", "DATA": "still here"})')
        await _until(lambda: any(m["DATA"] == "still here" for m in inbox))
        await carol.send({"TYPE": "DATA/TEXT", "TO_ROOM": "chat", "DATA": "welcome back"})
        assert "('carol', 'welcome back')" in await _run(second, WAIT_INBOX.format(n=2))
        # the restarted kernel joins the same hub again
        assert "ready True" in await _run(first, JOIN.format(name="alice"))
        await carol.send({"TYPE": "DATA/TEXT", "TO_ROOM": "chat", "DATA": "hello again"})
        assert "('carol', 'hello again')" in await _run(first, WAIT_INBOX.format(n=1))


def test_hub_start_uses_the_servers_hub_unless_in_kernel(server: Lab, kernels: list[Kernel]) -> None:
    kernels.append(Kernel(server))
    (kernel,) = kernels
    out = kernel.run("%load_ext swergio_nb\n%swergio hub start --port 0")
    assert "using the Jupyter server's swergio hub" in out and server.token not in out
    out = kernel.run("%swergio hub stop\nhub = %swergio hub start --port 0 --in-kernel\nprint(hub.url)")
    assert "swergio hub listening on ws://127.0.0.1:" in out
    assert "'source': 'in-kernel'" in kernel.run("%swergio hub status")


def test_installing_the_package_enables_the_extension() -> None:
    """The wheel's shared data puts jupyter_server_config.d/swergio_nb.json where Jupyter looks (sys.prefix/etc)."""
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter_server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)  # no colours
    assert re.search(r"^\s*swergio_nb enabled\s*$", text, re.M), text
    assert re.search(r"^\s*swergio_nb \S+ OK\s*$", text, re.M), text  # it imports and validates
