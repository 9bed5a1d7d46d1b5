"""The message envelope: vocabulary, construction and validation (sans-I/O).

A message is a plain ``dict`` with string keys, kept in the vocabulary of the original swergio so its users feel
at home:

==============  ======================================================================================
field           meaning
==============  ======================================================================================
``ID``          unique id of this message (uuid4 hex, 32 characters)
``ROOT_ID``     id of the first message of a chain; carried into every reply (defaults to ``ID``)
``TYPE``        one of :class:`MessageType` (``"DATA/FORWARD"``, ``"COMMAND/JOINROOM"``, ...)
``TO_ROOM``     room to deliver to (every member except the sender)
``TO``          name of one component to deliver to (a direct message)
``SENT_BY``     name of the sending component; stamped by the hub, a client cannot forge it
``MODEL_STATUS`` :class:`ModelStatus`: 1 TRAIN, 2 VALIDATE
``DATA``        the payload: JSON values, numpy arrays or torch tensors (tensors arrive as numpy arrays)
``REPLY_TO``    id of the message this one answers (gradients, acknowledgements, errors)
anything else   free extra fields (``GENOMES``, ``FITNESS``, ``REWARD``, ...)
==============  ======================================================================================

Commands the hub itself handles (:data:`HUB_COMMANDS`) need no address; every other message needs ``TO_ROOM``
or ``TO``. The hub answers each hub command with ``COMMAND/ACK`` (``REPLY_TO`` = the command's ``ID``) and each
bad message with ``LOG/ERROR`` (``ERROR`` code, ``DETAIL`` text, ``REPLY_TO`` if the bad message had an ``ID``).
"""

from __future__ import annotations

import os
import random
import reprlib
from enum import Enum, IntEnum
from types import SimpleNamespace
from typing import Any

from ..exceptions import InvalidMessage
from .limits import MAX_NAME_LENGTH

__all__ = [
    "MessageType",
    "ModelStatus",
    "MESSAGE_TYPE",
    "MODEL_STATUS",
    "HUB_COMMANDS",
    "HUB_NAME",
    "LOGGING_ROOM",
    "TRAFFIC_ROOM",
    "new_id",
    "make_message",
    "validate",
]

#: Name the hub uses in ``SENT_BY`` for its own messages (acks, errors, log copies).
HUB_NAME = "_hub"
#: The room that receives a ``LOG/MESSAGES`` copy of every ``DATA/*`` message (see ``router.LOGGED_TYPES``).
LOGGING_ROOM = "_logging"
#: The room that receives a ``LOG/TRAFFIC`` summary of the ``DATA/*`` traffic every ``Hub(traffic_interval=)``
#: seconds: counts per room, sender and type, and the latest few messages (a cheap feed for monitors).
TRAFFIC_ROOM = "_traffic"


class MessageType(str, Enum):
    """Every ``TYPE`` the protocol knows, as in swergio's ``MESSAGE_TYPE``.

    The value is the wire string; members compare equal to it (``MessageType.DATA_FORWARD == "DATA/FORWARD"``).
    """

    DATA_FORWARD = "DATA/FORWARD"
    DATA_GRADIENT = "DATA/GRADIENT"
    DATA_REWARD = "DATA/REWARD"
    DATA_TEXT = "DATA/TEXT"
    DATA_CUSTOM = "DATA/CUSTOM"
    COMMAND_REGISTER = "COMMAND/REGISTER"
    COMMAND_DISCONNECT = "COMMAND/DISCONNECT"
    COMMAND_JOINROOM = "COMMAND/JOINROOM"
    COMMAND_LEAVEROOM = "COMMAND/LEAVEROOM"
    COMMAND_ROOMS = "COMMAND/ROOMS"
    COMMAND_ACK = "COMMAND/ACK"
    COMMAND_ENABLELOGGING = "COMMAND/ENABLELOGGING"
    COMMAND_DISABLELOGGING = "COMMAND/DISABLELOGGING"
    COMMAND_SAVEMODELWEIGHTS = "COMMAND/SAVEMODELWEIGHTS"
    COMMAND_LOADMODELWEIGHTS = "COMMAND/LOADMODELWEIGHTS"
    COMMAND_SAVESETTINGS = "COMMAND/SAVESETTINGS"
    COMMAND_LOADSETTINGS = "COMMAND/LOADSETTINGS"
    COMMAND_CUSTOM = "COMMAND/CUSTOM"
    LOG_MESSAGES = "LOG/MESSAGES"
    LOG_TRAFFIC = "LOG/TRAFFIC"
    LOG_KPI = "LOG/KPI"
    LOG_MODELWEIGHTS = "LOG/MODELWEIGHTS"
    LOG_SETTINGS = "LOG/SETTINGS"
    LOG_RUN = "LOG/RUN"
    LOG_ERROR = "LOG/ERROR"
    LOG_CUSTOM = "LOG/CUSTOM"

    def __str__(self) -> str:
        return self.value


class ModelStatus(IntEnum):
    """``MODEL_STATUS``: whether a forward pass is for training (gradients will come back) or validation."""

    TRAIN = 1
    VALIDATE = 2


_T = MessageType
#: swergio-style namespace: ``MESSAGE_TYPE.DATA.FORWARD`` is ``MessageType.DATA_FORWARD``.
MESSAGE_TYPE = SimpleNamespace(
    DATA=SimpleNamespace(**{t.name[5:]: t for t in _T if t.name.startswith("DATA_")}),
    COMMAND=SimpleNamespace(**{t.name[8:]: t for t in _T if t.name.startswith("COMMAND_")}),
    LOG=SimpleNamespace(**{t.name[4:]: t for t in _T if t.name.startswith("LOG_")}),
)
#: swergio-style namespace: ``MODEL_STATUS.TRAIN`` is ``ModelStatus.TRAIN``.
MODEL_STATUS = ModelStatus

