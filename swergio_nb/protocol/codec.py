"""Encoding of envelopes into WebSocket frames, and back (sans-I/O).

Two frame kinds:

* **text frames** carry the envelope as JSON (UTF-8). Used whenever the envelope holds only JSON values. Encoded
  with orjson and decoded with msgspec (the fastest of each direction that keep values exact: orjson's decoder
  rounds integers beyond 64 bits, msgspec's encoder writes bytes as base64); wherever they would differ from the
  standard library (``NaN``/``Infinity``, numpy scalars, non-string keys, huge integers, lone surrogates) the
  :mod:`json` module does the work, so frames and values are exactly what :func:`json.dumps` / :func:`json.loads`
  give. One extension: a :class:`uuid.UUID` value is written as its string.
* **binary frames** carry the envelope as a msgpack map. Used as soon as the envelope holds a numpy array or a
  torch tensor (anywhere, at any depth) or ``bytes``. Arrays are a msgpack extension (type code
  :data:`NDARRAY_EXT`) whose payload is the msgpack array ``[dtype, shape, data]``: ``dtype`` the numpy dtype
  string with explicit byte order (``"<f4"``), ``shape`` a list of ints, ``data`` the raw C-order bytes. Nothing is
  ever pickled; only boolean, integer, unsigned, float and complex dtypes are accepted.

So a tensor of 1,000,000 float32 travels as 4,000,000 bytes plus a few dozen bytes of header, never as a JSON list.
Torch tensors are detached and moved to the CPU; they decode as numpy arrays (``torch.from_numpy`` takes them back
without a copy).

The hub never re-encodes a message it forwards. It adds a field to a frame as it is (:func:`stamp_text`,
:func:`append_to_map`) and nests a frame in another as it is (:func:`wrap_text`); its own messages, whose values are
plain JSON values or opaque msgpack extensions, it encodes with :func:`encode_text` and :func:`encode_binary`.
"""

from __future__ import annotations

import io
import json
import math
import os
from typing import Any

import msgpack
import msgspec
import numpy as np
import orjson

from ..exceptions import InvalidMessage

__all__ = [
    "NDARRAY_EXT",
    "append_to_map",
    "encode",
    "encode_binary",
    "encode_text",
    "stamp_text",
    "text_member",
    "wrap_text",
    "decode",
    "pack_array",
    "unpack_array",
    "to_numpy",
]

#: msgpack extension type code of an ndarray.
NDARRAY_EXT = 1
_ALLOWED_KINDS = frozenset("biufc")


class _NeedsBinary(Exception):
    """Raised by the JSON encoder's default hook: the message holds arrays or bytes, so it goes binary."""


def to_numpy(obj: Any) -> np.ndarray | None:
    """Return ``obj`` as a numpy array if it is an ndarray or a torch tensor, else None (torch is never imported)."""
    if isinstance(obj, np.ndarray):
        return obj
    if type(obj).__module__.startswith("torch") and hasattr(obj, "detach"):
        return obj.detach().cpu().numpy()
    return None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise _NeedsBinary


def pack_array(array: np.ndarray) -> msgpack.ExtType:
    """An ndarray as the msgpack extension ``[dtype, shape, raw bytes]``.

    Raises:
        InvalidMessage: for dtypes other than bool/int/uint/float/complex (e.g. object arrays).
    """
    array = _sendable(array)
    payload = msgpack.packb([array.dtype.str, list(array.shape), array.data], use_bin_type=True)
    return msgpack.ExtType(NDARRAY_EXT, payload)


def _sendable(array: np.ndarray) -> np.ndarray:
    """``array`` checked (numeric and bool dtypes only) and C-contiguous."""
    if array.dtype.kind not in _ALLOWED_KINDS:
        raise InvalidMessage(f"arrays of dtype {array.dtype} cannot be sent (numeric and bool only)", "bad-array")
    if not array.flags.c_contiguous:
        array = array.copy(order="C")  # (np.ascontiguousarray would turn a 0-d array into 1-d)
    return array


#: Arrays of at least this many bytes are written into the frame once (:func:`encode_binary`), not packed twice.
_SPLICE_BYTES = 1 << 16
#: msgpack's fixext 16 of type NDARRAY_EXT: how a spliced array's placeholder is packed.
_PLACEHOLDER = bytes((0xD8, NDARRAY_EXT))


