"""Property-based fuzzing of the sans-I/O router (no sockets).

A fuzzing connection sends one generated frame while two well-behaved components (alice and bob, in room "pair")
and optionally a logging watcher are registered. For every frame:

* ``receive`` never raises and returns only :class:`Send` / :class:`Close` events;
* bad input gets exactly one ``Send`` to the sender: a decodable ``LOG/ERROR`` with an ``ERROR`` code (the expected
  one when the strategy knows it) and a ``DETAIL`` naming the problem; never a ``Close``;
* valid input is handled as the protocol says, checked against a model of names and memberships kept by the test:
  hub commands are acknowledged to the sender and change only what they should; other messages reach exactly the
  room members (minus the sender) and the ``TO`` component, stamped with ``SENT_BY`` = the sender's name, plus
  ``LOG/MESSAGES`` copies for the logging room;
* ``room_table()`` always equals the model, and alice and bob still exchange messages afterwards.

A rule-based state machine then drives register/join/leave/send/disconnect (and bad frames) across several
connections and checks the router against the same kind of model after every step.
"""

from __future__ import annotations

import itertools
import json

import msgpack
import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, precondition, rule

from swergio_nb import Router
from swergio_nb.protocol.codec import decode, encode, encode_binary
from swergio_nb.protocol.messages import HUB_NAME, LOGGING_ROOM
from swergio_nb.protocol.router import LOGGED_TYPES, Close, Send

from .strategies import (
    ERROR_CODES,
    FUZZ_NAME,
    REGISTER,
    ROUTER_EXAMPLES,
    Case,
    any_cases,
    bad_cases,
    fuzz_settings,
    report_frame_counts,
)

#: Longest DETAIL the router may put in an error (it must not echo megabytes of bad input back).
MAX_DETAIL = 2_000
FRAMES = {"router property": 0, "state machine": 0}


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request):
    yield
    report_frame_counts(request, "tests/fuzz/test_router_fuzz.py", FRAMES)


def _same(a, b) -> bool:
    """Equal as decoded values (NaN equals NaN): compare canonical encodings."""
    try:
        if isinstance(a, dict) and all(isinstance(k, str) for k in a):
            return json.dumps(a, allow_nan=True) == json.dumps(b, allow_nan=True)
    except (TypeError, ValueError):
        pass  # bytes or extensions in it: msgpack below
    except RecursionError:
        return True  # nested too deeply to compare here; the frame decoded, that is what is checked
    return msgpack.packb(a, use_bin_type=True) == msgpack.packb(b, use_bin_type=True)