#: Commands addressed to the hub itself; they need neither ``TO_ROOM`` nor ``TO``.
HUB_COMMANDS = frozenset(
    {
        "COMMAND/REGISTER",
        "COMMAND/DISCONNECT",
        "COMMAND/JOINROOM",
        "COMMAND/LEAVEROOM",
        "COMMAND/ROOMS",
        "COMMAND/ENABLELOGGING",
        "COMMAND/DISABLELOGGING",
    }
)
_KNOWN_TYPES = frozenset(t.value for t in MessageType)
_STRING_FIELDS = ("ROOT_ID", "TO_ROOM", "TO", "REPLY_TO")


#: Private generator for ids: a user's ``random.seed(0)`` cannot make two processes' ids collide; reseeded from
#: the OS in a forked child.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # version and variant bits of RFC 4122
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, variant RFC 4122


def new_id() -> str:
    """A fresh message id: a random (version 4) UUID as 32 lowercase hex characters, like ``uuid.uuid4().hex``.

    From a private Mersenne Twister seeded by the OS (not ``os.urandom`` per id: ids need to be unique, not secret;
    5x faster than :func:`uuid.uuid4`).
    """
    return f"{_ids.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"


def make_message(type: MessageType | str, data: Any = None, **fields: Any) -> dict[str, Any]:
    """Build an envelope with a fresh ``ID`` (and ``ROOT_ID`` equal to it unless given).

    Args:
        type: the message ``TYPE``.
        data: the ``DATA`` payload; omitted from the envelope when None.
        **fields: any other fields, e.g. ``TO_ROOM="input"``, ``MODEL_STATUS=ModelStatus.TRAIN``.

    Returns:
        A new envelope dict. It is not validated; :func:`validate` does that.
    """
    msg: dict[str, Any] = {"ID": new_id(), "TYPE": str(type)}
    if data is not None:
        msg["DATA"] = data
    msg.update(fields)
    msg.setdefault("ROOT_ID", msg["ID"])
    return msg


def _name(msg: dict, field: str) -> str:
    value = msg.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidMessage(f"{field} must be a non-empty string, got {_describe(value)}", "bad-field")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidMessage(f"{field} is longer than {MAX_NAME_LENGTH} characters", "bad-field")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"): msgpack and sockets cannot carry it
            detail = f"{field} is not valid Unicode (lone surrogate), got {_describe(value)}"
            raise InvalidMessage(detail, "bad-field") from None
    return value


#: repr of a field value in an error: bounded in length and depth (a value may be megabytes, or 1000 levels deep).
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 60


def _describe(value: Any) -> str:
    text = _repr.repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def validate(msg: Any, *, require_address: bool = True) -> dict[str, Any]:
    """Check that ``msg`` is a well-formed envelope and return it unchanged.

    Rules: an object (dict) with string keys; ``ID`` a non-empty string; ``TYPE`` a known :class:`MessageType`
    value; ``ROOT_ID``, ``TO_ROOM``, ``TO``, ``REPLY_TO`` strings when present; ``MODEL_STATUS`` 1 or 2 when present;
    ``COMMAND/REGISTER`` carries ``NAME``, ``COMMAND/JOINROOM`` and ``COMMAND/LEAVEROOM`` carry ``ROOM``; every
    message that is not a hub command (:data:`HUB_COMMANDS`) addresses somebody with ``TO_ROOM`` or ``TO``.

    Args:
        msg: the decoded envelope.
        require_address: apply the address rule (the hub does; a client receiving the hub's own answers, which
            may be addressed to a connection that has no name yet, does not).

    Returns:
        ``msg`` itself.

    Raises:
        InvalidMessage: naming the first rule broken (``code`` says which kind).
    """
    if not isinstance(msg, dict):
        raise InvalidMessage(f"a message must be an object, got {_describe(msg)}", "not-an-object")
    for key in msg:
        if not isinstance(key, str):
            raise InvalidMessage(f"field names must be strings, got {_describe(key)}", "bad-field")
    if "ID" not in msg:
        raise InvalidMessage("missing field ID", "missing-field")
    _name(msg, "ID")
    if "TYPE" not in msg:
        raise InvalidMessage("missing field TYPE", "missing-field")
    mtype = msg["TYPE"]
    if not isinstance(mtype, str) or mtype not in _KNOWN_TYPES:
        raise InvalidMessage(f"unknown TYPE {_describe(mtype)}", "unknown-type")
    for field in _STRING_FIELDS:
        if field in msg:
            _name(msg, field)
    status = msg.get("MODEL_STATUS")
    if status is not None and (type(status) is not int and not isinstance(status, ModelStatus) or status not in (1, 2)):
        raise InvalidMessage(f"MODEL_STATUS must be 1 (TRAIN) or 2 (VALIDATE), got {_describe(status)}", "bad-field")
    if mtype in HUB_COMMANDS:
        if mtype == "COMMAND/REGISTER":
            _name(msg, "NAME")
        elif mtype in ("COMMAND/JOINROOM", "COMMAND/LEAVEROOM"):
            _name(msg, "ROOM")
    elif require_address and "TO_ROOM" not in msg and "TO" not in msg:
        raise InvalidMessage(f"{mtype} message {msg['ID']} addresses nobody: give TO_ROOM or TO", "no-address")
    return msg
