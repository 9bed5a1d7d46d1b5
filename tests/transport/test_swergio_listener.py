"""swergio 0.0.2's own clients (the real package from PyPI) in the rooms of a hub, through the TCP listener."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import numpy as np
import pytest
import swergio

from swergio_nb import Client, Hub, Trigger
from swergio_nb.exceptions import InvalidMessage
from swergio_nb.protocol.codec import encode
from swergio_nb.transport.core import HubCore
from swergio_nb.transport.swergio_tcp import SwergioListener, frame_header, parse_header, to_swergio_json
from tests.helpers import hub_process, until

T = swergio.MESSAGE_TYPE


async def old_client(name: str, hub: Hub) -> swergio.Client:
    """A swergio 0.0.2 client connected to ``hub``'s listener (its constructor blocks: connect and REGISTER)."""
    return await asyncio.to_thread(swergio.Client, name, *hub.swergio_address)


async def receive(old: swergio.Client, timeout: float = 5.0) -> dict | bool:
    """swergio's own ``receive()`` (blocking) in a thread, bounded by ``timeout`` seconds."""
    old.client.settimeout(timeout)
    return await asyncio.to_thread(old.receive)


async def receive_data(old: swergio.Client) -> dict:
    """The next message that is not the hub's ``COMMAND/ACK`` (swergio's ``listen()`` ignores those too)."""
    while True:
        msg = await receive(old)
        assert msg is not False, "connection closed"
        if msg["TYPE"] != "COMMAND/ACK":
            return msg


def raw(hub_or_listener) -> socket.socket:
    sock = socket.create_connection(
        hub_or_listener.swergio_address if isinstance(hub_or_listener, Hub) else hub_or_listener.address, timeout=5
    )
    return sock


def send_raw(sock: socket.socket, body: bytes, header_length: int = 10) -> None:
    sock.sendall(frame_header(len(body), header_length) + body)


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n and (chunk := sock.recv(n - len(data))):
        data += chunk
    return data


def _read_raw(sock: socket.socket, header_length: int) -> dict | None:
    header = _read_exactly(sock, header_length)
    if not header:
        return None
    return json.loads(_read_exactly(sock, parse_header(header)))


async def read_raw(sock: socket.socket, header_length: int = 10) -> dict | None:
    """One frame as swergio reads it (in a thread, 5 s at most); None at the end of the connection."""
    return await asyncio.to_thread(_read_raw, sock, header_length)


async def register(sock: socket.socket, name: str) -> dict:
    send_raw(sock, json.dumps({"ID": "r1", "TYPE": "COMMAND/REGISTER", "NAME": name, "TO_ROOM": "_command"}).encode())
    ack = await read_raw(sock)
    assert ack["TYPE"] == "COMMAND/ACK" and ack["NAME"] == name
    return ack


# ------------------------------------------------------------------------------------------ framing, no sockets


def test_header_is_swergios_padded_decimal_length():
    assert frame_header(42) == b"42        "  # f"{42:<10}", as swergio writes it
    assert parse_header(b"42        ") == 42 and parse_header(b"      1234") == 1234
    with pytest.raises(InvalidMessage, match="ASCII digits") as bad:
        parse_header(b"GET / HTTP")
    assert bad.value.code == "bad-header"
    for header in (b"          ", b"-1        ", b"1e3       ", b"\xff" * 10):
        with pytest.raises(InvalidMessage):
            parse_header(header)
    with pytest.raises(ValueError, match="header"):
        frame_header(12345, header_length=4)


def test_binary_frames_reach_swergio_as_json_lists():
    frame = encode(
        {
            "ID": "a",
            "TYPE": "DATA/FORWARD",
            "TO_ROOM": "r",
            "DATA": np.arange(6, dtype=np.float32).reshape(2, 3),
            "C": np.array([1 + 2j]),
            "B": b"\x00\x01",
            "S": np.int64(7),
        }
    )
    assert isinstance(frame, bytes)
    msg = json.loads(to_swergio_json(frame))
    assert msg["DATA"] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and msg["C"] == [[1.0, 2.0]]
    assert msg["B"] == "AAE=" and msg["S"] == 7
    text = '{"ID":"a","TYPE":"DATA/TEXT","TO_ROOM":"r","DATA":"\\u00e9"}'
    assert to_swergio_json(text) == text.encode()


