from __future__ import annotations

import json

import msgpack
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from swergio_nb import InvalidMessage
from swergio_nb.protocol.codec import (
    NDARRAY_EXT,
    append_to_map,
    decode,
    encode,
    encode_binary,
    encode_text,
    stamp_text,
    text_member,
    wrap_text,
)
from swergio_nb.protocol.messages import MessageType


def test_plain_values_travel_as_json_text():
    msg = {"ID": "a", "TYPE": "DATA/FORWARD", "TO_ROOM": "input", "DATA": [[1.0, 2.0]], "N": np.float32(0.5)}
    frame = encode(msg)
    assert isinstance(frame, str)
    assert json.loads(frame)["N"] == 0.5
    assert decode(frame) == {**msg, "N": 0.5}


@pytest.mark.parametrize("dtype", ["<f4", "<f8", "<i8", "<u1", "|b1", "<c16", ">f4", "<f2"])
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3, 4)])
def test_arrays_round_trip_dtype_and_shape_exactly(dtype, shape):
    rng = np.random.default_rng(0)
    array = np.asarray(rng.standard_normal(shape) * 10).astype(dtype)
    frame = encode({"ID": "a", "TYPE": "DATA/FORWARD", "TO": "b", "DATA": {"x": [array]}})
    assert isinstance(frame, bytes)
    out = decode(frame)["DATA"]["x"][0]
    assert out.dtype == np.dtype(dtype) and out.shape == shape
    np.testing.assert_array_equal(out, array)
    assert not out.flags.writeable  # a read-only view over the frame: nothing was copied
    assert isinstance(out.base, bytes)  # the bytes of the ndarray extension in the frame
    writable = out.copy()
    writable[...] = 0
    np.testing.assert_array_equal(out, array)  # the copy is the user's, the frame is untouched


def test_torch_tensors_arrive_as_numpy_and_non_contiguous_arrays_are_fine():
    tensor = torch.arange(12, dtype=torch.float32, requires_grad=True).reshape(3, 4)
    sliced = np.arange(20.0).reshape(4, 5)[:, ::2]
    msg = decode(encode({"ID": "a", "TYPE": "DATA/GRADIENT", "TO": "b", "DATA": tensor, "S": sliced}))
    assert isinstance(msg["DATA"], np.ndarray) and msg["DATA"].dtype == np.float32
    np.testing.assert_array_equal(msg["DATA"], tensor.detach().numpy())
    np.testing.assert_array_equal(msg["S"], sliced)


def test_a_million_floats_is_raw_bytes_not_a_json_list():
    array = np.ones(1_000_000, dtype=np.float32)
    frame = encode({"ID": "a", "TYPE": "DATA/FORWARD", "TO": "b", "DATA": array})
    assert 4_000_000 <= len(frame) < 4_000_200


def test_object_arrays_and_arbitrary_objects_are_refused():
    with pytest.raises(InvalidMessage, match="dtype object"):
        encode({"ID": "a", "TYPE": "DATA/FORWARD", "TO": "b", "DATA": np.array([None, 1], dtype=object)})
    with pytest.raises(InvalidMessage, match="cannot be encoded"):
        encode({"ID": "a", "TYPE": "DATA/FORWARD", "TO": "b", "DATA": object()})


def _ext(dtype, shape, data):
    return msgpack.ExtType(NDARRAY_EXT, msgpack.packb([dtype, shape, data], use_bin_type=True))


