"""Regression tests for the bugs the property-based fuzzing (tests/fuzz) found in the router, codec and messages.

Each test is a plain example of one bug, run at the default recursion limit (hypothesis raises it while a property
runs, which hid one of them).
"""

from __future__ import annotations

import json

import msgpack
import numpy as np
import pytest

from swergio_nb import InvalidMessage, Router
from swergio_nb.protocol.codec import decode, encode, encode_binary, pack_array, unpack_array
from swergio_nb.protocol.limits import MAX_DETAIL_LENGTH
from swergio_nb.protocol.messages import validate
from swergio_nb.protocol.router import Send


def _join(router: Router, name: str, *rooms: str) -> int:
    conn = router.connect()
    router.receive(conn, encode({"ID": "r", "TYPE": "COMMAND/REGISTER", "NAME": name}))
    for room in rooms:
        router.receive(conn, encode({"ID": "j", "TYPE": "COMMAND/JOINROOM", "ROOM": room}))
    return conn


def _only_error(events: list, conn: int) -> dict:
    assert len(events) == 1 and type(events[0]) is Send and events[0].conn == conn, events
    error = decode(events[0].frame)
    assert error["TYPE"] == "LOG/ERROR" and error["ERROR"] and error["DETAIL"]
    return error


def _ext(payload_items: list) -> msgpack.ExtType:
    return msgpack.ExtType(1, msgpack.packb(payload_items, use_bin_type=True))


@pytest.fixture
def router():
    return Router()


# -- 1. a lone surrogate in a name: accepted from JSON ("\ud800"), then unencodable as msgpack ------------------------


def test_a_name_with_a_lone_surrogate_is_refused(router):
    """It used to register; the next binary frame from it raised UnicodeEncodeError out of Router.receive."""
    conn = router.connect()
    events = router.receive(conn, '{"ID":"r","TYPE":"COMMAND/REGISTER","NAME":"\\ud800x"}')
    error = _only_error(events, conn)
    assert error["ERROR"] == "bad-field" and "NAME" in error["DETAIL"] and "surrogate" in error["DETAIL"]
    assert router.name_of(conn) is None


@pytest.mark.parametrize("field", ["ID", "ROOT_ID", "TO_ROOM", "TO", "REPLY_TO"])
def test_every_name_field_refuses_lone_surrogates(field):
    msg = {"ID": "x", "TYPE": "DATA/TEXT", "TO_ROOM": "r", field: "a\udfffb"}
    with pytest.raises(InvalidMessage, match=field) as refused:
        validate(msg)
    assert refused.value.code == "bad-field"


def test_binary_frames_from_a_unicode_name_still_work(router):
    a, b = _join(router, "ünïcødé 🚀"), _join(router, "b", "r")
    events = router.receive(a, encode_binary({"ID": "m", "TYPE": "DATA/FORWARD", "TO_ROOM": "r", "DATA": b"\x00"}))
    assert [e.conn for e in events] == [b] and decode(events[0].frame)["SENT_BY"] == "ünïcødé 🚀"


# -- 2. describing a bad value deeper than the recursion limit ----------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        b"\x91" * 1024 + b"\xc0",  # a top-level list 1024 levels deep (msgpack's limit): not an object
        b"\x82\xa2ID" + b"\x91" * 1000 + b"\xc0" + b"\xa4TYPE\xa9DATA/TEXT",  # an ID 1000 levels deep
        b"\x83\xa2ID\xa1x\xa4TYPE" + b"\x91" * 1000 + b"\xc0" + b"\xa2TO\xa1b",  # a TYPE 1000 levels deep
    ],
)
def test_deeply_nested_bad_values_are_described_not_recursed_into(router, frame):
    """repr() of the bad value in the error DETAIL raised RecursionError out of Router.receive."""
    a = _join(router, "a")
    error = _only_error(router.receive(a, frame), a)
    assert error["ERROR"] in ("not-an-object", "bad-field", "unknown-type")
    assert len(error["DETAIL"]) < 200


# -- 3. the error DETAIL echoed megabytes of bad input -------------------------------------------------------------