class World:
    """A router, alice and bob in room "pair", maybe a watcher in the logging room, and a model of it all."""

    def __init__(self, *, max_rooms: int | None = 256) -> None:
        self.router = Router(max_rooms=max_rooms)
        self.names: dict[int, str] = {}  # model: registered name of each open connection
        self.rooms: dict[int, set[str]] = {}  # model: rooms of each open connection
        self.errors = 0
        self._ids = itertools.count()

    # -- the model ---------------------------------------------------------------------------------------------

    def conn_named(self, name) -> int | None:
        return next((c for c, n in self.names.items() if n == name), None)

    def table(self) -> dict[str, list[str]]:
        table: dict[str, list[str]] = {}
        for conn, rooms in self.rooms.items():
            for room in rooms:
                table.setdefault(room, []).append(self.names[conn])
        return {room: sorted(members) for room, members in sorted(table.items())}

    def check_invariants(self) -> None:
        assert self.router.room_table() == self.table()
        assert self.router.connections() == sorted(self.rooms)
        for conn in self.rooms:
            assert self.router.name_of(conn) == self.names.get(conn)
        for conn, name in self.names.items():
            assert self.router.conn_of(name) == conn
        assert self.router.stats.errors == self.errors

    # -- driving it --------------------------------------------------------------------------------------------

    def connect(self) -> int:
        conn = self.router.connect()
        self.rooms[conn] = set()
        return conn

    def disconnect(self, conn: int) -> None:
        assert self.router.disconnect(conn) == []
        self.rooms.pop(conn, None)
        self.names.pop(conn, None)

    def component(self, name: str, *rooms: str) -> int:
        conn = self.connect()
        self.handle(conn, encode({"ID": f"reg-{name}", "TYPE": REGISTER, "NAME": name}), expect="valid")
        for room in rooms:
            self.handle(conn, encode({"ID": f"join-{room}", "TYPE": "COMMAND/JOINROOM", "ROOM": room}), expect="valid")
        return conn

    def handle(self, conn: int, frame: str | bytes, *, expect: str = "either", codes=frozenset(), hint=None):
        """Send ``frame`` from ``conn`` and check every event against the model; returns the events."""
        table_before = self.table()
        events = self.router.receive(conn, frame)  # must not raise, whatever the frame
        assert isinstance(events, list) and all(type(e) in (Send, Close) for e in events), events
        error = _error_of(events)
        if error is not None:
            self.errors += 1
            self._check_error(conn, events, error, codes, hint)
            assert expect != "valid", f"a valid frame was refused: {error}"
            assert self.table() == table_before
            event(f"answer: LOG/ERROR {error['ERROR']}")
        else:
            assert expect != "error", f"a bad frame was accepted: {events}"
            self._check_accepted(conn, frame, events)
        self.check_invariants()
        return events

    def _check_error(self, conn, events, error, codes, hint) -> None:
        assert len(events) == 1, f"an error must be the only event: {events}"
        (answer,) = events
        assert answer.conn == conn and not answer.droppable and isinstance(answer.frame, str)
        assert error["TYPE"] == "LOG/ERROR" and error["SENT_BY"] == HUB_NAME and isinstance(error["ID"], str)
        code, detail = error.get("ERROR"), error.get("DETAIL")
        assert isinstance(code, str) and code in ERROR_CODES, error
        assert isinstance(detail, str) and detail.strip(), error
        assert len(detail) <= MAX_DETAIL, f"DETAIL of {len(detail)} characters"
        if codes:
            assert code in codes, f"expected {sorted(codes)}, got {code}: {detail}"
        if hint is not None and code not in ("not-registered", "already-registered"):
            assert hint in detail, f"{hint!r} not named in {detail!r}"
        if conn in self.names:
            assert error["TO"] == self.names[conn]
        else:
            assert "TO" not in error
        for key in ("REPLY_TO", "ROOT_ID"):
            assert key not in error or isinstance(error[key], str) and error[key]

    def _check_accepted(self, conn, frame, events) -> None:
        msg = decode(frame, arrays=False)  # the router accepted it: so it decodes here too
        mtype = msg["TYPE"]
        event(f"answer: accepted {mtype}")
        if mtype == "COMMAND/DISCONNECT":
            assert events == [Close(conn, 1000, "disconnect requested")]
            self.disconnect(conn)  # as the transport does once the connection is gone
        elif mtype.startswith("COMMAND/") and mtype in _COMMAND_EFFECTS:
            self._check_ack(conn, msg, events)
        else:
            self._check_delivery(conn, frame, msg, events)

    def _check_ack(self, conn, msg, events) -> None:
        mtype = msg["TYPE"]
        _COMMAND_EFFECTS[mtype](self, conn, msg)  # the model's view of what the command does
        assert len(events) == 1 and type(events[0]) is Send and events[0].conn == conn, events
        ack = decode(events[0].frame)
        assert ack["TYPE"] == "COMMAND/ACK" and ack["SENT_BY"] == HUB_NAME and ack["COMMAND"] == mtype
        assert ack["REPLY_TO"] == msg["ID"] and ack["TO"] == self.names[conn]
        assert ack["ROOMS"] == sorted(self.rooms[conn])
        if "ROOT_ID" in msg:
            assert ack["ROOT_ID"] == msg["ROOT_ID"]
        if mtype == REGISTER:
            assert ack["NAME"] == msg["NAME"]
        if mtype == "COMMAND/ROOMS":
            assert ack["TABLE"] == self.table()

    def _check_delivery(self, conn, frame, msg, events) -> None:
        name = self.names[conn]
        room, to = msg.get("TO_ROOM"), msg.get("TO")
        expected = set()
        if room is not None:
            expected |= {c for c, rooms in self.rooms.items() if room in rooms and c != conn}
        if to is not None and self.conn_named(to) is not None:
            expected.add(self.conn_named(to))
        want = decode(frame, arrays=False)
        want["SENT_BY"] = name
        watchers = []
        if msg["TYPE"] in LOGGED_TYPES and room != LOGGING_ROOM and _wrappable(frame, want):
            watchers = sorted(c for c, rooms in self.rooms.items() if LOGGING_ROOM in rooms)
        assert all(type(e) is Send for e in events)
        direct = [e.conn for e in events if not e.droppable]
        assert sorted(direct) == sorted(expected), "delivered to the wrong connections"
        assert sorted(e.conn for e in events if e.droppable) == watchers, "logging copies to the wrong connections"
        event("delivered" if expected else "dropped: nobody to deliver to")
        for e in events:
            assert type(e.frame) is type(frame), "a delivery changed the frame kind"
            got = decode(e.frame, arrays=False)
            if e.droppable:
                assert got["TYPE"] == "LOG/MESSAGES" and got["SENT_BY"] == HUB_NAME
                assert got["SENDER"] == name and got["ROOM"] == room and got["TO_ROOM"] == LOGGING_ROOM
                got = got["MESSAGE"]
            assert got["SENT_BY"] == name
            assert _same(got, want), "the delivered message differs from the one sent"

    def exchange(self, a: int, b: int) -> None:
        """a and b still talk: a room message a -> b (text) and a direct message b -> a (binary, an array)."""
        n = next(self._ids)
        events = self.handle(
            a, encode({"ID": f"p{n}", "TYPE": "DATA/TEXT", "TO_ROOM": "pair", "DATA": n}), expect="valid"
        )
        assert [decode(e.frame)["DATA"] for e in events if e.conn == b and not e.droppable] == [n]
        array = np.arange(n % 5, dtype=np.float32)
        events = self.handle(
            b,
            encode_binary({"ID": f"q{n}", "TYPE": "DATA/FORWARD", "TO": self.names[a], "DATA": array}),
            expect="valid",
        )
        (back,) = [decode(e.frame) for e in events if e.conn == a and not e.droppable]
        np.testing.assert_array_equal(back["DATA"], array)
        assert back["SENT_BY"] == self.names[b]


