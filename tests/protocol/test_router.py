"""Every protocol rule of the router, driven with no sockets at all."""

from __future__ import annotations

import json

import msgpack
import numpy as np
import pytest

from swergio_nb import Router
from swergio_nb.protocol.codec import decode, encode
from swergio_nb.protocol.messages import ENVELOPE_FIELDS
from swergio_nb.protocol.router import TRAFFIC_TAIL_FRAME, Close, Send


def frame(**fields):
    fields.setdefault("ID", f"id-{len(fields)}-{sorted(fields)}"[:60])
    return encode(fields)


def deliveries(events):
    """{conn: [decoded message, ...]} of the Send events."""
    out: dict[int, list] = {}
    for event in events:
        assert isinstance(event, Send)
        out.setdefault(event.conn, []).append(decode(event.frame))
    return out


@pytest.fixture
def router():
    return Router()


def join(router, name, *rooms):
    conn = router.connect()
    (ack,) = deliveries(router.receive(conn, frame(ID=f"reg-{name}", TYPE="COMMAND/REGISTER", NAME=name)))[conn]
    assert ack["TYPE"] == "COMMAND/ACK" and ack["REPLY_TO"] == f"reg-{name}" and ack["NAME"] == name
    for room in rooms:
        (ack,) = deliveries(router.receive(conn, frame(ID=f"j-{room}", TYPE="COMMAND/JOINROOM", ROOM=room)))[conn]
        assert room in ack["ROOMS"]
    return conn


def test_room_message_reaches_every_member_but_the_sender(router):
    a, b, c = join(router, "a", "input"), join(router, "b", "input"), join(router, "c", "input")
    outsider = join(router, "d", "other")
    out = deliveries(router.receive(a, frame(ID="m1", TYPE="DATA/FORWARD", TO_ROOM="input", DATA=[1.5])))
    assert sorted(out) == [b, c] and outsider not in out
    assert out[b][0] == {"ID": "m1", "TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": [1.5], "SENT_BY": "a"}
    assert router.stats.routed == 1 and router.stats.delivered == 2


def test_all_recipients_share_one_encoded_frame(router):
    a = join(router, "a")
    for name in "bcd":
        join(router, name, "r")
    events = router.receive(a, frame(ID="m", TYPE="DATA/TEXT", TO_ROOM="r", DATA="hi"))
    assert len({id(e.frame) for e in events}) == 1


def test_sent_by_is_stamped_and_cannot_be_forged(router):
    a, b = join(router, "alice"), join(router, "bob", "r")
    for encoder in (json.dumps, lambda m: msgpack.packb(m)):
        forged = encoder({"ID": "f", "TYPE": "DATA/TEXT", "TO_ROOM": "r", "SENT_BY": "bob", "DATA": "x"})
        (msg,) = deliveries(router.receive(a, forged))[b]
        assert msg["SENT_BY"] == "alice"
    # a duplicate key is no way round it either
    dup = '{"ID":"g","TYPE":"DATA/TEXT","TO_ROOM":"r","SENT_BY":"bob","SENT_BY":"carol"}'
    assert deliveries(router.receive(a, dup))[b][0]["SENT_BY"] == "alice"


def test_direct_message_with_to_and_no_duplicate_when_also_in_room(router):
    a, b, c = join(router, "a"), join(router, "b", "r"), join(router, "c", "r")
    out = deliveries(router.receive(a, frame(ID="d", TYPE="DATA/TEXT", TO="b", DATA="psst")))
    assert list(out) == [b]
    out = deliveries(router.receive(a, frame(ID="e", TYPE="DATA/TEXT", TO="b", TO_ROOM="r", DATA="both")))
    assert sorted(out) == [b, c] and len(out[b]) == 1


def test_unknown_or_empty_rooms_and_names_are_dropped_and_counted(router):
    a = join(router, "a")
    b = join(router, "b", "gone")
    router.receive(b, frame(ID="l", TYPE="COMMAND/LEAVEROOM", ROOM="gone"))
    assert "gone" not in router.rooms
    assert router.receive(a, frame(ID="1", TYPE="DATA/FORWARD", TO_ROOM="nowhere", DATA=1)) == []
    assert router.receive(a, frame(ID="2", TYPE="DATA/FORWARD", TO_ROOM="gone", DATA=1)) == []
    assert router.receive(a, frame(ID="3", TYPE="DATA/FORWARD", TO="nobody", DATA=1)) == []
    assert router.stats.dropped == 3 and router.stats.errors == 0


