"""Token authentication at the WebSocket handshake, over real loopback sockets."""

from __future__ import annotations

import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from swergio_nb import Client, Hub, HubError, Trigger

from ..helpers import until


async def test_connections_without_the_token_are_refused_at_the_handshake():
    async with Hub(port=0, token="s3cret-token") as hub:
        base = f"ws://127.0.0.1:{hub.port}"
        with pytest.raises(InvalidStatus) as missing:
            await connect(base)
        assert missing.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as wrong:
            await connect(f"{base}/?token=guess")
        assert wrong.value.response.status_code == 403
        assert hub.stats.refused == 2 and hub.stats.connections == 0
        async with connect(hub.url) as ws:  # the URL carries the token
            await ws.send('{"ID":"r","TYPE":"COMMAND/REGISTER","NAME":"raw"}')
            assert "COMMAND/ACK" in await ws.recv()
        async with connect(base, additional_headers={"Authorization": "Bearer s3cret-token"}) as ws:
            await ws.send('{"ID":"r","TYPE":"COMMAND/REGISTER","NAME":"bearer"}')
            assert "COMMAND/ACK" in await ws.recv()


async def test_clients_take_the_token_from_the_url_a_parameter_or_the_environment(monkeypatch):
    monkeypatch.delenv("SWERGIO_TOKEN", raising=False)
    async with Hub(port=0) as hub:
        base = f"ws://127.0.0.1:{hub.port}"
        async with Client("from-url", hub.url) as a:
            assert a.connected
        async with Client("from-param", base, token=hub.token) as b:
            assert b.connected
        monkeypatch.setenv("SWERGIO_TOKEN", hub.token)
        async with Client("from-env", base) as c:
            assert c.connected
        monkeypatch.delenv("SWERGIO_TOKEN")
        with pytest.raises(InvalidStatus):
            await Client("without", base).connect()


async def test_the_hub_takes_its_token_from_the_environment(monkeypatch):
    monkeypatch.setenv("SWERGIO_TOKEN", "from-the-env")
    async with Hub(port=0) as hub:
        assert hub.token == "from-the-env" and hub.url.endswith("?token=from-the-env")


def test_serving_beyond_loopback_without_a_token_is_refused():
    with pytest.raises(ValueError, match="without a token"):
        Hub("0.0.0.0", 0, token="")
    assert Hub("127.0.0.1", 0, token="").url == "ws://127.0.0.1:0"
    assert Hub("0.0.0.0", 0, insecure=True).token  # with a (generated) token it is allowed (TLS: test_tls.py)


async def test_a_hub_without_a_token_on_loopback_accepts_any_program_but_no_web_page():
    async with Hub(port=0, token="", origins=["http://localhost:8888"]) as hub:
        async with Client("anyone", f"ws://127.0.0.1:{hub.port}") as client:  # no Origin header: not a browser
            assert client.connected
        with pytest.raises(InvalidStatus) as refused:  # a page on any site could otherwise reach a loopback hub
            await connect(f"ws://127.0.0.1:{hub.port}/", origin="http://evil.example")
        assert refused.value.response.status_code == 403 and hub.stats.refused == 1
        async with connect(f"ws://127.0.0.1:{hub.port}/", origin="http://localhost:8888") as ws:  # listed
            await ws.send('{"ID":"r","TYPE":"COMMAND/REGISTER","NAME":"page"}')
            assert "COMMAND/ACK" in await ws.recv()


async def test_roles_keep_components_out_of_the_hub_rooms_and_reserved_names_to_their_credential():
    async with Hub(port=0, observer_token="obs3rver", name_tokens={"control": "c0ntrol"}) as hub:
        base = f"ws://127.0.0.1:{hub.port}/?token="
        async with Client("spy", hub.url) as spy:  # the components' token
            with pytest.raises(HubError, match="forbidden-room: joining '_logging' needs the hub's observer"):
                await spy.join_room("_logging")
            with pytest.raises(HubError, match="forbidden-room"):
                await spy.join_room("_traffic")
        with pytest.raises(HubError, match="name-reserved"):  # nobody squats the name before its component starts
            await Client("control", hub.url, reconnect=False).connect()
        with pytest.raises(HubError, match="name-reserved"):  # the name's credential registers only that name
            await Client("other", base + "c0ntrol", reconnect=False).connect()
        copies = []
        observer = Client("monitor", hub.observer_url)
        observer.add_handler(copies.append, Trigger("LOG/MESSAGES", "_logging"))
        async with observer, Client("control", base + "c0ntrol") as control, Client("sim", hub.url) as sim:
            await sim.send({"TYPE": "DATA/FORWARD", "TO": "control", "DATA": [1.0]})
            await until(lambda: copies)
            assert copies[0]["MESSAGE"]["SENT_BY"] == "sim" and control.connected
    with pytest.raises(ValueError, match="distinct"):
        Hub(port=0, token="same", observer_token="same")
    with pytest.raises(ValueError, match="need a token"):
        Hub(port=0, token="", observer_token="obs")


async def test_debug_logs_never_show_the_token(caplog):
    caplog.set_level(logging.DEBUG)
    async with Hub(port=0, token="t0ken-never-logged") as hub:
        async with Client("c", hub.url) as client:
            assert client.connected
        with pytest.raises(InvalidStatus):
            await Client("wrong", f"ws://127.0.0.1:{hub.port}/?token=wr0ng-t0ken", reconnect=False).connect()
    lines = [record.getMessage() for record in caplog.records]
    assert any("GET /?token=..." in line for line in lines)  # websockets' request line, shown
    assert not [line for line in lines if "t0ken-never-logged" in line or "wr0ng-t0ken" in line]