@pytest.mark.parametrize(
    ("ext", "words"),
    [
        (_ext("<f4", [3], b"\0" * 8), "needs 12 bytes, got 8"),
        (_ext("|O", [1], b"\0" * 8), "forbidden dtype"),
        (_ext("<f4", [-1], b""), "non-negative"),
        (_ext("nonsense", [1], b"\0"), "not [dtype, shape, bytes]"),
        (msgpack.ExtType(NDARRAY_EXT, b"\xc1"), "not [dtype, shape, bytes]"),
        (msgpack.ExtType(7, b""), "unknown msgpack extension type 7"),
    ],
)
@pytest.mark.parametrize("arrays", [True, False])
def test_lying_array_frames_are_rejected_with_a_reason(ext, words, arrays):
    frame = msgpack.packb({"ID": "a", "TYPE": "DATA/FORWARD", "TO": "b", "DATA": ext}, use_bin_type=True)
    with pytest.raises(InvalidMessage) as info:
        decode(frame, arrays=arrays)
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("frame", "code"),
    [("{not json", "bad-json"), ("[" * 100_000 + "]" * 100_000, "too-deep"), (b"\xc1\xc1", "bad-msgpack")],
)
def test_garbage_frames_are_rejected_with_a_code(frame, code):
    with pytest.raises(InvalidMessage) as info:
        decode(frame)
    assert info.value.code == code


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _same(a, b) -> bool:  # equality where NaN equals NaN
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_json_values.map(json.dumps), _json_values.map(lambda v: json.dumps(v)[:-1]), st.text(max_size=40)))
def test_text_frames_decode_exactly_as_the_standard_json_module_does(text):
    """The fast parser (msgspec) with json as fallback accepts and yields exactly what json.loads does."""
    try:
        expected = json.loads(text)
    except (ValueError, RecursionError):
        with pytest.raises(InvalidMessage):
            decode(text)
    else:
        assert _same(decode(text), expected)


@pytest.mark.parametrize(
    "text", ['{"x":NaN}', '{"x":-Infinity}', '{"x":123456789012345678901234567890}', '"\\ud800"', "[1e400]", '"\ud800"']
)
def test_what_the_fast_parser_refuses_but_json_accepts_still_decodes(text):
    assert _same(decode(text), json.loads(text))


@settings(max_examples=300, deadline=None)
@given(_json_values, st.sampled_from([float("nan"), float("inf"), 2**70, "\ud800", "é", None, np.float32(0.5)]))
def test_text_frames_encode_to_what_json_dumps_means(value, special):
    """The fast encoder (orjson) with json as fallback: decoding gives exactly what json.dumps' text gives."""
    msg = {"ID": "i", "TYPE": "DATA/CUSTOM", "TO_ROOM": "r", "DATA": value, "EXTRA": [special]}
    frame = encode(msg)
    assert isinstance(frame, str)
    assert _same(decode(frame), json.loads(json.dumps(msg, default=lambda o: o.item())))


_msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
_keys = st.text(max_size=6).filter(lambda key: key != "SENT_BY")


@given(st.dictionaries(_keys, _msgpack_values, max_size=20), st.text(min_size=1, max_size=12))
def test_appending_to_a_binary_frame_equals_encoding_the_stamped_message(msg, name):
    stamped = append_to_map(msgpack.packb(msg, use_bin_type=True), "SENT_BY", name)
    assert msgpack.unpackb(stamped, raw=False, strict_map_key=False) == {**msg, "SENT_BY": name}


@pytest.mark.parametrize(("size", "header"), [(0, 0x81), (14, 0x8F), (15, 0xDE), (65_534, 0xDE), (65_535, 0xDF)])
def test_appending_grows_the_map_header_at_the_format_boundaries(size, header):
    msg = {f"k{i}": i for i in range(size)}
    stamped = append_to_map(msgpack.packb(msg), "SENT_BY", "a")
    assert stamped[0] == header and msgpack.unpackb(stamped) == {**msg, "SENT_BY": "a"}


def test_appending_to_a_frame_that_is_not_a_map_is_refused():
    with pytest.raises(ValueError, match="must be a msgpack map"):
        append_to_map(msgpack.packb([1, 2]), "SENT_BY", "a")


# -- the hub's encoding: its own messages, and frames stamped or nested without re-encoding ------------------------


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_encode_text_is_compact_json_dumps(value):
    assert encode_text(value) == json.dumps(value, separators=(",", ":"))