def _wrappable(frame: str | bytes, msg: dict) -> bool:
    """False for a binary message at msgpack's nesting limit: no LOG/MESSAGES copy can wrap it (one level more)."""
    if isinstance(frame, str):
        return True
    try:
        msgpack.packb({"MESSAGE": msg}, use_bin_type=True)
    except ValueError:
        event("binary message at the nesting limit: no logging copies")
        return False
    return True


def _error_of(events) -> dict | None:
    for e in events:
        if type(e) is Send and isinstance(e.frame, str) and '"LOG/ERROR"' in e.frame:
            msg = decode(e.frame)
            if msg.get("TYPE") == "LOG/ERROR" and msg.get("SENT_BY") == HUB_NAME:
                return msg
    return None


def _register(world: World, conn: int, msg: dict) -> None:
    world.names[conn] = msg["NAME"]


def _join(world: World, conn: int, msg: dict) -> None:
    world.rooms[conn].add(msg["ROOM"])


def _leave(world: World, conn: int, msg: dict) -> None:
    world.rooms[conn].discard(msg["ROOM"])


#: What each acknowledged hub command does to the model.
_COMMAND_EFFECTS = {
    "COMMAND/REGISTER": _register,
    "COMMAND/JOINROOM": _join,
    "COMMAND/LEAVEROOM": _leave,
    "COMMAND/ENABLELOGGING": lambda w, c, m: w.rooms[c].add(LOGGING_ROOM),
    "COMMAND/DISABLELOGGING": lambda w, c, m: w.rooms[c].discard(LOGGING_ROOM),
    "COMMAND/ROOMS": lambda w, c, m: None,
}


# -- one frame from a fuzzing connection ---------------------------------------------------------------------------

setups = st.fixed_dictionaries(
    {"registered": st.booleans() | st.just(True), "fuzz_in_pair": st.booleans(), "watcher": st.booleans()}
)