def test_the_listener_refuses_a_non_loopback_host():
    with pytest.raises(ValueError, match="loopback"):
        SwergioListener(HubCore(), "0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        SwergioListener(HubCore(), "example.org")
    # a hub serving the network (with a token) still keeps swergio's tokenless clients on loopback
    assert Hub("0.0.0.0", 0, token="secret", insecure=True, swergio_port=0).swergio.host == "127.0.0.1"
    assert Hub(port=0).swergio is None and Hub(port=0).swergio_port is None  # off by default


# ------------------------------------------------------------------------------------------ the real swergio client


async def test_swergio_client_registers_joins_rooms_by_handlers_and_exchanges_both_ways():
    async with Hub(port=0, swergio_port=0) as hub, Client("new", hub.url) as new:
        old = await old_client("old", hub)
        seen = []

        def double(msg):
            seen.append(msg)
            return {"DATA": [2 * x for x in msg["DATA"]]}

        old.add_eventHandler(double, T.DATA.FORWARD, responseRooms="out", trigger=swergio.Trigger(T.DATA.FORWARD, "in"))
        await until(lambda: hub.router.room_table().get("in") == ["old"])
        assert hub.router.room_table()["out"] == ["old"] and "old" in hub.router.room_table()["_command"]
        listening = threading.Thread(target=old.listen, daemon=True)
        listening.start()

        # WebSocket -> swergio: a float32 array arrives as a JSON list; swergio's reply comes back stamped
        reply = await new.request(
            {"TYPE": "DATA/FORWARD", "TO_ROOM": "in", "DATA": np.array([1.5, -2.0], np.float32), "ROOT_ID": "chain-1"},
            reply_room="out",
            timeout=5,
        )
        assert seen[0]["DATA"] == [1.5, -2.0] and seen[0]["SENT_BY"] == "new" and seen[0]["ROOT_ID"] == "chain-1"
        assert reply["DATA"] == [3.0, -4.0] and reply["SENT_BY"] == "old" and reply["ROOT_ID"] == "chain-1"
        assert reply["TYPE"] == "DATA/FORWARD" and reply["TO_ROOM"] == "out"

        # swergio -> WebSocket, directly by name (TO), with a forged SENT_BY that the hub overwrites
        got = asyncio.get_running_loop().create_future()
        new.add_handler(lambda m: got.done() or got.set_result(m), Trigger("DATA/TEXT"))
        old.send({"ID": "x1", "TYPE": T.DATA.TEXT.id, "TO": "new", "DATA": "hello", "SENT_BY": "mallory"})
        direct = await asyncio.wait_for(got, 5)
        assert direct["DATA"] == "hello" and direct["SENT_BY"] == "old" and direct["ID"] == "x1"

        await hub.close()  # the hub goes: swergio's listen() ends (its receive() returns False), no hang
        await asyncio.to_thread(listening.join, 5)
        assert not listening.is_alive()


async def test_swergio_client_in_the_logging_room_and_leaving_a_room():
    async with Hub(port=0, swergio_port=0) as hub, Client("new", hub.url) as new:
        old = await old_client("old", hub)
        old.join_room("_logging")
        old.join_room("in")
        await until(lambda: "old" in hub.router.room_table().get("in", []))
        await new.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "in", "DATA": np.eye(2)})
        first, second = await receive_data(old), await receive_data(old)
        copy, data = (first, second) if first["TYPE"] == "LOG/MESSAGES" else (second, first)
        assert data["DATA"] == [[1.0, 0.0], [0.0, 1.0]] and data["SENT_BY"] == "new"
        assert T.by_id(copy["TYPE"]) is T.LOG.MESSAGE and T.LOG.MESSAGE.check_fields(copy)  # swergio's own check
        assert copy["SENDER"] == "new" and copy["ROOM"] == "in" and copy["MESSAGE"]["DATA"] == data["DATA"]

        old.send({"ID": "l1", "TYPE": T.COMMAND.LEAVEROOM.id, "ROOM": "in", "TO_ROOM": "_command"})
        await until(lambda: "in" not in hub.router.room_table())
        old.close()  # swergio's close(): COMMAND/DISCONNECT, then the socket
        await until(lambda: len(hub.core.connections) == 1)  # only the WebSocket client is left
        assert hub.router.conn_of("old") is None


async def test_with_roles_swergio_clients_have_a_components_permissions():
    async with Hub(
        port=0, swergio_port=0, observer_token="observer-secret", name_tokens={"control": "c-secret"}
    ) as hub:
        old = await old_client("old", hub)
        old.join_room("_logging")  # copies of every message: the observer's alone
        refused = await receive_data(old)
        assert refused["TYPE"] == "LOG/ERROR" and refused["ERROR"] == "forbidden-room"
        raw_sock = raw(hub)
        send_raw(raw_sock, b'{"ID":"r","TYPE":"COMMAND/REGISTER","NAME":"control"}')  # reserved for its token
        assert (await read_raw(raw_sock))["ERROR"] == "name-reserved"
        raw_sock.close()
        old.close()


async def test_a_malformed_header_gets_a_log_error_and_a_close_not_a_hang():
    async with Hub(port=0, swergio_port=0) as hub:
        old = await old_client("old", hub)
        old.client.sendall(b"GET / HTTP/1.1\r\n\r\n")  # e.g. a WebSocket client knocking on the wrong port
        error = await receive_data(old)
        assert error["TYPE"] == "LOG/ERROR" and error["ERROR"] == "bad-header" and error["TO"] == "old"
        assert "b'GET / HTTP'" in error["DETAIL"]
        assert await receive(old) is False  # closed: swergio's listen() would end here
        await until(lambda: not hub.core.connections and not hub.swergio.connections)