def test_message_types_are_written_as_their_wire_string_by_every_encoder():
    msg = {"ID": "i", "TYPE": MessageType.COMMAND_ACK, "COMMAND": MessageType.COMMAND_REGISTER}
    plain = {"ID": "i", "TYPE": "COMMAND/ACK", "COMMAND": "COMMAND/REGISTER"}
    assert encode_text(msg) == encode_text(plain) == '{"ID":"i","TYPE":"COMMAND/ACK","COMMAND":"COMMAND/REGISTER"}'
    assert encode(msg) == encode(plain)
    assert encode_binary(msg) == encode_binary(plain) == msgpack.packb(plain, use_bin_type=True)
    assert type(decode(encode_binary(msg))["TYPE"]) is str


def test_encode_text_refuses_what_is_not_json_with_a_code():
    with pytest.raises(InvalidMessage) as info:
        encode_text({"DATA": object()})
    assert info.value.code == "unencodable"
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InvalidMessage) as info:
        encode_text({"DATA": deep})
    assert info.value.code == "too-deep"


_objects = st.dictionaries(st.text(max_size=8), _json_values, min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(_objects, st.text(max_size=8), _json_values, st.sampled_from(["", " ", "\n", " \r\n\t"]))
def test_stamping_a_text_frame_equals_encoding_the_stamped_message(msg, key, value, trailing):
    """Splicing a member in == decode, set the field, encode: for frames written by any encoder."""
    msg.pop(key, None)
    if not msg:  # an envelope always has fields (ID, TYPE)
        msg[f"{key}!"] = 1
    member = text_member(key, value)
    # written by encode_text (json.dumps): the very same text
    assert stamp_text(encode_text(msg) + trailing, member) == encode_text({**msg, key: value})
    # written by the fast encoder, or with json's default separators: the same message
    for frame in (encode(msg), json.dumps(msg)):
        assert _same(decode(stamp_text(frame + trailing, member)), {**msg, key: value})


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _json_values, max_size=6), st.text(max_size=8), _json_values)
def test_wrapping_a_text_frame_equals_encoding_the_nested_message(header, key, inner):
    header.pop(key, None)
    assert wrap_text(header, key, encode_text(inner)) == encode_text({**header, key: inner})
    text = encode(inner) if isinstance(inner, dict) else json.dumps(inner)  # the fast encoder's text, nested as is
    assert _same(decode(wrap_text(header, key, text)), {**header, key: inner})


@pytest.mark.parametrize("dtype", ["<f4", ">f8", "|b1", "<c8", "<u2"])
def test_big_arrays_are_written_once_into_the_same_frame_msgpack_would_make(dtype):
    """Arrays of 64 KiB and more go into the frame without being packed twice: the bytes must not change."""
    from swergio_nb.protocol.codec import _msgpack_default

    rng = np.random.default_rng(1)
    big = (rng.standard_normal((300, 100)) * 100).astype(dtype)
    other = np.asfortranarray(rng.integers(0, 255, (256, 300)).astype("<i8"))  # not C-contiguous: copied first
    msg = {
        "ID": "a",
        "TYPE": "DATA/FORWARD",
        "TO_ROOM": "r",
        "DATA": {"x": big, "y": [other, b"\xd8\x01" * 20, np.arange(3)], "z": big[:1]},  # a placeholder-like bytes
    }
    frame = encode(msg)
    assert frame == msgpack.packb(msg, default=_msgpack_default, use_bin_type=True)
    back = decode(frame)["DATA"]
    np.testing.assert_array_equal(back["x"], big)
    assert back["x"].dtype == big.dtype
    np.testing.assert_array_equal(back["y"][0], other)
    assert back["y"][1] == b"\xd8\x01" * 20
    np.testing.assert_array_equal(back["z"], big[:1])