def test_data_messages_are_copied_to_the_logging_room(router):
    a, b = join(router, "a"), join(router, "b", "input")
    watcher = join(router, "watcher", "_logging")
    for mtype in ("DATA/FORWARD", "DATA/GRADIENT", "DATA/REWARD", "LOG/KPI"):
        events = router.receive(a, frame(ID=mtype, TYPE=mtype, TO_ROOM="input", DATA=[1, 2]))
        copies = [e for e in events if e.conn == watcher]
        if mtype == "LOG/KPI":
            assert copies == []
            continue
        (copy,) = copies
        assert copy.droppable
        log = decode(copy.frame)
        assert log["TYPE"] == "LOG/MESSAGES" and log["SENDER"] == "a" and log["ROOM"] == "input"
        assert log["MESSAGE"] == {"ID": mtype, "TYPE": mtype, "TO_ROOM": "input", "DATA": [1, 2], "SENT_BY": "a"}
    assert router.stats.logged == 3
    # binary frames are logged too, arrays intact
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    events = router.receive(a, encode({"ID": "bin", "TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": arr}))
    by_conn = {e.conn: decode(e.frame) for e in events}
    np.testing.assert_array_equal(by_conn[b]["DATA"], arr)
    np.testing.assert_array_equal(by_conn[watcher]["MESSAGE"]["DATA"], arr)
    assert by_conn[watcher]["MESSAGE"]["SENT_BY"] == "a"


def test_traffic_room_gets_one_summary_per_flush_with_exact_counts_and_the_latest_messages(router):
    a, b = join(router, "a"), join(router, "b", "input")
    assert router.flush_traffic(0.1) == []  # nobody watching: nothing counted, nothing sent
    router.receive(a, frame(ID="before", TYPE="DATA/FORWARD", TO_ROOM="input", DATA=[0]))
    watcher, other = join(router, "watcher", "_traffic"), join(router, "other", "_traffic")
    assert router.flush_traffic(0.1) == []  # the message before anyone watched was not counted
    for i in range(30):
        events = router.receive(a, frame(ID=f"f{i}", TYPE="DATA/FORWARD", TO_ROOM="input", DATA=[i]))
        assert [e.conn for e in events] == [b]  # no per-message copy for the watchers
    router.receive(a, frame(ID="g", TYPE="DATA/GRADIENT", TO="b", DATA=[1.0]))
    router.clock = lambda: 1234.5  # when the hub routed each message: its entry's TIME
    router.receive(a, frame(ID="k", TYPE="LOG/KPI", TO_ROOM="input", DATA=1))  # not DATA/*: counted all the same
    router.receive(b, frame(ID="lost", TYPE="DATA/REWARD", TO_ROOM="empty", DATA=1.0))  # undelivered: counted
    events = router.flush_traffic(0.25)
    assert sorted(e.conn for e in events) == sorted([watcher, other]) and all(e.droppable for e in events)
    assert isinstance(events[0].frame, str) and events[0].frame is events[1].frame  # one encoding for all
    summary = decode(events[0].frame)
    assert summary["TYPE"] == "LOG/TRAFFIC" and summary["SENT_BY"] == "_hub" and summary["INTERVAL"] == 0.25
    rows = {(room, sender, mtype): n for room, sender, mtype, n, _ in summary["COUNTS"]}
    expected = {("input", "a", "DATA/FORWARD"): 30, (None, "a", "DATA/GRADIENT"): 1, ("empty", "b", "DATA/REWARD"): 1}
    assert rows == {**expected, ("input", "a", "LOG/KPI"): 1}
    tail = summary["TAIL"]
    assert len(tail) == 20 and [e["MESSAGE"]["ID"] for e in tail[-4:]] == ["f29", "g", "k", "lost"]
    assert tail[-3]["TIME"] != 1234.5 and tail[-2]["TIME"] == 1234.5  # each entry its own time
    assert tail[-1] == {
        "SENDER": "b",
        "ROOM": "empty",
        "TIME": 1234.5,
        "MESSAGE": {"ID": "lost", "TYPE": "DATA/REWARD", "TO_ROOM": "empty", "DATA": 1.0, "SENT_BY": "b"},
    }
    assert router.flush_traffic(0.1) == []  # counts start again after each flush
    # a binary message makes the summary binary, its arrays intact
    arr = np.arange(4, dtype=np.float32)
    router.receive(a, encode({"ID": "bin", "TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": arr}))
    (summary,) = {e.frame for e in router.flush_traffic(0.1)}
    assert isinstance(summary, bytes)
    np.testing.assert_array_equal(decode(summary)["TAIL"][0]["MESSAGE"]["DATA"], arr)


