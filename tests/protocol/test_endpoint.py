"""The client's rules (the sans-I/O Endpoint), driven with no sockets: endpoints talk to a Router in memory."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from swergio_nb import HubError, InvalidMessage, NotConnected, PeerError, Router
from swergio_nb.exceptions import InvalidState
from swergio_nb.protocol.codec import encode
from swergio_nb.protocol.endpoint import (
    SENDER,
    Answered,
    ConnectionState,
    Dispatch,
    Endpoint,
    HubRefused,
    Replied,
    Trigger,
    Undecodable,
    backoff,
)
from swergio_nb.protocol.router import Send


class Wire:
    """Endpoints connected to one Router in memory: what one sends, the router routes, the others receive."""

    def __init__(self) -> None:
        self.router = Router()
        self.conn: dict[str, int] = {}
        self.endpoint_of: dict[int, Endpoint] = {}
        self.events: dict[str, list] = {}

    def send(self, endpoint: Endpoint, msg: dict) -> None:
        for event in self.router.receive(self.conn[endpoint.name], encode(msg)):
            assert isinstance(event, Send)
            receiver = self.endpoint_of[event.conn]
            result = receiver.receive(event.frame)
            if result is not None:
                self.events[receiver.name].append(result)

    def connect(self, endpoint: Endpoint) -> Endpoint:
        """Register, join every room the endpoint needs, go OPEN: what a transport does on each connection."""
        if endpoint.state is ConnectionState.CLOSED:
            endpoint.begin()
        conn = self.router.connect()
        self.conn[endpoint.name] = conn
        self.endpoint_of[conn] = endpoint
        self.events.setdefault(endpoint.name, [])
        register = endpoint.opened()
        endpoint.expect_answer(register["ID"], "register")
        self.send(endpoint, register)
        assert self.take(endpoint) == [Answered("register", self.last_ack, None)]
        for room in endpoint.rooms_to_join():
            join = endpoint.command("COMMAND/JOINROOM", ROOM=room)
            endpoint.expect_answer(join["ID"], room)
            self.send(endpoint, join)
            (answered,) = self.take(endpoint)
            assert answered.token == room and answered.error is None
        endpoint.ready()
        return endpoint

    def drop(self, endpoint: Endpoint) -> None:
        self.router.disconnect(self.conn.pop(endpoint.name))

    @property
    def last_ack(self):
        return self._last_ack

    def take(self, endpoint: Endpoint) -> list:
        events, self.events[endpoint.name] = self.events[endpoint.name], []
        if events and isinstance(events[0], Answered):
            self._last_ack = events[0].message
        return events


def handler_fn(msg):
    return None


@pytest.fixture
def wire():
    return Wire()


def test_registration_and_joins_are_acknowledged_and_the_joined_rooms_follow_the_acks(wire):
    model = Endpoint("model")
    model.add_handler(handler_fn, Trigger("DATA/FORWARD", "input"), reply_rooms="output")
    model.want("extra")
    assert model.state is ConnectionState.CLOSED and model.rooms_to_join() == ["extra", "input", "output"]
    wire.connect(model)
    assert model.state is ConnectionState.OPEN
    assert model.joined == {"extra", "input", "output"} and model.rooms_to_join() == []
    leave = model.command("COMMAND/LEAVEROOM", ROOM="extra")
    model.unwant("extra")
    wire.send(model, leave)  # an acknowledgement nobody waits for is no event, but its ROOMS still count
    assert wire.take(model) == [] and model.joined == {"input", "output"}


def test_a_message_fires_the_handlers_whose_trigger_matches_in_registration_order(wire):
    sender, receiver = wire.connect(Endpoint("a")), Endpoint("b")
    first = receiver.add_handler(handler_fn, Trigger(["DATA/FORWARD", "DATA/TEXT"], "r"))
    direct_only = receiver.add_handler(handler_fn, Trigger("DATA/TEXT", []))
    any_room = receiver.add_handler(handler_fn, Trigger("DATA/TEXT"))
    no_direct = receiver.add_handler(handler_fn, Trigger("DATA/TEXT", "r", direct=False))
    wire.connect(receiver)
    wire.send(sender, sender.complete({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "room"}))
    wire.send(sender, sender.complete({"TYPE": "DATA/TEXT", "TO": "b", "DATA": "direct"}))
    wire.send(sender, sender.complete({"TYPE": "DATA/GRADIENT", "TO_ROOM": "r", "DATA": "nobody"}))
    room, direct = wire.take(receiver)
    assert isinstance(room, Dispatch) and room.message["DATA"] == "room" and room.message["SENT_BY"] == "a"
    assert room.handlers == (first, any_room, no_direct)
    assert direct.message["DATA"] == "direct" and direct.handlers == (first, direct_only, any_room)
    receiver.remove_handler(first)  # the remembered matches follow the registrations
    wire.send(sender, sender.complete({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "DATA": "again"}))
    assert wire.take(receiver)[0].handlers == (any_room, no_direct)


def test_replies_carry_the_chain_and_the_status_and_go_where_the_handler_says():
    endpoint = Endpoint("model")
    incoming = {
        "ID": "m1",
        "ROOT_ID": "root",
        "TYPE": "DATA/FORWARD",
        "TO_ROOM": "in",
        "SENT_BY": "t",
        "MODEL_STATUS": 2,
    }
    to_rooms = endpoint.add_handler(
        handler_fn, Trigger("DATA/FORWARD", "in"), reply_type="DATA/FORWARD", reply_rooms=["out", "log"]
    )
    copies = endpoint.replies(to_rooms, incoming, {"DATA": np.ones(2)})
    assert [r["TO_ROOM"] for r in copies] == ["out", "log"] and copies[0]["ID"] == copies[1]["ID"] != "m1"
    assert all(r["ROOT_ID"] == "root" and r["MODEL_STATUS"] == 2 and r["TYPE"] == "DATA/FORWARD" for r in copies)
    to_sender = endpoint.add_handler(
        handler_fn, Trigger("DATA/FORWARD", "in"), reply_type="DATA/GRADIENT", reply_to=SENDER
    )
    (reply,) = endpoint.replies(to_sender, incoming, {"DATA": 1, "ROOT_ID": "mine", "TYPE": "DATA/REWARD"})
    assert reply["TO"] == "t" and reply["ROOT_ID"] == "mine" and reply["TYPE"] == "DATA/REWARD"
    assert endpoint.replies(to_sender, incoming, None) == []
    assert len(endpoint.replies(to_sender, incoming, [{"DATA": 1}, {"DATA": 2}])) == 2
    with pytest.raises(TypeError, match="expected dict"):
        endpoint.replies(to_sender, incoming, 3.0)


def test_complete_fills_ids_drops_a_forged_sender_and_refuses_bad_messages():
    endpoint = Endpoint("a")
    msg = endpoint.complete({"TYPE": "DATA/TEXT", "TO": "b", "SENT_BY": "someone else"})
    assert len(msg["ID"]) == 32 and msg["ROOT_ID"] == msg["ID"] and "SENT_BY" not in msg
    assert endpoint.complete({"ID": "x", "ROOT_ID": "r", "TYPE": "DATA/TEXT", "TO": "b"})["ROOT_ID"] == "r"
    with pytest.raises(InvalidMessage, match="addresses nobody"):
        endpoint.complete({"TYPE": "DATA/TEXT"})


def test_a_request_gets_the_first_reply_of_its_chain_in_its_room_and_handlers_do_not_see_it(wire):
    trainer, model = Endpoint("trainer"), Endpoint("model")
    trainer.want("output")
    echo = trainer.add_handler(handler_fn, Trigger("DATA/FORWARD", "output"))
    model.add_handler(handler_fn, Trigger("DATA/FORWARD", "input"))
    wire.connect(trainer), wire.connect(model)
    request = trainer.complete({"TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": 1})
    handle = trainer.expect_reply(request["ROOT_ID"], "token", room="output", type="DATA/FORWARD")
    wire.send(trainer, request)
    (seen,) = wire.take(model)
    other_chain = model.complete({"TYPE": "DATA/FORWARD", "TO_ROOM": "output", "DATA": 0})
    wrong_type = model.complete({"TYPE": "DATA/TEXT", "TO_ROOM": "output", "ROOT_ID": request["ROOT_ID"]})
    (reply,) = model.replies(model.handlers[0], seen.message, {"TYPE": "DATA/FORWARD", "DATA": 2})
    for msg in (other_chain, wrong_type, reply, reply):
        wire.send(model, model.complete({**msg, "TO_ROOM": "output"}))
    other, replied, second = wire.take(trainer)  # the wrong type fires no handler and is not the reply
    assert isinstance(other, Dispatch) and other.message["DATA"] == 0  # another chain: for the handlers
    assert isinstance(replied, Replied) and replied.token == "token" and replied.message["DATA"] == 2
    assert isinstance(second, Dispatch) and second.handlers == (echo,)  # a second copy is ordinary traffic
    trainer.forget_reply(request["ROOT_ID"], handle)  # after its reply: a no-op


def test_a_direct_request_without_a_room_waits_for_a_message_addressed_by_name(wire):
    a, b = wire.connect(Endpoint("a")), Endpoint("b")
    b.want("r")
    wire.connect(b)
    handle = a.expect_reply("chain", "t")
    wire.send(a, a.complete({"TYPE": "DATA/TEXT", "TO_ROOM": "r", "ROOT_ID": "chain", "DATA": "ask"}))
    wire.send(b, b.complete({"TYPE": "DATA/TEXT", "TO": "a", "ROOT_ID": "other", "DATA": "no"}))
    wire.send(b, b.complete({"TYPE": "DATA/TEXT", "TO": "a", "ROOT_ID": "chain", "DATA": "yes"}))
    (replied,) = wire.take(a)  # the other chain fires no handler: no event
    assert isinstance(replied, Replied) and replied.token == "t" and replied.message["DATA"] == "yes"
    a.forget_reply("chain", handle)
    wire.send(b, b.complete({"TYPE": "DATA/TEXT", "TO": "a", "ROOT_ID": "chain", "DATA": "late"}))
    assert wire.take(a) == []  # nobody waits any more


def test_hub_errors_fail_who_waits_and_are_counted_otherwise(wire):
    a = wire.connect(Endpoint("a"))
    refused = a.complete({"TYPE": "DATA/TEXT", "TO_ROOM": "nobody-here", "DATA": 1})
    bad = {**refused, "MODEL_STATUS": 7}  # the hub refuses it: MODEL_STATUS must be 1 or 2
    a.expect_answer(bad["ID"], "waiting")
    wire.send(a, bad)
    (answered,) = wire.take(a)
    assert isinstance(answered, Answered) and answered.token == "waiting"
    assert isinstance(answered.error, HubError) and answered.error.code == "bad-field"
    errors = a.add_handler(handler_fn, Trigger("LOG/ERROR", []))
    wire.send(a, {**bad, "ID": "again"})
    (refusal,) = wire.take(a)
    assert isinstance(refusal, HubRefused) and refusal.error.code == "bad-field" and refusal.handlers == (errors,)
    assert a.stats.hub_errors == 1


def test_only_the_hub_answers_and_only_the_asked_component_refuses(wire):
    a, model, spy = (wire.connect(Endpoint(name)) for name in ("a", "model", "spy"))
    request = a.complete({"TYPE": "DATA/FORWARD", "TO": "model", "DATA": 1})
    a.expect_answer(request["ID"], "hub-answer")
    handle = a.expect_reply(request["ROOT_ID"], "reply", type="DATA/FORWARD", request=request["ID"], asked="model")
    wire.send(a, request)
    assert wire.take(a) == []
    chain = {"TO": "a", "ROOT_ID": request["ROOT_ID"], "REPLY_TO": request["ID"]}
    for mtype in ("COMMAND/ACK", "LOG/ERROR"):  # the router stamps SENT_BY "spy": neither is the hub's answer
        wire.send(spy, spy.complete({"TYPE": mtype, "ERROR": "name-taken", **chain}))
    assert wire.take(a) == [] and a.stats.hub_errors == 0
    wire.send(model, model.complete({"TYPE": "LOG/ERROR", "ERROR": "bad-weights", "DETAIL": "no", **chain}))
    (refused,) = wire.take(a)
    assert isinstance(refused, Replied) and refused.token == "reply"
    assert isinstance(refused.error, PeerError) and refused.error.sender == "model"
    assert str(refused.error) == "model refused: bad-weights: no"
    a.forget_reply(request["ROOT_ID"], handle)


def test_undecodable_frames_are_dropped_and_counted():
    endpoint = Endpoint("a")
    assert isinstance(endpoint.receive("{not json"), Undecodable)
    assert isinstance(endpoint.receive('{"ID": "x"}'), Undecodable)
    assert endpoint.stats.received == 2 and endpoint.stats.undecodable == 2


def test_losing_the_connection_returns_every_waiting_token_and_reconnecting_buffers_in_order(wire):
    a = wire.connect(Endpoint("a", max_buffer=2))
    a.expect_answer("cmd", "ack-token")
    a.expect_reply("root", "reply-token")
    a.buffer("one")  # the transport saw the connection go before the endpoint was told
    assert sorted(a.lost(reconnect=True)) == ["ack-token", "reply-token"]
    assert a.state is ConnectionState.RECONNECTING and a.lost(reconnect=True) == []
    a.buffer("two")
    with pytest.raises(NotConnected, match="buffer is full"):
        a.buffer("three")
    sent = []
    for frame in a.take_buffered():
        sent.append(frame)
        break  # the transport failed to send "one": it stays first
    assert sent == ["one"] and a.buffered == 2
    assert list(a.take_buffered()) == ["one", "two"] and a.buffered == 0
    wire.drop(a)
    wire.connect(a)
    assert a.state is ConnectionState.OPEN and a.stats.reconnects == 1 and a.joined == frozenset()
    a.close()
    with pytest.raises(NotConnected):  # closed: nothing is kept for later
        a.buffer("three")


def test_states_move_only_along_the_drawn_transitions():
    a = Endpoint("a")
    with pytest.raises(InvalidState):
        a.ready()
    with pytest.raises(InvalidState):
        a.opened()
    a.begin()
    with pytest.raises(InvalidState):
        a.begin()
    a.opened()
    assert a.lost(reconnect=True) == [] and a.state is ConnectionState.CONNECTING  # a failed first attempt
    a.ready()
    assert a.lost(reconnect=False) == [] and a.state is ConnectionState.CLOSED
    a.begin(), a.opened(), a.ready()
    a.lost(reconnect=True)
    a.buffer("x")
    assert a.close() == ([], 1) and a.state is ConnectionState.CLOSED and a.buffered == 0


def test_backoff_caps_double_up_to_the_longest_and_each_wait_is_within_its_cap():
    waits = backoff(0.05, 1.0, random.Random(3))
    caps = [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    got = [next(waits) for _ in caps]
    assert [cap for _, cap in got] == caps
    assert all(0 <= wait <= cap for wait, cap in got) and len({wait for wait, _ in got}) == len(got)
    with pytest.raises(ValueError):
        next(backoff(0, 1))
    with pytest.raises(ValueError):
        next(backoff(2, 1))


TYPES = ["DATA/FORWARD", "DATA/GRADIENT", "DATA/TEXT"]
ROOMS = ["r1", "r2", "r3"]
triggers = st.builds(
    Trigger,
    st.lists(st.sampled_from(TYPES), min_size=1, max_size=3),
    st.one_of(st.none(), st.lists(st.sampled_from(ROOMS), max_size=3)),
    st.booleans(),
)
messages = st.fixed_dictionaries(
    {"ID": st.just("m"), "TYPE": st.sampled_from(TYPES)},
    optional={"TO_ROOM": st.sampled_from(ROOMS), "TO": st.sampled_from(["me", "you"])},
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "remove", "message"]), triggers, messages), max_size=40))
def test_remembered_matches_always_equal_matching_every_trigger(steps):
    endpoint = Endpoint("me")
    for op, trigger, msg in steps:
        if op == "add":
            endpoint.add_handler(handler_fn, trigger)
        elif op == "remove" and endpoint.handlers:
            endpoint.remove_handler(endpoint.handlers[len(endpoint.handlers) // 2])
        expected = tuple(h for h in endpoint.handlers if h.trigger.matches(msg, "me"))
        assert endpoint.match(msg) == expected


class ConnectionMachine(RuleBasedStateMachine):
    """Random begin/open/ready/lost/close/buffer calls against a model of the drawn transitions."""

    def __init__(self) -> None:
        super().__init__()
        self.endpoint = Endpoint("m", max_buffer=3)
        self.model = "closed"
        self.attempt = False  # a transport connection is open and not yet ready
        self.buffered = 0

    @rule()
    def begin(self):
        if self.model == "closed":
            self.endpoint.begin()
            self.model = "connecting"
        else:
            with pytest.raises(InvalidState):
                self.endpoint.begin()

    @rule()
    def opened(self):
        if self.model in ("connecting", "reconnecting"):
            assert self.endpoint.opened()["TYPE"] == "COMMAND/REGISTER"
            self.attempt = True
        else:
            with pytest.raises(InvalidState):
                self.endpoint.opened()

    @rule()
    def ready(self):
        if self.model in ("connecting", "reconnecting") and self.attempt:
            self.endpoint.ready()
            self.model, self.attempt = "open", False
            self.buffered = self.endpoint.buffered
        elif self.model == "open" or self.model == "closed":
            with pytest.raises(InvalidState):
                self.endpoint.ready()

    @rule(reconnect=st.booleans())
    def lost(self, reconnect):
        self.endpoint.lost(reconnect=reconnect)
        self.attempt = False
        if self.model == "open":
            self.model = "reconnecting" if reconnect else "closed"

    @rule()
    def close(self):
        self.endpoint.close()
        self.model, self.attempt, self.buffered = "closed", False, 0

    @precondition(lambda self: self.model == "reconnecting")
    @rule()
    def buffer(self):
        if self.buffered < 3:
            self.endpoint.buffer(b"x")
            self.buffered += 1
        else:
            with pytest.raises(NotConnected):
                self.endpoint.buffer(b"x")

    @invariant()
    def state_follows_the_model(self):
        assert self.endpoint.state.value == self.model
        assert self.endpoint.buffered == self.buffered or self.model == "open"


ConnectionMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, derandomize=True, deadline=None
)
test_connection_state_machine = ConnectionMachine.TestCase
