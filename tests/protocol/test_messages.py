from __future__ import annotations

import typing

import pytest

import swergio_nb
from swergio_nb import MESSAGE_TYPE, Envelope, InvalidMessage, MessageType, ModelStatus, make_message, validate
from swergio_nb.protocol import messages, router
from swergio_nb.protocol.messages import ENVELOPE_FIELDS, HUB_COMMANDS, LOGGED_TYPES


def test_swergio_vocabulary_is_kept():
    assert MESSAGE_TYPE.DATA.FORWARD == "DATA/FORWARD"
    assert MESSAGE_TYPE.DATA.GRADIENT is MessageType.DATA_GRADIENT
    assert MESSAGE_TYPE.COMMAND.JOINROOM == "COMMAND/JOINROOM"
    assert MESSAGE_TYPE.LOG.MESSAGES == "LOG/MESSAGES"
    assert ModelStatus.TRAIN == 1 and ModelStatus.VALIDATE == 2


def test_make_message_fills_id_and_root_id():
    msg = make_message(MessageType.DATA_FORWARD, [1, 2], TO_ROOM="input", GENOMES=[[0, 1]])
    assert len(msg["ID"]) == 32 and msg["ROOT_ID"] == msg["ID"]
    assert msg["TYPE"] == "DATA/FORWARD" and msg["DATA"] == [1, 2] and msg["GENOMES"] == [[0, 1]]
    assert validate(msg) is msg
    chained = make_message("DATA/GRADIENT", 0.5, TO_ROOM="output", ROOT_ID=msg["ID"])
    assert chained["ROOT_ID"] == msg["ID"] != chained["ID"]


@pytest.mark.parametrize(
    ("msg", "code", "words"),
    [
        ([1, 2], "not-an-object", "object"),
        ({"TYPE": "DATA/FORWARD", "TO_ROOM": "a"}, "missing-field", "ID"),
        ({"ID": "x", "TO_ROOM": "a"}, "missing-field", "TYPE"),
        ({"ID": "x", "TYPE": "DATA/NOPE", "TO_ROOM": "a"}, "unknown-type", "DATA/NOPE"),
        ({"ID": "x", "TYPE": "DATA/FORWARD"}, "no-address", "TO_ROOM or TO"),
        ({"ID": "", "TYPE": "DATA/FORWARD", "TO_ROOM": "a"}, "bad-field", "ID"),
        ({"ID": "x", "TYPE": "DATA/FORWARD", "TO_ROOM": 5}, "bad-field", "TO_ROOM"),
        ({"ID": "x", "TYPE": "DATA/FORWARD", "TO": "b", "MODEL_STATUS": 3}, "bad-field", "MODEL_STATUS"),
        ({"ID": "x", "TYPE": "DATA/FORWARD", "TO": "b", "MODEL_STATUS": True}, "bad-field", "MODEL_STATUS"),
        ({"ID": "x", "TYPE": "COMMAND/REGISTER"}, "bad-field", "NAME"),
        ({"ID": "x", "TYPE": "COMMAND/JOINROOM", "ROOM": ""}, "bad-field", "ROOM"),
        ({"ID": "x", "TYPE": "DATA/FORWARD", "TO_ROOM": "r" * 300}, "bad-field", "longer"),
    ],
)
def test_invalid_envelopes_name_the_problem(msg, code, words):
    with pytest.raises(InvalidMessage) as info:
        validate(msg)
    assert info.value.code == code
    assert words in str(info.value)


def test_hub_commands_need_no_address_but_other_commands_do():
    validate({"ID": "a", "TYPE": "COMMAND/JOINROOM", "ROOM": "input"})
    validate({"ID": "a", "TYPE": "COMMAND/ROOMS"})
    with pytest.raises(InvalidMessage, match="addresses nobody"):
        validate({"ID": "a", "TYPE": "COMMAND/SAVEMODELWEIGHTS"})


def test_one_vocabulary_envelope_fields_and_type_sets():
    hints = typing.get_type_hints(Envelope)
    assert set(ENVELOPE_FIELDS) | {"DATA"} <= set(hints) and "DATA" not in ENVELOPE_FIELDS
    assert len(set(ENVELOPE_FIELDS)) == len(ENVELOPE_FIELDS) and ENVELOPE_FIELDS[:3] == ("ID", "ROOT_ID", "TYPE")
    assert hints["ID"] is str and hints["MODEL_STATUS"] is int and hints["ROOMS"] == list[str]
    for field in hints:  # each field is documented in the module's tables
        assert f"``{field}``" in messages.__doc__, field
    assert Envelope.__total__ is False and swergio_nb.Envelope is Envelope
    # the type sets are made of MessageType members, and match plain wire strings
    assert all(isinstance(t, MessageType) for t in HUB_COMMANDS | set(LOGGED_TYPES))
    assert "COMMAND/JOINROOM" in HUB_COMMANDS and "COMMAND/ACK" not in HUB_COMMANDS
    assert {t.value for t in LOGGED_TYPES} == {t for t in MessageType if t.startswith("DATA/")}
    assert "DATA/FORWARD" in frozenset(LOGGED_TYPES)
    assert router.LOGGED_TYPES is LOGGED_TYPES  # re-exported where it used to live


def test_make_message_writes_the_type_as_a_plain_string():
    msg = make_message(MessageType.LOG_KPI, 1.0, TO_ROOM="metrics")
    assert type(msg["TYPE"]) is str and msg["TYPE"] == "LOG/KPI"
