"""The message envelope: vocabulary, construction and validation (sans-I/O).

A message is a plain ``dict`` with string keys (typed as :class:`Envelope`), kept in the vocabulary of the original
swergio so its users feel at home:

==================  ====================================================================================
field               meaning
==================  ====================================================================================
``ID``              unique id of this message (uuid4 hex, 32 characters)
``ROOT_ID``         id of the first message of a chain; carried into every reply (defaults to ``ID``)
``TYPE``            one of :class:`MessageType` (``"DATA/FORWARD"``, ``"COMMAND/JOINROOM"``, ...)
``TO_ROOM``         room to deliver to (every member except the sender)
``TO``              name of one component to deliver to (a direct message)
``SENT_BY``         name of the sending component; stamped by the hub, a client cannot forge it
``MODEL_STATUS``    :class:`ModelStatus`: 1 TRAIN, 2 VALIDATE
``DATA``            the payload: JSON values, numpy arrays or torch tensors (tensors arrive as numpy arrays)
``REPLY_TO``        id of the message this one answers (gradients, acknowledgements, errors)
anything else       free extra fields (``GENOMES``, ``FITNESS``, ``REWARD``, ...)
==================  ====================================================================================

All but ``DATA`` make up the header, :data:`ENVELOPE_FIELDS`: what a monitor shows of a message too large to show
whole. Hub commands carry their argument: ``NAME`` (``COMMAND/REGISTER``), ``ROOM`` (``COMMAND/JOINROOM``,
``COMMAND/LEAVEROOM``), optionally ``AFTER`` (``COMMAND/ROOMS``: the table's next page starts after that room). The
hub's own messages carry:

==================  ====================================================================================
``COMMAND``         ``COMMAND/ACK``: the ``TYPE`` of the command acknowledged
``ROOMS``           ``COMMAND/ACK``: every room the connection is in now, sorted
``TABLE``           ``COMMAND/ACK`` of ``COMMAND/ROOMS``: room -> sorted member names, for at most
                    :data:`~swergio_nb.protocol.limits.ROOMS_PAGE` rooms in name order
``MORE``            ``COMMAND/ACK`` of ``COMMAND/ROOMS``: true if rooms follow (ask again with ``AFTER`` = the last)
``PING_TIMEOUT``    ``COMMAND/ACK`` of ``COMMAND/REGISTER``: seconds to wait for this hub's pong (null: never)
``ERROR``           ``LOG/ERROR``: a short code (``"bad-json"``, ``"name-taken"``, ...)
``DETAIL``          ``LOG/ERROR``: the explanation, at most ``MAX_DETAIL_LENGTH`` characters
``MESSAGE``         ``LOG/MESSAGES``: the copied message, ``SENT_BY`` stamped
``SENDER``          ``LOG/MESSAGES``: who sent the copied message
``ROOM``            ``LOG/MESSAGES``: the room it went to (null for a direct message)
``INTERVAL``        ``LOG/TRAFFIC``: seconds the summary covers
``COUNTS``          ``LOG/TRAFFIC``: ``[room, sender, type, messages, bytes]`` rows
``TAIL``            ``LOG/TRAFFIC``: the latest messages as ``{"SENDER", "ROOM", "MESSAGE"}``
==================  ====================================================================================

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
from typing import Any, TypedDict

from ..exceptions import InvalidMessage
from .limits import MAX_NAME_LENGTH

__all__ = [
    "Envelope",
    "ENVELOPE_FIELDS",
    "MessageType",
    "ModelStatus",
    "MESSAGE_TYPE",
    "MODEL_STATUS",
    "HUB_COMMANDS",
    "LOGGED_TYPES",
    "HUB_NAME",
    "LOGGING_ROOM",
    "TRAFFIC_ROOM",
    "new_id",
    "make_message",
    "validate",
]

#: Name the hub uses in ``SENT_BY`` for its own messages (acks, errors, log copies).
HUB_NAME = "_hub"
#: The room that receives a ``LOG/MESSAGES`` copy of every ``DATA/*`` message (:data:`LOGGED_TYPES`).
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


class Envelope(TypedDict, total=False):
    """The fields of a message and their types, as the tables of the module docstring describe them.

    Every field is optional to a type checker; :func:`validate` says which a message needs. At run time an envelope
    is a plain ``dict``, and may hold free extra fields besides these.
    """

    ID: str
    ROOT_ID: str
    TYPE: str
    TO_ROOM: str
    TO: str
    SENT_BY: str
    MODEL_STATUS: int
    DATA: Any
    REPLY_TO: str
    NAME: str
    ROOM: str | None
    COMMAND: str
    ROOMS: list[str]
    TABLE: dict[str, list[str]]
    MORE: bool
    PING_TIMEOUT: float | None
    AFTER: str
    ERROR: str
    DETAIL: str
    MESSAGE: Envelope
    SENDER: str
    INTERVAL: float
    COUNTS: list[list[Any]]
    TAIL: list[dict[str, Any]]


#: The header of an envelope: every field of the first table but the payload ``DATA``, in the table's order. A monitor
#: shows these (and the size of the rest) for a message too large to show whole.
ENVELOPE_FIELDS = ("ID", "ROOT_ID", "TYPE", "TO_ROOM", "TO", "SENT_BY", "MODEL_STATUS", "REPLY_TO")

#: Commands addressed to the hub itself; they need neither ``TO_ROOM`` nor ``TO``.
HUB_COMMANDS = frozenset(
    {
        MessageType.COMMAND_REGISTER,
        MessageType.COMMAND_DISCONNECT,
        MessageType.COMMAND_JOINROOM,
        MessageType.COMMAND_LEAVEROOM,
        MessageType.COMMAND_ROOMS,
        MessageType.COMMAND_ENABLELOGGING,
        MessageType.COMMAND_DISABLELOGGING,
    }
)
#: Types the hub copies to the logging room by default: every ``DATA/*`` type (swergio copied FORWARD and GRADIENT;
#: rewards, text and custom data are traffic a monitor wants to see too).
LOGGED_TYPES = tuple(t for t in MessageType if t.name.startswith("DATA_"))
_KNOWN_TYPES = frozenset(t.value for t in MessageType)
_STRING_FIELDS = ("ROOT_ID", "TO_ROOM", "TO", "REPLY_TO")
#: Field names most messages are made of: a message whose keys are all among them has only string keys.
_COMMON_KEYS = frozenset(Envelope.__annotations__)


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


def make_message(type: MessageType | str, data: Any = None, **fields: Any) -> Envelope:
    """Build an envelope with a fresh ``ID`` (and ``ROOT_ID`` equal to it unless given).

    Args:
        type: the message ``TYPE``.
        data: the ``DATA`` payload; omitted from the envelope when None.
        **fields: any other fields, e.g. ``TO_ROOM="input"``, ``MODEL_STATUS=ModelStatus.TRAIN``.

    Returns:
        A new envelope (a plain ``dict``; ``TYPE`` the wire string). It is not validated; :func:`validate` does that.
    """
    msg: Envelope = {"ID": new_id(), "TYPE": str(type)}
    if data is not None:
        msg["DATA"] = data
    msg.update(fields)  # free extra fields are allowed
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


def _printable(value: str, field: str) -> None:
    """Component names and rooms are shown in tables, logs and widgets: no control characters (newlines, ANSI
    escapes), no format characters (bidirectional overrides), no separators but the space (``str.isprintable``)."""
    if not value.isprintable():
        bad = next(c for c in value if not c.isprintable())
        raise InvalidMessage(
            f"{field} may hold only printable characters, got U+{ord(bad):04X} in {value!r:.80}", "bad-name"
        )


#: repr of a field value in an error: bounded in length and depth (a value may be megabytes, or 1000 levels deep).
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 60


def _describe(value: Any) -> str:
    text = _repr.repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def validate(msg: Any, *, require_address: bool = True) -> Envelope:
    """Check that ``msg`` is a well-formed envelope and return it unchanged.

    Rules: an object (dict) with string keys; ``ID`` a non-empty string; ``TYPE`` a known :class:`MessageType`
    value; ``ROOT_ID``, ``TO_ROOM``, ``TO``, ``REPLY_TO`` strings when present; ``MODEL_STATUS`` 1 or 2 when present;
    ``COMMAND/REGISTER`` carries ``NAME``, ``COMMAND/JOINROOM`` and ``COMMAND/LEAVEROOM`` carry ``ROOM``, both
    printable (``str.isprintable``: no control, format or separator characters but the space); every
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
    if not msg.keys() <= _COMMON_KEYS:  # only then can a key be anything but a string
        for key in msg:
            if not isinstance(key, str):
                raise InvalidMessage(f"field names must be strings, got {_describe(key)}", "bad-field")
    if "ID" not in msg:
        raise InvalidMessage("missing field ID", "missing-field")
    value = msg["ID"]
    if type(value) is not str or not 0 < len(value) <= MAX_NAME_LENGTH or not value.isascii():
        _name(msg, "ID")  # the slow path raises with the reason, or accepts non-ASCII valid Unicode
    if "TYPE" not in msg:
        raise InvalidMessage("missing field TYPE", "missing-field")
    mtype = msg["TYPE"]
    if not isinstance(mtype, str) or mtype not in _KNOWN_TYPES:
        raise InvalidMessage(f"unknown TYPE {_describe(mtype)}", "unknown-type")
    for field in _STRING_FIELDS:
        if field in msg:
            value = msg[field]
            if type(value) is not str or not 0 < len(value) <= MAX_NAME_LENGTH or not value.isascii():
                _name(msg, field)
    status = msg.get("MODEL_STATUS")
    if status is not None and (type(status) is not int and not isinstance(status, ModelStatus) or status not in (1, 2)):
        raise InvalidMessage(f"MODEL_STATUS must be 1 (TRAIN) or 2 (VALIDATE), got {_describe(status)}", "bad-field")
    if mtype in HUB_COMMANDS:
        if mtype == MessageType.COMMAND_REGISTER:
            _printable(_name(msg, "NAME"), "NAME")
        elif mtype in (MessageType.COMMAND_JOINROOM, MessageType.COMMAND_LEAVEROOM):
            _printable(_name(msg, "ROOM"), "ROOM")
        elif mtype == MessageType.COMMAND_ROOMS and "AFTER" in msg:
            _name(msg, "AFTER")
    elif require_address and "TO_ROOM" not in msg and "TO" not in msg:
        raise InvalidMessage(f"{mtype} message {msg['ID']} addresses nobody: give TO_ROOM or TO", "no-address")
    return msg
