"""How the client and the hub take frames off a connection (transport._websockets): as they are parsed, in order,
pausing the socket while a handler's queue is full; a fragmented message (legal, though swergio_nb never sends one)
switches the connection to websockets' own message queue without reordering anything; invalid UTF-8 fails the
connection (RFC 6455: 1007) and nobody else. Real loopback sockets; the stand-in hub for the client's side is a real
websockets server that speaks just enough of the protocol to send fragments, which the hub never does."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from swergio_nb import Client, Hub, Trigger
from swergio_nb.transport._websockets import DeliveringClientConnection

from ..helpers import until


async def test_a_full_handler_queue_pauses_reading_and_every_message_arrives_in_order():
    async with Hub(port=0) as hub:
        got: list[int] = []

        async def slow(msg):
            got.append(msg["N"])
            await asyncio.sleep(0.001)

        consumer = Client("consumer", hub.url, queue_size=2)
        consumer.add_handler(slow, Trigger("DATA/TEXT", "r"))
        async with consumer, Client("producer", hub.url) as producer:
            for n in range(300):
                await producer.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": n})
            await until(lambda: len(got) == 300, timeout=30)
            assert consumer.connected
        assert got == list(range(300))
        assert consumer.stats.paused > 0, "no queue ever filled: the test did not exercise the pause"
        assert consumer.stats.received >= 300 and consumer.stats.undecodable == 0


def _message(n: int) -> str:
    return json.dumps({"ID": f"m{n}", "TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": n})


async def _stand_in_hub(script):
    """A websockets server that acknowledges REGISTER/JOINROOM as the hub does, then runs ``script(ws)``."""

    async def handle(ws):
        joined = 0
        async for frame in ws:
            msg = json.loads(frame)
            rooms = ["r"] if msg["TYPE"] == "COMMAND/JOINROOM" else []
            await ws.send(
                json.dumps(
                    {
                        "ID": f"a{msg['ID']}",
                        "TYPE": "COMMAND/ACK",
                        "SENT_BY": "_hub",
                        "REPLY_TO": msg["ID"],
                        "ROOMS": rooms,
                    }
                )
            )
            joined += msg["TYPE"] == "COMMAND/JOINROOM"
            if joined:
                await script(ws)
                await ws.wait_closed()
                return

    return serve(handle, "127.0.0.1", 0)


async def test_a_fragmented_message_takes_websockets_path_and_the_order_holds():
    async def script(ws):
        for n in range(3):
            await ws.send(_message(n))
        text = _message(3)
        await ws.send([text[:10], text[10:25], text[25:]])  # one message in three frames
        for n in range(4, 50):
            await ws.send(_message(n))

    async with await _stand_in_hub(script) as server:
        port = server.sockets[0].getsockname()[1]
        got: list[int] = []
        client = Client("c", f"ws://127.0.0.1:{port}/", reconnect=False)
        client.add_handler(lambda msg: got.append(msg["N"]), Trigger("DATA/TEXT", "r"))
        async with client:
            await until(lambda: len(got) == 50)
            assert client.connection.ws.fallback  # the fast path ended at the fragmented message
        assert got == list(range(50))


async def test_frames_that_come_with_the_handshake_are_held_and_handed_over_first():
    async def handle(ws):
        for n in range(3):  # right behind the handshake's response: parsed before connect() returns
            await ws.send(_message(n))
        await ws.recv()
        for n in range(3, 10):
            await ws.send(_message(n))
        await ws.wait_closed()

    async with serve(handle, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        ws = await connect(f"ws://127.0.0.1:{port}/", create_connection=DeliveringClientConnection)
        await asyncio.sleep(0.1)  # the first frames are in by now, with nobody to take them
        assert ws.held is not None and len(ws.held) == 3
        got: list[int] = []
        ws.start_delivery(lambda frame: got.append(json.loads(frame)["N"]))
        await ws.send("go")
        await until(lambda: len(got) == 10)
        assert got == list(range(10)) and ws.held is None and not ws.fallback
        await ws.close()


async def test_invalid_utf8_in_a_text_frame_fails_the_connection_with_1007():
    close_codes: list[int | None] = []

    async def script(ws):
        await ws.send(_message(0))
        await ws.send(b'{"ID": "\xff"}', text=True)  # a text frame that is not UTF-8
        await ws.send(_message(1))
        await ws.wait_closed()
        close_codes.append(ws.close_code)

    async with await _stand_in_hub(script) as server:
        port = server.sockets[0].getsockname()[1]
        got: list[int] = []
        client = Client("c", f"ws://127.0.0.1:{port}/", reconnect=False)
        client.add_handler(lambda msg: got.append(msg["N"]), Trigger("DATA/TEXT", "r"))
        async with client:
            await until(lambda: close_codes and not client.connected)
        assert got == [0] and close_codes == [1007]


async def _raw_peer(url: str, name: str):
    ws = await connect(url)
    await ws.send(json.dumps({"ID": f"reg-{name}", "TYPE": "COMMAND/REGISTER", "NAME": name}))
    assert json.loads(await ws.recv())["TYPE"] == "COMMAND/ACK"
    return ws


async def test_the_hub_routes_a_fragmented_message_in_order_and_fails_invalid_utf8_with_1007():
    async with Hub(port=0) as hub:
        got: list[int] = []
        member = Client("member", hub.url)
        member.add_handler(lambda msg: got.append(msg["N"]), Trigger("DATA/TEXT", "r"))
        async with member:
            sender = await _raw_peer(hub.url, "sender")
            text = _message(1)
            await sender.send(_message(0))
            await sender.send([text[:7], text[7:30], text[30:]])  # one message in three frames
            for n in range(2, 20):
                await sender.send(_message(n))
            await until(lambda: len(got) == 20)
            assert got == list(range(20))

            bad = await _raw_peer(hub.url, "bad")
            await bad.send(b'{"ID": "\xfe"}', text=True)
            await bad.wait_closed()
            assert bad.close_code == 1007
            await sender.send(_message(20))
            await until(lambda: len(got) == 21)
            assert member.connected and hub.router.room_table()["r"] == ["member"]
            await sender.close()