def test_error_detail_is_bounded(router):
    """numpy quotes a bad dtype string in its error: a 300,000-character dtype made a 300 kB LOG/ERROR (a client with
    websockets' default 1 MiB max_size is closed with 1009 by an answer to a frame smaller than that)."""
    a = _join(router, "a")
    frame = encode_binary({"ID": "x", "TYPE": "DATA/FORWARD", "TO": "a", "DATA": _ext(["q" * 300_000, [1], b"\0"])})
    error = _only_error(router.receive(a, frame), a)
    assert error["ERROR"] == "bad-array" and "data type" in error["DETAIL"]
    assert len(error["DETAIL"]) <= MAX_DETAIL_LENGTH and "300" in error["DETAIL"][-30:]


# -- 4. ndarray extensions whose shape numpy cannot build, yet whose byte count matched ----------------------------


@pytest.mark.parametrize(
    ("shape", "data"),
    [
        ([1] * 65, b"\0" * 4),  # more dimensions than numpy's 64
        ([0, 2**64 - 1], b""),  # zero elements, so zero bytes matched; no dimension that large exists
        ([2**62, 0, 2**62], b""),
    ],
)
def test_array_shapes_numpy_cannot_build_are_bad_arrays(router, shape, data):
    """The hub routed them (byte count matched) and every recipient failed to decode the message."""
    payload = _ext(["<f4", shape, data])
    with pytest.raises(InvalidMessage) as refused:
        unpack_array(payload.data)
    assert refused.value.code == "bad-array"
    a, b = _join(router, "a"), _join(router, "b", "r")
    events = router.receive(a, encode_binary({"ID": "x", "TYPE": "DATA/FORWARD", "TO_ROOM": "r", "DATA": payload}))
    assert _only_error(events, a)["ERROR"] == "bad-array" and b not in [e.conn for e in events]


def test_odd_but_possible_shapes_still_work():
    for shape in [(), (0,), (0, 3), (2, 0, 5), (1,) * 64]:
        array = np.zeros(shape, dtype=np.float32)
        back = unpack_array(pack_array(array).data)
        assert back.shape == shape and back.dtype == np.float32


# -- 5. a binary message at msgpack's nesting limit, with a logging watcher ---------------------------------------


def _nested(depth: int) -> bytes:
    """A DATA/FORWARD to room r whose DATA is nested ``depth`` lists deep (the envelope adds one level)."""
    head = msgpack.packb({"ID": "deep", "TYPE": "DATA/FORWARD", "TO_ROOM": "r"})
    return b"\x84" + head[1:] + msgpack.packb("DATA") + b"\x91" * depth + b"\xc0"


def test_a_message_at_the_nesting_limit_is_delivered_without_logging_copies(router):
    """Wrapping it in LOG/MESSAGES went past msgpack's packer limit: ValueError escaped Router.receive."""
    a, b, watcher = _join(router, "a"), _join(router, "b", "r"), _join(router, "w", "_logging")
    events = router.receive(a, _nested(1023))
    assert [(e.conn, e.droppable) for e in events] == [(b, False)]
    assert decode(events[0].frame, arrays=False)["SENT_BY"] == "a"
    # one level less: the copy fits, and the watcher can decode it
    events = router.receive(a, _nested(1022))
    assert [(e.conn, e.droppable) for e in events] == [(b, False), (watcher, True)]
    assert decode(events[1].frame)["MESSAGE"]["SENT_BY"] == "a"
    # one level more: msgpack cannot even decode it
    assert _only_error(router.receive(a, _nested(1024)), a)["ERROR"] == "bad-msgpack"


def test_json_nested_100000_levels_is_too_deep(router):
    a = _join(router, "a")
    error = _only_error(router.receive(a, '{"ID":"x","TYPE":"DATA/TEXT","TO":"a","DATA":' + "[" * 100_000), a)
    assert error["ERROR"] == "too-deep"
    assert json.loads(router.receive(a, "[" * 100_000 + "]" * 100_000)[0].frame)["ERROR"] == "too-deep"