def _spliced_head(array: np.ndarray) -> bytes:
    """The bytes of an array's extension up to its data: ext 32 header, then ``[dtype, shape,`` and a bin 32 header.

    Both are the 32-bit forms because a spliced array has at least 65,536 bytes (msgpack spec, ext and bin format
    families: https://github.com/msgpack/msgpack/blob/master/spec.md)."""
    size = array.nbytes
    inner = (
        b"\x93" + msgpack.packb(array.dtype.str) + msgpack.packb(list(array.shape)) + b"\xc6" + size.to_bytes(4, "big")
    )
    return b"\xc9" + (len(inner) + size).to_bytes(4, "big") + bytes((NDARRAY_EXT,)) + inner


#: Bytes of an ndarray payload read at a time to find ``[dtype, shape`` (usually all of it is in the first read).
_HEADER_READ = 1024
#: msgpack's bin formats: first byte -> bytes of the big-endian length that follows it.
_BIN_LENGTH = {0xC4: 1, 0xC5: 2, 0xC6: 4}


def _parse_array(payload: bytes) -> tuple[np.dtype, list[int], int]:
    """Check an ndarray payload ``[dtype, shape, data]``; return the dtype, the shape and where ``data`` starts.

    Only the header is unpacked: ``data`` is located by its msgpack bin header and never copied."""
    try:
        unpacker = msgpack.Unpacker(io.BytesIO(payload), raw=False, read_size=_HEADER_READ)
        if unpacker.read_array_header() != 3:
            raise ValueError("not a 3-element array")
        dtype_str = unpacker.unpack()
        shape = unpacker.unpack()
        offset = unpacker.tell()
        dtype = np.dtype(dtype_str)
    except Exception as exc:  # msgpack and numpy raise many kinds on garbage
        raise InvalidMessage(f"ndarray extension is not [dtype, shape, bytes]: {exc}", "bad-array") from None
    if dtype.kind not in _ALLOWED_KINDS:
        raise InvalidMessage(f"ndarray extension with forbidden dtype {dtype}", "bad-array")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise InvalidMessage(f"ndarray extension shape must be a list of non-negative ints, got {shape!r}", "bad-array")
    width = _BIN_LENGTH.get(payload[offset]) if offset < len(payload) else None
    if width is None:
        raise InvalidMessage("ndarray extension data must be bytes", "bad-array")
    start = offset + 1 + width
    length = int.from_bytes(payload[offset + 1 : start], "big")
    if start + length != len(payload):
        raise InvalidMessage("ndarray extension is not [dtype, shape, bytes]: truncated or trailing data", "bad-array")
    expected = math.prod(shape) * dtype.itemsize
    if length != expected:
        raise InvalidMessage(
            f"ndarray extension shape {tuple(shape)} of {dtype} needs {expected} bytes, got {length}", "bad-array"
        )
    try:  # a zero-size array matches the byte count with any shape; numpy's limits: 64 dimensions, sizes < 2**63
        np.ndarray(tuple(shape), dtype, buffer=payload, offset=start)  # a view: nothing is copied
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidMessage(
            f"ndarray extension shape {tuple(shape)} is not a possible array: {exc}", "bad-array"
        ) from None
    return dtype, shape, start


def unpack_array(payload: bytes) -> np.ndarray:
    """Inverse of :func:`pack_array`: an array with exactly the sent dtype and shape, a read-only view over
    ``payload`` (nothing is copied: a received array costs no allocation and no page faults beyond its frame's).

    Write access needs a copy (``array.copy()``); :func:`swergio_nb.feedback.as_tensor` makes one when torch needs
    writable memory.

    Raises:
        InvalidMessage: if the payload is not ``[dtype, shape, bytes]``, names a forbidden dtype, or its byte
            count does not match the shape (a lying shape).
    """
    dtype, shape, start = _parse_array(payload)
    return np.ndarray(tuple(shape), dtype, buffer=payload, offset=start)


def _msgpack_default(obj: Any) -> Any:
    array = to_numpy(obj)
    if array is not None:
        return pack_array(array)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} in a message")


def _ext_hook(code: int, payload: bytes) -> Any:
    if code == NDARRAY_EXT:
        return unpack_array(payload)
    raise InvalidMessage(f"unknown msgpack extension type {code}", "bad-frame")


def _check_ext_hook(code: int, payload: bytes) -> Any:
    if code == NDARRAY_EXT:
        _parse_array(payload)
        return msgpack.ExtType(code, payload)
    raise InvalidMessage(f"unknown msgpack extension type {code}", "bad-frame")


