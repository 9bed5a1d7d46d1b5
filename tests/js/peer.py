"""The Python side of the interop tests: a component the Node tests talk to (``py-peer``).

Each ``DATA/CUSTOM`` message sent to it by name carries an ``OP``:

* ``describe``: answers what Python decoded: per ``DATA`` field, an array's ``dtype`` (numpy's string), ``shape``
  and the SHA-256 of its bytes, or a JSON value's Python type and value.
* ``arrays``: answers :func:`reference_arrays` (the Node test builds the same values itself).
* ``echo``: answers the ``DATA`` it received, as it decoded it (arrays go back as numpy re-encodes them).
* ``request``: asks the sender back with :meth:`Client.request` (``DATA``: :func:`reference_arrays`, ``OP``
  ``double``), and answers what came back: the reply's ``ROOT_ID`` and ``MODEL_STATUS``, and whether its arrays are
  twice the reference, bit for bit.
* ``refuse``: answers with ``LOG/ERROR`` (code ``refused``), as a component that refuses a request.

And a chain across rooms: ``DATA/FORWARD`` in ``py-in`` goes on doubled to ``js-mid``; the ``DATA/GRADIENT`` that
comes back in ``py-grad`` is answered in ``js-end`` with ``DATA/REWARD`` saying which ``ROOT_ID`` and
``MODEL_STATUS`` Python saw.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from swergio_nb import Client, Trigger
from swergio_nb.protocol.endpoint import SENDER

__all__ = ["PEER", "reference_arrays", "build_peer"]

PEER = "py-peer"


def reference_arrays() -> dict[str, np.ndarray]:
    """Arrays of every dtype the tests check, with values a float conversion would lose (NaN payloads, -0.0,
    subnormals, int64 beyond 2**53); ``big`` passes 64 KiB, so the hub gets it in one spliced piece."""
    f32 = np.array([1.5, -0.0, np.inf, -np.inf, 1e-45, 3.4028235e38], dtype=np.float32)
    f32 = np.concatenate([f32, np.array([0x7FC00001, 0xFFA00000], dtype=np.uint32).view(np.float32)])  # NaN payloads
    return {
        "f32": f32.reshape(2, 4),
        "f64": np.array([[np.pi, -0.0], [5e-324, np.nan]], dtype=np.float64),
        "i32": np.array([-(2**31), 2**31 - 1, 0, -7], dtype=np.int32),
        "i64": np.array([-(2**63), 2**63 - 1, 2**53 + 1, -1], dtype=np.int64).reshape(2, 1, 2),
        "u8": np.arange(0, 256, 17, dtype=np.uint8),
        "scalar": np.array(2.5, dtype=np.float64),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "big": (np.arange(20_000, dtype=np.float32) / 7).reshape(100, 200),
    }


def _describe(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, np.ndarray):
            digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
            out[key] = {"dtype": value.dtype.str, "shape": list(value.shape), "sha256": digest}
        else:
            out[key] = {"type": type(value).__name__, "value": value}
    return out


def _same_bits(a: Any, b: np.ndarray) -> bool:
    return isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def build_peer(url: str) -> Client:
    """The ``py-peer`` component's client (not connected)."""
    client = Client(PEER, url)

    async def direct(msg: dict[str, Any]) -> dict[str, Any] | None:
        op = msg.get("OP")
        if op == "describe":
            return {"DATA": _describe(msg["DATA"])}
        if op == "arrays":
            return {"DATA": reference_arrays()}
        if op == "echo":
            return {"DATA": msg["DATA"]}
        if op == "refuse":
            return {"TYPE": "LOG/ERROR", "ERROR": "refused", "DETAIL": "py-peer refuses", "REPLY_TO": msg["ID"]}
        if op == "request":
            sent = {"TYPE": "DATA/CUSTOM", "TO": msg["SENT_BY"], "OP": "double", "MODEL_STATUS": 2}
            sent["DATA"] = reference_arrays()
            sent = client.endpoint.complete(sent)
            reply = await client.request(sent, timeout=10)
            with np.errstate(over="ignore", invalid="ignore"):  # float32 max doubled is inf; NaN stays NaN
                expected = {k: v * 2 for k, v in reference_arrays().items() if v.dtype.kind == "f"}
            return {
                "DATA": {
                    "sent_id": sent["ID"],
                    "root_id": reply["ROOT_ID"],
                    "model_status": reply.get("MODEL_STATUS"),
                    "doubled": {k: _same_bits(reply["DATA"].get(k), v) for k, v in expected.items()},
                }
            }
        return {"TYPE": "LOG/ERROR", "ERROR": "unknown-op", "DETAIL": f"no OP {op!r}", "REPLY_TO": msg["ID"]}

    def forward(msg: dict[str, Any]) -> dict[str, Any]:
        return {"DATA": msg["DATA"] * 2}

    def gradient(msg: dict[str, Any]) -> dict[str, Any]:
        return {"DATA": msg["DATA"], "SEEN_ROOT": msg["ROOT_ID"], "SEEN_STATUS": msg.get("MODEL_STATUS")}

    client.add_handler(direct, Trigger("DATA/CUSTOM", rooms=()), reply_type="DATA/CUSTOM", reply_to=SENDER)
    client.add_handler(forward, Trigger("DATA/FORWARD", "py-in"), reply_type="DATA/FORWARD", reply_rooms="js-mid")
    client.add_handler(gradient, Trigger("DATA/GRADIENT", "py-grad"), reply_type="DATA/REWARD", reply_rooms="js-end")
    return client