async def test_oversized_and_undecodable_frames_close_the_connection_on_any_core():
    core = HubCore()
    async with SwergioListener(core, max_size=100) as listener:
        for body, code in ((b"x" * 101, "frame-too-big"), (b'{"ID":"\xff"}', "bad-encoding")):
            sock = raw(listener)
            await register(sock, "raw")
            send_raw(sock, body)
            error = await read_raw(sock)
            assert error["TYPE"] == "LOG/ERROR" and error["ERROR"] == code, error
            assert await read_raw(sock) is None
            sock.close()
            await until(lambda: not core.connections)


async def test_a_frame_the_header_cannot_announce_is_skipped_and_the_connection_stays(caplog):
    async with (
        Hub(port=0) as hub,
        SwergioListener(hub.core, header_length=3) as listener,
        Client("new", hub.url) as new,
    ):
        sock = raw(listener)  # a second transport on the hub's core, whose bodies are at most 999 bytes
        send_raw(sock, b'{"ID":"r","TYPE":"COMMAND/REGISTER","NAME":"raw"}', header_length=3)
        send_raw(sock, b'{"ID":"j","TYPE":"COMMAND/JOINROOM","ROOM":"r"}', header_length=3)
        for _ in range(2):
            assert (await read_raw(sock, header_length=3))["TYPE"] == "COMMAND/ACK"
        await new.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "x" * 1000})
        await new.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "small"})
        assert (await read_raw(sock, header_length=3))["DATA"] == "small"
        assert "cannot go to swergio clients" in caplog.text
        sock.close()


async def test_a_well_framed_bad_message_is_answered_and_the_connection_stays():
    async with Hub(port=0, swergio_port=0) as hub, Client("new", hub.url) as new:
        await new.join_room("in")
        sock = raw(hub)
        await register(sock, "raw")
        send_raw(sock, b"{not json")
        error = await read_raw(sock)
        assert error["TYPE"] == "LOG/ERROR" and error["ERROR"] == "bad-json"
        got = asyncio.get_running_loop().create_future()
        new.add_handler(lambda m: got.done() or got.set_result(m), Trigger("DATA/FORWARD", "in"))
        send_raw(sock, json.dumps({"ID": "ok", "TYPE": "DATA/FORWARD", "TO_ROOM": "in", "DATA": [1, 2]}).encode())
        msg = await asyncio.wait_for(got, 5)
        assert msg["DATA"] == [1, 2] and msg["SENT_BY"] == "raw"
        sock.close()


async def test_a_peer_leaving_in_the_middle_of_a_frame_is_forgotten():
    async with Hub(port=0, swergio_port=0) as hub:
        sock = raw(hub)
        await register(sock, "raw")
        sock.sendall(b'50        {"ID":')
        sock.close()
        await until(lambda: not hub.core.connections and hub.router.name_of(1) is None)
        assert hub.router.conn_of("raw") is None  # the name is free again


def test_cli_serves_the_listener(tmp_path):
    with hub_process("--swergio-port", "0") as (url, hub):
        assert url.startswith("ws://127.0.0.1:")
        line = hub.stdout.readline()
        assert line.startswith("swergio 0.0.2 clients (TCP, no token): Client(name, '127.0.0.1', ")
        port = int(line.rsplit(",", 1)[1].strip(" )\n"))
        old = swergio.Client("old", "127.0.0.1", port)
        old.client.settimeout(5)
        ack = old.receive()
        assert ack["TYPE"] == "COMMAND/ACK" and ack["COMMAND"] == "COMMAND/REGISTER" and ack["NAME"] == "old"
        old.client.close()


async def test_a_swergio_reader_that_stopped_is_cut_off_after_the_stall_timeout_with_the_reason():
    async with Hub(port=0, swergio_port=0, queue_size=64, stall_timeout=1.0) as hub:
        stalled = raw(hub)  # registers, joins, then reads nothing
        await register(stalled, "stalled")
        send_raw(stalled, b'{"ID":"j","TYPE":"COMMAND/JOINROOM","ROOM":"r"}')
        await until(lambda: hub.router.room_table().get("r") == ["stalled"])
        payload = "x" * 100_000
        async with Client("producer", hub.url) as producer:
            for n in range(200):  # 20 MB: more than the kernel buffers and the 64-frame queue hold
                await producer.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": n, "DATA": payload})
            await until(lambda: hub.stats.stalled == 1, timeout=30)
            assert hub.stats.throttled > 0  # the producer waited for it, 1 s at most, then it was cut
            assert "r" not in hub.router.room_table()
        frames = []  # what was written before the cut-off can still be read (for the listener's linger, 1 s)
        while (frame := await read_raw(stalled)) is not None:
            frames.append(frame)
        numbers = [f["N"] for f in frames if f["TYPE"] == "DATA/TEXT"]
        assert numbers == list(range(len(numbers))) and 0 < len(numbers) < 200  # in order, then cut off
        assert frames[-1]["TYPE"] == "LOG/ERROR" and frames[-1]["ERROR"] == "closed"
        assert frames[-1]["DETAIL"].startswith("stalled") and "(code 1013)" in frames[-1]["DETAIL"]
        stalled.close()
