"""swergio_nb.compat against the real swergio 0.0.2: the same names and values, and a synchronous client on our hub."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
import swergio

from swergio_nb import Client, Hub, HubError, NotConnected, Trigger, compat
from swergio_nb.protocol.limits import TOKEN_ENV
from tests.helpers import until

MAIN_TYPES = ("DATA", "COMMAND", "LOG")


def swergio_settings():
    """Every (main type, attribute, setting) of swergio 0.0.2's MESSAGE_TYPE."""
    for main in MAIN_TYPES:
        for attr, setting in vars(getattr(swergio.MESSAGE_TYPE, main)).items():
            if isinstance(setting, swergio.messageType.MessageTypeSetting):
                yield main, attr, setting


def test_every_swergio_message_type_has_its_id_name_and_fields():
    settings = list(swergio_settings())
    assert len(settings) == 22  # 5 DATA, 11 COMMAND, 6 LOG
    for main, attr, theirs in settings:
        ours = getattr(getattr(compat.MESSAGE_TYPE, main), attr)
        assert (ours.id, ours.name, ours.required_fields, ours.optional_fields) == (
            theirs.id,
            theirs.name,
            theirs.required_fields,
            theirs.optional_fields,
        ), f"MESSAGE_TYPE.{main}.{attr}"
        assert type(ours.id) is str and ours == theirs.id  # also the wire string itself
        assert compat.MESSAGE_TYPE.by_id(theirs.id).id == swergio.MESSAGE_TYPE.by_id(theirs.id).id
    assert compat.MESSAGE_TYPE.LOG.MESSAGE is compat.MESSAGE_TYPE.LOG.MESSAGES  # swergio's name, and ours
    assert compat.MESSAGE_TYPE.COMMAND.ACK.id == "COMMAND/ACK" and compat.MESSAGE_TYPE.LOG.ERROR.id == "LOG/ERROR"
    assert compat.MESSAGE_TYPE.by_id("DATA/NOPE") is None and compat.MESSAGE_TYPE.by_id(7) is None
    assert compat.MESSAGE_TYPE.by_id("DATA/by_id") is None
    msg = {"MESSAGE": {}, "SENDER": "a", "ROOM": "r"}
    assert compat.MESSAGE_TYPE.LOG.MESSAGE.check_fields(msg) == swergio.MESSAGE_TYPE.LOG.MESSAGE.check_fields(msg)
    assert not compat.MESSAGE_TYPE.DATA.FORWARD.check_fields({})


def test_model_status_has_swergios_ids_and_names():
    for name in ("TRAIN", "VALIDATE"):
        ours, theirs = getattr(compat.MODEL_STATUS, name), getattr(swergio.MODEL_STATUS, name)
        assert (ours.id, ours.name) == (theirs.id, theirs.name) and type(ours.id) is int
        assert compat.MODEL_STATUS.by_id(theirs.id) is ours
    assert compat.MODEL_STATUS.by_id(3) is None


def test_trigger_fires_where_swergios_does():
    t = compat.MESSAGE_TYPE
    cases = [
        (dict(types=t.DATA.FORWARD, rooms="output"), dict(directmessage=True)),
        (dict(types=[t.DATA.FORWARD, t.DATA.GRADIENT], rooms=["a", "b"]), dict(directmessage=False)),
        (dict(types=t.DATA.GRADIENT, rooms=None), dict(directmessage=True)),
        (dict(types=t.DATA.GRADIENT, rooms=None), dict(directmessage=False)),
    ]
    messages = [
        {"TYPE": "DATA/FORWARD", "TO_ROOM": "output"},
        {"TYPE": "DATA/FORWARD", "TO_ROOM": "a"},
        {"TYPE": "DATA/GRADIENT", "TO_ROOM": "b"},
        {"TYPE": "DATA/GRADIENT", "TO_ROOM": "elsewhere"},
        {"TYPE": "DATA/GRADIENT", "TO": "me"},
        {"TYPE": "DATA/TEXT", "TO_ROOM": "a"},
    ]
    for args, flags in cases:
        ours = compat.Trigger(**args, **flags)
        types = args["types"] if isinstance(args["types"], list) else [args["types"]]
        theirs = swergio.Trigger([swergio.MESSAGE_TYPE.by_id(x.id) for x in types], args["rooms"], **flags)
        assert ours.directmessage == flags["directmessage"]
        for msg in messages:
            try:
                expected = theirs.is_triggered(msg)
            except KeyError:  # swergio's Trigger with rooms reads TO_ROOM even from a direct message
                continue
            assert ours.is_triggered(msg) == expected, (args, flags, msg)
            assert ours.matches(msg, "me") == expected, (args, flags, msg)  # the client's own matching agrees


@pytest.fixture(autouse=True)
def hub_token(monkeypatch):
    """The hub's token in SWERGIO_TOKEN, where the compat client (swergio's signature has no token) takes it."""
    monkeypatch.setenv(TOKEN_ENV, "compat-test-token")


async def compat_client(hub: Hub, name: str, **kwargs) -> compat.Client:
    """A compat client (its constructor blocks until registered, so it runs in a thread)."""
    return await asyncio.to_thread(compat.Client, name, hub.host, hub.port, "utf-8", 10, **kwargs)