@pytest.mark.parametrize("forged", [False, True])
@pytest.mark.parametrize("binary", [False, True])
def test_a_large_message_in_the_traffic_tail_keeps_exactly_the_envelope_fields_and_its_size(router, binary, forged):
    a, b = join(router, "a"), join(router, "b", "input")
    watcher = join(router, "watcher", "_traffic")
    payload = np.zeros(TRAFFIC_TAIL_FRAME // 4, dtype=np.float32) if binary else ["x" * 100] * 200
    header = {"ID": "big", "ROOT_ID": "root", "TYPE": "DATA/FORWARD", "TO_ROOM": "input", "TO": "b"}
    header.update({"MODEL_STATUS": 1, "REPLY_TO": "q", "SENT_BY": "forged"})
    assert set(header) == set(ENVELOPE_FIELDS)
    sent = {**header, "DATA": payload, "GENOMES": [[0, 1]], "NAME": "extra"}
    if not forged:
        del sent["SENT_BY"]
    (delivered,) = router.receive(a, encode(sent))
    assert delivered.conn == b
    (event,) = router.flush_traffic(0.1)
    assert event.conn == watcher and isinstance(event.frame, str)  # the tail entry is small JSON text even so
    (entry,) = decode(event.frame)["TAIL"]
    unit = "bytes" if binary else "characters"
    assert entry["MESSAGE"] == {**header, "SENT_BY": "a", "DATA": f"<{len(delivered.frame):,} {unit}>"}
    assert entry["SENDER"] == "a" and entry["ROOM"] == "input"


def test_enable_logging_joins_the_logging_room(router):
    a = join(router, "a")
    w = join(router, "w")
    router.receive(w, frame(ID="el", TYPE="COMMAND/ENABLELOGGING"))
    join(router, "b", "x")
    assert [e.conn for e in router.receive(a, frame(ID="f", TYPE="DATA/FORWARD", TO_ROOM="x"))].count(w) == 1
    router.receive(w, frame(ID="dl", TYPE="COMMAND/DISABLELOGGING"))
    assert w not in [e.conn for e in router.receive(a, frame(ID="g", TYPE="DATA/FORWARD", TO_ROOM="x"))]


BAD_FRAMES = [
    ("{oops", "bad-json"),
    ('"just a string"', "not-an-object"),
    ('{"TYPE":"DATA/FORWARD","TO_ROOM":"r"}', "missing-field"),
    ('{"ID":"x","TYPE":"DATA/WHAT","TO_ROOM":"r"}', "unknown-type"),
    ('{"ID":"x","TYPE":"DATA/FORWARD"}', "no-address"),
    (b"\xc1", "bad-msgpack"),
    (msgpack.packb({"ID": "x", "TYPE": "DATA/FORWARD", "TO": "b", "DATA": msgpack.ExtType(1, b"\x93")}), "bad-array"),
]


@pytest.mark.parametrize(("bad", "code"), BAD_FRAMES)
def test_bad_input_is_answered_to_its_sender_only_and_the_connection_stays(router, bad, code):
    a, b = join(router, "a"), join(router, "b", "r")
    events = router.receive(a, bad)
    assert [e.conn for e in events] == [a] and not any(isinstance(e, Close) for e in events)
    err = decode(events[0].frame)
    assert err["TYPE"] == "LOG/ERROR" and err["ERROR"] == code and err["DETAIL"] and err["TO"] == "a"
    if code in ("unknown-type", "no-address"):
        assert err["REPLY_TO"] == "x"
    # the connection goes on
    assert list(deliveries(router.receive(a, frame(ID="ok", TYPE="DATA/TEXT", TO_ROOM="r", DATA=1)))) == [b]
    assert router.stats.errors_by_code == {code: 1}


def test_registration_rules(router):
    conn = router.connect()
    (err,) = deliveries(router.receive(conn, frame(ID="x", TYPE="DATA/TEXT", TO_ROOM="r")))[conn]
    assert err["ERROR"] == "not-registered"
    join(router, "model")
    other = router.connect()
    (err,) = deliveries(router.receive(other, frame(ID="y", TYPE="COMMAND/REGISTER", NAME="model")))[other]
    assert err["ERROR"] == "name-taken" and "model" in err["DETAIL"]
    (err,) = deliveries(router.receive(other, frame(ID="z", TYPE="COMMAND/REGISTER", NAME="_hub")))[other]
    assert err["ERROR"] == "bad-name"


def test_disconnect_frees_the_name_and_memberships(router):
    a = join(router, "a", "r1", "r2")
    assert router.disconnect(a) == []
    assert router.room_table() == {} and router.conn_of("a") is None
    join(router, "a", "r1")  # the name can be taken again
    assert router.room_table() == {"r1": ["a"]}


def test_disconnect_command_closes_the_connection(router):
    a = join(router, "a")
    assert router.receive(a, frame(ID="bye", TYPE="COMMAND/DISCONNECT")) == [Close(a, 1000, "disconnect requested")]


def test_rooms_command_lists_rooms_and_members(router):
    a = join(router, "a", "input")
    join(router, "b", "input", "output")
    (ack,) = deliveries(router.receive(a, frame(ID="q", TYPE="COMMAND/ROOMS")))[a]
    assert ack["TABLE"] == {"input": ["a", "b"], "output": ["b"]}


def test_rooms_per_connection_are_limited():
    router = Router(max_rooms=2)
    a = join(router, "a", "r1", "r2")
    (err,) = deliveries(router.receive(a, frame(ID="j3", TYPE="COMMAND/JOINROOM", ROOM="r3")))[a]
    assert err["ERROR"] == "too-many-rooms" and "at most 2 rooms" in err["DETAIL"] and err["REPLY_TO"] == "j3"
    (ack,) = deliveries(router.receive(a, frame(ID="j2", TYPE="COMMAND/JOINROOM", ROOM="r2")))[a]
    assert ack["TYPE"] == "COMMAND/ACK"  # re-joining a room it is in is fine
    router.receive(a, frame(ID="l1", TYPE="COMMAND/LEAVEROOM", ROOM="r1"))
    (ack,) = deliveries(router.receive(a, frame(ID="j3b", TYPE="COMMAND/JOINROOM", ROOM="r3")))[a]
    assert ack["ROOMS"] == ["r2", "r3"]


@pytest.mark.parametrize("bad", ["two\nlines", "\x1b[31mred", "evil\u202etxt.exe", "nul\x00", "tab\there"])
def test_names_and_rooms_that_a_table_or_terminal_would_misrender_are_refused(router, bad):
    conn = router.connect()
    (error,) = deliveries(router.receive(conn, frame(TYPE="COMMAND/REGISTER", NAME=bad)))[conn]
    assert error["TYPE"] == "LOG/ERROR" and error["ERROR"] == "bad-name" and "printable" in error["DETAIL"]
    a = join(router, "a")
    (error,) = deliveries(router.receive(a, frame(TYPE="COMMAND/JOINROOM", ROOM=bad)))[a]
    assert error["ERROR"] == "bad-name" and router.room_table() == {}
    assert join(router, "ünïcødé name", "a room with spaces 🚀") is not None  # printable Unicode is fine


def test_rooms_of_the_hub_may_be_joined_but_only_the_hub_writes_to_them(router):
    a, watcher = join(router, "a", "r"), join(router, "watcher", "_logging")
    out = deliveries(router.receive(a, frame(ID="fake", TYPE="LOG/MESSAGES", TO_ROOM="_logging", MESSAGE={})))
    assert list(out) == [a] and out[a][0]["ERROR"] == "reserved-room" and out[a][0]["REPLY_TO"] == "fake"
    out = deliveries(router.receive(a, frame(ID="real", TYPE="DATA/TEXT", TO_ROOM="r", DATA=1)))
    assert out[watcher][0]["TYPE"] == "LOG/MESSAGES" and out[watcher][0]["MESSAGE"]["ID"] == "real"


def test_the_room_table_comes_in_pages_of_bounded_size(router):
    from swergio_nb.protocol.limits import ROOMS_PAGE

    rooms = [f"room-{i:05d}" for i in range(2 * ROOMS_PAGE + 7)]
    a = join(router, "a", *rooms[:200])
    for start in range(200, len(rooms), 200):
        join(router, f"m{start}", *rooms[start : start + 200])
    pages, after = [], {}
    while True:
        (ack,) = deliveries(router.receive(a, frame(TYPE="COMMAND/ROOMS", **after)))[a]
        pages.append(ack["TABLE"])
        if not ack["MORE"]:
            break
        after = {"AFTER": list(ack["TABLE"])[-1]}
    assert [len(p) for p in pages] == [ROOMS_PAGE, ROOMS_PAGE, 7]
    assert [room for page in pages for room in page] == rooms and pages[0]["room-00000"] == ["a"]
    (error,) = deliveries(router.receive(a, frame(TYPE="COMMAND/ROOMS", AFTER=7)))[a]
    assert error["ERROR"] == "bad-field" and "AFTER" in error["DETAIL"]