def encode(msg: dict[str, Any]) -> str | bytes:
    """Encode an envelope: JSON text if it holds only JSON values, otherwise a msgpack binary frame.

    Args:
        msg: the envelope. Values may be JSON types, numpy scalars and arrays, torch tensors, bytes.

    Returns:
        ``str`` for a text frame, ``bytes`` for a binary frame.

    Raises:
        InvalidMessage: if a value cannot be encoded (e.g. an object array, an arbitrary Python object).
    """
    try:
        text = orjson.dumps(msg, option=_ORJSON_STRICT)
    except (orjson.JSONEncodeError, TypeError):  # numpy values, bytes, non-str keys, huge ints...: the full path
        return _encode_json_or_binary(msg)
    if b"null" in text:  # orjson writes NaN and Infinity as null, json as NaN and Infinity: json decides
        return _encode_json_or_binary(msg)
    return text.decode()


def _encode_json_or_binary(msg: dict[str, Any]) -> str | bytes:
    try:
        return json.dumps(msg, separators=(",", ":"), default=_json_default, allow_nan=True)
    except _NeedsBinary:
        return encode_binary(msg)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidMessage(f"message cannot be encoded: {exc}", "unencodable") from None


def encode_binary(msg: Any) -> bytes:
    """Encode ``msg`` as a msgpack binary frame (arrays as the ndarray extension).

    ``msgpack.ExtType`` values (arrays a router decoded with ``arrays=False``) are written back as they came.

    Raises:
        InvalidMessage: ``unencodable``, if a value cannot be encoded or is nested beyond msgpack's limit (1024
            levels).
    """
    spliced: list[tuple[bytes, np.ndarray]] = []

    def default(obj: Any) -> Any:
        array = to_numpy(obj)
        if array is not None and _SPLICE_BYTES <= array.nbytes < 2**32 - 2**16:
            array = _sendable(array)
            spliced.append((token := os.urandom(16), array))
            return msgpack.ExtType(NDARRAY_EXT, token)  # a placeholder, replaced below
        return _msgpack_default(obj)

    try:
        frame = msgpack.packb(msg, default=default, use_bin_type=True)
    except InvalidMessage:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidMessage(f"message cannot be encoded: {exc}", "unencodable") from None
    return _splice(frame, spliced) if spliced else frame


def _splice(frame: bytes, spliced: list[tuple[bytes, np.ndarray]]) -> bytes:
    """``frame`` with each placeholder replaced by its array's extension: the array's bytes are copied once, into the
    result (packing the extension and then the message copies them twice). The placeholders are 16 random bytes,
    in packing order; one of them turning up in a ``bytes`` value of the message has a chance of 2**-128."""
    view, chunks, start = memoryview(frame), [], 0
    for token, array in spliced:
        place = frame.index(_PLACEHOLDER + token, start)
        chunks += [view[start:place], _spliced_head(array), array.reshape(-1).view(np.uint8)]
        start = place + len(_PLACEHOLDER) + len(token)
    chunks.append(view[start:])
    return b"".join(chunks)


#: ``json.dumps(obj, separators=(",", ":"))`` without building an encoder per call (ASCII only, NaN allowed).
_text_encoder = json.JSONEncoder(separators=(",", ":"))


def encode_text(obj: Any) -> str:
    """``obj`` as compact JSON text, exactly ``json.dumps(obj, separators=(",", ":"))`` (non-ASCII escaped).

    For values known to be JSON values (the hub's own messages, a message decoded from a text frame); :func:`encode`
    chooses the frame kind for anything else.

    Args:
        obj: JSON values only: dict with string keys, list, tuple, str, int, float (NaN and infinities as ``json``
            writes them), bool, None; ``str`` subclasses such as :class:`~.messages.MessageType` as their value.

    Returns:
        The text.

    Raises:
        InvalidMessage: ``unencodable`` for a value that is not a JSON value, ``too-deep`` for one nested beyond
            Python's recursion limit.
    """
    try:
        return _text_encoder.encode(obj)
    except RecursionError:
        raise InvalidMessage("message nested too deeply to encode", "too-deep") from None
    except (TypeError, ValueError) as exc:
        raise InvalidMessage(f"message cannot be encoded: {exc}", "unencodable") from None


def text_member(key: str, value: Any) -> str:
    """One member of a JSON object as text, ``"KEY":value``, for :func:`stamp_text` (encode once, stamp many frames).

    Raises:
        InvalidMessage: as :func:`encode_text`.
    """
    return f"{encode_text(key)}:{encode_text(value)}"


def stamp_text(frame: str, member: str) -> str:
    """A text frame with one more field, without re-encoding the rest (the hub stamps ``SENT_BY`` so).

    The text counterpart of :func:`append_to_map`: ``member`` is spliced in before the closing brace, so the result
    is the frame's object with the new field last (``json.dumps`` of the stamped dict, when ``frame`` was written by
    it). Trailing whitespace of ``frame`` is dropped.

    Args:
        frame: the JSON text of an object with at least one field and without ``member``'s key, as the router has
            validated it (an envelope has ``ID`` and ``TYPE``).
        member: ``"KEY":value`` from :func:`text_member`.

    Returns:
        The stamped frame.
    """
    return f"{frame.rstrip()[:-1]},{member}}}"