async def test_a_synchronous_client_with_swergios_handlers_kwargs_and_reply_rules():
    async with Hub(port=0) as hub, Client("new", hub.url) as new:
        counter = []
        old = await compat_client(hub, "old", step_counter=counter, queue_size="a handler's, not the client's")
        t = compat.MESSAGE_TYPE

        def respond(msg, step_counter, queue_size):
            assert queue_size == "a handler's, not the client's"
            step_counter.append(msg["DATA"])
            return {"DATA": [2 * x for x in msg["DATA"]], "TYPE": "DATA/TEXT", "TO_ROOM": "ignored"}

        await asyncio.to_thread(  # (the hub runs on this thread's loop: blocking calls go to another thread)
            old.add_eventHandler,
            respond,
            t.DATA.GRADIENT,
            responseRooms=["out", "out2"],
            trigger=compat.Trigger(t.DATA.FORWARD, "in"),
        )
        assert {"in", "out", "out2"} <= old.rooms  # joined when add_eventHandler returns, as in swergio
        assert hub.router.room_table()["in"] == ["old"]
        replies = []
        await new.join_room("out")
        await new.join_room("out2")
        new.add_handler(replies.append, Trigger("DATA/GRADIENT"))
        listening = threading.Thread(target=old.listen, daemon=True)
        listening.start()
        await new.send(
            {"TYPE": "DATA/FORWARD", "TO_ROOM": "in", "DATA": np.array([1.0, 2.0]), "ROOT_ID": "c1", "MODEL_STATUS": 2}
        )
        await until(lambda: len(replies) == 2)
        assert counter[0].tolist() == [1.0, 2.0]  # the kwarg, by parameter name; arrays stay numpy on WebSocket
        assert sorted(r["TO_ROOM"] for r in replies) == ["out", "out2"]  # one copy per response room, TO_ROOM theirs
        for reply in replies:  # TYPE is responseType (swergio overwrote it), ROOT_ID and MODEL_STATUS carried over
            assert reply["TYPE"] == "DATA/GRADIENT" and reply["ROOT_ID"] == "c1" and reply["MODEL_STATUS"] == 2
            assert reply["SENT_BY"] == "old" and reply["DATA"] == [2.0, 4.0]

        got = []
        new.add_handler(got.append, Trigger("DATA/TEXT"))
        await asyncio.to_thread(old.send, {"TYPE": t.DATA.TEXT.id, "TO": "new", "DATA": "hi"})  # synchronous send
        await until(lambda: got)
        assert got[0]["DATA"] == "hi" and got[0]["SENT_BY"] == "old"
        await asyncio.to_thread(old.close)  # another thread closes: listen() returns
        await asyncio.to_thread(listening.join, 5)
        assert not listening.is_alive() and old.loop.is_closed()


async def test_send_from_a_handler_does_not_block_and_a_failing_handler_ends_listen():
    async with Hub(port=0) as hub, Client("new", hub.url) as new:
        old = await compat_client(hub, "old")
        t = compat.MESSAGE_TYPE

        def forward_then_fail(msg):
            old.send({"TYPE": t.DATA.TEXT.id, "TO": "new", "DATA": "from a handler"})
            if msg["DATA"] == "boom":
                raise ValueError("the handler failed")
            with pytest.raises(RuntimeError, match="would wait for itself"):
                old.join_room("x")  # a blocking call from its own loop's thread is refused, not a deadlock

        await asyncio.to_thread(
            old.add_eventHandler, forward_then_fail, None, trigger=compat.Trigger(t.DATA.TEXT, "in")
        )
        got = []
        new.add_handler(got.append, Trigger("DATA/TEXT"))
        failure = asyncio.get_running_loop().run_in_executor(None, old.listen)
        await new.send({"TYPE": "DATA/TEXT", "TO_ROOM": "in", "DATA": "fine"})
        await until(lambda: len(got) == 1)
        await new.send({"TYPE": "DATA/TEXT", "TO_ROOM": "in", "DATA": "boom"})
        with pytest.raises(ValueError, match="the handler failed"):  # listen() ends with it, as swergio's did
            await asyncio.wait_for(failure, 5)
        await until(lambda: len(got) == 2)  # what the handler sent before it failed went out
        await until(lambda: hub.router.conn_of("old") is None)
        await asyncio.to_thread(old.close)


async def test_a_refused_registration_raises_and_stops_the_thread(monkeypatch):
    async with Hub(port=0) as hub, Client("taken", hub.url):
        with pytest.raises(HubError, match="name-taken"):
            await compat_client(hub, "taken")
        assert "swergio-compat-taken" not in [t.name for t in threading.enumerate()]  # its loop's thread ended
        assert hub.token == "compat-test-token"
        monkeypatch.delenv(TOKEN_ENV)
        server = f"ws://{hub.host}:{hub.port}/?token={hub.token}"  # a whole URL, with its token, works too
        other = await asyncio.to_thread(compat.Client, "other", server)
        assert other.client.connected and "connected" in repr(other)
        await asyncio.to_thread(other.close)
        assert "closed" in repr(other)
        with pytest.raises(NotConnected, match="closed"):
            other.send({"TYPE": "DATA/TEXT", "TO": "taken", "DATA": "late"})
        port = hub.port
    with pytest.raises(OSError):  # nobody listens there any more
        await asyncio.to_thread(compat.Client, "late", "127.0.0.1", port)
    assert "swergio-compat-late" not in [t.name for t in threading.enumerate()]