def _world(setup) -> tuple[World, int, int, int]:
    world = World()
    alice, bob = world.component("alice", "pair"), world.component("bob", "pair")
    if setup["watcher"]:
        world.component("watcher", LOGGING_ROOM)
    if setup["registered"]:
        fuzz = world.component(FUZZ_NAME, *(["pair"] if setup["fuzz_in_pair"] else []))
    else:
        fuzz = world.connect()
    return world, alice, bob, fuzz


def _expectation(case: Case, registered: bool) -> tuple[str, frozenset[str]]:
    if case.expect == "valid" and not registered and case.mtype != REGISTER:
        return "error", frozenset({"not-registered"})
    return case.expect, case.codes


@fuzz_settings(ROUTER_EXAMPLES)
@given(case=any_cases(), setup=setups)
def test_router_answers_every_frame_and_keeps_its_state(case: Case, setup: dict) -> None:
    world, alice, bob, fuzz = _world(setup)
    event(case.kind)
    expect, codes = _expectation(case, setup["registered"])
    world.handle(fuzz, case.frame, expect=expect, codes=codes, hint=case.hint)
    FRAMES["router property"] += 1
    world.exchange(alice, bob)
    world.exchange(bob, alice)


@fuzz_settings(300)
@given(cases=st.lists(bad_cases(), min_size=2, max_size=8), setup=setups)
def test_a_stream_of_bad_frames_changes_nothing(cases: list[Case], setup: dict) -> None:
    world, alice, bob, fuzz = _world(setup)
    table, stats_errors = world.router.room_table(), world.router.stats.errors
    for i, case in enumerate(cases):
        world.handle(fuzz, case.frame, expect="error", codes=case.codes, hint=case.hint)
        FRAMES["router property"] += 1
        if i % 3 == 0:
            world.exchange(alice, bob)
    assert world.router.room_table() == table
    assert world.router.stats.errors == stats_errors + len(cases)
    world.exchange(bob, alice)


# -- a state machine of several connections ----------------------------------------------------------------------

_NAMES = ("ann", "ben", "cy", "_hub", "_x")
_ROOMS = ("r1", "r2", "r3", LOGGING_ROOM)


