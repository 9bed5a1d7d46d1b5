"""Hub and clients over real loopback sockets (port 0)."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
from websockets.asyncio.client import connect

from swergio_nb import SENDER, Client, Hub, HubError, InvalidMessage, NotConnected, Trigger
from swergio_nb.protocol.codec import decode

from ..helpers import until


@pytest.fixture
async def hub():
    async with Hub(port=0) as running:
        yield running


async def test_hub_picks_a_free_port_and_tells_its_url_with_the_token(hub):
    assert hub.port != 0 and hub.url == f"ws://127.0.0.1:{hub.port}/?token={hub.token}"
    assert len(hub.token) >= 32


async def test_room_messages_reach_members_but_not_the_sender(hub):
    inbox: dict[str, list] = {"b": [], "c": [], "d": []}
    clients = []
    for name, room in (("b", "input"), ("c", "input"), ("d", "other")):
        client = Client(name, hub.url)
        client.add_handler(lambda msg, name=name: inbox[name].append(msg), Trigger("DATA/TEXT", room))
        clients.append(await client.connect())
    async with Client("a", hub.url) as a:
        a.add_handler(lambda msg: inbox.setdefault("a", []).append(msg), Trigger("DATA/TEXT", "input"))
        await a.send({"TYPE": "DATA/TEXT", "TO_ROOM": "input", "DATA": "hello"})
        await a.send({"TYPE": "DATA/TEXT", "TO": "d", "DATA": "direct"})
        await until(lambda: len(inbox["b"]) == len(inbox["c"]) == len(inbox["d"]) == 1)
        assert inbox["b"][0]["DATA"] == "hello" and inbox["b"][0]["SENT_BY"] == "a"
        assert inbox["d"][0]["DATA"] == "direct" and inbox["d"][0]["TO"] == "d"
        assert "a" not in inbox
    for client in clients:
        await client.close()


async def test_reply_chain_keeps_root_id_and_model_status(hub):
    model = Client("model", hub.url)

    @model.on(Trigger("DATA/FORWARD", "input"), reply_type="DATA/FORWARD", reply_rooms="output")
    async def double(msg):
        await asyncio.sleep(0)
        return {"DATA": msg["DATA"] * 2}

    critic = Client("critic", hub.url)
    critic.add_handler(
        lambda msg: {"DATA": float(msg["DATA"].sum())},
        Trigger("DATA/FORWARD", "output"),
        reply_type="DATA/GRADIENT",
        reply_to=SENDER,
    )
    async with model, critic, Client("trainer", hub.url) as trainer:
        x = np.arange(4, dtype=np.float32)
        first = await trainer.request(
            {"TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": x, "MODEL_STATUS": 1, "ROOT_ID": "chain-1"},
            reply_room="output",
            reply_type="DATA/FORWARD",
        )
        np.testing.assert_array_equal(first["DATA"], x * 2)
        assert first["DATA"].dtype == np.float32
        assert first["ROOT_ID"] == "chain-1" and first["MODEL_STATUS"] == 1 and first["SENT_BY"] == "model"
        assert first["ID"] != "chain-1"


async def test_direct_reply_to_sender(hub):
    echo = Client("echo", hub.url)
    echo.add_handler(
        lambda msg: {"DATA": msg["DATA"][::-1]}, Trigger("DATA/TEXT", "ask"), reply_type="DATA/TEXT", reply_to=SENDER
    )
    async with echo, Client("asker", hub.url) as asker:
        reply = await asker.request({"TYPE": "DATA/TEXT", "TO_ROOM": "ask", "DATA": "abc"}, timeout=5)
        assert reply["DATA"] == "cba" and reply["TO"] == "asker" and reply["SENT_BY"] == "echo"


async def test_request_times_out_when_nobody_answers(hub):
    async with Client("lonely", hub.url) as client:
        with pytest.raises(TimeoutError):
            await client.request({"TYPE": "DATA/TEXT", "TO_ROOM": "void", "DATA": 1}, reply_room="back", timeout=0.2)


async def test_logging_room_sees_forward_and_gradient_copies(hub):
    logs = []
    watcher = Client("watcher", hub.url)
    watcher.add_handler(logs.append, Trigger("LOG/MESSAGES", "_logging"))
    sink = Client("sink", hub.url)
    sink.add_handler(lambda msg: None, Trigger("DATA/FORWARD", "x"))
    async with watcher, sink, Client("src", hub.url) as src:
        await src.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "x", "DATA": [1]})
        await src.send({"TYPE": "DATA/GRADIENT", "TO_ROOM": "x", "DATA": [2]})
        await src.send({"TYPE": "LOG/KPI", "TO_ROOM": "x", "KPI": "loss", "VALUE": 1.0})  # not logged
        await until(lambda: len(logs) == 2)
        assert [m["MESSAGE"]["TYPE"] for m in logs] == ["DATA/FORWARD", "DATA/GRADIENT"]
        assert all(m["SENDER"] == "src" and m["ROOM"] == "x" for m in logs)


async def test_bad_frames_are_answered_and_survived(hub):
    got = []
    async with Client("peer", hub.url) as peer:
        peer.add_handler(got.append, Trigger("DATA/TEXT", "r"))
        await peer.join_room("r")
        async with connect(hub.url) as raw:
            await raw.send('{"ID":"r1","TYPE":"COMMAND/REGISTER","NAME":"raw"}')
            assert decode(await raw.recv())["TYPE"] == "COMMAND/ACK"
            for bad, code in [
                ("{nope", "bad-json"),
                ('{"ID":"q","TYPE":"X/Y","TO":"p"}', "unknown-type"),
                (b"\x92\x01\x02", "not-an-object"),
                ('{"ID":"q","TYPE":"DATA/TEXT"}', "no-address"),
            ]:
                await raw.send(bad)
                err = decode(await raw.recv())
                assert err["TYPE"] == "LOG/ERROR" and err["ERROR"] == code, err
            await raw.send('{"ID":"fine","TYPE":"DATA/TEXT","TO_ROOM":"r","DATA":"still here"}')
            await until(lambda: got)
            assert got[0]["DATA"] == "still here" and got[0]["SENT_BY"] == "raw"
    assert hub.router.stats.errors == 4


async def test_hub_refusal_raises_in_the_sender(hub):
    async with Client("twin", hub.url):
        with pytest.raises(HubError, match="name-taken"):
            await Client("twin", hub.url).connect()
    async with Client("ok", hub.url) as client:
        with pytest.raises(InvalidMessage, match="addresses nobody"):
            await client.send({"TYPE": "DATA/TEXT", "DATA": 1})


async def test_a_raising_handler_is_logged_and_the_client_keeps_serving(hub, caplog):
    seen, errors = [], []

    def fragile(msg):
        if msg["DATA"] == "boom":
            raise RuntimeError("handler exploded")
        seen.append(msg["DATA"])

    client = Client("fragile", hub.url)
    handler = client.add_handler(fragile, Trigger("DATA/TEXT", "r"))
    client.error_listeners.append(lambda h, m, e: errors.append((h, m["DATA"], e)))
    async with client, Client("src", hub.url) as src:
        for data in ("one", "boom", "two"):
            await src.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": data})
        await until(lambda: len(seen) == 2)
    assert seen == ["one", "two"] and handler.errors == 1 and handler.calls == 3
    assert errors[0][1] == "boom" and isinstance(errors[0][2], RuntimeError)
    assert "handler exploded" in caplog.text


async def test_context_values_and_thread_handlers(hub):
    memory: dict = {}
    main_thread = []

    def remember(msg, memory):
        import threading

        main_thread.append(threading.current_thread() is threading.main_thread())
        memory[msg["ID"]] = msg["DATA"]

    client = Client("ctx", hub.url, memory=memory)
    client.add_handler(remember, Trigger("DATA/TEXT", "r"), in_thread=True)
    async with client, Client("src", hub.url) as src:
        sent = await src.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": 7})
        await until(lambda: memory)
    assert memory == {sent["ID"]: 7} and main_thread == [False]


async def test_handlers_added_after_connect_join_their_rooms_before_the_next_send(hub):
    async with Client("late", hub.url) as late, Client("src", hub.url) as src:
        got = []
        late.add_handler(got.append, Trigger("DATA/TEXT", "new-room"))
        await late.send({"TYPE": "DATA/TEXT", "TO": "src", "DATA": 0})  # waits for the join
        assert "new-room" in late.rooms_joined
        await src.send({"TYPE": "DATA/TEXT", "TO_ROOM": "new-room", "DATA": 1})
        await until(lambda: got)
        table = await src.room_table()
        assert table["new-room"] == ["late"]


async def test_large_binary_array_round_trip(hub):
    got = []
    sink = Client("sink", hub.url)
    sink.add_handler(got.append, Trigger("DATA/FORWARD", "big"))
    async with sink, Client("src", hub.url) as src:
        big = np.random.default_rng(1).standard_normal(1_000_000).astype(np.float32)
        await src.send({"TYPE": "DATA/FORWARD", "TO_ROOM": "big", "DATA": big})
        await until(lambda: got)
    np.testing.assert_array_equal(got[0]["DATA"], big)


async def test_slow_consumer_is_disconnected_and_others_go_on():
    async with Hub(port=0, queue_size=8, flow_control=False) as small:  # no waiting: the bound decides
        stalled = await connect(small.url, max_size=None)
        await stalled.send('{"ID":"s","TYPE":"COMMAND/REGISTER","NAME":"stalled"}')
        await stalled.send('{"ID":"j","TYPE":"COMMAND/JOINROOM","ROOM":"r"}')
        got = []
        fast = Client("fast", small.url)
        fast.add_handler(got.append, Trigger("DATA/TEXT", "r"))
        async with fast, Client("src", small.url) as src:
            await until(lambda: small.router.room_table().get("r") == ["fast", "stalled"])
            # the stalled peer never reads: its TCP buffers and then its queue fill up
            payload = "x" * 200_000
            for i in range(200):
                await src.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": payload, "N": i})
                if i % 8 == 0:
                    await asyncio.sleep(0)
            await until(lambda: len(got) == 200, timeout=20)
            assert small.stats.slow_consumers == 1
            assert [m["N"] for m in got] == list(range(200))
            assert src.stats.hub_errors == 1  # the sender was told: LOG/ERROR recipient-cut
            assert small.router.room_table()["r"] == ["fast"]
        stalled.transport.abort()


async def test_closing_fails_pending_requests(hub):
    client = await Client("c", hub.url).connect()
    pending = asyncio.create_task(
        client.request({"TYPE": "DATA/TEXT", "TO_ROOM": "x", "DATA": 1}, reply_room="y", timeout=10)
    )
    await asyncio.sleep(0.05)
    await client.close()
    with pytest.raises(NotConnected):
        await pending
    with pytest.raises(NotConnected):
        await client.send({"TYPE": "DATA/TEXT", "TO_ROOM": "x"})


async def test_synchronous_code_on_the_loop_starts_a_hub_and_connects_in_the_background():
    def like_a_magic():  # no await available, as in an IPython line magic
        hub = Hub(port=0)
        hub.start_soon()
        listener, speaker = Client("listener", hub.url), Client("speaker", hub.url)
        listener.connect_soon()
        speaker.connect_soon()
        return hub, listener, speaker

    hub, listener, speaker = like_a_magic()
    assert hub.port != 0 and not speaker.connected
    got = []
    listener.add_handler(got.append, Trigger("DATA/TEXT", "r"))
    await listener.join_room("r")  # waits for the hub and the connection
    await speaker.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "hi"})
    await until(lambda: got)
    assert got[0]["SENT_BY"] == "speaker"
    await listener.close()
    await speaker.close()
    await hub.close()


async def test_a_background_connection_that_fails_is_reported_on_use():
    async with Hub(port=0) as hub:
        url = hub.url
    client = Client("orphan", url)
    client.connect_soon()
    with pytest.raises(OSError):
        await client.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r"})
    with pytest.raises(NotConnected, match="failed to connect"):
        await client.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r"})


def _component_in_thread(url: str, n: int, ping_timeout: float | None, outcome: dict) -> threading.Thread:
    """A component on its own loop in a thread (a stand-in for a component process): sends n messages at once."""

    async def run() -> None:
        client = Client("component", url, ping_interval=0.1, ping_timeout=ping_timeout)
        await client.connect()
        outcome["connected"] = True
        for i in range(n):
            await client.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": i})
        for _ in range(300):  # stay connected for up to 3 s, watching for the hub dropping us
            if not client.connected:
                break
            await asyncio.sleep(0.01)
        # a reconnection can be quicker than one poll (full-jitter backoff from 0 s): count it too
        outcome["still_connected"] = client.connected and client.stats.reconnects == 0
        await client.close()

    thread = threading.Thread(target=asyncio.run, args=(run(),))
    thread.start()
    return thread


@pytest.mark.parametrize("ping_timeout", [None, 0.3])
async def test_a_blocked_loop_costs_no_connection_and_no_message(ping_timeout):
    """The notebook case: the hub and a kernel-side client share a loop that a cell blocks (time.sleep)."""
    async with Hub(port=0, ping_interval=None) as hub:
        got = []
        listener = Client("kernel-side", hub.url, ping_interval=None)
        listener.add_handler(lambda m: got.append(m["DATA"]), Trigger("DATA/TEXT", "r"))
        async with listener:
            outcome: dict = {}
            thread = _component_in_thread(hub.url, 50, ping_timeout, outcome)
            await until(lambda: outcome.get("connected"))
            time.sleep(1.5)  # the cell blocks the loop: no pongs, no routing, for 5x the component's ping interval
            await until(lambda: not thread.is_alive() or len(got) == 50, timeout=10)
            await asyncio.to_thread(thread.join, 10)
    if ping_timeout is None:
        assert got == list(range(50)) and outcome["still_connected"]
    else:  # with a ping timeout the component gives the connection up: what the default avoids
        assert not outcome["still_connected"]


async def test_plain_handlers_keep_order_and_replies_when_the_connection_backs_up(hub):
    """A plain handler runs in the reader when idle; replies it cannot write at once go via its worker, in order."""
    echo = Client("echo", hub.url)
    payload = "x" * 300_000  # each reply alone fills the transport past the direct-write limit

    @echo.on(Trigger("DATA/TEXT", "in"), reply_type="DATA/TEXT", reply_rooms="out")
    def big_reply(msg):
        return [{"DATA": payload, "N": msg["N"]}, {"DATA": "small", "N": msg["N"]}]

    @echo.on(Trigger("DATA/CUSTOM", "in"), reply_type="DATA/CUSTOM", reply_rooms="out")
    def later(msg):  # a plain function returning an awaitable: finished by the worker
        async def reply():
            await asyncio.sleep(0.001)
            return {"N": msg["N"]}

        return reply()

    got: list[tuple[str, int, int]] = []
    sink = Client("sink", hub.url)
    sink.add_handler(lambda m: got.append((m["TYPE"], m["N"], len(m.get("DATA", "")))), Trigger("DATA/TEXT", "out"))
    sink.add_handler(lambda m: got.append((m["TYPE"], m["N"], 0)), Trigger("DATA/CUSTOM", "out"))
    async with echo, sink, Client("src", hub.url) as src:
        for n in range(20):
            await src.send({"TYPE": "DATA/TEXT", "TO_ROOM": "in", "N": n})
        for n in range(5):
            await src.send({"TYPE": "DATA/CUSTOM", "TO_ROOM": "in", "N": n})
        await until(lambda: len(got) == 45, timeout=30)
    text = [(n, size) for t, n, size in got if t == "DATA/TEXT"]
    assert text == [(n, size) for n in range(20) for size in (300_000, 5)]
    assert [n for t, n, _ in got if t == "DATA/CUSTOM"] == list(range(5))
    assert [h.calls for h in echo.handlers] == [20, 5] and [h.errors for h in echo.handlers] == [0, 0]


async def test_a_plain_handler_may_remove_itself_without_the_others_missing_the_message(hub):
    seen: list[str] = []
    client = Client("c", hub.url)

    def once(msg):
        seen.append(f"once {msg['N']}")
        client.remove_handler(first)

    first = client.add_handler(once, Trigger("DATA/TEXT", "r"))
    client.add_handler(lambda msg: seen.append(f"always {msg['N']}"), Trigger("DATA/TEXT", "r"))
    async with client, Client("src", hub.url) as src:
        for n in range(3):
            await src.send({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "N": n})
        await until(lambda: len(seen) == 4)
    assert seen == ["once 0", "always 0", "always 1", "always 2"]


async def test_forged_hub_answers_and_refusals_from_others_do_not_end_a_request(hub):
    """A spy that reads a request's ID in the logging room answers it first with a COMMAND/ACK and a LOG/ERROR of its
    own: neither is taken as the hub's answer nor as the asked component's refusal; the real reply is. (That the
    spy can read the logging room at all is what roles are for.)"""
    spy = Client("spy", hub.url)
    forged = asyncio.Event()

    async def forge(copy):
        sent = copy["MESSAGE"]
        if sent.get("SENT_BY") != "trainer" or sent["TYPE"] != "DATA/FORWARD":
            return
        chain = {"ROOT_ID": sent["ROOT_ID"], "REPLY_TO": sent["ID"], "TO": "trainer"}
        await spy.send({"TYPE": "COMMAND/ACK", "DATA": [666.0], **chain})
        await spy.send({"TYPE": "LOG/ERROR", "ERROR": "name-taken", "DETAIL": "forged", **chain})
        forged.set()

    spy.add_handler(forge, Trigger("LOG/MESSAGES", "_logging"))
    model = Client("model", hub.url)

    @model.on(Trigger("DATA/FORWARD", []), reply_type="DATA/FORWARD", reply_to=SENDER)
    async def answer(msg):
        await forged.wait()  # the forgeries arrive first
        await asyncio.sleep(0.05)
        return {"DATA": [float(msg["DATA"][0]) * 2]}

    async with spy, model, Client("trainer", hub.url) as trainer:
        reply = await trainer.request({"TYPE": "DATA/FORWARD", "TO": "model", "DATA": [21.0]}, timeout=10)
        assert reply["SENT_BY"] == "model" and list(reply["DATA"]) == [42.0]
        assert trainer.stats.hub_errors == 0  # the forged LOG/ERROR was not counted as the hub's
        with pytest.raises(TimeoutError):  # nobody answers this one; the spy's forgeries must not end it
            forged.clear()
            await trainer.request({"TYPE": "DATA/FORWARD", "TO": "nobody", "DATA": [1.0]}, timeout=1)
        assert forged.is_set()


@pytest.mark.parametrize("group", ["model", None])
async def test_handlers_of_one_group_take_their_messages_one_at_a_time_in_arrival_order(hub, group):
    """Two thread handlers of one group (a model's forward and backward) never overlap and never overtake each
    other; without a group, the backward ones run beside a slow forward and overtake it."""
    seen: list[tuple[str, int]] = []
    running = threading.Semaphore(1)
    overlaps = 0

    def handle(msg, kind):
        nonlocal overlaps
        overlaps += not running.acquire(blocking=False)
        time.sleep(0.3 if msg["N"] == 0 else 0.0)  # the first forward is slow
        seen.append((kind, msg["N"]))
        running.release()

    receiver = Client("receiver", hub.url)
    for kind, mtype in (("forward", "DATA/FORWARD"), ("backward", "DATA/GRADIENT")):
        receiver.add_handler(lambda msg, kind=kind: handle(msg, kind), Trigger(mtype, "r"), in_thread=True, group=group)
    async with receiver, Client("sender", hub.url) as sender:
        for n in range(10):
            await sender.send({"TYPE": "DATA/FORWARD" if n % 2 == 0 else "DATA/GRADIENT", "TO_ROOM": "r", "N": n})
        await until(lambda: len(seen) == 10)
    if group is not None:
        assert [n for _, n in seen] == list(range(10)) and overlaps == 0
    else:
        assert seen.index(("forward", 0)) > seen.index(("backward", 1))


async def test_room_table_gathers_every_page(hub):
    clients = [await Client(f"m{k}", hub.url).connect() for k in range(3)]
    try:
        for k, client in enumerate(clients):
            for i in range(200):
                await client.join_room(f"room-{k}-{i:03d}")
        table = await clients[0].room_table()  # 600 rooms: two pages of 500 and 100
        assert len(table) == 600 and table["room-2-199"] == ["m2"] and list(table) == sorted(table)
    finally:
        for client in clients:
            await client.close()