def wrap_text(header: dict[str, Any], key: str, text: str) -> str:
    """``header`` as JSON text with one more field ``key`` whose value is ``text``, which is JSON text already.

    Nests a frame in another without decoding it (``LOG/MESSAGES`` copies carry the copied frame as ``MESSAGE``):
    the same text as ``encode_text({**header, key: decode(text)})`` when ``text`` was written by ``encode_text``.

    Args:
        header: the outer object's other fields (JSON values; may be empty), written first; without ``key``.
        key: the field that holds ``text``.
        text: a JSON value as text (a text frame, or ``"[...]"`` of several).

    Raises:
        InvalidMessage: ``header`` is not encodable, as :func:`encode_text`.
    """
    head = encode_text(header)[:-1]
    return f"{head}{',' if header else ''}{encode_text(key)}:{text}}}"


def append_to_map(frame: bytes, key: str, value: Any) -> bytes:
    """A binary frame with one more field, without re-encoding the rest (the hub stamps ``SENT_BY`` so).

    ``frame`` must be one msgpack map, as :func:`decode` accepted it, without ``key``. The map's header then counts
    one more pair (a fixmap of 15 grows into a map16, a map16 of 65,535 into a map32) and the packed pair follows the
    last one: one copy of the frame, while decoding and re-encoding copies each array payload three times. Format:
    https://github.com/msgpack/msgpack/blob/master/spec.md#map-format-family

    Raises:
        ValueError: the frame does not start with a map header.
    """
    head = frame[0]
    count: int
    if 0x80 <= head <= 0x8F:  # fixmap: 1000xxxx
        count, body = head & 0x0F, 1
    elif head == 0xDE:  # map16: 0xde, big-endian uint16 count
        count, body = int.from_bytes(frame[1:3], "big"), 3
    elif head == 0xDF:  # map32
        count, body = int.from_bytes(frame[1:5], "big"), 5
    else:
        raise ValueError(f"a binary frame must be a msgpack map, its first byte is 0x{head:02x}")
    count += 1
    if count <= 0x0F:
        header = bytes((0x80 | count,))
    elif count <= 0xFFFF:
        header = b"\xde" + count.to_bytes(2, "big")
    else:
        header = b"\xdf" + count.to_bytes(4, "big")
    pair = msgpack.packb(key, use_bin_type=True) + msgpack.packb(value, use_bin_type=True)
    return b"".join((header, memoryview(frame)[body:], pair))


_fast_json = msgspec.json.Decoder().decode
#: orjson passes these to the full path instead of writing them as strings, as json.dumps would refuse them.
_ORJSON_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _loads_json(frame: str) -> Any:
    try:
        return json.loads(frame)
    except RecursionError:
        raise InvalidMessage("JSON nested too deeply", "too-deep") from None
    except ValueError as exc:
        raise InvalidMessage(f"frame is not valid JSON: {exc}", "bad-json") from None


def decode(frame: str | bytes, *, arrays: bool = True) -> Any:
    """Decode one frame into a Python value (normally an envelope dict; :func:`messages.validate` checks it).

    Args:
        frame: a text frame (``str``, JSON) or a binary frame (``bytes``, msgpack).
        arrays: if False, ndarray extensions are checked (dtype, shape against byte count) but stay opaque
            ``msgpack.ExtType`` values; the hub routes binary frames this way without materialising arrays.

    Raises:
        InvalidMessage: naming what was wrong (``bad-json``, ``bad-msgpack``, ``bad-array``, ``too-deep``).
    """
    if isinstance(frame, str):
        try:
            return _fast_json(frame)
        except (msgspec.MsgspecError, UnicodeEncodeError):  # NaN, Infinity, 1e400, surrogates, errors: json decides
            return _loads_json(frame)
        except RecursionError:
            raise InvalidMessage("JSON nested too deeply", "too-deep") from None
    try:
        hook = _ext_hook if arrays else _check_ext_hook
        return msgpack.unpackb(frame, raw=False, ext_hook=hook, strict_map_key=False)
    except InvalidMessage:
        raise
    except RecursionError:
        raise InvalidMessage("msgpack nested too deeply", "too-deep") from None
    except Exception as exc:  # msgpack raises ExtraData, FormatError, StackError, UnicodeDecodeError, ValueError...
        raise InvalidMessage(f"frame is not valid msgpack: {type(exc).__name__}: {exc}", "bad-msgpack") from None