class RouterMachine(RuleBasedStateMachine):
    """Connections registering, joining, leaving, sending and disconnecting, against a model of the router."""

    conns = Bundle("conns")

    @initialize()
    def start(self) -> None:
        self.world = World(max_rooms=3)  # small, so too-many-rooms happens too

    def _closed(self, conn: int) -> bool:
        """True (after checking that receive refuses it) if conn was closed by a DISCONNECT command."""
        if conn in self.world.rooms:
            return False
        with pytest.raises(KeyError):
            self.world.router.receive(conn, encode({"ID": "x", "TYPE": "COMMAND/ROOMS"}))
        return True

    def _send(self, conn: int, msg: dict, binary: bool, *, codes=frozenset()) -> dict | None:
        """Send msg; if the model predicts an error (``codes``), it must be that error; returns the error if any."""
        frame = encode_binary(msg) if binary else encode(msg)
        events = self.world.handle(conn, frame, expect="error" if codes else "valid", codes=codes)
        FRAMES["state machine"] += 1
        return _error_of(events)

    def _unregistered(self, conn: int) -> frozenset[str]:
        return frozenset() if conn in self.world.names else frozenset({"not-registered"})

    @rule(target=conns)
    def connect(self) -> int:
        return self.world.connect()

    @rule(conn=conns, name=st.sampled_from(_NAMES), binary=st.booleans())
    def register(self, conn, name, binary) -> None:
        if self._closed(conn):
            return
        current, owner = self.world.names.get(conn), self.world.conn_named(name)
        codes: frozenset[str] = frozenset()
        if current is not None and current != name:
            codes = frozenset({"already-registered"})
        elif name.startswith("_"):
            codes = frozenset({"bad-name"})
        elif owner is not None and owner != conn:
            codes = frozenset({"name-taken"})
        self._send(conn, {"ID": "reg", "TYPE": REGISTER, "NAME": name}, binary, codes=codes)

    @rule(conn=conns, room=st.sampled_from(_ROOMS), binary=st.booleans())
    def join(self, conn, room, binary) -> None:
        if self._closed(conn):
            return
        codes = self._unregistered(conn)
        rooms = self.world.rooms[conn]
        if not codes and room not in rooms and len(rooms) >= 3:
            codes = frozenset({"too-many-rooms"})
        self._send(conn, {"ID": "join", "TYPE": "COMMAND/JOINROOM", "ROOM": room}, binary, codes=codes)

    @rule(conn=conns, room=st.sampled_from(_ROOMS), binary=st.booleans())
    def leave(self, conn, room, binary) -> None:
        if self._closed(conn):
            return
        self._send(
            conn, {"ID": "leave", "TYPE": "COMMAND/LEAVEROOM", "ROOM": room}, binary, codes=self._unregistered(conn)
        )

    @rule(conn=conns, on=st.booleans())
    def logging(self, conn, on) -> None:
        if self._closed(conn):
            return
        codes = self._unregistered(conn)
        rooms = self.world.rooms[conn]
        if on and not codes and LOGGING_ROOM not in rooms and len(rooms) >= 3:
            codes = frozenset({"too-many-rooms"})
        mtype = "COMMAND/ENABLELOGGING" if on else "COMMAND/DISABLELOGGING"
        self._send(conn, {"ID": "log", "TYPE": mtype}, False, codes=codes)

    @rule(conn=conns)
    def rooms_command(self, conn) -> None:
        if self._closed(conn):
            return
        self._send(conn, {"ID": "rooms", "TYPE": "COMMAND/ROOMS"}, False, codes=self._unregistered(conn))

    @rule(
        conn=conns,
        mtype=st.sampled_from(["DATA/FORWARD", "DATA/TEXT", "LOG/KPI", "COMMAND/CUSTOM"]),
        room=st.none() | st.sampled_from(_ROOMS + ("nowhere",)),
        to=st.none() | st.sampled_from(_NAMES + ("nobody",)),
        binary=st.booleans(),
    )
    def send(self, conn, mtype, room, to, binary) -> None:
        if self._closed(conn):
            return
        msg = {"ID": "m", "TYPE": mtype, "DATA": [1, 2.5, "x"], "SENT_BY": "forged"}
        if room is not None:
            msg["TO_ROOM"] = room
        if to is not None:
            msg["TO"] = to
        codes = frozenset({"no-address"}) if room is None and to is None else self._unregistered(conn)
        if not codes and room is not None and room.startswith("_"):
            codes = frozenset({"reserved-room"})  # the hub's rooms: joined by a watcher, written only by the hub
        if binary:
            msg["DATA"] = np.ones(3, dtype=np.float32)
        self._send(conn, msg, binary, codes=codes)

    # (names "taken" by alice and bob are free here: that kind of bad frame does not apply)
    @rule(conn=conns, case=bad_cases().filter(lambda case: case.kind != "reserved or taken NAME"))
    def bad_frame(self, conn, case) -> None:
        if self._closed(conn):
            return
        self.world.handle(conn, case.frame, expect="error")  # codes may differ before registration
        FRAMES["state machine"] += 1

    @rule(conn=consumes(conns))
    def disconnect(self, conn) -> None:
        self.world.disconnect(conn)

    @precondition(lambda self: self.world.names)
    @rule(data=st.data())
    def disconnect_command(self, data) -> None:
        conn = data.draw(st.sampled_from(sorted(self.world.names)))
        self._send(conn, {"ID": "bye", "TYPE": "COMMAND/DISCONNECT"}, False)
        assert conn not in self.world.rooms  # the model dropped it, as the transport would

    @rule()
    def closed_connection_is_a_caller_bug(self) -> None:
        gone = self.world.router.connect()
        self.world.router.disconnect(gone)
        with pytest.raises(KeyError):
            self.world.router.receive(gone, encode({"ID": "x", "TYPE": "COMMAND/ROOMS"}))

    @invariant()
    def router_matches_the_model(self) -> None:
        self.world.check_invariants()


RouterMachine.TestCase.settings = fuzz_settings(150, stateful_step_count=40)
test_router_state_machine = RouterMachine.TestCase
