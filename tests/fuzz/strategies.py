"""Hypothesis strategies and settings shared by the fuzz tests.

Every strategy here yields :class:`Case` values: one frame (``str`` text frame or ``bytes`` binary frame) plus what
the router must do with it. Bad frames are made by breaking exactly one rule of an otherwise valid envelope, so the
expected ``LOG/ERROR`` code is known; fully random frames (garbage text and bytes) must be answered with some error.

Case counts: the default profile is derandomized (the same examples on every run, CI is deterministic) and small
enough for the whole ``tests/fuzz`` directory to run in well under a minute. ``SWERGIO_FUZZ_EXAMPLES=N`` sets the
router properties to N examples each, scales every other fuzz test by the same factor, and draws fresh random
examples::

    SWERGIO_FUZZ_EXAMPLES=20000 pytest tests/fuzz --hypothesis-show-statistics
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import msgpack
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from swergio_nb.protocol.codec import NDARRAY_EXT, pack_array
from swergio_nb.protocol.limits import MAX_NAME_LENGTH
from swergio_nb.protocol.messages import ENVELOPE_FIELDS, HUB_COMMANDS, MessageType

# -- settings ----------------------------------------------------------------------------------------------------

#: Examples of each router property in the default (CI) profile.
ROUTER_EXAMPLES = 1000
_REQUESTED = os.environ.get("SWERGIO_FUZZ_EXAMPLES", "").strip()
#: Factor applied to every fuzz test's default example count (1 unless SWERGIO_FUZZ_EXAMPLES is set).
SCALE = int(_REQUESTED) / ROUTER_EXAMPLES if _REQUESTED else 1.0
PROFILE = "swergio-fuzz-scaled" if _REQUESTED else "swergio-fuzz"

_COMMON = {
    "deadline": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
}
settings.register_profile("swergio-fuzz", derandomize=True, database=None, **_COMMON)
settings.register_profile("swergio-fuzz-scaled", derandomize=False, database=None, **_COMMON)


def fuzz_settings(default_examples: int, **overrides) -> settings:
    """Settings of one fuzz test: the active profile with ``default_examples`` scaled by SWERGIO_FUZZ_EXAMPLES."""
    examples = max(1, round(default_examples * SCALE))
    return settings(settings.get_profile(PROFILE), max_examples=examples, **overrides)


# -- the world the fuzzed connection lives in --------------------------------------------------------------------

FUZZ_NAME = "fuzz"
#: Well-behaved components (alice and bob in room "pair"), a logging watcher, a name nobody has.
TARGETS = ("alice", "bob", "watcher", FUZZ_NAME, "ghost")
#: "pair" exists, "side" may be joined by the fuzzer, "nowhere" never exists, "_logging" is the logging room.
ROOMS = ("pair", "side", "nowhere", "_logging")
KNOWN_TYPES = tuple(t.value for t in MessageType)
REGISTER, JOIN, LEAVE = "COMMAND/REGISTER", "COMMAND/JOINROOM", "COMMAND/LEAVEROOM"
#: Every ERROR code the router may answer with.
ERROR_CODES = frozenset(
    {
        "bad-json",
        "too-deep",
        "bad-msgpack",
        "bad-array",
        "bad-frame",
        "not-an-object",
        "bad-field",
        "reserved-room",
        "missing-field",
        "unknown-type",
        "no-address",
        "not-registered",
        "already-registered",
        "bad-name",
        "name-taken",
        "too-many-rooms",
    }
)
_ENVELOPE_FIELDS = frozenset(ENVELOPE_FIELDS) | {"NAME", "ROOM"}  # extra fields must not collide with these


@dataclass(frozen=True)
class Case:
    """One frame and what the router must answer.

    Attributes:
        frame: a text frame (``str``) or a binary frame (``bytes``).
        kind: short label (hypothesis statistics show how often each kind ran).
        expect: ``"valid"`` (must be accepted from a registered sender), ``"error"`` (must be answered with
            ``LOG/ERROR``), or ``"either"`` (validity not known in advance; the answer must still be well formed).
        codes: acceptable ``ERROR`` codes when an error is expected; empty means any known code.
        hint: text the error ``DETAIL`` must contain (the field or thing that was wrong), if any.
        mtype: the ``TYPE`` of a valid envelope.
    """

    frame: str | bytes
    kind: str
    expect: str
    codes: frozenset[str] = frozenset()
    hint: str | None = None
    mtype: str | None = None

    def __repr__(self) -> str:  # frames can be megabytes: show the head only
        head = self.frame[:300]
        more = f"...({len(self.frame)} in all)" if len(self.frame) > 300 else ""
        return f"Case({self.kind!r}, {self.expect}, codes={sorted(self.codes)}, hint={self.hint!r}, {head!r}{more})"

    def _repr_pretty_(self, printer, cycle) -> None:  # what hypothesis prints for a falsifying example
        printer.text(repr(self))


def _error(frame: str | bytes, kind: str, *codes: str, hint: str | None = None) -> Case:
    return Case(frame, kind, "error", frozenset(codes), hint)


# -- values ------------------------------------------------------------------------------------------------------


def safe_text(min_size: int = 0, max_size: int = 20) -> st.SearchStrategy[str]:
    """Unicode text without lone surrogates (so it encodes to UTF-8)."""
    return st.text(st.characters(exclude_categories=("Cs",)), min_size=min_size, max_size=max_size)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


#: Text with at least one lone surrogate.
surrogate_text = st.tuples(safe_text(max_size=5), st.characters(categories=("Cs",)), st.text(max_size=5)).map("".join)
#: msgpack-encodable ints.
ints64 = st.integers(-(2**63), 2**64 - 1)
scalars = st.one_of(st.none(), st.booleans(), ints64, st.floats(), safe_text(max_size=30))
#: JSON values, NaN and infinities included (text frames carry them as NaN/Infinity, the codec allows it).
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(safe_text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_ARRAY_DTYPES = ["<f4", ">f8", "<i8", "|u1", "|b1", "<c8", "<f2", ">i2"]
arrays = hnp.arrays(
    st.sampled_from(_ARRAY_DTYPES).map(np.dtype), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
)
#: Values only a binary frame carries: ndarray extensions, bytes, maps with non-string keys.
binary_values = st.recursive(
    st.one_of(scalars, st.binary(max_size=20), arrays.map(pack_array)),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.one_of(ints64, st.none(), st.booleans(), st.binary(max_size=4), safe_text()), inner, max_size=4
        )
    ),
    max_leaves=10,
)
ids = st.one_of(
    st.uuids().map(lambda u: u.hex), safe_text(1, 40), st.integers(1, MAX_NAME_LENGTH).map(lambda n: "i" * n)
)
#: Text that ``str.isprintable`` accepts (names and rooms): letters, marks, numbers, punctuation, symbols, the space.
printable_text = st.text(
    st.characters(categories=("L", "M", "N", "P", "S"), include_characters=" "), min_size=1, max_size=30
)
rooms = st.one_of(st.sampled_from(ROOMS), printable_text, st.just("ünïcødé 🚀 room"))
#: Rooms a client may send to: not the hub's ("_logging", any "_...").
to_rooms = rooms.filter(lambda room: not room.startswith("_"))
#: Names and rooms with one character a table or a terminal would misrender (newline, ANSI escape, RTL override...).
unprintable_text = st.tuples(
    printable_text, st.sampled_from(["\n", "\r", "\x1b[2J", "\u202e", "\u200b", "\x00", "\t", "\u2028"]), printable_text
).map("".join)
targets = st.one_of(st.sampled_from(TARGETS), safe_text(1, 30))
#: Values that are not a valid name (ID, TO, TO_ROOM, ROOM, NAME, ...): wrong types, empty, too long, surrogates.
bad_names = st.one_of(
    ints64,
    st.floats(),
    st.booleans(),
    st.none(),
    st.lists(ints64, max_size=3),
    st.dictionaries(safe_text(max_size=5), ints64, max_size=2),
    st.just(""),
    st.integers(MAX_NAME_LENGTH + 1, 300_000).map(lambda n: "n" * n),
    st.tuples(st.integers(MAX_NAME_LENGTH + 1, 5_000), st.characters(exclude_categories=("Cs",))).map(
        lambda t: t[1] * t[0]
    ),
    surrogate_text,
)
bad_model_status = st.one_of(
    st.sampled_from([0, 3, -1, 1.0, 2.0, True, False, "1", "TRAIN", [1], {}]),
    ints64.filter(lambda n: n not in (1, 2)),
    st.floats(),
)
unknown_types = st.one_of(
    safe_text(max_size=30).filter(lambda t: t not in KNOWN_TYPES),
    st.sampled_from(KNOWN_TYPES).map(str.lower),
    st.sampled_from(KNOWN_TYPES).map(lambda t: t + " "),
    st.sampled_from(["COMMAND/", "DATA", "LOG/ERRORS", "X/Y"]),
    ints64,
    st.none(),
    st.booleans(),
    st.lists(st.sampled_from(KNOWN_TYPES), max_size=2),
)

# -- envelopes ---------------------------------------------------------------------------------------------------


@st.composite
def envelopes(draw, *, binary: bool = False, types: st.SearchStrategy[str] | None = None) -> dict:
    """A valid envelope from the fuzzed connection (REGISTER uses its own name)."""
    mtype = draw(types if types is not None else st.sampled_from(KNOWN_TYPES))
    msg = {"ID": draw(ids), "TYPE": mtype}
    if mtype == REGISTER:
        msg["NAME"] = FUZZ_NAME
    elif mtype in (JOIN, LEAVE):
        msg["ROOM"] = draw(rooms)
    elif mtype not in HUB_COMMANDS:
        address = draw(st.sampled_from(["room", "to", "both"]))
        if address != "to":
            msg["TO_ROOM"] = draw(to_rooms)
        if address != "room":
            msg["TO"] = draw(targets)
    optional = {
        "ROOT_ID": ids,
        "REPLY_TO": ids,
        "MODEL_STATUS": st.sampled_from([1, 2]),
        "DATA": binary_values if binary else json_values,
        "SENT_BY": st.one_of(st.sampled_from(TARGETS), json_values),  # a forgery the hub must overwrite
    }
    for key in draw(st.lists(st.sampled_from(sorted(optional)), unique=True, max_size=len(optional))):
        msg[key] = draw(optional[key])
    extra = safe_text(1, 12).filter(lambda k: k not in _ENVELOPE_FIELDS)
    msg.update(draw(st.dictionaries(extra, binary_values if binary else json_values, max_size=3)))
    order = draw(st.permutations(list(msg)))
    return {key: msg[key] for key in order}


def _pack(value, **kwargs) -> bytes:
    return msgpack.packb(value, use_bin_type=True, **kwargs)


@st.composite
def encoded(draw, msg, *, wire: bool, hows=("ascii", "unicode", "binary")) -> tuple[str | bytes, bool]:
    """``msg`` as a text or binary frame; returns (frame, is_bad_utf8_msgpack).

    Strings with lone surrogates go into msgpack as invalid UTF-8 (the hub must say bad-msgpack); into JSON as
    escapes (``\\ud800``) or, for the router alone, raw (a ``str`` frame may hold them; a socket cannot carry them).
    """
    how = draw(st.sampled_from(hows))
    if how == "binary":
        try:
            return _pack(msg), False
        except UnicodeEncodeError:
            return _pack(msg, unicode_errors="surrogatepass"), True
    text = json.dumps(msg, ensure_ascii=how == "ascii", allow_nan=True)
    if wire and _has_surrogate(text):
        text = json.dumps(msg, allow_nan=True)
    return text, False


@st.composite
def valid_cases(draw, *, wire: bool = False) -> Case:
    """A valid envelope (to existing and missing rooms and components) as a text or binary frame."""
    binary = draw(st.booleans())
    msg = draw(envelopes(binary=binary))
    if binary:
        frame = _pack(msg)
    else:
        frame, _ = draw(encoded(msg, wire=wire, hows=("ascii", "unicode")))
    return Case(frame, "valid " + ("binary" if binary else "text"), "valid", mtype=msg["TYPE"])


MUTATIONS = (
    "missing ID",
    "missing TYPE",
    "bad ID",
    "unknown TYPE",
    "bad string field",
    "bad MODEL_STATUS",
    "bad NAME",
    "reserved or taken NAME",
    "bad ROOM",
    "unprintable NAME or ROOM",
    "reserved TO_ROOM",
    "no address",
    "non-string key",
    "not an object",
)


@st.composite
def broken_cases(draw, *, wire: bool = False) -> Case:
    """A valid envelope with exactly one rule broken; the expected error code is known."""
    mutation = draw(st.sampled_from(MUTATIONS))
    types = st.sampled_from(KNOWN_TYPES)
    if mutation in ("bad NAME", "reserved or taken NAME"):
        types = st.just(REGISTER)
    elif mutation == "bad ROOM":
        types = st.sampled_from([JOIN, LEAVE])
    elif mutation == "unprintable NAME or ROOM":
        types = st.sampled_from([REGISTER, JOIN, LEAVE])
    elif mutation in ("no address", "reserved TO_ROOM"):
        types = st.sampled_from([t for t in KNOWN_TYPES if t not in HUB_COMMANDS])
    msg = draw(envelopes(types=types))
    codes: tuple[str, ...] = ("bad-field",)
    hint = None
    if mutation in ("missing ID", "missing TYPE"):
        field = mutation.split()[1]
        del msg[field]
        codes, hint = ("missing-field",), field
    elif mutation == "bad ID":
        msg["ID"], hint = draw(bad_names), "ID"
    elif mutation == "unknown TYPE":
        msg["TYPE"], codes, hint = draw(unknown_types), ("unknown-type",), "TYPE"
    elif mutation == "bad string field":
        hint = draw(st.sampled_from(["ROOT_ID", "TO_ROOM", "TO", "REPLY_TO"]))
        msg[hint] = draw(bad_names)
    elif mutation == "bad MODEL_STATUS":
        msg["MODEL_STATUS"], hint = draw(bad_model_status), "MODEL_STATUS"
    elif mutation == "bad NAME":
        hint = "NAME"
        if draw(st.booleans()):
            msg["NAME"] = draw(bad_names)
        else:
            del msg["NAME"]
    elif mutation == "reserved or taken NAME":
        msg["NAME"] = draw(st.one_of(st.sampled_from(["alice", "bob", "_hub"]), safe_text(max_size=9).map("_".__add__)))
        codes = ("bad-name", "name-taken", "already-registered")
    elif mutation == "bad ROOM":
        hint = "ROOM"
        if draw(st.booleans()):
            msg["ROOM"] = draw(bad_names)
        else:
            del msg["ROOM"]
    elif mutation == "unprintable NAME or ROOM":
        hint = "NAME" if msg["TYPE"] == REGISTER else "ROOM"
        msg[hint] = draw(unprintable_text)
        codes = ("bad-name",)
    elif mutation == "reserved TO_ROOM":
        msg["TO_ROOM"] = draw(st.one_of(st.sampled_from(["_logging", "_traffic"]), printable_text.map("_".__add__)))
        codes, hint = ("reserved-room", "not-registered"), "written only by the hub"  # checked once registered
    elif mutation == "no address":
        msg.pop("TO_ROOM", None)
        msg.pop("TO", None)
        codes, hint = ("no-address",), "addresses nobody"
    elif mutation == "non-string key":
        msg[draw(st.one_of(ints64, st.floats(), st.booleans(), st.none(), st.binary(max_size=4)))] = 1
        return _error(_pack(msg), mutation, "bad-field", hint="field names must be strings")
    elif mutation == "not an object":
        value = draw(st.one_of(scalars, st.lists(json_values, max_size=3), st.just(list(msg.items()))))
        frame, bad_utf8 = draw(encoded(value, wire=wire))
        return _error(frame, mutation, "bad-msgpack" if bad_utf8 else "not-an-object")
    frame, bad_utf8 = draw(encoded(msg, wire=wire))
    if bad_utf8:
        return _error(frame, mutation + " (invalid UTF-8 in msgpack)", "bad-msgpack")
    return _error(frame, mutation, *codes, hint=hint)


# -- frames that are not envelopes at all --------------------------------------------------------------------------


@st.composite
def garbage_cases(draw, *, wire: bool = False) -> Case:
    """Random text and bytes, as text and binary frames."""
    if draw(st.booleans()):
        text = draw(safe_text(max_size=200) if wire else st.text(max_size=200))
        return _error(text, "random text")
    return _error(draw(st.binary(max_size=200)), "random bytes")


_INVALID_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\xf8\x88\x80\x80\x80", b"\xc3"]


@st.composite
def bad_utf8_cases(draw, *, wire: bool = False) -> Case:
    """A binary frame with invalid UTF-8 inside a msgpack string: a key, the ID, the TYPE or deep in DATA."""
    msg = draw(envelopes(binary=True))
    bad = draw(st.tuples(safe_text(max_size=4), st.sampled_from(_INVALID_UTF8), safe_text(max_size=4)))
    text = bad[0] + bad[1].decode("utf-8", "surrogateescape") + bad[2]
    where = draw(st.sampled_from(["key", "ID", "TYPE", "DATA"]))
    if where == "key":
        msg[text] = 1
    elif where == "DATA":
        msg["DATA"] = [{"deep": [text]}]
    else:
        msg[where] = text
    return _error(_pack(msg, unicode_errors="surrogateescape"), f"invalid UTF-8 in msgpack {where}", "bad-msgpack")


_ENVELOPE_HEAD = '{"ID":"deep","TYPE":"DATA/TEXT","TO_ROOM":"pair","DATA":'
_MSGPACK_HEAD = _pack({"ID": "deep", "TYPE": "DATA/TEXT", "TO_ROOM": "pair"})


@st.composite
def deep_cases(draw, *, wire: bool = False) -> Case:
    """Deeply nested JSON and msgpack (up to 100,000 levels), at the top or inside DATA, balanced or not."""
    depth = draw(
        st.one_of(st.integers(1, 2_000), st.integers(1, 100_000), st.sampled_from([999, 1000, 1023, 1024, 100_000]))
    )
    shape = draw(
        st.sampled_from(["json list", "json object", "json in DATA", "json unclosed", "msgpack", "msgpack in DATA"])
    )
    if shape == "json list":
        return _error("[" * depth + "]" * depth, shape, "not-an-object", "too-deep")
    if shape == "json object":
        return _error('{"a":' * depth + "1" + "}" * depth, shape, "missing-field", "too-deep")
    if shape == "json unclosed":
        return _error("[" * depth, shape, "bad-json", "too-deep")
    if shape == "json in DATA":
        frame = _ENVELOPE_HEAD + "[" * depth + "]" * depth + "}"
        # The JSON decoder's limit is the interpreter's recursion limit (1000) minus the stack in use, but hypothesis
        # raises the limit while a test runs: only far beyond it is the answer certain.
        if depth >= 10_000:
            return _error(frame, shape, "too-deep")
        return Case(frame, shape, "valid" if depth < 700 else "either", mtype="DATA/TEXT")
    if shape == "msgpack":
        return _error(b"\x91" * depth + b"\xc0", shape, "not-an-object", "bad-msgpack")
    # msgpack in DATA: a map of 4 entries whose DATA is nested `depth` arrays deep (msgpack's limit is 1024 levels)
    frame = b"\x84" + _MSGPACK_HEAD[1:] + _pack("DATA") + b"\x91" * depth + b"\xc0"
    if depth >= 1024:
        return _error(frame, shape, "bad-msgpack")
    return Case(frame, shape, "valid" if depth < 1000 else "either", mtype="DATA/TEXT")


@st.composite
def nan_cases(draw, *, wire: bool = False) -> Case:
    """JSON with NaN and infinities: accepted in DATA (the codec allows them), an error anywhere a name belongs."""
    token = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"]))
    where = draw(st.sampled_from(["DATA", "ID", "TO_ROOM", "MODEL_STATUS", "top"]))
    if where == "top":
        return _error(token, "NaN at top level", "not-an-object")
    fields = {"ID": '"n"', "TYPE": '"DATA/FORWARD"', "TO_ROOM": '"pair"', where: token}
    frame = "{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}"
    if where == "DATA":
        return Case(frame, "NaN in DATA", "valid", mtype="DATA/FORWARD")
    return _error(frame, f"NaN as {where}", "bad-field", hint=where)


@st.composite
def huge_cases(draw, *, wire: bool = False) -> Case:
    """Huge strings: as names (an error) and as DATA (fine)."""
    n = draw(st.integers(MAX_NAME_LENGTH + 1, 200_000))
    char = draw(st.sampled_from(["x", "é", "🚀", "\x00", '"']))
    where = draw(st.sampled_from(["ID", "TO_ROOM", "TO", "ROOT_ID", "DATA"]))
    msg = {"ID": "huge", "TYPE": "DATA/TEXT", "TO_ROOM": "pair", where: char * n}
    frame, _ = draw(encoded(msg, wire=wire))
    if where == "DATA":
        return Case(frame, "huge DATA", "valid", mtype="DATA/TEXT")
    return _error(frame, f"huge {where}", "bad-field", hint=where)


# -- msgpack extension types ---------------------------------------------------------------------------------------

_FORBIDDEN_DTYPES = ["|O", "O", "<U4", "|S3", "|V8", "<M8[s]", "<m8[ns]", [["a", "<f4"]], "(2,)<f4", "f4,i4", "|V0"]


_PLACEHOLDER = msgpack.ExtType(0, b"placeholder for an extension")


def _ext_bytes(code: int, payload: bytes) -> bytes:
    """A msgpack extension of any code, -128 to 127 (``msgpack.ExtType`` refuses the negative, reserved ones)."""
    n = len(payload)
    size = 1 if n < 2**8 else 2 if n < 2**16 else 4
    header = {1: b"\xc7", 2: b"\xc8", 4: b"\xc9"}[size] + n.to_bytes(size, "big")
    return header + code.to_bytes(1, "big", signed=True) + payload


def _ext_frame(payload: bytes, code: int = NDARRAY_EXT, where: str = "DATA") -> bytes:
    ext = _PLACEHOLDER
    msg = {"ID": "ext", "TYPE": "DATA/FORWARD", "TO_ROOM": "pair", "DATA": ext}
    if where == "nested":
        msg["DATA"] = {"x": [1, {"y": ext}]}
    elif where == "extra":
        msg["DATA"] = 1
        msg["W"] = ext
    elif where == "top":
        msg = ext
    frame = _pack(msg)
    return frame.replace(_pack(_PLACEHOLDER), _ext_bytes(code, payload))


@st.composite
def ext_cases(draw, *, wire: bool = False) -> Case:
    """ndarray extensions that lie (shape vs bytes, dtype, arity, truncation), unknown extension types."""
    where = draw(st.sampled_from(["DATA", "nested", "extra"]))
    array = draw(arrays)
    dtype, shape, data = array.dtype.str, list(array.shape), array.tobytes()
    kind = draw(
        st.sampled_from(
            [
                "valid array",
                "top-level array",
                "unknown ext type",
                "timestamp ext",
                "truncated payload",
                "trailing bytes",
                "lying shape",
                "forbidden dtype",
                "bad shape",
                "too many dimensions",
                "impossible dimension",
                "data not bytes",
                "wrong arity",
                "random dtype",
                "huge dtype",
                "random payload",
            ]
        )
    )
    label = f"ext: {kind}"
    payload = _pack([dtype, shape, data])
    if kind == "valid array":
        return Case(_ext_frame(payload, where=where), label, "valid", mtype="DATA/FORWARD")
    if kind == "top-level array":
        return _error(_ext_frame(payload, where="top"), label, "not-an-object")
    if kind == "unknown ext type":
        code = draw(st.integers(-128, 127).filter(lambda c: c not in (NDARRAY_EXT, -1)))
        return _error(_ext_frame(draw(st.binary(max_size=30)), code, where), label, "bad-frame", hint=str(code))
    if kind == "timestamp ext":  # msgpack decodes type -1 itself: fine if 4, 8 or 12 bytes long, else bad-msgpack
        return Case(_ext_frame(draw(st.binary(max_size=13)), -1, where), label, "either")
    if kind == "truncated payload":
        cut = draw(st.integers(0, len(payload) - 1))
        return _error(_ext_frame(payload[:cut], where=where), label, "bad-array")
    if kind == "trailing bytes":
        return _error(_ext_frame(payload + draw(st.binary(min_size=1, max_size=8)), where=where), label, "bad-array")
    if kind == "lying shape":
        size = math.prod(shape) * array.dtype.itemsize
        wrong = draw(st.integers(0, size + 64).filter(lambda n: n != size))
        data = (data * (wrong // max(1, len(data)) + 1))[:wrong] if data else b"\x01" * wrong
        return _error(_ext_frame(_pack([dtype, shape, data]), where=where), label, "bad-array", hint="bytes")
    if kind == "forbidden dtype":
        bad = draw(st.sampled_from(_FORBIDDEN_DTYPES))
        return _error(_ext_frame(_pack([bad, shape, data]), where=where), label, "bad-array")
    if kind == "bad shape":
        bad = draw(
            st.one_of(
                st.lists(st.integers(-(2**63), -1), min_size=1, max_size=3),
                st.lists(st.sampled_from([True, False, 1.0, "2", None, [1]]), min_size=1, max_size=3),
                ints64,
                safe_text(),
                st.none(),
                st.dictionaries(safe_text(max_size=3), ints64, max_size=2),
            )
        )
        return _error(_ext_frame(_pack([dtype, bad, data]), where=where), label, "bad-array")
    if kind == "too many dimensions":  # numpy allows at most 64 dimensions
        ndim = draw(st.integers(65, 2_000))
        return _error(_ext_frame(_pack(["<f4", [1] * ndim, b"\0" * 4]), where=where), label, "bad-array")
    if kind == "impossible dimension":  # zero elements, so the byte count matches, but no array has this shape
        huge = draw(st.integers(2**63, 2**64 - 1))
        bad = draw(st.permutations([0, huge, *draw(st.lists(st.integers(0, 3), max_size=2))]))
        return _error(_ext_frame(_pack([dtype, bad, b""]), where=where), label, "bad-array")
    if kind == "data not bytes":
        bad = draw(st.one_of(safe_text(), st.lists(ints64, max_size=4), ints64, st.none()))
        return _error(_ext_frame(_pack([dtype, shape, bad]), where=where), label, "bad-array")
    if kind == "wrong arity":
        items = draw(st.sampled_from([[], [dtype], [dtype, shape], [dtype, shape, data, 0]]))
        value = draw(st.sampled_from([items, dict(enumerate(items)), dtype]))
        return _error(_ext_frame(_pack(value), where=where), label, "bad-array")
    if kind == "random dtype":  # some random strings are dtypes ("f", "i2"): then the byte count decides
        bad = draw(st.one_of(safe_text(max_size=6), st.binary(max_size=4)))
        return Case(_ext_frame(_pack([bad, shape, data]), where=where), label, "either")
    if kind == "huge dtype":  # numpy repeats it in its error message: the answer must stay small anyway
        bad = "q" * draw(st.integers(1_000, 300_000))
        return _error(_ext_frame(_pack([bad, shape, data]), where=where), label, "bad-array")
    return Case(_ext_frame(draw(st.binary(max_size=40)), where=where), label, "either")


# -- all together ------------------------------------------------------------------------------------------------


def bad_cases(*, wire: bool = False) -> st.SearchStrategy[Case]:
    """Frames that must be answered with LOG/ERROR (from a registered connection)."""
    cases = st.one_of(
        broken_cases(wire=wire),
        garbage_cases(wire=wire),
        bad_utf8_cases(wire=wire),
        deep_cases(wire=wire),
        nan_cases(wire=wire),
        huge_cases(wire=wire),
        ext_cases(wire=wire),
    )
    return cases.filter(lambda case: case.expect == "error")


def any_cases(*, wire: bool = False) -> st.SearchStrategy[Case]:
    """Every kind of frame: valid, broken, garbage, deep, NaN, huge, invalid UTF-8, lying extensions."""
    return st.one_of(
        valid_cases(wire=wire),
        broken_cases(wire=wire),
        garbage_cases(wire=wire),
        bad_utf8_cases(wire=wire),
        deep_cases(wire=wire),
        nan_cases(wire=wire),
        huge_cases(wire=wire),
        ext_cases(wire=wire),
    )


def report_frame_counts(request, module: str, frames: dict[str, int]) -> None:
    """Print how many frames each fuzzing property sent (called at the end of a module-scoped fixture)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        counts = ", ".join(f"{name}: {n} frames" for name, n in frames.items())
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\n{module} fuzzed {counts}")
